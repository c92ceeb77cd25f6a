//! Every numeric option and configuration key, given hostile values (0, 1, −1, NaN, ±inf,
//! 1e308, 1e-300, 2^53, u64::MAX, empty, a 20 MB token): the run ends with exit code 0 (where
//! the value is legal), 1 or 2, never a panic or an abort, with a short message (stderr under
//! 4 KB) and within a time bound (no silent hang).

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The hostile values, as text; the long token is 20 MB in files and 100 kB on the command
/// line (Linux refuses a single argument over 128 kB).
fn hostile(long: usize) -> Vec<String> {
    let mut v: Vec<String> = [
        "0",
        "1",
        "-1",
        "NaN",
        "inf",
        "-inf",
        "1e308",
        "1e-300",
        "9007199254740992",
        "18446744073709551615",
        "",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push("9".repeat(long));
    v
}

/// What a run did.
struct Outcome {
    code: Option<i32>,
    stderr: String,
}

/// Runs `fourdvar args…` in `dir`, killed after `limit`.
fn run(dir: &Path, args: &[String], limit: Duration) -> Outcome {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fourdvar"))
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stderr.read_to_end(&mut text);
        text
    });
    let start = Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{}: still running after {limit:?}", shown(args));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let text = reader.join().unwrap();
    Outcome {
        code,
        stderr: String::from_utf8_lossy(&text).into_owned(),
    }
}

/// The command line for messages, long tokens shortened.
fn shown(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            if a.len() > 40 {
                format!("{}…({} bytes)", &a[..20], a.len())
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Asserts the outcome of a hostile run.
fn assert_sane(args: &[String], o: &Outcome) {
    let what = shown(args);
    assert!(
        matches!(o.code, Some(0) | Some(1) | Some(2)),
        "{what}: exit {:?}: {}",
        o.code,
        &o.stderr[..o.stderr.len().min(2000)]
    );
    assert!(!o.stderr.contains("panicked"), "{what}: {}", o.stderr);
    assert!(
        o.stderr.len() < 4096,
        "{what}: {} bytes of stderr",
        o.stderr.len()
    );
}

/// Owned copies of `args`.
fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

fn repo(p: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(p)
        .to_str()
        .unwrap()
        .to_string()
}

#[test]
fn every_numeric_option_survives_hostile_values() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (l96, cycle) = (
        repo("models/lorenz96.toml"),
        repo("experiments/lorenz96_cycle.toml"),
    );
    // Inputs for the commands that need them.
    let background = d.join("xb.txt");
    std::fs::write(&background, "1\n".repeat(40)).unwrap();
    let obs = d.join("obs.csv");
    std::fs::write(
        &obs,
        "time,position,value,sigma\n0.1,3,1.5,1\n0.2,7,0.5,1\n",
    )
    .unwrap();
    let seq = d.join("seq.csv");
    std::fs::write(&seq, "t,u0,y0\n0,1,0.5\n1,0,0.2\n2,1,0.1\n").unwrap();
    let net = d.join("net.json");
    std::fs::write(
        &net,
        r#"{"hidden": 1, "inputs": 1, "outputs": 1, "recurrence": "dense", "w": [[0.5]],
            "u": [[1.0]], "b": [0.0], "v": [[1.0]], "c": [0.0]}"#,
    )
    .unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let (xb, obs, seq, net) = (s(&background), s(&obs), s(&seq), s(&net));
    // Each command, a value for its other required options, and its numeric options.
    let commands: Vec<(Vec<String>, Vec<&str>)> = vec![
        (
            strings(&["forecast", "--model", &l96, "--out", "f.nc", "--steps", "3"]),
            vec!["--steps", "--spinup", "--output-every"],
        ),
        (
            strings(&[
                "assimilate",
                "--model",
                &l96,
                "--background",
                &xb,
                "--obs",
                &obs,
                "--out",
                "a.nc",
                "--max-iterations",
                "5",
            ]),
            vec![
                "--window-steps",
                "--b-sigma",
                "--b-length-scale",
                "--max-iterations",
                "--gradient-tolerance",
                "--forecast-steps",
                "--estimate-params",
            ],
        ),
        (
            strings(&[
                "cycle",
                "--config",
                &cycle,
                "--out",
                "c.nc",
                "--windows",
                "3",
                "--burn-in",
                "1",
                "--max-iterations",
                "5",
            ]),
            vec!["--windows", "--shift", "--burn-in", "--window-steps"],
        ),
        (
            strings(&["check", "--model", &l96, "--spinup", "10", "--window", "3"]),
            vec!["--spinup", "--window", "--seed"],
        ),
        (
            strings(&[
                "rnn", "train", "--task", "alarm", "--epochs", "2", "--out", "n.json",
            ]),
            vec![
                "--hidden",
                "--rank",
                "--tbptt",
                "--clip",
                "--learning-rate",
                "--seed",
                "--epochs",
            ],
        ),
        (
            strings(&[
                "rnn",
                "reservoir",
                "--data",
                &seq,
                "--hidden",
                "4",
                "--out",
                "r.json",
            ]),
            vec!["--hidden", "--spectral-radius", "--ridge", "--seed"],
        ),
        (
            strings(&["rnn", "sensitivity", "--net", &net, "--data", &seq]),
            vec!["--epsilon", "--top"],
        ),
        (
            strings(&[
                "bench",
                "lorenz96",
                "--sizes",
                "8",
                "--window",
                "2",
                "--min-time",
                "0.001",
            ]),
            vec!["--min-time"],
        ),
    ];
    let mut runs = 0;
    for (base, options) in &commands {
        for option in options {
            for value in hostile(100_000) {
                // Long-running but legal: a count of iterations or epochs is bounded only
                // by the user's patience (training shows its progress and stops on Ctrl-C).
                let huge = value.len() > 15 && value.bytes().all(|b| b.is_ascii_digit());
                if (*option == "--epochs" || *option == "--max-iterations")
                    && (huge || value.starts_with("1e") || value == "9007199254740992")
                {
                    continue;
                }
                // The option's last occurrence wins with clap's default: give it once.
                let mut args: Vec<String> = Vec::new();
                let mut skip = false;
                for a in base {
                    if skip {
                        skip = false;
                        continue;
                    }
                    if a == option {
                        skip = true;
                        continue;
                    }
                    args.push(a.clone());
                }
                args.push(format!("{option}={value}"));
                let o = run(d, &args, Duration::from_secs(60));
                assert_sane(&args, &o);
                runs += 1;
            }
        }
    }
    assert!(runs > 300, "{runs} runs");
}

