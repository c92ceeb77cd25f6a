//! CF time: model time written as "<unit> since <reference date>", the form CDO, xarray,
//! ncview and Panoply decode into calendar dates.
//!
//! Model time has no calendar of its own. A model says how its time maps to a CF unit
//! ([`TimeScale`]: Lorenz's convention of 0.2 nondimensional time units = 1 day, or seconds
//! for the shallow-water model), the user says when time 0 is (`--reference-date`, default
//! 2000-01-01), and [`CfTime`] turns model times into CF values; the model time itself stays
//! in the file as the auxiliary variable `model_time`.

use std::fmt;
use std::str::FromStr;

/// The name of the auxiliary variable holding model time beside the CF `time`.
pub const MODEL_TIME: &str = "model_time";

/// The calendar of every time written (CF `calendar` attribute): the Gregorian calendar
/// extended backwards, so that every year 1–9999 counts the same way in every tool.
pub const CALENDAR: &str = "proleptic_gregorian";

/// A calendar date and time of day (proleptic Gregorian, UTC), the epoch of CF time units.
/// In experiment files and on the command line it is written `YYYY-MM-DD[THH:MM[:SS]]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct ReferenceDate {
    year: u16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
}

impl Default for ReferenceDate {
    /// 2000-01-01 00:00:00.
    fn default() -> Self {
        Self {
            year: 2000,
            month: 1,
            day: 1,
            hour: 0,
            minute: 0,
            second: 0,
        }
    }
}

/// Days in `month` (1–12) of `year` in the proleptic Gregorian calendar.
fn days_in_month(year: u16, month: u8) -> u8 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl FromStr for ReferenceDate {
    type Err = String;

    /// Parses `YYYY-MM-DD`, optionally followed by `THH:MM` or `THH:MM:SS` (a space works in
    /// place of the `T`), checking that the date exists (years 1–9999).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let expected = || {
            format!(
                "'{s}' is not a date: expected YYYY-MM-DD, YYYY-MM-DDTHH:MM or \
                 YYYY-MM-DDTHH:MM:SS, e.g. 2000-01-01"
            )
        };
        let (date, clock) = match s.split_once(['T', ' ']) {
            Some((date, clock)) => (date, Some(clock)),
            None => (s, None),
        };
        let number = |part: &str, digits: usize| -> Result<u16, String> {
            if part.len() == digits && part.bytes().all(|b| b.is_ascii_digit()) {
                part.parse().map_err(|_| expected())
            } else {
                Err(expected())
            }
        };
        let parts: Vec<&str> = date.split('-').collect();
        let [year, month, day] = parts[..] else {
            return Err(expected());
        };
        let (year, month, day) = (number(year, 4)?, number(month, 2)?, number(day, 2)?);
        let mut time = [0u16; 3];
        if let Some(clock) = clock {
            let parts: Vec<&str> = clock.split(':').collect();
            if !(2..=3).contains(&parts.len()) {
                return Err(expected());
            }
            for (slot, part) in time.iter_mut().zip(parts) {
                *slot = number(part, 2)?;
            }
        }
        if year == 0 {
            return Err(format!("'{s}': the year must be 1 to 9999"));
        }
        if !(1..=12).contains(&month) {
            return Err(format!("'{s}': the month must be 01 to 12"));
        }
        let last = days_in_month(year, month as u8);
        if day == 0 || day > u16::from(last) {
            return Err(format!(
                "'{s}': month {month:02} of {year} has days 01 to {last}"
            ));
        }
        let [hour, minute, second] = time;
        if hour > 23 || minute > 59 || second > 59 {
            return Err(format!(
                "'{s}': the time of day must be 00:00:00 to 23:59:59"
            ));
        }
        Ok(Self {
            year,
            month: month as u8,
            day: day as u8,
            hour: hour as u8,
            minute: minute as u8,
            second: second as u8,
        })
    }
}

impl TryFrom<String> for ReferenceDate {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<ReferenceDate> for String {
    /// `YYYY-MM-DDTHH:MM:SS`, the form the parser reads back.
    fn from(date: ReferenceDate) -> String {
        date.to_string().replacen(' ', "T", 1)
    }
}

impl fmt::Display for ReferenceDate {
    /// `YYYY-MM-DD HH:MM:SS`, the form CF units use after "since".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// The unit CF time counts in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CfTimeUnit {
    /// Days (of 86 400 s).
    Days,
    /// SI seconds.
    Seconds,
}

impl CfTimeUnit {
    /// The unit's name in CF units strings.
    pub fn name(self) -> &'static str {
        match self {
            CfTimeUnit::Days => "days",
            CfTimeUnit::Seconds => "seconds",
        }
    }
}

