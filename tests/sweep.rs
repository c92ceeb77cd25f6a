//! The adjoint sweep itself: against closed-form gradients of tiny systems, full storage
//! against binomial checkpointing, the Revolve bound, and non-finite states.

use fourdvar::core::checkpointing::revolve_forward_steps;
use fourdvar::core::stage_costs::QuadraticMisfit;
use fourdvar::core::verification::random_vector;
use fourdvar::core::{
    integrate, value_and_gradient, AdjointOutputs, Dynamics, StageCost, Storage, TangentInputs,
};
use fourdvar::models::{lorenz96, ModelInfo};
use fourdvar::Error;

/// x_{k+1} = a x_k + u_k: a scalar linear system with parameter a and inputs u_k.
#[derive(Clone)]
struct DrivenScalar {
    a: f64,
    inputs: Vec<f64>,
}

impl Dynamics for DrivenScalar {
    type Workspace = ();
    fn state_len(&self) -> usize {
        1
    }
    fn param_len(&self) -> usize {
        1
    }
    fn input_len(&self) -> usize {
        1
    }
    fn params(&self) -> Vec<f64> {
        vec![self.a]
    }
    fn set_params(&mut self, p: &[f64]) {
        self.a = p[0];
    }
    fn workspace(&self) {}
    fn step(&self, _: &mut (), k: usize, x: &[f64], next: &mut [f64]) {
        next[0] = self.a * x[0] + self.inputs[k];
    }
    fn step_tl(&self, _: &mut (), _: usize, x: &[f64], t: TangentInputs<'_>, out: &mut [f64]) {
        out[0] = self.a * t.state[0] + t.params[0] * x[0] + t.input[0];
    }
    fn step_ad(
        &self,
        _: &mut (),
        _: usize,
        x: &[f64],
        _: &[f64],
        l: &[f64],
        out: AdjointOutputs<'_>,
    ) {
        out.state[0] = self.a * l[0];
        out.params[0] += x[0] * l[0];
        out.input[0] += l[0];
    }
}

/// J = ½ x[0]² at step `Some(k)` only, or at every step with `None`.
struct HalfSquare(Option<usize>);

impl StageCost for HalfSquare {
    fn is_active(&self, k: usize) -> bool {
        self.0.is_none_or(|only| k == only)
    }
    fn value(&self, _: usize, x: &[f64]) -> f64 {
        0.5 * x[0] * x[0]
    }
    fn value_and_gradient(&self, _: usize, x: &[f64], xb: &mut [f64], _: &mut [f64]) -> f64 {
        xb[0] += x[0];
        0.5 * x[0] * x[0]
    }
}

#[test]
fn sweep_matches_closed_form_gradient_of_a_linear_system() {
    // With u = 0: x_n = aⁿ x₀, so dJ/dx₀ = a²ⁿ x₀ and dJ/da = n a²ⁿ⁻¹ x₀².
    let (a, x0, n) = (0.9, 1.7, 12usize);
    let model = DrivenScalar {
        a,
        inputs: vec![0.0; n],
    };
    for storage in [Storage::All, Storage::Stages, Storage::Checkpoints(3)] {
        let r = value_and_gradient(&model, &[x0], n, &HalfSquare(Some(n)), storage).unwrap();
        let xn = a.powi(n as i32) * x0;
        assert!((r.cost - 0.5 * xn * xn).abs() < 1e-15);
        let dx0 = a.powi(2 * n as i32) * x0;
        let da = n as f64 * a.powi(2 * n as i32 - 1) * x0 * x0;
        assert!(
            (r.state_gradient[0] - dx0).abs() <= 1e-14 * dx0.abs(),
            "{r:?}"
        );
        assert!(
            (r.param_gradient[0] - da).abs() <= 1e-14 * da.abs(),
            "{r:?}"
        );
    }
}

#[test]
fn sweep_returns_the_gradient_with_respect_to_every_input() {
    // x_n = aⁿx₀ + Σ_k a^{n−1−k} u_k, so dJ/du_k = x_n a^{n−1−k}.
    let n = 9;
    let inputs = random_vector(n, 3);
    let model = DrivenScalar { a: 1.1, inputs };
    let mut xn = 0.0;
    integrate(&model, &[0.4], n, |k, x| {
        if k == n {
            xn = x[0];
        }
    })
    .unwrap();
    let r = value_and_gradient(
        &model,
        &[0.4],
        n,
        &HalfSquare(Some(n)),
        Storage::Checkpoints(2),
    )
    .unwrap();
    assert_eq!(r.input_gradient.len(), n);
    for (k, g) in r.input_gradient.iter().enumerate() {
        let expected = xn * 1.1f64.powi((n - 1 - k) as i32);
        assert!(
            (g - expected).abs() <= 1e-13 * expected.abs(),
            "k={k}: {g} vs {expected}"
        );
    }
}

