//! The `check` command: every derivative check of the core, run on one model at a state on
//! its attractor, as a table of (test, value, threshold, pass/fail).

use crate::core::budget::{check_memory, check_work};
use crate::core::stage_costs::QuadraticMisfit;
use crate::core::sweep::cost_value;
use crate::core::vector::{add_scaled, norm};
use crate::core::verification::{dot_product_test, gradient_test, random_vector, taylor_test};
use crate::core::{integrate, tangent_linear_run, value_and_gradient, Dynamics, Storage};
use crate::error::Result;
use crate::io::model_config::ModelConfig;
use crate::io::observation_network::ObservationNetwork;
use crate::models::ModelInfo;
use crate::models::ModelTask;

use super::network_check::check_network;

/// Thresholds of issue #2 / DESIGN.md.
pub mod thresholds {
    /// Largest |⟨M'δx, δy⟩ − ⟨δx, M'ᵀδy⟩| / max(|·|) (and the norm-scaled absolute error).
    pub const DOT_PRODUCT: f64 = 1e-13;
    /// Largest |slope − 2| of the Taylor residual.
    pub const TAYLOR_SLOPE: f64 = 0.1;
    /// Fewest decades of ε over which the slope must hold.
    pub const TAYLOR_DECADES: f64 = 4.0;
    /// Largest |ratio − 1| of the Taylor test at its best ε.
    pub const TAYLOR_RATIO: f64 = 1e-6;
    /// Largest |ratio − 1| of the gradient test at its best α.
    pub const GRADIENT: f64 = 1e-6;
    /// Largest relative difference between checkpointed and fully stored gradients.
    pub const CHECKPOINTING: f64 = 1e-14;
}

/// One line of the check table.
#[derive(Clone, Debug)]
pub struct CheckRow {
    /// What was tested.
    pub test: String,
    /// The measured value (an error: smaller is better).
    pub value: f64,
    /// The largest value that passes.
    pub threshold: f64,
    /// Extra detail (for example the decades of a Taylor slope).
    pub note: String,
}

impl CheckRow {
    /// Whether the value is within the threshold (NaN never passes).
    pub fn passed(&self) -> bool {
        self.value <= self.threshold
    }
}

/// What to check.
#[derive(Clone, Debug)]
pub struct CheckRequest {
    /// The model configuration.
    pub model: ModelConfig,
    /// Spin-up steps from the default initial state before checking.
    pub spinup: usize,
    /// Steps of the composed model (besides the single step).
    pub window: usize,
    /// Seed of the random directions.
    pub seed: u64,
    /// An observation network whose operators and 4D-Var cost are checked too
    /// ([`super::network_check`]), with its file's text.
    pub network: Option<(std::path::PathBuf, ObservationNetwork)>,
}

/// What `check` found: the table rows, and with a network the step-by-step residues of the
/// gradient test of its 4D-Var cost.
#[derive(Clone, Debug)]
pub struct CheckOutcome {
    /// The table rows, the model's first.
    pub rows: Vec<CheckRow>,
    /// α and R(α) of the network cost's gradient test (empty without a network).
    pub residues: Vec<crate::core::verification::GradientRow>,
}

/// Runs every check and returns the table rows.
pub fn run_checks(request: &CheckRequest) -> Result<CheckOutcome> {
    request.model.run(Checks(request))
}

struct Checks<'a>(&'a CheckRequest);

impl ModelTask for Checks<'_> {
    type Output = CheckOutcome;

    fn run<M: Dynamics + ModelInfo + Clone>(self, model: M) -> Result<CheckOutcome> {
        let req = self.0;
        let n = model.state_len();
        // The spin-up, then some 150 window-long runs (Taylor ε, tangent and adjoint sweeps,
        // gradient-test steps, checkpointing), each keeping its trajectory.
        check_work(
            "derivative check",
            n,
            req.spinup as f64 + 150.0 * req.window as f64,
        )?;
        check_memory(
            "derivative check",
            4.0 * (req.window as f64 + 1.0) * n as f64 * 8.0,
        )?;
        // A long spin-up shows its progress (on a terminal) rather than a silent wait.
        let bar = crate::progress::step_bar(req.spinup as u64, "spin-up");
        let x = integrate(
            &model,
            &model.default_initial_state(),
            req.spinup,
            |k, _| {
                if k % 256 == 0 {
                    bar.set_position(k as u64);
                }
            },
        )
        .map_err(|e| e.within(format!("the spin-up of {}", req.model.path.display())))?;
        bar.finish_and_clear();
        let mut rows = check_model(&model, &x, req.window, req.seed)
            .map_err(|e| e.within(format!("the checks of {}", req.model.path.display())))?;
        let mut residues = Vec::new();
        if let Some((path, network)) = &req.network {
            // Its errors name the network file (a key that does not fit the model) or the
            // step of the model run.
            let found = check_network(&model, network, path, req.spinup, req.window, req.seed)?;
            rows.extend(found.rows);
            residues = found.residues;
        }
        Ok(CheckOutcome { rows, residues })
    }
}

