//! The commands that recreate a stream exactly: entries, tombstones and node layout,
//! groups, consumers, pending entries and counters.

use crate::rebuild::RebuildSink;
use peregrine_keyspace::collections::stream::{Stream, StreamId};
use std::collections::BTreeSet;

/// A group that exists only while an empty stream is recreated (XGROUP CREATE MKSTREAM
/// is the one command that creates a stream without entries).
const SCAFFOLD_GROUP: &[u8] = b"__peregrine_rebuild__";

/// Sends `sink` the commands that add about `budget` more entries of `stream` to `key`,
/// starting at `cursor` (0 at first: a count of nodes done), and returns the cursor to
/// continue from, or `None` when the stream is complete.
///
/// The first part creates the groups (XGROUP CREATE with ENTRIESREAD) and their consumers
/// (XGROUP CREATECONSUMER), and the pending entries whose entries are gone (trimmed, or
/// deleted with their whole node): no command creates a pending entry without its entry,
/// so those entries are added, claimed (XCLAIM ... TIME RETRYCOUNT FORCE JUSTID) and
/// trimmed away again, and XSETID takes the last ID back. Then every entry is added with
/// XADD in order, deleted ones too, so nodes split where they did; then the other pending
/// entries are claimed, while their entries exist; then come the deletions (the
/// tombstones before the first entry as an exact MINID trim, which leaves the deleted-ID
/// counter alone, the others with XDEL) and XSETID restores the counters. Consumers'
/// seen and active times become the time of the rebuild.
pub fn rebuild_stream(
    key: &[u8],
    stream: &Stream,
    cursor: u64,
    budget: usize,
    sink: &mut dyn RebuildSink,
) -> Option<u64> {
    if cursor == 0 {
        rebuild_groups(key, stream, sink);
    }
    let mut nodes_done = cursor as usize;
    let mut added = 0;
    for node in stream.node_entries(nodes_done) {
        for (entry, _) in &node {
            let id = entry.id.to_string();
            let mut argv: Vec<&[u8]> = vec![b"XADD", key, id.as_bytes()];
            for (field, value) in &entry.pairs {
                argv.push(field);
                argv.push(value);
            }
            sink.command(&argv);
        }
        added += node.len();
        nodes_done += 1;
        if added >= budget && nodes_done < stream.node_count() {
            return Some(nodes_done as u64);
        }
    }
    if stream.node_count() == 0 && stream.groups().is_empty() {
        sink.command(&[b"XGROUP", b"CREATE", key, SCAFFOLD_GROUP, b"0", b"MKSTREAM"]);
        sink.command(&[b"XGROUP", b"DESTROY", key, SCAFFOLD_GROUP]);
    }
    claim_pending(key, stream, sink, &|id| stream.holds(id));
    rebuild_deletions(key, stream, sink);
    rebuild_counters(key, stream, sink);
    None
}

/// The groups and their consumers, and the pending entries whose entries are gone.
fn rebuild_groups(key: &[u8], stream: &Stream, sink: &mut dyn RebuildSink) {
    for (name, group) in stream.groups() {
        let last = group.last_id.to_string();
        // A counter carried past i64::MAX by deliveries (it wraps, as Redis's does)
        // cannot be set by any command: it is rebuilt as unknown.
        let read = group
            .entries_read
            .filter(|&read| i64::try_from(read).is_ok())
            .map_or_else(|| "-1".to_owned(), |read| read.to_string());
        sink.command(&[
            b"XGROUP",
            b"CREATE",
            key,
            name,
            last.as_bytes(),
            b"MKSTREAM",
            b"ENTRIESREAD",
            read.as_bytes(),
        ]);
        for consumer in group.consumers.keys() {
            sink.command(&[b"XGROUP", b"CREATECONSUMER", key, name, consumer]);
        }
    }
    let gone: BTreeSet<StreamId> = stream
        .groups()
        .values()
        .flat_map(|group| group.pending.keys().copied())
        .filter(|&id| !stream.holds(id))
        .collect();
    if gone.is_empty() {
        return;
    }
    for id in &gone {
        let id = id.to_string();
        sink.command(&[b"XADD", key, id.as_bytes(), b"x", b"y"]);
    }
    claim_pending(key, stream, sink, &|id| gone.contains(&id));
    sink.command(&[b"XTRIM", key, b"MAXLEN", b"0"]);
    sink.command(&[b"XSETID", key, b"0-0"]);
}

/// Claims the pending entries whose IDs `which` selects for their consumers, with their
/// delivery times and counts.
fn claim_pending(
    key: &[u8],
    stream: &Stream,
    sink: &mut dyn RebuildSink,
    which: &dyn Fn(StreamId) -> bool,
) {
    for (name, group) in stream.groups() {
        for (id, pending) in group.pending.iter().filter(|(&id, _)| which(id)) {
            let (id, time, count) = (
                id.to_string(),
                pending.delivery_time.to_string(),
                pending.delivery_count.to_string(),
            );
            sink.command(&[
                b"XCLAIM",
                key,
                name,
                &pending.consumer,
                b"0",
                id.as_bytes(),
                b"TIME",
                time.as_bytes(),
                b"RETRYCOUNT",
                count.as_bytes(),
                b"FORCE",
                b"JUSTID",
            ]);
        }
    }
}

fn rebuild_deletions(key: &[u8], stream: &Stream, sink: &mut dyn RebuildSink) {
    let first = stream.first_id();
    let tombstones: Vec<StreamId> = stream
        .node_entries(0)
        .flatten()
        .filter(|(_, deleted)| *deleted)
        .map(|(entry, _)| entry.id)
        .collect();
    if !stream.is_empty() && tombstones.first().is_some_and(|&id| id < first) {
        let first = first.to_string();
        sink.command(&[b"XTRIM", key, b"MINID", b"=", first.as_bytes()]);
    }
    let later: Vec<String> = tombstones
        .iter()
        .filter(|&&id| stream.is_empty() || id > first)
        .map(StreamId::to_string)
        .collect();
    for chunk in later.chunks(512) {
        let mut argv: Vec<&[u8]> = vec![b"XDEL", key];
        argv.extend(chunk.iter().map(String::as_bytes));
        sink.command(&argv);
    }
}

fn rebuild_counters(key: &[u8], stream: &Stream, sink: &mut dyn RebuildSink) {
    let (last, max_deleted) = (stream.last_id(), stream.max_deleted_id());
    let first_id = last.max(max_deleted).to_string();
    let added = stream.entries_added().to_string();
    let max_deleted_text = max_deleted.to_string();
    let mut argv: Vec<&[u8]> = vec![
        b"XSETID",
        key,
        first_id.as_bytes(),
        b"ENTRIESADDED",
        added.as_bytes(),
    ];
    if !max_deleted.is_zero() {
        argv.extend([&b"MAXDELETEDID"[..], max_deleted_text.as_bytes()]);
    }
    sink.command(&argv);
    if max_deleted > last {
        let last = last.to_string();
        sink.command(&[b"XSETID", key, last.as_bytes()]);
    }
}
