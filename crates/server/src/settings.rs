//! Settings: defaults, then `.env`, then `WEFT_*` environment variables.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Env, Serialized};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use weft_api::ApiConfig;
use weft_api::auth::{LoginThrottle, TokenConfig};
use weft_api::rpc::Limits;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable, coloured when on a terminal.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Deployment mode. Production refuses to start without an explicit JWT secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// Local development: missing secrets are generated and kept in the data directory.
    Development,
    /// Production: every secret must be configured.
    Production,
}

/// Every setting of the server. Each field `name` is read from `WEFT_NAME`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// `WEFT_ENV`: `development` or `production`.
    pub env: Environment,
    /// `WEFT_ADDR`: listen address.
    pub addr: SocketAddr,
    /// `WEFT_DATA_DIR`: where the SQLite file and generated dev secrets live.
    pub data_dir: PathBuf,
    /// `WEFT_DATABASE_URL`: `sqlite://…` or `postgres://…`; default a SQLite file in the data dir.
    pub database_url: Option<String>,
    /// `WEFT_DB_MAX_CONNECTIONS`: pool size.
    pub db_max_connections: u32,
    /// `WEFT_JWT_SECRET`: HMAC key for access tokens, at least 32 bytes.
    #[serde(skip_serializing)]
    pub jwt_secret: Option<SecretString>,
    /// `WEFT_JWT_ISSUER`.
    pub jwt_issuer: String,
    /// `WEFT_SECRET_KEY`: encrypts stored credentials, at least 32 bytes.
    #[serde(skip_serializing)]
    pub secret_key: Option<SecretString>,
    /// `WEFT_AI_PROVIDERS`: JSON array of OpenAI-compatible providers
    /// (`[{"id":"openrouter","baseUrl":"https://openrouter.ai/api/v1","apiKey":"…"}]`).
    #[serde(skip_serializing)]
    pub ai_providers: Option<SecretString>,
    /// `WEFT_AI_MODELS`: JSON array of catalogue models (`id`, `provider`, `contextLength`,
    /// `inputPerMtokUsd`, `outputPerMtokUsd`, `tasks`, `supportsJsonSchema`).
    pub ai_models: String,
    /// `WEFT_AI_ATTEMPT_TIMEOUT`: longest wait for a model's answer (or its next streamed chunk).
    #[serde(with = "humantime_serde")]
    pub ai_attempt_timeout: Duration,
    /// `WEFT_JWT_AUDIENCE`.
    pub jwt_audience: String,
    /// `WEFT_LOG`: a tracing filter such as `info` or `weft_api=debug,info`.
    pub log: String,
    /// `WEFT_LOG_FORMAT`: `pretty` or `json`.
    pub log_format: LogFormat,
    /// `WEFT_ACCESS_TOKEN_TTL`.
    #[serde(with = "humantime_serde")]
    pub access_token_ttl: Duration,
    /// `WEFT_REFRESH_TOKEN_TTL`: idle timeout of a session.
    #[serde(with = "humantime_serde")]
    pub refresh_token_ttl: Duration,
    /// `WEFT_SESSION_TTL`: absolute lifetime of a session.
    #[serde(with = "humantime_serde")]
    pub session_ttl: Duration,
    /// `WEFT_STREAM_TICKET_TTL`.
    #[serde(with = "humantime_serde")]
    pub stream_ticket_ttl: Duration,
    /// `WEFT_MAX_BODY_BYTES`: largest request body or WebSocket message.
    pub max_body_bytes: usize,
    /// `WEFT_MAX_BATCH`: most members in one batch.
    pub max_batch: usize,
    /// `WEFT_CORS_ORIGINS`: comma-separated origins allowed from browsers (`*` for any).
    pub cors_origins: String,
    /// `WEFT_HEARTBEAT_INTERVAL`: event-stream heartbeat.
    #[serde(with = "humantime_serde")]
    pub heartbeat_interval: Duration,
    /// `WEFT_LOGIN_MAX_FAILURES_PER_ACCOUNT`.
    pub login_max_failures_per_account: u64,
    /// `WEFT_LOGIN_MAX_FAILURES_PER_IP`.
    pub login_max_failures_per_ip: u64,
    /// `WEFT_LOGIN_THROTTLE_WINDOW`.
    #[serde(with = "humantime_serde")]
    pub login_throttle_window: Duration,
    /// `WEFT_REGISTRATIONS_PER_IP_PER_HOUR`: accounts one client address may create per hour.
    pub registrations_per_ip_per_hour: u64,
    /// `WEFT_INVITATION_TTL`: how long a project invitation can be accepted.
    #[serde(with = "humantime_serde")]
    pub invitation_ttl: Duration,
    /// `WEFT_MAX_GRAPH_NODES`: most nodes in a workflow graph (never below 2,000).
    pub max_graph_nodes: usize,
    /// `WEFT_MAX_NODE_CONFIG_BYTES`: largest config of one node.
    pub max_node_config_bytes: usize,
    /// `WEFT_GRAPH_CACHE_ENTRIES`: parsed workflow graphs kept in memory (0 disables).
    pub graph_cache_entries: usize,
    /// `WEFT_TRUST_FORWARDED_FOR`: take client addresses from `X-Forwarded-For`.
    pub trust_forwarded_for: bool,
    /// `WEFT_SHUTDOWN_TIMEOUT`: how long in-flight requests may take after a signal.
    #[serde(with = "humantime_serde")]
    pub shutdown_timeout: Duration,
    /// `WEFT_EMBEDDED_WORKERS`: `weft serve` also executes runs (off when `weft worker`
    /// processes do it).
    pub embedded_workers: bool,
    /// `WEFT_WORKER_CONCURRENCY`: node executions one process runs at the same time.
    pub worker_concurrency: usize,
    /// `WEFT_MAX_PARALLEL_PER_RUN`: node executions of one run a process runs at the same
    /// time (parallel branches, for-each iterations).
    pub max_parallel_per_run: usize,
    /// `WEFT_INLINE_STEPS`: most steps of pure nodes run inline in one transaction where
    /// they become ready (0 queues every step for a worker).
    pub inline_steps: usize,
    /// `WEFT_TEMPLATE_FUEL`: instructions one template or expression may run.
    pub template_fuel: u64,
    /// `WEFT_TEMPLATE_TIMEOUT`: longest one node's template evaluations may take.
    #[serde(with = "humantime_serde")]
    pub template_timeout: Duration,
    /// `WEFT_TEMPLATE_MAX_VALUE_BYTES`: largest value (text, list, map) a template may build.
    pub template_max_value_bytes: usize,
    /// `WEFT_TEMPLATE_MAX_ITEMS`: most items of one list or map a template may build.
    pub template_max_items: usize,
    /// `WEFT_TEMPLATE_MAX_WORK_BYTES`: most bytes one node's templates may build and write.
    pub template_max_work_bytes: u64,
    /// `WEFT_TEMPLATE_MAX_OUTPUT_BYTES`: largest result of one node's templates.
    pub template_max_output_bytes: usize,
    /// `WEFT_TEMPLATE_INLINE_FUEL`: instructions of an evaluation inside a transaction (and
    /// of the first attempt everywhere).
    pub template_inline_fuel: u64,
    /// `WEFT_TEMPLATE_INLINE_TIMEOUT`: longest an inline evaluation may take.
    #[serde(with = "humantime_serde")]
    pub template_inline_timeout: Duration,
    /// `WEFT_TEMPLATE_INLINE_WORK_BYTES`: most bytes an inline evaluation may build and write.
    pub template_inline_work_bytes: u64,
    /// `WEFT_TEMPLATE_CONCURRENCY`: evaluations with the full budget running at once.
    pub template_concurrency: usize,
    /// `WEFT_STEP_LEASE`: how long a worker's claim on a step lasts unless renewed; a step
    /// whose worker died is taken over after it.
    #[serde(with = "humantime_serde")]
    pub step_lease: Duration,
    /// `WEFT_WORKER_POLL_INTERVAL`: how often idle workers look for due timers, retries
    /// and other instances' work.
    #[serde(with = "humantime_serde")]
    pub worker_poll_interval: Duration,
    /// `WEFT_NODE_TIMEOUT`: time limit of a node attempt without its own `timeoutMs`.
    #[serde(with = "humantime_serde")]
    pub node_timeout: Duration,
    /// `WEFT_MAX_EXECUTE_WAIT`: longest a `workflow.execute` call may wait for a result.
    #[serde(with = "humantime_serde")]
    pub max_execute_wait: Duration,
    /// `WEFT_SCHEDULER`: whether this process fires cron schedules (every instance may; each
    /// fire time runs once).
    pub scheduler: bool,
    /// `WEFT_SCHEDULE_GRACE`: a fire time at most this late is on time; older ones were
    /// missed and follow the schedule's catch-up policy.
    #[serde(with = "humantime_serde")]
    pub schedule_grace: Duration,
    /// `WEFT_SCHEDULER_MAX_SLEEP`: longest the scheduler sleeps without looking (schedules
    /// changed on other instances are seen within it).
    #[serde(with = "humantime_serde")]
    pub scheduler_max_sleep: Duration,
    /// `WEFT_WEBHOOK_MAX_BODY_BYTES`: largest body any webhook accepts.
    pub webhook_max_body_bytes: usize,
    /// `WEFT_WEBHOOK_TOLERANCE`: how far a webhook signature's timestamp may be from now.
    #[serde(with = "humantime_serde")]
    pub webhook_tolerance: Duration,
    /// `WEFT_WEBHOOK_MAX_SYNC_WAIT`: longest a sync webhook waits for its run.
    #[serde(with = "humantime_serde")]
    pub webhook_max_sync_wait: Duration,
    /// `WEFT_HTTP_ALLOW_HOSTS`: comma-separated hosts (`name`, `ip`, `host:port`) that HTTP
    /// nodes may reach although they are loopback, private or link-local.
    pub http_allow_hosts: String,
    /// `WEFT_HTTP_ALLOW_PRIVATE`: let HTTP nodes reach every private address (trusted
    /// networks only).
    pub http_allow_private: bool,
    /// `WEFT_EVENT_RETENTION`: how long the event log keeps events (how far back a stream can
    /// resume with `Last-Event-ID`).
    #[serde(with = "humantime_serde")]
    pub event_retention: Duration,
    /// `WEFT_STREAM_BUFFER`: frames buffered per event stream before it counts as slow (an
    /// SSE stream on a connection of its own is written into its socket: the socket's send
    /// buffer is its buffer).
    pub stream_buffer: usize,
    /// `WEFT_SLOW_CONSUMER_GRACE`: how long a slow event stream may stay full before it is
    /// closed.
    #[serde(with = "humantime_serde")]
    pub slow_consumer_grace: Duration,
    /// `WEFT_PRESENCE_TTL`: an editor without a heartbeat for this long has left.
    #[serde(with = "humantime_serde")]
    pub presence_ttl: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        let api = ApiConfig::with_tokens(TokenConfig {
            secret: SecretString::from(String::new()),
            issuer: String::new(),
            audience: String::new(),
            access_ttl: Duration::from_secs(15 * 60),
            leeway: Duration::from_secs(5),
        });
        Self {
            env: Environment::Development,
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            db_max_connections: 16,
            jwt_secret: None,
            jwt_issuer: "weft".to_owned(),
            secret_key: None,
            ai_providers: None,
            ai_models: String::new(),
            ai_attempt_timeout: Duration::from_secs(60),
            jwt_audience: "weft-api".to_owned(),
            log: "info".to_owned(),
            log_format: LogFormat::Pretty,
            access_token_ttl: api.tokens.access_ttl,
            refresh_token_ttl: api.refresh_ttl,
            session_ttl: api.session_ttl,
            stream_ticket_ttl: api.stream_ticket_ttl,
            max_body_bytes: api.limits.max_body_bytes,
            max_batch: api.limits.max_batch,
            cors_origins: String::new(),
            heartbeat_interval: api.heartbeat_interval,
            login_max_failures_per_account: api.login_throttle.max_failures_per_account,
            login_max_failures_per_ip: api.login_throttle.max_failures_per_ip,
            login_throttle_window: api.login_throttle.window,
            registrations_per_ip_per_hour: api.registrations_per_ip_per_hour,
            invitation_ttl: api.invitation_ttl,
            max_graph_nodes: api.graph_limits.max_nodes,
            max_node_config_bytes: api.graph_limits.max_config_bytes,
            graph_cache_entries: api.graph_cache_entries,
            trust_forwarded_for: false,
            shutdown_timeout: Duration::from_secs(30),
            embedded_workers: true,
            worker_concurrency: api.engine.concurrency,
            max_parallel_per_run: api.engine.max_parallel_per_run,
            inline_steps: api.engine.inline_steps,
            template_fuel: api.engine.templates.fuel,
            template_timeout: api.engine.templates.timeout,
            template_max_value_bytes: api.engine.templates.max_value_bytes,
            template_max_items: api.engine.templates.max_items,
            template_max_work_bytes: api.engine.templates.max_work_bytes,
            template_max_output_bytes: api.engine.templates.max_output_bytes,
            template_inline_fuel: api.engine.templates.inline_fuel,
            template_inline_timeout: api.engine.templates.inline_timeout,
            template_inline_work_bytes: api.engine.templates.inline_work_bytes,
            template_concurrency: api.engine.templates.concurrency,
            step_lease: api.engine.lease,
            worker_poll_interval: api.engine.poll_interval,
            node_timeout: api.engine.node_timeout,
            max_execute_wait: api.max_execute_wait,
            scheduler: api.engine.schedules.enabled,
            schedule_grace: api.engine.schedules.grace,
            scheduler_max_sleep: api.engine.schedules.max_sleep,
            webhook_max_body_bytes: api.webhooks.max_body_bytes,
            webhook_tolerance: api.webhooks.tolerance,
            webhook_max_sync_wait: api.webhooks.max_sync_wait,
            http_allow_hosts: String::new(),
            http_allow_private: false,
            event_retention: api.realtime.event_retention,
            stream_buffer: api.realtime.stream_buffer,
            slow_consumer_grace: api.realtime.slow_consumer_grace,
            presence_ttl: api.realtime.presence_ttl,
        }
    }
}

