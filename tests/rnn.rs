//! RNN mode on the adjoint core: Taylor and dot-product tests of the Elman cell (all three
//! recurrences, with respect to h, θ and the inputs), gradient tests of BPTT through
//! `value_and_gradient` for every parameter group and loss, the network JSON / data CSV files
//! and their errors, and the `rnn gradient` command.

use std::path::{Path, PathBuf};
use std::process::Command;

use fourdvar::core::stage_costs::LinearFunctional;
use fourdvar::core::sweep::cost_value;
use fourdvar::core::vector::{dot, norm};
use fourdvar::core::verification::{
    dot_product_test, gradient_test, random_vector, taylor_test, GradientReport,
};
use fourdvar::core::{integrate, tangent_linear_run, value_and_gradient, Dynamics, Storage};
use fourdvar::experiment::rnn_gradient::{build_problem, LossMode};
use fourdvar::io::rnn_files::{
    parse_json, parse_network, parse_sequence_data, read_network, read_sequence_data, save_network,
    write_sequence_data, SequenceData,
};
use fourdvar::rnn::{
    sequence_gradient, CellKind, CellShape, ElmanCell, LossFunction, Network, Recurrence,
    RecurrentCell, SequenceLoss,
};
use fourdvar::Error;

mod common;
use common::{assert_dot, assert_taylor, InputsAsParams, Undriven};

/// Every cell the derivative tables cover: the Elman cell with each recurrence, and the GRU.
const CELLS: [(CellKind, Recurrence); 4] = [
    (CellKind::Elman, Recurrence::Dense),
    (CellKind::Elman, Recurrence::Diagonal),
    (CellKind::Elman, Recurrence::LowRank { rank: 2 }),
    (CellKind::Gru, Recurrence::Dense),
];

/// "dense", "diagonal", "low-rank" (Elman) or "gru".
fn cell_name(kind: CellKind, recurrence: Recurrence) -> String {
    match kind {
        CellKind::Elman => recurrence.name(),
        CellKind::Gru => kind.name(),
    }
}

const D: usize = 5;
const M: usize = 3;
const O: usize = 2;

/// A random network with a recurrence of spectral size about 1 (so perturbations of h_0 neither
/// vanish nor explode over 20 steps), small U and b, and a random h_0 in (−1, 1).
fn network(recurrence: Recurrence, outputs: usize, seed: u64) -> Network {
    network_of(CellKind::Elman, recurrence, outputs, seed)
}

/// [`network`] for a cell of any kind (a GRU's three gate blocks are scaled like W).
fn network_of(kind: CellKind, recurrence: Recurrence, outputs: usize, seed: u64) -> Network {
    let shape = CellShape {
        cell: kind,
        hidden: D,
        inputs: M,
        recurrence,
    };
    let mut theta = random_vector(shape.param_len(), seed);
    let rec_scale = match recurrence {
        Recurrence::Dense => 1.5 / (D as f64).sqrt(),
        Recurrence::Diagonal => 1.0,
        Recurrence::LowRank { .. } => 0.6,
    };
    for (i, t) in theta.iter_mut().enumerate() {
        if recurrence == Recurrence::Diagonal && i < D {
            // |w_i| < 0.95: no bistable sites whose switching would mask the derivative.
            *t = 0.95 * t.tanh();
            continue;
        }
        *t *= if i < shape.u_offset() {
            rec_scale
        } else if i < shape.b_offset() {
            0.3
        } else {
            0.1
        };
    }
    if let Recurrence::LowRank { rank } = recurrence {
        // Q = 0.8 P, P with columns of norm ≈ 1: W = 0.8 P Pᵀ has eigenvalues ≈ 0.8 on its
        // range: no saturation, and a perturbation of h_0 stays visible after 20 steps.
        let (p, q) = theta.split_at_mut(D * rank);
        for (qi, pi) in q.iter_mut().zip(p.iter_mut()) {
            *pi /= rec_scale * (D as f64).sqrt();
            *qi = 0.8 * *pi;
        }
    }
    let readout = random_vector(outputs * D + outputs, seed + 1)
        .into_iter()
        .map(|v| 0.5 * v)
        .collect();
    let h0 = random_vector(D, seed + 2)
        .into_iter()
        .map(|v| (0.5 * v).tanh())
        .collect();
    Network {
        shape,
        outputs,
        theta,
        readout,
        h0,
    }
}

fn sequence(steps: usize, seed: u64) -> Vec<f64> {
    random_vector(steps * M, seed)
}

