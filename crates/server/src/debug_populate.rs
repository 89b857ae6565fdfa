//! DEBUG POPULATE count [prefix] [size]: creates `prefix:0` .. `prefix:<count-1>` holding
//! `value:<n>` (padded with zero bytes or cut to `size` when given), skipping keys that
//! exist, as Redis does. Each shard creates the keys it owns, as ordinary SETs (so they are
//! logged), in batches between which it serves other clients.

use crate::dispatch::Session;
use crate::shard_state::{KeyedCommand, ShardState};
use bytes::Bytes;
use peregrine_keyspace::DbIndex;
use peregrine_resp::Reply;
use peregrine_shard::ShardId;
use std::rc::Rc;

/// Keys one shard considers per batch.
const BATCH: u64 = 4096;

/// Runs DEBUG POPULATE with the arguments after the subcommand.
pub async fn populate(session: &Session, args: &[Bytes]) -> Reply {
    let number =
        |at: usize| -> Option<u64> { std::str::from_utf8(args.get(at)?).ok()?.parse::<u64>().ok() };
    let Some(count) = number(0) else {
        return Reply::error("ERR value is out of range, must be positive");
    };
    let prefix = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| Bytes::from_static(b"key"));
    let size = match args.get(2) {
        None => None,
        Some(_) => match number(2) {
            Some(size) => Some(size as usize),
            None => return Reply::error("ERR value is out of range, must be positive"),
        },
    };
    let db = session.db;
    let router = &session.router;
    let shards = router.shard_count();
    for shard in router.shards() {
        let prefix = prefix.clone();
        router
            .invoke_on(shard, move |state: Rc<ShardState>| async move {
                fill(&state, db, (count, shards), &prefix, size).await;
            })
            .await;
    }
    Reply::Ok
}

/// Creates this shard's share of the keys; `(count, shards)` is the key count and the
/// server's shard count.
async fn fill(
    state: &Rc<ShardState>,
    db: DbIndex,
    (count, shards): (u64, u16),
    prefix: &[u8],
    size: Option<usize>,
) {
    let Some(set) = peregrine_commands::lookup(b"set") else {
        return;
    };
    let mut start = 0;
    while start < count {
        let end = (start + BATCH).min(count);
        let batch: Vec<KeyedCommand> = (start..end)
            .filter_map(|index| {
                let mut key = prefix.to_vec();
                key.push(b':');
                key.extend_from_slice(index.to_string().as_bytes());
                if ShardId::for_key(&key, shards) != state.id {
                    return None;
                }
                let mut value = format!("value:{index}").into_bytes();
                if let Some(size) = size {
                    value.resize(size, 0);
                }
                let argv = vec![
                    Bytes::from_static(b"SET"),
                    Bytes::from(key),
                    Bytes::from(value),
                    Bytes::from_static(b"NX"),
                ];
                Some((set, argv))
            })
            .collect();
        state.execute_unlocked(db, Default::default(), &batch);
        start = end;
        crate::expiry::pause_for_io().await;
    }
}
