//! Recipes on consumer groups: XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM,
//! XAUTOCLAIM, XINFO, and short rounds of them on one stream; and which XGROUP and
//! XINFO calls Redis rejects by subcommand lookup.

use super::entries::{block_timeout, streams_clause};
use super::ids::{
    fresh_id, group_id, id_text, known_id, range_end, some_id, xreadgroup_id, MAX_ID,
};
use super::{
    appended, consumer, count, group, group_key, write_key, CONSUMERS, GROUPS, LONG_IDLE, STREAMS,
};
use crate::compare::Comparison;
use crate::generate::collections;
use crate::generate::values::{self, option};
use crate::generate::{Command, Context};

/// An ENTRIESREAD value: small, -1 (unknown), past the stream's length, huge, or
/// invalid. Huge stays a few million below i64::MAX: a counter that later deliveries
/// carry past it wraps negative (in Redis too), which no command can set again, so no
/// snapshot can keep it (see the stream rebuild).
fn entries_read(context: &mut Context<'_>) -> Vec<u8> {
    match context.rng.below(100) {
        0..=59 => context.between(0, 10).to_string().into_bytes(),
        60..=74 => b"-1".to_vec(),
        75..=89 => context.between(11, 500).to_string().into_bytes(),
        _ => context
            .pick(&[
                "-2",
                "abc",
                "",
                "9223372036854770000",
                "9223372036854775808",
            ])
            .into(),
    }
}

/// `XGROUP <subcommand>`, counted under the subcommand.
pub(super) fn xgroup_command(
    context: &mut Context<'_>,
    subcommand: &'static str,
    label: &'static str,
) -> Command {
    Command::new("XGROUP")
        .arg(option(context, subcommand))
        .counted_as(label)
}

/// `command`, an XREADGROUP, XCLAIM or XAUTOCLAIM naming `consumer` of `group` on
/// `keys`, preceded by XGROUP CREATECONSUMER of that consumer on each key.
///
/// Redis 7.0 creates the consumer only when the command delivers or claims an
/// entry; 7.2 whenever the group exists (it looks the consumer up, creating it,
/// before looking for anything to serve, to record when it was last seen). Created
/// first, the consumer exists on both versions alike, and so do the consumer lists
/// and counts that XINFO reports.
pub(super) fn with_consumer(
    context: &mut Context<'_>,
    keys: &[Vec<u8>],
    group: &[u8],
    consumer: &[u8],
    command: Command,
) -> Vec<Command> {
    let mut commands: Vec<Command> = Vec::new();
    for key in keys {
        if commands.iter().any(|earlier| earlier.keys.contains(key)) {
            continue;
        }
        commands.push(
            xgroup_command(context, "CREATECONSUMER", "XGROUP CREATECONSUMER")
                .key(key)
                .arg(group)
                .arg(consumer),
        );
    }
    commands.push(command);
    commands
}

/// XGROUP CREATE at an ID from [`group_id`], with MKSTREAM and ENTRIESREAD sometimes.
pub(super) fn xgroup_create(context: &mut Context<'_>) -> Vec<Command> {
    let mkstream = context.chance(45);
    let key = if mkstream {
        write_key(context)
    } else {
        group_key(context)
    };
    let mut command = xgroup_command(context, "CREATE", "XGROUP CREATE")
        .key(&key)
        .arg(group(context))
        .arg(group_id(context, &key));
    let mut options: Vec<Vec<Vec<u8>>> = Vec::new();
    if mkstream {
        options.push(vec![option(context, "MKSTREAM")]);
    }
    if context.chance(15) {
        options.push(vec![option(context, "ENTRIESREAD"), entries_read(context)]);
    }
    if context.chance(3) {
        options.push(vec![option(context, "FOO")]);
    }
    context.shuffle(&mut options);
    command = command.args(options.into_iter().flatten());
    if mkstream {
        context.model.may_store(&key, 1);
    }
    vec![command]
}

/// XGROUP SETID to an ID from [`group_id`], with ENTRIESREAD sometimes (rarely
/// MKSTREAM, which SETID does not take).
pub(super) fn xgroup_setid(context: &mut Context<'_>) -> Vec<Command> {
    let key = group_key(context);
    let position = group_id(context, &key);
    let mut command = xgroup_command(context, "SETID", "XGROUP SETID")
        .key(key)
        .arg(group(context))
        .arg(position);
    if context.chance(25) {
        command = command
            .arg(option(context, "ENTRIESREAD"))
            .arg(entries_read(context));
    }
    if context.chance(4) {
        command = command.arg(option(context, "MKSTREAM"));
    }
    vec![command]
}

