//! Running a keyed command against a shard, with its effect recorded for persistence.

use crate::{ArgReader, CmdResult, CommandError, CommandSpec, Exec, Flag, ShardCtx};
use bytes::Bytes;

/// Runs `argv`'s keyed handler on `ctx` and, when it is a write that succeeded, records
/// its effect in the shard's journal: the command itself (with its time, every command
/// replays to the same result), unless the handler recorded something else. While a
/// snapshot is being taken, the keys a write names are captured before it runs. A write
/// that changed something (the dirty counter moved) fails the EXEC of its keys' watchers
/// and invalidates them for tracking clients; a tracking client's read-only command is
/// remembered in the shard's tracking table. Its keyspace events are in `ctx.notifier`
/// afterwards, in Redis's order.
pub fn run_keyed(ctx: &mut ShardCtx<'_>, spec: &CommandSpec, argv: &[Bytes]) -> CmdResult {
    let Exec::Keyed { handler, .. } = spec.exec else {
        return Err(CommandError::other(
            "ERR internal error: not a keyed command",
        ));
    };
    ctx.effect_recorded = false;
    if ctx.capture.is_active() && spec.has(Flag::Write) {
        let database = ctx.keyspace.db(ctx.db);
        for position in spec.keys.positions(argv) {
            if let Some(key) = argv.get(position) {
                ctx.capture.before_write(database, ctx.db.0, key);
            }
        }
    }
    let dirty_before = ctx.stats.dirty;
    let expired_before = crate::tracking::expired_before(ctx);
    let result = handler(ctx, &mut ArgReader::new(argv));
    // Keys the command's lookups expired and no later event reported.
    ctx.collect_lazy_expiry();
    if ctx.stats.dirty != dirty_before && !ctx.watched.is_empty() {
        let writer = ctx
            .client
            .tracking
            .and_then(|client| client.noloop_writer());
        for position in spec.keys.positions(argv) {
            if let Some(key) = argv.get(position) {
                ctx.watched.touch_by(ctx.db.0, key, writer);
            }
        }
    } else if let Some(expired_before) = expired_before {
        crate::tracking::after_lazy_expiry(ctx, spec, argv, expired_before);
    }
    if ctx.client.tracking.is_some() {
        crate::tracking::remember_reads(ctx, spec, argv);
    }
    if spec.has(Flag::Write) && !ctx.effect_recorded && ctx.journal.is_enabled() {
        if let Ok(reply) = &result {
            if !reply.is_error() {
                ctx.journal.command(ctx.now, ctx.db.0, argv);
            }
        }
    }
    result
}
