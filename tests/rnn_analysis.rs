//! RNN analysis on the adjoint core: the identity activation (Taylor and dot-product tests,
//! network JSON), input sensitivity and the fast-gradient-sign attack, the gradient flow
//! ‖∂L/∂h_t‖ against the lag (exact for a linear recurrence), echo-state networks (spectral
//! radius, ridge readout against an explicit inverse, Lorenz-96 against persistence), and the
//! `rnn sensitivity | gradient-flow | reservoir | bench` commands.

use std::path::Path;
use std::process::Command;

use fourdvar::core::sweep::cost_value;
use fourdvar::core::verification::{dot_product_test, random_vector, taylor_test, TaylorReport};
use fourdvar::core::{integrate, tangent_linear_run, Dynamics};
use fourdvar::experiment::rnn_analysis::lorenz96_site_task;
use fourdvar::io::rnn_files::{
    parse_network, parse_network_with_activation, read_network, read_network_with_activation,
    save_network_with_activation, write_sequence_data, SequenceData,
};
use fourdvar::rnn::analysis::{gradient_flow, input_sensitivity};
use fourdvar::rnn::reservoir::{
    fit_echo_state, random_reservoir, reservoir_states, ridge_readout, spectral_radius,
    ReservoirSpec,
};
use fourdvar::rnn::{
    Activation, CellKind, CellShape, ElmanCell, Network, Recurrence, RecurrentCell, SequenceLoss,
};
use ndarray::{Array1, Array2};
use ndarray_linalg::Inverse;

mod common;
use common::{assert_dot, assert_taylor, InputsAsParams, Undriven};

const RECURRENCES: [Recurrence; 3] = [
    Recurrence::Dense,
    Recurrence::Diagonal,
    Recurrence::LowRank { rank: 2 },
];
const D: usize = 5;
const M: usize = 3;

/// A random network with a recurrence of spectral size below 1 (a linear recurrence must not
/// blow up over 20 steps).
fn network(recurrence: Recurrence, seed: u64) -> Network {
    let shape = CellShape {
        cell: CellKind::Elman,
        hidden: D,
        inputs: M,
        recurrence,
    };
    let mut theta = random_vector(shape.param_len(), seed);
    let rec_scale = match recurrence {
        Recurrence::Dense => 0.8 / (D as f64).sqrt(),
        Recurrence::Diagonal => 0.9,
        Recurrence::LowRank { .. } => 0.5,
    };
    for (i, t) in theta.iter_mut().enumerate() {
        *t *= if i < shape.u_offset() {
            rec_scale
        } else if i < shape.b_offset() {
            0.3
        } else {
            0.1
        };
    }
    Network {
        shape,
        outputs: 2,
        theta,
        readout: random_vector(2 * D + 2, seed + 1),
        h0: random_vector(D, seed + 2),
    }
}

/// A direction in which the identity cell is exactly linear: the TL is exact at every ε (up to
/// rounding), so the ratio is 1 for every ε ≥ 1e-4.
fn assert_exactly_linear(report: &TaylorReport, what: &str) {
    let worst = report
        .rows
        .iter()
        .filter(|r| r.epsilon >= 1e-4)
        .map(|r| (r.ratio - 1.0).abs())
        .fold(0.0, f64::max);
    println!("{what}: worst |ratio-1| for eps >= 1e-4: {worst:.3e}");
    assert!(!report.rows.is_empty());
    assert!(worst <= 1e-9, "{what}: {report:?}");
}

#[test]
fn identity_cell_is_the_linear_recurrence() {
    // d = 2, m = 1, dense: h_1 = W h_0 + U u_0 + b by hand.
    let shape = CellShape {
        cell: CellKind::Elman,
        hidden: 2,
        inputs: 1,
        recurrence: Recurrence::Dense,
    };
    let theta = vec![0.5, -1.5, 2.0, 0.25, 3.0, -2.0, 0.1, 0.2];
    let cell = ElmanCell::new(shape, theta, vec![0.7])
        .unwrap()
        .with_activation(Activation::Identity);
    assert_eq!(cell.activation(), Activation::Identity);
    let h = integrate(&cell, &[1.0, 2.0], 1, |_, _| {}).unwrap();
    let expected = [0.5 - 3.0 + 3.0 * 0.7 + 0.1, 2.0 + 0.5 - 2.0 * 0.7 + 0.2];
    assert!((h[0] - expected[0]).abs() < 1e-15 && (h[1] - expected[1]).abs() < 1e-15);
    // The default stays tanh.
    let tanh_cell = ElmanCell::new(shape, cell.theta().to_vec(), vec![0.7]).unwrap();
    assert_eq!(tanh_cell.activation(), Activation::Tanh);
    let h = integrate(&tanh_cell, &[1.0, 2.0], 1, |_, _| {}).unwrap();
    assert!((h[0] - expected[0].tanh()).abs() < 1e-15);
    assert!((h[1] - expected[1].tanh()).abs() < 1e-15);
}

