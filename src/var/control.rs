//! The control variable of 4D-Var and its map to the model's initial state and parameters.

use std::sync::Arc;

use crate::cov::BackgroundCovariance;
use crate::ensemble::alpha_control::HybridTransform;
use crate::error::{Error, Result};

/// Where the minimiser works.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum ControlSpace {
    /// u = (v, w) with x₀ = x_b + B^½ v and θ = θ_b + σ_θ ⊙ w: J_b = ½‖u‖², the Hessian is
    /// I + (observation term), well conditioned whatever B is.
    Transformed,
    /// u = (x₀, θ) itself: J_b = ½(x₀−x_b)ᵀB⁻¹(x₀−x_b) + ½‖(θ−θ_b)/σ_θ‖², whose Hessian
    /// inherits the condition number of B.
    Physical,
}

/// A Gaussian prior on estimated model parameters: θ ~ N(θ_b, diag(σ_θ²)).
#[derive(Clone, Debug, PartialEq)]
pub struct ParameterPrior {
    /// Background parameter values θ_b.
    pub background: Vec<f64>,
    /// Prior standard deviations σ_θ (> 0).
    pub sigma: Vec<f64>,
}

/// The background-error covariance behind the transform x₀ = x_b + U v: a static B with
/// U = B^½ (v of n values), or the hybrid B = β_s² B_s + β_e² P_e ∘ C of an ensemble with
/// U = T, the α-control transform (v of n(1 + M) values; B is never formed and may be
/// singular).
#[derive(Clone, Debug)]
pub enum BackgroundError {
    /// A static B.
    Static(Arc<BackgroundCovariance>),
    /// A hybrid B.
    Hybrid(Arc<HybridTransform>),
}

impl From<Arc<BackgroundCovariance>> for BackgroundError {
    fn from(b: Arc<BackgroundCovariance>) -> Self {
        Self::Static(b)
    }
}

impl BackgroundError {
    /// The static B (the static part of a hybrid B).
    pub fn static_covariance(&self) -> &Arc<BackgroundCovariance> {
        match self {
            Self::Static(b) => b,
            Self::Hybrid(t) => t.static_covariance(),
        }
    }

    /// Length of v.
    pub fn control_len(&self) -> usize {
        match self {
            Self::Static(b) => b.len(),
            Self::Hybrid(t) => t.control_len(),
        }
    }

    /// dx = U v.
    pub fn sqrt_apply(&self, v: &[f64], dx: &mut [f64]) {
        match self {
            Self::Static(b) => b.sqrt_apply(v, dx),
            Self::Hybrid(t) => t.apply(v, dx),
        }
    }

    /// v_bar = Uᵀ w.
    pub fn sqrt_adjoint_apply(&self, w: &[f64], v_bar: &mut [f64]) {
        match self {
            Self::Static(b) => b.sqrt_adjoint_apply(w, v_bar),
            Self::Hybrid(t) => t.adjoint_apply(w, v_bar),
        }
    }
}

/// The map u ↦ (x₀, θ), the background term J_b(u) and the chain rule back to u.
#[derive(Clone)]
pub struct ControlTransform {
    space: ControlSpace,
    background: Vec<f64>,
    error: BackgroundError,
    prior: Option<ParameterPrior>,
}

impl ControlTransform {
    /// A transform around the background state `background` with covariance B (static or
    /// hybrid), optionally estimating parameters with `prior`. A hybrid B needs the
    /// transformed space: its inverse is never formed.
    pub fn new(
        space: ControlSpace,
        background: Vec<f64>,
        covariance: impl Into<BackgroundError>,
        prior: Option<ParameterPrior>,
    ) -> Result<Self> {
        let error = covariance.into();
        let covariance = error.static_covariance();
        if matches!(error, BackgroundError::Hybrid(_)) && space == ControlSpace::Physical {
            return Err(Error::invalid(
                "background covariance",
                "a hybrid B works in the transformed control space only (its inverse is never \
                 formed)",
            ));
        }
        if covariance.len() != background.len() {
            return Err(Error::invalid(
                "background covariance",
                format!(
                    "B is {0}×{0} but the background state has {1} values",
                    covariance.len(),
                    background.len()
                ),
            ));
        }
        if let Some(p) = &prior {
            let bad = p.sigma.iter().any(|s| !(s.is_finite() && *s > 0.0));
            if p.sigma.len() != p.background.len() || bad {
                return Err(Error::invalid(
                    "parameter prior",
                    "needs one finite σ > 0 per parameter",
                ));
            }
        }
        Ok(Self {
            space,
            background,
            error,
            prior,
        })
    }

    /// The control space.
    pub fn space(&self) -> ControlSpace {
        self.space
    }

    /// The background state x_b.
    pub fn background(&self) -> &[f64] {
        &self.background
    }

    /// The static background covariance B (with a hybrid B: its static part).
    pub fn covariance(&self) -> &BackgroundCovariance {
        self.error.static_covariance()
    }

