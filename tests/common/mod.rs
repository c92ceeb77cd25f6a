//! Test helpers shared by the test files: views of a recurrent cell (Elman or GRU) that let
//! the core's generic derivative checks cover each part of it, the assertions of those
//! checks, and a neural-ODE network with random weights.
#![allow(dead_code)]

use fourdvar::core::verification::{DotProductReport, TaylorReport};
use fourdvar::core::{AdjointOutputs, Dynamics, TangentInputs};
use fourdvar::rnn::recurrent::RecurrentWorkspace;
use fourdvar::rnn::RecurrentCell;

/// The cell seen as an undriven model (input_len 0), so the core's taylor_test and
/// dot_product_test (which pass no input perturbation) check the h and θ parts.
#[derive(Clone)]
pub struct Undriven(pub RecurrentCell);

impl Dynamics for Undriven {
    type Workspace = RecurrentWorkspace;
    fn state_len(&self) -> usize {
        self.0.state_len()
    }
    fn param_len(&self) -> usize {
        self.0.param_len()
    }
    fn params(&self) -> Vec<f64> {
        self.0.params()
    }
    fn set_params(&mut self, params: &[f64]) {
        self.0.set_params(params)
    }
    fn workspace(&self) -> RecurrentWorkspace {
        self.0.workspace()
    }
    fn step(&self, ws: &mut RecurrentWorkspace, k: usize, x: &[f64], x_next: &mut [f64]) {
        self.0.step(ws, k, x, x_next)
    }
    fn step_tl(
        &self,
        ws: &mut RecurrentWorkspace,
        k: usize,
        x: &[f64],
        t: TangentInputs<'_>,
        dx: &mut [f64],
    ) {
        self.0.step_tl(ws, k, x, t, dx)
    }
    fn step_ad(
        &self,
        ws: &mut RecurrentWorkspace,
        k: usize,
        x: &[f64],
        x_next: &[f64],
        l: &[f64],
        out: AdjointOutputs<'_>,
    ) {
        self.0.step_ad(ws, k, x, x_next, l, out)
    }
}

/// The cell with its input sequence as the "parameters" (θ fixed): the core's checks then
/// cover the input part of the TL (TangentInputs.input) and of the AD (ū_k).
#[derive(Clone)]
pub struct InputsAsParams(pub RecurrentCell);

impl Dynamics for InputsAsParams {
    type Workspace = RecurrentWorkspace;
    fn state_len(&self) -> usize {
        self.0.state_len()
    }
    fn param_len(&self) -> usize {
        self.0.sequence().len()
    }
    fn params(&self) -> Vec<f64> {
        self.0.sequence().to_vec()
    }
    fn set_params(&mut self, params: &[f64]) {
        self.0.set_sequence(params)
    }
    fn workspace(&self) -> RecurrentWorkspace {
        self.0.workspace()
    }
    fn step(&self, ws: &mut RecurrentWorkspace, k: usize, x: &[f64], x_next: &mut [f64]) {
        self.0.step(ws, k, x, x_next)
    }
    fn step_tl(
        &self,
        ws: &mut RecurrentWorkspace,
        k: usize,
        x: &[f64],
        t: TangentInputs<'_>,
        dx: &mut [f64],
    ) {
        let tangent = TangentInputs {
            state: t.state,
            params: &[],
            input: &t.params[k * self.0.input_len()..(k + 1) * self.0.input_len()],
        };
        self.0.step_tl(ws, k, x, tangent, dx)
    }
    fn step_ad(
        &self,
        ws: &mut RecurrentWorkspace,
        k: usize,
        x: &[f64],
        x_next: &[f64],
        l: &[f64],
        out: AdjointOutputs<'_>,
    ) {
        let out = AdjointOutputs {
            state: out.state,
            params: &mut [],
            input: &mut out.params[k * self.0.input_len()..(k + 1) * self.0.input_len()],
        };
        self.0.step_ad(ws, k, x, x_next, l, out)
    }
}

pub fn assert_taylor(report: &TaylorReport, what: &str) {
    println!(
        "{what}: best |ratio-1| = {:.3e}, slope {:.4} over {:.1} decades",
        report.best_ratio_error, report.slope, report.slope_decades
    );
    assert!(report.best_ratio_error <= 1e-6, "{what}: {report:?}");
    assert!((report.slope - 2.0).abs() <= 0.1, "{what}: {report:?}");
    assert!(report.slope_decades >= 4.0, "{what}: {report:?}");
}

pub fn assert_dot(report: &DotProductReport, what: &str) {
    println!(
        "{what}: <M'dx,dy> = {:.15e}, <dx,M'^T dy> = {:.15e}, relative {:.3e}, absolute {:.3e}",
        report.tangent_side, report.adjoint_side, report.relative_error, report.absolute_error
    );
    assert!(report.tangent_side.abs() > 1e-3, "{what}: degenerate test");
    assert!(report.relative_error <= 1e-13, "{what}: {report:?}");
    assert!(report.absolute_error <= 1e-13, "{what}: {report:?}");
}

/// A per-site network (radius 2, width 8) with weights N(0, 0.5²) from `seed`, centred at 2
/// and scaled by 3.5 like a Lorenz-96 state: the neural ODE of the derivative and
/// continuous-adjoint tests.
pub fn random_stencil_net(seed: u64) -> fourdvar::models::stencil_mlp::StencilMlp {
    use fourdvar::models::stencil_mlp::StencilMlp;
    let (radius, hidden) = (2, 8);
    let theta =
        fourdvar::core::verification::random_vector(StencilMlp::param_count(radius, hidden), seed)
            .into_iter()
            .map(|v| 0.5 * v)
            .collect();
    StencilMlp {
        radius,
        hidden,
        mean: 2.0,
        scale: 3.5,
        theta,
    }
}
