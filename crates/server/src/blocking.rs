//! Blocked clients: BLPOP, BLMOVE, BZPOPMIN ... waiting for data on any shard.
//!
//! A blocking command first runs like any command; only when it finds nothing does its
//! client park. Each shard keeps a registry of the clients parked on its keys, queued per
//! key in the order they blocked (a global sequence number), and serves them right after
//! the write that gave a key data, before the next command of the writer's batch runs, as
//! Redis does after every command.
//!
//! Two kinds of waiter:
//! - **Served**: all keys of the command live on the shard. The shard itself re-runs the
//!   command's handler for the waiter, in the same step as the write, and hands the
//!   reply over. An element is popped exactly once: by the waiter that gets the reply.
//!   The timeout runs on the shard too, so a timeout and a serve can never both happen.
//! - **Woken**: the command's keys span shards (BLPOP on keys of two shards, BLMOVE to a
//!   key elsewhere). The shard only tells the client that a key got data; the client
//!   retries the command through the ordinary atomic cross-shard path, then withdraws
//!   from every shard, parking again (with its original place in line) if another client
//!   was faster. Nothing is popped on its behalf, so nothing can be lost or doubled. The
//!   key that woke it is *held* until it withdraws: the clients behind it in that key's
//!   line are served only then, so that it keeps its turn as in Redis.
//!
//! Stream reads (XREAD, XREADGROUP) are released by news rather than by any write: a
//! stream exists while empty and is written without news for a given reader (XACK,
//! another group's read, a consumer's seen time), so a waiter's key is tested with
//! [`peregrine_commands::stream::read::has_news`] before it is served or woken, and a
//! stream reader that finds nothing does not stop the queue (the ones behind may read
//! another group). A transaction serves the clients it feeds once, after its last
//! command ([`Serving`]); FLUSHALL, FLUSHDB and SWAPDB re-examine every waiter of the
//! databases they change.
//!
//! While a shard's keys are locked by a multi-shard operation, serving waits for the
//! locks in a background task rather than running inline.

use crate::dispatch::Session;
use crate::shard_state::{KeyedCommand, Serving, ShardRouter, ShardState};
use crate::ticks::Ticks;
use bytes::Bytes;
use glommio::net::TcpStream;
use peregrine_commands::{ClientOptions, CommandSpec, Flag, Group, ShardCtx};
use peregrine_keyspace::DbIndex;
use peregrine_resp::{Argv, Reply};
use peregrine_shard::{LockRequest, LockTable, ShardId};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// What ends a wait, as seen by the waiting client.
#[derive(Debug)]
pub enum Outcome {
    /// The shard ran the command for the client: its reply, and the ticks the run took
    /// (the command's execution time, for its statistics and the slow log).
    Served(Reply, u64),
    /// A watched key got data: retry the command.
    Woken,
    /// The wait timed out (handled by the shard for served waiters).
    TimedOut,
    /// CLIENT UNBLOCK: `true` when it asked for an error instead of a timeout reply.
    Unblocked(bool),
    /// The client went away or withdrew.
    Cancelled,
}

/// A single-assignment value that a task can wait for, on one thread.
pub struct Slot<T> {
    inner: Rc<RefCell<(Option<T>, Option<Waker>)>>,
}

impl<T> Clone for Slot<T> {
    fn clone(&self) -> Self {
        Slot {
            inner: self.inner.clone(),
        }
    }
}

impl<T> Slot<T> {
    /// An empty slot.
    pub fn new() -> Slot<T> {
        Slot {
            inner: Rc::new(RefCell::new((None, None))),
        }
    }

    /// Fills the slot (a second fill is ignored) and wakes its waiter.
    pub fn fill(&self, value: T) {
        let mut inner = self.inner.borrow_mut();
        if inner.0.is_none() {
            inner.0 = Some(value);
            if let Some(waker) = inner.1.take() {
                waker.wake();
            }
        }
    }

    /// True when `other` is this very slot (a clone of it).
    pub fn is(&self, other: &Slot<T>) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner)
    }

    /// Takes the value if the slot was filled.
    pub fn take(&self) -> Option<T> {
        self.inner.borrow_mut().0.take()
    }
}

