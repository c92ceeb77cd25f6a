//! One 4D-Var analysis of one window, shared by `assimilate`, `demo` and `cycle`: builds B,
//! the control transform and the cost, minimises, and computes the trajectories, departures
//! and diagnostics.

use crate::core::budget::{check_memory, check_work};
use std::sync::Arc;

use crate::core::choice::choice_name;
use crate::core::vector::norm;
use crate::core::{integrate, Dynamics, Storage, StorageChoice};
use crate::cov::BackgroundCovariance;
use crate::error::{Error, Result};
use crate::io::experiment_config::WeakConstraintConfig;
use crate::io::experiment_config::{BackgroundConfig, ExperimentConfig, ParameterConfig};
use crate::models::ModelInfo;
use crate::obs::{Observation, ObservationMisfit, ObservationSet};
use crate::var::fgat::fgat_analysis;
use crate::var::incremental::{
    incremental_4dvar, IncrementalSettings, InnerSolver, OuterLoopRecord,
};
use crate::var::krylov::InnerLoopSettings;
use crate::var::model_error::ModelError;
use crate::var::posterior::{posterior, Posterior};
use crate::var::{
    minimize, Algorithm, AnalysisDiagnostics, BackgroundError, ControlSpace, ControlTransform,
    FourDVar, IterationRecord, MinimizationOutcome, Minimizer, ParameterPrior, StoppingRule,
};

/// How to analyse a window.
#[derive(Clone, Debug)]
pub struct AssimilationSettings {
    /// Window length in steps (None: up to the last observation).
    pub window_steps: Option<usize>,
    /// Forecast steps beyond the window in the output.
    pub forecast_steps: usize,
    /// The algorithm: nonlinear or incremental 4D-Var, 3D-Var or 3D-FGAT.
    pub algorithm: Algorithm,
    /// Minimiser of the nonlinear algorithm.
    pub minimizer: Minimizer,
    /// Outer and inner loops of the incremental algorithm.
    pub incremental: IncrementalSettings,
    /// Control space.
    pub space: ControlSpace,
    /// Stopping rule.
    pub stopping: StoppingRule,
    /// How the adjoint sweep keeps the trajectory.
    pub storage: StorageChoice,
    /// B settings.
    pub background: BackgroundConfig,
    /// Parameter estimation.
    pub parameters: Option<ParameterConfig>,
    /// Leading Hessian eigenpairs for the posterior at the analysis (None: no posterior).
    pub posterior_modes: Option<usize>,
    /// Weak-constraint 4D-Var (None: strong constraint).
    pub weak_constraint: Option<WeakConstraintConfig>,
}

impl AssimilationSettings {
    /// The settings of an experiment configuration (already validated).
    pub fn from_config(c: &ExperimentConfig) -> Result<Self> {
        let i = &c.incremental;
        Ok(Self {
            window_steps: c.window.steps,
            forecast_steps: c.window.forecast_steps,
            algorithm: c.minimizer.algorithm,
            minimizer: c.minimizer.method,
            incremental: IncrementalSettings {
                outer_loops: i.outer_loops,
                inner: InnerLoopSettings {
                    max_iterations: i.inner_iterations,
                    tolerance: i.inner_tolerance,
                },
                solver: i.inner_solver,
                spectral_preconditioner: i.spectral_preconditioner,
                gradient_tolerance: c.minimizer.gradient_tolerance,
            },
            space: c.minimizer.space,
            stopping: StoppingRule {
                max_iterations: c.minimizer.max_iterations,
                gradient_tolerance: c.minimizer.gradient_tolerance,
                relative_cost_tolerance: c.minimizer.relative_cost_tolerance,
            },
            storage: c.minimizer.storage,
            background: c.background.clone(),
            parameters: c.parameters.clone(),
            posterior_modes: c.posterior.as_ref().map(|p| p.modes),
            weak_constraint: c.weak_constraint.clone(),
        })
    }

