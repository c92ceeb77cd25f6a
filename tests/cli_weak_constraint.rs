//! Weak-constraint 4D-Var from the command line (issue #11): `--weak-constraint --q-sigma S
//! [--q-every M]` in `twin` and `cycle`, J_q in the summaries, and the refusals.

mod cli_run;

use cli_run::{fourdvar_in, repo, stderr, stdout, succeeded_in};

fn twin_args<'a>(model: &'a str, network: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "twin",
        "--model",
        model,
        "--network",
        network,
        "--window-steps",
        "20",
        "--out",
        "weak.nc",
    ];
    args.extend_from_slice(extra);
    args
}

#[test]
fn weak_constraint_twin_reports_the_model_error_term() {
    let dir = tempfile::tempdir().unwrap();
    let (model, network) = (
        repo("models/lorenz96.toml"),
        repo("observations/lorenz96_half_every_other_step.toml"),
    );
    let json = |extra: &[&str]| -> serde_json::Value {
        let o = succeeded_in(dir.path(), &twin_args(&model, &network, extra));
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&o)))
    };
    let strong = json(&["--json", "-q"]);
    let weak = json(&["--weak-constraint", "--q-sigma", "0.05", "--json", "-q"]);
    let every = json(&[
        "--weak-constraint",
        "--q-sigma",
        "0.05",
        "--q-every",
        "5",
        "--json",
        "-q",
    ]);
    assert!(strong.get("model_error_cost_final").is_none());
    let number = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap();
    for v in [&weak, &every] {
        let jq = number(v, "model_error_cost_final");
        let total = number(v, "background_cost_final") + jq + number(v, "observation_cost_final");
        assert!(jq > 0.0);
        assert!((total - number(v, "cost_final")).abs() < 1e-9 * total);
        // More freedom fits the observations at least as well.
        assert!(number(v, "cost_final") <= number(&strong, "cost_final"));
    }
    assert!(number(&weak, "cost_final") <= number(&every, "cost_final"));
    let text = stdout(&succeeded_in(
        dir.path(),
        &twin_args(
            &model,
            &network,
            &["--weak-constraint", "--q-sigma", "0.05", "-q"],
        ),
    ));
    assert!(text.contains("J_q "), "{text}");
    assert_eq!(
        weak["settings"]["weak_constraint"]["q_sigma"].as_f64(),
        Some(0.05)
    );
}

#[test]
fn weak_constraint_settings_it_cannot_honour_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (model, network) = (
        repo("models/lorenz96.toml"),
        repo("observations/lorenz96_half_every_other_step.toml"),
    );
    let refused = |extra: &[&str], needles: &[&str]| {
        let o = fourdvar_in(dir.path(), &twin_args(&model, &network, extra));
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {err}");
        for n in needles {
            assert!(err.contains(n), "{extra:?}: '{n}' missing from {err}");
        }
        assert!(!err.contains("panicked"));
        assert!(!dir.path().join("weak.nc").exists());
    };
    refused(&["--weak-constraint"], &["--q-sigma"]);
    refused(&["--q-sigma", "0.1"], &["--q-sigma", "--weak-constraint"]);
    refused(&["--weak-constraint", "--q-sigma", "0"], &["--q-sigma"]);
    refused(
        &["--weak-constraint", "--q-sigma", "0.1", "--q-every", "0"],
        &["--q-every"],
    );
    refused(
        &["--weak-constraint", "--q-sigma", "0.1", "--q-every", "40"],
        &["q_every = 40", "20-step"],
    );
    refused(
        &[
            "--weak-constraint",
            "--q-sigma",
            "0.1",
            "--algorithm",
            "incremental",
        ],
        &["--weak-constraint", "nonlinear"],
    );
    refused(
        &["--weak-constraint", "--q-sigma", "0.1", "--posterior", "3"],
        &["--weak-constraint", "posterior"],
    );
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "[weak_constraint]\nq_sigma = -1\n").unwrap();
    refused(
        &["--config", config.to_str().unwrap()],
        &["bad.toml", "weak_constraint.q_sigma"],
    );
}

/// `--truth-params` makes an imperfect-model twin: the truth runs with F = 8 while the
/// assimilation's model has F = 7.5, and weak-constraint 4D-Var then fits the window better
/// than strong constraint; a wrong number of values is refused.
#[test]
fn an_imperfect_model_twin_runs_the_truth_with_other_parameters() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("f75.toml"),
        "model = \"lorenz96\"\nn = 40\nforcing = 7.5\ndt = 0.05\n",
    )
    .unwrap();
    let network = repo("observations/lorenz96_half_every_other_step.toml");
    let rmse = |extra: &[&str]| -> f64 {
        let mut args = twin_args("f75.toml", &network, &["--json", "-q"]);
        args.extend_from_slice(extra);
        let o = succeeded_in(dir.path(), &args);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["rmse_analysis"].as_f64().unwrap()
    };
    let consistent = rmse(&[]);
    let strong = rmse(&["--truth-params", "8"]);
    let weak = rmse(&[
        "--truth-params",
        "8",
        "--weak-constraint",
        "--q-sigma",
        "0.05",
    ]);
    println!("F = 7.5 model: truth F = 7.5 {consistent:.4}; truth F = 8: strong {strong:.4}, weak {weak:.4}");
    assert!(strong > consistent, "{strong} vs {consistent}");
    assert!(weak < strong, "{weak} vs {strong}");
    let o = fourdvar_in(
        dir.path(),
        &twin_args("f75.toml", &network, &["--truth-params", "8,1"]),
    );
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("truth parameters") && err.contains("forcing"),
        "{err}"
    );
}
