//! Taylor tests of every tangent-linear model, dot-product tests of every adjoint and gradient
//! tests of the sweep, at the thresholds of DESIGN.md and issue #2.

use fourdvar::core::stage_costs::QuadraticMisfit;
use fourdvar::core::sweep::cost_value;
use fourdvar::core::verification::{
    dot_product_test, gradient_test, random_vector, taylor_test, TaylorReport,
};
use fourdvar::core::{integrate, value_and_gradient, Dynamics, Storage};
use fourdvar::models::{lorenz63, lorenz96, ModelInfo};

mod common;

/// A state on the attractor: the default start spun up for `steps` steps.
fn spun_up<M: Dynamics + ModelInfo>(model: &M, steps: usize) -> Vec<f64> {
    integrate(model, &model.default_initial_state(), steps, |_, _| {}).unwrap()
}

fn assert_taylor(report: &TaylorReport, what: &str) {
    for row in &report.rows {
        println!(
            "{what}: eps {:9.2e} ratio {:.15} residual {:9.3e}",
            row.epsilon, row.ratio, row.residual
        );
    }
    println!(
        "{what}: best |ratio-1| = {:.3e}, slope {:.4} over {:.1} decades",
        report.best_ratio_error, report.slope, report.slope_decades
    );
    assert!(
        report.best_ratio_error <= 1e-6,
        "{what}: {}",
        report.best_ratio_error
    );
    assert!(
        (report.slope - 2.0).abs() <= 0.1,
        "{what}: slope {}",
        report.slope
    );
    assert!(
        report.slope_decades >= 4.0,
        "{what}: only {} decades",
        report.slope_decades
    );
}

fn taylor_suite<M: Dynamics + ModelInfo + Clone>(model: &M, x: &[f64], seed: u64) {
    let n = model.state_len();
    let p = model.param_len();
    let dx = random_vector(n, seed);
    let dp = random_vector(p, seed + 1);
    let zero_p = vec![0.0; p];
    let zero_x = vec![0.0; n];
    for steps in [1, 20] {
        let name = model.name();
        let joint = taylor_test(model, x, &dx, &dp, steps).unwrap();
        assert_taylor(&joint, &format!("{name} TL (state+params), {steps} steps"));
        let state = taylor_test(model, x, &dx, &zero_p, steps).unwrap();
        assert_taylor(&state, &format!("{name} TL (state), {steps} steps"));
        let params = taylor_test(model, x, &zero_x, &dp, steps).unwrap();
        assert_taylor(&params, &format!("{name} TL (params), {steps} steps"));
    }
}

fn dot_product_suite<M: Dynamics + ModelInfo>(model: &M, x: &[f64], seed: u64) {
    let n = model.state_len();
    let p = model.param_len();
    for (trial, steps) in [1usize, 20, 1, 20].into_iter().enumerate() {
        let s = seed + 10 * trial as u64;
        let dx = random_vector(n, s);
        let dp = random_vector(p, s + 1);
        let dy = random_vector(n, s + 2);
        let report = dot_product_test(model, x, &dx, &dp, &dy, steps).unwrap();
        println!("{} AD, {steps} steps: {report:?}", model.name());
        assert!(report.relative_error <= 1e-13, "{report:?}");
        assert!(report.absolute_error <= 1e-13, "{report:?}");
        // The parameter part alone, so a wrong θ̄ cannot hide behind the state part.
        let zero = vec![0.0; n];
        let params_only = dot_product_test(model, x, &zero, &dp, &dy, steps).unwrap();
        assert!(params_only.relative_error <= 1e-13, "{params_only:?}");
    }
}

/// A quadratic misfit to a trajectory from a nearby start, at every other step of 20.
fn misfit_against_nearby<M: Dynamics>(model: &M, x: &[f64], seed: u64) -> QuadraticMisfit {
    let n = model.state_len();
    let steps = 20;
    let shift = random_vector(n, seed);
    let start: Vec<f64> = x.iter().zip(&shift).map(|(a, b)| a + 0.5 * b).collect();
    let mut targets = Vec::new();
    integrate(model, &start, steps, |_, s| targets.extend_from_slice(s)).unwrap();
    let active = (0..=steps).map(|k| k % 2 == 0).collect();
    QuadraticMisfit::new(n, 1.0, targets, active)
}