    /// The method in words for summaries: "lbfgs", "incremental (lanczos inner loops,
    /// spectral preconditioner)", "3dvar (cg inner loops)", "3dfgat (cg inner loop)".
    pub fn method_name(&self) -> String {
        match self.algorithm {
            Algorithm::Nonlinear => self.minimizer.name(),
            Algorithm::ThreeDVar => format!(
                "3dvar ({} inner loops)",
                choice_name(&self.incremental.solver)
            ),
            Algorithm::ThreeDFgat => format!(
                "3dfgat ({} inner loop)",
                choice_name(&self.incremental.solver)
            ),
            Algorithm::Incremental => format!(
                "incremental ({} inner loops{})",
                choice_name(&self.incremental.solver),
                if self.incremental.spectral_preconditioner {
                    ", spectral preconditioner"
                } else {
                    ""
                }
            ),
        }
    }
}

/// B from its settings over the model's geometry ([`crate::cov::BackgroundSpec::build`]);
/// the climatological B samples a free run of `model`: states 10 steps apart on the
/// attractor, after a spin-up of 1000 steps from the model's default initial state.
pub fn background_covariance<M: Dynamics + ModelInfo>(
    model: &M,
    settings: &BackgroundConfig,
) -> Result<BackgroundCovariance> {
    let free_run = |m: usize| {
        if m == 0 {
            return Ok(Vec::new());
        }
        let n = model.state_len();
        let start = integrate(model, &model.default_initial_state(), 1000, |_, _| {})?;
        let mut samples = Vec::with_capacity(m * n);
        integrate(model, &start, 10 * m.saturating_sub(1), |k, x| {
            if k % 10 == 0 {
                samples.extend_from_slice(x);
            }
        })?;
        Ok(samples)
    };
    settings.build(&model.geometry(), model.gravity_and_coriolis(), free_run)
}

/// Everything one window's analysis produces.
#[derive(Clone, Debug)]
pub struct WindowResult {
    /// Window length in steps.
    pub window_steps: usize,
    /// Background trajectory over the window and the forecast, row-major.
    pub background_trajectory: Vec<f64>,
    /// Analysis trajectory, same shape.
    pub analysis_trajectory: Vec<f64>,
    /// The minimisation (for the incremental algorithm: one iteration per outer loop).
    pub outcome: MinimizationOutcome,
    /// The outer loops of the incremental algorithm (empty for the nonlinear one).
    pub outer_loops: Vec<OuterLoopRecord>,
    /// Tangent-linear runs (each with an adjoint sweep) of the incremental inner loops.
    pub tangent_linear_runs: u64,
    /// J at the background.
    pub cost_initial: f64,
    /// ‖∂J/∂x₀‖ at the background, in the physical space.
    pub gradient_norm_initial: f64,
    /// ‖∂J/∂x₀‖ at the analysis, in the physical space.
    pub gradient_norm_final: f64,
    /// y − H(x_b).
    pub background_departures: Vec<f64>,
    /// y − H(x_a).
    pub analysis_departures: Vec<f64>,
    /// RMSE, departure statistics, J_min/p.
    pub diagnostics: AnalysisDiagnostics,
    /// Model parameters at the analysis (their background when not estimated).
    pub analysis_parameters: Vec<f64>,
    /// Whether the parameters were estimated.
    pub parameters_estimated: bool,
    /// The posterior at the analysis, when asked for.
    pub posterior: Option<Posterior>,
    /// Whether this was weak-constraint 4D-Var.
    pub weak_constraint: bool,
}

