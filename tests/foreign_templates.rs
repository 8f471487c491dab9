//! Cookiecutter and Copier templates, unmodified, render byte for byte as
//! the tools themselves render them: `paved render` beside
//! `scripts/template_oracle.py` (Cookiecutter 2.7.1 and Copier 9.19.1, as CI
//! installs them with the validators), on the public templates in
//! `../shared/templates-public/` and on the small ones in `tests/templates/`
//! that each exercise one part of the tools' semantics. The trees must hold
//! the same paths, the same bytes and the same executable bits.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{TempDir, git};

/// One template and the values given to both renders.
struct Case {
    tool: &'static str,
    template: &'static str,
    values: &'static [(&'static str, &'static str)],
}

const SHARED: &[Case] = &[
    Case {
        tool: "cookiecutter",
        template: "GerbenRampaart+cookiecutter-aws-sam-nodejs-expressjs-typescript",
        values: &[],
    },
    Case {
        tool: "cookiecutter",
        template: "GerbenRampaart+cookiecutter-aws-sam-nodejs-expressjs-typescript",
        values: &[("name", "PetStore")],
    },
    Case {
        tool: "cookiecutter",
        template: "kragniz+cookiecutter-pypackage-minimal",
        values: &[],
    },
    Case {
        tool: "cookiecutter",
        template: "kragniz+cookiecutter-pypackage-minimal",
        values: &[("package_name", "billing"), ("readme_pypi_badge", "no")],
    },
    Case {
        tool: "cookiecutter",
        template: "lacion+cookiecutter-golang",
        values: &[],
    },
    Case {
        tool: "cookiecutter",
        template: "lacion+cookiecutter-golang",
        values: &[
            ("app_name", "orders"),
            ("use_ci", "circle"),
            ("go_mod_or_dep", "dep"),
            ("use_docker", "n"),
            ("use_git", "n"),
        ],
    },
    Case {
        tool: "cookiecutter",
        template: "fpgmaas+cookiecutter-poetry",
        values: &[],
    },
    Case {
        tool: "cookiecutter",
        template: "fpgmaas+cookiecutter-poetry",
        values: &[
            ("project_name", "billing-api"),
            ("include_github_actions", "n"),
            ("mkdocs", "n"),
            ("open_source_license", "Not open source"),
        ],
    },
    Case {
        tool: "cookiecutter",
        template: "scientific-python+cookie",
        values: &[],
    },
    Case {
        tool: "cookiecutter",
        template: "scientific-python+cookie",
        values: &[
            ("project_name", "orbit"),
            ("backend", "maturin"),
            ("license", "Apache"),
            ("docs", "zensical"),
            ("vcs", "no"),
        ],
    },
    Case {
        tool: "copier",
        template: "OCA+oca-addons-repo-template",
        values: &[
            ("repo_slug", "server-tools"),
            ("repo_name", "Server tools"),
            ("repo_description", "Tools for servers"),
        ],
    },
    Case {
        tool: "copier",
        template: "OCA+oca-addons-repo-template",
        values: &[
            ("repo_slug", "web"),
            ("repo_name", "Web"),
            ("repo_description", "Web addons"),
            ("odoo_version", "12.0"),
            ("rebel_module_groups", "[a, b]"),
        ],
    },
];

const OWN: &[Case] = &[
    Case {
        tool: "cookiecutter",
        template: "cc-semantics",
        values: &[],
    },
    Case {
        tool: "cookiecutter",
        template: "cc-semantics",
        values: &[
            ("project_name", "Billing API"),
            ("flavour", "chocolate"),
            ("use_docker", "no"),
        ],
    },
    Case {
        tool: "copier",
        template: "copier-semantics",
        values: &[],
    },
    Case {
        tool: "copier",
        template: "copier-semantics",
        values: &[
            ("project_name", "Orders Service"),
            ("python", "3.11"),
            ("license", "Apache-2.0"),
            ("replicas", "1"),
        ],
    },
];

