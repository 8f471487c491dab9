//! Rendering the shipped templates: ordinary values give a complete service;
//! hostile values give files that still parse and hold the value as data.

mod common;

use paved_app::scaffold::foreign::hooks::Hooks;
use std::collections::BTreeMap;
use std::process::Command;

use common::{TempDir, shipped_templates};
use paved_app::scaffold::{Rendered, Templates, render, resolve};
use proptest::prelude::*;

fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn render_with(templates: &Templates, template: &str, description: &str) -> Rendered {
    let t = templates.get(template).unwrap();
    let given = values(&[
        ("name", "billing-api"),
        ("description", description),
        ("owner", "@acme/payments"),
        ("org", "Acme-Corp"),
        ("domain", "apps.acme.dev"),
    ]);
    let hooks = Hooks::refused(&std::env::temp_dir(), "billing-api");
    render(t, &resolve(t, &given).unwrap(), &hooks).unwrap()
}

fn text<'a>(r: &'a Rendered, path: &str) -> &'a str {
    std::str::from_utf8(&r.file(path).unwrap_or_else(|| panic!("no {path}")).contents).unwrap()
}

/// Every YAML document and JSON file in the scaffold parses.
fn assert_parses(r: &Rendered) {
    for f in &r.files {
        let body = std::str::from_utf8(&f.contents).unwrap();
        if f.path.ends_with(".yaml") || f.path.ends_with(".yml") {
            for doc in serde_yaml::Deserializer::from_str(body) {
                serde_yaml::Value::deserialize(doc)
                    .unwrap_or_else(|e| panic!("{}: {e}\n{body}", f.path));
            }
        } else if f.path.ends_with(".json") {
            serde_json::from_str::<serde_json::Value>(body)
                .unwrap_or_else(|e| panic!("{}: {e}", f.path));
        }
    }
}

use serde::Deserialize;

#[test]
fn each_template_renders_a_complete_service() {
    let templates = shipped_templates();
    for name in ["python-fastapi", "node-express"] {
        let r = render_with(&templates, name, "Bills customers.");
        for path in [
            "Dockerfile",
            ".dockerignore",
            ".gitignore",
            ".github/workflows/ci.yml",
            "k8s/deployment.yaml",
            "k8s/service.yaml",
            "k8s/ingress.yaml",
            "k8s/kustomization.yaml",
            "README.md",
            "CODEOWNERS",
        ] {
            assert!(r.file(path).is_some(), "{name} has no {path}");
        }
        assert!(text(&r, "CODEOWNERS").contains("* @acme/payments"));
        let kustomization: serde_yaml::Value =
            serde_yaml::from_str(text(&r, "k8s/kustomization.yaml")).unwrap();
        assert_eq!(
            kustomization["images"][0]["name"], "ghcr.io/acme-corp/billing-api",
            "{name}: GHCR names are lowercase"
        );
        let ingress: serde_yaml::Value =
            serde_yaml::from_str(text(&r, "k8s/ingress.yaml")).unwrap();
        assert_eq!(
            ingress["spec"]["tls"][0]["hosts"][0],
            "billing-api.apps.acme.dev"
        );
        let deployment: serde_yaml::Value =
            serde_yaml::from_str(text(&r, "k8s/deployment.yaml")).unwrap();
        assert_eq!(deployment["metadata"]["name"], "billing-api");
        let annotations = &deployment["spec"]["template"]["metadata"]["annotations"];
        assert_eq!(annotations["prometheus.io/scrape"], "true");
        assert_eq!(annotations["prometheus.io/port"], "8080");
        assert_parses(&r);
        assert!(
            r.files.iter().all(|f| !f.path.starts_with(".paved/")),
            "paved's own record is added by paved"
        );
    }
}

#[test]
fn template_syntax_in_a_value_is_printed_not_run() {
    let templates = shipped_templates();
    let r = render_with(
        &templates,
        "python-fastapi",
        "{{ name }} {% if true %}yes{% endif %} {# c #}",
    );
    let all: String = r
        .files
        .iter()
        .map(|f| String::from_utf8_lossy(&f.contents).into_owned())
        .collect();
    assert!(all.contains("{{ name }} {% if true %}yes{% endif %} {# c #}"));
}

