//! End-to-end tests of the wire protocol and the connection commands: RESP2/RESP3 framing,
//! inline commands, pipelining, fragmented input, binary safety, protocol errors, AUTH,
//! HELLO, CLIENT, CONFIG, QUIT and RESET, and malformed requests compared byte for byte with
//! redis-server's answers. Every test runs with 1 and 4 shards.

use peregrine_testkit::{
    encode, encode_command, error_text, keys_on_shards, run, show, with_1_and_4_shards, RawClient,
    TestServer,
};
use std::collections::HashMap;

const BIN: &str = env!("CARGO_BIN_EXE_peregrine-server");

const WRONGPASS: &str = "-WRONGPASS invalid username-password pair or user is disabled.\r\n";
const NOAUTH: &str = "-NOAUTH Authentication required.\r\n";

/// Asserts that `reply` is a RESP3 HELLO map for protocol `proto` and returns the id.
fn assert_hello_map(reply: &[u8], proto: u8) -> i64 {
    let text = show(reply);
    let prefix = if proto == 3 { "%7\r\n" } else { "*14\r\n" };
    assert!(
        text.starts_with(&format!(
            "{prefix}$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.2."
        )),
        "{text:?}"
    );
    assert!(
        text.contains(&format!("$5\r\nproto\r\n:{proto}\r\n$2\r\nid\r\n:")),
        "{text:?}"
    );
    assert!(
        text.ends_with("$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"),
        "{text:?}"
    );
    let id = text
        .split("$2\r\nid\r\n:")
        .nth(1)
        .and_then(|rest| rest.split("\r\n").next());
    id.and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("no id in {text:?}"))
}

/// Asserts that the connection gets exactly `expected` and is then closed by the server.
fn assert_error_then_closed(raw: &mut RawClient, expected: &str) {
    let closed = raw.read_until_closed();
    assert_eq!(show(&closed.received), expected);
}

fn hello_3_switches_to_resp3(server: &TestServer) {
    let mut raw = server.raw();
    let id = assert_hello_map(&raw.cmd(&["HELLO", "3"]), 3);
    assert_eq!(show(&raw.cmd(&["CLIENT", "ID"])), format!(":{id}\r\n"));
    assert_eq!(raw.cmd(&["GET", "missing"]), b"_\r\n");
    assert_eq!(raw.cmd(&["SET", "k", "v"]), b"+OK\r\n");
    assert_eq!(raw.cmd(&["EXISTS", "k"]), b":1\r\n");
    assert_eq!(
        raw.cmd(&["CONFIG", "GET", "databases"]),
        b"%1\r\n$9\r\ndatabases\r\n$2\r\n16\r\n"
    );
    assert_eq!(raw.cmd(&["CLIENT", "GETNAME"]), b"_\r\n");
    assert_eq!(
        raw.cmd(&["COMMAND", "INFO", "nosuchcommand"]),
        b"*1\r\n_\r\n"
    );
    let info = raw.cmd(&["CLIENT", "INFO"]);
    assert!(
        info.starts_with(b"="),
        "CLIENT INFO in RESP3 is a verbatim string: {}",
        show(&info)
    );
    assert!(show(&info).contains(" resp=3"), "{}", show(&info));
    assert_eq!(raw.cmd(&["HELLO", "3"]).get(..4), Some(&b"%7\r\n"[..]));
    // Back to RESP2: the map is a flat array, null a null bulk.
    assert_hello_map(&raw.cmd(&["HELLO", "2"]), 2);
    assert_eq!(raw.cmd(&["GET", "missing"]), b"$-1\r\n");
    assert_eq!(
        raw.cmd(&["CONFIG", "GET", "databases"]),
        b"*2\r\n$9\r\ndatabases\r\n$2\r\n16\r\n"
    );
    assert_eq!(
        raw.cmd(&["HELLO", "4"]),
        b"-NOPROTO unsupported protocol version\r\n"
    );
    assert_eq!(
        raw.cmd(&["HELLO", "x"]),
        b"-ERR Protocol version is not an integer or out of range\r\n"
    );
    assert_eq!(
        raw.cmd(&["HELLO", "3", "BOGUS"]),
        b"-ERR Syntax error in HELLO option 'BOGUS'\r\n"
    );
    // HELLO with no version answers in the current protocol.
    assert_hello_map(&raw.cmd(&["HELLO"]), 2);
    assert_hello_map(&raw.cmd(&["HELLO", "3", "SETNAME", "named"]), 3);
    assert_eq!(raw.cmd(&["CLIENT", "GETNAME"]), b"$5\r\nnamed\r\n");
    // The redis crate negotiates RESP3 itself.
    let mut client = server.client_resp3();
    assert_eq!(
        run::<redis::Value>(&mut client, &["GET", "missing"]),
        redis::Value::Nil
    );
    assert_eq!(run::<String>(&mut client, &["GET", "k"]), "v");
    let config: HashMap<String, String> = run(&mut client, &["CONFIG", "GET", "databases"]);
    assert_eq!(config.get("databases").map(String::as_str), Some("16"));
}

fn config_get_port_reports_the_listening_port(server: &TestServer) {
    // Started with --port 0, the server picked a port; tools read it back from CONFIG
    // GET port and INFO's tcp_port.
    let mut c = server.client();
    let info: String = run(&mut c, &["INFO", "server"]);
    assert!(
        info.contains(&format!("\r\ntcp_port:{}\r\n", server.port())),
        "{info}"
    );
    let config: HashMap<String, String> = run(&mut c, &["CONFIG", "GET", "port"]);
    assert_eq!(config.get("port"), Some(&server.port().to_string()));
}

