//! `rnn predict` (a trained network run on new inputs) and `rnn train --data --objective
//! cross-entropy`: outputs checked against a network computed by hand, the loss against `rnn
//! gradient`'s, a classifier trained from a CSV and used afterwards, and the refusals.

use std::path::{Path, PathBuf};

mod cli_run;
use cli_run::{fourdvar_in, stderr, stdout, succeeded_in};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fourdvar-rnn-predict-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

/// A one-unit network: h' = tanh(0.5 h + 2 u + 0.1), y = [1.5 h − 0.2, −h + 0.3], h0 = 0.25.
const NET: &str = r#"{"hidden": 1, "inputs": 1, "outputs": 2, "recurrence": "dense",
  "w": [[0.5]], "u": [[2.0]], "b": [0.1], "v": [[1.5], [-1.0]], "c": [-0.2, 0.3],
  "h0": [0.25]}"#;

/// The same network by hand: the hidden states h_1..h_T for inputs u.
fn hidden_states(u: &[f64]) -> Vec<f64> {
    let mut h = 0.25;
    u.iter()
        .map(|ui| {
            h = f64::tanh(0.5 * h + 2.0 * ui + 0.1);
            h
        })
        .collect()
}

fn rows(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

#[test]
fn predict_writes_the_readout_of_every_step_and_the_loss_of_the_rows_with_a_target() {
    let dir = scratch("readout");
    write(&dir, "net.json", NET);
    let u = [0.3, -0.7, 0.05, 1.1];
    // Targets in rows t = 7 and 9 only; t starts at 6.
    let targets = [Some([0.1, 0.2]), None, Some([-0.4, 0.9]), None];
    let mut csv = String::from("t,u0,y0,y1\n");
    for (i, (ui, y)) in u.iter().zip(targets).enumerate() {
        match y {
            Some([a, b]) => csv.push_str(&format!("{},{ui},{a},{b}\n", 6 + i)),
            None => csv.push_str(&format!("{},{ui},,\n", 6 + i)),
        }
    }
    write(&dir, "seq.csv", &csv);
    let o = succeeded_in(
        &dir,
        &[
            "rnn", "predict", "--net", "net.json", "--data", "seq.csv", "--out", "pred.csv",
        ],
    );
    let h = hidden_states(&u);
    let table = rows(&dir.join("pred.csv"));
    assert_eq!(table[0], ["t", "y0", "y1"]);
    assert_eq!(table.len(), 5);
    let mut loss = 0.0;
    for (i, row) in table[1..].iter().enumerate() {
        assert_eq!(row[0], (6 + i).to_string());
        let y = [1.5 * h[i] - 0.2, -h[i] + 0.3];
        for (cell, want) in row[1..].iter().zip(y) {
            let got: f64 = cell.parse().unwrap();
            assert!((got - want).abs() <= 1e-15, "row {i}: {got} vs {want}");
        }
        if let Some(t) = targets[i] {
            loss += 0.5 * ((y[0] - t[0]).powi(2) + (y[1] - t[1]).powi(2));
        }
    }
    let text = stdout(&o);
    let reported: f64 = text
        .split("loss ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    assert!((reported - loss).abs() <= 1e-6 * loss, "{text} vs {loss}");
    assert!(text.contains("over the 2 rows with a target"), "{text}");

    // The same loss as `rnn gradient` with sparse targets.
    succeeded_in(
        &dir,
        &[
            "rnn", "gradient", "--net", "net.json", "--data", "seq.csv", "--loss", "events",
            "--out", "g.json",
        ],
    );
    let g: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("g.json")).unwrap()).unwrap();
    assert!((g["loss"].as_f64().unwrap() - loss).abs() <= 1e-14);

    // Inputs only (no y columns): the same outputs, no loss.
    let only: String = std::iter::once("t,u0\n".to_string())
        .chain(
            u.iter()
                .enumerate()
                .map(|(i, ui)| format!("{},{ui}\n", 6 + i)),
        )
        .collect();
    write(&dir, "inputs.csv", &only);
    let o = succeeded_in(
        &dir,
        &[
            "rnn",
            "predict",
            "--net",
            "net.json",
            "--data",
            "inputs.csv",
            "--out",
            "p2.csv",
        ],
    );
    assert!(stdout(&o).contains("no targets"), "{}", stdout(&o));
    assert_eq!(rows(&dir.join("p2.csv")), table);
}

