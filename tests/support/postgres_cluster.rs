//! A private PostgreSQL cluster for tests that stop, crash and restart Postgres: `initdb` in a temporary
//! directory, `pg_ctl` on a free port of 127.0.0.1 (the shared server on 5432 is never touched).
//!
//! The binaries come from `ARA_TEST_PG_BINDIR`, else the newest `/usr/lib/postgresql/*/bin` (Debian),
//! else `PATH`. `initdb` refuses to run as root, so as root every command runs through
//! `runuser -u postgres` (the user the Debian package creates; `ARA_TEST_PG_USER` names another) and the
//! directory is handed to that user. Authentication is `trust`, on loopback only.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct PostgresCluster {
    pub port: u16,
    dir: tempfile::TempDir,
    bin: Option<PathBuf>,
    run_as: Option<String>,
    running: bool,
}

impl PostgresCluster {
    /// Creates and starts a cluster; panics (with the tool's output) when it cannot.
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let dir = tempfile::Builder::new().prefix("ara-pg-").tempdir().expect("a temporary directory");
        let run_as = if running_as_root() {
            Some(std::env::var("ARA_TEST_PG_USER").unwrap_or_else(|_| "postgres".into()))
        } else {
            None
        };
        let mut cluster = Self { port, dir, bin: bin_dir(), run_as, running: false };
        if let Some(user) = &cluster.run_as {
            let chown = Command::new("chown").arg("-R").arg(user).arg(cluster.dir.path()).output();
            check("chown", chown);
        }
        let data = cluster.data_dir();
        let init = cluster
            .command("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"])
            .output();
        check("initdb", init);
        cluster.start_server();
        cluster
    }

    /// Whether `initdb` can be found (see the module's documentation); an error says where it looked.
    pub fn available() -> Result<(), String> {
        let initdb = bin_dir().map_or_else(|| PathBuf::from("initdb"), |bin| bin.join("initdb"));
        match Command::new(&initdb).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status() {
            Ok(status) if status.success() => Ok(()),
            Ok(status) => Err(format!("{} --version: {status}", initdb.display())),
            Err(e) => Err(format!("{}: {e}", initdb.display())),
        }
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// `host:port`, for a proxy in front of it.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A crash: `pg_ctl stop -m immediate` (no checkpoint; committed work survives through the WAL).
    pub fn crash(&mut self) {
        self.stop_with("immediate");
    }

    /// Starts it again on the same port and waits until it accepts connections.
    pub fn restart(&mut self) {
        self.start_server();
    }

    fn start_server(&mut self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c max_connections=100 -c fsync=on",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log");
        // A few tries: right after a crash the port can still be held for a moment (another process's
        // outgoing connection may even have been given it as its local port).
        for attempt in 1..=5 {
            let started = self
                .command("pg_ctl")
                .arg("-D")
                .arg(self.data_dir())
                .args(["-o", &options, "-l"])
                .arg(&log)
                .args(["-w", "-t", "30", "start"])
                .output();
            match started {
                Ok(o) if o.status.success() => break,
                Ok(_) if attempt < 5 => std::thread::sleep(Duration::from_millis(300)),
                other => {
                    let tail = std::fs::read_to_string(&log).unwrap_or_default();
                    let tail: Vec<&str> = tail.lines().rev().take(10).collect();
                    eprintln!("private Postgres log (last lines, newest first): {tail:#?}");
                    check("pg_ctl start", other);
                }
            }
        }
        self.running = true;
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(self.addr()).is_err() {
            assert!(Instant::now() < deadline, "the private Postgres did not listen within 20s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop_with(&mut self, mode: &str) {
        if !self.running {
            return;
        }
        let stopped =
            self.command("pg_ctl").arg("-D").arg(self.data_dir()).args(["-m", mode, "-w", "-t", "30", "stop"]).output();
        check("pg_ctl stop", stopped);
        self.running = false;
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, tool: &str) -> Command {
        let program = self.bin.as_ref().map_or_else(|| PathBuf::from(tool), |bin| bin.join(tool));
        let mut command = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(program);
                c
            }
            None => Command::new(program),
        };
        command.stdin(Stdio::null());
        command
    }
}

impl Drop for PostgresCluster {
    fn drop(&mut self) {
        if self.running {
            let _ = self.command("pg_ctl").arg("-D").arg(self.data_dir()).args(["-m", "immediate", "stop"]).output();
        }
    }
}

fn running_as_root() -> bool {
    // `id -u` rather than libc: the tests need no unsafe code for this.
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

fn bin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("ARA_TEST_PG_BINDIR") {
        return Some(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            Path::new(&bin).join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn check(what: &str, output: std::io::Result<Output>) {
    match output {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "{what} failed ({}): {}{}",
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!("{what} cannot run ({e}); install PostgreSQL's server binaries or set ARA_TEST_PG_BINDIR"),
    }
}
