//! The geo family: GEOADD GEODIST GEOHASH GEOPOS GEORADIUS GEORADIUS_RO
//! GEORADIUSBYMEMBER GEORADIUSBYMEMBER_RO GEOSEARCH GEOSEARCHSTORE, plus ZADD of
//! scores no GEOADD writes (negative, past 2^52, infinite) and ZRANGE WITHSCORES of
//! geo keys and store destinations.
//!
//! Positions include the edges: both sides of the antimeridian, the latitude limits
//! (±85.05112878, where the poles are cut off), the equator and the prime meridian,
//! and random points; searches are centred on the same edges and use radii from 0 to
//! beyond the Earth's size, boxes thin and wide, every unit, COUNT with and without
//! ANY, ASC/DESC and every WITH* flag. Invalid positions, radii, units and option
//! combinations exercise the errors. Replies are compared exactly: Peregrine
//! reproduces Redis's arithmetic and its sorts, so even points at equal distances
//! come back in Redis's order.

use super::collections::{self, Pool, SORTED_SETS};
use super::values::option;
use super::{Command, Context, Recipe};

/// Geo keys: sorted sets of geohash scores.
pub const GEO: Pool = Pool {
    plain: &[b"g0", b"g1", b"g2"],
    tagged: &[b"{g}a", b"{g}b"],
};

/// The geo family's recipes.
#[rustfmt::skip]
pub const RECIPES: &[Recipe] = &[
    Recipe { weight: 14, build: geoadd },
    Recipe { weight: 1,  build: grow },
    Recipe { weight: 1,  build: zadd_odd_scores },
    Recipe { weight: 4,  build: geopos },
    Recipe { weight: 3,  build: geohash },
    Recipe { weight: 4,  build: geodist },
    Recipe { weight: 6,  build: georadius },
    Recipe { weight: 5,  build: georadiusbymember },
    Recipe { weight: 8,  build: geosearch },
    Recipe { weight: 3,  build: geosearchstore },
    Recipe { weight: 2,  build: read_back },
    Recipe { weight: 2,  build: keyspace },
    Recipe { weight: 1,  build: wrong_arity },
];

/// Members, binary and empty ones included, and one past the 64-byte limit of
/// the compact encoding.
const MEMBERS: &[&[u8]] = &[
    b"Palermo",
    b"Catania",
    b"a",
    b"b",
    b"c",
    b"d",
    b"e",
    b"f",
    b"1",
    b"",
    b"\x00\xff",
    b"mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm",
];

/// Positions at the edges Redis's geohash has to get right, and ordinary ones.
const POSITIONS: &[(&str, &str)] = &[
    ("13.361389", "38.115556"),
    ("15.087269", "37.502669"),
    ("0", "0"),
    ("180", "0"),
    ("-180", "0"),
    ("179.9999", "10"),
    ("-179.9999", "10"),
    ("179.5", "-16.5"),
    ("-179.5", "-16.7"),
    ("0", "85.05112878"),
    ("0", "-85.05112878"),
    ("180", "85.05112878"),
    ("-180", "-85.05112878"),
    ("90", "85"),
    ("-90", "-85"),
    ("100", "80.5"),
    ("-100", "-80.5"),
    ("45", "66.5"),
    ("2.3522", "48.8566"),
    ("-0.1276", "51.5072"),
    ("139.6917", "35.6895"),
    ("-74.006", "40.7128"),
    ("151.2093", "-33.8688"),
    ("0.0001", "-0.0001"),
    ("-0.0", "1e-10"),
    ("1.5e1", "3.7e1"),
];

/// Positions Redis rejects: out of range, not numbers.
const INVALID_POSITIONS: &[(&str, &str)] = &[
    ("180.0001", "0"),
    ("-180.5", "0"),
    ("0", "85.06"),
    ("0", "-85.06"),
    ("0", "91"),
    ("abc", "0"),
    ("0", "nan"),
    ("inf", "0"),
    ("0", "-inf"),
    ("", "0"),
    ("1e400", "0"),
    ("1e300", "-1e300"),
];

