//! Login sessions, their rotating refresh tokens, and single-use stream tickets.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};
use uuid::Uuid;
use weft_core::{SessionId, UserId};

use crate::Store;
use crate::entities::{refresh_tokens, sessions, stream_tickets, users};
use crate::error::{Context, StoreError};
use crate::records::{NewSession, Session, User};
use crate::repos::users::user_from_row;

/// What presenting a refresh token led to.
#[derive(Clone, Debug)]
pub enum RefreshOutcome {
    /// The token was valid: it is now used, and the new token was stored.
    Rotated {
        /// The session, with `last_used_at` updated.
        session: Box<Session>,
        /// Its owner.
        user: Box<User>,
    },
    /// The token had already been used: the whole session was revoked.
    Reused {
        /// The revoked session.
        session_id: SessionId,
        /// Its owner.
        user_id: UserId,
    },
    /// Unknown, expired, or belonging to an ended session.
    Invalid,
}

fn session_from_row(row: sessions::Model) -> Session {
    Session {
        id: SessionId(row.id),
        user_id: UserId(row.user_id),
        created_at: row.created_at,
        last_used_at: row.last_used_at,
        expires_at: row.expires_at,
        revoked_at: row.revoked_at,
        revoked_reason: row.revoked_reason,
        user_agent: row.user_agent,
        ip_address: row.ip_address,
    }
}

