//! What one shard owns (keyspace, locks, statistics, its clients) and what all shards
//! share (configuration, counters that span the process).

use crate::config::{Config, Settings};
use crate::persistence::{ShardPersistence, SharedPersistence};
use crate::ticks::Ticks;
use peregrine_commands::{
    run_keyed, ClientOptions, CommandSpec, Flag, KeyEvent, Notifier, Random, ShardCtx, ShardStats,
};
use peregrine_keyspace::{DbIndex, Keyspace, UnixMillis};
use peregrine_persist::Journal;
use peregrine_resp::{Argv, Reply};
use peregrine_shard::{LockKey, LockMode, LockRequest, LockTable, Router, ShardId};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The current time in Unix milliseconds.
pub fn unix_millis() -> UnixMillis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as UnixMillis)
}

/// State shared by every shard (thread-safe, rarely written).
pub struct ServerShared {
    /// The configuration text (CONFIG GET/SET).
    pub config: RwLock<Config>,
    /// The typed view of the configuration.
    pub settings: RwLock<Settings>,
    /// Client ids are unique across shards.
    pub next_client_id: AtomicU64,
    /// Connected clients, all shards.
    pub connected_clients: AtomicU64,
    /// Set when the server must stop.
    pub shutting_down: AtomicBool,
    /// When the server started.
    pub started: Instant,
    /// The port actually bound.
    pub port: AtomicU64,
    /// A random 40-hex-digit id of this run.
    pub run_id: String,
    /// Unix seconds of the last save (start time until persistence exists).
    pub last_save: AtomicU64,
    /// Clients currently parked by a blocking command (INFO `blocked_clients`).
    pub blocked_clients: AtomicU64,
    /// The most memory allocated at any sample (INFO's `used_memory_peak`).
    pub memory_peak: AtomicU64,
    /// Memory allocated once the server was ready (INFO's `used_memory_startup`).
    pub memory_startup: AtomicU64,
    /// Orders blocked clients across shards: who blocked first is served first.
    pub block_sequence: AtomicU64,
    /// Loading progress, log failures, operation ids.
    pub persistence: SharedPersistence,
    /// Active expiry runs (DEBUG SET-ACTIVE-EXPIRE).
    pub active_expire: AtomicBool,
    /// Lua scripts by SHA and function libraries, for every core's engine.
    pub scripts: Arc<peregrine_script::ScriptRegistry>,
    /// Scripts (SHA) and functions (`function:name`) seen to stay on their declared keys'
    /// shard: they run there (see `scripting`).
    pub local_scripts: RwLock<std::collections::HashSet<String, ahash::RandomState>>,
    /// Bumped by every removal from `local_scripts`: cores then drop their copies.
    pub local_scripts_forgotten: AtomicU64,
    /// Scripts past `busy-reply-threshold`.
    pub busy_scripts: crate::scripting::busy::BusyScripts,
    /// Counts CONFIG SET changes, so that per-core caches of settings know when to re-read.
    pub settings_generation: AtomicU64,
    /// CLIENT PAUSE in force, if any.
    pub client_pause: crate::pause::ClientPause,
    /// Cores with MONITOR clients, a bit each (see [`crate::monitor`]).
    pub monitor_cores: AtomicU64,
    /// The next slow log entry's id.
    pub slowlog_next_id: AtomicU64,
    /// Connected clients' addresses and names, for slow log entries made on other cores.
    pub client_identities: crate::slowlog::ClientIdentities,
}

impl ServerShared {
    /// Shared state for a server with `config`.
    pub fn new(config: Config) -> ServerShared {
        let settings = config.settings();
        let seed = unix_millis() ^ u64::from(std::process::id()).rotate_left(32);
        let mut random = Random::new(seed);
        let run_id = (0..5)
            .map(|_| format!("{:08x}", random.next_u64() as u32))
            .collect();
        ServerShared {
            config: RwLock::new(config),
            settings: RwLock::new(settings),
            next_client_id: AtomicU64::new(1),
            connected_clients: AtomicU64::new(0),
            shutting_down: AtomicBool::new(false),
            started: Instant::now(),
            port: AtomicU64::new(0),
            run_id,
            last_save: AtomicU64::new(unix_millis() / 1000),
            blocked_clients: AtomicU64::new(0),
            memory_peak: AtomicU64::new(0),
            memory_startup: AtomicU64::new(0),
            block_sequence: AtomicU64::new(0),
            active_expire: AtomicBool::new(true),
            scripts: Arc::new(peregrine_script::ScriptRegistry::new()),
            local_scripts: RwLock::default(),
            local_scripts_forgotten: AtomicU64::new(0),
            busy_scripts: Default::default(),
            settings_generation: AtomicU64::new(0),
            client_pause: Default::default(),
            monitor_cores: AtomicU64::new(0),
            slowlog_next_id: AtomicU64::new(0),
            client_identities: Default::default(),
            persistence: SharedPersistence {
                next_tx_id: AtomicU64::new(unix_millis() << 16),
                ..SharedPersistence::default()
            },
        }
    }

