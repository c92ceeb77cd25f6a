//! `fourdvar rnn gradient`: the loss of one sequence and every gradient (∂L/∂W or ∂L/∂(P, Q),
//! ∂L/∂U, ∂L/∂b, ∂L/∂V, ∂L/∂c, ∂L/∂h_0 and ∂L/∂u_t) from one adjoint sweep of the core,
//! written as JSON with the network file's field names plus `inputs` (T×m).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::core::Storage;
use crate::io::atomic_output::AtomicOutput;
use crate::io::rnn_files::{
    matrix_value, read_network, read_sequence_data, readout_fields, theta_fields, vector_value,
    write_json, SequenceData,
};
use crate::rnn::{
    sequence_gradient, LossFunction, Network, RecurrentCell, SequenceGradient, SequenceLoss,
};
use crate::{Error, Result};

/// Which steps must carry a target (`--loss`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
#[value(rename_all = "lowercase")]
pub enum LossMode {
    /// Every step has a target; a row without one is an error.
    Dense,
    /// Sparse events: rows without a target are silent steps that cost nothing.
    Events,
}

/// What `rnn gradient` is asked to do.
#[derive(Clone, Debug)]
pub struct RnnGradientRequest {
    /// Network JSON.
    pub network: PathBuf,
    /// Sequence CSV.
    pub data: PathBuf,
    /// Dense targets or sparse events.
    pub mode: LossMode,
    /// Mean squared error or softmax cross-entropy.
    pub objective: LossFunction,
    /// Output JSON.
    pub out: PathBuf,
}

/// What `rnn gradient` computed.
#[derive(Clone, Debug)]
pub struct RnnGradientSummary {
    /// L = Σ_t L_t.
    pub loss: f64,
    /// T.
    pub steps: usize,
    /// Number of steps with a target.
    pub active_steps: usize,
    /// Number of gradient entries written (θ, V, c, h_0 and the inputs).
    pub gradient_len: usize,
}

/// The cell and loss of `net` on `data`, checking that the data fit the network (errors name
/// `data_path` and the line): m input columns; for mean squared error o target columns, for
/// cross-entropy one column of class indices in 0..o; with [`LossMode::Dense`] a target in
/// every row.
pub fn build_problem(
    net: &Network,
    data: &SequenceData,
    data_path: &Path,
    mode: LossMode,
    objective: LossFunction,
) -> Result<(RecurrentCell, SequenceLoss)> {
    let (d, m, o) = (net.shape.hidden, net.shape.inputs, net.outputs);
    let header = Some(data.header_line).filter(|l| *l > 0);
    if data.input_len != m {
        return Err(Error::input(
            data_path,
            header,
            format!(
                "has {} input columns (u0..u{}), the network has inputs = {m}",
                data.input_len,
                data.input_len.saturating_sub(1)
            ),
        ));
    }
    if mode == LossMode::Dense {
        if let Some(t) = data.has_target.iter().position(|h| !h) {
            return Err(Error::input(
                data_path,
                data.line(t),
                "no target at this step; the dense loss needs a target at every step (the \
                 events loss takes sparse targets)",
            ));
        }
    }
    let loss = match objective {
        LossFunction::MeanSquared => {
            if data.target_len != o {
                return Err(Error::input(
                    data_path,
                    header,
                    format!(
                        "has {} target columns, the network has outputs = {o} (mse compares \
                         every output)",
                        data.target_len
                    ),
                ));
            }
            SequenceLoss::mean_squared(
                d,
                o,
                net.readout.clone(),
                data.targets.clone(),
                data.has_target.clone(),
            )?
        }
        LossFunction::CrossEntropy => {
            if data.target_len != 1 {
                return Err(Error::input(
                    data_path,
                    header,
                    format!(
                        "has {} target columns; cross-entropy takes one column y0 holding the \
                         class index",
                        data.target_len
                    ),
                ));
            }
            let mut classes = Vec::with_capacity(data.steps());
            for t in 0..data.steps() {
                if !data.has_target[t] {
                    classes.push(None);
                    continue;
                }
                let y = data.target(t)[0];
                if y.fract() != 0.0 || y < 0.0 || y >= o as f64 {
                    return Err(Error::input(
                        data_path,
                        data.line(t),
                        format!("y0 = {y} is not a class index 0..{}", o - 1),
                    ));
                }
                classes.push(Some(y as usize));
            }
            SequenceLoss::cross_entropy(d, o, net.readout.clone(), &classes)?
        }
    };
    Ok((net.cell(data.inputs.clone())?, loss))
}

/// Adds the network file to a non-finite-state error.
pub(crate) fn name_network(e: Error, network: &Path) -> Error {
    match e {
        Error::NonFinite { step, .. } => Error::NonFinite {
            step,
            context: format!("network {}", network.display()),
        },
        other => other,
    }
}

/// The gradient JSON: `loss`, `objective`, `steps`, `active_steps`, the network's field names
/// (`w` or `p`/`q`, `u`, `b`, `v`, `c`, `h0`) holding ∂L/∂ of that field, and `inputs`
/// (∂L/∂u_t, T×m).
pub fn gradient_json(net: &Network, loss: &SequenceLoss, g: &SequenceGradient) -> Value {
    let mut map = serde_json::Map::new();
    map.insert("loss".into(), g.loss.into());
    map.insert("objective".into(), loss.objective().name().into());
    map.insert("steps".into(), loss.steps().into());
    map.insert("active_steps".into(), loss.active_steps().into());
    for (k, v) in theta_fields(&net.shape, &g.theta)
        .into_iter()
        .chain(readout_fields(net.shape.hidden, net.outputs, &g.readout))
    {
        map.insert(k.into(), v);
    }
    map.insert("h0".into(), vector_value(&g.h0));
    map.insert(
        "inputs".into(),
        matrix_value(&g.inputs, loss.steps(), net.shape.inputs),
    );
    Value::Object(map)
}

/// Reads the network and data, runs one BPTT sweep and writes every gradient to
/// `request.out` atomically.
pub fn run_rnn_gradient(request: &RnnGradientRequest) -> Result<RnnGradientSummary> {
    // Reserve the output first, so an unwritable path is reported before any work.
    drop(AtomicOutput::new(&request.out)?);
    let net = read_network(&request.network)?;
    let data = read_sequence_data(&request.data)?;
    let (cell, loss) = build_problem(&net, &data, &request.data, request.mode, request.objective)?;
    let g = sequence_gradient(&cell, &net.h0, &loss, Storage::All)
        .map_err(|e| name_network(e, &request.network))?;
    if !g.loss.is_finite() {
        return Err(Error::input(
            &request.data,
            None,
            format!("the loss is not finite ({}) with this network", g.loss),
        ));
    }
    write_json(&request.out, &gradient_json(&net, &loss, &g))?;
    Ok(RnnGradientSummary {
        loss: g.loss,
        steps: loss.steps(),
        active_steps: loss.active_steps(),
        gradient_len: g.theta.len() + g.readout.len() + g.h0.len() + g.inputs.len(),
    })
}
