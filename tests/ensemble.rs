//! The ETKF analysis (issue #12's first ensemble baseline) against the Kalman filter: on a
//! linear model with a linear H, an ensemble whose mean and sample covariance are x_b and B
//! exactly keeps them equal to the Kalman filter's, cycle after cycle, to round-off.

use ndarray::{Array1, Array2};
use ndarray_linalg::Solve;

use fourdvar::core::verification::random_vector;
use fourdvar::core::{integrate, Dynamics};
use fourdvar::cov::BackgroundCovariance;
use fourdvar::ensemble::etkf_analysis;
use fourdvar::models::linear::LinearModel;

const N: usize = 6;

/// A stable random 6 × 6 linear model.
fn model() -> LinearModel {
    let noise = random_vector(N * N, 61);
    let matrix: Vec<f64> = (0..N * N)
        .map(|i| if i % (N + 1) == 0 { 0.97 } else { 0.0 } + 0.2 * noise[i])
        .collect();
    LinearModel::new(N, matrix).unwrap()
}

/// `m` members with mean exactly `mean` and sample covariance exactly B = UUᵀ: anomalies
/// √(m−1) U E with E's rows orthonormal and orthogonal to the ones vector.
fn exact_ensemble(mean: &[f64], b: &BackgroundCovariance, m: usize) -> Vec<Vec<f64>> {
    // Gram–Schmidt on random vectors against 1/√m and each other.
    let mut rows: Vec<Vec<f64>> = vec![vec![1.0 / (m as f64).sqrt(); m]];
    let mut seed = 70;
    while rows.len() < N + 1 {
        let mut r = random_vector(m, seed);
        seed += 1;
        for q in &rows {
            let c: f64 = r.iter().zip(q).map(|(a, b)| a * b).sum();
            r.iter_mut().zip(q).for_each(|(a, b)| *a -= c * b);
        }
        let norm = r.iter().map(|a| a * a).sum::<f64>().sqrt();
        rows.push(r.iter().map(|a| a / norm).collect());
    }
    let scale = ((m - 1) as f64).sqrt();
    (0..m)
        .map(|i| {
            let e: Vec<f64> = (1..=N).map(|j| scale * rows[j][i]).collect();
            let mut x = vec![0.0; N];
            b.sqrt_apply(&e, &mut x);
            x.iter().zip(mean).map(|(a, b)| a + b).collect()
        })
        .collect()
}