#[test]
fn identity_cell_passes_taylor_and_dot_product_tests() {
    for (r, recurrence) in RECURRENCES.into_iter().enumerate() {
        let seed = 1000 + 10 * r as u64;
        let net = network(recurrence, seed);
        for steps in [1, 20] {
            let cell = net
                .cell(random_vector(steps * M, seed + 5))
                .unwrap()
                .with_activation(Activation::Identity);
            let name = format!("identity {} cell, {steps} steps", recurrence.name());
            let p = cell.param_len();
            let dh = random_vector(D, seed + 6);
            let dp = random_vector(p, seed + 7);
            let du = random_vector(steps * M, seed + 8);
            let dy = random_vector(D, seed + 9);
            let undriven = Undriven(cell.clone());
            // W δh and δW h are bilinear in (θ, h): second order in the joint direction.
            let joint = taylor_test(&undriven, &net.h0, &dh, &dp, steps).unwrap();
            assert_taylor(&joint, &format!("{name}: TL (h+theta)"));
            // In h alone, and in u alone, the identity cell is exactly linear.
            let h_only = taylor_test(&undriven, &net.h0, &dh, &vec![0.0; p], steps).unwrap();
            assert_exactly_linear(&h_only, &format!("{name}: TL (h)"));
            let inputs = InputsAsParams(cell.clone());
            let u_only = taylor_test(&inputs, &net.h0, &[0.0; D], &du, steps).unwrap();
            assert_exactly_linear(&u_only, &format!("{name}: TL (inputs)"));

            let rep = dot_product_test(&undriven, &net.h0, &dh, &dp, &dy, steps).unwrap();
            assert_dot(&rep, &format!("{name}: AD (h+theta)"));
            let rep = dot_product_test(&inputs, &net.h0, &dh, &du, &dy, steps).unwrap();
            assert_dot(&rep, &format!("{name}: AD (h+inputs)"));
        }
    }
    // The tanh cell is not linear in h: the same "exactly linear" check must fail for it.
    let net = network(Recurrence::Dense, 1000);
    let tanh = Undriven(net.cell(random_vector(20 * M, 1005)).unwrap());
    let dh: Vec<f64> = random_vector(D, 1006);
    let rep = taylor_test(&tanh, &net.h0, &dh, &vec![0.0; tanh.param_len()], 20).unwrap();
    let worst = rep
        .rows
        .iter()
        .filter(|r| r.epsilon >= 1e-4)
        .map(|r| (r.ratio - 1.0).abs())
        .fold(0.0, f64::max);
    assert!(worst > 1e-6, "tanh looks linear: {worst}");
}

#[test]
fn network_json_activation_field() {
    let dir = tempfile::tempdir().unwrap();
    let net = network(Recurrence::Diagonal, 7);
    let path = dir.path().join("net.json");
    save_network_with_activation(&path, &net, Activation::Identity).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\"activation\": \"identity\""), "{text}");
    let (back, act) = read_network_with_activation(&path).unwrap();
    assert_eq!(act, Activation::Identity);
    assert_eq!(back, net);
    // The activation-unaware reader refuses it rather than running tanh.
    let err = read_network(&path).unwrap_err().to_string();
    assert!(
        err.contains("activation") && err.contains("identity"),
        "{err}"
    );
    // tanh: no field written, default read, old reader fine.
    save_network_with_activation(&path, &net, Activation::Tanh).unwrap();
    assert!(!std::fs::read_to_string(&path)
        .unwrap()
        .contains("activation"));
    assert_eq!(
        read_network_with_activation(&path).unwrap().1,
        Activation::Tanh
    );
    assert_eq!(read_network(&path).unwrap(), net);
    // Explicit "tanh", and a bad name.
    let small = r#"{"hidden":1,"inputs":1,"outputs":1,"recurrence":"dense","w":[[0.5]],
        "u":[[1.0]],"b":[0.0],"v":[[1.0]],"c":[0.0],"activation":"ACT"}"#;
    let p = Path::new("small.json");
    let (n, a) = parse_network_with_activation(p, &small.replace("ACT", "tanh")).unwrap();
    assert_eq!(a, Activation::Tanh);
    assert_eq!(parse_network(p, &small.replace("ACT", "tanh")).unwrap(), n);
    let err = parse_network_with_activation(p, &small.replace("ACT", "relu"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("small.json") && err.contains("activation") && err.contains("relu"),
        "{err}"
    );
}

