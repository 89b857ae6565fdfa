//! An exact-size heap byte buffer addressed by one pointer.
//!
//! Small collections are one buffer each, so the buffer's own header is paid once per
//! key: a `Vec<u8>` costs 24 bytes inline (pointer, capacity, length) and rounds its
//! capacity up; this costs 8 bytes inline plus a 4-byte length at the start of the heap
//! block, and the block is always exactly as long as the contents (jemalloc's size
//! classes absorb the reallocations of growth one entry at a time, as Redis's listpack
//! relies on). That keeps a collection value small enough to live unboxed in a
//! [`Value`](crate::Value).
//!
//! Layout of the heap block: `[len: u32 LE][bytes; len]`, aligned to 4.

use std::alloc::{alloc_zeroed, dealloc, handle_alloc_error, realloc, Layout};
use std::fmt;
use std::ptr::NonNull;

const PREFIX: usize = 4;

/// An exact-size byte buffer behind one pointer. See the module documentation.
pub struct ThinBuffer {
    block: NonNull<u8>,
}

// SAFETY: the buffer exclusively owns its heap block (no sharing, no interior
// mutability), exactly as a `Box<[u8]>` does.
unsafe impl Send for ThinBuffer {}
// SAFETY: shared references only read the block.
unsafe impl Sync for ThinBuffer {}

fn layout(len: usize) -> Layout {
    match Layout::from_size_align(PREFIX + len, 4) {
        Ok(layout) => layout,
        Err(_) => panic!("a buffer of {len} bytes exceeds the address space"),
    }
}

impl ThinBuffer {
    /// A buffer of `len` zero bytes.
    pub fn zeroed(len: usize) -> ThinBuffer {
        assert!(
            u32::try_from(len).is_ok(),
            "a thin buffer holds at most 4 GiB"
        );
        let layout = layout(len);
        // SAFETY: the layout has a non-zero size (the length prefix).
        let raw = unsafe { alloc_zeroed(layout) };
        let Some(block) = NonNull::new(raw) else {
            handle_alloc_error(layout)
        };
        let mut buffer = ThinBuffer { block };
        buffer.set_len(len);
        buffer
    }

    /// A copy of `bytes`.
    pub fn from_slice(bytes: &[u8]) -> ThinBuffer {
        let mut buffer = ThinBuffer::zeroed(bytes.len());
        buffer.as_mut_slice().copy_from_slice(bytes);
        buffer
    }

    /// Where the block starts, for prefetching.
    pub(crate) fn address(&self) -> *const u8 {
        self.block.as_ptr()
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        let mut prefix = [0u8; PREFIX];
        // SAFETY: the block always starts with the 4-byte length.
        unsafe { std::ptr::copy_nonoverlapping(self.block.as_ptr(), prefix.as_mut_ptr(), PREFIX) };
        u32::from_le_bytes(prefix) as usize
    }

    /// True when it holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn set_len(&mut self, len: usize) {
        let prefix = (len as u32).to_le_bytes();
        // SAFETY: the block always has room for the 4-byte length.
        unsafe { std::ptr::copy_nonoverlapping(prefix.as_ptr(), self.block.as_ptr(), PREFIX) };
    }

    /// The contents.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: the block holds `len` initialized bytes after the prefix.
        unsafe { std::slice::from_raw_parts(self.block.as_ptr().add(PREFIX), self.len()) }
    }

    /// The contents, mutable.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        let len = self.len();
        // SAFETY: as `as_slice`, and `&mut self` makes the access exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.block.as_ptr().add(PREFIX), len) }
    }

    /// Resizes the block to hold `new_len` bytes (new bytes are zero).
    fn resize(&mut self, new_len: usize) {
        let old_len = self.len();
        if new_len == old_len {
            return;
        }
        assert!(
            u32::try_from(new_len).is_ok(),
            "a thin buffer holds at most 4 GiB"
        );
        let new_layout = layout(new_len);
        // SAFETY: the block was allocated with `layout(old_len)`; the new size is
        // non-zero and does not overflow (checked by `layout`).
        let raw = unsafe { realloc(self.block.as_ptr(), layout(old_len), new_layout.size()) };
        let Some(block) = NonNull::new(raw) else {
            handle_alloc_error(new_layout)
        };
        self.block = block;
        if new_len > old_len {
            // SAFETY: the block now has `new_len` bytes after the prefix.
            unsafe {
                std::ptr::write_bytes(
                    self.block.as_ptr().add(PREFIX + old_len),
                    0,
                    new_len - old_len,
                )
            };
        }
        self.set_len(new_len);
    }

    /// Replaces `removed` bytes at `at` with `inserted` zero bytes, moving the tail, and
    /// returns the new bytes for the caller to fill.
    pub fn splice(&mut self, at: usize, removed: usize, inserted: usize) -> &mut [u8] {
        let old_len = self.len();
        assert!(at + removed <= old_len, "splice out of bounds");
        let tail = old_len - at - removed;
        let new_len = old_len - removed + inserted;
        if inserted > removed {
            self.resize(new_len);
        }
        // The block is now at least as long as both the old and the new contents.
        self.as_mut_slice()
            .copy_within(at + removed..at + removed + tail, at + inserted);
        if inserted < removed {
            self.resize(new_len);
        }
        let filled = &mut self.as_mut_slice()[at..at + inserted];
        filled.fill(0);
        filled
    }

    /// Appends `bytes`.
    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        let at = self.len();
        self.splice(at, 0, bytes.len()).copy_from_slice(bytes);
    }
}

impl Drop for ThinBuffer {
    fn drop(&mut self) {
        // SAFETY: the block was allocated with this layout and is freed once.
        unsafe { dealloc(self.block.as_ptr(), layout(self.len())) };
    }
}

impl Clone for ThinBuffer {
    fn clone(&self) -> Self {
        ThinBuffer::from_slice(self.as_slice())
    }
}

impl PartialEq for ThinBuffer {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for ThinBuffer {}

impl fmt::Debug for ThinBuffer {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.debug_list().entries(self.as_slice()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splices_grow_shrink_and_move_the_tail() {
        let mut buffer = ThinBuffer::from_slice(b"hello world");
        buffer.splice(5, 1, 3).copy_from_slice(b", w");
        assert_eq!(buffer.as_slice(), b"hello, wworld");
        buffer.splice(0, 7, 0);
        assert_eq!(buffer.as_slice(), b"wworld");
        buffer.extend_from_slice(b"!");
        assert_eq!(buffer.as_slice(), b"wworld!");
        let copy = buffer.clone();
        buffer.splice(0, 7, 0);
        assert!(buffer.is_empty());
        assert_eq!(copy.as_slice(), b"wworld!");
        assert_eq!(std::mem::size_of::<ThinBuffer>(), 8);
        assert_eq!(std::mem::size_of::<Option<ThinBuffer>>(), 8);
    }
}
