//! Encryption at rest: AES-256-GCM per block with a fresh random nonce, the key read from a
//! file the operator provides (we never write it anywhere).

use crate::FormatError;
use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use std::path::Path;

/// The cipher a segment's blocks use, as recorded in its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CipherKind {
    /// Plain blocks.
    None,
    /// AES-256-GCM, 96-bit random nonce per block, 128-bit tag.
    Aes256Gcm,
}

impl CipherKind {
    /// The byte stored in segment headers.
    pub fn code(self) -> u8 {
        match self {
            CipherKind::None => 0,
            CipherKind::Aes256Gcm => 1,
        }
    }

    /// The kind for a stored byte.
    pub fn from_code(code: u8) -> Result<CipherKind, FormatError> {
        match code {
            0 => Ok(CipherKind::None),
            1 => Ok(CipherKind::Aes256Gcm),
            _ => Err(FormatError::Malformed("unknown cipher")),
        }
    }

    /// The name the manifest and the tool print.
    pub fn name(self) -> &'static str {
        match self {
            CipherKind::None => "none",
            CipherKind::Aes256Gcm => "aes-256-gcm",
        }
    }
}

/// Length of a nonce.
pub const NONCE_LEN: usize = 12;
/// Length of an authentication tag.
pub const TAG_LEN: usize = 16;
/// Length of a key check: nonce, then 16 encrypted zero bytes with their tag.
pub const KEY_CHECK_LEN: usize = NONCE_LEN + 16 + TAG_LEN;

/// A block cipher configuration: none, or AES-256-GCM with the operator's key.
#[derive(Clone)]
pub struct Cipher {
    aead: Option<Aes256Gcm>,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cipher({})", self.kind().name())
    }
}

impl Cipher {
    /// No encryption.
    pub fn none() -> Cipher {
        Cipher { aead: None }
    }

    /// AES-256-GCM with the key in `path`: 32 raw bytes, or 64 hexadecimal digits
    /// (surrounding whitespace ignored).
    pub fn from_key_file(path: &Path) -> Result<Cipher, FormatError> {
        let content = std::fs::read(path).map_err(|error| {
            FormatError::Key(format!("can't read key file {}: {error}", path.display()))
        })?;
        let key = parse_key(&content).ok_or_else(|| {
            FormatError::Key(format!(
                "key file {} must hold 32 bytes or 64 hexadecimal digits",
                path.display()
            ))
        })?;
        Ok(Cipher::from_key(&key))
    }

    /// AES-256-GCM with `key`.
    pub fn from_key(key: &[u8; 32]) -> Cipher {
        Cipher {
            aead: Some(Aes256Gcm::new(key.into())),
        }
    }

    /// Which cipher this is.
    pub fn kind(&self) -> CipherKind {
        if self.aead.is_some() {
            CipherKind::Aes256Gcm
        } else {
            CipherKind::None
        }
    }

    /// Encrypts `plaintext` bound to `aad`; returns the nonce and ciphertext with tag.
    /// Without a key, returns the plaintext and a zero nonce.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> ([u8; NONCE_LEN], Vec<u8>) {
        match &self.aead {
            None => ([0; NONCE_LEN], plaintext.to_vec()),
            Some(aead) => {
                let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
                let sealed = aead
                    .encrypt(
                        &nonce,
                        Payload {
                            msg: plaintext,
                            aad,
                        },
                    )
                    .unwrap_or_default();
                (nonce.into(), sealed)
            }
        }
    }

    /// Decrypts what [`Cipher::seal`] produced; fails on a wrong key or altered bytes.
    pub fn open(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<u8>, FormatError> {
        let aead = self.aead.as_ref().ok_or_else(|| {
            FormatError::Key(
                "the data is encrypted: start with --encryption-key-file <file>".into(),
            )
        })?;
        aead.decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad })
            .map_err(|_| FormatError::Key("decryption failed: wrong key or altered data".into()))
    }

    /// A value stored in segment headers that proves which key wrote the segment.
    pub fn key_check(&self) -> [u8; KEY_CHECK_LEN] {
        let mut check = [0u8; KEY_CHECK_LEN];
        if self.aead.is_some() {
            let (nonce, sealed) = self.seal(b"peregrine key check", &[0u8; 16]);
            check[..NONCE_LEN].copy_from_slice(&nonce);
            check[NONCE_LEN..].copy_from_slice(&sealed);
        }
        check
    }

    /// Verifies a segment's key check against this key.
    pub fn verify_key_check(&self, check: &[u8; KEY_CHECK_LEN]) -> Result<(), FormatError> {
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&check[..NONCE_LEN]);
        match self.open(&nonce, b"peregrine key check", &check[NONCE_LEN..]) {
            Ok(plain) if plain == [0u8; 16] => Ok(()),
            Ok(_) => Err(FormatError::Key("wrong encryption key".into())),
            Err(FormatError::Key(message)) if message.starts_with("decryption failed") => {
                Err(FormatError::Key(
                    "wrong encryption key: it does not match the key the data was written with"
                        .into(),
                ))
            }
            Err(error) => Err(error),
        }
    }
}

fn parse_key(content: &[u8]) -> Option<[u8; 32]> {
    let trimmed = content.trim_ascii();
    let mut key = [0u8; 32];
    if trimmed.len() == 64 && trimmed.iter().all(u8::is_ascii_hexdigit) {
        for (index, pair) in trimmed.chunks(2).enumerate() {
            let text = std::str::from_utf8(pair).ok()?;
            key[index] = u8::from_str_radix(text, 16).ok()?;
        }
        return Some(key);
    }
    if content.len() == 32 {
        key.copy_from_slice(content);
        return Some(key);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_with_the_right_key_only() {
        let cipher = Cipher::from_key(&[7; 32]);
        let (nonce, sealed) = cipher.seal(b"aad", b"secret records");
        assert_ne!(&sealed[..14], b"secret records");
        assert_eq!(
            cipher.open(&nonce, b"aad", &sealed).unwrap(),
            b"secret records"
        );
        assert!(cipher.open(&nonce, b"other aad", &sealed).is_err());
        let wrong = Cipher::from_key(&[8; 32]);
        assert!(wrong.open(&nonce, b"aad", &sealed).is_err());
        assert!(Cipher::none().open(&nonce, b"aad", &sealed).is_err());
        let check = cipher.key_check();
        cipher.verify_key_check(&check).unwrap();
        assert!(wrong.verify_key_check(&check).is_err());
    }

    #[test]
    fn nonces_differ_between_blocks() {
        let cipher = Cipher::from_key(&[1; 32]);
        let (first, _) = cipher.seal(b"", b"x");
        let (second, _) = cipher.seal(b"", b"x");
        assert_ne!(first, second);
    }

    #[test]
    fn key_files_hold_raw_or_hex_keys() {
        assert_eq!(parse_key(&[3u8; 32]), Some([3u8; 32]));
        let hex = format!("{}\n", "ab".repeat(32));
        assert_eq!(parse_key(hex.as_bytes()), Some([0xab; 32]));
        assert_eq!(parse_key(b"too short"), None);
    }
}
