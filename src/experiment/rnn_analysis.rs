//! `fourdvar rnn sensitivity`, `rnn gradient-flow` and `rnn reservoir`: the input sensitivity
//! and a fast-gradient-sign attack of one sequence, the gradient norm ‖∂L/∂h_t‖ against the lag
//! T − t, and an echo-state network with a ridge readout (on Lorenz-96 or a data file).

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::rnn_gradient::{build_problem, name_network, LossMode};
use crate::core::integrate;
use crate::core::verification::random_vector;
use crate::io::atomic_output::AtomicOutput;
use crate::io::rnn_files::{
    matrix_value, read_network_with_activation, read_sequence_data, save_network, vector_value,
    write_json, SequenceData,
};
use crate::models::lorenz96;
use crate::rnn::analysis::{gradient_flow, input_sensitivity, GradientFlow, InputSensitivity};
use crate::rnn::reservoir::{fit_echo_state, ReservoirSpec};
use crate::rnn::LossFunction;
use crate::{Error, Result};

/// What `rnn sensitivity` is asked to do.
#[derive(Clone, Debug)]
pub struct SensitivityRequest {
    /// Network JSON.
    pub network: PathBuf,
    /// Sequence CSV.
    pub data: PathBuf,
    /// Dense targets or sparse events.
    pub mode: LossMode,
    /// Mean squared error or cross-entropy.
    pub objective: LossFunction,
    /// Attack size ε.
    pub epsilon: f64,
    /// Number of most sensitive steps attacked.
    pub top: usize,
    /// Output JSON, if any.
    pub out: Option<PathBuf>,
}

/// The sensitivity JSON: `loss`, `epsilon`, `most_sensitive_step`, `top_steps`,
/// `loss_perturbed`, `predicted_change`, `output_change_max`, `output_change_rms`, `norms`
/// (‖∂L/∂u_t‖ per step) and `input_gradient` (T×m).
pub fn sensitivity_json(s: &InputSensitivity, inputs: usize) -> Value {
    let mut map = serde_json::Map::new();
    map.insert("loss".into(), s.loss.into());
    map.insert("epsilon".into(), s.epsilon.into());
    map.insert("most_sensitive_step".into(), s.most_sensitive.into());
    map.insert(
        "top_steps".into(),
        Value::Array(s.top_steps.iter().map(|&t| t.into()).collect()),
    );
    map.insert("loss_perturbed".into(), s.loss_perturbed.into());
    map.insert("predicted_change".into(), s.predicted_change.into());
    map.insert("output_change_max".into(), s.output_change_max.into());
    map.insert("output_change_rms".into(), s.output_change_rms.into());
    map.insert("norms".into(), vector_value(&s.norms));
    map.insert(
        "input_gradient".into(),
        matrix_value(&s.gradient, s.norms.len(), inputs),
    );
    Value::Object(map)
}

/// Reads the network and data, computes ∂L/∂u_t by one BPTT sweep, attacks the `top` most
/// sensitive steps with ε sign(∂L/∂u_t), and writes the JSON of [`sensitivity_json`].
pub fn run_sensitivity(request: &SensitivityRequest) -> Result<InputSensitivity> {
    if let Some(out) = &request.out {
        drop(AtomicOutput::new(out)?);
    }
    let (net, activation) = read_network_with_activation(&request.network)?;
    let data = read_sequence_data(&request.data)?;
    let (cell, loss) = build_problem(&net, &data, &request.data, request.mode, request.objective)?;
    let cell = cell.with_activation(activation);
    let s = input_sensitivity(&cell, &net.h0, &loss, request.epsilon, request.top)
        .map_err(|e| name_network(e, &request.network))?;
    if !s.loss.is_finite() || !s.loss_perturbed.is_finite() {
        return Err(Error::input(
            &request.data,
            None,
            "the loss is not finite with this network",
        ));
    }
    if let Some(out) = &request.out {
        write_json(out, &sensitivity_json(&s, net.shape.inputs))?;
    }
    Ok(s)
}

/// What `rnn gradient-flow` is asked to do.
#[derive(Clone, Debug)]
pub struct GradientFlowRequest {
    /// Network JSON.
    pub network: PathBuf,
    /// Sequence CSV; only the target of its last row is used.
    pub data: PathBuf,
    /// Output CSV `lag,norm`, if any.
    pub out: Option<PathBuf>,
}

