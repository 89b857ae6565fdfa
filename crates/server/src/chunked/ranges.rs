//! LRANGE and the ZRANGE family (ZRANGE, ZREVRANGE, ZRANGEBYSCORE, ZREVRANGEBYSCORE,
//! ZRANGEBYLEX, ZREVRANGEBYLEX) selecting more than
//! [`CHUNKED_ABOVE`](super::CHUNKED_ABOVE) elements (see the module above): the range is
//! resolved under a shared lock on the key, read a chunk of positions at a time, and its
//! reply encoded as it comes, in buffers. ZRANGESTORE of such a range reads its source
//! the same way, under the locks of a STORE form, and builds the result in bounded steps.

use super::{
    read_key_in_chunks, store_locked, KeyChunk, Outcome, Request, Shape, Steps, Store, CHUNK,
    CHUNKED_ABOVE,
};
use crate::shard_state::{unix_millis, ShardRouter, ShardState};
use peregrine_commands::list::lrange_span;
use peregrine_commands::sorted_set::range_selection;
use peregrine_commands::{CommandError, EventClass};
use peregrine_keyspace::collections::SortedSet;
use peregrine_keyspace::{DbIndex, Value};
use peregrine_resp::Argv;
use peregrine_shard::ShardId;
use std::ops::Range;
use std::rc::Rc;

/// True for the range reads this module runs.
pub(super) fn is_range_read(name: &str) -> bool {
    matches!(
        name,
        "lrange"
            | "zrange"
            | "zrevrange"
            | "zrangebyscore"
            | "zrevrangebyscore"
            | "zrangebylex"
            | "zrevrangebylex"
    )
}

/// How many elements the range read `name` (`argv`) selects of `value`; `None` when the
/// value has another type or the arguments are invalid (the handler replies then).
pub(super) fn selected(name: &str, argv: &Argv, value: &Value) -> Option<usize> {
    Some(selection(name, argv, value).ok()?.positions.len())
}

/// A resolved range: the positions (list indexes or sorted-set ranks, ascending), walked
/// backwards when `reverse`, members with their scores when `with_scores`.
struct Selection {
    positions: Range<usize>,
    reverse: bool,
    with_scores: bool,
}

fn selection(name: &str, argv: &Argv, value: &Value) -> Result<Selection, CommandError> {
    match value {
        Value::List(list) if name == "lrange" => Ok(Selection {
            positions: lrange_span(argv, list.len())?,
            reverse: false,
            with_scores: false,
        }),
        Value::SortedSet(set) if name != "lrange" => {
            let chosen = range_selection(name, argv, set)?;
            Ok(Selection {
                positions: chosen.ranks,
                reverse: chosen.reverse,
                // A store keeps the scores.
                with_scores: chosen.with_scores || name == "zrangestore",
            })
        }
        _ => Err(CommandError::WrongType),
    }
}

/// A member, with its score when the reply has scores.
type Element = (Vec<u8>, Option<f64>);

/// Runs the range read `request` here when it selects more than
/// [`CHUNKED_ABOVE`](super::CHUNKED_ABOVE) elements; `None` otherwise (the handler then
/// replies, errors included).
pub(super) async fn run_if_huge(request: &Request<'_>) -> Option<Result<Outcome, CommandError>> {
    let (router, db, name, argv) = (request.router, request.db, request.spec.name, request.argv);
    read_key_in_chunks(
        request,
        |shard, _, offset| read_chunk(router, db, shard, name, argv, offset),
        |reply, (member, score): &Element| match score {
            Some(score) => reply.scored(member, *score),
            None => reply.member(member),
        },
    )
    .await
}

/// Runs ZRANGESTORE (`request`) here when its range selects more than
/// [`CHUNKED_ABOVE`] members of its source; `None` otherwise (the handler then runs,
/// errors included). The source is locked shared and the destination exclusively from the
/// first read to the store, as for the other STORE forms.
pub(super) async fn store_if_huge(request: &Request<'_>) -> Option<Result<Outcome, CommandError>> {
    let (router, db, _, spec, argv) = request.parts();
    let source = argv.get(2)?.clone();
    let shard = ShardId::for_key(&source, router.shard_count());
    let first = read_chunk(router, db, shard, spec.name, argv, None)
        .await
        .ok()??;
    if first.size <= CHUNKED_ABOVE {
        return None;
    }
    let limits = router.state().limits().encoding;
    let compute = async {
        // Built in the big encoding, as the handler builds a result of this size.
        let mut result = SortedSet::new_skiplist();
        let mut steps = Steps::new();
        let mut cursor = Some(0);
        while let Some(at) = cursor {
            // Gone since the first look: an empty result, as the handler stores for a
            // missing source.
            let Some(chunk) = read_chunk(router, db, shard, spec.name, argv, Some(at)).await?
            else {
                break;
            };
            for (member, score) in &chunk.elements {
                result.insert(member, score.unwrap_or_default(), &limits);
                steps.tick().await;
            }
            cursor = chunk.next;
        }
        Ok(result)
    };
    let sources = [source.clone()];
    let store = Store::of(request, &sources, EventClass::SortedSet);
    Some(store_locked(router, db, store, compute).await)
}

/// On the key's shard: how many elements the range read selects now and (with
/// `offset`) the next [`CHUNK`] of them from `offset` on, in reply order. `None` when the
/// key (ZRANGESTORE's source) is missing; WRONGTYPE or the argument error otherwise.
async fn read_chunk(
    router: &ShardRouter,
    db: DbIndex,
    shard: ShardId,
    name: &'static str,
    argv: &Argv,
    offset: Option<u64>,
) -> Result<Option<KeyChunk<Element>>, CommandError> {
    let argv = argv.clone();
    router
        .invoke_on(shard, move |state: Rc<ShardState>| async move {
            let now = unix_millis();
            let mut keyspace = state.keyspace.borrow_mut();
            let key = &argv[if name == "zrangestore" { 2 } else { 1 }];
            let Some(entry) = keyspace.db(db).get_live(key, now) else {
                return Ok(None);
            };
            let chosen = selection(name, &argv, &entry.value)?;
            let total = chosen.positions.len();
            let mut elements = Vec::new();
            let offset = offset.map(|offset| usize::try_from(offset).unwrap_or(usize::MAX));
            let mut next = None;
            if let Some(offset) = offset.filter(|&offset| offset < total) {
                let count = CHUNK.min(total - offset);
                // Reply order: ascending from the first position, or descending from the
                // last one.
                let part = if chosen.reverse {
                    chosen.positions.end - offset - count..chosen.positions.end - offset
                } else {
                    chosen.positions.start + offset..chosen.positions.start + offset + count
                };
                elements.reserve(count);
                let scored = chosen.with_scores;
                match &entry.value {
                    Value::List(list) => elements.extend(
                        list.iter_from(part.start)
                            .take(count)
                            .map(|element| (element.to_vec(), None)),
                    ),
                    Value::SortedSet(set) => set.walk(part, chosen.reverse, |member, score| {
                        elements.push((member.to_vec(), scored.then_some(score)))
                    }),
                    _ => {}
                }
                next = Some(offset + count)
                    .filter(|&end| end < total)
                    .map(|end| end as u64);
            }
            Ok(Some(KeyChunk {
                size: total,
                elements,
                next,
                shape: if chosen.with_scores {
                    Shape::Pairs
                } else {
                    Shape::Array
                },
            }))
        })
        .await
}
