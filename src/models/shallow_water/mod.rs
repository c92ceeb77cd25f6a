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
//! conserved up to round-off. By default the model has no parameters (θ is empty); the
//! configuration may expose f and g as θ = [f, g] ([`ShallowWaterParameters`]), whose
//! tangent adds δf·(v̄, −ū) + δg·(−∂h/∂x, −∂h/∂y) to the u and v tendencies.
//!
//! The tangent repeats the right-hand side with every product differentiated; the adjoint is
//! its exact transpose written in gather form: for each output point q it adds up every
//! tangent term c·δx[q] of every output p as c·λ[p] (the formulas are on the
//! `VectorField::adjoint` of [`ShallowWaterField`]), so
//! each output row depends on inputs only, nothing is allocated, and the rows can be computed
//! in any order.
//!
//! Parallelism: on grids of at least [`ShallowWaterField::parallel_min_cells`] cells, eval,
//! tangent and adjoint split their output rows into bands and compute the bands on rayon's
//! thread pool (`RAYON_NUM_THREADS` sets its size). Every output value is computed by the same
//! code with the same operations in either case, so the serial and parallel results are
//! bit-for-bit identical.

pub mod settings;

pub use settings::ShallowWaterSettings;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;

use super::rk4::{AdjointTargets, Rk4, VectorField};
use super::ModelInfo;
use crate::geometry::staggered_plane::{staggered_plane, CellGrid, StaggeredField};
use crate::geometry::Geometry;

/// Grids with at least this many cells (64 × 64) take the parallel (rayon) path by default.
/// Below it the work per band is a few tens of µs and rayon's hand-off to the pool (a few µs
/// per call, 4 to 7 calls per RK4 stage) eats the gain; `fourdvar bench --shallow-water`
/// prints both paths for each grid to check the choice on a given machine.
pub const PARALLEL_MIN_CELLS: usize = 64 * 64;

/// Random Fourier modes summed into the streamfunction of [`InitialCondition::Eddies`].
pub const EDDY_MODES: usize = 32;

/// The state [`ModelInfo::default_initial_state`] starts from. Lengths are in grid cells (the
/// x distance in units of dx, the y distance in units of dy).
#[derive(Clone, Debug, PartialEq)]
pub enum InitialCondition {
    /// At rest with a Gaussian height bump h = A·exp(−r²/W²), r the distance in cells from the
    /// centre of the domain: geostrophic adjustment. The default is A = 10 m, W = 3 cells.
    Bump {
        /// Height A of the bump, m.
        amplitude: f64,
        /// e-folding radius W, cells.
        width: f64,
    },
    /// Two opposite zonal jets in exact discrete geostrophic balance: the corner
    /// streamfunction ψ = (g/f)·A·[tanh((y − ny/4)/W) − tanh((y − 3ny/4)/W) − 1] (y in cells),
    /// u, v and h from [`ShallowWaterField::balanced_state`], h shifted to zero mean. h is
    /// about +A between the jets and −A outside them; the profile is periodic in y because the
    /// two tanh fronts are placed symmetrically. A zonal flow is an exact steady state of the
    /// inviscid discrete equations.
    Jet {
        /// Height A (m): h goes from about −A to +A across each jet.
        amplitude: f64,
        /// Jet half-width W, cells.
        width: f64,
    },
    /// Random eddies in discrete geostrophic balance: ψ at the corners is a sum of
    /// [`EDDY_MODES`] periodic Fourier modes a·cos(2π(k i/nx + l j/ny) + φ) with integer
    /// (k, l) ≠ 0 of wavelength about 2πW cells, random direction, amplitude a ~ N(0, 1) and
    /// phase φ ~ U(0, 2π) drawn from ChaCha8 seeded with `seed`; u, v, h from
    /// [`ShallowWaterField::balanced_state`], scaled so that max |h| = A. Σh = 0 up to
    /// round-off (every mode has zero mean).
    Eddies {
        /// Largest |h|, m.
        amplitude: f64,
        /// Eddy scale W (the inverse wavenumber), cells.
        width: f64,
        /// Seed of the random modes.
        seed: u64,
    },
}

impl Default for InitialCondition {
    /// The 10 m Gaussian bump of radius 3 cells, at rest.
    fn default() -> Self {
        InitialCondition::Bump {
            amplitude: 10.0,
            width: 3.0,
        }
    }
}

/// The kinds of [`InitialCondition`], as configuration files name them ("bump", "jet",
/// "eddies"); the names are read back with [`crate::core::choice::choice_name`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum InitialKind {
    /// A Gaussian bump of h, at rest.
    #[default]
    Bump,
    /// A geostrophically balanced zonal jet.
    Jet,
    /// Balanced random eddies.
    Eddies,
}

impl InitialCondition {
    /// The kind of this initial condition.
    pub fn kind(&self) -> InitialKind {
        match self {
            InitialCondition::Bump { .. } => InitialKind::Bump,
            InitialCondition::Jet { .. } => InitialKind::Jet,
            InitialCondition::Eddies { .. } => InitialKind::Eddies,
        }
    }
}

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
    /// The default initial state.
    pub initial: InitialCondition,
    /// Grids with at least this many cells compute eval, tangent and adjoint in row bands on
    /// rayon's thread pool; `usize::MAX` keeps every grid serial.
    pub parallel_min_cells: usize,
    /// Which of f and g are model parameters θ (in that order), so that the adjoint returns
    /// ∂J/∂f, ∂J/∂g and 4D-Var can estimate them; none by default.
    pub parameters: ShallowWaterParameters,
}