#[test]
fn cell_tangent_linear_passes_taylor_test_for_h_theta_and_inputs() {
    for (r, (kind, recurrence)) in CELLS.into_iter().enumerate() {
        let seed = 100 + 10 * r as u64;
        let net = network_of(kind, recurrence, O, seed);
        for steps in [1, 20] {
            let cell = net.cell(sequence(steps, seed + 5)).unwrap();
            let name = format!("{} cell, {steps} steps", cell_name(kind, recurrence));
            let p = cell.param_len();
            let dh = random_vector(D, seed + 6);
            let dp = random_vector(p, seed + 7);
            let undriven = Undriven(cell.clone());
            let joint = taylor_test(&undriven, &net.h0, &dh, &dp, steps).unwrap();
            assert_taylor(&joint, &format!("{name}: TL (h+theta)"));
            let h_only = taylor_test(&undriven, &net.h0, &dh, &vec![0.0; p], steps).unwrap();
            assert_taylor(&h_only, &format!("{name}: TL (h)"));
            let theta_only = taylor_test(&undriven, &net.h0, &[0.0; D], &dp, steps).unwrap();
            assert_taylor(&theta_only, &format!("{name}: TL (theta)"));
            let du = random_vector(steps * M, seed + 8);
            let inputs = InputsAsParams(cell.clone());
            let u_only = taylor_test(&inputs, &net.h0, &[0.0; D], &du, steps).unwrap();
            assert_taylor(&u_only, &format!("{name}: TL (inputs)"));
        }
    }
}

#[test]
fn cell_adjoint_passes_dot_product_test_for_h_theta_and_inputs() {
    let mut worst: f64 = 0.0;
    for (r, (kind, recurrence)) in CELLS.into_iter().enumerate() {
        let seed = 200 + 10 * r as u64;
        let net = network_of(kind, recurrence, O, seed);
        for steps in [1, 20] {
            let cell = net.cell(sequence(steps, seed + 5)).unwrap();
            let name = format!("{} cell, {steps} steps", cell_name(kind, recurrence));
            let p = cell.param_len();
            let dh = random_vector(D, seed + 6);
            let dp = random_vector(p, seed + 7);
            let du = random_vector(steps * M, seed + 8);
            let dy = random_vector(D, seed + 9);
            let undriven = Undriven(cell.clone());
            let rep = dot_product_test(&undriven, &net.h0, &dh, &dp, &dy, steps).unwrap();
            assert_dot(&rep, &format!("{name}: AD (h+theta)"));
            worst = worst.max(rep.relative_error).max(rep.absolute_error);
            let inputs = InputsAsParams(cell.clone());
            let rep = dot_product_test(&inputs, &net.h0, &dh, &du, &dy, steps).unwrap();
            assert_dot(&rep, &format!("{name}: AD (h+inputs)"));
            worst = worst.max(rep.relative_error).max(rep.absolute_error);

            // All three at once on the real driven cell, directly: TL with δh, δθ and δu_k
            // against the sweep's state, parameter and input gradients.
            let tangent = tangent_linear_run(&cell, &net.h0, &dh, &dp, &du, steps).unwrap();
            let probe = LinearFunctional::new(steps, dy.clone());
            let adj = value_and_gradient(&cell, &net.h0, steps, &probe, Storage::All).unwrap();
            assert_eq!(adj.input_gradient.len(), steps * M);
            let lhs = dot(&tangent, &dy);
            let rhs = dot(&dh, &adj.state_gradient)
                + dot(&dp, &adj.param_gradient)
                + dot(&du, &adj.input_gradient);
            let diff = (lhs - rhs).abs();
            let relative = diff / lhs.abs().max(rhs.abs());
            let scale = norm(&tangent) * norm(&dy)
                + (norm(&dh).powi(2) + norm(&dp).powi(2) + norm(&du).powi(2)).sqrt()
                    * (norm(&adj.state_gradient).powi(2)
                        + norm(&adj.param_gradient).powi(2)
                        + norm(&adj.input_gradient).powi(2))
                    .sqrt();
            let absolute = diff / scale;
            println!(
                "{name}: AD (h+theta+inputs, driven cell): {lhs:.15e} vs {rhs:.15e}, relative \
                 {relative:.3e}, absolute {absolute:.3e}"
            );
            assert!(lhs.abs() > 1e-3);
            assert!(relative <= 1e-13 && absolute <= 1e-13, "{name}");
            worst = worst.max(relative).max(absolute);
        }
    }
    println!("worst dot-product error over all cells: {worst:.3e}");
}

