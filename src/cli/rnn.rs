//! The `rnn` commands: every RNN argument struct, in one place (`rnn bench`'s too, which
//! `bench rnn` shares), and the runs of gradient, train, sensitivity, gradient-flow and
//! reservoir.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::output::{self, ReservoirSettings};
use super::values;
use crate::error::Result;
use crate::experiment::rnn_analysis::{
    run_gradient_flow, run_reservoir, run_sensitivity, GradientFlowRequest, RegressionTask,
    ReservoirRequest, ReservoirTask, SensitivityRequest, MAX_RESERVOIR,
};
use crate::experiment::rnn_gradient::{run_rnn_gradient, LossMode, RnnGradientRequest};
use crate::experiment::rnn_predict::{run_rnn_predict, RnnPredictRequest};
use crate::experiment::rnn_train::{
    run_rnn_train, RnnTrainRequest, TrainData, TrainingTask, MAX_RECALL_GAP, RECALL_GAP,
};
use crate::rnn::tbptt::TbpttMode;
use crate::rnn::{CellKind, LossFunction, Method, Recurrence, RecurrenceKind};

/// The `rnn` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum RnnCommand {
    /// The loss of one sequence and every gradient (W or P/Q, U, b, V, c, h0 and the inputs)
    /// from one adjoint sweep, written as JSON.
    ///
    /// Example: fourdvar rnn gradient --net examples/net.json --data examples/seq.csv --out
    /// grads.json
    Gradient(RnnGradientArgs),
    /// Train a network on a built-in task or a sequence CSV (L-BFGS full batch, or Adam / SGD
    /// with optional truncated BPTT); writes the network JSON and the loss curve.
    ///
    /// Example: fourdvar rnn train --task recall --hidden 16 --out net.json --loss-curve
    /// curve.csv
    Train(RnnTrainArgs),
    /// Run a trained network on new inputs: one output row per step (the readout y, or with
    /// --objective cross-entropy the predicted class and its softmax probabilities), and the
    /// loss and accuracy over the rows that have a target.
    ///
    /// Example: fourdvar rnn predict --net examples/net.json --data examples/seq.csv --out
    /// pred.csv
    Predict(RnnPredictArgs),
    /// The input sensitivity dL/du_t of every step (one adjoint sweep), the most sensitive
    /// steps, and a fast-gradient-sign attack of size epsilon on the top K of them.
    ///
    /// Example: fourdvar rnn sensitivity --net examples/net.json --data examples/seq.csv
    /// --epsilon 0.05 --top 3 --out sens.json
    Sensitivity(RnnSensitivityArgs),
    /// The gradient norm |dL/dh_t| against the lag T - t for a loss at the last step only
    /// (vanishing or exploding gradients), as CSV `lag,norm`.
    ///
    /// Example: fourdvar rnn gradient-flow --net examples/net.json --data examples/seq.csv
    /// --out flow.csv
    GradientFlow(RnnGradientFlowArgs),
    /// An echo-state network: a fixed random reservoir scaled to a spectral radius, run
    /// forward only, with a ridge-regression readout. Prints train and test RMSE.
    ///
    /// Example: fourdvar rnn reservoir --task lorenz96 --hidden 200 --spectral-radius 0.9
    /// --out esn.json
    Reservoir(RnnReservoirArgs),
    /// Time full BPTT (value and every gradient) against the forward run of the cell, for
    /// dense cells of several sizes and dense / diagonal / low-rank at one size.
    ///
    /// The same as `fourdvar bench rnn`.
    ///
    /// Example: fourdvar rnn bench --sizes 16,128,512 --length 1000 --compare 512 --rank 8
    Bench(RnnBenchArgs),
}

/// Runs one `rnn` subcommand.
pub(crate) fn run(command: RnnCommand) -> Result<i32> {
    match command {
        RnnCommand::Gradient(a) => run_gradient(a),
        RnnCommand::Train(a) => run_train(a),
        RnnCommand::Predict(a) => run_predict(a),
        RnnCommand::Sensitivity(a) => run_input_sensitivity(a),
        RnnCommand::GradientFlow(a) => run_flow(a),
        RnnCommand::Reservoir(a) => run_echo_state(a),
        RnnCommand::Bench(a) => super::bench::run_rnn(&a),
    }
}

