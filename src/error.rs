//! The library's one error type. Every failure a user can cause (a bad file, a bad value, a
//! model that blows up) becomes an [`Error`] that names the file, line, key or step; the binary
//! renders it once and exits with [`Error::exit_code`].

use std::path::{Path, PathBuf};

/// Everything that can go wrong in fourdvar, with enough context to act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration file that is missing, unreadable or malformed.
    #[error("{}: {message}", path.display())]
    Config {
        /// The configuration file.
        path: PathBuf,
        /// What is wrong, naming the key or line.
        message: String,
    },
    /// A data file (state, observations, NetCDF input) with bad content.
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Input {
        /// The input file.
        path: PathBuf,
        /// The 1-based line number, for text files.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// A value given on the command line or in code that is out of range.
    #[error("invalid {what}: {message}")]
    InvalidArgument {
        /// The option or parameter concerned.
        what: String,
        /// What is wrong with it.
        message: String,
    },
    /// The model produced a non-finite state.
    #[error(
        "the model state became non-finite (NaN or infinite) at step {step}{}",
        context_suffix(context)
    )]
    NonFinite {
        /// The step (0-based count of steps taken) whose result is non-finite.
        step: usize,
        /// What was being run, for example "forecast".
        context: String,
    },
    /// A numerical method that failed on valid input: a minimiser that cannot decrease J, a
    /// LAPACK factorisation that fails.
    #[error("{what}: {message}")]
    Numerical {
        /// The method, e.g. "the lbfgs minimiser".
        what: String,
        /// What happened, with the figures that show it.
        message: String,
    },
    /// An error of one part of a larger run (a window of a cycle, a sequence of a batch),
    /// kept with its own type.
    #[error("{context}: {source}")]
    Within {
        /// Which part, e.g. "window 3 (steps 12..=16)".
        context: String,
        /// What went wrong there.
        #[source]
        source: Box<Error>,
    },
    /// A file that could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The operating-system error.
        #[source]
        source: std::io::Error,
    },
    /// An error from the NetCDF library while reading or writing a file.
    #[error("{}: NetCDF error: {source}", path.display())]
    NetCdf {
        /// The NetCDF file concerned.
        path: PathBuf,
        /// The library's error.
        #[source]
        source: netcdf::Error,
    },
}

fn context_suffix(context: &str) -> String {
    if context.is_empty() {
        String::new()
    } else {
        format!(" of the {context}")
    }
}

impl Error {
    /// Process exit code for this error: 2 for every input or usage error (the convention of
    /// clap and most Unix tools), so scripts can tell bad input from a failed check (1).
    pub fn exit_code(&self) -> i32 {
        2
    }

    /// Builds an [`Error::Config`] for `path`.
    pub fn config(path: &Path, message: impl Into<String>) -> Self {
        Error::Config {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }

    /// Builds an [`Error::Input`] for `path`, optionally at a 1-based `line`.
    pub fn input(path: &Path, line: Option<usize>, message: impl Into<String>) -> Self {
        Error::Input {
            path: path.to_path_buf(),
            line,
            message: message.into(),
        }
    }

    /// Builds an [`Error::InvalidArgument`].
    pub fn invalid(what: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidArgument {
            what: what.into(),
            message: message.into(),
        }
    }

    /// Builds an [`Error::Numerical`].
    pub fn numerical(what: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Numerical {
            what: what.into(),
            message: message.into(),
        }
    }

    /// This error as the failure of the part `context` of a larger run ([`Error::Within`]).
    pub fn within(self, context: impl Into<String>) -> Self {
        Error::Within {
            context: context.into(),
            source: Box::new(self),
        }
    }

    /// Builds an [`Error::Io`] for `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Builds an [`Error::NetCdf`] for `path`.
    pub fn netcdf(path: &Path, source: netcdf::Error) -> Self {
        Error::NetCdf {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_keeps_the_type_of_the_error_it_wraps() {
        let inner = Error::NonFinite {
            step: 7,
            context: "forecast".into(),
        };
        let err = inner.within("window 3 (steps 12..=16)");
        assert_eq!(
            err.to_string(),
            "window 3 (steps 12..=16): the model state became non-finite (NaN or infinite) at \
             step 7 of the forecast"
        );
        let Error::Within { source, .. } = &err else {
            panic!("{err:?}")
        };
        assert!(matches!(**source, Error::NonFinite { step: 7, .. }));
        let source = std::error::Error::source(&err).map(|s| s.to_string());
        assert!(source
            .unwrap()
            .starts_with("the model state became non-finite"));
        let numerical = Error::numerical("the lbfgs minimiser", "did not decrease J from 1e0");
        assert_eq!(
            numerical.to_string(),
            "the lbfgs minimiser: did not decrease J from 1e0"
        );
    }
}