#[test]
fn the_etkf_equals_the_kalman_filter_on_a_linear_gaussian_system() {
    let model = model();
    let b = BackgroundCovariance::gaussian(N, 0.8, 1.0).unwrap();
    let xb = random_vector(N, 62);
    let m_matrix = Array2::from_shape_vec((N, N), model.matrix().to_vec()).unwrap();
    for members_count in [N + 1, 20] {
        let mut members = exact_ensemble(&xb, &b, members_count);
        let (mean0, cov0) = mean_and_covariance_of(&members);
        assert!((mean0 - Array1::from_vec(xb.clone()))
            .iter()
            .all(|d| d.abs() < 1e-12));
        assert!((&cov0 - &b.matrix()).iter().all(|d| d.abs() < 1e-12));
        let (mut x, mut p) = (Array1::from_vec(xb.clone()), b.matrix());
        let mut worst: f64 = 0.0;
        for cycle in 0..10 {
            // Observe sites (cycle + 0, 2, 5) mod N with σ = 0.5, 0.7, 0.4.
            let sites = [cycle % N, (cycle + 2) % N, (cycle + 5) % N];
            let sigmas = [0.5, 0.7, 0.4];
            let noise = random_vector(3, 100 + cycle as u64);
            let values: Vec<f64> = (0..3).map(|k| x[sites[k]] + 1.3 + noise[k]).collect();
            let equivalents: Vec<Vec<f64>> = members
                .iter()
                .map(|m| sites.iter().map(|&s| m[s]).collect())
                .collect();
            let analysis =
                etkf_analysis(&mut members, &equivalents, &values, &sigmas, 1.0).unwrap();
            // The Kalman filter: K = P Hᵀ (H P Hᵀ + R)⁻¹.
            let h = Array2::from_shape_fn((3, N), |(k, j)| (sites[k] == j) as i32 as f64);
            let r = Array2::from_diag(&Array1::from_iter(sigmas.iter().map(|s| s * s)));
            let s = h.dot(&p).dot(&h.t()) + r;
            let y = Array1::from_vec(values.clone());
            let innovation = &y - &h.dot(&x);
            x = &x + &p.dot(&h.t()).dot(&s.solve(&innovation).unwrap());
            let ph = p.dot(&h.t());
            let mut gain_t = Array2::<f64>::zeros((3, N));
            for j in 0..N {
                gain_t
                    .column_mut(j)
                    .assign(&s.solve(&ph.row(j).to_owned()).unwrap());
            }
            p = &p - &ph.dot(&gain_t);
            let (mean, cov) = mean_and_covariance_of(&members);
            worst = worst
                .max((&mean - &x).iter().fold(0.0, |a, d| a.max(d.abs())))
                .max((&cov - &p).iter().fold(0.0, |a, d| a.max(d.abs())));
            let trace_spread = (p.diag().sum() / N as f64).sqrt();
            assert!((analysis.spread_analysis - trace_spread).abs() < 1e-8);
            assert!(analysis.spread_analysis < analysis.spread_forecast);
            // Forecast: the members through the model, the filter through M.
            for member in members.iter_mut() {
                *member = integrate(&model, member, 1, |_, _| {}).unwrap();
            }
            x = m_matrix.dot(&x);
            p = m_matrix.dot(&p).dot(&m_matrix.t());
        }
        println!("{members_count} members: max |ETKF - Kalman filter| over 10 cycles = {worst:e}");
        assert!(worst < 1e-8, "{worst}");
    }
    assert_eq!(model.state_len(), N);
}

#[test]
fn inflation_scales_the_forecast_covariance_and_bad_input_is_refused() {
    let b = BackgroundCovariance::gaussian(N, 0.8, 1.0).unwrap();
    let xb = random_vector(N, 63);
    let observe = |members: &[Vec<f64>]| -> Vec<Vec<f64>> {
        members.iter().map(|m| vec![m[1], m[4]]).collect()
    };
    let (values, sigmas) = ([0.3, -0.2], [0.5, 0.5]);
    // ρ = 1.5 on an ensemble of covariance B is ρ = 1 on one of covariance ρ²B.
    let mut inflated = exact_ensemble(&xb, &b, 9);
    let equivalents = observe(&inflated);
    etkf_analysis(&mut inflated, &equivalents, &values, &sigmas, 1.5).unwrap();
    let scaled_b = BackgroundCovariance::from_matrix(b.matrix() * 2.25).unwrap();
    let mut wide = exact_ensemble(&xb, &scaled_b, 9);
    let equivalents = observe(&wide);
    etkf_analysis(&mut wide, &equivalents, &values, &sigmas, 1.0).unwrap();
    let (m1, c1) = mean_and_covariance_of(&inflated);
    let (m2, c2) = mean_and_covariance_of(&wide);
    assert!((&m1 - &m2).iter().all(|d| d.abs() < 1e-10), "{m1} vs {m2}");
    assert!((&c1 - &c2).iter().all(|d| d.abs() < 1e-10));

    let mut one = vec![xb.clone()];
    assert!(etkf_analysis(&mut one, &[vec![0.0, 0.0]], &values, &sigmas, 1.0).is_err());
    let mut members = exact_ensemble(&xb, &b, 9);
    let equivalents = observe(&members);
    for (inflation, sigma) in [(0.9, 0.5), (f64::NAN, 0.5), (1.0, 0.0)] {
        let err = etkf_analysis(
            &mut members,
            &equivalents,
            &values,
            &[sigma, 0.5],
            inflation,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("ETKF"), "{err}");
    }
    let mut nan = equivalents.clone();
    nan[3][0] = f64::NAN;
    assert!(etkf_analysis(&mut members, &nan, &values, &sigmas, 1.0).is_err());
}

