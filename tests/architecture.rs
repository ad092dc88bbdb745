//! The hexagon's walls, checked on the source (test modules included): each ring imports only the
//! rings inside it — domain ← ports ← delivery ← service ← adapters ← app — the inner rings know no
//! runtime or driver, and no adapter reaches into another adapter family except the transports
//! (WebSocket, SSE) into what HTTP-served transports share.

use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("source directory is readable") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// Lines of code (comments skipped) under `dir` that name any of `forbidden` as a path (`x::`) or a
/// `use`.
fn offenders(dir: &str, forbidden: &[&str]) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(&root().join(dir), &mut files);
    let mut found = Vec::new();
    for file in files {
        let text = fs::read_to_string(&file).expect("source file is readable");
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            for name in forbidden {
                let as_path = format!("{name}::");
                let hit = code.match_indices(&as_path).any(|(at, _)| {
                    // Not the tail of a longer name (`my_tokio::`), except a `crate::` path.
                    at == 0 || !code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_') || name.contains("::")
                });
                if hit || code.starts_with(&format!("use {name}")) {
                    found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
    }
    found
}

fn assert_none(dir: &str, forbidden: &[&str], why: &str) {
    let bad = offenders(dir, forbidden);
    assert!(bad.is_empty(), "{dir} {why}:\n{}", bad.join("\n"));
}

const RUNTIMES_AND_DRIVERS: &[&str] = &["tokio", "tokio_util", "axum", "sqlx", "redis", "tower", "hyper", "prometheus"];

#[test]
fn the_domain_imports_nothing_outside_it() {
    let mut forbidden = vec!["crate::ports", "crate::delivery", "crate::service", "crate::adapters", "crate::app"];
    forbidden.extend(RUNTIMES_AND_DRIVERS);
    forbidden.push("utoipa");
    assert_none("src/domain", &forbidden, "must stay pure");
}

#[test]
fn ports_know_only_the_domain() {
    let mut forbidden = vec!["crate::delivery", "crate::service", "crate::adapters", "crate::app"];
    forbidden.extend(RUNTIMES_AND_DRIVERS);
    assert_none("src/ports", &forbidden, "must know only the domain");
}

#[test]
fn the_delivery_engine_knows_no_use_case_transport_or_driver() {
    let forbidden = ["crate::service", "crate::adapters", "crate::app", "axum", "sqlx", "redis", "tower", "hyper"];
    assert_none("src/delivery", &forbidden, "must know no use case, transport or driver");
}

#[test]
fn the_use_cases_know_no_adapter_or_runtime() {
    let mut forbidden = vec!["crate::adapters", "crate::app"];
    forbidden.extend(RUNTIMES_AND_DRIVERS);
    assert_none("src/service", &forbidden, "must know no adapter or runtime");
}

#[test]
fn adapters_know_no_composition_root_and_keep_to_their_family() {
    assert_none("src/adapters", &["crate::app"], "must not know the composition root");
    let families: Vec<String> = fs::read_dir(root().join("src/adapters"))
        .expect("src/adapters is readable")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    // WebSocket and SSE are HTTP-served: they build on the HTTP edge (its errors, its connection
    // handle) and share the token and write-span helpers; the dashboard acts through the HTTP API.
    let allowed = |family: &str, other: &str| {
        matches!((family, other), ("ws" | "sse", "http" | "connection") | ("admin", "http"))
    };
    for family in &families {
        let forbidden: Vec<String> = families
            .iter()
            .filter(|other| *other != family && !allowed(family, other))
            .map(|other| format!("crate::adapters::{other}"))
            .collect();
        let forbidden: Vec<&str> = forbidden.iter().map(String::as_str).collect();
        assert_none(&format!("src/adapters/{family}"), &forbidden, "must reach other adapters through ports");
    }
}

/// The check itself: it finds what it is meant to find.
#[test]
fn the_check_finds_a_forbidden_import() {
    let dir = tempfile_dir();
    fs::write(dir.join("a.rs"), "use tokio::sync::Mutex;\nfn f() { crate::adapters::memory::x(); }\n// crate::app\n")
        .expect("writable");
    let relative = dir.strip_prefix(root()).expect("inside the crate").to_string_lossy().into_owned();
    let found = offenders(&relative, &["tokio", "crate::adapters", "crate::app"]);
    let _ = fs::remove_dir_all(&dir);
    assert_eq!(found.len(), 2, "{found:?}");
}

fn tempfile_dir() -> PathBuf {
    let dir = root().join("target").join(format!("architecture-check-{}", std::process::id()));
    fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}
