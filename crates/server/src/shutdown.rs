//! Stopping as redis-server stops: SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT], SIGTERM
//! and SIGINT. With save points configured (`save`), or when SHUTDOWN SAVE asks, every
//! shard's data is snapshotted first; if that fails the server keeps running (SHUTDOWN
//! FORCE exits anyway). The log, when enabled, is flushed and synced by each shard's log
//! writer as it stops.

use crate::shard_state::ShardRouter;
use peregrine_resp::Argv;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// SHUTDOWN's options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShutdownOptions {
    /// `SAVE` (`Some(true)`), `NOSAVE` (`Some(false)`), or neither: the save points decide.
    pub save: Option<bool>,
    /// `FORCE`: exit even if the final snapshot fails.
    pub force: bool,
    /// `ABORT`: cancel a shutdown in progress.
    pub abort: bool,
}

/// Reads SHUTDOWN's arguments as Redis does: unknown words, ABORT with anything else,
/// and SAVE with NOSAVE are syntax errors. `NOW` is accepted (no replica to wait for).
pub fn parse(argv: &Argv) -> Result<ShutdownOptions, &'static str> {
    let mut options = ShutdownOptions::default();
    let mut flagged = false;
    let mut both_saves = false;
    for arg in argv.iter().skip(1) {
        let word = arg.to_ascii_lowercase();
        match word.as_slice() {
            b"nosave" => {
                both_saves |= options.save == Some(true);
                options.save = Some(false);
            }
            b"save" => {
                both_saves |= options.save == Some(false);
                options.save = Some(true);
            }
            b"now" => {}
            b"force" => options.force = true,
            b"abort" => {
                options.abort = true;
                continue;
            }
            _ => return Err("ERR syntax error"),
        }
        flagged = true;
    }
    if (options.abort && flagged) || both_saves {
        return Err("ERR syntax error");
    }
    Ok(options)
}

/// Takes the final snapshot when `save` (or, when unset, the save points) asks for one.
pub async fn final_snapshot(router: &Rc<ShardRouter>, save: Option<bool>) -> Result<(), String> {
    let server = &router.state().server;
    let wanted = save.unwrap_or_else(|| !server.settings().auto_snapshot.save_rules.is_empty());
    if !wanted {
        return Ok(());
    }
    // Never while loading, as Redis: a snapshot of part of the data would replace the
    // files that hold all of it.
    if server.persistence.loading() {
        tracing::warn!("Not saving the final snapshot: the data set is still loading.");
        return Ok(());
    }
    // A background snapshot in progress finishes first; the final one follows it.
    while server.persistence.snapshot_running.load(Ordering::SeqCst) {
        glommio::timer::sleep(Duration::from_millis(10)).await;
    }
    tracing::info!("Saving the final snapshot before exiting.");
    match crate::persistence::snapshot::take(router).await {
        Ok(_) => {
            tracing::info!("DB saved on disk");
            Ok(())
        }
        Err(reason) => {
            tracing::warn!("Error trying to save the DB, can't exit: {reason}");
            Err(reason)
        }
    }
}

/// Runs on shard 0: on SIGTERM or SIGINT, takes the final snapshot (per the save points)
/// and stops the server; if the snapshot fails, keeps serving until the next signal.
/// A signal arriving while the final snapshot runs stops the server at once (see
/// [`crate::startup`]).
pub async fn on_signals(router: Rc<ShardRouter>) {
    let mut handled = 0;
    loop {
        glommio::timer::sleep(Duration::from_millis(20)).await;
        let received = crate::startup::signals_received();
        if received == handled {
            continue;
        }
        handled = received;
        tracing::warn!("Received SIGTERM or SIGINT scheduling shutdown...");
        match final_snapshot(&router, None).await {
            Ok(()) => {
                router
                    .state()
                    .server
                    .shutting_down
                    .store(true, Ordering::SeqCst);
                return;
            }
            Err(_) => {
                tracing::warn!(
                    "Errors trying to shut down the server. Check the logs for more information."
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn argv(words: &[&'static str]) -> Argv {
        words
            .iter()
            .map(|word| Bytes::from_static(word.as_bytes()))
            .collect()
    }

    #[test]
    fn options_are_read_as_redis_reads_them() {
        assert_eq!(parse(&argv(&["SHUTDOWN"])), Ok(ShutdownOptions::default()));
        let options = parse(&argv(&["shutdown", "NOSAVE", "now", "force"])).unwrap();
        assert_eq!((options.save, options.force), (Some(false), true));
        assert_eq!(
            parse(&argv(&["shutdown", "save"])).unwrap().save,
            Some(true)
        );
        assert!(parse(&argv(&["shutdown", "abort"])).unwrap().abort);
        for bad in [
            &["shutdown", "save", "nosave"][..],
            &["shutdown", "nosave", "abort"],
            &["shutdown", "abort", "now"],
            &["shutdown", "later"],
        ] {
            assert_eq!(parse(&argv(bad)), Err("ERR syntax error"), "{bad:?}");
        }
    }
}
