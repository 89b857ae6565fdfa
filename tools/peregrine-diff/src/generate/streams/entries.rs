//! Recipes on a stream's entries: XADD (and its edge cases), XLEN, XRANGE,
//! XREVRANGE, XDEL, XTRIM, XREAD and XSETID.

use super::ids::{
    fresh_id, fresh_milliseconds, id_text, known_id, old_id, old_milliseconds, range_end, sequence,
    some_id, xadd_id, xread_id, MAX_ID, MAX_PART,
};
use super::{appended, count, pairs, read_key, write_key, AUTO_KEY, STREAMS};
use crate::compare::Comparison;
use crate::generate::collections;
use crate::generate::values::{self, option};
use crate::generate::{Command, Context};

/// `MAXLEN` or `MINID`, with `=`, `~` or neither, a threshold and sometimes
/// `LIMIT` (valid only with `~`); rarely a negative or non-numeric threshold.
fn trim_arguments(context: &mut Context<'_>, key: &[u8]) -> Vec<Vec<u8>> {
    let by_length = context.chance(65);
    let mut arguments = vec![option(context, if by_length { "MAXLEN" } else { "MINID" })];
    let approximate = match context.rng.below(3) {
        0 => None,
        1 => Some(false),
        _ => Some(true),
    };
    match approximate {
        Some(true) => arguments.push(b"~".to_vec()),
        Some(false) => arguments.push(b"=".to_vec()),
        None => {}
    }
    let threshold = match (by_length, context.rng.below(100)) {
        (true, 0..=39) => context.between(0, 5).to_string().into_bytes(),
        (true, 40..=79) => context.between(6, 30).to_string().into_bytes(),
        (true, 80..=94) => context.between(31, 300).to_string().into_bytes(),
        (true, _) => context
            .pick(&["-1", "abc", "", "9223372036854775807"])
            .into(),
        (false, 0..=94) => known_id(context, key),
        (false, _) => context.pick(&["-", "+", "abc", "0"]).into(),
    };
    arguments.push(threshold);
    if context.chance(if approximate == Some(true) { 35 } else { 5 }) {
        let limit = context.pick(&["0", "1", "10", "100", "1000", "-1", "abc"]);
        arguments.push(option(context, "LIMIT"));
        arguments.push(limit.into());
    }
    arguments
}

/// XADD with an ID from [`xadd_id`], sometimes NOMKSTREAM and trimming options
/// (rarely both MAXLEN and MINID, or an option twice).
pub(super) fn xadd(context: &mut Context<'_>) -> Vec<Command> {
    let key = write_key(context);
    let mut groups: Vec<Vec<Vec<u8>>> = Vec::new();
    if context.chance(8) {
        groups.push(vec![option(context, "NOMKSTREAM")]);
    }
    if context.chance(25) {
        groups.push(trim_arguments(context, &key));
    }
    if context.chance(2) {
        groups.push(trim_arguments(context, &key));
    }
    context.shuffle(&mut groups);
    let (id, added) = xadd_id(context);
    let command = Command::new("XADD")
        .key(&key)
        .args(groups.into_iter().flatten())
        .arg(id)
        .args(pairs(context));
    vec![appended(context, &key, added, command)]
}

/// Four to fifteen XADDs of fresh IDs to one stream, some with long values and some
/// trimming: streams of several nodes, where `~` trimming removes whole nodes.
pub(super) fn xadd_many(context: &mut Context<'_>) -> Vec<Command> {
    let key = STREAMS.any(context);
    let long_values = context.chance(50);
    let count = context.between(4, 15);
    let mut commands = Vec::new();
    for _ in 0..count {
        let (milliseconds, sequence) = fresh_id(context);
        let mut command = Command::new("XADD").key(&key);
        if context.chance(10) {
            command = command.args(trim_arguments(context, &key));
        }
        let value = if long_values {
            vec![b'x'; usize::try_from(context.between(50, 300)).unwrap_or(50)]
        } else {
            context.between(0, 1000).to_string().into_bytes()
        };
        let id = id_text(milliseconds, sequence);
        command = command.arg(&id).arg("f").arg(value);
        commands.push(appended(context, &key, Some(id), command));
    }
    commands
}

