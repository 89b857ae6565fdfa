//! Set algebra over sorted sets (and plain sets, read as score 1): ZUNION, ZUNIONSTORE,
//! ZINTER, ZINTERSTORE, ZINTERCARD, ZDIFF, ZDIFFSTORE.
//!
//! Sources are read one at a time into an accumulator keyed by member, in ascending size
//! as Redis does (so a SUM adds in the same order); an intersection starts from the
//! smallest source and looks the others up.

use super::ElementsReply;
use crate::args::{is_keyword, parse_integer};
use crate::{ArgReader, CmdResult, CommandError, EventClass, ShardCtx};
use ahash::AHashMap;
use bytes::Bytes;
use peregrine_keyspace::collections::sorted_set::Element;
use peregrine_keyspace::collections::SortedSet;
use peregrine_keyspace::{CompactBytes, Value};
use peregrine_resp::Reply;

use crate::SetOperation as Operation;

impl Operation {
    /// The name of the sorted-set command computing this operation.
    fn command_name(self, store: bool, cardinality: bool) -> &'static str {
        match (self, store, cardinality) {
            (Operation::Intersection, _, true) => "zintercard",
            (Operation::Union, false, _) => "zunion",
            (Operation::Union, true, _) => "zunionstore",
            (Operation::Intersection, false, _) => "zinter",
            (Operation::Intersection, true, _) => "zinterstore",
            (Operation::Difference, false, _) => "zdiff",
            (Operation::Difference, true, _) => "zdiffstore",
        }
    }
}

/// How AGGREGATE combines the scores a member has in several sources.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aggregate {
    /// `SUM` (the default).
    Sum,
    /// `MIN`.
    Min,
    /// `MAX`.
    Max,
}

impl Aggregate {
    /// Combines `value` into `target` as Redis's `zunionInterAggregate` does: a NaN sum
    /// (inf + -inf) becomes 0; MIN and MAX replace the target only when `value` compares
    /// strictly below or above it (so of -0 and 0 the first stays, and a NaN never wins;
    /// `f64::min` may return either zero).
    pub fn apply(self, target: &mut f64, value: f64) {
        match self {
            Aggregate::Sum => {
                *target += value;
                if target.is_nan() {
                    *target = 0.0;
                }
            }
            Aggregate::Min => {
                if value < *target {
                    *target = value;
                }
            }
            Aggregate::Max => {
                if value > *target {
                    *target = value;
                }
            }
        }
    }
}

/// One input: its key, weight and size.
struct Source {
    key: Bytes,
    weight: f64,
    len: usize,
}

/// A parsed command: its inputs and options.
struct Algebra {
    operation: Operation,
    sources: Vec<Source>,
    aggregate: Aggregate,
    with_scores: bool,
    limit: usize,
}

/// How one command form reads its arguments.
#[derive(Clone, Copy)]
struct Form {
    operation: Operation,
    store: bool,
    cardinality: bool,
}

impl Algebra {
    /// Parses `numkeys key ... [options]` from `argv[numkeys_at]`, checking the keys'
    /// types before the options as Redis does.
    fn parse(
        shard: &mut ShardCtx<'_>,
        argv: &[Bytes],
        numkeys_at: usize,
        form: Form,
    ) -> Result<Algebra, CommandError> {
        let numkeys = parse_integer(&argv[numkeys_at])?;
        if numkeys < 1 {
            return Err(CommandError::other(format!(
                "ERR at least 1 input key is needed for '{}' command",
                form.operation.command_name(form.store, form.cardinality)
            )));
        }
        let first = numkeys_at + 1;
        let end = usize::try_from(numkeys)
            .ok()
            .and_then(|count| count.checked_add(first))
            .filter(|&end| end <= argv.len())
            .ok_or(CommandError::Syntax)?;
        let mut sources = Vec::with_capacity(end - first);
        for key in &argv[first..end] {
            let len = match shard.lookup_read(key) {
                None => 0,
                Some(Value::SortedSet(set)) => set.len(),
                Some(Value::Set(set)) => set.len(),
                Some(_) => return Err(CommandError::WrongType),
            };
            sources.push(Source {
                key: key.clone(),
                weight: 1.0,
                len,
            });
        }
        let mut algebra = Algebra {
            operation: form.operation,
            sources,
            aggregate: Aggregate::Sum,
            with_scores: false,
            limit: 0,
        };
        algebra.parse_options(&argv[end..], form)?;
        Ok(algebra)
    }

