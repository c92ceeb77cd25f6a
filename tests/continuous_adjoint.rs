//! The continuous adjoint against the discrete one (issue #15): the discrete adjoint is the
//! exact gradient of the discrete model (tests/derivatives.rs), the continuous adjoint a
//! discretisation of the exact gradient that converges to it with RK4's order 4 as dt → 0,
//! and that fails on long horizons of dissipative chaotic dynamics, where re-integrating the
//! state backwards is unstable, while it stays accurate on a contracting system.
//! `cargo test --release --test continuous_adjoint -- --nocapture` prints the tables.

use fourdvar::core::stage_costs::QuadraticMisfit;
use fourdvar::core::vector::norm;
use fourdvar::core::verification::random_vector;
use fourdvar::core::{integrate, value_and_gradient, Storage};
use fourdvar::models::continuous_adjoint::continuous_gradient;
use fourdvar::models::rk4::{Rk4, VectorField};
use fourdvar::models::stencil_mlp::stencil_mlp_model;

mod common;
use common::random_stencil_net;
use fourdvar::models::{lorenz63, lorenz96};

/// ‖(g_x, g_θ) − (d_x, d_θ)‖ / ‖(d_x, d_θ)‖ between the continuous and the discrete gradient
/// of ½‖x(T) − y‖² over `steps` steps, and the continuous run's reconstruction error; None when
/// the backward integration is not finite.
fn gradient_gap<F: VectorField + Clone>(
    model: &Rk4<F>,
    x0: &[f64],
    steps: usize,
    target: &[f64],
) -> Option<(f64, f64)> {
    let n = x0.len();
    let mut targets = vec![0.0; (steps + 1) * n];
    targets[steps * n..].copy_from_slice(target);
    let mut active = vec![false; steps + 1];
    active[steps] = true;
    let cost = QuadraticMisfit::new(n, 1.0, targets, active);
    let discrete = value_and_gradient(model, x0, steps, &cost, Storage::All).unwrap();
    let continuous = continuous_gradient(model, x0, steps, &cost).ok()?;
    assert_eq!(
        continuous.cost.to_bits(),
        discrete.cost.to_bits(),
        "same forward run"
    );
    let diff: Vec<f64> = (continuous
        .state_gradient
        .iter()
        .chain(&continuous.param_gradient))
    .zip(
        discrete
            .state_gradient
            .iter()
            .chain(&discrete.param_gradient),
    )
    .map(|(c, d)| c - d)
    .collect();
    let reference: Vec<f64> = (discrete.state_gradient.iter())
        .chain(&discrete.param_gradient)
        .copied()
        .collect();
    Some((
        norm(&diff) / norm(&reference),
        continuous.reconstruction_error,
    ))
}

/// The gap over four halvings of dt at a fixed final time, and the observed orders.
fn orders<F: VectorField + Clone>(
    name: &str,
    make: impl Fn(f64) -> Rk4<F>,
    x0: &[f64],
    dt: f64,
    time: f64,
) -> Vec<f64> {
    let target: Vec<f64> = x0.iter().map(|v| v + 0.5).collect();
    let mut gaps = Vec::new();
    for halving in 0..5 {
        let h = dt / f64::powi(2.0, halving);
        let steps = (time / h).round() as usize;
        let (gap, _) = gradient_gap(&make(h), x0, steps, &target).expect("finite");
        println!(
            "{name}: dt {h:.6}, {steps} steps: |continuous - discrete| / |discrete| = {gap:.3e}"
        );
        gaps.push(gap);
    }
    let orders: Vec<f64> = gaps.windows(2).map(|g| (g[0] / g[1]).log2()).collect();
    println!("{name}: observed orders {orders:.3?}");
    orders
}