/// XGROUP DESTROY of any of the three groups alike (not mostly `g1`, which the
/// other group commands need).
pub(super) fn xgroup_destroy(context: &mut Context<'_>) -> Vec<Command> {
    let key = group_key(context);
    let name = context.pick(GROUPS).to_vec();
    let command = xgroup_command(context, "DESTROY", "XGROUP DESTROY")
        .key(key)
        .arg(name);
    vec![command]
}

/// XGROUP CREATECONSUMER or DELCONSUMER.
pub(super) fn xgroup_consumer(context: &mut Context<'_>) -> Vec<Command> {
    let key = group_key(context);
    let command = if context.chance(60) {
        xgroup_command(context, "CREATECONSUMER", "XGROUP CREATECONSUMER")
    } else {
        xgroup_command(context, "DELCONSUMER", "XGROUP DELCONSUMER")
    };
    vec![command.key(key).arg(group(context)).arg(consumer(context))]
}

/// XGROUP HELP with an argument too many, an unknown subcommand, or a subcommand
/// with the wrong arity. The help itself is never asked for: 7.0 ends it with
/// "Prints this help.", 7.2 with "Print this help.".
pub(super) fn xgroup_misuse(context: &mut Context<'_>) -> Vec<Command> {
    let key = STREAMS.any(context);
    let command = match context.rng.below(7) {
        0 => xgroup_command(context, "HELP", "XGROUP HELP").key(key),
        1 => xgroup_command(context, "HELP", "XGROUP HELP").arg("extra"),
        2 => Command::new("XGROUP").arg("FOO").key(key),
        3 => xgroup_command(context, "CREATE", "XGROUP CREATE")
            .key(key)
            .arg("g1"),
        4 => xgroup_command(context, "DESTROY", "XGROUP DESTROY")
            .key(key)
            .arg("g1")
            .arg("extra"),
        5 => xgroup_command(context, "CREATECONSUMER", "XGROUP CREATECONSUMER")
            .key(key)
            .arg("g1"),
        _ => xgroup_command(context, "DELCONSUMER", "XGROUP DELCONSUMER")
            .key(key)
            .arg("g1")
            .arg("c1")
            .arg("extra"),
    };
    vec![command]
}

/// XREADGROUP of one to three streams (tagged or any) for a group and consumer,
/// with COUNT, BLOCK and NOACK sometimes.
pub(super) fn xreadgroup(context: &mut Context<'_>) -> Vec<Command> {
    let most = if context.chance(70) { 1 } else { 3 };
    let keys = collections::key_group(context, STREAMS, 1, most, collections::read_key);
    let mut groups: Vec<Vec<Vec<u8>>> = Vec::new();
    if context.chance(50) {
        groups.push(vec![option(context, "COUNT"), count(context)]);
    }
    if context.chance(15) {
        groups.push(vec![option(context, "BLOCK"), block_timeout(context)]);
    }
    if context.chance(15) {
        groups.push(vec![option(context, "NOACK")]);
    }
    if context.chance(2) {
        groups.push(vec![option(context, "FOO")]);
    }
    context.shuffle(&mut groups);
    if context.chance(2) {
        let command = Command::new("XREADGROUP").args(groups.into_iter().flatten());
        return vec![streams_clause(context, command, &keys, xreadgroup_id)];
    }
    let name = group(context);
    let reader = consumer(context);
    let command = Command::new("XREADGROUP")
        .arg(option(context, "GROUP"))
        .arg(&name)
        .arg(&reader)
        .args(groups.into_iter().flatten());
    let command = streams_clause(context, command, &keys, xreadgroup_id);
    with_consumer(context, &keys, &name, &reader, command)
}

/// XACK of one to four IDs.
pub(super) fn xack(context: &mut Context<'_>) -> Vec<Command> {
    let key = group_key(context);
    let count = context.between(1, 4);
    let ids: Vec<Vec<u8>> = (0..count).map(|_| pending_id(context, &key)).collect();
    vec![Command::new("XACK").key(key).arg(group(context)).args(ids)]
}

/// An ID XACK or XCLAIM names: one XADD added to `key` lately most of the time
/// (entries group reads have delivered, so likely pending), else any [`some_id`].
fn pending_id(context: &mut Context<'_>, key: &[u8]) -> Vec<u8> {
    if context.chance(85) {
        known_id(context, key)
    } else {
        some_id(context, key)
    }
}