    fn parse_options(&mut self, options: &[Bytes], form: Form) -> Result<(), CommandError> {
        let weighted = self.operation != Operation::Difference && !form.cardinality;
        let mut at = 0;
        while let Some(option) = options.get(at) {
            let remaining = options.len() - at - 1;
            if weighted && remaining >= self.sources.len() && is_keyword(option, "weights") {
                for (source, weight) in self.sources.iter_mut().zip(&options[at + 1..]) {
                    source.weight = super::parse_float(weight)
                        .ok_or_else(|| CommandError::other("ERR weight value is not a float"))?;
                }
                at += self.sources.len();
            } else if weighted && remaining >= 1 && is_keyword(option, "aggregate") {
                self.aggregate = match &options[at + 1] {
                    name if is_keyword(name, "sum") => Aggregate::Sum,
                    name if is_keyword(name, "min") => Aggregate::Min,
                    name if is_keyword(name, "max") => Aggregate::Max,
                    _ => return Err(CommandError::Syntax),
                };
                at += 1;
            } else if !form.store && !form.cardinality && is_keyword(option, "withscores") {
                self.with_scores = true;
            } else if form.cardinality && remaining >= 1 && is_keyword(option, "limit") {
                let negative = || CommandError::other("ERR LIMIT can't be negative");
                let limit = parse_integer(&options[at + 1]).map_err(|_| negative())?;
                self.limit = usize::try_from(limit).map_err(|_| negative())?;
                at += 1;
            } else {
                return Err(CommandError::Syntax);
            }
            at += 1;
        }
        Ok(())
    }

    /// Computes the result: member → score.
    fn compute(&self, shard: &mut ShardCtx<'_>) -> Accumulator {
        match self.operation {
            Operation::Union => self.union(shard),
            Operation::Intersection => self.intersection(shard),
            Operation::Difference => self.difference(shard),
        }
    }

    /// The sources in ascending size (stable, so equal sizes keep argument order).
    fn by_size(&self) -> Vec<&Source> {
        let mut sources: Vec<&Source> = self.sources.iter().collect();
        sources.sort_by_key(|source| source.len);
        sources
    }

    fn union(&self, shard: &mut ShardCtx<'_>) -> Accumulator {
        let mut result = Accumulator::default();
        for source in self.by_size() {
            for_each_element(shard, &source.key, |member, score| {
                let weighted = weigh(score, source.weight);
                match result.get_mut(member) {
                    Some(target) => self.aggregate.apply(target, weighted),
                    None => {
                        result.insert(CompactBytes::new(member), weighted);
                    }
                }
            });
        }
        result
    }

    fn intersection(&self, shard: &mut ShardCtx<'_>) -> Accumulator {
        let sources = self.by_size();
        let mut result = Accumulator::default();
        if sources.first().is_none_or(|smallest| smallest.len == 0) {
            return result;
        }
        for_each_element(shard, &sources[0].key, |member, score| {
            result.insert(CompactBytes::new(member), weigh(score, sources[0].weight));
        });
        for source in &sources[1..] {
            let mut found: AHashMap<CompactBytes, f64> = AHashMap::with_capacity(result.len());
            match shard.peek(&source.key) {
                Some(Value::SortedSet(set)) => {
                    for (member, _) in result.iter() {
                        if let Some(score) = set.score(member) {
                            found.insert(member.clone(), score);
                        }
                    }
                }
                _ => for_each_element(shard, &source.key, |member, score| {
                    if let Some((member, _)) = result.get_key_value(member) {
                        found.insert(member.clone(), score);
                    }
                }),
            }
            result.retain(|member, target| match found.get(member) {
                Some(&score) => {
                    // Redis zeroes a NaN product only for the first source; here the
                    // NaN goes into the aggregate (a NaN sum then becomes 0).
                    self.aggregate.apply(target, score * source.weight);
                    true
                }
                None => false,
            });
            if result.is_empty() {
                break;
            }
        }
        result
    }

    fn difference(&self, shard: &mut ShardCtx<'_>) -> Accumulator {
        let mut result = Accumulator::default();
        for_each_element(shard, &self.sources[0].key, |member, score| {
            result.insert(CompactBytes::new(member), score);
        });
        for source in &self.sources[1..] {
            if result.is_empty() {
                break;
            }
            for_each_element(shard, &source.key, |member, _| {
                result.remove(member);
            });
        }
        result
    }

    /// The intersection's size, stopping at `limit` (0: no limit).
    fn intersection_size(&self, shard: &mut ShardCtx<'_>) -> usize {
        let size = self.intersection(shard).len();
        if self.limit > 0 {
            size.min(self.limit)
        } else {
            size
        }
    }
}

type Accumulator = AHashMap<CompactBytes, f64>;

/// `score * weight`, with Redis's rule that a NaN product (0 * inf) is 0.
pub fn weigh(score: f64, weight: f64) -> f64 {
    let product = score * weight;
    if product.is_nan() {
        0.0
    } else {
        product
    }
}

/// Calls `visit` with every (member, score) of the sorted set or set at `key` (score 1
/// for a set's members); nothing for a missing key.
fn for_each_element(shard: &mut ShardCtx<'_>, key: &[u8], mut visit: impl FnMut(&[u8], f64)) {
    match shard.peek(key) {
        Some(Value::SortedSet(set)) => set.walk(0..set.len(), false, visit),
        Some(Value::Set(set)) => set.for_each_member(|member| visit(member, 1.0)),
        _ => {}
    }
}

