//! The `ai` router: the model catalogue, a project's stored credentials (secrets encrypted
//! at rest, never returned), budgets, and the spend report. AI nodes run in the engine
//! (`weft_engine::ai`); this router manages what they use.

pub mod generate;
pub mod types;

use chrono::Utc;
use weft_core::secrets;
use weft_core::validation::text_length;
use weft_core::{CredentialId, FieldError, ProjectId, ProjectRole, Role, ValidationErrors};
use weft_engine::ai::AiRuntime;
use weft_store::{Credential, CredentialChanges, NewCredential};

use crate::error::{ApiError, InternalError};
use crate::routers::common::{self, MAX_NAME_CHARS, require_project};
use crate::rpc::{Access, CallContext, Kind, Procedure, Registry};
use types::*;

/// Registers the router's procedures.
pub fn register(registry: Registry) -> Registry {
    registry
        .add::<Models>()
        .add::<CreateCredential>()
        .add::<ListCredentials>()
        .add::<UpdateCredential>()
        .add::<DeleteCredential>()
        .add::<Usage>()
        .add::<SetBudget>()
        .add::<ListBudgets>()
        .add::<DeleteBudget>()
        .add::<RefreshModels>()
        .add::<generate::GenerateWorkflow>()
        .add::<generate::SuggestNext>()
}

pub(crate) const MEMBER: Access = Access::Role(Role::Guest);
const ADMIN: Access = Access::Role(Role::Admin);
/// Longest secret, in bytes.
const MAX_SECRET_BYTES: usize = 8192;
/// Most models named by one credential.
const MAX_MODELS: usize = 200;
/// Longest header name of a `header` credential (its column holds 200 characters; a valid
/// HTTP header name may be far longer).
const MAX_HEADER_NAME_CHARS: usize = 200;
/// Largest budget, USD.
const MAX_BUDGET_USD: f64 = 1_000_000.0;

fn runtime(ctx: &CallContext) -> &AiRuntime {
    ctx.state.engine().ai()
}

/// `ai.models`.
pub struct Models;
impl Procedure for Models {
    const NAME: &'static str = "ai.models";
    const DOC: &'static str = "The model catalogue (context length, prices per million tokens, task classes) and the instance's providers.";
    const ACCESS: Access = MEMBER;
    const KIND: Kind = Kind::Query;
    type Params = ModelsParams;
    type Output = ModelsResult;

    async fn call(ctx: CallContext, _params: ModelsParams) -> Result<ModelsResult, ApiError> {
        let ai = runtime(&ctx);
        let models = ai
            .catalogue()
            .models()
            .into_iter()
            .map(|m| ModelView {
                id: m.id,
                provider: m.provider,
                context_length: m.context_length,
                input_per_mtok_usd: m.input_per_mtok_usd,
                output_per_mtok_usd: m.output_per_mtok_usd,
                tasks: m.tasks,
                supports_json_schema: m.supports_json_schema,
            })
            .collect();
        Ok(ModelsResult { providers: ai.provider_ids(), models })
    }
}

/// `ai.refreshModels`.
pub struct RefreshModels;
impl Procedure for RefreshModels {
    const NAME: &'static str = "ai.refreshModels";
    const DOC: &'static str = "Refreshes the model catalogue (context lengths, prices) from an instance provider's OpenRouter-style `/models` (ADMIN); answers how many models it lists.";
    const ACCESS: Access = ADMIN;
    type Params = RefreshModelsParams;
    type Output = RefreshModelsResult;

    async fn call(ctx: CallContext, params: RefreshModelsParams) -> Result<RefreshModelsResult, ApiError> {
        if !runtime(&ctx).provider_ids().contains(&params.provider) {
            return Err(ApiError::NotFound { resource: "provider" });
        }
        let listed = runtime(&ctx).refresh_models(&params.provider).await.map_err(generate::setup_error)?;
        Ok(RefreshModelsResult { models: listed as u32 })
    }
}

/// Loads a credential if the caller holds `required` in its project (else not-found for
/// strangers, forbidden for members below it).
async fn require_credential(
    ctx: &CallContext,
    id: CredentialId,
    required: ProjectRole,
) -> Result<Credential, ApiError> {
    let credential =
        ctx.state.store().get_credential(id).await?.ok_or(ApiError::NotFound { resource: "credential" })?;
    let caller = ctx.caller()?;
    let role = ctx
        .state
        .store()
        .project_role(credential.project_id, caller.user_id)
        .await?
        .ok_or(ApiError::NotFound { resource: "credential" })?;
    if !role.satisfies(required) {
        return Err(ApiError::ForbiddenInProject { required });
    }
    Ok(credential)
}

