//! The Gauss–Newton Hessian of the 4D-Var cost in control space, applied to a vector: the
//! operator incremental 4D-Var's inner loop minimises with and whose inverse is the analysis
//! error covariance (issue #11's building block).
//!
//! In the transformed space x₀ = x_b + U v (U = B^½), at control v with linearisation
//! trajectory x_k = M_k(x₀):
//!
//! A δv = δv + Uᵀ Σ_k M_kᵀ H_kᵀ R_k⁻¹ H_k M_k U δv,
//!
//! with M_k and H_k the tangent-linear model and observation operator along x_k. One product
//! is one tangent-linear run (storing H_k M_k U δv at the observation steps) and one adjoint
//! sweep forced by R⁻¹ H_k δx_k — the same adjoint core as the gradient, no finite differences.
//! For a linear model and linear H, A is the exact Hessian: A δv = ∇J(v + δv) − ∇J(v).

use crate::core::{tangent_linear_trajectory, value_and_gradient, Dynamics, StageCost, Storage};
use crate::error::{Error, Result};
use crate::obs::ObservationMisfit;

use super::{ControlSpace, FourDVar};

/// The adjoint forcing of a Gauss–Newton product: at step k the stage cost
/// ½ Σ_i (h_i'(x_k) δx_k / σ_i)², whose gradient along the trajectory is H_kᵀ R⁻¹ H_k δx_k.
pub(super) struct GaussNewtonForcing<'a> {
    pub(super) misfit: &'a ObservationMisfit,
    /// δx_k at every step with observations (empty elsewhere).
    pub(super) tangents: Vec<Vec<f64>>,
}

impl GaussNewtonForcing<'_> {
    /// h_i'(x) δx_k / σ_i² for observation i of step k.
    fn weighted(&self, k: usize, i: usize, x: &[f64]) -> (f64, f64) {
        let o = &self.misfit.observations().as_slice()[i];
        let t = self.misfit.operator().apply_tl(i, x, &self.tangents[k]);
        (t / o.sigma, t / (o.sigma * o.sigma))
    }
}

impl StageCost for GaussNewtonForcing<'_> {
    fn is_active(&self, k: usize) -> bool {
        self.misfit.is_active(k)
    }

    fn value(&self, k: usize, x: &[f64]) -> f64 {
        let r: f64 = (self.misfit.range(k))
            .map(|i| self.weighted(k, i, x).0.powi(2))
            .sum();
        0.5 * r
    }

    fn value_and_gradient(&self, k: usize, x: &[f64], x_bar: &mut [f64], _: &mut [f64]) -> f64 {
        let mut total = 0.0;
        for i in self.misfit.range(k) {
            let (scaled, weighted) = self.weighted(k, i, x);
            total += scaled * scaled;
            self.misfit.operator().apply_ad(i, x, weighted, x_bar);
        }
        0.5 * total
    }
}

/// A δv at control `v` of `problem` (see the module documentation). The problem must work in
/// the transformed control space and estimate no parameters; δv has the control's length.
pub fn hessian_vector_product<D: Dynamics + Clone>(
    problem: &FourDVar<D>,
    v: &[f64],
    dv: &[f64],
) -> Result<Vec<f64>> {
    let transform = problem.transform();
    let n = transform.state_control_len();
    if transform.space() != ControlSpace::Transformed || transform.param_len() > 0 {
        return Err(Error::invalid(
            "Gauss-Newton Hessian",
            "needs the transformed control space and no estimated parameters",
        ));
    }
    if v.len() != n || dv.len() != n {
        return Err(Error::invalid(
            "Gauss-Newton Hessian",
            format!(
                "control and direction need {n} values, got {} and {}",
                v.len(),
                dv.len()
            ),
        ));
    }
    let (x0, _) = transform.to_model(v);
    let model = problem.model_at(v);
    let misfit = problem.misfit();
    let mut dx0 = vec![0.0; transform.state_len()];
    transform.sqrt_apply(dv, &mut dx0);
    let steps = problem.steps();
    let mut tangents = vec![Vec::new(); steps + 1];
    tangent_linear_trajectory(&model, &x0, &dx0, &[], &[], steps, |k, _, dx| {
        if misfit.is_active(k) {
            tangents[k] = dx.to_vec();
        }
    })?;
    let forcing = GaussNewtonForcing { misfit, tangents };
    let sweep = value_and_gradient(&model, &x0, steps, &forcing, Storage::All)?;
    let mut product = dv.to_vec();
    let mut back = vec![0.0; n];
    transform.sqrt_adjoint_apply(&sweep.state_gradient, &mut back);
    crate::core::vector::axpy(1.0, &back, &mut product);
    Ok(product)
}
