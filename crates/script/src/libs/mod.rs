//! The libraries Redis adds to Lua: `bit`, `cjson`, `cmsgpack`, `struct`.

pub(crate) mod bit;
pub(crate) mod cjson;
pub(crate) mod cmsgpack;
pub(crate) mod structs;