/// `--loss` and `--objective`, shared by `rnn gradient` and `rnn sensitivity`.
#[derive(Debug, Args)]
struct LossArgs {
    /// dense: a target at every step; events: sparse targets, silent steps cost nothing.
    #[arg(long, value_enum, default_value_t = LossMode::Dense)]
    loss: LossMode,
    /// mse: 1/2 |y - target|^2; cross-entropy: softmax cross-entropy, y0 the class index.
    #[arg(long, value_enum, default_value_t = LossFunction::MeanSquared)]
    objective: LossFunction,
}

impl LossArgs {
    /// Which steps carry a loss.
    fn mode(&self) -> LossMode {
        self.loss
    }

    /// The loss of one step.
    fn objective(&self) -> LossFunction {
        self.objective
    }
}

/// The network a command reads, `--net NET.json`.
#[derive(Debug, Args)]
pub(crate) struct NetworkArg {
    /// Network JSON, as `rnn train` and `rnn reservoir` write it (hidden, inputs, outputs,
    /// recurrence, w | p,q, u, b, v, c, h0, optional activation tanh | identity).
    /// `--model` is accepted as the older spelling.
    #[arg(long, alias = "model", value_name = "NET.json")]
    net: PathBuf,
}

impl NetworkArg {
    /// [`super::check_paths`] for a command that reads this network and `--data` and writes
    /// `--out`.
    fn check_paths(&self, data: &Path, out: Option<&Path>) -> Result<()> {
        super::check_paths(
            &[("--net", Some(&self.net)), ("--data", Some(data))],
            &[("--out", out)],
        )
    }
}

/// The options of `rnn gradient`.
#[derive(Debug, Args)]
pub(crate) struct RnnGradientArgs {
    #[command(flatten)]
    network: NetworkArg,
    /// Sequence CSV with header t,u0,u1,...,y0,y1,... (empty y cells: no target).
    #[arg(long, value_name = "FILE.csv")]
    data: PathBuf,
    #[command(flatten)]
    loss: LossArgs,
    /// Output JSON with the loss and every gradient (written atomically).
    #[arg(long, value_name = "GRADS.json", default_value = "grads.json")]
    out: PathBuf,
}

/// Runs `rnn gradient`.
fn run_gradient(a: RnnGradientArgs) -> Result<i32> {
    a.network.check_paths(&a.data, Some(&a.out))?;
    let summary = run_rnn_gradient(&RnnGradientRequest {
        network: a.network.net,
        data: a.data,
        mode: a.loss.mode(),
        objective: a.loss.objective(),
        out: a.out.clone(),
    })?;
    output::rnn_gradient(&summary, &a.out);
    Ok(0)
}

