//! Training an Elman network on a batch of sequences, every gradient from the core's one
//! adjoint sweep ([`super::sequence_gradient`], or [`super::tbptt`] windows of it).
//!
//! The training loss is the mean over the N sequences, L(z) = (1/N) Σ_n L_n(z), with the
//! control z = [θ; V, c; h_0 (optional)]; ∇L = (1/N) Σ_n ∇L_n, one sweep per sequence.
//!
//! - Full batch: argmin L-BFGS (7 pairs, More–Thuente line search) over z, the pattern of
//!   [`crate::var::minimize`] (rescaled control, cached evaluations, best iterate kept).
//! - Streaming: Adam or SGD with momentum over gradient pieces (a whole sequence with full
//!   BPTT, one window with truncated BPTT), an update after every `batch_size` pieces, with
//!   optional gradient-norm clipping g ← g · min(1, c / ‖g‖).
//!
//! The loss curve has one point per L-BFGS iteration or per epoch.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use crate::core::vector::norm;
use crate::core::{integrate, StageCost, Storage};
use crate::error::{Error, Result};

use super::dataset::Dataset;
use super::tbptt::{window_bounds, window_gradient, TbpttMode};
use super::{sequence_gradient, CellKind, CellShape, LossFunction, Network, Recurrence};

/// The initial bias b_z of a GRU's update gate: σ(−2) ≈ 0.12.
pub const GRU_UPDATE_BIAS: f64 = -2.0;

/// A network of `shape` with `outputs` outputs, seeded (ChaCha8): recurrence dense
/// W = ρ I + N(0, 0.01/d), diagonal w = ρ, low rank P = N(0, 1/d), Q = ρ P (W = ρ P Pᵀ);
/// U ~ N(0, 1/m), b = 0, V ~ N(0, 0.1²/d), c = 0, h_0 = 0. ρ = `recurrence_scale` (close to 1
/// lets BPTT carry information over many steps). A GRU gets the dense W and the U of each of
/// its three gates drawn so, and b = 0 except the update gate's b_z = −2: z ≈ 0.12 at first,
/// so the state is mostly kept from step to step (the gate starts nearly closed).
pub fn initial_network(
    shape: CellShape,
    outputs: usize,
    recurrence_scale: f64,
    seed: u64,
) -> Result<Network> {
    shape.validate()?;
    if outputs == 0 || shape.inputs == 0 {
        return Err(Error::invalid(
            "network",
            "inputs and outputs must be at least 1",
        ));
    }
    if !recurrence_scale.is_finite() {
        return Err(Error::invalid("recurrence scale", "must be finite"));
    }
    let (d, m) = (shape.hidden, shape.inputs);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut normal = |sd: f64| -> f64 {
        Normal::new(0.0, sd)
            .map(|n| n.sample(&mut rng))
            .unwrap_or(0.0)
    };
    let mut theta = Vec::with_capacity(shape.param_len());
    let blocks = shape.cell.blocks();
    match shape.recurrence {
        Recurrence::Dense => {
            for i in (0..blocks).flat_map(|_| 0..d) {
                for j in 0..d {
                    let diag = if i == j { recurrence_scale } else { 0.0 };
                    theta.push(diag + normal(0.1 / (d as f64).sqrt()));
                }
            }
        }
        Recurrence::Diagonal => theta.extend(std::iter::repeat_n(recurrence_scale, d)),
        Recurrence::LowRank { rank } => {
            let p: Vec<f64> = (0..d * rank)
                .map(|_| normal(1.0 / (d as f64).sqrt()))
                .collect();
            theta.extend_from_slice(&p);
            theta.extend(p.iter().map(|v| recurrence_scale * v));
        }
    }
    for _ in 0..blocks * d * m {
        theta.push(normal(1.0 / (m as f64).sqrt()));
    }
    if shape.cell == CellKind::Gru {
        theta.extend(std::iter::repeat_n(GRU_UPDATE_BIAS, d));
        theta.extend(std::iter::repeat_n(0.0, 2 * d));
    } else {
        theta.extend(std::iter::repeat_n(0.0, d));
    }
    let mut readout: Vec<f64> = (0..outputs * d)
        .map(|_| normal(0.1 / (d as f64).sqrt()))
        .collect();
    readout.extend(std::iter::repeat_n(0.0, outputs));
    let net = Network {
        shape,
        outputs,
        theta,
        readout,
        h0: vec![0.0; d],
    };
    net.validate()?;
    Ok(net)
}