/// The options of ZUNION, ZINTER, ZDIFF or their STORE forms, parsed for the server's
/// path over huge sources, which reads the sources itself.
pub struct AlgebraOptions {
    /// One weight per source (1 by default).
    pub weights: Vec<f64>,
    /// How scores combine.
    pub aggregate: Aggregate,
    /// WITHSCORES (read forms only).
    pub with_scores: bool,
}

/// The options of `command` (lower case: `zunion`, `zinterstore` ...) with `sources`
/// sources, from the `options` after its keys; `None` when they are invalid (the
/// command's handler then replies the error).
pub fn algebra_options(command: &str, sources: usize, options: &[Bytes]) -> Option<AlgebraOptions> {
    let store = command.ends_with("store");
    let sorted = command.starts_with('z') && !command.ends_with("card");
    let operation = Operation::of(command).filter(|_| sorted)?;
    let mut algebra = Algebra {
        operation,
        sources: (0..sources)
            .map(|_| Source {
                key: Bytes::new(),
                weight: 1.0,
                len: 0,
            })
            .collect(),
        aggregate: Aggregate::Sum,
        with_scores: false,
        limit: 0,
    };
    let form = Form {
        operation,
        store,
        cardinality: false,
    };
    algebra.parse_options(options, form).ok()?;
    Some(AlgebraOptions {
        weights: algebra.sources.iter().map(|source| source.weight).collect(),
        aggregate: algebra.aggregate,
        with_scores: algebra.with_scores,
    })
}

/// The result as elements, sorted.
fn into_elements(result: Accumulator) -> Vec<Element> {
    result
        .into_iter()
        .map(|(member, score)| Element { score, member })
        .collect()
}

fn read_generic(
    shard: &mut ShardCtx<'_>,
    args: &mut ArgReader<'_>,
    operation: Operation,
) -> CmdResult {
    let form = Form {
        operation,
        store: false,
        cardinality: false,
    };
    let algebra = Algebra::parse(shard, args.argv(), 1, form)?;
    let mut elements = into_elements(algebra.compute(shard));
    elements.sort_unstable_by(|a, b| {
        peregrine_keyspace::collections::sorted_set::compare(a.score, &a.member, b.score, &b.member)
    });
    let mut reply = ElementsReply::new(algebra.with_scores, elements.len());
    for element in &elements {
        reply.push(&element.member, element.score);
    }
    Ok(reply.finish())
}

fn store_generic(
    shard: &mut ShardCtx<'_>,
    args: &mut ArgReader<'_>,
    operation: Operation,
) -> CmdResult {
    let form = Form {
        operation,
        store: true,
        cardinality: false,
    };
    let argv = args.argv();
    let algebra = Algebra::parse(shard, argv, 2, form)?;
    let elements = into_elements(algebra.compute(shard));
    let stored = elements.len();
    let limits = shard.limits.encoding;
    let event = form.operation.command_name(true, false);
    shard.store(
        &argv[1],
        SortedSet::build(elements, &limits),
        EventClass::SortedSet,
        event,
    );
    shard.mark_dirty(1);
    Ok(Reply::Integer(stored as i64))
}

/// ZUNION numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
///
/// O(n log n) in the total input size. The union, ordered by score.
pub(super) fn zunion(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    read_generic(shard, args, Operation::Union)
}

/// ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE ...]
///
/// O(n log n) in the total input size. The size of the stored union.
pub(super) fn zunionstore(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    store_generic(shard, args, Operation::Union)
}

/// ZINTER numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
///
/// O(n * k) for the smallest input's n. The intersection, ordered by score.
pub(super) fn zinter(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    read_generic(shard, args, Operation::Intersection)
}

/// ZINTERSTORE destination numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE ...]
///
/// O(n * k) for the smallest input's n. The size of the stored intersection.
pub(super) fn zinterstore(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    store_generic(shard, args, Operation::Intersection)
}

/// ZINTERCARD numkeys key [key ...] [LIMIT limit]
///
/// O(n * k) for the smallest input's n. The intersection's size (at most `limit`).
pub(super) fn zintercard(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let form = Form {
        operation: Operation::Intersection,
        store: false,
        cardinality: true,
    };
    let algebra = Algebra::parse(shard, args.argv(), 1, form)?;
    Ok(Reply::Integer(algebra.intersection_size(shard) as i64))
}

/// ZDIFF numkeys key [key ...] [WITHSCORES]
///
/// O(n) in the total input size. The first set's members absent from the others.
pub(super) fn zdiff(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    read_generic(shard, args, Operation::Difference)
}

/// ZDIFFSTORE destination numkeys key [key ...]
///
/// O(n) in the total input size. The size of the stored difference.
pub(super) fn zdiffstore(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    store_generic(shard, args, Operation::Difference)
}
