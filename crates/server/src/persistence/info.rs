//! INFO's Persistence section, with the rdb_* and aof_* fields Redis tools read (a
//! Peregrine snapshot is both Redis's RDB save and its AOF rewrite).

use super::SharedPersistence;
use crate::shard_state::unix_millis;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;

/// Per-shard log figures the section adds up.
#[derive(Clone, Copy, Debug, Default)]
pub struct ShardLogFigures {
    /// Bytes of records waiting for the log writer.
    pub pending: u64,
    /// Records written but not yet known durable.
    pub unsynced: u64,
}

/// The section's text (with its heading).
pub fn section(
    shared: &SharedPersistence,
    last_save: u64,
    appendonly: bool,
    shards: &[ShardLogFigures],
) -> String {
    let running = shared.snapshot_running.load(Ordering::SeqCst);
    let now = unix_millis() / 1000;
    let current = if running {
        now.saturating_sub(shared.snapshot_started.load(Ordering::Relaxed)) as i64
    } else {
        -1
    };
    let snapshots = shared.snapshots.load(Ordering::Relaxed);
    let last_duration = if snapshots > 0 {
        shared.last_snapshot_seconds.load(Ordering::Relaxed) as i64
    } else {
        -1
    };
    let status = if shared.last_snapshot_failed.load(Ordering::Relaxed) {
        "err"
    } else {
        "ok"
    };
    let write_status = if shared.failing_shards.load(Ordering::Relaxed) > 0 {
        "err"
    } else {
        "ok"
    };
    let loading = shared.loading();
    let mut out = String::from("# Persistence\r\n");
    let _ = write!(
        out,
        "loading:{}\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\ncurrent_cow_size:0\r\ncurrent_cow_size_age:0\r\ncurrent_fork_perc:0.00\r\ncurrent_save_keys_processed:0\r\ncurrent_save_keys_total:0\r\nrdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{last_save}\r\nrdb_last_bgsave_status:{status}\r\nrdb_last_bgsave_time_sec:{last_duration}\r\nrdb_current_bgsave_time_sec:{current}\r\nrdb_saves:{snapshots}\r\nrdb_last_cow_size:0\r\nrdb_last_load_keys_expired:0\r\nrdb_last_load_keys_loaded:{}\r\naof_enabled:{}\r\naof_rewrite_in_progress:{}\r\naof_rewrite_scheduled:0\r\naof_last_rewrite_time_sec:{last_duration}\r\naof_current_rewrite_time_sec:{current}\r\naof_last_bgrewrite_status:{status}\r\naof_rewrites:{snapshots}\r\naof_rewrites_consecutive_failures:{}\r\naof_last_write_status:{write_status}\r\naof_last_cow_size:0\r\nmodule_fork_in_progress:0\r\nmodule_fork_last_cow_size:0\r\n",
        u8::from(loading),
        shared.changes_since_save.load(Ordering::Relaxed),
        u8::from(running),
        shared.keys_loaded.load(Ordering::Relaxed),
        u8::from(appendonly),
        u8::from(running),
        u8::from(shared.last_snapshot_failed.load(Ordering::Relaxed)),
    );
    if appendonly {
        let base = shared.snapshot_bytes.load(Ordering::Relaxed);
        let sum = |pick: fn(&ShardLogFigures) -> u64| shards.iter().map(pick).sum::<u64>();
        let _ = write!(
            out,
            "aof_current_size:{}\r\naof_base_size:{base}\r\naof_pending_rewrite:0\r\naof_buffer_length:{}\r\naof_pending_bio_fsync:{}\r\naof_delayed_fsync:0\r\n",
            base + shared.log_bytes.load(Ordering::Relaxed),
            sum(|shard| shard.pending),
            u8::from(sum(|shard| shard.unsynced) > 0),
        );
    }
    if loading {
        let total = shared.loading_total_bytes.load(Ordering::Relaxed);
        let loaded = shared
            .loading_loaded_bytes
            .load(Ordering::Relaxed)
            .min(total);
        let started = shared.loading_start_time.load(Ordering::Relaxed);
        let elapsed = now.saturating_sub(started);
        let percent = if total > 0 {
            loaded as f64 * 100.0 / total as f64
        } else {
            0.0
        };
        let eta = if loaded > 0 {
            (elapsed as f64 * (total - loaded) as f64 / loaded as f64) as u64
        } else {
            1
        };
        let _ = write!(
            out,
            "loading_start_time:{started}\r\nloading_total_bytes:{total}\r\nloading_rdb_used_mem:0\r\nloading_loaded_bytes:{loaded}\r\nloading_loaded_perc:{percent:.2}\r\nloading_eta_seconds:{eta}\r\n"
        );
    }
    out
}
