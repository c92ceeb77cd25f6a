//! `fourdvar lesson`: one self-contained HTML page that walks a class through 4D-Var and
//! back-propagation through time, every figure computed live by the tool's own code and
//! each with the command that reproduces it (issue #13).
//!
//! The page and its figures go into one folder: `index.html` and PNG files beside it, no
//! network access needed (no scripts, fonts or styles from elsewhere).

pub mod bptt;
pub mod chaos;
pub mod page;

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::core::stage_costs::QuadraticMisfit;
use crate::core::{integrate, value_and_gradient, Dynamics, Storage};
use crate::error::{Error, Result};
use crate::experiment::cycle::{run_cycle, CycleRequest};
use crate::experiment::demo::{demo_request, DEMO_MODEL};
use crate::experiment::derivative_check::{run_checks, CheckRequest};
use crate::experiment::twin_window::run_twin;
use crate::experiment::window_analysis::AssimilationSettings;
use crate::io::atomic_output::AtomicOutput;
use crate::io::experiment_config::LoadedExperiment;
use crate::io::model_config::ModelConfig;
use crate::io::output_paths::{check_outputs, NamedPath};
use crate::models::{AnyModel, ModelInfo, ModelTask};
use crate::plot::canvas::{render, ImageFormat, PlotOutput};
use crate::plot::line_panel::{LinePanel, Series};
use crate::plot::observation_figure::{self, ObservationColumns};
use crate::plot::source::PlotSource;
use crate::var::ControlSpace;
use page::{escape, Section};

/// The cycled experiment of section 6 (the repository's experiments/lorenz96_cycle.toml).
const CYCLE_EXPERIMENT: &str = include_str!("../../experiments/lorenz96_cycle.toml");
/// Its observation network.
const CYCLE_NETWORK: &str = include_str!("../../observations/lorenz96_all_every_step.toml");

/// The files the lesson writes into its folder.
pub const FILES: [&str; 11] = [
    "index.html",
    "chaos.png",
    "observations.png",
    "minimisation.png",
    "analysis.png",
    "cycle.png",
    "gradient_flow.png",
    "demo.nc",
    "demo_physical.nc",
    "cycle.nc",
    "lorenz96_all_every_step.toml",
];

/// What to build.
pub struct LessonRequest {
    /// The folder of index.html and the figures (created when missing).
    pub out: PathBuf,
    /// Small sizes, for a laptop demo in seconds.
    pub quick: bool,
    /// A Lorenz-96 model configuration; None: the built-in one.
    pub model: Option<PathBuf>,
    /// Seed of the twin's draws: the background error (seed) and the observation noise
    /// (seed + 1).
    pub seed: u64,
    /// The `history` attribute of the NetCDF files the lesson writes.
    pub history: String,
}

/// What the lesson wrote.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LessonSummary {
    /// The page.
    pub index: PathBuf,
    /// Every file written beside it.
    pub files: Vec<PathBuf>,
    /// Wall time, seconds.
    pub wall_time_seconds: f64,
}

/// Writes `bytes` to `path` atomically.
fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let out = AtomicOutput::new(path)?;
    std::fs::write(out.temp_path(), bytes).map_err(|e| Error::io(path, e))?;
    out.commit()
}

/// `path` as a PNG output.
fn png<'a>(path: &'a Path) -> PlotOutput<'a> {
    PlotOutput {
        path,
        format: ImageFormat::Png,
    }
}

/// Times `repeat` forward runs and `repeat` value-and-gradient sweeps of `steps` steps (the
/// fastest of five batches each); its task returns their ratio (the gradient's price in
/// forward runs). A measurement, shown on the page, never asserted.
struct AdjointPrice {
    steps: usize,
    repeat: usize,
}

impl ModelTask for AdjointPrice {
    type Output = f64;

