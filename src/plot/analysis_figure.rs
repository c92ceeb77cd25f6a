//! The picture of an analysis file (assimilate, twin, demo).
//!
//! On a line or ring: Hovmöller panels of the truth (twins), the background and the analysis
//! on one colour scale with the observations marked, the background and analysis errors on
//! one diverging scale (the increment when there is no truth), the cost J, J_b, J_o and
//! ‖∇J‖ per iteration on a log scale, and the O − B and O − A histograms. On the plane: maps
//! of h at the window start in place of the diagrams.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::canvas::{drawing, render, DrawError, Figure, PlotOutput, FAMILY};
use super::colour::ColourMap;
use super::forecast_figure::{hovmoller, plane_map, OwnedField};
use super::histogram_panel::HistogramPanel;
use super::line_panel::{LinePanel, Series};
use super::source::PlotSource;
use crate::error::{Error, Result};

struct AnalysisFigure {
    /// Truth (when known), background, analysis.
    states: Vec<OwnedField>,
    state_map: ColourMap,
    /// Background and analysis errors, or the increment.
    errors: Vec<OwnedField>,
    error_map: ColourMap,
    cost: Option<LinePanel>,
    histogram: Option<HistogramPanel>,
    summary: Vec<String>,
    panel: (u32, u32),
}

impl Figure for AnalysisFigure {
    fn size(&self) -> (u32, u32) {
        (3 * self.panel.0, 3 * self.panel.1)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        let rows = root.split_evenly((3, 1));
        let top = rows[0].split_evenly((1, 3));
        for (f, area) in self.states.iter().zip(&top) {
            f.panel(self.state_map).draw(area)?;
        }
        let middle = rows[1].split_evenly((1, 3));
        for (f, area) in self.errors.iter().zip(&middle) {
            f.panel(self.error_map).draw(area)?;
        }
        let bottom = rows[2].split_evenly((1, 3));
        // The third cell of a twin's error row is free for the cost; without a truth the
        // increment takes one error cell, and the cost moves down.
        let (cost_area, hist_area, text_area) = if self.errors.len() == 2 {
            (&middle[2], &bottom[0], &bottom[1])
        } else {
            (&bottom[0], &bottom[1], &bottom[2])
        };
        if let Some(c) = &self.cost {
            c.draw(cost_area)?;
        }
        if let Some(h) = &self.histogram {
            h.draw(hist_area)?;
        }
        for (i, line) in self.summary.iter().enumerate() {
            text_area
                .draw(&Text::new(
                    line.as_str(),
                    (20, 30 + 26 * i as i32),
                    (FAMILY, 17),
                ))
                .map_err(drawing)?;
        }
        Ok(())
    }
}

/// √(mean square) of a − b over finite pairs.
fn rmse(a: &[f64], b: &[f64]) -> f64 {
    let (s, n) = (a.iter().zip(b))
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .fold((0.0, 0usize), |(s, n), (x, y)| {
            (s + (x - y) * (x - y), n + 1)
        });
    (s / n.max(1) as f64).sqrt()
}

