//! Set algebra over huge sets in bounded steps: SUNIONSTORE, SINTERSTORE, SDIFFSTORE.
//!
//! A handler is one synchronous step, so unioning two 10M-member sets in it would freeze
//! its core for seconds. When the sources hold more than [`CHUNKED_ABOVE`] members in
//! all, these commands run here instead: every key is locked (ascending shard order, the
//! destination exclusively, the sources shared), the sources are read in chunks of
//! [`CHUNK`] members through their own stable scan cursors, membership tests go to the
//! owning shards a chunk at a time, and the result is built on the connection's core in
//! steps of at most [`STEP_BUDGET`], serving other clients in between: a step's time is
//! bounded, not only its count of members, because when the result's table grows it is
//! filled at random places of fresh memory, and the first thousands of inserts after a
//! growth each fault a page in (4,096 of them took 40 ms at 10M members). The locks keep every other
//! command off these keys from the first read to the final store, so the result is the
//! one the ordinary handler would compute at that point in the serial order.

use crate::coordinator::{lock_in_order, run_then_release};
use crate::shard_state::{unix_millis, ShardRouter, ShardState};
use bytes::Bytes;
use peregrine_commands::{ClientOptions, CommandError, CommandSpec, EventClass};
use peregrine_keyspace::collections::{EncodingLimits, Set};
use peregrine_keyspace::{DbIndex, Value};
use peregrine_resp::{Argv, Reply};
use peregrine_shard::{LockKey, LockMode, LockRequest, ShardId};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Source members (all sources together) above which the chunked path runs.
pub const CHUNKED_ABOVE: usize = 65_536;
/// Members read or tested per step.
pub const CHUNK: usize = 4096;
/// Longest the result is built for before other clients get a turn.
const STEP_BUDGET: Duration = Duration::from_millis(1);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Operation {
    Union,
    Intersection,
    Difference,
}

impl Operation {
    /// The keyspace event of the command.
    fn event(self) -> &'static str {
        match self {
            Operation::Union => "sunionstore",
            Operation::Intersection => "sinterstore",
            Operation::Difference => "sdiffstore",
        }
    }
}

/// One source set: its key, its shard and its size (`None`: no such key).
struct Source {
    key: Bytes,
    shard: ShardId,
    len: Option<usize>,
}

/// True for the commands this module may run.
pub fn handles(spec: &CommandSpec) -> bool {
    matches!(spec.name, "sunionstore" | "sinterstore" | "sdiffstore")
}

/// Runs `argv` in chunks when it is a set STORE over huge sources; `None` when the
/// ordinary path should run it (another command, or small sources).
pub async fn run_if_huge(
    router: &ShardRouter,
    db: DbIndex,
    spec: &'static CommandSpec,
    argv: &Argv,
) -> Option<Reply> {
    let operation = match spec.name {
        "sunionstore" => Operation::Union,
        "sinterstore" => Operation::Intersection,
        "sdiffstore" => Operation::Difference,
        _ => return None,
    };
    // A first look without locks only decides the path; types are checked under locks.
    let sources = match sizes(router, db, &argv[2..]).await {
        Ok(sources) => sources,
        Err(_) => return None,
    };
    let total: usize = sources.iter().filter_map(|source| source.len).sum();
    if total <= CHUNKED_ABOVE {
        return None;
    }
    Some(
        run_locked(router, db, operation, argv)
            .await
            .unwrap_or_else(CommandError::into_reply),
    )
}

