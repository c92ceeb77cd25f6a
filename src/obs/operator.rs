//! Observation operators H with hand-written tangent-linear and adjoint.
//!
//! Observation i reads the state at its position by interpolation,
//!
//!   s_i(x) = Σ_t w_t · x_{j_t},   Σ_t w_t = 1,
//!
//! linear between the two neighbouring points on a line (w = 1 − f, f with f = p − ⌊p⌋) and
//! bilinear between the four surrounding points of the observed variable on a plane grid
//! ([`PlaneGrid::bilinear`], which respects the variable's staggering); then applies its kind
//! g: h_i(x) = g(s_i(x)) with g(s) = s, s² or |s|. The tangent linear is
//! h_i'(x) δx = g'(s_i) s_i(δx) and the adjoint adds w_t g'(s_i) δy to x̄_{j_t}.
//!
//! A wind-speed observation interpolates both wind components, a = s_u(x) and b = s_v(x), and
//! measures h = √(a² + b²); its tangent is (a δa + b δb) / h and its adjoint adds
//! (a / h) δy to the u taps and (b / h) δy to the v taps (0 at h = 0, a subgradient).

use crate::core::{PlaneGrid, StateLayout};
use crate::error::Result;

use super::observation::{Observation, ObservationKind, ObservationSet};

/// Interpolation weights: up to four (state index, weight) taps; unused taps have weight 0.
type Taps = [(usize, f64); 4];

/// The interpolation and kind of one observation.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Entry {
    /// The interpolation of the observed variable (of u for a speed observation).
    taps: Taps,
    /// For a speed observation, the interpolation of v.
    second: Taps,
    /// What is measured.
    kind: ObservationKind,
}

/// s(x) = Σ_t w_t x_{j_t}.
#[inline]
fn interpolate(taps: &Taps, x: &[f64]) -> f64 {
    taps.iter().map(|&(j, w)| w * x[j]).sum()
}

/// x̄_{j_t} += w_t · g for every tap.
#[inline]
fn scatter(taps: &Taps, g: f64, x_bar: &mut [f64]) {
    for &(j, w) in taps {
        x_bar[j] += w * g;
    }
}

impl Entry {
    /// g'(s): 1 for value, 2s for square, sign(s) for abs with sign(0) = 0.
    #[inline]
    fn slope(&self, s: f64) -> f64 {
        match self.kind {
            ObservationKind::Value => 1.0,
            ObservationKind::Square => 2.0 * s,
            ObservationKind::Abs => sign(s),
            // Speed observations are handled as a pair of interpolations, never through g'.
            ObservationKind::Speed => unreachable!("speed has no scalar slope"),
        }
    }

    /// The wind components (a, b) at the observation and the speed √(a² + b²).
    #[inline]
    fn wind(&self, x: &[f64]) -> (f64, f64, f64) {
        let (a, b) = (interpolate(&self.taps, x), interpolate(&self.second, x));
        (a, b, a.hypot(b))
    }
}

