//! `fourdvar lesson`: the guided HTML lesson.

use std::path::PathBuf;

use clap::Args;

use crate::error::Result;
use crate::lesson::{run_lesson, LessonRequest};

/// The options of `lesson`.
#[derive(Debug, Args)]
pub(crate) struct LessonArgs {
    /// The folder to write index.html and its figures into (created when missing; files of
    /// the same names in it are replaced).
    #[arg(long, value_name = "DIR", default_value = "lesson")]
    out: PathBuf,
    /// A Lorenz-96 model configuration (any N, F and dt) used by every section. Default:
    /// the built-in models/lorenz96.toml (N = 40, F = 8, dt = 0.05).
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// Small sizes (fewer windows, shorter runs): the whole lesson in a few seconds.
    #[arg(long)]
    quick: bool,
    /// Seed of the twin's background error (SEED) and observation noise (SEED + 1).
    #[arg(long, value_name = "SEED", default_value_t = 1)]
    seed: u64,
    /// Print a JSON object (index, files, wall time) instead of the sentence.
    #[arg(long)]
    json: bool,
}

/// Runs `lesson`.
pub(crate) fn run(a: LessonArgs, history: String) -> Result<i32> {
    let summary = run_lesson(&LessonRequest {
        out: a.out.clone(),
        quick: a.quick,
        model: a.model.clone(),
        seed: a.seed,
        history,
    })?;
    if a.json {
        println!("{}", serde_json::to_string(&summary).unwrap_or_default());
    } else {
        println!(
            "lesson written to {} ({} files beside it) in {:.1} s; open it in a browser",
            summary.index.display(),
            summary.files.len(),
            summary.wall_time_seconds
        );
    }
    Ok(0)
}
