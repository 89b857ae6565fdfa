//! Latency: per-command latency histograms (INFO latencystats, LATENCY HISTOGRAM) and the
//! latency monitor (LATENCY LATEST|HISTORY|RESET|GRAPH|DOCTOR), as Redis 7 keeps them.
//!
//! Histograms are HDR histograms with Redis's parameters (1 ns to 1 s, two significant
//! digits), so percentiles and buckets read as Redis's do; each shard keeps its own per
//! command and they are added up on read. The monitor records an event (`command`,
//! `fast-command`, `expire-cycle`, `aof-fsync-always`) when it took at least
//! `latency-monitor-threshold` milliseconds: per event the all-time maximum and 160
//! samples, one per second, on the shard where it happened.

use crate::dispatch::Session;
use crate::server_commands::collect_from_shards;
use crate::shard_state::ShardState;
use bytes::Bytes;
use peregrine_commands::{check_subcommand, Arity::*, Subcommand};
use peregrine_commands::{Flag, KeySpec};
use peregrine_resp::{Argv, Reply};
use std::collections::BTreeMap;

/// Sub-buckets per power of two: 2 significant digits need 256 (half: 128).
const SUB_BUCKET_HALF_MAGNITUDE: u32 = 7;
const SUB_BUCKET_HALF: u64 = 1 << SUB_BUCKET_HALF_MAGNITUDE;
const SUB_BUCKET_MASK: u64 = (SUB_BUCKET_HALF << 1) - 1;
/// The largest value kept (1 s in ns); longer ones count as 1 s, as in Redis.
const HIGHEST: u64 = 1_000_000_000;
/// Powers of two of sub-buckets needed up to [`HIGHEST`].
const BUCKETS: usize = 23;
const COUNTS: usize = (BUCKETS + 1) << SUB_BUCKET_HALF_MAGNITUDE;
/// Samples an event keeps, one per second (Redis's LATENCY_TS_LEN).
const EVENT_SAMPLES: usize = 160;
/// Columns of LATENCY GRAPH.
const GRAPH_COLUMNS: usize = 80;

/// Latencies of one command in nanoseconds, as an HDR histogram.
#[derive(Clone, Debug, Default)]
pub struct LatencyHistogram {
    counts: Option<Box<[u64]>>,
    total: u64,
}

fn bucket_index(value: u64) -> u32 {
    (64 - (value | SUB_BUCKET_MASK).leading_zeros()) - (SUB_BUCKET_HALF_MAGNITUDE + 1)
}

fn counts_index(value: u64) -> usize {
    let bucket = bucket_index(value);
    let sub_bucket = value >> bucket;
    (((bucket as u64 + 1) << SUB_BUCKET_HALF_MAGNITUDE) + sub_bucket - SUB_BUCKET_HALF) as usize
}

fn value_at(index: usize) -> u64 {
    let mut bucket = (index >> SUB_BUCKET_HALF_MAGNITUDE) as i64 - 1;
    let mut sub_bucket = (index as u64 & (SUB_BUCKET_HALF - 1)) + SUB_BUCKET_HALF;
    if bucket < 0 {
        sub_bucket -= SUB_BUCKET_HALF;
        bucket = 0;
    }
    sub_bucket << bucket
}

fn lowest_equivalent(value: u64) -> u64 {
    let bucket = bucket_index(value);
    (value >> bucket) << bucket
}

fn highest_equivalent(value: u64) -> u64 {
    let bucket = bucket_index(value);
    let sub_bucket = value >> bucket;
    let adjusted = if sub_bucket > SUB_BUCKET_MASK {
        bucket + 1
    } else {
        bucket
    };
    lowest_equivalent(value) + (1 << adjusted) - 1
}

impl LatencyHistogram {
    /// Counts one latency of `nanos` (clamped to 1 ns ..= 1 s).
    #[inline]
    pub fn record(&mut self, nanos: u64) {
        let counts = self
            .counts
            .get_or_insert_with(|| vec![0; COUNTS].into_boxed_slice());
        if let Some(count) = counts.get_mut(counts_index(nanos.clamp(1, HIGHEST))) {
            *count += 1;
        }
        self.total += 1;
    }

    /// Counts latencies measured in clock ticks.
    pub fn record_ticks(&mut self, latencies: &[u64]) {
        for ticks in latencies {
            self.record(crate::ticks::nanos(*ticks));
        }
    }

