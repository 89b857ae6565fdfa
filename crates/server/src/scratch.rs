//! The generic cross-shard plan: run a multi-key command on a scratch copy of its keys.
//!
//! For a command whose keys span shards and that has no dedicated plan
//! ([`CrossShard::Scratch`](peregrine_commands::CrossShard::Scratch): SINTERSTORE, SMOVE,
//! LMOVE, ZUNIONSTORE, ZRANGESTORE ...), the coordinator locks every key (ascending shard
//! order, as every multi-shard operation), copies the keys' entries and deadlines into a
//! scratch keyspace, runs the command's ordinary handler there, and writes back to each
//! owning shard exactly the keys whose value or deadline changed, releasing that shard's
//! locks in the same message. Locks are held from the first read to the last write, so
//! the command is as atomic and isolated as on one shard, and every handler works across
//! shards without a plan of its own. The price is copying the keys' values: this is the
//! path for keys that do not share a hash tag.

use crate::coordinator::{lock_in_order, lock_mode, run_then_release};
use crate::shard_state::{unix_millis, ShardRouter};
use bytes::Bytes;
use peregrine_commands::{
    ArgReader, ClientOptions, CommandSpec, Exec, Notifier, Random, ShardCtx, ShardStats,
};
use peregrine_keyspace::{DbIndex, Entry, Keyspace, UnixMillis};
use peregrine_resp::{Argv, Reply};
use peregrine_shard::{LockKey, LockOwner, LockRequest, ShardId};
use std::collections::BTreeMap;

/// A key's entry and deadline as a shard holds it (`None`: no such key).
type Snapshot = Option<(Entry, Option<UnixMillis>)>;

/// Runs `argv` (whose keys span shards) on a scratch copy of its keys; see the module
/// documentation. `owner` is the transaction asking, if any.
pub async fn run_scratch(
    router: &ShardRouter,
    db: DbIndex,
    client: ClientOptions,
    owner: Option<LockOwner>,
    spec: &'static CommandSpec,
    argv: Argv,
) -> Reply {
    run_scratch_with(router, db, client, owner, spec, argv, Vec::new()).await
}

/// Runs a [`CrossShard::Discovered`](peregrine_commands::CrossShard::Discovered) command
/// whose arguments reach keys they do not name: under a lock of every shard (unless
/// `owner` already holds one), its discovery lists those keys on the first key's shard,
/// then it runs on a scratch copy of its own keys and those.
pub async fn run_discovered(
    router: &ShardRouter,
    db: DbIndex,
    client: ClientOptions,
    owner: Option<LockOwner>,
    spec: &'static CommandSpec,
    argv: Argv,
    discovery: peregrine_commands::Discovery,
) -> Reply {
    let held = match owner {
        Some(owner) => (owner, None),
        None => {
            let owner = LockOwner(router.state().server.persistence.tx_id());
            (
                owner,
                Some(crate::coordinator::hold_everything(router, owner).await),
            )
        }
    };
    let first = argv.get(1).cloned().unwrap_or_default();
    let shard = ShardId::for_key(&first, router.shard_count());
    let request = argv.clone();
    let reached = router
        .invoke_on(
            shard,
            move |state: std::rc::Rc<crate::shard_state::ShardState>| async move {
                state.with_ctx(db, client, |ctx| (discovery.keys)(ctx, &request))
            },
        )
        .await;
    let reply = run_scratch_with(router, db, client, Some(held.0), spec, argv, reached).await;
    if let (owner, Some(locks)) = held {
        crate::coordinator::release_everything(router, owner, locks).await;
    }
    reply
}