#[test]
fn low_rank_cell_equals_dense_cell_with_w_equal_p_q_transpose() {
    let rank = 2;
    let low = network(Recurrence::LowRank { rank }, O, 7);
    let (p, q) = low.theta[..2 * D * rank].split_at(D * rank);
    let mut w = vec![0.0; D * D];
    for i in 0..D {
        for j in 0..D {
            w[i * D + j] = (0..rank).map(|l| p[i * rank + l] * q[j * rank + l]).sum();
        }
    }
    let mut dense_theta = w;
    dense_theta.extend_from_slice(&low.theta[2 * D * rank..]);
    let dense = Network {
        shape: CellShape {
            recurrence: Recurrence::Dense,
            ..low.shape
        },
        theta: dense_theta,
        ..low.clone()
    };
    let seq = sequence(15, 8);
    let end_low = integrate(&low.cell(seq.clone()).unwrap(), &low.h0, 15, |_, _| {}).unwrap();
    let end_dense = integrate(&dense.cell(seq).unwrap(), &dense.h0, 15, |_, _| {}).unwrap();
    for (a, b) in end_low.iter().zip(&end_dense) {
        assert!((a - b).abs() <= 1e-13, "{a} vs {b}");
    }
    assert!(norm(&end_low) > 0.1);
}

#[test]
fn one_step_loss_matches_hand_computation() {
    // d = m = o = 1: h1 = tanh(w h0 + u x + b), L = ½ (v h1 + c − y)².
    let (w, u, b, v, c, h0, x, y) = (0.7, -0.4, 0.1, 1.3, -0.2, 0.5, 0.9, 0.25);
    let shape = CellShape {
        cell: CellKind::Elman,
        hidden: 1,
        inputs: 1,
        recurrence: Recurrence::Dense,
    };
    let cell = RecurrentCell::Elman(ElmanCell::new(shape, vec![w, u, b], vec![x]).unwrap());
    let loss = SequenceLoss::mean_squared(1, 1, vec![v, c], vec![y], vec![true]).unwrap();
    let g = sequence_gradient(&cell, &[h0], &loss, Storage::All).unwrap();
    let a: f64 = w * h0 + u * x + b;
    let h1 = a.tanh();
    let r = v * h1 + c - y;
    assert!((g.loss - 0.5 * r * r).abs() <= 1e-15);
    let gbar = r * v * (1.0 - h1 * h1);
    let expect_theta = [gbar * h0, gbar * x, gbar];
    for (got, want) in g.theta.iter().zip(expect_theta) {
        assert!((got - want).abs() <= 1e-15, "{got} vs {want}");
    }
    assert!((g.readout[0] - r * h1).abs() <= 1e-15);
    assert!((g.readout[1] - r).abs() <= 1e-15);
    assert!((g.h0[0] - gbar * w).abs() <= 1e-15);
    assert!((g.inputs[0] - gbar * u).abs() <= 1e-15);

    // Cross-entropy, o = 2, class 1: L = log(e^{y0} + e^{y1}) − y1.
    let (v0, v1, c0, c1) = (0.8, -1.1, 0.3, 0.05);
    let ce = SequenceLoss::cross_entropy(1, 2, vec![v0, v1, c0, c1], &[Some(1)]).unwrap();
    let g = sequence_gradient(&cell, &[h0], &ce, Storage::All).unwrap();
    let (y0, y1) = (v0 * h1 + c0, v1 * h1 + c1);
    let want = (y0.exp() + y1.exp()).ln() - y1;
    assert!((g.loss - want).abs() <= 1e-15, "{} vs {want}", g.loss);
    let p1 = y1.exp() / (y0.exp() + y1.exp());
    assert!((g.readout[3] - (p1 - 1.0)).abs() <= 1e-15);
    assert!((g.readout[2] - (1.0 - p1)).abs() <= 1e-15);
}