    /// Adds another histogram's counts to this one.
    pub fn merge(&mut self, other: &LatencyHistogram) {
        let Some(theirs) = &other.counts else { return };
        let mine = self
            .counts
            .get_or_insert_with(|| vec![0; COUNTS].into_boxed_slice());
        for (mine, theirs) in mine.iter_mut().zip(theirs.iter()) {
            *mine += theirs;
        }
        self.total += other.total;
    }

    /// Latencies counted.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The latency at `percentile` in nanoseconds (HDR's highest equivalent value).
    fn value_at_percentile(&self, percentile: f64) -> u64 {
        let Some(counts) = &self.counts else { return 0 };
        let wanted = ((percentile.min(100.0) / 100.0 * self.total as f64) + 0.5) as u64;
        let wanted = wanted.max(1);
        let mut seen = 0;
        for (index, count) in counts.iter().enumerate() {
            seen += count;
            if seen >= wanted {
                let value = value_at(index);
                return if percentile == 0.0 {
                    lowest_equivalent(value)
                } else {
                    highest_equivalent(value)
                };
            }
        }
        0
    }

    /// (microseconds, calls at most that long) at each power of two from 1024 ns, where
    /// the count grows: LATENCY HISTOGRAM's `histogram_usec`.
    fn cumulative_buckets(&self) -> Vec<(u64, u64)> {
        let Some(counts) = &self.counts else {
            return Vec::new();
        };
        let mut buckets = Vec::new();
        let (mut level, mut seen, mut index, mut previous) = (1024u64, 0u64, 0usize, 0u64);
        while previous < self.total && level <= HIGHEST * 2 {
            let last = counts_index(lowest_equivalent(level)).min(COUNTS - 1);
            while index <= last {
                seen += counts[index];
                index += 1;
            }
            if seen > previous {
                buckets.push((highest_equivalent(level) / 1000, seen));
                previous = seen;
            }
            level *= 2;
        }
        buckets
    }
}

/// INFO latencystats: `latency_percentiles_usec_<command>:p50=..,p99=..` per command.
pub fn info_section(
    out: &mut String,
    histograms: &BTreeMap<&str, LatencyHistogram>,
    percentiles: &[f64],
) {
    use std::fmt::Write;
    out.push_str("# Latencystats\r\n");
    for (name, histogram) in histograms {
        let figures: Vec<String> = percentiles
            .iter()
            .map(|percentile| {
                let micros = histogram.value_at_percentile(*percentile) as f64 / 1000.0;
                format!("p{}={micros:.3}", format_percentile(*percentile))
            })
            .collect();
        let _ = write!(
            out,
            "latency_percentiles_usec_{name}:{}\r\n",
            figures.join(",")
        );
    }
}

/// A percentile as Redis names it: `50`, `99.9`.
fn format_percentile(percentile: f64) -> String {
    let text = format!("{percentile}");
    text.strip_suffix(".0").map(str::to_owned).unwrap_or(text)
}

/// Parses `latency-tracking-info-percentiles` as Redis validates it.
pub fn parse_percentiles(text: &str) -> Result<Vec<f64>, &'static str> {
    text.split_whitespace()
        .map(|word| match word.parse::<f64>() {
            Ok(value) if (0.0..=100.0).contains(&value) => Ok(value),
            Ok(_) => {
                Err("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]")
            }
            Err(_) => Err("Invalid latency-tracking-info-percentiles parameters"),
        })
        .collect()
}

/// One event's samples: the all-time maximum and the last 160 seconds that had one.
#[derive(Clone, Debug)]
struct EventSeries {
    /// (Unix seconds, milliseconds), oldest first.
    samples: std::collections::VecDeque<(u64, u64)>,
    max: u64,
}

/// A shard's latency monitor events.
#[derive(Clone, Debug, Default)]
pub struct LatencyEvents {
    events: BTreeMap<&'static str, EventSeries>,
}

impl LatencyEvents {
    /// Records that `event` took `millis` now (the longest of a second is kept).
    pub fn add(&mut self, event: &'static str, millis: u64) {
        let now = crate::shard_state::unix_millis() / 1000;
        let series = self.events.entry(event).or_insert_with(|| EventSeries {
            samples: Default::default(),
            max: 0,
        });
        series.max = series.max.max(millis);
        match series.samples.back_mut() {
            Some((time, latency)) if *time == now => *latency = (*latency).max(millis),
            _ => {
                series.samples.push_back((now, millis));
                if series.samples.len() > EVENT_SAMPLES {
                    series.samples.pop_front();
                }
            }
        }
    }