    /// A copy of the typed settings.
    pub fn settings(&self) -> Settings {
        match self.settings.read() {
            Ok(settings) => settings.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// A connected client as CLIENT LIST and CLIENT KILL see it.
pub struct ClientInfo {
    /// Unique id.
    pub id: u64,
    /// Peer address.
    pub addr: String,
    /// Local address.
    pub laddr: String,
    /// Socket descriptor (to interrupt its reads on CLIENT KILL).
    pub fd: i32,
    /// Connection time.
    pub created: Instant,
    /// CLIENT SETNAME.
    pub name: RefCell<String>,
    /// Selected database.
    pub db: Cell<u32>,
    /// Last command time.
    pub last_active: Cell<Instant>,
    /// Last command name.
    pub last_command: Cell<&'static str>,
    /// RESP version.
    pub resp: Cell<u8>,
    /// Set by CLIENT KILL.
    pub killed: Cell<bool>,
    /// Parked by a blocking command (CLIENT LIST's `b` flag).
    pub blocked: Cell<bool>,
    /// Receives every command (MONITOR; CLIENT LIST's `O` flag).
    pub monitor: Cell<bool>,
    /// Commands queued in MULTI, or -1 outside a transaction (CLIENT LIST's `multi`).
    pub multi: Cell<i64>,
    /// CLIENT SETINFO LIB-NAME / LIB-VER.
    pub library: RefCell<(String, String)>,
    /// Channels, patterns and shard channels subscribed (CLIENT LIST's sub, psub, ssub).
    pub subscriptions: Cell<[u32; 3]>,
    /// Pub/sub messages and other pushes waiting to be written.
    pub outbox: crate::outbox::Outbox,
    /// CLIENT TRACKING's state.
    pub tracking: RefCell<crate::tracking::TrackingState>,
}

impl ClientInfo {
    /// A client connected now from `addr` to `laddr` over socket `fd`.
    pub fn new(id: u64, addr: String, laddr: String, fd: i32) -> ClientInfo {
        let now = Instant::now();
        ClientInfo {
            id,
            addr,
            laddr,
            fd,
            created: now,
            name: RefCell::new(String::new()),
            db: Cell::new(0),
            last_active: Cell::new(now),
            last_command: Cell::new("NULL"),
            resp: Cell::new(2),
            killed: Cell::new(false),
            blocked: Cell::new(false),
            monitor: Cell::new(false),
            multi: Cell::new(-1),
            library: RefCell::new((String::new(), String::new())),
            subscriptions: Cell::new([0; 3]),
            outbox: Default::default(),
            tracking: RefCell::default(),
        }
    }

    /// Closes the connection as soon as possible (CLIENT KILL, output limits): marks it and
    /// wakes its task's pending read or write.
    pub fn close(&self) {
        self.killed.set(true);
        if self.fd >= 0 {
            // SAFETY: `fd` is this client's open socket, owned by its connection task on
            // this core, which closes it only after removing this client from the core's
            // list; shutting it down only makes that task's pending I/O fail.
            unsafe {
                libc::shutdown(self.fd, libc::SHUT_RDWR);
            }
        }
    }

    /// This client's CLIENT LIST line (without the newline).
    pub fn describe(&self) -> String {
        let now = Instant::now();
        let library = self.library.borrow();
        let subscriptions = self.subscriptions.get();
        let tracking = self.tracking.borrow();
        // Redis's letters, in its order.
        let mut flags = String::new();
        if self.monitor.get() {
            flags.push('O');
        }
        if subscriptions.iter().any(|count| *count > 0) {
            flags.push('P');
        }
        if self.multi.get() >= 0 {
            flags.push('x');
        }
        if self.blocked.get() {
            flags.push('b');
        }
        tracking.list_flags(&mut flags);
        if flags.is_empty() {
            flags.push('N');
        }
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem={} tot-mem=0 events=r cmd={} user=default redir={} resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            self.name.borrow(),
            now.duration_since(self.created).as_secs(),
            now.duration_since(self.last_active.get()).as_secs(),
            flags,
            self.db.get(),
            subscriptions[0],
            subscriptions[1],
            subscriptions[2],
            self.multi.get(),
            self.outbox.memory(),
            self.last_command.get(),
            tracking.redirection(),
            self.resp.get(),
            library.0,
            library.1,
        )
    }
}

/// The settings every command consults, kept per core (see [`ShardState::hot_settings`]).
#[derive(Clone, Copy, Debug, Default)]
struct HotSettings {
    pubsub_output_limit: crate::outbox::OutputLimit,
    monitor_output_limit: crate::outbox::OutputLimit,
    slowlog: crate::slowlog::SlowLogSettings,
    latency: LatencyLimits,
    tracking_table_max_keys: usize,
}

/// Latencies a [`RunTally`] holds before adding them to the histogram.
const RUN_LATENCIES: usize = 32;

/// The statistics of a run of the same command in a batch, added to the command's entry
/// when the run ends or holds [`RUN_LATENCIES`] latencies: one map lookup per run instead
/// of one per command.
struct RunTally {
    name: &'static str,
    fast: bool,
    calls: u64,
    failed: u64,
    ticks: u64,
    latencies: [u64; RUN_LATENCIES],
    pending: usize,
}

impl RunTally {
    fn new(spec: &'static CommandSpec) -> RunTally {
        RunTally {
            name: spec.name,
            fast: spec.has(Flag::Fast),
            calls: 0,
            failed: 0,
            ticks: 0,
            latencies: [0; RUN_LATENCIES],
            pending: 0,
        }
    }

    /// Adds a call that took `ticks`; true when the tally must be flushed.
    #[inline]
    fn add(&mut self, ticks: u64, failed: bool) -> bool {
        self.calls += 1;
        self.failed += u64::from(failed);
        self.ticks += ticks;
        self.latencies[self.pending] = ticks;
        self.pending += 1;
        self.pending == RUN_LATENCIES
    }

    /// Moves what the tally holds into the command's statistics.
    fn flush(&mut self, state: &ShardState, stats: &mut CommandStats, limits: LatencyLimits) {
        let stat = stats.entry(self.name).or_default();
        let latencies = &self.latencies[..self.pending];
        if limits.tracking {
            stat.latency.record_ticks(latencies);
        }
        if limits.monitor_threshold_ms > 0 {
            for ticks in latencies {
                state.note_event(self.fast, *ticks);
            }
        }
        stat.calls += self.calls;
        stat.failed += self.failed;
        stat.usec += crate::ticks::micros(self.ticks);
        (self.calls, self.failed, self.ticks, self.pending) = (0, 0, 0, 0);
    }
}

/// The latency settings every command consults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LatencyLimits {
    /// `latency-monitor-threshold` in milliseconds (0: off).
    pub monitor_threshold_ms: u64,
    /// `latency-tracking`.
    pub tracking: bool,
}

/// Every command's statistics on one shard, by command name.
pub type CommandStats = HashMap<&'static str, CommandStat, ahash::RandomState>;

/// Per-command statistics (INFO commandstats and latencystats).
#[derive(Clone, Debug, Default)]
pub struct CommandStat {
    /// Calls.
    pub calls: u64,
    /// Total time in microseconds.
    pub usec: u64,
    /// Calls that replied with an error.
    pub failed: u64,
    /// The calls' latencies (with `latency-tracking yes`).
    pub latency: crate::latency::LatencyHistogram,
}

impl CommandStat {
    /// Adds another tally to this one.
    pub fn add(&mut self, other: &CommandStat) {
        self.calls += other.calls;
        self.usec += other.usec;
        self.failed += other.failed;
    }
}

/// One shard: a core's partition of the keyspace and everything about it.
pub struct ShardState {
    /// This shard.
    pub id: ShardId,
    /// The databases.
    pub keyspace: RefCell<Keyspace>,
    /// Counters updated by commands.
    pub stats: RefCell<ShardStats>,
    /// Key locks of in-flight multi-shard operations.
    pub locks: Rc<RefCell<LockTable>>,
    /// The shard's random generator.
    pub random: RefCell<Random>,
    /// Clients connected through this core.
    pub clients: RefCell<slab::Slab<Rc<ClientInfo>>>,
    /// Per-command statistics.
    pub command_stats: RefCell<CommandStats>,
    /// Commands processed by connections on this core.
    pub commands_processed: Cell<u64>,
    /// Connections accepted on this core.
    pub connections_received: Cell<u64>,
    /// Connections refused (maxclients, protected mode).
    pub rejected_connections: Cell<u64>,
    /// Panics caught inside commands.
    pub command_panics: Cell<u64>,
    /// Bytes read from and written to clients.
    pub net_input_bytes: Cell<u64>,
    /// Bytes written to clients.
    pub net_output_bytes: Cell<u64>,
    /// Reads from clients' sockets (INFO's `total_reads_processed`).
    pub reads_processed: Cell<u64>,
    /// Writes to clients' sockets (INFO's `total_writes_processed`).
    pub writes_processed: Cell<u64>,
    /// Instantaneous rates of the counters above (INFO's `instantaneous_*`).
    pub rates: RefCell<crate::metrics::Rates>,
    /// Error replies sent to this shard's clients (INFO's `errorstats`).
    pub errors: RefCell<crate::metrics::ErrorStats>,
    /// Clients parked by blocking commands on this shard's keys.
    pub blocked: RefCell<crate::blocking::BlockedClients>,
    /// Effect records of applied writes not yet handed to the log writer.
    pub journal: RefCell<Journal>,
    /// Log progress and durability waiters.
    pub persistence: ShardPersistence,
    /// The snapshot being taken here, if any.
    pub capture: RefCell<peregrine_commands::Capture>,
    /// Keys watched by clients (WATCH), with their watchers.
    pub watched: RefCell<peregrine_commands::WatchedKeys>,
    /// Keyspace events of this shard's commands and expiry awaiting publication (see
    /// [`ShardState::take_key_events`]); its flags follow `notify-keyspace-events`.
    pub notifier: RefCell<Notifier>,
    /// Set while a part of a split command runs: its key events are returned to the
    /// coordinator ([`ShardState::execute_part_keeping_events`]) instead of published.
    pub keep_key_events: Cell<bool>,
    /// Whether the keyspace may be keeping lazily expired keys for `expired` events (to
    /// stop it when the flags no longer want them).
    lazy_expiry_reported: Cell<bool>,
    /// The multi-shard write whose log bracket is open here (a transaction's): the writes
    /// it runs join that bracket instead of opening their own.
    pub open_tx: Cell<Option<u64>>,
    /// This core's Lua engine, created by the first script that runs here.
    script_engine: RefCell<Option<Rc<peregrine_script::ScriptEngine>>>,
    /// [`ShardState::limits`] as last read, with the settings generation it was read at.
    limits_seen: Cell<Option<(u64, peregrine_commands::CommandLimits)>>,
    /// This core's copy of [`ServerShared::local_scripts`], read by every script run
    /// without the shared lock.
    pub local_scripts: RefCell<crate::scripting::KnownLocal>,
    /// Subscribers on this core and this core's copy of the pub/sub directory.
    pub pubsub: RefCell<crate::pubsub::PubSubCore>,
    /// This core's clients that CLIENT TRACKING may name by id.
    pub tracking: RefCell<crate::tracking::TrackingCore>,
    /// This core's MONITOR clients.
    pub monitors: RefCell<Vec<Rc<ClientInfo>>>,
    /// [`HotSettings`] as last read, with the settings generation it was read at.
    hot_settings: Cell<(u64, HotSettings)>,
    /// Latency monitor events that happened here (LATENCY LATEST ...).
    pub latency_events: RefCell<crate::latency::LatencyEvents>,
    /// Slow commands executed here (SLOWLOG).
    pub slowlog: RefCell<crate::slowlog::SlowLog>,
    /// This core's router (set once the mesh is joined): shard code that publishes needs it.
    router: std::cell::OnceCell<std::rc::Weak<ShardRouter>>,
    /// State shared by all shards.
    pub server: Arc<ServerShared>,
}

/// The router type every core uses.
pub type ShardRouter = Router<ShardState>;

/// A keyed command ready to run on its shard.
pub type KeyedCommand = (&'static CommandSpec, Argv);

/// The first key a command names, if any.
fn first_key((spec, argv): &KeyedCommand) -> Option<&[u8]> {
    let position = spec.keys.positions(argv).next()?;
    argv.get(position).map(|key| &key[..])
}

/// When a batch of commands serves the clients parked on the keys it writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Serving {
    /// After each write, before the next command: a pipeline, as Redis serves blocked
    /// clients after every command.
    AfterEachWrite,
    /// Once, after the last command: a transaction is one command to the clients it
    /// feeds, which see its outcome only (EXEC's XADD then XDEL serves no reader).
    AfterLast,
}

impl ShardState {
    /// A shard with `databases` empty databases.
    pub fn new(id: ShardId, server: Arc<ServerShared>) -> ShardState {
        let databases = server.settings().databases;
        ShardState {
            id,
            keyspace: RefCell::new(Keyspace::new(databases)),
            stats: RefCell::new(ShardStats::default()),
            locks: Rc::new(RefCell::new(LockTable::new())),
            random: RefCell::new(Random::new(
                unix_millis() ^ (u64::from(id.0) << 48) ^ 0x9e37,
            )),
            clients: RefCell::new(slab::Slab::new()),
            command_stats: RefCell::new(HashMap::default()),
            commands_processed: Cell::new(0),
            connections_received: Cell::new(0),
            rejected_connections: Cell::new(0),
            command_panics: Cell::new(0),
            net_input_bytes: Cell::new(0),
            rates: RefCell::default(),
            errors: RefCell::default(),
            net_output_bytes: Cell::new(0),
            reads_processed: Cell::new(0),
            writes_processed: Cell::new(0),
            blocked: RefCell::new(crate::blocking::BlockedClients::default()),
            journal: RefCell::new(Journal::disabled()),
            persistence: ShardPersistence::default(),
            capture: RefCell::new(peregrine_commands::Capture::default()),
            watched: RefCell::new(peregrine_commands::WatchedKeys::default()),
            notifier: RefCell::new(Notifier::new()),
            keep_key_events: Cell::new(false),
            lazy_expiry_reported: Cell::new(false),
            open_tx: Cell::new(None),
            script_engine: RefCell::new(None),
            limits_seen: Cell::new(None),
            local_scripts: RefCell::default(),
            pubsub: RefCell::default(),
            tracking: RefCell::default(),
            monitors: RefCell::default(),
            hot_settings: Cell::new((u64::MAX, HotSettings::default())),
            latency_events: RefCell::default(),
            slowlog: RefCell::default(),
            router: std::cell::OnceCell::new(),
            server,
        }
    }