/// Checks a provider base URL: http(s), no credentials in it, and a host outbound requests may
/// reach (private and metadata addresses are refused unless the server allows them).
fn check_base_url(ctx: &CallContext, url: &str, errors: &mut Vec<FieldError>) {
    let parsed = match url::Url::parse(url.trim()) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some() => parsed,
        _ => {
            errors.push(FieldError::new("baseUrl", "invalid", "must be an http(s) URL"));
            return;
        }
    };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        errors.push(FieldError::new(
            "baseUrl",
            "invalid",
            "must not carry credentials: put the key in `secret`",
        ));
        return;
    }
    if let Err(refusal) = ctx.state.engine().outbound_policy().check_url(&parsed) {
        errors.push(FieldError::new("baseUrl", "blockedAddress", refusal.to_string()));
    }
}

fn check_secret(secret: &str, errors: &mut Vec<FieldError>) {
    if secret.trim().is_empty() {
        errors.push(FieldError::new("secret", "required", "must not be empty"));
    } else if secret.len() > MAX_SECRET_BYTES {
        errors.push(FieldError::new(
            "secret",
            "tooLong",
            format!("must be at most {MAX_SECRET_BYTES} bytes"),
        ));
    }
}

fn check_models(models: &[String], errors: &mut Vec<FieldError>) {
    if models.len() > MAX_MODELS {
        errors.push(FieldError::new("models", "tooMany", format!("at most {MAX_MODELS} models")));
    }
    for (i, model) in models.iter().enumerate() {
        if model.trim().is_empty() || model.len() > 200 {
            errors.push(FieldError::new(format!("models[{i}]"), "invalid", "must be 1 to 200 characters"));
        }
    }
}

fn check_header_name(name: &str, errors: &mut Vec<FieldError>) {
    if let Err(error) = text_length("headerName", name, 1, MAX_HEADER_NAME_CHARS) {
        errors.push(error);
    } else if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
        errors.push(FieldError::new("headerName", "invalid", "must be a valid HTTP header name"));
    }
}

fn finish(errors: Vec<FieldError>) -> Result<(), ApiError> {
    let mut collected = ValidationErrors::new();
    for error in errors {
        collected.push(error);
    }
    collected.into_result().map_err(ApiError::Validation)
}

/// Seals a secret for a credential of `project`.
fn seal(ctx: &CallContext, id: CredentialId, project: ProjectId, secret: &str) -> Result<String, ApiError> {
    let cipher = runtime(ctx).cipher().ok_or_else(|| {
        ApiError::Internal(InternalError::message("no secret key is configured (WEFT_SECRET_KEY)"))
    })?;
    Ok(cipher.seal(secret, &AiRuntime::seal_context(id, project)))
}

/// `ai.credentials.create`.
pub struct CreateCredential;
impl Procedure for CreateCredential {
    const NAME: &'static str = "ai.credentials.create";
    const DOC: &'static str = "Stores a credential of the project (EDITOR): an AI provider (base URL, key, models) or a token for HTTP nodes. The secret is encrypted at rest and never returned; only a hint of its last characters is shown.";
    const ACCESS: Access = MEMBER;
    type Params = CreateCredentialParams;
    type Output = CredentialView;

