//! Keyspace notifications: the events commands record (`peregrine_commands::notify`)
//! published on `__keyspace@<db>__:<key>` and `__keyevent@<db>__:<event>`.
//!
//! A client's events are published from its connection's core (`ClientOptions::home`):
//! the shard that ran its commands sends them there before its reply, so one client's
//! events and its own PUBLISHes reach every subscriber in the order it ran them, whatever
//! shards its keys live on. Events of no client (active expiry) are published where they
//! happen.

use super::{publish, Kind};
use crate::shard_state::{ShardRouter, ShardState};
use bytes::Bytes;
use peregrine_commands::{EventFlags, KeyEvent};
use peregrine_shard::ShardId;
use std::collections::HashMap;
use std::rc::Rc;

/// Publishes the events `state`'s shard recorded since the last call, from core `home`
/// (`None`: from this core). Costs one flag test while notifications are off.
pub fn publish_key_events(state: &ShardState, home: Option<u16>) {
    let flags = state.notifier.borrow().flags();
    if flags.is_empty() || state.keep_key_events.get() {
        return;
    }
    let events = state.take_key_events();
    if events.is_empty() {
        return;
    }
    let Some(router) = state.router() else { return };
    match home.map(ShardId) {
        Some(home) if home != router.me() => router.post(home, move |state: &Rc<ShardState>| {
            if let Some(router) = state.router() {
                publish_events(&router, flags, events);
            }
        }),
        _ => publish_events(&router, flags, events),
    }
}

/// Publishes the events of a split command's parts from this core, in the order of the
/// command's keys `keys` (an event of another key after them), as Redis notifies key by
/// key in argument order.
pub fn publish_in_key_order<'a>(
    state: &ShardState,
    keys: impl IntoIterator<Item = &'a [u8]>,
    mut events: Vec<KeyEvent>,
) {
    let flags = state.notifier.borrow().flags();
    if flags.is_empty() || events.is_empty() {
        return;
    }
    let Some(router) = state.router() else { return };
    // Each key's first place among the command's keys (one lookup per event, not a scan).
    let mut order: HashMap<&[u8], usize, ahash::RandomState> = HashMap::default();
    for (place, key) in keys.into_iter().enumerate() {
        order.entry(key).or_insert(place);
    }
    events.sort_by_key(|event| order.get(&event.key[..]).copied().unwrap_or(usize::MAX));
    publish_events(&router, flags, events);
}

fn publish_events(router: &ShardRouter, flags: EventFlags, events: Vec<KeyEvent>) {
    for event in events {
        let name = Bytes::from_static(event.event.as_bytes());
        if flags.contains(EventFlags::KEYSPACE) {
            publish(
                router,
                Kind::Channel,
                event.keyspace_channel(),
                name.clone(),
            );
        }
        if flags.contains(EventFlags::KEYEVENT) {
            publish(router, Kind::Channel, event.keyevent_channel(), event.key);
        }
    }
}
