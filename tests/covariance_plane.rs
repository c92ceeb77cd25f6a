//! The plane Gaussian background covariance B = blockdiag_v σ_v² (C_y ⊗ C_x), what is specific
//! to the plane (the properties every B has, such as the adjoint's dot-product test and the
//! inverses, run over all constructions in tests/covariance.rs): its square root against a
//! dense Kronecker product built here from the wrapped Gaussian, B^½ (B^½)ᵀ = B, symmetry of
//! every power, conditioning and its spectral floor, per-variable σ and L, the 64 × 64 default
//! grid (variance of samples, no allocation per apply), the `[background]` settings for plane
//! models, the geostrophic balance B = K B_u Kᵀ (stencil, dot-product test, geostrophic and
//! non-divergent winds, inverses, κ against LAPACK), and (ignored, `--nocapture`) the time of
//! one apply.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use fourdvar::core::vector::dot;
use fourdvar::core::verification::random_vector;
use fourdvar::cov::{BackgroundCovariance, GeostrophicBalance};
use fourdvar::cov::{BalanceKind, CorrelationKind};
use fourdvar::experiment::window_analysis::background_covariance;
use fourdvar::io::experiment_config::{BackgroundConfig, LoadedExperiment};
use fourdvar::io::model_config::ModelConfig;
use fourdvar::models::AnyModel;
use fourdvar::models::{lorenz96, ModelInfo, ShallowWater};
use ndarray::Array2;
use ndarray_linalg::{Eigh, UPLO};

// ---------------------------------------------------------------------------------------------
// Allocation counting, per thread so that tests running in parallel do not disturb each other.

mod thread_allocations;
use thread_allocations::{allocations_of, CountingAllocator};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

// ---------------------------------------------------------------------------------------------
// A small grid and the dense reference built independently of the library.

use fourdvar::geometry::staggered_plane::{staggered_plane, CellGrid, StaggeredField};
use fourdvar::geometry::Geometry;
use fourdvar::models::shallow_water::FIELDS;

/// nx ≠ ny and dx ≠ dy, so a swapped axis shows.
const NX: usize = 8;
const NY: usize = 6;
const DX: f64 = 100e3;
const DY: f64 = 80e3;

/// The shallow-water C-grid geometry on nx × ny cells of dx × dy metres.
fn grid(nx: usize, ny: usize, dx: f64, dy: f64) -> Geometry {
    staggered_plane(cells(nx, ny, dx, dy), &FIELDS, Some((0, 1)))
}

fn cells(nx: usize, ny: usize, dx: f64, dy: f64) -> CellGrid {
    CellGrid { nx, ny, dx, dy }
}

/// σ = (1, 2, 5) and L = (100, 100, 120) km: two variables share a length scale, one does not.
/// (κ of the h correlation ≈ 2·10⁷: conditioned well enough for B⁻¹ B = I to 10⁻¹⁰; at
/// L = 150 km, κ ≈ 5·10¹¹ and B⁻¹ B x loses six digits, as any B of that κ would.)
const SIGMAS: [f64; 3] = [1.0, 2.0, 5.0];
const SCALES: [f64; 3] = [100e3, 100e3, 120e3];

fn small() -> BackgroundCovariance {
    BackgroundCovariance::plane_gaussian(&grid(NX, NY, DX, DY), &SIGMAS, &SCALES).unwrap()
}

/// Σ_m exp(−(d + mW)²/(2L²)) by brute force over 401 images (unnormalised).
fn image_sum(d: f64, l: f64, period: f64) -> f64 {
    (-200..=200)
        .map(|m| {
            let s = d + m as f64 * period;
            (-s * s / (2.0 * l * l)).exp()
        })
        .sum()
}

/// The n×n wrapped-Gaussian correlation matrix, c((i − j)·spacing) / c(0).
fn correlation(n: usize, spacing: f64, l: f64) -> Array2<f64> {
    let period = n as f64 * spacing;
    let c0 = image_sum(0.0, l, period);
    Array2::from_shape_fn((n, n), |(i, j)| {
        image_sum((i as f64 - j as f64) * spacing, l, period) / c0
    })
}

/// V f(Λ) Vᵀ of a symmetric matrix, by LAPACK.
fn spectral(a: &Array2<f64>, f: impl Fn(f64) -> f64) -> Array2<f64> {
    let (lambda, v) = a.eigh(UPLO::Lower).unwrap();
    let mut scaled = v.clone();
    for (mut column, &l) in scaled.columns_mut().into_iter().zip(&lambda) {
        column *= f(l);
    }
    scaled.dot(&v.t())
}

/// Block-diagonal over variables of σ_v^{2α} (A_y ⊗ A_x), index v·nx·ny + j·nx + i.
fn block_kronecker(
    nx: usize,
    ny: usize,
    blocks: &[(f64, Array2<f64>, Array2<f64>)],
) -> Array2<f64> {
    let m = nx * ny;
    let n = blocks.len() * m;
    let mut b = Array2::zeros((n, n));
    for (v, (s, ay, ax)) in blocks.iter().enumerate() {
        for p in 0..m {
            for q in 0..m {
                b[[v * m + p, v * m + q]] = s * ay[[p / nx, q / nx]] * ax[[p % nx, q % nx]];
            }
        }
    }
    b
}

