//! The per-call hot paths against Lua's C API: `redis.call`'s core (`call_raw`), a
//! command's reply pushed as a Lua value, and a script's return value read back as a
//! reply. Each is one C call where mlua would make a protected call per value.
//!
//! All of the crate's raw-stack code that can meet a Lua error lives here, under two rules:
//! * A Lua error is a `longjmp`, which skips Rust destructors. A frame that owns a value
//!   with a destructor therefore never calls a C API function that can raise: the pushes
//!   that allocate run inside `lua_pcall` of [`push_reply`], whose frames own nothing
//!   (they borrow a prepared [`Reply`]), and `call_raw` re-raises a caught error only
//!   from its outer frame, after the owning frame has returned. The reading side calls
//!   only functions that cannot raise (`lua_rawget`, `lua_rawgeti`, `lua_next` over an
//!   unchanged table, `lua_tolstring` on strings), after reserving its stack up front.
//! * No panic leaves a C function: the host is called under `catch_unwind`.

use crate::convert::{error_parts, format_g, number_to_integer, parse_reply, MAX_DEPTH};
use crate::engine::{RunState, AWAIT};
use crate::HostCall;
use bytes::Bytes;
use mlua::{ffi, Function, Lua, MultiValue, Value};
use peregrine_resp::{format_double, Reply};
use std::ffi::{c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

/// The field names the conversions read and write, in slot order: `push_reply`'s
/// upvalues, and the reading side's stack after its two arguments.
const FIELD_NAMES: [&str; 9] = [
    "err",
    "ok",
    "double",
    "big_number",
    "verbatim_string",
    "format",
    "string",
    "map",
    "set",
];
const ERR: c_int = 1;
const OK: c_int = 2;
const DOUBLE: c_int = 3;
const BIG_NUMBER: c_int = 4;
const VERBATIM_STRING: c_int = 5;
const FORMAT: c_int = 6;
const STRING: c_int = 7;
const MAP: c_int = 8;
const SET: c_int = 9;

/// Stack slots [`read_result`] reserves: three per nesting level (the table, a key and a
/// value), the names and the argument.
const READ_STACK: c_int = 3 * (MAX_DEPTH as c_int + 2) + FIELD_NAMES.len() as c_int + 8;

/// The C functions of this module, made once per Lua state.
pub(crate) struct RawCalls {
    /// `call_raw(...)`: `(value, is_error)`, or the await marker when the host's reply is a
    /// future (stored in the run state).
    pub call_raw: Function,
    /// `push_reply(reply, resp3)`, for [`push_ready_reply`] (never given to scripts: its
    /// first argument is a pointer).
    push_reply: Function,
    /// `arguments()`: the run's `KEYS` and `ARGV` tables (the prelude's `run`).
    pub arguments: Function,
    /// `read_result(value)`: stores the script's return value as the run's reply.
    pub read_result: Function,
    /// `running()`: `coroutine.running`, noting that a script saw its thread.
    pub running: Function,
    /// `thread_seen()`: whether the run called `running`.
    pub thread_seen: Function,
    /// `recycle(co, f)`: makes a finished coroutine start `f` when resumed next.
    pub recycle: Function,
}

impl RawCalls {
    pub(crate) fn new(lua: &Lua, state: Rc<RunState>) -> mlua::Result<RawCalls> {
        let name_values = FIELD_NAMES
            .iter()
            .map(|name| lua.create_string(name).map(Value::String))
            .collect::<mlua::Result<MultiValue>>()?;
        let state_pointer = Rc::as_ptr(&state).cast_mut().cast::<c_void>();
        // The Lua state keeps the run state alive as long as these functions can be called.
        lua.set_app_data(state);
        let names = FIELD_NAMES.len() as c_int;
        // SAFETY: the closure runs in protected mode with the nine names on the stack;
        // `luaL_checkstack` and `lua_pushcclosure` may raise only a memory error, and the
        // closure owns nothing with a destructor. It leaves the seven functions below.
        let functions = unsafe {
            lua.exec_raw::<(
                Function,
                Function,
                Function,
                Function,
                Function,
                Function,
                Function,
            )>(name_values, |lua_state| {
                ffi::luaL_checkstack(lua_state, names + 8, c"raw calls".as_ptr());
                for index in 1..=names {
                    ffi::lua_pushvalue(lua_state, index);
                }
                ffi::lua_pushlightuserdata(lua_state, state_pointer);
                ffi::lua_pushcclosure(lua_state, read_result, names + 1);
                ffi::lua_insert(lua_state, 1);
                ffi::lua_pushcclosure(lua_state, push_reply, names);
                ffi::lua_pushvalue(lua_state, -1);
                ffi::lua_pushlightuserdata(lua_state, state_pointer);
                ffi::lua_pushcclosure(lua_state, call_raw, 2);
                for function in [arguments, running, thread_seen] {
                    ffi::lua_pushlightuserdata(lua_state, state_pointer);
                    ffi::lua_pushcclosure(lua_state, function, 1);
                }
                ffi::lua_pushcclosure(lua_state, recycle, 0);
            })?
        };
        let (read_result, push_reply, call_raw, arguments, running, thread_seen, recycle) =
            functions;
        Ok(RawCalls {
            call_raw,
            push_reply,
            arguments,
            read_result,
            running,
            thread_seen,
            recycle,
        })
    }
}

/// The [`RunState`] behind upvalue `index` of the running C function.
///
/// # Safety
/// The upvalue is the run state's pointer, which the Lua state keeps alive (app data); the
/// engine runs one script at a time on one thread.
unsafe fn upvalue_state<'a>(lua_state: *mut ffi::lua_State, index: c_int) -> &'a RunState {
    // SAFETY: per the contract.
    unsafe {
        &*ffi::lua_touserdata(lua_state, ffi::lua_upvalueindex(index))
            .cast::<RunState>()
            .cast_const()
    }
}

/// `arguments()`: pushes the run's `KEYS` and `ARGV` tables (empty ones outside a run).
/// Upvalue: the [`RunState`].
unsafe extern "C-unwind" fn arguments(lua_state: *mut ffi::lua_State) -> c_int {
    // SAFETY: the engine's frame owns the slices while the run lasts (see
    // `RunState::arguments`); this frame holds only references and integers, so the
    // `longjmp` of a memory error in `lua_createtable` or `lua_pushlstring` skips nothing
    // with a destructor. It uses three of a C function's LUA_MINSTACK slots.
    unsafe {
        let (keys, args) = upvalue_state(lua_state, 1).arguments();
        for items in [keys, args] {
            ffi::lua_createtable(lua_state, capacity(items.len()), 0);
            for (index, item) in (1..).zip(items) {
                ffi::lua_pushlstring(lua_state, item.as_ptr().cast(), item.len());
                ffi::lua_rawseti(lua_state, -2, index);
            }
        }
    }
    2
}

/// `running()`: `coroutine.running` (the running coroutine, `nil` on the main thread),
/// noting in the [`RunState`] (upvalue) that the script has seen its thread, which the
/// prelude then does not reuse for a later run.
unsafe extern "C-unwind" fn running(lua_state: *mut ffi::lua_State) -> c_int {
    // SAFETY: two pushes within LUA_MINSTACK that allocate nothing.
    unsafe {
        upvalue_state(lua_state, 1).note_thread_seen();
        if ffi::lua_pushthread(lua_state) != 0 {
            ffi::lua_pushnil(lua_state);
        }
    }
    1
}

/// `thread_seen()`: whether the run called [`running`]. Upvalue: the [`RunState`].
unsafe extern "C-unwind" fn thread_seen(lua_state: *mut ffi::lua_State) -> c_int {
    // SAFETY: one push within LUA_MINSTACK that allocates nothing.
    unsafe {
        let seen = upvalue_state(lua_state, 1).thread_seen();
        ffi::lua_pushboolean(lua_state, c_int::from(seen));
    }
    1
}

/// `recycle(co, f)`: when `co` is a coroutine that finished normally (status 0, no active
/// frame, an empty stack: what `coroutine.status` calls dead), puts `f` on its stack, so
/// the next `coroutine.resume` starts it as `coroutine.create(f)` would, resets its hook
/// count as `lua_newthread` does, and answers `true`; otherwise answers `false`. (Lua
/// 5.1's `lua_resume` starts the function on the stack of any such thread; mlua's thread
/// pool recycles threads the same way.)
unsafe extern "C-unwind" fn recycle(lua_state: *mut ffi::lua_State) -> c_int {
    // SAFETY: `lua_getstack`, `lua_gethook*` and `lua_sethook` read or set fields without
    // allocating; the finished coroutine's stack has at least LUA_MINSTACK free slots (a
    // thread's stack never shrinks below twice that), so `lua_xmove` of one value fits.
    unsafe {
        let co = ffi::lua_tothread(lua_state, 1);
        let mut frame = std::mem::zeroed::<ffi::lua_Debug>();
        let finished = !co.is_null()
            && co != lua_state
            && ffi::lua_type(lua_state, 2) == ffi::LUA_TFUNCTION
            && ffi::lua_status(co) == 0
            && ffi::lua_gettop(co) == 0
            && ffi::lua_getstack(co, 0, &mut frame) == 0;
        if finished {
            ffi::lua_pushvalue(lua_state, 2);
            ffi::lua_xmove(lua_state, co, 1);
            ffi::lua_sethook(
                co,
                ffi::lua_gethook(co),
                ffi::lua_gethookmask(co),
                ffi::lua_gethookcount(co),
            );
        }
        ffi::lua_pushboolean(lua_state, c_int::from(finished));
    }
    1
}

/// `reply` made ready for [`push_reply`]: raw replies parsed, and RESP2 doubles turned into
/// the strings a script sees, so the pushes allocate nothing on the Rust side.
fn prepare(reply: &mut Reply, resp3: bool) {
    if let Reply::Raw(bytes) = reply {
        *reply = match parse_reply(bytes) {
            Some((parsed, _)) => parsed,
            None => Reply::error("ERR Protocol error: bad reply from command"),
        };
    }
    match reply {
        Reply::Array(items) | Reply::Push(items) | Reply::Set(items) => {
            for item in items {
                prepare(item, resp3);
            }
        }
        Reply::Map(pairs) | Reply::Pairs(pairs) => {
            for (key, value) in pairs {
                prepare(key, resp3);
                prepare(value, resp3);
            }
        }
        Reply::Double(value) if !resp3 => *reply = Reply::Bulk(format_double(*value).into()),
        Reply::HumanDouble(value) if !resp3 => {
            *reply = Reply::Bulk(peregrine_resp::format_human_double(*value).into())
        }
        // The script reads the printed text back as a number, as Redis's script sees
        // the RESP3 double it printed: `%.17f` drops the digits of a small value.
        Reply::HumanDouble(value) => {
            let printed = peregrine_resp::format_human_double(*value);
            *reply = Reply::Double(printed.parse().unwrap_or(*value));
        }
        _ => {}
    }
}

/// A command's reply as the script sees it, for a reply that came from a future.
pub(crate) fn push_ready_reply(
    calls: &RawCalls,
    mut reply: Reply,
    resp3: bool,
) -> mlua::Result<Value> {
    prepare(&mut reply, resp3);
    let pointer = std::ptr::addr_of!(reply).cast_mut().cast::<c_void>();
    // `push_reply` reads the reply through the pointer during this call only.
    calls
        .push_reply
        .call::<Value>((Value::LightUserData(mlua::LightUserData(pointer)), resp3))
}

/// What `call_raw`'s inner frame leaves its outer frame to do.
enum Outcome {
    /// Return this many values.
    Return(c_int),
    /// Raise the error on top of the stack.
    Raise,
}

/// `call_raw(...)`. Upvalues: `push_reply`, the [`RunState`].
unsafe extern "C-unwind" fn call_raw(lua_state: *mut ffi::lua_State) -> c_int {
    // SAFETY: this frame owns nothing with a destructor; the inner frame has returned
    // (dropping what it owned) before `lua_error` raises.
    match call_outcome(lua_state) {
        Outcome::Return(count) => count,
        Outcome::Raise => unsafe { ffi::lua_error(lua_state) },
    }
}

fn call_outcome(lua_state: *mut ffi::lua_State) -> Outcome {
    // SAFETY: upvalue 2 is the run state's pointer (see `upvalue_state`).
    let state = unsafe { upvalue_state(lua_state, 2) };
    let reply = catch_unwind(AssertUnwindSafe(|| host_reply(lua_state, state)))
        .unwrap_or_else(|_| Some(Reply::error("ERR the command panicked")));
    let Some(mut reply) = reply else {
        // SAFETY: a C function has LUA_MINSTACK free slots; these pushes do not allocate.
        unsafe {
            ffi::lua_pushlightuserdata(lua_state, std::ptr::addr_of!(AWAIT).cast_mut().cast());
            ffi::lua_pushboolean(lua_state, 0);
        }
        return Outcome::Return(2);
    };
    let resp3 = state.resp3();
    let is_error = reply.is_error();
    prepare(&mut reply, resp3);
    // SAFETY: a push within LUA_MINSTACK, only of what allocates nothing; otherwise three
    // pushes within LUA_MINSTACK that allocate nothing, then `lua_pcall`, which catches
    // every error of `push_reply`; the reply outlives the call.
    if unsafe { push_unallocated(lua_state, &reply, resp3) } {
        // SAFETY: one push within LUA_MINSTACK that allocates nothing.
        unsafe { ffi::lua_pushboolean(lua_state, c_int::from(is_error)) };
        return Outcome::Return(2);
    }
    let status = unsafe {
        ffi::lua_pushvalue(lua_state, ffi::lua_upvalueindex(1));
        ffi::lua_pushlightuserdata(lua_state, std::ptr::addr_of!(reply).cast_mut().cast());
        ffi::lua_pushboolean(lua_state, c_int::from(resp3));
        ffi::lua_pcall(lua_state, 2, 1, 0)
    };
    if status != 0 {
        return Outcome::Raise;
    }
    // SAFETY: one push within LUA_MINSTACK that allocates nothing.
    unsafe { ffi::lua_pushboolean(lua_state, c_int::from(is_error)) };
    Outcome::Return(2)
}

/// The host's reply to the command in `call_raw`'s arguments; `None` when it is a future
/// (stored in the run state).
fn host_reply(lua_state: *mut ffi::lua_State, state: &RunState) -> Option<Reply> {
    let argv = match command_arguments(lua_state) {
        Ok(argv) => argv,
        Err(text) => return Some(Reply::error(text)),
    };
    let Some(host) = state.host() else {
        return Some(Reply::error(
            "ERR redis.call/pcall can only be called inside a script invocation",
        ));
    };
    match catch_unwind(AssertUnwindSafe(|| host.call(argv))) {
        Ok(HostCall::Ready(reply)) => Some(reply),
        Ok(HostCall::Pending(future)) => {
            state.set_pending(future);
            None
        }
        Err(_) => Some(Reply::error("ERR the command panicked")),
    }
}

/// `call_raw`'s arguments as a command's argv, as `luaArgsToRedisArgv` (numbers as mlua
/// converts them: an integral, in-range value other than -0 prints as an integer).
fn command_arguments(lua_state: *mut ffi::lua_State) -> Result<Vec<Bytes>, &'static str> {
    // SAFETY: reads of the C function's own arguments; none of these calls raises
    // (`lua_tolstring` only on strings, which it does not convert).
    unsafe {
        let count = ffi::lua_gettop(lua_state);
        if count == 0 {
            return Err("ERR Please specify at least one argument for this redis lib call");
        }
        let mut argv = Vec::with_capacity(usize::try_from(count).unwrap_or_default());
        for index in 1..=count {
            match ffi::lua_type(lua_state, index) {
                ffi::LUA_TSTRING => argv.push(Bytes::copy_from_slice(string_at(lua_state, index))),
                ffi::LUA_TNUMBER => {
                    let number = ffi::lua_tonumber(lua_state, index);
                    let integer = number as i64;
                    let integral = (-TWO_63..TWO_63).contains(&number)
                        && (integer as f64).to_bits() == number.to_bits();
                    argv.push(Bytes::from(if integral {
                        integer.to_string()
                    } else {
                        format_g(number, 17)
                    }));
                }
                _ => return Err("ERR Lua redis lib command arguments must be strings or integers"),
            }
        }
        Ok(argv)
    }
}

