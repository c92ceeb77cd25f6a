//! The readout y = V h + c and the sequence losses as [`StageCost`]s of the core.
//!
//! The loss owns its parameters p = [V (o×d, row-major), c (o)], so one sweep returns
//! ∂L/∂(V, c) as the cost-parameter gradient. Target row t (0-based) belongs to the state
//! h_{t+1} that step t produced from input row t, that is sweep index k = t + 1; the initial
//! state h_0 (k = 0) never has a target. A row without a target is inactive and costs nothing:
//! the sparse-event loss, whose gradients ("whispers from the future") still flow back
//! through the silent steps by the adjoint recursion.

use crate::core::choice::choice_name;
use crate::core::vector::{axpy, dot};
use crate::core::StageCost;
use crate::error::{Error, Result};

/// What the readout y_t = V h_t + c is compared with (`--objective`, `objective` in files).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
#[value(rename_all = "kebab-case")]
pub enum LossFunction {
    /// L_t = ½ ‖y_t − target_t‖², target_t ∈ ℝᵒ.
    #[serde(rename = "mse")]
    #[value(name = "mse")]
    MeanSquared,
    /// L_t = log Σ_i exp(y_{t,i}) − y_{t,c_t} (softmax cross-entropy), target c_t a class index.
    CrossEntropy,
}

impl LossFunction {
    /// The name used on the command line and in files: "mse" or "cross-entropy".
    pub fn name(self) -> String {
        choice_name(&self)
    }
}

/// L = Σ_{t active} L_t(V h_{t+1} + c), a readout and a per-step objective over a sequence.
#[derive(Clone, Debug)]
pub struct SequenceLoss {
    hidden: usize,
    outputs: usize,
    objective: LossFunction,
    params: Vec<f64>,
    /// Row t: o values (mean squared) or one class index as f64 (cross-entropy).
    targets: Vec<f64>,
    active: Vec<bool>,
}

fn check_readout(hidden: usize, outputs: usize, readout: &[f64]) -> Result<()> {
    if hidden == 0 || outputs == 0 {
        return Err(Error::invalid(
            "readout",
            "hidden and output sizes must be at least 1",
        ));
    }
    if readout.len() != outputs * hidden + outputs {
        return Err(Error::invalid(
            "readout parameters",
            format!(
                "{} values given, V ({outputs}×{hidden}) and c ({outputs}) need {}",
                readout.len(),
                outputs * hidden + outputs
            ),
        ));
    }
    Ok(())
}

impl SequenceLoss {
    /// L = Σ_{t: active[t]} ½ ‖V h_{t+1} + c − target_t‖², with `readout` = [V, c] and
    /// `targets` row-major (T × o, T = `active.len()`; inactive rows are ignored).
    pub fn mean_squared(
        hidden: usize,
        outputs: usize,
        readout: Vec<f64>,
        targets: Vec<f64>,
        active: Vec<bool>,
    ) -> Result<Self> {
        check_readout(hidden, outputs, &readout)?;
        if targets.len() != active.len() * outputs {
            return Err(Error::invalid(
                "targets",
                format!(
                    "{} values for {} steps of {outputs} outputs",
                    targets.len(),
                    active.len()
                ),
            ));
        }
        Ok(Self {
            hidden,
            outputs,
            objective: LossFunction::MeanSquared,
            params: readout,
            targets,
            active,
        })
    }

    /// L = Σ_{t: classes[t] = Some(c)} (log Σ_i exp(y_{t,i}) − y_{t,c}), y_t = V h_{t+1} + c,
    /// with `readout` = [V, c]; every class index must be < o.
    pub fn cross_entropy(
        hidden: usize,
        outputs: usize,
        readout: Vec<f64>,
        classes: &[Option<usize>],
    ) -> Result<Self> {
        check_readout(hidden, outputs, &readout)?;
        if let Some((t, c)) = classes
            .iter()
            .enumerate()
            .find_map(|(t, c)| c.filter(|&c| c >= outputs).map(|c| (t, c)))
        {
            return Err(Error::invalid(
                "class targets",
                format!("row {t} has class {c}, but there are only {outputs} outputs"),
            ));
        }
        Ok(Self {
            hidden,
            outputs,
            objective: LossFunction::CrossEntropy,
            params: readout,
            targets: classes.iter().map(|c| c.unwrap_or(0) as f64).collect(),
            active: classes.iter().map(Option::is_some).collect(),
        })
    }

    /// The objective.
    pub fn objective(&self) -> LossFunction {
        self.objective
    }