/// IDs at the edges of what XADD accepts: one ID twice, `ms-*` twice with the same
/// `ms` (then a smaller sequence), `0-*` and `0-0`, an old ID, a partial ID equal to
/// the top's milliseconds.
pub(super) fn xadd_edge_ids(context: &mut Context<'_>) -> Vec<Command> {
    let key = STREAMS.any(context);
    // `id` as sent, and the ID the entry gets when that is known.
    let add = |context: &mut Context<'_>, id: Vec<u8>, added: Option<Vec<u8>>| {
        let command = Command::new("XADD")
            .key(&key)
            .arg(id)
            .arg("f")
            .arg(values::value(context));
        appended(context, &key, added, command)
    };
    match context.rng.below(5) {
        0 => {
            let (milliseconds, sequence) = fresh_id(context);
            let id = id_text(milliseconds, sequence);
            vec![
                add(context, id.clone(), Some(id.clone())),
                add(context, id, None),
            ]
        }
        1 => {
            let milliseconds = fresh_milliseconds(context);
            let star = format!("{milliseconds}-*").into_bytes();
            vec![
                add(context, star.clone(), Some(id_text(milliseconds, 0))),
                add(context, star, Some(id_text(milliseconds, 1))),
                add(context, id_text(milliseconds, 0), None),
                add(context, milliseconds.to_string().into_bytes(), None),
            ]
        }
        2 => {
            let id = context.pick(&["0-*", "0-0", "0", "0-1", "0-2"]).into();
            vec![add(context, id, None)]
        }
        3 => {
            let id = old_id(context);
            vec![add(context, id, None)]
        }
        _ => {
            let milliseconds = context.model.stream_clock().to_string().into_bytes();
            vec![add(context, milliseconds, None)]
        }
    }
}

/// `XADD` with `*` (the ID comes from each server's clock) on [`AUTO_KEY`],
/// compared by shape, then DEL of the key; or `ms-*` and `ms` with today's time on
/// it (explicit, so exact); or NOMKSTREAM `*` on it while it does not exist (nil).
pub(super) fn xadd_auto(context: &mut Context<'_>) -> Vec<Command> {
    let delete = Command::new("DEL").key(AUTO_KEY);
    match context.rng.below(3) {
        0 => {
            let mut add = Command::new("XADD").key(AUTO_KEY);
            if context.chance(30) {
                add = add.args(trim_arguments(context, AUTO_KEY));
            }
            let add = add
                .arg("*")
                .args(pairs(context))
                .compared(Comparison::StreamId);
            let mut commands = vec![add];
            if context.chance(50) {
                // Smaller than any clock-made ID: an error on both servers.
                commands.push(
                    Command::new("XADD")
                        .key(AUTO_KEY)
                        .arg("1-1")
                        .arg("f")
                        .arg("v"),
                );
            }
            commands.push(delete);
            commands
        }
        1 => {
            let now = context.now_unix_ms.to_string();
            let add = |id: String| Command::new("XADD").key(AUTO_KEY).arg(id).arg("f").arg("v");
            vec![
                add(format!("{now}-*")),
                add(format!("{now}-*")),
                add(now.clone()),
                Command::new("XRANGE").key(AUTO_KEY).arg("-").arg("+"),
                delete,
            ]
        }
        _ => {
            let add = Command::new("XADD")
                .key(AUTO_KEY)
                .arg(option(context, "NOMKSTREAM"))
                .arg("*")
                .arg("f")
                .arg("v")
                .compared(Comparison::StreamId);
            vec![add, Command::new("XLEN").key(AUTO_KEY), delete]
        }
    }
}

