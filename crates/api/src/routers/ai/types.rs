//! Params and results of the `ai` router.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use weft_core::workflow::nodes::TaskClass;
use weft_core::{CredentialId, ProjectId, UserId};

/// A model of the catalogue.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelView {
    /// The model as its provider names it.
    pub id: String,
    /// The provider serving it.
    pub provider: String,
    /// Context window, in tokens (0 when unknown).
    pub context_length: u32,
    /// USD per million prompt tokens.
    pub input_per_mtok_usd: f64,
    /// USD per million completion tokens.
    pub output_per_mtok_usd: f64,
    /// Task classes the router may pick it for.
    pub tasks: Vec<TaskClass>,
    /// It accepts a JSON Schema for structured output.
    pub supports_json_schema: bool,
}

/// `ai.models` result.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelsResult {
    /// The instance's providers (ids).
    pub providers: Vec<String>,
    /// The catalogue.
    pub models: Vec<ModelView>,
}

/// `ai.models` params (none).
#[derive(Clone, Debug, Default, Serialize, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ModelsParams {}

/// What a credential is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum CredentialKind {
    /// An OpenAI-compatible provider: `baseUrl`, the API key as `secret`, `models`.
    AiProvider,
    /// `Authorization: Bearer <secret>` for HTTP nodes.
    Bearer,
    /// The header `headerName: <secret>` for HTTP nodes.
    Header,
}

impl From<CredentialKind> for weft_store::CredentialKind {
    fn from(kind: CredentialKind) -> Self {
        match kind {
            CredentialKind::AiProvider => Self::AiProvider,
            CredentialKind::Bearer => Self::Bearer,
            CredentialKind::Header => Self::Header,
        }
    }
}

impl From<weft_store::CredentialKind> for CredentialKind {
    fn from(kind: weft_store::CredentialKind) -> Self {
        match kind {
            weft_store::CredentialKind::AiProvider => Self::AiProvider,
            weft_store::CredentialKind::Bearer => Self::Bearer,
            weft_store::CredentialKind::Header => Self::Header,
        }
    }
}

/// A stored credential as shown: never the secret, only its `hint`.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialView {
    /// The credential (named by nodes' `credentialId`).
    pub id: CredentialId,
    /// Its project.
    pub project_id: ProjectId,
    /// Unique within the project.
    pub name: String,
    /// What it is for.
    pub kind: CredentialKind,
    /// AI providers: the API base URL.
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// `header` credentials: the header.
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header_name: Option<String>,
    /// AI providers: the models it serves.
    pub models: Vec<String>,
    /// The secret's last characters (`…abcd`), or `…` for short secrets.
    pub hint: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<weft_store::Credential> for CredentialView {
    fn from(c: weft_store::Credential) -> Self {
        Self {
            id: c.id,
            project_id: c.project_id,
            name: c.name,
            kind: c.kind.into(),
            base_url: c.base_url,
            header_name: c.header_name,
            models: c.models,
            hint: c.hint,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// `ai.credentials.create` params.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateCredentialParams {
    /// The project.
    pub project_id: ProjectId,
    /// Name, unique in the project (1 to 200 characters).
    pub name: String,
    /// What it is for.
    pub kind: CredentialKind,
    /// AI providers: the base URL (`https://…/v1`).
    #[serde(default)]
    #[ts(optional)]
    pub base_url: Option<String>,
    /// `header` credentials: the header name.
    #[serde(default)]
    #[ts(optional)]
    pub header_name: Option<String>,
    /// AI providers: the models it serves.
    #[serde(default)]
    #[ts(optional)]
    pub models: Option<Vec<String>>,
    /// The secret (an API key, a token). Stored encrypted; never returned.
    pub secret: String,
}

/// `ai.credentials.list` params.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListCredentialsParams {
    /// The project.
    pub project_id: ProjectId,
}

/// `ai.credentials.list` result.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialList {
    /// By name.
    pub items: Vec<CredentialView>,
}

/// `ai.credentials.update` params: absent members keep their value.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateCredentialParams {
    /// The credential.
    pub credential_id: CredentialId,
    /// New name.
    #[serde(default)]
    #[ts(optional)]
    pub name: Option<String>,
    /// New base URL (AI providers).
    #[serde(default)]
    #[ts(optional)]
    pub base_url: Option<String>,
    /// New header name (`header` credentials).
    #[serde(default)]
    #[ts(optional)]
    pub header_name: Option<String>,
    /// New model list (AI providers).
    #[serde(default)]
    #[ts(optional)]
    pub models: Option<Vec<String>>,
    /// A new secret (rotation).
    #[serde(default)]
    #[ts(optional)]
    pub secret: Option<String>,
}

