//! Analysis diagnostics: errors against the truth in twin experiments, observation-minus-
//! background and observation-minus-analysis statistics, and the χ² test J_min/p ≈ ½.

use crate::geometry::Geometry;

/// Mean and standard deviation of a set of departures y − H(x).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DepartureStatistics {
    /// Number of departures.
    pub count: usize,
    /// Mean.
    pub mean: f64,
    /// Standard deviation (population).
    pub std: f64,
}

impl DepartureStatistics {
    /// Statistics of `values` (NaN mean and std when empty).
    pub fn of(values: &[f64]) -> Self {
        let count = values.len();
        let mean = values.iter().sum::<f64>() / count as f64;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / count as f64;
        Self {
            count,
            mean,
            std: var.sqrt(),
        }
    }
}

/// O−B and O−A statistics of the observations of one observed quantity.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct QuantityDepartures {
    /// The quantity ([`crate::obs::Observation::quantity`]: "h", "speed", "x_squared", …).
    pub quantity: String,
    /// Its observations.
    pub count: usize,
    /// Mean of y − H(x_b).
    pub omb_mean: f64,
    /// Standard deviation of y − H(x_b).
    pub omb_std: f64,
    /// Mean of y − H(x_a).
    pub oma_mean: f64,
    /// Standard deviation of y − H(x_a).
    pub oma_std: f64,
}

/// The departure statistics of each quantity in `quantities` (one name per observation,
/// aligned with the departures), in the order the quantities first appear.
pub fn departures_by_quantity(
    quantities: &[String],
    background_departures: &[f64],
    analysis_departures: &[f64],
) -> Vec<QuantityDepartures> {
    let mut names: Vec<&String> = Vec::new();
    for q in quantities {
        if !names.contains(&q) {
            names.push(q);
        }
    }
    names
        .into_iter()
        .map(|name| {
            let pick = |d: &[f64]| -> Vec<f64> {
                (quantities.iter().zip(d))
                    .filter(|(q, _)| *q == name)
                    .map(|(_, v)| *v)
                    .collect()
            };
            let b = DepartureStatistics::of(&pick(background_departures));
            let a = DepartureStatistics::of(&pick(analysis_departures));
            QuantityDepartures {
                quantity: name.clone(),
                count: b.count,
                omb_mean: b.mean,
                omb_std: b.std,
                oma_mean: a.mean,
                oma_std: a.std,
            }
        })
        .collect()
}

/// Root-mean-square difference √(Σ(aᵢ−bᵢ)²/n).
pub fn rmse(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().max(1) as f64;
    (a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>() / n).sqrt()
}

/// Background and analysis RMSE of one prognostic variable against the truth.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct VariableRmse {
    /// The variable's name ("h", "u", ... when the model names its variables; "variable k"
    /// otherwise).
    pub name: String,
    /// RMSE of the background trajectory over the window.
    pub background: f64,
    /// RMSE of the analysis trajectory over the window.
    pub analysis: f64,
}

/// RMSE of each variable of `geometry` between trajectories `a` and `b` (row-major, each
/// row one state of `geometry.state_len()` values): √(Σ over rows and the variable's points
/// / count).
pub fn rmse_by_variable(a: &[f64], b: &[f64], geometry: &Geometry) -> Vec<f64> {
    let n = geometry.state_len();
    geometry
        .variables()
        .iter()
        .map(|v| {
            let block = |x: &[f64]| -> Vec<f64> {
                x.chunks_exact(n)
                    .flat_map(|row| row[v.range()].iter().copied())
                    .collect()
            };
            rmse(&block(a), &block(b))
        })
        .collect()
}

/// The name of variable `v` of `geometry` in reports: its name ("u", "h", ...) when the
/// model names its variables, else "variable v".
pub fn variable_name(geometry: &Geometry, v: usize) -> String {
    if geometry.named_variables() {
        geometry.variables()[v].name.to_string()
    } else {
        format!("variable {v}")
    }
}

/// The diagnostics of one analysis.
#[derive(Clone, Debug, PartialEq)]
pub struct AnalysisDiagnostics {
    /// RMSE of the background trajectory against the truth over the window, if known.
    pub rmse_background: Option<f64>,
    /// RMSE of the analysis trajectory against the truth over the window, if known.
    pub rmse_analysis: Option<f64>,
    /// Background and analysis RMSE per variable (models with more than one variable, when
    /// the truth is known; empty otherwise).
    pub variable_rmse: Vec<VariableRmse>,
    /// y − H(x_b) statistics.
    pub background_departures: DepartureStatistics,
    /// y − H(x_a) statistics.
    pub analysis_departures: DepartureStatistics,
    /// O−B and O−A per observed quantity.
    pub quantity_departures: Vec<QuantityDepartures>,
    /// J_min / p, with p the number of observations: near ½ when B and R are consistent with
    /// the actual errors (the expected value of 2J_min is p for a linear problem).
    pub cost_per_observation: f64,
}

impl AnalysisDiagnostics {
    /// Diagnostics from the departures (of observations measuring `quantities`), the final
    /// cost and (in twin experiments) the background, analysis and true trajectories over the
    /// window, whose states are laid out as `geometry` says.
    pub fn new(
        quantities: &[String],
        background_departures: &[f64],
        analysis_departures: &[f64],
        final_cost: f64,
        trajectories: Option<(&[f64], &[f64], &[f64])>,
        geometry: &Geometry,
    ) -> Self {
        let (rmse_background, rmse_analysis) = match trajectories {
            Some((background, analysis, truth)) => {
                (Some(rmse(background, truth)), Some(rmse(analysis, truth)))
            }
            None => (None, None),
        };
        let variable_rmse = match trajectories {
            Some((background, analysis, truth)) if geometry.variables().len() > 1 => {
                let b = rmse_by_variable(background, truth, geometry);
                let a = rmse_by_variable(analysis, truth, geometry);
                (0..geometry.variables().len())
                    .map(|v| VariableRmse {
                        name: variable_name(geometry, v),
                        background: b[v],
                        analysis: a[v],
                    })
                    .collect()
            }
            _ => Vec::new(),
        };
        Self {
            rmse_background,
            rmse_analysis,
            variable_rmse,
            background_departures: DepartureStatistics::of(background_departures),
            analysis_departures: DepartureStatistics::of(analysis_departures),
            quantity_departures: departures_by_quantity(
                quantities,
                background_departures,
                analysis_departures,
            ),
            cost_per_observation: final_cost / background_departures.len().max(1) as f64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn departures_are_grouped_by_quantity_in_order_of_appearance() {
        let q: Vec<String> = ["h", "speed", "h", "h"].map(String::from).to_vec();
        let groups = departures_by_quantity(&q, &[1.0, 10.0, 3.0, 5.0], &[0.0, -2.0, 1.0, 2.0]);
        assert_eq!(groups.len(), 2);
        let (h, speed) = (&groups[0], &groups[1]);
        assert_eq!((h.quantity.as_str(), h.count), ("h", 3));
        assert_eq!(h.omb_mean, 3.0);
        assert!((h.omb_std - (8.0f64 / 3.0).sqrt()).abs() < 1e-15);
        assert_eq!(h.oma_mean, 1.0);
        assert_eq!((speed.quantity.as_str(), speed.count), ("speed", 1));
        assert_eq!(
            (speed.omb_mean, speed.omb_std, speed.oma_mean),
            (10.0, 0.0, -2.0)
        );
    }
}
