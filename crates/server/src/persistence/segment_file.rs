//! A segment file being appended to from the shard's own io_uring ring: O_DIRECT through
//! glommio's DMA file, or buffered writes where the file system refuses O_DIRECT (with one
//! warning per process).

use glommio::io::{BufferedFile, DmaFile, OpenOptions};
use peregrine_persist::{align_up, Cipher, SegmentHeader, SEGMENT_HEADER_LEN};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

static WARNED_BUFFERED: AtomicBool = AtomicBool::new(false);

enum Handle {
    Direct(DmaFile),
    Buffered(BufferedFile),
}

/// An open segment and where the next block goes.
pub struct SegmentFile {
    handle: Handle,
    path: PathBuf,
    offset: u64,
}

impl SegmentFile {
    /// Creates the segment `header` describes in `dir` and writes its header.
    pub async fn create(
        dir: &Path,
        header: &SegmentHeader,
        cipher: &Cipher,
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
        let mut file = SegmentFile {
            handle,
            path,
            offset: 0,
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
        let padded = align_up(bytes.len() as u64) as usize;
        let written = match &self.handle {
            Handle::Direct(file) => {
                let mut buffer = file.alloc_dma_buffer(padded);
                let target = buffer.as_bytes_mut();
                target[..bytes.len()].copy_from_slice(bytes);
                target[bytes.len()..].fill(0);
                file.write_at(buffer, self.offset).await
            }
            Handle::Buffered(file) => {
                let mut buffer = vec![0u8; padded];
                buffer[..bytes.len()].copy_from_slice(bytes);
                file.write_at(buffer, self.offset).await
            }
        }
        .map_err(std::io::Error::from)?;
        if written != padded {
            return Err(std::io::Error::new(
                std::io::ErrorKind::WriteZero,
                format!("short write: {written} of {padded} bytes"),
            ));
        }
        self.offset += padded as u64;
        Ok(())
    }

    /// Makes everything appended durable.
    pub async fn sync(&self) -> std::io::Result<()> {
        match &self.handle {
            Handle::Direct(file) => file.fdatasync().await,
            Handle::Buffered(file) => file.fdatasync().await,
        }
        .map_err(std::io::Error::from)
    }

    /// Closes the file.
    pub async fn close(self) -> std::io::Result<()> {
        match self.handle {
            Handle::Direct(file) => file.close().await,
            Handle::Buffered(file) => file.close().await,
        }
        .map_err(std::io::Error::from)
    }
}
