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
//!   burn-in;
//! - an observation file (CSV or NetCDF): position × time coloured by value, or the
//!   stations on the plane;
//! - the RNN mode's loss curve (CSV), gradient flow (CSV) and input sensitivity (JSON).
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
pub mod observation_figure;
pub mod rnn_figures;
pub mod source;

use std::path::Path;

use crate::error::{Error, Result};
use crate::io::state_file::{input_content, InputContent};

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
        } else if source.role("analysis").is_some() {
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

/// The most bytes of a text file (CSV, JSON) read for a picture.
const MAX_TEXT_BYTES: u64 = 1 << 30;

/// Draws `input` into `out` (PNG or SVG by its extension). `times` picks the times of map
/// panels (plane forecasts), in the file's time units; empty: first, middle and last.
pub fn plot_file(input: &Path, out: &Path, times: &[f64]) -> Result<PlotReport> {
    let format = ImageFormat::from_path(out)?;
    let output = PlotOutput { path: out, format };
    let (kind, (width, height)) = match input_content(input, MAX_TEXT_BYTES, "a file to plot")? {
        InputContent::NetCdf => draw_netcdf(input, times, &output)?,
        InputContent::Text(bytes) => {
            if !times.is_empty() {
                return Err(Error::invalid(
                    "--time",
                    "picks the maps of a plane forecast (NetCDF)",
                ));
            }
            draw_text(input, bytes, &output)?
        }
        InputContent::Empty => return Err(Error::input(input, None, "the file is empty")),
    };
    Ok(PlotReport {
        kind,
        out: out.to_path_buf(),
        width,
        height,
    })
}

/// A NetCDF file: forecast, analysis, cycle or observations.
fn draw_netcdf(
    input: &Path,
    times: &[f64],
    output: &PlotOutput,
) -> Result<(&'static str, (u32, u32))> {
    let source = PlotSource::open(input)?;
    if let Some(columns) = observation_figure::ObservationColumns::from_netcdf(&source)? {
        if !times.is_empty() {
            return Err(Error::invalid(
                "--time",
                "picks the maps of a plane forecast",
            ));
        }
        return Ok((
            "observations",
            observation_figure::draw(columns, input, output)?,
        ));
    }
    let kind = FileKind::of(&source)?;
    let size = match kind {
        FileKind::Forecast => forecast_figure::draw(&source, times, output)?,
        FileKind::Analysis | FileKind::Cycle if !times.is_empty() => {
            return Err(Error::invalid(
                "--time",
                "picks the maps of a plane forecast",
            ))
        }
        FileKind::Analysis => analysis_figure::draw(&source, output)?,
        FileKind::Cycle => cycle_figure::draw(&source, output)?,
    };
    Ok((kind.name(), size))
}

/// A text file: an RNN loss curve or gradient flow (CSV), an input sensitivity (JSON), or
/// observations (CSV).
fn draw_text(
    input: &Path,
    bytes: Vec<u8>,
    output: &PlotOutput,
) -> Result<(&'static str, (u32, u32))> {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace());
    if start.is_some_and(|i| bytes[i] == b'{') {
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| Error::input(input, Some(e.line()), format!("not valid JSON: {e}")))?;
        let numbers = |key: &str| -> Option<Vec<f64>> {
            value
                .get(key)?
                .as_array()?
                .iter()
                .map(|v| v.as_f64())
                .collect()
        };
        let (Some(norms), Some(top)) = (numbers("norms"), numbers("top_steps")) else {
            return Err(Error::input(
                input,
                None,
                "not a JSON file fourdvar plots (rnn sensitivity output has `norms` and `top_steps`)",
            ));
        };
        let top: Vec<usize> = top.iter().map(|&t| t as usize).collect();
        return Ok((
            "sensitivity",
            rnn_figures::sensitivity(&norms, &top, output)?,
        ));
    }
    if let Some(c) = rnn_figures::csv_columns(input, bytes.clone(), &["iteration", "loss"])? {
        let points: Vec<(f64, f64, Option<f64>)> = (0..c[0].len())
            .map(|i| (c[0][i], c[1][i], c.get(2).map(|a| a[i])))
            .collect();
        let name = input
            .file_name()
            .map_or(String::new(), |n| n.to_string_lossy().into_owned());
        return Ok((
            "loss curve",
            rnn_figures::loss_curve(&points, &name, output)?,
        ));
    }
    if let Some(c) = rnn_figures::csv_columns(input, bytes.clone(), &["lag", "norm"])? {
        let points: Vec<(f64, f64)> = c[0].iter().copied().zip(c[1].iter().copied()).collect();
        return Ok((
            "gradient flow",
            rnn_figures::gradient_flow(&points, output)?,
        ));
    }
    let columns = observation_figure::ObservationColumns::from_csv(input, bytes)?;
    Ok((
        "observations",
        observation_figure::draw(columns, input, output)?,
    ))
}
