//! `paved sandbox`: a sandbox for a person, seeded with an organisation, the
//! catalog and platform repositories, the App, its installation and three
//! users, its settings written to an env file that `paved serve` reads.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use paved_sandbox::SandboxError;
use paved_sandbox::{Actor, Permission, Sandbox, SandboxConfig};

/// Where `paved sandbox` listens unless told otherwise: a fixed port, so the
/// env file stays valid across restarts.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:3001";
/// Where `paved serve` listens for webhooks by default.
pub const DEFAULT_WEBHOOK_URL: &str = "http://127.0.0.1:3000/webhook";

#[derive(Debug, Clone)]
pub struct StandaloneOptions {
    /// Keeps the bare repositories under `DIR/<owner>/<repo>.git`; a temporary
    /// directory, removed on exit, when `None`.
    pub dir: Option<PathBuf>,
    /// The env file to write; the App's private key goes beside it.
    pub env_file: PathBuf,
    pub webhook_url: String,
    pub listen: SocketAddr,
    /// Files to seed the catalog repository with (the project's `catalog/`).
    /// `None`: the sample catalog built into paved.
    pub catalog_dir: Option<PathBuf>,
    pub org: String,
}

/// The catalog to seed with when none is named: `./catalog` when there is
/// such a folder, else (`None`) the sample catalog built into paved.
pub fn default_catalog_dir() -> Option<PathBuf> {
    let local = PathBuf::from("catalog");
    local.is_dir().then_some(local)
}

impl StandaloneOptions {
    /// Defaults for everything but the env file.
    pub fn new(env_file: impl Into<PathBuf>) -> Self {
        Self {
            dir: None,
            env_file: env_file.into(),
            webhook_url: DEFAULT_WEBHOOK_URL.into(),
            listen: DEFAULT_LISTEN.parse().expect("a valid socket address"),
            catalog_dir: default_catalog_dir(),
            org: "acme".into(),
        }
    }
}

/// The users seeded, with their role in the organisation; the outsider is a
/// GitHub user with none, who can still open issues on a public catalog.
const ROLES: [(&str, Option<Permission>); 4] = [
    ("admin", Some(Permission::Admin)),
    ("writer", Some(Permission::Write)),
    ("reader", Some(Permission::Read)),
    ("outsider", None),
];

/// Creates the seeded users in `org`: admin, writer, reader and outsider, in
/// that order. The demo's stage and `paved sandbox` have the same people.
pub fn seed_users(sb: &Sandbox, org: &str) -> [Actor; 4] {
    ROLES.map(|(login, permission)| {
        let user = sb.create_user(login);
        if let Some(permission) = permission {
            sb.set_org_role(login, org, permission);
        }
        user
    })
}

/// Starts a seeded sandbox, writes the env file and serves until Ctrl-C.
pub async fn run_standalone(opts: StandaloneOptions) -> Result<(), SandboxError> {
    // Webhooks start after seeding: `paved serve` is not up yet, and a
    // catalog seeded before the App's webhook is set sends none, as on GitHub.
    let sb = Sandbox::start(SandboxConfig {
        listen: opts.listen,
        dir: opts.dir.clone(),
        webhook_url: None,
        ..SandboxConfig::default()
    })
    .await?;
    let summary = seed(&sb, &opts).await?;
    sb.set_webhook_url(Some(opts.webhook_url.clone()));
    println!("{summary}");
    println!("sandbox running at {}; Ctrl-C to stop", sb.url());
    tokio::signal::ctrl_c().await?;
    Ok(())
}

/// Creates the organisation, repositories, installation and users, and writes
/// the env file (and the PEM beside it). Returns a summary without secrets.
pub(crate) async fn seed(sb: &Sandbox, opts: &StandaloneOptions) -> Result<String, SandboxError> {
    let org = opts.org.as_str();
    sb.create_org(org);
    sb.install_app(org);
    let mut env = String::new();
    let users = seed_users(sb, org);
    for user in &users {
        let (login, upper) = (user.login(), user.login().to_uppercase());
        let _ = writeln!(env, "SANDBOX_{upper}_USER={login}");
        let _ = writeln!(env, "SANDBOX_{upper}_TOKEN={}", user.token().expose());
    }
    let (catalog, platform) =
        seed_repositories(sb, org, opts.catalog_dir.as_deref(), users[0].login()).await?;

    let app = sb.app();
    let env_dir = match opts.env_file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    tokio::fs::create_dir_all(&env_dir).await?;
    let key_path = env_dir.join(format!("{}-sandbox.private-key.pem", app.slug));
    write_private(&key_path, app.private_key_pem.expose()).await?;
    let key_path = std::path::absolute(&key_path)?;
    let mut head = format!(
        "GITHUB_API_URL={}\nAPP_ID={}\nPRIVATE_KEY_PATH={}\nWEBHOOK_SECRET={}\n\
         PAVED_CATALOG_REPO={catalog}\nPAVED_PLATFORM_REPO={platform}\n",
        sb.url(),
        app.id,
        key_path.display(),
        app.webhook_secret.expose(),
    );
    // `paved serve` listens where the webhooks go, when that is an address
    // it can bind (a tunnel's host name is not).
    let serve_at = listen_for(&opts.webhook_url);
    if let Some((addr, path)) = &serve_at {
        let _ = writeln!(head, "PAVED_LISTEN={addr}\nPAVED_WEBHOOK_PATH={path}");
    }
    write_private(&opts.env_file, &(head + &env)).await?;
    Ok(format!(
        "sandbox: {url}\n  org {org}, repos {catalog} and {platform}, App id {id}\n  \
         users admin, writer, reader and outsider (not a member)\n  settings written to {env}\n  webhooks go to {hook}{note}",
        url = sb.url(),
        id = app.id,
        env = opts.env_file.display(),
        hook = opts.webhook_url,
        note = if serve_at.is_some() {
            ""
        } else {
            "; set PAVED_LISTEN for paved serve to receive them"
        },
    ))
}

