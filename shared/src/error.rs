//! The error for everything a user writes into a configuration: a strategy blend, a strategy's
//! parameters, a sweep axis. It lives apart from `config` so that `strategies` (which parse their
//! own parameters) and `config` (which builds strategies) do not import each other.

/// A config that cannot be used. Every variant names the JSON path of the offending key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// The text is not JSON (or not an object where one is required).
    #[error("{path}: {message}")]
    Json { path: String, message: String },
    /// A key no strategy or section understands.
    #[error("{path}: unknown key; valid keys: {}", valid.join(", "))]
    UnknownKey { path: String, valid: Vec<String> },
    /// A strategy name Lockstep does not know (the message lists the valid ones).
    #[error("{path}: unknown strategy {name:?}; valid strategies: {}", valid.join(", "))]
    UnknownStrategy {
        path: String,
        name: String,
        valid: Vec<String>,
    },
    /// A value of the wrong type or outside its allowed range.
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

impl ConfigError {
    /// The JSON path of the offending key (`params.beta.beta_window`).
    pub fn path(&self) -> &str {
        match self {
            ConfigError::Json { path, .. }
            | ConfigError::UnknownKey { path, .. }
            | ConfigError::UnknownStrategy { path, .. }
            | ConfigError::Invalid { path, .. } => path,
        }
    }
}