fn member(context: &mut Context<'_>) -> Vec<u8> {
    context.pick(MEMBERS).to_vec()
}

/// A coordinate in `-limit..=limit` with up to six decimals.
fn random_coordinate(context: &mut Context<'_>, limit: i64) -> String {
    let micros = context.between(-limit * 1_000_000, limit * 1_000_000);
    let sign = if micros < 0 { "-" } else { "" };
    let micros = micros.unsigned_abs();
    format!("{sign}{}.{:06}", micros / 1_000_000, micros % 1_000_000)
}

/// A valid position: from the table most of the time, random otherwise.
fn valid_position(context: &mut Context<'_>) -> [Vec<u8>; 2] {
    if context.chance(65) {
        let (longitude, latitude) = context.pick(POSITIONS);
        [longitude.into(), latitude.into()]
    } else {
        let longitude = random_coordinate(context, 180);
        let latitude = random_coordinate(context, 85);
        [longitude.into_bytes(), latitude.into_bytes()]
    }
}

/// A position, invalid 5% of the time.
fn position(context: &mut Context<'_>) -> [Vec<u8>; 2] {
    if context.chance(95) {
        valid_position(context)
    } else {
        let (longitude, latitude) = context.pick(INVALID_POSITIONS);
        [longitude.into(), latitude.into()]
    }
}

/// A unit, in any case, or an invalid one.
fn unit(context: &mut Context<'_>) -> Vec<u8> {
    const UNITS: &[&str] = &["m", "km", "ft", "mi", "M", "KM", "Ft", "mI"];
    const INVALID: &[&str] = &["yd", "", "meters", "k"];
    if context.chance(96) {
        context.pick(UNITS).into()
    } else {
        context.pick(INVALID).into()
    }
}

/// A distance: zero, tiny, regional, continental, beyond the Earth; or invalid.
fn distance(context: &mut Context<'_>) -> Vec<u8> {
    const DISTANCES: &[&str] = &[
        "0", "1", "10", "100", "500", "1000", "5000", "20000", "100000", "250000", "1000000",
        "3000", "5e6", "12000000", "20037726", "40000000", "1e12", "0.5", "-0",
    ];
    const INVALID: &[&str] = &["-1", "abc", "nan", "", "1e400"];
    match context.rng.below(100) {
        0..=54 => context.pick(DISTANCES).into(),
        55..=95 => {
            let magnitude = context.between(0, 7);
            let mantissa = context.between(1, 9999);
            format!("{mantissa}e{}", magnitude - 3).into_bytes()
        }
        _ => context.pick(INVALID).into(),
    }
}

/// GEOADD with NX / XX / CH, valid and conflicting combinations.
fn geoadd(context: &mut Context<'_>) -> Vec<Command> {
    let key = collections::write_key(context, GEO);
    let mut flags: Vec<Vec<u8>> = Vec::new();
    for (flag, percent) in [("NX", 10), ("XX", 10), ("CH", 25)] {
        if context.chance(percent) {
            flags.push(option(context, flag));
        }
    }
    if context.chance(2) {
        flags.push(option(context, "GT"));
    }
    context.shuffle(&mut flags);
    let triples = if context.chance(55) {
        1
    } else {
        context.between(2, 5)
    };
    let mut command = Command::new("GEOADD").key(&key).args(flags);
    let drop_last_member = context.chance(3);
    for triple in 0..triples {
        let [longitude, latitude] = position(context);
        command = command.arg(longitude).arg(latitude);
        if !(drop_last_member && triple + 1 == triples) {
            command = command.arg(member(context));
        }
    }
    let added = usize::try_from(triples).unwrap_or(0);
    vec![collections::grown(context, &key, added, command)]
}

