//! Test support shared by the modes' fake servers.

/// One complete request (an array of bulk strings) at the start of `input`: its
/// words and its length in bytes; `None` until it is all there.
pub fn parse_request(input: &[u8]) -> Option<(Vec<Vec<u8>>, usize)> {
    fn number(input: &[u8], position: &mut usize, prefix: u8) -> Option<usize> {
        let rest = input.get(*position..)?;
        let end = rest.windows(2).position(|pair| pair == b"\r\n")?;
        let (&first, digits) = rest[..end].split_first()?;
        assert_eq!(first, prefix);
        *position += end + 2;
        std::str::from_utf8(digits).ok()?.parse().ok()
    }
    let mut position = 0;
    let count = number(input, &mut position, b'*')?;
    let mut words = Vec::with_capacity(count);
    for _ in 0..count {
        let length = number(input, &mut position, b'$')?;
        words.push(input.get(position..position + length)?.to_vec());
        input.get(position + length..position + length + 2)?;
        position += length + 2;
    }
    Some((words, position))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_whole_requests_only() {
        let request = b"*2\r\n$4\r\nXLEN\r\n$0\r\n\r\n";
        assert_eq!(
            parse_request(request),
            Some((vec![b"XLEN".to_vec(), Vec::new()], request.len()))
        );
        for cut in 0..request.len() {
            assert_eq!(parse_request(&request[..cut]), None, "cut at {cut}");
        }
    }
}
