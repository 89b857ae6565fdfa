//! Keyspace notifications (`notify-keyspace-events`): which events a shard records for
//! publishing, and the channels they go to.
//!
//! Handlers call [`ShardCtx::notify`](crate::ShardCtx::notify) where Redis 7.2 calls
//! `notifyKeyspaceEvent`, with the same class, event name and order. The shard's
//! [`Notifier`] keeps the events its flags want in a buffer that the server drains after
//! commands run and publishes: for each event, `event` on
//! [`keyspace_channel`] when `K` is on, then `key` on [`keyevent_channel`] when `E` is
//! on, as Redis's `notifyKeyspaceEvent` does.
//!
//! With the default flags (none) [`Notifier::notify`] is one branch and records nothing.

use bytes::{BufMut, Bytes, BytesMut};
use peregrine_keyspace::Keyspace;

/// A set of notification classes, as `notify-keyspace-events` spells them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct EventFlags(u16);

impl EventFlags {
    /// `K`: publish on `__keyspace@<db>__:<key>`.
    pub const KEYSPACE: EventFlags = EventFlags(1 << 0);
    /// `E`: publish on `__keyevent@<db>__:<event>`.
    pub const KEYEVENT: EventFlags = EventFlags(1 << 1);
    /// `g`: generic commands (DEL, EXPIRE, RENAME ...).
    pub const GENERIC: EventFlags = EventFlags(1 << 2);
    /// `$`: string commands.
    pub const STRING: EventFlags = EventFlags(1 << 3);
    /// `l`: list commands.
    pub const LIST: EventFlags = EventFlags(1 << 4);
    /// `s`: set commands.
    pub const SET: EventFlags = EventFlags(1 << 5);
    /// `h`: hash commands.
    pub const HASH: EventFlags = EventFlags(1 << 6);
    /// `z`: sorted set commands.
    pub const ZSET: EventFlags = EventFlags(1 << 7);
    /// `x`: a key (or hash field) removed because its deadline passed.
    pub const EXPIRED: EventFlags = EventFlags(1 << 8);
    /// `e`: a key evicted for maxmemory.
    pub const EVICTED: EventFlags = EventFlags(1 << 9);
    /// `t`: stream commands.
    pub const STREAM: EventFlags = EventFlags(1 << 10);
    /// `m`: a read found no key (not part of `A`).
    pub const KEY_MISS: EventFlags = EventFlags(1 << 11);
    /// `d`: module key types.
    pub const MODULE: EventFlags = EventFlags(1 << 13);
    /// `n`: a key was created (not part of `A`).
    pub const NEW: EventFlags = EventFlags(1 << 14);
    /// `A`: Redis's `NOTIFY_ALL`, `g$lshzxetd` (neither `m` nor `n`).
    pub const ALL: EventFlags = EventFlags(
        Self::GENERIC.0
            | Self::STRING.0
            | Self::LIST.0
            | Self::SET.0
            | Self::HASH.0
            | Self::ZSET.0
            | Self::EXPIRED.0
            | Self::EVICTED.0
            | Self::STREAM.0
            | Self::MODULE.0,
    );

    /// No class: nothing is published (the default).
    pub const fn empty() -> EventFlags {
        EventFlags(0)
    }