/// Which physical constants of the shallow-water model are exposed as parameters θ, in the
/// order [f, g] (those selected).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShallowWaterParameters {
    /// The Coriolis parameter f (1/s).
    pub coriolis: bool,
    /// Gravity g (m/s²).
    pub gravity: bool,
}

impl ShallowWaterParameters {
    /// The names of the selected parameters, in θ order ("f", "g").
    pub fn names(&self) -> Vec<&'static str> {
        [(self.coriolis, "f"), (self.gravity, "g")]
            .into_iter()
            .filter_map(|(on, name)| on.then_some(name))
            .collect()
    }
}

impl Default for ShallowWaterField {
    /// The shipped configuration `models/shallow_water.toml`: 64 × 64 cells of 100 km,
    /// H = 1000 m, g = 9.81 m/s², f = 10⁻⁴ /s, ν = 0, the default bump.
    fn default() -> Self {
        ShallowWaterField {
            nx: 64,
            ny: 64,
            dx: 100e3,
            dy: 100e3,
            depth: 1000.0,
            gravity: 9.81,
            coriolis: 1e-4,
            viscosity: 0.0,
            initial: InitialCondition::default(),
            parallel_min_cells: PARALLEL_MIN_CELLS,
            parameters: ShallowWaterParameters::default(),
        }
    }
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

/// The fields [u, v, h] on the Arakawa C-grid: u on west faces, v on south faces, h at the
/// centres. The flat bottom makes h the displacement of the free surface from its mean
/// level, and (u, v) the depth-independent horizontal velocity of the layer: the ocean's CF
/// names fit exactly (x is eastward, y northward on the f-plane).
pub const FIELDS: [StaggeredField; 3] = [
    StaggeredField {
        name: "u",
        x_offset: 0.0,
        y_offset: 0.5,
        long_name: "eastward velocity (C-grid west faces)",
        units: "m s-1",
        standard_name: Some("eastward_sea_water_velocity"),
    },
    StaggeredField {
        name: "v",
        x_offset: 0.5,
        y_offset: 0.0,
        long_name: "northward velocity (C-grid south faces)",
        units: "m s-1",
        standard_name: Some("northward_sea_water_velocity"),
    },
    StaggeredField {
        name: "h",
        x_offset: 0.5,
        y_offset: 0.5,
        long_name: "free-surface height above the mean depth H (cell centres)",
        units: "m",
        standard_name: Some("sea_surface_height_above_mean_sea_level"),
    },
];

/// Splits the first 3m values of `out` into its u, v and h blocks.
#[inline(always)]
fn blocks(out: &mut [f64], m: usize) -> (&mut [f64], &mut [f64], &mut [f64]) {
    let (u, rest) = out[..3 * m].split_at_mut(m);
    let (v, h) = rest.split_at_mut(m);
    (u, v, h)
}

/// One band of output rows of the three blocks, starting at row `j0`.
struct Band<'a> {
    j0: usize,
    u: &'a mut [f64],
    v: &'a mut [f64],
    h: &'a mut [f64],
}

/// One field's values around a cell (j, i): at (j, i), (j, i−1), (j, i+1), (j−1, i), (j+1, i),
/// (j+1, i−1) and (j−1, i+1), the neighbours the tendency and its tangent read.
#[derive(Clone, Copy)]
struct Around {
    p: f64,
    w: f64,
    e: f64,
    s: f64,
    n: f64,
    nw: f64,
    se: f64,
}

/// Rows j−1, j and j+1 of one field (nx values each).
#[derive(Clone, Copy)]
struct Rows<'a> {
    south: &'a [f64],
    mid: &'a [f64],
    north: &'a [f64],
}

impl Rows<'_> {
    /// Cell i of a row whose neighbours i ± 1 do not wrap (0 < i < nx − 1).
    #[inline(always)]
    fn at(&self, i: usize) -> Around {
        self.around(i, i - 1, i + 1)
    }

    /// Cell i with periodic neighbours along the row.
    #[inline(always)]
    fn wrapped(&self, i: usize) -> Around {
        let nx = self.mid.len();
        self.around(i, below(i, nx), above(i, nx))
    }

    /// Cell i with its west and east neighbours at columns im and ip.
    #[inline(always)]
    fn around(&self, i: usize, im: usize, ip: usize) -> Around {
        Around {
            p: self.mid[i],
            w: self.mid[im],
            e: self.mid[ip],
            s: self.south[i],
            n: self.north[i],
            nw: self.north[im],
            se: self.south[ip],
        }
    }
}

impl ShallowWaterField {
    /// (δf, δg) from a parameter perturbation in θ order (0 for a parameter not selected).
    fn parameter_pair(&self, dparams: &[f64]) -> (f64, f64) {
        let mut values = dparams.iter().copied();
        let df = if self.parameters.coriolis {
            values.next().unwrap_or(0.0)
        } else {
            0.0
        };
        let dg = if self.parameters.gravity {
            values.next().unwrap_or(0.0)
        } else {
            0.0
        };
        (df, dg)
    }

