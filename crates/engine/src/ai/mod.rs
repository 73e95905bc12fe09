//! The AI layer as the engine and the API use it: the instance's providers and model
//! catalogue, clients for a project's stored provider credentials, the budget guard backed by
//! the store, and the ledger of calls. The `ai` node ([`node`]) and the API's `ai` router both
//! go through [`AiRuntime`].

pub mod node;

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::Utc;
use secrecy::SecretString;
use weft_ai::{AiClient, AiConfig, Attempt, Catalogue, ModelInfo, ProviderConfig};
use weft_core::secrets::SecretCipher;
use weft_core::{CredentialId, ProjectId, RunId, UserId, WorkflowId};
use weft_store::{AiCallRecord, Credential, CredentialKind, Store, StoreError};

use crate::http::{OutboundHttp, OutboundPolicy};

mod guard;

pub use guard::StoreBudget;

/// The AI settings of an engine.
#[derive(Clone, Debug, Default)]
pub struct AiSettings {
    /// The instance's providers and the client's timeouts, breakers and retry waits.
    pub client: AiConfig,
    /// The model catalogue.
    pub models: Vec<ModelInfo>,
    /// Key of stored credentials (`WEFT_SECRET_KEY`); without it credentials cannot be used.
    pub secret_key: Option<SecretString>,
}

/// Why an AI call could not be set up (before any spend).
#[derive(Debug, thiserror::Error)]
pub enum AiSetupError {
    /// No provider is configured (on the instance, or the named credential is unusable).
    #[error("{0}")]
    NotConfigured(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The AI client refused the configuration.
    #[error(transparent)]
    Ai(#[from] weft_ai::AiError),
}

/// `config` with outbound requests held to `policy`: the guarded DNS resolver for every
/// connection, and each provider URL checked before any request (IP literals never reach a
/// resolver).
fn guarded(config: AiConfig, policy: &OutboundPolicy) -> AiConfig {
    let check = policy.clone();
    let url_guard =
        move |url: &weft_ai::Url| check.check_url(url).map(|_| ()).map_err(|refusal| refusal.to_string());
    AiConfig {
        resolver: Some(OutboundHttp::resolver(policy)),
        url_guard: Some(std::sync::Arc::new(url_guard)),
        ..config
    }
}

/// Where a call comes from, as the ledger records it.
#[derive(Clone, Debug, Default)]
pub struct CallSite {
    /// Who caused it.
    pub user_id: Option<UserId>,
    /// Its project.
    pub project_id: Option<ProjectId>,
    /// Its workflow.
    pub workflow_id: Option<WorkflowId>,
    /// Its run.
    pub run_id: Option<RunId>,
    /// Its node.
    pub node_id: Option<String>,
    /// `node`, `generateWorkflow`, `suggestNext`.
    pub purpose: &'static str,
}

/// Providers, catalogue, credentials and the ledger.
pub struct AiRuntime {
    store: Store,
    settings: AiSettings,
    catalogue: Catalogue,
    instance: Option<AiClient>,
    cipher: Option<SecretCipher>,
    /// Clients of stored credentials, by credential and its last change.
    by_credential: Mutex<HashMap<CredentialId, (chrono::DateTime<Utc>, AiClient)>>,
}

impl std::fmt::Debug for AiRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AiRuntime")
            .field("providers", &self.settings.client.providers.len())
            .finish_non_exhaustive()
    }
}

/// Most credential clients kept.
const MAX_CREDENTIAL_CLIENTS: usize = 256;

impl AiRuntime {
    /// Builds the runtime; a bad catalogue, provider list or secret key is an error. Every
    /// provider request is held to `policy`, as HTTP nodes' requests are.
    pub fn new(
        store: Store,
        mut settings: AiSettings,
        policy: &OutboundPolicy,
    ) -> Result<Self, AiSetupError> {
        settings.client = guarded(settings.client, policy);
        let catalogue = Catalogue::from_settings(settings.models.clone())?;
        let instance = if settings.client.providers.is_empty() {
            None
        } else {
            Some(AiClient::new(settings.client.clone(), catalogue.clone())?)
        };
        let cipher = match &settings.secret_key {
            Some(key) => {
                Some(SecretCipher::new(key).map_err(|e| AiSetupError::NotConfigured(e.to_string()))?)
            }
            None => None,
        };
        Ok(Self { store, settings, catalogue, instance, cipher, by_credential: Mutex::new(HashMap::new()) })
    }

