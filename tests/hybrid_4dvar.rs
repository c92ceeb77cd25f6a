//! Hybrid 4D-Var (issue #12) at the library level: the cost on the α-control variable has
//! an exact gradient, a hybrid B without its ensemble part is static-B 4D-Var bit for bit, and
//! a purely ensemble B without localisation is the BLUE of the ensemble covariance.

use std::sync::Arc;

use fourdvar::core::verification::{gradient_test, random_vector};
use fourdvar::core::{integrate, Storage};
use fourdvar::cov::BackgroundCovariance;
use fourdvar::ensemble::alpha_control::HybridTransform;
use fourdvar::ensemble::localisation::Localisation;
use fourdvar::models::{lorenz96, Lorenz96, ModelInfo};
use fourdvar::obs::{ObservationMisfit, ObservationSet};
use fourdvar::var::{
    minimize, BackgroundError, ControlSpace, ControlTransform, FourDVar, Minimizer, StoppingRule,
};

mod linear_case;
use linear_case::{blue, linear_case, observation, LinearCase};

/// `m` members scattered around `centre` with standard deviation `spread`.
fn ensemble(centre: &[f64], m: usize, spread: f64, seed: u64) -> Vec<Vec<f64>> {
    (0..m as u64)
        .map(|i| {
            let noise = random_vector(centre.len(), seed + i);
            centre
                .iter()
                .zip(noise)
                .map(|(c, e)| c + spread * e)
                .collect()
        })
        .collect()
}

/// The sample covariance of `members` (denominator M − 1).
fn sample_covariance(members: &[Vec<f64>]) -> ndarray::Array2<f64> {
    let (m, n) = (members.len(), members[0].len());
    let mean: Vec<f64> = (0..n)
        .map(|j| members.iter().map(|x| x[j]).sum::<f64>() / m as f64)
        .collect();
    ndarray::Array2::from_shape_fn((n, n), |(i, j)| {
        members
            .iter()
            .map(|x| (x[i] - mean[i]) * (x[j] - mean[j]))
            .sum::<f64>()
            / (m - 1) as f64
    })
}

fn tight() -> StoppingRule {
    StoppingRule {
        max_iterations: 2000,
        gradient_tolerance: 1e-15,
        relative_cost_tolerance: 0.0,
    }
}

/// A Lorenz-96 window of 12 steps, every other site observed every third step, and a hybrid
/// B of `members` around the background with weights β_s, β_e and localisation half-width c.
fn lorenz96_hybrid(beta_s: f64, beta_e: f64, members: usize, c: f64) -> FourDVar<Lorenz96> {
    let model = lorenz96(40, 8.0, 0.05);
    let x = integrate(&model, &model.default_initial_state(), 1000, |_, _| {}).unwrap();
    let mut truth = Vec::new();
    integrate(&model, &x, 12, |_, s| truth.extend_from_slice(s)).unwrap();
    let noise = random_vector(200, 51);
    let mut obs = Vec::new();
    for k in (3..=12).step_by(3) {
        for i in (0..40).step_by(2) {
            let value = truth[k * 40 + i] + noise[obs.len()];
            obs.push(observation(k, i as f64, value, 1.0));
        }
    }
    let xb: Vec<f64> = (x.iter().zip(random_vector(40, 52)))
        .map(|(a, e)| a + 0.5 * e)
        .collect();
    let static_b = Arc::new(BackgroundCovariance::gaussian(40, 0.5, 2.0).unwrap());
    let hybrid = HybridTransform::new(
        static_b,
        beta_s,
        beta_e,
        &ensemble(&xb, members, 0.5, 60),
        Arc::new(Localisation::ring(40, c).unwrap()),
    )
    .unwrap();
    let misfit = ObservationMisfit::new(ObservationSet::new(obs), &model.geometry()).unwrap();
    let transform = ControlTransform::new(
        ControlSpace::Transformed,
        xb,
        BackgroundError::Hybrid(Arc::new(hybrid)),
        None,
    )
    .unwrap();
    FourDVar::new(model, 12, misfit, transform, Storage::All).unwrap()
}

#[test]
fn the_hybrid_cost_passes_the_gradient_test() {
    let p = lorenz96_hybrid(0.6, 0.8, 10, 4.0);
    assert_eq!(p.control_len(), 40 * 11);
    let u: Vec<f64> = random_vector(p.control_len(), 53)
        .iter()
        .map(|e| 0.3 * e)
        .collect();
    let e = p.evaluate(&u).unwrap();
    assert!((e.cost - p.cost(&u).unwrap()).abs() <= 1e-12 * e.cost);
    // J_b = ½‖u‖² over the whole extended control.
    let half_norm = 0.5 * u.iter().map(|x| x * x).sum::<f64>();
    assert!((e.background_cost - half_norm).abs() <= 1e-12 * half_norm);
    let h = random_vector(p.control_len(), 54);
    let report = gradient_test(|v| p.cost(v), &u, &e.gradient, &h).unwrap();
    println!(
        "hybrid gradient test: best |ratio-1| = {:.2e}",
        report.best_error
    );
    assert!(report.best_error <= 1e-6, "{report:?}");
    // The α part of the gradient is not zero: the ensemble part is live.
    let alpha_gradient = e.gradient[40..].iter().map(|g| g.abs()).fold(0.0, f64::max);
    assert!(alpha_gradient > 1e-3, "{alpha_gradient}");
}