fn inline_commands(server: &TestServer) {
    let mut raw = server.raw();
    assert_eq!(raw.send_and_read(b"PING\r\n"), b"+PONG\r\n");
    assert_eq!(raw.send_and_read(b"ping\n"), b"+PONG\r\n");
    assert_eq!(raw.send_and_read(b"\r\n\r\nPING\r\n"), b"+PONG\r\n");
    assert_eq!(
        raw.send_and_read(b"SET \"a key\" 'it''s'\r\n"),
        b"-ERR Protocol error: unbalanced quotes in request\r\n"
    );
    assert_error_then_closed(&mut raw, "");
    let mut raw = server.raw();
    assert_eq!(
        raw.send_and_read(b"SET \"a key\" \"two words\"\r\n"),
        b"+OK\r\n"
    );
    assert_eq!(raw.cmd(&["GET", "a key"]), b"$9\r\ntwo words\r\n");
    assert_eq!(
        raw.send_and_read(b"SET 'single quoted' 'it\\'s'\r\n"),
        b"+OK\r\n"
    );
    assert_eq!(raw.cmd(&["GET", "single quoted"]), b"$4\r\nit's\r\n");
    assert_eq!(
        raw.send_and_read(b"ECHO \"a\\x41\\n\\t\"\r\n"),
        b"$4\r\naA\n\t\r\n"
    );
    assert_eq!(
        raw.send_and_read(b"  MGET   \"a key\"   nope  \r\n"),
        b"*2\r\n$9\r\ntwo words\r\n$-1\r\n"
    );
    assert_eq!(
        show(&raw.send_and_read(b"nosuch a b\r\n")),
        "-ERR unknown command 'nosuch', with args beginning with: 'a' 'b' \r\n"
    );
    // Several inline commands in one write, answered in order.
    raw.send(b"SET n 1\r\nINCR n\r\nGET n\r\n");
    assert_eq!(
        raw.read_replies(3),
        vec![
            b"+OK\r\n".to_vec(),
            b":2\r\n".to_vec(),
            b"$1\r\n2\r\n".to_vec()
        ]
    );
    assert_eq!(
        raw.send_and_read(b"ECHO \"unterminated\r\n"),
        b"-ERR Protocol error: unbalanced quotes in request\r\n"
    );
    assert_error_then_closed(&mut raw, "");
}

fn pipeline_of_10k_commands_in_one_write(server: &TestServer) {
    let mut raw = server.raw();
    let mut request = Vec::new();
    let mut expected = Vec::new();
    let cycles = 3334;
    for index in 0..cycles {
        let key = format!("pipe:{index}");
        let value = format!("value-{index}");
        request.extend(encode(&["SET", &key, &value]));
        expected.push(b"+OK\r\n".to_vec());
        request.extend(encode(&["GET", &key]));
        expected.push(format!("${}\r\n{value}\r\n", value.len()).into_bytes());
        request.extend(encode(&["INCR", "pipe:counter"]));
        expected.push(format!(":{}\r\n", index + 1).into_bytes());
    }
    assert!(expected.len() >= 10_000);
    raw.send(&request);
    let replies = raw.read_replies(expected.len());
    for (index, (reply, wanted)) in replies.iter().zip(&expected).enumerate() {
        assert_eq!(show(reply), show(wanted), "reply #{index} of the pipeline");
    }
    assert!(
        raw.buffered().is_empty(),
        "extra bytes after the pipeline's replies"
    );
    assert_eq!(show(&raw.cmd(&["DBSIZE"])), format!(":{}\r\n", cycles + 1));
}

/// INFO commandstats counts every command of a pipeline, runs of the same command and
/// mixed ones alike, with its failures, and times them.
fn commandstats_count_every_command_of_a_pipeline(server: &TestServer) {
    let mut raw = server.raw();
    let mut request = Vec::new();
    for index in 0..5 {
        request.extend(encode(&["SET", &format!("stat:{index}"), "v"]));
    }
    for index in 0..3 {
        request.extend(encode(&["GET", &format!("stat:{index}")]));
        request.extend(encode(&["INCR", &format!("stat:{index}")]));
    }
    request.extend(encode(&["SET", "stat:last", "v"]));
    raw.send(&request);
    raw.read_replies(12);
    let info = show(&raw.cmd(&["INFO", "commandstats"]));
    let stat = |name: &str| {
        info.lines()
            .find_map(|line| line.strip_prefix(&format!("cmdstat_{name}:")))
            .unwrap_or_else(|| panic!("no cmdstat_{name} in {info}"))
            .to_owned()
    };
    let field = |line: &str, name: &str| -> f64 {
        line.split(',')
            .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {line}"))
    };
    for (name, calls, failed) in [("set", 6.0, 0.0), ("get", 3.0, 0.0), ("incr", 3.0, 3.0)] {
        let line = stat(name);
        assert_eq!(field(&line, "calls"), calls, "{line}");
        assert_eq!(field(&line, "failed_calls"), failed, "{line}");
        assert_eq!(
            field(&line, "usec_per_call"),
            (field(&line, "usec") / calls * 100.0).round() / 100.0,
            "{line}"
        );
    }
}

