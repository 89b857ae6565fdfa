//! The slow log (SLOWLOG GET|LEN|RESET|HELP): commands whose execution took at least
//! `slowlog-log-slower-than` microseconds, newest first, at most `slowlog-max-len`.
//!
//! A command is logged by the shard that executed it: keyed commands (and a script's
//! calls) where their keys live, server and multi-shard commands on the client's own
//! core. SLOWLOG merges the
//! shards' logs by id; ids come from one server-wide counter, so they are unique and grow
//! with time, as Redis's. Arguments are kept as Redis keeps them: at most 32, each cut at
//! 128 bytes, secrets redacted (see [`logged_args`]).

use crate::dispatch::Session;
use crate::server_commands::collect_from_shards;
use crate::shard_state::ShardState;
use bytes::Bytes;
use peregrine_commands::{
    check_subcommand, parse_integer, Arity::*, ClientOptions, CommandSpec, Subcommand,
};
use peregrine_commands::{Flag, KeySpec};
use peregrine_resp::{Argv, Reply};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Arguments an entry keeps; the last one kept says how many more there were.
const MAX_ARGS: usize = 32;
/// Bytes an argument keeps; the rest is summarized.
const MAX_ARG_BYTES: usize = 128;

/// The slow log's configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SlowLogSettings {
    /// `slowlog-log-slower-than`: microseconds; negative turns the log off, 0 logs all.
    pub slower_than_us: i64,
    /// `slowlog-max-len`: entries kept.
    pub max_len: usize,
}

impl SlowLogSettings {
    /// The threshold in clock ticks, or `None` when the log is off.
    pub fn threshold_ticks(&self) -> Option<u64> {
        u64::try_from(self.slower_than_us)
            .ok()
            .map(crate::ticks::from_micros)
    }

    /// Whether a command that took `ticks` is kept.
    fn keeps(&self, ticks: u64) -> bool {
        self.threshold_ticks()
            .is_some_and(|threshold| ticks >= threshold)
    }
}

/// One logged command.
#[derive(Clone, Debug)]
pub struct SlowEntry {
    id: u64,
    unix_secs: i64,
    micros: u64,
    args: Vec<Bytes>,
    peer: String,
    name: String,
}

/// One shard's entries, newest first.
#[derive(Debug, Default)]
pub struct SlowLog {
    entries: VecDeque<SlowEntry>,
}

impl SlowLog {
    fn push(&mut self, entry: SlowEntry, max_len: usize) {
        self.entries.push_front(entry);
        self.entries.truncate(max_len);
    }
}

/// The address and name of every connected client, by id: a command executed on another
/// core than its client's is logged with them.
#[derive(Debug, Default)]
pub struct ClientIdentities(Mutex<HashMap<u64, (String, String), ahash::RandomState>>);

impl ClientIdentities {
    /// Records a client's address and (new) name.
    pub fn set(&self, id: u64, addr: &str, name: &str) {
        if let Ok(mut identities) = self.0.lock() {
            identities.insert(id, (addr.to_owned(), name.to_owned()));
        }
    }

    /// Forgets a client that disconnected.
    pub fn remove(&self, id: u64) {
        if let Ok(mut identities) = self.0.lock() {
            identities.remove(&id);
        }
    }

    /// A client's address ("" once it is gone).
    pub fn address(&self, id: u64) -> String {
        self.0
            .lock()
            .ok()
            .and_then(|identities| identities.get(&id).map(|(addr, _)| addr.clone()))
            .unwrap_or_default()
    }

    fn get(&self, id: u64) -> (String, String) {
        self.0
            .lock()
            .ok()
            .and_then(|identities| identities.get(&id).cloned())
            .unwrap_or_default()
    }
}

/// Logs a command of `client` that took `ticks` on this shard, if that is slow. A
/// script's calls are logged as Redis logs them, from a client `?:0` without a name.
pub fn record(state: &ShardState, client: ClientOptions, name: &str, argv: &Argv, ticks: u64) {
    let settings = state.slowlog_settings();
    if !settings.keeps(ticks) {
        return;
    }
    let (peer, client_name) = if client.script {
        ("?:0".to_owned(), String::new())
    } else {
        state.server.client_identities.get(client.id)
    };
    push(state, settings, name, argv, ticks, peer, client_name);
}

