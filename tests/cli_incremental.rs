//! Incremental 4D-Var from the command line (issue #11): `--algorithm incremental` in `twin`
//! and `cycle` reaches the nonlinear analysis, reports its outer loops in text, JSON and
//! NetCDF, and refuses the settings it cannot honour, naming the flag or the key.

mod cli_run;

use std::path::Path;

use cli_run::{fourdvar_in, netcdf_values, repo, stderr, stdout, succeeded_in};

fn json(o: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

/// `twin` on the demo's setting (Lorenz-96, 20-step window, half the sites every other step)
/// with `extra` flags, writing `out`.
fn twin(dir: &Path, out: &str, extra: &[&str]) -> serde_json::Value {
    let model = repo("models/lorenz96.toml");
    let network = repo("observations/lorenz96_half_every_other_step.toml");
    // Tight stopping rules: the nonlinear minimiser must not stop on a small change of J.
    let config = dir.join("tight.toml");
    std::fs::write(
        &config,
        "[window]\nsteps = 20\n[minimizer]\ngradient_tolerance = 1e-10\n\
         relative_cost_tolerance = 0.0\nmax_iterations = 1000\n",
    )
    .unwrap();
    let config = config.to_string_lossy().into_owned();
    let mut args = vec![
        "twin",
        "--config",
        &config,
        "--model",
        &model,
        "--network",
        &network,
        "--out",
        out,
        "--json",
        "-q",
    ];
    args.extend_from_slice(extra);
    json(&succeeded_in(dir, &args))
}

#[test]
fn incremental_twin_reaches_the_nonlinear_analysis_and_reports_its_outer_loops() {
    let dir = tempfile::tempdir().unwrap();
    let nonlinear = twin(dir.path(), "nonlinear.nc", &[]);
    let incremental = twin(
        dir.path(),
        "incremental.nc",
        &[
            "--algorithm",
            "incremental",
            "--inner-solver",
            "lanczos",
            "--spectral-preconditioner",
            "--inner-tolerance",
            "1e-8",
            "--outer-loops",
            "40",
        ],
    );
    let number = |v: &serde_json::Value, key: &str| v[key].as_f64().unwrap();
    let (a, b) = (
        number(&nonlinear, "cost_final"),
        number(&incremental, "cost_final"),
    );
    println!("J at the analysis: nonlinear {a}, incremental {b}");
    assert!((a - b).abs() <= 1e-9 * a, "{a} vs {b}");
    // The analysis states (window and forecast) agree to 1e-6.
    let analysis = |name: &str| -> Vec<f64> { netcdf_values(&dir.path().join(name), "analysis") };
    let gap = (analysis("nonlinear.nc").iter())
        .zip(analysis("incremental.nc"))
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    println!("max |x_incremental - x_nonlinear| over the window = {gap:e}");
    assert!(gap < 1e-6, "{gap}");
    assert!(incremental["converged"].as_bool().unwrap(), "{incremental}");
    assert!(nonlinear.get("outer_loops").is_none());
    let loops = incremental["outer_loops"].as_array().unwrap();
    assert!(loops.len() >= 2, "{loops:?}");
    let mut inner_total = 0;
    for (l, o) in loops.iter().enumerate() {
        let (j, q) = (number(o, "cost"), number(o, "quadratic_cost"));
        // Each inner loop lowers its quadratic model below J at its linearisation point.
        assert!(q <= j, "outer loop {l}: q {q} above J {j}");
        assert!(o["inner_iterations"].as_u64().unwrap() > 0);
        inner_total += o["inner_iterations"].as_u64().unwrap();
        // The spectral preconditioner starts with the second outer loop.
        assert_eq!(
            o["preconditioner_pairs"].as_u64().unwrap() > 0,
            l > 0,
            "{o}"
        );
    }
    // J at the linearisation points never rises.
    let costs: Vec<f64> = loops.iter().map(|o| number(o, "cost")).collect();
    assert!(costs.windows(2).all(|w| w[1] <= w[0]), "{costs:?}");
    assert_eq!(
        incremental["tangent_linear_runs"].as_u64().unwrap(),
        inner_total
    );

    // The NetCDF file holds the same outer loops.
    let inner: Vec<i32> = netcdf_values(&dir.path().join("incremental.nc"), "inner_iterations");
    let from_json: Vec<i32> = loops
        .iter()
        .map(|o| o["inner_iterations"].as_u64().unwrap() as i32)
        .collect();
    assert_eq!(inner, from_json);
    let outer_cost: Vec<f64> = netcdf_values(&dir.path().join("incremental.nc"), "outer_cost");
    assert_eq!(outer_cost, costs);
    let nonlinear_file = netcdf::open(dir.path().join("nonlinear.nc")).unwrap();
    assert!(nonlinear_file.dimension("outer_loop").is_none());

    // The text summary has one line per outer loop.
    let text = stdout(&succeeded_in(
        dir.path(),
        &[
            "twin",
            "--model",
            &repo("models/lorenz96.toml"),
            "--network",
            &repo("observations/lorenz96_half_every_other_step.toml"),
            "--algorithm",
            "incremental",
            "--outer-loops",
            "3",
            "--out",
            "three.nc",
            "-q",
        ],
    ));
    assert_eq!(text.matches("outer loop ").count(), 3, "{text}");
    assert!(text.contains("ran the 3 outer loops"), "{text}");
}

#[test]
fn incremental_cycle_matches_the_nonlinear_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let config = repo("experiments/lorenz96_cycle.toml");
    let run = |out: &str, extra: &[&str]| {
        let mut args = vec![
            "cycle",
            "--config",
            &config,
            "--windows",
            "40",
            "--burn-in",
            "10",
            "--gradient-tolerance",
            "1e-8",
            "--out",
            out,
            "--json",
            "-q",
        ];
        args.extend_from_slice(extra);
        json(&succeeded_in(dir.path(), &args))
    };
    let nonlinear = run("nonlinear.nc", &[]);
    let incremental = run(
        "incremental.nc",
        &["--algorithm", "incremental", "--inner-tolerance", "1e-8"],
    );
    let a = nonlinear["rmse_analysis"].as_f64().unwrap();
    let b = incremental["rmse_analysis"].as_f64().unwrap();
    println!(
        "cycled analysis RMSE: nonlinear {a}, incremental {b}; {} outer loops and {} inner \
         iterations per window",
        incremental["mean_iterations"], incremental["mean_inner_iterations"]
    );
    assert!((a - b).abs() < 1e-6 * a, "{a} vs {b}");
    assert!(nonlinear.get("mean_inner_iterations").is_none());
    assert!(incremental["mean_inner_iterations"].as_f64().unwrap() >= 1.0);
    let inner: Vec<i32> = netcdf_values(&dir.path().join("incremental.nc"), "inner_iterations");
    assert_eq!(inner.len(), 40);
    assert!(inner.iter().all(|&i| i > 0), "{inner:?}");
}