impl<T> Future for Slot<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<T> {
        let mut inner = self.inner.borrow_mut();
        match inner.0.take() {
            Some(value) => Poll::Ready(value),
            None => {
                inner.1 = Some(context.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// How a parked client is released.
enum Release {
    /// The shard runs this command for it (all its keys are local).
    Serve(KeyedCommand, ClientOptions),
    /// The shard only wakes it.
    Wake,
}

/// One parked client on one shard.
struct Waiter {
    client: u64,
    sequence: u64,
    db: DbIndex,
    keys: Vec<Bytes>,
    release: Release,
    /// XREAD/XREADGROUP's arguments: a write to a stream key releases the client only
    /// when it brings news for it ([`peregrine_commands::stream::read::has_news`]).
    stream_read: Option<Argv>,
    slot: Slot<Outcome>,
}

/// The clients parked on one shard's keys.
#[derive(Default)]
pub struct BlockedClients {
    waiters: slab::Slab<Waiter>,
    /// Per watched key, waiter indexes in blocking order.
    by_key: HashMap<(DbIndex, Bytes), VecDeque<usize>, ahash::RandomState>,
    /// Keys that received data and have waiters, to serve.
    ready: VecDeque<(DbIndex, Bytes)>,
    /// Wakes the deferred server (serving while keys are locked).
    deferred: Cell<Option<Waker>>,
    /// Keys whose line waits for the woken client at its head to retry (key → client):
    /// released, and served again, when that client withdraws.
    held: HashMap<(DbIndex, Bytes), u64, ahash::RandomState>,
    /// Clients whose parking is under way here (their command waits for locks before it
    /// runs and parks), and whether they withdrew meanwhile: such a client must neither
    /// run nor park once its turn comes.
    parking: HashMap<u64, bool, ahash::RandomState>,
    /// Woken clients that CLIENT UNBLOCK removed from here (`true`: with ERROR), so that
    /// one retrying its command meanwhile still learns it when it next looks for a
    /// wake-up; forgotten when it withdraws.
    unblocked: HashMap<u64, bool, ahash::RandomState>,
}

impl BlockedClients {
    /// True when no client is parked here.
    pub fn is_empty(&self) -> bool {
        self.waiters.is_empty()
    }

    fn park(&mut self, waiter: Waiter) -> usize {
        let (db, keys, sequence) = (waiter.db, waiter.keys.clone(), waiter.sequence);
        let index = self.waiters.insert(waiter);
        for key in keys {
            let queue = self.by_key.entry((db, key)).or_default();
            // Keep blocking order: a woken client that parks again keeps its place.
            let at = queue
                .iter()
                .position(|&other| {
                    self.waiters
                        .get(other)
                        .is_some_and(|other| other.sequence > sequence)
                })
                .unwrap_or(queue.len());
            queue.insert(at, index);
        }
        index
    }

    fn unpark(&mut self, index: usize) -> Option<Waiter> {
        let waiter = self.waiters.try_remove(index)?;
        for key in &waiter.keys {
            let entry = (waiter.db, key.clone());
            if let Some(queue) = self.by_key.get_mut(&entry) {
                queue.retain(|&other| other != index);
                if queue.is_empty() {
                    self.by_key.remove(&entry);
                }
            }
        }
        Some(waiter)
    }

    /// Notes that `key` received data if anyone waits for it.
    fn signal(&mut self, db: DbIndex, key: &Bytes) {
        if self.by_key.contains_key(&(db, key.clone())) && !self.ready.contains(&(db, key.clone()))
        {
            self.ready.push_back((db, key.clone()));
        }
    }

    /// Releases the keys held for `client` and marks them to be served; true when any was.
    fn release_holds(&mut self, client: u64) -> bool {
        let mut released = Vec::new();
        self.held.retain(|key, holder| {
            let keep = *holder != client;
            if !keep {
                released.push(key.clone());
            }
            keep
        });
        for (db, key) in &released {
            self.signal(*db, key);
        }
        !released.is_empty()
    }

    /// Ends every wait of `client` here: `Some(error)` for CLIENT UNBLOCK (remembered for
    /// a woken client, see [`BlockedClients::unblocked`]), `None` when it withdraws. True
    /// when it waited here.
    fn end_waits(&mut self, client: u64, unblock: Option<bool>) -> bool {
        if unblock.is_none() {
            if let Some(withdrawn) = self.parking.get_mut(&client) {
                *withdrawn = true;
            }
            self.unblocked.remove(&client);
        }
        let indexes = self.of_client(client);
        for &index in &indexes {
            if let Some(waiter) = self.unpark(index) {
                // A woken client may be retrying: it learns the unblock at its next look.
                if let (Some(error), Release::Wake) = (unblock, &waiter.release) {
                    self.unblocked.insert(client, error);
                }
                waiter.slot.fill(match unblock {
                    Some(error) => Outcome::Unblocked(error),
                    None => Outcome::Cancelled,
                });
            }
        }
        !indexes.is_empty()
    }

    /// Where the woken client `client` learns how its wait here ends: its waiter's slot,
    /// or (when it is not registered here any more) the outcome itself.
    fn next_wake(&self, client: u64) -> Result<Slot<Outcome>, Outcome> {
        let found = self.of_client(client).into_iter().next();
        match found.and_then(|index| self.waiters.get(index)) {
            Some(waiter) => Ok(waiter.slot.clone()),
            None => Err(match self.unblocked.get(&client) {
                Some(&error) => Outcome::Unblocked(error),
                None => Outcome::Cancelled,
            }),
        }
    }

    /// The parked clients of `client` (one blocking command at a time: at most one).
    fn of_client(&self, client: u64) -> Vec<usize> {
        self.waiters
            .iter()
            .filter(|(_, waiter)| waiter.client == client)
            .map(|(index, _)| index)
            .collect()
    }
}

/// What a blocking command's handler replies when it finds nothing (as inside MULTI):
/// a null bulk for the commands that reply with one element, a null array otherwise.
fn nothing_reply(spec: &CommandSpec) -> Reply {
    match spec.name {
        "blmove" | "brpoplpush" => Reply::Nil,
        _ => Reply::NilArray,
    }
}

/// The reply of a blocking command that waited in vain: a null array for every one of
/// them, BLMOVE and BRPOPLPUSH included, as Redis's timeout reply.
fn timeout_reply() -> Reply {
    Reply::NilArray
}

/// A waiter's place in the registry, left when the wait ends however it ends (its
/// future dropped: the client went away mid-wait); the client counts in INFO's
/// `blocked_clients` meanwhile.
struct Parked<'a> {
    state: &'a ShardState,
    index: Cell<Option<usize>>,
    slot: Slot<Outcome>,
    _counted: BlockedCount,
}

impl Parked<'_> {
    /// Removes the waiter from the registry if it is still there. A waiter served or
    /// unparked was removed already, and its index may hold another waiter by now.
    fn leave(&self) {
        let Some(index) = self.index.take() else {
            return;
        };
        let mut blocked = self.state.blocked.borrow_mut();
        if blocked
            .waiters
            .get(index)
            .is_some_and(|waiter| waiter.slot.is(&self.slot))
        {
            blocked.unpark(index);
        }
    }
}

impl Drop for Parked<'_> {
    fn drop(&mut self) {
        self.leave();
    }
}

/// A client's parking under way on a shard (see `BlockedClients::parking`), ended however
/// the parking ends.
struct Parking<'a> {
    state: &'a ShardState,
    client: u64,
}

