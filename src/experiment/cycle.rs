//! The `cycle` command: a twin experiment cycled over many 4D-Var windows of any length and
//! any shift between window starts. The background of each window is the forecast of the
//! previous analysis; B is static. Writes the RMSE time series and reports time averages
//! after a burn-in.

use crate::core::budget::{check_memory, check_work};
use crate::io::experiment_config::{LoadedExperiment, ObservationUse};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::core::sweep::integrate;
use crate::core::Dynamics;
use crate::error::{Error, Result};
use crate::interrupt;
use crate::io::analysis_file::{write_cycle, CycleContent};
use crate::io::atomic_output::AtomicOutput;
use crate::io::model_config::ModelConfig;
use crate::io::observation_network::ObservationNetwork;
use crate::models::ModelInfo;
use crate::models::ModelTask;
use crate::obs::ObservationSet;
use crate::var::diagnostics::{rmse, rmse_by_variable, variable_name};
use crate::var::Algorithm;

use super::ensemble_cycle::{Ensemble, WindowTask};
use super::results::result_metadata;
use super::twin_data::twin_data;
use super::window_analysis::{analyse_window, background_covariance, AssimilationSettings};
use crate::ensemble::{CycleMethod, EnsembleSettings};
use crate::progress::{detail, window_bar};
use std::ops::Not;

/// Everything `cycle` needs.
#[derive(Clone, Debug)]
pub struct CycleRequest {
    /// The model.
    pub model: ModelConfig,
    /// The observation network file.
    pub network: PathBuf,
    /// Assimilation settings (window length required).
    pub settings: AssimilationSettings,
    /// Twin settings.
    pub twin: crate::io::experiment_config::TwinConfig,
    /// Number of windows.
    pub windows: usize,
    /// Steps between window starts.
    pub shift: usize,
    /// Windows left out of the averages.
    pub burn_in: usize,
    /// The experiment after command-line overrides, for provenance (the settings above are
    /// derived from it).
    pub experiment: LoadedExperiment,
    /// How the windows are analysed: 4D-Var, hybrid 4D-Var with an EDA, ETKF or LETKF.
    pub method: CycleMethod,
    /// Which observations of an overlapping window are assimilated.
    pub assimilate: ObservationUse,
    /// The ensemble of the ensemble methods.
    pub ensemble: EnsembleSettings,
    /// Output NetCDF file.
    pub out: PathBuf,
    /// The `history` attribute.
    pub history: String,
}

/// Time averages of a cycled experiment.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CycleSummary {
    /// Windows run.
    pub windows: usize,
    /// Windows asked for, when a signal (Ctrl-C) stopped the cycle before the last: the
    /// file then holds the windows run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interrupted_of: Option<usize>,
    /// Window length, steps.
    pub window_steps: usize,
    /// Steps between window starts.
    pub shift: usize,
    /// Which observations of an overlapping window were assimilated.
    pub assimilate: ObservationUse,
    /// Windows left out of the averages (0 when an interrupted cycle ran no more windows than
    /// the burn-in asked to leave out).
    pub burn_in: usize,
    /// Mean RMSE at the window starts after the burn-in of the background: the forecast
    /// from the previous window's analysis (the first window: the twin's background).
    pub rmse_background: f64,
    /// Mean analysis RMSE at the window starts after the burn-in (smoother), at the same
    /// times as `rmse_background`.
    pub rmse_analysis_start: f64,
    /// Mean RMSE at the window ends after the burn-in of the background run through the
    /// window: the forecast from the previous analysis, at the same times as `rmse_analysis`.
    pub rmse_forecast_end: f64,
    /// Mean analysis RMSE at the window ends after the burn-in (filter).
    pub rmse_analysis: f64,
    /// Mean RMSE at the window ends after the burn-in of the free run: the model run from
    /// the first background without any assimilation. The baseline the cycle must beat.
    pub rmse_free_run: f64,
    /// The means per variable (multi-variable models such as shallow water, whose
    /// variables have different units; empty for single-variable models).
    pub variable_rmse: Vec<CycleVariableRmse>,
    /// The method: "4dvar", "hybrid", "etkf" or "letkf".
    pub method: String,
    /// The algorithm: the minimiser's name, "incremental (… inner loops)", or the ensemble
    /// and its settings.
    pub minimizer: String,
    /// Mean ensemble spread of the analysis at the window ends after the burn-in (ensemble
    /// methods): √(mean variance). A consistent system has it equal to `rmse_analysis`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spread_analysis: Option<f64>,
    /// Hybrid: Σ member analysis seconds / (their wall seconds × worker threads).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallel_efficiency: Option<f64>,
    /// The inflation factor ρ the adaptive inflation reached at the last analysis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adapted_inflation: Option<f64>,
    /// Mean minimiser iterations (incremental: outer loops) per window.
    pub mean_iterations: f64,
    /// Mean inner iterations per window (incremental only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_inner_iterations: Option<f64>,
    /// Wall time, seconds.
    pub wall_time_seconds: f64,
}