/// Analyses one window: minimises J from the background `background` with the observations
/// `observations` (steps relative to the window start) and returns trajectories and
/// diagnostics. `truth`, when known, is the true trajectory over the window and forecast.
pub fn analyse_window<M: Dynamics + ModelInfo + Clone>(
    model: &M,
    background: Vec<f64>,
    observations: &ObservationSet,
    covariance: impl Into<BackgroundError>,
    settings: &AssimilationSettings,
    window_steps: usize,
    truth: Option<&[f64]>,
) -> Result<WindowResult> {
    let covariance: BackgroundError = covariance.into();
    let n = model.state_len();
    // Stored trajectory of each sweep, the background and analysis trajectories.
    let steps = window_steps as f64 + settings.forecast_steps as f64 + 1.0;
    check_memory("assimilation window", 3.0 * steps * n as f64 * 8.0)?;
    let inner = &settings.incremental;
    let sweeps = match settings.algorithm {
        Algorithm::Nonlinear => (settings.stopping.max_iterations as f64).min(1e3),
        // One TL run and one adjoint sweep per inner iteration, one sweep per outer loop.
        _ => (inner.outer_loops as f64 * (inner.inner.max_iterations as f64 + 1.0)).min(1e4),
    };
    check_work("assimilation window", n, 2.0 * steps * sweeps)?;
    if settings.algorithm != Algorithm::Nonlinear && inner.solver == InnerSolver::Lanczos {
        // Lanczos keeps its vectors: at most one per inner iteration, at most n.
        let vectors = inner.inner.max_iterations.min(n) as f64;
        check_memory("Lanczos vectors", vectors * n as f64 * 8.0)?;
    }
    if let Some(modes) = settings.posterior_modes {
        posterior_steps(modes, n)?;
    }
    if observations.is_empty() {
        return Err(Error::invalid(
            "observations",
            format!(
                "none falls inside the window (steps 0..={window_steps}); 4D-Var needs at least one"
            ),
        ));
    }
    let misfit = ObservationMisfit::new(observations.clone(), &model.geometry())?;
    let prior = match &settings.parameters {
        None => None,
        Some(p) => {
            let background = p.background.clone().unwrap_or_else(|| model.params());
            if p.sigma.len() != model.param_len() || background.len() != model.param_len() {
                return Err(Error::invalid(
                    "parameters",
                    format!(
                        "the {} model has {} parameter(s) ({}): give that many sigma and background values",
                        model.name(),
                        model.param_len(),
                        model.param_names().join(", ")
                    ),
                ));
            }
            Some(ParameterPrior {
                background,
                sigma: p.sigma.clone(),
            })
        }
    };
    let transform = ControlTransform::new(settings.space, background, covariance.clone(), prior)?;
    let storage = settings.storage.resolve(model, window_steps)?;
    let problem = FourDVar::new(
        model.clone(),
        window_steps,
        misfit,
        transform.clone(),
        storage,
    )?;
    let problem = match &settings.weak_constraint {
        None => problem,
        Some(w) => problem.with_model_error(model_error(model, w, window_steps)?)?,
    };
    // 3D-Var minimises its own cost: the window of zero steps, every observation at its start.
    let three_d = match settings.algorithm {
        Algorithm::ThreeDVar => {
            let at_start = ObservationSet::new(
                (observations.as_slice().iter())
                    .map(|o| Observation {
                        step: 0,
                        ..o.clone()
                    })
                    .collect(),
            );
            let misfit = ObservationMisfit::new(at_start, &model.geometry())?;
            Some(FourDVar::new(
                model.clone(),
                0,
                misfit,
                transform,
                Storage::All,
            )?)
        }
        _ => None,
    };
    let minimised = three_d.as_ref().unwrap_or(&problem);
    let start = problem.background_control();
    let first = minimised
        .evaluate(&start)
        .map_err(|e| e.within("at the background (the first guess)"))?;
    if !first.cost.is_finite() || first.gradient.iter().any(|g| !g.is_finite()) {
        return Err(not_finite_at_background(
            &problem,
            &start,
            observations,
            model,
        )?);
    }
    let gradient_norm_initial = norm(&minimised.physical_state_gradient(&start, &first));
    let (outcome, outer_loops, tangent_linear_runs) = match settings.algorithm {
        Algorithm::ThreeDFgat => {
            let inner = &settings.incremental;
            let (control, record) = fgat_analysis(&problem, &start, inner.inner, inner.solver)?;
            let evaluation = problem.evaluate(&control)?;
            let at = |iteration, cost, background_cost, gradient_norm| IterationRecord {
                iteration,
                cost,
                background_cost,
                observation_cost: cost - background_cost,
                gradient_norm,
            };
            let outcome = MinimizationOutcome {
                iterations: vec![
                    at(0, record.cost, record.background_cost, record.gradient_norm),
                    at(
                        1,
                        evaluation.cost,
                        evaluation.background_cost,
                        norm(&evaluation.gradient),
                    ),
                ],
                stop_reason: format!(
                    "one 3D-FGAT step, inner residual reduced by {:.1e} in {} iterations",
                    record.residual_reduction, record.inner_iterations
                ),
                converged: record.residual_reduction <= inner.inner.tolerance,
                interrupted: crate::interrupt::requested(),
                control,
                evaluation,
                cost_evaluations: 2,
            };
            (outcome, vec![record], 0)
        }
        Algorithm::Nonlinear => (
            minimize(
                minimised,
                start.clone(),
                settings.minimizer,
                settings.stopping,
            )?,
            Vec::new(),
            0,
        ),
        Algorithm::Incremental | Algorithm::ThreeDVar => {
            let i = incremental_4dvar(minimised, &start, &settings.incremental)?;
            let mut iterations: Vec<IterationRecord> = (i.records.iter().enumerate())
                .map(|(k, r)| IterationRecord {
                    iteration: k as u64,
                    cost: r.cost,
                    background_cost: r.background_cost,
                    observation_cost: r.cost - r.background_cost,
                    gradient_norm: r.gradient_norm,
                })
                .collect();
            let e = &i.evaluation;
            iterations.push(IterationRecord {
                iteration: i.records.len() as u64,
                cost: e.cost,
                background_cost: e.background_cost,
                observation_cost: e.observation_cost,
                gradient_norm: norm(&e.gradient),
            });
            let outcome = MinimizationOutcome {
                control: i.control,
                evaluation: i.evaluation,
                iterations,
                stop_reason: i.stop_reason,
                converged: i.converged,
                interrupted: i.interrupted,
                cost_evaluations: i.gradient_sweeps,
            };
            (outcome, i.records, i.hessian_products)
        }
    };
    let gradient_norm_final =
        norm(&minimised.physical_state_gradient(&outcome.control, &outcome.evaluation));

    let extra = settings.forecast_steps;
    let background_trajectory = problem.trajectory(&start, extra)?;
    let analysis_trajectory = problem.trajectory(&outcome.control, extra)?;
    let window = (window_steps + 1) * n;
    let departures = |trajectory: &[f64]| -> Vec<f64> {
        let equivalents = problem.misfit().model_equivalents(&trajectory[..window], n);
        (observations.as_slice().iter().zip(equivalents))
            .map(|(o, h)| o.value - h)
            .collect()
    };
    let background_departures = departures(&background_trajectory);
    let analysis_departures = departures(&analysis_trajectory);
    let geometry = model.geometry();
    let quantities: Vec<String> = (observations.as_slice().iter())
        .map(|o| o.quantity(&geometry))
        .collect();
    let diagnostics = AnalysisDiagnostics::new(
        &quantities,
        &background_departures,
        &analysis_departures,
        outcome.evaluation.cost,
        truth.map(|t| {
            (
                &background_trajectory[..window],
                &analysis_trajectory[..window],
                &t[..window],
            )
        }),
        &geometry,
    );
    let analysis_parameters = problem.model_at(&outcome.control).params();
    let posterior = match settings.posterior_modes {
        None => None,
        Some(modes) => Some(posterior_at(
            &problem,
            &outcome.control,
            observations,
            covariance,
            modes,
        )?),
    };
    Ok(WindowResult {
        window_steps,
        background_trajectory,
        analysis_trajectory,
        cost_initial: first.cost,
        gradient_norm_initial,
        gradient_norm_final,
        outcome,
        outer_loops,
        tangent_linear_runs,
        background_departures,
        analysis_departures,
        diagnostics,
        analysis_parameters,
        parameters_estimated: settings.parameters.is_some(),
        posterior,
        weak_constraint: settings.weak_constraint.is_some(),
    })
}