impl Parking<'_> {
    fn begin(state: &ShardState, client: u64) -> Parking<'_> {
        state.blocked.borrow_mut().parking.insert(client, false);
        Parking { state, client }
    }
}

impl Drop for Parking<'_> {
    fn drop(&mut self) {
        self.state.blocked.borrow_mut().parking.remove(&self.client);
    }
}

/// Who waits for which keys of a shard.
pub struct WaitRequest {
    /// The client's id.
    pub client: u64,
    /// Its place in line (global blocking order).
    pub sequence: u64,
    /// The client's database.
    pub db: DbIndex,
    /// The watched keys that live on this shard.
    pub keys: Vec<Bytes>,
    /// XREAD/XREADGROUP's arguments (see [`Waiter`]).
    pub stream_read: Option<Argv>,
}

/// A served waiter's parking request: the wait, the command the shard runs for it, and
/// how long it may wait (`None`: forever).
pub struct ParkRequest {
    /// Who waits for which keys.
    pub wait: WaitRequest,
    /// The command and the client's options.
    pub serve: (KeyedCommand, ClientOptions),
    /// How long to wait (`None`: forever).
    pub timeout_ms: Option<u64>,
}

impl WaitRequest {
    fn into_waiter(self, release: Release, slot: Slot<Outcome>) -> Waiter {
        Waiter {
            client: self.client,
            sequence: self.sequence,
            db: self.db,
            keys: self.keys,
            release,
            stream_read: self.stream_read,
            slot,
        }
    }
}

/// Runs its last argument in a context of this shard's keyspace, for database `db` and a
/// client with `options`: how waiters are served in the step of the write that fed them,
/// whose caller may hold the keyspace already.
pub type InContext<'a> = dyn FnMut(DbIndex, ClientOptions, &mut dyn FnMut(&mut ShardCtx<'_>)) + 'a;

/// Whether `key` (holding whatever it holds in `ctx`) releases a client blocked in
/// XREAD/XREADGROUP `argv`.
fn has_news(ctx: &mut ShardCtx<'_>, argv: &[Bytes], key: &[u8]) -> bool {
    let value = ctx.peek(key).map(|value| &*value);
    peregrine_commands::stream::read::has_news(argv, key, value)
}

impl ShardState {
    /// Parks a served waiter on this shard until it is served, unblocked, cancelled or
    /// timed out. It first runs its command, and parks only when that found nothing (no
    /// data, no error); while parked it counts in INFO's `blocked_clients`. Returns how
    /// the wait ended and the ticks the command ran here (its first run, and the run that
    /// served it): its execution time, without the wait, as Redis counts it.
    pub async fn park(self: Rc<Self>, request: ParkRequest) -> (Outcome, u64) {
        let ((spec, argv), options) = &request.serve;
        let client = request.wait.client;
        let first_run = {
            let _parking = Parking::begin(&self, client);
            let started = Ticks::now();
            let withdrawn = || self.blocked.borrow().parking.get(&client) == Some(&true);
            let replies = self
                .clone()
                .run_batch_if(
                    request.wait.db,
                    *options,
                    vec![(spec, argv.clone())],
                    Serving::AfterEachWrite,
                    || !withdrawn(),
                )
                .await;
            let ran = started.until(Ticks::now());
            let Some(replies) = replies else {
                return (Outcome::Cancelled, 0);
            };
            let reply = replies.into_iter().next().unwrap_or(Reply::Nil);
            if reply != nothing_reply(spec) {
                return (Outcome::Served(reply, ran), ran);
            }
            ran
        };
        let slot = Slot::new();
        let timeout_ms = request.timeout_ms;
        let waiter = request.wait.into_waiter(
            Release::Serve(request.serve.0, request.serve.1),
            slot.clone(),
        );
        let index = self.blocked.borrow_mut().park(waiter);
        let parked = Parked {
            state: &self,
            index: Cell::new(Some(index)),
            slot: slot.clone(),
            _counted: BlockedCount::new(&self.server),
        };
        let outcome = match timeout_ms {
            None => slot.clone().await,
            Some(millis) => {
                let timer = async {
                    glommio::timer::sleep(std::time::Duration::from_millis(millis)).await;
                    Outcome::TimedOut
                };
                futures_lite::future::or(slot.clone(), timer).await
            }
        };
        // Whatever ended the wait, the waiter leaves the registry now; a reply that raced
        // the timer is kept (the element was popped for this client).
        parked.leave();
        let outcome = match (outcome, slot.take()) {
            (Outcome::TimedOut, Some(raced)) => raced,
            (outcome, _) => outcome,
        };
        let serving_run = match &outcome {
            Outcome::Served(_, ran) => *ran,
            _ => 0,
        };
        (outcome, first_run + serving_run)
    }