    async fn call(ctx: CallContext, params: CreateCredentialParams) -> Result<CredentialView, ApiError> {
        let caller = ctx.caller()?;
        require_project(&ctx, params.project_id, ProjectRole::Editor).await?;
        let mut errors = Vec::new();
        if let Err(error) = text_length("name", params.name.trim(), 1, MAX_NAME_CHARS) {
            errors.push(error);
        }
        check_secret(&params.secret, &mut errors);
        let models = params.models.clone().unwrap_or_default();
        check_models(&models, &mut errors);
        match params.kind {
            CredentialKind::AiProvider => match &params.base_url {
                Some(url) => check_base_url(&ctx, url, &mut errors),
                None => {
                    errors.push(FieldError::new("baseUrl", "required", "an AI provider needs its base URL"))
                }
            },
            CredentialKind::Header => match &params.header_name {
                Some(name) => check_header_name(name, &mut errors),
                None => errors.push(FieldError::new(
                    "headerName",
                    "required",
                    "a header credential names its header",
                )),
            },
            CredentialKind::Bearer => {}
        }
        if params.kind != CredentialKind::AiProvider && params.base_url.is_some() {
            errors.push(FieldError::new(
                "baseUrl",
                "invalid",
                "only AI provider credentials have a base URL",
            ));
        }
        if params.kind != CredentialKind::Header && params.header_name.is_some() {
            errors.push(FieldError::new("headerName", "invalid", "only header credentials name a header"));
        }
        finish(errors)?;
        let id = CredentialId::new();
        let new = NewCredential {
            id,
            project_id: params.project_id,
            name: params.name.trim().to_owned(),
            kind: params.kind.into(),
            base_url: params.base_url.map(|u| u.trim().to_owned()),
            header_name: params.header_name,
            models,
            sealed: seal(&ctx, id, params.project_id, &params.secret)?,
            hint: secrets::hint(&params.secret),
            created_by: Some(caller.user_id),
        };
        Ok(ctx.state.store().create_credential(new, Utc::now()).await?.into())
    }
}

/// `ai.credentials.list`.
pub struct ListCredentials;
impl Procedure for ListCredentials {
    const NAME: &'static str = "ai.credentials.list";
    const DOC: &'static str = "The project's credentials (VIEWER), by name, with hints instead of secrets.";
    const ACCESS: Access = MEMBER;
    const KIND: Kind = Kind::Query;
    type Params = ListCredentialsParams;
    type Output = CredentialList;

    async fn call(ctx: CallContext, params: ListCredentialsParams) -> Result<CredentialList, ApiError> {
        require_project(&ctx, params.project_id, ProjectRole::Viewer).await?;
        let credentials = ctx.state.store().list_credentials(params.project_id).await?;
        Ok(CredentialList { items: credentials.into_iter().map(Into::into).collect() })
    }
}

/// `ai.credentials.update`.
pub struct UpdateCredential;
impl Procedure for UpdateCredential {
    const NAME: &'static str = "ai.credentials.update";
    const DOC: &'static str =
        "Renames a credential, changes its base URL, header or models, or rotates its secret (EDITOR).";
    const ACCESS: Access = MEMBER;
    type Params = UpdateCredentialParams;
    type Output = CredentialView;

    async fn call(ctx: CallContext, params: UpdateCredentialParams) -> Result<CredentialView, ApiError> {
        let credential = require_credential(&ctx, params.credential_id, ProjectRole::Editor).await?;
        let mut errors = Vec::new();
        if let Some(name) = &params.name
            && let Err(error) = text_length("name", name.trim(), 1, MAX_NAME_CHARS)
        {
            errors.push(error);
        }
        if let Some(secret) = &params.secret {
            check_secret(secret, &mut errors);
        }
        if let Some(models) = &params.models {
            check_models(models, &mut errors);
        }
        let kind = CredentialKind::from(credential.kind);
        if let Some(url) = &params.base_url {
            if kind == CredentialKind::AiProvider {
                check_base_url(&ctx, url, &mut errors);
                // The key goes wherever the base URL points: moving it takes the key again,
                // so nobody can redirect a key they never saw to a server of their own.
                if params.secret.is_none() && url.trim() != credential.base_url.as_deref().unwrap_or_default()
                {
                    errors.push(FieldError::new(
                        "secret",
                        "required",
                        "changing the base URL needs the secret again",
                    ));
                }
            } else {
                errors.push(FieldError::new(
                    "baseUrl",
                    "invalid",
                    "only AI provider credentials have a base URL",
                ));
            }
        }
        if let Some(name) = &params.header_name {
            if kind == CredentialKind::Header {
                check_header_name(name, &mut errors);
            } else {
                errors.push(FieldError::new(
                    "headerName",
                    "invalid",
                    "only header credentials name a header",
                ));
            }
        }
        finish(errors)?;
        let secret = match &params.secret {
            Some(secret) => {
                Some((seal(&ctx, credential.id, credential.project_id, secret)?, secrets::hint(secret)))
            }
            None => None,
        };
        let changes = CredentialChanges {
            name: params.name.map(|n| n.trim().to_owned()),
            base_url: params.base_url.map(|u| Some(u.trim().to_owned())),
            header_name: params.header_name.map(Some),
            models: params.models,
            secret,
        };
        let updated = ctx
            .state
            .store()
            .update_credential(credential.id, changes, Utc::now())
            .await?
            .ok_or(ApiError::NotFound { resource: "credential" })?;
        Ok(updated.into())
    }
}

