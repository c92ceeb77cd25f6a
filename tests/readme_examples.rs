//! Every shell example of README.md, then of observations/README.md, runs as written (the
//! latter remake the shipped sample observations, compared value by value): the ```sh blocks
//! are run in order, one line at a time through `sh`, in a scratch directory holding the
//! repository's `models/`,
//! `observations/`, `experiments/` and `examples/`, with `fourdvar` on PATH as the binary
//! under test. Each must exit 0. Left out, each for a stated reason: `make` (the set-up
//! commands themselves), `fourdvar bench …` and `fourdvar rnn bench …` (benchmarks that run
//! for minutes and need gigabytes at their default sizes; tests/cli_bench.rs runs them on small
//! sizes; likewise the JAX side of the comparison, `python3 benches/…`), `python3` lines when
//! xarray is not installed and `cdo` lines when CDO is not.

use std::path::Path;
use std::process::Command;

/// The command lines of the ```sh blocks of `text`, in order: indentation removed, lines
/// continued with a backslash joined, comment-only lines dropped.
fn shell_examples(text: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut in_block = false;
    let mut pending = String::new();
    for line in text.lines() {
        let line = line.trim();
        if !in_block {
            in_block = line == "```sh";
            continue;
        }
        if line.starts_with("```") {
            in_block = false;
            continue;
        }
        if let Some(head) = line.strip_suffix('\\') {
            pending.push_str(head);
            continue;
        }
        let command = format!("{pending}{line}");
        pending.clear();
        if !command.is_empty() && !command.starts_with('#') {
            commands.push(command);
        }
    }
    commands
}

/// Why `command` is not run here, if it is not.
fn left_out(command: &str, has_xarray: bool, has_cdo: bool) -> Option<&'static str> {
    if command.starts_with("make ") {
        Some("the set-up command itself")
    } else if command.starts_with("fourdvar bench") || command.starts_with("fourdvar rnn bench") {
        Some("a benchmark at full size (tests/cli_bench.rs runs small ones)")
    } else if command.contains("benches/") {
        Some("the benchmark's comparison in another framework (JAX), not a dependency")
    } else if command.starts_with("python3") && !has_xarray {
        Some("xarray is not installed")
    } else if command.starts_with("cdo ") && !has_cdo {
        Some("cdo is not installed")
    } else {
        None
    }
}

/// The extraction itself: continuation lines joined, comment lines dropped, only sh blocks.
#[test]
fn the_shell_examples_parse_as_expected() {
    let text = "```sh\nfourdvar a \\\n    --b 1   # note\n# only a comment\n```\n```\nnot sh\n```\n  ```sh\n  make run\n  ```\n";
    assert_eq!(
        shell_examples(text),
        ["fourdvar a --b 1   # note", "make run"]
    );
    // The JAX comparison is left out even where xarray is installed; other python3 lines
    // run there.
    let jax = "python3 benches/jax_lorenz96_cost.py 40:20";
    assert!(left_out(jax, true, true).is_some());
    assert!(left_out("python3 -c 'import xarray'", true, true).is_none());
    assert!(left_out("python3 -c 'import xarray'", false, true).is_some());
}

/// Runs every README example in order (see the module documentation).
#[test]
fn every_readme_example_runs_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let observations = std::fs::read_to_string(root.join("observations/README.md")).unwrap();
    let commands = [shell_examples(&readme), shell_examples(&observations)].concat();
    assert!(commands.len() >= 25, "{commands:#?}");
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    for shipped in ["models", "observations", "experiments", "examples"] {
        std::os::unix::fs::symlink(root.join(shipped), dir.join(shipped)).unwrap();
    }
    let bin = dir.join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_fourdvar"), bin.join("fourdvar")).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let has_xarray = Command::new("python3")
        .args(["-c", "import xarray"])
        .output()
        .is_ok_and(|o| o.status.success());
    let has_cdo = Command::new("cdo").arg("--version").output().is_ok();
    // Figures README shows as the output of a command: (command prefix, printed text).
    let claims = [
        (
            "fourdvar twin --config experiments/shallow_water_twin.toml",
            "h: background 0.2314, analysis 0.1400",
        ),
        (
            "fourdvar cycle --config experiments/lorenz96_cycle.toml --out",
            "window start: background 0.2750, analysis 0.2299; window end: forecast 0.4156, \
             analysis 0.2749; free run 5.0637",
        ),
        (
            "fourdvar cycle --config experiments/shallow_water_cycle.toml",
            "window start: background 0.0353, analysis 0.0361; window end: forecast 0.0356, \
             analysis 0.0345; free run 0.1346",
        ),
    ];
    for (_, text) in &claims {
        assert!(readme.contains(text), "README no longer shows {text:?}");
    }
    let mut ran = 0;
    let mut checked = 0;
    for command in &commands {
        if let Some(reason) = left_out(command, has_xarray, has_cdo) {
            println!("left out ({reason}): {command}");
            continue;
        }
        let o = Command::new("sh")
            .args(["-c", command])
            .current_dir(dir)
            .env("PATH", &path)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{command}\nexit {:?}\n{}",
            o.status.code(),
            String::from_utf8_lossy(&o.stderr)
        );
        ran += 1;
        for (prefix, text) in &claims {
            if command.starts_with(prefix) {
                let printed = String::from_utf8_lossy(&o.stdout);
                assert!(
                    printed.contains(text),
                    "{command}: {text:?} not in\n{printed}"
                );
                checked += 1;
            }
        }
    }
    assert!(ran >= 20, "only {ran} examples ran");
    assert_eq!(checked, claims.len());
    // What the examples say they write is there.
    for written in [
        "demo.nc",
        "analysis.nc",
        "cycle.nc",
        "sw_twin.nc",
        "sw_cycle.nc",
        "grads.json",
        "net.json",
        "f.nc",
    ] {
        assert!(dir.join(written).is_file(), "{written} was not written");
    }
    // observations/README.md remakes the shipped samples: the same observations, bit for bit
    // in their shortest decimal form (only the comment lines, with paths and dates, differ).
    for sample in ["sample_lorenz96.csv", "sample_shallow_water.csv"] {
        let data = |path: &Path| -> Vec<String> {
            std::fs::read_to_string(path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
                .lines()
                .filter(|l| !l.starts_with('#'))
                .map(String::from)
                .collect()
        };
        let made = data(&dir.join(sample));
        assert!(made.len() > 60, "{sample}: {} lines", made.len());
        assert_eq!(
            made,
            data(&root.join("observations").join(sample)),
            "{sample}"
        );
    }
}