/// A templates folder holding `../shared`'s public templates (linked, so
/// both tools read one path) and the sidecar that picks Cookiecutter for the
/// template that is both.
fn shared_templates(scratch: &Path) -> Option<PathBuf> {
    let public = common::shared("templates-public")?;
    let dir = scratch.join("templates");
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(&public).unwrap() {
        let entry = entry.unwrap();
        std::os::unix::fs::symlink(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    std::fs::write(
        dir.join("scientific-python+cookie.paved.yaml"),
        "tool: cookiecutter\n",
    )
    .unwrap();
    Some(dir)
}

/// The tool's render of `case` into `out`; `None` when Python lacks the tool.
fn oracle(case: &Case, template: &Path, out: &Path) -> Option<()> {
    let mut command = Command::new("python3");
    command
        .arg(common::workspace().join("scripts/template_oracle.py"))
        .arg(case.tool)
        .arg(template)
        .arg(out);
    for (k, v) in case.values {
        command.arg(format!("{k}={v}"));
    }
    let result = command.output().unwrap();
    if result.status.code() == Some(3) {
        return None;
    }
    assert!(
        result.status.success(),
        "{} {}: {}",
        case.tool,
        case.template,
        String::from_utf8_lossy(&result.stderr)
    );
    Some(())
}

fn paved_render(templates: &Path, case: &Case, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_paved"));
    command
        .args(["render", "--templates"])
        .arg(templates)
        .args(["--template", case.template, "--out"])
        .arg(out)
        .args(extra);
    for (k, v) in case.values {
        command.args(["--set", &format!("{k}={v}")]);
    }
    command.output().unwrap()
}

/// Every file under `root` (`.git` left out: a hook may make one), with its
/// bytes and executable bit.
fn tree(root: &Path) -> BTreeMap<String, (Vec<u8>, bool)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = BTreeMap::new();
    let mut pending = vec![root.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if path.file_name().unwrap() != ".git" {
                    pending.push(path);
                }
                continue;
            }
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            out.insert(rel, (std::fs::read(&path).unwrap(), mode & 0o111 != 0));
        }
    }
    out
}

/// Renders `case` both ways and asserts the trees are the same. The tool
/// writes first; its tree is moved aside and paved writes to the very same
/// path, so templates that print it (Copier's `_folder_name`, Cookiecutter's
/// `_output_dir`) agree. Cookiecutter makes its project folder inside the
/// output folder; paved is pointed at that folder.
fn same_as_the_tool(templates: &Path, case: &Case, scratch: &Path) -> Option<usize> {
    let template = templates.join(case.template);
    let work = scratch.join(format!("{}-{}", case.template, case.values.len()));
    let out = work.join("out");
    oracle(case, &template, &out)?;
    let target = match case.tool {
        "cookiecutter" => std::fs::read_dir(&out)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path(),
        _ => out.clone(),
    };
    let moved = work.join("oracle");
    std::fs::rename(&target, &moved).unwrap();
    let _ = std::fs::remove_dir(&out);
    let ours = paved_render(templates, case, &target, &["--trust"]);
    assert!(
        ours.status.success(),
        "{}: {}",
        case.template,
        String::from_utf8_lossy(&ours.stderr)
    );
    let expected = (tree(&moved), tree(&target));
    let (theirs, ours) = expected;
    let only_theirs: Vec<&String> = theirs.keys().filter(|k| !ours.contains_key(*k)).collect();
    let only_ours: Vec<&String> = ours.keys().filter(|k| !theirs.contains_key(*k)).collect();
    assert!(
        only_theirs.is_empty() && only_ours.is_empty(),
        "{} {:?}: only {}'s: {only_theirs:?}; only paved's: {only_ours:?}",
        case.template,
        case.values,
        case.tool
    );
    for (path, (bytes, executable)) in &theirs {
        let (our_bytes, our_executable) = &ours[path];
        assert!(
            bytes == our_bytes,
            "{} {:?}: {path} differs\n--- {}\n{}\n--- paved\n{}",
            case.template,
            case.values,
            case.tool,
            String::from_utf8_lossy(bytes),
            String::from_utf8_lossy(our_bytes)
        );
        assert_eq!(
            executable, our_executable,
            "{}: {path}'s executable bit",
            case.template
        );
    }
    Some(theirs.len())
}

#[test]
fn public_templates_render_as_their_tools_render_them() {
    let scratch = TempDir::new("foreign-shared");
    let Some(templates) = shared_templates(&scratch.0) else {
        return;
    };
    let mut files = 0;
    for case in SHARED {
        let Some(n) = same_as_the_tool(&templates, case, &scratch.0) else {
            common::skip(
                "python3 has no cookiecutter or copier",
                "PAVED_REQUIRE_VALIDATORS",
            );
            return;
        };
        assert!(n > 0, "{}: the tool wrote nothing", case.template);
        files += n;
    }
    eprintln!("{} renders, {files} files: byte-identical", SHARED.len());
}

