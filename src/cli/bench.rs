//! `fourdvar bench`: the subcommands `bench lorenz96`, `bench shallow-water` and `bench rnn`,
//! and the older flag forms they replace, which keep working: `bench [OPTIONS]` is
//! `bench lorenz96`, `bench --shallow-water --sw-sizes .. --sw-cost .. [--large]` is
//! `bench shallow-water`, and `rnn bench` is `bench rnn`.

use crate::experiment::adjoint_memory::{measure_all, measure_in_this_process, AdjointMethod};
use std::fmt;
use std::str::FromStr;

use clap::{Args, Subcommand};

use serde_json::json;

use super::output::{self, BenchReport};
use super::rnn::RnnBenchArgs;
use super::values::{at_least, positive_seconds};
use crate::core::{Storage, StorageChoice};
use crate::error::Result;
use crate::experiment::benchmark::{
    benchmark_fourdvar_cost, benchmark_lorenz96, benchmark_rnn, benchmark_shallow_water_cost,
    benchmark_shallow_water_steps, benchmark_shallow_water_storage, SHALLOW_WATER_GRIDS,
};
use crate::experiment::roofline::{measure_peaks, roofline_rows};
use crate::rnn::Recurrence;

/// The options of `bench`: a subcommand, or without one the Lorenz-96 options, or
/// `--shallow-water` with the `--sw-*` options.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct BenchArgs {
    #[command(subcommand)]
    command: Option<BenchCommand>,
    #[command(
        flatten,
        next_help_heading = "Lorenz-96 options (bench without a subcommand)"
    )]
    lorenz96: Lorenz96BenchArgs,
    #[command(
        flatten,
        next_help_heading = "Shallow-water options (older form of bench shallow-water)"
    )]
    older_shallow_water: OlderShallowWaterArgs,
}

/// The `bench` subcommands.
#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Lorenz-96: forward, TL and AD steps, value and gradient, the 4D-Var cost (the default).
    ///
    /// Times Lorenz-96 (F = 8, dt = 0.05) forward, tangent-linear and adjoint steps and one
    /// value-and-gradient sweep against the forward run alone, then the 4D-Var cost J with its
    /// gradient. `fourdvar bench [OPTIONS]` without a subcommand is the same.
    ///
    /// Example: fourdvar bench lorenz96 --sizes 40,1000,1000000 --cost 40:20,1000:100
    #[command(name = "lorenz96")]
    Lorenz96(Lorenz96BenchArgs),
    /// Shallow water: f(x), forward, TL and AD steps serial vs rayon, 4D-Var, memory (--large).
    ///
    /// Times f(x), the forward, TL and AD steps of the shallow-water model on n x n grids,
    /// serial and on rayon's thread pool (RAYON_NUM_THREADS sets its size), and one 4D-Var
    /// value-and-gradient against the forward run (--cost); with --large also the gradient's
    /// memory with checkpointing against full storage. The older form, still accepted, is
    /// `fourdvar bench --shallow-water --sw-sizes .. --sw-cost .. [--large]`.
    ///
    /// Example: fourdvar bench shallow-water --sizes 64,256 --cost 256:24 --large
    #[command(name = "shallow-water")]
    ShallowWater(ShallowWaterBenchArgs),
    /// RNN: full BPTT against the forward run of Elman cells (the same as `rnn bench`).
    ///
    /// Times full BPTT (value and every gradient) against the forward run of the cell, for
    /// dense cells of several sizes and dense / diagonal / low-rank at one size. The same as
    /// `fourdvar rnn bench`.
    ///
    /// Example: fourdvar bench rnn --sizes 16,128,512 --length 1000 --compare 512 --rank 8
    #[command(name = "rnn")]
    Rnn(RnnBenchArgs),
    /// The roofline: the machine's peaks and how close the model steps come to them.
    ///
    /// Measures a STREAM-like triad (a = b + s c) at sizes within L1, L2, L3 and far beyond
    /// them, and a loop of independent fused multiply-adds, on one thread and on every
    /// thread; then times the forward, tangent-linear and adjoint steps of Lorenz-96 (--sizes,
    /// one thread) and of shallow water (--grids, on the thread pool), with their floating-
    /// point operations and bytes per step counted from the code, the achieved GFLOP/s and
    /// GB/s, and the roofline bound max(flops / peak, bytes / bandwidth of the level the
    /// step's vectors fit in).
    ///
    /// Example: fourdvar bench roofline --sizes 1000,1000000 --grids 256
    #[command(name = "roofline")]
    Roofline(RooflineArgs),
    /// Peak memory of one gradient: discrete adjoint (every state stored, or log2(l) + 1
    /// checkpoints) against the continuous adjoint (nothing stored).
    ///
    /// Runs one gradient of Lorenz-96 (N sites, F = 0.5, contracting, so that the continuous
    /// adjoint's backward integration is stable) per method and number of steps, each in a
    /// child process of its own that reports its peak resident set (VmHWM, Linux).
    ///
    /// Example: fourdvar bench adjoint-memory --n 100 --steps 1000,10000,100000
    #[command(name = "adjoint-memory")]
    AdjointMemory(AdjointMemoryArgs),
}

