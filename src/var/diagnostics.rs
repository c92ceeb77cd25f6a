//! Analysis diagnostics: errors against the truth in twin experiments, observation-minus-
//! background and observation-minus-analysis statistics, and the χ² test J_min/p ≈ ½.

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

/// Root-mean-square difference √(Σ(aᵢ−bᵢ)²/n).
pub fn rmse(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().max(1) as f64;
    (a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>() / n).sqrt()
}

/// The diagnostics of one analysis.
#[derive(Clone, Debug, PartialEq)]
pub struct AnalysisDiagnostics {
    /// RMSE of the background trajectory against the truth over the window, if known.
    pub rmse_background: Option<f64>,
    /// RMSE of the analysis trajectory against the truth over the window, if known.
    pub rmse_analysis: Option<f64>,
    /// y − H(x_b) statistics.
    pub background_departures: DepartureStatistics,
    /// y − H(x_a) statistics.
    pub analysis_departures: DepartureStatistics,
    /// J_min / p, with p the number of observations: near ½ when B and R are consistent with
    /// the actual errors (the expected value of 2J_min is p for a linear problem).
    pub cost_per_observation: f64,
}

impl AnalysisDiagnostics {
    /// Diagnostics from the departures, the final cost and (in twin experiments) the
    /// background, analysis and true trajectories over the window.
    pub fn new(
        background_departures: &[f64],
        analysis_departures: &[f64],
        final_cost: f64,
        trajectories: Option<(&[f64], &[f64], &[f64])>,
    ) -> Self {
        let (rmse_background, rmse_analysis) = match trajectories {
            Some((background, analysis, truth)) => {
                (Some(rmse(background, truth)), Some(rmse(analysis, truth)))
            }
            None => (None, None),
        };
        Self {
            rmse_background,
            rmse_analysis,
            background_departures: DepartureStatistics::of(background_departures),
            analysis_departures: DepartureStatistics::of(analysis_departures),
            cost_per_observation: final_cost / background_departures.len().max(1) as f64,
        }
    }
}
