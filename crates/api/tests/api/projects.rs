//! The project router: lifecycle, pagination, members, invitations, and the access matrix.

use serde_json::{Value, json};

use crate::helpers::*;

async fn project(app: &TestApp, token: &str, name: &str) -> String {
    let created: Value = app.call("project.create", json!({"name": name}), Some(token)).await.unwrap();
    created["id"].as_str().unwrap().to_owned()
}

both!(lifecycle_pagination_and_search, |app| {
    let ada = app.register(&email("ada")).await;
    let token = Some(ada.access_token.as_str());
    let mut ids = Vec::new();
    for name in ["Alpha", "Beta", "Gamma 100%", "Delta", "Epsilon"] {
        ids.push(project(&app, &ada.access_token, name).await);
    }
    let got: Value = app.call("project.get", json!({"projectId": ids[0]}), token).await.unwrap();
    assert_eq!((got["name"].as_str().unwrap(), got["myRole"].as_str().unwrap()), ("Alpha", "OWNER"));

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut params = json!({"limit": 2});
        if let Some(c) = &cursor {
            params["cursor"] = json!(c);
        }
        let page: Value = app.call("project.list", params, token).await.unwrap();
        seen.extend(page["items"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_owned()));
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ["Epsilon", "Delta", "Gamma 100%", "Beta", "Alpha"], "newest first, each once");

    let found: Value = app.call("project.list", json!({"search": "ALP"}), token).await.unwrap();
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    let literal: Value = app.call("project.list", json!({"search": "0%"}), token).await.unwrap();
    assert_eq!(literal["items"][0]["name"], "Gamma 100%");
    let none: Value = app.call("project.list", json!({"search": "%"}), token).await.unwrap();
    assert_eq!(none["items"].as_array().unwrap().len(), 1, "% matches literally");

    let updated: Value = app
        .call("project.update", json!({"projectId": ids[1], "name": "  Beta 2 ", "description": "d"}), token)
        .await
        .unwrap();
    assert_eq!(
        (updated["name"].as_str().unwrap(), updated["description"].as_str().unwrap()),
        ("Beta 2", "d")
    );

    let archived: Value = app.call("project.archive", json!({"projectId": ids[2]}), token).await.unwrap();
    assert!(archived["archivedAt"].is_string());
    let active: Value = app.call("project.list", json!({}), token).await.unwrap();
    assert_eq!(active["items"].as_array().unwrap().len(), 4);
    let all: Value = app.call("project.list", json!({"includeArchived": true}), token).await.unwrap();
    assert_eq!(all["items"].as_array().unwrap().len(), 5);
    let restored: Value = app.call("project.restore", json!({"projectId": ids[2]}), token).await.unwrap();
    assert!(restored["archivedAt"].is_null());

    let deleted: Value = app.call("project.delete", json!({"projectId": ids[3]}), token).await.unwrap();
    assert_eq!(deleted["projectId"], ids[3].as_str());
    expect_error(
        app.call::<Value>("project.get", json!({"projectId": ids[3]}), token).await,
        -32004,
        "notFound",
    );
});

both!(bad_input_is_refused_with_paths, |app| {
    let ada = app.register(&email("ada")).await;
    let token = Some(ada.access_token.as_str());
    let data = expect_error(
        app.call::<Value>("project.create", json!({"name": "   "}), token).await,
        -32022,
        "validation",
    );
    assert_eq!(data["fields"][0]["path"], "name");
    let long = "x".repeat(201);
    let data = expect_error(
        app.call::<Value>("project.create", json!({"name": long}), token).await,
        -32022,
        "validation",
    );
    assert_eq!(data["fields"][0]["code"], "tooLong");
    let data = expect_error(
        app.call::<Value>("project.list", json!({"cursor": "nope"}), token).await,
        -32022,
        "validation",
    );
    assert_eq!(data["fields"][0]["path"], "cursor");
    let data = expect_error(
        app.call::<Value>("project.list", json!({"limit": 0}), token).await,
        -32022,
        "validation",
    );
    assert_eq!(data["fields"][0]["path"], "limit");
    let data = expect_error(
        app.call::<Value>("project.get", json!({"projectId": "x"}), token).await,
        -32602,
        "invalidParams",
    );
    assert_eq!(data["fields"][0]["path"], "projectId");
    let data = expect_error(
        app.call::<Value>("project.create", json!({"name": "a", "owner": "me"}), token).await,
        -32602,
        "invalidParams",
    );
    assert_eq!(data["fields"][0]["code"], "unknownField");
    let page: Value = app.call("project.list", json!({}), token).await.unwrap();
    assert!(page["items"].as_array().unwrap().is_empty(), "refused calls wrote nothing");
});