fn gradient_suite<M: Dynamics + ModelInfo + Clone>(model: &M, x: &[f64], seed: u64) {
    let steps = 20;
    let cost = misfit_against_nearby(model, x, seed);
    let result = value_and_gradient(model, x, steps, &cost, Storage::All).unwrap();
    // With respect to x0.
    let h = random_vector(x.len(), seed + 7);
    let report = gradient_test(
        |x0| cost_value(model, x0, steps, &cost),
        x,
        &result.state_gradient,
        &h,
    )
    .unwrap();
    println!("{} gradient wrt x0: {report:?}", model.name());
    assert!(report.best_error <= 1e-6, "{report:?}");
    // With respect to θ.
    let theta = model.params();
    let dtheta = random_vector(theta.len(), seed + 8);
    let report = gradient_test(
        |p| {
            let mut m = model.clone();
            m.set_params(p);
            cost_value(&m, x, steps, &cost)
        },
        &theta,
        &result.param_gradient,
        &dtheta,
    )
    .unwrap();
    println!("{} gradient wrt params: {report:?}", model.name());
    assert!(report.best_error <= 1e-6, "{report:?}");
}

#[test]
fn lorenz96_tangent_linear_passes_taylor_test() {
    let model = lorenz96(40, 8.0, 0.05);
    taylor_suite(&model, &spun_up(&model, 1000), 1);
}

#[test]
fn lorenz96_adjoint_passes_dot_product_test() {
    let model = lorenz96(40, 8.0, 0.05);
    dot_product_suite(&model, &spun_up(&model, 1000), 2);
    // The smallest ring, where every site is a seam site.
    let small = lorenz96(4, 8.0, 0.05);
    dot_product_suite(&small, &spun_up(&small, 500), 3);
}

#[test]
fn lorenz96_cost_gradient_passes_gradient_test() {
    let model = lorenz96(40, 8.0, 0.05);
    gradient_suite(&model, &spun_up(&model, 1000), 4);
}

#[test]
fn lorenz63_tangent_linear_passes_taylor_test() {
    let model = lorenz63(10.0, 28.0, 8.0 / 3.0, 0.01);
    taylor_suite(&model, &spun_up(&model, 1000), 5);
}

#[test]
fn lorenz63_adjoint_passes_dot_product_test() {
    let model = lorenz63(10.0, 28.0, 8.0 / 3.0, 0.01);
    dot_product_suite(&model, &spun_up(&model, 1000), 6);
}

#[test]
fn lorenz63_cost_gradient_passes_gradient_test() {
    let model = lorenz63(10.0, 28.0, 8.0 / 3.0, 0.01);
    gradient_suite(&model, &spun_up(&model, 1000), 7);
}

/// A trainable neural-ODE emulator (radius 2, width 8) with random weights of moderate size,
/// on 12 sites, at a state of Lorenz-96 size.
fn emulator(seed: u64) -> (fourdvar::models::stencil_mlp::StencilMlpModel, Vec<f64>) {
    use fourdvar::models::stencil_mlp::stencil_mlp_model;
    let model = stencil_mlp_model(12, common::random_stencil_net(seed), 0.05, true);
    let x = random_vector(12, seed + 1)
        .into_iter()
        .map(|v| 2.0 + 3.5 * v)
        .collect();
    (model, x)
}

#[test]
fn emulator_tangent_linear_passes_taylor_test() {
    let (model, x) = emulator(20);
    taylor_suite(&model, &x, 21);
}

#[test]
fn emulator_adjoint_passes_dot_product_test() {
    let (model, x) = emulator(22);
    dot_product_suite(&model, &x, 23);
    // The smallest ring the stencil fits on (5 sites: every site reads all of them).
    use fourdvar::models::stencil_mlp::stencil_mlp_model;
    let small = stencil_mlp_model(5, model.field.net.clone(), 0.05, true);
    dot_product_suite(&small, &x[..5], 24);
}

#[test]
fn emulator_cost_gradient_passes_gradient_test() {
    let (model, x) = emulator(25);
    gradient_suite(&model, &x, 26);
}

#[test]
fn linear_model_adjoint_is_the_transpose_and_its_tangent_is_itself() {
    use fourdvar::models::linear::LinearModel;
    let n = 7;
    // Entries N(0, 0.3²): spectral radius about 0.8, so 20 steps neither explode nor vanish.
    let a: Vec<f64> = random_vector(n * n, 51).iter().map(|v| 0.3 * v).collect();
    let model = LinearModel::new(n, a).unwrap();
    let x = random_vector(n, 52);
    for steps in [1, 20] {
        let report = dot_product_test(
            &model,
            &x,
            &random_vector(n, 53),
            &[],
            &random_vector(n, 54),
            steps,
        )
        .unwrap();
        assert!(report.relative_error <= 1e-13, "{report:?}");
        assert!(report.absolute_error <= 1e-13, "{report:?}");
        // Linear: M(x + εδ) − M(x) = ε M'δ at every ε, up to the cancellation error of the
        // difference (about 1e-16 / ε).
        let taylor = taylor_test(&model, &x, &random_vector(n, 55), &[], steps).unwrap();
        for r in taylor.rows.iter().filter(|r| r.epsilon >= 1e-6) {
            assert!((r.ratio - 1.0).abs() < 1e-8, "{r:?}");
        }
    }
    assert!(LinearModel::new(3, vec![0.0; 8]).is_none());
}
