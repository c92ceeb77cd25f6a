//! Two simple stage costs the core itself needs: a quadratic misfit to reference states (the
//! gradient test, the benchmark) and a linear functional of one state (the dot-product test
//! of a composed adjoint). Observation misfits and RNN losses live in their own layers.

use super::dynamics::StageCost;
use super::vector::{dot, sum_pairs};

/// J = Σ_{k active} ½ w ‖x_k − y_k‖², with reference states y_k stored for every step.
#[derive(Clone, Debug)]
pub struct QuadraticMisfit {
    n: usize,
    weight: f64,
    targets: Vec<f64>,
    active: Vec<bool>,
}

impl QuadraticMisfit {
    /// A misfit against `targets` (row-major, `active.len()` × n) with weight w = 1/σ²,
    /// counting only the steps k with `active[k]`.
    pub fn new(n: usize, weight: f64, targets: Vec<f64>, active: Vec<bool>) -> Self {
        assert_eq!(targets.len(), n * active.len(), "targets must be steps × n");
        Self {
            n,
            weight,
            targets,
            active,
        }
    }

    fn target(&self, k: usize) -> &[f64] {
        &self.targets[k * self.n..(k + 1) * self.n]
    }
}

impl StageCost for QuadraticMisfit {
    fn is_active(&self, k: usize) -> bool {
        self.active.get(k).copied().unwrap_or(false)
    }

    fn value(&self, k: usize, x: &[f64]) -> f64 {
        let y = self.target(k);
        0.5 * self.weight * sum_pairs(x, y, |a, b| (a - b) * (a - b))
    }

    fn value_and_gradient(&self, k: usize, x: &[f64], x_bar: &mut [f64], _: &mut [f64]) -> f64 {
        let y = self.target(k);
        for ((xb, a), b) in x_bar.iter_mut().zip(x).zip(y) {
            *xb += self.weight * (a - b);
        }
        self.value(k, x)
    }
}

/// J = ⟨c, x_k⟩ at the single step k = `step`: its adjoint sweep applies the transposed
/// tangent-linear model to c, which is what a dot-product test of a composed model needs.
#[derive(Clone, Debug)]
pub struct LinearFunctional {
    step: usize,
    coefficients: Vec<f64>,
}

impl LinearFunctional {
    /// J = ⟨coefficients, x_step⟩.
    pub fn new(step: usize, coefficients: Vec<f64>) -> Self {
        Self { step, coefficients }
    }
}

impl StageCost for LinearFunctional {
    fn is_active(&self, k: usize) -> bool {
        k == self.step
    }

    fn value(&self, _: usize, x: &[f64]) -> f64 {
        dot(&self.coefficients, x)
    }

    fn value_and_gradient(&self, _: usize, x: &[f64], x_bar: &mut [f64], _: &mut [f64]) -> f64 {
        for (xb, c) in x_bar.iter_mut().zip(&self.coefficients) {
            *xb += c;
        }
        dot(&self.coefficients, x)
    }
}
