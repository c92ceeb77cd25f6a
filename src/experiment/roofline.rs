//! The roofline of `fourdvar bench roofline`: the machine's measured peaks (a STREAM-like
//! triad a = b + s·c at the size of each cache level and of main memory, and a loop of
//! independent fused multiply-adds) and, for the model kernels, the floating-point operations
//! and bytes per step counted from the code, the achieved rates and the fraction of the
//! roofline bound min(peak FLOP/s, intensity × bandwidth) they reach.
//!
//! Bytes count every vector pass of a step once (each input read, each output written; no
//! write-allocate traffic; a stencil's neighbours come from cache), so they are the traffic of
//! a step whose vectors live at the memory level its working set fits in.

use rayon::prelude::*;

use super::benchmark::{seconds_per_call, time_steps};
use crate::core::verification::random_vector;
use crate::core::{integrate, Dynamics};
use crate::error::Result;
use crate::models::{lorenz96, ModelInfo};

/// Triad bandwidth at one level of the memory hierarchy.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TriadPeak {
    /// "L1", "L2", "L3" or "memory".
    pub level: &'static str,
    /// The bytes the three arrays take (the level's capacity this measurement stays within).
    pub bytes: usize,
    /// Bytes moved per second, 24 per element (two reads and one write).
    pub bytes_per_second: f64,
}

/// The machine's measured peaks, on one thread and on every thread of the pool.
#[derive(Clone, Debug, serde::Serialize)]
pub struct MachinePeaks {
    /// Threads of the "all threads" measurements.
    pub threads: usize,
    /// Fused multiply-adds per second × 2, one thread.
    pub flops_one_thread: f64,
    /// The same on every thread.
    pub flops_all_threads: f64,
    /// The triad on one thread at each level.
    pub triad_one_thread: Vec<TriadPeak>,
    /// The memory triad on every thread.
    pub triad_memory_all_threads: f64,
}

/// Array sizes (bytes of all three arrays) of the triad levels: within a 32 KiB L1, a
/// 512 KiB L2 and a 32 MiB L3, and far beyond any cache.
const LEVELS: [(&str, usize); 4] = [
    ("L1", 24 << 10),
    ("L2", 384 << 10),
    ("L3", 12 << 20),
    ("memory", 384 << 20),
];

/// a = b + s·c over chunks of the arrays, on the pool when `parallel`.
fn triad(a: &mut [f64], b: &[f64], c: &[f64], s: f64, parallel: bool) {
    let serial = |a: &mut [f64], b: &[f64], c: &[f64]| {
        for ((a, b), c) in a.iter_mut().zip(b).zip(c) {
            *a = b + s * c;
        }
    };
    if parallel {
        let len = a.len().div_ceil(rayon::current_num_threads().max(1));
        a.par_chunks_mut(len)
            .zip(b.par_chunks(len))
            .zip(c.par_chunks(len))
            .for_each(|((a, b), c)| serial(a, b, c));
    } else {
        serial(a, b, c)
    }
}

/// Bytes per second of the triad over arrays of `bytes` in all.
fn triad_rate(bytes: usize, parallel: bool, min_time: f64) -> f64 {
    let n = (bytes / 24).max(4);
    let (b, c) = (random_vector(n, 1), random_vector(n, 2));
    let mut a = vec![0.0; n];
    let seconds = seconds_per_call(min_time, || {
        triad(&mut a, &b, &c, 1.0001, parallel);
        std::hint::black_box(&mut a);
    });
    24.0 * n as f64 / seconds
}

/// Independent multiply-add chains: enough of them to hide the latency, so the loop runs at
/// the processor's multiply-add throughput. Returns a value that depends on every chain (so
/// that none is optimised away).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fma_chains(iterations: usize) -> f64 {
    use std::arch::x86_64::*;
    let a = _mm256_set1_pd(0.999_999_9);
    let b = _mm256_set1_pd(1e-9);
    let mut acc = [_mm256_set1_pd(1.0); 12];
    for _ in 0..iterations {
        for r in acc.iter_mut() {
            *r = _mm256_fmadd_pd(*r, a, b);
        }
    }
    let mut lanes = [0.0; 4];
    let mut total = _mm256_setzero_pd();
    for r in acc {
        total = _mm256_add_pd(total, r);
    }
    _mm256_storeu_pd(lanes.as_mut_ptr(), total);
    lanes.iter().sum()
}

/// Floating-point operations per call of [`fma_chains`]`(iterations)`: 12 chains × 4 lanes
/// × 2 operations.
const FMA_FLOPS_PER_ITERATION: f64 = 96.0;

