//! The one minimisation driver of the code base, used by 4D-Var and by RNN training: argmin's
//! L-BFGS (More–Thuente line search), Polak–Ribière nonlinear CG or steepest descent over any
//! [`Objective`] whose gradient is computed by hand (by the adjoint sweep), with a stopping
//! rule, a report of every iteration, and the best point found kept even when the minimiser
//! fails inside a line search.

use std::cell::{Cell, RefCell};

use argmin::core::{
    CostFunction, Executor, Gradient, IterState, Problem, Solver, State, TerminationReason,
    TerminationStatus, KV,
};
use argmin::solver::conjugategradient::{beta::PolakRibiere, NonlinearConjugateGradient};
use argmin::solver::gradientdescent::SteepestDescent;
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;

use super::choice::choice_name;
use super::vector::norm;
use crate::error::{Error, Result};
use crate::interrupt;

/// A function to minimise with its hand-computed gradient.
pub trait Objective {
    /// J(u) and ∇J(u).
    fn value_and_gradient(&self, u: &[f64]) -> Result<(f64, Vec<f64>)>;
}

/// The minimisation algorithm.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
#[value(rename_all = "kebab-case")]
pub enum Minimizer {
    /// Limited-memory BFGS (7 pairs) with a More–Thuente line search.
    Lbfgs,
    /// Nonlinear conjugate gradient, Polak–Ribière β, More–Thuente line search.
    #[serde(rename = "cg")]
    #[value(name = "cg")]
    ConjugateGradient,
    /// Steepest descent with a More–Thuente line search.
    SteepestDescent,
}

impl Minimizer {
    /// The name in files and on the command line: "lbfgs", "cg" or "steepest-descent".
    pub fn name(self) -> String {
        choice_name(&self)
    }
}

/// When to stop.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StoppingRule {
    /// Most iterations.
    pub max_iterations: u64,
    /// Stop when ‖∇J‖ ≤ this × ‖∇J‖ at the first iterate.
    pub gradient_tolerance: f64,
    /// Stop when |J_k − J_{k−1}| < this × |J_k| (0 disables the test).
    pub relative_cost_tolerance: f64,
}

impl Default for StoppingRule {
    fn default() -> Self {
        Self {
            max_iterations: 500,
            gradient_tolerance: 1e-6,
            relative_cost_tolerance: 1e-12,
        }
    }
}

/// One iteration as reported to the caller.
#[derive(Clone, Copy, Debug)]
pub struct Progress<'a> {
    /// Iteration number (0 = the first guess).
    pub iteration: u64,
    /// The control vector u of the iterate.
    pub control: &'a [f64],
    /// J(u).
    pub cost: f64,
    /// ‖∇J(u)‖.
    pub gradient_norm: f64,
}

/// What a minimisation returns.
#[derive(Clone, Debug)]
pub struct Minimum {
    /// The control vector with the lowest J found.
    pub control: Vec<f64>,
    /// J there.
    pub cost: f64,
    /// J at the start.
    pub first_cost: f64,
    /// ‖∇J‖ at the start.
    pub first_gradient_norm: f64,
    /// Why the minimiser stopped, in words.
    pub stop_reason: String,
    /// Whether it stopped on a convergence test (gradient or cost change).
    pub converged: bool,
    /// Whether a signal (Ctrl-C) stopped it ([`crate::interrupt`]).
    pub interrupted: bool,
    /// Evaluations of J with its gradient.
    pub evaluations: u64,
}

type Param = Vec<f64>;
type Iterate = IterState<Param, Param, (), (), (), f64>;

/// The argmin view of an objective over the rescaled control z = u / s, s = ‖∇J(u₀)‖^(−½):
/// the first trial step of a line search (a unit step along −∇_z J) is then a unit-length step
/// in u — without it, the first steepest-descent step is ‖∇J‖ long and throws a chaotic model
/// far off its attractor. L-BFGS and CG are invariant to a scalar rescaling after that step.
struct Scaled<'o, O: Objective> {
    objective: &'o O,
    scale: f64,
    /// Recent evaluations keyed by z, for a line search that revisits a point.
    cache: RefCell<Vec<(Param, f64, Param)>>,
    /// The lowest J evaluated and its u (owned by the caller, which outlives the executor).
    best: &'o RefCell<(Param, f64)>,
    evaluations: &'o Cell<u64>,
}

