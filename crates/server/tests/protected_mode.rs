//! Protected mode as Redis: with no password, a client that is not on a loopback address
//! gets Redis's DENIED error; loopback clients and password-protected servers are served.
//!
//! A non-loopback client needs a second network host: the test makes one, a network
//! namespace joined to the root namespace by a veth pair with private addresses that
//! exist only inside this test (as the environment allows). Where namespaces cannot be
//! created (no root, no iproute2) it says so and returns.

use peregrine_testkit::{redis_cli, TestServer};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_peregrine-server");

/// A network namespace with a veth link to the root namespace; removed on drop.
struct OutsideHost {
    namespace: String,
    link: String,
    server_address: String,
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .output()
        .map(|output| output.status.success())
        .unwrap_or(false)
}

impl OutsideHost {
    /// A namespace unique to this process and `tag` (tests run concurrently).
    fn create(tag: u32) -> Option<OutsideHost> {
        let id = (std::process::id() % 100) * 2 + tag + 20;
        let namespace = format!("pgtest{}-{tag}", std::process::id());
        let link = format!("pgv{}{tag}", std::process::id() % 100_000);
        let peer = format!("{link}p");
        let host = OutsideHost {
            namespace: namespace.clone(),
            link: link.clone(),
            server_address: format!("10.231.{id}.1"),
        };
        let steps: [&[&str]; 8] = [
            &["netns", "add", &namespace],
            &["link", "add", &link, "type", "veth", "peer", "name", &peer],
            &["link", "set", &peer, "netns", &namespace],
            &["addr", "add", &format!("10.231.{id}.1/30"), "dev", &link],
            &["link", "set", &link, "up"],
            &[
                "-n",
                &namespace,
                "addr",
                "add",
                &format!("10.231.{id}.2/30"),
                "dev",
                &peer,
            ],
            &["-n", &namespace, "link", "set", &peer, "up"],
            &["-n", &namespace, "link", "set", "lo", "up"],
        ];
        for step in steps {
            if !ip(step) {
                eprintln!("protected mode: cannot build a test network namespace (ip {step:?} failed); not run");
                return None;
            }
        }
        Some(host)
    }

    /// Runs redis-cli inside the namespace against the server's veth address.
    fn redis_cli(&self, port: u16, args: &[&str]) -> String {
        let cli = redis_cli().expect("redis-cli");
        let output = Command::new("ip")
            .args(["netns", "exec", &self.namespace])
            .arg(cli)
            .args(["-h", &self.server_address, "-p", &port.to_string()])
            .args(args)
            .output()
            .expect("run redis-cli in the namespace");
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    }
}

impl Drop for OutsideHost {
    fn drop(&mut self) {
        ip(&["link", "del", &self.link]);
        ip(&["netns", "del", &self.namespace]);
    }
}

#[test]
fn non_loopback_clients_are_denied_without_a_password() {
    if redis_cli().is_none() {
        eprintln!("protected mode: redis-cli not found; not run");
        return;
    }
    let Some(outside) = OutsideHost::create(0) else {
        return;
    };
    let server = TestServer::start_with(BIN, 2, &["--bind", "0.0.0.0"]);
    let reply = outside.redis_cli(server.port(), &["PING"]);
    assert!(
        reply.contains("DENIED Redis is running in protected mode"),
        "{reply}"
    );
    // Loopback clients are served as usual.
    let mut local = server.raw();
    assert_eq!(local.cmd(&["PING"]), b"+PONG\r\n");
    // Turning protected mode off at run time lets the outside client in.
    assert_eq!(
        local.cmd(&["CONFIG", "SET", "protected-mode", "no"]),
        b"+OK\r\n"
    );
    let reply = outside.redis_cli(server.port(), &["PING"]);
    assert!(reply.contains("PONG"), "{reply}");
}

#[test]
fn a_password_lifts_protected_mode() {
    if redis_cli().is_none() {
        eprintln!("protected mode: redis-cli not found; not run");
        return;
    }
    let Some(outside) = OutsideHost::create(1) else {
        return;
    };
    let server = TestServer::start_with(BIN, 1, &["--bind", "0.0.0.0", "--requirepass", "s3cret"]);
    let reply = outside.redis_cli(server.port(), &["PING"]);
    assert!(reply.contains("NOAUTH"), "{reply}");
    let reply = outside.redis_cli(
        server.port(),
        &["-a", "s3cret", "--no-auth-warning", "PING"],
    );
    assert!(reply.contains("PONG"), "{reply}");
}