/// The options of `bench adjoint-memory`.
#[derive(Debug, Args)]
struct AdjointMemoryArgs {
    /// Lorenz-96 sites N.
    #[arg(long, default_value_t = 100, value_parser = super::values::between(4, 1_000_000))]
    n: usize,
    /// Numbers of steps l, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000",
          value_parser = super::values::between(1, 10_000_000))]
    steps: Vec<usize>,
    /// Internal: run one measurement in this process and print "stored peak_kB".
    #[arg(long, hide = true, value_enum)]
    child: Option<AdjointMethod>,
    /// Internal: the steps of the --child measurement.
    #[arg(long, hide = true, default_value_t = 1000)]
    child_steps: usize,
    #[command(flatten)]
    format: output::FormatArgs,
}

/// `bench adjoint-memory`: one child process per measurement, then the table.
fn run_adjoint_memory(a: &AdjointMemoryArgs) -> Result<i32> {
    if let Some(method) = a.child {
        let (stored, peak) = measure_in_this_process(method, a.n, a.child_steps)?;
        println!("{stored} {peak}");
        return Ok(0);
    }
    crate::core::budget::check_memory(
        "stored trajectory",
        8.0 * a.n as f64 * (*a.steps.iter().max().unwrap_or(&1) as f64 + 1.0),
    )?;
    let methods = [
        AdjointMethod::All,
        AdjointMethod::Checkpoints,
        AdjointMethod::Continuous,
    ];
    let rows = measure_all(a.n, &a.steps, &methods)?;
    if a.format.json {
        println!("{}", json!({ "n": a.n, "rows": rows }));
    } else {
        println!(
            "Lorenz-96, N = {}, F = 0.5; one gradient per child process",
            a.n
        );
        println!(
            "{:>10}  {:<12} {:>14} {:>14}",
            "steps", "method", "stored values", "peak RSS"
        );
        for r in &rows {
            println!(
                "{:>10}  {:<12} {:>14} {:>11.1} MB",
                r.steps,
                crate::core::choice::choice_name(&r.method),
                r.stored_values,
                r.peak_kb as f64 / 1024.0
            );
        }
    }
    Ok(0)
}

/// The options of `bench roofline`.
#[derive(Debug, Args)]
struct RooflineArgs {
    /// Lorenz-96 sizes N, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "40,1000,1000000",
          value_parser = at_least(4))]
    sizes: Vec<usize>,
    /// Shallow-water grid sizes n (n x n cells), comma-separated.
    #[arg(long, value_name = "N", value_delimiter = ',', default_value = "256,1024",
          value_parser = grid_size)]
    grids: Vec<usize>,
    #[command(flatten)]
    timing: TimingArgs,
    #[command(flatten)]
    format: output::FormatArgs,
}

/// `bench roofline`: the peaks, then one row per kernel.
fn run_roofline(a: &RooflineArgs) -> Result<i32> {
    let min_time = a.timing.min_time;
    let mut report = BenchReport::new(&a.format);
    let peaks = measure_peaks(min_time);
    report.setting("peaks", &peaks, || output::roofline_peaks(&peaks));
    let rows = roofline_rows(&a.sizes, &a.grids, &peaks, min_time)?;
    report.setting("threads", peaks.threads, output::roofline_header);
    for r in &rows {
        let extras = [
            ("gflops", json!(r.gflops())),
            ("gbytes", json!(r.gbytes())),
            ("times_bound", json!(r.times_bound())),
        ];
        report.row("kernels", r, &extras, output::roofline_row);
    }
    report.finish();
    Ok(0)
}

