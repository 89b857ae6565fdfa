//! The streams family: XADD XLEN XRANGE XREVRANGE XDEL XTRIM XREAD XGROUP
//! (CREATE, SETID, DESTROY, CREATECONSUMER, DELCONSUMER) XREADGROUP XACK XPENDING
//! XCLAIM XAUTOCLAIM XINFO (STREAM [FULL [COUNT n]], GROUPS, CONSUMERS) XSETID,
//! unknown subcommands and HELP with a wrong arity, plus other families' reads of
//! stream keys and keyspace commands (TYPE, OBJECT ENCODING, RENAME, COPY, EXPIRE,
//! DEL) on them.
//!
//! # Deterministic IDs
//!
//! The two servers run each command at a slightly different millisecond, so an ID
//! made from the clock (`*`) would make everything after it diverge. Every ID here is
//! explicit, drawn from the model's stream clock ([`Model::stream_clock`]): a *fresh*
//! ID has a millisecond part past it, so it is greater than the top item of every
//! stream and XADD succeeds with it; an *old* one is below it, so XADD fails on a
//! stream that has grown past it and succeeds on one that has not (both are Redis's
//! rules, the same on both servers). Sequences also send an ID twice, `ms-*` twice
//! with one `ms`, partial IDs, `0-0`, the largest ID (on a key deleted at the end of
//! the recipe, since nothing can be added after it) and invalid ones. `*` itself is
//! only sent to [`AUTO_KEY`], which the same recipe deletes right after, its reply
//! compared by shape (`compare` rule 12).
//!
//! # Time
//!
//! Idle times come from each server's clock: XPENDING's extended form and XINFO
//! are compared with them masked (`compare` rules 13 and 14, which also drop the
//! fields that only Redis 7.2 has). Delivery times are also set on purpose: XCLAIM
//! `IDLE` and `TIME` put entries a year or more in the past (or in the future,
//! which Redis clamps to now), and min-idle times are 0 (everything), 10^11 ms
//! (only those entries: a seed runs for minutes, not years) or past any entry's
//! idle time, so what XCLAIM, XAUTOCLAIM and XPENDING `IDLE` select is the same on
//! both servers. XREAD and XREADGROUP `BLOCK` wait 1 or 10 ms: with nothing sent
//! in between, either the data is there and the reply comes at once, or nothing
//! comes and both time out to nil.
//!
//! # Keys
//!
//! Streams live in [`STREAMS`] (plain keys, possibly on different shards, and two
//! sharing a hash tag, so that XREAD and XREADGROUP of several keys run on one shard
//! or on several); commands that may create a stream also use the shared keys, and
//! commands that cannot create one also read other families' keys (WRONGTYPE, or a
//! missing key). The size bound of a stream counts its entries; a stream whose
//! bound would pass [`STREAM_BOUND`] is deleted instead of grown.
//!
//! # Redis 7.0 and 7.2
//!
//! The oracle is 7.0, Peregrine follows 7.2. Besides the XINFO fields `compare`
//! rule 14 drops, the two differ in when a consumer comes into being: 7.0 creates it
//! when XREADGROUP delivers, or XCLAIM or XAUTOCLAIM claims, an entry to it; 7.2
//! whenever one of them names it in an existing group. Every XREADGROUP, XCLAIM and
//! XAUTOCLAIM here is therefore preceded by XGROUP CREATECONSUMER of its consumer
//! ([`groups::with_consumer`]), so both versions have the same consumers.
//!
//! # Crash-restart mode
//!
//! Nothing here outlives a recipe that a restart could lose ([`AUTO_KEY`] and the
//! largest ID are deleted in their recipe; no configuration is changed). Redis's own
//! append-only file does not replay streams exactly, though: it does not record the
//! delivery count a history read (XREADGROUP with an ID) adds, and it replays
//! deliveries as XCLAIM ... LASTID, which leaves `entries-read` unknown. So the
//! kill -9 self-check with redis-server as the candidate leaves this family out,
//! like the HyperLogLog family; Peregrine, which logs results, is held to the exact
//! state.
//!
//! [`Model::stream_clock`]: super::model::Model::stream_clock

