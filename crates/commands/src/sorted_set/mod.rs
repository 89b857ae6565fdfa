//! Sorted sets: ZADD ZINCRBY ZREM ZCARD ZSCORE ZMSCORE ZRANK ZREVRANK ZCOUNT ZLEXCOUNT
//! ZRANDMEMBER ZSCAN here; the range commands (ZRANGE, ZRANGESTORE, ZREVRANGE,
//! ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZRANGEBYLEX, ZREVRANGEBYLEX, ZREMRANGEBYRANK,
//! ZREMRANGEBYSCORE, ZREMRANGEBYLEX) in [`range`]; the pops (ZPOPMIN, ZPOPMAX, ZMPOP,
//! BZPOPMIN, BZPOPMAX, BZMPOP) in [`pop`]; the set algebra (ZUNION, ZUNIONSTORE, ZINTER,
//! ZINTERSTORE, ZINTERCARD, ZDIFF, ZDIFFSTORE) in [`store`].
//!
//! Replies follow Redis 7.2: scores are doubles (RESP3 `,`; RESP2 bulk `%.17g`), and
//! WITHSCORES lists are pairs (nested arrays in RESP3, flat in RESP2). ZRANK/ZREVRANK take
//! 7.2's WITHSCORE option.

mod pop;
mod range;
mod store;

pub use range::{range_selection, RangeSelection};
pub use store::{algebra_options, weigh, Aggregate, AlgebraOptions};
#[cfg(test)]
mod tests;

use crate::args::{is_keyword, parse_integer};
use crate::spec::{keyed, scratch, Arity::*, CommandSpec, Flag::*, Group, KeySpec};
use crate::{ArgReader, CmdResult, CommandError, EventClass, ShardCtx};
use bytes::Bytes;
use peregrine_keyspace::collections::sorted_set::{LexBound, ScoreBound};
use peregrine_keyspace::collections::SortedSet;
use peregrine_keyspace::glob_match;
use peregrine_resp::{format_double, Reply};

/// Several keys that may live on different shards: run atomically on a scratch copy.
/// `destination numkeys key ...` (ZUNIONSTORE, ZINTERSTORE, ZDIFFSTORE).
fn destination_and_counted_keys(argv: &[Bytes]) -> Vec<usize> {
    crate::numkeys_positions(argv, &[1], 2)
}

/// `numkeys key ...` (ZUNION, ZINTER, ZDIFF, ZINTERCARD, ZMPOP).
fn counted_keys(argv: &[Bytes]) -> Vec<usize> {
    crate::numkeys_positions(argv, &[], 1)
}

/// `timeout numkeys key ...` (BZMPOP).
fn counted_keys_after_timeout(argv: &[Bytes]) -> Vec<usize> {
    crate::numkeys_positions(argv, &[], 2)
}

const STORE_KEYS: KeySpec = KeySpec::movable(1, 1, 1, destination_and_counted_keys);
const COUNTED_KEYS: KeySpec = KeySpec::movable(0, 0, 0, counted_keys);
const BZMPOP_KEYS: KeySpec = KeySpec::movable(0, 0, 0, counted_keys_after_timeout);
const G: Group = Group::SortedSet;

