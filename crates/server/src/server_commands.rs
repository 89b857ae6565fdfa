//! Commands the server executes itself: connection state, all-shard operations, and
//! introspection.

use crate::dispatch::{Flow, ReplyMode, Session};
use crate::pubsub::{self, Kind};
use crate::shard_state::{unix_millis, ShardState};
use bytes::Bytes;
use peregrine_commands::{
    all_commands, check_subcommand, keys, lookup, Arity::*, CommandSpec, ServerCommand, Subcommand,
};
use peregrine_commands::{Flag, KeySpec};
use peregrine_keyspace::{DbIndex, ValueType};
use peregrine_resp::{Argv, Protocol, Reply};
use peregrine_shard::{LockRequest, LockTable, ShardId};
use std::rc::Rc;
use std::sync::atomic::Ordering;

type Outcome = (Option<Reply>, Flow);

fn reply(reply: Reply) -> Outcome {
    (Some(reply), Flow::Continue)
}

fn error(text: impl Into<std::borrow::Cow<'static, str>>) -> Outcome {
    reply(Reply::error(text))
}

fn keyword(arg: Option<&Bytes>, word: &str) -> bool {
    arg.is_some_and(|arg| arg.eq_ignore_ascii_case(word.as_bytes()))
}

fn text(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).into_owned()
}

fn parse_i64(arg: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(arg).ok()?;
    if text.starts_with('+') || (text.len() > 1 && text.starts_with('0')) || text.starts_with("-0")
    {
        return None;
    }
    text.parse().ok()
}

/// Executes a server command; `None` means no reply (CLIENT REPLY OFF|SKIP, SHUTDOWN).
pub async fn execute(session: &mut Session, command: ServerCommand, argv: &Argv) -> Outcome {
    match command {
        ServerCommand::Ping => ping(session, argv),
        ServerCommand::Echo => reply(Reply::Bulk(argv[1].clone())),
        ServerCommand::Quit => (Some(Reply::Ok), Flow::Close),
        ServerCommand::Reset => reset(session).await,
        ServerCommand::Hello => hello(session, argv),
        ServerCommand::Auth => auth(session, argv),
        ServerCommand::Select => select(session, argv),
        ServerCommand::SwapDb => swapdb(session, argv).await,
        ServerCommand::Client => client(session, argv).await,
        ServerCommand::Command => command_command(argv),
        ServerCommand::Info => reply(Reply::Verbatim(
            "txt",
            Bytes::from(crate::info::render(session, argv).await),
        )),
        ServerCommand::Config => config(session, argv).await,
        ServerCommand::DbSize => dbsize(session).await,
        ServerCommand::FlushDb => flush(session, argv, false).await,
        ServerCommand::FlushAll => flush(session, argv, true).await,
        ServerCommand::Time => {
            let micros = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_micros());
            reply(Reply::Array(vec![
                Reply::bulk((micros / 1_000_000).to_string()),
                Reply::bulk((micros % 1_000_000).to_string()),
            ]))
        }
        ServerCommand::Shutdown => shutdown(session, argv).await,
        // A master without replicas (replication is still to come), as INFO replication
        // reports it.
        ServerCommand::Role => reply(Reply::Array(vec![
            Reply::bulk("master"),
            Reply::Integer(0),
            Reply::Array(Vec::new()),
        ])),
        ServerCommand::Debug => debug(session, argv).await,
        ServerCommand::Keys => keys_command(session, argv).await,
        ServerCommand::Scan => scan(session, argv).await,
        ServerCommand::RandomKey => random_key(session).await,
        ServerCommand::Save => reply(crate::persistence::commands::save(session).await),
        ServerCommand::BgSave => match argv.get(1) {
            None => reply(crate::persistence::commands::bgsave(session, false)),
            Some(word) if text(word).eq_ignore_ascii_case("schedule") && argv.len() == 2 => {
                reply(crate::persistence::commands::bgsave(session, true))
            }
            Some(_) => error("ERR syntax error"),
        },
        ServerCommand::BgRewriteAof => reply(crate::persistence::commands::bgrewriteaof(session)),
        ServerCommand::Multi => reply(crate::transaction::multi(session)),
        ServerCommand::Exec => {
            let replies = crate::transaction::exec(session).await;
            // Each queued command's error counts, as Redis counts it when it runs.
            if let Reply::Array(items) = &replies {
                items.iter().for_each(|item| session.count_error(item));
            }
            reply(replies)
        }
        ServerCommand::Discard => reply(crate::transaction::discard(session).await),
        ServerCommand::Watch => reply(crate::transaction::watch(session, argv).await),
        ServerCommand::Eval
        | ServerCommand::EvalSha
        | ServerCommand::EvalRo
        | ServerCommand::EvalShaRo
        | ServerCommand::FCall
        | ServerCommand::FCallRo => reply(crate::scripting::run(session, command, argv).await),
        ServerCommand::Script => reply(crate::scripting::script(session, argv)),
        ServerCommand::Function => reply(crate::scripting::function(session, argv)),
        ServerCommand::Unwatch => {
            crate::transaction::unwatch(session).await;
            reply(Reply::Ok)
        }
        ServerCommand::Subscribe => reply(pubsub::subscribe(session, Kind::Channel, argv).await),
        ServerCommand::PSubscribe => reply(pubsub::subscribe(session, Kind::Pattern, argv).await),
        ServerCommand::SSubscribe => {
            reply(pubsub::subscribe(session, Kind::ShardChannel, argv).await)
        }
        ServerCommand::Unsubscribe => {
            reply(pubsub::unsubscribe(session, Kind::Channel, argv).await)
        }
        ServerCommand::PUnsubscribe => {
            reply(pubsub::unsubscribe(session, Kind::Pattern, argv).await)
        }
        ServerCommand::SUnsubscribe => {
            reply(pubsub::unsubscribe(session, Kind::ShardChannel, argv).await)
        }
        ServerCommand::Publish => reply(pubsub::publish_command(session, Kind::Channel, argv)),
        ServerCommand::SPublish => {
            reply(pubsub::publish_command(session, Kind::ShardChannel, argv))
        }
        ServerCommand::PubSub => reply(pubsub::pubsub_command(session, argv)),
        ServerCommand::Wait => reply(crate::wait::wait(session, argv).await),
        ServerCommand::WaitAof => reply(crate::wait::waitaof(session, argv).await),
        ServerCommand::Latency => reply(crate::latency::command(session, argv).await),
        ServerCommand::Memory => reply(crate::memory::command(session, argv).await),
        ServerCommand::Module => reply(crate::module::command(session, argv)),
        ServerCommand::Monitor => reply(crate::monitor::start(session)),
        ServerCommand::SlowLog => reply(crate::slowlog::command(session, argv).await),
        ServerCommand::LastSave => reply(Reply::Integer(
            session.shard().server.last_save.load(Ordering::Relaxed) as i64,
        )),
    }
}

