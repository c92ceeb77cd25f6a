//! Everything the commands print: the readable summaries and tables on standard output, one
//! JSON object instead with `--json`, and benchmark progress on standard error. The commands
//! compute; the wording and the column layout of every result live here, in one place, so that
//! scripts reading them have one file to watch.

use crate::io::experiment_config::ObservationUse;
use std::path::Path;

use clap::Args;
use serde::Serialize;

use crate::experiment::benchmark::{
    BenchmarkRow, CostBenchmark, RnnBenchmarkRow, ShallowWaterCostRow, ShallowWaterStepRow,
    StorageRow,
};
use crate::experiment::cycle::CycleSummary;
use crate::experiment::derivative_check::CheckOutcome;
use crate::experiment::forecast::ForecastSummary;
use crate::experiment::observe::ObserveSummary;
use crate::experiment::results::WindowSummary;
use crate::experiment::rnn_analysis::ReservoirSummary;
use crate::experiment::rnn_gradient::RnnGradientSummary;
use crate::experiment::rnn_predict::RnnPredictSummary;
use crate::experiment::rnn_train::RnnTrainSummary;
use crate::experiment::roofline::{MachinePeaks, RooflineRow};
use crate::io::experiment_config::LoadedExperiment;
use crate::rnn::analysis::{GradientFlow, InputSensitivity};
use crate::rnn::Recurrence;

/// `--json`, shared by the commands that end with a summary (assimilate, cycle, twin, demo).
#[derive(Debug, Args)]
pub(crate) struct FormatArgs {
    /// Print one JSON object instead of the readable summary.
    #[arg(long)]
    pub json: bool,
}

/// Prints `summary` as one line of JSON.
fn print_json(summary: &impl Serialize) {
    // The summaries hold plain numbers and strings, which always serialise.
    println!("{}", serde_json::to_string(summary).unwrap_or_default());
}

/// A summary with the resolved settings of its experiment under the key `settings`.
#[derive(Serialize)]
struct WithSettings<'a, T: Serialize> {
    #[serde(flatten)]
    summary: &'a T,
    settings: serde_json::Value,
}

/// Seconds in the most readable unit (ns, µs, ms or s).
fn human_time(seconds: f64) -> String {
    match seconds {
        s if s < 1e-6 => format!("{:.1} ns", s * 1e9),
        s if s < 1e-3 => format!("{:.2} µs", s * 1e6),
        s if s < 1.0 => format!("{:.2} ms", s * 1e3),
        s => format!("{s:.3} s"),
    }
}

/// Bytes in MiB below 1 GiB, in GiB from there on.
fn human_bytes(bytes: u64) -> String {
    match bytes {
        b if b < 1 << 30 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b => format!("{:.3} GiB", b as f64 / (1u64 << 30) as f64),
    }
}

// ---- forecast, check, observe ----

/// The `forecast` summary.
pub(crate) fn forecast(s: &ForecastSummary, format: &FormatArgs, out: &Path) {
    if format.json {
        print_json(s);
        return;
    }
    println!(
        "{} (n = {}): {} steps to t = {:.4}, {} records written to {}",
        s.model,
        s.state_len,
        s.steps,
        s.final_time,
        s.records,
        out.display()
    );
    println!(
        "final state: mean {:.4}, standard deviation {:.4}",
        s.final_mean, s.final_std
    );
}

