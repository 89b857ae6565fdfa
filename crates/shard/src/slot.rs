//! Hash slots: CRC16 (XMODEM) of the key or of its hash tag, modulo 16384.

/// Number of hash slots, as Redis Cluster.
pub const SLOT_COUNT: u16 = 16384;

/// CRC16/XMODEM (polynomial 0x1021), the checksum Redis Cluster uses for slots.
pub fn crc16(bytes: &[u8]) -> u16 {
    static TABLE: [u16; 256] = build_table();
    bytes.iter().fold(0u16, |crc, &byte| {
        (crc << 8) ^ TABLE[usize::from(((crc >> 8) as u8) ^ byte)]
    })
}

const fn build_table() -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut index = 0;
    while index < 256 {
        let mut crc = (index as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            bit += 1;
        }
        table[index] = crc;
        index += 1;
    }
    table
}

/// The slot of `key`: if the key has a non-empty `{...}` section, only its content is
/// hashed, so keys sharing a tag share a slot.
pub fn slot_for_key(key: &[u8]) -> u16 {
    let hashed = match key.iter().position(|&byte| byte == b'{') {
        Some(open) => match key[open + 1..].iter().position(|&byte| byte == b'}') {
            Some(0) | None => key,
            Some(length) => &key[open + 1..open + 1 + length],
        },
        None => key,
    };
    crc16(hashed) & (SLOT_COUNT - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_redis_cluster_slots() {
        // Values from Redis Cluster's specification and CLUSTER KEYSLOT.
        assert_eq!(crc16(b"123456789"), 0x31c3);
        assert_eq!(slot_for_key(b"foo"), 12182);
        assert_eq!(slot_for_key(b"bar"), 5061);
        assert_eq!(
            slot_for_key(b"{user1000}.following"),
            slot_for_key(b"user1000")
        );
        assert_eq!(slot_for_key(b"foo{}{bar}"), crc16(b"foo{}{bar}") & 16383);
        assert_eq!(slot_for_key(b"foo{{bar}}zap"), crc16(b"{bar") & 16383);
    }
}
