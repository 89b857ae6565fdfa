//! Reading a known number of replies from a blocking connection: the loop under the
//! main mode's pipelines and the streams mode's commands.
//!
//! The caller knows how many replies it awaits and has nothing else in flight, so
//! every read ends on a reply boundary once the last one is complete; bytes beyond it
//! are an error, not the start of the next reply. It is not the pub/sub reader
//! ([`PushReader`](crate::pubsub::push::PushReader)), which reads an open-ended
//! sequence of pushes.

use std::io::{self, Read};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use crate::resp::{scan_reply, ReplyKind};

/// How long a read waits for a reply before the run is declared stuck; connections
/// set it as their read timeout.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// Reads exactly `replies` RESP2 replies from `source` into `buffer`, which grows when
/// one reply does not fit, and hands each complete reply to `handle` with its kind and
/// the time of the read that completed it. An error from `handle` ends the reading.
pub fn read_replies<R: Read>(
    source: &mut R,
    buffer: &mut Vec<u8>,
    replies: usize,
    mut handle: impl FnMut(ReplyKind, &[u8], Instant) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    if buffer.is_empty() {
        buffer.resize(4096, 0);
    }
    let mut filled = 0;
    let mut parsed = 0;
    let mut answered = 0;
    let mut read_at = Instant::now();
    while answered < replies {
        let pending = buffer.get(parsed..filled).unwrap_or_default();
        if let Some((kind, length)) = scan_reply(pending)? {
            handle(kind, pending.get(..length).unwrap_or_default(), read_at)?;
            parsed += length;
            answered += 1;
            continue;
        }
        if filled == buffer.len() {
            if parsed > 0 {
                buffer.copy_within(parsed..filled, 0);
                filled -= parsed;
                parsed = 0;
            } else {
                buffer.resize(buffer.len() * 2, 0);
            }
        }
        let spare = buffer.get_mut(filled..).unwrap_or_default();
        let read = match source.read(spare) {
            Ok(0) => bail!("the server closed a connection with replies outstanding"),
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                bail!("no reply within {} s", REPLY_TIMEOUT.as_secs())
            }
            Err(error) => return Err(error).context("reading replies"),
        };
        filled += read;
        read_at = Instant::now();
    }
    if parsed != filled {
        bail!(
            "{} bytes arrived after the last reply expected",
            filled - parsed
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out `bytes` in chunks of `size`, then reports the end.
    struct Chunked<'a> {
        bytes: &'a [u8],
        size: usize,
    }

    impl Read for Chunked<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let count = self.size.min(out.len()).min(self.bytes.len());
            out[..count].copy_from_slice(&self.bytes[..count]);
            self.bytes = &self.bytes[count..];
            Ok(count)
        }
    }

    fn collect(
        bytes: &[u8],
        size: usize,
        replies: usize,
    ) -> anyhow::Result<Vec<(ReplyKind, String)>> {
        let mut seen = Vec::new();
        let mut buffer = vec![0; 8];
        read_replies(
            &mut Chunked { bytes, size },
            &mut buffer,
            replies,
            |kind, reply, _| {
                seen.push((kind, String::from_utf8_lossy(reply).into_owned()));
                Ok(())
            },
        )?;
        Ok(seen)
    }

    #[test]
    fn reads_every_reply_whatever_the_chunks() {
        let bytes = b"+OK\r\n$20\r\nabcdefghijklmnopqrst\r\n*2\r\n:1\r\n$-1\r\n-ERR x\r\n";
        let expected = vec![
            (ReplyKind::Simple, "+OK\r\n".to_owned()),
            (
                ReplyKind::Bulk,
                "$20\r\nabcdefghijklmnopqrst\r\n".to_owned(),
            ),
            (ReplyKind::Array, "*2\r\n:1\r\n$-1\r\n".to_owned()),
            (ReplyKind::Error, "-ERR x\r\n".to_owned()),
        ];
        for size in [1, 2, 3, 7, 100] {
            assert_eq!(
                collect(bytes, size, 4).expect("valid"),
                expected,
                "chunks of {size}"
            );
        }
        assert!(collect(b"", 1, 0).expect("nothing to read").is_empty());
    }

    #[test]
    fn bytes_after_the_last_reply_closed_connections_and_garbage_fail() {
        let error = collect(b"+OK\r\n+OK\r\n", 100, 1).expect_err("one reply too many");
        // The 8-byte buffer holds 3 bytes of the second reply when the first completes.
        assert_eq!(
            error.to_string(),
            "3 bytes arrived after the last reply expected"
        );
        let error = collect(b"+OK\r\n", 100, 2).expect_err("closed");
        assert_eq!(
            error.to_string(),
            "the server closed a connection with replies outstanding"
        );
        assert!(collect(b"?what\r\n", 100, 1).is_err());
    }

    #[test]
    fn an_error_from_the_handler_ends_the_reading() {
        let mut buffer = Vec::new();
        let mut calls = 0;
        let result = read_replies(
            &mut Chunked {
                bytes: b":1\r\n:2\r\n",
                size: 100,
            },
            &mut buffer,
            2,
            |_, _, _| {
                calls += 1;
                bail!("refused")
            },
        );
        assert_eq!(result.expect_err("refused").to_string(), "refused");
        assert_eq!(calls, 1);
    }
}
