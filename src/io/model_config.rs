//! Model configuration files (`models/*.toml`): which model, its size, parameters and time
//! step. Every error names the file and, where it can, the line and key.
//!
//! ```toml
//! model = "lorenz96"   # or "lorenz63", "shallow_water"
//! n = 40               # sites (Lorenz-96 only, N ≥ 4)
//! forcing = 8.0        # F (Lorenz-96 only)
//! dt = 0.05            # time step in model time units
//! ```
//!
//! Shallow water (`model = "shallow_water"`) takes nx, ny (cells, ≥ 3), dx, dy (m), depth H
//! (m), g (m/s²), f (1/s), viscosity ν (m²/s, default 0) and dt (s). The time step must
//! satisfy the gravity-wave CFL bound √(gH)·dt·√(1/dx² + 1/dy²) ≤ 1 (RK4 is stable up to √2
//! for the C-grid waves; 1 leaves room for advection and rotation) and, when ν > 0, the
//! diffusion bound 4ν·dt·(1/dx² + 1/dy²) ≤ 2.5 (RK4's real-axis limit is about 2.79).
//!
//! An optional `[initial]` table chooses the default initial state
//! ([`crate::models::InitialCondition`]): `kind = "bump"` (default; a Gaussian at rest,
//! geostrophic adjustment), `"jet"` (two opposite zonal jets in discrete geostrophic balance)
//! or `"eddies"` (random balanced eddies); `amplitude` (m, ≥ 0, default 10), `width` (grid
//! cells, > 0; default 3 for the bump, ny/16 for the jet, 4 for eddies) and `seed` (eddies
//! only, ≥ 0, default 1). The balanced kinds need f ≠ 0.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::core::Dynamics;
use crate::error::{Error, Result};
use crate::models::shallow_water::ShallowWaterParameters;
use crate::models::shallow_water::PARALLEL_MIN_CELLS;
use crate::models::{
    lorenz63, lorenz96, shallow_water, InitialCondition, ModelInfo, ShallowWaterField,
};

/// The largest Lorenz-96 ring accepted (one state is then 800 MB).
pub const MAX_SITES: i64 = 100_000_000;

/// The models a configuration can name.
pub const MODEL_NAMES: &[&str] = &["lorenz96", "lorenz63", "shallow_water"];

/// The largest shallow-water Courant number √(gH)·dt·√(1/dx² + 1/dy²) accepted.
pub const MAX_COURANT: f64 = 1.0;

/// The largest shallow-water diffusion number 4ν·dt·(1/dx² + 1/dy²) accepted.
pub const MAX_DIFFUSION_NUMBER: f64 = 2.5;

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

/// Shallow-water settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShallowWaterFile {
    #[allow(dead_code)]
    model: String,
    #[serde(default = "default_sw_cells")]
    nx: Spanned<i64>,
    #[serde(default = "default_sw_cells")]
    ny: Spanned<i64>,
    #[serde(default = "default_sw_spacing")]
    dx: Spanned<f64>,
    #[serde(default = "default_sw_spacing")]
    dy: Spanned<f64>,
    #[serde(default = "default_sw_depth")]
    depth: Spanned<f64>,
    #[serde(default = "default_sw_g")]
    g: Spanned<f64>,
    #[serde(default = "default_sw_f")]
    f: Spanned<f64>,
    #[serde(default = "default_sw_viscosity")]
    viscosity: Spanned<f64>,
    #[serde(default = "default_sw_dt")]
    dt: Spanned<f64>,
    initial: Option<Spanned<InitialFile>>,
    parameters: Option<Spanned<Vec<String>>>,
}

/// The `[initial]` table of a shallow-water configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InitialFile {
    kind: Option<Spanned<String>>,
    amplitude: Option<Spanned<f64>>,
    width: Option<Spanned<f64>>,
    seed: Option<Spanned<i64>>,
}

