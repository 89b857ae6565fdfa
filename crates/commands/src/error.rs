//! Errors a command returns to its client.

use peregrine_resp::Reply;
use std::borrow::Cow;

/// The result of a command handler.
pub type CmdResult = Result<Reply, CommandError>;

/// The client is wrong: one error reply, the connection stays. Texts are Redis's wire texts.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The key holds a value of another type.
    #[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    WrongType,
    /// Options that do not parse or do not go together.
    #[error("ERR syntax error")]
    Syntax,
    /// An argument that must be an integer is not, or is out of range.
    #[error("ERR value is not an integer or out of range")]
    NotInteger,
    /// An argument that must be a float is not.
    #[error("ERR value is not a valid float")]
    NotFloat,
    /// INCR-style arithmetic left the `i64` range.
    #[error("ERR increment or decrement would overflow")]
    Overflow,
    /// The source key of RENAME does not exist.
    #[error("ERR no such key")]
    NoSuchKey,
    /// An expire time that is not positive or overflows; carries the command name.
    #[error("ERR invalid expire time in '{0}' command")]
    InvalidExpireTime(&'static str),
    /// SELECT, MOVE, COPY or SWAPDB named a database that does not exist.
    #[error("ERR DB index is out of range")]
    DbIndexOutOfRange,
    /// A string would grow past `proto-max-bulk-len`.
    #[error("ERR string exceeds maximum allowed size (proto-max-bulk-len)")]
    StringTooLong,
    /// Source and destination are the same (MOVE, COPY).
    #[error("ERR source and destination objects are the same")]
    SameObject,
    /// Any other error; the text starts with its code.
    #[error("{0}")]
    Other(Cow<'static, str>),
    /// An error whose text echoes client bytes that are not UTF-8.
    #[error("{}", String::from_utf8_lossy(.0))]
    Binary(bytes::Bytes),
}

impl CommandError {
    /// An error with a text that starts with its code (`ERR ...`).
    pub fn other(text: impl Into<Cow<'static, str>>) -> CommandError {
        CommandError::Other(text.into())
    }

    /// An error whose text is `pieces` joined, every odd piece a client-given name
    /// printed as Redis's `%s` prints it: up to its first NUL byte.
    pub fn naming(pieces: &[&[u8]]) -> CommandError {
        let mut text = Vec::new();
        for (index, piece) in pieces.iter().enumerate() {
            let shown = if index % 2 == 1 {
                piece.split(|&byte| byte == 0).next().unwrap_or_default()
            } else {
                piece
            };
            text.extend_from_slice(shown);
        }
        match String::from_utf8(text) {
            Ok(text) => CommandError::Other(Cow::Owned(text)),
            Err(error) => CommandError::Binary(bytes::Bytes::from(error.into_bytes())),
        }
    }

    /// The reply that carries this error.
    pub fn into_reply(self) -> Reply {
        match self {
            CommandError::Other(text) => Reply::Error(text),
            CommandError::Binary(text) => Reply::BinaryError(text),
            other => Reply::Error(Cow::Owned(other.to_string())),
        }
    }
}