/// Time-averaged RMSE of one variable of a cycled experiment, after the burn-in.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CycleVariableRmse {
    /// The variable's name ("u", "v", "h"; "variable k" on a line of points).
    pub name: String,
    /// Mean background RMSE at the window starts.
    pub background: f64,
    /// Mean analysis RMSE at the window starts (smoother).
    pub analysis_start: f64,
    /// Mean RMSE of the forecast from the previous analysis at the window ends.
    pub forecast_end: f64,
    /// Mean analysis RMSE at the window ends (filter).
    pub analysis: f64,
    /// Mean RMSE of the free run at the window ends.
    pub free_run: f64,
}

/// The per-window RMSE series of a cycle, each state compared with the truth at its time.
#[derive(Clone, Debug, Default)]
struct CycleSeries {
    /// Background (forecast from the previous analysis) at the window start.
    background: Vec<f64>,
    /// Analysis at the window start.
    analysis_start: Vec<f64>,
    /// Background run through the window, at its end.
    forecast_end: Vec<f64>,
    /// Analysis at the window end.
    analysis_end: Vec<f64>,
    /// Free run at the window end.
    free_run_end: Vec<f64>,
}

impl CycleSeries {
    /// Appends one window's values, in the order of the fields.
    fn push(&mut self, values: [f64; 5]) {
        let [b, a0, f, a, free] = values;
        self.background.push(b);
        self.analysis_start.push(a0);
        self.forecast_end.push(f);
        self.analysis_end.push(a);
        self.free_run_end.push(free);
    }

    /// The time means over the windows from `burn_in` on.
    fn means(&self, burn_in: usize) -> [f64; 5] {
        let mean = |v: &[f64]| {
            let tail = &v[burn_in..];
            tail.iter().sum::<f64>() / tail.len() as f64
        };
        [
            mean(&self.background),
            mean(&self.analysis_start),
            mean(&self.forecast_end),
            mean(&self.analysis_end),
            mean(&self.free_run_end),
        ]
    }
}

/// Runs the cycled experiment and writes its file.
pub fn run_cycle(request: &CycleRequest) -> Result<CycleSummary> {
    // The first Ctrl-C ends the cycle after the current window, which is kept (a signal
    // before the first window stops its minimiser at once: one window is written).
    let _graceful = interrupt::graceful();
    if request.windows == 0 {
        return Err(Error::invalid("number of windows", "must be at least 1"));
    }
    if request.shift == 0 {
        return Err(Error::invalid("window shift", "must be at least 1"));
    }
    if request.burn_in >= request.windows {
        return Err(Error::invalid(
            "burn-in",
            format!(
                "{} leaves none of the {} windows to average",
                request.burn_in, request.windows
            ),
        ));
    }
    drop(AtomicOutput::new(&request.out)?);
    let network = ObservationNetwork::load(&request.network)?;
    request.model.run(Cycle {
        request,
        network: &network,
    })
}

struct Cycle<'a> {
    request: &'a CycleRequest,
    network: &'a ObservationNetwork,
}

