//! Lorenz-63: dx/dt = σ(y − x), dy/dt = x(ρ − z) − y, dz/dt = xy − βz, integrated with RK4.
//! The parameters are θ = [σ, ρ, β].

use super::rk4::{AdjointTargets, Rk4, VectorField};
use serde::Deserialize;
use toml::Spanned;

use super::{ModelInfo, ModelSettings};
use crate::error::Result;
use crate::geometry::ring::scalars;
use crate::geometry::Geometry;
use crate::toml_source::{unspanned, TomlSource};

/// The Lorenz-63 right-hand side.
#[derive(Clone, Debug)]
pub struct Lorenz63Field {
    /// Prandtl number σ (10 in Lorenz 1963).
    pub sigma: f64,
    /// Rayleigh number ρ (28).
    pub rho: f64,
    /// Geometric factor β (8/3).
    pub beta: f64,
}

/// A Lorenz-63 model file (`models/lorenz63.toml`): `model = "lorenz63"`, `sigma` (default
/// 10), `rho` (28), `beta` (8/3) and the time step `dt` (0.01).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lorenz63Settings {
    #[allow(dead_code)]
    model: String,
    #[serde(default = "default_sigma")]
    sigma: Spanned<f64>,
    #[serde(default = "default_rho")]
    rho: Spanned<f64>,
    #[serde(default = "default_beta")]
    beta: Spanned<f64>,
    #[serde(default = "default_dt")]
    dt: Spanned<f64>,
}

fn default_sigma() -> Spanned<f64> {
    unspanned(10.0)
}
fn default_rho() -> Spanned<f64> {
    unspanned(28.0)
}
fn default_beta() -> Spanned<f64> {
    unspanned(8.0 / 3.0)
}
fn default_dt() -> Spanned<f64> {
    unspanned(0.01)
}

impl ModelSettings for Lorenz63Settings {
    const NAME: &'static str = "lorenz63";
    type Model = Lorenz63;

    fn build(self, source: &TomlSource) -> Result<Lorenz63> {
        let sigma = source.finite(&self.sigma, "sigma")?;
        let rho = source.finite(&self.rho, "rho")?;
        let beta = source.finite(&self.beta, "beta")?;
        let dt = source.positive(&self.dt, "dt", "the time step")?;
        Ok(lorenz63(sigma, rho, beta, dt))
    }
}

/// The Lorenz-63 model: the RK4 step of [`Lorenz63Field`].
pub type Lorenz63 = Rk4<Lorenz63Field>;

/// Builds a Lorenz-63 model with parameters σ, ρ, β and time step dt.
pub fn lorenz63(sigma: f64, rho: f64, beta: f64, dt: f64) -> Lorenz63 {
    Rk4 {
        field: Lorenz63Field { sigma, rho, beta },
        dt,
    }
}

impl VectorField for Lorenz63Field {
    fn dim(&self) -> usize {
        3
    }

    fn param_len(&self) -> usize {
        3
    }

    fn params(&self) -> Vec<f64> {
        vec![self.sigma, self.rho, self.beta]
    }

    fn set_params(&mut self, params: &[f64]) {
        [self.sigma, self.rho, self.beta] = [params[0], params[1], params[2]];
    }

    fn eval(&self, s: &[f64], out: &mut [f64]) {
        let (x, y, z) = (s[0], s[1], s[2]);
        out[0] = self.sigma * (y - x);
        out[1] = x * (self.rho - z) - y;
        out[2] = x * y - self.beta * z;
    }

    /// J = [[−σ, σ, 0], [ρ−z, −1, −x], [y, x, −β]], ∂f/∂θ = [[y−x, 0, 0], [0, x, 0], [0, 0, −z]].
    fn tangent(&self, s: &[f64], ds: &[f64], dp: &[f64], out: &mut [f64]) {
        let (x, y, z) = (s[0], s[1], s[2]);
        let (dx, dy, dz) = (ds[0], ds[1], ds[2]);
        let [dsig, drho, dbeta] = match dp {
            [a, b, c] => [*a, *b, *c],
            _ => [0.0; 3],
        };
        out[0] = self.sigma * (dy - dx) + dsig * (y - x);
        out[1] = (self.rho - z) * dx - dy - x * dz + drho * x;
        out[2] = y * dx + x * dy - self.beta * dz - dbeta * z;
    }

    fn adjoint(&self, s: &[f64], l: &[f64], targets: AdjointTargets<'_>) {
        let (x, y, z) = (s[0], s[1], s[2]);
        let v = [
            -self.sigma * l[0] + (self.rho - z) * l[1] + y * l[2],
            self.sigma * l[0] - l[1] + x * l[2],
            -x * l[1] - self.beta * l[2],
        ];
        let alpha = targets.alpha;
        for (p, vi) in targets.primary.iter_mut().zip(v) {
            *p += alpha * vi;
        }
        if let Some((secondary, beta)) = targets.secondary {
            for (q, vi) in secondary.iter_mut().zip(v) {
                *q += beta * vi;
            }
        }
        if let [sig, rho, beta] = targets.params {
            *sig += alpha * (y - x) * l[0];
            *rho += alpha * x * l[1];
            *beta -= alpha * z * l[2];
        }
    }
}

impl ModelInfo for Lorenz63 {
    fn name(&self) -> &'static str {
        "Lorenz-63"
    }
    fn time_step(&self) -> f64 {
        self.dt
    }
    fn param_names(&self) -> Vec<&'static str> {
        vec!["sigma", "rho", "beta"]
    }
    /// (1, 1, 1), near the unstable origin, from which the orbit joins the attractor.
    fn default_initial_state(&self) -> Vec<f64> {
        vec![1.0, 1.0, 1.0]
    }
    /// Three variables x, y, z at a single point (position 0), written as `x(time)`,
    /// `y(time)`, `z(time)`.
    fn geometry(&self) -> Geometry {
        let long_names = [
            "Lorenz-63 x (intensity of convection)",
            "Lorenz-63 y (temperature difference between rising and falling currents)",
            "Lorenz-63 z (distortion of the vertical temperature profile)",
        ];
        scalars(&["x", "y", "z"], long_names.map(String::from).to_vec())
    }
}
