//! The one adjoint sweep. A forward sweep runs x_{k+1} = M_k(x_k) and adds up
//! J = Σ_k J_k(x_k); one backward sweep carries
//!
//!   λ_k = (∂M_k/∂x_k)ᵀ λ_{k+1} + ∂J_k/∂x_k,   λ_l = ∂J_l/∂x_l,
//!
//! back to step 0, accumulating θ̄ = Σ_k (∂M_k/∂θ)ᵀ λ_{k+1} and ū_k = (∂M_k/∂u_k)ᵀ λ_{k+1}.
//! Then ∂J/∂x_0 = λ_0 and ∂J/∂θ = θ̄. 4D-Var and back-propagation through time both call
//! [`value_and_gradient`]; nothing else in the code base runs an adjoint loop over time.

use super::checkpointing::best_split;
use super::dynamics::{AdjointOutputs, Dynamics, StageCost, TangentInputs};
use super::vector::all_finite;
use crate::error::{Error, Result};

/// How the forward trajectory is kept for the backward sweep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    /// Keep every state x_0..x_l: memory (l+1)·n; each adjoint step recomputes what it needs
    /// of its forward step (for RK4 the stages s₂, s₃, s₄).
    All,
    /// Keep every state and every step's tape ([`Dynamics::tape_len`], for RK4 the three
    /// stages): memory (l+1)·n + l·tape, about 4× [`Storage::All`] for RK4, and the adjoint
    /// steps recompute nothing. Same operations in the same order as [`Storage::All`], so the
    /// same results bit for bit.
    Stages,
    /// Binomial (Revolve-optimal) checkpointing with at most this many stored states
    /// (counting x_0): memory O(snapshots · n), forward recomputation as small as possible.
    Checkpoints(usize),
}

impl Storage {
    /// The number of values the sweep keeps for `steps` steps of `model`:
    /// (l+1)·n for [`Storage::All`], (l+1)·n + l·tape for [`Storage::Stages`] and
    /// min(S, l)·n for S checkpoints.
    pub fn stored_values<D: Dynamics>(self, model: &D, steps: usize) -> usize {
        let n = model.state_len();
        match self {
            Storage::All => (steps + 1) * n,
            Storage::Stages => (steps + 1) * n + steps * model.tape_len(),
            Storage::Checkpoints(snapshots) => snapshots.min(steps.max(1)) * n,
        }
    }
}

/// The cost and every gradient returned by one sweep.
#[derive(Clone, Debug)]
pub struct SweepResult {
    /// J = Σ_k J_k(x_k).
    pub cost: f64,
    /// ∂J/∂x_0.
    pub state_gradient: Vec<f64>,
    /// ∂J/∂θ, the model parameters (empty from a sweeper made
    /// [`Sweeper::without_param_gradient`]).
    pub param_gradient: Vec<f64>,
    /// ∂J/∂p, the stage cost's own parameters.
    pub cost_param_gradient: Vec<f64>,
    /// ∂J/∂u_k for every step, row-major (steps × input_len); empty for undriven models.
    pub input_gradient: Vec<f64>,
    /// The number of forward model steps taken (l with full storage; more with checkpoints).
    pub forward_steps: u64,
}

/// Takes one forward step and reports a non-finite result, naming the step it produced.
fn checked_step<D: Dynamics>(
    model: &D,
    ws: &mut D::Workspace,
    k: usize,
    x: &[f64],
    x_next: &mut [f64],
) -> Result<()> {
    model.step(ws, k, x, x_next);
    finite_state(k, x_next)
}

/// Reports a non-finite x_{k+1}, naming step k + 1.
fn finite_state(k: usize, x_next: &[f64]) -> Result<()> {
    if all_finite(x_next) {
        Ok(())
    } else {
        Err(Error::NonFinite {
            step: k + 1,
            context: String::new(),
        })
    }
}

/// Runs `steps` forward steps from `x0`, calling `visit(k, x_k)` for k = 0..=steps, and
/// returns x_steps. Fails at the first non-finite state, naming its step.
pub fn integrate<D: Dynamics>(
    model: &D,
    x0: &[f64],
    steps: usize,
    mut visit: impl FnMut(usize, &[f64]),
) -> Result<Vec<f64>> {
    let mut ws = model.workspace();
    let mut x = x0.to_vec();
    let mut next = vec![0.0; x.len()];
    visit(0, &x);
    for k in 0..steps {
        checked_step(model, &mut ws, k, &x, &mut next)?;
        std::mem::swap(&mut x, &mut next);
        visit(k + 1, &x);
    }
    Ok(x)
}