impl ModelTask for Cycle<'_> {
    type Output = CycleSummary;

    fn run<M: Dynamics + ModelInfo + Clone + Send + Sync>(self, model: M) -> Result<CycleSummary> {
        let started = Instant::now();
        let req = self.request;
        let n = model.state_len();
        let dt = model.time_step();
        let window = req
            .settings
            .window_steps
            .ok_or_else(|| Error::invalid("window length", "cycling needs one"))?;
        let shift = req.shift;
        let mut settings = req.settings.clone();
        // The next background is the analysis `shift` steps on, possibly past the window.
        settings.forecast_steps = shift.saturating_sub(window);
        // Estimated in f64 first: counts near u64::MAX must not overflow before the check.
        let windows_f = req.windows as f64;
        let total_f = (windows_f - 1.0) * shift as f64 + window.max(shift) as f64;
        // An ensemble adds its members' runs through every window (and, as an EDA, one
        // 4D-Var per member) and holds their trajectories over a window.
        let members = if req.method.is_ensemble() {
            req.ensemble.members as f64
        } else {
            0.0
        };
        let analyses = match req.method {
            CycleMethod::Hybrid
                if req.ensemble.hybrid_member_update() == crate::ensemble::MemberUpdate::Eda =>
            {
                1.0 + members
            }
            _ => 1.0,
        };
        check_work(
            "cycle",
            n,
            req.twin.spinup as f64
                + total_f * (1.0 + members)
                + analyses * 2.0 * windows_f * window as f64 * 20.0,
        )?;
        check_memory(
            "cycle",
            (total_f + 1.0) * n as f64 * 8.0
                + windows_f * (2.0 * n as f64 + 8.0) * 8.0
                + members * (window.max(shift) as f64 + 2.0) * n as f64 * 8.0,
        )?;
        let covariance = Arc::new(background_covariance(&model, &settings.background)?);
        let total = (req.windows - 1) * shift + window.max(shift);
        let twin = twin_data(
            &model,
            self.network,
            &req.network,
            &req.twin,
            &covariance,
            total,
        )?;

        let mut windows = req.windows;
        let filter = matches!(req.method, CycleMethod::Etkf | CycleMethod::Letkf);
        let incremental = !filter
            && matches!(
                settings.algorithm,
                Algorithm::Incremental | Algorithm::ThreeDFgat
            );
        let free_run = free_run_at_window_ends(&model, &twin.background, windows, window, shift)?;
        let mut starts = Vec::with_capacity(windows);
        let mut series = CycleSeries::default();
        let (mut iterations, mut inner_iterations, mut costs, mut spreads) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let method = req.method;
        let mut ensemble = match method {
            CycleMethod::FourDVar => None,
            _ => Some(Ensemble::new(
                &model,
                method,
                &req.ensemble,
                covariance.clone(),
                &twin.background,
                req.twin.background_seed,
                req.twin.observation_seed,
            )?),
        };
        let (mut analysis_end, mut truth_end) = (Vec::new(), Vec::new());
        let geometry = model.geometry();
        // The same series per variable, for models with several.
        let mut by_variable: Vec<CycleSeries> = if geometry.variables().len() > 1 {
            vec![CycleSeries::default(); geometry.variables().len()]
        } else {
            Vec::new()
        };
        let mut background = twin.background.clone();
        let bar = window_bar(windows as u64, "cycling");
        for j in 0..windows {
            let s0 = j * shift;
            let truth = &twin.truth[s0 * n..(s0 + window.max(shift) + 1) * n];
            let observations = window_observations(
                &twin.observations,
                s0,
                window,
                dt,
                (j > 0).then_some(req.assimilate),
                shift,
            );
            let label = || format!("window {j} (steps {s0}..={})", s0 + window);
            // A window without observations (a zero-step window between observation times)
            // keeps its background: J = 0 there, and nothing to minimise.
            let outcome = if let Some(e) = ensemble.as_mut() {
                e.window(&WindowTask {
                    j,
                    background: &background,
                    observations: &observations,
                    settings: &settings,
                    window,
                    shift,
                    truth,
                })
                .map_err(|e| e.within(label()))?
            } else if observations.is_empty() {
                let forecast =
                    integrate_states(&model, &background, window + settings.forecast_steps)
                        .map_err(|e| e.within(label()))?;
                WindowOutcome::kept(forecast, None)
            } else {
                let result = analyse_window(
                    &model,
                    background.clone(),
                    &observations,
                    covariance.clone(),
                    &settings,
                    window,
                    Some(truth),
                )
                .map_err(|e| e.within(label()))?;
                WindowOutcome {
                    iterations: result.outcome.iterations.len().saturating_sub(1) as i32,
                    inner_iterations: (result.outer_loops.iter())
                        .map(|r| r.inner_iterations as i32)
                        .sum(),
                    cost: Some(result.outcome.evaluation.cost),
                    spread: None,
                    background_trajectory: result.background_trajectory,
                    analysis_trajectory: result.analysis_trajectory,
                }
            };
            let result = &outcome;
            let a = &result.analysis_trajectory;
            let end = window * n..(window + 1) * n;
            // Each state beside the truth at its time: two at the window start, three at its end.
            let pairs = [
                (&background[..], &truth[..n]),
                (&a[..n], &truth[..n]),
                (
                    &result.background_trajectory[end.clone()],
                    &truth[end.clone()],
                ),
                (&a[end.clone()], &truth[end.clone()]),
                (&free_run[j * n..(j + 1) * n], &truth[end.clone()]),
            ];
            starts.push(s0 as f64 * dt);
            let window_rmse = pairs.map(|(x, t)| rmse(x, t));
            series.push(window_rmse);
            for (v, by) in by_variable.iter_mut().enumerate() {
                by.push(pairs.map(|(x, t)| rmse_by_variable(x, t, &geometry)[v]));
            }
            analysis_end.extend_from_slice(&a[end.clone()]);
            truth_end.extend_from_slice(&truth[end]);
            iterations.push(result.iterations);
            inner_iterations.push(result.inner_iterations);
            costs.push(result.cost.unwrap_or(f64::NAN));
            spreads.push(result.spread.unwrap_or(f64::NAN));
            background = a[shift * n..(shift + 1) * n].to_vec();
            bar.set_position(j as u64 + 1);
            let [b, a0, f, a_end, _] = window_rmse;
            bar.set_message(match result.spread {
                Some(s) => format!("analysis RMSE {a_end:.4}, spread {s:.4}"),
                None => format!("analysis RMSE {a_end:.4}"),
            });
            detail(|| {
                format!(
                    "window {j}: RMSE at the start background {b:.4}, analysis {a0:.4}; at the \
                     end forecast {f:.4}, analysis {a_end:.4}; {} iterations",
                    iterations[j]
                )
            });
            if interrupt::requested() {
                windows = j + 1;
                break;
            }
        }
        bar.finish_and_clear();
        let burn_in = if windows > req.burn_in {
            req.burn_in
        } else {
            0
        };
        let [rmse_background, rmse_analysis_start, rmse_forecast_end, rmse_analysis, rmse_free_run] =
            series.means(burn_in);
        let summary = CycleSummary {
            windows,
            interrupted_of: (windows < req.windows).then_some(req.windows),
            window_steps: window,
            shift,
            burn_in,
            rmse_background,
            rmse_analysis_start,
            rmse_forecast_end,
            rmse_analysis,
            rmse_free_run,
            variable_rmse: by_variable
                .iter()
                .enumerate()
                .map(|(v, by)| {
                    let [background, analysis_start, forecast_end, analysis, free_run] =
                        by.means(burn_in);
                    CycleVariableRmse {
                        name: variable_name(&geometry, v),
                        background,
                        analysis_start,
                        forecast_end,
                        analysis,
                        free_run,
                    }
                })
                .collect(),
            method: method.name().to_string(),
            assimilate: req.assimilate,
            minimizer: method_description(method, &req.ensemble, &settings),
            spread_analysis: method.is_ensemble().then(|| {
                let tail = &spreads[burn_in..];
                tail.iter().sum::<f64>() / tail.len() as f64
            }),
            parallel_efficiency: ensemble.as_ref().and_then(|e| e.parallel_efficiency()),
            adapted_inflation: ensemble.as_ref().and_then(|e| e.adapted_inflation()),
            mean_iterations: mean(&iterations),
            mean_inner_iterations: incremental.then(|| mean(&inner_iterations)),
            wall_time_seconds: started.elapsed().as_secs_f64(),
        };
        let mut meta = result_metadata(
            &model,
            &req.experiment,
            format!("{} cycled 4D-Var twin experiment", model.name()),
            req.history.clone(),
            req.model.text.clone(),
        )?;
        meta.numbers.extend([
            ("window_steps".to_string(), window as f64),
            ("window_shift_steps".to_string(), shift as f64),
            ("burn_in_windows".to_string(), burn_in as f64),
            ("mean_rmse_background".to_string(), summary.rmse_background),
            ("mean_rmse_analysis".to_string(), summary.rmse_analysis),
            (
                "mean_rmse_analysis_start".to_string(),
                summary.rmse_analysis_start,
            ),
            (
                "mean_rmse_forecast_end".to_string(),
                summary.rmse_forecast_end,
            ),
            ("mean_rmse_free_run".to_string(), summary.rmse_free_run),
        ]);
        for v in &summary.variable_rmse {
            let name = v.name.replace(' ', "_");
            meta.numbers.extend([
                (format!("mean_rmse_background_{name}"), v.background),
                (format!("mean_rmse_analysis_{name}"), v.analysis),
                (format!("mean_rmse_analysis_start_{name}"), v.analysis_start),
                (format!("mean_rmse_forecast_end_{name}"), v.forecast_end),
                (format!("mean_rmse_free_run_{name}"), v.free_run),
            ]);
        }
        write_cycle(
            &req.out,
            &meta,
            &CycleContent {
                window_start_times: &starts,
                window_end_times: &starts
                    .iter()
                    .map(|t| t + window as f64 * dt)
                    .collect::<Vec<f64>>(),
                rmse_background: &series.background,
                rmse_analysis_start: &series.analysis_start,
                rmse_forecast_end: &series.forecast_end,
                rmse_analysis: &series.analysis_end,
                rmse_free_run: &series.free_run_end,
                iterations: filter.not().then_some(&iterations[..]),
                inner_iterations: incremental.then_some(&inner_iterations[..]),
                cost_final: filter.not().then_some(&costs[..]),
                spread_analysis: method.is_ensemble().then_some(&spreads[..]),
                analysis_end: &analysis_end,
                truth_end: &truth_end,
            },
        )?;
        Ok(summary)
    }
}

