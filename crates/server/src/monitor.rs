//! MONITOR: every command the server executes, streamed to the clients that asked, as
//! Redis streams it (`+1339518083.107412 [0 127.0.0.1:60866] "keys" "*"`).
//!
//! A command is shown by the core that executed it, once it ran: keyed commands (and a
//! script's calls, as `[db lua]`) where their keys live, server and multi-shard commands
//! on the client's core; scripts are shown before they run, so that their calls follow
//! them. Administrative commands are not shown, as in Redis. Each core keeps its own
//! monitoring clients; a server-wide mask of the cores that have any makes the check a
//! single atomic load when nobody monitors.

use crate::dispatch::Session;
use crate::shard_state::{ClientInfo, ShardRouter, ShardState};
use bytes::Bytes;
use peregrine_commands::{CommandSpec, Flag};
use peregrine_keyspace::DbIndex;
use peregrine_resp::{Argv, Reply};
use std::rc::Rc;
use std::sync::atomic::Ordering;

/// The mask bit of `core` (cores past 63 share bits: they are asked and may have none).
fn core_bit(core: u16) -> u64 {
    1 << (core % 64)
}

/// Whether any core has a monitoring client.
pub fn anyone(state: &ShardState) -> bool {
    state.server.monitor_cores.load(Ordering::Relaxed) != 0
}

/// MONITOR: this client receives every command from now on.
pub fn start(session: &mut Session) -> Reply {
    let state = session.shard().clone();
    if session.info.monitor.replace(true) {
        return Reply::Ok;
    }
    state.monitors.borrow_mut().push(session.info.clone());
    state
        .server
        .monitor_cores
        .fetch_or(core_bit(state.id.0), Ordering::Relaxed);
    Reply::Ok
}

/// Stops a disconnecting client's monitoring.
pub fn stop(session: &Session) {
    if !session.info.monitor.get() {
        return;
    }
    let state = session.shard();
    let mut monitors = state.monitors.borrow_mut();
    monitors.retain(|client| client.id != session.info.id);
    if monitors.is_empty() {
        state
            .server
            .monitor_cores
            .fetch_and(!core_bit(state.id.0), Ordering::Relaxed);
    }
}

/// Whether MONITOR shows `spec` run as `argv`: not administrative commands or
/// subcommands, not scripts (shown before they run), not a container whose subcommand
/// was refused.
pub fn shows(spec: &CommandSpec, argv: &Argv) -> bool {
    if spec.has(Flag::Admin) || spec.has(Flag::SkipMonitor) {
        return false;
    }
    crate::server_commands::subcommands(spec).is_none_or(|(container, table)| {
        peregrine_commands::check_subcommand(container, table, argv)
            .is_ok_and(|subcommand| !subcommand.has(Flag::Admin))
    })
}

/// Shows a command run by `session`'s client on its core.
pub fn feed_from_session(session: &Session, spec: &CommandSpec, argv: &Argv) {
    let state = session.shard();
    if anyone(state) && shows(spec, argv) {
        let line = line(session.db, &session.info.addr, spec.name, argv);
        deliver(&session.router, line);
    }
}

/// Shows a script before it runs (its calls follow it).
pub fn feed_script(session: &Session, spec: &CommandSpec, argv: &Argv) {
    if anyone(session.shard()) && spec.has(Flag::SkipMonitor) {
        let line = line(session.db, &session.info.addr, spec.name, argv);
        deliver(&session.router, line);
    }
}

/// Shows a keyed command that `client` ran on this shard in `db`: a script's call as
/// `lua`, another client's under the address the client directory has for it.
pub fn feed_keyed(
    state: &ShardState,
    db: DbIndex,
    client: peregrine_commands::ClientOptions,
    spec: &CommandSpec,
    argv: &Argv,
) {
    let who = if client.script {
        "lua".to_owned()
    } else {
        state.server.client_identities.address(client.id)
    };
    let line = line(db, &who, spec.name, argv);
    if let Some(router) = state.router() {
        deliver(&router, line);
    }
}

/// Redis's MONITOR line: a status reply with the time, the database, the client and the
/// arguments quoted (secrets redacted).
fn line(db: DbIndex, who: &str, name: &str, argv: &Argv) -> Bytes {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut text = format!(
        "+{}.{:06} [{} {}]",
        now.as_secs(),
        now.subsec_micros(),
        db.0,
        who
    )
    .into_bytes();
    for arg in crate::slowlog::redacted_args(name, argv) {
        text.push(b' ');
        quote(&arg, &mut text);
    }
    text.extend_from_slice(b"\r\n");
    Bytes::from(text)
}

/// Appends `bytes` quoted as Redis's `sdscatrepr`: `\\ \" \n \r \t \a \b` escaped,
/// other unprintable bytes as `\xHH`.
fn quote(bytes: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &byte in bytes {
        match byte {
            b'\\' | b'"' => out.extend_from_slice(&[b'\\', byte]),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(byte),
            _ => out.extend_from_slice(format!("\\x{byte:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

/// Queues `line` for every monitoring client: this core's now, other cores' by message.
fn deliver(router: &ShardRouter, line: Bytes) {
    let cores = router.state().server.monitor_cores.load(Ordering::Relaxed);
    for core in router.shards() {
        if cores & core_bit(core.0) == 0 {
            continue;
        }
        if core == router.me() {
            push_local(router.state(), &line);
        } else {
            let line = line.clone();
            router.post(core, move |state: &Rc<ShardState>| push_local(state, &line));
        }
    }
}

fn push_local(state: &ShardState, line: &Bytes) {
    let limit = state.monitor_output_limit();
    let monitors: Vec<Rc<ClientInfo>> = state.monitors.borrow().clone();
    for client in &monitors {
        crate::pubsub::push_shared(client, line, limit);
    }
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn arguments_are_quoted_as_redis_quotes_them() {
        let mut out = Vec::new();
        quote(b"a b\n\"\\\x01\xff\t", &mut out);
        assert_eq!(out, b"\"a b\\n\\\"\\\\\\x01\\xff\\t\"");
    }
}