fn commands_split_byte_by_byte(server: &TestServer) {
    let mut raw = server.raw();
    let mut request = encode(&["SET", "split", "hello\r\nworld"]);
    request.extend(encode(&["GET", "split"]));
    request.extend(b"PING\r\n");
    request.extend(encode(&["MGET", "split", "nope"]));
    for byte in &request {
        raw.send(std::slice::from_ref(byte));
    }
    assert_eq!(raw.read_reply(), b"+OK\r\n");
    assert_eq!(raw.read_reply(), b"$12\r\nhello\r\nworld\r\n");
    assert_eq!(raw.read_reply(), b"+PONG\r\n");
    assert_eq!(raw.read_reply(), b"*2\r\n$12\r\nhello\r\nworld\r\n$-1\r\n");
    // A split exactly between a bulk's payload and its CRLF.
    raw.send(b"*2\r\n$4\r\nECHO\r\n$3\r\nabc");
    raw.send(b"\r");
    raw.send(b"\n");
    assert_eq!(raw.read_reply(), b"$3\r\nabc\r\n");
}

fn binary_safe_keys_and_values(server: &TestServer) {
    let mut raw = server.raw();
    let key: &[u8] = b"k\0\r\n\xff";
    let value: Vec<u8> = (0..=255u8).rev().chain(b"\r\n\0".iter().copied()).collect();
    assert_eq!(raw.command(&[b"SET", key, &value]), b"+OK\r\n");
    let mut expected = format!("${}\r\n", value.len()).into_bytes();
    expected.extend(&value);
    expected.extend(b"\r\n");
    assert_eq!(raw.command(&[b"GET", key]), expected);
    assert_eq!(raw.command(&[b"EXISTS", key]), b":1\r\n");
    let mut keys_reply = b"*1\r\n$5\r\n".to_vec();
    keys_reply.extend(key);
    keys_reply.extend(b"\r\n");
    assert_eq!(raw.command(&[b"KEYS", b"*"]), keys_reply);
    // Binary keys spread over shards, in one cross-shard MSET.
    let mut c = server.client();
    let keys: Vec<Vec<u8>> = keys_on_shards("bin\0", 4, server.shards())
        .into_iter()
        .map(|key| [key.as_bytes(), b"\r\n\0"].concat())
        .collect();
    let mut mset = redis::cmd("MSET");
    for (index, key) in keys.iter().enumerate() {
        mset.arg(key).arg(&[b'\0', index as u8, b'\n'][..]);
    }
    mset.query::<()>(&mut c).unwrap();
    let values: Vec<Vec<u8>> = redis::cmd("MGET").arg(&keys).query(&mut c).unwrap();
    for (index, value) in values.iter().enumerate() {
        assert_eq!(value, &[b'\0', index as u8, b'\n']);
    }
}

fn invalid_bulk_length_closes_only_that_connection(server: &TestServer) {
    let mut bystander = server.raw();
    assert_eq!(bystander.cmd(&["SET", "k", "v"]), b"+OK\r\n");
    let mut bad = server.raw();
    bad.send(b"*1\r\n$-5\r\n");
    assert_error_then_closed(&mut bad, "-ERR Protocol error: invalid bulk length\r\n");
    let mut bad = server.raw();
    bad.send(b"*1\r\n$x\r\n");
    assert_error_then_closed(&mut bad, "-ERR Protocol error: invalid bulk length\r\n");
    // Replies to commands before the error still come, in order.
    let mut bad = server.raw();
    bad.send(b"PING\r\n*2\r\n$3\r\nGET\r\n$-5\r\n");
    assert_error_then_closed(
        &mut bad,
        "+PONG\r\n-ERR Protocol error: invalid bulk length\r\n",
    );
    assert_eq!(bystander.cmd(&["GET", "k"]), b"$1\r\nv\r\n");
    assert_eq!(server.raw().cmd(&["PING"]), b"+PONG\r\n");
}