/// The three losses of the gradient tests on a sequence of `steps` rows.
fn losses(net: &Network, steps: usize, seed: u64) -> Vec<(&'static str, SequenceLoss)> {
    let targets = random_vector(steps * O, seed);
    let events: Vec<bool> = (0..steps).map(|t| t == 4 || t == 11).collect();
    let classes: Vec<Option<usize>> = (0..steps)
        .map(|t| (t % 3 != 1).then_some((t * 7 + 1) % O))
        .collect();
    vec![
        (
            "mse dense",
            SequenceLoss::mean_squared(
                D,
                O,
                net.readout.clone(),
                targets.clone(),
                vec![true; steps],
            )
            .unwrap(),
        ),
        (
            "mse events",
            SequenceLoss::mean_squared(D, O, net.readout.clone(), targets, events).unwrap(),
        ),
        (
            "cross-entropy",
            SequenceLoss::cross_entropy(D, O, net.readout.clone(), &classes).unwrap(),
        ),
    ]
}

/// A random direction that is zero outside `range`.
fn masked_direction(len: usize, range: std::ops::Range<usize>, seed: u64) -> Vec<f64> {
    let mut d = random_vector(len, seed);
    for (i, v) in d.iter_mut().enumerate() {
        if !range.contains(&i) {
            *v = 0.0;
        }
    }
    d
}

/// The gradient test's error: the best one-sided |ratio − 1|, or, when the cost's curvature
/// is large against its slope (ratio − 1 ≈ c α with a large c, so that the best α meets the
/// rounding noise above 1e-6: the GRU's reset gate under cross-entropy, c ≈ 47), the error
/// left after removing the first-order term by Richardson extrapolation between the fixed
/// α = 1e-4 and 1e-5: |(r(1e-5) − 0.1 r(1e-4)) / 0.9 − 1|. A wrong gradient leaves an offset
/// that neither removes.
fn accuracy(rep: &GradientReport) -> f64 {
    let ratio = |alpha: f64| {
        let row = rep
            .rows
            .iter()
            .find(|r| (r.alpha / alpha - 1.0).abs() < 1e-9);
        row.expect("1e-4 and 1e-5 are step lengths").ratio
    };
    let extrapolated = ((ratio(1e-5) - 0.1 * ratio(1e-4)) / 0.9 - 1.0).abs();
    rep.best_error.min(extrapolated)
}

#[test]
fn bptt_gradient_passes_gradient_test_for_every_parameter_group() {
    let steps = 20;
    let mut worst: f64 = 0.0;
    for (r, (kind, recurrence)) in CELLS.into_iter().enumerate() {
        let seed = 300 + 10 * r as u64;
        let net = network_of(kind, recurrence, O, seed);
        let cell = net.cell(sequence(steps, seed + 3)).unwrap();
        let shape = net.shape;
        for (name, loss) in losses(&net, steps, seed + 4) {
            let g = sequence_gradient(&cell, &net.h0, &loss, Storage::All).unwrap();
            let j0 = cost_value(&cell, &net.h0, steps, &loss).unwrap();
            assert!((g.loss - j0).abs() <= 1e-12 * j0.abs(), "{name}");
            let mut groups: Vec<(String, std::ops::Range<usize>)> = match (kind, recurrence) {
                (CellKind::Gru, _) => (0..3)
                    .map(|g| (format!("W gate {g}"), g * D * D..(g + 1) * D * D))
                    .collect(),
                (_, Recurrence::LowRank { rank }) => vec![
                    ("P".into(), 0..D * rank),
                    ("Q".into(), D * rank..2 * D * rank),
                ],
                _ => vec![("W".into(), 0..shape.u_offset())],
            };
            groups.push(("U".into(), shape.u_offset()..shape.b_offset()));
            groups.push(("b".into(), shape.b_offset()..shape.param_len()));
            let mut report = |what: &str, best: f64| {
                println!(
                    "{} cell, {name}: gradient test w.r.t. {what}: best |ratio-1| = {best:.3e}",
                    cell_name(kind, recurrence)
                );
                assert!(best <= 1e-6, "{kind:?} {name} {what}: {best}");
                worst = worst.max(best);
            };
            for (i, (what, range)) in groups.into_iter().enumerate() {
                let dir = masked_direction(shape.param_len(), range, seed + 20 + i as u64);
                let mut c = cell.clone();
                let rep = gradient_test(
                    |theta| {
                        c.set_params(theta);
                        cost_value(&c, &net.h0, steps, &loss)
                    },
                    &cell.params(),
                    &g.theta,
                    &dir,
                )
                .unwrap();
                report(&what, accuracy(&rep));
            }
            let plen = O * D + O;
            for (i, (what, range)) in [("V", 0..O * D), ("c", O * D..plen)]
                .into_iter()
                .enumerate()
            {
                let dir = masked_direction(plen, range, seed + 30 + i as u64);
                let mut l = loss.clone();
                let rep = gradient_test(
                    |p| {
                        l.set_readout(p);
                        cost_value(&cell, &net.h0, steps, &l)
                    },
                    loss.readout(),
                    &g.readout,
                    &dir,
                )
                .unwrap();
                report(what, rep.best_error);
            }
            let rep = gradient_test(
                |h| cost_value(&cell, h, steps, &loss),
                &net.h0,
                &g.h0,
                &random_vector(D, seed + 40),
            )
            .unwrap();
            report("h0", rep.best_error);
            let mut c = cell.clone();
            let rep = gradient_test(
                |u| {
                    c.set_sequence(u);
                    cost_value(&c, &net.h0, steps, &loss)
                },
                cell.sequence(),
                &g.inputs,
                &random_vector(steps * M, seed + 41),
            )
            .unwrap();
            report("inputs", rep.best_error);

            // Checkpointing: the same numbers, bit for bit.
            let gc = sequence_gradient(&cell, &net.h0, &loss, Storage::Checkpoints(3)).unwrap();
            assert_eq!(gc.loss, g.loss);
            assert_eq!(gc.theta, g.theta);
            assert_eq!(gc.inputs, g.inputs);
        }
    }
    println!("worst gradient-test error: {worst:.3e}");
}

