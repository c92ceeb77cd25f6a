//! One heat-map panel with its colour bar: a Hovmöller diagram (site × time) or a map
//! (x × y), with optional markers (observations) and arrows (wind).

use plotters::coord::Shift;
use plotters::prelude::*;

use super::canvas::{drawing, DrawError, FAMILY};
use super::colour::ColourMap;

/// Arrows drawn over a map: (x, y) and the arrow's components in axis units.
pub type Arrow = (f64, f64, f64, f64);

/// A field on a rectilinear grid, to draw as coloured cells.
pub struct FieldPanel<'a> {
    /// The panel's title.
    pub title: String,
    /// rows × columns values, row-major: row i at `y[i]`, column j at `x[j]`.
    pub values: &'a [f64],
    /// Column coordinates (increasing).
    pub x: &'a [f64],
    /// Row coordinates (increasing).
    pub y: &'a [f64],
    /// Axis labels, with units.
    pub x_label: String,
    /// The vertical axis's label.
    pub y_label: String,
    /// The colours.
    pub map: ColourMap,
    /// The colour bar's label, with units.
    pub bar_label: String,
    /// Points to mark with small rings (observations).
    pub markers: Vec<(f64, f64)>,
    /// Arrows to draw (wind).
    pub arrows: Vec<Arrow>,
}

/// Cell edges around centres `c`: midpoints inside, half a spacing beyond the ends.
pub fn edges(c: &[f64]) -> Vec<f64> {
    match c.len() {
        0 => vec![0.0, 1.0],
        1 => vec![c[0] - 0.5, c[0] + 0.5],
        n => {
            let mut e = Vec::with_capacity(n + 1);
            e.push(c[0] - 0.5 * (c[1] - c[0]));
            e.extend(c.windows(2).map(|w| 0.5 * (w[0] + w[1])));
            e.push(c[n - 1] + 0.5 * (c[n - 1] - c[n - 2]));
            e
        }
    }
}

/// Tick labels without trailing noise: 3 significant digits.
pub fn tick(v: &f64) -> String {
    // Axis steps land on round numbers up to round-off: -5.6e-17 is 0.
    let a = v.abs();
    if a < 1e-14 {
        return "0".into();
    }
    if a != 0.0 && !(1e-3..1e5).contains(&a) {
        format!("{v:.1e}")
    } else {
        let s = format!("{v:.3}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        if s == "-0" {
            "0".into()
        } else {
            s.into()
        }
    }
}

impl FieldPanel<'_> {
    /// Draws the panel and its colour bar on `area`.
    pub fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        let (w, _) = area.dim_in_pixel();
        let (main, bar) = area.split_horizontally(w.saturating_sub(90));
        let (xe, ye) = (edges(self.x), edges(self.y));
        let (cols, rows) = (self.x.len(), self.y.len());
        let mut chart = ChartBuilder::on(&main)
            .caption(&self.title, (FAMILY, 17))
            .margin(6)
            .x_label_area_size(40)
            .y_label_area_size(58)
            .build_cartesian_2d(xe[0]..xe[cols.max(1)], ye[0]..ye[rows.max(1)])
            .map_err(drawing)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .label_style((FAMILY, 13))
            .axis_desc_style((FAMILY, 14))
            .draw()
            .map_err(drawing)?;
        let map = self.map;
        chart
            .draw_series((0..rows).flat_map(|i| {
                let (xe, ye) = (&xe, &ye);
                (0..cols).map(move |j| {
                    Rectangle::new(
                        [(xe[j], ye[i]), (xe[j + 1], ye[i + 1])],
                        map.colour(self.values[i * cols + j]).filled(),
                    )
                })
            }))
            .map_err(drawing)?;
        chart
            .draw_series(
                (self.markers.iter()).map(|&(x, y)| Circle::new((x, y), 2, BLACK.stroke_width(1))),
            )
            .map_err(drawing)?;
        chart
            .draw_series(self.arrows.iter().map(|&(x, y, dx, dy)| {
                PathElement::new(vec![(x, y), (x + dx, y + dy)], BLACK.stroke_width(1))
            }))
            .map_err(drawing)?;
        // Arrow heads: two short strokes back from the tip.
        chart
            .draw_series(self.arrows.iter().flat_map(|&(x, y, dx, dy)| {
                let tip = (x + dx, y + dy);
                [0.4_f64, -0.4].map(|a| {
                    let (c, s) = (a.cos(), a.sin());
                    let back = (-0.3 * (dx * c - dy * s), -0.3 * (dx * s + dy * c));
                    PathElement::new(
                        vec![tip, (tip.0 + back.0, tip.1 + back.1)],
                        BLACK.stroke_width(1),
                    )
                })
            }))
            .map_err(drawing)?;
        self.draw_bar(&bar)
    }

    fn draw_bar<DB: DrawingBackend>(&self, bar: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        colour_bar(bar, self.map, &self.bar_label)
    }
}

/// A colour bar on `bar`: a vertical gradient of `map` with five labelled values, `label`
/// above it.
pub fn colour_bar<DB: DrawingBackend>(
    bar: &DrawingArea<DB, Shift>,
    map: ColourMap,
    label: &str,
) -> Result<(), DrawError> {
    let (lo, hi) = map.range();
    let (_, h) = bar.dim_in_pixel();
    let (top, bottom) = (34_i32, h as i32 - 46);
    let (left, right) = (6_i32, 26_i32);
    let span = (bottom - top).max(1);
    for k in 0..span {
        let value = hi - (hi - lo) * (k as f64 + 0.5) / span as f64;
        bar.draw(&Rectangle::new(
            [(left, top + k), (right, top + k + 1)],
            map.colour(value).filled(),
        ))
        .map_err(drawing)?;
    }
    bar.draw(&Rectangle::new(
        [(left, top), (right, bottom)],
        BLACK.stroke_width(1),
    ))
    .map_err(drawing)?;
    for q in 0..5 {
        let value = hi - (hi - lo) * q as f64 / 4.0;
        let y = top + span * q / 4;
        bar.draw(&PathElement::new(
            vec![(right, y), (right + 4, y)],
            BLACK.stroke_width(1),
        ))
        .map_err(drawing)?;
        bar.draw(&Text::new(tick(&value), (right + 6, y - 7), (FAMILY, 12)))
            .map_err(drawing)?;
    }
    bar.draw(&Text::new(label, (0, top - 22), (FAMILY, 13)))
        .map_err(drawing)?;
    Ok(())
}
