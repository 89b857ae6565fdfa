//! Applying records to a keyspace: how snapshots load and logs replay.
//!
//! A command record runs its ordinary handler with the clock it originally saw, so lazy
//! expiry, relative TTLs and every other time-dependent outcome come out as they did; the
//! few server-level writes (FLUSHDB, FLUSHALL, SWAPDB) are applied here directly.

use bytes::Bytes;
use peregrine_commands::{
    lookup, run_keyed, ClientOptions, CommandLimits, Exec, Random, ServerCommand, ShardCtx,
    ShardStats,
};
use peregrine_keyspace::{DbIndex, Keyspace};
use peregrine_persist::{Journal, Record};
use peregrine_resp::Reply;

/// Runs records against one keyspace.
pub struct Replayer<'k> {
    keyspace: &'k mut Keyspace,
    stats: ShardStats,
    random: Random,
    limits: CommandLimits,
    journal: Journal,
    capture: peregrine_commands::Capture,
    /// Empty flags: replaying the log publishes nothing.
    notifier: peregrine_commands::Notifier,
}

impl<'k> Replayer<'k> {
    /// A replayer writing into `keyspace`, building collections under `limits`.
    pub fn new(keyspace: &'k mut Keyspace, limits: CommandLimits) -> Replayer<'k> {
        // Keys the replay expires are not news either.
        keyspace.report_lazy_expiry(false);
        Replayer {
            keyspace,
            stats: ShardStats::default(),
            random: Random::new(0x5eed),
            limits,
            journal: Journal::disabled(),
            capture: peregrine_commands::Capture::default(),
            notifier: peregrine_commands::Notifier::new(),
        }
    }

    fn run_owned(&mut self, time: u64, db: u32, argv: &[Bytes]) -> Reply {
        if db >= self.keyspace.db_count() {
            return Reply::error(format!(
                "ERR the data uses database {db} but only {} are configured",
                self.keyspace.db_count()
            ));
        }
        let Some(spec) = argv.first().and_then(|name| lookup(name)) else {
            return Reply::error("ERR unknown command in a record");
        };
        let db = DbIndex(db);
        match spec.exec {
            Exec::Keyed { .. } => {
                let mut ctx = ShardCtx {
                    keyspace: self.keyspace,
                    db,
                    now: time,
                    stats: &mut self.stats,
                    client: ClientOptions {
                        no_touch: true,
                        ..ClientOptions::default()
                    },
                    limits: self.limits,
                    random: &mut self.random,
                    journal: &mut self.journal,
                    capture: &mut self.capture,
                    watched: &mut peregrine_commands::WatchedKeys::default(),
                    effect_recorded: false,
                    notifier: &mut self.notifier,
                };
                run_keyed(&mut ctx, spec, argv).unwrap_or_else(|error| error.into_reply())
            }
            Exec::Server(ServerCommand::FlushAll) => {
                for database in self.keyspace.iter_mut() {
                    drop(database.take_table());
                }
                Reply::Ok
            }
            Exec::Server(ServerCommand::FlushDb) => {
                drop(self.keyspace.db(db).take_table());
                Reply::Ok
            }
            Exec::Server(ServerCommand::SwapDb) => {
                let index = |at: usize| {
                    argv.get(at)
                        .and_then(|arg| std::str::from_utf8(arg).ok())
                        .and_then(|text| text.parse::<u32>().ok())
                        .filter(|&index| index < self.keyspace.db_count())
                };
                match (index(1), index(2)) {
                    (Some(first), Some(second)) => {
                        self.keyspace.swap(DbIndex(first), DbIndex(second));
                        Reply::Ok
                    }
                    _ => Reply::error("ERR invalid SWAPDB record"),
                }
            }
            Exec::Server(_) => Reply::error("ERR command cannot be replayed"),
        }
    }

    /// Applies one record whose payload lives in `block` (arguments are shared with it,
    /// not copied). Multi-shard brackets are the caller's business and are ignored here.
    /// A record that fails (a command replying with an error) is returned as the error.
    pub fn apply(&mut self, block: &Bytes, record: &Record<'_>) -> Result<(), String> {
        match record {
            // A plain `SET key value` (what snapshots are mostly made of) is stored
            // directly: the handler would do exactly this, at a multiple of the cost.
            Record::Command { time, db, argv }
                if argv.len() == 3 && argv[0].eq_ignore_ascii_case(b"SET") =>
            {
                let value = peregrine_keyspace::Value::string(argv[2]);
                self.database(*db)?.set(argv[1], value, None, *time);
                Ok(())
            }
            Record::Command { time, db, argv } => {
                let owned: Vec<Bytes> = argv.iter().map(|arg| block.slice_ref(arg)).collect();
                let reply = self.run_owned(*time, *db, &owned);
                if reply.is_error() {
                    let text = reply.to_bytes(peregrine_resp::Protocol::Resp2);
                    return Err(String::from_utf8_lossy(text.trim_ascii()).into_owned());
                }
                Ok(())
            }
            Record::Expire { time, db, key } => {
                self.database(*db)?.expire_if_needed(key, *time);
                Ok(())
            }
            Record::ExpireFields { time, db, key } => {
                self.database(*db)?.expire_hash_fields(key, *time);
                Ok(())
            }
            Record::Create {
                time,
                db,
                key,
                value_type,
                encoding,
            } => {
                let database = self.database(*db)?;
                if let Some(value) =
                    peregrine_keyspace::Value::empty_collection(value_type, encoding)
                {
                    if database.get_live(key, *time).is_none() {
                        database.set(key, value, None, *time);
                    }
                }
                Ok(())
            }
            Record::SizeHint { db, keys } => {
                self.database(*db)?
                    .reserve(usize::try_from((*keys).min(1 << 31)).unwrap_or(0));
                Ok(())
            }
            Record::TxBegin { .. } | Record::TxEnd { .. } => Ok(()),
        }
    }

    fn database(&mut self, db: u32) -> Result<&mut peregrine_keyspace::Db, String> {
        if db >= self.keyspace.db_count() {
            return Err(format!(
                "the data uses database {db} but only {} are configured",
                self.keyspace.db_count()
            ));
        }
        Ok(self.keyspace.db(DbIndex(db)))
    }
}
