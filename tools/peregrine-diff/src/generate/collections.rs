//! What the four collection families (lists, hashes, sets, sorted sets) share:
//! their key pools, the size bounds that keep random replies deterministic,
//! counts, blocking timeouts, `numkeys` arguments and full `*SCAN` loops.
//!
//! # Key pools and the typing invariant
//!
//! Each family has its own small pool ([`LISTS`], [`HASHES`], [`SETS`],
//! [`SORTED_SETS`], plus [`LEX`] for sorted sets whose members all score 0):
//! three plain keys, which may live on different shards, and two keys sharing
//! a hash tag, which always live together. A command that may *create* a key
//! ([`write_key`], store destinations) picks from its own pool or from the
//! shared string keys (`values::KEYS`, which any type may hold); a command
//! that only reads or removes ([`read_key`]) also picks other families' pools.
//! So a pool key only ever holds its own family's type, and:
//!
//! - a read on another family's pool key is a WRONGTYPE error or a missing
//!   key, both deterministic, which lets random replies without a count
//!   (`SPOP key`, `HRANDFIELD key -3`) be sent there ([`foreign_key`]);
//! - a [`LEX`] key is only written by ZADD with score 0, so lexicographic
//!   ranges, which Redis leaves unspecified for mixed scores, stay defined.
//!
//! # Size bounds
//!
//! The model's bound for a key is an upper bound on its size: string length or
//! number of elements, whichever type the key holds. Commands that add
//! elements raise it ([`grown`]); only a certain removal (DEL) lowers it. A
//! count at or above the bound ([`covering_count`]) makes SPOP, SRANDMEMBER,
//! HRANDFIELD and ZRANDMEMBER return the whole collection, in an order that
//! is compared as unspecified.

use super::values::{self, option};
use super::{Command, Context};
use crate::compare::Comparison;

/// A family's keys: plain ones, and ones sharing a hash tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    /// Keys without a hash tag (possibly on different shards).
    pub plain: &'static [&'static [u8]],
    /// Keys sharing one hash tag (always on one shard).
    pub tagged: &'static [&'static [u8]],
}

/// List keys.
pub const LISTS: Pool = Pool {
    plain: &[b"l0", b"l1", b"l2"],
    tagged: &[b"{l}a", b"{l}b"],
};

/// Hash keys.
pub const HASHES: Pool = Pool {
    plain: &[b"h0", b"h1", b"h2"],
    tagged: &[b"{h}a", b"{h}b"],
};

/// Set keys. Sorted-set commands also read them (sets are valid ZUNION inputs).
pub const SETS: Pool = Pool {
    plain: &[b"s0", b"s1", b"s2"],
    tagged: &[b"{s}a", b"{s}b"],
};

/// Sorted-set keys with any scores.
pub const SORTED_SETS: Pool = Pool {
    plain: &[b"z0", b"z1", b"z2"],
    tagged: &[b"{z}a", b"{z}b"],
};

/// Sorted-set keys whose members all score 0; the tagged one shares the tag of
/// [`SORTED_SETS`]' tagged keys.
pub const LEX: Pool = Pool {
    plain: &[b"x0", b"x1"],
    tagged: &[b"{z}x"],
};

/// The four family pools ([`LEX`] belongs to sorted sets).
const FAMILY_POOLS: [Pool; 4] = [LISTS, HASHES, SETS, SORTED_SETS];

/// Largest size bound a collection may reach; a command that could grow one
/// past it is replaced by DEL of its key.
pub const MAX_COLLECTION_BOUND: usize = 1500;

/// Percentage of multi-key commands whose keys all share one hash tag.
const TAGGED_PERCENT: u64 = 45;

impl Pool {
    /// Any key of the pool.
    pub fn any(self, context: &mut Context<'_>) -> Vec<u8> {
        let total = self.plain.len().saturating_add(self.tagged.len());
        let position = context.rng.index(total);
        match self.plain.get(position) {
            Some(key) => key.to_vec(),
            None => context.pick(self.tagged).to_vec(),
        }
    }

    /// One of the tagged keys.
    pub fn tagged_key(self, context: &mut Context<'_>) -> Vec<u8> {
        context.pick(self.tagged).to_vec()
    }
}

/// A key a command may create: mostly from `pool`, sometimes a shared string
/// key (WRONGTYPE when it holds another type).
pub fn write_key(context: &mut Context<'_>, pool: Pool) -> Vec<u8> {
    if context.chance(12) {
        values::key(context)
    } else {
        pool.any(context)
    }
}

/// A key a command only reads or removes from: like [`write_key`], and
/// sometimes another family's key.
pub fn read_key(context: &mut Context<'_>, pool: Pool) -> Vec<u8> {
    if context.chance(10) {
        foreign_key(context, pool)
    } else {
        write_key(context, pool)
    }
}

