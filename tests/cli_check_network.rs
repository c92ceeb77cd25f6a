//! `fourdvar check --network`: the Taylor and dot-product tests of an observation network's
//! operator H on a model, the gradient test of the 4D-Var cost with its observations, and the
//! step-by-step residues of that test; a network that does not fit the model is refused.

mod cli_run;
use cli_run::{fourdvar, stderr};

/// Runs `check … --json` and returns its object (asserting exit code 0: every row passed).
fn checks(args: &[&str]) -> serde_json::Value {
    let o = fourdvar(&[&["check"], args, &["--json"]].concat());
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The row whose test name starts with `prefix`.
fn row<'a>(report: &'a serde_json::Value, prefix: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["test"].as_str().unwrap().starts_with(prefix))
        .unwrap_or_else(|| panic!("no row {prefix:?} in {report}"))
}

fn value(report: &serde_json::Value, prefix: &str) -> f64 {
    row(report, prefix)["value"].as_f64().unwrap()
}

#[test]
fn a_linear_network_on_lorenz96_passes_with_round_off_residuals_and_prints_its_residues() {
    let report = checks(&[
        "--model",
        "models/lorenz96.toml",
        "--network",
        "observations/lorenz96_half_every_other_step.toml",
        "--spinup",
        "200",
    ]);
    assert_eq!(report["failed"], 0);
    // 13 rows of the model, 3 of the network.
    assert_eq!(report["checks"].as_array().unwrap().len(), 16, "{report}");
    // H is linear (value observations): H(x + δx) − H(x) − H'δx is round-off.
    assert!(value(&report, "network: H value (200 obs) linearity residual") < 1e-14);
    assert!(value(&report, "network: H value (200 obs) dot product") < 1e-14);
    assert!(value(&report, "network: gradient test of J") < 1e-6);
    // 20 sites at steps 2, 4, …, 20.
    let note = row(&report, "network: gradient test")["note"]
        .as_str()
        .unwrap();
    assert!(note.starts_with("200 observations"), "{note}");
    // The residues: one row per α from 1 to 1e-12 in quarter decades; R(α) → 1 with an
    // error that falls in proportion to α while round-off is small (J is smooth).
    let residues = report["gradient_residues"].as_array().unwrap();
    assert_eq!(residues.len(), 49);
    let at = |k: usize| {
        let r = &residues[k];
        (r["alpha"].as_f64().unwrap(), r["error"].as_f64().unwrap())
    };
    let ((a0, e0), (a8, e8), (a16, e16)) = (at(0), at(8), at(16));
    assert_eq!((a0, a8), (1.0, 1e-2));
    assert!((a16 - 1e-4).abs() < 1e-18);
    for (error, step) in [(e0 / e8, "1 → 1e-2"), (e8 / e16, "1e-2 → 1e-4")] {
        assert!(
            (30.0..300.0).contains(&error),
            "{step}: error fell by {error}, not about 100"
        );
    }
    assert!(e16 < 1e-3, "{e16}");
}

#[test]
fn nonlinear_networks_take_the_slope_test() {
    // Squares on the ring: H(x) = x², a Taylor residual of second order.
    let report = checks(&[
        "--model",
        "models/lorenz96.toml",
        "--network",
        "observations/lorenz96_square.toml",
        "--spinup",
        "200",
    ]);
    assert!(value(&report, "network: H square (200 obs) Taylor slope") < 0.05);
    assert!(value(&report, "network: H square (200 obs) Taylor |ratio-1|") < 1e-6);
    assert!(value(&report, "network: H square (200 obs) dot product") < 1e-14);
    // Heights and wind speeds on the plane, over two hours (the speeds come at 2 h).
    let report = checks(&[
        "--model",
        "models/shallow_water.toml",
        "--network",
        "observations/shallow_water_stations.toml",
        "--window",
        "24",
    ]);
    // 30 height stations at 1 h and 2 h, 5 speed stations at 2 h; the station at the centre
    // of the symmetric flow sees no wind (the kink of the speed) and sits out the Taylor test.
    let slope = row(&report, "network: H speed (5 obs) Taylor slope");
    assert!(slope["value"].as_f64().unwrap() < 0.05, "{slope}");
    let note = slope["note"].as_str().unwrap();
    assert!(note.contains("1 next to the kink"), "{slope}");
    assert!(value(&report, "network: H value (60 obs) linearity residual") < 1e-14);
    for kind in ["value (60 obs)", "speed (5 obs)"] {
        assert!(value(&report, &format!("network: H {kind} dot product")) < 1e-14);
    }
    assert!(value(&report, "network: gradient test of J") < 1e-6);
    let note = row(&report, "network: gradient test")["note"]
        .as_str()
        .unwrap();
    assert!(note.starts_with("65 observations"), "{note}");
}

#[test]
fn a_network_that_does_not_fit_the_model_or_the_window_is_refused() {
    let o = fourdvar(&[
        "check",
        "--model",
        "models/lorenz96.toml",
        "--network",
        "observations/shallow_water_stations.toml",
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    for needle in ["shallow_water_stations.toml", "line ", "positions"] {
        assert!(err.contains(needle), "{needle:?} missing from: {err}");
    }
    // Observed every 2 steps from step 2: a 1-step window sees nothing.
    let o = fourdvar(&[
        "check",
        "--model",
        "models/lorenz96.toml",
        "--network",
        "observations/lorenz96_half_every_other_step.toml",
        "--window",
        "1",
        "--spinup",
        "10",
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("observes nothing in steps 0..=1") && err.contains("--window"),
        "{err}"
    );
    // A position outside the ring, named by file, line and key.
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside.toml");
    std::fs::write(
        &outside,
        "positions = [3, 45]\nevery_steps = 2\nsigma = 1.0\n",
    )
    .unwrap();
    let o = fourdvar(&[
        "check",
        "--model",
        "models/lorenz96.toml",
        "--network",
        outside.to_str().unwrap(),
        "--spinup",
        "10",
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("outside.toml: line 1, key `positions`"),
        "{err}"
    );
    assert!(err.contains("position = 45 is outside the domain"), "{err}");
    let o = fourdvar(&[
        "check",
        "--model",
        "models/lorenz96.toml",
        "--network",
        "missing.toml",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("missing.toml"));
}