/// The data with only the last row's target kept: the loss ½‖y_T − target_T‖² at the last
/// step. Fails (naming the line) when the last row has no target.
pub fn last_step_only(data: &SequenceData, path: &Path) -> Result<SequenceData> {
    let steps = data.steps();
    if steps == 0 || !data.has_target[steps - 1] {
        return Err(Error::input(
            path,
            steps.checked_sub(1).and_then(|t| data.line(t)),
            "the last row has no target; the gradient flow puts the loss at the last step",
        ));
    }
    let mut last = data.clone();
    for h in &mut last.has_target[..steps - 1] {
        *h = false;
    }
    Ok(last)
}

/// The gradient-flow CSV: header `lag,norm`, one row per lag T − t = 0..=T.
pub fn gradient_flow_csv(flow: &GradientFlow) -> String {
    let mut text = String::from("lag,norm\n");
    for (lag, n) in flow.by_lag() {
        let _ = writeln!(text, "{lag},{n:e}");
    }
    text
}

/// Reads the network and data, puts the mean-squared loss at the last step only and records
/// ‖∂L/∂h_t‖ for every t along one sweep; writes `lag,norm` CSV.
pub fn run_gradient_flow(request: &GradientFlowRequest) -> Result<GradientFlow> {
    if let Some(out) = &request.out {
        drop(AtomicOutput::new(out)?);
    }
    let (net, activation) = read_network_with_activation(&request.network)?;
    let data = last_step_only(&read_sequence_data(&request.data)?, &request.data)?;
    let (cell, loss) = build_problem(
        &net,
        &data,
        &request.data,
        LossMode::Events,
        LossFunction::MeanSquared,
    )?;
    let cell = cell.with_activation(activation);
    let flow = gradient_flow(&cell, &net.h0, cell.sequence_len(), &loss)
        .map_err(|e| name_network(e, &request.network))?;
    if !flow.loss.is_finite() || flow.norms.iter().any(|n| !n.is_finite()) {
        return Err(Error::input(
            &request.data,
            None,
            "the loss or its gradient is not finite with this network",
        ));
    }
    if let Some(out) = &request.out {
        let guard = AtomicOutput::new(out)?;
        fs::write(guard.temp_path(), gradient_flow_csv(&flow)).map_err(|e| Error::io(out, e))?;
        guard.commit()?;
    }
    Ok(flow)
}

/// Next-step prediction of one Lorenz-96 site (N = 40, F = 8, dt = 0.05, spun up 1000 steps
/// from a seeded random state): inputs u_t = (x_t − 2.3) / 3.6 of site 0 (T×1) and targets
/// y_t = x_{t+1} of that site (T×1), for T = `steps`.
pub fn lorenz96_site_task(steps: usize, seed: u64) -> Result<(Vec<f64>, Vec<f64>)> {
    let n = 40;
    let model = lorenz96(n, 8.0, 0.05);
    let start: Vec<f64> = random_vector(n, seed).iter().map(|z| 8.0 + z).collect();
    let x0 = integrate(&model, &start, 1000, |_, _| {})?;
    let mut series = Vec::with_capacity(steps + 1);
    integrate(&model, &x0, steps, |_, x| series.push(x[0]))?;
    let inputs = series[..steps].iter().map(|x| (x - 2.3) / 3.6).collect();
    let targets = series[1..].to_vec();
    Ok((inputs, targets))
}

/// The largest reservoir `rnn reservoir` builds (W is dense d×d and goes through an
/// eigenvalue decomposition).
pub const MAX_RESERVOIR: usize = 4096;

/// The built-in sequences `rnn reservoir --task` can name (regression tasks only: the ridge
/// readout fits real-valued targets).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum RegressionTask {
    /// Next step of a Lorenz-96 site.
    Lorenz96,
}

/// Where `rnn reservoir` takes its sequence from.
#[derive(Clone, Debug)]
pub enum ReservoirTask {
    /// Next-step prediction of a Lorenz-96 site ([`lorenz96_site_task`], 5000 steps).
    Lorenz96,
    /// A sequence CSV (rows without a target are neither trained on nor tested).
    Data(PathBuf),
}