/// The most Lanczos steps the posterior of `modes` modes may take on a state of `n` values,
/// 10 K + 50 (n when that is smaller), or an error before any work when they would not fit
/// in memory or time: the Ritz values are recomputed at each step, Σ k³ ≈ steps⁴/4.
fn posterior_steps(modes: usize, n: usize) -> Result<usize> {
    let steps = modes.saturating_mul(10).saturating_add(50).min(n);
    check_memory(
        "Lanczos vectors of the posterior",
        steps as f64 * n as f64 * 8.0,
    )?;
    if (steps as f64).powi(4) / 4.0 > crate::core::budget::MAX_VALUE_STEPS {
        return Err(Error::invalid(
            "--posterior",
            format!(
                "{modes} modes of a {n}-value state need up to {steps} Lanczos steps, whose Ritz \
                 values alone would take hours: ask for at most {} modes",
                ((4.0 * crate::core::budget::MAX_VALUE_STEPS).powf(0.25) as usize - 50) / 10
            ),
        ));
    }
    Ok(steps)
}

/// The model error of weak-constraint settings `w` over a window of `steps` steps: Q from the
/// cov models (σ_q, none or Gaussian correlation) on the model's geometry.
fn model_error<M: Dynamics + ModelInfo>(
    model: &M,
    w: &WeakConstraintConfig,
    steps: usize,
) -> Result<ModelError> {
    let spec = crate::cov::BackgroundSpec {
        sigma: w.q_sigma,
        correlation: w.q_correlation,
        length_scale: w.q_length_scale,
        ..Default::default()
    };
    let q = spec
        .build(&model.geometry(), model.gravity_and_coriolis(), |_| {
            Err(Error::invalid("model error", "Q is never climatological"))
        })
        .map_err(|e| e.within("building the model-error covariance Q"))?;
    ModelError::new(Arc::new(q), w.q_every, steps)
}

