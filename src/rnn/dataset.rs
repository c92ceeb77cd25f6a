//! Training data: one sequence of inputs and (possibly sparse) targets, and a batch of them
//! with a common shape and objective. Shared by full-batch training ([`super::training`]) and
//! truncated BPTT ([`super::tbptt`]).

use crate::error::{Error, Result};

use super::{LossFunction, Network, RecurrentCell, SequenceLoss};

/// One training sequence: inputs u_t (T×m) and targets, row t belonging to h_{t+1}.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// u, T×m row-major.
    pub inputs: Vec<f64>,
    /// Mean squared: T×o target values; cross-entropy: T class indices stored as f64.
    pub targets: Vec<f64>,
    /// Whether row t has a target (sparse events have few).
    pub active: Vec<bool>,
}

/// A batch of sequences with a common input size m, output size o and objective.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// Input size m ≥ 1.
    pub inputs: usize,
    /// Output size o (for cross-entropy, the number of classes).
    pub outputs: usize,
    /// Mean squared error or softmax cross-entropy.
    pub objective: LossFunction,
    /// The sequences.
    pub samples: Vec<Sample>,
}

impl Dataset {
    /// Checks m ≥ 1, o ≥ 1, at least one sequence, and that every sequence has whole rows,
    /// matching target lengths, finite values and class indices in 0..o.
    pub fn validate(&self) -> Result<()> {
        if self.inputs == 0 || self.outputs == 0 {
            return Err(Error::invalid(
                "data set",
                "input and output sizes must be at least 1",
            ));
        }
        if self.samples.is_empty() {
            return Err(Error::invalid("data set", "has no sequences"));
        }
        for (n, s) in self.samples.iter().enumerate() {
            let steps = s.active.len();
            let per_row = match self.objective {
                LossFunction::MeanSquared => self.outputs,
                LossFunction::CrossEntropy => 1,
            };
            if steps == 0 || s.inputs.len() != steps * self.inputs {
                return Err(Error::invalid(
                    "data set",
                    format!(
                        "sequence {n} has {} input values for {steps} steps of m = {}",
                        s.inputs.len(),
                        self.inputs
                    ),
                ));
            }
            if s.targets.len() != steps * per_row {
                return Err(Error::invalid(
                    "data set",
                    format!("sequence {n} has {} target values", s.targets.len()),
                ));
            }
            if crate::core::vector::first_non_finite(&s.inputs).is_some()
                || crate::core::vector::first_non_finite(&s.targets).is_some()
            {
                return Err(Error::invalid(
                    "data set",
                    format!("sequence {n} has a non-finite value"),
                ));
            }
            if self.objective == LossFunction::CrossEntropy
                && s.targets
                    .iter()
                    .zip(&s.active)
                    .any(|(c, a)| *a && (c.fract() != 0.0 || *c < 0.0 || *c >= self.outputs as f64))
            {
                return Err(Error::invalid(
                    "data set",
                    format!("sequence {n} has a class index outside 0..{}", self.outputs),
                ));
            }
        }
        Ok(())
    }

    /// Number of rows T of `sample`.
    pub fn sample_steps(&self, sample: &Sample) -> usize {
        sample.active.len()
    }

    /// Total number of rows with a target, over all sequences.
    pub fn active_steps(&self) -> usize {
        self.samples
            .iter()
            .map(|s| s.active.iter().filter(|a| **a).count())
            .sum()
    }

    /// The cell of `net` driven by input rows a..b of `sample`.
    pub fn sub_cell(
        &self,
        net: &Network,
        sample: &Sample,
        start: usize,
        end: usize,
    ) -> Result<RecurrentCell> {
        let m = self.inputs;
        let rows = sample
            .inputs
            .get(start * m..end * m)
            .ok_or_else(|| Error::invalid("window", format!("rows {start}..{end} out of range")))?;
        net.cell(rows.to_vec())
    }

    /// The loss (readout [V, c] of `net`) over target rows a..b of `sample`.
    pub fn sub_loss(
        &self,
        net: &Network,
        sample: &Sample,
        start: usize,
        end: usize,
    ) -> Result<SequenceLoss> {
        let (d, o) = (net.shape.hidden, self.outputs);
        let out_of_range = || Error::invalid("window", format!("rows {start}..{end} out of range"));
        let active = sample.active.get(start..end).ok_or_else(out_of_range)?;
        match self.objective {
            LossFunction::MeanSquared => {
                let targets = sample
                    .targets
                    .get(start * o..end * o)
                    .ok_or_else(out_of_range)?;
                SequenceLoss::mean_squared(
                    d,
                    o,
                    net.readout.clone(),
                    targets.to_vec(),
                    active.to_vec(),
                )
            }
            LossFunction::CrossEntropy => {
                let classes: Vec<Option<usize>> = sample
                    .targets
                    .get(start..end)
                    .ok_or_else(out_of_range)?
                    .iter()
                    .zip(active)
                    .map(|(c, a)| a.then_some(*c as usize))
                    .collect();
                SequenceLoss::cross_entropy(d, o, net.readout.clone(), &classes)
            }
        }
    }
}
