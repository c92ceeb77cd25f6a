//! Minimisation of the 4D-Var cost with the core's minimisation driver (argmin L-BFGS, CG or
//! steepest descent), with J, J_b, J_o and ‖∇J‖ recorded at every iteration.

use crate::core::minimize::{self, Objective, Progress};
use crate::core::Dynamics;
use crate::error::{Error, Result};
use crate::progress::{detail, iteration_bar};

use super::cost::{Evaluation, FourDVar};

pub use crate::core::minimize::{Minimizer, StoppingRule};

/// Diagnostics of one iteration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IterationRecord {
    /// Iteration number (0 = the first guess).
    pub iteration: u64,
    /// J.
    pub cost: f64,
    /// J_b.
    pub background_cost: f64,
    /// J_o.
    pub observation_cost: f64,
    /// ‖∇_u J‖ in the control space.
    pub gradient_norm: f64,
}

/// What a minimisation returns.
#[derive(Clone, Debug)]
pub struct MinimizationOutcome {
    /// The control vector with the lowest J found.
    pub control: Vec<f64>,
    /// J and its gradient there.
    pub evaluation: Evaluation,
    /// One record per iteration, starting with the first guess.
    pub iterations: Vec<IterationRecord>,
    /// Why the minimiser stopped, in words.
    pub stop_reason: String,
    /// Whether it stopped on a convergence test (gradient or cost change).
    pub converged: bool,
    /// Whether a signal (Ctrl-C) stopped it.
    pub interrupted: bool,
    /// Evaluations of J (each with its gradient: one forward and one backward sweep).
    pub cost_evaluations: u64,
}

impl<D: Dynamics + Clone> Objective for FourDVar<D> {
    fn value_and_gradient(&self, u: &[f64]) -> Result<(f64, Vec<f64>)> {
        let e = self.evaluate(u)?;
        Ok((e.cost, e.gradient))
    }
}

/// Minimises the 4D-Var cost from control `start` and returns the best iterate found, even when
/// the minimiser stops early or fails inside a line search (with the reason). Fails when the
/// model blows up at the first guess, or when J was not decreased at all although its
/// gradient is not zero.
pub fn minimize<D: Dynamics + Clone>(
    problem: &FourDVar<D>,
    start: Vec<f64>,
    minimizer: Minimizer,
    rule: StoppingRule,
) -> Result<MinimizationOutcome> {
    let mut iterations = Vec::new();
    let bar = iteration_bar(rule.max_iterations, "minimising");
    let mut record = |p: &Progress| {
        let (background_cost, model_error_cost) = problem.prior_terms(p.control);
        let observation_cost = p.cost - background_cost - model_error_cost;
        bar.set_position(p.iteration);
        bar.set_message(format!(
            "J {:.4e}, |grad J| {:.2e}",
            p.cost, p.gradient_norm
        ));
        detail(|| {
            format!(
                "iteration {}: J = {:.6e} (J_b {background_cost:.6e}, J_o {observation_cost:.6e}), \
                 |grad J| = {:.3e}",
                p.iteration, p.cost, p.gradient_norm
            )
        });
        iterations.push(IterationRecord {
            iteration: p.iteration,
            cost: p.cost,
            background_cost,
            observation_cost,
            gradient_norm: p.gradient_norm,
        });
    };
    let m = minimize::minimize(problem, start, minimizer, rule, &mut record);
    bar.finish_and_clear();
    let m = m?;
    if m.cost >= m.first_cost && m.first_gradient_norm > 0.0 && !m.interrupted {
        return Err(Error::numerical(
            format!("the {} minimiser", minimizer.name()),
            format!(
                "did not decrease J from {:.6e} ({})",
                m.first_cost, m.stop_reason
            ),
        ));
    }
    // One more sweep at the best point, for its J_b, J_o and gradient.
    let evaluation = problem.evaluate(&m.control)?;
    Ok(MinimizationOutcome {
        control: m.control,
        evaluation,
        iterations,
        stop_reason: m.stop_reason,
        converged: m.converged,
        interrupted: m.interrupted,
        cost_evaluations: problem.sweeps(),
    })
}