/// d = 1, m = 1 linear recurrence h_{t+1} = w h_t + U u_t (b = 0), readout y = h, and the
/// loss ½ (h_T − y)² at the last step only.
fn scalar_linear(w: f64, u: f64, inputs: Vec<f64>, target: f64) -> (ElmanCell, SequenceLoss) {
    let steps = inputs.len();
    let shape = CellShape {
        cell: CellKind::Elman,
        hidden: 1,
        inputs: 1,
        recurrence: Recurrence::Dense,
    };
    let cell = ElmanCell::new(shape, vec![w, u, 0.0], inputs)
        .unwrap()
        .with_activation(Activation::Identity);
    let mut targets = vec![0.0; steps];
    targets[steps - 1] = target;
    let mut active = vec![false; steps];
    active[steps - 1] = true;
    let loss = SequenceLoss::mean_squared(1, 1, vec![1.0, 0.0], targets, active).unwrap();
    (cell, loss)
}

#[test]
fn gradient_flow_of_a_linear_recurrence_is_lambda_to_the_lag() {
    const T: usize = 50;
    for w in [0.9, 1.1, -0.9] {
        let (cell, loss) = scalar_linear(w, 0.7, vec![0.0; T], 0.3);
        let flow = gradient_flow(&cell, &[1.0], cell.sequence_len(), &loss).unwrap();
        assert_eq!(flow.norms.len(), T + 1);
        // h_T = w^T, ∂L/∂h_T = h_T − 0.3.
        let h_t = w.powi(T as i32);
        let last = (h_t - 0.3).abs();
        assert!((flow.norms[T] - last).abs() <= 1e-14 * last);
        let l = 0.5 * (h_t - 0.3).powi(2);
        assert!((flow.loss - l).abs() <= 1e-13 * l);
        let mut worst: f64 = 0.0;
        for (lag, norm) in flow.by_lag() {
            let expected = w.abs().powi(lag as i32) * flow.norms[T];
            worst = worst.max((norm - expected).abs() / expected);
        }
        println!(
            "w = {w}: |dL/dh_0| = {:.6e}, |dL/dh_T| = {:.6e}, worst relative error {worst:.3e}",
            flow.norms[0], flow.norms[T]
        );
        assert!(worst <= 1e-12, "w = {w}: {worst}");
        let ratio = flow.norms[0] / flow.norms[T];
        if w.abs() < 1.0 {
            assert!(ratio < 0.01, "vanishing: {ratio}");
        } else {
            assert!(ratio > 100.0, "exploding: {ratio}");
        }
    }
}

