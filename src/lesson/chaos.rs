//! Section 1 of the lesson: the model and chaos. Two Lorenz-96 forecasts from states 10⁻⁶
//! apart: their difference grows exponentially until it is as large as the states
//! themselves, which is why a forecast needs the best possible initial state.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::core::integrate;
use crate::core::Dynamics;
use crate::error::Result;
use crate::models::{ModelInfo, ModelTask};
use crate::plot::canvas::{render, DrawError, Figure, PlotOutput};
use crate::plot::colour::ColourMap;
use crate::plot::forecast_figure::OwnedField;
use crate::plot::line_panel::{LinePanel, Series};

/// What the two forecasts gave.
pub struct ChaosRun {
    /// Forecast A, row-major (steps + 1) × n.
    pub trajectory: Vec<f64>,
    /// RMS difference of the two forecasts at every step.
    pub difference: Vec<f64>,
    /// State length.
    pub n: usize,
    /// Model time step.
    pub dt: f64,
    /// The model's first parameter (Lorenz-96: the forcing F).
    pub forcing: f64,
}

/// Two forecasts of `steps` steps after `spinup`, the second with `delta` added to the
/// first variable.
pub struct TwoForecasts {
    /// Spin-up steps from the model's standard start.
    pub spinup: usize,
    /// Forecast steps.
    pub steps: usize,
    /// The initial difference.
    pub delta: f64,
}

impl ModelTask for TwoForecasts {
    type Output = ChaosRun;

    fn run<M>(self, model: M) -> Result<ChaosRun>
    where
        M: Dynamics + ModelInfo + Clone + Send + Sync,
    {
        let start = integrate(
            &model,
            &model.default_initial_state(),
            self.spinup,
            |_, _| {},
        )?;
        let mut other = start.clone();
        other[0] += self.delta;
        let (mut a, mut b) = (Vec::new(), Vec::new());
        integrate(&model, &start, self.steps, |_, x| a.extend_from_slice(x))?;
        integrate(&model, &other, self.steps, |_, x| b.extend_from_slice(x))?;
        let n = start.len();
        let difference = (a.chunks_exact(n).zip(b.chunks_exact(n)))
            .map(|(x, y)| {
                let s: f64 = x.iter().zip(y).map(|(p, q)| (p - q) * (p - q)).sum();
                (s / n as f64).sqrt()
            })
            .collect();
        Ok(ChaosRun {
            trajectory: a,
            difference,
            n,
            dt: model.time_step(),
            forcing: model.params().first().copied().unwrap_or(f64::NAN),
        })
    }
}

struct ChaosFigure {
    forecast: OwnedField,
    growth: LinePanel,
}

impl Figure for ChaosFigure {
    fn size(&self) -> (u32, u32) {
        (1400, 560)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        let (left, right) = root.split_horizontally(700);
        self.forecast
            .panel(ColourMap::sequential_over(&self.forecast.values))
            .draw(&left)?;
        self.growth.draw(&right)
    }
}

/// The figure of `run` (times in days: 0.2 model time units = 1 day, Lorenz 1996) into
/// `output`.
pub fn figure(run: &ChaosRun, delta: f64, output: &PlotOutput) -> Result<(u32, u32)> {
    let days: Vec<f64> = (0..run.difference.len())
        .map(|k| k as f64 * run.dt * 5.0)
        .collect();
    let forecast = OwnedField {
        title: "forecast A: x over time and site".into(),
        values: run.trajectory.clone(),
        x: (0..run.n).map(|i| i as f64).collect(),
        y: days.clone(),
        x_label: "site".into(),
        y_label: "time (days)".into(),
        bar_label: "x".into(),
        markers: Vec::new(),
        arrows: Vec::new(),
    };
    let growth = LinePanel {
        title: format!("RMS difference of two forecasts {delta:e} apart"),
        x_label: "time (days)".into(),
        y_label: "RMS difference (log scale)".into(),
        series: vec![Series {
            name: "|forecast A − forecast B|".into(),
            x: days,
            y: run.difference.clone(),
            colour: 4,
        }],
        levels: Vec::new(),
        log_y: true,
    };
    render(&ChaosFigure { forecast, growth }, output)
}

/// The doubling time (days) of the difference while it is small: the slope of log₂ of
/// the RMS difference between 10× and 10⁴× its initial size.
pub fn doubling_days(run: &ChaosRun) -> Option<f64> {
    let d0 = run.difference.first().copied().filter(|d| *d > 0.0)?;
    let first = run.difference.iter().position(|d| *d > 10.0 * d0)?;
    let last = run.difference.iter().position(|d| *d > 1e4 * d0)?;
    let doublings = (run.difference[last] / run.difference[first]).log2();
    (doublings > 0.0).then(|| (last - first) as f64 * run.dt * 5.0 / doublings)
}
