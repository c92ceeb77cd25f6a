//! One twin-experiment window (the `twin` command, and `demo` with its built-in settings): a
//! truth run by the model, observations of it drawn through a network, a background drawn
//! around the true initial state with covariance B, one 4D-Var analysis, written to NetCDF with
//! RMSE against the truth (per variable for multi-variable models).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::core::Dynamics;
use crate::error::Result;
use crate::io::atomic_output::AtomicOutput;
use crate::io::experiment_config::LoadedExperiment;
use crate::io::model_config::ModelConfig;
use crate::io::observation_network::ObservationNetwork;
use crate::models::ModelInfo;
use crate::models::ModelTask;

use super::results::{result_metadata, write_window, WindowSummary};
use super::twin_data::twin_data;
use super::window_analysis::{analyse_window, background_covariance, AssimilationSettings};

/// Window length used when neither the experiment file nor the command line gives one.
pub const DEFAULT_WINDOW_STEPS: usize = 20;

/// Everything a twin-experiment window needs.
#[derive(Clone, Debug)]
pub struct TwinRequest {
    /// The model.
    pub model: ModelConfig,
    /// The experiment settings (window, B, minimiser, twin seeds) after command-line overrides.
    pub experiment: LoadedExperiment,
    /// The observation network.
    pub network: ObservationNetwork,
    /// Where the network came from (for messages and provenance).
    pub network_path: PathBuf,
    /// The network file's text, stored in the output as provenance.
    pub network_text: String,
    /// Global `title` of the output file.
    pub title: String,
    /// Output NetCDF file.
    pub out: PathBuf,
    /// The `history` attribute.
    pub history: String,
}

/// Runs the window and writes `request.out` (atomically; nothing is left on failure).
pub fn run_twin(request: &TwinRequest) -> Result<WindowSummary> {
    drop(AtomicOutput::new(&request.out)?);
    request.model.run(TwinWindow(request))
}

struct TwinWindow<'a>(&'a TwinRequest);

impl ModelTask for TwinWindow<'_> {
    type Output = WindowSummary;

    fn run<M: Dynamics + ModelInfo + Clone>(self, model: M) -> Result<WindowSummary> {
        let started = Instant::now();
        let req = self.0;
        let config = &req.experiment.config;
        let settings = AssimilationSettings::from_config(config)?;
        let window = settings.window_steps.unwrap_or(DEFAULT_WINDOW_STEPS);
        let covariance = Arc::new(background_covariance(&model, &settings.background)?);
        let total = window + settings.forecast_steps;
        let twin = twin_data(
            &model,
            &req.network,
            &req.network_path,
            &config.twin,
            &covariance,
            total,
        )?;
        let observations = twin.observations.window(0, window, model.time_step());
        let result = analyse_window(
            &model,
            twin.background,
            &observations,
            covariance,
            &settings,
            window,
            Some(&twin.truth),
        )?;
        let mut meta = result_metadata(
            &model,
            &req.experiment,
            req.title.clone(),
            req.history.clone(),
            req.model.text.clone(),
        )?;
        meta.texts
            .push(("observation_network".into(), req.network_text.clone()));
        write_window(&req.out, meta, &result, &observations, Some(&twin.truth))?;
        Ok(WindowSummary::new(
            &model,
            &result,
            &settings.method_name(),
            observations.max_step().unwrap_or(0),
            started.elapsed().as_secs_f64(),
        ))
    }
}

/// The network at `path`, with its text for provenance.
pub fn load_network(path: &Path) -> Result<(ObservationNetwork, String)> {
    let text = crate::io::bounded_read::read_text(
        path,
        crate::io::bounded_read::CONFIG_BYTES,
        "observation network",
    )?;
    Ok((ObservationNetwork::parse(path, &text)?, text))
}
