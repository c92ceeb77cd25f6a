//! Bounds on what a run may ask of the machine, checked before the work starts: the memory
//! it will allocate (against the memory the system has available) and the model work it will
//! do (state values × steps, against a bound of roughly an hour on one core). Sizes are
//! estimated in `f64`, so that a count near `u64::MAX` gives a huge estimate rather than an
//! overflowing product.

use crate::{Error, Result};

/// The most state-value updates (state length × model steps) one run may ask for: about an
/// hour of Lorenz-96 or shallow-water stepping on one core of this era (~3·10⁸ values per
/// second through RK4), and far beyond any experiment of this toolkit.
pub const MAX_VALUE_STEPS: f64 = 1e12;

/// Memory assumed available where the system does not say (no /proc/meminfo).
const FALLBACK_MEMORY_BYTES: f64 = 8e9;

/// The memory the system has available now, bytes (`MemAvailable` of /proc/meminfo).
pub fn available_memory() -> f64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("MemAvailable:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(FALLBACK_MEMORY_BYTES, |kib| kib * 1024.0)
}

/// Refuses `bytes` of memory for `what` when they exceed the memory available.
pub fn check_memory(what: &str, bytes: f64) -> Result<()> {
    let available = available_memory();
    if bytes <= available {
        return Ok(());
    }
    Err(Error::invalid(
        what,
        format!(
            "would need {} of memory, and {} are available",
            show_bytes(bytes),
            show_bytes(available)
        ),
    ))
}

/// Refuses `steps` model steps of a state of `values` values for `what` when their product
/// exceeds [`MAX_VALUE_STEPS`].
pub fn check_work(what: &str, values: usize, steps: f64) -> Result<()> {
    let work = values as f64 * steps;
    if work <= MAX_VALUE_STEPS {
        return Ok(());
    }
    Err(Error::invalid(
        what,
        format!(
            "{steps:.3e} steps of {values} values is {work:.1e} value updates, more than the \
             {MAX_VALUE_STEPS:.0e} (about an hour of computing) one run may take"
        ),
    ))
}

/// `bytes` for people: "3.2 GB".
pub fn show_bytes(bytes: f64) -> String {
    match bytes {
        b if b >= 1e12 => format!("{:.1} TB", b / 1e12),
        b if b >= 1e9 => format!("{:.1} GB", b / 1e9),
        b => format!("{:.1} MB", b / 1e6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_accept_ordinary_runs_and_refuse_huge_ones_with_the_estimate() {
        assert!(available_memory() > 1e6);
        check_memory("trajectory", 8.0 * 40.0 * 1e4).unwrap();
        let m = check_memory("trajectory", 8.0 * 40.0 * u64::MAX as f64)
            .unwrap_err()
            .to_string();
        assert!(m.contains("invalid trajectory") && m.contains("TB"), "{m}");
        check_work("forecast", 40, 1e6).unwrap();
        let m = check_work("forecast", 40, u64::MAX as f64)
            .unwrap_err()
            .to_string();
        assert!(m.contains("1.845e19 steps of 40 values"), "{m}");
    }
}
