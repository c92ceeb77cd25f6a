//! Binomial (Revolve-optimal) checkpointing arithmetic, after Griewank & Walther (2000),
//! "Algorithm 799: Revolve".
//!
//! Reversing l steps while holding at most s states in memory (the initial state counts as
//! one snapshot) costs at least
//!
//!   p(l, s) = t·l − β(s+1, t−1),   β(s, t) = C(s+t, s),
//!
//! forward steps, where t is the repetition number, the smallest t with β(s, t) ≥ l. The sweep
//! reaches this bound by splitting every segment where it is cheapest (see [`best_split`]).

/// β(s, t) = C(s+t, s), saturated at `cap` (only comparisons with values ≤ cap are needed),
/// with β(s, −1) = 0.
fn beta(s: u64, t: i64, cap: u128) -> u128 {
    if t < 0 {
        return 0;
    }
    // C(s+i, i) = C(s+i−1, i−1)·(s+i)/i is exact in integers.
    let mut c: u128 = 1;
    for i in 1..=t as u128 {
        c = c * (s as u128 + i) / i;
        if c > cap {
            return cap + 1;
        }
    }
    c
}

/// The repetition number: the smallest t ≥ 0 with β(s, t) ≥ l.
pub fn repetition_number(steps: u64, snapshots: u64) -> u64 {
    assert!(
        snapshots >= 1,
        "at least one snapshot (the initial state) is needed"
    );
    let mut t = 0i64;
    while beta(snapshots, t, steps as u128) < steps as u128 {
        t += 1;
    }
    t as u64
}

/// Minimal number of forward steps, p(l, s), needed to reverse `steps` steps with
/// `snapshots` stored states (counting the initial state). This includes the forward sweep
/// itself up to step l−1; the adjoint steps recompute their own Runge–Kutta stages and are not
/// counted.
pub fn revolve_forward_steps(steps: u64, snapshots: u64) -> u64 {
    if steps <= 1 {
        return 0;
    }
    let t = repetition_number(steps, snapshots);
    let b = beta(snapshots + 1, t as i64 - 1, u128::MAX / 4);
    (t as u128 * steps as u128 - b) as u64
}

/// Where to place the next snapshot when reversing the segment of `steps` steps that starts
/// at a stored state, with `snapshots` states available (including that one): the offset m in
/// 1..steps minimising m + p(steps − m, snapshots − 1) + p(m, snapshots). Requires
/// `snapshots ≥ 2` and `steps ≥ 2`.
pub fn best_split(steps: u64, snapshots: u64) -> u64 {
    debug_assert!(snapshots >= 2 && steps >= 2);
    let target = revolve_forward_steps(steps, snapshots);
    let mut best = (u64::MAX, 1);
    for m in 1..steps {
        let cost = m
            + revolve_forward_steps(steps - m, snapshots - 1)
            + revolve_forward_steps(m, snapshots);
        if cost < best.0 {
            best = (cost, m);
            if cost == target {
                break;
            }
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The optimal cost by exhaustive dynamic programming over every split point.
    fn brute_force(max_steps: usize, max_snapshots: usize) -> Vec<Vec<u64>> {
        // cost[s][l]
        let mut cost = vec![vec![0u64; max_steps + 1]; max_snapshots + 1];
        for (l, c) in cost[1].iter_mut().enumerate() {
            *c = (l * l.saturating_sub(1) / 2) as u64;
        }
        for s in 2..=max_snapshots {
            for l in 2..=max_steps {
                cost[s][l] = (1..l)
                    .map(|m| m as u64 + cost[s - 1][l - m] + cost[s][m])
                    .min()
                    .unwrap();
            }
        }
        cost
    }

    #[test]
    fn closed_form_matches_exhaustive_search() {
        let cost = brute_force(80, 7);
        for (s, row) in cost.iter().enumerate().skip(1) {
            for (l, &c) in row.iter().enumerate().skip(1) {
                assert_eq!(revolve_forward_steps(l as u64, s as u64), c, "l={l} s={s}");
            }
        }
    }

    #[test]
    fn known_values() {
        // One snapshot: recompute from the start for every step.
        assert_eq!(revolve_forward_steps(10, 1), 45);
        // Enough snapshots for everything: a single forward sweep to step l−1.
        assert_eq!(revolve_forward_steps(10, 10), 9);
        // β(3, 2) = 10 steps with 3 snapshots need repetition number 2.
        assert_eq!(repetition_number(10, 3), 2);
        assert_eq!(repetition_number(11, 3), 3);
    }
}
