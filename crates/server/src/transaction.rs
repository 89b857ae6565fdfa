//! MULTI/EXEC/DISCARD and WATCH/UNWATCH across shards.
//!
//! MULTI queues commands on the connection (a syntax, arity or refusal error while
//! queuing dooms the transaction: EXEC answers EXECABORT). EXEC then runs the queue
//! atomically and isolated, whichever shards its keys live on, in one of two ways:
//!
//! * **Keyed**: every queued command is a single-shard keyed command (the common case).
//!   Each involved shard's keys, and the watched keys, are locked shard by shard in
//!   ascending order (DESIGN.md §2); each shard then runs its commands in queue order in
//!   one message. A transaction on one shard is one hop, like a pipeline.
//! * **Global**: the queue holds server commands (SELECT, FLUSHALL, INFO ...) or commands
//!   whose keys span shards. The transaction locks everything on every shard under its own
//!   lock owner, so the commands it runs (which lock as usual) pass their own locks, and
//!   runs the queue one command after another.
//!
//! WATCH registers the connection's dirty flag with each watched key's shard; a write that
//! changes the key sets it (see [`peregrine_commands::WatchedKeys`]). EXEC checks the flag
//! once it holds its locks, so a change before that fails it and none can come after. A
//! watched key that was live with a deadline fails EXEC once the deadline has passed
//! (Redis's rule for keys that expire while watched).

use crate::coordinator::{
    hold_everything, lock_in_order, release_everything, run_then_release, single_shard,
};
use crate::dispatch::Session;
use crate::shard_state::{unix_millis, KeyedCommand, Serving, ShardState};
use bytes::Bytes;
use peregrine_commands::{check_subcommand, CommandSpec, Exec, Flag, ServerCommand, Watcher};
use peregrine_keyspace::{DbIndex, UnixMillis};
use peregrine_resp::{Argv, Reply};
use peregrine_shard::{LockKey, LockMode, LockOwner, LockRequest, LockTable, ShardId};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Commands queued since MULTI.
#[derive(Default)]
pub struct Transaction {
    queued: Vec<KeyedCommand>,
    /// An error while queuing: EXEC will refuse.
    aborted: bool,
}

/// A connection's watched keys and the flag a change to any of them sets.
#[derive(Default)]
pub struct Watches {
    dirty: Arc<AtomicBool>,
    keys: Vec<WatchedKey>,
}

struct WatchedKey {
    shard: ShardId,
    db: DbIndex,
    key: Bytes,
    /// The key's deadline when it was watched, if it was live with one.
    deadline: Option<UnixMillis>,
}

/// What EXEC checks once it holds its locks: whether a watched key changed or expired.
#[derive(Clone)]
struct WatchCheck {
    dirty: Arc<AtomicBool>,
    deadlines: Vec<UnixMillis>,
}

impl WatchCheck {
    fn failed(&self) -> bool {
        if self.dirty.load(Ordering::SeqCst) {
            return true;
        }
        let now = unix_millis();
        self.deadlines.iter().any(|deadline| *deadline <= now)
    }
}

/// True for the commands that act on the transaction itself instead of being queued
/// (Redis's list).
pub fn controls_transaction(spec: &CommandSpec) -> bool {
    matches!(
        spec.exec,
        Exec::Server(
            ServerCommand::Exec
                | ServerCommand::Discard
                | ServerCommand::Multi
                | ServerCommand::Watch
                | ServerCommand::Quit
                | ServerCommand::Reset
        )
    )
}

/// MULTI.
pub fn multi(session: &mut Session) -> Reply {
    if session.multi.is_some() {
        return Reply::error("ERR MULTI calls can not be nested");
    }
    session.multi = Some(Transaction {
        queued: Vec::with_capacity(8),
        aborted: false,
    });
    session.info.multi.set(0);
    Reply::Ok
}

/// Queues a command inside MULTI (or refuses it, dooming the transaction).
pub fn queue(session: &mut Session, spec: &'static CommandSpec, argv: Argv) -> Reply {
    let Some(transaction) = session.multi.as_mut() else {
        return Reply::error("ERR internal error: not in a transaction");
    };
    if spec.has(Flag::NoMulti) {
        transaction.aborted = true;
        return Reply::error("ERR Command not allowed inside a transaction");
    }
    if let Some((container, table)) = crate::server_commands::subcommands(spec) {
        if let Err(error) = check_subcommand(container, table, &argv) {
            transaction.aborted = true;
            return error.into_reply();
        }
    }
    transaction.queued.push((spec, argv));
    session.info.multi.set(transaction.queued.len() as i64);
    Reply::status("QUEUED")
}