fn ping(session: &mut Session, argv: &Argv) -> Outcome {
    if argv.len() > 2 {
        return error("ERR wrong number of arguments for 'ping' command");
    }
    // A RESP2 subscriber can only read pushes: its PONG is one.
    if session.protocol == Protocol::Resp2 && session.subscriptions.any() {
        let payload = argv.get(1).cloned().unwrap_or_default();
        return reply(Reply::Array(vec![
            Reply::bulk("pong"),
            Reply::Bulk(payload),
        ]));
    }
    match argv.get(1) {
        None => reply(Reply::status("PONG")),
        Some(payload) => reply(Reply::Bulk(payload.clone())),
    }
}

async fn reset(session: &mut Session) -> Outcome {
    crate::transaction::reset(session).await;
    pubsub::forget_all(session).await;
    crate::tracking::disable(session).await;
    session.db = DbIndex(0);
    session.protocol = Protocol::Resp2;
    session.reply_mode = ReplyMode::On;
    session.options = peregrine_commands::ClientOptions {
        id: session.options.id,
        home: session.options.home,
        ..Default::default()
    };
    session.no_evict = false;
    session.authenticated = session.settings().requirepass.is_none();
    session.info.name.borrow_mut().clear();
    session.publish_identity();
    session.info.resp.set(2);
    reply(Reply::status("RESET"))
}