    /// Remembers this core's router (once, right after joining the mesh).
    pub fn set_router(&self, router: &Rc<ShardRouter>) {
        let _ = self.router.set(Rc::downgrade(router));
    }

    /// This core's router; `None` only before the mesh is joined or after it is gone.
    pub fn router(&self) -> Option<Rc<ShardRouter>> {
        self.router.get().and_then(std::rc::Weak::upgrade)
    }

    /// The settings every command consults, copied from the shared settings only when
    /// CONFIG SET changed them (an atomic load per call otherwise).
    fn hot_settings(&self) -> HotSettings {
        let generation = self.server.settings_generation.load(Ordering::Relaxed);
        let (seen, hot) = self.hot_settings.get();
        if seen == generation {
            return hot;
        }
        let settings = self.server.settings();
        let hot = HotSettings {
            pubsub_output_limit: settings.pubsub_output_limit,
            monitor_output_limit: settings.replica_output_limit,
            slowlog: settings.slowlog,
            latency: LatencyLimits {
                monitor_threshold_ms: settings.latency.monitor_threshold_ms,
                tracking: settings.latency.tracking,
            },
            tracking_table_max_keys: settings.tracking_table_max_keys,
        };
        self.hot_settings.set((generation, hot));
        hot
    }

    /// `client-output-buffer-limit pubsub`.
    pub fn pubsub_output_limit(&self) -> crate::outbox::OutputLimit {
        self.hot_settings().pubsub_output_limit
    }

