//! The local ETKF (LETKF; Hunt et al. 2007): every state value is analysed on its own, with
//! the ETKF weights of the observations near it. An observation at distance d from the value
//! enters with its R⁻¹ multiplied by GC(d/c) (Gaspari–Cohn, half-width c), so its influence
//! fades smoothly to nothing at 2c: the rows of S and d are scaled by √GC(d/c). Far-apart
//! regions get different weights, which a small ensemble could not fit globally.

use ndarray::{Array1, Array2};

use crate::error::Result;
use crate::geometry::{Geometry, Location};

use super::etkf::{transform_weights, EnsembleInnovation, EtkfAnalysis};
use super::localisation::gaspari_cohn;

/// Where the observations are and how far they reach.
#[derive(Clone, Copy, Debug)]
pub struct ObservationLocality<'a> {
    /// The model geometry (state value locations and distances).
    pub geometry: &'a Geometry,
    /// The location of each observation.
    pub locations: &'a [Location],
    /// The Gaspari–Cohn half-width c, in location units.
    pub half_width: f64,
}

/// Updates `members` in place as [`super::etkf_analysis`] does, but locally: each state value
/// with the observations of `locality` within 2c, tapered.
pub fn letkf_analysis(
    members: &mut [Vec<f64>],
    equivalents: &[Vec<f64>],
    values: &[f64],
    sigmas: &[f64],
    locality: ObservationLocality,
    inflation: f64,
) -> Result<EtkfAnalysis> {
    const WHAT: &str = "LETKF analysis";
    let e = EnsembleInnovation::new(WHAT, members, equivalents, values, sigmas, inflation)?;
    if locality.locations.len() != values.len() {
        return Err(crate::Error::invalid(
            WHAT,
            "one location per observation is needed",
        ));
    }
    let (n, m) = e.anomalies.dim();
    let mut updated = Array2::<f64>::zeros((n, m));
    for j in 0..n {
        let here = locality.geometry.element_location(j);
        let taper: Vec<(usize, f64)> = (locality.locations.iter().enumerate())
            .map(|(k, o)| {
                let r = locality.geometry.distance(&here, o) / locality.half_width;
                (k, gaspari_cohn(r).sqrt())
            })
            .filter(|(_, t)| *t > 0.0)
            .collect();
        let row = e.anomalies.row(j);
        let (shift, spread_part) = if taper.is_empty() {
            (0.0, row.to_owned())
        } else {
            let s =
                Array2::from_shape_fn((taper.len(), m), |(r, i)| taper[r].1 * e.s[[taper[r].0, i]]);
            let d = Array1::from_shape_fn(taper.len(), |r| taper[r].1 * e.d[taper[r].0]);
            let (w_mean, w) = transform_weights(WHAT, &s, &d)?;
            (row.dot(&w_mean), row.dot(&w))
        };
        updated.row_mut(j).assign(&spread_part);
        for (i, x) in members.iter_mut().enumerate() {
            x[j] = e.mean[j] + shift + spread_part[i];
        }
    }
    Ok(EtkfAnalysis {
        spread_forecast: EnsembleInnovation::spread(&e.anomalies),
        spread_analysis: EnsembleInnovation::spread(&updated),
    })
}
