//! The 4D-Var cost J(u) and its gradient: the background term from the control transform and
//! the observation term from the adjoint sweep of the core.

use std::cell::{Cell, RefCell};

use crate::core::vector::norm;
use crate::core::{integrate, value_and_gradient, Dynamics, StageCost, Storage, Sweeper};
use crate::error::{Error, Result};
use crate::obs::ObservationMisfit;

use super::control::ControlTransform;
use super::model_error::{Forced, ModelError};

/// J, its two terms and ∇J at one control vector.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// J = J_b + J_o.
    pub cost: f64,
    /// Background term J_b.
    pub background_cost: f64,
    /// Observation term J_o.
    pub observation_cost: f64,
    /// Model-error term J_q of weak-constraint 4D-Var (0 for strong constraint).
    pub model_error_cost: f64,
    /// ∇_u J in the control space.
    pub gradient: Vec<f64>,
    /// ∂J_o/∂x₀, the observation term's gradient with respect to the initial state.
    pub observation_state_gradient: Vec<f64>,
}

/// A strong-constraint 4D-Var problem over a window of `steps` model steps.
pub struct FourDVar<D: Dynamics + Clone> {
    model: RefCell<D>,
    steps: usize,
    misfit: ObservationMisfit,
    transform: ControlTransform,
    storage: Storage,
    sweeper: RefCell<Sweeper<D>>,
    sweeps: Cell<u64>,
    model_error: Option<ModelError>,
}

impl<D: Dynamics + Clone> FourDVar<D> {
    /// The problem of fitting `model` over `steps` steps to the observations of `misfit`,
    /// with the background and control space of `transform`.
    pub fn new(
        model: D,
        steps: usize,
        misfit: ObservationMisfit,
        transform: ControlTransform,
        storage: Storage,
    ) -> Result<Self> {
        if transform.state_len() != model.state_len() {
            return Err(Error::invalid(
                "background",
                format!(
                    "has {} values, the model state has {}",
                    transform.state_len(),
                    model.state_len()
                ),
            ));
        }
        if transform.param_len() != 0 && transform.param_len() != model.param_len() {
            return Err(Error::invalid(
                "parameter prior",
                format!(
                    "has {} values, the model has {} parameters",
                    transform.param_len(),
                    model.param_len()
                ),
            ));
        }
        let sweeper = if transform.param_len() == 0 {
            Sweeper::new(&model).without_param_gradient()
        } else {
            Sweeper::new(&model)
        };
        let sweeper = RefCell::new(sweeper);
        Ok(Self {
            model: RefCell::new(model),
            steps,
            misfit,
            transform,
            storage,
            sweeper,
            sweeps: Cell::new(0),
            model_error: None,
        })
    }

    /// The weak-constraint problem: the model may err by η_k = Q^½ w_k on the forced steps of
    /// `model_error`, and w joins the control vector after the initial state and parameters.
    pub fn with_model_error(mut self, model_error: ModelError) -> Result<Self> {
        let n = self.transform.state_len();
        if model_error.len() % n != 0 || model_error.forced_steps().iter().any(|&k| k >= self.steps)
        {
            return Err(Error::invalid(
                "model error",
                format!(
                    "its covariance or steps do not fit a state of {n} values over {} steps",
                    self.steps
                ),
            ));
        }
        self.model_error = Some(model_error);
        Ok(self)
    }

    /// The model error of weak-constraint 4D-Var, if any.
    pub fn model_error(&self) -> Option<&ModelError> {
        self.model_error.as_ref()
    }

    /// Length of the control vector: the transform's, then w.
    pub fn control_len(&self) -> usize {
        self.transform.control_len() + self.model_error.as_ref().map_or(0, ModelError::len)
    }

    /// The control of the background (and no model error).
    pub fn background_control(&self) -> Vec<f64> {
        let mut u = self.transform.background_control();
        u.resize(self.control_len(), 0.0);
        u
    }