/// The control vector z = [θ; V, c] or [θ; V, c; h_0].
pub fn pack(net: &Network, train_h0: bool) -> Vec<f64> {
    let mut z = net.theta.clone();
    z.extend_from_slice(&net.readout);
    if train_h0 {
        z.extend_from_slice(&net.h0);
    }
    z
}

/// Writes z = [θ; V, c (; h_0)] back into `net` (the inverse of [`pack`]).
pub fn unpack(net: &mut Network, z: &[f64], train_h0: bool) {
    let (nt, nr) = (net.theta.len(), net.readout.len());
    net.theta.copy_from_slice(&z[..nt]);
    net.readout.copy_from_slice(&z[nt..nt + nr]);
    if train_h0 {
        let nh = net.h0.len();
        net.h0.copy_from_slice(&z[nt + nr..nt + nr + nh]);
    }
}

/// The gradient [∂L/∂θ; ∂L/∂(V, c) (; ∂L/∂h_0)] laid out as [`pack`].
fn pack_gradient(g: &super::SequenceGradient, train_h0: bool) -> Vec<f64> {
    let mut z = g.theta.clone();
    z.extend_from_slice(&g.readout);
    if train_h0 {
        z.extend_from_slice(&g.h0);
    }
    z
}

/// L = (1/N) Σ_n L_n and ∇_z L = (1/N) Σ_n ∇_z L_n (z as [`pack`]), one core sweep
/// ([`sequence_gradient`], full BPTT) per sequence.
pub fn batch_gradient(
    net: &Network,
    data: &Dataset,
    train_h0: bool,
    storage: Storage,
) -> Result<(f64, Vec<f64>)> {
    let mut total = 0.0;
    let mut grad = vec![0.0; pack(net, train_h0).len()];
    for s in &data.samples {
        let steps = data.sample_steps(s);
        let cell = data.sub_cell(net, s, 0, steps)?;
        let loss = data.sub_loss(net, s, 0, steps)?;
        let g = sequence_gradient(&cell, &net.h0, &loss, storage)?;
        total += g.loss;
        for (a, b) in grad.iter_mut().zip(pack_gradient(&g, train_h0)) {
            *a += b;
        }
    }
    let n = data.samples.len().max(1) as f64;
    grad.iter_mut().for_each(|g| *g /= n);
    Ok((total / n, grad))
}

/// Loss and, for cross-entropy, accuracy of a network on a data set (forward only).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evaluation {
    /// L = (1/N) Σ_n L_n.
    pub loss: f64,
    /// Fraction of target rows whose arg-max output is the target class (cross-entropy only).
    pub accuracy: Option<f64>,
}

/// The mean loss (1/N) Σ_n L_n of `net` on `data` from h_0 over whole sequences, and for
/// cross-entropy the accuracy: the fraction of target rows t with argmax_i y_{t,i} = c_t.
pub fn evaluate(net: &Network, data: &Dataset) -> Result<Evaluation> {
    let (mut total, mut correct, mut counted) = (0.0, 0usize, 0usize);
    let mut y = vec![0.0; data.outputs];
    for s in &data.samples {
        let steps = data.sample_steps(s);
        let cell = data.sub_cell(net, s, 0, steps)?;
        let loss = data.sub_loss(net, s, 0, steps)?;
        integrate(&cell, &net.h0, steps, |k, h| {
            if loss.is_active(k) {
                total += loss.value(k, h);
                if data.objective == LossFunction::CrossEntropy {
                    loss.outputs(h, &mut y);
                    let best = (0..y.len())
                        .max_by(|&a, &b| y[a].total_cmp(&y[b]))
                        .unwrap_or(0);
                    counted += 1;
                    if best as f64 == s.targets[k - 1] {
                        correct += 1;
                    }
                }
            }
        })?;
    }
    Ok(Evaluation {
        loss: total / data.samples.len().max(1) as f64,
        accuracy: (data.objective == LossFunction::CrossEntropy && counted > 0)
            .then(|| correct as f64 / counted as f64),
    })
}