fn invalid_multibulk_length_and_other_framing_errors(server: &TestServer) {
    let mut bystander = server.raw();
    assert_eq!(bystander.cmd(&["PING"]), b"+PONG\r\n");
    for (input, error) in [
        (
            &b"*x\r\n"[..],
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            &b"*2147483648\r\n"[..],
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            &b"*1\r\nx\r\n"[..],
            "-ERR Protocol error: expected '$', got 'x'\r\n",
        ),
        (
            &b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870913\r\n"[..],
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
    ] {
        let mut bad = server.raw();
        bad.send(input);
        assert_error_then_closed(&mut bad, error);
    }
    // Empty and null multibulks are ignored.
    let mut raw = server.raw();
    assert_eq!(raw.send_and_read(b"*0\r\n*-1\r\nPING\r\n"), b"+PONG\r\n");
    assert_eq!(bystander.cmd(&["PING"]), b"+PONG\r\n");
}

fn proto_max_bulk_len_limits_bulks(server: &TestServer) {
    let mut c = server.client();
    let config: HashMap<String, String> = run(&mut c, &["CONFIG", "GET", "proto-max-bulk-len"]);
    assert_eq!(
        config.get("proto-max-bulk-len").map(String::as_str),
        Some("1048576")
    );
    let limit = 1 << 20;
    let mut raw = server.raw();
    assert_eq!(raw.command(&[b"SET", b"k", &vec![b'a'; limit]]), b"+OK\r\n");
    assert_eq!(show(&raw.cmd(&["STRLEN", "k"])), format!(":{limit}\r\n"));
    let mut bad = server.raw();
    bad.send(format!("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${}\r\n", limit + 1).as_bytes());
    assert_error_then_closed(&mut bad, "-ERR Protocol error: invalid bulk length\r\n");
    // A string command may not grow a value past the limit either.
    assert_eq!(
        raw.cmd(&["APPEND", "k", "b"]),
        b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"
    );
    assert_eq!(
        raw.cmd(&["SETRANGE", "k", &limit.to_string(), "b"]),
        b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"
    );
    // CONFIG SET takes effect for new bulks.
    assert_eq!(
        run::<String>(&mut c, &["CONFIG", "SET", "proto-max-bulk-len", "2mb"]),
        "OK"
    );
    let config: HashMap<String, String> = run(&mut c, &["CONFIG", "GET", "proto-max-bulk-len"]);
    assert_eq!(
        config.get("proto-max-bulk-len").map(String::as_str),
        Some("2097152")
    );
    let mut raw = server.raw();
    assert_eq!(
        raw.command(&[b"SET", b"k2", &vec![b'b'; limit + 1]]),
        b"+OK\r\n"
    );
    assert_eq!(
        raw.cmd(&["APPEND", "k", "b"]),
        format!(":{}\r\n", limit + 1).as_bytes()
    );
    assert_eq!(
        run::<String>(&mut c, &["CONFIG", "SET", "proto-max-bulk-len", "1048576"]),
        "OK"
    );
    let mut raw = server.raw();
    raw.send(format!("*2\r\n$3\r\nGET\r\n${}\r\n", limit + 1).as_bytes());
    assert_error_then_closed(&mut raw, "-ERR Protocol error: invalid bulk length\r\n");
}

fn config_set_keeps_proto_max_bulk_len_in_range(server: &TestServer) {
    let mut raw = server.raw();
    assert_eq!(
        show(&raw.cmd(&["CONFIG", "SET", "proto-max-bulk-len", "1000"])),
        "-ERR CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - argument must be between 1048576 and 9223372036854775807 inclusive\r\n"
    );
    // The failed CONFIG SET changed nothing: normal bulks still pass.
    assert_eq!(
        raw.cmd(&["CONFIG", "GET", "proto-max-bulk-len"]),
        b"*2\r\n$18\r\nproto-max-bulk-len\r\n$9\r\n536870912\r\n"
    );
    assert_eq!(raw.cmd(&["SET", "k", &"x".repeat(5000)]), b"+OK\r\n");
}

fn config_set_errors_as_redis(server: &TestServer) {
    let mut raw = server.raw();
    assert_eq!(
        show(&raw.cmd(&["CONFIG", "SET", "nosuch", "1"])),
        "-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'\r\n"
    );
    assert_eq!(
        show(&raw.cmd(&["CONFIG", "GET"])),
        "-ERR wrong number of arguments for 'config|get' command\r\n"
    );
    assert_eq!(
        show(&raw.cmd(&["CONFIG", "SET", "maxclients"])),
        "-ERR wrong number of arguments for 'config|set' command\r\n"
    );
    assert_eq!(
        show(&raw.cmd(&["CONFIG", "BOGUS"])),
        "-ERR unknown subcommand 'BOGUS'. Try CONFIG HELP.\r\n"
    );
    assert_eq!(
        show(&raw.cmd(&["CONFIG", "SET", "protected-mode", "maybe"])),
        "-ERR CONFIG SET failed (possibly related to argument 'protected-mode') - argument must be 'yes' or 'no'\r\n"
    );
    assert_eq!(
        show(&raw.cmd(&["CONFIG", "SET", "maxclients", "abc"])),
        "-ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument couldn't be parsed into an integer\r\n"
    );
    assert_eq!(
        show(&raw.cmd(&["CONFIG", "SET", "proto-max-bulk-len", "lots"])),
        "-ERR CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - argument must be a memory value\r\n"
    );
    assert_eq!(
        show(&raw.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEq"])),
        "-ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'.\r\n"
    );
    // Redis reads the classes back in its own order.
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]),
        b"+OK\r\n"
    );
    assert_eq!(
        raw.cmd(&["CONFIG", "GET", "notify-keyspace-events"]),
        b"*2\r\n$22\r\nnotify-keyspace-events\r\n$3\r\nAKE\r\n"
    );
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "notify-keyspace-events", ""]),
        b"+OK\r\n"
    );
}

fn config_get_globs(server: &TestServer) {
    let mut c = server.client();
    let all: HashMap<String, String> = run(&mut c, &["CONFIG", "GET", "*"]);
    assert!(
        all.contains_key("port") && all.contains_key("bind") && all.contains_key("maxclients"),
        "{all:?}"
    );
    assert_eq!(all.get("databases").map(String::as_str), Some("16"));
    let max: HashMap<String, String> = run(&mut c, &["CONFIG", "GET", "max*"]);
    for name in ["maxclients", "maxmemory", "maxmemory-policy"] {
        assert!(
            max.contains_key(name),
            "CONFIG GET max* lacks {name}: {max:?}"
        );
    }
    assert!(max.keys().all(|name| name.starts_with("max")), "{max:?}");
    let several: HashMap<String, String> = run(
        &mut c,
        &["CONFIG", "GET", "port", "*max-*-len", "DATABASES"],
    );
    assert_eq!(several.len(), 3, "{several:?}");
    assert!(several.contains_key("proto-max-bulk-len"));
    assert!(several.contains_key("databases"));
    let question: HashMap<String, String> = run(&mut c, &["CONFIG", "GET", "p?rt"]);
    assert_eq!(question.len(), 1);
    let none: HashMap<String, String> = run(&mut c, &["CONFIG", "GET", "no-such-*"]);
    assert!(none.is_empty());
    assert_eq!(
        run::<String>(&mut c, &["CONFIG", "SET", "maxmemory", "10mb"]),
        "OK"
    );
    let memory: HashMap<String, String> = run(&mut c, &["CONFIG", "GET", "maxmemory"]);
    assert_eq!(
        memory.get("maxmemory").map(String::as_str),
        Some("10485760")
    );
}

