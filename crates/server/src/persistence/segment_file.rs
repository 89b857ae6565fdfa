//! A segment file being appended to from the shard's own io_uring ring: O_DIRECT through
//! glommio's DMA file, or buffered writes where the file system refuses O_DIRECT (with one
//! warning per process).

use glommio::io::{BufferedFile, DmaFile, OpenOptions};
use peregrine_persist::{align_up, Cipher, SegmentHeader, SEGMENT_HEADER_LEN};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};

static WARNED_BUFFERED: AtomicBool = AtomicBool::new(false);

enum Handle {
    Direct(DmaFile),
    Buffered(BufferedFile),
}

/// Zeroes are written ahead of the blocks in chunks of this size (see
/// [`SegmentFile::create`]).
const ZERO_CHUNK: u64 = 1 << 20;

/// An open segment and where the next block goes.
pub struct SegmentFile {
    handle: Rc<Handle>,
    path: PathBuf,
    offset: u64,
    /// Preallocated length (0: none).
    reserved: u64,
    /// Bytes known written (data or zeroes): appending below this is a pure overwrite.
    zeroed_to: u64,
}

impl SegmentFile {
    /// Creates the segment `header` describes in `dir` and writes its header. With
    /// `reserve`, the file's blocks are allocated up front (its length unchanged) and
    /// zeroes are written ahead of the appended blocks a megabyte at a time: an append is
    /// then an overwrite of written blocks below the end of the file, which the kernel
    /// completes without allocating (no detour through its worker threads) and which an
    /// fdatasync makes durable with a cache flush alone, no journal commit. The file ends
    /// at most a megabyte of zeroes after its last block. That is what makes `appendfsync always` cheap (see the note in
    /// benches/persistence.sh's results).
    pub async fn create(
        dir: &Path,
        header: &SegmentHeader,
        cipher: &Cipher,
        reserve: Option<u64>,
    ) -> std::io::Result<SegmentFile> {
        let path = dir.join(header.file_name());
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(true);
        let handle = match options.dma_open(&path).await {
            Ok(file) => Handle::Direct(file),
            Err(error) => {
                if !WARNED_BUFFERED.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "the file system of {} refuses O_DIRECT ({error}); persistence falls back to buffered writes",
                        dir.display()
                    );
                }
                Handle::Buffered(
                    options
                        .buffered_open(&path)
                        .await
                        .map_err(std::io::Error::from)?,
                )
            }
        };
        let mut reserved = 0;
        if let (Some(size), Handle::Direct(file)) = (reserve, &handle) {
            if file.pre_allocate(size, true).await.is_ok() {
                reserved = size;
            }
        }
        let mut file = SegmentFile {
            handle: Rc::new(handle),
            path,
            offset: 0,
            reserved,
            zeroed_to: 0,
        };
        file.append(&header.encode(cipher)).await?;
        debug_assert_eq!(file.offset, SEGMENT_HEADER_LEN);
        Ok(file)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes written so far (the next block's offset).
    pub fn len(&self) -> u64 {
        self.offset
    }

    /// True when only the header was written.
    pub fn is_empty(&self) -> bool {
        self.offset <= SEGMENT_HEADER_LEN
    }

    /// Appends `bytes` at the next block boundary, zero-padded to the next one. On
    /// failure nothing is considered written: a retry writes the same place again.
    pub async fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let padded = align_up(bytes.len() as u64);
        self.zero_ahead(self.offset + padded).await?;
        write_padded(&self.handle, bytes, self.offset).await?;
        self.offset += padded;
        self.zeroed_to = self.zeroed_to.max(self.offset);
        Ok(())
    }

    /// Starts appending `bytes` (as [`SegmentFile::append`]) and returns the write to
    /// await, so that several writes of a file that is not preallocated can be in flight
    /// while the caller prepares the next. The place is taken at once: a failed write
    /// leaves a hole, so the file is only good if every write succeeds.
    pub fn start_append(&mut self, bytes: &[u8]) -> glommio::task::JoinHandle<std::io::Result<()>> {
        let (handle, bytes, offset) = (self.handle.clone(), bytes.to_vec(), self.offset);
        self.offset += align_up(bytes.len() as u64);
        self.zeroed_to = self.zeroed_to.max(self.offset);
        glommio::spawn_local(async move { write_padded(&handle, &bytes, offset).await }).detach()
    }

    /// Writes zeroes over the reserved space up to `end` (rounded up to a chunk) that no
    /// block or zero chunk covers yet.
    async fn zero_ahead(&mut self, end: u64) -> std::io::Result<()> {
        let Handle::Direct(file) = &*self.handle else {
            return Ok(());
        };
        while self.zeroed_to < end.min(self.reserved) {
            let start = self.zeroed_to.max(self.offset);
            let length = (ZERO_CHUNK - start % ZERO_CHUNK).min(self.reserved - start);
            let mut buffer = file.alloc_dma_buffer(length as usize);
            buffer.as_bytes_mut().fill(0);
            let written = file
                .write_at(buffer, start)
                .await
                .map_err(std::io::Error::from)?;
            if written as u64 != length {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::WriteZero,
                    "short write of zeroes",
                ));
            }
            self.zeroed_to = start + length;
        }
        Ok(())
    }

    /// Makes everything appended durable.
    pub async fn sync(&self) -> std::io::Result<()> {
        self.syncer().sync().await
    }

    /// A handle that syncs this file from another task, so that the next block can be
    /// written while the previous one is being made durable.
    pub fn syncer(&self) -> Syncer {
        Syncer(self.handle.clone())
    }

    /// Closes the file (once no [`Syncer`] of it is left).
    pub async fn close(self) -> std::io::Result<()> {
        match Rc::try_unwrap(self.handle) {
            Ok(Handle::Direct(file)) => file.close().await,
            Ok(Handle::Buffered(file)) => file.close().await,
            Err(_) => return Ok(()),
        }
        .map_err(std::io::Error::from)
    }
}

/// Writes `bytes` zero-padded to the block alignment at `offset`.
async fn write_padded(handle: &Handle, bytes: &[u8], offset: u64) -> std::io::Result<()> {
    let padded = align_up(bytes.len() as u64) as usize;
    let written = match handle {
        Handle::Direct(file) => {
            let mut buffer = file.alloc_dma_buffer(padded);
            let target = buffer.as_bytes_mut();
            target[..bytes.len()].copy_from_slice(bytes);
            target[bytes.len()..].fill(0);
            file.write_at(buffer, offset).await
        }
        Handle::Buffered(file) => {
            let mut buffer = vec![0u8; padded];
            buffer[..bytes.len()].copy_from_slice(bytes);
            file.write_at(buffer, offset).await
        }
    }
    .map_err(std::io::Error::from)?;
    if written != padded {
        return Err(std::io::Error::new(
            std::io::ErrorKind::WriteZero,
            format!("short write: {written} of {padded} bytes"),
        ));
    }
    Ok(())
}

/// Syncs a segment file; see [`SegmentFile::syncer`].
pub struct Syncer(Rc<Handle>);

impl Syncer {
    /// Makes everything appended so far durable.
    pub async fn sync(&self) -> std::io::Result<()> {
        match &*self.0 {
            Handle::Direct(file) => file.fdatasync().await,
            Handle::Buffered(file) => file.fdatasync().await,
        }
        .map_err(std::io::Error::from)
    }
}