/// The `check` table and its pass/fail count, then (with a network) the residues of the cost's
/// gradient test step by step: α, R(α) = (J(u + αh) − J(u)) / (α ∇J·h) and |R(α) − 1|.
pub(crate) fn check(outcome: &CheckOutcome, format: &FormatArgs) {
    let rows = &outcome.rows;
    let residues: Vec<serde_json::Value> = (outcome.residues.iter())
        .map(|r| serde_json::json!({ "alpha": r.alpha, "ratio": r.ratio, "error": (r.ratio - 1.0).abs() }))
        .collect();
    if format.json {
        /// One check as JSON: the row and its verdict (a NaN value is null and fails).
        #[derive(Serialize)]
        struct Row<'a> {
            test: &'a str,
            value: f64,
            threshold: f64,
            passed: bool,
            note: &'a str,
        }
        let checks: Vec<Row> = rows
            .iter()
            .map(|r| Row {
                test: &r.test,
                value: r.value,
                threshold: r.threshold,
                passed: r.passed(),
                note: &r.note,
            })
            .collect();
        let failed = checks.iter().filter(|r| !r.passed).count();
        let mut object = serde_json::json!({
            "checks": checks,
            "passed": checks.len() - failed,
            "failed": failed,
        });
        if !residues.is_empty() {
            object["gradient_residues"] = serde_json::Value::Array(residues);
        }
        print_json(&object);
        return;
    }
    println!(
        "{:<48} {:>11} {:>11}  {:<6} note",
        "test", "value", "threshold", "result"
    );
    for r in rows {
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
    if !outcome.residues.is_empty() {
        println!();
        println!("gradient test of the network's J, step by step (R -> 1 as alpha -> 0 until round-off):");
        println!("{:>10} {:>22} {:>11}", "alpha", "R(alpha)", "|R - 1|");
        for r in &outcome.residues {
            println!(
                "{:>10.3e} {:>22.15} {:>11.3e}",
                r.alpha,
                r.ratio,
                (r.ratio - 1.0).abs()
            );
        }
    }
}

/// The `observe` summary.
pub(crate) fn observe(s: &ObserveSummary, format: &FormatArgs, out: &Path) {
    if format.json {
        print_json(s);
        return;
    }
    println!(
        "{} observations at {} times (t = {:.4} .. {:.4}) written to {}",
        s.observations,
        s.steps,
        s.first_time,
        s.last_time,
        out.display()
    );
}

// ---- assimilate, twin, demo, cycle ----

/// The summary of one 4D-Var window (`assimilate`, `twin`, `demo`), as text or JSON.
/// Returns the exit code ([`exit_code`]).
pub(crate) fn window(
    summary: &WindowSummary,
    experiment: &LoadedExperiment,
    format: &FormatArgs,
    out: &Path,
) -> i32 {
    if format.json {
        print_json(&WithSettings {
            summary,
            settings: experiment.resolved_json(),
        });
    } else {
        print!("{}", summary.text());
        println!("written to {}", out.display());
    }
    exit_code(summary.interrupted, out)
}

/// The resolved settings of `config`: TOML, or JSON with `--json`.
pub(crate) fn settings(experiment: &LoadedExperiment, format: &FormatArgs) {
    if format.json {
        print_json(&experiment.resolved_json());
    } else {
        print!("{}", experiment.resolved_toml());
    }
}

