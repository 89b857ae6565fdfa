//! ZUNIONSTORE, ZINTERSTORE and ZDIFFSTORE over huge sources (see the module above), with
//! the handler's arithmetic: sources in ascending size for a union or an intersection (so
//! that a SUM adds in the same order), WEIGHTS and AGGREGATE as the handler applies them.

use super::{
    each_member, each_member_of_difference, each_member_of_intersection, sources, store_if_huge,
    Operation, Store,
};
use crate::shard_state::ShardRouter;
use bytes::Bytes;
use peregrine_commands::sorted_set::{store_options, weigh, Aggregate};
use peregrine_commands::{parse_integer, ClientOptions, CommandError, EventClass};
use peregrine_keyspace::collections::{EncodingLimits, SortedSet};
use peregrine_keyspace::DbIndex;
use peregrine_resp::{Argv, Reply};

/// Runs `command` (`argv`: destination numkeys key ... options) here when its sources
/// are huge; `None` otherwise, and whenever the arguments or a source's type are wrong
/// (the handler then replies the error, in Redis's order).
pub(super) async fn run_if_huge(
    router: &ShardRouter,
    db: DbIndex,
    client: ClientOptions,
    command: &'static str,
    argv: &Argv,
) -> Option<Result<Reply, CommandError>> {
    let count = usize::try_from(parse_integer(argv.get(2)?).ok()?)
        .ok()
        .filter(|&count| count >= 1)?;
    let end = count.checked_add(3).filter(|&end| end <= argv.len())?;
    let keys = &argv[3..end];
    let (weights, aggregate) = store_options(command, keys.len(), &argv[end..])?;
    let limits = router.state().limits().encoding;
    let combine = Combine {
        operation: Operation::of(command),
        weights,
        aggregate,
        limits,
    };
    let compute = combine.compute(router, db, keys);
    let store = Store {
        client,
        destination: &argv[1],
        keys,
        class: EventClass::SortedSet,
        event: command,
    };
    store_if_huge(router, db, store, compute).await
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
        let mut result = SortedSet::new();
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