    /// Registers a woken waiter (its keys span shards) on this shard, and reports whether
    /// one of its keys has data already (for a stream read: news for it): the client must
    /// then retry at once. The waiter keeps its place in line through every retry until
    /// the client withdraws ([`ShardState::unpark_client`]); [`ShardState::await_woken`]
    /// waits for it to be woken.
    pub fn register_woken(&self, request: WaitRequest) -> bool {
        let ready = match &request.stream_read {
            Some(argv) => self.with_ctx(request.db, ClientOptions::default(), |ctx| {
                request.keys.iter().any(|key| has_news(ctx, argv, key))
            }),
            None => {
                let now = crate::shard_state::unix_millis();
                let mut keyspace = self.keyspace.borrow_mut();
                let database = keyspace.db(request.db);
                request.keys.iter().any(|key| database.contains(key, now))
            }
        };
        self.blocked
            .borrow_mut()
            .park(request.into_waiter(Release::Wake, Slot::new()));
        ready
    }

    /// After a retry of the woken waiter `client` found nothing: serves the keys held for
    /// it (the clients behind it get their turn; it stays in line for what comes next).
    pub fn release_holds(&self, client: u64) {
        if self.blocked.borrow_mut().release_holds(client) {
            serve_ready_now(self);
        }
    }

    /// How the wait of the woken waiter `client` registered here ends: woken, unblocked
    /// (also when CLIENT UNBLOCK came while it retried its command) or (when it is not
    /// registered here any more) cancelled.
    pub async fn await_woken(self: Rc<Self>, client: u64) -> Outcome {
        let next = self.blocked.borrow().next_wake(client);
        match next {
            Ok(slot) => slot.await,
            Err(outcome) => outcome,
        }
    }

    /// Ends the wait of `client` on this shard: `Some(error)` for CLIENT UNBLOCK, `None`
    /// to withdraw (the client was woken elsewhere or went away), and serves the keys
    /// held for it. True when it waited here.
    pub fn unpark_client(&self, client: u64, unblock: Option<bool>) -> bool {
        let waited = self.blocked.borrow_mut().end_waits(client, unblock);
        self.release_holds(client);
        waited
    }

    /// After a write command ran here: notes which of its keys parked clients wait for.
    pub fn signal_written(&self, db: DbIndex, spec: &CommandSpec, argv: &[Bytes]) {
        if spec.has(Flag::Write) {
            self.signal_keys(db, spec, argv);
        }
    }

    /// Notes which keys of a command (a write, or one whose keys expired on access)
    /// parked clients wait for.
    pub fn signal_keys(&self, db: DbIndex, spec: &CommandSpec, argv: &[Bytes]) {
        let mut blocked = self.blocked.borrow_mut();
        if blocked.is_empty() {
            return;
        }
        for position in spec.keys.positions(argv) {
            if let Some(key) = argv.get(position) {
                blocked.signal(db, key);
            }
        }
    }

    /// Notes that `key` may have received data (written outside a command: RENAME,
    /// COPY, the scratch plan's write-back) and serves its waiters when possible.
    pub fn signal_key(&self, db: DbIndex, key: &Bytes) {
        let mut blocked = self.blocked.borrow_mut();
        if !blocked.is_empty() {
            blocked.signal(db, key);
        }
    }

    /// True when keys with parked clients received data.
    pub fn has_ready(&self) -> bool {
        !self.blocked.borrow().ready.is_empty()
    }

    /// Notes that every key of databases `dbs` with parked clients may have changed
    /// wholesale (FLUSHALL, FLUSHDB, SWAPDB) and serves them when possible: a consumer
    /// whose group went away gets NOGROUP, as in Redis 7.2.
    pub fn signal_databases(&self, dbs: &[DbIndex]) {
        {
            let mut blocked = self.blocked.borrow_mut();
            let keys: Vec<(DbIndex, Bytes)> = blocked
                .by_key
                .keys()
                .filter(|(db, _)| dbs.contains(db))
                .cloned()
                .collect();
            for (db, key) in keys {
                blocked.signal(db, &key);
            }
        }
        serve_ready_now(self);
    }

    /// Serves the clients parked on keys that received data, in blocking order, running
    /// their commands through `in_context`. When multi-shard operations hold locks here,
    /// hands the work to the deferred server instead (it waits for the locks).
    pub fn serve_ready(&self, in_context: &mut InContext<'_>) {
        if !self.locks.borrow().is_idle() {
            if let Some(waker) = self.blocked.borrow().deferred.take() {
                waker.wake();
            }
            return;
        }
        while let Some((db, key)) = self.pop_ready() {
            self.serve_key(db, &key, &mut *in_context);
        }
    }

    fn pop_ready(&self) -> Option<(DbIndex, Bytes)> {
        self.blocked.borrow_mut().ready.pop_front()
    }

