//! Weak-constraint 4D-Var in the model-error forcing formulation: the model may be wrong by
//! η_k on a chosen set of steps,
//!
//! x_{k+1} = M_k(x_k) + η_k,   J_q = ½ Σ_k η_kᵀ Q⁻¹ η_k,
//!
//! with η_k = Q^½ w_k in the control vector (x₀, η) → (v, w), so J_q = ½ Σ_k w_kᵀ w_k. The
//! gradient with respect to η_k is the adjoint state λ_{k+1}: exactly the input gradient
//! ∂J/∂u_k the adjoint sweep returns for a driven model (the RNN's ∂L/∂u_t). [`Forced`] makes
//! the model a driven one, with η as its input, so the one sweep gives both.

use std::cell::RefCell;
use std::sync::Arc;

use crate::core::{AdjointOutputs, Dynamics, TangentInputs};
use crate::cov::BackgroundCovariance;
use crate::error::{Error, Result};

/// Where model error enters and how large it is.
#[derive(Clone, Debug)]
pub struct ModelError {
    covariance: Arc<BackgroundCovariance>,
    /// The steps k whose result x_{k+1} gets η_k: every `every`-th (x_m, x_2m, …).
    forced: Vec<usize>,
    steps: usize,
}

impl ModelError {
    /// Model error with covariance Q = `covariance` entering x_m, x_2m, … (m = `every`) of a
    /// window of `steps` steps.
    pub fn new(covariance: Arc<BackgroundCovariance>, every: usize, steps: usize) -> Result<Self> {
        if every == 0 {
            return Err(Error::invalid("model error", "q_every must be at least 1"));
        }
        let forced: Vec<usize> = (0..steps).filter(|k| (k + 1) % every == 0).collect();
        if forced.is_empty() {
            return Err(Error::invalid(
                "model error",
                format!("q_every = {every} forces no step of a {steps}-step window"),
            ));
        }
        Ok(Self {
            covariance,
            forced,
            steps,
        })
    }

    /// The steps k whose x_{k+1} receives η_k.
    pub fn forced_steps(&self) -> &[usize] {
        &self.forced
    }

    /// Values of w in the control vector: one state per forced step.
    pub fn len(&self) -> usize {
        self.forced.len() * self.covariance.len()
    }

    /// Whether there is no forced step (never: [`ModelError::new`] refuses that).
    pub fn is_empty(&self) -> bool {
        self.forced.is_empty()
    }

    /// η_k = Q^½ w_k on the forced steps, zero on the others: row-major (steps × n).
    pub fn forcing(&self, w: &[f64]) -> Vec<f64> {
        let n = self.covariance.len();
        let mut eta = vec![0.0; self.steps * n];
        for (j, &k) in self.forced.iter().enumerate() {
            self.covariance
                .sqrt_apply(&w[j * n..(j + 1) * n], &mut eta[k * n..(k + 1) * n]);
        }
        eta
    }

    /// J_q = ½ Σ w_kᵀ w_k, with its gradient w + (Q^½)ᵀ ∂J_o/∂η_k written to `gradient` from
    /// the sweep's input gradient ∂J_o/∂η (row-major, steps × n).
    pub fn term(&self, w: &[f64], input_gradient: &[f64], gradient: &mut [f64]) -> f64 {
        let n = self.covariance.len();
        for (j, &k) in self.forced.iter().enumerate() {
            let out = &mut gradient[j * n..(j + 1) * n];
            self.covariance
                .sqrt_adjoint_apply(&input_gradient[k * n..(k + 1) * n], out);
            for (g, wi) in out.iter_mut().zip(&w[j * n..(j + 1) * n]) {
                *g += wi;
            }
        }
        0.5 * w.iter().map(|x| x * x).sum::<f64>()
    }
}

/// The model driven by a model-error forcing: x_{k+1} = M_k(x_k) + η_k, with η (row-major,
/// rows for steps 0..) as its input; steps past the last row are unforced.
pub struct Forced<'a, D> {
    model: &'a D,
    eta: &'a [f64],
    /// M_k(x_k) = x_{k+1} − η_k, for models whose adjoint reads their output.
    unforced: RefCell<Vec<f64>>,
}

