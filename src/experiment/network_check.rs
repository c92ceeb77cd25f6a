//! `check --network`: the derivative checks of an observation network on a model — the
//! Taylor and dot-product tests of the observation operator H that the network's
//! observations make, and the gradient test of the whole 4D-Var cost with those observations,
//! with its step-by-step residues as ADAO's checking algorithms print them.

use std::path::Path;
use std::sync::Arc;

use crate::core::vector::{dot, norm};
use crate::core::verification::{gradient_test, random_vector, taylor_test_of_map, GradientRow};
use crate::core::{Dynamics, Storage};
use crate::cov::BackgroundSpec;
use crate::error::{Error, Result};
use crate::io::experiment_config::TwinConfig;
use crate::io::observation_network::ObservationNetwork;
use crate::models::ModelInfo;
use crate::obs::{ObservationKind, ObservationMisfit, ObservationOperator};
use crate::var::{ControlSpace, ControlTransform, FourDVar};

use super::derivative_check::{thresholds, CheckRow};
use super::twin_data::twin_data;
use super::window_analysis::background_covariance;

/// What the network checks found: the table rows and the residues of the cost's gradient test.
#[derive(Clone, Debug)]
pub struct NetworkCheck {
    /// Rows for the check table.
    pub rows: Vec<CheckRow>,
    /// The gradient test of J step by step: α and R(α) = (J(u + αh) − J(u)) / (α ∇J·h).
    pub residues: Vec<GradientRow>,
}

/// The checks of `network` (read from `path`) on `model`: observations of a truth run of
/// `window` steps after `spinup` steps (noise and background from `seed`), the default B.
pub fn check_network<M: Dynamics + ModelInfo + Clone>(
    model: &M,
    network: &ObservationNetwork,
    path: &Path,
    spinup: usize,
    window: usize,
    seed: u64,
) -> Result<NetworkCheck> {
    let geometry = model.geometry();
    let covariance = Arc::new(background_covariance(model, &BackgroundSpec::default())?);
    let twin = TwinConfig {
        spinup,
        background_seed: seed,
        observation_seed: seed.wrapping_add(1),
        truth_parameters: None,
        truth_seed: None,
    };
    let data = twin_data(model, network, path, &twin, &covariance, window)?;
    let observations = data.observations.window(0, window, model.time_step());
    if observations.is_empty() {
        return Err(Error::input(
            path,
            None,
            format!(
                "observes nothing in steps 0..={window} ({}): give a longer --window",
                network.schedule()
            ),
        ));
    }
    let n = model.state_len();
    let x = &data.truth[..n];
    let operator = ObservationOperator::new(&observations, &geometry)?;
    let mut rows = Vec::new();
    for &kind in ObservationKind::all() {
        let indices: Vec<usize> = (observations.as_slice().iter().enumerate())
            .filter(|(_, o)| o.kind == kind)
            .map(|(i, _)| i)
            .collect();
        if !indices.is_empty() {
            rows.extend(operator_rows(&operator, x, &indices, kind, seed)?);
        }
    }

    let misfit = ObservationMisfit::new(observations.clone(), &geometry)?;
    let transform =
        ControlTransform::new(ControlSpace::Transformed, data.background, covariance, None)?;
    let problem = FourDVar::new(model.clone(), window, misfit, transform, Storage::All)?;
    let u = problem.transform().background_control();
    let evaluation = problem.evaluate(&u)?;
    // ĝ + r̂, as in the model's gradient test: a random direction alone is nearly orthogonal
    // to ∇J in many dimensions.
    let r = random_vector(u.len(), seed.wrapping_add(7));
    let (gn, rn) = (norm(&evaluation.gradient), norm(&r));
    let g_part = if gn > 0.0 { 1.0 / gn } else { 0.0 };
    let h: Vec<f64> = (evaluation.gradient.iter().zip(&r))
        .map(|(g, r)| g * g_part + r / rn)
        .collect();
    let report = gradient_test(|v| problem.cost(v), &u, &evaluation.gradient, &h)?;
    rows.push(CheckRow {
        test: format!("network: gradient test of J, {window} steps"),
        value: report.best_error,
        threshold: thresholds::GRADIENT,
        note: format!(
            "{} observations, default B; best alpha {:.1e}",
            observations.len(),
            report.best_alpha
        ),
    });
    Ok(NetworkCheck {
        rows,
        residues: report.rows,
    })
}

/// How close (relative to the perturbation) an |s| or wind-speed observation may be to its
/// kink at 0 and still take the Taylor test.
const KINK_DISTANCE: f64 = 1e-3;

/// Largest ‖H(x + δx) − H(x) − H'δx‖ / ‖H'δx‖ of a linear H: round-off only.
const LINEAR_RESIDUAL: f64 = 1e-12;