/// The `cycle` summary: time-averaged RMSE after the burn-in, as text or JSON.
pub(crate) fn cycle(
    summary: &CycleSummary,
    experiment: &LoadedExperiment,
    format: &FormatArgs,
    out: &Path,
) {
    if format.json {
        print_json(&WithSettings {
            summary,
            settings: experiment.resolved_json(),
        });
        return;
    }
    let newest =
        if summary.assimilate == ObservationUse::Newest && summary.shift < summary.window_steps {
            " (each window assimilating only its last shift's observations)"
        } else {
            ""
        };
    println!(
        "{} windows of {} steps, shift {} steps{newest}, written to {}",
        summary.windows,
        summary.window_steps,
        summary.shift,
        out.display()
    );
    if let Some(asked) = summary.interrupted_of {
        println!(
            "interrupted: {} of the {asked} windows asked for were run",
            summary.windows
        );
    }
    println!(
        "time-averaged RMSE after {} burn-in windows, each state against the truth at its time:",
        summary.burn_in
    );
    let table = std::iter::once((
        String::new(),
        [
            summary.rmse_background,
            summary.rmse_analysis_start,
            summary.rmse_forecast_end,
            summary.rmse_analysis,
            summary.rmse_free_run,
        ],
    ))
    .chain(summary.variable_rmse.iter().map(|v| {
        (
            format!("{}: ", v.name),
            [
                v.background,
                v.analysis_start,
                v.forecast_end,
                v.analysis,
                v.free_run,
            ],
        )
    }));
    for (name, [b, a0, f, a, free]) in table {
        println!(
            "  {name}window start: background {b:.4}, analysis {a0:.4}; \
             window end: forecast {f:.4}, analysis {a:.4}; free run {free:.4}"
        );
    }
    if let Some(spread) = summary.spread_analysis {
        println!(
            "  ensemble spread of the analysis at the window end {spread:.4} (spread/RMSE {:.2}; \
             a consistent ensemble has 1)",
            spread / summary.rmse_analysis
        );
    }
    if let Some(e) = summary.parallel_efficiency {
        println!("  members in parallel at {:.0}% efficiency", 100.0 * e);
    }
    let filter = matches!(summary.method.as_str(), "etkf" | "letkf");
    match summary.mean_inner_iterations {
        None if filter => println!("{}, {:.2} s", summary.minimizer, summary.wall_time_seconds),
        None => println!(
            "{:.1} minimiser iterations per window ({}), {:.2} s",
            summary.mean_iterations, summary.minimizer, summary.wall_time_seconds
        ),
        Some(inner) => println!(
            "{:.1} outer loops and {inner:.1} inner iterations per window ({}), {:.2} s",
            summary.mean_iterations, summary.minimizer, summary.wall_time_seconds
        ),
    }
}

// ---- rnn ----

/// The `rnn train` summary: loss before and after, accuracies, files written.
pub(crate) fn rnn_train(s: &RnnTrainSummary, out: &Path, loss_curve: Option<&Path>) {
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
    println!("network written to {}", out.display());
    if let Some(p) = loss_curve {
        println!("loss curve written to {}", p.display());
    }
}

/// The `rnn predict` summary: the loss and accuracy over the rows with a target.
pub(crate) fn rnn_predict(s: &RnnPredictSummary, out: &Path) {
    print!("{} steps predicted", s.steps);
    match s.loss {
        Some(loss) => {
            print!(
                "; loss {loss:.6e} over the {} rows with a target (mean {:.6e})",
                s.scored_steps,
                loss / s.scored_steps.max(1) as f64
            );
            if let Some(acc) = s.accuracy {
                print!(", accuracy {:.1}%", 100.0 * acc);
            }
            println!();
        }
        None => println!(" (no targets, no loss)"),
    }
    println!("written to {}", out.display());
}

/// The `rnn gradient` summary.
pub(crate) fn rnn_gradient(s: &RnnGradientSummary, out: &Path) {
    println!(
        "loss {:.12e} over {} steps ({} with a target); {} gradient values written to {}",
        s.loss,
        s.steps,
        s.active_steps,
        s.gradient_len,
        out.display()
    );
}

/// The `rnn sensitivity` summary: the most sensitive step and the fast-gradient-sign attack.
pub(crate) fn rnn_sensitivity(s: &InputSensitivity, out: Option<&Path>) {
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
    if let Some(out) = out {
        println!("written to {}", out.display());
    }
}

/// The `rnn gradient-flow` summary: |dL/dh| at the first and last lag and the mean factor
/// per step, (|dL/dh_0| / |dL/dh_T|)^(1/T) read from lag 0 to lag T.
pub(crate) fn rnn_gradient_flow(flow: &GradientFlow, out: Option<&Path>) {
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
    if let Some(out) = out {
        println!("lag,norm written to {}", out.display());
    }
}

/// The settings of an echo-state network, echoed in the `rnn reservoir` summary.
pub(crate) struct ReservoirSettings {
    /// Reservoir size d.
    pub hidden: usize,
    /// Spectral radius of W.
    pub spectral_radius: f64,
    /// Ridge penalty alpha.
    pub ridge: f64,
}

