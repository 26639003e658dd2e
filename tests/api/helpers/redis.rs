//! Real redis-server processes for the tests, on free loopback ports, each under a
//! watchdog that stops it when the test process goes away (shared servers live in
//! statics, whose destructors never run).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};
use tempfile::TempDir;

pub struct RedisServer {
    pub port: u16,
    dir: TempDir,
    supervisor: Option<Child>,
    extra_args: Vec<String>,
    /// With TLS: the CA certificate redis-cli must trust.
    tls_ca: Option<String>,
}

fn port_is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// A port that is free, and whose cluster-bus port (+10000) is free as well.
pub fn free_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    if NEXT.load(Ordering::SeqCst) == 0 {
        // Spread concurrent test binaries apart; then walk upwards.
        let start = 20_000 + (std::process::id() % 20_000) as u16;
        let _ = NEXT.compare_exchange(0, start, Ordering::SeqCst, Ordering::SeqCst);
    }
    loop {
        let port = NEXT.fetch_add(1, Ordering::SeqCst);
        if port >= 55_000 {
            NEXT.store(20_000, Ordering::SeqCst);
            continue;
        }
        if port_is_free(port) && port_is_free(port + 10_000) {
            return port;
        }
    }
}

pub fn redis_cli(port: u16, args: &[&str]) -> String {
    let output = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli runs (apt-get install redis-tools)");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

impl RedisServer {
    pub fn start() -> RedisServer {
        RedisServer::start_with(&[])
    }

    /// A node for a Redis Cluster.
    pub fn start_cluster_node() -> RedisServer {
        RedisServer::start_cluster_node_with_timeout(2000)
    }

    /// A node for a Redis Cluster that declares a silent peer failed after
    /// `node_timeout_ms` (a failover starts about then).
    pub fn start_cluster_node_with_timeout(node_timeout_ms: u32) -> RedisServer {
        RedisServer::start_with(&[
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            &node_timeout_ms.to_string(),
        ])
    }

    /// A replica of the redis-server on `master_port`, once it has synced.
    pub fn start_replica_of(master_port: u16) -> RedisServer {
        let replica =
            RedisServer::start_with(&["--replicaof", "127.0.0.1", &master_port.to_string()]);
        replica.wait_synced();
        replica
    }

    /// Waits until this replica's link to its master is up.
    pub fn wait_synced(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self
            .cli(&["INFO", "replication"])
            .contains("master_link_status:up")
        {
            assert!(
                Instant::now() < deadline,
                "replica on {} did not sync",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// TLS only (no plain port), with a self-signed certificate for 127.0.0.1 made
    /// by openssl; `tls_ca()` is the file a client must trust.
    pub fn start_tls() -> RedisServer {
        let port = free_port();
        let dir = tempfile::tempdir().expect("temp dir");
        let path = |name: &str| dir.path().join(name).display().to_string();
        let (ca, ca_key, cert, key, csr, ext) = (
            path("ca.pem"),
            path("ca.key"),
            path("cert.pem"),
            path("key.pem"),
            path("server.csr"),
            path("server.ext"),
        );
        std::fs::write(
            &ext,
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        // A private CA and a server certificate it signs, as a real deployment has.
        let steps: [Vec<&str>; 3] = [
            vec![
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=creditgate test CA",
                "-keyout",
                &ca_key,
                "-out",
                &ca,
            ],
            vec![
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=127.0.0.1",
                "-keyout",
                &key,
                "-out",
                &csr,
            ],
            vec![
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &ca,
                "-CAkey",
                &ca_key,
                "-CAcreateserial",
                "-days",
                "1",
                "-extfile",
                &ext,
                "-out",
                &cert,
            ],
        ];
        for step in steps {
            let made = Command::new("openssl")
                .args(&step)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("openssl runs (apt-get install openssl)");
            assert!(made.success(), "openssl {step:?} failed");
        }
        let mut server = RedisServer {
            port,
            dir,
            supervisor: None,
            extra_args: Vec::new(),
            tls_ca: Some(ca.clone()),
        };
        let port = port.to_string();
        server.launch(&[
            "--port",
            "0",
            "--tls-port",
            &port,
            "--tls-cert-file",
            &cert,
            "--tls-key-file",
            &key,
            "--tls-ca-cert-file",
            &cert,
            "--tls-auth-clients",
            "no",
        ]);
        server
    }

    pub fn tls_ca(&self) -> &str {
        self.tls_ca.as_deref().expect("a TLS server")
    }

    fn cli(&self, args: &[&str]) -> String {
        match &self.tls_ca {
            Some(ca) => redis_cli(
                self.port,
                &[&["--tls", "--cacert", ca.as_str()], args].concat(),
            ),
            None => redis_cli(self.port, args),
        }
    }

    /// With extra redis-server arguments, e.g. `["--maxmemory-policy", "allkeys-lru"]`.
    pub fn start_with(extra: &[&str]) -> RedisServer {
        let port = free_port();
        let dir = tempfile::tempdir().expect("temp dir");
        let mut server = RedisServer {
            port,
            dir,
            supervisor: None,
            extra_args: Vec::new(),
            tls_ca: None,
        };
        server.launch(extra);
        server
    }

    fn launch(&mut self, extra: &[&str]) {
        let mut args: Vec<String> = [
            "--port",
            &self.port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            self.dir.path().to_str().unwrap(),
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        // The watchdog: redis-server runs as long as this test process does.
        let script = format!(
            "redis-server \"$@\" >/dev/null 2>&1 & r=$!; echo $r > {pidfile}; \
             trap 'kill -9 $r 2>/dev/null' EXIT; \
             while kill -0 {parent} 2>/dev/null && kill -0 $r 2>/dev/null; do sleep 0.2; done",
            pidfile = self.dir.path().join("redis.pid").display(),
            parent = std::process::id()
        );
        let child = Command::new("bash")
            .arg("-c")
            .arg(script)
            .arg("redis-supervisor")
            .args(&args)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server (apt-get install redis-server)");
        self.supervisor = Some(child);
        self.extra_args = extra.iter().map(|s| s.to_string()).collect();
        self.wait_ready();
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        // A server with --requirepass answers NOAUTH: it is up all the same.
        let up = |reply: String| reply.trim() == "PONG" || reply.starts_with("NOAUTH");
        while !up(self.cli(&["PING"])) {
            assert!(
                Instant::now() < deadline,
                "redis-server on {} did not start",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn redis_pid(&self) -> Option<String> {
        let pid = std::fs::read_to_string(self.dir.path().join("redis.pid")).ok()?;
        Some(pid.trim().to_owned()).filter(|p| !p.is_empty())
    }

    /// SIGKILL: no chance to save or to say goodbye.
    pub fn kill(&mut self) {
        if let Some(pid) = self.redis_pid() {
            let _ = Command::new("kill").args(["-9", &pid]).status();
            let _ = std::fs::remove_file(self.dir.path().join("redis.pid"));
        }
        if let Some(mut child) = self.supervisor.take() {
            let _ = child.wait();
        }
    }

    /// Freezes the server: connections stay open, nothing answers (a hung Redis).
    pub fn pause(&self) -> String {
        let pid = self.redis_pid().expect("redis pid");
        assert!(
            Command::new("kill")
                .args(["-STOP", &pid])
                .status()
                .unwrap()
                .success()
        );
        pid
    }

    /// Pauses the server until the returned guard is resumed or dropped, and
    /// returns only once the kernel has stopped the process: calls made after
    /// this cannot be served before the resume.
    pub fn freeze(&self) -> Frozen {
        let pid = self.pause();
        let stat = format!("/proc/{pid}/stat");
        let deadline = Instant::now() + Duration::from_secs(10);
        // The state is the field after the parenthesised command name.
        while !std::fs::read_to_string(&stat).is_ok_and(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|r| r.trim_start().starts_with('T'))
        }) {
            assert!(Instant::now() < deadline, "redis-server {pid} did not stop");
            std::thread::sleep(Duration::from_millis(5));
        }
        Frozen { pid: Some(pid) }
    }

    pub fn resume(pid: &str) {
        assert!(
            Command::new("kill")
                .args(["-CONT", pid])
                .status()
                .unwrap()
                .success()
        );
    }

    /// Writes a snapshot, so that a restart comes back with the data.
    pub fn save(&self) {
        assert_eq!(self.cli(&["SAVE"]).trim(), "OK");
    }

    /// Starts again on the same port and directory: with the data of the last
    /// `save`, or empty when `empty` (the snapshot is deleted first).
    pub fn restart(&mut self, empty: bool) {
        self.kill();
        if empty {
            let _ = std::fs::remove_file(self.dir.path().join("dump.rdb"));
        }
        let extra = std::mem::take(&mut self.extra_args);
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        self.launch(&extra);
    }
}

/// A paused redis-server, resumed when dropped: a failing assertion never leaves
/// it frozen for the rest of the test binary.
pub struct Frozen {
    pid: Option<String>,
}

impl Frozen {
    pub fn resume(mut self) {
        if let Some(pid) = self.pid.take() {
            RedisServer::resume(&pid);
        }
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        if let Some(pid) = self.pid.take() {
            // No assert: this may run while a panic unwinds.
            let _ = Command::new("kill").args(["-CONT", &pid]).status();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A 3-master Redis Cluster on loopback.
pub struct RedisCluster {
    pub nodes: Vec<RedisServer>,
}

impl RedisCluster {
    pub fn start() -> RedisCluster {
        RedisCluster::create(
            (0..3).map(|_| RedisServer::start_cluster_node()).collect(),
            0,
        )
    }

    /// 3 masters with one replica each, and a cluster-node-timeout of 1 s so that
    /// a killed master is failed over in about 2 s. Returns once every replica
    /// has synced.
    pub fn start_with_replicas() -> RedisCluster {
        let nodes = (0..6)
            .map(|_| RedisServer::start_cluster_node_with_timeout(1000))
            .collect();
        let cluster = RedisCluster::create(nodes, 1);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let roles = cluster
                .nodes
                .iter()
                .map(|n| n.cli(&["INFO", "replication"]))
                .collect::<Vec<_>>();
            let synced = roles
                .iter()
                .filter(|r| r.contains("master_link_status:up"))
                .count();
            if synced == 3 {
                return cluster;
            }
            assert!(
                Instant::now() < deadline,
                "replicas did not sync: {roles:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn create(nodes: Vec<RedisServer>, replicas: u32) -> RedisCluster {
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let output = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .output()
            .expect("redis-cli --cluster create");
        assert!(
            output.status.success(),
            "cluster create failed: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        for node in &nodes {
            while !redis_cli(node.port, &["CLUSTER", "INFO"]).contains("cluster_state:ok") {
                assert!(Instant::now() < deadline, "cluster did not become ok");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        RedisCluster { nodes }
    }

    /// The slot Redis itself places `key` in.
    pub fn key_slot(&self, key: &str) -> usize {
        let reply = redis_cli(self.nodes[0].port, &["CLUSTER", "KEYSLOT", key]);
        reply
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("CLUSTER KEYSLOT answered {reply:?}"))
    }

    /// The node that is the master of `slot`, as CLUSTER NODES tells it.
    pub fn master_of(&self, slot: usize) -> &RedisServer {
        &self.nodes[self.master_index(slot)]
    }

    /// `CLUSTER NODES` as a node that is still up sees it.
    pub fn topology(&self) -> String {
        self.nodes
            .iter()
            .map(|n| redis_cli(n.port, &["CLUSTER", "NODES"]))
            .find(|t| !t.trim().is_empty())
            .expect("a cluster node answers")
    }

    /// The line of CLUSTER NODES describing the node on `port`.
    fn node_line(&self, port: u16) -> String {
        let needle = format!("127.0.0.1:{port}@");
        self.topology()
            .lines()
            .find(|l| l.contains(&needle))
            .unwrap_or_else(|| panic!("node {port} not in the topology"))
            .to_owned()
    }

    /// The cluster node id of the node on `port`.
    pub fn node_id(&self, port: u16) -> String {
        self.node_line(port)
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned()
    }

    /// The index (in `nodes`) of the replica of the master on `master_port`.
    pub fn replica_of(&self, master_port: u16) -> usize {
        let id = self.node_id(master_port);
        let topology = self.topology();
        let line = topology
            .lines()
            .find(|l| l.split_whitespace().nth(3) == Some(id.as_str()))
            .unwrap_or_else(|| panic!("master {master_port} has no replica: {topology}"));
        let port = port_of(line);
        self.nodes.iter().position(|n| n.port == port).unwrap()
    }

    /// The index (in `nodes`) of the master of `slot`.
    pub fn master_index(&self, slot: usize) -> usize {
        let nodes = self.topology();
        for line in nodes.lines() {
            // <id> <ip:port@cport> <flags> <master> <ping> <pong> <epoch> <link> <slot>...
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 9 || !fields[2].split(',').any(|f| f == "master") {
                continue;
            }
            let serves = fields[8..].iter().any(|range| {
                let mut ends = range.splitn(2, '-').map(|n| n.parse::<usize>());
                match (ends.next(), ends.next()) {
                    (Some(Ok(one)), None) => one == slot,
                    (Some(Ok(first)), Some(Ok(last))) => (first..=last).contains(&slot),
                    // "[slot->-node]": a slot in migration, never made by these tests.
                    _ => false,
                }
            });
            if !serves {
                continue;
            }
            let port = port_of(line);
            return self
                .nodes
                .iter()
                .position(|n| n.port == port)
                .unwrap_or_else(|| panic!("slot {slot} is on {port}, not one of ours"));
        }
        panic!("no master serves slot {slot}: {nodes}")
    }

    pub fn seeds(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }
}

/// The client port of a CLUSTER NODES line (`<id> <ip:port@cport> …`).
fn port_of(line: &str) -> u16 {
    line.split_whitespace()
        .nth(1)
        .and_then(|addr| addr.split(['@', ',']).next())
        .and_then(|addr| addr.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"))
}
