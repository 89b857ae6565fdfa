//! Tail calls rewritten as ordinary calls, in the Lua 5.1 bytecode of compiled scripts.
//!
//! Redis locates a script's error on the line of the user's code that raised it
//! (`... script: <sha>, on @user_script:3.`). Its `redis.call` and library functions are C
//! functions, and a Lua 5.1 tail call to a C function keeps the caller's frame; ours
//! (`redis.call`, `math.random`, ...) are Lua functions, and `OP_TAILCALL` to a Lua function
//! replaces the caller's frame, losing the line. So every script, library and `loadstring`
//! chunk is compiled from text, dumped, patched here and loaded back: each
//! `TAILCALL A B 0` followed by `RETURN A 0` (what the code generator always emits)
//! becomes `CALL A B 0`, which leaves every result on the stack for that same `RETURN`.
//! The results are the same; the caller's frame stays (so unbounded tail recursion ends in
//! Lua's "stack overflow" error after about 20,000 levels instead of running forever).
//!
//! Lua 5.1 binary chunk, as `ldump.c` writes it (`int` and `size_t` in the header's sizes
//! and byte order; a string is `size_t` length, 0 for none, then that many bytes with a
//! trailing NUL):
//!
//! ```text
//! header:   ESC "Lua" | 0x51 | format 0 | endianness (1 little) | sizeof int | sizeof size_t
//!           | sizeof Instruction (4) | sizeof lua_Number (8) | integral flag (0)
//! function: source string | linedefined int | lastlinedefined int | nups u8 | numparams u8
//!           | is_vararg u8 | maxstacksize u8
//!           | code: int n, n × Instruction
//!           | constants: int n, n × (type u8: 0 nil | 1 boolean u8 | 3 number | 4 string)
//!           | prototypes: int n, n × function
//!           | lineinfo: int n, n × int | locvars: int n, n × (string, startpc int, endpc int)
//!           | upvalue names: int n, n × string
//! instruction: opcode bits 0..6 | A bits 6..14 | C bits 14..23 | B bits 23..32
//! ```
//!
//! Anything unexpected (another header, a truncated or trailing byte) leaves the function
//! as compiled. Lua's own loader verifies the patched code again (`luaG_checkcode`).

use mlua::{Function, Lua};
use std::panic::{catch_unwind, AssertUnwindSafe};

const SIGNATURE: &[u8; 4] = b"\x1bLua";
const VERSION: u8 = 0x51;
const OP_CALL: u32 = 28;
const OP_TAILCALL: u32 = 29;
const OP_RETURN: u32 = 30;
const OPCODE_MASK: u32 = 0x3F;
const A_MASK: u32 = 0xFF << 6;
const B_MASK: u32 = 0x1FF << 23;
const C_MASK: u32 = 0x1FF << 14;
/// Deeper than the parser's own nesting limit (`LUAI_MAXCCALLS`, 200).
const MAX_NESTING: usize = 256;

/// `function` (a main chunk compiled from text, no upvalues) with its tail calls turned
/// into calls, in the same environment; `function` itself when it has none or cannot be
/// rewritten.
pub(crate) fn keep_frames(lua: &Lua, function: Function) -> Function {
    // `dump` panics only where Lua cannot grow its stack.
    let dumped = catch_unwind(AssertUnwindSafe(|| function.dump(false)));
    let Ok(chunk) = dumped else {
        return function;
    };
    let Some(patched) = rewrite_tail_calls(&chunk) else {
        return function;
    };
    let mut loader = lua
        .load(patched)
        .set_name("=(tail calls rewritten)")
        .set_mode(mlua::chunk::ChunkMode::Binary);
    if let Some(environment) = function.environment() {
        loader = loader.set_environment(environment);
    }
    loader.into_function().unwrap_or(function)
}

/// The chunk with every `TAILCALL A B C; RETURN A 0` pair made `CALL A B 0; RETURN A 0`;
/// `None` if the chunk is not one this module reads, its main function has upvalues, or
/// it has no tail call.
pub(crate) fn rewrite_tail_calls(chunk: &[u8]) -> Option<Vec<u8>> {
    let mut walker = Walker::new(chunk.to_vec())?;
    let main_upvalues = walker.function(0)?;
    if main_upvalues != 0 || walker.at != walker.chunk.len() || walker.patched == 0 {
        return None;
    }
    Some(walker.chunk)
}

