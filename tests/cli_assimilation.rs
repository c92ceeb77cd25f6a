//! The assimilation commands end to end: `demo`, `observe`, `assimilate`, `cycle`, with their
//! refusals of bad input (exit code 2, a message naming the file / line / key, no output).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fourdvar::io::netcdf_trajectory::read_trajectory;

fn fourdvar(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fourdvar"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(path)
        .to_string_lossy()
        .into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", text(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o.stdout)))
}

fn assert_refused(o: &Output, out: &Path, needles: &[&str]) {
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    for n in needles {
        assert!(err.contains(n), "'{n}' missing from: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    assert!(!out.exists(), "output file left behind");
}

/// A truth of 20 steps, 200 observations of it, and a background file, in `dir`.
fn twin_files(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let truth = dir.join("truth.nc");
    let o = fourdvar(
        dir,
        &[
            "forecast",
            "--model",
            &repo("models/lorenz96.toml"),
            "--steps",
            "20",
            "--out",
            "truth.nc",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = fourdvar(
        dir,
        &[
            "observe",
            "--truth",
            "truth.nc",
            "--network",
            &repo("observations/lorenz96_half_every_other_step.toml"),
            "--seed",
            "5",
            "--out",
            "obs.csv",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    // The background: the true initial state plus 0.8 at every site.
    let t = read_trajectory(&truth, None).unwrap();
    let xb: String = t.states[..40]
        .iter()
        .map(|v| format!("{:e}\n", v + 0.8))
        .collect();
    std::fs::write(dir.join("xb.txt"), xb).unwrap();
    (truth, dir.join("obs.csv"), dir.join("xb.txt"))
}

#[test]
fn demo_runs_with_no_files_and_improves_on_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let o = fourdvar(dir.path(), &["demo"]);
    let out = text(&o.stdout);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(out.contains("RMSE against the truth"), "{out}");
    let file = netcdf::open(dir.path().join("demo.nc")).unwrap();
    for name in [
        "truth",
        "background",
        "analysis",
        "obs_value",
        "obs_minus_background",
        "obs_minus_analysis",
        "cost",
        "gradient_norm",
    ] {
        assert!(file.variable(name).is_some(), "{name} missing");
    }
    assert_eq!(file.dimension("obs").unwrap().len(), 200);
    let cost: Vec<f64> = file.variable("cost").unwrap().get_values(..).unwrap();
    assert!(cost.last().unwrap() < &(0.2 * cost[0]), "{cost:?}");

    let o = fourdvar(dir.path(), &["demo", "--json", "--out", "again.nc"]);
    let v = json(&o);
    let (b, a) = (
        v["rmse_background"].as_f64().unwrap(),
        v["rmse_analysis"].as_f64().unwrap(),
    );
    assert!(a < 0.25 * b, "background {b}, analysis {a}");
    let per_obs = v["cost_per_observation"].as_f64().unwrap();
    assert!((0.3..0.8).contains(&per_obs), "J_min/p = {per_obs}");
}

#[test]
fn observe_is_reproducible_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    twin_files(dir.path());
    let data = |name: &str| -> Vec<String> {
        let all = std::fs::read_to_string(dir.path().join(name)).unwrap();
        all.lines()
            .filter(|l| !l.starts_with('#'))
            .map(String::from)
            .collect()
    };
    let net = repo("observations/lorenz96_half_every_other_step.toml");
    for (seed, name) in [("5", "same.csv"), ("6", "other.csv")] {
        let o = fourdvar(
            dir.path(),
            &[
                "observe",
                "--truth",
                "truth.nc",
                "--network",
                &net,
                "--seed",
                seed,
                "--out",
                name,
            ],
        );
        assert!(o.status.success(), "{}", text(&o.stderr));
    }
    assert_eq!(data("obs.csv"), data("same.csv"));
    assert_ne!(data("obs.csv"), data("other.csv"));
    assert_eq!(data("obs.csv").len(), 1 + 10 * 20);
}

#[test]
fn assimilate_reports_json_and_writes_the_analysis() {
    let dir = tempfile::tempdir().unwrap();
    twin_files(dir.path());
    let model = repo("models/lorenz96.toml");
    let o = fourdvar(
        dir.path(),
        &[
            "assimilate",
            "--model",
            &model,
            "--background",
            "xb.txt",
            "--obs",
            "obs.csv",
            "--truth",
            "truth.nc",
            "--window-steps",
            "20",
            "--b-sigma",
            "0.8",
            "--out",
            "a.nc",
            "--json",
        ],
    );
    let v = json(&o);
    for key in [
        "cost_initial",
        "cost_final",
        "gradient_norm_initial",
        "gradient_norm_final",
        "iterations",
        "cost_evaluations",
        "rmse_background",
        "rmse_analysis",
        "wall_time_seconds",
    ] {
        assert!(!v[key].is_null(), "{key} missing in {v}");
    }
    assert!(v["cost_final"].as_f64() < v["cost_initial"].as_f64());
    assert!(
        v["rmse_analysis"].as_f64().unwrap() < 0.5 * v["rmse_background"].as_f64().unwrap(),
        "{v}"
    );
    let file = netcdf::open(dir.path().join("a.nc")).unwrap();
    assert_eq!(file.dimension("time").unwrap().len(), 21);

    // Without a truth the RMSE is null; all three minimisers run.
    for minimizer in ["lbfgs", "cg", "steepest-descent"] {
        let o = fourdvar(
            dir.path(),
            &[
                "assimilate",
                "--model",
                &model,
                "--background",
                "xb.txt",
                "--obs",
                "obs.csv",
                "--minimizer",
                minimizer,
                "--max-iterations",
                "30",
                "--out",
                "b.nc",
                "--json",
            ],
        );
        let v = json(&o);
        assert!(v["rmse_analysis"].is_null());
        assert!(
            v["cost_final"].as_f64() < v["cost_initial"].as_f64(),
            "{minimizer}: {v}"
        );
    }
}

#[test]
fn assimilate_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    twin_files(dir.path());
    let d = dir.path();
    let model = repo("models/lorenz96.toml");
    let out = d.join("never.nc");
    let run = |extra: &[&str]| {
        let mut args = vec!["assimilate", "--model", &model, "--out", "never.nc"];
        args.extend_from_slice(extra);
        fourdvar(d, &args)
    };
    let base = ["--background", "xb.txt"];
    // Observations beyond the window.
    let o = run(&[&base[..], &["--obs", "obs.csv", "--window-steps", "10"]].concat());
    assert_refused(&o, &out, &["obs.csv", "line", "window"]);
    // Bad observation files.
    let header = "time,position,value,sigma\n";
    for (name, body, needles) in [
        ("nan.csv", "0.1,3,NaN,1\n", vec!["nan.csv", "line 2"]),
        (
            "sigma.csv",
            "0.1,3,1.0,0\n",
            vec!["sigma.csv", "line 2", "sigma"],
        ),
        (
            "outside.csv",
            "0.1,40,1.0,1\n",
            vec!["outside.csv", "line 2", "position"],
        ),
        (
            "between.csv",
            "0.125,3,1.0,1\n",
            vec!["between.csv", "line 2"],
        ),
    ] {
        std::fs::write(d.join(name), format!("{header}{body}")).unwrap();
        let o = run(&[&base[..], &["--obs", name]].concat());
        assert_refused(&o, &out, &needles);
    }
    std::fs::write(
        d.join("column.csv"),
        "time,position,value,sigma,colour\n0.1,3,1.0,1,red\n",
    )
    .unwrap();
    let o = run(&[&base[..], &["--obs", "column.csv"]].concat());
    assert_refused(&o, &out, &["column.csv", "colour"]);
    // A background of the wrong length.
    std::fs::write(d.join("short.txt"), "1.0\n".repeat(39)).unwrap();
    let o = run(&["--background", "short.txt", "--obs", "obs.csv"]);
    assert_refused(&o, &out, &["short.txt", "39"]);
    // B that is not positive definite.
    let o = run(&[&base[..], &["--obs", "obs.csv", "--b-length-scale", "3"]].concat());
    assert_refused(&o, &out, &["positive definite"]);
    // A minimiser that cannot decrease J (here: allowed no iteration at all).
    let o = run(&[&base[..], &["--obs", "obs.csv", "--max-iterations", "0"]].concat());
    assert_refused(&o, &out, &["did not decrease J"]);
    // A bad experiment file.
    std::fs::write(d.join("bad.toml"), "[background]\nsigma = -1.0\n").unwrap();
    let o = run(&[&base[..], &["--obs", "obs.csv", "--config", "bad.toml"]].concat());
    assert_refused(&o, &out, &["bad.toml", "background.sigma"]);
}

#[test]
fn cycle_runs_windows_with_any_shift_and_averages_after_the_burn_in() {
    let dir = tempfile::tempdir().unwrap();
    let config = repo("experiments/lorenz96_cycle.toml");
    for (window, shift) in [("4", "4"), ("8", "4"), ("2", "5")] {
        let o = fourdvar(
            dir.path(),
            &[
                "cycle",
                "--config",
                &config,
                "--windows",
                "60",
                "--burn-in",
                "20",
                "--window-steps",
                window,
                "--shift",
                shift,
                "--out",
                "cycle.nc",
                "--json",
            ],
        );
        let v = json(&o);
        let a = v["rmse_analysis"].as_f64().unwrap();
        println!("window {window} shift {shift}: {v}");
        // Observing all 40 sites every step with σ_o = 1 keeps the analysis below σ_o when the
        // windows cover every observation, and far below the climatological spread (3.6)
        // even when gaps between windows leave observations unused.
        let bound = if shift <= window { 0.7 } else { 2.0 };
        assert!(
            a < bound,
            "window {window} shift {shift}: analysis RMSE {a}"
        );
        // Like with like: at the window end the analysis beats the forecast from the previous
        // analysis, at the window start it beats the background, and the cycle beats the
        // chaotic free run (whose error saturates near the climatological spread) many times.
        let field = |k: &str| v[k].as_f64().unwrap();
        assert!(a < field("rmse_forecast_end"), "{v}");
        assert!(
            field("rmse_analysis_start") < field("rmse_background"),
            "{v}"
        );
        let free = field("rmse_free_run");
        assert!(free > 3.0 && a < 0.25 * free, "{v}");
        let file = netcdf::open(dir.path().join("cycle.nc")).unwrap();
        assert_eq!(file.dimension("time").unwrap().len(), 60);
        let rmse: Vec<f64> = file
            .variable("rmse_analysis")
            .unwrap()
            .get_values(..)
            .unwrap();
        let tail = &rmse[20..];
        let mean = tail.iter().sum::<f64>() / tail.len() as f64;
        assert!((mean - a).abs() < 1e-12);
    }
    let o = fourdvar(
        dir.path(),
        &[
            "cycle",
            "--config",
            &config,
            "--windows",
            "5",
            "--burn-in",
            "5",
            "--out",
            "x.nc",
        ],
    );
    assert_refused(&o, &dir.path().join("x.nc"), &["burn-in"]);
}

/// `--seed S` on `twin` and `cycle` draws the background error from S, the observation
/// noise from S + 1 and the truth's initial perturbation from S + 2: the same run as an
/// experiment file with those seeds, and a different truth from the file without one.
#[test]
fn seed_sets_the_truth_background_and_observation_seeds() {
    let dir = tempfile::tempdir().unwrap();
    let config = repo("experiments/lorenz96_cycle.toml");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("../models/", &repo("models/"))
        .replace("../observations/", &repo("observations/"))
        .replace("background_seed = 1", "background_seed = 5")
        .replace(
            "observation_seed = 2",
            "observation_seed = 6\ntruth_seed = 7",
        );
    assert!(text.contains("background_seed = 5") && text.contains("truth_seed = 7"));
    std::fs::write(dir.path().join("seeded.toml"), text).unwrap();
    let rmse = |command: &str, config: &str, seed: Option<&str>| {
        let mut args = vec![command, "--config", config, "--out", "x.nc", "--json"];
        if command == "cycle" {
            args.extend(["--windows", "20", "--burn-in", "5"]);
        }
        if let Some(s) = seed {
            args.extend(["--seed", s]);
        }
        let v = json(&fourdvar(dir.path(), &args));
        (
            v["rmse_background"].as_f64().unwrap(),
            v["rmse_analysis"].as_f64().unwrap(),
        )
    };
    for command in ["twin", "cycle"] {
        let default = rmse(command, &config, None);
        let five = rmse(command, &config, Some("5"));
        assert_ne!(five, default, "{command}");
        assert_eq!(rmse(command, "seeded.toml", None), five, "{command}");
        assert_eq!(rmse(command, &config, Some("5")), five, "{command}");
    }
    // The truth seed alone changes the run: another truth under the same other seeds.
    let other_truth = std::fs::read_to_string(dir.path().join("seeded.toml"))
        .unwrap()
        .replace("truth_seed = 7", "truth_seed = 9");
    std::fs::write(dir.path().join("other_truth.toml"), other_truth).unwrap();
    for command in ["twin", "cycle"] {
        assert_ne!(
            rmse(command, "other_truth.toml", None),
            rmse(command, "seeded.toml", None),
            "{command}"
        );
    }
}
