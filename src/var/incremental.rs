//! Incremental (Gauss–Newton) strong-constraint 4D-Var in control space: outer loops that
//! relinearise around the current control, inner loops that minimise the quadratic model of J
//! by conjugate gradients with the Gauss–Newton Hessian ([`super::gauss_newton`]).
//!
//! At outer loop ℓ, with control v and gradient g = ∇J(v) (one adjoint sweep), the inner loop
//! minimises q(δv) = J(v) + gᵀδv + ½ δvᵀ A δv, i.e. solves A δv = −g, where A is the
//! Gauss–Newton Hessian at v; then v ← v + δv. On a linear model with linear H, q is J itself
//! and one outer loop converged to round-off is the analysis (the BLUE).
//!
//! Two inner solvers give the same iterates in exact arithmetic: conjugate gradients, and
//! Lanczos, which keeps its orthonormal vectors Q_k and the tridiagonal T_k = Q_kᵀ A Q_k, solves
//! T_k y = ‖g‖ e₁ for δv = Q_k y, and so has the Ritz values of A (the eigenvalues of T_k) for
//! free — the spectrum of the Hessian, whose inverse is the analysis error covariance.

use ndarray::Array2;
use ndarray_linalg::{Eigh, Solve, UPLO};

use crate::core::vector::{axpy, dot, norm};
use crate::core::Dynamics;
use crate::error::{Error, Result};

use super::gauss_newton::hessian_vector_product;
use super::FourDVar;

/// When an inner loop stops.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InnerLoopSettings {
    /// Most conjugate-gradient iterations per outer loop.
    pub max_iterations: usize,
    /// Stop when the residual ‖A δv + g‖ has fallen below this fraction of ‖g‖.
    pub tolerance: f64,
}

/// What one outer loop did.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct OuterLoopRecord {
    /// J (nonlinear) at the linearisation point.
    pub cost: f64,
    /// ‖∇J‖ at the linearisation point.
    pub gradient_norm: f64,
    /// q at each inner iterate, from q(0) = J onwards (decreasing in exact arithmetic).
    pub quadratic_costs: Vec<f64>,
    /// Conjugate-gradient iterations taken.
    pub inner_iterations: usize,
    /// ‖A δv + g‖ / ‖g‖ at the end of the inner loop.
    pub residual_reduction: f64,
}

/// Runs `outer_loops` Gauss–Newton outer loops from control `v0` with conjugate-gradient inner
/// loops; returns the final control and one record per outer loop. The problem must work in
/// the transformed control space without estimated parameters (as the Hessian product).
pub fn incremental_4dvar<D: Dynamics + Clone>(
    problem: &FourDVar<D>,
    v0: &[f64],
    outer_loops: usize,
    inner: InnerLoopSettings,
) -> Result<(Vec<f64>, Vec<OuterLoopRecord>)> {
    let mut v = v0.to_vec();
    let mut records = Vec::with_capacity(outer_loops);
    for _ in 0..outer_loops {
        let evaluation = problem.evaluate(&v)?;
        let g = evaluation.gradient;
        let (step, record) = conjugate_gradient(
            |p| hessian_vector_product(problem, &v, p),
            &g,
            evaluation.cost,
            inner,
        )?;
        axpy(1.0, &step, &mut v);
        records.push(record);
    }
    Ok((v, records))
}

/// Minimises q(δv) = j + gᵀδv + ½ δvᵀAδv from δv = 0 by conjugate gradients, with `hessian`
/// applying the symmetric positive definite A; returns δv and the record of the loop.
pub fn conjugate_gradient(
    mut hessian: impl FnMut(&[f64]) -> Result<Vec<f64>>,
    g: &[f64],
    j: f64,
    settings: InnerLoopSettings,
) -> Result<(Vec<f64>, OuterLoopRecord)> {
    let n = g.len();
    let g_norm = norm(g);
    let mut step = vec![0.0; n];
    let mut a_step = vec![0.0; n];
    let mut r: Vec<f64> = g.iter().map(|x| -x).collect();
    let mut p = r.clone();
    let mut rr = dot(&r, &r);
    let quadratic = |step: &[f64], a_step: &[f64]| j + dot(g, step) + 0.5 * dot(step, a_step);
    let mut quadratic_costs = vec![j];
    let mut iterations = 0;
    while iterations < settings.max_iterations && rr.sqrt() > settings.tolerance * g_norm {
        let ap = hessian(&p)?;
        let curvature = dot(&p, &ap);
        if curvature <= 0.0 {
            // A = I + (semi-definite) cannot do this but for round-off on a null direction.
            break;
        }
        let alpha = rr / curvature;
        axpy(alpha, &p, &mut step);
        axpy(alpha, &ap, &mut a_step);
        axpy(-alpha, &ap, &mut r);
        let rr_next = dot(&r, &r);
        for (pi, ri) in p.iter_mut().zip(&r) {
            *pi = ri + rr_next / rr * *pi;
        }
        rr = rr_next;
        iterations += 1;
        quadratic_costs.push(quadratic(&step, &a_step));
    }
    Ok((
        step,
        OuterLoopRecord {
            cost: j,
            gradient_norm: g_norm,
            quadratic_costs,
            inner_iterations: iterations,
            residual_reduction: if g_norm > 0.0 {
                rr.sqrt() / g_norm
            } else {
                0.0
            },
        },
    ))
}

