//! Per-connection command dispatch: lookup, arity, gates, routing, batching, replies.

use crate::config::Settings;
use crate::coordinator::{run_coordinated, run_segment, run_split, single_shard};
use crate::shard_state::{ClientInfo, KeyedCommand, Serving, ShardRouter, ShardState};
use crate::ticks::Ticks;
use peregrine_commands::{ClientOptions, CommandSpec, CrossShard, Exec, Flag, ServerCommand};
use peregrine_keyspace::DbIndex;
use peregrine_resp::{Argv, Protocol, Reply};
use peregrine_shard::{LockOwner, ShardId};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Whether the connection goes on after a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Keep serving.
    Continue,
    /// Close after writing the replies (QUIT, CLIENT KILL of oneself).
    Close,
}

/// CLIENT REPLY's mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyMode {
    /// Send every reply.
    On,
    /// Send none.
    Off,
    /// Skip the next command's reply.
    Skip,
}

/// A connection's state as commands see it.
pub struct Session {
    /// The core's router (and through it, the local shard).
    pub router: Rc<ShardRouter>,
    /// This client, as CLIENT LIST shows it.
    pub info: Rc<ClientInfo>,
    /// RESP2 or RESP3.
    pub protocol: Protocol,
    /// Selected database.
    pub db: DbIndex,
    /// AUTH done (or not needed).
    pub authenticated: bool,
    /// CLIENT REPLY mode.
    pub reply_mode: ReplyMode,
    /// NO-TOUCH and friends.
    pub options: ClientOptions,
    /// CLIENT NO-EVICT.
    pub no_evict: bool,
    settings: Rc<Settings>,
    /// The `settings_generation` that `settings` was read at.
    settings_generation: u64,
    /// The transaction being queued (after MULTI).
    pub multi: Option<crate::transaction::Transaction>,
    /// WATCHed keys.
    pub watches: crate::transaction::Watches,
    /// Set while EXEC runs a transaction holding every shard: the locks its commands take
    /// pass its own.
    pub lock_owner: Option<LockOwner>,
    /// Channels, patterns and shard channels subscribed.
    pub subscriptions: crate::pubsub::Subscriptions,
    /// Shards that ran writes for the current read (with `appendfsync always`, its
    /// replies wait until those shards' logs are durable).
    wrote_on: Vec<bool>,
    /// `enable-debug-command` lets this client run DEBUG (it cannot change at run time).
    debug_allowed: bool,
}

/// Whether a client connected over the loopback interface (`local` in
/// `enable-debug-command` and `enable-module-command`).
pub fn is_local(info: &ClientInfo) -> bool {
    info.addr
        .parse::<std::net::SocketAddr>()
        .is_ok_and(|address| crate::connection::is_loopback(&address))
}

/// Redis's refusal of DEBUG to a client `enable-debug-command` does not allow.
const DEBUG_NOT_ALLOWED: &str = "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";

/// Most commands run as one batch or segment.
const MAX_BATCH: usize = 128;

/// A run of consecutive single-shard commands of one read, each tagged with the shard
/// that owns its keys. A run on one shard travels as one batch; a run spanning shards runs
/// as one locked segment (see [`crate::coordinator::run_segment`]).
struct PendingBatch {
    commands: Vec<KeyedCommand>,
    /// The shard of the first command (of every command while `shards` is `None`).
    shard: ShardId,
    /// Each command's shard, once they do not all share one: a batch on one shard (the
    /// common case) goes to it as it is, without a second vector to build or convert.
    shards: Option<Vec<ShardId>>,
}

impl PendingBatch {
    /// An empty batch for commands starting on `shard`, with room for `expected` of them
    /// (at most [`MAX_BATCH`]).
    fn new(shard: ShardId, expected: usize) -> PendingBatch {
        PendingBatch {
            commands: Vec::with_capacity(expected.min(MAX_BATCH)),
            shard,
            shards: None,
        }
    }

    /// Adds `command`, which runs on `shard`.
    fn push(&mut self, shard: ShardId, command: KeyedCommand) {
        if self.shards.is_none() && shard != self.shard {
            self.shards = Some(vec![self.shard; self.commands.len()]);
        }
        if let Some(shards) = &mut self.shards {
            shards.push(shard);
        }
        self.commands.push(command);
    }
}

