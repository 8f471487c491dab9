//! Provisioning end to end: webhooks over HTTP from the sandbox to paved,
//! real git repositories, the Application in the platform repository, the
//! status back on the issue.

mod common;

use std::time::Duration;

use common::TempDir;
use paved::demo::{CATALOG, PLATFORM, Stage, StageOptions};

const LIMIT: Duration = Duration::from_secs(60);

async fn stage(work: &TempDir) -> Stage {
    Stage::start(StageOptions::shipped(work.path().to_owned()))
        .await
        .expect("stage")
}

fn paved_calls(stage: &Stage) -> Vec<String> {
    stage
        .sandbox
        .requests()
        .0
        .iter()
        .filter(|r| r.caller.starts_with("installation:") && !r.path.contains(".git/"))
        .map(|r| {
            format!(
                "{} {}",
                r.method,
                r.operation.clone().unwrap_or_else(|| r.path.clone())
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_issue_form_request_becomes_a_deployed_service() {
    let work = TempDir::new("e2e-issue");
    let stage = stage(&work).await;
    let number = stage
        .request(
            &stage.writer,
            "billing-api",
            "python-fastapi",
            "Bills customers.",
        )
        .await
        .unwrap();
    let labels = stage.settled(number, LIMIT).await.unwrap();
    assert!(
        labels.contains(&"paved:ready".to_owned()),
        "{labels:?}\n{:#?}",
        stage.sandbox.comments(CATALOG, number)
    );

    // The repository holds the rendered scaffold and paved's record.
    let sb = &stage.sandbox;
    let main_py = sb
        .file("acme/billing-api", "main", "app/main.py")
        .await
        .expect("scaffold pushed");
    assert!(!main_py.is_empty());
    let answers = String::from_utf8(
        sb.file("acme/billing-api", "main", ".paved/answers.yml")
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(
        answers.contains("template: python-fastapi") && answers.contains("billing-api"),
        "{answers}"
    );
    assert_eq!(
        sb.branch_sha("acme/billing-api", "main").await,
        sb.branch_sha("acme/billing-api", "paved/template").await
    );

    // One platform commit with a valid Application.
    let app = sb
        .file(PLATFORM, "main", "apps/billing-api/dev.yaml")
        .await
        .expect("Application committed");
    let app: serde_json::Value = serde_yaml::from_slice(&app).unwrap();
    let tag = sb.branch_sha("acme/billing-api", "main").await.unwrap();
    assert_eq!(
        app["spec"]["source"]["kustomize"]["images"][0],
        format!("ghcr.io/acme/billing-api:{tag}")
    );
    if let Some(errors) = common::argo_schema_errors(&[app]) {
        assert!(errors.is_empty(), "{errors:?}");
    }

    // One status comment, the right labels, the issue closed.
    let comments = sb.comments(CATALOG, number);
    assert_eq!(comments.len(), 1, "{comments:#?}");
    assert_eq!(comments[0].user, "paved[bot]");
    assert!(
        comments[0]
            .body
            .contains("**Ready.** billing-api is deployed to **dev**"),
        "{}",
        comments[0].body
    );
    let issue = sb.issue(CATALOG, number).unwrap();
    assert_eq!(issue.labels, ["paved:request", "paved:ready"]);
    assert_eq!(issue.state, paved::sandbox::IssueState::Closed);

    // The REST calls paved made for it, from the sandbox's log.
    let calls = paved_calls(&stage);
    eprintln!("{} REST calls: {calls:#?}", calls.len());
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.contains("repos/create-in-org"))
            .count(),
        1
    );
    // Once per process: the platform repository, the resync listing, paved.yaml.
    let once = [
        "GET repos/get",
        "GET issues/list-for-repo",
        "GET repos/get-content",
    ];
    // GitHub sends `opened` and `labeled` for an issue opened with a label;
    // the second wake-up costs one read of the (by then closed) issue.
    let per_request = calls.iter().filter(|c| !once.contains(&c.as_str())).count();
    assert!(
        per_request <= 9,
        "{per_request} calls for one request: {calls:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_invalid_request_gets_every_problem_and_nothing_is_created() {
    let work = TempDir::new("e2e-invalid");
    let stage = stage(&work).await;
    let number = stage
        .request(&stage.writer, "../Evil", "rails", "{{ name }} <script>")
        .await
        .unwrap();
    let labels = stage.settled(number, LIMIT).await.unwrap();
    assert!(labels.contains(&"paved:invalid".to_owned()), "{labels:?}");
    let comments = stage.sandbox.comments(CATALOG, number);
    assert_eq!(comments.len(), 1);
    let body = &comments[0].body;
    assert!(body.contains("not a DNS-1123 label"), "{body}");
    assert!(body.contains("is not a template here"), "{body}");
    assert_eq!(stage.sandbox.requests().count("repos/create-in-org"), 0);

    // Editing the issue re-validates: fixed, it is provisioned.
    let fixed = paved::demo::form_body(
        "fixed-name",
        "node-express",
        "Now fine.",
        "@acme/payments",
        "",
    );
    stage
        .writer
        .update_issue(CATALOG, number, serde_json::json!({ "body": fixed }))
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + LIMIT;
    loop {
        let issue = stage.sandbox.issue(CATALOG, number).unwrap();
        if issue.labels.contains(&"paved:ready".to_owned()) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{:?}", issue.labels);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        stage.sandbox.comments(CATALOG, number).len(),
        1,
        "the one status comment was edited in place"
    );
}
