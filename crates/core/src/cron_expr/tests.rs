//! Fire times across daylight-saving transitions and expression forms.

use chrono::{DateTime, Datelike, TimeZone, Utc, Weekday};

use super::*;

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

fn fires(expression: &str, zone: &str, after: &str, until: &str) -> Vec<String> {
    let schedule = CronSchedule::parse(expression, zone).unwrap();
    schedule.fires_between(utc(after), utc(until), 100).iter().map(|t| t.to_rfc3339()).collect()
}

#[test]
fn berlin_spring_forward_runs_a_skipped_time_once_right_after_the_gap() {
    // 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00 UTC).
    let got = fires("30 2 * * *", "Europe/Berlin", "2026-03-27T12:00:00Z", "2026-03-30T12:00:00Z");
    assert_eq!(got, ["2026-03-28T01:30:00+00:00", "2026-03-29T01:00:00+00:00", "2026-03-30T00:30:00+00:00"]);
}

#[test]
fn berlin_spring_forward_collapses_every_skipped_time_and_the_gap_end_into_one_fire() {
    let got = fires("*/30 * * * *", "Europe/Berlin", "2026-03-29T00:15:00Z", "2026-03-29T01:45:00Z");
    // 01:30 CET, then 02:00, 02:30 (skipped) and 03:00 CEST fire once at 03:00 CEST, then 03:30.
    assert_eq!(got, ["2026-03-29T00:30:00+00:00", "2026-03-29T01:00:00+00:00", "2026-03-29T01:30:00+00:00"]);
}

#[test]
fn berlin_fall_back_runs_a_repeated_time_once_at_its_first_occurrence() {
    // 2026-10-25: 03:00 CEST goes back to 02:00 CET (01:00 UTC).
    let got = fires("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", "2026-10-26T12:00:00Z");
    assert_eq!(got, ["2026-10-25T00:30:00+00:00", "2026-10-26T01:30:00+00:00"]);
    let got = fires("*/30 * * * *", "Europe/Berlin", "2026-10-24T23:45:00Z", "2026-10-25T02:15:00Z");
    // 02:00 and 02:30 CEST, not again in CET, then 03:00 CET.
    assert_eq!(got, ["2026-10-25T00:00:00+00:00", "2026-10-25T00:30:00+00:00", "2026-10-25T02:00:00+00:00"]);
}

#[test]
fn new_york_transitions() {
    // 2026-03-08: 02:00 EST jumps to 03:00 EDT (07:00 UTC).
    let got = fires("0 2 * * *", "America/New_York", "2026-03-07T00:00:00Z", "2026-03-09T12:00:00Z");
    assert_eq!(got, ["2026-03-07T07:00:00+00:00", "2026-03-08T07:00:00+00:00", "2026-03-09T06:00:00+00:00"]);
    // 2026-11-01: 02:00 EDT goes back to 01:00 EST (06:00 UTC); 01:30 happens twice.
    let got = fires("30 1 * * *", "America/New_York", "2026-10-31T00:00:00Z", "2026-11-02T12:00:00Z");
    assert_eq!(got, ["2026-10-31T05:30:00+00:00", "2026-11-01T05:30:00+00:00", "2026-11-02T06:30:00+00:00"]);
}

#[test]
fn a_fire_in_the_second_pass_of_a_repeated_hour_moves_on() {
    let schedule = CronSchedule::parse("*/15 * * * *", "America/New_York").unwrap();
    // 06:20 UTC is 01:20 EST, inside the repeated hour; 01:30 EST already happened as EDT.
    let next = schedule.next_after(utc("2026-11-01T06:20:00Z")).unwrap();
    assert_eq!(next.to_rfc3339(), "2026-11-01T07:00:00+00:00");
}

#[test]
fn standard_days_of_week_count_from_sunday_zero() {
    let schedule = CronSchedule::parse("0 9 * * 1-5", "UTC").unwrap();
    let days: Vec<Weekday> = schedule
        .fires_between(utc("2026-12-01T00:00:00Z"), utc("2026-12-08T00:00:00Z"), 10)
        .iter()
        .map(|t| t.weekday())
        .collect();
    assert_eq!(days, [Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Mon]);
    let sundays = CronSchedule::parse("0 9 * * 0,7", "UTC").unwrap();
    assert_eq!(sundays.next_after(utc("2026-12-01T00:00:00Z")).unwrap().weekday(), Weekday::Sun);
    let names = CronSchedule::parse("0 9 * * SAT", "UTC").unwrap();
    assert_eq!(names.next_after(utc("2026-12-01T00:00:00Z")).unwrap().weekday(), Weekday::Sat);
    let step = CronSchedule::parse("0 9 * * */3", "UTC").unwrap();
    let days: Vec<Weekday> = step
        .fires_between(utc("2026-12-05T12:00:00Z"), utc("2026-12-12T12:00:00Z"), 10)
        .iter()
        .map(|t| t.weekday())
        .collect();
    assert_eq!(days, [Weekday::Sun, Weekday::Wed, Weekday::Sat]);
}

#[test]
fn seconds_and_years_fields() {
    let schedule = CronSchedule::parse("15 0 12 1 1 * 2030", "UTC").unwrap();
    let next = schedule.next_after(utc("2026-12-01T00:00:00Z")).unwrap();
    assert_eq!(next, Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 15).unwrap());
    assert_eq!(schedule.next_after(next), None);
    let every_ten = CronSchedule::parse("*/10 * * * * *", "Asia/Kolkata").unwrap();
    assert_eq!(
        every_ten.fires_between(utc("2026-12-01T00:00:00Z"), utc("2026-12-01T00:01:00Z"), 100).len(),
        6
    );
}

#[test]
fn refusals() {
    assert!(matches!(CronSchedule::parse("* * *", "UTC"), Err(CronError::Expression(_))));
    assert!(matches!(CronSchedule::parse("61 * * * *", "UTC"), Err(CronError::Expression(_))));
    assert!(matches!(CronSchedule::parse("0 9 * * 8", "UTC"), Err(CronError::Expression(_))));
    assert!(matches!(CronSchedule::parse("0 9 * * *", "Mars/Olympus"), Err(CronError::TimeZone(_))));
}
