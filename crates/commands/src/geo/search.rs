//! GEORADIUS, GEORADIUS_RO, GEORADIUSBYMEMBER, GEORADIUSBYMEMBER_RO, GEOSEARCH and
//! GEOSEARCHSTORE: one parser and one search (Redis's `georadiusGeneric`).
//!
//! A search covers its area with the centre's geohash cell and its eight neighbours at a
//! step chosen from the radius ([`Search::cells`]), reads each cell's score range from
//! the sorted set (O(log n + k) per cell) and keeps the points inside the shape. Results
//! are unsorted (cell order, then score order) unless ASC, DESC or COUNT asks.

use super::geohash::{self, Search, Shape};
use super::sort::{merge_sort, partial_sort};
use super::{distance_reply, parse_position, parse_unit, position_reply};
use crate::args::{is_keyword, parse_integer};
use crate::{ArgReader, CmdResult, CommandError, EventClass, ShardCtx};
use bytes::Bytes;
use peregrine_keyspace::collections::sorted_set::{Element, ScoreBound};
use peregrine_keyspace::collections::SortedSet;
use peregrine_resp::Reply;
use std::cmp::Ordering;

/// Which command: where the centre and the area come from, and what may be stored.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    /// GEORADIUS: `key longitude latitude radius unit`.
    Radius,
    /// GEORADIUSBYMEMBER: `key member radius unit`.
    RadiusByMember,
    /// GEOSEARCH: `key` then FROM... and BY... options.
    Search,
    /// GEOSEARCHSTORE: `destination source` then GEOSEARCH's options and STOREDIST.
    SearchStore,
}

/// GEORADIUS key longitude latitude radius M|KM|FT|MI [WITHCOORD] [WITHDIST] [WITHHASH]
/// [COUNT count [ANY]] [ASC|DESC] [STORE key|STOREDIST key]
///
/// O(n + log m) for n points in the scanned cells. The members inside (with the WITH*
/// fields: arrays), or with STORE the number stored.
pub(super) fn georadius(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    search_generic(shard, args.argv(), Form::Radius, true)
}

/// GEORADIUS_RO key longitude latitude radius M|KM|FT|MI [WITHCOORD] [WITHDIST]
/// [WITHHASH] [COUNT count [ANY]] [ASC|DESC]
///
/// As GEORADIUS without STORE.
pub(super) fn georadius_ro(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    search_generic(shard, args.argv(), Form::Radius, false)
}

/// GEORADIUSBYMEMBER key member radius M|KM|FT|MI [WITHCOORD] [WITHDIST] [WITHHASH]
/// [COUNT count [ANY]] [ASC|DESC] [STORE key|STOREDIST key]
///
/// As GEORADIUS around a member's position.
pub(super) fn georadiusbymember(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    search_generic(shard, args.argv(), Form::RadiusByMember, true)
}

/// GEORADIUSBYMEMBER_RO key member radius M|KM|FT|MI [WITHCOORD] [WITHDIST] [WITHHASH]
/// [COUNT count [ANY]] [ASC|DESC]
///
/// As GEORADIUSBYMEMBER without STORE.
pub(super) fn georadiusbymember_ro(
    shard: &mut ShardCtx<'_>,
    args: &mut ArgReader<'_>,
) -> CmdResult {
    search_generic(shard, args.argv(), Form::RadiusByMember, false)
}

/// GEOSEARCH key FROMMEMBER member|FROMLONLAT longitude latitude
/// BYRADIUS radius unit|BYBOX width height unit [ASC|DESC] [COUNT count [ANY]]
/// [WITHCOORD] [WITHDIST] [WITHHASH]
///
/// O(n + log m) for n points in the scanned cells. The members inside the circle or box.
pub(super) fn geosearch(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    search_generic(shard, args.argv(), Form::Search, false)
}