/// The dense B^α of the small grid, built here: α = 1 from the image sums, other powers by
/// LAPACK eigendecompositions of the 1-D factors.
fn dense_power(alpha: f64) -> Array2<f64> {
    dense_power_with(&SIGMAS, &SCALES, alpha)
}

/// [`dense_power`] with other standard deviations and length scales.
fn dense_power_with(sigmas: &[f64; 3], scales: &[f64; 3], alpha: f64) -> Array2<f64> {
    let blocks: Vec<_> = sigmas
        .iter()
        .zip(scales)
        .map(|(&s, &l)| {
            let (cy, cx) = (correlation(NY, DY, l), correlation(NX, DX, l));
            let f = |x: f64| x.powf(alpha);
            (s.powf(2.0 * alpha), spectral(&cy, f), spectral(&cx, f))
        })
        .collect();
    block_kronecker(NX, NY, &blocks)
}

/// The columns B̂ e_j of an operator.
fn columns(n: usize, apply: impl Fn(&[f64], &mut [f64])) -> Array2<f64> {
    let mut m = Array2::zeros((n, n));
    let mut e = vec![0.0; n];
    let mut out = vec![0.0; n];
    for j in 0..n {
        e.fill(0.0);
        e[j] = 1.0;
        apply(&e, &mut out);
        for i in 0..n {
            m[[i, j]] = out[i];
        }
    }
    m
}

