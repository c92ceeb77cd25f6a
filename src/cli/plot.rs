//! `fourdvar plot`: a picture of any file fourdvar writes.

use std::path::{Path, PathBuf};

use clap::Args;

use super::check_paths;
use crate::error::Result;

/// The options of `plot`.
#[derive(Debug, Args)]
pub(crate) struct PlotArgs {
    /// The file to draw: a forecast, an analysis (assimilate, twin, demo) or a cycle output.
    #[arg(value_name = "FILE.nc")]
    input: PathBuf,
    /// The picture: .png or .svg (written atomically). Default: FILE with .png.
    #[arg(long, value_name = "FILE.png|FILE.svg")]
    out: Option<PathBuf>,
    /// Times of the maps of a shallow-water forecast, in the file's time unit (hours for
    /// the plane); repeat for several panels. Default: the first, middle and last times.
    #[arg(long = "time", value_name = "T")]
    times: Vec<f64>,
    /// Print a JSON object (kind, out, width, height) instead of the sentence.
    #[arg(long)]
    json: bool,
}

/// `input` with its extension replaced by .png.
pub(crate) fn picture_beside(input: &Path) -> PathBuf {
    input.with_extension("png")
}

/// Runs `plot`.
pub(crate) fn run(a: PlotArgs) -> Result<i32> {
    let out = a.out.clone().unwrap_or_else(|| picture_beside(&a.input));
    check_paths(&[("FILE.nc", Some(&a.input))], &[("--out", Some(&out))])?;
    let report = crate::plot::plot_file(&a.input, &out, &a.times)?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        println!(
            "{} plot of {} written to {} ({} × {} pixels)",
            report.kind,
            a.input.display(),
            out.display(),
            report.width,
            report.height
        );
    }
    Ok(0)
}
