//! The instruction-count hook, installed through Lua's C API because it must be able to
//! yield, which mlua's hooks cannot do under Lua 5.1.
//!
//! Every [`EngineLimits::hook_instructions`](crate::EngineLimits) instructions the hook
//! asks [`RunState::on_hook`] what to do: go on, fail with an error (`SCRIPT KILL`,
//! `FUNCTION LOAD` timeout), or give the executor a turn. For the last it suspends the
//! coroutine it interrupts with `lua_yield(L, 0)`, which Lua 5.1's VM supports from a count
//! hook (`luaV_execute` saves the pc and returns; a later `lua_resume` goes on with the
//! same instruction). The prelude (`sandbox.lua`) recognizes such a suspension (no values,
//! a Lua frame on top of the coroutine's stack where `coroutine.yield` leaves a C one) and
//! passes it up every coroutine boundary to mlua, whose future wakes itself and returns
//! `Pending` for a yield that is not its "pending" marker.
//!
//! # When yielding is allowed
//!
//! `lua_yield` raises "attempt to yield across metamethod/C-call boundary" when the thread
//! has entered `luaD_call` since it was resumed (`L->nCcalls > L->baseCcalls`): a C function
//! calling back into Lua (`table.sort`'s comparator, `pcall` of a C function, an mlua
//! callback), a metamethod, or a generic `for`'s iterator. [`can_yield`] refuses every such
//! stack through the public debug API: each active level must be a Lua function, and each
//! one but the coroutine's first must have been called by a Lua `OP_CALL`/`OP_TAILCALL`,
//! which is what `lua_getinfo`'s non-empty `namewhat` proves (Lua 5.1's `getfuncname` names
//! a function only when its caller is a Lua function whose current instruction is
//! `OP_CALL`, `OP_TAILCALL` or `OP_TFORLOOP`; the last names the hidden local
//! `(for generator)`, which is refused by name). The test is conservative: a call it cannot
//! name (an anonymous function called from an expression, a frame reached by a tail call)
//! also refuses, and the hook then just goes on; the next tick may be at a safe point. The
//! main thread never yields: it runs only synchronous calls.

