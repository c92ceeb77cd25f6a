//! `fourdvar emulator train`: learns a Lorenz-96 emulator — the neural ODE
//! dx/dt = f_θ(x) of [`crate::models::stencil_mlp`], stepped by RK4 — from a long run of the
//! true model, by BPTT over multi-step rollouts: for windows of K steps starting on the truth,
//!
//!   J(θ) = 1/(W K n) Σ_w Σ_{k=1..K} ½ ‖M_θ^k(x_{s_w}) − x_{s_w+k}‖²,
//!
//! every ∂J/∂θ from the core's one adjoint sweep (the same sweep that 4D-Var then runs with the
//! trained emulator as its model), minimised by L-BFGS. Then measures the emulator's forecast
//! skill against the true model on a held-out run.

use std::path::PathBuf;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use rayon::prelude::*;

use super::twin_data::truth_run;
use crate::core::minimize::{minimize, Minimizer, Objective, Progress, StoppingRule};
use crate::core::stage_costs::QuadraticMisfit;
use crate::core::{integrate, Dynamics, Storage, StorageChoice, Sweeper};
use crate::io::atomic_output::AtomicOutput;
use crate::io::emulator_file::save_emulator;
use crate::models::continuous_adjoint::continuous_gradient;
use crate::models::lorenz96::Lorenz96;
use crate::models::stencil_mlp::{
    stencil_mlp_model, StencilMlp, StencilMlpModel, MAX_HIDDEN, MAX_RADIUS,
};
use crate::{Error, Result};

/// What `emulator train` is asked to do.
#[derive(Clone, Debug)]
pub struct EmulatorTrainRequest {
    /// The true model (Lorenz-96) whose run is learned; its N and dt are the emulator's.
    pub truth: Lorenz96,
    /// Steps of the training run (after a 1000-step spin-up).
    pub steps: usize,
    /// Rollout length K of each training window.
    pub rollout: usize,
    /// Stencil radius r.
    pub radius: usize,
    /// Hidden width H.
    pub hidden: usize,
    /// Most L-BFGS iterations.
    pub iterations: u64,
    /// Seed of the training run, the held-out run and the initial weights.
    pub seed: u64,
    /// Discrete adjoint (the exact gradient of the RK4 model) or continuous adjoint.
    pub adjoint: AdjointKind,
    /// Trajectory storage of the discrete adjoint's sweeps.
    pub storage: StorageChoice,
    /// Output JSON.
    pub out: PathBuf,
}

/// How the training gradient is computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
#[value(rename_all = "kebab-case")]
pub enum AdjointKind {
    /// The core's sweep through the RK4 step: the exact gradient of the discrete model.
    Discrete,
    /// The continuous adjoint ([`continuous_gradient`]): the state re-integrated backwards
    /// with the adjoint ODE, nothing stored; a discretisation of the gradient, O(dt⁴) from
    /// the discrete one over short rollouts.
    Continuous,
}

/// The emulator's forecast error at one lead time, over the held-out forecasts.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct SkillPoint {
    /// Lead time in steps.
    pub lead_steps: usize,
    /// Lead time in model time units.
    pub lead_time: f64,
    /// RMSE of the emulator's forecast against the true model's, over sites and forecasts.
    pub rmse: f64,
}

/// What `emulator train` achieved.
#[derive(Clone, Debug)]
pub struct EmulatorTrainSummary {
    /// J at the initial weights.
    pub initial_loss: f64,
    /// J at the trained weights.
    pub final_loss: f64,
    /// Why L-BFGS stopped.
    pub stop_reason: String,
    /// Sweeps of the training objective (each over every window).
    pub evaluations: u64,
    /// Whether Ctrl-C stopped training (the emulator so far is written).
    pub interrupted: bool,
    /// RMSE against the truth by lead time, on a held-out run.
    pub skill: Vec<SkillPoint>,
    /// The first lead time at which the RMSE reaches 1 (None: not within the horizon).
    pub valid_time: Option<f64>,
    /// The truth's standard deviation (the RMSE of a climatological forecast is √2 of it).
    pub climate_std: f64,
}

/// Held-out forecasts: this many, `FORECAST_SPACING` steps apart, `FORECAST_STEPS` long.
const FORECASTS: usize = 20;
const FORECAST_SPACING: usize = 50;
const FORECAST_STEPS: usize = 100;
/// The largest training run accepted (steps × N values are stored).
pub const MAX_TRAINING_VALUES: usize = 50_000_000;

