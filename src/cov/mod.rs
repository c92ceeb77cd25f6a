//! Error-covariance models. [`BackgroundCovariance`] is the background-error covariance B with
//! its square root (symmetric, except with a geostrophic balance, B^½ = K B_u^½), for the
//! control-variable transform x₀ = x_b + B^½ v of 4D-Var (J_b = ½ vᵀv in control space,
//! ½ (x₀ − x_b)ᵀ B⁻¹ (x₀ − x_b) in physical space). On a plane, [`PlaneGaussian`] gives a
//! per-variable B with a separable periodic Gaussian correlation that is never formed, and
//! [`GeostrophicBalance`] the balance operator K.

pub mod background;
pub mod balance;
pub mod plane_gaussian;
pub mod positivity;
pub mod spec;

pub use background::{BackgroundCovariance, Correlation, GaussianBlock};
pub use balance::GeostrophicBalance;
pub use plane_gaussian::PlaneGaussian;
pub use spec::{BackgroundSpec, BalanceKind, CorrelationKind};