/// The sorted-set family's table.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec { name: "zadd",             arity: AtLeast(4), flags: &[Write, DenyOom, Fast], keys: KeySpec::FIRST, exec: keyed(zadd), group: G, summary: "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist." },
    CommandSpec { name: "zincrby",          arity: Exactly(4), flags: &[Write, DenyOom, Fast], keys: KeySpec::FIRST, exec: keyed(zincrby), group: G, summary: "Increments the score of a member in a sorted set." },
    CommandSpec { name: "zrem",             arity: AtLeast(3), flags: &[Write, Fast], keys: KeySpec::FIRST, exec: keyed(zrem), group: G, summary: "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed." },
    CommandSpec { name: "zcard",            arity: Exactly(2), flags: &[ReadOnly, Fast], keys: KeySpec::FIRST, exec: keyed(zcard), group: G, summary: "Returns the number of members in a sorted set." },
    CommandSpec { name: "zscore",           arity: Exactly(3), flags: &[ReadOnly, Fast], keys: KeySpec::FIRST, exec: keyed(zscore), group: G, summary: "Returns the score of a member in a sorted set." },
    CommandSpec { name: "zmscore",          arity: AtLeast(3), flags: &[ReadOnly, Fast], keys: KeySpec::FIRST, exec: keyed(zmscore), group: G, summary: "Returns the score of one or more members in a sorted set." },
    CommandSpec { name: "zrank",            arity: AtLeast(3), flags: &[ReadOnly, Fast], keys: KeySpec::FIRST, exec: keyed(zrank), group: G, summary: "Returns the index of a member in a sorted set ordered by ascending scores." },
    CommandSpec { name: "zrevrank",         arity: AtLeast(3), flags: &[ReadOnly, Fast], keys: KeySpec::FIRST, exec: keyed(zrevrank), group: G, summary: "Returns the index of a member in a sorted set ordered by descending scores." },
    CommandSpec { name: "zcount",           arity: Exactly(4), flags: &[ReadOnly, Fast], keys: KeySpec::FIRST, exec: keyed(zcount), group: G, summary: "Returns the count of members in a sorted set that have scores within a range." },
    CommandSpec { name: "zlexcount",        arity: Exactly(4), flags: &[ReadOnly, Fast], keys: KeySpec::FIRST, exec: keyed(zlexcount), group: G, summary: "Returns the number of members in a sorted set within a lexicographical range." },
    CommandSpec { name: "zrange",           arity: AtLeast(4), flags: &[ReadOnly], keys: KeySpec::FIRST, exec: keyed(range::zrange), group: G, summary: "Returns members in a sorted set within a range of indexes." },
    CommandSpec { name: "zrangestore",      arity: AtLeast(5), flags: &[Write, DenyOom], keys: KeySpec::FIRST_TWO, exec: scratch(range::zrangestore), group: G, summary: "Stores a range of members from sorted set in a key." },
    CommandSpec { name: "zrevrange",        arity: AtLeast(4), flags: &[ReadOnly], keys: KeySpec::FIRST, exec: keyed(range::zrevrange), group: G, summary: "Returns members in a sorted set within a range of indexes in reverse order." },
    CommandSpec { name: "zrangebyscore",    arity: AtLeast(4), flags: &[ReadOnly], keys: KeySpec::FIRST, exec: keyed(range::zrangebyscore), group: G, summary: "Returns members in a sorted set within a range of scores." },
    CommandSpec { name: "zrevrangebyscore", arity: AtLeast(4), flags: &[ReadOnly], keys: KeySpec::FIRST, exec: keyed(range::zrevrangebyscore), group: G, summary: "Returns members in a sorted set within a range of scores in reverse order." },
    CommandSpec { name: "zrangebylex",      arity: AtLeast(4), flags: &[ReadOnly], keys: KeySpec::FIRST, exec: keyed(range::zrangebylex), group: G, summary: "Returns members in a sorted set within a lexicographical range." },
    CommandSpec { name: "zrevrangebylex",   arity: AtLeast(4), flags: &[ReadOnly], keys: KeySpec::FIRST, exec: keyed(range::zrevrangebylex), group: G, summary: "Returns members in a sorted set within a lexicographical range in reverse order." },
    CommandSpec { name: "zremrangebyrank",  arity: Exactly(4), flags: &[Write], keys: KeySpec::FIRST, exec: keyed(range::zremrangebyrank), group: G, summary: "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed." },
    CommandSpec { name: "zremrangebyscore", arity: Exactly(4), flags: &[Write], keys: KeySpec::FIRST, exec: keyed(range::zremrangebyscore), group: G, summary: "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed." },
    CommandSpec { name: "zremrangebylex",   arity: Exactly(4), flags: &[Write], keys: KeySpec::FIRST, exec: keyed(range::zremrangebylex), group: G, summary: "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed." },
    CommandSpec { name: "zpopmin",          arity: AtLeast(2), flags: &[Write, Fast], keys: KeySpec::FIRST, exec: keyed(pop::zpopmin), group: G, summary: "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped." },
    CommandSpec { name: "zpopmax",          arity: AtLeast(2), flags: &[Write, Fast], keys: KeySpec::FIRST, exec: keyed(pop::zpopmax), group: G, summary: "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped." },
    CommandSpec { name: "zmpop",            arity: AtLeast(4), flags: &[Write], keys: COUNTED_KEYS, exec: scratch(pop::zmpop), group: G, summary: "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped." },
    CommandSpec { name: "bzpopmin",         arity: AtLeast(3), flags: &[Write, NoScript, Blocking, Fast], keys: KeySpec::ALL_BUT_LAST, exec: scratch(pop::bzpopmin), group: G, summary: "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped." },
    CommandSpec { name: "bzpopmax",         arity: AtLeast(3), flags: &[Write, NoScript, Blocking, Fast], keys: KeySpec::ALL_BUT_LAST, exec: scratch(pop::bzpopmax), group: G, summary: "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped." },
    CommandSpec { name: "bzmpop",           arity: AtLeast(5), flags: &[Write, Blocking], keys: BZMPOP_KEYS, exec: scratch(pop::bzmpop), group: G, summary: "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped." },
    CommandSpec { name: "zrandmember",      arity: AtLeast(2), flags: &[ReadOnly], keys: KeySpec::FIRST, exec: keyed(zrandmember), group: G, summary: "Returns one or more random members from a sorted set." },
    CommandSpec { name: "zunion",           arity: AtLeast(3), flags: &[ReadOnly], keys: COUNTED_KEYS, exec: scratch(store::zunion), group: G, summary: "Returns the union of multiple sorted sets." },
    CommandSpec { name: "zunionstore",      arity: AtLeast(4), flags: &[Write, DenyOom], keys: STORE_KEYS, exec: scratch(store::zunionstore), group: G, summary: "Stores the union of multiple sorted sets in a key." },
    CommandSpec { name: "zinter",           arity: AtLeast(3), flags: &[ReadOnly], keys: COUNTED_KEYS, exec: scratch(store::zinter), group: G, summary: "Returns the intersect of multiple sorted sets." },
    CommandSpec { name: "zinterstore",      arity: AtLeast(4), flags: &[Write, DenyOom], keys: STORE_KEYS, exec: scratch(store::zinterstore), group: G, summary: "Stores the intersect of multiple sorted sets in a key." },
    CommandSpec { name: "zintercard",       arity: AtLeast(3), flags: &[ReadOnly], keys: COUNTED_KEYS, exec: scratch(store::zintercard), group: G, summary: "Returns the number of members of the intersect of multiple sorted sets." },
    CommandSpec { name: "zdiff",            arity: AtLeast(3), flags: &[ReadOnly], keys: COUNTED_KEYS, exec: scratch(store::zdiff), group: G, summary: "Returns the difference between multiple sorted sets." },
    CommandSpec { name: "zdiffstore",       arity: AtLeast(4), flags: &[Write, DenyOom], keys: STORE_KEYS, exec: scratch(store::zdiffstore), group: G, summary: "Stores the difference of multiple sorted sets in a key." },
    CommandSpec { name: "zscan",            arity: AtLeast(3), flags: &[ReadOnly], keys: KeySpec::FIRST, exec: keyed(zscan), group: G, summary: "Iterates over members and scores of a sorted set." },
];

