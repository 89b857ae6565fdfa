//! Scripted scenarios compared with the oracle: steps of a few clients, each reply of
//! peregrine-server compared byte for byte with redis-server's.
//!
//! A step's command is split on spaces; `{0}`, `{1}` ... stand for keys the caller chooses
//! (e.g. keys on different shards), so one scenario exercises cross-shard paths on
//! Peregrine and plain keys on Redis.

use crate::RawClient;
use std::net::SocketAddr;
use std::time::Duration;

/// One step of a scenario.
#[derive(Clone, Copy, Debug)]
pub enum Step {
    /// Client index, command.
    Send(usize, &'static str),
    /// Client index, command given as separate arguments (for scripts with spaces).
    Args(usize, &'static [&'static str]),
    /// A command whose reply is not compared (it names the server, like HELLO).
    Quiet(usize, &'static str),
    /// Let server time pass (expiry scenarios).
    Sleep(u64),
}

/// The number of clients a scenario uses.
const CLIENTS: usize = 2;

fn render(words: &[&str], keys: &[String]) -> Vec<String> {
    words
        .iter()
        .map(|word| {
            let mut word = (*word).to_owned();
            for (index, key) in keys.iter().enumerate() {
                word = word.replace(&format!("{{{index}}}"), key);
            }
            word
        })
        .collect()
}

/// Runs `steps` with fresh clients against `address` after a FLUSHALL, returning each
/// compared step's description and reply.
pub fn play(address: SocketAddr, keys: &[String], steps: &[Step]) -> Vec<(String, Vec<u8>)> {
    let mut clients: Vec<RawClient> = (0..CLIENTS).map(|_| RawClient::connect(address)).collect();
    clients[0].cmd(&["FLUSHALL"]);
    let mut replies = Vec::new();
    for step in steps {
        let (client, words, compared): (usize, Vec<&str>, bool) = match step {
            Step::Send(client, command) => (*client, command.split(' ').collect(), true),
            Step::Args(client, args) => (*client, args.to_vec(), true),
            Step::Quiet(client, command) => (*client, command.split(' ').collect(), false),
            Step::Sleep(millis) => {
                std::thread::sleep(Duration::from_millis(*millis));
                continue;
            }
        };
        let words = render(&words, keys);
        let args: Vec<&str> = words.iter().map(String::as_str).collect();
        let reply = clients[client].cmd(&args);
        if compared {
            replies.push((format!("client {client}: {}", words.join(" ")), reply));
        }
    }
    replies
}

/// Plays every scenario against both servers and returns the mismatches, described.
pub fn mismatches(
    redis: SocketAddr,
    peregrine: SocketAddr,
    keys: &[String],
    scenarios: &[(&str, Vec<Step>)],
) -> Vec<String> {
    let mut mismatches = Vec::new();
    for (name, steps) in scenarios {
        let expected = play(redis, keys, steps);
        let actual = play(peregrine, keys, steps);
        for ((step, want), (_, got)) in expected.iter().zip(&actual) {
            if want != got {
                mismatches.push(format!(
                    "{name}: {step}\n  redis:     {:?}\n  peregrine: {:?}",
                    String::from_utf8_lossy(want),
                    String::from_utf8_lossy(got)
                ));
            }
        }
    }
    mismatches
}
