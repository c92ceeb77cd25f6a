//! B as a user describes it — the `[background]` table of an experiment file and the `--b-*`
//! flags, typed once — and B built from that description over a model's geometry.
//!
//! Every variable v has a standard deviation σ_v (`sigmas`, by variable name; `sigma`
//! otherwise) and, for the Gaussian correlation, a length scale L_v in the units of the
//! geometry's locations (`length_scales`, else `length_scale`, else
//! [`DEFAULT_LENGTH_SCALE_SPACINGS`] of the variable's grid spacings). Variables are
//! uncorrelated with each other unless a balance couples them.
//!
//! - `none`: diag(σ_v²).
//! - `gaussian`: the Gaussian of the distance on each variable's grid. A variable on one axis
//!   (a ring of sites, a closed line) gets the dense B_ij = σ_v² exp(−d_ij²/(2L_v²)), which is
//!   exact but must be positive definite (see [`BackgroundCovariance::gaussian`]); variables
//!   on a grid of cells (x, y) get the separable wrapped Gaussian applied through its 1-D
//!   factors ([`super::PlaneGaussian`]), which never forms the n×n matrix.
//! - `climatological`: the scaled sample covariance of a free run (dense; at most
//!   [`MAX_CLIMATOLOGICAL_LEN`] state values).
//! - `balance = "geostrophic"` makes the cell-grid Gaussian multivariate, B = K B_u Kᵀ
//!   ([`GeostrophicBalance`]), for a rotating model.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::background::{BackgroundCovariance, GaussianBlock};
use super::balance::GeostrophicBalance;
use crate::error::{Error, Result};
use crate::geometry::staggered_plane::cells_of;
use crate::geometry::Geometry;

/// Default Gaussian length scale in grid spacings of the variable's finest axis, by the
/// number of grid axes: 2 on a line; 1.5 on a plane, where 2 spacings along both axes would
/// make the 2-D correlation too ill-conditioned (κ ≈ 4·10¹⁶).
pub const DEFAULT_LENGTH_SCALE_SPACINGS: [f64; 2] = [2.0, 1.5];

/// Largest state for which the climatological B is accepted: it is a dense n×n matrix
/// decomposed once (O(n³)) and needs more than n free-run samples.
pub const MAX_CLIMATOLOGICAL_LEN: usize = 2000;

/// The correlation model of B.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum CorrelationKind {
    /// No correlation: B = diag(σ_v²).
    None,
    /// A Gaussian of the distance on each variable's grid.
    Gaussian,
    /// The scaled sample covariance of a free run.
    Climatological,
}

/// A multivariate balance built into B.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum BalanceKind {
    /// Variables uncorrelated.
    None,
    /// B = K B_u Kᵀ, K adding the geostrophic wind of the height field.
    Geostrophic,
}

/// The `[background]` settings.
#[derive(Clone, Debug, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BackgroundSpec {
    /// σ_b, for every variable not in `sigmas`.
    pub sigma: f64,
    /// The correlation model.
    pub correlation: CorrelationKind,
    /// Gaussian length scale L in location units (grid units on a ring, metres on a plane),
    /// for every variable not in `length_scales`; default [`DEFAULT_LENGTH_SCALE_SPACINGS`].
    pub length_scale: Option<f64>,
    /// σ per variable by name (e.g. `{ u = 1.0, v = 1.0, h = 5.0 }`).
    pub sigmas: Option<BTreeMap<String, f64>>,
    /// Gaussian length scale per variable by name, in location units.
    pub length_scales: Option<BTreeMap<String, f64>>,
    /// A multivariate balance (with the Gaussian correlation on a grid of cells).
    pub balance: BalanceKind,
    /// Free-run states sampled for the climatological B.
    pub climatology_samples: usize,
    /// Scale of the climatological sample covariance.
    pub climatology_scale: f64,
}

impl Default for BackgroundSpec {
    fn default() -> Self {
        Self {
            sigma: 1.0,
            correlation: CorrelationKind::Gaussian,
            length_scale: None,
            sigmas: None,
            length_scales: None,
            balance: BalanceKind::None,
            climatology_samples: 5000,
            climatology_scale: 0.1,
        }
    }
}

/// The shortest correlation length scale: L² = 1e-200 is still a normal number, so the
/// Gaussian exp(−d²/2L²) is 1 at d = 0 and 0 elsewhere instead of NaN (0/0).
pub const MIN_LENGTH_SCALE: f64 = 1e-100;

/// The physics a balance needs from the model: gravity g (m/s²) and the Coriolis
/// parameter f (1/s).
pub type Rotation = Option<(f64, f64)>;