impl Session {
    /// A fresh session; `authenticated` when no password is required.
    pub fn new(router: Rc<ShardRouter>, info: Rc<ClientInfo>, authenticated: bool) -> Session {
        // The generation first: a CONFIG SET in between makes the first use re-read.
        let settings_generation = router
            .state()
            .server
            .settings_generation
            .load(Ordering::Relaxed);
        let settings = Rc::new(router.state().server.settings());
        let local = is_local(&info);
        let debug_allowed = settings.debug_command.allows(local);
        let options = ClientOptions {
            id: info.id,
            home: Some(router.me().0),
            ..ClientOptions::default()
        };
        Session {
            router,
            info,
            protocol: Protocol::Resp2,
            db: DbIndex(0),
            authenticated,
            reply_mode: ReplyMode::On,
            options,
            no_evict: false,
            settings,
            settings_generation,
            multi: None,
            watches: Default::default(),
            lock_owner: None,
            subscriptions: Default::default(),
            wrote_on: Vec::new(),
            debug_allowed,
        }
    }

    /// True when replies to writes wait for the log to be durable (`appendonly yes` with
    /// `appendfsync always`).
    fn durable_replies(&mut self) -> bool {
        let persistence = &self.settings().persistence;
        persistence.enabled && persistence.fsync == crate::persistence::FsyncPolicy::Always
    }

    /// Notes that `spec` runs on `shard` (`None`: on several or all shards), so that the
    /// replies of this read wait for that shard's log.
    pub fn note_write(&mut self, spec: &CommandSpec, shard: Option<ShardId>) {
        if spec.has(Flag::Write) {
            self.note_written_on(shard);
        }
    }

    /// Notes that writes run on `shard` (`None`: on any shard) for this read's replies.
    pub fn note_written_on(&mut self, shard: Option<ShardId>) {
        let count = usize::from(self.router.shard_count());
        self.wrote_on.resize(count, false);
        match shard {
            Some(shard) => self.wrote_on[shard.index()] = true,
            None => self.wrote_on.fill(true),
        }
    }

    /// With `appendfsync always`, waits until the records of this read's writes are
    /// durable on every shard that ran them (one fsync covers every client waiting on a
    /// shard: group commit).
    async fn await_durability(&mut self) {
        if !self.wrote_on.contains(&true) {
            return;
        }
        let always = self.durable_replies();
        let shards: Vec<ShardId> = self
            .wrote_on
            .iter()
            .enumerate()
            .filter(|(_, wrote)| **wrote)
            .map(|(index, _)| ShardId(index as u16))
            .collect();
        self.wrote_on.fill(false);
        if !always {
            return;
        }
        for shard in shards {
            self.router
                .invoke_on(shard, |state: Rc<ShardState>| async move {
                    let lsn = state.journal.borrow().last_lsn();
                    state.persistence.wait_durable(lsn).await;
                })
                .await;
        }
    }

    /// The settings, re-read only when CONFIG SET changed them (an atomic load per call,
    /// no lock and no clock reading on every command).
    pub fn settings(&mut self) -> Rc<Settings> {
        let server = &self.router.state().server;
        let generation = server.settings_generation.load(Ordering::Relaxed);
        if generation != self.settings_generation {
            self.settings = Rc::new(server.settings());
            self.settings_generation = generation;
        }
        self.settings.clone()
    }

    /// The protocol version in use.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Whether the client may run commands.
    pub fn authenticated(&self) -> bool {
        self.authenticated
    }

    /// The local shard.
    pub fn shard(&self) -> &Rc<ShardState> {
        self.router.state()
    }

