//! The rotating shallow-water model: Taylor and dot-product tests of its TL / AD, conservation
//! of mass and energy, the gravity-wave speed, geostrophic balance, its configuration file and
//! the `check` command.

use std::path::Path;
use std::process::Command;

use fourdvar::core::integrate;
use fourdvar::core::verification::{dot_product_test, random_vector, taylor_test};
use fourdvar::io::model_config::ModelConfig;
use fourdvar::models::AnyModel;
use fourdvar::models::{
    shallow_water, InitialCondition, ModelInfo, ShallowWater, ShallowWaterField,
};

/// A small grid: 16 × 12 cells of 100 km, H = 1000 m, f = 1e-4 /s, dt = 300 s.
fn small(viscosity: f64, coriolis: f64) -> ShallowWater {
    shallow_water(
        ShallowWaterField {
            nx: 16,
            ny: 12,
            dx: 100e3,
            dy: 80e3,
            depth: 1000.0,
            gravity: 9.81,
            coriolis,
            viscosity,
            ..ShallowWaterField::default()
        },
        300.0,
    )
}

/// The default bump plus a random perturbation (1 m/s in u, v; 0.5 m in h), so every term of
/// the tangent is exercised.
fn busy_state(model: &ShallowWater, seed: u64) -> Vec<f64> {
    let m = model.field.cells();
    let mut x = model.default_initial_state();
    for (k, (xi, r)) in x.iter_mut().zip(random_vector(3 * m, seed)).enumerate() {
        *xi += if k < 2 * m { r } else { 0.5 * r };
    }
    x
}

#[test]
fn tangent_linear_passes_taylor_test() {
    let model = small(2e4, 1e-4);
    let x = busy_state(&model, 1);
    let dx = random_vector(x.len(), 2);
    for steps in [1, 50] {
        let r = taylor_test(&model, &x, &dx, &[], steps).unwrap();
        println!(
            "SW TL {steps} steps: slope {:.4} over {:.1} decades, best |ratio-1| {:.3e}",
            r.slope, r.slope_decades, r.best_ratio_error
        );
        assert!((r.slope - 2.0).abs() <= 0.1, "{r:?}");
        assert!(r.slope_decades >= 4.0, "{r:?}");
        assert!(r.best_ratio_error <= 1e-6, "{r:?}");
    }
}

#[test]
fn adjoint_passes_dot_product_test() {
    for (viscosity, coriolis) in [(2e4, 1e-4), (0.0, 0.0)] {
        let model = small(viscosity, coriolis);
        let x = busy_state(&model, 3);
        let n = x.len();
        for (trial, steps) in [1usize, 50].into_iter().enumerate() {
            let s = 10 * trial as u64;
            let (dx, dy) = (random_vector(n, 4 + s), random_vector(n, 5 + s));
            let r = dot_product_test(&model, &x, &dx, &[], &dy, steps).unwrap();
            println!("SW AD nu={viscosity} f={coriolis}, {steps} steps: {r:?}");
            assert!(r.relative_error <= 1e-13, "{r:?}");
            assert!(r.absolute_error <= 1e-13, "{r:?}");
        }
    }
}

#[test]
fn mass_is_conserved_over_1000_steps() {
    let model = small(0.0, 1e-4);
    let x0 = busy_state(&model, 6);
    // Shift h so Σh is the bump's mass (about 280 m) and not a near-cancelling random sum.
    let m0 = model.field.mass(&x0);
    let x = integrate(&model, &x0, 1000, |_, _| {}).unwrap();
    let drift = (model.field.mass(&x) - m0).abs() / m0.abs();
    println!("SW mass: initial {m0:.6}, relative drift over 1000 steps {drift:.3e}");
    assert!(m0 > 100.0, "{m0}");
    assert!(drift <= 1e-12, "{drift}");
    // With diffusion the Laplacian's fluxes cancel too.
    let model = small(2e4, 1e-4);
    let x = integrate(&model, &x0, 1000, |_, _| {}).unwrap();
    let drift = (model.field.mass(&x) - m0).abs() / m0.abs();
    println!("SW mass with viscosity: relative drift {drift:.3e}");
    assert!(drift <= 1e-12, "{drift}");
}

