//! The `bench` command: how long a forward, tangent-linear and adjoint step of Lorenz-96 take
//! at several sizes, and what one value-and-gradient sweep costs relative to the forward run
//! alone (the adjoint method promises a small constant, here targeted at ≤ 3); and the same
//! ratio for back-propagation through time of an Elman network ([`benchmark_rnn`]).

use std::time::Instant;

use crate::core::stage_costs::QuadraticMisfit;
use crate::core::verification::random_vector;
use crate::core::{integrate, AdjointOutputs, Dynamics, Storage, Sweeper, TangentInputs};
use crate::error::{Error, Result};
use crate::models::lorenz96;

/// Timings for one Lorenz-96 size.
#[derive(Clone, Debug)]
pub struct BenchmarkRow {
    /// Number of sites N.
    pub n: usize,
    /// Seconds per forward step.
    pub forward_step: f64,
    /// Seconds per tangent-linear step.
    pub tangent_step: f64,
    /// Seconds per adjoint step.
    pub adjoint_step: f64,
    /// Seconds for the forward run over the window.
    pub forward_window: f64,
    /// Seconds for one value_and_gradient over the window.
    pub gradient_window: f64,
}

impl BenchmarkRow {
    /// value_and_gradient time / forward-run time over the same window.
    pub fn ratio(&self) -> f64 {
        self.gradient_window / self.forward_window
    }
}

/// Median seconds per call of `f`, from 5 batches each lasting about `min_time / 5` seconds.
pub(crate) fn seconds_per_call(min_time: f64, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    f();
    let once = start.elapsed().as_secs_f64().max(1e-9);
    let per_batch = ((min_time / 5.0 / once).ceil() as usize).max(1);
    let mut samples: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..per_batch {
                f();
            }
            t.elapsed().as_secs_f64() / per_batch as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[2]
}

/// Median seconds per call of `f` and of `g`, timed in 7 alternating batches of about
/// `min_time / 7` seconds each, and taken from the batch pair with the median ratio g/f.
pub(crate) fn paired_seconds_per_call(
    min_time: f64,
    mut f: impl FnMut(),
    mut g: impl FnMut(),
) -> (f64, f64) {
    let batch = |h: &mut dyn FnMut()| {
        let start = Instant::now();
        h();
        let once = start.elapsed().as_secs_f64().max(1e-9);
        ((min_time / 14.0 / once).ceil() as usize).max(1)
    };
    let (nf, ng) = (batch(&mut f), batch(&mut g));
    let time = |h: &mut dyn FnMut(), count: usize| {
        let t = Instant::now();
        for _ in 0..count {
            h();
        }
        t.elapsed().as_secs_f64() / count as f64
    };
    let mut pairs: Vec<(f64, f64)> = (0..7)
        .map(|_| (time(&mut f, nf), time(&mut g, ng)))
        .collect();
    pairs.sort_by(|a, b| (a.1 / a.0).total_cmp(&(b.1 / b.0)));
    pairs[3]
}