    /// Executes every command of a read, in order, appending replies to `out`.
    pub async fn execute_all(
        &mut self,
        commands: Vec<Argv>,
        out: &mut Vec<u8>,
        stream: &mut glommio::net::TcpStream,
    ) -> Flow {
        let mut pending: Option<PendingBatch> = None;
        let count = commands.len() as u64;
        // Set while the command that used CLIENT CACHING's one-command switch finishes.
        let mut caching_used = false;
        let mut commands = commands.into_iter();
        while let Some(mut argv) = commands.next() {
            if std::mem::take(&mut caching_used) {
                crate::tracking::caching_used(self);
            }
            caching_used = crate::tracking::uses_caching(self, &argv);
            let spec = match self.check(&argv) {
                Ok(spec) => {
                    crate::command_names::restore_name(&mut argv, spec);
                    spec
                }
                Err(reply) => {
                    if !self.flush(&mut pending, out, stream).await {
                        return Flow::Close;
                    }
                    let reply = crate::transaction::refuse(self, &argv, reply).await;
                    self.emit(reply, out);
                    continue;
                }
            };
            self.info.last_command.set(spec.name);
            if self.shard().server.client_pause.is_on() && crate::pause::holds(self, spec) {
                // What came before it runs and is answered; this command and what follows
                // wait.
                if !self.flush(&mut pending, out, stream).await {
                    return Flow::Close;
                }
                if !self.send_now(out, stream).await {
                    return Flow::Close;
                }
                crate::pause::wait_while_held(self, spec).await;
            }
            if self.multi.is_some() && !crate::transaction::controls_transaction(spec) {
                if !self.flush(&mut pending, out, stream).await {
                    return Flow::Close;
                }
                let reply = crate::transaction::queue(self, spec, argv);
                self.emit(reply, out);
                continue;
            }
            if spec.has(Flag::Write) && self.durable_replies() {
                let shard = match spec.exec {
                    Exec::Keyed { .. } if !spec.has(Flag::Blocking) => {
                        single_shard(spec, &argv, self.router.shard_count(), self.router.me())
                    }
                    _ => None,
                };
                self.note_write(spec, shard);
            }
            if crate::chunked::handles(spec)
                && crate::chunked::worth_a_look(&self.router, self.db, spec, &argv)
            {
                if !self.flush(&mut pending, out, stream).await {
                    return Flow::Close;
                }
                match self.run_chunked(spec, &argv, out, stream).await {
                    Some(true) => continue,
                    Some(false) => return Flow::Close,
                    None => {}
                }
            }
            match spec.exec {
                Exec::Keyed { .. } if spec.has(Flag::Blocking) => {
                    if !self.flush(&mut pending, out, stream).await {
                        return Flow::Close;
                    }
                    let logged = argv.clone();
                    let Some((reply, ran)) = self.run_blocking(spec, argv, out, stream).await
                    else {
                        return Flow::Close;
                    };
                    // Waits spanning shards pop through a plan that records on this core.
                    crate::pubsub::publish_key_events(self.shard(), None);
                    // Its execution time is its runs' (the shards that ran it took no
                    // note, see `run_blocking`), not the wait, as Redis counts it.
                    self.record_finished(spec, Some(&logged), ran, reply.is_error());
                    if crate::monitor::anyone(self.shard()) {
                        crate::monitor::feed_from_session(self, spec, &logged);
                    }
                    self.emit(reply, out);
                }
                Exec::Keyed { cross, .. } => {
                    let shard_count = self.router.shard_count();
                    match single_shard(spec, &argv, shard_count, self.router.me()) {
                        Some(shard) => {
                            // Sized for the rest of the read: a pipeline's batch is
                            // allocated once, not grown as it fills.
                            let rest = commands.len() + 1;
                            pending
                                .get_or_insert_with(|| PendingBatch::new(shard, rest))
                                .push(shard, (spec, argv));
                            // Bound the keys one segment locks (and the work between
                            // two looks at the socket); a command under CLIENT CACHING
                            // runs alone, with the switch it alone gets.
                            let full = caching_used
                                || pending
                                    .as_ref()
                                    .is_some_and(|batch| batch.commands.len() >= MAX_BATCH);
                            if full && !self.flush(&mut pending, out, stream).await {
                                return Flow::Close;
                            }
                        }
                        None => {
                            if !self.flush(&mut pending, out, stream).await {
                                return Flow::Close;
                            }
                            let started = Ticks::now();
                            let logged = self.keeps_notes().then(|| argv.clone());
                            let reply = self.run_cross(spec, argv, cross).await;
                            // Cross-shard plans record their events on this core.
                            crate::pubsub::publish_key_events(self.shard(), None);
                            self.finish(spec, logged.as_ref(), started, reply.is_error());
                            if let Some(argv) = &logged {
                                crate::monitor::feed_from_session(self, spec, argv);
                            }
                            self.emit(reply, out);
                            self.emit_own_pushes(out);
                        }
                    }
                }
                Exec::Server(command) => {
                    if !self.flush(&mut pending, out, stream).await {
                        return Flow::Close;
                    }
                    let started = Ticks::now();
                    crate::monitor::feed_script(self, spec, &argv);
                    let (reply, flow) = crate::server_commands::execute(self, command, &argv).await;
                    crate::pubsub::publish_key_events(self.shard(), None);
                    let failed = reply.as_ref().is_some_and(Reply::is_error);
                    self.finish(spec, Some(&argv), started, failed);
                    crate::monitor::feed_from_session(self, spec, &argv);
                    if let Some(reply) = reply {
                        self.emit(reply, out);
                    }
                    self.emit_own_pushes(out);
                    if flow == Flow::Close {
                        if !self.flush(&mut pending, out, stream).await {
                            return Flow::Close;
                        }
                        self.await_durability().await;
                        return Flow::Close;
                    }
                }
            }
        }
        if !self.flush(&mut pending, out, stream).await {
            return Flow::Close;
        }
        if caching_used {
            crate::tracking::caching_used(self);
        }
        self.await_durability().await;
        let state = self.shard();
        state
            .commands_processed
            .set(state.commands_processed.get() + count);
        self.info.last_active.set(Instant::now());
        self.info.db.set(self.db.0);
        Flow::Continue
    }

