//! fourdvar: variational data assimilation (4D-Var) and back-propagation through time on one
//! hand-written adjoint core.
//!
//! Layers, with imports pointing downward only (see DESIGN.md): [`cli`] → [`experiment`] →
//! [`io`] → [`var`] → [`obs`], [`cov`] → [`models`] → [`core`]. The core knows nothing of the layers above it: it defines
//! the [`core::Dynamics`] trait, the one adjoint sweep and the derivative checks.

pub mod cli;
pub mod core;
pub mod cov;
pub mod ensemble;
pub mod error;
pub mod experiment;
pub mod geometry;
pub mod interrupt;
pub mod io;
pub mod lesson;
pub mod models;
pub mod obs;
pub mod plot;
pub mod progress;
pub mod rnn;
pub mod toml_source;
pub mod var;

pub use error::{Error, Result};