/// The `rnn reservoir` summary: train and test RMSE, and against persistence where known.
pub(crate) fn rnn_reservoir(settings: &ReservoirSettings, s: &ReservoirSummary, out: &Path) {
    println!(
        "echo-state network, d = {}, spectral radius {}, ridge {}: {} steps, washout {}, {} train rows, {} test rows",
        settings.hidden,
        settings.spectral_radius,
        settings.ridge,
        s.steps,
        s.washout,
        s.train_rows,
        s.test_rows
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
    println!("written to {}", out.display());
}

// ---- bench tables: a header, then one row per measurement as soon as it is taken ----

/// What a benchmark reports: its tables printed row by row as each measurement is taken, or
/// with `--json` one JSON object at the end holding every figure the tables print (each
/// table an array of row objects, times in seconds, memory in bytes).
pub(crate) struct BenchReport {
    json: bool,
    object: serde_json::Map<String, serde_json::Value>,
}

impl BenchReport {
    /// A report in the format `format` asks for.
    pub(crate) fn new(format: &FormatArgs) -> Self {
        Self {
            json: format.json,
            object: serde_json::Map::new(),
        }
    }

    /// A setting of the run, `key` in the JSON object; `print` shows it (a table header) in
    /// text.
    pub(crate) fn setting(&mut self, key: &str, value: impl Serialize, print: impl FnOnce()) {
        if self.json {
            self.object.insert(key.into(), json_value(&value));
        } else {
            print();
        }
    }

    /// One measured row of `table`, with the derived figures `extras` (ratios, names) the
    /// text shows beside it.
    pub(crate) fn row<T: Serialize>(
        &mut self,
        table: &str,
        row: &T,
        extras: &[(&str, serde_json::Value)],
        print: impl FnOnce(&T),
    ) {
        if !self.json {
            print(row);
            return;
        }
        let mut value = json_value(row);
        if let serde_json::Value::Object(fields) = &mut value {
            for (key, extra) in extras {
                fields.insert((*key).into(), extra.clone());
            }
        }
        let rows = self
            .object
            .entry(table)
            .or_insert_with(|| serde_json::Value::Array(Vec::new()));
        if let serde_json::Value::Array(rows) = rows {
            rows.push(value);
        }
    }

    /// Prints the JSON object (nothing more in text: the rows are out already).
    pub(crate) fn finish(self) {
        if self.json {
            print_json(&self.object);
        }
    }
}

/// `value` as JSON (plain numbers and strings: cannot fail; non-finite numbers become null).
fn json_value(value: &impl Serialize) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or_default()
}

/// Benchmark progress on standard error, so the tables on standard output stay clean.
pub(crate) fn bench_progress(what: &str) {
    eprintln!("bench: {what} ...");
}

/// Header of the Lorenz-96 step table.
pub(crate) fn lorenz96_steps_header(window: usize) {
    println!(
        "Lorenz-96, F = 8, dt = 0.05; value_and_gradient over {window} steps, every state stored \
         (all: the adjoint recomputes the RK4 stages; stages: they are stored too)"
    );
    println!(
        "{:>9} {:>11} {:>11} {:>11} {:>11} {:>12} {:>12} {:>12} {:>6} {:>6}",
        "N",
        "forward",
        "TL",
        "AD all",
        "AD stages",
        "forward run",
        "v+g all",
        "v+g stages",
        "ratio",
        "ratio"
    );
    println!(
        "{:>9} {:>11} {:>11} {:>11} {:>11} {:>12} {:>12} {:>12} {:>6} {:>6}",
        "", "/step", "/step", "/step", "/step", "", "", "", "all", "stages"
    );
}

/// One size of the Lorenz-96 step table.
pub(crate) fn lorenz96_steps_row(r: &BenchmarkRow) {
    println!(
        "{:>9} {:>11} {:>11} {:>11} {:>11} {:>12} {:>12} {:>12} {:>6.2} {:>6.2}",
        r.n,
        human_time(r.forward_step),
        human_time(r.tangent_step),
        human_time(r.adjoint_step),
        human_time(r.adjoint_step_recorded),
        human_time(r.forward_window),
        human_time(r.gradient_window),
        human_time(r.gradient_window_stages),
        r.ratio(),
        r.ratio_stages()
    );
}