    fn run<M>(self, model: M) -> Result<f64>
    where
        M: Dynamics + ModelInfo + Clone + Send + Sync,
    {
        let x = integrate(&model, &model.default_initial_state(), 1000, |_, _| {})?;
        let n = x.len();
        let cost = QuadraticMisfit::new(
            n,
            1.0,
            vec![0.0; (self.steps + 1) * n],
            vec![true; self.steps + 1],
        );
        // The fastest of five batches of each: the least disturbed by other work.
        let (mut forward, mut sweep) = (f64::INFINITY, f64::INFINITY);
        for _ in 0..5 {
            let clock = Instant::now();
            for _ in 0..self.repeat {
                integrate(&model, &x, self.steps, |_, _| {})?;
            }
            forward = forward.min(clock.elapsed().as_secs_f64());
            let clock = Instant::now();
            for _ in 0..self.repeat {
                value_and_gradient(&model, &x, self.steps, &cost, Storage::All)?;
            }
            sweep = sweep.min(clock.elapsed().as_secs_f64());
        }
        Ok(sweep / forward)
    }
}

/// Builds the lesson.
pub fn run_lesson(req: &LessonRequest) -> Result<LessonSummary> {
    let started = Instant::now();
    let dir = &req.out;
    let model = match &req.model {
        Some(path) => ModelConfig::load(path)?,
        None => ModelConfig::parse(
            Path::new("models/lorenz96.toml (built in)"),
            DEMO_MODEL.into(),
        )?,
    };
    if !matches!(model.model, AnyModel::Lorenz96(_)) {
        return Err(Error::invalid(
            "--model",
            format!(
                "{}: the lesson's observation networks and texts are written for Lorenz-96 \
                 (model = \"lorenz96\", any N, F and dt); this file names another model",
                model.path.display()
            ),
        ));
    }
    let model_arg = req
        .model
        .as_ref()
        .map_or("models/lorenz96.toml".to_string(), |p| {
            p.display().to_string()
        });

    if dir.exists() && !dir.is_dir() {
        return Err(Error::invalid(
            "--out",
            format!("{} exists and is not a folder", dir.display()),
        ));
    }
    // Every file the lesson writes: none may be the model file given, a device or a folder.
    let outputs: Vec<PathBuf> = FILES.iter().map(|f| dir.join(f)).collect();
    let named: Vec<NamedPath> = (outputs.iter())
        .map(|p| NamedPath::new("--out", p.as_path()))
        .collect();
    let inputs: Vec<NamedPath> = (req.model.iter())
        .map(|p| NamedPath::new("--model", p.as_path()))
        .collect();
    check_outputs(&inputs, &named)?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut files = Vec::new();
    let file = |name: &str| dir.join(name);
    let mut sections = Vec::new();
    // 1. The model and chaos.
    let delta = 1e-6;
    let days = if req.quick { 300 } else { 600 };
    let run = model.run(chaos::TwoForecasts {
        spinup: 1000,
        steps: days,
        delta,
    })?;
    chaos::figure(&run, delta, &png(&file("chaos.png")))?;
    files.push(file("chaos.png"));
    let (n, forcing) = (run.n, run.forcing);
    let doubling =
        chaos::doubling_days(&run).map_or("(not reached)".into(), |d| format!("{d:.2} days"));
    sections.push(Section {
        title: "The model and chaos".into(),
        body: format!(
            "<p>Lorenz-96 has N = {n} variables on a ring, dx<sub>i</sub>/dt = (x<sub>i+1</sub> − \
             x<sub>i−2</sub>) x<sub>i−1</sub> − x<sub>i</sub> + F with F = {forcing}: advection, damping and \
             forcing, the smallest model with the error growth of the atmosphere. One step of 0.05 \
             time units is 6 hours. Two forecasts that start {delta:e} apart in one variable \
             separate exponentially: the difference doubles every {doubling} until it is as large \
             as the states themselves. A forecast is only as good as its initial state, and \
             finding that state from observations is what 4D-Var does.</p>"
        ),
        figure: Some(("chaos.png".into(), "Hovmöller diagram of a Lorenz-96 forecast and the growth of the difference of two forecasts".into())),
        command: format!("fourdvar forecast --model {model_arg} --steps {days} --out forecast.nc --plot"),
    });

    // 2–5. One 4D-Var window: the demo twin, in the control-variable space and in physical
    // space.
    let mut twin = demo_request(&file("demo.nc"), req.history.clone(), Default::default())?;
    twin.experiment.config.twin.background_seed = req.seed;
    twin.experiment.config.twin.observation_seed = req.seed + 1;
    twin.model = model.clone();
    let transformed = run_twin(&twin)?;
    files.push(file("demo.nc"));
    let mut physical = demo_request(
        &file("demo_physical.nc"),
        req.history.clone(),
        Default::default(),
    )?;
    physical.experiment = twin.experiment.clone();
    physical.model = model.clone();
    physical.experiment.config.minimizer.space = ControlSpace::Physical;
    let physical_summary = run_twin(&physical)?;
    files.push(file("demo_physical.nc"));
    let demo = PlotSource::open(&file("demo.nc"))?;
    let obs = ObservationColumns {
        time: demo.time_axis("obs_time")?.values,
        position: Some(demo.values("obs_position")?),
        xy: None,
        value: demo.values("obs_value")?,
        time_label: demo.time_axis("obs_time")?.label,
    };
    let n_obs = obs.value.len();
    observation_figure::draw(obs, &file("demo.nc"), &png(&file("observations.png")))?;
    files.push(file("observations.png"));
    sections.push(Section {
        title: "Observations and noise".into(),
        body: format!(
            "<p>The truth is a model run we pretend not to know (a <em>twin experiment</em>). \
             Every other site is observed every other step over a window of 20 steps (5 days): \
             {n_obs} numbers y = H(x<sub>true</sub>) + ε with Gaussian noise ε of standard \
             deviation σ<sub>o</sub> = 1, drawn with seed {}. The background x<sub>b</sub>, our \
             prior guess of the initial state, is the truth plus an error drawn from the \
             background-error covariance B.</p>",
            req.seed + 1
        ),
        figure: Some((
            "observations.png".into(),
            "observation positions and times, coloured by value".into(),
        )),
        command: "fourdvar demo\nfourdvar plot demo.nc".into(),
    });

    let check = run_checks(&CheckRequest {
        model: model.clone(),
        spinup: 1000,
        window: if req.quick { 10 } else { 20 },
        seed: req.seed,
        network: None,
    })?;
    let price = model.run(AdjointPrice {
        steps: 20,
        repeat: if req.quick { 100 } else { 1000 },
    })?;
    let rows: String = (check.rows.iter())
        .map(|r| {
            format!(
                "<tr><td>{}</td><td>{:.2e}</td><td>{:.0e}</td><td>{}</td></tr>\n",
                escape(&r.test),
                r.value,
                r.threshold,
                if r.passed() { "pass" } else { "FAIL" }
            )
        })
        .collect();
    sections.push(Section {
        title: "The cost function and the adjoint".into(),
        body: format!(
            "<p>4D-Var looks for the initial state x<sub>0</sub> that minimises</p>\n\
             <p><math display=\"block\"><mi>J</mi><mo>(</mo><msub><mi>x</mi><mn>0</mn></msub><mo>)</mo><mo>=</mo>\
             <mfrac><mn>1</mn><mn>2</mn></mfrac><mo>(</mo><msub><mi>x</mi><mn>0</mn></msub><mo>−</mo><msub><mi>x</mi><mi>b</mi></msub><msup><mo>)</mo><mi>T</mi></msup>\
             <msup><mi>B</mi><mrow><mo>−</mo><mn>1</mn></mrow></msup><mo>(</mo><msub><mi>x</mi><mn>0</mn></msub><mo>−</mo><msub><mi>x</mi><mi>b</mi></msub><mo>)</mo>\
             <mo>+</mo><mfrac><mn>1</mn><mn>2</mn></mfrac><munder><mo>∑</mo><mi>k</mi></munder>\
             <mo>(</mo><msub><mi>y</mi><mi>k</mi></msub><mo>−</mo><msub><mi>H</mi><mi>k</mi></msub><mo>(</mo><msub><mi>x</mi><mi>k</mi></msub><mo>)</mo><msup><mo>)</mo><mi>T</mi></msup>\
             <msubsup><mi>R</mi><mi>k</mi><mrow><mo>−</mo><mn>1</mn></mrow></msubsup><mo>(</mo><msub><mi>y</mi><mi>k</mi></msub><mo>−</mo><msub><mi>H</mi><mi>k</mi></msub><mo>(</mo><msub><mi>x</mi><mi>k</mi></msub><mo>)</mo><mo>)</mo></math></p>\n\
             <p>with x<sub>k</sub> = M<sub>k</sub>(x<sub>k−1</sub>) the model run from x<sub>0</sub>. \
             Its gradient with respect to all 40 initial values comes from one backward sweep of the \
             <em>adjoint</em> model, λ<sub>k</sub> = M'<sub>k</sub><sup>T</sup> λ<sub>k+1</sub> + \
             ∂J<sub>k</sub>/∂x<sub>k</sub>, whatever the number of variables: finite differences would \
             need one forecast per variable. Measured here, one value-and-gradient sweep of 20 steps \
             costs {price:.2} forward runs (the forward run, and the adjoint step, which costs about two \
             forward steps because it re-evaluates the Runge–Kutta stages). The hand-written \
             tangent-linear and adjoint models are checked every time:</p>\n\
             <table><tr><th>test</th><th>value</th><th>threshold</th><th></th></tr>\n{rows}</table>\n\
             <p>The Taylor test: ‖M(x + εδx) − M(x) − εM'δx‖ shrinks like ε² (slope 2); the \
             dot-product test: ⟨M'δx, δy⟩ = ⟨δx, M'<sup>T</sup>δy⟩ to round-off.</p>"
        ),
        figure: None,
        command: format!("fourdvar check --model {model_arg}\nfourdvar bench"),
    });

    let curves = [
        ("demo.nc", "control-variable transform", 5),
        ("demo_physical.nc", "physical space", 1),
    ]
    .into_iter()
    .map(|(name, label, colour)| -> Result<Series> {
        let s = PlotSource::open(&file(name))?;
        Ok(Series {
            name: label.into(),
            x: s.values("iteration")?,
            y: s.values("cost")?,
            colour,
        })
    })
    .collect::<Result<Vec<_>>>()?;
    let panel = LinePanel {
        title: "the cost J per minimiser iteration".into(),
        x_label: "iteration".into(),
        y_label: "J (log scale)".into(),
        series: curves,
        levels: Vec::new(),
        log_y: true,
    };
    render(
        &crate::plot::rnn_figures::single(panel),
        &png(&file("minimisation.png")),
    )?;
    files.push(file("minimisation.png"));
    sections.push(Section {
        title: "Minimisation".into(),
        body: format!(
            "<p>L-BFGS walks down J using the adjoint gradient. In the control-variable transform \
             x<sub>0</sub> = x<sub>b</sub> + B<sup>½</sup>v the background term becomes ½‖v‖² and \
             the problem is far better conditioned than in physical space. From J = {:.1}, the \
             transformed problem stops after {} iterations at J = {:.2} ({}); in physical space \
             the minimiser stops after {} iterations at J = {:.2} ({}).</p>",
            transformed.cost_initial,
            transformed.iterations,
            transformed.cost_final,
            escape(&transformed.stop_reason),
            physical_summary.iterations,
            physical_summary.cost_final,
            escape(&physical_summary.stop_reason)
        ),
        figure: Some(("minimisation.png".into(), "cost per iteration in the two control spaces".into())),
        command: format!(
            "fourdvar twin --model {model_arg} --network observations/lorenz96_half_every_other_step.toml \\\n  \
             --window-steps 20 --b-sigma 1 --b-correlation gaussian --b-length-scale 2 --seed {} --space transformed --out demo.nc\n\
             fourdvar twin --model {model_arg} --network observations/lorenz96_half_every_other_step.toml \\\n  \
             --window-steps 20 --b-sigma 1 --b-correlation gaussian --b-length-scale 2 --seed {} --space physical --out demo_physical.nc",
            req.seed, req.seed
        ),
    });

    crate::plot::plot_file(&file("demo.nc"), &file("analysis.png"), &[])?;
    files.push(file("analysis.png"));
    let (rb, ra) = (
        transformed.rmse_background.unwrap_or(f64::NAN),
        transformed.rmse_analysis.unwrap_or(f64::NAN),
    );
    sections.push(Section {
        title: "The analysis against the truth".into(),
        body: format!(
            "<p>The analysis trajectory is much closer to the truth than the background: RMSE over \
             the window {rb:.3} for the background, {ra:.3} for the analysis. The error panels use \
             one colour scale, white for no error; the analysis error stays small inside the window \
             (the first 5 days) and grows again in the forecast after it, as chaos says it must. \
             The O − B histogram is wide, the O − A histogram has the width of the observation \
             noise: the analysis fits the data as well as the noise allows, and no better.</p>"
        ),
        figure: Some(("analysis.png".into(), "truth, background, analysis, their errors, the cost curve and the O−B and O−A histograms".into())),
        command: "fourdvar demo --plot".into(),
    });

    // 6. Cycling.
    let network = file("lorenz96_all_every_step.toml");
    write_file(&network, CYCLE_NETWORK.as_bytes())?;
    files.push(network.clone());
    let mut experiment = LoadedExperiment::parse(None, CYCLE_EXPERIMENT.into())?;
    let (windows, burn_in) = if req.quick { (60, 10) } else { (400, 50) };
    experiment.config.cycle.windows = windows;
    experiment.config.cycle.burn_in = burn_in;
    experiment.config.twin.background_seed = req.seed;
    experiment.config.twin.observation_seed = req.seed + 1;
    let c = &experiment.config;
    let settings = AssimilationSettings::from_config(c)?;
    let cycle = run_cycle(&CycleRequest {
        model: model.clone(),
        network,
        shift: c.window.shift.or(settings.window_steps).unwrap_or(1),
        settings,
        twin: c.twin.clone(),
        windows,
        burn_in,
        method: c.cycle.method,
        assimilate: c.cycle.assimilate,
        ensemble: c.ensemble.clone(),
        experiment: experiment.clone(),
        out: file("cycle.nc"),
        history: req.history.clone(),
    })?;
    files.push(file("cycle.nc"));
    crate::plot::plot_file(&file("cycle.nc"), &file("cycle.png"), &[])?;
    files.push(file("cycle.png"));
    sections.push(Section {
        title: "Cycling and the skill over time".into(),
        body: format!(
            "<p>Operational centres repeat the analysis window after window: each analysis is \
             forecast to the next window, where it becomes the background. With every site \
             observed every step, {windows} windows of 4 steps keep the analysis error at \
             {:.3} on average (after {burn_in} windows of burn-in), the forecast error at the \
             window end at {:.3}, while the free run without observations drifts to {:.2}, the \
             size of the climate's own variability.</p>",
            cycle.rmse_analysis, cycle.rmse_forecast_end, cycle.rmse_free_run
        ),
        figure: Some(("cycle.png".into(), "forecast and analysis RMSE per window".into())),
        command: format!("fourdvar cycle --config experiments/lorenz96_cycle.toml --windows {windows} --burn-in {burn_in} --plot"),
    });

    // 7. BPTT.
    let steps = if req.quick { 60 } else { 120 };
    let flows = [0.8, 1.0, 1.1]
        .into_iter()
        .map(|rho| bptt::flow(rho, 32, steps, req.seed).map(|f| (rho, f)))
        .collect::<Result<Vec<_>>>()?;
    bptt::figure(&flows, &png(&file("gradient_flow.png")))?;
    files.push(file("gradient_flow.png"));
    let factors: String = (flows.iter())
        .map(|(rho, f)| {
            format!(
                "<li>spectral radius {rho}: measured factor {:.3} per step</li>",
                bptt::factor(f)
            )
        })
        .collect();
    sections.push(Section {
        title: "Back-propagation through time is the same sweep".into(),
        body: format!(
            "<p>A recurrent network h<sub>t+1</sub> = σ(W h<sub>t</sub> + U u<sub>t</sub> + b) is a \
             model like Lorenz-96: a state, parameters, a step. Its training loss is a sum of \
             per-step costs like J<sub>o</sub>. So the same <code>value_and_gradient</code> call \
             that gives the 4D-Var gradient gives ∂L/∂W, ∂L/∂U, ∂L/∂b and ∂L/∂h<sub>0</sub>: \
             back-propagation through time <em>is</em> the adjoint method. The adjoint variable \
             λ<sub>t</sub> = ∂L/∂h<sub>t</sub> of a loss at the last step T is multiplied by \
             W<sup>T</sup> at every step back, so ‖∂L/∂h<sub>t</sub>‖ ∝ |λ<sub>max</sub>|<sup>T−t</sup>: \
             it vanishes when the largest eigenvalue of W is below 1 and explodes above it \
             ({steps} steps of a linear cell of 32 units):</p><ul>{factors}</ul>\
             <p>Truncated BPTT stops the backward sweep after K steps: whatever happened more than \
             K steps before the loss gets no gradient at all, however much it mattered (the blind \
             spot the delayed-recall task exposes). In 4D-Var the same truncation would drop the \
             observations late in the window from the gradient of the initial state.</p>"
        ),
        figure: Some(("gradient_flow.png".into(), "gradient norm against lag for three spectral radii".into())),
        command: "fourdvar rnn gradient-flow --net examples/net.json --data examples/seq.csv --out flow.csv --plot\n\
                  fourdvar rnn train --task recall --tbptt 10 --method adam --epochs 50 --loss-curve curve.csv --plot".into(),
    });

    // 8. The Lagrangian.
    sections.push(Section {
        title: "One algorithm: the Lagrangian derivation".into(),
        body: LAGRANGIAN.into(),
        figure: None,
        command: format!("fourdvar check --model {model_arg}   # the adjoint that makes it work"),
    });

    let intro = format!(
        "<p>Every figure below was computed by <code>fourdvar lesson{}</code> with the tool's own \
         models, adjoints and minimisers (seed {}); each section gives the command that draws it \
         again. The page needs no network.</p>",
        if req.quick { " --quick" } else { "" },
        req.seed
    );
    let html = page::page(
        "4D-Var and back-propagation through time: one adjoint sweep",
        &intro,
        &sections,
    );
    let index = file("index.html");
    write_file(&index, html.as_bytes())?;
    Ok(LessonSummary {
        index,
        files,
        wall_time_seconds: started.elapsed().as_secs_f64(),
    })
}

