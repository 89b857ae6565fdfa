//! Which PUBLISH goes to which channel, and the per-subscriber check that every
//! message meant for it arrives exactly once and in each publisher's order.
//!
//! Routing: with at least as many publishers as channels, publisher `p` publishes
//! only to channel `p mod C`; with fewer, publisher `p` owns the channels `p`,
//! `p + P`, `p + 2P`, ... and publishes its messages round-robin over them. So every
//! channel has a publisher, and the sequence numbers one publisher sends to one
//! channel form an arithmetic progression, a [`Stream`].
//!
//! The checker keeps, per publisher, the next sequence number it expects and the
//! gaps it skipped. A number above the next expected one opens a gap; one that later
//! fills a gap arrived out of order; one below the next expected and in no gap is a
//! duplicate; one on no stream of this channel is unexpected. Whatever is still in a
//! gap or never reached at the end is missing. Memory is one entry per publisher plus
//! one per gap, so a clean run allocates nothing per message.

use std::fmt;

/// At most this many violations are kept as examples.
const EXAMPLES: usize = 8;

/// Publishers, channels and messages per publisher: the routing of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Routing {
    /// Publishing connections.
    pub publishers: u32,
    /// Channels.
    pub channels: u32,
    /// PUBLISHes per publisher.
    pub messages: u64,
}

/// The sequence numbers one publisher sends to one channel: `first`, `first +
/// stride`, ... below `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stream {
    /// The first sequence number (it may be `end` or above: an empty stream).
    pub first: u64,
    /// The distance between two sequence numbers, at least 1.
    pub stride: u64,
    /// One past the last sequence number the publisher sends at all.
    pub end: u64,
}

impl Stream {
    /// How many messages the stream holds.
    pub fn len(&self) -> u64 {
        self.count_from(self.first)
    }

    /// Whether `sequence` belongs to the stream.
    fn contains(&self, sequence: u64) -> bool {
        sequence >= self.first
            && sequence < self.end
            && (sequence - self.first).is_multiple_of(self.stride)
    }

    /// Messages of the stream from `sequence` (a member, or the member past the
    /// last) to the end.
    fn count_from(&self, sequence: u64) -> u64 {
        if sequence >= self.end {
            0
        } else {
            (self.end - sequence).div_ceil(self.stride)
        }
    }
}

impl Routing {
    /// The channel of publisher `publisher`'s message `sequence` (from 0).
    pub fn channel_of(&self, publisher: u32, sequence: u64) -> u32 {
        if self.publishers >= self.channels {
            return publisher % self.channels;
        }
        let owned = self.channels_owned(publisher);
        // `sequence % owned` < owned <= channels, so it fits in a u32.
        let position = u32::try_from(sequence % u64::from(owned)).unwrap_or(0);
        publisher + position * self.publishers
    }

    /// The messages `publisher` sends to `channel`, or `None` when it sends none.
    pub fn stream(&self, publisher: u32, channel: u32) -> Option<Stream> {
        if publisher >= self.publishers || channel >= self.channels {
            return None;
        }
        if self.publishers >= self.channels {
            return (publisher % self.channels == channel).then_some(Stream {
                first: 0,
                stride: 1,
                end: self.messages,
            });
        }
        (channel % self.publishers == publisher).then(|| Stream {
            first: u64::from(channel / self.publishers),
            stride: u64::from(self.channels_owned(publisher)),
            end: self.messages,
        })
    }

    /// Messages every subscriber of `channel` should receive.
    pub fn messages_to(&self, channel: u32) -> u64 {
        (0..self.publishers)
            .filter_map(|publisher| self.stream(publisher, channel))
            .map(|stream| stream.len())
            .sum()
    }

    /// Channels publisher `publisher` publishes to when there are fewer publishers
    /// than channels: those congruent to it modulo the publisher count.
    fn channels_owned(&self, publisher: u32) -> u32 {
        (self.channels - publisher).div_ceil(self.publishers)
    }
}

