//! What `redis.call` does: the two hosts a script runs with.
//!
//! * [`ShardHost`]: the script's declared keys all live on one shard and the script is
//!   known to stay there; it runs on that shard's core and every call is a direct,
//!   synchronous call into the shard, which the run holds whole (so keys it did not
//!   declare are safe to touch). A call that needs another shard *escalates*: the run
//!   is abandoned if it has not written yet and is run again under the global lock (see
//!   [`super`]).
//! * [`GlobalHost`]: the script holds every shard (its own lock owner); calls for the
//!   local shard are direct, calls for other shards travel as messages, calls whose keys
//!   span shards use the ordinary multi-shard plans, whose locks pass the script's own.

use super::busy::ScriptSignals;
use crate::dispatch::run_cross;
use crate::dispatch::Session;
use crate::shard_state::{unix_millis, ClientInfo, ServerShared, ShardRouter, ShardState};
use bytes::Bytes;
use peregrine_commands::{parse_integer, ClientOptions, CommandSpec, Exec, Flag, ServerCommand};
use peregrine_keyspace::{DbIndex, UnixMillis};
use peregrine_resp::{Argv, Reply};
use peregrine_script::errors::{UNKNOWN_COMMAND, WRONG_ARITY};
use peregrine_script::{HostCall, LogLevel, ScriptHost, Tick};
use peregrine_shard::{LockOwner, ShardId};
use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The reply of a call that made a [`ShardHost`] escalate (never seen by a client: the
/// run is discarded, unless it wrote first).
const ESCALATED: &str = "ERR The script touched a key on another shard after writing; \
     it will run under a global lock from now on (declare every key the script uses)";

/// Redis cluster's error for a key the script did not declare (`script-undeclared-keys
/// deny`).
const UNDECLARED: &str = "ERR Script attempted to access a non local key in a cluster node";

/// The configuration a run consults, read once per run from the client's settings.
#[derive(Clone, Copy, Debug)]
pub struct ScriptSettings {
    /// `busy-reply-threshold`.
    pub threshold: Duration,
    /// `script-undeclared-keys allow`.
    pub undeclared_keys: bool,
    /// `databases` (SELECT inside scripts).
    pub databases: u32,
}

impl ScriptSettings {
    /// The scripting part of `settings`.
    pub fn from_settings(settings: &crate::config::Settings) -> ScriptSettings {
        ScriptSettings {
            threshold: Duration::from_millis(settings.busy_reply_threshold_ms),
            undeclared_keys: settings.undeclared_keys,
            databases: settings.databases,
        }
    }
}

/// A client's `EVAL`/`EVALSHA`/`FCALL` command, split into its keys and arguments without
/// copying them: one is shared by every attempt at running it.
pub struct Invocation {
    /// The client's command (FUNCTION STATS, busy reports).
    pub command: Argv,
    /// How many arguments after `numkeys` are keys.
    key_count: usize,
}

impl Invocation {
    /// Splits `command` (`<name> <script|sha|function> numkeys key... arg...`), with
    /// Redis's errors for a bad `numkeys`.
    pub fn new(command: &Argv) -> Result<Invocation, Reply> {
        let count = parse_integer(&command[2]).map_err(|error| error.into_reply())?;
        if count < 0 {
            return Err(Reply::error("ERR Number of keys can't be negative"));
        }
        if count as u64 > (command.len() - 3) as u64 {
            return Err(Reply::error(
                "ERR Number of keys can't be greater than number of args",
            ));
        }
        Ok(Invocation {
            command: command.clone(),
            key_count: count as usize,
        })
    }

    /// The declared keys (`KEYS`).
    pub fn keys(&self) -> &[Bytes] {
        &self.command[3..3 + self.key_count]
    }

    /// The arguments after the keys (`ARGV`).
    pub fn args(&self) -> &[Bytes] {
        &self.command[3 + self.key_count..]
    }
}

/// What every run shares: its command, limits, busy registration and signals.
pub struct RunControl {
    server: Arc<ServerShared>,
    /// Its id among busy scripts, once it is one.
    busy_id: Cell<Option<u64>>,
    /// The shards it holds (`None`: all).
    shards: Option<Vec<ShardId>>,
    function: bool,
    invocation: Arc<Invocation>,
    started: Instant,
    /// The time every call of the run sees (Redis 7.2 freezes the clock for a script);
    /// multi-shard calls read the clock as any multi-shard command does.
    now: UnixMillis,
    settings: ScriptSettings,
    read_only: bool,
    signals: Arc<ScriptSignals>,
}

impl RunControl {
    /// The control of a run of `invocation` holding `shards`.
    pub fn new(
        server: Arc<ServerShared>,
        invocation: Arc<Invocation>,
        shards: Option<Vec<ShardId>>,
        read_only: bool,
        settings: ScriptSettings,
    ) -> RunControl {
        let function = invocation
            .command
            .first()
            .is_some_and(|name| name.len() >= 5 && name[..5].eq_ignore_ascii_case(b"fcall"));
        RunControl {
            server,
            busy_id: Cell::new(None),
            shards,
            function,
            invocation,
            started: Instant::now(),
            now: unix_millis(),
            settings,
            read_only,
            signals: Arc::default(),
        }
    }

    /// Whether the script ran a write.
    pub fn wrote(&self) -> bool {
        self.signals.wrote.load(Ordering::SeqCst)
    }

    /// Ends the run's busy registration, if any.
    pub fn finish(&self) {
        if let Some(id) = self.busy_id.get() {
            self.server.busy_scripts.leave(id);
        }
    }

    fn tick(&self, elapsed: Duration) -> Tick {
        if self.busy_id.get().is_none() && elapsed >= self.settings.threshold {
            let id = self.server.busy_scripts.next_id();
            self.busy_id.set(Some(id));
            tracing::warn!(
                "a script has been running for {} ms (busy-reply-threshold): other clients get -BUSY",
                elapsed.as_millis()
            );
            self.server.busy_scripts.enter(
                id,
                self.shards.clone(),
                self.function,
                self.signals.clone(),
                self.invocation.command.clone(),
                self.started,
            );
        }
        // SCRIPT KILL, or SHUTDOWN NOSAVE, which ends any script.
        if self.signals.kill.load(Ordering::SeqCst)
            || self.server.shutting_down.load(Ordering::Relaxed)
        {
            Tick::Kill
        } else if self.busy_id.get().is_some() {
            // Busy: between ticks, the core serves its other clients (-BUSY for the
            // shards this script holds, replies for the others, SCRIPT KILL).
            Tick::Yield
        } else {
            Tick::Continue
        }
    }

    /// Notes that the run is about to execute `spec`: once it runs a write, the run can
    /// no longer be killed or abandoned (a shard-local run that then escalates keeps its
    /// writes and answers the escalation's error). Called after every check that may
    /// refuse or escalate the call, right before it executes.
    fn executing(&self, spec: &CommandSpec) {
        if spec.has(Flag::Write) {
            self.signals.wrote.store(true, Ordering::SeqCst);
        }
    }

    /// Lookup, arity and the scripting gates, with Redis's errors.
    fn check(&self, argv: &[Bytes]) -> Result<&'static CommandSpec, Reply> {
        let name = argv.first().map(|name| name.as_ref()).unwrap_or_default();
        let spec =
            crate::command_names::resolve(name).ok_or_else(|| Reply::error(UNKNOWN_COMMAND))?;
        if !spec.arity.accepts(argv.len()) {
            return Err(Reply::error(WRONG_ARITY));
        }
        // Containers whose every subcommand Redis marks noscript.
        let container = matches!(
            spec.exec,
            Exec::Server(
                ServerCommand::Script
                    | ServerCommand::Function
                    | ServerCommand::Client
                    | ServerCommand::Config
            )
        );
        if spec.has(Flag::NoScript) || container {
            return Err(Reply::error(
                "ERR This Redis command is not allowed from script",
            ));
        }
        if self.read_only && (spec.has(Flag::Write) || spec.has(Flag::MayReplicate)) {
            return Err(Reply::error(
                "ERR Write commands are not allowed from read-only scripts.",
            ));
        }
        if spec.has(Flag::Write) {
            if let Some(refusal) = self.server.persistence.write_refusal() {
                return Err(Reply::error(refusal));
            }
        }
        if !self.settings.undeclared_keys {
            let undeclared = spec
                .keys
                .positions(argv)
                .filter_map(|position| argv.get(position))
                .any(|key| !self.invocation.keys().contains(key));
            if undeclared {
                return Err(Reply::error(UNDECLARED));
            }
        }
        Ok(spec)
    }

    fn log(level: LogLevel, message: &[u8]) {
        let text = String::from_utf8_lossy(message);
        match level {
            LogLevel::Debug | LogLevel::Verbose => tracing::debug!("script: {text}"),
            LogLevel::Notice => tracing::info!("script: {text}"),
            LogLevel::Warning => tracing::warn!("script: {text}"),
        }
    }
}

