-- Redis's scripting environment over stock Lua 5.1. Run once per engine with the real
-- globals; returns the tables and functions the engine keeps. Nothing here is reachable
-- from scripts except through the read-only proxies it builds.
local helpers = ...

local error, type, tostring, tonumber, select, unpack = error, type, tostring, tonumber, select, unpack
local rawget, rawset, next, setmetatable, getmetatable = rawget, rawset, next, setmetatable, getmetatable
local native_pcall, native_loadstring, native_load = pcall, loadstring, load
local co_create, co_resume, co_yield, co_status = coroutine.create, coroutine.resume, coroutine.yield, coroutine.status
local getinfo = debug.getinfo
local floor = math.floor
local string_sub, string_byte, string_find, table_concat = string.sub, string.byte, string.find, table.concat
local PENDING, killed, call_raw, error_table = helpers.pending, helpers.killed, helpers.call_raw, helpers.error_table
local PRELUDE = helpers.prelude_source
local await_raw, AWAIT = helpers.await_raw, helpers.await_marker

local function pack(...) return { n = select('#', ...), ... } end

-- Read-only tables --------------------------------------------------------------------
local READONLY = "Attempt to modify a readonly table"
local backing_of = setmetatable({}, { __mode = "k" })
local function readonly() error(READONLY, 2) end
local LOCKED = {}
backing_of[LOCKED] = {}
setmetatable(LOCKED, { __index = {}, __newindex = readonly, __metatable = LOCKED })

local function protect(real)
  local proxy = {}
  backing_of[proxy] = real
  setmetatable(proxy, { __index = real, __newindex = readonly, __metatable = LOCKED })
  return proxy
end

local function sandbox_rawset(t, k, v)
  if backing_of[t] then error(READONLY, 0) end
  return rawset(t, k, v)
end
local function sandbox_rawget(t, k)
  return rawget(backing_of[t] or t, k)
end
local function sandbox_next(t, k)
  return next(backing_of[t] or t, k)
end
local function sandbox_pairs(t)
  if type(t) ~= 'table' then
    error("bad argument #1 to 'pairs' (table expected, got " .. type(t) .. ")", 2)
  end
  return sandbox_next, t, nil
end
local function sandbox_setmetatable(t, mt)
  if backing_of[t] then error(READONLY, 0) end
  return setmetatable(t, mt)
end

-- Yields that belong to the engine pass through every coroutine boundary a script builds,
-- so redis.call works inside them and a busy script can let the executor run:
-- * PENDING: a host future is not ready (the executor wakes the run when it is).
-- * HOOK: the instruction hook suspended a coroutine because the host asked the script to
--   give the executor a turn. The hook yields no values and leaves a Lua frame on top of the
--   coroutine's stack, where coroutine.yield leaves its own C frame; each boundary passes
--   it up as HOOK, or, where it cannot yield itself (a C function or a metamethod lies
--   below it), resumes the coroutine at once. The script's first coroutine hands HOOK to
--   mlua, whose future wakes itself and returns Pending for any yield but PENDING.
local HOOK = {}
local yieldable = helpers.yieldable

-- True when `co`, suspended after a successful resume that returned `r`, was suspended by
-- the instruction hook (directly or through a boundary below it).
local function hook_suspended(co, r)
  if r.n == 2 then return r[2] == HOOK end
  if r.n ~= 1 then return false end
  local top = getinfo(co, 0, 'S')
  return top ~= nil and top.what ~= 'C'
end

-- Passes a hook suspension up where this code can yield, then resumes `co`. (No tail
-- calls in the frames a script runs under: the hook cannot prove a tail-called frame was
-- called from Lua, and would not yield in it.)
local function pass_hook(co)
  if yieldable() then co_yield(HOOK) end
  local r = pack(co_resume(co))
  return r
end

local function resume_through(co, ...)
  local r = pack(co_resume(co, ...))
  while r[1] and co_status(co) == 'suspended' do
    if r.n == 2 and r[2] == PENDING then
      r = pack(co_resume(co, co_yield(PENDING)))
    elseif hook_suspended(co, r) then
      r = pass_hook(co)
    else
      break
    end
  end
  return r
end

local function is_lua_function(f)
  return type(f) == 'function' and getinfo(f, 'S').what ~= 'C'
end

-- Runs f in a coroutine, forwarding every yield to the caller (a pcall that can yield).
local function protected(f, ...)
  local co = co_create(f)
  local r = pack(co_resume(co, ...))
  while r[1] and co_status(co) == 'suspended' do
    if hook_suspended(co, r) then
      r = pass_hook(co)
    else
      r = pack(co_resume(co, co_yield(unpack(r, 2, r.n))))
    end
  end
  return r
end

