//! Publish/subscribe: PUBLISH, SPUBLISH, PUBSUB CHANNELS | NUMSUB | NUMPAT |
//! SHARDCHANNELS | SHARDNUMSUB, and the second client's SUBSCRIBE,
//! PSUBSCRIBE, SSUBSCRIBE and their UNSUBSCRIBE counterparts.
//!
//! The main connection stays a normal client: it only publishes and asks. The
//! second client subscribes within one recipe ([`second_client_session`]) and
//! unsubscribes from everything before the recipe ends, so other families find
//! it a normal client again. Its first subscription is the sync channel
//! ([`SYNC_CHANNEL`]), so that what it receives is read and compared after every
//! command like any subscriber stream (`stream`), and that channel goes last.
//! In RESP2 each name of a (un)subscribe is answered by its own frame
//! ([`Command::frames`]); an UNSUBSCRIBE without names lists the client's names in
//! hash-table order, so those frames are compared by name set and count sequence
//! ([`Comparison::UnsubscribeAll`]).
//!
//! The channel names mix ones the stream subscribers listen on ([`SUBSCRIBED_CHANNELS`],
//! [`SUBSCRIBED_PATTERNS`], [`RESP3_PATTERNS`], [`SUBSCRIBED_SHARD_CHANNELS`]) with ones
//! nobody does, the empty name and a binary one; payloads include the empty string
//! and binary bytes. PUBSUB CHANNELS and SHARDCHANNELS list channels in hash-table
//! order and are compared as sets.

use super::values::{key, value};
use super::{Command, Context, Recipe};
use crate::compare::Comparison;

/// The channel every stream subscriber (and the second client while subscribed)
/// listens on; the driver publishes a counter there after every command. No
/// pattern of this module matches it.
pub const SYNC_CHANNEL: &[u8] = b"~sync~";

/// Channels PUBLISH sends to.
pub const CHANNELS: &[&[u8]] = &[
    b"news",
    b"news.sport",
    b"news.weather",
    b"chat",
    b"chat:1",
    b"alerts",
    b"orders",
    b"nobody",
    b"",
    b"bin\x00\xff\r\n",
];

/// Channels the RESP2 stream subscriber subscribes to (besides [`SYNC_CHANNEL`]).
pub const SUBSCRIBED_CHANNELS: &[&[u8]] = &[b"news", b"chat:1", b"bin\x00\xff\r\n"];

/// Patterns the RESP2 stream subscriber subscribes to (besides the keyspace one).
pub const SUBSCRIBED_PATTERNS: &[&[u8]] = &[b"news.*", b"ch?t*", b"[ab]*"];

/// Patterns the RESP3 stream subscriber subscribes to.
pub const RESP3_PATTERNS: &[&[u8]] = &[b"*sport*", b"*:1"];

/// Shard channels SPUBLISH sends to (a namespace of their own: `news` here is
/// not the channel `news`).
pub const SHARD_CHANNELS: &[&[u8]] = &[
    b"orders",
    b"orders:{1}",
    b"payments",
    b"news",
    b"s\x00\xff",
    b"",
];

/// Shard channels the RESP3 stream subscriber subscribes to.
pub const SUBSCRIBED_SHARD_CHANNELS: &[&[u8]] = &[b"orders", b"orders:{1}", b"s\x00\xff"];

/// Patterns the second client may subscribe to; none matches [`SYNC_CHANNEL`].
const PATTERNS: &[&[u8]] = &[
    b"news.*",
    b"ch?t*",
    b"[ab]*",
    b"n*s",
    b"*sport*",
    b"chat:[0-9]",
    b"a\\*",
    b"",
];

/// Patterns given to PUBSUB CHANNELS and SHARDCHANNELS. `*` and `?*` both list every
/// channel but `""`: Redis's glob (`stringmatchlen`) matches no non-empty pattern
/// against the empty name.
const QUERY_PATTERNS: &[&[u8]] = &[
    b"*", b"?*", b"news*", b"n?ws", b"[a-c]*", b"*:*", b"~*", b"nomatch", b"", b"*\x00*",
];

/// Payloads: empty, binary, CRLF inside, long, and the general value pool.
fn payload(context: &mut Context<'_>) -> Vec<u8> {
    match context.rng.below(8) {
        0 => Vec::new(),
        1 => b"\x00\xff\r\n*3\r\n".to_vec(),
        2 => vec![b'p'; 100],
        3 => b"hello".to_vec(),
        _ => value(context),
    }
}

