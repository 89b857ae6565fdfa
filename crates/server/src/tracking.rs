//! Client-side caching: CLIENT TRACKING, CACHING, GETREDIR and TRACKINGINFO, and the
//! delivery of invalidations to clients on any core.
//!
//! Where things live (nothing is shared between cores; only messages cross them):
//! * A client's tracking state ([`TrackingState`]: mode, redirection, prefixes) is in its
//!   [`ClientInfo`], on its connection's core. The session copies what shards need (id,
//!   core, whether its reads are remembered, NOLOOP) into
//!   [`ClientOptions::tracking`](peregrine_commands::ClientOptions), which travels with
//!   every batch; a client that does not track costs a batch nothing but that `None`.
//! * Each shard's [`TrackingTable`](peregrine_commands::TrackingTable) remembers which
//!   clients read which of its keys, and holds a copy of every BCAST prefix registration
//!   (replicated to every core, each acknowledged, before CLIENT TRACKING replies).
//! * A change on a shard owes invalidations; after the batch (or write-back, or expiry
//!   step) that made it, [`send_owed`] posts them to the clients' cores, one message per
//!   core. There, [`deliver`] checks that the client still tracks in the matching mode and
//!   queues the push: to the client itself (RESP3 `invalidate` push), or to its REDIRECT
//!   target, possibly on a third core (an `invalidate` push to a RESP3 target, a
//!   `__redis__:invalidate` message to a subscribed RESP2 target). A target that is gone
//!   breaks the redirection: RESP3 clients get `tracking-redir-broken`, as in Redis.
//! * FLUSHALL and FLUSHDB make every shard forget its remembered keys and every core tell
//!   each of its tracking clients to drop everything (a null key list).
//! * Each core keeps a registry of its clients that other cores may name by id (tracking
//!   clients and redirect targets) as weak references, removed at disconnect.
//!
//! Differences from Redis:
//! * A RESP2 redirect target gets a null key list as `$-1` even when the tracking client
//!   speaks RESP3 (Redis writes the tracking client's null there, which RESP2 cannot read).
//! * Invalidations from different shards reach a client in no fixed order relative to each
//!   other (each shard's own are in order); BCAST batches a shard's changed keys per batch
//!   of commands, so one MSET over two shards gives two messages per prefix.
//! * A client's invalidation of its own write follows the replies of the whole batch of
//!   keyed commands it was pipelined in, not the write's reply alone (it does precede the
//!   replies of later server, cross-shard and EXEC commands).
//! * Keys that expire lazily outside keyed commands (SCAN, KEYS, RANDOMKEY, the scratch
//!   copy of a cross-shard command) are not invalidated until active expiry would have
//!   removed them; eviction does not invalidate (Peregrine does not evict yet).
//! * `tracking-table-max-keys` is kept per shard (each keeps its share of the limit, at
//!   least one key), checked after each batch of commands rather than before each
//!   command, and the keys forgotten past it are taken in the table's order, not at
//!   random.

use crate::dispatch::Session;
use crate::shard_state::{ClientInfo, ShardRouter, ShardState};
use bytes::Bytes;
use peregrine_commands::tracking::{BroadcastClient, Invalidation};
use peregrine_commands::{CommandSpec, Flag, TrackingClient};
use peregrine_resp::{Argv, Protocol, Reply};
use peregrine_shard::ShardId;
use std::collections::{BTreeSet, HashMap};
use std::rc::{Rc, Weak};

/// The channel RESP2 redirect targets receive invalidations on.
pub const INVALIDATE_CHANNEL: &[u8] = b"__redis__:invalidate";

/// A client's CLIENT TRACKING state (in its [`ClientInfo`]).
#[derive(Clone, Debug, Default)]
pub struct TrackingState {
    /// CLIENT TRACKING ON.
    pub on: bool,
    /// REDIRECT target id (0: none).
    pub redirect: u64,
    /// The core the REDIRECT target's connection lives on.
    pub redirect_core: u16,
    /// BCAST mode.
    pub bcast: bool,
    /// OPTIN mode.
    pub optin: bool,
    /// OPTOUT mode.
    pub optout: bool,
    /// NOLOOP.
    pub noloop: bool,
    /// CLIENT CACHING YES (OPTIN) or NO (OPTOUT) given for the next command.
    pub caching: bool,
    /// The REDIRECT target was gone when an invalidation was due.
    pub broken_redirect: bool,
    /// BCAST prefixes, in Redis's (byte) order.
    pub prefixes: BTreeSet<Bytes>,
}