-- pcall as Redis: an error table {err=...} is returned as its message. A killed script
-- cannot be caught.
local function sandbox_pcall(f, ...)
  local r
  if is_lua_function(f) then r = protected(f, ...) else r = pack(native_pcall(f, ...)) end
  if r[1] then return unpack(r, 1, r.n) end
  if killed() then error(r[2], 0) end
  local e = r[2]
  if type(e) == 'table' then
    local message = rawget(e, 'err')
    if type(message) == 'string' or type(message) == 'number' then e = message end
  end
  return false, e
end

local function sandbox_xpcall(f, handler)
  local r
  if is_lua_function(f) then r = protected(f) else r = pack(native_pcall(f)) end
  if r[1] then return unpack(r, 1, r.n) end
  if killed() then error(r[2], 0) end
  return false, handler(r[2])
end

local function sandbox_resume(co, ...)
  local r = resume_through(co, ...)
  if not r[1] and killed() then error(r[2], 0) end
  return unpack(r, 1, r.n)
end

local function sandbox_wrap(f)
  local co = co_create(f)
  return function(...)
    local r = resume_through(co, ...)
    if r[1] then return unpack(r, 2, r.n) end
    if killed() then error(r[2], 0) end
    error(r[2], 2)
  end
end

-- No bytecode: Redis's fix for CVE-2015-4335. Chunks get their tail calls rewritten as
-- the engine's scripts do, so errors in them keep the caller's line.
local keep_frames = helpers.keep_frames
local function sandbox_loadstring(s, name)
  if type(s) == 'string' and string_byte(s, 1) == 27 then
    return nil, "bytecode loading is not allowed"
  end
  local f, e = native_loadstring(s, name)
  if f then return keep_frames(f) end
  return f, e