/// GEOADD of 130 to 200 random points: past 128 entries the set leaves its
/// compact encoding.
fn grow(context: &mut Context<'_>) -> Vec<Command> {
    let key = GEO.any(context);
    let count = context.between(130, 200);
    let mut command = Command::new("GEOADD").key(&key);
    for position in 0..count {
        let [longitude, latitude] = valid_position(context);
        command = command
            .arg(longitude)
            .arg(latitude)
            .arg(format!("p{position}"));
    }
    let added = usize::try_from(count).unwrap_or(0);
    vec![collections::grown(context, &key, added, command)]
}

/// ZADD of scores GEOADD never writes: decoding them follows C's conversions.
fn zadd_odd_scores(context: &mut Context<'_>) -> Vec<Command> {
    const SCORES: &[&str] = &[
        "-1",
        "0",
        "0.5",
        "4503599627370495",
        "4503599627370496",
        "4503599627370497",
        "9.3e18",
        "1.8e19",
        "1e20",
        "-1e19",
        "inf",
        "-inf",
        "3479099956230698.5",
    ];
    let key = GEO.any(context);
    let score = context.pick(SCORES);
    let command = Command::new("ZADD")
        .key(&key)
        .arg(score)
        .arg(member(context));
    vec![collections::grown(context, &key, 1, command)]
}

/// A key a read sees: a geo key, sometimes a plain sorted set (any scores), a
/// string or another family's key.
fn read_key(context: &mut Context<'_>) -> Vec<u8> {
    if context.chance(8) {
        SORTED_SETS.any(context)
    } else {
        collections::read_key(context, GEO)
    }
}

fn members(context: &mut Context<'_>, high: i64) -> Vec<Vec<u8>> {
    let count = context.between(1, high);
    (0..count).map(|_| member(context)).collect()
}

fn geopos(context: &mut Context<'_>) -> Vec<Command> {
    let key = read_key(context);
    let members = members(context, 4);
    vec![Command::new("GEOPOS").key(key).args(members)]
}

fn geohash(context: &mut Context<'_>) -> Vec<Command> {
    let key = read_key(context);
    let members = members(context, 4);
    vec![Command::new("GEOHASH").key(key).args(members)]
}

fn geodist(context: &mut Context<'_>) -> Vec<Command> {
    let key = read_key(context);
    let mut command = Command::new("GEODIST")
        .key(key)
        .arg(member(context))
        .arg(member(context));
    if context.chance(60) {
        command = command.arg(unit(context));
    }
    if context.chance(3) {
        command = command.arg("extra");
    }
    vec![command]
}

/// What a search may store, chosen by the recipe.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Storing {
    /// No STORE options (the _RO forms, GEOSEARCH).
    Never,
    /// STORE / STOREDIST key options (GEORADIUS, GEORADIUSBYMEMBER).
    KeyOption,
    /// The STOREDIST flag (GEOSEARCHSTORE).
    Flag,
}

/// The options every search takes, shuffled: WITH*, COUNT [ANY], ASC|DESC, and
/// sometimes a store; rarely something invalid. Returns the option groups and
/// the store destination, if any.
fn search_options(
    context: &mut Context<'_>,
    storing: Storing,
    source: &[u8],
) -> (Vec<Vec<Vec<u8>>>, Option<Vec<u8>>) {
    let mut groups: Vec<Vec<Vec<u8>>> = Vec::new();
    let wants_store = storing == Storing::KeyOption && context.chance(30);
    for flag in ["WITHDIST", "WITHCOORD", "WITHHASH"] {
        let percent = if wants_store { 3 } else { 30 };
        if context.chance(percent) {
            groups.push(vec![option(context, flag)]);
        }
    }
    if context.chance(35) {
        const COUNTS: &[&str] = &["1", "2", "3", "5", "10", "100"];
        const INVALID: &[&str] = &["0", "-1", "abc", ""];
        let count = if context.chance(94) {
            context.pick(COUNTS)
        } else {
            context.pick(INVALID)
        };
        let mut group = vec![option(context, "COUNT"), count.into()];
        if context.chance(30) {
            group.push(option(context, "ANY"));
        }
        groups.push(group);
    } else if context.chance(3) {
        groups.push(vec![option(context, "ANY")]);
    }
    if context.chance(40) {
        let order = context.pick(&["ASC", "DESC"]);
        groups.push(vec![option(context, order)]);
    }
    let mut destination = None;
    if wants_store {
        let name = context.pick(&["STORE", "STOREDIST"]);
        let key = collections::destination_for(context, GEO, &[source.to_vec()]);
        groups.push(vec![option(context, name), key.clone()]);
        destination = Some(key);
    }
    if storing == Storing::Flag && context.chance(40) {
        groups.push(vec![option(context, "STOREDIST")]);
    }
    if context.chance(3) {
        let stray = context.pick(&["STORE", "STOREDIST", "FROMMEMBER", "BYBOX", "WITH", "x"]);
        groups.push(vec![stray.into()]);
    }
    context.shuffle(&mut groups);
    (groups, destination)
}

