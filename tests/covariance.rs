//! The background-error covariance B, written once over every construction (diagonal, ring
//! Gaussian, climatological, explicit matrix, plane Gaussian with and without geostrophic
//! balance): its square root and the adjoint of that square root (dot-product test), the
//! inverse transforms, no allocation per apply, the Gaussian and climatological constructions
//! against their formulas, condition numbers, and an error (not a panic) for every bad input.

use fourdvar::core::vector::dot;
use fourdvar::core::verification::random_vector;
use fourdvar::cov::{BackgroundCovariance, Correlation, GeostrophicBalance};
use fourdvar::geometry::staggered_plane::{staggered_plane, CellGrid};
use fourdvar::models::shallow_water::FIELDS;
use fourdvar::Error;
use ndarray::{array, Array1, Array2};
use ndarray_linalg::{Cholesky, UPLO};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

// ---------------------------------------------------------------------------------------------
// Allocation counting, per thread so that tests running in parallel do not disturb each other.

mod thread_allocations;
use thread_allocations::{allocations_of, CountingAllocator};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

// ---------------------------------------------------------------------------------------------
// Helpers.

/// Samples of N(mean, p) drawn through the Cholesky factor of p, row-major m × n.
fn gaussian_samples(mean: &[f64], p: &Array2<f64>, m: usize, seed: u64) -> Vec<f64> {
    let n = mean.len();
    let l = p.cholesky(UPLO::Lower).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut samples = Vec::with_capacity(m * n);
    for _ in 0..m {
        let z: Array1<f64> = (0..n).map(|_| StandardNormal.sample(&mut rng)).collect();
        let x = l.dot(&z);
        samples.extend(x.iter().zip(mean).map(|(xi, mi)| xi + mi));
    }
    samples
}

/// p_ij = s_i s_j ρ^|i−j|: an AR(1) correlation with unequal standard deviations.
fn ar1_covariance(s: &[f64], rho: f64) -> Array2<f64> {
    let n = s.len();
    Array2::from_shape_fn((n, n), |(i, j)| {
        s[i] * s[j] * rho.powi(i.abs_diff(j) as i32)
    })
}

/// A climatological B from 400 samples of an 8-variable AR(1) distribution.
fn climatological_b() -> BackgroundCovariance {
    let p = ar1_covariance(&[1.0, 2.0, 0.5, 1.5, 3.0, 1.0, 0.8, 2.5], 0.7);
    let samples = gaussian_samples(&[0.0; 8], &p, 400, 11);
    BackgroundCovariance::climatological(&samples, 8, 1.0).unwrap()
}

/// A Gaussian B on an 8 × 6 shallow-water C-grid (u, v, h; dx ≠ dy): σ = (1, 2, 5), one
/// length scale shared by u and v, another for h. (With 7 or fewer cells along both axes the
/// matrix products go through matrixmultiply instead of BLAS and allocate a packing buffer.)
fn plane_gaussian_b() -> BackgroundCovariance {
    BackgroundCovariance::plane_gaussian(&c_grid(), &[1.0, 2.0, 5.0], &[100e3, 100e3, 120e3])
        .unwrap()
}

/// The C-grid of [`plane_gaussian_b`].
fn c_grid() -> fourdvar::geometry::Geometry {
    let cells = CellGrid {
        nx: 8,
        ny: 6,
        dx: 100e3,
        dy: 80e3,
    };
    staggered_plane(cells, &FIELDS, Some((0, 1)))
}

/// The covariances every property test runs on, with a name: one of each construction, on
/// a ring, on no grid at all and on the C-grid (with and without geostrophic balance).
fn all_kinds() -> Vec<(&'static str, BackgroundCovariance)> {
    vec![
        (
            "diagonal",
            BackgroundCovariance::diagonal_from(vec![0.5, 1.0, 2.0, 3.5, 0.1, 1.2]).unwrap(),
        ),
        (
            "gaussian N=40 L=2",
            BackgroundCovariance::gaussian(40, 1.5, 2.0).unwrap(),
        ),
        ("climatological", climatological_b()),
        (
            "from_matrix",
            BackgroundCovariance::from_matrix(array![
                [4.0, 1.0, 0.5],
                [1.0, 3.0, -0.7],
                [0.5, -0.7, 2.0]
            ])
            .unwrap(),
        ),
        ("plane gaussian 8×6", plane_gaussian_b()),
        (
            "plane gaussian 8×6, geostrophic balance",
            plane_gaussian_b()
                .with_geostrophic_balance(GeostrophicBalance::new(&c_grid(), 9.81, 1e-4).unwrap())
                .unwrap(),
        ),
    ]
}

