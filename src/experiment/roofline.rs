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

use super::benchmark::{seconds_per_call, time_steps, StepTimes};
use crate::core::integrate;
use crate::core::verification::random_vector;
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

/// Operations and vector passes of one RK4 step (forward, tangent linear, adjoint with its
/// stages recomputed or stored) per site, from the counts of the vector field. The RK4 part
/// is counted from `rk4.rs`: a stage x + w k takes 2 operations per value and 3 vector passes
/// (read x and k, write), the combination x + c(k₁ + 2k₂ + 2k₃ + k₄) 6 and 6, f reads x and
/// writes k (2 passes), its tangent reads x and δx and writes (3).
struct Rk4Counts {
    /// Operations per site of f.
    f: f64,
    /// Operations per site of the tangent of f.
    tangent: f64,
    /// Operations per site of the adjoint from stored stages: the four transposes with their
    /// outputs and starts.
    adjoint_stored: f64,
    /// Vector passes of the adjoint from stored stages.
    adjoint_stored_passes: f64,
    /// Values per site (1 for Lorenz-96; u, v, h for shallow water).
    values: f64,
}

impl Rk4Counts {
    /// Lorenz-96, counted from `lorenz96.rs`: f 4 ((x₊₁ − x₋₂)x₋₁ − x + F), its tangent 7,
    /// the transpose 7 plus 2 per scaled output. The adjoint from stored stages: k̄ starts 3,
    /// 4 transposes with 2 outputs (3 of them) or 1, the forcing's sum 4; its passes: the start
    /// (1 read, 4 writes), 4 transposes reading x and λ and updating x̄ (2) and, three times,
    /// a k̄ (2).
    const LORENZ96: Self = Self {
        f: 4.0,
        tangent: 7.0,
        adjoint_stored: 3.0 + 4.0 * 7.0 + 3.0 * 4.0 + 2.0 + 4.0,
        adjoint_stored_passes: 5.0 + 4.0 * 4.0 + 3.0 * 2.0,
        values: 1.0,
    };

    /// Shallow water, per cell, counted from `eval_band`, `tangent_band` and `adjoint_band`:
    /// f 88 (u and v 28 each: Coriolis average 4, two differences 4, advection 3, Coriolis 2,
    /// pressure gradient 4, viscosity 10, sum 1; h 32: four fluxes 16, divergence 5, viscosity
    /// 10, sum 1); the tangent 131 (u and v 41 each: both averages and four differences 16,
    /// five products 10, pressure gradient 4, viscosity 11; h 49: four flux tangents 32,
    /// divergence 6, viscosity 11); the transpose 169 (the neighbours' coefficients 42, ū 42,
    /// v̄ 41, h̄ 38, the scaled output 6) and 6 more for a second output. The adjoint from
    /// stored stages: the k̄ starts c·λ' 3 × 3, three transposes with two outputs and one
    /// with one. Passes: x̄ = λ' (2) and three k̄ = c·λ' (2 each), 4 transposes reading x and
    /// λ and updating x̄ (4) and, three times, a k̄ (2).
    const SHALLOW_WATER: Self = Self {
        f: 88.0,
        tangent: 131.0,
        adjoint_stored: 3.0 * 3.0 + 3.0 * (169.0 + 6.0) + 169.0,
        adjoint_stored_passes: 2.0 + 3.0 * 2.0 + 4.0 * 4.0 + 3.0 * 2.0,
        values: 3.0,
    };

    /// Recomputing s₂, s₃, s₄: 3 f and 3 stage updates.
    fn stages(&self) -> (f64, f64) {
        (
            3.0 * self.f + 3.0 * 2.0 * self.values,
            3.0 * 2.0 + 3.0 * 3.0,
        )
    }

    /// (kernel, operations per site, vector passes, vectors touched) of the four kernels.
    fn kernels(&self) -> [(&'static str, f64, f64, f64); 4] {
        let v = self.values;
        let (stage_flops, stage_passes) = self.stages();
        let forward = 4.0 * self.f + 3.0 * 2.0 * v + 6.0 * v;
        let tangent = stage_flops + 4.0 * self.tangent + 3.0 * 2.0 * v + 6.0 * v;
        let adjoint = stage_flops + self.adjoint_stored;
        // x, four k, three stages and the output; the tangent and the adjoint hold about
        // twice as many vectors.
        [
            ("forward", forward, 4.0 * 2.0 + 3.0 * 3.0 + 6.0, 9.0),
            (
                "tangent linear",
                tangent,
                stage_passes + 4.0 * 3.0 + 3.0 * 3.0 + 6.0,
                15.0,
            ),
            (
                "adjoint, stages recomputed",
                adjoint,
                stage_passes + self.adjoint_stored_passes,
                14.0,
            ),
            (
                "adjoint, stages stored",
                self.adjoint_stored,
                self.adjoint_stored_passes,
                10.0,
            ),
        ]
    }
}

/// The roofline rows of Lorenz-96 at each of `sizes` (one thread) and of shallow water on
/// each of `grids` (n × n cells, in parallel on the pool), against `peaks`.
pub fn roofline_rows(
    sizes: &[usize],
    grids: &[usize],
    peaks: &MachinePeaks,
    min_time: f64,
) -> Result<Vec<RooflineRow>> {
    let mut rows = Vec::new();
    for &n in sizes {
        let model = lorenz96(n, 8.0, 0.05);
        let start: Vec<f64> = random_vector(n, 1).iter().map(|z| 2.3 + 3.6 * z).collect();
        let x = integrate(&model, &start, 50, |_, _| {})?;
        let times = time_steps(&model, &x, &random_vector(n, 2), min_time);
        let rows_of = model_rows(peaks, "Lorenz-96", &Rk4Counts::LORENZ96, n, &times, false);
        rows.extend(rows_of);
    }
    for &grid in grids {
        let model = super::benchmark::benchmark_shallow_water_model(
            grid,
            crate::models::shallow_water::PARALLEL_MIN_CELLS,
        )?;
        let x = model.default_initial_state();
        let times = time_steps(&model, &x, &random_vector(x.len(), 2), min_time);
        let counts = &Rk4Counts::SHALLOW_WATER;
        rows.extend(model_rows(
            peaks,
            "shallow water",
            counts,
            x.len(),
            &times,
            true,
        ));
    }
    Ok(rows)
}

/// The four rows of a model with `n` state values (`counts.values` per site) and the step
/// `times`.
fn model_rows(
    peaks: &MachinePeaks,
    model: &'static str,
    counts: &Rk4Counts,
    n: usize,
    times: &StepTimes,
    parallel: bool,
) -> Vec<RooflineRow> {
    let sites = n as f64 / counts.values;
    let vector = 8.0 * n as f64;
    let seconds = [
        times.forward,
        times.tangent,
        times.adjoint,
        times.adjoint_recorded,
    ];
    (counts.kernels().into_iter().zip(seconds))
        .map(|((kernel, flops, passes, vectors), seconds)| {
            let flops = Some(flops * sites);
            let (bytes, working_set) = (passes * vector, vectors * vector);
            row(
                peaks,
                model,
                kernel,
                n,
                flops,
                bytes,
                working_set,
                seconds,
                parallel,
            )
        })
        .collect()
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
