//! SUNIONSTORE, SINTERSTORE and SDIFFSTORE over huge sets (see the module above).

use super::{
    each_member, each_member_of_difference, each_member_of_intersection, sources, store_if_huge,
    Operation, Source, Store,
};
use crate::shard_state::ShardRouter;
use bytes::Bytes;
use peregrine_commands::{ClientOptions, CommandError, EventClass};
use peregrine_keyspace::collections::{EncodingLimits, Set};
use peregrine_keyspace::DbIndex;
use peregrine_resp::{Argv, Reply};

/// Runs `command` (`argv`: destination key ...) here when its sources are huge; `None`
/// otherwise (see [`super::store_if_huge`]).
pub(super) async fn run_if_huge(
    router: &ShardRouter,
    db: DbIndex,
    client: ClientOptions,
    command: &'static str,
    argv: &Argv,
) -> Option<Result<Reply, CommandError>> {
    let keys = &argv[2..];
    let limits = router.state().limits().encoding;
    let compute = compute(router, db, Operation::of(command), keys, limits);
    let store = Store {
        client,
        destination: &argv[1],
        keys,
        class: EventClass::Set,
        event: command,
    };
    store_if_huge(router, db, store, compute).await
}

/// The result, computed under the locks.
async fn compute(
    router: &ShardRouter,
    db: DbIndex,
    operation: Operation,
    keys: &[Bytes],
    limits: EncodingLimits,
) -> Result<Set, CommandError> {
    let sources = sources(router, db, keys, false).await?;
    let mut result = Set::new();
    match operation {
        Operation::Union => {
            each_member(router, db, sources.iter(), |_, member, _| {
                result.insert(member, &limits);
            })
            .await;
        }
        Operation::Intersection => {
            let keep_any = |score: f64, _: &Source| score;
            each_member_of_intersection(
                router,
                db,
                sources,
                keep_any,
                |_, _, _| {},
                |member, _| {
                    result.insert(member, &limits);
                },
            )
            .await;
        }
        Operation::Difference => {
            each_member_of_difference(router, db, &sources, |member, _| {
                result.insert(member, &limits);
            })
            .await;
        }
    }
    Ok(result)
}
