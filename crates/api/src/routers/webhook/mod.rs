//! The `webhook` router: inbound HTTP triggers of a workflow (create, list, rotateSecret,
//! delete). A webhook's URL is `/hooks/<id>` (served by `crate::http::hooks`); its secret is
//! returned once, at creation and rotation, and stored sealed with the instance key
//! (`WEFT_SECRET_KEY`). A webhook in a project the caller is not a member of answers
//! not-found.

pub mod types;

use chrono::Utc;
use weft_core::secrets::{self, SecretCipher};
use weft_core::{ProjectId, ProjectRole, Role, ValidationErrors, WebhookId};

use crate::error::{ApiError, InternalError};
use crate::routers::common;
use crate::routers::schedule::types::Deleted;
use crate::routers::workflow::require_workflow;
use crate::rpc::{Access, CallContext, Kind, Procedure, Registry};
use types::*;

/// Registers the router's procedures.
pub fn register(registry: Registry) -> Registry {
    registry.add::<Create>().add::<List>().add::<RotateSecret>().add::<Delete>()
}

const MEMBER: Access = Access::Role(Role::Guest);
/// Default sync wait.
const DEFAULT_SYNC_TIMEOUT_MS: i64 = 30_000;
/// Default and largest rate.
const DEFAULT_RATE: i64 = 60;
const MAX_RATE: i64 = 6000;

/// What a webhook's sealed secret is bound to.
pub(crate) fn seal_context(id: WebhookId, project: ProjectId) -> Vec<u8> {
    [b"webhook".as_slice(), id.0.as_bytes().as_slice(), project.0.as_bytes().as_slice()].concat()
}

/// The instance's cipher; webhooks need `WEFT_SECRET_KEY`.
pub(crate) fn cipher(state: &crate::AppState) -> Result<&SecretCipher, ApiError> {
    state.engine().ai().cipher().ok_or_else(|| {
        ApiError::Internal(InternalError::message("no secret key is configured (WEFT_SECRET_KEY)"))
    })
}

/// A fresh secret, sealed for the webhook: `(secret, sealed, hint)`.
fn new_secret(
    ctx: &CallContext,
    id: WebhookId,
    project: ProjectId,
) -> Result<(String, String, String), ApiError> {
    let secret = crate::auth::random_secret("whsec_");
    let sealed = cipher(&ctx.state)?.seal(&secret, &seal_context(id, project));
    let hint = secrets::hint(&secret);
    Ok((secret, sealed, hint))
}

/// Loads a webhook if the caller's role in its project is at least `required`.
async fn require_webhook(
    ctx: &CallContext,
    id: WebhookId,
    required: ProjectRole,
) -> Result<weft_store::Webhook, ApiError> {
    let caller = ctx.caller()?;
    let store = ctx.state.store();
    let not_found = || ApiError::NotFound { resource: "webhook" };
    let webhook = store.get_webhook(id).await?.ok_or_else(not_found)?;
    let role = store.project_role(webhook.project_id, caller.user_id).await?.ok_or_else(not_found)?;
    if !role.satisfies(required) {
        return Err(ApiError::ForbiddenInProject { required });
    }
    Ok(webhook)
}

/// `webhook.create`.
pub struct Create;
impl Procedure for Create {
    const NAME: &'static str = "webhook.create";
    const DOC: &'static str = "Creates a webhook of a workflow (EDITOR) and returns it with its secret, shown this once. Requests to `/hooks/<id>` are verified by an HMAC signature (`X-Weft-Signature: t=<unix>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">`) or a static token, limited in body size and rate, and start a run of the published version with the method, headers, query and body as data; `async` answers 202 with the run id, `sync` the run's result.";
    const ACCESS: Access = MEMBER;
    type Params = CreateWebhookParams;
    type Output = WebhookWithSecret;

