//! Weft's typed events and their delivery: the [`WeftEvent`] payloads, the in-process
//! [`EventBus`], the event log behind it ([`journal`]: ids, replay, cross-instance fan-out)
//! and the topics a stream follows ([`topic`]).

mod bus;
mod event;
pub mod journal;
pub mod topic;

pub use bus::{Audience, Envelope, EventBus};
pub use event::*;
pub use journal::{Journal, JournalOptions, JournaledBus};
pub use topic::{Topic, TopicSet};

#[cfg(test)]
mod tests {
    use super::*;
    use weft_core::{SessionId, UserId};

    #[tokio::test]
    async fn subscribers_receive_published_events_in_order() {
        let bus = EventBus::new(8);
        let mut rx = bus.subscribe();
        let user = UserId::new();
        let session = SessionId::new();
        bus.publish(Audience::User { user }, WeftEvent::SessionCreated { session_id: session });
        bus.publish(
            Audience::User { user },
            WeftEvent::SessionRevoked { session_id: session, reason: RevokeReason::Logout },
        );
        let first = rx.recv().await.unwrap();
        assert!(first.is_for_user(user));
        assert!(!first.is_for_user(UserId::new()));
        assert_eq!(first.event.type_name(), "session.created");
        assert_eq!(first.id, None);
        assert_eq!(rx.recv().await.unwrap().event.type_name(), "session.revoked");
    }

    #[test]
    fn events_serialise_with_a_type_tag_in_camel_case() {
        let session = SessionId::new();
        let json = serde_json::to_value(WeftEvent::SessionRevoked {
            session_id: session,
            reason: RevokeReason::RefreshReuse,
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type": "session.revoked", "sessionId": session.to_string(), "reason": "refreshReuse"})
        );
    }

    #[test]
    fn reasons_round_trip() {
        for reason in [RevokeReason::Logout, RevokeReason::RefreshReuse, RevokeReason::RoleChanged] {
            assert_eq!(RevokeReason::parse(reason.as_str()), Some(reason));
            assert_eq!(serde_json::to_value(reason).unwrap(), reason.as_str());
        }
    }
}
