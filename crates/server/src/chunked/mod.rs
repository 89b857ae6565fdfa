//! Set algebra over huge sources in bounded steps: SUNION, SINTER, SDIFF and their STORE
//! forms ([`sets`]), ZUNION, ZINTER, ZDIFF and their STORE forms ([`sorted_sets`]),
//! SINTERCARD and ZINTERCARD ([`cardinality`]); the replies of SMEMBERS, HGETALL,
//! HKEYS and HVALS of a huge set or hash ([`whole`]); and LRANGE, the ZRANGE family and
//! ZRANGESTORE over huge ranges ([`ranges`]).
//!
//! A handler is one synchronous step, so unioning two 10M-member sets in it would freeze
//! its core for seconds. When the sources hold more than [`CHUNKED_ABOVE`] members in
//! all, these commands run here instead: every key is locked (ascending shard order, the
//! destination exclusively, the sources shared), the sources are read in chunks of
//! [`CHUNK`] members ([`ChunkReader`]), lookups in the other sources go to their shards a
//! chunk at a time, and the result is built on the connection's core in steps of at most
//! [`STEP_BUDGET`] ([`Steps`]), serving other clients in between. A step's time is
//! bounded, not only its count of members, because when the result's table grows it is
//! filled at random places of fresh memory, and the first thousands of inserts after a
//! growth each fault a page in (4,096 of them took 40 ms at 10M members). The locks keep
//! every other command off these keys from the first read to the final store, so the
//! result is the one the ordinary handler would compute at that point in the serial
//! order; it is stored as the handler stores its own (same events, same encoding). The
//! reply of a read form is encoded in the same steps, in buffers of [`REPLY_CHUNK`]
//! bytes that go to the socket one after the other ([`Outcome::Chunks`]): a reply of
//! 10M members is too large to copy, or to grow, in one step.

mod cardinality;
mod ranges;
mod sets;
mod sorted_sets;
mod whole;

use crate::coordinator::{lock_in_order, run_then_release};
use crate::shard_state::{unix_millis, KeyedCommand, ShardRouter, ShardState};
use bytes::Bytes;
use peregrine_commands::SetOperation as Operation;
use peregrine_commands::{
    parse_integer, ClientOptions, CommandError, CommandSpec, EventClass, Flag, Group,
};
use peregrine_keyspace::{Collection, Db, DbIndex, UnixMillis, Value};
use peregrine_resp::{encode_bulk, encode_header, Argv, Protocol, Reply};
use peregrine_shard::{LockKey, LockMode, LockRequest, ShardId};
use std::collections::BTreeMap;
use std::future::Future;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Source members (all sources together) above which the chunked path runs.
pub const CHUNKED_ABOVE: usize = 65_536;
/// Members read or looked up per message to a source's shard.
pub const CHUNK: usize = 4096;
/// Longest the result is built for before other clients get a turn.
const STEP_BUDGET: Duration = Duration::from_millis(1);
/// Bytes of a read form's reply per buffer.
const REPLY_CHUNK: usize = 1 << 20;

/// True for the commands this module may run.
pub fn handles(spec: &CommandSpec) -> bool {
    // The group and the `fast` flag first (none of these commands is O(1) or O(log N)):
    // every other command, the pushes and pops of a pipeline included, is told no without
    // comparing names.
    matches!(
        spec.group,
        Group::Set | Group::SortedSet | Group::Hash | Group::List
    ) && !spec.has(Flag::Fast)
        && (is_single_key_read(spec)
            || matches!(
                spec.name,
                "sunion"
                    | "sinter"
                    | "sdiff"
                    | "sunionstore"
                    | "sinterstore"
                    | "sdiffstore"
                    | "sintercard"
                    | "zunion"
                    | "zinter"
                    | "zdiff"
                    | "zunionstore"
                    | "zinterstore"
                    | "zdiffstore"
                    | "zintercard"
                    | "zrangestore"
            ))
}