/// Parses a score argument as Redis's `string2d`: a decimal or `inf`/`-inf`/`+inf`, never
/// NaN, no surrounding spaces (`ERR value is not a valid float`).
pub(crate) fn parse_score(bytes: &[u8]) -> Result<f64, CommandError> {
    parse_float(bytes).ok_or(CommandError::NotFloat)
}

fn parse_float(bytes: &[u8]) -> Option<f64> {
    crate::args::parse_double(bytes)
}

/// Parses one end of a score range: `1.5`, `(1.5`, `-inf`, `+inf`.
fn parse_score_bound(bytes: &[u8]) -> Result<ScoreBound, CommandError> {
    let (exclusive, text) = match bytes.strip_prefix(b"(") {
        Some(rest) => (true, rest),
        None => (false, bytes),
    };
    let value = crate::args::parse_range_double(text)
        .ok_or_else(|| CommandError::other("ERR min or max is not a float"))?;
    Ok(ScoreBound { value, exclusive })
}

/// Parses one end of a lexicographic range: `-`, `+`, `[member`, `(member`.
fn parse_lex_bound(bytes: &[u8]) -> Result<LexBound<'_>, CommandError> {
    match bytes {
        b"-" => Ok(LexBound::Min),
        b"+" => Ok(LexBound::Max),
        [b'[', rest @ ..] => Ok(LexBound::Inclusive(rest)),
        [b'(', rest @ ..] => Ok(LexBound::Exclusive(rest)),
        _ => Err(CommandError::other(
            "ERR min or max not valid string range item",
        )),
    }
}

