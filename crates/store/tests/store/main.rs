//! Integration tests of the store. Every test in a module declared with [`helpers::both`]
//! runs twice, on a fresh SQLite file and on a fresh PostgreSQL database (the latter is
//! skipped, loudly, when `WEFT_TEST_POSTGRES_URL` is unset).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod ai;
mod audit;
mod concurrency;
mod connect;
mod event_log;
mod migrations;
mod purge;
mod refresh;
mod sessions;
mod tickets;
mod users;
mod workflows;
