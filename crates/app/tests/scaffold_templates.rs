//! Loading templates: a broken template is refused with an error that names
//! the file and line, before any request could reach it.

mod common;

use common::TempDir;
use paved_app::scaffold::{ParamType, Templates};

const SPEC: &str = r#"name: demo
title: Demo
description: A test template.
language: python
version: 1.0.0
parameters:
  name: {type: string, required: true, pattern: "^[a-z][-a-z0-9]*$"}
  description: {type: string, required: true, max_length: 100}
  owner: {type: string, required: true, pattern: "^@[a-z/-]+$"}
  org: {type: string, default: acme, pattern: "^[a-z]+$"}
  domain: {type: string, default: example.com, pattern: "^[a-z.]+$"}
  port: {type: integer, default: 8080, minimum: 1024, maximum: 65535}
  tier: {type: string, default: gold, enum: [gold, silver]}
"#;

/// A one-template directory with `files` in its skeleton.
fn template(spec: &str, files: &[(&str, &str)]) -> TempDir {
    let dir = TempDir::new("tpl");
    dir.write("demo/template.yaml", spec);
    for (path, body) in files {
        dir.write(&format!("demo/skeleton/{path}"), body);
    }
    dir
}

fn errors(dir: &TempDir) -> Vec<String> {
    match Templates::load(dir.path()) {
        Ok(_) => vec![],
        Err(e) => e
            .iter()
            .map(|e| e.to_string().replace(&dir.path().display().to_string(), ""))
            .collect(),
    }
}

#[test]
fn the_shipped_templates_load_with_the_common_parameters() {
    let t = common::shipped_templates();
    let names: Vec<&str> = t.names().collect();
    assert_eq!(names, ["node-express", "python-fastapi"]);
    for tpl in t.iter() {
        for p in paved_app::scaffold::COMMON_PARAMS {
            assert!(tpl.param(p).is_some(), "{} lacks {p}", tpl.name);
        }
        assert_eq!(tpl.param("port").unwrap().kind, ParamType::Integer);
        assert!(tpl.param("description").unwrap().is_free_text());
    }
}

#[test]
fn a_good_template_loads() {
    let dir = template(
        SPEC,
        &[(
            "README.md",
            "# {{ name }}\n\n{{ description | md }}\n{% if tier == \"gold\" %}gold{% endif %}\n",
        )],
    );
    assert_eq!(errors(&dir), Vec::<String>::new());
}

#[test]
fn an_undeclared_variable_names_file_and_line() {
    let dir = template(SPEC, &[("app.py", "A = 1\nB = {{ colour | py }}\n")]);
    assert_eq!(
        errors(&dir),
        ["/demo/skeleton/app.py:2: variable \"colour\" is not a declared parameter"]
    );
}

#[test]
fn free_text_must_end_in_an_escaping_filter() {
    let dir = template(
        SPEC,
        &[
            ("k8s/cm.yaml", "data:\n  about: {{ description }}\n"),
            ("x.txt", "{{ description | md | upper }}"),
        ],
    );
    assert_eq!(
        errors(&dir),
        [
            "/demo/skeleton/k8s/cm.yaml:2: {{ description }} is free text: end it with an escaping filter (yaml, json, py, js, md)",
            "/demo/skeleton/x.txt:1: {{ description }} is free text: end it with an escaping filter (yaml, json, py, js, md)",
        ]
    );
}

#[test]
fn a_broken_expression_names_the_line() {
    let dir = template(SPEC, &[("main.py", "ok = 1\n\nx = {{ name | }}\n")]);
    assert_eq!(
        errors(&dir),
        ["/demo/skeleton/main.py:3: cannot parse: expected an identifier (must start with a-z)"]
    );
}

#[test]
fn includes_macros_and_unknown_filters_are_refused() {
    let dir = template(
        SPEC,
        &[
            ("a.txt", "{% include \"b.txt\" %}"),
            ("b.txt", "{{ name | safe }}"),
            ("c.txt", "{% for x in tier %}{% endfor %}"),
        ],
    );
    let errs = errors(&dir);
    assert_eq!(errs.len(), 3, "{errs:?}");
    assert!(
        errs[0].contains("a.txt:1: Include is not allowed"),
        "{errs:?}"
    );
    assert!(
        errs[1].contains("b.txt:1: filter \"safe\" is not available"),
        "{errs:?}"
    );
    assert!(
        errs[2].contains("c.txt:1: Forloop is not allowed"),
        "{errs:?}"
    );
}

#[test]
fn parameter_declarations_are_checked() {
    let untyped = SPEC.replace("port: {type: integer,", "port: {");
    assert_eq!(
        errors(&template(&untyped, &[("a", "x")])),
        ["/demo/template.yaml:12: parameter port: has no type (string, integer or boolean)"]
    );
    let bad_default = SPEC.replace("default: 8080", "default: 80");
    assert_eq!(
        errors(&template(&bad_default, &[("a", "x")])),
        ["/demo/template.yaml:12: parameter port: default 80 is outside 1024 to 65535"]
    );
    let missing = SPEC.replace(
        "  domain: {type: string, default: example.com, pattern: \"^[a-z.]+$\"}\n",
        "",
    );
    assert_eq!(
        errors(&template(&missing, &[("a", "x")])),
        ["/demo/template.yaml: every template must declare the parameter \"domain\""]
    );
    let bad_regex = SPEC.replace("^[a-z]+$", "^[a-z+$");
    assert!(
        errors(&template(&bad_regex, &[("a", "x")]))[0]
            .contains("parameter org: pattern does not compile")
    );
    let misnamed = SPEC.replace("name: demo", "name: other");
    assert_eq!(
        errors(&template(&misnamed, &[("a", "x")])),
        ["/demo/template.yaml: name \"other\" must equal the folder name \"demo\""]
    );
}

#[test]
fn file_names_may_hold_variables_but_not_free_text() {
    let ok = template(SPEC, &[("src/{{ name }}/main.py", "X = {{ name | py }}\n")]);
    assert_eq!(errors(&ok), Vec::<String>::new());
    let bad = template(SPEC, &[("docs/{{ description }}.md", "x")]);
    assert_eq!(errors(&bad).len(), 1);
}

#[test]
fn the_built_in_templates_are_the_shipped_folder_byte_for_byte() {
    let builtin = paved_app::scaffold::Templates::builtin().unwrap();
    let shipped = common::shipped_templates();
    let names: Vec<&str> = builtin.names().collect();
    assert_eq!(names, shipped.names().collect::<Vec<_>>());
    for t in shipped.iter() {
        let b = builtin.get(&t.name).unwrap();
        // Same digest: services made from either upgrade the same way.
        assert_eq!(
            (&b.version, &b.digest),
            (&t.version, &t.digest),
            "{}",
            t.name
        );
        assert_eq!(b.changelog, t.changelog, "{}", t.name);
    }
    let sample = paved_app::builtin::sample_catalog();
    let paths: Vec<&str> = sample.iter().map(|(p, _)| p.as_str()).collect();
    assert!(
        paths.contains(&"paved.yaml") && paths.contains(&".github/ISSUE_TEMPLATE/new-service.yml"),
        "{paths:?}"
    );
}
