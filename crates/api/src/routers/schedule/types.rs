//! Wire types of the `schedule` router.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use weft_core::schedule::{CatchUp, Overlap};
use weft_core::{ProjectId, RunId, ScheduleId, WorkflowId};

/// A schedule as the API shows it.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleView {
    /// The schedule.
    pub id: ScheduleId,
    /// Its project.
    pub project_id: ProjectId,
    /// The workflow it starts (its published version).
    pub workflow_id: WorkflowId,
    /// Name.
    pub name: String,
    /// Cron expression: 5 fields (standard), or 6/7 with seconds and years.
    pub cron: String,
    /// IANA time zone of the expression.
    pub time_zone: String,
    /// No fire before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub start_at: Option<DateTime<Utc>>,
    /// No fire after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub end_at: Option<DateTime<Utc>>,
    /// The schedule's input (runs receive it as `input`, beside `scheduleId` and `fireAt`).
    pub input: serde_json::Value,
    /// While a previous run goes on.
    pub overlap: Overlap,
    /// Fire times missed while no instance ran.
    pub catch_up: CatchUp,
    /// How far back missed fire times are caught up.
    #[ts(type = "number")]
    pub catch_up_window_seconds: i64,
    /// Paused schedules do not fire.
    pub paused: bool,
    /// The next fire time (none when paused or over).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub next_fire_at: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<weft_store::Schedule> for ScheduleView {
    fn from(s: weft_store::Schedule) -> Self {
        Self {
            id: s.id,
            project_id: s.project_id,
            workflow_id: s.workflow_id,
            name: s.name,
            cron: s.cron,
            time_zone: s.time_zone,
            start_at: s.start_at,
            end_at: s.end_at,
            input: serde_json::from_str(&s.input).unwrap_or(serde_json::Value::Null),
            overlap: s.overlap,
            catch_up: s.catch_up,
            catch_up_window_seconds: s.catch_up_window_secs,
            paused: s.paused,
            next_fire_at: s.next_fire_at,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// `schedule.create` params.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateScheduleParams {
    /// The workflow to start.
    pub workflow_id: WorkflowId,
    /// Name (default: the expression).
    #[serde(default)]
    #[ts(optional)]
    pub name: Option<String>,
    /// Cron expression.
    pub cron: String,
    /// IANA time zone (default `UTC`).
    #[serde(default)]
    #[ts(optional)]
    pub time_zone: Option<String>,
    /// No fire before.
    #[serde(default)]
    #[ts(optional)]
    pub start_at: Option<DateTime<Utc>>,
    /// No fire after.
    #[serde(default)]
    #[ts(optional)]
    pub end_at: Option<DateTime<Utc>>,
    /// Input of the runs (default `{}`).
    #[serde(default)]
    #[ts(optional)]
    pub input: Option<serde_json::Value>,
    /// Default `skip`.
    #[serde(default)]
    #[ts(optional)]
    pub overlap: Option<Overlap>,
    /// Default `none`.
    #[serde(default)]
    #[ts(optional)]
    pub catch_up: Option<CatchUp>,
    /// Default one day; at most 30 days.
    #[serde(default)]
    #[ts(optional, type = "number")]
    pub catch_up_window_seconds: Option<i64>,
    /// Create it paused.
    #[serde(default)]
    #[ts(optional)]
    pub paused: Option<bool>,
}

/// `schedule.update` params: every given field replaces the stored one.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateScheduleParams {
    /// The schedule.
    pub schedule_id: ScheduleId,
    /// Name.
    #[serde(default)]
    #[ts(optional)]
    pub name: Option<String>,
    /// Cron expression.
    #[serde(default)]
    #[ts(optional)]
    pub cron: Option<String>,
    /// IANA time zone.
    #[serde(default)]
    #[ts(optional)]
    pub time_zone: Option<String>,
    /// No fire before.
    #[serde(default)]
    #[ts(optional)]
    pub start_at: Option<DateTime<Utc>>,
    /// No fire after.
    #[serde(default)]
    #[ts(optional)]
    pub end_at: Option<DateTime<Utc>>,
    /// Remove `startAt` and `endAt`.
    #[serde(default)]
    #[ts(optional)]
    pub clear_bounds: Option<bool>,
    /// Input of the runs.
    #[serde(default)]
    #[ts(optional)]
    pub input: Option<serde_json::Value>,
    /// Overlap policy.
    #[serde(default)]
    #[ts(optional)]
    pub overlap: Option<Overlap>,
    /// Catch-up policy.
    #[serde(default)]
    #[ts(optional)]
    pub catch_up: Option<CatchUp>,
    /// Catch-up window.
    #[serde(default)]
    #[ts(optional, type = "number")]
    pub catch_up_window_seconds: Option<i64>,
}

/// Names a schedule.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScheduleRef {
    /// The schedule.
    pub schedule_id: ScheduleId,
}

/// `schedule.list` params: a project's schedules, or a workflow's.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListSchedulesParams {
    /// The project.
    #[serde(default)]
    #[ts(optional)]
    pub project_id: Option<ProjectId>,
    /// Or the workflow.
    #[serde(default)]
    #[ts(optional)]
    pub workflow_id: Option<WorkflowId>,
}

/// `schedule.list` result.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleList {
    /// Oldest first.
    pub items: Vec<ScheduleView>,
}

/// `schedule.preview` params: a stored schedule, or an expression and zone.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PreviewParams {
    /// A stored schedule.
    #[serde(default)]
    #[ts(optional)]
    pub schedule_id: Option<ScheduleId>,
    /// Or an expression.
    #[serde(default)]
    #[ts(optional)]
    pub cron: Option<String>,
    /// Its zone (default `UTC`).
    #[serde(default)]
    #[ts(optional)]
    pub time_zone: Option<String>,
    /// From (default now).
    #[serde(default)]
    #[ts(optional)]
    pub after: Option<DateTime<Utc>>,
    /// How many (default 5, at most 100).
    #[serde(default)]
    #[ts(optional)]
    pub count: Option<u32>,
}

/// `schedule.preview` result.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreviewResult {
    /// The next fire times (UTC), oldest first.
    pub fire_times: Vec<DateTime<Utc>>,
}

/// `schedule.fires` params.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FiresParams {
    /// The schedule.
    pub schedule_id: ScheduleId,
    /// The previous page's `nextCursor` (absent or `null`: the first page).
    #[serde(default)]
    #[ts(optional = nullable)]
    pub cursor: Option<String>,
    /// Page size (default 50, at most 200).
    #[serde(default)]
    #[ts(optional)]
    pub limit: Option<u32>,
}

/// One fire of a schedule.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FireView {
    /// The fire time.
    pub fire_at: DateTime<Utc>,
    /// `started`, `skipped` (overlap, or no published version) or `queued`.
    pub status: String,
    /// The run it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub run_id: Option<RunId>,
    /// That run's status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub run_status: Option<String>,
    /// When the fire was recorded.
    pub recorded_at: DateTime<Utc>,
}

impl From<weft_store::Fire> for FireView {
    fn from(fire: weft_store::Fire) -> Self {
        Self {
            fire_at: fire.fire_at,
            status: fire.status.as_str().to_owned(),
            run_id: fire.run_id,
            run_status: fire.run_status.map(|s| s.as_str().to_owned()),
            recorded_at: fire.created_at,
        }
    }
}

/// `schedule.fires` result.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FirePage {
    /// Newest first.
    pub items: Vec<FireView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// What a delete did.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Deleted {
    /// Always true (a missing one answers not-found).
    pub deleted: bool,
}
