//! `paved setup` against the sandbox, with the test playing the browser:
//! the page, the post to GitHub, the redirect back, the env file.

mod common;

use common::TempDir;
use paved_app::config::{Config, Source};
use paved_app::setup::{SetupOptions, start};
use paved_sandbox::{Sandbox, SandboxConfig};

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The value of `name="<field>" value="..."` on the page, HTML-unescaped.
fn field(page: &str, name: &str) -> String {
    let at = page.find(&format!("name=\"{name}\" value=\"")).unwrap() + name.len() + 15;
    let raw = &page[at..at + page[at..].find('"').unwrap()];
    raw.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// `application/x-www-form-urlencoded`, as a browser sends a form.
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn options(sb: &Sandbox, env_file: std::path::PathBuf) -> SetupOptions {
    SetupOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        env_file,
        org: Some("acme".into()),
        github_url: sb.url(),
        api_url: sb.url(),
        webhook_url: "https://paved.example.com/webhook".into(),
    }
}

#[tokio::test]
async fn the_manifest_flow_writes_a_working_env_file() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let dir = TempDir::new("setup");
    let env_file = dir.path().join("paved.env");
    let server = start(options(&sb, env_file.clone()).await).await.unwrap();
    let http = browser();

    let page = http
        .get(format!("http://{}/", server.addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("<button id=\"create\""), "{page}");
    let action = &page[page.find("action=\"").unwrap() + 8..];
    let action = action[..action.find('"').unwrap()].replace("&amp;", "&");
    assert!(
        action.starts_with(&format!(
            "{}/organizations/acme/settings/apps/new?state=",
            sb.url()
        )),
        "{action}"
    );
    let manifest: serde_json::Value = serde_json::from_str(&field(&page, "manifest")).unwrap();
    assert_eq!(manifest["default_permissions"]["administration"], "write");
    assert_eq!(
        manifest["redirect_url"],
        format!("http://{}/callback", server.addr)
    );
    let state = field(&page, "state");

    // The browser posts the form to GitHub, which sends it back with a code.
    let form = format!(
        "manifest={}&state={}",
        urlencode(&manifest.to_string()),
        urlencode(&state)
    );
    let back = http
        .post(&action)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), 302);
    let location = back.headers()["location"].to_str().unwrap().to_owned();
    let done = http.get(&location).send().await.unwrap();
    assert_eq!(done.status(), 200);
    assert!(done.text().await.unwrap().contains("paved is set up"));
    let created = server.finished().await.unwrap();
    assert_eq!(created.app_id, sb.app().id);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&env_file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // paved's own configuration loads from it.
    let source = Source::from_pairs([
        ("PAVED_CATALOG_REPO", "acme/catalog"),
        ("PAVED_PLATFORM_REPO", "acme/platform"),
    ])
    .with_env_file(&env_file)
    .unwrap();
    let config = Config::load(&source).unwrap();
    assert_eq!(config.app_id, sb.app().id);
    let secrets: Vec<&str> = config.webhook_secrets.iter().map(|s| s.expose()).collect();
    assert_eq!(secrets, [sb.app().webhook_secret.expose()]);
    assert_eq!(config.github_api_url, sb.url());
}

#[tokio::test]
async fn a_foreign_state_or_a_used_code_writes_nothing() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let dir = TempDir::new("setup-bad");
    let env_file = dir.path().join("paved.env");
    let server = start(options(&sb, env_file.clone()).await).await.unwrap();
    let code = sb.new_manifest_code();
    let bad = browser()
        .get(format!(
            "http://{}/callback?code={code}&state=forged",
            server.addr
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("did not issue"));
    assert!(server.finished().await.is_err());
    assert!(!env_file.exists());

    let server = start(options(&sb, env_file.clone()).await).await.unwrap();
    let page = browser()
        .get(format!("http://{}/", server.addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let state = field(&page, "state");
    let used = browser()
        .get(format!(
            "http://{}/callback?code={code}&state={state}",
            server.addr
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(used.status(), 200, "the first use of a code works");
    server.finished().await.unwrap();
    std::fs::remove_file(&env_file).unwrap();
    let server = start(options(&sb, env_file.clone()).await).await.unwrap();
    let page = browser()
        .get(format!("http://{}/", server.addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let state = field(&page, "state");
    let again = browser()
        .get(format!(
            "http://{}/callback?code={code}&state={state}",
            server.addr
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400);
    assert!(
        again
            .text()
            .await
            .unwrap()
            .contains("codes last an hour and work once")
    );
    assert!(server.finished().await.is_err());
    assert!(!env_file.exists());
}
