//! Where the run's credentials come from, in this order (the first that has an entry for
//! the registry wins):
//!
//! 1. flags: `--username/--password` or `--token` (and their `REGISTRY_*` variables);
//! 2. `REGISTRY_AUTH_FILE` (containers auth.json: `auths{host: {auth}}`);
//! 3. the Docker client's config (`$DOCKER_CONFIG/config.json`, else
//!    `~/.docker/config.json`): `credHelpers[host]`, else `credsStore`, else `auths[host]`
//!    (`auth`, `identitytoken`, `registrytoken`);
//! 4. `$XDG_RUNTIME_DIR/containers/auth.json`.
//!
//! That is what docker, skopeo and podman read, so a CI job already logged in needs no
//! flag. The description of the source ([`Resolved::source`]) goes into the run header;
//! it never holds a secret.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;

use crate::auth::Auth;

/// How long a credential helper may take.
const HELPER_TIMEOUT: Duration = Duration::from_secs(20);

/// What the flags say.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    /// `--username`.
    pub username: Option<String>,
    /// `--password`.
    pub password: Option<String>,
    /// `--token` (a bearer token used as is).
    pub token: Option<String>,
}

/// Where to look (from the environment in [`Env::from_process`]; tests give temp dirs).
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// `$DOCKER_CONFIG`.
    pub docker_config: Option<PathBuf>,
    /// `$HOME`.
    pub home: Option<PathBuf>,
    /// `$REGISTRY_AUTH_FILE`.
    pub registry_auth_file: Option<PathBuf>,
    /// `$XDG_RUNTIME_DIR`.
    pub xdg_runtime_dir: Option<PathBuf>,
    /// Where `docker-credential-*` helpers are looked for; `None`: `$PATH`.
    pub helper_dirs: Option<Vec<PathBuf>>,
}

impl Env {
    /// The process environment.
    pub fn from_process() -> Env {
        let var = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        Env {
            docker_config: var("DOCKER_CONFIG"),
            home: var("HOME"),
            registry_auth_file: var("REGISTRY_AUTH_FILE"),
            xdg_runtime_dir: var("XDG_RUNTIME_DIR"),
            helper_dirs: None,
        }
    }
}

/// Credentials and where they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The credentials.
    pub auth: Auth,
    /// `--username (writer)`, `docker config credHelpers[h] via docker-credential-x`,
    /// `none`: for the run header. Never a secret.
    pub source: String,
}

/// Resolves the credentials for `host` (`host[:port]` of the registry URL). An error is a
/// setup problem (unreadable file, failing helper): the message names the file or helper
/// and holds no secret.
pub fn resolve(flags: &Flags, host: &str, env: &Env) -> Result<Resolved, String> {
    if let Some(token) = &flags.token {
        return Ok(Resolved {
            auth: Auth::Bearer {
                token: token.clone(),
            },
            source: "--token".to_owned(),
        });
    }
    if let Some(u) = &flags.username {
        return Ok(Resolved {
            auth: Auth::from_parts(Some(u.clone()), flags.password.clone()),
            source: format!("--username ({u})"),
        });
    }
    if let Some(path) = &env.registry_auth_file
        && let Some(r) = from_auth_file(path, host, "REGISTRY_AUTH_FILE")?
    {
        return Ok(r);
    }
    let docker = match &env.docker_config {
        Some(d) => Some(d.join("config.json")),
        None => env.home.as_ref().map(|h| h.join(".docker/config.json")),
    };
    if let Some(path) = docker
        && path.exists()
        && let Some(r) = from_docker_config(&path, host, env)?
    {
        return Ok(r);
    }
    if let Some(dir) = &env.xdg_runtime_dir {
        let path = dir.join("containers/auth.json");
        if path.exists()
            && let Some(r) = from_auth_file(&path, host, &path.display().to_string())?
        {
            return Ok(r);
        }
    }
    Ok(Resolved {
        auth: Auth::None,
        source: "none".to_owned(),
    })
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    serde_json::from_slice(&text).map_err(|e| format!("{}: not JSON: {e}", path.display()))
}

/// Whether a config key names `host`: `host:port`, `https://host:port`, `.../v1/`, ...
/// (docker compares the host part of the key). Docker Hub's key is
/// `https://index.docker.io/v1/`.
fn key_matches(key: &str, host: &str) -> bool {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let k = k.split('/').next().unwrap_or(k);
    let hub = |h: &str| matches!(h, "docker.io" | "registry-1.docker.io" | "index.docker.io");
    k.eq_ignore_ascii_case(host) || (hub(k) && hub(host))
}

