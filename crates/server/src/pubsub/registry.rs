//! One core's pub/sub state: the subscribers connected to this core, and this core's copy
//! of the node-wide directory (how many subscribers each core has, per channel, shard
//! channel and pattern).
//!
//! Publishing needs only the local copy: it tells which cores to send a message to (one
//! message per core that has subscribers, whatever their number) and what PUBLISH replies.
//! A subscription changes the copies of every core before its confirmation is sent, so a
//! message published after a client saw its confirmation reaches it.

use crate::shard_state::ClientInfo;
use bytes::Bytes;
use peregrine_shard::ShardId;
use std::collections::HashMap;
use std::rc::Rc;

/// The three namespaces of subscriptions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// SUBSCRIBE / PUBLISH.
    Channel,
    /// PSUBSCRIBE: glob patterns over channel names.
    Pattern,
    /// SSUBSCRIBE / SPUBLISH.
    ShardChannel,
}

impl Kind {
    /// Index into per-kind arrays.
    pub fn index(self) -> usize {
        match self {
            Kind::Channel => 0,
            Kind::Pattern => 1,
            Kind::ShardChannel => 2,
        }
    }
}

type Names<V> = HashMap<Bytes, V, ahash::RandomState>;

/// Subscriber counts of one name, per core.
#[derive(Clone, Debug, Default)]
struct CoreCounts {
    per_core: Vec<u32>,
    total: u64,
}

/// Where a publication goes and what PUBLISH replies.
#[derive(Debug, Default)]
pub struct Route {
    /// Subscribers that receive it (channel subscribers plus one per matching pattern
    /// subscription).
    pub receivers: u64,
    /// Cores with at least one receiver.
    pub cores: Vec<ShardId>,
    /// The subscribed patterns that match the channel.
    pub patterns: Vec<Bytes>,
}

/// One core's subscribers and directory copy.
#[derive(Default)]
pub struct PubSubCore {
    /// Local subscribers by name, per kind.
    local: [Names<Vec<Rc<ClientInfo>>>; 3],
    /// Node-wide subscriber counts by name, per kind.
    directory: [Names<CoreCounts>; 3],
}

impl PubSubCore {
    /// Adds `client` to the subscribers of `name` on this core.
    pub fn add_local(&mut self, kind: Kind, name: &Bytes, client: &Rc<ClientInfo>) {
        self.local[kind.index()]
            .entry(name.clone())
            .or_default()
            .push(client.clone());
    }

    /// Removes client `id` from the subscribers of `name` on this core.
    pub fn remove_local(&mut self, kind: Kind, name: &[u8], id: u64) {
        let names = &mut self.local[kind.index()];
        if let Some(subscribers) = names.get_mut(name) {
            if let Some(position) = subscribers.iter().position(|client| client.id == id) {
                subscribers.swap_remove(position);
            }
            if subscribers.is_empty() {
                names.remove(name);
            }
        }
    }

    /// The local subscribers of `name`.
    pub fn local(&self, kind: Kind, name: &[u8]) -> &[Rc<ClientInfo>] {
        self.local[kind.index()]
            .get(name)
            .map_or(&[], |subscribers| subscribers.as_slice())
    }

    /// Applies a change of `delta` subscribers of `core` to each of `names` in this core's
    /// directory copy.
    pub fn apply(&mut self, kind: Kind, names: &[Bytes], core: ShardId, delta: i64, cores: u16) {
        let directory = &mut self.directory[kind.index()];
        for name in names {
            let counts = directory.entry(name.clone()).or_insert_with(|| CoreCounts {
                per_core: vec![0; usize::from(cores)],
                total: 0,
            });
            let slot = &mut counts.per_core[core.index()];
            *slot = (i64::from(*slot) + delta).max(0) as u32;
            counts.total = counts.per_core.iter().map(|count| u64::from(*count)).sum();
            if counts.total == 0 {
                directory.remove(name);
            }
        }
    }

    /// Where a message on `channel` of `kind` (a channel or a shard channel) goes.
    pub fn route(&self, kind: Kind, channel: &[u8]) -> Route {
        let mut route = Route::default();
        let mut cores: Vec<u32> = Vec::new();
        let mut add = |counts: &CoreCounts, route: &mut Route| {
            cores.resize(counts.per_core.len(), 0);
            for (core, count) in counts.per_core.iter().enumerate() {
                cores[core] += count;
            }
            route.receivers += counts.total;
        };
        if let Some(counts) = self.directory[kind.index()].get(channel) {
            add(counts, &mut route);
        }
        if kind == Kind::Channel {
            for (pattern, counts) in &self.directory[Kind::Pattern.index()] {
                if peregrine_keyspace::glob_match(pattern, channel) {
                    add(counts, &mut route);
                    route.patterns.push(pattern.clone());
                }
            }
        }
        route.cores = cores
            .iter()
            .enumerate()
            .filter(|(_, count)| **count > 0)
            .map(|(core, _)| ShardId(core as u16))
            .collect();
        route
    }

    /// Node-wide subscriber count of `name` (PUBSUB NUMSUB / SHARDNUMSUB).
    pub fn subscribers(&self, kind: Kind, name: &[u8]) -> u64 {
        self.directory[kind.index()]
            .get(name)
            .map_or(0, |counts| counts.total)
    }

    /// Names with subscribers anywhere, matching `pattern` if given (PUBSUB CHANNELS).
    pub fn names(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Bytes> {
        self.directory[kind.index()]
            .keys()
            .filter(|name| {
                pattern.is_none_or(|pattern| peregrine_keyspace::glob_match(pattern, name))
            })
            .cloned()
            .collect()
    }

    /// How many names have subscribers anywhere (PUBSUB NUMPAT, INFO pubsub_channels).
    pub fn count(&self, kind: Kind) -> usize {
        self.directory[kind.index()].len()
    }
}