/// Section 8's text.
const LAGRANGIAN: &str = "<p>Minimise J = Σ<sub>k</sub> J<sub>k</sub>(x<sub>k</sub>) subject to \
x<sub>k+1</sub> = M<sub>k</sub>(x<sub>k</sub>, θ). Attach a multiplier λ<sub>k+1</sub> to each \
step:</p>\n<p><math display=\"block\"><mi>ℒ</mi><mo>=</mo><munderover><mo>∑</mo><mrow><mi>k</mi><mo>=</mo><mn>0</mn></mrow><mi>T</mi></munderover>\
<msub><mi>J</mi><mi>k</mi></msub><mo>(</mo><msub><mi>x</mi><mi>k</mi></msub><mo>)</mo><mo>+</mo>\
<munderover><mo>∑</mo><mrow><mi>k</mi><mo>=</mo><mn>0</mn></mrow><mrow><mi>T</mi><mo>−</mo><mn>1</mn></mrow></munderover>\
<msubsup><mi>λ</mi><mrow><mi>k</mi><mo>+</mo><mn>1</mn></mrow><mi>T</mi></msubsup><mo>(</mo><msub><mi>M</mi><mi>k</mi></msub><mo>(</mo><msub><mi>x</mi><mi>k</mi></msub><mo>,</mo><mi>θ</mi><mo>)</mo><mo>−</mo><msub><mi>x</mi><mrow><mi>k</mi><mo>+</mo><mn>1</mn></mrow></msub><mo>)</mo></math></p>\n\
<p>Setting ∂ℒ/∂x<sub>k</sub> = 0 for k = T, T−1, …, 1 gives the backward recursion</p>\n\
<p><math display=\"block\"><msub><mi>λ</mi><mi>T</mi></msub><mo>=</mo><mfrac><mrow><mo>∂</mo><msub><mi>J</mi><mi>T</mi></msub></mrow><mrow><mo>∂</mo><msub><mi>x</mi><mi>T</mi></msub></mrow></mfrac><mo>,</mo><mspace width=\"1em\"/>\
<msub><mi>λ</mi><mi>k</mi></msub><mo>=</mo><msup><mrow><mo>(</mo><mfrac><mrow><mo>∂</mo><msub><mi>M</mi><mi>k</mi></msub></mrow><mrow><mo>∂</mo><msub><mi>x</mi><mi>k</mi></msub></mrow></mfrac><mo>)</mo></mrow><mi>T</mi></msup><msub><mi>λ</mi><mrow><mi>k</mi><mo>+</mo><mn>1</mn></mrow></msub><mo>+</mo>\
<mfrac><mrow><mo>∂</mo><msub><mi>J</mi><mi>k</mi></msub></mrow><mrow><mo>∂</mo><msub><mi>x</mi><mi>k</mi></msub></mrow></mfrac></math></p>\n\
<p>and then the gradients of J itself:</p>\n\
<p><math display=\"block\"><mfrac><mrow><mi>d</mi><mi>J</mi></mrow><mrow><mi>d</mi><msub><mi>x</mi><mn>0</mn></msub></mrow></mfrac><mo>=</mo><msub><mi>λ</mi><mn>0</mn></msub><mo>,</mo><mspace width=\"1em\"/>\
<mfrac><mrow><mi>d</mi><mi>J</mi></mrow><mrow><mi>d</mi><mi>θ</mi></mrow></mfrac><mo>=</mo><munder><mo>∑</mo><mi>k</mi></munder><msup><mrow><mo>(</mo><mfrac><mrow><mo>∂</mo><msub><mi>M</mi><mi>k</mi></msub></mrow><mrow><mo>∂</mo><mi>θ</mi></mrow></mfrac><mo>)</mo></mrow><mi>T</mi></msup><msub><mi>λ</mi><mrow><mi>k</mi><mo>+</mo><mn>1</mn></mrow></msub></math></p>\n\
<p>Read it three ways. With x the atmosphere's state, M a weather model, J the misfit to \
observations and the gradient taken with respect to x<sub>0</sub>: this is the adjoint \
method and 4D-Var. With x the hidden state of a recurrent network, M its cell, J the training \
loss and the gradient taken with respect to the weights θ: this is back-propagation through \
time. With J<sub>k</sub> = 0 except at the end and the gradient with respect to the inputs: \
this is sensitivity analysis (which observation, which input, mattered). One forward run \
storing x<sub>0</sub>, …, x<sub>T</sub>, one backward sweep of λ: fourdvar's \
<code>core::value_and_gradient</code> is exactly this recursion, written once and used by all \
three.</p>";
