//! LuaBitOp (`bit`): 32-bit operations on numbers, as Redis's bundled `lua_bit.c`.

use mlua::{Lua, Table, Variadic};

/// LuaBitOp's `tobit`: the number modulo 2^32 as a signed 32-bit integer.
fn tobit(number: f64) -> i32 {
    // LuaBitOp adds 2^52+2^51 and takes the low word: round-to-nearest, modulo 2^32.
    let shifted = number + 6_755_399_441_055_744.0;
    shifted.to_bits() as u32 as i32
}

fn fold(args: Variadic<f64>, operation: fn(i32, i32) -> i32) -> mlua::Result<f64> {
    let mut values = args.iter().map(|value| tobit(*value));
    let first = values
        .next()
        .ok_or_else(|| mlua::Error::runtime("bad argument #1 (number expected, got no value)"))?;
    Ok(f64::from(values.fold(first, operation)))
}

/// Creates the `bit` table.
pub(crate) fn create(lua: &Lua) -> mlua::Result<Table> {
    let bit = lua.create_table()?;
    bit.set(
        "tobit",
        lua.create_function(|_, x: f64| Ok(f64::from(tobit(x))))?,
    )?;
    bit.set(
        "bnot",
        lua.create_function(|_, x: f64| Ok(f64::from(!tobit(x))))?,
    )?;
    bit.set(
        "band",
        lua.create_function(|_, args: Variadic<f64>| fold(args, |a, b| a & b))?,
    )?;
    bit.set(
        "bor",
        lua.create_function(|_, args: Variadic<f64>| fold(args, |a, b| a | b))?,
    )?;
    bit.set(
        "bxor",
        lua.create_function(|_, args: Variadic<f64>| fold(args, |a, b| a ^ b))?,
    )?;
    let shift = |operation: fn(u32, u32) -> u32| {
        move |_: &Lua, (x, n): (f64, f64)| {
            Ok(f64::from(
                operation(tobit(x) as u32, tobit(n) as u32 & 31) as i32
            ))
        }
    };
    bit.set("lshift", lua.create_function(shift(|x, n| x << n))?)?;
    bit.set("rshift", lua.create_function(shift(|x, n| x >> n))?)?;
    bit.set(
        "arshift",
        lua.create_function(shift(|x, n| ((x as i32) >> n) as u32))?,
    )?;
    bit.set("rol", lua.create_function(shift(|x, n| x.rotate_left(n)))?)?;
    bit.set("ror", lua.create_function(shift(|x, n| x.rotate_right(n)))?)?;
    bit.set(
        "bswap",
        lua.create_function(|_, x: f64| Ok(f64::from(tobit(x).swap_bytes())))?,
    )?;
    bit.set(
        "tohex",
        lua.create_function(|_, (x, n): (f64, Option<f64>)| {
            let mut digits = n.map_or(8, tobit);
            let upper = digits < 0;
            if upper {
                digits = -digits;
            }
            let digits = digits.clamp(0, 8) as usize;
            let value = tobit(x) as u32;
            let masked = if digits >= 8 {
                value
            } else {
                value & ((1u32 << (4 * digits)) - 1)
            };
            let text = if upper {
                format!("{masked:0digits$X}")
            } else {
                format!("{masked:0digits$x}")
            };
            Ok(text)
        })?,
    )?;
    Ok(bit)
}

#[cfg(test)]
mod tests {
    use super::tobit;

    #[test]
    fn tobit_wraps() {
        assert_eq!(tobit(4_294_967_295.0), -1);
        assert_eq!(tobit(4_294_967_296.0), 0);
        assert_eq!(tobit(-1.0), -1);
        assert_eq!(tobit(2_147_483_648.0), i32::MIN);
    }
}
