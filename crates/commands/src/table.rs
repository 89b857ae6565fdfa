//! The command registry: every family's table, looked up by name without allocation.

use crate::spec::{Arity::*, CommandSpec, Exec, Flag::*, Group, KeySpec, ServerCommand};
use std::collections::HashMap;
use std::sync::OnceLock;

/// Commands the server executes itself: connection state, all-shard operations and
/// introspection. Their behaviour lives in the server crate; their rows live here so that
/// lookup, arity and COMMAND see one table.
#[rustfmt::skip]
const SERVER_COMMANDS: &[CommandSpec] = &[
    CommandSpec { name: "ping",      arity: AtLeast(1), flags: &[Fast], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::Ping), group: Group::Connection, summary: "Returns the server's liveliness response." },
    CommandSpec { name: "echo",      arity: Exactly(2), flags: &[Fast, Stale, Loading], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::Echo), group: Group::Connection, summary: "Returns the given string." },
    CommandSpec { name: "quit",      arity: AtLeast(1), flags: &[NoAuth, NoScript, Fast, Stale, Loading, AllowBusy], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::Quit), group: Group::Connection, summary: "Closes the connection." },
    CommandSpec { name: "reset",     arity: Exactly(1), flags: &[NoAuth, Fast, Stale, Loading, NoScript, AllowBusy], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::Reset), group: Group::Connection, summary: "Resets the connection." },
    CommandSpec { name: "hello",     arity: AtLeast(1), flags: &[NoAuth, Fast, Stale, Loading, NoScript, AllowBusy], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::Hello), group: Group::Connection, summary: "Handshakes with the Redis server." },
    CommandSpec { name: "auth",      arity: AtLeast(2), flags: &[NoAuth, Fast, Stale, Loading, NoScript, AllowBusy], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::Auth), group: Group::Connection, summary: "Authenticates the connection." },
    CommandSpec { name: "select",    arity: Exactly(2), flags: &[Fast, Stale, Loading], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::Select), group: Group::Connection, summary: "Changes the selected database." },
    CommandSpec { name: "client",    arity: AtLeast(2), flags: &[], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::Client), group: Group::Connection, summary: "A container for client connection commands." },
    CommandSpec { name: "swapdb",    arity: Exactly(3), flags: &[Write, Fast], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::SwapDb), group: Group::Server, summary: "Swaps two Redis databases." },
    CommandSpec { name: "command",   arity: AtLeast(1), flags: &[Stale, Loading], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::Command), group: Group::Server, summary: "Returns detailed information about all commands." },
    CommandSpec { name: "info",      arity: AtLeast(1), flags: &[Stale, Loading], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::Info), group: Group::Server, summary: "Returns information and statistics about the server." },
    CommandSpec { name: "config",    arity: AtLeast(2), flags: &[], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::Config), group: Group::Server, summary: "A container for server configuration commands." },
    CommandSpec { name: "dbsize",    arity: Exactly(1), flags: &[ReadOnly, Fast], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::DbSize), group: Group::Server, summary: "Returns the number of keys in the database." },
    CommandSpec { name: "flushdb",   arity: AtLeast(1), flags: &[Write], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::FlushDb), group: Group::Server, summary: "Removes all keys from the current database." },
    CommandSpec { name: "flushall",  arity: AtLeast(1), flags: &[Write], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::FlushAll), group: Group::Server, summary: "Removes all keys from all databases." },
    CommandSpec { name: "time",      arity: Exactly(1), flags: &[Loading, Stale, Fast], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::Time), group: Group::Server, summary: "Returns the server time." },
    CommandSpec { name: "role",      arity: Exactly(1), flags: &[NoScript, Loading, Stale, Fast], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::Role), group: Group::Server, summary: "Returns the replication role." },
    CommandSpec { name: "shutdown",  arity: AtLeast(1), flags: &[Admin, NoScript, Loading, Stale, NoMulti, AllowBusy], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::Shutdown), group: Group::Server, summary: "Synchronously saves the database(s) to disk and shuts down the Redis server." },
    CommandSpec { name: "debug",     arity: AtLeast(2), flags: &[Admin, NoScript, Loading, Stale, Protected], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::Debug), group: Group::Server, summary: "A container for debugging commands." },
    CommandSpec { name: "wait",      arity: Exactly(3), flags: &[NoScript], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::Wait), group: Group::Connection, summary: "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed." },
    CommandSpec { name: "waitaof",   arity: Exactly(4), flags: &[NoScript], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::WaitAof), group: Group::Connection, summary: "Blocks until all of the preceding write commands sent by the connection are written to the append-only file of the master and/or replicas." },
    CommandSpec { name: "latency",   arity: AtLeast(2), flags: &[], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::Latency), group: Group::Server, summary: "A container for latency diagnostics commands." },
    CommandSpec { name: "memory",    arity: AtLeast(2), flags: &[], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::Memory), group: Group::Server, summary: "A container for memory diagnostics commands." },
    CommandSpec { name: "module",    arity: AtLeast(2), flags: &[], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::Module), group: Group::Server, summary: "A container for module commands." },
    CommandSpec { name: "monitor",   arity: Exactly(1), flags: &[Admin, NoScript, Loading, Stale], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::Monitor), group: Group::Server, summary: "Listens for all requests received by the server in real-time." },
    CommandSpec { name: "slowlog",   arity: AtLeast(2), flags: &[], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::SlowLog), group: Group::Server, summary: "A container for slow log commands." },
    CommandSpec { name: "lastsave",  arity: Exactly(1), flags: &[Loading, Stale, Fast], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::LastSave), group: Group::Server, summary: "Returns the Unix timestamp of the last successful save to disk." },
    CommandSpec { name: "save",      arity: Exactly(1), flags: &[Admin, NoScript, NoMulti], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::Save), group: Group::Server, summary: "Synchronously saves the database(s) to disk." },
    CommandSpec { name: "bgsave",    arity: AtLeast(1), flags: &[Admin, NoScript], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::BgSave), group: Group::Server, summary: "Asynchronously saves the database(s) to disk." },
    CommandSpec { name: "bgrewriteaof", arity: Exactly(1), flags: &[Admin, NoScript], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::BgRewriteAof), group: Group::Server, summary: "Asynchronously rewrites the append-only file to disk." },
    CommandSpec { name: "keys",      arity: Exactly(2), flags: &[ReadOnly], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::Keys), group: Group::Generic, summary: "Returns all key names that match a pattern." },
    CommandSpec { name: "scan",      arity: AtLeast(2), flags: &[ReadOnly], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::Scan), group: Group::Generic, summary: "Iterates over the key names in the database." },
    CommandSpec { name: "multi",     arity: Exactly(1), flags: &[NoScript, Loading, Stale, Fast, AllowBusy], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::Multi), group: Group::Transactions, summary: "Starts a transaction." },
    CommandSpec { name: "exec",      arity: Exactly(1), flags: &[NoScript, Loading, Stale, SkipSlowlog], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::Exec), group: Group::Transactions, summary: "Executes all commands in a transaction." },
    CommandSpec { name: "discard",   arity: Exactly(1), flags: &[NoScript, Loading, Stale, Fast, AllowBusy], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::Discard), group: Group::Transactions, summary: "Discards a transaction." },
    CommandSpec { name: "watch",     arity: AtLeast(2), flags: &[NoScript, Loading, Stale, Fast, AllowBusy], keys: KeySpec::ALL, exec: Exec::Server(ServerCommand::Watch), group: Group::Transactions, summary: "Monitors changes to keys to determine the execution of a transaction." },
    CommandSpec { name: "unwatch",   arity: Exactly(1), flags: &[NoScript, Loading, Stale, Fast, AllowBusy], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::Unwatch), group: Group::Transactions, summary: "Forgets about watched keys of a transaction." },
    CommandSpec { name: "eval",      arity: AtLeast(3), flags: &[NoScript, Stale, SkipMonitor], keys: KeySpec::NUMKEYS_SECOND, exec: Exec::Server(ServerCommand::Eval), group: Group::Scripting, summary: "Executes a server-side Lua script." },
    CommandSpec { name: "evalsha",   arity: AtLeast(3), flags: &[NoScript, Stale, SkipMonitor], keys: KeySpec::NUMKEYS_SECOND, exec: Exec::Server(ServerCommand::EvalSha), group: Group::Scripting, summary: "Executes a server-side Lua script by SHA1 digest." },
    CommandSpec { name: "eval_ro",   arity: AtLeast(3), flags: &[ReadOnly, NoScript, Stale, SkipMonitor], keys: KeySpec::NUMKEYS_SECOND, exec: Exec::Server(ServerCommand::EvalRo), group: Group::Scripting, summary: "Executes a read-only server-side Lua script." },
    CommandSpec { name: "evalsha_ro", arity: AtLeast(3), flags: &[ReadOnly, NoScript, Stale, SkipMonitor], keys: KeySpec::NUMKEYS_SECOND, exec: Exec::Server(ServerCommand::EvalShaRo), group: Group::Scripting, summary: "Executes a read-only server-side Lua script by SHA1 digest." },
    CommandSpec { name: "fcall",     arity: AtLeast(3), flags: &[NoScript, Stale, SkipMonitor], keys: KeySpec::NUMKEYS_SECOND, exec: Exec::Server(ServerCommand::FCall), group: Group::Scripting, summary: "Invokes a function." },
    CommandSpec { name: "fcall_ro",  arity: AtLeast(3), flags: &[ReadOnly, NoScript, Stale, SkipMonitor], keys: KeySpec::NUMKEYS_SECOND, exec: Exec::Server(ServerCommand::FCallRo), group: Group::Scripting, summary: "Invokes a read-only function." },
    CommandSpec { name: "script",    arity: AtLeast(2), flags: &[], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::Script), group: Group::Scripting, summary: "A container for Lua scripts management commands." },
    CommandSpec { name: "function",  arity: AtLeast(2), flags: &[], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::Function), group: Group::Scripting, summary: "A container for function commands." },
    CommandSpec { name: "randomkey", arity: Exactly(1), flags: &[ReadOnly], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::RandomKey), group: Group::Generic, summary: "Returns a random key name from the database." },
    CommandSpec { name: "subscribe",    arity: AtLeast(2), flags: &[PubSub, NoScript, Loading, Stale], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::Subscribe), group: Group::PubSub, summary: "Listens for messages published to channels." },
    CommandSpec { name: "unsubscribe",  arity: AtLeast(1), flags: &[PubSub, NoScript, Loading, Stale], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::Unsubscribe), group: Group::PubSub, summary: "Stops listening to messages posted to channels." },
    CommandSpec { name: "psubscribe",   arity: AtLeast(2), flags: &[PubSub, NoScript, Loading, Stale], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::PSubscribe), group: Group::PubSub, summary: "Listens for messages published to channels that match one or more patterns." },
    CommandSpec { name: "punsubscribe", arity: AtLeast(1), flags: &[PubSub, NoScript, Loading, Stale], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::PUnsubscribe), group: Group::PubSub, summary: "Stops listening to messages published to channels that match one or more patterns." },
    CommandSpec { name: "ssubscribe",   arity: AtLeast(2), flags: &[PubSub, NoScript, Loading, Stale], keys: KeySpec::ALL, exec: Exec::Server(ServerCommand::SSubscribe), group: Group::PubSub, summary: "Listens for messages published to shard channels." },
    CommandSpec { name: "sunsubscribe", arity: AtLeast(1), flags: &[PubSub, NoScript, Loading, Stale], keys: KeySpec::ALL, exec: Exec::Server(ServerCommand::SUnsubscribe), group: Group::PubSub, summary: "Stops listening to messages posted to shard channels." },
    CommandSpec { name: "publish",      arity: Exactly(3), flags: &[PubSub, Loading, Stale, Fast, MayReplicate], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::Publish), group: Group::PubSub, summary: "Posts a message to a channel." },
    CommandSpec { name: "spublish",     arity: Exactly(3), flags: &[PubSub, Loading, Stale, Fast, MayReplicate], keys: KeySpec::FIRST, exec: Exec::Server(ServerCommand::SPublish), group: Group::PubSub, summary: "Post a message to a shard channel" },
    CommandSpec { name: "pubsub",       arity: AtLeast(2), flags: &[], keys: KeySpec::NONE, exec: Exec::Server(ServerCommand::PubSub), group: Group::PubSub, summary: "A container for Pub/Sub commands." },
];

