//! Incremental (Gauss–Newton) strong-constraint 4D-Var in control space: outer loops that
//! relinearise around the current control, inner loops that minimise the quadratic model of J
//! by conjugate gradients with the Gauss–Newton Hessian ([`super::gauss_newton`]).
//!
//! At outer loop ℓ, with control v and gradient g = ∇J(v) (one adjoint sweep), the inner loop
//! minimises q(δv) = J(v) + gᵀδv + ½ δvᵀ A δv, i.e. solves A δv = −g, where A is the
//! Gauss–Newton Hessian at v; then v ← v + δv. On a linear model with linear H, q is J itself
//! and one outer loop converged to round-off is the analysis (the BLUE).

use crate::core::vector::{axpy, dot, norm};
use crate::core::Dynamics;
use crate::error::Result;

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
fn conjugate_gradient(
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