#[test]
fn incremental_settings_it_cannot_honour_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let model = repo("models/lorenz96.toml");
    let network = repo("observations/lorenz96_half_every_other_step.toml");
    let refused = |extra: &[&str], needles: &[&str]| {
        let mut args = vec![
            "twin",
            "--model",
            &model,
            "--network",
            &network,
            "--algorithm",
            "incremental",
            "--out",
            "refused.nc",
        ];
        args.extend_from_slice(extra);
        let o = fourdvar_in(dir.path(), &args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {err}");
        for n in needles {
            assert!(err.contains(n), "{extra:?}: '{n}' missing from {err}");
        }
        assert!(!err.contains("panicked"), "{err}");
        assert!(!dir.path().join("refused.nc").exists());
    };
    refused(
        &["--spectral-preconditioner"],
        &["--spectral-preconditioner", "lanczos"],
    );
    refused(&["--space", "physical"], &["--space", "transformed"]);
    refused(&["--estimate-params", "1"], &["--estimate-params"]);
    refused(&["--outer-loops", "0"], &["--outer-loops"]);
    refused(&["--inner-solver", "gmres"], &["--inner-solver", "lanczos"]);
    refused(&["--inner-tolerance", "nan"], &["--inner-tolerance"]);

    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "[incremental]\nouter_loops = 0\n").unwrap();
    refused(
        &["--config", config.to_str().unwrap()],
        &["bad.toml", "incremental.outer_loops", "at least 1"],
    );
    std::fs::write(&config, "[incremental]\ninner_solver = \"gmres\"\n").unwrap();
    refused(
        &["--config", config.to_str().unwrap()],
        &["bad.toml", "line 2", "inner_solver"],
    );
}

