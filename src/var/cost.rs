//! The 4D-Var cost J(u) and its gradient: the background term from the control transform and
//! the observation term from the adjoint sweep of the core.

use std::cell::{Cell, RefCell};

use crate::core::vector::norm;
use crate::core::{integrate, Dynamics, StageCost, Storage, Sweeper};
use crate::error::{Error, Result};
use crate::obs::ObservationMisfit;

use super::control::ControlTransform;

/// J, its two terms and ∇J at one control vector.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// J = J_b + J_o.
    pub cost: f64,
    /// Background term J_b.
    pub background_cost: f64,
    /// Observation term J_o.
    pub observation_cost: f64,
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
        let sweeper = RefCell::new(Sweeper::new(&model));
        Ok(Self {
            model: RefCell::new(model),
            steps,
            misfit,
            transform,
            storage,
            sweeper,
            sweeps: Cell::new(0),
        })
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
        let (_, theta) = self.transform.to_model(u);
        if !theta.is_empty() {
            model.set_params(&theta);
        }
        model
    }

    /// J, J_b, J_o and ∇J at control u, by one forward and one backward sweep.
    pub fn evaluate(&self, u: &[f64]) -> Result<Evaluation> {
        let (x0, theta) = self.transform.to_model(u);
        if !theta.is_empty() {
            self.model.borrow_mut().set_params(&theta);
        }
        let model = self.model.borrow();
        let sweep = self.sweeper.borrow_mut().value_and_gradient(
            &*model,
            &x0,
            self.steps,
            &self.misfit,
            self.storage,
        )?;
        self.sweeps.set(self.sweeps.get() + 1);
        let mut gradient = vec![0.0; u.len()];
        let background_cost = self.transform.background_term(u, &mut gradient);
        self.transform.add_model_gradient(
            &sweep.state_gradient,
            &sweep.param_gradient,
            &mut gradient,
        );
        Ok(Evaluation {
            cost: background_cost + sweep.cost,
            background_cost,
            observation_cost: sweep.cost,
            gradient,
            observation_state_gradient: sweep.state_gradient,
        })
    }

    /// ∂J/∂x₀ = B⁻¹(x₀ − x_b) + ∂J_o/∂x₀ in the physical space, at control u evaluated as
    /// `evaluation`: the gradient a user compares across control spaces.
    pub fn physical_state_gradient(&self, u: &[f64], evaluation: &Evaluation) -> Vec<f64> {
        let (x0, _) = self.transform.to_model(u);
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
        let (x0, _) = self.transform.to_model(u);
        let model = self.model_at(u);
        let mut jo = 0.0;
        integrate(&model, &x0, self.steps, |k, x| {
            if self.misfit.is_active(k) {
                jo += self.misfit.value(k, x);
            }
        })?;
        Ok(self.transform.background_value(u) + jo)
    }

    /// The trajectory x₀..x_steps (row-major) from control u, continued `extra` steps beyond
    /// the window.
    pub fn trajectory(&self, u: &[f64], extra: usize) -> Result<Vec<f64>> {
        let (x0, _) = self.transform.to_model(u);
        let model = self.model_at(u);
        let mut states = Vec::with_capacity((self.steps + extra + 1) * x0.len());
        integrate(&model, &x0, self.steps + extra, |_, x| {
            states.extend_from_slice(x)
        })?;
        Ok(states)
    }

    /// ‖∇_u J‖ at u.
    pub fn gradient_norm(&self, u: &[f64]) -> Result<f64> {
        Ok(norm(&self.evaluate(u)?.gradient))
    }
}