/// Records a store's destination in the model and appends the options.
fn finish_search(
    context: &mut Context<'_>,
    mut command: Command,
    source: &[u8],
    groups: Vec<Vec<Vec<u8>>>,
    destination: Option<Vec<u8>>,
) -> Vec<Command> {
    for group in groups {
        for (position, arg) in group.into_iter().enumerate() {
            let is_destination = position == 1 && destination.as_ref() == Some(&arg);
            command = if is_destination {
                command.key(arg)
            } else {
                command.arg(arg)
            };
        }
    }
    if let Some(destination) = destination {
        let size = context.model.bound(source);
        collections::stored(context, &destination, size);
    }
    vec![command]
}

/// GEORADIUS or GEORADIUS_RO around a position.
fn georadius(context: &mut Context<'_>) -> Vec<Command> {
    let read_only = context.chance(30);
    let name = if read_only {
        "GEORADIUS_RO"
    } else {
        "GEORADIUS"
    };
    let key = read_key(context);
    let [longitude, latitude] = position(context);
    let command = Command::new(name)
        .key(&key)
        .arg(longitude)
        .arg(latitude)
        .arg(distance(context))
        .arg(unit(context));
    let storing = if read_only {
        Storing::Never
    } else {
        Storing::KeyOption
    };
    let (groups, destination) = search_options(context, storing, &key);
    finish_search(context, command, &key, groups, destination)
}

/// GEORADIUSBYMEMBER or GEORADIUSBYMEMBER_RO around a member (maybe missing).
fn georadiusbymember(context: &mut Context<'_>) -> Vec<Command> {
    let read_only = context.chance(30);
    let name = if read_only {
        "GEORADIUSBYMEMBER_RO"
    } else {
        "GEORADIUSBYMEMBER"
    };
    let key = read_key(context);
    let command = Command::new(name)
        .key(&key)
        .arg(member(context))
        .arg(distance(context))
        .arg(unit(context));
    let storing = if read_only {
        Storing::Never
    } else {
        Storing::KeyOption
    };
    let (groups, destination) = search_options(context, storing, &key);
    finish_search(context, command, &key, groups, destination)
}

/// GEOSEARCH's FROM and BY groups: one of each most of the time, sometimes
/// none, both or repeated.
fn from_and_by(context: &mut Context<'_>) -> Vec<Vec<Vec<u8>>> {
    let mut groups = Vec::new();
    let from_member =
        |context: &mut Context<'_>| vec![option(context, "FROMMEMBER"), member(context)];
    let from_position = |context: &mut Context<'_>| {
        let [longitude, latitude] = position(context);
        vec![option(context, "FROMLONLAT"), longitude, latitude]
    };
    match context.rng.below(100) {
        0..=44 => groups.push(from_member(context)),
        45..=94 => groups.push(from_position(context)),
        95..=96 => {}
        _ => {
            groups.push(from_member(context));
            groups.push(from_position(context));
        }
    }
    let by_radius = |context: &mut Context<'_>| {
        vec![
            option(context, "BYRADIUS"),
            distance(context),
            unit(context),
        ]
    };
    let by_box = |context: &mut Context<'_>| {
        vec![
            option(context, "BYBOX"),
            distance(context),
            distance(context),
            unit(context),
        ]
    };
    match context.rng.below(100) {
        0..=49 => groups.push(by_radius(context)),
        50..=96 => groups.push(by_box(context)),
        97 => {}
        _ => {
            groups.push(by_radius(context));
            groups.push(by_box(context));
        }
    }
    groups
}