#[test]
fn sparse_events_whisper_back_through_silent_steps() {
    let steps = 20;
    let net = network(Recurrence::Diagonal, O, 77);
    let cell = net.cell(sequence(steps, 78)).unwrap();
    let (_, loss) = losses(&net, steps, 79).remove(1);
    assert_eq!(loss.active_steps(), 2);
    let g = sequence_gradient(&cell, &net.h0, &loss, Storage::All).unwrap();
    // Events at rows 4 and 11: inputs after row 11 cannot influence the loss, inputs before
    // row 4 (silent steps) do, through the adjoint recursion.
    for t in 12..steps {
        assert!(
            g.inputs[t * M..(t + 1) * M].iter().all(|v| *v == 0.0),
            "row {t}"
        );
    }
    for t in 0..=11 {
        assert!(norm(&g.inputs[t * M..(t + 1) * M]) > 1e-8, "row {t}");
    }
    assert!(norm(&g.h0) > 1e-8);
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn data_of(net: &Network, steps: usize, seed: u64, event_every: usize) -> SequenceData {
    let has_target: Vec<bool> = (0..steps).map(|t| t % event_every == 0).collect();
    let mut targets = random_vector(steps * net.outputs, seed + 1);
    for (t, h) in has_target.iter().enumerate() {
        if !h {
            targets[t * net.outputs..(t + 1) * net.outputs].fill(0.0);
        }
    }
    SequenceData {
        input_len: M,
        target_len: net.outputs,
        inputs: random_vector(steps * M, seed),
        targets,
        has_target,
        lines: Vec::new(),
        header_line: 0,
        first_t: 0,
    }
}

#[test]
fn network_json_and_data_csv_round_trip_bit_for_bit() {
    let dir = tmp();
    for (r, (kind, recurrence)) in CELLS.into_iter().enumerate() {
        let mut net = network_of(kind, recurrence, O, 400 + r as u64);
        net.theta[0] = 1e-300;
        net.readout[1] = -3.0e20;
        let path = dir
            .path()
            .join(format!("net_{}.json", cell_name(kind, recurrence)));
        save_network(&path, &net).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(&format!("\"recurrence\": \"{}\"", recurrence.name())));
        assert_eq!(text.contains("\"cell\": \"gru\""), kind == CellKind::Gru);
        assert_eq!(
            text.contains("\"p\""),
            recurrence != Recurrence::Dense && recurrence != Recurrence::Diagonal
        );
        assert_eq!(read_network(&path).unwrap(), net);
    }
    let net = network(Recurrence::Dense, O, 1);
    let mut data = data_of(&net, 9, 5, 3);
    data.inputs[0] = 1.5e-7;
    let path = dir.path().join("seq.csv");
    write_sequence_data(&path, &data).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("t,u0,u1,u2,y0,y1\n1,"), "{text}");
    assert!(text.lines().nth(2).unwrap().ends_with(",,"), "{text}");
    let back = read_sequence_data(&path).unwrap();
    assert_eq!(back.inputs, data.inputs);
    assert_eq!(back.targets, data.targets);
    assert_eq!(back.has_target, data.has_target);
    assert_eq!(back.lines, (2..=10).collect::<Vec<_>>());
    // Only the .json and .csv files, no temporary files left behind.
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        CELLS.len() + 1
    );
}

