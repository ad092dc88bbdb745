//! The dashboard's login, session cookie, CSRF token and connection inspector, over real HTTP.

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

const ADMIN_KEY: &str = "the-admin-key-of-this-test";
const API_KEY: &str = "the-api-key-of-this-test";

fn http() -> reqwest::Client {
    reqwest::Client::builder().redirect(Policy::none()).build().expect("client")
}

async fn admin_app() -> TestApp {
    spawn_app(&[("ADMIN_API_KEY", ADMIN_KEY), ("API_KEY", API_KEY)]).await
}

struct Login {
    cookie: String,
    csrf: String,
}

async fn log_in(app: &TestApp) -> Login {
    let r = http().post(app.url("/admin/login")).form(&[("key", ADMIN_KEY)]).send().await.expect("login");
    assert_eq!(r.status(), 303);
    let set = r.headers()[SET_COOKIE].to_str().expect("cookie").to_owned();
    let cookie = set.split(';').next().expect("name=value").to_owned();
    let session: Value = http()
        .get(app.url("/admin/api/session"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .expect("session")
        .json()
        .await
        .expect("JSON");
    let csrf = session["csrf_token"].as_str().expect("csrf token").to_owned();
    Login { cookie, csrf }
}

#[tokio::test]
async fn the_dashboard_is_off_without_an_admin_key() {
    let app = spawn_app(&[]).await;
    let page = http().get(app.url("/admin")).send().await.expect("page");
    assert_eq!(page.status(), 404);
    assert!(page.text().await.unwrap_or_default().contains("ADMIN_API_KEY"));
    let login =
        http().post(app.url("/admin/login")).form(&[("key", "anything-at-all-here")]).send().await.expect("login");
    assert_eq!(login.status(), 404);
    assert!(login.headers().get(SET_COOKIE).is_none());
    app.get("/admin/api/session").await.assert_error(404, "ADMIN_DISABLED");
}

#[tokio::test]
async fn a_wrong_key_is_refused_and_the_right_one_gives_a_strict_http_only_cookie() {
    let app = admin_app().await;
    let page = http().get(app.url("/admin")).send().await.expect("page");
    assert_eq!(page.status(), 303);
    assert_eq!(page.headers()[LOCATION], "/admin/login");

    for wrong in ["", "the-admin-key-of-this-tesT", API_KEY, "the-admin-key-of-this-test-and-more"] {
        let r = http().post(app.url("/admin/login")).form(&[("key", wrong)]).send().await.expect("login");
        assert_eq!(r.status(), 401, "{wrong:?}");
        assert!(r.headers().get(SET_COOKIE).is_none());
        assert!(r.text().await.unwrap_or_default().contains("Wrong key"));
    }
    let r = http().post(app.url("/admin/login")).form(&[("key", ADMIN_KEY)]).send().await.expect("login");
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()[LOCATION], "/admin");
    let cookie = r.headers()[SET_COOKIE].to_str().expect("text");
    for attribute in ["ara_admin=", "HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: a Secure cookie would never come back");
    let behind_tls = http()
        .post(app.url("/admin/login"))
        .header("x-forwarded-proto", "https")
        .form(&[("key", ADMIN_KEY)])
        .send()
        .await
        .expect("login");
    assert!(behind_tls.headers()[SET_COOKIE].to_str().expect("text").contains("; Secure"));

    let login = log_in(&app).await;
    let page = http().get(app.url("/admin")).header(COOKIE, &login.cookie).send().await.expect("page");
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().expect("csp").to_owned();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(page.text().await.unwrap_or_default().contains("/admin/assets/app.js"));
    let script = http().get(app.url("/admin/assets/app.js")).send().await.expect("asset");
    assert_eq!(script.headers()["content-type"], "text/javascript; charset=utf-8");
}

#[tokio::test]
async fn a_session_acts_with_the_api_key_only_with_its_csrf_token() {
    let app = admin_app().await;
    let login = log_in(&app).await;
    let stats = |cookie: Option<&str>, csrf: Option<&str>| {
        let mut r = http().get(app.url("/stats"));
        if let Some(c) = cookie {
            r = r.header(COOKIE, c);
        }
        if let Some(t) = csrf {
            r = r.header("x-csrf-token", t);
        }
        r.send()
    };
    assert_eq!(stats(Some(&login.cookie), Some(&login.csrf)).await.expect("stats").status(), 200);
    assert_eq!(stats(Some(&login.cookie), None).await.expect("stats").status(), 401, "no CSRF token");
    assert_eq!(stats(Some(&login.cookie), Some("0000")).await.expect("stats").status(), 401, "wrong CSRF token");
    assert_eq!(stats(Some("ara_admin=forged"), Some(&login.csrf)).await.expect("stats").status(), 401);
    assert_eq!(stats(None, Some(&login.csrf)).await.expect("stats").status(), 401);

    // A send through the session reaches a client, as from the dashboard's form.
    let mut ws = app.connect_user("alice", "default").await;
    let sent: Value = http()
        .post(app.url("/api/v1/notifications/send"))
        .header(COOKIE, &login.cookie)
        .header("x-csrf-token", &login.csrf)
        .json(&json!({"target_user_id": "alice", "event_type": "admin.test", "payload": {"from": "dashboard"}}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("JSON");
    assert_eq!(sent["delivered_to"], 1, "{sent}");
    let frame = ws.recv_type("notification").await;
    assert_eq!(frame["payload"]["from"], "dashboard");

    // Logging out ends it.
    let out = http()
        .post(app.url("/admin/logout"))
        .header(COOKIE, &login.cookie)
        .header("x-csrf-token", &login.csrf)
        .send()
        .await
        .expect("logout");
    assert_eq!(out.status(), 204);
    assert!(out.headers()[SET_COOKIE].to_str().expect("text").contains("Max-Age=0"));
    assert_eq!(stats(Some(&login.cookie), Some(&login.csrf)).await.expect("stats").status(), 401);
}

#[tokio::test]
async fn requests_from_another_origin_are_refused() {
    let app = admin_app().await;
    let login = log_in(&app).await;
    for (header, value) in [
        ("origin", "http://evil.example"),
        ("origin", "null"),
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
    ] {
        let r = http()
            .post(app.url("/admin/login"))
            .header(header, value)
            .form(&[("key", ADMIN_KEY)])
            .send()
            .await
            .expect("login");
        assert_eq!(r.status(), 403, "{header}: {value}");
        assert!(r.headers().get(SET_COOKIE).is_none());
        let out = http()
            .post(app.url("/admin/logout"))
            .header(COOKIE, &login.cookie)
            .header("x-csrf-token", &login.csrf)
            .header(header, value)
            .send()
            .await
            .expect("logout");
        assert_eq!(out.status(), 403);
        let inspect = http()
            .get(app.url("/admin/api/connections"))
            .header(COOKIE, &login.cookie)
            .header("x-csrf-token", &login.csrf)
            .header(header, value)
            .send()
            .await
            .expect("inspect");
        assert_eq!(inspect.status(), 403);
    }
    let host = app.url("").trim_start_matches("http://").to_owned();
    let same = http()
        .post(app.url("/admin/login"))
        .header("origin", format!("http://{host}"))
        .header("sec-fetch-site", "same-origin")
        .form(&[("key", ADMIN_KEY)])
        .send()
        .await
        .expect("login");
    assert_eq!(same.status(), 303);
    // A logout without the CSRF token is refused as well.
    let out = http().post(app.url("/admin/logout")).header(COOKIE, &login.cookie).send().await.expect("logout");
    assert_eq!(out.status(), 403);
}

#[tokio::test]
async fn the_inspector_lists_a_users_connections_and_a_tenants() {
    let app = admin_app().await;
    let login = log_in(&app).await;
    let mut alice = app.connect_user("alice", "default").await;
    alice.send_json(&json!({"type": "Subscribe", "payload": {"channels": ["orders", "news"]}})).await;
    alice.recv_type("subscribed").await;
    let _alice2 = app.connect_user("alice", "default").await;
    let _bob = app.connect_user("bob", "default").await;
    let _other = app.connect_user("alice", "acme").await;
    let inspect = |query: &str| {
        http()
            .get(app.url(&format!("/admin/api/connections{query}")))
            .header(COOKIE, &login.cookie)
            .header("x-csrf-token", &login.csrf)
            .send()
    };
    let r: Value = inspect("?user_id=alice").await.expect("inspect").json().await.expect("JSON");
    assert_eq!(r["total"], 2, "{r}");
    assert_eq!(r["user_id"], "alice");
    assert_eq!(r["tenant_id"], "default");
    let list = r["connections"].as_array().expect("list");
    assert!(list[0]["connection_id"].as_u64() > list[1]["connection_id"].as_u64(), "newest first");
    assert_eq!(list[1]["channels"], json!(["news", "orders"]));
    assert_eq!(list[1]["transport"], "websocket");
    assert!(list[1]["connected_at"].as_str().is_some_and(|t| t.ends_with('Z')));

    let all: Value = inspect("").await.expect("inspect").json().await.expect("JSON");
    assert_eq!(all["total"], 3, "alice twice and bob in default; acme is another tenant: {all}");
    let acme: Value = inspect("?tenant=acme").await.expect("inspect").json().await.expect("JSON");
    assert_eq!(acme["total"], 1);
    let nobody: Value = inspect("?user_id=carol").await.expect("inspect").json().await.expect("JSON");
    assert_eq!(nobody["connections"], json!([]));

    let bad = inspect("?tenant_id=acme").await.expect("inspect");
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "INVALID_REQUEST", "{body}");
    let no_csrf =
        http().get(app.url("/admin/api/connections")).header(COOKIE, &login.cookie).send().await.expect("inspect");
    assert_eq!(no_csrf.status(), 403);
    app.get("/admin/api/connections").await.assert_error(401, "ADMIN_SESSION_REQUIRED");
}

#[test]
fn the_admin_key_must_be_long_and_differ_from_the_api_key() {
    use ara::app::Settings;
    let err = Settings::from_pairs([("ADMIN_API_KEY", "short")]).expect_err("too short").to_string();
    assert!(err.contains("ADMIN_API_KEY") && err.contains("16"), "{err}");
    let same = "the-same-key-for-both-roles";
    let err = Settings::from_pairs([("ADMIN_API_KEY", same), ("API_KEY", same)]).expect_err("same").to_string();
    assert!(err.contains("must differ"), "{err}");
    let ok = Settings::from_pairs([("ADMIN_API_KEY", ADMIN_KEY), ("ADMIN_SESSION_TTL_SECONDS", "60")]).expect("valid");
    assert_eq!(ok.admin.api_key(), Some(ADMIN_KEY));
    assert!(!format!("{ok:?}").contains(ADMIN_KEY), "the key never shows in debug output");
}