/// The reply for elements: members only, or (member, score) pairs.
struct ElementsReply {
    with_scores: bool,
    members: Vec<Reply>,
    pairs: Vec<(Reply, Reply)>,
}

impl ElementsReply {
    fn new(with_scores: bool, capacity: usize) -> ElementsReply {
        let capacity = capacity.min(1 << 16);
        ElementsReply {
            with_scores,
            members: Vec::with_capacity(if with_scores { 0 } else { capacity }),
            pairs: Vec::with_capacity(if with_scores { capacity } else { 0 }),
        }
    }

    fn push(&mut self, member: &[u8], score: f64) {
        if self.with_scores {
            self.pairs.push((Reply::bulk(member), Reply::Double(score)));
        } else {
            self.members.push(Reply::bulk(member));
        }
    }

    fn finish(self) -> Reply {
        if self.with_scores {
            Reply::Pairs(self.pairs)
        } else {
            Reply::Array(self.members)
        }
    }
}

/// What ZADD does with each member: its options, parsed (GEOADD sets some of them).
#[derive(Clone, Copy, Default)]
pub(crate) struct AddOptions {
    pub(crate) only_new: bool,
    pub(crate) only_existing: bool,
    greater: bool,
    less: bool,
    pub(crate) changed: bool,
    increment: bool,
}

impl AddOptions {
    /// Reads the leading options; Redis's conflict errors.
    fn parse(args: &mut ArgReader<'_>) -> Result<AddOptions, CommandError> {
        let mut options = AddOptions::default();
        let argv = args.argv();
        let mut at = 2;
        while let Some(arg) = argv.get(at) {
            let flag = match arg.to_ascii_lowercase().as_slice() {
                b"nx" => &mut options.only_new,
                b"xx" => &mut options.only_existing,
                b"gt" => &mut options.greater,
                b"lt" => &mut options.less,
                b"ch" => &mut options.changed,
                b"incr" => &mut options.increment,
                _ => break,
            };
            *flag = true;
            at += 1;
            args.next_arg();
        }
        let pairs = args.remaining();
        if pairs == 0 || !pairs.is_multiple_of(2) {
            return Err(CommandError::Syntax);
        }
        if options.only_new && options.only_existing {
            return Err(CommandError::other(
                "ERR XX and NX options at the same time are not compatible",
            ));
        }
        if (options.only_new && (options.greater || options.less))
            || (options.greater && options.less)
        {
            return Err(CommandError::other(
                "ERR GT, LT, and/or NX options at the same time are not compatible",
            ));
        }
        if options.increment && pairs > 2 {
            return Err(CommandError::other(
                "ERR INCR option supports a single increment-element pair",
            ));
        }
        Ok(options)
    }
}

