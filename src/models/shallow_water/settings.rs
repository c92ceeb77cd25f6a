//! The shallow-water model file (`models/shallow_water.toml`): `model = "shallow_water"`,
//! `nx`, `ny` (cells, ≥ 3, default 64), `dx`, `dy` (m, default 100 km), `depth` H (m, 1000),
//! `g` (m/s², 9.81), `f` (1/s, 10⁻⁴), `viscosity` ν (m²/s, 0), `dt` (s, 300), an optional
//! `[initial]` table and an optional `parameters = ["f", "g"]` list of θ.
//!
//! The time step must satisfy the gravity-wave CFL bound √(gH)·dt·√(1/dx² + 1/dy²) ≤
//! [`MAX_COURANT`] (RK4 is stable up to √2 for the C-grid waves; 1 leaves room for advection
//! and rotation) and, when ν > 0, the diffusion bound 4ν·dt·(1/dx² + 1/dy²) ≤
//! [`MAX_DIFFUSION_NUMBER`] (RK4's real-axis limit is about 2.79).
//!
//! `[initial]` chooses the default initial state ([`InitialCondition`]): `kind = "bump"`
//! (default; a Gaussian at rest, geostrophic adjustment), `"jet"` (two opposite zonal jets in
//! discrete geostrophic balance) or `"eddies"` (random balanced eddies); `amplitude` (m, ≥ 0,
//! default 10), `width` (grid cells, > 0; default 3 for the bump, ny/16 for the jet, 4 for
//! eddies) and `seed` (eddies only, ≥ 0, default 1). The balanced kinds need f ≠ 0.

use serde::Deserialize;
use toml::Spanned;

use super::{
    shallow_water, InitialCondition, InitialKind, ShallowWater, ShallowWaterField,
    ShallowWaterParameters, PARALLEL_MIN_CELLS,
};
use crate::core::choice::choice_name;
use crate::error::Result;
use crate::models::{ModelSettings, MAX_STATE_VALUES};
use crate::toml_source::{unspanned, TomlSource};

/// The largest Courant number √(gH)·dt·√(1/dx² + 1/dy²) accepted.
pub const MAX_COURANT: f64 = 1.0;

/// The largest diffusion number 4ν·dt·(1/dx² + 1/dy²) accepted.
pub const MAX_DIFFUSION_NUMBER: f64 = 2.5;

/// A shallow-water model file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShallowWaterSettings {
    #[allow(dead_code)]
    model: String,
    #[serde(default = "default_cells")]
    nx: Spanned<i64>,
    #[serde(default = "default_cells")]
    ny: Spanned<i64>,
    #[serde(default = "default_spacing")]
    dx: Spanned<f64>,
    #[serde(default = "default_spacing")]
    dy: Spanned<f64>,
    #[serde(default = "default_depth")]
    depth: Spanned<f64>,
    #[serde(default = "default_g")]
    g: Spanned<f64>,
    #[serde(default = "default_f")]
    f: Spanned<f64>,
    #[serde(default = "default_viscosity")]
    viscosity: Spanned<f64>,
    #[serde(default = "default_dt")]
    dt: Spanned<f64>,
    initial: Option<InitialSettings>,
    parameters: Option<Spanned<Vec<Parameter>>>,
}

/// The `[initial]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InitialSettings {
    kind: Option<Spanned<InitialKind>>,
    amplitude: Option<Spanned<f64>>,
    width: Option<Spanned<f64>>,
    seed: Option<Spanned<i64>>,
}

/// A model constant that can be exposed as a parameter θ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
enum Parameter {
    /// The Coriolis parameter.
    #[serde(rename = "f")]
    Coriolis,
    /// Gravity.
    #[serde(rename = "g")]
    Gravity,
}

fn default_cells() -> Spanned<i64> {
    unspanned(64)
}
fn default_spacing() -> Spanned<f64> {
    unspanned(100e3)
}
fn default_depth() -> Spanned<f64> {
    unspanned(1000.0)
}
fn default_g() -> Spanned<f64> {
    unspanned(9.81)
}
fn default_f() -> Spanned<f64> {
    unspanned(1e-4)
}
fn default_viscosity() -> Spanned<f64> {
    unspanned(0.0)
}
fn default_dt() -> Spanned<f64> {
    unspanned(300.0)
}

impl ModelSettings for ShallowWaterSettings {
    const NAME: &'static str = "shallow_water";
    type Model = ShallowWater;