/// The server commands a script may run on its own (the rest need a client's session).
fn server_call(
    command: ServerCommand,
    argv: &[Bytes],
    db: &Cell<DbIndex>,
    databases: u32,
) -> Option<Reply> {
    match command {
        ServerCommand::Ping => Some(match argv.get(1) {
            None => Reply::status("PONG"),
            Some(message) => Reply::Bulk(message.clone()),
        }),
        ServerCommand::Echo => argv.get(1).cloned().map(Reply::Bulk),
        ServerCommand::Time => {
            let micros = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_micros());
            Some(Reply::Array(vec![
                Reply::bulk((micros / 1_000_000).to_string()),
                Reply::bulk((micros % 1_000_000).to_string()),
            ]))
        }
        ServerCommand::Select => {
            let index = std::str::from_utf8(argv.get(1)?)
                .ok()
                .and_then(|text| text.parse::<i64>().ok());
            Some(match index {
                None => Reply::error("ERR value is not an integer or out of range"),
                Some(index) if index < 0 || index >= i64::from(databases) => {
                    Reply::error("ERR DB index is out of range")
                }
                Some(index) => {
                    db.set(DbIndex(index as u32));
                    Reply::Ok
                }
            })
        }
        _ => None,
    }
}

/// A script running on the one shard that owns its keys.
pub struct ShardHost {
    state: Rc<ShardState>,
    db: Cell<DbIndex>,
    options: ClientOptions,
    databases: u32,
    shard_count: u16,
    /// Set when a call needed more than this shard.
    escalated: Cell<bool>,
    /// The run's control.
    pub control: RunControl,
}

