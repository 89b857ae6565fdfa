//! Background work of a shard: active expiry (keys and hash fields), incremental rehash,
//! freeing big tables.
//!
//! All of it runs in a background task queue with small bounded steps, yielding between
//! steps, so requests never wait behind it for more than about a millisecond.

use crate::shard_state::{unix_millis, ShardState};
use bytes::Bytes;
use peregrine_commands::EventClass;
use peregrine_keyspace::{DbIndex, Table};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Keys removed per step before checking the time budget.
const KEYS_PER_STEP: usize = 64;
/// Longest uninterrupted stretch of background work.
const STEP_BUDGET: Duration = Duration::from_millis(1);

/// Runs forever on the shard's background queue: every 1/hz seconds, remove due keys and
/// advance resizes, in steps of at most [`STEP_BUDGET`], continuing without sleeping while
/// a backlog remains.
pub async fn run_background(state: Rc<ShardState>) {
    loop {
        let backlog = step(&state);
        if backlog {
            pause_for_io().await;
        } else {
            let hz = state.server.settings().hz.max(1);
            glommio::timer::sleep(Duration::from_millis(1000 / hz)).await;
        }
    }
}

/// Ends a background step with a short sleep rather than a yield: with nothing runnable,
/// the executor polls its ring, so requests that arrived during the step are served
/// before the next step (a yield alone can keep the executor off its ring until its
/// preemption timer fires).
pub(crate) async fn pause_for_io() {
    glommio::timer::sleep(Duration::from_micros(50)).await;
}

/// One bounded step; returns true when work remains.
fn step(state: &ShardState) -> bool {
    let backlog = expire_step(state);
    state.records_appended();
    crate::tracking::send_owed(state);
    backlog
}

fn expire_step(state: &ShardState) -> bool {
    let started = Instant::now();
    let more = expire_some(state);
    let took = started.elapsed().as_micros() as u64;
    crate::latency::add_if_needed(state, "expire-cycle", took);
    // A key that expired under a blocked XREADGROUP ends its wait with NOGROUP, as a DEL
    // would (Redis 7.2 re-runs the command of a client blocked on a deleted key).
    crate::blocking::serve_ready_now(state);
    crate::pubsub::publish_key_events(state, None);
    more
}

fn expire_some(state: &ShardState) -> bool {
    let started = Instant::now();
    // CLIENT PAUSE holds expiry too, as in Redis: the dataset stays as it was.
    let active = state
        .server
        .active_expire
        .load(std::sync::atomic::Ordering::Relaxed)
        && !state.server.client_pause.in_force();
    state.sync_notify_flags();
    let mut keyspace = state.keyspace.borrow_mut();
    let mut journal = state.journal.borrow_mut();
    let mut notifier = state.notifier.borrow_mut();
    // Expired keys are changes for client-side caching, as in Redis.
    let mut watched = state.watched.borrow_mut();
    let tracking = &mut watched.tracking;
    let mut backlog = false;
    let anyone_blocked = !state.blocked.borrow().is_empty();
    for (index, db) in keyspace.iter_mut().enumerate() {
        let index = index as u32;
        loop {
            let now = unix_millis();
            // Active expiry happens between commands, so replay needs it spelled out.
            // Redis 7.4's events: `hexpired` for a hash that lost fields (then `del` when
            // that emptied it), `expired` for a key.
            let removed = if active {
                db.expire_hash_fields_due(now, KEYS_PER_STEP, |key, deleted| {
                    journal.append(now, |record| record.expire_fields(now, index, key));
                    notifier.notify(EventClass::Hash, "hexpired", index, key);
                    if deleted {
                        notifier.notify(EventClass::Generic, "del", index, key);
                    }
                    tracking.invalidate(key, None);
                });
                db.expire_due(now, KEYS_PER_STEP, |key| {
                    journal.append(now, |record| record.expire(now, index, key));
                    notifier.notify(EventClass::Expired, "expired", index, key);
                    tracking.invalidate(key, None);
                    if anyone_blocked {
                        state.signal_key(DbIndex(index), &Bytes::copy_from_slice(key));
                    }
                })
            } else {
                0
            };
            let resizing = db.rehash_step();
            if started.elapsed() >= STEP_BUDGET {
                return removed == KEYS_PER_STEP || resizing || backlog;
            }
            if removed < KEYS_PER_STEP && !resizing {
                break;
            }
            backlog = backlog || removed == KEYS_PER_STEP;
        }
    }
    false
}

/// Frees detached tables (FLUSHDB, FLUSHALL) on the background queue in bounded chunks.
pub fn free_in_background(tables: Vec<Table>) {
    if tables.iter().all(|table| table.len() < 4096) {
        return;
    }
    glommio::spawn_local(async move {
        for mut table in tables {
            while !table.drop_some(1024) {
                pause_for_io().await;
            }
        }
    })
    .detach();
}
