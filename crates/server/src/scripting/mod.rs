//! EVAL/EVALSHA/EVAL_RO/EVALSHA_RO, FCALL/FCALL_RO, SCRIPT and FUNCTION on top of the
//! Lua engine (`peregrine-script`): where a script runs and what it locks.
//!
//! Placement (DESIGN.md §2): a script whose declared keys all live on one shard, and that
//! is known to stay on them, runs on that shard's core in one hop, holding that shard
//! (the lock on everything there) for the run, so it may touch any key of that shard,
//! declared or not. Any other script (declared keys on several shards, or a script seen
//! touching a key of another shard) runs on the client's core holding every shard under
//! its own lock owner, with one log bracket per shard so that its writes survive a crash
//! all or none. What a script touches is learned per SHA (per function name): the first
//! run of a script is global, and one that stayed on its declared keys' shard runs there
//! next time. A shard-local run that meets a key elsewhere before writing is dropped and
//! run again globally; `script-undeclared-keys deny` turns undeclared keys into Redis
//! cluster's error instead.
//!
//! Scripts are replicated and logged by effect: every command they run is recorded by
//! the shard that runs it, so replay never runs Lua. Function libraries are kept in the
//! data directory (see [`library_file`]).

pub mod busy;
mod host;
pub mod library_file;

use crate::coordinator::{hold_everything, release_everything};
use crate::dispatch::Session;
use crate::shard_state::ShardState;
use bytes::Bytes;
use host::{GlobalHost, Invocation, RunControl, ScriptSettings, ShardHost};
use peregrine_commands::{check_subcommand, Arity::*, ServerCommand, Subcommand};
use peregrine_commands::{Flag, KeySpec};
use peregrine_resp::{Argv, Reply};
use peregrine_script::{RestorePolicy, Script, ScriptEngine, ScriptFlags, ScriptHost};
use peregrine_shard::{LockKey, LockMode, LockOwner, LockRequest, LockTable, ShardId};
use std::collections::HashSet;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// What a run executes.
#[derive(Clone)]
enum Target {
    Script(Arc<Script>),
    Function(Bytes),
}

impl Target {
    async fn run(
        &self,
        engine: &ScriptEngine,
        host: Rc<dyn ScriptHost>,
        invocation: &Invocation,
    ) -> Reply {
        let (keys, args) = (invocation.keys(), invocation.args());
        match self {
            Target::Script(script) => engine.run_script(host, script, keys, args).await,
            Target::Function(name) => engine.call_function(host, name, keys, args).await,
        }
    }
}

/// This core's engine, created on first use.
fn engine(session: &Session) -> Result<Rc<ScriptEngine>, Reply> {
    session.shard().script_engine()
}

/// EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, FCALL, FCALL_RO.
pub async fn run(session: &mut Session, command: ServerCommand, argv: &Argv) -> Reply {
    let invocation = match Invocation::new(argv) {
        Ok(invocation) => Arc::new(invocation),
        Err(reply) => return reply,
    };
    let read_only_command = matches!(
        command,
        ServerCommand::EvalRo | ServerCommand::EvalShaRo | ServerCommand::FCallRo
    );
    let registry = session.shard().server.scripts.clone();
    let (target, flags, learned_as) = match command {
        ServerCommand::Eval | ServerCommand::EvalRo => {
            let engine = match engine(session) {
                Ok(engine) => engine,
                Err(reply) => return reply,
            };
            match engine.load_script(argv[1].clone()) {
                Ok(script) => {
                    let name = script.sha.clone();
                    (Target::Script(script.clone()), script.flags, name)
                }
                Err(error) => return error.into(),
            }
        }
        ServerCommand::EvalSha | ServerCommand::EvalShaRo => {
            let engine = match engine(session) {
                Ok(engine) => engine,
                Err(reply) => return reply,
            };
            match engine.find_script(&argv[1]) {
                Some(script) => {
                    let name = script.sha.clone();
                    (Target::Script(script.clone()), script.flags, name)
                }
                None => return peregrine_script::ScriptError::NoScript.into(),
            }
        }
        _ => match registry.function(&argv[1]) {
            Some((_, info)) => (
                Target::Function(argv[1].clone()),
                info.flags,
                format!("function:{}", info.name),
            ),
            None => return peregrine_script::ScriptError::FunctionNotFound.into(),
        },
    };
    let compat = flags.contains(ScriptFlags::EVAL_COMPAT_MODE);
    let no_writes = flags.contains(ScriptFlags::NO_WRITES);
    if read_only_command && !compat && !no_writes {
        return Reply::error("ERR Can not execute a script with write flag using *_ro command.");
    }
    let read_only = read_only_command || no_writes;
    let count = session.router.shard_count();
    let me = session.router.me();
    // The one shard of every declared key (`None`: no keys, or several shards).
    let mut key_shards = invocation
        .keys()
        .iter()
        .map(|key| ShardId::for_key(key, count));
    let home = key_shards
        .next()
        .filter(|first| key_shards.all(|shard| shard == *first));
    let local = if invocation.keys().is_empty() {
        Some(me)
    } else {
        home
    };
    if !read_only {
        session.note_written_on(local);
    }
    let settings = ScriptSettings::from_settings(&session.settings());
    let run = Run {
        target,
        invocation,
        read_only,
        settings,
    };
    if let Some(owner) = session.lock_owner {
        // Inside EXEC, which already holds every shard.
        return run_global(session, owner, run, home).await.0;
    }
    let learned_local = local.is_some() && known_local(session.shard(), &learned_as);
    if let Some(shard) = local.filter(|_| learned_local) {
        if let Some(reply) = run_on_shard(session, shard, run.clone()).await {
            return reply;
        }
        forget_local(session.shard(), &learned_as);
    }
    let owner = LockOwner(session.shard().server.persistence.tx_id());
    let router = session.router.clone();
    let locks = hold_everything(&router, owner).await;
    let (reply, stayed_home) = run_global(session, owner, run, home).await;
    release_everything(&router, owner, locks).await;
    if stayed_home && local.is_some() {
        learn_local(session.shard(), learned_as);
    }
    reply
}

