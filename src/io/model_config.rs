//! Model configuration files (`models/*.toml`): which model, its size, parameters and time
//! step. Every error names the file and, where it can, the line and key.
//!
//! ```toml
//! model = "lorenz96"   # or "lorenz63"
//! n = 40               # sites (Lorenz-96 only, N ≥ 4)
//! forcing = 8.0        # F (Lorenz-96 only)
//! dt = 0.05            # time step in model time units
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::core::Dynamics;
use crate::error::{Error, Result};
use crate::models::{lorenz63, lorenz96, ModelInfo};

/// The largest Lorenz-96 ring accepted (one state is then 800 MB).
pub const MAX_SITES: i64 = 100_000_000;

/// The models a configuration can name.
pub const MODEL_NAMES: &[&str] = &["lorenz96", "lorenz63"];

/// Lorenz-96 settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Lorenz96File {
    #[allow(dead_code)]
    model: String,
    #[serde(default = "default_l96_n")]
    n: Spanned<i64>,
    #[serde(default = "default_l96_forcing")]
    forcing: Spanned<f64>,
    #[serde(default = "default_l96_dt")]
    dt: Spanned<f64>,
}

/// Lorenz-63 settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Lorenz63File {
    #[allow(dead_code)]
    model: String,
    #[serde(default = "default_l63_sigma")]
    sigma: Spanned<f64>,
    #[serde(default = "default_l63_rho")]
    rho: Spanned<f64>,
    #[serde(default = "default_l63_beta")]
    beta: Spanned<f64>,
    #[serde(default = "default_l63_dt")]
    dt: Spanned<f64>,
}

fn unspanned<T>(value: T) -> Spanned<T> {
    Spanned::new(0..0, value)
}
fn default_l96_n() -> Spanned<i64> {
    unspanned(40)
}
fn default_l96_forcing() -> Spanned<f64> {
    unspanned(8.0)
}
fn default_l96_dt() -> Spanned<f64> {
    unspanned(0.05)
}
fn default_l63_sigma() -> Spanned<f64> {
    unspanned(10.0)
}
fn default_l63_rho() -> Spanned<f64> {
    unspanned(28.0)
}
fn default_l63_beta() -> Spanned<f64> {
    unspanned(8.0 / 3.0)
}
fn default_l63_dt() -> Spanned<f64> {
    unspanned(0.01)
}

/// Only the `model` key, read first to choose the schema for the rest.
#[derive(Deserialize)]
struct ModelKey {
    model: Option<Spanned<String>>,
}

/// A validated model choice.
#[derive(Clone, Debug, PartialEq)]
pub enum ModelChoice {
    /// Lorenz-96 with N sites, forcing F and time step dt.
    Lorenz96 {
        /// Sites.
        n: usize,
        /// Forcing.
        forcing: f64,
        /// Time step.
        dt: f64,
    },
    /// Lorenz-63 with σ, ρ, β and time step dt.
    Lorenz63 {
        /// σ.
        sigma: f64,
        /// ρ.
        rho: f64,
        /// β.
        beta: f64,
        /// Time step.
        dt: f64,
    },
}

/// A model configuration as loaded from a file: the choice, and the file's text for
/// provenance (it is copied into every output file).
#[derive(Clone, Debug)]
pub struct ModelConfig {
    /// The validated model choice.
    pub choice: ModelChoice,
    /// Where it was read from.
    pub path: PathBuf,
    /// The file's text.
    pub text: String,
}

/// Work that needs a concrete model type: implement it once, generically, and
/// [`ModelConfig::run`] calls it with whichever model the file names.
pub trait ModelTask {
    /// What the work returns.
    type Output;
    /// Does the work with `model`.
    fn run<M>(self, model: M) -> Result<Self::Output>
    where
        M: Dynamics + ModelInfo + Clone;
}

