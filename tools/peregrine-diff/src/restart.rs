//! Crash-restart mode: `kill -9` the candidate every N commands and check replay.
//!
//! At each restart point (the first recipe boundary at or after every N-th
//! command of a seed; [`RestartSchedule`]) the runner, with no request
//! outstanding on any connection:
//!
//! 1. reads both datasets and compares them ([`Strictness::Oracle`]): the live
//!    states must agree before anything is killed;
//! 2. at every second restart point has the candidate take a snapshot (SAVE), so
//!    that recovery starts from a snapshot and replays the log written after it
//!    (the other points recover from the log alone); then kills the candidate with
//!    SIGKILL and starts it again on the same data directory (it runs with
//!    `appendfsync always`, so every acknowledged write must come back),
//!    reconnects and selects the current database again;
//! 3. reads the candidate's dataset again, which must equal the one before the
//!    kill exactly: types, values, and PEXPIRETIME to the millisecond;
//! 4. goes on with the sequence, whose later replies catch what a dataset
//!    listing cannot show.
//!
//! Redis is never restarted. A difference is reported as a [`Mismatch`] naming
//! the database and key, with Redis's state, the candidate's, and (after a
//! restart) the candidate's state before the kill.

use std::collections::VecDeque;

use crate::digest::{self, Difference, Strictness};
use crate::generate::Command;
use crate::pair::ServerPair;
use crate::{context_for, DiffReport, HistoryEntry, Mismatch, SeedOutcome};

/// Most key differences reported for one dataset check.
const MAX_REPORTED_DIFFERENCES: usize = 8;

/// When to restart within a seed: at the first recipe boundary at or after
/// each multiple of `every` commands; never when `every` is 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartSchedule {
    every: usize,
    next: usize,
}

impl RestartSchedule {
    /// A schedule restarting every `every` commands (0: never).
    pub fn new(every: usize) -> Self {
        Self { every, next: every }
    }

    /// Whether to restart now, after `completed` commands of the seed, when
    /// `at_boundary` tells whether the generator is between two recipes. A
    /// yes moves the schedule on to the next multiple of `every`.
    pub fn due(&mut self, completed: usize, at_boundary: bool) -> bool {
        if self.every == 0 || completed < self.next || !at_boundary {
            return false;
        }
        let multiples = completed / self.every;
        self.next = multiples.saturating_add(1).saturating_mul(self.every);
        true
    }
}

/// Where in a seed a restart happens.
#[derive(Debug, Clone, Copy)]
pub struct RestartPoint {
    /// The seed of the sequence.
    pub seed: u64,
    /// The position of the last command sent before the restart.
    pub index: usize,
    /// The database the main connection has selected.
    pub database: usize,
    /// The restart interval, for the reproduce line of a mismatch.
    pub restart_every: usize,
}

impl RestartPoint {
    fn mismatch(&self, command: String, redis: String, peregrine: String) -> Mismatch {
        Mismatch {
            seed: self.seed,
            index: self.index,
            command,
            context: Vec::new(),
            redis,
            peregrine,
            restart_every: self.restart_every,
            stream_flags: String::new(),
        }
    }

    /// The candidate could not be read, killed or restarted: `stage` says when.
    fn broken(&self, stage: &str, failure: String) -> Mismatch {
        self.mismatch(
            format!("<{stage}, after command #{}>", self.index),
            "(the server answers)".to_owned(),
            failure,
        )
    }

    /// One key that differs; `stage` says which check found it.
    fn difference(&self, stage: &str, difference: &Difference) -> Mismatch {
        self.mismatch(
            format!(
                "<{stage}, after command #{}> db {} key {}",
                self.index,
                difference.database,
                crate::resp::quote(&difference.key)
            ),
            digest::printable(difference.expected.as_ref()),
            digest::printable(difference.actual.as_ref()),
        )
    }
}

