//! Redis's geohash arithmetic, operation for operation, so that scores, decoded
//! coordinates, distances and search areas are the same doubles redis-server computes.
//!
//! A position is stored as a sorted-set score: the 26-bit latitude and longitude cell
//! indexes (over -85.05112878..85.05112878 and -180..180) interleaved into 52 bits,
//! latitude in the even bits. Decoding gives the cell's centre, clamped to the valid
//! range. Distances use the haversine formula on a sphere of Redis's radius, with 7.2's
//! shortcut for points on one meridian.
//!
//! It is not: argument parsing or replies (see the family module).

use std::f64::consts::PI;

/// Longitude bounds.
pub const LONG_MIN: f64 = -180.0;
/// Longitude bounds.
pub const LONG_MAX: f64 = 180.0;
/// Latitude bounds (the limits of the Web Mercator projection).
pub const LAT_MIN: f64 = -85.05112878;
/// Latitude bounds.
pub const LAT_MAX: f64 = 85.05112878;
/// Bits per coordinate in a stored score.
pub const STEP_MAX: u8 = 26;

/// Radians per degree, as Redis's `D_R` (`M_PI / 180.0`).
const DEGREES_TO_RADIANS: f64 = PI / 180.0;
/// Earth's quadratic mean radius for WGS-84, in meters.
const EARTH_RADIUS_IN_METERS: f64 = 6372797.560856;
/// Half the Mercator projection's width, in meters.
const MERCATOR_MAX: f64 = 20037726.37;

/// A coordinate range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range {
    /// Inclusive lower end.
    pub min: f64,
    /// Upper end.
    pub max: f64,
}

/// The ranges of stored positions.
pub const LONG_RANGE: Range = Range {
    min: LONG_MIN,
    max: LONG_MAX,
};
/// The ranges of stored positions.
pub const LAT_RANGE: Range = Range {
    min: LAT_MIN,
    max: LAT_MAX,
};

/// A geohash cell: `step` bits per coordinate, interleaved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Hash {
    /// The interleaved bits (latitude in even positions).
    pub bits: u64,
    /// Bits per coordinate (0 with zero bits: "no cell").
    pub step: u8,
}

impl Hash {
    /// Redis's `HASHISZERO`: an excluded neighbour.
    fn is_zero(self) -> bool {
        self.bits == 0 && self.step == 0
    }

    /// The 52-bit score of the cell's first position (`geohashAlign52Bits`).
    pub fn align52(self) -> u64 {
        self.bits << (52 - u32::from(self.step) * 2)
    }
}

/// A decoded cell's extent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Area {
    /// Longitude extent.
    pub longitude: Range,
    /// Latitude extent.
    pub latitude: Range,
}

/// Spreads the low 32 bits of `x` and `y` over 64: `x` in the even bits, `y` in the odd.
fn interleave(x: u32, y: u32) -> u64 {
    const B: [u64; 5] = [
        0x5555555555555555,
        0x3333333333333333,
        0x0F0F0F0F0F0F0F0F,
        0x00FF00FF00FF00FF,
        0x0000FFFF0000FFFF,
    ];
    const S: [u32; 5] = [1, 2, 4, 8, 16];
    let (mut x, mut y) = (u64::from(x), u64::from(y));
    for level in (0..5).rev() {
        x = (x | (x << S[level])) & B[level];
        y = (y | (y << S[level])) & B[level];
    }
    x | (y << 1)
}

/// The inverse of [`interleave`]: even bits in the low half, odd bits in the high half.
fn deinterleave(interleaved: u64) -> u64 {
    const B: [u64; 6] = [
        0x5555555555555555,
        0x3333333333333333,
        0x0F0F0F0F0F0F0F0F,
        0x00FF00FF00FF00FF,
        0x0000FFFF0000FFFF,
        0x00000000FFFFFFFF,
    ];
    const S: [u32; 6] = [0, 1, 2, 4, 8, 16];
    let (mut x, mut y) = (interleaved, interleaved >> 1);
    for level in 0..6 {
        x = (x | (x >> S[level])) & B[level];
        y = (y | (y >> S[level])) & B[level];
    }
    x | (y << 32)
}