/// Benchmarks Lorenz-96 (F = 8, dt = 0.05) with `n` sites over a `window`-step sweep, spending
/// about `min_time` seconds on each measurement.
pub fn benchmark_lorenz96(n: usize, window: usize, min_time: f64) -> Result<BenchmarkRow> {
    if n < 4 {
        return Err(Error::invalid(
            "--sizes",
            format!("Lorenz-96 needs N >= 4, got {n}"),
        ));
    }
    let model = lorenz96(n, 8.0, 0.05);
    // A state on the attractor: climatological noise, spun up (fewer steps for huge N).
    let noise = random_vector(n, 1);
    let start: Vec<f64> = noise.iter().map(|z| 2.3 + 3.6 * z).collect();
    let spinup = (20_000_000 / n).clamp(20, 1000);
    let x = integrate(&model, &start, spinup, |_, _| {})?;

    let mut ws = model.workspace();
    let mut out = vec![0.0; n];
    let mut params_bar = vec![0.0; 1];
    let dx = random_vector(n, 2);
    let forward_step = seconds_per_call(min_time, || model.step(&mut ws, 0, &x, &mut out));
    let tangent = TangentInputs {
        state: &dx,
        params: &[1.0],
        input: &[],
    };
    let tangent_step = seconds_per_call(min_time, || {
        model.step_tl(&mut ws, 0, &x, tangent, &mut out)
    });
    let mut x_next = vec![0.0; n];
    model.step(&mut ws, 0, &x, &mut x_next);
    let adjoint_step = seconds_per_call(min_time, || {
        let outputs = AdjointOutputs {
            state: &mut out,
            params: &mut params_bar,
            input: &mut [],
        };
        model.step_ad(&mut ws, 0, &x, &x_next, &dx, outputs)
    });

    // A quadratic misfit at every step against a nearby trajectory.
    let mut targets = Vec::with_capacity((window + 1) * n);
    let shifted: Vec<f64> = x.iter().zip(&dx).map(|(a, b)| a + 0.1 * b).collect();
    integrate(&model, &shifted, window, |_, s| {
        targets.extend_from_slice(s)
    })?;
    let cost = QuadraticMisfit::new(n, 1.0, targets, vec![true; window + 1]);
    // As in a minimisation, one Sweeper serves every evaluation. The forward run and the
    // sweep are timed in alternating batches so that both see the same machine load.
    let mut sweeper = Sweeper::new(&model);
    let (mut forward_failure, mut sweep_failure) = (None, None);
    let (forward_window, gradient_window) = paired_seconds_per_call(
        min_time,
        || {
            if let Err(e) = integrate(&model, &x, window, |_, _| {}) {
                forward_failure = Some(e);
            }
        },
        || {
            if let Err(e) = sweeper.value_and_gradient(&model, &x, window, &cost, Storage::All) {
                sweep_failure = Some(e);
            }
        },
    );
    if let Some(e) = forward_failure.or(sweep_failure) {
        return Err(e);
    }
    Ok(BenchmarkRow {
        n,
        forward_step,
        tangent_step,
        adjoint_step,
        forward_window,
        gradient_window,
    })
}

/// Timing of the 4D-Var cost for one Lorenz-96 configuration.
#[derive(Clone, Debug)]
pub struct CostBenchmark {
    /// Sites N.
    pub n: usize,
    /// Window steps.
    pub steps: usize,
    /// Observations in the window.
    pub observations: usize,
    /// Seconds per value-and-gradient of J (one forward and one adjoint sweep).
    pub value_and_gradient: f64,
}