impl BackgroundSpec {
    /// The first value that is out of range, as (key under `[background]`, what is wrong):
    /// σ, L, every per-variable value and the climatology scale must be finite and > 0, and a
    /// length scale at least [`MIN_LENGTH_SCALE`] (so that exp(−d²/2L²) is a number at d = 0).
    pub fn check(&self) -> std::result::Result<(), (String, &'static str)> {
        let positive = |v: f64| v.is_finite() && v > 0.0;
        let length = |l: f64| l.is_finite() && l >= MIN_LENGTH_SCALE;
        const TOO_SHORT: &str = "must be a number >= 1e-100 (in grid units or metres)";
        if !positive(self.sigma) {
            return Err(("sigma".into(), "must be a positive number"));
        }
        if self.length_scale.is_some_and(|l| !length(l)) {
            return Err(("length_scale".into(), TOO_SHORT));
        }
        if let Some((name, _)) = self.sigmas.iter().flatten().find(|(_, &v)| !positive(v)) {
            return Err((format!("sigmas.{name}"), "must be a positive number"));
        }
        if let Some((name, _)) = (self.length_scales.iter().flatten()).find(|(_, &v)| !length(v)) {
            return Err((format!("length_scales.{name}"), TOO_SHORT));
        }
        if !positive(self.climatology_scale) {
            return Err(("climatology_scale".into(), "must be a positive number"));
        }
        Ok(())
    }

    /// B over `geometry`. `rotation` is the model's (g, f) for a balance; `free_run(m)`
    /// returns m states of a free run (row-major) for the climatological B.
    pub fn build(
        &self,
        geometry: &Geometry,
        rotation: Rotation,
        free_run: impl FnOnce(usize) -> Result<Vec<f64>>,
    ) -> Result<BackgroundCovariance> {
        let sigmas = self.per_variable(geometry, "sigmas", &self.sigmas, |_| self.sigma)?;
        if self.balance != BalanceKind::None && self.correlation != CorrelationKind::Gaussian {
            return Err(Error::invalid(
                "background.balance",
                "a balance is built on the Gaussian B: use correlation = \"gaussian\", or \
                 balance = \"none\"",
            ));
        }
        match self.correlation {
            CorrelationKind::None => BackgroundCovariance::diagonal_from(
                geometry
                    .variables()
                    .iter()
                    .zip(&sigmas)
                    .flat_map(|(v, &s)| std::iter::repeat_n(s, v.len()))
                    .collect(),
            ),
            CorrelationKind::Gaussian => self.gaussian(geometry, &sigmas, rotation),
            CorrelationKind::Climatological => {
                let n = geometry.state_len();
                if n > MAX_CLIMATOLOGICAL_LEN {
                    return Err(Error::invalid(
                        "background.correlation",
                        format!(
                            "\"climatological\" needs a dense {n}×{n} matrix (and more than {n} \
                             free-run samples); it is limited to states of at most \
                             {MAX_CLIMATOLOGICAL_LEN} values: use \"gaussian\" or a smaller model"
                        ),
                    ));
                }
                let samples = free_run(self.climatology_samples)?;
                BackgroundCovariance::climatological(&samples, n, self.climatology_scale)
            }
        }
    }

    /// The Gaussian B (see the module documentation).
    fn gaussian(
        &self,
        geometry: &Geometry,
        sigmas: &[f64],
        rotation: Rotation,
    ) -> Result<BackgroundCovariance> {
        let scales = self.per_variable(geometry, "length_scales", &self.length_scales, |v| {
            let axes = &geometry.variables()[v].grid;
            let finest = axes.iter().map(|a| a.spacing).fold(f64::INFINITY, f64::min);
            self.length_scale
                .unwrap_or(DEFAULT_LENGTH_SCALE_SPACINGS[axes.len() - 1] * finest)
        })?;
        if cells_of(geometry).is_some() {
            let b = BackgroundCovariance::plane_gaussian(geometry, sigmas, &scales)?;
            return match (self.balance, rotation) {
                (BalanceKind::None, _) => Ok(b),
                (BalanceKind::Geostrophic, Some((g, f))) => {
                    b.with_geostrophic_balance(GeostrophicBalance::new(geometry, g, f)?)
                }
                (BalanceKind::Geostrophic, None) => Err(Error::invalid(
                    "background.balance",
                    "\"geostrophic\" needs a rotating model (gravity and a Coriolis parameter)",
                )),
            };
        }
        if self.balance != BalanceKind::None {
            return Err(Error::invalid(
                "background.balance",
                "a balance needs a model whose variables share one grid of cells (x, y)",
            ));
        }
        let blocks = geometry
            .variables()
            .iter()
            .zip(sigmas.iter().zip(&scales))
            .map(|(v, (&sigma, &length_scale))| match v.grid.as_slice() {
                [axis] => Ok(GaussianBlock {
                    points: axis.points,
                    periodic: axis.periodic,
                    sigma,
                    length_scale: length_scale / axis.spacing,
                }),
                _ => Err(Error::invalid(
                    "background.correlation",
                    format!(
                        "the Gaussian B is written for variables on one axis or on one shared \
                         grid of cells (x, y); variable {} is on neither",
                        v.name
                    ),
                )),
            })
            .collect::<Result<Vec<_>>>()?;
        BackgroundCovariance::gaussian_blocks(&blocks)
    }

