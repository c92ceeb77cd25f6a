//! A background-error covariance on a doubly periodic plane: per-variable standard deviations σ_v
//! and a separable, periodic Gaussian correlation, applied without ever forming the n×n matrix.
//!
//! Variable v of a state on an nx × ny grid (spacing dx, dy, block row-major, point = j·nx + i)
//! has the covariance block B_v = σ_v² (C_y ⊗ C_x), and different variables are uncorrelated
//! (B is block diagonal, so the C-grid staggering of the variables does not enter). C_x is the
//! nx×nx circulant matrix of the *wrapped* Gaussian
//!
//! c(d) = Σ_m exp(−(d + m·W)² / (2L²)) / Σ_m exp(−(m·W)² / (2L²)),  W = nx·dx,
//!
//! taken at the distances d = (i − i′)·dx (a sum over the periodic images, normalised to
//! c(0) = 1), and C_y the same along y. The product c_x(Δx)·c_y(Δy) is exactly the 2-D wrapped
//! Gaussian of the distance (Δx, Δy), because exp(−(Δx² + Δy²)/(2L²)) factorises.
//!
//! Unlike the Gaussian of the shortest periodic distance, the wrapped Gaussian is positive
//! definite for every L: by Poisson summation its circulant spectrum is
//!
//! λ_k ∝ Σ_p exp(−2π² ℓ² (k/n + p)²),  ℓ = L/dx,  k = 0 … n−1,
//!
//! a sum of positive terms. That closed form is how the spectrum is computed here (for ℓ ≥ 1;
//! for ℓ < 1 the discrete Fourier transform of the image sum, which needs fewer terms), with
//! full relative precision even for eigenvalues far below round-off of λ_max, and normalised
//! so that (1/n) Σ_k λ_k = c(0) = 1. The powers C^α (α = 1, ½, −½, −1) are circulant too,
//! first row r_d = (1/n) Σ_k λ_k^α cos(2πkd/n), and are stored as dense nx×nx and ny×ny
//! matrices (small: the 1-D factors only). B^α is then applied per variable block X (ny×nx) as
//! σ_v^{2α} C_y^α X C_x^α: the row pass X C_x^α (C_x^α symmetric, so every row r becomes
//! C_x^α r) into a scratch block, then the column pass C_y^α (·) into the output, two
//! matrix-matrix products (ndarray's `general_mat_mul`), O(n·(nx + ny)) work.
//!
//! The scratch block lives in a thread-local buffer that grows to the largest block seen on
//! that thread and is then reused: applies allocate nothing after the first on each thread,
//! and a [`PlaneGaussian`] shared between threads (behind an `Arc`) needs no lock. (Grids of
//! at most 7 cells along both axes are the exception: ndarray hands products that small to
//! matrixmultiply rather than BLAS, and it packs into a fresh buffer on every call.)
//!
//! The smallest eigenvalue, at the shortest wavelength k = n/2, falls as exp(−π²ℓ²/2), so the
//! 1-D condition number is about ½ exp(π²ℓ²/2): it depends on L in grid spacings, not on the
//! size of the domain, and passes 10⁶ at ℓ ≈ 1.7. Length scales of several grid spacings (the
//! ones a forecast error has) would leave B^−½ and B⁻¹ without a single correct digit, so each
//! 1-D spectrum is floored at [`SPECTRAL_FLOOR`] = 10⁻⁶ of its largest eigenvalue:
//! λ′_k = max(λ_k, 10⁻⁶ λ_max), rescaled to mean 1 (unit variance). The covariance actually used is this floored one, consistently
//! in every power (B^½ B^½ = B, B^−½ = (B^½)⁻¹), with κ = κ_x·κ_y ≤ 10¹² (the bound a dense B
//! obeys too, [`super::background::MIN_RELATIVE_EIGENVALUE`]). For ℓ ≲ 1.7 the floor changes
//! nothing; for longer L it gives the shortest waves a variance of 10⁻⁶ of the longest ones
//! instead of practically none — a standard deviation 10⁻³ of theirs, invisible in samples and
//! correlations, and a regularisation of the inverse rather than a refusal.

use std::cell::RefCell;
use std::f64::consts::PI;

use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, ArrayViewMut2};

use super::positivity::{check_positive, MIN_RELATIVE_EIGENVALUE};
use crate::error::{Error, Result};
use crate::geometry::staggered_plane::cells_of;
use crate::geometry::Geometry;

