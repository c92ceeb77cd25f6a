//! `--posterior K` from the command line (issue #11): the Hessian eigenvalues and DFS in
//! `--json`, the analysis error standard deviation and the eigenvalues in the NetCDF file,
//! consistent with each other, and the refusals.

mod cli_run;

use std::path::Path;

use cli_run::{fourdvar_in, netcdf_values, repo, stderr, stdout, succeeded_in};

/// `twin` on the demo's setting with `--posterior modes`, writing `out`; the JSON summary.
fn twin_with_posterior(dir: &Path, modes: &str, out: &str) -> serde_json::Value {
    let o = succeeded_in(
        dir,
        &[
            "twin",
            "--model",
            &repo("models/lorenz96.toml"),
            "--network",
            &repo("observations/lorenz96_half_every_other_step.toml"),
            "--window-steps",
            "20",
            "--posterior",
            modes,
            "--out",
            out,
            "--json",
            "-q",
        ],
    );
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&o)))
}

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn variable(dir: &Path, file: &str, name: &str) -> Vec<f64> {
    netcdf_values(&dir.join(file), name)
}

#[test]
fn the_posterior_is_reported_in_json_and_netcdf_and_the_complete_spectrum_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let full = twin_with_posterior(dir.path(), "40", "full.nc");
    let eigenvalues = floats(&full["hessian_eigenvalues"]);
    assert_eq!(eigenvalues.len(), 40);
    assert!(
        eigenvalues.windows(2).all(|w| w[0] >= w[1]),
        "{eigenvalues:?}"
    );
    assert!(
        eigenvalues.iter().all(|&l| l >= 1.0 - 1e-10),
        "A_v = I + PSD"
    );
    assert_eq!(full["posterior_complete"], true);
    // DFS = Σ (1 − 1/λ) over the complete spectrum, between 0 and the observation count.
    let dfs = full["dfs"].as_f64().unwrap();
    let from_eigenvalues: f64 = eigenvalues.iter().map(|l| 1.0 - 1.0 / l).sum();
    assert!(
        (dfs - from_eigenvalues).abs() < 1e-10 * dfs,
        "{dfs} vs {from_eigenvalues}"
    );
    assert!(dfs > 1.0 && dfs < 40.0, "{dfs}");
    println!(
        "demo: DFS {dfs:.3} of 200 observations, λ_max {:.4e}",
        eigenvalues[0]
    );

    // The file holds the same eigenvalues, and standard deviations that the observations
    // shrank below the background's at every site.
    assert_eq!(
        variable(dir.path(), "full.nc", "hessian_eigenvalue"),
        eigenvalues
    );
    let analysis_std = variable(dir.path(), "full.nc", "analysis_std");
    let background_std = variable(dir.path(), "full.nc", "background_std");
    assert_eq!(analysis_std.len(), 40);
    for (a, b) in analysis_std.iter().zip(&background_std) {
        assert!(*a > 0.0 && a < b, "analysis std {a}, background {b}");
    }
    let mean = analysis_std.iter().sum::<f64>() / 40.0;
    assert!((mean - full["mean_analysis_std"].as_f64().unwrap()).abs() < 1e-12);
    let file = netcdf::open(dir.path().join("full.nc")).unwrap();
    let attribute: f64 = file
        .attribute("dfs")
        .unwrap()
        .value()
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(attribute, dfs);

    // Five modes: the leading five eigenvalues, a smaller DFS and larger standard deviations
    // (the low-rank update of B leaves out positive terms).
    let low = twin_with_posterior(dir.path(), "5", "low.nc");
    assert_eq!(low["posterior_complete"], false);
    assert_eq!(low["posterior_converged"], true);
    let leading = floats(&low["hessian_eigenvalues"]);
    assert_eq!(leading.len(), 5);
    for (a, b) in leading.iter().zip(&eigenvalues) {
        assert!((a - b).abs() < 1e-8 * b, "{a} vs {b}");
    }
    assert!(low["dfs"].as_f64().unwrap() < dfs);
    let low_std = variable(dir.path(), "low.nc", "analysis_std");
    for ((l, a), b) in low_std.iter().zip(&analysis_std).zip(&background_std) {
        assert!(l >= &(a - 1e-12) && l <= &(b + 1e-12), "{l} vs {a}..{b}");
    }

    // Without --posterior: none of it.
    let o = succeeded_in(
        dir.path(),
        &[
            "twin",
            "--model",
            &repo("models/lorenz96.toml"),
            "--network",
            &repo("observations/lorenz96_half_every_other_step.toml"),
            "--out",
            "none.nc",
            "--json",
            "-q",
        ],
    );
    let none: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(none.get("dfs").is_none() && none.get("hessian_eigenvalues").is_none());
    let file = netcdf::open(dir.path().join("none.nc")).unwrap();
    assert!(file.variable("analysis_std").is_none() && file.dimension("mode").is_none());
}

#[test]
fn posterior_settings_it_cannot_honour_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let model = repo("models/lorenz96.toml");
    let network = repo("observations/lorenz96_half_every_other_step.toml");
    let refused = |args: &[&str], needles: &[&str]| {
        let o = fourdvar_in(dir.path(), args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        for n in needles {
            assert!(err.contains(n), "{args:?}: '{n}' missing from {err}");
        }
        assert!(!err.contains("panicked"), "{err}");
        assert!(!dir.path().join("refused.nc").exists());
    };
    let twin = |extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = [
            "twin",
            "--model",
            &model,
            "--network",
            &network,
            "--out",
            "refused.nc",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let run = |extra: &[&str], needles: &[&str]| {
        let args = twin(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(&args, needles);
    };
    run(&["--posterior", "0"], &["--posterior"]);
    run(
        &["--posterior", "5", "--estimate-params", "1"],
        &["--posterior", "parameter"],
    );
    // More modes than fit in time on the shallow-water state: refused before any work.
    refused(
        &[
            "twin",
            "--config",
            &repo("experiments/shallow_water_twin.toml"),
            "--posterior",
            "137",
            "--out",
            "refused.nc",
        ],
        &["--posterior", "at most 136 modes"],
    );
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "[posterior]\nmodes = 0\n").unwrap();
    run(
        &["--config", config.to_str().unwrap()],
        &["bad.toml", "posterior.modes", "at least 1"],
    );
    refused(
        &[
            "cycle",
            "--config",
            &repo("experiments/lorenz96_cycle.toml"),
            "--posterior",
            "3",
            "--out",
            "refused.nc",
        ],
        &["--posterior", "one window"],
    );
}
