//! Multi-shard commands: ordered locking, per-shard parts, merged replies.
//!
//! Protocol (DESIGN.md §2): the coordinator (the connection's task) locks the keys each
//! participant shard owns, one shard after another in ascending [`ShardId`] order, then
//! runs each shard's part and releases that shard's locks in the same message. Every lock
//! is taken before any is released (two-phase locking), so the command is serializable;
//! the global order makes deadlock impossible.

use crate::shard_state::{KeyedCommand, ShardRouter, ShardState};
use bytes::Bytes;
use peregrine_commands::keys::CopyOptions;
use peregrine_commands::{
    ArgReader, ClientOptions, CommandError, CommandSpec, Coordinated, EventClass, Flag, Merge,
};
use peregrine_keyspace::DbIndex;
use peregrine_resp::{Argv, Reply};
use peregrine_shard::{LockKey, LockMode, LockOwner, LockRequest, LockTable, ShardId};
use std::collections::BTreeMap;

/// The shard owning every key of `argv`, or `None` when they span shards. Commands
/// without keys belong to the local shard.
pub fn single_shard(
    spec: &CommandSpec,
    argv: &Argv,
    shard_count: u16,
    local: ShardId,
) -> Option<ShardId> {
    if shard_count == 1 {
        return Some(local);
    }
    if spec.references_other_keys(argv) {
        return None;
    }
    let mut owner: Option<ShardId> = None;
    for position in spec.keys.positions(argv) {
        let shard = ShardId::for_key(argv.get(position)?, shard_count);
        match owner {
            None => owner = Some(shard),
            Some(existing) if existing != shard => return None,
            Some(_) => {}
        }
    }
    Some(owner.unwrap_or(local))
}

/// Locks `parts` shard by shard in ascending order.
pub(crate) async fn lock_in_order(router: &ShardRouter, parts: &BTreeMap<ShardId, LockRequest>) {
    for (shard, request) in parts {
        let request = request.clone();
        router
            .invoke_on(*shard, move |state| async move {
                LockTable::acquire(&state.locks, request).await;
            })
            .await;
    }
}

/// Runs `work` on `shard`, then releases `request` there, in one message.
pub(crate) async fn run_then_release<R, F>(
    router: &ShardRouter,
    shard: ShardId,
    request: LockRequest,
    work: F,
) -> R
where
    R: Send + 'static,
    F: FnOnce(&ShardState) -> R + Send + 'static,
{
    router
        .invoke_on(shard, move |state| async move {
            let result = work(&state);
            state.locks.borrow_mut().release(&request);
            result
        })
        .await
}

/// A lock on everything on every shard: taken in order, it waits for every multi-shard
/// operation in flight and holds back new ones (a global cut). `owner` is the transaction
/// asking, if any.
pub(crate) fn everything(
    router: &ShardRouter,
    owner: Option<LockOwner>,
) -> BTreeMap<ShardId, LockRequest> {
    let request = LockRequest::everything(owner);
    router
        .shards()
        .map(|shard| (shard, request.clone()))
        .collect()
}

/// Locks everything on every shard for `owner` (a transaction or script that needs the
/// whole server) and opens log bracket `owner.0` on each shard, so that recovery applies
/// all of its writes or none. Undo with [`release_everything`].
pub(crate) async fn hold_everything(
    router: &ShardRouter,
    owner: LockOwner,
) -> BTreeMap<ShardId, LockRequest> {
    let locks = everything(router, Some(owner));
    let participants = u32::from(router.shard_count());
    for (shard, request) in &locks {
        let request = request.clone();
        router
            .invoke_on(*shard, move |state| async move {
                LockTable::acquire(&state.locks, request).await;
                let now = crate::shard_state::unix_millis();
                state
                    .journal
                    .borrow_mut()
                    .tx_begin(now, owner.0, participants);
                state.open_tx.set(Some(owner.0));
            })
            .await;
    }
    locks
}

/// Closes the log brackets and releases the locks of [`hold_everything`].
pub(crate) async fn release_everything(
    router: &ShardRouter,
    owner: LockOwner,
    locks: BTreeMap<ShardId, LockRequest>,
) {
    for (shard, request) in locks {
        router
            .invoke_on(shard, move |state| async move {
                state.open_tx.set(None);
                let now = crate::shard_state::unix_millis();
                state.journal.borrow_mut().tx_end(now, owner.0);
                state.locks.borrow_mut().release(&request);
                state.records_appended();
            })
            .await;
    }
}

