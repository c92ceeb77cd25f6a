//! The background-error covariance B and its square root for the control-variable transform
//! x₀ = x_b + B^½ v.
//!
//! A diagonal B stores its standard deviations σᵢ and applies everything in O(n). Any other B
//! is decomposed once, B = V Λ Vᵀ (LAPACK `dsyevd` through ndarray-linalg's [`Eigh`]), and
//! the symmetric square root B^½ = V Λ^½ Vᵀ, B^−½ = V Λ^−½ Vᵀ and B⁻¹ = V Λ⁻¹ Vᵀ are stored
//! as dense matrices, so every apply is one matrix-vector product with no allocation.
//!
//! A B on a doubly periodic plane ([`BackgroundCovariance::plane_gaussian`]) is never formed:
//! it is stored as its 1-D factors, B = blockdiag_v σ_v² (C_y ⊗ C_x), and applied in
//! O(n·(nx + ny)) (see [`super::plane_gaussian`]). It can be made multivariate with the
//! geostrophic balance operator K ([`super::balance`]): B = K B_u Kᵀ, B^½ = K B_u^½.

use ndarray::linalg::general_mat_vec_mul;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut1, Axis};
use ndarray_linalg::{Eigh, UPLO};

use std::cell::RefCell;

use super::balance::GeostrophicBalance;
use super::plane_gaussian::{PlaneGaussian, Power};
use super::positivity::check_positive;
pub use super::positivity::MIN_RELATIVE_EIGENVALUE;
use crate::error::{Error, Result};
use crate::geometry::Geometry;

/// The name under which covariance errors are reported.
const WHAT: &str = "background covariance";

/// [`BackgroundCovariance::from_matrix`] accepts B as symmetric when
/// |B_ij − B_ji| ≤ `SYMMETRY_TOLERANCE` · max_kl |B_kl| for every i, j.
pub const SYMMETRY_TOLERANCE: f64 = 1e-12;

/// One variable's block of a Gaussian B ([`BackgroundCovariance::gaussian_blocks`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GaussianBlock {
    /// Grid points of the variable.
    pub points: usize,
    /// Whether its axis is a ring (periodic distance) or a closed line.
    pub periodic: bool,
    /// Its standard deviation σ.
    pub sigma: f64,
    /// Its length scale L in grid units.
    pub length_scale: f64,
}

impl GaussianBlock {
    /// σ² exp(−d² / (2L²)) over the block's points.
    fn matrix(&self) -> Array2<f64> {
        let (n, sigma, length_scale) = (self.points, self.sigma, self.length_scale);
        Array2::from_shape_fn((n, n), |(i, j)| {
            let d = if self.periodic {
                periodic_distance(i, j, n)
            } else {
                i.abs_diff(j)
            } as f64;
            sigma * sigma * (-d * d / (2.0 * length_scale * length_scale)).exp()
        })
    }

    /// Where a failure of this block comes from, for the error message.
    fn origin(&self) -> Origin {
        Origin::Gaussian {
            n: self.points,
            length_scale: self.length_scale,
        }
    }
}

/// The correlation model of B.
#[derive(Clone, Debug, PartialEq)]
pub enum Correlation {
    /// B = σ_b² I.
    None,
    /// B_ij = σ_b² exp(−d_ij² / (2L²)), d_ij = min(|i−j|, N−|i−j|) on the periodic grid, L in
    /// grid units (> 0).
    Gaussian {
        /// The length scale L, in grid units.
        length_scale: f64,
    },
}

/// A background-error covariance B of size n×n with its square root, for the control-variable
/// transform x₀ = x_b + B^½ v.
#[derive(Clone, Debug)]
pub struct BackgroundCovariance {
    repr: Repr,
    /// Multivariate balance K: then B = K B_u Kᵀ with B_u = `repr`, and B^½ = K B_u^½.
    balance: Option<Box<Balanced>>,
}

/// The balance operator with what is derived from it once.
#[derive(Clone, Debug)]
struct Balanced {
    operator: GeostrophicBalance,
    /// κ(K B_u Kᵀ), exact per Fourier mode for a plane B_u.
    condition_number: f64,
    /// trace(K B_u Kᵀ)/n.
    mean_variance: f64,
}