impl TrackingState {
    /// What shards need to know about this client (`None` when it does not track).
    pub fn client_options(&self, client: u64, core: ShardId) -> Option<TrackingClient> {
        if !self.on {
            return None;
        }
        // OPTIN needs CLIENT CACHING YES; CLIENT CACHING NO cancels OPTOUT.
        let remember = !self.bcast
            && match (self.optin, self.optout) {
                (true, _) => self.caching,
                (_, true) => !self.caching,
                _ => true,
            };
        Some(TrackingClient {
            client,
            core: core.0,
            remember,
            noloop: self.noloop,
        })
    }

    /// CLIENT LIST's tracking flags: `t` tracking, `R` broken redirection, `B` BCAST.
    pub fn list_flags(&self, flags: &mut String) {
        if self.on {
            flags.push('t');
        }
        if self.broken_redirect {
            flags.push('R');
        }
        if self.bcast {
            flags.push('B');
        }
    }

    /// CLIENT GETREDIR and CLIENT LIST's `redir`: the target, 0 for none, -1 when off.
    pub fn redirection(&self) -> i64 {
        if self.on {
            self.redirect as i64
        } else {
            -1
        }
    }
}

/// One core's registry of its clients that other cores may name by id.
#[derive(Default)]
pub struct TrackingCore {
    clients: HashMap<u64, Weak<ClientInfo>, ahash::RandomState>,
}

impl TrackingCore {
    fn register(&mut self, client: &Rc<ClientInfo>) {
        self.clients.insert(client.id, Rc::downgrade(client));
    }

    fn client(&self, id: u64) -> Option<Rc<ClientInfo>> {
        self.clients.get(&id).and_then(Weak::upgrade)
    }

    /// Clients of this core with tracking on (INFO `tracking_clients`).
    pub fn tracking_clients(&self) -> usize {
        self.clients
            .values()
            .filter_map(Weak::upgrade)
            .filter(|client| client.tracking.borrow().on)
            .count()
    }

    fn tracking(&self) -> Vec<Rc<ClientInfo>> {
        self.clients
            .values()
            .filter_map(Weak::upgrade)
            .filter(|client| client.tracking.borrow().on)
            .collect()
    }
}

/// What an invalidation message says.
#[derive(Clone, Debug)]
enum Payload {
    /// These keys changed.
    Keys(Vec<Bytes>),
    /// Everything changed (FLUSHALL, FLUSHDB).
    All,
}

/// The parsed options of CLIENT TRACKING.
#[derive(Default)]
struct TrackingOptions {
    redirect: Option<(u64, ShardId)>,
    bcast: bool,
    optin: bool,
    optout: bool,
    noloop: bool,
    prefixes: Vec<Bytes>,
}

/// CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX prefix ...] [BCAST] [OPTIN] [OPTOUT]
/// [NOLOOP]: checks in Redis's order with Redis's texts; BCAST prefixes are on every core
/// before the reply.
pub async fn tracking_command(session: &mut Session, argv: &Argv) -> Reply {
    let options = match parse_options(session, argv).await {
        Ok(options) => options,
        Err(reply) => return reply,
    };
    if argv[2].eq_ignore_ascii_case(b"on") {
        if let Err(reply) = check_enable(&session.info.tracking.borrow(), &options) {
            return reply;
        }
        enable(session, options).await;
    } else if argv[2].eq_ignore_ascii_case(b"off") {
        disable(session).await;
    } else {
        return Reply::error("ERR syntax error");
    }
    Reply::Ok
}

async fn parse_options(session: &Session, argv: &Argv) -> Result<TrackingOptions, Reply> {
    let mut options = TrackingOptions::default();
    let mut index = 3;
    while index < argv.len() {
        let option = &argv[index];
        let more = index + 1 < argv.len();
        if option.eq_ignore_ascii_case(b"redirect") && more {
            index += 1;
            if options.redirect.is_some() {
                return Err(Reply::error(
                    "ERR A client can only redirect to a single other client",
                ));
            }
            let id = std::str::from_utf8(&argv[index])
                .ok()
                .and_then(|text| text.parse::<i64>().ok())
                .ok_or_else(|| Reply::error("ERR value is not an integer or out of range"))?;
            let located = match u64::try_from(id) {
                Ok(id) if id > 0 => locate_target(&session.router, id).await,
                _ => None,
            };
            let Some(core) = located else {
                return Err(Reply::error(
                    "ERR The client ID you want redirect to does not exist",
                ));
            };
            options.redirect = Some((id as u64, core));
        } else if option.eq_ignore_ascii_case(b"bcast") {
            options.bcast = true;
        } else if option.eq_ignore_ascii_case(b"optin") {
            options.optin = true;
        } else if option.eq_ignore_ascii_case(b"optout") {
            options.optout = true;
        } else if option.eq_ignore_ascii_case(b"noloop") {
            options.noloop = true;
        } else if option.eq_ignore_ascii_case(b"prefix") && more {
            index += 1;
            options.prefixes.push(argv[index].clone());
        } else {
            return Err(Reply::error("ERR syntax error"));
        }
        index += 1;
    }
    Ok(options)
}