/// What one window of the cycle produced.
pub(super) struct WindowOutcome {
    /// Background trajectory over the window and the forecast, row-major.
    pub background_trajectory: Vec<f64>,
    /// Analysis trajectory, same shape (the background's when the window has no observations).
    pub analysis_trajectory: Vec<f64>,
    /// Minimiser iterations (incremental: outer loops).
    pub iterations: i32,
    /// Inner iterations (incremental and 3D-FGAT).
    pub inner_iterations: i32,
    /// J at the analysis (None for the ensemble filters, which minimise no J).
    pub cost: Option<f64>,
    /// Ensemble spread of the analysis at the window end (None without an ensemble).
    pub spread: Option<f64>,
}

impl WindowOutcome {
    /// A window without observations: the background `forecast` is kept (J = 0).
    pub fn kept(forecast: Vec<f64>, spread: Option<f64>) -> Self {
        Self {
            background_trajectory: forecast.clone(),
            analysis_trajectory: forecast,
            iterations: 0,
            inner_iterations: 0,
            cost: Some(0.0),
            spread,
        }
    }
}

/// The method and its settings in words, for the summary.
fn method_description(
    method: CycleMethod,
    e: &EnsembleSettings,
    settings: &AssimilationSettings,
) -> String {
    let adaptive = if e.adaptive_inflation {
        "adaptive "
    } else {
        ""
    };
    let localisation = e.localisation.map_or("no localisation".to_string(), |c| {
        format!("localisation {c}")
    });
    match method {
        CycleMethod::FourDVar => settings.method_name(),
        CycleMethod::Hybrid => format!(
            "hybrid {} ({} of {} members, beta_static {}, beta_ensemble {}, {localisation}, \
             inflation {})",
            settings.method_name(),
            match e.hybrid_member_update() {
                crate::ensemble::MemberUpdate::Eda => "EDA",
                crate::ensemble::MemberUpdate::Letkf => "LETKF",
                crate::ensemble::MemberUpdate::Etkf => "ETKF",
                crate::ensemble::MemberUpdate::Smoother => "smoother",
            },
            e.members,
            e.beta_static,
            e.beta_ensemble,
            e.inflation
        ),
        CycleMethod::FourDEnVar => format!(
            "4denvar ({} members, beta_static {}, beta_ensemble {}, {localisation}, inflation {})",
            e.members, e.beta_static, e.beta_ensemble, e.inflation
        ),
        CycleMethod::Etkf => format!(
            "etkf ({} members, {}inflation {})",
            e.members, adaptive, e.inflation
        ),
        CycleMethod::Letkf => format!(
            "letkf ({} members, {localisation}, {}inflation {})",
            e.members, adaptive, e.inflation
        ),
    }
}