/// A min-idle time: 0 (every entry), [`LONG_IDLE`] (entries put years in the past),
/// more than any entry's idle time, or invalid / negative (read as 0).
fn min_idle(context: &mut Context<'_>) -> Vec<u8> {
    match context.rng.below(100) {
        0..=54 => b"0".to_vec(),
        55..=79 => LONG_IDLE.into(),
        80..=89 => context
            .pick(&["5000000000000", "9223372036854775807"])
            .into(),
        90..=95 => b"-5".to_vec(),
        _ => context.pick(&["abc", "", "1.5"]).into(),
    }
}

/// XPENDING: the summary form, or the extended one (idle times masked) with IDLE,
/// a consumer and odd counts sometimes; rarely a form it rejects.
pub(super) fn xpending(context: &mut Context<'_>) -> Vec<Command> {
    let key = group_key(context);
    let command = Command::new("XPENDING").key(&key).arg(group(context));
    if context.chance(30) {
        return vec![command];
    }
    let mut command = command;
    if context.chance(30) {
        command = command.arg(option(context, "IDLE")).arg(min_idle(context));
    }
    command = command
        .arg(range_end(context, &key, true))
        .arg(range_end(context, &key, false));
    match context.rng.below(100) {
        0..=3 => {}
        4..=5 => command = command.arg(option(context, "IDLE")).arg("5"),
        _ => {
            command = command.arg(count(context));
            if context.chance(35) {
                command = command.arg(consumer(context));
            }
        }
    }
    vec![command.compared(Comparison::PendingIdle)]
}

/// A delivery-time option of XCLAIM: IDLE (now, a second, one or two thousand
/// years... of milliseconds ago, or values Redis clamps to now) or TIME (a unix time
/// in 1970 or 2001, the future, or invalid).
fn delivery_time(context: &mut Context<'_>) -> Vec<Vec<u8>> {
    if context.chance(60) {
        let idle = context.pick(&[
            "0",
            "1000",
            "1000000000000",
            "2000000000000",
            "-5",
            "9223372036854775807",
            "abc",
        ]);
        vec![option(context, "IDLE"), idle.into()]
    } else {
        let future = context
            .now_unix_ms
            .saturating_add(1_000_000_000)
            .to_string();
        let time = match context.rng.below(6) {
            0 => "1".to_owned(),
            1 => "1000".to_owned(),
            2 => "1000000000000".to_owned(),
            3 => future,
            4 => "-1".to_owned(),
            _ => "abc".to_owned(),
        };
        vec![option(context, "TIME"), time.into_bytes()]
    }
}

/// XCLAIM of one to three IDs with a min-idle time from [`min_idle`] and any of
/// IDLE / TIME, RETRYCOUNT, FORCE, JUSTID and LASTID.
pub(super) fn xclaim(context: &mut Context<'_>) -> Vec<Command> {
    let key = group_key(context);
    let count = context.between(1, 3);
    let ids: Vec<Vec<u8>> = (0..count).map(|_| pending_id(context, &key)).collect();
    let mut options: Vec<Vec<Vec<u8>>> = Vec::new();
    if context.chance(35) {
        options.push(delivery_time(context));
    }
    if context.chance(15) {
        let retries = context.pick(&["0", "1", "5", "-1", "abc"]);
        options.push(vec![option(context, "RETRYCOUNT"), retries.into()]);
    }
    if context.chance(30) {
        // FORCE claims an entry of the stream that no one has pending, too.
        options.push(vec![option(context, "FORCE")]);
    }
    if context.chance(25) {
        options.push(vec![option(context, "JUSTID")]);
    }
    if context.chance(10) {
        let last = if context.chance(85) {
            some_id(context, &key)
        } else {
            b"abc".to_vec()
        };
        options.push(vec![option(context, "LASTID"), last]);
    }
    if context.chance(3) {
        options.push(vec![option(context, "FOO")]);
    }
    context.shuffle(&mut options);
    let name = group(context);
    let claimer = consumer(context);
    let command = Command::new("XCLAIM")
        .key(&key)
        .arg(&name)
        .arg(&claimer)
        .arg(min_idle(context))
        .args(ids)
        .args(options.into_iter().flatten());
    with_consumer(context, &[key], &name, &claimer, command)
}

