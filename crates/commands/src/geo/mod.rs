//! Geo: GEOADD GEODIST GEOHASH GEOPOS here; the searches (GEORADIUS, GEORADIUS_RO,
//! GEORADIUSBYMEMBER, GEORADIUSBYMEMBER_RO, GEOSEARCH, GEOSEARCHSTORE) in [`search`].
//!
//! A geo set is a sorted set whose scores are 52-bit interleaved geohashes ([`geohash`]):
//! GEOADD is ZADD with computed scores (same encodings, same `zadd` event, TYPE `zset`),
//! and every sorted-set command works on geo sets. Scores, decoded positions, distances
//! and the cells a search scans are computed with Redis's operations in Redis's order, so
//! replies match redis-server to the printed digit: coordinates as `%.17Lf` without
//! trailing zeros (RESP3 doubles), distances with four decimals rounded as 7.2's
//! `fixedpoint_d2string`, results at equal distances in the order of Redis's sorts
//! ([`sort`]).
//!
//! Differences from Redis: none intended. Where Redis 7.0 and 7.2 differ (7.2's
//! meridian shortcut in the distance and its latitude-first box test, four-decimal
//! rounding by `llrint` instead of `printf`), this follows 7.2.

mod geohash;
mod search;
mod sort;
#[cfg(test)]
mod tests;

use crate::args::is_keyword;
use crate::sorted_set::{add_generic, AddOptions};
use crate::spec::{keyed, scratch, Arity::*, CommandSpec, Flag::*, Group, KeySpec};
use crate::{ArgReader, CmdResult, CommandError, ShardCtx};
use bytes::Bytes;
use peregrine_keyspace::collections::SortedSet;
use peregrine_resp::Reply;

/// GEORADIUS and GEORADIUSBYMEMBER: the source, and the key after the last STORE or
/// STOREDIST (Redis's `georadiusGetKeys`).
fn radius_keys(argv: &[Bytes]) -> Vec<usize> {
    let mut keys = vec![1];
    let mut stored = None;
    let mut at = 5;
    while at < argv.len() {
        let option = &argv[at];
        if (is_keyword(option, "store") || is_keyword(option, "storedist")) && at + 1 < argv.len() {
            stored = Some(at + 1);
            at += 1;
        }
        at += 1;
    }
    keys.extend(stored);
    keys
}

const RADIUS_KEYS: KeySpec = KeySpec::movable(1, 1, 1, radius_keys);
const G: Group = Group::Geo;

/// The geo family's table.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec { name: "geoadd",               arity: AtLeast(5), flags: &[Write, DenyOom], keys: KeySpec::FIRST, exec: keyed(geoadd), group: G, summary: "Adds one or more members to a geospatial index. The key is created if it doesn't exist." },
    CommandSpec { name: "geodist",              arity: AtLeast(4), flags: &[ReadOnly], keys: KeySpec::FIRST, exec: keyed(geodist), group: G, summary: "Returns the distance between two members of a geospatial index." },
    CommandSpec { name: "geohash",              arity: AtLeast(2), flags: &[ReadOnly], keys: KeySpec::FIRST, exec: keyed(geohash), group: G, summary: "Returns members from a geospatial index as geohash strings." },
    CommandSpec { name: "geopos",               arity: AtLeast(2), flags: &[ReadOnly], keys: KeySpec::FIRST, exec: keyed(geopos), group: G, summary: "Returns the longitude and latitude of members from a geospatial index." },
    CommandSpec { name: "georadius",            arity: AtLeast(6), flags: &[Write, DenyOom], keys: RADIUS_KEYS, exec: scratch(search::georadius), group: G, summary: "Queries a geospatial index for members within a distance from a coordinate, optionally stores the result." },
    CommandSpec { name: "georadius_ro",         arity: AtLeast(6), flags: &[ReadOnly], keys: KeySpec::FIRST, exec: keyed(search::georadius_ro), group: G, summary: "Returns members from a geospatial index that are within a distance from a coordinate." },
    CommandSpec { name: "georadiusbymember",    arity: AtLeast(5), flags: &[Write, DenyOom], keys: RADIUS_KEYS, exec: scratch(search::georadiusbymember), group: G, summary: "Queries a geospatial index for members within a distance from a member, optionally stores the result." },
    CommandSpec { name: "georadiusbymember_ro", arity: AtLeast(5), flags: &[ReadOnly], keys: KeySpec::FIRST, exec: keyed(search::georadiusbymember_ro), group: G, summary: "Returns members from a geospatial index that are within a distance from a member." },
    CommandSpec { name: "geosearch",            arity: AtLeast(7), flags: &[ReadOnly], keys: KeySpec::FIRST, exec: keyed(search::geosearch), group: G, summary: "Queries a geospatial index for members inside an area of a box or a circle." },
    CommandSpec { name: "geosearchstore",       arity: AtLeast(8), flags: &[Write, DenyOom], keys: KeySpec::FIRST_TWO, exec: scratch(search::geosearchstore), group: G, summary: "Queries a geospatial index for members inside an area of a box or a circle, optionally stores the result." },
];

