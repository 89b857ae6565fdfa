//! Lists (scaffold: the family's owner fills the table and the handlers).

use crate::spec::CommandSpec;

/// The family's table.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[];
