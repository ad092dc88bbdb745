//! The Python client generated from the committed spec drives the Tenant API of the real server:
//! tenants, their keys (shown once, listed by prefix, rotated, revoked), a tenant key acting in its own
//! tenant only, suspension and a forced delete that closes the live connection.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::tenants::{admin, spawn_tenants, ADMIN_KEY};

fn generator_available() -> bool {
    Command::new("openapi-python-client").arg("--version").output().is_ok_and(|o| o.status.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_python_client_drives_the_tenant_api() {
    if !generator_available() {
        let message =
            "openapi-python-client is not installed (scripts/test.sh installs it: pip install openapi-python-client)";
        if std::env::var("ARA_SKIP_CLIENT_TESTS").as_deref() == Ok("1") {
            eprintln!("SKIPPED: {message} (ARA_SKIP_CLIENT_TESTS=1)");
            return;
        }
        panic!("{message}; or set ARA_SKIP_CLIENT_TESTS=1 to skip");
    }
    let app = spawn_tenants(&[]).await;
    assert_eq!(admin(&app, Method::POST, "/api/v1/tenants", Some(&json!({"tenant_id": "py-acme"}))).await.status, 201);
    let mut ws = app.connect_user("py-user", "py-acme").await;

    let out = tempfile::tempdir().expect("temp dir");
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/openapi.json");
    let generated = Command::new("openapi-python-client")
        .args(["generate", "--meta", "none", "--overwrite", "--path"])
        .arg(&spec)
        .arg("--output-path")
        .arg(out.path().join("ara_client"))
        .output()
        .expect("run the generator");
    assert!(generated.status.success(), "client generation failed:\n{}", String::from_utf8_lossy(&generated.stderr));
    let warnings = String::from_utf8_lossy(&generated.stdout);
    assert!(!warnings.contains("will not be generated"), "every tenant route is generated:\n{warnings}");

    let driver = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/python_tenants_driver.py");
    let base_url = format!("http://{}", app.addr);
    let run = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(&driver)
            .args([base_url.as_str(), ADMIN_KEY, "py-acme", "py-user"])
            .env("PYTHONPATH", out.path())
            .output()
            .map(|o| (o, out))
    });
    let (output, _out) = run.await.expect("driver task").expect("run python3");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the generated client's checks failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("all checks passed"), "{stdout}");
    assert_eq!(ws.recv_notification().await["event_type"], "py.tenant");
    let (close, _) = ws.recv_close(Duration::from_secs(5)).await;
    assert_eq!(close.map(|c| c.0), Some(4404), "the forced delete closed the connection");
}
