//! The posterior of strong-constraint 4D-Var from the Gauss–Newton Hessian at the analysis:
//! its leading eigenvalues, the analysis error standard deviations and the degrees of freedom
//! for signal.
//!
//! In the transformed control space the Hessian is A_v = I + Σ_k (H_k M_k U)ᵀ R_k⁻¹ (H_k M_k U)
//! with U = B^½, and the analysis error covariance is A = U A_v⁻¹ Uᵀ. Lanczos gives the leading
//! eigenpairs (λ_i, u_i) of A_v; on their complement A_v is close to I (the observations do not
//! constrain it), so
//!
//! A ≈ B − Σ_i (1 − 1/λ_i) (U u_i)(U u_i)ᵀ,
//!
//! the usual low-rank update of B, exact when the spectrum is complete. The degrees of freedom
//! for signal, DFS = tr(I − A_v⁻¹) = Σ_i (1 − 1/λ_i) = tr(HK), count how many directions
//! the observations determine.

use crate::core::verification::random_vector;
use crate::core::Dynamics;
use crate::error::Result;

use super::gauss_newton::hessian_vector_product;
use super::krylov::leading_eigenpairs;
use super::FourDVar;

/// A Ritz pair counts as an eigenpair when its residual is below this fraction of its value.
pub const EIGENPAIR_TOLERANCE: f64 = 1e-8;

/// What the posterior analysis found.
#[derive(Clone, Debug, PartialEq)]
pub struct Posterior {
    /// The leading eigenvalues of A_v, descending.
    pub eigenvalues: Vec<f64>,
    /// Whether Lanczos found the whole spectrum: the standard deviations and DFS then use
    /// every eigenpair and are exact.
    pub complete: bool,
    /// Whether every wanted eigenpair met [`EIGENPAIR_TOLERANCE`].
    pub converged: bool,
    /// Analysis error standard deviation per state element, √A_ii.
    pub analysis_std: Vec<f64>,
    /// Background error standard deviation per state element, √B_ii.
    pub background_std: Vec<f64>,
    /// Degrees of freedom for signal over the eigenvalues used (all of them when complete).
    pub dfs: f64,
    /// Hessian products (tangent-linear run and adjoint sweep each) taken.
    pub hessian_products: usize,
}

/// The posterior of `problem` (transformed control space, no estimated parameters) at control
/// `v`, from its `modes` leading Hessian eigenpairs, with at most `max_iterations` Lanczos
/// steps. Lanczos starts from a fixed pseudo-random vector: a symmetric start (all ones on a
/// periodic ring) would see only the symmetric modes.
pub fn posterior<D: Dynamics + Clone>(
    problem: &FourDVar<D>,
    v: &[f64],
    modes: usize,
    max_iterations: usize,
) -> Result<Posterior> {
    if problem.transform().is_hybrid() {
        return Err(crate::error::Error::invalid(
            "posterior",
            "is computed with a static B only: the variances of a hybrid B are not formed",
        ));
    }
    let n = v.len();
    let start = random_vector(n, 20_081_976);
    let found = leading_eigenpairs(
        |d: &[f64]| hessian_vector_product(problem, v, d),
        &start,
        modes,
        EIGENPAIR_TOLERANCE,
        max_iterations,
    )?;
    // A complete spectrum is used whole: the update is then exact.
    let used = if found.complete {
        &found.pairs[..]
    } else {
        &found.pairs[..modes.min(found.pairs.len())]
    };
    let covariance = problem.transform().covariance();
    let mut variance = covariance.variances();
    let background_std = variance.iter().map(|b| b.sqrt()).collect();
    let mut column = vec![0.0; n];
    let mut dfs = 0.0;
    for pair in used {
        let shrink = 1.0 - 1.0 / pair.value;
        dfs += shrink;
        covariance.sqrt_apply(&pair.vector, &mut column);
        for (a, c) in variance.iter_mut().zip(&column) {
            *a -= shrink * c * c;
        }
    }
    let wanted = &found.pairs[..modes.min(found.pairs.len())];
    let converged = found.complete
        || (wanted.len() == modes.min(n)
            && (wanted.iter()).all(|p| p.residual <= EIGENPAIR_TOLERANCE * p.value));
    Ok(Posterior {
        eigenvalues: wanted.iter().map(|p| p.value).collect(),
        complete: found.complete,
        converged,
        // Round-off can take a fully observed variance a hair below zero.
        analysis_std: variance.iter().map(|a| a.max(0.0).sqrt()).collect(),
        background_std,
        dfs,
        hessian_products: found.iterations,
    })
}
