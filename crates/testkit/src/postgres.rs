//! A throwaway PostgreSQL 15 cluster on 127.0.0.1 for tests of the scaled-out store.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// Where the PostgreSQL server binaries are: `PG_BIN` if set, else the first of
/// `/usr/lib/postgresql/{17,16,15}/bin` that has `initdb`, else `initdb` on `PATH`.
pub fn postgres_bin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    for version in ["17", "16", "15"] {
        let dir = PathBuf::from(format!("/usr/lib/postgresql/{version}/bin"));
        if dir.join("initdb").is_file() {
            return Some(dir);
        }
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .find(|p| p.join("initdb").is_file() && p.join("postgres").is_file())
    })
}

/// A running PostgreSQL cluster in a temporary directory; stopped and deleted on drop.
#[derive(Debug)]
pub struct Postgres {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    bin: PathBuf,
}

fn is_root() -> bool {
    // `id -u` avoids unsafe libc calls.
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs a PostgreSQL binary; as root, as the `postgres` user (PostgreSQL refuses to run as root).
fn pg_command(bin: &Path, program: &str) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.arg("-u").arg("postgres").arg("--").arg(bin.join(program));
        c
    } else {
        Command::new(bin.join(program))
    }
}

impl Postgres {
    /// Creates and starts a cluster (trust auth, fsync off — a test cluster that survives a
    /// crash of PostgreSQL, not of the machine) on a free port.
    ///
    /// # Panics
    ///
    /// When PostgreSQL is not installed or does not start, with its log.
    pub async fn start() -> Postgres {
        let bin = postgres_bin_dir().expect(
            "PostgreSQL not found: install the Debian package postgresql-15 (or set PG_BIN to its bin directory)",
        );
        let dir = tempfile::Builder::new()
            .prefix("ap-pg-")
            .tempdir()
            .expect("temp dir for PostgreSQL");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).expect("create data dir");
        if is_root() {
            let status = Command::new("chown")
                .arg("-R")
                .arg("postgres:postgres")
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(status.success(), "chown of the PostgreSQL test dir failed");
        }
        let out = pg_command(&bin, "initdb")
            .args(["-D"])
            .arg(&data)
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let mut pg = Postgres {
            child: None,
            port: crate::free_port(),
            dir,
            bin,
        };
        pg.spawn();
        pg.watchdog();
        pg.wait_ready(Duration::from_secs(30)).await;
        pg
    }

    fn spawn(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("postgres.log")).expect("log file");
        let child = pg_command(&self.bin, "postgres")
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-k")
            .arg(self.dir.path())
            // fsync off: the OS keeps what was written, enough for a process crash. Commits stay
            // synchronous (written to the WAL before the client hears of them, cheap without
            // fsync): with `synchronous_commit=off` a crash loses commits already acknowledged.
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
            .args(["-c", "full_page_writes=off", "-c", "max_connections=200"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start postgres");
        self.child = Some(child);
    }

    /// A cluster kept in a `static` is never dropped: a small watchdog stops it and deletes its
    /// directory once the test process is gone.
    fn watchdog(&self) {
        let port = self.port.to_string();
        // `[d]` keeps the pattern from matching this watchdog's own command line.
        let pattern = format!("-p [{}]{} ", &port[..1], &port[1..]);
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; pkill -KILL -f -- '{pattern}'; rm -rf '{dir}'",
            pid = std::process::id(),
            dir = self.dir.path().display(),
        );
        let _ = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }

    async fn wait_ready(&mut self, timeout: Duration) {
        let started = Instant::now();
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                // accepting connections; give it a moment to finish recovery
                let ok = Command::new(self.bin.join("pg_isready"))
                    .args([
                        "-h",
                        "127.0.0.1",
                        "-p",
                        &self.port.to_string(),
                        "-U",
                        "postgres",
                    ])
                    .output()
                    .map(|o| o.status.success())
                    .unwrap_or(true);
                if ok {
                    return;
                }
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!(
                    "postgres exited during start-up ({status}):\n{}",
                    self.log()
                );
            }
            assert!(
                started.elapsed() < timeout,
                "postgres not ready after {timeout:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The server log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A URL for `database` (created with [`Postgres::create_database`]).
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates a database.
    ///
    /// # Panics
    ///
    /// When `createdb` fails.
    pub fn create_database(&self, name: &str) -> String {
        let out = Command::new(self.bin.join("createdb"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                name,
            ])
            .output()
            .expect("run createdb");
        assert!(
            out.status.success(),
            "createdb {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.url(name)
    }

    /// Stops the server abruptly, as a crash would: an immediate shutdown (every backend quits
    /// at once, no checkpoint; the restart runs crash recovery), then SIGKILL for anything left.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = pg_command(&self.bin, "pg_ctl")
                .arg("-D")
                .arg(self.dir.path().join("data"))
                .args(["-m", "immediate", "-w", "stop"])
                .output();
            // as root the child is `runuser`; kill postgres itself too (`--`: the pattern
            // starts with a dash)
            let _ = Command::new("pkill")
                .args(["-KILL", "-f", "--", &format!("-p {} ", self.port)])
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same data directory and port.
    pub async fn restart(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(self.dir.path().join("data/postmaster.pid"));
        self.spawn();
        self.wait_ready(Duration::from_secs(30)).await;
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = pg_command(&self.bin, "pg_ctl")
                .arg("-D")
                .arg(self.dir.path().join("data"))
                .args(["-m", "immediate", "stop"])
                .output();
            let _ = Command::new("pkill")
                .args(["-KILL", "-f", "--", &format!("-p {} ", self.port)])
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