/// `ai.credentials.delete`.
pub struct DeleteCredential;
impl Procedure for DeleteCredential {
    const NAME: &'static str = "ai.credentials.delete";
    const DOC: &'static str = "Deletes a credential (EDITOR); nodes naming it fail until they name another.";
    const ACCESS: Access = MEMBER;
    type Params = CredentialRef;
    type Output = Done;

    async fn call(ctx: CallContext, params: CredentialRef) -> Result<Done, ApiError> {
        let credential = require_credential(&ctx, params.credential_id, ProjectRole::Editor).await?;
        ctx.state.store().delete_credential(credential.id).await?;
        Ok(Done { ok: true })
    }
}

fn usd(micro: i64) -> f64 {
    micro as f64 / 1_000_000.0
}

/// `ai.usage`.
pub struct Usage;
impl Procedure for Usage {
    const NAME: &'static str = "ai.usage";
    const DOC: &'static str = "Spend and tokens of AI calls grouped by day, model, project or workflow: one project's (any member), or the caller's own everywhere. Default window: the last 30 days.";
    const ACCESS: Access = MEMBER;
    const KIND: Kind = Kind::Query;
    type Params = UsageParams;
    type Output = UsageResult;

    async fn call(ctx: CallContext, params: UsageParams) -> Result<UsageResult, ApiError> {
        let caller = ctx.caller()?;
        let mut errors = ValidationErrors::new();
        errors.check(common::timestamp("from", params.from));
        errors.check(common::timestamp("to", params.to));
        errors.into_result()?;
        let to = params.to.unwrap_or_else(Utc::now);
        let from = params.from.unwrap_or(to - chrono::Duration::days(30));
        if from >= to {
            return Err(ApiError::field("from", "invalid", "must be before `to`"));
        }
        let (project_ids, user_id) = match params.project_id {
            Some(project) => {
                require_project(&ctx, project, ProjectRole::Viewer).await?;
                (vec![project], None)
            }
            None => (Vec::new(), Some(caller.user_id)),
        };
        let group_by = match params.group_by {
            UsageGroup::Day => weft_store::UsageGroup::Day,
            UsageGroup::Model => weft_store::UsageGroup::Model,
            UsageGroup::Project => weft_store::UsageGroup::Project,
            UsageGroup::Workflow => weft_store::UsageGroup::Workflow,
        };
        let query = weft_store::UsageQuery { project_ids, user_id, from, to, group_by };
        let rows = ctx.state.store().usage(query).await?;
        let total: i64 = rows.iter().map(|r| r.cost_micro_usd).sum();
        let rows = rows
            .into_iter()
            .map(|r| UsageRowView {
                key: r.key,
                calls: r.calls,
                prompt_tokens: r.prompt_tokens,
                completion_tokens: r.completion_tokens,
                cost_usd: usd(r.cost_micro_usd),
            })
            .collect();
        Ok(UsageResult { rows, total_cost_usd: usd(total) })
    }
}

/// Resolves whose budget `budget` names and checks the caller may change it.
async fn budget_subject(
    ctx: &CallContext,
    budget: &BudgetRef,
    write: bool,
) -> Result<(weft_store::BudgetScope, uuid::Uuid), ApiError> {
    let caller = ctx.caller()?;
    match budget.scope {
        BudgetScope::Project => {
            let project = budget.project_id.ok_or_else(|| {
                ApiError::field("projectId", "required", "a project budget names its project")
            })?;
            let required = if write { ProjectRole::Owner } else { ProjectRole::Viewer };
            require_project(ctx, project, required).await?;
            Ok((weft_store::BudgetScope::Project, project.0))
        }
        BudgetScope::User => {
            // User budgets are caps an administrator sets: the user cannot lift their own.
            let user = budget.user_id.unwrap_or(caller.user_id);
            if write && !caller.role.satisfies(Role::Admin) {
                return Err(ApiError::Forbidden { required_role: Role::Admin });
            }
            if user != caller.user_id && !caller.role.satisfies(Role::Admin) {
                return Err(ApiError::Forbidden { required_role: Role::Admin });
            }
            Ok((weft_store::BudgetScope::User, user.0))
        }
    }
}