/// Runs `bench`, by subcommand or, without one, by the older flags.
pub(crate) fn run(a: BenchArgs) -> Result<i32> {
    match a.command {
        Some(BenchCommand::Lorenz96(l)) => run_lorenz96(&l),
        Some(BenchCommand::ShallowWater(s)) => run_shallow_water(&s),
        Some(BenchCommand::Rnn(r)) => run_rnn(&r),
        Some(BenchCommand::Roofline(r)) => run_roofline(&r),
        Some(BenchCommand::AdjointMemory(m)) => run_adjoint_memory(&m),
        None if a.older_shallow_water.shallow_water => {
            let (timing, json) = (a.lorenz96.timing, a.lorenz96.format.json);
            run_shallow_water(&a.older_shallow_water.into_subcommand(timing, json))
        }
        None => run_lorenz96(&a.lorenz96),
    }
}

/// One benchmark case N:STEPS (sites or cells per axis, and window steps).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct BenchCase {
    /// Lorenz-96 sites N, or shallow-water cells per axis.
    n: usize,
    /// Steps of the 4D-Var window.
    steps: usize,
}

impl BenchCase {
    /// The case `n`:`steps`.
    const fn new(n: usize, steps: usize) -> Self {
        BenchCase { n, steps }
    }
}

impl FromStr for BenchCase {
    type Err = String;

    /// Parses "N:STEPS", e.g. "40:20" (spaces around either number are allowed).
    fn from_str(case: &str) -> std::result::Result<Self, String> {
        case.split_once(':')
            .and_then(|(n, s)| {
                Some(BenchCase::new(
                    n.trim().parse().ok()?,
                    s.trim().parse().ok()?,
                ))
            })
            .ok_or_else(|| "expected N:STEPS, e.g. 40:20".to_string())
    }
}

impl fmt::Display for BenchCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.n, self.steps)
    }
}

/// A shallow-water grid size n, checked against [`SHALLOW_WATER_GRIDS`] while parsing so
/// that clap's error names the option the user typed.
fn grid_size(text: &str) -> std::result::Result<usize, String> {
    let n: usize = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a whole number"))?;
    checked_grid(n)
}

/// A shallow-water N:STEPS case: a [`BenchCase`] whose N is a grid size as for [`grid_size`].
fn grid_case(text: &str) -> std::result::Result<BenchCase, String> {
    let case: BenchCase = text.parse()?;
    checked_grid(case.n)?;
    Ok(case)
}

/// `n` if it lies in [`SHALLOW_WATER_GRIDS`].
fn checked_grid(n: usize) -> std::result::Result<usize, String> {
    if SHALLOW_WATER_GRIDS.contains(&n) {
        Ok(n)
    } else {
        Err(format!(
            "grid sizes must be {}..={} cells per axis, got {n}",
            SHALLOW_WATER_GRIDS.start(),
            SHALLOW_WATER_GRIDS.end()
        ))
    }
}

/// `--min-time`, shared by the Lorenz-96 and shallow-water benchmarks.
#[derive(Clone, Copy, Debug, Args)]
struct TimingArgs {
    /// Seconds spent on each measurement (5 batches, median reported).
    #[arg(long, value_name = "SECONDS", default_value_t = 0.5,
          value_parser = positive_seconds)]
    min_time: f64,
}

/// The options of `bench lorenz96` (and of `bench` without a subcommand).
#[derive(Debug, Args)]
struct Lorenz96BenchArgs {
    /// Lorenz-96 sizes N to time, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "40,1000,1000000",
          value_parser = at_least(4))]
    sizes: Vec<usize>,
    /// Steps of the value-and-gradient window.
    #[arg(long, value_name = "STEPS", default_value_t = 20)]
    window: usize,
    #[command(flatten)]
    timing: TimingArgs,
    /// 4D-Var cost cases as N:STEPS, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "40:20,1000:100")]
    cost: Vec<BenchCase>,
    /// Trajectory storages the 4D-Var cost is timed with, comma-separated: all (every
    /// state; the adjoint recomputes the RK4 stages), stages (every state and its stages, 4x
    /// the memory) or checkpoints:S (S stored states, recomputing the rest). The table also
    /// says which one `auto` picks.
    #[arg(long, value_delimiter = ',', default_value = "all,stages", value_parser = fixed_storage)]
    storages: Vec<Storage>,
    #[command(flatten)]
    format: output::FormatArgs,
}

/// A storage named on the command line; `auto` is not a storage to time.
fn fixed_storage(text: &str) -> std::result::Result<Storage, String> {
    match text.parse::<StorageChoice>()? {
        StorageChoice::Fixed(s) => Ok(s),
        StorageChoice::Auto => Err("auto is not a storage to time: name all, stages or \
                                    checkpoints:S (the table says which one auto picks)"
            .into()),
    }
}

