//! Per-shard key locks for multi-shard operations (VLL-style).
//!
//! A multi-shard operation locks all its keys on one shard at once, shard after shard in
//! ascending id order, runs its parts, then releases. Requests are granted in FIFO order:
//! a request waits if it conflicts with a holder or with an earlier waiter. Since every
//! request enqueues all its keys of a shard atomically and shards are taken in one global
//! order, no cycle of waits can form.
//!
//! Single-shard commands use [`LockTable::is_idle`] and [`LockTable::conflicts`] to run at
//! once when nothing they touch is locked, paying nothing in the common case.
//!
//! A transaction that holds [`LockKey::Everything`] exclusively under an owner id (MULTI/EXEC
//! running server or multi-shard commands) may run commands that lock again: requests
//! carrying the same owner are granted at once and their releases undo only themselves.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// A lockable thing: one key of one database, or the whole shard.
///
/// Keys are locked by a 64-bit hash of (database, key): no allocation per lock, and two
/// keys whose hashes collide merely wait for each other, which is always safe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LockKey {
    /// A key in a database, by hash.
    Key(u64),
    /// Every key of the shard (FLUSHALL, SWAPDB).
    Everything,
}

impl LockKey {
    /// The lock for `key` in database `db`.
    pub fn for_key(db: u32, key: &[u8]) -> LockKey {
        static HASHER: std::sync::OnceLock<ahash::RandomState> = std::sync::OnceLock::new();
        let hasher = HASHER.get_or_init(|| {
            ahash::RandomState::with_seeds(0x5851_f42d, 0x4c95_7f2d, 0x1405_7b7e, 0xf767_814f)
        });
        LockKey::Key(hasher.hash_one((db, key)))
    }
}

/// Shared locks coexist; an exclusive lock excludes every other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockMode {
    /// For readers.
    Shared,
    /// For writers.
    Exclusive,
}

/// Identifies the transaction a request belongs to, so that a transaction holding
/// everything can run commands that lock on their own (see [`LockTable`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LockOwner(pub u64);

/// The keys one operation locks on one shard.
#[derive(Clone, Debug, Default)]
pub struct LockRequest {
    /// Keys and modes; a key may appear twice (the stronger mode wins).
    pub keys: Vec<(LockKey, LockMode)>,
    /// The transaction asking, if any.
    pub owner: Option<LockOwner>,
}

impl LockRequest {
    /// A request for `keys` on behalf of `owner`.
    pub fn new(keys: Vec<(LockKey, LockMode)>, owner: Option<LockOwner>) -> LockRequest {
        LockRequest { keys, owner }
    }

    /// An exclusive lock on the whole shard.
    pub fn everything(owner: Option<LockOwner>) -> LockRequest {
        LockRequest::new(vec![(LockKey::Everything, LockMode::Exclusive)], owner)
    }

    fn is_everything_exclusive(&self) -> bool {
        self.keys
            .contains(&(LockKey::Everything, LockMode::Exclusive))
    }
}

#[derive(Default, Clone, Copy)]
struct Held {
    shared: u32,
    exclusive: bool,
}

struct Waiter {
    request: LockRequest,
    granted: Rc<RefCell<GrantState>>,
}

#[derive(Default)]
struct GrantState {
    granted: bool,
    waker: Option<Waker>,
}

/// One shard's lock table.
#[derive(Default)]
pub struct LockTable {
    held: HashMap<LockKey, Held, ahash::RandomState>,
    everything_held: Held,
    waiters: VecDeque<Waiter>,
    /// The owner holding everything exclusively, and how many of its own requests it
    /// holds on top (granted without effect).
    reentrant: Option<(LockOwner, u32)>,
}

impl LockTable {
    /// An empty table.
    pub fn new() -> LockTable {
        LockTable::default()
    }

    /// True when nothing is held or awaited: the single-shard fast path.
    pub fn is_idle(&self) -> bool {
        self.held.is_empty() && self.waiters.is_empty() && !self.everything_is_held()
    }