fn store_period(period: BudgetPeriod) -> weft_store::BudgetPeriod {
    match period {
        BudgetPeriod::Day => weft_store::BudgetPeriod::Day,
        BudgetPeriod::Month => weft_store::BudgetPeriod::Month,
    }
}

async fn budget_view(ctx: &CallContext, budget: weft_store::Budget) -> Result<BudgetView, ApiError> {
    let since = budget.period.start(Utc::now());
    let spent = ctx.state.store().spent_since(budget.scope, budget.subject_id, since).await?;
    Ok(BudgetView {
        scope: match budget.scope {
            weft_store::BudgetScope::User => BudgetScope::User,
            weft_store::BudgetScope::Project => BudgetScope::Project,
        },
        subject_id: budget.subject_id.to_string(),
        period: match budget.period {
            weft_store::BudgetPeriod::Day => BudgetPeriod::Day,
            weft_store::BudgetPeriod::Month => BudgetPeriod::Month,
        },
        limit_usd: usd(budget.limit_micro_usd),
        spent_usd: usd(spent),
    })
}

/// `ai.budgets.set`.
pub struct SetBudget;
impl Procedure for SetBudget {
    const NAME: &'static str = "ai.budgets.set";
    const DOC: &'static str = "Sets a spending limit per day or month: a project's (OWNER) or a user's (ADMIN: a cap the user cannot lift). AI calls that could exceed it are refused before any spend.";
    const ACCESS: Access = MEMBER;
    type Params = SetBudgetParams;
    type Output = BudgetView;

    async fn call(ctx: CallContext, params: SetBudgetParams) -> Result<BudgetView, ApiError> {
        if !params.limit_usd.is_finite() || !(0.0..=MAX_BUDGET_USD).contains(&params.limit_usd) {
            return Err(ApiError::field("limitUsd", "outOfRange", "must be between 0 and 1000000"));
        }
        let budget = params.budget();
        let (scope, subject) = budget_subject(&ctx, &budget, true).await?;
        let limit = (params.limit_usd * 1_000_000.0).round() as i64;
        let period = store_period(params.period);
        ctx.state.store().set_budget(scope, subject, period, limit, Utc::now()).await?;
        let stored = ctx.state.store().budgets_of(&[(scope, subject)]).await?;
        let stored = stored
            .into_iter()
            .find(|b| b.period == period)
            .ok_or_else(|| ApiError::Internal(InternalError::message("the budget vanished")))?;
        budget_view(&ctx, stored).await
    }
}

/// `ai.budgets.list`.
pub struct ListBudgets;
impl Procedure for ListBudgets {
    const NAME: &'static str = "ai.budgets.list";
    const DOC: &'static str =
        "The caller's budgets, and a project's (any member), with what was spent in the current period.";
    const ACCESS: Access = MEMBER;
    const KIND: Kind = Kind::Query;
    type Params = ListBudgetsParams;
    type Output = BudgetList;

    async fn call(ctx: CallContext, params: ListBudgetsParams) -> Result<BudgetList, ApiError> {
        let caller = ctx.caller()?;
        let mut subjects = vec![(weft_store::BudgetScope::User, caller.user_id.0)];
        if let Some(project) = params.project_id {
            require_project(&ctx, project, ProjectRole::Viewer).await?;
            subjects.push((weft_store::BudgetScope::Project, project.0));
        }
        let mut budgets = Vec::new();
        for budget in ctx.state.store().budgets_of(&subjects).await? {
            budgets.push(budget_view(&ctx, budget).await?);
        }
        Ok(BudgetList { items: budgets })
    }
}

/// `ai.budgets.delete`.
pub struct DeleteBudget;
impl Procedure for DeleteBudget {
    const NAME: &'static str = "ai.budgets.delete";
    const DOC: &'static str = "Removes a budget (the same rights as setting it).";
    const ACCESS: Access = MEMBER;
    type Params = BudgetRef;
    type Output = Done;

    async fn call(ctx: CallContext, params: BudgetRef) -> Result<Done, ApiError> {
        let (scope, subject) = budget_subject(&ctx, &params, true).await?;
        if !ctx.state.store().delete_budget(scope, subject, store_period(params.period)).await? {
            return Err(ApiError::NotFound { resource: "budget" });
        }
        Ok(Done { ok: true })
    }
}
