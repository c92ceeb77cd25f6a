//! Files a user sees: model configurations (TOML), state files (text or NetCDF) and CF-NetCDF
//! results, always written atomically.

pub mod analysis_file;
pub mod atomic_output;
pub mod bounded_read;
pub mod cf_arrays;
pub mod cf_time;
pub(crate) mod csv_table;
pub mod emulator_file;
pub mod experiment_config;
pub mod json_keys;
pub mod model_config;
pub mod netcdf_metadata_check;
pub mod netcdf_open;
pub mod netcdf_trajectory;
pub mod observation_file;
pub mod observation_network;
pub mod output_paths;
pub mod rnn_files;
pub mod state_file;