/// Times J and ∇J of 4D-Var with B = I and R = I on Lorenz-96 with `n` sites over `steps`
/// steps, every other site observed at every other step (steps 2, 4, …).
pub fn benchmark_fourdvar_cost(n: usize, steps: usize, min_time: f64) -> Result<CostBenchmark> {
    use crate::cov::BackgroundCovariance;
    use crate::obs::{Observation, ObservationKind, ObservationMisfit, ObservationSet};
    use crate::var::{ControlSpace, ControlTransform, FourDVar};
    use std::sync::Arc;
    if n < 4 || steps == 0 {
        return Err(Error::invalid(
            "benchmark",
            "needs N >= 4 and at least one step",
        ));
    }
    let model = lorenz96(n, 8.0, 0.05);
    let noise = random_vector(n, 1);
    let start: Vec<f64> = noise.iter().map(|z| 2.3 + 3.6 * z).collect();
    let x = integrate(&model, &start, (20_000_000 / n).clamp(20, 1000), |_, _| {})?;
    let mut truth = Vec::with_capacity((steps + 1) * n);
    integrate(&model, &x, steps, |_, s| truth.extend_from_slice(s))?;
    let mut observations = Vec::new();
    for k in (2..=steps).step_by(2) {
        for i in (0..n).step_by(2) {
            observations.push(Observation {
                time: k as f64 * 0.05,
                step: k,
                position: i as f64,
                y: None,
                variable: 0,
                kind: ObservationKind::Value,
                value: truth[k * n + i] + 0.5,
                sigma: 1.0,
                line: None,
            });
        }
    }
    let count = observations.len();
    let misfit = ObservationMisfit::new(
        ObservationSet::new(observations),
        &crate::models::ModelInfo::layout(&model),
    )?;
    let covariance = Arc::new(BackgroundCovariance::diagonal(n, 1.0)?);
    let transform = ControlTransform::new(ControlSpace::Transformed, x, covariance, None)?;
    let problem = FourDVar::new(model, steps, misfit, transform, Storage::All)?;
    let u = random_vector(n, 3);
    let mut failure = None;
    let value_and_gradient = seconds_per_call(min_time, || {
        if let Err(e) = problem.evaluate(&u) {
            failure = Some(e);
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(CostBenchmark {
        n,
        steps,
        observations: count,
        value_and_gradient,
    })
}

/// Timing of BPTT for one Elman cell.
#[derive(Clone, Debug)]
pub struct RnnBenchmarkRow {
    /// The recurrence structure.
    pub recurrence: crate::rnn::Recurrence,
    /// Hidden size d.
    pub hidden: usize,
    /// Sequence length T.
    pub length: usize,
    /// Seconds for the forward run (`core::integrate` of the cell over T steps).
    pub forward: f64,
    /// Seconds for one value-and-gradient (forward and backward sweep, full storage).
    pub gradient: f64,
}

impl RnnBenchmarkRow {
    /// Seconds per step of the forward run, forward / T.
    pub fn forward_step(&self) -> f64 {
        self.forward / self.length as f64
    }

    /// Seconds per step of value and gradient, gradient / T.
    pub fn gradient_step(&self) -> f64 {
        self.gradient / self.length as f64
    }

    /// value-and-gradient time / forward time.
    pub fn ratio(&self) -> f64 {
        self.gradient / self.forward
    }
}

/// Times full BPTT (loss ½‖V h_t + c − y_t‖² at every step, every gradient) of an Elman cell
/// with hidden size `hidden`, 8 inputs, 1 output and recurrence `recurrence` over one random
/// sequence of `length` steps, against the forward run alone, spending about `min_time`
/// seconds on the measurement.
pub fn benchmark_rnn(
    recurrence: crate::rnn::Recurrence,
    hidden: usize,
    length: usize,
    min_time: f64,
) -> Result<RnnBenchmarkRow> {
    use crate::rnn::{CellShape, ElmanCell, Recurrence, SequenceLoss};
    if hidden == 0
        || length == 0
        || hidden > 8192
        || length > 10_000_000
        || hidden.saturating_mul(length) > 1 << 28
    {
        return Err(Error::invalid(
            "rnn benchmark",
            format!(
                "needs 1 <= hidden size <= 8192, 1 <= length <= 10^7 and d·T <= 2^28 (the \
                 stored trajectory), got d = {hidden}, T = {length}"
            ),
        ));
    }
    if !min_time.is_finite() || min_time <= 0.0 {
        return Err(Error::invalid(
            "--min-time",
            "must be a positive number of seconds",
        ));
    }
    let (m, o) = (8, 1);
    let shape = CellShape {
        hidden,
        inputs: m,
        recurrence,
    };
    shape.validate()?;
    // Recurrence of spectral size about 1, small inputs: a state neither saturated nor dead.
    let mut theta = random_vector(shape.param_len(), 11);
    let rec_scale = match recurrence {
        Recurrence::Dense => 1.0 / (hidden as f64).sqrt(),
        Recurrence::Diagonal => 0.5,
        Recurrence::LowRank { .. } => 1.0 / (hidden as f64).sqrt(),
    };
    let u_offset = shape.u_offset();
    for (i, t) in theta.iter_mut().enumerate() {
        *t *= if i < u_offset { rec_scale } else { 0.3 };
    }
    let cell = ElmanCell::new(shape, theta, random_vector(length * m, 12))?;
    let readout = random_vector(o * hidden + o, 13);
    let loss = SequenceLoss::mean_squared(
        hidden,
        o,
        readout,
        random_vector(length * o, 14),
        vec![true; length],
    )?;
    let h0 = vec![0.0; hidden];
    let mut sweeper = Sweeper::new(&cell);
    let (mut forward_failure, mut sweep_failure) = (None, None);
    let (forward, gradient) = paired_seconds_per_call(
        min_time,
        || {
            if let Err(e) = integrate(&cell, &h0, length, |_, _| {}) {
                forward_failure = Some(e);
            }
        },
        || {
            if let Err(e) = sweeper.value_and_gradient(&cell, &h0, length, &loss, Storage::All) {
                sweep_failure = Some(e);
            }
        },
    );
    if let Some(e) = forward_failure.or(sweep_failure) {
        return Err(e);
    }
    Ok(RnnBenchmarkRow {
        recurrence,
        hidden,
        length,
        forward,
        gradient,
    })
}