mod entries;
mod groups;
mod ids;
#[cfg(test)]
mod tests;

use super::collections::{self, Pool};
use super::values::{self, option};
use super::{Command, Context, Recipe};
use crate::compare::Comparison;
use entries::{
    largest_id, xadd, xadd_auto, xadd_edge_ids, xadd_many, xdel, xlen, xrange, xread, xrevrange,
    xsetid, xtrim,
};
pub use groups::fails_subcommand_lookup;
use groups::{
    consumer_round, with_consumer, xack, xautoclaim, xclaim, xgroup_command, xgroup_consumer,
    xgroup_create, xgroup_destroy, xgroup_misuse, xgroup_setid, xinfo, xpending, xreadgroup,
};
use ids::old_id;

/// Stream keys.
pub const STREAMS: Pool = Pool {
    plain: &[b"st0", b"st1", b"st2"],
    tagged: &[b"{st}a", b"{st}b"],
};

/// The key `XADD *` writes to; the recipe that writes it deletes it next.
pub const AUTO_KEY: &[u8] = b"{st}auto";

/// Largest size bound a stream may reach; an XADD that could pass it is replaced
/// by DEL of its key.
pub const STREAM_BOUND: usize = 400;

/// A min-idle time (or XPENDING `IDLE`) that only entries put in the past by
/// XCLAIM `IDLE` / `TIME` reach: 10^11 ms, about three years.
const LONG_IDLE: &str = "100000000000";

/// The streams family's recipes.
#[rustfmt::skip]
pub const RECIPES: &[Recipe] = &[
    Recipe { weight: 7,  build: xadd },
    Recipe { weight: 1,  build: xadd_many },
    Recipe { weight: 4,  build: xadd_edge_ids },
    Recipe { weight: 1,  build: xadd_auto },
    Recipe { weight: 1,  build: largest_id },
    Recipe { weight: 3,  build: xlen },
    Recipe { weight: 5,  build: xrange },
    Recipe { weight: 3,  build: xrevrange },
    Recipe { weight: 3,  build: xdel },
    Recipe { weight: 3,  build: xtrim },
    Recipe { weight: 6,  build: xread },
    Recipe { weight: 4,  build: xgroup_create },
    Recipe { weight: 2,  build: xgroup_setid },
    Recipe { weight: 1,  build: xgroup_destroy },
    Recipe { weight: 2,  build: xgroup_consumer },
    Recipe { weight: 1,  build: xgroup_misuse },
    Recipe { weight: 5,  build: xreadgroup },
    Recipe { weight: 3,  build: xack },
    Recipe { weight: 4,  build: xpending },
    Recipe { weight: 3,  build: xclaim },
    Recipe { weight: 2,  build: xautoclaim },
    Recipe { weight: 5,  build: xinfo },
    Recipe { weight: 3,  build: xsetid },
    Recipe { weight: 5,  build: consumer_round },
    Recipe { weight: 2,  build: wrong_type },
    Recipe { weight: 2,  build: keyspace },
    Recipe { weight: 1,  build: wrong_arity },
];

/// Field names of entries (none of them a name `compare` rule 14 drops).
const FIELDS: &[&[u8]] = &[
    b"f",
    b"g",
    b"name",
    b"temperature",
    b"",
    b"a b",
    b"\x00\xff",
    b"field-with-a-longer-name",
];

/// Consumer group names ([`group`] draws `g1` most often).
const GROUPS: &[&[u8]] = &[b"g1", b"g2", b"g3"];

/// Group names that are legal but odd: empty, another case, binary.
const ODD_GROUPS: &[&[u8]] = &[b"", b"G1", b"grp \x00\xff"];

/// Consumer names.
const CONSUMERS: &[&[u8]] = &[b"c1", b"c2", b"c3"];

