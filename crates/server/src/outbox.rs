//! A client's out-of-band output: pub/sub messages and other pushes that other clients
//! (or other cores) produce while the client's connection task waits for its next
//! request. The connection task writes them; producers never wait for it.
//!
//! The bytes waiting here and the bytes being written count against the
//! `client-output-buffer-limit` of the client's class (`pubsub` for subscribers): past the
//! hard limit, or past the soft limit for longer than its seconds, the client is
//! disconnected and its buffer dropped, as Redis does, so a subscriber that does not read
//! costs bounded memory and never slows the publishers.

use bytes::Bytes;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// One class's `client-output-buffer-limit`: `hard` and `soft` bytes (0 = no limit) and
/// the seconds a client may stay over `soft`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutputLimit {
    /// Disconnect as soon as the output exceeds this many bytes.
    pub hard: u64,
    /// Disconnect when the output stays above this many bytes ...
    pub soft: u64,
    /// ... for this many seconds.
    pub soft_seconds: u64,
}

/// The client classes of `client-output-buffer-limit`, in the order CONFIG GET lists them.
const CLASSES: [&str; 3] = ["normal", "slave", "pubsub"];

/// Redis's default `client-output-buffer-limit`, as CONFIG GET shows it.
pub const DEFAULT_OUTPUT_LIMITS: &str =
    "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60";

/// Applies `client-output-buffer-limit` text (`<class> <hard> <soft> <seconds>` groups; the
/// classes not named keep their limits in `current`) and returns the whole normalized
/// setting, as CONFIG GET shows it; errors carry Redis's texts.
pub fn merge_output_limits(current: &str, text: &str) -> Result<String, String> {
    let mut limits = parse_groups(current).unwrap_or_default();
    for (class, limit) in parse_groups(text)? {
        match limits.iter_mut().find(|(known, _)| *known == class) {
            Some(entry) => entry.1 = limit,
            None => limits.push((class, limit)),
        }
    }
    Ok(CLASSES
        .iter()
        .map(|class| {
            let limit = limits
                .iter()
                .find(|(known, _)| known == class)
                .map(|(_, limit)| *limit)
                .unwrap_or_default();
            format!(
                "{class} {} {} {}",
                limit.hard, limit.soft, limit.soft_seconds
            )
        })
        .collect::<Vec<_>>()
        .join(" "))
}

/// The `pubsub` class's limit in a normalized `client-output-buffer-limit` setting.
pub fn pubsub_output_limit(setting: &str) -> OutputLimit {
    class_output_limit(setting, "pubsub")
}

/// The `slave` class's limit, which MONITOR clients are held to, as in Redis.
pub fn replica_output_limit(setting: &str) -> OutputLimit {
    class_output_limit(setting, "slave")
}

fn class_output_limit(setting: &str, wanted: &str) -> OutputLimit {
    parse_groups(setting)
        .ok()
        .and_then(|groups| {
            groups
                .into_iter()
                .find(|(class, _)| *class == wanted)
                .map(|(_, limit)| limit)
        })
        .unwrap_or_default()
}

fn parse_groups(text: &str) -> Result<Vec<(&'static str, OutputLimit)>, String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if !words.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".to_owned());
    }
    words
        .chunks(4)
        .map(|group| {
            let class = match group[0].to_ascii_lowercase().as_str() {
                "normal" => "normal",
                "slave" | "replica" => "slave",
                "pubsub" => "pubsub",
                _ => {
                    return Err(
                        "Invalid client class specified in buffer limit configuration.".to_owned(),
                    )
                }
            };
            let number =
                |word: &str| crate::config::parse_memory(word).filter(|n| *n <= i64::MAX as u64);
            match (
                number(group[1]),
                number(group[2]),
                group[3].parse::<u64>().ok(),
            ) {
                (Some(hard), Some(soft), Some(soft_seconds)) => Ok((
                    class,
                    OutputLimit {
                        hard,
                        soft,
                        soft_seconds,
                    },
                )),
                _ => Err(
                    "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                        .to_owned(),
                ),
            }
        })
        .collect()
}

/// Frames at least this long are queued as shared buffers (one per core and protocol,
/// whatever the number of subscribers); shorter ones are copied, which costs less than
/// sharing.
const SHARE_MIN: usize = 1024;

/// Queued output: shared frames and copied bytes, in order.
#[derive(Default)]
struct Queue {
    /// Earlier output, as buffers to send one after the other.
    chunks: Vec<Bytes>,
    /// Copied frames after the last chunk.
    tail: Vec<u8>,
    /// Bytes in `chunks` and `tail`.
    len: usize,
}

