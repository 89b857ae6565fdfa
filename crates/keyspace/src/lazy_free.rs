//! Freeing big values away from the shard's core, as Redis's lazyfree thread does.
//!
//! Dropping a collection of millions of elements takes hundreds of milliseconds; done on
//! a shard's core it would stall every client of that shard. Collections bigger than
//! [`LAZYFREE_THRESHOLD`] elements hand their storage to one background thread instead,
//! whatever removed them (DEL, UNLINK, an overwrite, expiry, FLUSHALL), so a removal costs
//! the shard O(1). The allocator (jemalloc) frees memory from any thread.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::OnceLock;

/// Collections with more elements than this are freed in the background (Redis's
/// `LAZYFREE_THRESHOLD`).
pub const LAZYFREE_THRESHOLD: usize = 64;

type Garbage = Box<dyn Send>;

static PENDING: AtomicU64 = AtomicU64::new(0);
static FREED: AtomicU64 = AtomicU64::new(0);

fn sender() -> Option<&'static Sender<Garbage>> {
    static SENDER: OnceLock<Option<Sender<Garbage>>> = OnceLock::new();
    SENDER
        .get_or_init(|| {
            let (sender, receiver) = channel::<Garbage>();
            std::thread::Builder::new()
                .name("lazyfree".into())
                .spawn(move || {
                    for garbage in receiver {
                        drop(garbage);
                        PENDING.fetch_sub(1, Ordering::Relaxed);
                        FREED.fetch_add(1, Ordering::Relaxed);
                    }
                })
                .ok()
                .map(|_| sender)
        })
        .as_ref()
}

/// Drops `storage` on the lazyfree thread when `elements` exceeds the threshold, here
/// otherwise (or when the thread could not be started).
pub fn free_maybe_later<T: Send + 'static>(storage: T, elements: usize) {
    if elements <= LAZYFREE_THRESHOLD {
        return;
    }
    if let Some(sender) = sender() {
        PENDING.fetch_add(1, Ordering::Relaxed);
        if let Err(returned) = sender.send(Box::new(storage)) {
            PENDING.fetch_sub(1, Ordering::Relaxed);
            drop(returned);
        }
    }
}

/// Objects waiting to be freed (INFO `lazyfree_pending_objects`).
pub fn lazyfree_pending_objects() -> u64 {
    PENDING.load(Ordering::Relaxed)
}

/// Objects freed in the background since start (INFO `lazyfreed_objects`).
pub fn lazyfreed_objects() -> u64 {
    FREED.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_storage_is_freed_on_the_background_thread() {
        let before = lazyfreed_objects();
        free_maybe_later(vec![0u8; 16], 10);
        assert_eq!(lazyfreed_objects(), before);
        free_maybe_later(vec![0u64; 1000], 1000);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while lazyfreed_objects() == before && std::time::Instant::now() < deadline {
            std::thread::yield_now();
        }
        assert!(lazyfreed_objects() > before);
    }
}
