//! The `fourdvar` command line end to end: what it writes, and how it refuses bad input
//! (one-line message naming the file / line / key / step, exit code 2, no output file).

use std::path::{Path, PathBuf};
use std::process::Output;

use fourdvar::core::integrate;
use fourdvar::io::netcdf_trajectory::read_trajectory;
use fourdvar::models::{lorenz96, ModelInfo};

mod cli_run;
use cli_run::{fourdvar, stderr, stdout};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Asserts a refusal: exit code 2, a one-line error mentioning every `needle`, no output file
/// and no temporary file left in the directory.
fn assert_refused(o: &Output, out: &Path, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert!(err.starts_with("fourdvar: error: "), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
    for n in needles {
        assert!(err.contains(n), "'{n}' missing from: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        !out.exists(),
        "a partial output file was left at {}",
        out.display()
    );
    let dir = out.parent().unwrap();
    if dir.exists() {
        let leftovers: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    }
}

#[test]
fn forecast_writes_the_spun_up_trajectory_as_cf_netcdf() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("forecast.nc");
    let o = fourdvar(&[
        "forecast",
        "--model",
        "models/lorenz96.toml",
        "--steps",
        "30",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("31 records"), "{}", stdout(&o));

    let t = read_trajectory(&out, Some("x")).unwrap();
    assert_eq!((t.n, t.times.len()), (40, 31));
    assert_eq!(
        t.steps.as_deref(),
        Some(&(0..=30).collect::<Vec<u64>>()[..])
    );
    assert!((t.times[30] - 1.5).abs() < 1e-12);
    // The first record is the default start after 1000 spin-up steps, the last one 30 later.
    let model = lorenz96(40, 8.0, 0.05);
    let start = integrate(&model, &model.default_initial_state(), 1000, |_, _| {}).unwrap();
    let end = integrate(&model, &start, 30, |_, _| {}).unwrap();
    assert_eq!(&t.states[..40], &start[..]);
    assert_eq!(&t.states[30 * 40..], &end[..]);

    let file = netcdf::open(&out).unwrap();
    let text = |name: &str| match file.attribute(name).unwrap().value().unwrap() {
        netcdf::AttributeValue::Str(s) => s,
        other => panic!("{name}: {other:?}"),
    };
    assert_eq!(text("Conventions"), "CF-1.10");
    assert!(text("history").contains("fourdvar forecast --model models/lorenz96.toml"));
    assert!(text("model_configuration").contains("forcing = 8.0"));
    assert!(text("title").contains("Lorenz-96"));
    assert!(text("source").contains("fourdvar"));
}

#[test]
fn forecast_starts_from_a_text_or_netcdf_initial_state() {
    let dir = tempfile::tempdir().unwrap();
    let values: Vec<f64> = (0..40)
        .map(|i| 2.0 + (i as f64 * 0.7).sin() * 3.0)
        .collect();
    let text: String = values.iter().map(|v| format!("{v:.17e}\n")).collect();
    let initial = write(dir.path(), "start.txt", &format!("# a start\n{text}"));
    let first = dir.path().join("first.nc");
    let o = fourdvar(&[
        "forecast",
        "--model",
        "models/lorenz96.toml",
        "--initial",
        initial.to_str().unwrap(),
        // No --spinup: with --initial the forecast starts at the given state.
        "--steps",
        "10",
        "--out",
        first.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let t = read_trajectory(&first, None).unwrap();
    assert_eq!(&t.states[..40], &values[..]);

    // Continuing from the NetCDF output starts where the first run ended.
    let second = dir.path().join("second.nc");
    let o = fourdvar(&[
        "forecast",
        "--model",
        "models/lorenz96.toml",
        "--initial",
        first.to_str().unwrap(),
        "--spinup",
        "0",
        "--steps",
        "10",
        "--output-every",
        "5",
        "--out",
        second.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let u = read_trajectory(&second, None).unwrap();
    assert_eq!(u.times.len(), 3);
    assert_eq!(&u.states[..40], &t.states[10 * 40..]);
}

#[test]
fn forecast_refuses_bad_initial_states() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.nc");
    let o_path = out.to_str().unwrap();
    let short = write(dir.path(), "short.txt", &"1.5\n".repeat(39));
    let o = fourdvar(&[
        "forecast",
        "--model",
        "models/lorenz96.toml",
        "--initial",
        short.to_str().unwrap(),
        "--steps",
        "5",
        "--out",
        o_path,
    ]);
    assert_refused(&o, &out, &["short.txt", "39", "40"]);

    let nan = write(
        dir.path(),
        "nan.txt",
        &format!("{}NaN\n{}", "1.0\n".repeat(5), "1.0\n".repeat(34)),
    );
    let o = fourdvar(&[
        "forecast",
        "--model",
        "models/lorenz96.toml",
        "--initial",
        nan.to_str().unwrap(),
        "--steps",
        "5",
        "--out",
        o_path,
    ]);
    assert_refused(&o, &out, &["nan.txt", "line 6"]);

    let o = fourdvar(&[
        "forecast",
        "--model",
        "models/lorenz96.toml",
        "--initial",
        "no/such/file.txt",
        "--steps",
        "5",
        "--out",
        o_path,
    ]);
    assert_refused(&o, &out, &["no/such/file.txt"]);
}

#[test]
fn forecast_refuses_bad_configurations() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.nc");
    let o_path = out.to_str().unwrap();
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "small.toml",
            "model = \"lorenz96\"\nforcing = 8.0\nn = 3\n",
            &["small.toml", "line 3", "`n`", "at least 4"],
        ),
        (
            "dt.toml",
            "model = \"lorenz96\"\ndt = -0.05\n",
            &["dt.toml", "line 2", "`dt`"],
        ),
        (
            "unknown.toml",
            "model = \"lorenz96\"\nforcin = 8.0\n",
            &["unknown.toml", "line 2", "forcin"],
        ),
        (
            "name.toml",
            "model = \"lorenz99\"\n",
            &["name.toml", "line 1", "lorenz99", "lorenz96"],
        ),
        ("nomodel.toml", "n = 40\n", &["nomodel.toml", "`model`"]),
        (
            "syntax.toml",
            "model = \"lorenz96\"\nn = = 4\n",
            &["syntax.toml", "line 2"],
        ),
        (
            "type.toml",
            "model = \"lorenz96\"\nn = \"forty\"\n",
            &["type.toml", "line 2"],
        ),
        (
            "l63.toml",
            "model = \"lorenz63\"\nrho = nan\n",
            &["l63.toml", "`rho`"],
        ),
    ];
    for (name, text, needles) in cases {
        let config = write(dir.path(), name, text);
        let o = fourdvar(&[
            "forecast",
            "--model",
            config.to_str().unwrap(),
            "--steps",
            "5",
            "--out",
            o_path,
        ]);
        assert_refused(&o, &out, needles);
    }
    let o = fourdvar(&[
        "forecast",
        "--model",
        "models/missing.toml",
        "--steps",
        "5",
        "--out",
        o_path,
    ]);
    assert_refused(&o, &out, &["models/missing.toml"]);
}

#[test]
fn forecast_names_the_step_where_the_model_blows_up() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.nc");
    let config = write(
        dir.path(),
        "unstable.toml",
        "model = \"lorenz96\"\ndt = 1.0\n",
    );
    let o = fourdvar(&[
        "forecast",
        "--model",
        config.to_str().unwrap(),
        "--spinup",
        "0",
        "--steps",
        "100000",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_refused(&o, &out, &["non-finite", "step", "forecast"]);
    let o = fourdvar(&[
        "forecast",
        "--model",
        config.to_str().unwrap(),
        "--steps",
        "5",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_refused(&o, &out, &["non-finite", "spin-up"]);
}

#[test]
fn forecast_refuses_an_output_path_it_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("no-such-directory").join("out.nc");
    let o = fourdvar(&[
        "forecast",
        "--model",
        "models/lorenz96.toml",
        "--steps",
        "5",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_refused(&o, &out, &["no-such-directory"]);
    // A directory is not a file either.
    let o = fourdvar(&[
        "forecast",
        "--model",
        "models/lorenz96.toml",
        "--steps",
        "5",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn usage_errors_exit_with_2_and_help_with_0() {
    let o = fourdvar(&["forecast", "--model", "models/lorenz96.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--steps"));
    let o = fourdvar(&["forecast", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("--initial"));
    let o = fourdvar(&["--help"]);
    assert!(stdout(&o).contains("check") && stdout(&o).contains("bench"));
}

#[test]
fn check_passes_for_both_models_and_prints_the_table() {
    for model in ["models/lorenz96.toml", "models/lorenz63.toml"] {
        let o = fourdvar(&["check", "--model", model]);
        let text = stdout(&o);
        assert_eq!(o.status.code(), Some(0), "{text}{}", stderr(&o));
        assert!(
            text.contains("AD dot product (relative), 20 step(s)"),
            "{text}"
        );
        assert!(text.contains("13 passed, 0 failed"), "{text}");
        assert!(!text.contains("FAIL"), "{text}");
    }
}

#[test]
fn forecast_refuses_runs_too_large_for_memory() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.nc");
    let o = fourdvar(&[
        "forecast",
        "--model",
        "models/lorenz96.toml",
        "--steps",
        "100000000",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_refused(&o, &out, &["output interval", "GB"]);
    let huge = write(
        dir.path(),
        "huge.toml",
        "model = \"lorenz96\"\nn = 1000000000000\n",
    );
    let o = fourdvar(&[
        "forecast",
        "--model",
        huge.to_str().unwrap(),
        "--steps",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_refused(&o, &out, &["huge.toml", "line 2", "`n`", "at most"]);
}

#[test]
fn shallow_water_forecast_labels_time_in_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sw.nc");
    let o = fourdvar(&[
        "forecast",
        "--model",
        "models/shallow_water.toml",
        "--spinup",
        "0",
        "--steps",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let file = netcdf::open(&out).unwrap();
    let units = file
        .variable("time")
        .unwrap()
        .attribute("units")
        .unwrap()
        .value()
        .unwrap();
    assert_eq!(
        units,
        netcdf::AttributeValue::Str("seconds since 2000-01-01 00:00:00".into())
    );
    let model_units = file
        .variable("model_time")
        .unwrap()
        .attribute_value("units")
        .unwrap()
        .unwrap();
    assert_eq!(model_units, netcdf::AttributeValue::Str("s".into()));
    let t = read_trajectory(&out, None).unwrap();
    assert_eq!(t.times, vec![0.0, 300.0, 600.0]);
    assert_eq!(t.n, 3 * 64 * 64);
}

/// Flag values out of range are refused by the command line itself, naming the flag, the
/// value and the range, before any file is touched.
#[test]
fn out_of_range_flags_are_refused_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.nc");
    let out = out.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["cycle", "--windows", "0"], "must be at least 1, got 0"),
        (&["cycle", "--shift", "0"], "must be at least 1, got 0"),
        (&["assimilate", "--window-steps", "x"], "--window-steps"),
        (
            &["assimilate", "--gradient-tolerance", "NaN"],
            "NaN is not a finite number",
        ),
        (
            &["assimilate", "--estimate-params", "1,NaN"],
            "not a finite",
        ),
        (
            &["forecast", "--steps", "3", "--output-every", "0"],
            "at least 1",
        ),
        (
            &["rnn", "train", "--task", "recall", "--hidden", "0"],
            "at least 1",
        ),
        (
            &["rnn", "train", "--task", "recall", "--tbptt", "0"],
            "at least 1",
        ),
        (
            &["rnn", "train", "--task", "recall", "--clip", "inf"],
            "not a finite",
        ),
        (
            &["rnn", "train", "--task", "recall", "--learning-rate", "0"],
            "must be > 0",
        ),
        (
            &["rnn", "train", "--task", "chess"],
            "lorenz96, recall, alarm",
        ),
        (
            &["rnn", "train", "--task", "recall", "--recurrence", "sparse"],
            "dense, diagonal, low-rank",
        ),
        (
            &["rnn", "reservoir", "--task", "lorenz96", "--hidden", "5000"],
            "between 1 and 4096",
        ),
        (
            &["rnn", "reservoir", "--task", "recall"],
            "[possible values: lorenz96]",
        ),
        (
            &["rnn", "reservoir", "--task", "lorenz96", "--ridge", "0"],
            "must be > 0",
        ),
        (
            &[
                "rnn",
                "sensitivity",
                "--net",
                "n.json",
                "--data",
                "d.csv",
                "--top",
                "0",
            ],
            "at least 1",
        ),
        (
            &["bench", "lorenz96", "--sizes", "40,3"],
            "must be at least 4, got 3",
        ),
        (
            &["bench", "rnn", "--min-time", "0"],
            "positive number of seconds",
        ),
    ];
    for (args, message) in cases {
        let flag = args.iter().rev().nth(1).unwrap().to_string();
        let mut all: Vec<&str> = args.to_vec();
        if args[0] != "bench" {
            all.extend(["--out", out]);
        }
        let o = fourdvar(&all);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(&format!("'{flag} <")),
            "{args:?}: flag missing from {err}"
        );
        assert!(
            err.contains(message),
            "{args:?}: '{message}' missing from {err}"
        );
        assert!(!Path::new(out).exists(), "{args:?} wrote {out}");
    }
}

/// The settings shared by `assimilate`, `twin` and `cycle` show their defaults in `--help`,
/// and those are the defaults an empty experiment file resolves to.
/// The paragraph of option `flag` in `--help` text `help`: from its line to the next
/// option's, whitespace collapsed.
fn help_paragraph(help: &str, flag: &str) -> String {
    let start = help
        .find(&format!("      {flag} "))
        .unwrap_or_else(|| panic!("{flag} not in help"));
    let rest = &help[start + flag.len() + 6..];
    let end = rest.find("\n      --").unwrap_or(rest.len());
    rest[..end].split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn help_shows_the_default_of_every_setting() {
    use fourdvar::cov::spec::DEFAULT_LENGTH_SCALE_SPACINGS;
    use fourdvar::cov::{BackgroundSpec, CorrelationKind};
    use fourdvar::io::experiment_config::{CycleConfig, MinimizerConfig};
    let minimizer = MinimizerConfig::default();
    let cycle = CycleConfig::default();
    let background = BackgroundSpec::default();
    let expected: Vec<(&str, String)> = vec![
        ("--b-sigma", format!("else {}", background.sigma)),
        ("--b-correlation", "else gaussian".into()),
        ("--b-length-scale", "else 2 grid spacings".into()),
        ("--minimizer", "else lbfgs".into()),
        ("--space", "else transformed".into()),
        (
            "--max-iterations",
            format!("else {}", minimizer.max_iterations),
        ),
        (
            "--gradient-tolerance",
            format!("else {:e}", minimizer.gradient_tolerance),
        ),
        ("--windows", format!("else {}", cycle.windows)),
        ("--burn-in", format!("else {}", cycle.burn_in)),
        ("--shift", "else the window length".into()),
        ("--estimate-params", "else the parameters are not".into()),
    ];
    let o = fourdvar(&["cycle", "--help"]);
    assert!(o.status.success());
    let help = stdout(&o);
    let paragraph = |flag: &str| help_paragraph(&help, flag);
    for (flag, needle) in &expected {
        let text = paragraph(flag);
        assert!(
            text.contains("Default") && text.contains(needle.as_str()),
            "{flag}: {needle:?} not in {text:?}"
        );
    }
    assert_eq!(
        DEFAULT_LENGTH_SCALE_SPACINGS,
        [2.0, 1.5],
        "update the --b-length-scale help"
    );
    assert!(background.correlation == CorrelationKind::Gaussian);
    assert!(minimizer.method == fourdvar::var::Minimizer::Lbfgs);
    assert!(minimizer.space == fourdvar::var::ControlSpace::Transformed);
}

/// `--verbose` prints one line per minimiser iteration (and per cycle window) on stderr,
/// `--quiet` prints nothing there, and neither changes what goes to stdout.
#[test]
fn verbose_and_quiet_change_stderr_only() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo.nc");
    let out = out.to_str().unwrap();
    let run = |flag: Option<&str>| {
        let mut args = vec!["demo", "--out", out, "--json"];
        args.extend(flag);
        let o = fourdvar(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        o
    };
    let normal = run(None);
    let verbose = run(Some("--verbose"));
    let quiet = run(Some("-q"));
    let strip_time = |o: &Output| {
        let mut v: serde_json::Value = serde_json::from_str(&stdout(o)).unwrap();
        v["wall_time_seconds"] = serde_json::Value::Null;
        v
    };
    assert_eq!(strip_time(&normal), strip_time(&verbose));
    assert_eq!(strip_time(&normal), strip_time(&quiet));
    assert_eq!(stderr(&quiet), "");
    let iterations = strip_time(&normal)["iterations"].as_u64().unwrap();
    let lines: Vec<String> = stderr(&verbose)
        .lines()
        .filter(|l| l.starts_with("iteration "))
        .map(String::from)
        .collect();
    // Iterate 0 (the background) and one line per iteration after it.
    assert!(lines.len() as u64 > iterations, "{lines:?}");
    assert!(lines[0].starts_with("iteration 0: J = ") && lines[0].contains("|grad J|"));

    let o = fourdvar(&[
        "cycle",
        "--config",
        "experiments/lorenz96_cycle.toml",
        "--windows",
        "7",
        "--burn-in",
        "2",
        "--out",
        dir.path().join("cycle.nc").to_str().unwrap(),
        "-v",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    for j in 0..7 {
        assert!(
            stderr(&o).contains(&format!("window {j}: RMSE at the start background ")),
            "window {j}: {}",
            stderr(&o)
        );
    }
    let o = fourdvar(&["demo", "--out", out, "--quiet", "--verbose"]);
    assert_eq!(o.status.code(), Some(2));
}

/// On a terminal a minimisation draws a progress bar with its iteration, J and |grad J|;
/// `--quiet` draws none. The terminal is a pseudo-terminal from util-linux `script`.
#[test]
fn a_terminal_shows_a_progress_bar_unless_quiet() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: util-linux `script` (a pseudo-terminal) is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let on_terminal = |extra: &str| {
        let command = format!(
            "{} demo --out {} {extra}",
            env!("CARGO_BIN_EXE_fourdvar"),
            dir.path().join("demo.nc").display()
        );
        let o = std::process::Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    let shown = on_terminal("");
    assert!(
        shown.contains("minimising [") && shown.contains("iterations J "),
        "{shown}"
    );
    let quiet = on_terminal("--quiet");
    assert!(!quiet.contains("minimising"), "{quiet}");
    assert!(quiet.contains("written to"), "{quiet}");
}

/// `forecast`, `observe` and `check` print one JSON object with `--json`, holding the same
/// figures as the files they write and the table they print.
#[test]
fn forecast_observe_and_check_speak_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let json = |args: &[&str]| -> serde_json::Value {
        let o = fourdvar(args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        serde_json::from_str(stdout(&o).trim()).unwrap()
    };
    let truth = path("truth.nc");
    let f = json(&[
        "forecast",
        "--model",
        "models/lorenz96.toml",
        "--steps",
        "12",
        "--output-every",
        "3",
        "--out",
        &truth,
        "--json",
    ]);
    assert_eq!(f["records"], 5);
    assert_eq!(f["state_len"], 40);
    let file = read_trajectory(Path::new(&truth), None).unwrap();
    let last = &file.states[file.states.len() - 40..];
    let mean = last.iter().sum::<f64>() / 40.0;
    assert!((f["final_mean"].as_f64().unwrap() - mean).abs() < 1e-12);

    let obs = path("obs.csv");
    let o = json(&[
        "observe",
        "--truth",
        &truth,
        "--network",
        "observations/lorenz96_all_every_step.toml",
        "--out",
        &obs,
        "--json",
    ]);
    let rows = std::fs::read_to_string(&obs)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("time"))
        .count();
    assert_eq!(o["observations"].as_u64().unwrap() as usize, rows);
    assert_eq!(o["steps"], 4);

    let c = json(&["check", "--model", "models/lorenz63.toml", "--json"]);
    let checks = c["checks"].as_array().unwrap();
    assert!(checks.len() >= 6);
    for row in checks {
        let passed = row["value"].as_f64().unwrap() <= row["threshold"].as_f64().unwrap();
        assert_eq!(row["passed"].as_bool().unwrap(), passed, "{row}");
    }
    assert_eq!(c["failed"], 0);
    assert_eq!(c["passed"].as_u64().unwrap() as usize, checks.len());
}

/// Every command whose result is a file writes it to `--out`, with a default named after the
/// command shown in `--help`; lists are shown as they are typed (comma-separated); multi-word
/// values are spelled in kebab-case (the older `low_rank` still read).
#[test]
fn outputs_default_alike_and_values_are_spelled_alike() {
    let paragraph = |args: &[&str], flag: &str| -> String {
        let o = fourdvar(args);
        assert!(o.status.success(), "{args:?}");
        help_paragraph(&stdout(&o), flag)
    };
    for (command, default) in [
        (&["forecast"][..], "forecast.nc"),
        (&["observe"], "obs.nc"),
        (&["assimilate"], "analysis.nc"),
        (&["cycle"], "cycle.nc"),
        (&["twin"], "twin.nc"),
        (&["demo"], "demo.nc"),
        (&["rnn", "gradient"], "grads.json"),
        (&["rnn", "train"], "net.json"),
        (&["rnn", "reservoir"], "esn.json"),
    ] {
        let args = [command, &["--help"]].concat();
        let text = paragraph(&args, "--out");
        assert!(
            text.contains(&format!("[default: {default}]")),
            "{command:?}: {text}"
        );
    }
    for (command, flag, shown) in [
        (
            &["bench", "lorenz96"][..],
            "--sizes",
            "[default: 40,1000,1000000]",
        ),
        (
            &["bench", "lorenz96"],
            "--cost",
            "[default: 40:20,1000:100]",
        ),
        (
            &["bench", "shallow-water"],
            "--sizes",
            "[default: 64,256,1024]",
        ),
        (
            &["bench", "shallow-water"],
            "--snapshots",
            "[default: 10,20]",
        ),
        (&["bench", "rnn"], "--sizes", "[default: 16,128,512]"),
        (&["rnn", "train"], "--recurrence", "low-rank"),
        (&["twin"], "--minimizer", "steepest-descent"),
    ] {
        let args = [command, &["--help"]].concat();
        let text = paragraph(&args, flag);
        assert!(text.contains(shown), "{command:?} {flag}: {text}");
    }

    // A forecast without --out writes forecast.nc where it runs.
    let dir = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_fourdvar"))
        .args(["forecast", "--steps", "2", "--model"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("models/lorenz96.toml"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        read_trajectory(&dir.path().join("forecast.nc"), None)
            .unwrap()
            .times
            .len(),
        3
    );

    // Both spellings of the low-rank recurrence train the same network.
    let train = |spelling: &str| -> String {
        let out = dir.path().join(format!("{spelling}.json"));
        let o = fourdvar(&[
            "rnn",
            "train",
            "--task",
            "recall",
            "--hidden",
            "4",
            "--epochs",
            "2",
            "--recurrence",
            spelling,
            "--rank",
            "2",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{spelling}: {}", stderr(&o));
        std::fs::read_to_string(out).unwrap()
    };
    let (new, old) = (train("low-rank"), train("low_rank"));
    assert!(new.contains("\"low-rank\""), "{new}");
    assert_eq!(new, old);
}
