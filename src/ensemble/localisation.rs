//! Covariance localisation: the Schur (element-wise) product P_e ∘ C with a compactly
//! supported correlation C damps the spurious long-range sample covariances of a small
//! ensemble.
//!
//! C_ij = GC(d_ij / c), the fifth-order piecewise rational function of Gaspari & Cohn (1999,
//! eq. 4.10), 1 at distance 0 and 0 beyond 2c, with d_ij the distance along the periodic ring.
//! C^½ is its symmetric square root from the eigen-decomposition (negative round-off
//! eigenvalues set to 0), so that C^½ C^½ = C to round-off.

use ndarray::Array2;
use ndarray_linalg::{Eigh, UPLO};

use crate::error::{Error, Result};
use crate::geometry::{Geometry, Location};

/// GC(r) for r = d/c ≥ 0 (Gaspari & Cohn 1999, eq. 4.10); exactly 0 from r = 2 on (the
/// polynomial leaves round-off of either sign there).
pub fn gaspari_cohn(r: f64) -> f64 {
    let r = r.abs();
    if r <= 1.0 {
        (((-0.25 * r + 0.5) * r + 0.625) * r - 5.0 / 3.0) * r * r + 1.0
    } else if r < 2.0 {
        ((((r / 12.0 - 0.5) * r + 0.625) * r + 5.0 / 3.0) * r - 5.0) * r + 4.0 - 2.0 / (3.0 * r)
    } else {
        0.0
    }
}

/// A localisation C over a state, with its symmetric square root.
#[derive(Clone, Debug)]
pub struct Localisation {
    matrix: Array2<f64>,
    sqrt: Array2<f64>,
}

impl Localisation {
    /// The most state values a dense localisation may have: C and C^½ are n × n.
    pub const MAX_DENSE: usize = 3000;

    /// Gaspari–Cohn localisation on a periodic ring of `n` sites with half-width `c` (sites;
    /// C vanishes beyond 2c). `c` = ∞ is no localisation (C = 1 everywhere).
    pub fn ring(n: usize, c: f64) -> Result<Self> {
        Self::from_distances(n, c, |i, j| {
            let d = i.abs_diff(j);
            d.min(n - d) as f64
        })
    }

    /// Gaspari–Cohn localisation over the state values of `geometry`, by the distance
    /// between their locations ([`Geometry::distance`]; the values of different variables at
    /// one place are fully correlated), half-width `c` in location units; `c` = ∞ is none.
    pub fn on_geometry(geometry: &Geometry, c: f64) -> Result<Self> {
        let locations: Vec<Location> = (0..geometry.state_len())
            .map(|j| geometry.element_location(j))
            .collect();
        Self::from_distances(locations.len(), c, |i, j| {
            geometry.distance(&locations[i], &locations[j])
        })
    }

    /// C_ij = GC(d(i, j)/c) over `n` values, and its symmetric square root.
    fn from_distances(n: usize, c: f64, distance: impl Fn(usize, usize) -> f64) -> Result<Self> {
        if c.is_nan() || c <= 0.0 || n == 0 {
            return Err(Error::invalid(
                "localisation",
                format!("needs a positive half-width and values, got c = {c}, n = {n}"),
            ));
        }
        if n > Self::MAX_DENSE {
            return Err(Error::invalid(
                "localisation",
                format!(
                    "the state has {n} values; a localisation matrix is built for at most {} \
                     (it is dense, n × n)",
                    Self::MAX_DENSE
                ),
            ));
        }
        let matrix = Array2::from_shape_fn((n, n), |(i, j)| gaspari_cohn(distance(i, j) / c));
        let (values, vectors) = matrix
            .eigh(UPLO::Lower)
            .map_err(|e| Error::numerical("localisation", format!("eigen-decomposition: {e}")))?;
        let mut scaled = vectors.clone();
        for (mut column, l) in scaled.columns_mut().into_iter().zip(&values) {
            column *= l.max(0.0).sqrt();
        }
        let sqrt = scaled.dot(&vectors.t());
        Ok(Self { matrix, sqrt })
    }

    /// C itself (dense), for tests and diagnostics.
    pub fn matrix(&self) -> &Array2<f64> {
        &self.matrix
    }

    /// State length.
    pub fn len(&self) -> usize {
        self.matrix.nrows()
    }

    /// Whether the state is empty (never: [`Localisation::ring`] refuses that).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// out = C^½ x (symmetric: also (C^½)ᵀ x).
    pub fn sqrt_apply(&self, x: &[f64], out: &mut [f64]) {
        for (o, row) in out.iter_mut().zip(self.sqrt.rows()) {
            *o = row.iter().zip(x).map(|(a, b)| a * b).sum();
        }
    }
}
