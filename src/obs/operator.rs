//! Observation operators H with hand-written tangent-linear and adjoint.
//!
//! Observation i reads the state at its location through the model's geometry
//! ([`Geometry::stencil`]): s_i(x) = Σ_t w_t · x_{j_t} with Σ_t w_t = 1 (linear between the
//! neighbouring points on a ring, bilinear on each variable's own staggered points on a
//! plane); then applies its kind g: h_i(x) = g(s_i(x)) with g(s) = s, s² or |s|. The tangent
//! linear is h_i'(x) δx = g'(s_i) s_i(δx) and the adjoint adds w_t g'(s_i) δy to x̄_{j_t}.
//!
//! A wind-speed observation interpolates both wind components, a = s_u(x) and b = s_v(x), and
//! measures h = √(a² + b²); its tangent is (a δa + b δb) / h and its adjoint adds
//! (a / h) δy to the u taps and (b / h) δy to the v taps (0 at h = 0, a subgradient).

use crate::error::Result;
use crate::geometry::{Geometry, Stencil};

use super::observation::{Observation, ObservationKind, ObservationSet};

/// The interpolation and kind of one observation.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Entry {
    /// The interpolation of the observed variable (of u for a speed observation).
    taps: Stencil,
    /// For a speed observation, the interpolation of v.
    second: Stencil,
    /// What is measured.
    kind: ObservationKind,
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
        let (a, b) = (self.taps.apply(x), self.second.apply(x));
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

/// Observation operators of an [`ObservationSet`] on a model's [`Geometry`]: each
/// observation i reads x at its location by the geometry's interpolation, then applies its
/// kind: h_i(x) = s_i(x), s_i(x)² or |s_i(x)|, or the wind speed.
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
    /// [`ObservationSet::validate`], on an observation that does not fit `geometry` (an
    /// [`crate::Error::InvalidArgument`] naming the observation's index and line).
    pub fn new(set: &ObservationSet, geometry: &Geometry) -> Result<Self> {
        set.check(geometry, None).map_err(|p| p.in_set())?;
        let entries = set.as_slice().iter().map(|o| entry(o, geometry)).collect();
        Ok(Self {
            entries,
            state_len: geometry.state_len(),
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
            ObservationKind::Value => e.taps.apply(x),
            ObservationKind::Square => e.taps.apply(x).powi(2),
            ObservationKind::Abs => e.taps.apply(x).abs(),
            ObservationKind::Speed => e.wind(x).2,
        }
    }

    /// The interpolation of observation i when h_i is linear (a value observation,
    /// h_i(x) = s_i(x)), None for the other kinds.
    pub fn linear_stencil(&self, i: usize) -> Option<&Stencil> {
        let e = &self.entries[i];
        (e.kind == ObservationKind::Value).then_some(&e.taps)
    }

    /// Tangent linear: h_i'(x) δx = g'(s_i(x)) · s_i(δx), with g' = 1, 2s or sign(s)
    /// (sign(0) = 0); for speed (a δa + b δb) / √(a² + b²) (0 at zero wind).
    #[inline]
    pub fn apply_tl(&self, i: usize, x: &[f64], dx: &[f64]) -> f64 {
        let e = &self.entries[i];
        match e.kind {
            ObservationKind::Value => e.taps.apply(dx),
            ObservationKind::Speed => {
                let (a, b, speed) = e.wind(x);
                if speed == 0.0 {
                    0.0
                } else {
                    (a * e.taps.apply(dx) + b * e.second.apply(dx)) / speed
                }
            }
            _ => e.slope(e.taps.apply(x)) * e.taps.apply(dx),
        }
    }

    /// Adjoint: x̄ += h_i'(x)ᵀ δy, that is x̄_{j_t} += w_t g'(s_i) δy for every tap (for speed,
    /// (a / h) δy on the u taps and (b / h) δy on the v taps).
    #[inline]
    pub fn apply_ad(&self, i: usize, x: &[f64], dy: f64, x_bar: &mut [f64]) {
        let e = &self.entries[i];
        match e.kind {
            ObservationKind::Value => e.taps.scatter(dy, x_bar),
            ObservationKind::Speed => {
                let (a, b, speed) = e.wind(x);
                if speed != 0.0 {
                    e.taps.scatter(a / speed * dy, x_bar);
                    e.second.scatter(b / speed * dy, x_bar);
                }
            }
            _ => e.taps.scatter(e.slope(e.taps.apply(x)) * dy, x_bar),
        }
    }
}

/// The entry of an observation (checked to fit `geometry`): the stencil of the observed
/// variable, or of u and v for a speed observation.
fn entry(o: &Observation, geometry: &Geometry) -> Entry {
    match (o.kind, geometry.wind()) {
        (ObservationKind::Speed, Some((u, v))) => Entry {
            taps: geometry.stencil(u, &o.location),
            second: geometry.stencil(v, &o.location),
            kind: o.kind,
        },
        _ => Entry {
            taps: geometry.stencil(o.variable, &o.location),
            second: Stencil::EMPTY,
            kind: o.kind,
        },
    }
}