/// Publishes the key events of a split command's parts in the order of its keys.
fn publish_in_key_order(
    router: &ShardRouter,
    spec: &CommandSpec,
    argv: &Argv,
    events: Vec<peregrine_commands::KeyEvent>,
) {
    let keys = spec
        .keys
        .positions(argv)
        .filter_map(|position| argv.get(position))
        .map(|key| &key[..]);
    crate::pubsub::publish_in_key_order(router.state(), keys, events);
}

/// Releases every lock in `parts`.
pub(crate) async fn release_all(router: &ShardRouter, parts: BTreeMap<ShardId, LockRequest>) {
    for (shard, request) in parts {
        run_then_release(router, shard, request, |_| ()).await;
    }
}

pub(crate) fn lock_mode(spec: &CommandSpec) -> LockMode {
    if spec.has(Flag::Write) {
        LockMode::Exclusive
    } else {
        LockMode::Shared
    }
}

/// One shard's share of a split command: its argument vector and, for MGET, where its
/// keys were in the original command.
struct Share {
    argv: Argv,
    positions: Vec<usize>,
    request: LockRequest,
}

fn split_by_shard(
    spec: &CommandSpec,
    argv: &Argv,
    db: DbIndex,
    shard_count: u16,
    owner: Option<LockOwner>,
) -> BTreeMap<ShardId, Share> {
    let mut shares: BTreeMap<ShardId, Share> = BTreeMap::new();
    let step = spec.keys.step.max(1);
    let mode = lock_mode(spec);
    for (ordinal, position) in spec.keys.positions(argv).enumerate() {
        let Some(key) = argv.get(position) else {
            continue;
        };
        let shard = ShardId::for_key(key, shard_count);
        let share = shares.entry(shard).or_insert_with(|| Share {
            argv: vec![argv[0].clone()],
            positions: Vec::new(),
            request: LockRequest::new(Vec::new(), owner),
        });
        share
            .argv
            .extend(argv.iter().skip(position).take(step).cloned());
        share.positions.push(ordinal);
        share.request.keys.push((LockKey::for_key(db.0, key), mode));
    }
    shares
}

