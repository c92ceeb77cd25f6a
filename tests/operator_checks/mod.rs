//! Helpers shared by the observation-operator tests: all model equivalents at a state, and
//! the rows of a Taylor test of the operators' tangent linear with the slope of its residual.
#![allow(dead_code)]

use fourdvar::core::vector::dot;
use fourdvar::core::verification::perturbation_sizes;
use fourdvar::obs::ObservationOperator;

/// h_i(x) for every observation i of `op`.
pub fn h_all(op: &ObservationOperator, x: &[f64]) -> Vec<f64> {
    (0..op.len()).map(|i| op.apply(i, x)).collect()
}

/// Euclidean norm.
pub fn norm(v: &[f64]) -> f64 {
    dot(v, v).sqrt()
}

/// Per ε: (ε, ratio ‖h(x+εδx) − h(x)‖ / ‖ε H'δx‖, residual ‖h(x+εδx) − h(x) − ε H'δx‖,
/// ‖ε H'δx‖).
pub fn taylor_rows(op: &ObservationOperator, x: &[f64], dx: &[f64]) -> Vec<(f64, f64, f64, f64)> {
    let h0 = h_all(op, x);
    let tl: Vec<f64> = (0..op.len()).map(|i| op.apply_tl(i, x, dx)).collect();
    perturbation_sizes()
        .into_iter()
        .map(|eps| {
            let xe: Vec<f64> = x.iter().zip(dx).map(|(a, d)| a + eps * d).collect();
            let he = h_all(op, &xe);
            let diff: Vec<f64> = he.iter().zip(&h0).map(|(a, b)| a - b).collect();
            let lin: Vec<f64> = tl.iter().map(|t| eps * t).collect();
            let res: Vec<f64> = diff.iter().zip(&lin).map(|(d, l)| d - l).collect();
            (eps, norm(&diff) / norm(&lin), norm(&res), norm(&lin))
        })
        .collect()
}

/// Least-squares slope of log10(residual) against log10(ε) over 1e-4 ≤ ε ≤ 1e-1, for rows
/// of [`taylor_rows`]: 2 for an operator whose residual falls as ε².
pub fn residual_slope(rows: &[(f64, f64, f64, f64)]) -> f64 {
    let pts: Vec<(f64, f64)> = rows
        .iter()
        .filter(|r| (1e-4..=1e-1).contains(&r.0))
        .map(|r| (r.0.log10(), r.2.log10()))
        .collect();
    assert!(pts.len() >= 6);
    let m = pts.len() as f64;
    let (mx, my) = (
        pts.iter().map(|p| p.0).sum::<f64>() / m,
        pts.iter().map(|p| p.1).sum::<f64>() / m,
    );
    pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>()
        / pts.iter().map(|p| (p.0 - mx).powi(2)).sum::<f64>()
}
