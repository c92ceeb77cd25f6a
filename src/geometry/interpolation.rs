//! Multilinear interpolation of one variable at a location, as a stencil of (state index,
//! weight) taps.
//!
//! Along each grid axis the location's coordinate c becomes the grid coordinate
//! g = c / spacing − offset, split into the cell i₀ = ⌊g⌋ (wrapped on a periodic axis) and
//! the fraction f = g − ⌊g⌋; the two neighbours i₀ and i₁ = i₀ + 1 (wrapped; on a closed
//! axis clamped to the last point, where f = 0) get the weights 1 − f and f. On a d-axis
//! grid the 2ᵈ taps are the products of those weights, the last axis varying fastest:
//! (1−f_y)(1−f_x), (1−f_y)f_x, f_y(1−f_x), f_y f_x on a plane. The weights sum to 1, so a
//! constant field is reproduced exactly, and so is any field linear along each axis.
//!
//! s(x) = Σ_t w_t x_{j_t} is linear in the state: its tangent is the same stencil applied
//! to δx and its adjoint scatters x̄_{j_t} += w_t δs.

use super::{GridAxis, Location, Variable, MAX_AXES};

/// The most taps a stencil has: 2^[`MAX_AXES`].
pub const MAX_TAPS: usize = 1 << MAX_AXES;

/// Interpolation taps: (state index, weight) pairs; unused taps have weight 0.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stencil {
    taps: [(usize, f64); MAX_TAPS],
}

impl Stencil {
    /// A stencil that reads nothing (every weight 0).
    pub const EMPTY: Stencil = Stencil {
        taps: [(0, 0.0); MAX_TAPS],
    };

    /// The taps, unused ones included (weight 0).
    pub fn taps(&self) -> &[(usize, f64); MAX_TAPS] {
        &self.taps
    }

    /// s(x) = Σ_t w_t x_{j_t}.
    #[inline]
    pub fn apply(&self, x: &[f64]) -> f64 {
        self.taps.iter().map(|&(j, w)| w * x[j]).sum()
    }

    /// x̄_{j_t} += w_t · g for every tap (the adjoint of [`Stencil::apply`]).
    #[inline]
    pub fn scatter(&self, g: f64, x_bar: &mut [f64]) {
        for &(j, w) in &self.taps {
            x_bar[j] += w * g;
        }
    }
}

/// The neighbours (i₀, i₁) and weights (1 − f, f) along one grid axis at coordinate `c`.
fn axis_taps(axis: &GridAxis, c: f64) -> [(usize, f64); 2] {
    let g = c / axis.spacing - axis.offset;
    let floor = g.floor();
    let fraction = g - floor;
    let n = axis.points;
    if axis.periodic {
        let i0 = (floor as i64).rem_euclid(n as i64) as usize;
        [(i0, 1.0 - fraction), ((i0 + 1) % n, fraction)]
    } else {
        // Inside the domain 0 ≤ g ≤ n − 1, so i₀ + 1 only passes the end where f = 0.
        let i0 = (floor.max(0.0) as usize).min(n - 1);
        [(i0, 1.0 - fraction), ((i0 + 1).min(n - 1), fraction)]
    }
}

/// The stencil of `variable` at `location` (inside the domain).
pub(crate) fn stencil(variable: &Variable, location: &Location) -> Stencil {
    let c = location.coordinates();
    let d = variable.grid.len();
    let per_axis: Vec<[(usize, f64); 2]> = variable
        .grid
        .iter()
        .map(|axis| axis_taps(axis, c[axis.location_axis]))
        .collect();
    let mut taps = [(variable.offset, 0.0); MAX_TAPS];
    for (corner, tap) in taps.iter_mut().enumerate().take(1 << d) {
        let mut index = 0;
        let mut weight = 1.0;
        for (k, axis) in variable.grid.iter().enumerate() {
            let (i, w) = per_axis[k][(corner >> (d - 1 - k)) & 1];
            index = index * axis.points + i;
            weight *= w;
        }
        *tap = (variable.offset + index, weight);
    }
    Stencil { taps }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axis(location_axis: usize, points: usize, spacing: f64, offset: f64) -> GridAxis {
        GridAxis {
            location_axis,
            points,
            spacing,
            offset,
            periodic: true,
        }
    }

    #[test]
    fn ring_taps_wrap_at_the_seam() {
        let v = Variable {
            name: "x",
            units: "1",
            offset: 10,
            grid: vec![axis(0, 5, 1.0, 0.0)],
        };
        let s = stencil(&v, &Location::at(4.25));
        assert_eq!(s.taps()[0], (14, 0.75));
        assert_eq!(s.taps()[1], (10, 0.25));
        assert_eq!(s.taps()[2].1, 0.0);
    }

    #[test]
    fn plane_taps_follow_the_staggering() {
        // 4 x 3 cells of 2 x 5 m, a variable on the west faces (x offset 0, y offset 1/2).
        let v = Variable {
            name: "u",
            units: "1",
            offset: 0,
            grid: vec![axis(1, 3, 5.0, 0.5), axis(0, 4, 2.0, 0.0)],
        };
        let s = stencil(&v, &Location::new(&[3.0, 5.0]).unwrap());
        // g_x = 1.5, g_y = 0.5: cells (j, i) = (0, 1), fractions 1/2 and 1/2.
        let expect = [(1, 0.25), (2, 0.25), (5, 0.25), (6, 0.25)];
        assert_eq!(s.taps(), &expect);
        let x: Vec<f64> = (0..12).map(|k| k as f64).collect();
        assert_eq!(s.apply(&x), 3.5);
    }

    #[test]
    fn closed_axis_clamps_at_its_last_point() {
        let v = Variable {
            name: "x",
            units: "1",
            offset: 0,
            grid: vec![GridAxis {
                periodic: false,
                ..axis(0, 1, 1.0, 0.0)
            }],
        };
        let s = stencil(&v, &Location::at(0.0));
        assert_eq!(s.taps()[0], (0, 1.0));
        assert_eq!(s.taps()[1], (0, 0.0));
    }
}