/// `geohashEncode`: the cell of `step` bits holding the point; `None` outside the valid
/// coordinates or `ranges`.
pub fn encode(
    long_range: Range,
    lat_range: Range,
    longitude: f64,
    latitude: f64,
    step: u8,
) -> Option<Hash> {
    let outside = |value: f64, min: f64, max: f64| value < min || value > max;
    if step == 0
        || step > 32
        || outside(longitude, LONG_MIN, LONG_MAX)
        || outside(latitude, LAT_MIN, LAT_MAX)
        || outside(latitude, lat_range.min, lat_range.max)
        || outside(longitude, long_range.min, long_range.max)
    {
        return None;
    }
    let scale = (1u64 << step) as f64;
    let lat_offset = (latitude - lat_range.min) / (lat_range.max - lat_range.min) * scale;
    let long_offset = (longitude - long_range.min) / (long_range.max - long_range.min) * scale;
    // The offsets lie in 0..=2^step: C's truncating conversion.
    Some(Hash {
        bits: interleave(lat_offset as u32, long_offset as u32),
        step,
    })
}

/// `geohashDecode`: the extent of the cell `hash`.
pub fn decode(long_range: Range, lat_range: Range, hash: Hash) -> Area {
    let separated = deinterleave(hash.bits);
    let lat_scale = lat_range.max - lat_range.min;
    let long_scale = long_range.max - long_range.min;
    let lat_cell = separated as u32;
    let long_cell = (separated >> 32) as u32;
    let cells = (1u64 << hash.step) as f64;
    let edge = |cell: u32| f64::from(cell) * 1.0 / cells;
    // `ilato + 1` is computed in 32 bits, as in C.
    Area {
        latitude: Range {
            min: lat_range.min + edge(lat_cell) * lat_scale,
            max: lat_range.min + edge(lat_cell.wrapping_add(1)) * lat_scale,
        },
        longitude: Range {
            min: long_range.min + edge(long_cell) * long_scale,
            max: long_range.min + edge(long_cell.wrapping_add(1)) * long_scale,
        },
    }
}

/// The score of a stored position: the 52-bit cell of `(longitude, latitude)`, which the
/// caller has checked are in range.
pub fn score_of(longitude: f64, latitude: f64) -> u64 {
    encode(LONG_RANGE, LAT_RANGE, longitude, latitude, STEP_MAX).map_or(0, Hash::align52)
}

/// The 64 bits that C's `(uint64_t)score` gives on x86-64 as gcc compiles it (scores
/// written by ZADD may be negative, huge or infinite).
fn score_bits(score: f64) -> u64 {
    const TWO_TO_63: f64 = 9_223_372_036_854_775_808.0;
    // `cvttsd2si`: the "integer indefinite" value for NaN and out-of-range inputs.
    let truncate = |value: f64| -> u64 {
        if value.is_nan() || !(-TWO_TO_63..TWO_TO_63).contains(&value) {
            1 << 63
        } else {
            value as i64 as u64
        }
    };
    if score >= TWO_TO_63 {
        truncate(score - TWO_TO_63) ^ (1 << 63)
    } else {
        truncate(score)
    }
}

