//! Ctrl-C (SIGINT) and SIGTERM: a minimisation, a cycle or a training run stops at its next
//! clean point, writes the result so far and exits with 130; any other run stops at once and
//! leaves no output and no temporary file behind.
//!
//! This file is its own test process: the interrupt flag is process-wide and, once set, stays
//! set, so nothing here may share a process with tests that must run to the end.

use std::cell::Cell;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fourdvar::core::minimize::{minimize, Minimizer, Objective, Progress, StoppingRule};
use fourdvar::Result;

mod cli_run;

/// J(u) = Σ (i+1)(u_i − 1)⁴ (no round-off plateau for many iterations); asks for a stop
/// at the `stop_at`-th evaluation, as the first Ctrl-C would.
struct QuarticBowl {
    evaluations: Cell<usize>,
    stop_at: usize,
}

impl Objective for QuarticBowl {
    fn value_and_gradient(&self, u: &[f64]) -> Result<(f64, Vec<f64>)> {
        self.evaluations.set(self.evaluations.get() + 1);
        if self.evaluations.get() == self.stop_at {
            fourdvar::interrupt::request();
        }
        let value = u
            .iter()
            .enumerate()
            .map(|(i, x)| (i + 1) as f64 * (x - 1.0).powi(4))
            .sum();
        let gradient = u
            .iter()
            .enumerate()
            .map(|(i, x)| 4.0 * (i + 1) as f64 * (x - 1.0).powi(3))
            .collect();
        Ok((value, gradient))
    }
}

/// Starts `fourdvar args…` in `dir`, its output captured.
fn spawn(dir: &Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_fourdvar"))
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts")
}

/// Waits until the child catches SIGINT (its handler is installed: bit 2 of SigCgt in
/// /proc/PID/status), so the signal the test sends is the program's to handle.
fn wait_for_handler(child: &Child) {
    let status = format!("/proc/{}/status", child.id());
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(&status).unwrap_or_default();
        let caught = text
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
            .unwrap_or(0);
        if caught & (1 << (2 - 1)) != 0 {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no SIGINT handler"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends `signal` (e.g. "INT") to the child.
fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

/// The hidden temporary files (`.NAME.tmp-PID`) left in `dir`.
fn temporary_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect()
}

/// The minimiser treats a stop request as a stopping rule: it ends after the current
/// iterate and returns the best point so far, marked interrupted. (The CLI tests below run in
/// child processes, so setting the flag here disturbs nothing else.)
#[test]
fn stop_request_ends_the_minimisation_with_the_best_iterate() {
    let objective = QuarticBowl {
        evaluations: Cell::new(0),
        stop_at: 12,
    };
    let mut costs = Vec::new();
    let m = minimize(
        &objective,
        vec![3.0; 10],
        Minimizer::Lbfgs,
        StoppingRule {
            max_iterations: 10_000,
            gradient_tolerance: 0.0,
            relative_cost_tolerance: 0.0,
        },
        &mut |p: &Progress| costs.push(p.cost),
    )
    .unwrap();
    assert!(m.interrupted, "{}", m.stop_reason);
    assert_eq!(m.stop_reason, "interrupted");
    assert!(!m.converged);
    // Stopped soon after the request: not 10,000 iterations on.
    assert!(
        objective.evaluations.get() < 40,
        "{}",
        objective.evaluations.get()
    );
    assert!(m.cost < m.first_cost, "{} vs {}", m.cost, m.first_cost);
    let best = costs.iter().cloned().fold(f64::INFINITY, f64::min);
    assert!(m.cost <= best, "returned {} but saw {best}", m.cost);
    let (value, _) = objective.value_and_gradient(&m.control).unwrap();
    assert_eq!(
        value, m.cost,
        "the control is not the point of the cost returned"
    );
}

/// SIGINT during a cycle: the windows done are written, stdout says how many of how many,
/// exit code 130, no temporary file.
#[test]
fn sigint_during_a_cycle_writes_the_windows_done() {
    let dir = tempfile::tempdir().unwrap();
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/lorenz96_cycle.toml");
    let out = dir.path().join("cycle.nc");
    let child = spawn(
        dir.path(),
        &[
            "cycle",
            "--config",
            config.to_str().unwrap(),
            "--windows",
            "20000",
            "--out",
            "cycle.nc",
        ],
    );
    wait_for_handler(&child);
    std::thread::sleep(Duration::from_millis(200));
    signal(&child, "INT");
    let o = child.wait_with_output().unwrap();
    let (stdout, stderr) = (cli_run::stdout(&o), cli_run::stderr(&o));
    assert_eq!(o.status.code(), Some(130), "{stdout}{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(
        stdout.contains("of the 20000 windows asked for were run"),
        "{stdout}"
    );
    let file = netcdf::open(&out).unwrap();
    let windows = file.dimension("time").map(|d| d.len()).unwrap();
    assert!((1..20000).contains(&windows), "{windows} windows written");
    let rmse: Vec<f64> = file
        .variable("rmse_analysis")
        .unwrap()
        .get_values(..)
        .unwrap();
    assert!(rmse.iter().all(|v| v.is_finite()), "{rmse:?}");
    assert!(temporary_files(dir.path()).is_empty());
}

/// SIGINT or SIGTERM during a forecast (which has no clean point to stop at): exit code 130,
/// no output, no temporary file, and an existing file at the output path is left as it was.
#[test]
fn a_signal_during_a_forecast_writes_nothing() {
    for sig in ["INT", "TERM"] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("f.nc");
        std::fs::write(&out, "the previous result").unwrap();
        let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/lorenz96.toml");
        let child = spawn(
            dir.path(),
            &[
                "forecast",
                "--model",
                model.to_str().unwrap(),
                "--steps",
                "200000000",
                "--output-every",
                "10000000",
                "--out",
                "f.nc",
            ],
        );
        wait_for_handler(&child);
        std::thread::sleep(Duration::from_millis(200));
        signal(&child, sig);
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(130), "{}", cli_run::stderr(&o));
        assert!(cli_run::stderr(&o).contains("no output written"));
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "the previous result"
        );
        assert!(temporary_files(dir.path()).is_empty());
    }
}

/// SIGINT during `rnn train`: the network so far and its loss curve are written (and load),
/// exit code 130.
#[test]
fn sigint_during_training_writes_the_network_so_far() {
    let dir = tempfile::tempdir().unwrap();
    let curve = dir.path().join("curve.csv");
    let child = spawn(
        dir.path(),
        &[
            "rnn",
            "train",
            "--task",
            "lorenz96",
            "--method",
            "adam",
            "--epochs",
            "1000000",
            "--out",
            "net.json",
            "--loss-curve",
            "curve.csv",
        ],
    );
    wait_for_handler(&child);
    std::thread::sleep(Duration::from_millis(200));
    signal(&child, "INT");
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", cli_run::stderr(&o));
    let net = fourdvar::io::rnn_files::read_network(&dir.path().join("net.json")).unwrap();
    assert_eq!(net.shape.hidden, 16);
    let rows = std::fs::read_to_string(&curve).unwrap().lines().count();
    assert!((2..1_000_001).contains(&rows), "{rows} curve lines");
    assert!(temporary_files(dir.path()).is_empty());
}