/// J = Σ_k J_k(x_k) along the trajectory from `x0`, without any gradient.
pub fn cost_value<D: Dynamics, C: StageCost>(
    model: &D,
    x0: &[f64],
    steps: usize,
    cost: &C,
) -> Result<f64> {
    let mut total = 0.0;
    integrate(model, x0, steps, |k, x| {
        if cost.is_active(k) {
            total += cost.value(k, x);
        }
    })?;
    Ok(total)
}

/// Propagates a perturbation with the tangent-linear model along the trajectory from `x0`:
/// δx_{k+1} = ∂M_k/∂x δx_k + ∂M_k/∂θ δθ + ∂M_k/∂u δu_k, and returns δx_steps. `dinputs` is
/// row-major (steps × input_len), or empty for no input perturbation.
pub fn tangent_linear_run<D: Dynamics>(
    model: &D,
    x0: &[f64],
    dx0: &[f64],
    dparams: &[f64],
    dinputs: &[f64],
    steps: usize,
) -> Result<Vec<f64>> {
    tangent_linear_trajectory(model, x0, dx0, dparams, dinputs, steps, |_, _, _| {})
}

/// [`tangent_linear_run`], calling `on_step(k, x_k, δx_k)` at every step k = 0..=steps (the
/// state and the perturbation at the same time), as an incremental cost reads δx at each
/// observation time.
pub fn tangent_linear_trajectory<D: Dynamics>(
    model: &D,
    x0: &[f64],
    dx0: &[f64],
    dparams: &[f64],
    dinputs: &[f64],
    steps: usize,
    mut on_step: impl FnMut(usize, &[f64], &[f64]),
) -> Result<Vec<f64>> {
    let m = model.input_len();
    if !dinputs.is_empty() && dinputs.len() != steps * m {
        return Err(Error::invalid(
            "input perturbation",
            format!(
                "has {} values, {steps} steps × {m} inputs are needed",
                dinputs.len()
            ),
        ));
    }
    let mut ws = model.workspace();
    let (mut x, mut x_next) = (x0.to_vec(), vec![0.0; x0.len()]);
    let (mut dx, mut dx_next) = (dx0.to_vec(), vec![0.0; x0.len()]);
    // An empty `dinputs` means no input perturbation.
    let no_input = vec![0.0; if dinputs.is_empty() { m } else { 0 }];
    for k in 0..steps {
        let input = if dinputs.is_empty() {
            &no_input[..]
        } else {
            &dinputs[k * m..(k + 1) * m]
        };
        let tangent = TangentInputs {
            state: &dx,
            params: dparams,
            input,
        };
        on_step(k, &x, &dx);
        model.step_tl(&mut ws, k, &x, tangent, &mut dx_next);
        checked_step(model, &mut ws, k, &x, &mut x_next)?;
        std::mem::swap(&mut x, &mut x_next);
        std::mem::swap(&mut dx, &mut dx_next);
    }
    on_step(steps, &x, &dx);
    Ok(dx)
}

/// The backward half of the sweep: the adjoint variable and the gradient accumulators.
struct Backward<'a, D: Dynamics, C: StageCost> {
    model: &'a D,
    cost: &'a C,
    steps: usize,
    lambda: Vec<f64>,
    lambda_prev: Vec<f64>,
    param_bar: Vec<f64>,
    cost_param_bar: Vec<f64>,
    input_bar: Vec<f64>,
    total: f64,
}

impl<'a, D: Dynamics, C: StageCost> Backward<'a, D, C> {
    /// `param_gradient`: whether θ̄ is wanted; without it the models are given an empty θ̄
    /// and skip its accumulation.
    fn new(model: &'a D, cost: &'a C, steps: usize, param_gradient: bool) -> Self {
        let n = model.state_len();
        Self {
            model,
            cost,
            steps,
            lambda: vec![0.0; n],
            lambda_prev: vec![0.0; n],
            param_bar: vec![0.0; if param_gradient { model.param_len() } else { 0 }],
            cost_param_bar: vec![0.0; cost.param_len()],
            input_bar: vec![0.0; steps * model.input_len()],
            total: 0.0,
        }
    }

    /// λ_l = ∂J_l/∂x_l.
    fn terminal(&mut self, x_last: &[f64]) {
        self.add_stage_cost(self.steps, x_last);
    }

    fn add_stage_cost(&mut self, k: usize, x: &[f64]) {
        if self.cost.is_active(k) {
            self.total +=
                self.cost
                    .value_and_gradient(k, x, &mut self.lambda, &mut self.cost_param_bar);
        }
    }