    /// Counts a read of `bytes` from a client.
    pub fn count_read(&self, bytes: usize) {
        self.net_input_bytes
            .set(self.net_input_bytes.get() + bytes as u64);
        self.reads_processed.set(self.reads_processed.get() + 1);
    }

    /// Counts a write of `bytes` to a client.
    pub fn count_write(&self, bytes: usize) {
        self.net_output_bytes
            .set(self.net_output_bytes.get() + bytes as u64);
        self.writes_processed.set(self.writes_processed.get() + 1);
    }

    /// `tracking-table-max-keys` (0: no limit).
    pub fn tracking_table_max_keys(&self) -> usize {
        self.hot_settings().tracking_table_max_keys
    }

    /// `client-output-buffer-limit slave` (MONITOR clients').
    pub fn monitor_output_limit(&self) -> crate::outbox::OutputLimit {
        self.hot_settings().monitor_output_limit
    }

    /// The latency monitor's threshold and whether commands' latencies are tracked.
    pub fn latency_settings(&self) -> LatencyLimits {
        self.hot_settings().latency
    }

    /// Adds one command's latency of `ticks` to `stat` and, past the monitor's threshold,
    /// to the latency events.
    #[inline]
    pub fn note_latency(
        &self,
        stat: &mut CommandStat,
        fast: bool,
        ticks: u64,
        limits: LatencyLimits,
    ) {
        if limits.tracking {
            stat.latency.record_ticks(&[ticks]);
        }
        if limits.monitor_threshold_ms > 0 {
            self.note_event(fast, ticks);
        }
    }

