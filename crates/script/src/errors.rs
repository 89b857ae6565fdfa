//! Error texts and the engine's error type.

use peregrine_resp::Reply;
use std::borrow::Cow;

/// The host's reply to `redis.call` of a command it does not know (Redis's text).
pub const UNKNOWN_COMMAND: &str = "ERR Unknown Redis command called from script";
/// The host's reply to `redis.call` with the wrong number of arguments (Redis's text).
pub const WRONG_ARITY: &str = "ERR Wrong number of args calling Redis command from script";
/// The error a killed script ends with.
pub const SCRIPT_KILLED: &str = "ERR Script killed by user with SCRIPT KILL...";

/// An error from a registry or engine operation, displayed as Redis's wire text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    /// `EVALSHA` / `FCALL` of something unknown.
    #[error("NOSCRIPT No matching script. Please use EVAL.")]
    NoScript,
    /// `FCALL` of an unknown function.
    #[error("ERR Function not found")]
    FunctionNotFound,
    /// A script or library that does not compile.
    #[error("ERR Error compiling script (new function): {0}")]
    Compile(String),
    /// A bad shebang line or library metadata; the text is the whole Redis error.
    #[error("{0}")]
    Invalid(Cow<'static, str>),
}

impl ScriptError {
    /// An [`ScriptError::Invalid`] with a static text.
    pub(crate) fn invalid(text: impl Into<Cow<'static, str>>) -> ScriptError {
        ScriptError::Invalid(text.into())
    }
}

impl From<ScriptError> for Reply {
    fn from(error: ScriptError) -> Reply {
        Reply::error(error.to_string())
    }
}
