//! Collection values: lists, hashes, sets, sorted sets and streams.
//!
//! Each type has a compact encoding (one contiguous buffer, as Redis's listpack and
//! intset) for small collections and a big encoding for large ones, and converts at
//! Redis's thresholds ([`EncodingLimits`], the `*-max-listpack-*` and `*-max-intset-*`
//! settings). The structures know nothing about commands or replies: they store, find,
//! order and convert; the command families in the commands crate give them meaning.

pub mod hash;
mod limits;
pub mod list;
pub mod listpack;
pub mod set;
pub mod sorted_set;
pub mod stream;
pub mod thin_buffer;

pub use hash::Hash;
pub use limits::EncodingLimits;
pub use list::{End, List};
pub use listpack::Listpack;
pub use set::Set;
pub use sorted_set::SortedSet;
pub use stream::Stream;
pub use thin_buffer::ThinBuffer;