impl Settings {
    /// Loads `.env` (if present; it never overrides the real environment), then merges
    /// `WEFT_*` variables over the defaults.
    pub fn load() -> anyhow::Result<Settings> {
        // A missing .env file is normal.
        let _ = dotenvy::dotenv();
        Self::from_env()
    }

    /// Merges `WEFT_*` variables over the defaults, without reading `.env`.
    pub fn from_env() -> anyhow::Result<Settings> {
        Figment::from(Serialized::defaults(Settings::default()))
            .merge(Env::prefixed("WEFT_").ignore(&["test_postgres_url"]))
            .extract()
            .context("invalid WEFT_* setting")
    }

    /// The database URL, defaulting to `weft.db` in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("weft.db").display()),
        }
    }

    /// The JWT secret: configured, or (in development only) generated once and kept in
    /// `<data_dir>/jwt_secret` with owner-only permissions.
    pub fn resolve_jwt_secret(&self) -> anyhow::Result<SecretString> {
        self.resolve_secret(self.jwt_secret.as_ref(), "WEFT_JWT_SECRET", "jwt_secret")
    }

    /// The key of stored credentials: configured, or (in development only) generated once and
    /// kept in `<data_dir>/secret_key`. Changing it makes stored credentials unreadable.
    pub fn resolve_secret_key(&self) -> anyhow::Result<SecretString> {
        self.resolve_secret(self.secret_key.as_ref(), "WEFT_SECRET_KEY", "secret_key")
    }

    fn resolve_secret(
        &self,
        configured: Option<&SecretString>,
        name: &str,
        file: &str,
    ) -> anyhow::Result<SecretString> {
        if let Some(secret) = configured {
            if secret.expose_secret().len() < 32 {
                bail!("{name} must be at least 32 bytes");
            }
            return Ok(secret.clone());
        }
        if self.env == Environment::Production {
            bail!("{name} must be set when WEFT_ENV=production");
        }
        let path = self.data_dir.join(file);
        if let Ok(existing) = std::fs::read_to_string(&path) {
            let existing = existing.trim().to_owned();
            if existing.len() >= 32 {
                return Ok(SecretString::from(existing));
            }
        }
        tracing::warn!(path = %path.display(), "{name} is not set: generated a development secret; set it explicitly in production");
        let mut bytes = [0u8; 48];
        rand::rng().fill_bytes(&mut bytes);
        let secret = bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
        write_private(&path, &secret)?;
        Ok(SecretString::from(secret))
    }

    /// The AI settings: providers and models from their JSON settings and the credential key
    /// (the engine holds provider requests to the HTTP nodes' address policy).
    fn ai_settings(&self) -> anyhow::Result<weft_engine::ai::AiSettings> {
        // It holds provider keys: kept as a secret, so printing the settings never shows it.
        let providers_json = self.ai_providers.as_ref().map(|s| s.expose_secret().trim()).unwrap_or_default();
        let providers: Vec<weft_ai::ProviderConfig> = if providers_json.is_empty() {
            Vec::new()
        } else {
            serde_json::from_str(providers_json)
                .context("invalid WEFT_AI_PROVIDERS (a JSON array of providers)")?
        };
        let models: Vec<weft_ai::ModelInfo> = if self.ai_models.trim().is_empty() {
            Vec::new()
        } else {
            serde_json::from_str(&self.ai_models)
                .context("invalid WEFT_AI_MODELS (a JSON array of models)")?
        };
        let client = weft_ai::AiConfig {
            providers,
            attempt_timeout: self.ai_attempt_timeout,
            ..weft_ai::AiConfig::default()
        };
        Ok(weft_engine::ai::AiSettings { client, models, secret_key: Some(self.resolve_secret_key()?) })
    }

    /// The engine's configuration.
    pub fn engine_config(&self) -> anyhow::Result<weft_engine::EngineConfig> {
        let hosts = self.http_allow_hosts.split(',').map(str::trim).filter(|h| !h.is_empty());
        let outbound = weft_engine::http::OutboundPolicy::new(self.http_allow_private, hosts)
            .context("invalid WEFT_HTTP_ALLOW_HOSTS")?;
        Ok(weft_engine::EngineConfig {
            concurrency: self.worker_concurrency.max(1),
            max_parallel_per_run: self.max_parallel_per_run.max(1),
            inline_steps: self.inline_steps,
            templates: weft_engine::template::TemplateLimits {
                fuel: self.template_fuel.max(1),
                timeout: self.template_timeout.max(Duration::from_millis(1)),
                max_value_bytes: self.template_max_value_bytes.max(1024),
                max_items: self.template_max_items.max(1),
                max_work_bytes: self.template_max_work_bytes.max(1024),
                max_output_bytes: self.template_max_output_bytes.max(1024),
                inline_fuel: self.template_inline_fuel.clamp(1, self.template_fuel.max(1)),
                inline_timeout: self.template_inline_timeout.min(self.template_timeout),
                inline_work_bytes: self.template_inline_work_bytes.min(self.template_max_work_bytes),
                concurrency: self.template_concurrency.max(1),
            },
            ai: self.ai_settings()?,
            claim_batch: self.worker_concurrency.clamp(1, 64),
            lease: self.step_lease.max(Duration::from_secs(1)),
            poll_interval: self.worker_poll_interval.max(Duration::from_millis(10)),
            node_timeout: self.node_timeout,
            outbound,
            schedules: weft_engine::scheduler::SchedulerConfig {
                enabled: self.scheduler,
                grace: self.schedule_grace,
                max_sleep: self.scheduler_max_sleep.max(Duration::from_millis(10)),
                ..weft_engine::scheduler::SchedulerConfig::default()
            },
            ..weft_engine::EngineConfig::default()
        })
    }

    /// The API layer's configuration.
    pub fn api_config(&self, jwt_secret: SecretString) -> anyhow::Result<ApiConfig> {
        Ok(ApiConfig {
            tokens: TokenConfig {
                secret: jwt_secret,
                issuer: self.jwt_issuer.clone(),
                audience: self.jwt_audience.clone(),
                access_ttl: self.access_token_ttl,
                leeway: Duration::from_secs(5),
            },
            refresh_ttl: self.refresh_token_ttl,
            session_ttl: self.session_ttl,
            stream_ticket_ttl: self.stream_ticket_ttl,
            limits: Limits { max_body_bytes: self.max_body_bytes, max_batch: self.max_batch.max(1) },
            cors_origins: self
                .cors_origins
                .split(',')
                .map(|o| o.trim().trim_end_matches('/').to_owned())
                .filter(|o| !o.is_empty())
                .collect(),
            heartbeat_interval: self.heartbeat_interval,
            login_throttle: LoginThrottle {
                max_failures_per_account: self.login_max_failures_per_account,
                max_failures_per_ip: self.login_max_failures_per_ip,
                window: self.login_throttle_window,
            },
            registrations_per_ip_per_hour: self.registrations_per_ip_per_hour,
            invitation_ttl: self.invitation_ttl,
            graph_limits: weft_core::workflow::GraphLimits {
                max_nodes: self.max_graph_nodes,
                max_edges: self.max_graph_nodes.saturating_mul(4),
                max_config_bytes: self.max_node_config_bytes,
                ..weft_core::workflow::GraphLimits::default()
            }
            .normalized(),
            graph_cache_entries: self.graph_cache_entries,
            trust_forwarded_for: self.trust_forwarded_for,
            engine: self.engine_config()?,
            max_execute_wait: self.max_execute_wait,
            realtime: weft_api::realtime::RealtimeConfig {
                event_retention: self.event_retention,
                stream_buffer: self.stream_buffer.max(1),
                slow_consumer_grace: self.slow_consumer_grace,
                presence_ttl: self.presence_ttl,
                ..weft_api::realtime::RealtimeConfig::default()
            },
            webhooks: weft_api::http::hooks::WebhookLimits {
                max_body_bytes: self.webhook_max_body_bytes.max(1),
                tolerance: self.webhook_tolerance,
                max_sync_wait: self.webhook_max_sync_wait,
            },
        })
    }
}

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    use std::io::Write;
    let mut file = options.open(path).with_context(|| format!("failed to write {}", path.display()))?;
    file.write_all(contents.as_bytes()).with_context(|| format!("failed to write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures return figment's large error
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_embedded_setup() {
        let settings = Settings::default();
        assert_eq!(settings.addr.to_string(), "127.0.0.1:8080");
        assert_eq!(settings.database_url(), "sqlite://./data/weft.db");
        assert_eq!(settings.access_token_ttl, Duration::from_secs(900));
    }

    #[test]
    fn environment_overrides_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("WEFT_ADDR", "0.0.0.0:9000");
            jail.set_env("WEFT_ACCESS_TOKEN_TTL", "5m");
            jail.set_env("WEFT_MAX_BATCH", "7");
            jail.set_env("WEFT_CORS_ORIGINS", "http://localhost:5173, https://app.example.com/");
            jail.set_env("WEFT_LOG_FORMAT", "json");
            let settings = Settings::from_env().map_err(|e| e.to_string())?;
            assert_eq!(settings.addr.port(), 9000);
            assert_eq!(settings.access_token_ttl, Duration::from_secs(300));
            assert_eq!(settings.max_batch, 7);
            assert_eq!(settings.log_format, LogFormat::Json);
            let api = settings.api_config(SecretString::from("x".repeat(32))).unwrap();
            assert_eq!(api.cors_origins, vec!["http://localhost:5173", "https://app.example.com"]);
            Ok(())
        });
    }

    #[test]
    fn env_example_lists_every_key_with_its_default() {
        let example = include_str!("../../../.env.example");
        let keys: Vec<String> = serde_json::to_value(Settings::default())
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
            .map(|k| format!("WEFT_{}", k.to_uppercase()))
            .chain(["WEFT_JWT_SECRET", "WEFT_SECRET_KEY", "WEFT_AI_PROVIDERS"].map(str::to_owned))
            .collect();
        for key in &keys {
            assert!(example.contains(&format!("{key}=")), "{key} missing from .env.example");
        }
        figment::Jail::expect_with(|jail| {
            for line in example.lines().filter(|l| l.starts_with("WEFT_")) {
                let (key, value) = line.split_once('=').unwrap();
                jail.set_env(key, value);
            }
            let loaded = Settings::from_env().map_err(|e| e.to_string())?;
            let defaults = Settings::default();
            assert_eq!(serde_json::to_value(&loaded).unwrap(), serde_json::to_value(&defaults).unwrap());
            Ok(())
        });
    }

    #[test]
    fn bad_values_are_reported() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("WEFT_ACCESS_TOKEN_TTL", "soon");
            assert!(Settings::from_env().is_err());
            Ok(())
        });
    }

    #[test]
    fn dev_secret_is_generated_once_and_production_requires_one() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings { data_dir: dir.path().to_path_buf(), ..Settings::default() };
        let first = settings.resolve_jwt_secret().unwrap();
        let second = settings.resolve_jwt_secret().unwrap();
        assert_eq!(first.expose_secret(), second.expose_secret());
        assert!(first.expose_secret().len() >= 32);
        let production = Settings { env: Environment::Production, ..settings };
        assert!(production.resolve_jwt_secret().is_err());
        let short =
            Settings { jwt_secret: Some(SecretString::from("short".to_owned())), ..Settings::default() };
        assert!(short.resolve_jwt_secret().is_err());
    }
}
