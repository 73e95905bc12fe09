//! The causes behind internal errors, read from the server's log: an internal error answers
//! only a correlation id, and its cause is logged with it (`ApiError::into_object`). A
//! failure report quotes the cause, so one run shows why each call failed.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, SubscriberExt};

fn logged() -> &'static Mutex<HashMap<String, String>> {
    static LOGGED: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    LOGGED.get_or_init(Default::default)
}

fn uncorrelated() -> &'static Mutex<Vec<String>> {
    static UNCORRELATED: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    UNCORRELATED.get_or_init(Default::default)
}

/// Records error events (once per test binary; other tests running at the same time may
/// add theirs).
pub fn install() {
    let subscriber = tracing_subscriber::registry().with(Capture.with_filter(LevelFilter::ERROR));
    let _already_installed = tracing::subscriber::set_global_default(subscriber);
}

/// The logged fields of the internal error with this correlation id.
pub fn cause(correlation_id: &str) -> Option<String> {
    logged().lock().ok()?.get(correlation_id).cloned()
}

/// Error events without a correlation id (the engine's, say) logged so far.
pub fn uncorrelated_errors() -> Vec<String> {
    uncorrelated().lock().map(|others| others.clone()).unwrap_or_default()
}

struct Capture;

impl<S: tracing::Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let target = event.metadata().target();
        match fields.correlation_id {
            Some(id) => {
                if let Ok(mut logged) = logged().lock() {
                    logged.insert(id, fields.text);
                }
            }
            None => {
                if let Ok(mut others) = uncorrelated().lock() {
                    others.push(format!("{target}: {}", fields.text));
                }
            }
        }
    }
}

#[derive(Default)]
struct Fields {
    correlation_id: Option<String>,
    text: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "correlation_id" {
            self.correlation_id = Some(value.to_owned());
        } else {
            let _ = write!(self.text, "{}={value} ", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.text, "{}={value:?} ", field.name());
    }
}
