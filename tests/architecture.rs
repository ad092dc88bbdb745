//! The hexagon's walls: the domain and the ports stay free of runtimes and drivers, the delivery
//! core free of transports and drivers.

use std::fs;
use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in fs::read_dir(dir).expect("source directory is readable") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn offenders(dir: &str, forbidden: &[&str]) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join(dir), &mut files);
    let mut found = Vec::new();
    for file in files {
        let text = fs::read_to_string(&file).expect("source file is readable");
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            for krate in forbidden {
                if code.contains(&format!("{krate}::")) || code.contains(&format!("use {krate}")) {
                    found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
    }
    found
}

#[test]
fn domain_and_ports_import_no_runtime_or_driver() {
    for dir in ["src/domain", "src/ports"] {
        let bad = offenders(dir, &["tokio", "axum", "sqlx", "redis", "tower"]);
        assert!(bad.is_empty(), "{dir} must stay pure:\n{}", bad.join("\n"));
    }
}

#[test]
fn delivery_engine_imports_no_transport_or_driver() {
    let bad = offenders("src/delivery", &["axum", "sqlx", "redis", "tower", "adapters", "app::"]);
    assert!(bad.is_empty(), "src/delivery must not know transports or drivers:\n{}", bad.join("\n"));
}

#[test]
fn delivery_core_imports_no_transport_or_driver() {
    let bad = offenders("src/service", &["axum", "sqlx", "redis", "tower", "tokio"]);
    assert!(bad.is_empty(), "src/service must not know transports or drivers:\n{}", bad.join("\n"));
}