/// Gaspari–Cohn: 1 at 0, continuous at the joins r = 1 and r = 2, 0 beyond; on the ring its
/// square root squares back to C (no eigenvalue needed clipping at these widths).
#[test]
fn gaspari_cohn_localisation_is_continuous_compact_and_has_a_square_root() {
    use fourdvar::ensemble::localisation::{gaspari_cohn, Localisation};
    assert_eq!(gaspari_cohn(0.0), 1.0);
    for join in [1.0, 2.0] {
        let (left, right) = (gaspari_cohn(join - 1e-9), gaspari_cohn(join + 1e-9));
        assert!((left - right).abs() < 1e-8, "r = {join}: {left} vs {right}");
    }
    assert!(gaspari_cohn(2.0).abs() < 1e-12);
    assert_eq!(gaspari_cohn(2.5), 0.0);
    assert!((gaspari_cohn(1.0) - 5.0 / 24.0).abs() < 1e-12);
    for c in [2.0, 5.0, 10.0] {
        let l = Localisation::ring(40, c).unwrap();
        let mut sq = Array2::<f64>::zeros((40, 40));
        let mut column = vec![0.0; 40];
        let mut twice = vec![0.0; 40];
        for j in 0..40 {
            let mut e = vec![0.0; 40];
            e[j] = 1.0;
            l.sqrt_apply(&e, &mut column);
            l.sqrt_apply(&column, &mut twice);
            sq.column_mut(j).assign(&Array1::from_vec(twice.clone()));
        }
        let gap = (&sq - l.matrix())
            .iter()
            .fold(0.0f64, |a, d| a.max(d.abs()));
        println!("c = {c}: |C^1/2 C^1/2 - C| = {gap:e}");
        assert!(gap < 1e-10, "c = {c}: {gap}");
        // Compact support: sites 2c or more apart are uncorrelated.
        let far = (2.0 * c).ceil() as usize;
        assert_eq!(l.matrix()[[0, far]], 0.0);
    }
    assert!(Localisation::ring(40, 0.0).is_err());
    assert!(Localisation::ring(40, f64::NAN).is_err());
}

/// The α-control transform: its adjoint passes the dot-product test, T Tᵀ is
/// β_s² B + β_e² P_e ∘ C built densely, and β_e = 0 is the static B^½ bit for bit.
#[test]
fn the_alpha_control_transform_is_the_square_root_of_the_hybrid_b() {
    use fourdvar::ensemble::alpha_control::HybridTransform;
    use fourdvar::ensemble::localisation::Localisation;
    use std::sync::Arc;
    let n = 40;
    let b = Arc::new(BackgroundCovariance::gaussian(n, 0.7, 2.0).unwrap());
    let members: Vec<Vec<f64>> = (0..10).map(|i| random_vector(n, 200 + i)).collect();
    let localisation = Arc::new(Localisation::ring(n, 4.0).unwrap());
    let (beta_s, beta_e) = (0.6, 0.8);
    let t =
        HybridTransform::new(b.clone(), beta_s, beta_e, &members, localisation.clone()).unwrap();
    let len = t.control_len();
    assert_eq!(len, n * 11);
    let u = random_vector(len, 300);
    let w = random_vector(n, 301);
    let (mut tu, mut tw) = (vec![0.0; n], vec![0.0; len]);
    t.apply(&u, &mut tu);
    t.adjoint_apply(&w, &mut tw);
    let left: f64 = tu.iter().zip(&w).map(|(a, b)| a * b).sum();
    let right: f64 = u.iter().zip(&tw).map(|(a, b)| a * b).sum();
    println!("dot product: {left} vs {right}");
    assert!((left - right).abs() <= 1e-12 * left.abs().max(1.0));

    // T Tᵀ column by column against the dense hybrid covariance.
    let (_, pe) = mean_and_covariance_of(&members);
    let hybrid = b.matrix() * beta_s * beta_s + (pe * localisation.matrix()) * beta_e * beta_e;
    let mut ttt = Array2::<f64>::zeros((n, n));
    let mut column = vec![0.0; n];
    for j in 0..n {
        let mut e = vec![0.0; n];
        e[j] = 1.0;
        t.adjoint_apply(&e, &mut tw);
        t.apply(&tw, &mut column);
        ttt.column_mut(j).assign(&Array1::from_vec(column.clone()));
    }
    let gap = (&ttt - &hybrid).iter().fold(0.0f64, |a, d| a.max(d.abs()));
    println!("|T T^T - (beta_s^2 B + beta_e^2 P_e o C)| = {gap:e}");
    assert!(gap < 1e-12, "{gap}");

    // β_e = 0, β_s = 1: the static B^½.
    let t = HybridTransform::new(b.clone(), 1.0, 0.0, &members, localisation.clone()).unwrap();
    t.apply(&u, &mut tu);
    let mut static_only = vec![0.0; n];
    b.sqrt_apply(&u[..n], &mut static_only);
    assert_eq!(tu, static_only);
    assert!(HybridTransform::new(b.clone(), -1.0, 1.0, &members, localisation.clone()).is_err());
    assert!(HybridTransform::new(b, 1.0, 1.0, &members[..1], localisation).is_err());
}