/// The sizes of the sets at `keys`; WRONGTYPE for another type.
async fn sizes(
    router: &ShardRouter,
    db: DbIndex,
    keys: &[Bytes],
) -> Result<Vec<Source>, CommandError> {
    let mut sources = Vec::with_capacity(keys.len());
    for key in keys {
        let shard = ShardId::for_key(key, router.shard_count());
        let probe = key.clone();
        let len = router
            .invoke_on(shard, move |state: Rc<ShardState>| async move {
                let mut keyspace = state.keyspace.borrow_mut();
                match keyspace
                    .db(db)
                    .get_live(&probe, unix_millis())
                    .map(|entry| &entry.value)
                {
                    None => Ok(None),
                    Some(Value::Set(set)) => Ok(Some(set.len())),
                    Some(_) => Err(CommandError::WrongType),
                }
            })
            .await?;
        sources.push(Source {
            key: key.clone(),
            shard,
            len,
        });
    }
    Ok(sources)
}

async fn run_locked(
    router: &ShardRouter,
    db: DbIndex,
    operation: Operation,
    argv: &Argv,
) -> Result<Reply, CommandError> {
    let destination = argv[1].clone();
    let mut modes: BTreeMap<ShardId, BTreeMap<Bytes, LockMode>> = BTreeMap::new();
    for key in &argv[2..] {
        let shard = ShardId::for_key(key, router.shard_count());
        modes
            .entry(shard)
            .or_default()
            .entry(key.clone())
            .or_insert(LockMode::Shared);
    }
    let destination_shard = ShardId::for_key(&destination, router.shard_count());
    modes
        .entry(destination_shard)
        .or_default()
        .insert(destination.clone(), LockMode::Exclusive);
    let mut locks: BTreeMap<ShardId, LockRequest> = modes
        .into_iter()
        .map(|(shard, keys)| {
            let keys = keys
                .into_iter()
                .map(|(key, mode)| (LockKey::for_key(db.0, &key), mode))
                .collect();
            (shard, LockRequest::new(keys, None))
        })
        .collect();
    lock_in_order(router, &locks).await;
    let outcome = compute(router, db, operation, &argv[2..]).await;
    let stored = match outcome {
        Ok(result) => {
            let len = result.len();
            let request = locks.remove(&destination_shard).unwrap_or_default();
            let event = operation.event();
            let events = run_then_release(router, destination_shard, request, move |state| {
                state.capture_before_write(db, &destination);
                // As the command's handler stores it: `del` for an empty result over an
                // existing key, else `new` (a new key) and the command's event.
                state.with_ctx(db, ClientOptions::default(), |ctx| {
                    ctx.store(&destination, result, EventClass::Set, event)
                });
                state.record_key_state(db, &destination);
                state.stats.borrow_mut().dirty += 1;
                state.signal_key(db, &destination);
                crate::blocking::serve_ready_now(state);
                state.take_key_events()
            })
            .await;
            // Published from this core after the reply, as the events of the other
            // multi-shard writes.
            router.state().notifier.borrow_mut().extend(events);
            Ok(Reply::Integer(len as i64))
        }
        Err(error) => Err(error),
    };
    for (shard, request) in locks {
        run_then_release(router, shard, request, |_| ()).await;
    }
    stored
}

/// The result set, built a chunk at a time.
async fn compute(
    router: &ShardRouter,
    db: DbIndex,
    operation: Operation,
    keys: &[Bytes],
) -> Result<Set, CommandError> {
    let mut sources = sizes(router, db, keys).await?;
    let mut result = ResultSet::new(router.state().limits().encoding);
    match operation {
        Operation::Union => {
            for source in sources.iter().filter(|source| source.len.is_some()) {
                let mut reader = ChunkReader::new(router, db, source);
                while let Some(chunk) = reader.next().await {
                    result.insert_all(chunk).await;
                }
            }
        }
        Operation::Intersection => {
            if sources.iter().any(|source| source.len.is_none()) {
                return Ok(Set::new());
            }
            sources.sort_by_key(|source| source.len);
            let (smallest, others) = sources.split_at(1);
            let mut reader = ChunkReader::new(router, db, &smallest[0]);
            while let Some(mut chunk) = reader.next().await {
                for other in others {
                    chunk = keep_members(router, db, other, chunk, true).await;
                }
                result.insert_all(chunk).await;
            }
        }
        Operation::Difference => {
            let Some((first, others)) = sources.split_first() else {
                return Ok(Set::new());
            };
            if first.len.is_none() {
                return Ok(Set::new());
            }
            let mut reader = ChunkReader::new(router, db, first);
            while let Some(mut chunk) = reader.next().await {
                for other in others.iter().filter(|other| other.len.is_some()) {
                    chunk = keep_members(router, db, other, chunk, false).await;
                }
                result.insert_all(chunk).await;
            }
        }
    }
    Ok(result.set)
}

