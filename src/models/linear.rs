//! A linear model x_{k+1} = A x_k with a dense matrix A: the system on which 4D-Var must equal
//! the closed-form best linear unbiased estimate (BLUE), and a small teaching example.

use crate::core::{AdjointOutputs, Dynamics, TangentInputs};

/// x_{k+1} = A x_k, with A stored row-major.
#[derive(Clone, Debug)]
pub struct LinearModel {
    n: usize,
    matrix: Vec<f64>,
}

impl LinearModel {
    /// The model of the n×n matrix A (row-major); None when the length is not a square.
    pub fn new(n: usize, matrix: Vec<f64>) -> Option<Self> {
        (matrix.len() == n * n).then_some(Self { n, matrix })
    }

    /// A, row-major.
    pub fn matrix(&self) -> &[f64] {
        &self.matrix
    }
}

impl Dynamics for LinearModel {
    type Workspace = ();

    fn state_len(&self) -> usize {
        self.n
    }

    fn workspace(&self) {}

    fn step(&self, _: &mut (), _: usize, x: &[f64], x_next: &mut [f64]) {
        for (row, out) in self.matrix.chunks_exact(self.n).zip(x_next.iter_mut()) {
            *out = crate::core::vector::dot(row, x);
        }
    }

    /// The model is linear: its tangent-linear model is itself.
    fn step_tl(&self, ws: &mut (), k: usize, _: &[f64], t: TangentInputs<'_>, dx_next: &mut [f64]) {
        self.step(ws, k, t.state, dx_next);
    }

    /// λ_k = Aᵀ λ_{k+1}.
    fn step_ad(
        &self,
        _: &mut (),
        _: usize,
        _: &[f64],
        _: &[f64],
        lambda_next: &[f64],
        out: AdjointOutputs<'_>,
    ) {
        out.state.fill(0.0);
        for (row, l) in self.matrix.chunks_exact(self.n).zip(lambda_next) {
            crate::core::vector::axpy(*l, row, out.state);
        }
    }
}
