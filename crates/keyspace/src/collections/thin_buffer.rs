//! An exact-size heap byte buffer addressed by one pointer.
//!
//! Small collections are one buffer each, so the buffer's own header is paid once per
//! key: a `Vec<u8>` costs 24 bytes inline (pointer, capacity, length) and rounds its
//! capacity up; this costs 8 bytes inline plus a 4-byte length at the start of the heap
//! block, and the block is as long as the contents rounded up to the allocator's size
//! class (which the allocator would round it to anyway). That keeps a collection value
//! small enough to live unboxed in a [`Value`](crate::Value).
//!
//! Growing or shrinking within a size class touches no allocator: a collection that
//! grows one entry at a time reallocates only when it crosses a class boundary (jemalloc
//! would have resized in place, at a few hundred instructions a call).
//!
//! Layout of the heap block: `[len: u32 LE][bytes; len][unused; up to the size class]`,
//! aligned to 4.

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

/// The size the allocator gives a request of `size` bytes: jemalloc's size classes (a
/// 16-byte quantum up to 128 bytes, then four classes per doubling), which glibc's and
/// most other allocators' granularity does not exceed by much.
fn size_class(size: usize) -> usize {
    if size <= 8 {
        return 8;
    }
    if size <= 128 {
        return size.next_multiple_of(16);
    }
    let log2 = usize::BITS - 1 - (size - 1).leading_zeros();
    size.next_multiple_of(1 << (log2 - 2))
}

/// The layout of the block holding `len` bytes of contents.
fn layout(len: usize) -> Layout {
    match Layout::from_size_align(size_class(PREFIX + len), 4) {
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
        let (old_layout, new_layout) = (layout(old_len), layout(new_len));
        if new_layout != old_layout {
            // SAFETY: the block was allocated with `layout(old_len)`; the new size is
            // non-zero and does not overflow (checked by `layout`).
            let raw = unsafe { realloc(self.block.as_ptr(), old_layout, new_layout.size()) };
            let Some(block) = NonNull::new(raw) else {
                handle_alloc_error(new_layout)
            };
            self.block = block;
        }
        if new_len > old_len {
            // SAFETY: the block has room for `new_len` bytes after the prefix. The bytes
            // past the old contents may never have been written (a fresh reallocation),
            // and the contents are always initialized.
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

    #[test]
    fn blocks_are_sized_to_jemalloc_size_classes() {
        // jemalloc 5's small and first large classes with 4 KiB pages.
        let classes = [
            8, 16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640, 768,
            896, 1024, 1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096, 5120, 6144, 7168, 8192,
            10240, 12288, 14336, 16384, 20480, 24576, 28672, 32768,
        ];
        let mut previous = 0;
        for class in classes {
            for size in [previous + 1, (previous + class) / 2, class] {
                assert_eq!(size_class(size), class, "request of {size} bytes");
            }
            previous = class;
        }
    }

    #[test]
    fn growth_and_shrinking_across_size_classes_keep_the_contents() {
        let mut buffer = ThinBuffer::from_slice(b"");
        let mut model = Vec::new();
        for step in 0..3_000usize {
            let byte = (step % 251) as u8;
            let at = (step * 7) % (model.len() + 1);
            buffer.splice(at, 0, 1)[0] = byte;
            model.insert(at, byte);
            if step % 5 == 4 {
                let at = (step * 3) % model.len();
                let removed = (model.len() - at).min(3);
                buffer.splice(at, removed, 0);
                model.drain(at..at + removed);
            }
            assert_eq!(buffer.as_slice(), &model[..], "after step {step}");
        }
    }
}