#[test]
fn the_continuous_gradient_converges_to_the_discrete_one_with_order_four() {
    // A neural ODE (the emulator's network, random weights) and Lorenz-63, over half a time
    // unit: short enough for the backward integration to be stable.
    let net = random_stencil_net(3);
    let x0: Vec<f64> = random_vector(12, 4).iter().map(|v| 2.0 + 3.5 * v).collect();
    let node = orders(
        "neural ODE",
        |h| stencil_mlp_model(12, net.clone(), h, true),
        &x0,
        0.1,
        0.5,
    );
    let l63 = lorenz63(10.0, 28.0, 8.0 / 3.0, 0.01);
    let start = integrate(&l63, &[1.0, 1.0, 1.0], 1000, |_, _| {}).unwrap();
    let lorenz = orders(
        "Lorenz-63",
        |h| lorenz63(10.0, 28.0, 8.0 / 3.0, h),
        &start,
        0.005,
        0.5,
    );
    // Order 4, approached from above on Lorenz-63 (the error's leading term takes over as dt
    // shrinks), and reached before the differences meet rounding (about 1e-14).
    for o in node.iter().chain(&lorenz) {
        assert!(
            (3.8..=4.7).contains(o),
            "order {o}: node {node:?}, Lorenz-63 {lorenz:?}"
        );
    }
    for last in [node[3], lorenz[3]] {
        assert!(
            (last - 4.0).abs() < 0.25,
            "node {node:?}, Lorenz-63 {lorenz:?}"
        );
    }
}

#[test]
fn on_chaotic_dynamics_the_backward_reintegration_fails_on_long_horizons() {
    // Lorenz-96, N = 40, dt = 0.05: chaotic at F = 8, contracting to x = F at F = 0.5.
    println!("horizon  F = 8: gap, reconstruction error   F = 0.5: gap, reconstruction error");
    let mut chaotic = Vec::new();
    for time in [0.5, 1.0, 2.0, 5.0, 10.0] {
        let steps = (time / 0.05_f64).round() as usize;
        let row: Vec<Option<(f64, f64)>> = [8.0, 0.5]
            .iter()
            .map(|&forcing| {
                let model = lorenz96(40, forcing, 0.05);
                let mut x0 = vec![forcing; 40];
                x0[19] += 1.0;
                let x0 = integrate(&model, &x0, 200, |_, _| {}).unwrap();
                let x0: Vec<f64> = (x0.iter().zip(random_vector(40, 9)))
                    .map(|(x, r)| x + 0.1 * r)
                    .collect();
                let target: Vec<f64> = x0.iter().map(|v| v + 0.5).collect();
                gradient_gap(&model, &x0, steps, &target)
            })
            .collect();
        let show = |r: &Option<(f64, f64)>| match r {
            Some((g, e)) => format!("{g:10.3e} {e:10.3e}"),
            None => "  diverged (not finite)".to_string(),
        };
        println!("{time:7.1}  {}   {}", show(&row[0]), show(&row[1]));
        let (contracting_gap, _) = row[1].expect("the contracting case stays finite");
        assert!(
            contracting_gap < 1e-4,
            "F = 0.5 at T = {time}: {contracting_gap}"
        );
        chaotic.push(row[0].map_or(f64::INFINITY, |r| r.0));
    }
    // About right on short horizons, then growing, and useless (error ≥ 100 %, or not
    // finite) on long ones.
    assert!(chaotic[0] < 1e-2, "{chaotic:?}");
    assert!(chaotic.windows(2).all(|w| w[1] >= w[0]), "{chaotic:?}");
    assert!(chaotic[4] >= 1.0, "{chaotic:?}");
}

#[test]
fn the_continuous_adjoint_keeps_a_constant_number_of_values() {
    // Lorenz-96 contracting (F = 0.5), one time unit in 100, 1000 and 10000 steps.
    let start = [0.5, 0.5, 1.5, 0.5, 0.5, 0.5];
    let sizes: Vec<usize> = [100, 1000, 10_000]
        .iter()
        .map(|&steps| {
            let model = lorenz96(6, 0.5, 1.0 / steps as f64);
            let cost = QuadraticMisfit::new(6, 1.0, vec![0.0; (steps + 1) * 6], {
                let mut a = vec![false; steps + 1];
                a[steps] = true;
                a
            });
            continuous_gradient(&model, &start, steps, &cost)
                .unwrap()
                .stored_values
        })
        .collect();
    assert!(sizes.iter().all(|s| *s == sizes[0]), "{sizes:?}");
    // The forward pair (x, x_next), a and θ̄, the stage points of x and a and four stage
    // derivatives each of x, a and θ̄: 13 n + 5 p with n = 6, p = 1.
    assert_eq!(sizes[0], 13 * 6 + 5, "{sizes:?}");
    let model = lorenz96(6, 0.5, 1e-4);
    assert_eq!(Storage::All.stored_values(&model, 10_000), 10_001 * 6);
}