thread_local! {
    /// A state-sized scratch vector for the balanced applies, reused on each thread.
    static BALANCE_SCRATCH: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

#[derive(Clone, Debug)]
enum Repr {
    /// B = diag(σᵢ²).
    Diagonal { sigmas: Vec<f64> },
    /// A full B with its precomputed spectral functions.
    Dense(Box<Dense>),
    /// A separable periodic Gaussian on a plane, applied through its 1-D factors.
    Plane(Box<PlaneGaussian>),
}

/// B = V Λ Vᵀ and the dense matrices derived from it, all symmetric.
#[derive(Clone, Debug)]
struct Dense {
    /// B itself.
    b: Array2<f64>,
    /// B^½ = V Λ^½ Vᵀ.
    sqrt: Array2<f64>,
    /// B^−½ = V Λ^−½ Vᵀ.
    inv_sqrt: Array2<f64>,
    /// B⁻¹ = V Λ⁻¹ Vᵀ.
    inv: Array2<f64>,
    /// λ_min of B.
    min_eigenvalue: f64,
    /// λ_max of B.
    max_eigenvalue: f64,
}

/// Where a dense B came from, to make the not-positive-definite message actionable.
enum Origin {
    Matrix,
    Gaussian { n: usize, length_scale: f64 },
    Climatological { samples: usize },
}

impl BackgroundCovariance {
    /// B = σ_b² I (σ_b > 0 finite).
    pub fn diagonal(n: usize, sigma: f64) -> Result<Self> {
        check_size(n)?;
        check_positive("background error standard deviation σ_b", sigma)?;
        Ok(Self {
            repr: Repr::Diagonal {
                sigmas: vec![sigma; n],
            },
            balance: None,
        })
    }

    /// Per-variable diagonal B = diag(σᵢ²), every σᵢ > 0 finite.
    pub fn diagonal_from(sigmas: Vec<f64>) -> Result<Self> {
        check_size(sigmas.len())?;
        for (i, &s) in sigmas.iter().enumerate() {
            check_positive(&format!("background error standard deviation σ_{i}"), s)?;
        }
        Ok(Self {
            repr: Repr::Diagonal { sigmas },
            balance: None,
        })
    }

    /// Gaussian correlation on the periodic ring, times σ_b²:
    /// B_ij = σ_b² exp(−d_ij² / (2L²)), d_ij = min(|i−j|, n−|i−j|), L in grid units.
    ///
    /// On a grid of unit spacing the smallest eigenvalue, at the shortest wavelength, is about
    /// 2√(2π) L σ_b² exp(−π²L²/2) against λ_max ≈ √(2π) L σ_b², so κ(B) ≈ ½ exp(π²L²/2)
    /// whatever n: 70 at L = 1, 1.9·10⁸ at L = 2, and past the 10¹² limit from L ≈ 2.4 on
    /// (an error). Cut at distance n/2, B also turns indefinite for larger L (n = 40: from
    /// L ≈ 2.6 on).
    pub fn gaussian(n: usize, sigma: f64, length_scale: f64) -> Result<Self> {
        Self::gaussian_blocks(&[GaussianBlock {
            points: n,
            periodic: true,
            sigma,
            length_scale,
        }])
    }

    /// A block-diagonal Gaussian B, one block per variable: block k is
    /// σ_k² exp(−d_ij² / (2L_k²)) on its n_k points, d_ij the periodic distance on a ring and
    /// |i − j| on a closed line, L_k in grid units. Each block must be positive definite on its
    /// own (the error names its length scale, as [`BackgroundCovariance::gaussian`]'s does).
    pub fn gaussian_blocks(blocks: &[GaussianBlock]) -> Result<Self> {
        let n = blocks.iter().map(|b| b.points).sum();
        check_size(n)?;
        for block in blocks {
            check_positive("background error standard deviation σ_b", block.sigma)?;
            check_positive("background length scale L", block.length_scale)?;
        }
        if blocks.len() > 1 {
            for block in blocks {
                Self::dense(block.matrix(), block.origin())?;
            }
        }
        let mut b = Array2::zeros((n, n));
        let mut start = 0;
        for block in blocks {
            let end = start + block.points;
            b.slice_mut(ndarray::s![start..end, start..end])
                .assign(&block.matrix());
            start = end;
        }
        let origin = blocks.first().map_or(Origin::Matrix, GaussianBlock::origin);
        Self::dense(b, origin)
    }

    /// B = σ_b² C for a correlation model C: [`Correlation::None`] gives
    /// [`BackgroundCovariance::diagonal`], [`Correlation::Gaussian`] gives
    /// [`BackgroundCovariance::gaussian`].
    pub fn with_correlation(n: usize, sigma: f64, correlation: &Correlation) -> Result<Self> {
        match *correlation {
            Correlation::None => Self::diagonal(n, sigma),
            Correlation::Gaussian { length_scale } => Self::gaussian(n, sigma, length_scale),
        }
    }

    /// Per-variable σ_v and a separable, periodic (wrapped) Gaussian correlation on a doubly
    /// periodic plane: B = blockdiag_v σ_v² (C_y ⊗ C_x)(L_v), L_v in metres; see
    /// [`PlaneGaussian::new`] for the formula and the errors. Never forms the n×n matrix.
    pub fn plane_gaussian(
        geometry: &Geometry,
        sigmas: &[f64],
        length_scales: &[f64],
    ) -> Result<Self> {
        Ok(Self {
            repr: Repr::Plane(Box::new(PlaneGaussian::new(
                geometry,
                sigmas,
                length_scales,
            )?)),
            balance: None,
        })
    }

    /// Climatological B = scale · C, with C the sample covariance of `samples` (row-major m × n,
    /// m states, for example from a long free run):
    /// C = 1/(m−1) Σ_k (x_k − x̄)(x_k − x̄)ᵀ, x̄ = 1/m Σ_k x_k. Needs m ≥ n + 1.
    pub fn climatological(samples: &[f64], n: usize, scale: f64) -> Result<Self> {
        const SAMPLES: &str = "climatological samples";
        check_size(n)?;
        check_positive("climatological covariance scale", scale)?;
        if samples.len() % n != 0 {
            return Err(Error::invalid(
                SAMPLES,
                format!(
                    "{} values are not a whole number of states of length n = {n} \
                     (expected m·n values, row-major)",
                    samples.len()
                ),
            ));
        }
        let m = samples.len() / n;
        if m < n + 1 {
            return Err(Error::invalid(
                SAMPLES,
                format!(
                    "{m} samples of a state of length n = {n} are too few: the sample \
                     covariance needs at least n + 1 = {} samples to be of full rank",
                    n + 1
                ),
            ));
        }
        if let Some(k) = samples.iter().position(|v| !v.is_finite()) {
            return Err(Error::invalid(
                SAMPLES,
                format!(
                    "sample {}, variable {} is {} (every value must be finite)",
                    k / n,
                    k % n,
                    samples[k]
                ),
            ));
        }
        let x = ArrayView2::from_shape((m, n), samples)
            .map_err(|e| Error::invalid(SAMPLES, e.to_string()))?;
        let mean = x.sum_axis(Axis(0)) / m as f64;
        let anomalies = &x - &mean;
        let c = anomalies.t().dot(&anomalies) * (scale / (m - 1) as f64);
        Self::dense(symmetrised(c), Origin::Climatological { samples: m })
    }

    /// Any symmetric positive-definite B (an error if it is not square, has a non-finite entry,
    /// is not symmetric to [`SYMMETRY_TOLERANCE`] relative to max|B_ij|, or has
    /// λ_min ≤ [`MIN_RELATIVE_EIGENVALUE`] · λ_max). B is stored as ½ (B + Bᵀ).
    pub fn from_matrix(b: Array2<f64>) -> Result<Self> {
        let (rows, cols) = b.dim();
        if rows != cols {
            return Err(Error::invalid(
                WHAT,
                format!("the matrix is {rows}×{cols}, not square"),
            ));
        }
        check_size(rows)?;
        if let Some(((i, j), v)) = b.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(Error::invalid(
                WHAT,
                format!("entry B[{i},{j}] is {v} (every entry must be finite)"),
            ));
        }
        let largest = b.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        let tolerance = SYMMETRY_TOLERANCE * largest;
        for i in 0..rows {
            for j in 0..i {
                let (upper, lower) = (b[[j, i]], b[[i, j]]);
                if (upper - lower).abs() > tolerance {
                    return Err(Error::invalid(
                        WHAT,
                        format!(
                            "the matrix is not symmetric: B[{i},{j}] = {lower:e} but \
                             B[{j},{i}] = {upper:e} (difference {:e} exceeds \
                             {SYMMETRY_TOLERANCE:e} × max|B| = {tolerance:e})",
                            (upper - lower).abs()
                        ),
                    ));
                }
            }
        }
        Self::dense(symmetrised(b), Origin::Matrix)
    }

    /// Decomposes a symmetric B = V Λ Vᵀ and precomputes B^½, B^−½ and B⁻¹.
    fn dense(b: Array2<f64>, origin: Origin) -> Result<Self> {
        let n = b.nrows();
        let (lambda, v) = b.eigh(UPLO::Lower).map_err(|e| {
            Error::numerical(
                WHAT,
                format!("the symmetric eigendecomposition (LAPACK dsyevd) failed: {e}"),
            )
        })?;
        if let Some(k) = lambda.iter().position(|l| !l.is_finite()) {
            return Err(Error::invalid(
                WHAT,
                format!("eigenvalue {k} of {n} is {} (not finite)", lambda[k]),
            ));
        }
        let min = lambda.iter().copied().fold(f64::INFINITY, f64::min);
        let max = lambda.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let floor = MIN_RELATIVE_EIGENVALUE * max;
        if max <= 0.0 || min <= floor {
            return Err(not_positive_definite(&lambda, min, max, &origin));
        }
        let sqrt = spectral_function(&v, &lambda, f64::sqrt);
        let inv_sqrt = spectral_function(&v, &lambda, |l| 1.0 / l.sqrt());
        let inv = spectral_function(&v, &lambda, |l| 1.0 / l);
        Ok(Self {
            repr: Repr::Dense(Box::new(Dense {
                b,
                sqrt,
                inv_sqrt,
                inv,
                min_eigenvalue: min,
                max_eigenvalue: max,
            })),
            balance: None,
        })
    }

    /// The state size n (B is n×n).
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Diagonal { sigmas } => sigmas.len(),
            Repr::Dense(d) => d.b.nrows(),
            Repr::Plane(p) => p.len(),
        }
    }

    /// Always false: every constructor requires n ≥ 1.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when B = diag(σᵢ²) is stored as its standard deviations (all applies O(n)).
    pub fn is_diagonal(&self) -> bool {
        matches!(self.repr, Repr::Diagonal { .. })
    }

    /// B = K B_u Kᵀ: this B (a plane Gaussian, B_u) made multivariate by the geostrophic
    /// balance operator K (see [`GeostrophicBalance`]). The square root becomes
    /// B^½ = K B_u^½ (a square root, B^½ (B^½)ᵀ = B, no longer symmetric), B^−½ = B_u^−½ K⁻¹
    /// and B⁻¹ = K⁻ᵀ B_u⁻¹ K⁻¹. An error unless B_u is a plane Gaussian on the same state.
    pub fn with_geostrophic_balance(self, balance: GeostrophicBalance) -> Result<Self> {
        let Repr::Plane(plane) = &self.repr else {
            return Err(Error::invalid(
                WHAT,
                "geostrophic balance is built on the plane Gaussian B (correlation = \"gaussian\" \
                 on a plane model)",
            ));
        };
        if self.balance.is_some() {
            return Err(Error::invalid(WHAT, "the balance is already applied"));
        }
        if balance.len() != plane.len() {
            return Err(Error::invalid(
                WHAT,
                format!(
                    "the balance operator is for a state of {} values, B for {}",
                    balance.len(),
                    plane.len()
                ),
            ));
        }
        let (condition_number, mean_variance) = balanced_spectrum(plane, &balance);
        Ok(Self {
            balance: Some(Box::new(Balanced {
                operator: balance,
                condition_number,
                mean_variance,
            })),
            ..self
        })
    }

    /// Whether B = K B_u Kᵀ carries a geostrophic balance.
    pub fn is_balanced(&self) -> bool {
        self.balance.is_some()
    }

    /// out = B^½ v (the control-variable transform of an increment, δx₀ = B^½ v); with a
    /// balance, out = K B_u^½ v.
    ///
    /// # Panics
    /// If `v` or `out` is not of length [`BackgroundCovariance::len`].
    pub fn sqrt_apply(&self, v: &[f64], out: &mut [f64]) {
        self.check_lengths("sqrt_apply", v, out);
        self.unbalanced(Power::Half, v, out);
        if let Some(b) = &self.balance {
            b.operator.apply(out);
        }
    }

    /// out = (B^½)ᵀ w — the adjoint of [`BackgroundCovariance::sqrt_apply`], which carries the
    /// physical-space gradient back to control space: ∇_v J_o = (B^½)ᵀ ∇_{x₀} J_o; with a
    /// balance, out = (B_u^½)ᵀ Kᵀ w.
    ///
    /// # Panics
    /// If `w` or `out` is not of length [`BackgroundCovariance::len`].
    pub fn sqrt_adjoint_apply(&self, w: &[f64], out: &mut [f64]) {
        self.check_lengths("sqrt_adjoint_apply", w, out);
        match &self.balance {
            None => self.unbalanced_sqrt_adjoint(w, out),
            Some(b) => with_scratch(w, |t| {
                b.operator.adjoint(t);
                self.unbalanced_sqrt_adjoint(t, out);
            }),
        }
    }

    /// out = B^−½ x, the inverse transform (the control vector v of an increment x), used to
    /// start a minimisation from a non-background guess and for diagnostics; with a balance,
    /// out = B_u^−½ K⁻¹ x.
    ///
    /// # Panics
    /// If `x` or `out` is not of length [`BackgroundCovariance::len`].
    pub fn inverse_sqrt_apply(&self, x: &[f64], out: &mut [f64]) {
        self.check_lengths("inverse_sqrt_apply", x, out);
        match &self.balance {
            None => self.unbalanced(Power::InverseHalf, x, out),
            Some(b) => with_scratch(x, |t| {
                b.operator.apply_inverse(t);
                self.unbalanced(Power::InverseHalf, t, out);
            }),
        }
    }

    /// out = B⁻¹ x (for the physical-space form J_b = ½ (x₀ − x_b)ᵀ B⁻¹ (x₀ − x_b)); with a
    /// balance, out = K⁻ᵀ B_u⁻¹ K⁻¹ x.
    ///
    /// # Panics
    /// If `x` or `out` is not of length [`BackgroundCovariance::len`].
    pub fn inverse_apply(&self, x: &[f64], out: &mut [f64]) {
        self.check_lengths("inverse_apply", x, out);
        match &self.balance {
            None => self.unbalanced(Power::Inverse, x, out),
            Some(b) => {
                with_scratch(x, |t| {
                    b.operator.apply_inverse(t);
                    self.unbalanced(Power::Inverse, t, out);
                });
                b.operator.adjoint_inverse(out);
            }
        }
    }

    /// out = B_u^α x for the stored (unbalanced) representation.
    fn unbalanced(&self, power: Power, x: &[f64], out: &mut [f64]) {
        match (&self.repr, power) {
            (Repr::Diagonal { sigmas }, Power::One) => map3(sigmas, x, out, |s, xi| s * s * xi),
            (Repr::Diagonal { sigmas }, Power::Half) => map3(sigmas, x, out, |s, xi| s * xi),
            (Repr::Diagonal { sigmas }, Power::InverseHalf) => map3(sigmas, x, out, |s, xi| xi / s),
            (Repr::Diagonal { sigmas }, Power::Inverse) => {
                map3(sigmas, x, out, |s, xi| xi / (s * s))
            }
            (Repr::Dense(d), Power::One) => mat_vec(d.b.view(), x, out),
            (Repr::Dense(d), Power::Half) => mat_vec(d.sqrt.view(), x, out),
            (Repr::Dense(d), Power::InverseHalf) => mat_vec(d.inv_sqrt.view(), x, out),
            (Repr::Dense(d), Power::Inverse) => mat_vec(d.inv.view(), x, out),
            (Repr::Plane(p), power) => p.apply(power, x, out),
        }
    }

    /// out = (B_u^½)ᵀ w.
    fn unbalanced_sqrt_adjoint(&self, w: &[f64], out: &mut [f64]) {
        match &self.repr {
            Repr::Dense(d) => mat_vec(d.sqrt.t(), w, out),
            // Diagonal, and σ_v (C_y^½ ⊗ C_x^½) per block, are symmetric.
            _ => self.unbalanced(Power::Half, w, out),
        }
    }

    /// B as a dense n×n matrix, for closed-form BLUE tests and diagnostics on small states.
    /// Nothing in the product calls it.
    ///
    /// # Panics
    /// For a plane B of more than [`super::plane_gaussian::MAX_DENSE_LEN`] values (use
    /// [`BackgroundCovariance::try_matrix`] to get an error instead).
    pub fn matrix(&self) -> Array2<f64> {
        self.try_matrix().unwrap_or_else(|e| panic!("{e}"))
    }

    /// B as a dense n×n matrix; an error for a plane B of more than
    /// [`super::plane_gaussian::MAX_DENSE_LEN`] values, which is never formed. With a balance,
    /// K B_u Kᵀ, built column by column.
    pub fn try_matrix(&self) -> Result<Array2<f64>> {
        let unbalanced = match &self.repr {
            Repr::Diagonal { sigmas } => {
                Array2::from_diag(&sigmas.iter().map(|s| s * s).collect::<Array1<f64>>())
            }
            Repr::Dense(d) => d.b.clone(),
            Repr::Plane(p) => p.dense_matrix()?,
        };
        let Some(b) = &self.balance else {
            return Ok(unbalanced);
        };
        // K B_u Kᵀ = K (K B_u)ᵀ, B_u symmetric: balance the columns, transpose, balance again.
        let balance_columns = |mut m: Array2<f64>| {
            let mut column = vec![0.0; m.nrows()];
            for mut c in m.columns_mut() {
                column.iter_mut().zip(c.iter()).for_each(|(o, v)| *o = *v);
                b.operator.apply(&mut column);
                c.iter_mut().zip(&column).for_each(|(o, v)| *o = *v);
            }
            m
        };
        let kb = balance_columns(unbalanced);
        Ok(balance_columns(kb.t().to_owned()))
    }

    /// Condition number κ(B) = λ_max / λ_min (max σᵢ² / min σᵢ² for a diagonal B; for a plane B
    /// from the 1-D factors, see [`PlaneGaussian::condition_number`]; for a balanced plane B
    /// from the 3×3 blocks of K B_u Kᵀ per Fourier mode, which hold all its eigenvalues).
    pub fn condition_number(&self) -> f64 {
        if let Some(b) = &self.balance {
            return b.condition_number;
        }
        match &self.repr {
            Repr::Diagonal { sigmas } => {
                let min = sigmas.iter().copied().fold(f64::INFINITY, f64::min);
                let max = sigmas.iter().copied().fold(0.0, f64::max);
                (max / min).powi(2)
            }
            Repr::Dense(d) => d.max_eigenvalue / d.min_eigenvalue,
            Repr::Plane(p) => p.condition_number(),
        }
    }

    /// The background-error variances B_ii, each ‖(B^½)ᵀ e_i‖² (one adjoint square-root
    /// product per element for a plane or balanced B; read off a diagonal or dense B).
    pub fn variances(&self) -> Vec<f64> {
        if self.balance.is_none() {
            match &self.repr {
                Repr::Diagonal { sigmas } => return sigmas.iter().map(|s| s * s).collect(),
                Repr::Dense(d) => return d.b.diag().to_vec(),
                Repr::Plane(_) => {}
            }
        }
        let n = self.len();
        let (mut unit, mut row) = (vec![0.0; n], vec![0.0; n]);
        (0..n)
            .map(|i| {
                unit[i] = 1.0;
                self.sqrt_adjoint_apply(&unit, &mut row);
                unit[i] = 0.0;
                row.iter().map(|r| r * r).sum()
            })
            .collect()
    }

    /// Mean background-error variance, trace(B)/n = (1/n) Σᵢ B_ii.
    pub fn mean_variance(&self) -> f64 {
        if let Some(b) = &self.balance {
            return b.mean_variance;
        }
        let trace = match &self.repr {
            Repr::Diagonal { sigmas } => sigmas.iter().map(|s| s * s).sum::<f64>(),
            Repr::Dense(d) => d.b.diag().sum(),
            Repr::Plane(p) => return p.mean_variance(),
        };
        trace / self.len() as f64
    }

    fn check_lengths(&self, operation: &str, input: &[f64], out: &[f64]) {
        let n = self.len();
        assert!(
            input.len() == n && out.len() == n,
            "BackgroundCovariance::{operation}: B is {n}×{n} but the input has length {} and \
             the output {}",
            input.len(),
            out.len()
        );
    }
}

