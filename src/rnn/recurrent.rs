//! [`RecurrentCell`]: an Elman cell or a GRU behind one [`Dynamics`], so that training,
//! evaluation, prediction and the analyses run either kind through the same sweep.

use crate::core::{AdjointOutputs, Dynamics, TangentInputs};

use super::cell::{Activation, CellShape, CellWorkspace, ElmanCell};
use super::gru::{GruCell, GruWorkspace};

/// A network's recurrent cell, driven by its input sequence.
#[derive(Clone, Debug)]
pub enum RecurrentCell {
    /// h' = σ(W h + U u + b).
    Elman(ElmanCell),
    /// The gated recurrent unit.
    Gru(GruCell),
}

/// The workspace of a [`RecurrentCell`], of the same kind as the cell that made it.
#[derive(Clone, Debug)]
pub enum RecurrentWorkspace {
    /// An Elman cell's.
    Elman(CellWorkspace),
    /// A GRU's.
    Gru(GruWorkspace),
}

/// Runs `$body` with the cell and workspace of the same kind bound to `$c` and `$w`. A
/// workspace is only ever made by [`Dynamics::workspace`] of the cell it is used with, so the
/// kinds always agree.
macro_rules! with_kind {
    ($cell:expr, $ws:expr, |$c:ident, $w:ident| $body:expr) => {
        match ($cell, $ws) {
            (RecurrentCell::Elman($c), RecurrentWorkspace::Elman($w)) => $body,
            (RecurrentCell::Gru($c), RecurrentWorkspace::Gru($w)) => $body,
            _ => unreachable!("a workspace is used with the cell that made it"),
        }
    };
}

/// Runs `$body` with the cell bound to `$c`, whatever its kind.
macro_rules! each_kind {
    ($cell:expr, |$c:ident| $body:expr) => {
        match $cell {
            RecurrentCell::Elman($c) => $body,
            RecurrentCell::Gru($c) => $body,
        }
    };
}

impl RecurrentCell {
    /// The cell's sizes and kind.
    pub fn shape(&self) -> CellShape {
        each_kind!(self, |c| c.shape())
    }

    /// Number of input rows T.
    pub fn sequence_len(&self) -> usize {
        each_kind!(self, |c| c.sequence_len())
    }

    /// The input sequence, T×m row-major.
    pub fn sequence(&self) -> &[f64] {
        each_kind!(self, |c| c.sequence())
    }

    /// Replaces the input sequence; its length must stay T×m.
    pub fn set_sequence(&mut self, sequence: &[f64]) {
        each_kind!(self, |c| c.set_sequence(sequence))
    }

    /// The same cell with an Elman cell's activation σ = `activation` (a GRU's gates have
    /// their own fixed σ and tanh; network files refuse another activation for a GRU).
    pub fn with_activation(self, activation: Activation) -> Self {
        match self {
            RecurrentCell::Elman(c) => RecurrentCell::Elman(c.with_activation(activation)),
            gru => gru,
        }
    }
}

impl Dynamics for RecurrentCell {
    type Workspace = RecurrentWorkspace;

    fn state_len(&self) -> usize {
        each_kind!(self, |c| c.state_len())
    }

    fn param_len(&self) -> usize {
        each_kind!(self, |c| c.param_len())
    }

    fn input_len(&self) -> usize {
        each_kind!(self, |c| c.input_len())
    }

    fn params(&self) -> Vec<f64> {
        each_kind!(self, |c| c.params())
    }

    fn set_params(&mut self, params: &[f64]) {
        each_kind!(self, |c| c.set_params(params))
    }

    fn workspace(&self) -> RecurrentWorkspace {
        match self {
            RecurrentCell::Elman(c) => RecurrentWorkspace::Elman(c.workspace()),
            RecurrentCell::Gru(c) => RecurrentWorkspace::Gru(c.workspace()),
        }
    }

    fn step(&self, ws: &mut RecurrentWorkspace, k: usize, x: &[f64], x_next: &mut [f64]) {
        with_kind!(self, ws, |c, w| c.step(w, k, x, x_next))
    }

    fn step_tl(
        &self,
        ws: &mut RecurrentWorkspace,
        k: usize,
        x: &[f64],
        tangent: TangentInputs<'_>,
        dx_next: &mut [f64],
    ) {
        with_kind!(self, ws, |c, w| c.step_tl(w, k, x, tangent, dx_next))
    }

    fn step_ad(
        &self,
        ws: &mut RecurrentWorkspace,
        k: usize,
        x: &[f64],
        x_next: &[f64],
        lambda_next: &[f64],
        out: AdjointOutputs<'_>,
    ) {
        with_kind!(self, ws, |c, w| c.step_ad(
            w,
            k,
            x,
            x_next,
            lambda_next,
            out
        ))
    }
}