#[test]
fn predict_classifies_with_softmax_probabilities() {
    let dir = scratch("classes");
    write(&dir, "net.json", NET);
    let u = [0.3, -0.7, 0.05];
    write(&dir, "seq.csv", "t,u0,y0\n0,0.3,0\n1,-0.7,\n2,0.05,0\n");
    let o = succeeded_in(
        &dir,
        &[
            "rnn",
            "predict",
            "--net",
            "net.json",
            "--data",
            "seq.csv",
            "--objective",
            "cross-entropy",
            "--out",
            "pred.csv",
        ],
    );
    let h = hidden_states(&u);
    let table = rows(&dir.join("pred.csv"));
    assert_eq!(table[0], ["t", "class", "p0", "p1"]);
    let (mut loss, mut correct) = (0.0, 0);
    for (i, row) in table[1..].iter().enumerate() {
        let y = [1.5 * h[i] - 0.2, -h[i] + 0.3];
        let z = y[0].exp() + y[1].exp();
        let class = usize::from(y[1] > y[0]);
        assert_eq!(row[1], class.to_string());
        let p: Vec<f64> = row[2..].iter().map(|c| c.parse().unwrap()).collect();
        assert!((p[0] - y[0].exp() / z).abs() < 1e-15 && (p[1] - y[1].exp() / z).abs() < 1e-15);
        if i != 1 {
            loss += z.ln() - y[0];
            correct += usize::from(class == 0);
        }
    }
    let text = stdout(&o);
    assert!(
        text.contains(&format!("{loss:.6e}")),
        "{text} vs {loss:.6e}"
    );
    let accuracy = format!("accuracy {:.1}%", 50.0 * correct as f64);
    assert!(text.contains(&accuracy), "{text} vs {accuracy}");
}

/// Three classes from the sign of the sum of the last two inputs: learnable by a small
/// recurrent network, not by a memoryless one.
fn class_data(steps: usize) -> String {
    let mut state = 12345u64;
    let mut uniform = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    };
    let u: Vec<f64> = (0..steps).map(|_| uniform()).collect();
    let mut csv = String::from("t,u0,y0\n");
    for t in 0..steps {
        let s = u[t] + if t > 0 { u[t - 1] } else { 0.0 };
        let class = if s < -0.4 {
            0
        } else if s < 0.4 {
            1
        } else {
            2
        };
        csv.push_str(&format!("{t},{},{class}\n", u[t]));
    }
    csv
}

#[test]
fn a_classifier_trained_from_a_csv_is_used_by_predict() {
    let dir = scratch("train");
    write(&dir, "train.csv", &class_data(300));
    let o = succeeded_in(
        &dir,
        &[
            "rnn",
            "train",
            "--data",
            "train.csv",
            "--objective",
            "cross-entropy",
            "--hidden",
            "6",
            "--epochs",
            "80",
            "--out",
            "net.json",
        ],
    );
    let text = stdout(&o);
    let accuracy: f64 = text
        .split("training accuracy ")
        .nth(1)
        .and_then(|s| s.split('%').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(accuracy > 90.0, "{text}");
    let net: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("net.json")).unwrap()).unwrap();
    assert_eq!(net["outputs"], 3, "three classes, one output each");
    let o = succeeded_in(
        &dir,
        &[
            "rnn",
            "predict",
            "--net",
            "net.json",
            "--data",
            "train.csv",
            "--objective",
            "cross-entropy",
            "--out",
            "pred.csv",
        ],
    );
    let predicted = stdout(&o);
    assert!(
        predicted.contains(&format!("accuracy {accuracy:.1}%")),
        "{predicted} vs training accuracy {accuracy}"
    );
}

#[test]
fn bad_classes_and_mismatched_data_are_refused_with_the_line() {
    let dir = scratch("refused");
    write(&dir, "net.json", NET);
    write(&dir, "half.csv", "t,u0,y0\n0,0.1,1\n1,0.2,0.5\n");
    write(&dir, "many.csv", "t,u0,y0\n0,0.1,1\n1,0.2,3\n");
    write(&dir, "two.csv", "t,u0,y0,y1\n0,0.1,1,0\n");
    write(&dir, "zero.csv", "t,u0,y0\n0,0.1,0\n1,0.2,0\n");
    write(&dir, "wide.csv", "t,u0,u1\n0,0.1,0.2\n");
    let cases: [(&[&str], &[&str]); 6] = [
        (
            &[
                "rnn",
                "train",
                "--data",
                "half.csv",
                "--objective",
                "cross-entropy",
            ],
            &["half.csv, line 3", "y0 = 0.5 is not a class index"],
        ),
        (
            &[
                "rnn",
                "train",
                "--data",
                "many.csv",
                "--objective",
                "cross-entropy",
                "--classes",
                "3",
            ],
            &["many.csv, line 3", "0..2 (--classes 3)"],
        ),
        (
            &[
                "rnn",
                "train",
                "--data",
                "two.csv",
                "--objective",
                "cross-entropy",
            ],
            &["two.csv", "2 target columns"],
        ),
        (
            &[
                "rnn",
                "train",
                "--data",
                "zero.csv",
                "--objective",
                "cross-entropy",
            ],
            &["zero.csv", "at least two classes"],
        ),
        (
            &["rnn", "predict", "--net", "net.json", "--data", "wide.csv"],
            &["wide.csv", "2 input columns", "inputs = 1"],
        ),
        (
            &[
                "rnn",
                "predict",
                "--net",
                "net.json",
                "--data",
                "many.csv",
                "--objective",
                "cross-entropy",
            ],
            &["many.csv, line 3", "y0 = 3 is not a class index 0..1"],
        ),
    ];
    for (args, needles) in cases {
        let mut all = args.to_vec();
        all.extend(["--out", "out.file"]);
        let o = fourdvar_in(&dir, &all);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        for n in needles {
            assert!(err.contains(n), "{args:?}: '{n}' missing from {err}");
        }
        assert!(!dir.join("out.file").exists(), "{args:?} left an output");
    }
}