#[test]
fn each_semantic_renders_as_the_tools_render_it() {
    let scratch = TempDir::new("foreign-own");
    let templates = common::workspace().join("tests/templates");
    for case in OWN {
        if same_as_the_tool(&templates, case, &scratch.0).is_none() {
            common::skip(
                "python3 has no cookiecutter or copier",
                "PAVED_REQUIRE_VALIDATORS",
            );
            return;
        }
    }
}

/// Asserts `paved render` failed with `needle` in its error and wrote nothing.
fn refused(templates: &Path, case: &Case, extra: &[&str], needle: &str, scratch: &Path) {
    let out = scratch.join(format!("refused-{}", case.template));
    let result = paved_render(templates, case, &out, extra);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(!result.status.success(), "{}: rendered", case.template);
    assert!(stderr.contains(needle), "{}: {stderr}", case.template);
    assert!(!out.exists(), "{}: wrote {}", case.template, out.display());
}

#[test]
fn hooks_run_only_when_trusted_and_extensions_never() {
    let scratch = TempDir::new("foreign-refused");
    let Some(templates) = shared_templates(&scratch.0) else {
        return;
    };
    let hooked = Case {
        tool: "cookiecutter",
        template: "fpgmaas+cookiecutter-poetry",
        values: &[],
    };
    refused(
        &templates,
        &hooked,
        &[],
        "hooks/post_gen_project.py, hooks/pre_gen_project.py",
        &scratch.0,
    );
    // The same folder read as Copier loads Python code: refused, by name.
    std::fs::write(
        templates.join("scientific-python+cookie.paved.yaml"),
        "tool: copier\n",
    )
    .unwrap();
    let extended = Case {
        tool: "copier",
        template: "scientific-python+cookie",
        values: &[],
    };
    refused(
        &templates,
        &extended,
        &["--trust"],
        "_jinja_extensions loads Python code (copier_templates_extensions.TemplateExtensionLoader, helpers/extensions.py:CookiecutterNamespace)",
        &scratch.0,
    );
    let check = Command::new(env!("CARGO_BIN_EXE_paved"))
        .args(["check", "--templates"])
        .arg(&templates)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(!check.status.success());
    assert!(
        stderr.contains(
            "scientific-python+cookie/copier.yml:105: _jinja_extensions loads Python code"
        ),
        "{stderr}"
    );
}

#[test]
fn check_says_what_a_catalog_needs_to_take_requests_for_them() {
    let scratch = TempDir::new("foreign-check");
    let Some(templates) = shared_templates(&scratch.0) else {
        return;
    };
    std::fs::write(
        templates.join("lacion+cookiecutter-golang.paved.yaml"),
        "variables:\n  name: app_name\n  description: project_short_description\n  owner: full_name\n",
    )
    .unwrap();
    let catalog = scratch.0.join("catalog");
    common::copy_dir(&common::workspace().join("catalog"), &catalog);
    let settings = std::fs::read_to_string(catalog.join("paved.yaml")).unwrap();
    let settings = settings
        .replace(
            "  allowed: [python-fastapi, node-express]",
            "  allowed: [kragniz+cookiecutter-pypackage-minimal, lacion+cookiecutter-golang, fpgmaas+cookiecutter-poetry]",
        )
        .replace("  trusted: []", "  trusted: [lacion+cookiecutter-golang, gone]");
    std::fs::write(catalog.join("paved.yaml"), settings).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_paved"))
        .args(["check", "--templates"])
        .arg(&templates)
        .arg("--catalog")
        .arg(&catalog)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "paved.yaml: template kragniz+cookiecutter-pypackage-minimal cannot take a request: kragniz+cookiecutter-pypackage-minimal.paved.yaml beside it does not say which variables take the name, description, owner",
        "paved.yaml: template fpgmaas+cookiecutter-poetry runs code (hooks/post_gen_project.py, hooks/pre_gen_project.py), so its requests are refused until templates.trusted names it",
        "paved.yaml: templates.trusted names \"gone\", which is not a template here",
    ] {
        assert!(err.contains(expected), "{expected}\n{err}");
    }
    // The mapped and trusted one is fine.
    assert!(
        !err.contains("template lacion+cookiecutter-golang"),
        "{err}"
    );
}

