//! The two-scale Lorenz-96 model: its right-hand side against a direct transcription of the
//! equations, the generic derivative checks of `core::verification` (Taylor, dot-product and
//! gradient tests) for the state and each parameter, the uncoupled limit (h = 0 gives
//! Lorenz-96 bit for bit), the energy budget and climatology of a long run, and its
//! configuration file.

mod common;

use std::path::Path;
use std::time::Instant;

use common::{assert_dot, assert_taylor};
use fourdvar::core::stage_costs::QuadraticMisfit;
use fourdvar::core::sweep::cost_value;
use fourdvar::core::verification::{dot_product_test, gradient_test, random_vector, taylor_test};
use fourdvar::core::{integrate, value_and_gradient, Dynamics, Storage};
use fourdvar::models::lorenz96;
use fourdvar::models::lorenz96_two_scale::{
    lorenz96_two_scale, Lorenz96TwoScale, Lorenz96TwoScaleConfig, Lorenz96TwoScaleField,
    TwoScaleParameter, DEFAULT_DT,
};
use fourdvar::models::rk4::VectorField;

const ALL: [TwoScaleParameter; 4] = [
    TwoScaleParameter::Forcing,
    TwoScaleParameter::H,
    TwoScaleParameter::C,
    TwoScaleParameter::B,
];

/// The default model with every constant exposed as θ = [F, h, c, b].
fn default_model_all_parameters() -> Lorenz96TwoScale {
    let field = Lorenz96TwoScaleField {
        parameters: ALL.to_vec(),
        ..Lorenz96TwoScaleField::default()
    };
    lorenz96_two_scale(field, DEFAULT_DT)
}

/// A state on the attractor: the default start spun up for `steps` steps.
fn spun_up(model: &Lorenz96TwoScale, steps: usize) -> Vec<f64> {
    let x0 = model.field.default_initial_state();
    integrate(model, &x0, steps, |_, _| {}).unwrap()
}

/// δθ with one nonzero entry: parameter `i` of θ perturbed by `scale` times its value.
fn parameter_direction(theta: &[f64], i: usize, scale: f64) -> Vec<f64> {
    let mut d = vec![0.0; theta.len()];
    d[i] = scale * theta[i].abs().max(1.0);
    d
}

/// The scale of single-parameter Taylor directions over `steps` steps. One step of
/// dt = 0.005 is nearly linear in F: a uniform shift of X drops out of Lorenz-96's
/// (Xₖ₊₁ − Xₖ₋₂) Xₖ₋₁, so δF² first appears at O(dt³) and, with the `check` command's 10%,
/// the residual falls from 5e-9 to round-off within three decades of ε. Ten times θ gives it
/// room for five (a single step stays finite even at θ + 10θ). Over 20 steps 10% keeps the
/// perturbed runs finite (c and b set the fast time scale).
fn taylor_parameter_scale(steps: usize) -> f64 {
    if steps == 1 {
        10.0
    } else {
        0.1
    }
}

/// A random state direction scaled to each scale's amplitude: N(0, 1) on X and N(0, 1/b²)
/// on Y (the fast variables are b times smaller). Unit perturbations of Y at ε = 1 would
/// make the fast advection c b Y ten times faster and blow a 20-step run up.
fn state_direction(model: &Lorenz96TwoScale, seed: u64) -> Vec<f64> {
    let mut d = random_vector(model.state_len(), seed);
    for v in &mut d[model.field.k..] {
        *v /= model.field.b;
    }
    d
}

