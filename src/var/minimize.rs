//! Minimisation of the 4D-Var cost with argmin: L-BFGS with a More–Thuente line search
//! (default), Polak–Ribière nonlinear conjugate gradient, or steepest descent, stopped on the
//! gradient norm, the relative change of J or the iteration count.

use std::cell::RefCell;
use std::rc::Rc;

use argmin::core::{
    CostFunction, Executor, Gradient, IterState, Problem, Solver, State, TerminationReason,
    TerminationStatus, KV,
};
use argmin::solver::conjugategradient::{beta::PolakRibiere, NonlinearConjugateGradient};
use argmin::solver::gradientdescent::SteepestDescent;
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;

use crate::core::vector::norm;
use crate::core::Dynamics;
use crate::error::{Error, Result};

use super::cost::{Evaluation, FourDVar};

/// The minimisation algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Minimizer {
    /// Limited-memory BFGS (7 pairs) with a More–Thuente line search.
    Lbfgs,
    /// Nonlinear conjugate gradient, Polak–Ribière β, More–Thuente line search.
    ConjugateGradient,
    /// Steepest descent with a More–Thuente line search.
    SteepestDescent,
}

impl Minimizer {
    /// All minimisers with their command-line names.
    pub const ALL: [(Minimizer, &'static str); 3] = [
        (Minimizer::Lbfgs, "lbfgs"),
        (Minimizer::ConjugateGradient, "cg"),
        (Minimizer::SteepestDescent, "steepest-descent"),
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(m, _)| *m == self)
            .map(|(_, n)| *n)
            .unwrap_or("lbfgs")
    }
}

impl std::str::FromStr for Minimizer {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Self::ALL
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(m, _)| *m)
            .ok_or_else(|| {
                format!("unknown minimizer '{s}' (expected lbfgs, cg or steepest-descent)")
            })
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
    /// Evaluations of J (each with its gradient: one forward and one backward sweep).
    pub cost_evaluations: u64,
}

type Param = Vec<f64>;
type Iterate = IterState<Param, Param, (), (), (), f64>;

/// Every evaluation's J and gradient (keyed by the minimiser's scaled control z), the best
/// one (keyed by the control u) and the iteration records.
#[derive(Default)]
struct Log {
    evaluations: Vec<(Param, Evaluation)>,
    best: Option<(Param, Evaluation)>,
    iterations: Vec<IterationRecord>,
}

/// The argmin view of a 4D-Var problem, over the rescaled control z = u / s. The scalar s
/// = ‖∇J(u₀)‖^(−½) makes the first trial step of every line search (a unit step along −∇_z J)
/// a unit-length step in u: without it, the first steepest-descent step is ‖∇J‖ long and
/// throws the model far off its attractor. Quasi-Newton and CG iterations are invariant to a
/// scalar rescaling after the first step, so nothing else changes.
struct Objective<'p, D: Dynamics + Clone> {
    problem: &'p FourDVar<D>,
    log: Rc<RefCell<Log>>,
    scale: f64,
}

impl<D: Dynamics + Clone> Objective<'_, D> {
    /// J and ∇_u J at z, from the cache when the line search revisits a point.
    fn evaluation(&self, z: &Param) -> std::result::Result<Evaluation, argmin::core::Error> {
        if let Some((_, e)) = self
            .log
            .borrow()
            .evaluations
            .iter()
            .rev()
            .find(|(p, _)| p == z)
        {
            return Ok(e.clone());
        }
        let u: Param = z.iter().map(|v| v * self.scale).collect();
        let e = self
            .problem
            .evaluate(&u)
            .map_err(argmin::core::Error::new)?;
        let mut log = self.log.borrow_mut();
        if log.best.as_ref().is_none_or(|(_, b)| e.cost < b.cost) {
            log.best = Some((u, e.clone()));
        }
        // A line search revisits only recent points; keep the cache short.
        if log.evaluations.len() >= 8 {
            log.evaluations.remove(0);
        }
        log.evaluations.push((z.clone(), e.clone()));
        Ok(e)
    }
}

impl<D: Dynamics + Clone> CostFunction for Objective<'_, D> {
    type Param = Param;
    type Output = f64;
    fn cost(&self, z: &Param) -> std::result::Result<f64, argmin::core::Error> {
        Ok(self.evaluation(z)?.cost)
    }
}

impl<D: Dynamics + Clone> Gradient for Objective<'_, D> {
    type Param = Param;
    type Gradient = Param;
    /// ∇_z J = s ∇_u J.
    fn gradient(&self, z: &Param) -> std::result::Result<Param, argmin::core::Error> {
        Ok(self
            .evaluation(z)?
            .gradient
            .iter()
            .map(|g| g * self.scale)
            .collect())
    }
}