/// 2^63, the first double past `i64::MAX`.
const TWO_63: f64 = 9_223_372_036_854_775_808.0;

/// The bytes of the string at `index`.
///
/// # Safety
/// The value at `index` is a string; the slice lives while it stays on the stack.
unsafe fn string_at<'a>(lua_state: *mut ffi::lua_State, index: c_int) -> &'a [u8] {
    let mut length = 0;
    // SAFETY: per the contract, a string, which `lua_tolstring` returns without raising.
    unsafe {
        let pointer = ffi::lua_tolstring(lua_state, index, &mut length);
        std::slice::from_raw_parts(pointer.cast::<u8>(), length)
    }
}

/// `push_reply(reply, resp3)`: pushes the prepared reply behind the pointer. Upvalues:
/// the [`FIELD_NAMES`].
unsafe extern "C-unwind" fn push_reply(lua_state: *mut ffi::lua_State) -> c_int {
    // SAFETY: only `call_raw` and `push_ready_reply` call this function, with a pointer to
    // a prepared reply that outlives the call; its frames own nothing with a destructor.
    unsafe {
        let reply = &*ffi::lua_touserdata(lua_state, 1)
            .cast::<Reply>()
            .cast_const();
        let resp3 = ffi::lua_toboolean(lua_state, 2) != 0;
        push(lua_state, reply, resp3);
    }
    1
}

