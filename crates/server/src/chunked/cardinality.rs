//! SINTERCARD and ZINTERCARD over huge sources (see the module above): the intersection
//! is counted, not built, and the count stops at LIMIT.

use super::{each_member_of_intersection, is_huge, read_locked, sources, Client, Outcome};
use crate::shard_state::ShardRouter;
use peregrine_commands::{parse_integer, CommandError, CommandSpec};
use peregrine_keyspace::DbIndex;
use peregrine_resp::{Argv, Reply};

/// Runs `spec`'s command (`argv`: numkeys key ... [LIMIT limit]) here when its sources
/// are huge; `None` otherwise, and whenever the arguments or a source's type are wrong
/// (the handler then replies the error).
pub(super) async fn run_if_huge(
    router: &ShardRouter,
    db: DbIndex,
    client: Client,
    spec: &'static CommandSpec,
    argv: &Argv,
) -> Option<Result<Outcome, CommandError>> {
    let count = usize::try_from(parse_integer(argv.get(1)?).ok()?)
        .ok()
        .filter(|&count| count >= 1)?;
    let end = count.checked_add(2).filter(|&end| end <= argv.len())?;
    let keys = &argv[2..end];
    // 0: no limit.
    let limit = match &argv[end..] {
        [] => 0,
        [option, limit] if option.eq_ignore_ascii_case(b"limit") => {
            usize::try_from(parse_integer(limit).ok()?).ok()?
        }
        _ => return None,
    };
    let sorted = spec.name == "zintercard";
    if !is_huge(router, db, keys, sorted).await {
        return None;
    }
    let count = async {
        let sources = sources(router, db, keys, sorted).await?;
        let mut count = 0usize;
        let keep_any = |score: f64, _: &_| score;
        each_member_of_intersection(
            router,
            db,
            sources,
            keep_any,
            |_, _, _| {},
            |_, _| {
                count += 1;
                limit == 0 || count < limit
            },
        )
        .await;
        Ok(Outcome::Reply(Reply::Integer(count as i64)))
    };
    Some(read_locked(router, db, client.options, spec, keys, count).await)
}