#[test]
fn gradient_flow_equals_the_gradient_of_the_suffix_problem() {
    // A tanh network, loss at the last step: λ_t = ∂L/∂h_t is the h_0-gradient of the same
    // problem started at h_t over the remaining steps.
    let net = network(Recurrence::Dense, 31);
    let steps = 15;
    let seq = random_vector(steps * M, 32);
    let cell = net.cell(seq.clone()).unwrap();
    let mut targets = random_vector(steps * 2, 33);
    targets[..(steps - 1) * 2].fill(0.0);
    let mut active = vec![false; steps];
    active[steps - 1] = true;
    let loss =
        SequenceLoss::mean_squared(D, 2, net.readout.clone(), targets.clone(), active).unwrap();
    let flow = gradient_flow(&cell, &net.h0, cell.sequence_len(), &loss).unwrap();
    let mut states = Vec::new();
    integrate(&cell, &net.h0, steps, |_, h| states.push(h.to_vec())).unwrap();
    for t in 0..steps {
        let rest = steps - t;
        let sub = net.cell(seq[t * M..].to_vec()).unwrap();
        let mut act = vec![false; rest];
        act[rest - 1] = true;
        let sub_loss =
            SequenceLoss::mean_squared(D, 2, net.readout.clone(), targets[t * 2..].to_vec(), act)
                .unwrap();
        let g = fourdvar::rnn::sequence_gradient(
            &sub,
            &states[t],
            &sub_loss,
            fourdvar::core::Storage::All,
        )
        .unwrap();
        let expected = fourdvar::core::vector::norm(&g.h0);
        assert!(
            (flow.norms[t] - expected).abs() <= 1e-13 * expected,
            "t = {t}: {} vs {expected}",
            flow.norms[t]
        );
    }
}

#[test]
fn input_sensitivity_and_fast_gradient_sign_of_a_linear_recurrence() {
    const T: usize = 30;
    let (u, eps, top) = (0.7, 0.01, 3);
    for w in [0.9, 1.1] {
        let inputs = random_vector(T, 41);
        let (cell, loss) = scalar_linear(w, u, inputs.clone(), 0.3);
        let s = input_sensitivity(&RecurrentCell::Elman(cell), &[1.0], &loss, eps, top).unwrap();
        // h_T = w^T h_0 + Σ_t w^{T−1−t} U u_t, ∂L/∂u_t = (h_T − y) U w^{T−1−t}.
        let h_t = w.powi(T as i32)
            + (0..T)
                .map(|t| w.powi((T - 1 - t) as i32) * u * inputs[t])
                .sum::<f64>();
        let r = h_t - 0.3;
        for t in 0..T {
            let g = r * u * w.powi((T - 1 - t) as i32);
            assert!((s.gradient[t] - g).abs() <= 1e-13 * g.abs(), "t = {t}");
        }
        let (first, expected_top): (usize, Vec<usize>) = if w < 1.0 {
            (T - 1, vec![T - 1, T - 2, T - 3])
        } else {
            (0, vec![0, 1, 2])
        };
        assert_eq!(s.most_sensitive, first);
        assert_eq!(s.top_steps, expected_top);
        // ΔL = r Δh + ½ Δh² exactly, Δh = ε sign(r) Σ_{top} |U w^{T−1−t}|.
        let dh: f64 = expected_top
            .iter()
            .map(|&t| (u * w.powi((T - 1 - t) as i32)).abs())
            .sum::<f64>()
            * eps;
        assert!((s.predicted_change - r.abs() * dh).abs() <= 1e-13 * s.predicted_change);
        let change = s.loss_perturbed - s.loss;
        assert!(
            (change - s.predicted_change - 0.5 * dh * dh).abs() <= 1e-9 * change,
            "w = {w}: {change} vs {}",
            s.predicted_change + 0.5 * dh * dh
        );
        assert!((s.output_change_max - dh).abs() <= 1e-12 * dh);
        println!(
            "w = {w}: most sensitive step {}, loss {:.6e} -> {:.6e}, predicted +{:.6e}",
            s.most_sensitive, s.loss, s.loss_perturbed, s.predicted_change
        );
    }
}