/// Whether [`run_if_huge`] may find the command's keys huge, decided without a message or
/// a wait (a look costs a round trip to the keys' shards and ends the pipelined batch
/// before the command): the sizes of the keys that live on this core, more than
/// [`CHUNKED_ABOVE`] elements in all; a key of another core counts as "may be" for the
/// set algebra commands, and as "no" for a single-key read (SMEMBERS, HGETALL, HKEYS,
/// HVALS, the range reads): that one goes to its shard in the pipelined batch, and the
/// shard sets it aside if it is huge there ([`split_at_huge_read`]).
pub fn worth_a_look(router: &ShardRouter, db: DbIndex, spec: &CommandSpec, argv: &Argv) -> bool {
    let mut keyspace = router.state().keyspace.borrow_mut();
    let database = keyspace.db(db);
    let now = unix_millis();
    if is_single_key_read(spec) {
        return argv.get(1).is_some_and(|key| {
            ShardId::for_key(key, router.shard_count()) == router.me()
                && replies_huge(database, spec, argv, now)
        });
    }
    let mut local = 0usize;
    for position in spec.keys.positions(argv) {
        let Some(key) = argv.get(position) else {
            continue;
        };
        if ShardId::for_key(key, router.shard_count()) != router.me() {
            return true;
        }
        // A collection's free effort is its element count.
        local += database
            .get_live(key, now)
            .map_or(0, |entry| entry.value.free_effort());
    }
    local > CHUNKED_ABOVE
}

/// True for the reads of one key this module may run: SMEMBERS, HGETALL, HKEYS, HVALS
/// and the range reads.
fn is_single_key_read(spec: &CommandSpec) -> bool {
    ranges::is_range_read(spec.name) || whole::is_whole_read(spec.name)
}

/// Whether the single-key read `argv` would reply more than [`CHUNKED_ABOVE`] elements
/// of its key in `database` (a range read counts the elements its range selects).
fn replies_huge(database: &mut Db, spec: &CommandSpec, argv: &Argv, now: UnixMillis) -> bool {
    let Some(entry) = argv.get(1).and_then(|key| database.get_live(key, now)) else {
        return false;
    };
    if ranges::is_range_read(spec.name) {
        ranges::selected(spec.name, argv, &entry.value).is_some_and(|n| n > CHUNKED_ABOVE)
    } else {
        entry.value.free_effort() > CHUNKED_ABOVE
    }
}

/// On the shard that runs a pipelined batch for a connection of another core: the
/// commands from the first single-key read that would reply a huge part of a key of this
/// shard on, taken out of `commands` (empty when there is none). The connection runs that
/// read in chunks ([`run_if_huge`], which looks again) and the rest after it, so a key on
/// another core does not stall this one for the length of its reply, while a pipeline of
/// small reads still costs one message.
pub fn split_at_huge_read(
    state: &ShardState,
    db: DbIndex,
    commands: &mut Vec<KeyedCommand>,
) -> Vec<KeyedCommand> {
    let mut keyspace = state.keyspace.borrow_mut();
    let database = keyspace.db(db);
    // The clock is read only for a candidate: most batches have none.
    let mut now = None;
    let huge = commands.iter().position(|(spec, argv)| {
        handles(spec)
            && is_single_key_read(spec)
            && replies_huge(database, spec, argv, *now.get_or_insert_with(unix_millis))
    });
    match huge {
        Some(at) => commands.split_off(at),
        None => Vec::new(),
    }
}

/// What a command run here answers.
pub enum Outcome {
    /// A reply (a STORE form's size, or an error).
    Reply(Reply),
    /// A read form's reply, already encoded, in buffers to send in order.
    Chunks(Vec<Bytes>),
}

/// The client a command runs for: its options and the protocol its replies are in.
#[derive(Clone, Copy)]
pub struct Client {
    /// The client's options (tracking, NOLOOP ...).
    pub options: ClientOptions,
    /// The protocol it speaks.
    pub protocol: Protocol,
}

/// A command to run here: where, for whom, which.
#[derive(Clone, Copy)]
pub struct Request<'a> {
    /// The connection's core's router.
    pub router: &'a ShardRouter,
    /// The client's database.
    pub db: DbIndex,
    /// The client.
    pub client: Client,
    /// The command.
    pub spec: &'static CommandSpec,
    /// Its arguments, the name first.
    pub argv: &'a Argv,
}

impl<'a> Request<'a> {
    /// Its fields, for the modules' entry points: router, database, client, command,
    /// arguments.
    fn parts(
        &self,
    ) -> (
        &'a ShardRouter,
        DbIndex,
        Client,
        &'static CommandSpec,
        &'a Argv,
    ) {
        (self.router, self.db, self.client, self.spec, self.argv)
    }
}

