//! 3D-FGAT (first guess at the appropriate time): the observations are compared with the
//! model trajectory at their own times, but the increment is applied at the window start and
//! held constant through the window — no tangent-linear or adjoint model.
//!
//! At control v with trajectory x_k = M_k(x_b + U v), one Gauss–Newton step minimises
//! q(δv) = J + gᵀδv + ½ δvᵀ A δv with
//!
//! g = v + Uᵀ Σ_k H_kᵀ R_k⁻¹ (H_k(x_k) − y_k),   A δv = δv + Uᵀ Σ_k H_kᵀ R_k⁻¹ H_k U δv,
//!
//! H_k linearised at x_k: 4D-Var's increment problem with M_k replaced by the identity. With
//! every observation at the window start it is 3D-Var's, and on a linear H the BLUE.

use crate::core::vector::axpy;
use crate::core::{integrate, Dynamics, StageCost};
use crate::error::{Error, Result};

use super::gauss_newton::GaussNewtonForcing;
use super::incremental::{InnerSolver, OuterLoopRecord};
use super::krylov::{conjugate_gradient, lanczos, InnerLoopSettings};
use super::{ControlSpace, FourDVar};

/// One 3D-FGAT step from control `v0` of `problem` (transformed space, no parameters) with
/// the inner solver `solver`; returns the analysis control and the record of the inner loop.
pub fn fgat_analysis<D: Dynamics + Clone>(
    problem: &FourDVar<D>,
    v0: &[f64],
    inner: InnerLoopSettings,
    solver: InnerSolver,
) -> Result<(Vec<f64>, OuterLoopRecord)> {
    let transform = problem.transform();
    if transform.space() != ControlSpace::Transformed || transform.param_len() > 0 {
        return Err(Error::invalid(
            "3D-FGAT",
            "needs the transformed control space and no estimated parameters",
        ));
    }
    let n = transform.state_len();
    let nv = transform.state_control_len();
    let misfit = problem.misfit();
    let (x0, _) = transform.to_model(v0);
    let model = problem.model_at(v0);
    // The background trajectory at the observed steps, and Σ_k H_kᵀ R⁻¹ (H_k(x_k) − y_k).
    let mut states = vec![Vec::new(); problem.steps() + 1];
    let mut observed = vec![0.0; n];
    let mut observation_cost = 0.0;
    integrate(&model, &x0, problem.steps(), |k, x| {
        if misfit.is_active(k) {
            observation_cost += misfit.value_and_gradient(k, x, &mut observed, &mut []);
            states[k] = x.to_vec();
        }
    })?;
    let mut g = v0.to_vec();
    let mut back = vec![0.0; nv];
    transform.sqrt_adjoint_apply(&observed, &mut back);
    axpy(1.0, &back, &mut g);
    let j = transform.background_value(v0) + observation_cost;
    let hessian = |dv: &[f64]| -> Result<Vec<f64>> {
        let mut dx = vec![0.0; n];
        transform.sqrt_apply(dv, &mut dx);
        let tangents = (0..states.len())
            .map(|k| {
                if misfit.is_active(k) {
                    dx.clone()
                } else {
                    Vec::new()
                }
            })
            .collect();
        let forcing = GaussNewtonForcing { misfit, tangents };
        let mut bar = vec![0.0; n];
        for (k, x) in states.iter().enumerate() {
            if misfit.is_active(k) {
                forcing.value_and_gradient(k, x, &mut bar, &mut []);
            }
        }
        let mut product = dv.to_vec();
        let mut projected = vec![0.0; nv];
        transform.sqrt_adjoint_apply(&bar, &mut projected);
        axpy(1.0, &projected, &mut product);
        Ok(product)
    };
    let solution = match solver {
        InnerSolver::ConjugateGradient => conjugate_gradient(hessian, &g, j, inner)?,
        InnerSolver::Lanczos => lanczos(hessian, &g, j, inner)?,
    };
    let mut v = v0.to_vec();
    axpy(1.0, &solution.step, &mut v);
    let record = OuterLoopRecord {
        cost: j,
        background_cost: transform.background_value(v0),
        gradient_norm: crate::core::vector::norm(&g),
        inner_iterations: solution.iterations,
        residual_reduction: solution.residual_reduction,
        quadratic_costs: solution.quadratic_costs,
        preconditioner_pairs: 0,
        step_length: 1.0,
    };
    Ok((v, record))
}