/// Redis's checks before enabling, in its order.
fn check_enable(current: &TrackingState, options: &TrackingOptions) -> Result<(), Reply> {
    if !options.bcast && !options.prefixes.is_empty() {
        return Err(Reply::error(
            "ERR PREFIX option requires BCAST mode to be enabled",
        ));
    }
    if current.on && current.bcast != options.bcast {
        return Err(Reply::error("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode."));
    }
    if options.bcast && (options.optin || options.optout) {
        return Err(Reply::error(
            "ERR OPTIN and OPTOUT are not compatible with BCAST",
        ));
    }
    if options.optin && options.optout {
        return Err(Reply::error(
            "ERR You can't specify both OPTIN mode and OPTOUT mode",
        ));
    }
    if (options.optin && current.optout) || (options.optout && current.optin) {
        return Err(Reply::error("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode."));
    }
    if options.bcast {
        check_prefix_collisions(&current.prefixes, &options.prefixes)?;
    }
    Ok(())
}

/// Two prefixes collide when one starts the other (both would invalidate some key).
fn collide(first: &[u8], second: &[u8]) -> bool {
    let length = first.len().min(second.len());
    first[..length] == second[..length]
}

/// Redis error texts show prefixes as text on one line.
fn shown(prefix: &[u8]) -> String {
    String::from_utf8_lossy(prefix).replace(['\r', '\n'], " ")
}

fn check_prefix_collisions(existing: &BTreeSet<Bytes>, new: &[Bytes]) -> Result<(), Reply> {
    for (index, prefix) in new.iter().enumerate() {
        if let Some(known) = existing.iter().find(|known| collide(known, prefix)) {
            return Err(Reply::error(format!(
                "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                shown(prefix),
                shown(known)
            )));
        }
        if let Some(other) = new[index + 1..].iter().find(|other| collide(prefix, other)) {
            return Err(Reply::error(format!(
                "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                shown(prefix),
                shown(other)
            )));
        }
    }
    Ok(())
}

/// Finds the core of client `id` and registers it there as a redirect target.
async fn locate_target(router: &ShardRouter, id: u64) -> Option<ShardId> {
    for shard in router.shards() {
        let found = router
            .invoke_on(shard, move |state: Rc<ShardState>| async move {
                let client = state
                    .clients
                    .borrow()
                    .iter()
                    .find(|(_, client)| client.id == id && !client.killed.get())
                    .map(|(_, client)| client.clone());
                match client {
                    Some(client) => {
                        state.tracking.borrow_mut().register(&client);
                        true
                    }
                    None => false,
                }
            })
            .await;
        if found {
            return Some(shard);
        }
    }
    None
}

async fn enable(session: &mut Session, options: TrackingOptions) {
    let me = session.router.me();
    session
        .shard()
        .tracking
        .borrow_mut()
        .register(&session.info);
    let prefixes = {
        let mut state = session.info.tracking.borrow_mut();
        state.on = true;
        state.broken_redirect = false;
        state.bcast = options.bcast;
        state.optin = options.optin;
        state.optout = options.optout;
        state.noloop = options.noloop;
        (state.redirect, state.redirect_core) =
            options.redirect.map_or((0, 0), |(id, core)| (id, core.0));
        if options.bcast {
            if options.prefixes.is_empty() {
                state.prefixes.insert(Bytes::new());
            }
            state.prefixes.extend(options.prefixes);
        }
        state.prefixes.clone()
    };
    refresh_options(session);
    if !prefixes.is_empty() {
        let client = BroadcastClient {
            client: session.info.id,
            core: me.0,
            noloop: options.noloop,
        };
        let prefixes = std::sync::Arc::new(prefixes);
        on_every_core(&session.router, move |state| {
            let mut watched = state.watched.borrow_mut();
            for prefix in prefixes.iter() {
                watched.tracking.add_prefix(prefix.clone(), client);
            }
        })
        .await;
    }
}

