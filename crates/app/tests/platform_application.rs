//! The Argo CD Applications paved commits: valid against Argo CD's own
//! schema, readable back, and changed by one line per day-2 change.

mod common;

use paved_app::platform::AppSpec;

fn spec() -> AppSpec {
    AppSpec {
        service: "billing-api".into(),
        environment: "dev".into(),
        template: "python-fastapi@1.0.0".into(),
        repo_url: "https://github.com/acme/billing-api.git".into(),
        revision: "main".into(),
        image: "ghcr.io/acme/billing-api".into(),
        tag: "3f786850e387550fdab836ed7e6dc881de23001b".into(),
        replicas: 1,
        project: "default".into(),
        cluster: "https://kubernetes.default.svc".into(),
        namespace: "billing-api-dev".into(),
        request_url: "https://github.com/acme/catalog/issues/12".into(),
        url: "https://billing-api.apps.acme.dev".into(),
        path: "k8s".into(),
        wiring: None,
    }
}

fn as_json(yaml: &str) -> serde_json::Value {
    serde_yaml::from_str(yaml).unwrap()
}

#[test]
fn the_application_has_what_a_production_app_needs() {
    let app = as_json(&spec().to_yaml());
    assert_eq!(app["metadata"]["name"], "billing-api-dev");
    assert_eq!(app["metadata"]["namespace"], "argocd");
    assert_eq!(
        app["metadata"]["finalizers"][0],
        "resources-finalizer.argocd.argoproj.io"
    );
    let annotations = &app["metadata"]["annotations"];
    assert_eq!(
        annotations["paved.dev/request"],
        "https://github.com/acme/catalog/issues/12"
    );
    // Argo CD's notifications report its health back to GitHub, and say
    // where it answers.
    assert_eq!(
        annotations["paved.dev/url"],
        "https://billing-api.apps.acme.dev"
    );
    for trigger in ["on-deployed", "on-health-degraded", "on-sync-failed"] {
        let key = format!("notifications.argoproj.io/subscribe.{trigger}.github");
        assert_eq!(annotations[&key], "", "{key}");
    }
    let source = &app["spec"]["source"];
    assert_eq!(source["path"], "k8s");
    assert_eq!(
        source["kustomize"]["images"][0],
        "ghcr.io/acme/billing-api:3f786850e387550fdab836ed7e6dc881de23001b"
    );
    assert_eq!(source["kustomize"]["replicas"][0]["name"], "billing-api");
    let sync = &app["spec"]["syncPolicy"];
    assert_eq!(sync["automated"]["prune"], true);
    assert_eq!(sync["automated"]["selfHeal"], true);
    assert_eq!(sync["syncOptions"][0], "CreateNamespace=true");
    assert_eq!(spec().path(), "apps/billing-api/dev.yaml");
}

#[test]
fn it_validates_against_argo_cds_strict_schema() {
    let mut prod = spec();
    prod.environment = "prod".into();
    prod.replicas = 3;
    let apps = [as_json(&spec().to_yaml()), as_json(&prod.to_yaml())];
    common::assert_argo_valid(&apps);
    // The check can fail: an unknown field is caught.
    let mut wrong = apps[0].clone();
    wrong["spec"]["source"]["kustomise"] = serde_json::json!({});
    if let Some(errors) = common::argo_schema_errors(&[wrong]) {
        assert_eq!(errors.len(), 1, "{errors:?}");
    }
}

#[test]
fn it_reads_back_and_day_two_changes_are_one_line() {
    let original = spec();
    let text = original.to_yaml();
    assert_eq!(AppSpec::from_yaml(&text).unwrap(), original);
    for change in [
        AppSpec {
            tag: "0123456789abcdef0123456789abcdef01234567".into(),
            ..original.clone()
        },
        AppSpec {
            replicas: 4,
            ..original.clone()
        },
    ] {
        let changed = change.to_yaml();
        let diff = text
            .lines()
            .zip(changed.lines())
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!((diff, text.lines().count()), (1, changed.lines().count()));
    }
}

#[test]
fn an_application_paved_cannot_work_with_is_refused_with_every_problem_named() {
    let good = spec().to_yaml();
    let image = "ghcr.io/acme/billing-api:3f786850e387550fdab836ed7e6dc881de23001b";
    let cases = [
        (
            good.replace("kind: Application", "kind: ApplicationSet"),
            vec!["not an argoproj.io/v1alpha1 Application"],
        ),
        (
            good.replace("paved.dev/service: billing-api", "other: x"),
            vec![
                "the label paved.dev/service is missing",
                "must set the count of \"\" alone",
            ],
        ),
        (
            good.replace(image, "ghcr.io/acme/billing-api"),
            vec!["has no valid tag"],
        ),
        (
            good.replace(image, "ghcr.io/acme/billing-api:.hidden"),
            vec!["has no valid tag"],
        ),
        (
            good.replace(image, "ghcr.io/acme/billing-api:ünïcødé"),
            vec!["has no valid tag"],
        ),
        (
            good.replace("name: billing-api\n", "name: other\n"),
            vec!["must set the count of \"billing-api\" alone"],
        ),
        (good.replace("count: 1", "count: many"), vec!["count"]),
    ];
    for (text, expected) in cases {
        assert_ne!(text, good, "each case changes the file: {expected:?}");
        let error = AppSpec::from_yaml(&text).unwrap_err().to_string();
        for part in expected {
            assert!(error.contains(part), "{part:?} not in {error:?}");
        }
    }
}

#[test]
fn application_files_are_known_by_their_path_and_nothing_else_is() {
    use paved_app::platform::{of_path, path};
    assert_eq!(of_path(&path("orders", "prod")), Some(("orders", "prod")));
    for other in [
        "apps/.gitkeep",
        "apps/orders/prod.yml",
        "apps/orders/x/prod.yaml",
        "apps//prod.yaml",
        "README.md",
        "apps/orders.yaml",
    ] {
        assert_eq!(of_path(other), None, "{other}");
    }
}
