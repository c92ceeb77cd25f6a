//! Which variational algorithm analyses a window.

/// The algorithm: the full nonlinear cost minimised directly, or Gauss–Newton outer loops
/// around quadratic inner problems ([`super::incremental`]).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    serde::Deserialize,
    serde::Serialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
#[value(rename_all = "kebab-case")]
pub enum Algorithm {
    /// Minimise the nonlinear 4D-Var cost with the `minimizer` (L-BFGS, CG, steepest descent).
    #[default]
    Nonlinear,
    /// Incremental 4D-Var: outer loops relinearise the model and H, inner loops minimise the
    /// quadratic cost of the increment by CG or Lanczos with the tangent-linear and adjoint.
    Incremental,
}

impl Algorithm {
    /// The name in files and on the command line.
    pub fn name(self) -> String {
        crate::core::choice::choice_name(&self)
    }
}
