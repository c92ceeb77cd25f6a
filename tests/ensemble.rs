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

fn mean_and_covariance(members: &[Vec<f64>]) -> (Array1<f64>, Array2<f64>) {
    let m = members.len() as f64;
    let mean = Array1::from_shape_fn(N, |j| members.iter().map(|x| x[j]).sum::<f64>() / m);
    let cov = Array2::from_shape_fn((N, N), |(a, b)| {
        members
            .iter()
            .map(|x| (x[a] - mean[a]) * (x[b] - mean[b]))
            .sum::<f64>()
            / (m - 1.0)
    });
    (mean, cov)
}

#[test]
fn the_etkf_equals_the_kalman_filter_on_a_linear_gaussian_system() {
    let model = model();
    let b = BackgroundCovariance::gaussian(N, 0.8, 1.0).unwrap();
    let xb = random_vector(N, 62);
    let m_matrix = Array2::from_shape_vec((N, N), model.matrix().to_vec()).unwrap();
    for members_count in [N + 1, 20] {
        let mut members = exact_ensemble(&xb, &b, members_count);
        let (mean0, cov0) = mean_and_covariance(&members);
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
            let (mean, cov) = mean_and_covariance(&members);
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
    let (m1, c1) = mean_and_covariance(&inflated);
    let (m2, c2) = mean_and_covariance(&wide);
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
