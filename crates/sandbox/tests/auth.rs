//! App authentication: JWTs, installation tokens and their expiry, personal
//! tokens, the manifest conversion.

mod support;

use std::time::Duration;

use octocrab::models::{App, Installation, InstallationToken, Repository};
use paved_sandbox::SandboxConfig;
use support::{app_client, client, world};

#[tokio::test]
async fn the_app_authenticates_with_a_jwt_and_gets_installation_tokens() {
    let w = world(SandboxConfig::default()).await;
    let app = app_client(&w.sb);

    let me: App = app.get("/app", None::<&()>).await.unwrap();
    assert_eq!(me.id.0, w.sb.app().id);
    let found: Installation = app
        .get("/repos/acme/catalog/installation", None::<&()>)
        .await
        .unwrap();
    assert_eq!(found.id.0, w.installation);
    assert_eq!(found.account.login, "acme");

    let token: InstallationToken = app
        .post(
            format!("/app/installations/{}/access_tokens", w.installation),
            None::<&()>,
        )
        .await
        .unwrap();
    assert!(token.token.starts_with("ghs_"));
    let expires = token.expires_at.expect("tokens expire");
    let expires = chrono::DateTime::parse_from_rfc3339(&expires).unwrap();
    let ahead = expires.signed_duration_since(chrono::Utc::now());
    assert!(ahead > chrono::Duration::minutes(59) && ahead <= chrono::Duration::minutes(60));

    // octocrab's own installation flow (JWT → token → call) works unchanged.
    let installed = app.installation(w.installation.into()).unwrap();
    let repo: Repository = installed
        .get("/repos/acme/catalog", None::<&()>)
        .await
        .unwrap();
    assert_eq!(repo.full_name.as_deref(), Some("acme/catalog"));
    assert_eq!(
        w.sb.requests()
            .count("apps/create-installation-access-token"),
        2
    );
    let reachable: serde_json::Value = installed
        .get("/installation/repositories", None::<&()>)
        .await
        .unwrap();
    assert_eq!(reachable["total_count"], 1);
    assert_eq!(reachable["repositories"][0]["full_name"], "acme/catalog");

    // An installation token cannot call /app; a JWT cannot act on repositories.
    let with_token = client(&w.sb, &paved_sandbox::secret::Secret::new(token.token));
    let refused = with_token.get::<App, _, _>("/app", None::<&()>).await;
    assert!(refused.is_err());
}

#[tokio::test]
async fn expired_wrong_and_missing_credentials_are_refused_like_github() {
    let w = world(SandboxConfig {
        token_lifetime: Duration::from_secs(1),
        ..SandboxConfig::default()
    })
    .await;
    let http = reqwest::Client::new();
    let url = format!("{}/repos/acme/catalog/issues", w.sb.url());
    let token = w.sb.installation_token(w.installation);
    let create = |auth: String| {
        http.post(&url)
            .header("authorization", auth)
            .json(&serde_json::json!({"title": "t"}))
            .send()
    };
    let fresh = create(format!("token {}", token.expose())).await.unwrap();
    assert_eq!(fresh.status(), 201);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let expired = create(format!("token {}", token.expose())).await.unwrap();
    assert_eq!(expired.status(), 401);
    let body: serde_json::Value = expired.json().await.unwrap();
    assert_eq!(body["message"], "Bad credentials");
    assert!(body["documentation_url"].is_string());

    let wrong = create("Bearer ghs_nope".into()).await.unwrap();
    assert_eq!(wrong.status(), 401);
    let forged = create("Bearer aaa.bbb.ccc".into()).await.unwrap();
    assert_eq!(forged.status(), 401);
    // Anonymous callers may read a public repository but not write to it.
    let anonymous = http
        .post(&url)
        .json(&serde_json::json!({"title": "t"}))
        .send();
    assert_eq!(anonymous.await.unwrap().status(), 401);
    let read = http.get(&url).send().await.unwrap();
    assert_eq!(read.status(), 200);
}