/// Consumer names that are legal but odd: empty, another case, CRLF inside.
const ODD_CONSUMERS: &[&[u8]] = &[b"", b"C1", b"c\r\n1"];

/// Counts for COUNT options: small, zero, negative, huge, not integers.
fn count(context: &mut Context<'_>) -> Vec<u8> {
    const ODD: &[&str] = &[
        "0",
        "-1",
        "abc",
        "",
        "1.5",
        "9223372036854775807",
        "-9223372036854775808",
    ];
    match context.rng.below(100) {
        0..=69 => context.between(1, 5).to_string().into_bytes(),
        70..=84 => context.pick(&["10", "100", "1000"]).into(),
        _ => context.pick(ODD).into(),
    }
}

/// A group name: `g1` most often, then `g2`, `g3`, or an odd one, so that most
/// group commands find their group.
fn group(context: &mut Context<'_>) -> Vec<u8> {
    match context.rng.below(100) {
        0..=64 => b"g1".to_vec(),
        65..=88 => b"g2".to_vec(),
        89..=94 => b"g3".to_vec(),
        _ => context.pick(ODD_GROUPS).to_vec(),
    }
}

/// A consumer name: one of three most of the time, an odd one otherwise.
fn consumer(context: &mut Context<'_>) -> Vec<u8> {
    if context.chance(94) {
        context.pick(CONSUMERS).to_vec()
    } else {
        context.pick(ODD_CONSUMERS).to_vec()
    }
}

/// Field-value pairs: one to three (sometimes more, sometimes a field without a
/// value, which XADD's arity or parser rejects), values from the shared pool, now
/// and then a long one so that nodes fill by bytes.
fn pairs(context: &mut Context<'_>) -> Vec<Vec<u8>> {
    let count = if context.chance(90) {
        context.between(1, 3)
    } else {
        context.between(4, 8)
    };
    let mut pairs = Vec::new();
    for _ in 0..count {
        pairs.push(context.pick(FIELDS).to_vec());
        let value = if context.chance(6) {
            let length = usize::try_from(context.between(100, 400)).unwrap_or(100);
            vec![b'v'; length]
        } else {
            values::value(context)
        };
        pairs.push(value);
    }
    if context.chance(3) {
        pairs.pop();
    }
    pairs
}

/// A key a command may create a stream in.
fn write_key(context: &mut Context<'_>) -> Vec<u8> {
    collections::write_key(context, STREAMS)
}

/// A key a command that never creates a stream reads or changes.
fn read_key(context: &mut Context<'_>) -> Vec<u8> {
    collections::read_key(context, STREAMS)
}

/// A key for a consumer-group command: a stream key most of the time (where groups
/// are), otherwise any key [`read_key`] gives.
fn group_key(context: &mut Context<'_>) -> Vec<u8> {
    if context.chance(85) {
        STREAMS.any(context)
    } else {
        read_key(context)
    }
}

/// `command`, an XADD of one entry to `key` whose ID is `id` when known; or, when
/// that could grow the stream past [`STREAM_BOUND`], DEL of the key instead.
fn appended(
    context: &mut Context<'_>,
    key: &[u8],
    id: Option<Vec<u8>>,
    command: Command,
) -> Command {
    if context.model.bound(key).saturating_add(1) > STREAM_BOUND {
        context.model.removed(key);
        return Command::new("DEL").key(key);
    }
    context.model.may_grow(key, 1);
    if let Some(id) = id {
        context.model.may_add_stream_id(key, &id);
    }
    command
}

