//! Which variational algorithm analyses a window.

/// The algorithm: the full nonlinear cost minimised directly, Gauss–Newton outer loops around
/// quadratic inner problems ([`super::incremental`]), or the 3-D methods without the model in
/// the cost (3D-Var; 3D-FGAT, [`super::fgat`]).
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
    /// 3D-Var: every observation of the window compared with the state at the window start
    /// (a window of zero steps), minimised like `incremental` (Gauss–Newton outer loops, CG or
    /// Lanczos inner loops; one outer loop is exact for a linear H).
    #[serde(rename = "3dvar")]
    #[value(name = "3dvar")]
    ThreeDVar,
    /// 3D-FGAT: observations compared with the background trajectory at their own times, the
    /// increment applied at the window start without the tangent-linear model (one
    /// Gauss–Newton step with the incremental inner solver).
    #[serde(rename = "3dfgat")]
    #[value(name = "3dfgat")]
    ThreeDFgat,
}

impl Algorithm {
    /// The name in files and on the command line.
    pub fn name(self) -> String {
        crate::core::choice::choice_name(&self)
    }
}
