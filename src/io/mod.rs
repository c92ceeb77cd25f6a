//! Files a user sees: model configurations (TOML), state files (text or NetCDF) and CF-NetCDF
//! results, always written atomically.

pub mod atomic_output;
pub mod model_config;
pub mod netcdf_trajectory;
pub mod state_file;
