//! `fourdvar bench adjoint-memory`: the peak resident memory of one gradient of Lorenz-96
//! (N sites, F = 0.5, contracting, over five time units: a horizon over which the continuous
//! adjoint's backward integration stays accurate) by the discrete adjoint with every state stored, by the discrete adjoint with
//! ⌈log₂ l⌉ + 1 binomial checkpoints, and by the continuous adjoint, for several numbers of
//! steps l. Each gradient runs in a child process of its own, which reports the kernel's
//! high-water mark of its resident set (VmHWM in /proc/self/status), so one measurement
//! cannot inherit another's peak.

use std::process::Command;

use crate::core::stage_costs::QuadraticMisfit;
use crate::core::{Storage, Sweeper};
use crate::models::continuous_adjoint::continuous_gradient;
use crate::models::lorenz96;
use crate::{Error, Result};

/// How the gradient is computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[value(rename_all = "kebab-case")]
#[serde(rename_all = "kebab-case")]
pub enum AdjointMethod {
    /// Discrete adjoint, every state stored.
    All,
    /// Discrete adjoint, ⌈log₂ l⌉ + 1 binomial checkpoints.
    Checkpoints,
    /// Continuous adjoint, nothing stored.
    Continuous,
}

/// One measurement.
#[derive(Clone, Debug, serde::Serialize)]
pub struct MemoryRow {
    /// The method.
    pub method: AdjointMethod,
    /// Steps l.
    pub steps: usize,
    /// Values the method keeps (states, checkpoints or running vectors).
    pub stored_values: usize,
    /// The child's peak resident set, in kB.
    pub peak_kb: u64,
}

/// The checkpoints used for `steps` steps: ⌈log₂ l⌉ + 1.
pub fn checkpoints_for(steps: usize) -> usize {
    (usize::BITS - steps.max(1).leading_zeros()) as usize + 1
}

/// The child's work: one gradient, then its peak resident set from /proc/self/status.
/// Returns (stored values, VmHWM in kB).
pub fn measure_in_this_process(
    method: AdjointMethod,
    n: usize,
    steps: usize,
) -> Result<(usize, u64)> {
    // Five time units whatever l: backwards the contracting dynamics expand, and over
    // hundreds of time units the re-integrated state would overflow.
    let model = lorenz96(n, 0.5, 5.0 / steps.max(1) as f64);
    let mut x0 = vec![0.5; n];
    x0[n / 2] += 1.0;
    // ½‖x_l − x₀‖², its target stored once rather than for every step.
    let cost = TerminalMisfit(QuadraticMisfit::new(n, 1.0, x0.clone(), vec![true]), steps);
    let stored = match method {
        AdjointMethod::All | AdjointMethod::Checkpoints => {
            let storage = if method == AdjointMethod::All {
                Storage::All
            } else {
                Storage::Checkpoints(checkpoints_for(steps))
            };
            Sweeper::new(&model).value_and_gradient(&model, &x0, steps, &cost, storage)?;
            storage.stored_values(&model, steps)
        }
        AdjointMethod::Continuous => continuous_gradient(&model, &x0, steps, &cost)?.stored_values,
    };
    Ok((stored, peak_resident_kb()?))
}

/// ½‖x_l − y‖² at the last step l only, with y stored once.
struct TerminalMisfit(QuadraticMisfit, usize);

impl crate::core::StageCost for TerminalMisfit {
    fn is_active(&self, k: usize) -> bool {
        k == self.1
    }
    fn value(&self, _: usize, x: &[f64]) -> f64 {
        self.0.value(0, x)
    }
    fn value_and_gradient(&self, _: usize, x: &[f64], x_bar: &mut [f64], p: &mut [f64]) -> f64 {
        self.0.value_and_gradient(0, x, x_bar, p)
    }
}

/// VmHWM of this process, in kB.
fn peak_resident_kb() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| Error::invalid("peak memory", format!("/proc/self/status: {e}")))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| Error::invalid("peak memory", "no VmHWM line in /proc/self/status"))
}

/// Runs every (method, steps) in a child process of this executable
/// (`bench adjoint-memory --child METHOD --child-steps L --n N`) and collects the rows.
pub fn measure_all(n: usize, steps: &[usize], methods: &[AdjointMethod]) -> Result<Vec<MemoryRow>> {
    let exe = std::env::current_exe()
        .map_err(|e| Error::invalid("adjoint-memory benchmark", e.to_string()))?;
    let mut rows = Vec::new();
    for &l in steps {
        for &method in methods {
            let method_name = crate::core::choice::choice_name(&method);
            let out = Command::new(&exe)
                .args(["bench", "adjoint-memory", "--n", &n.to_string()])
                .args(["--child", &method_name, "--child-steps", &l.to_string()])
                .output()
                .map_err(|e| Error::invalid("adjoint-memory benchmark", e.to_string()))?;
            let text = String::from_utf8_lossy(&out.stdout);
            let parsed = text.split_whitespace().collect::<Vec<_>>();
            match (out.status.success(), parsed.as_slice()) {
                (true, [stored, peak]) => rows.push(MemoryRow {
                    method,
                    steps: l,
                    stored_values: stored.parse().unwrap_or(0),
                    peak_kb: peak.parse().unwrap_or(0),
                }),
                _ => {
                    return Err(Error::invalid(
                        "adjoint-memory benchmark",
                        format!(
                            "the {method_name} run of {l} steps failed: {}",
                            String::from_utf8_lossy(&out.stderr).trim()
                        ),
                    ))
                }
            }
        }
    }
    Ok(rows)
}