fn client_setname_getname_id_list(server: &TestServer) {
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["CLIENT", "GETNAME"]), b"$-1\r\n");
    assert_eq!(raw.cmd(&["CLIENT", "SETNAME", "main-conn"]), b"+OK\r\n");
    assert_eq!(raw.cmd(&["CLIENT", "GETNAME"]), b"$9\r\nmain-conn\r\n");
    assert_eq!(
        raw.cmd(&["CLIENT", "SETNAME", "has space"]),
        b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
    );
    assert_eq!(raw.cmd(&["CLIENT", "GETNAME"]), b"$9\r\nmain-conn\r\n");
    let id_reply = show(&raw.cmd(&["CLIENT", "ID"]));
    let id: u64 = id_reply
        .trim_start_matches(':')
        .trim_end()
        .parse()
        .expect("CLIENT ID is an integer");
    // Other connections, spread over the shards by the kernel, all appear in CLIENT LIST.
    let mut others: Vec<RawClient> = (0..8).map(|_| server.raw()).collect();
    let mut ids = vec![id];
    for (index, other) in others.iter_mut().enumerate() {
        assert_eq!(
            other.cmd(&["CLIENT", "SETNAME", &format!("other-{index}")]),
            b"+OK\r\n"
        );
        let other_id: u64 = show(&other.cmd(&["CLIENT", "ID"]))
            .trim_start_matches(':')
            .trim_end()
            .parse()
            .unwrap();
        ids.push(other_id);
    }
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "client ids repeat: {ids:?}");
    let list = show(&raw.cmd(&["CLIENT", "LIST"]));
    let body = list
        .split_once("\r\n")
        .map(|(_, body)| body)
        .unwrap_or_default();
    for index in 0..8 {
        let name = format!(" name=other-{index} ");
        assert_eq!(body.matches(&name).count(), 1, "{name} in:\n{body}");
    }
    let mine = body
        .lines()
        .map(str::to_owned)
        .find(|line| line.starts_with(&format!("id={id} ")))
        .unwrap_or_else(|| panic!("no line for id {id} in:\n{body}"));
    assert!(mine.contains(" name=main-conn "), "{mine}");
    assert!(
        mine.contains(&format!(" laddr=127.0.0.1:{} ", server.port())),
        "{mine}"
    );
    let only = show(&raw.cmd(&[
        "CLIENT",
        "LIST",
        "ID",
        &ids[1].to_string(),
        &ids[2].to_string(),
    ]));
    let listed = only
        .split_once("\r\n")
        .map(|(_, body)| body)
        .unwrap_or_default();
    assert_eq!(
        listed
            .lines()
            .filter(|line| line.starts_with("id="))
            .count(),
        2,
        "{only}"
    );
    assert!(
        only.contains(" name=other-0 ") && only.contains(" name=other-1 "),
        "{only}"
    );
    assert_eq!(
        raw.cmd(&["CLIENT", "LIST", "ID", "abc"]),
        b"-ERR Invalid client ID\r\n"
    );
    assert_eq!(
        raw.cmd(&["CLIENT", "NOSUCH"]),
        b"-ERR unknown subcommand 'NOSUCH'. Try CLIENT HELP.\r\n"
    );
    assert_eq!(
        raw.cmd(&["CLIENT", "ID", "x"]),
        b"-ERR wrong number of arguments for 'client|id' command\r\n"
    );
    drop(others);
    // As Redis 7, `cmd=` names the subcommand the client is running.
    assert!(
        mine.contains(" cmd=client|list "),
        "CLIENT LIST shows the running subcommand: {mine}"
    );
}

fn client_kill_closes_the_victim(server: &TestServer) {
    let mut killer = server.raw();
    let mut victims: Vec<RawClient> = (0..4).map(|_| server.raw()).collect();
    let mut ids = Vec::new();
    for victim in &mut victims {
        let id: u64 = show(&victim.cmd(&["CLIENT", "ID"]))
            .trim_start_matches(':')
            .trim_end()
            .parse()
            .unwrap();
        ids.push(id);
    }
    assert_eq!(
        show(&killer.cmd(&["CLIENT", "KILL", "ID", &ids[0].to_string()])),
        ":1\r\n"
    );
    let closed = victims[0].read_until_closed();
    assert!(closed.received.is_empty(), "{:?}", show(&closed.received));
    assert_eq!(
        show(&killer.cmd(&["CLIENT", "KILL", "ID", &ids[0].to_string()])),
        ":0\r\n"
    );
    // The old form names the client by address.
    let address = victims[1].stream().local_addr().unwrap().to_string();
    assert_eq!(killer.cmd(&["CLIENT", "KILL", &address]), b"+OK\r\n");
    victims[1].read_until_closed();
    assert_eq!(
        killer.cmd(&["CLIENT", "KILL", &address]),
        b"-ERR No such client\r\n"
    );
    let address = victims[2].stream().local_addr().unwrap().to_string();
    assert_eq!(
        killer.cmd(&["CLIENT", "KILL", "ADDR", &address, "SKIPME", "yes"]),
        b":1\r\n"
    );
    victims[2].read_until_closed();
    assert_eq!(
        killer.cmd(&["CLIENT", "KILL", "ID", "0"]),
        b"-ERR client-id should be greater than 0\r\n"
    );
    assert_eq!(
        killer.cmd(&["CLIENT", "KILL", "LADDR", "x", "SKIPME", "maybe"]),
        b"-ERR syntax error\r\n"
    );
    // Untouched connections keep working.
    assert_eq!(victims[3].cmd(&["PING"]), b"+PONG\r\n");
    assert_eq!(killer.cmd(&["PING"]), b"+PONG\r\n");
}