/// Runs `f` on a thread-local copy of `x` (no allocation after the first call per thread and
/// size).
fn with_scratch(x: &[f64], f: impl FnOnce(&mut [f64])) {
    BALANCE_SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        if scratch.len() < x.len() {
            scratch.resize(x.len(), 0.0);
        }
        let t = &mut scratch[..x.len()];
        t.copy_from_slice(x);
        f(t);
    });
}

/// κ and trace/n of B = K B_u Kᵀ. Every operator is block-circulant on the periodic grid, so
/// the 2-D Fourier modes (k, l) split B into Hermitian 3×3 blocks
/// M = K̂ diag(a_u, a_v, a_h) K̂ᴴ, a_w = σ_w² λ_x(k) λ_y(l), K̂ = [[1, 0, ĝ_u], [0, 1, ĝ_v], [0, 0, 1]],
/// whose characteristic polynomial λ³ − t₁λ² + t₂λ − t₃ has the cancellation-free
/// coefficients t₁ = a_u + a_v + a_h (1 + |ĝ_u|² + |ĝ_v|²),
/// t₂ = a_u a_v + a_h (a_u + a_v + a_u |ĝ_v|² + a_v |ĝ_u|²), t₃ = a_u a_v a_h. Its smallest and
/// largest roots come from Newton's method started at 0 and at t₁ (monotone: the cubic is
/// concave below and convex above its inflection point t₁/3). Variables other than u, v, h
/// contribute their a_w.
fn balanced_spectrum(plane: &PlaneGaussian, balance: &GeostrophicBalance) -> (f64, f64) {
    let (nx, ny, _, _) = plane.grid();
    let (u, v, h) = balance.variable_indices();
    let variables = plane.variables().count();
    let (mut min, mut max, mut trace) = (f64::INFINITY, 0.0f64, 0.0);
    for l in 0..ny {
        for k in 0..nx {
            let a = |w: usize| plane.mode_variance(w, k, l);
            let (gu, gv) = balance.symbol_squares(k, l);
            let (au, av, ah) = (a(u), a(v), a(h));
            let t1 = au + av + ah * (1.0 + gu + gv);
            let t2 = au * av + ah * (au + av + au * gv + av * gu);
            let t3 = au * av * ah;
            min = min.min(cubic_root_newton(t1, t2, t3, 0.0));
            max = max.max(cubic_root_newton(t1, t2, t3, t1));
            trace += t1;
            for w in (0..variables).filter(|w| ![u, v, h].contains(w)) {
                min = min.min(a(w));
                max = max.max(a(w));
                trace += a(w);
            }
        }
    }
    (max / min, trace / plane.len() as f64)
}

