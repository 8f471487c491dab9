//! The `paved` command line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use paved_app::config::{Config, Source};
use paved_app::scaffold::foreign::hooks::Hooks;
use paved_app::scaffold::{TemplateSource, Templates};

#[derive(Parser)]
#[command(
    name = "paved",
    version,
    about = "A GitOps-native Internal Developer Platform that lives inside GitHub"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the GitHub App webhook server.
    ///
    /// Settings come from the environment (APP_ID, PRIVATE_KEY or PRIVATE_KEY_PATH,
    /// WEBHOOK_SECRET, GITHUB_API_URL, PAVED_CATALOG_REPO, PAVED_PLATFORM_REPO,
    /// PAVED_LISTEN, PAVED_WEBHOOK_PATH, PAVED_QUEUE_CAPACITY); see the README.
    Serve {
        /// Also read settings from this file of KEY=value lines (the environment wins).
        #[arg(long, value_name = "PATH")]
        env_file: Option<PathBuf>,
    },
    /// See paved work end to end: a local GitHub (the sandbox) and paved in one
    /// process; a developer asks for a service, paved provisions it, then
    /// promotes it, deploys CI's next commit and rolls it back.
    Demo {
        /// Keep the sandbox's bare repositories here [default: a temp folder]
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        #[command(flatten)]
        templates: TemplatesDir,
        #[command(flatten)]
        catalog: CatalogDir,
    },
    /// Run the sandbox, a local GitHub, for a person: seeded with an
    /// organisation, catalog and platform repositories, the App and three
    /// users; its settings go to an env file that `paved serve --env-file` reads.
    Sandbox {
        /// Where to write the settings (the App's key goes beside it).
        #[arg(long, value_name = "PATH", default_value = "sandbox.env")]
        env_file: PathBuf,
        /// Where webhooks are delivered.
        #[arg(long, value_name = "URL", default_value = paved::standalone::DEFAULT_WEBHOOK_URL)]
        webhook_url: String,
        /// Where the sandbox listens.
        #[arg(long, value_name = "ADDR", default_value = paved::standalone::DEFAULT_LISTEN)]
        listen: std::net::SocketAddr,
        /// Keep the bare repositories under DIR/<owner>/<repo>.git.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        #[command(flatten)]
        catalog: CatalogDir,
    },
    /// Upgrade a local checkout of a service to its template's current
    /// version: the same three-way merge `/paved upgrade` proposes, done here.
    Upgrade {
        /// The service's checkout (with its paved/template branch fetched).
        #[arg(long, value_name = "DIR", default_value = ".")]
        repo: PathBuf,
        #[command(flatten)]
        dir: TemplatesDir,
    },
    /// Register paved as a GitHub App: a local page posts app-manifest.json to
    /// GitHub, and the App's id, key and webhook secret land in an env file.
    Setup {
        /// Where to write the App's settings (mode 0600).
        #[arg(long, value_name = "PATH", default_value = "paved.env")]
        env_file: PathBuf,
        /// Register the App for this organisation instead of your account.
        #[arg(long)]
        org: Option<String>,
        /// Where the setup page listens; open it in a browser.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:3002")]
        listen: std::net::SocketAddr,
        /// GitHub's web address.
        #[arg(long, value_name = "URL", default_value = "https://github.com")]
        github_url: String,
        /// GitHub's REST API address.
        #[arg(long, value_name = "URL", default_value = paved_app::config::DEFAULT_API_URL)]
        api_url: String,
        /// Where GitHub should deliver webhooks (paved's public /webhook).
        #[arg(
            long,
            value_name = "URL",
            default_value = "https://paved.example.com/webhook"
        )]
        webhook_url: String,
    },
    /// List the service templates and the parameters each takes.
    Templates {
        #[command(flatten)]
        dir: TemplatesDir,
    },
    /// Render a template locally, the dry run of what paved would push.
    ///
    /// Example: paved render --template python-fastapi --set name=billing-api
    /// --set description="Bills customers" --set owner=@acme/payments --out ./billing-api
    Render {
        /// The template to render.
        #[arg(long)]
        template: String,
        /// A parameter value, as key=value; repeat for each parameter.
        #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_set)]
        values: Vec<(String, String)>,
        /// Where to write the files; must be missing or empty unless --force.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Write into a non-empty directory, replacing files of the same name.
        #[arg(long)]
        force: bool,
        /// Run a Cookiecutter or Copier template's hooks or tasks (code from
        /// the template, run in a child process with a clean environment).
        #[arg(long)]
        trust: bool,
        #[command(flatten)]
        dir: TemplatesDir,
    },
    /// Check the templates offline (every file parses, uses only declared
    /// parameters, and escapes free text) and, with --catalog, a catalog
    /// repository checkout (its issue form, paved.yaml and services/*.yaml).
    Check {
        #[command(flatten)]
        dir: TemplatesDir,
        /// A checkout of the catalog repository to check too.
        #[arg(long, value_name = "DIR")]
        catalog: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
struct TemplatesDir {
    /// The templates directory [default: $PAVED_TEMPLATES, else ./templates, else the built-in templates]
    #[arg(long = "templates", id = "templates", value_name = "DIR")]
    path: Option<PathBuf>,
}

/// The files the sandbox's catalog repository is seeded with.
#[derive(clap::Args)]
struct CatalogDir {
    /// The catalog to seed acme/catalog with [default: ./catalog, else the sample catalog]
    #[arg(long = "catalog", id = "catalog", value_name = "DIR")]
    path: Option<PathBuf>,
}

impl CatalogDir {
    /// The folder named, or `./catalog`; `None`: the built-in sample catalog.
    fn path(&self) -> Option<PathBuf> {
        self.path
            .clone()
            .or_else(paved::standalone::default_catalog_dir)
    }
}

impl TemplatesDir {
    fn source(&self) -> TemplateSource {
        let named = self.path.clone();
        TemplateSource::named(
            named.or_else(|| std::env::var_os("PAVED_TEMPLATES").map(PathBuf::from)),
        )
    }

    fn load(&self) -> Result<Templates, ExitCode> {
        self.source().load().map_err(report)
    }

    /// Only the template `name`, so one render reads one folder.
    fn load_one(&self, name: &str) -> Result<Templates, ExitCode> {
        self.source().load_one(name).map_err(report)
    }
}

fn report(errors: Vec<paved_app::scaffold::TemplateError>) -> ExitCode {
    for e in errors {
        eprintln!("paved: {e}");
    }
    ExitCode::from(2)
}

fn parse_set(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
        .ok_or_else(|| format!("{s:?} is not KEY=VALUE"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo tells its own story: paved's logs show only what went wrong.
    let level = if matches!(cli.command, Command::Demo { .. }) {
        "warn"
    } else {
        "info"
    };
    if let Err(e) = init_logging(level) {
        eprintln!("paved: {e}");
        return ExitCode::from(2);
    }
    match cli.command {
        Command::Serve { env_file } => serve(env_file),
        Command::Demo {
            dir,
            templates,
            catalog,
        } => block_on(paved::demo::run(dir, templates.source(), catalog.path())),
        Command::Sandbox {
            env_file,
            webhook_url,
            listen,
            dir,
            catalog,
        } => {
            let mut opts = paved::standalone::StandaloneOptions::new(env_file);
            opts.webhook_url = webhook_url;
            opts.listen = listen;
            opts.dir = dir;
            opts.catalog_dir = catalog.path();
            block_on(paved::standalone::run_standalone(opts))
        }
        Command::Setup {
            env_file,
            org,
            listen,
            github_url,
            api_url,
            webhook_url,
        } => {
            let options = paved_app::setup::SetupOptions {
                listen,
                env_file,
                org,
                github_url,
                api_url,
                webhook_url,
            };
            block_on(async move {
                let server = paved_app::setup::start(options).await?;
                println!(
                    "open http://{} in a browser and press the button",
                    server.addr
                );
                let created = server.finished().await?;
                println!(
                    "created the App {} (id {}); its settings are in {}",
                    created.slug,
                    created.app_id,
                    created.env_file.display()
                );
                println!(
                    "next: install the App on your organisation, set PAVED_CATALOG_REPO and PAVED_PLATFORM_REPO in that file, then run paved serve --env-file {}",
                    created.env_file.display()
                );
                Ok::<(), paved_app::setup::SetupError>(())
            })
        }
        Command::Upgrade { repo, dir } => {
            dir.load().map_or_else(|code| code, |t| upgrade(&t, &repo))
        }
        Command::Templates { dir } => dir.load().map_or_else(|code| code, |t| list_templates(&t)),
        Command::Render {
            template,
            values,
            out,
            force,
            trust,
            dir,
        } => dir.load_one(&template).map_or_else(
            |code| code,
            |t| render(&t, &template, values, &out, force, trust),
        ),
        Command::Check { dir, catalog } => dir
            .load()
            .map_or_else(|code| code, |t| check(&t, catalog.as_deref())),
    }
}

fn check(templates: &Templates, catalog: Option<&Path>) -> ExitCode {
    let names: Vec<String> = templates
        .iter()
        .map(|t| format!("{} {}", t.name, t.version))
        .collect();
    println!("ok: {} templates ({})", names.len(), names.join(", "));
    let Some(dir) = catalog else {
        return ExitCode::SUCCESS;
    };
    let problems = paved_app::catalog::check::check_dir(dir, templates);
    if problems.is_empty() {
        println!("ok: catalog {}", dir.display());
        return ExitCode::SUCCESS;
    }
    for p in &problems {
        eprintln!("{}/{p}", dir.display());
    }
    ExitCode::from(2)
}

fn upgrade(templates: &Templates, repo: &Path) -> ExitCode {
    use paved_app::upgrade::Local;
    match paved_app::upgrade::upgrade_checkout(repo, templates, false) {
        Ok(Local::AlreadyOn(version)) => {
            println!("already on {version}");
            ExitCode::SUCCESS
        }
        Ok(Local::Merged { from, to }) => {
            println!("upgraded {from} → {to}: merged and committed");
            ExitCode::SUCCESS
        }
        Ok(Local::Conflicts { from, to, paths }) => {
            println!("upgrading {from} → {to}: resolve these, then `git commit`:");
            for p in paths {
                println!("  {p}");
            }
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("paved: {e}");
            ExitCode::from(2)
        }
    }
}

fn list_templates(templates: &Templates) -> ExitCode {
    for t in templates.iter() {
        println!("{} {} ({}): {}", t.name, t.version, t.language, t.title);
        println!("  {}", t.description.trim());
        if t.tool().is_some() {
            list_variables(t);
            continue;
        }
        for p in &t.params {
            let need = match (&p.default, p.required) {
                (Some(d), _) => format!("default {d}"),
                (None, true) => "required".to_owned(),
                (None, false) => "optional".to_owned(),
            };
            println!(
                "  --set {}=…  {:?}, {need}: {}",
                p.name, p.kind, p.description
            );
        }
        println!();
    }
    ExitCode::SUCCESS
}

/// A Cookiecutter or Copier template's variables, by their own names.
fn list_variables(t: &paved_app::scaffold::Template) {
    let mapped: BTreeMap<&str, &str> = t
        .mapping
        .iter()
        .map(|(field, var)| (var.as_str(), field.as_str()))
        .collect();
    for v in t.variables() {
        let mut line = format!("  --set {}=…  {}", v.name, v.kind);
        if !v.choices.is_empty() {
            line.push_str(&format!(", one of {}", v.choices.join(" | ")));
        }
        if !v.default.is_empty() {
            line.push_str(&format!(", default {:?}", v.default));
        }
        if let Some(field) = mapped.get(v.name.as_str()) {
            line.push_str(&format!(", takes the request's {field}"));
        }
        if !v.help.is_empty() {
            line.push_str(&format!(": {}", v.help.replace('\n', " ")));
        }
        println!("{line}");
    }
    let code = t.runs_code();
    if !code.is_empty() {
        println!("  runs code: {} (needs trust)", code.join(", "));
    }
    println!();
}

fn render(
    templates: &Templates,
    name: &str,
    values: Vec<(String, String)>,
    out: &Path,
    force: bool,
    trust: bool,
) -> ExitCode {
    let Some(template) = templates.get(name) else {
        let known: Vec<&str> = templates.names().collect();
        eprintln!(
            "paved: no template {name:?} (there are: {})",
            known.join(", ")
        );
        return ExitCode::from(2);
    };
    let given: BTreeMap<String, String> = values.into_iter().collect();
    let values = match paved_app::scaffold::resolve(template, &given) {
        Ok(v) => v,
        Err(errors) => {
            for e in errors {
                eprintln!("paved: {e}");
            }
            return ExitCode::from(2);
        }
    };
    let destination = std::path::absolute(out).unwrap_or_else(|_| out.to_owned());
    let mut hooks = Hooks::refused(&std::env::temp_dir(), &destination.display().to_string());
    hooks.trusted = trust;
    let result = paved_app::scaffold::render(template, &values, &hooks)
        .and_then(|r| r.write_to(out, force).map(|()| r));
    match result {
        Ok(r) => {
            println!(
                "wrote {} files from {} {} to {}",
                r.files.len(),
                template.name,
                template.version,
                out.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("paved: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(env_file: Option<PathBuf>) -> ExitCode {
    let config = match load_config(env_file) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("paved: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    match runtime.block_on(paved_app::server::serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("paved: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// Runs `future` on a fresh runtime; an error is printed and exits 1.
fn block_on<E: std::fmt::Display>(
    future: impl std::future::Future<Output = Result<(), E>>,
) -> ExitCode {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    match runtime.block_on(future) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("paved: {e}");
            ExitCode::FAILURE
        }
    }
}

fn load_config(env_file: Option<PathBuf>) -> Result<Config, paved_app::config::ConfigError> {
    let mut source = Source::from_process();
    if let Some(path) = env_file {
        source = source.with_env_file(&path)?;
    }
    Config::load(&source)
}

/// Human-readable logs by default (`PAVED_LOG_FORMAT=text`), JSON with
/// `PAVED_LOG_FORMAT=json`; the level comes from `RUST_LOG` (default
/// `level`). Colour only on a terminal, and never with `NO_COLOR` set.
fn init_logging(level: &str) -> Result<(), String> {
    use std::io::IsTerminal as _;
    use tracing_subscriber::EnvFilter;
    let json = match std::env::var("PAVED_LOG_FORMAT").as_deref() {
        Err(_) => false,
        Ok(f) if f.eq_ignore_ascii_case("text") => false,
        Ok(f) if f.eq_ignore_ascii_case("json") => true,
        Ok(other) => return Err(format!("PAVED_LOG_FORMAT={other:?}: expected text or json")),
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// clap checks a command line's definition only when it is parsed:
    /// every subcommand's, here, at once.
    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory as _;
        super::Cli::command().debug_assert();
    }
}