#[test]
fn energy_is_nearly_conserved_without_viscosity() {
    let model = small(0.0, 1e-4);
    let x0 = model.default_initial_state();
    let e0 = model.field.energy(&x0);
    let mut worst: f64 = 0.0;
    integrate(&model, &x0, 100, |_, s| {
        worst = worst.max((model.field.energy(s) - e0).abs() / e0);
    })
    .unwrap();
    println!("SW energy: relative drift over 100 steps (8.3 h) at most {worst:.3e}");
    assert!(worst <= 1e-3, "{worst}");
    // Viscosity does remove energy: the check above can tell the difference.
    let viscous = small(2e5, 1e-4);
    let x = integrate(&viscous, &x0, 100, |_, _| {}).unwrap();
    let loss = (e0 - viscous.field.energy(&x)) / e0;
    println!("SW energy with viscosity 2e5: relative loss {loss:.3e}");
    assert!(loss > 10.0 * worst, "{loss} vs {worst}");
}

/// Radius (m) east of the centre where h along the centre row last falls through half of its
/// largest value beyond `skip` cells from the centre (linear interpolation between cells).
fn front_radius(model: &ShallowWater, x: &[f64], skip: usize) -> f64 {
    let f = &model.field;
    let (nx, m) = (f.nx, f.cells());
    let (j, ic) = (f.ny / 2, f.nx / 2);
    let row: Vec<f64> = (ic..nx).map(|i| x[2 * m + j * nx + i]).collect();
    let peak = row[skip..].iter().cloned().fold(f64::MIN, f64::max);
    let level = 0.5 * peak;
    let k = (skip..row.len() - 1)
        .rev()
        .find(|&k| row[k] >= level && row[k + 1] < level)
        .expect("a front");
    let frac = (row[k] - level) / (row[k] - row[k + 1]);
    // Cell k of the row has its centre at (k + ½) cells from the domain's centre line x = nx/2.
    (k as f64 + 0.5 + frac) * f.dx
}

#[test]
fn gravity_waves_spread_at_sqrt_gh() {
    let model = shallow_water(
        ShallowWaterField {
            nx: 128,
            ny: 128,
            dx: 100e3,
            dy: 100e3,
            depth: 1000.0,
            gravity: 9.81,
            coriolis: 0.0,
            viscosity: 0.0,
            ..ShallowWaterField::default()
        },
        300.0,
    );
    // A small (1 cm) bump: the linear regime.
    let x0: Vec<f64> = model
        .default_initial_state()
        .iter()
        .map(|v| 1e-3 * v)
        .collect();
    let (t1, t2) = (60usize, 160usize);
    let x1 = integrate(&model, &x0, t1, |_, _| {}).unwrap();
    let x2 = integrate(&model, &x1, t2 - t1, |_, _| {}).unwrap();
    let (r1, r2) = (front_radius(&model, &x1, 8), front_radius(&model, &x2, 8));
    let speed = (r2 - r1) / ((t2 - t1) as f64 * model.dt);
    let c = model.field.wave_speed();
    let error = (speed - c).abs() / c;
    println!(
        "SW front: r1 {:.1} km, r2 {:.1} km, speed {speed:.2} m/s vs sqrt(gH) {c:.2} m/s, error {:.2}%",
        r1 / 1e3,
        r2 / 1e3,
        100.0 * error
    );
    assert!(error <= 0.05, "{speed} vs {c}");
}

