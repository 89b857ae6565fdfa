//! Stream IDs for the streams family: fresh ones past the model's stream clock,
//! old ones below it, partial, exclusive, extreme and invalid ones, for each place an
//! ID goes (XADD, reads, interval ends, group positions).

use super::super::Context;

/// The largest value of either part of an ID (2^64 - 1).
pub(super) const MAX_PART: &str = "18446744073709551615";

/// The largest ID.
pub(super) const MAX_ID: &str = "18446744073709551615-18446744073709551615";

/// IDs no stream command accepts.
const INVALID_IDS: &[&str] = &[
    "abc",
    "",
    "-1",
    "1-",
    "-1-0",
    "1-x",
    "1-2-3",
    "1.5",
    " 1",
    "0x10",
    "18446744073709551616",
    "18446744073709551615-18446744073709551616",
    "1--1",
];

/// `ms-seq`.
pub(super) fn id_text(milliseconds: u64, sequence: u64) -> Vec<u8> {
    format!("{milliseconds}-{sequence}").into_bytes()
}

/// A sequence number: 0 most of the time, so that guessed IDs hit entries.
pub(super) fn sequence(context: &mut Context<'_>) -> u64 {
    match context.rng.below(100) {
        0..=59 => 0,
        60..=84 => 1,
        _ => 2,
    }
}

/// A millisecond part past every ID written so far; the model's clock moves to it.
pub(super) fn fresh_milliseconds(context: &mut Context<'_>) -> u64 {
    let step = context.rng.below(3).saturating_add(1);
    let milliseconds = context.model.stream_clock().saturating_add(step);
    context.model.may_write_stream_id(milliseconds);
    milliseconds
}

/// A full fresh ID (XADD with it succeeds on any stream, unless the stream was
/// given the largest ID).
pub(super) fn fresh_id(context: &mut Context<'_>) -> (u64, u64) {
    let milliseconds = fresh_milliseconds(context);
    (milliseconds, sequence(context))
}

/// A millisecond part at or below the clock: mostly recent (where the entries
/// are), sometimes anywhere down to 0.
pub(super) fn old_milliseconds(context: &mut Context<'_>) -> u64 {
    let clock = context.model.stream_clock();
    if context.chance(75) {
        clock.saturating_sub(context.rng.below(30))
    } else {
        context.rng.below(clock.saturating_add(1))
    }
}

/// A full ID at or below the clock.
pub(super) fn old_id(context: &mut Context<'_>) -> Vec<u8> {
    let milliseconds = old_milliseconds(context);
    id_text(milliseconds, sequence(context))
}

/// An ID for XADD: fresh in one of its spellings (`ms-seq`, `ms`, `ms-*`) most of
/// the time, otherwise old, the top of the clock with `*`, or invalid. With it, the
/// ID the entry gets when it is fresh (and the key holds a stream or nothing).
pub(super) fn xadd_id(context: &mut Context<'_>) -> (Vec<u8>, Option<Vec<u8>>) {
    match context.rng.below(100) {
        0..=64 => {
            let (milliseconds, sequence) = fresh_id(context);
            let id = id_text(milliseconds, sequence);
            (id.clone(), Some(id))
        }
        65..=80 => {
            let milliseconds = fresh_milliseconds(context);
            let spelling = if context.chance(50) {
                milliseconds.to_string()
            } else {
                format!("{milliseconds}-*")
            };
            (spelling.into_bytes(), Some(id_text(milliseconds, 0)))
        }
        81..=85 => {
            let top = format!("{}-*", context.model.stream_clock());
            (top.into_bytes(), None)
        }
        86..=93 => (old_id(context), None),
        94..=96 => (context.pick(&["0-0", "0", "0-*", "0-1"]).into(), None),
        _ => (context.pick(INVALID_IDS).into(), None),
    }
}

/// An ID `key` may hold: one XADD may have added to it lately
/// ([`Model::recent_stream_ids`]) most of the time, otherwise an old one.
///
/// [`Model::recent_stream_ids`]: crate::generate::model::Model::recent_stream_ids
pub(super) fn known_id(context: &mut Context<'_>, key: &[u8]) -> Vec<u8> {
    let recent = context.model.recent_stream_ids(key);
    if recent.is_empty() || context.chance(25) {
        old_id(context)
    } else {
        context.pick(&recent)
    }
}

