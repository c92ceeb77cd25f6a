//! A small linear 4D-Var problem with a closed-form answer, shared by the 4D-Var test files:
//! a 6-variable linear model, eight observations at interpolated positions over five steps,
//! and the BLUE x_b + B Gᵀ(G B Gᵀ + R)⁻¹(y − G x_b) that 4D-Var must reach.
#![allow(dead_code)]

use std::sync::Arc;

use ndarray::{Array1, Array2};
use ndarray_linalg::Solve;

use fourdvar::core::verification::random_vector;
use fourdvar::core::{integrate, Storage};
use fourdvar::cov::BackgroundCovariance;
use fourdvar::geometry::ring::sites;
use fourdvar::geometry::{Geometry, Location};
use fourdvar::models::linear::LinearModel;
use fourdvar::obs::{Observation, ObservationKind, ObservationMisfit, ObservationSet};
use fourdvar::var::{BackgroundError, ControlSpace, ControlTransform, FourDVar};

pub fn observation(step: usize, position: f64, value: f64, sigma: f64) -> Observation {
    Observation {
        time: step as f64,
        step,
        location: Location::at(position),
        variable: 0,
        kind: ObservationKind::Value,
        value,
        sigma,
        line: None,
    }
}

/// A 6-variable linear system, its observations and B.
pub struct LinearCase {
    pub model: LinearModel,
    pub geometry: Geometry,
    pub background: Vec<f64>,
    pub covariance: Arc<BackgroundCovariance>,
    pub observations: ObservationSet,
    pub steps: usize,
}

pub fn linear_case() -> LinearCase {
    let n = 6;
    let noise = random_vector(n * n, 21);
    let matrix: Vec<f64> = (0..n * n)
        .map(|i| if i % (n + 1) == 0 { 0.95 } else { 0.0 } + 0.15 * noise[i])
        .collect();
    let model = LinearModel::new(n, matrix).unwrap();
    let values = random_vector(12, 22);
    let obs = vec![
        observation(0, 1.0, values[0], 0.5),
        observation(1, 0.0, values[1], 0.7),
        observation(1, 2.5, values[2], 0.7),
        observation(2, 4.0, values[3], 0.3),
        observation(3, 1.25, values[4], 1.0),
        observation(3, 5.0, values[5], 0.4),
        observation(5, 3.0, values[6], 0.6),
        observation(5, 0.5, values[7], 0.6),
    ];
    LinearCase {
        model,
        geometry: sites(n, false),
        background: random_vector(n, 23),
        covariance: Arc::new(BackgroundCovariance::gaussian(n, 0.8, 1.0).unwrap()),
        observations: ObservationSet::new(obs),
        steps: 5,
    }
}

/// G, the map from the window start to the observations: the stacked rows h_iᵀ A^{k_i}.
pub fn stacked_operator(case: &LinearCase) -> Array2<f64> {
    let n = case.background.len();
    let obs = case.observations.as_slice();
    let p = obs.len();
    let mut g = Array2::<f64>::zeros((p, n));
    for j in 0..n {
        // Column j of G: observe the trajectory of the unit vector e_j.
        let mut e = vec![0.0; n];
        e[j] = 1.0;
        let mut states = Vec::new();
        integrate(&case.model, &e, case.steps, |_, x| states.push(x.to_vec())).unwrap();
        for (i, o) in obs.iter().enumerate() {
            let x = &states[o.step];
            let position = o.location.coordinates()[0];
            let (lo, w) = (position.floor() as usize, position.fract());
            g[[i, j]] = if w == 0.0 {
                x[lo]
            } else {
                (1.0 - w) * x[lo] + w * x[lo + 1]
            };
        }
    }
    g
}

/// R, diagonal.
pub fn observation_covariance(case: &LinearCase) -> Array2<f64> {
    let obs = case.observations.as_slice();
    Array2::from_diag(&Array1::from_iter(obs.iter().map(|o| o.sigma * o.sigma)))
}

/// x_a = x_b + B Gᵀ (G B Gᵀ + R)⁻¹ (y − G x_b), with G the stacked rows h_iᵀ A^{k_i}.
pub fn blue(case: &LinearCase) -> Vec<f64> {
    let obs = case.observations.as_slice();
    let g = stacked_operator(case);
    let b = case.covariance.matrix();
    let r = observation_covariance(case);
    let xb = Array1::from_vec(case.background.clone());
    let y = Array1::from_iter(obs.iter().map(|o| o.value));
    let innovation = &y - &g.dot(&xb);
    let s = g.dot(&b).dot(&g.t()) + r;
    let z = s.solve(&innovation).unwrap();
    (xb + b.dot(&g.t()).dot(&z)).to_vec()
}

/// The 4D-Var problem of `case` in control space `space` with the background error `error`
/// (the case's B, or another: an ensemble's, a hybrid).
pub fn problem(
    case: &LinearCase,
    space: ControlSpace,
    error: impl Into<BackgroundError>,
) -> FourDVar<LinearModel> {
    let misfit = ObservationMisfit::new(case.observations.clone(), &case.geometry).unwrap();
    let transform = ControlTransform::new(space, case.background.clone(), error, None).unwrap();
    FourDVar::new(
        case.model.clone(),
        case.steps,
        misfit,
        transform,
        Storage::All,
    )
    .unwrap()
}
