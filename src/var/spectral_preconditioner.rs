//! The spectral limited-memory preconditioner of incremental 4D-Var (Tshimanga et al. 2008;
//! OOPS's RitzPrecond): the Ritz pairs one outer loop's Lanczos found make the next outer
//! loop's Hessian look like the identity on those directions.
//!
//! A pair set {(θ_i, u_i)} with orthonormal u_i gives the symmetric positive definite factor
//! M = I + Σ_i (θ_i^{-½} − 1) u_i u_iᵀ, with M A M = I on the u_i when they are exact
//! eigenvectors of A. Outer loop ℓ solves the split-preconditioned system
//! (Fᵀ A F) w = −Fᵀ g, δv = F w, with F = M_1 M_2 ⋯ M_{ℓ−1}: the Ritz pairs of loop ℓ are
//! those of Fᵀ A F, so each loop appends its own factor on the right. The quadratic cost in w
//! equals q(F w), so iterates and records keep their meaning; the Gauss–Newton Hessian changes
//! little from one linearisation to the next, and the converged directions — the large
//! eigenvalues that make the system ill-conditioned — stop costing iterations.

use crate::core::vector::{axpy, dot};

use super::krylov::RitzPair;

/// A Ritz pair is used when its residual is below this fraction of its value.
pub const RITZ_CONVERGENCE: f64 = 1e-3;

/// One factor M = I + Σ_i c_i u_i u_iᵀ, c_i = θ_i^{-½} − 1.
#[derive(Clone, Debug)]
struct Factor {
    vectors: Vec<Vec<f64>>,
    coefficients: Vec<f64>,
}

impl Factor {
    /// x ← M x (M is symmetric, so this is also Mᵀ).
    fn apply(&self, x: &mut [f64]) {
        let projections: Vec<f64> = self.vectors.iter().map(|u| dot(u, x)).collect();
        for ((u, c), p) in self.vectors.iter().zip(&self.coefficients).zip(projections) {
            axpy(c * p, u, x);
        }
    }
}

/// F = M_1 M_2 ⋯ M_m, the product of the factors of the outer loops so far (the identity
/// before the first).
#[derive(Clone, Debug, Default)]
pub struct SpectralPreconditioner {
    factors: Vec<Factor>,
}

impl SpectralPreconditioner {
    /// The identity.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many Ritz pairs the factors hold in all.
    pub fn pairs(&self) -> usize {
        self.factors.iter().map(|f| f.vectors.len()).sum()
    }

    /// Appends the factor of the converged pairs of `ritz` (residual ≤ [`RITZ_CONVERGENCE`] θ);
    /// returns how many were taken. Pairs below 1 are taken too: a factor built at an earlier
    /// linearisation point shrinks directions that are no longer stiff, and the next Lanczos
    /// finds them as small Ritz values, which their own factor stretches back.
    pub fn append(&mut self, ritz: &[RitzPair]) -> usize {
        let (vectors, coefficients): (Vec<_>, Vec<_>) = ritz
            .iter()
            .filter(|p| p.value > 0.0 && p.value != 1.0 && p.residual <= RITZ_CONVERGENCE * p.value)
            .map(|p| (p.vector.clone(), p.value.powf(-0.5) - 1.0))
            .unzip();
        let taken = vectors.len();
        if taken > 0 {
            self.factors.push(Factor {
                vectors,
                coefficients,
            });
        }
        taken
    }

    /// F x: the last factor first.
    pub fn apply(&self, x: &[f64]) -> Vec<f64> {
        let mut out = x.to_vec();
        self.factors.iter().rev().for_each(|f| f.apply(&mut out));
        out
    }

    /// Fᵀ x: the first factor first.
    pub fn adjoint_apply(&self, x: &[f64]) -> Vec<f64> {
        let mut out = x.to_vec();
        self.factors.iter().for_each(|f| f.apply(&mut out));
        out
    }
}
