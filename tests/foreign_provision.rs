//! A public Cookiecutter template, unmodified, as a paved template on the
//! sandbox: a catalog request provisions it end to end (its trusted hook
//! runs, paved's standard base and cruft's record are added, the
//! Application is committed), and `/paved upgrade` carries a new version of
//! it into the service as a pull request that keeps the service's changes.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{TempDir, ask, copy_dir, workspace};
use paved::demo::{CATALOG, PLATFORM, Stage, StageOptions};
use paved_app::scaffold::TemplateSource;

const LIMIT: Duration = Duration::from_secs(60);
const TEMPLATE: &str = "golang";

/// The shipped templates beside a writable copy of the public Go template,
/// with the sidecar that maps a request onto its variables.
fn templates(work: &Path, public: &Path) -> std::path::PathBuf {
    let dir = work.join("templates");
    copy_dir(&workspace().join("templates"), &dir);
    let golang = dir.join(TEMPLATE);
    copy_dir(public, &golang);
    writable(&golang);
    sidecar(&dir, "1.0.0");
    dir
}

fn sidecar(dir: &Path, version: &str) {
    let text = format!(
        "title: Go service\nversion: {version}\nvariables:\n  name: app_name\n  description: project_short_description\n  owner: full_name\nport: 8080\n"
    );
    std::fs::write(dir.join(format!("{TEMPLATE}.paved.yaml")), text).unwrap();
}

/// `../shared` is read-only; the copy must take a new version.
fn writable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode | 0o200)).unwrap();
        if path.is_dir() {
            writable(&path);
        }
    }
    let mode = std::fs::metadata(dir).unwrap().permissions().mode();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode | 0o200)).unwrap();
}

/// The shipped catalog, allowing the Go template and trusting its hook.
fn catalog(work: &Path) -> std::path::PathBuf {
    let dir = work.join("catalog");
    copy_dir(&workspace().join("catalog"), &dir);
    let settings = dir.join("paved.yaml");
    let text = std::fs::read_to_string(&settings).unwrap();
    let (allowed, trusted) = ("  allowed: [python-fastapi, node-express]", "  trusted: []");
    assert!(text.contains(allowed) && text.contains(trusted));
    let text = text
        .replace(
            allowed,
            &format!("  allowed: [python-fastapi, node-express, {TEMPLATE}]"),
        )
        .replace(trusted, &format!("  trusted: [{TEMPLATE}]"));
    std::fs::write(settings, text).unwrap();
    dir
}

