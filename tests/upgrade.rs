//! Template upgrades against the sandbox: a pull request from
//! `paved/template` whose merge keeps the service's changes, takes the
//! template's, adds new files and reports conflicts.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{TempDir, ask, bump, template_copy};
use paved::demo::{Stage, StageOptions};

const LIMIT: Duration = Duration::from_secs(60);

async fn start(work: &TempDir) -> Stage {
    let templates = work.path().join("templates");
    template_copy(&templates);
    let mut options = StageOptions::shipped(work.path().join("paved"));
    options.templates = paved_app::scaffold::TemplateSource::Folder(templates);
    Stage::start(options).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_upgrade_keeps_the_services_changes_and_reports_the_conflict() {
    let work = TempDir::new("upgrade");
    let mut stage = start(&work).await;
    let n = stage
        .request(&stage.writer, "shop", "node-express", "Sells things.")
        .await
        .unwrap();
    assert!(
        stage
            .settled(n, LIMIT)
            .await
            .unwrap()
            .contains(&"paved:deploying".to_owned())
    );
    let up_to_date = ask(&stage, &stage.writer, n, "/paved upgrade").await;
    assert!(
        up_to_date.contains("shop is already on 1.0.0"),
        "{up_to_date}"
    );

    // The service changes a file the template will change elsewhere, and one it will change in the same place.
    let sb = &stage.sandbox;
    let readme =
        String::from_utf8(sb.file("acme/shop", "main", "README.md").await.unwrap()).unwrap();
    let app = String::from_utf8(sb.file("acme/shop", "main", "src/app.js").await.unwrap()).unwrap();
    let files: [(&str, Vec<u8>); 2] = [
        (
            "README.md",
            format!("Maintained by the shop team.\n{readme}").into_bytes(),
        ),
        (
            "src/app.js",
            format!("// the shop's own first line\n{app}").into_bytes(),
        ),
    ];
    let borrowed: Vec<(&str, &[u8])> = files.iter().map(|(p, c)| (*p, c.as_slice())).collect();
    stage
        .writer
        .push_files("acme/shop", "main", &borrowed, "Our changes")
        .await
        .unwrap();

    bump(&work.path().join("templates"), "1.1.0");
    stage.stop_paved().await;
    stage.start_paved().await.unwrap();

    let denied = ask(&stage, &stage.reader, n, "/paved upgrade").await;
    assert!(denied.contains("needs write permission"), "{denied}");
    let answer = ask(&stage, &stage.writer, n, "/paved upgrade").await;
    assert!(
        answer.contains("Upgrade node-express 1.0.0 → 1.1.0"),
        "{answer}"
    );
    assert!(answer.contains("1 conflict(s): src/app.js"), "{answer}");
    let pr: u64 = answer
        .split("/pull/")
        .nth(1)
        .unwrap()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let body = stage
        .sandbox
        .issue("acme/shop", pr)
        .unwrap()
        .body
        .unwrap_or_default();
    assert!(
        body.contains("## 1.1.0") && body.contains("A runbook."),
        "{body}"
    );
    assert!(
        body.contains("`src/app.js`") && body.contains("git merge origin/paved/template"),
        "{body}"
    );

    // What git's merge of the pull request gives: both README changes, the new file, one conflict.
    let repo = git2::Repository::open_bare(stage.sandbox.repo_path("acme/shop").unwrap()).unwrap();
    let ours = repo
        .revparse_single("refs/heads/main")
        .unwrap()
        .peel_to_commit()
        .unwrap();
    let theirs = repo
        .revparse_single("refs/heads/paved/template")
        .unwrap()
        .peel_to_commit()
        .unwrap();
    let index = repo.merge_commits(&ours, &theirs, None).unwrap();
    let merged = |path: &str| {
        let entry = index.get_path(Path::new(path), 0)?;
        Some(String::from_utf8(repo.find_blob(entry.id).unwrap().content().to_vec()).unwrap())
    };
    let readme = merged("README.md").expect("README merges cleanly");
    assert!(
        readme.starts_with("Maintained by the shop team.") && readme.contains("## Runbook 1.1.0"),
        "{readme}"
    );
    assert_eq!(
        merged("docs/RUNBOOK.md").as_deref(),
        Some("# Runbook for shop (1.1.0)\n")
    );
    assert!(merged("src/app.js").is_none(), "src/app.js is in conflict");
    let answers = merged(".paved/answers.yml").unwrap();
    assert!(answers.contains("version: 1.1.0"), "{answers}");

    // Asked again: nothing new. A newer template while the PR is open updates that PR.
    let again = ask(&stage, &stage.writer, n, "/paved upgrade").await;
    assert!(again.contains("already on 1.1.0"), "{again}");
    bump(&work.path().join("templates"), "1.2.0");
    stage.stop_paved().await;
    stage.start_paved().await.unwrap();
    let update = ask(&stage, &stage.writer, n, "/paved upgrade").await;
    assert!(
        update.contains("updated the open upgrade pull request")
            && update.contains(&format!("/pull/{pr}")),
        "{update}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fleet_upgrade_opens_a_pull_request_per_service_and_answers_once() {
    let work = TempDir::new("upgrade-fleet");
    let mut stage = start(&work).await;
    let mut first = 0;
    for i in 0..10 {
        let n = stage
            .request(
                &stage.writer,
                &format!("fleet-{i}"),
                "node-express",
                "One of many.",
            )
            .await
            .unwrap();
        if i == 0 {
            first = n;
        }
        assert!(
            stage
                .settled(n, LIMIT)
                .await
                .unwrap()
                .contains(&"paved:deploying".to_owned())
        );
    }
    // A repository that looks like a service (answers, topics) but that
    // the platform does not deploy is no service of the fleet.
    impostor(&stage, "fleet-0").await;
    bump(&work.path().join("templates"), "2.0.0");
    stage.stop_paved().await;
    stage.start_paved().await.unwrap();
    let denied = ask(
        &stage,
        &stage.writer,
        first,
        "/paved upgrade --template node-express",
    )
    .await;
    assert!(denied.contains("needs admin permission"), "{denied}");
    let summary = ask(
        &stage,
        &stage.admin,
        first,
        "/paved upgrade --template node-express",
    )
    .await;
    assert!(
        summary.contains(
            "upgrading the 10 services made from node-express: 10 pull requests, 0 already current, 0 skipped"
        ),
        "{summary}"
    );
    // Its progress was shown on the comment the answer then replaced: one
    // comment by paved for the command, edited in place. (The sandbox logs
    // a request once it has answered it: read the log once all is still.)
    common::quiescent(&stage).await;
    let log = stage.sandbox.requests();
    let answer = stage
        .sandbox
        .comments(paved::demo::CATALOG, first)
        .into_iter()
        .find(|c| c.body == summary)
        .unwrap();
    let edited = format!("/repos/acme/catalog/issues/comments/{}", answer.id);
    assert!(
        log.by_installation()
            .any(|r| r.method == "PATCH" && r.path == edited)
    );
    assert!(
        stage
            .sandbox
            .comments(paved::demo::CATALOG, first)
            .iter()
            .all(|c| !c.body.contains("paved:progress"))
    );
    for i in 0..10 {
        assert!(
            summary.contains(&format!(
                "- fleet-{i}: Upgrade node-express 1.0.0 → 2.0.0: "
            )),
            "fleet-{i}: {summary}"
        );
        let pr = stage
            .sandbox
            .issue(&format!("acme/fleet-{i}"), 1)
            .expect("one pull request");
        assert!(pr.pull.is_some());
    }
    assert!(!summary.contains("impostor"), "{summary}");
    assert!(stage.sandbox.issue("acme/impostor", 1).is_none());
}

/// `acme/impostor`: `like`'s answers on both of paved's branches and the
/// topics paved once set, made by an admin, with no Application.
async fn impostor(stage: &Stage, like: &str) {
    let sb = &stage.sandbox;
    let answers = sb
        .file(&format!("acme/{like}"), "main", ".paved/answers.yml")
        .await
        .unwrap();
    sb.create_repo("acme", "impostor").await.unwrap();
    let files: [(&str, &[u8]); 1] = [(".paved/answers.yml", &answers)];
    for branch in ["paved/template", "main"] {
        sb.push_files(
            "acme/impostor",
            branch,
            &files,
            "Look alike",
            stage.admin.login(),
        )
        .await
        .unwrap();
    }
    let topics = serde_json::json!({ "names": ["paved", "node-express"] });
    stage
        .admin
        .call(
            http::Method::PUT,
            "/repos/acme/impostor/topics",
            Some(topics),
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_upgrades_auto_a_restart_with_a_newer_template_opens_the_pull_requests() {
    let work = TempDir::new("upgrade-auto");
    let templates = work.path().join("templates");
    template_copy(&templates);
    let catalog = work.path().join("catalog");
    common::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog"),
        &catalog,
    );
    let settings = std::fs::read_to_string(catalog.join("paved.yaml")).unwrap();
    std::fs::write(
        catalog.join("paved.yaml"),
        format!("{settings}\nupgrades: auto\n"),
    )
    .unwrap();
    let mut options = StageOptions::shipped(work.path().join("paved"));
    options.templates = paved_app::scaffold::TemplateSource::Folder(templates.clone());
    options.catalog_dir = Some(catalog);
    let mut stage = Stage::start(options).await.unwrap();
    let n = stage
        .request(&stage.writer, "auto-shop", "node-express", "Sells.")
        .await
        .unwrap();
    assert!(
        stage
            .settled(n, LIMIT)
            .await
            .unwrap()
            .contains(&"paved:deploying".to_owned())
    );
    assert!(stage.sandbox.issue("acme/auto-shop", 1).is_none());

    bump(&templates, "1.1.0");
    stage.stop_paved().await;
    stage.start_paved().await.unwrap();
    let deadline = Instant::now() + LIMIT;
    let pr = loop {
        if let Some(pr) = stage.sandbox.issue("acme/auto-shop", 1) {
            break pr;
        }
        assert!(
            Instant::now() < deadline,
            "no automatic upgrade pull request"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(pr.title, "Upgrade node-express 1.0.0 → 1.1.0");
}
