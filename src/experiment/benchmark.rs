//! The `bench` command: how long a forward, tangent-linear and adjoint step of Lorenz-96 take
//! at several sizes, and what one value-and-gradient sweep costs relative to the forward run
//! alone (the adjoint method promises a small constant, here targeted at ≤ 3); and the same
//! ratio for back-propagation through time of an Elman network ([`benchmark_rnn`]).

use crate::core::budget::{check_memory, check_work};
use crate::geometry::Location;
use std::time::Instant;

use crate::core::stage_costs::QuadraticMisfit;
use crate::core::verification::random_vector;
use crate::core::{
    integrate, AdjointOutputs, Dynamics, Storage, StorageChoice, Sweeper, TangentInputs,
};
use crate::error::{Error, Result};
use crate::models::lorenz96;

/// Timings for one Lorenz-96 size.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BenchmarkRow {
    /// Number of sites N.
    pub n: usize,
    /// Seconds per forward step.
    pub forward_step: f64,
    /// Seconds per tangent-linear step.
    pub tangent_step: f64,
    /// Seconds per adjoint step that recomputes its RK4 stages ([`Storage::All`]).
    pub adjoint_step: f64,
    /// Seconds per adjoint step that reads its stages from the tape ([`Storage::Stages`]).
    pub adjoint_step_recorded: f64,
    /// Seconds for the forward run over the window.
    pub forward_window: f64,
    /// Seconds for one value_and_gradient over the window, every state stored.
    pub gradient_window: f64,
    /// Seconds for one value_and_gradient over the window, states and stages stored.
    pub gradient_window_stages: f64,
}

impl BenchmarkRow {
    /// value_and_gradient time / forward-run time over the same window, every state stored.
    pub fn ratio(&self) -> f64 {
        self.gradient_window / self.forward_window
    }

