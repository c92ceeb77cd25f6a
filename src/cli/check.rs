//! `fourdvar check`: verify a model's tangent-linear and adjoint code.

use std::path::PathBuf;

use clap::Args;

use super::output;
use super::values;
use crate::error::Result;
use crate::experiment::derivative_check::{run_checks, CheckRequest};
use crate::experiment::twin_window::load_network;
use crate::io::model_config::ModelConfig;

/// The options of `check`.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// Model configuration (TOML), e.g. models/lorenz96.toml.
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    /// Spin-up steps from the default start, so the checks run on the attractor.
    #[arg(long, value_name = "STEPS", default_value_t = 1000)]
    spinup: usize,
    /// Steps of the composed model checked besides the single step.
    #[arg(long, value_name = "STEPS", default_value_t = 20, value_parser = values::at_least_one())]
    window: usize,
    /// Seed of the random test directions (and, with --network, of the observation noise
    /// and the background error).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Also check an observation network's operators on this model: the Taylor and
    /// dot-product tests of H for its observations, and the gradient test of the 4D-Var cost
    /// with them (default B, observations of a truth run over --window steps), whose
    /// step-by-step residues are printed after the table.
    #[arg(long, value_name = "FILE")]
    network: Option<PathBuf>,
    #[command(flatten)]
    format: output::FormatArgs,
}

/// Runs `check`: exit code 0 when every check passes, 1 when any fails.
pub(crate) fn run(a: CheckArgs) -> Result<i32> {
    let network = match &a.network {
        Some(path) => Some((path.clone(), load_network(path)?.0)),
        None => None,
    };
    let outcome = run_checks(&CheckRequest {
        model: ModelConfig::load(&a.model)?,
        spinup: a.spinup,
        // The composed-model checks need at least one step.
        window: a.window,
        seed: a.seed,
        network,
    })?;
    output::check(&outcome, &a.format);
    Ok(if outcome.rows.iter().all(|r| r.passed()) {
        0
    } else {
        1
    })
}