/// This core's copy of [`ServerShared::local_scripts`](crate::shard_state::ServerShared):
/// the names it has seen there, valid while the shared set forgets nothing (a forget
/// anywhere empties every copy, so no core runs a forgotten script locally again).
#[derive(Default)]
pub struct KnownLocal {
    names: HashSet<String, ahash::RandomState>,
    /// The shared forget count these names were copied under.
    forgets_seen: u64,
}

/// Whether the script or function `name` is known to stay on its declared keys' shard:
/// this core's copy answers without the shared lock; a miss asks the shared set and
/// copies a yes here.
fn known_local(state: &ShardState, name: &str) -> bool {
    let forgets = state.server.local_scripts_forgotten.load(Ordering::Acquire);
    let mut copy = state.local_scripts.borrow_mut();
    if copy.forgets_seen != forgets {
        copy.names.clear();
        copy.forgets_seen = forgets;
    }
    if copy.names.contains(name) {
        return true;
    }
    let shared = state
        .server
        .local_scripts
        .read()
        .is_ok_and(|known| known.contains(name));
    if shared {
        copy.names.insert(name.to_string());
    }
    shared
}

/// `name` left its shard: it runs under the global lock from now on, on every core.
fn forget_local(state: &ShardState, name: &str) {
    state.local_scripts.borrow_mut().names.remove(name);
    if let Ok(mut known) = state.server.local_scripts.write() {
        known.remove(name);
        state
            .server
            .local_scripts_forgotten
            .fetch_add(1, Ordering::Release);
    }
}

/// `name` stayed on its shard under the global lock: it runs there from now on.
fn learn_local(state: &ShardState, name: String) {
    if let Ok(mut known) = state.server.local_scripts.write() {
        known.insert(name.clone());
    }
    state.local_scripts.borrow_mut().names.insert(name);
}

/// One run of a script or function, as the client asked for it (cheap to clone: a
/// shard-local attempt that escalates leaves it to the global run).
#[derive(Clone)]
struct Run {
    target: Target,
    invocation: Arc<Invocation>,
    read_only: bool,
    settings: ScriptSettings,
}

/// Runs on the shard that owns every declared key; `None` when the run escalated before
/// writing (the caller runs it globally).
async fn run_on_shard(session: &Session, shard: ShardId, run: Run) -> Option<Reply> {
    let (db, options) = (session.db, session.options);
    let shard_count = session.router.shard_count();
    session
        .router
        .invoke_on(shard, move |state: Rc<ShardState>| async move {
            let Run {
                target,
                invocation,
                read_only,
                settings,
            } = run;
            let mode = if read_only {
                LockMode::Shared
            } else {
                LockMode::Exclusive
            };
            // The whole shard, not only the declared keys: scripts touch keys they did
            // not declare, which another operation may hold until it runs.
            let request = LockRequest::new(vec![(LockKey::Everything, mode)], None);
            LockTable::acquire(&state.locks, request.clone()).await;
            let control = RunControl::new(
                state.server.clone(),
                invocation.clone(),
                Some(vec![shard]),
                read_only,
                settings,
            );
            let host = Rc::new(ShardHost::new(
                state.clone(),
                db,
                options,
                shard_count,
                control,
            ));
            let reply = match state.script_engine() {
                Ok(engine) => target.run(&engine, host.clone(), &invocation).await,
                Err(reply) => reply,
            };
            state.locks.borrow_mut().release(&request);
            host.control.finish();
            (!host.escalated() || host.control.wrote()).then_some(reply)
        })
        .await
}

