//! The command table and the command families.
//!
//! Every command Peregrine knows is one [`CommandSpec`] row in its family's table: name,
//! arity, flags, key positions and how it executes. The dispatcher (in the server crate)
//! does lookup, arity, flag gates, key extraction and routing once, centrally, from these
//! rows. Handlers for keyed commands are plain synchronous functions over one shard's
//! state ([`ShardCtx`]) that return a [`Reply`](peregrine_resp::Reply) or a
//! [`CommandError`]; they never see sockets, never pick shards, never await.
//!
//! Invariant: a handler runs on the shard that owns all keys it is given, and nothing
//! interleaves with it.
//!
//! It is not: the network layer, the cross-shard coordinator, or the connection state
//! machine (those live in the server crate, which is the only crate that sees everything).

mod algebra;
mod args;
pub mod bitmap;
pub mod blocking;
mod capture;
mod collection;
mod context;
mod error;
mod execute;
pub mod geo;
pub mod hash;
pub mod hyperloglog;
pub mod keys;
pub mod list;
pub mod long_double;
pub mod notify;
#[cfg(test)]
mod notify_tests;
pub mod rebuild;
pub mod set;
mod sort;
pub mod sorted_set;
mod spec;
pub mod stream;
pub mod string;
mod table;
#[cfg(test)]
mod test_shard;
pub mod tracking;
mod watch;

pub use algebra::SetOperation;
pub use args::{parse_integer, ArgReader};
pub use capture::Capture;
pub use context::{
    string_ref, ClientOptions, CommandLimits, Random, ShardCtx, ShardStats, StringRef,
};
pub use error::{CmdResult, CommandError};
pub use execute::run_keyed;
pub use notify::{EventClass, EventFlags, KeyEvent, Notifier};
pub use spec::{
    check_subcommand, numkeys_positions, Arity, CommandSpec, Coordinated, CrossShard, Discovery,
    Exec, Flag, Group, Handler, KeyFinder, KeyPositions, KeySpec, Merge, ServerCommand, Subcommand,
};
pub use table::{all_commands, lookup};
pub use tracking::{TrackingClient, TrackingTable};
pub use watch::{WatchedKeys, Watcher};