/// What a Lanczos inner loop found: the step, the quadratic costs of its iterates and the
/// Ritz values of A (ascending).
#[derive(Clone, Debug, PartialEq)]
pub struct LanczosSolution {
    /// δv after the last iteration.
    pub step: Vec<f64>,
    /// q at each iterate, from q(0) = j onwards.
    pub quadratic_costs: Vec<f64>,
    /// The eigenvalues of T_k, ascending: Ritz values of A (all ≥ 1 for A = I + PSD).
    pub ritz_values: Vec<f64>,
}

/// Minimises q(δv) = j + gᵀδv + ½ δvᵀAδv by the Lanczos method with full
/// reorthogonalisation, for at most `settings.max_iterations` iterations or until the
/// residual ‖A δv + g‖ (= β_k |y_k|, known without forming δv) falls below
/// `settings.tolerance` ‖g‖.
pub fn lanczos(
    mut hessian: impl FnMut(&[f64]) -> Result<Vec<f64>>,
    g: &[f64],
    j: f64,
    settings: InnerLoopSettings,
) -> Result<LanczosSolution> {
    let n = g.len();
    let beta0 = norm(g);
    let mut quadratic_costs = vec![j];
    if beta0 == 0.0 {
        return Ok(LanczosSolution {
            step: vec![0.0; n],
            quadratic_costs,
            ritz_values: Vec::new(),
        });
    }
    let mut q: Vec<Vec<f64>> = vec![g.iter().map(|x| -x / beta0).collect()];
    let (mut alphas, mut betas): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
    let mut y = Vec::new();
    let limit = settings.max_iterations.min(n);
    while alphas.len() < limit {
        let k = alphas.len();
        let mut w = hessian(&q[k])?;
        let alpha = dot(&q[k], &w);
        alphas.push(alpha);
        // Full reorthogonalisation: the vectors stay orthonormal to round-off, so the Ritz
        // values do not repeat (the "ghosts" of plain Lanczos) and the iterates match CG's.
        for _ in 0..2 {
            for qi in &q {
                let c = dot(qi, &w);
                axpy(-c, qi, &mut w);
            }
        }
        let beta = norm(&w);
        y = solve_tridiagonal(&alphas, &betas, beta0)?;
        let step = combine(&q, &y);
        // A Q_k y = Q_k T_k y + β_k y_k q_{k+1} = β0 q_0 + y_k w, as T_k y = β0 e₁.
        let mut a_step = vec![0.0; n];
        axpy(beta0, &q[0], &mut a_step);
        axpy(y[k], &w, &mut a_step);
        quadratic_costs.push(j + dot(g, &step) + 0.5 * dot(&step, &a_step));
        let residual = beta * y[k].abs();
        if residual <= settings.tolerance * beta0 || beta == 0.0 {
            break;
        }
        betas.push(beta);
        q.push(w.iter().map(|x| x / beta).collect());
    }
    let step = combine(&q, &y);
    let (values, _) = tridiagonal(&alphas, &betas)
        .eigh(UPLO::Lower)
        .map_err(|e| Error::invalid("Lanczos", format!("eigenvalues of T: {e}")))?;
    Ok(LanczosSolution {
        step,
        quadratic_costs,
        ritz_values: values.to_vec(),
    })
}

/// y with T y = β0 e₁ for the tridiagonal T of diagonal `alphas` and off-diagonal `betas`.
fn solve_tridiagonal(alphas: &[f64], betas: &[f64], beta0: f64) -> Result<Vec<f64>> {
    let mut rhs = ndarray::Array1::<f64>::zeros(alphas.len());
    rhs[0] = beta0;
    tridiagonal(alphas, betas)
        .solve(&rhs)
        .map(|y| y.to_vec())
        .map_err(|e| Error::invalid("Lanczos", format!("tridiagonal solve: {e}")))
}

/// The symmetric tridiagonal matrix of diagonal `alphas` and off-diagonal `betas` (the first
/// alphas.len() − 1 of them).
fn tridiagonal(alphas: &[f64], betas: &[f64]) -> Array2<f64> {
    let k = alphas.len();
    let mut t = Array2::<f64>::zeros((k, k));
    for i in 0..k {
        t[[i, i]] = alphas[i];
        if i + 1 < k {
            t[[i, i + 1]] = betas[i];
            t[[i + 1, i]] = betas[i];
        }
    }
    t
}

/// Σ_i y_i q_i.
fn combine(q: &[Vec<f64>], y: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; q[0].len()];
    for (qi, yi) in q.iter().zip(y) {
        axpy(*yi, qi, &mut out);
    }
    out
}
