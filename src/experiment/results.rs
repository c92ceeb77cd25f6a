//! What every assimilation command reports: the metadata of its NetCDF file and the
//! numbers of its summary, built once from a model and a window result.

use std::path::Path;

use crate::core::Dynamics;
use crate::error::Result;
use crate::io::analysis_file::{write_analysis, AnalysisContent, ResultMetadata};
use crate::io::cf_time::CfTime;
use crate::io::experiment_config::LoadedExperiment;
use crate::models::ModelInfo;
use crate::obs::ObservationSet;
use crate::var::incremental::OuterLoopRecord;
use crate::var::posterior::Posterior;

use super::window_analysis::WindowResult;

/// The metadata of a result file for `model`: its trajectories are written array by array
/// as its geometry's CF layout says, its times as CF time from the experiment's reference
/// date; it records the experiment file's text and the resolved settings.
pub fn result_metadata<M: Dynamics + ModelInfo>(
    model: &M,
    experiment: &LoadedExperiment,
    title: String,
    history: String,
    model_configuration: String,
) -> Result<ResultMetadata> {
    Ok(ResultMetadata {
        title,
        history,
        model_configuration,
        experiment_configuration: experiment.text.clone(),
        resolved_settings: experiment.resolved_toml(),
        geometry: model.geometry(),
        dt: model.time_step(),
        time: CfTime::new(experiment.config.reference_date, model.time_scale()),
        numbers: Vec::new(),
        texts: Vec::new(),
    })
}

/// Writes the NetCDF file of one analysed window: `meta` gains the stop reason.
pub fn write_window(
    out: &Path,
    mut meta: ResultMetadata,
    result: &WindowResult,
    observations: &ObservationSet,
    truth: Option<&[f64]>,
) -> Result<()> {
    meta.texts
        .push(("stop_reason".into(), result.outcome.stop_reason.clone()));
    for q in &result.diagnostics.quantity_departures {
        let name = &q.quantity;
        meta.numbers.extend([
            (format!("obs_count_{name}"), q.count as f64),
            (format!("omb_mean_{name}"), q.omb_mean),
            (format!("omb_std_{name}"), q.omb_std),
            (format!("oma_mean_{name}"), q.oma_mean),
            (format!("oma_std_{name}"), q.oma_std),
        ]);
    }
    write_analysis(
        out,
        &meta,
        &AnalysisContent {
            background: &result.background_trajectory,
            analysis: &result.analysis_trajectory,
            truth,
            window_steps: result.window_steps,
            observations,
            background_departures: &result.background_departures,
            analysis_departures: &result.analysis_departures,
            iterations: &result.outcome.iterations,
            outer_loops: &result.outer_loops,
            posterior: result.posterior.as_ref(),
        },
    )
}

/// One incremental outer loop in a summary.
#[derive(Clone, Debug, serde::Serialize)]
pub struct OuterLoopSummary {
    /// J (nonlinear) at the linearisation point.
    pub cost: f64,
    /// ‖∇J‖ there, in the control space.
    pub gradient_norm: f64,
    /// The quadratic cost at the inner minimum.
    pub quadratic_cost: f64,
    /// Inner iterations.
    pub inner_iterations: usize,
    /// Inner residual reduction reached.
    pub residual_reduction: f64,
    /// Ritz pairs in the spectral preconditioner.
    pub preconditioner_pairs: usize,
    /// The fraction of the Gauss–Newton step taken.
    pub step_length: f64,
}

