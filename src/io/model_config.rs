//! Model configuration files (`models/*.toml`, or a trained emulator's JSON written by
//! `fourdvar emulator train`): the file's text, kept for provenance, and the model it names. What each model's keys are, with their defaults and limits, is the model's
//! own business ([`crate::models::ModelSettings`]); the `model` key chooses among the
//! registered models ([`crate::models::MODEL_NAMES`]).
//!
//! ```toml
//! model = "lorenz96"   # or "lorenz63", "shallow_water"
//! n = 40               # sites (Lorenz-96 only, N ≥ 4)
//! forcing = 8.0        # F (Lorenz-96 only)
//! dt = 0.05            # time step in model time units
//! ```

use crate::io::bounded_read::{read_text, CONFIG_BYTES};
use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::models::{AnyModel, ModelTask};
use crate::toml_source::TomlSource;

/// A model configuration as loaded from a file: the model, and the file's text for
/// provenance (it is copied into every output file).
#[derive(Clone, Debug)]
pub struct ModelConfig {
    /// The model the file names.
    pub model: AnyModel,
    /// Where it was read from.
    pub path: PathBuf,
    /// The file's text.
    pub text: String,
}

impl ModelConfig {
    /// Reads and validates a model configuration file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = read_text(path, CONFIG_BYTES, "model configuration")?;
        Self::parse(path, text)
    }

    /// Validates configuration `text` that came from `path`.
    pub fn parse(path: &Path, text: String) -> Result<Self> {
        let model = if crate::io::emulator_file::is_json(&text) {
            AnyModel::Lorenz96Emulator(crate::io::emulator_file::parse_emulator(path, &text, None)?)
        } else {
            AnyModel::from_toml(&TomlSource::new(path, &text))?
        };
        Ok(Self {
            model,
            path: path.to_path_buf(),
            text,
        })
    }

    /// Runs `task` with the model the file names.
    pub fn run<T: ModelTask>(&self, task: T) -> Result<T::Output> {
        self.model.run(task)
    }
}