/// The posterior at the analysis control `u` of `problem`, in the transformed space around
/// the analysis (x_b := x_a, v = 0: the Gauss–Newton Hessian depends only on the
/// linearisation trajectory and B^½, whatever space the minimiser worked in), with at most
/// 10 K + 50 Lanczos steps (the state size when that is smaller).
fn posterior_at<M: Dynamics + ModelInfo + Clone>(
    problem: &FourDVar<M>,
    u: &[f64],
    observations: &ObservationSet,
    covariance: BackgroundError,
    modes: usize,
) -> Result<Posterior> {
    let model = problem.model_at(u);
    let (analysis, _) = problem.transform().to_model(u);
    let n = analysis.len();
    let misfit = ObservationMisfit::new(observations.clone(), &model.geometry())?;
    let transform = ControlTransform::new(ControlSpace::Transformed, analysis, covariance, None)?;
    let around = FourDVar::new(model, problem.steps(), misfit, transform, Storage::All)?;
    let steps = posterior_steps(modes, n)?;
    check_work(
        "posterior",
        n,
        2.0 * (problem.steps() as f64 + 1.0) * steps as f64,
    )?;
    posterior(&around, &vec![0.0; n], modes.min(n), steps)
        .map_err(|e| e.within("computing the posterior at the analysis"))
}

/// The error for a cost (or gradient) that is not finite at the background, naming the
/// observations whose term ((y − H(x_b))/σ)² overflows (at most five), or else the background
/// term.
fn not_finite_at_background<M: Dynamics + ModelInfo + Clone>(
    problem: &FourDVar<M>,
    start: &[f64],
    observations: &ObservationSet,
    model: &M,
) -> Result<Error> {
    let n = model.state_len();
    let trajectory = problem.trajectory(start, 0)?;
    let equivalents = problem.misfit().model_equivalents(&trajectory, n);
    let geometry = model.geometry();
    let bad: Vec<String> = (observations.as_slice().iter().enumerate())
        .zip(equivalents)
        .filter(|((_, o), h)| !((o.value - h) / o.sigma).powi(2).is_finite())
        .map(|((i, o), h)| {
            let place = o
                .line
                .map_or(format!("observation {}", i + 1), |l| format!("line {l}"));
            format!(
                "{place} ({} at time {}): value {:e}, sigma {:e}, model value {:e}",
                geometry.describe(&o.location),
                o.time,
                o.value,
                o.sigma,
                h
            )
        })
        .collect();
    Ok(if bad.is_empty() {
        Error::invalid(
            "background",
            "the cost J is not finite at the background although every observation term is: \
             check the background state and the background-error sigmas",
        )
    } else {
        let shown = bad.len().min(5);
        Error::invalid(
            "observations",
            format!(
                "the cost J is not finite at the background: ((y - H(x_b))/sigma)^2 overflows for \
                 {} observation(s): {}{}",
                bad.len(),
                bad[..shown].join("; "),
                if bad.len() > shown { "; ..." } else { "" }
            ),
        )
    })
}