/// The options of `rnn train`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["task", "data"])))]
pub(crate) struct RnnTrainArgs {
    /// Built-in task: lorenz96 (next step), recall (delayed recall, 3 classes, gap 20) or
    /// alarm (sparse events).
    #[arg(long, value_enum)]
    task: Option<TrainingTask>,
    /// Gap G of --task recall: the cue at step 0, the class asked for G steps later
    /// [default: 20].
    #[arg(long, value_name = "G", value_parser = values::between(1, MAX_RECALL_GAP))]
    gap: Option<usize>,
    /// Standard deviation of distractor noise on the silent inputs of --task recall
    /// [default: 0].
    #[arg(long, value_name = "S", value_parser = values::non_negative)]
    noise: Option<f64>,
    /// Sequence CSV t,u0,..,y0,.. (empty y cells: no target), trained with mean squared error
    /// or, with --objective cross-entropy, on the class index in y0.
    #[arg(long, value_name = "FILE.csv")]
    data: Option<PathBuf>,
    /// The loss of --data: mse (1/2 |y - target|^2 over the columns y0..) or cross-entropy
    /// (softmax cross-entropy; y0 holds the class index 0, 1, ...). The built-in tasks set
    /// their own.
    #[arg(long, value_enum, conflicts_with = "task")]
    objective: Option<LossFunction>,
    /// Number of classes for --objective cross-entropy (the network's outputs). Default: the
    /// largest class index in the data plus one.
    #[arg(long, value_name = "K", value_parser = values::at_least_one(), requires = "objective")]
    classes: Option<usize>,
    /// Hidden size d.
    #[arg(long, value_name = "D", default_value_t = 16, value_parser = values::at_least_one())]
    hidden: usize,
    /// The cell: elman (h' = tanh(W h + U u + b)) or gru (update and reset gates; its gate
    /// matrices are dense).
    #[arg(long, value_enum, default_value_t = CellKind::Elman)]
    cell: CellKind,
    /// Recurrence structure of an Elman cell: dense, diagonal or low-rank.
    #[arg(long, value_enum, default_value_t = RecurrenceKind::Dense)]
    recurrence: RecurrenceKind,
    /// Rank of the low-rank recurrence.
    #[arg(long, value_name = "R", default_value_t = 2)]
    rank: usize,
    /// lbfgs (full batch), adam or sgd (streaming).
    #[arg(long, value_enum, default_value_t = Method::Lbfgs)]
    method: Method,
    /// Truncated BPTT window K (adam / sgd only); default full BPTT.
    #[arg(long, value_name = "K", value_parser = values::at_least_one())]
    tbptt: Option<usize>,
    /// carry: state carried across windows, staggered offsets; reset: h0 at 0, K, 2K, ...
    #[arg(long, value_enum, default_value_t = TbpttMode::Carry)]
    tbptt_mode: TbpttMode,
    /// L-BFGS iterations or Adam / SGD epochs.
    #[arg(long, value_name = "N", default_value_t = 100)]
    epochs: usize,
    /// Seed of the task data, the initial network and the sequence order.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Clip the gradient norm of each Adam / SGD update to NORM. Default: no clipping.
    #[arg(long, value_name = "NORM", value_parser = values::positive)]
    clip: Option<f64>,
    /// Adam / SGD step size.
    #[arg(long, value_name = "ETA", default_value_t = 0.01, value_parser = values::positive)]
    learning_rate: f64,
    /// Output network JSON (written atomically).
    #[arg(long, value_name = "NET.json", default_value = "net.json")]
    out: PathBuf,
    /// Output loss curve CSV: iteration,loss[,accuracy].
    #[arg(long, value_name = "CURVE.csv")]
    loss_curve: Option<PathBuf>,
    /// Also draw the loss curve (and the accuracy) as a PNG beside the loss curve CSV, or
    /// beside the network JSON without one, and print its path.
    #[command(flatten)]
    plot: super::plot::PictureArgs,
}

/// Runs `rnn train`.
fn run_train(a: RnnTrainArgs) -> Result<i32> {
    let picture = super::plot::picture_beside(a.loss_curve.as_deref().unwrap_or(&a.out));
    super::check_paths(
        &[("--data", a.data.as_deref())],
        &[
            ("--out", Some(&a.out)),
            ("--loss-curve", a.loss_curve.as_deref()),
            ("--plot", a.plot.wanted().then_some(picture.as_path())),
        ],
    )?;
    // clap's "source" group already demands one of the two; this keeps the library call
    // total if that group ever changes.
    if (a.gap.is_some() || a.noise.is_some()) && a.task != Some(TrainingTask::Recall) {
        return Err(crate::Error::invalid(
            "rnn train",
            "--gap and --noise shape the recall task; give them with --task recall",
        ));
    }
    let data = match (a.task, a.data) {
        (Some(t), _) => TrainData::Task(t),
        (None, Some(p)) => TrainData::File {
            path: p,
            objective: a.objective.unwrap_or(LossFunction::MeanSquared),
            classes: a.classes,
        },
        (None, None) => return Err(crate::Error::invalid("rnn train", "give --task or --data")),
    };
    let summary = run_rnn_train(&RnnTrainRequest {
        data,
        hidden: a.hidden,
        recurrence: Recurrence::new(a.recurrence, a.rank),
        cell: a.cell,
        recall_gap: a.gap.unwrap_or(RECALL_GAP),
        recall_noise: a.noise.unwrap_or(0.0),
        method: a.method,
        tbptt: a.tbptt,
        tbptt_mode: a.tbptt_mode,
        epochs: a.epochs,
        seed: a.seed,
        clip: a.clip,
        learning_rate: a.learning_rate,
        out: a.out.clone(),
        loss_curve: a.loss_curve.clone(),
    })?;
    output::rnn_train(&summary, &a.out, a.loss_curve.as_deref());
    let points: Vec<(f64, f64, Option<f64>)> = (summary.curve.iter())
        .map(|p| (p.iteration as f64, p.loss, p.accuracy))
        .collect();
    a.plot.draw_with(&picture, |output| {
        crate::plot::rnn_figures::loss_curve(&points, &summary.data, output)
    })?;
    Ok(output::exit_code(summary.interrupted, &a.out))
}