    fn everything_is_held(&self) -> bool {
        self.everything_held.exclusive || self.everything_held.shared > 0
    }

    /// True when `request` would have to wait (conflicts with a holder or an earlier
    /// waiter).
    pub fn conflicts(&self, request: &LockRequest) -> bool {
        if self.is_reentry(request) {
            return false;
        }
        self.conflicts_with_holders(request)
            || self
                .waiters
                .iter()
                .any(|waiter| requests_conflict(&waiter.request, request))
    }

    fn conflicts_with_holders(&self, request: &LockRequest) -> bool {
        request.keys.iter().any(|(key, mode)| {
            let exclusive = *mode == LockMode::Exclusive;
            let everything = &self.everything_held;
            if everything.exclusive || (exclusive && everything.shared > 0) {
                return true;
            }
            match key {
                LockKey::Everything => {
                    (exclusive && !self.held.is_empty())
                        || self.held.values().any(|held| held.exclusive)
                        || (exclusive && self.everything_is_held())
                }
                key => self
                    .held
                    .get(key)
                    .is_some_and(|held| held.exclusive || (exclusive && held.shared > 0)),
            }
        })
    }

    /// True when `request` comes from the owner that holds everything here.
    fn is_reentry(&self, request: &LockRequest) -> bool {
        matches!((request.owner, self.reentrant), (Some(owner), Some((holder, _))) if owner == holder)
    }

    fn grant(&mut self, request: &LockRequest) {
        if let Some(owner) = request.owner {
            if request.is_everything_exclusive() {
                self.reentrant = Some((owner, 0));
            }
        }
        for (key, mode) in &request.keys {
            let held = match key {
                LockKey::Everything => &mut self.everything_held,
                key => self.held.entry(*key).or_default(),
            };
            match mode {
                LockMode::Exclusive => held.exclusive = true,
                LockMode::Shared => held.shared += 1,
            }
        }
    }

    /// Takes the locks of `request`, waiting in FIFO order if needed. Release them with
    /// [`LockTable::release`] once the operation's part on this shard is done.
    pub fn acquire(table: &Rc<RefCell<LockTable>>, request: LockRequest) -> LockAcquisition {
        let mut this = table.borrow_mut();
        if this.is_reentry(&request) {
            if let Some((_, depth)) = &mut this.reentrant {
                *depth += 1;
            }
            return LockAcquisition { waiting: None };
        }
        if !this.conflicts(&request) {
            this.grant(&request);
            return LockAcquisition { waiting: None };
        }
        let granted = Rc::new(RefCell::new(GrantState::default()));
        this.waiters.push_back(Waiter {
            request: request.clone(),
            granted: granted.clone(),
        });
        LockAcquisition {
            waiting: Some(Waiting {
                table: table.clone(),
                request,
                granted,
            }),
        }
    }

    /// Forgets a waiter whose acquisition was dropped before it was granted, and grants
    /// the ones it held up.
    fn withdraw(&mut self, granted: &Rc<RefCell<GrantState>>) {
        self.waiters
            .retain(|waiter| !Rc::ptr_eq(&waiter.granted, granted));
        self.grant_waiters();
    }

    /// Releases the locks of `request` and grants waiters that can now proceed.
    pub fn release(&mut self, request: &LockRequest) {
        if self.is_reentry(request) {
            match &mut self.reentrant {
                Some((_, depth)) if *depth > 0 => {
                    *depth -= 1;
                    return;
                }
                _ => self.reentrant = None,
            }
        }
        for (key, mode) in &request.keys {
            let remove = {
                let held = match key {
                    LockKey::Everything => &mut self.everything_held,
                    key => match self.held.get_mut(key) {
                        Some(held) => held,
                        None => continue,
                    },
                };
                match mode {
                    LockMode::Exclusive => held.exclusive = false,
                    LockMode::Shared => held.shared = held.shared.saturating_sub(1),
                }
                !held.exclusive && held.shared == 0
            };
            if remove {
                if let LockKey::Key(..) = key {
                    self.held.remove(key);
                }
            }
        }
        self.grant_waiters();
    }