/// The name under which errors of this covariance are reported.
const WHAT: &str = "plane Gaussian background covariance";

/// Largest state for which [`PlaneGaussian::dense_matrix`] builds the n×n matrix (n² · 8 bytes =
/// 128 MiB at this size).
pub const MAX_DENSE_LEN: usize = 4096;

/// Most cells along one axis: each axis stores four dense n×n powers (4·n²·8 bytes, 128 MiB at
/// this size), and an apply costs O(n_axis) per value.
pub const MAX_AXIS_CELLS: usize = 2048;

thread_local! {
    /// One variable block of scratch for the row pass, reused by every apply on this thread.
    static SCRATCH: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

/// Which power B^α an apply computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Power {
    /// B itself (α = 1).
    One,
    /// The symmetric square root B^½ (α = ½).
    Half,
    /// B^−½ (α = −½).
    InverseHalf,
    /// B⁻¹ (α = −1).
    Inverse,
}

impl Power {
    /// α.
    fn exponent(self) -> f64 {
        match self {
            Power::One => 1.0,
            Power::Half => 0.5,
            Power::InverseHalf => -0.5,
            Power::Inverse => -1.0,
        }
    }

    fn index(self) -> usize {
        match self {
            Power::One => 0,
            Power::Half => 1,
            Power::InverseHalf => 2,
            Power::Inverse => 3,
        }
    }

    const ALL: [Power; 4] = [Power::One, Power::Half, Power::InverseHalf, Power::Inverse];
}

/// The periodic 1-D Gaussian correlation along one axis: its spectrum and the dense powers
/// C^α = F diag(λ^α) Fᵀ (circulant, symmetric), row-major n×n.
#[derive(Clone, Debug)]
struct Axis {
    n: usize,
    /// λ_k, mean 1.
    spectrum: Vec<f64>,
    min_eigenvalue: f64,
    max_eigenvalue: f64,
    /// C, C^½, C^−½, C⁻¹, in [`Power::index`] order.
    powers: [Vec<f64>; 4],
}

impl Axis {
    fn new(spectrum: &[f64]) -> Self {
        let n = spectrum.len();
        let min_eigenvalue = spectrum.iter().copied().fold(f64::INFINITY, f64::min);
        let max_eigenvalue = spectrum.iter().copied().fold(0.0, f64::max);
        let cosines = cosine_table(n);
        let powers = Power::ALL.map(|p| {
            let alpha = p.exponent();
            let weights: Vec<f64> = spectrum.iter().map(|l| l.powf(alpha)).collect();
            // r_d = (1/n) Σ_k λ_k^α cos(2πkd/n).
            let row: Vec<f64> = (0..n)
                .map(|d| {
                    weights
                        .iter()
                        .enumerate()
                        .map(|(k, w)| w * cosines[(k * d) % n])
                        .sum::<f64>()
                        / n as f64
                })
                .collect();
            let mut m = vec![0.0; n * n];
            for i in 0..n {
                for j in 0..n {
                    m[i * n + j] = row[(i + n - j) % n];
                }
            }
            m
        });
        Self {
            n,
            spectrum: spectrum.to_vec(),
            min_eigenvalue,
            max_eigenvalue,
            powers,
        }
    }

    fn power(&self, p: Power) -> ArrayView2<'_, f64> {
        ArrayView2::from_shape((self.n, self.n), &self.powers[p.index()])
            .expect("an axis power is stored as n×n")
    }
}

/// The two axes of one length scale.
#[derive(Clone, Debug)]
struct Factors {
    length_scale: f64,
    x: Axis,
    y: Axis,
}

/// B = blockdiag_v σ_v² (C_y ⊗ C_x)(L_v) on a doubly periodic plane, with the wrapped Gaussian
/// correlation of length scale L_v (metres) described in the [module documentation](self).
#[derive(Clone, Debug)]
pub struct PlaneGaussian {
    nx: usize,
    ny: usize,
    dx: f64,
    dy: f64,
    names: Vec<&'static str>,
    sigmas: Vec<f64>,
    /// Distinct length scales with their factors.
    factors: Vec<Factors>,
    /// For each variable, its entry in `factors`.
    factor_of: Vec<usize>,
}

