//! One panel of histograms on common bins (O − B beside O − A).

use plotters::coord::Shift;
use plotters::prelude::*;

use super::canvas::{drawing, grid_axes, legend, DrawError, FAMILY};
use super::colour::{finite_range, LINES};
use super::field_panel::tick;

/// Histograms of several samples on shared bins.
pub struct HistogramPanel {
    /// Title.
    pub title: String,
    /// The values' axis label, with units.
    pub x_label: String,
    /// (legend, values, palette index) per sample.
    pub samples: Vec<(String, Vec<f64>, usize)>,
    /// Number of bins.
    pub bins: usize,
}

impl HistogramPanel {
    /// Counts of `values` in `bins` equal bins over [lo, hi].
    fn counts(values: &[f64], lo: f64, hi: f64, bins: usize) -> Vec<u32> {
        let mut c = vec![0; bins];
        for v in values.iter().filter(|v| v.is_finite()) {
            let k = (((v - lo) / (hi - lo)) * bins as f64).floor() as usize;
            c[k.min(bins - 1)] += 1;
        }
        c
    }

    /// Draws the panel on `area`.
    pub fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        let all: Vec<f64> = self
            .samples
            .iter()
            .flat_map(|s| s.1.iter().copied())
            .collect();
        let (lo, hi) = finite_range(&all);
        let bins = self.bins.max(1);
        let counts: Vec<Vec<u32>> = (self.samples.iter())
            .map(|s| Self::counts(&s.1, lo, hi, bins))
            .collect();
        let top = counts.iter().flatten().copied().max().unwrap_or(1).max(1);
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, (FAMILY, 17))
            .margin(8)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(lo..hi, 0.0..top as f64 * 1.1)
            .map_err(drawing)?;
        grid_axes(&mut chart, (&self.x_label, "count"), &tick, &tick)?;
        let width = (hi - lo) / bins as f64;
        for ((name, _, colour), c) in self.samples.iter().zip(&counts) {
            let colour = LINES[colour % LINES.len()];
            chart
                .draw_series(c.iter().enumerate().map(|(k, &n)| {
                    let x = lo + k as f64 * width;
                    Rectangle::new([(x, 0.0), (x + width, n as f64)], colour.mix(0.35).filled())
                }))
                .map_err(drawing)?
                .label(name)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 14, y + 5)], colour.filled())
                });
            chart
                .draw_series(c.iter().enumerate().map(|(k, &n)| {
                    let x = lo + k as f64 * width;
                    Rectangle::new([(x, 0.0), (x + width, n as f64)], colour.stroke_width(1))
                }))
                .map_err(drawing)?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    }
}