/// `bench lorenz96`: the step table, then the 4D-Var cost table.
fn run_lorenz96(a: &Lorenz96BenchArgs) -> Result<i32> {
    let min_time = a.timing.min_time;
    let mut report = BenchReport::new(&a.format);
    report.setting("window_steps", a.window, || {
        output::lorenz96_steps_header(a.window)
    });
    for &n in &a.sizes {
        let r = benchmark_lorenz96(n, a.window, min_time)?;
        let ratios = [
            ("ratio", json!(r.ratio())),
            ("ratio_stages", json!(r.ratio_stages())),
        ];
        report.row("steps", &r, &ratios, output::lorenz96_steps_row);
    }
    report.setting("cost_problem", COST_PROBLEM, output::lorenz96_cost_header);
    for case in &a.cost {
        let r = benchmark_fourdvar_cost(case.n, case.steps, &a.storages, min_time)?;
        report.row("cost", &r, &[], output::lorenz96_cost_row);
    }
    report.finish();
    Ok(0)
}

/// The Lorenz-96 4D-Var cost the benchmark times.
const COST_PROBLEM: &str = "B = I, R = I, every other site observed every other step";

/// The default grid sizes of the shallow-water step table.
const SHALLOW_WATER_SIZES: &str = "64,256,1024";
/// The default shallow-water 4D-Var case.
const SHALLOW_WATER_COST: &str = "256:24";
/// The shallow-water 4D-Var case observes h at this many random points, every
/// [`OBSERVED_EVERY`] steps, as the library's memory run does; the table titles say so.
const OBSERVED_POINTS: usize = 1000;
/// Steps between the observation times of the shallow-water 4D-Var case.
const OBSERVED_EVERY: usize = 6;

/// `--large` and its settings, shared by `bench shallow-water` and the older
/// `bench --shallow-water`.
#[derive(Debug, Args)]
struct LargeRunArgs {
    /// Also the memory benchmark: one gradient over --large-steps steps on a --large-grid
    /// square grid with checkpointing (--snapshots) and with full storage, reporting storage
    /// bytes, wall time and peak RSS. At the defaults (1024 x 1024, 200 steps) full storage
    /// needs about 5 GB of memory and the run takes minutes.
    #[arg(long)]
    large: bool,
    /// Grid size n of the --large run.
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = grid_size)]
    large_grid: usize,
    /// Steps of the --large run.
    #[arg(long, value_name = "STEPS", default_value_t = 200)]
    large_steps: usize,
    /// Snapshot counts of the checkpointed --large runs, comma-separated.
    #[arg(long, value_name = "S", value_delimiter = ',', default_value = "10,20")]
    snapshots: Vec<usize>,
}

/// The options of `bench shallow-water`.
#[derive(Debug, Args)]
struct ShallowWaterBenchArgs {
    /// Grid sizes n (n x n cells of 100 km), comma-separated.
    #[arg(long, alias = "sw-sizes", value_name = "N", value_delimiter = ',',
          default_value = SHALLOW_WATER_SIZES, value_parser = grid_size)]
    sizes: Vec<usize>,
    /// 4D-Var case N:STEPS: B = I, h observed at 1000 random points every 6 steps, every
    /// state stored, with and without the RK4 stages.
    #[arg(long, alias = "sw-cost", value_name = "N:STEPS", default_value = SHALLOW_WATER_COST,
          value_parser = grid_case)]
    cost: BenchCase,
    #[command(flatten)]
    timing: TimingArgs,
    #[command(flatten)]
    large: LargeRunArgs,
    #[command(flatten)]
    format: output::FormatArgs,
}

/// The older `bench --shallow-water` flags, kept working beside `bench shallow-water`.
#[derive(Debug, Args)]
struct OlderShallowWaterArgs {
    /// Benchmark the shallow-water model instead of Lorenz-96 (the older form of
    /// `bench shallow-water`): f(x), forward, TL and AD step times on n x n grids, serial and
    /// on rayon's thread pool (RAYON_NUM_THREADS sets its size), and one 4D-Var
    /// value-and-gradient against the forward run (--sw-cost).
    #[arg(long)]
    shallow_water: bool,
    /// Shallow-water grid sizes n (n x n cells of 100 km), comma-separated.
    #[arg(long, value_name = "N", value_delimiter = ',',
          default_value = SHALLOW_WATER_SIZES, value_parser = grid_size)]
    sw_sizes: Vec<usize>,
    /// Shallow-water 4D-Var case N:STEPS: B = I, h observed at 1000 random points every 6
    /// steps, full storage.
    #[arg(long, value_name = "N:STEPS", default_value = SHALLOW_WATER_COST,
          value_parser = grid_case)]
    sw_cost: BenchCase,
    #[command(flatten)]
    large: LargeRunArgs,
}