#[test]
fn right_hand_side_matches_the_equations_written_out() {
    // Small rings (every fast variable near a block edge or seam) and the default size, with
    // constants away from their defaults so that a swapped c and b or h would show.
    for (k, j) in [(4, 1), (5, 3), (36, 10)] {
        let field = Lorenz96TwoScaleField {
            k,
            j,
            forcing: 8.5,
            h: 0.7,
            c: 9.0,
            b: 6.0,
            parameters: Vec::new(),
        };
        let n = k + j * k;
        let x = random_vector(n, 100 + k as u64);
        let mut out = vec![0.0; n];
        field.eval(&x, &mut out);
        let a = 0.7 * 9.0 / 6.0;
        let slow = |i: isize| x[i.rem_euclid(k as isize) as usize];
        let fast = |m: isize| x[k + m.rem_euclid((j * k) as isize) as usize];
        for i in 0..k as isize {
            let s: f64 = (0..j).map(|jj| x[k + jj + j * i as usize]).sum();
            let expected = -slow(i - 1) * (slow(i - 2) - slow(i + 1)) - slow(i) + 8.5 - a * s;
            let got = out[i as usize];
            assert!(
                (got - expected).abs() <= 1e-12,
                "X_{i}: {got} vs {expected}"
            );
        }
        for m in 0..(j * k) as isize {
            let xk = x[m as usize / j];
            let expected =
                -9.0 * 6.0 * fast(m + 1) * (fast(m + 2) - fast(m - 1)) - 9.0 * fast(m) + a * xk;
            let got = out[k + m as usize];
            assert!(
                (got - expected).abs() <= 1e-12,
                "Y_{m}: {got} vs {expected}"
            );
        }
    }
}

#[test]
fn tangent_linear_passes_taylor_test() {
    let model = default_model_all_parameters();
    let x = spun_up(&model, 2000);
    let n = model.state_len();
    let theta = model.params();
    let dx = state_direction(&model, 1);
    let no_dp = vec![0.0; theta.len()];
    let no_dx = vec![0.0; n];
    // θ directions scaled to the constants (c and b are 10, h is 1).
    let dp: Vec<f64> = (random_vector(theta.len(), 2).iter().zip(&theta))
        .map(|(r, t)| 0.1 * r * t.abs())
        .collect();
    for steps in [1, 20] {
        let what = |part: &str| format!("two-scale TL ({part}), {steps} steps");
        assert_taylor(
            &taylor_test(&model, &x, &dx, &dp, steps).unwrap(),
            &what("state+params"),
        );
        assert_taylor(
            &taylor_test(&model, &x, &dx, &no_dp, steps).unwrap(),
            &what("state"),
        );
        for (i, p) in ALL.iter().enumerate() {
            let dp = parameter_direction(&theta, i, taylor_parameter_scale(steps));
            let report = taylor_test(&model, &x, &no_dx, &dp, steps).unwrap();
            assert_taylor(&report, &what(p.name()));
        }
    }
}

#[test]
fn adjoint_passes_dot_product_test() {
    let model = default_model_all_parameters();
    let x = spun_up(&model, 2000);
    check_adjoint(&model, &x, 10);
    // The smallest rings, where every fast variable is next to a block edge and the seams
    // cover most of the ring.
    for (k, j) in [(4, 1), (4, 2)] {
        let field = Lorenz96TwoScaleField {
            k,
            j,
            parameters: ALL.to_vec(),
            ..Lorenz96TwoScaleField::default()
        };
        let small = lorenz96_two_scale(field, DEFAULT_DT);
        let x = spun_up(&small, 500);
        check_adjoint(&small, &x, 20 + k as u64 * j as u64);
    }
}