/// Runs the command in chunks when its sources are huge; `None` when the ordinary path
/// should run it (another command, small sources, or an error the handler replies).
pub async fn run_if_huge(request: Request<'_>) -> Option<Outcome> {
    let name = request.spec.name;
    let outcome = if name.ends_with("intercard") {
        cardinality::run_if_huge(&request).await?
    } else if whole::is_whole_read(name) {
        whole::run_if_huge(&request).await?
    } else if ranges::is_range_read(name) {
        ranges::run_if_huge(&request).await?
    } else if name == "zrangestore" {
        ranges::store_if_huge(&request).await?
    } else if name.starts_with('s') {
        sets::run_if_huge(&request).await?
    } else {
        sorted_sets::run_if_huge(&request).await?
    };
    Some(outcome.unwrap_or_else(|error| Outcome::Reply(error.into_reply())))
}

/// The keys of a `numkeys key ...` list whose count is `argv[at]`, and the position
/// after them; `None` when the count is not a positive integer or runs past the
/// arguments (the handler then replies the error).
fn counted_keys(argv: &Argv, at: usize) -> Option<(&[Bytes], usize)> {
    let count = usize::try_from(parse_integer(argv.get(at)?).ok()?)
        .ok()
        .filter(|&count| count >= 1)?;
    let end = count.checked_add(at + 1).filter(|&end| end <= argv.len())?;
    Some((&argv[at + 1..end], end))
}

/// True for the STORE forms.
fn is_store(command: &str) -> bool {
    command.ends_with("store")
}

/// One source: its key, its shard, its size (`None`: no such key) and (sorted sets) its
/// weight.
struct Source {
    key: Bytes,
    shard: ShardId,
    len: Option<usize>,
    weight: f64,
}

/// The sources at `keys`: sets, or with `sorted` sets and sorted sets; WRONGTYPE for
/// another type.
async fn sources(
    router: &ShardRouter,
    db: DbIndex,
    keys: &[Bytes],
    sorted: bool,
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
                    Some(Value::SortedSet(set)) if sorted => Ok(Some(set.len())),
                    Some(_) => Err(CommandError::WrongType),
                }
            })
            .await?;
        sources.push(Source {
            key: key.clone(),
            shard,
            len,
            weight: 1.0,
        });
    }
    Ok(sources)
}

/// True when the sources at `keys` (sets, or with `sorted` sets and sorted sets) hold more
/// than [`CHUNKED_ABOVE`] members in all; false too when one has another type (the
/// handler then replies WRONGTYPE). This first look takes no locks and only decides the
/// path: the chunked one reads the sources again under its locks.
async fn is_huge(router: &ShardRouter, db: DbIndex, keys: &[Bytes], sorted: bool) -> bool {
    let Ok(found) = sources(router, db, keys, sorted).await else {
        return false;
    };
    found.iter().filter_map(|source| source.len).sum::<usize>() > CHUNKED_ABOVE
}

/// Where a STORE command stores its result, from which sources, with which event.
struct Store<'a> {
    /// The client running the command.
    client: ClientOptions,
    destination: &'a Bytes,
    keys: &'a [Bytes],
    class: EventClass,
    event: &'static str,
}

impl<'a> Store<'a> {
    /// Where the STORE form `request` stores (its first key; its event is its name) the
    /// result of `class` it computes from `keys`.
    fn of(request: &Request<'a>, keys: &'a [Bytes], class: EventClass) -> Store<'a> {
        Store {
            client: request.client.options,
            destination: &request.argv[1],
            keys,
            class,
            event: request.spec.name,
        }
    }
}

/// The locks of one command, per shard.
struct Locks(BTreeMap<ShardId, LockRequest>);

impl Locks {
    /// Locks `keys` (shared) and `destination` (exclusively), shard by shard in ascending
    /// order.
    async fn take(
        router: &ShardRouter,
        db: DbIndex,
        keys: &[Bytes],
        destination: Option<&Bytes>,
    ) -> Locks {
        let mut modes: BTreeMap<ShardId, BTreeMap<Bytes, LockMode>> = BTreeMap::new();
        for key in keys {
            let shard = ShardId::for_key(key, router.shard_count());
            modes
                .entry(shard)
                .or_default()
                .entry(key.clone())
                .or_insert(LockMode::Shared);
        }
        if let Some(destination) = destination {
            let shard = ShardId::for_key(destination, router.shard_count());
            modes
                .entry(shard)
                .or_default()
                .insert(destination.clone(), LockMode::Exclusive);
        }
        let locks = modes
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
        Locks(locks)
    }