/// The optimiser.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
#[value(rename_all = "lowercase")]
pub enum Method {
    /// Full-batch L-BFGS (7 pairs, More–Thuente line search); one point per iteration.
    Lbfgs,
    /// Adam: m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², z ← z − η m̂ / (√v̂ + ε).
    Adam,
    /// SGD with momentum: u ← μ u − η g, z ← z + u.
    Sgd,
}

impl Method {
    /// The command-line name: "lbfgs", "adam" or "sgd".
    pub fn name(self) -> String {
        crate::core::choice::choice_name(&self)
    }
}

/// How the window offsets of state-carrying TBPTT move from epoch to epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stagger {
    /// o = epoch mod K.
    EpochModK,
    /// o drawn uniformly from 0..K, per sequence and epoch, from the training seed.
    Random,
}

/// Truncated BPTT settings for the streaming methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Truncation {
    /// Window length K ≥ 1.
    pub window: usize,
    /// State-carrying (staggered) or naive (reset at 0, K, 2K, …).
    pub mode: TbpttMode,
    /// Offset rule of carry mode.
    pub stagger: Stagger,
}

/// Training settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainOptions {
    /// The optimiser.
    pub method: Method,
    /// L-BFGS: most iterations; Adam / SGD: epochs (passes over the data).
    pub epochs: usize,
    /// Step size η of Adam / SGD.
    pub learning_rate: f64,
    /// SGD momentum μ (0 ≤ μ < 1).
    pub momentum: f64,
    /// Adam β₁.
    pub beta1: f64,
    /// Adam β₂.
    pub beta2: f64,
    /// Gradient pieces (sequences, or windows with TBPTT) averaged per Adam / SGD update.
    pub batch_size: usize,
    /// Clip each update's gradient to this norm (Adam / SGD).
    pub clip: Option<f64>,
    /// Whether h_0 is trained too.
    pub train_h0: bool,
    /// Truncated BPTT (Adam / SGD only); None = full BPTT.
    pub truncation: Option<Truncation>,
    /// Seed of the sequence order and random offsets.
    pub seed: u64,
    /// Trajectory storage of every sweep.
    pub storage: Storage,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            method: Method::Lbfgs,
            epochs: 200,
            learning_rate: 0.01,
            momentum: 0.9,
            beta1: 0.9,
            beta2: 0.999,
            batch_size: 16,
            clip: None,
            train_h0: false,
            truncation: None,
            seed: 1,
            storage: Storage::All,
        }
    }
}

impl TrainOptions {
    /// Checks the numbers: epochs ≥ 1, η > 0, 0 ≤ μ < 1, 0 ≤ β < 1, batch ≥ 1, clip > 0,
    /// window ≥ 1, and that L-BFGS runs without truncation.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str, msg: &str| Err(Error::invalid(what, msg));
        if self.epochs == 0 {
            return bad("epochs", "must be at least 1");
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad("learning rate", "must be a positive number");
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return bad("momentum", "must be in [0, 1)");
        }
        if !((0.0..1.0).contains(&self.beta1) && (0.0..1.0).contains(&self.beta2)) {
            return bad("Adam betas", "must be in [0, 1)");
        }
        if self.batch_size == 0 {
            return bad("batch size", "must be at least 1");
        }
        if let Some(c) = self.clip {
            if !(c.is_finite() && c > 0.0) {
                return bad("clip", "the gradient-norm bound must be a positive number");
            }
        }
        if let Some(t) = self.truncation {
            if t.window == 0 {
                return bad("TBPTT window", "must be at least 1 step");
            }
            if self.method == Method::Lbfgs {
                return bad(
                    "method",
                    "truncated BPTT needs a streaming method (adam or sgd); L-BFGS is full batch",
                );
            }
        }
        Ok(())
    }
}