/// A root of λ³ − t₁λ² + t₂λ − t₃ by Newton's method from `start`.
fn cubic_root_newton(t1: f64, t2: f64, t3: f64, start: f64) -> f64 {
    let mut x = start;
    for _ in 0..200 {
        let p = ((x - t1) * x + t2) * x - t3;
        let dp = (3.0 * x - 2.0 * t1) * x + t2;
        if dp == 0.0 {
            break;
        }
        let step = p / dp;
        x -= step;
        if step.abs() <= 1e-16 * x.abs() {
            break;
        }
    }
    x
}

/// d = min(|i−j|, n−|i−j|), the distance between grid points i and j on a ring of n points.
fn periodic_distance(i: usize, j: usize, n: usize) -> usize {
    let d = i.abs_diff(j);
    d.min(n - d)
}

fn check_size(n: usize) -> Result<()> {
    if n == 0 {
        return Err(Error::invalid(
            WHAT,
            "the state size n must be at least 1, got 0",
        ));
    }
    Ok(())
}

/// ½ (A + Aᵀ).
fn symmetrised(a: Array2<f64>) -> Array2<f64> {
    (&a + &a.t()) * 0.5
}

/// V f(Λ) Vᵀ, symmetrised.
fn spectral_function(v: &Array2<f64>, lambda: &Array1<f64>, f: impl Fn(f64) -> f64) -> Array2<f64> {
    let mut scaled = v.clone();
    for (mut column, &l) in scaled.axis_iter_mut(Axis(1)).zip(lambda) {
        column *= f(l);
    }
    symmetrised(scaled.dot(&v.t()))
}

