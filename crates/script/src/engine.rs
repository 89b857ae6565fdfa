//! [`ScriptEngine`]: one Lua state per core, running scripts and functions from the shared
//! [`ScriptRegistry`].

use crate::bytecode;
use crate::convert::format_g;
use crate::errors::{ScriptError, SCRIPT_KILLED};
use crate::functions::{self, CompiledLibrary};
use crate::hook;
use crate::raw::{self, RawCalls};
use crate::registry::{Library, Script, ScriptRegistry};
use crate::sandbox::{self, Sandbox};
use crate::shebang;
use crate::{LogLevel, ScriptHost, Tick};
use bytes::Bytes;
use mlua::{Function, Lua, MultiValue, Value};
use peregrine_resp::Reply;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// Limits of one engine's Lua state.
#[derive(Clone, Copy, Debug)]
pub struct EngineLimits {
    /// Most bytes the Lua heap may hold; an allocation past it fails with Lua's
    /// "not enough memory" error, which ends the script.
    pub memory_bytes: usize,
    /// Lua instructions between two calls of [`ScriptHost::tick`] (Redis: 100,000).
    pub hook_instructions: u32,
    /// Longest time a library's body may run during `FUNCTION LOAD` (Redis: 500 ms).
    pub load_timeout: Duration,
}

impl Default for EngineLimits {
    fn default() -> EngineLimits {
        EngineLimits {
            memory_bytes: 256 << 20,
            hook_instructions: 100_000,
            load_timeout: Duration::from_millis(500),
        }
    }
}

/// The state of the script running now, shared with the Lua callbacks.
pub(crate) struct RunState {
    host: RefCell<Option<Rc<dyn ScriptHost>>>,
    started: Cell<Instant>,
    killed: Cell<bool>,
    resp3: Cell<bool>,
    /// redisLrand48's 48-bit state. Redis 7 does not reseed it per script (scripts
    /// replicate their effects), so the sequence goes on across runs.
    random: Cell<u64>,
    loading_since: Cell<Option<Instant>>,
    load_timeout: Duration,
    /// The host's future for the `redis.call` being run, between `call_raw` answering
    /// [`AWAIT`] and `await_raw` taking it.
    pending: RefCell<Option<Pin<Box<dyn Future<Output = Reply>>>>>,
    /// The run's keys and arguments, owned by the running `execute`'s frame.
    arguments: Cell<(*const [Bytes], *const [Bytes])>,
    /// The script's return value as a reply, stored by the prelude's `read_result`.
    result: RefCell<Option<Reply>>,
    /// Whether the run called `coroutine.running` (its coroutine is then not reused).
    thread_seen: Cell<bool>,
}

/// No keys or arguments (outside a run).
const NO_ARGUMENTS: (*const [Bytes], *const [Bytes]) = (&[], &[]);

/// redisLrand48's initial state (and `srand48` seeds' low 16 bits).
const RANDOM_INITIAL: u64 = 0x1234_ABCD_330E;

impl RunState {
    /// Starts a run; `keys` and `args` must outlive it (until [`RunState::end`]).
    fn begin(&self, host: Rc<dyn ScriptHost>, keys: &[Bytes], args: &[Bytes]) {
        *self.host.borrow_mut() = Some(host);
        self.started.set(Instant::now());
        self.killed.set(false);
        self.resp3.set(false);
        self.thread_seen.set(false);
        self.arguments.set((keys, args));
        self.result.borrow_mut().take();
    }

    fn end(&self) {
        self.host.borrow_mut().take();
        self.pending.borrow_mut().take();
        self.arguments.set(NO_ARGUMENTS);
    }