/// A cursor over a chunk that patches instructions as it passes them.
struct Walker {
    chunk: Vec<u8>,
    at: usize,
    little_endian: bool,
    size_t_bytes: usize,
    patched: usize,
}

impl Walker {
    /// Reads the header; `None` unless it is Lua 5.1 with 4-byte `int` and instructions,
    /// a 4- or 8-byte `size_t` and 8-byte floating-point numbers.
    fn new(chunk: Vec<u8>) -> Option<Walker> {
        let header = chunk.get(..12)?;
        let (signature, rest) = header.split_at(4);
        let &[version, format, endianness, int_bytes, size_t_bytes, instruction_bytes, number_bytes, integral] =
            rest
        else {
            return None;
        };
        let expected = signature == SIGNATURE
            && version == VERSION
            && format == 0
            && endianness <= 1
            && int_bytes == 4
            && (size_t_bytes == 4 || size_t_bytes == 8)
            && instruction_bytes == 4
            && number_bytes == 8
            && integral == 0;
        expected.then_some(Walker {
            chunk,
            at: 12,
            little_endian: endianness == 1,
            size_t_bytes: usize::from(size_t_bytes),
            patched: 0,
        })
    }

    /// Advances over `count` bytes and returns where they start.
    fn skip(&mut self, count: usize) -> Option<usize> {
        let start = self.at;
        let end = start.checked_add(count)?;
        if end > self.chunk.len() {
            return None;
        }
        self.at = end;
        Some(start)
    }

    fn byte(&mut self) -> Option<u8> {
        let at = self.skip(1)?;
        self.chunk.get(at).copied()
    }

