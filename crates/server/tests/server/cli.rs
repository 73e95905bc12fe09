//! `weft migrate`, `weft admin create-user`, and settings errors.

use serde_json::json;

use crate::helpers::*;

#[test]
fn migrate_up_status_down() {
    let dir = tempfile::tempdir().unwrap();
    let status = run(weft(dir.path()).args(["migrate", "status"]), None);
    assert!(status.status.success(), "{status:?}");
    assert!(String::from_utf8_lossy(&status.stdout).contains("pending m20261122_000001_auth"));
    assert!(run(weft(dir.path()).args(["migrate", "up"]), None).status.success());
    let status = run(weft(dir.path()).args(["migrate", "status"]), None);
    assert!(String::from_utf8_lossy(&status.stdout).contains("applied m20261122_000001_auth"));
    assert!(dir.path().join("weft.db").exists(), "the SQLite file lives in the data directory");
    assert!(String::from_utf8_lossy(&status.stdout).contains("applied m20261207_000009_presence_key"));
    // Down rolls back the latest migration only, by default.
    assert!(run(weft(dir.path()).args(["migrate", "down"]), None).status.success());
    let status = run(weft(dir.path()).args(["migrate", "status"]), None);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains("applied m20261202_000008_schedules")
            && text.contains("pending m20261207_000009_presence_key"),
        "{text}"
    );
    assert!(run(weft(dir.path()).args(["migrate", "down", "--steps", "10"]), None).status.success());
    let status = run(weft(dir.path()).args(["migrate", "status"]), None);
    assert!(String::from_utf8_lossy(&status.stdout).contains("pending m20261122_000001_auth"));
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_create_user_makes_an_admin_who_can_log_in() {
    let dir = tempfile::tempdir().unwrap();
    let weak = run(
        weft(dir.path()).args(["admin", "create-user", "--email", "root@example.com", "--password-stdin"]),
        Some("password\n"),
    );
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("password"), "{weak:?}");

    let made = run(
        weft(dir.path()).args([
            "admin",
            "create-user",
            "--email",
            "Root@Example.com",
            "--display-name",
            "Root",
            "--password-stdin",
        ]),
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(made.status.success(), "{made:?}");
    assert!(String::from_utf8_lossy(&made.stdout).contains("created ADMIN root@example.com"));
    let again = run(
        weft(dir.path())
            .args(["admin", "create-user", "--email", "root@example.com"])
            .env("WEFT_ADMIN_PASSWORD", PASSWORD),
        None,
    );
    assert!(!again.status.success(), "the e-mail is taken");

    let server = Server::start(weft(dir.path()));
    let login =
        server.rpc("auth.login", json!({"email": "root@example.com", "password": PASSWORD}), None).await;
    assert_eq!(login["result"]["user"]["role"], "ADMIN", "{login}");
}

#[test]
fn bad_settings_stop_start_up_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(weft(dir.path()).arg("serve").env("WEFT_ACCESS_TOKEN_TTL", "soon"), None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("WEFT_"), "{out:?}");

    let out = run(
        weft(dir.path()).arg("serve").env("WEFT_ENV", "production").env("WEFT_ADDR", "127.0.0.1:0"),
        None,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("WEFT_JWT_SECRET"), "{out:?}");
}