/// CLIENT TRACKING OFF (also RESET and disconnection): withdraws BCAST prefixes from every
/// core; keys remembered for the client are dropped lazily, when they change.
pub async fn disable(session: &mut Session) {
    let was_bcast = {
        let mut state = session.info.tracking.borrow_mut();
        let was_bcast = state.bcast;
        *state = TrackingState::default();
        was_bcast
    };
    refresh_options(session);
    if was_bcast {
        let client = session.info.id;
        on_every_core(&session.router, move |state| {
            state.watched.borrow_mut().tracking.remove_prefixes(client);
        })
        .await;
    }
}

/// A closing connection: tracking off, and no longer reachable by id.
pub async fn forget_client(session: &mut Session) {
    if session.info.tracking.borrow().on {
        disable(session).await;
    }
    let mut core = session.shard().tracking.borrow_mut();
    if !core.clients.is_empty() {
        core.clients.remove(&session.info.id);
    }
}

/// Runs `work` on every core and waits for all of them.
async fn on_every_core(router: &ShardRouter, work: impl Fn(&ShardState) + Clone + Send + 'static) {
    for shard in router.shards() {
        let work = work.clone();
        router
            .invoke_on(
                shard,
                move |state: Rc<ShardState>| async move { work(&state) },
            )
            .await;
    }
}

/// Copies the client's tracking state into the options its commands carry.
fn refresh_options(session: &mut Session) {
    session.options.tracking = session
        .info
        .tracking
        .borrow()
        .client_options(session.info.id, session.router.me());
}

/// CLIENT CACHING YES|NO.
pub fn caching_command(session: &mut Session, argv: &Argv) -> Reply {
    {
        let mut state = session.info.tracking.borrow_mut();
        if !state.on {
            return Reply::error("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled");
        }
        if argv[2].eq_ignore_ascii_case(b"yes") {
            if !state.optin {
                return Reply::error(
                    "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
                );
            }
        } else if argv[2].eq_ignore_ascii_case(b"no") {
            if !state.optout {
                return Reply::error(
                    "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
                );
            }
        } else {
            return Reply::error("ERR syntax error");
        }
        state.caching = true;
    }
    refresh_options(session);
    Reply::Ok
}

/// True when the command about to run uses CLIENT CACHING's one-command switch (any
/// command but CLIENT itself, while the switch is set). Costs a non-tracking client one
/// branch.
pub fn uses_caching(session: &Session, argv: &Argv) -> bool {
    session.options.tracking.is_some()
        && !argv
            .first()
            .is_some_and(|name| name.eq_ignore_ascii_case(b"client"))
        && session.info.tracking.borrow().caching
}

/// The command that used CLIENT CACHING's switch finished: outside MULTI the switch is
/// spent (inside, it lasts until EXEC, as in Redis).
pub fn caching_used(session: &mut Session) {
    if session.multi.is_some() {
        return;
    }
    session.info.tracking.borrow_mut().caching = false;
    refresh_options(session);
}

/// CLIENT GETREDIR.
pub fn getredir(session: &Session) -> Reply {
    Reply::Integer(session.info.tracking.borrow().redirection())
}

/// CLIENT TRACKINGINFO: flags (a set), redirect, prefixes.
pub fn trackinginfo(session: &Session) -> Reply {
    let state = session.info.tracking.borrow();
    let mut flags = vec![if state.on { "on" } else { "off" }];
    if state.bcast {
        flags.push("bcast");
    }
    if state.optin {
        flags.push("optin");
        if state.caching {
            flags.push("caching-yes");
        }
    }
    if state.optout {
        flags.push("optout");
        if state.caching {
            flags.push("caching-no");
        }
    }
    if state.noloop {
        flags.push("noloop");
    }
    if state.broken_redirect {
        flags.push("broken_redirect");
    }
    Reply::Map(vec![
        (
            Reply::bulk("flags"),
            Reply::Set(flags.into_iter().map(Reply::bulk).collect()),
        ),
        (Reply::bulk("redirect"), Reply::Integer(state.redirection())),
        (
            Reply::bulk("prefixes"),
            Reply::Array(state.prefixes.iter().cloned().map(Reply::Bulk).collect()),
        ),
    ])
}