fn default_sw_cells() -> Spanned<i64> {
    unspanned(64)
}
fn default_sw_spacing() -> Spanned<f64> {
    unspanned(100e3)
}
fn default_sw_depth() -> Spanned<f64> {
    unspanned(1000.0)
}
fn default_sw_g() -> Spanned<f64> {
    unspanned(9.81)
}
fn default_sw_f() -> Spanned<f64> {
    unspanned(1e-4)
}
fn default_sw_viscosity() -> Spanned<f64> {
    unspanned(0.0)
}
fn default_sw_dt() -> Spanned<f64> {
    unspanned(300.0)
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
    /// Rotating shallow water on an nx × ny periodic C-grid (see
    /// [`crate::models::shallow_water`]).
    ShallowWater {
        /// The right-hand side: grid, depth, g, f and ν.
        field: ShallowWaterField,
        /// Time step, s.
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
            "shallow_water" => {
                let f: ShallowWaterFile = toml::from_str(&text).map_err(toml_error)?;
                let size = |value: &Spanned<i64>, key: &str| {
                    let v = *value.get_ref();
                    let what = format!("the grid needs at least 3 cells along each axis, got {v}");
                    check(v >= 3, value.span(), key, what)?;
                    let what = format!("at most {MAX_SITES} cells per axis are supported, got {v}");
                    check(v <= MAX_SITES, value.span(), key, what)?;
                    Ok::<usize, Error>(v as usize)
                };
                let (nx, ny) = (size(&f.nx, "nx")?, size(&f.ny, "ny")?);
                let what = format!(
                    "the grid {nx} x {ny} is too large: at most {MAX_SITES} values per state are supported"
                );
                let fits = nx
                    .checked_mul(ny)
                    .and_then(|m| m.checked_mul(3))
                    .is_some_and(|len| len as u64 <= MAX_SITES as u64);
                check(fits, f.ny.span(), "ny", what)?;
                for (value, key, what) in [
                    (&f.dx, "dx", "grid spacing (m)"),
                    (&f.dy, "dy", "grid spacing (m)"),
                    (&f.depth, "depth", "mean depth (m)"),
                    (&f.g, "g", "gravity (m/s^2)"),
                ] {
                    let v = *value.get_ref();
                    let what = format!("the {what} must be a positive number, got {v}");
                    check(v.is_finite() && v > 0.0, value.span(), key, what)?;
                }
                finite(&f.f, "f")?;
                let nu = *f.viscosity.get_ref();
                let what = format!("the viscosity (m^2/s) must be finite and >= 0, got {nu}");
                check(
                    nu.is_finite() && nu >= 0.0,
                    f.viscosity.span(),
                    "viscosity",
                    what,
                )?;
                time_step(&f.dt)?;
                let initial = match &f.initial {
                    None => InitialCondition::default(),
                    Some(table) => {
                        let span = table.span();
                        let t = table.get_ref();
                        let kind = t.kind.as_ref().map_or("bump", |k| k.get_ref().as_str());
                        let kind_span = t.kind.as_ref().map_or(span.clone(), |k| k.span());
                        if !InitialCondition::KINDS.contains(&kind) {
                            let what = format!(
                                "unknown initial condition '{kind}' (expected one of {})",
                                InitialCondition::KINDS.join(", ")
                            );
                            return Err(key_error(kind_span, "initial.kind", what));
                        }
                        let amplitude = match &t.amplitude {
                            None => 10.0,
                            Some(a) => {
                                let v = *a.get_ref();
                                let what =
                                    format!("the amplitude (m) must be finite and >= 0, got {v}");
                                check(
                                    v.is_finite() && v >= 0.0,
                                    a.span(),
                                    "initial.amplitude",
                                    what,
                                )?;
                                v
                            }
                        };
                        let width = match &t.width {
                            None => match kind {
                                "bump" => 3.0,
                                "jet" => (ny as f64 / 16.0).max(1.0),
                                _ => 4.0,
                            },
                            Some(w) => {
                                let v = *w.get_ref();
                                let what = format!(
                                    "the width (grid cells) must be a positive number, got {v}"
                                );
                                check(v.is_finite() && v > 0.0, w.span(), "initial.width", what)?;
                                v
                            }
                        };
                        if let Some(seed) = &t.seed {
                            let v = *seed.get_ref();
                            let what = if kind == "eddies" {
                                format!("the seed must be >= 0, got {v}")
                            } else {
                                format!("only kind = \"eddies\" takes a seed (kind is \"{kind}\")")
                            };
                            check(
                                kind == "eddies" && v >= 0,
                                seed.span(),
                                "initial.seed",
                                what,
                            )?;
                        }
                        if kind != "bump" && *f.f.get_ref() == 0.0 {
                            let what = format!(
                                "a balanced '{kind}' needs a nonzero Coriolis parameter `f` (h = f psi / g)"
                            );
                            return Err(key_error(kind_span, "initial.kind", what));
                        }
                        match kind {
                            "bump" => InitialCondition::Bump { amplitude, width },
                            "jet" => InitialCondition::Jet { amplitude, width },
                            _ => InitialCondition::Eddies {
                                amplitude,
                                width,
                                seed: t.seed.as_ref().map_or(1, |s| *s.get_ref() as u64),
                            },
                        }
                    }
                };
                let mut parameters = ShallowWaterParameters::default();
                if let Some(list) = &f.parameters {
                    for name in list.get_ref() {
                        let flag = match name.as_str() {
                            "f" => &mut parameters.coriolis,
                            "g" => &mut parameters.gravity,
                            other => {
                                let what = format!(
                                    "unknown parameter '{other}' (the shallow-water model can \
                                     expose \"f\" and \"g\")"
                                );
                                check(false, list.span(), "parameters", what)?;
                                continue;
                            }
                        };
                        let what = format!("parameter '{name}' is listed twice");
                        check(!*flag, list.span(), "parameters", what)?;
                        *flag = true;
                    }
                }
                let field = ShallowWaterField {
                    parameters,
                    nx,
                    ny,
                    dx: *f.dx.get_ref(),
                    dy: *f.dy.get_ref(),
                    depth: *f.depth.get_ref(),
                    gravity: *f.g.get_ref(),
                    coriolis: *f.f.get_ref(),
                    viscosity: nu,
                    initial,
                    parallel_min_cells: PARALLEL_MIN_CELLS,
                };
                let dt = *f.dt.get_ref();
                let inverse = (1.0 / (field.dx * field.dx) + 1.0 / (field.dy * field.dy)).sqrt();
                let courant = field.wave_speed() * dt * inverse;
                let largest = MAX_COURANT / (field.wave_speed() * inverse);
                let what = format!(
                    "time step {dt} s is unstable: Courant number sqrt(g*depth)*dt*sqrt(1/dx^2+1/dy^2) = {courant:.3} > {MAX_COURANT}; the largest stable dt is {largest:.1} s"
                );
                check(courant <= MAX_COURANT, f.dt.span(), "dt", what)?;
                let diffusion = 4.0 * nu * dt * inverse * inverse;
                if diffusion > MAX_DIFFUSION_NUMBER {
                    let largest = MAX_DIFFUSION_NUMBER / (4.0 * nu * inverse * inverse);
                    let what = format!(
                        "time step {dt} s is unstable for viscosity {nu} m^2/s: 4*viscosity*dt*(1/dx^2+1/dy^2) = {diffusion:.3} > {MAX_DIFFUSION_NUMBER}; the largest stable dt is {largest:.1} s"
                    );
                    return Err(key_error(f.dt.span(), "dt", what));
                }
                ModelChoice::ShallowWater { field, dt }
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
            ModelChoice::ShallowWater { ref field, dt } => {
                task.run(shallow_water(field.clone(), dt))
            }
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
