//! The `weft` binary's library half: settings, telemetry, start-up and shutdown, kept
//! apart from `main` so tests can build the application and bind it to port 0.

pub mod cli;
pub mod settings;
pub mod startup;
pub mod telemetry;

pub use settings::Settings;
pub use startup::Application;
