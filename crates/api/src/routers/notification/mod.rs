//! The `notification` router: the caller's notifications (created by the system when a run
//! they started fails, an approval waits for them, they are invited, someone joins their
//! project, or an AI budget is nearly spent; pushed at once on their event streams as
//! `notification.created`) and per-kind preferences. Every call reaches only the caller's own
//! notifications.

use chrono::Utc;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use weft_core::Role;
use weft_events::{NotificationKind, NotificationView};

use crate::error::ApiError;
use crate::routers::auth::types::EmptyParams;
use crate::routers::common;
use crate::rpc::{Access, CallContext, Kind, Procedure, Registry};

/// Registers the router's procedures.
pub fn register(registry: Registry) -> Registry {
    registry
        .add::<List>()
        .add::<MarkRead>()
        .add::<MarkAllRead>()
        .add::<Delete>()
        .add::<Preferences>()
        .add::<SetPreference>()
}

const MEMBER: Access = Access::Role(Role::Guest);
/// Most ids in one `markRead`.
const MAX_IDS: usize = 500;

/// `notification.list` params.
#[derive(Clone, Debug, Default, Serialize, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListParams {
    /// Only unread ones.
    #[serde(default)]
    #[ts(optional)]
    pub unread_only: Option<bool>,
    /// The previous page's `nextCursor` (absent or `null`: the first page).
    #[serde(default)]
    #[ts(optional = nullable)]
    pub cursor: Option<String>,
    /// Page size (default 50, at most 200).
    #[serde(default)]
    #[ts(optional)]
    pub limit: Option<u32>,
}

/// `notification.list` result.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationPage {
    /// Newest first.
    pub items: Vec<NotificationView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
    /// Unread notifications in all.
    #[ts(type = "number")]
    pub unread: u64,
}

/// `notification.markRead` params.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MarkReadParams {
    /// The caller's notifications to mark read (others' are ignored).
    pub notification_ids: Vec<uuid::Uuid>,
}

/// How many notifications changed.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Updated {
    /// Count.
    #[ts(type = "number")]
    pub updated: u64,
}

/// Names a notification.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NotificationRef {
    /// The notification.
    pub notification_id: uuid::Uuid,
}

/// One kind's preference.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Preference {
    /// The kind.
    pub kind: NotificationKind,
    /// Shown in the app (and pushed on event streams).
    pub in_app: bool,
}

/// Every kind with its preference.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreferenceList {
    /// One entry per kind (default: in the app).
    pub items: Vec<Preference>,
}

/// `notification.list`.
pub struct List;
impl Procedure for List {
    const NAME: &'static str = "notification.list";
    const DOC: &'static str = "The caller's notifications, newest first (cursor pagination), optionally only the unread ones, with the unread count.";
    const ACCESS: Access = MEMBER;
    const KIND: Kind = Kind::Query;
    type Params = ListParams;
    type Output = NotificationPage;

    async fn call(ctx: CallContext, params: ListParams) -> Result<NotificationPage, ApiError> {
        let caller = ctx.caller()?;
        let (before, limit) = common::page(params.cursor.as_deref(), params.limit)?;
        let store = ctx.state.store();
        let page = store
            .list_notifications(caller.user_id, params.unread_only.unwrap_or(false), before, limit)
            .await?;
        Ok(NotificationPage {
            items: page.items.iter().map(weft_engine::notify::view).collect(),
            next_cursor: page.next_cursor.map(|c| c.to_string()),
            unread: store.unread_notifications(caller.user_id).await?,
        })
    }
}

/// `notification.markRead`.
pub struct MarkRead;
impl Procedure for MarkRead {
    const NAME: &'static str = "notification.markRead";
    const DOC: &'static str = "Marks some of the caller's notifications read; answers how many changed.";
    const ACCESS: Access = MEMBER;
    type Params = MarkReadParams;
    type Output = Updated;

    async fn call(ctx: CallContext, params: MarkReadParams) -> Result<Updated, ApiError> {
        let caller = ctx.caller()?;
        if params.notification_ids.len() > MAX_IDS {
            return Err(ApiError::field("notificationIds", "tooMany", &format!("at most {MAX_IDS} ids")));
        }
        let updated = ctx
            .state
            .store()
            .mark_notifications_read(caller.user_id, Some(&params.notification_ids), Utc::now())
            .await?;
        Ok(Updated { updated })
    }
}

/// `notification.markAllRead`.
pub struct MarkAllRead;
impl Procedure for MarkAllRead {
    const NAME: &'static str = "notification.markAllRead";
    const DOC: &'static str = "Marks every unread notification of the caller read.";
    const ACCESS: Access = MEMBER;
    type Params = EmptyParams;
    type Output = Updated;

    async fn call(ctx: CallContext, _params: EmptyParams) -> Result<Updated, ApiError> {
        let caller = ctx.caller()?;
        let updated = ctx.state.store().mark_notifications_read(caller.user_id, None, Utc::now()).await?;
        Ok(Updated { updated })
    }
}

/// `notification.delete`.
pub struct Delete;
impl Procedure for Delete {
    const NAME: &'static str = "notification.delete";
    const DOC: &'static str = "Deletes one of the caller's notifications (another's answers not-found).";
    const ACCESS: Access = MEMBER;
    type Params = NotificationRef;
    type Output = Updated;

    async fn call(ctx: CallContext, params: NotificationRef) -> Result<Updated, ApiError> {
        let caller = ctx.caller()?;
        if !ctx.state.store().delete_notification(caller.user_id, params.notification_id).await? {
            return Err(ApiError::NotFound { resource: "notification" });
        }
        Ok(Updated { updated: 1 })
    }
}

async fn preferences(ctx: &CallContext) -> Result<PreferenceList, ApiError> {
    let caller = ctx.caller()?;
    let stored = ctx.state.store().notification_preferences(caller.user_id).await?;
    let preferences = NotificationKind::ALL
        .into_iter()
        .map(|kind| Preference {
            kind,
            in_app: stored.iter().find(|(k, _)| k == kind.as_str()).is_none_or(|(_, in_app)| *in_app),
        })
        .collect();
    Ok(PreferenceList { items: preferences })
}

/// `notification.preferences`.
pub struct Preferences;
impl Procedure for Preferences {
    const NAME: &'static str = "notification.preferences";
    const DOC: &'static str =
        "The caller's preference for every notification kind (default: shown in the app).";
    const ACCESS: Access = MEMBER;
    const KIND: Kind = Kind::Query;
    type Params = EmptyParams;
    type Output = PreferenceList;

    async fn call(ctx: CallContext, _params: EmptyParams) -> Result<PreferenceList, ApiError> {
        preferences(&ctx).await
    }
}

/// `notification.setPreference`.
pub struct SetPreference;
impl Procedure for SetPreference {
    const NAME: &'static str = "notification.setPreference";
    const DOC: &'static str =
        "Turns a notification kind on or off for the caller: kinds turned off are neither stored nor pushed.";
    const ACCESS: Access = MEMBER;
    type Params = Preference;
    type Output = PreferenceList;

    async fn call(ctx: CallContext, params: Preference) -> Result<PreferenceList, ApiError> {
        let caller = ctx.caller()?;
        ctx.state
            .store()
            .set_notification_preference(caller.user_id, params.kind.as_str(), params.in_app, Utc::now())
            .await?;
        preferences(&ctx).await
    }
}
