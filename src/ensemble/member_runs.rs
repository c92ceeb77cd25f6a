//! Work done once per ensemble member, spread over the worker threads.

use rayon::prelude::*;

use crate::core::thread_pool::parallel_available;
use crate::error::Result;

/// Runs `f(i, x_i)` on every member, in parallel when worker threads run; the results in
/// member order, the first error wins.
pub fn map_members<T: Send>(
    members: &[Vec<f64>],
    f: impl Fn(usize, &[f64]) -> Result<T> + Sync + Send,
) -> Result<Vec<T>> {
    if parallel_available() {
        (members.par_iter().enumerate())
            .map(|(i, x)| f(i, x))
            .collect()
    } else {
        (members.iter().enumerate()).map(|(i, x)| f(i, x)).collect()
    }
}
