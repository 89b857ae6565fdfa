//! One client connection: read, parse, dispatch, write.

use crate::dispatch::{Flow, Session};
use crate::shard_state::{ClientInfo, ShardRouter};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;
use peregrine_resp::{ParseLimits, Protocol, Reply, RequestParser};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::sync::atomic::Ordering;

/// Bytes requested from the socket per read once a client is active.
const READ_CHUNK: usize = 16 * 1024;
/// Bytes requested by the first read: idle connections stay small (10k of them cost
/// 40 MiB, not 160).
const FIRST_READ_CHUNK: usize = 4 * 1024;

/// The read buffer: bytes received but not yet parsed live in `data[start..end]`.
struct ReadBuffer {
    data: Vec<u8>,
    start: usize,
    end: usize,
}

impl ReadBuffer {
    fn new() -> ReadBuffer {
        ReadBuffer {
            data: Vec::new(),
            start: 0,
            end: 0,
        }
    }

    fn pending(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    fn consume(&mut self, bytes: usize) {
        self.start += bytes;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Free space for the next read, compacting or growing as needed.
    fn spare(&mut self, wanted: usize) -> &mut [u8] {
        if self.start > 0 && self.data.len() - self.end < wanted {
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.data.len() - self.end < wanted {
            let size = (self.end + wanted).next_power_of_two();
            self.data.resize(size, 0);
        }
        &mut self.data[self.end..]
    }

    /// Shrinks an idle buffer that grew large (a big value passed through).
    fn shrink_if_idle(&mut self) {
        if self.start == self.end && self.data.len() > 4 * READ_CHUNK {
            self.data = Vec::new();
            self.start = 0;
            self.end = 0;
        }
    }
}

/// Whether `address` is on the loopback interface (IPv4, IPv6, or IPv4 mapped in IPv6).
pub(crate) fn is_loopback(address: &std::net::SocketAddr) -> bool {
    match address.ip() {
        std::net::IpAddr::V4(ip) => ip.is_loopback(),
        std::net::IpAddr::V6(ip) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

const DENIED: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// Writes the pushes queued for a client between requests; false when the connection
/// failed.
async fn write_pushes(
    info: &ClientInfo,
    state: &crate::shard_state::ShardState,
    stream: &mut TcpStream,
) -> bool {
    let chunks = info.outbox.take();
    if chunks.is_empty() {
        return true;
    }
    let bytes: usize = chunks.iter().map(bytes::Bytes::len).sum();
    state.count_write(bytes);
    let written = write_chunks(stream, &chunks, bytes).await;
    info.outbox.written();
    written && !info.killed.get()
}

/// Sends `chunks` (`total` bytes) in order: as many as the socket takes at once in one
/// gathering `sendmsg` (shared frames are never copied), the rest, if the socket filled
/// up, by waiting for room.
async fn write_chunks(stream: &mut TcpStream, chunks: &[bytes::Bytes], total: usize) -> bool {
    let mut sent = 0usize;
    while sent < total {
        let slices: Vec<std::io::IoSlice<'_>> = unsent(chunks, sent)
            .map(std::io::IoSlice::new)
            .take(1024)
            .collect();
        let mut header: libc::msghdr = unsafe { std::mem::zeroed() };
        header.msg_iov = slices.as_ptr() as *mut libc::iovec;
        header.msg_iovlen = slices.len() as _;
        // SAFETY: `header` points at `slices`, valid iovecs over buffers that outlive the
        // call; MSG_DONTWAIT keeps the executor from blocking on a full socket.
        let result = unsafe {
            libc::sendmsg(
                stream.as_raw_fd(),
                &header,
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        };
        if result > 0 {
            sent += result as usize;
            continue;
        }
        let error = std::io::Error::last_os_error();
        if result == 0 || error.kind() != std::io::ErrorKind::WouldBlock {
            return false;
        }
        // The socket is full: wait for room the ordinary way with what is left.
        let rest: Vec<u8> = unsent(chunks, sent).flatten().copied().collect();
        return stream.write_all(&rest).await.is_ok();
    }
    true
}

/// The parts of `chunks` after their first `sent` bytes.
fn unsent(chunks: &[bytes::Bytes], mut sent: usize) -> impl Iterator<Item = &[u8]> {
    chunks.iter().filter_map(move |chunk| {
        if sent >= chunk.len() {
            sent -= chunk.len();
            return None;
        }
        let part = &chunk[sent..];
        sent = 0;
        Some(part)
    })
}

/// Serves one client until it quits, is killed, or the connection fails.
pub async fn serve(router: Rc<ShardRouter>, mut stream: TcpStream) {
    let state = router.state().clone();
    let server = state.server.clone();
    state
        .connections_received
        .set(state.connections_received.get() + 1);
    let settings = server.settings();
    let peer = stream.peer_addr().ok();
    let connected = server.connected_clients.fetch_add(1, Ordering::Relaxed) + 1;
    let _guard = ConnectionCount(server.clone());
    if connected > settings.maxclients {
        state
            .rejected_connections
            .set(state.rejected_connections.get() + 1);
        let _ = stream
            .write_all(b"-ERR max number of clients reached\r\n")
            .await;
        return;
    }
    if settings.protected_mode
        && settings.requirepass.is_none()
        && peer.as_ref().is_some_and(|address| !is_loopback(address))
    {
        state
            .rejected_connections
            .set(state.rejected_connections.get() + 1);
        let _ = stream.write_all(DENIED.as_bytes()).await;
        return;
    }
    let _ = stream.set_nodelay(true);
    let info = Rc::new(ClientInfo::new(
        server.next_client_id.fetch_add(1, Ordering::Relaxed),
        peer.map(|address| address.to_string()).unwrap_or_default(),
        stream
            .local_addr()
            .map(|address| address.to_string())
            .unwrap_or_default(),
        stream.as_raw_fd(),
    ));
    let slot = state.clients.borrow_mut().insert(info.clone());
    let mut session = Session::new(router.clone(), info.clone(), settings.requirepass.is_none());
    session.publish_identity();
    let mut buffer = ReadBuffer::new();
    let mut output: Vec<u8> = Vec::with_capacity(1024);
    let mut needed = 0usize;
    'connection: loop {
        let chunk = if buffer.data.is_empty() {
            FIRST_READ_CHUNK
        } else {
            READ_CHUNK
        };
        // Pushes may arrive while waiting for the next request: pub/sub messages, and for
        // RESP3 clients client-side caching invalidations (also as another client's
        // REDIRECT target, which this client does not know about).
        let read = if session.subscriptions.any()
            || info.monitor.get()
            || !info.outbox.is_empty()
            || session.protocol == Protocol::Resp3
        {
            let event = futures_lite::future::or(
                async { Some(stream.read(buffer.spare(chunk)).await) },
                async {
                    info.outbox.ready().await;
                    None
                },
            )
            .await;
            match event {
                Some(read) => read,
                None => {
                    if info.outbox.overflowed() || !write_pushes(&info, &state, &mut stream).await {
                        break;
                    }
                    continue;
                }
            }
        } else {
            stream.read(buffer.spare(chunk)).await
        };
        let read = match read {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        if info.killed.get() {
            break;
        }
        buffer.end += read;
        state.count_read(read);
        let settings = session.settings();
        if buffer.pending().len() as u64 > settings.client_query_buffer_limit {
            tracing::warn!(
                client = info.id,
                "closing client that reached max query buffer length"
            );
            break;
        }
        if buffer.pending().len() < needed {
            continue;
        }
        let parser = RequestParser::new(ParseLimits {
            max_bulk_len: settings.proto_max_bulk_len,
            authenticated: session.authenticated(),
            ..ParseLimits::default()
        });
        let batch = parser.parse_batch(buffer.pending());
        buffer.consume(batch.consumed);
        needed = batch.needed.saturating_sub(batch.consumed);
        // Pushes queued before this request go out before its replies.
        info.outbox.drain_into(&mut output);
        let flow = session
            .execute_all(batch.commands, &mut output, &mut stream)
            .await;
        if let Some(error) = &batch.error {
            Reply::error(format!("ERR {error}")).encode(session.protocol(), &mut output);
        }
        if !output.is_empty() {
            state.count_write(output.len());
            // Let the other clients with requests in this pass run first, as Redis writes
            // its replies after handling every readable client: the replies then leave
            // in one burst, and a load generator woken by the first finds the rest
            // waiting instead of being woken again (on this machine 19% of the server's
            // CPU at LPUSH -P 16 went to such wake-ups, 7% after).
            futures_lite::future::yield_now().await;
            if stream.write_all(&output).await.is_err() {
                break 'connection;
            }
            output.clear();
            if output.capacity() > 64 * 1024 {
                output = Vec::with_capacity(1024);
            }
        }
        buffer.shrink_if_idle();
        if batch.error.is_some() || flow == Flow::Close || info.killed.get() {
            break;
        }
    }
    crate::transaction::reset(&mut session).await;
    crate::pubsub::forget_all(&mut session).await;
    crate::tracking::forget_client(&mut session).await;
    crate::monitor::stop(&session);
    state.clients.borrow_mut().remove(slot);
    server.client_identities.remove(info.id);
    let _ = stream.close().await;
}

/// Keeps the connected-clients count right however the connection ends.
struct ConnectionCount(std::sync::Arc<crate::shard_state::ServerShared>);

impl Drop for ConnectionCount {
    fn drop(&mut self) {
        self.0.connected_clients.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::unsent;
    use bytes::Bytes;

    #[test]
    fn unsent_skips_what_was_sent_across_chunks() {
        let chunks = [
            Bytes::from_static(b"abc"),
            Bytes::from_static(b"de"),
            Bytes::from_static(b"fgh"),
        ];
        let rest = |sent| unsent(&chunks, sent).collect::<Vec<&[u8]>>();
        assert_eq!(rest(0), [&b"abc"[..], b"de", b"fgh"]);
        assert_eq!(rest(2), [&b"c"[..], b"de", b"fgh"]);
        assert_eq!(rest(3), [&b"de"[..], b"fgh"]);
        assert_eq!(rest(6), [&b"gh"[..]]);
        assert!(rest(8).is_empty());
    }
}
