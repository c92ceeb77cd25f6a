//! The nonlinear rotating shallow-water equations on a doubly periodic f-plane, on an
//! Arakawa C-grid, integrated with RK4 ([`Rk4`] supplies the step and its exact TL / AD).
//!
//! Grid: nx × ny cells of size dx × dy (m). Cell (j, i) has index p = j·nx + i. u[p] lives on
//! the west face of the cell (x = i·dx, y = (j+½)·dy), v[p] on the south face
//! (x = (i+½)·dx, y = j·dy), h[p] at the centre. h is the deviation from the mean depth H, so
//! the total depth is D = H + h. The state is [u, v, h], each block ny × nx row-major.
//!
//! Continuous equations (advective form for momentum, flux form for mass):
//!   ∂u/∂t = −u ∂u/∂x − v̄ ∂u/∂y + f v̄ − g ∂h/∂x + ν∇²u
//!   ∂v/∂t = −ū ∂v/∂x − v ∂v/∂y − f ū − g ∂h/∂y + ν∇²v
//!   ∂h/∂t = −∂(Dˣ u)/∂x − ∂(Dʸ v)/∂y + ν∇²h
//! Discretisation (i±1, j±1 periodic):
//!   v̄ at a u point = ¼(v[j,i−1] + v[j,i] + v[j+1,i−1] + v[j+1,i]),
//!   ū at a v point = ¼(u[j−1,i] + u[j−1,i+1] + u[j,i] + u[j,i+1]),
//!   ∂u/∂x, ∂u/∂y, ∂v/∂x, ∂v/∂y centred over two points (e.g. (u[j,i+1] − u[j,i−1]) / 2dx),
//!   ∂h/∂x at u = (h[j,i] − h[j,i−1]) / dx, ∂h/∂y at v = (h[j,i] − h[j−1,i]) / dy,
//!   mass fluxes Fˣ = u (H + ½(h[j,i−1] + h[j,i])), Fʸ = v (H + ½(h[j−1,i] + h[j,i])),
//!   ∂h/∂t = −(Fˣ[j,i+1] − Fˣ[j,i]) / dx − (Fʸ[j+1,i] − Fʸ[j,i]) / dy + ν∇²h,
//!   ∇²a = (a[i+1] − 2a + a[i−1]) / dx² + (a[j+1] − 2a + a[j−1]) / dy².
//! Every flux leaves one cell and enters its neighbour with the same rounding, so Σh is
//! conserved up to round-off. The model has no parameters (θ is empty).
//!
//! The tangent repeats the right-hand side with every product differentiated; the adjoint is
//! its exact transpose in scatter form: each term of the tangent at point p, c·δx[q], becomes
//! x̄[q] += c·λ[p], added straight into the two [`AdjointTargets`] outputs, so no scratch
//! memory is needed and nothing is allocated.

use super::rk4::{AdjointTargets, Rk4, VectorField};
use super::{FieldDescription, ModelInfo};
use crate::core::{PlaneGrid, StaggeredVariable, StateLayout};

/// The shallow-water right-hand side and its grid.
#[derive(Clone, Debug, PartialEq)]
pub struct ShallowWaterField {
    /// Cells along x.
    pub nx: usize,
    /// Cells along y.
    pub ny: usize,
    /// Grid spacing along x, m.
    pub dx: f64,
    /// Grid spacing along y, m.
    pub dy: f64,
    /// Mean depth H, m.
    pub depth: f64,
    /// Gravity g, m/s².
    pub gravity: f64,
    /// Coriolis parameter f, 1/s.
    pub coriolis: f64,
    /// Laplacian viscosity (on u, v) and diffusivity (on h) ν, m²/s.
    pub viscosity: f64,
}

/// The shallow-water model: the RK4 step of [`ShallowWaterField`].
pub type ShallowWater = Rk4<ShallowWaterField>;

/// Builds the shallow-water model with the given right-hand side and time step dt (s).
pub fn shallow_water(field: ShallowWaterField, dt: f64) -> ShallowWater {
    assert!(field.nx >= 1 && field.ny >= 1, "the grid must not be empty");
    Rk4 { field, dt }
}

/// Index one below `i` on a periodic axis of length n.
#[inline(always)]
fn below(i: usize, n: usize) -> usize {
    if i == 0 {
        n - 1
    } else {
        i - 1
    }
}

