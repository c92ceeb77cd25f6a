//! Observation operators H with hand-written tangent-linear and adjoint.
//!
//! Observation i reads the state at its position by linear interpolation,
//!
//!   s_i(x) = w0 · x_{j0} + w1 · x_{j1},   w0 = 1 − f, w1 = f,
//!
//! where j0 is the grid point ⌊p⌋ of variable v, j1 the next one (point 0 after the last on a
//! periodic grid) and f = p − ⌊p⌋; then applies its kind g: h_i(x) = g(s_i(x)) with
//! g(s) = s, s² or |s|. The tangent linear is h_i'(x) δx = g'(s_i) s_i(δx) and the adjoint
//! adds g'(s_i) δy to x̄_{j0} and x̄_{j1} with weights w0 and w1.

use crate::core::StateLayout;
use crate::error::Result;

use super::observation::{ObservationKind, ObservationSet};

/// The interpolation and kind of one observation.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Entry {
    /// State index of the grid point at or below the position.
    j0: usize,
    /// State index of the next grid point (equal to `j0`, with `w1` = 0, for an integer
    /// position).
    j1: usize,
    /// Weight of x_{j0}, 1 − f.
    w0: f64,
    /// Weight of x_{j1}, f.
    w1: f64,
    /// What is measured.
    kind: ObservationKind,
}

impl Entry {
    /// s(x) = w0 x_{j0} + w1 x_{j1}.
    #[inline]
    fn interpolate(&self, x: &[f64]) -> f64 {
        self.w0 * x[self.j0] + self.w1 * x[self.j1]
    }

    /// g'(s): 1 for value, 2s for square, sign(s) for abs with sign(0) = 0.
    #[inline]
    fn slope(&self, s: f64) -> f64 {
        match self.kind {
            ObservationKind::Value => 1.0,
            ObservationKind::Square => 2.0 * s,
            ObservationKind::Abs => sign(s),
        }
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
        let points = layout.points;
        let entries = set
            .as_slice()
            .iter()
            .map(|o| {
                let base = o.variable * points;
                let floor = o.position.floor();
                let fraction = o.position - floor;
                // 0 ≤ floor ≤ points − 1 after the check above.
                let p0 = (floor as usize).min(points - 1);
                let j0 = base + p0;
                if fraction == 0.0 {
                    Entry {
                        j0,
                        j1: j0,
                        w0: 1.0,
                        w1: 0.0,
                        kind: o.kind,
                    }
                } else {
                    // A fractional position lies below points − 1 on a non-periodic grid, so
                    // p0 + 1 == points only happens on a periodic one: wrap to point 0.
                    let p1 = if p0 + 1 == points { 0 } else { p0 + 1 };
                    Entry {
                        j0,
                        j1: base + p1,
                        w0: 1.0 - fraction,
                        w1: fraction,
                        kind: o.kind,
                    }
                }
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

    /// h_i(x) = g(s_i(x)) with s_i the interpolation and g the kind (s, s² or |s|).
    #[inline]
    pub fn apply(&self, i: usize, x: &[f64]) -> f64 {
        let e = &self.entries[i];
        let s = e.interpolate(x);
        match e.kind {
            ObservationKind::Value => s,
            ObservationKind::Square => s * s,
            ObservationKind::Abs => s.abs(),
        }
    }

    /// Tangent linear: h_i'(x) δx = g'(s_i(x)) · s_i(δx), with g' = 1, 2s or sign(s)
    /// (sign(0) = 0).
    #[inline]
    pub fn apply_tl(&self, i: usize, x: &[f64], dx: &[f64]) -> f64 {
        let e = &self.entries[i];
        let ds = e.interpolate(dx);
        match e.kind {
            ObservationKind::Value => ds,
            _ => e.slope(e.interpolate(x)) * ds,
        }
    }

    /// Adjoint: x̄ += h_i'(x)ᵀ δy, that is x̄_{j0} += w0 g'(s_i) δy and
    /// x̄_{j1} += w1 g'(s_i) δy.
    #[inline]
    pub fn apply_ad(&self, i: usize, x: &[f64], dy: f64, x_bar: &mut [f64]) {
        let e = &self.entries[i];
        let g = match e.kind {
            ObservationKind::Value => dy,
            _ => e.slope(e.interpolate(x)) * dy,
        };
        x_bar[e.j0] += e.w0 * g;
        x_bar[e.j1] += e.w1 * g;
    }
}
