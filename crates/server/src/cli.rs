//! Command-line interface: `serve` (default), `migrate`, `admin create-user`.

use std::io::BufRead;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use weft_api::ApiError;
use weft_api::routers::auth::create_account;
use weft_api::routers::auth::types::RegisterParams;
use weft_core::Role;
use weft_store::{AuditEntry, AuditKind};

use crate::settings::Settings;
use crate::startup::{Application, build_state, open_store, shutdown_signal};

/// Weft: a server for building and running AI workflows.
#[derive(Debug, Parser)]
#[command(name = "weft", version, about)]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (migrations are applied first).
    Serve,
    /// Execute runs without serving HTTP (several workers and servers can share one
    /// PostgreSQL database).
    Worker,
    /// Manage the database schema.
    Migrate {
        /// up, down or status.
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Administrative tasks.
    Admin {
        /// The task.
        #[command(subcommand)]
        action: AdminAction,
    },
}

/// `weft migrate …`.
#[derive(Debug, Subcommand)]
pub enum MigrateAction {
    /// Apply pending migrations.
    Up {
        /// Apply at most this many.
        #[arg(long)]
        steps: Option<u32>,
    },
    /// Roll back applied migrations.
    Down {
        /// How many to roll back.
        #[arg(long, default_value_t = 1)]
        steps: u32,
    },
    /// List migrations and whether each is applied.
    Status,
}

/// `weft admin …`.
#[derive(Debug, Subcommand)]
pub enum AdminAction {
    /// Create an account (by default an ADMIN). The password is read from standard input
    /// (one line) or from WEFT_ADMIN_PASSWORD, never from the command line.
    CreateUser {
        /// E-mail address.
        #[arg(long)]
        email: String,
        /// Display name.
        #[arg(long, default_value = "Administrator")]
        display_name: String,
        /// Role of the new account.
        #[arg(long, default_value = "ADMIN", value_parser = parse_role)]
        role: Role,
        /// Read the password from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

fn parse_role(value: &str) -> Result<Role, String> {
    Role::parse(&value.to_ascii_uppercase()).ok_or_else(|| "expected ADMIN, USER or GUEST".to_owned())
}

/// Runs the parsed command.
pub async fn run(cli: Cli, settings: Settings) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => Application::build(&settings).await?.run_until(shutdown_signal()).await,
        Command::Worker => crate::startup::run_workers(&settings, shutdown_signal()).await,
        Command::Migrate { action } => migrate(&settings, action).await,
        Command::Admin { action: AdminAction::CreateUser { email, display_name, role, password_stdin } } => {
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .context("failed to read the password from stdin")?;
                line.trim_end_matches(['\r', '\n']).to_owned()
            } else {
                match std::env::var("WEFT_ADMIN_PASSWORD") {
                    Ok(password) => password,
                    Err(_) => bail!(
                        "give the password on standard input with --password-stdin, or in WEFT_ADMIN_PASSWORD"
                    ),
                }
            };
            create_user(&settings, RegisterParams { email, password, display_name }, role).await
        }
    }
}

async fn migrate(settings: &Settings, action: MigrateAction) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    match action {
        MigrateAction::Up { steps } => {
            store.migrate_up(steps).await?;
            println!("migrations applied");
        }
        MigrateAction::Down { steps } => {
            store.migrate_down(Some(steps)).await?;
            println!("rolled back {steps} migration(s)");
        }
        MigrateAction::Status => {
            for migration in store.migration_status().await? {
                println!("{} {}", if migration.applied { "applied" } else { "pending" }, migration.name);
            }
        }
    }
    store.close().await;
    Ok(())
}

async fn create_user(settings: &Settings, params: RegisterParams, role: Role) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    store.migrate_up(None).await?;
    let state = build_state(settings, store.clone())?;
    let user = match create_account(&state, params, role).await {
        Ok(user) => user,
        Err(ApiError::Validation(errors)) => bail!("{errors}"),
        Err(ApiError::Conflict { detail }) => bail!("{detail}"),
        Err(other) => return Err(anyhow::anyhow!(other).context("failed to create the account")),
    };
    let entry = AuditEntry {
        kind: AuditKind::AdminCreated,
        user_id: Some(user.id),
        subject: Some(user.email.clone()),
        ip_address: None,
        detail: serde_json::json!({ "role": role }),
    };
    store.record_audit(entry, chrono::Utc::now()).await?;
    println!("created {} {} ({})", role, user.email, user.id);
    state.close_event_log(std::time::Duration::from_secs(5)).await;
    store.close().await;
    Ok(())
}