#[test]
fn fast_gradient_sign_raises_a_tanh_loss_as_predicted_to_first_order() {
    let net = network(Recurrence::LowRank { rank: 2 }, 51);
    let steps = 25;
    let cell = net.cell(random_vector(steps * M, 52)).unwrap();
    let loss = SequenceLoss::mean_squared(
        D,
        2,
        net.readout.clone(),
        random_vector(steps * 2, 53),
        vec![true; steps],
    )
    .unwrap();
    let mut last_error = f64::INFINITY;
    for eps in [1e-2, 1e-3, 1e-4] {
        let s = input_sensitivity(&cell, &net.h0, &loss, eps, 5).unwrap();
        let check = cost_value(&cell, &net.h0, steps, &loss).unwrap();
        // The sweep adds the stage costs backwards, cost_value forwards.
        assert!((s.loss - check).abs() <= 1e-13 * check);
        let change = s.loss_perturbed - s.loss;
        assert!(change > 0.0, "the attack must raise the loss");
        let error = (change / s.predicted_change - 1.0).abs();
        println!(
            "eps {eps:e}: change {change:.6e}, predicted {:.6e}",
            s.predicted_change
        );
        assert!(
            error < last_error / 5.0,
            "first-order error must fall with eps"
        );
        last_error = error;
        let mut sorted = s.norms.clone();
        sorted.sort_by(|a, b| b.total_cmp(a));
        assert_eq!(s.norms[s.most_sensitive], sorted[0]);
        for (i, &t) in s.top_steps.iter().enumerate() {
            assert_eq!(s.norms[t], sorted[i]);
        }
    }
    assert!(last_error < 1e-3);
    assert!(input_sensitivity(&cell, &net.h0, &loss, 0.1, 0).is_err());
    assert!(input_sensitivity(&cell, &net.h0, &loss, 0.1, steps + 1).is_err());
    assert!(input_sensitivity(&cell, &net.h0, &loss, f64::NAN, 1).is_err());
}

#[test]
fn reservoir_spectral_radius_is_the_requested_one() {
    for (d, rho) in [(10, 0.9), (50, 1.25), (3, 0.5)] {
        let spec = ReservoirSpec {
            hidden: d,
            inputs: 2,
            spectral_radius: rho,
            input_scale: 0.5,
            seed: 9,
        };
        let theta = random_reservoir(&spec).unwrap();
        assert_eq!(theta.len(), d * d + 2 * d + d);
        let measured = spectral_radius(&theta[..d * d], d).unwrap();
        println!("d = {d}: requested {rho}, measured {measured:.15}");
        assert!((measured - rho).abs() <= 1e-10 * rho);
        assert!(theta[d * d..d * d + 2 * d].iter().all(|x| x.abs() <= 0.5));
        assert!(theta[d * d + 2 * d..].iter().all(|x| *x == 0.0));
        assert_eq!(random_reservoir(&spec).unwrap(), theta, "seeded");
    }
    // ρ of a known matrix: rotation by 90° scaled by 2 has eigenvalues ±2i.
    let rho = spectral_radius(&[0.0, -2.0, 2.0, 0.0], 2).unwrap();
    assert!((rho - 2.0).abs() < 1e-14);
}

#[test]
fn ridge_readout_equals_the_explicit_inverse_solution() {
    let (d, o, steps, alpha) = (12, 2, 300, 1e-3);
    let spec = ReservoirSpec {
        hidden: d,
        inputs: 1,
        spectral_radius: 0.9,
        input_scale: 1.0,
        seed: 3,
    };
    let inputs = random_vector(steps, 4);
    let cell = ElmanCell::new(
        CellShape {
            cell: CellKind::Elman,
            hidden: d,
            inputs: 1,
            recurrence: Recurrence::Dense,
        },
        random_reservoir(&spec).unwrap(),
        inputs.clone(),
    )
    .unwrap();
    let states = reservoir_states(&cell, &vec![0.0; d]).unwrap();
    assert_eq!(states.len(), steps * d);
    let targets = random_vector(steps * o, 5);
    let rows: Vec<usize> = (20..250).collect();
    let readout = ridge_readout(&states, &targets, d, o, &rows, alpha).unwrap();
    // Independently: X (rows × d+1), A = XᵀX + α diag(1,…,1,0), w = A⁻¹ Xᵀ y.
    let n = d + 1;
    let x = Array2::from_shape_fn((rows.len(), n), |(i, j)| {
        if j < d {
            states[rows[i] * d + j]
        } else {
            1.0
        }
    });
    let mut a = x.t().dot(&x);
    for i in 0..d {
        a[[i, i]] += alpha;
    }
    let inv = a.inv().unwrap();
    let mut worst: f64 = 0.0;
    for k in 0..o {
        let y = Array1::from_shape_fn(rows.len(), |i| targets[rows[i] * o + k]);
        let w = inv.dot(&x.t().dot(&y));
        let mine: Vec<f64> = readout[k * d..(k + 1) * d]
            .iter()
            .copied()
            .chain([readout[o * d + k]])
            .collect();
        let diff = mine
            .iter()
            .zip(w.iter())
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
            .sqrt();
        worst = worst.max(diff / w.dot(&w).sqrt());
    }
    println!("ridge readout vs explicit inverse: relative difference {worst:.3e}");
    assert!(worst <= 1e-10, "{worst}");
    // The bias is unpenalised: shifting every target by 5 shifts c by 5, V unchanged.
    let shifted: Vec<f64> = targets.iter().map(|t| t + 5.0).collect();
    let moved = ridge_readout(&states, &shifted, d, o, &rows, alpha).unwrap();
    for i in 0..o * d {
        assert!((moved[i] - readout[i]).abs() <= 1e-9 * (1.0 + readout[i].abs()));
    }
    for k in 0..o {
        assert!((moved[o * d + k] - readout[o * d + k] - 5.0).abs() <= 1e-9);
    }
    assert!(ridge_readout(&states, &targets, d, o, &rows, 0.0).is_err());
    assert!(ridge_readout(&states, &targets, d, o, &[], alpha).is_err());
    assert!(ridge_readout(&states, &targets, d, o, &[steps], alpha).is_err());
}