/// Runs one restart point (steps 1 to 3 of the module documentation). On a
/// finding, records it and returns how the seed ended.
pub fn restart_and_check(
    servers: &mut ServerPair,
    point: &RestartPoint,
    history: &VecDeque<HistoryEntry>,
    report: &mut DiffReport,
) -> anyhow::Result<Result<(), SeedOutcome>> {
    const BEFORE: &str = "dataset before kill -9";
    const RESTART: &str = "kill -9 and restart";
    const AFTER: &str = "dataset after kill -9 and restart";
    let (redis, before) = servers.digests()?;
    let before = match before {
        Ok(before) => before,
        Err(failure) => {
            report.mismatches.push(point.broken(BEFORE, failure));
            return Ok(Err(SeedOutcome::ConnectionLost));
        }
    };
    let live = digest::differences(&redis, &before, Strictness::Oracle);
    if !live.is_empty() {
        for difference in live.iter().take(MAX_REPORTED_DIFFERENCES) {
            let mut mismatch = point.difference(BEFORE, difference);
            mismatch.context = key_context(&difference.key, history);
            report.mismatches.push(mismatch);
        }
        return Ok(Err(SeedOutcome::Failed));
    }
    if report.restarts % 2 == 1 {
        if let Err(failure) = servers.snapshot_candidate() {
            report
                .mismatches
                .push(point.broken("SAVE before kill -9", failure));
            return Ok(Err(SeedOutcome::ConnectionLost));
        }
    }
    if let Err(failure) = servers.restart_candidate(point.database) {
        report.mismatches.push(point.broken(RESTART, failure));
        return Ok(Err(SeedOutcome::ConnectionLost));
    }
    report.restarts = report.restarts.saturating_add(1);
    let after = match servers.candidate_digest() {
        Ok(after) => after,
        Err(failure) => {
            report.mismatches.push(point.broken(AFTER, failure));
            return Ok(Err(SeedOutcome::ConnectionLost));
        }
    };
    let replayed = digest::differences(&before, &after, Strictness::Exact);
    if replayed.is_empty() {
        return Ok(Ok(()));
    }
    for difference in replayed.iter().take(MAX_REPORTED_DIFFERENCES) {
        let mut mismatch = point.difference(AFTER, difference);
        mismatch.redis = digest::printable(redis.get(difference.database, &difference.key));
        mismatch.context = vec![format!(
            "peregrine before the kill: {}",
            digest::printable(difference.expected.as_ref())
        )];
        mismatch
            .context
            .extend(key_context(&difference.key, history));
        report.mismatches.push(mismatch);
    }
    Ok(Err(SeedOutcome::Failed))
}

/// The recent commands on `key` (in any database).
fn key_context(key: &[u8], history: &VecDeque<HistoryEntry>) -> Vec<String> {
    context_for(&Command::new("(dataset)").key(key), history)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interval_of_zero_never_restarts() {
        let mut schedule = RestartSchedule::new(0);
        assert!((0..100).all(|completed| !schedule.due(completed, true)));
    }

    #[test]
    fn restarts_fall_on_multiples_or_the_next_boundary() {
        let mut schedule = RestartSchedule::new(3);
        assert!(!schedule.due(1, true));
        assert!(!schedule.due(2, true));
        assert!(schedule.due(3, true));
        assert!(!schedule.due(4, true));
        // Due at 6, but a recipe is still running: the restart waits for its end.
        assert!(!schedule.due(6, false));
        assert!(schedule.due(7, true));
        // The next restart is at the next multiple (9), not 3 after 7.
        assert!(!schedule.due(8, true));
        assert!(schedule.due(9, true));
    }

    #[test]
    fn a_long_recipe_skips_the_multiples_it_covers() {
        let mut schedule = RestartSchedule::new(2);
        assert!(!schedule.due(2, false));
        assert!(!schedule.due(3, false));
        assert!(schedule.due(5, true));
        assert!(!schedule.due(5, true));
        assert!(schedule.due(6, true));
    }
}
