//! Hooks and tasks: the code a Cookiecutter or Copier template runs around
//! a render. paved runs it only for a template the organisation trusts, in a
//! child process with a clean environment (no token, no paved setting), in a
//! scratch folder that holds only the render, with a time limit; then it
//! reads back what the code left there.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::Output;
use crate::scaffold::render::{RenderError, RenderedFile};

/// The most output of a hook kept to show when it fails.
const OUTPUT_KEPT: usize = 16 * 1024;
/// The `PATH` hooks see: the system's, not paved's environment.
const PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// Whether and how hooks run.
#[derive(Debug, Clone)]
pub struct Hooks {
    /// The organisation trusts this template's code (`paved.yaml`).
    pub trusted: bool,
    /// Where scratch folders are made.
    pub scratch: PathBuf,
    pub timeout: Duration,
    /// The folder the tool would be told to write to; some templates print
    /// it (Cookiecutter's `_output_dir`, Copier's `_copier_conf.dst_path`).
    pub destination: String,
}

impl Hooks {
    /// Hooks refused: a template with any fails to render.
    pub fn refused(scratch: &Path, destination: &str) -> Self {
        Self {
            trusted: false,
            scratch: scratch.to_owned(),
            timeout: Duration::from_secs(60),
            destination: destination.to_owned(),
        }
    }

    /// Cookiecutter's order: `pre_gen_project` in the empty project folder,
    /// the files, then `post_gen_project`; each script rendered first.
    pub(super) fn run_cookiecutter(
        &self,
        output: Output,
        scripts: &[(String, String)],
    ) -> Result<Output, RenderError> {
        let scratch = Scratch::new(&self.scratch)?;
        let project = scratch.path.join("project");
        mkdir(&project)?;
        let find = |stem: &str| scripts.iter().find(|(path, _)| hook_stem(path) == stem);
        if let Some((path, text)) = find("pre_prompt") {
            return Err(RenderError::Hook {
                hook: path.clone(),
                output: format!(
                    "pre_prompt hooks change the template itself before rendering; paved does not run them ({} bytes)",
                    text.len()
                ),
            });
        }
        if let Some((path, text)) = find("pre_gen_project") {
            self.run_script(&scratch.path, &project, path, text)?;
        }
        write_files(&project, &output.files)?;
        if let Some((path, text)) = find("post_gen_project") {
            self.run_script(&scratch.path, &project, path, text)?;
        }
        let files = read_back(&project)?;
        Ok(Output { files, ..output })
    }

    /// Copier's `_tasks`, in order, in the rendered folder.
    pub(super) fn run_copier(
        &self,
        output: Output,
        commands: &[Vec<String>],
    ) -> Result<Output, RenderError> {
        let scratch = Scratch::new(&self.scratch)?;
        let project = scratch.path.join("project");
        mkdir(&project)?;
        write_files(&project, &output.files)?;
        for argv in commands {
            let mut command = Command::new(&argv[0]);
            command.args(&argv[1..]).env("COPIER_OPERATION", "copy");
            self.run(command, &scratch.path, &project, &argv.join(" "))?;
        }
        let files = read_back(&project)?;
        Ok(Output { files, ..output })
    }

    /// One hook script, written beside the project and run in it: Python
    /// scripts with `python3`, others directly (they need a `#!` line).
    fn run_script(
        &self,
        scratch: &Path,
        project: &Path,
        path: &str,
        text: &str,
    ) -> Result<(), RenderError> {
        let name = path.rsplit('/').next().unwrap_or(path);
        let script = scratch.join(name);
        std::fs::write(&script, text).map_err(|source| RenderError::Io {
            path: script.clone(),
            source,
        })?;
        let command = if name.ends_with(".py") {
            let mut c = Command::new("python3");
            c.arg(&script);
            c
        } else {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).map_err(
                |source| RenderError::Io {
                    path: script.clone(),
                    source,
                },
            )?;
            Command::new(&script)
        };
        self.run(command, scratch, project, path)
    }

    /// Runs `command` in `cwd` with nothing of paved's environment, killing
    /// its whole process group at the time limit.
    fn run(
        &self,
        mut command: Command,
        home: &Path,
        cwd: &Path,
        what: &str,
    ) -> Result<(), RenderError> {
        use std::os::unix::process::CommandExt;
        command
            .current_dir(cwd)
            .env_clear()
            .env("PATH", PATH)
            .env("HOME", home)
            .env("LANG", "C.UTF-8")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let fail = |output: String| RenderError::Hook {
            hook: what.to_owned(),
            output,
        };
        let mut child = command
            .spawn()
            .map_err(|e| fail(format!("could not start: {e}")))?;
        let readers = [
            child
                .stdout
                .take()
                .map(|s| std::thread::spawn(move || drain(s))),
            child
                .stderr
                .take()
                .map(|s| std::thread::spawn(move || drain(s))),
        ];
        let started = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if started.elapsed() >= self.timeout => {
                    let group = i32::try_from(child.id()).unwrap_or(0);
                    // SAFETY: kill(2) on the child's own process group.
                    unsafe { libc::kill(-group, libc::SIGKILL) };
                    let _ = child.wait();
                    break None;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => return Err(fail(format!("could not wait for it: {e}"))),
            }
        };
        let mut text = String::new();
        for reader in readers.into_iter().flatten() {
            text.push_str(&reader.join().unwrap_or_default());
        }
        match status {
            Some(s) if s.success() => Ok(()),
            Some(s) => Err(fail(format!("failed ({s}):\n{}", tail(&text)))),
            None => Err(fail(format!(
                "did not finish within {} s and was stopped:\n{}",
                self.timeout.as_secs(),
                tail(&text)
            ))),
        }
    }
}