    fn word_at(&self, at: usize) -> Option<u32> {
        let bytes: [u8; 4] = self.chunk.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if self.little_endian {
            u32::from_le_bytes(bytes)
        } else {
            u32::from_be_bytes(bytes)
        })
    }

    fn set_word_at(&mut self, at: usize, word: u32) -> Option<()> {
        let bytes = if self.little_endian {
            word.to_le_bytes()
        } else {
            word.to_be_bytes()
        };
        self.chunk
            .get_mut(at..at.checked_add(4)?)?
            .copy_from_slice(&bytes);
        Some(())
    }

    /// A non-negative `int` (a count).
    fn count(&mut self) -> Option<usize> {
        let at = self.skip(4)?;
        let value = self.word_at(at)? as i32;
        usize::try_from(value).ok()
    }

    fn string(&mut self) -> Option<()> {
        let at = self.skip(self.size_t_bytes)?;
        let bytes = self.chunk.get(at..at.checked_add(self.size_t_bytes)?)?;
        let length = if self.size_t_bytes == 4 {
            let bytes: [u8; 4] = bytes.try_into().ok()?;
            u64::from(if self.little_endian {
                u32::from_le_bytes(bytes)
            } else {
                u32::from_be_bytes(bytes)
            })
        } else {
            let bytes: [u8; 8] = bytes.try_into().ok()?;
            if self.little_endian {
                u64::from_le_bytes(bytes)
            } else {
                u64::from_be_bytes(bytes)
            }
        };
        self.skip(usize::try_from(length).ok()?)?;
        Some(())
    }

    /// One function prototype and those nested in it; returns its number of upvalues.
    fn function(&mut self, depth: usize) -> Option<u8> {
        if depth > MAX_NESTING {
            return None;
        }
        self.string()?; // source
        self.skip(8)?; // linedefined, lastlinedefined
        let upvalues = self.byte()?;
        self.skip(3)?; // numparams, is_vararg, maxstacksize
        let instructions = self.count()?;
        let code = self.skip(instructions.checked_mul(4)?)?;
        self.patch_code(code, instructions)?;
        for _ in 0..self.count()? {
            match self.byte()? {
                0 => {}
                1 => {
                    self.skip(1)?;
                }
                3 => {
                    self.skip(8)?;
                }
                4 => self.string()?,
                _ => return None,
            }
        }
        for _ in 0..self.count()? {
            self.function(depth + 1)?;
        }
        let lines = self.count()?;
        self.skip(lines.checked_mul(4)?)?;
        for _ in 0..self.count()? {
            self.string()?;
            self.skip(8)?; // startpc, endpc
        }
        for _ in 0..self.count()? {
            self.string()?;
        }
        Some(upvalues)
    }

    /// Rewrites the tail calls among the `instructions` at byte offset `code`.
    fn patch_code(&mut self, code: usize, instructions: usize) -> Option<()> {
        for index in 1..instructions {
            let call_at = code.checked_add((index - 1).checked_mul(4)?)?;
            let call = self.word_at(call_at)?;
            let next = self.word_at(call_at.checked_add(4)?)?;
            let returns_all = next & OPCODE_MASK == OP_RETURN
                && next & A_MASK == call & A_MASK
                && next & B_MASK == 0;
            if call & OPCODE_MASK == OP_TAILCALL && returns_all {
                self.set_word_at(call_at, (call & !(OPCODE_MASK | C_MASK)) | OP_CALL)?;
                self.patched += 1;
            }
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(lua: &Lua, source: &str) -> Function {
        lua.load(source)
            .set_name("@user_script")
            .set_mode(mlua::chunk::ChunkMode::Text)
            .into_function()
            .unwrap()
    }

    fn opcodes(chunk: &[u8]) -> Vec<u32> {
        let mut walker = Walker::new(chunk.to_vec()).unwrap();
        walker.string().unwrap();
        walker.skip(12).unwrap();
        let instructions = walker.count().unwrap();
        (0..instructions)
            .map(|index| walker.word_at(walker.at + index * 4).unwrap() & OPCODE_MASK)
            .collect()
    }

    #[test]
    fn tail_calls_become_calls_in_every_prototype() {
        let lua = Lua::new();
        let source = "local function f(n) if n == 0 then return 0 end return f(n - 1) end\n\
                      local t = {g = function() return f(3) end}\n\
                      return t.g()";
        let chunk = compile(&lua, source).dump(false);
        assert!(opcodes(&chunk).contains(&OP_TAILCALL));
        let patched = rewrite_tail_calls(&chunk).unwrap();
        assert_eq!(patched.len(), chunk.len());
        assert!(!opcodes(&patched).contains(&OP_TAILCALL));
        let mut walker = Walker::new(patched.clone()).unwrap();
        walker.function(0).unwrap();
        assert_eq!(walker.patched, 0, "nothing left to patch");
        let function = lua
            .load(patched)
            .set_mode(mlua::chunk::ChunkMode::Binary)
            .into_function()
            .unwrap();
        assert_eq!(function.call::<i64>(()).unwrap(), 0);
        assert_eq!(function.info().source.as_deref(), Some("@user_script"));
    }

    #[test]
    fn multiple_results_survive() {
        let lua = Lua::new();
        let function = keep_frames(
            &lua,
            compile(&lua, "local function f() return 1, 2, 3 end return f()"),
        );
        assert_eq!(function.call::<(i64, i64, i64)>(()).unwrap(), (1, 2, 3));
    }

    #[test]
    fn line_numbers_survive() {
        let lua = Lua::new();
        let function = keep_frames(&lua, compile(&lua, "local a = 1\n\nreturn error('x')"));
        let error = function.call::<()>(()).unwrap_err().to_string();
        assert!(error.contains("user_script:3: x"), "{error}");
    }

    #[test]
    fn chunk_without_tail_calls_is_left_alone() {
        let lua = Lua::new();
        let chunk = compile(&lua, "local r = math.floor(1.5) return r").dump(false);
        assert_eq!(rewrite_tail_calls(&chunk), None);
    }

    #[test]
    fn damaged_chunks_are_refused() {
        let lua = Lua::new();
        let chunk = compile(&lua, "return math.floor(1.5)").dump(false);
        assert!(rewrite_tail_calls(&chunk).is_some());
        for length in 0..chunk.len() {
            assert_eq!(rewrite_tail_calls(&chunk[..length]), None, "{length}");
        }
        let mut trailing = chunk.clone();
        trailing.push(0);
        assert_eq!(rewrite_tail_calls(&trailing), None);
        let mut other_version = chunk.clone();
        other_version[4] = 0x52;
        assert_eq!(rewrite_tail_calls(&other_version), None);
        assert_eq!(rewrite_tail_calls(b"\x1bLua"), None);
    }

    #[test]
    fn tail_recursion_ends_in_an_error() {
        let lua = Lua::new();
        let function = keep_frames(
            &lua,
            compile(
                &lua,
                "local function f(n) if n == 0 then return 0 end return f(n - 1) end return f(100000)",
            ),
        );
        let error = function.call::<i64>(()).unwrap_err().to_string();
        assert!(error.contains("stack overflow"), "{error}");
    }
}
