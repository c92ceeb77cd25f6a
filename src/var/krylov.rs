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

/// The Lanczos process with full reorthogonalisation: orthonormal q_0…q_k and the
/// tridiagonal T_k = Q_kᵀ A Q_k, one product A q_k per step.
struct LanczosProcess {
    q: Vec<Vec<f64>>,
    alphas: Vec<f64>,
    betas: Vec<f64>,
    /// A q_k − α_k q_k − β_{k−1} q_{k−1}, orthogonalised against every q_i.
    next: Vec<f64>,
    /// ‖next‖ = β_k.
    beta: f64,
}

impl LanczosProcess {
    /// Starts from the direction of `sign` × `start` (not zero).
    fn new(start: &[f64], sign: f64) -> Self {
        let scale = sign / norm(start);
        Self {
            q: vec![start.iter().map(|x| x * scale).collect()],
            alphas: Vec::new(),
            betas: Vec::new(),
            next: Vec::new(),
            beta: 0.0,
        }
    }

    /// Steps taken (the size of T).
    fn len(&self) -> usize {
        self.alphas.len()
    }

    /// One product with A: α_k, and the next direction with β_k.
    fn step(&mut self, hessian: &mut impl FnMut(&[f64]) -> Result<Vec<f64>>) -> Result<()> {
        let k = self.alphas.len();
        let mut w = hessian(&self.q[k])?;
        self.alphas.push(dot(&self.q[k], &w));
        // Full reorthogonalisation: the vectors stay orthonormal to round-off, so the Ritz
        // values do not repeat (the "ghosts" of plain Lanczos) and the iterates match CG's.
        for _ in 0..2 {
            for qi in &self.q {
                let c = dot(qi, &w);
                axpy(-c, qi, &mut w);
            }
        }
        self.beta = norm(&w);
        self.next = w;
        Ok(())
    }

    /// Makes the next direction q_{k+1} (after a step with β_k > 0).
    fn advance(&mut self) {
        let beta = self.beta;
        self.betas.push(beta);
        self.q.push(self.next.iter().map(|x| x / beta).collect());
    }

    /// The Ritz pairs, ascending in value.
    fn ritz_pairs(&self) -> Result<Vec<RitzPair>> {
        let k = self.len();
        if k == 0 {
            return Ok(Vec::new());
        }
        let (values, vectors) = tridiagonal(&self.alphas, &self.betas)
            .eigh(UPLO::Lower)
            .map_err(|e| Error::invalid("Lanczos", format!("eigenvalues of T: {e}")))?;
        Ok((0..k)
            .map(|i| {
                let s = vectors.column(i).to_vec();
                RitzPair {
                    value: values[i],
                    vector: combine(&self.q[..k], &s),
                    residual: self.beta * s[k - 1].abs(),
                }
            })
            .collect())
    }
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
    let mut process = LanczosProcess::new(g, -1.0);
    let (mut step, mut residual) = (vec![0.0; n], beta0);
    let limit = settings.max_iterations.min(n);
    while process.len() < limit && !interrupt::requested() {
        process.step(&mut hessian)?;
        let k = process.len() - 1;
        let y = solve_tridiagonal(&process.alphas, &process.betas, beta0)?;
        step = combine(&process.q, &y);
        // A Q_k y = Q_k T_k y + β_k y_k q_{k+1} = β0 q_0 + y_k w, as T_k y = β0 e₁.
        let mut a_step = vec![0.0; n];
        axpy(beta0, &process.q[0], &mut a_step);
        axpy(y[k], &process.next, &mut a_step);
        quadratic_costs.push(j + dot(g, &step) + 0.5 * dot(&step, &a_step));
        residual = process.beta * y[k].abs();
        if residual <= settings.tolerance * beta0 || process.beta == 0.0 || k + 1 == limit {
            break;
        }
        process.advance();
    }
    Ok(InnerSolution {
        step,
        quadratic_costs,
        iterations: process.len(),
        residual_reduction: relative(residual, beta0),
        ritz: process.ritz_pairs()?,
    })
}

/// The leading eigenpairs of A found by Lanczos.
#[derive(Clone, Debug, PartialEq)]
pub struct Eigenpairs {
    /// Every Ritz pair, descending in value: the first `wanted` are the ones asked for.
    pub pairs: Vec<RitzPair>,
    /// Products with A taken.
    pub iterations: usize,
    /// Whether the Krylov space is the whole space: the pairs are then every eigenpair.
    pub complete: bool,
}

/// The `wanted` largest eigenpairs of the symmetric A of size n by Lanczos with full
/// reorthogonalisation from `start`: stops when each of them has a residual ‖A u − θ u‖ ≤
/// `tolerance` θ, after n steps (the whole spectrum, exact to round-off) or after
/// `max_iterations` steps (then the pairs are the best found; their residuals say how good).
pub fn leading_eigenpairs(
    mut hessian: impl FnMut(&[f64]) -> Result<Vec<f64>>,
    start: &[f64],
    wanted: usize,
    tolerance: f64,
    max_iterations: usize,
) -> Result<Eigenpairs> {
    let n = start.len();
    if norm(start) == 0.0 || wanted == 0 {
        return Err(Error::invalid(
            "Lanczos",
            "needs a non-zero start vector and at least one wanted eigenpair",
        ));
    }
    let mut process = LanczosProcess::new(start, 1.0);
    let limit = max_iterations.min(n);
    let mut pairs = Vec::new();
    while process.len() < limit && !interrupt::requested() {
        process.step(&mut hessian)?;
        // Fewer steps than wanted pairs cannot have converged them all.
        if process.len() < wanted.min(limit) && process.beta > 0.0 {
            process.advance();
            continue;
        }
        pairs = process.ritz_pairs()?;
        let converged = pairs.len() >= wanted
            && (pairs.iter().rev().take(wanted)).all(|p| p.residual <= tolerance * p.value.abs());
        if converged || process.beta == 0.0 || process.len() == limit {
            break;
        }
        process.advance();
    }
    let iterations = process.len();
    pairs.reverse();
    Ok(Eigenpairs {
        pairs,
        iterations,
        complete: iterations == n,
    })
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