fn hook_stem(path: &str) -> &str {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.split_once('.').map_or(name, |(stem, _)| stem)
}

fn drain(mut stream: impl Read) -> String {
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The end of a hook's output, where the error usually is.
fn tail(text: &str) -> &str {
    let text = text.trim_end();
    match text.len().checked_sub(OUTPUT_KEPT) {
        Some(start) => {
            let start = (start..text.len())
                .find(|i| text.is_char_boundary(*i))
                .unwrap_or(0);
            &text[start..]
        }
        None => text,
    }
}

/// A folder removed when dropped.
struct Scratch {
    path: PathBuf,
}

impl Scratch {
    fn new(parent: &Path) -> Result<Self, RenderError> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = parent.join(format!("hooks-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        mkdir(&path)?;
        Ok(Self { path })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

fn mkdir(path: &Path) -> Result<(), RenderError> {
    std::fs::create_dir_all(path).map_err(|source| RenderError::Io {
        path: path.to_owned(),
        source,
    })
}

fn write_files(root: &Path, files: &[RenderedFile]) -> Result<(), RenderError> {
    let rendered = crate::scaffold::Rendered {
        files: files.to_vec(),
        record: None,
    };
    rendered.write_to(root, true)
}

/// Every file under `root` after the hooks ran, `.git` left out (a hook may
/// `git init`; paved makes its own commit).
fn read_back(root: &Path) -> Result<Vec<RenderedFile>, RenderError> {
    use std::os::unix::fs::PermissionsExt;
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| RenderError::Io { path, source }
    };
    let mut files = Vec::new();
    let mut pending = vec![root.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let entry = entry.map_err(io(&dir))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(io(&path))?;
            if kind.is_dir() {
                if entry.file_name() != ".git" {
                    pending.push(path);
                }
            } else if kind.is_file() {
                let rel = path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .into_owned();
                let mode = entry.metadata().map_err(io(&path))?.permissions().mode();
                files.push(RenderedFile {
                    path: rel,
                    contents: std::fs::read(&path).map_err(io(&path))?,
                    executable: mode & 0o111 != 0,
                });
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .display()
                    .to_string();
                return Err(RenderError::Hook {
                    hook: "hooks".into(),
                    output: format!(
                        "left {rel}, which is neither a file nor a folder (symbolic links are not pushed)"
                    ),
                });
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::Value;

    fn hooks(name: &str, timeout: Duration) -> (Hooks, PathBuf) {
        let scratch =
            std::env::temp_dir().join(format!("paved-hooks-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&scratch).unwrap();
        let hooks = Hooks {
            trusted: true,
            scratch: scratch.clone(),
            timeout,
            destination: "svc".into(),
        };
        (hooks, scratch)
    }

    fn output() -> Output {
        Output {
            files: vec![RenderedFile {
                path: "README.md".into(),
                contents: b"hello\n".to_vec(),
                executable: false,
            }],
            answers: Value::from(()),
            record: None,
        }
    }

    fn post(script: &str) -> Vec<(String, String)> {
        vec![(
            "hooks/post_gen_project.sh".into(),
            format!("#!/bin/sh\n{script}\n"),
        )]
    }

    #[test]
    fn a_hook_changes_the_files_and_sees_nothing_of_paveds_environment() {
        let (hooks, scratch) = hooks("env", Duration::from_secs(20));
        // SAFETY: set before any hook runs; no other test reads it.
        unsafe { std::env::set_var("PAVED_TEST_SECRET", "do-not-leak") };
        let out = hooks
            .run_cookiecutter(
                output(),
                &post("env > env.txt; rm README.md; mkdir -p .git && touch .git/HEAD"),
            )
            .unwrap();
        let paths: Vec<&str> = out.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["env.txt"], "README removed, .git left behind");
        let env = String::from_utf8(out.files[0].contents.clone()).unwrap();
        assert!(
            !env.contains("do-not-leak") && !env.contains("PAVED"),
            "{env}"
        );
        assert!(env.contains("PATH=/usr/local/bin:/usr/bin:/bin"), "{env}");
        assert!(
            std::fs::read_dir(&scratch).unwrap().next().is_none(),
            "scratch cleaned"
        );
    }

    #[test]
    fn a_failing_hook_fails_the_render_showing_its_output() {
        let (hooks, _) = hooks("fail", Duration::from_secs(20));
        let err = hooks
            .run_cookiecutter(output(), &post("echo 'name is taken' >&2; exit 3"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("hooks/post_gen_project.sh failed"), "{err}");
        assert!(err.contains("name is taken"), "{err}");
    }

    #[test]
    fn a_hook_past_its_time_limit_is_stopped_with_what_it_started() {
        let (hooks, _) = hooks("slow", Duration::from_millis(300));
        let started = Instant::now();
        let err = hooks
            .run_cookiecutter(output(), &post("echo started; sleep 30 & sleep 30"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("did not finish within"), "{err}");
        assert!(err.contains("started"), "{err}");
        // The background sleep held the output pipe: the group kill ended it.
        assert!(started.elapsed() < Duration::from_secs(20));
    }
}
