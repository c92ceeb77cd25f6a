//! The inner solvers of incremental 4D-Var: conjugate gradients and Lanczos on the quadratic
//! q(δv) = j + gᵀδv + ½ δvᵀAδv with A symmetric positive definite, given only products A p.
//!
//! The two give the same iterates in exact arithmetic. Lanczos keeps its orthonormal vectors
//! Q_k and the tridiagonal T_k = Q_kᵀ A Q_k, solves T_k y = ‖g‖ e₁ for δv = Q_k y, and so has
//! the Ritz pairs of A for free: (θ_i, Q_k s_i) for the eigenpairs (θ_i, s_i) of T_k, with
//! residual ‖A u_i − θ_i u_i‖ = β_k |s_{k,i}| — the spectrum of the Hessian, whose inverse is
//! the analysis error covariance, and the makings of a preconditioner for the next outer loop.

use ndarray::{Array1, Array2};
use ndarray_linalg::{Eigh, Solve, UPLO};

use crate::core::vector::{axpy, dot, norm};
use crate::error::{Error, Result};
use crate::interrupt;

/// When an inner loop stops.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InnerLoopSettings {
    /// Most iterations (Hessian products) per inner loop.
    pub max_iterations: usize,
    /// Stop when the residual ‖A δv + g‖ has fallen below this fraction of ‖g‖.
    pub tolerance: f64,
}

/// What an inner loop found.
#[derive(Clone, Debug, PartialEq)]
pub struct InnerSolution {
    /// δv after the last iteration.
    pub step: Vec<f64>,
    /// q at each iterate, from q(0) = j onwards (decreasing in exact arithmetic).
    pub quadratic_costs: Vec<f64>,
    /// Iterations taken (one Hessian product each).
    pub iterations: usize,
    /// ‖A δv + g‖ / ‖g‖ at the end.
    pub residual_reduction: f64,
    /// Ritz pairs of A, ascending in value (Lanczos only; empty for conjugate gradients).
    pub ritz: Vec<RitzPair>,
}

/// An approximate eigenpair of A from the Lanczos vectors.
#[derive(Clone, Debug, PartialEq)]
pub struct RitzPair {
    /// θ, an eigenvalue of T_k.
    pub value: f64,
    /// u = Q_k s, unit length.
    pub vector: Vec<f64>,
    /// ‖A u − θ u‖ = β_k |s_k|, known without a further product.
    pub residual: f64,
}

/// Minimises q(δv) = j + gᵀδv + ½ δvᵀAδv from δv = 0 by conjugate gradients, with `hessian`
/// applying the symmetric positive definite A.
pub fn conjugate_gradient(
    mut hessian: impl FnMut(&[f64]) -> Result<Vec<f64>>,
    g: &[f64],
    j: f64,
    settings: InnerLoopSettings,
) -> Result<InnerSolution> {
    let n = g.len();
    let g_norm = norm(g);
    let mut step = vec![0.0; n];
    let mut a_step = vec![0.0; n];
    let mut r: Vec<f64> = g.iter().map(|x| -x).collect();
    let mut p = r.clone();
    let mut rr = dot(&r, &r);
    let mut quadratic_costs = vec![j];
    let mut iterations = 0;
    while iterations < settings.max_iterations
        && rr.sqrt() > settings.tolerance * g_norm
        && !interrupt::requested()
    {
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
        quadratic_costs.push(j + dot(g, &step) + 0.5 * dot(&step, &a_step));
    }
    Ok(InnerSolution {
        step,
        quadratic_costs,
        iterations,
        residual_reduction: relative(rr.sqrt(), g_norm),
        ritz: Vec::new(),
    })
}