/// Dot-product tests over 1 and 20 steps: state and parameters together, the state alone, and
/// each parameter alone, so a wrong θ̄ entry cannot hide behind the others.
fn check_adjoint(model: &Lorenz96TwoScale, x: &[f64], seed: u64) {
    let n = model.state_len();
    let theta = model.params();
    let (k, j) = (model.field.k, model.field.j);
    for steps in [1, 20] {
        let what = |part: &str| format!("two-scale AD K={k} J={j} ({part}), {steps} steps");
        let dx = random_vector(n, seed);
        let dp = random_vector(theta.len(), seed + 1);
        let dy = random_vector(n, seed + 2);
        let both = dot_product_test(model, x, &dx, &dp, &dy, steps).unwrap();
        assert_dot(&both, &what("state+params"));
        let no_dp = vec![0.0; theta.len()];
        let state = dot_product_test(model, x, &dx, &no_dp, &dy, steps).unwrap();
        assert_dot(&state, &what("state"));
        let no_dx = vec![0.0; n];
        for (i, p) in ALL.iter().enumerate() {
            // The test is linear in δθ; θᵢ itself keeps ⟨M'δθ, δy⟩ well away from 0.
            let dp = parameter_direction(&theta, i, 1.0);
            let report = dot_product_test(model, x, &no_dx, &dp, &dy, steps).unwrap();
            assert_dot(&report, &what(p.name()));
        }
    }
}

#[test]
fn cost_gradient_passes_gradient_test() {
    let model = default_model_all_parameters();
    let x = spun_up(&model, 2000);
    let n = model.state_len();
    let steps = 20;
    // A quadratic misfit, at every other step, to the trajectory from a nearby start.
    let shift = random_vector(n, 30);
    let start: Vec<f64> = x.iter().zip(&shift).map(|(a, b)| a + 0.5 * b).collect();
    let mut targets = Vec::new();
    integrate(&model, &start, steps, |_, s| targets.extend_from_slice(s)).unwrap();
    let active = (0..=steps).map(|k| k % 2 == 0).collect();
    let cost = QuadraticMisfit::new(n, 1.0, targets, active);
    let result = value_and_gradient(&model, &x, steps, &cost, Storage::All).unwrap();

    let h = random_vector(n, 31);
    let report = gradient_test(
        |x0| cost_value(&model, x0, steps, &cost),
        &x,
        &result.state_gradient,
        &h,
    )
    .unwrap();
    println!(
        "two-scale gradient wrt x0: best |ratio-1| {:.3e} at alpha {:.1e}",
        report.best_error, report.best_alpha
    );
    assert!(report.best_error <= 1e-6, "{report:?}");

    let theta = model.params();
    let with_params = |p: &[f64]| {
        let mut m = model.clone();
        m.set_params(p);
        cost_value(&m, &x, steps, &cost)
    };
    let scaled: Vec<f64> = (random_vector(theta.len(), 32).iter().zip(&theta))
        .map(|(r, t)| 0.1 * r * t.abs())
        .collect();
    let mut directions = vec![("theta".to_string(), scaled)];
    for (i, p) in ALL.iter().enumerate() {
        directions.push((p.name().to_string(), parameter_direction(&theta, i, 0.1)));
    }
    for (name, direction) in directions {
        let report =
            gradient_test(with_params, &theta, &result.param_gradient, &direction).unwrap();
        println!(
            "two-scale gradient wrt {name}: best |ratio-1| {:.3e} at alpha {:.1e}",
            report.best_error, report.best_alpha
        );
        assert!(report.best_error <= 1e-6, "{name}: {report:?}");
    }
}