/// The matrix of a linear operator on ℝⁿ, column j = op(e_j).
fn operator_matrix(n: usize, op: impl Fn(&[f64], &mut [f64])) -> Array2<f64> {
    let mut a = Array2::zeros((n, n));
    let mut e = vec![0.0; n];
    let mut column = vec![0.0; n];
    for j in 0..n {
        e[j] = 1.0;
        op(&e, &mut column);
        e[j] = 0.0;
        for i in 0..n {
            a[[i, j]] = column[i];
        }
    }
    a
}

fn frobenius(a: &Array2<f64>) -> f64 {
    a.iter().map(|v| v * v).sum::<f64>().sqrt()
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

fn max_abs(a: &[f64]) -> f64 {
    a.iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// The message of an error, asserting it is an `InvalidArgument` (the constructors' one kind).
fn message(result: Result<BackgroundCovariance, Error>) -> String {
    match result {
        Ok(_) => panic!("expected an error"),
        Err(e) => {
            assert!(
                matches!(e, Error::InvalidArgument { .. }),
                "unexpected kind: {e:?}"
            );
            e.to_string()
        }
    }
}

fn assert_mentions(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(
            message.contains(part),
            "message {message:?} does not mention {part:?}"
        );
    }
}

/// The eigenvalues of the circulant periodic Gaussian, λ_k = Σ_j c(d_j) cos(2πkj/N), computed
/// independently of the library (no LAPACK).
fn circulant_gaussian_eigenvalues(n: usize, sigma: f64, l: f64) -> Vec<f64> {
    (0..n)
        .map(|k| {
            (0..n)
                .map(|j| {
                    let d = j.min(n - j) as f64;
                    let phase = 2.0 * std::f64::consts::PI * ((k * j) % n) as f64 / n as f64;
                    sigma * sigma * (-d * d / (2.0 * l * l)).exp() * phase.cos()
                })
                .sum()
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The square root and its adjoint.

#[test]
fn square_root_adjoint_passes_the_dot_product_test() {
    for (name, b) in all_kinds() {
        let n = b.len();
        let mut worst = 0.0f64;
        for seed in 0..5 {
            let v = random_vector(n, 100 + seed);
            let w = random_vector(n, 200 + seed);
            let (mut sv, mut stw) = (vec![0.0; n], vec![0.0; n]);
            b.sqrt_apply(&v, &mut sv);
            b.sqrt_adjoint_apply(&w, &mut stw);
            let (left, right) = (dot(&sv, &w), dot(&v, &stw));
            let relative = (left - right).abs() / left.abs().max(right.abs());
            // The absolute form, which stays meaningful if the two sides nearly cancel.
            let absolute = (left - right).abs()
                / (dot(&sv, &sv).sqrt() * dot(&w, &w).sqrt()
                    + dot(&v, &v).sqrt() * dot(&stw, &stw).sqrt());
            println!("{name}: <B^½v,w> = {left:.16e}, <v,B^T/2 w> = {right:.16e}, rel {relative:.2e}, abs {absolute:.2e}");
            assert!(relative <= 1e-13, "{name}: relative error {relative:e}");
            assert!(absolute <= 1e-15, "{name}: absolute error {absolute:e}");
            worst = worst.max(relative);
        }
        println!("{name}: worst relative dot-product error {worst:.2e}");
    }
}

#[test]
fn adjoint_is_the_transpose_of_the_square_root() {
    for (name, b) in all_kinds() {
        let n = b.len();
        let s = operator_matrix(n, |v, o| b.sqrt_apply(v, o));
        let st = operator_matrix(n, |w, o| b.sqrt_adjoint_apply(w, o));
        let error = frobenius(&(&st - &s.t())) / frobenius(&s);
        assert!(error <= 1e-14, "{name}: ‖A − Sᵀ‖/‖S‖ = {error:e}");
    }
}

#[test]
fn square_root_times_its_transpose_is_b() {
    for (name, b) in all_kinds() {
        let n = b.len();
        let s = operator_matrix(n, |v, o| b.sqrt_apply(v, o));
        let st = operator_matrix(n, |w, o| b.sqrt_adjoint_apply(w, o));
        let bm = b.matrix();
        assert_eq!(bm.dim(), (n, n));
        let error = frobenius(&(&s.dot(&st) - &bm)) / frobenius(&bm);
        println!("{name}: ‖B^½ B^T/2 − B‖/‖B‖ = {error:.2e}");
        assert!(error <= 1e-10, "{name}: {error:e}");
        // B is symmetric (to round-off: the plane B is formed by products) and its diagonal
        // (the variances) positive.
        let asymmetry = frobenius(&(&bm - &bm.t())) / frobenius(&bm);
        assert!(asymmetry <= 1e-15, "{name}: B not symmetric: {asymmetry:e}");
        assert!(bm.diag().iter().all(|&v| v > 0.0));
    }
}

#[test]
fn diagonal_b_applies_sigma_elementwise() {
    let b = BackgroundCovariance::diagonal_from(vec![0.5, 2.0, 4.0]).unwrap();
    assert!(b.is_diagonal());
    let x = [1.0, -3.0, 8.0];
    let mut out = [0.0; 3];
    b.sqrt_apply(&x, &mut out);
    assert_eq!(out, [0.5, -6.0, 32.0]);
    b.sqrt_adjoint_apply(&x, &mut out);
    assert_eq!(out, [0.5, -6.0, 32.0]);
    b.inverse_sqrt_apply(&x, &mut out);
    assert_eq!(out, [2.0, -1.5, 2.0]);
    b.inverse_apply(&x, &mut out);
    assert_eq!(out, [4.0, -0.75, 0.5]);
    assert_eq!(
        b.matrix(),
        array![[0.25, 0.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 16.0]]
    );
    assert_eq!(b.len(), 3);
    assert!(!b.is_empty());
    assert!((b.mean_variance() - 20.25 / 3.0).abs() < 1e-15);
    assert!((b.condition_number() - 64.0).abs() < 1e-12);

    let equal = BackgroundCovariance::diagonal(7, 1.3).unwrap();
    assert_eq!(equal.len(), 7);
    assert!((equal.mean_variance() - 1.69).abs() < 1e-15);
    assert_eq!(equal.matrix(), Array2::from_diag_elem(7, 1.3 * 1.3));
}

// ---------------------------------------------------------------------------------------------
// The Gaussian periodic B.

#[test]
fn gaussian_matrix_follows_the_formula() {
    let (n, sigma, l) = (40, 1.5, 2.0);
    let b = BackgroundCovariance::gaussian(n, sigma, l).unwrap();
    let m = b.matrix();
    // By hand: σ² = 2.25, 2L² = 8.
    assert_eq!(m[[0, 0]], 2.25);
    assert!((m[[0, 1]] - 1.9856180308153397).abs() < 1e-15); // 2.25 e^{−1/8}
                                                             // Periodic: points 0 and 39 are neighbours on the ring, d = 1, not 39.
    assert!((m[[0, 39]] - 1.9856180308153397).abs() < 1e-15);
    assert!((m[[39, 0]] - 1.9856180308153397).abs() < 1e-15);
    // d(5, 37) = min(32, 8) = 8: 2.25 e^{−64/8}.
    assert!((m[[5, 37]] - 0.0007547909127806517).abs() < 1e-18);
    // d(3, 10) = 7: 2.25 e^{−49/8}.
    assert!((m[[3, 10]] - 0.004921855015911492).abs() < 1e-17);
    // The antipode, d = 20: 2.25 e^{−400/8}.
    assert!((m[[0, 20]] - 4.339687157918815e-22).abs() < 1e-35);
    // Every entry.
    for i in 0..n {
        for j in 0..n {
            let d = i.abs_diff(j).min(n - i.abs_diff(j)) as f64;
            let expected = sigma * sigma * (-d * d / (2.0 * l * l)).exp();
            assert!(
                (m[[i, j]] - expected).abs() <= 1e-15 * expected,
                "B[{i},{j}] = {} vs {expected}",
                m[[i, j]]
            );
        }
    }
    assert!((b.mean_variance() - 2.25).abs() < 1e-14);
    assert!(!b.is_diagonal());

    // The correlation-model constructor builds the same B.
    let same = BackgroundCovariance::with_correlation(
        n,
        sigma,
        &Correlation::Gaussian { length_scale: l },
    )
    .unwrap();
    assert_eq!(same.matrix(), m);
    let none = BackgroundCovariance::with_correlation(n, sigma, &Correlation::None).unwrap();
    assert!(none.is_diagonal());
    assert_eq!(none.matrix(), Array2::from_diag_elem(n, 2.25));
}

#[test]
fn gaussian_square_root_spreads_a_point_increment() {
    // B^½ e_0 is the "square-root" correlation function: symmetric about point 0 on the ring
    // and peaked there; B^½ B^½ e_0 is column 0 of B.
    let n = 40;
    let b = BackgroundCovariance::gaussian(n, 1.0, 2.0).unwrap();
    let mut e0 = vec![0.0; n];
    e0[0] = 1.0;
    let (mut s, mut ss) = (vec![0.0; n], vec![0.0; n]);
    b.sqrt_apply(&e0, &mut s);
    for j in 1..n {
        assert!((s[j] - s[n - j]).abs() < 1e-12, "not symmetric at {j}");
        assert!(s[j] < s[0]);
    }
    b.sqrt_apply(&s, &mut ss);
    let column: Vec<f64> = b.matrix().column(0).to_vec();
    assert!(
        max_abs_diff(&ss, &column) < 1e-10,
        "{:e}",
        max_abs_diff(&ss, &column)
    );
}

// ---------------------------------------------------------------------------------------------
// Inverse transforms.

#[test]
fn inverse_transforms_undo_the_forward_ones() {
    let kinds = vec![
        (
            "diagonal",
            BackgroundCovariance::diagonal_from(vec![0.5, 1.0, 2.0, 3.5, 0.1, 1.2]).unwrap(),
        ),
        (
            "gaussian N=40 L=1",
            BackgroundCovariance::gaussian(40, 2.0, 1.0).unwrap(),
        ),
        ("climatological", climatological_b()),
        ("plane gaussian 8×6", plane_gaussian_b()),
    ];
    for (name, b) in kinds {
        let n = b.len();
        println!("{name}: condition number {:.3e}", b.condition_number());
        let v = random_vector(n, 7);
        let (mut x, mut back) = (vec![0.0; n], vec![0.0; n]);
        b.sqrt_apply(&v, &mut x);
        b.inverse_sqrt_apply(&x, &mut back);
        let error = max_abs_diff(&back, &v) / max_abs(&v);
        assert!(error <= 1e-8, "{name}: B^−½ B^½ v ≠ v: {error:e}");
        // And the other way round.
        b.inverse_sqrt_apply(&v, &mut x);
        b.sqrt_apply(&x, &mut back);
        let error = max_abs_diff(&back, &v) / max_abs(&v);
        assert!(error <= 1e-8, "{name}: B^½ B^−½ v ≠ v: {error:e}");

        // B⁻¹ B = I, entry by entry.
        let inv = operator_matrix(n, |x, o| b.inverse_apply(x, o));
        let product = inv.dot(&b.matrix());
        let identity = Array2::<f64>::eye(n);
        let error = (&product - &identity)
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()));
        println!("{name}: max |B⁻¹B − I| = {error:.2e}");
        assert!(error <= 1e-8, "{name}: B⁻¹B ≠ I: {error:e}");
        // B⁻¹ = B^−½ B^−½ (both symmetric).
        let inv_sqrt = operator_matrix(n, |x, o| b.inverse_sqrt_apply(x, o));
        let error = frobenius(&(&inv_sqrt.dot(&inv_sqrt) - &inv)) / frobenius(&inv);
        assert!(error <= 1e-10, "{name}: B^−½B^−½ ≠ B⁻¹: {error:e}");
    }
}

#[test]
fn applies_overwrite_the_output_and_do_not_allocate() {
    for (name, b) in all_kinds() {
        let n = b.len();
        let v = random_vector(n, 3);
        let mut expected = vec![0.0; n];
        b.sqrt_apply(&v, &mut expected);
        // Garbage (NaN) already in the output must not leak into the result.
        let mut out = vec![f64::NAN; n];
        // One call of each apply first: a thread's scratch may grow once, on first use.
        b.sqrt_adjoint_apply(&v, &mut out);
        b.inverse_sqrt_apply(&v, &mut out);
        b.inverse_apply(&v, &mut out);
        let count = allocations_of(|| {
            for _ in 0..100 {
                out.fill(f64::NAN);
                b.sqrt_apply(&v, &mut out);
                b.sqrt_adjoint_apply(&v, &mut out);
                b.inverse_sqrt_apply(&v, &mut out);
                out.fill(f64::NAN);
                b.inverse_apply(&v, &mut out);
                out.fill(f64::NAN);
                b.sqrt_apply(&v, &mut out);
            }
        });
        assert_eq!(count, 0, "{name}: the applies allocate");
        assert_eq!(out, expected, "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// Climatological B.

#[test]
fn climatological_b_is_the_sample_covariance() {
    // By hand, m = 3 samples of n = 2: x̄ = (10/3, 3), anomalies (−7/3, −1), (−1/3, 1), (8/3, 0),
    // C = 1/(m−1) Σ aaᵀ = [[19/3, 1], [1, 1]] (normalised by m − 1, not m).
    let samples = [1.0, 2.0, 3.0, 4.0, 6.0, 3.0];
    let b = BackgroundCovariance::climatological(&samples, 2, 1.0).unwrap();
    let m = b.matrix();
    let expected = array![[19.0 / 3.0, 1.0], [1.0, 1.0]];
    assert!(
        frobenius(&(&m - &expected)) < 1e-14,
        "{m:?} vs {expected:?}"
    );
    assert!((b.mean_variance() - (19.0 / 3.0 + 1.0) / 2.0).abs() < 1e-14);
    // The scale multiplies B.
    let scaled = BackgroundCovariance::climatological(&samples, 2, 0.25).unwrap();
    assert!(frobenius(&(&scaled.matrix() - &(&expected * 0.25))) < 1e-14);
    // The condition number is that of [[19/3, 1], [1, 1]]: λ = (22/3 ± √(256/9 + 4))/2.
    let root = (256.0f64 / 9.0 + 4.0).sqrt();
    let kappa = (22.0 / 3.0 + root) / (22.0 / 3.0 - root);
    assert!((b.condition_number() - kappa).abs() < 1e-12 * kappa);
    assert!((scaled.condition_number() - kappa).abs() < 1e-12 * kappa);
}

#[test]
fn climatological_b_recovers_a_known_covariance() {
    let s = [1.0, 2.0, 0.5, 1.5, 3.0];
    let p = ar1_covariance(&s, 0.6);
    // A non-zero mean, which the sample covariance must remove.
    let mean = [8.0, -1.0, 0.0, 3.0, 2.0];
    let samples = gaussian_samples(&mean, &p, 20_000, 42);
    let b = BackgroundCovariance::climatological(&samples, 5, 1.0).unwrap();
    let c = b.matrix();
    let mut worst = 0.0f64;
    for i in 0..5 {
        for j in 0..5 {
            // Relative to the scale σ_iσ_j of the entry (a correlation error).
            let error = (c[[i, j]] - p[[i, j]]).abs() / (s[i] * s[j]);
            worst = worst.max(error);
            assert!(
                error < 0.03,
                "C[{i},{j}] = {} vs {} (error {error:.3})",
                c[[i, j]],
                p[[i, j]]
            );
        }
    }
    println!("climatological 5×5 from 20000 samples: worst correlation error {worst:.4}");
    // The variances within a few percent each.
    for i in 0..5 {
        let ratio = c[[i, i]] / p[[i, i]];
        assert!((ratio - 1.0).abs() < 0.04, "variance {i}: ratio {ratio}");
    }
    let true_mean_variance = s.iter().map(|v| v * v).sum::<f64>() / 5.0;
    assert!((b.mean_variance() / true_mean_variance - 1.0).abs() < 0.03);

    let scaled = BackgroundCovariance::climatological(&samples, 5, 0.3).unwrap();
    let error = frobenius(&(&scaled.matrix() - &(&c * 0.3))) / frobenius(&c);
    assert!(error < 1e-14, "scale not applied: {error:e}");
    assert!((scaled.mean_variance() - 0.3 * b.mean_variance()).abs() < 1e-12);
}

#[test]
fn climatological_b_needs_more_samples_than_variables() {
    let p = ar1_covariance(&[1.0; 5], 0.5);
    let samples = gaussian_samples(&[0.0; 5], &p, 6, 5);
    // m = n + 1 = 6 is enough for a full-rank sample covariance...
    assert!(BackgroundCovariance::climatological(&samples, 5, 1.0).is_ok());
    // ...m = n = 5 is not.
    let text = message(BackgroundCovariance::climatological(&samples[..25], 5, 1.0));
    assert_mentions(&text, &["5 samples", "n = 5", "at least n + 1 = 6"]);
    let text = message(BackgroundCovariance::climatological(&samples[..5], 5, 1.0));
    assert_mentions(&text, &["1 samples"]);
}

// ---------------------------------------------------------------------------------------------
// Condition numbers.

#[test]
fn condition_numbers() {
    assert_eq!(
        BackgroundCovariance::diagonal(40, 0.7)
            .unwrap()
            .condition_number(),
        1.0
    );
    let two = BackgroundCovariance::diagonal_from(vec![1.0, 2.0]).unwrap();
    assert!((two.condition_number() - 4.0).abs() < 1e-15);

    // The Gaussian on N = 40 against the eigenvalues of the circulant, computed independently.
    let mut previous = 0.0;
    for l in [0.5, 1.0, 1.5, 2.0, 2.25] {
        let b = BackgroundCovariance::gaussian(40, 1.0, l).unwrap();
        let eig = circulant_gaussian_eigenvalues(40, 1.0, l);
        let max = eig.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let min = eig.iter().copied().fold(f64::INFINITY, f64::min);
        let kappa = b.condition_number();
        println!(
            "Gaussian N=40 L={l}: condition number {kappa:.4e} (circulant formula {:.4e})",
            max / min
        );
        // λ_min at L = 2.25 is 1.6e-10 against λ_max ≈ 5.6: the dense eigensolver's error,
        // about 1e-15 λ_max, is then 1e-5 of λ_min.
        assert!(
            (kappa / (max / min) - 1.0).abs() < 1e-4,
            "L = {l}: {kappa:e} vs {:e}",
            max / min
        );
        assert!(kappa > previous, "κ does not grow with L at L = {l}");
        previous = kappa;
    }
    // The values quoted in the documentation: ~70 at L = 1, ~1.9e8 at L = 2.
    let at = |l| {
        BackgroundCovariance::gaussian(40, 1.0, l)
            .unwrap()
            .condition_number()
    };
    assert!((at(1.0) - 69.52).abs() < 0.01, "{}", at(1.0));
    assert!((at(2.0) / 1.869e8 - 1.0).abs() < 1e-3, "{:e}", at(2.0));
    // σ does not change the condition number.
    let scaled = BackgroundCovariance::gaussian(40, 3.0, 1.0).unwrap();
    assert!((scaled.condition_number() / at(1.0) - 1.0).abs() < 1e-10);
}

// ---------------------------------------------------------------------------------------------
// Errors, never panics.

#[test]
fn non_positive_definite_matrices_are_rejected() {
    // Eigenvalues −1 and 3.
    let text = message(BackgroundCovariance::from_matrix(array![
        [1.0, 2.0],
        [2.0, 1.0]
    ]));
    assert_mentions(
        &text,
        &[
            "background covariance",
            "not positive definite",
            "λ_min = -1.000e0",
            "λ_max = 3.000e0",
            "condition number infinite",
        ],
    );
    // Singular (eigenvalues 0 and 2).
    let text = message(BackgroundCovariance::from_matrix(array![
        [1.0, 1.0],
        [1.0, 1.0]
    ]));
    assert_mentions(&text, &["not positive definite", "1 of its 2 eigenvalues"]);
    // Positive but too ill-conditioned: κ = 1e13 > 1e12.
    let text = message(BackgroundCovariance::from_matrix(array![
        [1.0, 0.0],
        [0.0, 1e-13]
    ]));
    assert_mentions(
        &text,
        &[
            "not positive definite",
            "condition number λ_max/λ_min = 1.000e13",
        ],
    );
    // Just inside: κ = 1e11 is accepted.
    let b = BackgroundCovariance::from_matrix(array![[1.0, 0.0], [0.0, 1e-11]]).unwrap();
    assert!((b.condition_number() / 1e11 - 1.0).abs() < 1e-12);
}

#[test]
fn non_symmetric_and_malformed_matrices_are_rejected() {
    let text = message(BackgroundCovariance::from_matrix(array![
        [2.0, 1.0],
        [0.5, 2.0]
    ]));
    assert_mentions(&text, &["not symmetric", "B[1,0]", "B[0,1]"]);
    // An asymmetry of 1e-15 relative is rounding, and accepted.
    let b = BackgroundCovariance::from_matrix(array![[2.0, 1.0 + 2e-15], [1.0, 2.0]]).unwrap();
    let m = b.matrix();
    assert_eq!(m[[0, 1]], m[[1, 0]], "stored B is not symmetrised");
    // The tolerance is relative to max|B|: an asymmetry of 1e-8 in a B of size 1e6 passes.
    let big = array![[2e6, 1e6 + 1e-8], [1e6, 2e6]];
    assert!(BackgroundCovariance::from_matrix(big).is_ok());
    // 1e-11 relative is not.
    let text = message(BackgroundCovariance::from_matrix(array![
        [2.0, 1.0 + 2e-11],
        [1.0, 2.0]
    ]));
    assert_mentions(&text, &["not symmetric"]);

    let text = message(BackgroundCovariance::from_matrix(Array2::zeros((2, 3))));
    assert_mentions(&text, &["2×3", "not square"]);
    let text = message(BackgroundCovariance::from_matrix(Array2::zeros((0, 0))));
    assert_mentions(&text, &["at least 1"]);
    let text = message(BackgroundCovariance::from_matrix(array![
        [1.0, f64::NAN],
        [f64::NAN, 1.0]
    ]));
    assert_mentions(&text, &["B[0,1]", "NaN"]);
    let text = message(BackgroundCovariance::from_matrix(array![[f64::INFINITY]]));
    assert_mentions(&text, &["B[0,0]", "inf"]);
}

#[test]
fn bad_standard_deviations_and_sizes_are_rejected() {
    for sigma in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let text = message(BackgroundCovariance::diagonal(3, sigma));
        assert_mentions(&text, &["σ_b", &sigma.to_string(), "finite number > 0"]);
        let text = message(BackgroundCovariance::gaussian(10, sigma, 1.0));
        assert_mentions(&text, &["σ_b", &sigma.to_string()]);
    }
    assert_mentions(
        &message(BackgroundCovariance::diagonal(3, f64::NAN)),
        &["NaN"],
    );
    let text = message(BackgroundCovariance::diagonal_from(vec![1.0, -2.0, 3.0]));
    assert_mentions(&text, &["σ_1", "-2"]);
    let text = message(BackgroundCovariance::diagonal_from(vec![
        1.0,
        2.0,
        f64::NAN,
    ]));
    assert_mentions(&text, &["σ_2", "NaN"]);
    assert_mentions(
        &message(BackgroundCovariance::diagonal_from(vec![])),
        &["at least 1"],
    );
    assert_mentions(
        &message(BackgroundCovariance::diagonal(0, 1.0)),
        &["at least 1"],
    );
    assert_mentions(
        &message(BackgroundCovariance::gaussian(0, 1.0, 1.0)),
        &["at least 1"],
    );
}

#[test]
fn bad_length_scales_are_rejected() {
    for l in [0.0, -2.0, f64::NAN, f64::NEG_INFINITY] {
        let text = message(BackgroundCovariance::gaussian(40, 1.0, l));
        assert_mentions(
            &text,
            &["length scale L", &l.to_string(), "finite number > 0"],
        );
        let text = message(BackgroundCovariance::with_correlation(
            40,
            1.0,
            &Correlation::Gaussian { length_scale: l },
        ));
        assert_mentions(&text, &["length scale L"]);
    }
}

#[test]
fn too_long_length_scales_are_rejected_with_a_working_suggestion() {
    // L = 3 on N = 40: cut at the antipode the Gaussian is indefinite (λ_min ≈ −1.8e-10).
    let text = message(BackgroundCovariance::gaussian(40, 1.0, 3.0));
    println!("{text}");
    assert_mentions(
        &text,
        &[
            "not positive definite",
            "condition number infinite",
            "L = 3 grid points is too wide for the ring of N = 40 points",
            "use a smaller length scale",
        ],
    );
    // The circulant formula agrees that B is indefinite there.
    let eig = circulant_gaussian_eigenvalues(40, 1.0, 3.0);
    assert!(eig.iter().copied().fold(f64::INFINITY, f64::min) < 0.0);

    // L = 2.5: positive (λ_min ≈ 5e-13) but κ ≈ 1.3e13 > 1e12.
    let text = message(BackgroundCovariance::gaussian(40, 1.0, 2.5));
    assert_mentions(
        &text,
        &[
            "condition number λ_max/λ_min = 1.2",
            "numerically singular",
            "use a smaller length scale",
        ],
    );

    // The length scale the message suggests does work, and a slightly larger one does not.
    for (n, l) in [(40, 3.0), (40, 5.0), (100, 8.0)] {
        let text = message(BackgroundCovariance::gaussian(n, 1.0, l));
        let tail = text
            .split("(L = ")
            .nth(1)
            .unwrap_or_else(|| panic!("no suggestion in {text}"));
        let suggested: f64 = tail.split(' ').next().unwrap().parse().unwrap();
        println!("N = {n}, L = {l}: suggested L = {suggested}");
        assert!(suggested > 2.0 && suggested < 2.45, "{suggested}");
        assert!(BackgroundCovariance::gaussian(n, 1.0, suggested).is_ok());
        assert!(BackgroundCovariance::gaussian(n, 1.0, suggested + 0.25).is_err());
    }
}

#[test]
fn bad_samples_are_rejected() {
    let text = message(BackgroundCovariance::climatological(&[1.0; 7], 2, 1.0));
    assert_mentions(&text, &["climatological samples", "7 values", "n = 2"]);
    let mut samples = gaussian_samples(&[0.0; 2], &ar1_covariance(&[1.0, 1.0], 0.3), 10, 1);
    samples[2] = f64::NAN;
    let text = message(BackgroundCovariance::climatological(&samples, 2, 1.0));
    assert_mentions(&text, &["sample 1, variable 0 is NaN"]);
    samples[2] = 0.5;
    for scale in [0.0, -1.0, f64::NAN] {
        let text = message(BackgroundCovariance::climatological(&samples, 2, scale));
        assert_mentions(&text, &["scale", &scale.to_string()]);
    }
    assert_mentions(
        &message(BackgroundCovariance::climatological(&samples, 0, 1.0)),
        &["at least 1"],
    );
    // A variable that never varies: the sample covariance is singular.
    let frozen: Vec<f64> = (0..20).flat_map(|k| [k as f64 * 0.37 % 1.0, 4.0]).collect();
    let text = message(BackgroundCovariance::climatological(&frozen, 2, 1.0));
    assert_mentions(&text, &["not positive definite", "do not span"]);
}
