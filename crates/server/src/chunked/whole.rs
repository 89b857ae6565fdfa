//! SMEMBERS, HGETALL, HKEYS and HVALS of a huge set or hash (see the module above): the
//! collection is read a chunk at a time under a shared lock, and its reply encoded as it
//! comes, in buffers.

use super::{read_locked, ChunkedReply, Outcome, Request, Shape, Steps, CHUNK, CHUNKED_ABOVE};
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

/// One chunk of elements: a member (and nothing), or a field and its value.
type Elements = Vec<(Vec<u8>, Vec<u8>)>;

/// Runs `spec`'s command (`argv`: key) here when its key holds a set (SMEMBERS) or a
/// hash (the others) of more than [`CHUNKED_ABOVE`] elements; `None` otherwise (the
/// handler then replies, WRONGTYPE included).
pub(super) async fn run_if_huge(request: &Request<'_>) -> Option<Result<Outcome, CommandError>> {
    let (router, db, client, spec, argv) = request.parts();
    let part = match spec.name {
        "smembers" => Part::Members,
        "hgetall" => Part::Both,
        "hkeys" => Part::Fields,
        _ => Part::Values,
    };
    let key = argv.get(1)?.clone();
    let shard = ShardId::for_key(&key, router.shard_count());
    // The first look takes no lock and only decides the path.
    let len = read_chunk(router, db, shard, &key, part, None)
        .await
        .ok()??
        .0;
    if len <= CHUNKED_ABOVE {
        return None;
    }
    let read = async {
        let mut reply = ChunkedReply::new(client.protocol);
        let mut steps = Steps::new();
        let mut cursor = 0;
        loop {
            // Gone since the first look: an empty reply; of another type now: WRONGTYPE.
            let Some((_, elements, next)) =
                read_chunk(router, db, shard, &key, part, Some(cursor)).await?
            else {
                break;
            };
            for (first, second) in &elements {
                match part {
                    Part::Members | Part::Fields => reply.member(first),
                    Part::Values => reply.member(second),
                    Part::Both => reply.pair(first, second),
                }
            }
            steps.tick_by(elements.len() as u32).await;
            if next == 0 {
                break;
            }
            cursor = next;
        }
        Ok(reply.finish(match part {
            Part::Members => Shape::Set,
            Part::Both => Shape::Map,
            Part::Fields | Part::Values => Shape::Array,
        }))
    };
    Some(
        read_locked(
            router,
            db,
            client.options,
            spec,
            std::slice::from_ref(&key),
            read,
        )
        .await,
    )
}

/// The size of the set or hash at `key` (`None`: missing; WRONGTYPE for another type)
/// and, from `cursor` on, the next [`CHUNK`] or so of its elements with the cursor to go
/// on from (0: done). A hash's fields past their deadline are left out, as the handlers
/// remove them before they reply.
async fn read_chunk(
    router: &ShardRouter,
    db: DbIndex,
    shard: ShardId,
    key: &Bytes,
    part: Part,
    cursor: Option<u64>,
) -> Result<Option<(usize, Elements, u64)>, CommandError> {
    let key = key.clone();
    router
        .invoke_on(shard, move |state: Rc<ShardState>| async move {
            let now = unix_millis();
            let mut keyspace = state.keyspace.borrow_mut();
            let value = keyspace.db(db).get_live(&key, now).map(|entry| &entry.value);
            let mut elements = Elements::new();
            let mut next = cursor.unwrap_or(0);
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
                    Ok(Some((set.len(), elements, next)))
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
                    Ok(Some((hash.len(), elements, next)))
                }
                None => Ok(None),
                Some(_) => Err(CommandError::WrongType),
            }
        })
        .await
}
