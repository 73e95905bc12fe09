//! User accounts.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use weft_core::{Role, SessionId, UserId};

use crate::Store;
use crate::entities::users;
use crate::error::{Context, StoreError};
use crate::records::{NewSession, NewUser, Session, User};
use crate::repos::sessions::{insert_session_in, revoke_user_sessions_in};

pub(crate) fn user_from_row(row: users::Model) -> Result<User, StoreError> {
    let role = Role::parse(&row.role)
        .ok_or_else(|| StoreError::Corrupt(format!("user {} has unknown role {:?}", row.id, row.role)))?;
    Ok(User {
        id: UserId(row.id),
        email: row.email,
        display_name: row.display_name,
        password_hash: row.password_hash,
        role,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

impl Store {
    /// Creates a user. An e-mail address already taken answers [`StoreError::Conflict`].
    pub async fn create_user(&self, new: NewUser, now: DateTime<Utc>) -> Result<User, StoreError> {
        let row = users::ActiveModel {
            id: Set(UserId::new().0),
            email: Set(new.email),
            display_name: Set(new.display_name),
            password_hash: Set(new.password_hash),
            role: Set(new.role.as_str().to_owned()),
            created_at: Set(now),
            updated_at: Set(now),
        };
        match row.insert(&self.write).await {
            Ok(row) => user_from_row(row),
            Err(err) if StoreError::is_unique_violation(&err) => {
                Err(StoreError::Conflict { entity: "user with this e-mail" })
            }
            Err(err) => Err(err).context("failed to insert user"),
        }
    }

    /// Finds a user by normalised e-mail address.
    pub async fn find_user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        users::Entity::find()
            .filter(users::Column::Email.eq(email))
            .one(&self.read)
            .await
            .context("failed to look up user by e-mail")?
            .map(user_from_row)
            .transpose()
    }

    /// Finds a user by id.
    pub async fn find_user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        users::Entity::find_by_id(id.0)
            .one(&self.read)
            .await
            .context("failed to look up user")?
            .map(user_from_row)
            .transpose()
    }

    /// Replaces a user's password hash, ends every session of theirs, and opens
    /// `replacement` for the caller, all in one transaction. Returns the ended sessions and
    /// the new one.
    pub async fn change_password(
        &self,
        user_id: UserId,
        password_hash: String,
        replacement: NewSession,
        now: DateTime<Utc>,
    ) -> Result<(Vec<SessionId>, Session), StoreError> {
        let txn = self.write.begin().await.context("failed to begin transaction")?;
        users::ActiveModel {
            id: Set(user_id.0),
            password_hash: Set(password_hash),
            updated_at: Set(now),
            ..Default::default()
        }
        .update(&txn)
        .await
        .context("failed to update password")?;
        let revoked = revoke_user_sessions_in(&txn, user_id, None, "passwordChanged", now).await?;
        let session = insert_session_in(&txn, replacement, now).await?;
        txn.commit().await.context("failed to commit password change")?;
        Ok((revoked, session))
    }

    /// Sets a user's role and ends all of their sessions, in one transaction, so that no
    /// token minted under the old role stays usable. Returns the user and the ended
    /// sessions; `None` when the user does not exist.
    pub async fn set_role(
        &self,
        user_id: UserId,
        role: Role,
        now: DateTime<Utc>,
    ) -> Result<Option<(User, Vec<SessionId>)>, StoreError> {
        let txn = self.write.begin().await.context("failed to begin transaction")?;
        let Some(existing) =
            users::Entity::find_by_id(user_id.0).one(&txn).await.context("failed to look up user")?
        else {
            return Ok(None);
        };
        let mut row: users::ActiveModel = existing.into();
        row.role = Set(role.as_str().to_owned());
        row.updated_at = Set(now);
        let updated = row.update(&txn).await.context("failed to update role")?;
        let revoked = revoke_user_sessions_in(&txn, user_id, None, "roleChanged", now).await?;
        txn.commit().await.context("failed to commit role change")?;
        Ok(Some((user_from_row(updated)?, revoked)))
    }

    /// Number of users with the given role.
    pub async fn count_users_with_role(&self, role: Role) -> Result<u64, StoreError> {
        use sea_orm::PaginatorTrait;
        users::Entity::find()
            .filter(users::Column::Role.eq(role.as_str()))
            .count(&self.read)
            .await
            .context("failed to count users")
    }
}
