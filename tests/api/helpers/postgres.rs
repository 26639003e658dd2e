//! A real PostgreSQL for the tests: `initdb` in a temporary directory and a
//! `postgres` process on a free loopback port (never the one a machine may
//! already run on 5432), under a watchdog that stops it by its pid when the
//! test process goes away (the shared server lives in a static, whose
//! destructor never runs). As root, both run as the `postgres` user: initdb
//! refuses root.

use super::redis::free_port;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tempfile::TempDir;

pub struct PostgresServer {
    pub port: u16,
    dir: TempDir,
    supervisor: Child,
}

/// The newest installed server's bin directory (Debian: /usr/lib/postgresql/<N>/bin).
fn bin_dir() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL installed (apt-get install postgresql; scripts/test.sh does)")
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("postgres").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .expect("a PostgreSQL server under /usr/lib/postgresql")
        .1
}

fn as_root() -> bool {
    static ROOT: OnceLock<bool> = OnceLock::new();
    *ROOT.get_or_init(|| {
        Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|out| out.stdout.trim_ascii() == b"0")
    })
}

/// `program args…`, as the postgres user when running as root.
fn command(program: &PathBuf) -> Command {
    if as_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

impl PostgresServer {
    pub fn start() -> PostgresServer {
        let bin = bin_dir();
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        if as_root() {
            let status = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(status.success(), "chown the data directory to postgres");
        }
        let output = command(&bin.join("initdb"))
            .args(["-D"])
            .arg(&data)
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
            .output()
            .expect("initdb runs");
        assert!(
            output.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let port = free_port();
        let supervisor = supervise(&bin, dir.path(), port);
        let server = PostgresServer {
            port,
            dir,
            supervisor,
        };
        server.wait_ready();
        server
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = Command::new(bin_dir().join("pg_isready"))
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    "postgres",
                ])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "PostgreSQL did not start on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops this server (fast shutdown: clients are disconnected, the port
    /// refuses connections) and waits until it is gone: an archive outage.
    pub fn stop(&mut self) {
        let pid_file = self.dir.path().join("data").join("postmaster.pid");
        if let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|text| text.lines().next().map(str::to_owned))
        {
            let _ = Command::new("kill").args(["-INT", &pid]).status();
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while pid_file.exists() {
            assert!(Instant::now() < deadline, "PostgreSQL did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.supervisor.wait();
    }

    /// Starts it again on the same port and data: the outage ends.
    pub fn restart(&mut self) {
        self.supervisor = supervise(&bin_dir(), self.dir.path(), self.port);
        self.wait_ready();
    }

    /// A URL for `database` on this server.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// A new, empty database of its own, so that tests never see each other's rows.
    pub async fn fresh_database(&self) -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "t{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let client = creditgate::archive::connect::connect(&self.url("postgres"))
            .await
            .expect("connect to the test PostgreSQL");
        // The name is ours (digits and an underscore): nothing to escape.
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create database");
        self.url(&name)
    }
}

/// postgres on `port` with the data in `dir`, under its watchdog: postgres runs
/// as long as this test process does, and is stopped by its own pid
/// (postmaster.pid; SIGINT: fast shutdown) when it ends — runuser does not
/// pass a signal on.
fn supervise(bin: &std::path::Path, dir: &std::path::Path, port: u16) -> Child {
    let runner = if as_root() {
        "runuser -u postgres -- "
    } else {
        ""
    };
    let data = dir.join("data");
    let script = format!(
        "{runner}{postgres} -D {data} -p {port} -k {sockets} -c listen_addresses=127.0.0.1 \
         -c fsync=off -c full_page_writes=off -c synchronous_commit=off \
         >>{log} 2>&1 & p=$!; \
         trap 'kill -INT $(head -1 {data}/postmaster.pid 2>/dev/null) 2>/dev/null' EXIT; \
         while kill -0 {parent} 2>/dev/null && kill -0 $p 2>/dev/null; do sleep 0.2; done",
        postgres = bin.join("postgres").display(),
        data = data.display(),
        sockets = dir.display(),
        log = dir.join("postgres.log").display(),
        parent = std::process::id()
    );
    Command::new("bash")
        .arg("-c")
        .arg(script)
        // Not the test's own output: a pipe reader would wait for the watchdog.
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("bash runs")
}

/// One PostgreSQL per test binary, shared; each test takes a fresh database.
pub fn shared_postgres() -> &'static PostgresServer {
    static SERVER: OnceLock<PostgresServer> = OnceLock::new();
    SERVER.get_or_init(PostgresServer::start)
}