#[test]
fn a_copier_service_upgrades_by_a_merge_that_keeps_its_changes() {
    use paved_app::scaffold::base::Service;
    use paved_app::scaffold::foreign::hooks::Hooks;
    use paved_app::scaffold::publish::{answers_file, scaffold_files};
    use paved_app::scaffold::{Templates, render_service, resolve};

    let scratch = TempDir::new("foreign-upgrade");
    let templates = scratch.0.join("templates");
    let template = templates.join("copier-semantics");
    common::copy_dir(
        &common::workspace().join("tests/templates/copier-semantics"),
        &template,
    );
    std::fs::write(
        templates.join("copier-semantics.paved.yaml"),
        "version: 1.0.0\n",
    )
    .unwrap();

    // The service as paved made it: the render, the standard base, the records.
    let loaded = Templates::load_one(&templates, "copier-semantics").unwrap();
    let tpl = loaded.get("copier-semantics").unwrap();
    let given = BTreeMap::from([("project_name".to_owned(), "Orders".to_owned())]);
    let values = resolve(tpl, &given).unwrap();
    let service = Service {
        name: "orders".into(),
        org: "acme".into(),
        domain: "apps.example.com".into(),
        port: 8080,
    };
    let hooks = Hooks::refused(&scratch.0, "orders");
    let (rendered, base) = render_service(tpl, &values, &hooks, &service).unwrap();
    assert_eq!(base.as_ref(), Some(&service));
    let repo = scratch.0.join("orders");
    for f in scaffold_files(
        &rendered,
        answers_file(
            tpl,
            &values,
            "https://example/acme/catalog/issues/2",
            base.as_ref(),
        ),
    ) {
        let path = repo.join(&f.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, f.contents.unwrap()).unwrap();
    }
    // Copier's own answers file came from the template; the base from paved.
    let answers = std::fs::read_to_string(repo.join(".answers/orders.yml")).unwrap();
    assert!(answers.contains("project_name: Orders"), "{answers}");
    assert!(repo.join("k8s/kustomization.yaml").is_file());
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "Scaffold"]);
    git(&repo, &["branch", "paved/template"]);

    let readme = std::fs::read_to_string(repo.join("README.md")).unwrap();
    std::fs::write(repo.join("README.md"), format!("Ours.\n{readme}")).unwrap();
    std::fs::write(repo.join("local-settings.toml"), "settings = 2 # ours\n").unwrap();
    git(&repo, &["commit", "-q", "-am", "Our README and settings"]);
    // _skip_if_exists: a change to this file never reaches a service that has it.
    std::fs::write(
        template.join("template/local-settings.toml"),
        "settings = 3\n",
    )
    .unwrap();
    let source = template.join("template/README.md.jinja");
    let text = std::fs::read_to_string(&source).unwrap();
    std::fs::write(
        &source,
        format!("{text}Upgraded for {{{{ project_name }}}}.\n"),
    )
    .unwrap();
    std::fs::write(
        templates.join("copier-semantics.paved.yaml"),
        "version: 1.1.0\n",
    )
    .unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_paved"))
        .args(["upgrade", "--repo"])
        .arg(&repo)
        .arg("--templates")
        .arg(&templates)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(said, "upgraded 1.0.0 → 1.1.0: merged and committed\n");
    let readme = std::fs::read_to_string(repo.join("README.md")).unwrap();
    assert!(
        readme.starts_with("Ours.\n") && readme.ends_with("Upgraded for Orders.\n"),
        "{readme}"
    );
    assert!(
        repo.join("k8s/kustomization.yaml").is_file(),
        "the base is kept"
    );
    assert_eq!(
        std::fs::read_to_string(repo.join("local-settings.toml")).unwrap(),
        "settings = 2 # ours\n"
    );
    let record = std::fs::read_to_string(repo.join(".paved/answers.yml")).unwrap();
    assert!(
        record.contains("version: 1.1.0") && record.contains("base:"),
        "{record}"
    );
    assert_eq!(git(&repo, &["status", "--porcelain"]), "");
}

