//! `fourdvar bench` in all its forms: the subcommands `bench lorenz96`, `bench shallow-water`
//! and `bench rnn`, and the older forms they replace (`bench [flags]`, `bench --shallow-water
//! --sw-*`, `rnn bench`), which must print the same tables; bad options are refused by name
//! before any timing starts.

mod cli_run;
use cli_run::{fourdvar, stderr, stdout};

/// Runs a benchmark that must succeed and returns its standard output.
fn table(args: &[&str]) -> String {
    let o = fourdvar(args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    stdout(&o)
}

/// A benchmark table without its measurements: every decimal number becomes `#`, a decimal
/// followed by a time unit `#t` (the unit depends on the speed of the run), a percentage `#%`.
/// Titles, column headers, row labels, sizes, step and observation counts are kept, so two
/// runs of the same benchmark have equal skeletons and runs of different cases do not.
fn skeleton(text: &str) -> Vec<Vec<String>> {
    let is_unit = |t: &str| ["ns", "µs", "ms", "s"].contains(&t);
    text.lines()
        .map(|line| {
            // Decimals to '#'; whole numbers are counts and stay.
            let mut masked = String::new();
            let mut number = String::new();
            for c in line.chars().chain([' ']) {
                if c.is_ascii_digit() || c == '.' {
                    number.push(c);
                    continue;
                }
                if !number.is_empty() {
                    masked.push_str(if number.contains('.') { "#" } else { &number });
                    number.clear();
                }
                masked.push(c);
            }
            // Pairs such as "1.29 µs/16.41 µs" split into "#", "µs/#", "µs".
            let words: Vec<String> = masked
                .split_whitespace()
                .flat_map(|w| w.split('/').map(str::to_string).collect::<Vec<_>>())
                .collect();
            let mut out: Vec<String> = Vec::new();
            for w in words {
                if w.ends_with('%') {
                    out.push("#%".into());
                } else if is_unit(&w) && out.last().is_some_and(|p| p == "#") {
                    *out.last_mut().unwrap() = "#t".into();
                } else {
                    out.push(w);
                }
            }
            out
        })
        .collect()
}

/// The whitespace-separated cells of the rows whose first cell is `first`.
fn rows<'a>(text: &'a str, first: &str) -> Vec<Vec<&'a str>> {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|cells| cells.first() == Some(&first))
        .collect()
}

#[test]
fn skeleton_hides_timings_but_keeps_labels_and_counts() {
    let a = "        8       86.2 ns      1.04 µs    2.43\n    16x16      12          2000     999.85 µs   3.15   -1%";
    let b = "        8      101.0 ns      1.10 ms   12.43\n    16x16      12          2000       1.01 ms   3.25    7%";
    assert_eq!(skeleton(a), skeleton(b));
    let c = "        8       86.2 ns      1.04 µs    2.43\n    16x16      12          2001     999.85 µs   3.15   -1%";
    assert_ne!(skeleton(a), skeleton(c));
    let d = "        9       86.2 ns      1.04 µs    2.43\n    16x16      12          2000     999.85 µs   3.15   -1%";
    assert_ne!(skeleton(a), skeleton(d));
    assert_eq!(
        skeleton("x 1.29 µs/16.41 ms y")[0],
        vec!["x", "#t", "#t", "y"]
    );
}

#[test]
fn bench_lorenz96_prints_the_table_of_the_older_flag_form() {
    let options = [
        "--sizes",
        "8,40",
        "--window",
        "5",
        "--min-time",
        "0.01",
        "--cost",
        "12:6",
    ];
    let new = table(&[&["bench", "lorenz96"], &options[..]].concat());
    let old = table(&[&["bench"], &options[..]].concat());
    assert_eq!(skeleton(&new), skeleton(&old), "{new}\n---\n{old}");
    assert!(
        new.starts_with(
            "Lorenz-96, F = 8, dt = 0.05; value_and_gradient over 5 steps, every state stored"
        ),
        "{new}"
    );
    assert_eq!((rows(&new, "8").len(), rows(&new, "40").len()), (1, 1));
    // Every forward, TL, both AD, window and both gradient times is a time (a number and a
    // unit); the two ratios plain numbers.
    let row = &rows(&new, "40")[0];
    assert_eq!(row.len(), 17, "{row:?}");
    for ratio in &row[15..] {
        let ratio: f64 = ratio.parse().unwrap();
        assert!(ratio > 0.5 && ratio < 50.0, "{row:?}");
    }
    // 12 sites, every other one observed at steps 2, 4, 6: 18 observations; one line per
    // storage (all and stages by default), then auto's choice.
    assert_eq!(&rows(&new, "12")[0][..3], ["12", "6", "18"], "{new}");
    assert_eq!(rows(&new, "stages").len(), 1, "{new}");
    assert!(new.contains("auto picks stages"), "{new}");
}