/// What adding did: counts, and the last resulting score (`None`: nothing was done).
#[derive(Default)]
pub(crate) struct AddOutcome {
    pub(crate) added: i64,
    pub(crate) updated: i64,
    score: Option<f64>,
}

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]
///
/// O(log n) per member. Integer (added, or changed with CH); with INCR the new score, or
/// nil when a condition stopped it.
fn zadd(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let options = AddOptions::parse(args)?;
    let rest = args.rest();
    let mut elements = Vec::with_capacity(rest.len() / 2);
    for pair in rest.chunks_exact(2) {
        elements.push((parse_score(&pair[0])?, &pair[1][..]));
    }
    let outcome = add_generic(shard, key, options, &elements)?;
    if options.increment {
        return Ok(outcome.score.map_or(Reply::Nil, Reply::Double));
    }
    let changed = if options.changed { outcome.updated } else { 0 };
    Ok(Reply::Integer(outcome.added + changed))
}

/// ZINCRBY key increment member
///
/// O(log n). The new score.
fn zincrby(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let increment = parse_score(args.required()?)?;
    let member = args.required()?;
    let options = AddOptions {
        increment: true,
        ..AddOptions::default()
    };
    let outcome = add_generic(shard, key, options, &[(increment, member)])?;
    Ok(outcome.score.map_or(Reply::Nil, Reply::Double))
}

/// The body of ZADD, ZINCRBY and GEOADD: applies `elements` under `options`.
pub(crate) fn add_generic(
    shard: &mut ShardCtx<'_>,
    key: &[u8],
    options: AddOptions,
    elements: &[(f64, &[u8])],
) -> Result<AddOutcome, CommandError> {
    if options.only_existing && shard.write_collection::<SortedSet>(key)?.is_none() {
        return Ok(AddOutcome::default());
    }
    let limits = shard.limits.encoding;
    let longest = elements.iter().map(|(_, member)| member.len()).max();
    let set = shard.collection_or_create::<SortedSet>(key, || {
        SortedSet::with_expected(elements.len(), longest.unwrap_or(0), &limits)
    })?;
    let mut outcome = AddOutcome::default();
    let mut failure = None;
    for &(score, member) in elements {
        match add_one(set, member, score, options, &limits) {
            Ok(Some((new_score, added, updated))) => {
                outcome.added += i64::from(added);
                outcome.updated += i64::from(updated);
                outcome.score = Some(new_score);
            }
            Ok(None) => {}
            Err(error) => {
                failure = Some(error);
                break;
            }
        }
    }
    if outcome.added + outcome.updated > 0 {
        let event = if options.increment { "zincr" } else { "zadd" };
        shard.notify(EventClass::SortedSet, event, key);
    }
    shard.remove_if_empty::<SortedSet>(key);
    shard.mark_dirty((outcome.added + outcome.updated) as u64);
    match failure {
        Some(error) => Err(error),
        None => Ok(outcome),
    }
}

/// Adds or updates one member: `None` when the options made it a no-op, otherwise the
/// resulting score and whether it was added or its score changed.
fn add_one(
    set: &mut SortedSet,
    member: &[u8],
    score: f64,
    options: AddOptions,
    limits: &peregrine_keyspace::EncodingLimits,
) -> Result<Option<(f64, bool, bool)>, CommandError> {
    let Some(current) = set.score(member) else {
        if options.only_existing {
            return Ok(None);
        }
        set.insert(member, score, limits);
        return Ok(Some((score, true, false)));
    };
    if options.only_new {
        return Ok(None);
    }
    let new_score = if options.increment {
        let sum = current + score;
        if sum.is_nan() {
            return Err(CommandError::other(
                "ERR resulting score is not a number (NaN)",
            ));
        }
        sum
    } else {
        score
    };
    if (options.greater && new_score <= current) || (options.less && new_score >= current) {
        return Ok(None);
    }
    let updated = new_score != current;
    if updated {
        set.insert(member, new_score, limits);
    }
    Ok(Some((new_score, false, updated)))
}

