//! Observations and their operators: what was measured where and when ([`Observation`],
//! [`ObservationSet`]), the observation operators H with hand-written tangent-linear and
//! adjoint ([`ObservationOperator`]), and the observation term of 4D-Var as a stage cost of
//! the core ([`ObservationMisfit`]). Files (CSV, NetCDF, observation networks) live in
//! [`crate::io`].

pub mod misfit;
pub mod network;
pub mod observation;
pub mod operator;

pub use misfit::ObservationMisfit;
pub use observation::{Observation, ObservationKind, ObservationSet};
pub use operator::ObservationOperator;
