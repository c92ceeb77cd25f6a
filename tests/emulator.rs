//! The learned Lorenz-96 emulator end to end: `emulator train` learns from the true model
//! (loss and skill), the file reads back bit for bit and as `--model` (JSON directly, or a TOML
//! naming it), 4D-Var runs with it on observations of the true model, and bad files and
//! flags are refused with the file, field or flag named.

use std::path::{Path, PathBuf};

use fourdvar::core::stage_costs::QuadraticMisfit;
use fourdvar::core::vector::norm;
use fourdvar::core::{integrate, value_and_gradient, Storage};
use fourdvar::io::emulator_file::{parse_emulator, save_emulator};
use fourdvar::io::model_config::ModelConfig;
use fourdvar::models::continuous_adjoint::continuous_gradient;
use fourdvar::models::AnyModel;
use fourdvar::models::ModelInfo;

mod cli_run;
use cli_run::{fourdvar_in, stderr, stdout, succeeded_in};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fourdvar-emulator-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(path)
        .to_string_lossy()
        .into_owned()
}

/// The number after `label` in `text`.
fn number_after(text: &str, label: &str) -> f64 {
    let rest = text
        .split(label)
        .nth(1)
        .unwrap_or_else(|| panic!("{label}: {text}"));
    let token = rest.split_whitespace().next().unwrap();
    token.trim_end_matches(',').parse().unwrap()
}

/// Trains a small emulator (8 s on two cores) into `dir/emulator.json`; returns the summary.
fn train_small(dir: &Path) -> String {
    let model = repo("models/lorenz96.toml");
    let o = succeeded_in(
        dir,
        &[
            "emulator",
            "train",
            "--model",
            &model,
            "--steps",
            "600",
            "--rollout",
            "4",
            "--hidden",
            "12",
            "--iterations",
            "120",
            "--out",
            "emulator.json",
        ],
    );
    stdout(&o)
}

#[test]
fn a_trained_emulator_forecasts_and_assimilates_observations_of_the_true_model() {
    let dir = scratch("train");
    let text = train_small(&dir);
    // The rollout loss falls by two orders of magnitude from the identity map x' = x.
    let (first, last) = (number_after(&text, "loss "), number_after(&text, "-> "));
    assert!(last < first / 100.0, "{text}");
    // Forecast skill against the true model: far better than climatology at one step, and a
    // valid time of at least 0.5 time units (about 2.5 days in Lorenz's scaling).
    let one_step = number_after(&text, "(0.05 time units): ");
    assert!(one_step < 0.1, "{text}");
    let valid = number_after(&text, "valid time (RMSE reaches 1): ");
    assert!(valid >= 0.5, "{text}");

    // The file is a model configuration.
    let config = ModelConfig::load(&dir.join("emulator.json")).unwrap();
    let AnyModel::Lorenz96Emulator(model) = &config.model else {
        panic!("not an emulator: {:?}", config.model);
    };
    assert_eq!(model.field.n, 40);
    // And it writes back bit for bit.
    let again = dir.join("again.json");
    save_emulator(&again, model, serde_json::Value::Null).unwrap();
    let back = parse_emulator(&again, &std::fs::read_to_string(&again).unwrap(), None).unwrap();
    assert_eq!(back.field, model.field);
    assert_eq!(back.dt.to_bits(), model.dt.to_bits());

    // The continuous adjoint on the learned (chaotic) dynamics: close to the discrete
    // gradient over a quarter of a time unit, wrong over five, as on the true Lorenz-96.
    let start = integrate(model, &model.default_initial_state(), 400, |_, _| {}).unwrap();
    let gaps: Vec<f64> = [5, 100]
        .iter()
        .map(|&steps| {
            let mut targets = vec![0.0; (steps + 1) * 40];
            targets[steps * 40..].iter_mut().for_each(|t| *t = 1.0);
            let mut active = vec![false; steps + 1];
            active[steps] = true;
            let cost = QuadraticMisfit::new(40, 1.0, targets, active);
            let exact = value_and_gradient(model, &start, steps, &cost, Storage::All).unwrap();
            match continuous_gradient(model, &start, steps, &cost) {
                Ok(c) => {
                    let diff: Vec<f64> = (c.state_gradient.iter().zip(&exact.state_gradient))
                        .map(|(a, b)| a - b)
                        .collect();
                    norm(&diff) / norm(&exact.state_gradient)
                }
                Err(_) => f64::INFINITY,
            }
        })
        .collect();
    println!("continuous vs discrete gradient on the emulator, 0.25 and 5 time units: {gaps:?}");
    assert!(gaps[0] < 0.05 && gaps[1] > 0.5, "{gaps:?}");

    // 4D-Var with the emulator on observations of the true model.
    let (truth_model, network) = (
        repo("models/lorenz96.toml"),
        repo("observations/lorenz96_half_every_other_step.toml"),
    );
    let run = |args: &[&str]| succeeded_in(&dir, args);
    run(&[
        "forecast",
        "--model",
        &truth_model,
        "--steps",
        "20",
        "--out",
        "truth.nc",
    ]);
    run(&[
        "observe",
        "--truth",
        "truth.nc",
        "--network",
        &network,
        "--seed",
        "1",
        "--out",
        "obs.csv",
    ]);
    run(&[
        "forecast",
        "--model",
        &truth_model,
        "--spinup",
        "1001",
        "--steps",
        "0",
        "--out",
        "xb.nc",
    ]);
    let rmse = |model: &str, out: &str| {
        let o = run(&[
            "assimilate",
            "--model",
            model,
            "--background",
            "xb.nc",
            "--obs",
            "obs.csv",
            "--truth",
            "truth.nc",
            "--window-steps",
            "20",
            "--b-sigma",
            "1",
            "--b-correlation",
            "gaussian",
            "--b-length-scale",
            "2",
            "--out",
            out,
        ]);
        let text = stdout(&o);
        (
            number_after(&text, "background "),
            number_after(&text, "analysis "),
        )
    };
    let (background, analysis) = rmse("emulator.json", "with_emulator.nc");
    let (_, true_model_analysis) = rmse(&truth_model, "with_truth.nc");
    println!(
        "RMSE over the window: background (emulator) {background:.4}, analysis with the \
         emulator {analysis:.4}, with the true model {true_model_analysis:.4}"
    );
    assert!(analysis < 0.7 * background, "{analysis} vs {background}");
    assert!(analysis < 2.0 * true_model_analysis);

    // `check` verifies the emulator's TL and AD like any model's.
    let o = run(&["check", "--model", "emulator.json"]);
    assert!(stdout(&o).contains("10 passed, 0 failed"), "{}", stdout(&o));

    // A TOML model file naming the emulator, run on another ring size (the network is local).
    std::fs::write(
        dir.join("emulator60.toml"),
        "model = \"lorenz96_emulator\"\nnetwork = \"emulator.json\"\nn = 60\n",
    )
    .unwrap();
    let config = ModelConfig::load(&dir.join("emulator60.toml")).unwrap();
    let AnyModel::Lorenz96Emulator(wide) = &config.model else {
        panic!("not an emulator");
    };
    assert_eq!(wide.field.n, 60);
    assert_eq!(wide.field.net, model.field.net);
}