/// [`record`] for a command run by `session`'s client on its own core. A container
/// command whose subcommand or arity was refused ran no more than Redis's refusal before
/// execution, which the slow log never sees, and is not logged either.
pub fn record_for_session(session: &Session, spec: &CommandSpec, argv: &Argv, ticks: u64) {
    let state = session.shard();
    let settings = state.slowlog_settings();
    if !settings.keeps(ticks) {
        return;
    }
    if crate::server_commands::subcommands(spec)
        .is_some_and(|(container, table)| check_subcommand(container, table, argv).is_err())
    {
        return;
    }
    let name = spec.name;
    let client_name = session.info.name.borrow().clone();
    push(
        state,
        settings,
        name,
        argv,
        ticks,
        session.info.addr.clone(),
        client_name,
    );
}

fn push(
    state: &ShardState,
    settings: SlowLogSettings,
    name: &str,
    argv: &Argv,
    ticks: u64,
    peer: String,
    client_name: String,
) {
    let entry = SlowEntry {
        id: state
            .server
            .slowlog_next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        unix_secs: (crate::shard_state::unix_millis() / 1000) as i64,
        micros: crate::ticks::micros(ticks),
        args: logged_args(name, argv),
        peer,
        name: client_name,
    };
    state.slowlog.borrow_mut().push(entry, settings.max_len);
}

/// A command's arguments as the slow log and MONITOR show them: secrets replaced by
/// `(redacted)` (AUTH's, HELLO's AUTH pair, CONFIG SET of a password), at most 32
/// arguments (the 32nd says how many more there were), each cut at 128 bytes with a note
/// of how many more it had.
pub fn logged_args(name: &str, argv: &Argv) -> Vec<Bytes> {
    let redacted = redacted_positions(name, argv);
    let kept = argv.len().min(MAX_ARGS);
    let mut args = Vec::with_capacity(kept);
    for (index, arg) in argv.iter().enumerate().take(kept) {
        if kept < argv.len() && index == kept - 1 {
            let more = argv.len() - kept + 1;
            args.push(Bytes::from(format!("... ({more} more arguments)")));
        } else if redacted.contains(&index) {
            args.push(Bytes::from_static(b"(redacted)"));
        } else if arg.len() > MAX_ARG_BYTES {
            let mut cut = arg[..MAX_ARG_BYTES].to_vec();
            let more = arg.len() - MAX_ARG_BYTES;
            cut.extend_from_slice(format!("... ({more} more bytes)").as_bytes());
            args.push(Bytes::from(cut));
        } else {
            args.push(arg.clone());
        }
    }
    args
}

/// A command's arguments with its secrets replaced by `(redacted)`, as MONITOR shows them.
pub fn redacted_args(name: &str, argv: &Argv) -> Vec<Bytes> {
    let redacted = redacted_positions(name, argv);
    argv.iter()
        .enumerate()
        .map(|(index, arg)| match redacted.contains(&index) {
            true => Bytes::from_static(b"(redacted)"),
            false => arg.clone(),
        })
        .collect()
}

/// Positions of `argv` that hold secrets.
fn redacted_positions(name: &str, argv: &Argv) -> Vec<usize> {
    let is = |index: usize, word: &str| {
        argv.get(index)
            .is_some_and(|arg| arg.eq_ignore_ascii_case(word.as_bytes()))
    };
    match name {
        "auth" => (1..argv.len()).collect(),
        "hello" => (2..argv.len())
            .filter(|&index| is(index - 1, "auth") || (index >= 3 && is(index - 2, "auth")))
            .collect(),
        "config" if is(1, "set") => (3..argv.len())
            .step_by(2)
            .filter(|&index| is(index - 1, "requirepass") || is(index - 1, "masterauth"))
            .collect(),
        _ => Vec::new(),
    }
}