/// Pushes `reply` when its Lua value takes no allocation (a number, `nil` or `false`), as
/// [`push`] converts it, and says whether it did: such a reply cannot raise, so
/// `redis.call` needs no protected call for it (the common integer replies).
///
/// # Safety
/// One free stack slot.
unsafe fn push_unallocated(lua_state: *mut ffi::lua_State, reply: &Reply, resp3: bool) -> bool {
    // SAFETY: per the contract; none of these pushes allocates.
    unsafe {
        match reply {
            Reply::Integer(value) => ffi::lua_pushnumber(lua_state, *value as f64),
            Reply::Nil | Reply::NilArray if resp3 => ffi::lua_pushnil(lua_state),
            Reply::Nil | Reply::NilArray => ffi::lua_pushboolean(lua_state, 0),
            _ => return false,
        }
    }
    true
}

/// Pushes `reply` as a Lua value (see `reply_to_lua` in Redis's `script_lua.c`).
///
/// # Safety
/// Protected mode, in a frame that owns nothing with a destructor; the upvalues are the
/// [`FIELD_NAMES`]; `reply` is prepared ([`prepare`]).
unsafe fn push(lua_state: *mut ffi::lua_State, reply: &Reply, resp3: bool) {
    // SAFETY: per the contract; every function called may raise, which `lua_pcall` catches.
    unsafe {
        ffi::luaL_checkstack(lua_state, 4, c"reply nested too deeply".as_ptr());
        if push_unallocated(lua_state, reply, resp3) {
            return;
        }
        match reply {
            Reply::Integer(_) | Reply::Nil | Reply::NilArray => {}
            Reply::Ok => push_wrapped_bytes(lua_state, OK, b"OK"),
            Reply::Status(text) => push_wrapped_bytes(lua_state, OK, text.as_bytes()),
            Reply::Error(text) => push_error(lua_state, text.as_bytes()),
            Reply::BinaryError(text) => push_error(lua_state, text),
            Reply::Bulk(bytes) => push_bytes(lua_state, bytes),
            Reply::Array(items) | Reply::Push(items) => push_array(lua_state, items.iter(), resp3),
            Reply::Set(items) if resp3 => {
                ffi::lua_pushvalue(lua_state, ffi::lua_upvalueindex(SET));
                ffi::lua_createtable(lua_state, 0, capacity(items.len()));
                for item in items {
                    push(lua_state, item, resp3);
                    ffi::lua_pushboolean(lua_state, 1);
                    ffi::lua_rawset(lua_state, -3);
                }
                wrap(lua_state);
            }
            Reply::Set(items) => push_array(lua_state, items.iter(), resp3),
            Reply::Map(pairs) | Reply::Records(pairs) if resp3 => {
                ffi::lua_pushvalue(lua_state, ffi::lua_upvalueindex(MAP));
                ffi::lua_createtable(lua_state, 0, capacity(pairs.len()));
                for (key, value) in pairs {
                    push(lua_state, key, resp3);
                    push(lua_state, value, resp3);
                    ffi::lua_rawset(lua_state, -3);
                }
                wrap(lua_state);
            }
            Reply::Map(pairs) => {
                push_array(lua_state, pairs.iter().flat_map(|(k, v)| [k, v]), resp3)
            }
            Reply::Pairs(pairs) | Reply::Records(pairs) if resp3 => {
                ffi::lua_createtable(lua_state, capacity(pairs.len()), 0);
                for (index, (first, second)) in (1..).zip(pairs) {
                    push_array(lua_state, [first, second].into_iter(), resp3);
                    ffi::lua_rawseti_(lua_state, -2, index);
                }
            }
            Reply::Pairs(pairs) => {
                push_array(lua_state, pairs.iter().flat_map(|(k, v)| [k, v]), resp3)
            }
            Reply::Records(pairs) => {
                ffi::lua_createtable(lua_state, capacity(pairs.len()), 0);
                for (index, (first, second)) in (1..).zip(pairs) {
                    push_array(lua_state, [first, second].into_iter(), resp3);
                    ffi::lua_rawseti_(lua_state, -2, index);
                }
            }
            Reply::Double(value) if resp3 => {
                ffi::lua_pushvalue(lua_state, ffi::lua_upvalueindex(DOUBLE));
                ffi::lua_pushnumber(lua_state, *value);
                wrap(lua_state);
            }
            Reply::Bool(value) if resp3 => ffi::lua_pushboolean(lua_state, c_int::from(*value)),
            Reply::Bool(value) => ffi::lua_pushnumber(lua_state, if *value { 1.0 } else { 0.0 }),
            Reply::Verbatim(format, text) if resp3 => {
                ffi::lua_pushvalue(lua_state, ffi::lua_upvalueindex(VERBATIM_STRING));
                ffi::lua_createtable(lua_state, 0, 2);
                ffi::lua_pushvalue(lua_state, ffi::lua_upvalueindex(FORMAT));
                push_bytes(lua_state, format.as_bytes());
                ffi::lua_rawset(lua_state, -3);
                ffi::lua_pushvalue(lua_state, ffi::lua_upvalueindex(STRING));
                push_bytes(lua_state, text);
                ffi::lua_rawset(lua_state, -3);
                wrap(lua_state);
            }
            Reply::Verbatim(_, text) => push_bytes(lua_state, text),
            // `prepare` parsed raw replies and converted RESP2 doubles.
            Reply::Raw(_) | Reply::Double(_) | Reply::HumanDouble(_) => ffi::lua_pushnil(lua_state),
        }
    }
}