/// A stream given the largest ID (by XADD, or by XSETID after an entry), then what
/// can no longer be added to it (`*`, `ms-*`, a smaller ID) and reads at the top
/// of the ID space; the key is deleted at the end.
pub(super) fn largest_id(context: &mut Context<'_>) -> Vec<Command> {
    let key = STREAMS.any(context);
    let mut commands = Vec::new();
    if context.chance(60) {
        let id = context.pick(&[
            MAX_ID,
            "18446744073709551615-*",
            "18446744073709551615-18446744073709551614",
        ]);
        commands.push(Command::new("XADD").key(&key).arg(id).arg("f").arg("v"));
        if id != MAX_ID {
            commands.push(
                Command::new("XADD")
                    .key(&key)
                    .arg("18446744073709551615-*")
                    .arg("f")
                    .arg("w"),
            );
        }
    } else {
        let (milliseconds, sequence) = fresh_id(context);
        commands.push(
            Command::new("XADD")
                .key(&key)
                .arg(id_text(milliseconds, sequence))
                .arg("f")
                .arg("v"),
        );
        commands.push(Command::new("XSETID").key(&key).arg(MAX_ID));
    }
    let follow_ups = context.between(1, 3);
    for _ in 0..follow_ups {
        let follow_up = match context.rng.below(8) {
            0 => Command::new("XADD")
                .key(&key)
                .arg("*")
                .arg("f")
                .arg("v")
                .compared(Comparison::StreamId),
            1 => Command::new("XADD")
                .key(&key)
                .arg("18446744073709551615-*")
                .arg("f")
                .arg("v"),
            2 => Command::new("XADD")
                .key(&key)
                .arg(old_id(context))
                .arg("f")
                .arg("v"),
            3 => Command::new("XRANGE")
                .key(&key)
                .arg("(18446744073709551615-18446744073709551613")
                .arg("+"),
            4 => Command::new("XREAD")
                .arg("STREAMS")
                .key(&key)
                .arg("18446744073709551615-18446744073709551614"),
            5 => Command::new("XINFO")
                .arg("STREAM")
                .key(&key)
                .compared(Comparison::StreamInfo)
                .counted_as("XINFO STREAM"),
            6 => Command::new("XSETID")
                .key(&key)
                .arg(MAX_ID)
                .arg("ENTRIESADDED")
                .arg("5"),
            _ => Command::new("XREVRANGE")
                .key(&key)
                .arg("+")
                .arg(MAX_PART)
                .arg("COUNT")
                .arg("1"),
        };
        commands.push(follow_up);
    }
    context.model.removed(&key);
    commands.push(Command::new("DEL").key(&key));
    commands
}

/// XLEN of a stream key, a shared key or another family's key.
pub(super) fn xlen(context: &mut Context<'_>) -> Vec<Command> {
    vec![Command::new("XLEN").key(read_key(context))]
}

/// XRANGE or XREVRANGE (ends swapped) of two interval ends, sometimes with COUNT
/// (or a broken COUNT clause).
fn range(context: &mut Context<'_>, name: &str) -> Vec<Command> {
    let key = read_key(context);
    let start = range_end(context, &key, true);
    let end = range_end(context, &key, false);
    let (first, second) = if name == "XREVRANGE" {
        (end, start)
    } else {
        (start, end)
    };
    let mut command = Command::new(name).key(key).arg(first).arg(second);
    match context.rng.below(100) {
        0..=39 => command = command.arg(option(context, "COUNT")).arg(count(context)),
        40..=42 => command = command.arg(option(context, "COUNT")),
        43 => command = command.arg(option(context, "FOO")),
        _ => {}
    }
    vec![command]
}

/// XRANGE from a start to an end ([`range`]).
pub(super) fn xrange(context: &mut Context<'_>) -> Vec<Command> {
    range(context, "XRANGE")
}

/// XREVRANGE from an end down to a start ([`range`]).
pub(super) fn xrevrange(context: &mut Context<'_>) -> Vec<Command> {
    range(context, "XREVRANGE")
}

/// XDEL of one to four IDs (recent ones hit entries).
pub(super) fn xdel(context: &mut Context<'_>) -> Vec<Command> {
    let key = read_key(context);
    let count = context.between(1, 4);
    let ids: Vec<Vec<u8>> = (0..count).map(|_| some_id(context, &key)).collect();
    vec![Command::new("XDEL").key(key).args(ids)]
}

/// XTRIM with the trimming options, rarely a broken or conflicting set.
pub(super) fn xtrim(context: &mut Context<'_>) -> Vec<Command> {
    let key = read_key(context);
    if context.chance(1) {
        return vec![Command::new("XTRIM")
            .key(key)
            .arg(option(context, "FOO"))
            .arg("1")];
    }
    let trim = trim_arguments(context, &key);
    let mut command = Command::new("XTRIM").key(&key).args(trim);
    match context.rng.below(100) {
        0..=2 => command = command.args(trim_arguments(context, &key)),
        3 | 4 => command = command.arg("1"),
        _ => {}
    }
    vec![command]
}