#[test]
fn a_ten_kilobyte_description_renders() {
    let templates = shipped_templates();
    let long = "lorem ipsum: dolor \"sit\" amet\n".repeat(10 * 1024 / 30);
    for name in ["python-fastapi", "node-express"] {
        assert_parses(&render_with(&templates, name, &long));
    }
}

#[test]
fn hostile_and_bad_values_are_refused_with_every_problem_listed() {
    let templates = shipped_templates();
    let t = templates.get("node-express").unwrap();
    let given = values(&[
        ("name", "../x"),
        ("owner", "acme\nteam"),
        ("port", "80"),
        ("colour", "red"),
    ]);
    let errors: Vec<String> = resolve(t, &given)
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(errors.len(), 5, "{errors:#?}");
    assert!(errors[0].starts_with("colour: is not a parameter of node-express"));
    assert!(errors[1].starts_with("name: \"../x\" is not a DNS-1123 label"));
    assert_eq!(errors[2], "description: is required");
    assert!(errors[3].starts_with("owner: \"acme\\nteam\" does not match the pattern"));
    assert_eq!(errors[4], "port: 80 is outside 1024 to 65535");
}

#[test]
fn render_refuses_to_overwrite_a_directory() {
    let templates = shipped_templates();
    let r = render_with(&templates, "node-express", "x");
    let dir = TempDir::new("render");
    r.write_to(dir.path(), false).unwrap();
    let err = r.write_to(dir.path(), false).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("is not empty; pass --force to write into it anyway"),
        "{err}"
    );
    r.write_to(dir.path(), true).unwrap();
}

#[test]
fn paved_render_writes_what_paved_templates_lists() {
    let bin = env!("CARGO_BIN_EXE_paved");
    let listing = Command::new(bin).args(["templates"]).output().unwrap();
    let listing = String::from_utf8(listing.stdout).unwrap();
    assert!(
        listing.contains("python-fastapi 1.0.0 (python)") && listing.contains("--set port="),
        "{listing}"
    );

    let dir = TempDir::new("cli-render");
    let out = dir.path().join("svc");
    let run = Command::new(bin)
        .args([
            "render",
            "--template",
            "python-fastapi",
            "--set",
            "name=orders",
            "--set",
            "description=Takes orders",
        ])
        .args(["--set", "owner=@acme/shop", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(out.join("app/main.py").is_file());
    let again = Command::new(bin)
        .args([
            "render",
            "--template",
            "python-fastapi",
            "--set",
            "name=Orders",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    let err = String::from_utf8(again.stderr).unwrap();
    assert!(
        err.contains("paved: name: \"Orders\" is not a DNS-1123 label"),
        "{err}"
    );
    assert!(err.contains("paved: description: is required"), "{err}");
}

fn hostile() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "\"",
        "'",
        "\\",
        "\n",
        "\r\n",
        "\t",
        "\u{0}",
        "\u{2028}",
        "\u{85}",
        "{{ name }}",
        "{% raw %}",
        "{#",
        "#",
        ": ",
        "- ",
        "---",
        "&",
        "<b>",
        "`",
        "*",
        "@team",
        "é🚀",
        "${{ secrets.X }}",
        "\u{feff}",
    ]);
    prop::collection::vec(
        prop_oneof![pieces.prop_map(str::to_owned), "[ -~]{0,20}"],
        1..10,
    )
    .prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn hostile_descriptions_give_files_that_parse(description in hostile()) {
        let templates = shipped_templates();
        for name in ["python-fastapi", "node-express"] {
            let r = render_with(&templates, name, &description);
            assert_parses(&r);
            // The value lands only as a literal its parser reads back exactly
            // (the literals themselves are proven in tests/scaffold_escape.rs).
            if name == "python-fastapi" {
                let literal = paved_app::scaffold::escape::py(&description);
                let line = format!("SERVICE_DESCRIPTION = {literal}\n");
                prop_assert!(text(&r, "app/__init__.py").contains(&line));
            }
            if name == "node-express" {
                let package: serde_json::Value = serde_json::from_str(text(&r, "package.json")).unwrap();
                prop_assert_eq!(package["description"].as_str(), Some(description.as_str()));
            }
        }
    }
}
