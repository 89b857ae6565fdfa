//! `peregrine-load`: a closed-loop, memtier-like load generator for Redis-protocol
//! servers, written because Debian has no memtier_benchmark package.
//!
//! ```text
//! peregrine-load --port P [--host H] [--threads T] [--clients C] [--requests N]
//!                [--pipeline D] [--ratio S:G] [--data-size B] [--key-prefix TEXT]
//!                [--key-minimum K] [--key-maximum K] [--key-pattern R|G|Z|P] [--seed S]
//!                [--sequence 'CMD ARG..;CMD ARG..']
//! ```
//!
//! It sends SETs and GETs in a fixed `S:G` cycle over keys `PREFIX<number>`, the
//! numbers drawn uniformly (`R`), from a clamped Gaussian (`G`), from a Zipf
//! distribution (`Z`) or in sequence (`P`, for preloading), and prints one line of
//! `key=value` results: throughput, latency percentiles, SET/GET counts and GET
//! hits and misses. A seed fixes every key of a run, so two servers can be measured
//! against exactly the same requests. With `--sequence` each request is instead a
//! fixed list of commands (a MULTI/EXEC block, an EVALSHA) around one drawn key; see
//! `sequence`.
//!
//! It is not memtier_benchmark: no run time limit (`--test-time`), no memcache
//! protocols, no random data or expiry, no cluster mode. See `load` for the loop.
//!
//! ```text
//! peregrine-load pubsub --port P [--publishers P] [--channels C]
//!                [--subscribers-per-channel S] [--messages M] [--data-size B]
//!                [--pipeline W] [--pattern] [--resp3] ...
//! ```
//!
//! The `pubsub` mode measures message delivery instead: subscribers first, then
//! publishers, and a check that every message arrives exactly once and in each
//! publisher's order. See `pubsub`.
//!
//! ```text
//! peregrine-load streams --port P [--streams S] [--consumers C] [--entries E]
//!                [--count N] [--data-size B] [--group NAME] [--phase fill|consume|both]
//! ```
//!
//! The `streams` mode fills streams, then has every connection consume one as a member
//! of a consumer group (XREADGROUP, then XACK of the IDs read), counting one operation
//! per entry read and acknowledged, and checking that each is delivered once. See
//! `streams`.

mod histogram;
mod keys;
mod load;
mod options;
mod prng;
mod pubsub;
mod reader;
mod resp;
mod sequence;
mod streams;
#[cfg(test)]
mod testing;

use std::process::ExitCode;

use options::{Invocation, USAGE};
use pubsub::options::{PubSubInvocation, PUBSUB_USAGE};
use streams::options::{StreamsInvocation, STREAMS_USAGE};

fn main() -> ExitCode {
    let mut arguments = std::env::args().skip(1).peekable();
    match arguments.peek().map(String::as_str) {
        Some("pubsub") => {
            arguments.next();
            return pubsub_main(arguments);
        }
        Some("streams") => {
            arguments.next();
            return streams_main(arguments);
        }
        _ => {}
    }
    let options = match options::parse(arguments) {
        Ok(Invocation::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(Invocation::Run(options)) => options,
        Err(error) => {
            eprintln!("peregrine-load: {error}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match load::run(&options) {
        Ok(report) => {
            println!("{}", report.summary());
            if let Some(first) = &report.first_error {
                eprintln!(
                    "peregrine-load: {} unexpected replies, the first to {first}",
                    report.errors
                );
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("peregrine-load: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// `peregrine-load pubsub ...`: prints the summary line, and the violations to stderr.
fn pubsub_main(arguments: impl Iterator<Item = String>) -> ExitCode {
    let options = match pubsub::options::parse(arguments) {
        Ok(PubSubInvocation::Help) => {
            println!("{PUBSUB_USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(PubSubInvocation::Run(options)) => options,
        Err(error) => {
            eprintln!("peregrine-load pubsub: {error}\n\n{PUBSUB_USAGE}");
            return ExitCode::from(2);
        }
    };
    match pubsub::run(&options) {
        Ok(report) => {
            println!("{}", report.summary());
            for line in report.problems() {
                eprintln!("peregrine-load pubsub: {line}");
            }
            if report.is_clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("peregrine-load pubsub: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// `peregrine-load streams ...`: prints the summary line, and the problems to stderr.
fn streams_main(arguments: impl Iterator<Item = String>) -> ExitCode {
    let options = match streams::options::parse(arguments) {
        Ok(StreamsInvocation::Help) => {
            println!("{STREAMS_USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(StreamsInvocation::Run(options)) => options,
        Err(error) => {
            eprintln!("peregrine-load streams: {error}\n\n{STREAMS_USAGE}");
            return ExitCode::from(2);
        }
    };
    match streams::run(&options) {
        Ok(report) => {
            println!("{}", report.summary());
            for line in report.problems() {
                eprintln!("peregrine-load streams: {line}");
            }
            if report.is_clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("peregrine-load streams: {error:#}");
            ExitCode::FAILURE
        }
    }
}