fn client_reply_off_skip_on(server: &TestServer) {
    let mut raw = server.raw();
    raw.send(
        &[
            encode(&["CLIENT", "REPLY", "OFF"]),
            encode(&["SET", "a", "1"]),
            encode(&["GET", "a"]),
            encode(&["CLIENT", "REPLY", "ON"]),
            encode(&["GET", "a"]),
        ]
        .concat(),
    );
    assert_eq!(raw.read_reply(), b"+OK\r\n");
    assert_eq!(raw.read_reply(), b"$1\r\n1\r\n");
    raw.send(
        &[
            encode(&["CLIENT", "REPLY", "SKIP"]),
            encode(&["INCR", "a"]),
            encode(&["INCR", "a"]),
        ]
        .concat(),
    );
    assert_eq!(raw.read_reply(), b":3\r\n");
    // OFF is silent across separate writes too, and its effects still happen.
    assert_eq!(
        raw.cmd(&["CLIENT", "REPLY", "BOGUS"]),
        b"-ERR syntax error\r\n"
    );
    raw.send(&encode(&["CLIENT", "REPLY", "OFF"]));
    raw.send(&encode(&["INCR", "a"]));
    raw.send(&encode(&["SET", "b", "2"]));
    assert_eq!(raw.cmd(&["CLIENT", "REPLY", "ON"]), b"+OK\r\n");
    assert_eq!(
        raw.cmd(&["MGET", "a", "b"]),
        b"*2\r\n$1\r\n4\r\n$1\r\n2\r\n"
    );
    assert!(raw.buffered().is_empty());
}

fn quit_replies_then_closes(server: &TestServer) {
    let mut raw = server.raw();
    raw.send(b"PING\r\nQUIT\r\nPING\r\n");
    let closed = raw.read_until_closed();
    assert_eq!(show(&closed.received), "+PONG\r\n+OK\r\n");
    let mut raw = server.raw();
    raw.send(&encode(&["QUIT", "extra", "args"]));
    assert_eq!(show(&raw.read_until_closed().received), "+OK\r\n");
    assert_eq!(server.raw().cmd(&["PING"]), b"+PONG\r\n");
}

fn reset_restores_the_connection_defaults(server: &TestServer) {
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["SET", "in-db0", "0"]), b"+OK\r\n");
    assert_eq!(raw.cmd(&["SELECT", "4"]), b"+OK\r\n");
    assert_eq!(raw.cmd(&["CLIENT", "SETNAME", "before-reset"]), b"+OK\r\n");
    assert_hello_map(&raw.cmd(&["HELLO", "3"]), 3);
    assert_eq!(raw.cmd(&["GET", "in-db0"]), b"_\r\n");
    raw.send(&encode(&["CLIENT", "REPLY", "OFF"]));
    assert_eq!(raw.cmd(&["RESET"]), b"+RESET\r\n");
    assert_eq!(raw.cmd(&["GET", "in-db0"]), b"$1\r\n0\r\n");
    assert_eq!(raw.cmd(&["GET", "missing"]), b"$-1\r\n");
    assert_eq!(raw.cmd(&["CLIENT", "GETNAME"]), b"$-1\r\n");
    assert!(show(&raw.cmd(&["CLIENT", "INFO"])).contains(" db=0 "));
}