#[test]
fn every_model_configuration_key_survives_hostile_values() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let models: [(&str, &[&str]); 3] = [
        ("lorenz96", &["n", "forcing", "dt"]),
        ("lorenz63", &["sigma", "rho", "beta", "dt"]),
        (
            "shallow_water",
            &[
                "nx",
                "ny",
                "dx",
                "dy",
                "depth",
                "g",
                "f",
                "viscosity",
                "dt",
                "amplitude",
                "width",
            ],
        ),
    ];
    let toml_value = |v: &str| -> String {
        match v {
            "NaN" => "nan".into(),
            "" => "\"\"".into(),
            other => other.into(),
        }
    };
    for (model, keys) in models {
        let text = std::fs::read_to_string(repo(&format!("models/{model}.toml"))).unwrap();
        for key in keys {
            for value in hostile(20 << 20) {
                // Replace the key's line (or add the key) with the hostile value.
                let mut found = false;
                let lines: Vec<String> = text
                    .lines()
                    .map(|l| {
                        let name = l.split('=').next().unwrap_or("").trim();
                        if name == *key {
                            found = true;
                            format!("{key} = {}", toml_value(&value))
                        } else {
                            l.to_string()
                        }
                    })
                    .collect();
                let mut body = lines.join("\n");
                if !found {
                    body = format!("{key} = {}\n{body}", toml_value(&value));
                }
                let path = d.join("m.toml");
                std::fs::write(&path, body).unwrap();
                let args = strings(&[
                    "check",
                    "--model",
                    path.to_str().unwrap(),
                    "--spinup",
                    "5",
                    "--window",
                    "2",
                ]);
                let o = run(d, &args, Duration::from_secs(60));
                assert_sane(&args, &o);
                if o.code == Some(2) {
                    assert!(
                        o.stderr.contains("m.toml"),
                        "{model} {key} = {}: {}",
                        &value[..value.len().min(30)],
                        o.stderr
                    );
                }
            }
        }
    }
}

