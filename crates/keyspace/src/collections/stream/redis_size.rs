//! The sizes Redis's listpack gives its elements, so that stream nodes split where
//! Redis's do (see [`super::node`]).

use crate::value::canonical_integer;

/// Bytes of a listpack element holding integer `value` (encoding plus back-length).
pub(super) fn lp_int(value: i64) -> usize {
    let encoded = match value {
        0..=127 => 1,
        -4096..=4095 => 2,
        -32768..=32767 => 3,
        -8_388_608..=8_388_607 => 4,
        -2_147_483_648..=2_147_483_647 => 5,
        _ => 9,
    };
    encoded + backlen(encoded)
}

/// Bytes of a listpack element holding `bytes`: integers in canonical form are stored
/// as integers, as `lpAppend` does.
pub(super) fn lp_str(bytes: &[u8]) -> usize {
    if let Some(value) = canonical_integer(bytes) {
        return lp_int(value);
    }
    let len = bytes.len();
    let encoded = if len < 64 {
        1 + len
    } else if len < 4096 {
        2 + len
    } else {
        5 + len
    };
    encoded + backlen(encoded)
}

/// Bytes of the back-length of an element whose encoding takes `len` bytes.
fn backlen(len: usize) -> usize {
    if len <= 127 {
        1
    } else if len < 16383 {
        2
    } else if len < 2_097_151 {
        3
    } else if len < 268_435_455 {
        4
    } else {
        5
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_sizes_follow_listpack() {
        assert_eq!(lp_int(0), 2);
        assert_eq!(lp_int(127), 2);
        assert_eq!(lp_int(128), 3);
        assert_eq!(lp_int(-1), 3);
        assert_eq!(lp_int(i64::MAX), 10);
        assert_eq!(lp_str(b"value"), 7);
        assert_eq!(lp_str(b"42"), 2);
        assert_eq!(lp_str(b"042"), 5);
        assert_eq!(lp_str(&[b'x'; 64]), 67);
    }
}