/// The publish/subscribe family's recipes.
#[rustfmt::skip]
pub const RECIPES: &[Recipe] = &[
    Recipe { weight: 10, build: publish },
    Recipe { weight: 5,  build: spublish },
    Recipe { weight: 6,  build: introspection },
    Recipe { weight: 2,  build: misuse },
    Recipe { weight: 5,  build: second_client_session },
];

/// PUBLISH to one of [`CHANNELS`], sometimes to a key name.
fn publish(context: &mut Context<'_>) -> Vec<Command> {
    let channel = if context.chance(90) {
        context.pick(CHANNELS).to_vec()
    } else {
        key(context)
    };
    let message = payload(context);
    vec![Command::new("PUBLISH").arg(channel).arg(message)]
}

/// SPUBLISH to one of [`SHARD_CHANNELS`].
fn spublish(context: &mut Context<'_>) -> Vec<Command> {
    let channel = context.pick(SHARD_CHANNELS);
    let message = payload(context);
    vec![Command::new("SPUBLISH").arg(channel).arg(message)]
}

/// Up to four channel names for NUMSUB / SHARDNUMSUB, the sync channel among them at times.
fn some_channels(context: &mut Context<'_>, pool: &[&[u8]]) -> Vec<Vec<u8>> {
    let count = context.between(0, 4);
    (0..count)
        .map(|_| {
            if context.chance(10) {
                SYNC_CHANNEL.to_vec()
            } else {
                context.pick(pool).to_vec()
            }
        })
        .collect()
}

/// PUBSUB CHANNELS [pattern], NUMSUB, NUMPAT, SHARDCHANNELS [pattern], SHARDNUMSUB.
fn introspection(context: &mut Context<'_>) -> Vec<Command> {
    let command = match context.rng.below(10) {
        0..=2 => {
            let mut command = Command::new("PUBSUB").arg("CHANNELS");
            if context.chance(70) {
                command = command.arg(context.pick(QUERY_PATTERNS));
            }
            command.compared(Comparison::Unordered)
        }
        3..=4 => {
            let channels = some_channels(context, CHANNELS);
            Command::new("PUBSUB").arg("NUMSUB").args(channels)
        }
        5 => Command::new("PUBSUB").arg("NUMPAT"),
        6..=7 => {
            let mut command = Command::new("PUBSUB").arg("SHARDCHANNELS");
            if context.chance(70) {
                command = command.arg(context.pick(QUERY_PATTERNS));
            }
            command.compared(Comparison::Unordered)
        }
        _ => {
            let channels = some_channels(context, SHARD_CHANNELS);
            Command::new("PUBSUB").arg("SHARDNUMSUB").args(channels)
        }
    };
    vec![command]
}

/// Wrong arities and unknown PUBSUB subcommands. (Not PUBSUB HELP: its last line
/// is "Prints this help." in Redis 7.0 and "Print this help." in 7.2.)
fn misuse(context: &mut Context<'_>) -> Vec<Command> {
    let channel = context.pick(CHANNELS);
    let command = match context.rng.below(8) {
        0 => Command::new("PUBLISH").arg(channel),
        1 => Command::new("PUBLISH").arg(channel).arg("a").arg("b"),
        2 => Command::new("SPUBLISH").arg(channel),
        3 => Command::new("PUBSUB"),
        4 => Command::new("PUBSUB").arg("NOSUCH"),
        5 => Command::new("PUBSUB").arg("NUMPAT").arg("extra"),
        6 => Command::new("PUBSUB").arg("CHANNELS").arg("a").arg("b"),
        _ => Command::new("PUBSUB")
            .arg("SHARDCHANNELS")
            .arg("a")
            .arg("b"),
    };
    vec![command]
}

/// The three kinds of subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Channel,
    Pattern,
    ShardChannel,
}

impl Kind {
    fn subscribe(self) -> &'static str {
        match self {
            Kind::Channel => "SUBSCRIBE",
            Kind::Pattern => "PSUBSCRIBE",
            Kind::ShardChannel => "SSUBSCRIBE",
        }
    }

    fn unsubscribe(self) -> &'static str {
        match self {
            Kind::Channel => "UNSUBSCRIBE",
            Kind::Pattern => "PUNSUBSCRIBE",
            Kind::ShardChannel => "SUNSUBSCRIBE",
        }
    }

    fn pool(self) -> &'static [&'static [u8]] {
        match self {
            Kind::Channel => CHANNELS,
            Kind::Pattern => PATTERNS,
            Kind::ShardChannel => SHARD_CHANNELS,
        }
    }
}

