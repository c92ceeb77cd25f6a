//! Incremental (Gauss–Newton) strong-constraint 4D-Var in control space: outer loops that
//! relinearise around the current control, inner loops that minimise the quadratic model of J
//! with the Gauss–Newton Hessian ([`super::gauss_newton`]) by conjugate gradients or Lanczos
//! ([`super::krylov`]).
//!
//! At outer loop ℓ, with control v and gradient g = ∇J(v) (one adjoint sweep), the inner loop
//! minimises q(δv) = J(v) + gᵀδv + ½ δvᵀ A δv, i.e. solves A δv = −g, where A is the
//! Gauss–Newton Hessian at v; then v ← v + δv. This is the increment form of the issue's
//! J(δv) = ½‖v + δv‖² + ½Σ_k‖d_k − H_k M_k B^½ δv‖²_{R⁻¹} up to a constant. On a linear model
//! with linear H, q is J itself and one outer loop converged to round-off is the BLUE.

use crate::core::vector::{axpy, norm};
use crate::core::Dynamics;
use crate::error::{Error, Result};
use crate::interrupt;
use crate::progress::{detail, iteration_bar};

use super::gauss_newton::hessian_vector_product;
use super::krylov::{conjugate_gradient, lanczos, InnerLoopSettings, InnerSolution};
use super::spectral_preconditioner::SpectralPreconditioner;
use super::{Evaluation, FourDVar};

/// A rise of J below this fraction of J is round-off: the outer loops have converged.
const ROUND_OFF: f64 = 1e-12;

/// The shortest fraction of a Gauss–Newton step tried before the outer loops give up.
const MIN_STEP_LENGTH: f64 = 1.0 / 32.0;

/// The inner solver.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
#[value(rename_all = "kebab-case")]
pub enum InnerSolver {
    /// Conjugate gradients.
    #[serde(rename = "cg")]
    #[value(name = "cg")]
    ConjugateGradient,
    /// Lanczos with full reorthogonalisation: CG's iterates, plus the Hessian's Ritz pairs.
    Lanczos,
}

/// How to run incremental 4D-Var.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IncrementalSettings {
    /// Most outer loops (relinearisations).
    pub outer_loops: usize,
    /// When each inner loop stops.
    pub inner: InnerLoopSettings,
    /// The inner solver.
    pub solver: InnerSolver,
    /// Precondition each inner loop with the converged Ritz pairs of the previous ones
    /// ([`SpectralPreconditioner`]; needs Lanczos).
    pub spectral_preconditioner: bool,
    /// Stop the outer loops when ‖∇J‖ ≤ this × ‖∇J‖ at the first guess.
    pub gradient_tolerance: f64,
}

/// What one outer loop did.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct OuterLoopRecord {
    /// J (nonlinear) at the linearisation point.
    pub cost: f64,
    /// Its background term J_b.
    pub background_cost: f64,
    /// ‖∇J‖ at the linearisation point.
    pub gradient_norm: f64,
    /// q at each inner iterate, from q(0) = J onwards (decreasing in exact arithmetic).
    pub quadratic_costs: Vec<f64>,
    /// Inner iterations taken (one tangent-linear run and one adjoint sweep each).
    pub inner_iterations: usize,
    /// ‖A δv + g‖ / ‖g‖ at the end of the inner loop (in the preconditioned variable when
    /// preconditioned).
    pub residual_reduction: f64,
    /// Ritz pairs in the preconditioner this loop ran with.
    pub preconditioner_pairs: usize,
    /// The fraction of the Gauss–Newton step taken (1 unless J rose along the full step).
    pub step_length: f64,
}

impl OuterLoopRecord {
    /// q at the inner minimum.
    pub fn final_quadratic_cost(&self) -> f64 {
        self.quadratic_costs.last().copied().unwrap_or(self.cost)
    }
}

/// What incremental 4D-Var returns.
#[derive(Clone, Debug)]
pub struct IncrementalOutcome {
    /// The analysis control.
    pub control: Vec<f64>,
    /// J and its gradient there.
    pub evaluation: Evaluation,
    /// One record per outer loop run.
    pub records: Vec<OuterLoopRecord>,
    /// Why the outer loops stopped, in words.
    pub stop_reason: String,
    /// Whether they stopped on the gradient test.
    pub converged: bool,
    /// Whether a signal (Ctrl-C) stopped them.
    pub interrupted: bool,
    /// Nonlinear forward runs with an adjoint sweep (one per linearisation point).
    pub gradient_sweeps: u64,
    /// Tangent-linear runs, each followed by an adjoint sweep (one per inner iteration).
    pub hessian_products: u64,
}

