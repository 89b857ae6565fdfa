//! The libraries Redis adds to Lua: `bit`, `cjson`, `cmsgpack`, `struct`.

pub(crate) mod bit;
pub(crate) mod cjson;
pub(crate) mod cmsgpack;
pub(crate) mod structs;

/// A runtime error with the position of the calling Lua code, as `luaL_error` writes it
/// (`user_script:1: message`).
pub(crate) fn located_error(lua: &mlua::Lua, message: impl std::fmt::Display) -> mlua::Error {
    let place = lua
        .inspect_stack(1, |debug| {
            let line = debug.current_line()?;
            let source = debug.source();
            Some(format!("{}:{line}:", source.short_src?))
        })
        .flatten();
    match place {
        Some(place) => mlua::Error::runtime(format!("{place} {message}")),
        None => mlua::Error::runtime(message.to_string()),
    }
}