/// The states x_0..x_steps of `model` from `x0`, row-major.
pub(super) fn integrate_states<M: Dynamics>(
    model: &M,
    x0: &[f64],
    steps: usize,
) -> Result<Vec<f64>> {
    let mut states = Vec::with_capacity((steps + 1) * x0.len());
    integrate(model, x0, steps, |_, x| states.extend_from_slice(x))?;
    Ok(states)
}

/// The mean of per-window counts.
fn mean(counts: &[i32]) -> f64 {
    counts.iter().map(|&i| i as f64).sum::<f64>() / counts.len().max(1) as f64
}

/// The free run: the model from the first background without assimilation, its states at
/// the ends of the windows (row-major, windows × n). A free run that blows up is an error
/// naming its step.
fn free_run_at_window_ends<M: Dynamics>(
    model: &M,
    background: &[f64],
    windows: usize,
    window: usize,
    shift: usize,
) -> Result<Vec<f64>> {
    let n = background.len();
    let mut ends = Vec::with_capacity(windows * n);
    let last = (windows - 1) * shift + window;
    integrate(model, background, last, |k, x| {
        if k >= window && (k - window) % shift == 0 {
            ends.extend_from_slice(x);
        }
    })
    .map_err(|e| e.within("the free run (no assimilation) from the first background"))?;
    Ok(ends)
}

