//! The `assimilate` command: one 4D-Var analysis from files (model, background, observations,
//! optionally the truth), written as CF-NetCDF.

use crate::io::experiment_config::LoadedExperiment;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::core::Dynamics;
use crate::error::{Error, Result};
use crate::io::atomic_output::AtomicOutput;
use crate::io::model_config::ModelConfig;
use crate::io::netcdf_trajectory::read_trajectory;
use crate::io::observation_file::read_observations;
use crate::io::state_file::read_state;
use crate::models::ModelInfo;
use crate::models::ModelTask;

use super::results::{result_metadata, write_window, WindowSummary};
use super::window_analysis::{analyse_window, background_covariance, AssimilationSettings};

/// Everything `assimilate` needs.
#[derive(Clone, Debug)]
pub struct AssimilateRequest {
    /// The model.
    pub model: ModelConfig,
    /// Background state file (text or NetCDF).
    pub background: PathBuf,
    /// Observation file (CSV or NetCDF).
    pub observations: PathBuf,
    /// True trajectory (NetCDF, from `forecast`), for twin experiments.
    pub truth: Option<PathBuf>,
    /// The settings after command-line overrides.
    pub settings: AssimilationSettings,
    /// The experiment after command-line overrides, for provenance (the settings above are
    /// derived from it).
    pub experiment: LoadedExperiment,
    /// Output NetCDF file.
    pub out: PathBuf,
    /// The `history` attribute.
    pub history: String,
}

/// Runs the analysis, writes the file and returns its summary.
pub fn run_assimilate(request: &AssimilateRequest) -> Result<WindowSummary> {
    drop(AtomicOutput::new(&request.out)?);
    request.model.run(Assimilate(request))
}

struct Assimilate<'a>(&'a AssimilateRequest);

impl ModelTask for Assimilate<'_> {
    type Output = WindowSummary;

    fn run<M: Dynamics + ModelInfo + Clone>(self, model: M) -> Result<WindowSummary> {
        let started = Instant::now();
        let req = self.0;
        let n = model.state_len();
        let background = read_state(&req.background, n)?;
        let geometry = model.geometry();
        let all = read_observations(&req.observations, model.time_step(), &geometry)?;
        if all.is_empty() {
            return Err(Error::input(
                &req.observations,
                None,
                "holds no observation; 4D-Var needs at least one",
            ));
        }
        let window_steps = match req.settings.window_steps {
            Some(steps) => steps,
            None => all.max_step().filter(|s| *s > 0).ok_or_else(|| {
                Error::input(
                    &req.observations,
                    None,
                    "holds no observation after time 0 to take the window length from; give the window length",
                )
            })?,
        };
        all.validate(&geometry, Some(window_steps), &req.observations)?;
        let total = window_steps.saturating_add(req.settings.forecast_steps);
        let truth = match &req.truth {
            Some(path) => Some(truth_over(path, geometry.cf_layout(), total)?),
            None => None,
        };
        let covariance = Arc::new(background_covariance(&model, &req.settings.background)?);
        let result = analyse_window(
            &model,
            background,
            &all,
            covariance,
            &req.settings,
            window_steps,
            truth.as_deref(),
        )?;
        let mut meta = result_metadata(
            &model,
            &req.experiment,
            format!("{} 4D-Var analysis", model.name()),
            req.history.clone(),
            req.model.text.clone(),
        )?;
        meta.texts
            .push(("minimizer".into(), req.settings.method_name()));
        write_window(&req.out, meta, &result, &all, truth.as_deref())?;
        Ok(WindowSummary::new(
            &model,
            &result,
            &req.settings.method_name(),
            all.max_step().unwrap_or(0),
            started.elapsed().as_secs_f64(),
        ))
    }
}

/// The true states at steps 0..=steps from a trajectory file, in step order.
fn truth_over(
    path: &std::path::Path,
    layout: &crate::geometry::CfLayout,
    steps: usize,
) -> Result<Vec<f64>> {
    let n = layout.state_len();
    let t = read_trajectory(path, None)?;
    t.check_fields(path, layout)?;
    if t.n != n {
        return Err(Error::input(
            path,
            None,
            format!("holds states of {} values, the model state has {n}", t.n),
        ));
    }
    let mut out = Vec::with_capacity((steps + 1) * n);
    for k in 0..=steps {
        let record = match &t.steps {
            Some(s) => s.iter().position(|&v| v == k as u64),
            None => (k < t.times.len()).then_some(k),
        };
        let Some(r) = record else {
            let last = match &t.steps {
                Some(s) => s.iter().copied().max().unwrap_or(0),
                None => t.times.len().saturating_sub(1) as u64,
            };
            // Past its end the truth is too short; inside it, records were skipped.
            let fix = if k as u64 > last {
                format!("it ends at step {last}: forecast at least {steps} steps")
            } else {
                "write it with an output interval of 1".to_string()
            };
            return Err(Error::input(
                path,
                None,
                format!("has no state at step {k}; the truth must cover steps 0..={steps} ({fix})"),
            ));
        };
        out.extend_from_slice(&t.states[r * n..(r + 1) * n]);
    }
    Ok(out)
}
