//! Automatic snapshots: Redis's `save <seconds> <changes>` rules, and log compaction when
//! the log has grown past `auto-aof-rewrite-percentage` of the last snapshot (and at
//! least `auto-aof-rewrite-min-size`). Runs on shard 0, checking once a second.

use crate::shard_state::{unix_millis, ShardRouter};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// When automatic snapshots are due.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AutoSnapshot {
    /// `save` rules: (seconds, changes) pairs; empty = none.
    pub save_rules: Vec<(u64, u64)>,
    /// `auto-aof-rewrite-percentage` (0 = off).
    pub growth_percentage: u64,
    /// `auto-aof-rewrite-min-size`.
    pub growth_min_size: u64,
}

impl AutoSnapshot {
    /// Parses a `save` value: pairs of numbers, or "" for none. `None` when malformed.
    pub fn parse_save_rules(text: &str) -> Option<Vec<(u64, u64)>> {
        let numbers: Vec<u64> = text
            .split_whitespace()
            .map(|word| word.parse().ok())
            .collect::<Option<_>>()?;
        if !numbers.len().is_multiple_of(2) {
            return None;
        }
        Some(numbers.chunks(2).map(|pair| (pair[0], pair[1])).collect())
    }

    /// True when a rule asks for a snapshot: `changes` since the last one, `elapsed`
    /// seconds ago, with `log_bytes` of log over a `base_bytes` snapshot.
    pub fn due(&self, changes: u64, elapsed: u64, log_bytes: u64, base_bytes: u64) -> bool {
        let by_rule = self
            .save_rules
            .iter()
            .any(|&(seconds, needed)| changes >= needed.max(1) && elapsed >= seconds);
        let by_growth = self.growth_percentage > 0
            && log_bytes >= self.growth_min_size
            && log_bytes.saturating_mul(100) >= base_bytes.saturating_mul(self.growth_percentage);
        by_rule || by_growth
    }
}

/// Checks the rules once a second for as long as the server runs.
pub async fn run(router: Rc<ShardRouter>) {
    loop {
        glommio::timer::sleep(Duration::from_secs(1)).await;
        let server = &router.state().server;
        let shared = &server.persistence;
        if shared.snapshot_running.load(Ordering::SeqCst) {
            continue;
        }
        let rules = server.settings().auto_snapshot;
        let elapsed =
            (unix_millis() / 1000).saturating_sub(server.last_save.load(Ordering::Relaxed));
        let due = rules.due(
            shared.changes_since_save.load(Ordering::Relaxed),
            elapsed,
            shared.log_bytes.load(Ordering::Relaxed),
            shared.snapshot_bytes.load(Ordering::Relaxed),
        );
        if due {
            let _ = super::snapshot::take(&router).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_rules_parse_as_redis_writes_them() {
        assert_eq!(
            AutoSnapshot::parse_save_rules("3600 1 300 100"),
            Some(vec![(3600, 1), (300, 100)])
        );
        assert_eq!(AutoSnapshot::parse_save_rules(""), Some(vec![]));
        assert_eq!(AutoSnapshot::parse_save_rules("3600"), None);
        assert_eq!(AutoSnapshot::parse_save_rules("a b"), None);
    }

    #[test]
    fn a_rule_needs_both_its_changes_and_its_time() {
        let rules = AutoSnapshot {
            save_rules: vec![(60, 100)],
            growth_percentage: 100,
            growth_min_size: 1000,
        };
        assert!(!rules.due(99, 3600, 0, 0));
        assert!(!rules.due(100, 59, 0, 0));
        assert!(rules.due(100, 60, 0, 0));
        // The log grew past 100% of a 5000-byte snapshot, and past the minimum.
        assert!(!rules.due(0, 0, 4999, 5000));
        assert!(rules.due(0, 0, 5000, 5000));
        assert!(!rules.due(0, 0, 999, 0));
        let off = AutoSnapshot::default();
        assert!(!off.due(1_000_000, 1_000_000, u64::MAX, 0));
    }
}
