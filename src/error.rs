//! The crate-level error where the binary meets the library (issue #11): every command of
//! `cli` ends in `Result<ExitCode, Error>`, and `cli` maps an `Error` to its message and exit code
//! in one place. Stages keep their own error types; this one only says what kind of failure the
//! user is looking at.

use crate::config::ConfigError;

/// How a command failed, as the command line reports it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A pipeline file is wrong (exit code 2); every problem with file and key.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The arguments or the environment the user gave are wrong (exit code 2); one message per
    /// problem.
    #[error("{}", .0.join("\n"))]
    Usage(Vec<String>),
    /// The work itself failed: bad input data, an unreachable source, a failed run (exit code 1).
    #[error("{0}")]
    Failed(String),
}

impl Error {
    /// A usage error with one message.
    pub fn usage(message: impl Into<String>) -> Self {
        Error::Usage(vec![message.into()])
    }

    /// A failure with its message.
    pub fn failed(message: impl ToString) -> Self {
        Error::Failed(message.to_string())
    }

    /// The process exit code: 2 for the user's configuration or arguments, 1 for failed work.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(_) | Error::Usage(_) => 2,
            Error::Failed(_) => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_and_usage_exit_2_failures_exit_1() {
        assert_eq!(Error::Config(ConfigError(Vec::new())).exit_code(), 2);
        assert_eq!(Error::usage("--out: bad").exit_code(), 2);
        assert_eq!(Error::failed("run failed").exit_code(), 1);
        assert_eq!(Error::Usage(vec!["a".into(), "b".into()]).to_string(), "a\nb");
    }
}