    /// Runs a keyed command whose keys span shards, by its cross-shard plan.
    async fn run_cross(&self, spec: &'static CommandSpec, argv: Argv, cross: CrossShard) -> Reply {
        let (db, options, owner) = (self.db, self.options, self.lock_owner);
        run_cross(&self.router, db, options, owner, spec, argv, cross).await
    }

    /// Runs one queued command of a transaction that holds every shard (see
    /// [`crate::transaction`]): keyed commands run without taking locks, blocking ones
    /// without blocking, server commands as usual.
    pub async fn run_queued(&mut self, spec: &'static CommandSpec, argv: Argv) -> Reply {
        match spec.exec {
            Exec::Keyed { cross, .. } => {
                let shards = self.router.shard_count();
                match single_shard(spec, &argv, shards, self.router.me()) {
                    Some(shard) => {
                        let (db, options) = (self.db, self.options);
                        self.router
                            .invoke_on(shard, move |state: Rc<ShardState>| async move {
                                state.execute_unlocked(db, options, &[(spec, argv)])
                            })
                            .await
                            .pop()
                            .unwrap_or(Reply::Nil)
                    }
                    None => self.run_cross(spec, argv, cross).await,
                }
            }
            Exec::Server(command) => {
                let started = Ticks::now();
                crate::monitor::feed_script(self, spec, &argv);
                // Boxed: EXEC runs server commands, and a server command is EXEC.
                let execution = Box::pin(crate::server_commands::execute(self, command, &argv));
                let (reply, _) = execution.await;
                let reply = reply.unwrap_or(Reply::Nil);
                self.finish(spec, Some(&argv), started, reply.is_error());
                crate::monitor::feed_from_session(self, spec, &argv);
                reply
            }
        }
    }

    /// Writes the replies gathered in `out` now, before the client waits (a blocking
    /// command, a pause); false when the client is gone.
    pub async fn send_now(&self, out: &mut Vec<u8>, stream: &mut glommio::net::TcpStream) -> bool {
        if out.is_empty() {
            return true;
        }
        self.shard().count_write(out.len());
        let sent = futures_lite::AsyncWriteExt::write_all(stream, out)
            .await
            .is_ok();
        out.clear();
        sent
    }

