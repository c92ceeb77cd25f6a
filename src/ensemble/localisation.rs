//! Covariance localisation: the Schur (element-wise) product P_e ∘ C with a compactly
//! supported correlation C damps the spurious long-range sample covariances of a small
//! ensemble.
//!
//! C_ij = GC(d_ij / c), the fifth-order piecewise rational function of Gaspari & Cohn (1999,
//! eq. 4.10), 1 at distance 0 and 0 beyond 2c, with d_ij the distance along the periodic ring.
//! C^½ is its symmetric square root from the eigen-decomposition (negative round-off
//! eigenvalues set to 0), so that C^½ C^½ = C to round-off.
//!
//! On a geometry whose variables share one grid shape (Lorenz-96's ring, the shallow-water
//! C-grid), C is separable and never formed: C = J_V ⊗ C_1 ⊗ … ⊗ C_d with C_a the 1-D
//! Gaspari–Cohn matrix along grid axis a (by grid distance × spacing, the short way round on
//! a periodic axis) and J_V the all-ones matrix over the V variables (every variable at a
//! place localised alike), so C^½ = (J_V/√V) ⊗ C_1^½ ⊗ … ⊗ C_d^½ costs O(n Σ_a points_a).
//! Elsewhere (the two-scale Lorenz-96, whose rings differ) C is dense, by the distance
//! between the values' locations, for states of at most [`Localisation::MAX_DENSE`] values.

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
    form: Form,
}

/// How C is stored.
#[derive(Clone, Debug)]
enum Form {
    /// C and C^½ as n × n matrices.
    Dense {
        matrix: Array2<f64>,
        sqrt: Array2<f64>,
    },
    /// J_V ⊗ C_1 ⊗ … ⊗ C_d: the square roots of the 1-D factors, slowest axis first.
    Separable {
        variables: usize,
        factors: Vec<Array2<f64>>,
        roots: Vec<Array2<f64>>,
    },
}

/// The symmetric square root of a symmetric matrix (negative round-off eigenvalues set to 0).
fn symmetric_sqrt(matrix: &Array2<f64>) -> Result<Array2<f64>> {
    let (values, vectors) = matrix
        .eigh(UPLO::Lower)
        .map_err(|e| Error::numerical("localisation", format!("eigen-decomposition: {e}")))?;
    let mut scaled = vectors.clone();
    for (mut column, l) in scaled.columns_mut().into_iter().zip(&values) {
        column *= l.max(0.0).sqrt();
    }
    Ok(scaled.dot(&vectors.t()))
}

