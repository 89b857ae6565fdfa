//! The Lua engine behind `EVAL`/`EVALSHA`/`SCRIPT` and `FUNCTION`/`FCALL`.
//!
//! # Design
//!
//! * [`ScriptRegistry`] is shared by every core (`Send + Sync`, behind an `Arc`): it holds
//!   script bodies by SHA-1 and function libraries by name, with their code, so the server
//!   can persist libraries and reload them on restart. Every change bumps a generation
//!   counter.
//! * [`ScriptEngine`] is one per core (`!Send`): an `mlua::Lua` (Lua 5.1, as Redis) with
//!   Redis's sandboxed environment. It compiles scripts and libraries from the registry on
//!   demand and drops its compiled copies when the registry's generation moves, so a
//!   `SCRIPT LOAD` on one core is usable by `EVALSHA` on every core.
//! * A script runs as a Lua coroutine driven by an async future: `redis.call` asks the
//!   [`ScriptHost`] (the server) to run a command and, when the host answers with a pending
//!   future (keys on another core), the coroutine yields to the executor until the reply
//!   arrives. A reply that is ready at once costs no yield.
//! * Sandbox: globals and library tables are read-only proxies (Redis's error texts), no
//!   `io`/`os`/`package`/`debug`, no bytecode loading, a memory limit, an instruction-count
//!   hook that asks the host whether to kill the script, and Redis's deterministic
//!   `math.random`.
//! * A busy script gives the executor a turn when the host asks ([`Tick::Yield`]): the
//!   instruction hook suspends the script's coroutine and the run future returns `Pending`
//!   once (the `hook` module). Raw Lua C code lives in `hook` and `raw` (`redis.call`,
//!   the run's `KEYS`/`ARGV` and its reply, recycling a finished run's coroutine).
//! * Tail calls: scripts, libraries and `loadstring` chunks are compiled from text, dumped,
//!   and loaded back with every `OP_TAILCALL` rewritten as `OP_CALL` (the `bytecode`
//!   module; the binary chunk never comes from a client, and clients still cannot load
//!   bytecode). Redis's `redis.call` and library functions are C functions, and Lua 5.1
//!   keeps the caller's frame on a tail call to a C function; ours are Lua functions, whose
//!   tail calls would drop it. Keeping it gives `return redis.call('nosuch')` Redis's
//!   `... script: <sha>, on @user_script:1.` suffix. The cost: no tail-call elimination,
//!   so tail recursion deeper than Lua's 20,000 call levels ends in Lua's
//!   "stack overflow" error where Redis returns, and `error(message, 2)` in a function
//!   reached by a Lua-to-Lua tail call names the kept caller's line where Redis names none.
//!
//! # Who produces which error text
//!
//! The engine produces every error that Redis's scripting layer produces (argument
//! conversion, compile errors, runtime errors and their `script: ..., on @user_script:N.`
//! suffix, shebang and FUNCTION errors). The host produces command errors, including
//! "Unknown Redis command called from script" and "Wrong number of args calling Redis
//! command from script" ([`errors`] has both texts), and the write/OOM/ACL gates.
//!
//! # It is not
//!
//! A command dispatcher (it never parses commands), a lock manager, or a persistence layer.

#![warn(missing_docs)]

mod bytecode;
mod convert;
mod engine;
pub mod errors;
mod functions;
mod hook;
mod libs;
mod raw;
mod registry;
mod sandbox;
mod shebang;

pub use engine::{EngineLimits, ScriptEngine};
pub use errors::ScriptError;
pub use functions::RestorePolicy;
pub use registry::{FunctionInfo, Library, Script, ScriptRegistry};
pub use shebang::ScriptFlags;

use bytes::Bytes;
use peregrine_resp::Reply;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// What the host answers to `redis.call`: a reply at once, or a future for one (a command
/// whose keys live on another core).
pub enum HostCall {
    /// The command ran synchronously.
    Ready(Reply),
    /// The command runs elsewhere; the script waits for this future.
    Pending(Pin<Box<dyn Future<Output = Reply>>>),
}

/// What the instruction hook tells the engine to do with a long-running script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tick {
    /// Keep running.
    Continue,
    /// Keep running, but first let the executor run other tasks: the run future returns
    /// `Pending` once and wakes itself. Where the script cannot be suspended (its busy code
    /// runs under a C function or a metamethod: a `table.sort` comparator, an `__index`
    /// function, a generic `for`'s iterator; or under a call the engine cannot prove safe,
    /// of a function that is the value of an expression, as in `coroutine.wrap(f)()`) it
    /// just keeps running, and the next tick asks again.
    Yield,
    /// Stop the script with Redis's "Script killed by user with SCRIPT KILL..." error.
    Kill,
}

/// A `redis.log` level, with Redis's numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    /// `redis.LOG_DEBUG` (0).
    Debug,
    /// `redis.LOG_VERBOSE` (1).
    Verbose,
    /// `redis.LOG_NOTICE` (2).
    Notice,
    /// `redis.LOG_WARNING` (3).
    Warning,
}

/// The server side of a running script. Implemented by the server; one per script run.
pub trait ScriptHost {
    /// `redis.call` / `redis.pcall`: runs one command. A command error is a
    /// `Reply::Error` (the engine raises it for `redis.call`).
    fn call(&self, argv: Vec<Bytes>) -> HostCall;
    /// Called every [`EngineLimits::hook_instructions`] Lua instructions with the time the
    /// script has run so far; [`Tick::Kill`] stops it, [`Tick::Yield`] gives the executor a
    /// turn (the server answers it while the script is past busy-reply-threshold, so the
    /// core's other clients get `-BUSY` and can send `SCRIPT KILL`).
    fn tick(&self, elapsed: Duration) -> Tick;
    /// `redis.log`.
    fn log(&self, level: LogLevel, message: &[u8]);
}
