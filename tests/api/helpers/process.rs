//! The real `creditgate` binary as a child process: for multi-replica tests and
//! for startup and shutdown behaviour.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const BINARY: &str = env!("CARGO_BIN_EXE_creditgate");

pub struct Replica {
    pub addr: SocketAddr,
    child: Child,
    /// Later log lines, as the replica writes them (JSON); kept so the reader
    /// thread never blocks on a full pipe.
    logs: mpsc::Receiver<String>,
    pub startup_logs: Vec<String>,
}

impl Replica {
    /// Starts `creditgate --listen 127.0.0.1:0 --log-format json <args>` and waits
    /// for its "listening" line.
    pub fn start(args: &[&str]) -> Replica {
        Replica::start_on("127.0.0.1:0", args)
    }

    /// As [`Replica::start`], from async code: the wait for the listening line
    /// runs off the runtime's threads.
    pub async fn start_async(args: &[&str]) -> Replica {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            Replica::start(&args.iter().map(String::as_str).collect::<Vec<_>>())
        })
        .await
        .expect("start creditgate")
    }

    /// As [`Replica::start`], on a given address (a restart on the same port).
    pub fn start_on(listen: &str, args: &[&str]) -> Replica {
        let mut command = Command::new(BINARY);
        command.args(["--listen", listen]);
        Replica::spawn(command, args)
    }

    /// As [`Replica::start`], under `prlimit --nofile=N:N` (a small open-file limit).
    pub fn start_with_open_files(limit: u32, args: &[&str]) -> Replica {
        let mut command = Command::new("prlimit");
        command.arg(format!("--nofile={limit}:{limit}"));
        command.args([BINARY, "--listen", "127.0.0.1:0"]);
        Replica::spawn(command, args)
    }

    fn spawn(mut command: Command, args: &[&str]) -> Replica {
        let mut child = command
            .args(["--log-format", "json"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start creditgate");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut startup_logs = Vec::new();
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no listening line from creditgate: {startup_logs:?}"));
            startup_logs.push(line.clone());
            if line.contains("creditgate listening") {
                break addr_in(&line);
            }
        };
        Replica {
            addr,
            child,
            logs: rx,
            startup_logs,
        }
    }

    /// The address in the startup line containing `message` (the metrics or
    /// health-only port's "… listening" line, logged before the main port's).
    pub fn logged_addr(&self, message: &str) -> SocketAddr {
        let line = self
            .startup_logs
            .iter()
            .find(|l| l.contains(message))
            .unwrap_or_else(|| panic!("no {message:?} line at start: {:?}", self.startup_logs));
        addr_in(line)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL to this replica's own process (no drain, no goodbye: a crash or an
    /// OOM kill), then reaps it. Only the child this `Replica` started is signalled.
    pub fn kill(&mut self) {
        // std's Child::kill is SIGKILL on Unix.
        self.child.kill().expect("SIGKILL creditgate");
        let _ = self.child.wait();
    }

    /// SIGSTOP: the replica stalls (no thread runs), its sockets stay open.
    pub fn stop(&self) {
        self.signal("STOP");
    }

    /// SIGCONT after [`Replica::stop`].
    pub fn resume(&self) {
        self.signal("CONT");
    }

    /// Sends SIGTERM and waits (bounded) for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        self.signal("TERM");
        self.wait_exit()
    }

    /// Sends a signal (TERM, HUP, ...) to the process.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits (bounded) for the process to exit by itself.
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(exit) = self.child.try_wait().unwrap() {
                return exit;
            }
            assert!(Instant::now() < deadline, "creditgate did not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every later log line until none came for `quiet`.
    pub fn lines_until_quiet(&self, quiet: Duration) -> Vec<String> {
        let mut lines = Vec::new();
        while let Ok(line) = self.logs.recv_timeout(quiet) {
            lines.push(line);
        }
        lines
    }

    /// The first later log line containing `needle` (bounded wait).
    pub fn log_line(&self, needle: &str, wait: Duration) -> String {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .logs
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no log line with {needle}"));
            if line.contains(needle) {
                return line;
            }
        }
    }

    /// The process's resident memory in KiB (/proc/PID/status, VmRSS).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("read /proc/PID/status");
        let line = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .expect("VmRSS line");
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// CPU time the process has used so far (user + system, /proc/PID/stat), in
    /// clock ticks (100 per second on Linux).
    pub fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .expect("read /proc/PID/stat");
        // Fields after the parenthesised command name; utime and stime are 14 and 15.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `creditgate store-init <store args>`, which must succeed.
pub fn store_init(store_args: &[&str]) {
    let (ok, output) = run(&[&["store-init"], store_args].concat());
    assert!(ok, "store-init failed: {output}");
}

/// Runs `creditgate <args>` to completion (e.g. store-init) and returns its stdout.
pub fn run(args: &[&str]) -> (bool, String) {
    let output = Command::new(BINARY)
        .args(args)
        .output()
        .expect("run creditgate");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

/// As [`run`], for a command that is expected to exit by itself (a refused
/// start): killed after `limit`, and then reported as still running, so that a
/// start that should have been refused fails the test instead of hanging it.
pub fn run_bounded(args: &[&str], limit: Duration) -> Result<(bool, String), String> {
    let mut child = Command::new(BINARY)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run creditgate");
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = stdout.join().unwrap() + &stderr.join().unwrap();
    match status {
        Some(status) => Ok((status.success(), text)),
        None => Err(format!("still running after {limit:?}: {text}")),
    }
}

/// Reads a child's pipe to the end on its own thread, so the child never blocks
/// on a full pipe.
fn drain<R: Read + Send + 'static>(mut pipe: R) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

/// The `addr` field of a JSON log line.
fn addr_in(line: &str) -> SocketAddr {
    let at = line.find("\"addr\":\"").expect("addr field") + 8;
    let end = line[at..].find('"').unwrap() + at;
    line[at..end].parse().expect("socket address")
}