    /// A command that took `ticks` is a latency monitor event if it reached the threshold.
    fn note_event(&self, fast: bool, ticks: u64) {
        let event = if fast { "fast-command" } else { "command" };
        crate::latency::add_if_needed(self, event, crate::ticks::micros(ticks));
    }

    /// `slowlog-log-slower-than` and `slowlog-max-len`.
    pub fn slowlog_settings(&self) -> crate::slowlog::SlowLogSettings {
        self.hot_settings().slowlog
    }

    /// This core's Lua engine (created on first use: a Lua state costs memory).
    pub fn script_engine(&self) -> Result<Rc<peregrine_script::ScriptEngine>, Reply> {
        if let Some(engine) = self.script_engine.borrow().as_ref() {
            return Ok(engine.clone());
        }
        let engine = peregrine_script::ScriptEngine::new(
            self.server.scripts.clone(),
            peregrine_script::EngineLimits::default(),
        )
        .map_err(Reply::from)?;
        let engine = Rc::new(engine);
        *self.script_engine.borrow_mut() = Some(engine.clone());
        Ok(engine)
    }

    /// The limits commands consult, from the current settings; also brings the shard's
    /// notifier flags up to date with `notify-keyspace-events`. Re-read only when CONFIG
    /// SET changed the settings: every batch asks, and the shared settings' lock is a
    /// cache line every core would otherwise write.
    pub fn limits(&self) -> peregrine_commands::CommandLimits {
        let generation = self.server.settings_generation.load(Ordering::Relaxed);
        if let Some((seen, limits)) = self.limits_seen.get() {
            if seen == generation {
                return limits;
            }
        }
        let Ok(settings) = self.server.settings.read() else {
            return peregrine_commands::CommandLimits::default();
        };
        let limits = peregrine_commands::CommandLimits {
            proto_max_bulk_len: settings.proto_max_bulk_len,
            lfu_policy: settings.lfu_policy,
            encoding: settings.encoding,
            hll_sparse_max_bytes: settings.hll_sparse_max_bytes,
            stream: settings.stream,
        };
        // Kept only once the notifier took the flags (it may be borrowed right now).
        if self.apply_notify_flags(settings.notify_keyspace_events) {
            self.limits_seen.set(Some((generation, limits)));
        }
        limits
    }

    /// Brings the notifier's flags up to date with `notify-keyspace-events` (for work
    /// outside commands, which do it through [`ShardState::limits`]).
    pub fn sync_notify_flags(&self) {
        // `limits` applies the flags whenever the settings changed since it last did.
        let _ = self.limits();
    }

    /// Gives the notifier `flags`; when they stop wanting `expired` events, stops the
    /// keyspace keeping lazily expired keys (which nothing would take any more).
    /// Returns whether the notifier took them (it is not borrowed).
    fn apply_notify_flags(&self, flags: peregrine_commands::EventFlags) -> bool {
        let applied = match self.notifier.try_borrow_mut() {
            Ok(mut notifier) => {
                notifier.set_flags(flags);
                true
            }
            Err(_) => false,
        };
        if flags.wants(peregrine_commands::EventClass::Expired) {
            self.lazy_expiry_reported.set(true);
        } else if self.lazy_expiry_reported.get() {
            match self.keyspace.try_borrow_mut() {
                Ok(mut keyspace) => {
                    keyspace.report_lazy_expiry(false);
                    self.lazy_expiry_reported.set(false);
                }
                Err(_) => return false,
            }
        }
        applied
    }

