//! The picture of a `forecast` file: a Hovmöller diagram (time × site) of a model on a line
//! or ring; maps of the height h at chosen times, with wind arrows, on the plane (drawn with
//! the domain's true aspect ratio).

use plotters::coord::Shift;
use plotters::prelude::*;

use super::canvas::{render, DrawError, Figure, PlotOutput};
use super::colour::ColourMap;
use super::field_panel::{Arrow, FieldPanel};
use super::source::{PlotSource, TimeAxis};
use crate::error::{Error, Result};

/// One map or diagram to draw, owning its data.
pub struct OwnedField {
    /// Title.
    pub title: String,
    /// rows × columns values.
    pub values: Vec<f64>,
    /// Column coordinates.
    pub x: Vec<f64>,
    /// Row coordinates.
    pub y: Vec<f64>,
    /// Horizontal axis label.
    pub x_label: String,
    /// Vertical axis label.
    pub y_label: String,
    /// Colour bar label.
    pub bar_label: String,
    /// Markers (observations).
    pub markers: Vec<(f64, f64)>,
    /// Arrows (wind).
    pub arrows: Vec<Arrow>,
}

impl OwnedField {
    /// The panel of this field with colours `map`.
    pub fn panel(&self, map: ColourMap) -> FieldPanel<'_> {
        FieldPanel {
            title: self.title.clone(),
            values: &self.values,
            x: &self.x,
            y: &self.y,
            x_label: self.x_label.clone(),
            y_label: self.y_label.clone(),
            map,
            bar_label: self.bar_label.clone(),
            markers: self.markers.clone(),
            arrows: self.arrows.clone(),
        }
    }
}

/// Panels side by side, all with one colour map.
pub struct PanelRow {
    /// The panels.
    pub fields: Vec<OwnedField>,
    /// Their common colours.
    pub map: ColourMap,
    /// Pixel size of each panel (with its colour bar).
    pub panel_size: (u32, u32),
}