/// Index one above `i` on a periodic axis of length n.
#[inline(always)]
fn above(i: usize, n: usize) -> usize {
    if i + 1 == n {
        0
    } else {
        i + 1
    }
}

/// The neighbours of cell (j, i): indices of (j, i), (j, i−1), (j, i+1), (j−1, i), (j+1, i)
/// and (j+1, i−1), (j−1, i+1).
#[derive(Clone, Copy)]
struct Stencil {
    p: usize,
    w: usize,
    e: usize,
    s: usize,
    n: usize,
    nw: usize,
    se: usize,
}

/// The C-grid staggering of the state [u, v, h]: u on west faces, v on south faces, h at the
/// centres.
pub const C_GRID: [StaggeredVariable; 3] = [
    StaggeredVariable {
        name: "u",
        x_offset: 0.0,
        y_offset: 0.5,
    },
    StaggeredVariable {
        name: "v",
        x_offset: 0.5,
        y_offset: 0.0,
    },
    StaggeredVariable {
        name: "h",
        x_offset: 0.5,
        y_offset: 0.5,
    },
];

impl ShallowWaterField {
    /// The grid as observation operators and output files see it: [`C_GRID`] staggering, wind
    /// (u, v) = variables (0, 1).
    pub fn plane_grid(&self) -> PlaneGrid {
        PlaneGrid {
            nx: self.nx,
            ny: self.ny,
            dx: self.dx,
            dy: self.dy,
            variables: &C_GRID,
            wind: Some((0, 1)),
        }
    }

    /// Cells nx·ny.
    pub fn cells(&self) -> usize {
        self.nx * self.ny
    }

    /// Gravity-wave speed c = √(gH), m/s.
    pub fn wave_speed(&self) -> f64 {
        (self.gravity * self.depth).sqrt()
    }

    /// Total mass anomaly Σh (m, summed over cells).
    pub fn mass(&self, x: &[f64]) -> f64 {
        let m = self.cells();
        x[2 * m..3 * m].iter().sum()
    }

    /// Energy E = ½ Σ [Dˣ u² + Dʸ v² + g h²], with Dˣ = H + ½(h[j,i−1] + h[j,i]) and
    /// Dʸ = H + ½(h[j−1,i] + h[j,i]) the depths at the faces (per unit density and cell area).
    pub fn energy(&self, x: &[f64]) -> f64 {
        let m = self.cells();
        let (u, v, h) = (&x[..m], &x[m..2 * m], &x[2 * m..3 * m]);
        let mut e = 0.0;
        self.for_each_cell(|c| {
            let dxf = self.depth + 0.5 * (h[c.w] + h[c.p]);
            let dyf = self.depth + 0.5 * (h[c.s] + h[c.p]);
            e += 0.5 * (dxf * u[c.p] * u[c.p] + dyf * v[c.p] * v[c.p])
                + 0.5 * self.gravity * h[c.p] * h[c.p];
        });
        e
    }

    /// Calls `body` with the stencil of every cell, row by row.
    #[inline(always)]
    fn for_each_cell(&self, mut body: impl FnMut(Stencil)) {
        let (nx, ny) = (self.nx, self.ny);
        for j in 0..ny {
            let (jm, jp) = (below(j, ny), above(j, ny));
            for i in 0..nx {
                let (im, ip) = (below(i, nx), above(i, nx));
                body(Stencil {
                    p: j * nx + i,
                    w: j * nx + im,
                    e: j * nx + ip,
                    s: jm * nx + i,
                    n: jp * nx + i,
                    nw: jp * nx + im,
                    se: jm * nx + ip,
                });
            }
        }
    }

    /// ν∇²a at cell c.
    #[inline(always)]
    fn laplacian(&self, a: &[f64], c: Stencil) -> f64 {
        let (rx, ry) = (1.0 / (self.dx * self.dx), 1.0 / (self.dy * self.dy));
        self.viscosity
            * ((a[c.e] - 2.0 * a[c.p] + a[c.w]) * rx + (a[c.n] - 2.0 * a[c.p] + a[c.s]) * ry)
    }
}

/// Where the adjoint scatters: primary += α v, secondary += β v, one term at a time.
struct Sink<'a> {
    primary: &'a mut [f64],
    alpha: f64,
    secondary: Option<(&'a mut [f64], f64)>,
}

