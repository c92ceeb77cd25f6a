//! `Storage::Stages`: the sweep keeps every RK4 step's stages s₂, s₃, s₄ from the forward
//! run instead of recomputing them in every adjoint step. The adjoint performs the same
//! operations in the same order either way, so the cost and every gradient must be the same
//! bit for bit as with `Storage::All` (and as with checkpointing), for every model.

use fourdvar::core::stage_costs::QuadraticMisfit;
use fourdvar::core::verification::random_vector;
use fourdvar::core::{integrate, value_and_gradient, Dynamics, Storage, SweepResult};
use fourdvar::models::shallow_water::ShallowWaterParameters;
use fourdvar::models::{
    lorenz63, lorenz96, lorenz96_two_scale, shallow_water, Lorenz96TwoScaleField, ModelInfo,
    ShallowWaterField,
};
use fourdvar::var::model_error::Forced;

/// The bits of every number a sweep returns, so that equality means bit-for-bit equality
/// (−0.0 ≠ 0.0, and a NaN would not equal itself as an f64).
fn bits(r: &SweepResult) -> Vec<u64> {
    std::iter::once(r.cost)
        .chain(r.state_gradient.iter().copied())
        .chain(r.param_gradient.iter().copied())
        .chain(r.input_gradient.iter().copied())
        .map(f64::to_bits)
        .collect()
}

/// A misfit to a perturbed trajectory observed at two steps out of three, so that the
/// gradient has contributions from many steps.
fn misfit<D: Dynamics>(model: &D, x: &[f64], steps: usize, seed: u64) -> QuadraticMisfit {
    let n = model.state_len();
    let shift = random_vector(n, seed);
    let start: Vec<f64> = x.iter().zip(&shift).map(|(a, b)| a + 0.1 * b).collect();
    let mut targets = Vec::new();
    integrate(model, &start, steps, |_, s| targets.extend_from_slice(s)).unwrap();
    let active = (0..=steps).map(|k| k % 3 != 1).collect();
    QuadraticMisfit::new(n, 0.7, targets, active)
}

/// Asserts that stage storage, state storage and checkpointing give identical results, and
/// returns them (for further checks).
fn assert_identical<D: Dynamics>(name: &str, model: &D, x: &[f64], steps: usize) -> SweepResult {
    assert!(model.tape_len() > 0, "{name} records no stages");
    let cost = misfit(model, x, steps, 5);
    let states = value_and_gradient(model, x, steps, &cost, Storage::All).unwrap();
    let stages = value_and_gradient(model, x, steps, &cost, Storage::Stages).unwrap();
    let checkpoints = value_and_gradient(model, x, steps, &cost, Storage::Checkpoints(3)).unwrap();
    assert!(states.cost > 0.0, "{name}: a zero cost checks nothing");
    assert!(
        states.state_gradient.iter().any(|g| g.abs() > 1e-12),
        "{name}: a zero gradient checks nothing"
    );
    assert_eq!(bits(&stages), bits(&states), "{name}: stages vs states");
    assert_eq!(
        bits(&checkpoints),
        bits(&states),
        "{name}: checkpoints vs states"
    );
    assert_eq!(stages.forward_steps, steps as u64);
    stages
}

#[test]
fn lorenz96_stage_storage_is_bit_identical_to_recomputing() {
    for n in [4, 5, 40, 1003] {
        let model = lorenz96(n, 8.0, 0.05);
        let x = integrate(&model, &model.default_initial_state(), 300, |_, _| {}).unwrap();
        let r = assert_identical(&format!("Lorenz-96 N = {n}"), &model, &x, 25);
        assert!(
            r.param_gradient[0] != 0.0,
            "the forcing's gradient is exercised"
        );
    }
}

#[test]
fn lorenz63_and_two_scale_stage_storage_is_bit_identical() {
    let l63 = lorenz63(10.0, 28.0, 8.0 / 3.0, 0.01);
    let x = integrate(&l63, &l63.default_initial_state(), 500, |_, _| {}).unwrap();
    assert_identical("Lorenz-63", &l63, &x, 40);
    let two = lorenz96_two_scale(Lorenz96TwoScaleField::default(), 0.005);
    let x = integrate(&two, &two.default_initial_state(), 200, |_, _| {}).unwrap();
    assert_identical("two-scale Lorenz-96", &two, &x, 15);
}

