//! 4DEnVar: the hybrid cost with the ensemble in place of the tangent-linear and adjoint
//! models inside the window (Liu et al. 2008; Buehner et al. 2010). The increment at
//! observation step k is built from the members' own trajectories,
//!
//! δx_k = T_k u = β_s B^½ v + β_e Σ_i x'_i(k) ∘ (C^½ α_i),   x'_i(k) = (x_i(k) − x̄(k))/√(M − 1),
//!
//! the static part held constant through the window (as 3D-FGAT holds its increment). With
//! d_i = y_i − h_i(x_b(k)) the innovations along the background trajectory and h_i' the
//! observation operator linearised there, the cost is quadratic,
//!
//! J(u) = ½‖u‖² + ½ Σ_k Σ_{i at k} ((d_i − h_i' T_k u)/σ_i)²,
//!
//! and one conjugate-gradient solve of (I + Σ_k T_kᵀ H_kᵀ R⁻¹ H_k T_k) u = Σ_k T_kᵀ H_kᵀ R⁻¹ d_k
//! gives the analysis increment T_0 u at the window start. No model derivative is used: the
//! price is that the increment's time evolution is the ensemble's, within its span.

use std::sync::Arc;

use crate::core::vector::axpy;
use crate::cov::BackgroundCovariance;
use crate::error::{Error, Result};
use crate::geometry::Geometry;
use crate::obs::{ObservationMisfit, ObservationSet};
use crate::var::krylov::{conjugate_gradient, InnerLoopSettings, InnerSolution};

use super::alpha_control::HybridTransform;
use super::localisation::Localisation;

/// The hybrid B's parts: static B, weights and localisation.
#[derive(Clone, Debug)]
pub struct HybridWeights {
    /// The static B.
    pub static_b: Arc<BackgroundCovariance>,
    /// β_s.
    pub beta_static: f64,
    /// β_e.
    pub beta_ensemble: f64,
    /// C.
    pub localisation: Arc<Localisation>,
}

/// What a 4DEnVar analysis found.
#[derive(Clone, Debug)]
pub struct EnVarAnalysis {
    /// The analysis increment T_0 u at the window start.
    pub increment: Vec<f64>,
    /// The conjugate-gradient solve (q from J at the background down to J at the analysis).
    pub solution: InnerSolution,
}

/// The 4DEnVar analysis of `observations` (steps relative to the window start) given the
/// background trajectory `background` and the member trajectories `members` (each row-major,
/// at least up to the last observed step, n values per step) on `geometry`.
pub fn four_d_en_var(
    background: &[f64],
    members: &[Vec<f64>],
    weights: &HybridWeights,
    observations: &ObservationSet,
    geometry: &Geometry,
    inner: InnerLoopSettings,
) -> Result<EnVarAnalysis> {
    let n = geometry.state_len();
    let last = observations.max_step().unwrap_or(0);
    let records = |t: &[f64]| t.len() / n.max(1);
    if records(background) <= last || members.iter().any(|t| records(t) <= last) {
        return Err(Error::invalid(
            "4DEnVar",
            format!("the trajectories must reach the last observed step {last}"),
        ));
    }
    let misfit = ObservationMisfit::new(observations.clone(), geometry)?;
    let operator = misfit.operator();
    let obs = observations.as_slice();
    let at = |t: &[f64], k: usize| t[k * n..(k + 1) * n].to_vec();
    // (step, T_k, x_b(k)) for every observed step.
    let steps: Vec<(usize, HybridTransform, Vec<f64>)> = (observations.steps_with_data())
        .into_iter()
        .map(|k| {
            let states: Vec<Vec<f64>> = members.iter().map(|t| at(t, k)).collect();
            let transform = HybridTransform::new(
                weights.static_b.clone(),
                weights.beta_static,
                weights.beta_ensemble,
                &states,
                weights.localisation.clone(),
            )?;
            Ok((k, transform, at(background, k)))
        })
        .collect::<Result<_>>()?;
    let control_len = steps
        .first()
        .map_or(n * (1 + members.len()), |(_, t, _)| t.control_len());
    // Σ_k T_kᵀ H_kᵀ R⁻¹ r_k for per-observation residuals r (weighted by 1/σ²).
    let pull_back = |residual: &dyn Fn(usize, &[f64]) -> f64| -> Vec<f64> {
        let mut out = vec![0.0; control_len];
        let mut x_bar = vec![0.0; n];
        let mut u_bar = vec![0.0; control_len];
        for (k, transform, xb) in &steps {
            x_bar.iter_mut().for_each(|v| *v = 0.0);
            for i in misfit.range(*k) {
                let weighted = residual(i, xb) / (obs[i].sigma * obs[i].sigma);
                operator.apply_ad(i, xb, weighted, &mut x_bar);
            }
            transform.adjoint_apply(&x_bar, &mut u_bar);
            axpy(1.0, &u_bar, &mut out);
        }
        out
    };
    let innovation = |i: usize, xb: &[f64]| obs[i].value - operator.apply(i, xb);
    let j0: f64 = (steps.iter())
        .flat_map(|(k, _, xb)| misfit.range(*k).map(move |i| (i, xb)))
        .map(|(i, xb)| (innovation(i, xb) / obs[i].sigma).powi(2))
        .sum::<f64>()
        * 0.5;
    let mut g = pull_back(&innovation);
    g.iter_mut().for_each(|v| *v = -*v);
    let mut dx = vec![0.0; n];
    let hessian = |du: &[f64]| -> Result<Vec<f64>> {
        // H_k T_k du for every observation, then the pull-back.
        let mut tangent = vec![0.0; obs.len()];
        for (k, transform, xb) in &steps {
            transform.apply(du, &mut dx);
            for i in misfit.range(*k) {
                tangent[i] = operator.apply_tl(i, xb, &dx);
            }
        }
        let mut product = pull_back(&|i, _| tangent[i]);
        axpy(1.0, du, &mut product);
        Ok(product)
    };
    let solution = conjugate_gradient(hessian, &g, j0, inner)?;
    let mut increment = vec![0.0; n];
    // T_0: the members' anomalies at the window start.
    let start: Vec<Vec<f64>> = members.iter().map(|t| at(t, 0)).collect();
    HybridTransform::new(
        weights.static_b.clone(),
        weights.beta_static,
        weights.beta_ensemble,
        &start,
        weights.localisation.clone(),
    )?
    .apply(&solution.step, &mut increment);
    Ok(EnVarAnalysis {
        increment,
        solution,
    })
}