    /// The running script's keys and arguments (empty outside a run).
    ///
    /// # Safety
    /// The slices are used only during the run's Lua call, while `execute` owns them.
    pub(crate) unsafe fn arguments<'a>(&self) -> (&'a [Bytes], &'a [Bytes]) {
        let (keys, args) = self.arguments.get();
        // SAFETY: `begin` stored slices that live until `end` (or the run's drop guard)
        // replaces them with empty ones; the caller uses them within the run.
        unsafe { (&*keys, &*args) }
    }

    pub(crate) fn set_result(&self, reply: Reply) {
        *self.result.borrow_mut() = Some(reply);
    }

    pub(crate) fn note_thread_seen(&self) {
        self.thread_seen.set(true);
    }

    pub(crate) fn thread_seen(&self) -> bool {
        self.thread_seen.get()
    }

    pub(crate) fn host(&self) -> Option<Rc<dyn ScriptHost>> {
        self.host.borrow().clone()
    }

    pub(crate) fn resp3(&self) -> bool {
        self.resp3.get()
    }

    /// Stores the host's future for the `redis.call` being run, for `await_raw`.
    pub(crate) fn set_pending(&self, future: Pin<Box<dyn Future<Output = Reply>>>) {
        *self.pending.borrow_mut() = Some(future);
    }

    pub(crate) fn killed(&self) -> bool {
        self.killed.get()
    }

    pub(crate) fn set_resp3(&self, resp3: bool) {
        self.resp3.set(resp3);
    }

    /// `redisLrand48() % INT32_MAX / INT32_MAX`.
    pub(crate) fn next_random(&self) -> f64 {
        let next = self
            .random
            .get()
            .wrapping_mul(0x5_DEEC_E66D)
            .wrapping_add(0xB)
            & ((1 << 48) - 1);
        self.random.set(next);
        let value = (next >> 17) as i64;
        let max = i64::from(i32::MAX);
        (value % max) as f64 / max as f64
    }

    /// `redisSrand48(seed)`.
    pub(crate) fn seed_random(&self, seed: i32) {
        self.random.set((u64::from(seed as u32) << 16) | 0x330E);
    }

    pub(crate) fn log(&self, level: u8, message: &[u8]) {
        let level = match level {
            0 => LogLevel::Debug,
            1 => LogLevel::Verbose,
            2 => LogLevel::Notice,
            _ => LogLevel::Warning,
        };
        if let Some(host) = self.host() {
            let _ = catch_unwind(AssertUnwindSafe(|| host.log(level, message)));
        }
    }

    /// The instruction hook's decision: asks the host whether to go on.
    pub(crate) fn on_hook(&self) -> HookAction {
        if let Some(since) = self.loading_since.get() {
            if since.elapsed() > self.load_timeout {
                return HookAction::Fail(LOAD_TIMEOUT);
            }
            return HookAction::Continue;
        }
        if self.killed.get() {
            return HookAction::Fail(SCRIPT_KILLED);
        }
        let Some(host) = self.host() else {
            return HookAction::Continue;
        };
        let elapsed = self.started.get().elapsed();
        match catch_unwind(AssertUnwindSafe(|| host.tick(elapsed))).unwrap_or(Tick::Continue) {
            Tick::Continue => HookAction::Continue,
            Tick::Yield => HookAction::Yield,
            Tick::Kill => {
                self.killed.set(true);
                HookAction::Fail(SCRIPT_KILLED)
            }
        }
    }
}

/// What the instruction hook does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HookAction {
    /// Go on.
    Continue,
    /// Suspend the script so the executor runs other tasks, where the stack allows it.
    Yield,
    /// Raise this error (the script, or the library body being loaded, ends).
    Fail(&'static str),
}

/// The error a library body running past [`EngineLimits::load_timeout`] ends with.
const LOAD_TIMEOUT: &str = "FUNCTION LOAD timeout";

/// Lets one script run at a time on an engine; later runs wait their turn in order.
#[derive(Default)]
struct RunGate {
    busy: Cell<bool>,
    waiters: RefCell<VecDeque<Waker>>,
}

struct RunTurn<'a>(&'a RunGate);

impl Drop for RunTurn<'_> {
    fn drop(&mut self) {
        self.0.busy.set(false);
        if let Some(waker) = self.0.waiters.borrow_mut().pop_front() {
            waker.wake();
        }
    }
}

impl RunGate {
    async fn enter(&self) -> RunTurn<'_> {
        std::future::poll_fn(|cx| {
            if self.busy.get() {
                self.waiters.borrow_mut().push_back(cx.waker().clone());
                Poll::Pending
            } else {
                self.busy.set(true);
                Poll::Ready(())
            }
        })
        .await;
        RunTurn(self)
    }
}

/// A future that turns a panic of the host's future into an error reply.
struct Guarded(Pin<Box<dyn Future<Output = Reply>>>);

impl Future for Guarded {
    type Output = Reply;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Reply> {
        match catch_unwind(AssertUnwindSafe(|| self.0.as_mut().poll(cx))) {
            Ok(poll) => poll,
            Err(_) => Poll::Ready(Reply::error("ERR the command panicked")),
        }
    }
}

/// A script compiled on this core, with the registry's record of it.
struct CompiledScript {
    script: Arc<Script>,
    function: Function,
}