/// What `rnn reservoir` is asked to do.
#[derive(Clone, Debug)]
pub struct ReservoirRequest {
    /// The sequence.
    pub task: ReservoirTask,
    /// Hidden size d.
    pub hidden: usize,
    /// ρ(W).
    pub spectral_radius: f64,
    /// Ridge penalty α.
    pub ridge: f64,
    /// Seed of W and U.
    pub seed: u64,
    /// Output network JSON.
    pub out: PathBuf,
}

/// What `rnn reservoir` achieved.
#[derive(Clone, Debug)]
pub struct ReservoirSummary {
    /// Steps T of the sequence.
    pub steps: usize,
    /// Washout steps (never trained or tested on).
    pub washout: usize,
    /// Training rows (the first 80 % of the rows with a target after the washout).
    pub train_rows: usize,
    /// Test rows (the rest).
    pub test_rows: usize,
    /// RMSE of the readout on the training rows.
    pub train_rmse: f64,
    /// RMSE on the test rows.
    pub test_rmse: f64,
    /// RMSE of persistence (y_t = x_t) on the test rows, for the Lorenz-96 task.
    pub persistence_rmse: Option<f64>,
}

fn rmse(pred: &[f64], targets: &[f64], o: usize, rows: &[usize]) -> f64 {
    let mut sq = 0.0;
    for &t in rows {
        for i in t * o..(t + 1) * o {
            sq += (pred[i] - targets[i]) * (pred[i] - targets[i]);
        }
    }
    (sq / (rows.len() * o).max(1) as f64).sqrt()
}

/// Draws the reservoir, runs it over the sequence, fits the ridge readout on the first 80 %
/// of the rows with a target (after a washout of min(100, T/10) steps), reports the train and
/// test RMSE and saves the network.
pub fn run_reservoir(request: &ReservoirRequest) -> Result<ReservoirSummary> {
    drop(AtomicOutput::new(&request.out)?);
    if request.hidden == 0 || request.hidden > MAX_RESERVOIR {
        return Err(Error::invalid(
            "reservoir size",
            format!(
                "must be between 1 and {MAX_RESERVOIR}, got {}",
                request.hidden
            ),
        ));
    }
    let (inputs, targets, m, o, has_target, persistence) = match &request.task {
        ReservoirTask::Lorenz96 => {
            let (u, y) = lorenz96_site_task(5000, request.seed)?;
            let x: Vec<f64> = u.iter().map(|v| 2.3 + 3.6 * v).collect();
            let steps = u.len();
            (u, y, 1, 1, vec![true; steps], Some(x))
        }
        ReservoirTask::Data(path) => {
            let data = read_sequence_data(path)?;
            (
                data.inputs.clone(),
                data.targets.clone(),
                data.input_len,
                data.target_len,
                data.has_target.clone(),
                None,
            )
        }
    };
    let steps = has_target.len();
    let washout = (steps / 10).min(100);
    let rows: Vec<usize> = (washout..steps).filter(|&t| has_target[t]).collect();
    if rows.len() < 2 {
        return Err(Error::invalid(
            "reservoir data",
            format!(
                "{} rows with a target after the washout of {washout} steps; at least 2 are needed",
                rows.len()
            ),
        ));
    }
    let split = (rows.len() * 4 / 5).clamp(1, rows.len() - 1);
    let (train, test) = rows.split_at(split);
    let spec = ReservoirSpec {
        hidden: request.hidden,
        inputs: m,
        spectral_radius: request.spectral_radius,
        input_scale: 1.0,
        seed: request.seed,
    };
    let fit = fit_echo_state(&spec, &inputs, &targets, o, train, request.ridge)?;
    let persistence_rmse = persistence.map(|x| rmse(&x, &targets, 1, test));
    save_network(&request.out, &fit.network)?;
    Ok(ReservoirSummary {
        steps,
        washout,
        train_rows: train.len(),
        test_rows: test.len(),
        train_rmse: rmse(&fit.predictions, &targets, o, train),
        test_rmse: rmse(&fit.predictions, &targets, o, test),
        persistence_rmse,
    })
}