#[test]
fn uncoupled_slow_variables_are_lorenz96_bit_for_bit() {
    let (k, forcing, dt) = (36, 10.0, DEFAULT_DT);
    let field = Lorenz96TwoScaleField {
        h: 0.0,
        ..Lorenz96TwoScaleField::default()
    };
    let two_scale = lorenz96_two_scale(field, dt);
    let single = lorenz96(k, forcing, dt);
    let x0 = two_scale.field.default_initial_state();
    let steps = 4000;
    let mut coupled = Vec::new();
    integrate(&two_scale, &x0, steps, |_, s| coupled.push(s[..k].to_vec())).unwrap();
    let mut plain = Vec::new();
    integrate(&single, &x0[..k], steps, |_, s| plain.push(s.to_vec())).unwrap();
    assert_eq!(coupled, plain, "X must follow Lorenz-96 exactly when h = 0");
    // The fast variables did move (so the check is not vacuous): they decay towards 0 from
    // their 0.01 kick and are forced by nothing when h = 0.
    let end = integrate(&two_scale, &x0, 10, |_, _| {}).unwrap();
    assert!(end[k..].iter().any(|&y| y != 0.0 && y.abs() < 0.01));

    // The adjoint too: with a cost on the slow variables only, ∂J/∂X₀ and ∂J/∂F are
    // Lorenz-96's.
    let window = 20;
    let x = integrate(&two_scale, &x0, 3000, |_, _| {}).unwrap();
    let mut targets = Vec::new();
    for s in 0..=window {
        targets.extend((0..k).map(|i| 0.1 * ((i + s) as f64).sin()));
    }
    let slow_cost = QuadraticMisfit::new(k, 1.0, targets.clone(), vec![true; window + 1]);
    let plain_result =
        value_and_gradient(&single, &x[..k], window, &slow_cost, Storage::All).unwrap();
    // Weight 0 on Y is not expressible with QuadraticMisfit, so the Y targets are the Y
    // trajectory itself: the Y misfit is then zero and so is its gradient.
    let mut full_targets = Vec::new();
    integrate(&two_scale, &x, window, |s, state| {
        full_targets.extend_from_slice(&targets[s * k..(s + 1) * k]);
        full_targets.extend_from_slice(&state[k..]);
    })
    .unwrap();
    let n = two_scale.state_len();
    let full_cost = QuadraticMisfit::new(n, 1.0, full_targets, vec![true; window + 1]);
    let coupled_result =
        value_and_gradient(&two_scale, &x, window, &full_cost, Storage::All).unwrap();
    assert_eq!(coupled_result.cost, plain_result.cost);
    assert_eq!(
        &coupled_result.state_gradient[..k],
        &plain_result.state_gradient[..]
    );
    assert_eq!(coupled_result.param_gradient, plain_result.param_gradient);
}

/// E = ½(ΣX² + ΣY²) and dE/dt = F ΣX − ΣX² − c ΣY² (advection and coupling conserve E).
fn energy_and_rate(field: &Lorenz96TwoScaleField, x: &[f64]) -> (f64, f64) {
    let (slow, fast) = field.split(x);
    let sx2: f64 = slow.iter().map(|v| v * v).sum();
    let sy2: f64 = fast.iter().map(|v| v * v).sum();
    let sx: f64 = slow.iter().sum();
    (0.5 * (sx2 + sy2), field.forcing * sx - sx2 - field.c * sy2)
}

/// a Σₖ Xₖ Sₖ, the rate at which the coupling moves energy between the scales.
fn coupling_exchange(field: &Lorenz96TwoScaleField, x: &[f64]) -> f64 {
    let (slow, fast) = field.split(x);
    let a = field.h * field.c / field.b;
    let blocks = fast.chunks_exact(field.j);
    a * slow
        .iter()
        .zip(blocks)
        .map(|(xk, y)| xk * y.iter().sum::<f64>())
        .sum::<f64>()
}