/// Every family's table.
const FAMILIES: &[&[CommandSpec]] = &[
    SERVER_COMMANDS,
    crate::string::COMMANDS,
    crate::keys::COMMANDS,
    crate::list::COMMANDS,
    crate::hash::COMMANDS,
    crate::set::COMMANDS,
    crate::sorted_set::COMMANDS,
    crate::sort::COMMANDS,
    crate::geo::COMMANDS,
    crate::hyperloglog::COMMANDS,
    crate::bitmap::COMMANDS,
    crate::stream::COMMANDS,
];

/// Every command, in table order.
pub fn all_commands() -> impl Iterator<Item = &'static CommandSpec> {
    FAMILIES.iter().flat_map(|family| family.iter())
}

type Index = HashMap<&'static [u8], &'static CommandSpec, ahash::RandomState>;

/// Every command by name (the lookup of names too long to pack).
fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        all_commands()
            .map(|spec| (spec.name.as_bytes(), spec))
            .collect()
    })
}

/// The longest name [`PackedNames`] holds: nearly every command's (one lookup per command a
/// client sends, so it has to be cheaper than hashing the name).
const PACKED_LEN: usize = 16;

/// A name of up to [`PACKED_LEN`] bytes, lowercased into two little-endian words.
type Packed = [u64; 2];

