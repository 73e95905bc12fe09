//! The `schedule` router: cron schedules of workflows (create, list, get, update, pause,
//! resume, delete, preview, fires). The engine's scheduler fires them (see
//! `weft_engine::scheduler`); every change wakes this process's scheduler. A schedule in a
//! project the caller is not a member of answers not-found.

pub mod types;

use chrono::Utc;
use weft_core::cron_expr::CronSchedule;
use weft_core::schedule::{CatchUp, Overlap, first_fire};
use weft_core::{ProjectRole, Role, ScheduleId, ValidationErrors};

use crate::error::ApiError;
use crate::routers::common::{self, require_project};
use crate::routers::workflow::require_workflow;
use crate::rpc::{Access, CallContext, Kind, Procedure, Registry};
use types::*;

/// Registers the router's procedures.
pub fn register(registry: Registry) -> Registry {
    registry
        .add::<Create>()
        .add::<List>()
        .add::<Get>()
        .add::<Update>()
        .add::<Pause>()
        .add::<Resume>()
        .add::<Delete>()
        .add::<Preview>()
        .add::<Fires>()
}

const MEMBER: Access = Access::Role(Role::Guest);
/// Default catch-up window: one day.
const DEFAULT_WINDOW_SECS: i64 = 24 * 3600;
/// Longest catch-up window: 30 days.
const MAX_WINDOW_SECS: i64 = 30 * 24 * 3600;
/// Largest schedule input, as JSON text.
const MAX_INPUT_BYTES: usize = 64 * 1024;
/// Most fire times one preview lists.
const MAX_PREVIEW: u32 = 100;

/// Loads a schedule if the caller's role in its project is at least `required`.
async fn require_schedule(
    ctx: &CallContext,
    id: ScheduleId,
    required: ProjectRole,
) -> Result<weft_store::Schedule, ApiError> {
    let caller = ctx.caller()?;
    let store = ctx.state.store();
    let not_found = || ApiError::NotFound { resource: "schedule" };
    let schedule = store.get_schedule(id).await?.ok_or_else(not_found)?;
    let role = store.project_role(schedule.project_id, caller.user_id).await?.ok_or_else(not_found)?;
    if !role.satisfies(required) {
        return Err(ApiError::ForbiddenInProject { required });
    }
    Ok(schedule)
}

/// Checks a schedule's settings, then computes its next fire time (none when paused).
fn settle(schedule: &mut weft_store::Schedule) -> Result<(), ApiError> {
    let mut errors = ValidationErrors::new();
    schedule.name = common::name(&mut errors, "name", &schedule.name);
    let cron = match CronSchedule::parse(&schedule.cron, &schedule.time_zone) {
        Ok(cron) => Some(cron),
        Err(weft_core::cron_expr::CronError::TimeZone(_)) => {
            errors.push(weft_core::FieldError::new("timeZone", "invalid", "is not an IANA time zone name"));
            None
        }
        Err(err) => {
            errors.push(weft_core::FieldError::new("cron", "invalid", err.to_string()));
            None
        }
    };
    errors.check(common::timestamp("startAt", schedule.start_at));
    errors.check(common::timestamp("endAt", schedule.end_at));
    if let (Some(start), Some(end)) = (schedule.start_at, schedule.end_at)
        && end <= start
    {
        errors.push(weft_core::FieldError::new("endAt", "beforeStart", "must be after startAt"));
    }
    if !(1..=MAX_WINDOW_SECS).contains(&schedule.catch_up_window_secs) {
        errors.push(weft_core::FieldError::new(
            "catchUpWindowSeconds",
            "outOfRange",
            format!("must be between 1 and {MAX_WINDOW_SECS}"),
        ));
    }
    if schedule.input.len() > MAX_INPUT_BYTES {
        errors.push(weft_core::FieldError::new(
            "input",
            "tooLarge",
            format!("at most {MAX_INPUT_BYTES} bytes of JSON"),
        ));
    }
    errors.into_result()?;
    schedule.next_fire_at = match (&cron, schedule.paused) {
        (Some(cron), false) => first_fire(cron, Utc::now(), schedule.start_at, schedule.end_at),
        _ => None,
    };
    Ok(())
}

fn input_text(input: Option<serde_json::Value>) -> String {
    input.unwrap_or_else(|| serde_json::json!({})).to_string()
}

/// `schedule.create`.
pub struct Create;
impl Procedure for Create {
    const NAME: &'static str = "schedule.create";
    const DOC: &'static str = "Creates a cron schedule of a workflow (EDITOR): a 5-field (standard) or 6/7-field (seconds, years) expression in an IANA time zone, optional start and end, the runs' input, and the overlap (skip, queue, allowConcurrent) and catch-up (none, latest, all within a window) policies. Its runs execute the published version; each fire time runs exactly once across instances.";
    const ACCESS: Access = MEMBER;
    type Params = CreateScheduleParams;
    type Output = ScheduleView;

