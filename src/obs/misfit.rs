//! The observation term of 4D-Var as a stage cost of the core:
//!
//!   J_o = Σ_k J_k(x_k),   J_k(x_k) = ½ Σ_{i observed at step k} ((y_i − h_i(x_k)) / σ_i)²,
//!
//! that is ½ (y_k − H_k(x_k))ᵀ R_k⁻¹ (y_k − H_k(x_k)) with R diagonal, R_ii = σ_i². Its
//! gradient is ∂J_k/∂x_k = −Σ_i h_i'(x_k)ᵀ (y_i − h_i(x_k)) / σ_i², from the hand-written
//! adjoint of each observation operator.

use std::ops::Range;

use crate::core::StageCost;
use crate::error::{Error, Result};
use crate::geometry::Geometry;

use super::observation::ObservationSet;
use super::operator::ObservationOperator;

/// The largest step an [`ObservationMisfit`] accepts: its step table is dense (one entry per
/// step up to the last observed one), so a set reaching further should be cut into windows
/// with [`ObservationSet::window`] first.
pub const MAX_MISFIT_STEP: usize = 1 << 24;

/// J_o = Σ_k J_k, J_k(x_k) = ½ Σ_{i observed at step k} ((y_i − h_i(x_k)) / σ_i)², i.e. R
/// diagonal with R_ii = σ_i².
///
/// The observations of step k are found in O(1) through a table of offsets indexed by step;
/// [`StageCost::value`] and [`StageCost::value_and_gradient`] do not allocate.
#[derive(Clone, Debug)]
pub struct ObservationMisfit {
    set: ObservationSet,
    operator: ObservationOperator,
    packed: PackedObservations,
    /// Observations of step k are `offsets[k]..offsets[k + 1]` of the (step-sorted) set;
    /// length max_step + 2 (1 for an empty set).
    offsets: Vec<usize>,
}

impl ObservationMisfit {
    /// The misfit of `set` on `geometry`. Fails like [`ObservationOperator::new`] on an
    /// observation that does not fit the geometry, and on a step beyond [`MAX_MISFIT_STEP`].
    pub fn new(set: ObservationSet, geometry: &Geometry) -> Result<Self> {
        let operator = ObservationOperator::new(&set, geometry)?;
        let max_step = set.max_step();
        if let Some(step) = max_step.filter(|&s| s > MAX_MISFIT_STEP) {
            return Err(Error::invalid(
                "observations",
                format!(
                    "an observation at step {step} is beyond step {MAX_MISFIT_STEP}, the \
                     furthest a misfit indexes; cut the observations into assimilation windows \
                     first"
                ),
            ));
        }
        let table_len = max_step.map_or(1, |s| s + 2);
        let mut offsets = vec![0; table_len];
        // Count the observations of each step, then turn the counts into offsets.
        for o in set.as_slice() {
            offsets[o.step + 1] += 1;
        }
        for k in 1..table_len {
            offsets[k] += offsets[k - 1];
        }
        let packed = PackedObservations::new(&set, &operator)?;
        Ok(Self {
            set,
            operator,
            packed,
            offsets,
        })
    }

    /// The observations, sorted by step.
    pub fn observations(&self) -> &ObservationSet {
        &self.set
    }

    /// The observation operators, in the order of [`ObservationMisfit::observations`].
    pub fn operator(&self) -> &ObservationOperator {
        &self.operator
    }

    /// h_i(x_{step_i}) for every observation, in set order; `trajectory` is row-major
    /// (steps + 1) × n with n the layout's state length. An observation whose step lies
    /// beyond the end of `trajectory` gets NaN.
    pub fn model_equivalents(&self, trajectory: &[f64], n: usize) -> Vec<f64> {
        let records = trajectory.len().checked_div(n).unwrap_or(0);
        self.set
            .as_slice()
            .iter()
            .enumerate()
            .map(|(i, o)| {
                if n == self.operator.state_len() && o.step < records {
                    self.operator
                        .apply(i, &trajectory[o.step * n..(o.step + 1) * n])
                } else {
                    f64::NAN
                }
            })
            .collect()
    }

