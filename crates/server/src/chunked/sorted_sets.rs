//! ZUNIONSTORE, ZINTERSTORE and ZDIFFSTORE over huge sources (see the module above), with
//! the handler's arithmetic: sources in ascending size for a union or an intersection (so
//! that a SUM adds in the same order), WEIGHTS and AGGREGATE as the handler applies them.

use super::{
    counted_keys, each_member, each_member_of_difference, each_member_of_intersection, is_huge,
    is_store, read_locked, sources, store_locked, ChunkedReply, Client, Operation, Outcome,
    Request, Shape, Steps, Store,
};
use crate::shard_state::ShardRouter;
use bytes::Bytes;
use peregrine_commands::sorted_set::{algebra_options, weigh, Aggregate};
use peregrine_commands::{CommandError, EventClass};
use peregrine_keyspace::collections::{EncodingLimits, SortedSet};
use peregrine_keyspace::DbIndex;

/// Runs `spec`'s command (`argv`: [destination] numkeys key ... options) here when its
/// sources are huge; `None` otherwise, and whenever the arguments or a source's type are
/// wrong (the handler then replies the error, in Redis's order).
pub(super) async fn run_if_huge(request: &Request<'_>) -> Option<Result<Outcome, CommandError>> {
    let (router, db, client, spec, argv) = request.parts();
    let store = is_store(spec.name);
    let (keys, end) = counted_keys(argv, if store { 2 } else { 1 })?;
    let options = algebra_options(spec.name, keys.len(), &argv[end..])?;
    if !is_huge(router, db, keys, true).await {
        return None;
    }
    let combine = Combine {
        operation: Operation::of(spec.name)?,
        weights: options.weights,
        aggregate: options.aggregate,
        limits: router.state().limits().encoding,
    };
    if store {
        let store = Store::of(request, keys, EventClass::SortedSet);
        let limits = combine.limits;
        let compute = async {
            let mut result = combine.compute(router, db, keys).await?;
            result.convert_to_listpack_if_fits(&limits);
            Ok(result)
        };
        return Some(store_locked(router, db, store, compute).await);
    }
    let with_scores = options.with_scores;
    let read = async {
        let result = combine.compute(router, db, keys).await?;
        Ok(encode(&result, client, with_scores).await)
    };
    Some(read_locked(router, db, client.options, spec, keys, read).await)
}

/// Ranks of the result encoded between two looks at the clock.
const ENCODED_PER_LOOK: usize = 1024;

/// The reply of a read form: the result's members in order (with their scores), encoded
/// in bounded steps.
async fn encode(result: &SortedSet, client: Client, with_scores: bool) -> Outcome {
    let mut reply = ChunkedReply::new(client.protocol);
    let mut steps = Steps::new();
    for start in (0..result.len()).step_by(ENCODED_PER_LOOK) {
        result.walk(start..start + ENCODED_PER_LOOK, false, |member, score| {
            if with_scores {
                reply.scored(member, score);
            } else {
                reply.member(member);
            }
        });
        steps.tick_by(ENCODED_PER_LOOK as u32).await;
    }
    reply.finish(if with_scores {
        Shape::Pairs
    } else {
        Shape::Array
    })
}

/// How the sources combine.
struct Combine {
    operation: Operation,
    weights: Vec<f64>,
    aggregate: Aggregate,
    limits: EncodingLimits,
}

impl Combine {
    /// The result, computed under the locks.
    async fn compute(
        self,
        router: &ShardRouter,
        db: DbIndex,
        keys: &[Bytes],
    ) -> Result<SortedSet, CommandError> {
        let mut sources = sources(router, db, keys, true).await?;
        for (source, &weight) in sources.iter_mut().zip(&self.weights) {
            source.weight = weight;
        }
        // Built in the big encoding whatever its size, as Redis builds it: the small one
        // would turn a -0 score into 0 (a STORE converts a small result at the end).
        let mut result = SortedSet::new_skiplist();
        match self.operation {
            Operation::Union => {
                sources.sort_by_key(|source| source.len.unwrap_or(0));
                each_member(router, db, sources.iter(), |source, member, score| {
                    let weighted = weigh(score, source.weight);
                    let combined = match result.score(member) {
                        Some(mut target) => {
                            self.aggregate.apply(&mut target, weighted);
                            target
                        }
                        None => weighted,
                    };
                    result.insert(member, combined, &self.limits);
                })
                .await;
            }
            Operation::Intersection => {
                let aggregate = self.aggregate;
                each_member_of_intersection(
                    router,
                    db,
                    sources,
                    |score, smallest| weigh(score, smallest.weight),
                    // As the handler: a NaN product goes into the aggregate.
                    |target, score, other| aggregate.apply(target, score * other.weight),
                    |member, score| {
                        result.insert(member, score, &self.limits);
                        true
                    },
                )
                .await;
            }
            Operation::Difference => {
                each_member_of_difference(router, db, &sources, |member, score| {
                    result.insert(member, score, &self.limits);
                })
                .await;
            }
        }
        Ok(result)
    }
}