/// What went wrong with the messages of a run or of one subscriber.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Violations {
    /// Messages that never arrived.
    pub missing: u64,
    /// Messages that arrived more than once (each extra copy counts).
    pub duplicated: u64,
    /// Messages that arrived after a later message of the same publisher.
    pub out_of_order: u64,
    /// Messages this subscriber should never have seen: another channel, an unknown
    /// publisher or sequence number, a payload that does not parse, or a push that
    /// is no message.
    pub unexpected: u64,
    /// The first few, described.
    pub examples: Vec<String>,
}

impl Violations {
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.missing == 0 && self.duplicated == 0 && self.out_of_order == 0 && self.unexpected == 0
    }

    /// Adds the counts and examples of `other`.
    pub fn merge(&mut self, other: Violations) {
        self.missing += other.missing;
        self.duplicated += other.duplicated;
        self.out_of_order += other.out_of_order;
        self.unexpected += other.unexpected;
        let room = EXAMPLES.saturating_sub(self.examples.len());
        self.examples.extend(other.examples.into_iter().take(room));
    }

    /// Counts one unexpected push, described by `describe` if it is kept.
    pub fn unexpected(&mut self, describe: impl FnOnce() -> String) {
        self.unexpected += 1;
        self.example(describe);
    }

    fn example(&mut self, describe: impl FnOnce() -> String) {
        if self.examples.len() < EXAMPLES {
            self.examples.push(describe());
        }
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{} missing, {} duplicated, {} out of order, {} unexpected",
            self.missing, self.duplicated, self.out_of_order, self.unexpected
        )
    }
}

/// One publisher's messages to the checked channel.
#[derive(Debug, Clone)]
struct Track {
    stream: Stream,
    /// The next sequence number expected: every member below it arrived or is in a gap.
    next: u64,
    /// Members skipped over and not yet arrived, as `(from, to)` ranges of sequence
    /// numbers: `from` is a member, `to` the member after the last one skipped.
    gaps: Vec<(u64, u64)>,
}

/// Checks the messages one subscriber receives on its channel.
#[derive(Debug, Clone)]
pub struct SequenceChecker {
    /// Indexed by publisher; `None` for publishers that do not send to the channel.
    tracks: Vec<Option<Track>>,
    violations: Violations,
}

impl SequenceChecker {
    /// A checker for the subscribers of `channel`.
    pub fn new(routing: Routing, channel: u32) -> Self {
        let tracks = (0..routing.publishers)
            .map(|publisher| {
                routing.stream(publisher, channel).map(|stream| Track {
                    stream,
                    next: stream.first,
                    gaps: Vec::new(),
                })
            })
            .collect();
        Self {
            tracks,
            violations: Violations::default(),
        }
    }

    /// Records the arrival of `publisher`'s message `sequence`.
    pub fn record(&mut self, publisher: u32, sequence: u64) {
        let track = usize::try_from(publisher)
            .ok()
            .and_then(|index| self.tracks.get_mut(index))
            .and_then(Option::as_mut);
        let Some(track) = track.filter(|track| track.stream.contains(sequence)) else {
            self.violations.unexpected(|| {
                format!("publisher {publisher} sequence {sequence}: not sent to this channel")
            });
            return;
        };
        let stride = track.stream.stride;
        if sequence == track.next {
            track.next += stride;
        } else if sequence > track.next {
            track.gaps.push((track.next, sequence));
            track.next = sequence + stride;
        } else if let Some(index) = track
            .gaps
            .iter()
            .position(|&(from, to)| sequence >= from && sequence < to)
        {
            // Arrived late: take it out of its gap, splitting the gap around it.
            let (from, to) = track.gaps.swap_remove(index);
            if from < sequence {
                track.gaps.push((from, sequence));
            }
            if sequence + stride < to {
                track.gaps.push((sequence + stride, to));
            }
            self.violations.out_of_order += 1;
            self.violations.example(|| {
                format!("publisher {publisher} sequence {sequence}: arrived after a later one")
            });
        } else {
            self.violations.duplicated += 1;
            self.violations
                .example(|| format!("publisher {publisher} sequence {sequence}: arrived again"));
        }
    }

