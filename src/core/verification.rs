//! Derivative checks, generic over [`Dynamics`] and over any cost: the Taylor test of a
//! tangent-linear model, the dot-product test of an adjoint and the gradient test of a cost.
//! The tests of every model and the `check` command use these; finite differences appear
//! here and nowhere in the product's gradient path.

use super::dynamics::Dynamics;
use super::stage_costs::LinearFunctional;
use super::sweep::{integrate, tangent_linear_run, value_and_gradient, Storage};
use super::vector::{add_scaled, dot, norm};
use crate::error::{Error, Result};

/// The perturbation sizes of the Taylor test: 10^(−j/2), j = 0..=20, that is half-decade
/// steps from 1 down to 1e−10.
pub fn perturbation_sizes() -> Vec<f64> {
    (0..=20).map(|j| 10f64.powf(-(j as f64) / 2.0)).collect()
}

/// The step lengths of the gradient test: quarter-decade steps from 1 down to 1e−12. The
/// one-sided difference reaches its best accuracy (about √(machine ε)) in a narrow band of α,
/// so the grid is finer than the Taylor test's.
pub fn step_lengths() -> Vec<f64> {
    (0..=48).map(|j| 10f64.powf(-(j as f64) / 4.0)).collect()
}

/// One row of a Taylor test.
#[derive(Clone, Copy, Debug)]
pub struct TaylorRow {
    /// Perturbation size ε.
    pub epsilon: f64,
    /// ‖M(x+εδx) − M(x)‖ / ‖ε M'δx‖, which tends to 1.
    pub ratio: f64,
    /// ‖M(x+εδx) − M(x) − ε M'δx‖, which falls as ε².
    pub residual: f64,
}

/// Outcome of a Taylor test of a tangent-linear model.
#[derive(Clone, Debug)]
pub struct TaylorReport {
    /// One row per ε.
    pub rows: Vec<TaylorRow>,
    /// min over ε of |ratio − 1|.
    pub best_ratio_error: f64,
    /// Least-squares slope of log residual against log ε over the longest run of ε where every
    /// local slope is within [`TaylorReport::SLOPE_TOLERANCE`] of 2 (NaN when there is none).
    pub slope: f64,
    /// How many decades of ε that run spans.
    pub slope_decades: f64,
    /// The largest ε whose perturbed run left the finite numbers (a stiff or chaotic model
    /// pushed out of its basin by a large perturbation); that ε and the larger ones are
    /// outside the linear regime and have no row. None when every run stayed finite.
    pub blown_up_at: Option<f64>,
}

impl TaylorReport {
    /// How far from 2 a local slope may be and still count as "second order".
    pub const SLOPE_TOLERANCE: f64 = 0.1;

    fn from_rows(rows: Vec<TaylorRow>, blown_up_at: Option<f64>) -> Self {
        let best_ratio_error = rows
            .iter()
            .map(|r| (r.ratio - 1.0).abs())
            .fold(f64::INFINITY, f64::min);
        let log = |r: &TaylorRow| (r.epsilon.log10(), r.residual.log10());
        let local_ok = |i: usize| {
            let (e0, r0) = log(&rows[i]);
            let (e1, r1) = log(&rows[i + 1]);
            let slope = (r0 - r1) / (e0 - e1);
            (slope - 2.0).abs() <= Self::SLOPE_TOLERANCE
        };
        // Longest run of consecutive rows i..=j whose local slopes are all near 2.
        let (mut best, mut start) = ((0, 0), None);
        for i in 0..rows.len().saturating_sub(1) {
            if local_ok(i) {
                let s = *start.get_or_insert(i);
                if i + 1 - s > best.1 - best.0 {
                    best = (s, i + 1);
                }
            } else {
                start = None;
            }
        }
        let (slope, slope_decades) = if best.1 > best.0 {
            let points: Vec<(f64, f64)> = rows[best.0..=best.1].iter().map(log).collect();
            let decades = points[0].0 - points[points.len() - 1].0;
            (least_squares_slope(&points), decades)
        } else {
            (f64::NAN, 0.0)
        };
        Self {
            rows,
            best_ratio_error,
            slope,
            slope_decades,
            blown_up_at,
        }
    }
}

fn least_squares_slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = points.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    sxy / sxx
}

/// Taylor test of the tangent-linear model over `steps` steps at x, in the direction
/// (δx, δθ): compares M(x+εδx; θ+εδθ) − M(x; θ) with ε M'(δx, δθ) for every ε of
/// [`perturbation_sizes`]. A perturbed run that becomes non-finite says the ε is far outside
/// the linear regime, not that the TL is wrong: its row and those of larger ε are left out
/// (see [`TaylorReport::blown_up_at`]); the unperturbed and tangent runs must stay finite.
pub fn taylor_test<D: Dynamics + Clone>(
    model: &D,
    x: &[f64],
    dx: &[f64],
    dparams: &[f64],
    steps: usize,
) -> Result<TaylorReport> {
    let base = integrate(model, x, steps, |_, _| {})?;
    let tangent = tangent_linear_run(model, x, dx, dparams, &[], steps)?;
    let theta = model.params();
    let mut perturbed_model = model.clone();
    let mut x_eps = vec![0.0; x.len()];
    let mut theta_eps = vec![0.0; theta.len()];
    taylor_test_of_map(&base, &tangent, |epsilon| {
        add_scaled(x, epsilon, dx, &mut x_eps);
        if !theta.is_empty() {
            add_scaled(&theta, epsilon, dparams, &mut theta_eps);
            perturbed_model.set_params(&theta_eps);
        }
        integrate(&perturbed_model, &x_eps, steps, |_, _| {})
    })
}