    async fn call(ctx: CallContext, params: CreateScheduleParams) -> Result<ScheduleView, ApiError> {
        let caller = ctx.caller()?;
        let workflow = require_workflow(&ctx, params.workflow_id, ProjectRole::Editor).await?;
        let now = Utc::now();
        let mut schedule = weft_store::Schedule {
            id: ScheduleId::new(),
            project_id: workflow.project_id,
            workflow_id: workflow.id,
            name: params.name.unwrap_or_else(|| params.cron.clone()),
            cron: params.cron,
            time_zone: params.time_zone.unwrap_or_else(|| "UTC".to_owned()),
            start_at: params.start_at,
            end_at: params.end_at,
            input: input_text(params.input),
            overlap: params.overlap.unwrap_or(Overlap::Skip),
            catch_up: params.catch_up.unwrap_or(CatchUp::None),
            catch_up_window_secs: params.catch_up_window_seconds.unwrap_or(DEFAULT_WINDOW_SECS),
            paused: params.paused.unwrap_or(false),
            next_fire_at: None,
            created_by: Some(caller.user_id),
            created_at: now,
            updated_at: now,
        };
        settle(&mut schedule)?;
        let created = ctx.state.store().create_schedule(&schedule).await?;
        ctx.state.engine().schedules_changed();
        Ok(created.into())
    }
}

/// `schedule.list`.
pub struct List;
impl Procedure for List {
    const NAME: &'static str = "schedule.list";
    const DOC: &'static str = "The schedules of a project or of one of its workflows, oldest first.";
    const ACCESS: Access = MEMBER;
    const KIND: Kind = Kind::Query;
    type Params = ListSchedulesParams;
    type Output = ScheduleList;

    async fn call(ctx: CallContext, params: ListSchedulesParams) -> Result<ScheduleList, ApiError> {
        let (project, workflow) = match (params.workflow_id, params.project_id) {
            (Some(id), project) => {
                let workflow = require_workflow(&ctx, id, ProjectRole::Viewer).await?;
                if project.is_some_and(|p| p != workflow.project_id) {
                    return Err(ApiError::NotFound { resource: "workflow" });
                }
                (workflow.project_id, Some(workflow.id))
            }
            (None, Some(project)) => {
                (require_project(&ctx, project, ProjectRole::Viewer).await?.project.id, None)
            }
            (None, None) => {
                return Err(ApiError::field("projectId", "required", "name a project or a workflow"));
            }
        };
        let schedules = ctx.state.store().list_schedules(project, workflow).await?;
        Ok(ScheduleList { items: schedules.into_iter().map(Into::into).collect() })
    }
}

/// `schedule.get`.
pub struct Get;
impl Procedure for Get {
    const NAME: &'static str = "schedule.get";
    const DOC: &'static str = "One schedule with its next fire time.";
    const ACCESS: Access = MEMBER;
    const KIND: Kind = Kind::Query;
    type Params = ScheduleRef;
    type Output = ScheduleView;

    async fn call(ctx: CallContext, params: ScheduleRef) -> Result<ScheduleView, ApiError> {
        Ok(require_schedule(&ctx, params.schedule_id, ProjectRole::Viewer).await?.into())
    }
}

/// Stores a changed schedule and wakes the scheduler.
async fn save(ctx: &CallContext, mut schedule: weft_store::Schedule) -> Result<ScheduleView, ApiError> {
    schedule.updated_at = Utc::now();
    settle(&mut schedule)?;
    let saved = ctx
        .state
        .store()
        .update_schedule(&schedule)
        .await?
        .ok_or(ApiError::NotFound { resource: "schedule" })?;
    ctx.state.engine().schedules_changed();
    Ok(saved.into())
}

/// `schedule.update`.
pub struct Update;
impl Procedure for Update {
    const NAME: &'static str = "schedule.update";
    const DOC: &'static str =
        "Changes a schedule's settings (EDITOR); its next fire time is computed again from now.";
    const ACCESS: Access = MEMBER;
    type Params = UpdateScheduleParams;
    type Output = ScheduleView;

    async fn call(ctx: CallContext, params: UpdateScheduleParams) -> Result<ScheduleView, ApiError> {
        let mut schedule = require_schedule(&ctx, params.schedule_id, ProjectRole::Editor).await?;
        if params.clear_bounds == Some(true) {
            schedule.start_at = None;
            schedule.end_at = None;
        }
        schedule.name = params.name.unwrap_or(schedule.name);
        schedule.cron = params.cron.unwrap_or(schedule.cron);
        schedule.time_zone = params.time_zone.unwrap_or(schedule.time_zone);
        schedule.start_at = params.start_at.or(schedule.start_at);
        schedule.end_at = params.end_at.or(schedule.end_at);
        if let Some(input) = params.input {
            schedule.input = input.to_string();
        }
        schedule.overlap = params.overlap.unwrap_or(schedule.overlap);
        schedule.catch_up = params.catch_up.unwrap_or(schedule.catch_up);
        schedule.catch_up_window_secs =
            params.catch_up_window_seconds.unwrap_or(schedule.catch_up_window_secs);
        save(&ctx, schedule).await
    }
}

/// `schedule.pause`.
pub struct Pause;
impl Procedure for Pause {
    const NAME: &'static str = "schedule.pause";
    const DOC: &'static str = "Pauses a schedule (EDITOR): it does not fire until resumed.";
    const ACCESS: Access = MEMBER;
    type Params = ScheduleRef;
    type Output = ScheduleView;