#[test]
fn a_request_lands_in_the_templates_variables_and_bad_values_are_its_fields() {
    use paved_app::catalog::{CatalogSettings, ServiceRequest, validate};
    use paved_app::scaffold::Templates;

    let scratch = TempDir::new("foreign-request");
    let templates = scratch.0.join("templates");
    common::copy_dir(
        &common::workspace().join("tests/templates/cc-semantics"),
        &templates.join("cc-semantics"),
    );
    let templates_loaded = |sidecar: &str| {
        std::fs::write(templates.join("cc-semantics.paved.yaml"), sidecar).unwrap();
        Templates::load(&templates).unwrap()
    };
    let settings = CatalogSettings::defaults("acme");
    let request = |description: &str| ServiceRequest {
        name: "billing-api".into(),
        template: "cc-semantics".into(),
        description: description.into(),
        owner: "@acme/payments".into(),
        parameters: BTreeMap::from([("flavour".into(), "chocolate".into())]),
        resources: Vec::new(),
    };

    // Without a mapping, a request has nowhere to go.
    let unmapped = templates_loaded("title: Semantics\n");
    let problems = validate(&request("Bills."), &unmapped, &settings).unwrap_err();
    let fields: Vec<_> = problems.iter().filter_map(|p| p.field.as_deref()).collect();
    assert_eq!(fields, ["name", "description", "owner"], "{problems:?}");

    let mapped = templates_loaded(
        "variables:\n  name: project_slug\n  description: project_name\n  owner: kebab\n",
    );
    let valid = validate(&request("Bills customers"), &mapped, &settings).unwrap();
    let values: Vec<(&str, &serde_json::Value)> = valid
        .values
        .as_map()
        .iter()
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    assert_eq!(
        values,
        [
            ("flavour", &serde_json::json!("chocolate")),
            ("kebab", &serde_json::json!("@acme/payments")),
            ("project_name", &serde_json::json!("Bills customers")),
            ("project_slug", &serde_json::json!("billing-api")),
        ]
    );
    // Values written unescaped stay one line of text that is not Jinja;
    // the problem is the requester's field, not the template's variable.
    for bad in ["Bills\ncustomers", "Bills {{ cookiecutter.x }}"] {
        let problems = validate(&request(bad), &mapped, &settings).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(
            problems[0].field.as_deref(),
            Some("description"),
            "{problems:?}"
        );
    }
    // A template whose hooks are not trusted takes no request at all.
    let hooked = scratch.0.join("hooked");
    common::copy_dir(
        &common::workspace().join("tests/templates/cc-semantics"),
        &hooked.join("cc-semantics"),
    );
    std::fs::create_dir_all(hooked.join("cc-semantics/hooks")).unwrap();
    std::fs::write(
        hooked.join("cc-semantics/hooks/post_gen_project.sh"),
        "#!/bin/sh\ntrue\n",
    )
    .unwrap();
    std::fs::copy(
        templates.join("cc-semantics.paved.yaml"),
        hooked.join("cc-semantics.paved.yaml"),
    )
    .unwrap();
    let with_hooks = Templates::load(&hooked).unwrap();
    let problems = validate(&request("Bills."), &with_hooks, &settings).unwrap_err();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0]
            .to_string()
            .contains("runs code when it renders (hooks/post_gen_project.sh)"),
        "{problems:?}"
    );
    let mut trusting = settings.clone();
    trusting.templates.trusted.push("cc-semantics".into());
    assert!(validate(&request("Bills."), &with_hooks, &trusting).is_ok());
    // A variable a field goes to is not also a parameter.
    let mut twice = request("Bills.");
    twice
        .parameters
        .insert("project_slug".into(), "other".into());
    let problems = validate(&twice, &mapped, &settings).unwrap_err();
    assert!(
        problems
            .iter()
            .any(|p| p.field.as_deref() == Some("project_slug")),
        "{problems:?}"
    );
}

#[test]
fn paved_templates_lists_their_variables_choices_and_defaults() {
    let scratch = TempDir::new("foreign-list");
    let Some(templates) = shared_templates(&scratch.0) else {
        return;
    };
    let out = Command::new(env!("CARGO_BIN_EXE_paved"))
        .args(["templates", "--templates"])
        .arg(&templates)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = String::from_utf8(out.stdout).unwrap();
    for line in [
        "fpgmaas+cookiecutter-poetry 0.0.0+",
        "  --set project_slug=…  string, default \"{{cookiecutter.project_name|lower|replace('-', '_')}}\"",
        "  --set publish_to=…  choice, one of pypi | artifactory | none, default \"pypi\"",
        "  runs code: hooks/post_gen_project.py, hooks/pre_gen_project.py (needs trust)",
        "  --set readme_pypi_badge=…  boolean, default \"True\"",
        "  --set odoo_version=…  float, one of 10.0 | 11.0 | 12.0 | 13.0 | 14.0 | 15.0 | 16.0 | 17.0 | 18.0 | 19.0, default \"19.0\": Which Odoo version are we deploying in this branch?",
        "  --set license=…  choice, one of BSD | Apache | MIT, default \"BSD\": Select a license",
    ] {
        assert!(listed.contains(line), "{line}\n{listed}");
    }
}
