//! Reading typed settings from TOML text with errors that name the file, the line and the key.
//! Model, experiment and network files all go through [`TomlSource`]: serde does the typing
//! (`deny_unknown_fields`, enums with their valid names), `toml::Spanned` keeps each value's
//! place in the text, and the checks that serde cannot express report through
//! [`TomlSource::require`].

use std::ops::Range;
use std::path::Path;

use serde::de::DeserializeOwned;
use toml::Spanned;

use crate::error::{Error, Result};

/// TOML text and the file it came from.
#[derive(Clone, Copy, Debug)]
pub struct TomlSource<'a> {
    /// The file, for messages (e.g. "<built-in experiment>" for embedded text).
    pub path: &'a Path,
    /// Its text.
    pub text: &'a str,
}

impl<'a> TomlSource<'a> {
    /// The text `text` of file `path`.
    pub fn new(path: &'a Path, text: &'a str) -> Self {
        Self { path, text }
    }

    /// Deserialises the whole text as `T`; a syntax error, an unknown key, a wrong type or an
    /// unknown enum name becomes an [`Error::Config`] "line L, key `table.key`: toml's
    /// message" (the key when the error's line assigns one).
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T> {
        toml::from_str(self.text).map_err(|e| {
            let message = e.message().trim();
            let start = e.span().map(|span| span.start);
            let line = start.and_then(|offset| self.line_of(offset));
            let key = start.and_then(|offset| self.key_at(offset));
            let message = match (line, key) {
                (Some(line), Some(key)) => format!("line {line}, key `{key}`: {message}"),
                (Some(line), None) => format!("line {line}: {message}"),
                _ => message.to_string(),
            };
            Error::config(self.path, message)
        })
    }

    /// The dotted key that the line holding byte `offset` assigns (`key = …` under the
    /// nearest `[table]` or `[[table]]` header above it), if that line is an assignment.
    fn key_at(&self, offset: usize) -> Option<String> {
        let before = &self.text[..offset.min(self.text.len())];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line = self.text[line_start..].lines().next().unwrap_or("");
        let (key, _) = line.split_once('=')?;
        let key = key.trim();
        let bare = |k: &str| {
            !k.is_empty()
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        };
        if !bare(key) {
            return None;
        }
        let table = before[..line_start].lines().rev().find_map(|l| {
            let l = l.trim();
            let name = l.strip_prefix("[[").and_then(|t| t.strip_suffix("]]"));
            let name = name.or_else(|| l.strip_prefix('[').and_then(|t| t.strip_suffix(']')));
            name.map(str::trim)
        });
        Some(match table {
            Some(table) if bare(table) => format!("{table}.{key}"),
            _ => key.to_string(),
        })
    }

    /// The 1-based line of byte `offset`, or None for a value that came from a default (an
    /// empty span at offset 0 in a file that does not start with a key).
    pub fn line_of(&self, offset: usize) -> Option<usize> {
        let text = self.text;
        (offset > 0 || text.starts_with(|c: char| !c.is_whitespace()))
            .then(|| text[..offset.min(text.len())].matches('\n').count() + 1)
    }

    /// "line L, key `key`: what" as an [`Error::Config`] of this file.
    pub fn key_error(&self, span: Range<usize>, key: &str, what: impl Into<String>) -> Error {
        let at = self
            .line_of(span.start)
            .map(|l| format!("line {l}, "))
            .unwrap_or_default();
        Error::config(self.path, format!("{at}key `{key}`: {}", what.into()))
    }

    /// Ok when `ok`, else [`TomlSource::key_error`] at `value`'s place.
    pub fn require<T>(
        &self,
        ok: bool,
        value: &Spanned<T>,
        key: &str,
        what: impl FnOnce() -> String,
    ) -> Result<()> {
        if ok {
            Ok(())
        } else {
            Err(self.key_error(value.span(), key, what()))
        }
    }

    /// The value of `value` when it is finite, else an error naming `key`.
    pub fn finite(&self, value: &Spanned<f64>, key: &str) -> Result<f64> {
        let v = *value.get_ref();
        self.require(v.is_finite(), value, key, || {
            format!("must be finite, got {v}")
        })?;
        Ok(v)
    }

    /// The value of `value` when it is finite and > 0, else an error naming `key` and `what`
    /// the value is (e.g. "the time step").
    pub fn positive(&self, value: &Spanned<f64>, key: &str, what: &str) -> Result<f64> {
        let v = *value.get_ref();
        self.require(v.is_finite() && v > 0.0, value, key, || {
            format!("{what} must be a positive number, got {v}")
        })?;
        Ok(v)
    }
}

/// A value with no place in the text, for serde defaults.
pub fn unspanned<T>(value: T) -> Spanned<T> {
    Spanned::new(0..0, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Settings {
        n: Spanned<i64>,
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let path = Path::new("m.toml");
        let source = TomlSource::new(path, "# comment\nn = 3\n");
        let s: Settings = source.parse().unwrap();
        let err = source
            .require(false, &s.n, "n", || "too small".into())
            .unwrap_err();
        assert_eq!(err.to_string(), "m.toml: line 2, key `n`: too small");
        let err = TomlSource::new(path, "n = 3\nm = 1\n")
            .parse::<Settings>()
            .unwrap_err();
        let err = err.to_string();
        assert!(
            err.starts_with("m.toml: line 2, key `m`: unknown field `m`"),
            "{err}"
        );
        let err = TomlSource::new(path, "n = \"x\"\n")
            .parse::<Settings>()
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("m.toml: line 1, key `n`: invalid type"),
            "{err}"
        );
        // A default's empty span at offset 0 has no line unless the text starts there.
        assert_eq!(source.line_of(0), Some(1));
        let indented = TomlSource::new(path, "\nn = 3\n");
        assert_eq!(indented.line_of(0), None);
        let err = indented.key_error(unspanned(1).span(), "n", "x");
        assert_eq!(err.to_string(), "m.toml: key `n`: x");
    }
}

#[cfg(test)]
mod key_tests {
    use super::*;

    #[test]
    fn key_at_names_the_table() {
        let text = "model = \"m\"\n[initial]\n# note\nkind = \"vortex\"\n";
        let source = TomlSource::new(Path::new("m.toml"), text);
        let at = text.find("vortex").unwrap();
        assert_eq!(source.key_at(at).as_deref(), Some("initial.kind"));
        assert_eq!(source.key_at(2).as_deref(), Some("model"));
        let multi = "list = [\n  \"a\",\n]\n";
        let source = TomlSource::new(Path::new("m.toml"), multi);
        assert_eq!(source.key_at(multi.find("\"a\"").unwrap()), None);
    }
}
