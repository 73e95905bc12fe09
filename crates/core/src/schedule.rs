//! Schedule policies and which fire times are due: overlap (what a fire does while the
//! schedule's previous run is still going) and catch-up (what happens to fire times missed
//! while no instance was running).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::cron_expr::CronSchedule;

macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Stored and wire spelling.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            /// Parses the stored spelling.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some(Self::$variant),)+ _ => None }
            }
        }
    };
}

wire_enum!(
    /// What a fire does while a run the schedule started earlier is still going.
    Overlap {
        /// The fire is recorded as skipped.
        Skip => "skip",
        /// The fire waits; its run starts when the previous one ends (in fire order).
        Queue => "queue",
        /// The run starts anyway.
        AllowConcurrent => "allowConcurrent",
    }
);

wire_enum!(
    /// What happens to fire times missed while no instance was running (older than the
    /// grace period when the scheduler sees them).
    CatchUp {
        /// Missed fire times are dropped.
        None => "none",
        /// The most recent missed fire time within the window runs, once.
        Latest => "latest",
        /// Every missed fire time within the window runs, oldest first.
        All => "all",
    }
);

/// How a schedule's due fire times are chosen.
#[derive(Clone, Copy, Debug)]
pub struct DuePolicy {
    /// Missed fire times.
    pub catch_up: CatchUp,
    /// How far back missed fire times are caught up.
    pub window: chrono::Duration,
    /// A fire time at most this late is on time (it runs whatever the catch-up policy).
    pub grace: chrono::Duration,
    /// No fire time after this.
    pub end_at: Option<DateTime<Utc>>,
    /// Most fire times in one plan; the rest come in the next.
    pub limit: usize,
}

/// The fire times to run now and the schedule's next fire time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DuePlan {
    /// Oldest first.
    pub fires: Vec<DateTime<Utc>>,
    /// The next fire time to wait for (`None`: the schedule is over).
    pub next: Option<DateTime<Utc>>,
}

/// Fire times in `[from, until]`, at most `limit`.
fn fires_from(
    cron: &CronSchedule,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: usize,
) -> Vec<DateTime<Utc>> {
    let before = from - chrono::Duration::milliseconds(1);
    cron.fires_between(before, until, limit).into_iter().filter(|t| *t >= from).collect()
}

/// Plans a schedule whose next fire time `next_fire_at` has come (`<= now`).
pub fn plan_due(
    cron: &CronSchedule,
    next_fire_at: DateTime<Utc>,
    now: DateTime<Utc>,
    policy: DuePolicy,
) -> DuePlan {
    let on_time_from = now - policy.grace;
    let mut fires = Vec::new();
    if next_fire_at < on_time_from && policy.catch_up != CatchUp::None {
        let from = next_fire_at.max(now - policy.window);
        let until = on_time_from - chrono::Duration::milliseconds(1);
        match policy.catch_up {
            CatchUp::All => fires = fires_from(cron, from, until, policy.limit),
            CatchUp::Latest => fires.extend(fires_from(cron, from, until, usize::MAX).last()),
            CatchUp::None => {}
        }
    }
    let capped = fires.len() >= policy.limit;
    if !capped {
        let from = next_fire_at.max(on_time_from);
        fires.extend(fires_from(cron, from, now, policy.limit - fires.len()));
    }
    let after = match (capped || fires.len() >= policy.limit, fires.last()) {
        (true, Some(last)) => *last,
        _ => now,
    };
    let end = |t: &DateTime<Utc>| policy.end_at.is_none_or(|end| *t <= end);
    fires.retain(end);
    DuePlan { fires, next: cron.next_after(after).filter(end) }
}

/// A new or resumed schedule's first fire time: the first after `now` and not before
/// `start_at`, unless it is past `end_at`.
pub fn first_fire(
    cron: &CronSchedule,
    now: DateTime<Utc>,
    start_at: Option<DateTime<Utc>>,
    end_at: Option<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    let from = match start_at {
        Some(start) if start > now => start - chrono::Duration::milliseconds(1),
        _ => now,
    };
    cron.next_after(from).filter(|t| end_at.is_none_or(|end| *t <= end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn policy(catch_up: CatchUp) -> DuePolicy {
        DuePolicy {
            catch_up,
            window: chrono::Duration::hours(3),
            grace: chrono::Duration::seconds(60),
            end_at: None,
            limit: 1000,
        }
    }

    fn times(plan: &DuePlan) -> Vec<String> {
        plan.fires.iter().map(|t| t.format("%H:%M").to_string()).collect()
    }

    #[test]
    fn catch_up_after_five_hours_of_downtime() {
        let hourly = CronSchedule::parse("0 * * * *", "UTC").unwrap();
        // Down from 05:00 (next fire 05:00) until 10:00:20: 10:00 is on time.
        let next = utc("2026-12-02T05:00:00Z");
        let now = utc("2026-12-02T10:00:20Z");
        let none = plan_due(&hourly, next, now, policy(CatchUp::None));
        assert_eq!(times(&none), ["10:00"]);
        assert_eq!(none.next, Some(utc("2026-12-02T11:00:00Z")));
        let latest = plan_due(&hourly, next, now, policy(CatchUp::Latest));
        assert_eq!(times(&latest), ["09:00", "10:00"]);
        // The 3-hour window reaches back to 07:00:20.
        let all = plan_due(&hourly, next, now, policy(CatchUp::All));
        assert_eq!(times(&all), ["08:00", "09:00", "10:00"]);
        assert_eq!(all.next, Some(utc("2026-12-02T11:00:00Z")));
    }

    #[test]
    fn a_capped_plan_resumes_after_its_last_fire() {
        let minutely = CronSchedule::parse("* * * * *", "UTC").unwrap();
        let plan = plan_due(
            &minutely,
            utc("2026-12-02T08:00:00Z"),
            utc("2026-12-02T09:00:00Z"),
            DuePolicy { limit: 10, ..policy(CatchUp::All) },
        );
        assert_eq!(plan.fires.len(), 10);
        assert_eq!(plan.next, Some(utc("2026-12-02T08:10:00Z")));
    }

    #[test]
    fn end_and_start_bound_the_fires() {
        let hourly = CronSchedule::parse("0 * * * *", "UTC").unwrap();
        let plan = plan_due(
            &hourly,
            utc("2026-12-02T10:00:00Z"),
            utc("2026-12-02T10:00:01Z"),
            DuePolicy { end_at: Some(utc("2026-12-02T10:30:00Z")), ..policy(CatchUp::None) },
        );
        assert_eq!(times(&plan), ["10:00"]);
        assert_eq!(plan.next, None);
        let now = utc("2026-12-02T10:10:00Z");
        assert_eq!(first_fire(&hourly, now, None, None), Some(utc("2026-12-02T11:00:00Z")));
        let start = Some(utc("2026-12-03T00:00:00Z"));
        assert_eq!(first_fire(&hourly, now, start, None), start);
        assert_eq!(first_fire(&hourly, now, None, Some(utc("2026-12-02T10:59:00Z"))), None);
    }

    #[test]
    fn spellings_round_trip() {
        for overlap in [Overlap::Skip, Overlap::Queue, Overlap::AllowConcurrent] {
            assert_eq!(Overlap::parse(overlap.as_str()), Some(overlap));
        }
        assert_eq!(serde_json::to_string(&CatchUp::Latest).unwrap(), "\"latest\"");
    }
}
