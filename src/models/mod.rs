//! The forecast models, each with a hand-written tangent-linear and adjoint: Lorenz-96,
//! Lorenz-63 and the rotating shallow-water equations on a shared RK4 integrator. A new model
//! is one file here implementing [`crate::core::Dynamics`] (or [`rk4::VectorField`]) and
//! [`ModelInfo`].

pub mod linear;
pub mod lorenz63;
pub mod lorenz96;
pub mod lorenz96_two_scale;
pub mod rk4;
pub mod shallow_water;

pub use lorenz63::{lorenz63, Lorenz63};
pub use lorenz96::{lorenz96, Lorenz96};
pub use lorenz96_two_scale::{lorenz96_two_scale, Lorenz96TwoScale, Lorenz96TwoScaleField};
pub use shallow_water::{shallow_water, InitialCondition, ShallowWater, ShallowWaterField};

/// What a model tells the outside world about itself: names and units for output files, the
/// time step and a default initial state.
pub trait ModelInfo {
    /// Human-readable model name, e.g. "Lorenz-96".
    fn name(&self) -> &'static str;
    /// Name of the state dimension in output files, e.g. "site".
    fn state_dimension(&self) -> &'static str;
    /// `long_name` of the state coordinate.
    fn state_long_name(&self) -> String;
    /// Values of the state coordinate.
    fn state_coordinate(&self) -> Vec<f64>;
    /// Name of the state variable in output files, e.g. "x".
    fn variable(&self) -> &'static str;
    /// `long_name` of the state variable.
    fn variable_long_name(&self) -> String;
    /// Model time step, in model time units.
    fn time_step(&self) -> f64;
    /// A note on the time unit for output files.
    fn time_comment(&self) -> Option<String>;
    /// Units of the model time: "1" for nondimensional time (the default), "s" for SI models.
    fn time_units(&self) -> &'static str {
        "1"
    }
    /// Names of the parameters θ, in order.
    fn param_names(&self) -> Vec<&'static str>;
    /// The initial state used when the user gives none.
    fn default_initial_state(&self) -> Vec<f64>;
    /// How the state is laid out over variables and grid points (for observation operators).
    fn layout(&self) -> crate::core::StateLayout;
    /// Names, units and CF attributes of each prognostic field, in state order, for gridded
    /// output files of models on a plane (see [`crate::core::PlaneGrid`]). Models on a line of
    /// points describe their one output variable through [`ModelInfo::variable`] instead and
    /// return an empty list.
    fn fields(&self) -> Vec<FieldDescription> {
        Vec::new()
    }
    /// Gravity g (m/s²) and Coriolis parameter f (1/s) of a rotating model, for the
    /// geostrophic balance of the background covariance; None (the default) for other models.
    fn gravity_and_coriolis(&self) -> Option<(f64, f64)> {
        None
    }
}

/// How one prognostic field of a gridded model is described in CF output files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldDescription {
    /// Variable name in files and in observation files, e.g. "h".
    pub name: &'static str,
    /// CF `long_name`.
    pub long_name: &'static str,
    /// CF `units` (UDUNITS), e.g. "m s-1".
    pub units: &'static str,
    /// CF `standard_name`, where one describes the field exactly.
    pub standard_name: Option<&'static str>,
}
