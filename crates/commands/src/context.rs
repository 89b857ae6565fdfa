//! The state a handler runs against.

use peregrine_keyspace::{Db, DbIndex, EncodingLimits, Keyspace, UnixMillis, Value};
use peregrine_persist::Journal;

use crate::notify::{EventClass, Notifier};
use crate::CommandError;

/// Per-shard counters that commands update (INFO stats).
#[derive(Clone, Debug, Default)]
pub struct ShardStats {
    /// Successful key lookups by read commands.
    pub keyspace_hits: u64,
    /// Failed key lookups by read commands.
    pub keyspace_misses: u64,
    /// Changes since the last save (INFO `rdb_changes_since_last_save`).
    pub dirty: u64,
}

/// Per-client switches that change how commands behave.
#[derive(Clone, Copy, Debug, Default)]
pub struct ClientOptions {
    /// The client's id (0 for work of no client): the slow log names who ran a command.
    pub id: u64,
    /// CLIENT NO-TOUCH: reads do not update the access time.
    pub no_touch: bool,
    /// The core of the client's connection (`None` for work of no client): keyspace
    /// events of its commands are published from there, so that subscribers see one
    /// client's events and its own PUBLISHes in the order it ran them.
    pub home: Option<u16>,
    /// CLIENT TRACKING: who reads and writes, for the shard's tracking table.
    pub tracking: Option<crate::TrackingClient>,
    /// The command runs from a Lua script or function (XREAD's BLOCK is refused there,
    /// as in Redis).
    pub script: bool,
    /// The command is one shard's part of a multi-shard command: the statistics and the
    /// slow log count the whole command, on the client's core, not its parts.
    pub part: bool,
}

/// Limits and policies from the configuration that commands consult.
#[derive(Clone, Copy, Debug)]
pub struct CommandLimits {
    /// `proto-max-bulk-len`: the largest string APPEND/SETRANGE may build.
    pub proto_max_bulk_len: u64,
    /// Whether an LFU `maxmemory-policy` is active (OBJECT FREQ vs IDLETIME).
    pub lfu_policy: bool,
    /// When collections leave their compact encodings.
    pub encoding: EncodingLimits,
    /// `hll-sparse-max-bytes`: the largest sparse HyperLogLog before it turns dense.
    pub hll_sparse_max_bytes: usize,
    /// `stream-node-max-bytes` and `stream-node-max-entries`: where stream nodes split.
    pub stream: peregrine_keyspace::collections::stream::StreamLimits,
}

impl Default for CommandLimits {
    fn default() -> Self {
        CommandLimits {
            proto_max_bulk_len: 512 * 1024 * 1024,
            lfu_policy: false,
            encoding: EncodingLimits::default(),
            hll_sparse_max_bytes: 3000,
            stream: Default::default(),
        }
    }
}

/// A small fast random generator (xorshift64*), one per shard.
#[derive(Clone, Debug)]
pub struct Random(u64);

impl Random {
    /// A generator from a non-zero seed.
    pub fn new(seed: u64) -> Random {
        Random(seed | 1)
    }

    /// The next random number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Everything a keyed handler may use: one shard's keyspace, the client's database and
/// options, the command's time, statistics and limits.
pub struct ShardCtx<'a> {
    /// The shard's databases.
    pub keyspace: &'a mut Keyspace,
    /// The client's selected database.
    pub db: DbIndex,
    /// The command's time: one clock reading per command, as Redis caches it.
    pub now: UnixMillis,
    /// Counters.
    pub stats: &'a mut ShardStats,
    /// The client's switches.
    pub client: ClientOptions,
    /// Configuration the commands consult.
    pub limits: CommandLimits,
    /// The shard's random generator.
    pub random: &'a mut Random,
    /// Where the effects of writes are recorded for persistence (disabled when off).
    pub journal: &'a mut Journal,
    /// The snapshot being taken, if any: entries are captured before writes change them.
    pub capture: &'a mut crate::Capture,
    /// The shard's watched keys: a write that changes one fails its watchers' EXEC.
    pub watched: &'a mut crate::WatchedKeys,
    /// Set by a handler that recorded its own effect (see [`ShardCtx::record_effect`]);
    /// otherwise a successful write is recorded as the command itself.
    pub effect_recorded: bool,
    /// The shard's keyspace events awaiting publication.
    pub notifier: &'a mut Notifier,
}