    fn merge(&mut self, other: &LatencyEvents) {
        for (event, theirs) in &other.events {
            let mine = self.events.entry(event).or_insert_with(|| EventSeries {
                samples: Default::default(),
                max: 0,
            });
            mine.max = mine.max.max(theirs.max);
            let mut by_second: BTreeMap<u64, u64> = mine.samples.iter().copied().collect();
            for (time, latency) in &theirs.samples {
                let kept = by_second.entry(*time).or_default();
                *kept = (*kept).max(*latency);
            }
            let skip = by_second.len().saturating_sub(EVENT_SAMPLES);
            mine.samples = by_second.into_iter().skip(skip).collect();
        }
    }
}

/// Records `event` on `state` if it took at least `latency-monitor-threshold` ms.
pub fn add_if_needed(state: &ShardState, event: &'static str, micros: u64) {
    let threshold = state.latency_settings().monitor_threshold_ms;
    if threshold > 0 && micros / 1000 >= threshold {
        state.latency_events.borrow_mut().add(event, micros / 1000);
    }
}

/// What the latency features read from the configuration.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct LatencySettings {
    /// `latency-monitor-threshold` in milliseconds (0: the monitor is off).
    pub monitor_threshold_ms: u64,
    /// `latency-tracking`: per-command histograms.
    pub tracking: bool,
    /// `latency-tracking-info-percentiles`.
    pub percentiles: Vec<f64>,
}

