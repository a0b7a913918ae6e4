//! nginx with `deploy/nginx/stampede.conf` in front of test nodes: only the config's
//! `listen` line and its upstream's `server` lines are replaced, with loopback ports.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::{free_port, installed_or_skip};

/// How long nginx may take to stop on SIGTERM before its process group is killed.
const STOP_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);
/// The config under test.
const CONFIG: &str = include_str!("../../../../deploy/nginx/stampede.conf");

/// nginx, or `None` after a loud SKIPPED line (under CI, where `.ci/run` installs it, a
/// missing nginx fails the test instead).
pub(crate) fn nginx_binary(test: &str) -> Option<PathBuf> {
    installed_or_skip(
        test,
        &["/usr/sbin/nginx", "/usr/bin/nginx"],
        "apt-get install nginx-light",
    )
}

/// A running nginx with the config under test; stopped (SIGKILL) when dropped.
pub(crate) struct Nginx {
    child: Child,
    pub(crate) base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Nginx {
    /// SIGTERM to the master, which stops and reaps its workers, then waits for it, at most
    /// [`STOP_WITHIN`]; past that, SIGKILL to its whole process group (a worker whose master
    /// was killed alone would live on).
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        // Polls a bounded number of times (no clock read outside the clock crate).
        let poll = std::time::Duration::from_millis(10);
        for _ in 0..STOP_WITHIN.as_millis() / poll.as_millis() {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(poll);
        }
        let group = format!("-{pid}");
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

/// The config with its `listen` line on `port` and one upstream `server` line a node port.
fn config_for(port: u16, nodes: &[u16]) -> String {
    let mut out = String::new();
    let mut servers_written = false;
    for line in CONFIG.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("listen ") {
            out.push_str(&format!(
                "    listen 127.0.0.1:{port} reuseport backlog=4096;\n"
            ));
        } else if trimmed.starts_with("server 127.0.0.1:") {
            if !servers_written {
                for node in nodes {
                    out.push_str(&format!(
                        "    server 127.0.0.1:{node} max_fails=3 fail_timeout=5s;\n"
                    ));
                }
                servers_written = true;
            }
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert!(
        servers_written,
        "the config has an upstream with server lines"
    );
    out
}

impl Nginx {
    pub(crate) async fn start(binary: &Path, nodes: &[u16]) -> Nginx {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let prefix = dir.path().display().to_string();
        std::fs::write(dir.path().join("stampede.conf"), config_for(port, nodes)).unwrap();
        // A root master runs its workers as root here, so they can use the test's private
        // temporary directory (nginx warns and ignores `user` when not root).
        let main = format!(
            "user root;\nworker_processes 1;\ndaemon off;\npid {prefix}/nginx.pid;\n\
             error_log {prefix}/error.log warn;\n\
             events {{ worker_connections 4096; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {prefix}/body;\n\
             proxy_temp_path {prefix}/proxy;\n  fastcgi_temp_path {prefix}/fastcgi;\n\
             uwsgi_temp_path {prefix}/uwsgi;\n  scgi_temp_path {prefix}/scgi;\n\
             include {prefix}/stampede.conf;\n}}\n"
        );
        std::fs::write(dir.path().join("nginx.conf"), main).unwrap();
        let child = Command::new(binary)
            .args(["-p", &prefix, "-c", &format!("{prefix}/nginx.conf")])
            // Its own process group, so that dropping it stops its workers too.
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn nginx");
        let base = format!("http://127.0.0.1:{port}");
        let nginx = Nginx {
            child,
            base,
            _dir: dir,
        };
        // Up once it answers anything at all (a node's /healthz through it).
        super::wait_until_healthy(&nginx.base).await;
        nginx
    }
}
