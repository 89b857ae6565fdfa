//! Client-side caching's per-shard table (CLIENT TRACKING): which clients may cache which
//! keys of this shard, the node-wide BCAST prefixes, and the invalidations this shard owes.
//!
//! Default mode: a read-only command of a tracking client remembers each of its keys with
//! the client's id and core (key names only, databases do not count, as in Redis). A
//! change to a remembered key owes one invalidation to each of its readers and forgets the
//! key. BCAST mode: every core holds the same copy of every prefix registration; a changed
//! key that starts with a registered prefix is collected, and the batch's collected keys
//! are owed, per prefix and client, as one invalidation.
//!
//! The table only collects: the server crate takes the owed invalidations after each batch
//! ([`TrackingTable::take_owed`]) and sends them to the clients' cores. Nothing here costs
//! a write anything while no client tracks a key of this shard and no prefix is
//! registered.

use crate::{CommandSpec, Flag, ShardCtx};
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};

/// A tracking client as the commands it runs carry it (in
/// [`ClientOptions`](crate::ClientOptions)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrackingClient {
    /// The client's id.
    pub client: u64,
    /// The core its connection lives on (where its invalidations go).
    pub core: u16,
    /// Its reads are remembered: default mode, and neither OPTIN without CLIENT CACHING
    /// YES nor OPTOUT with CLIENT CACHING NO.
    pub remember: bool,
    /// NOLOOP: its own writes do not invalidate its keys.
    pub noloop: bool,
}

impl TrackingClient {
    /// The writer to leave out of invalidations (a NOLOOP client), if any.
    pub fn noloop_writer(&self) -> Option<u64> {
        self.noloop.then_some(self.client)
    }
}

/// A client that may cache a key: its id and core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reader {
    /// The client's id.
    pub client: u64,
    /// The core its connection lives on.
    pub core: u16,
}

/// A BCAST client registered for a prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BroadcastClient {
    /// The client's id.
    pub client: u64,
    /// The core its connection lives on.
    pub core: u16,
    /// NOLOOP: keys it changed itself are left out of its invalidations.
    pub noloop: bool,
}

/// One invalidation owed to a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalidation {
    /// The client to invalidate.
    pub client: u64,
    /// The keys: one message per key in default mode, one message for all in BCAST mode.
    pub keys: Vec<Bytes>,
    /// Owed through a BCAST prefix (only a client still in BCAST mode gets it) rather than
    /// through a remembered read (only a client in default mode gets it).
    pub broadcast: bool,
}

/// The shard's tracking table; see the module documentation.
#[derive(Default, Debug)]
pub struct TrackingTable {
    readers: HashMap<Bytes, Vec<Reader>, ahash::RandomState>,
    /// Readers remembered, all keys together (INFO `tracking_total_items`).
    items: usize,
    /// BCAST registrations by prefix, in prefix order (as Redis sends them).
    prefixes: BTreeMap<Bytes, Vec<BroadcastClient>>,
    /// Default-mode invalidations owed, with the reader's core.
    owed: Vec<(u16, u64, Bytes)>,
    /// Keys changed while prefixes are registered, with the NOLOOP writer that changed
    /// them last.
    changed: BTreeMap<Bytes, Option<u64>>,
}

impl TrackingTable {
    /// True when no key is remembered and no prefix registered (the writers' fast path).
    pub fn is_empty(&self) -> bool {
        self.readers.is_empty() && self.prefixes.is_empty()
    }

    /// Remembers that `reader` may cache `key`.
    pub fn remember(&mut self, key: &[u8], reader: Reader) {
        let readers = match self.readers.get_mut(key) {
            Some(readers) => readers,
            None => self.readers.entry(Bytes::copy_from_slice(key)).or_default(),
        };
        if !readers.iter().any(|known| known.client == reader.client) {
            readers.push(reader);
            self.items += 1;
        }
    }

    /// `key` changed (written, expired, deleted): its readers are owed an invalidation,
    /// except `noloop_writer` (a NOLOOP client changing a key itself), and the key is
    /// forgotten; BCAST prefixes that match it collect it.
    pub fn invalidate(&mut self, key: &[u8], noloop_writer: Option<u64>) {
        if !self.prefixes.is_empty() && self.prefixes.keys().any(|p| key.starts_with(p)) {
            self.changed
                .insert(Bytes::copy_from_slice(key), noloop_writer);
        }
        self.owe_readers(key, noloop_writer);
    }