/// Names a credential.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CredentialRef {
    /// The credential.
    pub credential_id: CredentialId,
}

/// Done.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Done {
    /// Always true.
    pub ok: bool,
}

/// How `ai.usage` groups calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum UsageGroup {
    /// By UTC day.
    Day,
    /// By `provider/model`.
    Model,
    /// By project.
    Project,
    /// By workflow.
    Workflow,
}

/// `ai.usage` params.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UsageParams {
    /// One project's calls (any member); absent: the caller's own calls everywhere.
    #[serde(default)]
    #[ts(optional)]
    pub project_id: Option<ProjectId>,
    /// From (default: 30 days ago).
    #[serde(default)]
    #[ts(optional)]
    pub from: Option<DateTime<Utc>>,
    /// Until (default: now).
    #[serde(default)]
    #[ts(optional)]
    pub to: Option<DateTime<Utc>>,
    /// The grouping.
    pub group_by: UsageGroup,
}

/// One group of `ai.usage`.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageRowView {
    /// The day (`YYYY-MM-DD`), `provider/model`, project id or workflow id (empty: none).
    pub key: String,
    /// Attempts.
    #[ts(type = "number")]
    pub calls: i64,
    /// Prompt tokens.
    #[ts(type = "number")]
    pub prompt_tokens: i64,
    /// Completion tokens.
    #[ts(type = "number")]
    pub completion_tokens: i64,
    /// Spend, USD.
    pub cost_usd: f64,
}

/// `ai.usage` result.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageResult {
    /// The groups.
    pub rows: Vec<UsageRowView>,
    /// Spend of all of them, USD.
    pub total_cost_usd: f64,
}

/// Whose spend a budget limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum BudgetScope {
    /// A user's calls.
    User,
    /// A project's calls.
    Project,
}

/// A budget's window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum BudgetPeriod {
    /// The UTC day.
    Day,
    /// The calendar month (UTC).
    Month,
}

/// Names a budget.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BudgetRef {
    /// User or project.
    pub scope: BudgetScope,
    /// The project (scope `project`).
    #[serde(default)]
    #[ts(optional)]
    pub project_id: Option<ProjectId>,
    /// The user (scope `user`; default: the caller; others' need ADMIN).
    #[serde(default)]
    #[ts(optional)]
    pub user_id: Option<UserId>,
    /// Day or month.
    pub period: BudgetPeriod,
}

/// `ai.budgets.set` params.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SetBudgetParams {
    /// User or project.
    pub scope: BudgetScope,
    /// The project (scope `project`; OWNER).
    #[serde(default)]
    #[ts(optional)]
    pub project_id: Option<ProjectId>,
    /// The user (scope `user`, ADMIN only; default: the caller).
    #[serde(default)]
    #[ts(optional)]
    pub user_id: Option<UserId>,
    /// Day or month.
    pub period: BudgetPeriod,
    /// The limit, USD (0 to 1,000,000).
    pub limit_usd: f64,
}

impl SetBudgetParams {
    /// The budget it names.
    pub fn budget(&self) -> BudgetRef {
        BudgetRef {
            scope: self.scope,
            project_id: self.project_id,
            user_id: self.user_id,
            period: self.period,
        }
    }
}

/// A budget with its current spend.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BudgetView {
    /// User or project.
    pub scope: BudgetScope,
    /// The user or project id.
    pub subject_id: String,
    /// Day or month.
    pub period: BudgetPeriod,
    /// The limit, USD.
    pub limit_usd: f64,
    /// Spent in the current period, USD.
    pub spent_usd: f64,
}

/// `ai.budgets.list` params.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListBudgetsParams {
    /// Also this project's budgets (any member).
    #[serde(default)]
    #[ts(optional)]
    pub project_id: Option<ProjectId>,
}

/// `ai.budgets.list` result.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BudgetList {
    /// The caller's budgets and the project's.
    pub items: Vec<BudgetView>,
}

/// `ai.refreshModels` params.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RefreshModelsParams {
    /// An instance provider's id.
    pub provider: String,
}

/// `ai.refreshModels` result.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefreshModelsResult {
    /// Models the provider lists.
    pub models: u32,
}