/// The entry of `map` for `host`: the exact key first, then any key naming it.
fn entry<'a>(map: Option<&'a Value>, host: &str) -> Option<(&'a str, &'a Value)> {
    let m = map?.as_object()?;
    m.get_key_value(host)
        .or_else(|| m.iter().find(|(k, _)| key_matches(k, host)))
        .map(|(k, v)| (k.as_str(), v))
}

/// `auths[host]` of a containers auth.json or a docker config.
fn auths_entry(doc: &Value, host: &str, what: &str) -> Result<Option<Resolved>, String> {
    let Some((key, e)) = entry(doc.get("auths"), host) else {
        return Ok(None);
    };
    let text = |k: &str| {
        e.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let (user, pass) = match text("auth") {
        Some(a) => {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(a.trim())
                .map_err(|_| format!("{what} auths[{key}].auth is not base64"))?;
            let raw = String::from_utf8(raw)
                .map_err(|_| format!("{what} auths[{key}].auth is not UTF-8"))?;
            let (u, p) = raw
                .split_once(':')
                .ok_or_else(|| format!("{what} auths[{key}].auth is not user:password"))?;
            (Some(u.to_owned()), Some(p.to_owned()))
        }
        None => (text("username"), text("password")),
    };
    let place = format!("{what} auths[{key}]");
    if let Some(token) = text("registrytoken") {
        return Ok(Some(Resolved {
            auth: Auth::Bearer { token },
            source: format!("{place} (registrytoken)"),
        }));
    }
    if let Some(token) = text("identitytoken") {
        return Ok(Some(Resolved {
            auth: Auth::IdentityToken {
                username: user.filter(|u| u != "<token>"),
                token,
            },
            source: format!("{place} (identitytoken)"),
        }));
    }
    match user {
        Some(u) => Ok(Some(Resolved {
            source: format!("{place} ({u})"),
            auth: Auth::Basic {
                username: u,
                password: pass.unwrap_or_default(),
            },
        })),
        None => Ok(None),
    }
}

fn from_auth_file(path: &Path, host: &str, what: &str) -> Result<Option<Resolved>, String> {
    let doc = read_json(path)?;
    auths_entry(&doc, host, &format!("{what} {}", path.display()))
}

fn from_docker_config(path: &Path, host: &str, env: &Env) -> Result<Option<Resolved>, String> {
    let doc = read_json(path)?;
    let what = format!("docker config {}", path.display());
    if let Some((key, name)) = entry(doc.get("credHelpers"), host)
        && let Some(name) = name.as_str()
        && let Some(r) = from_helper(name, host, env, &format!("credHelpers[{key}]"))?
    {
        return Ok(Some(r));
    }
    if let Some(name) = doc.get("credsStore").and_then(Value::as_str)
        && !name.is_empty()
        && let Some(r) = from_helper(name, host, env, "credsStore")?
    {
        return Ok(Some(r));
    }
    auths_entry(&doc, host, &what)
}

/// Runs `docker-credential-<name> get` with the server URL on stdin. `Ok(None)` when it
/// says "credentials not found".
fn from_helper(name: &str, host: &str, env: &Env, place: &str) -> Result<Option<Resolved>, String> {
    let program = format!("docker-credential-{name}");
    if name.contains(['/', '\\']) {
        return Err(format!("docker config {place}: bad helper name {name:?}"));
    }
    let path = match &env.helper_dirs {
        Some(dirs) => dirs
            .iter()
            .map(|d| d.join(&program))
            .find(|p| p.is_file())
            .ok_or_else(|| format!("docker config {place}: {program} not found"))?,
        None => PathBuf::from(&program),
    };
    let mut child = Command::new(&path)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("docker config {place}: cannot run {program}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(host.as_bytes());
    }
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut o = Vec::new();
        let mut e = Vec::new();
        if let Some(s) = out.as_mut() {
            let _ = s.read_to_end(&mut o);
        }
        if let Some(s) = err.as_mut() {
            let _ = s.read_to_end(&mut e);
        }
        (o, e)
    });
    // Never hang on a helper waiting for a keychain prompt.
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if start.elapsed() < HELPER_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "docker config {place}: {program} did not answer within {} s",
                    HELPER_TIMEOUT.as_secs()
                ));
            }
            Err(e) => return Err(format!("docker config {place}: {program}: {e}")),
        }
    };
    let (stdout, stderr) = reader.join().unwrap_or_default();
    if !status.success() {
        let said = format!(
            "{} {}",
            String::from_utf8_lossy(&stdout).trim(),
            String::from_utf8_lossy(&stderr).trim()
        );
        if said.to_ascii_lowercase().contains("credentials not found") {
            return Ok(None);
        }
        let said: String = said.trim().chars().take(200).collect();
        return Err(format!(
            "docker config {place}: {program} get failed ({status}): {said}"
        ));
    }
    let v: Value = serde_json::from_slice(&stdout)
        .map_err(|_| format!("docker config {place}: {program} did not answer JSON"))?;
    let username = v
        .get("Username")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let secret = v
        .get("Secret")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let source = format!("docker config {place} via {program}");
    let auth = if username == "<token>" {
        Auth::IdentityToken {
            username: None,
            token: secret,
        }
    } else {
        Auth::Basic {
            username: username.to_owned(),
            password: secret,
        }
    };
    Ok(Some(Resolved { auth, source }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "127.0.0.1:5000";

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn write(dir: &Path, rel: &str, v: Value) -> PathBuf {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, v.to_string()).unwrap();
        p
    }

    fn docker_env(dir: &Path, config: Value) -> Env {
        write(dir, "docker/config.json", config);
        Env {
            docker_config: Some(dir.join("docker")),
            helper_dirs: Some(vec![dir.join("bin")]),
            ..Env::default()
        }
    }

    /// A helper script answering for `127.0.0.1:5000` only, and saying "credentials not
    /// found" otherwise, as the real ones do.
    fn helper(dir: &Path, name: &str, user: &str, secret: &str) {
        use std::os::unix::fs::PermissionsExt as _;
        let p = dir.join("bin").join(format!("docker-credential-{name}"));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(
            &p,
            format!(
                "#!/bin/sh\n[ \"$1\" = get ] || exit 3\nread -r url\n\
                 if [ \"$url\" = \"{HOST}\" ]; then\n\
                 printf '{{\"ServerURL\":\"%s\",\"Username\":\"{user}\",\"Secret\":\"{secret}\"}}' \"$url\"\n\
                 else echo 'credentials not found in native keychain'; exit 1; fi\n"
            ),
        )
        .unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn docker_config_auths_in_every_key_form() {
        for key in [
            "127.0.0.1:5000",
            "https://127.0.0.1:5000",
            "http://127.0.0.1:5000/v2/",
            "https://127.0.0.1:5000/v1/",
        ] {
            let d = tempfile::tempdir().unwrap();
            let env = docker_env(
                d.path(),
                serde_json::json!({"auths": {key: {"auth": b64("writer:s3cret")}}}),
            );
            let r = resolve(&Flags::default(), HOST, &env).unwrap();
            assert_eq!(
                r.auth,
                Auth::Basic {
                    username: "writer".into(),
                    password: "s3cret".into()
                },
                "{key}"
            );
            assert!(
                r.source.contains(&format!("auths[{key}] (writer)")),
                "{}",
                r.source
            );
            assert!(!r.source.contains("s3cret"));
        }
        // Another port is another registry.
        let d = tempfile::tempdir().unwrap();
        let env = docker_env(
            d.path(),
            serde_json::json!({"auths": {"127.0.0.1:5001": {"auth": b64("u:p")}}}),
        );
        assert_eq!(
            resolve(&Flags::default(), HOST, &env).unwrap().source,
            "none"
        );
    }

    #[test]
    fn identitytoken_and_registrytoken() {
        let d = tempfile::tempdir().unwrap();
        let env = docker_env(
            d.path(),
            serde_json::json!({"auths": {HOST: {"auth": b64("<token>:"), "identitytoken": "refresh"}}}),
        );
        let r = resolve(&Flags::default(), HOST, &env).unwrap();
        assert_eq!(
            r.auth,
            Auth::IdentityToken {
                username: None,
                token: "refresh".into()
            }
        );
        assert!(r.source.ends_with("(identitytoken)"));
        let d = tempfile::tempdir().unwrap();
        let env = docker_env(
            d.path(),
            serde_json::json!({"auths": {HOST: {"registrytoken": "bearer"}}}),
        );
        let r = resolve(&Flags::default(), HOST, &env).unwrap();
        assert_eq!(
            r.auth,
            Auth::Bearer {
                token: "bearer".into()
            }
        );
        assert!(!r.source.contains("bearer\""));
    }

    #[test]
    fn cred_helpers_beat_creds_store_beats_auths() {
        let d = tempfile::tempdir().unwrap();
        helper(d.path(), "one", "helper-user", "helper-secret");
        helper(d.path(), "store", "<token>", "store-refresh");
        let both = serde_json::json!({
            "credHelpers": {HOST: "one"},
            "credsStore": "store",
            "auths": {HOST: {"auth": b64("file:pw")}}
        });
        let env = docker_env(d.path(), both);
        let r = resolve(&Flags::default(), HOST, &env).unwrap();
        assert_eq!(
            r.auth,
            Auth::Basic {
                username: "helper-user".into(),
                password: "helper-secret".into()
            }
        );
        assert_eq!(
            r.source,
            format!("docker config credHelpers[{HOST}] via docker-credential-one")
        );
        let store = serde_json::json!({
            "credsStore": "store",
            "auths": {HOST: {"auth": b64("file:pw")}}
        });
        let env = docker_env(d.path(), store);
        let r = resolve(&Flags::default(), HOST, &env).unwrap();
        assert_eq!(
            r.auth,
            Auth::IdentityToken {
                username: None,
                token: "store-refresh".into()
            }
        );
        assert_eq!(
            r.source,
            "docker config credsStore via docker-credential-store"
        );
        // "credentials not found" (another host) means none from the helper.
        let r = resolve(&Flags::default(), "127.0.0.1:6000", &env).unwrap();
        assert_eq!(r.source, "none");
    }

    #[test]
    fn a_failing_or_missing_helper_is_a_setup_error_without_secrets() {
        let d = tempfile::tempdir().unwrap();
        let env = docker_env(d.path(), serde_json::json!({"credsStore": "absent"}));
        let e = resolve(&Flags::default(), HOST, &env).unwrap_err();
        assert!(e.contains("docker-credential-absent not found"), "{e}");
        let d = tempfile::tempdir().unwrap();
        helper(d.path(), "x", "u", "p");
        std::fs::write(
            d.path().join("bin/docker-credential-x"),
            "#!/bin/sh\necho 'keychain locked' >&2\nexit 7\n",
        )
        .unwrap();
        let env = docker_env(d.path(), serde_json::json!({"credHelpers": {HOST: "x"}}));
        let e = resolve(&Flags::default(), HOST, &env).unwrap_err();
        assert!(
            e.contains("keychain locked") && e.contains("credHelpers"),
            "{e}"
        );
    }

    #[test]
    fn precedence_flags_then_auth_file_then_docker_then_xdg() {
        let d = tempfile::tempdir().unwrap();
        let auth_file = write(
            d.path(),
            "auth.json",
            serde_json::json!({"auths": {HOST: {"auth": b64("fromfile:a")}}}),
        );
        write(
            d.path(),
            "xdg/containers/auth.json",
            serde_json::json!({"auths": {HOST: {"auth": b64("fromxdg:x")}}}),
        );
        let mut env = docker_env(
            d.path(),
            serde_json::json!({"auths": {HOST: {"auth": b64("fromdocker:d")}}}),
        );
        env.registry_auth_file = Some(auth_file);
        env.xdg_runtime_dir = Some(d.path().join("xdg"));
        let user = |r: Resolved| r.auth.username().map(str::to_owned);
        let flags = Flags {
            username: Some("flag".into()),
            password: Some("f".into()),
            token: None,
        };
        let r = resolve(&flags, HOST, &env).unwrap();
        assert_eq!(r.source, "--username (flag)");
        assert_eq!(user(r), Some("flag".into()));
        let tok = Flags {
            token: Some("t".into()),
            ..Flags::default()
        };
        assert_eq!(resolve(&tok, HOST, &env).unwrap().source, "--token");
        let r = resolve(&Flags::default(), HOST, &env).unwrap();
        assert!(r.source.starts_with("REGISTRY_AUTH_FILE "), "{}", r.source);
        assert_eq!(user(r), Some("fromfile".into()));
        env.registry_auth_file = None;
        assert_eq!(
            user(resolve(&Flags::default(), HOST, &env).unwrap()),
            Some("fromdocker".into())
        );
        env.docker_config = Some(d.path().join("nowhere"));
        let r = resolve(&Flags::default(), HOST, &env).unwrap();
        assert!(r.source.contains("containers/auth.json"), "{}", r.source);
        assert_eq!(user(r), Some("fromxdg".into()));
        // A broken file is an error naming it.
        std::fs::write(d.path().join("xdg/containers/auth.json"), "{").unwrap();
        let e = resolve(&Flags::default(), HOST, &env).unwrap_err();
        assert!(e.contains("containers/auth.json: not JSON"), "{e}");
    }
}
