//! ZRANGE and its older forms (ZREVRANGE, ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZRANGEBYLEX,
//! ZREVRANGEBYLEX), ZRANGESTORE, and ZREMRANGEBYRANK / ZREMRANGEBYSCORE / ZREMRANGEBYLEX.
//!
//! Every form parses into one [`RangeRequest`], which resolves to a span of ranks in the
//! set: O(log n) to find, then O(k) to walk.

use super::{parse_lex_bound, parse_score_bound, ElementsReply};
use crate::args::{is_keyword, parse_integer};
use crate::{ArgReader, CmdResult, CommandError, EventClass, ShardCtx};
use bytes::Bytes;
use peregrine_keyspace::collections::sorted_set::{Element, LexBound, ScoreBound};
use peregrine_keyspace::collections::SortedSet;
use peregrine_resp::Reply;
use std::ops::Range;

#[derive(Clone, Copy, PartialEq, Eq)]
enum RangeKind {
    Rank,
    Score,
    Lex,
}

/// What a command form fixes before its options are read (ZRANGE fixes nothing).
#[derive(Clone, Copy)]
struct Form {
    kind: Option<RangeKind>,
    reverse: Option<bool>,
    store: bool,
}

const ZRANGE: Form = Form {
    kind: None,
    reverse: None,
    store: false,
};

enum Bounds<'a> {
    Rank(i64, i64),
    Score(ScoreBound, ScoreBound),
    Lex(LexBound<'a>, LexBound<'a>),
}

/// A parsed range query.
struct RangeRequest<'a> {
    bounds: Bounds<'a>,
    reverse: bool,
    limit: Option<(i64, i64)>,
    with_scores: bool,
}

impl<'a> RangeRequest<'a> {
    /// Parses `min max [options]` starting at `argv[at]`, as `form` allows; Redis's
    /// errors in Redis's order.
    fn parse(argv: &'a [Bytes], at: usize, form: Form) -> Result<RangeRequest<'a>, CommandError> {
        let (mut kind, mut reverse) = (form.kind, form.reverse);
        let (mut limit, mut with_scores) = (None, false);
        let mut index = at + 2;
        while let Some(arg) = argv.get(index) {
            if !form.store && is_keyword(arg, "withscores") {
                with_scores = true;
            } else if is_keyword(arg, "limit") && index + 2 < argv.len() {
                let offset = parse_integer(&argv[index + 1])?;
                let count = parse_integer(&argv[index + 2])?;
                limit = Some((offset, count));
                index += 2;
            } else if reverse.is_none() && is_keyword(arg, "rev") {
                reverse = Some(true);
            } else if kind.is_none() && is_keyword(arg, "byscore") {
                kind = Some(RangeKind::Score);
            } else if kind.is_none() && is_keyword(arg, "bylex") {
                kind = Some(RangeKind::Lex);
            } else {
                return Err(CommandError::Syntax);
            }
            index += 1;
        }
        let kind = kind.unwrap_or(RangeKind::Rank);
        let reverse = reverse.unwrap_or(false);
        // Redis's check is on the count: `LIMIT offset -1` (no limit) passes with ranks.
        if limit.is_some_and(|(_, count)| count != -1) && kind == RangeKind::Rank {
            return Err(CommandError::other(
                "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
            ));
        }
        if kind == RangeKind::Rank {
            // Ranks take no LIMIT (a `LIMIT offset -1` that passed the check is ignored).
            limit = None;
        }
        if with_scores && kind == RangeKind::Lex {
            return Err(CommandError::other(
                "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
            ));
        }
        let (mut min, mut max) = (&argv[at][..], &argv[at + 1][..]);
        if reverse && kind != RangeKind::Rank {
            std::mem::swap(&mut min, &mut max);
        }
        let bounds = match kind {
            RangeKind::Rank => Bounds::Rank(parse_integer(min)?, parse_integer(max)?),
            RangeKind::Score => Bounds::Score(parse_score_bound(min)?, parse_score_bound(max)?),
            RangeKind::Lex => Bounds::Lex(parse_lex_bound(min)?, parse_lex_bound(max)?),
        };
        Ok(RangeRequest {
            bounds,
            reverse,
            limit,
            with_scores,
        })
    }

    /// The ranks (ascending) the request selects in `set`; walk them backwards when
    /// `self.reverse`.
    fn ranks(&self, set: &SortedSet) -> Range<usize> {
        let len = set.len();
        let matched = match self.bounds {
            Bounds::Rank(start, end) => {
                let span = rank_range(start, end, len);
                if self.reverse {
                    len - span.end..len - span.start
                } else {
                    span
                }
            }
            Bounds::Score(min, max) => set.score_range(min, max),
            Bounds::Lex(min, max) => set.lex_range(min, max),
        };
        apply_limit(matched, self.limit, self.reverse)
    }
}

/// What a ZRANGE-family read selects of a sorted set: the ranks (ascending), the order
/// they are replied in, and whether scores come with the members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangeSelection {
    /// The selected ranks.
    pub ranks: Range<usize>,
    /// Walked from the highest rank down.
    pub reverse: bool,
    /// Members come with their scores.
    pub with_scores: bool,
}