    /// Tells other cores this client's address and current name (the slow log records
    /// them with the commands it runs there).
    pub fn publish_identity(&self) {
        let name = self.info.name.borrow();
        self.shard()
            .server
            .client_identities
            .set(self.info.id, &self.info.addr, &name);
    }

    /// Whether the slow log or MONITOR may want a command's arguments (a command run
    /// away from its arguments then keeps a copy).
    fn keeps_notes(&self) -> bool {
        let state = self.shard();
        state.slowlog_settings().threshold_ticks().is_some() || crate::monitor::anyone(state)
    }

    /// Adds a command run from this core to the command statistics and, when `argv` is
    /// given and the command was slow, to the slow log.
    fn finish(&self, spec: &CommandSpec, argv: Option<&Argv>, started: Ticks, failed: bool) {
        self.record_finished(spec, argv, started.until(Ticks::now()), failed);
    }

    /// Records a command that ran for `ticks` in the statistics, the latency histograms
    /// and (with `argv`) the slow log.
    fn record_finished(&self, spec: &CommandSpec, argv: Option<&Argv>, ticks: u64, failed: bool) {
        // A container's statistics are its subcommand's (`config|get`), as in Redis 7.
        let name = match crate::server_commands::subcommands(spec) {
            Some(_) => self.info.last_command.get(),
            None => spec.name,
        };
        self.shard()
            .record(name, spec.has(Flag::Fast), ticks, failed);
        if let Some(argv) = argv.filter(|_| !spec.has(Flag::SkipSlowlog)) {
            crate::slowlog::record_for_session(self, spec, argv, ticks);
        }
    }

    /// Runs the pending commands and emits their replies in order: on their shard in one
    /// message when they share a shard, as one locked segment when they span shards. A
    /// read of a huge part of a key of another core that the shard set aside
    /// ([`crate::chunked::split_at_huge_read`]) runs here in chunks, then the commands
    /// after it. False when the client is gone.
    async fn flush(
        &mut self,
        pending: &mut Option<PendingBatch>,
        out: &mut Vec<u8>,
        stream: &mut glommio::net::TcpStream,
    ) -> bool {
        let mut next = pending.take();
        while let Some(batch) = next.take() {
            let (db, options) = (self.db, self.options);
            let PendingBatch {
                mut commands,
                shard,
                shards,
            } = batch;
            let (replies, set_aside) = match shards {
                None => {
                    self.router
                        .invoke_on(shard, move |state: Rc<ShardState>| async move {
                            let set_aside =
                                crate::chunked::split_at_huge_read(&state, db, &mut commands);
                            let replies = state
                                .run_batch(db, options, commands, Serving::AfterEachWrite)
                                .await;
                            (replies, set_aside)
                        })
                        .await
                }
                Some(shards) => {
                    let commands = shards.into_iter().zip(commands).collect();
                    (
                        run_segment(&self.router, db, options, commands).await,
                        Vec::new(),
                    )
                }
            };
            self.emit_batch(replies, out);
            let mut set_aside = set_aside.into_iter();
            let Some((spec, argv)) = set_aside.next() else {
                break;
            };
            match self.run_chunked(spec, &argv, out, stream).await {
                Some(true) => {}
                Some(false) => return false,
                // No longer huge when it came to run: the ordinary path, alone.
                None => {
                    let replies = self
                        .router
                        .invoke_on(shard, move |state: Rc<ShardState>| {
                            state.run_batch(
                                db,
                                options,
                                vec![(spec, argv)],
                                Serving::AfterEachWrite,
                            )
                        })
                        .await;
                    self.emit_batch(replies, out);
                }
            }
            let rest: Vec<KeyedCommand> = set_aside.collect();
            if !rest.is_empty() {
                next = Some(PendingBatch {
                    commands: rest,
                    shard,
                    shards: None,
                });
            }
        }
        true
    }

