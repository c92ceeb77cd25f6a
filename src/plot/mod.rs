//! Pictures of fourdvar's output files (issue #13), drawn in Rust with plotters so that no
//! Python, system font or display is needed: `fourdvar plot FILE.nc` recognises the kind of
//! file and draws what a person wants to look at.
//!
//! - a forecast: a Hovmöller diagram (time × site) on a ring; maps of h with wind arrows on the
//!   plane;
//! - an analysis (assimilate, twin, demo): truth, background and analysis with the error
//!   panels beside them and the observations marked, the cost per iteration on a log scale,
//!   the O − B and O − A histograms; maps of the errors on the plane;
//! - a cycle: background and analysis RMSE per window with their time means after the
//!   burn-in.
//!
//! Layers: [`canvas`] (backends, font, file writing), [`colour`] (colour-blind-safe palette
//! and colour maps), [`field_panel`] and [`line_panel`] (one panel each), [`source`] (reading
//! the variables), and one module per kind of file.

pub mod analysis_figure;
pub mod canvas;
pub mod colour;
pub mod cycle_figure;
pub mod field_panel;
pub mod forecast_figure;
pub mod histogram_panel;
pub mod line_panel;
pub mod source;

use std::path::Path;

use crate::error::{Error, Result};

pub use canvas::{ImageFormat, PlotOutput};
use source::PlotSource;

/// The kinds of file `fourdvar plot` draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// `forecast`: a trajectory.
    Forecast,
    /// `assimilate`, `twin`, `demo`: one window's analysis.
    Analysis,
    /// `cycle`: a cycled experiment.
    Cycle,
}

impl FileKind {
    /// The kind of `source`, from the variables it holds.
    pub fn of(source: &PlotSource) -> Result<Self> {
        if source.has("rmse_analysis") && source.has("rmse_background") {
            Ok(Self::Cycle)
        } else if source.has("analysis") || source.has("analysis_h") {
            Ok(Self::Analysis)
        } else if source.has("step") && (source.has("x") || source.has("h")) {
            Ok(Self::Forecast)
        } else {
            Err(Error::input(
                source.path(),
                None,
                "not a file fourdvar plots: no forecast (step and x or h), analysis \
                 (analysis) or cycle (rmse_analysis) variables",
            ))
        }
    }

    /// The kind's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Forecast => "forecast",
            Self::Analysis => "analysis",
            Self::Cycle => "cycle",
        }
    }
}

/// What `plot` drew.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PlotReport {
    /// The kind of file.
    pub kind: &'static str,
    /// The picture written.
    pub out: std::path::PathBuf,
    /// Its size, pixels.
    pub width: u32,
    /// Its height, pixels.
    pub height: u32,
}

/// Draws `input` into `out` (PNG or SVG by its extension). `times` picks the times of map
/// panels (plane forecasts), in the file's time units; empty: first, middle and last.
pub fn plot_file(input: &Path, out: &Path, times: &[f64]) -> Result<PlotReport> {
    let format = ImageFormat::from_path(out)?;
    let source = PlotSource::open(input)?;
    let kind = FileKind::of(&source)?;
    let output = PlotOutput { path: out, format };
    let (width, height) = match kind {
        FileKind::Forecast => forecast_figure::draw(&source, times, &output)?,
        FileKind::Analysis => analysis_figure::draw(&source, &output)?,
        FileKind::Cycle => cycle_figure::draw(&source, &output)?,
    };
    Ok(PlotReport {
        kind: kind.name(),
        out: out.to_path_buf(),
        width,
        height,
    })
}
