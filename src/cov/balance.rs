//! Geostrophic balance for the control-variable transform on a C-grid f-plane: the balance
//! operator K adds to the winds the geostrophic wind of the height field,
//!
//! u = u_u − (g/f) ∂h/∂y,  v = v_u + (g/f) ∂h/∂x,  h = h,
//!
//! so that x₀ = x_b + K B_u^½ v with an uncorrelated (unbalanced) B_u gives the multivariate
//! B = K B_u Kᵀ. K is unit upper block-triangular, K = [[I, 0, G_u], [0, I, G_v], [0, 0, I]],
//! so K⁻¹ subtracts the same terms and Kᵀ adds G_uᵀ u + G_vᵀ v to h. On the Arakawa C-grid
//! (h at cell centres (i+½, j+½), u at west faces (i, j+½), v at south faces (i+½, j), indices
//! wrapping periodically) the derivatives are four-point centred differences at the wind
//! points, with c = g/f:
//!
//! (G_u h)_{j,i} = −c (h_{j+1,i} + h_{j+1,i−1} − h_{j−1,i} − h_{j−1,i−1}) / (4 dy),
//! (G_v h)_{j,i} =  c (h_{j,i+1} + h_{j−1,i+1} − h_{j,i−1} − h_{j−1,i−1}) / (4 dx).
//!
//! Every apply works in place on the state, without allocation.

use crate::error::{Error, Result};
use crate::geometry::staggered_plane::cells_of;
use crate::geometry::Geometry;

/// The name under which errors of the balance operator are reported.
const WHAT: &str = "geostrophic balance";

/// The geostrophic balance operator K of a doubly periodic C-grid (see the
/// [module documentation](self)).
#[derive(Clone, Debug, PartialEq)]
pub struct GeostrophicBalance {
    nx: usize,
    ny: usize,
    /// c/(4dy), c = g/f.
    wy: f64,
    /// c/(4dx).
    wx: f64,
    /// Variable indices of u, v and h.
    u: usize,
    v: usize,
    h: usize,
    variables: usize,
}

impl GeostrophicBalance {
    /// K for `grid` with gravity g (m/s², > 0) and Coriolis parameter f (1/s, non-zero). An
    /// error unless the grid has a wind (u, v) on the west and south faces and a variable "h"
    /// at the cell centres, at least 1 × 1 cells and finite spacings > 0.
    pub fn new(geometry: &Geometry, gravity: f64, coriolis: f64) -> Result<Self> {
        let Some((grid, offsets)) = cells_of(geometry) else {
            return Err(Error::invalid(
                WHAT,
                "the operator needs every variable on one doubly periodic grid of cells (x, y)",
            ));
        };
        let Some((u, v)) = geometry.wind() else {
            return Err(Error::invalid(
                WHAT,
                "the grid has no wind (u, v) to balance",
            ));
        };
        let Some(h) = geometry.variable_index("h") else {
            return Err(Error::invalid(
                WHAT,
                "the grid has no height variable \"h\"",
            ));
        };
        let at = |k: usize, x: f64, y: f64| offsets.get(k) == Some(&(x, y));
        if !(at(u, 0.0, 0.5) && at(v, 0.5, 0.0) && at(h, 0.5, 0.5)) || u == v || u == h || v == h {
            return Err(Error::invalid(
                WHAT,
                "the operator is written for an Arakawa C-grid: u on west faces, v on south \
                 faces, h at cell centres",
            ));
        }
        if grid.nx == 0 || grid.ny == 0 {
            return Err(Error::invalid(WHAT, "the grid has no cells"));
        }
        if !(gravity.is_finite() && gravity > 0.0) {
            return Err(Error::invalid(
                WHAT,
                format!("gravity g = {gravity} is not a finite number > 0"),
            ));
        }
        if !(coriolis.is_finite() && coriolis != 0.0) {
            return Err(Error::invalid(
                WHAT,
                format!(
                    "Coriolis parameter f = {coriolis}: geostrophic balance needs a finite, \
                     non-zero f"
                ),
            ));
        }
        for (name, d) in [("dx", grid.dx), ("dy", grid.dy)] {
            if !(d.is_finite() && d > 0.0) {
                return Err(Error::invalid(
                    WHAT,
                    format!("grid spacing {name} = {d} is not a finite number > 0"),
                ));
            }
        }
        let c = gravity / coriolis;
        Ok(Self {
            nx: grid.nx,
            ny: grid.ny,
            wy: c / (4.0 * grid.dy),
            wx: c / (4.0 * grid.dx),
            u,
            v,
            h,
            variables: offsets.len(),
        })
    }

    /// The state length, variables · nx · ny.
    pub fn len(&self) -> usize {
        self.variables * self.nx * self.ny
    }

    /// Always false: the grid has cells and variables.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// x ← K x: u += G_u h, v += G_v h.
    ///
    /// # Panics
    /// If `x` is not of length [`GeostrophicBalance::len`].
    pub fn apply(&self, x: &mut [f64]) {
        self.forward(x, 1.0);
    }

