//! Weft's schema migrations, one module per migration, applied in order by
//! [`Migrator`]. Migrations are written with sea-query's schema builder so the same file
//! serves SQLite and PostgreSQL.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_auth;
mod m20261122_000002_projects_workflows;
mod m20261122_000003_version_deltas;
mod m20261122_000004_runs;
mod m20261202_000005_ai;
mod m20261202_000006_notifications;
mod m20261202_000007_realtime;
mod m20261202_000008_schedules;
mod m20261207_000009_presence_key;

/// Applies Weft's migrations.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_auth::Migration),
            Box::new(m20261122_000002_projects_workflows::Migration),
            Box::new(m20261122_000003_version_deltas::Migration),
            Box::new(m20261122_000004_runs::Migration),
            Box::new(m20261202_000005_ai::Migration),
            Box::new(m20261202_000006_notifications::Migration),
            Box::new(m20261202_000007_realtime::Migration),
            Box::new(m20261202_000008_schedules::Migration),
            Box::new(m20261207_000009_presence_key::Migration),
        ]
    }
}