/// out = A x, one BLAS `dgemv`, no allocation.
fn mat_vec(a: ArrayView2<'_, f64>, x: &[f64], out: &mut [f64]) {
    // β = 0 need not clear NaN already in `out` in every BLAS; clear it first.
    out.fill(0.0);
    general_mat_vec_mul(
        1.0,
        &a,
        &ArrayView1::from(x),
        0.0,
        &mut ArrayViewMut1::from(out),
    );
}

/// outᵢ = f(sᵢ, xᵢ).
fn map3(s: &[f64], x: &[f64], out: &mut [f64], f: impl Fn(f64, f64) -> f64) {
    for ((o, &si), &xi) in out.iter_mut().zip(s).zip(x) {
        *o = f(si, xi);
    }
}

/// The error for a B with λ_min ≤ 10⁻¹² λ_max, naming the smallest eigenvalue, the condition number
/// and what to change.
fn not_positive_definite(lambda: &Array1<f64>, min: f64, max: f64, origin: &Origin) -> Error {
    let n = lambda.len();
    let floor = MIN_RELATIVE_EIGENVALUE * max;
    let bad = lambda.iter().filter(|&&l| l <= floor).count();
    let condition = if min > 0.0 {
        format!("condition number λ_max/λ_min = {:.3e}", max / min)
    } else {
        "condition number infinite, λ_min ≤ 0".to_string()
    };
    let mut message = format!(
        "the matrix is not positive definite: {bad} of its {n} eigenvalues are ≤ \
         {MIN_RELATIVE_EIGENVALUE:e} × λ_max, the smallest being λ_min = {min:.3e} against \
         λ_max = {max:.3e} ({condition}; at most {:e} is accepted)",
        1.0 / MIN_RELATIVE_EIGENVALUE
    );
    match origin {
        Origin::Matrix => {}
        Origin::Gaussian { n, length_scale } => message.push_str(&format!(
            "; a Gaussian correlation with length scale L = {length_scale} grid points {}: use \
             a smaller length scale{}",
            if min > 0.0 {
                "is numerically singular on a grid of unit spacing (its eigenvalue at the \
                 shortest wavelength falls as exp(−π²L²/2))"
                    .to_string()
            } else {
                format!("is too wide for the ring of N = {n} points (cut at distance N/2 it is indefinite)")
            },
            passing_length_scale(*n, *length_scale)
                .map(|l| format!(" (L = {l:.2} passes at N = {n})"))
                .unwrap_or_default()
        )),
        Origin::Climatological { samples } => message.push_str(&format!(
            "; the {samples} samples do not span all {n} directions (a variable that never \
             varies, or linearly dependent variables): use more or less correlated samples, \
             or blend with a diagonal B"
        )),
    }
    Error::invalid(WHAT, message)
}