/// Notes an error while queuing (unknown command, arity, refusal): EXEC will abort.
pub fn abort_queuing(session: &mut Session) {
    if let Some(transaction) = session.multi.as_mut() {
        transaction.aborted = true;
    }
}

/// A command refused before it ran (lookup, arity, authentication, loading ...), as
/// Redis's `rejectCommand` treats it: a transaction being queued is doomed, and a refused
/// EXEC, inside MULTI or not, discards the transaction and the watches and answers
/// `EXECABORT Transaction discarded because of: <refusal without ERR>`.
pub async fn refuse(session: &mut Session, argv: &Argv, refusal: Reply) -> Reply {
    abort_queuing(session);
    let name = argv.first().map(|name| name.as_ref()).unwrap_or_default();
    let refused_exec = crate::command_names::resolve(name)
        .is_some_and(|spec| matches!(spec.exec, Exec::Server(ServerCommand::Exec)));
    let reason = match &refusal {
        Reply::Error(text) if refused_exec => text.strip_prefix("ERR ").unwrap_or(text),
        _ => return refusal,
    };
    let reply = Reply::error(format!(
        "EXECABORT Transaction discarded because of: {reason}"
    ));
    if session.multi.take().is_some() {
        session.info.multi.set(-1);
    }
    unwatch(session).await;
    reply
}

/// DISCARD.
pub async fn discard(session: &mut Session) -> Reply {
    if session.multi.take().is_none() {
        return Reply::error("ERR DISCARD without MULTI");
    }
    session.info.multi.set(-1);
    unwatch(session).await;
    Reply::Ok
}

/// WATCH key [key ...].
pub async fn watch(session: &mut Session, argv: &Argv) -> Reply {
    if session.multi.is_some() {
        return Reply::error("ERR WATCH inside MULTI is not allowed");
    }
    // Already doomed: watching more changes nothing.
    if session.watches.dirty.load(Ordering::SeqCst) {
        return Reply::Ok;
    }
    let db = session.db;
    let count = session.router.shard_count();
    let mut by_shard: BTreeMap<ShardId, Vec<Bytes>> = BTreeMap::new();
    for key in argv.iter().skip(1) {
        let known = session
            .watches
            .keys
            .iter()
            .any(|watched| watched.db == db && watched.key == *key);
        let shard = ShardId::for_key(key, count);
        let keys = by_shard.entry(shard).or_default();
        if !known && !keys.contains(key) {
            keys.push(key.clone());
        }
    }
    let client = session.info.id;
    for (shard, keys) in by_shard {
        if keys.is_empty() {
            continue;
        }
        let dirty = session.watches.dirty.clone();
        let registered = keys.clone();
        let deadlines = session
            .router
            .invoke_on(shard, move |state: Rc<ShardState>| async move {
                let now = unix_millis();
                let mut keyspace = state.keyspace.borrow_mut();
                let database = keyspace.db(db);
                let mut watched = state.watched.borrow_mut();
                registered
                    .into_iter()
                    .map(|key| {
                        let deadline = if database.contains(&key, now) {
                            database.deadline(&key)
                        } else {
                            None
                        };
                        let watcher = Watcher {
                            client,
                            dirty: dirty.clone(),
                        };
                        watched.watch(db.0, key, watcher);
                        deadline
                    })
                    .collect::<Vec<_>>()
            })
            .await;
        for (key, deadline) in keys.into_iter().zip(deadlines) {
            session.watches.keys.push(WatchedKey {
                shard,
                db,
                key,
                deadline,
            });
        }
    }
    Reply::Ok
}