/// One point of the loss curve.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CurvePoint {
    /// L-BFGS iteration or epoch (0 = before training).
    pub iteration: u64,
    /// The training loss (1/N) Σ_n L_n there.
    pub loss: f64,
    /// Training accuracy (cross-entropy only).
    pub accuracy: Option<f64>,
}

/// What training returns.
#[derive(Clone, Debug)]
pub struct TrainOutcome {
    /// The trained network (L-BFGS: the best iterate found).
    pub network: Network,
    /// One point per iteration / epoch, starting with the untrained network.
    pub curve: Vec<CurvePoint>,
    /// Why training stopped, in words.
    pub stop_reason: String,
    /// Number of core sweeps run (sequences or windows).
    pub sweeps: u64,
    /// Whether a signal (Ctrl-C) stopped training early (the network is the last epoch's, or
    /// L-BFGS's best iterate).
    pub interrupted: bool,
}

/// Trains `net` on `data` with `options`, calling `progress` with every new curve point.
/// Fails on invalid data or options, or when the network blows up at the start.
pub fn train(
    net: &Network,
    data: &Dataset,
    options: &TrainOptions,
    progress: &mut dyn FnMut(&CurvePoint),
) -> Result<TrainOutcome> {
    net.validate()?;
    data.validate()?;
    options.validate()?;
    if net.shape.inputs != data.inputs || net.outputs != data.outputs {
        return Err(Error::invalid(
            "network",
            format!(
                "has {} inputs and {} outputs, the data {} and {}",
                net.shape.inputs, net.outputs, data.inputs, data.outputs
            ),
        ));
    }
    // The first Ctrl-C ends training at the end of the epoch or iteration.
    let _graceful = crate::interrupt::graceful();
    match options.method {
        Method::Lbfgs => {
            // L-BFGS can stall on a plateau (the line search finds no decrease along the
            // quasi-Newton direction); restart from the best point with a fresh memory, at most
            // 3 times, while iterations remain.
            let mut out = train_lbfgs(net, data, options, 0, progress)?;
            for _ in 0..3 {
                let done = out.curve.last().map_or(0, |p| p.iteration) as usize;
                if done >= options.epochs || out.stop_reason.contains("maximum") || out.interrupted
                {
                    break;
                }
                let rest = TrainOptions {
                    epochs: options.epochs - done,
                    ..*options
                };
                let more = train_lbfgs(&out.network, data, &rest, done as u64, progress)?;
                out.curve.extend(more.curve.into_iter().skip(1));
                out.sweeps += more.sweeps;
                out.network = more.network;
                out.stop_reason = format!("{} (after a restart)", more.stop_reason);
                out.interrupted = more.interrupted;
            }
            Ok(out)
        }
        Method::Adam | Method::Sgd => train_streaming(net, data, options, progress),
    }
}

fn curve_point(iteration: u64, net: &Network, data: &Dataset) -> Result<CurvePoint> {
    let e = evaluate(net, data)?;
    Ok(CurvePoint {
        iteration,
        loss: e.loss,
        accuracy: e.accuracy,
    })
}

/// Adam or SGD state over z.
struct Stepper {
    options: TrainOptions,
    m: Vec<f64>,
    v: Vec<f64>,
    t: i32,
}