#[test]
fn long_run_keeps_the_energy_budget_and_a_stable_climatology() {
    let model = lorenz96_two_scale(Lorenz96TwoScaleField::default(), DEFAULT_DT);
    let k = model.field.k;
    // 10 time units of spin-up, then 200 time units (about 2.7 years in Lorenz's scaling).
    let x0 = spun_up(&model, 2000);
    let steps = 40_000;
    let (mut sum_x, mut sum_x2, mut count) = (0.0, 0.0, 0usize);
    let (mut sum_y2, mut budget, mut exchange) = (0.0, 0.0, 0.0);
    let (e0, r0) = energy_and_rate(&model.field, &x0);
    let mut previous_rate = r0;
    let mut previous_exchange = coupling_exchange(&model.field, &x0);
    let mut e_end = e0;
    let started = Instant::now();
    integrate(&model, &x0, steps, |s, x| {
        let (slow, fast) = model.field.split(x);
        sum_x += slow.iter().sum::<f64>();
        sum_x2 += slow.iter().map(|v| v * v).sum::<f64>();
        sum_y2 += fast.iter().map(|v| v * v).sum::<f64>();
        count += k;
        if s > 0 {
            // Trapezoidal integral of dE/dt along the run.
            let (e, rate) = energy_and_rate(&model.field, x);
            budget += 0.5 * DEFAULT_DT * (previous_rate + rate);
            previous_rate = rate;
            let w = coupling_exchange(&model.field, x);
            exchange += 0.5 * DEFAULT_DT * (previous_exchange + w);
            previous_exchange = w;
            e_end = e;
        }
    })
    .unwrap();
    let elapsed = started.elapsed();
    let mean = sum_x / count as f64;
    let std = (sum_x2 / count as f64 - mean * mean).sqrt();
    let fast_rms = (sum_y2 / (count * model.field.j) as f64).sqrt();
    println!(
        "two-scale defaults over {steps} steps: X mean {mean:.4}, X std {std:.4}, Y rms {fast_rms:.4}; \
         E(T) - E(0) = {:.6e}, integral of dE/dt = {budget:.6e}; {:.0} ns per forward step \
         (including the statistics)",
        e_end - e0,
        elapsed.as_nanos() as f64 / steps as f64
    );
    // The budget: energy changes only through forcing and damping; the scales exchange
    // ∫ a Σ Xₖ Sₖ dt between them. A coupling term with a wrong sign or constant would leave
    // a multiple of that exchange in E(T) − E(0) − ∫ dE/dt; what is left is the trapezoidal
    // rule's O(dt²) error.
    let change = e_end - e0;
    println!(
        "budget residual {:.3e}, exchange between the scales {exchange:.3e}",
        change - budget
    );
    assert!(
        (change - budget).abs() <= 1e-3 * exchange.abs(),
        "E(T) - E(0) = {change} but the integral of dE/dt is {budget} (exchange {exchange})"
    );
    // Stationarity of E: over a long run the forcing balances the damping,
    // F ⟨X⟩ ≈ ⟨X²⟩ + c J ⟨Y²⟩ (per slow variable), to within the drift E(T) − E(0) / T.
    let forcing_work = model.field.forcing * mean;
    let damping = sum_x2 / count as f64 + model.field.c * model.field.j as f64 * fast_rms.powi(2);
    println!("F<X> = {forcing_work:.4}, <X^2> + cJ<Y^2> = {damping:.4}");
    assert!((forcing_work - damping).abs() <= 0.01 * forcing_work);
    // The climatology. Measured with these defaults over 1000 time units (five 200-unit
    // windows): X mean 2.45..2.61, X std 3.51..3.56, Y rms about 0.25. The fast variables
    // drain c J ⟨Y²⟩ ≈ 6.5 per slow variable from the slow ones, so X varies clearly less
    // than in plain Lorenz-96 with the same K, F and dt (mean 2.58, std 4.38 over the same
    // length), which this test runs alongside.
    assert!((2.35..2.75).contains(&mean), "X mean {mean}");
    assert!((3.35..3.75).contains(&std), "X std {std}");
    assert!((0.2..0.3).contains(&fast_rms), "Y rms {fast_rms}");
    let single = lorenz96(k, model.field.forcing, DEFAULT_DT);
    let (mut s1, mut s2) = (0.0, 0.0);
    integrate(&single, &x0[..k], steps, |_, x| {
        s1 += x.iter().sum::<f64>();
        s2 += x.iter().map(|v| v * v).sum::<f64>();
    })
    .unwrap();
    let single_mean = s1 / count as f64;
    let single_std = (s2 / count as f64 - single_mean * single_mean).sqrt();
    println!("plain Lorenz-96, K = {k}, F = 10: X mean {single_mean:.4}, X std {single_std:.4}");
    assert!(
        single_std - std >= 0.5,
        "coupled std {std} vs uncoupled {single_std}"
    );
}

