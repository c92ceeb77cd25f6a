//! Where a figure is drawn: a PNG (plotters' pixel buffer, encoded here) or an SVG, written
//! atomically; the bundled DejaVu Sans registered once, so text renders on a machine without
//! fontconfig.

use std::path::Path;
use std::sync::Once;

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{Error, Result};
use crate::io::atomic_output::AtomicOutput;

/// DejaVu Sans (free licence, assets/fonts/LICENSE-DejaVu.txt).
const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// The font family every text of a figure uses.
pub const FAMILY: &str = "sans-serif";

/// The picture formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageFormat {
    /// Portable Network Graphics (pixels).
    Png,
    /// Scalable Vector Graphics.
    Svg,
}

impl ImageFormat {
    /// The format named by `path`'s extension (.png or .svg, any case).
    pub fn from_path(path: &Path) -> Result<Self> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_lowercase);
        match ext.as_deref() {
            Some("png") => Ok(Self::Png),
            Some("svg") => Ok(Self::Svg),
            _ => Err(Error::invalid(
                "--out",
                format!(
                    "{}: the picture's name must end in .png or .svg",
                    path.display()
                ),
            )),
        }
    }
}

/// Where and how a figure is written.
pub struct PlotOutput<'a> {
    /// The picture's path.
    pub path: &'a Path,
    /// Its format.
    pub format: ImageFormat,
}

/// A drawing error of plotters, as text.
pub type DrawError = String;

/// Converts a plotters error into a [`DrawError`].
pub fn drawing<E: std::fmt::Debug>(e: E) -> DrawError {
    format!("{e:?}")
}

/// A figure: its size and how it draws itself on any backend.
pub trait Figure {
    /// Width and height, pixels.
    fn size(&self) -> (u32, u32);
    /// Draws on `root`, which is white and of [`Figure::size`].
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), DrawError>;
}

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are compiled in and valid; a failure would leave plotters without a
        // font and every text call would report it.
        let _ = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT);
        let _ = plotters::style::register_font(FAMILY, FontStyle::Bold, FONT);
    });
}

/// Draws `figure` into `output`, atomically: a failed drawing leaves no file.
pub fn render<F: Figure>(figure: &F, output: &PlotOutput) -> Result<(u32, u32)> {
    register_font();
    let (w, h) = figure.size();
    let fail = |e: DrawError| Error::numerical("drawing the figure", e);
    let bytes = match output.format {
        ImageFormat::Png => {
            let mut pixels = vec![255u8; (w * h * 3) as usize];
            {
                let root = BitMapBackend::with_buffer(&mut pixels, (w, h)).into_drawing_area();
                root.fill(&WHITE).map_err(drawing).map_err(fail)?;
                figure.draw(&root).map_err(fail)?;
                root.present().map_err(drawing).map_err(fail)?;
            }
            let mut png = Vec::new();
            image::ImageEncoder::write_image(
                image::codecs::png::PngEncoder::new(&mut png),
                &pixels,
                w,
                h,
                image::ColorType::Rgb8,
            )
            .map_err(|e| fail(e.to_string()))?;
            png
        }
        ImageFormat::Svg => {
            let mut text = String::new();
            {
                let root = SVGBackend::with_string(&mut text, (w, h)).into_drawing_area();
                root.fill(&WHITE).map_err(drawing).map_err(fail)?;
                figure.draw(&root).map_err(fail)?;
                root.present().map_err(drawing).map_err(fail)?;
            }
            text.into_bytes()
        }
    };
    let out = AtomicOutput::new(output.path)?;
    std::fs::write(out.temp_path(), bytes).map_err(|e| Error::io(output.path, e))?;
    out.commit()?;
    Ok((w, h))
}

/// A chart with two linear f64 axes.
pub type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// The axes, labels and light grid every curve panel shares: `x_label` and `y_label` with
/// their units, tick labels by `x_tick` and `y_tick`.
pub fn grid_axes<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    (x_label, y_label): (&str, &str),
    x_tick: &dyn Fn(&f64) -> String,
    y_tick: &dyn Fn(&f64) -> String,
) -> std::result::Result<(), DrawError> {
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .x_label_formatter(x_tick)
        .y_label_formatter(y_tick)
        .light_line_style(RGBColor(235, 235, 235))
        .label_style((FAMILY, 13))
        .axis_desc_style((FAMILY, 14))
        .draw()
        .map_err(drawing)
}

/// The legend box of every curve panel, at `corner`.
pub fn legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    corner: SeriesLabelPosition,
) -> std::result::Result<(), DrawError> {
    chart
        .configure_series_labels()
        .position(corner)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(160, 160, 160))
        .label_font((FAMILY, 13))
        .draw()
        .map_err(drawing)
}
