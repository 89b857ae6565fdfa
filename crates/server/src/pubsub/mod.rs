//! Publish/subscribe across cores: SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE
//! SSUBSCRIBE SUNSUBSCRIBE PUBLISH SPUBLISH PUBSUB.
//!
//! A subscriber lives on the core its connection was accepted on. PUBLISH runs on the
//! publisher's core: its copy of the directory ([`registry`]) names the cores with
//! receivers, and each of them gets one message carrying the publication (shared, never
//! copied per subscriber); that core encodes the frame once per protocol and queues it in
//! each subscriber's [`crate::outbox::Outbox`]. Messages from one core to another travel
//! in order, so every subscriber sees one publisher's messages in publish order.
//!
//! Shard channels (SSUBSCRIBE/SPUBLISH) are a namespace of their own; without cluster mode
//! they behave as channels without patterns, as in a standalone Redis.

pub mod keyspace_events;
pub mod registry;

use crate::dispatch::Session;
use crate::outbox::Pushed;
use crate::shard_state::{ClientInfo, ShardRouter, ShardState};
use bytes::Bytes;
pub use keyspace_events::{publish_in_key_order, publish_key_events};
use peregrine_commands::{check_subcommand, Arity::*, Subcommand};
use peregrine_commands::{Flag, KeySpec};
use peregrine_resp::{Argv, Protocol, Reply};
pub use registry::{Kind, PubSubCore};
use std::collections::HashSet;
use std::rc::Rc;
use std::sync::Arc;

/// A connection's subscriptions.
#[derive(Default)]
pub struct Subscriptions {
    names: [HashSet<Bytes, ahash::RandomState>; 3],
}

impl Subscriptions {
    /// Subscriptions of `kind`.
    pub fn count(&self, kind: Kind) -> usize {
        self.names[kind.index()].len()
    }

    /// True when the client has any subscription (RESP2's subscribed state).
    pub fn any(&self) -> bool {
        self.names.iter().any(|names| !names.is_empty())
    }

    /// The count SUBSCRIBE-family confirmations carry: channels and patterns together,
    /// shard channels on their own.
    fn confirmation_count(&self, kind: Kind) -> usize {
        match kind {
            Kind::ShardChannel => self.count(Kind::ShardChannel),
            Kind::Channel | Kind::Pattern => self.count(Kind::Channel) + self.count(Kind::Pattern),
        }
    }
}

/// A published message on its way to the subscribers of one or more cores.
pub struct Publication {
    kind: Kind,
    channel: Bytes,
    message: Bytes,
    /// Subscribed patterns that match the channel.
    patterns: Vec<Bytes>,
}

fn words(kind: Kind) -> (&'static str, &'static str, &'static str) {
    match kind {
        Kind::Channel => ("subscribe", "unsubscribe", "message"),
        Kind::Pattern => ("psubscribe", "punsubscribe", "pmessage"),
        Kind::ShardChannel => ("ssubscribe", "sunsubscribe", "smessage"),
    }
}

