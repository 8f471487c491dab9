//! Resources on the sandbox: a request with a database and a cache gets
//! them committed beside its Application, wired into its Deployment; day-2
//! commands add and remove them, a promotion carries them, deleting the
//! service orphans them; hostile asks are refused and make nothing.

mod common;

use std::time::Duration;

use common::{TempDir, ask};
use paved::demo::{CATALOG, PLATFORM, Stage, StageOptions};

const LIMIT: Duration = Duration::from_secs(60);
const SERVICE: &str = "orders-api";

fn platform_commits(stage: &Stage) -> usize {
    let repo = git2::Repository::open_bare(stage.sandbox.repo_path(PLATFORM).unwrap()).unwrap();
    let mut walk = repo.revwalk().unwrap();
    walk.push_ref("refs/heads/main").unwrap();
    walk.count()
}

async fn platform_file(stage: &Stage, path: &str) -> Option<String> {
    let bytes = stage.sandbox.file(PLATFORM, "main", path).await?;
    Some(String::from_utf8(bytes).unwrap())
}

async fn request(stage: &Stage, name: &str, resources: &str) -> u64 {
    stage
        .request_with_resources(
            &stage.writer,
            name,
            "python-fastapi",
            "Takes orders.",
            resources,
        )
        .await
        .unwrap()
}