impl Sink<'_> {
    /// Adds the term `value` of v at state index q.
    #[inline(always)]
    fn add(&mut self, q: usize, value: f64) {
        self.primary[q] += self.alpha * value;
        if let Some((s, beta)) = &mut self.secondary {
            s[q] += *beta * value;
        }
    }

    /// Adds the transpose of the Laplacian term ν∇²δa at cell c (a's block starts at `base`).
    #[inline(always)]
    fn add_laplacian(&mut self, f: &ShallowWaterField, base: usize, c: Stencil, lambda: f64) {
        let (rx, ry) = (1.0 / (f.dx * f.dx), 1.0 / (f.dy * f.dy));
        let l = f.viscosity * lambda;
        self.add(base + c.e, l * rx);
        self.add(base + c.w, l * rx);
        self.add(base + c.n, l * ry);
        self.add(base + c.s, l * ry);
        self.add(base + c.p, -2.0 * l * (rx + ry));
    }
}

impl VectorField for ShallowWaterField {
    fn dim(&self) -> usize {
        3 * self.cells()
    }

    fn param_len(&self) -> usize {
        0
    }

    fn params(&self) -> Vec<f64> {
        Vec::new()
    }

    fn set_params(&mut self, _params: &[f64]) {}

    /// The discrete right-hand side of the module documentation.
    #[inline(always)]
    fn eval(&self, x: &[f64], out: &mut [f64]) {
        let m = self.cells();
        let (u, v, h) = (&x[..m], &x[m..2 * m], &x[2 * m..3 * m]);
        let (ou, rest) = out[..3 * m].split_at_mut(m);
        let (ov, oh) = rest.split_at_mut(m);
        let (g, f, depth) = (self.gravity, self.coriolis, self.depth);
        let (hx, hy) = (0.5 / self.dx, 0.5 / self.dy);
        self.for_each_cell(|c| {
            let p = c.p;
            // u at the west face.
            let vbar = 0.25 * (v[c.w] + v[p] + v[c.nw] + v[c.n]);
            let ux = (u[c.e] - u[c.w]) * hx;
            let uy = (u[c.n] - u[c.s]) * hy;
            ou[p] = -u[p] * ux - vbar * uy + f * vbar - g * (h[p] - h[c.w]) / self.dx
                + self.laplacian(u, c);
            // v at the south face.
            let ubar = 0.25 * (u[c.s] + u[c.se] + u[p] + u[c.e]);
            let vx = (v[c.e] - v[c.w]) * hx;
            let vy = (v[c.n] - v[c.s]) * hy;
            ov[p] = -ubar * vx - v[p] * vy - f * ubar - g * (h[p] - h[c.s]) / self.dy
                + self.laplacian(v, c);
            // h at the centre, from the four face fluxes.
            let fw = u[p] * (depth + 0.5 * (h[c.w] + h[p]));
            let fe = u[c.e] * (depth + 0.5 * (h[p] + h[c.e]));
            let fs = v[p] * (depth + 0.5 * (h[c.s] + h[p]));
            let fn_ = v[c.n] * (depth + 0.5 * (h[p] + h[c.n]));
            oh[p] = -(fe - fw) / self.dx - (fn_ - fs) / self.dy + self.laplacian(h, c);
        });
    }