    /// Serves the waiters of one key in order, until one finds nothing (a list, a sorted
    /// set: nothing is left for the ones behind). Stream readers whose stream brought
    /// them nothing keep waiting, and do not stop the queue: the ones behind may read
    /// another group, or another position.
    fn serve_key(&self, db: DbIndex, key: &Bytes, in_context: &mut InContext<'_>) {
        let queue: Vec<usize> = {
            let blocked = self.blocked.borrow();
            let entry = (db, key.clone());
            if blocked.held.contains_key(&entry) {
                // Served when the woken client holding it withdraws.
                return;
            }
            blocked
                .by_key
                .get(&entry)
                .map(|queue| queue.iter().copied().collect())
                .unwrap_or_default()
        };
        for index in queue {
            let (command, stream_read) = {
                let blocked = self.blocked.borrow();
                let Some(waiter) = blocked.waiters.get(index) else {
                    continue;
                };
                let command = match &waiter.release {
                    Release::Serve(command, options) => Some((command.clone(), *options)),
                    Release::Wake => None,
                };
                (command, waiter.stream_read.clone())
            };
            if let Some(argv) = &stream_read {
                let mut news = false;
                in_context(db, ClientOptions::default(), &mut |ctx| {
                    news = has_news(ctx, argv, key);
                });
                if !news {
                    continue;
                }
            }
            match command {
                None => {
                    if stream_read.is_none() {
                        let mut exists = false;
                        in_context(db, ClientOptions::default(), &mut |ctx| {
                            exists = ctx.peek(key).is_some();
                        });
                        if !exists {
                            // Nothing for it (a write that left the key empty, a
                            // blocking command's own try): nothing for the ones behind.
                            break;
                        }
                    }
                    let mut blocked = self.blocked.borrow_mut();
                    // It stays registered until it withdraws (told once: a second
                    // fill is ignored).
                    let Some(waiter) = blocked.waiters.get(index) else {
                        continue;
                    };
                    waiter.slot.fill(Outcome::Woken);
                    // XREAD takes nothing from the readers behind it: no turn to keep.
                    let takes = stream_read
                        .as_ref()
                        .is_none_or(|argv| !argv[0].eq_ignore_ascii_case(b"xread"));
                    if takes {
                        // Its turn: the ones behind wait until it has retried.
                        let client = waiter.client;
                        blocked.held.insert((db, key.clone()), client);
                        break;
                    }
                }
                Some(((spec, argv), options)) => {
                    let mut reply = Reply::Nil;
                    let started = Ticks::now();
                    in_context(db, options, &mut |ctx| {
                        reply = peregrine_commands::run_keyed(ctx, spec, &argv)
                            .unwrap_or_else(|error| error.into_reply());
                    });
                    let ran = started.until(Ticks::now());
                    if reply == nothing_reply(spec) {
                        if stream_read.is_some() {
                            continue;
                        }
                        // Nothing for this waiter (the key is empty again): the ones behind
                        // it get nothing either.
                        break;
                    }
                    if reply.is_error() && stream_read.is_none() {
                        // The key now holds another type: Redis keeps such waiters waiting.
                        break;
                    }
                    if let Some(waiter) = self.blocked.borrow_mut().unpark(index) {
                        waiter.slot.fill(Outcome::Served(reply, ran));
                    }
                    // What the served command wrote (BLMOVE's destination) may serve others.
                    self.signal_written(db, spec, &argv);
                }
            }
        }
    }
}