/// Each refusal names the key or option the user wrote, not a neighbour.
#[test]
fn messages_name_the_key_or_option_at_fault() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("xb.txt"), "1\n".repeat(40)).unwrap();
    std::fs::write(
        d.join("obs.csv"),
        "time,position,value,sigma\n0.1,3,1.5,1\n",
    )
    .unwrap();
    std::fs::write(
        d.join("e.toml"),
        "[minimizer]\nrelative_cost_tolerance = nan\n",
    )
    .unwrap();
    std::fs::write(
        d.join("net.toml"),
        "[[group]]\npositions = { every = 2, offset = 0 }\nevery_steps = 2\nsigma = 1\n\
         [[group]]\npositions = { every = 3, offset = 0 }\nevery_steps = 2\nsigma = nan\n",
    )
    .unwrap();
    let l96 = repo("models/lorenz96.toml");
    let assimilate = |extra: &[&str]| -> Vec<String> {
        let mut a = strings(&[
            "assimilate",
            "--model",
            &l96,
            "--background",
            "xb.txt",
            "--obs",
            "obs.csv",
            "--out",
            "a.nc",
        ]);
        a.extend(strings(extra));
        a
    };
    let cases: Vec<(Vec<String>, Vec<&str>)> = vec![
        (
            assimilate(&["--config", "e.toml"]),
            vec!["e.toml", "`minimizer.relative_cost_tolerance`"],
        ),
        (
            assimilate(&["--estimate-params", "1", "--param-background", "NaN"]),
            vec!["--param-background", "not a finite"],
        ),
        (
            assimilate(&["--b-correlation", "gaussian", "--b-length-scale", "1e-300"]),
            vec!["--b-length-scale", ">= 1e-100"],
        ),
        (
            strings(&[
                "forecast", "--model", &l96, "--steps", "20", "--out", "truth.nc",
            ]),
            vec![],
        ),
        (
            strings(&[
                "observe",
                "--truth",
                "truth.nc",
                "--network",
                "net.toml",
                "--out",
                "o.csv",
            ]),
            vec!["net.toml", "line 8", "`sigma`", "[[group]] 2"],
        ),
    ];
    for (args, needles) in cases {
        let o = run(d, &args, Duration::from_secs(60));
        assert_sane(&args, &o);
        if needles.is_empty() {
            assert_eq!(o.code, Some(0), "{}", o.stderr);
            continue;
        }
        assert_eq!(o.code, Some(2), "{}: {}", shown(&args), o.stderr);
        for n in needles {
            assert!(o.stderr.contains(n), "'{n}' missing from: {}", o.stderr);
        }
        assert!(!o.stderr.contains("gradient_tolerance"), "{}", o.stderr);
    }
}

/// Every numeric key of an experiment file, given the hostile values, in `twin` and `cycle`.
#[test]
fn every_experiment_key_survives_hostile_values() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = repo("models/lorenz96.toml");
    let network = repo("observations/lorenz96_half_every_other_step.toml");
    // The base experiment: small and fast, each key in its table.
    let base: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("window", vec![("steps", "4"), ("shift", "4")]),
        (
            "background",
            vec![
                ("sigma", "0.3"),
                ("length_scale", "2.0"),
                ("climatology_scale", "1.0"),
            ],
        ),
        (
            "minimizer",
            vec![
                ("max_iterations", "20"),
                ("gradient_tolerance", "1e-5"),
                ("relative_cost_tolerance", "1e-12"),
            ],
        ),
        (
            "twin",
            vec![
                ("spinup", "100"),
                ("background_seed", "1"),
                ("observation_seed", "2"),
            ],
        ),
        ("cycle", vec![("windows", "3"), ("burn_in", "1")]),
    ];
    let toml_value = |v: &str| -> String {
        match v {
            "NaN" => "nan".into(),
            "" => "\"\"".into(),
            other => other.into(),
        }
    };
    let mut runs = 0;
    for (table, keys) in &base {
        for (key, _) in keys {
            for value in hostile(20 << 20) {
                let mut text = format!("model = {model:?}\nnetwork = {network:?}\n");
                for (t, ks) in &base {
                    text.push_str(&format!("[{t}]\n"));
                    for (k, v) in ks {
                        let v = if t == table && k == key {
                            toml_value(&value)
                        } else {
                            v.to_string()
                        };
                        text.push_str(&format!("{k} = {v}\n"));
                    }
                }
                std::fs::write(d.join("e.toml"), text).unwrap();
                for command in ["twin", "cycle"] {
                    let args = strings(&[command, "--config", "e.toml", "--out", "out.nc"]);
                    let o = run(d, &args, Duration::from_secs(60));
                    assert_sane(&args, &o);
                    if o.code == Some(2) && !o.stderr.contains("e.toml") {
                        // Refused later than the file check: the message must still say why.
                        assert!(o.stderr.len() > 20, "{table}.{key}: {}", o.stderr);
                    }
                    runs += 1;
                }
            }
        }
    }
    assert_eq!(runs, 13 * 12 * 2);
}

