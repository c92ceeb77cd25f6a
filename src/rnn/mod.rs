//! RNN training mode on the same adjoint core: the Elman cell h_{t+1} = tanh(W h_t + U u_t + b)
//! is a [`crate::core::Dynamics`] (state h, parameters θ = [W | w | P, Q; U; b], inputs u_t),
//! the readout loss is a [`crate::core::StageCost`] with its own parameters [V, c], and back-
//! propagation through time is the core's one adjoint sweep: [`sequence_gradient`] calls
//! [`crate::core::Sweeper::value_and_gradient`] and renames its results. There is no other
//! backward loop in this module.

pub mod analysis;
pub mod cell;
pub mod dataset;
pub mod gru;
pub mod loss;
pub mod recurrent;
pub mod reservoir;
pub mod tasks;
pub mod tbptt;
pub mod training;

pub use cell::{Activation, CellKind, CellShape, ElmanCell, Recurrence, RecurrenceKind};
pub use dataset::{Dataset, Sample};
pub use gru::GruCell;
pub use loss::{LossFunction, SequenceLoss};
pub use recurrent::RecurrentCell;
pub use tbptt::{truncated_gradient, window_bounds, TbpttMode};
pub use training::{evaluate, initial_network, train, Method, TrainOptions, TrainOutcome};

use crate::core::{Storage, Sweeper};
use crate::error::{Error, Result};

/// An Elman network's parameters: the cell (shape and θ = [recurrence, U, b]), the readout
/// p = [V (o×d), c (o)] and the initial state h_0 (d).
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    /// Hidden size d, input size m and the recurrence structure.
    pub shape: CellShape,
    /// Output size o.
    pub outputs: usize,
    /// θ = [W (d×d) | w (d) | P (d×r), Q (d×r); U (d×m); b (d)], row-major.
    pub theta: Vec<f64>,
    /// p = [V (o×d); c (o)], row-major.
    pub readout: Vec<f64>,
    /// h_0 (d values).
    pub h0: Vec<f64>,
}

impl Network {
    /// Checks every length against the shape and that every value is finite.
    pub fn validate(&self) -> Result<()> {
        self.shape.validate()?;
        let d = self.shape.hidden;
        let o = self.outputs;
        if o == 0 {
            return Err(Error::invalid("outputs", "must be at least 1"));
        }
        for (name, values, len) in [
            ("theta", &self.theta, self.shape.param_len()),
            ("readout", &self.readout, o * d + o),
            ("h0", &self.h0, d),
        ] {
            if values.len() != len {
                return Err(Error::invalid(
                    name,
                    format!("has {} values, expected {len}", values.len()),
                ));
            }
            if let Some(i) = crate::core::vector::first_non_finite(values) {
                return Err(Error::invalid(name, format!("value {i} is not finite")));
            }
        }
        Ok(())
    }

    /// The cell of this network (Elman or GRU, as its shape says) driven by `sequence`
    /// (T×m, row-major).
    pub fn cell(&self, sequence: Vec<f64>) -> Result<RecurrentCell> {
        let theta = self.theta.clone();
        Ok(match self.shape.cell {
            CellKind::Elman => RecurrentCell::Elman(ElmanCell::new(self.shape, theta, sequence)?),
            CellKind::Gru => RecurrentCell::Gru(GruCell::new(self.shape, theta, sequence)?),
        })
    }
}

/// The loss of one sequence and every gradient, from one adjoint sweep.
#[derive(Clone, Debug)]
pub struct SequenceGradient {
    /// L = Σ_t L_t.
    pub loss: f64,
    /// ∂L/∂h_0 (the sweep's state gradient λ_0).
    pub h0: Vec<f64>,
    /// ∂L/∂θ = [∂L/∂(W | w | P, Q); ∂L/∂U; ∂L/∂b] (the sweep's parameter gradient).
    pub theta: Vec<f64>,
    /// ∂L/∂[V; c] (the sweep's cost-parameter gradient).
    pub readout: Vec<f64>,
    /// ∂L/∂u_t, T×m row-major (the sweep's input gradient).
    pub inputs: Vec<f64>,
}

/// BPTT over the whole sequence of `cell`: one forward and one backward sweep of the core
/// (`storage` as for [`crate::core::value_and_gradient`]) over T = `cell.sequence_len()`
/// steps from h_0. The loss must have T target rows.
pub fn sequence_gradient(
    cell: &RecurrentCell,
    h0: &[f64],
    loss: &SequenceLoss,
    storage: Storage,
) -> Result<SequenceGradient> {
    let steps = cell.sequence_len();
    if loss.steps() != steps {
        return Err(Error::invalid(
            "targets",
            format!(
                "{} target rows for an input sequence of {steps} steps",
                loss.steps()
            ),
        ));
    }
    let r = Sweeper::new(cell).value_and_gradient(cell, h0, steps, loss, storage)?;
    Ok(SequenceGradient {
        loss: r.cost,
        h0: r.state_gradient,
        theta: r.param_gradient,
        readout: r.cost_param_gradient,
        inputs: r.input_gradient,
    })
}