    /// λ_k = (∂M_k/∂x)ᵀ λ_{k+1} + ∂J_k/∂x_k, given x_k and x_{k+1}, and the step's tape
    /// when the forward sweep recorded one.
    fn adjoint_step(
        &mut self,
        ws: &mut D::Workspace,
        k: usize,
        x: &[f64],
        x_next: &[f64],
        tape: Option<&[f64]>,
    ) {
        let m = self.model.input_len();
        let out = AdjointOutputs {
            state: &mut self.lambda_prev,
            params: &mut self.param_bar,
            input: &mut self.input_bar[k * m..(k + 1) * m],
        };
        match tape {
            Some(t) => self
                .model
                .step_ad_recorded(ws, k, x, x_next, t, &self.lambda, out),
            None => self.model.step_ad(ws, k, x, x_next, &self.lambda, out),
        }
        std::mem::swap(&mut self.lambda, &mut self.lambda_prev);
        self.add_stage_cost(k, x);
    }

    fn finish(self, forward_steps: u64) -> SweepResult {
        SweepResult {
            cost: self.total,
            state_gradient: self.lambda,
            param_gradient: self.param_bar,
            cost_param_gradient: self.cost_param_bar,
            input_gradient: self.input_bar,
            forward_steps,
        }
    }
}

/// Returns J, ∂J/∂x_0, ∂J/∂θ (and the stage cost's parameter and input gradients) for the
/// trajectory of `steps` steps from `x0`, by one forward and one backward sweep.
///
/// Both storage strategies evaluate the same operations in the same order, so they return
/// identical results. Fails if the model produces a non-finite state, naming the step.
/// Callers that sweep repeatedly (a minimiser) should keep a [`Sweeper`] instead.
pub fn value_and_gradient<D: Dynamics, C: StageCost>(
    model: &D,
    x0: &[f64],
    steps: usize,
    cost: &C,
    storage: Storage,
) -> Result<SweepResult> {
    Sweeper::new(model).value_and_gradient(model, x0, steps, cost, storage)
}

/// The buffers of the sweep, kept between calls: the model workspace, the trajectory (or
/// snapshot) storage and three state vectors. Reusing them means the storage is allocated,
/// and its memory pages touched, once per experiment rather than once per cost evaluation.
pub struct Sweeper<D: Dynamics> {
    ws: D::Workspace,
    store: Vec<f64>,
    current: Vec<f64>,
    next: Vec<f64>,
    later: Vec<f64>,
    param_gradient: bool,
}

impl<D: Dynamics> Sweeper<D> {
    /// Buffers for sweeps of `model`.
    pub fn new(model: &D) -> Self {
        let n = model.state_len();
        Self {
            ws: model.workspace(),
            store: Vec::new(),
            current: vec![0.0; n],
            next: vec![0.0; n],
            later: vec![0.0; n],
            param_gradient: true,
        }
    }

    /// This sweeper without ∂J/∂θ: [`SweepResult::param_gradient`] comes back empty and
    /// the adjoint steps skip its accumulation (for Lorenz-96 a sum over the ring in every
    /// stage). For 4D-Var that does not estimate parameters.
    pub fn without_param_gradient(mut self) -> Self {
        self.param_gradient = false;
        self
    }