    /// Releases every lock still held.
    async fn release(self, router: &ShardRouter) {
        for (shard, request) in self.0 {
            run_then_release(router, shard, request, |_| ()).await;
        }
    }
}

/// Locks `destination` (exclusively) and the sources (shared) shard by shard, computes
/// the result with `compute` (a future not polled yet: it starts under the locks),
/// stores it as the commands' handlers store theirs (`del` for an empty result over an
/// existing key, else `new` for a new key and `event` of `class`), releases every lock,
/// and replies the result's size.
async fn store_locked<C: Collection + Send + 'static>(
    router: &ShardRouter,
    db: DbIndex,
    store: Store<'_>,
    compute: impl Future<Output = Result<C, CommandError>>,
) -> Result<Outcome, CommandError> {
    let Store {
        client,
        destination,
        keys,
        class,
        event,
    } = store;
    let mut locks = Locks::take(router, db, keys, Some(destination)).await;
    let stored = match compute.await {
        Ok(result) => {
            let len = result.len();
            let destination_shard = ShardId::for_key(destination, router.shard_count());
            let request = locks.0.remove(&destination_shard).unwrap_or_default();
            let destination = destination.clone();
            let events = run_then_release(router, destination_shard, request, move |state| {
                state.capture_before_write(db, &destination);
                state.with_ctx(db, ClientOptions::default(), |ctx| {
                    ctx.store(&destination, result, class, event)
                });
                state.record_key_state(db, &destination, client);
                state.stats.borrow_mut().dirty += 1;
                state.signal_key(db, &destination);
                crate::blocking::serve_ready_now(state);
                state.take_key_events()
            })
            .await;
            // Published from this core after the reply, as the events of the other
            // multi-shard writes.
            router.state().notifier.borrow_mut().extend(events);
            Ok(Outcome::Reply(Reply::Integer(len as i64)))
        }
        Err(error) => Err(error),
    };
    locks.release(router).await;
    stored
}

/// One chunk of a single key's reply, read on the key's shard.
struct KeyChunk<E> {
    /// Elements the whole reply has (what the first look sizes it by).
    size: usize,
    /// This chunk's elements, in reply order.
    elements: Vec<E>,
    /// Where the next chunk starts; `None` when this one ends the reply.
    next: Option<u64>,
    /// The reply's shape.
    shape: Shape,
}

/// Runs a read of one key (`request`'s `argv[1]`) whose reply may be too long for one
/// step. `read_chunk(shard, key, None)` first looks without a lock and sizes the reply
/// (`None`, a missing key, or an error: the handler replies); above [`CHUNKED_ABOVE`]
/// elements, under a shared lock on the key, `read_chunk(shard, key, Some(cursor))` reads
/// chunk after chunk from cursor 0, `encode` writing each element into the reply, until a
/// chunk ends it (or the key is gone: an empty reply).
async fn read_key_in_chunks<E, F, Fut>(
    request: &Request<'_>,
    read_chunk: F,
    encode: impl Fn(&mut ChunkedReply, &E),
) -> Option<Result<Outcome, CommandError>>
where
    F: Fn(ShardId, Bytes, Option<u64>) -> Fut,
    Fut: Future<Output = Result<Option<KeyChunk<E>>, CommandError>>,
{
    let (router, db, client, spec, argv) = request.parts();
    let key = argv.get(1)?.clone();
    let shard = ShardId::for_key(&key, router.shard_count());
    let first = read_chunk(shard, key.clone(), None).await.ok()??;
    if first.size <= CHUNKED_ABOVE {
        return None;
    }
    let read = async {
        let mut reply = ChunkedReply::new(client.protocol);
        let mut steps = Steps::new();
        let mut shape = first.shape;
        let mut cursor = Some(0);
        while let Some(at) = cursor {
            // Of another type now: WRONGTYPE.
            let Some(chunk) = read_chunk(shard, key.clone(), Some(at)).await? else {
                break;
            };
            for element in &chunk.elements {
                encode(&mut reply, element);
            }
            steps.tick_by(chunk.elements.len() as u32).await;
            (shape, cursor) = (chunk.shape, chunk.next);
        }
        Ok(reply.finish(shape))
    };
    Some(
        read_locked(
            router,
            db,
            client.options,
            spec,
            std::slice::from_ref(&key),
            read,
        )
        .await,
    )
}