#[test]
fn a_hybrid_b_without_its_ensemble_part_is_static_b_four_d_var_bit_for_bit() {
    let hybrid = lorenz96_hybrid(1.0, 0.0, 8, 4.0);
    let transform = hybrid.transform();
    let static_transform = ControlTransform::new(
        ControlSpace::Transformed,
        transform.background().to_vec(),
        Arc::new(transform.covariance().clone()),
        None,
    )
    .unwrap();
    let model = lorenz96(40, 8.0, 0.05);
    let plain = FourDVar::new(
        model,
        12,
        hybrid.misfit().clone(),
        static_transform,
        Storage::All,
    )
    .unwrap();
    let rule = StoppingRule {
        max_iterations: 60,
        gradient_tolerance: 1e-8,
        relative_cost_tolerance: 0.0,
    };
    let a = minimize(&hybrid, hybrid.background_control(), Minimizer::Lbfgs, rule).unwrap();
    let b = minimize(&plain, plain.background_control(), Minimizer::Lbfgs, rule).unwrap();
    let (xa, _) = hybrid.transform().to_model(&a.control);
    let (xb, _) = plain.transform().to_model(&b.control);
    assert_eq!(a.iterations.len(), b.iterations.len());
    assert!(a.iterations.len() > 5, "{}", a.iterations.len());
    for (ia, ib) in a.iterations.iter().zip(&b.iterations) {
        assert_eq!(
            ia.cost.to_bits(),
            ib.cost.to_bits(),
            "iteration {}",
            ia.iteration
        );
    }
    assert!(xa.iter().zip(&xb).all(|(p, q)| p == q), "analyses differ");
    // The α controls never moved.
    assert!(a.control[40..].iter().all(|&x| x == 0.0));
}

#[test]
fn an_ensemble_b_without_localisation_gives_the_ensemble_blue_on_a_linear_system() {
    let case = linear_case();
    let n = case.background.len();
    // M = 12 ≥ n + 1 members: P_e has full rank, so B = P_e is a proper covariance.
    let members = ensemble(&case.background, 12, 0.7, 80);
    let pe = sample_covariance(&members);
    let ensemble_case = LinearCase {
        covariance: Arc::new(BackgroundCovariance::from_matrix(pe).unwrap()),
        ..linear_case()
    };
    let expected = blue(&ensemble_case);
    let static_blue = blue(&case);
    let hybrid = HybridTransform::new(
        case.covariance.clone(),
        0.0,
        1.0,
        &members,
        Arc::new(Localisation::ring(n, f64::INFINITY).unwrap()),
    )
    .unwrap();
    let p = linear_case::problem(
        &case,
        ControlSpace::Transformed,
        BackgroundError::Hybrid(Arc::new(hybrid)),
    );
    let outcome = minimize(&p, p.background_control(), Minimizer::Lbfgs, tight()).unwrap();
    let (x0, _) = p.transform().to_model(&outcome.control);
    let gap = |want: &[f64]| {
        (x0.iter().zip(want))
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max)
    };
    println!(
        "ensemble-B 4D-Var: max |x_a - ensemble BLUE| = {:.2e}, vs the static BLUE {:.2e}",
        gap(&expected),
        gap(&static_blue)
    );
    assert!(gap(&expected) <= 1e-8, "{:e}", gap(&expected));
    // The answer is the ensemble's, not the static B's.
    assert!(gap(&static_blue) > 1e-2, "{:e}", gap(&static_blue));
}

#[test]
fn a_hybrid_b_is_refused_in_the_physical_space_and_by_the_posterior() {
    let p = lorenz96_hybrid(0.5, 0.5, 5, 4.0);
    let err = ControlTransform::new(
        ControlSpace::Physical,
        p.transform().background().to_vec(),
        p.transform().background_error().clone(),
        None,
    )
    .err()
    .expect("a hybrid B in the physical space must be refused");
    assert!(err.to_string().contains("transformed"), "{err}");
    let err = fourdvar::var::posterior::posterior(&p, &p.background_control(), 3, 20)
        .expect_err("the posterior needs a static B");
    assert!(err.to_string().contains("static B"), "{err}");
}

