//! What a run tells on stderr while it works: progress bars (model steps, minimiser
//! iterations with J and ‖∇J‖, cycle windows, training epochs) drawn only when stderr is a
//! terminal, and, with `--verbose`, one line per iteration or window whatever stderr is.
//! `--quiet` turns both off. Results go to stdout and are the same at every level.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How much a run tells on stderr while it works.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verbosity {
    /// No progress bars and no per-iteration lines (errors and warnings still show).
    Quiet,
    /// Progress bars when stderr is a terminal.
    Normal,
    /// Progress bars, and one line per minimiser iteration and per cycle window.
    Verbose,
}

/// The level, as `Verbosity as u8`; Normal until [`set_verbosity`].
static LEVEL: AtomicU8 = AtomicU8::new(Verbosity::Normal as u8);

/// Sets the level for the rest of the process (from `--quiet` / `--verbose`).
pub fn set_verbosity(v: Verbosity) {
    LEVEL.store(v as u8, Ordering::Relaxed);
}

/// The current level.
pub fn verbosity() -> Verbosity {
    match LEVEL.load(Ordering::Relaxed) {
        0 => Verbosity::Quiet,
        1 => Verbosity::Normal,
        _ => Verbosity::Verbose,
    }
}

/// Every bar of the process, drawn together so that nested work (a minimisation inside a
/// cycle window) shows as two lines instead of two bars fighting for one.
fn bars() -> &'static MultiProgress {
    static BARS: OnceLock<MultiProgress> = OnceLock::new();
    BARS.get_or_init(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
}

/// A bar over `total` units of work named `unit`, labelled `label`: hidden at `--quiet` and
/// (by indicatif) when stderr is not a terminal. `{msg}` shows what the caller sets.
fn bar(total: u64, label: &str, unit: &str) -> ProgressBar {
    if verbosity() == Verbosity::Quiet {
        return ProgressBar::hidden();
    }
    let template = format!(
        "{{prefix:>10}} [{{bar:40}}] {{pos}}/{{len}} {unit} {{msg}} ({{per_sec}}, eta {{eta}})"
    );
    let style = ProgressStyle::with_template(&template)
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    let bar = bars().add(ProgressBar::new(total));
    bar.set_style(style);
    bar.set_prefix(label.to_string());
    bar
}

/// A progress bar over `total` model steps with a short `label`.
pub fn step_bar(total: u64, label: &str) -> ProgressBar {
    bar(total, label, "steps")
}

/// A progress bar over at most `total` minimiser iterations (or training epochs).
pub fn iteration_bar(total: u64, label: &str) -> ProgressBar {
    bar(total, label, "iterations")
}

/// A progress bar over `total` assimilation windows.
pub fn window_bar(total: u64, label: &str) -> ProgressBar {
    bar(total, label, "windows")
}

/// Prints `line` on stderr at `--verbose`, above any bars.
pub fn detail(line: impl FnOnce() -> String) {
    if verbosity() == Verbosity::Verbose {
        let line = line();
        bars().suspend(|| eprintln!("{line}"));
    }
}