/// What the second client is subscribed to, as the recipe goes.
#[derive(Debug, Default)]
struct Subscribed {
    channels: Vec<Vec<u8>>,
    patterns: Vec<Vec<u8>>,
    shard_channels: Vec<Vec<u8>>,
}

impl Subscribed {
    fn names(&mut self, kind: Kind) -> &mut Vec<Vec<u8>> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::ShardChannel => &mut self.shard_channels,
        }
    }

    /// `kind`'s command for `names` on the second client, one frame per name.
    fn subscribe(&mut self, kind: Kind, names: Vec<Vec<u8>>) -> Command {
        let command = Command::new(kind.subscribe())
            .args(&names)
            .frames(names.len())
            .on_second_client();
        let subscribed = self.names(kind);
        for name in names {
            if !subscribed.contains(&name) {
                subscribed.push(name);
            }
        }
        command
    }

    /// `kind`'s unsubscribe for `names` (all of the kind when empty).
    fn unsubscribe(&mut self, kind: Kind, names: Vec<Vec<u8>>) -> Command {
        let subscribed = self.names(kind);
        let mut command = Command::new(kind.unsubscribe()).on_second_client();
        if names.is_empty() {
            let count = subscribed.len();
            subscribed.clear();
            command = command.frames(count.max(1));
            if count > 1 {
                command = command.compared(Comparison::UnsubscribeAll);
            }
        } else {
            subscribed.retain(|name| !names.contains(name));
            command = command.frames(names.len()).args(names);
        }
        command
    }
}

/// One to `most` names of `kind`'s pool (duplicates possible).
fn names_of(context: &mut Context<'_>, kind: Kind, most: i64) -> Vec<Vec<u8>> {
    let count = context.between(1, most);
    (0..count)
        .map(|_| context.pick(kind.pool()).to_vec())
        .collect()
}

