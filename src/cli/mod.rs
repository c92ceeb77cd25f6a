//! The command line: argument parsing (clap), human-readable output and exit codes
//! (0 success, 1 a check failed, 2 bad input or usage). Errors are typed in the library and
//! rendered once, here.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::error::Result;
use crate::experiment::benchmark::benchmark_lorenz96;
use crate::experiment::derivative_check::{run_checks, CheckRequest};
use crate::experiment::forecast::{run_forecast, ForecastRequest};
use crate::io::model_config::ModelConfig;

/// fourdvar: variational data assimilation (4D-Var) on toy atmospheric models, with
/// hand-written tangent-linear and adjoint models.
#[derive(Debug, Parser)]
#[command(name = "fourdvar", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a model forward and write the trajectory as CF-NetCDF.
    ///
    /// Example: fourdvar forecast --model models/lorenz96.toml --steps 200 --out forecast.nc
    Forecast(ForecastArgs),
    /// Verify a model's derivatives: Taylor test of the tangent-linear model, dot-product test
    /// of the adjoint, gradient test of a cost, checkpointing vs full storage.
    ///
    /// Prints a table and exits with 1 if any check fails.
    /// Example: fourdvar check --model models/lorenz96.toml
    Check(CheckArgs),
    /// Time Lorenz-96 forward, tangent-linear and adjoint steps and one value-and-gradient
    /// sweep against the forward run alone.
    ///
    /// Example: fourdvar bench --sizes 40,1000,1000000
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
struct ForecastArgs {
    /// Model configuration (TOML), e.g. models/lorenz96.toml.
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    /// Initial state: a text file with one number per line, or a NetCDF file with one 1-D
    /// variable of the state's length (or a forecast output, whose last record is used).
    /// Default: the model's standard start (Lorenz-96: F everywhere, +0.01 at site N/2-1).
    #[arg(long, value_name = "FILE")]
    initial: Option<PathBuf>,
    /// Steps run before the forecast and not written (lets the state reach the attractor).
    #[arg(long, value_name = "STEPS", default_value_t = 1000)]
    spinup: usize,
    /// Forecast steps after the spin-up.
    #[arg(long, value_name = "K")]
    steps: usize,
    /// Write only every N-th state (the first and every N-th after it).
    #[arg(long, value_name = "N", default_value_t = 1)]
    output_every: usize,
    /// Output NetCDF file (written atomically: no partial file on failure).
    #[arg(long, value_name = "FILE.nc")]
    out: PathBuf,
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// Model configuration (TOML), e.g. models/lorenz96.toml.
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    /// Spin-up steps from the default start, so the checks run on the attractor.
    #[arg(long, value_name = "STEPS", default_value_t = 1000)]
    spinup: usize,
    /// Steps of the composed model checked besides the single step.
    #[arg(long, value_name = "STEPS", default_value_t = 20)]
    window: usize,
    /// Seed of the random test directions.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(Debug, Args)]
struct BenchArgs {
    /// Lorenz-96 sizes N to time, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [40, 1000, 1_000_000])]
    sizes: Vec<usize>,
    /// Steps of the value-and-gradient window.
    #[arg(long, value_name = "STEPS", default_value_t = 20)]
    window: usize,
    /// Seconds spent on each measurement (5 batches, median reported).
    #[arg(long, value_name = "SECONDS", default_value_t = 0.5)]
    min_time: f64,
}

/// Runs the command line `args` (including the program name) and returns the exit code.
pub fn main_with_args(args: impl IntoIterator<Item = OsString>) -> i32 {
    let args: Vec<OsString> = args.into_iter().collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print and exit 0; usage errors exit 2.
            let _ = e.print();
            return e.exit_code();
        }
    };
    match run(cli, &args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("fourdvar: error: {e}");
            e.exit_code()
        }
    }
}

/// The `history` attribute: a UTC time stamp and the command line.
fn history(args: &[OsString]) -> String {
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
    let line: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    format!("{now}: {}", line.join(" "))
}

fn run(cli: Cli, args: &[OsString]) -> Result<i32> {
    match cli.command {
        Command::Forecast(a) => {
            let request = ForecastRequest {
                model: ModelConfig::load(&a.model)?,
                initial: a.initial,
                spinup: a.spinup,
                steps: a.steps,
                output_every: a.output_every,
                out: a.out.clone(),
                history: history(args),
            };
            let s = run_forecast(&request)?;
            println!(
                "{} (n = {}): {} steps to t = {:.4}, {} records written to {}",
                s.model,
                s.state_len,
                s.steps,
                s.final_time,
                s.records,
                a.out.display()
            );
            println!(
                "final state: mean {:.4}, standard deviation {:.4}",
                s.final_mean, s.final_std
            );
            Ok(0)
        }
        Command::Check(a) => {
            let request = CheckRequest {
                model: ModelConfig::load(&a.model)?,
                spinup: a.spinup,
                window: a.window.max(1),
                seed: a.seed,
            };
            let rows = run_checks(&request)?;
            println!(
                "{:<48} {:>11} {:>11}  {:<6} note",
                "test", "value", "threshold", "result"
            );
            for r in &rows {
                println!(
                    "{:<48} {:>11.3e} {:>11.1e}  {:<6} {}",
                    r.test,
                    r.value,
                    r.threshold,
                    if r.passed() { "pass" } else { "FAIL" },
                    r.note
                );
            }
            let failed = rows.iter().filter(|r| !r.passed()).count();
            println!("{} passed, {failed} failed", rows.len() - failed);
            Ok(if failed == 0 { 0 } else { 1 })
        }
        Command::Bench(a) => {
            println!(
                "Lorenz-96, F = 8, dt = 0.05; value_and_gradient over {} steps, full storage",
                a.window
            );
            println!(
                "{:>9} {:>13} {:>13} {:>13} {:>14} {:>14} {:>7}",
                "N", "forward/step", "TL/step", "AD/step", "forward run", "value+grad", "ratio"
            );
            for n in a.sizes {
                let r = benchmark_lorenz96(n, a.window, a.min_time)?;
                println!(
                    "{:>9} {:>13} {:>13} {:>13} {:>14} {:>14} {:>7.2}",
                    n,
                    human_time(r.forward_step),
                    human_time(r.tangent_step),
                    human_time(r.adjoint_step),
                    human_time(r.forward_window),
                    human_time(r.gradient_window),
                    r.ratio()
                );
            }
            Ok(0)
        }
    }
}

/// Seconds in the most readable unit.
fn human_time(seconds: f64) -> String {
    match seconds {
        s if s < 1e-6 => format!("{:.1} ns", s * 1e9),
        s if s < 1e-3 => format!("{:.2} µs", s * 1e6),
        s if s < 1.0 => format!("{:.2} ms", s * 1e3),
        s => format!("{s:.3} s"),
    }
}