impl Queue {
    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn close_tail(&mut self) {
        if !self.tail.is_empty() {
            self.chunks
                .push(Bytes::from(std::mem::take(&mut self.tail)));
        }
    }
}

/// Pushes waiting for a client's connection task.
#[derive(Default)]
pub struct Outbox {
    pending: RefCell<Queue>,
    /// Bytes the connection task took and is still writing.
    in_flight: Cell<usize>,
    waker: Cell<Option<Waker>>,
    /// Since when the output has been above the soft limit.
    over_soft_since: Cell<Option<Instant>>,
    /// Set when the client went over its limit: nothing more is queued.
    overflowed: Cell<bool>,
}

/// What [`Outbox::push`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pushed {
    /// Queued for the connection task.
    Queued,
    /// Dropped: the client is over its output limit (this push put it over, or an earlier
    /// one did).
    OverLimit,
}

impl Outbox {
    /// Queues a copy of `frame` (encoded bytes) unless that takes the output past `limit`.
    pub fn push(&self, frame: &[u8], limit: OutputLimit) -> Pushed {
        self.queue(frame.len(), limit, |queue| {
            queue.tail.extend_from_slice(frame)
        })
    }

    /// Queues `frame`, shared with other clients when it is large, unless that takes the
    /// output past `limit`.
    pub fn push_shared(&self, frame: &Bytes, limit: OutputLimit) -> Pushed {
        if frame.len() < SHARE_MIN {
            return self.push(frame, limit);
        }
        self.queue(frame.len(), limit, |queue| {
            queue.close_tail();
            queue.chunks.push(frame.clone());
        })
    }

    fn queue(&self, len: usize, limit: OutputLimit, add: impl FnOnce(&mut Queue)) -> Pushed {
        if self.overflowed.get() {
            return Pushed::OverLimit;
        }
        let mut pending = self.pending.borrow_mut();
        let total = (pending.len + self.in_flight.get() + len) as u64;
        if limit.hard > 0 && total > limit.hard || self.over_soft_too_long(total, limit) {
            drop(pending);
            self.overflow();
            return Pushed::OverLimit;
        }
        let was_empty = pending.is_empty();
        add(&mut pending);
        pending.len += len;
        drop(pending);
        if was_empty {
            if let Some(waker) = self.waker.take() {
                waker.wake();
            }
        }
        Pushed::Queued
    }

    fn over_soft_too_long(&self, total: u64, limit: OutputLimit) -> bool {
        if limit.soft == 0 || total <= limit.soft {
            self.over_soft_since.set(None);
            return false;
        }
        let now = Instant::now();
        let since = *self.over_soft_since.get().get_or_insert(now);
        self.over_soft_since.set(Some(since));
        now.duration_since(since) > Duration::from_secs(limit.soft_seconds)
    }

    /// Drops everything queued and refuses further pushes.
    fn overflow(&self) {
        self.overflowed.set(true);
        *self.pending.borrow_mut() = Queue::default();
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    /// True once the client went over its output limit.
    pub fn overflowed(&self) -> bool {
        self.overflowed.get()
    }

    /// True when nothing waits to be written.
    pub fn is_empty(&self) -> bool {
        self.pending.borrow().is_empty()
    }

    /// Appends the queued bytes to `out` (which the connection writes next).
    pub fn drain_into(&self, out: &mut Vec<u8>) {
        let queue = std::mem::take(&mut *self.pending.borrow_mut());
        for chunk in &queue.chunks {
            out.extend_from_slice(chunk);
        }
        out.extend_from_slice(&queue.tail);
    }

    /// Takes the queued output for writing, as buffers to send in order; they count
    /// against the limit until [`Outbox::written`].
    pub fn take(&self) -> Vec<Bytes> {
        let mut queue = std::mem::take(&mut *self.pending.borrow_mut());
        queue.close_tail();
        self.in_flight.set(queue.len);
        queue.chunks
    }

    /// The bytes taken by [`Outbox::take`] reached the socket.
    pub fn written(&self) {
        self.in_flight.set(0);
    }

    /// Bytes queued or being written (CLIENT LIST's `omem`).
    pub fn memory(&self) -> usize {
        self.pending.borrow().len + self.in_flight.get()
    }

    /// Resolves when something is queued or the client overflowed.
    pub fn ready(&self) -> OutboxReady<'_> {
        OutboxReady { outbox: self }
    }
}

/// The future of [`Outbox::ready`].
pub struct OutboxReady<'a> {
    outbox: &'a Outbox,
}