fn push_header(protocol: Protocol, elements: usize, out: &mut Vec<u8>) {
    out.push(match protocol {
        Protocol::Resp2 => b'*',
        Protocol::Resp3 => b'>',
    });
    out.extend_from_slice(itoa::Buffer::new().format(elements).as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn push_bulk(bytes: &[u8], out: &mut Vec<u8>) {
    out.push(b'$');
    out.extend_from_slice(itoa::Buffer::new().format(bytes.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
}

/// Encodes a (un)subscribe confirmation: `[word, name or nil, count]`.
fn confirmation(
    protocol: Protocol,
    word: &str,
    name: Option<&[u8]>,
    count: usize,
    out: &mut Vec<u8>,
) {
    push_header(protocol, 3, out);
    push_bulk(word.as_bytes(), out);
    match (name, protocol) {
        (Some(name), _) => push_bulk(name, out),
        (None, Protocol::Resp2) => out.extend_from_slice(b"$-1\r\n"),
        (None, Protocol::Resp3) => out.extend_from_slice(b"_\r\n"),
    }
    out.push(b':');
    out.extend_from_slice(itoa::Buffer::new().format(count).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Encodes a message frame: `[message, channel, payload]` or `[pmessage, pattern,
/// channel, payload]`.
fn message_frame(
    protocol: Protocol,
    word: &str,
    pattern: Option<&[u8]>,
    publication: &Publication,
) -> Bytes {
    let mut frame = Vec::with_capacity(publication.channel.len() + publication.message.len() + 48);
    push_header(protocol, 3 + usize::from(pattern.is_some()), &mut frame);
    push_bulk(word.as_bytes(), &mut frame);
    if let Some(pattern) = pattern {
        push_bulk(pattern, &mut frame);
    }
    push_bulk(&publication.channel, &mut frame);
    push_bulk(&publication.message, &mut frame);
    Bytes::from(frame)
}

fn update_client_info(session: &Session) {
    let subscriptions = &session.subscriptions;
    session.info.subscriptions.set([
        subscriptions.count(Kind::Channel) as u32,
        subscriptions.count(Kind::Pattern) as u32,
        subscriptions.count(Kind::ShardChannel) as u32,
    ]);
}

/// SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE: one confirmation per name, sent once every core's
/// directory counts the new subscriptions.
pub async fn subscribe(session: &mut Session, kind: Kind, argv: &Argv) -> Reply {
    let (word, _, _) = words(kind);
    let state = session.shard().clone();
    let mut frames = Vec::new();
    let mut added = Vec::new();
    for name in &argv[1..] {
        if session.subscriptions.names[kind.index()].insert(name.clone()) {
            state
                .pubsub
                .borrow_mut()
                .add_local(kind, name, &session.info);
            added.push(name.clone());
        }
        let count = session.subscriptions.confirmation_count(kind);
        confirmation(session.protocol, word, Some(name), count, &mut frames);
    }
    update_client_info(session);
    announce(&session.router, kind, added, 1).await;
    Reply::Raw(frames.into())
}

/// UNSUBSCRIBE, PUNSUBSCRIBE, SUNSUBSCRIBE: the names given, or all of the kind; one
/// confirmation per name (a single one with a nil name when there was nothing).
pub async fn unsubscribe(session: &mut Session, kind: Kind, argv: &Argv) -> Reply {
    let (_, word, _) = words(kind);
    let names: Vec<Bytes> = if argv.len() > 1 {
        argv[1..].to_vec()
    } else {
        session.subscriptions.names[kind.index()]
            .iter()
            .cloned()
            .collect()
    };
    let mut frames = Vec::new();
    if names.is_empty() {
        let count = session.subscriptions.confirmation_count(kind);
        confirmation(session.protocol, word, None, count, &mut frames);
        return Reply::Raw(frames.into());
    }
    let mut removed = Vec::new();
    for name in &names {
        removed.extend(forget(session, kind, std::slice::from_ref(name)));
        let count = session.subscriptions.confirmation_count(kind);
        confirmation(session.protocol, word, Some(name), count, &mut frames);
    }
    announce(&session.router, kind, removed, -1).await;
    Reply::Raw(frames.into())
}

/// Drops `names` of `kind` from the session and this core's subscriber lists; returns
/// those that were subscribed.
fn forget(session: &mut Session, kind: Kind, names: &[Bytes]) -> Vec<Bytes> {
    let state = session.shard().clone();
    let mut pubsub = state.pubsub.borrow_mut();
    let removed: Vec<Bytes> = names
        .iter()
        .filter(|name| session.subscriptions.names[kind.index()].remove(*name))
        .cloned()
        .collect();
    for name in &removed {
        pubsub.remove_local(kind, name, session.info.id);
    }
    drop(pubsub);
    update_client_info(session);
    removed
}

/// Ends every subscription of a closing or RESET connection.
pub async fn forget_all(session: &mut Session) {
    for kind in [Kind::Channel, Kind::Pattern, Kind::ShardChannel] {
        let names: Vec<Bytes> = session.subscriptions.names[kind.index()]
            .iter()
            .cloned()
            .collect();
        if names.is_empty() {
            continue;
        }
        let removed = forget(session, kind, &names);
        announce(&session.router, kind, removed, -1).await;
    }
}

/// Applies a subscription change of this core to every core's directory copy and waits
/// until all have it.
async fn announce(router: &Rc<ShardRouter>, kind: Kind, names: Vec<Bytes>, delta: i64) {
    if names.is_empty() {
        return;
    }
    let origin = router.me();
    let cores = router.shard_count();
    let names = Arc::new(names);
    let updates = router.shards().map(|shard| {
        let names = names.clone();
        router.invoke_on(shard, move |state: Rc<ShardState>| async move {
            state
                .pubsub
                .borrow_mut()
                .apply(kind, &names, origin, delta, cores);
        })
    });
    join_all(updates.collect()).await;
}

/// Awaits every future (they make progress together).
async fn join_all<F: std::future::Future<Output = ()>>(futures: Vec<F>) {
    let mut futures: Vec<Option<std::pin::Pin<Box<F>>>> = futures
        .into_iter()
        .map(|future| Some(Box::pin(future)))
        .collect();
    std::future::poll_fn(|context| {
        let mut pending = false;
        for slot in futures.iter_mut() {
            if let Some(future) = slot {
                if future.as_mut().poll(context).is_ready() {
                    *slot = None;
                } else {
                    pending = true;
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
}

/// Publishes `message` on `channel` from this core; returns the number of receivers.
/// Synchronous: local subscribers get it now, other cores one message each.
pub fn publish(router: &ShardRouter, kind: Kind, channel: Bytes, message: Bytes) -> i64 {
    let state = router.state();
    let route = state.pubsub.borrow().route(kind, &channel);
    if route.cores.is_empty() {
        return 0;
    }
    let publication = Arc::new(Publication {
        kind,
        channel,
        message,
        patterns: route.patterns,
    });
    for core in route.cores {
        if core == router.me() {
            deliver(state, &publication);
        } else {
            let publication = publication.clone();
            router.post(core, move |state: &Rc<ShardState>| {
                deliver(state, &publication)
            });
        }
    }
    route.receivers as i64
}

/// Queues `publication` for its subscribers on this core: channel subscribers first, then
/// pattern subscribers, as Redis.
fn deliver(state: &Rc<ShardState>, publication: &Publication) {
    let limit = state.pubsub_output_limit();
    let pubsub = state.pubsub.borrow();
    let (_, _, word) = words(publication.kind);
    let channel_subscribers = pubsub.local(publication.kind, &publication.channel);
    fan_out(channel_subscribers, limit, |protocol| {
        message_frame(protocol, word, None, publication)
    });
    for pattern in &publication.patterns {
        fan_out(pubsub.local(Kind::Pattern, pattern), limit, |protocol| {
            message_frame(protocol, "pmessage", Some(pattern), publication)
        });
    }
}

/// Queues one frame for each of `subscribers`, encoded by `encode` once per protocol and
/// shared by all of them.
fn fan_out(
    subscribers: &[Rc<ClientInfo>],
    limit: crate::outbox::OutputLimit,
    encode: impl Fn(Protocol) -> Bytes,
) {
    let mut frames: [Option<Bytes>; 2] = [None, None];
    for client in subscribers {
        let protocol = client_protocol(client);
        let frame = frames[protocol_index(protocol)].get_or_insert_with(|| encode(protocol));
        push_shared(client, frame, limit);
    }
}

fn client_protocol(client: &ClientInfo) -> Protocol {
    if client.resp.get() == 3 {
        Protocol::Resp3
    } else {
        Protocol::Resp2
    }
}

fn protocol_index(protocol: Protocol) -> usize {
    match protocol {
        Protocol::Resp2 => 0,
        Protocol::Resp3 => 1,
    }
}

/// Queues a push for `client`, disconnecting it when that takes it over its output limit.
pub(crate) fn push(client: &ClientInfo, frame: &[u8], limit: crate::outbox::OutputLimit) {
    if client.killed.get() {
        return;
    }
    let pushed = client.outbox.push(frame, limit);
    over_limit_closes(client, pushed);
}

/// [`push`] of a frame other clients may share.
pub(crate) fn push_shared(client: &ClientInfo, frame: &Bytes, limit: crate::outbox::OutputLimit) {
    if client.killed.get() {
        return;
    }
    let pushed = client.outbox.push_shared(frame, limit);
    over_limit_closes(client, pushed);
}

fn over_limit_closes(client: &ClientInfo, pushed: Pushed) {
    if pushed == Pushed::OverLimit {
        tracing::warn!(
            client = %client.describe(),
            "Client scheduled to be closed ASAP for overcoming of output buffer limits."
        );
        client.close();
    }
}

/// PUBLISH channel message / SPUBLISH shardchannel message.
pub fn publish_command(session: &Session, kind: Kind, argv: &Argv) -> Reply {
    Reply::Integer(publish(
        &session.router,
        kind,
        argv[1].clone(),
        argv[2].clone(),
    ))
}

/// PUBSUB's subcommands.
#[rustfmt::skip]
pub const PUBSUB_SUBCOMMANDS: &[Subcommand] = &[
    Subcommand { name: "channels",      full_name: "pubsub|channels", arity: AtLeast(2), flags: &[Flag::PubSub, Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
    Subcommand { name: "numsub",        full_name: "pubsub|numsub", arity: AtLeast(2), flags: &[Flag::PubSub, Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
    Subcommand { name: "numpat",        full_name: "pubsub|numpat", arity: Exactly(2), flags: &[Flag::PubSub, Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
    Subcommand { name: "shardchannels", full_name: "pubsub|shardchannels", arity: AtLeast(2), flags: &[Flag::PubSub, Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
    Subcommand { name: "shardnumsub",   full_name: "pubsub|shardnumsub", arity: AtLeast(2), flags: &[Flag::PubSub, Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
    Subcommand { name: "help",          full_name: "pubsub|help", arity: Exactly(2), flags: &[Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
];

/// PUBSUB CHANNELS|NUMSUB|NUMPAT|SHARDCHANNELS|SHARDNUMSUB|HELP, answered from this
/// core's directory copy.
pub fn pubsub_command(session: &Session, argv: &Argv) -> Reply {
    let subcommand = match check_subcommand("pubsub", PUBSUB_SUBCOMMANDS, argv) {
        Ok(subcommand) => subcommand.name,
        Err(error) => return error.into_reply(),
    };
    let pubsub = session.shard().pubsub.borrow();
    let names = |kind: Kind| {
        if argv.len() > 3 {
            return Reply::error(format!(
                "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
                String::from_utf8_lossy(&argv[1])
            ));
        }
        let pattern = argv.get(2).map(|pattern| pattern.as_ref());
        Reply::Array(
            pubsub
                .names(kind, pattern)
                .into_iter()
                .map(Reply::Bulk)
                .collect(),
        )
    };
    let counts = |kind: Kind| {
        Reply::Array(
            argv[2..]
                .iter()
                .flat_map(|name| {
                    [
                        Reply::Bulk(name.clone()),
                        Reply::Integer(pubsub.subscribers(kind, name) as i64),
                    ]
                })
                .collect(),
        )
    };
    match subcommand {
        "channels" => names(Kind::Channel),
        "shardchannels" => names(Kind::ShardChannel),
        "numsub" => counts(Kind::Channel),
        "shardnumsub" => counts(Kind::ShardChannel),
        "numpat" => Reply::Integer(pubsub.count(Kind::Pattern) as i64),
        _ => Reply::help(&[
            "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
            "HELP",
            "    Print this help.",
        ]),
    }
}

/// True when a RESP2 client in the subscribed state may run `name`.
pub fn allowed_while_subscribed(name: &str) -> bool {
    matches!(
        name,
        "subscribe"
            | "unsubscribe"
            | "psubscribe"
            | "punsubscribe"
            | "ssubscribe"
            | "sunsubscribe"
            | "ping"
            | "quit"
            | "reset"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_redis_wire_format() {
        let publication = Publication {
            kind: Kind::Channel,
            channel: Bytes::from_static(b"news"),
            message: Bytes::from_static(b"hi"),
            patterns: vec![],
        };
        assert_eq!(
            &message_frame(Protocol::Resp2, "message", None, &publication)[..],
            b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
        );
        assert_eq!(
            &message_frame(Protocol::Resp3, "pmessage", Some(b"n*"), &publication)[..],
            b">4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
        );
        let mut out = Vec::new();
        confirmation(Protocol::Resp2, "unsubscribe", None, 0, &mut out);
        assert_eq!(out, b"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n");
        out.clear();
        confirmation(Protocol::Resp3, "subscribe", Some(b"a"), 2, &mut out);
        assert_eq!(out, b">3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:2\r\n");
    }

    #[test]
    fn routes_count_channel_and_pattern_receivers_per_core() {
        let mut core = PubSubCore::default();
        let names = |list: &[&'static [u8]]| -> Vec<Bytes> {
            list.iter().map(|name| Bytes::from_static(name)).collect()
        };
        core.apply(
            Kind::Channel,
            &names(&[b"news"]),
            peregrine_shard::ShardId(1),
            2,
            4,
        );
        core.apply(
            Kind::Pattern,
            &names(&[b"n*", b"x*"]),
            peregrine_shard::ShardId(3),
            1,
            4,
        );
        let route = core.route(Kind::Channel, b"news");
        assert_eq!(route.receivers, 3);
        assert_eq!(
            route.cores,
            vec![peregrine_shard::ShardId(1), peregrine_shard::ShardId(3)]
        );
        assert_eq!(route.patterns, names(&[b"n*"]));
        assert_eq!(core.route(Kind::ShardChannel, b"news").receivers, 0);
        core.apply(
            Kind::Channel,
            &names(&[b"news"]),
            peregrine_shard::ShardId(1),
            -2,
            4,
        );
        assert_eq!(core.subscribers(Kind::Channel, b"news"), 0);
        assert!(core.names(Kind::Channel, None).is_empty());
        assert_eq!(core.count(Kind::Pattern), 2);
    }
}