impl<'a, D: Dynamics> Forced<'a, D> {
    /// `model` driven by the forcing `eta` (row-major, one row per step).
    pub fn new(model: &'a D, eta: &'a [f64]) -> Self {
        Self {
            model,
            eta,
            unforced: RefCell::new(vec![0.0; model.state_len()]),
        }
    }

    fn row(&self, k: usize) -> Option<&[f64]> {
        let n = self.model.state_len();
        self.eta.get(k * n..(k + 1) * n)
    }

    /// x_{k+1} += η_k.
    fn add_forcing(&self, k: usize, x_next: &mut [f64]) {
        if let Some(eta) = self.row(k) {
            x_next.iter_mut().zip(eta).for_each(|(a, e)| *a += e);
        }
    }

    /// The adjoint of a forced step: ∂x_{k+1}/∂η_k = I, so the input gradient is λ_{k+1}
    /// itself; the rest is the inner model's adjoint, run by `inner_adjoint` with the inner
    /// model's output M_k(x_k) = x_{k+1} − η_k.
    fn adjoint(
        &self,
        k: usize,
        x_next: &[f64],
        lambda_next: &[f64],
        out: AdjointOutputs<'_>,
        inner_adjoint: impl FnOnce(&[f64], AdjointOutputs<'_>),
    ) {
        out.input
            .iter_mut()
            .zip(lambda_next)
            .for_each(|(a, l)| *a += l);
        let inner = AdjointOutputs {
            state: out.state,
            params: out.params,
            input: &mut [],
        };
        match self.row(k) {
            None => inner_adjoint(x_next, inner),
            Some(eta) => {
                let mut unforced = self.unforced.borrow_mut();
                for ((u, a), e) in unforced.iter_mut().zip(x_next).zip(eta) {
                    *u = a - e;
                }
                inner_adjoint(&unforced, inner);
            }
        }
    }
}

impl<D: Dynamics> Dynamics for Forced<'_, D> {
    type Workspace = D::Workspace;

    fn state_len(&self) -> usize {
        self.model.state_len()
    }
    fn param_len(&self) -> usize {
        self.model.param_len()
    }
    fn input_len(&self) -> usize {
        self.model.state_len()
    }
    fn params(&self) -> Vec<f64> {
        self.model.params()
    }
    fn workspace(&self) -> Self::Workspace {
        self.model.workspace()
    }
    fn step(&self, ws: &mut Self::Workspace, k: usize, x: &[f64], x_next: &mut [f64]) {
        self.model.step(ws, k, x, x_next);
        self.add_forcing(k, x_next);
    }
    /// The inner model's tape: η_k is added after the model step, so it does not change it.
    fn tape_len(&self) -> usize {
        self.model.tape_len()
    }
    fn step_recording(
        &self,
        ws: &mut Self::Workspace,
        k: usize,
        x: &[f64],
        x_next: &mut [f64],
        tape: &mut [f64],
    ) {
        self.model.step_recording(ws, k, x, x_next, tape);
        self.add_forcing(k, x_next);
    }
    fn step_ad_recorded(
        &self,
        ws: &mut Self::Workspace,
        k: usize,
        x: &[f64],
        x_next: &[f64],
        tape: &[f64],
        lambda_next: &[f64],
        out: AdjointOutputs<'_>,
    ) {
        self.adjoint(k, x_next, lambda_next, out, |x_unforced, inner| {
            self.model
                .step_ad_recorded(ws, k, x, x_unforced, tape, lambda_next, inner)
        })
    }
    fn step_tl(
        &self,
        ws: &mut Self::Workspace,
        k: usize,
        x: &[f64],
        tangent: TangentInputs<'_>,
        dx_next: &mut [f64],
    ) {
        let inner = TangentInputs {
            state: tangent.state,
            params: tangent.params,
            input: &[],
        };
        self.model.step_tl(ws, k, x, inner, dx_next);
        dx_next
            .iter_mut()
            .zip(tangent.input)
            .for_each(|(a, d)| *a += d);
    }
    fn step_ad(
        &self,
        ws: &mut Self::Workspace,
        k: usize,
        x: &[f64],
        x_next: &[f64],
        lambda_next: &[f64],
        out: AdjointOutputs<'_>,
    ) {
        self.adjoint(k, x_next, lambda_next, out, |x_unforced, inner| {
            self.model.step_ad(ws, k, x, x_unforced, lambda_next, inner)
        })
    }
}
