//! Pictures of the RNN mode: the training loss (and accuracy) per iteration, the gradient
//! flow ‖∂L/∂h_t‖ against the lag T − t on a log axis (vanishing or exploding gradients), and
//! the input sensitivity ‖∂L/∂u_t‖ per step with the attacked steps marked.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::canvas::{drawing, render, DrawError, Figure, PlotOutput, FAMILY};
use super::colour::LINES;
use super::line_panel::{LinePanel, Series};
use crate::error::{Error, Result};
use crate::io::csv_table::{parse_number, CsvTable};

/// Curves side by side.
pub struct Panels {
    panels: Vec<LinePanel>,
    /// Steps to mark with vertical lines on the first panel, and their legend.
    marks: Vec<f64>,
}

impl Figure for Panels {
    fn size(&self) -> (u32, u32) {
        (800 * self.panels.len() as u32, 560)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        let areas = root.split_evenly((1, self.panels.len()));
        for (p, a) in self.panels.iter().zip(&areas) {
            p.draw(a)?;
        }
        if !self.marks.is_empty() {
            // The marks as a note under the title; the curve itself carries them as points.
            let text = format!(
                "attacked steps: {}",
                (self.marks.iter().map(|m| format!("{m}")))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            areas[0]
                .draw(&Text::new(
                    text,
                    (90, 30),
                    (FAMILY, 14).into_font().color(&LINES[4]),
                ))
                .map_err(drawing)?;
        }
        Ok(())
    }
}

/// The loss curve (iteration, loss, accuracy) with `title`, into `output`.
pub fn loss_curve(
    points: &[(f64, f64, Option<f64>)],
    title: &str,
    output: &PlotOutput,
) -> Result<(u32, u32)> {
    let x: Vec<f64> = points.iter().map(|p| p.0).collect();
    let mut panels = vec![LinePanel {
        title: format!("{title}: training loss"),
        x_label: "iteration (L-BFGS) or epoch".into(),
        y_label: "loss (log scale)".into(),
        series: vec![Series {
            name: "training loss".into(),
            x: x.clone(),
            y: points.iter().map(|p| p.1).collect(),
            colour: 5,
        }],
        levels: Vec::new(),
        log_y: true,
    }];
    if points.iter().any(|p| p.2.is_some()) {
        panels.push(LinePanel {
            title: format!("{title}: training accuracy"),
            x_label: "iteration (L-BFGS) or epoch".into(),
            y_label: "accuracy".into(),
            series: vec![Series {
                name: "training accuracy".into(),
                x,
                y: points.iter().map(|p| p.2.unwrap_or(f64::NAN)).collect(),
                colour: 3,
            }],
            levels: Vec::new(),
            log_y: false,
        });
    }
    render(
        &Panels {
            panels,
            marks: Vec::new(),
        },
        output,
    )
}

/// The gradient flow (lag, ‖∂L/∂h_{T−lag}‖) into `output`.
pub fn gradient_flow(points: &[(f64, f64)], output: &PlotOutput) -> Result<(u32, u32)> {
    let panel = LinePanel {
        title: "gradient flow: |dL/dh_t| for a loss at the last step T".into(),
        x_label: "lag T − t (steps)".into(),
        y_label: "|dL/dh_t| (log scale)".into(),
        series: vec![Series {
            name: "|dL/dh_t|".into(),
            x: points.iter().map(|p| p.0).collect(),
            y: points.iter().map(|p| p.1).collect(),
            colour: 5,
        }],
        levels: Vec::new(),
        log_y: true,
    };
    render(
        &Panels {
            panels: vec![panel],
            marks: Vec::new(),
        },
        output,
    )
}

/// The input sensitivity ‖∂L/∂u_t‖ per step, the attacked steps `top` marked, into
/// `output`.
pub fn sensitivity(norms: &[f64], top: &[usize], output: &PlotOutput) -> Result<(u32, u32)> {
    let steps: Vec<f64> = (0..norms.len()).map(|t| t as f64).collect();
    let marked: Vec<f64> = top
        .iter()
        .filter(|&&t| t < norms.len())
        .map(|&t| t as f64)
        .collect();
    let panel = LinePanel {
        title: "input sensitivity |dL/du_t| per step".into(),
        x_label: "step t".into(),
        y_label: "|dL/du_t| (log scale)".into(),
        series: vec![
            Series {
                name: "|dL/du_t|".into(),
                x: steps,
                y: norms.to_vec(),
                colour: 5,
            },
            // The attacked steps: a short vertical stroke at each, drawn as a series.
            Series {
                name: "attacked steps".into(),
                x: marked.iter().flat_map(|&t| [t, t, f64::NAN]).collect(),
                y: (top.iter().filter(|&&t| t < norms.len()))
                    .flat_map(|&t| [norms[t] * 0.3, norms[t] * 3.0, f64::NAN])
                    .collect(),
                colour: 4,
            },
        ],
        levels: Vec::new(),
        log_y: true,
    };
    render(
        &Panels {
            panels: vec![panel],
            marks: marked,
        },
        output,
    )
}

/// The columns of the CSV at `path` whose header is exactly `header` (as numbers), or
/// None for another header.
pub fn csv_columns(path: &Path, bytes: Vec<u8>, header: &[&str]) -> Result<Option<Vec<Vec<f64>>>> {
    let mut table = CsvTable::new(path, bytes);
    let Some(first) = table.next_row()? else {
        return Ok(None);
    };
    let names: Vec<&str> = first.fields().collect();
    if names.len() < header.len() || names[..header.len()] != *header {
        return Ok(None);
    }
    let mut columns = vec![Vec::new(); names.len()];
    while let Some(row) = table.next_row()? {
        for (k, column) in columns.iter_mut().enumerate() {
            let text = row.get(k).unwrap_or("");
            let v = parse_number(text).map_err(|_| {
                Error::input(
                    path,
                    Some(row.line()),
                    format!("`{text}` is not a number in column {}", names[k]),
                )
            })?;
            column.push(v);
        }
    }
    Ok(Some(columns))
}

/// A figure of one panel of curves.
pub fn single(panel: LinePanel) -> Panels {
    Panels {
        panels: vec![panel],
        marks: Vec::new(),
    }
}
