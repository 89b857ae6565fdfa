//! `--sequence`: a fixed list of commands sent together as one operation.
//!
//! ```text
//! --sequence 'MULTI;INCR {__key__}:a;GET {__key__}:a;EXEC'
//! --sequence 'EVALSHA 7f9c... 1 {__key__}:k'
//! ```
//!
//! Commands are separated by `;`, arguments by whitespace; every occurrence of
//! [`KEY_PLACEHOLDER`] in an argument becomes the operation's key (`--key-prefix`
//! followed by a number drawn from `--key-pattern`), one key for the whole sequence,
//! so `{__key__}` hash tags keep its keys together. The server answers each command
//! with one reply.
//!
//! It is not a command-line shell: no quoting, so an argument cannot hold a space or
//! a `;` (EVAL of an inline script needs SCRIPT LOAD and EVALSHA instead).

use std::fmt;

use crate::resp::encode_command;

/// Replaced in every argument by the operation's key.
pub const KEY_PLACEHOLDER: &str = "__key__";

/// Commands sent, in order, as one operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequence {
    /// Each command's arguments, its name first; never empty.
    commands: Vec<Vec<String>>,
}

/// Why a `--sequence` value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SequenceError {
    /// Nothing between two separators (or at either end): command number `index`,
    /// counting from 1.
    EmptyCommand {
        /// Its position, counting from 1.
        index: usize,
    },
}

impl fmt::Display for SequenceError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmptyCommand { index } => write!(formatter, "command {index} is empty"),
        }
    }
}

impl std::error::Error for SequenceError {}

impl Sequence {
    /// Parses `NAME ARG...;NAME ARG...`.
    pub fn parse(text: &str) -> Result<Self, SequenceError> {
        let commands = text
            .split(';')
            .enumerate()
            .map(|(position, command)| {
                let words: Vec<String> = command.split_whitespace().map(str::to_owned).collect();
                if words.is_empty() {
                    Err(SequenceError::EmptyCommand {
                        index: position + 1,
                    })
                } else {
                    Ok(words)
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { commands })
    }

    /// Commands in the sequence, hence replies per operation; at least 1.
    pub fn len(&self) -> usize {
        self.commands.len()
    }

    /// Appends every command to `out` as RESP, with `key` in place of the placeholder.
    pub fn encode(&self, out: &mut Vec<u8>, key: &[u8], scratch: &mut Vec<Vec<u8>>) {
        for command in &self.commands {
            scratch.resize_with(command.len(), Vec::new);
            for (word, argument) in command.iter().zip(scratch.iter_mut()) {
                argument.clear();
                let mut pieces = word.split(KEY_PLACEHOLDER);
                if let Some(first) = pieces.next() {
                    argument.extend_from_slice(first.as_bytes());
                }
                for piece in pieces {
                    argument.extend_from_slice(key);
                    argument.extend_from_slice(piece.as_bytes());
                }
            }
            encode_command(out, scratch.get(..command.len()).unwrap_or_default());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(sequence: &Sequence) -> Vec<Vec<&str>> {
        sequence
            .commands
            .iter()
            .map(|command| command.iter().map(String::as_str).collect())
            .collect()
    }

    #[test]
    fn splits_commands_on_semicolons_and_arguments_on_whitespace() {
        let sequence =
            Sequence::parse("MULTI; INCR {t}:a ;GET  {t}:a;SET {t}:b v\t;EXEC").expect("valid");
        assert_eq!(
            words(&sequence),
            [
                vec!["MULTI"],
                vec!["INCR", "{t}:a"],
                vec!["GET", "{t}:a"],
                vec!["SET", "{t}:b", "v"],
                vec!["EXEC"],
            ]
        );
        assert_eq!(sequence.len(), 5);
    }

    #[test]
    fn a_single_command_is_a_sequence() {
        let sequence = Sequence::parse("EVALSHA abc 1 k").expect("valid");
        assert_eq!(words(&sequence), [vec!["EVALSHA", "abc", "1", "k"]]);
    }

    #[test]
    fn refuses_empty_commands() {
        for (text, index) in [
            ("", 1),
            ("   ", 1),
            (";GET a", 1),
            ("GET a;", 2),
            ("GET a; ;GET b", 2),
            ("GET a;;GET b", 2),
        ] {
            assert_eq!(
                Sequence::parse(text),
                Err(SequenceError::EmptyCommand { index }),
                "{text:?}"
            );
        }
        assert_eq!(
            SequenceError::EmptyCommand { index: 2 }.to_string(),
            "command 2 is empty"
        );
    }

    #[test]
    fn encodes_each_command_with_the_key_in_place_of_the_placeholder() {
        let sequence =
            Sequence::parse("MULTI;SET {__key__}:a __key__-__key__;EXEC").expect("valid");
        let mut out = Vec::new();
        let mut scratch = Vec::new();
        sequence.encode(&mut out, b"k7", &mut scratch);
        assert_eq!(
            out,
            b"*1\r\n$5\r\nMULTI\r\n\
              *3\r\n$3\r\nSET\r\n$6\r\n{k7}:a\r\n$5\r\nk7-k7\r\n\
              *1\r\n$4\r\nEXEC\r\n"
        );
        // The scratch space is reused: a second encoding appends the same bytes.
        let first = out.clone();
        sequence.encode(&mut out, b"k7", &mut scratch);
        assert_eq!(out.len(), 2 * first.len());
        assert_eq!(&out[first.len()..], &first[..]);
    }
}
