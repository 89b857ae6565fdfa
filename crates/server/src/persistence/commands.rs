//! SAVE, BGSAVE, BGREWRITEAOF and DEBUG RELOAD: the commands that take snapshots.

use super::snapshot;
use crate::coordinator::{everything, lock_in_order, release_all};
use crate::dispatch::Session;
use crate::shard_state::{ShardRouter, ShardState};
use peregrine_keyspace::DbIndex;
use peregrine_resp::Reply;
use std::rc::Rc;
use std::sync::atomic::Ordering;

/// SAVE: takes a snapshot and replies once it is durable.
pub async fn save(session: &Session) -> Reply {
    match snapshot::take(&session.router).await {
        Ok(_) => Reply::Ok,
        Err(reason) => Reply::error(error_line(&reason)),
    }
}

/// BGSAVE [SCHEDULE]: starts a snapshot in the background; with SCHEDULE, queues one
/// behind a snapshot already running.
pub fn bgsave(session: &Session, schedule: bool) -> Reply {
    let shared = &session.shard().server.persistence;
    if shared.snapshot_running.load(Ordering::SeqCst) {
        if schedule {
            start_when_idle(session.router.clone());
            return Reply::status("Background saving scheduled");
        }
        return Reply::error("ERR Background save already in progress");
    }
    start_when_idle(session.router.clone());
    Reply::status("Background saving started")
}

/// BGREWRITEAOF: compacts the log into a new snapshot in the background (queued behind a
/// snapshot already running).
pub fn bgrewriteaof(session: &Session) -> Reply {
    let running = session
        .shard()
        .server
        .persistence
        .snapshot_running
        .load(Ordering::SeqCst);
    start_when_idle(session.router.clone());
    if running {
        Reply::status("Background append only file rewriting scheduled")
    } else {
        Reply::status("Background append only file rewriting started")
    }
}

/// Takes a snapshot in the background once none is running.
pub fn start_when_idle(router: Rc<ShardRouter>) {
    glommio::spawn_local(async move {
        while router
            .state()
            .server
            .persistence
            .snapshot_running
            .load(Ordering::SeqCst)
        {
            glommio::timer::sleep(std::time::Duration::from_millis(10)).await;
        }
        let _ = snapshot::take(&router).await;
    })
    .detach();
}

/// DEBUG RELOAD: with everything locked, takes a snapshot, empties every shard and loads
/// the snapshot back, as Redis saves, flushes and loads its RDB.
pub async fn debug_reload(session: &Session) -> Reply {
    let router = &session.router;
    let locks = everything(router, session.lock_owner);
    lock_in_order(router, &locks).await;
    let saved = snapshot::take_locked(router).await;
    let mut outcome = saved.map(|_| ());
    if outcome.is_ok() {
        for shard in router.shards() {
            let loaded = router
                .invoke_on(shard, |state: Rc<ShardState>| async move { reload(&state) })
                .await;
            if let Err(reason) = loaded {
                outcome = Err(reason);
            }
        }
    }
    release_all(router, locks).await;
    match outcome {
        Ok(()) => Reply::Ok,
        Err(reason) => Reply::error(error_line(&reason)),
    }
}

/// Empties this shard and loads its part of the latest snapshot.
fn reload(state: &ShardState) -> Result<(), String> {
    let settings = state.server.settings().persistence;
    let manifest = peregrine_persist::Manifest::read(&settings.data_dir)
        .map_err(|error| error.to_string())?
        .ok_or("no snapshot to reload")?;
    let entry = manifest
        .shards
        .get(usize::from(state.id.0))
        .ok_or("the snapshot has no part for this shard")?;
    let files = super::recovery::ShardFiles {
        snapshot: Some(settings.data_dir.join(&entry.snapshot)),
        ..Default::default()
    };
    let all: Vec<DbIndex> = (0..state.keyspace.borrow().db_count())
        .map(DbIndex)
        .collect();
    let pairs: Vec<(DbIndex, DbIndex)> = all.iter().map(|db| (*db, *db)).collect();
    state.touch_watched_databases(&pairs);
    crate::tracking::flushed(state);
    let old: Vec<_> = state
        .keyspace
        .borrow_mut()
        .iter_mut()
        .map(|db| db.take_table())
        .collect();
    crate::expiry::free_in_background(old);
    let mut loader = super::recovery::ShardLoader::new(
        &files,
        state.server.persistence.cipher(),
        Default::default(),
        &settings,
    );
    let mut keyspace = state.keyspace.borrow_mut();
    let mut replayer = super::replay::Replayer::new(&mut keyspace, state.limits());
    while loader.step(&mut replayer, usize::MAX)?.is_some() {}
    Ok(())
}

/// A reason as one error line with Redis's `ERR` prefix when it has none.
fn error_line(reason: &str) -> String {
    let line = reason.replace(['\r', '\n'], " ");
    if line.starts_with("ERR ") {
        line
    } else {
        format!("ERR {line}")
    }
}