/// The selection the range command `name` (ZRANGE, ZREVRANGE, ZRANGEBYSCORE,
/// ZREVRANGEBYSCORE, ZRANGEBYLEX, ZREVRANGEBYLEX, or ZRANGESTORE of its source; `argv`: its
/// whole request) makes of `set`, or the error its handler replies for its arguments. A
/// caller reading a huge range in parts computes it once and walks it a chunk at a time.
pub fn range_selection(
    name: &str,
    argv: &[Bytes],
    set: &SortedSet,
) -> Result<RangeSelection, CommandError> {
    // The form, and where its bounds start (after the key, or the destination and key).
    let (form, bounds_at) = match name {
        "zrange" => (ZRANGE, 2),
        "zrangestore" => (
            Form {
                store: true,
                ..ZRANGE
            },
            3,
        ),
        "zrevrange" => (fixed(RangeKind::Rank, true), 2),
        "zrangebyscore" => (fixed(RangeKind::Score, false), 2),
        "zrevrangebyscore" => (fixed(RangeKind::Score, true), 2),
        "zrangebylex" => (fixed(RangeKind::Lex, false), 2),
        "zrevrangebylex" => (fixed(RangeKind::Lex, true), 2),
        _ => return Err(CommandError::Syntax),
    };
    if argv.len() < bounds_at + 2 {
        return Err(CommandError::Syntax);
    }
    let request = RangeRequest::parse(argv, bounds_at, form)?;
    Ok(RangeSelection {
        ranks: request.ranks(set),
        reverse: request.reverse,
        with_scores: request.with_scores,
    })
}

/// Redis's index range `start..=end` (negative counts from the end) over `len` elements.
pub(super) fn rank_range(start: i64, end: i64, len: usize) -> Range<usize> {
    let len = len as i64;
    let start = if start < 0 { start + len } else { start }.max(0);
    let end = if end < 0 { end + len } else { end }.min(len - 1);
    if start > end || start >= len {
        return 0..0;
    }
    start as usize..end as usize + 1
}

/// Skips `offset` and keeps `count` (negative: all) of `matched`, from the top when
/// `reverse`. A negative offset selects nothing.
fn apply_limit(matched: Range<usize>, limit: Option<(i64, i64)>, reverse: bool) -> Range<usize> {
    let Some((offset, count)) = limit else {
        return matched;
    };
    if offset < 0 {
        return 0..0;
    }
    let offset = (offset as u64).min(matched.len() as u64) as usize;
    let available = matched.len() - offset;
    let take = if count < 0 {
        available
    } else {
        (count as u64).min(available as u64) as usize
    };
    if reverse {
        matched.end - offset - take..matched.end - offset
    } else {
        matched.start + offset..matched.start + offset + take
    }
}

/// ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
///
/// O(log n + k). The members (with scores: pairs) in the range.
pub(super) fn zrange(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    range_generic(shard, args, ZRANGE)
}

/// ZREVRANGE key start stop [WITHSCORES]
///
/// O(log n + k). Like ZRANGE ... REV.
pub(super) fn zrevrange(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    range_generic(shard, args, fixed(RangeKind::Rank, true))
}

/// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]
///
/// O(log n + k). Like ZRANGE ... BYSCORE.
pub(super) fn zrangebyscore(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    range_generic(shard, args, fixed(RangeKind::Score, false))
}

/// ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]
///
/// O(log n + k). Like ZRANGE ... BYSCORE REV.
pub(super) fn zrevrangebyscore(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    range_generic(shard, args, fixed(RangeKind::Score, true))
}

/// ZRANGEBYLEX key min max [LIMIT offset count]
///
/// O(log n + k). Like ZRANGE ... BYLEX.
pub(super) fn zrangebylex(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    range_generic(shard, args, fixed(RangeKind::Lex, false))
}

/// ZREVRANGEBYLEX key max min [LIMIT offset count]
///
/// O(log n + k). Like ZRANGE ... BYLEX REV.
pub(super) fn zrevrangebylex(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    range_generic(shard, args, fixed(RangeKind::Lex, true))
}

const fn fixed(kind: RangeKind, reverse: bool) -> Form {
    Form {
        kind: Some(kind),
        reverse: Some(reverse),
        store: false,
    }
}

fn range_generic(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>, form: Form) -> CmdResult {
    let argv = args.argv();
    let request = RangeRequest::parse(argv, 2, form)?;
    let Some(set) = shard.read_collection::<SortedSet>(&argv[1])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let ranks = request.ranks(set);
    let mut reply = ElementsReply::new(request.with_scores, ranks.len());
    set.walk(ranks, request.reverse, |member, score| {
        reply.push(member, score)
    });
    Ok(reply.finish())
}

/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]
///
/// O(log n + k). Stores the range at `dst` (an empty range deletes it); the number stored.
pub(super) fn zrangestore(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let argv = args.argv();
    let form = Form {
        store: true,
        ..ZRANGE
    };
    let request = RangeRequest::parse(argv, 3, form)?;
    let mut elements = Vec::new();
    match shard.write_collection::<SortedSet>(&argv[2])? {
        Some(set) => {
            let ranks = request.ranks(set);
            elements.reserve(ranks.len());
            set.walk(ranks, request.reverse, |member, score| {
                elements.push(Element::new(score, member))
            });
        }
        // Redis reads the source with `lookupKeyRead`.
        None => shard.notify_miss(&argv[2]),
    }
    let stored = elements.len();
    let limits = shard.limits.encoding;
    let built = SortedSet::build(elements, &limits);
    shard.store(&argv[1], built, EventClass::SortedSet, "zrangestore");
    shard.mark_dirty(1);
    Ok(Reply::Integer(stored as i64))
}

/// ZREMRANGEBYRANK key start stop
///
/// O(log n + k). The number removed.
pub(super) fn zremrangebyrank(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let (start, end) = (args.integer()?, args.integer()?);
    remove_range_generic(shard, key, "zremrangebyrank", |set| {
        rank_range(start, end, set.len())
    })
}

/// ZREMRANGEBYSCORE key min max
///
/// O(log n + k). The number removed.
pub(super) fn zremrangebyscore(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let min = parse_score_bound(args.required()?)?;
    let max = parse_score_bound(args.required()?)?;
    remove_range_generic(shard, key, "zremrangebyscore", |set| {
        set.score_range(min, max)
    })
}

/// ZREMRANGEBYLEX key min max
///
/// O(log n + k). The number removed.
pub(super) fn zremrangebylex(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let min = parse_lex_bound(args.required()?)?;
    let max = parse_lex_bound(args.required()?)?;
    remove_range_generic(shard, key, "zremrangebylex", |set| set.lex_range(min, max))
}

/// Removes the ranks `select` picks from the set at `key`.
fn remove_range_generic(
    shard: &mut ShardCtx<'_>,
    key: &[u8],
    event: &'static str,
    select: impl FnOnce(&SortedSet) -> Range<usize>,
) -> CmdResult {
    let Some(set) = shard.write_collection::<SortedSet>(key)? else {
        return Ok(Reply::Integer(0));
    };
    let ranks = select(set);
    let removed = set.remove_ranks(ranks);
    if removed > 0 {
        shard.notify(EventClass::SortedSet, event, key);
    }
    shard.remove_if_empty::<SortedSet>(key);
    shard.mark_dirty(removed as u64);
    Ok(Reply::Integer(removed as i64))
}
