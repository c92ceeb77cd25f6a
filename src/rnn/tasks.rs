//! Seeded training tasks (ChaCha8): the same seed gives the same data set bit for bit.
//!
//! - [`lorenz96_next_step`]: predict x_{t+1} from x_t along a Lorenz-96 trajectory of our own
//!   model (dense mean-squared targets).
//! - [`delayed_recall`]: a one-hot cue at step 0, G silent steps, the class reported at the
//!   last step (cross-entropy on one sparse event per sequence).
//! - [`sparse_alarm`]: a continuous sensor signal with targets only at irregular event times.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use crate::core::integrate;
use crate::error::{Error, Result};
use crate::models::lorenz96;

use super::dataset::{Dataset, Sample};
use super::LossFunction;

/// Lorenz-96 (F = 8) climatological mean and standard deviation used to normalise states.
const L96_MEAN: f64 = 2.3;
/// See [`L96_MEAN`].
const L96_STD: f64 = 3.6;

fn normal(sd: f64) -> Result<Normal<f64>> {
    Normal::new(0.0, sd).map_err(|e| Error::invalid("noise", e.to_string()))
}

/// Next-step prediction on Lorenz-96 with `sites` sites (≥ 4), F = 8, dt = 0.05: one
/// trajectory from a seeded perturbation of x = F, spun up 500 steps, cut into `sequences`
/// consecutive pieces of `steps` steps. Inputs u_t = (x_t − 2.3)/3.6, targets
/// y_t = (x_{t+1} − 2.3)/3.6 at every step (m = o = sites, mean squared).
pub fn lorenz96_next_step(
    sites: usize,
    sequences: usize,
    steps: usize,
    seed: u64,
) -> Result<Dataset> {
    if sites < 4 {
        return Err(Error::invalid("Lorenz-96 sites", "must be at least 4"));
    }
    if sequences == 0 || steps == 0 {
        return Err(Error::invalid(
            "Lorenz-96 task",
            "needs at least one sequence of one step",
        ));
    }
    let model = lorenz96(sites, 8.0, 0.05);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let noise = normal(1.0)?;
    let x0: Vec<f64> = (0..sites).map(|_| 8.0 + noise.sample(&mut rng)).collect();
    let spinup = 500;
    let total = sequences * steps + 1;
    let mut states = Vec::with_capacity(total * sites);
    integrate(&model, &x0, spinup + total - 1, |k, x| {
        if k >= spinup {
            states.extend(x.iter().map(|v| (v - L96_MEAN) / L96_STD));
        }
    })?;
    let samples = (0..sequences)
        .map(|n| {
            let a = n * steps * sites;
            let b = a + steps * sites;
            Sample {
                inputs: states[a..b].to_vec(),
                targets: states[a + sites..b + sites].to_vec(),
                active: vec![true; steps],
            }
        })
        .collect();
    Ok(Dataset {
        inputs: sites,
        outputs: sites,
        objective: LossFunction::MeanSquared,
        samples,
    })
}

/// Delayed recall: C = `classes` ≥ 2 classes, gap G = `gap`. Each sequence has T = G + 1
/// steps and m = C inputs: u_0 = e_c (one-hot cue of a uniformly drawn class c), then G silent
/// rows of N(0, `noise`²) values (zeros for noise 0). The only target is c at the last step
/// t = G (softmax cross-entropy, o = C).
pub fn delayed_recall(
    classes: usize,
    gap: usize,
    sequences: usize,
    noise: f64,
    seed: u64,
) -> Result<Dataset> {
    if classes < 2 {
        return Err(Error::invalid(
            "classes",
            "the recall task needs at least 2",
        ));
    }
    if sequences == 0 {
        return Err(Error::invalid("recall task", "needs at least one sequence"));
    }
    if !(noise.is_finite() && noise >= 0.0) {
        return Err(Error::invalid("noise", "must be a number >= 0"));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let steps = gap + 1;
    let n = normal(noise.max(f64::MIN_POSITIVE))?;
    let samples = (0..sequences)
        .map(|_| {
            let class = rng.random_range(0..classes);
            let mut inputs = vec![0.0; steps * classes];
            inputs[class] = 1.0;
            if noise > 0.0 {
                for v in &mut inputs[classes..] {
                    *v = n.sample(&mut rng);
                }
            }
            let mut targets = vec![0.0; steps];
            targets[steps - 1] = class as f64;
            let mut active = vec![false; steps];
            active[steps - 1] = true;
            Sample {
                inputs,
                targets,
                active,
            }
        })
        .collect();
    Ok(Dataset {
        inputs: classes,
        outputs: classes,
        objective: LossFunction::CrossEntropy,
        samples,
    })
}

/// Sparse alarm: one sensor (m = 1) following the AR(1) process
/// s_{t+1} = 0.8 s_t + 0.6 ξ_t, ξ_t ~ N(0, 1), and targets (o = 1, mean squared) only at
/// irregular event times with gaps drawn uniformly from 3..=12 steps; the target at an event
/// t is the alarm level y_t = (s_t + s_{t−1} + s_{t−2}) / 3, the sensor's recent mean.
pub fn sparse_alarm(sequences: usize, steps: usize, seed: u64) -> Result<Dataset> {
    if sequences == 0 || steps < 3 {
        return Err(Error::invalid(
            "alarm task",
            "needs at least one sequence of at least 3 steps",
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let xi = normal(1.0)?;
    let samples = (0..sequences)
        .map(|_| {
            let mut s = Vec::with_capacity(steps);
            let mut v = xi.sample(&mut rng);
            for _ in 0..steps {
                s.push(v);
                v = 0.8 * v + 0.6 * xi.sample(&mut rng);
            }
            let mut targets = vec![0.0; steps];
            let mut active = vec![false; steps];
            let mut t = rng.random_range(2..=12);
            while t < steps {
                targets[t] = (s[t] + s[t - 1] + s[t - 2]) / 3.0;
                active[t] = true;
                t += rng.random_range(3..=12);
            }
            Sample {
                inputs: s,
                targets,
                active,
            }
        })
        .collect();
    Ok(Dataset {
        inputs: 1,
        outputs: 1,
        objective: LossFunction::MeanSquared,
        samples,
    })
}