#[test]
fn shallow_water_stage_storage_is_bit_identical_serial_and_parallel() {
    for (parallel_min_cells, parameters) in [
        (usize::MAX, ShallowWaterParameters::default()),
        (
            0,
            ShallowWaterParameters {
                coriolis: true,
                gravity: true,
            },
        ),
    ] {
        let model = shallow_water(
            ShallowWaterField {
                nx: 24,
                ny: 20,
                dx: 100e3,
                dy: 80e3,
                viscosity: 2e4,
                parallel_min_cells,
                parameters,
                ..ShallowWaterField::default()
            },
            300.0,
        );
        let mut x = model.default_initial_state();
        for (xi, r) in x.iter_mut().zip(random_vector(model.state_len(), 3)) {
            *xi += 0.5 * r;
        }
        let name = format!("shallow water, parallel from {parallel_min_cells} cells");
        let r = assert_identical(&name, &model, &x, 12);
        assert_eq!(r.param_gradient.len(), model.param_len());
    }
}

#[test]
fn a_forced_model_keeps_its_inner_models_stages() {
    // Weak-constraint 4D-Var runs the model through `Forced`, x_{k+1} = M(x_k) + η_k: the
    // tape is the inner model's, and the input gradient (∂J/∂η_k) must agree too.
    let model = lorenz96(40, 8.0, 0.05);
    let x = integrate(&model, &model.default_initial_state(), 300, |_, _| {}).unwrap();
    let steps = 12;
    let eta: Vec<f64> = random_vector(40 * 8, 9).iter().map(|e| 0.05 * e).collect();
    let forced = Forced::new(&model, &eta);
    assert_eq!(forced.tape_len(), model.tape_len());
    let r = assert_identical("forced Lorenz-96", &forced, &x, steps);
    assert_eq!(r.input_gradient.len(), steps * 40);
    assert!(r.input_gradient.iter().any(|g| *g != 0.0));
}

#[test]
fn stage_storage_holds_the_states_and_three_stages_per_step() {
    let model = lorenz96(40, 8.0, 0.05);
    assert_eq!(model.tape_len(), 120);
    assert_eq!(Storage::All.stored_values(&model, 10), 11 * 40);
    assert_eq!(
        Storage::Stages.stored_values(&model, 10),
        11 * 40 + 10 * 120
    );
    assert_eq!(Storage::Checkpoints(4).stored_values(&model, 10), 4 * 40);
    assert_eq!(Storage::Checkpoints(40).stored_values(&model, 10), 10 * 40);
}

#[test]
fn the_fused_lorenz96_transpose_equals_starting_then_accumulating() {
    // RK4's adjoint starts x̄ and the k̄ from λ' inside the stage transposes; Lorenz-96 does
    // it in the same pass. It must give the numbers of setting the outputs first and then
    // accumulating, bit for bit, for every start pattern and ring size (seams and tails).
    use fourdvar::models::lorenz96::Lorenz96Field;
    use fourdvar::models::rk4::{AdjointStart, AdjointTargets, VectorField};
    for n in [4, 5, 6, 7, 8, 9, 40, 1001] {
        let field = Lorenz96Field { n, forcing: 8.0 };
        let (x, lambda, base) = (
            random_vector(n, 1),
            random_vector(n, 2),
            random_vector(n, 3),
        );
        for (primary, secondary, with_secondary) in [
            (true, Some(0.3), true),
            (false, Some(0.7), true),
            (true, None, true),
            (false, None, true),
            (true, None, false),
            (false, Some(0.2), false),
        ] {
            let start = AdjointStart {
                base: &base,
                primary,
                secondary,
            };
            let run = |fused: bool| {
                let (mut p, mut s, mut f) = (random_vector(n, 4), random_vector(n, 5), [0.5]);
                let targets = AdjointTargets {
                    primary: &mut p,
                    alpha: 0.9,
                    secondary: with_secondary.then_some((&mut s[..], 1.3)),
                    params: &mut f,
                };
                if fused {
                    field.adjoint_from(&x, &lambda, targets, start);
                } else {
                    let mut targets = targets;
                    start.apply(&mut targets, None);
                    field.adjoint(&x, &lambda, targets);
                }
                let all: Vec<u64> = p.iter().chain(&s).chain(&f).map(|v| v.to_bits()).collect();
                all
            };
            assert_eq!(
                run(true),
                run(false),
                "n {n}, {primary} {secondary:?} {with_secondary}"
            );
        }
    }
}
