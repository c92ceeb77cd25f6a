//! The `demo` command: the default twin experiment, with everything built in — Lorenz-96
//! (N = 40, F = 8, dt = 0.05), one 20-step window, every other site observed every other step
//! with σ_o = 1, a Gaussian B — written to a NetCDF file and summarised. It is the `twin`
//! command ([`super::twin_window`]) with embedded files.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::io::experiment_config::LoadedExperiment;
use crate::io::model_config::ModelConfig;
use crate::io::observation_network::ObservationNetwork;

#[cfg(doc)]
use super::twin_window::run_twin;
use super::twin_window::TwinRequest;

/// The built-in experiment configuration.
pub const DEMO_EXPERIMENT: &str = include_str!("demo.toml");
/// The built-in model configuration (models/lorenz96.toml).
pub const DEMO_MODEL: &str = include_str!("../../models/lorenz96.toml");
/// The built-in observation network.
pub const DEMO_NETWORK: &str =
    include_str!("../../observations/lorenz96_half_every_other_step.toml");

/// The demo as a twin experiment ([`run_twin`] runs it) writing `out`, its CF time starting
/// at `reference_date`.
pub fn demo_request(
    out: &Path,
    history: String,
    reference_date: crate::io::cf_time::ReferenceDate,
) -> Result<TwinRequest> {
    let model = ModelConfig::parse(
        Path::new("models/lorenz96.toml (built in)"),
        DEMO_MODEL.into(),
    )?;
    let mut experiment = LoadedExperiment::parse(None, DEMO_EXPERIMENT.into())?;
    experiment.config.reference_date = reference_date;
    let network_path = PathBuf::from("observations/lorenz96_half_every_other_step.toml (built in)");
    let network = ObservationNetwork::parse(&network_path, DEMO_NETWORK)?;
    Ok(TwinRequest {
        model,
        experiment,
        network,
        network_path,
        network_text: DEMO_NETWORK.into(),
        title: "fourdvar demo: Lorenz-96 twin experiment, one 4D-Var window".into(),
        out: out.to_path_buf(),
        history,
    })
}