impl<O: Objective> Scaled<'_, O> {
    /// J and ∇_u J at z.
    fn evaluation(&self, z: &Param) -> std::result::Result<(f64, Param), argmin::core::Error> {
        if let Some((_, j, g)) = self.cache.borrow().iter().rev().find(|(p, _, _)| p == z) {
            return Ok((*j, g.clone()));
        }
        let u: Param = z.iter().map(|v| v * self.scale).collect();
        let (j, g) = self
            .objective
            .value_and_gradient(&u)
            .map_err(argmin::core::Error::new)?;
        self.evaluations.set(self.evaluations.get() + 1);
        let mut best = self.best.borrow_mut();
        if j.is_finite() && j < best.1 {
            *best = (u, j);
        }
        let mut cache = self.cache.borrow_mut();
        if cache.len() >= 8 {
            cache.remove(0);
        }
        cache.push((z.clone(), j, g.clone()));
        Ok((j, g))
    }
}

impl<O: Objective> CostFunction for Scaled<'_, O> {
    type Param = Param;
    type Output = f64;
    fn cost(&self, z: &Param) -> std::result::Result<f64, argmin::core::Error> {
        Ok(self.evaluation(z)?.0)
    }
}

impl<O: Objective> Gradient for Scaled<'_, O> {
    type Param = Param;
    type Gradient = Param;
    /// ∇_z J = s ∇_u J.
    fn gradient(&self, z: &Param) -> std::result::Result<Param, argmin::core::Error> {
        Ok(self
            .evaluation(z)?
            .1
            .iter()
            .map(|g| g * self.scale)
            .collect())
    }
}

/// Wraps an argmin solver with the stopping rule and reports each iteration.
struct Stopping<'r, S> {
    inner: S,
    rule: StoppingRule,
    scale: f64,
    first_gradient_norm: f64,
    report: &'r mut dyn FnMut(&Progress),
}

impl<O, S: Solver<O, Iterate>> Solver<O, Iterate> for Stopping<'_, S> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn init(
        &mut self,
        problem: &mut Problem<O>,
        state: Iterate,
    ) -> std::result::Result<(Iterate, Option<KV>), argmin::core::Error> {
        self.inner.init(problem, state)
    }

    fn next_iter(
        &mut self,
        problem: &mut Problem<O>,
        state: Iterate,
    ) -> std::result::Result<(Iterate, Option<KV>), argmin::core::Error> {
        self.inner.next_iter(problem, state)
    }

    fn terminate(&mut self, state: &Iterate) -> TerminationStatus {
        // ‖∇_u J‖ = ‖∇_z J‖ / s.
        let gradient_norm = state
            .get_gradient()
            .map_or(f64::NAN, |g| norm(g) / self.scale);
        if let Some(z) = state.get_param() {
            let u: Param = z.iter().map(|v| v * self.scale).collect();
            (self.report)(&Progress {
                iteration: state.get_iter(),
                control: &u,
                cost: state.get_cost(),
                gradient_norm,
            });
        }
        if interrupt::requested() {
            return TerminationStatus::Terminated(TerminationReason::Interrupt);
        }
        let inner = self.inner.terminate(state);
        if inner.terminated() {
            return inner;
        }
        let first = self.first_gradient_norm;
        if first == 0.0 {
            // 0/0 is no reduction factor: say what it means instead.
            return TerminationStatus::Terminated(TerminationReason::SolverExit(
                "the gradient is zero at the start: J is stationary there".into(),
            ));
        }
        if gradient_norm <= self.rule.gradient_tolerance * first {
            return TerminationStatus::Terminated(TerminationReason::SolverExit(format!(
                "gradient norm reduced by a factor {:.1e} (tolerance {:.0e})",
                gradient_norm / first,
                self.rule.gradient_tolerance
            )));
        }
        let (cost, previous) = (state.get_cost(), state.get_prev_cost());
        if state.get_iter() > 0
            && previous.is_finite()
            && (previous - cost).abs() < self.rule.relative_cost_tolerance * cost.abs()
        {
            return TerminationStatus::Terminated(TerminationReason::SolverExit(format!(
                "relative change of J below {:.0e}",
                self.rule.relative_cost_tolerance
            )));
        }
        TerminationStatus::NotTerminated
    }
}

