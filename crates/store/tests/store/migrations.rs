//! Applying and rolling back the schema.

use weft_core::Role;
use weft_store::StoreError;

use crate::helpers::{both, create_user, new_user, now};

both!(up_applies_every_migration, |store| async move {
    let status = store.migration_status().await.unwrap();
    assert!(!status.is_empty(), "the migrator knows no migration");
    assert!(status.iter().all(|m| m.applied), "not all applied: {status:?}");

    // Applying again is a no-op.
    store.migrate_up(None).await.unwrap();
    assert_eq!(store.migration_status().await.unwrap(), status);
});

both!(down_then_up_recreates_the_schema, |store| async move {
    create_user(&store, "before@example.test").await;
    let n_migrations = u32::try_from(store.migration_status().await.unwrap().len()).unwrap();

    store.migrate_down(Some(n_migrations)).await.unwrap();
    let status = store.migration_status().await.unwrap();
    assert!(status.iter().all(|m| !m.applied), "still applied after down: {status:?}");
    let err = store.create_user(new_user("during@example.test", Role::User), now()).await.unwrap_err();
    assert!(matches!(err, StoreError::Database { .. }), "users table survived the rollback: {err:?}");

    store.migrate_up(None).await.unwrap();
    assert!(store.migration_status().await.unwrap().iter().all(|m| m.applied));
    assert_eq!(
        store.find_user_by_email("before@example.test").await.unwrap(),
        None,
        "rows from before the rollback are back: the table was not dropped"
    );
    let after = create_user(&store, "after@example.test").await;
    assert_eq!(store.find_user(after.id).await.unwrap(), Some(after));
});

both!(down_without_steps_rolls_back_only_the_last, |store| async move {
    let before = store.migration_status().await.unwrap();
    store.migrate_down(None).await.unwrap();
    let after = store.migration_status().await.unwrap();

    let (last, earlier) = after.split_last().unwrap();
    assert_eq!(last.name, before.last().unwrap().name);
    assert!(!last.applied, "the last migration is still applied");
    assert!(earlier.iter().all(|m| m.applied), "an earlier migration was rolled back: {after:?}");

    store.migrate_up(None).await.unwrap();
    assert_eq!(store.migration_status().await.unwrap(), before);
});
