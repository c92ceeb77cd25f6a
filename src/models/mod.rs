//! The forecast models, each with a hand-written tangent-linear and adjoint: Lorenz-96,
//! Lorenz-63 and the rotating shallow-water equations on a shared RK4 integrator.
//!
//! A new model is one file here: its dynamics ([`crate::core::Dynamics`], or
//! [`rk4::VectorField`] stepped by RK4), what it tells the outside world ([`ModelInfo`], its
//! [`crate::geometry::Geometry`] included), and its settings ([`ModelSettings`]: the serde
//! struct of its TOML file, with its own defaults and limits). Then one line in
//! [`model_registry!`] below makes configuration files able to name it.

pub mod continuous_adjoint;
pub mod linear;
pub mod lorenz63;
pub mod lorenz96;
pub mod lorenz96_two_scale;
pub mod rk4;
pub mod shallow_water;
pub mod stencil_mlp;

use crate::core::Dynamics;
use crate::error::{Error, Result};
use crate::toml_source::TomlSource;

pub use lorenz63::{lorenz63, Lorenz63};
pub use lorenz96::{lorenz96, Lorenz96};
pub use lorenz96_two_scale::{lorenz96_two_scale, Lorenz96TwoScale, Lorenz96TwoScaleField};
pub use shallow_water::{
    shallow_water, InitialCondition, InitialKind, ShallowWater, ShallowWaterField,
};

/// What a model tells the outside world about itself: its name, time step and units, its
/// parameters, a default initial state, and its geometry (where its values live and how
/// files lay them out).
pub trait ModelInfo {
    /// Human-readable model name, e.g. "Lorenz-96".
    fn name(&self) -> &'static str;
    /// Model time step, in model time units.
    fn time_step(&self) -> f64;
    /// How model time maps to physical time in files (CF time): by default the convention
    /// of Lorenz (1996) for nondimensional models, 0.2 time units = 1 day.
    fn time_scale(&self) -> crate::io::cf_time::TimeScale {
        crate::io::cf_time::TimeScale::lorenz()
    }
    /// Names of the parameters θ, in order.
    fn param_names(&self) -> Vec<&'static str>;
    /// The initial state used when the user gives none.
    fn default_initial_state(&self) -> Vec<f64>;
    /// Where the model's values live: its variables on their grids, the coordinates of an
    /// observation's location, how a location is interpolated, and the CF layout of its
    /// fields in files.
    fn geometry(&self) -> crate::geometry::Geometry;
    /// Gravity g (m/s²) and Coriolis parameter f (1/s) of a rotating model, for the
    /// geostrophic balance of the background covariance; None (the default) for other models.
    fn gravity_and_coriolis(&self) -> Option<(f64, f64)> {
        None
    }
}

/// The largest state a model configuration may ask for, in values (one state is then 800 MB).
pub const MAX_STATE_VALUES: i64 = 100_000_000;

/// The settings table of a model file: a serde struct (unknown keys refused) that checks its
/// values and builds the model.
pub trait ModelSettings: serde::de::DeserializeOwned {
    /// The value of the file's `model` key, e.g. "lorenz96".
    const NAME: &'static str;
    /// The model these settings build.
    type Model: Dynamics + ModelInfo + Clone + std::fmt::Debug;
    /// Checks the settings, with errors naming the key and line of `source`, and builds the
    /// model.
    fn build(self, source: &TomlSource) -> Result<Self::Model>;
}

/// Work that needs a concrete model type: implement it once, generically, and
/// [`AnyModel::run`] calls it with whichever model a file names.
pub trait ModelTask {
    /// What the work returns.
    type Output;
    /// Does the work with `model`.
    fn run<M>(self, model: M) -> Result<Self::Output>
    where
        M: Dynamics + ModelInfo + Clone + Send + Sync;
}

/// Declares [`AnyModel`], one variant per registered model, and [`MODEL_NAMES`].
macro_rules! model_registry {
    ($($variant:ident => $settings:ty),+ $(,)?) => {
        /// A model built from a configuration file: any of the registered models.
        #[derive(Clone, Debug)]
        pub enum AnyModel {
            $(
                #[doc = concat!("Built from [`", stringify!($settings), "`].")]
                $variant(<$settings as ModelSettings>::Model),
            )+
        }

        /// The names a configuration's `model` key accepts.
        pub const MODEL_NAMES: &[&str] = &[$(<$settings as ModelSettings>::NAME),+];

        impl AnyModel {
            /// The model that TOML `source` names with its `model` key, built from the rest
            /// of the file.
            pub fn from_toml(source: &TomlSource) -> Result<Self> {
                let key: ModelKey = source.parse()?;
                let Some(name) = key.model else {
                    return Err(Error::config(
                        source.path,
                        format!("missing key `model` (one of {})", MODEL_NAMES.join(", ")),
                    ));
                };
                $(
                    if name.get_ref() == <$settings as ModelSettings>::NAME {
                        let settings: $settings = source.parse()?;
                        return Ok(AnyModel::$variant(settings.build(source)?));
                    }
                )+
                Err(source.key_error(
                    name.span(),
                    "model",
                    format!(
                        "unknown model '{}' (expected one of {})",
                        name.get_ref(),
                        MODEL_NAMES.join(", ")
                    ),
                ))
            }

            /// Runs `task` with (a copy of) the model.
            pub fn run<T: ModelTask>(&self, task: T) -> Result<T::Output> {
                match self {
                    $(AnyModel::$variant(model) => task.run(model.clone()),)+
                }
            }
        }
    };
}

/// Only the `model` key of a model file, read first to choose the settings type.
#[derive(serde::Deserialize)]
struct ModelKey {
    model: Option<toml::Spanned<String>>,
}

model_registry! {
    Lorenz96 => lorenz96::Lorenz96Settings,
    Lorenz63 => lorenz63::Lorenz63Settings,
    Lorenz96TwoScale => lorenz96_two_scale::Lorenz96TwoScaleConfig,
    ShallowWater => shallow_water::ShallowWaterSettings,
    Lorenz96Emulator => stencil_mlp::EmulatorSettings,
}
