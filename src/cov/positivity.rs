//! What "positive" means for the covariance models: the eigenvalue floor that makes a matrix
//! count as positive definite, and the check of a positive scale (σ, L). Shared by the dense
//! and the plane covariances.

use crate::error::{Error, Result};

/// A matrix B counts as positive definite when λ_min > `MIN_RELATIVE_EIGENVALUE` · λ_max, that is
/// when its condition number λ_max/λ_min is below 10¹².
pub const MIN_RELATIVE_EIGENVALUE: f64 = 1e-12;

/// An error naming `what` unless `value` is finite and > 0.
pub(crate) fn check_positive(what: &str, value: f64) -> Result<()> {
    if !(value.is_finite() && value > 0.0) {
        return Err(Error::invalid(
            what,
            format!("{value} is not a finite number > 0"),
        ));
    }
    Ok(())
}