/// Minimises `objective` from `start`, calling `report` at every iterate, and returns the best
/// point found — also when the minimiser stops early or fails inside a line search (the
/// reason says so). Fails only when J or its gradient cannot be evaluated at `start`.
pub fn minimize<O: Objective>(
    objective: &O,
    start: Vec<f64>,
    minimizer: Minimizer,
    rule: StoppingRule,
    report: &mut dyn FnMut(&Progress),
) -> Result<Minimum> {
    if !(rule.gradient_tolerance >= 0.0 && rule.relative_cost_tolerance >= 0.0) {
        return Err(Error::invalid("tolerance", "tolerances must be >= 0"));
    }
    let (first_cost, first_gradient) = objective.value_and_gradient(&start)?;
    let first_gradient_norm = norm(&first_gradient);
    let scale = if first_gradient_norm > 0.0 && first_gradient_norm.is_finite() {
        first_gradient_norm.powf(-0.5)
    } else {
        1.0
    };
    let best = RefCell::new((start.clone(), first_cost));
    let evaluations = Cell::new(1);
    let scaled = Scaled {
        objective,
        scale,
        cache: RefCell::new(Vec::new()),
        best: &best,
        evaluations: &evaluations,
    };
    let z0: Param = start.iter().map(|u| u / scale).collect();
    let configure = |state: Iterate| state.param(z0.clone()).max_iters(rule.max_iterations);
    // The first Ctrl-C ends the minimisation like a stopping rule (checked once per iterate).
    let _graceful = interrupt::graceful();
    let line_search = MoreThuenteLineSearch::new();
    fn wrap<'r, S>(
        inner: S,
        rule: StoppingRule,
        scale: f64,
        first_gradient_norm: f64,
        report: &'r mut dyn FnMut(&Progress),
    ) -> Stopping<'r, S> {
        Stopping {
            inner,
            rule,
            scale,
            first_gradient_norm,
            report,
        }
    }
    // The solvers differ in type only: one executor run each.
    macro_rules! run_with {
        ($solver:expr) => {
            Executor::new(
                scaled,
                wrap($solver, rule, scale, first_gradient_norm, report),
            )
            .configure(configure)
            .run()
            .map(|r| termination_text(r.state()))
        };
    }
    let run = match minimizer {
        Minimizer::Lbfgs => run_with!(LBFGS::new(line_search, 7)
            .with_tolerance_grad(0.0)
            .and_then(|s| s.with_tolerance_cost(0.0))
            .map_err(|e| Error::invalid("minimizer", e.to_string()))?),
        Minimizer::ConjugateGradient => run_with!(NonlinearConjugateGradient::new(
            line_search,
            PolakRibiere::new()
        )
        .restart_iters(50)
        .restart_orthogonality(0.1)),
        Minimizer::SteepestDescent => run_with!(SteepestDescent::new(line_search)),
    };
    // A failure inside a line search (including a trial point where the model blows up)
    // ends the minimisation; the best point so far is still the answer.
    let (stop_reason, converged) =
        run.unwrap_or_else(|e| (format!("the minimiser stopped: {e}"), false));
    let interrupted = interrupt::requested();
    let (control, cost) = best.into_inner();
    Ok(Minimum {
        control,
        cost,
        first_cost,
        first_gradient_norm,
        stop_reason,
        converged,
        interrupted,
        evaluations: evaluations.get(),
    })
}

/// The stopping reason in words and whether it means convergence.
fn termination_text(state: &Iterate) -> (String, bool) {
    match state.get_termination_reason() {
        Some(TerminationReason::SolverExit(text)) => (text.clone(), true),
        Some(TerminationReason::SolverConverged) => ("converged".into(), true),
        Some(TerminationReason::Interrupt) => ("interrupted".into(), false),
        Some(TerminationReason::MaxItersReached) => {
            ("maximum number of iterations reached".into(), false)
        }
        Some(other) => (other.text().to_string(), false),
        None => ("stopped".into(), false),
    }
}
