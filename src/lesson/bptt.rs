//! Section 7 of the lesson: back-propagation through time is the adjoint sweep. The gradient
//! flow ‖∂L/∂h_t‖ of a linear recurrence h_{t+1} = W h_t with a loss at the last step only
//! decays or grows like ρ(W)^{T−t}: vanishing and exploding gradients, measured by the
//! same `value_and_gradient` sweep that computes the 4D-Var gradient.

use crate::core::stage_costs::QuadraticMisfit;
use crate::core::verification::random_vector;
use crate::error::Result;
use crate::plot::canvas::{render, PlotOutput};
use crate::plot::line_panel::{LinePanel, Series};
use crate::rnn::analysis::gradient_flow;
use crate::rnn::reservoir::{random_reservoir, ReservoirSpec};
use crate::rnn::{Activation, CellShape, ElmanCell, Recurrence, RecurrenceKind};

/// The gradient flow of one linear cell of spectral radius `rho`: (lag,
/// ‖∂L/∂h_{T−lag}‖ / ‖∂L/∂h_T‖).
pub fn flow(rho: f64, hidden: usize, steps: usize, seed: u64) -> Result<Vec<(f64, f64)>> {
    let theta = random_reservoir(&ReservoirSpec {
        hidden,
        inputs: 1,
        spectral_radius: rho,
        input_scale: 0.0,
        seed,
    })?;
    let shape = CellShape::elman(hidden, 1, Recurrence::new(RecurrenceKind::Dense, 0));
    let cell =
        ElmanCell::new(shape, theta, vec![0.0; steps])?.with_activation(Activation::Identity);
    let h0 = random_vector(hidden, seed + 1);
    let mut active = vec![false; steps + 1];
    active[steps] = true;
    let loss = QuadraticMisfit::new(hidden, 1.0, vec![0.0; (steps + 1) * hidden], active);
    let f = gradient_flow(&cell, &h0, steps, &loss)?;
    let by_lag = f.by_lag();
    // Relative to the gradient at the loss, so that the curves differ only by their decay.
    let first = by_lag.first().map_or(1.0, |p| p.1);
    Ok(by_lag
        .into_iter()
        .map(|(l, v)| (l as f64, v / first))
        .collect())
}

/// The mean factor per step of a flow: (‖λ_0‖/‖λ_T‖)^{1/T}.
pub fn factor(flow: &[(f64, f64)]) -> f64 {
    match (flow.first(), flow.last()) {
        (Some(a), Some(b)) if a.1 > 0.0 && b.0 > 0.0 => (b.1 / a.1).powf(1.0 / b.0),
        _ => f64::NAN,
    }
}

/// The figure of several flows (ρ, points) into `output`.
pub fn figure(flows: &[(f64, Vec<(f64, f64)>)], output: &PlotOutput) -> Result<(u32, u32)> {
    let panel = LinePanel {
        title: "gradient flow |dL/dh_t| of h_{t+1} = W h_t, loss at the last step".into(),
        x_label: "lag T − t (steps)".into(),
        y_label: "|dL/dh_t| / |dL/dh_T| (log scale)".into(),
        series: (flows.iter().enumerate())
            .map(|(i, (rho, points))| Series {
                name: format!("spectral radius {rho}"),
                x: points.iter().map(|p| p.0).collect(),
                y: points.iter().map(|p| p.1).collect(),
                colour: [5, 0, 4, 3][i % 4],
            })
            .collect(),
        levels: Vec::new(),
        log_y: true,
    };
    render(&crate::plot::rnn_figures::single(panel), output)
}