    /// The observations of step k, as a range of set (and operator) indices (empty for a
    /// step without data).
    #[inline]
    pub fn range(&self, k: usize) -> Range<usize> {
        match (self.offsets.get(k), self.offsets.get(k + 1)) {
            (Some(&start), Some(&end)) => start..end,
            _ => 0..0,
        }
    }
}

impl StageCost for ObservationMisfit {
    /// True exactly at the steps with at least one observation.
    fn is_active(&self, k: usize) -> bool {
        !self.range(k).is_empty()
    }

    /// J_k(x) = ½ Σ_i ((y_i − h_i(x)) / σ_i)² over the observations of step k.
    fn value(&self, k: usize, x: &[f64]) -> f64 {
        let range = self.range(k);
        let mut total = 0.0;
        for (i, o) in range.clone().zip(&self.packed.records[range]) {
            let h = match (self.packed.single_tap(o), self.packed.taps(o)) {
                (Some((j, w)), _) => w * x[j],
                (None, Some(taps)) => linear_value(taps, x),
                (None, None) => self.operator.apply(i, x),
            };
            let r = o.scaled(o.value - h);
            total += r * r;
        }
        0.5 * total
    }

    /// Returns J_k(x) and accumulates x̄ += ∂J_k/∂x = Σ_i h_i'(x)ᵀ (−(y_i − h_i(x)) / σ_i²).
    /// The misfit has no parameters of its own; `params_bar` is left alone.
    fn value_and_gradient(
        &self,
        k: usize,
        x: &[f64],
        x_bar: &mut [f64],
        _params_bar: &mut [f64],
    ) -> f64 {
        let range = self.range(k);
        let mut total = 0.0;
        for (i, o) in range.clone().zip(&self.packed.records[range]) {
            if let Some((j, w)) = self.packed.single_tap(o) {
                // A point observation on a grid point, the common case, without the loops.
                let r = o.scaled(o.value - w * x[j]);
                total += r * r;
                x_bar[j] += w * o.scaled(-r);
                continue;
            }
            let taps = self.packed.taps(o);
            let h = match taps {
                Some(taps) => linear_value(taps, x),
                None => self.operator.apply(i, x),
            };
            let r = o.scaled(o.value - h);
            total += r * r;
            let dy = o.scaled(-r);
            match taps {
                Some(taps) => taps.iter().for_each(|&(j, w)| x_bar[j as usize] += w * dy),
                None => self.operator.apply_ad(i, x, dy, x_bar),
            }
        }
        0.5 * total
    }
}

/// h(x) = Σ_t w_t x_{j_t}.
#[inline(always)]
fn linear_value(taps: &[(u32, f64)], x: &[f64]) -> f64 {
    taps.iter().map(|&(j, w)| w * x[j as usize]).sum()
}

/// What the misfit reads of one observation: y, σ (and 1/σ when exact), and where its
/// taps are.
#[derive(Clone, Copy, Debug)]
struct PackedRecord {
    value: f64,
    /// σ, divided by in general.
    sigma: f64,
    /// 1/σ when σ is a power of two: then a / σ and a · (1/σ) are the same exact number,
    /// correctly rounded, so the multiplication gives the division's bits (two divisions
    /// per observation cost about a tenth of the N = 1000 gradient). NaN otherwise.
    exact_inverse: f64,
    /// The observation's nonzero taps are `taps[first..first + count]`.
    first: u32,
    count: u16,
    /// A value observation (h = Σ w x); the other kinds are evaluated by the operator.
    linear: bool,
}

impl PackedRecord {
    /// a / σ.
    #[inline(always)]
    fn scaled(&self, a: f64) -> f64 {
        if self.exact_inverse.is_nan() {
            a / self.sigma
        } else {
            a * self.exact_inverse
        }
    }
}

