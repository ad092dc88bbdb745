//! The cluster shapes of the deployment files: compose's `cluster` profile (three nodes over the one
//! Redis) and the chart's `values-cluster.yaml`, each with settings Ara knows and loads.

use ara::app::Settings;

use super::{assert_known_settings, check_chart, kind, manifests, read, substitute, text, yaml};

#[test]
fn compose_has_a_three_node_cluster_profile_on_its_redis() {
    let compose = yaml("docker-compose.yml");
    let services = compose["services"].as_object().expect("services");
    let mut ids = Vec::new();
    for n in 1..=3 {
        let name = format!("ara-node-{n}");
        let node = services.get(&name).unwrap_or_else(|| panic!("no {name} service"));
        assert_eq!(node["profiles"][0], "cluster", "{name} only runs with --profile cluster");
        let env = node["environment"].as_object().expect("environment as a map");
        assert_known_settings(env.keys().map(String::as_str), &name);
        let pairs: Vec<(String, String)> = env.iter().map(|(k, v)| (k.clone(), substitute(&text(v)))).collect();
        let settings = Settings::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .unwrap_or_else(|e| panic!("{name}'s settings do not load: {e}"));
        assert!(settings.cluster.enabled && settings.cluster_uses_redis(), "{name} runs in cluster mode");
        let host = url::Url::parse(settings.cluster_redis_url().unwrap_or_default())
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        assert!(services.contains_key(&host), "{name}'s Redis {host} is a service");
        ids.push(settings.cluster.node_id());
    }
    ids.dedup();
    assert_eq!(ids.len(), 3, "three distinct node ids: {ids:?}");
}

#[test]
fn the_chart_renders_a_three_pod_cluster() {
    let overrides = read("deploy/helm/ara/values-cluster.yaml");
    let docs = manifests(&overrides);
    check_chart(&docs);
    let deployment = kind(&docs, "Deployment").expect("a Deployment");
    assert_eq!(deployment["spec"]["replicas"], 3);
    let env = deployment["spec"]["template"]["spec"]["containers"][0]["env"].as_array().expect("env");
    let value = |name: &str| env.iter().find(|e| e["name"] == name).map(|e| text(&e["value"]));
    assert_eq!(value("CLUSTER_ENABLED").as_deref(), Some("true"));
    assert!(env.iter().any(|e| e["name"] == "REDIS_URL" && e["valueFrom"]["secretKeyRef"]["key"] == "url"));
    assert!(value("CLUSTER_NODE_ID").is_none(), "each pod's id comes from its own host name");
}
