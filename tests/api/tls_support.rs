//! A private certificate authority made with rcgen, and a private Postgres and Redis that speak only
//! TLS with its certificates, on free ports, gone when the test ends.
//!
//! Postgres refuses to run as root, so when the tests do (as in CI) the cluster belongs to the
//! `postgres` system user, as the machine's own cluster does.

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use tempfile::TempDir;

/// Starting a server takes a second or two; this bounds a broken one.
const START_DEADLINE: Duration = Duration::from_secs(30);

/// PEM files in one directory: a CA, a server certificate for `localhost` and `127.0.0.1` and a
/// client certificate it signed, and a second CA that signed nothing here.
pub struct Pki {
    pub dir: TempDir,
    pub ca: PathBuf,
    pub other_ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params
}

impl Pki {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let write = |name: &str, pem: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, pem).expect("write PEM");
            path
        };
        let ca = CertifiedIssuer::self_signed(ca_params("Ara test CA"), KeyPair::generate().expect("key"))
            .expect("CA certificate");
        let other = CertifiedIssuer::self_signed(ca_params("Some other CA"), KeyPair::generate().expect("key"))
            .expect("other CA certificate");
        let server_key = KeyPair::generate().expect("key");
        let server = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("server params")
            .signed_by(&server_key, &ca)
            .expect("server certificate");
        let client_key = KeyPair::generate().expect("key");
        let mut client_params = CertificateParams::new(Vec::<String>::new()).expect("client params");
        client_params.distinguished_name.push(DnType::CommonName, "ara");
        let client = client_params.signed_by(&client_key, &ca).expect("client certificate");
        Self {
            ca: write("ca.pem", &ca.pem()),
            other_ca: write("other-ca.pem", &other.pem()),
            server_cert: write("server.pem", &server.pem()),
            server_key: write("server-key.pem", &server_key.serialize_pem()),
            client_cert: write("client.pem", &client.pem()),
            client_key: write("client-key.pem", &client_key.serialize_pem()),
            dir,
        }
    }
}

pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

/// A server process, stopped (and waited for) on drop.
struct Process {
    child: Child,
    name: &'static str,
}

impl Drop for Process {
    fn drop(&mut self) {
        // SIGINT is Postgres' "fast shutdown"; Redis stops on it too.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("{} did not stop on SIGINT; killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `postgres` system user when running as root, for files and processes of the cluster.
fn postgres_owner() -> Option<(u32, u32)> {
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let name = std::ffi::CString::new("postgres").expect("no NUL");
    let entry = unsafe { libc::getpwnam(name.as_ptr()) };
    assert!(!entry.is_null(), "running as root needs a `postgres` user to run a private cluster");
    let entry = unsafe { &*entry };
    Some((entry.pw_uid, entry.pw_gid))
}

fn postgres_bin(name: &str) -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dir| dir.filter_map(Result::ok).map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    versions.sort();
    let bin = versions.pop().map(|dir| dir.join(name)).filter(|p| p.exists());
    bin.unwrap_or_else(|| PathBuf::from(name))
}

fn as_owner(cmd: &mut Command, owner: Option<(u32, u32)>) -> &mut Command {
    if let Some((uid, gid)) = owner {
        cmd.uid(uid).gid(gid);
    }
    cmd
}

fn chown_tree(path: &Path, (uid, gid): (u32, u32)) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown");
    if path.is_dir() {
        for entry in std::fs::read_dir(path).expect("read dir").filter_map(Result::ok) {
            chown_tree(&entry.path(), (uid, gid));
        }
    }
}

/// A Postgres cluster on 127.0.0.1 that accepts TLS connections only (`hostnossl … reject`).
pub struct TlsPostgres {
    pub port: u16,
    _server: Process,
    _dir: TempDir,
}

impl TlsPostgres {
    pub fn start(pki: &Pki) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let owner = postgres_owner();
        let data = dir.path().join("data");
        if let Some(owner) = owner {
            chown_tree(dir.path(), owner);
        }
        let initdb = as_owner(Command::new(postgres_bin("initdb")).arg("-D").arg(&data), owner)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .stdout(Stdio::null())
            .output()
            .expect("initdb runs (is PostgreSQL installed?)");
        assert!(initdb.status.success(), "initdb failed: {}", String::from_utf8_lossy(&initdb.stderr));
        // Postgres wants its key private to its own user.
        for (from, to) in [(&pki.server_cert, "server.crt"), (&pki.server_key, "server.key"), (&pki.ca, "ca.crt")] {
            let target = data.join(to);
            std::fs::copy(from, &target).expect("copy certificate");
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).expect("chmod");
            if let Some(owner) = owner {
                chown_tree(&target, owner);
            }
        }
        let port = free_port();
        let conf = format!(
            "\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\nssl = on\n\
             ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nfsync = off\nmax_connections = 30\n",
            dir.path().display()
        );
        append(&data.join("postgresql.conf"), &conf);
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n",
        )
        .expect("pg_hba.conf");
        let log = std::fs::File::create(dir.path().join("postgres.log")).expect("log file");
        if let Some(owner) = owner {
            chown_tree(&dir.path().join("postgres.log"), owner);
        }
        let child = as_owner(Command::new(postgres_bin("postgres")).arg("-D").arg(&data), owner)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("postgres starts");
        let server = Process { child, name: "postgres" };
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            let ready = Command::new(postgres_bin("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                break;
            }
            let log = std::fs::read_to_string(dir.path().join("postgres.log")).unwrap_or_default();
            assert!(Instant::now() < deadline, "the TLS Postgres did not start: {log}");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self { port, _server: server, _dir: dir }
    }

    /// A URL for the `postgres` database with these query parameters (`sslmode=…&sslrootcert=…`).
    pub fn url(&self, host: &str, query: &str) -> String {
        format!("postgres://postgres@{host}:{}/postgres?{query}", self.port)
    }
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().append(true).open(path).expect("open for append");
    file.write_all(text.as_bytes()).expect("append");
}

/// A Redis that listens with TLS only (`--port 0`); `client_certs` makes it require one.
pub struct TlsRedis {
    pub port: u16,
    _server: Process,
}

impl TlsRedis {
    pub fn start(pki: &Pki, client_certs: bool) -> Self {
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--port", "0", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--tls-port", &port.to_string()])
            .args(["--tls-cert-file", path_str(&pki.server_cert), "--tls-key-file", path_str(&pki.server_key)])
            .args(["--tls-ca-cert-file", path_str(&pki.ca)])
            .args(["--tls-auth-clients", if client_certs { "yes" } else { "no" }])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let server = Process { child, name: "redis-server" };
        let deadline = Instant::now() + START_DEADLINE;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the TLS Redis did not start on port {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { port, _server: server }
    }

    pub fn url(&self, host: &str) -> String {
        format!("rediss://{host}:{}", self.port)
    }
}
