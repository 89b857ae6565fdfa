//! The Peregrine server: listeners, connections, dispatch, cross-shard coordination and
//! the server-level commands, plus the `peregrine-server` binary.
//!
//! Shape (DESIGN.md §1): one pinned glommio executor per shard. Each accepts connections on
//! the shared port (SO_REUSEPORT); a connection parses every complete command in its read
//! buffer, routes each by its keys' slot, runs consecutive commands for one shard as one
//! batch (a direct call for the local shard, one mesh message otherwise), coordinates
//! multi-shard commands with ordered key locks, and writes all replies of a read in one
//! write.
//!
//! It is not: where command semantics live (the commands crate), or the keyspace.

mod blocking;
mod chunked;
mod command_names;
pub mod config;
mod connection;
mod coordinator;
mod debug_populate;
mod debug_protocol;
mod dispatch;
mod expiry;
mod info;
mod latency;
mod memory;
mod metrics;
mod module;
mod monitor;
mod outbox;
mod pause;
pub mod persistence;
pub mod process;
mod pubsub;
mod scratch;
mod scripting;
mod server_commands;
pub mod shard_state;
mod shutdown;
mod slowlog;
pub mod startup;
mod ticks;
mod tracking;
mod transaction;
mod wait;

pub use config::{Config, Settings};
pub use info::REDIS_VERSION;
