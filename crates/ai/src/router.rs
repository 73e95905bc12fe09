//! Routing: turns a [`ModelChoice`] into the ordered candidates a call tries.
//!
//! - A named model comes first (every configured provider serving it, cheapest first), then
//!   the named fallbacks in order, then, when a task class is also given, the models fit for
//!   it.
//! - A task class alone yields every model listing it, cheapest first.
//! - Neither means the `generate` task.
//!
//! "Cheap" is the mean of a model's input and output prices per million tokens; ties go to
//! the larger context window, then to catalogue order. The cost ceiling caps that same mean
//! price for every candidate. Only models whose provider is configured (and lists them, when
//! it lists models) are candidates.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::catalogue::{Catalogue, ModelInfo, TaskClass};
use crate::config::ProviderConfig;
use crate::error::AiError;

/// How a call chooses its model.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelChoice {
    /// A model by name: its id or `provider/id`.
    #[serde(default)]
    pub model: Option<String>,
    /// Let the router pick the cheapest model fit for this kind of work.
    #[serde(default)]
    pub task: Option<TaskClass>,
    /// Highest mean price (input and output) per million tokens, USD.
    #[serde(default)]
    pub max_cost_per_mtok_usd: Option<f64>,
    /// Models to try, in order, after the named one.
    #[serde(default)]
    pub fallbacks: Vec<String>,
}

impl ModelChoice {
    /// A model by name.
    pub fn model(name: impl Into<String>) -> Self {
        Self { model: Some(name.into()), ..Self::default() }
    }

    /// The cheapest model fit for `task`.
    pub fn task(task: TaskClass) -> Self {
        Self { task: Some(task), ..Self::default() }
    }

    /// The same choice with a cost ceiling.
    pub fn with_max_cost_per_mtok_usd(mut self, ceiling: f64) -> Self {
        self.max_cost_per_mtok_usd = Some(ceiling);
        self
    }

    /// The same choice with fallbacks.
    pub fn with_fallbacks<I: IntoIterator<Item = S>, S: Into<String>>(mut self, fallbacks: I) -> Self {
        self.fallbacks = fallbacks.into_iter().map(Into::into).collect();
        self
    }
}

/// A model on a provider, to be tried.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// The provider's id.
    pub provider: String,
    /// The model (`model.provider == provider`).
    pub model: ModelInfo,
}

/// Picks candidates from the catalogue among the configured providers. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Router {
    catalogue: Catalogue,
    /// Provider id → the models it may serve (empty: any).
    providers: Arc<HashMap<String, Vec<String>>>,
}

impl Router {
    /// A router over `catalogue` for `providers`.
    pub fn new(catalogue: Catalogue, providers: &[ProviderConfig]) -> Self {
        let providers = providers
            .iter()
            .map(|provider| (provider.id.clone(), provider.models.clone()))
            .collect::<HashMap<_, _>>();
        Self { catalogue, providers: Arc::new(providers) }
    }

    /// The catalogue it routes over.
    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    /// The candidates for `choice`, in the order to try them (never empty).
    pub fn candidates(&self, choice: &ModelChoice) -> Result<Vec<Candidate>, AiError> {
        if self.providers.is_empty() {
            return Err(AiError::NotConfigured { reason: "no ai provider is configured".to_owned() });
        }
        let ceiling = match choice.max_cost_per_mtok_usd {
            Some(ceiling) if !ceiling.is_finite() || ceiling < 0.0 => {
                return Err(AiError::InvalidRequest {
                    reason: "the cost ceiling must be a price of 0 or more".to_owned(),
                });
            }
            ceiling => ceiling,
        };
        let within =
            |model: &ModelInfo| ceiling.is_none_or(|ceiling| model.mean_price_per_mtok_usd() <= ceiling);
        let mut candidates = Vec::new();
        if let Some(name) = &choice.model {
            let served = self.served(name)?;
            let affordable: Vec<_> = served.into_iter().filter(|model| within(model)).collect();
            if affordable.is_empty() {
                return Err(AiError::NoModel { reason: format!("`{name}` costs more than the ceiling") });
            }
            candidates.extend(affordable);
        }
        for name in &choice.fallbacks {
            match self.served(name) {
                Ok(models) => candidates.extend(models.into_iter().filter(|model| within(model))),
                // A stale fallback must not break calls the other candidates can serve.
                Err(error) => tracing::warn!(fallback = %name, %error, "ai fallback skipped"),
            }
        }
        let task = match (&choice.model, choice.task) {
            (_, Some(task)) => Some(task),
            (None, None) => Some(TaskClass::Generate),
            (Some(_), None) => None,
        };
        if let Some(task) = task {
            let fit = self.cheapest(self.configured(|model| model.tasks.contains(&task) && within(model)));
            if fit.is_empty() && candidates.is_empty() {
                let ceiling = ceiling
                    .map(|ceiling| format!(" at most {ceiling} usd per million tokens"))
                    .unwrap_or_default();
                return Err(AiError::NoModel {
                    reason: format!("no configured model for task `{}`{ceiling}", task_name(task)),
                });
            }
            candidates.extend(fit);
        }
        let mut seen = std::collections::HashSet::new();
        candidates.retain(|model| seen.insert((model.provider.clone(), model.id.clone())));
        Ok(candidates
            .into_iter()
            .map(|model| Candidate { provider: model.provider.clone(), model })
            .collect())
    }

    /// The configured models answering to `name`, cheapest first.
    fn served(&self, name: &str) -> Result<Vec<ModelInfo>, AiError> {
        let known = self.catalogue.matching(name);
        if known.is_empty() {
            return Err(AiError::UnknownModel { model: name.to_owned() });
        }
        let served = self.cheapest(known.iter().filter(|model| self.serves(model)).cloned().collect());
        if served.is_empty() {
            let providers = known.iter().map(|model| model.provider.as_str()).collect::<Vec<_>>().join(", ");
            return Err(AiError::NotConfigured {
                reason: format!("no configured provider serves `{name}` (catalogue providers: {providers})"),
            });
        }
        Ok(served)
    }

    fn configured(&self, keep: impl Fn(&ModelInfo) -> bool) -> Vec<ModelInfo> {
        self.catalogue.read().iter().filter(|model| self.serves(model) && keep(model)).cloned().collect()
    }

    fn serves(&self, model: &ModelInfo) -> bool {
        self.providers
            .get(&model.provider)
            .is_some_and(|listed| listed.is_empty() || listed.contains(&model.id))
    }

    /// Sorted by mean price, then larger context; stable, so catalogue order breaks ties.
    fn cheapest(&self, mut models: Vec<ModelInfo>) -> Vec<ModelInfo> {
        models.sort_by(|a, b| {
            a.mean_price_per_mtok_usd()
                .total_cmp(&b.mean_price_per_mtok_usd())
                .then_with(|| b.context_length.cmp(&a.context_length))
        });
        models
    }
}

/// The wire name of a task class.
pub fn task_name(task: TaskClass) -> &'static str {
    match task {
        TaskClass::Generate => "generate",
        TaskClass::Analyse => "analyse",
        TaskClass::Decide => "decide",
        TaskClass::Moderate => "moderate",
        TaskClass::CheapFast => "cheapFast",
    }
}