/// The second client subscribes (the sync channel first), the main client
/// publishes and asks PUBSUB while the second client subscribes to more, pings,
/// is refused a normal command, and unsubscribes from some; then it unsubscribes
/// from everything, the sync channel last among its channels, with no publication
/// in between.
fn second_client_session(context: &mut Context<'_>) -> Vec<Command> {
    let mut subscribed = Subscribed::default();
    let mut first = vec![SYNC_CHANNEL.to_vec()];
    if context.chance(70) {
        first.extend(names_of(context, Kind::Channel, 3));
    }
    let mut commands = vec![subscribed.subscribe(Kind::Channel, first).listening(true)];
    for _ in 0..context.between(2, 8) {
        let command = match context.rng.below(14) {
            0..=1 => {
                let names = names_of(context, Kind::Channel, 3);
                subscribed.subscribe(Kind::Channel, names)
            }
            2..=3 => {
                let names = names_of(context, Kind::Pattern, 2);
                subscribed.subscribe(Kind::Pattern, names)
            }
            4 => {
                let names = names_of(context, Kind::ShardChannel, 2);
                subscribed.subscribe(Kind::ShardChannel, names)
            }
            5..=7 => publish(context).remove(0),
            8 => spublish(context).remove(0),
            9 => introspection(context).remove(0),
            10 => {
                let mut ping = Command::new("PING").on_second_client();
                if context.chance(50) {
                    ping = ping.arg(payload(context));
                }
                ping
            }
            11 => Command::new("GET").key(key(context)).on_second_client(),
            12 => {
                // Some names, subscribed or not, never the sync channel.
                let kind = context.pick(&[Kind::Channel, Kind::Pattern, Kind::ShardChannel]);
                let names = names_of(context, kind, 2);
                let names = names
                    .into_iter()
                    .filter(|name| name.as_slice() != SYNC_CHANNEL)
                    .collect::<Vec<_>>();
                if names.is_empty() {
                    continue;
                }
                subscribed.unsubscribe(kind, names)
            }
            _ => {
                // Everything of a kind that does not hold the sync channel.
                let kind = context.pick(&[Kind::Pattern, Kind::ShardChannel]);
                subscribed.unsubscribe(kind, Vec::new())
            }
        };
        commands.push(command);
    }
    let mut kinds = [Kind::Channel, Kind::Pattern, Kind::ShardChannel];
    context.shuffle(&mut kinds);
    for kind in kinds {
        let all = context.chance(50);
        let mut command = if all {
            subscribed.unsubscribe(kind, Vec::new())
        } else {
            let mut names = subscribed.names(kind).clone();
            context.shuffle(&mut names);
            if kind == Kind::Channel {
                // The sync channel goes last.
                names.retain(|name| name.as_slice() != SYNC_CHANNEL);
                names.push(SYNC_CHANNEL.to_vec());
            }
            if names.is_empty() {
                names = names_of(context, kind, 1);
            }
            subscribed.unsubscribe(kind, names)
        };
        if kind == Kind::Channel {
            command = command.listening(false);
        }
        commands.push(command);
    }
    commands
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::tests::build_many;
    use crate::generate::Client;

    /// Patterns in Redis's glob syntax, enough for this module's patterns.
    fn glob(pattern: &[u8], name: &[u8]) -> bool {
        match (pattern.split_first(), name.split_first()) {
            (None, _) => name.is_empty(),
            (Some((b'*', rest)), _) => {
                (0..=name.len()).any(|skip| glob(rest, name.get(skip..).unwrap_or_default()))
            }
            (Some((b'?', rest)), Some((_, name_rest))) => glob(rest, name_rest),
            (Some((b'\\', rest)), Some((byte, name_rest))) => {
                rest.first() == Some(byte) && glob(rest.get(1..).unwrap_or_default(), name_rest)
            }
            (Some((b'[', rest)), Some((byte, name_rest))) => {
                let Some(end) = rest.iter().position(|item| *item == b']') else {
                    return false;
                };
                let class = rest.get(..end).unwrap_or_default();
                let inside = class.windows(3).any(
                    |range| matches!(range, [low, b'-', high] if (low..=high).contains(&byte)),
                ) || class.contains(byte);
                inside && glob(rest.get(end + 1..).unwrap_or_default(), name_rest)
            }
            (Some((literal, rest)), Some((byte, name_rest))) => {
                literal == byte && glob(rest, name_rest)
            }
            (Some(_), None) => false,
        }
    }

    #[test]
    fn no_pattern_matches_the_sync_channel() {
        assert!(glob(b"ch?t*", b"chat:1"));
        assert!(glob(b"[ab]*", b"alerts"));
        assert!(!glob(b"[ab]*", b"chat"));
        for pattern in PATTERNS
            .iter()
            .chain(SUBSCRIBED_PATTERNS)
            .chain(RESP3_PATTERNS)
            .chain(&[&b"__key*__:*"[..]])
        {
            assert!(!glob(pattern, SYNC_CHANNEL), "{pattern:?}");
        }
    }

    #[test]
    fn sessions_leave_the_second_client_unsubscribed() {
        for _ in 0..200 {
            let commands = build_many(second_client_session, 1);
            let mut subscribed: Vec<(&str, Vec<u8>)> = Vec::new();
            let mut listening = false;
            for command in &commands {
                let name = command.name();
                let names: Vec<Vec<u8>> = command.args.iter().skip(1).cloned().collect();
                let (prefix, subscribing) = match name.as_str() {
                    "SUBSCRIBE" => ("", Some(true)),
                    "PSUBSCRIBE" => ("P", Some(true)),
                    "SSUBSCRIBE" => ("S", Some(true)),
                    "UNSUBSCRIBE" => ("", Some(false)),
                    "PUNSUBSCRIBE" => ("P", Some(false)),
                    "SUNSUBSCRIBE" => ("S", Some(false)),
                    _ => ("", None),
                };
                if subscribing == Some(true) {
                    assert_eq!(command.frames, names.len());
                    for channel in names {
                        subscribed.push((prefix, channel));
                    }
                } else if subscribing == Some(false) {
                    if names.is_empty() {
                        subscribed.retain(|(other, _)| *other != prefix);
                    } else {
                        assert_eq!(command.frames, names.len());
                        subscribed.retain(|entry| entry.0 != prefix || !names.contains(&entry.1));
                    }
                } else if command.client == Client::First {
                    // Nothing is published while the second client is subscribed
                    // without listening on the sync channel.
                    assert!(listening || subscribed.is_empty(), "{commands:?}");
                }
                if let Some(now) = command.listening {
                    listening = now;
                }
                let on_sync = subscribed
                    .iter()
                    .any(|(prefix, name)| prefix.is_empty() && name.as_slice() == SYNC_CHANNEL);
                assert_eq!(listening, on_sync, "{}", command.printable());
            }
            assert!(subscribed.is_empty(), "left subscribed: {subscribed:?}");
            assert!(!listening);
        }
    }
}
