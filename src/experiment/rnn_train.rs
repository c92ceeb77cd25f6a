//! `fourdvar rnn train`: trains an Elman network on a built-in task (Lorenz-96 next step,
//! delayed recall, sparse alarm) or on a sequence CSV, with full-batch L-BFGS or streaming
//! Adam / SGD (optionally truncated BPTT), every gradient from the core's adjoint sweep.
//! Writes the trained network JSON and, optionally, the loss curve as CSV
//! (`iteration,loss[,accuracy]`).

use std::fs;
use std::path::{Path, PathBuf};

use crate::core::choice::choice_name;
use crate::core::Storage;
use crate::io::atomic_output::AtomicOutput;
use crate::io::rnn_files::{read_sequence_data, save_network};
use crate::rnn::tasks::{delayed_recall, lorenz96_next_step, sparse_alarm};
use crate::rnn::training::{CurvePoint, Stagger, Truncation};
use crate::rnn::{
    evaluate, initial_network, train, CellKind, CellShape, Dataset, LossFunction, Method,
    Recurrence, Sample, TbpttMode, TrainOptions,
};
use crate::{Error, Result};

use crate::progress::{detail, iteration_bar};

/// Classes of the built-in recall task.
pub const RECALL_CLASSES: usize = 3;
/// The largest class index `rnn train --data` accepts (the readout V has K rows).
pub const MAX_CLASSES: usize = 65_535;
/// The longest recall gap `rnn train --gap` accepts (300 sequences of G + 1 steps each).
pub const MAX_RECALL_GAP: usize = 10_000;
/// Gap G of the built-in recall task (T = G + 1 steps).
pub const RECALL_GAP: usize = 20;

/// The built-in training tasks, as `--task` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum TrainingTask {
    /// Next step of a Lorenz-96 site (regression, mean squared error).
    Lorenz96,
    /// Delayed recall: 3 classes, gap 20 (classification).
    Recall,
    /// Sparse alarm events (classification).
    Alarm,
}

/// Where the training data come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrainData {
    /// A built-in task.
    Task(TrainingTask),
    /// One sequence CSV (t,u0..,y0..; empty y cells = no target).
    File {
        /// The CSV.
        path: PathBuf,
        /// Mean squared error over y0.., or cross-entropy on the class index in y0.
        objective: LossFunction,
        /// The number of classes K for cross-entropy (None: the largest index + 1).
        classes: Option<usize>,
    },
}

/// What `rnn train` is asked to do.
#[derive(Clone, Debug)]
pub struct RnnTrainRequest {
    /// Task or data file.
    pub data: TrainData,
    /// Hidden size d.
    pub hidden: usize,
    /// Recurrence structure (and rank).
    pub recurrence: Recurrence,
    /// Elman or GRU.
    pub cell: CellKind,
    /// Gap G of the recall task.
    pub recall_gap: usize,
    /// Distractor noise σ on the recall task's silent inputs.
    pub recall_noise: f64,
    /// The optimiser.
    pub method: Method,
    /// Truncated-BPTT window K (None: full BPTT).
    pub tbptt: Option<usize>,
    /// How truncated windows are joined.
    pub tbptt_mode: TbpttMode,
    /// L-BFGS iterations or epochs.
    pub epochs: usize,
    /// Seed of the task, the initial network and the sequence order.
    pub seed: u64,
    /// Gradient-norm clipping bound (Adam / SGD).
    pub clip: Option<f64>,
    /// Adam / SGD step size.
    pub learning_rate: f64,
    /// Output network JSON.
    pub out: PathBuf,
    /// Output loss-curve CSV.
    pub loss_curve: Option<PathBuf>,
}