/// The result set being built, in steps of at most [`STEP_BUDGET`].
struct ResultSet {
    set: Set,
    limits: EncodingLimits,
    step_began: Instant,
}

impl ResultSet {
    fn new(limits: EncodingLimits) -> ResultSet {
        ResultSet {
            set: Set::new(),
            limits,
            step_began: Instant::now(),
        }
    }

    /// Inserts `members`, pausing for other clients whenever a step has run its budget.
    async fn insert_all(&mut self, members: Vec<Vec<u8>>) {
        for (count, member) in members.iter().enumerate() {
            self.set.insert(member, &self.limits);
            if count % 64 == 63 && self.step_began.elapsed() >= STEP_BUDGET {
                crate::expiry::pause_for_io().await;
                self.step_began = Instant::now();
            }
        }
    }
}

/// Reads the set at a source a chunk at a time through its scan cursor.
struct ChunkReader<'a> {
    router: &'a ShardRouter,
    db: DbIndex,
    source: &'a Source,
    /// Where the next chunk starts; `None` once the scan is complete.
    cursor: Option<u64>,
}

impl<'a> ChunkReader<'a> {
    fn new(router: &'a ShardRouter, db: DbIndex, source: &'a Source) -> ChunkReader<'a> {
        ChunkReader {
            router,
            db,
            source,
            cursor: Some(0),
        }
    }

    /// The next chunk of members, pausing for I/O before every chunk but the first;
    /// `None` when every member was read.
    async fn next(&mut self) -> Option<Vec<Vec<u8>>> {
        let cursor = self.cursor?;
        if cursor != 0 {
            crate::expiry::pause_for_io().await;
        }
        let (key, db) = (self.source.key.clone(), self.db);
        let (chunk, next) = self
            .router
            .invoke_on(self.source.shard, move |state: Rc<ShardState>| async move {
                let mut keyspace = state.keyspace.borrow_mut();
                let mut chunk = Vec::with_capacity(CHUNK);
                let mut next = 0;
                if let Some(Value::Set(set)) = keyspace
                    .db(db)
                    .get_live(&key, unix_millis())
                    .map(|entry| &entry.value)
                {
                    next = cursor;
                    loop {
                        next = set.scan(next, |member| chunk.push(member.to_vec()));
                        if next == 0 || chunk.len() >= CHUNK {
                            break;
                        }
                    }
                }
                (chunk, next)
            })
            .await;
        self.cursor = (next != 0).then_some(next);
        Some(chunk)
    }
}

/// The members of `chunk` that are (`present`) or are not in the set at `source`.
async fn keep_members(
    router: &ShardRouter,
    db: DbIndex,
    source: &Source,
    chunk: Vec<Vec<u8>>,
    present: bool,
) -> Vec<Vec<u8>> {
    let key = source.key.clone();
    router
        .invoke_on(source.shard, move |state: Rc<ShardState>| async move {
            let mut keyspace = state.keyspace.borrow_mut();
            let set = match keyspace
                .db(db)
                .get_live(&key, unix_millis())
                .map(|entry| &entry.value)
            {
                Some(Value::Set(set)) => Some(set),
                _ => None,
            };
            chunk
                .into_iter()
                .filter(|member| set.is_some_and(|set| set.contains(member)) == present)
                .collect()
        })
        .await
}