/// XAUTOCLAIM from a start ID with a min-idle time from [`min_idle`], COUNT and
/// JUSTID sometimes. Never a COUNT just inside Redis's limit (2^63 / 16), which
/// allocates that many IDs.
pub(super) fn xautoclaim(context: &mut Context<'_>) -> Vec<Command> {
    let key = group_key(context);
    let start = match context.rng.below(100) {
        0..=39 => b"0".to_vec(),
        40..=49 => b"-".to_vec(),
        50..=84 => known_id(context, &key),
        85..=91 => {
            let mut exclusive = b"(".to_vec();
            exclusive.extend(known_id(context, &key));
            exclusive
        }
        _ => context.pick(&["+", "abc", "", MAX_ID]).into(),
    };
    let name = group(context);
    let claimer = consumer(context);
    let mut command = Command::new("XAUTOCLAIM")
        .key(&key)
        .arg(&name)
        .arg(&claimer)
        .arg(min_idle(context))
        .arg(start);
    let mut options: Vec<Vec<Vec<u8>>> = Vec::new();
    if context.chance(45) {
        let count = match context.rng.below(10) {
            0..=5 => context.between(1, 5).to_string(),
            6 => "100".to_owned(),
            7 => context.pick(&["0", "-1"]).to_owned(),
            8 => "576460752303423488".to_owned(),
            _ => context.pick(&["abc", "9223372036854775807"]).to_owned(),
        };
        options.push(vec![option(context, "COUNT"), count.into_bytes()]);
    }
    if context.chance(25) {
        options.push(vec![option(context, "JUSTID")]);
    }
    if context.chance(3) {
        options.push(vec![option(context, "COUNT")]);
    }
    context.shuffle(&mut options);
    command = command.args(options.into_iter().flatten());
    with_consumer(context, &[key], &name, &claimer, command)
}

/// XINFO STREAM [FULL [COUNT n]], GROUPS, CONSUMERS (clock and layout fields
/// masked), or a subcommand it rejects (HELP with an argument too many, for the
/// reason [`xgroup_misuse`] gives).
pub(super) fn xinfo(context: &mut Context<'_>) -> Vec<Command> {
    let key = group_key(context);
    let subcommand = |context: &mut Context<'_>, name: &'static str, label: &'static str| {
        Command::new("XINFO")
            .arg(option(context, name))
            .counted_as(label)
    };
    let command = match context.rng.below(100) {
        0..=29 => subcommand(context, "STREAM", "XINFO STREAM").key(key),
        30..=49 => {
            let mut command = subcommand(context, "STREAM", "XINFO STREAM")
                .key(key)
                .arg(option(context, "FULL"));
            if context.chance(50) {
                let limit = context.pick(&["0", "1", "2", "5", "-1", "abc"]);
                command = command.arg(option(context, "COUNT")).arg(limit);
            }
            command
        }
        50..=69 => subcommand(context, "GROUPS", "XINFO GROUPS").key(key),
        70..=92 => subcommand(context, "CONSUMERS", "XINFO CONSUMERS")
            .key(key)
            .arg(group(context)),
        93 => subcommand(context, "HELP", "XINFO HELP").arg("extra"),
        94 => Command::new("XINFO").arg("FOO").key(key),
        95 => subcommand(context, "STREAM", "XINFO STREAM")
            .key(key)
            .arg(context.pick(&["FOO", "COUNT"])),
        96 => subcommand(context, "STREAM", "XINFO STREAM")
            .key(key)
            .arg("FULL")
            .arg("COUNT"),
        97 => subcommand(context, "GROUPS", "XINFO GROUPS")
            .key(key)
            .arg("extra"),
        98 => subcommand(context, "CONSUMERS", "XINFO CONSUMERS").key(key),
        _ => subcommand(context, "STREAM", "XINFO STREAM"),
    };
    vec![command.compared(Comparison::StreamInfo)]
}

