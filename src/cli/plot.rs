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

/// `--plot`: a picture of the command's output beside it.
#[derive(Debug, Args)]
pub(crate) struct PictureArgs {
    /// Also draw the result as a PNG beside the output file (FILE.png for FILE.nc, for the
    /// loss curve CURVE.csv or the JSON), as `fourdvar plot` would, and print its path.
    #[arg(long)]
    plot: bool,
}

impl PictureArgs {
    /// Refuses, before any work, a picture path that is the output itself or cannot be
    /// replaced (a directory, a device).
    pub(crate) fn check(&self, out: &Path) -> Result<()> {
        if !self.plot {
            return Ok(());
        }
        let picture = picture_beside(out);
        check_paths(&[("--out", Some(out))], &[("--plot", Some(&picture))])
    }

    /// Draws `out` beside it when asked; the path goes to stderr when stdout carries JSON.
    pub(crate) fn draw(&self, out: &Path, json: bool) -> Result<()> {
        if !self.plot {
            return Ok(());
        }
        let picture = picture_beside(out);
        crate::plot::plot_file(out, &picture, &[])
            .map_err(|e| e.within(format!("the picture of {}", out.display())))?;
        if json {
            eprintln!("picture: {}", picture.display());
        } else {
            println!("picture: {}", picture.display());
        }
        Ok(())
    }
}

impl PictureArgs {
    /// The picture's path: beside `out`, else `default` in the current directory; when
    /// `--plot` is given, refused before any work if it would replace one of `inputs` or
    /// `out`, or something that is not a regular file.
    pub(crate) fn path_beside(
        &self,
        out: Option<&Path>,
        default: &str,
        inputs: &[(&str, Option<&Path>)],
    ) -> Result<PathBuf> {
        let picture = out.map_or(PathBuf::from(default), picture_beside);
        if self.plot {
            let mut given = inputs.to_vec();
            given.push(("--out", out));
            check_paths(&given, &[("--plot", Some(&picture))])?;
        }
        Ok(picture)
    }

    /// Whether `--plot` was given.
    pub(crate) fn wanted(&self) -> bool {
        self.plot
    }

    /// Draws with `draw` into `picture` when asked, and prints the path.
    pub(crate) fn draw_with(
        &self,
        picture: &Path,
        draw: impl FnOnce(&crate::plot::PlotOutput) -> Result<(u32, u32)>,
    ) -> Result<()> {
        if !self.plot {
            return Ok(());
        }
        let format = crate::plot::ImageFormat::from_path(picture)?;
        draw(&crate::plot::PlotOutput {
            path: picture,
            format,
        })?;
        println!("picture: {}", picture.display());
        Ok(())
    }
}
