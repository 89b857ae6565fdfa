//! LEB128 varints and length-prefixed byte strings: the encoding inside records.

use crate::FormatError;

/// Appends `value` as an unsigned LEB128 varint.
pub fn put_u64(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends `value` zigzag-encoded (small magnitudes of either sign stay short).
pub fn put_i64(out: &mut Vec<u8>, value: i64) {
    put_u64(out, ((value << 1) ^ (value >> 63)) as u64);
}

/// Appends a length-prefixed byte string.
pub fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_u64(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Reads values back from a buffer, failing cleanly on truncated or malformed input.
pub struct Cursor<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Cursor<'a> {
        Cursor { bytes, position: 0 }
    }

    /// True when everything was read.
    pub fn is_empty(&self) -> bool {
        self.position >= self.bytes.len()
    }

    /// One byte.
    pub fn u8(&mut self) -> Result<u8, FormatError> {
        let byte = *self
            .bytes
            .get(self.position)
            .ok_or(FormatError::Malformed("record ends early"))?;
        self.position += 1;
        Ok(byte)
    }

    /// An unsigned varint.
    pub fn u64(&mut self) -> Result<u64, FormatError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.u8()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(FormatError::Malformed("varint too long"))
    }

    /// A zigzag-encoded signed varint.
    pub fn i64(&mut self) -> Result<i64, FormatError> {
        let raw = self.u64()?;
        Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64))
    }

    /// A length-prefixed byte string, borrowed from the buffer.
    pub fn bytes(&mut self) -> Result<&'a [u8], FormatError> {
        let len = usize::try_from(self.u64()?)
            .map_err(|_| FormatError::Malformed("length out of range"))?;
        let end = self
            .position
            .checked_add(len)
            .filter(|&end| end <= self.bytes.len())
            .ok_or(FormatError::Malformed("byte string runs past the record"))?;
        let slice = &self.bytes[self.position..end];
        self.position = end;
        Ok(slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_edge_values() {
        let mut out = Vec::new();
        let unsigned = [0, 1, 127, 128, 16_383, 16_384, u64::MAX];
        let signed = [0, -1, 1, i64::MIN, i64::MAX, -300];
        for value in unsigned {
            put_u64(&mut out, value);
        }
        for value in signed {
            put_i64(&mut out, value);
        }
        put_bytes(&mut out, b"hello");
        let mut cursor = Cursor::new(&out);
        for value in unsigned {
            assert_eq!(cursor.u64().unwrap(), value);
        }
        for value in signed {
            assert_eq!(cursor.i64().unwrap(), value);
        }
        assert_eq!(cursor.bytes().unwrap(), b"hello");
        assert!(cursor.is_empty());
        assert!(cursor.u8().is_err());
    }

    #[test]
    fn rejects_a_length_past_the_end() {
        let mut out = Vec::new();
        put_u64(&mut out, 10);
        out.extend_from_slice(b"abc");
        assert!(Cursor::new(&out).bytes().is_err());
    }
}