fn requirepass_auth_and_hello_auth(server: &TestServer) {
    let mut raw = server.raw();
    assert_eq!(show(&raw.cmd(&["GET", "k"])), NOAUTH);
    assert_eq!(show(&raw.cmd(&["PING"])), NOAUTH);
    assert_eq!(show(&raw.cmd(&["AUTH", "wrong"])), WRONGPASS);
    assert_eq!(show(&raw.cmd(&["AUTH", "default", "wrong"])), WRONGPASS);
    assert_eq!(show(&raw.cmd(&["AUTH", "nobody", "s3cret"])), WRONGPASS);
    assert_eq!(
        show(&raw.cmd(&["AUTH", "a", "b", "c"])),
        "-ERR syntax error\r\n"
    );
    assert_eq!(show(&raw.cmd(&["SET", "k", "v"])), NOAUTH);
    assert_eq!(
        show(&raw.cmd(&["HELLO", "3"])),
        "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n"
    );
    assert_eq!(raw.cmd(&["AUTH", "s3cret"]), b"+OK\r\n");
    assert_eq!(raw.cmd(&["SET", "k", "v"]), b"+OK\r\n");
    assert_eq!(raw.cmd(&["GET", "k"]), b"$1\r\nv\r\n");
    // RESET forgets the authentication.
    assert_eq!(raw.cmd(&["RESET"]), b"+RESET\r\n");
    assert_eq!(show(&raw.cmd(&["GET", "k"])), NOAUTH);
    // HELLO AUTH authenticates and switches protocol in one step.
    let mut hello = server.raw();
    assert_eq!(
        show(&hello.cmd(&["HELLO", "3", "AUTH", "default", "wrong"])),
        WRONGPASS
    );
    assert_eq!(show(&hello.cmd(&["GET", "k"])), NOAUTH);
    assert_hello_map(
        &hello.cmd(&[
            "HELLO", "3", "AUTH", "default", "s3cret", "SETNAME", "authed",
        ]),
        3,
    );
    assert_eq!(hello.cmd(&["GET", "k"]), b"$1\r\nv\r\n");
    assert_eq!(hello.cmd(&["GET", "nope"]), b"_\r\n");
    assert_eq!(hello.cmd(&["CLIENT", "GETNAME"]), b"$6\r\nauthed\r\n");
    assert_eq!(hello.cmd(&["AUTH", "default", "s3cret"]), b"+OK\r\n");
    // The redis crate authenticates from the URL, in RESP2 and RESP3.
    let mut client =
        server.client_from_url(&format!("redis://:s3cret@127.0.0.1:{}/", server.port()));
    assert_eq!(run::<String>(&mut client, &["GET", "k"]), "v");
    let mut client = server.client_from_url(&format!(
        "redis://default:s3cret@127.0.0.1:{}/?protocol=resp3",
        server.port()
    ));
    assert_eq!(run::<String>(&mut client, &["GET", "k"]), "v");
    let refused = redis::Client::open(format!("redis://:wrong@127.0.0.1:{}/", server.port()))
        .and_then(|client| client.get_connection());
    match refused {
        Ok(_) => panic!("a wrong password connected"),
        Err(error) => assert_eq!(
            error.kind(),
            redis::ErrorKind::AuthenticationFailed,
            "{}",
            error_text(&error)
        ),
    }
}

fn unauthenticated_clients_get_lookup_and_arity_errors_first(server: &TestServer) {
    // As Redis 7.2 (processCommand): lookup and arity errors come before the
    // authentication check.
    let mut raw = server.raw();
    assert_eq!(show(&raw.cmd(&["GET", "k"])), NOAUTH);
    assert_eq!(
        show(&raw.cmd(&["NOSUCH", "x"])),
        "-ERR unknown command 'NOSUCH', with args beginning with: 'x' \r\n"
    );
    assert_eq!(
        show(&raw.cmd(&["GET"])),
        "-ERR wrong number of arguments for 'get' command\r\n"
    );
}

fn unauthenticated_clients_get_small_limits(server: &TestServer) {
    // Unauthenticated clients may not send big requests.
    let mut big = server.raw();
    big.send(b"*11\r\n");
    assert_error_then_closed(
        &mut big,
        "-ERR Protocol error: unauthenticated multibulk length\r\n",
    );
    let mut big = server.raw();
    big.send(b"*2\r\n$4\r\nAUTH\r\n$16385\r\n");
    assert_error_then_closed(
        &mut big,
        "-ERR Protocol error: unauthenticated bulk length\r\n",
    );
    // Authenticated clients may.
    let mut authed = server.raw();
    assert_eq!(authed.cmd(&["AUTH", "s3cret"]), b"+OK\r\n");
    let mut args: Vec<&[u8]> = vec![b"MSET"];
    let value = vec![b'v'; 20_000];
    for key in ["a", "b", "c", "d", "e", "f"] {
        args.push(key.as_bytes());
        args.push(&value);
    }
    assert_eq!(authed.send_and_read(&encode_command(&args)), b"+OK\r\n");
}

fn auth_without_a_password_configured(server: &TestServer) {
    let mut raw = server.raw();
    assert_eq!(
        show(&raw.cmd(&["AUTH", "x"])),
        "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n"
    );
    assert_eq!(raw.cmd(&["AUTH", "default", "anything"]), b"+OK\r\n");
    assert_eq!(show(&raw.cmd(&["AUTH", "someone", "anything"])), WRONGPASS);
    assert_hello_map(&raw.cmd(&["HELLO", "3", "AUTH", "default", "x"]), 3);
}

with_1_and_4_shards! {
    bin = BIN;
    hello_3_switches_to_resp3,
    config_get_port_reports_the_listening_port,
    inline_commands,
    pipeline_of_10k_commands_in_one_write,
    commandstats_count_every_command_of_a_pipeline,
    commands_split_byte_by_byte,
    binary_safe_keys_and_values,
    invalid_bulk_length_closes_only_that_connection,
    invalid_multibulk_length_and_other_framing_errors,
    malformed_requests_get_what_redis_server_answers,
    a_large_pipeline_then_the_end_of_the_stream_is_answered_in_full,
    proto_max_bulk_len_limits_bulks ["--proto-max-bulk-len", "1mb"],
    config_set_keeps_proto_max_bulk_len_in_range,
    config_set_errors_as_redis,
    config_get_globs,
    client_setname_getname_id_list,
    client_kill_closes_the_victim,
    client_reply_off_skip_on,
    quit_replies_then_closes,
    reset_restores_the_connection_defaults,
    requirepass_auth_and_hello_auth ["--requirepass", "s3cret"],
    unauthenticated_clients_get_lookup_and_arity_errors_first ["--requirepass", "s3cret"],
    unauthenticated_clients_get_small_limits ["--requirepass", "s3cret"],
    auth_without_a_password_configured,
}

