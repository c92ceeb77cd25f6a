//! `fourdvar forecast`: run a model forward and write the trajectory.

use std::path::PathBuf;

use clap::Args;

use super::output;
use super::values;
use crate::error::Result;
use crate::experiment::forecast::{run_forecast, ForecastRequest};
use crate::io::cf_time::ReferenceDate;
use crate::io::model_config::ModelConfig;

/// Spin-up steps from the model's standard start when no --initial state is given.
const DEFAULT_SPINUP: usize = 1000;

/// The options of `forecast`.
#[derive(Debug, Args)]
pub(crate) struct ForecastArgs {
    /// Model configuration (TOML), e.g. models/lorenz96.toml.
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    /// Initial state: a text file with one number per line, or a NetCDF file with one 1-D
    /// variable of the state's length (or a forecast output, whose last record is used).
    /// Default: the model's standard start (Lorenz-96: F everywhere, +0.01 at site N/2-1).
    #[arg(long, value_name = "FILE")]
    initial: Option<PathBuf>,
    /// Steps run before the forecast and not written, so that the model's standard start
    /// reaches the attractor. Default: 1000 from the standard start, 0 with --initial (the
    /// given state is where the forecast starts).
    #[arg(long, value_name = "STEPS")]
    spinup: Option<usize>,
    /// Forecast steps after the spin-up.
    #[arg(long, value_name = "K")]
    steps: usize,
    /// Output interval: write only every N-th state (the first and every N-th after it).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = values::at_least_one())]
    output_every: usize,
    /// Output NetCDF file (written atomically: no partial file on failure).
    #[arg(long, value_name = "FILE.nc", default_value = "forecast.nc")]
    out: PathBuf,
    /// The date of model time 0 in the output's CF time: the Lorenz models write "days since
    /// DATE" (0.2 time units = 1 day, so dt = 0.05 is 6 h), shallow water "seconds since
    /// DATE". Form YYYY-MM-DD[THH:MM[:SS]].
    #[arg(long, value_name = "DATE", default_value = "2000-01-01")]
    reference_date: ReferenceDate,
    #[command(flatten)]
    format: output::FormatArgs,
    #[command(flatten)]
    plot: super::plot::PictureArgs,
}

/// Runs `forecast`; `history` goes into the output file.
pub(crate) fn run(a: ForecastArgs, history: String) -> Result<i32> {
    super::check_paths(
        &[
            ("--model", Some(&a.model)),
            ("--initial", a.initial.as_deref()),
        ],
        &[("--out", Some(&a.out))],
    )?;
    a.plot.check(&a.out)?;
    let summary = run_forecast(&ForecastRequest {
        model: ModelConfig::load(&a.model)?,
        initial: a.initial.clone(),
        spinup: a.spinup.unwrap_or(if a.initial.is_some() {
            0
        } else {
            DEFAULT_SPINUP
        }),
        steps: a.steps,
        output_every: a.output_every,
        out: a.out.clone(),
        history,
        reference_date: a.reference_date,
    })?;
    output::forecast(&summary, &a.format, &a.out);
    a.plot.draw(&a.out, a.format.json)?;
    Ok(0)
}