    /// Counts a push that is no message of this run.
    pub fn unexpected(&mut self, describe: impl FnOnce() -> String) {
        self.violations.unexpected(describe);
    }

    /// Whether every message meant for this channel has arrived.
    pub fn is_complete(&self) -> bool {
        self.tracks
            .iter()
            .flatten()
            .all(|track| track.gaps.is_empty() && track.next >= track.stream.end)
    }

    /// The violations, counting everything not arrived as missing.
    pub fn finish(mut self) -> Violations {
        for (publisher, track) in self.tracks.iter().enumerate() {
            let Some(track) = track else { continue };
            let stream = track.stream;
            let skipped = track
                .gaps
                .iter()
                .map(|&(from, to)| stream.count_from(from) - stream.count_from(to));
            let never_reached = stream.count_from(track.next);
            let missing: u64 = skipped.sum::<u64>() + never_reached;
            if missing > 0 {
                self.violations.missing += missing;
                let first = track
                    .gaps
                    .iter()
                    .map(|&(from, _)| from)
                    .chain((never_reached > 0).then_some(track.next))
                    .min()
                    .unwrap_or(track.next);
                self.violations.example(|| {
                    format!(
                        "publisher {publisher}: {missing} messages never arrived, the first sequence {first}"
                    )
                });
            }
        }
        self.violations
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routing(publishers: u32, channels: u32, messages: u64) -> Routing {
        Routing {
            publishers,
            channels,
            messages,
        }
    }

    /// Every message lands on exactly one channel, on the stream of its publisher.
    fn check_routing(routing: Routing) {
        let mut per_channel = vec![0u64; routing.channels as usize];
        for publisher in 0..routing.publishers {
            for sequence in 0..routing.messages {
                let channel = routing.channel_of(publisher, sequence);
                per_channel[channel as usize] += 1;
                let stream = routing.stream(publisher, channel).expect("a stream");
                assert!(
                    stream.contains(sequence),
                    "{routing:?} {publisher} {sequence}"
                );
                for other in (0..routing.channels).filter(|&other| other != channel) {
                    if let Some(stream) = routing.stream(publisher, other) {
                        assert!(!stream.contains(sequence));
                    }
                }
            }
        }
        for (channel, &count) in per_channel.iter().enumerate() {
            assert_eq!(routing.messages_to(channel as u32), count, "{routing:?}");
            assert!(count > 0 || routing.messages < u64::from(routing.channels));
        }
    }

    #[test]
    fn routing_covers_every_channel_once_per_message() {
        for (publishers, channels, messages) in [
            (1, 1, 10),
            (1, 100, 250),
            (50, 50, 7),
            (3, 10, 31),
            (10, 3, 5),
            (7, 7, 1),
            (2, 5, 3),
        ] {
            check_routing(routing(publishers, channels, messages));
        }
        let equal = routing(50, 50, 10);
        assert_eq!(equal.channel_of(7, 3), 7);
        let one_publisher = routing(1, 4, 10);
        let channels: Vec<u32> = (0..6).map(|k| one_publisher.channel_of(0, k)).collect();
        assert_eq!(channels, [0, 1, 2, 3, 0, 1]);
        assert_eq!(routing(10, 3, 5).messages_to(0), 4 * 5);
        assert_eq!(routing(10, 3, 5).stream(10, 0), None);
    }

    fn checker_for(sequences: &[u64], messages: u64) -> Violations {
        let mut checker = SequenceChecker::new(routing(1, 1, messages), 0);
        for &sequence in sequences {
            checker.record(0, sequence);
        }
        checker.finish()
    }

    #[test]
    fn a_clean_stream_has_no_violations() {
        let mut checker = SequenceChecker::new(routing(2, 1, 3), 0);
        assert!(!checker.is_complete());
        for sequence in 0..3 {
            checker.record(1, sequence);
            checker.record(0, sequence);
        }
        assert!(checker.is_complete());
        let violations = checker.finish();
        assert!(violations.is_empty(), "{violations:?}");
        assert_eq!(violations, Violations::default());
    }

    #[test]
    fn a_missing_message_is_reported() {
        let violations = checker_for(&[0, 1, 3, 4], 5);
        assert_eq!(violations.missing, 1);
        assert_eq!(
            (
                violations.duplicated,
                violations.out_of_order,
                violations.unexpected
            ),
            (0, 0, 0)
        );
        assert_eq!(
            violations.examples,
            ["publisher 0: 1 messages never arrived, the first sequence 2"]
        );
        // Lost at the tail, and never sent at all.
        assert_eq!(checker_for(&[0, 1, 2], 5).missing, 2);
        assert_eq!(checker_for(&[], 5).missing, 5);
        assert_eq!(checker_for(&[0, 4], 5).missing, 3);
    }

    #[test]
    fn a_duplicated_message_is_reported() {
        let violations = checker_for(&[0, 1, 1, 2, 0], 3);
        assert_eq!(violations.duplicated, 2);
        assert_eq!((violations.missing, violations.out_of_order), (0, 0));
        assert_eq!(
            violations.examples[0],
            "publisher 0 sequence 1: arrived again"
        );
        // A late message counts once as out of order; its second copy is a duplicate.
        let violations = checker_for(&[0, 2, 1, 1], 3);
        assert_eq!((violations.out_of_order, violations.duplicated), (1, 1));
    }

    #[test]
    fn a_reordered_message_is_reported() {
        let violations = checker_for(&[0, 2, 1, 3], 4);
        assert_eq!(violations.out_of_order, 1);
        assert_eq!((violations.missing, violations.duplicated), (0, 0));
        assert_eq!(
            violations.examples,
            ["publisher 0 sequence 1: arrived after a later one"]
        );
        // A gap filled from its middle keeps its two ends missing.
        let violations = checker_for(&[0, 5, 3], 6);
        assert_eq!((violations.out_of_order, violations.missing), (1, 3));
        // A fully reversed stream: every message but the last is late.
        let violations = checker_for(&[4, 3, 2, 1, 0], 5);
        assert_eq!((violations.out_of_order, violations.missing), (4, 0));
    }

    #[test]
    fn a_gap_filled_late_completes_the_channel() {
        let mut checker = SequenceChecker::new(routing(1, 1, 3), 0);
        checker.record(0, 0);
        checker.record(0, 2);
        assert!(!checker.is_complete());
        checker.record(0, 1);
        assert!(checker.is_complete());
        assert_eq!(checker.finish().out_of_order, 1);
    }

    #[test]
    fn strided_streams_are_checked_on_their_own_members() {
        // 2 publishers over 5 channels: publisher 1 owns channels 1 and 3, so channel 3
        // gets its odd sequence numbers.
        let routing = routing(2, 5, 6);
        let mut checker = SequenceChecker::new(routing, 3);
        assert_eq!(routing.messages_to(3), 3);
        for sequence in [1, 5, 3, 2] {
            checker.record(1, sequence);
        }
        checker.record(0, 1);
        let violations = checker.finish();
        assert_eq!(violations.out_of_order, 1);
        assert_eq!(violations.unexpected, 2, "{violations:?}");
        assert_eq!(violations.missing, 0);
        assert!(violations
            .examples
            .contains(&"publisher 0 sequence 1: not sent to this channel".to_owned()));
    }

    #[test]
    fn violations_merge_and_read_well() {
        let mut total = checker_for(&[0, 0], 2);
        total.merge(checker_for(&[1], 2));
        // The first lost sequence 1 and got 0 twice, the second lost sequence 0.
        assert_eq!(
            (total.duplicated, total.missing, total.out_of_order),
            (1, 2, 0)
        );
        assert_eq!(total.examples.len(), 3);
        assert!(!total.is_empty());
        assert_eq!(
            total.to_string(),
            "2 missing, 1 duplicated, 0 out of order, 0 unexpected"
        );
        let mut many = Violations::default();
        for _ in 0..20 {
            many.unexpected(|| "x".to_owned());
        }
        assert_eq!((many.unexpected, many.examples.len()), (20, EXAMPLES));
    }
}