/// A server started with a config file and flags: flags override the file.
#[test]
fn config_file_then_flags() {
    let directory =
        std::env::temp_dir().join(format!("peregrine-protocol-test-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let file = directory.join("peregrine.conf");
    std::fs::write(
        &file,
        "# test config\nrequirepass \"from file\"\nmaxclients 123\n",
    )
    .unwrap();
    let server = TestServer::start_with_config(BIN, &file, 1, &["--maxclients", "321"]);
    let mut raw = server.raw();
    assert_eq!(show(&raw.cmd(&["PING"])), NOAUTH);
    assert_eq!(raw.cmd(&["AUTH", "from file"]), b"+OK\r\n");
    assert_eq!(
        raw.cmd(&["CONFIG", "GET", "maxclients"]),
        b"*2\r\n$10\r\nmaxclients\r\n$3\r\n321\r\n"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&directory);
}

/// Sends `request` on a new connection to `port`, closes the sending side and returns
/// everything received until the server closes the connection (which it does at the end
/// of the input, having answered every complete request in it).
fn exchange_until_closed(port: u16, request: &[u8]) -> Vec<u8> {
    let mut client = RawClient::connect(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    client.send(request);
    client
        .stream()
        .shutdown(std::net::Shutdown::Write)
        .expect("half-close");
    client.read_until_closed().received
}

/// A pipeline larger than the server's read buffer, sent with the end of the stream right
/// behind it, is answered in full and the connection then closes: the reads that fill
/// their buffer go on without waiting for a readiness event, and the end of the stream,
/// which arrives with the data and is never announced again, is still read.
fn a_large_pipeline_then_the_end_of_the_stream_is_answered_in_full(server: &TestServer) {
    let pings = 30_000;
    let request = b"PING\r\n".repeat(pings);
    let received = exchange_until_closed(server.port(), &request);
    assert_eq!(received.len(), pings * b"+PONG\r\n".len());
    assert!(received.chunks(7).all(|reply| reply == b"+PONG\r\n"));
}

fn malformed_requests_get_what_redis_server_answers(server: &TestServer) {
    // Regression: `$04`, `*01` and `$-0` were taken as lengths and `*1\n$4\n` as a
    // multibulk; redis-server rejects all four.
    let Some(redis) = peregrine_testkit::RedisOracle::start("the malformed request comparison")
    else {
        return;
    };
    let requests: &[&[u8]] = &[
        b"*1\r\n$04\r\nPING\r\n",
        b"*01\r\n$4\r\nPING\r\n",
        b"*1\r\n$-0\r\nPING\r\n",
        b"*-0\r\n",
        b"*1\r\n$+4\r\nPING\r\n",
        b"*+1\r\n$4\r\nPING\r\n",
        b"*1\r\n$4 \r\nPING\r\n",
        b"*1 \r\n$4\r\nPING\r\n",
        b"*1\n$4\nPING\r\n",
        b"*1\rx$4\r\nPING\r\n",
        b"*1\r\n$4\r\nPINGxx*1\r\n$4\r\nPING\r\n",
        b"*1\r\n$4\r\nPING\n\n",
        b"*\r\n",
        b"*3000000000\r\n",
        b"*1\r\n$18446744073709551616\r\nPING\r\n",
        b"*1\r\n:4\r\n",
        b"*0\r\n*-1\r\nPING\r\n",
        b"*2\r\n$4\r\necho\r\n$0\r\n\r\n",
        b"$4\r\nPING\r\n",
        b"PING\n",
        b"PING\r\r\n",
        b"\r\n\r\n  PING  \r\n",
        b"\x00\x01\r\nPING\r\n",
        b"ECHO \"a\\x41b\"\r\n",
        b"ECHO \"unbalanced\r\n",
        b"ECHO 'a\\'b'\r\n",
        b"ECHO \"a\"b\r\n",
        b"ping\r\nPiNg\r\n",
    ];
    for request in requests {
        assert_eq!(
            show(&exchange_until_closed(server.port(), request)),
            show(&exchange_until_closed(redis.port(), request)),
            "request {:?}",
            show(request)
        );
    }
}

/// DEBUG PROTOCOL sends each RESP type byte for byte as redis-server does, in RESP2 and
/// RESP3 (client libraries test their parsers with it).
#[test]
fn debug_protocol_matches_redis() {
    let Some(oracle) = peregrine_testkit::RedisOracle::start_with(
        "the DEBUG PROTOCOL comparison",
        &["--enable-debug-command", "yes"],
    ) else {
        return;
    };
    let server = TestServer::start(BIN, 2);
    let kinds = [
        "string", "integer", "double", "bignum", "null", "array", "set", "map", "attrib", "push",
        "verbatim", "true", "false", "nosuch",
    ];
    for resp3 in [false, true] {
        let mut answers = Vec::new();
        for address in [([127, 0, 0, 1], oracle.port()).into(), server.addr()] {
            let mut client = RawClient::connect(address);
            if resp3 {
                client.cmd(&["HELLO", "3"]);
            }
            let mut replies = Vec::new();
            for kind in kinds {
                client.send(&encode(&["DEBUG", "PROTOCOL", kind]));
                let mut reply = client.read_reply();
                // A push comes before the reply that follows it (an attribute is read
                // with the reply it annotates).
                if reply.first() == Some(&b'>') {
                    reply.extend(client.read_reply());
                }
                replies.push(show(&reply));
            }
            answers.push(replies);
        }
        assert_eq!(
            answers[1], answers[0],
            "RESP3 {resp3}: Peregrine's, then redis-server's"
        );
    }
}