impl Future for OutboxReady<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<()> {
        if !self.outbox.is_empty() || self.outbox.overflowed() {
            return Poll::Ready(());
        }
        self.outbox.waker.set(Some(context.waker().clone()));
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: OutputLimit = OutputLimit {
        hard: 100,
        soft: 50,
        soft_seconds: 60,
    };

    #[test]
    fn queues_until_the_hard_limit_then_refuses_everything() {
        let outbox = Outbox::default();
        assert_eq!(outbox.push(&[b'x'; 60], LIMIT), Pushed::Queued);
        assert_eq!(outbox.memory(), 60);
        assert_eq!(outbox.push(&[b'x'; 41], LIMIT), Pushed::OverLimit);
        assert!(outbox.overflowed());
        assert_eq!(outbox.memory(), 0, "an overflowed client's buffer is freed");
        assert_eq!(outbox.push(b"y", LIMIT), Pushed::OverLimit);
    }

    #[test]
    fn bytes_being_written_count_against_the_limit() {
        let outbox = Outbox::default();
        outbox.push(&[b'x'; 90], LIMIT);
        let taken = outbox.take();
        assert_eq!(taken.iter().map(Bytes::len).sum::<usize>(), 90);
        assert_eq!(outbox.push(&[b'x'; 20], LIMIT), Pushed::OverLimit);
        let outbox = Outbox::default();
        outbox.push(&[b'x'; 90], LIMIT);
        outbox.take();
        outbox.written();
        assert_eq!(outbox.push(&[b'x'; 20], LIMIT), Pushed::Queued);
    }

    #[test]
    fn the_soft_limit_allows_its_seconds() {
        let outbox = Outbox::default();
        let soft_only = OutputLimit {
            hard: 0,
            soft: 10,
            soft_seconds: 0,
        };
        assert_eq!(outbox.push(&[b'x'; 20], soft_only), Pushed::Queued);
        std::thread::sleep(Duration::from_millis(1100));
        assert_eq!(outbox.push(b"y", soft_only), Pushed::OverLimit);
        let patient = Outbox::default();
        assert_eq!(patient.push(&[b'x'; 20], LIMIT), Pushed::Queued);
        assert_eq!(patient.push(&[b'x'; 20], LIMIT), Pushed::Queued);
    }

    #[test]
    fn output_limit_setting_merges_classes_like_redis() {
        let merged = merge_output_limits(DEFAULT_OUTPUT_LIMITS, "pubsub 1mb 512kb 10").unwrap();
        assert_eq!(
            merged,
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 524288 10"
        );
        assert_eq!(
            pubsub_output_limit(&merged),
            OutputLimit {
                hard: 1048576,
                soft: 524288,
                soft_seconds: 10
            }
        );
        assert_eq!(
            pubsub_output_limit(DEFAULT_OUTPUT_LIMITS).hard,
            32 * 1024 * 1024
        );
        assert!(merge_output_limits(DEFAULT_OUTPUT_LIMITS, "pubsub 1mb 1mb")
            .unwrap_err()
            .starts_with("Wrong number of arguments"));
        assert!(merge_output_limits(DEFAULT_OUTPUT_LIMITS, "other 1 1 1")
            .unwrap_err()
            .starts_with("Invalid client class"));
        assert!(merge_output_limits(DEFAULT_OUTPUT_LIMITS, "pubsub x 1 1")
            .unwrap_err()
            .starts_with("Error in hard"));
    }

    #[test]
    fn large_frames_are_shared_and_order_is_kept() {
        let outbox = Outbox::default();
        let large = Bytes::from(vec![b'L'; SHARE_MIN]);
        outbox.push(b"a", OutputLimit::default());
        outbox.push_shared(&large, OutputLimit::default());
        outbox.push_shared(&Bytes::from_static(b"b"), OutputLimit::default());
        assert_eq!(outbox.memory(), SHARE_MIN + 2);
        let chunks = outbox.take();
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks[0], Bytes::from_static(b"a"));
        assert_eq!(
            chunks[1].as_ptr(),
            large.as_ptr(),
            "a large frame is the shared buffer, not a copy"
        );
        assert_eq!(chunks[2], Bytes::from_static(b"b"));
        assert_eq!(outbox.memory(), SHARE_MIN + 2, "in flight until written");
        outbox.written();
        assert_eq!(outbox.memory(), 0);
    }

    #[test]
    fn no_limit_when_zero() {
        let outbox = Outbox::default();
        for _ in 0..100 {
            assert_eq!(
                outbox.push(&[b'x'; 1000], OutputLimit::default()),
                Pushed::Queued
            );
        }
        let mut out = Vec::new();
        outbox.drain_into(&mut out);
        assert_eq!(out.len(), 100_000);
        assert!(outbox.is_empty());
    }
}