/// SLOWLOG's subcommands.
#[rustfmt::skip]
pub const SLOWLOG_SUBCOMMANDS: &[Subcommand] = &[
    Subcommand { name: "get",   full_name: "slowlog|get",   arity: AtLeast(2), flags: &[Flag::Admin, Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
    Subcommand { name: "len",   full_name: "slowlog|len",   arity: Exactly(2), flags: &[Flag::Admin, Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
    Subcommand { name: "reset", full_name: "slowlog|reset", arity: Exactly(2), flags: &[Flag::Admin, Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
    Subcommand { name: "help",  full_name: "slowlog|help",  arity: Exactly(2), flags: &[Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
];

/// SLOWLOG GET [count] | LEN | RESET | HELP.
pub async fn command(session: &mut Session, argv: &Argv) -> Reply {
    let subcommand = match check_subcommand("slowlog", SLOWLOG_SUBCOMMANDS, argv) {
        Ok(subcommand) => subcommand,
        Err(failure) => return failure.into_reply(),
    };
    session.info.last_command.set(subcommand.full_name);
    let max_len = session.shard().slowlog_settings().max_len;
    match subcommand.name {
        "get" => {
            if argv.len() > 3 {
                return Reply::error(format!(
                    "ERR unknown subcommand or wrong number of arguments for '{}'. Try SLOWLOG HELP.",
                    String::from_utf8_lossy(&argv[1])
                ));
            }
            let count = match argv.get(2).map(|arg| parse_integer(arg).ok()) {
                None => 10,
                Some(Some(-1)) => usize::MAX,
                Some(Some(count)) if count >= 0 => count as usize,
                Some(_) => {
                    return Reply::error("ERR count should be greater than or equal to -1");
                }
            };
            let wanted = count.min(max_len);
            let mut entries: Vec<SlowEntry> = collect_from_shards(session, move |state| {
                state
                    .slowlog
                    .borrow()
                    .entries
                    .iter()
                    .take(wanted)
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .await
            .into_iter()
            .flatten()
            .collect();
            entries.sort_unstable_by_key(|entry| std::cmp::Reverse(entry.id));
            entries.truncate(wanted);
            Reply::Array(entries.into_iter().map(entry_reply).collect())
        }
        "len" => {
            let lengths =
                collect_from_shards(session, |state| state.slowlog.borrow().entries.len()).await;
            Reply::Integer(lengths.into_iter().sum::<usize>().min(max_len) as i64)
        }
        "reset" => {
            collect_from_shards(session, |state| state.slowlog.borrow_mut().entries.clear()).await;
            Reply::Ok
        }
        _ => Reply::help(&[
            "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
            "HELP",
            "    Prints this help.",
        ]),
    }
}

fn entry_reply(entry: SlowEntry) -> Reply {
    Reply::Array(vec![
        Reply::Integer(entry.id as i64),
        Reply::Integer(entry.unix_secs),
        Reply::Integer(entry.micros as i64),
        Reply::Array(entry.args.into_iter().map(Reply::Bulk).collect()),
        Reply::Bulk(Bytes::from(entry.peer)),
        Reply::Bulk(Bytes::from(entry.name)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Argv {
        words
            .iter()
            .map(|word| Bytes::copy_from_slice(word.as_bytes()))
            .collect()
    }

    fn strings(args: Vec<Bytes>) -> Vec<String> {
        args.iter()
            .map(|arg| String::from_utf8_lossy(arg).into_owned())
            .collect()
    }

    #[test]
    fn long_commands_keep_32_arguments_and_128_bytes_each() {
        let words: Vec<String> = (0..40).map(|index| format!("a{index}")).collect();
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let logged = strings(logged_args("sadd", &argv(&words)));
        assert_eq!(logged.len(), 32);
        assert_eq!(logged[30], "a30");
        assert_eq!(logged[31], "... (9 more arguments)");

        let long = "x".repeat(200);
        let logged = strings(logged_args("set", &argv(&["set", "k", &long])));
        assert_eq!(logged[2], format!("{}... (72 more bytes)", "x".repeat(128)));
    }

    #[test]
    fn secrets_are_redacted() {
        let redacted = |name: &str, words: &[&str]| strings(logged_args(name, &argv(words)));
        assert_eq!(redacted("auth", &["auth", "pw"]), ["auth", "(redacted)"]);
        assert_eq!(
            redacted(
                "hello",
                &["hello", "3", "AUTH", "user", "pw", "SETNAME", "n"]
            ),
            [
                "hello",
                "3",
                "AUTH",
                "(redacted)",
                "(redacted)",
                "SETNAME",
                "n"
            ]
        );
        assert_eq!(
            redacted(
                "config",
                &["config", "set", "maxmemory", "1", "requirepass", "pw"]
            ),
            [
                "config",
                "set",
                "maxmemory",
                "1",
                "requirepass",
                "(redacted)"
            ]
        );
        assert_eq!(redacted("get", &["get", "auth"]), ["get", "auth"]);
    }
}