#[test]
fn parameters_are_ordered_forcing_h_c_b() {
    let text = "model = \"lorenz96_two_scale\"\nparameters = [\"b\", \"forcing\", \"c\"]\n";
    let model = Lorenz96TwoScaleConfig::parse(Path::new("p.toml"), text).unwrap();
    assert_eq!(model.field.param_names(), ["forcing", "c", "b"]);
    assert_eq!(model.params(), [10.0, 10.0, 10.0]);
    let mut changed = model.clone();
    changed.set_params(&[7.0, 8.0, 9.0]);
    assert_eq!(
        (
            changed.field.forcing,
            changed.field.h,
            changed.field.c,
            changed.field.b
        ),
        (7.0, 1.0, 8.0, 9.0)
    );
}

#[test]
fn shipped_configuration_and_an_empty_one_give_the_defaults() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/lorenz96_two_scale.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let shipped = Lorenz96TwoScaleConfig::parse(&path, &text).unwrap();
    let minimal =
        Lorenz96TwoScaleConfig::parse(Path::new("m.toml"), "model = \"lorenz96_two_scale\"\n")
            .unwrap();
    let expected = Lorenz96TwoScaleField {
        k: 36,
        j: 10,
        forcing: 10.0,
        h: 1.0,
        c: 10.0,
        b: 10.0,
        parameters: vec![TwoScaleParameter::Forcing],
    };
    for model in [&shipped, &minimal] {
        assert_eq!(model.field, expected);
        assert_eq!(model.dt, 0.005);
        assert_eq!(model.state_len(), 396);
    }
    // Integers are accepted where numbers are expected.
    let text = "model = \"lorenz96_two_scale\"\nforcing = 8\n";
    let model = Lorenz96TwoScaleConfig::parse(Path::new("i.toml"), text).unwrap();
    assert_eq!(model.field.forcing, 8.0);
}

#[test]
fn bad_settings_are_refused_naming_file_line_and_key() {
    let cases: &[(&str, &str, &str)] = &[
        ("k = 3", "key `k`", "at least 4"),
        ("j = 0", "key `j`", "at least 1"),
        ("j = -5", "key `j`", "at least 1"),
        ("k = 100000000\nj = 10", "key `j`", "more than 100000000"),
        (
            "k = 9223372036854775807\nj = 9223372036854775807",
            "key `j`",
            "more than",
        ),
        ("forcing = nan", "key `forcing`", "finite"),
        ("h = inf", "key `h`", "finite"),
        ("c = 0.0", "key `c`", "positive"),
        ("b = -1.0", "key `b`", "positive"),
        ("dt = 0.0", "key `dt`", "positive"),
        ("dt = nan", "key `dt`", "positive"),
        (
            "parameters = [\"h\", \"h\"]",
            "key `parameters`",
            "listed twice",
        ),
    ];
    for (line, key, reason) in cases {
        let text = format!("# two-scale\nmodel = \"lorenz96_two_scale\"\n{line}\n");
        let err = Lorenz96TwoScaleConfig::parse(Path::new("bad.toml"), &text).unwrap_err();
        let message = err.to_string();
        let last_line = 2 + line.lines().count();
        let at = format!("line {last_line}, ");
        println!("{message}");
        assert!(message.starts_with("bad.toml: "), "{message}");
        assert!(message.contains(key), "{line}: {message}");
        assert!(message.contains(reason), "{line}: {message}");
        assert!(message.contains(&at), "{line}: {message}");
        assert!(!message.contains('\n'), "{message}");
        assert_eq!(err.exit_code(), 2);
    }
    // Errors found by the TOML reader: a wrong model, an unknown key, an unknown parameter
    // (listing the valid ones) and a value of the wrong type.
    let reader_cases: &[(&str, &str)] = &[
        ("model = \"lorenz96\"", "key `model`"),
        (
            "model = \"lorenz96_two_scale\"\nn = 40",
            "unknown field `n`",
        ),
        (
            "model = \"lorenz96_two_scale\"\nparameters = [\"f\"]",
            "`forcing`, `h`, `c`, `b`",
        ),
        ("model = \"lorenz96_two_scale\"\nk = \"many\"", "line 2"),
        ("k = 40", "missing field `model`"),
    ];
    for (text, expected) in reader_cases {
        let err = Lorenz96TwoScaleConfig::parse(Path::new("bad.toml"), text).unwrap_err();
        let message = err.to_string();
        println!("{message}");
        assert!(message.contains(expected), "{text}: {message}");
        assert!(!message.contains('\n'), "{message}");
    }
}