/// Remembers `keys` (owned by this shard) for a tracking client's read-only command that
/// ran elsewhere (on a scratch copy of keys from several shards).
pub fn remember_remote_read(
    state: &ShardState,
    options: peregrine_commands::ClientOptions,
    spec: &CommandSpec,
    keys: &[Bytes],
) {
    let Some(client) = options.tracking else {
        return;
    };
    if !client.remember || !spec.has(Flag::ReadOnly) {
        return;
    }
    let reader = peregrine_commands::tracking::Reader {
        client: client.client,
        core: client.core,
    };
    let mut watched = state.watched.borrow_mut();
    for key in keys {
        watched.tracking.remember(key, reader);
    }
}

/// Sends the invalidations this shard owes, one message per client core. Call after work
/// that may have changed keys, with the shard's `watched` registry not borrowed.
pub fn send_owed(state: &ShardState) {
    keep_to_limit(state);
    let owed = {
        let mut watched = state.watched.borrow_mut();
        if !watched.tracking.has_owed() {
            return;
        }
        watched.tracking.take_owed()
    };
    let Some(router) = state.router() else {
        return;
    };
    for (core, invalidations) in owed {
        router.post(ShardId(core), move |state: &Rc<ShardState>| {
            deliver(state, invalidations)
        });
    }
}

/// Most keys one call of [`keep_to_limit`] forgets: a limit lowered far below the table's
/// size is reached over several batches instead of in one stall.
const LIMIT_EFFORT: usize = 1000;

/// `tracking-table-max-keys`: past this shard's share of the limit, forgets keys,
/// invalidating them for their readers as Redis does (the readers must not keep a copy
/// nobody will tell them about).
fn keep_to_limit(state: &ShardState) {
    // Every batch of commands ends here: nothing but a length test while nothing is
    // remembered.
    let mut watched = state.watched.borrow_mut();
    let remembered = watched.tracking.key_count();
    if remembered == 0 {
        return;
    }
    let max_keys = state.tracking_table_max_keys();
    if max_keys == 0 {
        return;
    }
    let shards = state
        .router()
        .map_or(1, |router| usize::from(router.shard_count()));
    let share = (max_keys / shards.max(1)).max(1);
    if remembered > share {
        watched
            .tracking
            .invalidate_some((remembered - share).min(LIMIT_EFFORT));
    }
}

/// FLUSHALL or FLUSHDB ran on this shard: it forgets its remembered keys, and this core's
/// tracking clients are told to drop everything.
pub fn flushed(state: &ShardState) {
    state.watched.borrow_mut().tracking.forget_keys();
    let clients = state.tracking.borrow().tracking();
    for client in clients {
        notify(state, &client, Payload::All);
    }
}

/// Delivers invalidations owed to clients of this core.
fn deliver(state: &ShardState, invalidations: Vec<Invalidation>) {
    for invalidation in invalidations {
        let Some(client) = state.tracking.borrow().client(invalidation.client) else {
            continue;
        };
        let (on, bcast) = {
            let tracking = client.tracking.borrow();
            (tracking.on, tracking.bcast)
        };
        // Keys remembered before a switch to BCAST (or the reverse) are not sent.
        if !on || bcast != invalidation.broadcast {
            continue;
        }
        if invalidation.broadcast {
            notify(state, &client, Payload::Keys(invalidation.keys));
        } else {
            for key in invalidation.keys {
                notify(state, &client, Payload::Keys(vec![key]));
            }
        }
    }
}

/// Sends `payload` where `client`'s invalidations go: to itself (RESP3 only) or to its
/// REDIRECT target, here or on its core.
fn notify(state: &ShardState, client: &Rc<ClientInfo>, payload: Payload) {
    let (redirect, core) = {
        let tracking = client.tracking.borrow();
        (tracking.redirect, tracking.redirect_core)
    };
    if redirect == 0 {
        if client.resp.get() == 3 {
            push_invalidation(state, client, &payload, false);
        }
        return;
    }
    if core == state.id.0 {
        let target = state.tracking.borrow().client(redirect);
        match target {
            Some(target) => push_invalidation(state, &target, &payload, true),
            None => redirect_broken(state, client),
        }
        return;
    }
    let Some(router) = state.router() else {
        return;
    };
    let origin = (client.id, state.id);
    router.post(ShardId(core), move |state: &Rc<ShardState>| {
        let target = state.tracking.borrow().client(redirect);
        match target {
            Some(target) => push_invalidation(state, &target, &payload, true),
            None => {
                let Some(router) = state.router() else {
                    return;
                };
                router.post(origin.1, move |state: &Rc<ShardState>| {
                    let client = state.tracking.borrow().client(origin.0);
                    if let Some(client) = client {
                        redirect_broken(state, &client);
                    }
                });
            }
        }
    });
}

