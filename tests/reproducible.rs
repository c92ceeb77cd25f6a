//! Same command, same bytes: with SOURCE_DATE_EPOCH fixing the time stamp, two runs of
//! forecast, observe (CSV and NetCDF), demo, twin and cycle write identical files, with one
//! rayon thread or two (the 64 × 64 shallow-water grid runs its rows in parallel). A malformed
//! SOURCE_DATE_EPOCH is refused before any work.

use std::path::Path;
use std::process::Command;

/// Runs `fourdvar args…` in `dir` with SOURCE_DATE_EPOCH = 1700000000 and `threads` rayon
/// threads, and asserts success.
fn run(dir: &Path, threads: usize, args: &[&str]) {
    let o = Command::new(env!("CARGO_BIN_EXE_fourdvar"))
        .args(args)
        .current_dir(dir)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .env("RAYON_NUM_THREADS", threads.to_string())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn every_output_is_byte_identical_across_runs_and_thread_counts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = |p: &str| root.join(p).to_str().unwrap().to_string();
    let (sw, l96) = (
        path("models/shallow_water.toml"),
        path("models/lorenz96.toml"),
    );
    let network = path("observations/lorenz96_half_every_other_step.toml");
    let cycle = path("experiments/lorenz96_cycle.toml");
    let runs: Vec<Vec<&str>> = vec![
        vec![
            "forecast", "--model", &sw, "--spinup", "2", "--steps", "4", "--out", "sw.nc",
        ],
        vec![
            "forecast", "--model", &l96, "--steps", "20", "--out", "truth.nc",
        ],
        vec![
            "observe",
            "--truth",
            "truth.nc",
            "--network",
            &network,
            "--out",
            "obs.csv",
        ],
        vec![
            "observe",
            "--truth",
            "truth.nc",
            "--network",
            &network,
            "--out",
            "obs.nc",
        ],
        vec!["demo", "--out", "demo.nc"],
        vec!["twin", "--config", &cycle, "--out", "twin.nc"],
        vec![
            "cycle",
            "--config",
            &cycle,
            "--windows",
            "12",
            "--burn-in",
            "2",
            "--out",
            "cycle.nc",
        ],
    ];
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    for (threads, dir) in [1, 2].into_iter().zip(&dirs) {
        for args in &runs {
            run(dir.path(), threads, args);
        }
    }
    for file in [
        "sw.nc", "truth.nc", "obs.csv", "obs.nc", "demo.nc", "twin.nc", "cycle.nc",
    ] {
        let a = std::fs::read(dirs[0].path().join(file)).unwrap();
        let b = std::fs::read(dirs[1].path().join(file)).unwrap();
        assert!(a == b, "{file} differs between the two runs");
        let text = String::from_utf8_lossy(&a);
        assert!(
            text.contains("2023-11-14T22:13:20Z"),
            "{file} lacks the fixed time stamp"
        );
    }
}

#[test]
fn a_malformed_source_date_epoch_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["yesterday", "-1", "1e9", "99999999999999999999"] {
        let o = Command::new(env!("CARGO_BIN_EXE_fourdvar"))
            .args(["demo", "--out", "demo.nc"])
            .current_dir(dir.path())
            .env("SOURCE_DATE_EPOCH", bad)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{bad}: {err}");
        assert!(
            err.contains("SOURCE_DATE_EPOCH") && err.contains(bad),
            "{err}"
        );
        assert!(!dir.path().join("demo.nc").exists());
    }
}

/// Where worker threads cannot start (here: every new thread asks for a 1 PB stack, which
/// cannot be mapped), the shallow-water model warns once and runs serially, writing the same
/// bytes as on two threads.
#[test]
fn without_worker_threads_the_model_runs_serially_and_writes_the_same_bytes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let model = root.join("models/shallow_water.toml");
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    // The same command line in two directories: the file records it.
    let forecast = |dir: &Path, min_stack: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_fourdvar"));
        command
            .args(["forecast", "--model", model.to_str().unwrap()])
            .args(["--spinup", "2", "--steps", "4", "--out", "sw.nc"])
            .current_dir(dir)
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .env("RAYON_NUM_THREADS", "2");
        if let Some(bytes) = min_stack {
            command.env("RUST_MIN_STACK", bytes);
        }
        command.output().unwrap()
    };
    let parallel = forecast(dirs[0].path(), None);
    assert!(parallel.status.success());
    assert!(!String::from_utf8_lossy(&parallel.stderr).contains("serially"));
    let serial = forecast(dirs[1].path(), Some("1000000000000000"));
    let message = String::from_utf8_lossy(&serial.stderr);
    assert!(serial.status.success(), "{message}");
    assert!(
        message.contains("cannot start worker threads") && message.contains("running serially"),
        "{message}"
    );
    assert_eq!(
        std::fs::read(dirs[1].path().join("sw.nc")).unwrap(),
        std::fs::read(dirs[0].path().join("sw.nc")).unwrap()
    );
}

/// The trajectory storage changes how the adjoint sweep keeps the forward run, never what it
/// computes: twin with `--storage all`, `stages`, `checkpoints:2` and `auto` reports the same
/// analysis to the last bit (every number of the JSON summary but the wall time and the
/// storage setting itself), on Lorenz-96 and with parameter estimation.
#[test]
fn the_trajectory_storage_does_not_change_a_single_number() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cycle = root.join("experiments/lorenz96_cycle.toml");
    let dir = tempfile::tempdir().unwrap();
    let summary = |storage: &str| {
        let o = Command::new(env!("CARGO_BIN_EXE_fourdvar"))
            .args(["twin", "--config", cycle.to_str().unwrap(), "--json", "-q"])
            .args(["--estimate-params", "0.5", "--window-steps", "12"])
            .args([
                "--storage",
                storage,
                "--out",
                &format!("{}.nc", storage.replace(':', "_")),
            ])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let mut v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["settings"]["minimizer"]["storage"], storage);
        v.as_object_mut().unwrap().remove("wall_time_seconds");
        v["settings"]["minimizer"]["storage"] = serde_json::Value::Null;
        v
    };
    let all = summary("all");
    assert!(all["iterations"].as_u64().unwrap() > 3, "{all}");
    for storage in ["stages", "checkpoints:2", "auto"] {
        assert_eq!(summary(storage), all, "{storage} vs all");
    }
}