/// The address and path `paved serve` takes webhooks at for `url`, when
/// its host is an IP address: `http://127.0.0.1:3000/webhook` gives
/// `127.0.0.1:3000` and `/webhook`.
fn listen_for(url: &str) -> Option<(SocketAddr, String)> {
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let addr = authority.parse().ok()?;
    let path = if path.is_empty() { "/" } else { path };
    Some((addr, path.to_owned()))
}

/// Creates `<org>/catalog`, seeded from `catalog_dir` (the sample catalog
/// when `None`, a README when the folder is empty or missing), and
/// `<org>/platform`, both pushed by `admin`; their full names.
pub async fn seed_repositories(
    sb: &Sandbox,
    org: &str,
    catalog_dir: Option<&Path>,
    admin: &str,
) -> Result<(String, String), SandboxError> {
    let catalog = format!("{org}/catalog");
    let platform = format!("{org}/platform");
    sb.create_repo(org, "catalog").await?;
    sb.create_repo(org, "platform").await?;
    let mut files = match catalog_dir {
        Some(dir) => read_tree(dir).await?,
        None => paved_app::builtin::sample_catalog(),
    };
    if files.is_empty() {
        files.push(("README.md".into(), b"# Service catalog\n".to_vec()));
    }
    commit(sb, &catalog, &files, "Seed the catalog", admin).await?;
    let platform_files = vec![
        (
            "README.md".to_string(),
            b"# Platform\n\nArgo CD Applications live under `apps/`.\n".to_vec(),
        ),
        ("apps/.gitkeep".to_string(), Vec::new()),
    ];
    commit(
        sb,
        &platform,
        &platform_files,
        "Start the platform repository",
        admin,
    )
    .await?;
    Ok((catalog, platform))
}

async fn commit(
    sb: &Sandbox,
    repo: &str,
    files: &[(String, Vec<u8>)],
    message: &str,
    author: &str,
) -> Result<String, SandboxError> {
    let borrowed: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_slice()))
        .collect();
    sb.push_files(repo, "main", &borrowed, message, author)
        .await
}

/// Every file under `dir` with its path relative to `dir`; empty if `dir` is missing.
async fn read_tree(dir: &Path) -> Result<Vec<(String, Vec<u8>)>, SandboxError> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let mut entries = match tokio::fs::read_dir(&current).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e.into()),
        };
        while let Some(entry) = entries.next_entry().await? {
            let path = entry.path();
            if entry.file_type().await?.is_dir() {
                pending.push(path);
            } else if let Ok(relative) = path.strip_prefix(dir) {
                let name = relative.to_string_lossy().replace('\\', "/");
                files.push((name, tokio::fs::read(&path).await?));
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Writes a file only its owner may read (it holds secrets), atomically so a
/// reader waiting for it never sees it half-written.
async fn write_private(path: &Path, content: &str) -> Result<(), SandboxError> {
    use tokio::io::AsyncWriteExt;
    let mut staging = path.as_os_str().to_owned();
    staging.push(".partial");
    let staging = PathBuf::from(staging);
    // A leftover from an interrupted run could carry a looser mode.
    let _ = tokio::fs::remove_file(&staging).await;
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(&staging).await?;
    file.write_all(content.as_bytes()).await?;
    file.flush().await?;
    drop(file);
    tokio::fs::rename(&staging, path).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn paved_serve_listens_where_an_ip_webhook_url_points() {
        let at = |url| super::listen_for(url).map(|(a, p)| (a.to_string(), p));
        assert_eq!(
            at("http://127.0.0.1:3000/webhook"),
            Some(("127.0.0.1:3000".into(), "/webhook".into()))
        );
        assert_eq!(
            at("http://[::1]:8080"),
            Some(("[::1]:8080".into(), "/".into()))
        );
        assert_eq!(at("https://hooks.example.dev/paved"), None);
        assert_eq!(at("http://localhost:3000/webhook"), None);
    }
}
