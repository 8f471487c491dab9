//! Reading requests the way GitHub delivers them, and validating them
//! against templates and the organisation's policy.

mod common;

use paved_app::catalog::form::{self, FieldKind, Form, REQUIRED_IDS};
use paved_app::catalog::{CatalogSettings, Problem, ServiceRequest, service_file, validate};

/// A body as GitHub renders a submitted new-service form (CRLF, as browsers send).
fn body(
    name: &str,
    template: &str,
    description: &str,
    owner: &str,
    extras: &str,
    ticked: bool,
) -> String {
    let tick = if ticked { "X" } else { " " };
    format!(
        "### Service name\n\n{name}\n\n### Template\n\n{template}\n\n### Description\n\n{description}\n\n\
         ### Owning team\n\n{owner}\n\n### Extra parameters\n\n{extras}\n\n### Before you submit\n\n\
         - [{tick}] The name is not taken by another service or repository.\n"
    )
    .replace('\n', "\r\n")
}

fn settings() -> CatalogSettings {
    CatalogSettings::parse(include_str!("../catalog/paved.yaml")).unwrap()
}

fn messages(problems: &[Problem]) -> Vec<String> {
    problems.iter().map(ToString::to_string).collect()
}

#[test]
fn the_shipped_form_has_the_fields_paved_reads() {
    let form = Form::new_service();
    assert_eq!(form.labels, ["paved:request"]);
    for id in REQUIRED_IDS {
        assert!(form.field(id).is_some_and(|f| f.required), "{id}");
    }
    let FieldKind::Dropdown { options } = &form.field("template").unwrap().kind else {
        panic!()
    };
    let templates = common::shipped_templates();
    let shipped: Vec<&str> = templates.names().collect();
    for option in options {
        assert!(
            shipped.contains(&option.as_str()),
            "the form offers {option}, which is not a template"
        );
    }
}

#[test]
fn a_submitted_form_becomes_a_request() {
    let b = body(
        "billing-api",
        "python-fastapi",
        "Bills customers.\n\nMonthly.",
        "@acme/payments",
        "port: 9000",
        true,
    );
    let r = form::request(Form::new_service(), &b).unwrap();
    assert_eq!(r.name, "billing-api");
    assert_eq!(r.template, "python-fastapi");
    assert_eq!(r.description, "Bills customers.\n\nMonthly.");
    assert_eq!(r.owner, "@acme/payments");
    assert_eq!(r.parameters.get("port").map(String::as_str), Some("9000"));
}

#[test]
fn empty_fields_and_unticked_boxes_are_reported_together() {
    let b = body(
        "_No response_",
        "None",
        "_No response_",
        "@acme/x",
        "_No response_",
        false,
    );
    let problems = form::request(Form::new_service(), &b).unwrap_err();
    assert_eq!(
        messages(&problems),
        [
            "Service name: is required",
            "Template: is required",
            "Description: is required",
            "Before you submit: tick \"The name is not taken by another service or repository.\"",
        ]
    );
}

#[test]
fn headings_inside_values_and_code_fences_do_not_split_fields() {
    let sneaky =
        "Line one\n### Owning team\n@evil/team\n```\n### Service name\nhijack\n```\n### Template";
    let extras = "### Service name\n\nother";
    let b = body(
        "real-name",
        "node-express",
        sneaky,
        "@acme/payments",
        extras,
        true,
    );
    let submitted = form::read(Form::new_service(), &b);
    assert_eq!(submitted.text["name"], "real-name");
    assert_eq!(submitted.text["template"], "node-express");
    assert_eq!(submitted.text["owner"], "@acme/payments");
    assert_eq!(submitted.text["description"], sneaky);
    assert_eq!(submitted.text["parameters"], extras);
}

#[test]
fn a_body_edited_into_nonsense_is_not_a_request() {
    let problems = form::request(Form::new_service(), "I want a service please").unwrap_err();
    assert_eq!(problems.len(), 5, "{problems:?}");
}

#[test]
fn valid_requests_resolve_every_template_value() {
    let templates = common::shipped_templates();
    let r = ServiceRequest {
        name: "billing-api".into(),
        template: "node-express".into(),
        description: "Bills.".into(),
        owner: "@acme/payments".into(),
        parameters: [("port".to_owned(), "9000".to_owned())].into(),
        resources: Vec::new(),
    };
    let v = validate(&r, &templates, &settings()).unwrap();
    assert_eq!(v.values.get("org").unwrap(), "acme");
    assert_eq!(v.values.get("domain").unwrap(), "apps.example.com");
    assert_eq!(v.values.get("port").unwrap(), 9000);
}

