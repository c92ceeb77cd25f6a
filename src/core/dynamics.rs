//! The core contract: a discrete dynamical system x_{k+1} = M_k(x_k; θ, u_k) with its
//! hand-written tangent-linear and adjoint steps, and a cost made of per-step terms J_k(x_k).
//!
//! 4D-Var and recurrent-network training both fit this shape: for 4D-Var M is the atmosphere
//! model, θ its parameters and J_k the observation misfit at step k; for an RNN M is the cell,
//! θ its weights, u_k the input at step k and J_k the loss at step k.

/// Perturbations fed to a tangent-linear step: δx_k, δθ and δu_k.
#[derive(Clone, Copy, Debug)]
pub struct TangentInputs<'a> {
    /// State perturbation δx_k (length [`Dynamics::state_len`]).
    pub state: &'a [f64],
    /// Parameter perturbation δθ (length [`Dynamics::param_len`]; empty when there are none).
    pub params: &'a [f64],
    /// Input perturbation δu_k (length [`Dynamics::input_len`]; empty for undriven models).
    pub input: &'a [f64],
}

/// Where an adjoint step writes its results.
#[derive(Debug)]
pub struct AdjointOutputs<'a> {
    /// Overwritten with λ_k = (∂M_k/∂x_k)ᵀ λ_{k+1}.
    pub state: &'a mut [f64],
    /// Accumulates θ̄ += (∂M_k/∂θ)ᵀ λ_{k+1}.
    pub params: &'a mut [f64],
    /// Accumulates ū_k += (∂M_k/∂u_k)ᵀ λ_{k+1}.
    pub input: &'a mut [f64],
}

/// A discrete dynamical system with hand-written tangent-linear (TL) and adjoint (AD) steps.
///
/// The TL and AD are the exact derivatives of the *discrete* step (for a Runge–Kutta model,
/// of every stage), so the adjoint sweep gives the exact gradient of the discrete cost.
/// Models with stages recompute them from x_k inside `step_tl` / `step_ad`: only x_k is stored
/// per step. All scratch space lives in a [`Dynamics::Workspace`] made once per run, so the
/// step loop never allocates.
pub trait Dynamics {
    /// Scratch buffers for one step; created once by [`Dynamics::workspace`].
    type Workspace;

    /// Length of the state vector x.
    fn state_len(&self) -> usize;

    /// Number of parameters θ that may be estimated (0 when none).
    fn param_len(&self) -> usize {
        0
    }

    /// Length of the external input u_k of one step (0 for an undriven model).
    fn input_len(&self) -> usize {
        0
    }

    /// The current parameter values θ (length [`Dynamics::param_len`]).
    fn params(&self) -> Vec<f64> {
        Vec::new()
    }

    /// Replaces the parameter values θ; `params.len()` must equal [`Dynamics::param_len`].
    fn set_params(&mut self, params: &[f64]) {
        assert!(params.is_empty(), "this model has no parameters");
    }

    /// Allocates the scratch space for steps of this model.
    fn workspace(&self) -> Self::Workspace;

    /// Forward step: x_next = M_k(x).
    fn step(&self, ws: &mut Self::Workspace, k: usize, x: &[f64], x_next: &mut [f64]);

    /// Tangent-linear step: dx_next = ∂M_k/∂x · δx + ∂M_k/∂θ · δθ + ∂M_k/∂u · δu, linearised
    /// at x.
    fn step_tl(
        &self,
        ws: &mut Self::Workspace,
        k: usize,
        x: &[f64],
        tangent: TangentInputs<'_>,
        dx_next: &mut [f64],
    );

    /// Adjoint step: given λ_{k+1}, writes λ_k = (∂M_k/∂x)ᵀ λ_{k+1} and accumulates the
    /// parameter and input gradients, linearised at x = x_k. The sweep also passes
    /// x_next = M_k(x_k), which it holds anyway: a model whose derivative is a function of
    /// its output (tanh' = 1 − h²) uses it instead of recomputing the step.
    fn step_ad(
        &self,
        ws: &mut Self::Workspace,
        k: usize,
        x: &[f64],
        x_next: &[f64],
        lambda_next: &[f64],
        out: AdjointOutputs<'_>,
    );

    /// Values per step a forward step can record so that its adjoint step need not
    /// recompute them (for RK4 the intermediate stages s₂, s₃, s₄: 3n); 0 when the model
    /// records nothing. [`crate::core::Storage::Stages`] keeps them for every step.
    fn tape_len(&self) -> usize {
        0
    }

    /// [`Dynamics::step`] that also writes the step's tape (length [`Dynamics::tape_len`]).
    /// x_next must be bit-for-bit the result of [`Dynamics::step`].
    fn step_recording(
        &self,
        ws: &mut Self::Workspace,
        k: usize,
        x: &[f64],
        x_next: &mut [f64],
        _tape: &mut [f64],
    ) {
        self.step(ws, k, x, x_next)
    }

    /// [`Dynamics::step_ad`] reading the tape [`Dynamics::step_recording`] wrote at the same
    /// x instead of recomputing it. The results must be bit-for-bit those of
    /// [`Dynamics::step_ad`]: the same operations in the same order, only not repeated.
    #[allow(clippy::too_many_arguments)]
    fn step_ad_recorded(
        &self,
        ws: &mut Self::Workspace,
        k: usize,
        x: &[f64],
        x_next: &[f64],
        _tape: &[f64],
        lambda_next: &[f64],
        out: AdjointOutputs<'_>,
    ) {
        self.step_ad(ws, k, x, x_next, lambda_next, out)
    }
}

/// A cost that is a sum of per-step terms, J = Σ_k J_k(x_k), k = 0..=steps.
///
/// Steps with no data (sparse observations, sparse events) report `is_active(k) == false`
/// and cost nothing. A stage cost may have parameters of its own (an RNN readout).
pub trait StageCost {
    /// Number of the cost's own parameters (0 when none).
    fn param_len(&self) -> usize {
        0
    }

    /// Whether step k contributes to the cost at all.
    fn is_active(&self, k: usize) -> bool;

    /// J_k(x_k).
    fn value(&self, k: usize, x: &[f64]) -> f64;

    /// Returns J_k(x_k) and accumulates x̄ += ∂J_k/∂x_k and p̄ += ∂J_k/∂p for the cost's own
    /// parameters p.
    fn value_and_gradient(
        &self,
        k: usize,
        x: &[f64],
        x_bar: &mut [f64],
        params_bar: &mut [f64],
    ) -> f64;
}