fn config_error(text: &str) -> String {
    let e = parse_network(Path::new("net.json"), text).unwrap_err();
    assert!(matches!(e, Error::Config { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.starts_with("net.json: "), "{msg}");
    msg
}

#[test]
fn network_json_errors_name_the_file_and_field() {
    let good = r#"{"hidden": 2, "inputs": 1, "outputs": 1, "recurrence": "dense",
        "w": [[0.1, 0.2], [0.3, 0.4]], "u": [[1], [2]], "b": [0, 0], "v": [[1, 1]], "c": [0]}"#;
    let net = parse_network(Path::new("net.json"), good).unwrap();
    assert_eq!(net.theta, vec![0.1, 0.2, 0.3, 0.4, 1.0, 2.0, 0.0, 0.0]);
    assert_eq!(net.h0, vec![0.0, 0.0]);
    let cases: &[(&str, &str, &str)] = &[
        (
            "\"w\": [[0.1, 0.2], [0.3, 0.4]]",
            "\"w\": [[0.1, 0.2], [0.3]]",
            "`w`: row 1 has 1 values, expected 2",
        ),
        (
            "\"w\": [[0.1, 0.2], [0.3, 0.4]]",
            "\"w\": [[0.1, 0.2]]",
            "`w` has 1 rows",
        ),
        (
            "\"w\": [[0.1, 0.2], [0.3, 0.4]]",
            "\"w\": [[0.1, \"x\"], [0.3, 0.4]]",
            "`w[0][1]`",
        ),
        (
            "\"w\": [[0.1, 0.2], [0.3, 0.4]]",
            "\"w\": [[0.1, NaN], [0.3, 0.4]]",
            "line 2",
        ),
        (
            "\"w\": [[0.1, 0.2], [0.3, 0.4]], ",
            "",
            "field `w` is missing",
        ),
        (
            "\"dense\"",
            "\"sparse\"",
            "field `recurrence` is \"sparse\"",
        ),
        ("\"dense\"", "\"low_rank\"", "field `rank` is missing"),
        (
            "\"u\": [[1], [2]]",
            "\"u\": [[1], [2], [3]]",
            "field `u` has 3 rows",
        ),
        (
            "\"b\": [0, 0]",
            "\"b\": [0]",
            "field `b` has 1 values, expected 2",
        ),
        (
            "\"v\": [[1, 1]]",
            "\"v\": [[1, 1, 1]]",
            "`v`: row 0 has 3 values",
        ),
        (
            "\"c\": [0]",
            "\"c\": [0], \"h0\": [1]",
            "field `h0` has 1 values",
        ),
        (
            "\"c\": [0]",
            "\"c\": [0], \"p\": [[1]]",
            "field `p` does not belong here",
        ),
        (
            "\"c\": [0]",
            "\"c\": [0], \"colour\": 1",
            "unknown field `colour`",
        ),
        (
            "\"hidden\": 2",
            "\"hidden\": 0",
            "field `hidden` must be at least 1",
        ),
        ("\"c\": [0]", "\"c\": [1e999]", "net.json"),
    ];
    for (from, to, needle) in cases {
        assert!(good.contains(from), "{from}");
        let msg = config_error(&good.replacen(from, to, 1));
        assert!(msg.contains(needle), "'{needle}' missing from: {msg}");
    }
    let diag = r#"{"hidden": 2, "inputs": 1, "outputs": 1, "recurrence": "diagonal",
        "w": [[0.1, 0.2], [0.3, 0.4]], "u": [[1], [2]], "b": [0, 0], "v": [[1, 1]], "c": [0]}"#;
    assert!(config_error(diag).contains("field `w[0]` is [0.1,0.2], not a number"));
    let low = r#"{"hidden": 2, "inputs": 1, "outputs": 1, "recurrence": "low_rank", "rank": 1,
        "p": [[0.1], [0.2]], "q": [[0.3, 0.1], [0.4]], "u": [[1], [2]], "b": [0, 0],
        "v": [[1, 1]], "c": [0]}"#;
    assert!(config_error(low).contains("field `q`: row 0 has 2 values, expected 1"));
    let e = read_network(Path::new("/nonexistent/net.json")).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/net.json"));
}

fn input_error(text: &str) -> String {
    let e = parse_sequence_data(Path::new("seq.csv"), text).unwrap_err();
    assert!(matches!(e, Error::Input { .. }), "{e:?}");
    e.to_string()
}

