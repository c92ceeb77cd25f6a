//! Truncated back-propagation through time (TBPTT) with window K, built on
//! [`crate::rnn::sequence_gradient`]: each window [a, b) of a sequence becomes a sub-cell over
//! the input rows a..b and a sub-loss over the matching target rows, and its gradient is one
//! core sweep over b − a steps. Nothing here runs a backward loop of its own.
//!
//! Two variants:
//! - [`TbpttMode::Carry`] (state-carrying): the hidden state at the end of one window is the
//!   h_0 of the next (the forward pass is never reset), and the first boundary is staggered
//!   by an offset o ∈ 0..K (epoch mod K, or seeded random), so windows are
//!   [0, o), [o, o + K), [o + K, o + 2K), …;
//! - [`TbpttMode::Reset`] (naive): windows [0, K), [K, 2K), … each start again from the
//!   network's h_0.
//!
//! In both, the gradient of a window stops at the window's start: a target at step t receives
//! credit from inputs at most K − 1 steps before it.

use crate::core::{integrate, Storage};
use crate::error::{Error, Result};

use super::dataset::{Dataset, Sample};
use super::{sequence_gradient, Network, SequenceGradient};

/// How consecutive TBPTT windows are joined (`--tbptt-mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
#[value(rename_all = "lowercase")]
pub enum TbpttMode {
    /// The end state of a window is the start state of the next; the boundaries are offset.
    Carry,
    /// Every window starts from the network's h_0 at the fixed boundaries 0, K, 2K, ….
    Reset,
}

impl TbpttMode {
    /// The command-line name: "carry" or "reset".
    pub fn name(self) -> String {
        crate::core::choice::choice_name(&self)
    }
}

/// The windows [a, b) of a sequence of `steps` rows for window length K = `window` ≥ 1:
/// with [`TbpttMode::Carry`] the first boundary is o = `offset` mod K (an empty first window
/// is dropped), with [`TbpttMode::Reset`] the offset is ignored and the boundaries are
/// 0, K, 2K, …. K ≥ `steps` with o = 0 gives the single window [0, steps).
pub fn window_bounds(
    steps: usize,
    window: usize,
    mode: TbpttMode,
    offset: usize,
) -> Vec<(usize, usize)> {
    let window = window.max(1);
    let first = match mode {
        TbpttMode::Carry => offset % window,
        TbpttMode::Reset => 0,
    };
    let mut bounds = Vec::with_capacity(steps / window + 2);
    let mut start = 0;
    let mut end = if first == 0 { window } else { first };
    while start < steps {
        let b = end.min(steps);
        bounds.push((start, b));
        start = b;
        end = b + window;
    }
    bounds
}

/// The gradient of one window and the hidden state its forward pass ends in.
#[derive(Clone, Debug)]
pub struct WindowGradient {
    /// First row a of the window.
    pub start: usize,
    /// One past the last row, b.
    pub end: usize,
    /// L_[a,b) and its gradients with respect to the window's start state, θ, [V, c] and the
    /// inputs u_a..u_{b−1} (from one core sweep over b − a steps).
    pub gradient: SequenceGradient,
    /// h_b, the state at the end of the window (the next window's start in carry mode).
    pub end_state: Vec<f64>,
}

/// The loss and gradient of the window [a, b) of `sample` started from `h_start`: the
/// sub-cell over input rows a..b and the sub-loss over target rows a..b, one core sweep
/// ([`sequence_gradient`]) plus one forward pass for h_b.
pub fn window_gradient(
    net: &Network,
    data: &Dataset,
    sample: &Sample,
    (start, end): (usize, usize),
    h_start: &[f64],
    storage: Storage,
) -> Result<WindowGradient> {
    let cell = data.sub_cell(net, sample, start, end)?;
    let loss = data.sub_loss(net, sample, start, end)?;
    let gradient = sequence_gradient(&cell, h_start, &loss, storage)?;
    let end_state = integrate(&cell, h_start, end - start, |_, _| {})?;
    Ok(WindowGradient {
        start,
        end,
        gradient,
        end_state,
    })
}

/// The truncated-BPTT gradient of one sequence with the network held fixed: the sum of the
/// window gradients g = Σ_w ∇L_w over [`window_bounds`]. ∂/∂h_0 collects the windows that
/// start from h_0 (the first in carry mode, all in reset mode); the input gradient is the
/// concatenation of the windows'. With K ≥ T and offset 0 this is exactly
/// [`sequence_gradient`] of the whole sequence.
pub fn truncated_gradient(
    net: &Network,
    data: &Dataset,
    sample: &Sample,
    window: usize,
    mode: TbpttMode,
    offset: usize,
    storage: Storage,
) -> Result<SequenceGradient> {
    if window == 0 {
        return Err(Error::invalid("TBPTT window", "must be at least 1 step"));
    }
    let steps = data.sample_steps(sample);
    let mut total = SequenceGradient {
        loss: 0.0,
        h0: vec![0.0; net.h0.len()],
        theta: vec![0.0; net.theta.len()],
        readout: vec![0.0; net.readout.len()],
        inputs: Vec::with_capacity(sample.inputs.len()),
    };
    let mut h = net.h0.clone();
    for (i, bounds) in window_bounds(steps, window, mode, offset)
        .into_iter()
        .enumerate()
    {
        let start_state = match mode {
            TbpttMode::Carry => h.clone(),
            TbpttMode::Reset => net.h0.clone(),
        };
        let w = window_gradient(net, data, sample, bounds, &start_state, storage)?;
        total.loss += w.gradient.loss;
        if mode == TbpttMode::Reset || i == 0 {
            add(&mut total.h0, &w.gradient.h0);
        }
        add(&mut total.theta, &w.gradient.theta);
        add(&mut total.readout, &w.gradient.readout);
        total.inputs.extend_from_slice(&w.gradient.inputs);
        h = w.end_state;
    }
    Ok(total)
}

/// y ← y + x.
fn add(y: &mut [f64], x: &[f64]) {
    for (a, b) in y.iter_mut().zip(x) {
        *a += b;
    }
}