/// 4DEnVar on a linear model: the members' trajectories evolve their anomalies exactly as
/// the tangent-linear model would, so with β_s = 0, no localisation and M ≥ n + 1 the
/// analysis is the same ensemble BLUE as hybrid 4D-Var's, without any model derivative.
#[test]
fn four_d_en_var_gives_the_ensemble_blue_on_a_linear_system() {
    use fourdvar::ensemble::four_d_en_var::{four_d_en_var, HybridWeights};
    use fourdvar::var::krylov::InnerLoopSettings;
    let case = linear_case();
    let n = case.background.len();
    let members = ensemble(&case.background, 12, 0.7, 80);
    let ensemble_case = LinearCase {
        covariance: Arc::new(
            BackgroundCovariance::from_matrix(sample_covariance(&members)).unwrap(),
        ),
        ..linear_case()
    };
    let expected = blue(&ensemble_case);
    let trajectory = |x: &[f64]| {
        let mut t = Vec::new();
        integrate(&case.model, x, case.steps, |_, s| t.extend_from_slice(s)).unwrap();
        t
    };
    let weights = HybridWeights {
        static_b: case.covariance.clone(),
        beta_static: 0.0,
        beta_ensemble: 1.0,
        localisation: Arc::new(Localisation::ring(n, f64::INFINITY).unwrap()),
    };
    let analysis = four_d_en_var(
        &trajectory(&case.background),
        &members.iter().map(|x| trajectory(x)).collect::<Vec<_>>(),
        &weights,
        &case.observations,
        &case.geometry,
        InnerLoopSettings {
            max_iterations: 500,
            tolerance: 1e-13,
        },
    )
    .unwrap();
    let gap = (case.background.iter().zip(&analysis.increment))
        .zip(&expected)
        .map(|((b, d), e)| (b + d - e).abs())
        .fold(0.0, f64::max);
    println!("4DEnVar: max |x_a - ensemble BLUE| = {gap:.2e}");
    assert!(gap <= 1e-8, "{gap:e}");
    // The quadratic cost fell from J at the background.
    let q = &analysis.solution.quadratic_costs;
    assert!(q.last().unwrap() < &(0.5 * q[0]), "{q:?}");
    // Trajectories that stop before the last observation are refused.
    let short: Vec<f64> = trajectory(&case.background)[..2 * n].to_vec();
    assert!(four_d_en_var(
        &short,
        &members.iter().map(|x| trajectory(x)).collect::<Vec<_>>(),
        &weights,
        &case.observations,
        &case.geometry,
        InnerLoopSettings {
            max_iterations: 5,
            tolerance: 1e-6,
        },
    )
    .is_err());
}

/// The smoother update of the hybrid's members on a linear model: whatever the ensemble
/// size, the members' mean is the analysis and their covariance is the smoother's at the
/// window start, P_a = P − P Gᵀ(G P Gᵀ + R)⁻¹ G P with P the members' covariance and G the
/// map to every observation of the window.
#[test]
fn the_smoother_update_gives_the_kalman_smoother_covariance_on_a_linear_system() {
    use fourdvar::ensemble::smoother_update;
    use ndarray_linalg::Inverse;
    let case = linear_case();
    let n = case.background.len();
    let g = linear_case::stacked_operator(&case);
    let r = linear_case::observation_covariance(&case);
    let analysis = random_vector(n, 90);
    for m in [4, 12] {
        let members = ensemble(&case.background, m, 0.7, 100 + m as u64);
        let updated = smoother_update(
            &case.model,
            &case.geometry,
            &analysis,
            &members,
            &case.observations,
            case.steps,
        )
        .unwrap();
        assert_eq!(updated.len(), m);
        let mean_gap = (0..n)
            .map(|j| (updated.iter().map(|x| x[j]).sum::<f64>() / m as f64 - analysis[j]).abs())
            .fold(0.0, f64::max);
        let p = sample_covariance(&members);
        let gp = g.dot(&p);
        let expected = &p
            - &gp
                .t()
                .dot(&(g.dot(&p).dot(&g.t()) + &r).inv().unwrap())
                .dot(&gp);
        let got = sample_covariance(&updated);
        let gap = (&got - &expected)
            .iter()
            .map(|v| v.abs())
            .fold(0.0, f64::max);
        let scale = expected.iter().map(|v| v.abs()).fold(0.0, f64::max);
        let reduction = p.diag().sum() - got.diag().sum();
        println!(
            "M = {m}: mean gap {mean_gap:.1e}, covariance gap {:.1e} (relative), trace {:.3} -> {:.3}",
            gap / scale,
            p.diag().sum(),
            got.diag().sum()
        );
        assert!(mean_gap < 1e-12, "{mean_gap:e}");
        assert!(gap < 1e-10 * scale, "{gap:e} of {scale}");
        assert!(reduction > 0.1 * p.diag().sum(), "{reduction}");
    }
    let one = ensemble(&case.background, 1, 0.7, 7);
    let refused = smoother_update(
        &case.model,
        &case.geometry,
        &analysis,
        &one,
        &case.observations,
        case.steps,
    );
    assert!(refused
        .unwrap_err()
        .to_string()
        .contains("at least 2 members"));
}