    /// True when no flag is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// True when every flag of `other` is set here.
    pub const fn contains(self, other: EventFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Both sets of flags.
    pub const fn union(self, other: EventFlags) -> EventFlags {
        EventFlags(self.0 | other.0)
    }

    /// Parses a `notify-keyspace-events` value as Redis's `keyspaceEventsStringToFlags`:
    /// `None` when a character names no class.
    pub fn parse(text: &str) -> Option<EventFlags> {
        let mut flags = EventFlags::empty();
        for character in text.chars() {
            let flag = match character {
                'A' => EventFlags::ALL,
                'g' => EventFlags::GENERIC,
                '$' => EventFlags::STRING,
                'l' => EventFlags::LIST,
                's' => EventFlags::SET,
                'h' => EventFlags::HASH,
                'z' => EventFlags::ZSET,
                'x' => EventFlags::EXPIRED,
                'e' => EventFlags::EVICTED,
                'K' => EventFlags::KEYSPACE,
                'E' => EventFlags::KEYEVENT,
                't' => EventFlags::STREAM,
                'm' => EventFlags::KEY_MISS,
                'd' => EventFlags::MODULE,
                'n' => EventFlags::NEW,
                _ => return None,
            };
            flags = flags.union(flag);
        }
        Some(flags)
    }

    /// The flags as CONFIG GET shows them, as Redis's `keyspaceEventsFlagsToString`:
    /// `A` for all of `A`'s classes (then `n` is not shown, as in Redis), else each
    /// class in `g$lshzxetdn` order; then `K`, `E` and `m`.
    pub fn to_config_string(self) -> String {
        let mut text = String::new();
        if self.contains(EventFlags::ALL) {
            text.push('A');
        } else {
            let classes = [
                (EventFlags::GENERIC, 'g'),
                (EventFlags::STRING, '$'),
                (EventFlags::LIST, 'l'),
                (EventFlags::SET, 's'),
                (EventFlags::HASH, 'h'),
                (EventFlags::ZSET, 'z'),
                (EventFlags::EXPIRED, 'x'),
                (EventFlags::EVICTED, 'e'),
                (EventFlags::STREAM, 't'),
                (EventFlags::MODULE, 'd'),
                (EventFlags::NEW, 'n'),
            ];
            text.extend(
                classes
                    .into_iter()
                    .filter(|(flag, _)| self.contains(*flag))
                    .map(|(_, letter)| letter),
            );
        }
        for (flag, letter) in [
            (EventFlags::KEYSPACE, 'K'),
            (EventFlags::KEYEVENT, 'E'),
            (EventFlags::KEY_MISS, 'm'),
        ] {
            if self.contains(flag) {
                text.push(letter);
            }
        }
        text
    }

    /// Whether an event of `class` is published: its class is on and so is at least one
    /// of `K` and `E`.
    #[inline]
    pub const fn wants(self, class: EventClass) -> bool {
        let channels = EventFlags::KEYSPACE.0 | EventFlags::KEYEVENT.0;
        self.0 & class.flag().0 != 0 && self.0 & channels != 0
    }
}

/// The class of one event (Redis's `NOTIFY_*` type argument).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventClass {
    /// `g`.
    Generic,
    /// `$`.
    String,
    /// `l`.
    List,
    /// `s`.
    Set,
    /// `h`.
    Hash,
    /// `z`.
    SortedSet,
    /// `x`.
    Expired,
    /// `e`.
    Evicted,
    /// `t`.
    Stream,
    /// `m`.
    KeyMiss,
    /// `d`.
    Module,
    /// `n`.
    New,
}

impl EventClass {
    /// The flag that enables this class.
    pub const fn flag(self) -> EventFlags {
        match self {
            EventClass::Generic => EventFlags::GENERIC,
            EventClass::String => EventFlags::STRING,
            EventClass::List => EventFlags::LIST,
            EventClass::Set => EventFlags::SET,
            EventClass::Hash => EventFlags::HASH,
            EventClass::SortedSet => EventFlags::ZSET,
            EventClass::Expired => EventFlags::EXPIRED,
            EventClass::Evicted => EventFlags::EVICTED,
            EventClass::Stream => EventFlags::STREAM,
            EventClass::KeyMiss => EventFlags::KEY_MISS,
            EventClass::Module => EventFlags::MODULE,
            EventClass::New => EventFlags::NEW,
        }
    }
}

/// One event waiting to be published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyEvent {
    /// Its class.
    pub class: EventClass,
    /// The event name (`set`, `lpush`, `expired` ...).
    pub event: &'static str,
    /// The database of the key.
    pub db: u32,
    /// The key.
    pub key: Bytes,
}

impl KeyEvent {
    /// The keyspace channel of this event (its message is the event name).
    pub fn keyspace_channel(&self) -> Bytes {
        keyspace_channel(self.db, &self.key)
    }

    /// The keyevent channel of this event (its message is the key).
    pub fn keyevent_channel(&self) -> Bytes {
        keyevent_channel(self.db, self.event)
    }
}

/// A shard's events awaiting publication, filtered by the configured flags.
#[derive(Debug, Default)]
pub struct Notifier {
    flags: EventFlags,
    pending: Vec<KeyEvent>,
}

impl Notifier {
    /// A notifier recording nothing (empty flags).
    pub fn new() -> Notifier {
        Notifier::default()
    }

    /// The flags in force.
    pub fn flags(&self) -> EventFlags {
        self.flags
    }

    /// Changes the flags (events already recorded stay).
    pub fn set_flags(&mut self, flags: EventFlags) {
        self.flags = flags;
    }

    /// Records `event` of `class` on `key` in database `db` when the flags want it.
    #[inline]
    pub fn notify(&mut self, class: EventClass, event: &'static str, db: u32, key: &[u8]) {
        if !self.flags.wants(class) {
            return;
        }
        self.pending.push(KeyEvent {
            class,
            event,
            db,
            key: Bytes::copy_from_slice(key),
        });
    }

    /// Records, as `expired` events, the keys `keyspace` removed by lazy expiry since the
    /// last call, and makes it report them (or stop) as the flags want.
    pub fn collect_lazy_expiry(&mut self, keyspace: &mut Keyspace) {
        let wanted = self.flags.wants(EventClass::Expired);
        keyspace.report_lazy_expiry(wanted);
        if wanted {
            keyspace.take_lazily_expired(|db, key| {
                self.pending.push(KeyEvent {
                    class: EventClass::Expired,
                    event: "expired",
                    db: db.0,
                    key: Bytes::copy_from_slice(key.as_slice()),
                });
            });
        }
    }

