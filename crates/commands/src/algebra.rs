//! The operation of the set algebra commands: SUNION/SINTER/SDIFF and ZUNION/ZINTER/ZDIFF,
//! their STORE forms, and SINTERCARD/ZINTERCARD.

/// Which set algebra a command computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetOperation {
    /// Every member of any source.
    Union,
    /// The members every source holds.
    Intersection,
    /// The first source's members that no other source holds.
    Difference,
}

impl SetOperation {
    /// The operation of the command named `command` (lower case: `sunion`, `zinterstore`,
    /// `sintercard` ...); `None` for another command.
    pub fn of(command: &str) -> Option<SetOperation> {
        let operation = command
            .strip_prefix(['s', 'z'])?
            .trim_end_matches("store")
            .trim_end_matches("card");
        match operation {
            "union" => Some(SetOperation::Union),
            "inter" => Some(SetOperation::Intersection),
            "diff" => Some(SetOperation::Difference),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SetOperation;

    #[test]
    fn names_give_their_operation() {
        assert_eq!(SetOperation::of("sunion"), Some(SetOperation::Union));
        assert_eq!(
            SetOperation::of("zinterstore"),
            Some(SetOperation::Intersection)
        );
        assert_eq!(
            SetOperation::of("sintercard"),
            Some(SetOperation::Intersection)
        );
        assert_eq!(SetOperation::of("zdiff"), Some(SetOperation::Difference));
        assert_eq!(SetOperation::of("smembers"), None);
        assert_eq!(SetOperation::of("union"), None);
    }
}