both!(invitations_roles_and_ownership, |app| {
    let owner = app.register(&email("owner")).await;
    let bob = app.register(&email("bob")).await;
    let carol = app.register(&email("carol")).await;
    let id = project(&app, &owner.access_token, "Team").await;
    let owner_token = Some(owner.access_token.as_str());

    let invitation: Value = app
        .call("project.invite", json!({"projectId": id, "email": bob.user["email"].as_str().unwrap().to_uppercase(), "role": "EDITOR"}), owner_token)
        .await
        .unwrap();
    let again = app
        .call::<Value>(
            "project.invite",
            json!({"projectId": id, "email": bob.user["email"], "role": "VIEWER"}),
            owner_token,
        )
        .await;
    expect_error(again, -32009, "conflict");
    let as_owner = app
        .call::<Value>(
            "project.invite",
            json!({"projectId": id, "email": email("x"), "role": "OWNER"}),
            owner_token,
        )
        .await;
    assert_eq!(expect_error(as_owner, -32022, "validation")["fields"][0]["path"], "role");
    let pending: Value =
        app.call("project.invitations", json!({"projectId": id}), owner_token).await.unwrap();
    assert_eq!(pending["items"].as_array().unwrap().len(), 1);

    // Only the addressee can answer; to anyone else the invitation does not exist.
    let stolen = app
        .call::<Value>(
            "project.acceptInvitation",
            json!({"invitationId": invitation["id"]}),
            Some(&carol.access_token),
        )
        .await;
    assert_eq!(expect_error(stolen, -32004, "notFound")["resource"], "invitation");
    let mine: Value = app.call("project.myInvitations", json!({}), Some(&bob.access_token)).await.unwrap();
    assert_eq!(mine["items"][0]["projectName"], "Team");
    let joined: Value = app
        .call("project.acceptInvitation", json!({"invitationId": invitation["id"]}), Some(&bob.access_token))
        .await
        .unwrap();
    assert_eq!(joined["myRole"], "EDITOR");
    let twice = app
        .call::<Value>(
            "project.acceptInvitation",
            json!({"invitationId": invitation["id"]}),
            Some(&bob.access_token),
        )
        .await;
    expect_error(twice, -32004, "notFound");
    let member_again = app
        .call::<Value>(
            "project.invite",
            json!({"projectId": id, "email": bob.user["email"], "role": "VIEWER"}),
            owner_token,
        )
        .await;
    expect_error(member_again, -32009, "conflict");

    // Carol declines, then is invited again and joins as a viewer.
    let inv: Value = app
        .call(
            "project.invite",
            json!({"projectId": id, "email": carol.user["email"], "role": "VIEWER"}),
            owner_token,
        )
        .await
        .unwrap();
    app.call::<Value>(
        "project.declineInvitation",
        json!({"invitationId": inv["id"]}),
        Some(&carol.access_token),
    )
    .await
    .unwrap();
    add_member(&app, &owner, &id, &carol, "VIEWER").await;

    // Role rules.
    let viewer_edit = app
        .call::<Value>("project.update", json!({"projectId": id, "name": "x"}), Some(&carol.access_token))
        .await;
    assert_eq!(expect_error(viewer_edit, -32003, "forbidden")["requiredProjectRole"], "EDITOR");
    let editor_invite = app
        .call::<Value>(
            "project.invite",
            json!({"projectId": id, "email": email("y"), "role": "VIEWER"}),
            Some(&bob.access_token),
        )
        .await;
    assert_eq!(expect_error(editor_invite, -32003, "forbidden")["requiredProjectRole"], "OWNER");
    assert!(
        app.call::<Value>(
            "project.update",
            json!({"projectId": id, "description": "by bob"}),
            Some(&bob.access_token)
        )
        .await
        .is_ok()
    );

    let owner_id = owner.user["id"].as_str().unwrap();
    let remove_owner = app
        .call::<Value>("project.removeMember", json!({"projectId": id, "userId": owner_id}), owner_token)
        .await;
    expect_error(remove_owner, -32009, "conflict");
    let owner_leaves = app.call::<Value>("project.leave", json!({"projectId": id}), owner_token).await;
    expect_error(owner_leaves, -32009, "conflict");
    let make_owner = app
        .call::<Value>(
            "project.setMemberRole",
            json!({"projectId": id, "userId": bob.user["id"], "role": "OWNER"}),
            owner_token,
        )
        .await;
    expect_error(make_owner, -32022, "validation");
    let list: Value = app
        .call(
            "project.setMemberRole",
            json!({"projectId": id, "userId": carol.user["id"], "role": "EDITOR"}),
            owner_token,
        )
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 3);

    let members: Value = app
        .call("project.transferOwnership", json!({"projectId": id, "userId": bob.user["id"]}), owner_token)
        .await
        .unwrap();
    let owners: Vec<&Value> =
        members["items"].as_array().unwrap().iter().filter(|m| m["role"] == "OWNER").collect();
    assert_eq!(owners.len(), 1, "exactly one owner");
    assert_eq!(owners[0]["userId"], bob.user["id"]);
    assert_eq!(members["items"][0]["role"], "OWNER", "owner listed first");
    let former: Value = app.call("project.get", json!({"projectId": id}), owner_token).await.unwrap();
    assert_eq!(former["myRole"], "EDITOR");

    // The former owner may now leave; a removed member loses access.
    app.call::<Value>("project.leave", json!({"projectId": id}), owner_token).await.unwrap();
    expect_error(
        app.call::<Value>("project.get", json!({"projectId": id}), owner_token).await,
        -32004,
        "notFound",
    );
    app.call::<Value>(
        "project.removeMember",
        json!({"projectId": id, "userId": carol.user["id"]}),
        Some(&bob.access_token),
    )
    .await
    .unwrap();
    expect_error(
        app.call::<Value>("project.get", json!({"projectId": id}), Some(&carol.access_token)).await,
        -32004,
        "notFound",
    );
});