    /// The model catalogue.
    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    /// The instance's provider ids.
    pub fn provider_ids(&self) -> Vec<String> {
        self.settings.client.providers.iter().map(|p| p.id.clone()).collect()
    }

    /// The cipher of stored credentials, when `WEFT_SECRET_KEY` is set.
    pub fn cipher(&self) -> Option<&SecretCipher> {
        self.cipher.as_ref()
    }

    /// What a credential's sealed secret is bound to.
    pub fn seal_context(id: CredentialId, project: ProjectId) -> Vec<u8> {
        [id.0.as_bytes().as_slice(), project.0.as_bytes().as_slice()].concat()
    }

    /// The client for a call in `project`: the instance's providers, or the stored credential
    /// `credential` (which must be an AI provider credential of that project).
    pub async fn client_for(
        &self,
        project: ProjectId,
        credential: Option<&str>,
    ) -> Result<AiClient, AiSetupError> {
        let Some(credential) = credential else {
            return self.instance.clone().ok_or_else(|| {
                AiSetupError::NotConfigured(
                    "AI is not configured on this server: no provider in WEFT_AI_PROVIDERS, and the node names no credential"
                        .to_owned(),
                )
            });
        };
        let stored = self
            .project_credential(project, credential, "an AI provider", |k| k == CredentialKind::AiProvider)
            .await?;
        let id = stored.id;
        if let Some((changed, client)) = self.lock().get(&id)
            && *changed == stored.updated_at
        {
            return Ok(client.clone());
        }
        let client = self.credential_client(&stored)?;
        let mut clients = self.lock();
        if clients.len() >= MAX_CREDENTIAL_CLIENTS {
            clients.clear();
        }
        clients.insert(id, (stored.updated_at, client.clone()));
        Ok(client)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CredentialId, (chrono::DateTime<Utc>, AiClient)>> {
        self.by_credential.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A client speaking to the provider of a stored credential. Its models are priced from
    /// the instance catalogue where it lists them (by model id); others cost nothing known.
    fn credential_client(&self, credential: &Credential) -> Result<AiClient, AiSetupError> {
        let key = self.open(credential)?;
        let provider_id = format!("credential:{}", credential.id);
        let base_url = credential.base_url.clone().ok_or_else(|| {
            AiSetupError::NotConfigured(format!("credential {} has no base URL", credential.name))
        })?;
        let models: Vec<ModelInfo> = credential
            .models
            .iter()
            .map(|name| {
                let known = self.catalogue.matching(name).into_iter().next();
                match known {
                    Some(info) => ModelInfo { provider: provider_id.clone(), ..info },
                    None => ModelInfo {
                        id: name.clone(),
                        provider: provider_id.clone(),
                        context_length: 0,
                        input_per_mtok_usd: 0.0,
                        output_per_mtok_usd: 0.0,
                        tasks: Vec::new(),
                        supports_json_schema: false,
                    },
                }
            })
            .collect();
        let catalogue = Catalogue::from_settings(models)?;
        let provider = ProviderConfig {
            id: provider_id,
            base_url,
            api_key: Some(key),
            models: credential.models.clone(),
            headers: Vec::new(),
        };
        let config = AiConfig { providers: vec![provider], ..self.settings.client.clone() };
        Ok(AiClient::new(config, catalogue)?)
    }

    /// The header an HTTP node sends for the stored credential `credential` of `project`:
    /// `Authorization: Bearer …` for `bearer` credentials, the named header for `header` ones.
    pub async fn http_credential(
        &self,
        project: ProjectId,
        credential: &str,
    ) -> Result<(String, SecretString), AiSetupError> {
        let http = |kind| matches!(kind, CredentialKind::Bearer | CredentialKind::Header);
        let stored = self.project_credential(project, credential, "an HTTP", http).await?;
        let secret = self.open(&stored)?;
        match (stored.kind, stored.header_name) {
            (CredentialKind::Bearer, _) => {
                let value = format!("Bearer {}", secrecy::ExposeSecret::expose_secret(&secret));
                Ok(("authorization".to_owned(), SecretString::from(value)))
            }
            (CredentialKind::Header, Some(name)) => Ok((name, secret)),
            _ => Err(AiSetupError::NotConfigured(format!("credential {credential} names no header"))),
        }
    }

    /// The credential `credential` of `project` if its kind is `wanted` (`what` names the kind
    /// in the error); anything else — unknown, another project's — is "not usable", alike.
    async fn project_credential(
        &self,
        project: ProjectId,
        credential: &str,
        what: &str,
        wanted: impl Fn(CredentialKind) -> bool,
    ) -> Result<Credential, AiSetupError> {
        let unusable = || {
            AiSetupError::NotConfigured(format!(
                "credential {credential} is not {what} credential of this project"
            ))
        };
        let id = credential.parse::<uuid::Uuid>().map(CredentialId).map_err(|_| unusable())?;
        let stored =
            self.store.get_credential(id).await?.filter(|c| c.project_id == project).ok_or_else(unusable)?;
        if !wanted(stored.kind) {
            return Err(unusable());
        }
        Ok(stored)
    }

    /// Opens a stored credential's secret.
    fn open(&self, credential: &Credential) -> Result<SecretString, AiSetupError> {
        let cipher = self.cipher.as_ref().ok_or_else(|| {
            AiSetupError::NotConfigured("stored credentials need WEFT_SECRET_KEY on this server".to_owned())
        })?;
        cipher
            .open(&credential.sealed, &Self::seal_context(credential.id, credential.project_id))
            .map_err(|e| AiSetupError::NotConfigured(format!("credential {}: {e}", credential.name)))
    }

    /// Refreshes the catalogue from an instance provider's OpenRouter-style `/models`;
    /// answers how many models it lists.
    pub async fn refresh_models(&self, provider: &str) -> Result<usize, AiSetupError> {
        let client = self.instance.as_ref().ok_or_else(|| {
            AiSetupError::NotConfigured("no AI provider is configured on this server".to_owned())
        })?;
        Ok(client.refresh_catalogue(provider).await?)
    }

    /// The budget guard of a call by `user` in `project`, with the per-execution ceiling
    /// `max_cost_usd`.
    /// The guard also writes every attempt of the call to the ledger as made at `site`
    /// ([`StoreBudget::flush`]).
    pub async fn guard(&self, site: CallSite, max_cost_usd: Option<f64>) -> Result<StoreBudget, StoreError> {
        let (user, project) = (site.user_id, site.project_id);
        StoreBudget::load(self.store.clone(), site, user, project, max_cost_usd).await
    }
}

/// Most tokens of one attempt the ledger believes: a provider's usage report beyond it is
/// clamped, so a broken or hostile provider cannot overflow the sums.
const MAX_TOKENS_PER_ATTEMPT: u64 = 100_000_000;
/// Most cost of one attempt the ledger believes, micro-USD ($1,000,000).
const MAX_COST_PER_ATTEMPT: u64 = 1_000_000_000_000;

/// A ledger row of a call at `site`, with nothing spent yet.
pub(crate) fn ledger_row(site: &CallSite) -> AiCallRecord {
    AiCallRecord {
        user_id: site.user_id,
        project_id: site.project_id,
        workflow_id: site.workflow_id,
        run_id: site.run_id,
        node_id: site.node_id.clone(),
        purpose: site.purpose.to_owned(),
        provider: String::new(),
        model: String::new(),
        prompt_tokens: 0,
        completion_tokens: 0,
        cost_micro_usd: 0,
        latency_ms: 0,
        outcome: String::new(),
    }
}

/// Ledger rows of `attempts` made at `site`, each with its reservation (if any).
pub(crate) fn ledger_rows(
    site: &CallSite,
    attempts: Vec<(Option<uuid::Uuid>, Attempt)>,
) -> Vec<(Option<uuid::Uuid>, AiCallRecord)> {
    let clamp = |n: u64, max: u64| n.min(max);
    {
        attempts
            .into_iter()
            .map(|(reservation, attempt)| {
                (
                    reservation,
                    AiCallRecord {
                        provider: attempt.provider.clone(),
                        model: attempt.model.clone(),
                        prompt_tokens: i32::try_from(clamp(attempt.prompt_tokens, MAX_TOKENS_PER_ATTEMPT))
                            .unwrap_or(i32::MAX),
                        completion_tokens: i32::try_from(clamp(
                            attempt.completion_tokens,
                            MAX_TOKENS_PER_ATTEMPT,
                        ))
                        .unwrap_or(i32::MAX),
                        cost_micro_usd: i64::try_from(clamp(attempt.cost_micro_usd, MAX_COST_PER_ATTEMPT))
                            .unwrap_or(i64::MAX),
                        latency_ms: i32::try_from(attempt.latency_ms).unwrap_or(i32::MAX),
                        outcome: attempt.outcome.as_str().to_owned(),
                        ..ledger_row(site)
                    },
                )
            })
            .collect()
    }
}
