//! SUNION, SINTER, SDIFF and their STORE forms over huge sets (see the module above).

use super::{
    each_member, each_member_of_difference, each_member_of_plain_intersection, is_huge, is_store,
    read_locked, sources, store_locked, ChunkedReply, Operation, Outcome, Request, Shape, Store,
};
use crate::shard_state::ShardRouter;
use bytes::Bytes;
use peregrine_commands::{CommandError, EventClass};
use peregrine_keyspace::collections::{EncodingLimits, Set};
use peregrine_keyspace::DbIndex;

/// Runs `spec`'s command (`argv`: [destination] key ...) here when its sources are huge;
/// `None` otherwise (see [`super::is_huge`]).
pub(super) async fn run_if_huge(request: &Request<'_>) -> Option<Result<Outcome, CommandError>> {
    let (router, db, client, spec, argv) = request.parts();
    let store = is_store(spec.name);
    let keys = &argv[if store { 2 } else { 1 }..];
    if !is_huge(router, db, keys, false).await {
        return None;
    }
    let limits = router.state().limits().encoding;
    let operation = Operation::of(spec.name)?;
    if store {
        let store = Store::of(request, keys, EventClass::Set);
        let compute = compute(router, db, operation, keys, limits, None);
        return Some(store_locked(router, db, store, compute).await);
    }
    let read = async {
        let mut reply = ChunkedReply::new(client.protocol);
        compute(router, db, operation, keys, limits, Some(&mut reply)).await?;
        Ok(reply.finish(Shape::Set))
    };
    Some(read_locked(router, db, client.options, spec, keys, read).await)
}

/// The result, computed under the locks; each member also goes to `reply` as it joins.
async fn compute(
    router: &ShardRouter,
    db: DbIndex,
    operation: Operation,
    keys: &[Bytes],
    limits: EncodingLimits,
    mut reply: Option<&mut ChunkedReply>,
) -> Result<Set, CommandError> {
    let sources = sources(router, db, keys, false).await?;
    let mut result = Set::new();
    let mut add = |member: &[u8]| {
        if result.insert(member, &limits) {
            if let Some(reply) = reply.as_deref_mut() {
                reply.member(member);
            }
        }
    };
    match operation {
        Operation::Union => {
            each_member(router, db, sources.iter(), |_, member, _| add(member)).await;
        }
        Operation::Intersection => {
            each_member_of_plain_intersection(router, db, sources, |member, _| {
                add(member);
                true
            })
            .await;
        }
        Operation::Difference => {
            each_member_of_difference(router, db, &sources, |member, _| add(member)).await;
        }
    }
    Ok(result)
}
