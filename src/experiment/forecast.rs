//! A forecast: spin up (optionally), run the model, write the trajectory as CF-NetCDF (for
//! a model on a plane, each field on its own staggered grid).

use crate::core::budget::check_work;
use crate::io::cf_time::{CfTime, ReferenceDate};
use std::path::PathBuf;

use crate::core::{integrate, Dynamics};
use crate::error::{Error, Result};
use crate::io::atomic_output::AtomicOutput;
use crate::io::model_config::ModelConfig;
use crate::io::netcdf_trajectory::{write_trajectory, TrajectoryMetadata};
use crate::io::state_file::read_state;
use crate::models::ModelInfo;
use crate::models::ModelTask;

use crate::progress::step_bar;

/// The largest trajectory a forecast keeps in memory before writing it.
const MAX_OUTPUT_BYTES: f64 = 8e9;

/// What to forecast and where to write it.
#[derive(Clone, Debug)]
pub struct ForecastRequest {
    /// The model configuration.
    pub model: ModelConfig,
    /// Initial state file (text or NetCDF); the model's default start when absent.
    pub initial: Option<PathBuf>,
    /// Steps run (and discarded) before the forecast starts.
    pub spinup: usize,
    /// Forecast steps after the spin-up.
    pub steps: usize,
    /// Write every this many steps (1 = every state).
    pub output_every: usize,
    /// Output NetCDF file.
    pub out: PathBuf,
    /// The `history` attribute: when and how the run was made.
    pub history: String,
    /// The date of the forecast's start in the file (CF time).
    pub reference_date: ReferenceDate,
}

/// What a finished forecast reports.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ForecastSummary {
    /// Model name.
    pub model: &'static str,
    /// State length.
    pub state_len: usize,
    /// Forecast steps run.
    pub steps: usize,
    /// Records written.
    pub records: usize,
    /// Model time at the end of the forecast.
    pub final_time: f64,
    /// Mean and standard deviation of the final state.
    pub final_mean: f64,
    /// Standard deviation of the final state.
    pub final_std: f64,
}

/// Tags a non-finite-state error from the core with the phase it happened in.
fn in_phase(error: Error, phase: &str, offset: usize) -> Error {
    match error {
        Error::NonFinite { step, .. } => Error::NonFinite {
            step: step + offset,
            context: phase.to_string(),
        },
        other => other,
    }
}

/// Runs the forecast and writes its NetCDF file.
pub fn run_forecast(request: &ForecastRequest) -> Result<ForecastSummary> {
    if request.output_every == 0 {
        return Err(Error::invalid("output interval", "must be at least 1"));
    }
    // Reserve the output first, so an unwritable path fails before any work is done.
    drop(AtomicOutput::new(&request.out)?);
    request.model.run(Forecast(request))
}

struct Forecast<'a>(&'a ForecastRequest);

impl ModelTask for Forecast<'_> {
    type Output = ForecastSummary;

    fn run<M: Dynamics + ModelInfo + Clone>(self, model: M) -> Result<ForecastSummary> {
        let request = self.0;
        let n = model.state_len();
        check_work(
            "forecast length",
            n,
            request.spinup as f64 + request.steps as f64,
        )?;
        let records = request.steps / request.output_every + 1;
        let bytes = (records as f64) * (n as f64) * 8.0;
        if bytes > MAX_OUTPUT_BYTES {
            return Err(Error::invalid(
                "forecast length",
                format!(
                    "{records} records of {n} values would need {:.1} GB in memory; write fewer with a larger output interval",
                    bytes / 1e9
                ),
            ));
        }
        let x0 = match &request.initial {
            Some(path) => read_state(path, n)?,
            None => model.default_initial_state(),
        };
        let total = (request.spinup + request.steps) as u64;
        let bar = step_bar(total, "forecast");
        let tick = |k: usize| {
            if k % 256 == 0 {
                bar.set_position(k as u64);
            }
        };
        let start = integrate(&model, &x0, request.spinup, |k, _| tick(k))
            .map_err(|e| in_phase(e, "spin-up", 0))?;

        let every = request.output_every;
        let mut states = Vec::with_capacity(records * n);
        let mut steps = Vec::with_capacity(records);
        let mut times = Vec::with_capacity(records);
        let dt = model.time_step();
        let last = integrate(&model, &start, request.steps, |k, x| {
            tick(request.spinup + k);
            if k % every == 0 {
                states.extend_from_slice(x);
                steps.push(k as u64);
                times.push(k as f64 * dt);
            }
        })
        .map_err(|e| in_phase(e, "forecast", 0))?;
        bar.finish_and_clear();

        let meta = TrajectoryMetadata {
            title: format!("{} forecast", model.name()),
            source: format!(
                "fourdvar {}, {} model",
                env!("CARGO_PKG_VERSION"),
                model.name()
            ),
            history: request.history.clone(),
            model_configuration: request.model.text.clone(),
            global_numbers: model
                .param_names()
                .into_iter()
                .zip(model.params())
                .map(|(name, value)| (format!("model_{name}"), value))
                .chain([
                    ("model_dt".to_string(), dt),
                    ("spinup_steps".to_string(), request.spinup as f64),
                ])
                .collect(),
            time: CfTime::new(request.reference_date, model.time_scale()),
            time_long_name: "time since the end of the spin-up".into(),
        };
        let geometry = model.geometry();
        write_trajectory(
            &request.out,
            &meta,
            geometry.cf_layout(),
            &steps,
            &times,
            &states,
        )?;

        let mean = last.iter().sum::<f64>() / n as f64;
        let var = last.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
        Ok(ForecastSummary {
            model: model.name(),
            state_len: n,
            steps: request.steps,
            records: steps.len(),
            final_time: request.steps as f64 * dt,
            final_mean: mean,
            final_std: var.sqrt(),
        })
    }
}
