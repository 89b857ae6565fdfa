//! LRANGE and the ZRANGE family (ZRANGE, ZREVRANGE, ZRANGEBYSCORE, ZREVRANGEBYSCORE,
//! ZRANGEBYLEX, ZREVRANGEBYLEX) selecting more than
//! [`CHUNKED_ABOVE`](super::CHUNKED_ABOVE) elements (see the module above): the range is
//! resolved under a shared lock on the key, read a chunk of positions at a time, and its
//! reply encoded as it comes, in buffers.

use super::{read_key_in_chunks, KeyChunk, Outcome, Request, Shape, CHUNK};
use crate::shard_state::{unix_millis, ShardRouter, ShardState};
use peregrine_commands::list::lrange_span;
use peregrine_commands::sorted_set::range_selection;
use peregrine_commands::CommandError;
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
                with_scores: chosen.with_scores,
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

/// On the key's shard: how many elements the range read selects now and (with
/// `offset`) the next [`CHUNK`] of them from `offset` on, in reply order. `None` when the
/// key is missing; WRONGTYPE or the argument error otherwise.
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
            let Some(entry) = keyspace.db(db).get_live(&argv[1], now) else {
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