fn capacity(length: usize) -> c_int {
    c_int::try_from(length).unwrap_or(c_int::MAX)
}

/// # Safety
/// As [`push`].
unsafe fn push_bytes(lua_state: *mut ffi::lua_State, bytes: &[u8]) {
    // SAFETY: per the contract.
    unsafe { ffi::lua_pushlstring_(lua_state, bytes.as_ptr().cast(), bytes.len()) }
}

/// With the field name then a value on top, replaces them with `{[name] = value}`.
///
/// # Safety
/// As [`push`], with two values on top.
unsafe fn wrap(lua_state: *mut ffi::lua_State) {
    // SAFETY: per the contract.
    unsafe {
        ffi::lua_createtable(lua_state, 0, 1);
        ffi::lua_insert(lua_state, -3);
        ffi::lua_rawset(lua_state, -3);
    }
}

/// Pushes `{[upvalue name] = text}`.
///
/// # Safety
/// As [`push`].
unsafe fn push_wrapped_bytes(lua_state: *mut ffi::lua_State, name: c_int, text: &[u8]) {
    // SAFETY: per the contract.
    unsafe {
        ffi::lua_pushvalue(lua_state, ffi::lua_upvalueindex(name));
        push_bytes(lua_state, text);
        wrap(lua_state);
    }
}