both!(expired_invitations_cannot_be_accepted, |app| {
    let owner = app.register(&email("owner")).await;
    let late = app.register(&email("late")).await;
    let id = project(&app, &owner.access_token, "P").await;
    let new = weft_store::NewInvitation {
        project_id: id.parse().unwrap(),
        email: late.user["email"].as_str().unwrap().to_owned(),
        role: weft_core::ProjectRole::Viewer,
        invited_by: owner.user["id"].as_str().unwrap().parse().unwrap(),
        expires_at: chrono::Utc::now() - chrono::Duration::minutes(1),
    };
    let invitation = app
        .state
        .store()
        .create_invitation(new, chrono::Utc::now() - chrono::Duration::days(8))
        .await
        .unwrap()
        .unwrap();
    let mine: Value = app.call("project.myInvitations", json!({}), Some(&late.access_token)).await.unwrap();
    assert!(mine["items"].as_array().unwrap().is_empty());
    let accept = app
        .call::<Value>(
            "project.acceptInvitation",
            json!({"invitationId": invitation.id}),
            Some(&late.access_token),
        )
        .await;
    expect_error(accept, -32004, "notFound");
    // An expired invitation does not block a new one.
    assert!(
        app.call::<Value>(
            "project.invite",
            json!({"projectId": id, "email": late.user["email"], "role": "VIEWER"}),
            Some(&owner.access_token)
        )
        .await
        .is_ok()
    );
});

both!(strangers_get_not_found_for_every_project_id, |app| {
    let owner = app.register(&email("owner")).await;
    let stranger = app.register(&email("stranger")).await;
    let id = project(&app, &owner.access_token, "Secret").await;
    let invitation: Value = app
        .call(
            "project.invite",
            json!({"projectId": id, "email": email("z"), "role": "VIEWER"}),
            Some(&owner.access_token),
        )
        .await
        .unwrap();
    let owner_id = owner.user["id"].clone();
    let calls: Vec<(&str, Value)> = vec![
        ("project.get", json!({"projectId": id})),
        ("project.update", json!({"projectId": id, "name": "x"})),
        ("project.archive", json!({"projectId": id})),
        ("project.restore", json!({"projectId": id})),
        ("project.delete", json!({"projectId": id})),
        ("project.members", json!({"projectId": id})),
        ("project.invite", json!({"projectId": id, "email": email("q"), "role": "VIEWER"})),
        ("project.invitations", json!({"projectId": id})),
        ("project.revokeInvitation", json!({"projectId": id, "invitationId": invitation["id"]})),
        ("project.setMemberRole", json!({"projectId": id, "userId": owner_id, "role": "VIEWER"})),
        ("project.removeMember", json!({"projectId": id, "userId": owner_id})),
        ("project.leave", json!({"projectId": id})),
        ("project.transferOwnership", json!({"projectId": id, "userId": stranger.user["id"]})),
    ];
    let unknown = uuid::Uuid::now_v7().to_string();
    for (method, params) in calls {
        let data = expect_error(
            app.call::<Value>(method, params.clone(), Some(&stranger.access_token)).await,
            -32004,
            "notFound",
        );
        assert_eq!(data["resource"], "project", "{method}");
        // An id that exists nowhere answers exactly the same.
        let mut missing = params;
        missing["projectId"] = json!(unknown);
        let same = expect_error(
            app.call::<Value>(method, missing, Some(&stranger.access_token)).await,
            -32004,
            "notFound",
        );
        assert_eq!(data, same, "{method}");
    }
    let list: Value = app.call("project.list", json!({}), Some(&stranger.access_token)).await.unwrap();
    assert!(list["items"].as_array().unwrap().is_empty());
    // Nothing changed for the owner.
    let members: Value =
        app.call("project.members", json!({"projectId": id}), Some(&owner.access_token)).await.unwrap();
    assert_eq!(members["items"].as_array().unwrap().len(), 1);
    let pending: Value =
        app.call("project.invitations", json!({"projectId": id}), Some(&owner.access_token)).await.unwrap();
    assert_eq!(pending["items"].as_array().unwrap().len(), 1);
});

both!(guests_cannot_create_projects, |app| {
    let admin = app.admin(&email("admin")).await;
    let guest_address = email("guest");
    let guest = app.register(&guest_address).await;
    app.call::<Value>(
        "auth.setRole",
        json!({"userId": guest.user["id"], "role": "GUEST"}),
        Some(&admin.access_token),
    )
    .await
    .unwrap();
    let guest = app.login(&guest_address, PASSWORD).await.unwrap();
    let refused = app.call::<Value>("project.create", json!({"name": "g"}), Some(&guest.access_token)).await;
    assert_eq!(expect_error(refused, -32003, "forbidden")["requiredRole"], "USER");
});