    fn grant_waiters(&mut self) {
        let mut index = 0;
        while index < self.waiters.len() {
            let blocked = self.conflicts_with_holders(&self.waiters[index].request)
                || self.waiters.iter().take(index).any(|earlier| {
                    requests_conflict(&earlier.request, &self.waiters[index].request)
                });
            if blocked {
                index += 1;
                continue;
            }
            if let Some(waiter) = self.waiters.remove(index) {
                self.grant(&waiter.request);
                let mut state = waiter.granted.borrow_mut();
                state.granted = true;
                if let Some(waker) = state.waker.take() {
                    waker.wake();
                }
            }
        }
    }
}

fn requests_conflict(first: &LockRequest, second: &LockRequest) -> bool {
    first.keys.iter().any(|(first_key, first_mode)| {
        second.keys.iter().any(|(second_key, second_mode)| {
            let overlap = first_key == second_key
                || *first_key == LockKey::Everything
                || *second_key == LockKey::Everything;
            overlap && (*first_mode == LockMode::Exclusive || *second_mode == LockMode::Exclusive)
        })
    })
}

/// Resolves once the locks are granted.
///
/// Dropped before it resolved (its task was cancelled: a client went away while its
/// command waited in line), it leaves the line, or gives back what was granted, so that
/// nothing stays locked for an operation that will never run.
pub struct LockAcquisition {
    waiting: Option<Waiting>,
}

/// A request in line: where, what, and its grant.
struct Waiting {
    table: Rc<RefCell<LockTable>>,
    request: LockRequest,
    granted: Rc<RefCell<GrantState>>,
}

impl Future for LockAcquisition {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<()> {
        let Some(waiting) = &self.waiting else {
            return Poll::Ready(());
        };
        let mut state = waiting.granted.borrow_mut();
        if state.granted {
            drop(state);
            // The caller holds the locks now and releases them itself.
            self.waiting = None;
            Poll::Ready(())
        } else {
            state.waker = Some(context.waker().clone());
            Poll::Pending
        }
    }
}