/// Locks the sources at `keys` (shared), notes the read as the handler's lookups note it
/// (hits and misses, `keymiss` events, access times; a tracking client remembers every
/// key), runs
/// `read` (a future not polled yet: it starts under the locks) and releases the locks.
async fn read_locked(
    router: &ShardRouter,
    db: DbIndex,
    client: ClientOptions,
    spec: &'static CommandSpec,
    keys: &[Bytes],
    read: impl Future<Output = Result<Outcome, CommandError>>,
) -> Result<Outcome, CommandError> {
    let locks = Locks::take(router, db, keys, None).await;
    let mut by_shard: BTreeMap<ShardId, Vec<Bytes>> = BTreeMap::new();
    for key in keys {
        let shard = ShardId::for_key(key, router.shard_count());
        by_shard.entry(shard).or_default().push(key.clone());
    }
    for (shard, keys) in by_shard {
        let events = router
            .invoke_on(shard, move |state: Rc<ShardState>| async move {
                crate::tracking::remember_remote_read(&state, client, spec, &keys);
                state.with_ctx(db, client, |ctx| {
                    for key in &keys {
                        ctx.lookup_read(key);
                    }
                });
                state.take_key_events()
            })
            .await;
        router.state().notifier.borrow_mut().extend(events);
    }
    let outcome = read.await;
    locks.release(router).await;
    outcome
}

/// What a [`ChunkedReply`] is, as the handlers' [`Reply`] would be.
#[derive(Clone, Copy)]
enum Shape {
    /// An array of members ([`Reply::Array`]).
    Array,
    /// A set of members ([`Reply::Set`]: `~` in RESP3).
    Set,
    /// Members with their scores ([`Reply::Pairs`]).
    Pairs,
    /// Fields with their values ([`Reply::Map`]: `%` in RESP3).
    Map,
}

/// A read form's reply, encoded as its elements come in buffers of about
/// [`REPLY_CHUNK`] bytes; the header, which needs the count, is made last.
struct ChunkedReply {
    protocol: Protocol,
    chunks: Vec<Bytes>,
    current: Vec<u8>,
    count: usize,
}

impl ChunkedReply {
    fn new(protocol: Protocol) -> ChunkedReply {
        ChunkedReply {
            protocol,
            chunks: Vec::new(),
            current: Vec::with_capacity(REPLY_CHUNK),
            count: 0,
        }
    }

    /// Starts a new buffer when the current one has no room for `bytes` more (a buffer
    /// is never grown: that would copy it).
    fn make_room(&mut self, bytes: usize) {
        if !self.current.is_empty() && self.current.len() + bytes > self.current.capacity() {
            let full = std::mem::replace(&mut self.current, Vec::with_capacity(REPLY_CHUNK));
            self.chunks.push(Bytes::from(full));
        }
    }

    /// One member, as a bulk string.
    fn member(&mut self, member: &[u8]) {
        self.make_room(member.len() + 32);
        encode_bulk(&mut self.current, member);
        self.count += 1;
    }

    /// One member with its score: a pair in RESP3, two elements in RESP2 (the reply of
    /// ZUNION ... WITHSCORES).
    fn scored(&mut self, member: &[u8], score: f64) {
        self.make_room(member.len() + 64);
        if self.protocol == Protocol::Resp3 {
            self.current.extend_from_slice(b"*2\r\n");
        }
        encode_bulk(&mut self.current, member);
        Reply::Double(score).encode(self.protocol, &mut self.current);
        self.count += 1;
    }

    /// One field and its value (the reply of HGETALL).
    fn pair(&mut self, field: &[u8], value: &[u8]) {
        self.make_room(field.len() + value.len() + 48);
        encode_bulk(&mut self.current, field);
        encode_bulk(&mut self.current, value);
        self.count += 1;
    }

    /// The buffers to send, the header first, for a reply of `shape`.
    fn finish(mut self, shape: Shape) -> Outcome {
        let resp3 = self.protocol == Protocol::Resp3;
        let (marker, count) = match shape {
            Shape::Array => (b'*', self.count),
            Shape::Set if resp3 => (b'~', self.count),
            Shape::Set => (b'*', self.count),
            Shape::Pairs if resp3 => (b'*', self.count),
            Shape::Map if resp3 => (b'%', self.count),
            Shape::Pairs | Shape::Map => (b'*', 2 * self.count),
        };
        let mut header = Vec::with_capacity(24);
        encode_header(&mut header, marker, count);
        let mut chunks = Vec::with_capacity(self.chunks.len() + 2);
        chunks.push(Bytes::from(header));
        chunks.append(&mut self.chunks);
        if !self.current.is_empty() {
            chunks.push(Bytes::from(self.current));
        }
        Outcome::Chunks(chunks)
    }
}