/// Header of the Lorenz-96 4D-Var cost table (after a blank line).
pub(crate) fn lorenz96_cost_header() {
    println!();
    println!(
        "4D-Var cost J and its gradient, B = I, R = I, every other site observed every other step"
    );
    println!(
        "{:>9} {:>6} {:>13} {:>12} {:>15} {:>10} {:>15} {:>6}",
        "N", "steps", "observations", "forward run", "storage", "stored", "value+gradient", "ratio"
    );
}

/// One case of the Lorenz-96 4D-Var cost table: a line per storage, then auto's choice.
pub(crate) fn lorenz96_cost_row(r: &CostBenchmark) {
    for (i, s) in r.storages.iter().enumerate() {
        let (n, steps, obs, forward) = if i == 0 {
            (
                r.n.to_string(),
                r.steps.to_string(),
                r.observations.to_string(),
                human_time(r.forward_run),
            )
        } else {
            Default::default()
        };
        println!(
            "{:>9} {:>6} {:>13} {:>12} {:>15} {:>10} {:>15} {:>6.2}",
            n,
            steps,
            obs,
            forward,
            s.storage,
            human_bytes(s.stored_bytes),
            human_time(s.value_and_gradient),
            s.ratio
        );
    }
    println!("{:>9} auto picks {}", "", r.auto);
}

/// The machine's measured peaks.
pub(crate) fn roofline_peaks(p: &MachinePeaks) {
    println!(
        "Peaks: multiply-add {:.1} GFLOP/s on one thread, {:.1} on {} threads",
        p.flops_one_thread / 1e9,
        p.flops_all_threads / 1e9,
        p.threads
    );
    let levels: Vec<String> = (p.triad_one_thread.iter())
        .map(|t| {
            format!(
                "{} {:.1} GB/s ({})",
                t.level,
                t.bytes_per_second / 1e9,
                human_bytes(t.bytes as u64)
            )
        })
        .collect();
    println!("Triad a = b + s c, one thread: {}", levels.join(", "));
    println!(
        "Triad from memory on {} threads: {:.1} GB/s",
        p.threads,
        p.triad_memory_all_threads / 1e9
    );
}

/// Header of the roofline table (after a blank line).
pub(crate) fn roofline_header() {
    println!();
    println!(
        "{:<14} {:<27} {:>9} {:>10} {:>10} {:>7} {:>11} {:>8} {:>7} {:>11} {:>7}",
        "model",
        "kernel",
        "n",
        "flop/step",
        "byte/step",
        "level",
        "time/step",
        "GFLOP/s",
        "GB/s",
        "bound",
        "x bound"
    );
}

/// One kernel of the roofline table.
pub(crate) fn roofline_row(r: &RooflineRow) {
    println!(
        "{:<14} {:<27} {:>9} {:>10} {:>10} {:>7} {:>11} {:>8} {:>7.1} {:>11} {:>7.2}",
        r.model,
        r.kernel,
        r.n,
        r.flops.map_or("-".into(), |f| format!("{f:.3e}")),
        format!("{:.3e}", r.bytes),
        r.level,
        human_time(r.seconds),
        r.gflops().map_or("-".into(), |g| format!("{g:.1}")),
        r.gbytes(),
        human_time(r.bound_seconds),
        r.times_bound()
    );
}

/// Header of the shallow-water step table, serial against rayon's `threads` threads.
pub(crate) fn shallow_water_steps_header(threads: usize) {
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
}

/// One grid of the shallow-water step table.
pub(crate) fn shallow_water_steps_row(r: &ShallowWaterStepRow) {
    let pair = |t: [f64; 2]| format!("{}/{}", human_time(t[0]), human_time(t[1]));
    println!(
        "{:>11} {:>21} {:>21} {:>21} {:>21} {:>7.0}%",
        format!("{0}x{0}", r.n),
        pair(r.eval),
        pair(r.forward),
        pair(r.tangent),
        pair(r.adjoint),
        100.0 * r.vector_share()
    );
}

