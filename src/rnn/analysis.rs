//! What the adjoint sweep says about a trained network, beyond the weight gradient: how the
//! loss depends on each input step, and how the gradient ∂L/∂h_t grows or fades with the lag
//! T − t. Both come from the core's one sweep ([`sequence_gradient`] and
//! [`crate::core::Sweeper`]); there is no backward loop here. The per-step adjoints
//! λ_t = ∂L/∂h_t are read by wrapping the cell in a [`Dynamics`] that forwards every call and
//! records ‖λ_{t+1}‖ when the sweep hands it to the adjoint step of step t.

use std::cell::RefCell;

use super::loss::SequenceLoss;
use super::recurrent::RecurrentCell;
use super::{sequence_gradient, SequenceGradient};
use crate::core::sweep::cost_value;
use crate::core::vector::norm;
use crate::core::{
    integrate, AdjointOutputs, Dynamics, StageCost, Storage, Sweeper, TangentInputs,
};
use crate::error::{Error, Result};

/// The input sensitivity of one sequence and a fast-gradient-sign attack on it.
#[derive(Clone, Debug)]
pub struct InputSensitivity {
    /// L of the unperturbed sequence.
    pub loss: f64,
    /// ∂L/∂u_t, T×m row-major (the sweep's input gradient).
    pub gradient: Vec<f64>,
    /// ‖∂L/∂u_t‖₂ for every step t.
    pub norms: Vec<f64>,
    /// The step with the largest ‖∂L/∂u_t‖ (the first one on ties).
    pub most_sensitive: usize,
    /// The k most sensitive steps, most sensitive first.
    pub top_steps: Vec<usize>,
    /// The attack size ε.
    pub epsilon: f64,
    /// L after u_t ← u_t + ε sign(∂L/∂u_t) at the top steps.
    pub loss_perturbed: f64,
    /// The first-order prediction of the loss change, ε Σ_{t ∈ top} ‖∂L/∂u_t‖₁.
    pub predicted_change: f64,
    /// The largest change of any output y_{t,i} = (V h_{t+1} + c)_i over the sequence.
    pub output_change_max: f64,
    /// The root-mean-square change of the outputs over every step and output.
    pub output_change_rms: f64,
}

/// The readout y_t = V h_{t+1} + c for every step t = 0..T−1 (T×o row-major).
fn outputs(cell: &RecurrentCell, h0: &[f64], loss: &SequenceLoss) -> Result<Vec<f64>> {
    let d = cell.shape().hidden;
    let o = loss.readout().len() / (d + 1);
    let steps = cell.sequence_len();
    let mut ys = vec![0.0; steps * o];
    integrate(cell, h0, steps, |k, h| {
        if k >= 1 {
            loss.outputs(h, &mut ys[(k - 1) * o..k * o]);
        }
    })?;
    Ok(ys)
}

/// ∂L/∂u_t for every step from one BPTT sweep, the most sensitive steps, and the fast-
/// gradient-sign perturbation u_t ← u_t + ε sign(∂L/∂u_t) applied at the `top` most sensitive
/// steps (ranked by ‖∂L/∂u_t‖₂): the loss after it and the change of the outputs.
/// To first order the loss grows by ε Σ_{t ∈ top} ‖∂L/∂u_t‖₁.
pub fn input_sensitivity(
    cell: &RecurrentCell,
    h0: &[f64],
    loss: &SequenceLoss,
    epsilon: f64,
    top: usize,
) -> Result<InputSensitivity> {
    if !epsilon.is_finite() || epsilon < 0.0 {
        return Err(Error::invalid(
            "perturbation size epsilon",
            format!("must be a finite number >= 0, got {epsilon}"),
        ));
    }
    let steps = cell.sequence_len();
    let m = cell.shape().inputs;
    if steps == 0 || m == 0 {
        return Err(Error::invalid(
            "input sequence",
            "input sensitivity needs at least one step with at least one input",
        ));
    }
    if top == 0 || top > steps {
        return Err(Error::invalid(
            "number of perturbed steps",
            format!("must be between 1 and the number of steps ({steps}), got {top}"),
        ));
    }
    let SequenceGradient {
        loss: value,
        inputs: gradient,
        ..
    } = sequence_gradient(cell, h0, loss, Storage::All)?;
    let norms: Vec<f64> = gradient.chunks_exact(m).map(norm).collect();
    let mut order: Vec<usize> = (0..steps).collect();
    // Stable sort: ties keep the earlier step first.
    order.sort_by(|&a, &b| norms[b].total_cmp(&norms[a]));
    let top_steps: Vec<usize> = order[..top].to_vec();
    let most_sensitive = top_steps[0];

    let mut perturbed = cell.sequence().to_vec();
    let mut predicted_change = 0.0;
    for &t in &top_steps {
        for (u, g) in perturbed[t * m..(t + 1) * m]
            .iter_mut()
            .zip(&gradient[t * m..(t + 1) * m])
        {
            // sign(0) = 0: an input with no influence is left alone.
            let s = if *g > 0.0 {
                1.0
            } else if *g < 0.0 {
                -1.0
            } else {
                0.0
            };
            *u += epsilon * s;
            predicted_change += epsilon * g.abs();
        }
    }
    let mut attacked = cell.clone();
    attacked.set_sequence(&perturbed);
    let loss_perturbed = cost_value(&attacked, h0, steps, loss)?;
    let (before, after) = (outputs(cell, h0, loss)?, outputs(&attacked, h0, loss)?);
    let (mut max, mut sq) = (0.0f64, 0.0);
    for (a, b) in before.iter().zip(&after) {
        max = max.max((b - a).abs());
        sq += (b - a) * (b - a);
    }
    let output_change_rms = (sq / before.len().max(1) as f64).sqrt();
    Ok(InputSensitivity {
        loss: value,
        gradient,
        norms,
        most_sensitive,
        top_steps,
        epsilon,
        loss_perturbed,
        predicted_change,
        output_change_max: max,
        output_change_rms,
    })
}