fn geosearch(context: &mut Context<'_>) -> Vec<Command> {
    let key = read_key(context);
    let command = Command::new("GEOSEARCH").key(&key);
    let (mut groups, _) = search_options(context, Storing::Never, &key);
    groups.extend(from_and_by(context));
    context.shuffle(&mut groups);
    finish_search(context, command, &key, groups, None)
}

fn geosearchstore(context: &mut Context<'_>) -> Vec<Command> {
    let source = read_key(context);
    let destination = collections::destination_for(context, GEO, std::slice::from_ref(&source));
    let command = Command::new("GEOSEARCHSTORE")
        .key(&destination)
        .key(&source);
    let (mut groups, _) = search_options(context, Storing::Flag, &source);
    groups.extend(from_and_by(context));
    context.shuffle(&mut groups);
    let size = context.model.bound(&source);
    collections::stored(context, &destination, size);
    finish_search(context, command, &source, groups, None)
}

/// ZRANGE WITHSCORES of a geo key: what GEOADD and the stores wrote.
fn read_back(context: &mut Context<'_>) -> Vec<Command> {
    let key = GEO.any(context);
    vec![Command::new("ZRANGE")
        .key(key)
        .args(["0", "-1", "WITHSCORES"])]
}

fn keyspace(context: &mut Context<'_>) -> Vec<Command> {
    collections::keyspace(context, GEO)
}

/// Geo commands and argument counts (after the name) their arity rejects.
const WRONG_ARITY: &[(&str, i64)] = &[
    ("GEOADD", 3),
    ("GEODIST", 2),
    ("GEOHASH", 0),
    ("GEOPOS", 0),
    ("GEORADIUS", 4),
    ("GEORADIUS_RO", 3),
    ("GEORADIUSBYMEMBER", 3),
    ("GEORADIUSBYMEMBER_RO", 2),
    ("GEOSEARCH", 5),
    ("GEOSEARCHSTORE", 6),
];

fn wrong_arity(context: &mut Context<'_>) -> Vec<Command> {
    collections::wrong_arity(context, GEO, WRONG_ARITY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::tests::build_many;

    #[test]
    fn every_command_of_the_family_is_generated() {
        let names: std::collections::BTreeSet<String> = RECIPES
            .iter()
            .flat_map(|recipe| build_many(recipe.build, 200))
            .map(|command| command.name())
            .collect();
        for name in [
            "GEOADD",
            "GEODIST",
            "GEOHASH",
            "GEOPOS",
            "GEORADIUS",
            "GEORADIUS_RO",
            "GEORADIUSBYMEMBER",
            "GEORADIUSBYMEMBER_RO",
            "GEOSEARCH",
            "GEOSEARCHSTORE",
        ] {
            assert!(names.contains(name), "{name} never generated");
        }
    }

    #[test]
    fn store_destinations_are_recorded_as_keys() {
        for command in build_many(georadius, 500) {
            let store = command.args.iter().position(|arg| {
                arg.eq_ignore_ascii_case(b"store") || arg.eq_ignore_ascii_case(b"storedist")
            });
            if let Some(destination) = store.and_then(|at| command.args.get(at + 1)) {
                if GEO.plain.contains(&destination.as_slice())
                    || GEO.tagged.contains(&destination.as_slice())
                {
                    assert!(
                        command.keys.contains(destination),
                        "{}",
                        command.printable()
                    );
                }
            }
        }
    }
}