/// Ends every active session of a user except `keep`, inside the caller's transaction.
pub(crate) async fn revoke_user_sessions_in<C: ConnectionTrait>(
    conn: &C,
    user_id: UserId,
    keep: Option<SessionId>,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Vec<SessionId>, StoreError> {
    let mut query = sessions::Entity::find()
        .filter(sessions::Column::UserId.eq(user_id.0))
        .filter(sessions::Column::RevokedAt.is_null());
    if let Some(keep) = keep {
        query = query.filter(sessions::Column::Id.ne(keep.0));
    }
    let ids: Vec<Uuid> =
        query.all(conn).await.context("failed to list sessions")?.into_iter().map(|s| s.id).collect();
    if !ids.is_empty() {
        sessions::Entity::update_many()
            .col_expr(sessions::Column::RevokedAt, Expr::value(now))
            .col_expr(sessions::Column::RevokedReason, Expr::value(reason))
            .filter(sessions::Column::Id.is_in(ids.clone()))
            .filter(sessions::Column::RevokedAt.is_null())
            .exec(conn)
            .await
            .context("failed to revoke sessions")?;
    }
    Ok(ids.into_iter().map(SessionId).collect())
}

/// Inserts a session and its first refresh token inside the caller's transaction.
pub(crate) async fn insert_session_in<C: ConnectionTrait>(
    conn: &C,
    new: NewSession,
    now: DateTime<Utc>,
) -> Result<Session, StoreError> {
    let session = sessions::ActiveModel {
        id: Set(SessionId::new().0),
        user_id: Set(new.user_id.0),
        created_at: Set(now),
        last_used_at: Set(now),
        expires_at: Set(new.expires_at),
        revoked_at: Set(None),
        revoked_reason: Set(None),
        user_agent: Set(new.user_agent),
        ip_address: Set(new.ip_address),
    }
    .insert(conn)
    .await
    .context("failed to insert session")?;
    refresh_tokens::ActiveModel {
        id: Set(Uuid::now_v7()),
        session_id: Set(session.id),
        token_hash: Set(new.refresh_token_hash),
        created_at: Set(now),
        expires_at: Set(new.refresh_expires_at),
        used_at: Set(None),
    }
    .insert(conn)
    .await
    .context("failed to insert refresh token")?;
    Ok(session_from_row(session))
}

async fn revoke_session_in<C: ConnectionTrait>(
    conn: &C,
    session_id: SessionId,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let result = sessions::Entity::update_many()
        .col_expr(sessions::Column::RevokedAt, Expr::value(now))
        .col_expr(sessions::Column::RevokedReason, Expr::value(reason))
        .filter(sessions::Column::Id.eq(session_id.0))
        .filter(sessions::Column::RevokedAt.is_null())
        .exec(conn)
        .await
        .context("failed to revoke session")?;
    Ok(result.rows_affected == 1)
}

impl Store {
    /// Opens a session and stores its first refresh token, in one transaction.
    pub async fn create_session(&self, new: NewSession, now: DateTime<Utc>) -> Result<Session, StoreError> {
        let txn = self.write.begin().await.context("failed to begin transaction")?;
        let session = insert_session_in(&txn, new, now).await?;
        txn.commit().await.context("failed to commit new session")?;
        Ok(session)
    }

    /// Exchanges a refresh token for a new one. A token that was already used revokes the
    /// whole session (reuse detection); the exchange and the revocation are each atomic,
    /// and two concurrent exchanges of the same token cannot both succeed.
    pub async fn rotate_refresh_token(
        &self,
        presented_hash: &str,
        new_hash: String,
        new_expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<RefreshOutcome, StoreError> {
        let txn = self.write.begin().await.context("failed to begin transaction")?;
        let Some(token) = refresh_tokens::Entity::find()
            .filter(refresh_tokens::Column::TokenHash.eq(presented_hash))
            .one(&txn)
            .await
            .context("failed to look up refresh token")?
        else {
            return Ok(RefreshOutcome::Invalid);
        };
        let Some(session) = sessions::Entity::find_by_id(token.session_id)
            .one(&txn)
            .await
            .context("failed to look up session")?
        else {
            return Ok(RefreshOutcome::Invalid);
        };
        let session = session_from_row(session);
        if !session.is_active(now) {
            return Ok(RefreshOutcome::Invalid);
        }
        // Mark the token used only if nobody else did first.
        let claimed = refresh_tokens::Entity::update_many()
            .col_expr(refresh_tokens::Column::UsedAt, Expr::value(now))
            .filter(refresh_tokens::Column::Id.eq(token.id))
            .filter(refresh_tokens::Column::UsedAt.is_null())
            .exec(&txn)
            .await
            .context("failed to mark refresh token used")?
            .rows_affected
            == 1;
        if !claimed {
            revoke_session_in(&txn, session.id, "refreshReuse", now).await?;
            txn.commit().await.context("failed to commit session revocation")?;
            return Ok(RefreshOutcome::Reused { session_id: session.id, user_id: session.user_id });
        }
        if token.expires_at <= now {
            return Ok(RefreshOutcome::Invalid);
        }
        refresh_tokens::ActiveModel {
            id: Set(Uuid::now_v7()),
            session_id: Set(session.id.0),
            token_hash: Set(new_hash),
            created_at: Set(now),
            expires_at: Set(new_expires_at.min(session.expires_at)),
            used_at: Set(None),
        }
        .insert(&txn)
        .await
        .context("failed to insert refresh token")?;
        let updated =
            sessions::ActiveModel { id: Set(session.id.0), last_used_at: Set(now), ..Default::default() }
                .update(&txn)
                .await
                .context("failed to touch session")?;
        let Some(user) =
            users::Entity::find_by_id(session.user_id.0).one(&txn).await.context("failed to look up user")?
        else {
            return Ok(RefreshOutcome::Invalid);
        };
        txn.commit().await.context("failed to commit refresh")?;
        Ok(RefreshOutcome::Rotated {
            session: Box::new(session_from_row(updated)),
            user: Box::new(user_from_row(user)?),
        })
    }

    /// A session together with its owner, whatever its state.
    pub async fn session_with_user(
        &self,
        session_id: SessionId,
    ) -> Result<Option<(Session, User)>, StoreError> {
        let Some(session) = sessions::Entity::find_by_id(session_id.0)
            .one(&self.read)
            .await
            .context("failed to look up session")?
        else {
            return Ok(None);
        };
        let Some(user) = users::Entity::find_by_id(session.user_id)
            .one(&self.read)
            .await
            .context("failed to look up user")?
        else {
            return Ok(None);
        };
        Ok(Some((session_from_row(session), user_from_row(user)?)))
    }

    /// The user's sessions that are still active at `now`, newest first.
    pub async fn active_sessions(
        &self,
        user_id: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>, StoreError> {
        Ok(sessions::Entity::find()
            .filter(sessions::Column::UserId.eq(user_id.0))
            .filter(sessions::Column::RevokedAt.is_null())
            .filter(sessions::Column::ExpiresAt.gt(now))
            .order_by_desc(sessions::Column::CreatedAt)
            .all(&self.read)
            .await
            .context("failed to list sessions")?
            .into_iter()
            .map(session_from_row)
            .collect())
    }

    /// Ends one session of `user_id`. Returns false when no such active session of that
    /// user exists (so another user's session id is indistinguishable from an unknown one).
    pub async fn revoke_session(
        &self,
        user_id: UserId,
        session_id: SessionId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = sessions::Entity::update_many()
            .col_expr(sessions::Column::RevokedAt, Expr::value(now))
            .col_expr(sessions::Column::RevokedReason, Expr::value(reason))
            .filter(sessions::Column::Id.eq(session_id.0))
            .filter(sessions::Column::UserId.eq(user_id.0))
            .filter(sessions::Column::RevokedAt.is_null())
            .exec(&self.write)
            .await
            .context("failed to revoke session")?;
        Ok(result.rows_affected == 1)
    }

    /// Stores a single-use stream ticket for a session.
    pub async fn create_stream_ticket(
        &self,
        session_id: SessionId,
        ticket_hash: String,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        stream_tickets::ActiveModel {
            id: Set(Uuid::now_v7()),
            session_id: Set(session_id.0),
            ticket_hash: Set(ticket_hash),
            expires_at: Set(expires_at),
        }
        .insert(&self.write)
        .await
        .context("failed to insert stream ticket")?;
        Ok(())
    }

    /// Consumes a stream ticket: returns its session if the ticket existed and had not
    /// expired. A ticket works once, on any instance.
    pub async fn consume_stream_ticket(
        &self,
        ticket_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SessionId>, StoreError> {
        let txn = self.write.begin().await.context("failed to begin transaction")?;
        let Some(ticket) = stream_tickets::Entity::find()
            .filter(stream_tickets::Column::TicketHash.eq(ticket_hash))
            .one(&txn)
            .await
            .context("failed to look up stream ticket")?
        else {
            return Ok(None);
        };
        let deleted = stream_tickets::Entity::delete_by_id(ticket.id)
            .exec(&txn)
            .await
            .context("failed to consume stream ticket")?
            .rows_affected
            == 1;
        txn.commit().await.context("failed to commit stream ticket")?;
        Ok((deleted && ticket.expires_at > now).then_some(SessionId(ticket.session_id)))
    }

    /// Deletes expired tickets, spent or expired refresh tokens, and sessions that ended
    /// more than `keep_ended` ago. Returns the number of rows removed.
    pub async fn purge_expired_auth(
        &self,
        now: DateTime<Utc>,
        keep_ended: chrono::Duration,
    ) -> Result<u64, StoreError> {
        let txn = self.write.begin().await.context("failed to begin transaction")?;
        let mut removed = stream_tickets::Entity::delete_many()
            .filter(stream_tickets::Column::ExpiresAt.lte(now))
            .exec(&txn)
            .await
            .context("failed to purge stream tickets")?
            .rows_affected;
        let cutoff = now - keep_ended;
        // Used tokens are kept while their session lives: they are what reuse detection
        // recognises. They go with their session (cascade) below.
        removed += refresh_tokens::Entity::delete_many()
            .filter(refresh_tokens::Column::ExpiresAt.lte(cutoff))
            .filter(refresh_tokens::Column::UsedAt.is_null())
            .exec(&txn)
            .await
            .context("failed to purge refresh tokens")?
            .rows_affected;
        removed += sessions::Entity::delete_many()
            .filter(
                sea_orm::Condition::any()
                    .add(sessions::Column::ExpiresAt.lte(cutoff))
                    .add(sessions::Column::RevokedAt.lte(cutoff)),
            )
            .exec(&txn)
            .await
            .context("failed to purge sessions")?
            .rows_affected;
        txn.commit().await.context("failed to commit purge")?;
        Ok(removed)
    }
}