/// Draws the analysis file `source` into `output`; returns the picture's size.
pub fn draw(source: &PlotSource, output: &PlotOutput) -> Result<(u32, u32)> {
    let title = source
        .global_text("title")
        .unwrap_or_else(|| "analysis".into());
    let name = |role: &str| source.role(role);
    let (background, analysis) = match (name("background"), name("analysis")) {
        (Some(b), Some(a)) => (b, a),
        _ => {
            return Err(Error::input(
                source.path(),
                None,
                "an analysis file needs background and analysis variables",
            ))
        }
    };
    let truth = name("truth");
    let shape = source.shape(&analysis)?;
    let plane = shape.len() == 3;
    let value = if plane { "h" } else { "x" };
    let field = |var: &str, what: &str| -> Result<OwnedField> {
        if plane {
            plane_map(
                source,
                var,
                0,
                format!("{what}: h at the window start"),
                value,
            )
        } else {
            hovmoller(source, var, what.to_string(), value)
        }
    };
    let mut states = Vec::new();
    if let Some(t) = &truth {
        states.push(field(t, "truth")?);
    }
    states.push(field(&background, "background")?);
    states.push(field(&analysis, "analysis")?);
    // Observations on the first (truth or background) panel: (site, time) on a line or
    // ring, the stations (km) on the plane.
    if !plane && source.has("obs_time") && source.has("obs_position") {
        let time = source.time_axis("obs_time")?;
        let position = source.values("obs_position")?;
        states[0].markers = (time.values.into_iter().zip(position))
            .map(|(t, p)| (p, t))
            .collect();
        states[0].title.push_str(", observations ○");
    } else if plane && source.has("obs_x") && source.has("obs_y") {
        let (x, y) = (source.values("obs_x")?, source.values("obs_y")?);
        states[0].markers = (x.iter().zip(&y))
            .map(|(a, b)| (a / 1000.0, b / 1000.0))
            .collect();
        states[0].title.push_str(", stations ○");
    }
    let state_map = ColourMap::sequential_over(states.iter().flat_map(|f| f.values.iter()));
    let difference = |a: &OwnedField, b: &OwnedField, what: String| OwnedField {
        title: what,
        values: a.values.iter().zip(&b.values).map(|(x, y)| x - y).collect(),
        x: a.x.clone(),
        y: a.y.clone(),
        x_label: a.x_label.clone(),
        y_label: a.y_label.clone(),
        bar_label: a.bar_label.replace(value, "difference"),
        markers: Vec::new(),
        arrows: Vec::new(),
    };
    let mut summary = vec![title.clone()];
    let errors = match truth {
        Some(_) => {
            let (t, b, a) = (&states[0], &states[1], &states[2]);
            // Over the assimilation window only, when the file marks it (the records after
            // it are the forecast, whose error grows again).
            let per_record = if plane { 0 } else { t.x.len() };
            let in_window = match source.has("in_window") && per_record > 0 {
                true => source.values("in_window")?,
                false => Vec::new(),
            };
            let window = |v: &[f64]| -> Vec<f64> {
                if in_window.is_empty() {
                    return v.to_vec();
                }
                (v.chunks(per_record).zip(&in_window))
                    .filter(|(_, w)| **w > 0.5)
                    .flat_map(|(c, _)| c.iter().copied())
                    .collect()
            };
            let (tw, bw, aw) = (window(&t.values), window(&b.values), window(&a.values));
            let (rb, ra) = (rmse(&bw, &tw), rmse(&aw, &tw));
            let span = if in_window.is_empty() {
                ""
            } else {
                " over the window"
            };
            summary.push(format!("RMSE{span}: background {rb:.4}, analysis {ra:.4}"));
            vec![
                difference(b, t, format!("background − truth (RMSE{span} {rb:.3})")),
                difference(a, t, format!("analysis − truth (RMSE{span} {ra:.3})")),
            ]
        }
        None => vec![difference(
            &states[1],
            &states[0],
            "increment: analysis − background".into(),
        )],
    };
    let error_map = ColourMap::diverging_over(errors.iter().flat_map(|f| f.values.iter()));
    let cost = if source.has("cost") {
        let iteration = source.values("iteration")?;
        let series = [
            ("J", "cost", 0),
            ("J_b", "background_cost", 1),
            ("J_o", "observation_cost", 2),
            ("‖∇J‖", "gradient_norm", 4),
        ]
        .into_iter()
        .filter(|(_, v, _)| source.has(v))
        .map(|(label, v, colour)| {
            Ok(Series {
                name: label.into(),
                x: iteration.clone(),
                y: source.values(v)?,
                colour,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        summary.push(format!(
            "{} minimiser iterations",
            iteration.len().saturating_sub(1)
        ));
        Some(LinePanel {
            title: "cost and gradient norm per iteration".into(),
            x_label: "iteration".into(),
            y_label: "J, J_b, J_o, ‖∇J‖ (log scale)".into(),
            series,
            levels: Vec::new(),
            log_y: true,
        })
    } else {
        None
    };
    let histogram = if source.has("obs_minus_background") && source.has("obs_minus_analysis") {
        let (ob, oa) = (
            source.values("obs_minus_background")?,
            source.values("obs_minus_analysis")?,
        );
        summary.push(format!(
            "{} observations: RMS O−B {:.3}, O−A {:.3}",
            ob.len(),
            rmse(&ob, &vec![0.0; ob.len()]),
            rmse(&oa, &vec![0.0; oa.len()])
        ));
        Some(HistogramPanel {
            title: "observation minus background / analysis".into(),
            x_label: "y − H(x)".into(),
            samples: vec![("O − B".into(), ob, 1), ("O − A".into(), oa, 5)],
            bins: 30,
        })
    } else {
        None
    };
    let panel = if plane { (640, 520) } else { (620, 480) };
    render(
        &AnalysisFigure {
            states,
            state_map,
            errors,
            error_map,
            cost,
            histogram,
            summary,
            panel,
        },
        output,
    )
}