    /// Forgets `key`, owing its readers (but `noloop_writer`) an invalidation.
    fn owe_readers(&mut self, key: &[u8], noloop_writer: Option<u64>) {
        if self.readers.is_empty() {
            return;
        }
        if let Some((key, readers)) = self.readers.remove_entry(key) {
            self.items -= readers.len();
            for reader in readers {
                if Some(reader.client) != noloop_writer {
                    self.owed.push((reader.core, reader.client, key.clone()));
                }
            }
        }
    }

    /// Forgets `count` remembered keys (the first in the table's order), owing their
    /// readers an invalidation (BCAST clients learn nothing: the keys did not change):
    /// `tracking-table-max-keys`.
    pub fn invalidate_some(&mut self, count: usize) {
        let keys: Vec<Bytes> = self.readers.keys().take(count).cloned().collect();
        for key in keys {
            self.owe_readers(&key, None);
        }
    }

    /// Forgets every remembered key (FLUSHALL, FLUSHDB: clients are told to drop
    /// everything instead).
    pub fn forget_keys(&mut self) {
        self.readers = HashMap::default();
        self.items = 0;
        self.owed.clear();
        self.changed.clear();
    }

    /// Registers `client` for `prefix` (or updates its NOLOOP switch).
    pub fn add_prefix(&mut self, prefix: Bytes, client: BroadcastClient) {
        let clients = self.prefixes.entry(prefix).or_default();
        match clients
            .iter_mut()
            .find(|known| known.client == client.client)
        {
            Some(known) => *known = client,
            None => clients.push(client),
        }
    }

    /// Withdraws every prefix registration of `client`.
    pub fn remove_prefixes(&mut self, client: u64) {
        self.prefixes.retain(|_, clients| {
            clients.retain(|known| known.client != client);
            !clients.is_empty()
        });
    }

    /// True when invalidations wait to be sent.
    pub fn has_owed(&self) -> bool {
        !self.owed.is_empty() || !self.changed.is_empty()
    }

    /// Takes the invalidations owed, by the core of their client: default-mode ones one
    /// per key and reader, then per prefix (in prefix order) one per registered client
    /// with the changed keys it matches (in key order), without the keys a NOLOOP client
    /// changed itself.
    pub fn take_owed(&mut self) -> BTreeMap<u16, Vec<Invalidation>> {
        let mut by_core: BTreeMap<u16, Vec<Invalidation>> = BTreeMap::new();
        for (core, client, key) in self.owed.drain(..) {
            by_core.entry(core).or_default().push(Invalidation {
                client,
                keys: vec![key],
                broadcast: false,
            });
        }
        if self.changed.is_empty() {
            return by_core;
        }
        let changed = std::mem::take(&mut self.changed);
        for (prefix, clients) in &self.prefixes {
            let matching: Vec<(&Bytes, &Option<u64>)> = changed
                .iter()
                .filter(|(key, _)| key.starts_with(prefix))
                .collect();
            if matching.is_empty() {
                continue;
            }
            for client in clients {
                let keys: Vec<Bytes> = matching
                    .iter()
                    .filter(|(_, writer)| !(client.noloop && **writer == Some(client.client)))
                    .map(|(key, _)| (*key).clone())
                    .collect();
                if !keys.is_empty() {
                    by_core.entry(client.core).or_default().push(Invalidation {
                        client: client.client,
                        keys,
                        broadcast: true,
                    });
                }
            }
        }
        by_core
    }

    /// Keys remembered (INFO `tracking_total_keys`).
    pub fn key_count(&self) -> usize {
        self.readers.len()
    }

    /// Readers remembered over all keys (INFO `tracking_total_items`).
    pub fn item_count(&self) -> usize {
        self.items
    }

    /// Distinct prefixes registered (INFO `tracking_total_prefixes`).
    pub fn prefix_count(&self) -> usize {
        self.prefixes.len()
    }
}

/// The expired-key count of the command's database before it runs, when the shard tracks
/// keys: a key that expires lazily during the command is invalidated (Redis signals an
/// expiry as a change).
pub(crate) fn expired_before(ctx: &mut ShardCtx<'_>) -> Option<u64> {
    if ctx.watched.tracking.is_empty() {
        return None;
    }
    Some(ctx.keyspace.db(ctx.db).expired_keys)
}