/// Pushes the error table of an error reply's text (`{err = "CODE message"}`).
///
/// # Safety
/// As [`push`].
unsafe fn push_error(lua_state: *mut ffi::lua_State, text: &[u8]) {
    let (code, message) = error_parts(text);
    // SAFETY: per the contract.
    unsafe {
        ffi::lua_pushvalue(lua_state, ffi::lua_upvalueindex(ERR));
        push_bytes(lua_state, code);
        push_bytes(lua_state, b" ");
        push_bytes(lua_state, message);
        ffi::lua_concat(lua_state, 3);
        wrap(lua_state);
    }
}

/// # Safety
/// As [`push`].
unsafe fn push_array<'a>(
    lua_state: *mut ffi::lua_State,
    items: impl Iterator<Item = &'a Reply>,
    resp3: bool,
) {
    // SAFETY: per the contract.
    unsafe {
        ffi::lua_createtable(lua_state, capacity(items.size_hint().0), 0);
        for (index, item) in (1..).zip(items) {
            push(lua_state, item, resp3);
            ffi::lua_rawseti_(lua_state, -2, index);
        }
    }
}

/// `read_result(value)`: stores the script's return value as the run's reply
/// ([`RunState::set_result`]), as a reply to the client (with the script's
/// `redis.setresp`, which decides how booleans convert). Fields are read with `rawget`, as
/// Redis 7 does. Upvalues: the [`FIELD_NAMES`], then the [`RunState`].
unsafe extern "C-unwind" fn read_result(lua_state: *mut ffi::lua_State) -> c_int {
    // SAFETY: `lua_checkstack` (which may raise a memory error) runs before anything with
    // a destructor exists; the walk then calls only functions that do not raise:
    // `lua_pushvalue`, `lua_rawget`, `lua_rawgeti_`, `lua_next` over tables it does not
    // change, `lua_pushnil`, and `lua_tolstring` on strings.
    unsafe {
        let state = upvalue_state(lua_state, FIELD_NAMES.len() as c_int + 1);
        ffi::lua_settop(lua_state, 1);
        if ffi::lua_checkstack(lua_state, READ_STACK) == 0 {
            state.set_result(Reply::error("ERR reached lua stack limit"));
            return 0;
        }
        for index in 1..=FIELD_NAMES.len() as c_int {
            ffi::lua_pushvalue(lua_state, ffi::lua_upvalueindex(index));
        }
        ffi::lua_pushvalue(lua_state, 1);
        let reply = to_reply(lua_state, state.resp3(), 0);
        state.set_result(reply);
    }
    0
}

