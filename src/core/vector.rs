//! Small dense-vector operations on `f64` slices, written once and used by the sweep, the
//! models and the checks.

/// Inner product ⟨a, b⟩ = Σ aᵢ bᵢ.
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| x * y).sum()
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
    a.iter().all(|v| v.is_finite())
}

/// The index of the first non-finite entry, if any.
pub fn first_non_finite(a: &[f64]) -> Option<usize> {
    a.iter().position(|v| !v.is_finite())
}