/// Compiled copies of the registry's scripts and libraries, valid for one generation.
#[derive(Default)]
struct Compiled {
    script_generation: u64,
    /// By lowercase SHA-1: `EVALSHA` finds its script here without the shared registry's
    /// lock.
    scripts: HashMap<String, CompiledScript, ahash::RandomState>,
    library_generation: u64,
    libraries: HashMap<String, CompiledLibrary>,
}

/// One core's Lua engine (`!Send`): Redis's sandboxed Lua 5.1 running scripts and
/// functions of a shared [`ScriptRegistry`].
pub struct ScriptEngine {
    lua: Lua,
    registry: Arc<ScriptRegistry>,
    state: Rc<RunState>,
    sandbox: Sandbox,
    compiled: RefCell<Compiled>,
    gate: RunGate,
    runs: Cell<u32>,
    limits: EngineLimits,
}

/// Characters of a hex SHA-1: `EVALSHA` finds no script under any other length.
const SHA_HEX_LEN: usize = 40;

/// Runs between two incremental garbage-collection steps (Redis: 50).
const GC_PERIOD: u32 = 50;

impl ScriptEngine {
    /// A new engine over `registry`.
    pub fn new(
        registry: Arc<ScriptRegistry>,
        limits: EngineLimits,
    ) -> Result<ScriptEngine, ScriptError> {
        Self::build(registry, limits).map_err(|error| {
            ScriptError::invalid(format!("ERR Lua initialization failed: {error}"))
        })
    }

    fn build(registry: Arc<ScriptRegistry>, limits: EngineLimits) -> mlua::Result<ScriptEngine> {
        let state = Rc::new(RunState {
            host: RefCell::new(None),
            started: Cell::new(Instant::now()),
            killed: Cell::new(false),
            resp3: Cell::new(false),
            random: Cell::new(RANDOM_INITIAL),
            loading_since: Cell::new(None),
            load_timeout: limits.load_timeout,
            pending: RefCell::new(None),
            arguments: Cell::new(NO_ARGUMENTS),
            result: RefCell::new(None),
            thread_seen: Cell::new(false),
        });
        let lua = sandbox::new_lua()?;
        let yieldable = hook::install(&lua, state.clone(), limits.hook_instructions)?;
        let raw = Rc::new(RawCalls::new(&lua, state.clone())?);
        let calls = create_calls(&lua, state.clone(), raw.clone())?;
        let sandbox = sandbox::install(&lua, state.clone(), calls, &raw, yieldable)?;
        lua.set_memory_limit(limits.memory_bytes)?;
        Ok(ScriptEngine {
            lua,
            registry,
            state,
            sandbox,
            compiled: RefCell::new(Compiled::default()),
            gate: RunGate::default(),
            runs: Cell::new(0),
            limits,
        })
    }

    /// The registry this engine runs from.
    pub fn registry(&self) -> &Arc<ScriptRegistry> {
        &self.registry
    }

    /// Bytes the Lua heap uses now (`INFO memory`'s `used_memory_lua`).
    pub fn used_memory(&self) -> usize {
        self.lua.used_memory()
    }

    fn refresh(&self) {
        let mut compiled = self.compiled.borrow_mut();
        let script_generation = self.registry.script_generation();
        if compiled.script_generation != script_generation {
            compiled.scripts.clear();
            compiled.script_generation = script_generation;
        }
        let library_generation = self.registry.library_generation();
        if compiled.library_generation != library_generation {
            let current = self.registry.libraries();
            compiled.libraries.retain(|name, library| {
                current
                    .iter()
                    .any(|known| &known.name == name && Arc::ptr_eq(known, &library.library))
            });
            compiled.library_generation = library_generation;
        }
    }

    /// `SCRIPT LOAD` and the first half of `EVAL`: parses the shebang, compiles the body
    /// and registers it, so every core's `EVALSHA` finds it.
    pub fn load_script(&self, body: Bytes) -> Result<Arc<Script>, ScriptError> {
        let sha = sha1_smol::Sha1::from(&body).digest().to_string();
        self.refresh();
        if let Some(compiled) = self.compiled.borrow().scripts.get(&sha) {
            return Ok(compiled.script.clone());
        }
        let (flags, shebang_len) = shebang::script_flags(&body)?;
        let script = Script {
            sha,
            body,
            flags,
            shebang_len,
        };
        let function = self.compile_script(&script)?;
        let script = self.registry.insert_script(script);
        self.remember(&script, function);
        Ok(script)
    }