/// Runs a split command (MSET, MGET, DEL, EXISTS, TOUCH, UNLINK) whose keys span shards,
/// on behalf of transaction `owner` if any.
pub async fn run_split(
    router: &ShardRouter,
    db: DbIndex,
    client: ClientOptions,
    owner: Option<LockOwner>,
    spec: &'static CommandSpec,
    argv: Argv,
    merge: Merge,
) -> Reply {
    // Argument-count errors are found before anything is locked.
    if spec.keys.step == 2 && argv.len().is_multiple_of(2) {
        return Reply::error(format!(
            "ERR wrong number of arguments for '{}' command",
            spec.name
        ));
    }
    let mut shares = split_by_shard(spec, &argv, db, router.shard_count(), owner);
    let tx = write_tx(router, spec, shares.len());
    // The last shard in lock order locks, runs and releases in one message: once its
    // locks are granted every lock is held, so two-phase locking still holds.
    let last = shares.pop_last();
    let locks: BTreeMap<ShardId, LockRequest> = shares
        .iter()
        .map(|(shard, share)| (*shard, share.request.clone()))
        .collect();
    lock_in_order(router, &locks).await;
    let key_count = spec.keys.positions(&argv).count();
    let mut total = 0i64;
    let mut values = vec![Reply::Nil; key_count];
    let mut first_error = None;
    let mut parts = Vec::with_capacity(shares.len() + 1);
    let mut events = Vec::new();
    if let Some((shard, share)) = last {
        let part: Vec<KeyedCommand> = vec![(spec, share.argv)];
        let request = share.request;
        let (replies, part_events) = router
            .invoke_on(shard, move |state| async move {
                LockTable::acquire(&state.locks, request.clone()).await;
                let outcome = state.execute_part_keeping_events(db, client, &part, tx);
                state.locks.borrow_mut().release(&request);
                outcome
            })
            .await;
        parts.push((share.positions, replies));
        events.extend(part_events);
    }
    for (shard, share) in shares {
        let part: Vec<KeyedCommand> = vec![(spec, share.argv)];
        let (replies, part_events) = run_then_release(router, shard, share.request, move |state| {
            state.execute_part_keeping_events(db, client, &part, tx)
        })
        .await;
        parts.push((share.positions, replies));
        events.extend(part_events);
    }
    publish_in_key_order(router, spec, &argv, events);
    for (positions, mut replies) in parts {
        let reply = replies.pop().unwrap_or(Reply::Nil);
        match (merge, reply) {
            (_, Reply::Error(text)) => {
                first_error.get_or_insert(Reply::Error(text));
            }
            (Merge::SumIntegers, Reply::Integer(count)) => total += count,
            (Merge::ArrayInKeyOrder, Reply::Array(items)) => {
                for (ordinal, item) in positions.into_iter().zip(items) {
                    if let Some(slot) = values.get_mut(ordinal) {
                        *slot = item;
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(error) = first_error {
        return error;
    }
    match merge {
        Merge::Ok => Reply::Ok,
        Merge::SumIntegers => Reply::Integer(total),
        Merge::ArrayInKeyOrder => Reply::Array(values),
    }
}

/// Runs a command with a dedicated plan whose keys span shards, on behalf of transaction
/// `owner` if any.
pub async fn run_coordinated(
    router: &ShardRouter,
    db: DbIndex,
    client: ClientOptions,
    owner: Option<LockOwner>,
    spec: &'static CommandSpec,
    argv: Argv,
    plan: Coordinated,
) -> Reply {
    let outcome = match plan {
        Coordinated::MsetNx => msetnx(router, db, client, owner, spec, argv).await,
        Coordinated::Rename { nx } => rename(router, db, client, owner, argv, nx).await,
        Coordinated::Copy => copy(router, db, client, owner, argv).await,
    };
    outcome.unwrap_or_else(CommandError::into_reply)
}

async fn msetnx(
    router: &ShardRouter,
    db: DbIndex,
    client: ClientOptions,
    owner: Option<LockOwner>,
    spec: &'static CommandSpec,
    argv: Argv,
) -> Result<Reply, CommandError> {
    if argv.len().is_multiple_of(2) {
        return Err(CommandError::other(
            "ERR wrong number of arguments for 'msetnx' command",
        ));
    }
    let mset = peregrine_commands::lookup(b"mset").unwrap_or(spec);
    let shares = split_by_shard(spec, &argv, db, router.shard_count(), owner);
    let locks: BTreeMap<ShardId, LockRequest> = shares
        .iter()
        .map(|(shard, share)| (*shard, share.request.clone()))
        .collect();
    lock_in_order(router, &locks).await;
    let mut any_exists = false;
    for (shard, share) in &shares {
        let keys: Vec<Bytes> = share.argv.iter().skip(1).step_by(2).cloned().collect();
        any_exists |= router
            .invoke_on(*shard, move |state| async move {
                state.with_ctx(db, client, |ctx| {
                    let now = ctx.now;
                    keys.iter().any(|key| ctx.db().contains(key, now))
                })
            })
            .await;
    }
    if any_exists {
        release_all(router, locks).await;
        return Ok(Reply::Integer(0));
    }
    let tx = write_tx(router, mset, shares.len());
    let mut events = Vec::new();
    for (shard, mut share) in shares {
        share.argv[0] = Bytes::from_static(b"mset");
        let part: Vec<KeyedCommand> = vec![(mset, share.argv)];
        let (_, part_events) = run_then_release(router, shard, share.request, move |state| {
            state.execute_part_keeping_events(db, client, &part, tx)
        })
        .await;
        events.extend(part_events);
    }
    publish_in_key_order(router, spec, &argv, events);
    Ok(Reply::Integer(1))
}

/// The operation id and participant count that bracket the parts of a write spanning
/// `parts` shards in their logs (none for reads or a single part).
pub(crate) fn write_tx(
    router: &ShardRouter,
    spec: &CommandSpec,
    parts: usize,
) -> Option<(u64, u32)> {
    (spec.has(peregrine_commands::Flag::Write) && parts > 1)
        .then(|| (router.state().server.persistence.tx_id(), parts as u32))
}

fn exclusive(db: DbIndex, key: &[u8], owner: Option<LockOwner>) -> LockRequest {
    LockRequest::new(
        vec![(LockKey::for_key(db.0, key), LockMode::Exclusive)],
        owner,
    )
}

fn shared(db: DbIndex, key: &[u8], owner: Option<LockOwner>) -> LockRequest {
    LockRequest::new(vec![(LockKey::for_key(db.0, key), LockMode::Shared)], owner)
}

/// The shards owning two keys.
fn shards_of(router: &ShardRouter, first: &[u8], second: &[u8]) -> (ShardId, ShardId) {
    let count = router.shard_count();
    (
        ShardId::for_key(first, count),
        ShardId::for_key(second, count),
    )
}

/// Locks two keys on two different shards in ascending shard order.
async fn lock_pair(
    router: &ShardRouter,
    first: (ShardId, LockRequest),
    second: (ShardId, LockRequest),
) -> BTreeMap<ShardId, LockRequest> {
    let parts: BTreeMap<ShardId, LockRequest> = [first, second].into_iter().collect();
    lock_in_order(router, &parts).await;
    parts
}

async fn rename(
    router: &ShardRouter,
    db: DbIndex,
    client: ClientOptions,
    owner: Option<LockOwner>,
    argv: Argv,
    nx: bool,
) -> Result<Reply, CommandError> {
    let (source, destination) = (argv[1].clone(), argv[2].clone());
    let (source_shard, destination_shard) = shards_of(router, &source, &destination);
    let mut locks = lock_pair(
        router,
        (source_shard, exclusive(db, &source, owner)),
        (destination_shard, exclusive(db, &destination, owner)),
    )
    .await;
    let probe = source.clone();
    let source_exists = router
        .invoke_on(source_shard, move |state| async move {
            let now = crate::shard_state::unix_millis();
            state.keyspace.borrow_mut().db(db).contains(&probe, now)
        })
        .await;
    if !source_exists {
        release_all(router, locks).await;
        return Err(CommandError::NoSuchKey);
    }
    if nx {
        let probe = destination.clone();
        let taken = router
            .invoke_on(destination_shard, move |state| async move {
                let now = crate::shard_state::unix_millis();
                state.keyspace.borrow_mut().db(db).contains(&probe, now)
            })
            .await;
        if taken {
            release_all(router, locks).await;
            return Ok(Reply::Integer(0));
        }
    }
    let tx = Some((router.state().server.persistence.tx_id(), 2));
    // Redis's events, recorded on this core's shard in Redis's order.
    let local = router.state();
    local.notify(EventClass::New, "new", db, &destination);
    local.notify(EventClass::Generic, "rename_from", db, &source);
    local.notify(EventClass::Generic, "rename_to", db, &destination);
    let source_lock = locks.remove(&source_shard).unwrap_or_default();
    let moved = run_then_release(router, source_shard, source_lock, move |state| {
        state.capture_before_write(db, &source);
        let moved = state
            .keyspace
            .borrow_mut()
            .db(db)
            .remove_with_deadline(&source);
        state.stats.borrow_mut().dirty += 1;
        state.in_tx(tx, || state.record_key_state(db, &source, client));
        moved
    })
    .await;
    let destination_lock = locks.remove(&destination_shard).unwrap_or_default();
    run_then_release(router, destination_shard, destination_lock, move |state| {
        if let Some((entry, deadline)) = moved {
            state.capture_before_write(db, &destination);
            state
                .keyspace
                .borrow_mut()
                .db(db)
                .insert_entry(&destination, entry, deadline);
            state.in_tx(tx, || state.record_key_state(db, &destination, client));
            state.signal_key(db, &destination);
            crate::blocking::serve_ready_now(state);
        }
    })
    .await;
    Ok(if nx { Reply::Integer(1) } else { Reply::Ok })
}

async fn copy(
    router: &ShardRouter,
    db: DbIndex,
    client: ClientOptions,
    owner: Option<LockOwner>,
    argv: Argv,
) -> Result<Reply, CommandError> {
    let (source, destination) = (argv[1].clone(), argv[2].clone());
    let databases = router.state().server.settings().databases;
    let mut reader = ArgReader::new(&argv);
    reader.next_arg();
    reader.next_arg();
    let options = CopyOptions::parse(&mut reader, db, databases)?;
    let target_db = options.destination_db;
    let (source_shard, destination_shard) = shards_of(router, &source, &destination);
    let mut locks = lock_pair(
        router,
        (source_shard, shared(db, &source, owner)),
        (destination_shard, exclusive(target_db, &destination, owner)),
    )
    .await;
    let source_lock = locks.remove(&source_shard).unwrap_or_default();
    let source_key = source.clone();
    let copied = run_then_release(router, source_shard, source_lock, move |state| {
        let now = crate::shard_state::unix_millis();
        let mut keyspace = state.keyspace.borrow_mut();
        let database = keyspace.db(db);
        let entry = database.get(&source, now).cloned()?;
        Some((entry, database.deadline(&source)))
    })
    .await;
    if copied.is_none() {
        router
            .state()
            .notify(EventClass::KeyMiss, "keymiss", db, &source_key);
    }
    let destination_lock = locks.remove(&destination_shard).unwrap_or_default();
    let replace = options.replace;
    let copied_to = destination.clone();
    let done = run_then_release(router, destination_shard, destination_lock, move |state| {
        let Some((entry, deadline)) = copied else {
            return false;
        };
        let now = crate::shard_state::unix_millis();
        state.capture_before_write(target_db, &destination);
        let mut keyspace = state.keyspace.borrow_mut();
        let database = keyspace.db(target_db);
        if database.contains(&destination, now) && !replace {
            return false;
        }
        database.insert_entry(&destination, entry, deadline);
        drop(keyspace);
        state.record_key_state(target_db, &destination, client);
        state.stats.borrow_mut().dirty += 1;
        state.signal_key(target_db, &destination);
        crate::blocking::serve_ready_now(state);
        true
    })
    .await;
    if done {
        let local = router.state();
        local.notify(EventClass::New, "new", target_db, &copied_to);
        local.notify(EventClass::Generic, "copy_to", target_db, &copied_to);
    }
    Ok(Reply::Integer(i64::from(done)))
}

/// Runs consecutive single-shard commands of one pipeline whose shards differ as one
/// segment: every involved shard's keys are locked (ascending shard order, as any
/// multi-shard operation), each shard runs its commands in their pipeline order, and the
/// locks are released. No other client can observe the segment half-done, so running the
/// shards' parts side by side is indistinguishable from running the commands one by one,
/// and a pipeline costs one lock round per involved shard instead of a round trip at
/// every change of shard. Replies come back in pipeline order.
pub async fn run_segment(
    router: &ShardRouter,
    db: DbIndex,
    client: ClientOptions,
    commands: Vec<(ShardId, KeyedCommand)>,
) -> Vec<Reply> {
    let total = commands.len();
    let mut parts: BTreeMap<ShardId, (Vec<usize>, Vec<KeyedCommand>)> = BTreeMap::new();
    for (index, (shard, command)) in commands.into_iter().enumerate() {
        let part = parts.entry(shard).or_default();
        part.0.push(index);
        part.1.push(command);
    }
    let mut requests: BTreeMap<ShardId, LockRequest> = parts
        .iter()
        .map(|(shard, (_, commands))| (*shard, ShardState::lock_request(db, commands)))
        .collect();
    let last = parts.pop_last();
    let last_request = last.as_ref().and_then(|(shard, _)| requests.remove(shard));
    lock_in_order(router, &requests).await;
    let mut replies: Vec<Option<Reply>> = vec![None; total];
    let mut place = |positions: Vec<usize>, results: Vec<Reply>| {
        for (position, reply) in positions.into_iter().zip(results) {
            if let Some(slot) = replies.get_mut(position) {
                *slot = Some(reply);
            }
        }
    };
    if let (Some((shard, (positions, commands))), Some(request)) = (last, last_request) {
        let results = router
            .invoke_on(shard, move |state| async move {
                LockTable::acquire(&state.locks, request.clone()).await;
                let results = state.execute_unlocked(db, client, &commands);
                state.locks.borrow_mut().release(&request);
                results
            })
            .await;
        place(positions, results);
    }
    for (shard, (positions, commands)) in parts {
        let request = requests.remove(&shard).unwrap_or_default();
        let results = run_then_release(router, shard, request, move |state| {
            state.execute_unlocked(db, client, &commands)
        })
        .await;
        place(positions, results);
    }
    replies
        .into_iter()
        .map(|reply| reply.unwrap_or_else(|| Reply::error("ERR internal error: missing reply")))
        .collect()
}