    /// Runs `spec` (`argv`) in chunks ([`crate::chunked`]) when its keys are huge and
    /// emits its reply: `Some(true)` then, `Some(false)` when the client is gone, `None`
    /// when the keys are not huge (the command takes the ordinary path).
    async fn run_chunked(
        &mut self,
        spec: &'static CommandSpec,
        argv: &Argv,
        out: &mut Vec<u8>,
        stream: &mut glommio::net::TcpStream,
    ) -> Option<bool> {
        let started = Ticks::now();
        let client = crate::chunked::Client {
            options: self.options,
            protocol: self.protocol,
        };
        let huge = crate::chunked::run_if_huge(crate::chunked::Request {
            router: &self.router,
            db: self.db,
            client,
            spec,
            argv,
        })
        .await?;
        Some(match huge {
            crate::chunked::Outcome::Reply(reply) => {
                self.finish(spec, Some(argv), started, reply.is_error());
                self.emit(reply, out);
                true
            }
            crate::chunked::Outcome::Chunks(chunks) => {
                self.finish(spec, Some(argv), started, false);
                self.emit_chunks(chunks, out, stream).await
            }
        })
    }

    /// Emits a batch's replies in order, then the invalidations its commands caused.
    fn emit_batch(&mut self, replies: Vec<Reply>, out: &mut Vec<u8>) {
        for reply in replies {
            self.emit(reply, out);
        }
        self.emit_own_pushes(out);
    }

    /// A tracking client's invalidations that its own commands caused (its writes, a
    /// FLUSHALL) follow the replies of those commands at once, before later replies of
    /// the same read, as Redis sends them. (Within one batch of keyed commands they
    /// follow the whole batch.)
    fn emit_own_pushes(&self, out: &mut Vec<u8>) {
        if self.options.tracking.is_some() {
            self.info.outbox.drain_into(out);
        }
    }

    /// Counts `reply` in this shard's error statistics when it is an error.
    #[cold]
    pub fn count_error(&self, reply: &Reply) {
        let text: &[u8] = match reply {
            Reply::Error(text) => text.as_bytes(),
            Reply::BinaryError(text) => text,
            _ => return,
        };
        self.shard().errors.borrow_mut().record(text);
    }

    /// Lookup, arity and authentication, with Redis's errors.
    fn check(&self, argv: &Argv) -> Result<&'static CommandSpec, Reply> {
        let name = argv.first().map(|name| name.as_ref()).unwrap_or_default();
        // Redis's order: unknown command, then arity, then authentication.
        let Some(spec) = crate::command_names::resolve(name) else {
            return Err(Reply::BinaryError(unknown_command(argv).into()));
        };
        if !spec.arity.accepts(argv.len()) {
            return Err(Reply::error(format!(
                "ERR wrong number of arguments for '{}' command",
                spec.name
            )));
        }
        if !self.authenticated && !spec.has(Flag::NoAuth) {
            return Err(Reply::error("NOAUTH Authentication required."));
        }
        // DEBUG is the one protected command (Flag::Protected): an enum test, not a scan
        // of every command's flags.
        if matches!(spec.exec, Exec::Server(ServerCommand::Debug)) && !self.debug_allowed {
            return Err(Reply::error(DEBUG_NOT_ALLOWED));
        }
        if self.protocol == Protocol::Resp2
            && self.subscriptions.any()
            && !crate::pubsub::allowed_while_subscribed(spec.name)
        {
            return Err(Reply::error(format!(
                "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                spec.name
            )));
        }
        let server = &self.router.state().server;
        if let Some(busy) = server
            .busy_scripts
            .refusal(spec, argv, self.router.shard_count())
        {
            return Err(busy);
        }
        let persistence = &server.persistence;
        if persistence.loading() && !spec.has(Flag::Loading) {
            return Err(Reply::error(
                "LOADING Redis is loading the dataset in memory",
            ));
        }
        if spec.has(Flag::Write) {
            if let Some(refusal) = persistence.write_refusal() {
                return Err(Reply::error(refusal));
            }
        }
        Ok(spec)
    }

    /// CONFIG RESETSTAT: zeroes the statistics of every shard.
    pub async fn reset_statistics(&self) {
        for shard in self.router.shards() {
            self.router
                .invoke_on(shard, |state: Rc<ShardState>| async move {
                    state.command_stats.borrow_mut().clear();
                    let mut stats = state.stats.borrow_mut();
                    stats.keyspace_hits = 0;
                    stats.keyspace_misses = 0;
                    state.commands_processed.set(0);
                    state.errors.borrow_mut().clear();
                    state.connections_received.set(0);
                    state.rejected_connections.set(0);
                    state.net_input_bytes.set(0);
                    state.net_output_bytes.set(0);
                    state.reads_processed.set(0);
                    state.writes_processed.set(0);
                    for db in state.keyspace.borrow_mut().iter_mut() {
                        db.expired_keys = 0;
                    }
                })
                .await;
        }
    }

    /// Encodes `reply` unless CLIENT REPLY suppresses it.
    pub fn emit(&mut self, reply: Reply, out: &mut Vec<u8>) {
        if reply.is_error() {
            self.count_error(&reply);
        }
        match self.reply_mode {
            ReplyMode::On => reply.encode(self.protocol, out),
            ReplyMode::Off => {}
            ReplyMode::Skip => self.reply_mode = ReplyMode::On,
        }
    }

    /// Sends a reply already encoded in buffers (one too large to copy into `out`, see
    /// [`crate::chunked`]) after what `out` holds, buffer by buffer, as `emit` would send
    /// it (not at all under CLIENT REPLY OFF or SKIP). False when the client is gone.
    async fn emit_chunks(
        &mut self,
        chunks: Vec<bytes::Bytes>,
        out: &mut Vec<u8>,
        stream: &mut glommio::net::TcpStream,
    ) -> bool {
        match self.reply_mode {
            ReplyMode::On => {}
            ReplyMode::Off => return true,
            ReplyMode::Skip => {
                self.reply_mode = ReplyMode::On;
                return true;
            }
        }
        if !self.send_now(out, stream).await {
            return false;
        }
        for chunk in chunks {
            self.shard().count_write(chunk.len());
            if futures_lite::AsyncWriteExt::write_all(stream, &chunk)
                .await
                .is_err()
            {
                return false;
            }
        }
        true
    }
}