    /// Calls `body(p, [∂ru/∂f, ∂rv/∂f, ∂ru/∂g, ∂rv/∂g])` for every cell p, with ru, rv the
    /// u and v right-hand sides at p: ∂ru/∂f = v̄, ∂rv/∂f = −ū, ∂ru/∂g = −(h[p] − h[w])/dx,
    /// ∂rv/∂g = −(h[p] − h[s])/dy (the h equation depends on neither).
    fn for_each_parameter_term(&self, x: &[f64], mut body: impl FnMut(usize, [f64; 4])) {
        self.for_each_around(x, |p, [u, v, h]| {
            let vbar = 0.25 * (v.w + v.p + v.nw + v.n);
            let ubar = 0.25 * (u.s + u.se + u.p + u.e);
            body(
                p,
                [vbar, -ubar, -(h.p - h.w) / self.dx, -(h.p - h.s) / self.dy],
            );
        });
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
        let mut e = 0.0;
        self.for_each_around(x, |_, [u, v, h]| {
            let dxf = self.depth + 0.5 * (h.w + h.p);
            let dyf = self.depth + 0.5 * (h.s + h.p);
            e += 0.5 * (dxf * u.p * u.p + dyf * v.p * v.p) + 0.5 * self.gravity * h.p * h.p;
        });
        e
    }

    /// The state in discrete geostrophic balance with the streamfunction `psi` (m²/s) given at
    /// the cell corners (corner (j, i) at x = i·dx, y = j·dy, ny × nx row-major, periodic):
    ///   u[j,i] = −(ψ[j+1,i] − ψ[j,i]) / dy,  v[j,i] = (ψ[j,i+1] − ψ[j,i]) / dx,
    ///   h[j,i] = (f/g)·¼(ψ[j,i] + ψ[j,i+1] + ψ[j+1,i] + ψ[j+1,i+1]).
    /// Then, exactly on the C-grid, ∂u/∂x + ∂v/∂y = 0 at every centre, f v̄ = g ∂h/∂x at every
    /// u point and −f ū = g ∂h/∂y at every v point: the linear terms of the tendency vanish.
    /// With f = 0 the velocities are returned with h = 0.
    ///
    /// Panics if `psi` does not hold nx·ny values.
    pub fn balanced_state(&self, psi: &[f64]) -> Vec<f64> {
        let (nx, ny, m) = (self.nx, self.ny, self.cells());
        assert_eq!(psi.len(), m, "the streamfunction needs nx·ny corner values");
        let mut x = vec![0.0; 3 * m];
        let scale = if self.coriolis != 0.0 {
            self.coriolis / self.gravity
        } else {
            0.0
        };
        for j in 0..ny {
            let jp = above(j, ny);
            for i in 0..nx {
                let ip = above(i, nx);
                let p = j * nx + i;
                let (c, ce, cn, cne) = (
                    psi[p],
                    psi[j * nx + ip],
                    psi[jp * nx + i],
                    psi[jp * nx + ip],
                );
                x[p] = -(cn - c) / self.dy;
                x[m + p] = (ce - c) / self.dx;
                x[2 * m + p] = scale * 0.25 * (c + ce + cn + cne);
            }
        }
        x
    }

    /// The state of [`ShallowWaterField::initial`] (see [`InitialCondition`]).
    pub fn initial_state(&self) -> Vec<f64> {
        let (nx, ny, m) = (self.nx, self.ny, self.cells());
        let g_over_f = if self.coriolis != 0.0 {
            self.gravity / self.coriolis
        } else {
            0.0
        };
        match self.initial {
            InitialCondition::Bump { amplitude, width } => {
                let mut x = vec![0.0; 3 * m];
                let (xc, yc) = (nx as f64 / 2.0, ny as f64 / 2.0);
                for j in 0..ny {
                    for i in 0..nx {
                        let (rx, ry) = (i as f64 + 0.5 - xc, j as f64 + 0.5 - yc);
                        x[2 * m + j * nx + i] =
                            amplitude * (-(rx * rx + ry * ry) / (width * width)).exp();
                    }
                }
                x
            }
            InitialCondition::Jet { amplitude, width } => {
                let (y1, y2) = (ny as f64 / 4.0, 3.0 * ny as f64 / 4.0);
                let mut psi = vec![0.0; m];
                for (j, row) in psi.chunks_mut(nx).enumerate() {
                    let y = j as f64;
                    let eta =
                        amplitude * (((y - y1) / width).tanh() - ((y - y2) / width).tanh() - 1.0);
                    row.fill(g_over_f * eta);
                }
                let mut x = self.balanced_state(&psi);
                let mean = self.mass(&x) / m as f64;
                x[2 * m..].iter_mut().for_each(|h| *h -= mean);
                x
            }
            InitialCondition::Eddies {
                amplitude,
                width,
                seed,
            } => {
                let psi = self.eddy_streamfunction(width, seed);
                let mut x = self.balanced_state(&psi);
                let largest = x[2 * m..].iter().fold(0.0f64, |a, h| a.max(h.abs()));
                if largest > 0.0 {
                    let s = amplitude / largest;
                    x.iter_mut().for_each(|v| *v *= s);
                }
                x
            }
        }
    }

