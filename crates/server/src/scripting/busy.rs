//! Scripts that run past `busy-reply-threshold`: `-BUSY` for the shards they hold,
//! SCRIPT KILL / FUNCTION KILL.
//!
//! A script registers here once it has run longer than the threshold (its host's
//! instruction hook notices); other cores then refuse commands for the shards it holds
//! (all shards for a script under the global lock) and may ask it to stop. The script's
//! hook reads the kill request; a script that wrote cannot be killed, as in Redis.

use peregrine_commands::{CommandSpec, Exec, Flag, ServerCommand};
use peregrine_resp::{Argv, Reply};
use peregrine_shard::ShardId;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// SCRIPT KILL and FUNCTION KILL (whose containers carry no flags, as in Redis).
fn is_kill(spec: &CommandSpec, argv: &Argv) -> bool {
    matches!(
        spec.exec,
        Exec::Server(ServerCommand::Script | ServerCommand::Function)
    ) && argv
        .get(1)
        .is_some_and(|word| word.eq_ignore_ascii_case(b"kill"))
}

/// What a running script shares with the rest of the server.
#[derive(Default)]
pub struct ScriptSignals {
    /// Set by SCRIPT KILL / FUNCTION KILL.
    pub kill: AtomicBool,
    /// Set once the script ran a write (it can no longer be killed).
    pub wrote: AtomicBool,
}

struct BusyScript {
    id: u64,
    /// The shards it holds; `None`: all of them.
    shards: Option<Vec<ShardId>>,
    function: bool,
    signals: Arc<ScriptSignals>,
    /// The command that runs it (FUNCTION STATS).
    command: Argv,
    started: std::time::Instant,
}

/// The scripts now past the threshold, across cores.
#[derive(Default)]
pub struct BusyScripts {
    any: AtomicBool,
    next_id: AtomicU64,
    scripts: Mutex<Vec<BusyScript>>,
}

impl BusyScripts {
    /// A new id for a script run.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn scripts(&self) -> std::sync::MutexGuard<'_, Vec<BusyScript>> {
        self.scripts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Script `id` passed the threshold while holding `shards` (`None`: all).
    pub fn enter(
        &self,
        id: u64,
        shards: Option<Vec<ShardId>>,
        function: bool,
        signals: Arc<ScriptSignals>,
        command: Argv,
        started: std::time::Instant,
    ) {
        let mut scripts = self.scripts();
        scripts.push(BusyScript {
            id,
            shards,
            function,
            signals,
            command,
            started,
        });
        self.any.store(true, Ordering::SeqCst);
    }

    /// Script `id` ended.
    pub fn leave(&self, id: u64) {
        if !self.any.load(Ordering::SeqCst) {
            return;
        }
        let mut scripts = self.scripts();
        scripts.retain(|script| script.id != id);
        self.any.store(!scripts.is_empty(), Ordering::SeqCst);
    }

    /// The `-BUSY` error for `spec` when a busy script holds a shard it needs: keyed
    /// commands need their keys' shards, other commands every shard.
    pub fn refusal(&self, spec: &CommandSpec, argv: &Argv, shard_count: u16) -> Option<Reply> {
        if !self.any.load(Ordering::Relaxed) || spec.has(Flag::AllowBusy) || is_kill(spec, argv) {
            return None;
        }
        let needed: Option<Vec<ShardId>> = match spec.exec {
            Exec::Keyed { .. } => Some(
                spec.keys
                    .positions(argv)
                    .filter_map(|position| argv.get(position))
                    .map(|key| ShardId::for_key(key, shard_count))
                    .collect(),
            ),
            Exec::Server(_) => None,
        };
        let scripts = self.scripts();
        let blocking = scripts
            .iter()
            .find(|script| match (&script.shards, &needed) {
                (None, _) | (_, None) => true,
                (Some(held), Some(needed)) => needed.iter().any(|shard| held.contains(shard)),
            })?;
        Some(busy_reply(blocking.function))
    }

    /// The `-BUSY` error while any script is busy: SHUTDOWN without NOSAVE gets it, as
    /// from Redis (its final snapshot would wait for the script).
    pub fn any_busy(&self) -> Option<Reply> {
        if !self.any.load(Ordering::Relaxed) {
            return None;
        }
        let scripts = self.scripts();
        scripts.first().map(|script| busy_reply(script.function))
    }

    /// SCRIPT KILL (`function` false) or FUNCTION KILL (true).
    pub fn kill(&self, function: bool) -> Reply {
        let scripts = self.scripts();
        let Some(script) = scripts.iter().find(|script| script.function == function) else {
            return Reply::error("NOTBUSY No scripts in execution right now.");
        };
        if script.signals.wrote.load(Ordering::SeqCst) {
            return Reply::error("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.");
        }
        script.signals.kill.store(true, Ordering::SeqCst);
        Reply::Ok
    }

    /// The busy function as FUNCTION STATS describes it (`nil` when none is busy).
    pub fn running_function(&self) -> Reply {
        let scripts = self.scripts();
        let Some(script) = scripts.iter().find(|script| script.function) else {
            return Reply::Nil;
        };
        let name = script.command.get(1).cloned().unwrap_or_default();
        Reply::Map(vec![
            (Reply::bulk("name"), Reply::Bulk(name)),
            (
                Reply::bulk("command"),
                Reply::Array(script.command.iter().cloned().map(Reply::Bulk).collect()),
            ),
            (
                Reply::bulk("duration_ms"),
                Reply::Integer(script.started.elapsed().as_millis() as i64),
            ),
        ])
    }
}

/// Redis's `-BUSY` error, naming the command that stops a function or a script.
fn busy_reply(function: bool) -> Reply {
    let kill = if function {
        "FUNCTION KILL"
    } else {
        "SCRIPT KILL"
    };
    Reply::error(format!(
        "BUSY Redis is busy running a script. You can only call {kill} or SHUTDOWN NOSAVE."
    ))
}