#[test]
fn geostrophic_state_stays_while_unbalanced_bump_adjusts() {
    let field = ShallowWaterField {
        nx: 64,
        ny: 64,
        dx: 100e3,
        dy: 100e3,
        depth: 1000.0,
        gravity: 9.81,
        coriolis: 1e-4,
        viscosity: 0.0,
        ..ShallowWaterField::default()
    };
    let model = shallow_water(field.clone(), 300.0);
    let (nx, ny, m) = (field.nx, field.ny, field.cells());
    let (lx, ly) = (nx as f64 * field.dx, ny as f64 * field.dy);
    let (k, l) = (
        2.0 * std::f64::consts::PI / lx,
        2.0 * std::f64::consts::PI / ly,
    );
    let amp = 10.0;
    // h = A sin(kx) cos(ly); u = −(g/f) ∂h/∂y, v = (g/f) ∂h/∂x at their own C-grid points.
    let h = |x: f64, y: f64| amp * (k * x).sin() * (l * y).cos();
    let gf = field.gravity / field.coriolis;
    let mut balanced = vec![0.0; 3 * m];
    for j in 0..ny {
        for i in 0..nx {
            let p = j * nx + i;
            let (xc, yc) = ((i as f64 + 0.5) * field.dx, (j as f64 + 0.5) * field.dy);
            let (xu, yu) = (i as f64 * field.dx, yc);
            let (xv, yv) = (xc, j as f64 * field.dy);
            balanced[p] = gf * amp * l * (k * xu).sin() * (l * yu).sin();
            balanced[m + p] = gf * amp * k * (k * xv).cos() * (l * yv).cos();
            balanced[2 * m + p] = h(xc, yc);
        }
    }
    let mut unbalanced = balanced.clone();
    unbalanced[..2 * m].fill(0.0);
    let day = (86400.0 / model.dt).round() as usize;
    let change = |x0: &[f64]| {
        let x = integrate(&model, x0, day, |_, _| {}).unwrap();
        let d2: f64 = (x[2 * m..].iter().zip(&x0[2 * m..]))
            .map(|(a, b)| (a - b).powi(2))
            .sum();
        d2.sqrt()
    };
    let (cb, cu) = (change(&balanced), change(&unbalanced));
    let ratio = cb / cu;
    println!("SW balance: |dh| balanced {cb:.4}, unbalanced {cu:.4}, ratio {ratio:.4e}");
    assert!(ratio < 0.05, "{ratio}");
}