    /// Keeps `function`, compiled from `script`, for this generation's runs.
    fn remember(&self, script: &Arc<Script>, function: Function) {
        self.compiled.borrow_mut().scripts.insert(
            script.sha.clone(),
            CompiledScript {
                script: script.clone(),
                function,
            },
        );
    }

    /// `EVALSHA`'s lookup: the script whose SHA-1 is `sha` (either case), from this
    /// core's compiled copies or else the shared registry.
    pub fn find_script(&self, sha: &[u8]) -> Option<Arc<Script>> {
        let mut lowercase = [0u8; SHA_HEX_LEN];
        if sha.len() != SHA_HEX_LEN {
            return None;
        }
        for (to, from) in lowercase.iter_mut().zip(sha) {
            *to = from.to_ascii_lowercase();
        }
        let lowercase = std::str::from_utf8(&lowercase).ok()?;
        self.refresh();
        if let Some(compiled) = self.compiled.borrow().scripts.get(lowercase) {
            return Some(compiled.script.clone());
        }
        self.registry.script(lowercase.as_bytes())
    }

    fn compile_script(&self, script: &Script) -> Result<Function, ScriptError> {
        let source = script.body.get(script.shebang_len..).unwrap_or_default();
        self.compile(source, "@user_script")
            .map_err(|error| ScriptError::Compile(lua_error_text(&error)))
    }

    /// Compiles user code (text only) with its tail calls rewritten as calls
    /// ([`bytecode`]), so errors keep the line of the caller as in Redis.
    fn compile(&self, source: &[u8], name: &str) -> mlua::Result<Function> {
        let function = self
            .lua
            .load(source)
            .set_name(name)
            .set_mode(mlua::chunk::ChunkMode::Text)
            .into_function()?;
        Ok(bytecode::keep_frames(&self.lua, function))
    }

    fn script_function(&self, script: &Arc<Script>) -> Result<Function, ScriptError> {
        self.refresh();
        if let Some(compiled) = self.compiled.borrow().scripts.get(&script.sha) {
            return Ok(compiled.function.clone());
        }
        let function = self.compile_script(script)?;
        self.remember(script, function.clone());
        Ok(function)
    }

    /// Runs a script (`EVAL`, `EVALSHA`) with its `KEYS` and `ARGV`; the reply is the
    /// client's, errors included.
    pub async fn run_script(
        &self,
        host: Rc<dyn ScriptHost>,
        script: &Arc<Script>,
        keys: &[Bytes],
        args: &[Bytes],
    ) -> Reply {
        let function = match self.script_function(script) {
            Ok(function) => function,
            Err(error) => return error.into(),
        };
        self.execute(host, function, &script.sha, keys, args, true)
            .await
    }

    /// `EVAL`: [`ScriptEngine::load_script`] then [`ScriptEngine::run_script`].
    pub async fn eval(
        &self,
        host: Rc<dyn ScriptHost>,
        body: Bytes,
        keys: &[Bytes],
        args: &[Bytes],
    ) -> Reply {
        match self.load_script(body) {
            Ok(script) => self.run_script(host, &script, keys, args).await,
            Err(error) => error.into(),
        }
    }

    /// `EVALSHA`.
    pub async fn evalsha(
        &self,
        host: Rc<dyn ScriptHost>,
        sha: &[u8],
        keys: &[Bytes],
        args: &[Bytes],
    ) -> Reply {
        match self.find_script(sha) {
            Some(script) => self.run_script(host, &script, keys, args).await,
            None => ScriptError::NoScript.into(),
        }
    }

    /// `FCALL` / `FCALL_RO` (the server checks the function's flags first, from
    /// [`ScriptRegistry::function`]).
    pub async fn call_function(
        &self,
        host: Rc<dyn ScriptHost>,
        name: &[u8],
        keys: &[Bytes],
        args: &[Bytes],
    ) -> Reply {
        let Some((library, info)) = self.registry.function(name) else {
            return ScriptError::FunctionNotFound.into();
        };
        let callback = match self.library_callback(&library, &info.name) {
            Ok(callback) => callback,
            Err(error) => return error.into(),
        };
        self.execute(host, callback, &info.name, keys, args, false)
            .await
    }