    /// The same ratio with the stages stored too.
    pub fn ratio_stages(&self) -> f64 {
        self.gradient_window_stages / self.forward_window
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

/// Seconds per forward run of `steps` steps of `model` from `x` and per call of `gradient`,
/// timed in alternating batches ([`paired_seconds_per_call`]) so that both see the same
/// machine load. The first failure of either is returned.
fn time_against_forward<D: Dynamics, T>(
    model: &D,
    x: &[f64],
    steps: usize,
    min_time: f64,
    mut gradient: impl FnMut() -> Result<T>,
) -> Result<(f64, f64)> {
    let (mut forward_failure, mut gradient_failure) = (None, None);
    let timing = paired_seconds_per_call(
        min_time,
        || {
            if let Err(e) = integrate(model, x, steps, |_, _| {}) {
                forward_failure = Some(e);
            }
        },
        || {
            if let Err(e) = gradient() {
                gradient_failure = Some(e);
            }
        },
    );
    forward_failure.or(gradient_failure).map_or(Ok(timing), Err)
}

/// Seconds per forward, tangent-linear and adjoint step of a model.
pub(crate) struct StepTimes {
    /// The forward step.
    pub forward: f64,
    /// The tangent-linear step.
    pub tangent: f64,
    /// The adjoint step recomputing what it needs of its forward step.
    pub adjoint: f64,
    /// The adjoint step reading the tape the forward step recorded.
    pub adjoint_recorded: f64,
}

/// Times single steps of `model` at `x` with the perturbation (and adjoint input) `dx` and
/// δθ = 1 for every parameter, about `min_time` seconds each.
pub(crate) fn time_steps<D: Dynamics>(
    model: &D,
    x: &[f64],
    dx: &[f64],
    min_time: f64,
) -> StepTimes {
    let n = model.state_len();
    let mut ws = model.workspace();
    let (mut out, mut x_next) = (vec![0.0; n], vec![0.0; n]);
    let mut params_bar = vec![0.0; model.param_len()];
    let dparams = vec![1.0; model.param_len()];
    let forward = seconds_per_call(min_time, || model.step(&mut ws, 0, x, &mut out));
    let tangent_inputs = TangentInputs {
        state: dx,
        params: &dparams,
        input: &[],
    };
    let tangent = seconds_per_call(min_time, || {
        model.step_tl(&mut ws, 0, x, tangent_inputs, &mut out)
    });
    let mut tape = vec![0.0; model.tape_len()];
    model.step_recording(&mut ws, 0, x, &mut x_next, &mut tape);
    let mut time_adjoint = |recorded: bool| {
        seconds_per_call(min_time, || {
            let outputs = AdjointOutputs {
                state: &mut out,
                params: &mut params_bar,
                input: &mut [],
            };
            if recorded {
                model.step_ad_recorded(&mut ws, 0, x, &x_next, &tape, dx, outputs)
            } else {
                model.step_ad(&mut ws, 0, x, &x_next, dx, outputs)
            }
        })
    };
    let adjoint = time_adjoint(false);
    let adjoint_recorded = time_adjoint(true);
    StepTimes {
        forward,
        tangent,
        adjoint,
        adjoint_recorded,
    }
}

/// Seconds per forward run from `x` and per J and ∇J of the 4D-Var problem of `model` over
/// `steps` steps with `misfit` and `transform`, at control `u`, its trajectory kept as
/// `storage` (timed in alternating batches).
#[allow(clippy::too_many_arguments)]
fn time_fourdvar<D: Dynamics + Clone>(
    model: &D,
    x: &[f64],
    steps: usize,
    misfit: &crate::obs::ObservationMisfit,
    transform: &crate::var::ControlTransform,
    u: &[f64],
    storage: Storage,
    min_time: f64,
) -> Result<(f64, f64)> {
    let problem = crate::var::FourDVar::new(
        model.clone(),
        steps,
        misfit.clone(),
        transform.clone(),
        storage,
    )?;
    time_against_forward(model, x, steps, min_time, || problem.evaluate(u))
}

/// Refuses a benchmark of `steps`-step sweeps over `n` values that would not fit in memory
/// (a stored trajectory and a few state vectors per step) or take hours per measurement.
fn check_window_budget(what: &str, n: usize, steps: usize) -> Result<()> {
    let (n_f, steps_f) = (n as f64, steps as f64 + 1.0);
    check_memory(what, 4.0 * steps_f * n_f * 8.0)?;
    check_work(what, n, 100.0 * steps_f)
}

/// Benchmarks Lorenz-96 (F = 8, dt = 0.05) with `n` sites over a `window`-step sweep, spending
/// about `min_time` seconds on each measurement.
pub fn benchmark_lorenz96(n: usize, window: usize, min_time: f64) -> Result<BenchmarkRow> {
    check_window_budget("Lorenz-96 benchmark", n, window)?;
    if n < 4 {
        return Err(Error::invalid(
            "Lorenz-96 size",
            format!("Lorenz-96 needs N >= 4, got {n}"),
        ));
    }
    let model = lorenz96(n, 8.0, 0.05);
    // A state on the attractor: climatological noise, spun up (fewer steps for huge N).
    let noise = random_vector(n, 1);
    let start: Vec<f64> = noise.iter().map(|z| 2.3 + 3.6 * z).collect();
    let spinup = (20_000_000 / n).clamp(20, 1000);
    let x = integrate(&model, &start, spinup, |_, _| {})?;

    let dx = random_vector(n, 2);
    let StepTimes {
        forward: forward_step,
        tangent: tangent_step,
        adjoint: adjoint_step,
        adjoint_recorded: adjoint_step_recorded,
    } = time_steps(&model, &x, &dx, min_time);

    // A quadratic misfit at every step against a nearby trajectory.
    let mut targets = Vec::with_capacity((window + 1) * n);
    let shifted: Vec<f64> = x.iter().zip(&dx).map(|(a, b)| a + 0.1 * b).collect();
    integrate(&model, &shifted, window, |_, s| {
        targets.extend_from_slice(s)
    })?;
    let cost = QuadraticMisfit::new(n, 1.0, targets, vec![true; window + 1]);
    // As in a minimisation, one Sweeper serves every evaluation. The forward run and the
    // sweep are timed in alternating batches so that both see the same machine load.
    let time_sweep = |storage: Storage| {
        let mut sweeper = Sweeper::new(&model);
        time_against_forward(&model, &x, window, min_time, || {
            sweeper.value_and_gradient(&model, &x, window, &cost, storage)
        })
    };
    let (forward_all, gradient_window) = time_sweep(Storage::All)?;
    let (forward_stages, gradient_window_stages) = time_sweep(Storage::Stages)?;
    // Each sweep's time scaled to one forward-run time, so that their ratios stay those of
    // their own paired batches.
    let forward_window = 0.5 * (forward_all + forward_stages);
    Ok(BenchmarkRow {
        n,
        forward_step,
        tangent_step,
        adjoint_step,
        adjoint_step_recorded,
        forward_window,
        gradient_window: gradient_window / forward_all * forward_window,
        gradient_window_stages: gradient_window_stages / forward_stages * forward_window,
    })
}

/// Timing of the 4D-Var cost for one Lorenz-96 configuration, with each trajectory storage.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CostBenchmark {
    /// Sites N.
    pub n: usize,
    /// Window steps.
    pub steps: usize,
    /// Observations in the window.
    pub observations: usize,
    /// Seconds for the forward run over the window alone (median over the storages' paired
    /// timings).
    pub forward_run: f64,
    /// One row per storage, in the order asked.
    pub storages: Vec<CostStorageTiming>,
    /// The storage `auto` chooses for this case.
    pub auto: String,
}

/// Value and gradient of the 4D-Var cost with one trajectory storage.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CostStorageTiming {
    /// The storage, as the command line writes it (`all`, `stages`, `checkpoints:S`).
    pub storage: String,
    /// Bytes the sweep keeps of the trajectory.
    pub stored_bytes: u64,
    /// Seconds per value-and-gradient of J (one forward and one adjoint sweep).
    pub value_and_gradient: f64,
    /// value_and_gradient / forward run, from batches timed alternately.
    pub ratio: f64,
}

