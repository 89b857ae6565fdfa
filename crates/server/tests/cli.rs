//! End-to-end tests with the distribution's own tools: `redis-cli` (one-shot commands,
//! commands from stdin, RESP3, `--scan`, `--pipe` mass insertion) and `redis-benchmark`.
//! Run with 1 and 4 shards. When a tool is missing the test prints a note and passes,
//! except under CI (`CI=true`), where a missing tool fails the test.

use peregrine_testkit::{encode, keys_on_shards, required_tool, with_1_and_4_shards, TestServer};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_peregrine-server");

/// Runs `tool` with `-p PORT` and `args`, feeding `stdin`; panics if it cannot run.
fn run_tool(tool: &Path, server: &TestServer, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(tool)
        .arg("-p")
        .arg(server.port().to_string())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("can't run {}: {error}", tool.display()));
    let mut input = child.stdin.take().expect("stdin is piped");
    let stdin = stdin.to_vec();
    // Feed stdin from a thread so a tool that writes while we write cannot deadlock.
    let feeder = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let output = child.wait_with_output().expect("the tool ran");
    feeder.join().expect("stdin feeder");
    output
}

/// Runs `redis-cli -p PORT args...` and returns its stdout, asserting exit status 0.
fn cli(tool: &Path, server: &TestServer, args: &[&str]) -> String {
    let output = run_tool(tool, server, args, b"");
    assert!(
        output.status.success(),
        "redis-cli {args:?} failed: {:?}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn redis_cli_one_shot_commands(server: &TestServer) {
    let Some(tool) = required_tool("redis-cli", "the redis-cli test") else {
        return;
    };
    assert_eq!(cli(&tool, server, &["SET", "k", "v"]), "OK\n");
    assert_eq!(cli(&tool, server, &["--no-raw", "GET", "k"]), "\"v\"\n");
    assert_eq!(cli(&tool, server, &["GET", "k"]), "v\n");
    assert_eq!(
        cli(&tool, server, &["--no-raw", "GET", "missing"]),
        "(nil)\n"
    );
    assert_eq!(cli(&tool, server, &["GET", "missing"]), "\n");
    assert_eq!(
        cli(&tool, server, &["--no-raw", "INCR", "n"]),
        "(integer) 1\n"
    );
    assert_eq!(
        cli(&tool, server, &["--no-raw", "MGET", "k", "missing", "n"]),
        "1) \"v\"\n2) (nil)\n3) \"1\"\n"
    );
    assert_eq!(
        cli(&tool, server, &["--no-raw", "GET"]),
        "(error) ERR wrong number of arguments for 'get' command\n"
    );
    assert_eq!(
        cli(
            &tool,
            server,
            &["--no-raw", "SET", "spaced key", "a value\nwith newline"]
        ),
        "OK\n"
    );
    assert_eq!(
        cli(&tool, server, &["--no-raw", "GET", "spaced key"]),
        "\"a value\\nwith newline\"\n"
    );
    assert_eq!(
        cli(&tool, server, &["-r", "5", "INCR", "repeated"]),
        "1\n2\n3\n4\n5\n"
    );
    assert_eq!(
        cli(&tool, server, &["-n", "3", "SET", "in-three", "x"]),
        "OK\n"
    );
    assert_eq!(
        cli(&tool, server, &["--no-raw", "-n", "3", "DBSIZE"]),
        "(integer) 1\n"
    );
    assert_eq!(
        cli(&tool, server, &["--no-raw", "-3", "GET", "missing"]),
        "(nil)\n"
    );
    assert_eq!(cli(&tool, server, &["-3", "GET", "k"]), "v\n");
    let info = cli(&tool, server, &["INFO", "server"]);
    assert!(info.contains("redis_version:7.2."), "{info}");
    assert!(
        info.contains(&format!("tcp_port:{}", server.port())),
        "{info}"
    );
}

fn redis_cli_reads_commands_from_stdin(server: &TestServer) {
    let Some(tool) = required_tool("redis-cli", "the redis-cli test") else {
        return;
    };
    let script = b"SET a 1\nINCR a\nGET a\nSET \"quoted key\" \"x y\"\nGET \"quoted key\"\nNOSUCH arg\nMSET b 2 c 3\nMGET a b c\n";
    let output = run_tool(&tool, server, &[], script);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "OK\n2\n2\nOK\nx y\nERR unknown command 'NOSUCH', with args beginning with: 'arg' \n\nOK\n2\n2\n3\n"
    );
}

