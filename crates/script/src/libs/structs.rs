//! placeholder
use mlua::{Lua, Table};
/// Creates the table.
pub(crate) fn create(lua: &Lua) -> mlua::Result<Table> { lua.create_table() }
