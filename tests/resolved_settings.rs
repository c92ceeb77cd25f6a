//! The settings a run used are visible and recorded: `fourdvar config` prints them as TOML
//! that `--config` reads back, every result file holds them (`resolved_settings`) and every
//! `--json` summary has them under `settings`.

use std::path::Path;
use std::process::Output;

mod cli_run;
use cli_run::{fourdvar_in as fourdvar, succeeded_in as ok};

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap()
}

fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(path)
        .to_string_lossy()
        .into_owned()
}

/// The flags that change the experiment file's settings in these tests.
const FLAGS: [&str; 10] = [
    "--b-sigma",
    "0.7",
    "--max-iterations",
    "30",
    "--windows",
    "3",
    "--burn-in",
    "1",
    "--seed",
    "11",
];

#[test]
fn config_prints_settings_that_run_the_same_experiment_when_fed_back() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let experiment = repo("experiments/lorenz96_cycle.toml");
    let printed = ok(
        d,
        &[&["config", "--config", &experiment][..], &FLAGS].concat(),
    );
    let toml = String::from_utf8(printed.stdout).unwrap();
    for line in [
        "sigma = 0.7",
        "max_iterations = 30",
        "windows = 3",
        "burn_in = 1",
        "background_seed = 11",
        "observation_seed = 12",
        // From the file, not the flags; and a default the file does not set.
        "steps = 4",
        "correlation = \"none\"",
        "relative_cost_tolerance = ",
        "reference_date = \"2000-01-01T00:00:00\"",
    ] {
        assert!(toml.contains(line), "{line:?} missing from:\n{toml}");
    }
    // The model and network paths are absolute: the file works from another directory.
    let model_line = toml.lines().find(|l| l.starts_with("model = ")).unwrap();
    assert!(model_line.starts_with("model = \"/"), "{model_line}");
    std::fs::create_dir(d.join("elsewhere")).unwrap();
    std::fs::write(d.join("elsewhere/mine.toml"), &toml).unwrap();

    // The run from the printed file and the run from file + flags are the same run.
    let from_flags = json(&ok(
        d,
        &[
            &["cycle", "--config", &experiment][..],
            &FLAGS,
            &["--out", "a.nc", "--json"],
        ]
        .concat(),
    ));
    let from_printed = json(&ok(
        d,
        &[
            "cycle",
            "--config",
            "elsewhere/mine.toml",
            "--out",
            "b.nc",
            "--json",
        ],
    ));
    assert_eq!(from_flags["settings"], from_printed["settings"]);
    assert_eq!(from_flags["settings"]["background"]["sigma"], 0.7);
    assert_eq!(from_flags["settings"]["cycle"]["windows"], 3);
    for key in ["rmse_background", "rmse_analysis", "rmse_free_run"] {
        assert!(from_flags[key].as_f64().is_some(), "{key}: {from_flags}");
        assert_eq!(from_flags[key], from_printed[key], "{key}");
    }

    // The output file records the same settings.
    let file = netcdf::open(d.join("a.nc")).unwrap();
    let recorded = match file
        .attribute("resolved_settings")
        .unwrap()
        .value()
        .unwrap()
    {
        netcdf::AttributeValue::Str(s) => s,
        other => panic!("{other:?}"),
    };
    let body = |text: &str| -> String { text.lines().skip(1).collect::<Vec<_>>().join("\n") };
    assert_eq!(body(&recorded), body(&toml));
}

#[test]
fn twin_and_assimilate_record_their_settings_and_config_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = repo("models/lorenz96.toml");
    let network = repo("observations/lorenz96_half_every_other_step.toml");
    let summary = json(&ok(
        d,
        &[
            "twin",
            "--model",
            &model,
            "--network",
            &network,
            "--b-length-scale",
            "1.5",
            "--out",
            "t.nc",
            "--json",
        ],
    ));
    let settings = &summary["settings"];
    assert_eq!(settings["background"]["length_scale"], 1.5);
    assert_eq!(settings["minimizer"]["method"], "lbfgs");
    assert!(settings["model"]
        .as_str()
        .unwrap()
        .ends_with("lorenz96.toml"));
    let file = netcdf::open(d.join("t.nc")).unwrap();
    match file
        .attribute("resolved_settings")
        .unwrap()
        .value()
        .unwrap()
    {
        netcdf::AttributeValue::Str(s) => {
            assert!(s.contains("length_scale = 1.5"), "{s}");
            assert!(s.contains("resolved from the defaults and the command line"));
        }
        other => panic!("{other:?}"),
    }

    // assimilate: the model it was given and the forecast length it was told.
    let xb: String = (0..40)
        .map(|i| format!("{}\n", 8.0 + 0.1 * i as f64))
        .collect();
    std::fs::write(d.join("xb.txt"), xb).unwrap();
    let summary = json(&ok(
        d,
        &[
            "assimilate",
            "--model",
            &model,
            "--background",
            "xb.txt",
            "--obs",
            &repo("observations/sample_lorenz96.csv"),
            "--forecast-steps",
            "5",
            "--out",
            "a.nc",
            "--json",
        ],
    ));
    let settings = &summary["settings"];
    assert_eq!(settings["window"]["forecast_steps"], 5);
    assert_eq!(settings["model"].as_str().unwrap(), model);
    assert!(settings["network"].is_null());

    // Bad input to `config` is refused as for a run: exit 2 naming the flag, key or file.
    for (args, needle) in [
        (vec!["config", "--b-sigma=-1"], "--b-sigma"),
        (vec!["config", "--model", "missing.toml"], "missing.toml"),
        (
            vec!["config", "--reference-date", "2001-02-29"],
            "days 01 to 28",
        ),
    ] {
        let o = fourdvar(d, &args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(o.stdout.is_empty(), "{args:?}");
    }
}
