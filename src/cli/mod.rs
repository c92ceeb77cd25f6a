//! The command line: argument parsing (clap), human-readable output and exit codes
//! (0 success, 1 a check failed, 2 bad input or usage). Errors are typed in the library and
//! rendered once, here.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::error::Result;
use crate::experiment::assimilate::{run_assimilate, AssimilateRequest};
use crate::experiment::benchmark::{benchmark_fourdvar_cost, benchmark_lorenz96};
use crate::experiment::cycle::{run_cycle, CycleRequest};
use crate::experiment::demo::run_demo;
use crate::experiment::derivative_check::{run_checks, CheckRequest};
use crate::experiment::forecast::{run_forecast, ForecastRequest};
use crate::experiment::observe::{run_observe, ObserveRequest};
use crate::experiment::results::WindowSummary;
use crate::experiment::rnn_gradient::{run_rnn_gradient, LossMode, RnnGradientRequest};
use crate::experiment::rnn_train::{run_rnn_train, RnnTrainRequest, TrainData};
use crate::experiment::twin_window::{load_network, run_twin, TwinRequest};
use crate::experiment::window_analysis::AssimilationSettings;
use crate::io::experiment_config::{LoadedExperiment, ParameterConfig};
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
    /// Time Lorenz-96 (or, with --shallow-water, shallow-water) forward, tangent-linear and
    /// adjoint steps and one value-and-gradient sweep against the forward run alone.
    ///
    /// Example: fourdvar bench --sizes 40,1000,1000000
    ///
    /// Example: fourdvar bench --shallow-water --large
    Bench(BenchArgs),
    /// Sample a true trajectory through an observation network, with seeded Gaussian noise.
    ///
    /// Example: fourdvar observe --truth truth.nc --network
    /// observations/lorenz96_half_every_other_step.toml --seed 1 --out obs.csv
    Observe(ObserveArgs),
    /// One strong-constraint 4D-Var analysis from a background state and observations.
    ///
    /// Example: fourdvar assimilate --model models/lorenz96.toml --background xb.txt --obs
    /// obs.csv --truth truth.nc --window-steps 20 --out analysis.nc
    Assimilate(AssimilateArgs),
    /// A twin experiment cycled over many 4D-Var windows (any window length, any shift).
    ///
    /// Example: fourdvar cycle --config experiments/lorenz96_cycle.toml --windows 1000 --out
    /// cycle.nc
    Cycle(CycleArgs),
    /// A twin experiment over one 4D-Var window: a truth run by the model, observations of it
    /// drawn through a network, a background drawn around the truth with covariance B, the
    /// analysis, and RMSE against the truth (per variable for shallow water).
    ///
    /// Example: fourdvar twin --config experiments/shallow_water_twin.toml --out twin.nc
    Twin(TwinArgs),
    /// The default twin experiment, built in: Lorenz-96, one 20-step window, half of the
    /// sites observed every other step. Writes demo.nc and prints a summary.
    Demo(DemoArgs),
    /// RNN mode: an Elman network trained by back-propagation through time on the same
    /// adjoint core as 4D-Var.
    #[command(subcommand)]
    Rnn(RnnCommand),
}

