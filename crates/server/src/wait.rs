//! WAIT and WAITAOF: a client waits until its writes are safe.
//!
//! Peregrine has no replicas yet, so WAIT counts none (it answers at once when asked for
//! none, after its timeout otherwise, as redis-server without replicas does). WAITAOF's
//! local part is real: it waits until every shard's log is durable up to the records it
//! holds now, which covers the client's writes (one fsync serves every waiter: group
//! commit); with `appendfsync no` a written record counts, as in Redis. Inside EXEC both
//! answer at once with what holds then.

use crate::dispatch::Session;
use crate::shard_state::ShardState;
use peregrine_commands::parse_integer;
use peregrine_resp::{Argv, Reply};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// How often a waiting client looks whether it was killed.
const KILL_CHECK: Duration = Duration::from_millis(100);

/// A timeout in milliseconds, with Redis's errors; `None` waits for ever.
fn timeout(arg: &[u8]) -> Result<Option<Duration>, Reply> {
    match parse_integer(arg).ok() {
        None => Err(Reply::error(
            "ERR timeout is not an integer or out of range",
        )),
        Some(millis) if millis < 0 => Err(Reply::error("ERR timeout is negative")),
        Some(0) => Ok(None),
        Some(millis) => Ok(Some(Duration::from_millis(millis as u64))),
    }
}

/// WAIT numreplicas timeout.
pub async fn wait(session: &mut Session, argv: &Argv) -> Reply {
    let Some(replicas) = parse_integer(&argv[1]).ok() else {
        return Reply::error("ERR value is not an integer or out of range");
    };
    let timeout = match timeout(&argv[2]) {
        Ok(timeout) => timeout,
        Err(failure) => return failure,
    };
    if replicas > 0 && session.lock_owner.is_none() {
        idle(session, timeout).await;
    }
    Reply::Integer(0)
}

/// WAITAOF numlocal numreplicas timeout.
pub async fn waitaof(session: &mut Session, argv: &Argv) -> Reply {
    let local = match parse_integer(&argv[1]).ok() {
        None => return Reply::error("ERR value is not an integer or out of range"),
        Some(local @ 0..=1) => local,
        Some(_) => return Reply::error("ERR value is out of range, value must between 0 and 1"),
    };
    let replicas = match parse_integer(&argv[2]).ok() {
        None => return Reply::error("ERR value is not an integer or out of range"),
        Some(replicas) if replicas < 0 => {
            return Reply::error("ERR value is out of range, must be positive");
        }
        Some(replicas) => replicas,
    };
    let timeout = match timeout(&argv[3]) {
        Ok(timeout) => timeout,
        Err(failure) => return failure,
    };
    if local > 0 && !session.settings().persistence.enabled {
        return Reply::error(
            "ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled.",
        );
    }
    let deadline = timeout.map(|timeout| Instant::now() + timeout);
    let may_block = session.lock_owner.is_none();
    let durable = if local > 0 && may_block {
        logs_durable(session, Some(deadline)).await
    } else {
        logs_durable(session, None).await
    };
    if replicas > 0 && may_block {
        idle(
            session,
            deadline.map(|at| at.saturating_duration_since(Instant::now())),
        )
        .await;
    }
    let enabled = session.settings().persistence.enabled;
    Reply::Array(vec![
        Reply::Integer(i64::from(durable && enabled)),
        Reply::Integer(0),
    ])
}

/// Whether every shard's log is durable up to the records it holds now. With `wait`, it
/// waits for that until the deadline it holds (for ever when that is `None`).
async fn logs_durable(session: &Session, wait: Option<Option<Instant>>) -> bool {
    for shard in session.router.shards() {
        let durable = session
            .router
            .invoke_on(shard, move |state: Rc<ShardState>| async move {
                let lsn = state.journal.borrow().last_lsn();
                let persistence = &state.persistence;
                if !persistence.active.get() || persistence.durable_lsn.get() >= lsn {
                    return true;
                }
                let Some(deadline) = wait else {
                    return false;
                };
                let durable = async {
                    persistence.wait_durable(lsn).await;
                    true
                };
                match deadline {
                    None => durable.await,
                    Some(deadline) => {
                        let left = deadline.saturating_duration_since(Instant::now());
                        let expired = async {
                            glommio::timer::sleep(left).await;
                            false
                        };
                        futures_lite::future::or(durable, expired).await
                    }
                }
            })
            .await;
        if !durable {
            return false;
        }
    }
    true
}

/// Waits `timeout` (for ever when `None`) or until the client is killed.
async fn idle(session: &Session, timeout: Option<Duration>) {
    let deadline = timeout.map(|timeout| Instant::now() + timeout);
    loop {
        if session.info.killed.get() {
            return;
        }
        let slice = match deadline {
            Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => left.min(KILL_CHECK),
                _ => return,
            },
            None => KILL_CHECK,
        };
        glommio::timer::sleep(slice).await;
    }
}