    /// u split into the transform's part and w.
    fn split<'u>(&self, u: &'u [f64]) -> (&'u [f64], &'u [f64]) {
        u.split_at(self.transform.control_len().min(u.len()))
    }

    /// η (steps × n) of control u, empty for strong constraint.
    fn forcing(&self, u: &[f64]) -> Vec<f64> {
        match &self.model_error {
            Some(me) => me.forcing(self.split(u).1),
            None => Vec::new(),
        }
    }

    /// J_b and J_q at u.
    pub fn prior_terms(&self, u: &[f64]) -> (f64, f64) {
        let (core, w) = self.split(u);
        (
            self.transform.background_value(core),
            0.5 * w.iter().map(|x| x * x).sum::<f64>(),
        )
    }

    /// The control transform.
    pub fn transform(&self) -> &ControlTransform {
        &self.transform
    }

    /// The observation term.
    pub fn misfit(&self) -> &ObservationMisfit {
        &self.misfit
    }

    /// Window length in steps.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// How many adjoint sweeps have been run so far.
    pub fn sweeps(&self) -> u64 {
        self.sweeps.get()
    }

    /// A copy of the model with the parameters of control u.
    pub fn model_at(&self, u: &[f64]) -> D {
        let mut model = self.model.borrow().clone();
        let (_, theta) = self.transform.to_model(self.split(u).0);
        if !theta.is_empty() {
            model.set_params(&theta);
        }
        model
    }

    /// J, J_b, J_o and ∇J at control u, by one forward and one backward sweep.
    pub fn evaluate(&self, u: &[f64]) -> Result<Evaluation> {
        if u.len() != self.control_len() {
            return Err(Error::invalid(
                "control vector",
                format!(
                    "has {} values, the problem has {}",
                    u.len(),
                    self.control_len()
                ),
            ));
        }
        let (core, w) = self.split(u);
        let (x0, theta) = self.transform.to_model(core);
        if !theta.is_empty() {
            self.model.borrow_mut().set_params(&theta);
        }
        let model = self.model.borrow();
        let sweep = match &self.model_error {
            None => self.sweeper.borrow_mut().value_and_gradient(
                &*model,
                &x0,
                self.steps,
                &self.misfit,
                self.storage,
            )?,
            Some(me) => {
                let eta = me.forcing(w);
                let forced = Forced::new(&*model, &eta);
                value_and_gradient(&forced, &x0, self.steps, &self.misfit, self.storage)?
            }
        };
        self.sweeps.set(self.sweeps.get() + 1);
        let mut gradient = vec![0.0; u.len()];
        let (core_gradient, w_gradient) = gradient.split_at_mut(core.len());
        let background_cost = self.transform.background_term(core, core_gradient);
        self.transform.add_model_gradient(
            &sweep.state_gradient,
            &sweep.param_gradient,
            core_gradient,
        );
        let model_error_cost = match &self.model_error {
            Some(me) => me.term(w, &sweep.input_gradient, w_gradient),
            None => 0.0,
        };
        Ok(Evaluation {
            cost: background_cost + model_error_cost + sweep.cost,
            background_cost,
            model_error_cost,
            observation_cost: sweep.cost,
            gradient,
            observation_state_gradient: sweep.state_gradient,
        })
    }

    /// ∂J/∂x₀ = B⁻¹(x₀ − x_b) + ∂J_o/∂x₀ in the physical space, at control u evaluated as
    /// `evaluation`: the gradient a user compares across control spaces. With a hybrid B,
    /// which may be singular (∂J/∂x₀ then does not exist), the control-space gradient.
    pub fn physical_state_gradient(&self, u: &[f64], evaluation: &Evaluation) -> Vec<f64> {
        if self.transform.is_hybrid() {
            return evaluation.gradient.clone();
        }
        let (x0, _) = self.transform.to_model(self.split(u).0);
        let dx: Vec<f64> = (x0.iter().zip(self.transform.background()))
            .map(|(a, b)| a - b)
            .collect();
        let mut gradient = vec![0.0; dx.len()];
        self.transform
            .covariance()
            .inverse_apply(&dx, &mut gradient);
        crate::core::vector::axpy(1.0, &evaluation.observation_state_gradient, &mut gradient);
        gradient
    }

    /// J at control u without a gradient (forward sweep only).
    pub fn cost(&self, u: &[f64]) -> Result<f64> {
        let (x0, _) = self.transform.to_model(self.split(u).0);
        let model = self.model_at(u);
        let eta = self.forcing(u);
        let mut jo = 0.0;
        integrate(&Forced::new(&model, &eta), &x0, self.steps, |k, x| {
            if self.misfit.is_active(k) {
                jo += self.misfit.value(k, x);
            }
        })?;
        let (jb, jq) = self.prior_terms(u);
        Ok(jb + jq + jo)
    }

    /// The trajectory x₀..x_steps (row-major) from control u, continued `extra` steps beyond
    /// the window.
    pub fn trajectory(&self, u: &[f64], extra: usize) -> Result<Vec<f64>> {
        let (x0, _) = self.transform.to_model(self.split(u).0);
        let model = self.model_at(u);
        let eta = self.forcing(u);
        let mut states = Vec::with_capacity((self.steps + extra + 1) * x0.len());
        integrate(
            &Forced::new(&model, &eta),
            &x0,
            self.steps + extra,
            |_, x| states.extend_from_slice(x),
        )?;
        Ok(states)
    }

    /// ‖∇_u J‖ at u.
    pub fn gradient_norm(&self, u: &[f64]) -> Result<f64> {
        Ok(norm(&self.evaluate(u)?.gradient))
    }
}
