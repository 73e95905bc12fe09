//! The store's error type.

use sea_orm::{DbErr, SqlErr};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was violated (e.g. an e-mail address already registered).
    #[error("{entity} already exists")]
    Conflict {
        /// What already exists.
        entity: &'static str,
    },
    /// The database failed or refused the statement.
    #[error("{context}")]
    Database {
        /// What the store was doing.
        context: &'static str,
        /// The driver's error.
        #[source]
        source: DbErr,
    },
    /// A stored value could not be read back (a schema or data defect).
    #[error("invalid stored value: {0}")]
    Corrupt(String),
    /// The connection settings are unusable.
    #[error("invalid database configuration: {0}")]
    Config(String),
}

impl StoreError {
    /// Whether the database error is a unique-constraint violation.
    pub(crate) fn is_unique_violation(err: &DbErr) -> bool {
        matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
    }
}

/// Attaches what the store was doing to a database error.
pub(crate) trait Context<T> {
    fn context(self, context: &'static str) -> Result<T, StoreError>;
}

impl<T> Context<T> for Result<T, DbErr> {
    fn context(self, context: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Database { context, source })
    }
}