/// Runs incremental 4D-Var from control `v0`. The problem must work in the transformed
/// control space without estimated parameters (as the Hessian product). A Gauss–Newton step
/// that raises J (a window too nonlinear for the quadratic model) is halved until J falls; when
/// 1/32 of it still does not, the outer loops end keeping the control before (an error at the
/// first loop).
pub fn incremental_4dvar<D: Dynamics + Clone>(
    problem: &FourDVar<D>,
    v0: &[f64],
    settings: &IncrementalSettings,
) -> Result<IncrementalOutcome> {
    if settings.spectral_preconditioner && settings.solver != InnerSolver::Lanczos {
        return Err(Error::invalid(
            "spectral preconditioner",
            "needs the Lanczos inner solver (its Ritz pairs make the preconditioner)",
        ));
    }
    let _graceful = interrupt::graceful();
    let bar = iteration_bar(settings.outer_loops as u64, "outer loops");
    let mut v = v0.to_vec();
    let mut evaluation = problem.evaluate(&v)?;
    let first_norm = norm(&evaluation.gradient);
    let mut preconditioner = SpectralPreconditioner::new();
    let mut records = Vec::with_capacity(settings.outer_loops);
    let (mut gradient_sweeps, mut hessian_products) = (1, 0);
    let mut stop = None;
    for loop_index in 0..settings.outer_loops {
        let g_norm = norm(&evaluation.gradient);
        if g_norm <= settings.gradient_tolerance * first_norm {
            stop = Some((
                format!(
                    "|grad J| fell to {g_norm:.3e}, below {:.1e} of its first value",
                    settings.gradient_tolerance
                ),
                true,
            ));
            break;
        }
        if interrupt::requested() {
            break;
        }
        let pairs = preconditioner.pairs();
        let solution = inner_loop(problem, &v, &evaluation, &preconditioner, settings)?;
        hessian_products += solution.iterations as u64;
        let step = preconditioner.apply(&solution.step);
        if settings.spectral_preconditioner {
            preconditioner.append(&solution.ritz);
        }
        let record = OuterLoopRecord {
            cost: evaluation.cost,
            background_cost: evaluation.background_cost,
            gradient_norm: g_norm,
            inner_iterations: solution.iterations,
            residual_reduction: solution.residual_reduction,
            quadratic_costs: solution.quadratic_costs,
            preconditioner_pairs: pairs,
            step_length: 1.0,
        };
        detail(|| {
            format!(
                "outer loop {}: J = {:.6e}, |grad J| = {g_norm:.3e}, {} inner iterations \
                 ({pairs} Ritz pairs preconditioning), q at the inner minimum {:.6e}",
                loop_index + 1,
                record.cost,
                record.inner_iterations,
                record.final_quadratic_cost()
            )
        });
        records.push(record);
        // Backtracking along the Gauss–Newton step (a globalised Gauss–Newton): a window
        // too nonlinear for the quadratic model gets a shorter step instead of a higher J.
        let mut step_length = 1.0;
        let accepted = loop {
            let mut next = v.clone();
            axpy(step_length, &step, &mut next);
            gradient_sweeps += 1;
            // An error here is the model blowing up along a long step: shorten it.
            let trial = problem.evaluate(&next).ok();
            let rise = trial
                .as_ref()
                .map_or(f64::NAN, |e| e.cost - evaluation.cost);
            if let (Some(trial), true) = (trial, rise <= 0.0) {
                break Some((next, trial));
            }
            if step_length == 1.0 && rise <= ROUND_OFF * evaluation.cost.abs() {
                stop = Some((
                    format!(
                        "J stopped decreasing at {:.9e} (outer loop {} changed it at round-off)",
                        evaluation.cost,
                        loop_index + 1
                    ),
                    true,
                ));
                break None;
            }
            if step_length <= MIN_STEP_LENGTH {
                let reason = format!(
                    "outer loop {}: no step along the Gauss-Newton direction, down to {} of \
                     it, lowered J from {:.6e} (the window is too nonlinear for the quadratic \
                     model: try a shorter window or --algorithm nonlinear)",
                    loop_index + 1,
                    MIN_STEP_LENGTH,
                    evaluation.cost
                );
                if loop_index == 0 {
                    bar.finish_and_clear();
                    return Err(Error::numerical("incremental 4D-Var", reason));
                }
                stop = Some((
                    format!("{reason}; keeping the analysis of the loop before"),
                    false,
                ));
                break None;
            }
            step_length *= 0.5;
        };
        if let Some(record) = records.last_mut() {
            record.step_length = step_length;
        }
        bar.set_position(loop_index as u64 + 1);
        let Some((next, next_evaluation)) = accepted else {
            break;
        };
        bar.set_message(format!("J {:.4e}", next_evaluation.cost));
        v = next;
        evaluation = next_evaluation;
    }
    bar.finish_and_clear();
    let interrupted = interrupt::requested();
    let (stop_reason, converged) = stop.unwrap_or_else(|| {
        if interrupted {
            ("interrupted".into(), false)
        } else {
            (format!("ran the {} outer loops", records.len()), false)
        }
    });
    Ok(IncrementalOutcome {
        control: v,
        evaluation,
        records,
        stop_reason,
        converged,
        interrupted,
        gradient_sweeps,
        hessian_products,
    })
}

/// One inner loop at control `v` (evaluated as `evaluation`) on the preconditioned system
/// (Fᵀ A F) w = −Fᵀ g; returns the solution in w.
fn inner_loop<D: Dynamics + Clone>(
    problem: &FourDVar<D>,
    v: &[f64],
    evaluation: &Evaluation,
    preconditioner: &SpectralPreconditioner,
    settings: &IncrementalSettings,
) -> Result<InnerSolution> {
    let hessian = |w: &[f64]| -> Result<Vec<f64>> {
        let product = hessian_vector_product(problem, v, &preconditioner.apply(w))?;
        Ok(preconditioner.adjoint_apply(&product))
    };
    let g = preconditioner.adjoint_apply(&evaluation.gradient);
    match settings.solver {
        InnerSolver::ConjugateGradient => {
            conjugate_gradient(hessian, &g, evaluation.cost, settings.inner)
        }
        InnerSolver::Lanczos => lanczos(hessian, &g, evaluation.cost, settings.inner),
    }
}