    async fn call(ctx: CallContext, params: ScheduleRef) -> Result<ScheduleView, ApiError> {
        let mut schedule = require_schedule(&ctx, params.schedule_id, ProjectRole::Editor).await?;
        schedule.paused = true;
        save(&ctx, schedule).await
    }
}

/// `schedule.resume`.
pub struct Resume;
impl Procedure for Resume {
    const NAME: &'static str = "schedule.resume";
    const DOC: &'static str = "Resumes a paused schedule (EDITOR) from its next fire time after now; fire times passed while paused are not caught up.";
    const ACCESS: Access = MEMBER;
    type Params = ScheduleRef;
    type Output = ScheduleView;

    async fn call(ctx: CallContext, params: ScheduleRef) -> Result<ScheduleView, ApiError> {
        let mut schedule = require_schedule(&ctx, params.schedule_id, ProjectRole::Editor).await?;
        schedule.paused = false;
        save(&ctx, schedule).await
    }
}

/// `schedule.delete`.
pub struct Delete;
impl Procedure for Delete {
    const NAME: &'static str = "schedule.delete";
    const DOC: &'static str = "Deletes a schedule and its fire history (EDITOR); runs it started stay.";
    const ACCESS: Access = MEMBER;
    type Params = ScheduleRef;
    type Output = Deleted;

    async fn call(ctx: CallContext, params: ScheduleRef) -> Result<Deleted, ApiError> {
        let schedule = require_schedule(&ctx, params.schedule_id, ProjectRole::Editor).await?;
        if !ctx.state.store().delete_schedule(schedule.id).await? {
            return Err(ApiError::NotFound { resource: "schedule" });
        }
        ctx.state.engine().schedules_changed();
        Ok(Deleted { deleted: true })
    }
}

/// `schedule.preview`.
pub struct Preview;
impl Procedure for Preview {
    const NAME: &'static str = "schedule.preview";
    const DOC: &'static str = "The next fire times (UTC) of a stored schedule (within its start and end), or of an expression in a time zone, after `after` (default now). Daylight-saving gaps fire once when they end; repeated hours fire once.";
    const ACCESS: Access = MEMBER;
    const KIND: Kind = Kind::Query;
    type Params = PreviewParams;
    type Output = PreviewResult;

    async fn call(ctx: CallContext, params: PreviewParams) -> Result<PreviewResult, ApiError> {
        let count = params.count.unwrap_or(5);
        if count == 0 || count > MAX_PREVIEW {
            return Err(ApiError::field(
                "count",
                "outOfRange",
                &format!("must be between 1 and {MAX_PREVIEW}"),
            ));
        }
        common::timestamp("after", params.after).map_err(ValidationErrors::single)?;
        let now = params.after.unwrap_or_else(Utc::now);
        let (expression, zone, start, end) = match (params.schedule_id, params.cron) {
            (Some(id), None) => {
                let s = require_schedule(&ctx, id, ProjectRole::Viewer).await?;
                (s.cron, s.time_zone, s.start_at, s.end_at)
            }
            (None, Some(cron)) => (cron, params.time_zone.unwrap_or_else(|| "UTC".to_owned()), None, None),
            _ => {
                return Err(ApiError::field(
                    "scheduleId",
                    "required",
                    "name a schedule or give a cron expression",
                ));
            }
        };
        let cron = CronSchedule::parse(&expression, &zone).map_err(|err| match err {
            weft_core::cron_expr::CronError::TimeZone(_) => {
                ApiError::field("timeZone", "invalid", "is not an IANA time zone name")
            }
            other => ApiError::field("cron", "invalid", &other.to_string()),
        })?;
        let mut fire_times = Vec::new();
        let mut cursor = first_fire(&cron, now, start, end);
        while let Some(at) = cursor {
            fire_times.push(at);
            if fire_times.len() >= count as usize {
                break;
            }
            cursor = cron.next_after(at).filter(|t| end.is_none_or(|end| *t <= end));
        }
        Ok(PreviewResult { fire_times })
    }
}

/// `schedule.fires`.
pub struct Fires;
impl Procedure for Fires {
    const NAME: &'static str = "schedule.fires";
    const DOC: &'static str = "The fire history of a schedule, newest first: each fire time, what became of it (started, skipped, queued) and its run with the run's status.";
    const ACCESS: Access = MEMBER;
    const KIND: Kind = Kind::Query;
    type Params = FiresParams;
    type Output = FirePage;

    async fn call(ctx: CallContext, params: FiresParams) -> Result<FirePage, ApiError> {
        let schedule = require_schedule(&ctx, params.schedule_id, ProjectRole::Viewer).await?;
        let (before, limit) = common::page(params.cursor.as_deref(), params.limit)?;
        let page = ctx.state.store().list_fires(schedule.id.0, before, limit).await?;
        Ok(FirePage {
            items: page.items.into_iter().map(Into::into).collect(),
            next_cursor: page.next_cursor.map(|c| c.to_string()),
        })
    }
}