impl Drop for LockAcquisition {
    fn drop(&mut self) {
        let Some(waiting) = self.waiting.take() else {
            return;
        };
        let Ok(mut table) = waiting.table.try_borrow_mut() else {
            return;
        };
        if waiting.granted.borrow().granted {
            table.release(&waiting.request);
        } else {
            table.withdraw(&waiting.granted);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(keys: &[(&str, LockMode)]) -> LockRequest {
        LockRequest {
            keys: keys
                .iter()
                .map(|(key, mode)| (LockKey::for_key(0, key.as_bytes()), *mode))
                .collect(),
            owner: None,
        }
    }

    fn ready(acquisition: &mut LockAcquisition) -> bool {
        let waker = Waker::noop();
        let mut context = Context::from_waker(waker);
        Pin::new(acquisition).poll(&mut context).is_ready()
    }

    #[test]
    fn fifo_grants_and_shared_locks() {
        let table = Rc::new(RefCell::new(LockTable::new()));
        let writer = request(&[("a", LockMode::Exclusive), ("b", LockMode::Exclusive)]);
        let mut first = LockTable::acquire(&table, writer.clone());
        assert!(ready(&mut first));
        let reader = request(&[("a", LockMode::Shared)]);
        let mut second = LockTable::acquire(&table, reader.clone());
        let mut third = LockTable::acquire(&table, reader.clone());
        assert!(!ready(&mut second) && !ready(&mut third));
        // An unrelated key is not blocked.
        assert!(!table
            .borrow()
            .conflicts(&request(&[("c", LockMode::Exclusive)])));
        // A writer behind the readers waits for them.
        let mut fourth = LockTable::acquire(&table, request(&[("a", LockMode::Exclusive)]));
        table.borrow_mut().release(&writer);
        assert!(ready(&mut second) && ready(&mut third));
        assert!(!ready(&mut fourth));
        table.borrow_mut().release(&reader);
        assert!(!ready(&mut fourth));
        table.borrow_mut().release(&reader);
        assert!(ready(&mut fourth));
    }

    #[test]
    fn a_dropped_acquisition_leaves_the_line_or_gives_back_its_grant() {
        let table = Rc::new(RefCell::new(LockTable::new()));
        let holder = request(&[("a", LockMode::Exclusive)]);
        assert!(ready(&mut LockTable::acquire(&table, holder.clone())));
        // Dropped while waiting: it leaves the line, and the one behind it is not held up.
        let mut gone = LockTable::acquire(&table, request(&[("a", LockMode::Exclusive)]));
        assert!(!ready(&mut gone));
        let mut behind = LockTable::acquire(&table, request(&[("a", LockMode::Shared)]));
        assert!(!ready(&mut behind));
        drop(gone);
        table.borrow_mut().release(&holder);
        assert!(ready(&mut behind));
        table
            .borrow_mut()
            .release(&request(&[("a", LockMode::Shared)]));
        assert!(table.borrow().is_idle());
        // Granted, then dropped before it was polled again: the grant is given back.
        assert!(ready(&mut LockTable::acquire(&table, holder.clone())));
        let granted_unseen = LockTable::acquire(&table, holder.clone());
        table.borrow_mut().release(&holder);
        assert!(!table.borrow().is_idle());
        drop(granted_unseen);
        assert!(table.borrow().is_idle());
    }

    #[test]
    fn everything_excludes_all_keys() {
        let table = Rc::new(RefCell::new(LockTable::new()));
        let everything = LockRequest::everything(None);
        let mut global = LockTable::acquire(&table, everything.clone());
        assert!(ready(&mut global));
        assert!(table
            .borrow()
            .conflicts(&request(&[("x", LockMode::Shared)])));
        table.borrow_mut().release(&everything);
        assert!(table.borrow().is_idle());
    }
}

#[cfg(test)]
mod reentry_tests {
    use super::*;

    fn ready(acquisition: &mut LockAcquisition) -> bool {
        let waker = Waker::noop();
        let mut context = Context::from_waker(waker);
        Pin::new(acquisition).poll(&mut context).is_ready()
    }

    #[test]
    fn an_owner_holding_everything_locks_again_without_waiting() {
        let table = Rc::new(RefCell::new(LockTable::new()));
        let owner = Some(LockOwner(7));
        let outer = LockRequest::everything(owner);
        assert!(ready(&mut LockTable::acquire(&table, outer.clone())));
        // Another client queues behind the transaction.
        let other = LockRequest::new(vec![(LockKey::for_key(0, b"k"), LockMode::Exclusive)], None);
        let mut waiting = LockTable::acquire(&table, other.clone());
        assert!(!ready(&mut waiting));
        // The transaction's own nested requests pass, even the one behind the waiter.
        let nested = LockRequest::new(
            vec![(LockKey::for_key(0, b"k"), LockMode::Exclusive)],
            owner,
        );
        assert!(!table.borrow().conflicts(&nested));
        assert!(ready(&mut LockTable::acquire(&table, nested.clone())));
        assert!(ready(&mut LockTable::acquire(&table, outer.clone())));
        table.borrow_mut().release(&outer);
        table.borrow_mut().release(&nested);
        assert!(
            !ready(&mut waiting),
            "nested releases must not free the outer lock"
        );
        table.borrow_mut().release(&outer);
        assert!(ready(&mut waiting));
        table.borrow_mut().release(&other);
        assert!(table.borrow().is_idle());
        // A stranger with another owner id waits like anyone else.
        assert!(ready(&mut LockTable::acquire(&table, outer.clone())));
        let stranger = LockRequest::everything(Some(LockOwner(8)));
        assert!(!ready(&mut LockTable::acquire(&table, stranger)));
    }
}
