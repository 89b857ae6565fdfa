use super::*;

fn id(ms: u64, seq: u64) -> StreamId {
    StreamId::new(ms, seq)
}

fn filled(count: u64) -> Stream {
    let mut stream = Stream::new();
    for index in 1..=count {
        let value = format!("v{index}");
        stream.append(
            id(index, 0),
            &[(b"f".as_slice(), value.as_bytes())],
            StreamLimits::default(),
        );
    }
    stream
}

fn ids(stream: &Stream, start: StreamId, end: StreamId, reverse: bool) -> Vec<u64> {
    stream
        .range(start, end, reverse)
        .map(|entry| entry.id.ms)
        .collect()
}

#[test]
fn ranges_walk_nodes_both_ways() {
    let stream = filled(250);
    assert_eq!(stream.node_count(), 3);
    assert_eq!(stream.len(), 250);
    let forward = ids(&stream, StreamId::MIN, StreamId::MAX, false);
    assert_eq!(forward, (1..=250).collect::<Vec<_>>());
    let backward = ids(&stream, id(95, 0), id(105, 0), true);
    assert_eq!(backward, (95..=105).rev().collect::<Vec<_>>());
    assert_eq!(
        ids(&stream, id(101, 1), id(101, 5), false),
        Vec::<u64>::new()
    );
    let entry = stream.get(id(7, 0)).unwrap();
    assert_eq!(entry.pairs, vec![(&b"f"[..], &b"v7"[..])]);
}

#[test]
fn different_fields_and_sequences_round_trip() {
    let mut stream = Stream::new();
    let limits = StreamLimits::default();
    stream.append(id(5, 3), &[(b"a", b"1"), (b"b", b"2")], limits);
    stream.append(id(5, 4), &[(b"a", b"x"), (b"b", b"y")], limits);
    stream.append(id(5, 900), &[(b"c", b"z")], limits);
    stream.append(id(9, 0), &[], limits);
    let all: Vec<_> = stream
        .range(StreamId::MIN, StreamId::MAX, false)
        .map(|entry| (entry.id, entry.pairs.len()))
        .collect();
    assert_eq!(
        all,
        vec![(id(5, 3), 2), (id(5, 4), 2), (id(5, 900), 1), (id(9, 0), 0)]
    );
    assert_eq!(
        stream.get(id(5, 900)).unwrap().pairs,
        vec![(&b"c"[..], &b"z"[..])]
    );
}

#[test]
fn deletes_leave_tombstones_until_the_node_empties() {
    let mut stream = filled(150);
    assert!(stream.delete(id(3, 0)));
    assert!(!stream.delete(id(3, 0)));
    assert_eq!(stream.max_deleted_id(), id(3, 0));
    assert_eq!(stream.len(), 149);
    assert_eq!(stream.node_count(), 2);
    for ms in 101..=150 {
        assert!(stream.delete(id(ms, 0)));
    }
    assert_eq!(stream.node_count(), 1);
    assert_eq!(stream.last_entry_id(), id(100, 0));
    assert!(stream.delete(id(100, 0)));
    assert_eq!(stream.last_entry_id(), id(99, 0));
    assert_eq!(stream.first_id(), id(1, 0));
    let tombstones = stream
        .node_entries(0)
        .flatten()
        .filter(|(_, deleted)| *deleted)
        .count();
    assert_eq!(tombstones, 2);
}

#[test]
fn trims_follow_redis() {
    let exact = Trim {
        strategy: TrimStrategy::MaxLen(150),
        approximate: false,
        limit: 0,
    };
    let mut stream = filled(250);
    assert_eq!(stream.trim(exact), 100);
    assert_eq!(stream.first_id(), id(101, 0));
    let mut stream = filled(250);
    let approximate = Trim {
        approximate: true,
        ..exact
    };
    // Only the first node can go whole: 250 - 100 >= 150.
    assert_eq!(stream.trim(approximate), 100);
    let mut stream = filled(250);
    let below = Trim {
        strategy: TrimStrategy::MaxLen(149),
        approximate: true,
        limit: 0,
    };
    assert_eq!(stream.trim(below), 100);
    let mut stream = filled(250);
    let by_id = Trim {
        strategy: TrimStrategy::MinId(id(120, 0)),
        approximate: false,
        limit: 0,
    };
    assert_eq!(stream.trim(by_id), 119);
    assert_eq!(stream.first_id(), id(120, 0));
    let mut stream = filled(250);
    let limited = Trim {
        strategy: TrimStrategy::MaxLen(0),
        approximate: true,
        limit: 150,
    };
    assert_eq!(stream.trim(limited), 100);
}

#[test]
fn read_counters_follow_redis() {
    let mut stream = filled(10);
    assert_eq!(stream.entries_read_at(id(10, 0)), Some(10));
    assert_eq!(stream.entries_read_at(id(1, 0)), Some(1));
    assert_eq!(stream.entries_read_at(id(0, 5)), Some(0));
    assert_eq!(stream.entries_read_at(id(5, 0)), None);
    assert_eq!(stream.entries_read_at(id(11, 0)), None);
    stream.delete(id(5, 0));
    assert!(stream.has_tombstones_from(id(3, 0)));
    assert!(!stream.has_tombstones_from(id(6, 0)));
    let group = ConsumerGroup::new(id(2, 0), Some(2));
    assert_eq!(stream.group_lag(&group), None);
    let group = ConsumerGroup::new(id(6, 0), Some(6));
    assert_eq!(stream.group_lag(&group), Some(4));
}