/// Runs `work` directly against the shard's state.
fn in_state_context(
    state: &ShardState,
    db: DbIndex,
    options: ClientOptions,
    work: &mut dyn FnMut(&mut ShardCtx<'_>),
) {
    state.with_ctx(db, options, |ctx: &mut ShardCtx<'_>| work(ctx));
}

/// Serves waiters whose keys received data while multi-shard operations held locks
/// here: takes each waiter's keys' locks in line with everyone else, then serves. Runs
/// for the life of the shard.
pub async fn serve_deferred(state: Rc<ShardState>) {
    loop {
        std::future::poll_fn(|context| {
            let blocked = state.blocked.borrow();
            if blocked.ready.is_empty() {
                blocked.deferred.set(Some(context.waker().clone()));
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await;
        let Some((db, key)) = state.pop_ready() else {
            continue;
        };
        // The waiters' commands may touch other keys here (BLMOVE's destination): wait
        // until nothing on this shard is locked.
        let request = LockRequest::everything(None);
        LockTable::acquire(&state.locks, request.clone()).await;
        state.serve_key(db, &key, &mut |db, options, work| {
            in_state_context(&state, db, options, work)
        });
        state.locks.borrow_mut().release(&request);
    }
}

/// Serves ready waiters outside a command batch (after a coordinator wrote keys here).
pub fn serve_ready_now(state: &ShardState) {
    if state.has_ready() {
        state.serve_ready(&mut |db, options, work| in_state_context(state, db, options, work));
    }
}

/// Resolves when the peer has closed the connection (or it failed); stays pending while
/// the connection is open, including when the client sent more commands meanwhile.
async fn disconnected(stream: &TcpStream) {
    let mut probe = [0u8; 1];
    match PolledWhenWoken::new(stream.peek(&mut probe)).await {
        Ok(0) | Err(_) => {}
        Ok(_) => std::future::pending::<()>().await,
    }
}

/// A future polled only once it asked to be woken (and at first). glommio's socket
/// futures keep every waker they are polled with until they complete, and a blocked
/// client's task is polled on every message of its wait (each retry of a wait spanning
/// shards): polled with all of them, a long wait would pile up wakers until the task's
/// reference count overflows.
struct PolledWhenWoken<F> {
    inner: Pin<Box<F>>,
    signal: Arc<WakeSignal>,
}

/// What the inner future's waker does: notes the wake-up and wakes the outer task.
struct WakeSignal {
    woken: AtomicBool,
    outer: Mutex<Option<Waker>>,
}

impl std::task::Wake for WakeSignal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        let outer = self.outer.lock().ok().and_then(|mut outer| outer.take());
        if let Some(outer) = outer {
            outer.wake();
        }
    }
}

impl<F: Future> PolledWhenWoken<F> {
    fn new(inner: F) -> PolledWhenWoken<F> {
        PolledWhenWoken {
            inner: Box::pin(inner),
            signal: Arc::new(WakeSignal {
                woken: AtomicBool::new(true),
                outer: Mutex::new(None),
            }),
        }
    }
}

impl<F: Future> Future for PolledWhenWoken<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<F::Output> {
        if let Ok(mut outer) = self.signal.outer.lock() {
            *outer = Some(context.waker().clone());
        }
        if !self.signal.woken.swap(false, Ordering::AcqRel) {
            return Poll::Pending;
        }
        let waker = Waker::from(self.signal.clone());
        self.inner.as_mut().poll(&mut Context::from_waker(&waker))
    }
}

/// A woken waiter's wait on one shard ([`Session::wait_on`]).
type ShardWait<'a> = Pin<Box<dyn Future<Output = Outcome> + 'a>>;

/// The first of `waits` to end, with its index, or `TimedOut` (no index) at `deadline`.
async fn first_outcome(
    waits: &mut [ShardWait<'_>],
    deadline: Option<Instant>,
) -> (Outcome, Option<usize>) {
    let first = std::future::poll_fn(|context| {
        for (index, wait) in waits.iter_mut().enumerate() {
            if let Poll::Ready(outcome) = wait.as_mut().poll(context) {
                return Poll::Ready((outcome, Some(index)));
            }
        }
        Poll::Pending
    });
    match deadline {
        None => first.await,
        Some(deadline) => {
            let timer = async {
                glommio::timer::sleep(deadline.saturating_duration_since(Instant::now())).await;
                (Outcome::TimedOut, None)
            };
            futures_lite::future::or(first, timer).await
        }
    }
}

/// A client counted in INFO's `blocked_clients` while this lives.
struct BlockedCount(Arc<crate::shard_state::ServerShared>);

impl BlockedCount {
    fn new(server: &Arc<crate::shard_state::ServerShared>) -> BlockedCount {
        server.blocked_clients.fetch_add(1, Ordering::Relaxed);
        BlockedCount(server.clone())
    }
}

impl Drop for BlockedCount {
    fn drop(&mut self) {
        self.0.blocked_clients.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The reply CLIENT UNBLOCK ... ERROR gives the unblocked client.
const UNBLOCKED: &str = "UNBLOCKED client unblocked via CLIENT UNBLOCK";

impl Session {
    /// Runs a blocking command: at once when data (or an error) is there, otherwise
    /// parks the client until data arrives, the timeout passes or CLIENT UNBLOCK. The
    /// replies of earlier commands in `out` are written first, as Redis sends them before
    /// the client blocks. Returns the reply and the ticks the command ran (every try, not
    /// the waits: its execution time, as Redis counts it), or `None` when the client
    /// disconnected while waiting.
    ///
    /// The shards that try it take no note of the tries (statistics, slow log, MONITOR):
    /// the caller counts the command once, as Redis does.
    pub async fn run_blocking(
        &mut self,
        spec: &'static CommandSpec,
        argv: Argv,
        out: &mut Vec<u8>,
        stream: &mut TcpStream,
    ) -> Option<(Reply, u64)> {
        let own = self.options;
        self.options.part = true;
        let mut ran = 0;
        let reply = self
            .run_blocking_tries(spec, argv, out, stream, &mut ran)
            .await;
        self.options = ClientOptions {
            part: own.part,
            ..self.options
        };
        reply.map(|reply| (reply, ran))
    }

    async fn run_blocking_tries(
        &mut self,
        spec: &'static CommandSpec,
        argv: Argv,
        out: &mut Vec<u8>,
        stream: &mut TcpStream,
        ran: &mut u64,
    ) -> Option<Reply> {
        let shape = match peregrine_commands::blocking::shape(spec, &argv) {
            Ok(Some(shape)) => shape,
            // Not a blocking call (XREAD without BLOCK), or a bad timeout: the handler
            // replies, after the errors Redis checks first (BLMPOP's numkeys and
            // direction, BLMOVE's directions), without blocking.
            Ok(None) | Err(_) => return Some(self.try_once(spec, argv, ran).await),
        };
        let argv = if spec.name == "xread" {
            self.pin_last_ids(argv).await
        } else {
            argv
        };
        if !self.send_now(out, stream).await {
            return None;
        }
        let server = self.shard().server.clone();
        let sequence = server.block_sequence.fetch_add(1, Ordering::Relaxed);
        let shards = self.router.shard_count();
        let owner = crate::coordinator::single_shard(spec, &argv, shards, self.router.me());
        let watched: Vec<Bytes> = shape
            .watched
            .iter()
            .filter_map(|&position| argv.get(position).cloned())
            .collect();
        self.info.blocked.set(true);
        let wait = async {
            match owner {
                Some(shard) => {
                    self.wait_served(shard, spec, argv, watched, shape.timeout_ms, sequence)
                        .await
                }
                None => {
                    self.wait_woken(spec, argv, watched, shape.timeout_ms, sequence)
                        .await
                }
            }
        };
        let reply = futures_lite::future::or(async { Some(wait.await) }, async {
            disconnected(stream).await;
            None
        })
        .await;
        self.info.blocked.set(false);
        if reply.is_none() {
            self.withdraw(None).await;
        }
        reply.map(|(reply, waited_ran)| {
            *ran += waited_ran;
            reply
        })
    }

    /// XREAD's `$` IDs replaced by their streams' last IDs, read on the keys' shards: the
    /// command re-run after the wait then returns what arrived since it began.
    async fn pin_last_ids(&self, mut argv: Argv) -> Argv {
        let count = self.router.shard_count();
        let keys = peregrine_commands::stream::read::read_keys(&argv);
        let half = keys.len();
        let mut shards: Vec<ShardId> = keys
            .iter()
            .filter(|&&at| argv.get(at + half).is_some_and(|id| &id[..] == b"$"))
            .map(|&at| ShardId::for_key(&argv[at], count))
            .collect();
        shards.sort_unstable();
        shards.dedup();
        for shard in shards {
            let (db, options) = (self.db, self.options);
            argv = self
                .router
                .invoke_on(shard, move |state: Rc<ShardState>| async move {
                    let local = |key: &[u8]| ShardId::for_key(key, count) == shard;
                    state.with_ctx(db, options, |ctx| {
                        peregrine_commands::stream::read::pin_last_ids(ctx, &mut argv, &local)
                    });
                    argv
                })
                .await;
        }
        argv
    }

    /// Runs the command once without blocking, wherever its keys are, adding the ticks
    /// that took to `ran`.
    async fn try_once(&self, spec: &'static CommandSpec, argv: Argv, ran: &mut u64) -> Reply {
        let started = Ticks::now();
        let reply = self.run_once(spec, argv).await;
        *ran += started.until(Ticks::now());
        reply
    }

    /// Runs the command once without blocking, wherever its keys are.
    async fn run_once(&self, spec: &'static CommandSpec, argv: Argv) -> Reply {
        let shards = self.router.shard_count();
        match crate::coordinator::single_shard(spec, &argv, shards, self.router.me()) {
            Some(shard) => {
                let (db, options) = (self.db, self.options);
                self.router
                    .invoke_on(shard, move |state: Rc<ShardState>| {
                        state.run_batch(db, options, vec![(spec, argv)], Serving::AfterEachWrite)
                    })
                    .await
                    .pop()
                    .unwrap_or(Reply::Nil)
            }
            None => {
                crate::scratch::run_scratch(&self.router, self.db, self.options, None, spec, argv)
                    .await
            }
        }
    }

    /// Parks on the one shard that owns every key; that shard serves the command. Returns
    /// the reply and the ticks the command ran there.
    async fn wait_served(
        &self,
        shard: ShardId,
        spec: &'static CommandSpec,
        argv: Argv,
        keys: Vec<Bytes>,
        timeout_ms: Option<u64>,
        sequence: u64,
    ) -> (Reply, u64) {
        let request = ParkRequest {
            wait: WaitRequest {
                client: self.info.id,
                sequence,
                db: self.db,
                keys,
                stream_read: (spec.group == Group::Stream).then(|| argv.clone()),
            },
            serve: ((spec, argv), self.options),
            timeout_ms,
        };
        let (outcome, ran) = self
            .router
            .invoke_on(shard, move |state: Rc<ShardState>| state.park(request))
            .await;
        (outcome_reply(outcome).unwrap_or_else(timeout_reply), ran)
    }

    /// Registers on every shard owning a watched key and retries the command through
    /// the cross-shard path whenever one of them reports data (holding that key's line
    /// until it has, see [`BlockedClients::held`]). The client counts in INFO's
    /// `blocked_clients` once it is registered everywhere: from then on it has its place
    /// in every line. Returns the reply and the ticks its tries took.
    async fn wait_woken(
        &self,
        spec: &'static CommandSpec,
        argv: Argv,
        watched: Vec<Bytes>,
        timeout_ms: Option<u64>,
        sequence: u64,
    ) -> (Reply, u64) {
        let deadline = timeout_ms.map(|millis| Instant::now() + Duration::from_millis(millis));
        let mut keys_by_shard: BTreeMap<ShardId, Vec<Bytes>> = BTreeMap::new();
        for key in &watched {
            let shard = ShardId::for_key(key, self.router.shard_count());
            keys_by_shard.entry(shard).or_default().push(key.clone());
        }
        let mut ran = 0;
        let mut reply = self.try_once(spec, argv.clone(), &mut ran).await;
        if reply != nothing_reply(spec) {
            return (reply, ran);
        }
        let mut ready = false;
        for (&shard, keys) in &keys_by_shard {
            let request = WaitRequest {
                client: self.info.id,
                sequence,
                db: self.db,
                keys: keys.clone(),
                stream_read: (spec.group == Group::Stream).then(|| argv.clone()),
            };
            ready |= self
                .router
                .invoke_on(shard, move |state: Rc<ShardState>| async move {
                    state.register_woken(request)
                })
                .await;
        }
        let _counted = BlockedCount::new(&self.shard().server);
        // One wait per shard at a time: a shard's wait ends only when its waiter is woken
        // or withdrawn, so a wait is replaced only once it has ended (a new one beside a
        // pending one would be left behind on that shard for good).
        let shards: Vec<ShardId> = keys_by_shard.keys().copied().collect();
        let mut waits: Vec<ShardWait<'_>> =
            shards.iter().map(|&shard| self.wait_on(shard)).collect();
        loop {
            if ready {
                reply = self.try_once(spec, argv.clone(), &mut ran).await;
                if reply != nothing_reply(spec) {
                    break;
                }
                self.release_holds(&shards).await;
            }
            match first_outcome(&mut waits, deadline).await {
                (Outcome::Woken, Some(index)) => {
                    waits[index] = self.wait_on(shards[index]);
                    ready = true;
                }
                (outcome, _) => {
                    reply = outcome_reply(outcome).unwrap_or_else(timeout_reply);
                    break;
                }
            }
        }
        // Withdrawing ends the waits still pending on the other shards.
        self.withdraw(None).await;
        (reply, ran)
    }

    /// Waits on `shard` until this client's waiter there is woken (or withdrawn).
    fn wait_on(&self, shard: ShardId) -> ShardWait<'_> {
        let client = self.info.id;
        Box::pin(self.router.invoke_on(shard, move |state: Rc<ShardState>| {
            state.await_woken(client)
        }))
    }

    /// Releases the keys held for this client on `shards` (see
    /// [`ShardState::release_holds`]).
    async fn release_holds(&self, shards: &[ShardId]) {
        let client = self.info.id;
        for &shard in shards {
            self.router
                .invoke_on(shard, move |state: Rc<ShardState>| async move {
                    state.release_holds(client)
                })
                .await;
        }
    }

    /// Removes this client's waiters from every shard (`Some(error)`: CLIENT UNBLOCK).
    async fn withdraw(&self, unblock: Option<bool>) {
        let client = self.info.id;
        for shard in self.router.shards() {
            self.router
                .invoke_on(shard, move |state: Rc<ShardState>| async move {
                    state.unpark_client(client, unblock)
                })
                .await;
        }
    }
}

/// The client's reply for how its wait ended (`None`: the timeout reply).
fn outcome_reply(outcome: Outcome) -> Option<Reply> {
    match outcome {
        Outcome::Served(reply, _) => Some(reply),
        Outcome::Unblocked(true) => Some(Reply::error(UNBLOCKED)),
        Outcome::Unblocked(false) | Outcome::TimedOut | Outcome::Cancelled | Outcome::Woken => None,
    }
}

/// CLIENT UNBLOCK: ends the wait of `client` wherever it is parked; true when it was.
pub async fn unblock_client(router: &ShardRouter, client: u64, error: bool) -> bool {
    let mut found = false;
    for shard in router.shards() {
        found |= router
            .invoke_on(shard, move |state: Rc<ShardState>| async move {
                state.unpark_client(client, Some(error))
            })
            .await;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Wake;

    /// A future that stays pending and counts its polls, keeping the last waker.
    struct Pending {
        polls: Rc<Cell<u32>>,
        waker: Rc<RefCell<Option<Waker>>>,
    }

    impl Future for Pending {
        type Output = ();

        fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<()> {
            self.polls.set(self.polls.get() + 1);
            *self.waker.borrow_mut() = Some(context.waker().clone());
            Poll::Pending
        }
    }

    struct CountWakes(std::sync::atomic::AtomicU32);

    impl Wake for CountWakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A woken client whose waiter was removed by CLIENT UNBLOCK while it retried its
    /// command learns the unblock (and which kind) when it next looks for a wake-up;
    /// after it withdraws, a missing waiter means cancelled again.
    #[test]
    fn an_unblock_during_a_retry_is_not_lost() {
        for error in [true, false] {
            let mut blocked = BlockedClients::default();
            let request = WaitRequest {
                client: 7,
                sequence: 1,
                db: DbIndex(0),
                keys: vec![Bytes::from_static(b"key")],
                stream_read: None,
            };
            let slot = Slot::new();
            blocked.park(request.into_waiter(Release::Wake, slot.clone()));
            slot.fill(Outcome::Woken);
            assert!(matches!(slot.take(), Some(Outcome::Woken)));
            assert!(blocked.end_waits(7, Some(error)));
            assert!(matches!(blocked.next_wake(7), Err(Outcome::Unblocked(e)) if e == error));
            assert!(!blocked.end_waits(7, None));
            assert!(matches!(blocked.next_wake(7), Err(Outcome::Cancelled)));
            assert!(blocked.unblocked.is_empty());
        }
    }

    /// Regression: a blocked client's peer-close probe was polled on every wake-up of
    /// its task, and glommio's socket future kept a waker per poll until the task's
    /// reference count overflowed (a shard panicked under a stream-consumer stress).
    #[test]
    fn the_inner_future_is_polled_only_when_it_was_woken() {
        let polls = Rc::new(Cell::new(0));
        let inner_waker = Rc::new(RefCell::new(None));
        let mut future = Box::pin(PolledWhenWoken::new(Pending {
            polls: polls.clone(),
            waker: inner_waker.clone(),
        }));
        let outer = Arc::new(CountWakes(std::sync::atomic::AtomicU32::new(0)));
        let waker = Waker::from(outer.clone());
        let mut context = Context::from_waker(&waker);
        for _ in 0..1000 {
            assert!(future.as_mut().poll(&mut context).is_pending());
        }
        assert_eq!(polls.get(), 1);
        inner_waker.borrow_mut().take().expect("a waker").wake();
        assert_eq!(
            outer.0.load(Ordering::Relaxed),
            1,
            "the outer task is woken"
        );
        for _ in 0..1000 {
            assert!(future.as_mut().poll(&mut context).is_pending());
        }
        assert_eq!(polls.get(), 2);
    }
}
