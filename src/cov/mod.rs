//! Error-covariance models. [`BackgroundCovariance`] is the background-error covariance B with
//! its symmetric square root, for the control-variable transform x₀ = x_b + B^½ v of 4D-Var
//! (J_b = ½ vᵀv in control space, ½ (x₀ − x_b)ᵀ B⁻¹ (x₀ − x_b) in physical space).

pub mod background;
pub mod plane_gaussian;

pub use background::{BackgroundCovariance, Correlation};
pub use plane_gaussian::PlaneGaussian;