    /// x ← K⁻¹ x: u −= G_u h, v −= G_v h.
    ///
    /// # Panics
    /// If `x` is not of length [`GeostrophicBalance::len`].
    pub fn apply_inverse(&self, x: &mut [f64]) {
        self.forward(x, -1.0);
    }

    /// x ← Kᵀ x: h += G_uᵀ u + G_vᵀ v.
    ///
    /// # Panics
    /// If `x` is not of length [`GeostrophicBalance::len`].
    pub fn adjoint(&self, x: &mut [f64]) {
        self.transpose(x, 1.0);
    }

    /// x ← K⁻ᵀ x: h −= G_uᵀ u + G_vᵀ v.
    ///
    /// # Panics
    /// If `x` is not of length [`GeostrophicBalance::len`].
    pub fn adjoint_inverse(&self, x: &mut [f64]) {
        self.transpose(x, -1.0);
    }

    /// The variable indices (u, v, h).
    pub fn variable_indices(&self) -> (usize, usize, usize) {
        (self.u, self.v, self.h)
    }

    /// |ĝ_u|² and |ĝ_v|² at the 2-D Fourier mode (k, l), θ = 2πk/nx, φ = 2πl/ny: the symbols
    /// ĝ_u = −2i (c/4dy) sin φ (1 + e^{−iθ}), ĝ_v = 2i (c/4dx) sin θ (1 + e^{−iφ}) of G_u, G_v
    /// on the mode h_{j,i} = e^{i(θi + φj)}, so |ĝ_u|² = 4 (c/4dy)² sin²φ (2 + 2 cos θ).
    pub fn symbol_squares(&self, k: usize, l: usize) -> (f64, f64) {
        let theta = 2.0 * std::f64::consts::PI * k as f64 / self.nx as f64;
        let phi = 2.0 * std::f64::consts::PI * l as f64 / self.ny as f64;
        let gu = 4.0 * self.wy * self.wy * phi.sin().powi(2) * (2.0 + 2.0 * theta.cos());
        let gv = 4.0 * self.wx * self.wx * theta.sin().powi(2) * (2.0 + 2.0 * phi.cos());
        (gu, gv)
    }

    /// (j, i) → the flat index within a block, with periodic wrapping of j ± 1, i ± 1.
    fn neighbours(&self, j: usize, i: usize) -> ([usize; 4], [usize; 4]) {
        let (nx, ny) = (self.nx, self.ny);
        let (jp, jm) = ((j + 1) % ny, (j + ny - 1) % ny);
        let (ip, im) = ((i + 1) % nx, (i + nx - 1) % nx);
        // G_u: +h[j+1,i] +h[j+1,i−1] −h[j−1,i] −h[j−1,i−1] (times −wy).
        let u = [jp * nx + i, jp * nx + im, jm * nx + i, jm * nx + im];
        // G_v: +h[j,i+1] +h[j−1,i+1] −h[j,i−1] −h[j−1,i−1] (times wx).
        let v = [j * nx + ip, jm * nx + ip, j * nx + im, jm * nx + im];
        (u, v)
    }

    fn check(&self, x: &[f64]) {
        assert!(
            x.len() == self.len(),
            "GeostrophicBalance: the state has length {} but the grid {}",
            x.len(),
            self.len()
        );
    }

    /// u += sign·G_u h, v += sign·G_v h (reads the h block, writes the u and v blocks).
    fn forward(&self, x: &mut [f64], sign: f64) {
        self.check(x);
        let m = self.nx * self.ny;
        let hb = self.h * m;
        for j in 0..self.ny {
            for i in 0..self.nx {
                let (nu, nv) = self.neighbours(j, i);
                let du = -self.wy * (x[hb + nu[0]] + x[hb + nu[1]] - x[hb + nu[2]] - x[hb + nu[3]]);
                let dv = self.wx * (x[hb + nv[0]] + x[hb + nv[1]] - x[hb + nv[2]] - x[hb + nv[3]]);
                let p = j * self.nx + i;
                x[self.u * m + p] += sign * du;
                x[self.v * m + p] += sign * dv;
            }
        }
    }

    /// h += sign·(G_uᵀ u + G_vᵀ v) (reads the u and v blocks, writes the h block).
    fn transpose(&self, x: &mut [f64], sign: f64) {
        self.check(x);
        let m = self.nx * self.ny;
        let hb = self.h * m;
        for j in 0..self.ny {
            for i in 0..self.nx {
                let (nu, nv) = self.neighbours(j, i);
                let p = j * self.nx + i;
                let a = -sign * self.wy * x[self.u * m + p];
                let b = sign * self.wx * x[self.v * m + p];
                x[hb + nu[0]] += a;
                x[hb + nu[1]] += a;
                x[hb + nu[2]] -= a;
                x[hb + nu[3]] -= a;
                x[hb + nv[0]] += b;
                x[hb + nv[1]] += b;
                x[hb + nv[2]] -= b;
                x[hb + nv[3]] -= b;
            }
        }
    }
}
