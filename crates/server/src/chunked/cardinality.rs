//! SINTERCARD and ZINTERCARD over huge sources (see the module above): the intersection
//! is counted, not built, and the count stops at LIMIT.

use super::{
    counted_keys, each_member_of_plain_intersection, is_huge, read_locked, sources, Outcome,
    Request,
};
use peregrine_commands::{parse_integer, CommandError};
use peregrine_resp::Reply;

/// Runs `spec`'s command (`argv`: numkeys key ... [LIMIT limit]) here when its sources
/// are huge; `None` otherwise, and whenever the arguments or a source's type are wrong
/// (the handler then replies the error).
pub(super) async fn run_if_huge(request: &Request<'_>) -> Option<Result<Outcome, CommandError>> {
    let (router, db, client, spec, argv) = request.parts();
    let (keys, end) = counted_keys(argv, 1)?;
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
        each_member_of_plain_intersection(router, db, sources, |_, _| {
            count += 1;
            limit == 0 || count < limit
        })
        .await;
        Ok(Outcome::Reply(Reply::Integer(count as i64)))
    };
    Some(read_locked(router, db, client.options, spec, keys, count).await)
}