    /// The random corner streamfunction of [`InitialCondition::Eddies`] before scaling:
    /// Σ a·cos(2π(k i/nx + l j/ny) + φ) over [`EDDY_MODES`] modes, in units where ψ·f/g is m.
    fn eddy_streamfunction(&self, width: f64, seed: u64) -> Vec<f64> {
        let (nx, ny) = (self.nx, self.ny);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let tau = std::f64::consts::TAU;
        let mut psi = vec![0.0; nx * ny];
        let (mut cx, mut sx) = (vec![0.0; nx], vec![0.0; nx]);
        let (mut cy, mut sy) = (vec![0.0; ny], vec![0.0; ny]);
        for _ in 0..EDDY_MODES {
            // Wavenumber magnitude 0.7/W..1.4/W rad per cell, random direction.
            let kappa = rng.random_range(0.7..1.4) / width;
            let theta = rng.random_range(0.0..tau);
            let amp: f64 = rng.sample(StandardNormal);
            let phase = rng.random_range(0.0..tau);
            let mut k = (kappa * theta.cos() * nx as f64 / tau).round() as i64;
            let l = (kappa * theta.sin() * ny as f64 / tau).round() as i64;
            if k == 0 && l == 0 {
                k = 1;
            }
            for (i, (c, s)) in cx.iter_mut().zip(sx.iter_mut()).enumerate() {
                let a = tau * (k * i as i64).rem_euclid(nx as i64) as f64 / nx as f64 + phase;
                (*s, *c) = a.sin_cos();
            }
            for (j, (c, s)) in cy.iter_mut().zip(sy.iter_mut()).enumerate() {
                let b = tau * (l * j as i64).rem_euclid(ny as i64) as f64 / ny as f64;
                (*s, *c) = b.sin_cos();
            }
            // cos(A + B) = cos A cos B − sin A sin B.
            for (j, row) in psi.chunks_mut(nx).enumerate() {
                let (a, b) = (amp * cy[j], amp * sy[j]);
                for ((v, c), s) in row.iter_mut().zip(&cx).zip(&sx) {
                    *v += a * c - b * s;
                }
            }
        }
        psi
    }