    fn library_callback(
        &self,
        library: &Arc<Library>,
        name: &str,
    ) -> Result<Function, ScriptError> {
        self.refresh();
        let cached = self
            .compiled
            .borrow()
            .libraries
            .get(&library.name)
            .filter(|compiled| Arc::ptr_eq(&compiled.library, library))
            .and_then(|compiled| compiled.callbacks.get(name).cloned());
        if let Some(callback) = cached {
            return Ok(callback);
        }
        let (_, callbacks) = self.compile_library(&library.code)?;
        let callback = callbacks
            .get(name)
            .cloned()
            .ok_or(ScriptError::FunctionNotFound)?;
        self.compiled.borrow_mut().libraries.insert(
            library.name.clone(),
            CompiledLibrary {
                library: library.clone(),
                callbacks,
            },
        );
        Ok(callback)
    }

    /// Compiles a library and runs its body with the load-time API.
    pub(crate) fn compile_library(
        &self,
        code: &[u8],
    ) -> Result<(Library, HashMap<String, Function>), ScriptError> {
        let metadata = shebang::library_metadata(code)?;
        let mut source = code.to_vec();
        for byte in source.iter_mut().take(metadata.shebang_len) {
            *byte = b' ';
        }
        let chunk = self.compile(&source, "@user_function").map_err(|error| {
            ScriptError::invalid(format!(
                "ERR Error compiling function: {}",
                lua_error_text(&error)
            ))
        })?;
        self.state.loading_since.set(Some(Instant::now()));
        let loaded = self.sandbox.load_library.call::<(bool, Value)>(chunk);
        self.state.loading_since.set(None);
        let (ok, value) = loaded.map_err(|error| {
            ScriptError::invalid(format!(
                "ERR Error registering functions: {}",
                lua_error_text(&error)
            ))
        })?;
        if !ok {
            return Err(ScriptError::invalid(format!(
                "ERR Error registering functions: {}",
                error_message(&value)
            )));
        }
        let Value::Table(registered) = value else {
            return Err(ScriptError::invalid("ERR No functions registered"));
        };
        functions::collect(metadata.name, Bytes::copy_from_slice(code), &registered)
    }

    /// `FUNCTION LOAD [REPLACE]`: returns the library's name.
    pub fn load_library(&self, code: Bytes, replace: bool) -> Result<String, ScriptError> {
        let metadata = shebang::library_metadata(&code)?;
        if !replace && self.registry.library(&metadata.name).is_some() {
            return Err(ScriptError::invalid(format!(
                "ERR Library '{}' already exists",
                metadata.name
            )));
        }
        let (library, _) = self.compile_library(&code)?;
        let name = library.name.clone();
        self.registry
            .install_libraries(vec![library], replace, false)?;
        Ok(name)
    }

    /// `FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE]`.
    pub fn restore_libraries(
        &self,
        payload: &[u8],
        policy: functions::RestorePolicy,
    ) -> Result<(), ScriptError> {
        let codes = functions::decode_dump(payload)?;
        let mut libraries = Vec::with_capacity(codes.len());
        for code in codes {
            libraries.push(self.compile_library(&code)?.0);
        }
        let (replace, flush) = match policy {
            functions::RestorePolicy::Append => (false, false),
            functions::RestorePolicy::Replace => (true, false),
            functions::RestorePolicy::Flush => (true, true),
        };
        self.registry.install_libraries(libraries, replace, flush)
    }

    async fn execute(
        &self,
        host: Rc<dyn ScriptHost>,
        function: Function,
        name: &str,
        keys: &[Bytes],
        args: &[Bytes],
        eval: bool,
    ) -> Reply {
        let _turn = self.gate.enter().await;
        let run = RunScope::begin(&self.state, host, keys, args);
        let result = self
            .sandbox
            .run
            .call_async::<MultiValue>((function, eval))
            .await;
        let killed = self.state.killed.get();
        let value = self.state.result.borrow_mut().take();
        drop(run);
        let reply = match result {
            Ok(values) => finish(values, value, name, killed),
            Err(error) => Reply::error(one_line(&format!(
                "ERR Error running script {name}, {:.100}",
                lua_error_text(&error)
            ))),
        };
        self.collect_garbage();
        reply
    }

    fn collect_garbage(&self) {
        let runs = self.runs.get() + 1;
        if self.lua.used_memory() > self.limits.memory_bytes / 2 {
            let _ = self.lua.gc_collect();
        } else if runs >= GC_PERIOD {
            let _ = self.lua.gc_step();
            self.runs.set(0);
            return;
        }
        self.runs.set(runs);
    }
}

/// A run in progress on the engine's [`RunState`], ended when dropped (also when the run's
/// future is dropped before it finishes).
struct RunScope<'a>(&'a RunState);

