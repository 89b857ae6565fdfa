//! In-process shard for family tests: `TestShard::new().run(&["SET", "k", "v", "NX"])`.

use crate::{
    lookup, ClientOptions, CommandLimits, EventFlags, KeyEvent, Notifier, Random, ShardCtx,
    ShardStats,
};
use bytes::Bytes;
use peregrine_keyspace::{DbIndex, Keyspace, UnixMillis};
use peregrine_resp::{Protocol, Reply};

/// One shard's state driven directly through the command table (arity checked as the
/// dispatcher does), with a controllable clock.
pub struct TestShard {
    /// The shard's databases.
    pub keyspace: Keyspace,
    stats: ShardStats,
    random: Random,
    journal: peregrine_persist::Journal,
    capture: crate::Capture,
    watched: crate::WatchedKeys,
    notifier: Notifier,
    /// The clock every command sees.
    pub now: UnixMillis,
    /// The selected database.
    pub db: DbIndex,
    /// The client's switches (`restoring` to run a snapshot's rebuild commands).
    pub client: ClientOptions,
}

impl TestShard {
    /// Sixteen empty databases at a fixed time.
    pub fn new() -> TestShard {
        TestShard {
            keyspace: Keyspace::new(16),
            stats: ShardStats::default(),
            random: Random::new(42),
            journal: peregrine_persist::Journal::disabled(),
            capture: crate::Capture::default(),
            watched: crate::WatchedKeys::default(),
            notifier: Notifier::new(),
            now: 1_700_000_000_000,
            db: DbIndex(0),
            client: ClientOptions::default(),
        }
    }

    /// Runs one command and returns its reply.
    pub fn run(&mut self, args: &[&str]) -> Reply {
        let argv: Vec<Bytes> = args
            .iter()
            .map(|arg| Bytes::copy_from_slice(arg.as_bytes()))
            .collect();
        let Some(spec) = lookup(&argv[0]) else {
            return Reply::error("ERR unknown command");
        };
        if !spec.arity.accepts(argv.len()) {
            return Reply::error(format!(
                "ERR wrong number of arguments for '{}' command",
                spec.name
            ));
        }
        let mut ctx = ShardCtx {
            keyspace: &mut self.keyspace,
            db: self.db,
            now: self.now,
            stats: &mut self.stats,
            client: self.client,
            limits: CommandLimits::default(),
            random: &mut self.random,
            journal: &mut self.journal,
            capture: &mut self.capture,
            watched: &mut self.watched,
            effect_recorded: false,
            notifier: &mut self.notifier,
        };
        crate::run_keyed(&mut ctx, spec, &argv).unwrap_or_else(|error| error.into_reply())
    }

    /// Sets `notify-keyspace-events` (panics on a string Redis would refuse).
    pub fn notify_keyspace_events(&mut self, flags: &str) {
        let parsed = EventFlags::parse(flags);
        assert!(parsed.is_some(), "bad notify-keyspace-events {flags:?}");
        self.notifier.set_flags(parsed.unwrap_or_default());
    }

    /// The events recorded since the last call, oldest first.
    pub fn take_events(&mut self) -> Vec<KeyEvent> {
        self.notifier.take()
    }

    /// Runs one command and returns its events as `key:event` (with `db@` before the key
    /// outside database 0), as redis-cli shows a `__keyspace@*` subscription.
    pub fn events(&mut self, args: &[&str]) -> Vec<String> {
        self.take_events();
        self.run(args);
        self.take_events()
            .into_iter()
            .map(|event| {
                let db = match event.db {
                    0 => String::new(),
                    db => format!("{db}@"),
                };
                format!(
                    "{db}{}:{}",
                    String::from_utf8_lossy(&event.key),
                    event.event
                )
            })
            .collect()
    }

    /// Runs one command and returns its RESP2 bytes as text (for compact assertions).
    pub fn wire(&mut self, args: &[&str]) -> String {
        String::from_utf8_lossy(&self.run(args).to_bytes(Protocol::Resp2)).into_owned()
    }

    /// Runs one command and returns its RESP3 bytes as text.
    pub fn wire_resp3(&mut self, args: &[&str]) -> String {
        String::from_utf8_lossy(&self.run(args).to_bytes(Protocol::Resp3)).into_owned()
    }

    /// Runs one command that must fail and returns its error text; panics otherwise.
    pub fn error(&mut self, args: &[&str]) -> String {
        match self.run(args) {
            Reply::Error(text) => text.into_owned(),
            other => panic!("{args:?} replied {other:?}, not an error"),
        }
    }
}