/// The training objective over every window, θ ↦ (J, ∂J/∂θ).
struct RolloutObjective<'a> {
    model: StencilMlpModel,
    starts: Vec<&'a [f64]>,
    misfits: Vec<QuadraticMisfit>,
    rollout: usize,
    adjoint: AdjointKind,
    storage: Storage,
}

impl Objective for RolloutObjective<'_> {
    /// The windows' sweeps run on rayon's pool; their results are collected in window order
    /// and summed serially, so J and ∂J/∂θ do not depend on the number of threads.
    fn value_and_gradient(&self, theta: &[f64]) -> Result<(f64, Vec<f64>)> {
        let mut model = self.model.clone();
        model.set_params(theta);
        let pieces: Vec<Result<(f64, Vec<f64>)>> = (self.starts.par_iter().zip(&self.misfits))
            .map_init(
                || Sweeper::new(&model),
                |sweeper, (start, misfit)| match self.adjoint {
                    AdjointKind::Discrete => {
                        let r = sweeper.value_and_gradient(
                            &model,
                            start,
                            self.rollout,
                            misfit,
                            self.storage,
                        )?;
                        Ok((r.cost, r.param_gradient))
                    }
                    AdjointKind::Continuous => {
                        let r = continuous_gradient(&model, start, self.rollout, misfit)?;
                        Ok((r.cost, r.param_gradient))
                    }
                },
            )
            .collect();
        let (mut total, mut gradient) = (0.0, vec![0.0; theta.len()]);
        for piece in pieces {
            let (cost, g) = piece?;
            total += cost;
            crate::core::vector::axpy(1.0, &g, &mut gradient);
        }
        Ok((total, gradient))
    }
}

/// Checks the request's sizes, with the flag each comes from.
fn validate(request: &EmulatorTrainRequest) -> Result<()> {
    let n = request.truth.state_len();
    let checks = [
        (request.rollout >= 1, "--rollout", "must be at least 1"),
        (
            request.steps >= 10 * request.rollout,
            "--steps",
            "must be at least 10 rollouts",
        ),
        (
            (1..=MAX_RADIUS).contains(&request.radius) && n > 2 * request.radius,
            "--radius",
            "must be between 1 and 31, with at least 2r + 1 sites on the ring",
        ),
        (
            (1..=MAX_HIDDEN).contains(&request.hidden),
            "--hidden",
            "must be between 1 and 256",
        ),
        (
            request.steps.saturating_mul(n) <= MAX_TRAINING_VALUES,
            "--steps",
            "times N must be at most 5e7 values",
        ),
    ];
    match checks.iter().find(|c| !c.0) {
        Some((_, flag, why)) => Err(Error::invalid(*flag, *why)),
        None => Ok(()),
    }
}

/// Trains the emulator, writes it atomically and measures its skill.
pub fn run_emulator_train(
    request: &EmulatorTrainRequest,
    report: &mut dyn FnMut(&Progress),
) -> Result<EmulatorTrainSummary> {
    validate(request)?;
    drop(AtomicOutput::new(&request.out)?);
    let truth = &request.truth;
    let n = truth.state_len();
    let run = truth_run(truth, 1000, request.steps, Some(request.seed))?;
    let mean = run.iter().sum::<f64>() / run.len() as f64;
    let std = (run.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / run.len() as f64).sqrt();
    let net = initial_weights(request.radius, request.hidden, mean, std, request.seed)?;
    let model = stencil_mlp_model(n, net, truth.dt, true);
    let k = request.rollout;
    let windows = request.steps / k;
    let weight = 1.0 / (windows * k * n) as f64;
    let mut active = vec![true; k + 1];
    active[0] = false;
    let objective = RolloutObjective {
        starts: (0..windows)
            .map(|w| &run[w * k * n..(w * k + 1) * n])
            .collect(),
        misfits: (0..windows)
            .map(|w| {
                let targets = run[w * k * n..(w * k + k + 1) * n].to_vec();
                QuadraticMisfit::new(n, weight, targets, active.clone())
            })
            .collect(),
        storage: request.storage.resolve(&model, k)?,
        model: model.clone(),
        rollout: k,
        adjoint: request.adjoint,
    };
    let _graceful = crate::interrupt::graceful();
    let rule = StoppingRule {
        max_iterations: request.iterations,
        gradient_tolerance: 1e-8,
        relative_cost_tolerance: 1e-12,
    };
    let start = model.params();
    let found = minimize(&objective, start, Minimizer::Lbfgs, rule, report)?;
    let mut trained = model;
    trained.set_params(&found.control);
    let frozen = stencil_mlp_model(n, trained.field.net.clone(), trained.dt, false);
    let (skill, valid_time) = forecast_skill(truth, &frozen, request.seed.wrapping_add(1))?;
    let provenance = serde_json::json!({
        "truth": {"model": "lorenz96", "n": n, "forcing": truth.field.forcing, "dt": truth.dt},
        "steps": request.steps,
        "rollout": k,
        "adjoint": crate::core::choice::choice_name(&request.adjoint),
        "seed": request.seed,
        "initial_loss": found.first_cost,
        "final_loss": found.cost,
        "stop_reason": found.stop_reason,
        "valid_time": valid_time,
    });
    save_emulator(&request.out, &frozen, provenance)?;
    Ok(EmulatorTrainSummary {
        initial_loss: found.first_cost,
        final_loss: found.cost,
        stop_reason: found.stop_reason,
        evaluations: found.evaluations,
        interrupted: found.interrupted,
        skill,
        valid_time,
        climate_std: std,
    })
}

