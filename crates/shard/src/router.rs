//! Cross-core calls over glommio's channel mesh.
//!
//! Every core owns a [`Router`]. [`Router::invoke_on`] runs a closure against the target
//! shard's state and returns its result; when the target is the calling core it is a plain
//! call, otherwise the closure travels in a message. Messages for one core are queued in an
//! outbox that a per-peer task drains into the mesh channel: everything queued between two
//! drains (requests and responses of many connections) travels as one channel message, so
//! one wake-up of the peer carries many operations. Outboxes never block a sender, so
//! request and response traffic cannot deadlock on full channels; memory stays bounded
//! because every request is awaited by its caller.

use crate::ShardId;
use glommio::channels::channel_mesh::{Full, MeshBuilder, Senders};
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

type AnyValue = Box<dyn Any + Send>;
type RemoteFuture = Pin<Box<dyn Future<Output = AnyValue>>>;
type Task<S> = Box<dyn FnOnce(Rc<S>) -> RemoteFuture + Send>;
type Notice<S> = Box<dyn FnOnce(&Rc<S>) + Send>;

/// What travels between cores.
enum Envelope<S> {
    Request {
        id: usize,
        task: Task<S>,
    },
    Response {
        id: usize,
        value: AnyValue,
    },
    /// One-way work that wants no answer (pub/sub deliveries).
    Notice(Notice<S>),
}

/// The unit of transfer: everything queued for one core between two drains.
type Batch<S> = Vec<Envelope<S>>;

/// Builds the routers of all cores; clone it into every executor, then call
/// [`RouterBuilder::join`] there.
pub struct RouterBuilder<S> {
    mesh: MeshBuilder<Batch<S>, Full>,
}

impl<S> Clone for RouterBuilder<S> {
    fn clone(&self) -> Self {
        RouterBuilder {
            mesh: self.mesh.clone(),
        }
    }
}

/// Capacity of each core-to-core channel, in batches.
const CHANNEL_CAPACITY: usize = 1024;

impl<S: 'static> RouterBuilder<S> {
    /// A builder for `shard_count` cores.
    pub fn new(shard_count: u16) -> RouterBuilder<S> {
        RouterBuilder {
            mesh: MeshBuilder::full(usize::from(shard_count), CHANNEL_CAPACITY),
        }
    }

    /// Joins the mesh from the current executor, owning `state`. Resolves once every core
    /// joined; the returned router's [`Router::me`] is this core's shard id.
    pub async fn join(self, state: impl FnOnce(ShardId) -> S) -> Rc<Router<S>> {
        let (senders, mut receivers) = match self.mesh.join().await {
            Ok(joined) => joined,
            Err(_) => panic!("the channel mesh could not be joined"),
        };
        let me = ShardId(senders.peer_id() as u16);
        let count = senders.nr_consumers();
        let router = Rc::new(Router {
            me,
            count: count as u16,
            state: Rc::new(state(me)),
            senders,
            outboxes: (0..count).map(|_| RefCell::new(Vec::new())).collect(),
            flusher_wakers: (0..count).map(|_| Cell::new(None)).collect(),
            pending: RefCell::new(slab::Slab::new()),
        });
        for (peer, receiver) in receivers.streams() {
            let inbound = router.clone();
            glommio::spawn_local(async move {
                while let Some(batch) = receiver.recv().await {
                    for envelope in batch {
                        inbound.handle(peer, envelope);
                    }
                }
            })
            .detach();
            let outbound = router.clone();
            glommio::spawn_local(async move { outbound.drain_outbox(peer).await }).detach();
        }
        router
    }
}

/// One core's endpoint of the mesh and owner of its shard state.
pub struct Router<S> {
    me: ShardId,
    count: u16,
    state: Rc<S>,
    senders: Senders<Batch<S>>,
    outboxes: Vec<RefCell<Batch<S>>>,
    flusher_wakers: Vec<Cell<Option<Waker>>>,
    pending: RefCell<slab::Slab<PendingSlot>>,
}

#[derive(Default)]
struct PendingSlot {
    value: Option<AnyValue>,
    waker: Option<Waker>,
    /// The caller went away; the slot is freed when the response arrives.
    abandoned: bool,
}