use crate::engine::{HookAction, RunState};
use mlua::ffi;
use mlua::{Function, Lua};
use std::ffi::{c_int, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

/// The registry key (its address) under which the hook finds the engine's [`RunState`].
static RUN_STATE_KEY: u8 = 0;

/// Owns the [`RunState`] the registry points at, in the Lua state's app data, so the
/// pointee lives as long as the Lua state. Private, so no other code can remove it.
struct HookOwner {
    _state: Rc<RunState>,
}

/// Installs the count hook on `lua`'s main thread (every thread created afterwards
/// inherits it, as `lua_newthread` copies the creator's hook) and returns `yieldable`, a
/// Lua function telling its caller whether it may yield (the prelude's test before passing
/// a hook suspension up).
pub(crate) fn install(lua: &Lua, state: Rc<RunState>, instructions: u32) -> mlua::Result<Function> {
    let pointer = Rc::as_ptr(&state).cast_mut().cast::<c_void>();
    lua.set_app_data(HookOwner { _state: state });
    let count = c_int::try_from(instructions.max(1)).unwrap_or(c_int::MAX);
    // SAFETY: the closure runs in protected mode on the main thread with the stack space
    // `exec_raw` checked; it pushes two values and pops them with `lua_rawset` (which may
    // raise only a memory error, caught by `exec_raw`). The pointer stays valid as long
    // as the Lua state, because `HookOwner` holds the `Rc` in the state's app data.
    unsafe {
        lua.exec_raw::<()>((), |lua_state| {
            ffi::lua_pushlightuserdata(lua_state, run_state_key());
            ffi::lua_pushlightuserdata(lua_state, pointer);
            ffi::lua_rawset(lua_state, ffi::LUA_REGISTRYINDEX);
            ffi::lua_sethook(lua_state, Some(count_hook), ffi::LUA_MASKCOUNT, count);
        })?;
    }
    // SAFETY: `yieldable` follows the C function protocol: it reads the stack of the
    // thread it is called on, pushes one boolean (a C function has LUA_MINSTACK slots)
    // and returns 1; it raises no error and cannot panic.
    unsafe { lua.create_c_function(yieldable) }
}

fn run_state_key() -> *mut c_void {
    std::ptr::addr_of!(RUN_STATE_KEY)
        .cast_mut()
        .cast::<c_void>()
}

/// The count hook. Its frame holds no value with a destructor where it calls `lua_error`
/// or `lua_yield` (both may `longjmp` over it), and no panic leaves it.
unsafe extern "C-unwind" fn count_hook(
    lua_state: *mut ffi::lua_State,
    _debug: *mut ffi::lua_Debug,
) {
    // SAFETY: Lua calls the hook with the running thread; `run_state` needs that and the
    // stack space Lua reserves for hooks (LUA_MINSTACK).
    let action = match unsafe { run_state(lua_state) } {
        Some(run) => {
            catch_unwind(AssertUnwindSafe(|| run.on_hook())).unwrap_or(HookAction::Continue)
        }
        None => HookAction::Continue,
    };
    match action {
        HookAction::Continue => {}
        HookAction::Yield => {
            // SAFETY: `can_yield` proved that no C call boundary lies between this hook and
            // the thread's resume, so `lua_yield` suspends the coroutine (Lua 5.1 yields
            // from count hooks with no values) instead of raising; it returns normally.
            unsafe {
                if can_yield(lua_state, 0) {
                    ffi::lua_yield(lua_state, 0);
                }
            }
        }
        HookAction::Fail(message) => {
            // SAFETY: `message` is a `&'static str`, and nothing in this frame has a
            // destructor, so the `longjmp` of `lua_error` (or of a memory error in
            // `lua_pushlstring`) skips nothing that must run.
            unsafe {
                ffi::lua_pushlstring(lua_state, message.as_ptr().cast(), message.len());
                ffi::lua_error(lua_state);
            }
        }
    }
}

/// The `yieldable` helper: `true` when the calling Lua code may yield (level 0 is this C
/// function, which `coroutine.yield` replaces at the same depth).
unsafe extern "C-unwind" fn yieldable(lua_state: *mut ffi::lua_State) -> c_int {
    // SAFETY: called by Lua as a C function on the running thread, with LUA_MINSTACK slots.
    unsafe {
        let answer = can_yield(lua_state, 1);
        ffi::lua_pushboolean(lua_state, c_int::from(answer));
    }
    1
}

/// The engine's [`RunState`], or `None` for a state without one.
///
/// # Safety
/// `lua_state` is a running thread of a Lua state with at least two free stack slots.
unsafe fn run_state<'a>(lua_state: *mut ffi::lua_State) -> Option<&'a RunState> {
    // SAFETY: a raw get on the registry with a light userdata key calls no metamethod and
    // allocates nothing; the value, if any, is the pointer `install` stored, whose pointee
    // lives as long as the Lua state (see `HookOwner`), so as long as any of its code runs.
    unsafe {
        ffi::lua_rawgetp(lua_state, ffi::LUA_REGISTRYINDEX, run_state_key());
        let pointer = ffi::lua_touserdata(lua_state, -1).cast::<RunState>();
        ffi::lua_pop(lua_state, 1);
        pointer.cast_const().as_ref()
    }
}

/// Whether `lua_yield` may be called with the levels from `first_level` up on the stack
/// of `lua_state`: not the main thread, and no C call boundary between `first_level` and
/// the coroutine's first function (see the module's documentation).
///
/// # Safety
/// `lua_state` is a running thread with at least one free stack slot.
unsafe fn can_yield(lua_state: *mut ffi::lua_State, first_level: c_int) -> bool {
    // SAFETY: `lua_pushthread` uses the free slot, popped at once; `lua_getstack` and
    // `lua_getinfo` with "Sn" read the call stack without allocating or raising, and the
    // strings they return live in the Lua state (constants or function prototypes) while
    // the frame does.
    unsafe {
        let main = ffi::lua_pushthread(lua_state) != 0;
        ffi::lua_pop(lua_state, 1);
        if main {
            return false;
        }
        let mut level = first_level;
        let mut frame = std::mem::zeroed::<ffi::lua_Debug>();
        if ffi::lua_getstack(lua_state, level, &mut frame) == 0 {
            return false;
        }
        loop {
            if ffi::lua_getinfo(lua_state, c"Sn".as_ptr(), &mut frame) == 0 {
                return false;
            }
            let what = text(frame.what);
            if what != b"Lua" && what != b"main" {
                return false;
            }
            let mut caller = std::mem::zeroed::<ffi::lua_Debug>();
            if ffi::lua_getstack(lua_state, level + 1, &mut caller) == 0 {
                // The coroutine's first function: `lua_resume` called it.
                return true;
            }
            if text(frame.namewhat).is_empty() || text(frame.name) == b"(for generator)" {
                return false;
            }
            frame = caller;
            level += 1;
        }
    }
}

/// The bytes of a C string from `lua_getinfo`, empty for a null pointer.
///
/// # Safety
/// `pointer` is null or a NUL-terminated string that outlives the returned slice's use.
unsafe fn text<'a>(pointer: *const std::ffi::c_char) -> &'a [u8] {
    if pointer.is_null() {
        return b"";
    }
    // SAFETY: the caller's contract.
    unsafe { CStr::from_ptr(pointer).to_bytes() }
}