/// A BLOCK timeout: 1 or 10 ms (deterministic with nothing sent meanwhile), or one
/// Redis rejects. Never 0 (forever) nor one so large that adding the clock overflows.
pub(super) fn block_timeout(context: &mut Context<'_>) -> Vec<u8> {
    if context.chance(92) {
        context.pick(&["1", "10"]).into()
    } else {
        context
            .pick(&["-1", "abc", "1.5", "", "-9223372036854775808"])
            .into()
    }
}

/// `STREAMS key... id...`, usually balanced, rarely with an ID missing.
pub(super) fn streams_clause(
    context: &mut Context<'_>,
    command: Command,
    keys: &[Vec<u8>],
    id: fn(&mut Context<'_>, &[u8]) -> Vec<u8>,
) -> Command {
    let mut ids: Vec<Vec<u8>> = keys.iter().map(|key| id(context, key)).collect();
    if context.chance(3) {
        ids.pop();
    }
    let command = command.arg(option(context, "STREAMS"));
    collections::with_keys(command, keys).args(ids)
}

/// XREAD of one to three streams (all tagged, on one shard, or any), with COUNT
/// and BLOCK sometimes; rarely an option twice or an unknown one.
pub(super) fn xread(context: &mut Context<'_>) -> Vec<Command> {
    let keys = collections::key_group(context, STREAMS, 1, 3, collections::read_key);
    let mut groups: Vec<Vec<Vec<u8>>> = Vec::new();
    if context.chance(45) {
        groups.push(vec![option(context, "COUNT"), count(context)]);
    }
    if context.chance(25) {
        groups.push(vec![option(context, "BLOCK"), block_timeout(context)]);
    }
    if context.chance(3) {
        groups.push(vec![option(context, "COUNT"), b"1".to_vec()]);
    }
    if context.chance(2) {
        groups.push(vec![option(context, "FOO")]);
    }
    context.shuffle(&mut groups);
    let command = Command::new("XREAD").args(groups.into_iter().flatten());
    vec![streams_clause(context, command, &keys, xread_id)]
}

/// XSETID to a fresh ID (accepted), an old one (smaller than the top item), or an
/// invalid one, with ENTRIESADDED and MAXDELETEDID sometimes (valid, smaller than
/// the length, past the last ID, negative).
pub(super) fn xsetid(context: &mut Context<'_>) -> Vec<Command> {
    let key = read_key(context);
    let (last, last_milliseconds) = match context.rng.below(100) {
        0..=54 => {
            let (milliseconds, sequence) = fresh_id(context);
            (id_text(milliseconds, sequence), milliseconds)
        }
        55..=79 => {
            let milliseconds = old_milliseconds(context);
            (id_text(milliseconds, sequence(context)), milliseconds)
        }
        80..=89 => {
            let milliseconds = fresh_milliseconds(context);
            (milliseconds.to_string().into_bytes(), milliseconds)
        }
        _ => (context.pick(&["0-0", "$", "abc", "+", ""]).into(), 0),
    };
    let mut options: Vec<Vec<Vec<u8>>> = Vec::new();
    if context.chance(35) {
        let added = match context.rng.below(10) {
            0..=3 => context.between(0, 20).to_string(),
            4..=7 => context.between(100, 1000).to_string(),
            _ => context.pick(&["-1", "abc", ""]).to_owned(),
        };
        options.push(vec![option(context, "ENTRIESADDED"), added.into_bytes()]);
    }
    if context.chance(30) {
        let deleted = match context.rng.below(10) {
            0..=5 => id_text(last_milliseconds.saturating_sub(context.rng.below(5)), 0),
            6..=7 => id_text(last_milliseconds.saturating_add(1), 0),
            8 => b"0-0".to_vec(),
            _ => b"abc".to_vec(),
        };
        options.push(vec![option(context, "MAXDELETEDID"), deleted]);
    }
    if context.chance(3) {
        options.push(vec![option(context, "FOO")]);
    }
    context.shuffle(&mut options);
    vec![Command::new("XSETID")
        .key(key)
        .arg(last)
        .args(options.into_iter().flatten())]
}
