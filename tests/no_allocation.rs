//! The step loop never allocates: the number of heap allocations of a run does not depend on
//! how many steps it takes. Counted per thread (the test harness's own thread allocates while
//! the test runs, which a process-wide count would pick up now and then).

mod thread_allocations;
use thread_allocations::{allocations_of, CountingAllocator};

use fourdvar::core::stage_costs::QuadraticMisfit;
use fourdvar::core::{integrate, value_and_gradient, Dynamics, Storage};
use fourdvar::core::{AdjointOutputs, TangentInputs};
use fourdvar::models::{lorenz96, shallow_water, ModelInfo, ShallowWaterField};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

#[test]
fn step_loops_do_not_allocate() {
    let model = lorenz96(40, 8.0, 0.05);
    let x = model.default_initial_state();

    // Single steps with a prepared workspace: no allocation at all.
    let mut ws = model.workspace();
    let mut out = vec![0.0; 40];
    let steps = allocations_of(|| {
        for k in 0..1000 {
            model.step(&mut ws, k, &x, &mut out);
        }
    });
    assert_eq!(steps, 0);

    let run = |n: usize| allocations_of(|| drop(integrate(&model, &x, n, |_, _| {}).unwrap()));
    assert_eq!(run(10), run(1000), "integrate allocates per step");

    let misfit =
        |n: usize| QuadraticMisfit::new(40, 1.0, vec![0.0; (n + 1) * 40], vec![true; n + 1]);
    for storage in [Storage::All, Storage::Checkpoints(4)] {
        let sweep = |n: usize| {
            let cost = misfit(n);
            allocations_of(|| drop(value_and_gradient(&model, &x, n, &cost, storage).unwrap()))
        };
        let (short, long) = (sweep(20), sweep(400));
        println!("{storage:?}: {short} allocations for 20 steps, {long} for 400");
        assert_eq!(
            short, long,
            "value_and_gradient allocates per step with {storage:?}"
        );
    }

    // Shallow water below the parallel threshold: the serial path allocates nothing.
    let small = shallow_water(
        ShallowWaterField {
            nx: 16,
            ny: 12,
            ..ShallowWaterField::default()
        },
        300.0,
    );
    assert!(small.field.cells() < small.field.parallel_min_cells);
    let serial = sw_step_allocations(&small, 50);
    println!("shallow water 16 x 12, serial: {serial} allocations in 50 step/TL/AD triples");
    assert_eq!(serial, 0);
    // Above it, rayon may allocate inside its pool (job queues); the calling thread's
    // allocations are counted, not asserted.
    let large = shallow_water(
        ShallowWaterField {
            nx: 16,
            ny: 12,
            parallel_min_cells: 0,
            ..ShallowWaterField::default()
        },
        300.0,
    );
    let parallel = sw_step_allocations(&large, 50);
    println!("shallow water 16 x 12 on the rayon path: {parallel} allocations in 50 triples");
}

/// Allocations of `steps` forward, TL and AD steps with a prepared workspace (after one
/// warm-up triple).
fn sw_step_allocations(model: &fourdvar::models::ShallowWater, steps: usize) -> usize {
    let x = model.default_initial_state();
    let n = x.len();
    let mut ws = model.workspace();
    let (mut next, mut tl, mut ad) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    let dx = vec![1e-3; n];
    let mut triple = |ws: &mut <fourdvar::models::ShallowWater as Dynamics>::Workspace| {
        model.step(ws, 0, &x, &mut next);
        let tangent = TangentInputs {
            state: &dx,
            params: &[],
            input: &[],
        };
        model.step_tl(ws, 0, &x, tangent, &mut tl);
        let out = AdjointOutputs {
            state: &mut ad,
            params: &mut [],
            input: &mut [],
        };
        model.step_ad(ws, 0, &x, &next, &dx, out);
    };
    triple(&mut ws);
    allocations_of(|| {
        for _ in 0..steps {
            triple(&mut ws);
        }
    })
}