impl CostBenchmark {
    /// The fastest storage's timing.
    pub fn fastest(&self) -> Option<&CostStorageTiming> {
        self.storages
            .iter()
            .min_by(|a, b| a.value_and_gradient.total_cmp(&b.value_and_gradient))
    }
}

/// Times J and ∇J of 4D-Var with B = I and R = I on Lorenz-96 with `n` sites over `steps`
/// steps, every other site observed at every other step (steps 2, 4, …), once per storage,
/// each against the forward run over the window in alternating batches.
pub fn benchmark_fourdvar_cost(
    n: usize,
    steps: usize,
    storages: &[Storage],
    min_time: f64,
) -> Result<CostBenchmark> {
    check_window_budget("4D-Var cost benchmark", n, steps)?;
    use crate::cov::BackgroundCovariance;
    use crate::obs::{Observation, ObservationKind, ObservationMisfit, ObservationSet};
    use crate::var::{ControlSpace, ControlTransform};
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
                location: Location::at(i as f64),
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
        &crate::models::ModelInfo::geometry(&model),
    )?;
    let covariance = Arc::new(BackgroundCovariance::diagonal(n, 1.0)?);
    let transform = ControlTransform::new(ControlSpace::Transformed, x.clone(), covariance, None)?;
    let u = random_vector(n, 3);
    let mut rows = Vec::new();
    let mut forward_runs = Vec::new();
    for &storage in storages {
        let (forward, value_and_gradient) = time_fourdvar(
            &model, &x, steps, &misfit, &transform, &u, storage, min_time,
        )?;
        forward_runs.push(forward);
        rows.push(CostStorageTiming {
            storage: storage.to_string(),
            stored_bytes: 8 * storage.stored_values(&model, steps) as u64,
            value_and_gradient,
            ratio: value_and_gradient / forward,
        });
    }
    forward_runs.sort_by(f64::total_cmp);
    Ok(CostBenchmark {
        n,
        steps,
        observations: count,
        forward_run: forward_runs
            .get(forward_runs.len() / 2)
            .copied()
            .unwrap_or(f64::NAN),
        storages: rows,
        auto: StorageChoice::Auto.resolve(&model, steps)?.to_string(),
    })
}