impl ShardHost {
    /// A host for a run on `state`'s shard.
    pub fn new(
        state: Rc<ShardState>,
        db: DbIndex,
        options: ClientOptions,
        shard_count: u16,
        control: RunControl,
    ) -> ShardHost {
        let databases = control.settings.databases;
        ShardHost {
            state,
            db: Cell::new(db),
            options: ClientOptions {
                script: true,
                ..options
            },
            databases,
            shard_count,
            escalated: Cell::new(false),
            control,
        }
    }

    /// Whether a call needed more than this shard.
    pub fn escalated(&self) -> bool {
        self.escalated.get()
    }

    fn escalate(&self) -> HostCall {
        self.escalated.set(true);
        HostCall::Ready(Reply::error(ESCALATED))
    }
}

impl ScriptHost for ShardHost {
    fn call(&self, mut argv: Vec<Bytes>) -> HostCall {
        if self.escalated.get() {
            return HostCall::Ready(Reply::error(ESCALATED));
        }
        let spec = match self.control.check(&argv) {
            Ok(spec) => spec,
            Err(reply) => return HostCall::Ready(reply),
        };
        crate::command_names::restore_name(&mut argv, spec);
        match spec.exec {
            Exec::Keyed { .. } => {
                let shards = self.shard_count;
                let db = self.db.get();
                if shards > 1 && spec.references_other_keys(&argv) {
                    return self.escalate();
                }
                // The run holds its whole shard, so any key here is its to touch,
                // declared or not.
                let elsewhere = spec
                    .keys
                    .positions(&argv)
                    .filter_map(|at| argv.get(at))
                    .any(|key| ShardId::for_key(key, shards) != self.state.id);
                if elsewhere {
                    return self.escalate();
                }
                self.control.executing(spec);
                let mut replies =
                    self.state
                        .execute_at(db, self.options, &[(spec, argv)], self.control.now);
                HostCall::Ready(replies.pop().unwrap_or(Reply::Nil))
            }
            Exec::Server(command) => match server_call(command, &argv, &self.db, self.databases) {
                Some(reply) => HostCall::Ready(reply),
                None => self.escalate(),
            },
        }
    }

    fn tick(&self, elapsed: Duration) -> Tick {
        self.control.tick(elapsed)
    }

    fn log(&self, level: LogLevel, message: &[u8]) {
        RunControl::log(level, message);
    }
}

