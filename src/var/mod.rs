//! Variational assimilation: the strong-constraint 4D-Var cost in control space, its gradient
//! from the one adjoint sweep of the core, the argmin minimisers, and analysis diagnostics.
//!
//! J(x₀, θ) = ½(x₀−x_b)ᵀB⁻¹(x₀−x_b) + ½Σ_p((θ_p−θ_b,p)/σ_θ,p)² + ½Σ_k (y_k−H(x_k))ᵀR_k⁻¹(y_k−H(x_k)),
//! minimised over v with x₀ = x_b + B^½ v (the control-variable transform, where the
//! background term is ½vᵀv) or directly over x₀ (the physical space, for comparison).

pub mod algorithm;
pub mod control;
pub mod cost;
pub mod diagnostics;
pub mod fgat;
pub mod gauss_newton;
pub mod incremental;
pub mod krylov;
pub mod minimize;
pub mod model_error;
pub mod posterior;
pub mod spectral_preconditioner;

pub use algorithm::Algorithm;
pub use control::{BackgroundError, ControlSpace, ControlTransform, ParameterPrior};
pub use cost::{Evaluation, FourDVar};
pub use diagnostics::{AnalysisDiagnostics, DepartureStatistics};
pub use minimize::{minimize, IterationRecord, MinimizationOutcome, Minimizer, StoppingRule};
