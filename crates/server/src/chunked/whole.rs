//! SMEMBERS, HGETALL, HKEYS and HVALS of a huge set or hash (see the module above): the
//! collection is read a chunk at a time under a shared lock, and its reply encoded as it
//! comes, in buffers.

use super::{read_key_in_chunks, KeyChunk, Outcome, Request, Shape, CHUNK};
use crate::shard_state::{unix_millis, ShardRouter, ShardState};
use bytes::Bytes;
use peregrine_commands::CommandError;
use peregrine_keyspace::{DbIndex, Value};
use peregrine_shard::ShardId;
use std::rc::Rc;

/// Which part of each element a command replies.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    /// A set's members (SMEMBERS).
    Members,
    /// A hash's fields and values (HGETALL).
    Both,
    /// A hash's fields (HKEYS).
    Fields,
    /// A hash's values (HVALS).
    Values,
}

/// True for the reads of a whole set or hash this module runs.
pub(super) fn is_whole_read(name: &str) -> bool {
    matches!(name, "smembers" | "hgetall" | "hkeys" | "hvals")
}

/// A member (and nothing), or a field and its value.
type Element = (Vec<u8>, Vec<u8>);

/// Runs `spec`'s command (`argv`: key) here when its key holds a set (SMEMBERS) or a
/// hash (the others) of more than [`CHUNKED_ABOVE`](super::CHUNKED_ABOVE) elements; `None`
/// otherwise (the handler then replies, WRONGTYPE included).
pub(super) async fn run_if_huge(request: &Request<'_>) -> Option<Result<Outcome, CommandError>> {
    let (router, db) = (request.router, request.db);
    let part = match request.spec.name {
        "smembers" => Part::Members,
        "hgetall" => Part::Both,
        "hkeys" => Part::Fields,
        _ => Part::Values,
    };
    read_key_in_chunks(
        request,
        |shard, key, cursor| read_chunk(router, db, shard, key, part, cursor),
        |reply, (first, second): &Element| match part {
            Part::Members | Part::Fields => reply.member(first),
            Part::Values => reply.member(second),
            Part::Both => reply.pair(first, second),
        },
    )
    .await
}

/// The size of the set or hash at `key` (`None`: missing; WRONGTYPE for another type)
/// and, from `cursor` on, the next [`CHUNK`] or so of its elements. A hash's fields past
/// their deadline are left out, as the handlers remove them before they reply.
async fn read_chunk(
    router: &ShardRouter,
    db: DbIndex,
    shard: ShardId,
    key: Bytes,
    part: Part,
    cursor: Option<u64>,
) -> Result<Option<KeyChunk<Element>>, CommandError> {
    let shape = match part {
        Part::Members => Shape::Set,
        Part::Both => Shape::Map,
        Part::Fields | Part::Values => Shape::Array,
    };
    router
        .invoke_on(shard, move |state: Rc<ShardState>| async move {
            let now = unix_millis();
            let mut keyspace = state.keyspace.borrow_mut();
            let value = keyspace.db(db).get_live(&key, now).map(|entry| &entry.value);
            let mut elements = Vec::new();
            let mut next = cursor.unwrap_or(0);
            let chunk = |size, elements, next| KeyChunk {
                size,
                elements,
                next: (next != 0).then_some(next),
                shape,
            };
            match value {
                Some(Value::Set(set)) if part == Part::Members => {
                    if cursor.is_some() {
                        loop {
                            next = set.scan(next, |member| elements.push((member.to_vec(), Vec::new())));
                            if next == 0 || elements.len() >= CHUNK {
                                break;
                            }
                        }
                    }
                    Ok(Some(chunk(set.len(), elements, next)))
                }
                Some(Value::Hash(hash)) if part != Part::Members => {
                    if cursor.is_some() {
                        let live = |field: &[u8]| {
                            !matches!(hash.field_deadline(field), Some(Some(at)) if at <= now)
                        };
                        loop {
                            next = hash.scan(next, |field, value| {
                                if live(field) {
                                    elements.push((field.to_vec(), value.to_vec()));
                                }
                            });
                            if next == 0 || elements.len() >= CHUNK {
                                break;
                            }
                        }
                    }
                    Ok(Some(chunk(hash.len(), elements, next)))
                }
                None => Ok(None),
                Some(_) => Err(CommandError::WrongType),
            }
        })
        .await
}
