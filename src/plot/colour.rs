//! Colour-blind-safe colours: the Okabe–Ito palette for lines and markers, viridis for
//! values and a blue–white–red diverging map (white at zero) for errors and increments.

use plotters::style::RGBColor;

/// Okabe & Ito (2008): black, orange, sky blue, bluish green, vermillion, blue, reddish
/// purple, yellow — distinguishable with every common colour-vision deficiency.
pub const LINES: [RGBColor; 8] = [
    RGBColor(0, 0, 0),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 158, 115),
    RGBColor(213, 94, 0),
    RGBColor(0, 114, 178),
    RGBColor(204, 121, 167),
    RGBColor(240, 228, 66),
];

/// How values map to colours.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ColourMap {
    /// Viridis (sequential) over [lo, hi].
    Sequential {
        /// Value at the dark end.
        lo: f64,
        /// Value at the bright end.
        hi: f64,
    },
    /// Blue–white–red over [−limit, limit], white at 0.
    Diverging {
        /// The magnitude at the saturated ends.
        limit: f64,
    },
}

const VIRIDIS: [(u8, u8, u8); 5] = [
    (68, 1, 84),
    (59, 82, 139),
    (33, 145, 140),
    (94, 201, 98),
    (253, 231, 37),
];

/// ColorBrewer RdBu ends around a white centre.
const BLUE_WHITE_RED: [(u8, u8, u8); 5] = [
    (33, 102, 172),
    (146, 197, 222),
    (255, 255, 255),
    (244, 165, 130),
    (178, 24, 43),
];

fn interpolate(stops: &[(u8, u8, u8)], t: f64) -> RGBColor {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.5
    };
    let scaled = t * (stops.len() - 1) as f64;
    let i = (scaled.floor() as usize).min(stops.len() - 2);
    let f = scaled - i as f64;
    let mix = |a: u8, b: u8| (a as f64 + f * (b as f64 - a as f64)).round() as u8;
    let (a, b) = (stops[i], stops[i + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

impl ColourMap {
    /// A sequential map over the finite range of `values` (a unit range when flat).
    pub fn sequential_over<'a>(values: impl IntoIterator<Item = &'a f64>) -> Self {
        let (lo, hi) = finite_range(values);
        Self::Sequential { lo, hi }
    }

    /// A diverging map whose limit is the largest finite magnitude in `values`.
    pub fn diverging_over<'a>(values: impl IntoIterator<Item = &'a f64>) -> Self {
        let limit = (values.into_iter())
            .filter(|v| v.is_finite())
            .fold(0.0_f64, |m, v| m.max(v.abs()));
        Self::Diverging {
            limit: if limit > 0.0 { limit } else { 1.0 },
        }
    }

    /// The colour of `value`.
    pub fn colour(&self, value: f64) -> RGBColor {
        match *self {
            Self::Sequential { lo, hi } => interpolate(&VIRIDIS, (value - lo) / (hi - lo)),
            Self::Diverging { limit } => interpolate(&BLUE_WHITE_RED, 0.5 + 0.5 * value / limit),
        }
    }

    /// The range the map spans.
    pub fn range(&self) -> (f64, f64) {
        match *self {
            Self::Sequential { lo, hi } => (lo, hi),
            Self::Diverging { limit } => (-limit, limit),
        }
    }
}

/// The finite minimum and maximum of `values`, widened to a unit range when they are equal
/// or absent.
pub fn finite_range<'a>(values: impl IntoIterator<Item = &'a f64>) -> (f64, f64) {
    let (lo, hi) = (values.into_iter())
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    if !(lo.is_finite() && hi.is_finite()) {
        (0.0, 1.0)
    } else if hi > lo {
        (lo, hi)
    } else {
        (lo - 0.5, hi + 0.5)
    }
}