/// The variables the environment's Application gives the Deployment, each
/// with the Secret it reads.
async fn wired(stage: &Stage, env: &str) -> Vec<(String, String)> {
    let app = platform_file(stage, &format!("apps/{SERVICE}/{env}.yaml"))
        .await
        .unwrap();
    let app: serde_json::Value = serde_yaml::from_str(&app).unwrap();
    common::assert_argo_valid(std::slice::from_ref(&app));
    let Some(patch) = app["spec"]["source"]["kustomize"]["patches"][0]["patch"].as_str() else {
        return Vec::new();
    };
    let patch: serde_json::Value = serde_yaml::from_str(patch).unwrap();
    patch["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let secret = e["valueFrom"]["secretKeyRef"]["name"].as_str().unwrap();
            (e["name"].as_str().unwrap().to_owned(), secret.to_owned())
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn resources_are_committed_wired_added_removed_promoted_and_orphaned() {
    let work = TempDir::new("resources");
    let stage = Stage::start(StageOptions::shipped(work.path().to_owned()))
        .await
        .unwrap();

    // Hostile names and sizes: every problem said, nothing made.
    let before = platform_commits(&stage);
    let bad = request(
        &stage,
        "bad-res",
        "postgres ../etc\nredis cache huge\nmongodb docs\nqueue q small; rm -rf",
    )
    .await;
    let labels = stage.settled(bad, LIMIT).await.unwrap();
    assert!(labels.contains(&"paved:invalid".to_owned()), "{labels:?}");
    let said = stage
        .sandbox
        .comments(CATALOG, bad)
        .into_iter()
        .map(|c| c.body)
        .collect::<Vec<_>>()
        .join("\n");
    for problem in [
        "is not a resource name",
        "size \"huge\"",
        "is not a resource type",
        "is not a size, version",
    ] {
        assert!(said.contains(problem), "{problem}: {said}");
    }
    assert!(stage.sandbox.repo_path("acme/bad-res").is_none());
    assert_eq!(platform_commits(&stage), before);

    // A request with a database and a cache: both beside the Application,
    // in the one commit that adds it, and the Deployment reads both.
    let number = request(
        &stage,
        SERVICE,
        "postgres orders-db small version=16\nredis cache",
    )
    .await;
    let labels = stage.settled(number, LIMIT).await.unwrap();
    assert!(labels.contains(&"paved:deploying".to_owned()), "{labels:?}");
    assert_eq!(platform_commits(&stage), before + 1);
    let mut files = Vec::new();
    for name in ["orders-db", "cache"] {
        let file = platform_file(&stage, &format!("apps/{SERVICE}/dev/resources/{name}.yaml"))
            .await
            .unwrap();
        assert!(
            file.contains(&format!("secretName: {SERVICE}-{name}")),
            "{file}"
        );
        assert!(
            file.contains("deletionPolicy: Orphan") && file.contains("namespace: orders-api-dev"),
            "{file}"
        );
        files.push(file);
    }
    common::assert_resources_valid(&files);
    // Their namespace, made a wave before them by the app-of-apps.
    let namespace = platform_file(&stage, &format!("apps/{SERVICE}/dev/namespace.yaml"))
        .await
        .unwrap();
    assert!(
        namespace.contains("kind: Namespace") && namespace.contains("name: orders-api-dev"),
        "{namespace}"
    );
    assert_eq!(
        wired(&stage, "dev").await,
        pairs(&[
            ("DATABASE_URL", "orders-api-orders-db"),
            ("ORDERS_DB_URL", "orders-api-orders-db"),
            ("REDIS_URL", "orders-api-cache"),
            ("CACHE_URL", "orders-api-cache"),
        ])
    );

    // `/paved add queue jobs`: one commit, the queue and its wiring.
    let before = platform_commits(&stage);
    let answer = ask(&stage, &stage.writer, number, "/paved add queue jobs").await;
    assert!(
        answer.contains("add queue jobs (small) to orders-api in dev: committed"),
        "{answer}"
    );
    assert!(
        answer.contains("`JOBS_URL`") && answer.contains("`QUEUE_URL`"),
        "{answer}"
    );
    assert_eq!(platform_commits(&stage), before + 1);
    let jobs = platform_file(&stage, &format!("apps/{SERVICE}/dev/resources/jobs.yaml"))
        .await
        .unwrap();
    common::assert_resources_valid(&[jobs]);
    assert!(
        wired(&stage, "dev")
            .await
            .contains(&("QUEUE_URL".to_owned(), "orders-api-jobs".to_owned()))
    );
    let again = ask(&stage, &stage.writer, number, "/paved add redis jobs").await;
    assert!(again.contains("already has a resource \"jobs\""), "{again}");

    // A writer may not remove a resource in an environment under review.
    let before = platform_commits(&stage);
    let refused = ask(
        &stage,
        &stage.writer,
        number,
        "/paved remove cache --env prod",
    )
    .await;
    assert!(refused.contains("needs admin permission"), "{refused}");
    assert_eq!(platform_commits(&stage), before);

    // A promotion carries the resources to the next environment.
    let promoted = ask(&stage, &stage.writer, number, "/paved promote staging").await;
    assert!(promoted.contains("committed"), "{promoted}");
    let mut staged = Vec::new();
    for name in ["orders-db", "cache", "jobs"] {
        let file = platform_file(
            &stage,
            &format!("apps/{SERVICE}/staging/resources/{name}.yaml"),
        )
        .await;
        let file = file.unwrap_or_else(|| panic!("{name} not promoted"));
        assert!(
            file.contains("namespace: orders-api-staging") && file.contains("environment: staging"),
            "{file}"
        );
        staged.push(file);
    }
    common::assert_resources_valid(&staged);
    assert_eq!(wired(&stage, "staging").await.len(), 6);

    // Removing one in dev: gone with its wiring, the cloud resource orphaned.
    let removed = ask(&stage, &stage.writer, number, "/paved remove cache").await;
    assert!(
        removed.contains("remove redis cache from orders-api in dev: committed"),
        "{removed}"
    );
    assert!(removed.contains("orphaned, not deleted"), "{removed}");
    assert!(
        platform_file(&stage, &format!("apps/{SERVICE}/dev/resources/cache.yaml"))
            .await
            .is_none()
    );
    assert!(
        !wired(&stage, "dev")
            .await
            .iter()
            .any(|(v, _)| v == "CACHE_URL")
    );
    assert!(
        platform_file(
            &stage,
            &format!("apps/{SERVICE}/staging/resources/cache.yaml")
        )
        .await
        .is_some()
    );

    // Reads repeated while nothing changed were asked conditionally: GitHub
    // answers 304, which costs no rate limit.
    let log = stage.sandbox.requests();
    let unchanged: Vec<_> = log.by_installation().filter(|r| r.status == 304).collect();
    assert!(
        !unchanged.is_empty(),
        "no conditional read was answered 304"
    );
    assert!(unchanged.iter().all(|r| r.method == "GET"), "{unchanged:?}");

    // Status lists what each environment is wired to.
    let status = ask(&stage, &stage.reader, number, "/paved status").await;
    assert!(
        status.contains("`jobs`, `orders-db`") || status.contains("`orders-db`"),
        "{status}"
    );

    // Deleting the service takes its resources' files, orphaning them.
    let deleted = ask(&stage, &stage.admin, number, "/paved delete orders-api").await;
    assert!(
        deleted.contains("Its resources:") && deleted.matches("orphaned, not deleted").count() == 5,
        "{deleted}"
    );
    for env in ["dev", "staging"] {
        let namespace = format!("apps/{SERVICE}/{env}/namespace.yaml");
        assert!(
            platform_file(&stage, &namespace).await.is_none(),
            "{namespace} is left"
        );
        for name in ["orders-db", "cache", "jobs"] {
            let path = format!("apps/{SERVICE}/{env}/resources/{name}.yaml");
            assert!(
                platform_file(&stage, &path).await.is_none(),
                "{path} is left"
            );
        }
    }
}

#[test]
fn a_service_file_asks_for_resources_as_a_list() {
    use paved_app::catalog::{CatalogSettings, service_file, validate};
    let text = "name: orders-api\ntemplate: node-express\ndescription: Takes orders.\nowner: \"@acme/payments\"\nresources:\n  - {type: postgres, name: orders-db, size: medium, version: \"16\"}\n  - {type: queue, name: jobs, fifo: true, dlq: true}\n";
    let request = service_file::parse("services/orders-api.yaml", text).unwrap();
    let templates = common::shipped_templates();
    let valid = validate(&request, &templates, &CatalogSettings::defaults("acme")).unwrap();
    let names: Vec<(&str, &str, &str)> = valid
        .resources
        .iter()
        .map(|r| (r.kind.name(), r.name.as_str(), r.size.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("postgres", "orders-db", "medium"),
            ("queue", "jobs", "small")
        ]
    );
    assert!(valid.resources[1].fifo && valid.resources[1].dlq);
    // A field the list does not know is refused where it is.
    let wrong = text.replace("fifo: true", "fifo: true, colour: red");
    let problems = service_file::parse("services/orders-api.yaml", &wrong).unwrap_err();
    assert!(
        problems[0].message.contains("unknown field `colour`"),
        "{problems:?}"
    );
}