#[test]
fn data_csv_errors_name_the_file_and_line() {
    let d = parse_sequence_data(
        Path::new("seq.csv"),
        "# comment\nt,u0,y0,y1\n1,0.5,1,2\n2,0.25,,\n",
    )
    .unwrap();
    assert_eq!(d.inputs, vec![0.5, 0.25]);
    assert_eq!(d.targets, vec![1.0, 2.0, 0.0, 0.0]);
    assert_eq!(d.has_target, vec![true, false]);
    assert_eq!(d.lines, vec![3, 4]);
    let cases: &[(&str, &str)] = &[
        ("t,u0,y1\n1,0.5,1\n", "seq.csv, line 1: missing column y0"),
        ("t,y0\n1,1\n", "seq.csv, line 1: missing column u0"),
        ("u0,y0\n1,1\n", "seq.csv, line 1: missing column t"),
        ("t,u0,u0,y0\n", "seq.csv, line 1: column 'u0' appears twice"),
        ("t,u0,z,y0\n", "seq.csv, line 1: unknown column 'z'"),
        (
            "t,u0,y0\n1,0.5\n",
            "seq.csv, line 2: has 2 fields, the header has 3",
        ),
        ("t,u0,y0\n1,0.5,1,7\n", "seq.csv, line 2: has 4 fields"),
        (
            "t,u0,y0\n1,NaN,1\n",
            "seq.csv, line 2: u0 = NaN is not a finite number",
        ),
        (
            "t,u0,y0\n1,0.5,inf\n",
            "seq.csv, line 2: y0 = inf is not a finite number",
        ),
        (
            "t,u0,y0\n1,abc,1\n",
            "seq.csv, line 2: u0 = 'abc' is not a number",
        ),
        (
            "t,u0,y0\n1,,1\n",
            "seq.csv, line 2: u0 = '' is not a number",
        ),
        (
            "t,u0,y0,y1\n1,0.5,1,\n",
            "seq.csv, line 2: some y cells are empty",
        ),
        (
            "t,u0,y0\n1,0.5,1\n3,0.5,1\n",
            "seq.csv, line 3: t = 3 does not follow t = 1",
        ),
        (
            "t,u0,y0\n1.5,0.5,1\n",
            "seq.csv, line 2: t = '1.5' is not an integer",
        ),
        ("# nothing\n", "seq.csv: has no header line"),
        ("t,u0,y0\n", "seq.csv: has a header but no data rows"),
    ];
    for (text, needle) in cases {
        let msg = input_error(text);
        assert!(msg.contains(needle), "'{needle}' missing from: {msg}");
    }
}

#[test]
fn data_that_does_not_fit_the_network_is_refused_naming_file_and_line() {
    let net = network(Recurrence::Dense, O, 3);
    let path = Path::new("seq.csv");
    let ok = "t,u0,u1,u2,y0,y1\n1,1,2,3,0.5,0.5\n2,1,2,3,,\n";
    let data = parse_sequence_data(path, ok).unwrap();
    let e = build_problem(
        &net,
        &data,
        path,
        LossMode::Dense,
        LossFunction::MeanSquared,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("seq.csv, line 3: no target at this step"), "{e}");
    build_problem(
        &net,
        &data,
        path,
        LossMode::Events,
        LossFunction::MeanSquared,
    )
    .unwrap();
    let e = build_problem(
        &net,
        &data,
        path,
        LossMode::Events,
        LossFunction::CrossEntropy,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("seq.csv, line 1: has 2 target columns"), "{e}");
    let ce = parse_sequence_data(path, "t,u0,u1,u2,y0\n1,1,2,3,1\n2,1,2,3,2\n").unwrap();
    let e = build_problem(&net, &ce, path, LossMode::Dense, LossFunction::CrossEntropy)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("seq.csv, line 3: y0 = 2 is not a class index 0..1"),
        "{e}"
    );
    let narrow = parse_sequence_data(path, "t,u0,y0,y1\n1,1,0,0\n").unwrap();
    let e = build_problem(
        &net,
        &narrow,
        path,
        LossMode::Dense,
        LossFunction::MeanSquared,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("seq.csv, line 1: has 1 input columns"), "{e}");
}

