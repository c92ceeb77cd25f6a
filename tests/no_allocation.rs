//! The step loop never allocates: the number of heap allocations of a run does not depend on
//! how many steps it takes. Counted with a global allocator, so this file holds one test only.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use fourdvar::core::stage_costs::QuadraticMisfit;
use fourdvar::core::{integrate, value_and_gradient, Dynamics, Storage};
use fourdvar::models::{lorenz96, ModelInfo};

struct CountingAllocator;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations_of(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    f();
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

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
}