fn redis_cli_scan_sees_every_shard(server: &TestServer) {
    let Some(tool) = required_tool("redis-cli", "the redis-cli test") else {
        return;
    };
    let mut c = server.client();
    let keys = keys_on_shards("scanned:", 40, server.shards());
    for key in &keys {
        let _: () = redis::cmd("SET").arg(key).arg("v").query(&mut c).unwrap();
    }
    let _: () = redis::cmd("SET")
        .arg("unrelated")
        .arg("v")
        .query(&mut c)
        .unwrap();
    let listed = cli(&tool, server, &["--scan", "--pattern", "scanned:*"]);
    let mut listed: Vec<&str> = listed.lines().collect();
    listed.sort_unstable();
    listed.dedup();
    let mut expected: Vec<&str> = keys.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(listed, expected);
}

fn redis_cli_pipe_mass_insertion(server: &TestServer) {
    let Some(tool) = required_tool("redis-cli", "the redis-cli --pipe test") else {
        return;
    };
    let mut input = Vec::new();
    for index in 0..10_000 {
        input.extend(encode(&[
            "SET",
            &format!("mass:{index}"),
            &format!("value:{index}"),
        ]));
    }
    let output = run_tool(&tool, server, &["--pipe"], &input);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "redis-cli --pipe failed: {output:?}"
    );
    assert!(stdout.contains("errors: 0, replies: 10000"), "{stdout}");
    let mut c = server.client();
    let size: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(size, 10_000);
    let value: String = redis::cmd("GET").arg("mass:9999").query(&mut c).unwrap();
    assert_eq!(value, "value:9999");
}

fn redis_benchmark_set_get(server: &TestServer) {
    let Some(tool) = required_tool("redis-benchmark", "the redis-benchmark test") else {
        return;
    };
    let output = run_tool(&tool, server, &["-t", "set,get", "-n", "2000", "-q"], b"");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "redis-benchmark failed: {:?}\nstdout: {stdout}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    for test in ["SET: ", "GET: "] {
        assert!(stdout.contains(test), "no {test} line in:\n{stdout}");
    }
    assert!(stdout.contains("requests per second"), "{stdout}");
    // Without -r, redis-benchmark's SET writes its 3-byte payload to one fixed key.
    let mut c = server.client();
    let value: Vec<u8> = redis::cmd("GET")
        .arg("key:__rand_int__")
        .query(&mut c)
        .unwrap();
    assert_eq!(value.len(), 3, "{value:?}");
    let size: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(size, 1);
}

fn redis_benchmark_random_keys_and_mset(server: &TestServer) {
    let Some(tool) = required_tool("redis-benchmark", "the redis-benchmark test") else {
        return;
    };
    let output = run_tool(
        &tool,
        server,
        &[
            "-t",
            "set,incr,mset",
            "-n",
            "1000",
            "-r",
            "500",
            "-c",
            "8",
            "-q",
        ],
        b"",
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "redis-benchmark failed: {output:?}"
    );
    for test in ["SET: ", "INCR: ", "MSET (10 keys): "] {
        assert!(stdout.contains(test), "no {test} line in:\n{stdout}");
    }
    // Every INCR landed on one of the random counters: they add up to the request count.
    let mut c = server.client();
    let counters: Vec<String> = redis::cmd("KEYS").arg("counter:*").query(&mut c).unwrap();
    assert!(
        counters.len() > 1,
        "INCR did not use random keys: {counters:?}"
    );
    let total: i64 = counters
        .iter()
        .map(|key| redis::cmd("GET").arg(key).query::<i64>(&mut c).unwrap())
        .sum();
    assert_eq!(total, 1000);
}

with_1_and_4_shards! {
    bin = BIN;
    redis_cli_one_shot_commands,
    redis_cli_reads_commands_from_stdin,
    redis_cli_scan_sees_every_shard,
    redis_cli_pipe_mass_insertion,
    redis_benchmark_set_get,
    redis_benchmark_random_keys_and_mset,
}
