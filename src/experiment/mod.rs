//! Runs a user asks for, end to end: forecasts, derivative checks, benchmarks. Each takes a
//! request, does the work with a model from [`crate::io::model_config`], reports progress and
//! writes its result files atomically.

pub mod adjoint_memory;
pub mod assimilate;
pub mod benchmark;
pub mod cycle;
pub mod demo;
pub mod derivative_check;
pub mod emulator;
mod ensemble_cycle;
pub mod forecast;
pub mod network_check;
pub mod observe;
pub mod results;
pub mod rnn_analysis;
pub mod rnn_gradient;
pub mod rnn_predict;
pub mod rnn_train;
pub mod roofline;
pub mod twin_data;
pub mod twin_window;
pub mod window_analysis;