/// A stream command on another family's key (or a shared key of any type), or
/// another family's read on a stream key: WRONGTYPE, or the answer for a missing key.
/// Nothing here can create a key.
fn wrong_type(context: &mut Context<'_>) -> Vec<Command> {
    if context.chance(55) {
        let key = if context.chance(70) {
            collections::foreign_key(context, STREAMS)
        } else {
            values::key(context)
        };
        let command = match context.rng.below(10) {
            0 => Command::new("XLEN").key(key),
            1 => Command::new("XRANGE").key(key).arg("-").arg("+"),
            2 => Command::new("XREAD").arg("STREAMS").key(key).arg("0"),
            3 => Command::new("XADD")
                .key(key)
                .arg("NOMKSTREAM")
                .arg(old_id(context))
                .arg("f")
                .arg("v"),
            4 => xgroup_command(context, "CREATE", "XGROUP CREATE")
                .key(key)
                .arg("g1")
                .arg("0"),
            5 => {
                // A shared key may hold a stream with that group.
                let read = Command::new("XREADGROUP")
                    .arg("GROUP")
                    .arg("g1")
                    .arg("c1")
                    .arg("STREAMS")
                    .key(&key)
                    .arg(">");
                return with_consumer(context, &[key], b"g1", b"c1", read);
            }
            6 => Command::new("XINFO")
                .arg("STREAM")
                .key(key)
                .compared(Comparison::StreamInfo)
                .counted_as("XINFO STREAM"),
            7 => Command::new("XPENDING").key(key).arg("g1"),
            8 => Command::new("XTRIM").key(key).arg("MAXLEN").arg("0"),
            _ => Command::new("XSETID").key(key).arg("1-1"),
        };
        return vec![command];
    }
    let key = STREAMS.any(context);
    let command = match context.rng.below(10) {
        0 => Command::new("GET").key(key),
        1 => Command::new("STRLEN").key(key),
        2 => Command::new("LLEN").key(key),
        3 => Command::new("LRANGE").key(key).arg("0").arg("-1"),
        4 => Command::new("HGET").key(key).arg("f"),
        5 => Command::new("SCARD").key(key),
        6 => Command::new("ZCARD").key(key),
        7 => Command::new("PFCOUNT").key(key),
        8 => Command::new("GETRANGE").key(key).arg("0").arg("5"),
        _ => Command::new("SORT").key(key),
    };
    vec![command]
}

/// The keyspace commands on a stream key: TYPE, OBJECT ENCODING, EXISTS, EXPIRE,
/// TTL, PERSIST, RENAME or DEL ([`collections::keyspace`]), or COPY to another
/// stream key (groups, consumers and pending entries go along).
fn keyspace(context: &mut Context<'_>) -> Vec<Command> {
    if context.chance(80) {
        return collections::keyspace(context, STREAMS);
    }
    let source = STREAMS.any(context);
    let destination = STREAMS.any(context);
    context.model.may_copy(&source, &destination, None);
    let mut command = Command::new("COPY").key(&source).key(&destination);
    if context.chance(50) {
        command = command.arg(option(context, "REPLACE"));
    }
    let read_back = Command::new("XINFO")
        .arg("STREAM")
        .key(&destination)
        .arg("FULL")
        .compared(Comparison::StreamInfo)
        .counted_as("XINFO STREAM");
    vec![command, read_back]
}

/// Stream commands and argument counts (after the name) their arity rejects.
const WRONG_ARITY: &[(&str, i64)] = &[
    ("XADD", 0),
    ("XADD", 2),
    ("XADD", 3),
    ("XLEN", 0),
    ("XLEN", 2),
    ("XRANGE", 2),
    ("XREVRANGE", 1),
    ("XDEL", 1),
    ("XTRIM", 2),
    ("XREAD", 2),
    ("XREADGROUP", 5),
    ("XACK", 2),
    ("XPENDING", 1),
    ("XCLAIM", 4),
    ("XAUTOCLAIM", 4),
    ("XSETID", 1),
    ("XINFO", 0),
    ("XGROUP", 0),
];

/// One stream command from [`WRONG_ARITY`] with an argument count its arity rejects.
fn wrong_arity(context: &mut Context<'_>) -> Vec<Command> {
    collections::wrong_arity(context, STREAMS, WRONG_ARITY)
}