/// The periodic Gaussian B is circulant, so its eigenvalues are the discrete Fourier transform of
/// its first row: λ_k = Σ_j exp(−d_j²/(2L²)) cos(2πkj/N). Bisects over multiples of 0.05 in
/// (0, min(`failing`, N)) for the largest L whose λ_min > 10 · 10⁻¹² λ_max (a margin over the
/// threshold for the rounding of the dense eigensolver), assuming, as holds in practice, that
/// κ(B) grows with L. Only for the error message, and only tried for N ≤ 2048 (O(N²) per L).
fn passing_length_scale(n: usize, failing: f64) -> Option<f64> {
    const STEP: f64 = 0.05;
    if n > 2048 {
        return None;
    }
    let passes = |l: f64| {
        let row: Vec<f64> = (0..n)
            .map(|j| {
                let d = periodic_distance(0, j, n) as f64;
                (-d * d / (2.0 * l * l)).exp()
            })
            .collect();
        let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
        for k in 0..n {
            let lambda: f64 = row
                .iter()
                .enumerate()
                .map(|(j, c)| {
                    let phase = 2.0 * std::f64::consts::PI * ((k * j) % n) as f64 / n as f64;
                    c * phase.cos()
                })
                .sum();
            min = min.min(lambda);
            max = max.max(lambda);
        }
        min > 10.0 * MIN_RELATIVE_EIGENVALUE * max
    };
    // Invariant: lo·STEP passes (or lo = 0), hi·STEP fails (or is the failing L itself).
    let (mut lo, mut hi) = (0usize, (failing.min(n as f64) / STEP).ceil() as usize);
    while hi > lo + 1 {
        let mid = lo + (hi - lo) / 2;
        if passes(mid as f64 * STEP) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo > 0).then_some(lo as f64 * STEP)
}