/// ZREM key member [member ...]
///
/// O(log n) per member. The number removed.
fn zrem(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let Some(set) = shard.write_collection::<SortedSet>(key)? else {
        return Ok(Reply::Integer(0));
    };
    let mut removed = 0;
    for member in args.rest() {
        if set.remove(member).is_some() {
            removed += 1;
            if set.is_empty() {
                break;
            }
        }
    }
    if removed > 0 {
        shard.notify(EventClass::SortedSet, "zrem", key);
    }
    shard.remove_if_empty::<SortedSet>(key);
    shard.mark_dirty(removed);
    Ok(Reply::Integer(removed as i64))
}

/// ZCARD key
///
/// O(1). The number of members (0 for a missing key).
fn zcard(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    shard.collection_len::<SortedSet>(args.required()?)
}

/// ZSCORE key member
///
/// O(1). The score, or nil.
fn zscore(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let member = args.required()?;
    let score = shard
        .read_collection::<SortedSet>(key)?
        .and_then(|set| set.score(member));
    Ok(score.map_or(Reply::Nil, Reply::Double))
}

/// ZMSCORE key member [member ...]
///
/// O(1) per member. An array of scores (nil for absent members).
fn zmscore(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let set = shard.read_collection::<SortedSet>(key)?;
    let scores = args
        .rest()
        .iter()
        .map(|member| {
            set.as_ref()
                .and_then(|set| set.score(member))
                .map_or(Reply::Nil, Reply::Double)
        })
        .collect();
    Ok(Reply::Array(scores))
}

/// ZRANK key member [WITHSCORE]
///
/// O(log n). The rank by ascending score, or nil; `[rank, score]` with WITHSCORE.
fn zrank(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    rank_generic(shard, args, false)
}

/// ZREVRANK key member [WITHSCORE]
///
/// O(log n). The rank by descending score, or nil; `[rank, score]` with WITHSCORE.
fn zrevrank(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    rank_generic(shard, args, true)
}

fn rank_generic(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>, reverse: bool) -> CmdResult {
    if args.remaining() > 3 {
        let name = if reverse { "zrevrank" } else { "zrank" };
        return Err(CommandError::other(format!(
            "ERR wrong number of arguments for '{name}' command"
        )));
    }
    let key = args.required()?;
    let member = args.required()?;
    let with_score = match args.next_arg() {
        None => false,
        Some(arg) if is_keyword(arg, "withscore") => true,
        Some(_) => return Err(CommandError::Syntax),
    };
    let missing = if with_score {
        Reply::NilArray
    } else {
        Reply::Nil
    };
    let Some(set) = shard.read_collection::<SortedSet>(key)? else {
        return Ok(missing);
    };
    let len = set.len();
    let Some((rank, score)) = set.rank(member) else {
        return Ok(missing);
    };
    let rank = if reverse { len - 1 - rank } else { rank };
    if with_score {
        return Ok(Reply::Array(vec![
            Reply::Integer(rank as i64),
            Reply::Double(score),
        ]));
    }
    Ok(Reply::Integer(rank as i64))
}

/// ZCOUNT key min max
///
/// O(log n). The number of members with scores in the range.
fn zcount(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let min = parse_score_bound(args.required()?)?;
    let max = parse_score_bound(args.required()?)?;
    let count = shard
        .read_collection::<SortedSet>(key)?
        .map_or(0, |set| set.score_range(min, max).len());
    Ok(Reply::Integer(count as i64))
}

/// ZLEXCOUNT key min max
///
/// O(log n). The number of members in the lexicographic range.
fn zlexcount(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let min = parse_lex_bound(args.required()?)?;
    let max = parse_lex_bound(args.required()?)?;
    let count = shard
        .read_collection::<SortedSet>(key)?
        .map_or(0, |set| set.lex_range(min, max).len());
    Ok(Reply::Integer(count as i64))
}

