//! The square-root ensemble smoother update of hybrid 4D-Var's members
//! (`member_update = "smoother"`), as the iterative ensemble Kalman smoother (Bocquet & Sakov
//! 2014) updates its anomalies once its mean has converged.
//!
//! With the members' anomalies X' = [x_i − x̄] (n × M) at the window start and the
//! tangent-linear model M'_k along the analysis trajectory from x_a, every observation of the
//! window sees S = R^{-½} [H_k M'_k X'] (p × M), and the analysis anomalies are
//!
//!   X'_a = X' W,   W = [(M − 1)((M − 1) I + SᵀS)⁻¹]^½   (symmetric root),
//!
//! so that X'_a X'_aᵀ/(M − 1) = P − P Gᵀ(G P Gᵀ + R)⁻¹ G P with P = X'X'ᵀ/(M − 1) and G the
//! linearised map from the window start to the observations: the smoother's covariance at
//! the window start, for every observation of the window at once. The members become
//! x_a + X'_a e_i (their mean is x_a: the symmetric root keeps the anomalies summing to zero).

use ndarray::{Array1, Array2};

use crate::core::{tangent_linear_trajectory, Dynamics};
use crate::error::{Error, Result};
use crate::geometry::Geometry;
use crate::obs::{ObservationMisfit, ObservationSet};

use super::etkf::transform_weights;
use super::member_runs::map_members;

const WHAT: &str = "the smoother update of the members";

/// The members x_a + X'_a e_i at the window start, from the members `members` (their
/// anomalies are used, not their mean), the analysis `analysis` at the window start and the
/// window's `observations` over `steps` steps of `model` on `geometry`.
pub fn smoother_update<D: Dynamics + Sync>(
    model: &D,
    geometry: &Geometry,
    analysis: &[f64],
    members: &[Vec<f64>],
    observations: &ObservationSet,
    steps: usize,
) -> Result<Vec<Vec<f64>>> {
    let m = members.len();
    let n = model.state_len();
    if m < 2 || analysis.len() != n || members.iter().any(|x| x.len() != n) {
        return Err(Error::invalid(
            WHAT,
            format!("needs at least 2 members and states of {n} values"),
        ));
    }
    let misfit = ObservationMisfit::new(observations.clone(), geometry)?;
    let (operator, obs) = (misfit.operator(), misfit.observations().as_slice());
    let mut centre = vec![0.0; n];
    for x in members {
        (centre.iter_mut().zip(x)).for_each(|(c, v)| *c += v / m as f64);
    }
    let anomalies: Vec<Vec<f64>> = (members.iter())
        .map(|x| x.iter().zip(&centre).map(|(v, c)| v - c).collect())
        .collect();
    let observed = map_members(&anomalies, |i, a| {
        let mut column = vec![0.0; obs.len()];
        tangent_linear_trajectory(model, analysis, a, &[], &[], steps, |k, x, dx| {
            for o in misfit.range(k) {
                column[o] = operator.apply_tl(o, x, dx) / obs[o].sigma;
            }
        })
        .map_err(|e| e.within(format!("{WHAT}: ensemble member {i}")))?;
        Ok(column)
    })?;
    let s = Array2::from_shape_fn((obs.len(), m), |(k, i)| observed[i][k]);
    let (_, w) = transform_weights(WHAT, &s, &Array1::zeros(obs.len()))?;
    Ok((0..m)
        .map(|i| {
            let mut x = analysis.to_vec();
            for (l, a) in anomalies.iter().enumerate() {
                crate::core::vector::axpy(w[[l, i]], a, &mut x);
            }
            x
        })
        .collect())
}