/// Bounds the steps of building a result: [`Steps::tick`] after each element pauses for
/// other clients once the step has run [`STEP_BUDGET`].
struct Steps {
    began: Instant,
    elements: u32,
}

impl Steps {
    fn new() -> Steps {
        Steps {
            began: Instant::now(),
            elements: 0,
        }
    }

    /// `done` more elements done in one go (the clock is read at once).
    async fn tick_by(&mut self, done: u32) {
        self.elements = self.elements.wrapping_add(done);
        if self.began.elapsed() >= STEP_BUDGET {
            crate::expiry::pause_for_io().await;
            self.began = Instant::now();
        }
    }

    /// One more element done (the clock is read every 64).
    async fn tick(&mut self) {
        self.elements = self.elements.wrapping_add(1);
        if self.elements.is_multiple_of(64) && self.began.elapsed() >= STEP_BUDGET {
            crate::expiry::pause_for_io().await;
            self.began = Instant::now();
        }
    }
}

/// A source's members and scores (1 for a plain set's members), [`CHUNK`] at a time.
type Chunk = Vec<(Vec<u8>, f64)>;

/// Reads a source a chunk at a time: a set through its stable scan cursor, a sorted set
/// by rank.
struct ChunkReader<'a> {
    router: &'a ShardRouter,
    db: DbIndex,
    source: &'a Source,
    /// Where the next chunk starts; `None` once every member was read.
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

    /// The next chunk, after a pause for I/O unless it is the first; `None` when every
    /// member was read.
    async fn next(&mut self) -> Option<Chunk> {
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
                match keyspace
                    .db(db)
                    .get_live(&key, unix_millis())
                    .map(|entry| &entry.value)
                {
                    Some(Value::Set(set)) => {
                        next = cursor;
                        loop {
                            next = set.scan(next, |member| chunk.push((member.to_vec(), 1.0)));
                            if next == 0 || chunk.len() >= CHUNK {
                                break;
                            }
                        }
                    }
                    Some(Value::SortedSet(set)) => {
                        let start = usize::try_from(cursor).unwrap_or(usize::MAX);
                        let end = start.saturating_add(CHUNK);
                        set.walk(start..end, false, |member, score| {
                            chunk.push((member.to_vec(), score))
                        });
                        if end < set.len() {
                            next = end as u64;
                        }
                    }
                    _ => {}
                }
                (chunk, next)
            })
            .await;
        self.cursor = (next != 0).then_some(next);
        Some(chunk)
    }
}

/// Hands every member of `sources` (in order) with its score and source to `visit`, in
/// bounded steps: a union.
async fn each_member<'a>(
    router: &ShardRouter,
    db: DbIndex,
    sources: impl Iterator<Item = &'a Source>,
    mut visit: impl FnMut(&Source, &[u8], f64),
) {
    let mut steps = Steps::new();
    for source in sources.filter(|source| source.len.is_some()) {
        let mut reader = ChunkReader::new(router, db, source);
        while let Some(chunk) = reader.next().await {
            for (member, score) in chunk {
                visit(source, &member, score);
                steps.tick().await;
            }
        }
    }
}

/// Hands every member of the smallest of `sources` that all the others hold to `visit`,
/// in bounded steps, until `visit` returns false: an intersection (nothing when a source
/// is missing). Its score is the smallest's through `first`, then combined with its
/// score in each other source, in ascending size, through `combine` (target, score
/// there, that source). The sources are locked: each member comes once.
async fn each_member_of_intersection(
    router: &ShardRouter,
    db: DbIndex,
    mut sources: Vec<Source>,
    first: impl Fn(f64, &Source) -> f64,
    combine: impl Fn(&mut f64, f64, &Source),
    mut visit: impl FnMut(&[u8], f64) -> bool,
) {
    if sources.iter().any(|source| source.len.is_none()) {
        return;
    }
    sources.sort_by_key(|source| source.len);
    let Some((smallest, others)) = sources.split_first() else {
        return;
    };
    let mut steps = Steps::new();
    let mut reader = ChunkReader::new(router, db, smallest);
    while let Some(mut chunk) = reader.next().await {
        for (_, score) in chunk.iter_mut() {
            *score = first(*score, smallest);
        }
        for other in others {
            let (looked_up, scores) = scores_in(router, db, other, chunk).await;
            chunk = looked_up
                .into_iter()
                .zip(scores)
                .filter_map(|((member, mut target), score)| {
                    combine(&mut target, score?, other);
                    Some((member, target))
                })
                .collect();
        }
        for (member, score) in chunk {
            if !visit(&member, score) {
                return;
            }
            steps.tick().await;
        }
    }
}