/// The observations of the window starting at step `first`, re-based to it. After the first
/// window (`reuse` given), the observations at the window's first step are left out (the
/// previous window already used them: they are its last step when the shift equals the
/// window length), and with [`ObservationUse::Newest`] all but those of the last `shift`
/// steps.
fn window_observations(
    all: &ObservationSet,
    first: usize,
    steps: usize,
    dt: f64,
    reuse: Option<ObservationUse>,
    shift: usize,
) -> ObservationSet {
    let window = all.window(first, steps, dt);
    let earliest = match reuse {
        // Windows that do not overlap share no observation.
        Some(_) if shift > steps => 0,
        None => 0,
        Some(ObservationUse::Window) => 1,
        Some(ObservationUse::Newest) => steps + 1 - shift,
    };
    if earliest == 0 {
        return window;
    }
    ObservationSet::new(
        window
            .as_slice()
            .iter()
            .filter(|o| o.step >= earliest)
            .cloned()
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Location;
    use crate::obs::{Observation, ObservationKind};

    /// One observation at every step 0..=40.
    fn every_step() -> ObservationSet {
        ObservationSet::new(
            (0..=40)
                .map(|k| Observation {
                    time: k as f64,
                    step: k,
                    location: Location::at(0.0),
                    variable: 0,
                    kind: ObservationKind::Value,
                    value: k as f64,
                    sigma: 1.0,
                    line: None,
                })
                .collect(),
        )
    }

    /// The absolute steps a cycle of `windows` windows assimilates, each as often as used.
    fn used(windows: usize, steps: usize, shift: usize, mode: ObservationUse) -> Vec<usize> {
        let all = every_step();
        let mut out: Vec<usize> = (0..windows)
            .flat_map(|j| {
                let set = window_observations(
                    &all,
                    j * shift,
                    steps,
                    1.0,
                    (j > 0).then_some(mode),
                    shift,
                );
                set.as_slice()
                    .iter()
                    .map(|o| o.step + j * shift)
                    .collect::<Vec<_>>()
            })
            .collect();
        out.sort_unstable();
        out
    }

    #[test]
    fn newest_assimilates_every_observation_once_and_window_reuses_them() {
        // Windows of 8 steps every 2: steps 0..=14 of the first four windows.
        assert_eq!(
            used(4, 8, 2, ObservationUse::Newest),
            (0..=14).collect::<Vec<_>>()
        );
        let reused = used(4, 8, 2, ObservationUse::Window);
        assert_eq!(reused.iter().filter(|&&k| k == 7).count(), 4);
        assert_eq!(reused.len(), 9 + 3 * 8);
        // Windows that meet end to end share only their boundary, used once either way.
        for mode in [ObservationUse::Newest, ObservationUse::Window] {
            assert_eq!(used(3, 4, 4, mode), (0..=12).collect::<Vec<_>>());
        }
        // Windows with gaps between them keep all their observations.
        assert_eq!(
            used(2, 3, 5, ObservationUse::Newest),
            vec![0, 1, 2, 3, 5, 6, 7, 8]
        );
    }
}