/// Lowercases `name` into two words; `None` when it is longer than [`PACKED_LEN`]. Two
/// names of the same length pack alike exactly when they are equal ignoring ASCII case.
fn pack(name: &[u8]) -> Option<Packed> {
    let mut bytes = [0u8; PACKED_LEN];
    bytes.get_mut(..name.len())?.copy_from_slice(name);
    let [b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13, b14, b15] = bytes;
    Some([
        ascii_lowercase(u64::from_le_bytes([b0, b1, b2, b3, b4, b5, b6, b7])),
        ascii_lowercase(u64::from_le_bytes([b8, b9, b10, b11, b12, b13, b14, b15])),
    ])
}

/// `to_ascii_lowercase` of eight bytes at once: the bytes in `A..=Z` (and only those) get
/// bit 0x20.
fn ascii_lowercase(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Each byte's low seven bits plus an offset that carries into its high bit exactly
    // when it is at least 'A' (at least one past 'Z'); no byte carries into the next.
    let low = word & !HIGH;
    let from_a = low + ONES * u64::from(0x80 - b'A');
    let past_z = low + ONES * u64::from(0x80 - b'Z' - 1);
    let upper = from_a & !past_z & !word & HIGH;
    word | (upper >> 2)
}

/// Commands by packed name in an open-addressing table: a lookup is a multiply and a probe
/// or two, comparing two words and a length.
struct PackedNames {
    /// A power-of-two count, at most a quarter full.
    slots: Box<[Option<PackedEntry>]>,
}