impl Stepper {
    fn step(&mut self, z: &mut [f64], g: &mut [f64]) {
        let o = &self.options;
        if let Some(c) = o.clip {
            let n = norm(g);
            if n > c {
                g.iter_mut().for_each(|x| *x *= c / n);
            }
        }
        match o.method {
            Method::Sgd => {
                for ((zi, ui), gi) in z.iter_mut().zip(&mut self.m).zip(g.iter()) {
                    *ui = o.momentum * *ui - o.learning_rate * gi;
                    *zi += *ui;
                }
            }
            _ => {
                self.t = self.t.saturating_add(1);
                let b1 = 1.0 - o.beta1.powi(self.t);
                let b2 = 1.0 - o.beta2.powi(self.t);
                for (((zi, mi), vi), gi) in
                    z.iter_mut().zip(&mut self.m).zip(&mut self.v).zip(g.iter())
                {
                    *mi = o.beta1 * *mi + (1.0 - o.beta1) * gi;
                    *vi = o.beta2 * *vi + (1.0 - o.beta2) * gi * gi;
                    *zi -= o.learning_rate * (*mi / b1) / ((*vi / b2).sqrt() + 1e-8);
                }
            }
        }
    }
}

/// Adam / SGD over gradient pieces: whole sequences (full BPTT) or TBPTT windows, in a
/// seeded shuffled order of sequences each epoch; an update after every `batch_size` pieces
/// (and at the end of each epoch), the gradient averaged over the pieces.
fn train_streaming(
    start: &Network,
    data: &Dataset,
    options: &TrainOptions,
    progress: &mut dyn FnMut(&CurvePoint),
) -> Result<TrainOutcome> {
    let train_h0 = options.train_h0;
    let mut net = start.clone();
    let mut z = pack(&net, train_h0);
    let mut stepper = Stepper {
        options: *options,
        m: vec![0.0; z.len()],
        v: vec![0.0; z.len()],
        t: 0,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let mut order: Vec<usize> = (0..data.samples.len()).collect();
    let first = curve_point(0, &net, data)?;
    progress(&first);
    let mut curve = vec![first];
    let mut sweeps = 0u64;
    let mut acc = vec![0.0; z.len()];
    let mut pieces = 0usize;
    let mut flush =
        |z: &mut Vec<f64>, net: &mut Network, acc: &mut Vec<f64>, pieces: &mut usize| {
            if *pieces == 0 {
                return;
            }
            let n = *pieces as f64;
            acc.iter_mut().for_each(|g| *g /= n);
            stepper.step(z, acc);
            unpack(net, z, train_h0);
            acc.fill(0.0);
            *pieces = 0;
        };
    for epoch in 0..options.epochs {
        order.shuffle(&mut rng);
        for &n in &order {
            let s = &data.samples[n];
            let steps = data.sample_steps(s);
            let (bounds, mode) = match options.truncation {
                None => (vec![(0, steps)], TbpttMode::Reset),
                Some(t) => {
                    let offset = match t.stagger {
                        Stagger::EpochModK => epoch % t.window,
                        Stagger::Random => rng.random_range(0..t.window),
                    };
                    (window_bounds(steps, t.window, t.mode, offset), t.mode)
                }
            };
            let mut h = net.h0.clone();
            for (i, b) in bounds.into_iter().enumerate() {
                let h_start = match mode {
                    TbpttMode::Carry => h.clone(),
                    TbpttMode::Reset => net.h0.clone(),
                };
                let w = window_gradient(&net, data, s, b, &h_start, options.storage)?;
                sweeps += 1;
                let g = &w.gradient;
                let h0_counts = train_h0 && (mode == TbpttMode::Reset || i == 0);
                let (nt, nr) = (g.theta.len(), g.readout.len());
                for (a, x) in acc[..nt].iter_mut().zip(&g.theta) {
                    *a += x;
                }
                for (a, x) in acc[nt..nt + nr].iter_mut().zip(&g.readout) {
                    *a += x;
                }
                if h0_counts {
                    for (a, x) in acc[nt + nr..].iter_mut().zip(&g.h0) {
                        *a += x;
                    }
                }
                h = w.end_state;
                pieces += 1;
                if pieces >= options.batch_size {
                    flush(&mut z, &mut net, &mut acc, &mut pieces);
                }
            }
        }
        flush(&mut z, &mut net, &mut acc, &mut pieces);
        let point = curve_point(epoch as u64 + 1, &net, data)?;
        if !point.loss.is_finite() {
            return Err(Error::invalid(
                "training",
                format!(
                    "the loss became non-finite in epoch {} (try a smaller learning rate or gradient clipping)",
                    epoch + 1
                ),
            ));
        }
        progress(&point);
        curve.push(point);
        if crate::interrupt::requested() && epoch + 1 < options.epochs {
            return Ok(TrainOutcome {
                network: net,
                curve,
                stop_reason: format!(
                    "interrupted after epoch {} of {}",
                    epoch + 1,
                    options.epochs
                ),
                sweeps,
                interrupted: true,
            });
        }
    }
    Ok(TrainOutcome {
        network: net,
        curve,
        stop_reason: format!("{} epochs done", options.epochs),
        sweeps,
        interrupted: false,
    })
}

/// The full-batch loss as a core minimisation objective over the packed parameters z. A point
/// where the network blows up is an infinite loss (the line search backs off), not an error.
struct BatchObjective<'a> {
    net: &'a Network,
    data: &'a Dataset,
    options: &'a TrainOptions,
    sweeps: std::cell::Cell<u64>,
}