end
local function sandbox_load(reader, name)
  if type(reader) ~= 'function' then return native_load(reader, name) end
  local parts = {}
  while true do
    local part = reader()
    if part == nil or part == '' then break end
    if type(part) ~= 'string' then return nil, "reader function must return a string" end
    parts[#parts + 1] = part
  end
  return sandbox_loadstring(table_concat(parts), name or "=(load)")
end

-- math.random as Redis: redisLrand48, reseeded for every run ------------------------
local rand, srand = helpers.rand, helpers.srand
local function checkint(n, value, fname)
  local number = tonumber(value)
  if number == nil then
    error("bad argument #" .. n .. " to '" .. fname .. "' (number expected, got " ..
      (value == nil and "no value" or type(value)) .. ")", 3)
  end
  return number - number % 1 * (number < 0 and -1 or 1)
end
local function random(...)
  local r = rand()
  local count = select('#', ...)
  if count == 0 then return r end
  if count == 1 then
    local u = checkint(1, (...), 'random')
    if u < 1 then error("bad argument #1 to 'random' (interval is empty)", 2) end
    return floor(r * u) + 1
  end
  if count == 2 then
    local l, u = checkint(1, (...), 'random'), checkint(2, select(2, ...), 'random')
    if l > u then error("bad argument #2 to 'random' (interval is empty)", 2) end
    return floor(r * (u - l + 1)) + l
  end
  error("wrong number of arguments", 2)
end
local function randomseed(seed)
  srand(checkint(1, seed, 'randomseed'))
end

-- The redis table ---------------------------------------------------------------------
local function raise(text) error(error_table(text), 0) end

local redis_common = {
  REDIS_VERSION = helpers.version,
  REDIS_VERSION_NUM = helpers.version_num,
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
}
function redis_common.log(...)
  local count = select('#', ...)
  if count < 2 then raise("redis.log() requires two arguments or more.") end
  local level = (...)
  if type(level) ~= 'number' and tonumber(level) == nil then
    raise("First argument must be a number (log level).")
  end
  level = tonumber(level)
  level = level - level % 1
  if level < 0 or level > 3 then raise("Invalid debug level.") end
  local parts = {}
  for i = 2, count do
    local part = select(i, ...)
    local t = type(part)
    if t == 'string' or t == 'number' then parts[#parts + 1] = tostring(part) end
  end
  helpers.log(level, table_concat(parts, ' '))
end

local redis_run = {}
for k, v in next, redis_common do redis_run[k] = v end
-- call_raw answers at once; AWAIT means the reply is a future, which await_raw waits for
-- (yielding PENDING to the executor).
function redis_run.call(...)
  local value, is_error = call_raw(...)
  if value == AWAIT then value, is_error = await_raw() end
  if is_error then error(value, 0) end
  return value
end
function redis_run.pcall(...)
  local value = call_raw(...)
  if value == AWAIT then value = await_raw() end
  return value
end
function redis_run.error_reply(...)
  local e = ...
  if select('#', ...) ~= 1 or type(e) ~= 'string' then
    return error_table("wrong number or type of arguments")
  end
  if string_sub(e, 1, 1) ~= '-' then e = '-' .. e end
  return error_table(e)
end
function redis_run.status_reply(...)
  local s = ...
  if select('#', ...) ~= 1 or type(s) ~= 'string' then
    return error_table("wrong number or type of arguments")
  end
  return { ok = s }
end
function redis_run.sha1hex(...)
  if select('#', ...) ~= 1 then raise("wrong number of arguments") end
  return helpers.sha1hex((...))
end
function redis_run.setresp(...)
  if select('#', ...) ~= 1 then raise("redis.setresp() requires one argument.") end
  local resp = tonumber((...)) or 0
  resp = resp - resp % 1
  if resp ~= 2 and resp ~= 3 then raise("RESP version must be 2 or 3.") end
  helpers.setresp(resp)
end
redis_run.REPL_NONE, redis_run.REPL_AOF, redis_run.REPL_SLAVE = 0, 1, 2
redis_run.REPL_REPLICA, redis_run.REPL_ALL = 2, 3
function redis_run.set_repl(...)
  if select('#', ...) ~= 1 then raise("redis.set_repl() requires two arguments.") end
  local flags = tonumber((...)) or 0
  if flags ~= 0 and flags ~= 1 and flags ~= 2 and flags ~= 3 then
    raise("Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.")
  end
end
function redis_run.replicate_commands() return true end
function redis_run.breakpoint() return false end
function redis_run.debug() end
function redis_run.register_function()
  raise("redis.register_function can only be called on FUNCTION LOAD command")
end

-- FUNCTION LOAD: redis.register_function collects into `registered`.
local registered = nil
local FLAG_NAMES = {
  ['no-writes'] = true, ['allow-oom'] = true, ['allow-stale'] = true,
  ['no-cluster'] = true, ['allow-cross-slot-keys'] = true,
}
local function valid_name(name)
  return type(name) == 'string' and name ~= '' and string_find(name, '^[%w_]+$') ~= nil
end
local function register_function(...)
  local count = select('#', ...)
  if count < 1 or count > 2 then raise("wrong number of arguments to redis.register_function") end
  local name, callback, description, flags
  if count == 2 then
    name, callback = ...
    if type(name) ~= 'string' and type(name) ~= 'number' then
      raise("first argument to redis.register_function must be a string")
    end
    name = tostring(name)
    if type(callback) ~= 'function' then
      raise("second argument to redis.register_function must be a function")
    end
  else
    local named = ...
    if type(named) ~= 'table' then
      raise("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).")
    end
    for key, value in next, named do
      if type(key) ~= 'string' then
        raise("named argument key given to redis.register_function is not a string")
      elseif key == 'function_name' then
        if type(value) ~= 'string' then
          raise("function_name argument given to redis.register_function must be a string")
        end
        name = value
      elseif key == 'description' then
        if type(value) ~= 'string' then
          raise("description argument given to redis.register_function must be a string")
        end
        description = value
      elseif key == 'callback' then
        if type(value) ~= 'function' then
          raise("callback argument given to redis.register_function must be a function")
        end
        callback = value
      elseif key == 'flags' then
        if type(value) ~= 'table' then
          raise("flags argument to redis.register_function must be a table representing function flags")
        end
        for _, flag in next, value do
          if type(flag) ~= 'string' then
            raise("flags argument to redis.register_function must be a table representing function flags")
          end
          if not FLAG_NAMES[flag] then raise("unknown flag given") end
        end
        flags = value
      else
        raise("unknown argument given to redis.register_function")
      end
    end
    if name == nil then raise("redis.register_function must get a function name argument") end
    if callback == nil then raise("redis.register_function must get a callback argument") end
  end
  if registered == nil then
    raise("redis.register_function can only be called on FUNCTION LOAD command")
  end
  if not valid_name(name) then
    raise("Library names can only contain letters, numbers, or underscores(_) and must be at least one character long")
  end
  for _, entry in next, registered do
    if entry.name == name then raise("Function already exists in the library") end
  end
  local flag_list = {}
  if flags then for _, flag in next, flags do flag_list[#flag_list + 1] = flag end end
  registered[#registered + 1] = {
    name = name, callback = callback, description = description, flags = flag_list,
  }
end

local redis_load = {}
for k, v in next, redis_common do redis_load[k] = v end
redis_load.register_function = register_function

-- Globals -------------------------------------------------------------------------------
local backing = {}
local G = {}
local coroutine_proxy = protect({
  create = co_create, resume = sandbox_resume, yield = co_yield, status = co_status,
  wrap = sandbox_wrap, running = helpers.running,
})
local string_proxy = protect(string)
local math_real = {}
for k, v in next, math do math_real[k] = v end
math_real.random, math_real.randomseed = random, randomseed

local globals = {
  _G = G, _VERSION = _VERSION,
  assert = assert, collectgarbage = collectgarbage, error = error, gcinfo = gcinfo,
  getmetatable = getmetatable, ipairs = ipairs, load = sandbox_load,
  loadstring = sandbox_loadstring, next = sandbox_next, pairs = sandbox_pairs,
  pcall = sandbox_pcall, rawequal = rawequal, rawget = sandbox_rawget, rawset = sandbox_rawset,
  select = select, setmetatable = sandbox_setmetatable, tonumber = tonumber,
  tostring = tostring, type = type, unpack = unpack, xpcall = sandbox_xpcall,
  coroutine = coroutine_proxy, string = string_proxy, table = protect(table),
  math = protect(math_real),
  cjson = protect(helpers.cjson), bit = protect(helpers.bit),
  struct = protect(helpers.struct), cmsgpack = protect(helpers.cmsgpack),
}
for k, v in next, globals do backing[k] = v end
local runtime_redis = protect(redis_run)
local load_redis = protect(redis_load)
backing.redis = runtime_redis

local function nonexistent(_, name)
  error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
end
setmetatable(backing, { __index = nonexistent })
setmetatable(redis_load, { __index = nonexistent })
local globals_mt = { __index = backing, __newindex = readonly, __metatable = LOCKED }
setmetatable(G, globals_mt)
backing_of[G] = backing

-- Strings' metatable: its __index is the read-only string table, and it cannot be changed.
local string_mt = getmetatable("")
string_mt.__index = string_proxy
string_mt.__metatable = protect({ __index = string_proxy })

-- Running -------------------------------------------------------------------------------
local function location(co)
  for level = 0, 64 do
    local info = getinfo(co, level, 'Sl')
    if not info then return nil end
    if info.what ~= 'C' and info.what ~= 'tail' and info.source ~= PRELUDE and info.source ~= '=__mlua_async_poll' then
      return info.source, info.currentline
    end
  end
end

-- The coroutine of the last run that finished normally, unless the script saw it
-- (coroutine.running): the next run starts its function in it (recycle) instead of
-- creating one.
local arguments, read_result = helpers.arguments, helpers.read_result
local thread_seen, recycle = helpers.thread_seen, helpers.recycle
local spare

-- Passes the engine's yields up until `co` finishes or fails; returns (ok, value).
local function drive(co, r)
  while r[1] and co_status(co) == 'suspended' do
    if r.n == 2 and r[2] == PENDING then
      r = pack(co_resume(co, co_yield(PENDING)))
    elseif hook_suspended(co, r) then
      co_yield(HOOK)
      r = pack(co_resume(co))
    else
      r = { false, "attempt to yield from outside a coroutine", n = 2 }
      break
    end
  end
  return r[1], r[2]
end

-- The outcome of resuming `co`: (ok, value), with no table unless it was suspended.
local function settle(co, ok, ...)
  if ok and co_status(co) == 'suspended' then
    local ok_, value = drive(co, pack(ok, ...))
    return ok_, value
  end
  return ok, (...)
end

-- Whether the globals KEYS and ARGV hold the last script's: a function run or a library
-- load clears them (functions have none), a script run replaces them.
local arguments_set = false
local function clear_arguments()
  if arguments_set then
    rawset(backing, 'KEYS', nil)
    rawset(backing, 'ARGV', nil)
    arguments_set = false
  end
end

-- Runs a script body (eval: the run's keys and args are KEYS and ARGV) or a function
-- (its arguments) in a coroutine; returns true (the value stored by read_result) or
-- (false, error, source, line). It is the first function of mlua's thread, so it can
-- always yield. `arguments` and `read_result` raise nothing but memory errors, which end
-- the run with mlua's error (no pcall for them: they run on every call).
local function run(f, eval)
  local keys, args = arguments()
  local co = spare
  spare = nil
  if not (co and recycle(co, f)) then co = co_create(f) end
  local ok, value
  if eval then
    rawset(backing, 'KEYS', keys)
    rawset(backing, 'ARGV', args)
    arguments_set = true
    ok, value = settle(co, co_resume(co))
  else
    clear_arguments()
    ok, value = settle(co, co_resume(co, keys, args))
  end
  if ok then
    if not thread_seen() then spare = co end
    read_result(value)
    return true
  end
  local source, line = location(co)
  return false, value, source, line
end

-- Runs a library body with the load-time API (register_function and logging only).
-- Returns (true, functions) or (false, error).
local function load_library(chunk)
  clear_arguments()
  backing.redis = load_redis
  registered = {}
  local ok, e = native_pcall(chunk)
  local functions = registered
  registered = nil
  backing.redis = runtime_redis
  if ok then return true, functions end
  return false, e
end

return {
  globals = G,
  run = run,
  load_library = load_library,
}
