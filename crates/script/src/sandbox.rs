//! Redis's sandboxed Lua environment: the Lua state, the helpers the prelude
//! (`sandbox.lua`) needs, and the functions it returns.

use crate::bytecode;
use crate::convert::error_table;
use crate::engine::{await_marker, Calls, RunState};
use crate::libs;
use crate::raw::RawCalls;
use mlua::{Function, Lua, LuaOptions, StdLib, Table, Value};
use std::rc::Rc;

/// What Redis 7.2 answers to `redis.REDIS_VERSION`.
const REDIS_VERSION: &str = "7.2.4";
/// `redis.REDIS_VERSION_NUM`: 0x00MMmmpp.
const REDIS_VERSION_NUM: u32 = 0x0007_0204;
/// The prelude's chunk name, skipped when locating an error in the user's code.
const PRELUDE_SOURCE: &str = "=sandbox";

/// Finished Lua threads kept for the next runs (one runs at a time per engine).
const THREAD_POOL: usize = 4;

/// The prelude's functions the engine calls.
pub(crate) struct Sandbox {
    /// `run(f, eval)`: `true` (the value stored by `read_result`), `(nil, error)` when the
    /// arguments or the value could not be made, or `(false, error, source, line)`. With
    /// `eval`, the run's keys and arguments are the `KEYS` and `ARGV` globals; without, the
    /// function's arguments.
    pub run: Function,
    /// `load_library(chunk)`: `(true, registered)` or `(false, error)`.
    pub load_library: Function,
}

/// A Lua 5.1 state with the libraries Redis loads (and `debug`, which only the prelude
/// keeps).
pub(crate) fn new_lua() -> mlua::Result<Lua> {
    let libraries = StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG;
    // SAFETY: `debug` is the only unsafe library loaded; the prelude captures
    // `debug.getinfo` in a local and replaces the globals with a table that has no
    // `debug`, before any script can run.
    // A small pool of finished threads: every run is a call on a fresh mlua thread.
    let options = LuaOptions::new().thread_pool_size(THREAD_POOL);
    Ok(unsafe { Lua::unsafe_new_with(libraries, options) })
}

/// Runs the prelude and replaces the globals with its read-only table.
pub(crate) fn install(
    lua: &Lua,
    state: Rc<RunState>,
    calls: Calls,
    raw: &RawCalls,
    yieldable: Function,
) -> mlua::Result<Sandbox> {
    let helpers = lua.create_table()?;
    helpers.set("pending", Value::LightUserData(Lua::poll_pending()))?;
    helpers.set("call_raw", calls.call_raw)?;
    helpers.set("await_raw", calls.await_raw)?;
    helpers.set("await_marker", await_marker())?;
    helpers.set("arguments", raw.arguments.clone())?;
    helpers.set("read_result", raw.read_result.clone())?;
    helpers.set("running", raw.running.clone())?;
    helpers.set("thread_seen", raw.thread_seen.clone())?;
    helpers.set("recycle", raw.recycle.clone())?;
    helpers.set("yieldable", yieldable)?;
    helpers.set("prelude_source", PRELUDE_SOURCE)?;
    helpers.set("version", REDIS_VERSION)?;
    helpers.set("version_num", REDIS_VERSION_NUM)?;
    helpers.set(
        "error_table",
        lua.create_function(|lua, text: mlua::LuaString| error_table(lua, &text.as_bytes()))?,
    )?;
    let killed_state = state.clone();
    helpers.set(
        "killed",
        lua.create_function(move |_, ()| Ok(killed_state.killed()))?,
    )?;
    let random_state = state.clone();
    helpers.set(
        "rand",
        lua.create_function(move |_, ()| Ok(random_state.next_random()))?,
    )?;
    let seed_state = state.clone();
    helpers.set(
        "srand",
        lua.create_function(move |_, seed: f64| {
            seed_state.seed_random(seed as i32);
            Ok(())
        })?,
    )?;
    let log_state = state.clone();
    helpers.set(
        "log",
        lua.create_function(move |_, (level, message): (f64, mlua::LuaString)| {
            log_state.log(level as u8, &message.as_bytes());
            Ok(())
        })?,
    )?;
    let resp_state = state;
    helpers.set(
        "setresp",
        lua.create_function(move |_, resp: f64| {
            resp_state.set_resp3(resp == 3.0);
            Ok(())
        })?,
    )?;
    helpers.set(
        "sha1hex",
        lua.create_function(|_, value: Value| {
            let bytes = match &value {
                Value::String(text) => text.as_bytes().to_vec(),
                Value::Number(number) => crate::convert::format_g(*number, 14).into_bytes(),
                Value::Integer(number) => number.to_string().into_bytes(),
                _ => Vec::new(),
            };
            Ok(sha1_smol::Sha1::from(bytes).digest().to_string())
        })?,
    )?;
    helpers.set(
        "keep_frames",
        lua.create_function(|lua, function: Function| Ok(bytecode::keep_frames(lua, function)))?,
    )?;
    helpers.set("bit", libs::bit::create(lua)?)?;
    helpers.set("cjson", libs::cjson::create(lua)?)?;
    helpers.set("cmsgpack", libs::cmsgpack::create(lua)?)?;
    helpers.set("struct", libs::structs::create(lua)?)?;
    let prelude: Table = lua
        .load(include_str!("sandbox.lua"))
        .set_name(PRELUDE_SOURCE)
        .call(helpers)?;
    lua.set_globals(prelude.get("globals")?)?;
    Ok(Sandbox {
        run: prelude.get("run")?,
        load_library: prelude.get("load_library")?,
    })
}
