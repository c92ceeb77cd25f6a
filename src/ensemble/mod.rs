//! Ensemble data assimilation beside 4D-Var (issue #12): the analysis steps of ensemble
//! Kalman filters, on the same models, observations and covariances, so a user compares
//! methods on the same truth without a second package. Knows `core`, `obs` and `cov`, like
//! `var`.

pub mod adaptive_inflation;
pub mod alpha_control;
pub mod etkf;
pub mod four_d_en_var;
pub mod letkf;
pub mod localisation;
pub mod member_runs;
pub mod settings;
pub mod smoother_update;

pub use etkf::{etkf_analysis, EtkfAnalysis};
pub use letkf::{letkf_analysis, ObservationLocality};
pub use settings::{CycleMethod, EnsembleSettings, MemberUpdate};
pub use smoother_update::smoother_update;