/// LATENCY's subcommands.
#[rustfmt::skip]
pub const LATENCY_SUBCOMMANDS: &[Subcommand] = &[
    Subcommand { name: "doctor",    full_name: "latency|doctor",    arity: Exactly(2), flags: &[Flag::Admin, Flag::NoScript, Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
    Subcommand { name: "graph",     full_name: "latency|graph",     arity: Exactly(3), flags: &[Flag::Admin, Flag::NoScript, Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
    Subcommand { name: "history",   full_name: "latency|history",   arity: Exactly(3), flags: &[Flag::Admin, Flag::NoScript, Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
    Subcommand { name: "latest",    full_name: "latency|latest",    arity: Exactly(2), flags: &[Flag::Admin, Flag::NoScript, Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
    Subcommand { name: "reset",     full_name: "latency|reset",     arity: AtLeast(2), flags: &[Flag::Admin, Flag::NoScript, Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
    Subcommand { name: "histogram", full_name: "latency|histogram", arity: AtLeast(2), flags: &[Flag::Admin, Flag::NoScript, Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
    Subcommand { name: "help",      full_name: "latency|help",      arity: Exactly(2), flags: &[Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
];

const HELP: &[&str] = &[
    "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return a human readable latency analysis report.",
    "GRAPH <event>",
    "    Return an ASCII latency graph for the <event> class.",
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
    "HISTOGRAM [COMMAND ...]",
    "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
    "    If no commands are specified then all histograms are replied.",
    "HELP",
    "    Prints this help.",
];

/// Every shard's events, merged.
async fn all_events(session: &Session) -> LatencyEvents {
    let shards = collect_from_shards(session, |state| state.latency_events.borrow().clone()).await;
    let mut merged = LatencyEvents::default();
    for events in &shards {
        merged.merge(events);
    }
    merged
}

/// Every shard's command histograms, merged, by full command name.
pub async fn all_histograms(session: &Session) -> BTreeMap<&'static str, LatencyHistogram> {
    let shards = collect_from_shards(session, |state| {
        state
            .command_stats
            .borrow()
            .iter()
            .filter(|(_, stat)| stat.latency.total() > 0)
            .map(|(name, stat)| (*name, stat.latency.clone()))
            .collect::<Vec<_>>()
    })
    .await;
    let mut merged: BTreeMap<&'static str, LatencyHistogram> = BTreeMap::new();
    for (name, histogram) in shards.iter().flatten() {
        merged.entry(name).or_default().merge(histogram);
    }
    merged
}

/// LATENCY <subcommand> ...
pub async fn command(session: &mut Session, argv: &Argv) -> Reply {
    let subcommand = match check_subcommand("latency", LATENCY_SUBCOMMANDS, argv) {
        Ok(subcommand) => subcommand,
        Err(failure) => return failure.into_reply(),
    };
    session.info.last_command.set(subcommand.full_name);
    let event_name = || String::from_utf8_lossy(&argv[2]).into_owned();
    match subcommand.name {
        "latest" => {
            let events = all_events(session).await;
            Reply::Array(
                events
                    .events
                    .iter()
                    .filter_map(|(event, series)| {
                        let (time, latency) = *series.samples.back()?;
                        Some(Reply::Array(vec![
                            Reply::bulk(event),
                            Reply::Integer(time as i64),
                            Reply::Integer(latency as i64),
                            Reply::Integer(series.max as i64),
                        ]))
                    })
                    .collect(),
            )
        }
        "history" => {
            let events = all_events(session).await;
            let samples = events
                .events
                .get(event_name().as_str())
                .map(|series| series.samples.iter().copied().collect::<Vec<_>>())
                .unwrap_or_default();
            Reply::Array(
                samples
                    .into_iter()
                    .map(|(time, latency)| {
                        Reply::Array(vec![
                            Reply::Integer(time as i64),
                            Reply::Integer(latency as i64),
                        ])
                    })
                    .collect(),
            )
        }
        "graph" => {
            let events = all_events(session).await;
            let name = event_name();
            match events.events.get(name.as_str()) {
                Some(series) => Reply::Verbatim("txt", Bytes::from(graph(&name, series))),
                None => Reply::error(format!("ERR No samples available for event '{name}'")),
            }
        }
        "reset" => {
            let names: Vec<String> = argv[2..]
                .iter()
                .map(|arg| String::from_utf8_lossy(arg).into_owned())
                .collect();
            let before = all_events(session).await;
            let reset = match names.is_empty() {
                true => before.events.len(),
                false => names
                    .iter()
                    .filter(|name| before.events.contains_key(name.as_str()))
                    .count(),
            };
            collect_from_shards(session, move |state| {
                let mut events = state.latency_events.borrow_mut();
                match names.is_empty() {
                    true => events.events.clear(),
                    false => events
                        .events
                        .retain(|event, _| !names.iter().any(|name| name == event)),
                }
            })
            .await;
            Reply::Integer(reset as i64)
        }
        "histogram" => {
            let histograms = all_histograms(session).await;
            let wanted: Vec<String> = argv[2..]
                .iter()
                .map(|arg| String::from_utf8_lossy(arg).to_ascii_lowercase())
                .collect();
            let chosen = histograms.iter().filter(|(name, _)| {
                wanted.is_empty()
                    || wanted.iter().any(|wanted| {
                        *name == wanted
                            || name
                                .split_once('|')
                                .is_some_and(|(container, _)| container == wanted)
                    })
            });
            Reply::Map(
                chosen
                    .map(|(name, histogram)| {
                        let buckets = histogram
                            .cumulative_buckets()
                            .into_iter()
                            .map(|(micros, count)| {
                                (Reply::Integer(micros as i64), Reply::Integer(count as i64))
                            })
                            .collect();
                        (
                            Reply::bulk(name),
                            Reply::Map(vec![
                                (
                                    Reply::bulk("calls"),
                                    Reply::Integer(histogram.total() as i64),
                                ),
                                (Reply::bulk("histogram_usec"), Reply::Map(buckets)),
                            ]),
                        )
                    })
                    .collect(),
            )
        }
        "doctor" => {
            let events = all_events(session).await;
            let settings = session.settings();
            Reply::Verbatim("txt", Bytes::from(doctor(&events, &settings)))
        }
        _ => Reply::help(HELP),
    }
}

/// LATENCY GRAPH: Redis's sparkline of an event's samples, 4 rows high, labelled with how
/// long ago each sample was.
fn graph(event: &str, series: &EventSeries) -> String {
    let now = crate::shard_state::unix_millis() / 1000;
    let values: Vec<u64> = series.samples.iter().map(|(_, latency)| *latency).collect();
    let labels: Vec<String> = series
        .samples
        .iter()
        .map(|(time, _)| {
            let elapsed = now.saturating_sub(*time);
            match elapsed {
                0..60 => format!("{elapsed}s"),
                60..3600 => format!("{}m", elapsed / 60),
                3600..86400 => format!("{}h", elapsed / 3600),
                _ => format!("{}d", elapsed / 86400),
            }
        })
        .collect();
    let (low, high) = (
        values.iter().copied().min().unwrap_or(0),
        values.iter().copied().max().unwrap_or(0),
    );
    let mut out = format!(
        "{event} - high {high} ms, low {low} ms (all time high {} ms)\n{}\n",
        series.max,
        "-".repeat(GRAPH_COLUMNS)
    );
    for start in (0..values.len()).step_by(GRAPH_COLUMNS) {
        if start != 0 {
            out.push('\n');
        }
        let end = (start + GRAPH_COLUMNS).min(values.len());
        sparkline(
            &mut out,
            &values[start..end],
            &labels[start..end],
            low,
            high,
        );
    }
    out
}

/// One range of a sparkline: rows of `_o#` (with `|` filling below), a blank row, then
/// each column's label written downwards.
fn sparkline(out: &mut String, values: &[u64], labels: &[String], low: u64, high: u64) {
    const ROWS: usize = 4;
    const CHARSET: &[u8] = b"_o#";
    let steps = CHARSET.len() * ROWS;
    let span = if high == low {
        1.0
    } else {
        (high - low) as f64
    };
    let step_of = |value: u64| (((value - low) as f64 * steps as f64) / span) as usize;
    for row in 0..ROWS {
        let line: String = values
            .iter()
            .map(|value| {
                let step = step_of(*value).min(steps - 1) as i64;
                let index = step - ((ROWS - row - 1) * CHARSET.len()) as i64;
                match index {
                    0..=2 => CHARSET[index as usize] as char,
                    3.. => '|',
                    _ => ' ',
                }
            })
            .collect();
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str(&" ".repeat(values.len()));
    out.push('\n');
    let longest = labels.iter().map(String::len).max().unwrap_or(0);
    for row in 0..longest {
        let line: String = labels
            .iter()
            .map(|label| label.as_bytes().get(row).map_or(' ', |byte| *byte as char))
            .collect();
        out.push_str(&line);
        out.push('\n');
    }
}

/// LATENCY DOCTOR: Redis's report (per event: spikes, average, mean deviation, period,
/// worst; then the advice its events call for, in Redis's order).
fn doctor(events: &LatencyEvents, settings: &crate::Settings) -> String {
    let threshold = settings.latency.monitor_threshold_ms;
    if events.events.is_empty() && threshold == 0 {
        return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n".to_owned();
    }
    if events.events.is_empty() {
        return "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n".to_owned();
    }
    let now = crate::shard_state::unix_millis() / 1000;
    let mut report = String::from("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n");
    let mut advice = Advice::default();
    for (number, (event, series)) in events.events.iter().enumerate() {
        let samples = series.samples.len().max(1) as u64;
        let average = series
            .samples
            .iter()
            .map(|(_, latency)| latency)
            .sum::<u64>()
            / samples;
        let deviation = series
            .samples
            .iter()
            .map(|(_, latency)| latency.abs_diff(average))
            .sum::<u64>()
            / samples;
        let oldest = series
            .samples
            .iter()
            .map(|(time, _)| *time)
            .min()
            .unwrap_or(now);
        let period = now.saturating_sub(oldest).max(1);
        report.push_str(&format!(
            "{}. {event}: {} latency spikes (average {average}ms, mean deviation {deviation}ms, period {:.2} sec). Worst all time event {}ms.\n",
            number + 1,
            series.samples.len(),
            period as f64 / samples as f64,
            series.max
        ));
        match *event {
            "command" => {
                let slowlog = settings.slowlog;
                if slowlog.slower_than_us < 0 || slowlog.max_len == 0 {
                    advice.enable_slowlog = true;
                } else if slowlog.slower_than_us as u64 / 1000 > threshold {
                    advice.tune_slowlog = true;
                }
                advice.inspect_slowlog = true;
                advice.large_objects = true;
            }
            "fast-command" => advice.scheduler = true,
            "expire-cycle" => {
                advice.hz = settings.hz < 100;
                advice.large_objects = true;
            }
            "aof-fsync-always" => advice.relax_fsync = true,
            _ => {}
        }
    }
    let texts = advice.texts(threshold);
    if texts.is_empty() {
        report.push_str("\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please use the Redis community to get some help, providing this report in your help request.\n");
    } else {
        report.push_str("\nI have a few advices for you:\n\n");
        report.push_str(&texts.concat());
    }
    report
}

/// The advice LATENCY DOCTOR gives for the events it saw.
#[derive(Default)]
struct Advice {
    enable_slowlog: bool,
    tune_slowlog: bool,
    inspect_slowlog: bool,
    scheduler: bool,
    relax_fsync: bool,
    hz: bool,
    large_objects: bool,
}

impl Advice {
    /// The texts wanted, in Redis's order.
    fn texts(&self, threshold: u64) -> Vec<String> {
        let slowlog_micros = threshold * 1000;
        [
            (self.enable_slowlog, format!("- There are latency issues with potentially slow commands you are using. Try to enable the Slow Log Redis feature using the command 'CONFIG SET slowlog-log-slower-than {slowlog_micros}'. If the Slow log is disabled Redis is not able to log slow commands execution for you.\n")),
            (self.tune_slowlog, format!("- Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than {slowlog_micros}'.\n")),
            (self.inspect_slowlog, "- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n".to_owned()),
            (self.scheduler, "- The system is slow to execute Redis code paths not containing system calls. This usually means the system does not provide Redis CPU time to run for long periods. You should try to:\n  1) Lower the system load.\n  2) Use a computer / VM just for Redis if you are running other software in the same system.\n  3) Check if you have a \"noisy neighbour\" problem.\n  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your system.\n  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if you are using Jemalloc. However this may create fragmentation problems.\n".to_owned()),
            (self.relax_fsync, "- Your fsync policy is set to 'always'. It is very hard to get good performances with such a setup, if possible try to relax the fsync policy to 'onesec'.\n".to_owned()),
            (self.hz, "- In order to make the Redis keys expiring process more incremental, try to set the 'hz' configuration parameter to 100 using 'CONFIG SET hz 100'.\n".to_owned()),
            (self.large_objects, "- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n".to_owned()),
        ]
        .into_iter()
        .filter_map(|(wanted, text)| wanted.then_some(text))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_read_as_redis_reads_them() {
        let mut histogram = LatencyHistogram::default();
        for nanos in [2000, 3000, 3000, 7000] {
            histogram.record(nanos);
        }
        // HDR's highest equivalent values: 3000 ns reads 3.007 µs, 7000 ns 7.007 µs.
        assert_eq!(histogram.value_at_percentile(50.0), 3007);
        assert_eq!(histogram.value_at_percentile(99.0), 7007);
        assert_eq!(histogram.value_at_percentile(0.0), 2000);
        let mut info = String::new();
        let mut merged = BTreeMap::new();
        merged.insert("set", histogram.clone());
        info_section(&mut info, &merged, &[50.0, 99.0, 99.9]);
        assert_eq!(
            info,
            "# Latencystats\r\nlatency_percentiles_usec_set:p50=3.007,p99=7.007,p99.9=7.007\r\n"
        );
    }

    #[test]
    fn cumulative_buckets_are_redis_histogram_usec() {
        let mut histogram = LatencyHistogram::default();
        for nanos in [1000, 3000, 7000, 66_000, 130_000] {
            histogram.record(nanos);
        }
        assert_eq!(
            histogram.cumulative_buckets(),
            [(1, 1), (4, 2), (8, 3), (66, 4), (132, 5)]
        );
        let mut doubled = histogram.clone();
        doubled.merge(&histogram);
        assert_eq!(doubled.total(), 10);
        assert_eq!(doubled.cumulative_buckets().last(), Some(&(132, 10)));
    }

    #[test]
    fn percentile_settings_are_validated() {
        assert_eq!(parse_percentiles("50 99 99.9"), Ok(vec![50.0, 99.0, 99.9]));
        assert_eq!(parse_percentiles(""), Ok(vec![]));
        assert!(parse_percentiles("50 101").is_err());
        assert!(parse_percentiles("x").is_err());
        assert_eq!(format_percentile(99.9), "99.9");
        assert_eq!(format_percentile(50.0), "50");
    }

    #[test]
    fn events_keep_the_worst_of_each_second() {
        let mut events = LatencyEvents::default();
        events.add("command", 5);
        events.add("command", 9);
        events.add("command", 2);
        let series = &events.events["command"];
        assert_eq!(series.samples.len(), 1);
        assert_eq!(series.samples[0].1, 9);
        assert_eq!(series.max, 9);
    }
}
