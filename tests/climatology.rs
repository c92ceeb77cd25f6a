//! Lorenz-96 and Lorenz-63 behave as the literature says: bounded, chaotic, and with the known
//! climatology of Lorenz-96 at N = 40, F = 8.

use fourdvar::core::integrate;
use fourdvar::models::{lorenz63, lorenz96, ModelInfo};

#[test]
fn lorenz96_has_the_known_climatology() {
    let model = lorenz96(40, 8.0, 0.05);
    let start = integrate(&model, &model.default_initial_state(), 1000, |_, _| {}).unwrap();
    // After the spin-up the state has left the unstable equilibrium x = F.
    let spread = start.iter().map(|v| (v - 8.0).abs()).fold(0.0, f64::max);
    assert!(spread > 1.0, "still near the equilibrium: {spread}");
    let (mut sum, mut sum2, mut count, mut largest) = (0.0, 0.0, 0.0, 0.0f64);
    integrate(&model, &start, 100_000, |_, x| {
        for &v in x {
            sum += v;
            sum2 += v * v;
            largest = largest.max(v.abs());
        }
        count += x.len() as f64;
    })
    .unwrap();
    let mean = sum / count;
    let std = (sum2 / count - mean * mean).sqrt();
    println!("Lorenz-96 climatology over 5000 time units: mean {mean:.4}, std {std:.4}, max |x| {largest:.2}");
    assert!((2.2..2.45).contains(&mean), "mean {mean}");
    assert!((3.45..3.75).contains(&std), "std {std}");
    assert!(largest < 20.0, "unbounded? max |x| = {largest}");
}

/// Distance between two runs that start `delta` apart, after each of `checkpoints` steps.
fn separation<M: fourdvar::core::Dynamics>(model: &M, x: &[f64], delta: f64, steps: usize) -> f64 {
    let mut y = x.to_vec();
    y[0] += delta;
    let a = integrate(model, x, steps, |_, _| {}).unwrap();
    let b = integrate(model, &y, steps, |_, _| {}).unwrap();
    a.iter()
        .zip(&b)
        .map(|(p, q)| (p - q).powi(2))
        .sum::<f64>()
        .sqrt()
}

#[test]
fn lorenz96_is_chaotic() {
    let model = lorenz96(40, 8.0, 0.05);
    let x = integrate(&model, &model.default_initial_state(), 1000, |_, _| {}).unwrap();
    // The leading Lyapunov exponent is about 1.7 per time unit: a 1e-10 difference grows by
    // e^(1.7·2.5) ≈ 70 over 50 steps and saturates at the attractor's size within 1000.
    let early = separation(&model, &x, 1e-10, 50);
    let late = separation(&model, &x, 1e-10, 1000);
    println!("separation after 50 steps {early:.3e}, after 1000 steps {late:.3}");
    assert!(early > 1e-9 && early < 1e-6, "{early}");
    assert!(late > 1.0, "{late}");
}

#[test]
fn lorenz63_stays_on_its_attractor_and_is_chaotic() {
    let model = lorenz63(10.0, 28.0, 8.0 / 3.0, 0.01);
    let x = integrate(&model, &model.default_initial_state(), 1000, |_, _| {}).unwrap();
    let (mut zmax, mut zmin, mut xmax) = (f64::MIN, f64::MAX, 0.0f64);
    integrate(&model, &x, 100_000, |_, s| {
        zmax = zmax.max(s[2]);
        zmin = zmin.min(s[2]);
        xmax = xmax.max(s[0].abs());
    })
    .unwrap();
    println!("Lorenz-63: z in [{zmin:.2}, {zmax:.2}], max |x| {xmax:.2}");
    // The butterfly: z between about 0 and 50, |x| below about 21, visiting both wings.
    assert!(
        zmin > 0.0 && zmax < 50.0 && zmax > 40.0,
        "z in [{zmin}, {zmax}]"
    );
    assert!(xmax > 15.0 && xmax < 22.0, "{xmax}");
    assert!(separation(&model, &x, 1e-10, 3000) > 1.0);
}