#[tokio::test]
async fn a_jwt_signed_by_another_key_or_for_another_app_is_refused() {
    let w = world(SandboxConfig::default()).await;
    let other = world(SandboxConfig::default()).await;
    let key =
        jsonwebtoken::EncodingKey::from_rsa_pem(other.sb.app().private_key_pem.expose().as_bytes())
            .unwrap();
    let now = chrono::Utc::now().timestamp();
    let claims = serde_json::json!({"iat": now - 60, "exp": now + 300, "iss": w.sb.app().id});
    let jwt = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &key,
    )
    .unwrap();
    let response = reqwest::Client::new()
        .get(format!("{}/app", w.sb.url()))
        .bearer_auth(jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn manifest_codes_convert_once_into_the_apps_credentials() {
    let w = world(SandboxConfig::default()).await;
    let code = w.sb.new_manifest_code();
    let http = reqwest::Client::new();
    let url = format!("{}/app-manifests/{code}/conversions", w.sb.url());
    let response = http.post(&url).send().await.unwrap();
    assert_eq!(response.status(), 201);
    let body: serde_json::Value = response.json().await.unwrap();
    let app = w.sb.app();
    assert_eq!(body["id"], app.id);
    assert_eq!(body["pem"], app.private_key_pem.expose());
    assert_eq!(body["webhook_secret"], app.webhook_secret.expose());
    assert_eq!(http.post(&url).send().await.unwrap().status(), 404);

    // The browser side: the manifest form redirects back with a code and the state.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let manifest = serde_json::json!({"name": "paved", "url": "http://x", "redirect_url": "http://127.0.0.1:9/setup/done"});
    let form = format!(
        "manifest={}&state=a%20b",
        manifest
            .to_string()
            .replace('%', "%25")
            .replace('&', "%26")
            .replace('+', "%2B")
    );
    let response = no_redirects
        .post(format!(
            "{}/organizations/acme/settings/apps/new",
            w.sb.url()
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with("http://127.0.0.1:9/setup/done?code="),
        "{location}"
    );
    assert!(location.ends_with("&state=a%20b"), "{location}");
    let code = location
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let converted = http
        .post(format!("{}/app-manifests/{code}/conversions", w.sb.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(converted.status(), 201);
}

#[tokio::test]
async fn users_act_with_personal_tokens_and_have_permissions() {
    let w = world(SandboxConfig::default()).await;
    let alice = w.sb.create_user("alice");
    w.sb.set_org_role("alice", "acme", paved_sandbox::Permission::Admin);
    let bob = w.sb.create_user("bob");
    assert!(alice.token().expose().starts_with("ghp_"));
    assert!(!format!("{alice:?}").contains(alice.token().expose()));

    assert_eq!(w.sb.user("alice").unwrap().token(), alice.token());
    assert!(w.sb.user("nobody").is_none());
    let gh = client(&w.sb, alice.token());
    let user: octocrab::models::Author = gh.get("/user", None::<&()>).await.unwrap();
    assert_eq!(user.login, "alice");
    assert_eq!(user.r#type, "User");

    let permission = |login: &str| {
        let gh = gh.clone();
        let path = format!("/repos/acme/catalog/collaborators/{login}/permission");
        async move {
            gh.get::<serde_json::Value, _, _>(path, None::<&()>)
                .await
                .unwrap()
        }
    };
    let admin = permission("alice").await;
    assert_eq!(admin["permission"], "admin");
    assert_eq!(admin["role_name"], "admin");
    assert_eq!(admin["user"]["login"], "alice");
    assert_eq!(permission("bob").await["permission"], "read");
    w.sb.grant("bob", "acme/catalog", paved_sandbox::Permission::Write);
    assert_eq!(permission("bob").await["permission"], "write");

    // A user repository, then the same name again: 422 like GitHub.
    let bob_gh = client(&w.sb, bob.token());
    let body = serde_json::json!({"name": "dotfiles"});
    let repo: Repository = bob_gh.post("/user/repos", Some(&body)).await.unwrap();
    assert_eq!(repo.full_name.as_deref(), Some("bob/dotfiles"));
    let again = reqwest::Client::new()
        .post(format!("{}/user/repos", w.sb.url()))
        .bearer_auth(bob.token().expose())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 422);
    let error: serde_json::Value = again.json().await.unwrap();
    assert_eq!(
        error["errors"][0]["message"],
        "name already exists on this account"
    );
}

#[tokio::test]
async fn refused_credentials_still_carry_rate_limit_headers() {
    let w = world(SandboxConfig::default()).await;
    let response = reqwest::Client::new()
        .get(format!("{}/repos/acme/catalog", w.sb.url()))
        .bearer_auth("ghs_unknown")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("x-ratelimit-remaining"));
    assert!(response.headers().contains_key("x-ratelimit-reset"));
}