/// Sample mean and covariance of states of any length.
fn mean_and_covariance_of(members: &[Vec<f64>]) -> (Array1<f64>, Array2<f64>) {
    let (m, n) = (members.len() as f64, members[0].len());
    let mean = Array1::from_shape_fn(n, |j| members.iter().map(|x| x[j]).sum::<f64>() / m);
    let cov = Array2::from_shape_fn((n, n), |(a, b)| {
        members
            .iter()
            .map(|x| (x[a] - mean[a]) * (x[b] - mean[b]))
            .sum::<f64>()
            / (m - 1.0)
    });
    (mean, cov)
}

/// The LETKF: with a half-width far beyond the domain every observation has full weight at
/// every point, so it is the ETKF to round-off; with a short one a point far from every
/// observation keeps its forecast (only inflated), and one next to an observation moves.
#[test]
fn the_letkf_is_the_etkf_without_localisation_and_local_with_it() {
    use fourdvar::ensemble::{letkf_analysis, ObservationLocality};
    use fourdvar::geometry::ring::sites;
    use fourdvar::geometry::Location;
    let geometry = sites(N, true);
    let b = BackgroundCovariance::gaussian(N, 0.8, 1.0).unwrap();
    let xb = random_vector(N, 64);
    let forecast = exact_ensemble(&xb, &b, 9);
    let equivalents: Vec<Vec<f64>> = forecast.iter().map(|m| vec![m[1], m[2]]).collect();
    let (values, sigmas) = ([0.3, -0.2], [0.5, 0.4]);
    let locations = [Location::at(1.0), Location::at(2.0)];
    let locality = |c| ObservationLocality {
        geometry: &geometry,
        locations: &locations,
        half_width: c,
    };
    let mut global = forecast.clone();
    etkf_analysis(&mut global, &equivalents, &values, &sigmas, 1.1).unwrap();
    let mut local = forecast.clone();
    letkf_analysis(
        &mut local,
        &equivalents,
        &values,
        &sigmas,
        locality(1e9),
        1.1,
    )
    .unwrap();
    let gap = (global.iter().flatten().zip(local.iter().flatten()))
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(gap < 1e-12, "{gap:e}");

    // c = 0.5: observations reach 1 site; site 4 sees none, site 1 sees one at full weight.
    let mut near = forecast.clone();
    letkf_analysis(
        &mut near,
        &equivalents,
        &values,
        &sigmas,
        locality(0.5),
        1.1,
    )
    .unwrap();
    let (mean_f, _) = mean_and_covariance_of(&forecast);
    let (mean_a, _) = mean_and_covariance_of(&near);
    assert!((mean_a[4] - mean_f[4]).abs() < 1e-14);
    for (a, f) in near.iter().zip(&forecast) {
        let inflated = mean_f[4] + 1.1 * (f[4] - mean_f[4]);
        assert!((a[4] - inflated).abs() < 1e-12);
    }
    assert!((mean_a[1] - mean_f[1]).abs() > 1e-3);
    assert!((mean_a[1] - global_mean(&global)[1]).abs() > 1e-6);
}

fn global_mean(members: &[Vec<f64>]) -> Array1<f64> {
    mean_and_covariance_of(members).0
}

