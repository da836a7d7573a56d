//! How hard render threads compete for the CPU.
//!
//! A render the listener waits for (a track's first chunk, a seek or a switch with `at=`) runs
//! at the normal priority; a render made ahead of the playhead (a prefetch) can be set to yield
//! to everything else on the machine (`EngineConfig::ahead_priority`). Off by default: the web
//! view's dropouts under load, which this was meant to prevent, came as often with it, and as
//! often with nothing rendering at all (BENCHMARKS.md "Dropouts under load"), while a lowered
//! prefetch took about 10× longer on a saturated machine. A span one render lowered is
//! computed once (the cache's single flight), so a seek that needs it waits at that level.
//!
//! Linux only: nice values and `SCHED_IDLE` are per thread there (the `thread-priority` crate), set on the render's own
//! worker threads, which end with the render. Elsewhere every level is the normal one.

use std::str::FromStr;

/// The scheduling level of a render's worker threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenderPriority {
    /// As every other thread of the process.
    Normal,
    /// Nice 19: the smallest share of a busy CPU among normal threads (about 1/70 of a
    /// nice-0 thread's), never starved outright.
    Lowest,
    /// `SCHED_IDLE`: runs only when nothing else wants the CPU.
    Idle,
}

impl RenderPriority {
    /// The environment variable that overrides the prefetch level (for measurements):
    /// `normal`, `lowest` or `idle`.
    pub const ENV: &'static str = "SONANCE_PREFETCH_PRIORITY";

    /// The level for renders ahead of the playhead: [`Self::ENV`] if it parses, else
    /// `default`.
    pub fn ahead_from_env(default: RenderPriority) -> RenderPriority {
        match std::env::var(Self::ENV) {
            Ok(v) => v.parse().unwrap_or_else(|e| {
                log::warn!("{}: {e}; prefetch renders run at {default:?}", Self::ENV);
                default
            }),
            Err(_) => default,
        }
    }

    /// Put the calling thread at this level. Only for threads that end with the render: an
    /// unprivileged thread cannot come back to the normal level. Failures are logged, not
    /// fatal (the render only yields less).
    pub fn apply_to_current_thread(self) {
        if let Err(e) = imp::apply(self) {
            log::debug!("cannot set a render thread to {self:?}: {e:?}");
        }
    }

    /// Whether threads at this level differ from the normal ones on this platform.
    pub fn is_lowered(self) -> bool {
        imp::SUPPORTED && self != RenderPriority::Normal
    }
}

impl FromStr for RenderPriority {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "normal" => Ok(RenderPriority::Normal),
            "lowest" => Ok(RenderPriority::Lowest),
            "idle" => Ok(RenderPriority::Idle),
            other => Err(format!("{other:?} is not normal, lowest or idle")),
        }
    }
}

/// The calling thread's scheduling as the kernel reports it: (`SCHED_IDLE`?, nice value).
/// For tests and diagnostics; `None` where the platform has no per-thread levels.
pub fn current_thread_level() -> Option<(bool, i32)> {
    imp::current()
}

#[cfg(target_os = "linux")]
mod imp {
    use super::RenderPriority;
    use thread_priority::{
        set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy,
        ThreadPriority, ThreadSchedulePolicy,
    };

    pub const SUPPORTED: bool = true;

    /// On Linux, nice values and policies belong to the thread.
    pub fn apply(level: RenderPriority) -> Result<(), thread_priority::Error> {
        let policy = match level {
            RenderPriority::Normal => return Ok(()),
            RenderPriority::Lowest => NormalThreadSchedulePolicy::Other,
            RenderPriority::Idle => NormalThreadSchedulePolicy::Idle,
        };
        set_thread_priority_and_policy(
            thread_native_id(),
            ThreadPriority::Min,
            ThreadSchedulePolicy::Normal(policy),
        )
    }

    /// From /proc/thread-self/stat: field 19 is the nice value, field 41 the policy
    /// (5 = SCHED_IDLE). Fields are counted after the command name, which may hold spaces.
    pub fn current() -> Option<(bool, i32)> {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
        let rest = &stat[stat.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // `rest` starts at field 3 (state).
        let nice = fields.get(19 - 3)?.parse().ok()?;
        let policy: i32 = fields.get(41 - 3)?.parse().ok()?;
        Some((policy == libc::SCHED_IDLE, nice))
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use super::RenderPriority;

    pub const SUPPORTED: bool = false;

    pub fn apply(_level: RenderPriority) -> Result<(), std::convert::Infallible> {
        Ok(())
    }

    pub fn current() -> Option<(bool, i32)> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_and_bad_ones_are_refused() {
        assert_eq!("normal".parse(), Ok(RenderPriority::Normal));
        assert_eq!("idle".parse(), Ok(RenderPriority::Idle));
        assert_eq!("lowest".parse(), Ok(RenderPriority::Lowest));
        for bad in ["nice:19", "low", ""] {
            assert!(bad.parse::<RenderPriority>().is_err(), "{bad}");
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_thread_set_to_idle_runs_under_sched_idle_and_others_are_untouched() {
        let before = current_thread_level().expect("readable on Linux");
        let inside = std::thread::spawn(|| {
            RenderPriority::Idle.apply_to_current_thread();
            current_thread_level()
        })
        .join()
        .expect("thread");
        assert_eq!(inside.map(|(idle, _)| idle), Some(true));
        assert_eq!(current_thread_level(), Some(before));
    }
}
