//! Out of file descriptors: the real binary, started with a low `RLIMIT_NOFILE`, is flooded with
//! silent connections. Its accept loop must back off instead of spinning, and it must serve again
//! once the header-read timeout has closed the silent connections.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

const FD_LIMIT: u64 = 64;
const HEADER_TIMEOUT_SECONDS: u64 = 4;

struct Server {
    child: Child,
    port: u16,
    log: tempfile::NamedTempFile,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let log = tempfile::NamedTempFile::new().expect("a log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ara"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("SERVER_HOST", "127.0.0.1")
            .env("SERVER_PORT", port.to_string())
            .env("SERVER_MAX_CONNECTIONS_PER_IP", "0")
            .env("SERVER_HEADER_READ_TIMEOUT_SECONDS", HEADER_TIMEOUT_SECONDS.to_string())
            .env("RATELIMIT_ENABLED", "false")
            .env("LOG_LEVEL", "warn")
            .env("LOG_FORMAT", "json")
            .stdout(log.reopen().expect("log file"))
            .stderr(Stdio::null());
        // SAFETY: setrlimit is async-signal-safe and touches nothing but the child's own limits.
        unsafe {
            cmd.pre_exec(|| {
                let limit = libc::rlimit { rlim_cur: FD_LIMIT as _, rlim_max: FD_LIMIT as _ };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("the ara binary starts");
        Self { child, port, log }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    async fn wait_healthy(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("server exited during start-up with {status}: {}", self.log_text());
            }
            if reqwest::get(self.url("/health")).await.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("server did not become healthy within 20s: {}", self.log_text());
    }

    fn open_fds(&self) -> u64 {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id())).expect("/proc/<pid>/fd").count() as u64
    }

    /// User plus system CPU time so far, from `/proc/<pid>/stat`.
    fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).expect("/proc/<pid>/stat");
        // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
        let after = &stat[stat.rfind(')').expect("comm") + 2..];
        let fields: Vec<&str> = after.split(' ').collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        // SAFETY: sysconf only reads a system constant.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
        Duration::from_millis(ticks * 1000 / per_second)
    }

    fn log_text(&self) -> String {
        let mut text = String::new();
        let _ = self.log.reopen().and_then(|mut f| f.read_to_string(&mut text));
        text
    }
}

#[tokio::test]
async fn out_of_file_descriptors_the_accept_loop_backs_off_and_the_server_recovers() {
    let mut server = Server::start();
    server.wait_healthy().await;
    // More silent connections than there are descriptors left: some wait in the listen backlog.
    let room = FD_LIMIT.saturating_sub(server.open_fds());
    let mut silent = Vec::new();
    for _ in 0..room + 20 {
        silent.push(TcpStream::connect(("127.0.0.1", server.port)).await.expect("the kernel completes the handshake"));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(server.open_fds() >= FD_LIMIT - 1, "the server ran out of descriptors: {} open", server.open_fds());

    let before = server.cpu_time();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let spent = server.cpu_time() - before;
    assert!(spent < Duration::from_millis(300), "the server spun on accept errors: {spent:?} of CPU in 2 s");
    let log = server.log_text();
    assert!(log.contains("Too many open files"), "the accept error is logged: {log}");
    let lines = log.lines().filter(|l| l.contains("Too many open files")).count();
    assert!(lines <= 2, "the accept error is logged at a limited rate, not {lines} times in 2 s: {log}");

    // The silent connections stay open on the client side: the header-read timeout must free them.
    let client = reqwest::Client::builder().timeout(Duration::from_secs(HEADER_TIMEOUT_SECONDS * 4)).build().unwrap();
    let started = Instant::now();
    let health = client.get(server.url("/health")).send().await;
    assert!(
        health.as_ref().is_ok_and(|r| r.status().is_success()),
        "/health is served again after {:?}: {health:?}\n{}",
        started.elapsed(),
        server.log_text()
    );
    drop(silent);
}