/// A cell that records ‖λ_{k+1}‖ each time the sweep calls its adjoint step k, and otherwise
/// is the cell itself. Recording writes one number into a buffer sized once: no allocation.
struct AdjointRecorder<'a, D> {
    cell: &'a D,
    norms: RefCell<Vec<f64>>,
}

impl<D: Dynamics> Dynamics for AdjointRecorder<'_, D> {
    type Workspace = D::Workspace;

    fn state_len(&self) -> usize {
        self.cell.state_len()
    }

    fn param_len(&self) -> usize {
        self.cell.param_len()
    }

    fn input_len(&self) -> usize {
        self.cell.input_len()
    }

    fn params(&self) -> Vec<f64> {
        self.cell.params()
    }

    fn workspace(&self) -> D::Workspace {
        self.cell.workspace()
    }

    fn step(&self, ws: &mut D::Workspace, k: usize, x: &[f64], x_next: &mut [f64]) {
        self.cell.step(ws, k, x, x_next)
    }

    fn step_tl(
        &self,
        ws: &mut D::Workspace,
        k: usize,
        x: &[f64],
        tangent: TangentInputs<'_>,
        dx_next: &mut [f64],
    ) {
        self.cell.step_tl(ws, k, x, tangent, dx_next)
    }

    /// The cell's adjoint step, after recording ‖λ_{k+1}‖ (the full ∂L/∂h_{k+1}: the sweep
    /// has already added the stage cost of step k + 1).
    fn step_ad(
        &self,
        ws: &mut D::Workspace,
        k: usize,
        x: &[f64],
        x_next: &[f64],
        lambda_next: &[f64],
        out: AdjointOutputs<'_>,
    ) {
        if let Some(slot) = self.norms.borrow_mut().get_mut(k + 1) {
            *slot = norm(lambda_next);
        }
        self.cell.step_ad(ws, k, x, x_next, lambda_next, out)
    }
}

/// The gradient flow of one sequence: ‖∂L/∂h_t‖ at every step.
#[derive(Clone, Debug)]
pub struct GradientFlow {
    /// L.
    pub loss: f64,
    /// norms[t] = ‖∂L/∂h_t‖₂ = ‖λ_t‖₂ for t = 0..=T (λ_0 = ∂L/∂h_0).
    pub norms: Vec<f64>,
}

impl GradientFlow {
    /// (lag T − t, ‖∂L/∂h_t‖) for t = T down to 0: with a loss at the last step only this is
    /// how the gradient fades (vanishing, ‖λ_t‖ ~ ρ^{T−t} with ρ < 1) or grows (exploding).
    pub fn by_lag(&self) -> Vec<(usize, f64)> {
        let last = self.norms.len().saturating_sub(1);
        (0..=last)
            .map(|lag| (lag, self.norms[last - lag]))
            .collect()
    }
}

/// λ_t = ∂L/∂h_t for t = 0..=T from one sweep of the core over the cell's sequence, read by
/// [`AdjointRecorder`]: λ_t = (∂h_{t+1}/∂h_t)ᵀ λ_{t+1} + ∂L_t/∂h_t, λ_T = ∂L_T/∂h_T.
/// The flow runs over `steps` steps of `cell` (for a driven cell, its sequence length).
pub fn gradient_flow<D: Dynamics, C: StageCost>(
    cell: &D,
    h0: &[f64],
    steps: usize,
    loss: &C,
) -> Result<GradientFlow> {
    let recorder = AdjointRecorder {
        cell,
        norms: RefCell::new(vec![0.0; steps + 1]),
    };
    let r = Sweeper::new(&recorder).value_and_gradient(&recorder, h0, steps, loss, Storage::All)?;
    let mut norms = recorder.norms.into_inner();
    norms[0] = norm(&r.state_gradient);
    Ok(GradientFlow {
        loss: r.cost,
        norms,
    })
}