fn max_abs_difference(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

fn max_abs(x: &[f64]) -> f64 {
    x.iter().fold(0.0f64, |a, v| a.max(v.abs()))
}

// ---------------------------------------------------------------------------------------------
// The operator against its dense reference.

#[test]
fn square_root_equals_the_dense_kronecker_product() {
    let b = small();
    let n = 3 * NX * NY;
    assert_eq!(b.len(), n);
    let ours = columns(n, |x, out| b.sqrt_apply(x, out));
    let reference = dense_power(0.5);
    let error = max_abs_difference(&ours, &reference);
    println!("max |B^½ − σ (C_y^½ ⊗ C_x^½)| = {error:.2e}");
    assert!(error <= 1e-12, "{error:e}");
    // The reference is not trivially diagonal: off-diagonal entries matter.
    assert!(reference[[0, 1]].abs() > 0.05 && reference[[0, NX]].abs() > 0.05);
    // And the other powers too.
    for (alpha, label) in [(-0.5, "B^−½"), (-1.0, "B⁻¹")] {
        let ours = columns(n, |x, out| {
            if alpha == -0.5 {
                b.inverse_sqrt_apply(x, out)
            } else {
                b.inverse_apply(x, out)
            }
        });
        let reference = dense_power(alpha);
        let scale = max_abs(reference.as_slice().unwrap());
        let error = max_abs_difference(&ours, &reference) / scale;
        println!("max |{label} − reference| / max|reference| = {error:.2e}");
        assert!(error <= 1e-11, "{label}: {error:e}");
    }
}

#[test]
fn square_root_squared_is_the_wrapped_gaussian_covariance() {
    let b = small();
    let n = b.len();
    let product = columns(n, |x, out| {
        let mut half = vec![0.0; n];
        b.sqrt_adjoint_apply(x, &mut half);
        b.sqrt_apply(&half, out);
    });
    let reference = dense_power(1.0);
    let error = max_abs_difference(&product, &reference);
    println!("max |B^½ (B^½)ᵀ − B| = {error:.2e}");
    assert!(error <= 1e-12, "{error:e}");
    let dense = b.try_matrix().unwrap();
    assert!(max_abs_difference(&dense, &reference) <= 1e-12);
    assert_eq!(b.matrix(), dense);
}

#[test]
fn every_power_is_symmetric() {
    let b = small();
    let n = b.len();
    let (a, c) = (random_vector(n, 7), random_vector(n, 8));
    let (mut ba, mut bc) = (vec![0.0; n], vec![0.0; n]);
    type Apply = fn(&BackgroundCovariance, &[f64], &mut [f64]);
    let cases: [(&str, Apply); 4] = [
        ("B^½", BackgroundCovariance::sqrt_apply),
        ("(B^½)ᵀ", BackgroundCovariance::sqrt_adjoint_apply),
        ("B^−½", BackgroundCovariance::inverse_sqrt_apply),
        ("B⁻¹", BackgroundCovariance::inverse_apply),
    ];
    for (label, apply) in cases {
        apply(&b, &a, &mut ba);
        apply(&b, &c, &mut bc);
        let (left, right) = (dot(&ba, &c), dot(&a, &bc));
        let relative = (left - right).abs() / left.abs().max(right.abs());
        println!("{label}: ⟨Ba, c⟩ = {left:.15e}, ⟨a, Bc⟩ = {right:.15e}, rel {relative:.1e}");
        assert!(relative <= 1e-13, "{label}: {relative:e}");
    }
    // The adjoint of the square root is the square root itself, exactly.
    b.sqrt_apply(&a, &mut ba);
    b.sqrt_adjoint_apply(&a, &mut bc);
    assert_eq!(ba, bc);
}

// ---------------------------------------------------------------------------------------------
// Variances, correlations, conditioning.

#[test]
fn variances_are_the_per_variable_sigmas_squared() {
    let b = small();
    let m = NX * NY;
    let dense = dense_power(1.0);
    for (v, s) in SIGMAS.iter().enumerate() {
        for p in [0, 5, m - 1] {
            let k = v * m + p;
            let bkk = dense_column(&b, k)[k];
            assert!((bkk - s * s).abs() <= 1e-12 * s * s, "B[{k},{k}] = {bkk}");
            assert!((dense[[k, k]] - s * s).abs() <= 1e-12 * s * s);
        }
    }
    let mean = SIGMAS.iter().map(|s| s * s).sum::<f64>() / 3.0;
    assert!((b.mean_variance() - mean).abs() <= 1e-12 * mean);
    // Different variables are uncorrelated.
    let column = dense_column(&b, 2 * m + 3);
    assert!(column[..2 * m].iter().all(|&c| c == 0.0));
}

/// B e_k.
fn dense_column(b: &BackgroundCovariance, k: usize) -> Vec<f64> {
    let n = b.len();
    let mut e = vec![0.0; n];
    e[k] = 1.0;
    let (mut half, mut out) = (vec![0.0; n], vec![0.0; n]);
    b.sqrt_apply(&e, &mut half);
    b.sqrt_apply(&half, &mut out);
    out
}

#[test]
fn correlation_between_cells_is_the_wrapped_gaussian_of_their_distance() {
    let b = small();
    let m = NX * NY;
    let (s, l) = (SIGMAS[2], SCALES[2]);
    let (width, height) = (NX as f64 * DX, NY as f64 * DY);
    // The 2-D wrapped Gaussian of the distance vector, summed over the plane's images directly.
    let wrapped = |ddx: f64, ddy: f64| -> f64 {
        let mut sum = 0.0;
        for mx in -60..=60 {
            for my in -60..=60 {
                let x = ddx + mx as f64 * width;
                let y = ddy + my as f64 * height;
                sum += (-(x * x + y * y) / (2.0 * l * l)).exp();
            }
        }
        sum
    };
    let c0 = wrapped(0.0, 0.0);
    let (i0, j0) = (2usize, 1usize);
    let column = dense_column(&b, 2 * m + j0 * NX + i0);
    let mut largest_off_diagonal = 0.0f64;
    for j in 0..NY {
        for i in 0..NX {
            let expected = wrapped((i as f64 - i0 as f64) * DX, (j as f64 - j0 as f64) * DY) / c0;
            let got = column[2 * m + j * NX + i] / (s * s);
            assert!(
                (got - expected).abs() <= 1e-12,
                "({i},{j}): {got} vs {expected}"
            );
            if (i, j) != (i0, j0) {
                largest_off_diagonal = largest_off_diagonal.max(got);
            }
        }
    }
    // One cell east: exp(−dx²/(2L²)) plus images; clearly correlated.
    assert!(largest_off_diagonal > 0.7, "{largest_off_diagonal}");
}

#[test]
fn condition_number_is_the_product_of_the_factor_extremes() {
    let b = small();
    let kappa = b.condition_number();
    // From LAPACK eigenvalues of the 1-D factors built here (accurate, κ_1D ≤ 4·10⁴).
    let extremes = |a: &Array2<f64>| {
        let (lambda, _) = a.eigh(UPLO::Lower).unwrap();
        let min = lambda.iter().copied().fold(f64::INFINITY, f64::min);
        let max = lambda.iter().copied().fold(0.0, f64::max);
        (min, max)
    };
    let (mut largest, mut smallest) = (0.0f64, f64::INFINITY);
    for (&s, &l) in SIGMAS.iter().zip(&SCALES) {
        let (x0, x1) = extremes(&correlation(NX, DX, l));
        let (y0, y1) = extremes(&correlation(NY, DY, l));
        largest = largest.max(s * s * x1 * y1);
        smallest = smallest.min(s * s * x0 * y0);
    }
    let expected = largest / smallest;
    // And from the whole dense B (less accurate: its λ_min carries an error ~ε·λ_max).
    let (min, max) = extremes(&dense_power(1.0));
    println!(
        "κ(B) = {kappa:.9e}; from the 1-D factors {expected:.9e}; dense LAPACK {:.9e}",
        max / min
    );
    assert!(kappa.is_finite() && kappa > 25.0);
    assert!(
        (kappa / expected - 1.0).abs() <= 1e-9,
        "{kappa} vs {expected}"
    );
    assert!((kappa / (max / min) - 1.0).abs() <= 1e-5);
}

/// Long length scales (5 grid spacings, 3 domain widths): the wrapped Gaussian's shortest waves
/// have eigenvalues far below round-off of the longest, so each 1-D spectrum is floored at
/// 10⁻⁶ of its maximum. The result: κ = 10¹² exactly (both factors hit the floor), inverses
/// that still undo the square root to ~κ·ε, and correlations that differ from the wrapped
/// Gaussian by no more than the floor (10⁻⁶ λ_max per mode, so ≤ n·10⁻⁶ per factor).
#[test]
fn a_long_length_scale_is_floored_to_a_condition_number_of_1e12() {
    let g = grid(NX, NY, DX, DY);
    let (width, height) = (NX as f64 * DX, NY as f64 * DY);
    for l in [5.0 * DX, 3.0 * width] {
        let b = BackgroundCovariance::plane_gaussian(&g, &[1.0; 3], &[l; 3]).unwrap();
        let kappa = b.condition_number();
        println!("L = {l:.3e} m: κ = {kappa:.6e}");
        assert!((kappa / 1e12 - 1.0).abs() < 1e-6, "{kappa:e}");
        // B^−½ B^½ x = x to what κ = 10¹² allows.
        let n = b.len();
        let x = random_vector(n, 41);
        let (mut half, mut back) = (vec![0.0; n], vec![0.0; n]);
        b.sqrt_apply(&x, &mut half);
        b.inverse_sqrt_apply(&half, &mut back);
        let err = max_abs(&back.iter().zip(&x).map(|(a, b)| a - b).collect::<Vec<_>>());
        println!("  |B^-1/2 B^1/2 x - x|_max = {err:.2e}");
        assert!(err < 1e-4 * max_abs(&x), "{err:e}");
        // Correlations are the wrapped Gaussian's, up to the floor.
        let wrapped =
            |ddx: f64, ddy: f64| -> f64 { image_sum(ddx, l, width) * image_sum(ddy, l, height) };
        let c0 = wrapped(0.0, 0.0);
        let column = dense_column(&b, 0);
        for j in 0..NY {
            for i in 0..NX {
                let expected = wrapped(i as f64 * DX, j as f64 * DY) / c0;
                let got = column[j * NX + i];
                assert!(
                    (got - expected).abs() <= 1e-6 * (NX + NY) as f64,
                    "L = {l}: ({i},{j}) {got} vs {expected}"
                );
            }
        }
    }
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let g = grid(NX, NY, DX, DY);
    // (Empty grids and spacings that are not finite and > 0 cannot be built as a geometry.)
    let cases: Vec<(Geometry, Vec<f64>, Vec<f64>, &str)> = vec![
        (
            g.clone(),
            vec![1.0; 2],
            vec![1e5; 3],
            "2 standard deviations",
        ),
        (g.clone(), vec![1.0; 3], vec![1e5; 4], "4 length scales"),
        (g.clone(), vec![1.0, f64::NAN, 1.0], vec![1e5; 3], "σ of v"),
        (g.clone(), vec![1.0, 1.0, -1.0], vec![1e5; 3], "σ of h"),
        (g.clone(), vec![1.0; 3], vec![0.0, 1e5, 1e5], "L of u"),
        (
            g.clone(),
            vec![1.0; 3],
            vec![1e5, 1e5, f64::INFINITY],
            "L of h",
        ),
        (
            grid(NX, NY, 1e-300, DY),
            vec![1.0; 3],
            vec![1e300; 3],
            "finite",
        ),
    ];
    for (g, s, l, needle) in cases {
        let err = BackgroundCovariance::plane_gaussian(&g, &s, &l)
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{needle:?} missing from: {err}");
    }
    // A very short L is fine: C = I to round-off.
    let b = BackgroundCovariance::plane_gaussian(&g, &[2.0; 3], &[1.0; 3]).unwrap();
    assert!((b.condition_number() - 1.0).abs() < 1e-12);
}

// ---------------------------------------------------------------------------------------------
// The default 64 × 64 grid.

fn default_model() -> ShallowWater {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = ModelConfig::load(&root.join("models/shallow_water.toml")).unwrap();
    let AnyModel::ShallowWater(model) = config.model else {
        panic!("{:?}", config.model)
    };
    model
}

fn settings(
    correlation: CorrelationKind,
    length_scale: Option<f64>,
    sigmas: &[(&str, f64)],
) -> BackgroundConfig {
    BackgroundConfig {
        correlation,
        length_scale,
        sigmas: (!sigmas.is_empty()).then(|| {
            sigmas
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect::<BTreeMap<_, _>>()
        }),
        ..BackgroundConfig::default()
    }
}

#[test]
fn default_grid_samples_have_the_prescribed_variance_without_allocating() {
    let model = default_model();
    let sigmas = [("u", 1.0), ("v", 1.0), ("h", 5.0)];
    let b = background_covariance(
        &model,
        &settings(CorrelationKind::Gaussian, Some(150e3), &sigmas),
    )
    .unwrap();
    let n = b.len();
    assert_eq!(n, 3 * 64 * 64);
    assert_eq!(n, 12288);
    let m = 64 * 64;
    let mut out = vec![0.0; n];
    let draws = 40;
    let mut sums = [0.0f64; 3];
    for seed in 0..draws {
        let z = random_vector(n, 1000 + seed);
        b.sqrt_apply(&z, &mut out);
        for (v, sum) in sums.iter_mut().enumerate() {
            *sum += out[v * m..(v + 1) * m].iter().map(|x| x * x).sum::<f64>();
        }
    }
    for ((name, s), sum) in sigmas.iter().zip(sums) {
        let variance = sum / (draws as usize * m) as f64;
        println!("{name}: sample variance {variance:.4}, σ² = {:.4}", s * s);
        assert!(
            (variance / (s * s) - 1.0).abs() < 0.03,
            "{name}: {variance}"
        );
    }
    let z = random_vector(n, 5);
    let allocations = allocations_of(|| {
        for _ in 0..10 {
            b.sqrt_apply(&z, &mut out);
            b.inverse_apply(&z, &mut out);
        }
    });
    assert_eq!(allocations, 0, "the plane B allocates per apply");
    // The dense matrix is refused at this size, with an error rather than 1.2 GB.
    let err = b.try_matrix().unwrap_err().to_string();
    assert!(err.contains("12288×12288"), "{err}");
}

#[test]
fn default_plane_length_scale_is_accepted_on_the_default_grid() {
    let model = default_model();
    let b = background_covariance(&model, &BackgroundConfig::default()).unwrap();
    let kappa = b.condition_number();
    println!("default B on the 64 × 64 grid: κ = {kappa:.3e}");
    assert!(kappa > 1e3 && kappa < 1e12, "{kappa:e}");
}

// ---------------------------------------------------------------------------------------------
// `[background]` for plane models, and Lorenz-96 unchanged.

#[test]
fn plane_settings_pick_per_variable_sigmas_and_reject_what_cannot_work() {
    let model = default_model();
    let m = model.field.cells();
    // "none": diag(σ_v²) per variable.
    let diagonal = background_covariance(
        &model,
        &settings(CorrelationKind::None, None, &[("h", 5.0)]),
    )
    .unwrap();
    assert!(diagonal.is_diagonal());
    assert_eq!(diagonal.len(), 3 * m);
    let e = |k: usize| {
        let mut e = vec![0.0; 3 * m];
        e[k] = 1.0;
        e
    };
    let mut out = vec![0.0; 3 * m];
    diagonal.sqrt_apply(&e(0), &mut out);
    assert_eq!(out[0], 1.0);
    diagonal.sqrt_apply(&e(2 * m + 7), &mut out);
    assert_eq!(out[2 * m + 7], 5.0);

    // An unknown name: the key and the model's variables.
    let err = background_covariance(
        &model,
        &settings(CorrelationKind::Gaussian, Some(1e5), &[("w", 1.0)]),
    )
    .unwrap_err()
    .to_string();
    for needle in ["background.sigmas", "'w'", "u, v, h"] {
        assert!(err.contains(needle), "{needle:?} missing from: {err}");
    }
    let mut per_scale = settings(CorrelationKind::Gaussian, Some(1e5), &[]);
    per_scale.length_scales = Some(BTreeMap::from([("eta".to_string(), 1e5)]));
    let err = background_covariance(&model, &per_scale)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("background.length_scales") && err.contains("'eta'"),
        "{err}"
    );

    // A per-variable length scale is used.
    per_scale.length_scales = Some(BTreeMap::from([("h".to_string(), 80e3)]));
    let b = background_covariance(&model, &per_scale).unwrap();
    let reference =
        BackgroundCovariance::plane_gaussian(&model.geometry(), &[1.0; 3], &[1e5, 1e5, 80e3])
            .unwrap();
    let z = random_vector(3 * m, 3);
    let mut other = vec![0.0; 3 * m];
    b.sqrt_apply(&z, &mut out);
    reference.sqrt_apply(&z, &mut other);
    assert_eq!(out, other);

    // The climatological B needs a dense matrix: refused on the 12 288-value state.
    let err = background_covariance(
        &model,
        &settings(CorrelationKind::Climatological, None, &[]),
    )
    .unwrap_err()
    .to_string();
    for needle in ["dense", "12288", "2000", "gaussian"] {
        assert!(err.contains(needle), "{needle:?} missing from: {err}");
    }

    // Per-variable values work the same for Lorenz-96's one variable x, and name it when wrong.
    let l96 = lorenz96(40, 8.0, 0.05);
    let b = background_covariance(
        &l96,
        &settings(CorrelationKind::Gaussian, None, &[("x", 3.0)]),
    )
    .unwrap();
    let expected = BackgroundCovariance::gaussian(40, 3.0, 2.0).unwrap();
    assert_eq!(b.matrix(), expected.matrix());
    let err = background_covariance(
        &l96,
        &settings(CorrelationKind::Gaussian, None, &[("h", 1.0)]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("background.sigmas") && err.contains("'h'") && err.contains("are x"),
        "{err}"
    );
}

#[test]
fn lorenz96_keeps_grid_units_and_its_default() {
    let l96 = lorenz96(40, 8.0, 0.05);
    let by_default = background_covariance(&l96, &BackgroundConfig::default()).unwrap();
    let explicit = BackgroundCovariance::gaussian(40, 1.0, 2.0).unwrap();
    assert_eq!(by_default.matrix(), explicit.matrix());
    let given =
        background_covariance(&l96, &settings(CorrelationKind::Gaussian, Some(1.5), &[])).unwrap();
    assert_eq!(
        given.matrix(),
        BackgroundCovariance::gaussian(40, 1.0, 1.5)
            .unwrap()
            .matrix()
    );
}

#[test]
fn configuration_rejects_bad_length_scales_and_sigmas() {
    for (text, needle) in [
        (
            "[background]\nlength_scale = 0.0\n",
            "background.length_scale",
        ),
        (
            "[background]\nlength_scale = -2e5\n",
            "background.length_scale",
        ),
        (
            "[background]\nlength_scale = nan\n",
            "background.length_scale",
        ),
        (
            "[background]\nsigmas = { h = -1.0 }\n",
            "background.sigmas.h",
        ),
        (
            "[background]\nlength_scales = { u = 0.0 }\n",
            "background.length_scales.u",
        ),
    ] {
        let err = LoadedExperiment::parse(None, text.to_string())
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{needle:?} missing from: {err}");
    }
    let ok = LoadedExperiment::parse(
        None,
        "[background]\nlength_scale = 150e3\nsigmas = { u = 1.0, v = 1.0, h = 5.0 }\n".into(),
    )
    .unwrap();
    assert_eq!(ok.config.background.length_scale, Some(150e3));
    assert_eq!(ok.config.background.sigmas.as_ref().unwrap()["h"], 5.0);
}

// ---------------------------------------------------------------------------------------------
// Geostrophic balance: B = K B_u Kᵀ.

const GRAVITY: f64 = 9.81;
const CORIOLIS: f64 = 1e-4;

fn balance() -> GeostrophicBalance {
    GeostrophicBalance::new(&grid(NX, NY, DX, DY), GRAVITY, CORIOLIS).unwrap()
}

/// K written out densely from the stencils, independently of the library:
/// u += −(g/f)(h[j+1,i] + h[j+1,i−1] − h[j−1,i] − h[j−1,i−1])/(4dy),
/// v += (g/f)(h[j,i+1] + h[j−1,i+1] − h[j,i−1] − h[j−1,i−1])/(4dx).
fn dense_balance() -> Array2<f64> {
    let m = NX * NY;
    let mut k = Array2::eye(3 * m);
    let c = GRAVITY / CORIOLIS;
    let at = |j: i64, i: i64| {
        2 * m + (j.rem_euclid(NY as i64) as usize) * NX + i.rem_euclid(NX as i64) as usize
    };
    for j in 0..NY as i64 {
        for i in 0..NX as i64 {
            let p = j as usize * NX + i as usize;
            for (jj, ii, w) in [
                (j + 1, i, 1.0),
                (j + 1, i - 1, 1.0),
                (j - 1, i, -1.0),
                (j - 1, i - 1, -1.0),
            ] {
                k[[p, at(jj, ii)]] += -c * w / (4.0 * DY);
            }
            for (jj, ii, w) in [
                (j, i + 1, 1.0),
                (j - 1, i + 1, 1.0),
                (j, i - 1, -1.0),
                (j - 1, i - 1, -1.0),
            ] {
                k[[m + p, at(jj, ii)]] += c * w / (4.0 * DX);
            }
        }
    }
    k
}

fn balanced() -> BackgroundCovariance {
    small().with_geostrophic_balance(balance()).unwrap()
}

#[test]
fn balance_operator_matches_its_stencil_and_passes_the_dot_product_test() {
    let k = balance();
    let n = 3 * NX * NY;
    let dense = dense_balance();
    let ours = columns(n, |x, out| {
        out.copy_from_slice(x);
        k.apply(out);
    });
    assert!(
        max_abs_difference(&ours, &dense) <= 1e-15,
        "K differs from its stencil"
    );
    for seed in 0..5 {
        let (a, b) = (random_vector(n, 300 + seed), random_vector(n, 400 + seed));
        let (mut ka, mut ktb) = (a.clone(), b.clone());
        k.apply(&mut ka);
        k.adjoint(&mut ktb);
        let (left, right) = (dot(&ka, &b), dot(&a, &ktb));
        let relative = (left - right).abs() / left.abs().max(right.abs());
        println!("⟨K a, b⟩ = {left:.15e}, ⟨a, Kᵀ b⟩ = {right:.15e}, rel {relative:.1e}");
        assert!(relative <= 1e-13, "{relative:e}");
        // K⁻¹ K = I and K⁻ᵀ Kᵀ = I.
        k.apply_inverse(&mut ka);
        k.adjoint_inverse(&mut ktb);
        let e1 = ka
            .iter()
            .zip(&a)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        let e2 = ktb
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        assert!(e1 <= 1e-13 && e2 <= 1e-13, "{e1:e} {e2:e}");
    }
}

/// The balanced wind is the geostrophic wind of h: against −(g/f)∂h/∂y and (g/f)∂h/∂x of a
/// smooth field at the C-grid wind points, and exactly non-divergent for any h.
#[test]
fn balanced_winds_are_geostrophic_and_non_divergent() {
    let (nx, ny, dx, dy) = (64usize, 64usize, 100e3, 100e3);
    let g = grid(nx, ny, dx, dy);
    let k = GeostrophicBalance::new(&g, GRAVITY, CORIOLIS).unwrap();
    let m = nx * ny;
    let (kx, ly) = (
        2.0 * std::f64::consts::PI / (nx as f64 * dx),
        2.0 * std::f64::consts::PI / (ny as f64 * dy),
    );
    let (amp, c) = (10.0, GRAVITY / CORIOLIS);
    let mut x = vec![0.0; 3 * m];
    for j in 0..ny {
        for i in 0..nx {
            let (xc, yc) = ((i as f64 + 0.5) * dx, (j as f64 + 0.5) * dy);
            x[2 * m + j * nx + i] = amp * (kx * xc).sin() * (ly * yc).cos();
        }
    }
    k.apply(&mut x);
    let (mut worst, mut largest) = (0.0f64, 0.0f64);
    for j in 0..ny {
        for i in 0..nx {
            let p = j * nx + i;
            let (xu, yu) = (i as f64 * dx, (j as f64 + 0.5) * dy);
            let (xv, yv) = ((i as f64 + 0.5) * dx, j as f64 * dy);
            let u = c * amp * ly * (kx * xu).sin() * (ly * yu).sin();
            let v = c * amp * kx * (kx * xv).cos() * (ly * yv).cos();
            worst = worst.max((x[p] - u).abs()).max((x[m + p] - v).abs());
            largest = largest.max(u.abs()).max(v.abs());
        }
    }
    println!("geostrophic wind: max error {worst:.3e} m/s of max {largest:.3} m/s");
    // The four-point differences are second order: relative error ≈ (l·dy)²/6 + (k·dx/2)²/2.
    assert!(
        largest > 0.5 && worst <= 5e-3 * largest,
        "{worst} of {largest}"
    );

    // Non-divergent on the C-grid for a random h: (u[i+1] − u[i])/dx + (v[j+1] − v[j])/dy = 0.
    let mut x = vec![0.0; 3 * m];
    x[2 * m..].copy_from_slice(&random_vector(m, 9));
    k.apply(&mut x);
    let mut divergence = 0.0f64;
    let mut scale = 0.0f64;
    for j in 0..ny {
        for i in 0..nx {
            let du = (x[j * nx + (i + 1) % nx] - x[j * nx + i]) / dx;
            let dv = (x[m + ((j + 1) % ny) * nx + i] - x[m + j * nx + i]) / dy;
            divergence = divergence.max((du + dv).abs());
            scale = scale.max(du.abs());
        }
    }
    println!("divergence of the balanced wind: {divergence:.2e} (terms up to {scale:.2e})");
    assert!(divergence <= 1e-12 * scale, "{divergence:e}");
}

#[test]
fn balanced_covariance_is_k_bu_kt_with_consistent_square_root_and_inverses() {
    let b = balanced();
    assert!(b.is_balanced());
    let n = b.len();
    let k = dense_balance();
    let reference = k.dot(&dense_power(1.0)).dot(&k.t());
    let scale = max_abs(reference.as_slice().unwrap());
    // B^½ (B^½)ᵀ = K B_u Kᵀ, and the dense matrix.
    let product = columns(n, |x, out| {
        let mut half = vec![0.0; n];
        b.sqrt_adjoint_apply(x, &mut half);
        b.sqrt_apply(&half, out);
    });
    let error = max_abs_difference(&product, &reference) / scale;
    println!("balanced: max |B^½ (B^½)ᵀ − K B_u Kᵀ| / max|B| = {error:.2e}");
    assert!(error <= 1e-13, "{error:e}");
    assert!(max_abs_difference(&b.try_matrix().unwrap(), &reference) / scale <= 1e-13);
    // B^½ = K B_u^½ exactly as a matrix.
    let sqrt = columns(n, |x, out| b.sqrt_apply(x, out));
    let expected = k.dot(&dense_power(0.5));
    assert!(max_abs_difference(&sqrt, &expected) <= 1e-12);
    // Inverse square root and inverse (the adjoint's dot-product test, B^½ (B^½)ᵀ = B and
    // the absence of allocation are checked with every other B in tests/covariance.rs).
    let a = random_vector(n, 21);
    let mut ba = vec![0.0; n];
    b.sqrt_apply(&a, &mut ba);
    let mut back = vec![0.0; n];
    b.inverse_sqrt_apply(&ba, &mut back);
    let e1 = back
        .iter()
        .zip(&a)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
        / max_abs(&a);
    let mut bx = vec![0.0; n];
    b.sqrt_adjoint_apply(&a, &mut ba);
    b.sqrt_apply(&ba, &mut bx); // B a
    b.inverse_apply(&bx, &mut back);
    let e2 = back
        .iter()
        .zip(&a)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
        / max_abs(&a);
    println!("balanced: B^−½ B^½ a − a: {e1:.2e}, B⁻¹ B a − a: {e2:.2e}");
    assert!(e1 <= 1e-10 && e2 <= 1e-10, "{e1:e} {e2:e}");
    let inverse = columns(n, |x, out| b.inverse_apply(x, out));
    let identity = inverse.dot(&reference);
    let error = max_abs_difference(&identity, &Array2::eye(n));
    println!("balanced: max |B⁻¹ B − I| = {error:.2e}");
    assert!(error <= 1e-8, "{error:e}");
}

#[test]
fn balanced_condition_number_and_mean_variance_match_the_dense_matrix() {
    // Small unbalanced winds (σ = 0.1) under a 1 m height error of short correlation (flat
    // spectrum), so the largest eigenvalue sits at a mode where the balance adds wind variance.
    // (With the extremes at the modes (0, 0) and (nx/2, ny/2), where the symbols of the
    // derivatives vanish, κ would not change.)
    let sigmas = [0.1, 0.1, 1.0];
    let scales = [100e3, 100e3, 30e3];
    let g = grid(NX, NY, DX, DY);
    let unbalanced = BackgroundCovariance::plane_gaussian(&g, &sigmas, &scales).unwrap();
    let b = unbalanced
        .clone()
        .with_geostrophic_balance(balance())
        .unwrap();
    let k = dense_balance();
    let reference = k.dot(&dense_power_with(&sigmas, &scales, 1.0)).dot(&k.t());
    let (lambda, _) = reference.eigh(UPLO::Lower).unwrap();
    let min = lambda.iter().copied().fold(f64::INFINITY, f64::min);
    let max = lambda.iter().copied().fold(0.0, f64::max);
    let kappa = b.condition_number();
    println!(
        "balanced κ(B) = {kappa:.9e}, dense LAPACK {:.9e}, unbalanced {:.9e}",
        max / min,
        unbalanced.condition_number()
    );
    assert!(
        (kappa / (max / min) - 1.0).abs() <= 1e-6,
        "{kappa} vs {}",
        max / min
    );
    assert!(
        (kappa / unbalanced.condition_number() - 1.0).abs() > 0.01,
        "the balance should change κ here"
    );
    let trace = reference.diag().sum() / b.len() as f64;
    println!(
        "balanced mean variance {:.9e} (trace/n {trace:.9e}), unbalanced {:.9e}",
        b.mean_variance(),
        unbalanced.mean_variance()
    );
    assert!((b.mean_variance() / trace - 1.0).abs() <= 1e-12);
    assert!(b.mean_variance() > 1.5 * unbalanced.mean_variance());
}

#[test]
fn balance_settings_and_errors() {
    let model = default_model();
    let mut s = settings(CorrelationKind::Gaussian, Some(150e3), &[("h", 5.0)]);
    s.balance = BalanceKind::Geostrophic;
    let b = background_covariance(&model, &s).unwrap();
    assert!(b.is_balanced());
    let n = b.len();
    let z = random_vector(n, 4);
    let mut out = vec![0.0; n];
    b.sqrt_apply(&z, &mut out);
    b.sqrt_adjoint_apply(&z, &mut out);
    b.inverse_apply(&z, &mut out);
    let allocations = allocations_of(|| {
        b.sqrt_apply(&z, &mut out);
        b.sqrt_adjoint_apply(&z, &mut out);
        b.inverse_sqrt_apply(&z, &mut out);
        b.inverse_apply(&z, &mut out);
    });
    assert_eq!(allocations, 0, "the balanced B allocates per apply");
    println!("balanced default B: κ = {:.3e}", b.condition_number());

    // Only on a plane Gaussian of a rotating model.
    let mut none = settings(CorrelationKind::None, None, &[]);
    none.balance = BalanceKind::Geostrophic;
    let err = background_covariance(&model, &none)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("background.balance") && err.contains("gaussian"),
        "{err}"
    );
    let mut l96 = settings(CorrelationKind::Gaussian, None, &[]);
    l96.balance = BalanceKind::Geostrophic;
    let err = background_covariance(&lorenz96(40, 8.0, 0.05), &l96)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("background.balance") && err.contains("grid of cells"),
        "{err}"
    );
    let err = LoadedExperiment::parse(None, "[background]\nbalance = \"thermal\"\n".into())
        .unwrap_err()
        .to_string();
    assert!(err.contains("background.balance"), "{err}");
    // f = 0, no wind, not a C-grid.
    let g = grid(NX, NY, DX, DY);
    assert!(GeostrophicBalance::new(&g, GRAVITY, 0.0)
        .unwrap_err()
        .to_string()
        .contains("non-zero f"));
    let windless = staggered_plane(cells(NX, NY, DX, DY), &FIELDS, None);
    assert!(GeostrophicBalance::new(&windless, GRAVITY, CORIOLIS).is_err());
    let centred = |name| StaggeredField { name, ..FIELDS[2] };
    let a_grid = staggered_plane(
        cells(NX, NY, DX, DY),
        &[centred("u"), centred("v"), centred("h")],
        Some((0, 1)),
    );
    assert!(GeostrophicBalance::new(&a_grid, GRAVITY, CORIOLIS)
        .unwrap_err()
        .to_string()
        .contains("C-grid"));
    // A diagonal B cannot carry it.
    let err = BackgroundCovariance::diagonal(3 * NX * NY, 1.0)
        .unwrap()
        .with_geostrophic_balance(balance())
        .unwrap_err()
        .to_string();
    assert!(err.contains("plane Gaussian"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Timing (criterion-free): cargo test --release --test covariance_plane -- --ignored --nocapture

#[test]
#[ignore = "timing only; run with --ignored --nocapture"]
fn time_one_square_root_apply() {
    for cells in [64usize, 256] {
        let g = grid(cells, cells, 100e3, 100e3);
        let b = BackgroundCovariance::plane_gaussian(&g, &[1.0, 1.0, 5.0], &[150e3; 3]).unwrap();
        let n = b.len();
        let z = random_vector(n, 1);
        let mut out = vec![0.0; n];
        b.sqrt_apply(&z, &mut out); // warm-up (thread-local scratch)
        let repeats = if cells == 64 { 200 } else { 10 };
        let start = Instant::now();
        for _ in 0..repeats {
            b.sqrt_apply(&z, &mut out);
        }
        let each = start.elapsed().as_secs_f64() / repeats as f64;
        let balanced = b
            .with_geostrophic_balance(GeostrophicBalance::new(&g, GRAVITY, CORIOLIS).unwrap())
            .unwrap();
        balanced.sqrt_adjoint_apply(&z, &mut out);
        let start = Instant::now();
        for _ in 0..repeats {
            balanced.sqrt_adjoint_apply(&z, &mut out);
        }
        let each_balanced = start.elapsed().as_secs_f64() / repeats as f64;
        println!(
            "{cells}×{cells} grid, 3 variables (n = {n}): one B^½ apply {:.3} ms, \
             geostrophically balanced (B^½)ᵀ {:.3} ms",
            each * 1e3,
            each_balanced * 1e3
        );
    }
}