/// An ID for reads, deletes and acknowledgements: old mostly, sometimes partial,
/// `0`, fresh (past everything) or invalid.
pub(super) fn some_id(context: &mut Context<'_>, key: &[u8]) -> Vec<u8> {
    match context.rng.below(100) {
        0..=69 => known_id(context, key),
        70..=79 => old_milliseconds(context).to_string().into_bytes(),
        80..=86 => context.pick(&["0", "0-0", "0-1"]).into(),
        87..=93 => {
            let milliseconds = context.model.stream_clock().saturating_add(5);
            id_text(milliseconds, 0)
        }
        _ => context.pick(INVALID_IDS).into(),
    }
}

/// One end of an XRANGE-style interval (`low`: the start): `-` / `+`, an ID, a
/// partial one, an exclusive one, the extremes, or an invalid one.
pub(super) fn range_end(context: &mut Context<'_>, key: &[u8], low: bool) -> Vec<u8> {
    match context.rng.below(100) {
        0..=24 => (if low { "-" } else { "+" }).into(),
        25..=27 => (if low { "+" } else { "-" }).into(),
        28..=54 => known_id(context, key),
        55..=64 => old_milliseconds(context).to_string().into_bytes(),
        65..=79 => {
            let mut exclusive = b"(".to_vec();
            if context.chance(75) {
                exclusive.extend(known_id(context, key));
            } else {
                exclusive.extend(old_milliseconds(context).to_string().into_bytes());
            }
            exclusive
        }
        80..=86 => context.pick(&["0", "0-0", "(0-0", "0-1"]).into(),
        87..=92 => context
            .pick(&[
                MAX_ID,
                "(18446744073709551615-18446744073709551615",
                MAX_PART,
                "(-",
                "(+",
            ])
            .into(),
        _ => context.pick(INVALID_IDS).into(),
    }
}

/// An ID XREAD reads after: `0`, a recent ID, `$`, partial, or one it rejects. Never
/// `+`: Redis 7.4 reads the last entry with it (as Peregrine does), the 7.0 oracle
/// rejects it.
pub(super) fn xread_id(context: &mut Context<'_>, key: &[u8]) -> Vec<u8> {
    match context.rng.below(100) {
        0..=29 => b"0".to_vec(),
        30..=64 => known_id(context, key),
        65..=79 => b"$".to_vec(),
        80..=89 => old_milliseconds(context).to_string().into_bytes(),
        90..=94 => b"0-0".to_vec(),
        _ => context.pick(&["++", ">", "-", "abc", "(1-0"]).into(),
    }
}

/// An ID XGROUP CREATE or SETID puts a group at: `$`, `0`, a recent ID, one past
/// everything, partial, or invalid.
pub(super) fn group_id(context: &mut Context<'_>, key: &[u8]) -> Vec<u8> {
    match context.rng.below(100) {
        0..=29 => b"$".to_vec(),
        30..=59 => b"0".to_vec(),
        60..=79 => known_id(context, key),
        80..=84 => {
            let milliseconds = context.model.stream_clock().saturating_add(40);
            id_text(milliseconds, 0)
        }
        85..=91 => context.pick(&["0-0", "1", "1-1"]).into(),
        _ => context.pick(&["+", "-", ">", "abc", "", "(1-0"]).into(),
    }
}

/// An ID XREADGROUP reads at: `>` (new entries) mostly, else the consumer's
/// history from `0` or a recent ID, or one it rejects (`$` among them).
pub(super) fn xreadgroup_id(context: &mut Context<'_>, key: &[u8]) -> Vec<u8> {
    match context.rng.below(100) {
        0..=66 => b">".to_vec(),
        67..=84 => b"0".to_vec(),
        85..=93 => known_id(context, key),
        _ => context.pick(&["$", "+", "-", "abc"]).into(),
    }
}