/// 1/σ when σ is a power of two (mantissa bits zero) and 1/σ is a normal number, else NaN.
fn exact_inverse(sigma: f64) -> f64 {
    let inverse = 1.0 / sigma;
    let power_of_two = |v: f64| v.is_normal() && v.to_bits() & ((1u64 << 52) - 1) == 0;
    if power_of_two(sigma) && power_of_two(inverse) {
        inverse
    } else {
        f64::NAN
    }
}

/// What the misfit reads of each observation, packed for the sweep's hot loop: 32-byte
/// records of y and σ and, for a linear (value) observation, its nonzero interpolation
/// weights in one flat list. About 44 bytes per point observation instead of the ~250 of an
/// [`Observation`] and its operator entry: at N = 1000 with 25 000 observations per window
/// that is the difference between streaming 0.9 MB and 6 MB per gradient.
///
/// [`Observation`]: super::Observation
#[derive(Clone, Debug)]
struct PackedObservations {
    records: Vec<PackedRecord>,
    taps: Vec<(u32, f64)>,
}

impl PackedObservations {
    fn new(set: &ObservationSet, operator: &ObservationOperator) -> Result<Self> {
        let too_many = || {
            Error::invalid(
                "observations",
                format!(
                    "a state of {} values or {} interpolation taps is more than a misfit \
                     indexes (2^32)",
                    operator.state_len(),
                    set.len()
                ),
            )
        };
        u32::try_from(operator.state_len()).map_err(|_| too_many())?;
        let mut packed = Self {
            records: Vec::with_capacity(set.len()),
            taps: Vec::new(),
        };
        for (i, o) in set.as_slice().iter().enumerate() {
            let first = u32::try_from(packed.taps.len()).map_err(|_| too_many())?;
            let stencil = operator.linear_stencil(i);
            for &(j, w) in stencil.iter().flat_map(|s| s.taps()) {
                // A zero weight adds exactly 0 to the sum and to x̄: skip it.
                if w != 0.0 {
                    packed.taps.push((j as u32, w));
                }
            }
            packed.records.push(PackedRecord {
                value: o.value,
                sigma: o.sigma,
                exact_inverse: exact_inverse(o.sigma),
                first,
                // At most MAX_TAPS (16) taps per stencil.
                count: (packed.taps.len() - first as usize) as u16,
                linear: stencil.is_some(),
            });
        }
        Ok(packed)
    }

    /// The one tap (j, w) of a linear observation that reads a single grid value: then
    /// h = w x_j exactly as the sum over its taps gives it.
    #[inline(always)]
    fn single_tap(&self, o: &PackedRecord) -> Option<(usize, f64)> {
        (o.linear && o.count == 1).then(|| {
            let (j, w) = self.taps[o.first as usize];
            (j as usize, w)
        })
    }

    /// The nonzero taps of a linear observation, None for the other kinds.
    #[inline(always)]
    fn taps(&self, o: &PackedRecord) -> Option<&[(u32, f64)]> {
        let first = o.first as usize;
        o.linear
            .then(|| &self.taps[first..first + o.count as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exact_inverse_gives_the_bits_of_the_division() {
        let sigmas = [
            1.0,
            0.5,
            2.0,
            0.25,
            1024.0,
            3.0,
            0.3,
            0.1,
            1.5,
            1e-300,
            1e300,
            f64::MIN_POSITIVE,
            2f64.powi(-1074),
            2f64.powi(1023),
        ];
        let values = crate::core::verification::random_vector(2000, 7);
        for sigma in sigmas {
            let record = PackedRecord {
                value: 0.0,
                sigma,
                exact_inverse: exact_inverse(sigma),
                first: 0,
                count: 0,
                linear: true,
            };
            for a in values
                .iter()
                .map(|v| v * 1e3)
                .chain([0.0, -0.0, 1e-310, 3e307])
            {
                assert_eq!(
                    record.scaled(a).to_bits(),
                    (a / sigma).to_bits(),
                    "{a} / {sigma}"
                );
            }
        }
        // The multiplication is used exactly for powers of two with a normal inverse.
        assert_eq!(exact_inverse(0.25), 4.0);
        assert!(exact_inverse(0.3).is_nan() && exact_inverse(2f64.powi(1023)).is_nan());
    }
}