/// Seeded initial weights: W₁ ~ N(0, 1/s), b₁ ~ N(0, 0.1²), w₂ = 0, b₂ = 0 (the emulator
/// starts as x' = x), with the inputs centred and scaled by the run's mean and std.
fn initial_weights(
    radius: usize,
    hidden: usize,
    mean: f64,
    scale: f64,
    seed: u64,
) -> Result<StencilMlp> {
    let s = 2 * radius + 1;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let w1 = Normal::new(0.0, 1.0 / (s as f64).sqrt())
        .map_err(|e| Error::invalid("initial weights", e.to_string()))?;
    let b1 = Normal::new(0.0, 0.1).map_err(|e| Error::invalid("initial weights", e.to_string()))?;
    let mut theta: Vec<f64> = (0..hidden * s).map(|_| w1.sample(&mut rng)).collect();
    theta.extend((0..hidden).map(|_| b1.sample(&mut rng)));
    theta.extend(std::iter::repeat_n(0.0, hidden + 1));
    if !(scale.is_finite() && scale > 0.0) {
        return Err(Error::invalid(
            "training run",
            "has no variance (the truth is constant); nothing to learn",
        ));
    }
    Ok(StencilMlp {
        radius,
        hidden,
        mean,
        scale,
        theta,
    })
}

/// RMSE of the emulator's forecasts against the true model's from the same states of a
/// held-out run, by lead time, and the first lead time at which it reaches 1.
pub fn forecast_skill(
    truth: &Lorenz96,
    emulator: &StencilMlpModel,
    seed: u64,
) -> Result<(Vec<SkillPoint>, Option<f64>)> {
    let n = truth.state_len();
    let run = truth_run(truth, 1000, FORECASTS * FORECAST_SPACING, Some(seed))?;
    let mut squared = vec![0.0; FORECAST_STEPS + 1];
    for f in 0..FORECASTS {
        let start = &run[f * FORECAST_SPACING * n..(f * FORECAST_SPACING + 1) * n];
        let mut reference = Vec::with_capacity((FORECAST_STEPS + 1) * n);
        integrate(truth, start, FORECAST_STEPS, |_, x| {
            reference.extend_from_slice(x)
        })?;
        let emulated = integrate(emulator, start, FORECAST_STEPS, |k, x| {
            let y = &reference[k * n..(k + 1) * n];
            squared[k] += x.iter().zip(y).map(|(a, b)| (a - b).powi(2)).sum::<f64>();
        });
        emulated.map_err(|e| e.within(format!("the emulator's forecast {f}")))?;
    }
    let skill: Vec<SkillPoint> = (squared.iter().enumerate())
        .map(|(k, s)| SkillPoint {
            lead_steps: k,
            lead_time: k as f64 * truth.dt,
            rmse: (s / (FORECASTS * n) as f64).sqrt(),
        })
        .collect();
    let valid = skill.iter().find(|p| p.rmse >= 1.0).map(|p| p.lead_time);
    Ok((skill, valid))
}
