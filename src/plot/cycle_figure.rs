//! The picture of a `cycle` file: the forecast (background) and analysis RMSE at every
//! window end, with their time means after the burn-in as dashed lines (as DAPPER shows a
//! cycled experiment).

use plotters::coord::Shift;
use plotters::prelude::*;

use super::canvas::{render, DrawError, Figure, PlotOutput};
use super::line_panel::{Level, LinePanel, Series};
use super::source::PlotSource;
use crate::error::Result;

/// Palette indices: forecast orange, analysis blue.
const FORECAST: usize = 1;
const ANALYSIS: usize = 5;

struct CycleFigure {
    panel: LinePanel,
}

impl Figure for CycleFigure {
    fn size(&self) -> (u32, u32) {
        (1100, 560)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        self.panel.draw(root)
    }
}

/// Draws the cycle file `source` into `output`; returns the picture's size.
pub fn draw(source: &PlotSource, output: &PlotOutput) -> Result<(u32, u32)> {
    let time = source.time_axis("time")?;
    let forecast = source.values("rmse_forecast_end")?;
    let analysis = source.values("rmse_analysis")?;
    let burn_in = source.global_number("burn_in_windows").unwrap_or(0.0);
    let mean = |name: &str| source.global_number(name);
    let mut levels = Vec::new();
    if let Some(v) = mean("mean_rmse_forecast_end") {
        levels.push(Level {
            name: format!("forecast, mean {v:.3}"),
            value: v,
            colour: FORECAST,
        });
    }
    if let Some(v) = mean("mean_rmse_analysis") {
        levels.push(Level {
            name: format!("analysis, mean {v:.3}"),
            value: v,
            colour: ANALYSIS,
        });
    }
    let title = source
        .global_text("title")
        .unwrap_or_else(|| "cycled experiment".into());
    let panel = LinePanel {
        title: format!(
            "{title}: RMSE at each window end ({} windows; means after {burn_in} burn-in windows)",
            time.values.len()
        ),
        x_label: time.label.clone(),
        y_label: "RMSE against the truth".into(),
        series: vec![
            Series {
                name: "forecast from the previous analysis".into(),
                x: time.values.clone(),
                y: forecast,
                colour: FORECAST,
            },
            Series {
                name: "analysis".into(),
                x: time.values.clone(),
                y: analysis,
                colour: ANALYSIS,
            },
        ],
        levels,
        log_y: false,
    };
    render(&CycleFigure { panel }, output)
}