/// The stack index of a field name during [`read_result`] (after its argument).
const fn name_slot(name: c_int) -> c_int {
    1 + name
}

/// Converts the value on top of the stack, leaving the stack as it was.
///
/// # Safety
/// Inside [`lua_to_reply`]'s walk, with `3 * (MAX_DEPTH + 1 - depth)` free slots.
unsafe fn to_reply(lua_state: *mut ffi::lua_State, resp3: bool, depth: usize) -> Reply {
    if depth > MAX_DEPTH {
        return Reply::error("ERR reached lua stack limit");
    }
    // SAFETY: per the contract.
    unsafe {
        match ffi::lua_type(lua_state, -1) {
            ffi::LUA_TSTRING => Reply::Bulk(Bytes::copy_from_slice(string_at(lua_state, -1))),
            ffi::LUA_TBOOLEAN => {
                let flag = ffi::lua_toboolean(lua_state, -1) != 0;
                match (resp3, flag) {
                    (true, _) => Reply::Bool(flag),
                    (false, true) => Reply::Integer(1),
                    (false, false) => Reply::Nil,
                }
            }
            ffi::LUA_TNUMBER => Reply::Integer(number_to_integer(ffi::lua_tonumber(lua_state, -1))),
            ffi::LUA_TTABLE => table_to_reply(lua_state, resp3, depth),
            _ => Reply::Nil,
        }
    }
}