/// The separable localisation of a C-grid (u, v, h on 8 × 6 cells, dx ≠ dy) is the product
/// of the 1-D Gaspari–Cohn factors along x and y, alike for every pair of variables, and its
/// square root squares back to it; on the Lorenz-96 ring it is the ring's dense C.
#[test]
fn the_separable_localisation_of_a_plane_is_the_product_of_its_axes() {
    use fourdvar::ensemble::localisation::{gaspari_cohn, Localisation};
    use fourdvar::geometry::staggered_plane::{staggered_plane, CellGrid};
    use fourdvar::models::shallow_water::FIELDS;
    let cells = CellGrid {
        nx: 8,
        ny: 6,
        dx: 100e3,
        dy: 80e3,
    };
    let geometry = staggered_plane(cells, &FIELDS, Some((0, 1)));
    let c = 150e3;
    let l = Localisation::on_geometry(&geometry, c).unwrap();
    assert_eq!(l.len(), 3 * 48);
    let m = l.matrix();
    let gc_axis =
        |d: usize, n: usize, spacing: f64| gaspari_cohn(d.min(n - d) as f64 * spacing / c);
    for (i, j) in [
        (0usize, 0usize),
        (3, 17),
        (5, 40),
        (50, 3),
        (100, 143),
        (47, 96),
    ] {
        let (ci, cj) = (i % 48, j % 48);
        let (yi, xi, yj, xj) = (ci / 8, ci % 8, cj / 8, cj % 8);
        let want = gc_axis(yi.abs_diff(yj), 6, 80e3) * gc_axis(xi.abs_diff(xj), 8, 100e3);
        assert!(
            (m[[i, j]] - want).abs() < 1e-15,
            "({i}, {j}): {} vs {want}",
            m[[i, j]]
        );
    }
    // C^½ (C^½ x) = C x.
    let x = random_vector(l.len(), 90);
    let (mut half, mut full) = (vec![0.0; l.len()], vec![0.0; l.len()]);
    l.sqrt_apply(&x, &mut half);
    l.sqrt_apply(&half, &mut full);
    let want = m.dot(&Array1::from_vec(x));
    let gap = (full.iter().zip(&want))
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    let size = want.iter().map(|v| v.abs()).fold(0.0, f64::max);
    assert!(gap < 1e-12 * size, "{gap:e}");

    let ring = fourdvar::geometry::ring::sites(40, true);
    let separable = Localisation::on_geometry(&ring, 6.0).unwrap().matrix();
    let dense = Localisation::ring(40, 6.0).unwrap().matrix();
    assert!((separable - dense).iter().all(|d| d.abs() < 1e-15));
}

/// Adaptive inflation: when the innovations are 1.5² times what the members' spread and R
/// explain, ρ settles near 1.5; when they are explained, it stays at 1.
#[test]
fn adaptive_inflation_finds_the_missing_spread() {
    use fourdvar::ensemble::adaptive_inflation::AdaptiveInflation;
    let (m, p) = (20, 40);
    let run = |true_factor: f64| {
        let mut a = AdaptiveInflation::new(1.0);
        for cycle in 0..3000u64 {
            // Member equivalents with spread 0.5 per observation around a mean whose error is
            // true_factor × 0.5, observations with σ = 1.
            let noise = random_vector(m * p + 2 * p, 1000 + cycle);
            let members: Vec<Vec<f64>> = (0..m)
                .map(|i| (0..p).map(|k| 0.5 * noise[i * p + k]).collect())
                .collect();
            let mean: Vec<f64> = (0..p)
                .map(|k| members.iter().map(|y| y[k]).sum::<f64>() / m as f64)
                .collect();
            let values: Vec<f64> = (0..p)
                .map(|k| mean[k] + true_factor * 0.5 * noise[m * p + k] + noise[m * p + p + k])
                .collect();
            a.update(&members, &values, &vec![1.0; p]);
        }
        a.factor()
    };
    let found = run(1.5);
    println!(
        "adaptive inflation: {found:.3} for a true factor 1.5, {:.3} for 1",
        run(1.0)
    );
    assert!((found - 1.5).abs() < 0.1, "{found}");
    assert!(run(1.0) < 1.1);
}