    /// One value per variable: the table's entry for its name, else `default(v)`. An unknown
    /// name is an error listing the model's variables.
    fn per_variable(
        &self,
        geometry: &Geometry,
        key: &str,
        table: &Option<BTreeMap<String, f64>>,
        default: impl Fn(usize) -> f64,
    ) -> Result<Vec<f64>> {
        let mut values: Vec<f64> = (0..geometry.variables().len()).map(default).collect();
        for (name, &value) in table.iter().flatten() {
            let Some(v) = geometry.variable_index(name) else {
                return Err(Error::invalid(
                    format!("background.{key}"),
                    format!(
                        "unknown variable '{name}': the model's variables are {}",
                        geometry.variable_list()
                    ),
                ));
            };
            values[v] = value;
        }
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::ring::{line, LineOutput};

    fn output(n: usize) -> LineOutput {
        LineOutput {
            dimension: "site",
            dimension_long_name: String::new(),
            coordinate: vec![0.0; n],
            array: "x",
            array_long_name: String::new(),
        }
    }

    fn no_free_run(_: usize) -> Result<Vec<f64>> {
        panic!("no climatology here")
    }

    #[test]
    fn variables_on_rings_of_different_sizes_get_their_own_gaussian_blocks() {
        // 16 slow sites and 48 fast ones over the same circle: a length scale of 0.6 slow
        // sites is 0.6 grid units for X and 1.8 for Y.
        let g = line(&[("X", 16), ("Y", 48)], 16.0, true, output(64));
        let spec = BackgroundSpec {
            sigma: 2.0,
            length_scale: Some(0.6),
            sigmas: Some(BTreeMap::from([("Y".to_string(), 0.5)])),
            ..BackgroundSpec::default()
        };
        let b = spec.build(&g, None, no_free_run).unwrap().matrix();
        let x = BackgroundCovariance::gaussian(16, 2.0, 0.6)
            .unwrap()
            .matrix();
        let y = BackgroundCovariance::gaussian(48, 0.5, 0.6 / (16.0 / 48.0))
            .unwrap()
            .matrix();
        for i in 0..64 {
            for j in 0..64 {
                let expected = match (i < 16, j < 16) {
                    (true, true) => x[[i, j]],
                    (false, false) => y[[i - 16, j - 16]],
                    _ => 0.0,
                };
                assert_eq!(b[[i, j]], expected, "({i}, {j})");
            }
        }
        // By default each variable takes 2 of its own grid spacings.
        let g = line(&[("X", 40), ("Y", 120)], 40.0, true, output(160));
        let b = BackgroundSpec::default()
            .build(&g, None, no_free_run)
            .unwrap()
            .matrix();
        let x = BackgroundCovariance::gaussian(40, 1.0, 2.0)
            .unwrap()
            .matrix();
        let y = BackgroundCovariance::gaussian(120, 1.0, 2.0)
            .unwrap()
            .matrix();
        assert_eq!(
            (b[[1, 2]], b[[41, 42]], b[[41, 2]]),
            (x[[1, 2]], y[[1, 2]], 0.0)
        );
    }

    #[test]
    fn single_points_are_uncorrelated_and_bad_names_are_named() {
        let g = line(&[("x", 1), ("y", 1), ("z", 1)], 0.0, false, output(3));
        let b = BackgroundSpec::default()
            .build(&g, None, no_free_run)
            .unwrap()
            .matrix();
        assert_eq!(b, ndarray::Array2::<f64>::eye(3));
        let spec = BackgroundSpec {
            length_scales: Some(BTreeMap::from([("w".to_string(), 1.0)])),
            ..BackgroundSpec::default()
        };
        let err = spec.build(&g, None, no_free_run).unwrap_err().to_string();
        assert!(
            err.contains("background.length_scales") && err.contains("'w'"),
            "{err}"
        );
        assert!(err.contains("x, y, z"), "{err}");
        let spec = BackgroundSpec {
            balance: BalanceKind::Geostrophic,
            ..BackgroundSpec::default()
        };
        let err = spec.build(&g, Some((9.81, 1e-4)), no_free_run).unwrap_err();
        assert!(err.to_string().contains("grid of cells"), "{err}");
        let bad = BackgroundSpec {
            sigmas: Some(BTreeMap::from([("y".to_string(), -1.0)])),
            ..BackgroundSpec::default()
        };
        assert_eq!(
            bad.check(),
            Err(("sigmas.y".into(), "must be a positive number"))
        );
    }
}
