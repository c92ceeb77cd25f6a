//! The picture of an observation file (`observe`, CSV or NetCDF): on a line or ring, every
//! observation at (position, time) coloured by its value; on the plane, the stations.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::canvas::{drawing, grid_axes, render, DrawError, Figure, PlotOutput, FAMILY};
use super::colour::{finite_range, ColourMap};
use super::field_panel::{colour_bar, tick};
use super::source::PlotSource;
use crate::error::{Error, Result};
use crate::io::csv_table::{parse_number, CsvTable};

/// The columns of an observation file a picture needs.
pub struct ObservationColumns {
    /// Times, in the file's unit.
    pub time: Vec<f64>,
    /// Grid positions (line or ring), or None on the plane.
    pub position: Option<Vec<f64>>,
    /// Station coordinates in metres (plane).
    pub xy: Option<(Vec<f64>, Vec<f64>)>,
    /// Observed values.
    pub value: Vec<f64>,
    /// The time axis label.
    pub time_label: String,
}

impl ObservationColumns {
    /// The columns of an observation file written by `observe` as NetCDF; None when
    /// `source` is another kind of file.
    pub fn from_netcdf(source: &PlotSource) -> Result<Option<Self>> {
        let one_dimensional_time = source.has("time") && source.shape("time")?.len() == 1;
        let located = source.has("position") || source.has("x") && source.has("y");
        if !(source.has("value") && one_dimensional_time && located) || source.has("step") {
            return Ok(None);
        }
        let time = source.time_axis("time")?;
        let position = (source.has("position"))
            .then(|| source.values("position"))
            .transpose()?;
        let xy = match position {
            None => Some((source.values("x")?, source.values("y")?)),
            Some(_) => None,
        };
        Ok(Some(Self {
            time: time.values,
            position,
            xy,
            value: source.values("value")?,
            time_label: time.label,
        }))
    }

    /// The columns of an observation CSV (`bytes` read from `path`).
    pub fn from_csv(path: &Path, bytes: Vec<u8>) -> Result<Self> {
        let mut table = CsvTable::new(path, bytes);
        let header = table
            .next_row()?
            .ok_or_else(|| Error::input(path, None, "no header row"))?;
        let names: Vec<String> = header.fields().map(str::to_string).collect();
        let column = |name: &str| names.iter().position(|n| n == name);
        let (Some(t), Some(v)) = (column("time"), column("value")) else {
            return Err(Error::input(
                path,
                Some(header.line()),
                "not a fourdvar file to plot: the header has no time and value columns",
            ));
        };
        let (p, x, y) = (column("position"), column("x"), column("y"));
        if p.is_none() && (x.is_none() || y.is_none()) {
            return Err(Error::input(
                path,
                Some(header.line()),
                "the header has neither a position column nor x and y",
            ));
        }
        let mut out = Self {
            time: Vec::new(),
            position: p.map(|_| Vec::new()),
            xy: p.is_none().then(|| (Vec::new(), Vec::new())),
            value: Vec::new(),
            time_label: "time (model time units)".into(),
        };
        while let Some(row) = table.next_row()? {
            let number = |k: usize| -> Result<f64> {
                let text = row.get(k).unwrap_or("");
                parse_number(text).map_err(|_| {
                    Error::input(
                        path,
                        Some(row.line()),
                        format!("`{}` is not a number in column {}", text, names[k]),
                    )
                })
            };
            out.time.push(number(t)?);
            out.value.push(number(v)?);
            if let (Some(k), Some(list)) = (p, out.position.as_mut()) {
                list.push(number(k)?);
            }
            if let (Some(kx), Some(ky), Some((xs, ys))) = (x, y, out.xy.as_mut()) {
                xs.push(number(kx)?);
                ys.push(number(ky)?);
            }
        }
        Ok(out)
    }
}

struct ObservationFigure {
    columns: ObservationColumns,
    title: String,
}

impl Figure for ObservationFigure {
    fn size(&self) -> (u32, u32) {
        if self.columns.position.is_some() {
            (1000, 700)
        } else {
            (820, 740)
        }
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        let c = &self.columns;
        let (w, _) = root.dim_in_pixel();
        let (main, bar) = root.split_horizontally(w - 90);
        let map = ColourMap::sequential_over(&c.value);
        // (horizontal, vertical) of each point and the axis labels.
        let (points, x_label, y_label): (Vec<(f64, f64)>, &str, &str) = match (&c.position, &c.xy) {
            (Some(p), _) => (
                p.iter().copied().zip(c.time.iter().copied()).collect(),
                "position (grid index)",
                c.time_label.as_str(),
            ),
            (None, Some((x, y))) => (
                x.iter()
                    .zip(y)
                    .map(|(a, b)| (a / 1000.0, b / 1000.0))
                    .collect(),
                "x (km)",
                "y (km)",
            ),
            _ => (Vec::new(), "", ""),
        };
        let xs: Vec<f64> = points.iter().map(|p| p.0).collect();
        let ys: Vec<f64> = points.iter().map(|p| p.1).collect();
        let ((x0, x1), (y0, y1)) = (finite_range(&xs), finite_range(&ys));
        let (px, py) = (0.03 * (x1 - x0), 0.03 * (y1 - y0));
        let mut chart = ChartBuilder::on(&main)
            .caption(&self.title, (FAMILY, 17))
            .margin(8)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x0 - px..x1 + px, y0 - py..y1 + py)
            .map_err(drawing)?;
        grid_axes(&mut chart, (x_label, y_label), &tick, &tick)?;
        chart
            .draw_series(
                points
                    .iter()
                    .zip(&c.value)
                    .map(|(&p, &v)| Circle::new(p, 4, map.colour(v).filled())),
            )
            .map_err(drawing)?;
        colour_bar(&bar, map, "value")
    }
}

/// Draws the observation columns `columns` into `output`.
pub fn draw(columns: ObservationColumns, path: &Path, output: &PlotOutput) -> Result<(u32, u32)> {
    if columns.value.is_empty() {
        return Err(Error::input(path, None, "holds no observations to draw"));
    }
    let what = if columns.position.is_some() {
        "position and time, coloured by value"
    } else {
        "stations, coloured by value"
    };
    let title = format!("{} observations: {what}", columns.value.len());
    render(&ObservationFigure { columns, title }, output)
}
