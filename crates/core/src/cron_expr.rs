//! Cron expressions in an IANA time zone: parsing and fire times, with daylight-saving
//! time handled explicitly.
//!
//! Expressions are read by the `cron` crate. The standard 5-field form
//! (`minute hour day-of-month month day-of-week`, day 0 or 7 = Sunday) is converted to the
//! crate's form by prepending a seconds field `0` and spelling days of the week by name;
//! 6- and 7-field expressions (with seconds, and years) are the crate's own (there
//! day-of-week numbers run 1 = Sunday to 7 = Saturday; names work in every form).
//!
//! Fire times are computed on wall-clock time in the schedule's zone, then placed on the
//! time line:
//! - a wall time that does not exist (the hour skipped when clocks go forward) fires once,
//!   at the instant the gap ends (02:30 on the spring-forward night in Europe/Berlin fires at
//!   03:00 CEST; several skipped times collapse into that one fire);
//! - a wall time that exists twice (the hour repeated when clocks go back) fires once, at
//!   its first occurrence.

use std::str::FromStr;

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// Longest accepted expression, in bytes.
pub const MAX_EXPRESSION_BYTES: usize = 200;
/// Wall times examined for one fire time before giving up (an expression that only matches
/// inside repeated hours, or never again).
const MAX_STEPS: usize = 100_000;

/// Why an expression or a zone was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    /// The expression does not parse.
    #[error("invalid cron expression: {0}")]
    Expression(String),
    /// The zone is not an IANA time zone name.
    #[error("unknown time zone {0:?} (use an IANA name such as Europe/Berlin)")]
    TimeZone(String),
}

/// A parsed cron expression bound to a time zone.
#[derive(Clone, Debug)]
pub struct CronSchedule {
    schedule: ::cron::Schedule,
    zone: Tz,
}

impl CronSchedule {
    /// Parses `expression` (5, 6 or 7 fields) for the IANA zone `zone`.
    pub fn parse(expression: &str, zone: &str) -> Result<Self, CronError> {
        let zone = Tz::from_str(zone.trim()).map_err(|_| CronError::TimeZone(zone.to_owned()))?;
        if expression.len() > MAX_EXPRESSION_BYTES {
            return Err(CronError::Expression(format!("longer than {MAX_EXPRESSION_BYTES} bytes")));
        }
        let fields: Vec<&str> = expression.split_whitespace().collect();
        let text = match fields.len() {
            5 => {
                let dow = standard_days_of_week(fields[4])?;
                format!("0 {} {} {} {} {dow}", fields[0], fields[1], fields[2], fields[3])
            }
            6 | 7 => fields.join(" "),
            n => return Err(CronError::Expression(format!("expected 5, 6 or 7 fields, found {n}"))),
        };
        let schedule = ::cron::Schedule::from_str(&text).map_err(|e| CronError::Expression(e.to_string()))?;
        Ok(Self { schedule, zone })
    }

    /// The time zone.
    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// The first fire time strictly after `after`, or `None` when there is none any more.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&self.zone).naive_local();
        // Wall times are walked as if they were UTC: the crate then never sees a gap or a fold.
        let walls = self.schedule.after(&local.and_utc());
        for wall in walls.take(MAX_STEPS) {
            let instant = self.place(wall.naive_utc())?;
            if instant > after {
                return Some(instant);
            }
        }
        None
    }

    /// Fire times in `(after, until]`, oldest first, at most `limit`.
    pub fn fires_between(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Vec<DateTime<Utc>> {
        let mut fires = Vec::new();
        let mut cursor = after;
        while fires.len() < limit {
            match self.next_after(cursor) {
                Some(next) if next <= until => {
                    fires.push(next);
                    cursor = next;
                }
                _ => break,
            }
        }
        fires
    }

    /// The instant of a wall time: its only one, the first of two, or the end of the gap
    /// it falls in.
    fn place(&self, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
        match self.zone.from_local_datetime(&wall) {
            LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
            LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
            LocalResult::None => Some(self.gap_end(wall)),
        }
    }

    /// The first instant whose wall time is at or after `wall` (which falls in a gap): the
    /// moment the clocks jumped. Binary search over one second steps; no zone has a gap
    /// of a day.
    fn gap_end(&self, wall: NaiveDateTime) -> DateTime<Utc> {
        let at =
            |seconds: i64| DateTime::<Utc>::from_timestamp(seconds, 0).unwrap_or(DateTime::<Utc>::MAX_UTC);
        let mut low = wall.and_utc().timestamp() - 86_400;
        let mut high = wall.and_utc().timestamp() + 86_400;
        while high - low > 1 {
            let mid = low + (high - low) / 2;
            if at(mid).with_timezone(&self.zone).naive_local() >= wall {
                high = mid;
            } else {
                low = mid;
            }
        }
        at(high)
    }
}

const DAY_NAMES: [&str; 8] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"];

/// Converts a standard day-of-week field (0–7, 0 and 7 = Sunday; names; lists, ranges and
/// steps) into names, which the `cron` crate reads the same in every form.
fn standard_days_of_week(field: &str) -> Result<String, CronError> {
    if field == "*" || field == "?" {
        return Ok(field.to_owned());
    }
    let bad = || CronError::Expression(format!("invalid day of week {field:?}"));
    let number = |text: &str| -> Result<Option<usize>, CronError> {
        if text.chars().all(|c| c.is_ascii_digit()) {
            let n: usize = text.parse().map_err(|_| bad())?;
            if n > 7 {
                return Err(bad());
            }
            Ok(Some(n))
        } else {
            Ok(None)
        }
    };
    let mut days: Vec<String> = Vec::new();
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => (range, Some(step.parse::<usize>().map_err(|_| bad())?.max(1))),
            None => (part, None),
        };
        let bounds = if range == "*" {
            Some((0, 6))
        } else if let Some((from, to)) = range.split_once('-') {
            match (number(from)?, number(to)?) {
                (Some(from), Some(to)) if from <= to => Some((from, to)),
                (Some(_), Some(_)) => return Err(bad()),
                _ => None,
            }
        } else {
            number(range)?.map(|n| (n, if step.is_some() { 6 } else { n }))
        };
        match bounds {
            Some((from, to)) => {
                let names = (from..=to).step_by(step.unwrap_or(1)).filter_map(|d| DAY_NAMES.get(d).copied());
                days.extend(names.map(str::to_owned));
            }
            // Names (`MON-FRI`, `SUN`) are the crate's already; numbers mixed with names are not.
            None if part.contains(|c: char| c.is_ascii_digit()) && step.is_none() => return Err(bad()),
            None => days.push(part.to_owned()),
        }
    }
    days.dedup();
    Ok(days.join(","))
}

#[cfg(test)]
mod tests;