impl Figure for PanelRow {
    fn size(&self) -> (u32, u32) {
        (
            self.panel_size.0 * self.fields.len() as u32,
            self.panel_size.1,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        let areas = root.split_evenly((1, self.fields.len()));
        for (f, area) in self.fields.iter().zip(&areas) {
            f.panel(self.map).draw(area)?;
        }
        Ok(())
    }
}

/// A Hovmöller diagram of `name` (time × position) from `source`, `title` above it.
/// `bar` labels its colour bar.
pub fn hovmoller(source: &PlotSource, name: &str, title: String, bar: &str) -> Result<OwnedField> {
    let shape = source.shape(name)?;
    let dims = source.dimension_names(name)?;
    if shape.len() != 2 {
        return Err(Error::input(
            source.path(),
            None,
            format!("variable `{name}` is not (time, position): shape {shape:?}"),
        ));
    }
    let time: TimeAxis = source.time_axis(&dims[0])?;
    let units = source.units(name);
    Ok(OwnedField {
        title,
        values: source.values(name)?,
        x: source.coordinate(&dims[1], shape[1]),
        y: time.values,
        x_label: format!("{} ({})", dims[1], source.long_name(&dims[1])),
        y_label: time.label,
        bar_label: units_label(bar, &units),
        markers: Vec::new(),
        arrows: Vec::new(),
    })
}

/// Index of the time in `axis` nearest to `t`, or an error naming the file when `t` lies
/// outside the axis.
pub fn time_index(source: &PlotSource, axis: &TimeAxis, t: f64) -> Result<usize> {
    let (first, last) = (axis.values[0], axis.values[axis.values.len() - 1]);
    let step = if axis.values.len() > 1 {
        (last - first) / (axis.values.len() - 1) as f64
    } else {
        0.0
    };
    if !(t.is_finite() && t >= first - 0.5 * step.abs() && t <= last + 0.5 * step.abs()) {
        return Err(Error::input(
            source.path(),
            None,
            format!(
                "--time {t} is outside the file's times {first}..={last} ({})",
                axis.unit
            ),
        ));
    }
    Ok((axis.values.iter().enumerate())
        .min_by(|a, b| (a.1 - t).abs().total_cmp(&(b.1 - t).abs()))
        .map(|(i, _)| i)
        .unwrap_or(0))
}

/// Map of `name` (time, y, x) at record `k` in km, with wind arrows from `u`, `v` when the
/// file has them.
/// `bar` labels its colour bar.
pub fn plane_map(
    source: &PlotSource,
    name: &str,
    k: usize,
    title: String,
    bar: &str,
) -> Result<OwnedField> {
    let shape = source.shape(name)?;
    let dims = source.dimension_names(name)?;
    let (ny, nx) = (shape[1], shape[2]);
    let all = source.values(name)?;
    let km = |v: Vec<f64>| v.into_iter().map(|c| c / 1000.0).collect::<Vec<f64>>();
    let x = km(source.coordinate(&dims[2], nx));
    let y = km(source.coordinate(&dims[1], ny));
    let arrows = wind_arrows(source, k, &x, &y).unwrap_or_default();
    let units = source.units(name);
    Ok(OwnedField {
        title,
        values: all[k * nx * ny..(k + 1) * nx * ny].to_vec(),
        x,
        y,
        x_label: "x (km)".into(),
        y_label: "y (km)".into(),
        bar_label: units_label(bar, &units),
        markers: Vec::new(),
        arrows,
    })
}

/// About 12 × 12 arrows of the wind at record `k`, on the cell centres `x`, `y` (km), each
/// from the nearest u and v faces; the strongest as long as the arrow spacing.
fn wind_arrows(source: &PlotSource, k: usize, x: &[f64], y: &[f64]) -> Option<Vec<Arrow>> {
    let (u_shape, v_shape) = (source.shape("u").ok()?, source.shape("v").ok()?);
    let (u, v) = (source.values("u").ok()?, source.values("v").ok()?);
    let (nx, ny) = (x.len(), y.len());
    let (unx, vny) = (u_shape[2], v_shape[1]);
    let stride = (nx.max(ny) / 12).max(1);
    let mut raw = Vec::new();
    for j in (stride / 2..ny).step_by(stride) {
        for i in (stride / 2..nx).step_by(stride) {
            let uu = u[k * ny * unx + j * unx + i.min(unx - 1)];
            let vv = v[k * vny * nx + j.min(vny - 1) * nx + i];
            raw.push((x[i], y[j], uu, vv));
        }
    }
    let top = raw.iter().map(|a| a.2.hypot(a.3)).fold(0.0, f64::max);
    if !(top > 0.0 && top.is_finite()) || nx < 2 {
        return None;
    }
    let spacing = stride as f64 * (x[1] - x[0]);
    Some(
        raw.into_iter()
            .map(|(a, b, uu, vv)| (a, b, spacing * uu / top, spacing * vv / top))
            .collect(),
    )
}

/// Draws the forecast file `source` into `output`; `times` picks the maps' times on the
/// plane. Returns the picture's size.
pub fn draw(source: &PlotSource, times: &[f64], output: &PlotOutput) -> Result<(u32, u32)> {
    let title = source
        .global_text("title")
        .unwrap_or_else(|| "forecast".into());
    let name = if source.has("h") { "h" } else { "x" }.to_string();
    let shape = source.shape(&name)?;
    if shape.len() < 2 {
        return Err(Error::input(
            source.path(),
            None,
            format!("variable `{name}` has no time and position dimensions to draw"),
        ));
    }
    if shape.len() == 3 {
        let axis = source.time_axis("time")?;
        let n = axis.values.len();
        let picked: Vec<usize> = if times.is_empty() {
            let mut v = vec![0, n / 2, n - 1];
            v.dedup();
            v
        } else {
            times
                .iter()
                .map(|&t| time_index(source, &axis, t))
                .collect::<Result<_>>()?
        };
        let fields = (picked.iter())
            .map(|&k| {
                plane_map(
                    source,
                    &name,
                    k,
                    format!("{title}: {name} at {:.3} {}", axis.values[k], axis.unit),
                    &name,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let map = ColourMap::sequential_over(fields.iter().flat_map(|f| f.values.iter()));
        let f = &fields[0];
        let aspect =
            (f.x[f.x.len() - 1] - f.x[0]).abs() / (f.y[f.y.len() - 1] - f.y[0]).abs().max(1e-12);
        let map_height = 460.0;
        let width = (map_height * aspect).clamp(200.0, 1400.0) as u32 + 90 + 70;
        return render(
            &PanelRow {
                fields,
                map,
                panel_size: (width, 560),
            },
            output,
        );
    }
    if !times.is_empty() {
        return Err(Error::invalid(
            "--time",
            "picks the maps of a plane forecast; this file is drawn as one diagram over all times",
        ));
    }
    let field = hovmoller(
        source,
        &name,
        format!("{title}: {name} over time and site"),
        &name,
    )?;
    let map = ColourMap::sequential_over(&field.values);
    render(
        &PanelRow {
            fields: vec![field],
            map,
            panel_size: (1000, 760),
        },
        output,
    )
}

/// "what (units)", or `what` alone for a dimensionless quantity.
pub fn units_label(what: &str, units: &str) -> String {
    if units.is_empty() {
        what.to_string()
    } else {
        format!("{what} ({units})")
    }
}