/// Minimises q(δv) = j + gᵀδv + ½ δvᵀAδv by the Lanczos method with full
/// reorthogonalisation, for at most `settings.max_iterations` iterations or until the
/// residual ‖A δv + g‖ (= β_k |y_k|, known without forming δv) falls below
/// `settings.tolerance` ‖g‖; returns the Ritz pairs of A with the step.
pub fn lanczos(
    mut hessian: impl FnMut(&[f64]) -> Result<Vec<f64>>,
    g: &[f64],
    j: f64,
    settings: InnerLoopSettings,
) -> Result<InnerSolution> {
    let n = g.len();
    let beta0 = norm(g);
    let mut quadratic_costs = vec![j];
    if beta0 == 0.0 || settings.max_iterations == 0 {
        return Ok(InnerSolution {
            step: vec![0.0; n],
            quadratic_costs,
            iterations: 0,
            residual_reduction: if beta0 == 0.0 { 0.0 } else { 1.0 },
            ritz: Vec::new(),
        });
    }
    let mut q: Vec<Vec<f64>> = vec![g.iter().map(|x| -x / beta0).collect()];
    let (mut alphas, mut betas): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
    let (mut y, mut last_beta, mut residual) = (Vec::new(), 0.0, beta0);
    let limit = settings.max_iterations.min(n);
    while alphas.len() < limit && !interrupt::requested() {
        let k = alphas.len();
        let mut w = hessian(&q[k])?;
        alphas.push(dot(&q[k], &w));
        // Full reorthogonalisation: the vectors stay orthonormal to round-off, so the Ritz
        // values do not repeat (the "ghosts" of plain Lanczos) and the iterates match CG's.
        for _ in 0..2 {
            for qi in &q {
                let c = dot(qi, &w);
                axpy(-c, qi, &mut w);
            }
        }
        last_beta = norm(&w);
        y = solve_tridiagonal(&alphas, &betas, beta0)?;
        let step = combine(&q, &y);
        // A Q_k y = Q_k T_k y + β_k y_k q_{k+1} = β0 q_0 + y_k w, as T_k y = β0 e₁.
        let mut a_step = vec![0.0; n];
        axpy(beta0, &q[0], &mut a_step);
        axpy(y[k], &w, &mut a_step);
        quadratic_costs.push(j + dot(g, &step) + 0.5 * dot(&step, &a_step));
        residual = last_beta * y[k].abs();
        if residual <= settings.tolerance * beta0 || last_beta == 0.0 || k + 1 == limit {
            break;
        }
        betas.push(last_beta);
        q.push(w.iter().map(|x| x / last_beta).collect());
    }
    let iterations = alphas.len();
    let ritz = if iterations == 0 {
        Vec::new()
    } else {
        ritz_pairs(&q[..iterations], &alphas, &betas, last_beta)?
    };
    Ok(InnerSolution {
        step: if y.is_empty() {
            vec![0.0; n]
        } else {
            combine(&q, &y)
        },
        quadratic_costs,
        iterations,
        residual_reduction: relative(residual, beta0),
        ritz,
    })
}

/// The Ritz pairs of the Lanczos basis `q` with tridiagonal (alphas, betas) and next
/// off-diagonal `beta`, ascending in value.
fn ritz_pairs(q: &[Vec<f64>], alphas: &[f64], betas: &[f64], beta: f64) -> Result<Vec<RitzPair>> {
    let (values, vectors) = tridiagonal(alphas, betas)
        .eigh(UPLO::Lower)
        .map_err(|e| Error::invalid("Lanczos", format!("eigenvalues of T: {e}")))?;
    let k = alphas.len();
    Ok((0..k)
        .map(|i| {
            let s = vectors.column(i).to_vec();
            RitzPair {
                value: values[i],
                vector: combine(q, &s),
                residual: beta * s[k - 1].abs(),
            }
        })
        .collect())
}

/// a / b, or 0 when b is 0.
fn relative(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        0.0
    }
}

/// y with T y = β0 e₁ for the tridiagonal T of diagonal `alphas` and off-diagonal `betas`.
fn solve_tridiagonal(alphas: &[f64], betas: &[f64], beta0: f64) -> Result<Vec<f64>> {
    let mut rhs = Array1::<f64>::zeros(alphas.len());
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