async fn text(stage: &Stage, path: &str) -> Option<String> {
    let bytes = stage.sandbox.file("acme/orders-api", "main", path).await?;
    Some(String::from_utf8(bytes).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_public_cookiecutter_template_provisions_and_upgrades() {
    let Some(public) = common::shared("templates-public/lacion+cookiecutter-golang") else {
        return;
    };
    let work = TempDir::new("foreign-e2e");
    let templates = templates(work.path(), &public);
    let options = StageOptions::new(
        work.path().join("paved"),
        TemplateSource::Folder(templates.clone()),
        Some(catalog(work.path())),
    );
    let mut stage = Stage::start(options).await.unwrap();
    let number = stage
        .request(&stage.writer, "orders-api", TEMPLATE, "Takes orders.")
        .await
        .unwrap();
    let labels = stage.settled(number, LIMIT).await.unwrap();
    assert!(
        labels.contains(&"paved:deploying".to_owned()),
        "{labels:?}\n{:#?}",
        stage.sandbox.comments(CATALOG, number)
    );

    // The template's own files, with the request in its variables.
    let readme = text(&stage, "README.md").await.unwrap();
    assert!(
        readme.contains("orders-api") && readme.contains("Takes orders."),
        "{readme}"
    );
    assert!(
        text(&stage, "main.go")
            .await
            .unwrap()
            .contains("orders-api")
    );
    // Its post-generation hook ran: the files for the choices not taken are
    // gone, and the repository it initialised did not travel.
    for gone in ["Gopkg.toml", ".circleci/config.yml", ".git/HEAD"] {
        assert!(
            text(&stage, gone).await.is_none(),
            "{gone} is in the repository"
        );
    }
    assert!(text(&stage, "go.mod").await.is_some() && text(&stage, ".travis.yml").await.is_some());
    // paved's standard base, since the template has no manifests.
    let kustomization = text(&stage, "k8s/kustomization.yaml").await.unwrap();
    assert!(
        kustomization.contains("ghcr.io/acme/orders-api"),
        "{kustomization}"
    );
    let deployment = text(&stage, "k8s/deployment.yaml").await.unwrap();
    assert!(deployment.contains("containerPort: 8080"), "{deployment}");
    // cruft's record, and paved's.
    let cruft: serde_json::Value =
        serde_json::from_str(&text(&stage, ".cruft.json").await.unwrap()).unwrap();
    assert_eq!(cruft["context"]["cookiecutter"]["app_name"], "orders-api");
    assert_eq!(
        cruft["context"]["cookiecutter"]["project_short_description"],
        "Takes orders."
    );
    let answers = text(&stage, ".paved/answers.yml").await.unwrap();
    assert!(
        answers.contains(&format!("template: {TEMPLATE}")) && answers.contains("version: 1.0.0"),
        "{answers}"
    );
    assert!(
        answers.contains("base:") && answers.contains("domain:"),
        "{answers}"
    );

    // The Application deploys the base, and Argo CD's schema takes it.
    let app = stage
        .sandbox
        .file(PLATFORM, "main", "apps/orders-api/dev.yaml")
        .await
        .unwrap();
    let app: serde_json::Value = serde_yaml::from_slice(&app).unwrap();
    assert_eq!(app["spec"]["source"]["path"], "k8s");
    common::assert_argo_valid(&[app]);

    // The service changes its README; the template's next version changes
    // its Dockerfile.
    let readme = format!("Run by the orders team.\n\n{readme}");
    stage
        .writer
        .push_files(
            "acme/orders-api",
            "main",
            &[("README.md", readme.as_bytes())],
            "Our README",
        )
        .await
        .unwrap();
    let dockerfile = templates
        .join(TEMPLATE)
        .join("{{cookiecutter.app_name}}/Dockerfile");
    let old = std::fs::read_to_string(&dockerfile).unwrap();
    std::fs::write(&dockerfile, format!("# syntax=docker/dockerfile:1\n{old}")).unwrap();
    sidecar(&templates, "1.1.0");
    stage.stop_paved().await;
    stage.start_paved().await.unwrap();

    let answer = ask(&stage, &stage.writer, number, "/paved upgrade").await;
    assert!(
        answer.contains(&format!("Upgrade {TEMPLATE} 1.0.0 → 1.1.0")),
        "{answer}"
    );
    let repo =
        git2::Repository::open_bare(stage.sandbox.repo_path("acme/orders-api").unwrap()).unwrap();
    let commit = |r: &str| repo.revparse_single(r).unwrap().peel_to_commit().unwrap();
    let index = repo
        .merge_commits(
            &commit("refs/heads/main"),
            &commit("refs/heads/paved/template"),
            None,
        )
        .unwrap();
    assert!(!index.has_conflicts());
    let merged = |path: &str| {
        let entry = index.get_path(Path::new(path), 0).unwrap();
        String::from_utf8(repo.find_blob(entry.id).unwrap().content().to_vec()).unwrap()
    };
    assert!(merged("Dockerfile").starts_with("# syntax=docker/dockerfile:1\n"));
    assert!(merged("README.md").starts_with("Run by the orders team."));
    assert_eq!(
        merged("k8s/kustomization.yaml"),
        kustomization,
        "the base is kept"
    );
    assert!(merged(".paved/answers.yml").contains("version: 1.1.0"));
}