impl OlderShallowWaterArgs {
    /// The same run as `bench shallow-water`, measured for `timing` (the shared --min-time)
    /// and printed as `json` says (the shared --json).
    fn into_subcommand(self, timing: TimingArgs, json: bool) -> ShallowWaterBenchArgs {
        ShallowWaterBenchArgs {
            sizes: self.sw_sizes,
            cost: self.sw_cost,
            timing,
            large: self.large,
            format: output::FormatArgs { json },
        }
    }
}

/// `bench shallow-water`: the step table, the 4D-Var cost row, and with --large the memory
/// table.
fn run_shallow_water(a: &ShallowWaterBenchArgs) -> Result<i32> {
    let min_time = a.timing.min_time;
    let mut report = BenchReport::new(&a.format);
    let threads = rayon::current_num_threads();
    report.setting("threads", threads, || {
        output::shallow_water_steps_header(threads)
    });
    for &n in &a.sizes {
        let r = benchmark_shallow_water_steps(n, min_time)?;
        let share = json!(r.vector_share());
        report.row(
            "steps",
            &r,
            &[("rk4_vector_share", share)],
            output::shallow_water_steps_row,
        );
    }
    report.setting(
        "cost_problem",
        "B = I, h at 1000 points every 6 steps, every state stored (all) or with the stages",
        output::shallow_water_cost_header,
    );
    let (n, steps) = (a.cost.n, a.cost.steps);
    let row = benchmark_shallow_water_cost(n, steps, OBSERVED_EVERY, OBSERVED_POINTS, min_time)?;
    let ratios = [
        ("ratio", json!(row.ratio())),
        ("ratio_stages", json!(row.ratio_stages())),
    ];
    report.row("cost", &row, &ratios, output::shallow_water_cost_row);
    if a.large.large {
        run_large(&a.large, &mut report)?;
    }
    report.finish();
    Ok(0)
}

/// The --large memory run: every checkpointed storage first, then full storage.
fn run_large(a: &LargeRunArgs, report: &mut BenchReport) -> Result<()> {
    let mut storages: Vec<Storage> = a
        .snapshots
        .iter()
        .map(|&s| Storage::Checkpoints(s))
        .collect();
    storages.push(Storage::All);
    let rows = benchmark_shallow_water_storage(
        a.large_grid,
        a.large_steps,
        &storages,
        output::bench_progress,
    )?;
    let (n, steps) = (a.large_grid, a.large_steps);
    report.setting(
        "memory_problem",
        json!({ "grid": n, "steps": steps }),
        || output::shallow_water_storage_header(n, steps),
    );
    for r in &rows {
        let storage = json!(format!("{:?}", r.storage));
        report.row(
            "memory",
            r,
            &[("storage", storage)],
            output::shallow_water_storage_row,
        );
    }
    Ok(())
}

/// `bench rnn` and `rnn bench`: dense cells of each size, then dense / diagonal / low-rank at
/// the --compare size.
pub(crate) fn run_rnn(a: &RnnBenchArgs) -> Result<i32> {
    let mut cases: Vec<(Recurrence, usize)> =
        a.sizes.iter().map(|&d| (Recurrence::Dense, d)).collect();
    if a.compare > 0 {
        cases.push((Recurrence::Dense, a.compare));
        cases.push((Recurrence::Diagonal, a.compare));
        cases.push((Recurrence::LowRank { rank: a.rank }, a.compare));
    }
    let mut report = BenchReport::new(&a.format);
    report.setting("length", a.length, || output::rnn_bench_header(a.length));
    for (recurrence, d) in cases {
        let r = benchmark_rnn(recurrence, d, a.length, a.min_time)?;
        let extras = [
            ("recurrence", json!(output::recurrence_name(r.recurrence))),
            ("ratio", json!(r.ratio())),
        ];
        report.row("rows", &r, &extras, output::rnn_bench_row);
    }
    report.finish();
    Ok(0)
}