/// GEOSEARCHSTORE destination source FROMMEMBER member|FROMLONLAT longitude latitude
/// BYRADIUS radius unit|BYBOX width height unit [ASC|DESC] [COUNT count [ANY]]
/// [STOREDIST]
///
/// As GEOSEARCH, storing the members (scored by geohash, or by distance with STOREDIST)
/// at `destination`; the number stored.
pub(super) fn geosearchstore(shard: &mut ShardCtx<'_>, args: &mut ArgReader<'_>) -> CmdResult {
    search_generic(shard, args.argv(), Form::SearchStore, false)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sort {
    None,
    Ascending,
    Descending,
}

/// A search's options, parsed.
struct Request<'a> {
    with_distance: bool,
    with_hash: bool,
    with_coordinates: bool,
    sort: Sort,
    any: bool,
    /// 0: no limit.
    count: usize,
    store: Option<&'a [u8]>,
    store_distance: bool,
}

/// A point found inside the area.
#[derive(Clone, Copy)]
struct Point<'a> {
    member: &'a [u8],
    score: f64,
    position: [f64; 2],
    /// Meters from the centre.
    distance: f64,
}

/// Redis's `sort_gp_asc`: by distance; a NaN distance compares "less" both ways.
fn nearer_first(a: &Point<'_>, b: &Point<'_>) -> Ordering {
    if a.distance > b.distance {
        Ordering::Greater
    } else if a.distance == b.distance {
        Ordering::Equal
    } else {
        Ordering::Less
    }
}

/// Redis's `sort_gp_desc`: the reverse of [`nearer_first`].
fn farther_first(a: &Point<'_>, b: &Point<'_>) -> Ordering {
    nearer_first(a, b).reverse()
}

/// Parses `radius unit` (`extractDistanceOrReply`).
fn parse_radius(radius: &[u8], unit: &[u8]) -> Result<(Shape, f64), CommandError> {
    let radius = crate::args::parse_double(radius)
        .ok_or_else(|| CommandError::other("ERR need numeric radius"))?;
    if radius < 0.0 {
        return Err(CommandError::other("ERR radius cannot be negative"));
    }
    Ok((Shape::Circle { radius }, parse_unit(unit)?))
}

/// Parses `width height unit` (`extractBoxOrReply`).
fn parse_box(width: &[u8], height: &[u8], unit: &[u8]) -> Result<(Shape, f64), CommandError> {
    let width = crate::args::parse_double(width)
        .ok_or_else(|| CommandError::other("ERR need numeric width"))?;
    let height = crate::args::parse_double(height)
        .ok_or_else(|| CommandError::other("ERR need numeric height"))?;
    if height < 0.0 || width < 0.0 {
        return Err(CommandError::other(
            "ERR height or width cannot be negative",
        ));
    }
    Ok((Shape::Box { width, height }, parse_unit(unit)?))
}

/// A member's position, or Redis's error for a missing member.
fn member_position(set: &SortedSet, member: &[u8]) -> Result<[f64; 2], CommandError> {
    set.score(member)
        .map(geohash::decode_score)
        .ok_or_else(|| CommandError::other("ERR could not decode requested zset member"))
}