impl<'a> RunScope<'a> {
    fn begin(
        state: &'a RunState,
        host: Rc<dyn ScriptHost>,
        keys: &'a [Bytes],
        args: &'a [Bytes],
    ) -> RunScope<'a> {
        state.begin(host, keys, args);
        RunScope(state)
    }
}

impl Drop for RunScope<'_> {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// The reply of a finished run: `true` (the script's value, read by `read_result`, is
/// `value`) or `(false, error, source, line)`.
fn finish(values: MultiValue, value: Option<Reply>, name: &str, killed: bool) -> Reply {
    let mut values = values.into_iter();
    let first = values.next();
    let error = values.next().unwrap_or(Value::Nil);
    if let Some(Value::Boolean(true)) = first {
        return value.unwrap_or(Reply::Nil);
    }
    let value = error;
    let message = if killed {
        SCRIPT_KILLED.to_string()
    } else {
        error_message(&value)
    };
    let source = values.next();
    let line = values.next();
    let text = match (source, line) {
        (Some(Value::String(source)), Some(Value::Integer(line))) => {
            format!(
                "{message} script: {name}, on {}:{line}.",
                source.to_string_lossy()
            )
        }
        (Some(Value::String(source)), Some(Value::Number(line))) => {
            format!(
                "{message} script: {name}, on {}:{}.",
                source.to_string_lossy(),
                format_g(line, 17)
            )
        }
        _ => message,
    };
    Reply::error(one_line(&text))
}

/// Redis's `luaExtractErrorInformation`: an error table's `err`, or `ERR <text>`.
fn error_message(value: &Value) -> String {
    match value {
        Value::Table(table) => match table.get::<Value>("err") {
            Ok(Value::String(text)) => text.to_string_lossy(),
            Ok(Value::Number(number)) => format_g(number, 14),
            _ => "ERR unknown error (an error table without an 'err' field)".to_string(),
        },
        Value::String(text) => format!("ERR {}", text.to_string_lossy()),
        Value::Number(number) => format!("ERR {}", format_g(*number, 14)),
        Value::Integer(number) => format!("ERR {number}"),
        Value::Nil => "ERR nil".to_string(),
        Value::Error(error) => format!("ERR {}", lua_error_text(error)),
        other => format!(
            "ERR {}",
            other
                .to_string()
                .unwrap_or_else(|_| other.type_name().to_string())
        ),
    }
}

/// The Lua message inside an mlua error, without mlua's decorations.
pub(crate) fn lua_error_text(error: &mlua::Error) -> String {
    match error {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::RuntimeError(message) => message.clone(),
        mlua::Error::MemoryError(message) => message.clone(),
        mlua::Error::CallbackError { cause, .. } => lua_error_text(cause),
        mlua::Error::WithContext { cause, .. } => lua_error_text(cause),
        other => other.to_string(),
    }
}

fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

/// What `call_raw` answers when the host's reply is not ready: the prelude then calls
/// `await_raw`, which waits for it.
pub(crate) fn await_marker() -> Value {
    Value::LightUserData(mlua::LightUserData(
        std::ptr::addr_of!(AWAIT).cast_mut().cast(),
    ))
}

/// The address behind [`await_marker`].
pub(crate) static AWAIT: u8 = 0;

/// `redis.call`'s core as Lua functions.
pub(crate) struct Calls {
    /// `call_raw(...)`: `(value, is_error)`, or the [`await_marker`] when the host's reply
    /// is a future (stored in the run state).
    pub call_raw: Function,
    /// `await_raw()` (async): `(value, is_error)` of the stored future.
    pub await_raw: Function,
}

/// The two halves of `redis.call`: a synchronous call for the replies the host has at
/// once (a C function, [`raw`]), an async one for the rest.
fn create_calls(lua: &Lua, state: Rc<RunState>, raw: Rc<RawCalls>) -> mlua::Result<Calls> {
    let call_raw = raw.call_raw.clone();
    let await_raw = lua.create_async_function(move |_, ()| {
        let state = state.clone();
        let raw = raw.clone();
        async move {
            let future = state.pending.borrow_mut().take();
            let reply = match future {
                Some(future) => Guarded(future).await,
                None => Reply::error("ERR the command panicked"),
            };
            let is_error = reply.is_error();
            Ok((raw::push_ready_reply(&raw, reply, state.resp3())?, is_error))
        }
    })?;
    Ok(Calls {
        call_raw,
        await_raw,
    })
}