#[test]
fn every_problem_is_listed_in_one_reply() {
    let templates = common::shipped_templates();
    let r = ServiceRequest {
        name: "platform".into(),
        template: "python-fastapi".into(),
        description: "x".into(),
        owner: "payments".into(),
        parameters: [
            ("port".into(), "http".into()),
            ("name".into(), "y".into()),
            ("colour".into(), "red".into()),
        ]
        .into(),
        resources: Vec::new(),
    };
    let mut s = settings();
    s.policy.name_prefixes = vec!["svc-".into()];
    let problems = messages(&validate(&r, &templates, &s).unwrap_err());
    assert_eq!(problems[0], "name: \"platform\" is reserved");
    assert_eq!(problems[1], "name: must start with one of svc-");
    assert_eq!(
        problems[2],
        "name: is set by its own field, not as an extra parameter"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("colour: is not a parameter of python-fastapi")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("owner: \"payments\" does not match")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p == "port: \"http\" is not a whole number"),
        "{problems:?}"
    );
}

#[test]
fn hostile_names_and_unknown_templates_are_refused() {
    let templates = common::shipped_templates();
    for name in [
        "../x",
        ".git",
        "con",
        "Ünicode",
        "a".repeat(64).as_str(),
        "pаyments", /* Cyrillic а */
        "lpt1",
        "kube-system",
    ] {
        let r = ServiceRequest {
            name: name.into(),
            template: "rails".into(),
            owner: "@a/b".into(),
            ..Default::default()
        };
        let problems = messages(&validate(&r, &templates, &settings()).unwrap_err());
        if ["con", "lpt1"].contains(&name) {
            assert_eq!(
                problems[0],
                format!(
                    "name: {name:?} is reserved: a Windows device name, so the repository could not be cloned on Windows"
                )
            );
        } else if name == "kube-system" {
            assert_eq!(
                problems[0],
                "name: \"kube-system\" is reserved: Kubernetes keeps namespaces starting with kube- for itself"
            );
        } else {
            assert!(
                problems[0].starts_with("name: ") && problems[0].contains("not a DNS-1123 label"),
                "{problems:?}"
            );
        }
        assert!(problems.iter().any(|p| p == "template: \"rails\" is not a template here; choose one of node-express, python-fastapi"));
    }
    let mut s = settings();
    s.templates.allowed = vec!["python-fastapi".into()];
    let r = ServiceRequest {
        name: "ok".into(),
        template: "node-express".into(),
        description: "d".into(),
        owner: "@a/b".into(),
        ..Default::default()
    };
    assert_eq!(
        messages(&validate(&r, &templates, &s).unwrap_err()),
        ["template: node-express is not allowed by paved.yaml (allowed: python-fastapi)"]
    );
}

#[test]
fn service_files_parse_with_line_numbers_for_problems() {
    let good = "name: billing-api\ntemplate: python-fastapi\ndescription: Bills.\nowner: \"@acme/payments\"\nparameters:\n  port: 9000\n";
    let r = service_file::parse("services/billing-api.yaml", good).unwrap();
    assert_eq!(r.parameters["port"], "9000");

    let renamed = good.replace("name: billing-api", "name: other");
    let p = service_file::parse("services/billing-api.yaml", &renamed).unwrap_err();
    assert_eq!(
        (p[0].line, p[0].to_string()),
        (
            Some(1),
            "name: \"other\" must equal the file name \"billing-api\"".into()
        )
    );

    let unknown = format!("{good}colour: red\n");
    let p = service_file::parse("services/billing-api.yaml", &unknown).unwrap_err();
    assert_eq!(p[0].line, Some(7));
    assert!(
        p[0].message.contains("unknown field `colour`"),
        "{}",
        p[0].message
    );

    let p = service_file::parse("services/billing-api.yaml", "name: [unclosed\n").unwrap_err();
    assert!(p[0].line.is_some());
    assert!(service_file::service_of_path("services/../x.yaml").is_none());
    assert!(service_file::service_of_path("services/a/b.yaml").is_none());
    assert_eq!(
        service_file::service_of_path("services/ok.yaml"),
        Some("ok")
    );
}

#[test]
fn paved_yaml_is_checked() {
    let s = settings();
    assert_eq!(
        s.environments
            .iter()
            .map(|e| e.name.as_str())
            .collect::<Vec<_>>(),
        ["dev", "staging", "prod"]
    );
    assert!(s.environment("prod").unwrap().review);
    let bad = "organization: -bad\ndomain: localhost\nenvironments:\n  - {name: dev, replicas: {default: 5, max: 2}}\n  - {name: dev}\n";
    let problems = messages(&CatalogSettings::parse(bad).unwrap_err());
    assert_eq!(problems.len(), 4, "{problems:?}");
    assert!(
        CatalogSettings::parse("organization: acme\ndomain: a.b\nsurprise: 1\n").unwrap_err()[0]
            .message
            .contains("unknown field")
    );
    let minimal = CatalogSettings::parse("organization: acme\ndomain: apps.acme.dev\n").unwrap();
    assert_eq!(minimal.environments.len(), 3);
    assert!(minimal.template_allowed("anything"));
}

