//! Credentials: a project's secrets (AI provider keys, tokens for HTTP nodes). The store
//! keeps only the sealed secret (see `weft_core::secrets`) and a hint of a few characters;
//! sealing and opening happen in the callers, which hold the key.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use weft_core::{CredentialId, ProjectId, UserId};

use crate::Store;
use crate::entities::credentials;
use crate::error::{Context, StoreError};

/// What a credential is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialKind {
    /// An OpenAI-compatible provider: base URL, API key, models.
    AiProvider,
    /// `Authorization: Bearer <secret>` on HTTP nodes.
    Bearer,
    /// A named header carrying the secret on HTTP nodes.
    Header,
}

impl CredentialKind {
    /// The stored (and wire) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AiProvider => "aiProvider",
            Self::Bearer => "bearer",
            Self::Header => "header",
        }
    }

    /// Reads the stored spelling.
    pub fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "aiProvider" => Ok(Self::AiProvider),
            "bearer" => Ok(Self::Bearer),
            "header" => Ok(Self::Header),
            other => Err(StoreError::Corrupt(format!("credential kind {other:?}"))),
        }
    }
}

/// A stored credential. `sealed` is the encrypted secret; never show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credential {
    /// The credential.
    pub id: CredentialId,
    /// Its project.
    pub project_id: ProjectId,
    /// Unique within the project.
    pub name: String,
    /// What it is for.
    pub kind: CredentialKind,
    /// For AI providers: the API base URL.
    pub base_url: Option<String>,
    /// For `header` credentials: the header's name.
    pub header_name: Option<String>,
    /// For AI providers: the models it serves (empty: any catalogue model of the provider).
    pub models: Vec<String>,
    /// The sealed secret.
    pub sealed: String,
    /// The last characters of the secret, for people to recognise it.
    pub hint: String,
    /// Who created it.
    pub created_by: Option<UserId>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A credential to create; the caller chose the id (it is sealed into the secret).
#[derive(Clone, Debug)]
pub struct NewCredential {
    /// The new credential's id.
    pub id: CredentialId,
    /// Its project.
    pub project_id: ProjectId,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: CredentialKind,
    /// Base URL (AI providers).
    pub base_url: Option<String>,
    /// Header name (`header` credentials).
    pub header_name: Option<String>,
    /// Models (AI providers).
    pub models: Vec<String>,
    /// The sealed secret.
    pub sealed: String,
    /// Its hint.
    pub hint: String,
    /// Creator.
    pub created_by: Option<UserId>,
}

/// Changes to a credential; `None` keeps a field.
#[derive(Clone, Debug, Default)]
pub struct CredentialChanges {
    /// New name.
    pub name: Option<String>,
    /// New base URL.
    pub base_url: Option<Option<String>>,
    /// New header name.
    pub header_name: Option<Option<String>>,
    /// New model list.
    pub models: Option<Vec<String>>,
    /// A new secret: sealed value and hint.
    pub secret: Option<(String, String)>,
}

fn credential_from_row(row: credentials::Model) -> Result<Credential, StoreError> {
    Ok(Credential {
        id: CredentialId(row.id),
        project_id: ProjectId(row.project_id),
        name: row.name,
        kind: CredentialKind::parse(&row.kind)?,
        base_url: row.base_url,
        header_name: row.header_name,
        models: serde_json::from_str(&row.models).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        sealed: row.ciphertext,
        hint: row.hint,
        created_by: row.created_by.map(UserId),
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

fn models_text(models: &[String]) -> String {
    serde_json::to_string(models).unwrap_or_else(|_| "[]".to_owned())
}

const DUPLICATE: StoreError = StoreError::Conflict { entity: "credential with this name" };

impl Store {
    /// Creates a credential; a name taken in the project answers [`StoreError::Conflict`].
    pub async fn create_credential(
        &self,
        new: NewCredential,
        now: DateTime<Utc>,
    ) -> Result<Credential, StoreError> {
        let row = credentials::ActiveModel {
            id: Set(new.id.0),
            project_id: Set(new.project_id.0),
            name: Set(new.name),
            kind: Set(new.kind.as_str().to_owned()),
            base_url: Set(new.base_url),
            header_name: Set(new.header_name),
            models: Set(models_text(&new.models)),
            ciphertext: Set(new.sealed),
            hint: Set(new.hint),
            created_by: Set(new.created_by.map(|u| u.0)),
            created_at: Set(now),
            updated_at: Set(now),
        };
        match row.insert(&self.write).await {
            Ok(row) => credential_from_row(row),
            Err(err) if StoreError::is_unique_violation(&err) => Err(DUPLICATE),
            Err(err) => Err(err).context("failed to insert credential"),
        }
    }

    /// A project's credentials, by name.
    pub async fn list_credentials(&self, project: ProjectId) -> Result<Vec<Credential>, StoreError> {
        credentials::Entity::find()
            .filter(credentials::Column::ProjectId.eq(project.0))
            .order_by_asc(credentials::Column::Name)
            .all(&self.read)
            .await
            .context("failed to list credentials")?
            .into_iter()
            .map(credential_from_row)
            .collect()
    }

    /// One credential.
    pub async fn get_credential(&self, id: CredentialId) -> Result<Option<Credential>, StoreError> {
        credentials::Entity::find_by_id(id.0)
            .one(&self.read)
            .await
            .context("failed to load credential")?
            .map(credential_from_row)
            .transpose()
    }

    /// Applies `changes`; `None` when the credential does not exist.
    pub async fn update_credential(
        &self,
        id: CredentialId,
        changes: CredentialChanges,
        now: DateTime<Utc>,
    ) -> Result<Option<Credential>, StoreError> {
        let mut row =
            credentials::ActiveModel { id: sea_orm::ActiveValue::Unchanged(id.0), ..Default::default() };
        if let Some(name) = changes.name {
            row.name = Set(name);
        }
        if let Some(base_url) = changes.base_url {
            row.base_url = Set(base_url);
        }
        if let Some(header_name) = changes.header_name {
            row.header_name = Set(header_name);
        }
        if let Some(models) = changes.models {
            row.models = Set(models_text(&models));
        }
        if let Some((sealed, hint)) = changes.secret {
            row.ciphertext = Set(sealed);
            row.hint = Set(hint);
        }
        row.updated_at = Set(now);
        match row.update(&self.write).await {
            Ok(row) => credential_from_row(row).map(Some),
            Err(sea_orm::DbErr::RecordNotUpdated) => Ok(None),
            Err(err) if StoreError::is_unique_violation(&err) => Err(DUPLICATE),
            Err(err) => Err(err).context("failed to update credential"),
        }
    }

    /// Deletes a credential; `false` when it did not exist.
    pub async fn delete_credential(&self, id: CredentialId) -> Result<bool, StoreError> {
        let result = credentials::Entity::delete_by_id(id.0)
            .exec(&self.write)
            .await
            .context("failed to delete credential")?;
        Ok(result.rows_affected == 1)
    }
}