/// Hands every member of the smallest of `sources` that all the others hold to `visit`
/// until it returns false: an intersection of members, their scores left aside.
async fn each_member_of_plain_intersection(
    router: &ShardRouter,
    db: DbIndex,
    sources: Vec<Source>,
    visit: impl FnMut(&[u8], f64) -> bool,
) {
    let keep_any = |score: f64, _: &Source| score;
    each_member_of_intersection(router, db, sources, keep_any, |_, _, _| {}, visit).await;
}

/// Hands every member of the first of `sources` that none of the others holds, with its
/// score, to `visit`, in bounded steps: a difference.
async fn each_member_of_difference(
    router: &ShardRouter,
    db: DbIndex,
    sources: &[Source],
    mut visit: impl FnMut(&[u8], f64),
) {
    let Some((first, others)) = sources.split_first() else {
        return;
    };
    let mut steps = Steps::new();
    let mut reader = ChunkReader::new(router, db, first);
    while first.len.is_some() {
        let Some(mut chunk) = reader.next().await else {
            break;
        };
        for other in others.iter().filter(|other| other.len.is_some()) {
            chunk = keep(router, db, other, chunk, false).await;
        }
        for (member, score) in chunk {
            visit(&member, score);
            steps.tick().await;
        }
    }
}

/// The members of `chunk` that are (`present`) or are not in `source`.
async fn keep(
    router: &ShardRouter,
    db: DbIndex,
    source: &Source,
    chunk: Chunk,
    present: bool,
) -> Chunk {
    let (chunk, scores) = scores_in(router, db, source, chunk).await;
    chunk
        .into_iter()
        .zip(scores)
        .filter(|(_, score)| score.is_some() == present)
        .map(|(element, _)| element)
        .collect()
}

/// The score each member of `chunk` has in `source` (1 for a plain set's members;
/// `None`: not a member), in order.
async fn scores_in(
    router: &ShardRouter,
    db: DbIndex,
    source: &Source,
    chunk: Chunk,
) -> (Chunk, Vec<Option<f64>>) {
    let key = source.key.clone();
    router
        .invoke_on(source.shard, move |state: Rc<ShardState>| async move {
            let scores = {
                let mut keyspace = state.keyspace.borrow_mut();
                let value = keyspace
                    .db(db)
                    .get_live(&key, unix_millis())
                    .map(|entry| &entry.value);
                chunk
                    .iter()
                    .map(|(member, _)| match value {
                        Some(Value::Set(set)) => set.contains(member).then_some(1.0),
                        Some(Value::SortedSet(set)) => set.score(member),
                        _ => None,
                    })
                    .collect()
            };
            (chunk, scores)
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::handles;
    use peregrine_commands::lookup;

    #[test]
    fn every_chunked_command_is_recognised_and_no_other() {
        let chunked = [
            "sunion",
            "sinter",
            "sdiff",
            "sunionstore",
            "sinterstore",
            "sdiffstore",
            "sintercard",
            "zunion",
            "zinter",
            "zdiff",
            "zunionstore",
            "zinterstore",
            "zdiffstore",
            "zintercard",
            "smembers",
            "hgetall",
            "hkeys",
            "hvals",
            "lrange",
            "zrange",
            "zrevrange",
            "zrangebyscore",
            "zrevrangebyscore",
            "zrangebylex",
            "zrevrangebylex",
            "zrangestore",
        ];
        for name in chunked {
            let spec = lookup(name.as_bytes()).expect(name);
            assert!(handles(spec), "{name} is not run in chunks");
        }
        for name in [
            "lpush", "lpop", "sadd", "spop", "hset", "zadd", "zpopmin", "get", "zrank",
        ] {
            let spec = lookup(name.as_bytes()).expect(name);
            assert!(!handles(spec), "{name} is run in chunks");
        }
    }
}
