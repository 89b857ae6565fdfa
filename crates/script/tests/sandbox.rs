//! One test per sandbox case: a script cannot persist state, reach the host, load
//! bytecode, exhaust memory or the stack, or survive SCRIPT KILL; host panics are caught.

mod common;

use common::{block_on, Fixture, TestHost};
use peregrine_resp::Reply;
use peregrine_script::EngineLimits;

fn error_text(reply: Reply) -> String {
    match reply {
        Reply::Error(text) => text.into_owned(),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn new_global_is_refused() {
    let fixture = Fixture::new();
    assert!(error_text(fixture.eval("x = 1")).contains("Attempt to modify a readonly table"));
}

#[test]
fn nonexistent_global_read_is_refused() {
    let fixture = Fixture::new();
    assert!(error_text(fixture.eval("return x"))
        .contains("Script attempted to access nonexistent global variable 'x'"));
}

#[test]
fn rawset_on_globals_is_refused() {
    let fixture = Fixture::new();
    assert!(error_text(fixture.eval("rawset(_G, 'x', 1)"))
        .starts_with("ERR Attempt to modify a readonly table"));
}

#[test]
fn setmetatable_on_globals_is_refused() {
    let fixture = Fixture::new();
    assert!(error_text(fixture.eval("setmetatable(_G, nil)"))
        .starts_with("ERR Attempt to modify a readonly table"));
    // The metatable handed out is not the real one: changing it changes nothing.
    assert!(matches!(
        fixture.eval("local mt = getmetatable(_G) mt.__newindex = nil return 1"),
        Reply::Error(_)
    ));
    assert!(matches!(fixture.eval("x = 1"), Reply::Error(_)));
}

#[test]
fn library_tables_are_read_only() {
    let fixture = Fixture::new();
    for script in [
        "string.len = nil",
        "string.evil = 1",
        "redis.call = nil",
        "math.random = nil",
        "cjson.encode = nil",
        "table.insert = nil",
    ] {
        assert!(
            error_text(fixture.eval(script)).contains("Attempt to modify a readonly table"),
            "{script}"
        );
    }
    assert!(matches!(
        fixture.eval("rawset(string, 'len', nil)"),
        Reply::Error(_)
    ));
    assert_eq!(fixture.eval("return string.len('abc')"), Reply::Integer(3));
}

#[test]
fn string_metatable_cannot_be_changed() {
    let fixture = Fixture::new();
    assert!(matches!(
        fixture.eval("getmetatable('').__index = {}"),
        Reply::Error(_)
    ));
    assert!(matches!(
        fixture.eval("getmetatable('').__index.upper = nil"),
        Reply::Error(_)
    ));
    assert_eq!(fixture.eval("return ('abc'):upper()"), Reply::bulk("ABC"));
}

#[test]
fn loadstring_chunks_see_protected_globals() {
    let fixture = Fixture::new();
    assert!(matches!(
        fixture.eval("loadstring('y = 1')()"),
        Reply::Error(_)
    ));
    assert!(matches!(fixture.eval("return y"), Reply::Error(_)));
    assert!(matches!(
        fixture.eval("coroutine.wrap(function() z = 1 end)()"),
        Reply::Error(_)
    ));
}

#[test]
fn no_state_persists_across_runs() {
    let fixture = Fixture::new();
    fixture.eval("KEYS[1] = 'changed'");
    assert_eq!(
        fixture.eval_args("return KEYS[1]", &["k"], &[]),
        Reply::bulk("k")
    );
    assert_eq!(fixture.eval("return #KEYS"), Reply::Integer(0));
}

#[test]
fn bytecode_is_refused() {
    let fixture = Fixture::new();
    assert_eq!(
        fixture.eval("return loadstring(string.dump(function() return 1 end))"),
        Reply::Nil
    );
    assert_eq!(
        fixture.eval("local s = string.dump(function() return 1 end) return load(function() local r = s s = nil return r end)"),
        Reply::Nil
    );
    assert!(error_text(fixture.eval("\x1bLua")).starts_with("ERR Error compiling script"));
}

#[test]
fn dangerous_globals_are_absent() {
    let fixture = Fixture::new();
    for name in [
        "os", "io", "debug", "require", "package", "dofile", "loadfile", "print", "getfenv",
        "setfenv", "newproxy", "module",
    ] {
        assert!(
            error_text(fixture.eval(&format!("return {name}"))).contains("nonexistent global"),
            "{name}"
        );
    }
}

#[test]
fn huge_string_rep_hits_the_memory_limit() {
    let limits = EngineLimits {
        memory_bytes: 32 << 20,
        ..EngineLimits::default()
    };
    let fixture = Fixture::with(limits, TestHost::default());
    assert!(
        error_text(fixture.eval("return string.rep('x', 1024 * 1024 * 1024)"))
            .contains("not enough memory")
    );
    // The engine is usable afterwards.
    assert_eq!(fixture.eval("return 1"), Reply::Integer(1));
}

#[test]
fn growing_table_hits_the_memory_limit() {
    let limits = EngineLimits {
        memory_bytes: 16 << 20,
        ..EngineLimits::default()
    };
    let fixture = Fixture::with(limits, TestHost::default());
    assert!(
        error_text(fixture.eval("local t = {} for i = 1, 1e9 do t[i] = i end"))
            .contains("not enough memory")
    );
    assert_eq!(fixture.eval("return 2"), Reply::Integer(2));
}

#[test]
fn deep_recursion_is_an_error() {
    let fixture = Fixture::new();
    assert!(
        error_text(fixture.eval("local function r(n) return r(n+1)+1 end return r(1)"))
            .contains("stack overflow")
    );
}

#[test]
fn self_referencing_reply_is_an_error() {
    let fixture = Fixture::new();
    assert!(matches!(
        fixture.eval("local t = {} t[1] = t return t"),
        Reply::Error(_) | Reply::Array(_)
    ));
}

#[test]
fn script_kill_stops_a_busy_loop() {
    let host = TestHost {
        kill_after_ticks: Some(3),
        ..TestHost::default()
    };
    let fixture = Fixture::with(EngineLimits::default(), host);
    let text = error_text(fixture.eval("while true do end"));
    assert!(
        text.starts_with("ERR Script killed by user with SCRIPT KILL..."),
        "{text}"
    );
    assert!(fixture.host.ticks.get() >= 3);
}

#[test]
fn script_kill_cannot_be_caught_by_pcall() {
    let host = TestHost {
        kill_after_ticks: Some(2),
        ..TestHost::default()
    };
    let fixture = Fixture::with(EngineLimits::default(), host);
    let text =
        error_text(fixture.eval("while true do pcall(function() while true do end end) end"));
    assert!(
        text.starts_with("ERR Script killed by user with SCRIPT KILL..."),
        "{text}"
    );
}

#[test]
fn host_panic_does_not_unwind_through_lua() {
    let host = TestHost {
        panic_on_call: true,
        ..TestHost::default()
    };
    let fixture = Fixture::with(EngineLimits::default(), host);
    assert!(matches!(
        fixture.eval("return redis.pcall('ping')"),
        Reply::Error(_)
    ));
    assert_eq!(fixture.eval("return 3"), Reply::Integer(3));
}

#[test]
fn pending_host_calls_yield_to_the_executor() {
    let host = TestHost {
        pending: true,
        ..TestHost::default()
    };
    let fixture = Fixture::with(EngineLimits::default(), host);
    let body = "redis.call('set','k','v') \
        local ok, v = pcall(redis.call, 'get', 'k') \
        local w = coroutine.wrap(function() return redis.call('get', 'k') end)() \
        return {v, w, redis.call('incr', 'n')}";
    let (reply, pending) = block_on(fixture.engine.eval(
        fixture.host.clone(),
        body.into(),
        &[],
        &[],
    ));
    assert_eq!(
        reply,
        Reply::Array(vec![Reply::bulk("v"), Reply::bulk("v"), Reply::Integer(1)])
    );
    assert!(pending >= 4, "pending {pending}");
}

#[test]
fn ready_host_calls_do_not_yield() {
    let fixture = Fixture::new();
    let (reply, pending) = block_on(fixture.engine.eval(
        fixture.host.clone(),
        "return redis.call('ping')".into(),
        &[],
        &[],
    ));
    assert_eq!(reply, Reply::Status("PONG".into()));
    assert_eq!(pending, 0);
}