impl PlaneGaussian {
    /// B = blockdiag_v σ_v² (C_y ⊗ C_x) on `grid`, with one standard deviation `sigmas[v]` and
    /// one length scale `length_scales[v]` (metres) per variable of the grid, in state order.
    ///
    /// An error (never a panic) for an empty grid or one of more than [`MAX_AXIS_CELLS`] cells
    /// along an axis, a spacing that is not finite and > 0, a count of σ or L that does not
    /// match the grid's variables, a σ or L that is not finite and > 0, and a correlation
    /// with no usable spectrum (each 1-D spectrum is floored at [`SPECTRAL_FLOOR`] of its
    /// maximum, so any finite L > 0 gives κ ≤ 10¹²).
    pub fn new(geometry: &Geometry, sigmas: &[f64], length_scales: &[f64]) -> Result<Self> {
        let Some((grid, _)) = cells_of(geometry) else {
            return Err(Error::invalid(
                WHAT,
                format!(
                    "the separable plane Gaussian needs every variable on one doubly periodic \
                     grid of cells (x, y); the model's variables ({}) are not",
                    geometry.variable_list()
                ),
            ));
        };
        let variables = geometry.variables().len();
        if grid.nx == 0 || grid.ny == 0 || variables == 0 {
            return Err(Error::invalid(
                WHAT,
                format!(
                    "the grid has {} × {} cells and {variables} variables (every count must \
                     be at least 1)",
                    grid.nx, grid.ny
                ),
            ));
        }
        if grid.nx.max(grid.ny) > MAX_AXIS_CELLS {
            return Err(Error::invalid(
                WHAT,
                format!(
                    "the grid has {} × {} cells; the separable factors are dense along each \
                     axis and limited to {MAX_AXIS_CELLS} cells per axis",
                    grid.nx, grid.ny
                ),
            ));
        }
        check_positive("grid spacing dx (m)", grid.dx)?;
        check_positive("grid spacing dy (m)", grid.dy)?;
        let names: Vec<&'static str> = geometry.variables().iter().map(|v| v.name).collect();
        for (what, values) in [
            ("standard deviations", sigmas),
            ("length scales", length_scales),
        ] {
            if values.len() != variables {
                return Err(Error::invalid(
                    WHAT,
                    format!(
                        "{} {what} given for the {variables} variables ({}) of the grid",
                        values.len(),
                        names.join(", ")
                    ),
                ));
            }
        }
        for (name, &s) in names.iter().zip(sigmas) {
            check_positive(
                &format!("background error standard deviation σ of {name}"),
                s,
            )?;
        }
        for (name, &l) in names.iter().zip(length_scales) {
            check_positive(&format!("background length scale L of {name} (m)"), l)?;
        }
        let mut factors: Vec<Factors> = Vec::new();
        let mut factor_of = Vec::with_capacity(variables);
        for (v, &l) in length_scales.iter().enumerate() {
            if let Some(k) = factors.iter().position(|f| f.length_scale == l) {
                factor_of.push(k);
                continue;
            }
            let sx = floored(wrapped_gaussian_spectrum(grid.nx, grid.dx, l)?);
            let sy = floored(wrapped_gaussian_spectrum(grid.ny, grid.dy, l)?);
            let ratio = relative_min_eigenvalue(&sx) * relative_min_eigenvalue(&sy);
            if ratio.is_nan() || ratio < MIN_RELATIVE_EIGENVALUE * (1.0 - 1e-9) {
                return Err(Error::invalid(
                    WHAT,
                    format!(
                        "the correlation of {} with L = {l} m has no usable spectrum \
                         (relative smallest eigenvalue {ratio:e})",
                        names[v]
                    ),
                ));
            }
            factor_of.push(factors.len());
            factors.push(Factors {
                length_scale: l,
                x: Axis::new(&sx),
                y: Axis::new(&sy),
            });
        }
        Ok(Self {
            nx: grid.nx,
            ny: grid.ny,
            dx: grid.dx,
            dy: grid.dy,
            names,
            sigmas: sigmas.to_vec(),
            factors,
            factor_of,
        })
    }

    /// The state length n = variables · nx · ny.
    pub fn len(&self) -> usize {
        self.sigmas.len() * self.nx * self.ny
    }

    /// Always false: the constructor requires at least one variable and one cell.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Cells (nx, ny) and spacings (dx, dy) in metres.
    pub fn grid(&self) -> (usize, usize, f64, f64) {
        (self.nx, self.ny, self.dx, self.dy)
    }