#[test]
fn echo_state_network_beats_persistence_on_lorenz96() {
    let steps = 3000;
    let (inputs, targets) = lorenz96_site_task(steps, 2).unwrap();
    assert_eq!(inputs.len(), steps);
    // u_t is x_t normalised, y_t = x_{t+1}: persistence predicts y_t = x_t.
    assert!((2.3 + 3.6 * inputs[1] - targets[0]).abs() < 1e-12);
    let spec = ReservoirSpec {
        hidden: 150,
        inputs: 1,
        spectral_radius: 0.9,
        input_scale: 1.0,
        seed: 1,
    };
    let train: Vec<usize> = (100..2400).collect();
    let test: Vec<usize> = (2400..steps).collect();
    let fit = fit_echo_state(&spec, &inputs, &targets, 1, &train, 1e-6).unwrap();
    let rmse = |pred: &dyn Fn(usize) -> f64| {
        (test
            .iter()
            .map(|&t| (pred(t) - targets[t]).powi(2))
            .sum::<f64>()
            / test.len() as f64)
            .sqrt()
    };
    let esn = rmse(&|t| fit.predictions[t]);
    let persistence = rmse(&|t| 2.3 + 3.6 * inputs[t]);
    println!(
        "Lorenz-96 next step: ESN test RMSE {esn:.4e}, persistence {persistence:.4e}, ratio {:.4}",
        esn / persistence
    );
    assert!(
        persistence > 0.3,
        "persistence is a real baseline: {persistence}"
    );
    assert!(esn / persistence < 0.3, "{esn} vs {persistence}");
    assert_eq!(fit.network.shape.recurrence, Recurrence::Dense);
    let rho = spectral_radius(&fit.network.theta[..150 * 150], 150).unwrap();
    assert!((rho - 0.9).abs() < 1e-10);
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

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A d = 1 identity network h_{t+1} = w h_t + 0.7 u_t, y = h, h_0 = 1, and T rows of zero
/// inputs with a target 0.3 at the last row only.
fn write_linear_case(dir: &Path, w: f64, steps: usize) -> (std::path::PathBuf, std::path::PathBuf) {
    let net = Network {
        shape: CellShape {
            cell: CellKind::Elman,
            hidden: 1,
            inputs: 1,
            recurrence: Recurrence::Dense,
        },
        outputs: 1,
        theta: vec![w, 0.7, 0.0],
        readout: vec![1.0, 0.0],
        h0: vec![1.0],
    };
    let model = dir.join(format!("lin{w}.json"));
    save_network_with_activation(&model, &net, Activation::Identity).unwrap();
    let mut targets = vec![0.0; steps];
    targets[steps - 1] = 0.3;
    let mut has_target = vec![false; steps];
    has_target[steps - 1] = true;
    let data = SequenceData {
        input_len: 1,
        target_len: 1,
        inputs: vec![0.0; steps],
        targets,
        has_target,
        lines: Vec::new(),
        header_line: 0,
        first_t: 0,
    };
    let csv = dir.join(format!("lin{w}.csv"));
    write_sequence_data(&csv, &data).unwrap();
    (model, csv)
}

#[test]
fn cli_rnn_gradient_flow_writes_lag_and_norm() {
    let dir = tempfile::tempdir().unwrap();
    let (model, csv) = write_linear_case(dir.path(), 1.1, 50);
    let flow = dir.path().join("flow.csv");
    let out = fourdvar(&[
        "rnn",
        "gradient-flow",
        "--net",
        s(&model),
        "--data",
        s(&csv),
        "--out",
        s(&flow),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout(&out).contains("mean factor per step 1.100000"),
        "{}",
        stdout(&out)
    );
    let text = std::fs::read_to_string(&flow).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("lag,norm"));
    let rows: Vec<(usize, f64)> = lines
        .map(|l| {
            let (a, b) = l.split_once(',').unwrap();
            (a.parse().unwrap(), b.parse().unwrap())
        })
        .collect();
    assert_eq!(rows.len(), 51);
    let last = (1.1f64.powi(50) - 0.3).abs();
    for (lag, norm) in rows {
        let expected = 1.1f64.powi(lag as i32) * last;
        assert!((norm - expected).abs() <= 1e-12 * expected, "lag {lag}");
    }
    // A data file whose last row has no target: exit 2, naming the file.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "t,u0,y0\n0,0.5,1.0\n1,0.5,\n").unwrap();
    let out = fourdvar(&[
        "rnn",
        "gradient-flow",
        "--net",
        s(&model),
        "--data",
        s(&bad),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.csv"));
}

#[test]
fn cli_rnn_sensitivity_reports_the_most_sensitive_step() {
    let dir = tempfile::tempdir().unwrap();
    let (model, csv) = write_linear_case(dir.path(), 0.9, 20);
    let json = dir.path().join("sens.json");
    let out = fourdvar(&[
        "rnn",
        "sensitivity",
        "--net",
        s(&model),
        "--data",
        s(&csv),
        "--loss",
        "events",
        "--epsilon",
        "0.01",
        "--top",
        "2",
        "--out",
        s(&json),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout(&out).contains("most sensitive step 19"),
        "{}",
        stdout(&out)
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["most_sensitive_step"], 19);
    assert_eq!(v["top_steps"], serde_json::json!([19, 18]));
    // ∂L/∂u_t = (h_T − 0.3) · 0.7 · 0.9^{T−1−t}, h_T = 0.9^20.
    let r = 0.9f64.powi(20) - 0.3;
    let g = v["input_gradient"][5][0].as_f64().unwrap();
    let expected = r * 0.7 * 0.9f64.powi(14);
    assert!((g - expected).abs() <= 1e-13 * expected.abs());
    let dh = 0.01 * 0.7 * (1.0 + 0.9);
    let change = v["loss_perturbed"].as_f64().unwrap() - v["loss"].as_f64().unwrap();
    assert!((change - (r.abs() * dh + 0.5 * dh * dh)).abs() <= 1e-12);
    // Dense loss on sparse data, bad --top, negative epsilon, missing file: exit 2.
    for args in [
        vec!["--loss", "dense"],
        vec!["--top", "0"],
        vec!["--top", "21"],
        vec!["--epsilon=-1"],
    ] {
        let mut all = vec!["rnn", "sensitivity", "--net", s(&model), "--data", s(&csv)];
        all.extend(args.iter());
        let out = fourdvar(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    let out = fourdvar(&[
        "rnn",
        "sensitivity",
        "--net",
        "nope.json",
        "--data",
        s(&csv),
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn cli_rnn_reservoir_fits_and_saves_the_network() {
    let dir = tempfile::tempdir().unwrap();
    let net = dir.path().join("esn.json");
    let out = fourdvar(&[
        "rnn",
        "reservoir",
        "--task",
        "lorenz96",
        "--hidden",
        "100",
        "--spectral-radius",
        "0.8",
        "--ridge",
        "1e-6",
        "--seed",
        "3",
        "--out",
        s(&net),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    let value = |key: &str| -> f64 {
        let line = text.lines().find(|l| l.starts_with(key)).unwrap();
        line[key.len()..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let (train, test, persistence) = (
        value("train RMSE"),
        value("test RMSE"),
        value("persistence test RMSE"),
    );
    println!("{text}");
    assert!(train > 0.0 && test > 0.0);
    assert!(test < 0.3 * persistence, "{text}");
    let saved = read_network(&net).unwrap();
    assert_eq!(saved.shape.hidden, 100);
    let rho = spectral_radius(&saved.theta[..100 * 100], 100).unwrap();
    assert!((rho - 0.8).abs() < 1e-10);

    // From a data file: learn y_t = u_t (a trivially linear task) well.
    let steps = 400;
    let inputs = random_vector(steps, 77);
    let data = SequenceData {
        input_len: 1,
        target_len: 1,
        inputs: inputs.clone(),
        targets: inputs.iter().map(|u| 0.5 * u.tanh()).collect(),
        has_target: vec![true; steps],
        lines: Vec::new(),
        header_line: 0,
        first_t: 0,
    };
    let csv = dir.path().join("seq.csv");
    write_sequence_data(&csv, &data).unwrap();
    let out = fourdvar(&[
        "rnn",
        "reservoir",
        "--data",
        s(&csv),
        "--hidden",
        "30",
        "--out",
        s(&net),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!stdout(&out).contains("persistence"));
    // Neither or both sources, a bad ridge, zero hidden: exit 2.
    for args in [
        vec!["--out", s(&net)],
        vec!["--task", "lorenz96", "--data", s(&csv), "--out", s(&net)],
        vec!["--data", s(&csv), "--ridge", "0", "--out", s(&net)],
        vec!["--data", s(&csv), "--hidden", "0", "--out", s(&net)],
        vec![
            "--data",
            s(&csv),
            "--spectral-radius",
            "nan",
            "--out",
            s(&net),
        ],
    ] {
        let mut all = vec!["rnn", "reservoir"];
        all.extend(args.iter());
        let out = fourdvar(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn cli_rnn_bench_prints_one_row_per_case() {
    let out = fourdvar(&[
        "rnn",
        "bench",
        "--sizes",
        "4,8",
        "--length",
        "20",
        "--compare",
        "8",
        "--rank",
        "2",
        "--min-time",
        "0.01",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    println!("{text}");
    let rows: Vec<Vec<&str>> = text
        .lines()
        .filter(|l| {
            ["dense ", "diagonal ", "low-rank2 "]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .map(|l| l.split_whitespace().collect())
        .collect();
    let names: Vec<(&str, &str)> = rows.iter().map(|r| (r[0], r[1])).collect();
    assert_eq!(
        names,
        vec![
            ("dense", "4"),
            ("dense", "8"),
            ("dense", "8"),
            ("diagonal", "8"),
            ("low-rank2", "8")
        ]
    );
    for r in &rows {
        let ratio: f64 = r.last().unwrap().parse().unwrap();
        assert!(ratio > 1.0 && ratio < 20.0, "{r:?}");
    }
    let out = fourdvar(&[
        "rnn",
        "bench",
        "--sizes",
        "0",
        "--length",
        "5",
        "--compare",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let out = fourdvar(&[
        "rnn", "bench", "--sizes", "4", "--length", "5", "--rank", "0",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn tangent_linear_of_identity_cell_is_exact_for_any_size() {
    // With σ = identity the whole run is linear in (h_0, u): M(h + δh, u + δu) − M(h, u) equals
    // the TL of (δh, δu) to rounding, even for large perturbations.
    let net = network(Recurrence::Dense, 61);
    let steps = 10;
    let seq = random_vector(steps * M, 62);
    let cell = net
        .cell(seq.clone())
        .unwrap()
        .with_activation(Activation::Identity);
    let dh = random_vector(D, 63);
    let du = random_vector(steps * M, 64);
    let tl = tangent_linear_run(&cell, &net.h0, &dh, &[], &du, steps).unwrap();
    let base = integrate(&cell, &net.h0, steps, |_, _| {}).unwrap();
    let mut moved_cell = cell.clone();
    let moved_seq: Vec<f64> = seq.iter().zip(&du).map(|(a, b)| a + 3.0 * b).collect();
    moved_cell.set_sequence(&moved_seq);
    let h: Vec<f64> = net.h0.iter().zip(&dh).map(|(a, b)| a + 3.0 * b).collect();
    let moved = integrate(&moved_cell, &h, steps, |_, _| {}).unwrap();
    for i in 0..D {
        assert!((moved[i] - base[i] - 3.0 * tl[i]).abs() <= 1e-12 * (1.0 + tl[i].abs()));
    }
}