    /// Number of target rows T.
    pub fn steps(&self) -> usize {
        self.active.len()
    }

    /// Number of rows with a target.
    pub fn active_steps(&self) -> usize {
        self.active.iter().filter(|a| **a).count()
    }

    /// The readout parameters p = [V (o×d), c (o)].
    pub fn readout(&self) -> &[f64] {
        &self.params
    }

    /// Replaces p = [V, c]; the length must stay o·d + o.
    pub fn set_readout(&mut self, params: &[f64]) {
        self.params.copy_from_slice(params);
    }

    /// V, o×d row-major.
    pub fn v(&self) -> &[f64] {
        &self.params[..self.outputs * self.hidden]
    }

    /// c, o values.
    pub fn c(&self) -> &[f64] {
        &self.params[self.outputs * self.hidden..]
    }

    /// y_i = V_i · h + c_i, the i-th output for state h.
    #[inline]
    fn output(&self, i: usize, h: &[f64]) -> f64 {
        let d = self.hidden;
        dot(&self.params[i * d..(i + 1) * d], h) + self.params[self.outputs * d + i]
    }

    /// The readout y = V h + c written to `y` (o values).
    pub fn outputs(&self, h: &[f64], y: &mut [f64]) {
        for (i, yi) in y.iter_mut().enumerate().take(self.outputs) {
            *yi = self.output(i, h);
        }
    }

    fn row(&self, k: usize) -> &[f64] {
        let t = k - 1;
        match self.objective {
            LossFunction::MeanSquared => &self.targets[t * self.outputs..(t + 1) * self.outputs],
            LossFunction::CrossEntropy => &self.targets[t..t + 1],
        }
    }

    /// log Σ_i exp(y_i), by a one-pass running maximum (no overflow, no allocation).
    fn log_sum_exp(&self, h: &[f64]) -> f64 {
        let (mut max, mut sum) = (f64::NEG_INFINITY, 0.0);
        for i in 0..self.outputs {
            let y = self.output(i, h);
            if y > max {
                sum = sum * (max - y).exp() + 1.0;
                max = y;
            } else {
                sum += (y - max).exp();
            }
        }
        max + sum.ln()
    }
}

impl StageCost for SequenceLoss {
    /// o·d + o: V and c.
    fn param_len(&self) -> usize {
        self.params.len()
    }

    /// Sweep index k ≥ 1 is active when target row k − 1 exists and has a target.
    fn is_active(&self, k: usize) -> bool {
        k >= 1 && self.active.get(k - 1).copied().unwrap_or(false)
    }

    /// ½ ‖V h + c − target‖², or log Σ exp(y) − y_c.
    fn value(&self, k: usize, x: &[f64]) -> f64 {
        let target = self.row(k);
        match self.objective {
            LossFunction::MeanSquared => {
                let mut total = 0.0;
                for (i, t) in target.iter().enumerate() {
                    let r = self.output(i, x) - t;
                    total += 0.5 * r * r;
                }
                total
            }
            LossFunction::CrossEntropy => self.log_sum_exp(x) - self.output(target[0] as usize, x),
        }
    }

    /// With r = ∂L_t/∂y (y − target, or softmax(y) − e_c): h̄ += Vᵀ r, V̄ += r hᵀ, c̄ += r.
    fn value_and_gradient(
        &self,
        k: usize,
        x: &[f64],
        x_bar: &mut [f64],
        params_bar: &mut [f64],
    ) -> f64 {
        let target = self.row(k);
        let d = self.hidden;
        let (cost, lse) = match self.objective {
            LossFunction::MeanSquared => (0.0, 0.0),
            LossFunction::CrossEntropy => {
                let lse = self.log_sum_exp(x);
                (lse - self.output(target[0] as usize, x), lse)
            }
        };
        let mut total = cost;
        for i in 0..self.outputs {
            let y = self.output(i, x);
            let r = match self.objective {
                LossFunction::MeanSquared => {
                    let r = y - target[i];
                    total += 0.5 * r * r;
                    r
                }
                LossFunction::CrossEntropy => {
                    (y - lse).exp() - if i == target[0] as usize { 1.0 } else { 0.0 }
                }
            };
            axpy(r, &self.params[i * d..(i + 1) * d], x_bar);
            if !params_bar.is_empty() {
                axpy(r, x, &mut params_bar[i * d..(i + 1) * d]);
                params_bar[self.outputs * d + i] += r;
            }
        }
        total
    }
}