/// UNWATCH (also after EXEC, DISCARD, RESET and when the connection closes).
pub async fn unwatch(session: &mut Session) {
    if session.watches.keys.is_empty() {
        // Nothing registered anywhere: only the flag to clear.
        session.watches.dirty.store(false, Ordering::SeqCst);
        return;
    }
    let watches = std::mem::take(&mut session.watches);
    let client = session.info.id;
    let mut by_shard: BTreeMap<ShardId, Vec<(DbIndex, Bytes)>> = BTreeMap::new();
    for watched in watches.keys {
        by_shard
            .entry(watched.shard)
            .or_default()
            .push((watched.db, watched.key));
    }
    for (shard, keys) in by_shard {
        session
            .router
            .invoke_on(shard, move |state: Rc<ShardState>| async move {
                let mut watched = state.watched.borrow_mut();
                for (db, key) in keys {
                    watched.unwatch(db.0, &key, client);
                }
            })
            .await;
    }
}

/// DISCARD's and RESET's part: forgets the queue (if any) and the watches.
pub async fn reset(session: &mut Session) {
    session.multi = None;
    session.info.multi.set(-1);
    unwatch(session).await;
}

/// EXEC.
/// Whether the transaction being queued has a command that may write (CLIENT PAUSE WRITE
/// holds its EXEC).
pub fn queued_writes(session: &Session) -> bool {
    session.multi.as_ref().is_some_and(|transaction| {
        transaction
            .queued
            .iter()
            .any(|(spec, _)| spec.has(Flag::Write) || spec.has(Flag::MayReplicate))
    })
}

pub async fn exec(session: &mut Session) -> Reply {
    let Some(transaction) = session.multi.take() else {
        return Reply::error("ERR EXEC without MULTI");
    };
    session.info.multi.set(-1);
    if transaction.aborted {
        unwatch(session).await;
        return Reply::error("EXECABORT Transaction discarded because of previous errors.");
    }
    let check = WatchCheck {
        dirty: session.watches.dirty.clone(),
        deadlines: session
            .watches
            .keys
            .iter()
            .filter_map(|watched| watched.deadline)
            .collect(),
    };
    let shards = session.router.shard_count();
    let me = session.router.me();
    if session.watches.keys.is_empty() {
        if let Some(shard) = one_shard(&transaction.queued, shards, me) {
            // Nothing watched and one shard: the transaction is a batch of that shard,
            // run in one hop and one synchronous step, as a pipeline's commands.
            for (spec, _) in &transaction.queued {
                session.note_write(spec, Some(shard));
            }
            let (db, options, queued) = (session.db, session.options, transaction.queued);
            let replies = session
                .router
                .invoke_on(shard, move |state: Rc<ShardState>| {
                    state.run_batch(db, options, queued, Serving::AfterLast)
                })
                .await;
            return Reply::Array(replies);
        }
    }
    let mut placed: Vec<(ShardId, KeyedCommand)> = Vec::with_capacity(transaction.queued.len());
    let mut global = false;
    for (spec, argv) in transaction.queued {
        let shard = match spec.exec {
            Exec::Keyed { .. } => single_shard(spec, &argv, shards, me),
            Exec::Server(_) => None,
        };
        session.note_write(spec, shard);
        global |= shard.is_none();
        placed.push((shard.unwrap_or(me), (spec, argv)));
    }
    let replies = if global {
        let queued = placed.into_iter().map(|(_, command)| command).collect();
        run_global(session, queued, check).await
    } else {
        run_keyed(session, placed, check).await
    };
    unwatch(session).await;
    replies.map_or(Reply::NilArray, Reply::Array)
}

/// The shard owning every key of `queued` when they are all keyed commands of one shard.
fn one_shard(queued: &[KeyedCommand], shards: u16, me: ShardId) -> Option<ShardId> {
    let mut owner = None;
    for (spec, argv) in queued {
        if !matches!(spec.exec, Exec::Keyed { .. }) {
            return None;
        }
        let shard = single_shard(spec, argv, shards, me)?;
        if owner.is_some_and(|owner| owner != shard) {
            return None;
        }
        owner = Some(shard);
    }
    owner
}

/// One shard's share of a keyed transaction.
#[derive(Default)]
struct Part {
    positions: Vec<usize>,
    commands: Vec<KeyedCommand>,
    request: LockRequest,
}