/// Timing of BPTT for one Elman cell.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RnnBenchmarkRow {
    /// The recurrence structure.
    #[serde(skip)]
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
            "measurement time",
            "must be a positive number of seconds",
        ));
    }
    let (m, o) = (8, 1);
    let shape = CellShape::elman(hidden, m, recurrence);
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

/// Step timings of the shallow-water model on one n × n grid, serial and on rayon's pool.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ShallowWaterStepRow {
    /// Cells along each axis.
    pub n: usize,
    /// Seconds per right-hand-side evaluation f(x), [serial, parallel].
    pub eval: [f64; 2],
    /// Seconds per RK4 forward step, [serial, parallel].
    pub forward: [f64; 2],
    /// Seconds per tangent-linear step, [serial, parallel].
    pub tangent: [f64; 2],
    /// Seconds per adjoint step, [serial, parallel].
    pub adjoint: [f64; 2],
}

impl ShallowWaterStepRow {
    /// Share of the serial forward step outside the four evaluations of f: the RK4 vector
    /// updates s = x + c·k and the final combination, 1 − 4·t_eval / t_step.
    pub fn vector_share(&self) -> f64 {
        1.0 - 4.0 * self.eval[0] / self.forward[0]
    }
}

/// The grid sizes n (cells per axis) the shallow-water benchmarks accept; the command line
/// checks its options against this range before any timing starts.
pub const SHALLOW_WATER_GRIDS: std::ops::RangeInclusive<usize> = 3..=4096;

/// The shallow-water model of the benchmarks: n × n cells of 100 km, H = 1000 m, f = 1e-4 /s,
/// dt = 300 s, starting from balanced eddies (seed 1, 10 m, 4 cells), parallel from
/// `parallel_min_cells` cells on.
pub fn benchmark_shallow_water_model(
    n: usize,
    parallel_min_cells: usize,
) -> Result<crate::models::ShallowWater> {
    use crate::models::{shallow_water, InitialCondition, ShallowWaterField};
    if !SHALLOW_WATER_GRIDS.contains(&n) {
        return Err(Error::invalid(
            "shallow-water grid size",
            format!("grid sizes must be 3..=4096 cells per axis, got {n}"),
        ));
    }
    Ok(shallow_water(
        ShallowWaterField {
            nx: n,
            ny: n,
            initial: InitialCondition::Eddies {
                amplitude: 10.0,
                width: 4.0,
                seed: 1,
            },
            parallel_min_cells,
            ..ShallowWaterField::default()
        },
        300.0,
    ))
}

/// Times f(x), the forward, TL and AD steps of the shallow-water model on an n × n grid, once
/// on the serial path and once on rayon's pool, spending about `min_time` seconds on each.
pub fn benchmark_shallow_water_steps(n: usize, min_time: f64) -> Result<ShallowWaterStepRow> {
    use crate::models::rk4::VectorField;
    use crate::models::ModelInfo;
    let mut row = ShallowWaterStepRow {
        n,
        eval: [0.0; 2],
        forward: [0.0; 2],
        tangent: [0.0; 2],
        adjoint: [0.0; 2],
    };
    for (k, threshold) in [usize::MAX, 0].into_iter().enumerate() {
        let model = benchmark_shallow_water_model(n, threshold)?;
        let x = model.default_initial_state();
        let len = x.len();
        let mut ws = model.workspace();
        let mut out = vec![0.0; len];
        let dx = random_vector(len, 2);
        row.eval[k] = seconds_per_call(min_time, || model.field.eval(&x, &mut out));
        row.forward[k] = seconds_per_call(min_time, || model.step(&mut ws, 0, &x, &mut out));
        let tangent = TangentInputs {
            state: &dx,
            params: &[],
            input: &[],
        };
        row.tangent[k] = seconds_per_call(min_time, || {
            model.step_tl(&mut ws, 0, &x, tangent, &mut out)
        });
        let mut x_next = vec![0.0; len];
        model.step(&mut ws, 0, &x, &mut x_next);
        row.adjoint[k] = seconds_per_call(min_time, || {
            let outputs = AdjointOutputs {
                state: &mut out,
                params: &mut [],
                input: &mut [],
            };
            model.step_ad(&mut ws, 0, &x, &x_next, &dx, outputs)
        });
    }
    Ok(row)
}