/// Every numeric key of an observation-network file, given the hostile values, in `observe`
/// (on a line of points and on the shallow-water plane): a refusal names the network file
/// and the key at fault (or, for a schedule that finds no record of the truth, says so).
#[test]
fn every_network_key_survives_hostile_values() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (model, truth) in [
        ("models/lorenz96.toml", "line.nc"),
        ("models/shallow_water.toml", "plane.nc"),
    ] {
        let args = strings(&[
            "forecast",
            "--model",
            &repo(model),
            "--spinup",
            "0",
            "--steps",
            "4",
            "--out",
            truth,
        ]);
        let o = run(d, &args, Duration::from_secs(60));
        assert_eq!(o.code, Some(0), "{}", o.stderr);
    }
    // (truth, the group with KEY = VALUE where the hostile value goes, the key's name).
    let cases: [(&str, &str, &str); 8] = [
        ("line.nc", "every_steps = VALUE\nsigma = 1.0", "every_steps"),
        ("line.nc", "every_steps = 2\nsigma = VALUE", "sigma"),
        (
            "line.nc",
            "every_steps = 2\nsigma = 1.0\npositions = { every = VALUE }",
            "positions",
        ),
        (
            "line.nc",
            "every_steps = 2\nsigma = 1.0\npositions = { every = 2, offset = VALUE }",
            "positions",
        ),
        (
            "line.nc",
            "every_steps = 2\nsigma = 1.0\nsubset = { count = VALUE, seed = 1 }",
            "subset",
        ),
        (
            "line.nc",
            "every_steps = 2\nsigma = 1.0\nsubset = { count = 3, seed = VALUE }",
            "subset",
        ),
        (
            "plane.nc",
            "variable = \"h\"\nevery_steps = 2\nsigma = 0.1\nstations = { count = VALUE, seed = 1 }",
            "stations",
        ),
        (
            "plane.nc",
            "variable = \"h\"\nevery_steps = 2\nsigma = 0.1\nstations = { count = 3, seed = VALUE }",
            "stations",
        ),
    ];
    let mut refused = 0;
    for (truth, group, key) in cases {
        for value in hostile(20 << 20) {
            let value = match value.as_str() {
                "NaN" => "nan".to_string(),
                "" => "\"\"".to_string(),
                _ => value,
            };
            let text = format!("[[group]]\n{}\n", group.replace("VALUE", &value));
            std::fs::write(d.join("n.toml"), text).unwrap();
            let args = strings(&[
                "observe",
                "--truth",
                truth,
                "--network",
                "n.toml",
                "--out",
                "obs.csv",
            ]);
            let o = run(d, &args, Duration::from_secs(60));
            assert_sane(&args, &o);
            if o.code != Some(0) {
                refused += 1;
                let head = &value[..value.len().min(20)];
                // A 20 MB file is refused by its size, and a value the file check lets through
                // (a legal but far-off schedule) by the run; both messages name the network.
                let named = o.stderr.contains(key)
                    || o.stderr.contains("no observations")
                    || o.stderr.contains("bytes any observation network");
                assert!(
                    o.stderr.contains("n.toml") && named,
                    "{key} = {head}: {}",
                    o.stderr
                );
            }
        }
    }
    // Most hostile values are illegal for every key (at least NaN, inf, -inf, -1, 1e308,
    // the empty string and the long token).
    assert!(refused >= 8 * 7, "only {refused} refusals");
}