/// Floating-point operations per second of one thread's multiply-add loop.
fn fma_rate_one_thread(min_time: f64) -> f64 {
    const ITERATIONS: usize = 100_000;
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("fma") && std::arch::is_x86_feature_detected!("avx2") {
        let seconds = seconds_per_call(min_time, || {
            // SAFETY: the processor has AVX2 and FMA (checked just above).
            std::hint::black_box(unsafe { fma_chains(std::hint::black_box(ITERATIONS)) });
        });
        return FMA_FLOPS_PER_ITERATION * ITERATIONS as f64 / seconds;
    }
    // Elsewhere: scalar multiply-adds in twelve chains.
    let seconds = seconds_per_call(min_time, || {
        let mut acc = [1.0f64; 12];
        for _ in 0..ITERATIONS {
            for r in acc.iter_mut() {
                *r = r.mul_add(0.999_999_9, 1e-9);
            }
        }
        std::hint::black_box(acc);
    });
    24.0 * ITERATIONS as f64 / seconds
}

/// Measures the machine's peaks, spending about `min_time` seconds on each.
pub fn measure_peaks(min_time: f64) -> MachinePeaks {
    let threads = rayon::current_num_threads().max(1);
    let one = fma_rate_one_thread(min_time);
    let rates: Vec<f64> = (0..threads)
        .into_par_iter()
        .map(|_| fma_rate_one_thread(min_time))
        .collect();
    let triad_one_thread = LEVELS
        .iter()
        .map(|&(level, bytes)| TriadPeak {
            level,
            bytes,
            bytes_per_second: triad_rate(bytes, false, min_time),
        })
        .collect();
    MachinePeaks {
        threads,
        flops_one_thread: one,
        flops_all_threads: rates.iter().sum(),
        triad_one_thread,
        triad_memory_all_threads: triad_rate(LEVELS[3].1, true, min_time),
    }
}

impl MachinePeaks {
    /// The one-thread triad bandwidth of the smallest level holding `working_set` bytes.
    pub fn bandwidth_for(&self, working_set: f64) -> (&'static str, f64) {
        let level = (self.triad_one_thread.iter())
            .find(|t| working_set <= t.bytes as f64 * 4.0 / 3.0)
            .or(self.triad_one_thread.last());
        level.map_or(("memory", f64::NAN), |t| (t.level, t.bytes_per_second))
    }
}

/// One kernel of the roofline table.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RooflineRow {
    /// "Lorenz-96" or "shallow water".
    pub model: &'static str,
    /// "forward", "tangent linear", "adjoint (stages recomputed)", "adjoint (stages stored)".
    pub kernel: &'static str,
    /// State values n.
    pub n: usize,
    /// Floating-point operations per step, counted from the code (None where not counted).
    pub flops: Option<f64>,
    /// Bytes per step: every vector pass once.
    pub bytes: f64,
    /// Bytes of the vectors one step touches (where they live decides the bandwidth).
    pub working_set: f64,
    /// Seconds per step (median of 5 batches).
    pub seconds: f64,
    /// The memory level whose triad bandwidth bounds the step.
    pub level: &'static str,
    /// The roofline bound on the step time: max(flops / peak, bytes / bandwidth).
    pub bound_seconds: f64,
}

impl RooflineRow {
    /// Achieved GFLOP/s.
    pub fn gflops(&self) -> Option<f64> {
        self.flops.map(|f| f / self.seconds / 1e9)
    }
    /// Achieved GB/s.
    pub fn gbytes(&self) -> f64 {
        self.bytes / self.seconds / 1e9
    }
    /// Measured time / roofline bound: 1 is at the roofline.
    pub fn times_bound(&self) -> f64 {
        self.seconds / self.bound_seconds
    }
}

/// Lorenz-96 operations per site, counted from `lorenz96.rs` and `rk4.rs`: f 4
/// ((x₊₁ − x₋₂)x₋₁ − x + F); an RK4 stage x + w k 2; the combination 6; the tangent of f 7;
/// the transpose of f 7, plus 2 per scaled output.
mod lorenz96_counts {
    /// Forward: 4 f + 3 stages + combination.
    pub const FORWARD: f64 = 4.0 * 4.0 + 3.0 * 2.0 + 6.0;
    /// Recomputing the stages: 3 f + 3 stage updates.
    const STAGES: f64 = 3.0 * 4.0 + 3.0 * 2.0;
    /// Tangent: the stages, 4 tangents of f, 3 stage updates, combination.
    pub const TANGENT: f64 = STAGES + 4.0 * 7.0 + 3.0 * 2.0 + 6.0;
    /// Adjoint from stored stages: k̄ start 3, 4 transposes with 2 outputs (3 of them) or 1,
    /// and the forcing's sum 4.
    pub const ADJOINT_STORED: f64 = 3.0 + 4.0 * 7.0 + 3.0 * 4.0 + 2.0 + 4.0;
    /// Adjoint recomputing its stages.
    pub const ADJOINT: f64 = STAGES + ADJOINT_STORED;
    /// Vector passes (8 bytes per site each): forward f 2 ×4, stages 3 ×3, combination 6.
    pub const FORWARD_PASSES: f64 = 4.0 * 2.0 + 3.0 * 3.0 + 6.0;
    /// Stages recomputed: 3 f (2 each) and 3 updates (3 each).
    const STAGE_PASSES: f64 = 3.0 * 2.0 + 3.0 * 3.0;
    /// Tangent: stages, 4 tangents (3 each), 3 updates, combination.
    pub const TANGENT_PASSES: f64 = STAGE_PASSES + 4.0 * 3.0 + 3.0 * 3.0 + 6.0;
    /// Adjoint from stored stages: start (1 read, 4 writes), 4 transposes reading x and λ and
    /// updating x̄ (2) and, three times, k̄ (2).
    pub const ADJOINT_STORED_PASSES: f64 = 5.0 + 4.0 * 4.0 + 3.0 * 2.0;
    /// Adjoint recomputing its stages.
    pub const ADJOINT_PASSES: f64 = STAGE_PASSES + ADJOINT_STORED_PASSES;
}