/// All checks of one model at state x: Taylor and dot-product tests over 1 and `window`
/// steps (state and parameters), the gradient test of a quadratic cost over `window` steps
/// and the agreement of checkpointed and stored sweeps.
pub fn check_model<M: Dynamics + Clone>(
    model: &M,
    x: &[f64],
    window: usize,
    seed: u64,
) -> Result<Vec<CheckRow>> {
    use thresholds::*;
    let (n, p) = (model.state_len(), model.param_len());
    let dx = random_vector(n, seed);
    // Parameter directions relative to each parameter's size (10 % of |θᵢ|, or 1 for θᵢ = 0):
    // a unit step is harmless for the Lorenz-96 forcing F = 8 but would turn the Coriolis
    // parameter f = 1e-4 /s into 1 /s and blow the shallow-water model up.
    let dp: Vec<f64> = random_vector(p, seed + 1)
        .iter()
        .zip(model.params())
        .map(|(r, theta)| {
            if theta != 0.0 {
                0.1 * theta.abs() * r
            } else {
                *r
            }
        })
        .collect();
    let mut rows = Vec::new();
    for steps in [1, window] {
        // δy = M'δx + r: a random δy alone can be nearly orthogonal to M'δx (a short step
        // of a large state keeps M' close to I), and a tiny ⟨M'δx, δy⟩ would make the
        // relative test measure round-off instead of the adjoint.
        let tangent = tangent_linear_run(model, x, &dx, &dp, &[], steps)?;
        let mut dy = random_vector(n, seed + 2);
        for (d, t) in dy.iter_mut().zip(&tangent) {
            *d += t;
        }
        let taylor = taylor_test(model, x, &dx, &dp, steps)?;
        rows.push(CheckRow {
            test: format!("TL Taylor slope, {steps} step(s)"),
            value: (taylor.slope - 2.0).abs(),
            threshold: TAYLOR_SLOPE,
            note: format!(
                "slope {:.4} over {:.1} decades (need >= {TAYLOR_DECADES}){}",
                taylor.slope,
                taylor.slope_decades,
                taylor.blown_up_at.map_or(String::new(), |e| format!(
                    "; eps >= {e:.0e} left out (the perturbed run blew up)"
                ))
            ),
        });
        if taylor.slope_decades < TAYLOR_DECADES {
            rows.last_mut().expect("just pushed").value = f64::NAN;
        }
        rows.push(CheckRow {
            test: format!("TL Taylor |ratio-1|, {steps} step(s)"),
            value: taylor.best_ratio_error,
            threshold: TAYLOR_RATIO,
            note: String::new(),
        });
        let dot = dot_product_test(model, x, &dx, &dp, &dy, steps)?;
        rows.push(CheckRow {
            test: format!("AD dot product (relative), {steps} step(s)"),
            value: dot.relative_error,
            threshold: DOT_PRODUCT,
            note: format!("<M'dx,dy> = {:.6e}", dot.tangent_side),
        });
        rows.push(CheckRow {
            test: format!("AD dot product (absolute), {steps} step(s)"),
            value: dot.absolute_error,
            threshold: DOT_PRODUCT,
            note: "scaled by the norms".into(),
        });
        if p > 0 {
            let zero = vec![0.0; n];
            let dot = dot_product_test(model, x, &zero, &dp, &dy, steps)?;
            rows.push(CheckRow {
                test: format!("AD dot product (parameters), {steps} step(s)"),
                value: dot.relative_error,
                threshold: DOT_PRODUCT,
                note: String::new(),
            });
        }
    }

    // A quadratic misfit to the trajectory from a nearby start, observed every other step.
    let mut start = vec![0.0; n];
    add_scaled(x, 0.5, &random_vector(n, seed + 3), &mut start);
    let mut targets = Vec::with_capacity((window + 1) * n);
    integrate(model, &start, window, |_, s| targets.extend_from_slice(s))?;
    let active = (0..=window).map(|k| k % 2 == 0).collect();
    let cost = QuadraticMisfit::new(n, 1.0, targets, active);
    let full = value_and_gradient(model, x, window, &cost, Storage::All)?;
    // The direction ĝ + r̂ (unit gradient plus unit random vector): a purely random direction
    // in n dimensions is nearly orthogonal to ∇J (cosine about 1/√n), so ∇J·h is small and the
    // one-sided difference drowns in round-off for large states. Any error in the gradient
    // still shows, as ∇J_true·h ≠ ∇J·h.
    let h = {
        let r = random_vector(n, seed + 4);
        let (gn, rn) = (norm(&full.state_gradient), norm(&r));
        let g_part = if gn > 0.0 { 1.0 / gn } else { 0.0 };
        (full.state_gradient.iter().zip(&r))
            .map(|(g, r)| g * g_part + r / rn)
            .collect::<Vec<f64>>()
    };
    let grad = gradient_test(
        |x0| cost_value(model, x0, window, &cost),
        x,
        &full.state_gradient,
        &h,
    )?;
    rows.push(CheckRow {
        test: format!("gradient test dJ/dx0, {window} steps"),
        value: grad.best_error,
        threshold: GRADIENT,
        note: format!(
            "best alpha {:.1e}, direction gradient + random",
            grad.best_alpha
        ),
    });
    if p > 0 {
        let theta = model.params();
        let grad = gradient_test(
            |q| {
                let mut m = model.clone();
                m.set_params(q);
                cost_value(&m, x, window, &cost)
            },
            &theta,
            &full.param_gradient,
            &dp,
        )?;
        rows.push(CheckRow {
            test: format!("gradient test dJ/dtheta, {window} steps"),
            value: grad.best_error,
            threshold: GRADIENT,
            note: format!("best alpha {:.1e}", grad.best_alpha),
        });
    }
    let snapshots = 3;
    let checkpointed =
        value_and_gradient(model, x, window, &cost, Storage::Checkpoints(snapshots))?;
    let difference: Vec<f64> = checkpointed
        .state_gradient
        .iter()
        .zip(&full.state_gradient)
        .map(|(a, b)| a - b)
        .collect();
    rows.push(CheckRow {
        test: format!("checkpointing ({snapshots} snapshots) vs full storage"),
        value: norm(&difference) / norm(&full.state_gradient),
        threshold: CHECKPOINTING,
        note: format!(
            "{} forward steps instead of {window}",
            checkpointed.forward_steps
        ),
    });
    Ok(rows)
}