/// An h-observation misfit for the shallow-water benchmarks: `count` observations of h at
/// random positions (seed 5) every `every` steps up to `steps`, σ = 0.5 m, sampled (by the
/// bilinear operator itself) from the trajectory from `x` plus up to 0.3 m of error.
pub fn shallow_water_misfit(
    model: &crate::models::ShallowWater,
    x: &[f64],
    steps: usize,
    every: usize,
    count: usize,
) -> Result<crate::obs::ObservationMisfit> {
    use crate::models::ModelInfo;
    use crate::obs::{Observation, ObservationKind, ObservationMisfit, ObservationSet};
    use rand::{Rng, SeedableRng};
    let f = &model.field;
    let (width, height) = (f.nx as f64 * f.dx, f.ny as f64 * f.dy);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let positions: Vec<(f64, f64)> = (0..count)
        .map(|_| (rng.random_range(0.0..width), rng.random_range(0.0..height)))
        .collect();
    let every = every.max(1);
    let mut observations = Vec::new();
    for k in (every..=steps).step_by(every) {
        for &(px, py) in &positions {
            observations.push(Observation {
                time: k as f64 * model.dt,
                step: k,
                location: Location::new(&[px, py]).expect("two coordinates"),
                variable: 2,
                kind: ObservationKind::Value,
                value: 0.0,
                sigma: 0.5,
                line: None,
            });
        }
    }
    let geometry = model.geometry();
    let operator = crate::obs::ObservationOperator::new(
        &ObservationSet::new(observations.clone()),
        &geometry,
    )?;
    // The set keeps the order given (already sorted by step): observation i is row i of H.
    let mut next = 0;
    integrate(model, x, steps, |k, state| {
        while next < observations.len() && observations[next].step == k {
            observations[next].value =
                operator.apply(next, state) + 0.3 * rng.random_range(-1.0..1.0);
            next += 1;
        }
    })?;
    ObservationMisfit::new(ObservationSet::new(observations), &geometry)
}

/// Timing of the shallow-water 4D-Var cost.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ShallowWaterCostRow {
    /// Cells along each axis.
    pub n: usize,
    /// Window steps.
    pub steps: usize,
    /// Observations in the window.
    pub observations: usize,
    /// Seconds for the forward run over the window.
    pub forward: f64,
    /// Seconds per value-and-gradient of J (B = I), every state stored.
    pub value_and_gradient: f64,
    /// The same with the RK4 stages stored too.
    pub value_and_gradient_stages: f64,
}

impl ShallowWaterCostRow {
    /// value-and-gradient time / forward-run time, every state stored.
    pub fn ratio(&self) -> f64 {
        self.value_and_gradient / self.forward
    }

    /// The same with the stages stored.
    pub fn ratio_stages(&self) -> f64 {
        self.value_and_gradient_stages / self.forward
    }
}

