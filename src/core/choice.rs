//! The names of a setting's choices. A choice is an enum that derives serde's `Deserialize`
//! (for TOML and JSON files) and clap's `ValueEnum` (for flags) with the same `rename_all`
//! rule, so each name is written once, on the enum; this reads it back for messages and
//! output files.

use clap::ValueEnum;

/// The name of `value` as files and flags spell it, e.g. "steepest-descent".
pub fn choice_name<T: ValueEnum>(value: &T) -> String {
    value
        .to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default()
}

/// Every name of choice `T`, joined for messages: "a, b, c".
pub fn choice_names<T: ValueEnum>() -> String {
    T::value_variants()
        .iter()
        .map(choice_name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The choice of `T` called `name` (exactly as files and flags spell it), or None.
pub fn parse_choice<T: ValueEnum>(name: &str) -> Option<T> {
    T::from_str(name, false).ok()
}