impl ModelConfig {
    /// Reads and validates a model configuration file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(path, text)
    }

    /// Validates configuration `text` that came from `path`.
    pub fn parse(path: &Path, text: String) -> Result<Self> {
        let toml_error = |e: toml::de::Error| Error::config(path, describe_toml_error(&text, &e));
        let key: ModelKey = toml::from_str(&text).map_err(toml_error)?;
        let Some(model) = key.model else {
            return Err(Error::config(
                path,
                format!("missing key `model` (one of {})", MODEL_NAMES.join(", ")),
            ));
        };
        let key_error = |span: std::ops::Range<usize>, key: &str, what: String| {
            let at = line_of(&text, span.start)
                .map(|l| format!("line {l}, "))
                .unwrap_or_default();
            Error::config(path, format!("{at}key `{key}`: {what}"))
        };
        let check = |ok: bool, span: std::ops::Range<usize>, key: &str, what: String| {
            if ok {
                Ok(())
            } else {
                Err(key_error(span, key, what))
            }
        };
        let finite = |value: &Spanned<f64>, key: &str| {
            let v = *value.get_ref();
            check(
                v.is_finite(),
                value.span(),
                key,
                format!("must be finite, got {v}"),
            )
        };
        let time_step = |dt: &Spanned<f64>| {
            let v = *dt.get_ref();
            let what = format!("the time step must be a positive number, got {v}");
            check(v.is_finite() && v > 0.0, dt.span(), "dt", what)
        };
        let choice = match model.get_ref().as_str() {
            "lorenz96" => {
                let f: Lorenz96File = toml::from_str(&text).map_err(toml_error)?;
                let n = *f.n.get_ref();
                let what = format!("Lorenz-96 needs at least 4 sites, got {n}");
                check(n >= 4, f.n.span(), "n", what)?;
                // A bound that keeps one state within a few GiB of memory.
                let what = format!("at most {MAX_SITES} sites are supported, got {n}");
                check(n <= MAX_SITES, f.n.span(), "n", what)?;
                finite(&f.forcing, "forcing")?;
                time_step(&f.dt)?;
                ModelChoice::Lorenz96 {
                    n: n as usize,
                    forcing: *f.forcing.get_ref(),
                    dt: *f.dt.get_ref(),
                }
            }
            "lorenz63" => {
                let f: Lorenz63File = toml::from_str(&text).map_err(toml_error)?;
                finite(&f.sigma, "sigma")?;
                finite(&f.rho, "rho")?;
                finite(&f.beta, "beta")?;
                time_step(&f.dt)?;
                ModelChoice::Lorenz63 {
                    sigma: *f.sigma.get_ref(),
                    rho: *f.rho.get_ref(),
                    beta: *f.beta.get_ref(),
                    dt: *f.dt.get_ref(),
                }
            }
            other => {
                let what = format!(
                    "unknown model '{other}' (expected one of {})",
                    MODEL_NAMES.join(", ")
                );
                return Err(key_error(model.span(), "model", what));
            }
        };
        Ok(Self {
            choice,
            path: path.to_path_buf(),
            text,
        })
    }

    /// Builds the model the file names and runs `task` with it.
    pub fn run<T: ModelTask>(&self, task: T) -> Result<T::Output> {
        match self.choice {
            ModelChoice::Lorenz96 { n, forcing, dt } => task.run(lorenz96(n, forcing, dt)),
            ModelChoice::Lorenz63 {
                sigma,
                rho,
                beta,
                dt,
            } => task.run(lorenz63(sigma, rho, beta, dt)),
        }
    }
}

/// 1-based line of byte offset `offset`, or None for values that came from defaults.
fn line_of(text: &str, offset: usize) -> Option<usize> {
    (offset > 0 || text.starts_with(|c: char| !c.is_whitespace()))
        .then(|| text[..offset.min(text.len())].matches('\n').count() + 1)
}

/// toml's message with the line number put first, on one line.
fn describe_toml_error(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim().to_string();
    match e.span() {
        Some(span) => format!(
            "line {}: {message}",
            text[..span.start.min(text.len())].matches('\n').count() + 1
        ),
        None => message,
    }
}