/// Runs on this core holding every shard under `owner`; returns the reply and whether
/// the script stayed where a shard-local run could have run it (see
/// [`GlobalHost::stays_local`]).
async fn run_global(
    session: &Session,
    owner: LockOwner,
    run: Run,
    home: Option<ShardId>,
) -> (Reply, bool) {
    let Run {
        target,
        invocation,
        read_only,
        settings,
    } = run;
    let state = session.shard().clone();
    let control = RunControl::new(
        state.server.clone(),
        invocation.clone(),
        None,
        read_only,
        settings,
    );
    let host = Rc::new(GlobalHost::new(
        session.router.clone(),
        session.info.clone(),
        session.db,
        session.options,
        owner,
        home,
        control,
    ));
    let reply = match state.script_engine() {
        Ok(engine) => target.run(&engine, host.clone(), &invocation).await,
        Err(reply) => reply,
    };
    host.control.finish();
    (reply, host.stays_local())
}

const SCRIPT_HELP: &[&str] = &[
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Prints this help.",
];

/// SCRIPT's subcommands.
#[rustfmt::skip]
pub const SCRIPT_SUBCOMMANDS: &[Subcommand] = &[
    Subcommand { name: "load",    full_name: "script|load", arity: Exactly(3), flags: &[Flag::NoScript, Flag::Stale], keys: KeySpec::NONE },
    Subcommand { name: "exists",  full_name: "script|exists", arity: AtLeast(3), flags: &[Flag::NoScript], keys: KeySpec::NONE },
    Subcommand { name: "flush",   full_name: "script|flush", arity: AtLeast(2), flags: &[Flag::NoScript], keys: KeySpec::NONE },
    Subcommand { name: "kill",    full_name: "script|kill", arity: Exactly(2), flags: &[Flag::NoScript, Flag::AllowBusy], keys: KeySpec::NONE },
    Subcommand { name: "help",    full_name: "script|help", arity: Exactly(2), flags: &[Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
];

/// FUNCTION's subcommands.
#[rustfmt::skip]
pub const FUNCTION_SUBCOMMANDS: &[Subcommand] = &[
    Subcommand { name: "load",    full_name: "function|load", arity: AtLeast(3), flags: &[Flag::Write, Flag::DenyOom, Flag::NoScript], keys: KeySpec::NONE },
    Subcommand { name: "delete",  full_name: "function|delete", arity: Exactly(3), flags: &[Flag::Write, Flag::NoScript], keys: KeySpec::NONE },
    Subcommand { name: "flush",   full_name: "function|flush", arity: AtLeast(2), flags: &[Flag::Write, Flag::NoScript], keys: KeySpec::NONE },
    Subcommand { name: "list",    full_name: "function|list", arity: AtLeast(2), flags: &[Flag::NoScript], keys: KeySpec::NONE },
    Subcommand { name: "dump",    full_name: "function|dump", arity: Exactly(2), flags: &[Flag::NoScript], keys: KeySpec::NONE },
    Subcommand { name: "restore", full_name: "function|restore", arity: AtLeast(3), flags: &[Flag::Write, Flag::DenyOom, Flag::NoScript], keys: KeySpec::NONE },
    Subcommand { name: "stats",   full_name: "function|stats", arity: Exactly(2), flags: &[Flag::NoScript, Flag::AllowBusy], keys: KeySpec::NONE },
    Subcommand { name: "kill",    full_name: "function|kill", arity: Exactly(2), flags: &[Flag::NoScript, Flag::AllowBusy], keys: KeySpec::NONE },
    Subcommand { name: "help",    full_name: "function|help", arity: Exactly(2), flags: &[Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
];

fn is_flush_mode(arg: Option<&Bytes>) -> bool {
    arg.is_none_or(|mode| mode.eq_ignore_ascii_case(b"async") || mode.eq_ignore_ascii_case(b"sync"))
}

/// SCRIPT LOAD | EXISTS | FLUSH | KILL | HELP.
pub fn script(session: &mut Session, argv: &Argv) -> Reply {
    let server = session.shard().server.clone();
    let subcommand = match check_subcommand("script", SCRIPT_SUBCOMMANDS, argv) {
        Ok(subcommand) => subcommand.name,
        Err(error) => return error.into_reply(),
    };
    match subcommand {
        "load" => match engine(session).map(|engine| engine.load_script(argv[2].clone())) {
            Ok(Ok(script)) => Reply::bulk(script.sha.as_bytes()),
            Ok(Err(error)) => error.into(),
            Err(reply) => reply,
        },
        "exists" => {
            let shas: Vec<Vec<u8>> = argv[2..]
                .iter()
                .map(|sha| sha.to_ascii_lowercase())
                .collect();
            let shas: Vec<&[u8]> = shas.iter().map(Vec::as_slice).collect();
            Reply::Array(
                server
                    .scripts
                    .scripts_exist(&shas)
                    .into_iter()
                    .map(|exists| Reply::Integer(i64::from(exists)))
                    .collect(),
            )
        }
        "flush" => {
            if argv.len() > 3 || !is_flush_mode(argv.get(2)) {
                return Reply::error("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
            }
            server.scripts.flush_scripts();
            if let Ok(mut known) = server.local_scripts.write() {
                known.retain(|name| name.starts_with("function:"));
            }
            Reply::Ok
        }
        "kill" => server.busy_scripts.kill(false),
        _ => Reply::help(SCRIPT_HELP),
    }
}

const FUNCTION_HELP: &[&str] = &[
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
    "HELP",
    "    Prints this help.",
];

/// FUNCTION LOAD | DELETE | FLUSH | LIST | DUMP | RESTORE | STATS | KILL | HELP.
pub fn function(session: &mut Session, argv: &Argv) -> Reply {
    let server = session.shard().server.clone();
    let subcommand = match check_subcommand("function", FUNCTION_SUBCOMMANDS, argv) {
        Ok(subcommand) => subcommand.name,
        Err(error) => return error.into_reply(),
    };
    let changed = |reply: Reply| {
        if !reply.is_error() {
            library_file::save(&server);
        }
        reply
    };
    match subcommand {
        "load" => {
            let replace = argv.len() == 4;
            if argv.len() > 4 || (replace && !argv[2].eq_ignore_ascii_case(b"replace")) {
                return Reply::error(format!(
                    "ERR Unknown option given: {}",
                    String::from_utf8_lossy(&argv[2])
                ));
            }
            let code = argv[argv.len() - 1].clone();
            let loaded = engine(session).map(|engine| engine.load_library(code, replace));
            changed(match loaded {
                Ok(Ok(name)) => Reply::bulk(name.as_bytes()),
                Ok(Err(error)) => error.into(),
                Err(reply) => reply,
            })
        }
        "delete" => changed(match server.scripts.delete_library(&argv[2]) {
            Ok(()) => Reply::Ok,
            Err(error) => error.into(),
        }),
        "flush" => {
            if argv.len() > 3 || !is_flush_mode(argv.get(2)) {
                return Reply::error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
            }
            server.scripts.flush_libraries();
            changed(Reply::Ok)
        }
        "list" => list(session, argv),
        "dump" => Reply::Bulk(server.scripts.dump_libraries()),
        "restore" => {
            let policy = match argv.get(3).map(|word| word.to_ascii_lowercase()) {
                _ if argv.len() > 4 => return Reply::error("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."),
                None => RestorePolicy::Append,
                Some(word) if word == b"append" => RestorePolicy::Append,
                Some(word) if word == b"replace" => RestorePolicy::Replace,
                Some(word) if word == b"flush" => RestorePolicy::Flush,
                Some(_) => return Reply::error("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."),
            };
            let restored = engine(session).map(|engine| engine.restore_libraries(&argv[2], policy));
            changed(match restored {
                Ok(Ok(())) => Reply::Ok,
                Ok(Err(error)) => error.into(),
                Err(reply) => reply,
            })
        }
        "stats" => server
            .scripts
            .function_stats(server.busy_scripts.running_function()),
        "kill" => server.busy_scripts.kill(true),
        _ => Reply::help(FUNCTION_HELP),
    }
}

/// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE].
fn list(session: &Session, argv: &Argv) -> Reply {
    let mut pattern: Option<Bytes> = None;
    let mut with_code = false;
    let mut index = 2;
    while index < argv.len() {
        let word = argv[index].to_ascii_lowercase();
        if word == b"withcode" && !with_code {
            with_code = true;
            index += 1;
        } else if word == b"libraryname" && pattern.is_none() {
            let Some(value) = argv.get(index + 1) else {
                return Reply::error("ERR library name argument was not given");
            };
            pattern = Some(value.clone());
            index += 2;
        } else {
            return Reply::error(format!(
                "ERR Unknown argument {}",
                String::from_utf8_lossy(&argv[index])
            ));
        }
    }
    session
        .shard()
        .server
        .scripts
        .list_libraries(pattern.as_deref(), with_code)
}