/// How a model's time maps to physical time: t model units = t · `per_model_unit` `unit`s.
#[derive(Clone, Debug, PartialEq)]
pub struct TimeScale {
    /// The CF unit.
    pub unit: CfTimeUnit,
    /// CF units per model time unit (Lorenz models: 5 days; SI models: 1 second).
    pub per_model_unit: f64,
    /// `units` of model time itself: "1" (nondimensional) or "s".
    pub model_units: &'static str,
    /// Why this scale, for the `comment` of the time variables.
    pub convention: &'static str,
}

impl TimeScale {
    /// The convention of Lorenz (1996) for nondimensional models: 0.2 time units ≈ one day of
    /// atmospheric error growth, so 1 time unit = 5 days and dt = 0.05 is 6 hours.
    pub fn lorenz() -> Self {
        Self {
            unit: CfTimeUnit::Days,
            per_model_unit: 5.0,
            model_units: "1",
            convention: "calendar time by the convention of Lorenz (1996): 0.2 nondimensional \
                         time units = 1 day (error-doubling time of the atmosphere), so \
                         model_time = time / 5 days",
        }
    }

    /// Model time already in seconds.
    pub fn seconds() -> Self {
        Self {
            unit: CfTimeUnit::Seconds,
            per_model_unit: 1.0,
            model_units: "s",
            convention: "model time in seconds since the reference date",
        }
    }
}

/// The CF time of a file: model time t is written as t · per_model_unit `unit`s since
/// `reference`.
#[derive(Clone, Debug, PartialEq)]
pub struct CfTime {
    /// When model time 0 is.
    pub reference: ReferenceDate,
    /// The model's time scale.
    pub scale: TimeScale,
}

impl CfTime {
    /// The CF time of a model with time scale `scale`, starting at `reference`.
    pub fn new(reference: ReferenceDate, scale: TimeScale) -> Self {
        Self { reference, scale }
    }

    /// The `units` attribute, e.g. "days since 2000-01-01 00:00:00".
    pub fn units(&self) -> String {
        format!("{} since {}", self.scale.unit.name(), self.reference)
    }

    /// The CF values of model times `model_times`.
    pub fn values(&self, model_times: &[f64]) -> Vec<f64> {
        model_times
            .iter()
            .map(|t| t * self.scale.per_model_unit)
            .collect()
    }

    /// Writes the CF time variable `name` (dimension `dimension`, `long_name`) of model times
    /// `model_times`, with `axis = "T"` when it is the file's time axis.
    pub fn put_variable(
        &self,
        file: &mut netcdf::FileMut,
        name: &str,
        dimension: &str,
        long_name: &str,
        model_times: &[f64],
        axis: bool,
    ) -> netcdf::Result<()> {
        let mut t = file.add_variable::<f64>(name, &[dimension])?;
        t.put_attribute("standard_name", "time")?;
        t.put_attribute("long_name", long_name)?;
        t.put_attribute("units", self.units().as_str())?;
        t.put_attribute("calendar", CALENDAR)?;
        if axis {
            t.put_attribute("axis", "T")?;
        }
        t.put_attribute("comment", self.scale.convention)?;
        t.put_values(&self.values(model_times), ..)?;
        Ok(())
    }

    /// Writes the auxiliary variable [`MODEL_TIME`] (dimension `dimension`): model times in the
    /// model's own units, which fourdvar reads back.
    pub fn put_model_time(
        &self,
        file: &mut netcdf::FileMut,
        dimension: &str,
        long_name: &str,
        model_times: &[f64],
    ) -> netcdf::Result<()> {
        let mut t = file.add_variable::<f64>(MODEL_TIME, &[dimension])?;
        t.put_attribute("long_name", long_name)?;
        t.put_attribute("units", self.scale.model_units)?;
        t.put_values(model_times, ..)?;
        Ok(())
    }
}