/// The position a score stands for (`decodeGeohash`): its cell's centre, clamped to the
/// valid coordinates. `[longitude, latitude]`.
pub fn decode_score(score: f64) -> [f64; 2] {
    let hash = Hash {
        bits: score_bits(score),
        step: STEP_MAX,
    };
    let area = decode(LONG_RANGE, LAT_RANGE, hash);
    let longitude = ((area.longitude.min + area.longitude.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let latitude = ((area.latitude.min + area.latitude.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    [longitude, latitude]
}

/// GEOHASH's 11-character standard geohash of a stored score: the decoded position
/// re-encoded over the standard ranges (latitude -90..90), the 11th character always `0`.
pub fn standard_geohash(score: f64) -> [u8; 11] {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let [longitude, latitude] = decode_score(score);
    let standard_long = Range {
        min: -180.0,
        max: 180.0,
    };
    let standard_lat = Range {
        min: -90.0,
        max: 90.0,
    };
    let bits = encode(standard_long, standard_lat, longitude, latitude, STEP_MAX)
        .map_or(0, |hash| hash.bits);
    let mut text = [ALPHABET[0]; 11];
    for (index, byte) in text.iter_mut().take(10).enumerate() {
        let shift = 52 - (index + 1) * 5;
        *byte = ALPHABET[((bits >> shift) & 0x1f) as usize];
    }
    text
}

fn degrees_to_radians(angle: f64) -> f64 {
    angle * DEGREES_TO_RADIANS
}

fn radians_to_degrees(angle: f64) -> f64 {
    angle / DEGREES_TO_RADIANS
}

/// `geohashGetLatDistance`: the distance along a meridian, in meters.
pub fn latitude_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_IN_METERS * (degrees_to_radians(lat2) - degrees_to_radians(lat1)).abs()
}

/// `geohashGetDistance`: the haversine great-circle distance in meters.
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    distance_with_cosine(lon1, lat1, degrees_to_radians(lat1).cos(), lon2, lat2)
}

/// [`distance`] given the cosine of `lat1` (in radians), computed once for many points
/// from one centre: the same operations in the same order, so the same bits.
fn distance_with_cosine(lon1: f64, lat1: f64, lat1_cosine: f64, lon2: f64, lat2: f64) -> f64 {
    let lon1 = degrees_to_radians(lon1);
    let lon2 = degrees_to_radians(lon2);
    let v = ((lon2 - lon1) / 2.0).sin();
    if v == 0.0 {
        return latitude_distance(lat1, lat2);
    }
    let lat1 = degrees_to_radians(lat1);
    let lat2 = degrees_to_radians(lat2);
    let u = ((lat2 - lat1) / 2.0).sin();
    let a = u * u + lat1_cosine * lat2.cos() * v * v;
    2.0 * EARTH_RADIUS_IN_METERS * a.sqrt().asin()
}

/// Relative margin by which a point's latitude distance must exceed a radius before the
/// point is rejected without computing its distance: far above any rounding error, so
/// the shortcut never turns away a point that the full formula would accept.
const LATITUDE_SHORTCUT_MARGIN: f64 = 1.0 + 1e-9;

/// The area a search covers: a circle or an axis-aligned box around a centre.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shape {
    /// Within `radius` units.
    Circle {
        /// The radius, in units.
        radius: f64,
    },
    /// Within a `width` by `height` box.
    Box {
        /// The box's width, in units.
        width: f64,
        /// The box's height, in units.
        height: f64,
    },
}

/// A search: centre, shape, and meters per unit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Search {
    /// The centre, `[longitude, latitude]`.
    pub center: [f64; 2],
    /// The shape, in units.
    pub shape: Shape,
    /// Meters per unit.
    pub to_meters: f64,
    /// The cosine of the centre's latitude, which every distance from it uses.
    center_latitude_cosine: f64,
}

impl Search {
    /// A search of `shape` (in units of `to_meters` meters) around `center`.
    pub fn new(center: [f64; 2], shape: Shape, to_meters: f64) -> Search {
        Search {
            center,
            shape,
            to_meters,
            center_latitude_cosine: degrees_to_radians(center[1]).cos(),
        }
    }

    /// `geoWithinShape`'s test for a decoded point: its distance from the centre in
    /// meters when the point is inside.
    pub fn distance_if_within(&self, point: [f64; 2]) -> Option<f64> {
        let [x1, y1] = self.center;
        let [x2, y2] = point;
        match self.shape {
            Shape::Circle { radius } => {
                let radius = radius * self.to_meters;
                // The distance is at least the latitude distance.
                if latitude_distance(y1, y2) > radius * LATITUDE_SHORTCUT_MARGIN {
                    return None;
                }
                let found = distance_with_cosine(x1, y1, self.center_latitude_cosine, x2, y2);
                // A NaN distance is not greater than the radius: inside, as in Redis.
                let outside = found > radius;
                (!outside).then_some(found)
            }
            Shape::Box { width, height } => {
                let (width, height) = (width * self.to_meters, height * self.to_meters);
                if latitude_distance(y2, y1) > height / 2.0 {
                    return None;
                }
                if distance(x2, y2, x1, y2) > width / 2.0 {
                    return None;
                }
                Some(distance(x1, y1, x2, y2))
            }
        }
    }

    /// `geohashBoundingBox`: `[min longitude, min latitude, max longitude, max latitude]`.
    fn bounding_box(&self) -> [f64; 4] {
        let [longitude, latitude] = self.center;
        let (height, width) = match self.shape {
            Shape::Circle { radius } => (radius, radius),
            Shape::Box { width, height } => (height / 2.0, width / 2.0),
        };
        let (height, width) = (self.to_meters * height, self.to_meters * width);
        let lat_delta = radians_to_degrees(height / EARTH_RADIUS_IN_METERS);
        let long_delta_top = radians_to_degrees(
            width / EARTH_RADIUS_IN_METERS / degrees_to_radians(latitude + lat_delta).cos(),
        );
        let long_delta_bottom = radians_to_degrees(
            width / EARTH_RADIUS_IN_METERS / degrees_to_radians(latitude - lat_delta).cos(),
        );
        let long_delta = if latitude < 0.0 {
            long_delta_bottom
        } else {
            long_delta_top
        };
        [
            longitude - long_delta,
            latitude - lat_delta,
            longitude + long_delta,
            latitude + lat_delta,
        ]
    }

