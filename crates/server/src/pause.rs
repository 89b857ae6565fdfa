//! CLIENT PAUSE timeout [WRITE|ALL] and CLIENT UNPAUSE: every core holds its clients'
//! commands (all of them, or those that may write: write commands, PUBLISH, EVAL and
//! FCALL, a transaction with any of them) and its active expiry until the pause ends, as
//! Redis does for a failover or a consistent snapshot taken from outside.
//!
//! The pause is two server-wide atomics: its end (0 = none) and whether only writes wait.
//! Every command looks at the end once (one shared, rarely written cache line); a held
//! command looks again every few milliseconds, so CLIENT UNPAUSE releases it at once.

use crate::dispatch::Session;
use crate::shard_state::unix_millis;
use peregrine_commands::{parse_integer, CommandSpec, Flag, ServerCommand};
use peregrine_resp::{Argv, Reply};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// How often a held command looks whether the pause ended.
const RECHECK: Duration = Duration::from_millis(5);

/// The server-wide pause.
#[derive(Debug, Default)]
pub struct ClientPause {
    /// Unix milliseconds at which the pause ends; 0 when there is none.
    until: AtomicU64,
    /// Only commands that may write wait (WRITE); else all do (ALL).
    writes_only: AtomicBool,
}

impl ClientPause {
    /// Whether a pause holds now (active expiry waits for its end).
    pub fn in_force(&self) -> bool {
        let until = self.until.load(Ordering::Relaxed);
        until != 0 && unix_millis() < until
    }

    /// Whether a pause was set and not cleared (it may have run out: the waiters look).
    #[inline]
    pub fn is_on(&self) -> bool {
        self.until.load(Ordering::Relaxed) != 0
    }

    /// Whether a command that may write (`writes`) waits now.
    fn holds(&self, writes: bool) -> bool {
        (writes || !self.writes_only.load(Ordering::Relaxed)) && self.in_force()
    }
}

/// Whether `spec` (EXEC with its queued commands' flags in `queued_writes`) may write, as
/// a WRITE pause counts it.
fn may_write(spec: &CommandSpec, queued_writes: bool) -> bool {
    spec.has(Flag::Write)
        || spec.has(Flag::MayReplicate)
        || matches!(
            spec.exec,
            peregrine_commands::Exec::Server(
                ServerCommand::Eval | ServerCommand::EvalSha | ServerCommand::FCall
            )
        )
        || (matches!(
            spec.exec,
            peregrine_commands::Exec::Server(ServerCommand::Exec)
        ) && queued_writes)
}

/// Whether a pause holds `spec` now; a pause found over is cleared, so that commands stop
/// looking at the clock.
pub fn holds(session: &Session, spec: &CommandSpec) -> bool {
    let pause = &session.shard().server.client_pause;
    let until = pause.until.load(Ordering::Relaxed);
    if until != 0 && unix_millis() >= until {
        let _ = pause
            .until
            .compare_exchange(until, 0, Ordering::Relaxed, Ordering::Relaxed);
        return false;
    }
    pause.holds(may_write(spec, crate::transaction::queued_writes(session)))
}

/// Waits while a pause holds `spec` (the client shows as blocked meanwhile).
pub async fn wait_while_held(session: &Session, spec: &CommandSpec) {
    let blocked = &session.info.blocked;
    while holds(session, spec) && !session.info.killed.get() {
        blocked.set(true);
        glommio::timer::sleep(RECHECK).await;
    }
    blocked.set(false);
}

/// CLIENT PAUSE timeout [WRITE|ALL]: a longer or stricter pause extends the one in
/// force, a shorter or laxer one leaves it.
pub fn pause(session: &Session, argv: &Argv) -> Reply {
    if argv.len() > 4 {
        return Reply::error(
            "ERR unknown subcommand or wrong number of arguments for 'pause'. Try CLIENT HELP.",
        );
    }
    let millis = match parse_integer(&argv[2]).ok() {
        None => return Reply::error("ERR timeout is not an integer or out of range"),
        Some(millis) if millis < 0 => return Reply::error("ERR timeout is negative"),
        Some(millis) => millis as u64,
    };
    let writes_only = match argv.get(3) {
        None => false,
        Some(mode) if mode.eq_ignore_ascii_case(b"all") => false,
        Some(mode) if mode.eq_ignore_ascii_case(b"write") => true,
        Some(_) => return Reply::error("ERR CLIENT PAUSE mode must be WRITE or ALL"),
    };
    let pause = &session.shard().server.client_pause;
    let now = unix_millis();
    let in_force = pause.until.load(Ordering::Relaxed) > now;
    if !in_force {
        pause.writes_only.store(writes_only, Ordering::Relaxed);
    } else if !writes_only {
        pause.writes_only.store(false, Ordering::Relaxed);
    }
    let until = now.saturating_add(millis);
    if in_force {
        pause.until.fetch_max(until, Ordering::Relaxed);
    } else {
        pause.until.store(until, Ordering::Relaxed);
    }
    Reply::Ok
}

/// CLIENT UNPAUSE.
pub fn unpause(session: &Session) -> Reply {
    session
        .shard()
        .server
        .client_pause
        .until
        .store(0, Ordering::Relaxed);
    Reply::Ok
}
