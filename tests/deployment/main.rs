//! The deployment files, read as an operator's tools would read them (no Docker engine or `helm`
//! binary can be had here): the Dockerfile and `.dockerignore`, `docker-compose.yml` with its
//! Prometheus, Grafana and OpenTelemetry files, and the Helm chart rendered with its default values
//! (and with every optional part on). Each must parse, set only settings Ara knows (checked against
//! the settings type), and point its probes and scrapes at routes that exist.

mod cluster;
mod helm_render;

use std::collections::BTreeSet;
use std::path::PathBuf;

use ara::app::config_report::known_env_keys;
use ara::app::Settings;
use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml(path: &str) -> Value {
    serde_norway::from_str(&read(path)).unwrap_or_else(|e| panic!("{path} is not YAML: {e}"))
}

/// The routes of the committed OpenAPI description (what the server serves).
fn served_routes() -> BTreeSet<String> {
    let spec: Value = serde_json::from_str(&read("openapi/openapi.json")).expect("openapi.json parses");
    spec["paths"].as_object().expect("paths").keys().cloned().collect()
}

fn assert_served(path: &str, what: &str) {
    let routes = served_routes();
    assert!(routes.contains(path), "{what}: {path} is not a route of openapi/openapi.json ({routes:?})");
}

/// Every name must be a setting of `Settings`, or Ara would ignore it silently.
fn assert_known_settings<'a>(names: impl IntoIterator<Item = &'a str>, what: &str) {
    let known = known_env_keys();
    let unknown: Vec<&str> = names.into_iter().filter(|n| !known.iter().any(|k| k == n)).collect();
    assert!(unknown.is_empty(), "{what} sets settings Ara does not know: {unknown:?}");
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `${VAR:?message}` and `${VAR}` become a long stand-in, `${VAR:-default}` its default: what compose
/// substitutes once `.env` holds generated secrets.
fn substitute(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').map(|e| start + e).expect("closed ${");
        let expr = &rest[start + 2..end];
        match expr.split_once(":-") {
            Some((_, default)) => out.push_str(default),
            None => out.push_str("generated-secret-0123456789abcdef0123456789abcdef"),
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

#[test]
fn compose_runs_ara_in_production_with_its_stores_and_observability() {
    let compose = yaml("docker-compose.yml");
    let services = compose["services"].as_object().expect("services");
    for name in ["ara", "postgres", "redis", "prometheus", "grafana", "otel-collector"] {
        assert!(services.contains_key(name), "no {name} service");
    }
    let ara = &services["ara"];
    assert_eq!(ara["restart"], "unless-stopped");
    let check: Vec<String> =
        ara["healthcheck"]["test"].as_array().expect("ara has a health check").iter().map(text).collect();
    assert_eq!(check, ["CMD", "/usr/local/bin/ara", "healthcheck"], "the health check needs no curl");

    let env = ara["environment"].as_object().expect("environment as a map");
    assert_known_settings(env.keys().map(String::as_str), "docker-compose.yml (ara)");
    assert_eq!(env["RUN_MODE"], "production");
    for secret in ["JWT_SECRET", "API_KEY"] {
        let value = text(&env[secret]);
        assert!(
            value.starts_with("${") && value.contains(":?"),
            "{secret} must be required from .env, not written here: {value}"
        );
    }
    // With the secrets generated, the settings load in production mode.
    let pairs: Vec<(String, String)> = env.iter().map(|(k, v)| (k.clone(), substitute(&text(v)))).collect();
    let settings = Settings::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .unwrap_or_else(|e| panic!("compose's settings do not load: {e}"));
    assert!(settings.is_production());
    // The stores and the collector it names are services of this file.
    for url in
        [settings.database_url().unwrap_or_default(), settings.redis_url().unwrap_or_default(), &settings.otel.endpoint]
    {
        let host = url::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default();
        assert!(services.contains_key(&host), "{url} names {host}, which is not a service");
    }
    assert!(settings.otel.enabled);
    let published: Vec<String> = ara["ports"].as_array().expect("ports").iter().map(text).collect();
    assert!(published.iter().any(|p| p.ends_with(&format!(":{}", settings.server.port))), "{published:?}");

    // Every file it mounts is in the repository.
    for (name, service) in services {
        for volume in service["volumes"].as_array().into_iter().flatten().map(text) {
            if let Some(local) = volume.strip_prefix("./") {
                let file = local.split(':').next().unwrap_or_default();
                assert!(repo().join(file).exists(), "{name} mounts {file}, which does not exist");
            }
        }
    }
    let grafana_env = services["grafana"]["environment"].as_object().expect("grafana environment");
    assert!(text(&grafana_env["GF_SECURITY_ADMIN_PASSWORD"]).contains(":?"), "Grafana's password is generated too");
}

#[test]
fn prometheus_scrapes_ara_and_the_collector_receives_its_traces() {
    let prometheus = yaml("deploy/prometheus/prometheus.yml");
    let jobs = prometheus["scrape_configs"].as_array().expect("scrape_configs");
    let ara = jobs.iter().find(|j| j["job_name"] == "ara").expect("an ara job");
    let path = ara["metrics_path"].as_str().unwrap_or("/metrics");
    assert_served(path, "Prometheus scrape");
    assert_eq!(text(&ara["static_configs"][0]["targets"][0]), "ara:8080");

    let collector = yaml("deploy/otel/collector.yaml");
    assert_eq!(collector["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"], "0.0.0.0:4317");
    let pipeline = &collector["service"]["pipelines"]["traces"];
    for (part, list) in [
        ("receivers", &pipeline["receivers"]),
        ("processors", &pipeline["processors"]),
        ("exporters", &pipeline["exporters"]),
    ] {
        for name in list.as_array().expect("a list").iter().map(text) {
            assert!(
                collector[part].get(&name).is_some(),
                "the traces pipeline names {part} {name}, which is not defined"
            );
        }
    }
}

/// Metric names Ara exposes: the documented table, and a live scrape of the real server.
async fn exposed_metrics() -> BTreeSet<String> {
    let doc = read("docs/OBSERVABILITY.md");
    let mut names: BTreeSet<String> = doc
        .lines()
        .filter(|l| l.starts_with("| `ara_"))
        .flat_map(|l| {
            l.split('|')
                .nth(1)
                .unwrap_or_default()
                .split('`')
                .filter(|p| p.starts_with("ara_"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    let settings = Settings::from_pairs([("SERVER_HOST", "127.0.0.1"), ("SERVER_PORT", "0")]).expect("settings");
    let app = ara::app::Application::build(settings).await.expect("the application builds");
    let addr = app.local_addr();
    let stop = app.shutdown_token();
    let server = tokio::spawn(app.run_until_stopped());
    let body = reqwest::get(format!("http://{addr}/metrics")).await.expect("GET /metrics").text().await.expect("body");
    stop.cancel();
    let _ = server.await;
    names.extend(
        body.lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split_whitespace().next())
            .map(str::to_owned),
    );
    names
}

#[tokio::test]
async fn grafana_dashboard_shows_metrics_ara_exposes() {
    let datasources = yaml("deploy/grafana/provisioning/datasources/prometheus.yml");
    let uid = text(&datasources["datasources"][0]["uid"]);
    let providers = yaml("deploy/grafana/provisioning/dashboards/ara.yml");
    assert_eq!(
        providers["providers"][0]["options"]["path"], "/var/lib/grafana/dashboards",
        "where compose mounts deploy/grafana/dashboards"
    );

    let dashboard: Value =
        serde_json::from_str(&read("deploy/grafana/dashboards/ara.json")).expect("the dashboard is JSON");
    assert_eq!(dashboard["uid"], "ara");
    let panels = dashboard["panels"].as_array().expect("panels");
    let titles: Vec<String> = panels.iter().map(|p| text(&p["title"]).to_lowercase()).collect();
    for topic in ["connections", "delivery", "latency", "queue", "ack", "http", "redis"] {
        assert!(titles.iter().any(|t| t.contains(topic)), "no panel about {topic}: {titles:?}");
    }
    let exposed = exposed_metrics().await;
    let mut used = 0;
    for panel in panels.iter().filter(|p| p["type"] != "row") {
        assert_eq!(text(&panel["datasource"]["uid"]), uid, "{}: the provisioned data source", panel["title"]);
        for target in panel["targets"].as_array().expect("targets") {
            let expr = text(&target["expr"]);
            for name in metric_names(&expr) {
                let base = ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s)).unwrap_or(&name);
                assert!(
                    exposed.contains(&name) || exposed.contains(base),
                    "{}: {name} is not a metric Ara exposes",
                    panel["title"]
                );
                used += 1;
            }
        }
    }
    assert!(used > 20, "the dashboard queries Ara's metrics ({used})");
}

/// The `ara_…` identifiers in a PromQL expression.
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while let Some(at) = expr[i..].find("ara_") {
        let start = i + at;
        let boundary = start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        let end =
            expr[start..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).map_or(expr.len(), |e| start + e);
        if boundary {
            names.push(expr[start..end].to_owned());
        }
        i = end;
    }
    names
}

#[test]
fn dockerfile_builds_in_stages_runs_as_a_user_and_checks_its_health() {
    let dockerfile = read("Dockerfile");
    let instructions: Vec<&str> =
        dockerfile.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    let from: Vec<&&str> = instructions.iter().filter(|l| l.starts_with("FROM ")).collect();
    assert!(from.len() >= 2, "multi-stage: {from:?}");
    // Dependency caching: the manifests are copied and built before the sources.
    let position =
        |needle: &str| instructions.iter().position(|l| l.starts_with(needle)).unwrap_or_else(|| panic!("no {needle}"));
    assert!(
        position("COPY Cargo.toml Cargo.lock") < position("COPY src"),
        "dependencies build before the code is copied"
    );
    let user = instructions.iter().rev().find_map(|l| l.strip_prefix("USER ")).expect("a USER");
    assert!(!user.starts_with("root") && !user.starts_with('0'), "runs as {user}");
    let health = instructions.iter().find(|l| l.starts_with("HEALTHCHECK")).expect("a HEALTHCHECK");
    assert!(health.contains(r#"CMD ["/usr/local/bin/ara", "healthcheck"]"#), "{health}");
    assert!(!instructions.iter().any(|l| l.contains("curl")), "no curl needed");
    for line in instructions.iter().filter(|l| l.starts_with("ENV ")) {
        let names = line[4..].split_whitespace().filter_map(|kv| kv.split('=').next());
        assert_known_settings(names, "Dockerfile ENV");
    }
    // Every path it copies from the context exists and is not ignored.
    let ignore = read(".dockerignore");
    let ignored: Vec<&str> = ignore.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    for entry in [".git", "target", ".env"] {
        assert!(ignored.contains(&entry), ".dockerignore must exclude {entry}");
    }
    for line in instructions.iter().filter(|l| l.starts_with("COPY ") && !l.contains("--from=")) {
        let parts: Vec<&str> = line.split_whitespace().skip(1).collect();
        for source in &parts[..parts.len() - 1] {
            assert!(repo().join(source).exists(), "COPY {source}: not in the repository");
            assert!(!ignored.contains(source), "COPY {source}: excluded by .dockerignore");
        }
    }
}

const CHART: &str = "deploy/helm/ara";

fn manifests(overrides: &str) -> Vec<Value> {
    let rendered = helm_render::render(&repo().join(CHART), "ara", overrides);
    let mut docs = Vec::new();
    for (file, text) in rendered {
        for doc in text.split("\n---").filter(|d| !d.trim().is_empty()) {
            let value: Value =
                serde_norway::from_str(doc).unwrap_or_else(|e| panic!("{file} renders to invalid YAML: {e}\n{doc}"));
            if !value.is_null() {
                docs.push(value);
            }
        }
    }
    docs
}

fn kind<'a>(docs: &'a [Value], kind: &str) -> Option<&'a Value> {
    docs.iter().find(|d| d["kind"] == kind)
}

/// Checks that hold for any values: names, labels, env, probes, ports.
fn check_chart(docs: &[Value]) {
    let deployment = kind(docs, "Deployment").expect("a Deployment");
    let pod = &deployment["spec"]["template"];
    let selector = &deployment["spec"]["selector"]["matchLabels"];
    for (k, v) in selector.as_object().expect("selector labels") {
        assert_eq!(&pod["metadata"]["labels"][k], v, "pods carry the selector label {k}");
    }
    let container = &pod["spec"]["containers"][0];
    let env = container["env"].as_array().expect("env");
    let names: Vec<String> = env.iter().map(|e| text(&e["name"])).collect();
    assert_known_settings(names.iter().map(String::as_str), "the Helm chart");
    let unique: BTreeSet<&String> = names.iter().collect();
    assert_eq!(unique.len(), names.len(), "each setting once: {names:?}");
    for secret in ["JWT_SECRET", "API_KEY"] {
        let entry = env.iter().find(|e| e["name"] == secret).unwrap_or_else(|| panic!("no {secret}"));
        assert!(entry.get("value").is_none(), "{secret} must come from a Secret");
        let reference = &entry["valueFrom"]["secretKeyRef"];
        assert!(reference["name"].is_string() && reference["key"].is_string(), "{secret}: {entry}");
    }
    let port =
        container["ports"].as_array().expect("ports").iter().find(|p| p["name"] == "http").expect("an http port");
    let server_port =
        env.iter().find(|e| e["name"] == "SERVER_PORT").map(|e| text(&e["value"])).expect("SERVER_PORT is set");
    assert_eq!(text(&port["containerPort"]), server_port, "the container port is where Ara listens");
    let pairs: Vec<(String, String)> =
        env.iter().filter(|e| e.get("value").is_some()).map(|e| (text(&e["name"]), text(&e["value"]))).collect();
    let mut pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    // What the Secrets would hold.
    for entry in env.iter().filter(|e| e.get("valueFrom").is_some()) {
        let stand_in = match entry["name"].as_str().unwrap_or_default() {
            "DATABASE_URL" => "postgres://ara:password@postgres:5432/ara?sslmode=verify-full",
            "REDIS_URL" => "rediss://:password@redis:6380",
            "JWT_SECRET" | "API_KEY" => "generated-secret-0123456789abcdef0123456789abcdef",
            other => panic!("{other} from a Secret: add a stand-in value here"),
        };
        pairs.push((entry["name"].as_str().unwrap_or_default(), stand_in));
    }
    Settings::from_pairs(pairs).unwrap_or_else(|e| panic!("the chart's settings do not load: {e}"));

    for (probe, expected) in
        [("livenessProbe", "/health/live"), ("readinessProbe", "/health/ready"), ("startupProbe", "/health/live")]
    {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["port"], "http", "{probe} on the http port");
        let path = text(&get["path"]);
        assert_eq!(path, expected, "{probe}");
        assert_served(&path, probe);
    }
    assert_eq!(
        container["livenessProbe"]["httpGet"]["path"],
        ara::app::cli_healthcheck::LIVE_PATH,
        "what `ara healthcheck` asks"
    );
    let security = &container["securityContext"];
    assert_eq!(
        (&security["readOnlyRootFilesystem"], &security["allowPrivilegeEscalation"]),
        (&Value::Bool(true), &Value::Bool(false))
    );
    assert_eq!(pod["spec"]["securityContext"]["runAsNonRoot"], true);
    let grace = pod["spec"]["terminationGracePeriodSeconds"].as_u64().expect("a grace period");
    let shutdown = env
        .iter()
        .find(|e| e["name"] == "SERVER_SHUTDOWN_TIMEOUT_SECONDS")
        .map_or(10, |e| text(&e["value"]).parse().unwrap_or(10));
    assert!(grace > shutdown, "the kubelet waits for Ara's own shutdown ({grace} s > {shutdown} s)");

    let service = kind(docs, "Service").expect("a Service");
    assert_eq!(&service["spec"]["selector"], selector, "the Service selects the pods");
    assert_eq!(service["spec"]["ports"][0]["targetPort"], "http");
    let name = &deployment["metadata"]["name"];
    if let Some(pdb) = kind(docs, "PodDisruptionBudget") {
        assert_eq!(&pdb["spec"]["selector"]["matchLabels"], selector);
        let spec = pdb["spec"].as_object().expect("spec");
        assert!(spec.contains_key("minAvailable") ^ spec.contains_key("maxUnavailable"), "one of the two: {spec:?}");
    }
    if let Some(hpa) = kind(docs, "HorizontalPodAutoscaler") {
        assert_eq!(
            (&hpa["spec"]["scaleTargetRef"]["kind"], &hpa["spec"]["scaleTargetRef"]["name"]),
            (&Value::from("Deployment"), name)
        );
        assert!(deployment["spec"].get("replicas").is_none(), "the HPA owns the replica count");
    }
    if let Some(monitor) = kind(docs, "ServiceMonitor") {
        for (k, v) in monitor["spec"]["selector"]["matchLabels"].as_object().expect("labels") {
            assert_eq!(&service["metadata"]["labels"][k], v, "the ServiceMonitor selects the Service by {k}");
        }
        let endpoint = &monitor["spec"]["endpoints"][0];
        assert_eq!(endpoint["port"], "http");
        assert_served(&text(&endpoint["path"]), "ServiceMonitor");
    }
}

#[test]
fn helm_chart_renders_with_its_default_values() {
    let chart = yaml(&format!("{CHART}/Chart.yaml"));
    assert_eq!((chart["apiVersion"].as_str(), chart["name"].as_str()), (Some("v2"), Some("ara")));
    assert_eq!(text(&chart["appVersion"]), env!("CARGO_PKG_VERSION"), "the chart deploys this version");
    let docs = manifests("");
    let kinds: BTreeSet<String> = docs.iter().map(|d| text(&d["kind"])).collect();
    assert_eq!(kinds, ["Deployment", "PodDisruptionBudget", "Service"].map(String::from).into(), "by default");
    check_chart(&docs);
    let deployment = kind(&docs, "Deployment").unwrap();
    assert_eq!(deployment["spec"]["replicas"], 1);
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        format!("ara:{}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn helm_chart_renders_with_every_option_on() {
    let overrides = r#"
autoscaling: {enabled: true}
serviceMonitor: {enabled: true, labels: {release: prometheus}}
podDisruptionBudget: {minAvailable: 1}
image: {tag: "1.2.3"}
config:
  QUEUE_BACKEND: postgres
  ACK_BACKEND: redis
  REDIS_TLS_CA_CERT: /etc/ara/tls/ca.crt
  SERVER_SHUTDOWN_TIMEOUT_SECONDS: 20
secretEnv:
  DATABASE_URL: {secretName: ara-postgres, key: uri}
  REDIS_URL: {secretName: ara-redis, key: url}
extraVolumes: [{name: tls, secret: {secretName: ara-store-ca}}]
extraVolumeMounts: [{name: tls, mountPath: /etc/ara/tls, readOnly: true}]
nodeSelector: {disk: ssd}
"#;
    let docs = manifests(overrides);
    let kinds: BTreeSet<String> = docs.iter().map(|d| text(&d["kind"])).collect();
    for expected in ["Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "ServiceMonitor"] {
        assert!(kinds.contains(expected), "no {expected} in {kinds:?}");
    }
    check_chart(&docs);
    let pod = &kind(&docs, "Deployment").unwrap()["spec"]["template"]["spec"];
    assert_eq!(pod["containers"][0]["image"], "ara:1.2.3");
    assert_eq!(pod["volumes"][0]["secret"]["secretName"], "ara-store-ca");
    assert_eq!(pod["containers"][0]["volumeMounts"][0]["mountPath"], "/etc/ara/tls");
    assert_eq!(pod["nodeSelector"]["disk"], "ssd");
    let env = pod["containers"][0]["env"].as_array().unwrap();
    let db = env.iter().find(|e| e["name"] == "DATABASE_URL").expect("DATABASE_URL");
    assert_eq!(db["valueFrom"]["secretKeyRef"]["name"], "ara-postgres");
    assert_eq!(kind(&docs, "PodDisruptionBudget").unwrap()["spec"]["minAvailable"], 1);
    let monitor = kind(&docs, "ServiceMonitor").unwrap();
    assert_eq!(monitor["metadata"]["labels"]["release"], "prometheus");
}

#[test]
fn an_unknown_setting_is_caught() {
    // The check itself: a misspelt name must fail it.
    let result = std::panic::catch_unwind(|| assert_known_settings(["SERVER_PROT"], "test"));
    assert!(result.is_err(), "SERVER_PROT must be refused");
    assert_known_settings(["SERVER_PORT", "REDIS_TLS_CA_CERT", "RUN_MODE"], "test");
}
