//! Small dense-vector operations on `f64` slices, written once and used by the sweep, the
//! models and the checks.

/// Σ g(aᵢ, bᵢ) over two equally long slices, with four independent partial sums: a single
/// running sum is a chain of dependent additions that runs at a quarter of the speed.
#[inline]
pub fn sum_pairs(a: &[f64], b: &[f64], g: impl Fn(f64, f64) -> f64) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [0.0; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for lane in 0..4 {
            acc[lane] += g(x[lane], y[lane]);
        }
    }
    let tail: f64 = ra.iter().zip(rb).map(|(x, y)| g(*x, *y)).sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// Inner product ⟨a, b⟩ = Σ aᵢ bᵢ.
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    sum_pairs(a, b, |x, y| x * y)
}

/// Σ aᵢ.
pub fn sum(a: &[f64]) -> f64 {
    sum_pairs(a, a, |x, _| x)
}

/// Euclidean norm ‖a‖₂.
pub fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// y ← y + α x.
pub fn axpy(alpha: f64, x: &[f64], y: &mut [f64]) {
    debug_assert_eq!(x.len(), y.len());
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

/// out ← x + α y.
pub fn add_scaled(x: &[f64], alpha: f64, y: &[f64], out: &mut [f64]) {
    debug_assert_eq!(x.len(), y.len());
    debug_assert_eq!(x.len(), out.len());
    for ((o, xi), yi) in out.iter_mut().zip(x).zip(y) {
        *o = xi + alpha * yi;
    }
}

/// True when every entry is finite (no NaN, no ±∞).
pub fn all_finite(a: &[f64]) -> bool {
    // No early exit: the branch-free fold vectorises, and a blow-up is the rare case.
    !a.iter().fold(false, |bad, v| bad | !v.is_finite())
}

/// The index of the first non-finite entry, if any.
pub fn first_non_finite(a: &[f64]) -> Option<usize> {
    a.iter().position(|v| !v.is_finite())
}