/// Whether a time `units` attribute is a CF calendar unit ("<unit> since <epoch>"), which
/// fourdvar cannot turn back into model time without a `model_time` variable.
pub fn is_calendar_units(units: &str) -> bool {
    units.contains(" since ")
}

/// Refuses to read `time` of the file at `path` as model time when it is calendar time (the
/// file has no [`MODEL_TIME`]): an error naming both variables and what each `record` needs.
pub(crate) fn refuse_calendar_time(
    path: &std::path::Path,
    time: &netcdf::Variable<'_>,
    record: &str,
) -> crate::Result<()> {
    let units = time
        .attribute("units")
        .map(|a| a.value())
        .transpose()
        .map_err(|e| crate::Error::netcdf(path, e))?;
    match units {
        Some(netcdf::AttributeValue::Str(units)) if is_calendar_units(&units) => {
            Err(crate::Error::input(
                path,
                None,
                format!(
                    "variable '{}' is calendar time ('{units}') and the file has no variable \
                     '{MODEL_TIME}': give the model time of {record} in '{MODEL_TIME}', or in \
                     '{}' without a calendar unit",
                    time.name(),
                    time.name()
                ),
            ))
        }
        _ => Ok(()),
    }
}

/// The reference date of CF time units "<unit> since <date>" when the date is in the form
/// [`ReferenceDate`] reads (as fourdvar writes it); None otherwise.
pub fn reference_date_of(units: &str) -> Option<ReferenceDate> {
    let (_, date) = units.split_once(" since ")?;
    date.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_in_every_allowed_form_and_print_in_cf_form() {
        let cases = [
            ("2000-01-01", "2000-01-01 00:00:00"),
            ("1979-12-31T18:30", "1979-12-31 18:30:00"),
            ("2024-02-29 23:59:59", "2024-02-29 23:59:59"),
            ("0001-03-01T00:00:01", "0001-03-01 00:00:01"),
        ];
        for (input, shown) in cases {
            let date: ReferenceDate = input.parse().unwrap();
            assert_eq!(date.to_string(), shown, "{input}");
        }
        assert_eq!(ReferenceDate::default().to_string(), "2000-01-01 00:00:00");
    }

    #[test]
    fn impossible_or_malformed_dates_are_refused_with_the_reason() {
        for (input, needle) in [
            ("2023-02-29", "month 02 of 2023 has days 01 to 28"),
            ("1900-02-29", "days 01 to 28"),
            ("2000-04-31", "days 01 to 30"),
            ("2000-13-01", "month must be 01 to 12"),
            ("0000-01-01", "year must be 1 to 9999"),
            ("2000-01-01T24:00", "00:00:00 to 23:59:59"),
            ("2000-01-01T12:60:00", "23:59:59"),
            ("2000-1-1", "expected YYYY-MM-DD"),
            ("yesterday", "expected YYYY-MM-DD"),
            ("2000-01-01T12", "expected YYYY-MM-DD"),
            ("2000-01-01T12:00:00:00", "expected"),
            ("+200-01-01", "expected"),
            ("", "expected"),
        ] {
            let err = input.parse::<ReferenceDate>().unwrap_err();
            assert!(err.contains(needle), "{input}: {err}");
        }
    }

    #[test]
    fn lorenz_time_counts_five_days_per_unit_and_seconds_stay_seconds() {
        let date: ReferenceDate = "2026-06-01T06:00".parse().unwrap();
        let lorenz = CfTime::new(date, TimeScale::lorenz());
        assert_eq!(lorenz.units(), "days since 2026-06-01 06:00:00");
        assert_eq!(lorenz.values(&[0.0, 0.05, 0.2, 1.0]), [0.0, 0.25, 1.0, 5.0]);
        let sw = CfTime::new(ReferenceDate::default(), TimeScale::seconds());
        assert_eq!(sw.units(), "seconds since 2000-01-01 00:00:00");
        assert_eq!(sw.values(&[0.0, 60.0]), [0.0, 60.0]);
        assert!(is_calendar_units(&sw.units()));
        assert!(!is_calendar_units("s") && !is_calendar_units("1"));
        assert_eq!(reference_date_of(&lorenz.units()), Some(date));
        assert_eq!(reference_date_of("days since 2000-1-1"), None);
        assert_eq!(reference_date_of("1"), None);
    }
}