/// ZRANDMEMBER key [count [WITHSCORES]]
///
/// O(log n) per member. One random member (nil when missing); with a count, that many
/// distinct members (negative: that many, repeats allowed).
fn zrandmember(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let count_arg = args.next_arg();
    let count = count_arg.map(parse_integer).transpose()?;
    let with_scores = match args.next_arg() {
        None => false,
        Some(arg) if is_keyword(arg, "withscores") && args.remaining() == 0 => true,
        Some(_) => return Err(CommandError::Syntax),
    };
    if let Some(count) = count {
        if count == i64::MIN {
            return Err(CommandError::other(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            ));
        }
        // Twice the count of replies must be representable.
        if with_scores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
            return Err(CommandError::other("ERR value is out of range"));
        }
    }
    // A generator of our own, seeded from the shard's (which thereby advances).
    let mut random = crate::Random::new(shard.random.next_u64());
    let reply = match (shard.read_collection::<SortedSet>(key)?, count) {
        (Some(set), Some(count)) => random_members(set, count, with_scores, || random.next_u64()),
        (None, Some(_)) => Reply::Array(Vec::new()),
        (Some(set), None) => {
            let rank = (random.next_u64() % set.len() as u64) as usize;
            set.get(rank)
                .map_or(Reply::Nil, |(member, _)| Reply::bulk(member))
        }
        (None, None) => Reply::Nil,
    };
    *shard.random = random;
    Ok(reply)
}

/// `count` random members of `set` as ZRANDMEMBER chooses them.
fn random_members(
    set: &SortedSet,
    count: i64,
    with_scores: bool,
    mut random: impl FnMut() -> u64,
) -> Reply {
    let len = set.len();
    let wanted = count.unsigned_abs() as usize;
    let mut reply = ElementsReply::new(with_scores, wanted.min(len.max(1) * 4));
    let push_rank = |rank: usize, reply: &mut ElementsReply| {
        if let Some((member, score)) = set.get(rank) {
            reply.push(member, score);
        }
    };
    if count < 0 {
        for _ in 0..wanted {
            push_rank((random() % len as u64) as usize, &mut reply);
        }
    } else if wanted >= len {
        // The whole set, from the highest rank down, as Redis's iterator walks it.
        set.walk(0..len, true, |member, score| reply.push(member, score));
    } else if wanted * 3 > len {
        let mut ranks: Vec<usize> = (0..len).collect();
        for index in 0..wanted {
            let pick = index + (random() % (len - index) as u64) as usize;
            ranks.swap(index, pick);
        }
        ranks[..wanted]
            .iter()
            .for_each(|&rank| push_rank(rank, &mut reply));
    } else {
        let mut chosen = ahash::AHashSet::with_capacity(wanted);
        while chosen.len() < wanted {
            let rank = (random() % len as u64) as usize;
            if chosen.insert(rank) {
                push_rank(rank, &mut reply);
            }
        }
    }
    reply.finish()
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count]
///
/// O(1) per call, O(n) for a full iteration. `[next cursor, [member, score, ...]]`; a
/// listpack is returned whole with cursor 0.
fn zscan(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let cursor_arg = args.required()?;
    let cursor = crate::keys::parse_scan_cursor(cursor_arg)?;
    let empty = || Reply::Array(vec![Reply::bulk("0"), Reply::Array(Vec::new())]);
    if shard.read_collection::<SortedSet>(key)?.is_none() {
        return Ok(empty());
    }
    let (count, pattern) = crate::keys::parse_collection_scan_options(args)?;
    let Some(set) = shard.read_collection::<SortedSet>(key)? else {
        return Ok(empty());
    };
    let mut found = Vec::new();
    let visited = std::cell::Cell::new(0usize);
    let mut visit = |member: &[u8], score: f64| {
        visited.set(visited.get() + 1);
        if pattern.is_none_or(|pattern| glob_match(pattern, member)) {
            found.push(Reply::bulk(member));
            found.push(Reply::bulk(format_double(score)));
        }
    };
    let mut next = set.scan(cursor, &mut visit);
    let mut steps = count.saturating_mul(10);
    while next != 0 && visited.get() < count && steps > 0 {
        next = set.scan(next, &mut visit);
        steps -= 1;
    }
    Ok(Reply::Array(vec![
        Reply::bulk(next.to_string()),
        Reply::Array(found),
    ]))
}