/// After a command that changed nothing: if keys expired on its way, invalidates those of
/// its keys that are gone.
pub(crate) fn after_lazy_expiry(
    ctx: &mut ShardCtx<'_>,
    spec: &CommandSpec,
    argv: &[Bytes],
    expired_before: u64,
) {
    let now = ctx.now;
    let database = ctx.keyspace.db(ctx.db);
    if database.expired_keys == expired_before {
        return;
    }
    for position in spec.keys.positions(argv) {
        if let Some(key) = argv.get(position) {
            if database.get_live(key, now).is_none() {
                ctx.watched.tracking.invalidate(key, None);
            }
        }
    }
}

/// Remembers the keys of a tracking client's read-only command.
pub(crate) fn remember_reads(ctx: &mut ShardCtx<'_>, spec: &CommandSpec, argv: &[Bytes]) {
    let Some(client) = ctx.client.tracking else {
        return;
    };
    if !client.remember || !spec.has(Flag::ReadOnly) {
        return;
    }
    let reader = Reader {
        client: client.client,
        core: client.core,
    };
    for position in spec.keys.positions(argv) {
        if let Some(key) = argv.get(position) {
            ctx.watched.tracking.remember(key, reader);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(client: u64, core: u16) -> Reader {
        Reader { client, core }
    }

    fn keys(list: &[&'static [u8]]) -> Vec<Bytes> {
        list.iter().map(|key| Bytes::from_static(key)).collect()
    }

    #[test]
    fn a_change_owes_each_reader_once_and_forgets_the_key() {
        let mut table = TrackingTable::default();
        assert!(table.is_empty());
        table.remember(b"k", reader(1, 0));
        table.remember(b"k", reader(1, 0));
        table.remember(b"k", reader(2, 3));
        table.remember(b"other", reader(2, 3));
        assert_eq!((table.key_count(), table.item_count()), (2, 3));
        table.invalidate(b"k", None);
        assert_eq!((table.key_count(), table.item_count()), (1, 1));
        let owed = table.take_owed();
        assert_eq!(owed[&0][0].client, 1);
        assert_eq!(owed[&3][0].keys, keys(&[b"k"]));
        assert!(!table.has_owed());
        table.invalidate(b"k", None);
        assert!(!table.has_owed(), "a forgotten key owes nothing");
    }

    #[test]
    fn a_noloop_writer_is_not_told_about_its_own_change() {
        let mut table = TrackingTable::default();
        table.remember(b"k", reader(1, 0));
        table.remember(b"k", reader(2, 0));
        table.invalidate(b"k", Some(1));
        let owed = table.take_owed();
        let clients: Vec<u64> = owed[&0].iter().map(|owed| owed.client).collect();
        assert_eq!(clients, vec![2]);
        assert_eq!(
            table.key_count(),
            0,
            "the writer's entry is dropped too, as Redis"
        );
    }

    #[test]
    fn broadcast_collects_matching_keys_per_prefix_and_client() {
        let mut table = TrackingTable::default();
        let bcast = |client, noloop| BroadcastClient {
            client,
            core: 1,
            noloop,
        };
        table.add_prefix(Bytes::from_static(b"p:"), bcast(1, false));
        table.add_prefix(Bytes::from_static(b"p:"), bcast(2, true));
        table.add_prefix(Bytes::from_static(b"q:"), bcast(1, false));
        assert_eq!(table.prefix_count(), 2);
        table.invalidate(b"p:2", None);
        table.invalidate(b"p:1", Some(2));
        table.invalidate(b"q:1", None);
        table.invalidate(b"x", None);
        let owed = table.take_owed().remove(&1).unwrap_or_default();
        assert_eq!(owed.len(), 3);
        assert_eq!(
            (owed[0].client, &owed[0].keys),
            (1, &keys(&[b"p:1", b"p:2"]))
        );
        assert_eq!((owed[1].client, &owed[1].keys), (2, &keys(&[b"p:2"])));
        assert_eq!((owed[2].client, &owed[2].keys), (1, &keys(&[b"q:1"])));
        assert!(owed.iter().all(|owed| owed.broadcast));
        table.remove_prefixes(1);
        assert_eq!(table.prefix_count(), 1);
        table.remove_prefixes(2);
        assert!(table.is_empty());
    }
}
