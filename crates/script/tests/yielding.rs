//! A busy script gives the executor turns when the host's tick answers `Tick::Yield`: the
//! run future is pending (and has woken itself) once per such tick where the script's stack
//! allows a yield, goes on where it stopped, and never fails where it does not.

mod common;

use bytes::Bytes;
use common::{block_on, Fixture, TestHost};
use peregrine_resp::Reply;
use peregrine_script::EngineLimits;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Waker};

/// Ticks every 10,000 instructions (Redis: 100,000), to keep the loops short.
const LIMITS: EngineLimits = EngineLimits {
    memory_bytes: 256 << 20,
    hook_instructions: 10_000,
    load_timeout: std::time::Duration::from_millis(500),
};

/// The tick from which the host asks for yields.
const YIELD_FROM: u32 = 3;

fn yielding_fixture() -> Fixture {
    Fixture::with(
        LIMITS,
        TestHost {
            yield_after_ticks: Some(YIELD_FROM),
            ..TestHost::default()
        },
    )
}

/// Runs `body` with `block_on` (which fails on a pending future that did not wake itself);
/// returns the reply and how often the run was pending.
fn eval_counting(fixture: &Fixture, body: &str, keys: &[&str], args: &[&str]) -> (Reply, usize) {
    let to_bytes = |items: &[&str]| {
        items
            .iter()
            .map(|item| Bytes::copy_from_slice(item.as_bytes()))
            .collect::<Vec<_>>()
    };
    block_on(fixture.engine.eval(
        fixture.host.clone(),
        Bytes::copy_from_slice(body.as_bytes()),
        &to_bytes(keys),
        &to_bytes(args),
    ))
}

/// Ticks that asked for a yield, when every one of them was at a point that allows it.
fn yield_ticks(fixture: &Fixture) -> usize {
    (fixture.host.ticks.get() + 1).saturating_sub(YIELD_FROM) as usize
}

fn integers(values: &[i64]) -> Reply {
    Reply::Array(values.iter().map(|value| Reply::Integer(*value)).collect())
}