/// `cycle --algorithm 3dvar|3dfgat`: with a window of zero steps every algorithm analyses the
/// same observations at the same time with the same B, so all four cycles agree; over the
/// standard 4-step window 4D-Var, which uses the model to place each observation, beats
/// 3D-FGAT (observations at their times, increment constant), which beats 3D-Var
/// (observations all taken as valid at the window start).
#[test]
fn three_d_var_and_fgat_cycle_and_agree_with_four_d_var_on_a_zero_step_window() {
    let dir = tempfile::tempdir().unwrap();
    let config = repo("experiments/lorenz96_cycle.toml");
    let run = |algorithm: &str, extra: &[&str]| {
        let out = format!("{algorithm}.nc");
        let mut args = vec![
            "cycle",
            "--config",
            &config,
            "--algorithm",
            algorithm,
            "--windows",
            "200",
            "--burn-in",
            "50",
            "--inner-tolerance",
            "1e-10",
            "--gradient-tolerance",
            "1e-10",
            "--out",
            &out,
            "--json",
            "-q",
        ];
        args.extend_from_slice(extra);
        json(&succeeded_in(dir.path(), &args))["rmse_analysis"]
            .as_f64()
            .unwrap()
    };
    let zero = ["--window-steps", "0", "--shift", "1"];
    let reference = run("nonlinear", &zero);
    for algorithm in ["incremental", "3dvar", "3dfgat"] {
        let rmse = run(algorithm, &zero);
        println!("zero-step window: {algorithm} {rmse}, nonlinear {reference}");
        assert!((rmse - reference).abs() < 1e-6 * reference, "{algorithm}");
    }
    let (four_d, fgat, three_d) = (run("nonlinear", &[]), run("3dfgat", &[]), run("3dvar", &[]));
    println!("4-step window: 4D-Var {four_d}, 3D-FGAT {fgat}, 3D-Var {three_d}");
    assert!(four_d < fgat && fgat < three_d, "{four_d} {fgat} {three_d}");
    // A zero-step window in a cycle needs the steps between analyses.
    let o = fourdvar_in(
        dir.path(),
        &[
            "cycle",
            "--model",
            &repo("models/lorenz96.toml"),
            "--network",
            &repo("observations/lorenz96_all_every_step.toml"),
            "--window-steps",
            "0",
            "--out",
            "x.nc",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--shift"), "{}", stderr(&o));
}

/// A 40-step Lorenz-96 window is too nonlinear for full Gauss–Newton steps: the outer loops
/// halve a step that would raise J, so J still falls at every outer loop, and each shortened
/// step is recorded (text, JSON, NetCDF).
#[test]
fn gauss_newton_steps_that_would_raise_j_are_shortened() {
    let dir = tempfile::tempdir().unwrap();
    let model = repo("models/lorenz96.toml");
    let network = repo("observations/lorenz96_half_every_other_step.toml");
    let o = succeeded_in(
        dir.path(),
        &[
            "twin",
            "--model",
            &model,
            "--network",
            &network,
            "--window-steps",
            "40",
            "--algorithm",
            "incremental",
            "--out",
            "long.nc",
            "--json",
            "-q",
        ],
    );
    let v = json(&o);
    let loops = v["outer_loops"].as_array().unwrap();
    let costs: Vec<f64> = loops.iter().map(|o| o["cost"].as_f64().unwrap()).collect();
    let steps: Vec<f64> = loops
        .iter()
        .map(|o| o["step_length"].as_f64().unwrap())
        .collect();
    println!("J {costs:?}\nstep lengths {steps:?}");
    assert!(costs.windows(2).all(|w| w[1] < w[0]), "{costs:?}");
    assert!(v["cost_final"].as_f64().unwrap() < *costs.last().unwrap());
    assert!(steps.iter().any(|&s| s < 1.0), "{steps:?}");
    for s in &steps {
        let halvings = -s.log2();
        assert!(
            (0.0..=5.0).contains(&halvings) && halvings.fract() == 0.0,
            "{s}"
        );
    }
    let from_file: Vec<f64> = netcdf_values(&dir.path().join("long.nc"), "step_length");
    assert_eq!(from_file, steps);
}