/// The REDIRECT target is gone: the client's redirection is broken, and a RESP3 client is
/// told so.
fn redirect_broken(state: &ShardState, client: &ClientInfo) {
    let redirect = {
        let mut tracking = client.tracking.borrow_mut();
        if !tracking.on {
            return;
        }
        tracking.broken_redirect = true;
        tracking.redirect
    };
    if client.resp.get() == 3 {
        let mut frame = Vec::with_capacity(48);
        Reply::Push(vec![
            Reply::bulk("tracking-redir-broken"),
            Reply::Integer(redirect as i64),
        ])
        .encode(Protocol::Resp3, &mut frame);
        push(state, client, &frame);
    }
}

/// Queues an invalidation for `target`: a push for RESP3, a `__redis__:invalidate`
/// message for a RESP2 redirect target in subscribed mode, nothing otherwise.
fn push_invalidation(state: &ShardState, target: &ClientInfo, payload: &Payload, redirected: bool) {
    let keys = match payload {
        Payload::Keys(keys) => Reply::Array(keys.iter().cloned().map(Reply::Bulk).collect()),
        Payload::All => Reply::Nil,
    };
    let mut frame = Vec::new();
    if target.resp.get() == 3 {
        Reply::Push(vec![Reply::bulk("invalidate"), keys]).encode(Protocol::Resp3, &mut frame);
    } else if redirected && target.subscriptions.get().iter().any(|count| *count > 0) {
        Reply::Push(vec![
            Reply::bulk("message"),
            Reply::Bulk(Bytes::from_static(INVALIDATE_CHANNEL)),
            keys,
        ])
        .encode(Protocol::Resp2, &mut frame);
    } else {
        return;
    }
    push(state, target, &frame);
}

/// Queues `frame` under the client's output limit (`pubsub` class for subscribers, none
/// for normal clients, as Redis's defaults).
fn push(state: &ShardState, client: &ClientInfo, frame: &[u8]) {
    let limit = if client.subscriptions.get().iter().any(|count| *count > 0) {
        state.pubsub_output_limit()
    } else {
        crate::outbox::OutputLimit::default()
    };
    crate::pubsub::push(client, frame, limit);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_collisions_use_redis_texts_and_order() {
        let existing: BTreeSet<Bytes> = [Bytes::from_static(b"ab")].into_iter().collect();
        let error = |reply: Reply| match reply {
            Reply::Error(text) => text.into_owned(),
            other => panic!("not an error: {other:?}"),
        };
        let new = [Bytes::from_static(b"cd"), Bytes::from_static(b"a")];
        assert_eq!(
            error(check_prefix_collisions(&existing, &new).unwrap_err()),
            "ERR Prefix 'a' overlaps with an existing prefix 'ab'. Prefixes for a single client must not overlap."
        );
        let new = [Bytes::from_static(b"foo"), Bytes::from_static(b"foobar")];
        assert_eq!(
            error(check_prefix_collisions(&BTreeSet::new(), &new).unwrap_err()),
            "ERR Prefix 'foo' overlaps with another provided prefix 'foobar'. Prefixes for a single client must not overlap."
        );
        let new = [Bytes::from_static(b"x"), Bytes::from_static(b"y")];
        assert!(check_prefix_collisions(&existing, &new).is_ok());
        let everything: BTreeSet<Bytes> = [Bytes::new()].into_iter().collect();
        assert!(check_prefix_collisions(&everything, &new).is_err());
    }

    #[test]
    fn reads_are_remembered_by_mode_and_caching() {
        let mut state = TrackingState {
            on: true,
            ..TrackingState::default()
        };
        let remember = |state: &TrackingState| {
            state
                .client_options(7, ShardId(1))
                .is_some_and(|client| client.remember)
        };
        assert!(remember(&state));
        state.optin = true;
        assert!(!remember(&state));
        state.caching = true;
        assert!(remember(&state));
        state.optin = false;
        state.optout = true;
        assert!(!remember(&state));
        state.caching = false;
        assert!(remember(&state));
        state.optout = false;
        state.bcast = true;
        assert!(!remember(&state));
        state.on = false;
        assert!(state.client_options(7, ShardId(1)).is_none());
        assert_eq!(state.redirection(), -1);
    }
}
