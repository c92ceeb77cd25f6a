//! The command line: argument parsing (clap), dispatch and exit codes (0 success, 1 a check
//! failed, 2 bad input or usage). Errors are typed in the library and rendered once, here.
//!
//! Split by command group, as ripgrep splits its flags: each group module holds the argument
//! structs of its commands and turns them into a library request; [`output`] prints every
//! result.

mod assimilation;
mod bench;
mod check;
mod emulator;
mod forecast;
mod lesson;
mod output;
mod plot;
mod rnn;
mod values;

use std::ffi::OsString;
use std::path::Path;

use clap::{Parser, Subcommand};

use crate::error::Result;
use crate::io::output_paths::{check_outputs, NamedPath};

/// What every command does with its output files and with Ctrl-C, shown under `--help`.
const OUTPUT_RULES: &str = "\
Output files are written under a hidden temporary name and renamed into place when complete,
so a failed or interrupted run leaves no partial file. An existing regular file at an output
path is replaced; anything else there (a directory, /dev/null or another device, a FIFO, a
socket) is refused, as is an output that is one of the command's inputs (by any name or link)
or another of its outputs.

Ctrl-C (or SIGTERM) during the minimisation of assimilate, twin or demo, or during cycle or
rnn train, stops at the next iteration, window or epoch and writes the result so far (exit
code 130); a second Ctrl-C, or one at any other time, stops at once and writes nothing (exit
code 130). kill -9 cannot be caught and may leave a hidden .NAME.tmp-PID file; the next run
writing to the same path removes it.

Reproducible files: the outputs carry a time stamp (the NetCDF history attribute, the CSV
header comment). Set SOURCE_DATE_EPOCH (seconds since 1970) to fix it: two runs of one command
line then write identical bytes, whatever RAYON_NUM_THREADS is.

Exit codes: 0 success, 1 a check failed, 2 bad input or usage, 130 interrupted.";