#[test]
fn a_cost_at_step_zero_and_a_window_of_zero_steps_are_handled() {
    let model = DrivenScalar {
        a: 2.0,
        inputs: vec![],
    };
    for storage in [Storage::All, Storage::Stages, Storage::Checkpoints(1)] {
        let r = value_and_gradient(&model, &[3.0], 0, &HalfSquare(Some(0)), storage).unwrap();
        assert_eq!(r.cost, 4.5);
        assert_eq!(r.state_gradient, vec![3.0]);
        assert_eq!(r.param_gradient, vec![0.0]);
        assert_eq!(r.forward_steps, 0);
    }
}

fn lorenz96_problem(steps: usize) -> (fourdvar::models::Lorenz96, Vec<f64>, QuadraticMisfit) {
    let model = lorenz96(40, 8.0, 0.05);
    let x = integrate(&model, &model.default_initial_state(), 500, |_, _| {}).unwrap();
    let shift = random_vector(40, 11);
    let start: Vec<f64> = x.iter().zip(&shift).map(|(a, b)| a + 0.3 * b).collect();
    let mut targets = Vec::new();
    integrate(&model, &start, steps, |_, s| targets.extend_from_slice(s)).unwrap();
    let active = (0..=steps).map(|k| k % 3 != 1).collect();
    (model, x, QuadraticMisfit::new(40, 1.0, targets, active))
}

fn relative_difference(a: &[f64], b: &[f64]) -> f64 {
    let diff: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f64>()
        .sqrt();
    let scale = b.iter().map(|y| y * y).sum::<f64>().sqrt();
    if scale == 0.0 {
        diff
    } else {
        diff / scale
    }
}

#[test]
fn checkpointing_gives_the_full_storage_gradient_with_the_revolve_number_of_steps() {
    for steps in [1usize, 2, 7, 20, 64] {
        let (model, x, cost) = lorenz96_problem(steps);
        let full = value_and_gradient(&model, &x, steps, &cost, Storage::All).unwrap();
        assert_eq!(full.forward_steps, steps as u64);
        for snapshots in [1usize, 2, 3, 5, 8, steps + 3] {
            let cp = value_and_gradient(&model, &x, steps, &cost, Storage::Checkpoints(snapshots))
                .unwrap();
            let bound = revolve_forward_steps(steps as u64, snapshots as u64);
            println!(
                "steps {steps:3} snapshots {snapshots:3}: {} forward steps, Revolve bound {} + 1 for the last state",
                cp.forward_steps, bound
            );
            // Every step of the forward sweep and every recomputation is counted; the one
            // extra step produces x_l for the terminal cost.
            assert_eq!(
                cp.forward_steps,
                bound + 1,
                "steps {steps} snapshots {snapshots}"
            );
            assert!((cp.cost - full.cost).abs() <= 1e-14 * full.cost.abs());
            assert!(relative_difference(&cp.state_gradient, &full.state_gradient) <= 1e-14);
            assert!(relative_difference(&cp.param_gradient, &full.param_gradient) <= 1e-14);
        }
    }
    // 1000 steps with 10 states: repetition number t = 4 (C(14, 10) = 1001 ≥ 1000), so
    // p = 4·1000 − C(14, 3) = 3636 forward steps, 3.6 times a plain forward run.
    assert_eq!(revolve_forward_steps(1000, 10), 3636);
}

#[test]
fn a_blow_up_is_reported_with_its_step() {
    // dt = 1 is far beyond RK4's stability limit for Lorenz-96.
    let model = lorenz96(40, 8.0, 1.0);
    let x = model.default_initial_state();
    let err = integrate(&model, &x, 10_000, |_, _| {}).unwrap_err();
    let Error::NonFinite { step, .. } = err else {
        panic!("expected a non-finite error, got {err}")
    };
    assert!(step > 0 && step < 10_000);
    // The sweep stops at the same step, in both storage modes.
    let cost = HalfSquare(None);
    for storage in [Storage::All, Storage::Stages, Storage::Checkpoints(4)] {
        match value_and_gradient(&model, &x, 10_000, &cost, storage) {
            Err(Error::NonFinite { step: s, .. }) => assert_eq!(s, step),
            other => panic!("expected a non-finite error, got {other:?}"),
        }
    }
}

#[test]
fn a_wrong_initial_state_length_is_an_error() {
    let (model, _, cost) = lorenz96_problem(3);
    let err = value_and_gradient(&model, &[1.0; 39], 3, &cost, Storage::All).unwrap_err();
    assert!(err.to_string().contains("39"), "{err}");
    let err = value_and_gradient(&model, &[1.0; 40], 3, &cost, Storage::Checkpoints(0));
    assert!(err.is_err());
}