fn error_text(reply: Reply) -> String {
    match reply {
        Reply::Error(text) => text.into_owned(),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn busy_loop_yields_at_every_tick_that_asks() {
    let fixture = yielding_fixture();
    let (reply, pending) = eval_counting(
        &fixture,
        "local i = 0 while i < 5e6 do i = i + 1 end return i",
        &[],
        &[],
    );
    assert_eq!(reply, Reply::Integer(5_000_000));
    assert!(pending >= 1);
    assert_eq!(pending, yield_ticks(&fixture));
}

#[test]
fn script_state_survives_the_yields() {
    let fixture = yielding_fixture();
    let body = "local t, s = {n = 0}, 0 \
        local function step(k) t.n = t.n + 1 s = s + k end \
        for k = 1, 1e6 do step(k) end \
        return {t.n, s, KEYS[1], ARGV[1], math.random(1000)}";
    let (reply, pending) = eval_counting(&fixture, body, &["key"], &["arg"]);
    // The same script without yields gives the reference reply (random is deterministic).
    let reference = Fixture::with(LIMITS, TestHost::default());
    let (expected, unyielded) = eval_counting(&reference, body, &["key"], &["arg"]);
    assert_eq!(unyielded, 0);
    assert_eq!(reply, expected);
    let Reply::Array(items) = reply else {
        panic!("expected an array");
    };
    assert_eq!(
        items[..4],
        [
            Reply::Integer(1_000_000),
            Reply::Integer(500_000_500_000),
            Reply::bulk("key"),
            Reply::bulk("arg"),
        ]
    );
    assert!(pending >= 1);
    assert_eq!(pending, yield_ticks(&fixture));
    // The engine is usable afterwards.
    assert_eq!(fixture.eval("return 7"), Reply::Integer(7));
}

#[test]
fn busy_loop_inside_pcall_yields() {
    let fixture = yielding_fixture();
    let (reply, pending) = eval_counting(
        &fixture,
        "local ok, v = pcall(function() local i = 0 while i < 5e6 do i = i + 1 end return i end) \
         return {ok and 1 or 0, v}",
        &[],
        &[],
    );
    assert_eq!(reply, integers(&[1, 5_000_000]));
    assert!(pending >= 1);
    assert_eq!(pending, yield_ticks(&fixture));
}

#[test]
fn busy_loop_inside_coroutine_wrap_yields_beside_the_scripts_own_yields() {
    let fixture = yielding_fixture();
    let body = "local gen = coroutine.wrap(function() \
            for round = 1, 3 do \
              local i = 0 while i < 1e6 do i = i + 1 end \
              coroutine.yield(round, i) \
            end \
            return 99 \
          end) \
        local out = {} \
        for _ = 1, 4 do local a, b = gen() out[#out + 1] = a if b then out[#out + 1] = b end end \
        return out";
    let (reply, pending) = eval_counting(&fixture, body, &[], &[]);
    assert_eq!(
        reply,
        integers(&[1, 1_000_000, 2, 1_000_000, 3, 1_000_000, 99])
    );
    assert!(pending >= 1);
    assert_eq!(pending, yield_ticks(&fixture));
}

#[test]
fn empty_yields_of_the_script_are_not_taken_for_the_hooks() {
    let fixture = yielding_fixture();
    let body = "local co = coroutine.create(function() \
            for _ = 1, 3 do local i = 0 while i < 1e6 do i = i + 1 end coroutine.yield() end \
            return 99 \
          end) \
        local empty, resumes, last = 0, 0, nil \
        repeat \
          local r = {coroutine.resume(co)} \
          resumes = resumes + 1 \
          if #r == 1 then empty = empty + 1 end \
          last = r[2] \
        until coroutine.status(co) == 'dead' \
        return {resumes, empty, last}";
    let (reply, pending) = eval_counting(&fixture, body, &[], &[]);
    assert_eq!(reply, integers(&[4, 3, 99]));
    assert!(pending >= 1);
    assert_eq!(pending, yield_ticks(&fixture));
}

#[test]
fn nested_coroutines_and_deep_calls_yield() {
    let fixture = yielding_fixture();
    let body = "local function busy(n) \
            if n == 0 then local i = 0 while i < 1e6 do i = i + 1 end return i end \
            return busy(n - 1) + 1 \
          end \
        local outer = coroutine.wrap(function() \
            local inner = coroutine.wrap(function() return busy(150) end) \
            return inner() + 1 \
          end) \
        return outer()";
    let (reply, pending) = eval_counting(&fixture, body, &[], &[]);
    assert_eq!(reply, Reply::Integer(1_000_151));
    assert!(pending >= 1);
    assert_eq!(pending, yield_ticks(&fixture));
}

/// Busy code under a C function or a metamethod cannot yield (Lua 5.1 raises "attempt to
/// yield across metamethod/C-call boundary"): the hook must go on without yielding there.
#[test]
fn busy_code_under_a_c_call_boundary_runs_on_without_yielding() {
    let busy = "local i = 0 while i < 1e5 do i = i + 1 end";
    let cases = [
        (
            format!(
                "local t = {{}} for i = 1, 60 do t[i] = (i * 37) % 61 end \
                 table.sort(t, function(a, b) {busy} return a < b end) \
                 return {{t[1], t[60]}}"
            ),
            integers(&[1, 60]),
        ),
        (
            format!(
                "local t = setmetatable({{}}, {{__index = function(_, k) {busy} return k * 2 end}}) \
                 return t[21] + t[1]"
            ),
            Reply::Integer(44),
        ),
        (
            format!(
                "local n = 0 \
                 for v in function(_, c) if c >= 3 then return nil end {busy} return c + 1 end, nil, 0 do \
                   n = n + v \
                 end \
                 return n"
            ),
            Reply::Integer(6),
        ),
        (
            format!(
                "local ok, s = pcall(string.gsub, 'aaa', 'a', function() {busy} return 'b' end) \
                 return s"
            ),
            Reply::bulk("bbb"),
        ),
        (
            // A coroutine built under the boundary can yield to it, which must not pass
            // the yield on.
            format!(
                "local t = {{3, 1, 2}} \
                 table.sort(t, function(a, b) \
                   return coroutine.wrap(function() {busy} return a < b end)() \
                 end) \
                 return t"
            ),
            integers(&[1, 2, 3]),
        ),
        (
            // Not a boundary, but a call the hook cannot name (the function is the value
            // of an expression): it does not yield there either.
            format!("return coroutine.wrap(function() {busy} return i end)()"),
            Reply::Integer(100_000),
        ),
    ];
    for (body, expected) in cases {
        let fixture = yielding_fixture();
        let (reply, pending) = eval_counting(&fixture, &body, &[], &[]);
        assert_eq!(reply, expected, "{body}");
        assert!(
            fixture.host.ticks.get() > YIELD_FROM + 5,
            "{body}: only {} ticks",
            fixture.host.ticks.get()
        );
        if !body.contains("coroutine.wrap") {
            assert_eq!(pending, 0, "{body}");
        }
    }
}

#[test]
fn yields_resume_after_an_unsafe_stretch() {
    let fixture = yielding_fixture();
    let body = "local t = setmetatable({}, {__index = function(_, k) \
            local i = 0 while i < 1e6 do i = i + 1 end return k end}) \
        local v = t[5] \
        local i = 0 while i < 1e6 do i = i + 1 end \
        return v + i";
    let (reply, pending) = eval_counting(&fixture, body, &[], &[]);
    assert_eq!(reply, Reply::Integer(1_000_005));
    assert!(pending >= 1);
    assert!(pending < yield_ticks(&fixture));
}

#[test]
fn killed_busy_loop_ends_with_the_script_kill_error() {
    for body in [
        "while true do end",
        "local ok = pcall(function() while true do end end) return ok",
        "local f = coroutine.wrap(function() while true do end end) f()",
    ] {
        let host = TestHost {
            yield_after_ticks: Some(2),
            kill_after_ticks: Some(12),
            ..TestHost::default()
        };
        let fixture = Fixture::with(LIMITS, host);
        let (reply, pending) = eval_counting(&fixture, body, &[], &[]);
        let text = error_text(reply);
        assert!(
            text.starts_with("ERR Script killed by user with SCRIPT KILL..."),
            "{body}: {text}"
        );
        assert_eq!(pending, 10, "{body}");
        // The next script runs normally.
        assert_eq!(fixture.eval("return 1"), Reply::Integer(1));
    }
}

#[test]
fn pending_host_calls_and_yields_mix() {
    let fixture = Fixture::with(
        LIMITS,
        TestHost {
            yield_after_ticks: Some(1),
            pending: true,
            ..TestHost::default()
        },
    );
    let body = "for _ = 1, 3 do \
          redis.call('incr', 'n') \
          local ok, v = pcall(redis.call, 'get', 'n') \
          local i = 0 while i < 1e6 do i = i + 1 end \
        end \
        return redis.call('get', 'n')";
    let (reply, pending) = eval_counting(&fixture, body, &[], &[]);
    assert_eq!(reply, Reply::bulk("3"));
    // Seven host calls pending once each, and the ticks' yields.
    assert!(pending > 7, "pending {pending}");
}

#[test]
fn busy_function_yields() {
    let fixture = yielding_fixture();
    fixture
        .engine
        .load_library(
            "#!lua name=busy\n\
             redis.register_function('spin', function(keys, args) \
               local i = 0 while i < tonumber(args[1]) do i = i + 1 end return i \
             end)"
                .into(),
            false,
        )
        .unwrap();
    let (reply, pending) = block_on(fixture.engine.call_function(
        fixture.host.clone(),
        b"spin",
        &[],
        &[Bytes::from_static(b"2000000")],
    ));
    assert_eq!(reply, Reply::Integer(2_000_000));
    assert!(pending >= 1);
    assert_eq!(pending, yield_ticks(&fixture));
}

#[test]
fn run_dropped_while_suspended_leaves_the_engine_usable() {
    let fixture = yielding_fixture();
    {
        let mut run =
            pin!(fixture
                .engine
                .eval(fixture.host.clone(), "while true do end".into(), &[], &[],));
        let mut context = Context::from_waker(Waker::noop());
        for _ in 0..5 {
            assert!(run.as_mut().poll(&mut context).is_pending());
        }
    }
    let fresh = Fixture::with(LIMITS, TestHost::default());
    let (reply, pending) = block_on(fixture.engine.eval(
        fresh.host.clone(),
        "local i = 0 while i < 1e5 do i = i + 1 end return i".into(),
        &[],
        &[],
    ));
    assert_eq!(reply, Reply::Integer(100_000));
    assert_eq!(pending, 0);
}