    /// δf: every product of the right-hand side differentiated, e.g. δ(−u ∂u/∂x) =
    /// −δu ∂u/∂x − u ∂δu/∂x and δFˣ = δu Dˣ + u ½(δh[j,i−1] + δh[j,i]).
    #[inline(always)]
    fn tangent(&self, x: &[f64], dx: &[f64], _dparams: &[f64], out: &mut [f64]) {
        let m = self.cells();
        let (u, v, h) = (&x[..m], &x[m..2 * m], &x[2 * m..3 * m]);
        let (du, dv, dh) = (&dx[..m], &dx[m..2 * m], &dx[2 * m..3 * m]);
        let (ou, rest) = out[..3 * m].split_at_mut(m);
        let (ov, oh) = rest.split_at_mut(m);
        let (g, f, depth) = (self.gravity, self.coriolis, self.depth);
        let (hx, hy) = (0.5 / self.dx, 0.5 / self.dy);
        self.for_each_cell(|c| {
            let p = c.p;
            let vbar = 0.25 * (v[c.w] + v[p] + v[c.nw] + v[c.n]);
            let dvbar = 0.25 * (dv[c.w] + dv[p] + dv[c.nw] + dv[c.n]);
            let ux = (u[c.e] - u[c.w]) * hx;
            let dux = (du[c.e] - du[c.w]) * hx;
            let uy = (u[c.n] - u[c.s]) * hy;
            let duy = (du[c.n] - du[c.s]) * hy;
            ou[p] = -du[p] * ux - u[p] * dux - dvbar * uy - vbar * duy + f * dvbar
                - g * (dh[p] - dh[c.w]) / self.dx
                + self.laplacian(du, c);
            let ubar = 0.25 * (u[c.s] + u[c.se] + u[p] + u[c.e]);
            let dubar = 0.25 * (du[c.s] + du[c.se] + du[p] + du[c.e]);
            let vx = (v[c.e] - v[c.w]) * hx;
            let dvx = (dv[c.e] - dv[c.w]) * hx;
            let vy = (v[c.n] - v[c.s]) * hy;
            let dvy = (dv[c.n] - dv[c.s]) * hy;
            ov[p] = -dubar * vx
                - ubar * dvx
                - dv[p] * vy
                - v[p] * dvy
                - f * dubar
                - g * (dh[p] - dh[c.s]) / self.dy
                + self.laplacian(dv, c);
            let dfw = du[p] * (depth + 0.5 * (h[c.w] + h[p])) + u[p] * 0.5 * (dh[c.w] + dh[p]);
            let dfe = du[c.e] * (depth + 0.5 * (h[p] + h[c.e])) + u[c.e] * 0.5 * (dh[p] + dh[c.e]);
            let dfs = dv[p] * (depth + 0.5 * (h[c.s] + h[p])) + v[p] * 0.5 * (dh[c.s] + dh[p]);
            let dfn = dv[c.n] * (depth + 0.5 * (h[p] + h[c.n])) + v[c.n] * 0.5 * (dh[p] + dh[c.n]);
            oh[p] = -(dfe - dfw) / self.dx - (dfn - dfs) / self.dy + self.laplacian(dh, c);
        });
    }

    /// The transpose of [`Self::tangent`], term by term in scatter form: for the tangent term
    /// c·δx[q] of output p, x̄[q] += c·λ[p] (to both targets, scaled by α and β).
    #[inline(always)]
    fn adjoint(&self, x: &[f64], lambda: &[f64], targets: AdjointTargets<'_>) {
        let m = self.cells();
        let (u, v, h) = (&x[..m], &x[m..2 * m], &x[2 * m..3 * m]);
        let (g, f, depth) = (self.gravity, self.coriolis, self.depth);
        let (hx, hy) = (0.5 / self.dx, 0.5 / self.dy);
        let AdjointTargets {
            primary,
            alpha,
            secondary,
            params: _,
        } = targets;
        let mut sink = Sink {
            primary: &mut primary[..3 * m],
            alpha,
            secondary: secondary.map(|(s, beta)| (&mut s[..3 * m], beta)),
        };
        let (bu, bv, bh) = (0, m, 2 * m);
        self.for_each_cell(|c| {
            let p = c.p;
            // u equation, λ = λu[p].
            let l = lambda[bu + p];
            let vbar = 0.25 * (v[c.w] + v[p] + v[c.nw] + v[c.n]);
            let ux = (u[c.e] - u[c.w]) * hx;
            let uy = (u[c.n] - u[c.s]) * hy;
            sink.add(bu + p, -ux * l);
            sink.add(bu + c.e, -u[p] * hx * l);
            sink.add(bu + c.w, u[p] * hx * l);
            let cv = 0.25 * (f - uy) * l;
            for q in [c.w, p, c.nw, c.n] {
                sink.add(bv + q, cv);
            }
            sink.add(bu + c.n, -vbar * hy * l);
            sink.add(bu + c.s, vbar * hy * l);
            sink.add(bh + p, -g * l / self.dx);
            sink.add(bh + c.w, g * l / self.dx);
            sink.add_laplacian(self, bu, c, l);
            // v equation, λ = λv[p].
            let l = lambda[bv + p];
            let ubar = 0.25 * (u[c.s] + u[c.se] + u[p] + u[c.e]);
            let vx = (v[c.e] - v[c.w]) * hx;
            let vy = (v[c.n] - v[c.s]) * hy;
            let cu = -0.25 * (vx + f) * l;
            for q in [c.s, c.se, p, c.e] {
                sink.add(bu + q, cu);
            }
            sink.add(bv + c.e, -ubar * hx * l);
            sink.add(bv + c.w, ubar * hx * l);
            sink.add(bv + p, -vy * l);
            sink.add(bv + c.n, -v[p] * hy * l);
            sink.add(bv + c.s, v[p] * hy * l);
            sink.add(bh + p, -g * l / self.dy);
            sink.add(bh + c.s, g * l / self.dy);
            sink.add_laplacian(self, bv, c, l);
            // h equation, λ = λh[p]: the flux adjoints F̄ first, then each flux's transpose.
            let l = lambda[bh + p];
            let (few, fns) = (l / self.dx, l / self.dy);
            // Fˣ[p] (west, +), Fˣ[e] (east, −), Fʸ[p] (south, +), Fʸ[n] (north, −).
            for (face, cell, bar, flux) in [
                (c.w, p, few, bu + p),
                (p, c.e, -few, bu + c.e),
                (c.s, p, fns, bv + p),
                (p, c.n, -fns, bv + c.n),
            ] {
                let wind = x[flux];
                sink.add(flux, (depth + 0.5 * (h[face] + h[cell])) * bar);
                sink.add(bh + face, 0.5 * wind * bar);
                sink.add(bh + cell, 0.5 * wind * bar);
            }
            sink.add_laplacian(self, bh, c, l);
        });
    }
}

