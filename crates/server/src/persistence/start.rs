//! Start-up of persistence: the plan read from the data directory before the shards
//! start, each shard's load and the start of its log writer, and the moment clients are
//! let in.

use super::{log_writer, recovery, replay, reshard, snapshot, PersistenceSettings};
use std::sync::atomic::Ordering;

/// What every shard needs to load its data and start its log, prepared once at start-up.
pub struct RecoveryPlan {
    /// The data directory's content.
    pub layout: recovery::Layout,
    /// Multi-shard operations whose every part is in the logs.
    pub complete: std::collections::HashSet<u64>,
    /// The block cipher (from `encryption-key-file`).
    pub cipher: peregrine_persist::Cipher,
    /// The persistence configuration.
    pub settings: PersistenceSettings,
}

impl RecoveryPlan {
    /// Reads the data directory and checks the key; errors are fit for the operator.
    pub fn prepare(
        settings: &PersistenceSettings,
        limits: peregrine_commands::CommandLimits,
        databases: u32,
        shard_count: u16,
    ) -> Result<RecoveryPlan, String> {
        let cipher = if settings.key_file.is_empty() {
            peregrine_persist::Cipher::none()
        } else {
            peregrine_persist::Cipher::from_key_file(std::path::Path::new(&settings.key_file))
                .map_err(|error| error.to_string())?
        };
        let mut layout = recovery::discover(&settings.data_dir)?;
        if layout.shard_count != 0 && layout.shard_count != u32::from(shard_count) {
            layout = reshard::reshard(&layout, &cipher, settings, limits, databases, shard_count)?;
        }
        let complete = recovery::complete_transactions(&layout, &cipher)?;
        Ok(RecoveryPlan {
            layout,
            complete,
            cipher,
            settings: settings.clone(),
        })
    }
}

/// On shard 0 once every shard has loaded: takes the snapshot recovery asked for (see
/// [`super::SharedPersistence::snapshot_before_serving`]), then lets clients in.
pub async fn finish_loading(router: std::rc::Rc<crate::shard_state::ShardRouter>) {
    let shared = &router.state().server.persistence;
    while shared.shards_loading.load(Ordering::SeqCst) > 1 {
        glommio::timer::sleep(std::time::Duration::from_millis(1)).await;
    }
    match crate::scripting::library_file::load(router.state()) {
        Ok(0) => {}
        Ok(count) => tracing::info!("loaded {count} function libraries"),
        Err(reason) => tracing::error!("the function libraries could not be loaded: {reason}"),
    }
    if shared.snapshot_before_serving.load(Ordering::SeqCst) {
        tracing::warn!("taking a snapshot before serving: part of the log was dropped");
        if let Err(reason) = snapshot::take(&router).await {
            tracing::warn!("the snapshot after recovery failed: {reason}");
        }
    }
    shared.shards_loading.fetch_sub(1, Ordering::SeqCst);
}

/// Loads this shard's data, then starts its log writer (when `appendonly` is on).
pub async fn start_shard(
    state: &std::rc::Rc<crate::shard_state::ShardState>,
    plan: &RecoveryPlan,
    shard_count: u16,
) -> Result<(), String> {
    let shard = u32::from(state.id.0);
    let files = plan
        .layout
        .shards
        .get(shard as usize)
        .cloned()
        .unwrap_or_default();
    let started = std::time::Instant::now();
    let mut loader = recovery::ShardLoader::new(
        &files,
        plan.cipher.clone(),
        plan.complete.clone(),
        &plan.settings,
    );
    let shared = &state.server.persistence;
    let mut reported = started;
    loop {
        let step = {
            let mut keyspace = state.keyspace.borrow_mut();
            let mut replayer = replay::Replayer::new(&mut keyspace, state.limits());
            loader.step(&mut replayer, 8)?
        };
        match step {
            None => break,
            Some(bytes) => {
                shared
                    .loading_loaded_bytes
                    .fetch_add(bytes, Ordering::Relaxed);
                // Shard 0 reports the whole server's progress every few seconds.
                if shard == 0 && reported.elapsed() >= std::time::Duration::from_secs(2) {
                    reported = std::time::Instant::now();
                    let total = shared.loading_total_bytes.load(Ordering::Relaxed).max(1);
                    let loaded = shared
                        .loading_loaded_bytes
                        .load(Ordering::Relaxed)
                        .min(total);
                    tracing::info!(
                        "loading: {:.1}% ({loaded} of {total} bytes) after {:.1} s",
                        loaded as f64 * 100.0 / total as f64,
                        started.elapsed().as_secs_f64()
                    );
                }
                crate::expiry::pause_for_io().await;
            }
        }
    }
    let keys: usize = state.keyspace.borrow().iter().map(|(_, db)| db.len()).sum();
    shared.keys_loaded.fetch_add(keys as u64, Ordering::Relaxed);
    let outcome = &loader.outcome;
    if outcome.stopped_at.is_some() {
        shared.snapshot_before_serving.store(true, Ordering::SeqCst);
    }
    if files.snapshot.is_some() || !files.logs.is_empty() {
        tracing::info!(
            "shard {shard}: loaded {keys} keys from {} snapshot and {} log segments in {:.3} s{}",
            usize::from(files.snapshot.is_some()),
            files.logs.len(),
            started.elapsed().as_secs_f64(),
            if outcome.replay_errors > 0 {
                format!(" ({} records failed to replay)", outcome.replay_errors)
            } else {
                String::new()
            }
        );
    }
    if plan.settings.enabled {
        let target = log_writer::LogTarget::create(
            &plan.settings,
            shard,
            u32::from(shard_count),
            outcome.last_sequence + 1,
            plan.cipher.clone(),
        )
        .await
        .map_err(|error| {
            format!(
                "can't create a log segment in {}: {error}",
                plan.settings.data_dir.display()
            )
        })?;
        state.persistence.current_sequence.set(target.sequence);
        state.journal.borrow_mut().enable(outcome.last_lsn + 1);
        state.persistence.written_lsn.set(outcome.last_lsn);
        state.persistence.durable_lsn.set(outcome.last_lsn);
        let queue = glommio::executor().create_task_queue(
            glommio::Shares::Static(1000),
            glommio::Latency::NotImportant,
            "persistence",
        );
        let writer = log_writer::run(state.clone(), plan.settings.clone(), target);
        shared.shards_logging.fetch_add(1, Ordering::SeqCst);
        glommio::spawn_local_into(writer, queue)
            .map_err(|error| format!("can't start the log writer: {error}"))?
            .detach();
    }
    Ok(())
}
