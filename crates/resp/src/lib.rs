//! The Redis serialization protocol (RESP2 and RESP3), without commands and without I/O.
//!
//! This crate owns two things: turning the bytes a client sent into argument vectors
//! ([`RequestParser`]), and turning a [`Reply`] value into the bytes of one protocol version
//! ([`Reply::encode`]). It knows nothing about commands, shards or sockets.
//!
//! Invariants: the parser never panics on any input and never allocates more than the
//! configured limits allow before the bytes actually arrived; "need more bytes" is
//! `Ok(None)`, not an error. A [`ProtocolError`] means the stream is not RESP and the
//! connection must be closed after its message is sent.
//!
//! It is not: a client library, a RESP3 request parser (clients send arrays of bulks or
//! inline commands in every protocol version), or a place for command semantics.

mod parse;
mod reply;

pub use parse::{split_args, Argv, ParseLimits, ParsedBatch, ProtocolError, RequestParser};
pub use reply::{encode_bulk, encode_header, format_double, format_human_double, Protocol, Reply};