/// [`run_scratch`] with `extra` keys copied (and locked) along with the command's own.
async fn run_scratch_with(
    router: &ShardRouter,
    db: DbIndex,
    client: ClientOptions,
    owner: Option<LockOwner>,
    spec: &'static CommandSpec,
    argv: Argv,
    extra: Vec<Bytes>,
) -> Reply {
    let Exec::Keyed { handler, .. } = spec.exec else {
        return Reply::error("ERR internal error: not a keyed command");
    };
    let shard_count = router.shard_count();
    let mut keys_by_shard: BTreeMap<ShardId, Vec<Bytes>> = BTreeMap::new();
    let named: Vec<Bytes> = spec
        .keys
        .positions(&argv)
        .filter_map(|position| argv.get(position).cloned())
        .collect();
    let mut seen = std::collections::HashSet::new();
    for key in named.into_iter().chain(extra) {
        if seen.insert(key.clone()) {
            keys_by_shard
                .entry(ShardId::for_key(&key, shard_count))
                .or_default()
                .push(key);
        }
    }
    let mode = lock_mode(spec);
    let mut requests: BTreeMap<ShardId, LockRequest> = keys_by_shard
        .iter()
        .map(|(shard, keys)| {
            let keys = keys
                .iter()
                .map(|key| (LockKey::for_key(db.0, key), mode))
                .collect();
            (*shard, LockRequest::new(keys, owner))
        })
        .collect();
    lock_in_order(router, &requests).await;

    let now = unix_millis();
    let mut originals: Vec<(ShardId, Bytes, Snapshot)> = Vec::new();
    for (shard, keys) in &keys_by_shard {
        let keys = keys.clone();
        let copies = router
            .invoke_on(*shard, move |state| async move {
                let mut keyspace = state.keyspace.borrow_mut();
                let database = keyspace.db(db);
                keys.into_iter()
                    .map(|key| {
                        let snapshot = database
                            .get(&key, now)
                            .cloned()
                            .map(|entry| (entry, database.deadline(&key)));
                        (key, snapshot)
                    })
                    .collect::<Vec<_>>()
            })
            .await;
        originals.extend(copies.into_iter().map(|(key, copy)| (*shard, key, copy)));
    }

    let local = router.state();
    let mut scratch = Keyspace::new(db.0 + 1);
    for (_, key, snapshot) in &originals {
        if let Some((entry, deadline)) = snapshot {
            scratch.db(db).insert_entry(key, entry.clone(), *deadline);
        }
    }
    let mut stats = ShardStats::default();
    let mut random = Random::new(local.random.borrow_mut().next_u64());
    // The handler's own records would describe the scratch copy: the write-back below
    // records the resulting keys instead.
    let mut journal = peregrine_persist::Journal::disabled();
    let mut capture = peregrine_commands::Capture::default();
    // The handler's events are the command's (the copies in and out make none); they
    // join this core's shard's events. Keys expired while copying report on their shards.
    let limits = local.limits();
    let mut notifier = Notifier::new();
    notifier.set_flags(local.notifier.borrow().flags());
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut ctx = ShardCtx {
            keyspace: &mut scratch,
            db,
            now,
            stats: &mut stats,
            client,
            limits,
            random: &mut random,
            journal: &mut journal,
            capture: &mut capture,
            watched: &mut peregrine_commands::WatchedKeys::default(),
            effect_recorded: false,
            notifier: &mut notifier,
        };
        handler(&mut ctx, &mut ArgReader::new(&argv))
    }));
    let reply = match outcome {
        Ok(Ok(reply)) => reply,
        Ok(Err(error)) => error.into_reply(),
        Err(_) => {
            local.command_panics.set(local.command_panics.get() + 1);
            Reply::error(format!(
                "ERR internal error while executing '{}'",
                spec.name
            ))
        }
    };
    local.notifier.borrow_mut().extend(notifier.take());
    {
        let mut shard_stats = local.stats.borrow_mut();
        shard_stats.keyspace_hits += stats.keyspace_hits;
        shard_stats.keyspace_misses += stats.keyspace_misses;
        shard_stats.dirty += stats.dirty;
    }

    // Write back what changed, shard by shard, releasing each shard's locks.
    let mut writes: BTreeMap<ShardId, Vec<(Bytes, Snapshot)>> = BTreeMap::new();
    for (shard, key, original) in originals {
        let database = scratch.db(db);
        let current: Snapshot = database
            .get(&key, now)
            .cloned()
            .map(|entry| (entry, database.deadline(&key)));
        let unchanged = match (&original, &current) {
            (None, None) => true,
            (Some((before, before_at)), Some((after, after_at))) => {
                before.value == after.value && before_at == after_at
            }
            _ => false,
        };
        if !unchanged {
            writes.entry(shard).or_default().push((key, current));
        }
    }
    let participants = writes.len() as u32;
    let tx = (participants > 1).then(|| (router.state().server.persistence.tx_id(), participants));
    for (shard, request) in std::mem::take(&mut requests) {
        let shard_writes = writes.remove(&shard).unwrap_or_default();
        let reads = match client.tracking {
            Some(_) => keys_by_shard.get(&shard).cloned().unwrap_or_default(),
            None => Vec::new(),
        };
        run_then_release(router, shard, request, move |state| {
            crate::tracking::remember_remote_read(state, client, spec, &reads);
            if shard_writes.is_empty() {
                return;
            }
            for (key, _) in &shard_writes {
                state.capture_before_write(db, key);
            }
            let mut keyspace = state.keyspace.borrow_mut();
            let database = keyspace.db(db);
            for (key, snapshot) in &shard_writes {
                match snapshot {
                    Some((entry, deadline)) => database.insert_entry(key, entry.clone(), *deadline),
                    None => {
                        database.remove(key);
                    }
                }
            }
            drop(keyspace);
            state.in_tx(tx, || {
                for (key, _) in &shard_writes {
                    state.record_key_state(db, key, client);
                }
            });
            for (key, _) in &shard_writes {
                state.signal_key(db, key);
            }
            crate::blocking::serve_ready_now(state);
        })
        .await;
    }
    reply
}