/// The body of every search command (`georadiusGeneric`): arguments in Redis's order
/// with its errors, then the search, then the reply or the store.
fn search_generic(
    shard: &mut ShardCtx<'_>,
    argv: &[Bytes],
    form: Form,
    may_store: bool,
) -> CmdResult {
    let source = if form == Form::SearchStore {
        &argv[2]
    } else {
        &argv[1]
    };
    let limits = shard.limits.encoding;
    let set: Option<&SortedSet> = shard.read_collection::<SortedSet>(source)?.map(|set| &*set);
    let mut center = None;
    let mut area = None;
    let base = match form {
        Form::Radius => {
            center = Some(parse_position(&argv[2], &argv[3])?);
            area = Some(parse_radius(&argv[4], &argv[5])?);
            6
        }
        Form::RadiusByMember => {
            // Without a source Redis parses no further than the options.
            if let Some(set) = set {
                center = Some(member_position(set, &argv[2])?);
                area = Some(parse_radius(&argv[3], &argv[4])?);
            }
            5
        }
        Form::Search => 2,
        Form::SearchStore => 3,
    };
    let geosearch = matches!(form, Form::Search | Form::SearchStore);
    let mut request = Request {
        with_distance: false,
        with_hash: false,
        with_coordinates: false,
        sort: Sort::None,
        any: false,
        count: 0,
        store: (form == Form::SearchStore).then_some(&argv[1][..]),
        store_distance: false,
    };
    let (mut from_member, mut from_position, mut by_radius, mut by_box) =
        (false, false, false, false);
    let options = argv.get(base..).unwrap_or_default();
    let mut at = 0;
    while let Some(option) = options.get(at) {
        let remaining = options.len() - at - 1;
        let keyword = |name: &str| is_keyword(option, name);
        if keyword("withdist") {
            request.with_distance = true;
        } else if keyword("withhash") {
            request.with_hash = true;
        } else if keyword("withcoord") {
            request.with_coordinates = true;
        } else if keyword("any") {
            request.any = true;
        } else if keyword("asc") {
            request.sort = Sort::Ascending;
        } else if keyword("desc") {
            request.sort = Sort::Descending;
        } else if keyword("count") && remaining >= 1 {
            let count = parse_integer(&options[at + 1])?;
            if count <= 0 {
                return Err(CommandError::other("ERR COUNT must be > 0"));
            }
            request.count = usize::try_from(count).unwrap_or(usize::MAX);
            at += 1;
        } else if (keyword("store") || keyword("storedist"))
            && remaining >= 1
            && may_store
            && !geosearch
        {
            request.store = Some(&options[at + 1]);
            request.store_distance = keyword("storedist");
            at += 1;
        } else if keyword("storedist") && form == Form::SearchStore {
            request.store_distance = true;
        } else if keyword("frommember") && remaining >= 1 && geosearch && !from_position {
            if let Some(set) = set {
                center = Some(member_position(set, &options[at + 1])?);
            }
            from_member = true;
            at += 1;
        } else if keyword("fromlonlat") && remaining >= 2 && geosearch && !from_member {
            center = Some(parse_position(&options[at + 1], &options[at + 2])?);
            from_position = true;
            at += 2;
        } else if keyword("byradius") && remaining >= 2 && geosearch && !by_box {
            area = Some(parse_radius(&options[at + 1], &options[at + 2])?);
            by_radius = true;
            at += 2;
        } else if keyword("bybox") && remaining >= 3 && geosearch && !by_radius {
            area = Some(parse_box(
                &options[at + 1],
                &options[at + 2],
                &options[at + 3],
            )?);
            by_box = true;
            at += 3;
        } else {
            return Err(CommandError::Syntax);
        }
        at += 1;
    }
    if request.store.is_some()
        && (request.with_distance || request.with_hash || request.with_coordinates)
    {
        let what = if form == Form::SearchStore {
            "GEOSEARCHSTORE"
        } else {
            "STORE option in GEORADIUS"
        };
        return Err(CommandError::other(format!(
            "ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        )));
    }
    let name = || String::from_utf8_lossy(&argv[0]).into_owned();
    if geosearch && !(from_member || from_position) {
        return Err(CommandError::other(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {}",
            name()
        )));
    }
    if geosearch && !(by_radius || by_box) {
        return Err(CommandError::other(format!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {}",
            name()
        )));
    }
    if request.any && request.count == 0 {
        return Err(CommandError::other(
            "ERR the ANY argument requires COUNT argument",
        ));
    }
    let (Some(set), Some(center), Some((shape, to_meters))) = (set, center, area) else {
        return Ok(match request.store {
            Some(destination) => {
                store_elements(shard, destination, Vec::new(), geosearch, limits);
                Reply::Integer(0)
            }
            None => Reply::Array(Vec::new()),
        });
    };
    if request.count != 0 && request.sort == Sort::None && !request.any {
        request.sort = Sort::Ascending;
    }
    let search = Search::new(center, shape, to_meters);
    let limit = if request.any { request.count } else { 0 };
    let mut points = Vec::new();
    for cell in search.cells() {
        if limit != 0 && points.len() >= limit {
            break;
        }
        points_in_cell(set, cell, &search, limit, &mut points);
    }
    if points.is_empty() && request.store.is_none() {
        return Ok(Reply::Array(Vec::new()));
    }
    let returned = if request.count == 0 {
        points.len()
    } else {
        points.len().min(request.count)
    };
    let compare = match request.sort {
        Sort::None => None,
        Sort::Ascending => Some(nearer_first as fn(&Point<'_>, &Point<'_>) -> Ordering),
        Sort::Descending => Some(farther_first as fn(&Point<'_>, &Point<'_>) -> Ordering),
    };
    if let Some(compare) = compare {
        if returned == points.len() {
            merge_sort(&mut points, compare);
        } else {
            partial_sort(&mut points, compare, 0, returned.saturating_sub(1));
        }
    }
    let points = &points[..returned];
    if let Some(destination) = request.store {
        let elements = stored_elements(points, &request, to_meters);
        let stored = elements.len();
        store_elements(shard, destination, elements, geosearch, limits);
        return Ok(Reply::Integer(stored as i64));
    }
    Ok(reply(points, &request, to_meters))
}

/// Appends the points of `cell` inside the area to `points`, stopping at `limit` points
/// (0: no limit) as Redis's `geoGetPointsInRange` does.
fn points_in_cell<'a>(
    set: &'a SortedSet,
    cell: geohash::Hash,
    search: &Search,
    limit: usize,
    points: &mut Vec<Point<'a>>,
) {
    let min = cell.align52() as f64;
    let max = geohash::Hash {
        bits: cell.bits.wrapping_add(1),
        step: cell.step,
    }
    .align52() as f64;
    let min = ScoreBound {
        value: min,
        exclusive: false,
    };
    let max = ScoreBound {
        value: max,
        exclusive: true,
    };
    set.walk_scores(min, max, |member, score| {
        let position = geohash::decode_score(score);
        if let Some(distance) = search.distance_if_within(position) {
            points.push(Point {
                member,
                score,
                position,
                distance,
            });
        }
        limit == 0 || points.len() < limit
    });
}