    /// `geohashCalculateAreasByShapeWGS84`: the cells to scan, in Redis's order (centre,
    /// north, south, east, west, north-east, north-west, south-east, south-west), with
    /// the useless ones removed and a cell equal to the one before it skipped.
    pub fn cells(&self) -> Vec<Hash> {
        let [min_lon, min_lat, max_lon, max_lat] = self.bounding_box();
        let [longitude, latitude] = self.center;
        let radius_meters = match self.shape {
            Shape::Circle { radius } => radius,
            Shape::Box { width, height } => {
                ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
            }
        } * self.to_meters;
        let mut step = estimate_step(radius_meters, latitude);
        let around = |step: u8| {
            let hash = encode(LONG_RANGE, LAT_RANGE, longitude, latitude, step)
                .unwrap_or(Hash { bits: 0, step });
            (hash, neighbours(hash), decode(LONG_RANGE, LAT_RANGE, hash))
        };
        let (mut hash, mut neighbours, mut area) = around(step);
        let [north, south, east, west] = [
            neighbours.north,
            neighbours.south,
            neighbours.east,
            neighbours.west,
        ]
        .map(|cell| decode(LONG_RANGE, LAT_RANGE, cell));
        let decrease_step = north.latitude.max < max_lat
            || south.latitude.min > min_lat
            || east.longitude.max < max_lon
            || west.longitude.min > min_lon;
        if step > 1 && decrease_step {
            step -= 1;
            (hash, neighbours, area) = around(step);
        }
        let zero = Hash::default();
        if step >= 2 {
            if area.latitude.min < min_lat {
                neighbours.south = zero;
                neighbours.south_west = zero;
                neighbours.south_east = zero;
            }
            if area.latitude.max > max_lat {
                neighbours.north = zero;
                neighbours.north_east = zero;
                neighbours.north_west = zero;
            }
            if area.longitude.min < min_lon {
                neighbours.west = zero;
                neighbours.south_west = zero;
                neighbours.north_west = zero;
            }
            if area.longitude.max > max_lon {
                neighbours.east = zero;
                neighbours.south_east = zero;
                neighbours.north_east = zero;
            }
        }
        let all = [
            hash,
            neighbours.north,
            neighbours.south,
            neighbours.east,
            neighbours.west,
            neighbours.north_east,
            neighbours.north_west,
            neighbours.south_east,
            neighbours.south_west,
        ];
        // Redis compares a cell with the last one scanned, except when that is the
        // centre (its `last_processed` index is then 0, which reads as "none").
        let mut cells: Vec<Hash> = Vec::with_capacity(all.len());
        let mut last_scanned = 0;
        for (index, cell) in all.into_iter().enumerate() {
            if cell.is_zero() || (last_scanned != 0 && all[last_scanned] == cell) {
                continue;
            }
            cells.push(cell);
            last_scanned = index;
        }
        cells
    }
}

