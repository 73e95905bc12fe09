//! Routing: cheapest capable model, cost ceiling, named models, unknown models; the cost of
//! the answer.

use weft_ai::testing::Reply;
use weft_ai::{ModelChoice, NoBudget, TaskClass};

use crate::helpers::{ask, model, setup};

fn models() -> Vec<weft_ai::ModelInfo> {
    vec![
        model("large", 5.0, 15.0, &[TaskClass::Generate, TaskClass::Analyse]),
        model("small", 0.15, 0.6, &[TaskClass::Generate, TaskClass::CheapFast]),
        model("medium", 1.0, 3.0, &[TaskClass::Generate, TaskClass::Decide]),
        model("moderator", 0.01, 0.01, &[TaskClass::Moderate]),
    ]
}

fn ids(candidates: &[weft_ai::Candidate]) -> Vec<&str> {
    candidates.iter().map(|candidate| candidate.model.id.as_str()).collect()
}

#[tokio::test]
async fn a_task_goes_to_the_cheapest_capable_model() {
    let setup = setup(models()).await;
    let router = setup.client.router();
    assert_eq!(
        ids(&router.candidates(&ModelChoice::task(TaskClass::Generate)).unwrap()),
        ["small", "medium", "large"]
    );
    assert_eq!(ids(&router.candidates(&ModelChoice::task(TaskClass::Decide)).unwrap()), ["medium"]);
    // Neither a model nor a task: `generate`.
    assert_eq!(ids(&router.candidates(&ModelChoice::default()).unwrap()), ["small", "medium", "large"]);

    let outcome = setup.client.chat(ask(ModelChoice::task(TaskClass::Generate)), &NoBudget).await.unwrap();
    assert_eq!(
        (outcome.provider.as_str(), outcome.model.as_str(), outcome.text.as_str()),
        ("local", "small", "ok")
    );
    assert_eq!(setup.provider.models_asked(), ["small"]);
}

#[tokio::test]
async fn the_cost_ceiling_caps_the_mean_price() {
    let setup = setup(models()).await;
    let router = setup.client.router();
    // Means: small 0.375, medium 2, large 10.
    let choice = ModelChoice::task(TaskClass::Generate).with_max_cost_per_mtok_usd(2.0);
    assert_eq!(ids(&router.candidates(&choice).unwrap()), ["small", "medium"]);

    let nothing = ModelChoice::task(TaskClass::Analyse).with_max_cost_per_mtok_usd(1.0);
    let error = setup.client.chat(ask(nothing), &NoBudget).await.unwrap_err();
    assert_eq!(error.kind(), "noModel");
    assert!(error.to_string().contains("analyse"), "{error}");
    let too_dear = ModelChoice::model("large").with_max_cost_per_mtok_usd(1.0);
    assert_eq!(router.candidates(&too_dear).unwrap_err().kind(), "noModel");
    assert!(setup.provider.requests().is_empty());
}

#[tokio::test]
async fn a_named_model_comes_first_then_its_fallbacks() {
    let setup = setup(models()).await;
    let router = setup.client.router();
    let choice = ModelChoice::model("large").with_fallbacks(["medium", "gone", "local/small"]);
    assert_eq!(ids(&router.candidates(&choice).unwrap()), ["large", "medium", "small"]);
    // A task next to a model adds the task's models after the named ones.
    let with_task = ModelChoice { task: Some(TaskClass::Generate), ..ModelChoice::model("medium") };
    assert_eq!(ids(&router.candidates(&with_task).unwrap()), ["medium", "small", "large"]);

    let outcome = setup.client.chat(ask(ModelChoice::model("local/large")), &NoBudget).await.unwrap();
    assert_eq!(outcome.model, "large");
    assert_eq!(setup.provider.models_asked(), ["large"]);
}

#[tokio::test]
async fn an_unknown_model_is_an_error_before_any_request() {
    let setup = setup(models()).await;
    let error = setup.client.chat(ask(ModelChoice::model("gpt-9")), &NoBudget).await.unwrap_err();
    assert_eq!(error.kind(), "unknownModel");
    assert_eq!(error.to_string(), "unknown model `gpt-9`");
    assert!(error.attempts().is_empty());
    assert!(setup.provider.requests().is_empty());
}

#[tokio::test]
async fn models_of_unconfigured_providers_are_not_candidates() {
    let mut listed = models();
    listed.push(crate::helpers::on("elsewhere", "remote", 0.0, 0.0, &[TaskClass::Generate]));
    let setup = setup(listed).await;
    let error = setup.client.router().candidates(&ModelChoice::model("remote")).unwrap_err();
    assert_eq!(error.kind(), "notConfigured");
    let generate = setup.client.router().candidates(&ModelChoice::task(TaskClass::Generate)).unwrap();
    assert!(ids(&generate).iter().all(|id| *id != "remote"));
}

#[tokio::test]
async fn the_answer_costs_its_tokens_at_catalogue_prices() {
    let setup = setup(vec![model("priced", 2.5, 10.0, &[TaskClass::Generate])]).await;
    setup.provider.enqueue(Reply::text("hello there").usage(1_000, 333));
    let outcome = setup.client.chat(ask(ModelChoice::model("priced")), &NoBudget).await.unwrap();
    // 2.5 × 1000 + 10 × 333 = 2500 + 3330 micro-USD.
    assert_eq!((outcome.prompt_tokens, outcome.completion_tokens), (1_000, 333));
    assert_eq!(outcome.cost_micro_usd, 5_830);
    assert_eq!(outcome.total_cost_micro_usd, 5_830);
    assert!(!outcome.usage_estimated);
    let attempt = &outcome.attempts[0];
    assert_eq!(
        (attempt.provider.as_str(), attempt.model.as_str(), attempt.cost_micro_usd),
        ("local", "priced", 5_830)
    );
    assert_eq!(attempt.outcome.as_str(), "ok");
    assert_eq!(outcome.finish_reason.as_deref(), Some("stop"));
}