/// Shallow-water operations per cell of one f, counted from `eval_band`: u and v 28 each
/// (Coriolis average 4, two differences 4, advection 3, Coriolis 2, pressure gradient 4,
/// viscosity 10, sum 1), h 32 (four fluxes 16, divergence 5, viscosity 10, sum 1).
const SHALLOW_WATER_F_FLOPS: f64 = 88.0;

/// The roofline rows of Lorenz-96 at each of `sizes` and of the shallow-water forward step on
/// each of `grids` (n × n cells, in parallel on the pool), against `peaks`.
pub fn roofline_rows(
    sizes: &[usize],
    grids: &[usize],
    peaks: &MachinePeaks,
    min_time: f64,
) -> Result<Vec<RooflineRow>> {
    use lorenz96_counts::*;
    let mut rows = Vec::new();
    for &n in sizes {
        let model = lorenz96(n, 8.0, 0.05);
        let start: Vec<f64> = random_vector(n, 1).iter().map(|z| 2.3 + 3.6 * z).collect();
        let x = integrate(&model, &start, 50, |_, _| {})?;
        let dx = random_vector(n, 2);
        let times = time_steps(&model, &x, &dx, min_time);
        let (forward, tl, ad, ad_stored) = (
            times.forward,
            times.tangent,
            times.adjoint,
            times.adjoint_recorded,
        );
        let bytes = 8.0 * n as f64;
        // x, four k, three stages and the output; the tangent and the adjoint hold about
        // twice as many vectors.
        for (kernel, flops, passes, vectors, seconds) in [
            ("forward", FORWARD, FORWARD_PASSES, 9.0, forward),
            ("tangent linear", TANGENT, TANGENT_PASSES, 15.0, tl),
            (
                "adjoint, stages recomputed",
                ADJOINT,
                ADJOINT_PASSES,
                14.0,
                ad,
            ),
            (
                "adjoint, stages stored",
                ADJOINT_STORED,
                ADJOINT_STORED_PASSES,
                10.0,
                ad_stored,
            ),
        ] {
            rows.push(row(
                peaks,
                "Lorenz-96",
                kernel,
                n,
                Some(flops * n as f64),
                passes * bytes,
                vectors * bytes,
                seconds,
                false,
            ));
        }
    }
    for &grid in grids {
        let model = super::benchmark::benchmark_shallow_water_model(
            grid,
            crate::models::shallow_water::PARALLEL_MIN_CELLS,
        )?;
        let x = model.default_initial_state();
        let cells = (grid * grid) as f64;
        let mut ws = model.workspace();
        let mut out = vec![0.0; x.len()];
        let forward = seconds_per_call(min_time, || model.step(&mut ws, 0, &x, &mut out));
        // Per cell: 3 values per vector; f reads and writes 2 vectors of 3, a stage 3, the
        // combination 6.
        let flops = (4.0 * SHALLOW_WATER_F_FLOPS + 3.0 * 3.0 * 2.0 + 3.0 * 6.0) * cells;
        let vector = 24.0 * cells;
        rows.push(row(
            peaks,
            "shallow water",
            "forward",
            x.len(),
            Some(flops),
            (4.0 * 2.0 + 3.0 * 3.0 + 6.0) * vector,
            9.0 * vector,
            forward,
            true,
        ));
    }
    Ok(rows)
}

/// A row with its roofline bound: the step cannot be faster than its operations at the
/// multiply-add peak nor than its bytes at the triad bandwidth of the level its working set
/// fits in — of one thread, or with `parallel` of every thread (the caches are per core, the
/// memory triad is measured on all threads).
#[allow(clippy::too_many_arguments)]
fn row(
    peaks: &MachinePeaks,
    model: &'static str,
    kernel: &'static str,
    n: usize,
    flops: Option<f64>,
    bytes: f64,
    working_set: f64,
    seconds: f64,
    parallel: bool,
) -> RooflineRow {
    let (level, one_thread) = peaks.bandwidth_for(working_set);
    let (flops_peak, bandwidth) = match (parallel, level) {
        (false, _) => (peaks.flops_one_thread, one_thread),
        (true, "memory") => (peaks.flops_all_threads, peaks.triad_memory_all_threads),
        (true, _) => (peaks.flops_all_threads, one_thread * peaks.threads as f64),
    };
    let compute = flops.map_or(0.0, |f| f / flops_peak);
    RooflineRow {
        model,
        kernel,
        n,
        flops,
        bytes,
        working_set,
        seconds,
        level,
        bound_seconds: compute.max(bytes / bandwidth),
    }
}