/// What `rnn train` achieved.
#[derive(Clone, Debug)]
pub struct RnnTrainSummary {
    /// The task name or the data file.
    pub data: String,
    /// Loss of the untrained network.
    pub initial_loss: f64,
    /// Loss of the trained network, (1/N) Σ_n L_n over the training sequences.
    pub final_loss: f64,
    /// Training accuracy (classification only).
    pub train_accuracy: Option<f64>,
    /// Accuracy on held-out sequences of the same task (recall only).
    pub test_accuracy: Option<f64>,
    /// Points of the loss curve after the first.
    pub iterations: usize,
    /// Core sweeps run.
    pub sweeps: u64,
    /// Why training stopped.
    pub stop_reason: String,
    /// Whether a signal (Ctrl-C) stopped training early; the files hold the network so far.
    pub interrupted: bool,
    /// The loss curve (iteration 0 is the untrained network).
    pub curve: Vec<CurvePoint>,
}

/// Training set, optional held-out set and the recurrence scale ρ of the initial network.
fn load_data(request: &RnnTrainRequest) -> Result<(Dataset, Option<Dataset>, f64)> {
    let seed = request.seed;
    match &request.data {
        TrainData::Task(task) => match task {
            TrainingTask::Lorenz96 => Ok((lorenz96_next_step(8, 20, 25, seed)?, None, 0.5)),
            TrainingTask::Recall => {
                let (gap, noise) = (request.recall_gap, request.recall_noise);
                if gap == 0 || gap > MAX_RECALL_GAP {
                    return Err(Error::invalid(
                        "recall gap",
                        format!("must be between 1 and {MAX_RECALL_GAP}, got {gap}"),
                    ));
                }
                let task = |seed| delayed_recall(RECALL_CLASSES, gap, 300, noise, seed);
                Ok((task(seed)?, Some(task(seed.wrapping_add(1))?), 1.0))
            }
            TrainingTask::Alarm => Ok((sparse_alarm(40, 60, seed)?, None, 0.5)),
        },
        TrainData::File {
            path,
            objective,
            classes,
        } => Ok((file_dataset(path, *objective, *classes)?, None, 0.5)),
    }
}

/// The data set of one sequence CSV: mean squared error over every y column, or
/// cross-entropy on the class index in y0 with `classes` classes (default the largest index
/// + 1). Errors name the file and the line.
fn file_dataset(path: &Path, objective: LossFunction, classes: Option<usize>) -> Result<Dataset> {
    let d = read_sequence_data(path)?;
    if d.input_len == 0 || d.target_len == 0 {
        return Err(Error::input(
            path,
            None,
            "training needs at least one input column (u0) and one target column (y0)",
        ));
    }
    if !d.has_target.iter().any(|h| *h) {
        return Err(Error::input(path, None, "no row has a target"));
    }
    let header = Some(d.header_line).filter(|l| *l > 0);
    let outputs = match objective {
        LossFunction::MeanSquared => d.target_len,
        LossFunction::CrossEntropy => {
            if d.target_len != 1 {
                return Err(Error::input(
                    path,
                    header,
                    format!(
                        "has {} target columns; cross-entropy takes one column y0 holding the \
                         class index",
                        d.target_len
                    ),
                ));
            }
            let mut largest = 0usize;
            for t in (0..d.steps()).filter(|&t| d.has_target[t]) {
                let c = d.target(t)[0];
                let fits = classes.is_none_or(|k| c < k as f64);
                if c.fract() != 0.0 || c < 0.0 || !fits || c > MAX_CLASSES as f64 {
                    let range = match classes {
                        Some(k) => format!("0..{} (--classes {k})", k - 1),
                        None => format!("0..{MAX_CLASSES}"),
                    };
                    return Err(Error::input(
                        path,
                        d.line(t),
                        format!("y0 = {c} is not a class index {range}"),
                    ));
                }
                largest = largest.max(c as usize);
            }
            let k = classes.unwrap_or(largest + 1);
            if k < 2 {
                return Err(Error::input(
                    path,
                    None,
                    "every target is class 0: cross-entropy needs at least two classes (give \
                     --classes K if the data hold only some of them)",
                ));
            }
            k
        }
    };
    let targets = match objective {
        LossFunction::MeanSquared => d.targets,
        LossFunction::CrossEntropy => (0..d.steps()).map(|t| d.target(t)[0]).collect(),
    };
    Ok(Dataset {
        inputs: d.input_len,
        outputs,
        objective,
        samples: vec![Sample {
            inputs: d.inputs,
            targets,
            active: d.has_target,
        }],
    })
}