/// A short consumer-group round on one stream, so that groups see their entries:
/// an XADD of a known ID (else that ID is past the stream's end), XGROUP CREATE
/// (MKSTREAM), XREADGROUP `>`, then some of XPENDING, XACK or XCLAIM of that ID,
/// XAUTOCLAIM, XINFO GROUPS or CONSUMERS, or XREADGROUP of the consumer's history.
pub(super) fn consumer_round(context: &mut Context<'_>) -> Vec<Command> {
    let key = STREAMS.any(context);
    let name = context.pick(GROUPS).to_vec();
    let reader = context.pick(CONSUMERS).to_vec();
    let (milliseconds, sequence) = fresh_id(context);
    let id = id_text(milliseconds, sequence);
    let mut commands = Vec::new();
    if context.chance(60) {
        let add = Command::new("XADD")
            .key(&key)
            .arg(&id)
            .arg("f")
            .arg(values::value(context));
        commands.push(appended(context, &key, Some(id.clone()), add));
    }
    if context.chance(60) {
        let start = context.pick(&["0", "$", "0-0"]);
        commands.push(
            xgroup_command(context, "CREATE", "XGROUP CREATE")
                .key(&key)
                .arg(&name)
                .arg(start)
                .arg("MKSTREAM"),
        );
    }
    let mut read = Command::new("XREADGROUP")
        .arg("GROUP")
        .arg(&name)
        .arg(&reader);
    if context.chance(50) {
        read = read.arg("COUNT").arg(context.between(1, 3).to_string());
    }
    let read = read.arg("STREAMS").key(&key).arg(">");
    let keys = [key.clone()];
    commands.extend(with_consumer(context, &keys, &name, &reader, read));
    for _ in 0..context.between(1, 3) {
        let follow_up = match context.rng.below(10) {
            0 => Command::new("XPENDING").key(&key).arg(&name),
            1 => Command::new("XPENDING")
                .key(&key)
                .arg(&name)
                .arg("-")
                .arg("+")
                .arg("10")
                .compared(Comparison::PendingIdle),
            2 | 3 => Command::new("XACK").key(&key).arg(&name).arg(&id),
            4 => {
                let claimer = consumer(context);
                let mut claim = Command::new("XAUTOCLAIM")
                    .key(&key)
                    .arg(&name)
                    .arg(&claimer)
                    .arg(min_idle(context))
                    .arg("0");
                if context.chance(30) {
                    claim = claim.arg("JUSTID");
                }
                commands.extend(with_consumer(context, &keys, &name, &claimer, claim));
                continue;
            }
            5 => {
                let claimer = consumer(context);
                let mut claim = Command::new("XCLAIM")
                    .key(&key)
                    .arg(&name)
                    .arg(&claimer)
                    .arg(min_idle(context))
                    .arg(&id);
                if context.chance(40) {
                    claim = claim.args(delivery_time(context));
                }
                commands.extend(with_consumer(context, &keys, &name, &claimer, claim));
                continue;
            }
            6 => Command::new("XINFO")
                .arg("GROUPS")
                .key(&key)
                .compared(Comparison::StreamInfo)
                .counted_as("XINFO GROUPS"),
            7 => Command::new("XINFO")
                .arg("CONSUMERS")
                .key(&key)
                .arg(&name)
                .compared(Comparison::StreamInfo)
                .counted_as("XINFO CONSUMERS"),
            _ => Command::new("XREADGROUP")
                .arg("GROUP")
                .arg(&name)
                .arg(&reader)
                .arg("STREAMS")
                .key(&key)
                .arg("0"),
        };
        commands.push(follow_up);
    }
    commands
}

/// A container command's subcommands and their arities (Redis's: negative is a
/// minimum), which Redis checks when it queues a command in MULTI or a script
/// calls it.
const SUBCOMMANDS: &[(&str, &str, i64)] = &[
    ("XGROUP", "CREATE", -5),
    ("XGROUP", "SETID", -5),
    ("XGROUP", "DESTROY", 4),
    ("XGROUP", "CREATECONSUMER", 5),
    ("XGROUP", "DELCONSUMER", 5),
    ("XGROUP", "HELP", 2),
    ("XINFO", "STREAM", -3),
    ("XINFO", "GROUPS", 3),
    ("XINFO", "CONSUMERS", 4),
    ("XINFO", "HELP", 2),
];

/// Whether `command` is an XGROUP or XINFO whose subcommand Redis rejects by
/// lookup (unknown, or a wrong arity) before running it. Inside MULTI that error
/// comes when queuing and dooms the transaction, and a script gets Redis's generic
/// "Unknown Redis command" or "Wrong number of args" error; Peregrine checks a
/// subcommand when the handler runs, a known difference, so the transactions and
/// scripting families do not borrow such commands.
pub fn fails_subcommand_lookup(command: &Command) -> bool {
    let (Some(name), Some(subcommand)) = (command.args.first(), command.args.get(1)) else {
        return false;
    };
    let is_container = SUBCOMMANDS
        .iter()
        .any(|(container, _, _)| name.eq_ignore_ascii_case(container.as_bytes()));
    if !is_container {
        return false;
    }
    let found = SUBCOMMANDS.iter().find(|(container, sub, _)| {
        name.eq_ignore_ascii_case(container.as_bytes())
            && subcommand.eq_ignore_ascii_case(sub.as_bytes())
    });
    let Some((_, _, arity)) = found else {
        return true;
    };
    let length = i64::try_from(command.args.len()).unwrap_or(i64::MAX);
    let fits = if *arity >= 0 {
        length == *arity
    } else {
        length >= arity.saturating_neg()
    };
    !fits
}