/// Refuses a half-width that is not a positive number (∞ is allowed: no localisation).
fn check_half_width(c: f64, n: usize) -> Result<()> {
    if c.is_nan() || c <= 0.0 || n == 0 {
        return Err(Error::invalid(
            "localisation",
            format!("needs a positive half-width and values, got c = {c}, n = {n}"),
        ));
    }
    Ok(())
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

    /// Gaspari–Cohn localisation over the state values of `geometry` with half-width `c` in
    /// location units (`c` = ∞ is none): separable when every variable has the same grid
    /// shape, dense by the distance between the values' locations otherwise.
    pub fn on_geometry(geometry: &Geometry, c: f64) -> Result<Self> {
        check_half_width(c, geometry.state_len())?;
        let variables = geometry.variables();
        let shape = |v: &crate::geometry::Variable| {
            v.grid
                .iter()
                .map(|a| (a.points, a.spacing, a.periodic))
                .collect::<Vec<_>>()
        };
        if variables.iter().all(|v| shape(v) == shape(&variables[0])) {
            let factors: Vec<Array2<f64>> = (variables[0].grid.iter())
                .map(|a| {
                    Array2::from_shape_fn((a.points, a.points), |(i, j)| {
                        let d = i.abs_diff(j);
                        let d = if a.periodic { d.min(a.points - d) } else { d };
                        gaspari_cohn(d as f64 * a.spacing / c)
                    })
                })
                .collect();
            let roots = factors.iter().map(symmetric_sqrt).collect::<Result<_>>()?;
            return Ok(Self {
                form: Form::Separable {
                    variables: variables.len(),
                    factors,
                    roots,
                },
            });
        }
        let locations: Vec<Location> = (0..geometry.state_len())
            .map(|j| geometry.element_location(j))
            .collect();
        Self::from_distances(locations.len(), c, |i, j| {
            geometry.distance(&locations[i], &locations[j])
        })
    }

    /// C_ij = GC(d(i, j)/c) over `n` values, and its symmetric square root.
    fn from_distances(n: usize, c: f64, distance: impl Fn(usize, usize) -> f64) -> Result<Self> {
        check_half_width(c, n)?;
        if n > Self::MAX_DENSE {
            return Err(Error::invalid(
                "localisation",
                format!(
                    "the state has {n} values on grids of different shapes; a dense \
                     localisation matrix is built for at most {} (it is n × n)",
                    Self::MAX_DENSE
                ),
            ));
        }
        let matrix = Array2::from_shape_fn((n, n), |(i, j)| gaspari_cohn(distance(i, j) / c));
        let sqrt = symmetric_sqrt(&matrix)?;
        Ok(Self {
            form: Form::Dense { matrix, sqrt },
        })
    }

    /// C itself as a dense matrix (formed from the factors when separable), for tests and
    /// diagnostics on small states.
    pub fn matrix(&self) -> Array2<f64> {
        match &self.form {
            Form::Dense { matrix, .. } => matrix.clone(),
            Form::Separable {
                variables, factors, ..
            } => {
                let mut c = Array2::<f64>::ones((*variables, *variables));
                for f in factors {
                    c = kronecker(&c, f);
                }
                c
            }
        }
    }

    /// State length.
    pub fn len(&self) -> usize {
        match &self.form {
            Form::Dense { matrix, .. } => matrix.nrows(),
            Form::Separable {
                variables, roots, ..
            } => variables * roots.iter().map(|r| r.nrows()).product::<usize>(),
        }
    }

    /// Whether the state is empty (never: the constructors refuse that).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// out = C^½ x (symmetric: also (C^½)ᵀ x).
    pub fn sqrt_apply(&self, x: &[f64], out: &mut [f64]) {
        match &self.form {
            Form::Dense { sqrt, .. } => {
                for (o, row) in out.iter_mut().zip(sqrt.rows()) {
                    *o = row.iter().zip(x).map(|(a, b)| a * b).sum();
                }
            }
            Form::Separable {
                variables, roots, ..
            } => {
                let block = x.len() / variables;
                // (J_V/√V) sums the variables' fields and hands the sum to each.
                let scale = 1.0 / (*variables as f64).sqrt();
                let mut field: Vec<f64> = (0..block)
                    .map(|k| scale * x.iter().skip(k).step_by(block).sum::<f64>())
                    .collect();
                let mut inner = block;
                let mut scratch = vec![0.0; block];
                for root in roots {
                    // Apply root along this axis: the field is (outer, points, inner).
                    let points = root.nrows();
                    inner /= points;
                    let outer = block / (points * inner);
                    for o in 0..outer {
                        for (i, row) in root.rows().into_iter().enumerate() {
                            for k in 0..inner {
                                let base = o * points * inner + k;
                                scratch[base + i * inner] = (row.iter().enumerate())
                                    .map(|(j, r)| r * field[base + j * inner])
                                    .sum();
                            }
                        }
                    }
                    std::mem::swap(&mut field, &mut scratch);
                }
                for chunk in out.chunks_exact_mut(block) {
                    chunk.copy_from_slice(&field);
                }
            }
        }
    }
}

/// The Kronecker product a ⊗ b.
fn kronecker(a: &Array2<f64>, b: &Array2<f64>) -> Array2<f64> {
    let (p, q) = b.dim();
    Array2::from_shape_fn((a.nrows() * p, a.ncols() * q), |(i, j)| {
        a[[i / p, j / q]] * b[[i % p, j % q]]
    })
}
