//! The security audit log.

use chrono::{DateTime, Utc};
use serde_json::json;
use weft_core::UserId;
use weft_store::{AuditEntry, AuditKey, AuditKind, Store};

use crate::helpers::{both, create_user, hours, minutes, now};

fn entry(kind: AuditKind, user_id: Option<UserId>, subject: &str, ip: &str) -> AuditEntry {
    AuditEntry {
        kind,
        user_id,
        subject: Some(subject.to_owned()),
        ip_address: Some(ip.to_owned()),
        detail: json!({}),
    }
}

async fn record(store: &Store, entry: AuditEntry, at: DateTime<Utc>) {
    store.record_audit(entry, at).await.expect("failed to record audit entry");
}

both!(counts_by_subject_honour_kind_and_cutoff, |store| async move {
    let at = now();
    let failed = |subject| entry(AuditKind::LoginFailed, None, subject, "198.51.100.1");
    record(&store, failed("a@example.test"), at - minutes(30)).await;
    record(&store, failed("a@example.test"), at - minutes(10)).await;
    record(&store, failed("a@example.test"), at - minutes(5)).await;
    record(&store, failed("b@example.test"), at - minutes(5)).await;
    record(&store, entry(AuditKind::LoginSucceeded, None, "a@example.test", "198.51.100.1"), at).await;

    let count =
        |since| store.count_audit_since(AuditKind::LoginFailed, AuditKey::Subject("a@example.test"), since);
    assert_eq!(count(at - hours(1)).await.unwrap(), 3);
    assert_eq!(count(at - minutes(15)).await.unwrap(), 2);
    assert_eq!(count(at - minutes(5)).await.unwrap(), 0, "the cutoff itself is not after the cutoff");
    assert_eq!(count(at).await.unwrap(), 0);

    let succeeded = store
        .count_audit_since(AuditKind::LoginSucceeded, AuditKey::Subject("a@example.test"), at - hours(1))
        .await
        .unwrap();
    assert_eq!(succeeded, 1);
    let unknown = store
        .count_audit_since(AuditKind::LoginFailed, AuditKey::Subject("c@example.test"), at - hours(1))
        .await
        .unwrap();
    assert_eq!(unknown, 0);
});

both!(counts_by_ip_address_honour_kind_and_cutoff, |store| async move {
    let at = now();
    let from = |ip, subject| entry(AuditKind::LoginFailed, None, subject, ip);
    record(&store, from("203.0.113.7", "a@example.test"), at - hours(2)).await;
    record(&store, from("203.0.113.7", "b@example.test"), at - minutes(20)).await;
    record(&store, from("203.0.113.7", "c@example.test"), at - minutes(1)).await;
    record(&store, from("203.0.113.8", "a@example.test"), at - minutes(1)).await;
    record(&store, entry(AuditKind::LoginThrottled, None, "a@example.test", "203.0.113.7"), at).await;

    let count = |ip, since| store.count_audit_since(AuditKind::LoginFailed, AuditKey::IpAddress(ip), since);
    assert_eq!(count("203.0.113.7", at - hours(3)).await.unwrap(), 3);
    assert_eq!(count("203.0.113.7", at - hours(1)).await.unwrap(), 2);
    assert_eq!(count("203.0.113.7", at - minutes(2)).await.unwrap(), 1);
    assert_eq!(count("203.0.113.8", at - hours(1)).await.unwrap(), 1);
    assert_eq!(count("192.0.2.99", at - hours(3)).await.unwrap(), 0);
});

both!(audit_for_user_lists_their_entries_newest_first, |store| async move {
    let user = create_user(&store, "audited@example.test").await;
    let other = create_user(&store, "other@example.test").await;
    let at = now();
    let kinds = [AuditKind::Registered, AuditKind::LoginSucceeded, AuditKind::PasswordChanged];
    for (i, kind) in (0..).zip(kinds) {
        let mut e = entry(kind, Some(user.id), "audited@example.test", "192.0.2.1");
        e.detail = json!({ "step": i, "nested": { "ok": true } });
        record(&store, e, at - minutes(30 - i)).await;
    }
    record(&store, entry(AuditKind::Logout, Some(other.id), "other@example.test", "192.0.2.2"), at).await;
    record(&store, entry(AuditKind::LoginFailed, None, "audited@example.test", "192.0.2.1"), at).await;

    let entries = store.audit_for_user(user.id, 10).await.unwrap();
    let kinds: Vec<_> = entries.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["password.changed", "login.succeeded", "registered"]);
    let newest = &entries[0];
    assert_eq!(newest.user_id, Some(user.id));
    assert_eq!(newest.subject.as_deref(), Some("audited@example.test"));
    assert_eq!(newest.ip_address.as_deref(), Some("192.0.2.1"));
    assert_eq!(newest.detail, json!({ "step": 2, "nested": { "ok": true } }));
    assert_eq!(newest.created_at, at - minutes(28));
    assert!(entries.windows(2).all(|w| w[0].created_at > w[1].created_at));

    let limited = store.audit_for_user(user.id, 2).await.unwrap();
    let kinds: Vec<_> = limited.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["password.changed", "login.succeeded"]);
    assert!(store.audit_for_user(UserId::new(), 10).await.unwrap().is_empty());
});

both!(audit_for_user_orders_by_time_not_by_insertion, |store| async move {
    let user = create_user(&store, "late@example.test").await;
    let at = now();
    // Recorded in this order, but the second happened first (e.g. written late by another instance).
    record(&store, entry(AuditKind::LoginSucceeded, Some(user.id), "late@example.test", "192.0.2.1"), at)
        .await;
    record(
        &store,
        entry(AuditKind::Registered, Some(user.id), "late@example.test", "192.0.2.1"),
        at - hours(1),
    )
    .await;
    let kinds: Vec<_> =
        store.audit_for_user(user.id, 10).await.unwrap().into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, ["login.succeeded", "registered"]);
});