/// The footnote of the step table and the header of the shallow-water 4D-Var cost table.
pub(crate) fn shallow_water_cost_header() {
    println!("(RK4 vec: share of the serial forward step outside the 4 evaluations of f)");
    println!();
    println!(
        "4D-Var J and gradient, B = I, h at 1000 points every 6 steps, rayon path; every state \
         stored (all), and the RK4 stages too (stages)"
    );
    println!(
        "{:>11} {:>7} {:>13} {:>13} {:>14} {:>14} {:>6} {:>6}",
        "grid", "steps", "observations", "forward run", "v+g all", "v+g stages", "ratio", "ratio"
    );
    println!(
        "{:>11} {:>7} {:>13} {:>13} {:>14} {:>14} {:>6} {:>6}",
        "", "", "", "", "", "", "all", "stages"
    );
}

/// The shallow-water 4D-Var cost row.
pub(crate) fn shallow_water_cost_row(r: &ShallowWaterCostRow) {
    println!(
        "{:>11} {:>7} {:>13} {:>13} {:>14} {:>14} {:>6.2} {:>6.2}",
        format!("{0}x{0}", r.n),
        r.steps,
        r.observations,
        human_time(r.forward),
        human_time(r.value_and_gradient),
        human_time(r.value_and_gradient_stages),
        r.ratio(),
        r.ratio_stages()
    );
}

/// The header of the gradient-memory table of `--large`.
pub(crate) fn shallow_water_storage_header(n: usize, steps: usize) {
    println!();
    println!("Gradient memory, {n}x{n}, {steps} steps, h at 1000 points every 6 steps");
    println!(
        "{:>18} {:>16} {:>14} {:>12} {:>14}",
        "storage", "state storage", "forward steps", "wall time", "peak RSS"
    );
}

/// One storage strategy of the gradient-memory table.
pub(crate) fn shallow_water_storage_row(r: &StorageRow) {
    println!(
        "{:>18} {:>16} {:>14} {:>12} {:>14}{}",
        format!("{:?}", r.storage),
        human_bytes(r.bytes),
        r.forward_steps,
        human_time(r.seconds),
        r.peak_rss.map_or("n/a".to_string(), human_bytes),
        if r.peak_reset {
            ""
        } else {
            " (process peak so far)"
        }
    );
}

/// The name of a recurrence in the RNN table: "dense", "diagonal", "low-rank8".
pub(crate) fn recurrence_name(recurrence: Recurrence) -> String {
    match recurrence {
        Recurrence::LowRank { rank } => format!("low-rank{rank}"),
        other => other.name().to_string(),
    }
}

/// Header of the RNN BPTT table.
pub(crate) fn rnn_bench_header(length: usize) {
    println!(
        "Elman cell BPTT, one sequence of {length} steps, 8 inputs, 1 output, loss at every step, full storage"
    );
    println!(
        "{:<12} {:>6} {:>14} {:>16} {:>14} {:>16} {:>7}",
        "recurrence", "d", "forward run", "value+grad", "forward/step", "value+grad/step", "ratio"
    );
}

/// One cell of the RNN BPTT table.
pub(crate) fn rnn_bench_row(r: &RnnBenchmarkRow) {
    let name = recurrence_name(r.recurrence);
    println!(
        "{:<12} {:>6} {:>14} {:>16} {:>14} {:>16} {:>7.2}",
        name,
        r.hidden,
        human_time(r.forward),
        human_time(r.gradient),
        human_time(r.forward_step()),
        human_time(r.gradient_step()),
        r.ratio()
    );
}

/// The exit code of a finished command: 0, or 130 when a signal (Ctrl-C) stopped it early and
/// `out` holds the result so far (said on stderr, so scripts and users both see it).
pub(super) fn exit_code(interrupted: bool, out: &Path) -> i32 {
    if interrupted {
        eprintln!(
            "fourdvar: interrupted: {} holds the result so far",
            out.display()
        );
        crate::interrupt::EXIT_CODE
    } else {
        0
    }
}
