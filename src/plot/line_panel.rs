//! One panel of curves (RMSE per window, cost per iteration), optionally on a logarithmic
//! vertical axis, with horizontal reference levels (time means).

use plotters::coord::Shift;
use plotters::prelude::*;

use super::canvas::{drawing, grid_axes, legend, DrawError, FAMILY};
use super::colour::{finite_range, LINES};
use super::field_panel::tick;

/// One curve.
pub struct Series {
    /// The legend's text.
    pub name: String,
    /// Abscissae.
    pub x: Vec<f64>,
    /// Ordinates (non-finite points are skipped).
    pub y: Vec<f64>,
    /// The palette index ([`LINES`]).
    pub colour: usize,
}

/// A horizontal line at `value`, drawn dashed in the colour of palette index `colour`.
pub struct Level {
    /// The legend's text.
    pub name: String,
    /// Where.
    pub value: f64,
    /// Palette index.
    pub colour: usize,
}

/// Curves on common axes.
pub struct LinePanel {
    /// Title.
    pub title: String,
    /// Horizontal axis label, with units.
    pub x_label: String,
    /// Vertical axis label, with units.
    pub y_label: String,
    /// The curves.
    pub series: Vec<Series>,
    /// Reference levels.
    pub levels: Vec<Level>,
    /// A logarithmic vertical axis (values ≤ 0 are skipped).
    pub log_y: bool,
}

impl LinePanel {
    fn transform(&self, y: f64) -> Option<f64> {
        match self.log_y {
            true if y > 0.0 && y.is_finite() => Some(y.log10()),
            true => None,
            false => y.is_finite().then_some(y),
        }
    }

    /// Draws the panel on `area`.
    pub fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        let xs: Vec<f64> = self
            .series
            .iter()
            .flat_map(|s| s.x.iter().copied())
            .collect();
        let ys: Vec<f64> = (self.series.iter())
            .flat_map(|s| s.y.iter().filter_map(|&y| self.transform(y)))
            .chain(self.levels.iter().filter_map(|l| self.transform(l.value)))
            .collect();
        let (x0, x1) = finite_range(&xs);
        let (y0, y1) = finite_range(&ys);
        let pad = if self.log_y { 0.1 } else { 0.05 * (y1 - y0) };
        let bottom = if self.log_y || y0 < 0.0 {
            y0 - pad
        } else {
            0.0
        };
        let log = self.log_y;
        // On a log axis only the powers of ten are labelled.
        // Within about a decade every tick is labelled.
        let few_decades = y1 - y0 < 1.5;
        let y_tick = move |v: &f64| match log {
            true if few_decades => tick(&10f64.powf(*v)),
            true if (v - v.round()).abs() < 1e-6 => tick(&10f64.powf(v.round())),
            true => String::new(),
            false => tick(v),
        };
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, (FAMILY, 17))
            .margin(8)
            .x_label_area_size(40)
            .y_label_area_size(62)
            .build_cartesian_2d(x0..x1, bottom..y1 + pad)
            .map_err(drawing)?;
        grid_axes(&mut chart, (&self.x_label, &self.y_label), &tick, &y_tick)?;
        for s in &self.series {
            let colour = LINES[s.colour % LINES.len()];
            // A point that cannot be drawn (NaN, ≤ 0 on a log axis) breaks the curve.
            let mut segments = vec![Vec::new()];
            for (&x, &y) in s.x.iter().zip(&s.y) {
                match self.transform(y) {
                    Some(t) if x.is_finite() => segments.last_mut().expect("one").push((x, t)),
                    _ => segments.push(Vec::new()),
                }
            }
            segments.retain(|seg| !seg.is_empty());
            for (k, seg) in segments.into_iter().enumerate() {
                let drawn = chart
                    .draw_series(LineSeries::new(seg, colour.stroke_width(2)))
                    .map_err(drawing)?;
                if k == 0 {
                    drawn.label(&s.name).legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
                    });
                }
            }
        }
        for l in &self.levels {
            let Some(v) = self.transform(l.value) else {
                continue;
            };
            let colour = LINES[l.colour % LINES.len()];
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(x0, v), (x1, v)],
                    8,
                    5,
                    colour.stroke_width(2),
                ))
                .map_err(drawing)?
                .label(&l.name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(1))
                });
        }
        // The legend goes to the right-hand corner the curves leave emptier.
        let mid = 0.5 * (bottom + y1 + pad);
        let right_half = |upper: bool| {
            (self.series.iter())
                .flat_map(|s| s.x.iter().zip(&s.y))
                .filter(|(x, y)| {
                    **x > 0.5 * (x0 + x1) && self.transform(**y).is_some_and(|t| (t > mid) == upper)
                })
                .count()
        };
        let corner = if right_half(true) > right_half(false) {
            SeriesLabelPosition::LowerRight
        } else {
            SeriesLabelPosition::UpperRight
        };
        legend(&mut chart, corner)
    }
}