fn check_password(
    session: &mut Session,
    user: Option<&[u8]>,
    password: &[u8],
) -> Result<(), Reply> {
    let settings = session.settings();
    let Some(expected) = settings.requirepass.clone() else {
        if user.is_none() {
            return Err(Reply::error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"));
        }
        if user == Some(b"default") {
            session.authenticated = true;
            return Ok(());
        }
        return Err(Reply::error(
            "WRONGPASS invalid username-password pair or user is disabled.",
        ));
    };
    if user.is_none_or(|user| user == b"default") && password == expected.as_slice() {
        session.authenticated = true;
        Ok(())
    } else {
        Err(Reply::error(
            "WRONGPASS invalid username-password pair or user is disabled.",
        ))
    }
}

fn auth(session: &mut Session, argv: &Argv) -> Outcome {
    let outcome = match argv.len() {
        2 => check_password(session, None, &argv[1]),
        3 => check_password(session, Some(&argv[1]), &argv[2]),
        _ => return error("ERR syntax error"),
    };
    match outcome {
        Ok(()) => reply(Reply::Ok),
        Err(failure) => reply(failure),
    }
}

fn hello(session: &mut Session, argv: &Argv) -> Outcome {
    let mut protocol = session.protocol;
    let mut index = 1;
    if let Some(version) = argv.get(1) {
        match parse_i64(version) {
            None => return error("ERR Protocol version is not an integer or out of range"),
            Some(2) => protocol = Protocol::Resp2,
            Some(3) => protocol = Protocol::Resp3,
            Some(_) => return error("NOPROTO unsupported protocol version"),
        }
        index = 2;
    }
    let mut name = None;
    while index < argv.len() {
        let option = &argv[index];
        let remaining = argv.len() - index - 1;
        if option.eq_ignore_ascii_case(b"auth") && remaining >= 2 {
            if let Err(failure) = check_password(session, Some(&argv[index + 1]), &argv[index + 2])
            {
                return reply(failure);
            }
            index += 3;
        } else if option.eq_ignore_ascii_case(b"setname") && remaining >= 1 {
            name = Some(argv[index + 1].clone());
            index += 2;
        } else {
            return error(format!(
                "ERR Syntax error in HELLO option '{}'",
                text(option)
            ));
        }
    }
    if !session.authenticated {
        return error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
    }
    if let Some(name) = name {
        if let Err(failure) = set_client_name(session, &name) {
            return reply(failure);
        }
    }
    session.protocol = protocol;
    session
        .info
        .resp
        .set(if protocol == Protocol::Resp3 { 3 } else { 2 });
    reply(Reply::Map(vec![
        (Reply::bulk("server"), Reply::bulk("redis")),
        (
            Reply::bulk("version"),
            Reply::bulk(crate::info::REDIS_VERSION),
        ),
        (
            Reply::bulk("proto"),
            Reply::Integer(if protocol == Protocol::Resp3 { 3 } else { 2 }),
        ),
        (Reply::bulk("id"), Reply::Integer(session.info.id as i64)),
        (Reply::bulk("mode"), Reply::bulk("standalone")),
        (Reply::bulk("role"), Reply::bulk("master")),
        (Reply::bulk("modules"), Reply::Array(Vec::new())),
    ]))
}

fn parse_db(session: &mut Session, arg: &[u8]) -> Result<DbIndex, Reply> {
    let index = parse_i64(arg)
        .ok_or_else(|| Reply::error("ERR value is not an integer or out of range"))?;
    if index < 0 || index >= i64::from(session.settings().databases) {
        return Err(Reply::error("ERR DB index is out of range"));
    }
    Ok(DbIndex(index as u32))
}

fn select(session: &mut Session, argv: &Argv) -> Outcome {
    match parse_db(session, &argv[1]) {
        Ok(db) => {
            session.db = db;
            session.info.db.set(db.0);
            reply(Reply::Ok)
        }
        Err(failure) => reply(failure),
    }
}

/// Locks every shard exclusively (ascending), runs `work` on each, releasing as it goes.
async fn on_all_shards_exclusive<F>(session: &Session, effect: Argv, work: F)
where
    F: Fn(&ShardState) + Send + Clone + 'static,
{
    let router = &session.router;
    let db = session.db.0;
    let tx = (router.shard_count() > 1).then(|| {
        (
            router.state().server.persistence.tx_id(),
            u32::from(router.shard_count()),
        )
    });
    let everything = LockRequest::everything(session.lock_owner);
    for shard in router.shards() {
        let request = everything.clone();
        router
            .invoke_on(shard, move |state| async move {
                LockTable::acquire(&state.locks, request).await;
            })
            .await;
    }
    for shard in router.shards() {
        let (request, work, effect) = (everything.clone(), work.clone(), effect.clone());
        router
            .invoke_on(shard, move |state| async move {
                work(&state);
                state.in_tx(tx, || {
                    let now = crate::shard_state::unix_millis();
                    state.journal.borrow_mut().command(now, db, &effect);
                });
                state.locks.borrow_mut().release(&request);
            })
            .await;
    }
}

/// Runs `work` on every shard (no locks) and collects the results in shard order.
pub async fn collect_from_shards<R, F>(session: &Session, work: F) -> Vec<R>
where
    R: Send + 'static,
    F: Fn(&ShardState) -> R + Send + Clone + 'static,
{
    let mut results = Vec::new();
    for shard in session.router.shards() {
        let work = work.clone();
        results.push(
            session
                .router
                .invoke_on(shard, move |state| async move { work(&state) })
                .await,
        );
    }
    results
}

async fn swapdb(session: &mut Session, argv: &Argv) -> Outcome {
    let databases = i64::from(session.settings().databases);
    let Some(first) = parse_i64(&argv[1]) else {
        return error("ERR invalid first DB index");
    };
    let Some(second) = parse_i64(&argv[2]) else {
        return error("ERR invalid second DB index");
    };
    if first < 0 || first >= databases || second < 0 || second >= databases {
        return error("ERR DB index is out of range");
    }
    let (first, second) = (DbIndex(first as u32), DbIndex(second as u32));
    on_all_shards_exclusive(session, argv.clone(), move |state| {
        state.capture_databases(&[first, second]);
        state.touch_watched_databases(&[(first, second), (second, first)]);
        state.keyspace.borrow_mut().swap(first, second);
        state.stats.borrow_mut().dirty += 1;
        state.signal_databases(&[first, second]);
    })
    .await;
    reply(Reply::Ok)
}

async fn flush(session: &mut Session, argv: &Argv, all: bool) -> Outcome {
    if argv.len() > 2
        || (argv.len() == 2 && !keyword(argv.get(1), "async") && !keyword(argv.get(1), "sync"))
    {
        return error("ERR syntax error");
    }
    let db = session.db;
    on_all_shards_exclusive(session, argv.clone(), move |state| {
        let count = state.keyspace.borrow().db_count();
        let flushed: Vec<DbIndex> = if all {
            (0..count).map(DbIndex).collect()
        } else {
            vec![db]
        };
        state.capture_databases(&flushed);
        let pairs: Vec<(DbIndex, DbIndex)> = flushed.iter().map(|db| (*db, *db)).collect();
        state.touch_watched_databases(&pairs);
        let mut tables = Vec::new();
        let mut keyspace = state.keyspace.borrow_mut();
        if all {
            for database in keyspace.iter_mut() {
                tables.push(database.take_table());
            }
        } else {
            tables.push(keyspace.db(db).take_table());
        }
        state.stats.borrow_mut().dirty += 1;
        crate::expiry::free_in_background(tables);
        drop(keyspace);
        crate::tracking::flushed(state);
        state.signal_databases(&flushed);
    })
    .await;
    reply(Reply::Ok)
}

async fn dbsize(session: &mut Session) -> Outcome {
    let db = session.db;
    let sizes = collect_from_shards(session, move |state| {
        state.keyspace.borrow().db_ref(db).len()
    })
    .await;
    reply(Reply::Integer(sizes.into_iter().sum::<usize>() as i64))
}

/// Keys KEYS visits per step on one shard before letting other work run.
const KEYS_STEP: usize = 1024;

/// KEYS pattern: walks every shard's database in bounded steps (as SCAN does), so a huge
/// keyspace never freezes a core; it returns every matching key present throughout.
async fn keys_command(session: &mut Session, argv: &Argv) -> Outcome {
    let (db, options, pattern) = (session.db, session.options, argv[1].clone());
    let mut found = Vec::new();
    // A key may be visited twice while its table resizes; it is reported once.
    let mut seen = std::collections::HashSet::new();
    for shard in session.router.shards() {
        let mut cursor = 0;
        loop {
            let filter = pattern.clone();
            let (next, keys) = session
                .router
                .invoke_on(shard, move |state| async move {
                    state.with_ctx(db, options, |ctx| {
                        let pattern = (filter.as_ref() != b"*").then_some(filter.as_ref());
                        keys::scan_step(ctx, cursor, KEYS_STEP, pattern, None)
                    })
                })
                .await;
            for key in keys {
                if seen.insert(key.clone()) {
                    found.push(key);
                }
            }
            if next == 0 {
                break;
            }
            cursor = next;
            // Let this core serve others between steps (see expiry's pause_for_io).
            glommio::timer::sleep(std::time::Duration::from_micros(20)).await;
        }
    }
    reply(Reply::Array(found.into_iter().map(Reply::bulk).collect()))
}

/// Bits of a SCAN cursor that name the shard; the rest is the shard's table cursor.
const SHARD_BITS: u32 = 10;

async fn scan(session: &mut Session, argv: &Argv) -> Outcome {
    let cursor = match peregrine_commands::keys::parse_scan_cursor(&argv[1]) {
        Ok(cursor) => cursor,
        Err(failure) => return reply(failure.into_reply()),
    };
    let mut count = 10usize;
    let mut pattern: Option<Bytes> = None;
    let mut value_type = None;
    let mut index = 2;
    while index < argv.len() {
        let option = &argv[index];
        let value = argv.get(index + 1);
        match value {
            Some(value) if option.eq_ignore_ascii_case(b"count") => match parse_i64(value) {
                None => return error("ERR value is not an integer or out of range"),
                Some(number) if number < 1 => return error("ERR syntax error"),
                Some(number) => count = number as usize,
            },
            // Redis skips matching for `*` (which would not match the empty key).
            Some(value) if option.eq_ignore_ascii_case(b"match") => {
                pattern = (value.as_ref() != b"*").then(|| value.clone())
            }
            Some(value) if option.eq_ignore_ascii_case(b"type") => {
                value_type = Some(ValueType::from_name(value));
            }
            _ => return error("ERR syntax error"),
        }
        index += 2;
    }
    let shard_count = u64::from(session.router.shard_count());
    let mut shard = cursor & ((1 << SHARD_BITS) - 1);
    let mut table_cursor = cursor >> SHARD_BITS;
    let mut keys = Vec::new();
    let (db, options) = (session.db, session.options);
    while shard < shard_count && keys.len() < count {
        let filter = pattern.clone();
        let wanted = count - keys.len();
        let (next, found) = session
            .router
            .invoke_on(ShardId(shard as u16), move |state| async move {
                state.with_ctx(db, options, |ctx| match value_type {
                    Some(None) => {
                        // An unknown type matches nothing, but the scan still advances.
                        let (next, _) =
                            keys::scan_step(ctx, table_cursor, wanted, Some(b"\x00never"), None);
                        (next, Vec::new())
                    }
                    Some(Some(kind)) => {
                        keys::scan_step(ctx, table_cursor, wanted, filter.as_deref(), Some(kind))
                    }
                    None => keys::scan_step(ctx, table_cursor, wanted, filter.as_deref(), None),
                })
            })
            .await;
        keys.extend(found);
        if next == 0 {
            shard += 1;
            table_cursor = 0;
        } else {
            table_cursor = next;
            break;
        }
    }
    let next_cursor = if shard >= shard_count {
        0
    } else {
        (table_cursor << SHARD_BITS) | shard
    };
    reply(Reply::Array(vec![
        Reply::bulk(next_cursor.to_string()),
        Reply::Array(keys.into_iter().map(Reply::bulk).collect()),
    ]))
}

async fn random_key(session: &mut Session) -> Outcome {
    let (db, options) = (session.db, session.options);
    let count = session.router.shard_count();
    let start = session.shard().random.borrow_mut().next_u64() as u16 % count;
    for offset in 0..count {
        let shard = ShardId((start + offset) % count);
        let key = session
            .router
            .invoke_on(shard, move |state| async move {
                state.with_ctx(db, options, keys::random_key)
            })
            .await;
        if let Some(key) = key {
            return reply(Reply::bulk(key));
        }
    }
    reply(Reply::Nil)
}

async fn shutdown(session: &mut Session, argv: &Argv) -> Outcome {
    let options = match crate::shutdown::parse(argv) {
        Ok(options) => options,
        Err(text) => return error(text),
    };
    if options.abort {
        // Peregrine's shutdown never waits (no replicas to catch up): nothing to abort.
        return error("ERR No shutdown in progress.");
    }
    if options.save != Some(false) {
        if let Some(busy) = session.shard().server.busy_scripts.any_busy() {
            return reply(busy);
        }
    }
    tracing::warn!("User requested shutdown...");
    let snapshot = crate::shutdown::final_snapshot(&session.router, options.save).await;
    if snapshot.is_err() && !options.force {
        return error("ERR Errors trying to SHUTDOWN. Check logs.");
    }
    session
        .shard()
        .server
        .shutting_down
        .store(true, Ordering::SeqCst);
    (None, Flow::Close)
}

fn set_client_name(session: &mut Session, name: &[u8]) -> Result<(), Reply> {
    if name.iter().any(|&byte| byte <= b' ' || byte > b'~') {
        return Err(Reply::error(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    *session.info.name.borrow_mut() = text(name);
    session.publish_identity();
    Ok(())
}

const CLIENT_HELP: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "SETINFO <option> <value>",
    "    Set client meta attr. Options are:",
    "    * LIB-NAME: the client lib name.",
    "    * LIB-VER: the client lib version.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "NO-TOUCH (ON|OFF)",
    "    Will not touch LRU/LFU stats when this mode is on.",
    "HELP",
    "    Prints this help.",
];

fn on_off(arg: Option<&Bytes>) -> Option<bool> {
    if keyword(arg, "on") {
        Some(true)
    } else if keyword(arg, "off") {
        Some(false)
    } else {
        None
    }
}

/// The subcommand table of a container command (CLIENT, CONFIG, COMMAND, OBJECT, SCRIPT,
/// FUNCTION, PUBSUB, XGROUP, XINFO), so that MULTI can refuse an unknown subcommand or a
/// wrong arity while queuing, as Redis does.
pub fn subcommands(spec: &CommandSpec) -> Option<(&'static str, &'static [Subcommand])> {
    Some(match spec.name {
        "client" => ("client", CLIENT_SUBCOMMANDS),
        "command" => ("command", COMMAND_SUBCOMMANDS),
        "config" => ("config", CONFIG_SUBCOMMANDS),
        "slowlog" => ("slowlog", crate::slowlog::SLOWLOG_SUBCOMMANDS),
        "memory" => ("memory", crate::memory::MEMORY_SUBCOMMANDS),
        "module" => ("module", crate::module::MODULE_SUBCOMMANDS),
        "latency" => ("latency", crate::latency::LATENCY_SUBCOMMANDS),
        "object" => ("object", peregrine_commands::keys::OBJECT_SUBCOMMANDS),
        "script" => ("script", crate::scripting::SCRIPT_SUBCOMMANDS),
        "function" => ("function", crate::scripting::FUNCTION_SUBCOMMANDS),
        "pubsub" => ("pubsub", crate::pubsub::PUBSUB_SUBCOMMANDS),
        "xgroup" => (
            "xgroup",
            peregrine_commands::stream::groups::XGROUP_SUBCOMMANDS,
        ),
        "xinfo" => ("xinfo", peregrine_commands::stream::info::XINFO_SUBCOMMANDS),
        _ => return None,
    })
}

/// CLIENT's subcommands.
#[rustfmt::skip]
const CLIENT_SUBCOMMANDS: &[Subcommand] = &[
    Subcommand { name: "id",       full_name: "client|id", arity: Exactly(2), flags: &[Flag::NoScript, Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
    Subcommand { name: "getname",  full_name: "client|getname", arity: Exactly(2), flags: &[Flag::NoScript, Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
    Subcommand { name: "setname",  full_name: "client|setname", arity: Exactly(3), flags: &[Flag::NoScript, Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
    Subcommand { name: "info",     full_name: "client|info", arity: Exactly(2), flags: &[Flag::NoScript, Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
    Subcommand { name: "list",     full_name: "client|list", arity: AtLeast(2), flags: &[Flag::Admin, Flag::NoScript, Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
    Subcommand { name: "kill",     full_name: "client|kill", arity: AtLeast(3), flags: &[Flag::Admin, Flag::NoScript, Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
    Subcommand { name: "setinfo",  full_name: "client|setinfo", arity: Exactly(4), flags: &[Flag::Loading, Flag::NoScript, Flag::Stale], keys: KeySpec::NONE },
    Subcommand { name: "no-evict", full_name: "client|no-evict", arity: Exactly(3), flags: &[Flag::Admin, Flag::NoScript, Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
    Subcommand { name: "no-touch", full_name: "client|no-touch", arity: Exactly(3), flags: &[Flag::Loading, Flag::NoScript, Flag::Stale], keys: KeySpec::NONE },
    Subcommand { name: "reply",    full_name: "client|reply", arity: Exactly(3), flags: &[Flag::NoScript, Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
    Subcommand { name: "unblock",  full_name: "client|unblock", arity: AtLeast(3), flags: &[Flag::Admin, Flag::NoScript, Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
    Subcommand { name: "tracking", full_name: "client|tracking", arity: AtLeast(3), flags: &[Flag::NoScript, Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
    Subcommand { name: "caching",  full_name: "client|caching", arity: Exactly(3), flags: &[Flag::NoScript, Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
    Subcommand { name: "getredir", full_name: "client|getredir", arity: Exactly(2), flags: &[Flag::NoScript, Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
    Subcommand { name: "trackinginfo", full_name: "client|trackinginfo", arity: Exactly(2), flags: &[Flag::NoScript, Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
    Subcommand { name: "pause",    full_name: "client|pause", arity: AtLeast(3), flags: &[Flag::Admin, Flag::NoScript, Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
    Subcommand { name: "unpause",  full_name: "client|unpause", arity: Exactly(2), flags: &[Flag::Admin, Flag::NoScript, Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
    Subcommand { name: "help",     full_name: "client|help", arity: Exactly(2), flags: &[Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
];

/// CLIENT UNBLOCK client-id [TIMEOUT|ERROR]
async fn client_unblock(session: &mut Session, argv: &Argv) -> Outcome {
    let Some(id) = std::str::from_utf8(&argv[2])
        .ok()
        .and_then(|text| text.parse::<i64>().ok())
    else {
        return error("ERR value is not an integer or out of range");
    };
    let error_mode = match argv.get(3) {
        None => false,
        Some(mode) if mode.eq_ignore_ascii_case(b"timeout") => false,
        Some(mode) if mode.eq_ignore_ascii_case(b"error") => true,
        Some(_) => return error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"),
    };
    if argv.len() > 4 {
        return error("ERR syntax error");
    }
    let found =
        id >= 0 && crate::blocking::unblock_client(&session.router, id as u64, error_mode).await;
    reply(Reply::Integer(i64::from(found)))
}

async fn client(session: &mut Session, argv: &Argv) -> Outcome {
    let name = match check_subcommand("client", CLIENT_SUBCOMMANDS, argv) {
        Ok(subcommand) => {
            session.info.last_command.set(subcommand.full_name);
            subcommand.name
        }
        Err(failure) => return reply(failure.into_reply()),
    };
    match name {
        "id" => reply(Reply::Integer(session.info.id as i64)),
        "getname" => {
            let name = session.info.name.borrow().clone();
            reply(if name.is_empty() {
                Reply::Nil
            } else {
                Reply::bulk(name)
            })
        }
        "setname" => match set_client_name(session, &argv[2]) {
            Ok(()) => reply(Reply::Ok),
            Err(failure) => reply(failure),
        },
        "info" => reply(Reply::Verbatim(
            "txt",
            Bytes::from(format!("{}\n", session.info.describe())),
        )),
        "list" => client_list(session, argv).await,
        "kill" => client_kill(session, argv).await,
        "unblock" => client_unblock(session, argv).await,
        "tracking" => reply(crate::tracking::tracking_command(session, argv).await),
        "caching" => reply(crate::tracking::caching_command(session, argv)),
        "getredir" => reply(crate::tracking::getredir(session)),
        "trackinginfo" => reply(crate::tracking::trackinginfo(session)),
        "setinfo" => {
            let value = text(&argv[3]);
            if value.contains(' ') || value.contains('\n') {
                return error(format!(
                    "ERR {} cannot contain spaces, newlines or special characters.",
                    text(&argv[2]).to_ascii_lowercase()
                ));
            }
            let mut library = session.info.library.borrow_mut();
            if argv[2].eq_ignore_ascii_case(b"lib-name") {
                library.0 = value;
            } else if argv[2].eq_ignore_ascii_case(b"lib-ver") {
                library.1 = value;
            } else {
                return error(format!("ERR Unrecognized option '{}'", text(&argv[2])));
            }
            reply(Reply::Ok)
        }
        "pause" => reply(crate::pause::pause(session, argv)),
        "unpause" => reply(crate::pause::unpause(session)),
        "no-evict" => match on_off(argv.get(2)) {
            Some(flag) => {
                session.no_evict = flag;
                reply(Reply::Ok)
            }
            None => error("ERR syntax error"),
        },
        "no-touch" => match on_off(argv.get(2)) {
            Some(flag) => {
                session.options.no_touch = flag;
                reply(Reply::Ok)
            }
            None => error("ERR syntax error"),
        },
        "reply" => {
            if keyword(argv.get(2), "on") {
                session.reply_mode = ReplyMode::On;
                reply(Reply::Ok)
            } else if keyword(argv.get(2), "off") {
                session.reply_mode = ReplyMode::Off;
                (None, Flow::Continue)
            } else if keyword(argv.get(2), "skip") {
                if session.reply_mode == ReplyMode::On {
                    session.reply_mode = ReplyMode::Skip;
                }
                (None, Flow::Continue)
            } else {
                error("ERR syntax error")
            }
        }
        "help" => reply(Reply::help(CLIENT_HELP)),
        _ => error("ERR internal error: unhandled CLIENT subcommand"),
    }
}

async fn client_list(session: &mut Session, argv: &Argv) -> Outcome {
    let mut ids: Option<Vec<u64>> = None;
    match argv.len() {
        2 => {}
        4 if keyword(argv.get(2), "type") => {
            let kind = text(&argv[3]).to_ascii_lowercase();
            if !["normal", "master", "replica", "pubsub"].contains(&kind.as_str()) {
                return error(format!("ERR Unknown client type '{}'", text(&argv[3])));
            }
            if kind != "normal" {
                ids = Some(Vec::new());
            }
        }
        count if count >= 4 && keyword(argv.get(2), "id") => {
            let mut wanted = Vec::new();
            for arg in &argv[3..] {
                match parse_i64(arg) {
                    Some(id) if id > 0 => wanted.push(id as u64),
                    _ => return error("ERR Invalid client ID"),
                }
            }
            ids = Some(wanted);
        }
        _ => return error("ERR syntax error"),
    }
    let lines = collect_from_shards(session, move |state| {
        state
            .clients
            .borrow()
            .iter()
            .filter(|(_, client)| ids.as_ref().is_none_or(|ids| ids.contains(&client.id)))
            .map(|(_, client)| (client.id, client.describe()))
            .collect::<Vec<_>>()
    })
    .await;
    let mut lines: Vec<_> = lines.into_iter().flatten().collect();
    lines.sort_by_key(|(id, _)| *id);
    let mut output = String::new();
    for (_, line) in lines {
        output.push_str(&line);
        output.push('\n');
    }
    reply(Reply::Verbatim("txt", Bytes::from(output)))
}

/// CLIENT KILL's filter.
#[derive(Clone, Default)]
struct KillFilter {
    id: Option<u64>,
    addr: Option<String>,
    laddr: Option<String>,
    skip: Option<u64>,
}

async fn client_kill(session: &mut Session, argv: &Argv) -> Outcome {
    let mut filter = KillFilter::default();
    let old_form = argv.len() == 3;
    if old_form {
        filter.addr = Some(text(&argv[2]));
    } else {
        if !argv.len().is_multiple_of(2) {
            return error("ERR syntax error");
        }
        let mut skip_me = true;
        for pair in argv[2..].chunks_exact(2) {
            let (option, value) = (text(&pair[0]).to_ascii_lowercase(), text(&pair[1]));
            match option.as_str() {
                "id" => match parse_i64(&pair[1]) {
                    Some(id) if id > 0 => filter.id = Some(id as u64),
                    _ => return error("ERR client-id should be greater than 0"),
                },
                "addr" => filter.addr = Some(value),
                "laddr" => filter.laddr = Some(value),
                "skipme" => match value.to_ascii_lowercase().as_str() {
                    "yes" => skip_me = true,
                    "no" => skip_me = false,
                    _ => return error("ERR syntax error"),
                },
                "user" | "type" | "maxage" => {}
                _ => return error("ERR syntax error"),
            }
        }
        if skip_me {
            filter.skip = Some(session.info.id);
        }
    }
    let killed = collect_from_shards(session, move |state| {
        let mut count = 0;
        for (_, client) in state.clients.borrow().iter() {
            let matches = filter.id.is_none_or(|id| id == client.id)
                && filter.addr.as_ref().is_none_or(|addr| *addr == client.addr)
                && filter
                    .laddr
                    .as_ref()
                    .is_none_or(|laddr| *laddr == client.laddr)
                && filter.skip != Some(client.id);
            if matches {
                client.close();
                count += 1;
            }
        }
        count
    })
    .await;
    let total: i64 = killed.into_iter().sum();
    if old_form {
        if total == 0 {
            return error("ERR No such client");
        }
        return reply(Reply::Ok);
    }
    reply(Reply::Integer(total))
}

fn acl_categories(spec: &CommandSpec) -> Vec<Reply> {
    categories_of(spec.flags, spec.group)
}

/// The ACL categories Redis derives from a command's (or subcommand's) flags and group.
fn categories_of(flags: &[Flag], group: peregrine_commands::Group) -> Vec<Reply> {
    use peregrine_commands::Group;
    let has = |flag: Flag| flags.contains(&flag);
    let mut categories = Vec::new();
    let mut push = |name: &'static str| categories.push(Reply::status(name));
    if has(Flag::Write) {
        push("@write");
    }
    if has(Flag::ReadOnly) {
        push("@read");
    }
    match group {
        Group::String => push("@string"),
        Group::Generic => push("@keyspace"),
        Group::Connection => push("@connection"),
        Group::List => push("@list"),
        Group::Hash => push("@hash"),
        Group::Set => push("@set"),
        Group::SortedSet => push("@sortedset"),
        Group::Geo => push("@geo"),
        Group::Transactions => push("@transaction"),
        Group::Scripting => push("@scripting"),
        Group::PubSub => push("@pubsub"),
        Group::HyperLogLog => push("@hyperloglog"),
        Group::Bitmap => push("@bitmap"),
        Group::Stream => push("@stream"),
        Group::Server => {}
    }
    if has(Flag::Blocking) {
        push("@blocking");
    }
    if has(Flag::Admin) {
        push("@admin");
        push("@dangerous");
    }
    if has(Flag::Fast) {
        push("@fast");
    } else {
        push("@slow");
    }
    categories
}

fn command_info(spec: &CommandSpec) -> Reply {
    let last = spec.keys.last as i64;
    Reply::Array(vec![
        Reply::bulk(spec.name),
        Reply::Integer(spec.arity.redis_arity()),
        Reply::Set(
            spec.flags
                .iter()
                .map(|flag| Reply::status(flag.name()))
                .chain(
                    spec.keys
                        .find
                        .is_some()
                        .then(|| Reply::status("movablekeys")),
                )
                .collect(),
        ),
        Reply::Integer(spec.keys.first as i64),
        Reply::Integer(last),
        Reply::Integer(spec.keys.step as i64),
        Reply::Set(acl_categories(spec)),
        Reply::Set(Vec::new()),
        Reply::Array(Vec::new()),
        Reply::Array(
            subcommands(spec)
                .map(|(_, table)| table.iter().map(|sub| subcommand_info(spec, sub)).collect())
                .unwrap_or_default(),
        ),
    ])
}

/// COMMAND INFO's entry of a container's subcommand (`config|get`), as Redis 7 lists it.
fn subcommand_info(spec: &CommandSpec, subcommand: &Subcommand) -> Reply {
    Reply::Array(vec![
        Reply::bulk(subcommand.full_name),
        Reply::Integer(subcommand.arity.redis_arity()),
        Reply::Set(
            subcommand
                .flags
                .iter()
                .map(|flag| Reply::status(flag.name()))
                .collect(),
        ),
        Reply::Integer(subcommand.keys.first as i64),
        Reply::Integer(subcommand.keys.last as i64),
        Reply::Integer(subcommand.keys.step as i64),
        Reply::Set(categories_of(subcommand.flags, spec.group)),
        Reply::Set(Vec::new()),
        Reply::Array(Vec::new()),
        Reply::Array(Vec::new()),
    ])
}

/// COMMAND INFO of one name: a command, or a container's subcommand (`config|get`).
fn info_by_name(name: &[u8]) -> Reply {
    if let Some(spec) = lookup(name) {
        return command_info(spec);
    }
    let name = String::from_utf8_lossy(name).to_ascii_lowercase();
    name.split_once('|')
        .and_then(|(container, wanted)| {
            let spec = lookup(container.as_bytes())?;
            let (_, table) = subcommands(spec)?;
            let subcommand = table.iter().find(|sub| sub.name == wanted)?;
            Some(subcommand_info(spec, subcommand))
        })
        .unwrap_or(Reply::NilArray)
}

fn command_docs(spec: &CommandSpec) -> Reply {
    Reply::Map(vec![
        (Reply::bulk("summary"), Reply::bulk(spec.summary)),
        (Reply::bulk("since"), Reply::bulk("1.0.0")),
        (Reply::bulk("group"), Reply::bulk(spec.group.name())),
    ])
}

/// COMMAND's subcommands.
#[rustfmt::skip]
const COMMAND_SUBCOMMANDS: &[Subcommand] = &[
    Subcommand { name: "count",   full_name: "command|count", arity: Exactly(2), flags: &[Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
    Subcommand { name: "list",    full_name: "command|list", arity: AtLeast(2), flags: &[Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
    Subcommand { name: "info",    full_name: "command|info", arity: AtLeast(2), flags: &[Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
    Subcommand { name: "docs",    full_name: "command|docs", arity: AtLeast(2), flags: &[Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
    Subcommand { name: "getkeys", full_name: "command|getkeys", arity: AtLeast(3), flags: &[Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
    Subcommand { name: "help",    full_name: "command|help", arity: Exactly(2), flags: &[Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
];

/// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]: every
/// command and, as in Redis 7, every container's subcommands (`config|get`).
fn command_list(argv: &Argv) -> Outcome {
    let names = all_commands().flat_map(|spec| {
        let subcommands = subcommands(spec).map_or(&[][..], |(_, table)| table);
        std::iter::once((spec, spec.name)).chain(
            subcommands
                .iter()
                .map(move |subcommand| (spec, subcommand.full_name)),
        )
    });
    let chosen: Vec<Reply> = match argv.get(2..) {
        Some([]) | None => names.map(|(_, name)| Reply::bulk(name)).collect(),
        Some([filterby, kind, value]) if filterby.eq_ignore_ascii_case(b"filterby") => {
            if kind.eq_ignore_ascii_case(b"module") {
                Vec::new()
            } else if kind.eq_ignore_ascii_case(b"aclcat") {
                let wanted = format!("@{}", text(value).to_ascii_lowercase());
                names
                    .filter(|(spec, _)| {
                        acl_categories(spec).iter().any(
                            |category| matches!(category, Reply::Status(name) if *name == wanted),
                        )
                    })
                    .map(|(_, name)| Reply::bulk(name))
                    .collect()
            } else if kind.eq_ignore_ascii_case(b"pattern") {
                names
                    .filter(|(_, name)| {
                        peregrine_keyspace::glob_match_nocase(value, name.as_bytes())
                    })
                    .map(|(_, name)| Reply::bulk(name))
                    .collect()
            } else {
                return error("ERR syntax error");
            }
        }
        Some(_) => return error("ERR syntax error"),
    };
    reply(Reply::Array(chosen))
}

fn command_command(argv: &Argv) -> Outcome {
    if argv.len() == 1 {
        return reply(Reply::Array(all_commands().map(command_info).collect()));
    }
    let name = match check_subcommand("command", COMMAND_SUBCOMMANDS, argv) {
        Ok(subcommand) => subcommand.name,
        Err(failure) => return reply(failure.into_reply()),
    };
    match name {
        "count" => reply(Reply::Integer(all_commands().count() as i64)),
        "list" => command_list(argv),
        "info" => {
            if argv.len() == 2 {
                return reply(Reply::Array(all_commands().map(command_info).collect()));
            }
            reply(Reply::Array(
                argv[2..].iter().map(|name| info_by_name(name)).collect(),
            ))
        }
        "docs" => {
            let specs: Vec<&CommandSpec> = if argv.len() == 2 {
                all_commands().collect()
            } else {
                argv[2..].iter().filter_map(|name| lookup(name)).collect()
            };
            reply(Reply::Map(
                specs
                    .into_iter()
                    .map(|spec| (Reply::bulk(spec.name), command_docs(spec)))
                    .collect(),
            ))
        }
        "getkeys" => {
            let Some(spec) = lookup(&argv[2]) else {
                return error("ERR Invalid command specified");
            };
            let args: Argv = argv[2..].to_vec();
            if !spec.arity.accepts(args.len()) {
                return error("ERR Invalid number of arguments specified for command");
            }
            let keys: Vec<Reply> = spec
                .keys
                .positions(&args)
                .map(|position| Reply::Bulk(args[position].clone()))
                .collect();
            if keys.is_empty() {
                return error("ERR The command has no key arguments");
            }
            reply(Reply::Array(keys))
        }
        "help" => reply(Reply::help(&[
            "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "(no subcommand)",
            "COUNT",
            "DOCS [<command-name> ...]",
            "GETKEYS <full-command>",
            "INFO [<command-name> ...]",
            "LIST",
            "HELP",
        ])),
        _ => error("ERR internal error: unhandled COMMAND subcommand"),
    }
}

/// CONFIG's subcommands.
#[rustfmt::skip]
const CONFIG_SUBCOMMANDS: &[Subcommand] = &[
    Subcommand { name: "get",       full_name: "config|get", arity: AtLeast(3), flags: &[Flag::Admin, Flag::NoScript, Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
    Subcommand { name: "set",       full_name: "config|set", arity: AtLeast(4), flags: &[Flag::Admin, Flag::NoScript, Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
    Subcommand { name: "resetstat", full_name: "config|resetstat", arity: Exactly(2), flags: &[Flag::Admin, Flag::NoScript, Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
    Subcommand { name: "rewrite",   full_name: "config|rewrite", arity: Exactly(2), flags: &[Flag::Admin, Flag::NoScript, Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
    Subcommand { name: "help",      full_name: "config|help", arity: Exactly(2), flags: &[Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
];

async fn config(session: &mut Session, argv: &Argv) -> Outcome {
    let name = match check_subcommand("config", CONFIG_SUBCOMMANDS, argv) {
        Ok(subcommand) => {
            session.info.last_command.set(subcommand.full_name);
            subcommand.name
        }
        Err(failure) => return reply(failure.into_reply()),
    };
    let server = session.shard().server.clone();
    match name {
        "get" => {
            let patterns: Vec<&[u8]> = argv[2..].iter().map(|pattern| pattern.as_ref()).collect();
            let pairs = match server.config.read() {
                Ok(config) => config.get_matching(&patterns),
                Err(_) => Vec::new(),
            };
            reply(Reply::Map(
                pairs
                    .into_iter()
                    .map(|(name, value)| (Reply::bulk(name), Reply::bulk(value)))
                    .collect(),
            ))
        }
        "set" if !argv.len().is_multiple_of(2) => {
            error("ERR wrong number of arguments for 'config|set' command")
        }
        "set" => {
            let Ok(mut config) = server.config.write() else {
                return error("ERR configuration is unavailable");
            };
            let mut updated = config.clone();
            for pair in argv[2..].chunks_exact(2) {
                if let Err(message) = updated.set_at_runtime(&text(&pair[0]), &text(&pair[1])) {
                    return error(format!("ERR {message}"));
                }
            }
            *config = updated;
            if let Ok(mut settings) = server.settings.write() {
                *settings = config.settings();
            }
            // Every session, this one included, re-reads the settings on its next use.
            server.settings_generation.fetch_add(1, Ordering::Relaxed);
            drop(config);
            reply(Reply::Ok)
        }
        "resetstat" => {
            session.reset_statistics().await;
            reply(Reply::Ok)
        }
        "rewrite" => error("ERR The server is running without a config file"),
        "help" => reply(Reply::help(&[
            "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET <pattern>",
            "SET <directive> <value>",
            "RESETSTAT",
            "REWRITE",
            "HELP",
        ])),
        _ => error("ERR internal error: unhandled CONFIG subcommand"),
    }
}

async fn debug(session: &mut Session, argv: &Argv) -> Outcome {
    let sub = text(&argv[1]).to_ascii_lowercase();
    match sub.as_str() {
        "reload" => reply(crate::persistence::commands::debug_reload(session).await),
        "populate" if argv.len() >= 3 && argv.len() <= 5 => {
            reply(crate::debug_populate::populate(session, &argv[2..]).await)
        }
        "set-active-expire" if argv.len() == 3 => {
            let enabled = match text(&argv[2]).as_str() {
                "0" => false,
                "1" => true,
                _ => return error("ERR syntax error"),
            };
            session
                .shard()
                .server
                .active_expire
                .store(enabled, Ordering::Relaxed);
            reply(Reply::Ok)
        }
        "sleep" if argv.len() == 3 => {
            let seconds: f64 = text(&argv[2]).parse().unwrap_or(0.0);
            // As in Redis, DEBUG SLEEP blocks the core that runs it.
            std::thread::sleep(std::time::Duration::from_secs_f64(
                seconds.clamp(0.0, 3600.0),
            ));
            reply(Reply::Ok)
        }
        "object" if argv.len() == 3 => {
            let key = argv[2].clone();
            let shard = ShardId::for_key(&key, session.router.shard_count());
            let db = session.db;
            let description = session
                .router
                .invoke_on(shard, move |state| async move {
                    let now = unix_millis();
                    let mut keyspace = state.keyspace.borrow_mut();
                    let entry = keyspace.db(db).get(&key, now)?;
                    let length = match peregrine_commands::string::value_as_string(&entry.value) {
                        Ok(text) => text.as_bytes().len(),
                        Err(_) => 0,
                    };
                    Some(format!(
                        "Value at:0x{:x} refcount:1 encoding:{} serializedlength:{} lru:0 lru_seconds_idle:{}",
                        entry as *const _ as usize,
                        entry.value.encoding_name(),
                        length + 1,
                        entry.idle_seconds(now)
                    ))
                })
                .await;
            match description {
                Some(description) => reply(Reply::Status(description.into())),
                None => error("ERR no such key"),
            }
        }
        "protocol" if argv.len() == 3 => reply(crate::debug_protocol::sample(
            &text(&argv[2]).to_ascii_lowercase(),
            session.protocol(),
        )),
        "panic-in-command" if argv.len() == 2 => {
            // Exercises the containment of a panicking command (tests use it).
            let state = session.shard().clone();
            reply(contain_panic(&state))
        }
        "help" => reply(Reply::help(&[
            "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "OBJECT <key>",
            "SLEEP <seconds>",
            "PROTOCOL <type>",
            "    Reply with a test value of the specified type. <type> can be: string,",
            "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
            "    true, false.",
            "PANIC-IN-COMMAND",
            "HELP",
        ])),
        _ => error(format!(
            "ERR unknown subcommand '{}'. Try DEBUG HELP.",
            text(&argv[1])
        )),
    }
}

fn contain_panic(state: &Rc<ShardState>) -> Reply {
    let outcome = std::panic::catch_unwind(|| -> Reply { panic!("DEBUG PANIC-IN-COMMAND") });
    match outcome {
        Ok(reply) => reply,
        Err(_) => {
            state.command_panics.set(state.command_panics.get() + 1);
            tracing::error!(
                "a command panicked; the client got an error and the server keeps serving"
            );
            Reply::error("ERR internal error while executing 'debug'")
        }
    }
}