/// A command in [`PackedNames`]: its packed name and the name's length.
type PackedEntry = (Packed, usize, &'static CommandSpec);

impl PackedNames {
    fn build() -> PackedNames {
        let count = all_commands().count();
        let mut slots = vec![None; (count * 4).next_power_of_two()].into_boxed_slice();
        for spec in all_commands() {
            let name = spec.name.as_bytes();
            let Some(packed) = pack(name) else {
                continue;
            };
            let mut slot = Self::home(&slots, packed, name.len());
            while slots[slot].is_some() {
                slot = (slot + 1) & (slots.len() - 1);
            }
            slots[slot] = Some((packed, name.len(), spec));
        }
        PackedNames { slots }
    }

    /// The first slot to probe for a packed name of `len` bytes.
    fn home<T>(slots: &[T], packed: Packed, len: usize) -> usize {
        let mixed = (packed[0] ^ packed[1].rotate_left(29) ^ len as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (mixed >> 32) as usize & (slots.len() - 1)
    }

    fn get(&self, packed: Packed, len: usize) -> Option<&'static CommandSpec> {
        let mut slot = Self::home(&self.slots, packed, len);
        loop {
            match self.slots[slot] {
                None => return None,
                Some((held, held_len, spec)) if held == packed && held_len == len => {
                    return Some(spec);
                }
                Some(_) => slot = (slot + 1) & (self.slots.len() - 1),
            }
        }
    }
}

fn packed_names() -> &'static PackedNames {
    static NAMES: OnceLock<PackedNames> = OnceLock::new();
    NAMES.get_or_init(PackedNames::build)
}