/// Pushes the table's raw field `name`, returning its type.
///
/// # Safety
/// As [`to_reply`], with the table on top.
unsafe fn field(lua_state: *mut ffi::lua_State, name: c_int) -> c_int {
    // SAFETY: per the contract.
    unsafe { field_of(lua_state, -1, name) }
}

/// Pushes the raw field `name` of the table at the negative index `table`, returning its
/// type.
///
/// # Safety
/// As [`to_reply`].
unsafe fn field_of(lua_state: *mut ffi::lua_State, table: c_int, name: c_int) -> c_int {
    // SAFETY: per the contract.
    unsafe {
        ffi::lua_pushvalue(lua_state, name_slot(name));
        ffi::lua_rawget(lua_state, table - 1)
    }
}

/// `\r` and `\n` become spaces, as Redis does for status and error texts.
fn one_line(text: &[u8]) -> String {
    String::from_utf8_lossy(text).replace(['\r', '\n'], " ")
}

/// # Safety
/// As [`to_reply`], with the table on top.
unsafe fn table_to_reply(lua_state: *mut ffi::lua_State, resp3: bool, depth: usize) -> Reply {
    // SAFETY: per the contract; each branch pops what it pushed.
    unsafe {
        if field(lua_state, ERR) == ffi::LUA_TSTRING {
            let reply = Reply::error(one_line(string_at(lua_state, -1)));
            ffi::lua_pop(lua_state, 1);
            return reply;
        }
        ffi::lua_pop(lua_state, 1);
        if field(lua_state, OK) == ffi::LUA_TSTRING {
            let reply = Reply::Status(one_line(string_at(lua_state, -1)).into());
            ffi::lua_pop(lua_state, 1);
            return reply;
        }
        ffi::lua_pop(lua_state, 1);
        if field(lua_state, DOUBLE) == ffi::LUA_TNUMBER {
            let reply = Reply::Double(ffi::lua_tonumber(lua_state, -1));
            ffi::lua_pop(lua_state, 1);
            return reply;
        }
        ffi::lua_pop(lua_state, 1);
        if field(lua_state, BIG_NUMBER) == ffi::LUA_TSTRING {
            let reply = Reply::Bulk(Bytes::from(one_line(string_at(lua_state, -1))));
            ffi::lua_pop(lua_state, 1);
            return reply;
        }
        ffi::lua_pop(lua_state, 1);
        if field(lua_state, VERBATIM_STRING) == ffi::LUA_TTABLE {
            let format = field_of(lua_state, -1, FORMAT);
            let text = field_of(lua_state, -2, STRING);
            let reply = (format == ffi::LUA_TSTRING && text == ffi::LUA_TSTRING).then(|| {
                let text = Bytes::copy_from_slice(string_at(lua_state, -1));
                match string_at(lua_state, -2) {
                    b"txt" => Reply::Verbatim("txt", text),
                    b"mkd" => Reply::Verbatim("mkd", text),
                    _ => Reply::Bulk(text),
                }
            });
            ffi::lua_pop(lua_state, 3);
            if let Some(reply) = reply {
                return reply;
            }
        } else {
            ffi::lua_pop(lua_state, 1);
        }
        if field(lua_state, MAP) == ffi::LUA_TTABLE {
            let mut pairs = Vec::new();
            ffi::lua_pushnil(lua_state);
            while ffi::lua_next(lua_state, -2) != 0 {
                let value = to_reply(lua_state, resp3, depth + 1);
                ffi::lua_pushvalue(lua_state, -2);
                let key = to_reply(lua_state, resp3, depth + 1);
                ffi::lua_pop(lua_state, 2);
                pairs.push((key, value));
            }
            ffi::lua_pop(lua_state, 1);
            return Reply::Map(pairs);
        }
        ffi::lua_pop(lua_state, 1);
        if field(lua_state, SET) == ffi::LUA_TTABLE {
            let mut items = Vec::new();
            ffi::lua_pushnil(lua_state);
            while ffi::lua_next(lua_state, -2) != 0 {
                ffi::lua_pushvalue(lua_state, -2);
                items.push(to_reply(lua_state, resp3, depth + 1));
                ffi::lua_pop(lua_state, 2);
            }
            ffi::lua_pop(lua_state, 1);
            return Reply::Set(items);
        }
        ffi::lua_pop(lua_state, 1);
        let mut items = Vec::with_capacity(ffi::lua_objlen(lua_state, -1));
        for index in 1..=c_int::MAX {
            ffi::lua_rawgeti_(lua_state, -1, index);
            if ffi::lua_type(lua_state, -1) == ffi::LUA_TNIL {
                ffi::lua_pop(lua_state, 1);
                break;
            }
            items.push(to_reply(lua_state, resp3, depth + 1));
            ffi::lua_pop(lua_state, 1);
        }
        Reply::Array(items)
    }
}