impl OuterLoopSummary {
    fn new(r: &OuterLoopRecord) -> Self {
        Self {
            cost: r.cost,
            gradient_norm: r.gradient_norm,
            quadratic_cost: r.final_quadratic_cost(),
            inner_iterations: r.inner_iterations,
            residual_reduction: r.residual_reduction,
            preconditioner_pairs: r.preconditioner_pairs,
            step_length: r.step_length,
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The summary of one analysed window, as printed and as JSON.
#[derive(Clone, Debug, serde::Serialize)]
pub struct WindowSummary {
    /// Model name.
    pub model: String,
    /// Observations assimilated.
    pub observations: usize,
    /// Window length in steps.
    pub window_steps: usize,
    /// The last step with an observation: past it, the analysis is a forecast.
    pub last_observation_step: usize,
    /// The algorithm: the minimiser's name, or "incremental (… inner loops)".
    pub minimizer: String,
    /// J at the background.
    pub cost_initial: f64,
    /// J at the analysis.
    pub cost_final: f64,
    /// J_b at the analysis.
    pub background_cost_final: f64,
    /// J_o at the analysis.
    pub observation_cost_final: f64,
    /// J_q at the analysis (weak-constraint 4D-Var only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_error_cost_final: Option<f64>,
    /// ‖∂J/∂x₀‖ at the background (physical space).
    pub gradient_norm_initial: f64,
    /// ‖∂J/∂x₀‖ at the analysis (physical space).
    pub gradient_norm_final: f64,
    /// Minimiser iterations.
    pub iterations: usize,
    /// Cost-and-gradient evaluations (one forward and one adjoint sweep each).
    pub cost_evaluations: u64,
    /// Tangent-linear runs, each with an adjoint sweep (incremental inner iterations).
    #[serde(skip_serializing_if = "is_zero")]
    pub tangent_linear_runs: u64,
    /// The incremental outer loops (absent for the nonlinear algorithm).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub outer_loops: Vec<OuterLoopSummary>,
    /// Why the minimiser stopped.
    pub stop_reason: String,
    /// Whether that was a convergence test.
    pub converged: bool,
    /// Whether a signal (Ctrl-C) stopped the minimiser: the result is the best iterate so far.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// RMSE of the background trajectory against the truth (None without truth).
    pub rmse_background: Option<f64>,
    /// RMSE of the analysis trajectory against the truth (None without truth).
    pub rmse_analysis: Option<f64>,
    /// Background and analysis RMSE per variable (multi-variable models in twin experiments).
    pub variable_rmse: Vec<crate::var::diagnostics::VariableRmse>,
    /// Mean of y − H(x_b).
    pub omb_mean: f64,
    /// Standard deviation of y − H(x_b).
    pub omb_std: f64,
    /// Mean of y − H(x_a).
    pub oma_mean: f64,
    /// Standard deviation of y − H(x_a).
    pub oma_std: f64,
    /// O−B and O−A per observed quantity ("h", "speed", …).
    pub departures_by_quantity: Vec<crate::var::diagnostics::QuantityDepartures>,
    /// J_min / p (≈ ½ for a consistent system).
    pub cost_per_observation: f64,
    /// Model parameters at the analysis, by name.
    pub parameters: std::collections::BTreeMap<String, f64>,
    /// Whether the parameters were estimated (otherwise they are the model configuration's).
    pub parameters_estimated: bool,
    /// The posterior at the analysis (with --posterior).
    #[serde(skip_serializing_if = "Option::is_none", flatten)]
    pub posterior: Option<PosteriorSummary>,
    /// Wall time of the whole command, seconds.
    pub wall_time_seconds: f64,
}

/// The posterior in a summary.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PosteriorSummary {
    /// The leading eigenvalues of the Gauss–Newton Hessian in control space, descending.
    pub hessian_eigenvalues: Vec<f64>,
    /// Degrees of freedom for signal.
    pub dfs: f64,
    /// Whether the spectrum is complete (the standard deviations and DFS exact).
    pub posterior_complete: bool,
    /// Whether every wanted eigenpair converged.
    pub posterior_converged: bool,
    /// Mean analysis error standard deviation over the state.
    pub mean_analysis_std: f64,
    /// Mean background error standard deviation over the state.
    pub mean_background_std: f64,
    /// Lanczos steps (Hessian products) taken.
    pub posterior_hessian_products: usize,
}

impl PosteriorSummary {
    fn new(p: &Posterior) -> Self {
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        Self {
            hessian_eigenvalues: p.eigenvalues.clone(),
            dfs: p.dfs,
            posterior_complete: p.complete,
            posterior_converged: p.converged,
            mean_analysis_std: mean(&p.analysis_std),
            mean_background_std: mean(&p.background_std),
            posterior_hessian_products: p.hessian_products,
        }
    }
}

impl WindowSummary {
    /// The summary of `result` for `model`, whose last observation was at step
    /// `last_observation_step`.
    pub fn new<M: ModelInfo>(
        model: &M,
        r: &WindowResult,
        minimizer: &str,
        last_observation_step: usize,
        wall: f64,
    ) -> Self {
        let d = &r.diagnostics;
        Self {
            model: model.name().into(),
            observations: r.background_departures.len(),
            window_steps: r.window_steps,
            last_observation_step,
            minimizer: minimizer.into(),
            cost_initial: r.cost_initial,
            cost_final: r.outcome.evaluation.cost,
            background_cost_final: r.outcome.evaluation.background_cost,
            observation_cost_final: r.outcome.evaluation.observation_cost,
            model_error_cost_final: r
                .weak_constraint
                .then_some(r.outcome.evaluation.model_error_cost),
            gradient_norm_initial: r.gradient_norm_initial,
            gradient_norm_final: r.gradient_norm_final,
            iterations: r.outcome.iterations.len().saturating_sub(1),
            cost_evaluations: r.outcome.cost_evaluations,
            tangent_linear_runs: r.tangent_linear_runs,
            outer_loops: r.outer_loops.iter().map(OuterLoopSummary::new).collect(),
            stop_reason: r.outcome.stop_reason.clone(),
            converged: r.outcome.converged,
            interrupted: r.outcome.interrupted,
            rmse_background: d.rmse_background,
            rmse_analysis: d.rmse_analysis,
            variable_rmse: d.variable_rmse.clone(),
            omb_mean: d.background_departures.mean,
            omb_std: d.background_departures.std,
            oma_mean: d.analysis_departures.mean,
            oma_std: d.analysis_departures.std,
            departures_by_quantity: d.quantity_departures.clone(),
            cost_per_observation: d.cost_per_observation,
            parameters: model
                .param_names()
                .into_iter()
                .map(String::from)
                .zip(r.analysis_parameters.iter().copied())
                .collect(),
            parameters_estimated: r.parameters_estimated,
            posterior: r.posterior.as_ref().map(PosteriorSummary::new),
            wall_time_seconds: wall,
        }
    }

    /// A readable multi-line summary.
    pub fn text(&self) -> String {
        let mut s = format!(
            "{} 4D-Var, window of {} steps, {} observations, {}{}\n",
            self.model,
            self.window_steps,
            self.observations,
            self.minimizer,
            if self.outer_loops.is_empty() {
                " minimiser"
            } else {
                ""
            }
        );
        s += &format!(
            "  J: {:.4} -> {:.4}  (J_b {:.4}, {}J_o {:.4}; J_min/p = {:.3}, about 0.5 when B and R are right)\n",
            self.cost_initial,
            self.cost_final,
            self.background_cost_final,
            self.model_error_cost_final
                .map_or(String::new(), |q| format!("J_q {q:.4}, ")),
            self.observation_cost_final,
            self.cost_per_observation
        );
        s += &format!(
            "  |dJ/dx0|: {:.4e} -> {:.4e} after {} {}, {} cost+gradient evaluations\n",
            self.gradient_norm_initial,
            self.gradient_norm_final,
            self.iterations,
            if self.outer_loops.is_empty() {
                "iterations"
            } else {
                "outer loops"
            },
            self.cost_evaluations
        );
        for (l, o) in self.outer_loops.iter().enumerate() {
            s += &format!(
                "    outer loop {}: J {:.6e}, |grad J| {:.3e}; {} inner iterations{} -> quadratic J {:.6e}{}\n",
                l + 1,
                o.cost,
                o.gradient_norm,
                o.inner_iterations,
                if o.preconditioner_pairs > 0 {
                    format!(" (preconditioned by {} Ritz pairs)", o.preconditioner_pairs)
                } else {
                    String::new()
                },
                o.quadratic_cost,
                if o.step_length < 1.0 {
                    format!("; step shortened to {}", o.step_length)
                } else {
                    String::new()
                }
            );
        }
        if self.tangent_linear_runs > 0 {
            s += &format!(
                "  {} tangent-linear runs and {} adjoint sweeps in all\n",
                self.tangent_linear_runs,
                self.tangent_linear_runs + self.cost_evaluations
            );
        }
        if self.last_observation_step < self.window_steps {
            s += &format!(
                "  note: the observations end at step {} of {}: after that the analysis is a \
                 forecast\n",
                self.last_observation_step, self.window_steps
            );
        }
        s += &format!("  stopped: {}\n", self.stop_reason);
        s += &format!(
            "  O-B: mean {:+.4}, std {:.4};  O-A: mean {:+.4}, std {:.4}\n",
            self.omb_mean, self.omb_std, self.oma_mean, self.oma_std
        );
        if self.departures_by_quantity.len() > 1 {
            for q in &self.departures_by_quantity {
                s += &format!(
                    "    {} ({} obs): O-B mean {:+.4}, std {:.4};  O-A mean {:+.4}, std {:.4}\n",
                    q.quantity, q.count, q.omb_mean, q.omb_std, q.oma_mean, q.oma_std
                );
            }
        }
        if let (Some(b), Some(a)) = (self.rmse_background, self.rmse_analysis) {
            s += &format!(
                "  RMSE against the truth over the window: background {b:.4}, analysis {a:.4}\n"
            );
        }
        for v in &self.variable_rmse {
            s += &format!(
                "    {}: background {:.4}, analysis {:.4} ({:.0} % of the background error)\n",
                v.name,
                v.background,
                v.analysis,
                100.0 * v.analysis / v.background
            );
        }
        if let Some(p) = &self.posterior {
            let shown: Vec<String> = (p.hessian_eigenvalues.iter().take(8))
                .map(|l| format!("{l:.4e}"))
                .collect();
            s += &format!(
                "  posterior: {} leading Hessian eigenvalues {}{} ({}; {} Lanczos steps{})\n",
                p.hessian_eigenvalues.len(),
                shown.join(", "),
                if p.hessian_eigenvalues.len() > shown.len() {
                    ", ..."
                } else {
                    ""
                },
                if p.posterior_complete {
                    "complete spectrum"
                } else {
                    "low-rank"
                },
                p.posterior_hessian_products,
                if p.posterior_converged {
                    ""
                } else {
                    ", not all converged"
                }
            );
            s += &format!(
                "    DFS {:.3} (of {} observations); mean error std: analysis {:.4}, background {:.4}\n",
                p.dfs, self.observations, p.mean_analysis_std, p.mean_background_std
            );
        }
        for (name, value) in &self.parameters {
            if self.parameters_estimated {
                s += &format!("  {name} estimated: {value:.6}\n");
            } else {
                s += &format!("  {name}: {value} (not estimated)\n");
            }
        }
        s
    }
}