#[test]
fn bench_shallow_water_prints_the_table_of_the_older_flag_form() {
    let common = [
        "--min-time",
        "0.01",
        "--large",
        "--large-grid",
        "12",
        "--large-steps",
        "12",
        "--snapshots",
        "3",
    ];
    let new = table(
        &[
            &["bench", "shallow-water", "--sizes", "8", "--cost", "12:6"],
            &common[..],
        ]
        .concat(),
    );
    let old = table(
        &[
            &[
                "bench",
                "--shallow-water",
                "--sw-sizes",
                "8",
                "--sw-cost",
                "12:6",
            ],
            &common[..],
        ]
        .concat(),
    );
    assert_eq!(skeleton(&new), skeleton(&old), "{new}\n---\n{old}");
    assert_eq!(rows(&new, "8x8").len(), 1, "{new}");
    // 1000 points at step 6.
    assert_eq!(
        &rows(&new, "12x12")[0][..3],
        ["12x12", "6", "1000"],
        "{new}"
    );
    // 13 states of 3·144 values, recomputed by 3 checkpoints in more forward steps than the
    // 12 of full storage.
    let checkpointed = &rows(&new, "Checkpoints(3)")[0];
    let all = &rows(&new, "All")[0];
    assert_eq!(all[3], "12", "{new}");
    assert!(checkpointed[3].parse::<u64>().unwrap() > 12, "{new}");
    // The subcommand also takes the older option names.
    let aliased = table(&[
        "bench",
        "shallow-water",
        "--sw-sizes",
        "8",
        "--sw-cost",
        "12:6",
        "--min-time",
        "0.01",
    ]);
    assert_eq!(rows(&aliased, "8x8").len(), 1, "{aliased}");
    assert_eq!(&rows(&aliased, "12x12")[0][..3], ["12x12", "6", "1000"]);
    assert!(rows(&aliased, "All").is_empty(), "no --large: {aliased}");
}

#[test]
fn bench_rnn_is_rnn_bench() {
    let options = [
        "--sizes",
        "4",
        "--length",
        "20",
        "--compare",
        "6",
        "--rank",
        "2",
        "--min-time",
        "0.01",
    ];
    let new = table(&[&["bench", "rnn"], &options[..]].concat());
    let old = table(&[&["rnn", "bench"], &options[..]].concat());
    assert_eq!(skeleton(&new), skeleton(&old), "{new}\n---\n{old}");
    let labels: Vec<(&str, &str)> = new
        .lines()
        .skip(2)
        .map(|l| {
            let mut cells = l.split_whitespace();
            (cells.next().unwrap(), cells.next().unwrap())
        })
        .collect();
    assert_eq!(
        labels,
        [
            ("dense", "4"),
            ("dense", "6"),
            ("diagonal", "6"),
            ("low-rank2", "6")
        ]
    );
}