/// Taylor test of any differentiable map F at a point: `base` = F(x), `tangent` = F'δx and
/// `perturbed(ε)` = F(x + εδx), for every ε of [`perturbation_sizes`]. An
/// [`Error::NonFinite`] from `perturbed` marks ε as outside the linear regime (see
/// [`TaylorReport::blown_up_at`]); other errors are returned.
pub fn taylor_test_of_map(
    base: &[f64],
    tangent: &[f64],
    mut perturbed: impl FnMut(f64) -> Result<Vec<f64>>,
) -> Result<TaylorReport> {
    let mut rows = Vec::new();
    let mut blown_up_at = None;
    for epsilon in perturbation_sizes() {
        let end = match perturbed(epsilon) {
            Ok(end) => end,
            Err(Error::NonFinite { .. }) => {
                // ε shrinks along the loop, so the rows kept are all smaller than this one.
                blown_up_at = Some(epsilon);
                rows.clear();
                continue;
            }
            Err(e) => return Err(e),
        };
        let (mut diff2, mut res2, mut lin2) = (0.0, 0.0, 0.0);
        for ((e, b), t) in end.iter().zip(base).zip(tangent) {
            let diff = e - b;
            diff2 += diff * diff;
            res2 += (diff - epsilon * t).powi(2);
            lin2 += (epsilon * t).powi(2);
        }
        rows.push(TaylorRow {
            epsilon,
            ratio: (diff2 / lin2).sqrt(),
            residual: res2.sqrt(),
        });
    }
    Ok(TaylorReport::from_rows(rows, blown_up_at))
}

/// Outcome of a dot-product (adjoint) test.
#[derive(Clone, Copy, Debug)]
pub struct DotProductReport {
    /// ⟨M'δ, δy⟩ with the tangent-linear model.
    pub tangent_side: f64,
    /// ⟨δ, M'ᵀδy⟩ with the adjoint model (state and parameter parts summed).
    pub adjoint_side: f64,
    /// |difference| / max(|tangent_side|, |adjoint_side|).
    pub relative_error: f64,
    /// |difference| / (‖M'δ‖‖δy‖ + ‖δ‖‖M'ᵀδy‖): small even when the two sides nearly cancel.
    pub absolute_error: f64,
}

/// Dot-product test of the adjoint over `steps` steps at x: the tangent-linear model applied
/// to (δx, δθ) and the adjoint sweep applied to δy must satisfy
/// ⟨M'(δx, δθ), δy⟩ = ⟨δx, λ_0⟩ + ⟨δθ, θ̄⟩.
pub fn dot_product_test<D: Dynamics>(
    model: &D,
    x: &[f64],
    dx: &[f64],
    dparams: &[f64],
    dy: &[f64],
    steps: usize,
) -> Result<DotProductReport> {
    let tangent = tangent_linear_run(model, x, dx, dparams, &[], steps)?;
    let probe = LinearFunctional::new(steps, dy.to_vec());
    let adjoint = value_and_gradient(model, x, steps, &probe, Storage::All)?;
    let tangent_side = dot(&tangent, dy);
    let adjoint_side = dot(dx, &adjoint.state_gradient) + dot(dparams, &adjoint.param_gradient);
    let difference = (tangent_side - adjoint_side).abs();
    let scale = norm(&tangent) * norm(dy)
        + (norm(dx).powi(2) + norm(dparams).powi(2)).sqrt()
            * (norm(&adjoint.state_gradient).powi(2) + norm(&adjoint.param_gradient).powi(2))
                .sqrt();
    Ok(DotProductReport {
        tangent_side,
        adjoint_side,
        relative_error: difference / tangent_side.abs().max(adjoint_side.abs()),
        absolute_error: difference / scale,
    })
}

/// One row of a gradient test.
#[derive(Clone, Copy, Debug)]
pub struct GradientRow {
    /// Step length α.
    pub alpha: f64,
    /// (J(x+αh) − J(x)) / (α ∇J·h), which tends to 1.
    pub ratio: f64,
}

/// Outcome of a gradient test.
#[derive(Clone, Debug)]
pub struct GradientReport {
    /// One row per α.
    pub rows: Vec<GradientRow>,
    /// min over α of |ratio − 1|.
    pub best_error: f64,
    /// The α of that row.
    pub best_alpha: f64,
}

/// Gradient test of any cost: compares (J(x+αh) − J(x)) with α ∇J·h for every α of
/// [`step_lengths`]. `cost` evaluates J; `gradient` is the ∇J under test at x.
pub fn gradient_test(
    mut cost: impl FnMut(&[f64]) -> Result<f64>,
    x: &[f64],
    gradient: &[f64],
    direction: &[f64],
) -> Result<GradientReport> {
    let j0 = cost(x)?;
    let slope = dot(gradient, direction);
    let mut shifted = vec![0.0; x.len()];
    let mut rows = Vec::new();
    for alpha in step_lengths() {
        add_scaled(x, alpha, direction, &mut shifted);
        let ratio = (cost(&shifted)? - j0) / (alpha * slope);
        rows.push(GradientRow { alpha, ratio });
    }
    let best = rows
        .iter()
        .min_by(|a, b| (a.ratio - 1.0).abs().total_cmp(&(b.ratio - 1.0).abs()))
        .copied()
        .expect("step_lengths is not empty");
    Ok(GradientReport {
        best_error: (best.ratio - 1.0).abs(),
        best_alpha: best.alpha,
        rows,
    })
}

/// A reproducible vector of standard-normal numbers, for test directions.
pub fn random_vector(len: usize, seed: u64) -> Vec<f64> {
    use rand::SeedableRng;
    use rand_distr::{Distribution, StandardNormal};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..len).map(|_| StandardNormal.sample(&mut rng)).collect()
}