impl ModelInfo for ShallowWater {
    fn name(&self) -> &'static str {
        "shallow water"
    }
    fn gravity_and_coriolis(&self) -> Option<(f64, f64)> {
        Some((self.field.gravity, self.field.coriolis))
    }
    fn state_dimension(&self) -> &'static str {
        "cell"
    }
    fn state_long_name(&self) -> String {
        format!(
            "flattened shallow-water state index: variable * {} + j * {} + i, variables u (m/s, west faces), v (m/s, south faces), h (m, centres)",
            self.field.cells(),
            self.field.nx
        )
    }
    fn state_coordinate(&self) -> Vec<f64> {
        (0..3 * self.field.cells()).map(|k| k as f64).collect()
    }
    fn variable(&self) -> &'static str {
        "state"
    }
    fn variable_long_name(&self) -> String {
        "shallow-water state (u, v, h deviation from the mean depth)".into()
    }
    fn time_step(&self) -> f64 {
        self.dt
    }
    fn time_units(&self) -> &'static str {
        "s"
    }
    fn time_comment(&self) -> Option<String> {
        Some("seconds".into())
    }
    fn param_names(&self) -> Vec<&'static str> {
        Vec::new()
    }
    /// At rest with a Gaussian height bump h = 10 m · exp(−r²/R²), R = 3 cells, r measured in
    /// cells from the centre of the domain.
    fn default_initial_state(&self) -> Vec<f64> {
        let (nx, ny, m) = (self.field.nx, self.field.ny, self.field.cells());
        let mut x = vec![0.0; 3 * m];
        let (xc, yc, radius) = (nx as f64 / 2.0, ny as f64 / 2.0, 3.0);
        for j in 0..ny {
            for i in 0..nx {
                let (rx, ry) = (i as f64 + 0.5 - xc, j as f64 + 0.5 - yc);
                x[2 * m + j * nx + i] = 10.0 * (-(rx * rx + ry * ry) / (radius * radius)).exp();
            }
        }
        x
    }
    fn layout(&self) -> StateLayout {
        StateLayout {
            variables: 3,
            points: self.field.cells(),
            periodic: true,
            plane: Some(self.field.plane_grid()),
        }
    }
    /// The flat bottom makes h the displacement of the free surface from its mean level, and
    /// (u, v) the depth-independent horizontal velocity of the layer: the ocean's CF names fit
    /// exactly (x is eastward, y northward on the f-plane).
    fn fields(&self) -> Vec<FieldDescription> {
        vec![
            FieldDescription {
                name: "u",
                long_name: "eastward velocity (C-grid west faces)",
                units: "m s-1",
                standard_name: Some("eastward_sea_water_velocity"),
            },
            FieldDescription {
                name: "v",
                long_name: "northward velocity (C-grid south faces)",
                units: "m s-1",
                standard_name: Some("northward_sea_water_velocity"),
            },
            FieldDescription {
                name: "h",
                long_name: "free-surface height above the mean depth H (cell centres)",
                units: "m",
                standard_name: Some("sea_surface_height_above_mean_sea_level"),
            },
        ]
    }
}