    /// Rows j − 1, j, j + 1 of the field `a` (nx·ny values).
    #[inline(always)]
    fn rows<'a>(&self, a: &'a [f64], j: usize) -> Rows<'a> {
        let (nx, ny) = (self.nx, self.ny);
        let (r, rs, rn) = (j * nx, below(j, ny) * nx, above(j, ny) * nx);
        Rows {
            south: &a[rs..rs + nx],
            mid: &a[r..r + nx],
            north: &a[rn..rn + nx],
        }
    }

    /// Calls `body(p, [u, v, h] around p)` for every cell p of the state x, row by row.
    fn for_each_around(&self, x: &[f64], mut body: impl FnMut(usize, [Around; 3])) {
        let m = self.cells();
        let fields = [&x[..m], &x[m..2 * m], &x[2 * m..3 * m]];
        for j in 0..self.ny {
            let rows = fields.map(|a| self.rows(a, j));
            for i in 0..self.nx {
                body(j * self.nx + i, rows.map(|r| r.wrapped(i)));
            }
        }
    }

    /// out = cell(values around each cell of `inputs`) for every cell of the band's rows, the
    /// three results into its u, v and h rows. Within a row the neighbours i ± 1 of all but
    /// the first and last cell are plain offsets into row slices, so the loop vectorises.
    #[inline(always)]
    fn over_cells<const K: usize>(
        &self,
        inputs: [&[f64]; K],
        band: Band<'_>,
        cell: impl Fn([Around; K]) -> [f64; 3],
    ) {
        let nx = self.nx;
        let Band { j0, u, v, h } = band;
        let rows = u.chunks_exact_mut(nx).zip(v.chunks_exact_mut(nx));
        for (k, ((ou, ov), oh)) in rows.zip(h.chunks_exact_mut(nx)).enumerate() {
            let rows = inputs.map(|a| self.rows(a, j0 + k));
            let (ou, ov, oh) = (&mut ou[..nx], &mut ov[..nx], &mut oh[..nx]);
            let mut put = |i: usize, [a, b, c]: [f64; 3]| {
                ou[i] = a;
                ov[i] = b;
                oh[i] = c;
            };
            let last = nx - 1;
            put(0, cell(rows.map(|r| r.wrapped(0))));
            for i in 1..last {
                put(i, cell(rows.map(|r| r.at(i))));
            }
            if last > 0 {
                put(last, cell(rows.map(|r| r.wrapped(last))));
            }
        }
    }

    /// ν∇²a at the cell `a` surrounds.
    #[inline(always)]
    fn laplacian_of(&self, a: Around) -> f64 {
        let (rx, ry) = (1.0 / (self.dx * self.dx), 1.0 / (self.dy * self.dy));
        self.viscosity * ((a.e - 2.0 * a.p + a.w) * rx + (a.n - 2.0 * a.p + a.s) * ry)
    }

    /// Whether eval, tangent and adjoint run in parallel row bands (serially where the
    /// thread pool cannot start).
    #[inline(always)]
    fn parallel(&self) -> bool {
        self.cells() >= self.parallel_min_cells && crate::core::thread_pool::parallel_available()
    }

    /// Values per parallel band: whole rows, about four bands per thread.
    fn band_len(&self) -> usize {
        let threads = rayon::current_num_threads().max(1);
        self.ny.div_ceil(4 * threads).max(1) * self.nx
    }

    /// Runs `kernel` over the rows of the three output blocks of `out`: at once when serial,
    /// band by band on the thread pool when parallel.
    #[inline(always)]
    fn over_rows(&self, out: &mut [f64], kernel: impl Fn(Band<'_>) + Sync) {
        let m = self.cells();
        let (u, v, h) = blocks(out, m);
        if !self.parallel() {
            return kernel(Band { j0: 0, u, v, h });
        }
        let len = self.band_len();
        let nx = self.nx;
        u.par_chunks_mut(len)
            .zip(v.par_chunks_mut(len))
            .zip(h.par_chunks_mut(len))
            .enumerate()
            .for_each(|(b, ((u, v), h))| {
                kernel(Band {
                    j0: b * len / nx,
                    u,
                    v,
                    h,
                })
            });
    }

    /// out = f(x) on the rows of `band`.
    #[inline(always)]
    fn eval_band(&self, x: &[f64], band: Band<'_>) {
        let m = self.cells();
        let (u, v, h) = (&x[..m], &x[m..2 * m], &x[2 * m..3 * m]);
        let (g, f, depth) = (self.gravity, self.coriolis, self.depth);
        let (hx, hy) = (0.5 / self.dx, 0.5 / self.dy);
        self.over_cells([u, v, h], band, |[u, v, h]| {
            // u at the west face.
            let vbar = 0.25 * (v.w + v.p + v.nw + v.n);
            let ux = (u.e - u.w) * hx;
            let uy = (u.n - u.s) * hy;
            let ou =
                -u.p * ux - vbar * uy + f * vbar - g * (h.p - h.w) / self.dx + self.laplacian_of(u);
            // v at the south face.
            let ubar = 0.25 * (u.s + u.se + u.p + u.e);
            let vx = (v.e - v.w) * hx;
            let vy = (v.n - v.s) * hy;
            let ov =
                -ubar * vx - v.p * vy - f * ubar - g * (h.p - h.s) / self.dy + self.laplacian_of(v);
            // h at the centre, from the four face fluxes.
            let fw = u.p * (depth + 0.5 * (h.w + h.p));
            let fe = u.e * (depth + 0.5 * (h.p + h.e));
            let fs = v.p * (depth + 0.5 * (h.s + h.p));
            let fn_ = v.n * (depth + 0.5 * (h.p + h.n));
            let oh = -(fe - fw) / self.dx - (fn_ - fs) / self.dy + self.laplacian_of(h);
            [ou, ov, oh]
        });
    }

    /// The tangent on the rows of `band`.
    #[inline(always)]
    fn tangent_band(&self, x: &[f64], dx: &[f64], band: Band<'_>) {
        let m = self.cells();
        let (u, v, h) = (&x[..m], &x[m..2 * m], &x[2 * m..3 * m]);
        let (du, dv, dh) = (&dx[..m], &dx[m..2 * m], &dx[2 * m..3 * m]);
        let (g, f, depth) = (self.gravity, self.coriolis, self.depth);
        let (hx, hy) = (0.5 / self.dx, 0.5 / self.dy);
        self.over_cells([u, v, h, du, dv, dh], band, |[u, v, h, du, dv, dh]| {
            let vbar = 0.25 * (v.w + v.p + v.nw + v.n);
            let dvbar = 0.25 * (dv.w + dv.p + dv.nw + dv.n);
            let ux = (u.e - u.w) * hx;
            let dux = (du.e - du.w) * hx;
            let uy = (u.n - u.s) * hy;
            let duy = (du.n - du.s) * hy;
            let ou = -du.p * ux - u.p * dux - dvbar * uy - vbar * duy + f * dvbar
                - g * (dh.p - dh.w) / self.dx
                + self.laplacian_of(du);
            let ubar = 0.25 * (u.s + u.se + u.p + u.e);
            let dubar = 0.25 * (du.s + du.se + du.p + du.e);
            let vx = (v.e - v.w) * hx;
            let dvx = (dv.e - dv.w) * hx;
            let vy = (v.n - v.s) * hy;
            let dvy = (dv.n - dv.s) * hy;
            let ov = -dubar * vx
                - ubar * dvx
                - dv.p * vy
                - v.p * dvy
                - f * dubar
                - g * (dh.p - dh.s) / self.dy
                + self.laplacian_of(dv);
            let dfw = du.p * (depth + 0.5 * (h.w + h.p)) + u.p * 0.5 * (dh.w + dh.p);
            let dfe = du.e * (depth + 0.5 * (h.p + h.e)) + u.e * 0.5 * (dh.p + dh.e);
            let dfs = dv.p * (depth + 0.5 * (h.s + h.p)) + v.p * 0.5 * (dh.s + dh.p);
            let dfn = dv.n * (depth + 0.5 * (h.p + h.n)) + v.n * 0.5 * (dh.p + dh.n);
            let oh = -(dfe - dfw) / self.dx - (dfn - dfs) / self.dy + self.laplacian_of(dh);
            [ou, ov, oh]
        });
    }

    /// The adjoint on the rows of `band` (gather form): the band receives α·(∂f/∂x)ᵀλ, and the
    /// matching rows of `secondary` (all 3m values, if any) receive β·(∂f/∂x)ᵀλ.
    ///
    /// The formulas are on [`VectorField::adjoint`] below.
    #[inline(always)]
    fn adjoint_band(
        &self,
        x: &[f64],
        lambda: &[f64],
        band: Band<'_>,
        alpha: f64,
        secondary: Option<(Band<'_>, f64)>,
    ) {
        let (nx, ny, m) = (self.nx, self.ny, self.cells());
        let (u, v, h) = (&x[..m], &x[m..2 * m], &x[2 * m..3 * m]);
        let (lu, lv, lh) = (&lambda[..m], &lambda[m..2 * m], &lambda[2 * m..3 * m]);
        let Band {
            j0,
            u: pu,
            v: pv,
            h: ph,
        } = band;
        let mut secondary = secondary.map(|(b, beta)| (b.u, b.v, b.h, beta));
        let base = j0 * nx;
        let j1 = j0 + pu.len() / nx;
        let (g, f, depth) = (self.gravity, self.coriolis, self.depth);
        let (hx, hy) = (0.5 / self.dx, 0.5 / self.dy);
        let (rdx, rdy) = (1.0 / self.dx, 1.0 / self.dy);
        let (rx, ry) = (rdx * rdx, rdy * rdy);
        let nu = self.viscosity;
        let lap = |a: &[f64], q: usize, w: usize, e: usize, s: usize, n: usize| {
            nu * ((a[e] - 2.0 * a[q] + a[w]) * rx + (a[n] - 2.0 * a[q] + a[s]) * ry)
        };
        for j in j0..j1 {
            let jm = below(j, ny);
            let jp = above(j, ny);
            let (r, rs, rn) = (j * nx, jm * nx, jp * nx);
            let (rss, rnn) = (below(jm, ny) * nx, above(jp, ny) * nx);
            for i in 0..nx {
                let im = below(i, nx);
                let ip = above(i, nx);
                let (iww, iee) = (below(im, nx), above(ip, nx));
                let q = r + i;
                let (w, e, s, n) = (r + im, r + ip, rs + i, rn + i);
                let (nw, ne, sw, se) = (rn + im, rn + ip, rs + im, rs + ip);
                // Coefficients of the tangent at the neighbouring outputs.
                let ux_q = (u[e] - u[w]) * hx;
                let uy_q = (u[n] - u[s]) * hy;
                let uy_e = (u[ne] - u[se]) * hy;
                let uy_se = (u[e] - u[rss + ip]) * hy;
                let uy_s = (u[q] - u[rss + i]) * hy;
                let vx_q = (v[e] - v[w]) * hx;
                let vx_w = (v[q] - v[r + iww]) * hx;
                let vx_n = (v[ne] - v[nw]) * hx;
                let vx_nw = (v[n] - v[rn + iww]) * hx;
                let vy_q = (v[n] - v[s]) * hy;
                let vbar_s = 0.25 * (v[sw] + v[s] + v[w] + v[q]);
                let vbar_n = 0.25 * (v[nw] + v[n] + v[rnn + im] + v[rnn + i]);
                let ubar_w = 0.25 * (u[sw] + u[s] + u[w] + u[q]);
                let ubar_e = 0.25 * (u[se] + u[rs + iee] + u[e] + u[r + iee]);
                let dxf = depth + 0.5 * (h[w] + h[q]);
                let dyf = depth + 0.5 * (h[s] + h[q]);
                let bu = -ux_q * lu[q] - u[w] * hx * lu[w] + u[e] * hx * lu[e]
                    - vbar_s * hy * lu[s]
                    + vbar_n * hy * lu[n]
                    - 0.25
                        * ((vx_q + f) * lv[q]
                            + (vx_w + f) * lv[w]
                            + (vx_n + f) * lv[n]
                            + (vx_nw + f) * lv[nw])
                    + dxf * (lh[q] - lh[w]) * rdx
                    + lap(lu, q, w, e, s, n);
                let bv = 0.25
                    * ((f - uy_q) * lu[q]
                        + (f - uy_e) * lu[e]
                        + (f - uy_s) * lu[s]
                        + (f - uy_se) * lu[se])
                    - ubar_w * hx * lv[w]
                    + ubar_e * hx * lv[e]
                    - vy_q * lv[q]
                    - v[s] * hy * lv[s]
                    + v[n] * hy * lv[n]
                    + dyf * (lh[q] - lh[s]) * rdy
                    + lap(lv, q, w, e, s, n);
                let bh = g * (lu[e] - lu[q]) * rdx
                    + g * (lv[n] - lv[q]) * rdy
                    + 0.5 * u[q] * (lh[q] - lh[w]) * rdx
                    + 0.5 * u[e] * (lh[e] - lh[q]) * rdx
                    + 0.5 * v[q] * (lh[q] - lh[s]) * rdy
                    + 0.5 * v[n] * (lh[n] - lh[q]) * rdy
                    + lap(lh, q, w, e, s, n);
                let k = q - base;
                pu[k] += alpha * bu;
                pv[k] += alpha * bv;
                ph[k] += alpha * bh;
                if let Some((su, sv, sh, beta)) = &mut secondary {
                    su[k] += *beta * bu;
                    sv[k] += *beta * bv;
                    sh[k] += *beta * bh;
                }
            }
        }
    }
}

/// Band kernels compiled for AVX2 (as in [`super::rk4`]'s wide kernels: same operations,
/// same rounding), called from the rayon tasks, which do not inherit the caller's features.
#[cfg(target_arch = "x86_64")]
mod wide {
    use super::{Band, ShallowWaterField};

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn eval(f: &ShallowWaterField, x: &[f64], band: Band<'_>) {
        f.eval_band(x, band)
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn tangent(f: &ShallowWaterField, x: &[f64], dx: &[f64], band: Band<'_>) {
        f.tangent_band(x, dx, band)
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn adjoint(
        f: &ShallowWaterField,
        x: &[f64],
        lambda: &[f64],
        band: Band<'_>,
        alpha: f64,
        secondary: Option<(Band<'_>, f64)>,
    ) {
        f.adjoint_band(x, lambda, band, alpha, secondary)
    }
}

/// Whether the processor has AVX2 (cached by std).
#[inline(always)]
fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

impl ShallowWaterField {
    /// [`Self::eval_band`] with the AVX2 build where the processor has it.
    fn eval_band_dispatch(&self, x: &[f64], band: Band<'_>) {
        #[cfg(target_arch = "x86_64")]
        if has_avx2() {
            // SAFETY: the processor supports AVX2 (checked by has_avx2).
            return unsafe { wide::eval(self, x, band) };
        }
        self.eval_band(x, band)
    }

    /// [`Self::tangent_band`] with the AVX2 build where the processor has it.
    fn tangent_band_dispatch(&self, x: &[f64], dx: &[f64], band: Band<'_>) {
        #[cfg(target_arch = "x86_64")]
        if has_avx2() {
            // SAFETY: as in eval_band_dispatch.
            return unsafe { wide::tangent(self, x, dx, band) };
        }
        self.tangent_band(x, dx, band)
    }

    /// [`Self::adjoint_band`] with the AVX2 build where the processor has it.
    fn adjoint_band_dispatch(
        &self,
        x: &[f64],
        lambda: &[f64],
        band: Band<'_>,
        alpha: f64,
        secondary: Option<(Band<'_>, f64)>,
    ) {
        #[cfg(target_arch = "x86_64")]
        if has_avx2() {
            // SAFETY: as in eval_band_dispatch.
            return unsafe { wide::adjoint(self, x, lambda, band, alpha, secondary) };
        }
        self.adjoint_band(x, lambda, band, alpha, secondary)
    }
}

impl VectorField for ShallowWaterField {
    fn dim(&self) -> usize {
        3 * self.cells()
    }

    fn param_len(&self) -> usize {
        usize::from(self.parameters.coriolis) + usize::from(self.parameters.gravity)
    }

    /// θ = [f, g], keeping the selected ones.
    fn params(&self) -> Vec<f64> {
        [
            (self.parameters.coriolis, self.coriolis),
            (self.parameters.gravity, self.gravity),
        ]
        .into_iter()
        .filter_map(|(on, value)| on.then_some(value))
        .collect()
    }

    fn set_params(&mut self, params: &[f64]) {
        let mut values = params.iter().copied();
        if self.parameters.coriolis {
            self.coriolis = values.next().unwrap_or(self.coriolis);
        }
        if self.parameters.gravity {
            self.gravity = values.next().unwrap_or(self.gravity);
        }
    }

    /// RK4's vector updates run on the thread pool whenever the tendency does, in bands of
    /// the same size.
    fn parallel_chunk(&self) -> Option<usize> {
        self.parallel().then(|| self.band_len())
    }

    /// The discrete right-hand side of the module documentation.
    #[inline(always)]
    fn eval(&self, x: &[f64], out: &mut [f64]) {
        if self.parallel() {
            self.over_rows(out, |band| self.eval_band_dispatch(x, band));
        } else {
            self.over_rows(out, |band| self.eval_band(x, band));
        }
    }

    /// δf: every product of the right-hand side differentiated, e.g. δ(−u ∂u/∂x) =
    /// −δu ∂u/∂x − u ∂δu/∂x and δFˣ = δu Dˣ + u ½(δh[j,i−1] + δh[j,i]).
    #[inline(always)]
    fn tangent(&self, x: &[f64], dx: &[f64], dparams: &[f64], out: &mut [f64]) {
        if self.parallel() {
            self.over_rows(out, |band| self.tangent_band_dispatch(x, dx, band));
        } else {
            self.over_rows(out, |band| self.tangent_band(x, dx, band));
        }
        if dparams.iter().any(|&d| d != 0.0) {
            let (df, dg) = self.parameter_pair(dparams);
            let m = self.cells();
            let (ou, rest) = out[..3 * m].split_at_mut(m);
            let ov = &mut rest[..m];
            self.for_each_parameter_term(x, |p, [fu, fv, gu, gv]| {
                ou[p] += df * fu + dg * gu;
                ov[p] += df * fv + dg * gv;
            });
        }
    }

    /// The transpose of [`Self::tangent`] in gather form: x̄[q] = Σ_p c_pq λ[p] over the
    /// tangent terms c_pq·δx[q] of every output p, added as α x̄ to the primary target and β x̄
    /// to the secondary one. Each output row reads λ and x in rows j−2..j+2 only.
    ///
    /// With L = λ and a neighbour named by its direction from the output point q (w = (j, i−1),
    /// sw = (j−1, i−1), ss = (j−2, i), ww = (j, i−2), …), the transpose of each tangent term:
    ///   ū[q] = −∂ₓu(q) Lu[q] − u[w] Lu[w]/2dx + u[e] Lu[e]/2dx − v̄(s) Lu[s]/2dy
    ///          + v̄(n) Lu[n]/2dy − ¼ Σ_{p ∈ q, w, n, nw} (∂ₓv(p) + f) Lv[p]
    ///          + Dˣ(q) (Lh[q] − Lh[w])/dx + ν∇²Lu,
    ///   v̄[q] = ¼ Σ_{p ∈ q, e, s, se} (f − ∂ᵧu(p)) Lu[p] − ū(w) Lv[w]/2dx + ū(e) Lv[e]/2dx
    ///          − ∂ᵧv(q) Lv[q] − v[s] Lv[s]/2dy + v[n] Lv[n]/2dy
    ///          + Dʸ(q) (Lh[q] − Lh[s])/dy + ν∇²Lv,
    ///   h̄[q] = g(Lu[e] − Lu[q])/dx + g(Lv[n] − Lv[q])/dy + ½u[q](Lh[q] − Lh[w])/dx
    ///          + ½u[e](Lh[e] − Lh[q])/dx + ½v[q](Lh[q] − Lh[s])/dy + ½v[n](Lh[n] − Lh[q])/dy
    ///          + ν∇²Lh,
    /// where ∂ₓu(p), v̄(p), … are the coefficients the tangent uses at output p (∇² is
    /// symmetric on the periodic grid).
    #[inline(always)]
    fn adjoint(&self, x: &[f64], lambda: &[f64], targets: AdjointTargets<'_>) {
        let m = self.cells();
        let AdjointTargets {
            primary,
            alpha,
            secondary,
            params,
        } = targets;
        if !params.is_empty() {
            // (∂f/∂θ)ᵀ λ: Σ_p over the u and v equations of λ times each term's coefficient.
            let (mut bar_f, mut bar_g) = (0.0, 0.0);
            self.for_each_parameter_term(x, |p, [fu, fv, gu, gv]| {
                let (lu, lv) = (lambda[p], lambda[m + p]);
                bar_f += fu * lu + fv * lv;
                bar_g += gu * lu + gv * lv;
            });
            let mut slots = params.iter_mut();
            if self.parameters.coriolis {
                if let Some(slot) = slots.next() {
                    *slot += alpha * bar_f;
                }
            }
            if self.parameters.gravity {
                if let Some(slot) = slots.next() {
                    *slot += alpha * bar_g;
                }
            }
        }
        let (pu, pv, ph) = blocks(primary, m);
        match secondary {
            None if !self.parallel() => {
                let band = Band {
                    j0: 0,
                    u: pu,
                    v: pv,
                    h: ph,
                };
                self.adjoint_band(x, lambda, band, alpha, None)
            }
            Some((s, beta)) if !self.parallel() => {
                let (su, sv, sh) = blocks(s, m);
                let band = Band {
                    j0: 0,
                    u: pu,
                    v: pv,
                    h: ph,
                };
                let second = Band {
                    j0: 0,
                    u: su,
                    v: sv,
                    h: sh,
                };
                self.adjoint_band(x, lambda, band, alpha, Some((second, beta)))
            }
            None => {
                let (len, nx) = (self.band_len(), self.nx);
                pu.par_chunks_mut(len)
                    .zip(pv.par_chunks_mut(len))
                    .zip(ph.par_chunks_mut(len))
                    .enumerate()
                    .for_each(|(b, ((u, v), h))| {
                        let band = Band {
                            j0: b * len / nx,
                            u,
                            v,
                            h,
                        };
                        self.adjoint_band_dispatch(x, lambda, band, alpha, None)
                    });
            }
            Some((s, beta)) => {
                let (su, sv, sh) = blocks(s, m);
                let (len, nx) = (self.band_len(), self.nx);
                let primary = pu
                    .par_chunks_mut(len)
                    .zip(pv.par_chunks_mut(len))
                    .zip(ph.par_chunks_mut(len));
                let second = su
                    .par_chunks_mut(len)
                    .zip(sv.par_chunks_mut(len))
                    .zip(sh.par_chunks_mut(len));
                primary
                    .zip(second)
                    .enumerate()
                    .for_each(|(b, (((u, v), h), ((su, sv), sh)))| {
                        let j0 = b * len / nx;
                        let band = Band { j0, u, v, h };
                        let second = Band {
                            j0,
                            u: su,
                            v: sv,
                            h: sh,
                        };
                        self.adjoint_band_dispatch(x, lambda, band, alpha, Some((second, beta)))
                    });
            }
        }
    }
}

impl ModelInfo for ShallowWater {
    fn name(&self) -> &'static str {
        "shallow water"
    }
    fn gravity_and_coriolis(&self) -> Option<(f64, f64)> {
        Some((self.field.gravity, self.field.coriolis))
    }
    fn time_step(&self) -> f64 {
        self.dt
    }
    fn time_scale(&self) -> crate::io::cf_time::TimeScale {
        crate::io::cf_time::TimeScale::seconds()
    }
    fn param_names(&self) -> Vec<&'static str> {
        self.field.parameters.names()
    }
    /// The state of the configured [`InitialCondition`] (by default at rest with a 10 m
    /// Gaussian height bump of radius 3 cells at the centre of the domain).
    fn default_initial_state(&self) -> Vec<f64> {
        self.field.initial_state()
    }
    /// u, v and h on the [`FIELDS`] staggering of the doubly periodic plane, the wind (u, v).
    fn geometry(&self) -> Geometry {
        let f = &self.field;
        let grid = CellGrid {
            nx: f.nx,
            ny: f.ny,
            dx: f.dx,
            dy: f.dy,
        };
        staggered_plane(grid, &FIELDS, Some((0, 1)))
    }
}