/// Runs a transaction of single-shard keyed commands; `None` when a watched key changed.
async fn run_keyed(
    session: &Session,
    placed: Vec<(ShardId, KeyedCommand)>,
    check: WatchCheck,
) -> Option<Vec<Reply>> {
    let (db, client) = (session.db, session.options);
    let total = placed.len();
    let mut parts: BTreeMap<ShardId, Part> = BTreeMap::new();
    for (position, (shard, command)) in placed.into_iter().enumerate() {
        let part = parts.entry(shard).or_default();
        part.positions.push(position);
        part.commands.push(command);
    }
    for part in parts.values_mut() {
        part.request = ShardState::lock_request(db, &part.commands);
    }
    for watched in &session.watches.keys {
        let lock = (
            LockKey::for_key(watched.db.0, &watched.key),
            LockMode::Shared,
        );
        parts
            .entry(watched.shard)
            .or_default()
            .request
            .keys
            .push(lock);
    }
    let writers = parts
        .values()
        .filter(|part| part.commands.iter().any(|(spec, _)| spec.has(Flag::Write)))
        .count();
    let tx = (writers > 1).then(|| {
        let id = session.shard().server.persistence.tx_id();
        (
            id,
            parts
                .values()
                .filter(|part| !part.commands.is_empty())
                .count() as u32,
        )
    });
    let router = &session.router;
    // Nothing queued and nothing watched: an empty transaction runs (and answers []).
    let Some((last_shard, last)) = parts.pop_last() else {
        return (!check.failed()).then(Vec::new);
    };
    let requests: BTreeMap<ShardId, LockRequest> = parts
        .iter()
        .map(|(shard, part)| (*shard, part.request.clone()))
        .collect();
    lock_in_order(router, &requests).await;
    // The last shard in lock order locks, checks the watches, runs and releases in one
    // message: once its locks are granted every lock is held.
    let last_commands = last.commands;
    let last_request = last.request;
    let first_results = router
        .invoke_on(last_shard, move |state: Rc<ShardState>| async move {
            let contended = {
                let locks = state.locks.borrow();
                !locks.is_idle() && locks.conflicts(&last_request)
            };
            // Uncontended, the part runs at once: nothing interleaves with a synchronous
            // step, so taking and dropping the locks would change nothing.
            if contended {
                LockTable::acquire(&state.locks, last_request.clone()).await;
            }
            let results = (!check.failed()).then(|| {
                if last_commands.is_empty() {
                    Vec::new()
                } else {
                    state.execute_part(db, client, &last_commands, tx)
                }
            });
            if contended {
                state.locks.borrow_mut().release(&last_request);
            }
            results
        })
        .await;
    let Some(first_results) = first_results else {
        for (shard, part) in parts {
            run_then_release(router, shard, part.request, |_| ()).await;
        }
        return None;
    };
    let mut replies: Vec<Option<Reply>> = vec![None; total];
    let mut place = |positions: Vec<usize>, results: Vec<Reply>| {
        for (position, reply) in positions.into_iter().zip(results) {
            if let Some(slot) = replies.get_mut(position) {
                *slot = Some(reply);
            }
        }
    };
    place(last.positions, first_results);
    for (shard, part) in parts {
        let commands = part.commands;
        let results = run_then_release(router, shard, part.request, move |state| {
            if commands.is_empty() {
                Vec::new()
            } else {
                state.execute_part(db, client, &commands, tx)
            }
        })
        .await;
        place(part.positions, results);
    }
    Some(
        replies
            .into_iter()
            .map(|reply| reply.unwrap_or_else(|| Reply::error("ERR internal error: missing reply")))
            .collect(),
    )
}

/// Runs a transaction that needs the whole server: everything locked on every shard
/// under the transaction's own owner id, one log bracket per shard, the queue run in
/// order. `None` when a watched key changed.
async fn run_global(
    session: &mut Session,
    queued: Vec<KeyedCommand>,
    check: WatchCheck,
) -> Option<Vec<Reply>> {
    let router = session.router.clone();
    let owner = LockOwner(session.shard().server.persistence.tx_id());
    let locks = hold_everything(&router, owner).await;
    let replies = if check.failed() {
        None
    } else {
        session.lock_owner = Some(owner);
        let mut replies = Vec::with_capacity(queued.len());
        for (spec, argv) in queued {
            replies.push(session.run_queued(spec, argv).await);
        }
        session.lock_owner = None;
        Some(replies)
    };
    release_everything(&router, owner, locks).await;
    replies
}