    /// As [`value_and_gradient`], reusing this sweeper's buffers.
    pub fn value_and_gradient<C: StageCost>(
        &mut self,
        model: &D,
        x0: &[f64],
        steps: usize,
        cost: &C,
        storage: Storage,
    ) -> Result<SweepResult> {
        let n = model.state_len();
        if x0.len() != n {
            return Err(Error::invalid(
                "initial state",
                format!("has {} values, the model state has {n}", x0.len()),
            ));
        }
        let mut backward = Backward::new(model, cost, steps, self.param_gradient);
        if storage == Storage::Checkpoints(0) {
            return Err(Error::invalid(
                "checkpoint snapshots",
                "at least 1 snapshot (the initial state) is needed",
            ));
        }
        self.store.resize(storage.stored_values(model, steps), 0.0);
        self.store[..n].copy_from_slice(x0);
        let forward_steps = match storage {
            Storage::All => {
                let states = &mut self.store;
                for k in 0..steps {
                    let (done, rest) = states.split_at_mut((k + 1) * n);
                    checked_step(model, &mut self.ws, k, &done[k * n..], &mut rest[..n])?;
                }
                backward.terminal(&states[steps * n..]);
                for k in (0..steps).rev() {
                    let (x, x_next) = (
                        &states[k * n..(k + 1) * n],
                        &states[(k + 1) * n..(k + 2) * n],
                    );
                    backward.adjoint_step(&mut self.ws, k, x, x_next, None);
                }
                steps as u64
            }
            Storage::Stages => {
                let t = model.tape_len();
                let (states, tapes) = self.store.split_at_mut((steps + 1) * n);
                for k in 0..steps {
                    let (done, rest) = states.split_at_mut((k + 1) * n);
                    let tape = &mut tapes[k * t..(k + 1) * t];
                    model.step_recording(&mut self.ws, k, &done[k * n..], &mut rest[..n], tape);
                    finite_state(k, &rest[..n])?;
                }
                backward.terminal(&states[steps * n..]);
                for k in (0..steps).rev() {
                    let (x, x_next) = (
                        &states[k * n..(k + 1) * n],
                        &states[(k + 1) * n..(k + 2) * n],
                    );
                    let tape = &tapes[k * t..(k + 1) * t];
                    backward.adjoint_step(&mut self.ws, k, x, x_next, Some(tape));
                }
                steps as u64
            }
            Storage::Checkpoints(snapshots) => {
                let mut sweep = CheckpointedSweep {
                    model,
                    ws: &mut self.ws,
                    n,
                    snapshots: &mut self.store,
                    depth: 1,
                    current: &mut self.current,
                    next: &mut self.next,
                    later: &mut self.later,
                    backward: &mut backward,
                    forward_steps: 0,
                };
                if steps == 0 {
                    sweep.backward.terminal(x0);
                } else {
                    sweep.reverse(0, steps, snapshots)?;
                }
                sweep.forward_steps
            }
        };
        Ok(backward.finish(forward_steps))
    }
}

/// Reversal of the trajectory with a bounded stack of snapshots (binomial checkpointing).
struct CheckpointedSweep<'s, 'a, D: Dynamics, C: StageCost> {
    model: &'a D,
    ws: &'s mut D::Workspace,
    n: usize,
    /// Stored states, a stack: the top one is x_a of the segment being reversed.
    snapshots: &'s mut [f64],
    depth: usize,
    current: &'s mut Vec<f64>,
    next: &'s mut Vec<f64>,
    /// x_{j+1} while step j is reversed: the steps are reversed in descending order, so it is
    /// the state of the step reversed just before.
    later: &'s mut Vec<f64>,
    backward: &'s mut Backward<'a, D, C>,
    forward_steps: u64,
}

impl<D: Dynamics, C: StageCost> CheckpointedSweep<'_, '_, D, C> {
    /// Loads the top snapshot (x_from) into `current` and advances it to x_to.
    fn restore_and_advance(&mut self, from: usize, to: usize) -> Result<()> {
        let top = (self.depth - 1) * self.n;
        self.current
            .copy_from_slice(&self.snapshots[top..top + self.n]);
        for k in from..to {
            checked_step(self.model, self.ws, k, self.current, self.next)?;
            std::mem::swap(self.current, self.next);
        }
        self.forward_steps += (to - from) as u64;
        Ok(())
    }

    /// The adjoint of step j, with x_j in `current`. The first step reversed is the last one,
    /// which also needs x_l for the terminal cost.
    fn reverse_one(&mut self, j: usize) -> Result<()> {
        if j + 1 == self.backward.steps {
            checked_step(self.model, self.ws, j, self.current, self.later)?;
            self.forward_steps += 1;
            self.backward.terminal(self.later);
        }
        self.backward
            .adjoint_step(self.ws, j, self.current, self.later, None);
        self.later.copy_from_slice(self.current);
        Ok(())
    }
    /// Reverses steps a..b, given x_a on top of the snapshot stack and `free + 1` = `s`
    /// snapshot slots usable from there on (the one holding x_a included).
    fn reverse(&mut self, a: usize, b: usize, s: usize) -> Result<()> {
        let len = b - a;
        if len == 1 {
            self.restore_and_advance(a, a)?;
            return self.reverse_one(a);
        }
        if s == 1 {
            for j in (a..b).rev() {
                self.restore_and_advance(a, j)?;
                self.reverse_one(j)?;
            }
            return Ok(());
        }
        let m = a + best_split(len as u64, s as u64) as usize;
        self.restore_and_advance(a, m)?;
        let slot = self.depth * self.n;
        self.snapshots[slot..slot + self.n].copy_from_slice(self.current);
        self.depth += 1;
        self.reverse(m, b, s - 1)?;
        self.depth -= 1;
        self.reverse(a, m, s)
    }
}