fn write_config(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("fourdvar-sw-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn shipped_config_loads_and_bad_configs_name_file_and_key() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = ModelConfig::load(&root.join("models/shallow_water.toml")).unwrap();
    let AnyModel::ShallowWater(model) = &config.model else {
        panic!("{:?}", config.model)
    };
    let field = &model.field;
    assert_eq!((field.nx, field.ny, model.dt), (64, 64, 300.0));
    assert_eq!(
        (field.dx, field.depth, field.coriolis),
        (100e3, 1000.0, 1e-4)
    );
    assert_eq!(field.initial, InitialCondition::default());

    let base = "model = \"shallow_water\"\nnx = 16\nny = 12\ndx = 100e3\ndy = 100e3\n";
    // Largest stable dt = 1 / (sqrt(9.81 * 1000) * sqrt(2) / 1e5) = 713.9 s.
    for (name, text, needles) in [
        (
            "cfl.toml",
            format!("{base}dt = 800.0\n"),
            vec!["cfl.toml", "`dt`", "713.9", "line 6"],
        ),
        (
            "dx.toml",
            "model = \"shallow_water\"\ndx = -5.0\n".to_string(),
            vec!["dx.toml", "`dx`", "positive", "line 2"],
        ),
        (
            "params.toml",
            format!("{base}parameters = [\"f\", \"H\"]\n"),
            vec![
                "params.toml",
                "`parameters`",
                "unknown variant `H`, expected `f` or `g`",
                "line 6",
            ],
        ),
        (
            "twice.toml",
            format!("{base}parameters = [\"g\", \"g\"]\n"),
            vec!["twice.toml", "`parameters`", "listed twice"],
        ),
        (
            "dx0.toml",
            "model = \"shallow_water\"\ndx = 0.0\n".to_string(),
            vec!["dx0.toml", "`dx`", "positive"],
        ),
        (
            "unknown.toml",
            format!("{base}gravity = 9.81\n"),
            vec!["unknown.toml", "gravity", "line 6"],
        ),
        (
            "nx.toml",
            "model = \"shallow_water\"\nnx = 0\n".to_string(),
            vec!["nx.toml", "`nx`", "at least 3"],
        ),
        (
            "nu.toml",
            format!("{base}viscosity = 1e9\n"),
            vec!["nu.toml", "`dt`", "viscosity"],
        ),
        (
            "nan.toml",
            format!("{base}f = nan\n"),
            vec!["nan.toml", "`f`", "finite"],
        ),
    ] {
        let path = write_config(name, &text);
        let err = ModelConfig::load(&path).unwrap_err().to_string();
        println!("{err}");
        for needle in needles {
            assert!(err.contains(needle), "{needle:?} missing from: {err}");
        }
    }
    let ok = write_config("ok.toml", &format!("{base}dt = 700.0\n"));
    assert!(ModelConfig::load(&ok).is_ok());
}

/// `fourdvar check` on a 16 × 12 grid (written to a temp dir). On the shipped 64 × 64 grid
/// (12 288 values) every TL / AD row passes too, but the one-sided gradient test of the generic
/// check sits at its round-off floor there (1e-8 to 9e-6 depending on the seed; 8.6e-6 with
/// the default seed 1, against a 1e-6 threshold).
#[test]
fn check_command_passes_on_a_small_grid() {
    let path = write_config(
        "check.toml",
        "model = \"shallow_water\"\nnx = 16\nny = 12\nviscosity = 2e4\ndt = 300.0\n",
    );
    let o = Command::new(env!("CARGO_BIN_EXE_fourdvar"))
        .args(["check", "--model"])
        .arg(&path)
        .args(["--spinup", "0", "--window", "10"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    println!("{text}{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(0));
    assert!(
        text.contains("AD dot product (relative), 10 step(s)"),
        "{text}"
    );
    assert!(text.contains("10 passed, 0 failed"), "{text}");
    assert!(!text.contains("FAIL"), "{text}");
}

/// A 64 × 64 f-plane model (100 km cells, H = 1000 m, f = 1e-4 /s, dt = 300 s, ν = 0)
/// starting from `initial`.
fn with_initial(initial: InitialCondition) -> ShallowWater {
    shallow_water(
        ShallowWaterField {
            initial,
            ..ShallowWaterField::default()
        },
        300.0,
    )
}

/// |h(1 day) − h(0)| (Euclidean norm over cells) from the model's default initial state.
fn height_change_over_a_day(model: &ShallowWater) -> f64 {
    let m = model.field.cells();
    let x0 = model.default_initial_state();
    let day = (86400.0 / model.dt).round() as usize;
    let x = integrate(model, &x0, day, |_, _| {}).unwrap();
    (x[2 * m..].iter().zip(&x0[2 * m..]))
        .map(|(a, b)| (a - b).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// Largest |h| of a state.
fn largest_height(model: &ShallowWater, x: &[f64]) -> f64 {
    let m = model.field.cells();
    x[2 * m..].iter().fold(0.0f64, |a, h| a.max(h.abs()))
}

#[test]
fn balanced_jet_and_eddies_stay_while_a_bump_of_the_same_height_adjusts() {
    let jet = with_initial(InitialCondition::Jet {
        amplitude: 10.0,
        width: 4.0,
    });
    let eddies = with_initial(InitialCondition::Eddies {
        amplitude: 10.0,
        width: 4.0,
        seed: 7,
    });
    for model in [&jet, &eddies] {
        let x0 = model.default_initial_state();
        let top = largest_height(model, &x0);
        let speed = x0[..2 * model.field.cells()]
            .iter()
            .fold(0.0f64, |a, v| a.max(v.abs()));
        println!(
            "SW {:?}: max |h| {top:.3} m, max wind {speed:.3} m/s",
            model.field.initial
        );
        assert!((5.0..=10.0 + 1e-9).contains(&top), "{top}");
        assert!(speed > 0.1, "{speed}");
    }
    let bump = with_initial(InitialCondition::Bump {
        amplitude: 10.0,
        width: 3.0,
    });
    let (cj, ce, cb) = (
        height_change_over_a_day(&jet),
        height_change_over_a_day(&eddies),
        height_change_over_a_day(&bump),
    );
    println!(
        "SW one day: |dh| jet {cj:.3e}, eddies {ce:.4}, bump {cb:.4}; ratios {:.3e}, {:.3e}",
        cj / cb,
        ce / cb
    );
    // The zonal jet is an exact steady state of the inviscid discrete equations.
    assert!(cj / cb < 1e-9, "{cj} vs {cb}");
    // The eddies are balanced to first order; their nonlinear evolution is slow.
    assert!(ce / cb < 0.2, "{ce} vs {cb}");
    // The same eddy heights at rest adjust like the bump does.
    let mut at_rest = eddies.default_initial_state();
    let m = eddies.field.cells();
    at_rest[..2 * m].fill(0.0);
    let x = integrate(&eddies, &at_rest, 288, |_, _| {}).unwrap();
    let cr: f64 = (x[2 * m..].iter().zip(&at_rest[2 * m..]))
        .map(|(a, b)| (a - b).powi(2))
        .sum::<f64>()
        .sqrt();
    println!("SW eddy heights at rest: |dh| {cr:.4}");
    assert!(ce / cr < 0.2, "{ce} vs {cr}");
}

#[test]
fn eddies_are_reproducible_for_a_seed_and_carry_no_mass() {
    let eddies = |seed| {
        with_initial(InitialCondition::Eddies {
            amplitude: 5.0,
            width: 4.0,
            seed,
        })
        .default_initial_state()
    };
    let (a, b, c) = (eddies(3), eddies(3), eddies(4));
    assert_eq!(a, b);
    let difference = a.iter().zip(&c).map(|(x, y)| (x - y).abs()).sum::<f64>();
    assert!(difference > 1.0, "{difference}");
    let model = with_initial(InitialCondition::default());
    let m = model.field.cells();
    let (mass, spread) = (
        model.field.mass(&a),
        a[2 * m..].iter().map(|h| h.abs()).sum::<f64>(),
    );
    println!("SW eddies: mass anomaly {mass:.3e} m against sum |h| {spread:.3e} m");
    assert!(mass.abs() <= 1e-12 * spread, "{mass} vs {spread}");
    assert!((largest_height(&model, &a) - 5.0).abs() <= 1e-12);
    // The jet's mass anomaly is removed too.
    let jet = with_initial(InitialCondition::Jet {
        amplitude: 10.0,
        width: 4.0,
    });
    let x = jet.default_initial_state();
    assert!(jet.field.mass(&x).abs() <= 1e-9, "{}", jet.field.mass(&x));
}

/// The model on a 96 × 80 grid (7680 cells), serial or on rayon's pool.
fn medium(parallel: bool) -> ShallowWater {
    shallow_water(
        ShallowWaterField {
            nx: 96,
            ny: 80,
            dy: 80e3,
            viscosity: 2e4,
            parallel_min_cells: if parallel { 0 } else { usize::MAX },
            ..ShallowWaterField::default()
        },
        300.0,
    )
}

#[test]
fn parallel_and_serial_paths_agree() {
    use fourdvar::core::{AdjointOutputs, Dynamics, TangentInputs};
    let (serial, parallel) = (medium(false), medium(true));
    let x = busy_state(&serial, 21);
    let n = x.len();
    let (dx, lambda) = (random_vector(n, 22), random_vector(n, 23));
    let run = |model: &ShallowWater| {
        let mut ws = model.workspace();
        let (mut next, mut tl, mut ad) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        model.step(&mut ws, 0, &x, &mut next);
        let tangent = TangentInputs {
            state: &dx,
            params: &[],
            input: &[],
        };
        model.step_tl(&mut ws, 0, &x, tangent, &mut tl);
        let out = AdjointOutputs {
            state: &mut ad,
            params: &mut [],
            input: &mut [],
        };
        model.step_ad(&mut ws, 0, &x, &next, &lambda, out);
        [next, tl, ad]
    };
    let (a, b) = (run(&serial), run(&parallel));
    for (name, (s, p)) in ["step", "TL", "AD"].iter().zip(a.iter().zip(&b)) {
        let scale = s.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let diff = s
            .iter()
            .zip(p)
            .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
        println!("SW {name}: serial vs parallel max difference {diff:.3e} (scale {scale:.3e})");
        assert!(diff <= 1e-12 * scale, "{name}: {diff} vs {scale}");
    }
    // And the parallel TL / AD pass their own tests.
    let r = dot_product_test(&parallel, &x, &dx, &[], &lambda, 5).unwrap();
    println!("SW parallel AD, 5 steps: {r:?}");
    assert!(r.relative_error <= 1e-13, "{r:?}");
    let r = taylor_test(&parallel, &x, &dx, &[], 5).unwrap();
    println!("SW parallel TL, 5 steps: {r:?}");
    assert!(
        (r.slope - 2.0).abs() <= 0.1 && r.best_ratio_error <= 1e-6,
        "{r:?}"
    );
}

#[test]
fn initial_table_selects_the_state_and_bad_values_name_file_and_key() {
    let base = "model = \"shallow_water\"\nnx = 32\nny = 32\n";
    let load = |name: &str, text: String| ModelConfig::load(&write_config(name, &text));
    let config = load(
        "eddies.toml",
        format!("{base}[initial]\nkind = \"eddies\"\namplitude = 3.0\nwidth = 2.5\nseed = 9\n"),
    )
    .unwrap();
    let AnyModel::ShallowWater(model) = &config.model else {
        panic!("{:?}", config.model)
    };
    let field = &model.field;
    assert_eq!(
        field.initial,
        InitialCondition::Eddies {
            amplitude: 3.0,
            width: 2.5,
            seed: 9
        }
    );
    let jet = load("jet.toml", format!("{base}[initial]\nkind = \"jet\"\n")).unwrap();
    let AnyModel::ShallowWater(model) = &jet.model else {
        panic!()
    };
    let field = &model.field;
    assert_eq!(
        field.initial,
        InitialCondition::Jet {
            amplitude: 10.0,
            width: 2.0
        }
    );
    let plain = load("plain.toml", base.to_string()).unwrap();
    let AnyModel::ShallowWater(model) = &plain.model else {
        panic!()
    };
    let field = &model.field;
    assert_eq!(field.initial, InitialCondition::default());
    for (name, table, needles) in [
        (
            "kind.toml",
            "kind = \"vortex\"\n",
            vec!["kind.toml", "`initial.kind`", "vortex", "eddies", "line 5"],
        ),
        (
            "amp.toml",
            "kind = \"jet\"\namplitude = -1.0\n",
            vec!["amp.toml", "`initial.amplitude`", ">= 0", "line 6"],
        ),
        (
            "width.toml",
            "kind = \"bump\"\nwidth = 0.0\n",
            vec!["width.toml", "`initial.width`", "positive"],
        ),
        (
            "seed.toml",
            "kind = \"bump\"\nseed = 3\n",
            vec!["seed.toml", "`initial.seed`", "eddies"],
        ),
        (
            "negseed.toml",
            "kind = \"eddies\"\nseed = -3\n",
            vec!["negseed.toml", "`initial.seed`", ">= 0"],
        ),
        (
            "extra.toml",
            "kind = \"bump\"\nradius = 3.0\n",
            vec!["extra.toml", "radius", "line 6"],
        ),
    ] {
        let err = load(name, format!("{base}[initial]\n{table}"))
            .unwrap_err()
            .to_string();
        println!("{err}");
        for needle in needles {
            assert!(err.contains(needle), "{needle:?} missing from: {err}");
        }
    }
    let err = load(
        "nof.toml",
        format!("{base}f = 0.0\n[initial]\nkind = \"eddies\"\n"),
    )
    .unwrap_err()
    .to_string();
    println!("{err}");
    assert!(err.contains("nof.toml") && err.contains("`initial.kind`") && err.contains("`f`"));
}

/// With f and g exposed as parameters θ = [f, g], every derivative check of the `check`
/// command passes: Taylor and dot-product tests over 1 and 20 steps with parameter
/// perturbations (and parameters alone), the gradient test for x₀ and for θ, checkpointing.
#[test]
fn coriolis_and_gravity_as_parameters_pass_every_derivative_check() {
    use fourdvar::core::Dynamics;
    use fourdvar::experiment::derivative_check::check_model;
    use fourdvar::models::shallow_water::ShallowWaterParameters;
    let mut model = small(0.0, 1e-4);
    model.field.parameters = ShallowWaterParameters {
        coriolis: true,
        gravity: true,
    };
    assert_eq!(model.param_len(), 2);
    assert_eq!(model.params(), vec![1e-4, 9.81]);
    assert_eq!(model.param_names(), vec!["f", "g"]);
    let x = integrate(&model, &model.default_initial_state(), 20, |_, _| {}).unwrap();
    let rows = check_model(&model, &x, 20, 3).unwrap();
    for row in &rows {
        println!(
            "{:<50} {:.3e} (≤ {:.1e}) {}",
            row.test, row.value, row.threshold, row.note
        );
    }
    assert!(
        rows.iter().any(|r| r.test.contains("parameters")),
        "{rows:?}"
    );
    assert!(rows.iter().all(|r| r.passed()), "{rows:?}");
    // θ really enters the dynamics: a different f gives a different forecast.
    let mut other = model.clone();
    other.set_params(&[2e-4, 9.81]);
    let a = integrate(&model, &x, 10, |_, _| {}).unwrap();
    let b = integrate(&other, &x, 10, |_, _| {}).unwrap();
    assert!(a.iter().zip(&b).any(|(p, q)| (p - q).abs() > 1e-6));
}