    /// The background error behind U.
    pub fn background_error(&self) -> &BackgroundError {
        &self.error
    }

    /// Whether B is hybrid.
    pub fn is_hybrid(&self) -> bool {
        matches!(self.error, BackgroundError::Hybrid(_))
    }

    /// Length of the state part of u: n, or n(1 + M) with a hybrid B in the transformed space.
    pub fn state_control_len(&self) -> usize {
        match self.space {
            ControlSpace::Transformed => self.error.control_len(),
            ControlSpace::Physical => self.state_len(),
        }
    }

    /// dx = U v for the state part v of a transformed control (U = B^½ or the hybrid T).
    pub fn sqrt_apply(&self, v: &[f64], dx: &mut [f64]) {
        self.error.sqrt_apply(v, dx)
    }

    /// v_bar = Uᵀ w, the adjoint of [`ControlTransform::sqrt_apply`].
    pub fn sqrt_adjoint_apply(&self, w: &[f64], v_bar: &mut [f64]) {
        self.error.sqrt_adjoint_apply(w, v_bar)
    }

    /// Number of state entries n.
    pub fn state_len(&self) -> usize {
        self.background.len()
    }

    /// Number of estimated parameters (0 without a prior).
    pub fn param_len(&self) -> usize {
        self.prior.as_ref().map_or(0, |p| p.background.len())
    }

    /// Length of the control vector u.
    pub fn control_len(&self) -> usize {
        self.state_control_len() + self.param_len()
    }

    /// The control vector of the background (x₀ = x_b, θ = θ_b).
    pub fn background_control(&self) -> Vec<f64> {
        match self.space {
            ControlSpace::Transformed => vec![0.0; self.control_len()],
            ControlSpace::Physical => {
                let mut u = self.background.clone();
                if let Some(p) = &self.prior {
                    u.extend_from_slice(&p.background);
                }
                u
            }
        }
    }

    /// x₀ and θ of control u (θ is empty without a prior).
    pub fn to_model(&self, u: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let n = self.state_len();
        let (us, up) = u.split_at(self.state_control_len());
        match self.space {
            ControlSpace::Transformed => {
                let mut x0 = vec![0.0; n];
                self.error.sqrt_apply(us, &mut x0);
                for (x, b) in x0.iter_mut().zip(&self.background) {
                    *x += b;
                }
                let theta = match &self.prior {
                    Some(p) => (p.background.iter().zip(&p.sigma).zip(up))
                        .map(|((b, s), w)| b + s * w)
                        .collect(),
                    None => Vec::new(),
                };
                (x0, theta)
            }
            ControlSpace::Physical => (us.to_vec(), up.to_vec()),
        }
    }

    /// J_b(u); writes ∇_u J_b into `gradient`.
    pub fn background_term(&self, u: &[f64], gradient: &mut [f64]) -> f64 {
        let n = self.state_len();
        match self.space {
            ControlSpace::Transformed => {
                gradient.copy_from_slice(u);
                0.5 * crate::core::vector::dot(u, u)
            }
            ControlSpace::Physical => {
                let dx: Vec<f64> = u[..n]
                    .iter()
                    .zip(&self.background)
                    .map(|(a, b)| a - b)
                    .collect();
                self.covariance().inverse_apply(&dx, &mut gradient[..n]);
                let mut jb = 0.5 * crate::core::vector::dot(&dx, &gradient[..n]);
                if let Some(p) = &self.prior {
                    for (i, (b, s)) in p.background.iter().zip(&p.sigma).enumerate() {
                        let z = (u[n + i] - b) / s;
                        jb += 0.5 * z * z;
                        gradient[n + i] = z / s;
                    }
                }
                jb
            }
        }
    }

    /// J_b(u) alone.
    pub fn background_value(&self, u: &[f64]) -> f64 {
        let mut scratch = vec![0.0; u.len()];
        self.background_term(u, &mut scratch)
    }

    /// gradient += (∂(x₀, θ)/∂u)ᵀ (x̄₀, θ̄): the adjoint of [`ControlTransform::to_model`].
    pub fn add_model_gradient(&self, x0_bar: &[f64], theta_bar: &[f64], gradient: &mut [f64]) {
        let (gs, gp) = gradient.split_at_mut(self.state_control_len());
        match self.space {
            ControlSpace::Transformed => {
                let mut v_bar = vec![0.0; gs.len()];
                self.error.sqrt_adjoint_apply(x0_bar, &mut v_bar);
                crate::core::vector::axpy(1.0, &v_bar, gs);
                if let Some(p) = &self.prior {
                    for ((g, s), t) in gp.iter_mut().zip(&p.sigma).zip(theta_bar) {
                        *g += s * t;
                    }
                }
            }
            ControlSpace::Physical => {
                crate::core::vector::axpy(1.0, x0_bar, gs);
                crate::core::vector::axpy(1.0, &theta_bar[..gp.len()], gp);
            }
        }
    }
}