/// A key of another family's pool: never of `pool`'s type.
pub fn foreign_key(context: &mut Context<'_>, pool: Pool) -> Vec<u8> {
    let others: Vec<Pool> = FAMILY_POOLS
        .iter()
        .copied()
        .filter(|other| *other != pool)
        .collect();
    let other = context.pick(&others);
    other.any(context)
}

/// `low` to `high` keys for a multi-key command: all tagged (one shard) some of
/// the time, otherwise each drawn by `draw` (any shard).
pub fn key_group(
    context: &mut Context<'_>,
    pool: Pool,
    low: i64,
    high: i64,
    draw: fn(&mut Context<'_>, Pool) -> Vec<u8>,
) -> Vec<Vec<u8>> {
    let count = context.between(low, high);
    let tagged = context.chance(TAGGED_PERCENT);
    (0..count)
        .map(|_| {
            if tagged {
                pool.tagged_key(context)
            } else {
                draw(context, pool)
            }
        })
        .collect()
}

/// A destination for a command that moves or stores into it: a tagged key
/// when the sources are tagged (so the command stays on one shard), otherwise
/// any key [`write_key`] gives.
pub fn destination_for(context: &mut Context<'_>, pool: Pool, sources: &[Vec<u8>]) -> Vec<u8> {
    let all_tagged = !sources.is_empty()
        && sources
            .iter()
            .all(|key| pool.tagged.contains(&key.as_slice()));
    if all_tagged && context.chance(85) {
        pool.tagged_key(context)
    } else {
        write_key(context, pool)
    }
}

/// `command`, which may add up to `added` elements to `key`; or, when that
/// could grow the key past [`MAX_COLLECTION_BOUND`], a DEL of the key instead.
pub fn grown(context: &mut Context<'_>, key: &[u8], added: usize, command: Command) -> Command {
    if context.model.bound(key).saturating_add(added) > MAX_COLLECTION_BOUND {
        context.model.removed(key);
        return Command::new("DEL").key(key);
    }
    context.model.may_grow(key, added);
    command
}

/// A destination may now hold up to `size` elements (a *STORE's result).
pub fn stored(context: &mut Context<'_>, destination: &[u8], size: usize) {
    context
        .model
        .may_store(destination, size.min(MAX_COLLECTION_BOUND));
}

/// The sum of the size bounds of `keys`.
pub fn bound_sum(context: &Context<'_>, keys: &[Vec<u8>]) -> usize {
    keys.iter()
        .map(|key| context.model.bound(key))
        .fold(0, usize::saturating_add)
}

/// A count at least as large as `key`'s size: its bound plus a little, or the
/// largest count Redis accepts.
pub fn covering_count(context: &mut Context<'_>, key: &[u8]) -> Vec<u8> {
    if context.chance(10) {
        return b"9223372036854775807".to_vec();
    }
    let extra = usize::try_from(context.between(0, 3)).unwrap_or(0);
    context
        .model
        .bound(key)
        .saturating_add(extra)
        .to_string()
        .into_bytes()
}

/// A count for LPOP / ZPOPMIN / LMPOP ... COUNT: small, covering the key, or invalid.
pub fn pop_count(context: &mut Context<'_>, key: &[u8]) -> Vec<u8> {
    const ODD: &[&str] = &[
        "0",
        "-1",
        "abc",
        "",
        "1.5",
        "9223372036854775807",
        "-9223372036854775808",
        "9223372036854775808",
    ];
    match context.rng.below(100) {
        0..=59 => context.between(1, 4).to_string().into_bytes(),
        60..=79 => covering_count(context, key),
        _ => context.pick(ODD).as_bytes().to_vec(),
    }
}

/// A list or rank index: small, negative, out of range, at the i64 edges, or not an integer.
pub fn index(context: &mut Context<'_>) -> Vec<u8> {
    if context.chance(75) {
        return context.between(-6, 6).to_string().into_bytes();
    }
    values::range_index(context)
}

/// The timeout of a blocking command: 10 ms (an empty source waits that long
/// on both servers, then times out), or one Redis rejects. Never a value that
/// blocks for long: `0`, `-0`, `1e-400` (rounds to 0) and `0x10` (16 s) are
/// left out on purpose.
pub fn timeout(context: &mut Context<'_>) -> Vec<u8> {
    if context.chance(90) {
        b"0.01".to_vec()
    } else {
        context.pick(INVALID_TIMEOUTS).as_bytes().to_vec()
    }
}

/// Timeouts every blocking command rejects at once.
pub const INVALID_TIMEOUTS: &[&str] = &["-1", "abc", "", "inf", "-inf", "nan", " 1", "0.01x"];

/// The `numkeys` argument for `keys`: their number, or now and then a count
/// that is zero, negative, not a number or off by one.
pub fn numkeys(context: &mut Context<'_>, keys: &[Vec<u8>]) -> Vec<u8> {
    let count = i64::try_from(keys.len()).unwrap_or(i64::MAX);
    match context.rng.below(100) {
        0..=91 => count.to_string().into_bytes(),
        92 | 93 => count.saturating_add(1).to_string().into_bytes(),
        94 | 95 => count.saturating_sub(1).to_string().into_bytes(),
        _ => {
            let odd = context.pick(&["0", "-1", "abc", "9223372036854775807"]);
            odd.as_bytes().to_vec()
        }
    }
}

/// Appends `keys` to `command` as keys.
pub fn with_keys(mut command: Command, keys: &[Vec<u8>]) -> Command {
    for key in keys {
        command = command.key(key);
    }
    command
}

/// One random-reply command of a family (SPOP, SRANDMEMBER, HRANDFIELD, ZRANDMEMBER).
#[derive(Debug, Clone, Copy)]
pub struct RandomCommand {
    /// The command name.
    pub name: &'static str,
    /// The family's pool.
    pub pool: Pool,
    /// The option that adds values or scores (WITHVALUES, WITHSCORES), if any.
    pub with: Option<&'static str>,
    /// Builds the command that adds one element to the (just deleted) `key`.
    pub add_one: fn(&mut Context<'_>, &[u8]) -> Command,
}

/// `spec`'s command in a form whose reply is deterministic: a count covering
/// the whole collection (compared as a set); a collection just reset to one
/// element (any count); a key of another family (an error or an empty reply);
/// or a count Redis rejects before looking at the key.
pub fn random_deterministic(context: &mut Context<'_>, spec: RandomCommand) -> Vec<Command> {
    let with = spec.with.filter(|_| context.chance(40));
    let add_with = |context: &mut Context<'_>, command: Command| match with {
        Some(with) => command.arg(option(context, with)),
        None => command,
    };
    match context.rng.below(100) {
        0..=44 => {
            let key = read_key(context, spec.pool);
            let count = covering_count(context, &key);
            let command = add_with(context, Command::new(spec.name).key(&key).arg(count));
            let comparison = if with.is_some() {
                Comparison::UnorderedPairs
            } else {
                Comparison::Unordered
            };
            vec![command.compared(comparison)]
        }
        45..=69 => {
            let key = spec.pool.any(context);
            context.model.removed(&key);
            context.model.may_store(&key, 1);
            let mut random = Command::new(spec.name).key(&key);
            if context.chance(65) {
                let count = context.pick(&["1", "2", "0", "-1", "-3"]);
                random = add_with(context, random.arg(count));
            }
            vec![
                Command::new("DEL").key(&key),
                (spec.add_one)(context, &key),
                random,
            ]
        }
        70..=84 => {
            let key = foreign_key(context, spec.pool);
            let mut command = Command::new(spec.name).key(key);
            if context.chance(65) {
                let count = context.pick(&["1", "-5", "5", "0"]);
                command = add_with(context, command.arg(count));
            }
            vec![command]
        }
        _ => {
            let key = read_key(context, spec.pool);
            let mut cases = vec![
                ("abc", ""),
                ("", ""),
                ("1.5", ""),
                ("-9223372036854775808", ""),
                ("9223372036854775808", ""),
                ("1", "FOO"),
            ];
            if let Some(with) = spec.with {
                cases.extend([
                    ("-9223372036854775807", with),
                    ("9223372036854775807", with),
                ]);
            }
            let (count, extra) = context.pick(&cases);
            let mut command = Command::new(spec.name).key(key).arg(count);
            if !extra.is_empty() {
                command = command.arg(extra);
            }
            vec![command]
        }
    }
}

/// HSCAN, SSCAN or ZSCAN of `key`: a full cursor loop with MATCH / COUNT,
/// compared as the set of what it returned (`pairs`: field-value or
/// member-score pairs); or one call with an invalid cursor.
pub fn scan(context: &mut Context<'_>, name: &str, key: Vec<u8>, pairs: bool) -> Command {
    if context.chance(8) {
        // Not "" or "-1": Redis reads those as cursors 0 and 2^64-1.
        let cursor = context.pick(&["abc", "1x", "-", "1.5"]);
        return Command::new(name).key(key).arg(cursor);
    }
    let mut groups: Vec<Vec<Vec<u8>>> = Vec::new();
    if context.chance(40) {
        let pattern = context.pick(&["*", "a*", "*1*", "f?", "[ab]*", "\\*", "", "*\x00*"]);
        groups.push(vec![option(context, "MATCH"), pattern.into()]);
    }
    if context.chance(40) {
        let count = if context.chance(90) {
            context.pick(&["1", "2", "5", "10", "1000"])
        } else {
            context.pick(&["0", "-1", "abc"])
        };
        groups.push(vec![option(context, "COUNT"), count.into()]);
    }
    if context.chance(3) {
        groups.push(vec![option(context, "FOO")]);
    }
    context.shuffle(&mut groups);
    let comparison = if pairs {
        Comparison::ScanPairs
    } else {
        Comparison::ScanMembers
    };
    // The cursor (index 2) is rewritten by the runner on each call.
    Command::new(name)
        .key(key)
        .arg("0")
        .args(groups.into_iter().flatten())
        .compared(comparison)
}

/// TYPE, OBJECT ENCODING, EXISTS, EXPIRE, TTL, PERSIST or DEL of a key of `pool`
/// (RENAME within the pool), so the keyspace commands also see collections.
pub fn keyspace(context: &mut Context<'_>, pool: Pool) -> Vec<Command> {
    let key = pool.any(context);
    let command = match context.rng.below(100) {
        0..=19 => Command::new("TYPE").key(key),
        20..=44 => Command::new("OBJECT")
            .arg("ENCODING")
            .key(key)
            .compared(Comparison::Encoding),
        45..=54 => Command::new("EXISTS").key(key),
        55..=64 => {
            let seconds = context.between(100, 100_000).to_string();
            Command::new("EXPIRE").key(key).arg(seconds)
        }
        65..=72 => Command::new("TTL")
            .key(key)
            .compared(Comparison::IntegerWithin(crate::compare::SECONDS_TOLERANCE)),
        73..=77 => Command::new("PERSIST").key(key),
        78..=87 => {
            let destination = pool.any(context);
            if destination != key {
                context.model.may_copy(&key, &destination, None);
                context.model.removed(&key);
            }
            Command::new("RENAME").key(key).key(destination)
        }
        _ => {
            context.model.removed(&key);
            Command::new("DEL").key(key)
        }
    };
    vec![command]
}

/// One command from `table` called with an argument count its arity rejects;
/// the first argument is a key of `pool`.
pub fn wrong_arity(context: &mut Context<'_>, pool: Pool, table: &[(&str, i64)]) -> Vec<Command> {
    let (name, count) = context.pick(table);
    let mut command = Command::new(name);
    for position in 0..count {
        command = if position == 0 {
            command.key(pool.any(context))
        } else {
            command.arg(values::value(context))
        };
    }
    vec![command]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::model::Model;
    use crate::prng::Prng;

    fn with_context<T>(test: impl FnOnce(&mut Context<'_>) -> T) -> T {
        let mut rng = Prng::new(21);
        let mut model = Model::default();
        let mut context = Context {
            rng: &mut rng,
            model: &mut model,
            now_unix_ms: 1_700_000_000_000,
        };
        test(&mut context)
    }

    #[test]
    fn writes_stay_in_the_pool_or_the_shared_keys() {
        with_context(|context| {
            for _ in 0..2000 {
                let key = write_key(context, LISTS);
                let in_pool =
                    LISTS.plain.contains(&key.as_slice()) || LISTS.tagged.contains(&key.as_slice());
                assert!(in_pool || values::KEYS.contains(&key.as_slice()));
            }
        });
    }

    #[test]
    fn foreign_keys_are_never_of_the_pool() {
        with_context(|context| {
            for _ in 0..2000 {
                let key = foreign_key(context, SETS);
                assert!(!SETS.plain.contains(&key.as_slice()));
                assert!(!SETS.tagged.contains(&key.as_slice()));
                assert!(!values::KEYS.contains(&key.as_slice()));
            }
        });
    }

    #[test]
    fn growth_is_bounded_and_counts_cover_the_bound() {
        with_context(|context| {
            for _ in 0..100 {
                let command = grown(context, b"l0", 100, Command::new("RPUSH").key("l0"));
                assert!(context.model.bound(b"l0") <= MAX_COLLECTION_BOUND);
                assert!(command.name() == "RPUSH" || command.name() == "DEL");
            }
            context.model.may_store(b"s0", 40);
            for _ in 0..100 {
                let count = covering_count(context, b"s0");
                let count: u64 = String::from_utf8_lossy(&count).parse().unwrap_or(0);
                assert!(count >= 40);
            }
        });
    }

    #[test]
    fn tagged_groups_share_one_tag() {
        with_context(|context| {
            let mut saw_tagged = false;
            for _ in 0..200 {
                let keys = key_group(context, SORTED_SETS, 2, 3, read_key);
                if keys.iter().all(|key| key.starts_with(b"{z}")) {
                    saw_tagged = true;
                    let destination = destination_for(context, SORTED_SETS, &keys);
                    assert!(!destination.is_empty());
                }
            }
            assert!(saw_tagged);
        });
    }
}
