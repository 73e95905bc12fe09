//! The budget hook: asked before every attempt with the worst case; a refusal stops spend
//! before any request leaves.

use std::sync::Mutex;

use weft_ai::testing::Reply;
use weft_ai::{
    Admission, BudgetGuard, BudgetRefusal, ChatMessage, ChatRequest, EstimatedCall, ModelChoice, SpendLimit,
    TaskClass,
};

use crate::helpers::{ask, model, setup};

/// Refuses everything and remembers what it was asked.
#[derive(Default)]
struct Closed {
    asked: Mutex<Vec<EstimatedCall>>,
}

impl BudgetGuard for Closed {
    fn admit<'a>(&'a self, call: &'a EstimatedCall) -> Admission<'a> {
        self.asked.lock().unwrap().push(call.clone());
        Box::pin(async {
            Err(BudgetRefusal {
                reason: "project budget reached".to_owned(),
                limit_micro_usd: Some(1_000),
                remaining_micro_usd: Some(0),
            })
        })
    }
}

#[tokio::test]
async fn a_refused_call_sends_nothing_and_says_why() {
    let setup = setup(vec![model("m", 2.0, 8.0, &[TaskClass::Generate])]).await;
    let guard = Closed::default();
    let request = ChatRequest {
        max_tokens: Some(500),
        ..ChatRequest::new(vec![ChatMessage::system("Be brief."), ChatMessage::user("abcdefgh")])
    };
    let error = setup.client.chat(request, &guard).await.unwrap_err();
    assert_eq!(error.kind(), "budgetExceeded");
    assert_eq!(error.to_string(), "budget exceeded: project budget reached");
    assert!(error.attempts().is_empty());
    assert!(setup.provider.requests().is_empty(), "a request reached the provider");

    let asked = guard.asked.lock().unwrap();
    assert_eq!(asked.len(), 1);
    let estimate = &asked[0];
    // (3 + 4) + (2 + 4) + 3 prompt tokens; 500 completion tokens at most.
    assert_eq!((estimate.prompt_tokens, estimate.max_completion_tokens), (16, 500));
    // 2 × 16 + 8 × 500 = 4032 micro-USD.
    assert_eq!(estimate.max_cost_micro_usd, 4_032);
    assert_eq!((estimate.provider.as_str(), estimate.model.as_str()), ("local", "m"));
}

#[tokio::test]
async fn a_refused_candidate_is_skipped_for_one_that_fits() {
    let setup = setup(vec![
        model("dear", 100.0, 100.0, &[TaskClass::Generate]),
        model("cheap", 0.1, 0.1, &[TaskClass::Generate]),
    ])
    .await;
    setup.provider.set_default(Reply::text("fits").usage(10, 1));
    // max_tokens 1024 by default: "dear" may cost ~104,000 micro-USD, "cheap" ~104.
    let limit = SpendLimit::new(1_000);
    let choice = ModelChoice::model("dear").with_fallbacks(["cheap"]);
    let outcome = setup.client.chat(ask(choice), &limit).await.unwrap();
    assert_eq!(outcome.model, "cheap");
    assert_eq!(setup.provider.models_asked(), ["cheap"]);
    // 0.1 × 10 + 0.1 × 1 = 1.1 → 1 micro-USD recorded.
    assert_eq!(limit.spent_micro_usd(), 1);
}

#[tokio::test]
async fn the_max_tokens_sent_bound_the_estimate() {
    let setup = setup(vec![model("m", 1.0, 1.0, &[TaskClass::Generate])]).await;
    let request = ChatRequest { max_tokens: Some(42), ..ask(ModelChoice::model("m")) };
    setup.client.chat(request, &weft_ai::NoBudget).await.unwrap();
    assert_eq!(setup.provider.chat_requests()[0].body["max_tokens"], 42);
    setup.client.chat(ask(ModelChoice::model("m")), &weft_ai::NoBudget).await.unwrap();
    assert_eq!(setup.provider.chat_requests()[1].body["max_tokens"], 1024);
}
