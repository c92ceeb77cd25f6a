//! `fourdvar rnn predict`: runs a trained network on new inputs and writes its outputs, one
//! row per step, with the loss (and for classification the accuracy) over the rows that have
//! a target. Mean squared error: the readout y_t = V h_{t+1} + c. Cross-entropy: the class
//! argmax_i y_{t,i} and the softmax probabilities p_{t,i} = exp(y_{t,i}) / Σ_j exp(y_{t,j}).

use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;

use super::rnn_gradient::{build_problem, name_network, LossMode};
use crate::core::{integrate, StageCost};
use crate::io::atomic_output::AtomicOutput;
use crate::io::csv_table::number_text;
use crate::io::rnn_files::{read_network_with_activation, read_sequence_data};
use crate::rnn::{LossFunction, SequenceLoss};
use crate::{Error, Result};

/// What `rnn predict` is asked to do.
#[derive(Clone, Debug)]
pub struct RnnPredictRequest {
    /// Network JSON.
    pub network: PathBuf,
    /// Sequence CSV: inputs, and targets in the rows that have one (the y columns may be
    /// left out altogether).
    pub data: PathBuf,
    /// Regression outputs (mse) or classes (cross-entropy).
    pub objective: LossFunction,
    /// Output CSV.
    pub out: PathBuf,
}

/// What `rnn predict` computed.
#[derive(Clone, Debug, PartialEq)]
pub struct RnnPredictSummary {
    /// T.
    pub steps: usize,
    /// Rows with a target.
    pub scored_steps: usize,
    /// The loss Σ_t L_t over those rows (None without targets).
    pub loss: Option<f64>,
    /// The fraction of those rows whose class is predicted (cross-entropy only).
    pub accuracy: Option<f64>,
}

/// The index of the largest value (the first one on ties).
fn argmax(y: &[f64]) -> usize {
    (0..y.len()).fold(0, |best, i| if y[i] > y[best] { i } else { best })
}

/// The softmax of `y` into `p`, shifted by max y so that exp cannot overflow.
fn softmax(y: &[f64], p: &mut [f64]) {
    let top = y.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    for (pi, yi) in p.iter_mut().zip(y) {
        *pi = (yi - top).exp();
    }
    let total: f64 = p.iter().sum();
    p.iter_mut().for_each(|pi| *pi /= total);
}

/// Runs the network over the data and writes the predictions atomically.
pub fn run_rnn_predict(request: &RnnPredictRequest) -> Result<RnnPredictSummary> {
    drop(AtomicOutput::new(&request.out)?);
    let (net, activation) = read_network_with_activation(&request.network)?;
    let data = read_sequence_data(&request.data)?;
    let (d, o) = (net.shape.hidden, net.outputs);
    let scored = data.target_len > 0 && data.has_target.iter().any(|h| *h);
    let (cell, loss) = if data.target_len == 0 {
        // No targets at all: an inactive loss that only carries the readout.
        let inactive = vec![false; data.steps()];
        let loss = SequenceLoss::mean_squared(
            d,
            o,
            net.readout.clone(),
            vec![0.0; data.steps() * o],
            inactive,
        )?;
        let header = Some(data.header_line).filter(|l| *l > 0);
        if data.input_len != net.shape.inputs {
            return Err(Error::input(
                &request.data,
                header,
                format!(
                    "has {} input columns, the network has inputs = {}",
                    data.input_len, net.shape.inputs
                ),
            ));
        }
        (net.cell(data.inputs.clone())?, loss)
    } else {
        build_problem(
            &net,
            &data,
            &request.data,
            LossMode::Events,
            request.objective,
        )?
    };
    let cell = cell.with_activation(activation);
    let classify = request.objective == LossFunction::CrossEntropy;
    let mut text = String::from("t");
    if classify {
        text.push_str(",class");
        (0..o).for_each(|i| write!(text, ",p{i}").unwrap_or(()));
    } else {
        (0..o).for_each(|i| write!(text, ",y{i}").unwrap_or(()));
    }
    text.push('\n');
    let (mut y, mut p) = (vec![0.0; o], vec![0.0; o]);
    let (mut total, mut correct, mut counted) = (0.0, 0usize, 0usize);
    let mut bad_step = None;
    integrate(&cell, &net.h0, data.steps(), |k, h| {
        if k == 0 {
            return;
        }
        loss.outputs(h, &mut y);
        if bad_step.is_none() && y.iter().any(|v: &f64| !v.is_finite()) {
            bad_step = Some(k - 1);
        }
        let _ = write!(text, "{}", data.first_t + (k - 1) as i64);
        if classify {
            softmax(&y, &mut p);
            let class = argmax(&y);
            let _ = write!(text, ",{class}");
            p.iter()
                .for_each(|v| write!(text, ",{}", number_text(*v)).unwrap_or(()));
            if loss.is_active(k) {
                counted += 1;
                correct += usize::from(class as f64 == data.target(k - 1)[0]);
            }
        } else {
            y.iter()
                .for_each(|v| write!(text, ",{}", number_text(*v)).unwrap_or(()));
        }
        text.push('\n');
        if loss.is_active(k) {
            total += loss.value(k, h);
        }
    })
    .map_err(|e| name_network(e, &request.network))?;
    if let Some(t) = bad_step {
        return Err(Error::input(
            &request.data,
            data.line(t),
            "the network's output is not finite at this step",
        ));
    }
    let out = AtomicOutput::new(&request.out)?;
    fs::write(out.temp_path(), text).map_err(|e| Error::io(&request.out, e))?;
    out.commit()?;
    Ok(RnnPredictSummary {
        steps: data.steps(),
        scored_steps: loss.active_steps(),
        loss: scored.then_some(total),
        accuracy: (classify && counted > 0).then(|| correct as f64 / counted as f64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_sums_to_one_and_survives_large_values() {
        let mut p = [0.0; 3];
        softmax(&[1000.0, 1001.0, 999.0], &mut p);
        let e = [(-1.0f64).exp(), 1.0, (-2.0f64).exp()];
        let s: f64 = e.iter().sum();
        for (pi, ei) in p.iter().zip(e) {
            assert!((pi - ei / s).abs() < 1e-15, "{p:?}");
        }
        assert_eq!(argmax(&[0.1, 0.7, 0.7, -3.0]), 1);
    }
}