#[test]
fn paved_check_reports_a_broken_catalog_with_paths_and_lines() {
    let dir = common::TempDir::new("catalog-check");
    let catalog = common::workspace().join("catalog");
    dir.write(
        "paved.yaml",
        &std::fs::read_to_string(catalog.join("paved.yaml")).unwrap(),
    );
    let form =
        std::fs::read_to_string(catalog.join(".github/ISSUE_TEMPLATE/new-service.yml")).unwrap();
    dir.write(
        ".github/ISSUE_TEMPLATE/new-service.yml",
        &form.replace("- node-express", "- rails"),
    );
    dir.write(
        "services/good.yaml",
        "name: good\ntemplate: node-express\ndescription: Fine.\nowner: \"@acme/a\"\n",
    );
    dir.write("services/bad.yaml", "name: bad\ntemplate: node-express\ndescription: x\nowner: nobody\nparameters:\n  port: 1\n");

    let bin = env!("CARGO_BIN_EXE_paved");
    let out = std::process::Command::new(bin)
        .args(["check", "--catalog"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr)
        .unwrap()
        .replace(&dir.path().display().to_string(), "");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines,
        [
            "/.github/ISSUE_TEMPLATE/new-service.yml: the template dropdown offers \"rails\", which is not an allowed template",
            "/services/bad.yaml:4: owner: \"nobody\" does not match the pattern ^@[A-Za-z0-9][A-Za-z0-9-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$",
            "/services/bad.yaml:6: port: 1 is outside 1024 to 65535",
        ]
    );
    let shipped = std::process::Command::new(bin)
        .args(["check", "--catalog"])
        .arg(&catalog)
        .output()
        .unwrap();
    assert!(
        shipped.status.success(),
        "{}",
        String::from_utf8_lossy(&shipped.stderr)
    );
}

#[test]
fn a_name_leaves_room_for_its_longest_environment() {
    let templates = common::shipped_templates();
    // The settings' longest environment is "staging": 63 - 8 = 55 characters.
    let request = |name: String| ServiceRequest {
        name,
        template: "node-express".into(),
        description: "x".into(),
        owner: "@a/b".into(),
        ..Default::default()
    };
    let fits = "a".repeat(55);
    assert!(validate(&request(fits), &templates, &settings()).is_ok());
    let long = "a".repeat(56);
    let problems =
        messages(&validate(&request(long.clone()), &templates, &settings()).unwrap_err());
    assert_eq!(
        problems,
        [format!(
            "name: is 56 characters; at most 55 fit, since its namespace {long}-staging must be at most 63"
        )]
    );
}

/// `paved check --catalog DIR` on a copy of the shipped catalog with
/// `files` added: its exit code and what it printed on stderr.
fn check_with(tag: &str, files: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = common::TempDir::new(tag);
    common::copy_dir(&common::workspace().join("catalog"), dir.path());
    for (path, text) in files {
        dir.write(path, text);
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_paved"))
        .args(["check", "--catalog"])
        .arg(dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr)
        .unwrap()
        .replace(&format!("{}/", dir.path().display()), "");
    (out.status.code(), err)
}

const NAMES_POLICY: &str = r#"package main

deny contains msg if {
    startswith(input.name, "tmp-")
    msg := "temporary names are not services"
}
"#;

#[test]
fn paved_check_compiles_the_policies_and_runs_their_tests() {
    let passing = "package main\n\ntest_tmp_is_denied if {\n    count(deny) == 1 with input as {\"name\": \"tmp-x\"}\n}\n";
    let (code, err) = check_with(
        "check-policy-ok",
        &[
            ("policy/names.rego", NAMES_POLICY),
            ("policy/names_test.rego", passing),
        ],
    );
    assert_eq!((code, err.as_str()), (Some(0), ""));

    // A test that fails is named, and so is the rule it tested.
    let failing = passing.replace("== 1", "== 0");
    let (code, err) = check_with(
        "check-policy-test",
        &[
            ("policy/names.rego", NAMES_POLICY),
            ("policy/names_test.rego", &failing),
        ],
    );
    assert_eq!(code, Some(2));
    assert_eq!(
        err.lines().collect::<Vec<_>>(),
        ["policy/names_test.rego: test_tmp_is_denied failed: it is not true"]
    );

    // A policy that does not compile is named with its line.
    let broken = NAMES_POLICY.replace("msg := \"temporary", "msg := (\"temporary");
    let (code, err) = check_with("check-policy-broken", &[("policy/names.rego", &broken)]);
    assert_eq!(code, Some(2));
    assert!(
        err.starts_with("policy/names.rego:6:1: expecting `)`") && err.lines().count() == 1,
        "{err}"
    );
}

#[test]
fn policy_packages_must_be_rego_package_names() {
    let base = "organization: acme\ndomain: apps.acme.dev\n";
    let good = CatalogSettings::parse(&format!(
        "{base}policy:\n  packages: [main, policy.services]\n"
    ))
    .unwrap();
    assert_eq!(good.policy.packages, ["main", "policy.services"]);
    let problems =
        CatalogSettings::parse(&format!("{base}policy:\n  packages: [\"x-y\", \"a..b\"]\n"))
            .unwrap_err();
    let said: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        said,
        [
            "policy.packages: \"x-y\" is not a Rego package name such as main or policy.services",
            "policy.packages: \"a..b\" is not a Rego package name such as main or policy.services",
        ]
    );
}