    /// The keyspace events recorded since the last call, oldest first: each is published
    /// on [`KeyEvent::keyspace_channel`] (message: the event name) when `K` is on, then on
    /// [`KeyEvent::keyevent_channel`] (message: the key) when `E` is on. Keys lazy expiry
    /// removed outside commands are included.
    pub fn take_key_events(&self) -> Vec<KeyEvent> {
        let mut notifier = self.notifier.borrow_mut();
        if notifier
            .flags()
            .wants(peregrine_commands::EventClass::Expired)
        {
            notifier.collect_lazy_expiry(&mut self.keyspace.borrow_mut());
        }
        notifier.take()
    }

    /// Records one keyspace event of a write done outside command handlers (multi-shard
    /// plans, expiry).
    pub fn notify(
        &self,
        class: peregrine_commands::EventClass,
        event: &'static str,
        db: DbIndex,
        key: &[u8],
    ) {
        self.notifier.borrow_mut().notify(class, event, db.0, key);
    }

    /// Runs `work` with a handler context for database `db`.
    pub fn with_ctx<R>(
        &self,
        db: DbIndex,
        client: ClientOptions,
        work: impl FnOnce(&mut ShardCtx<'_>) -> R,
    ) -> R {
        let limits = self.limits();
        let mut keyspace = self.keyspace.borrow_mut();
        let mut stats = self.stats.borrow_mut();
        let mut random = self.random.borrow_mut();
        let mut journal = self.journal.borrow_mut();
        let mut capture = self.capture.borrow_mut();
        let mut watched = self.watched.borrow_mut();
        let mut notifier = self.notifier.borrow_mut();
        let mut ctx = ShardCtx {
            keyspace: &mut keyspace,
            db,
            now: unix_millis(),
            stats: &mut stats,
            client,
            limits,
            random: &mut random,
            journal: &mut journal,
            capture: &mut capture,
            watched: &mut watched,
            effect_recorded: false,
            notifier: &mut notifier,
        };
        let result = work(&mut ctx);
        ctx.collect_lazy_expiry();
        drop((keyspace, stats, random, journal, capture, watched, notifier));
        self.records_appended();
        crate::pubsub::publish_key_events(self, client.home);
        crate::tracking::send_owed(self);
        result
    }

    /// Wakes the log writer when records are waiting for it.
    pub fn records_appended(&self) {
        if self.journal.borrow().buffered() > 0 {
            self.persistence.notify_writer();
        }
    }

    /// Runs `commands` as this shard's part of multi-shard write `tx` (id, participants):
    /// their records are bracketed so that recovery applies all parts or none.
    pub fn execute_part(
        &self,
        db: DbIndex,
        client: ClientOptions,
        commands: &[KeyedCommand],
        tx: Option<(u64, u32)>,
    ) -> Vec<Reply> {
        self.in_tx(tx, || {
            self.execute_serving(db, client, commands, Serving::AfterLast)
        })
    }

    /// Runs a part of a split command (MSET, DEL ... whose keys span shards) as
    /// [`ShardState::execute_part`] does, and returns the key events it recorded instead
    /// of publishing them: the coordinator publishes every part's events in the order of
    /// the command's keys, as Redis notifies them.
    pub fn execute_part_keeping_events(
        &self,
        db: DbIndex,
        client: ClientOptions,
        commands: &[KeyedCommand],
        tx: Option<(u64, u32)>,
    ) -> (Vec<Reply>, Vec<peregrine_commands::KeyEvent>) {
        self.keep_key_events.set(true);
        let replies = self.execute_part(db, client, commands, tx);
        self.keep_key_events.set(false);
        (replies, self.take_key_events())
    }

    /// Runs `work` with its records bracketed as part of multi-shard write `tx`.
    pub fn in_tx<R>(&self, tx: Option<(u64, u32)>, work: impl FnOnce() -> R) -> R {
        // Inside a transaction's bracket, the transaction is the unit of recovery.
        let tx = tx.filter(|_| self.open_tx.get().is_none());
        let now = unix_millis();
        if let Some((id, participants)) = tx {
            self.journal.borrow_mut().tx_begin(now, id, participants);
        }
        let result = work();
        if let Some((id, _)) = tx {
            self.journal.borrow_mut().tx_end(now, id);
        }
        self.records_appended();
        result
    }

    /// Captures `key` for a snapshot in progress before a write outside command handlers
    /// (multi-shard write-backs) changes it.
    pub fn capture_before_write(&self, db: DbIndex, key: &[u8]) {
        let mut capture = self.capture.borrow_mut();
        if capture.is_active() {
            capture.before_write(self.keyspace.borrow_mut().db(db), db.0, key);
        }
    }

    /// Captures whatever a snapshot in progress has not yet captured in `dbs` (before
    /// FLUSHDB, FLUSHALL or SWAPDB changes them wholesale).
    pub fn capture_databases(&self, dbs: &[DbIndex]) {
        let mut capture = self.capture.borrow_mut();
        if !capture.is_active() {
            return;
        }
        let mut keyspace = self.keyspace.borrow_mut();
        for db in dbs {
            capture.sweep_all(keyspace.db(*db), db.0);
        }
    }

    /// Databases are about to be emptied (`(db, db)`) or swapped (`(a, b)` and `(b, a)`):
    /// for each `(changed, replacement)` pair, fails the EXEC of clients watching a key of
    /// `changed` that is live there or in `replacement` (Redis leaves watches on keys that
    /// exist in neither).
    pub fn touch_watched_databases(&self, pairs: &[(DbIndex, DbIndex)]) {
        let mut watched = self.watched.borrow_mut();
        if watched.is_empty() {
            return;
        }
        let now = unix_millis();
        let mut keyspace = self.keyspace.borrow_mut();
        let dbs: Vec<u32> = pairs.iter().map(|(changed, _)| changed.0).collect();
        watched.touch_databases(&dbs, |db, key| {
            pairs
                .iter()
                .filter(|(changed, _)| changed.0 == db)
                .any(|(changed, replacement)| {
                    keyspace.db(*changed).contains(key, now)
                        || keyspace.db(*replacement).contains(key, now)
                })
        });
    }

    /// Records that `key` now holds whatever it holds (or nothing): fails the EXEC of its
    /// watchers, invalidates it for tracking clients (but `writer`, the tracking client
    /// that wrote it, when it asked for NOLOOP), logs a DEL and the commands that rebuild
    /// its entry, and wakes the log writer. For writes done outside command handlers
    /// (multi-shard write-backs).
    pub fn record_key_state(&self, db: DbIndex, key: &[u8], writer: ClientOptions) {
        let noloop_writer = writer.tracking.and_then(|client| client.noloop_writer());
        self.watched.borrow_mut().touch_by(db.0, key, noloop_writer);
        crate::tracking::send_owed(self);
        let mut journal = self.journal.borrow_mut();
        if !journal.is_enabled() {
            return;
        }
        let now = unix_millis();
        journal.command(now, db.0, &[&b"DEL"[..], key]);
        let mut keyspace = self.keyspace.borrow_mut();
        let database = keyspace.db(db);
        let deadline = database.deadline(key);
        if let Some(entry) = database.get_live(key, now) {
            let mut sink = peregrine_commands::rebuild::JournalSink {
                journal: &mut journal,
                time: now,
                db: db.0,
            };
            peregrine_commands::rebuild::rebuild(key, &entry.value, deadline, &mut sink);
        }
        drop((journal, keyspace));
        self.records_appended();
    }

    /// Executes commands whose keys this shard owns, in order, ignoring locks (the caller
    /// either checked there is no conflict or holds the locks), serving the clients parked
    /// on the keys they write after each write. Each command gets its own clock reading; a
    /// panicking command is answered with an error and the rest run.
    pub fn execute_unlocked(
        &self,
        db: DbIndex,
        client: ClientOptions,
        commands: &[KeyedCommand],
    ) -> Vec<Reply> {
        self.execute_serving(db, client, commands, Serving::AfterEachWrite)
    }

    /// [`ShardState::execute_unlocked`] at time `now` instead of the clock's: a script's
    /// calls all run at the time the script started, as Redis 7.2 freezes the clock for a
    /// script (a key cannot expire half-way through it, and `SET .. PX` inside counts from
    /// its start).
    pub fn execute_at(
        &self,
        db: DbIndex,
        client: ClientOptions,
        commands: &[KeyedCommand],
        now: UnixMillis,
    ) -> Vec<Reply> {
        self.execute_timed(db, client, commands, Serving::AfterEachWrite, now)
    }

    /// [`ShardState::execute_unlocked`], serving parked clients when `serving` says.
    pub fn execute_serving(
        &self,
        db: DbIndex,
        client: ClientOptions,
        commands: &[KeyedCommand],
        serving: Serving,
    ) -> Vec<Reply> {
        self.execute_timed(db, client, commands, serving, unix_millis())
    }

    fn execute_timed(
        &self,
        db: DbIndex,
        client: ClientOptions,
        commands: &[KeyedCommand],
        serving: Serving,
        now: UnixMillis,
    ) -> Vec<Reply> {
        let limits = self.limits();
        let mut replies = Vec::with_capacity(commands.len());
        let mut keyspace = self.keyspace.borrow_mut();
        let mut stats = self.stats.borrow_mut();
        let mut random = self.random.borrow_mut();
        let mut journal = self.journal.borrow_mut();
        let mut capture = self.capture.borrow_mut();
        let mut watched = self.watched.borrow_mut();
        let mut notifier = self.notifier.borrow_mut();
        let mut command_stats = self.command_stats.borrow_mut();
        // Commands of clients and of their scripts are logged when slow (not the parts
        // of a multi-shard command: the whole is logged).
        let slow_threshold = if client.part || (client.id == 0 && !client.script) {
            None
        } else {
            self.slowlog_settings().threshold_ticks()
        };
        // MONITOR shows what clients and scripts ran here (not parts of a whole).
        let monitored =
            !client.part && (client.id != 0 || client.script) && crate::monitor::anyone(self);
        // One clock reading per command: it ends the command's time and starts the next's.
        let mut begun = Ticks::now();
        // Statistics of a run of the same command are added up before touching the map.
        let mut run: Option<RunTally> = None;
        let latency_limits = self.latency_settings();
        // A pipeline's keys are loaded ahead, so that their cache misses overlap.
        if commands.len() > 1 {
            keyspace
                .db_ref(db)
                .prefetch(commands.iter().filter_map(first_key));
        }
        for (index, (spec, argv)) in commands.iter().enumerate() {
            let expired_before = keyspace.db_ref(db).expired_keys;
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let mut ctx = ShardCtx {
                    keyspace: &mut keyspace,
                    db,
                    now,
                    stats: &mut stats,
                    client,
                    limits,
                    random: &mut random,
                    journal: &mut journal,
                    capture: &mut capture,
                    watched: &mut watched,
                    effect_recorded: false,
                    notifier: &mut notifier,
                };
                run_keyed(&mut ctx, spec, argv)
            }));
            let reply = match outcome {
                Ok(Ok(reply)) => reply,
                Ok(Err(error)) => error.into_reply(),
                Err(_) => {
                    self.command_panics.set(self.command_panics.get() + 1);
                    tracing::error!(
                        command = spec.name,
                        "a command panicked; the client got an error and the server keeps serving"
                    );
                    Reply::error(format!(
                        "ERR internal error while executing '{}'",
                        spec.name
                    ))
                }
            };
            let ended = Ticks::now();
            let ticks = begun.until(ended);
            begun = ended;
            if slow_threshold.is_some_and(|threshold| ticks >= threshold) {
                crate::slowlog::record(self, client, spec.name, argv, ticks);
            }
            if monitored {
                crate::monitor::feed_keyed(self, db, client, spec, argv);
            }
            // A command that found its key past its deadline removed it (lazy expiry):
            // clients waiting on the key learn of it as of a DEL, read or write.
            let lazily_expired = keyspace.db_ref(db).expired_keys != expired_before;
            if spec.has(Flag::Write) || lazily_expired {
                self.signal_keys(db, spec, argv);
            }
            let serve_now = match serving {
                Serving::AfterEachWrite => spec.has(Flag::Write) || lazily_expired,
                Serving::AfterLast => index + 1 == commands.len(),
            };
            if serve_now && self.has_ready() {
                self.serve_ready(&mut |db, options, work| {
                    let mut ctx = ShardCtx {
                        keyspace: &mut keyspace,
                        db,
                        now,
                        stats: &mut stats,
                        client: options,
                        limits,
                        random: &mut random,
                        journal: &mut journal,
                        capture: &mut capture,
                        watched: &mut watched,
                        effect_recorded: false,
                        notifier: &mut notifier,
                    };
                    work(&mut ctx);
                });
                // Serving other clients is not the next command's time.
                begun = Ticks::now();
            }
            if !client.part {
                let tally = run.get_or_insert_with(|| RunTally::new(spec));
                if tally.add(ticks, reply.is_error()) {
                    tally.flush(self, &mut command_stats, latency_limits);
                }
                let run_ends = commands
                    .get(index + 1)
                    .is_none_or(|(next, _)| !std::ptr::eq(next.name, spec.name));
                if run_ends {
                    if let Some(mut tally) = run.take() {
                        tally.flush(self, &mut command_stats, latency_limits);
                    }
                }
            }
            replies.push(reply);
        }
        if journal.buffered() > 0 {
            self.persistence.notify_writer();
        }
        drop((keyspace, notifier, watched));
        crate::pubsub::publish_key_events(self, client.home);
        crate::tracking::send_owed(self);
        replies
    }

    /// Adds one call that took `ticks` to the command statistics and latencies.
    pub fn record(&self, name: &'static str, fast: bool, ticks: u64, failed: bool) {
        let limits = self.latency_settings();
        let mut stats = self.command_stats.borrow_mut();
        let stat = stats.entry(name).or_default();
        self.note_latency(stat, fast, ticks, limits);
        stat.calls += 1;
        stat.usec += crate::ticks::micros(ticks);
        stat.failed += u64::from(failed);
    }

    /// The locks a batch of keyed commands needs on this shard.
    pub fn lock_request(db: DbIndex, commands: &[KeyedCommand]) -> LockRequest {
        let mut request = LockRequest::default();
        for (spec, argv) in commands {
            let mode = if spec.has(Flag::Write) {
                LockMode::Exclusive
            } else {
                LockMode::Shared
            };
            for position in spec.keys.positions(argv) {
                if let Some(key) = argv.get(position) {
                    request.keys.push((LockKey::for_key(db.0, key), mode));
                }
            }
        }
        request
    }

    /// Runs a batch of single-shard commands here, waiting in line behind multi-shard
    /// operations that hold any of its keys, and serving parked clients when `serving`
    /// says. Costs nothing extra when no lock is held.
    pub async fn run_batch(
        self: Rc<Self>,
        db: DbIndex,
        client: ClientOptions,
        commands: Vec<KeyedCommand>,
        serving: Serving,
    ) -> Vec<Reply> {
        self.run_batch_if(db, client, commands, serving, || true)
            .await
            .unwrap_or_default()
    }

    /// [`ShardState::run_batch`], unless `still_wanted` says otherwise when the batch's
    /// turn comes (its client withdrew while it waited in line): then `None`, and
    /// nothing ran.
    pub async fn run_batch_if(
        self: Rc<Self>,
        db: DbIndex,
        client: ClientOptions,
        commands: Vec<KeyedCommand>,
        serving: Serving,
        still_wanted: impl FnOnce() -> bool,
    ) -> Option<Vec<Reply>> {
        if self.locks.borrow().is_idle() {
            return Some(self.execute_serving(db, client, &commands, serving));
        }
        let request = ShardState::lock_request(db, &commands);
        if !self.locks.borrow().conflicts(&request) {
            return Some(self.execute_serving(db, client, &commands, serving));
        }
        LockTable::acquire(&self.locks, request.clone()).await;
        let replies = still_wanted().then(|| self.execute_serving(db, client, &commands, serving));
        self.locks.borrow_mut().release(&request);
        replies
    }
}
