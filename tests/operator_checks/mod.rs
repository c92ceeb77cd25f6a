//! Helpers shared by the observation-operator tests (line and plane): all model equivalents at
//! a state, and the rows of a Taylor test of the operators' tangent linear.
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