impl<S: 'static> Router<S> {
    /// This core's shard.
    pub fn me(&self) -> ShardId {
        self.me
    }

    /// Number of shards.
    pub fn shard_count(&self) -> u16 {
        self.count
    }

    /// This core's shard state.
    pub fn state(&self) -> &Rc<S> {
        &self.state
    }

    /// All shard ids in ascending order.
    pub fn shards(&self) -> impl Iterator<Item = ShardId> {
        (0..self.count).map(ShardId)
    }

    /// Runs `work` against `target`'s state and returns its result. A local target is a
    /// direct call; a remote one is a message there and a message back.
    pub async fn invoke_on<R, F, Fut>(&self, target: ShardId, work: F) -> R
    where
        R: Send + 'static,
        F: FnOnce(Rc<S>) -> Fut + Send + 'static,
        Fut: Future<Output = R> + 'static,
    {
        if target == self.me {
            return work(self.state.clone()).await;
        }
        let id = self.pending.borrow_mut().insert(PendingSlot::default());
        let task: Task<S> =
            Box::new(move |state| Box::pin(async move { Box::new(work(state).await) as AnyValue }));
        self.enqueue(target.index(), Envelope::Request { id, task });
        let value = PendingCall { router: self, id }.await;
        match value.downcast::<R>() {
            Ok(value) => *value,
            Err(_) => unreachable!("a response always has its request's type"),
        }
    }

    /// Runs `work` against `target`'s state without waiting for it: a local target runs it
    /// at once, a remote one in the order of every other message this core sent there (so
    /// two notices from one core arrive in the order they were posted).
    pub fn post<F>(&self, target: ShardId, work: F)
    where
        F: FnOnce(&Rc<S>) + Send + 'static,
    {
        if target == self.me {
            work(&self.state);
        } else {
            self.enqueue(target.index(), Envelope::Notice(Box::new(work)));
        }
    }

    fn enqueue(&self, peer: usize, envelope: Envelope<S>) {
        self.outboxes[peer].borrow_mut().push(envelope);
        if let Some(waker) = self.flusher_wakers[peer].take() {
            waker.wake();
        }
    }

    fn handle(self: &Rc<Self>, peer: usize, envelope: Envelope<S>) {
        match envelope {
            Envelope::Response { id, value } => {
                let mut pending = self.pending.borrow_mut();
                if pending.get(id).is_some_and(|slot| slot.abandoned) {
                    pending.remove(id);
                } else if let Some(slot) = pending.get_mut(id) {
                    slot.value = Some(value);
                    if let Some(waker) = slot.waker.take() {
                        waker.wake();
                    }
                }
            }
            Envelope::Notice(work) => work(&self.state),
            Envelope::Request { id, task } => {
                let mut future = task(self.state.clone());
                // Most requests complete synchronously: poll once here and only spawn a task
                // for the ones that must wait (e.g. for a lock).
                let waker = Waker::noop();
                let mut context = Context::from_waker(waker);
                match future.as_mut().poll(&mut context) {
                    Poll::Ready(value) => self.enqueue(peer, Envelope::Response { id, value }),
                    Poll::Pending => {
                        let router = self.clone();
                        glommio::spawn_local(async move {
                            let value = future.await;
                            router.enqueue(peer, Envelope::Response { id, value });
                        })
                        .detach();
                    }
                }
            }
        }
    }

    async fn drain_outbox(self: Rc<Self>, peer: usize) {
        loop {
            std::future::poll_fn(|context| {
                if self.outboxes[peer].borrow().is_empty() {
                    self.flusher_wakers[peer].set(Some(context.waker().clone()));
                    Poll::Pending
                } else {
                    Poll::Ready(())
                }
            })
            .await;
            let batch = std::mem::take(&mut *self.outboxes[peer].borrow_mut());
            if self.senders.send_to(peer, batch).await.is_err() {
                return;
            }
        }
    }
}

/// Resolves when the response for `id` arrives.
struct PendingCall<'a, S> {
    router: &'a Router<S>,
    id: usize,
}

impl<S> Future for PendingCall<'_, S> {
    type Output = AnyValue;

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<AnyValue> {
        let mut pending = self.router.pending.borrow_mut();
        let Some(slot) = pending.get_mut(self.id) else {
            return Poll::Pending;
        };
        match slot.value.take() {
            Some(value) => {
                pending.remove(self.id);
                Poll::Ready(value)
            }
            None => {
                slot.waker = Some(context.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl<S> Drop for PendingCall<'_, S> {
    fn drop(&mut self) {
        let mut pending = self.router.pending.borrow_mut();
        if let Some(slot) = pending.get_mut(self.id) {
            if slot.value.is_some() {
                pending.remove(self.id);
            } else {
                slot.abandoned = true;
            }
        }
    }
}
