//! Tests of the real `weft` binary: start-up, settings, migrations, the admin command,
//! structured logs and graceful shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod cli;
mod crash;
mod fanout;
mod helpers;
mod lifecycle;
mod secrets;