/// Finds a command by name, ignoring ASCII case, without allocating.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    if let Some(packed) = pack(name) {
        return packed_names().get(packed, name.len());
    }
    let mut lowercase = [0u8; 32];
    let folded = lowercase.get_mut(..name.len())?;
    for (target, byte) in folded.iter_mut().zip(name) {
        *target = byte.to_ascii_lowercase();
    }
    index().get(&*folded).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_is_found_in_any_case_and_nothing_else_is() {
        for spec in all_commands() {
            let upper = spec.name.to_ascii_uppercase();
            let mixed: String = spec
                .name
                .chars()
                .enumerate()
                .map(|(at, c)| {
                    if at % 2 == 0 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect();
            for name in [spec.name, upper.as_str(), mixed.as_str()] {
                assert!(
                    lookup(name.as_bytes()).is_some_and(|found| std::ptr::eq(found, spec)),
                    "{name}"
                );
            }
            // A NUL packs as the padding does: the length tells them apart.
            let padded = format!("{}\0", spec.name);
            assert!(lookup(padded.as_bytes()).is_none(), "{}", spec.name);
            let shorter = &spec.name.as_bytes()[..spec.name.len() - 1];
            assert!(lookup(shorter).is_none_or(|found| found.name.len() == shorter.len()));
        }
        assert!(lookup(b"").is_none());
        assert!(lookup(b"getx").is_none());
        assert!(lookup(b"g\xc5t").is_none());
        assert!(lookup(&[b'x'; 17]).is_none());
        assert!(
            all_commands().any(|spec| spec.name.len() > PACKED_LEN),
            "the fallback for long names is exercised"
        );
    }

    #[test]
    fn words_lowercase_as_bytes_do() {
        for byte in 0..=u8::MAX {
            for at in 0..8 {
                let word = u64::from_le_bytes([b'Q', 0x7f, byte, b'z', b'@', b'[', 0xc1, b'_'])
                    .rotate_left(8 * at);
                let expected =
                    u64::from_le_bytes(word.to_le_bytes().map(|b| b.to_ascii_lowercase()));
                assert_eq!(ascii_lowercase(word), expected, "{byte:#x} at {at}");
            }
        }
    }

    #[test]
    fn lookup_ignores_case_and_names_are_unique() {
        assert_eq!(lookup(b"GeT").map(|spec| spec.name), Some("get"));
        assert!(lookup(b"nosuchcommand").is_none());
        assert!(lookup(&[b'a'; 64]).is_none());
        let mut names: Vec<_> = all_commands().map(|spec| spec.name).collect();
        let total = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), total);
        for spec in all_commands() {
            assert_eq!(spec.name, spec.name.to_ascii_lowercase());
        }
    }
}