#[test]
fn bench_refuses_bad_options_by_the_name_typed_before_timing() {
    for (args, needle) in [
        (&["bench", "--cost", "40x20"][..], "--cost"),
        (&["bench", "lorenz96", "--cost", "40:"][..], "--cost"),
        (&["bench", "lorenz96", "--min-time", "0"][..], "--min-time"),
        (
            &["bench", "--shallow-water", "--sw-sizes", "2"][..],
            "--sw-sizes",
        ),
        (
            &["bench", "--shallow-water", "--sw-cost", "16"][..],
            "--sw-cost",
        ),
        (
            &["bench", "shallow-water", "--sizes", "8,5000"][..],
            "--sizes",
        ),
        (&["bench", "shallow-water", "--cost", "2:12"][..], "--cost"),
        (
            &["bench", "shallow-water", "--large-grid", "2"][..],
            "--large-grid",
        ),
        (
            &["bench", "shallow-water", "--min-time", "nan"][..],
            "--min-time",
        ),
        // The older flags and a subcommand do not mix.
        (&["bench", "--sizes", "8", "lorenz96"][..], "lorenz96"),
        (
            &["bench", "--shallow-water", "shallow-water"][..],
            "shallow-water",
        ),
    ] {
        let o = fourdvar(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
        assert!(stdout(&o).is_empty(), "{args:?} printed {}", stdout(&o));
    }
    let o = fourdvar(&["bench", "shallow-water", "--sizes", "2"]);
    assert!(stderr(&o).contains("3..=4096"), "{}", stderr(&o));
}

#[test]
fn bench_help_names_the_subcommands_with_examples() {
    let help = table(&["bench", "--help"]);
    for needle in [
        "lorenz96",
        "shallow-water",
        "rnn",
        "--shallow-water",
        "--sw-sizes",
        "Example: fourdvar bench",
    ] {
        assert!(help.contains(needle), "'{needle}' missing: {help}");
    }
    for sub in ["lorenz96", "shallow-water", "rnn"] {
        let help = table(&["bench", sub, "--help"]);
        assert!(
            help.contains(&format!("Example: fourdvar bench {sub}")),
            "{help}"
        );
    }
    assert!(table(&["rnn", "bench", "--help"]).contains("fourdvar bench rnn"));
}

// The tests of the older forms on their own, with the checks they always had.

#[test]
fn bench_reports_every_size() {
    let o = fourdvar(&[
        "bench",
        "--sizes",
        "8,40",
        "--window",
        "5",
        "--min-time",
        "0.01",
        "--cost",
        "12:6",
    ]);
    let text = stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    let row = |first: &str| {
        text.lines()
            .filter(|l| l.split_whitespace().next() == Some(first))
            .count()
    };
    assert_eq!((row("8"), row("40"), row("12")), (1, 1, 1), "{text}");
    // 12 sites, every other one observed at steps 2, 4, 6: 18 observations.
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().take(3).eq(["12", "6", "18"])),
        "{text}"
    );
    let o = fourdvar(&["bench", "--sizes", "3"]);
    assert_eq!(o.status.code(), Some(2));
    let o = fourdvar(&["bench", "--cost", "40x20"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--cost"));
}

#[test]
fn shallow_water_bench_reports_steps_cost_and_storage() {
    let o = fourdvar(&[
        "bench",
        "--shallow-water",
        "--sw-sizes",
        "8,12",
        "--sw-cost",
        "16:12",
        "--min-time",
        "0.01",
        "--large",
        "--large-grid",
        "16",
        "--large-steps",
        "12",
        "--snapshots",
        "3",
    ]);
    let text = stdout(&o);
    println!("{text}{}", stderr(&o));
    assert!(o.status.success(), "{}", stderr(&o));
    let row = |first: &str| {
        text.lines()
            .filter(|l| l.split_whitespace().next() == Some(first))
            .count()
    };
    assert_eq!(
        (row("8x8"), row("12x12"), row("16x16")),
        (1, 1, 1),
        "{text}"
    );
    // 1000 points at steps 6 and 12.
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().take(3).eq(["16x16", "12", "2000"])),
        "{text}"
    );
    let storage = |label: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("{label} missing: {text}"))
            .to_string()
    };
    // 13 states of 3·256 values with full storage (78 KiB), 3 with checkpoints (18 KiB).
    assert!(storage("All").contains("0.1 MiB"), "{text}");
    assert!(storage("Checkpoints(3)").contains("0.0 MiB"), "{text}");
    assert!(stderr(&o).contains("value and gradient with All"));
    let o = fourdvar(&["bench", "--shallow-water", "--sw-sizes", "2"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--sw-sizes"), "{}", stderr(&o));
    let o = fourdvar(&["bench", "--shallow-water", "--sw-cost", "16"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--sw-cost"), "{}", stderr(&o));
}

/// `bench … --json`: one JSON object per run holding every figure the table prints, in
/// seconds, with the ratios derived from the very times beside them.
#[test]
fn bench_json_holds_every_figure_of_the_tables() {
    let json = |args: &[&str]| -> serde_json::Value {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_fourdvar"))
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
    };
    let fast = ["--min-time", "0.02", "--json"];
    let l96 = json(
        &[
            &[
                "bench", "--sizes", "8,40", "--cost", "40:4", "--window", "6",
            ][..],
            &fast,
        ]
        .concat(),
    );
    assert_eq!(l96["window_steps"], 6);
    let steps = l96["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    for (row, n) in steps.iter().zip([8, 40]) {
        assert_eq!(row["n"], n);
        let f = |k: &str| row[k].as_f64().unwrap_or_else(|| panic!("{k}: {row}"));
        for key in ["forward_step", "tangent_step", "adjoint_step"] {
            assert!(f(key) > 0.0 && f(key) < 1e-3, "{key}: {row}");
        }
        let ratio = f("gradient_window") / f("forward_window");
        assert!((f("ratio") - ratio).abs() < 1e-12 * ratio, "{row}");
        let ratio = f("gradient_window_stages") / f("forward_window");
        assert!((f("ratio_stages") - ratio).abs() < 1e-12 * ratio, "{row}");
        assert!(f("adjoint_step_recorded") > 0.0, "{row}");
    }
    let cost = &l96["cost"][0];
    assert_eq!(cost["auto"], "stages");
    let storages = cost["storages"].as_array().unwrap();
    assert_eq!(storages.len(), 2);
    for (s, (name, values)) in storages
        .iter()
        .zip([("all", 5 * 40), ("stages", 5 * 40 + 4 * 120)])
    {
        assert_eq!(s["storage"], name);
        assert_eq!(s["stored_bytes"], 8 * values);
        let ratio =
            s["value_and_gradient"].as_f64().unwrap() / cost["forward_run"].as_f64().unwrap();
        assert!(ratio > 0.5 && ratio < 50.0, "{s}");
    }
    assert_eq!(
        (cost["n"].as_u64(), cost["steps"].as_u64()),
        (Some(40), Some(4))
    );
    // Every other site of 40 at steps 2 and 4.
    assert_eq!(cost["observations"], 40);

    let sw = json(
        &[
            &["bench", "shallow-water", "--sizes", "8", "--cost", "12:6"][..],
            &fast,
        ]
        .concat(),
    );
    assert!(sw["threads"].as_u64().unwrap() >= 1);
    assert_eq!(
        sw["steps"][0]["forward"].as_array().unwrap().len(),
        2,
        "{sw}"
    );
    let row = &sw["cost"][0];
    let ratio = row["value_and_gradient"].as_f64().unwrap() / row["forward"].as_f64().unwrap();
    assert!((row["ratio"].as_f64().unwrap() - ratio).abs() < 1e-12 * ratio);

    let rnn = json(
        &[
            &[
                "bench",
                "rnn",
                "--sizes",
                "4",
                "--length",
                "20",
                "--compare",
                "6",
            ][..],
            &["--rank", "2"],
            &fast,
        ]
        .concat(),
    );
    let names: Vec<&str> = rnn["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["recurrence"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["dense", "dense", "diagonal", "low-rank2"]);
    assert_eq!(rnn["length"], 20);
}

/// `bench roofline --json`: the machine's peaks (multiply-add loop, triad at four levels) and
/// one row per kernel with the operation and byte counts of the code, the measured time and
/// the roofline bound derived from them.
#[test]
fn bench_roofline_reports_the_peaks_and_the_counted_kernels() {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_fourdvar"))
        .args(["bench", "roofline", "--sizes", "8,64", "--grids", "16"])
        .args(["--min-time", "0.01", "--json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let peaks = &v["peaks"];
    let one = peaks["flops_one_thread"].as_f64().unwrap();
    // Any processor of this century does more than 0.1 GFLOP/s and less than 10 TFLOP/s
    // on one core.
    assert!(one > 1e8 && one < 1e13, "{peaks}");
    let levels: Vec<&str> = (peaks["triad_one_thread"].as_array().unwrap().iter())
        .map(|t| t["level"].as_str().unwrap())
        .collect();
    assert_eq!(levels, ["L1", "L2", "L3", "memory"]);
    let kernels = v["kernels"].as_array().unwrap();
    assert_eq!(kernels.len(), 2 * 4 + 4);
    // Lorenz-96 per site: forward 28 operations in 23 vector passes, the stored-stage
    // adjoint 49 in 27.
    let at = |n: u64, kernel: &str| {
        (kernels.iter())
            .find(|k| k["n"] == n && k["kernel"] == kernel)
            .unwrap_or_else(|| panic!("{kernel} at {n}: {v}"))
    };
    let forward = at(64, "forward");
    assert_eq!(forward["flops"], 28.0 * 64.0);
    assert_eq!(forward["bytes"], 23.0 * 8.0 * 64.0);
    assert_eq!(at(8, "adjoint, stages stored")["flops"], 49.0 * 8.0);
    for k in kernels {
        let seconds = k["seconds"].as_f64().unwrap();
        let gbytes = k["bytes"].as_f64().unwrap() / seconds / 1e9;
        assert!(
            (k["gbytes"].as_f64().unwrap() - gbytes).abs() <= 1e-9 * gbytes,
            "{k}"
        );
        let times = seconds / k["bound_seconds"].as_f64().unwrap();
        assert!(
            (k["times_bound"].as_f64().unwrap() - times).abs() <= 1e-9 * times,
            "{k}"
        );
    }
    // 16 × 16 cells of 3 values. Per cell: forward 4 f (88) + 3 stages and the combination
    // (3 × 6 + 18) = 388 in 23 passes of 3 values; tangent 3 f + 3 stages (282), 4 tangents of
    // f (131) and 36 = 842; the stored-stage adjoint 9 + 3 × 175 + 169 = 703 in 30 passes.
    assert_eq!(at(768, "forward")["model"], "shallow water");
    assert_eq!(at(768, "forward")["flops"], 388.0 * 256.0);
    assert_eq!(at(768, "forward")["bytes"], 23.0 * 8.0 * 768.0);
    assert_eq!(at(768, "tangent linear")["flops"], 842.0 * 256.0);
    let stored = at(768, "adjoint, stages stored");
    assert_eq!(stored["flops"], 703.0 * 256.0);
    assert_eq!(stored["bytes"], 30.0 * 8.0 * 768.0);
    assert_eq!(
        at(768, "adjoint, stages recomputed")["flops"],
        (282.0 + 703.0) * 256.0
    );
}

/// `bench adjoint-memory`: each gradient in its own process; full storage's peak grows with
/// the steps by about the trajectory's 8 (l + 1) N bytes, the continuous adjoint's does not.
#[test]
fn adjoint_memory_grows_with_full_storage_and_not_with_the_continuous_adjoint() {
    let o = fourdvar(&[
        "bench",
        "adjoint-memory",
        "--n",
        "100",
        "--steps",
        "1000,100000",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let rows = v["rows"].as_array().unwrap();
    let find = |method: &str, steps: u64| {
        rows.iter()
            .find(|r| r["method"] == method && r["steps"] == steps)
            .unwrap_or_else(|| panic!("{method} {steps}: {v}"))
            .clone()
    };
    let mb = |r: &serde_json::Value| r["peak_kb"].as_f64().unwrap() / 1024.0;
    assert_eq!(find("all", 100000)["stored_values"], 100 * 100_001);
    assert_eq!(find("checkpoints", 100000)["stored_values"], 100 * 18);
    let all_growth = mb(&find("all", 100000)) - mb(&find("all", 1000));
    let continuous_growth = mb(&find("continuous", 100000)) - mb(&find("continuous", 1000));
    // The trajectory is 76.3 MB more at 10⁵ steps.
    assert!((60.0..100.0).contains(&all_growth), "{v}");
    assert!(continuous_growth.abs() < 5.0, "{v}");
    assert_eq!(
        find("continuous", 1000)["stored_values"],
        find("continuous", 100000)["stored_values"]
    );
}