    /// The variables' names, standard deviations σ_v and length scales L_v (m), in state order.
    pub fn variables(&self) -> impl Iterator<Item = (&'static str, f64, f64)> + '_ {
        self.names
            .iter()
            .zip(&self.sigmas)
            .zip(&self.factor_of)
            .map(|((&name, &s), &k)| (name, s, self.factors[k].length_scale))
    }

    /// out = B^α x, per variable block X (ny×nx): σ_v^{2α} C_y^α X C_x^α. No allocation after
    /// the first apply on a thread (the row pass writes into a reused thread-local block).
    ///
    /// # Panics
    /// If `x` or `out` is not of length [`PlaneGaussian::len`].
    pub fn apply(&self, power: Power, x: &[f64], out: &mut [f64]) {
        let n = self.len();
        assert!(
            x.len() == n && out.len() == n,
            "PlaneGaussian::apply: B is {n}×{n} but the input has length {} and the output {}",
            x.len(),
            out.len()
        );
        let block = self.nx * self.ny;
        let alpha = power.exponent();
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            if scratch.len() < block {
                scratch.resize(block, 0.0);
            }
            let mut t = ArrayViewMut2::from_shape((self.ny, self.nx), &mut scratch[..block])
                .expect("the scratch block is ny×nx");
            for (v, (xv, ov)) in x
                .chunks_exact(block)
                .zip(out.chunks_exact_mut(block))
                .enumerate()
            {
                let f = &self.factors[self.factor_of[v]];
                let scale = self.sigmas[v].powf(2.0 * alpha);
                let xv = ArrayView2::from_shape((self.ny, self.nx), xv)
                    .expect("a variable block is ny×nx");
                let mut ov = ArrayViewMut2::from_shape((self.ny, self.nx), ov)
                    .expect("a variable block is ny×nx");
                // Row pass: T = X C_x^α. Column pass: O = σ^{2α} C_y^α T.
                general_mat_mul(1.0, &xv, &f.x.power(power), 0.0, &mut t);
                general_mat_mul(scale, &f.y.power(power), &t, 0.0, &mut ov);
            }
        });
    }

    /// The eigenvalue σ_v² λ_x(k) λ_y(l) of variable v's block at the 2-D Fourier mode (k, l),
    /// k < nx, l < ny.
    pub fn mode_variance(&self, v: usize, k: usize, l: usize) -> f64 {
        let f = &self.factors[self.factor_of[v]];
        self.sigmas[v] * self.sigmas[v] * f.x.spectrum[k] * f.y.spectrum[l]
    }

    /// Condition number κ(B) = max_v σ_v² λ_max(C_x) λ_max(C_y) / min_v σ_v² λ_min(C_x) λ_min(C_y)
    /// (the eigenvalues of a Kronecker product are the products of the factors' eigenvalues).
    pub fn condition_number(&self) -> f64 {
        let (mut largest, mut smallest) = (0.0f64, f64::INFINITY);
        for (&s, &k) in self.sigmas.iter().zip(&self.factor_of) {
            let f = &self.factors[k];
            largest = largest.max(s * s * f.x.max_eigenvalue * f.y.max_eigenvalue);
            smallest = smallest.min(s * s * f.x.min_eigenvalue * f.y.min_eigenvalue);
        }
        largest / smallest
    }

    /// Mean variance trace(B)/n = (1/V) Σ_v σ_v² (every correlation has c(0) = 1).
    pub fn mean_variance(&self) -> f64 {
        self.sigmas.iter().map(|s| s * s).sum::<f64>() / self.sigmas.len() as f64
    }

    /// B as a dense n×n matrix, blockdiag_v σ_v² (C_y ⊗ C_x) — for tests and diagnostics on
    /// small grids only: an error when n > [`MAX_DENSE_LEN`].
    pub fn dense_matrix(&self) -> Result<Array2<f64>> {
        let n = self.len();
        if n > MAX_DENSE_LEN {
            return Err(Error::invalid(
                WHAT,
                format!(
                    "a dense matrix of this B would be {n}×{n}; it is only built for states of \
                     at most {MAX_DENSE_LEN} values (apply B with its square root instead)"
                ),
            ));
        }
        let block = self.nx * self.ny;
        let mut b = Array2::zeros((n, n));
        for (v, (&s, &k)) in self.sigmas.iter().zip(&self.factor_of).enumerate() {
            let f = &self.factors[k];
            let (cx, cy) = (f.x.power(Power::One), f.y.power(Power::One));
            for p in 0..block {
                let (j, i) = (p / self.nx, p % self.nx);
                for q in 0..block {
                    let (jj, ii) = (q / self.nx, q % self.nx);
                    b[[v * block + p, v * block + q]] = s * s * cy[[j, jj]] * cx[[i, ii]];
                }
            }
        }
        Ok(b)
    }
}