/// The shipped model file is registered: `model = "lorenz96_two_scale"` builds this model,
/// whose geometry puts X and Y on the same circle of slow sites.
#[test]
fn registered_model_loads_with_its_geometry() {
    use fourdvar::geometry::Location;
    use fourdvar::io::model_config::ModelConfig;
    use fourdvar::models::{AnyModel, ModelInfo};
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = ModelConfig::load(&root.join("models/lorenz96_two_scale.toml")).unwrap();
    let AnyModel::Lorenz96TwoScale(model) = &config.model else {
        panic!("{:?}", config.model)
    };
    let geometry = model.geometry();
    assert_eq!(geometry.state_len(), 36 + 360);
    assert_eq!(geometry.variable_list(), "X, Y");
    // Y_(j,k) sits at position k + j/J: position 2.5 is Y_(5,2), state index 36 + 25.
    let stencil = geometry.stencil(1, &Location::at(2.5));
    assert_eq!(stencil.taps()[0], (36 + 25, 1.0));
    // X between sites 35 and 0 (the ring's seam).
    let stencil = geometry.stencil(0, &Location::at(35.5));
    assert_eq!(
        (stencil.taps()[0], stencil.taps()[1]),
        ((35, 0.5), (0, 0.5))
    );
    // Files hold X(time, k) and Y(time, m), each on its positions on the circle.
    let cf = geometry.cf_layout();
    let arrays: Vec<(&str, &[String], usize, usize)> = cf
        .arrays
        .iter()
        .map(|a| (a.name.as_str(), a.dimensions.as_slice(), a.offset, a.len))
        .collect();
    assert_eq!(
        arrays,
        [
            ("X", &["k".to_string()][..], 0, 36),
            ("Y", &["m".to_string()][..], 36, 360)
        ]
    );
    let k = cf.dimension("k").unwrap();
    assert_eq!(k.values, (0..36).map(|i| i as f64).collect::<Vec<_>>());
    let m = cf.dimension("m").unwrap();
    assert_eq!(m.values.len(), 360);
    assert_eq!((m.values[25], m.values[359]), (2.5, 35.9));
    assert_eq!(model.param_names(), ["forcing"]);
}

/// `check` on the shipped two-scale model for the seeds whose unit perturbation blows the
/// stiff fast variables up over the 20-step window: the Taylor test leaves those ε out
/// (saying so in its note) and every check still passes on the smaller ε.
#[test]
fn check_passes_when_the_largest_taylor_perturbation_blows_up() {
    use fourdvar::experiment::derivative_check::{run_checks, CheckRequest};
    use fourdvar::io::model_config::ModelConfig;
    let model = ModelConfig::load(Path::new("models/lorenz96_two_scale.toml")).unwrap();
    let mut left_out = 0;
    for seed in 14..=16 {
        let rows = run_checks(&CheckRequest {
            model: model.clone(),
            spinup: 1000,
            window: 20,
            seed,
            network: None,
        })
        .unwrap_or_else(|e| panic!("seed {seed}: {e}"))
        .rows;
        assert_eq!(rows.len(), 13, "seed {seed}");
        for row in &rows {
            assert!(row.passed(), "seed {seed}: {row:?}");
        }
        left_out += rows.iter().filter(|r| r.note.contains("left out")).count();
    }
    assert!(left_out >= 1, "no seed exercised a blown-up perturbation");
}