/// `geohashEstimateStepsByRadius`: bits per coordinate of the cells that cover a search
/// of `range_meters` at `latitude`.
fn estimate_step(mut range_meters: f64, latitude: f64) -> u8 {
    if range_meters == 0.0 {
        return 26;
    }
    let mut step: i32 = 1;
    while range_meters < MERCATOR_MAX {
        range_meters *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&latitude) {
        step -= 1;
        if !(-80.0..=80.0).contains(&latitude) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

/// The eight cells around one.
#[derive(Clone, Copy, Debug)]
struct Neighbours {
    north: Hash,
    south: Hash,
    east: Hash,
    west: Hash,
    north_east: Hash,
    north_west: Hash,
    south_east: Hash,
    south_west: Hash,
}

/// `geohash_move_x` / `geohash_move_y`: one cell along the odd (`x`, longitude) or even
/// (`y`, latitude) bits, wrapping around.
fn moved(hash: Hash, along_longitude: bool, direction: i8) -> Hash {
    if direction == 0 {
        return hash;
    }
    let shift = 64 - u32::from(hash.step) * 2;
    let (moving_mask, other_mask) = if along_longitude {
        (0xaaaaaaaaaaaaaaaa_u64, 0x5555555555555555_u64)
    } else {
        (0x5555555555555555_u64, 0xaaaaaaaaaaaaaaaa_u64)
    };
    let mut moving = hash.bits & moving_mask;
    let other = hash.bits & other_mask;
    let filler = other_mask >> shift;
    if direction > 0 {
        moving = moving.wrapping_add(filler.wrapping_add(1));
    } else {
        moving |= filler;
        moving = moving.wrapping_sub(filler.wrapping_add(1));
    }
    moving &= moving_mask >> shift;
    Hash {
        bits: moving | other,
        step: hash.step,
    }
}

fn neighbours(hash: Hash) -> Neighbours {
    let at = |east: i8, north: i8| moved(moved(hash, true, east), false, north);
    Neighbours {
        east: at(1, 0),
        west: at(-1, 0),
        south: at(0, -1),
        north: at(0, 1),
        north_west: at(-1, 1),
        north_east: at(1, 1),
        south_east: at(1, -1),
        south_west: at(-1, -1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_and_positions_match_redis() {
        // GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
        assert_eq!(score_of(13.361389, 38.115556), 3479099956230698);
        assert_eq!(score_of(15.087269, 37.502669), 3479447370796909);
        let [longitude, latitude] = decode_score(3479099956230698.0);
        assert_eq!(
            format!("{longitude:.17} {latitude:.17}"),
            "13.36138933897018433 38.11555639549629859"
        );
        assert_eq!(&standard_geohash(3479099956230698.0), b"sqc8b49rny0");
        assert_eq!(&standard_geohash(3479447370796909.0), b"sqdtr74hyu0");
    }

    #[test]
    fn scores_out_of_range_decode_as_gcc_converts_them() {
        // What redis-server 7.0 answered to GEOPOS after ZADD of these scores.
        let (west, south) = ("-179.99999731779098511", "-85.05112751263942528");
        let (east, north) = ("180.00000000000000000", "85.05112877999999910");
        let cases = [
            (-1.0, [east, north]),
            (0.0, [west, south]),
            (f64::INFINITY, [west, south]),
            (1e20, [west, south]),
            (f64::NEG_INFINITY, [east, south]),
            (-1e19, [east, south]),
        ];
        for (score, expected) in cases {
            let decoded = decode_score(score).map(|value| format!("{value:.17}"));
            assert_eq!(decoded, expected.map(str::to_owned), "{score}");
        }
    }

    #[test]
    fn distances_use_the_meridian_shortcut() {
        let palermo = decode_score(3479099956230698.0);
        let catania = decode_score(3479447370796909.0);
        let meters = distance(palermo[0], palermo[1], catania[0], catania[1]);
        assert_eq!(format!("{meters:.4}"), "166274.1516");
        assert_eq!(distance(10.0, 0.0, 10.0, 1.0), latitude_distance(0.0, 1.0));
    }

    #[test]
    fn a_search_measures_and_bounds_exactly_as_the_full_formula() {
        let mut state = 0x853c_49e6_748f_ea9bu64;
        let mut unit = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        for round in 0..20_000 {
            let center = [unit() * 360.0 - 180.0, unit() * 170.0 - 85.0];
            let mut point = [
                center[0] + (unit() - 0.5) * 0.2,
                (center[1] + (unit() - 0.5) * 0.2).clamp(-85.0, 85.0),
            ];
            // On the centre's meridian the distance is the latitude distance itself: the
            // latitude shortcut's margin must keep a point at exactly the radius inside.
            if round % 4 == 0 {
                point[0] = center[0];
            }
            let exact = distance(center[0], center[1], point[0], point[1]);
            // Radii just above, at and just below the point's distance.
            for radius in [exact * (1.0 + 1e-12), exact, exact * (1.0 - 1e-12)] {
                let search = Search::new(center, Shape::Circle { radius }, 1.0);
                let expected = (exact <= radius).then_some(exact);
                assert_eq!(
                    search.distance_if_within(point),
                    expected,
                    "{center:?} {point:?}"
                );
            }
        }
    }

    #[test]
    fn neighbours_wrap_around_the_antimeridian() {
        let hash = encode(LONG_RANGE, LAT_RANGE, 179.9, 0.0, 4).unwrap_or_default();
        let east = decode(LONG_RANGE, LAT_RANGE, neighbours(hash).east);
        assert_eq!(east.longitude.min, -180.0);
    }
}
