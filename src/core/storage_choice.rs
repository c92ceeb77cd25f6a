//! How a run asks for its trajectory storage: `auto`, or one of the sweep's [`Storage`]
//! modes by name (`all`, `stages`, `checkpoints:S`), as experiment files and the command
//! line write it, and the rule by which `auto` picks one for a model and a window.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::budget::{available_memory, check_memory, show_bytes};
use super::{Dynamics, Storage};
use crate::error::{Error, Result};

/// Share of the available memory `auto` lets the trajectory take: the rest is left to the
/// run's other buffers (ensembles, output) and to the system.
const AUTO_MEMORY_SHARE: f64 = 0.5;

/// The storage a run asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StorageChoice {
    /// Every state and every step's stages when they fit in half the available memory,
    /// else every state, else as many checkpoints as fit.
    #[default]
    Auto,
    /// This storage, whatever the memory (refused up front when it does not fit).
    Fixed(Storage),
}

impl StorageChoice {
    /// The storage for `steps` steps of `model`: `auto` by the rule of
    /// [`StorageChoice::Auto`]; a fixed storage if its memory is available.
    pub fn resolve<D: Dynamics>(self, model: &D, steps: usize) -> Result<Storage> {
        let bytes = |s: Storage| 8.0 * s.stored_values(model, steps) as f64;
        match self {
            StorageChoice::Fixed(storage) => {
                check_memory(&format!("trajectory storage {storage}"), bytes(storage))?;
                Ok(storage)
            }
            StorageChoice::Auto => {
                let budget = AUTO_MEMORY_SHARE * available_memory();
                if model.tape_len() > 0 && bytes(Storage::Stages) <= budget {
                    return Ok(Storage::Stages);
                }
                if bytes(Storage::All) <= budget {
                    return Ok(Storage::All);
                }
                let state_bytes = 8.0 * model.state_len() as f64;
                let snapshots = (budget / state_bytes).floor();
                if snapshots < 2.0 {
                    return Err(Error::invalid(
                        "trajectory storage",
                        format!(
                            "even two states of {} do not fit in half of the {} of memory \
                             available",
                            show_bytes(state_bytes),
                            show_bytes(available_memory())
                        ),
                    ));
                }
                Ok(Storage::Checkpoints(snapshots as usize))
            }
        }
    }
}

impl fmt::Display for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Storage::All => f.write_str("all"),
            Storage::Stages => f.write_str("stages"),
            Storage::Checkpoints(s) => write!(f, "checkpoints:{s}"),
        }
    }
}

impl fmt::Display for StorageChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageChoice::Auto => f.write_str("auto"),
            StorageChoice::Fixed(s) => s.fmt(f),
        }
    }
}

impl FromStr for StorageChoice {
    type Err = String;

    /// `auto`, `all`, `stages` or `checkpoints:S` with S ≥ 1 snapshots.
    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let fixed = |s| Ok(StorageChoice::Fixed(s));
        match text.trim() {
            "auto" => Ok(StorageChoice::Auto),
            "all" => fixed(Storage::All),
            "stages" => fixed(Storage::Stages),
            other => match other.strip_prefix("checkpoints:").map(str::parse::<usize>) {
                Some(Ok(s)) if s >= 1 => fixed(Storage::Checkpoints(s)),
                Some(_) => Err(format!(
                    "`{other}`: checkpoints:S needs a whole number S >= 1 of stored states"
                )),
                None => Err(format!(
                    "`{other}` is not a storage; use auto, all (every state), stages (every \
                     state and the RK4 stages) or checkpoints:S (S stored states)"
                )),
            },
        }
    }
}

impl Serialize for StorageChoice {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for StorageChoice {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::lorenz96;

    #[test]
    fn names_round_trip_and_bad_names_are_explained() {
        for text in ["auto", "all", "stages", "checkpoints:7"] {
            let c: StorageChoice = text.parse().unwrap();
            assert_eq!(c.to_string(), text);
        }
        let e = "checkpoints:0".parse::<StorageChoice>().unwrap_err();
        assert!(e.contains("S >= 1"), "{e}");
        let e = "checkpoints:x".parse::<StorageChoice>().unwrap_err();
        assert!(e.contains("whole number"), "{e}");
        let e = "everything".parse::<StorageChoice>().unwrap_err();
        assert!(e.contains("auto, all"), "{e}");
    }

    #[test]
    fn auto_keeps_the_stages_of_a_small_window_and_checkpoints_a_huge_one() {
        let model = lorenz96(40, 8.0, 0.05);
        assert_eq!(
            StorageChoice::Auto.resolve(&model, 100).unwrap(),
            Storage::Stages
        );
        // 10^8 values per state and 10^6 steps: 8·10^14 bytes of states fit nowhere.
        let huge = lorenz96(100_000_000, 8.0, 0.05);
        match StorageChoice::Auto.resolve(&huge, 1_000_000).unwrap() {
            Storage::Checkpoints(s) => {
                let fits = 0.5 * available_memory() / 8e8;
                assert!(s >= 2 && s as f64 <= fits, "{s} snapshots, {fits} fit");
            }
            other => panic!("expected checkpoints, got {other}"),
        }
        let refused = StorageChoice::Fixed(Storage::All).resolve(&huge, 1_000_000);
        assert!(refused.unwrap_err().to_string().contains("memory"));
    }
}