/// A script holding every shard.
pub struct GlobalHost {
    router: Rc<ShardRouter>,
    /// The calling client (server commands run in a session of its own).
    client: Rc<ClientInfo>,
    db: Cell<DbIndex>,
    options: ClientOptions,
    owner: LockOwner,
    databases: u32,
    /// The shard of the declared keys when they share one (`None`: no keys, or several).
    home: Option<ShardId>,
    /// Whether every key the script touched lives on `home`; false once it touched
    /// another, or any key when it declared none.
    stayed_home: Cell<bool>,
    /// The script declared no keys.
    keyless: bool,
    /// The run's control.
    pub control: RunControl,
}

impl GlobalHost {
    /// A host for a run holding everything under `owner`.
    pub fn new(
        router: Rc<ShardRouter>,
        client: Rc<ClientInfo>,
        db: DbIndex,
        options: ClientOptions,
        owner: LockOwner,
        home: Option<ShardId>,
        control: RunControl,
    ) -> GlobalHost {
        let databases = control.settings.databases;
        GlobalHost {
            router,
            client,
            db: Cell::new(db),
            options: ClientOptions {
                script: true,
                ..options
            },
            owner,
            databases,
            home,
            stayed_home: Cell::new(true),
            keyless: control.invocation.keys().is_empty(),
            control,
        }
    }

    /// Whether a shard-local run could have run this one: every key it touched lives on
    /// its declared keys' shard, or it declared none and touched none.
    pub fn stays_local(&self) -> bool {
        (self.home.is_some() || self.keyless) && self.stayed_home.get()
    }
}

impl ScriptHost for GlobalHost {
    fn call(&self, mut argv: Vec<Bytes>) -> HostCall {
        let spec = match self.control.check(&argv) {
            Ok(spec) => spec,
            Err(reply) => return HostCall::Ready(reply),
        };
        crate::command_names::restore_name(&mut argv, spec);
        self.control.executing(spec);
        let (db, options) = (self.db.get(), self.options);
        match spec.exec {
            Exec::Keyed { cross, .. } => {
                let count = self.router.shard_count();
                let me = self.router.me();
                for key in spec.keys.positions(&argv).filter_map(|at| argv.get(at)) {
                    if Some(ShardId::for_key(key, count)) != self.home {
                        self.stayed_home.set(false);
                    }
                }
                match crate::coordinator::single_shard(spec, &argv, count, me) {
                    Some(shard) if shard == me => {
                        let state = self.router.state();
                        let now = self.control.now;
                        let mut replies = state.execute_at(db, options, &[(spec, argv)], now);
                        HostCall::Ready(replies.pop().unwrap_or(Reply::Nil))
                    }
                    Some(shard) => {
                        let router = self.router.clone();
                        let now = self.control.now;
                        HostCall::Pending(Box::pin(async move {
                            router
                                .invoke_on(shard, move |state: Rc<ShardState>| async move {
                                    state.execute_at(db, options, &[(spec, argv)], now)
                                })
                                .await
                                .pop()
                                .unwrap_or(Reply::Nil)
                        }))
                    }
                    None => {
                        let router = self.router.clone();
                        let owner = Some(self.owner);
                        HostCall::Pending(Box::pin(async move {
                            run_cross(&router, db, options, owner, spec, argv, cross).await
                        }))
                    }
                }
            }
            Exec::Server(command) => {
                if let Some(reply) = server_call(command, &argv, &self.db, self.databases) {
                    return HostCall::Ready(reply);
                }
                // FLUSHALL, DBSIZE, KEYS, SCAN, INFO ...: in a session of the script's own,
                // inside the script's hold on every shard.
                self.stayed_home.set(false);
                let (router, client, owner) =
                    (self.router.clone(), self.client.clone(), self.owner);
                HostCall::Pending(Box::pin(async move {
                    let mut session = Session::new(router, client, true);
                    session.db = db;
                    session.options = options;
                    session.lock_owner = Some(owner);
                    let execution = Box::pin(crate::server_commands::execute(
                        &mut session,
                        command,
                        &argv,
                    ));
                    execution.await.0.unwrap_or(Reply::Nil)
                }))
            }
        }
    }

    fn tick(&self, elapsed: Duration) -> Tick {
        self.control.tick(elapsed)
    }

    fn log(&self, level: LogLevel, message: &[u8]) {
        RunControl::log(level, message);
    }
}
