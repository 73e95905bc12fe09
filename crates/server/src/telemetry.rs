//! Structured logging with `tracing`.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::settings::LogFormat;

/// Installs the global subscriber. `filter` is a tracing directive (`WEFT_LOG`); `RUST_LOG`
/// is not consulted so that one setting decides.
pub fn init(filter: &str, format: LogFormat) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(filter).map_err(|e| anyhow::anyhow!("invalid WEFT_LOG filter: {e}"))?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_span_events(FmtSpan::NONE);
    let result = match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("failed to install the log subscriber: {e}"))
}