/// The options of `rnn predict`.
#[derive(Debug, Args)]
pub(crate) struct RnnPredictArgs {
    #[command(flatten)]
    network: NetworkArg,
    /// Sequence CSV t,u0,..[,y0,..]: the inputs, and targets where the loss should be
    /// reported (empty y cells, or no y columns: no target).
    #[arg(long, value_name = "FILE.csv")]
    data: PathBuf,
    /// mse: write the outputs y0..; cross-entropy: write the class and the probabilities
    /// p0.., and compare with the class index in y0.
    #[arg(long, value_enum, default_value_t = LossFunction::MeanSquared)]
    objective: LossFunction,
    /// Output CSV, one row per input row: t,y0,.. or t,class,p0,.. (written atomically).
    #[arg(long, value_name = "PRED.csv", default_value = "predictions.csv")]
    out: PathBuf,
}

/// Runs `rnn predict`.
fn run_predict(a: RnnPredictArgs) -> Result<i32> {
    a.network.check_paths(&a.data, Some(&a.out))?;
    let summary = run_rnn_predict(&RnnPredictRequest {
        network: a.network.net,
        data: a.data,
        objective: a.objective,
        out: a.out.clone(),
    })?;
    output::rnn_predict(&summary, &a.out);
    Ok(0)
}

/// The options of `rnn sensitivity`.
#[derive(Debug, Args)]
pub(crate) struct RnnSensitivityArgs {
    #[command(flatten)]
    network: NetworkArg,
    /// Sequence CSV with header t,u0,u1,...,y0,y1,... (empty y cells: no target).
    #[arg(long, value_name = "FILE.csv")]
    data: PathBuf,
    #[command(flatten)]
    loss: LossArgs,
    /// Size of the fast-gradient-sign perturbation u_t + epsilon sign(dL/du_t).
    #[arg(long, value_name = "E", default_value_t = 0.01, value_parser = values::non_negative)]
    epsilon: f64,
    /// Number of most sensitive steps perturbed.
    #[arg(long, value_name = "K", default_value_t = 1, value_parser = values::at_least_one())]
    top: usize,
    /// Output JSON with every dL/du_t and the attack (written atomically).
    #[arg(long, value_name = "SENS.json")]
    out: Option<PathBuf>,
    /// Also draw the result as a PNG beside --out (or in the current directory without
    /// one) and print its path.
    #[command(flatten)]
    plot: super::plot::PictureArgs,
}

/// Runs `rnn sensitivity`.
fn run_input_sensitivity(a: RnnSensitivityArgs) -> Result<i32> {
    a.network.check_paths(&a.data, a.out.as_deref())?;
    let picture = (a.plot).path_beside(
        a.out.as_deref(),
        "sensitivity.png",
        &[("--data", Some(&a.data))],
    )?;
    let sensitivity = run_sensitivity(&SensitivityRequest {
        network: a.network.net,
        data: a.data,
        mode: a.loss.mode(),
        objective: a.loss.objective(),
        epsilon: a.epsilon,
        top: a.top,
        out: a.out.clone(),
    })?;
    output::rnn_sensitivity(&sensitivity, a.out.as_deref());
    a.plot.draw_with(&picture, |output| {
        crate::plot::rnn_figures::sensitivity(&sensitivity.norms, &sensitivity.top_steps, output)
    })?;
    Ok(0)
}

/// The options of `rnn gradient-flow`.
#[derive(Debug, Args)]
pub(crate) struct RnnGradientFlowArgs {
    #[command(flatten)]
    network: NetworkArg,
    /// Sequence CSV; the loss 1/2 |y_T - target_T|^2 uses the last row's target only.
    #[arg(long, value_name = "FILE.csv")]
    data: PathBuf,
    /// Output CSV with header lag,norm (written atomically).
    #[arg(long, value_name = "FLOW.csv")]
    out: Option<PathBuf>,
    /// Also draw the result as a PNG beside --out (or in the current directory without
    /// one) and print its path.
    #[command(flatten)]
    plot: super::plot::PictureArgs,
}