/// Parses a longitude and a latitude (`extractLongLatOrReply`): both must be floats,
/// then a valid pair.
fn parse_position(longitude: &[u8], latitude: &[u8]) -> Result<[f64; 2], CommandError> {
    let longitude = crate::args::parse_double(longitude).ok_or(CommandError::NotFloat)?;
    let latitude = crate::args::parse_double(latitude).ok_or(CommandError::NotFloat)?;
    let valid = (geohash::LONG_MIN..=geohash::LONG_MAX).contains(&longitude)
        && (geohash::LAT_MIN..=geohash::LAT_MAX).contains(&latitude);
    if !valid {
        return Err(CommandError::other(format!(
            "ERR invalid longitude,latitude pair {longitude:.6},{latitude:.6}"
        )));
    }
    Ok([longitude, latitude])
}

/// Meters per unit (`extractUnitOrReply`): m, km, ft or mi in any case.
fn parse_unit(unit: &[u8]) -> Result<f64, CommandError> {
    match unit.to_ascii_lowercase().as_slice() {
        b"m" => Ok(1.0),
        b"km" => Ok(1000.0),
        b"ft" => Ok(0.3048),
        b"mi" => Ok(1609.34),
        _ => Err(CommandError::other(
            "ERR unsupported unit provided. please use M, KM, FT, MI",
        )),
    }
}

/// A distance as Redis 7.2's `addReplyDoubleDistance`: the value times 10^4 rounded to
/// an integer (`llrint`, ties to even; NaN gives `LLONG_MIN`), written with four decimals.
fn distance_text(value: f64) -> String {
    if value == 0.0 {
        return "0.0000".to_owned();
    }
    let scaled = value * 10000.0;
    let rounded =
        if scaled.is_nan() || !(-9.223372036854776e18..9.223372036854776e18).contains(&scaled) {
            i64::MIN
        } else {
            scaled.round_ties_even() as i64
        };
    let magnitude = rounded.unsigned_abs();
    let sign = if rounded < 0 { "-" } else { "" };
    format!("{sign}{}.{:04}", magnitude / 10000, magnitude % 10000)
}

/// The reply for a distance: a bulk string in both protocols.
fn distance_reply(value: f64) -> Reply {
    Reply::Bulk(Bytes::from(distance_text(value)))
}

/// GEOADD key [NX|XX] [CH] longitude latitude member [longitude latitude member ...]
///
/// O(log n) per member. The number of members added (with CH: added or moved).
fn geoadd(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let argv = args.argv();
    let key = &argv[1];
    let mut options = AddOptions::default();
    let mut first = 2;
    while let Some(option) = argv.get(first) {
        match option.to_ascii_lowercase().as_slice() {
            b"nx" => options.only_new = true,
            b"xx" => options.only_existing = true,
            b"ch" => options.changed = true,
            _ => break,
        }
        first += 1;
    }
    let triples = &argv[first..];
    if !triples.len().is_multiple_of(3) || (options.only_new && options.only_existing) {
        return Err(CommandError::Syntax);
    }
    let mut elements = Vec::with_capacity(triples.len() / 3);
    for triple in triples.chunks_exact(3) {
        let [longitude, latitude] = parse_position(&triple[0], &triple[1])?;
        let score = geohash::score_of(longitude, latitude) as f64;
        elements.push((score, &triple[2][..]));
    }
    if elements.is_empty() {
        return Err(CommandError::Syntax);
    }
    let outcome = add_generic(shard, key, options, &elements)?;
    let changed = if options.changed { outcome.updated } else { 0 };
    Ok(Reply::Integer(outcome.added + changed))
}

/// GEODIST key member1 member2 [M|KM|FT|MI]
///
/// O(1). The distance in the unit (meters by default), or nil when a member is missing.
fn geodist(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let argv = args.argv();
    let to_meters = match argv.len() {
        4 => 1.0,
        5 => parse_unit(&argv[4])?,
        _ => return Err(CommandError::Syntax),
    };
    let Some(set) = shard.read_collection::<SortedSet>(&argv[1])? else {
        return Ok(Reply::Nil);
    };
    let (Some(first), Some(second)) = (set.score(&argv[2]), set.score(&argv[3])) else {
        return Ok(Reply::Nil);
    };
    let [lon1, lat1] = geohash::decode_score(first);
    let [lon2, lat2] = geohash::decode_score(second);
    Ok(distance_reply(
        geohash::distance(lon1, lat1, lon2, lat2) / to_meters,
    ))
}

/// GEOHASH key [member ...]
///
/// O(1) per member. Each member's 11-character geohash, nil for missing members.
fn geohash(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let argv = args.argv();
    let set = shard.read_collection::<SortedSet>(&argv[1])?;
    let hashes = argv[2..]
        .iter()
        .map(
            |member| match set.as_ref().and_then(|set| set.score(member)) {
                Some(score) => Reply::bulk(geohash::standard_geohash(score)),
                None => Reply::Nil,
            },
        )
        .collect();
    Ok(Reply::Array(hashes))
}

/// GEOPOS key [member ...]
///
/// O(1) per member. Each member's `[longitude, latitude]`, a null array for missing ones.
fn geopos(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    let argv = args.argv();
    let set = shard.read_collection::<SortedSet>(&argv[1])?;
    let positions = argv[2..]
        .iter()
        .map(
            |member| match set.as_ref().and_then(|set| set.score(member)) {
                Some(score) => position_reply(geohash::decode_score(score)),
                None => Reply::NilArray,
            },
        )
        .collect();
    Ok(Reply::Array(positions))
}

/// `[longitude, latitude]` as GEOPOS and WITHCOORD write them.
fn position_reply([longitude, latitude]: [f64; 2]) -> Reply {
    Reply::Array(vec![
        Reply::HumanDouble(longitude),
        Reply::HumanDouble(latitude),
    ])
}