    async fn call(ctx: CallContext, params: CreateWebhookParams) -> Result<WebhookWithSecret, ApiError> {
        let caller = ctx.caller()?;
        let workflow = require_workflow(&ctx, params.workflow_id, ProjectRole::Editor).await?;
        let limits = &ctx.state.config().webhooks;
        let max_body = i64::try_from(limits.max_body_bytes).unwrap_or(i64::MAX);
        let max_wait = i64::try_from(limits.max_sync_wait.as_millis()).unwrap_or(i64::MAX);
        let mut errors = ValidationErrors::new();
        let name = common::name(&mut errors, "name", params.name.as_deref().unwrap_or("webhook"));
        let mut in_range = |path: &str, value: Option<i64>, default: i64, max: i64| {
            let value = value.unwrap_or(default);
            if !(1..=max).contains(&value) {
                errors.push(weft_core::FieldError::new(
                    path,
                    "outOfRange",
                    format!("must be between 1 and {max}"),
                ));
            }
            value
        };
        let sync_timeout_ms = in_range(
            "syncTimeoutMs",
            params.sync_timeout_ms,
            DEFAULT_SYNC_TIMEOUT_MS.min(max_wait),
            max_wait,
        );
        let max_body_bytes = in_range("maxBodyBytes", params.max_body_bytes, max_body, max_body);
        let rate_per_minute = in_range("ratePerMinute", params.rate_per_minute, DEFAULT_RATE, MAX_RATE);
        errors.into_result()?;
        let id = WebhookId::new();
        let (secret, sealed, hint) = new_secret(&ctx, id, workflow.project_id)?;
        let now = Utc::now();
        let webhook = weft_store::Webhook {
            id,
            project_id: workflow.project_id,
            workflow_id: workflow.id,
            name,
            auth: params.auth.unwrap_or(WebhookAuth::Hmac).as_str().to_owned(),
            mode: params.mode.unwrap_or(WebhookMode::Async).as_str().to_owned(),
            sync_timeout_ms,
            max_body_bytes,
            rate_per_minute,
            sealed,
            hint,
            created_by: Some(caller.user_id),
            created_at: now,
            updated_at: now,
        };
        let created = ctx.state.store().create_webhook(&webhook).await?;
        Ok(WebhookWithSecret { webhook: created.into(), secret })
    }
}

/// `webhook.list`.
pub struct List;
impl Procedure for List {
    const NAME: &'static str = "webhook.list";
    const DOC: &'static str = "The webhooks of a workflow (never their secrets).";
    const ACCESS: Access = MEMBER;
    const KIND: Kind = Kind::Query;
    type Params = WorkflowTriggersRef;
    type Output = WebhookList;

    async fn call(ctx: CallContext, params: WorkflowTriggersRef) -> Result<WebhookList, ApiError> {
        let workflow = require_workflow(&ctx, params.workflow_id, ProjectRole::Viewer).await?;
        let webhooks = ctx.state.store().list_webhooks(workflow.id).await?;
        Ok(WebhookList { items: webhooks.into_iter().map(Into::into).collect() })
    }
}

/// `webhook.rotateSecret`.
pub struct RotateSecret;
impl Procedure for RotateSecret {
    const NAME: &'static str = "webhook.rotateSecret";
    const DOC: &'static str = "Replaces a webhook's secret (EDITOR) and returns the new one, shown this once; the old one stops working at once.";
    const ACCESS: Access = MEMBER;
    type Params = WebhookRef;
    type Output = WebhookWithSecret;

    async fn call(ctx: CallContext, params: WebhookRef) -> Result<WebhookWithSecret, ApiError> {
        let webhook = require_webhook(&ctx, params.webhook_id, ProjectRole::Editor).await?;
        let (secret, sealed, hint) = new_secret(&ctx, webhook.id, webhook.project_id)?;
        let rotated = ctx
            .state
            .store()
            .rotate_webhook_secret(webhook.id, sealed, hint, Utc::now())
            .await?
            .ok_or(ApiError::NotFound { resource: "webhook" })?;
        Ok(WebhookWithSecret { webhook: rotated.into(), secret })
    }
}

/// `webhook.delete`.
pub struct Delete;
impl Procedure for Delete {
    const NAME: &'static str = "webhook.delete";
    const DOC: &'static str = "Deletes a webhook (EDITOR); its URL answers 404 from then on.";
    const ACCESS: Access = MEMBER;
    type Params = WebhookRef;
    type Output = Deleted;

    async fn call(ctx: CallContext, params: WebhookRef) -> Result<Deleted, ApiError> {
        let webhook = require_webhook(&ctx, params.webhook_id, ProjectRole::Editor).await?;
        if !ctx.state.store().delete_webhook(webhook.id).await? {
            return Err(ApiError::NotFound { resource: "webhook" });
        }
        Ok(Deleted { deleted: true })
    }
}