/// fourdvar: variational data assimilation (4D-Var) on toy atmospheric models, with
/// hand-written tangent-linear and adjoint models.
#[derive(Debug, Parser)]
#[command(name = "fourdvar", version, about, long_about = None, after_help = OUTPUT_RULES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// No progress bars and no per-iteration lines on stderr; results and errors still print.
    #[arg(long, short, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// One line on stderr per minimiser iteration (J, J_b, J_o, |grad J|), per cycle window
    /// (RMSE) and per training iteration, besides the progress bars a terminal shows.
    #[arg(long, short, global = true)]
    verbose: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a model forward and write the trajectory as CF-NetCDF.
    ///
    /// Example: fourdvar forecast --model models/lorenz96.toml --steps 200 --out forecast.nc
    Forecast(forecast::ForecastArgs),
    /// Verify a model's derivatives: Taylor test of the tangent-linear model, dot-product test
    /// of the adjoint, gradient test of a cost, checkpointing vs full storage.
    ///
    /// Prints a table and exits with 1 if any check fails.
    /// Example: fourdvar check --model models/lorenz96.toml
    Check(check::CheckArgs),
    /// Time forward, tangent-linear and adjoint steps and one value-and-gradient sweep
    /// against the forward run alone: `bench lorenz96` (the default), `bench shallow-water`,
    /// `bench rnn`; the machine's roofline, `bench roofline`; the memory of the discrete and
    /// continuous adjoints, `bench adjoint-memory`.
    ///
    /// Without a subcommand, `bench [OPTIONS]` is `bench lorenz96 [OPTIONS]`, and the older
    /// `bench --shallow-water [--sw-sizes N,..] [--sw-cost N:STEPS] [--large]` is
    /// `bench shallow-water [--sizes N,..] [--cost N:STEPS] [--large]`.
    ///
    /// Example: fourdvar bench --sizes 40,1000,1000000
    ///
    /// Example: fourdvar bench shallow-water --large
    Bench(bench::BenchArgs),
    /// Sample a true trajectory through an observation network, with seeded Gaussian noise.
    ///
    /// Example: fourdvar observe --truth truth.nc --network
    /// observations/lorenz96_half_every_other_step.toml --seed 1 --out obs.csv
    Observe(assimilation::ObserveArgs),
    /// One strong-constraint 4D-Var analysis from a background state and observations.
    ///
    /// Example: fourdvar assimilate --model models/lorenz96.toml --background xb.txt --obs
    /// obs.csv --truth truth.nc --window-steps 20 --out analysis.nc
    Assimilate(assimilation::AssimilateArgs),
    /// A twin experiment cycled over many 4D-Var windows (any window length, any shift).
    ///
    /// Example: fourdvar cycle --config experiments/lorenz96_cycle.toml --windows 1000 --out
    /// cycle.nc
    Cycle(assimilation::CycleArgs),
    /// A twin experiment over one 4D-Var window: a truth run by the model, observations of it
    /// drawn through a network, a background drawn around the truth with covariance B, the
    /// analysis, and RMSE against the truth (per variable for shallow water).
    ///
    /// Example: fourdvar twin --config experiments/shallow_water_twin.toml --out twin.nc
    Twin(assimilation::TwinArgs),
    /// Print the settings an experiment would run with — the experiment file's, the flags'
    /// and the defaults — as TOML that --config reads back (or JSON with --json).
    ///
    /// The same settings are recorded in every result file (global attribute
    /// resolved_settings) and under "settings" in the --json summaries.
    ///
    /// Example: fourdvar config --config experiments/lorenz96_cycle.toml --b-sigma 0.5 >
    /// mine.toml
    Config(assimilation::ConfigArgs),
    /// The default twin experiment, built in: Lorenz-96, one 20-step window, half of the
    /// sites observed every other step. Writes demo.nc and prints a summary.
    Demo(assimilation::DemoArgs),
    /// RNN mode: an Elman or GRU network trained by back-propagation through time on the same
    /// adjoint core as 4D-Var.
    #[command(subcommand)]
    Rnn(rnn::RnnCommand),
    /// A learned Lorenz-96 emulator: a neural ODE trained by BPTT on the same adjoint core,
    /// then usable as --model emulator.json by assimilate, twin, cycle, forecast and check.
    #[command(subcommand)]
    Emulator(emulator::EmulatorCommand),
    /// Draw a picture (PNG or SVG) of a file fourdvar wrote: a forecast as a Hovmöller
    /// diagram (ring) or maps of h with wind arrows (plane); an analysis as truth,
    /// background and analysis with their errors, the observations, the cost per iteration
    /// and the O − B / O − A histograms; a cycle as the RMSE per window with its means.
    ///
    /// Example: fourdvar plot demo.nc --out demo.png
    Plot(plot::PlotArgs),
    /// Write a guided lesson: one self-contained HTML page (DIR/index.html, figures beside
    /// it, no network needed) through chaos, observations, the cost and its adjoint,
    /// minimisation, the analysis, cycling, BPTT as the same sweep and the Lagrangian that
    /// makes them one algorithm; every figure computed live, each with its command.
    ///
    /// Example: fourdvar lesson --out lesson --quick
    Lesson(lesson::LessonArgs),
}

/// Runs the command line `args` (including the program name) and returns the exit code.
pub fn main_with_args(args: impl IntoIterator<Item = OsString>) -> i32 {
    let args: Vec<OsString> = args.into_iter().collect();
    use crate::io::netcdf_metadata_check as metadata;
    if let [_, first, path] = &args[..] {
        if first == metadata::CHILD_ARGUMENT {
            return if metadata::walk(Path::new(path)).is_ok() {
                0
            } else {
                2
            };
        }
    }
    metadata::walk_in_child_first();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print and exit 0; usage errors exit 2.
            let text = shorten_tokens(&e.render().to_string());
            if e.use_stderr() {
                eprint!("{text}");
            } else {
                print!("{text}");
            }
            return e.exit_code();
        }
    };
    crate::progress::set_verbosity(if cli.quiet {
        crate::progress::Verbosity::Quiet
    } else if cli.verbose {
        crate::progress::Verbosity::Verbose
    } else {
        crate::progress::Verbosity::Normal
    });
    match run(cli.command, &args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("fourdvar: error: {}", shorten_tokens(&e.to_string()));
            e.exit_code()
        }
    }
}

/// The longest run of non-space characters a message echoes in full.
const MAX_TOKEN_CHARS: usize = 200;