/// The Taylor and dot-product rows of H at state x for the observations `indices`, all of
/// kind `kind` (every observation applied to x), named after the kind so that a wrong
/// operator shows which one it is.
fn operator_rows(
    operator: &ObservationOperator,
    x: &[f64],
    indices: &[usize],
    kind: ObservationKind,
    seed: u64,
) -> Result<Vec<CheckRow>> {
    let p = indices.len();
    let name = format!("network: H {kind} ({p} obs)");
    // δx scaled to the state, so that ε = 1 is a large but meaningful perturbation whatever
    // the units (metres of height, m/s of wind).
    let scale = norm(x) / (x.len() as f64).sqrt();
    let dx: Vec<f64> = random_vector(x.len(), seed.wrapping_add(5))
        .iter()
        .map(|r| r * scale.max(1e-300))
        .collect();
    // |s| and the wind speed have a kink at 0: a station at the centre of a symmetric flow
    // sees a wind of 1e-17 m/s, and no perturbation of the test's sizes stays on one side of
    // the kink. Observations within 1e-3 of a perturbation of their kink (|h(x)| ≤ 1e-3
    // |h(δx)|) sit out the Taylor test; they still take the dot-product test.
    let smooth: Vec<usize> = (indices.iter().copied())
        .filter(|&i| {
            !matches!(kind, ObservationKind::Abs | ObservationKind::Speed)
                || operator.apply(i, x).abs() > KINK_DISTANCE * operator.apply(i, &dx).abs()
        })
        .collect();
    let left_out = match p - smooth.len() {
        0 => String::new(),
        k => format!("; {k} next to the kink at 0 left out"),
    };
    let apply = |of: &[usize], state: &[f64]| -> Vec<f64> {
        of.iter().map(|&i| operator.apply(i, state)).collect()
    };
    let tangent = |of: &[usize], dx: &[f64]| -> Vec<f64> {
        of.iter().map(|&i| operator.apply_tl(i, x, dx)).collect()
    };
    let smooth_hdx = tangent(&smooth, &dx);
    let mut shifted = vec![0.0; x.len()];
    let taylor = taylor_test_of_map(&apply(&smooth, x), &smooth_hdx, |epsilon| {
        crate::core::vector::add_scaled(x, epsilon, &dx, &mut shifted);
        Ok(apply(&smooth, &shifted))
    })?;
    let mut rows = Vec::new();
    if matches!(kind, ObservationKind::Value | ObservationKind::Abs) {
        // Linear (|s| piecewise): H(x + δx) − H(x) = H'δx up to round-off, no slope to
        // measure; the residual at ε = 1 (the first row, least touched by cancellation).
        let first = taylor.rows.first().copied();
        rows.push(CheckRow {
            test: format!("{name} linearity residual"),
            value: first.map_or(f64::NAN, |r| r.residual / (r.epsilon * norm(&smooth_hdx))),
            threshold: LINEAR_RESIDUAL,
            note: format!("|H(x+dx)-H(x)-H'dx| / |H'dx|{left_out}"),
        });
    } else {
        let mut slope = (taylor.slope - 2.0).abs();
        if taylor.slope_decades < thresholds::TAYLOR_DECADES {
            slope = f64::NAN;
        }
        rows.push(CheckRow {
            test: format!("{name} Taylor slope"),
            value: slope,
            threshold: thresholds::TAYLOR_SLOPE,
            note: format!(
                "slope {:.4} over {:.1} decades{left_out}",
                taylor.slope, taylor.slope_decades
            ),
        });
        rows.push(CheckRow {
            test: format!("{name} Taylor |ratio-1|"),
            value: taylor.best_ratio_error,
            threshold: thresholds::TAYLOR_RATIO,
            note: String::new(),
        });
    }
    // ⟨H'δx, δy⟩ = ⟨δx, H'ᵀδy⟩, with δy = H'δx + r so that the two sides are not tiny.
    let hdx = tangent(indices, &dx);
    let dy: Vec<f64> = random_vector(p, seed.wrapping_add(6))
        .iter()
        .zip(&hdx)
        .map(|(r, t)| r + t)
        .collect();
    let mut adjoint = vec![0.0; x.len()];
    for (&i, &d) in indices.iter().zip(&dy) {
        operator.apply_ad(i, x, d, &mut adjoint);
    }
    let (tangent_side, adjoint_side) = (dot(&hdx, &dy), dot(&dx, &adjoint));
    let difference = (tangent_side - adjoint_side).abs();
    rows.push(CheckRow {
        test: format!("{name} dot product (relative)"),
        value: difference / tangent_side.abs().max(adjoint_side.abs()),
        threshold: thresholds::DOT_PRODUCT,
        note: format!("<H'dx,dy> = {tangent_side:.6e}"),
    });
    Ok(rows)
}