/// Runs a keyed command whose keys span shards by its cross-shard plan, on behalf of
/// transaction or script `owner` if any.
pub async fn run_cross(
    router: &ShardRouter,
    db: DbIndex,
    options: ClientOptions,
    owner: Option<LockOwner>,
    spec: &'static CommandSpec,
    argv: Argv,
    cross: CrossShard,
) -> Reply {
    let options = ClientOptions {
        part: true,
        ..options
    };
    match cross {
        CrossShard::Split(merge) => run_split(router, db, options, owner, spec, argv, merge).await,
        CrossShard::Coordinated(plan) => {
            run_coordinated(router, db, options, owner, spec, argv, plan).await
        }
        CrossShard::Scratch => {
            crate::scratch::run_scratch(router, db, options, owner, spec, argv).await
        }
        CrossShard::Discovered(discovery) => {
            crate::scratch::run_discovered(router, db, options, owner, spec, argv, discovery).await
        }
        CrossShard::SingleKey => Reply::error("ERR internal error: keys span shards"),
    }
}

/// Redis's text for an unknown command: the name and the first arguments, quoted, as raw
/// bytes (the client's bytes are echoed unchanged).
fn unknown_command(argv: &Argv) -> Vec<u8> {
    let mut args: Vec<u8> = Vec::new();
    for arg in argv.iter().skip(1) {
        if args.len() >= 128 {
            break;
        }
        let room = 128 - args.len();
        // Redis prints with %.*s: a NUL byte ends the text.
        let arg = until_nul(arg);
        args.push(b'\'');
        args.extend_from_slice(&arg[..arg.len().min(room)]);
        args.extend_from_slice(b"' ");
    }
    let name = argv.first().map(|name| until_nul(name)).unwrap_or_default();
    let name = &name[..name.len().min(128)];
    let mut text = b"ERR unknown command '".to_vec();
    text.extend_from_slice(name);
    text.extend_from_slice(b"', with args beginning with: ");
    text.extend_from_slice(&args);
    text
}

fn until_nul(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .position(|&byte| byte == 0)
        .unwrap_or(bytes.len());
    &bytes[..end]
}