#[test]
fn bad_emulator_files_and_flags_are_refused() {
    let dir = scratch("refused");
    let good = r#"{"model": "lorenz96_emulator", "n": 8, "dt": 0.05, "radius": 1, "hidden": 2,
      "mean": 2.0, "scale": 3.0, "w1": [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], "b1": [0.0, 0.1],
      "w2": [1.0, -1.0], "b2": 0.5}"#;
    assert!(parse_emulator(Path::new("good.json"), good, None).is_ok());
    let cases = [
        (
            good.replace("lorenz96_emulator", "lorenz96"),
            "field `model`",
        ),
        (good.replace("\"n\": 8", "\"n\": 2"), "field `n` is 2"),
        (good.replace("\"dt\": 0.05", "\"dt\": -1"), "field `dt`"),
        (
            good.replace("[0.4, 0.5, 0.6]", "[0.4, 0.5]"),
            "field `w1` row 1",
        ),
        (good.replace("\"b2\": 0.5", "\"b2\": \"x\""), "b2"),
        (
            good.replace("\"hidden\": 2", "\"hidden\": 100000"),
            "field `hidden`",
        ),
        (good.replace("\"scale\": 3.0,", ""), "scale"),
        (
            good.replace("[0.0, 0.1]", "[0.0, \"nan\"]"),
            "field `b1` value 1",
        ),
    ];
    for (i, (text, needle)) in cases.iter().enumerate() {
        let name = format!("bad{i}.json");
        std::fs::write(dir.join(&name), text).unwrap();
        let o = fourdvar_in(
            &dir,
            &[
                "forecast", "--model", &name, "--steps", "1", "--out", "f.nc",
            ],
        );
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        assert!(
            err.contains(&name) && err.contains(needle),
            "{name}: '{needle}' in {err}"
        );
        assert!(!dir.join("f.nc").exists());
    }
    let lorenz63 = repo("models/lorenz63.toml");
    let flags: [(&[&str], &str); 4] = [
        (&["--model", &lorenz63], "model = \"lorenz96\""),
        (&["--steps", "5"], "--steps"),
        (&["--radius", "0"], "--radius"),
        (&["--rollout", "200", "--steps", "1000"], "--steps"),
    ];
    for (args, needle) in flags {
        let mut all = vec!["emulator", "train", "--out", "e.json"];
        all.extend_from_slice(args);
        let o = fourdvar_in(Path::new(env!("CARGO_MANIFEST_DIR")), &all);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: '{needle}' in {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    assert!(!Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("e.json")
        .exists());
}

#[test]
fn training_by_the_continuous_adjoint_learns_like_the_discrete_one() {
    let dir = scratch("continuous");
    let model = repo("models/lorenz96.toml");
    let losses: Vec<(f64, f64)> = ["discrete", "continuous"]
        .iter()
        .map(|adjoint| {
            let out = format!("{adjoint}.json");
            let o = succeeded_in(
                &dir,
                &[
                    "emulator",
                    "train",
                    "--model",
                    &model,
                    "--steps",
                    "300",
                    "--rollout",
                    "3",
                    "--hidden",
                    "6",
                    "--iterations",
                    "80",
                    "--adjoint",
                    adjoint,
                    "--out",
                    &out,
                ],
            );
            let text = stdout(&o);
            let file = std::fs::read_to_string(dir.join(&out)).unwrap();
            assert!(
                file.contains(&format!("\"adjoint\": \"{adjoint}\"")),
                "{file}"
            );
            (number_after(&text, "loss "), number_after(&text, "-> "))
        })
        .collect();
    // The same start; both fall by more than 10×, to within a factor 2 of each other (the
    // continuous gradient differs from the exact one by O(dt⁴), so the paths differ).
    assert_eq!(losses[0].0, losses[1].0);
    for (first, last) in &losses {
        assert!(*last < first / 10.0, "{losses:?}");
    }
    let ratio = losses[1].1 / losses[0].1;
    assert!((0.5..2.0).contains(&ratio), "{losses:?}");
}
