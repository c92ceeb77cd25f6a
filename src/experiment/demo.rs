//! The `demo` command: the default twin experiment, with everything built in — Lorenz-96
//! (N = 40, F = 8, dt = 0.05), one 20-step window, every other site observed every other step
//! with σ_o = 1, a Gaussian B — written to a NetCDF file and summarised.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::core::Dynamics;
use crate::error::Result;
use crate::io::atomic_output::AtomicOutput;
use crate::io::experiment_config::LoadedExperiment;
use crate::io::model_config::{ModelConfig, ModelTask};
use crate::io::observation_network::ObservationNetwork;
use crate::models::ModelInfo;

use super::assimilation::{analyse_window, background_covariance, AssimilationSettings};
use super::results::{result_metadata, write_window, WindowSummary};
use super::twin::twin_data;

/// The built-in experiment configuration.
pub const DEMO_EXPERIMENT: &str = include_str!("demo.toml");
/// The built-in model configuration (models/lorenz96.toml).
pub const DEMO_MODEL: &str = include_str!("../../models/lorenz96.toml");
/// The built-in observation network.
pub const DEMO_NETWORK: &str =
    include_str!("../../observations/lorenz96_half_every_other_step.toml");

/// Runs the demo and writes `out`.
pub fn run_demo(out: &Path, history: String) -> Result<WindowSummary> {
    drop(AtomicOutput::new(out)?);
    let model = ModelConfig::parse(
        Path::new("models/lorenz96.toml (built in)"),
        DEMO_MODEL.into(),
    )?;
    let experiment = LoadedExperiment::parse(None, DEMO_EXPERIMENT.into())?;
    let network_path = PathBuf::from("observations/lorenz96_half_every_other_step.toml (built in)");
    let network = ObservationNetwork::parse(&network_path, DEMO_NETWORK)?;
    model.run(Demo {
        out,
        history,
        experiment: &experiment,
        model_text: &model.text,
        network: &network,
        network_path: &network_path,
    })
}

struct Demo<'a> {
    out: &'a Path,
    history: String,
    experiment: &'a LoadedExperiment,
    model_text: &'a str,
    network: &'a ObservationNetwork,
    network_path: &'a Path,
}

impl ModelTask for Demo<'_> {
    type Output = WindowSummary;

    fn run<M: Dynamics + ModelInfo + Clone>(self, model: M) -> Result<WindowSummary> {
        let started = Instant::now();
        let config = &self.experiment.config;
        let settings = AssimilationSettings::from_config(config)?;
        let window = settings.window_steps.unwrap_or(20);
        let covariance = Arc::new(background_covariance(&model, &settings.background)?);
        let total = window + settings.forecast_steps;
        let twin = twin_data(
            &model,
            self.network,
            self.network_path,
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
            "fourdvar demo: Lorenz-96 twin experiment, one 4D-Var window".into(),
            self.history,
            self.model_text.into(),
            self.experiment.text.clone(),
        )?;
        meta.texts
            .push(("observation_network".into(), DEMO_NETWORK.into()));
        write_window(self.out, meta, &result, &observations, Some(&twin.truth))?;
        Ok(WindowSummary::new(
            &model,
            &result,
            settings.minimizer.name(),
            started.elapsed().as_secs_f64(),
        ))
    }
}
