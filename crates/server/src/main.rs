//! `weft`: the server binary.

use clap::Parser;
use weft_server::cli::{Cli, run};
use weft_server::{Settings, telemetry};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("error: {err:#}");
            return std::process::ExitCode::from(2);
        }
    };
    if let Err(err) = telemetry::init(&settings.log, settings.log_format) {
        eprintln!("error: {err:#}");
        return std::process::ExitCode::from(2);
    }
    match run(cli, settings).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %format!("{err:#}"), "weft failed");
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
