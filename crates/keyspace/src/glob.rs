//! Glob-style pattern matching, exactly as Redis's `stringmatchlen`.

/// True when `string` matches `pattern` (`*`, `?`, `[abc]`, `[^a-z]`, `\x` escapes), with
/// Redis's semantics for every corner case (e.g. an unterminated `[` matches up to the end).
pub fn glob_match(pattern: &[u8], string: &[u8]) -> bool {
    let mut skip_longer = false;
    match_from(pattern, string, false, &mut skip_longer, 0)
}

/// Case-insensitive variant (used by CONFIG GET patterns).
pub fn glob_match_nocase(pattern: &[u8], string: &[u8]) -> bool {
    let mut skip_longer = false;
    match_from(pattern, string, true, &mut skip_longer, 0)
}

fn match_from(
    mut pattern: &[u8],
    mut string: &[u8],
    nocase: bool,
    skip_longer: &mut bool,
    nesting: usize,
) -> bool {
    // Redis bounds recursion the same way to defeat pathological patterns.
    if nesting > 1000 {
        return false;
    }
    // Redis's loop never starts on an empty string: only an empty pattern matches it
    // (so `*` does not; KEYS and SCAN skip matching for a lone `*`).
    if string.is_empty() {
        return pattern.is_empty();
    }
    let fold = |byte: u8| {
        if nocase {
            byte.to_ascii_lowercase()
        } else {
            byte
        }
    };
    while let Some(&current) = pattern.first() {
        match current {
            b'*' => {
                while pattern.get(1) == Some(&b'*') {
                    pattern = &pattern[1..];
                }
                if pattern.len() == 1 {
                    return true;
                }
                while !string.is_empty() {
                    if match_from(&pattern[1..], string, nocase, skip_longer, nesting + 1) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    string = &string[1..];
                }
                *skip_longer = true;
                return false;
            }
            b'?' => {
                if string.is_empty() {
                    return false;
                }
                string = &string[1..];
            }
            b'[' => {
                let Some(&target) = string.first() else {
                    return false;
                };
                pattern = &pattern[1..];
                let negate = pattern.first() == Some(&b'^');
                if negate {
                    pattern = &pattern[1..];
                }
                let mut matched = false;
                loop {
                    match pattern.first() {
                        Some(b'\\') if pattern.len() >= 2 => {
                            pattern = &pattern[1..];
                            if fold(pattern[0]) == fold(target) {
                                matched = true;
                            }
                        }
                        Some(b']') => break,
                        None => {
                            // Unterminated class: Redis steps back so the loop below ends.
                            break;
                        }
                        Some(_) if pattern.len() >= 3 && pattern[1] == b'-' => {
                            let (mut start, mut end) = (fold(pattern[0]), fold(pattern[2]));
                            if start > end {
                                std::mem::swap(&mut start, &mut end);
                            }
                            pattern = &pattern[2..];
                            let folded = fold(target);
                            if folded >= start && folded <= end {
                                matched = true;
                            }
                        }
                        Some(&literal) => {
                            if fold(literal) == fold(target) {
                                matched = true;
                            }
                        }
                    }
                    pattern = &pattern[1..];
                }
                if negate {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                string = &string[1..];
                if pattern.is_empty() {
                    // An unterminated class consumed the rest of the pattern.
                    return string.is_empty();
                }
            }
            b'\\' if pattern.len() >= 2 => {
                pattern = &pattern[1..];
                match string.first() {
                    Some(&byte) if fold(byte) == fold(pattern[0]) => string = &string[1..],
                    _ => return false,
                }
            }
            literal => match string.first() {
                Some(&byte) if fold(byte) == fold(literal) => string = &string[1..],
                _ => return false,
            },
        }
        pattern = &pattern[1..];
        if string.is_empty() {
            while pattern.first() == Some(&b'*') {
                pattern = &pattern[1..];
            }
            break;
        }
    }
    pattern.is_empty() && string.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_empty_string_matches_only_the_empty_pattern() {
        assert!(!glob_match(b"*", b""));
        assert!(!glob_match(b"**", b""));
        assert!(!glob_match(b"?", b""));
        assert!(glob_match(b"", b""));
        assert!(glob_match(b"a*", b"a"));
        assert!(glob_match(b"a**", b"a"));
        assert!(!glob_match_nocase(b"*", b""));
    }

    #[test]
    fn matches_like_redis() {
        let cases: [(&str, &str, bool); 16] = [
            ("*", "anything", true),
            ("*", "", false),
            ("h?llo", "hello", true),
            ("h?llo", "hllo", false),
            ("h*llo", "heeeello", true),
            ("h[ae]llo", "hallo", true),
            ("h[ae]llo", "hillo", false),
            ("h[^e]llo", "hallo", true),
            ("h[^e]llo", "hello", false),
            ("h[a-b]llo", "hbllo", true),
            ("h[b-a]llo", "hallo", true),
            ("h\\*llo", "h*llo", true),
            ("h\\*llo", "hello", false),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("k[", "k", false),
        ];
        for (pattern, string, expected) in cases {
            assert_eq!(
                glob_match(pattern.as_bytes(), string.as_bytes()),
                expected,
                "{pattern} ~ {string}"
            );
        }
        assert!(glob_match_nocase(b"MAX*", b"maxmemory"));
    }
}
