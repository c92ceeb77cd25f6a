//! The continuous adjoint of an ODE dx/dt = f(x; θ) (the neural-ODE way of computing
//! gradients), next to the discrete adjoint that the core's sweep runs through the RK4 step.
//!
//! For J = Σ_k J_k(x(t_k)), t_k = k h, the forward pass keeps only the running state. The
//! backward pass integrates, from t_l down to 0 with the same RK4 and step −h, the augmented
//! system
//!
//!   dx/dt = f(x),   da/dt = −(∂f/∂x)ᵀ a,   dθ̄/dt = −(∂f/∂θ)ᵀ a,
//!
//! re-creating x(t) backwards instead of storing it, with jumps a ← a + ∂J_k/∂x at every t_k;
//! then ∂J/∂x₀ ≈ a(0) and ∂J/∂θ ≈ θ̄(0). Memory is a few vectors, whatever the number of
//! steps. The price, measured in `tests/continuous_adjoint.rs`: the result is a discretisation
//! of the exact gradient (it converges to the discrete adjoint's with the scheme's order 4 as
//! h → 0), not the exact gradient of the discrete model; and on chaotic dynamics the backward
//! re-integration of x diverges from the forward trajectory, so over long horizons the
//! gradient is wrong.

use super::rk4::{AdjointTargets, Rk4, VectorField};
use crate::core::vector::{all_finite, norm};
use crate::core::StageCost;
use crate::error::{Error, Result};

/// What [`continuous_gradient`] returns.
#[derive(Clone, Debug)]
pub struct ContinuousGradient {
    /// J = Σ_k J_k(x_k) on the forward trajectory.
    pub cost: f64,
    /// a(0) ≈ ∂J/∂x₀.
    pub state_gradient: Vec<f64>,
    /// θ̄(0) ≈ ∂J/∂θ.
    pub param_gradient: Vec<f64>,
    /// ‖x̃(0) − x₀‖: how far the backward re-integration of the state ended from where the
    /// forward run began (0 in exact arithmetic for a reversible integration; it grows like
    /// the dynamics' instability backwards).
    pub reconstruction_error: f64,
    /// Values kept at any time (the running vectors and stage buffers): constant in the
    /// number of steps.
    pub stored_values: usize,
}

/// The augmented backward system's stage buffers, made once per call.
struct Augmented {
    /// Stage derivatives of x, a and θ̄ (4 each).
    kx: [Vec<f64>; 4],
    ka: [Vec<f64>; 4],
    kp: [Vec<f64>; 4],
    /// The stage point (x, a).
    sx: Vec<f64>,
    sa: Vec<f64>,
}

impl Augmented {
    fn new(n: usize, p: usize) -> Self {
        let four = |len: usize| std::array::from_fn(|_| vec![0.0; len]);
        Self {
            kx: four(n),
            ka: four(n),
            kp: four(p),
            sx: vec![0.0; n],
            sa: vec![0.0; n],
        }
    }

    fn values(&self) -> usize {
        let sum = |v: &[Vec<f64>; 4]| v.iter().map(Vec::len).sum::<usize>();
        sum(&self.kx) + sum(&self.ka) + sum(&self.kp) + self.sx.len() + self.sa.len()
    }

    /// One RK4 step of the augmented system with step τ (τ = −h: backwards in time).
    fn step<F: VectorField>(
        &mut self,
        field: &F,
        tau: f64,
        x: &mut [f64],
        a: &mut [f64],
        theta_bar: &mut [f64],
    ) {
        let weights = [0.5 * tau, 0.5 * tau, tau];
        let Self { kx, ka, kp, sx, sa } = self;
        stage(field, x, a, &mut kx[0], &mut ka[0], &mut kp[0]);
        for i in 0..3 {
            for j in 0..x.len() {
                sx[j] = x[j] + weights[i] * kx[i][j];
                sa[j] = a[j] + weights[i] * ka[i][j];
            }
            stage(
                field,
                sx,
                sa,
                &mut kx[i + 1],
                &mut ka[i + 1],
                &mut kp[i + 1],
            );
        }
        let c = tau / 6.0;
        let combine = |y: &mut [f64], k: &[Vec<f64>; 4]| {
            for (j, yj) in y.iter_mut().enumerate() {
                *yj += c * (k[0][j] + 2.0 * (k[1][j] + k[2][j]) + k[3][j]);
            }
        };
        combine(x, &self.kx);
        combine(a, &self.ka);
        combine(theta_bar, &self.kp);
    }
}

/// One stage of the augmented right-hand side at (x, a): kx = f(x), ka = −(∂f/∂x)ᵀ a,
/// kp = −(∂f/∂θ)ᵀ a.
fn stage<F: VectorField>(
    field: &F,
    x: &[f64],
    a: &[f64],
    kx: &mut [f64],
    ka: &mut [f64],
    kp: &mut [f64],
) {
    field.eval(x, kx);
    ka.fill(0.0);
    kp.fill(0.0);
    field.adjoint(
        x,
        a,
        AdjointTargets {
            primary: ka,
            alpha: -1.0,
            secondary: None,
            params: kp,
        },
    );
}

/// J and its continuous-adjoint gradient for `steps` RK4 steps of `model` from `x0`, storing
/// no trajectory. Fails if the forward or the backward integration is not finite, naming the
/// step.
pub fn continuous_gradient<F: VectorField, C: StageCost>(
    model: &Rk4<F>,
    x0: &[f64],
    steps: usize,
    cost: &C,
) -> Result<ContinuousGradient> {
    use crate::core::Dynamics;
    let (n, p) = (model.state_len(), model.param_len());
    if x0.len() != n {
        return Err(Error::invalid(
            "initial state",
            format!("has {} values, the model state has {n}", x0.len()),
        ));
    }
    let not_finite = |step: usize, what: &str| Error::NonFinite {
        step,
        context: format!("the continuous adjoint's {what}"),
    };
    // Forward: J on the way, only the running state kept.
    let mut ws = model.workspace();
    let (mut x, mut next) = (x0.to_vec(), vec![0.0; n]);
    let mut total = 0.0;
    for k in 0..=steps {
        if cost.is_active(k) {
            total += cost.value(k, &x);
        }
        if k < steps {
            model.step(&mut ws, k, &x, &mut next);
            if !all_finite(&next) {
                return Err(not_finite(k + 1, "forward run"));
            }
            std::mem::swap(&mut x, &mut next);
        }
    }
    // Backward: x re-integrated with a and θ̄, jumps of a at the cost's steps.
    let mut a = vec![0.0; n];
    let mut theta_bar = vec![0.0; p];
    let mut cost_params = vec![0.0; cost.param_len()];
    let mut augmented = Augmented::new(n, p);
    for k in (0..=steps).rev() {
        if cost.is_active(k) {
            cost.value_and_gradient(k, &x, &mut a, &mut cost_params);
        }
        if k > 0 {
            augmented.step(&model.field, -model.dt, &mut x, &mut a, &mut theta_bar);
            if !all_finite(&x) || !all_finite(&a) {
                return Err(not_finite(k - 1, "backward integration"));
            }
        }
    }
    let reconstruction_error = norm(&x.iter().zip(x0).map(|(r, s)| r - s).collect::<Vec<f64>>());
    Ok(ContinuousGradient {
        cost: total,
        state_gradient: a,
        param_gradient: theta_bar,
        reconstruction_error,
        stored_values: augmented.values() + 3 * n + p,
    })
}