/// Runs `rnn gradient-flow`.
fn run_flow(a: RnnGradientFlowArgs) -> Result<i32> {
    a.network.check_paths(&a.data, a.out.as_deref())?;
    let picture = (a.plot).path_beside(
        a.out.as_deref(),
        "gradient-flow.png",
        &[("--data", Some(&a.data))],
    )?;
    let flow = run_gradient_flow(&GradientFlowRequest {
        network: a.network.net,
        data: a.data,
        out: a.out.clone(),
    })?;
    output::rnn_gradient_flow(&flow, a.out.as_deref());
    let points: Vec<(f64, f64)> = (flow.by_lag().into_iter())
        .map(|(lag, norm)| (lag as f64, norm))
        .collect();
    a.plot.draw_with(&picture, |output| {
        crate::plot::rnn_figures::gradient_flow(&points, output)
    })?;
    Ok(0)
}

/// The options of `rnn reservoir`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["task", "data"])))]
pub(crate) struct RnnReservoirArgs {
    /// A built-in task: lorenz96 (next step of one Lorenz-96 site, 5000 steps).
    #[arg(long, value_enum)]
    task: Option<RegressionTask>,
    /// Or a sequence CSV with header t,u0,...,y0,... (rows without a target are skipped).
    #[arg(long, value_name = "FILE.csv")]
    data: Option<PathBuf>,
    /// Reservoir size d.
    #[arg(long, value_name = "D", default_value_t = 200,
          value_parser = values::between(1, MAX_RESERVOIR))]
    hidden: usize,
    /// Spectral radius of W after scaling.
    #[arg(long, value_name = "R", default_value_t = 0.9, value_parser = values::non_negative)]
    spectral_radius: f64,
    /// Ridge penalty alpha on V (the bias c is not penalised).
    #[arg(long, value_name = "A", default_value_t = 1e-6, value_parser = values::positive)]
    ridge: f64,
    /// Seed of the random reservoir (ChaCha8).
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,
    /// Output network JSON (written atomically).
    #[arg(long, value_name = "NET.json", default_value = "esn.json")]
    out: PathBuf,
}

/// Runs `rnn reservoir`.
fn run_echo_state(a: RnnReservoirArgs) -> Result<i32> {
    super::check_paths(&[("--data", a.data.as_deref())], &[("--out", Some(&a.out))])?;
    // clap's "source" group demands exactly one of --task and --data.
    let task = match (a.data, a.task) {
        (Some(path), _) => ReservoirTask::Data(path),
        (None, Some(RegressionTask::Lorenz96)) | (None, None) => ReservoirTask::Lorenz96,
    };
    let summary = run_reservoir(&ReservoirRequest {
        task,
        hidden: a.hidden,
        spectral_radius: a.spectral_radius,
        ridge: a.ridge,
        seed: a.seed,
        out: a.out.clone(),
    })?;
    let settings = ReservoirSettings {
        hidden: a.hidden,
        spectral_radius: a.spectral_radius,
        ridge: a.ridge,
    };
    output::rnn_reservoir(&settings, &summary, &a.out);
    Ok(0)
}

/// The options of `rnn bench` and `bench rnn`.
#[derive(Debug, Args)]
pub(crate) struct RnnBenchArgs {
    /// Hidden sizes d of the dense cells timed, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "16,128,512")]
    pub(super) sizes: Vec<usize>,
    /// Sequence length T.
    #[arg(long, value_name = "T", default_value_t = 1000)]
    pub(super) length: usize,
    /// Hidden size at which dense, diagonal and low-rank are compared (0: skip).
    #[arg(long, value_name = "D", default_value_t = 512)]
    pub(super) compare: usize,
    /// Rank r of the low-rank cell.
    #[arg(long, value_name = "R", default_value_t = 8)]
    pub(super) rank: usize,
    /// Seconds spent on each measurement (7 alternating batches, median ratio reported).
    #[arg(long, value_name = "SECONDS", default_value_t = 0.5,
          value_parser = values::positive_seconds)]
    pub(super) min_time: f64,
    #[command(flatten)]
    pub(super) format: output::FormatArgs,
}