/// `text` with every run of more than [`MAX_TOKEN_CHARS`] non-space characters cut to its
/// first 200 and a note of its length, so that a 20 MB token in the input does not come
/// back as a 20 MB message.
fn shorten_tokens(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(8192));
    let mut token = String::new();
    let flush = |token: &mut String, out: &mut String| {
        let chars = token.chars().count();
        if chars > MAX_TOKEN_CHARS {
            out.extend(token.chars().take(MAX_TOKEN_CHARS));
            out.push_str(&format!("…({chars} characters)"));
        } else {
            out.push_str(token);
        }
        token.clear();
    };
    for c in text.chars() {
        if c.is_whitespace() {
            flush(&mut token, &mut out);
            out.push(c);
        } else {
            token.push(c);
        }
    }
    flush(&mut token, &mut out);
    out
}

/// Runs one command; `Ok` holds the exit code (0, or 1 for a failed check).
fn run(command: Command, args: &[OsString]) -> Result<i32> {
    // Commands that stop at clean points take the first Ctrl-C as a stopping rule from the
    // moment they are parsed, so no signal falls between the handler and their loop.
    let _graceful = matches!(
        command,
        Command::Cycle(_)
            | Command::Rnn(rnn::RnnCommand::Train(_))
            | Command::Emulator(emulator::EmulatorCommand::Train(_))
    )
    .then(crate::interrupt::graceful);
    match command {
        Command::Forecast(a) => forecast::run(a, history(args)?),
        Command::Check(a) => check::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Observe(a) => assimilation::run_observe(a, history(args)?),
        Command::Assimilate(a) => assimilation::run_assimilate(a, history(args)?),
        Command::Cycle(a) => assimilation::run_cycle(a, history(args)?),
        Command::Twin(a) => assimilation::run_twin(a, history(args)?),
        Command::Config(a) => assimilation::run_config(a),
        Command::Demo(a) => assimilation::run_demo(a, history(args)?),
        Command::Rnn(c) => rnn::run(c),
        Command::Emulator(c) => emulator::run(c),
        Command::Plot(a) => plot::run(a),
        Command::Lesson(a) => lesson::run(a, history(args)?),
    }
}

/// Refuses, before any work, an output that would replace one of the command's inputs or
/// another of its outputs, or an existing output that is not a regular file
/// ([`check_outputs`]). Each entry is an option's name and its path (`None`: not given).
fn check_paths(inputs: &[(&str, Option<&Path>)], outputs: &[(&str, Option<&Path>)]) -> Result<()> {
    fn given<'a>(list: &[(&'a str, Option<&'a Path>)]) -> Vec<NamedPath<'a>> {
        list.iter()
            .filter_map(|&(name, path)| path.map(|p| NamedPath::new(name, p)))
            .collect()
    }
    check_outputs(&given(inputs), &given(outputs))
}

/// The `history` attribute of the files a command writes: a UTC time stamp and the command
/// line. The time is `SOURCE_DATE_EPOCH` (seconds since 1970, the reproducible-builds
/// convention) when that is set, so that two runs of one command write identical bytes.
fn history(args: &[OsString]) -> Result<String> {
    let now =
        match std::env::var_os(SOURCE_DATE_EPOCH) {
            None => std::time::SystemTime::now(),
            Some(value) => {
                let seconds =
                    value
                        .to_str()
                        .and_then(|s| s.trim().parse::<u64>().ok())
                        .filter(|s| *s <= MAX_EPOCH_SECONDS)
                        .ok_or_else(|| {
                            crate::Error::invalid(
                                SOURCE_DATE_EPOCH,
                                format!(
                            "must be a whole number of seconds since 1970-01-01 UTC (at most \
                             {MAX_EPOCH_SECONDS}), got '{}'",
                            value.to_string_lossy().chars().take(200).collect::<String>()
                        ),
                            )
                        })?;
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds)
            }
        };
    let now = humantime::format_rfc3339_seconds(now);
    let line: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    Ok(format!("{now}: {}", line.join(" ")))
}

/// The environment variable that fixes the time stamp of the outputs.
const SOURCE_DATE_EPOCH: &str = "SOURCE_DATE_EPOCH";

/// The last second humantime formats (9999-12-31T23:59:59Z).
const MAX_EPOCH_SECONDS: u64 = 253_402_300_799;
