//! weft-ai against a real local OpenAI-compatible server (`weft_ai::testing::TestProvider`):
//! routing, fallbacks, breakers, budgets, streaming, structured output, catalogue refresh
//! secrets, outbound-address hooks, and workflow generation.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod breaker;
mod budget;
mod catalogue;
mod fallback;
mod generate;
mod helpers;
mod outbound;
mod routing;
mod secrets;
mod streaming;
mod structured;
