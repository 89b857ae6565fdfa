//! HRANDFIELD and HSCAN: reading a hash a part at a time.

use super::{visit_hash, Access};
use crate::args::{is_keyword, parse_integer};
use crate::{ArgReader, CmdResult, CommandError, ShardCtx};
use peregrine_keyspace::collections::Hash;
use peregrine_keyspace::glob_match;
use peregrine_resp::Reply;

/// The most fields HRANDFIELD returns for a negative count (fields may repeat): the reply
/// is built in memory, so an absurd count is refused instead of exhausting it.
pub(super) const MAX_REPEATED_PICKS: u64 = 1 << 24;

/// HRANDFIELD key [count [WITHVALUES]]
///
/// O(N) in the count. Without a count: one random field (nil when missing). A positive
/// count: that many distinct fields (all when the hash is smaller); a negative one: that
/// many independent picks. WITHVALUES pairs each field with its value (pairs as arrays
/// in RESP3, flattened in RESP2).
pub(super) fn hrandfield(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    // A generator of our own, seeded from the shard's (which thereby advances).
    let mut random = crate::Random::new(shard.random.next_u64());
    let reply = match args.next_arg() {
        None => visit_hash(shard, key, Access::Read, |hash| {
            Ok(hash
                .random_field(|| random.next_u64())
                .map_or(Reply::Nil, |(field, _)| Reply::bulk(field)))
        })?
        .unwrap_or(Reply::Nil),
        Some(count) => {
            let request = CountRequest::parse(count, args)?;
            visit_hash(shard, key, Access::Read, |hash| {
                request.reply(hash, || random.next_u64())
            })?
            .unwrap_or_else(|| Reply::Array(Vec::new()))
        }
    };
    *shard.random = random;
    Ok(reply)
}

/// HRANDFIELD's count and WITHVALUES.
struct CountRequest {
    count: i64,
    with_values: bool,
}

impl CountRequest {
    /// Parses as Redis: the count's range first, then the syntax, then the smaller range
    /// WITHVALUES allows.
    fn parse(count: &[u8], args: &mut ArgReader<'_>) -> Result<CountRequest, CommandError> {
        let count = parse_integer(count)?;
        if count == i64::MIN {
            return Err(CommandError::other(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            ));
        }
        let with_values = match args.next_arg() {
            None => false,
            Some(arg) if is_keyword(arg, "withvalues") && args.remaining() == 0 => true,
            Some(_) => return Err(CommandError::Syntax),
        };
        if with_values && count.unsigned_abs() > (i64::MAX / 2) as u64 {
            return Err(CommandError::other("ERR value is out of range"));
        }
        Ok(CountRequest { count, with_values })
    }

    fn reply(&self, hash: &Hash, random: impl FnMut() -> u64) -> Result<Reply, CommandError> {
        let picks = if self.count >= 0 {
            let count = usize::try_from(self.count).unwrap_or(usize::MAX);
            hash.distinct_random_fields(count, random)
        } else {
            let count = self.count.unsigned_abs();
            if count > MAX_REPEATED_PICKS {
                return Err(CommandError::other("ERR value is out of range"));
            }
            hash.random_fields(count as usize, random)
        };
        Ok(if self.with_values {
            Reply::Pairs(
                picks
                    .into_iter()
                    .map(|(field, value)| (Reply::bulk(field), Reply::bulk(value)))
                    .collect(),
            )
        } else {
            Reply::Array(
                picks
                    .into_iter()
                    .map(|(field, _)| Reply::bulk(field))
                    .collect(),
            )
        })
    }
}

/// HSCAN key cursor [MATCH pattern] [COUNT count] [NOVALUES]
///
/// O(1) per call, O(N) for a full iteration. `[next cursor, [field, value, ...]]`; a
/// listpack hash is returned whole with cursor 0. NOVALUES (Redis 7.4) leaves the values
/// out.
pub(super) fn hscan(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let key = args.required()?;
    let cursor = crate::keys::parse_scan_cursor(args.required()?)?;
    let reply = visit_hash(shard, key, Access::Read, |hash| {
        let options = ScanOptions::parse(args)?;
        Ok(options.scan(hash, cursor))
    })?;
    Ok(reply.unwrap_or_else(|| scan_reply(0, Vec::new())))
}

/// HSCAN's options.
struct ScanOptions<'a> {
    count: u64,
    pattern: Option<&'a [u8]>,
    with_values: bool,
}

impl<'a> ScanOptions<'a> {
    fn parse(args: &mut ArgReader<'a>) -> Result<ScanOptions<'a>, CommandError> {
        let mut options = ScanOptions {
            count: 10,
            pattern: None,
            with_values: true,
        };
        while let Some(option) = args.next_arg() {
            if is_keyword(option, "novalues") {
                options.with_values = false;
                continue;
            }
            let value = args.next_arg().ok_or(CommandError::Syntax)?;
            if is_keyword(option, "count") {
                let count = parse_integer(value)?;
                if count < 1 {
                    return Err(CommandError::Syntax);
                }
                options.count = count as u64;
            } else if is_keyword(option, "match") {
                options.pattern = (value != b"*").then_some(value);
            } else {
                return Err(CommandError::Syntax);
            }
        }
        Ok(options)
    }

    /// Scans from `cursor` until COUNT fields were visited (or ten times as many steps
    /// were taken), as Redis's `scanGenericCommand`.
    fn scan(&self, hash: &Hash, cursor: u64) -> Reply {
        let mut items = Vec::new();
        let mut visited = 0u64;
        let mut steps_left = self.count.saturating_mul(10);
        let mut cursor = cursor;
        loop {
            cursor = hash.scan(cursor, |field, value| {
                visited += 1;
                if self
                    .pattern
                    .is_some_and(|pattern| !glob_match(pattern, field))
                {
                    return;
                }
                items.push(Reply::bulk(field));
                if self.with_values {
                    items.push(Reply::bulk(value));
                }
            });
            steps_left -= 1;
            if cursor == 0 || visited >= self.count || steps_left == 0 {
                break;
            }
        }
        scan_reply(cursor, items)
    }
}

fn scan_reply(cursor: u64, items: Vec<Reply>) -> Reply {
    Reply::Array(vec![Reply::bulk(cursor.to_string()), Reply::Array(items)])
}
