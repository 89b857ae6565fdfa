//! A cheap monotonic clock for timing every command (the slow log, commandstats).
//!
//! Reading the system clock costs about as much as executing a GET, so each command is
//! timed with the CPU's time-stamp counter where it ticks at a constant rate on every core
//! (`constant_tsc` and `nonstop_tsc`), as Redis's monotonic clock does; elsewhere with
//! `Instant`. Tick counts are converted to microseconds only when a total is needed.

use std::sync::OnceLock;
use std::time::Instant;

/// A reading of the clock, in ticks of unspecified length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ticks(u64);

/// How the clock is read, fixed at first use.
struct Source {
    /// Whether the time-stamp counter is read (else nanoseconds since `epoch`).
    tsc: bool,
    /// Ticks per microsecond.
    per_micro: f64,
    /// Nanoseconds per tick in 32.32 fixed point: the per-command conversion is then one
    /// multiplication.
    nanos_per_tick_q32: u64,
    /// The origin of `Instant` readings.
    epoch: Instant,
}

impl Source {
    fn new(tsc: bool, per_micro: f64) -> Source {
        Source {
            tsc,
            per_micro,
            nanos_per_tick_q32: (1000.0 / per_micro * (1u64 << 32) as f64) as u64,
            epoch: Instant::now(),
        }
    }
}

static SOURCE: OnceLock<Source> = OnceLock::new();

/// Chooses and calibrates the clock now (a 10 ms measurement when the time-stamp counter
/// is used), so that no command pays for it; later calls do nothing.
pub fn init() {
    let _ = source();
}

fn source() -> &'static Source {
    SOURCE.get_or_init(|| match tsc_per_micro() {
        Some(per_micro) => Source::new(true, per_micro),
        None => Source::new(false, 1000.0),
    })
}

impl Ticks {
    /// The clock now.
    #[inline]
    pub fn now() -> Ticks {
        let source = source();
        if source.tsc {
            Ticks(read_tsc())
        } else {
            Ticks(source.epoch.elapsed().as_nanos() as u64)
        }
    }

    /// Ticks from `self` to `later` (zero if `later` is not later).
    #[inline]
    pub fn until(self, later: Ticks) -> u64 {
        later.0.saturating_sub(self.0)
    }
}

/// The clock as INFO's `monotonic_clock` names it, in Redis's words.
pub fn describe() -> String {
    let source = source();
    if source.tsc {
        format!("X86 TSC @ {:.0} ticks/us", source.per_micro)
    } else {
        "POSIX clock_gettime".to_owned()
    }
}

/// Microseconds in `ticks` (rounded down).
pub fn micros(ticks: u64) -> u64 {
    (ticks as f64 / source().per_micro) as u64
}

/// Nanoseconds in `ticks` (rounded down).
#[inline]
pub fn nanos(ticks: u64) -> u64 {
    ((u128::from(ticks) * u128::from(source().nanos_per_tick_q32)) >> 32) as u64
}

/// Ticks in `micros` microseconds (rounded up, so that a tick count compared with it is
/// at least that long).
pub fn from_micros(micros: u64) -> u64 {
    (micros as f64 * source().per_micro).ceil() as u64
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn read_tsc() -> u64 {
    // SAFETY: RDTSC has no preconditions; it is only chosen where the CPU reports it.
    unsafe { core::arch::x86_64::_rdtsc() }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn read_tsc() -> u64 {
    0
}

/// The time-stamp counter's rate, when it is usable as a clock: x86-64 whose CPUs report
/// an invariant counter, measured against the system clock over 10 ms.
fn tsc_per_micro() -> Option<f64> {
    if !cfg!(target_arch = "x86_64") {
        return None;
    }
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let flags = cpuinfo.lines().find(|line| line.starts_with("flags"))?;
    let has = |flag: &str| flags.split_whitespace().any(|word| word == flag);
    if !(has("constant_tsc") && has("nonstop_tsc")) {
        return None;
    }
    let (start, start_tsc) = (Instant::now(), read_tsc());
    while start.elapsed().as_micros() < 10_000 {
        std::hint::spin_loop();
    }
    let (elapsed, ticks) = (start.elapsed(), read_tsc().wrapping_sub(start_tsc));
    let per_micro = ticks as f64 / (elapsed.as_nanos() as f64 / 1000.0);
    (per_micro.is_finite() && per_micro > 1.0).then_some(per_micro)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_measure_elapsed_time() {
        init();
        let start = Ticks::now();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let elapsed = micros(start.until(Ticks::now()));
        assert!(
            (20_000..10_000_000).contains(&elapsed),
            "a 20 ms sleep measured {elapsed} µs"
        );
    }

    #[test]
    fn nanoseconds_agree_with_microseconds() {
        init();
        for micros_in in [1, 10, 1000, 2_000_000] {
            let ticks = from_micros(micros_in);
            let nanos = nanos(ticks);
            assert!(
                nanos.abs_diff(micros_in * 1000) <= micros_in + 1,
                "{nanos} ns for {micros_in} µs"
            );
        }
    }

    #[test]
    fn conversions_round_trip() {
        for micros_in in [0, 1, 10, 10_000, 5_000_000] {
            let ticks = from_micros(micros_in);
            assert!(micros(ticks) >= micros_in.saturating_sub(1));
            assert!(micros(ticks) <= micros_in + 1);
        }
        assert_eq!(Ticks::now().until(Ticks(0)), 0);
    }
}