/// Wraps an argmin solver with the stopping rule and records each iteration.
struct Stopping<S> {
    inner: S,
    rule: StoppingRule,
    scale: f64,
    first_gradient_norm: Option<f64>,
    log: Rc<RefCell<Log>>,
}

impl<O, S: Solver<O, Iterate>> Solver<O, Iterate> for Stopping<S> {
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
        let first = *self.first_gradient_norm.get_or_insert(gradient_norm);
        {
            let mut log = self.log.borrow_mut();
            let cost = state.get_cost();
            let background_cost = state
                .get_param()
                .and_then(|p| log.evaluations.iter().rev().find(|(q, _)| q == p))
                .map_or(f64::NAN, |(_, e)| e.background_cost);
            log.iterations.push(IterationRecord {
                iteration: state.get_iter(),
                cost,
                background_cost,
                observation_cost: cost - background_cost,
                gradient_norm,
            });
        }
        let inner = self.inner.terminate(state);
        if inner.terminated() {
            return inner;
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
    if !(rule.gradient_tolerance >= 0.0 && rule.relative_cost_tolerance >= 0.0) {
        return Err(Error::invalid("tolerance", "tolerances must be >= 0"));
    }
    let first = problem.evaluate(&start)?;
    let first_norm = norm(&first.gradient);
    let scale = if first_norm > 0.0 && first_norm.is_finite() {
        first_norm.powf(-0.5)
    } else {
        1.0
    };
    let log = Rc::new(RefCell::new(Log::default()));
    let objective = Objective {
        problem,
        log: log.clone(),
        scale,
    };
    let z0: Param = start.iter().map(|u| u / scale).collect();
    fn wrap<S>(inner: S, rule: StoppingRule, scale: f64, log: &Rc<RefCell<Log>>) -> Stopping<S> {
        Stopping {
            inner,
            rule,
            scale,
            first_gradient_norm: None,
            log: log.clone(),
        }
    }
    let configure = |state: Iterate| state.param(z0.clone()).max_iters(rule.max_iterations);
    let line_search = MoreThuenteLineSearch::new();
    let run = match minimizer {
        Minimizer::Lbfgs => {
            let solver = LBFGS::new(line_search, 7)
                .with_tolerance_grad(0.0)
                .and_then(|s| s.with_tolerance_cost(0.0))
                .map_err(|e| Error::invalid("minimizer", e.to_string()))?;
            Executor::new(objective, wrap(solver, rule, scale, &log))
                .configure(configure)
                .run()
                .map(|r| termination_text(r.state()))
        }
        Minimizer::ConjugateGradient => {
            let solver = NonlinearConjugateGradient::new(line_search, PolakRibiere::new())
                .restart_iters(50)
                .restart_orthogonality(0.1);
            Executor::new(objective, wrap(solver, rule, scale, &log))
                .configure(configure)
                .run()
                .map(|r| termination_text(r.state()))
        }
        Minimizer::SteepestDescent => {
            let solver = SteepestDescent::new(line_search);
            Executor::new(objective, wrap(solver, rule, scale, &log))
                .configure(configure)
                .run()
                .map(|r| termination_text(r.state()))
        }
    };
    // A failure inside a line search (including a trial point where the model blows up)
    // ends the minimisation; the best iterate so far is still the answer.
    let (stop_reason, converged) =
        run.unwrap_or_else(|e| (format!("the minimiser stopped: {e}"), false));
    let mut log = std::mem::take(&mut *log.borrow_mut());
    let (control, evaluation) = log.best.take().unwrap_or((start, first.clone()));
    if evaluation.cost >= first.cost && first_norm > 0.0 {
        return Err(Error::invalid(
            "minimisation",
            format!(
                "the {} minimiser did not decrease J from {:.6e} ({stop_reason})",
                minimizer.name(),
                first.cost
            ),
        ));
    }
    Ok(MinimizationOutcome {
        control,
        evaluation,
        iterations: log.iterations,
        stop_reason,
        converged,
        cost_evaluations: problem.sweeps(),
    })
}

/// The stopping reason in words and whether it means convergence.
fn termination_text(state: &Iterate) -> (String, bool) {
    match state.get_termination_reason() {
        Some(TerminationReason::SolverExit(text)) => (text.clone(), true),
        Some(TerminationReason::SolverConverged) => ("converged".into(), true),
        Some(TerminationReason::MaxItersReached) => {
            ("maximum number of iterations reached".into(), false)
        }
        Some(other) => (other.text().to_string(), false),
        None => ("stopped".into(), false),
    }
}