/// Times J and ∇J of 4D-Var (B = I in control space, the h misfit of
/// [`shallow_water_misfit`] with `count` points every `every` steps) on an n × n grid over
/// `steps` steps against the forward run, in alternating batches of about `min_time` s.
pub fn benchmark_shallow_water_cost(
    n: usize,
    steps: usize,
    every: usize,
    count: usize,
    min_time: f64,
) -> Result<ShallowWaterCostRow> {
    use crate::cov::BackgroundCovariance;
    use crate::models::ModelInfo;
    use crate::var::{ControlSpace, ControlTransform};
    use std::sync::Arc;
    if steps == 0 || count == 0 {
        return Err(Error::invalid(
            "benchmark",
            "needs at least one step and one observation",
        ));
    }
    let model = benchmark_shallow_water_model(n, crate::models::shallow_water::PARALLEL_MIN_CELLS)?;
    let x = model.default_initial_state();
    let len = x.len();
    let misfit = shallow_water_misfit(&model, &x, steps, every, count)?;
    let observations = misfit.observations().len();
    let covariance = Arc::new(BackgroundCovariance::diagonal(len, 1.0)?);
    let transform = ControlTransform::new(ControlSpace::Transformed, x.clone(), covariance, None)?;
    let u: Vec<f64> = random_vector(len, 3).iter().map(|v| 0.1 * v).collect();
    let time_cost = |storage: Storage| {
        time_fourdvar(
            &model, &x, steps, &misfit, &transform, &u, storage, min_time,
        )
    };
    let (forward_all, all) = time_cost(Storage::All)?;
    let (forward_stages, stages) = time_cost(Storage::Stages)?;
    // Each gradient scaled to one forward-run time, keeping the ratio of its own batches.
    let forward = 0.5 * (forward_all + forward_stages);
    Ok(ShallowWaterCostRow {
        n,
        steps,
        observations,
        forward,
        value_and_gradient: all / forward_all * forward,
        value_and_gradient_stages: stages / forward_stages * forward,
    })
}

/// Memory and time of one shallow-water gradient with one storage strategy.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StorageRow {
    /// The strategy.
    #[serde(skip)]
    pub storage: Storage,
    /// Bytes of trajectory storage: (steps + 1)·n·8 for all states, s·n·8 for s snapshots.
    pub bytes: u64,
    /// Wall-clock seconds of the value-and-gradient sweep.
    pub seconds: f64,
    /// Forward model steps taken (recomputation included).
    pub forward_steps: u64,
    /// Peak resident set size of the process during this sweep (VmHWM, reset before the sweep
    /// through /proc/self/clear_refs where the kernel allows it), bytes.
    pub peak_rss: Option<u64>,
    /// Whether the peak was reset before this sweep (otherwise it is the process's peak so far).
    pub peak_reset: bool,
}

/// The peak resident set size VmHWM of this process, bytes (Linux only).
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Resets VmHWM to the current RSS (writes 5 to /proc/self/clear_refs); false if not allowed.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// One value-and-gradient of the h misfit (1000 points every 6 steps) over `steps` steps on
/// an n × n grid, for each storage in `storages` in the given order, each with fresh buffers;
/// `phase` is told what runs next.
pub fn benchmark_shallow_water_storage(
    n: usize,
    steps: usize,
    storages: &[Storage],
    mut phase: impl FnMut(&str),
) -> Result<Vec<StorageRow>> {
    use crate::models::ModelInfo;
    let model = benchmark_shallow_water_model(n, crate::models::shallow_water::PARALLEL_MIN_CELLS)?;
    let x = model.default_initial_state();
    phase(&format!(
        "observing the {steps}-step truth run on {n} x {n}"
    ));
    let misfit = shallow_water_misfit(&model, &x, steps, 6, 1000)?;
    let mut rows = Vec::new();
    for &storage in storages {
        let bytes = 8 * storage.stored_values(&model, steps) as u64;
        phase(&format!(
            "value and gradient with {storage:?} ({:.2} GB of states)",
            bytes as f64 / 1e9
        ));
        let peak_reset = reset_peak_rss();
        let start = Instant::now();
        let result = crate::core::value_and_gradient(&model, &x, steps, &misfit, storage)?;
        let seconds = start.elapsed().as_secs_f64();
        rows.push(StorageRow {
            storage,
            bytes,
            seconds,
            forward_steps: result.forward_steps,
            peak_rss: peak_rss(),
            peak_reset,
        });
    }
    Ok(rows)
}
