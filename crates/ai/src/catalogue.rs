//! The model catalogue: which models exist on which provider, their context length, prices
//! and the task classes they are fit for. Loaded from settings, refreshed from OpenRouter's
//! model list (see [`crate::openrouter`]), shared by every clone.

use std::sync::{Arc, PoisonError, RwLock};

use serde::{Deserialize, Serialize};
pub use weft_core::workflow::nodes::TaskClass;

use crate::cost::{self, ModelPrices};
use crate::error::AiError;

/// One model on one provider.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelInfo {
    /// The model as the provider names it (`gpt-4o-mini`, `openai/gpt-4o-mini`).
    pub id: String,
    /// The [`crate::ProviderConfig::id`] serving it.
    pub provider: String,
    /// Context window in tokens; 0 when unknown.
    #[serde(default)]
    pub context_length: u32,
    /// USD per million prompt tokens.
    pub input_per_mtok_usd: f64,
    /// USD per million completion tokens.
    pub output_per_mtok_usd: f64,
    /// Task classes the router may pick it for; empty means only by name.
    #[serde(default)]
    pub tasks: Vec<TaskClass>,
    /// The provider honours `response_format: {type: "json_schema"}` for it; otherwise
    /// structured output is asked for in the system prompt.
    #[serde(default)]
    pub supports_json_schema: bool,
}

impl ModelInfo {
    /// Its prices.
    pub fn prices(&self) -> ModelPrices {
        ModelPrices {
            input_per_mtok_usd: self.input_per_mtok_usd,
            output_per_mtok_usd: self.output_per_mtok_usd,
        }
    }

    /// What `prompt_tokens` and `completion_tokens` cost on it, micro-USD.
    pub fn cost_micro_usd(&self, prompt_tokens: u64, completion_tokens: u64) -> u64 {
        cost::cost_micro_usd(self.prices(), prompt_tokens, completion_tokens)
    }

    /// The price the router ranks and caps by: the mean of the input and output prices per
    /// million tokens.
    pub fn mean_price_per_mtok_usd(&self) -> f64 {
        (self.input_per_mtok_usd + self.output_per_mtok_usd) / 2.0
    }

    /// Whether `name` designates it: its id, or `provider/id`.
    pub fn answers_to(&self, name: &str) -> bool {
        self.id == name
            || name
                .strip_prefix(self.provider.as_str())
                .and_then(|rest| rest.strip_prefix('/'))
                .is_some_and(|id| id == self.id)
    }

    fn check(&self) -> Result<(), String> {
        if self.id.trim().is_empty() || self.provider.trim().is_empty() {
            return Err("a model needs an id and a provider".to_owned());
        }
        for (what, price) in [("input", self.input_per_mtok_usd), ("output", self.output_per_mtok_usd)] {
            if !price.is_finite() || price < 0.0 {
                return Err(format!("`{}/{}` has an invalid {what} price", self.provider, self.id));
            }
        }
        Ok(())
    }
}

/// The models calls can be routed to. Cheap to clone; clones share one list, so a refresh is
/// seen by every router and client holding it.
#[derive(Clone, Debug, Default)]
pub struct Catalogue {
    models: Arc<RwLock<Vec<ModelInfo>>>,
}

impl Catalogue {
    /// A catalogue of the configured models, in the given order (which breaks price ties).
    /// Refuses empty ids, negative or non-finite prices and a model listed twice for one
    /// provider.
    pub fn from_settings(models: Vec<ModelInfo>) -> Result<Self, AiError> {
        let catalogue = Self::default();
        for model in models {
            model.check().map_err(|reason| AiError::InvalidConfig { reason })?;
            if catalogue.find(&model.provider, &model.id).is_some() {
                return Err(AiError::InvalidConfig {
                    reason: format!("`{}/{}` is listed twice", model.provider, model.id),
                });
            }
            catalogue.write().push(model);
        }
        Ok(catalogue)
    }

    /// Every model, in catalogue order.
    pub fn models(&self) -> Vec<ModelInfo> {
        self.read().clone()
    }

    /// The first model answering to `name` (its id, or `provider/id`).
    pub fn get(&self, name: &str) -> Option<ModelInfo> {
        self.read().iter().find(|model| model.answers_to(name)).cloned()
    }

    /// Every model answering to `name` (one id may be served by several providers).
    pub fn matching(&self, name: &str) -> Vec<ModelInfo> {
        self.read().iter().filter(|model| model.answers_to(name)).cloned().collect()
    }

    /// The model `id` of `provider`.
    pub fn find(&self, provider: &str, id: &str) -> Option<ModelInfo> {
        self.read().iter().find(|model| model.provider == provider && model.id == id).cloned()
    }

    /// Adds a model, or replaces the one with the same provider and id.
    pub fn upsert(&self, model: ModelInfo) -> Result<(), AiError> {
        model.check().map_err(|reason| AiError::InvalidConfig { reason })?;
        let mut models = self.write();
        match models.iter_mut().find(|known| known.provider == model.provider && known.id == model.id) {
            Some(known) => *known = model,
            None => models.push(model),
        }
        Ok(())
    }

    pub(crate) fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<ModelInfo>> {
        // The list is replaced entry by entry and always valid: a poisoned lock is usable.
        self.models.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<ModelInfo>> {
        self.models.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(provider: &str, id: &str, input: f64) -> ModelInfo {
        ModelInfo {
            id: id.to_owned(),
            provider: provider.to_owned(),
            context_length: 8_192,
            input_per_mtok_usd: input,
            output_per_mtok_usd: input,
            tasks: vec![TaskClass::Generate],
            supports_json_schema: false,
        }
    }

    #[test]
    fn names_match_ids_and_qualified_ids() {
        let catalogue = Catalogue::from_settings(vec![
            model("openai", "gpt-4o-mini", 0.15),
            model("openrouter", "openai/gpt-4o-mini", 0.15),
        ])
        .unwrap();
        assert_eq!(catalogue.matching("openai/gpt-4o-mini").len(), 2);
        assert_eq!(catalogue.matching("openrouter/openai/gpt-4o-mini").len(), 1);
        assert_eq!(catalogue.get("gpt-4o-mini").unwrap().provider, "openai");
        assert!(catalogue.get("openai/gpt-4o").is_none());
    }

    #[test]
    fn settings_are_checked() {
        let negative = Catalogue::from_settings(vec![model("p", "m", -1.0)]).unwrap_err();
        assert_eq!(negative.kind(), "invalidConfig");
        let twice = Catalogue::from_settings(vec![model("p", "m", 1.0), model("p", "m", 2.0)]).unwrap_err();
        assert!(twice.to_string().contains("listed twice"));
        assert!(Catalogue::from_settings(vec![model("p", "m", f64::NAN)]).is_err());
    }

    #[test]
    fn clones_share_updates() {
        let catalogue = Catalogue::from_settings(vec![model("p", "m", 1.0)]).unwrap();
        let clone = catalogue.clone();
        clone.upsert(model("p", "m", 2.0)).unwrap();
        clone.upsert(model("p", "n", 3.0)).unwrap();
        assert_eq!(catalogue.get("m").unwrap().input_per_mtok_usd, 2.0);
        assert_eq!(catalogue.models().len(), 2);
    }
}