/// The training options of `request`, with clear errors for bad names and numbers.
fn options(request: &RnnTrainRequest) -> Result<TrainOptions> {
    let (method, mode) = (request.method, request.tbptt_mode);
    if request.tbptt == Some(0) {
        return Err(Error::invalid(
            "truncated-BPTT window",
            "the window must be at least 1 step",
        ));
    }
    let o = TrainOptions {
        method,
        epochs: request.epochs,
        learning_rate: request.learning_rate,
        batch_size: 10,
        clip: request.clip,
        truncation: request.tbptt.map(|window| Truncation {
            window,
            mode,
            stagger: Stagger::EpochModK,
        }),
        seed: request.seed,
        storage: Storage::All,
        ..TrainOptions::default()
    };
    o.validate()?;
    Ok(o)
}

/// The loss curve as CSV: `iteration,loss` or `iteration,loss,accuracy`.
fn curve_csv(curve: &[CurvePoint]) -> String {
    let with_accuracy = curve.iter().any(|p| p.accuracy.is_some());
    let mut text = String::from(if with_accuracy {
        "iteration,loss,accuracy\n"
    } else {
        "iteration,loss\n"
    });
    for p in curve {
        text.push_str(&format!("{},{:e}", p.iteration, p.loss));
        if with_accuracy {
            text.push_str(&format!(",{}", p.accuracy.unwrap_or(f64::NAN)));
        }
        text.push('\n');
    }
    text
}

/// Builds the data and the initial network, trains with a progress bar on stderr, and writes
/// the network JSON and the loss curve atomically.
pub fn run_rnn_train(request: &RnnTrainRequest) -> Result<RnnTrainSummary> {
    // The first Ctrl-C ends training after the current epoch (iteration), also when it comes
    // while the data are made: the network so far is written.
    let _graceful = crate::interrupt::graceful();
    let recurrence = request.recurrence;
    if request.hidden == 0 {
        return Err(Error::invalid("hidden size", "must be at least 1"));
    }
    let options = options(request)?;
    // Reserve the outputs first, so an unwritable path is reported before any work.
    drop(AtomicOutput::new(&request.out)?);
    if let Some(p) = &request.loss_curve {
        drop(AtomicOutput::new(p)?);
    }
    let (data, test, scale) = load_data(request)?;
    let shape = CellShape {
        cell: request.cell,
        hidden: request.hidden,
        inputs: data.inputs,
        recurrence,
    };
    let net = initial_network(shape, data.outputs, scale, request.seed)?;
    let bar = iteration_bar(request.epochs as u64, "training");
    let outcome = train(&net, &data, &options, &mut |p| {
        bar.set_position(p.iteration);
        bar.set_message(format!("loss {:.4e}", p.loss));
        detail(|| format!("iteration {}: loss {:.6e}", p.iteration, p.loss));
    })?;
    bar.finish_and_clear();
    let final_eval = evaluate(&outcome.network, &data)?;
    let test_accuracy = match &test {
        Some(t) => evaluate(&outcome.network, t)?.accuracy,
        None => None,
    };
    save_network(&request.out, &outcome.network)?;
    if let Some(p) = &request.loss_curve {
        let out = AtomicOutput::new(p)?;
        fs::write(out.temp_path(), curve_csv(&outcome.curve)).map_err(|e| Error::io(p, e))?;
        out.commit()?;
    }
    Ok(RnnTrainSummary {
        data: match &request.data {
            TrainData::Task(t) => choice_name(t),
            TrainData::File { path, .. } => path.display().to_string(),
        },
        initial_loss: outcome.curve.first().map_or(f64::NAN, |p| p.loss),
        final_loss: final_eval.loss,
        train_accuracy: final_eval.accuracy,
        test_accuracy,
        iterations: outcome.curve.len().saturating_sub(1),
        sweeps: outcome.sweeps,
        stop_reason: outcome.stop_reason,
        interrupted: outcome.interrupted,
        curve: outcome.curve,
    })
}
