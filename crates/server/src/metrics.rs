//! The figures INFO reports that need tracking over time, per shard: instantaneous rates
//! (Redis's `instantaneous_ops_per_sec` and network kbps: the mean of the last 16 rates
//! sampled every 100 ms) and error replies by error code (`errorstats`).

use crate::shard_state::ShardState;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Samples each rate is averaged over, as Redis's STATS_METRIC_SAMPLES.
const SAMPLES: usize = 16;
/// How often rates are sampled, as Redis's serverCron does.
const SAMPLE_PERIOD: Duration = Duration::from_millis(100);
/// Distinct error codes tracked at most, as Redis's ERROR_STATS_NUMBER; errors with other
/// codes still count in the total.
const MAX_ERROR_CODES: usize = 128;
/// An error code is the error's first word when it ends within this many bytes (Redis's
/// `afterErrorReply`); otherwise the error counts as `ERR`.
const MAX_CODE_LENGTH: usize = 32;

/// A counter's rate per second over the last [`SAMPLES`] periods.
#[derive(Default)]
struct Rate {
    samples: [u64; SAMPLES],
    next: usize,
    last_value: u64,
    last_time: Option<Instant>,
}

impl Rate {
    fn track(&mut self, value: u64, now: Instant) {
        if let Some(last_time) = self.last_time {
            let millis = now.duration_since(last_time).as_millis() as u64;
            let delta = value.saturating_sub(self.last_value);
            self.samples[self.next] = (delta * 1000).checked_div(millis).unwrap_or(0);
            self.next = (self.next + 1) % SAMPLES;
        }
        self.last_value = value;
        self.last_time = Some(now);
    }

    fn per_second(&self) -> u64 {
        self.samples.iter().sum::<u64>() / SAMPLES as u64
    }
}

/// One shard's instantaneous rates.
#[derive(Default)]
pub struct Rates {
    commands: Rate,
    input_bytes: Rate,
    output_bytes: Rate,
}

/// One shard's rates as INFO adds them up.
#[derive(Clone, Copy, Debug, Default)]
pub struct RateFigures {
    /// Commands per second.
    pub ops_per_sec: u64,
    /// Bytes read from clients per second.
    pub input_bytes_per_sec: u64,
    /// Bytes written to clients per second.
    pub output_bytes_per_sec: u64,
}

impl Rates {
    /// The current rates.
    pub fn figures(&self) -> RateFigures {
        RateFigures {
            ops_per_sec: self.commands.per_second(),
            input_bytes_per_sec: self.input_bytes.per_second(),
            output_bytes_per_sec: self.output_bytes.per_second(),
        }
    }
}

/// Samples the shard's counters every [`SAMPLE_PERIOD`], forever.
pub async fn sample_rates(state: Rc<ShardState>) {
    loop {
        let now = Instant::now();
        {
            let mut rates = state.rates.borrow_mut();
            rates.commands.track(state.commands_processed.get(), now);
            rates.input_bytes.track(state.net_input_bytes.get(), now);
            rates.output_bytes.track(state.net_output_bytes.get(), now);
        }
        glommio::timer::sleep(SAMPLE_PERIOD).await;
    }
}

/// Error replies sent by one shard's clients, by error code.
#[derive(Default)]
pub struct ErrorStats {
    /// Every error reply.
    pub total: u64,
    /// (code, count), at most [`MAX_ERROR_CODES`] codes.
    pub by_code: Vec<(Box<str>, u64)>,
}

impl ErrorStats {
    /// Counts one error reply whose text (without the `-`) is `text`.
    pub fn record(&mut self, text: &[u8]) {
        self.total += 1;
        let window = &text[..text.len().min(MAX_CODE_LENGTH)];
        let code = match window.iter().position(|&byte| byte == b' ') {
            Some(end) => String::from_utf8_lossy(&text[..end]),
            None => "ERR".into(),
        };
        if let Some((_, count)) = self.by_code.iter_mut().find(|(known, _)| **known == *code) {
            *count += 1;
        } else if self.by_code.len() < MAX_ERROR_CODES {
            self.by_code.push((code.into(), 1));
        }
    }

    /// Forgets every count (CONFIG RESETSTAT).
    pub fn clear(&mut self) {
        *self = ErrorStats::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_is_the_mean_of_the_last_samples() {
        let mut rate = Rate::default();
        let start = Instant::now();
        rate.track(0, start);
        for step in 1..=SAMPLES as u64 {
            rate.track(step * 100, start + SAMPLE_PERIOD * step as u32);
        }
        assert_eq!(rate.per_second(), 1000);
        // Idle periods bring it down sample by sample.
        let later = start + SAMPLE_PERIOD * (SAMPLES as u32 + 8);
        rate.track(SAMPLES as u64 * 100, later);
        assert_eq!(
            rate.per_second(),
            1000 * (SAMPLES as u64 - 1) / SAMPLES as u64
        );
    }

    #[test]
    fn errors_count_by_their_first_word() {
        let mut errors = ErrorStats::default();
        errors.record(b"ERR syntax error");
        errors.record(b"WRONGTYPE Operation against a key holding the wrong kind of value");
        errors.record(b"ERR unknown command");
        errors.record(b"NOSPACEINTHISVERYLONGERRORTEXTATALL");
        assert_eq!(errors.total, 4);
        assert_eq!(
            errors.by_code,
            vec![("ERR".into(), 3), ("WRONGTYPE".into(), 1)]
        );
        for code in 0..200 {
            errors.record(format!("E{code} x").as_bytes());
        }
        assert_eq!(errors.total, 204);
        assert_eq!(errors.by_code.len(), MAX_ERROR_CODES);
    }
}