impl crate::core::minimize::Objective for BatchObjective<'_> {
    fn value_and_gradient(&self, z: &[f64]) -> Result<(f64, Vec<f64>)> {
        let mut net = self.net.clone();
        unpack(&mut net, z, self.options.train_h0);
        let samples = self.data.samples.len() as u64;
        self.sweeps.set(self.sweeps.get() + samples);
        let train_h0 = self.options.train_h0;
        Ok(
            match batch_gradient(&net, self.data, train_h0, self.options.storage) {
                Ok((l, g)) if l.is_finite() && crate::core::vector::all_finite(&g) => (l, g),
                _ => (f64::INFINITY, vec![0.0; z.len()]),
            },
        )
    }
}

/// Full-batch L-BFGS over z with a More–Thuente line search (the core's minimisation driver),
/// at most `epochs` iterations, stopping when the loss no longer changes (relative change
/// < 1e-12) or the gradient vanishes.
fn train_lbfgs(
    start: &Network,
    data: &Dataset,
    options: &TrainOptions,
    first_iteration: u64,
    progress: &mut dyn FnMut(&CurvePoint),
) -> Result<TrainOutcome> {
    use crate::core::minimize::{minimize, Minimizer, Progress, StoppingRule};
    // The first evaluation outside the objective, so that bad data is reported as such.
    let (loss0, _) = batch_gradient(start, data, options.train_h0, options.storage)?;
    if !loss0.is_finite() {
        return Err(Error::invalid(
            "network",
            format!("the initial loss is not finite ({loss0})"),
        ));
    }
    let objective = BatchObjective {
        net: start,
        data,
        options,
        sweeps: std::cell::Cell::new(data.samples.len() as u64),
    };
    let mut curve = Vec::new();
    let mut report = |p: &Progress| {
        let accuracy = (data.objective == LossFunction::CrossEntropy)
            .then(|| {
                let mut net = start.clone();
                unpack(&mut net, p.control, options.train_h0);
                evaluate(&net, data).ok().and_then(|e| e.accuracy)
            })
            .flatten();
        let point = CurvePoint {
            iteration: first_iteration + p.iteration,
            loss: p.cost,
            accuracy,
        };
        progress(&point);
        curve.push(point);
    };
    let rule = StoppingRule {
        max_iterations: options.epochs as u64,
        gradient_tolerance: 0.0,
        relative_cost_tolerance: 1e-12,
    };
    let z0 = pack(start, options.train_h0);
    let m = minimize(&objective, z0, Minimizer::Lbfgs, rule, &mut report)?;
    let mut network = start.clone();
    unpack(&mut network, &m.control, options.train_h0);
    Ok(TrainOutcome {
        network,
        curve,
        stop_reason: m.stop_reason,
        sweeps: objective.sweeps.get(),
        interrupted: m.interrupted,
    })
}