fn fourdvar(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_fourdvar"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn cli_rnn_gradient_writes_every_gradient_and_the_library_loss() {
    let dir = tmp();
    for (r, (kind, recurrence)) in CELLS.into_iter().enumerate() {
        let net = network_of(kind, recurrence, O, 500 + r as u64);
        let model = dir.path().join(format!("net{r}.json"));
        save_network(&model, &net).unwrap();
        let data = data_of(&net, 12, 600 + r as u64, 4);
        let csv = dir.path().join(format!("seq{r}.csv"));
        write_sequence_data(&csv, &data).unwrap();
        let out: PathBuf = dir.path().join(format!("grads{r}.json"));
        // --model is the older spelling of --net; both must keep working.
        let network_flag = if r == 0 { "--model" } else { "--net" };
        let o = fourdvar(&[
            "rnn",
            "gradient",
            network_flag,
            s(&model),
            "--data",
            s(&csv),
            "--loss",
            "events",
            "--objective",
            "mse",
            "--out",
            s(&out),
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let json = parse_json(&out, &std::fs::read_to_string(&out).unwrap()).unwrap();
        let obj = json.as_object().unwrap();
        let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut want = vec![
            "active_steps",
            "b",
            "c",
            "h0",
            "inputs",
            "loss",
            "objective",
            "steps",
            "u",
            "v",
        ];
        match recurrence {
            Recurrence::LowRank { .. } => want.extend(["p", "q"]),
            _ => want.push("w"),
        }
        want.sort_unstable();
        assert_eq!(keys, want);

        let (cell, loss) = build_problem(
            &net,
            &read_sequence_data(&csv).unwrap(),
            &csv,
            LossMode::Events,
            LossFunction::MeanSquared,
        )
        .unwrap();
        let g = sequence_gradient(&cell, &net.h0, &loss, Storage::All).unwrap();
        assert_eq!(obj["loss"].as_f64().unwrap(), g.loss);
        assert!(g.loss > 0.0);
        assert_eq!(obj["active_steps"], 3);
        let inputs = obj["inputs"].as_array().unwrap();
        assert_eq!(inputs.len(), 12);
        assert_eq!(inputs[5][2].as_f64().unwrap(), g.inputs[5 * M + 2]);
        assert_eq!(obj["h0"][D - 1].as_f64().unwrap(), g.h0[D - 1]);
        assert_eq!(obj["c"][1].as_f64().unwrap(), g.readout[O * D + 1]);
        assert_eq!(obj["v"][1][0].as_f64().unwrap(), g.readout[D]);
        assert_eq!(obj["b"][0].as_f64().unwrap(), g.theta[net.shape.b_offset()]);
        assert_eq!(
            obj["u"][1][2].as_f64().unwrap(),
            g.theta[net.shape.u_offset() + M + 2]
        );
        match recurrence {
            Recurrence::Dense => assert_eq!(obj["w"][1][3].as_f64().unwrap(), g.theta[D + 3]),
            Recurrence::Diagonal => assert_eq!(obj["w"][3].as_f64().unwrap(), g.theta[3]),
            Recurrence::LowRank { rank } => {
                assert_eq!(obj["p"][2][1].as_f64().unwrap(), g.theta[2 * rank + 1]);
                assert_eq!(
                    obj["q"][4][0].as_f64().unwrap(),
                    g.theta[D * rank + 4 * rank]
                );
            }
        }
    }
}

#[test]
fn cli_rnn_gradient_refuses_bad_input_with_exit_code_2() {
    let dir = tmp();
    let net = network(Recurrence::Dense, O, 9);
    let model = dir.path().join("net.json");
    save_network(&model, &net).unwrap();
    let csv = dir.path().join("seq.csv");
    std::fs::write(&csv, "t,u0,u1,u2,y0,y1\n1,1,2,3,0.5,0.5\n2,1,NaN,3,,\n").unwrap();
    let out = dir.path().join("grads.json");
    let o = fourdvar(&[
        "rnn",
        "gradient",
        "--net",
        s(&model),
        "--data",
        s(&csv),
        "--loss",
        "events",
        "--out",
        s(&out),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("seq.csv, line 3: u1 = NaN is not a finite number"),
        "{err}"
    );
    assert!(!out.exists());
    let bad_net = dir.path().join("bad.json");
    std::fs::write(&bad_net, "{\"hidden\": 2}").unwrap();
    let o = fourdvar(&[
        "rnn",
        "gradient",
        "--net",
        s(&bad_net),
        "--data",
        s(&csv),
        "--out",
        s(&out),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("bad.json") && err.contains("missing field"),
        "{err}"
    );
    assert!(!out.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
}