/// The `rnn` subcommands.
#[derive(Debug, Subcommand)]
enum RnnCommand {
    /// The loss of one sequence and every gradient (W or P/Q, U, b, V, c, h0 and the inputs)
    /// from one adjoint sweep, written as JSON.
    ///
    /// Example: fourdvar rnn gradient --model net.json --data seq.csv --out grads.json
    Gradient(RnnGradientArgs),
    /// Train a network on a built-in task or a sequence CSV (L-BFGS full batch, or Adam / SGD
    /// with optional truncated BPTT); writes the network JSON and the loss curve.
    ///
    /// Example: fourdvar rnn train --task recall --hidden 16 --out net.json --loss-curve
    /// curve.csv
    Train(RnnTrainArgs),
    /// The input sensitivity dL/du_t of every step (one adjoint sweep), the most sensitive
    /// steps, and a fast-gradient-sign attack of size epsilon on the top K of them.
    ///
    /// Example: fourdvar rnn sensitivity --model net.json --data seq.csv --epsilon 0.05 --top 3
    /// --out sens.json
    Sensitivity(RnnSensitivityArgs),
    /// The gradient norm |dL/dh_t| against the lag T - t for a loss at the last step only
    /// (vanishing or exploding gradients), as CSV `lag,norm`.
    ///
    /// Example: fourdvar rnn gradient-flow --model net.json --data seq.csv --out flow.csv
    GradientFlow(RnnGradientFlowArgs),
    /// An echo-state network: a fixed random reservoir scaled to a spectral radius, run
    /// forward only, with a ridge-regression readout. Prints train and test RMSE.
    ///
    /// Example: fourdvar rnn reservoir --task lorenz96 --hidden 200 --spectral-radius 0.9
    /// --out esn.json
    Reservoir(RnnReservoirArgs),
    /// Time full BPTT (value and every gradient) against the forward run of the cell, for
    /// dense cells of several sizes and dense / diagonal / low-rank at one size.
    ///
    /// Example: fourdvar rnn bench --sizes 16,128,512 --length 1000 --compare 512 --rank 8
    Bench(RnnBenchArgs),
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["task", "data"])))]
struct RnnTrainArgs {
    /// Built-in task: lorenz96 (next step), recall (delayed recall, 3 classes, gap 20) or
    /// alarm (sparse events).
    #[arg(long)]
    task: Option<String>,
    /// Sequence CSV t,u0,..,y0,.. (empty y cells: no target), trained with mean squared error.
    #[arg(long, value_name = "FILE.csv")]
    data: Option<PathBuf>,
    /// Hidden size d.
    #[arg(long, value_name = "D", default_value_t = 16)]
    hidden: usize,
    /// Recurrence structure: dense, diagonal or low_rank.
    #[arg(long, default_value = "dense")]
    recurrence: String,
    /// Rank of the low_rank recurrence.
    #[arg(long, value_name = "R", default_value_t = 2)]
    rank: usize,
    /// lbfgs (full batch), adam or sgd (streaming).
    #[arg(long, default_value = "lbfgs")]
    method: String,
    /// Truncated BPTT window K (adam / sgd only); default full BPTT.
    #[arg(long, value_name = "K")]
    tbptt: Option<usize>,
    /// carry: state carried across windows, staggered offsets; reset: h0 at 0, K, 2K, ...
    #[arg(long, default_value = "carry")]
    tbptt_mode: String,
    /// L-BFGS iterations or Adam / SGD epochs.
    #[arg(long, value_name = "N", default_value_t = 100)]
    epochs: usize,
    /// Seed of the task data, the initial network and the sequence order.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Clip the gradient norm of each Adam / SGD update to NORM.
    #[arg(long, value_name = "NORM")]
    clip: Option<f64>,
    /// Adam / SGD step size.
    #[arg(long, value_name = "ETA", default_value_t = 0.01)]
    learning_rate: f64,
    /// Output network JSON (written atomically).
    #[arg(long, value_name = "NET.json")]
    out: PathBuf,
    /// Output loss curve CSV: iteration,loss[,accuracy].
    #[arg(long, value_name = "CURVE.csv")]
    loss_curve: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct RnnGradientArgs {
    /// Network JSON (hidden, inputs, outputs, recurrence, w | p,q, u, b, v, c, h0).
    #[arg(long, value_name = "NET.json")]
    model: PathBuf,
    /// Sequence CSV with header t,u0,u1,...,y0,y1,... (empty y cells: no target).
    #[arg(long, value_name = "FILE.csv")]
    data: PathBuf,
    /// dense: a target at every step; events: sparse targets, silent steps cost nothing.
    #[arg(long, value_parser = ["dense", "events"], default_value = "dense")]
    loss: String,
    /// mse: 1/2 |y - target|^2; cross-entropy: softmax cross-entropy, y0 the class index.
    #[arg(long, value_parser = ["mse", "cross-entropy"], default_value = "mse")]
    objective: String,
    /// Output JSON with the loss and every gradient (written atomically).
    #[arg(long, value_name = "GRADS.json")]
    out: PathBuf,
}

/// Settings shared by `assimilate` and `cycle`; each overrides the experiment file.
#[derive(Debug, Args)]
struct AssimilationArgs {
    /// Experiment configuration (TOML); see experiments/ for examples.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Window length in model steps (assimilate: default up to the last observation).
    #[arg(long, value_name = "STEPS")]
    window_steps: Option<usize>,
    /// Background-error standard deviation sigma_b.
    #[arg(long, value_name = "SIGMA")]
    b_sigma: Option<f64>,
    /// Background-error correlation model.
    #[arg(long, value_name = "MODEL")]
    b_correlation: Option<crate::cov::CorrelationKind>,
    /// Gaussian correlation length scale: in grid units for models on a line, in metres for
    /// models on a plane (shallow water).
    #[arg(long, value_name = "L")]
    b_length_scale: Option<f64>,
    /// Minimisation algorithm.
    #[arg(long)]
    minimizer: Option<crate::var::Minimizer>,
    /// Control space: transformed (x0 = xb + B^1/2 v, well conditioned) or physical.
    #[arg(long)]
    space: Option<crate::var::ControlSpace>,
    /// Most minimiser iterations per window.
    #[arg(long, value_name = "N")]
    max_iterations: Option<u64>,
    /// Stop when the gradient norm has fallen by this factor.
    #[arg(long, value_name = "FACTOR")]
    gradient_tolerance: Option<f64>,
    /// Estimate the model parameters too (Lorenz-96: the forcing F), with these prior
    /// standard deviations, comma-separated.
    #[arg(long, value_name = "SIGMA,...", value_delimiter = ',')]
    estimate_params: Option<Vec<f64>>,
    /// Prior values of the estimated parameters (default: the model configuration's).
    #[arg(long, value_name = "VALUE,...", value_delimiter = ',')]
    param_background: Option<Vec<f64>>,
    /// Print one JSON object instead of the readable summary.
    #[arg(long)]
    json: bool,
}

impl AssimilationArgs {
    /// The experiment file (or the defaults) with these flags applied.
    fn experiment(&self) -> Result<LoadedExperiment> {
        let mut e = match &self.config {
            Some(path) => LoadedExperiment::load(path)?,
            None => LoadedExperiment::parse(None, String::new())?,
        };
        let c = &mut e.config;
        if let Some(v) = self.window_steps {
            c.window.steps = Some(v);
        }
        if let Some(v) = self.b_sigma {
            c.background.sigma = v;
        }
        if let Some(v) = &self.b_correlation {
            c.background.correlation = *v;
        }
        if let Some(v) = self.b_length_scale {
            c.background.length_scale = Some(v);
        }
        if let Some(v) = &self.minimizer {
            c.minimizer.method = *v;
        }
        if let Some(v) = &self.space {
            c.minimizer.space = *v;
        }
        if let Some(v) = self.max_iterations {
            c.minimizer.max_iterations = v;
        }
        if let Some(v) = self.gradient_tolerance {
            c.minimizer.gradient_tolerance = v;
        }
        if let Some(sigma) = &self.estimate_params {
            c.parameters = Some(ParameterConfig {
                sigma: sigma.clone(),
                background: self.param_background.clone(),
            });
        } else if self.param_background.is_some() {
            return Err(crate::Error::invalid(
                "--param-background",
                "only makes sense with --estimate-params",
            ));
        }
        // The flags are checked by the same rules as the file.
        e.validate()?;
        Ok(e)
    }
}

#[derive(Debug, Args)]
struct ObserveArgs {
    /// True trajectory (NetCDF written by `fourdvar forecast`).
    #[arg(long, value_name = "FILE.nc")]
    truth: PathBuf,
    /// Observation network (TOML), e.g. observations/lorenz96_half_every_other_step.toml.
    #[arg(long, value_name = "FILE")]
    network: PathBuf,
    /// Seed of the observation noise (same seed, same file, bit for bit).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output file: .csv or .nc.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

#[derive(Debug, Args)]
struct AssimilateArgs {
    /// Model configuration (TOML).
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    /// Background state x_b: text (one number per line) or NetCDF, as forecast --initial.
    #[arg(long, value_name = "FILE")]
    background: PathBuf,
    /// Observations: CSV (time,position,value,sigma[,variable][,kind]; on a plane grid
    /// time,variable,x,y,value,sigma[,kind] with x, y in metres) or NetCDF.
    #[arg(long, value_name = "FILE")]
    obs: PathBuf,
    /// True trajectory (NetCDF from forecast) for RMSE diagnostics in twin experiments; its
    /// step 0 is the window start.
    #[arg(long, value_name = "FILE.nc")]
    truth: Option<PathBuf>,
    /// Output NetCDF file.
    #[arg(long, value_name = "FILE.nc")]
    out: PathBuf,
    /// Forecast steps beyond the window written to the output.
    #[arg(long, value_name = "STEPS")]
    forecast_steps: Option<usize>,
    #[command(flatten)]
    common: AssimilationArgs,
}

#[derive(Debug, Args)]
struct CycleArgs {
    /// Output NetCDF file.
    #[arg(long, value_name = "FILE.nc")]
    out: PathBuf,
    /// Model configuration (default: the experiment file's `model`).
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// Observation network (default: the experiment file's `network`).
    #[arg(long, value_name = "FILE")]
    network: Option<PathBuf>,
    /// Number of windows.
    #[arg(long, value_name = "N")]
    windows: Option<usize>,
    /// Steps between the starts of consecutive windows (default: the window length).
    #[arg(long, value_name = "STEPS")]
    shift: Option<usize>,
    /// Windows left out of the time averages.
    #[arg(long, value_name = "N")]
    burn_in: Option<usize>,
    #[command(flatten)]
    common: AssimilationArgs,
}

#[derive(Debug, Args)]
struct TwinArgs {
    /// Output NetCDF file (written atomically).
    #[arg(long, value_name = "FILE.nc", default_value = "twin.nc")]
    out: PathBuf,
    /// Model configuration (default: the experiment file's `model`).
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// Observation network (default: the experiment file's `network`).
    #[arg(long, value_name = "FILE")]
    network: Option<PathBuf>,
    #[command(flatten)]
    common: AssimilationArgs,
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// Output NetCDF file.
    #[arg(long, value_name = "FILE.nc", default_value = "demo.nc")]
    out: PathBuf,
    /// Print one JSON object instead of the readable summary.
    #[arg(long)]
    json: bool,
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
    /// 4D-Var cost cases as N:STEPS, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = ["40:20".to_string(), "1000:100".to_string()])]
    cost: Vec<String>,
    /// Benchmark the shallow-water model instead of Lorenz-96: f(x), forward, TL and AD step
    /// times on n x n grids, serial and on rayon's thread pool (RAYON_NUM_THREADS sets its
    /// size), and one 4D-Var value-and-gradient against the forward run (--sw-cost).
    #[arg(long)]
    shallow_water: bool,
    /// Shallow-water grid sizes n (n x n cells of 100 km), comma-separated.
    #[arg(long, value_name = "N", value_delimiter = ',', default_values_t = [64, 256, 1024])]
    sw_sizes: Vec<usize>,
    /// Shallow-water 4D-Var case N:STEPS: B = I, h observed at 1000 random points every 6
    /// steps, full storage.
    #[arg(long, value_name = "N:STEPS", default_value = "256:24")]
    sw_cost: String,
    /// With --shallow-water: also the memory benchmark, one gradient over --large-steps steps
    /// on a --large-grid square grid with checkpointing (--snapshots) and with full storage,
    /// reporting storage bytes, wall time and peak RSS. At the defaults (1024 x 1024, 200
    /// steps) full storage needs about 5 GB of memory and the run takes minutes.
    #[arg(long)]
    large: bool,
    /// Grid size n of the --large run.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    large_grid: usize,
    /// Steps of the --large run.
    #[arg(long, value_name = "STEPS", default_value_t = 200)]
    large_steps: usize,
    /// Snapshot counts of the checkpointed --large runs, comma-separated.
    #[arg(long, value_name = "S", value_delimiter = ',', default_values_t = [10, 20])]
    snapshots: Vec<usize>,
}

impl BenchArgs {
    /// The (N, steps) pairs of --cost.
    fn cost_cases(&self) -> Result<Vec<(usize, usize)>> {
        self.cost.iter().map(|c| parse_case("--cost", c)).collect()
    }
}

/// One N:STEPS case of a bench option.
fn parse_case(option: &str, case: &str) -> Result<(usize, usize)> {
    case.split_once(':')
        .and_then(|(n, s)| Some((n.trim().parse().ok()?, s.trim().parse().ok()?)))
        .ok_or_else(|| {
            crate::Error::invalid(option, format!("'{case}' (expected N:STEPS, e.g. 40:20)"))
        })
}

/// `bench --shallow-water`.
fn run_shallow_water_bench(a: &BenchArgs) -> Result<i32> {
    use crate::core::Storage;
    use crate::experiment::benchmark::{
        benchmark_shallow_water_cost, benchmark_shallow_water_steps,
        benchmark_shallow_water_storage,
    };
    if !a.min_time.is_finite() || a.min_time <= 0.0 {
        return Err(crate::Error::invalid(
            "--min-time",
            "must be a positive number of seconds",
        ));
    }
    let (cost_n, cost_steps) = parse_case("--sw-cost", &a.sw_cost)?;
    let threads = rayon::current_num_threads();
    println!(
        "Shallow water, f-plane, 100 km cells, H = 1000 m, dt = 300 s, balanced eddies; serial vs rayon ({threads} threads)"
    );
    println!(
        "{:>11} {:>21} {:>21} {:>21} {:>21} {:>8}",
        "grid",
        "f(x) ser/par",
        "forward/step ser/par",
        "TL/step ser/par",
        "AD/step ser/par",
        "RK4 vec"
    );
    let pair = |t: [f64; 2]| format!("{}/{}", human_time(t[0]), human_time(t[1]));
    for &n in &a.sw_sizes {
        let r = benchmark_shallow_water_steps(n, a.min_time)?;
        println!(
            "{:>11} {:>21} {:>21} {:>21} {:>21} {:>7.0}%",
            format!("{n}x{n}"),
            pair(r.eval),
            pair(r.forward),
            pair(r.tangent),
            pair(r.adjoint),
            100.0 * r.vector_share()
        );
    }
    println!("(RK4 vec: share of the serial forward step outside the 4 evaluations of f)");
    println!();
    println!(
        "4D-Var J and gradient, B = I, h at 1000 points every 6 steps, full storage, rayon path"
    );
    println!(
        "{:>11} {:>7} {:>13} {:>13} {:>16} {:>7}",
        "grid", "steps", "observations", "forward run", "value+gradient", "ratio"
    );
    let r = benchmark_shallow_water_cost(cost_n, cost_steps, 6, 1000, a.min_time)?;
    println!(
        "{:>11} {:>7} {:>13} {:>13} {:>16} {:>7.2}",
        format!("{cost_n}x{cost_n}"),
        r.steps,
        r.observations,
        human_time(r.forward),
        human_time(r.value_and_gradient),
        r.ratio()
    );
    if a.large {
        println!();
        let n = a.large_grid;
        let mut storages: Vec<Storage> = a
            .snapshots
            .iter()
            .map(|&s| Storage::Checkpoints(s))
            .collect();
        storages.push(Storage::All);
        let rows = benchmark_shallow_water_storage(n, a.large_steps, &storages, |what| {
            eprintln!("bench: {what} ...")
        })?;
        println!(
            "Gradient memory, {n}x{n}, {} steps, h at 1000 points every 6 steps",
            a.large_steps
        );
        println!(
            "{:>18} {:>16} {:>14} {:>12} {:>14}",
            "storage", "state storage", "forward steps", "wall time", "peak RSS"
        );
        let gib = |b: u64| match b {
            b if b < 1 << 30 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
            b => format!("{:.3} GiB", b as f64 / (1u64 << 30) as f64),
        };
        for r in &rows {
            println!(
                "{:>18} {:>16} {:>14} {:>12} {:>14}{}",
                format!("{:?}", r.storage),
                gib(r.bytes),
                r.forward_steps,
                human_time(r.seconds),
                r.peak_rss.map_or("n/a".to_string(), gib),
                if r.peak_reset {
                    ""
                } else {
                    " (process peak so far)"
                }
            );
        }
    }
    Ok(0)
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
        Command::Bench(a) if a.shallow_water => run_shallow_water_bench(&a),
        Command::Bench(a) => {
            let cost_cases = a.cost_cases()?;
            println!(
                "Lorenz-96, F = 8, dt = 0.05; value_and_gradient over {} steps, full storage",
                a.window
            );
            println!(
                "{:>9} {:>13} {:>13} {:>13} {:>14} {:>14} {:>7}",
                "N", "forward/step", "TL/step", "AD/step", "forward run", "value+grad", "ratio"
            );
            for &n in &a.sizes {
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
            println!();
            println!("4D-Var cost J and its gradient, B = I, R = I, every other site observed every other step");
            println!(
                "{:>9} {:>7} {:>13} {:>18}",
                "N", "steps", "observations", "value+gradient"
            );
            for (n, steps) in cost_cases {
                let r = benchmark_fourdvar_cost(n, steps, a.min_time)?;
                println!(
                    "{:>9} {:>7} {:>13} {:>18}",
                    r.n,
                    r.steps,
                    r.observations,
                    human_time(r.value_and_gradient)
                );
            }
            Ok(0)
        }
        Command::Observe(a) => {
            let s = run_observe(&ObserveRequest {
                truth: a.truth,
                network: a.network,
                seed: a.seed,
                out: a.out.clone(),
                history: history(args),
            })?;
            println!(
                "{} observations at {} times (t = {:.4} .. {:.4}) written to {}",
                s.observations,
                s.steps,
                s.first_time,
                s.last_time,
                a.out.display()
            );
            Ok(0)
        }
        Command::Assimilate(a) => {
            let experiment = a.common.experiment()?;
            let mut settings = AssimilationSettings::from_config(&experiment.config)?;
            if let Some(f) = a.forecast_steps {
                settings.forecast_steps = f;
            }
            let model_path = a.model.clone();
            let summary = run_assimilate(&AssimilateRequest {
                model: ModelConfig::load(&model_path)?,
                background: a.background,
                observations: a.obs,
                truth: a.truth,
                settings,
                experiment_text: experiment.text.clone(),
                out: a.out.clone(),
                history: history(args),
            })?;
            print_window(&summary, a.common.json, &a.out);
            Ok(0)
        }
        Command::Cycle(a) => {
            let experiment = a.common.experiment()?;
            let c = &experiment.config;
            let settings = AssimilationSettings::from_config(c)?;
            let model = ModelConfig::load(&from_experiment(
                &experiment,
                a.model,
                &experiment.config.model,
                "model",
            )?)?;
            let network = from_experiment(
                &experiment,
                a.network,
                &experiment.config.network,
                "network",
            )?;
            let window = settings.window_steps;
            let summary = run_cycle(&CycleRequest {
                model,
                network,
                shift: a.shift.or(c.window.shift).or(window).unwrap_or(1),
                settings,
                twin: c.twin.clone(),
                windows: a.windows.unwrap_or(c.cycle.windows),
                burn_in: a.burn_in.unwrap_or(c.cycle.burn_in),
                experiment_text: experiment.text.clone(),
                out: a.out.clone(),
                history: history(args),
            })?;
            if a.common.json {
                println!("{}", serde_json::to_string(&summary).unwrap_or_default());
            } else {
                println!(
                    "{} windows of {} steps, shift {} steps, written to {}",
                    summary.windows,
                    summary.window_steps,
                    summary.shift,
                    a.out.display()
                );
                println!(
                    "time-averaged RMSE after {} burn-in windows: background {:.4}, analysis {:.4} (window end), {:.4} (window start)",
                    summary.burn_in,
                    summary.rmse_background,
                    summary.rmse_analysis,
                    summary.rmse_analysis_start
                );
                for v in &summary.variable_rmse {
                    println!(
                        "  {}: background {:.4}, analysis {:.4} (window end), {:.4} (window start)",
                        v.name, v.background, v.analysis, v.analysis_start
                    );
                }
                println!(
                    "{:.1} minimiser iterations per window, {:.2} s",
                    summary.mean_iterations, summary.wall_time_seconds
                );
            }
            Ok(0)
        }
        Command::Twin(a) => {
            let experiment = a.common.experiment()?;
            let model = ModelConfig::load(&from_experiment(
                &experiment,
                a.model,
                &experiment.config.model,
                "model",
            )?)?;
            let network_path = from_experiment(
                &experiment,
                a.network,
                &experiment.config.network,
                "network",
            )?;
            let (network, network_text) = load_network(&network_path)?;
            let summary = run_twin(&TwinRequest {
                title: format!(
                    "fourdvar twin experiment, one 4D-Var window ({})",
                    model.path.display()
                ),
                model,
                experiment,
                network,
                network_path,
                network_text,
                out: a.out.clone(),
                history: history(args),
            })?;
            print_window(&summary, a.common.json, &a.out);
            Ok(0)
        }
        Command::Demo(a) => {
            let summary = run_demo(&a.out, history(args))?;
            print_window(&summary, a.json, &a.out);
            Ok(0)
        }
        Command::Rnn(RnnCommand::Sensitivity(a)) => run_rnn_sensitivity(a),
        Command::Rnn(RnnCommand::GradientFlow(a)) => run_rnn_gradient_flow(a),
        Command::Rnn(RnnCommand::Reservoir(a)) => run_rnn_reservoir(a),
        Command::Rnn(RnnCommand::Bench(a)) => run_rnn_bench(a),
        Command::Rnn(RnnCommand::Train(a)) => {
            let data = match (a.task, a.data) {
                (Some(t), _) => TrainData::Task(t),
                (None, Some(p)) => TrainData::File(p),
                (None, None) => {
                    return Err(crate::Error::invalid("rnn train", "give --task or --data"))
                }
            };
            let s = run_rnn_train(&RnnTrainRequest {
                data,
                hidden: a.hidden,
                recurrence: a.recurrence,
                rank: a.rank,
                method: a.method,
                tbptt: a.tbptt,
                tbptt_mode: a.tbptt_mode,
                epochs: a.epochs,
                seed: a.seed,
                clip: a.clip,
                learning_rate: a.learning_rate,
                out: a.out.clone(),
                loss_curve: a.loss_curve.clone(),
            })?;
            println!(
                "{}: loss {:.4e} -> {:.4e} in {} iterations ({} sweeps; {})",
                s.data, s.initial_loss, s.final_loss, s.iterations, s.sweeps, s.stop_reason
            );
            if let Some(acc) = s.train_accuracy {
                print!("training accuracy {:.1}%", 100.0 * acc);
                match s.test_accuracy {
                    Some(t) => println!(", held-out accuracy {:.1}%", 100.0 * t),
                    None => println!(),
                }
            }
            println!("network written to {}", a.out.display());
            if let Some(p) = &a.loss_curve {
                println!("loss curve written to {}", p.display());
            }
            Ok(0)
        }
        Command::Rnn(RnnCommand::Gradient(a)) => {
            let request = RnnGradientRequest {
                model: a.model,
                data: a.data,
                mode: if a.loss == "events" {
                    LossMode::Events
                } else {
                    LossMode::Dense
                },
                objective: if a.objective == "cross-entropy" {
                    crate::rnn::Objective::CrossEntropy
                } else {
                    crate::rnn::Objective::MeanSquared
                },
                out: a.out.clone(),
            };
            let s = run_rnn_gradient(&request)?;
            println!(
                "loss {:.12e} over {} steps ({} with a target); {} gradient values written to {}",
                s.loss,
                s.steps,
                s.active_steps,
                s.gradient_len,
                a.out.display()
            );
            Ok(0)
        }
    }
}

/// Prints a window summary as text or JSON.
/// The file given by flag `--{name}`, or else by the experiment file's key `name` (resolved
/// against the experiment file's folder).
fn from_experiment(
    experiment: &LoadedExperiment,
    flag: Option<PathBuf>,
    key: &Option<PathBuf>,
    name: &str,
) -> Result<PathBuf> {
    flag.or_else(|| key.as_ref().map(|p| experiment.resolve(p)))
        .ok_or_else(|| {
            crate::Error::invalid(
                format!("--{name}"),
                format!("give --{name} or set `{name}` in the experiment file"),
            )
        })
}

fn print_window(summary: &WindowSummary, json: bool, out: &std::path::Path) {
    if json {
        println!("{}", serde_json::to_string(summary).unwrap_or_default());
    } else {
        print!("{}", summary.text());
        println!("written to {}", out.display());
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

// ---- rnn sensitivity, gradient-flow, reservoir, bench ----

#[derive(Debug, Args)]
struct RnnSensitivityArgs {
    /// Network JSON (optional field activation: tanh | identity).
    #[arg(long, value_name = "NET.json")]
    model: PathBuf,
    /// Sequence CSV with header t,u0,u1,...,y0,y1,... (empty y cells: no target).
    #[arg(long, value_name = "FILE.csv")]
    data: PathBuf,
    /// dense: a target at every step; events: sparse targets, silent steps cost nothing.
    #[arg(long, value_parser = ["dense", "events"], default_value = "dense")]
    loss: String,
    /// mse: 1/2 |y - target|^2; cross-entropy: softmax cross-entropy, y0 the class index.
    #[arg(long, value_parser = ["mse", "cross-entropy"], default_value = "mse")]
    objective: String,
    /// Size of the fast-gradient-sign perturbation u_t + epsilon sign(dL/du_t).
    #[arg(long, value_name = "E", default_value_t = 0.01)]
    epsilon: f64,
    /// Number of most sensitive steps perturbed.
    #[arg(long, value_name = "K", default_value_t = 1)]
    top: usize,
    /// Output JSON with every dL/du_t and the attack (written atomically).
    #[arg(long, value_name = "SENS.json")]
    out: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct RnnGradientFlowArgs {
    /// Network JSON (optional field activation: tanh | identity).
    #[arg(long, value_name = "NET.json")]
    model: PathBuf,
    /// Sequence CSV; the loss 1/2 |y_T - target_T|^2 uses the last row's target only.
    #[arg(long, value_name = "FILE.csv")]
    data: PathBuf,
    /// Output CSV with header lag,norm (written atomically).
    #[arg(long, value_name = "FLOW.csv")]
    out: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["task", "data"])))]
struct RnnReservoirArgs {
    /// A built-in task: lorenz96 (next step of one Lorenz-96 site, 5000 steps).
    #[arg(long, value_parser = ["lorenz96"])]
    task: Option<String>,
    /// Or a sequence CSV with header t,u0,...,y0,... (rows without a target are skipped).
    #[arg(long, value_name = "FILE.csv")]
    data: Option<PathBuf>,
    /// Reservoir size d.
    #[arg(long, value_name = "D", default_value_t = 200)]
    hidden: usize,
    /// Spectral radius of W after scaling.
    #[arg(long, value_name = "R", default_value_t = 0.9)]
    spectral_radius: f64,
    /// Ridge penalty alpha on V (the bias c is not penalised).
    #[arg(long, value_name = "A", default_value_t = 1e-6)]
    ridge: f64,
    /// Seed of the random reservoir (ChaCha8).
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,
    /// Output network JSON (written atomically).
    #[arg(long, value_name = "NET.json")]
    out: PathBuf,
}

#[derive(Debug, Args)]
struct RnnBenchArgs {
    /// Hidden sizes d of the dense cells timed, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [16, 128, 512])]
    sizes: Vec<usize>,
    /// Sequence length T.
    #[arg(long, value_name = "T", default_value_t = 1000)]
    length: usize,
    /// Hidden size at which dense, diagonal and low-rank are compared (0: skip).
    #[arg(long, value_name = "D", default_value_t = 512)]
    compare: usize,
    /// Rank r of the low-rank cell.
    #[arg(long, value_name = "R", default_value_t = 8)]
    rank: usize,
    /// Seconds spent on each measurement (7 alternating batches, median ratio reported).
    #[arg(long, value_name = "SECONDS", default_value_t = 0.5)]
    min_time: f64,
}

fn loss_mode(name: &str) -> LossMode {
    if name == "events" {
        LossMode::Events
    } else {
        LossMode::Dense
    }
}

fn objective(name: &str) -> crate::rnn::Objective {
    if name == "cross-entropy" {
        crate::rnn::Objective::CrossEntropy
    } else {
        crate::rnn::Objective::MeanSquared
    }
}

fn run_rnn_sensitivity(a: RnnSensitivityArgs) -> Result<i32> {
    use crate::experiment::rnn_analysis::{run_sensitivity, SensitivityRequest};
    let s = run_sensitivity(&SensitivityRequest {
        model: a.model,
        data: a.data,
        mode: loss_mode(&a.loss),
        objective: objective(&a.objective),
        epsilon: a.epsilon,
        top: a.top,
        out: a.out.clone(),
    })?;
    println!("loss {:.12e} over {} steps", s.loss, s.norms.len());
    println!(
        "most sensitive step {} with |dL/du| = {:.6e}",
        s.most_sensitive, s.norms[s.most_sensitive]
    );
    let top: Vec<String> = s.top_steps.iter().map(|t| t.to_string()).collect();
    println!(
        "fast gradient sign, epsilon {} at steps [{}]: loss {:.12e} -> {:.12e} (change {:.6e}, first order {:.6e}); outputs change by at most {:.6e} (rms {:.6e})",
        s.epsilon,
        top.join(", "),
        s.loss,
        s.loss_perturbed,
        s.loss_perturbed - s.loss,
        s.predicted_change,
        s.output_change_max,
        s.output_change_rms
    );
    if let Some(out) = &a.out {
        println!("written to {}", out.display());
    }
    Ok(0)
}

fn run_rnn_gradient_flow(a: RnnGradientFlowArgs) -> Result<i32> {
    use crate::experiment::rnn_analysis::{run_gradient_flow, GradientFlowRequest};
    let flow = run_gradient_flow(&GradientFlowRequest {
        model: a.model,
        data: a.data,
        out: a.out.clone(),
    })?;
    let lags = flow.by_lag();
    let last = lags.len() - 1;
    println!(
        "loss {:.12e} at the last step; |dL/dh| = {:.6e} at lag 0, {:.6e} at lag {last}",
        flow.loss, lags[0].1, lags[last].1
    );
    if last > 0 && lags[0].1 > 0.0 && lags[last].1 > 0.0 {
        println!(
            "mean factor per step {:.6}",
            (lags[last].1 / lags[0].1).powf(1.0 / last as f64)
        );
    }
    if let Some(out) = &a.out {
        println!("lag,norm written to {}", out.display());
    }
    Ok(0)
}

fn run_rnn_reservoir(a: RnnReservoirArgs) -> Result<i32> {
    use crate::experiment::rnn_analysis::{run_reservoir, ReservoirRequest, ReservoirTask};
    let task = match a.data {
        Some(path) => ReservoirTask::Data(path),
        None => ReservoirTask::Lorenz96,
    };
    let s = run_reservoir(&ReservoirRequest {
        task,
        hidden: a.hidden,
        spectral_radius: a.spectral_radius,
        ridge: a.ridge,
        seed: a.seed,
        out: a.out.clone(),
    })?;
    println!(
        "echo-state network, d = {}, spectral radius {}, ridge {}: {} steps, washout {}, {} train rows, {} test rows",
        a.hidden, a.spectral_radius, a.ridge, s.steps, s.washout, s.train_rows, s.test_rows
    );
    println!("train RMSE {:.6e}", s.train_rmse);
    println!("test RMSE {:.6e}", s.test_rmse);
    if let Some(p) = s.persistence_rmse {
        println!(
            "persistence test RMSE {:.6e} (ratio {:.4})",
            p,
            s.test_rmse / p
        );
    }
    println!("written to {}", a.out.display());
    Ok(0)
}

fn run_rnn_bench(a: RnnBenchArgs) -> Result<i32> {
    use crate::experiment::benchmark::benchmark_rnn;
    use crate::rnn::Recurrence;
    let mut cases: Vec<(Recurrence, usize)> =
        a.sizes.iter().map(|&d| (Recurrence::Dense, d)).collect();
    if a.compare > 0 {
        cases.push((Recurrence::Dense, a.compare));
        cases.push((Recurrence::Diagonal, a.compare));
        cases.push((Recurrence::LowRank { rank: a.rank }, a.compare));
    }
    println!(
        "Elman cell BPTT, one sequence of {} steps, 8 inputs, 1 output, loss at every step, full storage",
        a.length
    );
    println!(
        "{:<12} {:>6} {:>14} {:>16} {:>14} {:>16} {:>7}",
        "recurrence", "d", "forward run", "value+grad", "forward/step", "value+grad/step", "ratio"
    );
    for (recurrence, d) in cases {
        let r = benchmark_rnn(recurrence, d, a.length, a.min_time)?;
        let name = match recurrence {
            Recurrence::LowRank { rank } => format!("low_rank{rank}"),
            other => other.name().to_string(),
        };
        println!(
            "{:<12} {:>6} {:>14} {:>16} {:>14} {:>16} {:>7.2}",
            name,
            d,
            human_time(r.forward),
            human_time(r.gradient),
            human_time(r.forward_step()),
            human_time(r.gradient_step()),
            r.ratio()
        );
    }
    Ok(0)
}