impl ShardCtx<'_> {
    /// The client's database.
    pub fn db(&mut self) -> &mut Db {
        self.keyspace.db(self.db)
    }

    /// Records keyspace event `event` of `class` on `key` in the client's database, as
    /// Redis's `notifyKeyspaceEvent` (one branch when the class is not wanted). Keys lazy
    /// expiry removed before it are recorded first, as their `expired` events came first.
    #[inline]
    pub fn notify(&mut self, class: EventClass, event: &'static str, key: &[u8]) {
        if self.notifier.flags().wants(class) {
            self.notify_in(self.db, class, event, key);
        }
    }

    /// As [`ShardCtx::notify`] for a key of database `db` (MOVE, COPY ... DB).
    pub fn notify_in(&mut self, db: DbIndex, class: EventClass, event: &'static str, key: &[u8]) {
        if self.notifier.flags().wants(class) {
            self.collect_lazy_expiry();
            self.notifier.notify(class, event, db.0, key);
        }
    }

    /// Records the `expired` events of keys lazy expiry removed so far (nothing to do
    /// unless `x` is wanted).
    pub fn collect_lazy_expiry(&mut self) {
        if self.notifier.flags().wants(EventClass::Expired) {
            self.notifier.collect_lazy_expiry(self.keyspace);
        }
    }

    /// Records the `keymiss` event of a read that found no `key`.
    #[inline]
    pub fn notify_miss(&mut self, key: &[u8]) {
        self.notify(EventClass::KeyMiss, "keymiss", key);
    }

    /// Records the `new` event of a key just created.
    #[inline]
    pub fn notify_new(&mut self, key: &[u8]) {
        self.notify(EventClass::New, "new", key);
    }

    /// Removes `key` if its deadline has passed, as a lookup would before a write that
    /// replaces the key without looking at it (so its `expired` event comes out).
    pub fn expire_if_due(&mut self, key: &[u8]) {
        let now = self.now;
        self.db().expire_if_needed(key, now);
    }

    /// Looks `key` up for reading: counts a hit or miss (and records a `keymiss` event)
    /// and records the access unless the client asked for NO-TOUCH.
    pub fn lookup_read(&mut self, key: &[u8]) -> Option<&mut Value> {
        let touch = !self.client.no_touch;
        if self.notifier.flags().wants(EventClass::KeyMiss) {
            return self.lookup_read_notifying(key, touch);
        }
        match self.keyspace.db(self.db).lookup(key, self.now, touch) {
            None => {
                self.stats.keyspace_misses += 1;
                None
            }
            Some(entry) => {
                self.stats.keyspace_hits += 1;
                Some(&mut entry.value)
            }
        }
    }

    /// [`ShardCtx::lookup_read`] when `keymiss` events are wanted: a hit costs a second
    /// lookup (the borrow checker cannot see that a miss holds no borrow).
    #[cold]
    fn lookup_read_notifying(&mut self, key: &[u8], touch: bool) -> Option<&mut Value> {
        let now = self.now;
        if self.keyspace.db(self.db).lookup(key, now, touch).is_none() {
            self.stats.keyspace_misses += 1;
            self.notify_miss(key);
            return None;
        }
        self.stats.keyspace_hits += 1;
        self.keyspace
            .db(self.db)
            .lookup(key, now, false)
            .map(|entry| &mut entry.value)
    }

    /// Looks `key` up for writing (records the access, no hit/miss statistics).
    pub fn lookup_write(&mut self, key: &[u8]) -> Option<&mut Value> {
        let now = self.now;
        self.db()
            .lookup(key, now, true)
            .map(|entry| &mut entry.value)
    }

    /// The string stored at `key` for reading, or `None`; WRONGTYPE for other types.
    pub fn read_string(&mut self, key: &[u8]) -> Result<Option<StringRef<'_>>, CommandError> {
        match self.lookup_read(key) {
            None => Ok(None),
            Some(value) => string_ref(value).map(Some),
        }
    }

    /// Records `argv` as this command's effect instead of the command itself: for
    /// commands whose result is not a function of their arguments and the time (SPOP is
    /// recorded as the SREM of the members it popped). May be called several times; with
    /// no call at all the command records nothing when [`ShardCtx::record_nothing`] was
    /// called.
    pub fn record_effect<A: AsRef<[u8]>>(&mut self, argv: &[A]) {
        self.effect_recorded = true;
        self.journal.command(self.now, self.db.0, argv);
    }

    /// Declares that this write changed nothing worth recording.
    pub fn record_nothing(&mut self) {
        self.effect_recorded = true;
    }

    /// Marks one change for persistence statistics.
    pub fn mark_dirty(&mut self, changes: u64) {
        self.stats.dirty += changes;
    }
}

/// A string value viewed as bytes (integers are rendered to decimal).
pub enum StringRef<'a> {
    /// Stored bytes.
    Bytes(&'a [u8]),
    /// An integer, rendered.
    Int(itoa_buffer::Rendered),
}

impl StringRef<'_> {
    /// The string's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            StringRef::Bytes(bytes) => bytes,
            StringRef::Int(rendered) => rendered.as_bytes(),
        }
    }
}

/// Views a value as a string, or WRONGTYPE.
pub fn string_ref(value: &Value) -> Result<StringRef<'_>, CommandError> {
    match value {
        Value::Int(integer) => Ok(StringRef::Int(itoa_buffer::Rendered::new(*integer))),
        Value::Embedded(bytes) => Ok(StringRef::Bytes(bytes.as_slice())),
        Value::Raw(bytes) => Ok(StringRef::Bytes(bytes)),
        Value::List(_)
        | Value::Hash(_)
        | Value::Set(_)
        | Value::SortedSet(_)
        | Value::Stream(_) => Err(CommandError::WrongType),
    }
}

/// A rendered integer without allocation.
pub mod itoa_buffer {
    /// The decimal text of an `i64`, stored inline.
    pub struct Rendered {
        bytes: [u8; 20],
        len: u8,
    }

    impl Rendered {
        /// Renders `value`.
        pub fn new(value: i64) -> Rendered {
            let mut bytes = [0u8; 20];
            let mut buffer = itoa::Buffer::new();
            let text = buffer.format(value).as_bytes();
            bytes[..text.len()].copy_from_slice(text);
            Rendered {
                bytes,
                len: text.len() as u8,
            }
        }

        /// The text.
        pub fn as_bytes(&self) -> &[u8] {
            &self.bytes[..self.len as usize]
        }
    }
}