    fn build(self, source: &TomlSource) -> Result<ShallowWater> {
        let size = |value: &Spanned<i64>, key: &str| {
            let v = *value.get_ref();
            source.require(v >= 3, value, key, || {
                format!("the grid needs at least 3 cells along each axis, got {v}")
            })?;
            source.require(v <= MAX_STATE_VALUES, value, key, || {
                format!("at most {MAX_STATE_VALUES} cells per axis are supported, got {v}")
            })?;
            Ok::<usize, crate::Error>(v as usize)
        };
        let (nx, ny) = (size(&self.nx, "nx")?, size(&self.ny, "ny")?);
        let fits = nx
            .checked_mul(ny)
            .and_then(|m| m.checked_mul(3))
            .is_some_and(|len| len as u64 <= MAX_STATE_VALUES as u64);
        source.require(fits, &self.ny, "ny", || {
            format!(
                "the grid {nx} x {ny} is too large: at most {MAX_STATE_VALUES} values per state \
                 are supported"
            )
        })?;
        let dx = source.positive(&self.dx, "dx", "the grid spacing (m)")?;
        let dy = source.positive(&self.dy, "dy", "the grid spacing (m)")?;
        let depth = source.positive(&self.depth, "depth", "the mean depth (m)")?;
        let gravity = source.positive(&self.g, "g", "the gravity (m/s^2)")?;
        let coriolis = source.finite(&self.f, "f")?;
        let nu = *self.viscosity.get_ref();
        source.require(
            nu.is_finite() && nu >= 0.0,
            &self.viscosity,
            "viscosity",
            || format!("the viscosity (m^2/s) must be finite and >= 0, got {nu}"),
        )?;
        let dt = source.positive(&self.dt, "dt", "the time step")?;
        let initial = match &self.initial {
            None => InitialCondition::default(),
            Some(table) => table.build(source, ny, coriolis)?,
        };
        let parameters = match &self.parameters {
            None => ShallowWaterParameters::default(),
            Some(list) => parameters(source, list)?,
        };
        let field = ShallowWaterField {
            parameters,
            nx,
            ny,
            dx,
            dy,
            depth,
            gravity,
            coriolis,
            viscosity: nu,
            initial,
            parallel_min_cells: PARALLEL_MIN_CELLS,
        };
        check_stability(source, &self.dt, &field, dt)?;
        Ok(shallow_water(field, dt))
    }
}

/// The CFL and diffusion bounds on the time step `dt` of `field` (see the module docs).
fn check_stability(
    source: &TomlSource,
    key: &Spanned<f64>,
    field: &ShallowWaterField,
    dt: f64,
) -> Result<()> {
    let inverse = (1.0 / (field.dx * field.dx) + 1.0 / (field.dy * field.dy)).sqrt();
    let courant = field.wave_speed() * dt * inverse;
    source.require(courant <= MAX_COURANT, key, "dt", || {
        let largest = MAX_COURANT / (field.wave_speed() * inverse);
        format!(
            "time step {dt} s is unstable: Courant number sqrt(g*depth)*dt*sqrt(1/dx^2+1/dy^2) = \
             {courant:.3} > {MAX_COURANT}; the largest stable dt is {largest:.1} s"
        )
    })?;
    let nu = field.viscosity;
    let diffusion = 4.0 * nu * dt * inverse * inverse;
    source.require(diffusion <= MAX_DIFFUSION_NUMBER, key, "dt", || {
        let largest = MAX_DIFFUSION_NUMBER / (4.0 * nu * inverse * inverse);
        format!(
            "time step {dt} s is unstable for viscosity {nu} m^2/s: \
             4*viscosity*dt*(1/dx^2+1/dy^2) = {diffusion:.3} > {MAX_DIFFUSION_NUMBER}; the \
             largest stable dt is {largest:.1} s"
        )
    })
}

impl InitialSettings {
    /// The initial condition of a grid with `ny` rows and Coriolis parameter `coriolis`.
    fn build(&self, source: &TomlSource, ny: usize, coriolis: f64) -> Result<InitialCondition> {
        let kind = self
            .kind
            .as_ref()
            .map_or(InitialKind::Bump, |k| *k.get_ref());
        let amplitude = match &self.amplitude {
            None => 10.0,
            Some(a) => {
                let v = *a.get_ref();
                source.require(v.is_finite() && v >= 0.0, a, "initial.amplitude", || {
                    format!("the amplitude (m) must be finite and >= 0, got {v}")
                })?;
                v
            }
        };
        let width = match &self.width {
            None => match kind {
                InitialKind::Bump => 3.0,
                InitialKind::Jet => (ny as f64 / 16.0).max(1.0),
                InitialKind::Eddies => 4.0,
            },
            Some(w) => source.positive(w, "initial.width", "the width (grid cells)")?,
        };
        if let Some(seed) = &self.seed {
            let v = *seed.get_ref();
            let eddies = kind == InitialKind::Eddies;
            source.require(eddies && v >= 0, seed, "initial.seed", || {
                if eddies {
                    format!("the seed must be >= 0, got {v}")
                } else {
                    format!(
                        "only kind = \"eddies\" takes a seed (kind is \"{}\")",
                        choice_name(&kind)
                    )
                }
            })?;
        }
        if kind != InitialKind::Bump && coriolis == 0.0 {
            let at = self
                .kind
                .as_ref()
                .expect("a balanced kind is given explicitly");
            source.require(false, at, "initial.kind", || {
                format!(
                    "a balanced '{}' needs a nonzero Coriolis parameter `f` (h = f psi / g)",
                    choice_name(&kind)
                )
            })?;
        }
        Ok(match kind {
            InitialKind::Bump => InitialCondition::Bump { amplitude, width },
            InitialKind::Jet => InitialCondition::Jet { amplitude, width },
            InitialKind::Eddies => InitialCondition::Eddies {
                amplitude,
                width,
                seed: self.seed.as_ref().map_or(1, |s| *s.get_ref() as u64),
            },
        })
    }
}

/// The parameters θ a `parameters` list selects; a name listed twice is an error.
fn parameters(
    source: &TomlSource,
    list: &Spanned<Vec<Parameter>>,
) -> Result<ShallowWaterParameters> {
    let mut selected = ShallowWaterParameters::default();
    for &p in list.get_ref() {
        let (flag, name) = match p {
            Parameter::Coriolis => (&mut selected.coriolis, "f"),
            Parameter::Gravity => (&mut selected.gravity, "g"),
        };
        source.require(!*flag, list, "parameters", || {
            format!("parameter '{name}' is listed twice")
        })?;
        *flag = true;
    }
    Ok(selected)
}