    /// Takes the recorded events, oldest first.
    pub fn take(&mut self) -> Vec<KeyEvent> {
        std::mem::take(&mut self.pending)
    }

    /// True when no event is waiting.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Appends events recorded elsewhere (a scratch keyspace's run), in order.
    pub fn extend(&mut self, events: Vec<KeyEvent>) {
        self.pending.extend(events);
    }

    /// Drops the recorded events.
    pub fn clear(&mut self) {
        self.pending.clear();
    }
}

/// `__keyspace@<db>__:<key>`.
pub fn keyspace_channel(db: u32, key: &[u8]) -> Bytes {
    channel(b"__keyspace@", db, key)
}

/// `__keyevent@<db>__:<event>`.
pub fn keyevent_channel(db: u32, event: &str) -> Bytes {
    channel(b"__keyevent@", db, event.as_bytes())
}

fn channel(prefix: &[u8], db: u32, suffix: &[u8]) -> Bytes {
    let mut number = itoa::Buffer::new();
    let number = number.format(db).as_bytes();
    let mut channel = BytesMut::with_capacity(prefix.len() + number.len() + 3 + suffix.len());
    channel.put_slice(prefix);
    channel.put_slice(number);
    channel.put_slice(b"__:");
    channel.put_slice(suffix);
    channel.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalized(text: &str) -> Option<String> {
        EventFlags::parse(text).map(EventFlags::to_config_string)
    }

    /// Expected strings are what redis-server answers CONFIG GET after CONFIG SET.
    #[test]
    fn flags_read_back_as_redis_writes_them() {
        assert_eq!(normalized("KEA").as_deref(), Some("AKE"));
        assert_eq!(normalized("AKEn").as_deref(), Some("AKE"));
        assert_eq!(normalized("Em").as_deref(), Some("Em"));
        assert_eq!(normalized("g$lshzxetdnKEm").as_deref(), Some("AKEm"));
        assert_eq!(normalized("g$lshzxetnKE").as_deref(), Some("g$lshzxetnKE"));
        assert_eq!(normalized("Kl").as_deref(), Some("lK"));
        assert_eq!(normalized("mEKnx").as_deref(), Some("xnKEm"));
        assert_eq!(normalized("").as_deref(), Some(""));
        assert_eq!(normalized("KEq"), None);
        assert_eq!(normalized("a"), None);
        assert_eq!(normalized(" K"), None);
    }

    #[test]
    fn all_excludes_key_miss_and_new() {
        let all = EventFlags::parse("A").unwrap_or_default();
        assert!(all.contains(EventFlags::MODULE));
        assert!(all.contains(EventFlags::STREAM));
        assert!(!all.contains(EventFlags::KEY_MISS));
        assert!(!all.contains(EventFlags::NEW));
        assert!(!all.contains(EventFlags::KEYSPACE));
    }

    #[test]
    fn wants_needs_a_channel_and_the_class() {
        let list_only = EventFlags::parse("l").unwrap_or_default();
        assert!(!list_only.wants(EventClass::List), "no K nor E");
        let list_keyspace = EventFlags::parse("Kl").unwrap_or_default();
        assert!(list_keyspace.wants(EventClass::List));
        assert!(!list_keyspace.wants(EventClass::String));
        let keyevent_miss = EventFlags::parse("Em").unwrap_or_default();
        assert!(keyevent_miss.wants(EventClass::KeyMiss));
        assert!(!keyevent_miss.wants(EventClass::Generic));
        assert!(!EventFlags::empty().wants(EventClass::Generic));
    }

    #[test]
    fn notifier_records_only_wanted_events() {
        let mut notifier = Notifier::new();
        notifier.notify(EventClass::Generic, "del", 0, b"k");
        assert!(notifier.is_empty(), "default flags record nothing");
        notifier.set_flags(EventFlags::parse("Kg").unwrap_or_default());
        notifier.notify(EventClass::String, "set", 0, b"k");
        notifier.notify(EventClass::Generic, "del", 3, b"k");
        assert_eq!(
            notifier.take(),
            vec![KeyEvent {
                class: EventClass::Generic,
                event: "del",
                db: 3,
                key: Bytes::from_static(b"k"),
            }]
        );
        assert!(notifier.is_empty());
    }

    #[test]
    fn channels_are_redis_channels() {
        assert_eq!(&keyspace_channel(0, b"foo")[..], b"__keyspace@0__:foo");
        assert_eq!(&keyevent_channel(12, "del")[..], b"__keyevent@12__:del");
        let event = KeyEvent {
            class: EventClass::List,
            event: "lpush",
            db: 5,
            key: Bytes::from_static(b"mylist"),
        };
        assert_eq!(&event.keyspace_channel()[..], b"__keyspace@5__:mylist");
        assert_eq!(&event.keyevent_channel()[..], b"__keyevent@5__:lpush");
    }
}