/// sign(s) ∈ {−1, 0, 1}, with sign(0) = 0 (unlike `f64::signum`, which gives ±1 for ±0).
#[inline]
fn sign(s: f64) -> f64 {
    if s > 0.0 {
        1.0
    } else if s < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// Observation operators of an [`ObservationSet`] on a [`StateLayout`]: each observation i
/// reads x at its position by linear interpolation between its two neighbouring grid points
/// (periodic wrap when `layout.periodic`; an integer position uses one point with weight 1),
/// then applies its kind: h_i(x) = s_i(x), s_i(x)² or |s_i(x)|.
///
/// The derivative of |s| at exactly s = 0 is taken as sign(0) = 0 (a subgradient), so the
/// tangent linear and adjoint of an "abs" observation vanish there.
#[derive(Clone, Debug, PartialEq)]
pub struct ObservationOperator {
    entries: Vec<Entry>,
    state_len: usize,
}

impl ObservationOperator {
    /// The operators of every observation of `set`, in set order. Fails, like
    /// [`ObservationSet::validate`], on an observation that does not fit `layout` (an
    /// [`crate::Error::InvalidArgument`] naming the observation's index and line).
    pub fn new(set: &ObservationSet, layout: &StateLayout) -> Result<Self> {
        set.check(layout, None).map_err(|p| p.in_set())?;
        let entries = set
            .as_slice()
            .iter()
            .map(|o| match layout.plane {
                Some(plane) => plane_entry(o, &plane, layout.points),
                None => line_entry(o, layout),
            })
            .collect();
        Ok(Self {
            entries,
            state_len: layout.len(),
        })
    }

    /// Number of observations.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no observations.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Length of the state vectors the operators apply to.
    pub fn state_len(&self) -> usize {
        self.state_len
    }

    /// h_i(x) = g(s_i(x)) with s_i the interpolation and g the kind (s, s² or |s|), or the
    /// wind speed √(a² + b²).
    #[inline]
    pub fn apply(&self, i: usize, x: &[f64]) -> f64 {
        let e = &self.entries[i];
        match e.kind {
            ObservationKind::Value => interpolate(&e.taps, x),
            ObservationKind::Square => interpolate(&e.taps, x).powi(2),
            ObservationKind::Abs => interpolate(&e.taps, x).abs(),
            ObservationKind::Speed => e.wind(x).2,
        }
    }

    /// Tangent linear: h_i'(x) δx = g'(s_i(x)) · s_i(δx), with g' = 1, 2s or sign(s)
    /// (sign(0) = 0); for speed (a δa + b δb) / √(a² + b²) (0 at zero wind).
    #[inline]
    pub fn apply_tl(&self, i: usize, x: &[f64], dx: &[f64]) -> f64 {
        let e = &self.entries[i];
        match e.kind {
            ObservationKind::Value => interpolate(&e.taps, dx),
            ObservationKind::Speed => {
                let (a, b, speed) = e.wind(x);
                if speed == 0.0 {
                    0.0
                } else {
                    (a * interpolate(&e.taps, dx) + b * interpolate(&e.second, dx)) / speed
                }
            }
            _ => e.slope(interpolate(&e.taps, x)) * interpolate(&e.taps, dx),
        }
    }

    /// Adjoint: x̄ += h_i'(x)ᵀ δy, that is x̄_{j_t} += w_t g'(s_i) δy for every tap (for speed,
    /// (a / h) δy on the u taps and (b / h) δy on the v taps).
    #[inline]
    pub fn apply_ad(&self, i: usize, x: &[f64], dy: f64, x_bar: &mut [f64]) {
        let e = &self.entries[i];
        match e.kind {
            ObservationKind::Value => scatter(&e.taps, dy, x_bar),
            ObservationKind::Speed => {
                let (a, b, speed) = e.wind(x);
                if speed != 0.0 {
                    scatter(&e.taps, a / speed * dy, x_bar);
                    scatter(&e.second, b / speed * dy, x_bar);
                }
            }
            _ => scatter(&e.taps, e.slope(interpolate(&e.taps, x)) * dy, x_bar),
        }
    }
}

/// The entry of an observation on a line of points (checked to fit `layout`).
fn line_entry(o: &Observation, layout: &StateLayout) -> Entry {
    let points = layout.points;
    let base = o.variable * points;
    let floor = o.position.floor();
    let fraction = o.position - floor;
    // 0 ≤ floor ≤ points − 1 after the check.
    let p0 = (floor as usize).min(points - 1);
    let j0 = base + p0;
    // A fractional position lies below points − 1 on a non-periodic grid, so p0 + 1 == points
    // only happens on a periodic one: wrap to point 0. An integer position uses one point.
    let j1 = if fraction == 0.0 {
        j0
    } else if p0 + 1 == points {
        base
    } else {
        j0 + 1
    };
    Entry {
        taps: [(j0, 1.0 - fraction), (j1, fraction), (j0, 0.0), (j0, 0.0)],
        second: [(j0, 0.0); 4],
        kind: o.kind,
    }
}

/// The entry of an observation on a plane grid (checked to fit it): bilinear taps of the
/// observed variable, or of u and v for a speed observation.
fn plane_entry(o: &Observation, plane: &PlaneGrid, points: usize) -> Entry {
    let y = o.y.unwrap_or(0.0);
    let taps_of = |variable: usize| {
        let mut taps = plane.bilinear(variable, o.position, y);
        for t in &mut taps {
            t.0 += variable * points;
        }
        taps
    };
    match (o.kind, plane.wind) {
        (ObservationKind::Speed, Some((u, v))) => Entry {
            taps: taps_of(u),
            second: taps_of(v),
            kind: o.kind,
        },
        _ => Entry {
            taps: taps_of(o.variable),
            second: [(0, 0.0); 4],
            kind: o.kind,
        },
    }
}