/// The reply: members, or `[member, distance?, hash?, [longitude, latitude]?]` arrays.
fn reply(points: &[Point<'_>], request: &Request<'_>, to_meters: f64) -> Reply {
    let with_any = request.with_distance || request.with_hash || request.with_coordinates;
    if !with_any {
        return Reply::bulk_array(points.iter().map(|point| point.member));
    }
    let items = points
        .iter()
        .map(|point| {
            let mut fields = Vec::with_capacity(4);
            fields.push(Reply::bulk(point.member));
            if request.with_distance {
                fields.push(distance_reply(point.distance / to_meters));
            }
            if request.with_hash {
                fields.push(Reply::Integer(point.score as i64));
            }
            if request.with_coordinates {
                fields.push(position_reply(point.position));
            }
            Reply::Array(fields)
        })
        .collect();
    Reply::Array(items)
}

/// The elements a STORE writes: scored by geohash, or by distance in the unit.
fn stored_elements(points: &[Point<'_>], request: &Request<'_>, to_meters: f64) -> Vec<Element> {
    points
        .iter()
        .map(|point| {
            let score = if request.store_distance {
                point.distance / to_meters
            } else {
                point.score
            };
            Element::new(score, point.member)
        })
        .collect()
}

/// Stores `elements` at `destination` (deleting it when there are none) with the
/// command's event.
fn store_elements(
    shard: &mut ShardCtx<'_>,
    destination: &[u8],
    elements: Vec<Element>,
    geosearch: bool,
    limits: peregrine_keyspace::EncodingLimits,
) {
    let stored = elements.len();
    let event = if geosearch {
        "geosearchstore"
    } else {
        "georadiusstore"
    };
    let existed = shard.store(
        destination,
        SortedSet::build(elements, &limits),
        EventClass::SortedSet,
        event,
    );
    if stored > 0 {
        shard.mark_dirty(stored as u64);
    } else if existed {
        shard.mark_dirty(1);
    }
}
