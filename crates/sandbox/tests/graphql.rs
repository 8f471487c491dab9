//! `POST /graphql` runs the one mutation paved needs, `pinIssue`, as GitHub
//! does: by node id, for writers, at most three pinned issues a repository,
//! firing `issues` `pinned`; anything else is answered with `errors`.

mod support;

use paved_sandbox::{Permission, SandboxConfig};
use reqwest::Method;
use serde_json::{Value, json};
use support::world;

const PIN: &str =
    "mutation($issueId: ID!) { pinIssue(input: {issueId: $issueId}) { issue { number } } }";

fn pin(node_id: &Value) -> Option<Value> {
    Some(json!({"query": PIN, "variables": {"issueId": node_id}}))
}

#[tokio::test]
async fn writers_pin_up_to_three_issues_by_node_id() {
    let w = world(SandboxConfig::default()).await;
    let admin = w.sb.create_user("admin");
    w.sb.set_org_role("admin", "acme", Permission::Admin);
    let reader = w.sb.create_user("reader");
    w.sb.grant("reader", "acme/catalog", Permission::Read);
    let mut issues = Vec::new();
    for n in 0..4 {
        let made = admin
            .call(
                Method::POST,
                "/repos/acme/catalog/issues",
                Some(json!({"title": format!("issue {n}")})),
            )
            .await
            .unwrap();
        issues.push(made);
    }

    // A reader may not pin; nothing changes.
    let refused = reader
        .call(Method::POST, "/graphql", pin(&issues[0]["node_id"]))
        .await
        .unwrap();
    assert!(refused["errors"][0]["message"].is_string(), "{refused}");
    assert!(!w.sb.issue("acme/catalog", 1).unwrap().pinned);

    // A writer pins, once: pinning again changes nothing and fires nothing.
    for _ in 0..2 {
        let pinned = admin
            .call(Method::POST, "/graphql", pin(&issues[0]["node_id"]))
            .await
            .unwrap();
        assert_eq!(pinned["data"]["pinIssue"]["issue"]["number"], 1, "{pinned}");
    }
    assert!(w.sb.issue("acme/catalog", 1).unwrap().pinned);
    let event = w.hooks.wait_for("issues", Some("pinned")).await;
    assert_eq!(event.payload["issue"]["number"], 1);
    assert!(w.sb.settle(std::time::Duration::from_secs(5)).await);
    let pins = w
        .hooks
        .events()
        .iter()
        .filter(|e| *e == "issues.pinned")
        .count();
    assert_eq!(pins, 1, "{:?}", w.hooks.events());

    // Three at most.
    for issue in &issues[1..3] {
        let pinned = admin
            .call(Method::POST, "/graphql", pin(&issue["node_id"]))
            .await
            .unwrap();
        assert!(pinned["data"].is_object(), "{pinned}");
    }
    let fourth = admin
        .call(Method::POST, "/graphql", pin(&issues[3]["node_id"]))
        .await
        .unwrap();
    assert_eq!(
        fourth["errors"][0]["message"], "Repository already has 3 pinned issues",
        "{fourth}"
    );
    assert!(!w.sb.issue("acme/catalog", 4).unwrap().pinned);

    // An unknown node, and any other query, are errors.
    let unknown = admin
        .call(Method::POST, "/graphql", pin(&json!("I_nope")))
        .await
        .unwrap();
    assert!(
        unknown["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("I_nope")
    );
    let other = admin
        .call(
            Method::POST,
            "/graphql",
            Some(json!({"query": "{ viewer { login } }"})),
        )
        .await
        .unwrap();
    assert!(
        other["errors"].is_array() && other.get("data").is_none(),
        "{other}"
    );
}