/// The eigenvalues λ_k, k = 0 … n−1, of the n×n circulant correlation matrix of the wrapped
/// Gaussian of length scale L on a periodic axis of n points `spacing` apart, normalised to
/// (1/n) Σ_k λ_k = 1 (unit diagonal). For ℓ = L/spacing ≥ 1 by Poisson summation,
/// λ_k ∝ Σ_p exp(−2π²ℓ²(k/n + p)²), exact to relative precision however small; for ℓ < 1 as
/// the discrete Fourier transform λ_k = Σ_j c_j cos(2πkj/n) of the image sum
/// c_j = Σ_m exp(−(j + m·n)²/(2ℓ²)).
pub fn wrapped_gaussian_spectrum(n: usize, spacing: f64, length_scale: f64) -> Result<Vec<f64>> {
    let ell = length_scale / spacing;
    if n == 0 || !(ell.is_finite() && ell > 0.0) {
        return Err(Error::invalid(
            WHAT,
            format!(
                "length scale L = {length_scale} m over spacing {spacing} m on {n} points \
                 (L/spacing must be finite and > 0, n ≥ 1)"
            ),
        ));
    }
    let mut lambda = vec![0.0; n];
    if ell >= 1.0 {
        // Terms |k/n + p| ≥ 4 are below exp(−2π²·16) ≈ 10⁻¹³⁷ of the dominant one.
        for (k, l) in lambda.iter_mut().enumerate() {
            let frequency = k as f64 / n as f64;
            *l = (-5..=4)
                .map(|p| {
                    let t = ell * (frequency + p as f64);
                    (-2.0 * PI * PI * t * t).exp()
                })
                .sum();
        }
    } else {
        // Images within 40ℓ + n of the origin: exp(−40²/2) is far below round-off.
        let reach = (40.0 * ell / n as f64).ceil() as i64 + 1;
        let c: Vec<f64> = (0..n)
            .map(|j| {
                (-reach..=reach)
                    .map(|m| {
                        let d = (j as i64 + m * n as i64) as f64 / ell;
                        (-0.5 * d * d).exp()
                    })
                    .sum()
            })
            .collect();
        let cosines = cosine_table(n);
        for (k, l) in lambda.iter_mut().enumerate() {
            *l = c
                .iter()
                .enumerate()
                .map(|(j, cj)| cj * cosines[(k * j) % n])
                .sum();
        }
    }
    let mean = lambda.iter().sum::<f64>() / n as f64;
    for l in &mut lambda {
        // The DFT of a positive-definite sequence can come out a rounding error below zero.
        *l = (*l / mean).max(0.0);
    }
    Ok(lambda)
}

/// Each 1-D spectrum is floored at this fraction of its largest eigenvalue, so a variable's
/// 2-D correlation has κ ≤ 10¹² whatever the length scale (see the module documentation).
pub const SPECTRAL_FLOOR: f64 = 1e-6;

/// `spectrum` with every eigenvalue raised to at least [`SPECTRAL_FLOOR`] · λ_max, then
/// rescaled to mean 1 again so the correlation keeps a unit diagonal.
fn floored(mut spectrum: Vec<f64>) -> Vec<f64> {
    let floor = SPECTRAL_FLOOR * spectrum.iter().copied().fold(0.0, f64::max);
    for l in &mut spectrum {
        *l = l.max(floor);
    }
    let mean = spectrum.iter().sum::<f64>() / spectrum.len() as f64;
    for l in &mut spectrum {
        *l /= mean;
    }
    spectrum
}

/// cos(2πm/n) for m = 0 … n−1.
fn cosine_table(n: usize) -> Vec<f64> {
    (0..n)
        .map(|m| (2.0 * PI * m as f64 / n as f64).cos())
        .collect()
}

/// λ_min / λ_max of a spectrum.
fn relative_min_eigenvalue(spectrum: &[f64]) -> f64 {
    let min = spectrum.iter().copied().fold(f64::INFINITY, f64::min);
    let max = spectrum.iter().copied().fold(0.0, f64::max);
    min / max
}
