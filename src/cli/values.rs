//! Value parsers of flags whose range is known at the command line, so that a bad value is
//! refused by clap naming the flag (the library checks the same ranges again, in its own
//! words, for callers that do not come through the command line).

/// A whole number.
fn whole(text: &str) -> Result<usize, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a whole number >= 0"))
}

/// A whole number in `min..=max`.
pub(super) fn between(
    min: usize,
    max: usize,
) -> impl Fn(&str) -> Result<usize, String> + Clone + Send + Sync + 'static {
    move |text| match whole(text)? {
        n if (min..=max).contains(&n) => Ok(n),
        n if max == usize::MAX => Err(format!("must be at least {min}, got {n}")),
        n => Err(format!("must be between {min} and {max}, got {n}")),
    }
}

/// A whole number of at least `min`.
pub(super) fn at_least(
    min: usize,
) -> impl Fn(&str) -> Result<usize, String> + Clone + Send + Sync + 'static {
    between(min, usize::MAX)
}

/// A whole number of at least 1 (a count, a length, an interval).
pub(super) fn at_least_one(
) -> impl Fn(&str) -> Result<usize, String> + Clone + Send + Sync + 'static {
    at_least(1)
}

/// A finite real number.
pub(super) fn finite(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(v) => Err(format!("{v} is not a finite number")),
        Err(_) => Err(format!("'{text}' is not a number")),
    }
}

/// A finite number > 0.
pub(super) fn positive(text: &str) -> Result<f64, String> {
    match finite(text)? {
        v if v > 0.0 => Ok(v),
        v => Err(format!("must be > 0, got {v}")),
    }
}

/// A finite number >= 0.
pub(super) fn non_negative(text: &str) -> Result<f64, String> {
    match finite(text)? {
        v if v >= 0.0 => Ok(v),
        v => Err(format!("must be >= 0, got {v}")),
    }
}

/// The longest measurement time a benchmark takes, seconds.
const MAX_MEASUREMENT_SECONDS: f64 = 3600.0;

/// A measurement time: a positive number of seconds, at most an hour.
pub(super) fn positive_seconds(text: &str) -> Result<f64, String> {
    match positive(text) {
        Ok(s) if s <= MAX_MEASUREMENT_SECONDS => Ok(s),
        _ => Err(format!(
            "must be a positive number of seconds, at most {MAX_MEASUREMENT_SECONDS}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_accept_their_bounds_and_refuse_what_lies_outside() {
        assert_eq!(positive("2.5"), Ok(2.5));
        assert!(positive("0").unwrap_err().contains("> 0"));
        assert!(positive("-1e-300").is_err());
        assert_eq!(non_negative("0"), Ok(0.0));
        assert!(non_negative("-0.5").unwrap_err().contains(">= 0"));
        for bad in ["NaN", "inf", "-inf", "1e400"] {
            assert!(
                non_negative(bad).unwrap_err().contains("not a finite"),
                "{bad}"
            );
        }
        assert!(positive("ten").unwrap_err().contains("not a number"));
        assert_eq!(positive_seconds("0.1"), Ok(0.1));
        assert!(positive_seconds("0").unwrap_err().contains("seconds"));
        assert_eq!(at_least_one()("1"), Ok(1));
        assert_eq!(
            at_least_one()("0").unwrap_err(),
            "must be at least 1, got 0"
        );
        assert!(at_least_one()("-3")
            .unwrap_err()
            .contains("not a whole number"));
        assert_eq!(between(1, 4096)("4096"), Ok(4096));
        assert_eq!(
            between(1, 4096)("4097").unwrap_err(),
            "must be between 1 and 4096, got 4097"
        );
    }
}
