//! The deployment files under `deploy/`: every YAML document parses; the Kubernetes manifests are
//! complete (kinds, names, resources, probes); the compose file has its services and health
//! checks; and every `FLASHFORGE__SECTION__KEY` variable they set names a real configuration key.
//! `scripts/check-deploy.sh` runs the external validators (compose, nginx, kubernetes schemas,
//! yamllint, hadolint) on the same files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use flashforge::settings::{Environment, Settings};
use serde::Deserialize;
use serde_yaml_ng::Value;

const REQUIRED_KINDS: &[&str] = &[
    "Deployment",
    "Service",
    "Ingress",
    "HorizontalPodAutoscaler",
    "ConfigMap",
    "Secret",
    "PodDisruptionBudget",
    "CronJob",
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn deploy_dir() -> PathBuf {
    repo().join("deploy")
}

/// Every file under `dir`, recursively, in a stable order.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn yaml_files() -> Vec<PathBuf> {
    files_under(&deploy_dir())
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect()
}

/// The documents of one YAML file, merge keys (`<<`) applied; empty documents left out.
fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = Vec::new();
    for (i, document) in serde_yaml_ng::Deserializer::from_str(&text).enumerate() {
        let mut value = Value::deserialize(document)
            .unwrap_or_else(|e| panic!("{} (document {i}): {e}", path.display()));
        value
            .apply_merge()
            .unwrap_or_else(|e| panic!("{} (document {i}): {e}", path.display()));
        if !value.is_null() {
            out.push(value);
        }
    }
    out
}

fn str_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(value, path).and_then(Value::as_str)
}

fn at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, key| v.get(*key))
}

fn relative(path: &Path) -> String {
    path.strip_prefix(deploy_dir())
        .unwrap_or(path)
        .display()
        .to_string()
}

fn k8s_documents() -> Vec<(String, Value)> {
    yaml_files()
        .into_iter()
        .filter(|p| p.starts_with(deploy_dir().join("k8s")))
        .flat_map(|p| {
            let name = relative(&p);
            documents(&p).into_iter().map(move |d| (name.clone(), d))
        })
        .collect()
}

#[test]
fn every_yaml_document_under_deploy_parses() {
    let files = yaml_files();
    assert!(
        files.len() >= 10,
        "expected the compose file and the Kubernetes manifests, found {files:?}"
    );
    for file in files {
        assert!(!documents(&file).is_empty(), "{} is empty", file.display());
    }
}

#[test]
fn the_kubernetes_manifests_are_complete_and_namespace_agnostic() {
    let docs = k8s_documents();
    let mut kinds = BTreeSet::new();
    for (file, doc) in &docs {
        let api_version = str_at(doc, &["apiVersion"]).unwrap_or_default();
        let kind = str_at(doc, &["kind"]).unwrap_or_default();
        let name = str_at(doc, &["metadata", "name"]).unwrap_or_default();
        assert!(
            !api_version.is_empty() && !kind.is_empty() && !name.is_empty(),
            "{file}: every document needs apiVersion, kind and metadata.name"
        );
        assert!(
            at(doc, &["metadata", "namespace"]).is_none(),
            "{file}: {kind}/{name} names a namespace; the manifests must not"
        );
        kinds.insert(kind.to_string());
        let expected_api = match kind {
            "HorizontalPodAutoscaler" => Some("autoscaling/v2"),
            "PodDisruptionBudget" => Some("policy/v1"),
            "CronJob" | "Job" => Some("batch/v1"),
            "Deployment" => Some("apps/v1"),
            "Ingress" => Some("networking.k8s.io/v1"),
            _ => None,
        };
        if let Some(expected) = expected_api {
            assert_eq!(api_version, expected, "{file}: {kind}/{name}");
        }
    }
    for kind in REQUIRED_KINDS {
        assert!(kinds.contains(*kind), "no {kind} in deploy/k8s: {kinds:?}");
    }
}

#[test]
fn every_kubernetes_container_has_resources_and_long_running_ones_have_probes() {
    let mut containers_seen = 0;
    for (file, doc) in k8s_documents() {
        let kind = str_at(&doc, &["kind"]).unwrap_or_default().to_string();
        let name = str_at(&doc, &["metadata", "name"])
            .unwrap_or_default()
            .to_string();
        let pod = match kind.as_str() {
            "Deployment" | "Job" | "StatefulSet" | "DaemonSet" => {
                at(&doc, &["spec", "template", "spec"])
            }
            "CronJob" => at(&doc, &["spec", "jobTemplate", "spec", "template", "spec"]),
            _ => continue,
        };
        let pod = pod.unwrap_or_else(|| panic!("{file}: {kind}/{name} has no pod template"));
        let containers = pod["containers"].as_sequence().cloned().unwrap_or_default();
        assert!(
            !containers.is_empty(),
            "{file}: {kind}/{name} has no containers"
        );
        let init = pod["initContainers"]
            .as_sequence()
            .cloned()
            .unwrap_or_default();
        for (container, long_running) in containers
            .iter()
            .map(|c| (c, kind == "Deployment"))
            .chain(init.iter().map(|c| (c, false)))
        {
            containers_seen += 1;
            let cname = str_at(container, &["name"]).unwrap_or("?");
            let what = format!("{file}: {kind}/{name}, container {cname}");
            for part in ["requests", "limits"] {
                for resource in ["cpu", "memory"] {
                    assert!(
                        at(container, &["resources", part, resource]).is_some(),
                        "{what} needs resources.{part}.{resource}"
                    );
                }
            }
            assert!(
                at(container, &["image"]).and_then(Value::as_str).is_some(),
                "{what} has no image"
            );
            if long_running {
                for probe in ["livenessProbe", "readinessProbe"] {
                    assert!(
                        container[probe].as_mapping().is_some_and(|m| !m.is_empty()),
                        "{what} needs a {probe}"
                    );
                }
            }
            assert_eq!(
                at(container, &["securityContext", "allowPrivilegeEscalation"]),
                Some(&Value::Bool(false)),
                "{what}: allowPrivilegeEscalation must be false"
            );
        }
        assert_eq!(
            at(pod, &["securityContext", "runAsNonRoot"]),
            Some(&Value::Bool(true)),
            "{file}: {kind}/{name} must run as non-root"
        );
    }
    assert!(
        containers_seen >= 5,
        "only {containers_seen} containers found"
    );
}

#[test]
fn the_api_deployment_probes_the_health_endpoints_and_is_scraped() {
    let docs = k8s_documents();
    let api = docs
        .iter()
        .map(|(_, d)| d)
        .find(|d| {
            str_at(d, &["kind"]) == Some("Deployment")
                && str_at(d, &["metadata", "name"]) == Some("flashforge-api")
        })
        .expect("a Deployment named flashforge-api");
    assert_eq!(
        at(api, &["spec", "replicas"]).and_then(Value::as_u64),
        Some(2)
    );
    let container = &api["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        str_at(container, &["livenessProbe", "httpGet", "path"]),
        Some("/health/live")
    );
    assert_eq!(
        str_at(container, &["readinessProbe", "httpGet", "path"]),
        Some("/health/ready")
    );
    assert!(container["startupProbe"].is_mapping(), "a startupProbe");
    assert_eq!(
        at(container, &["securityContext", "readOnlyRootFilesystem"]),
        Some(&Value::Bool(true))
    );
    let annotations = &api["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(str_at(annotations, &["prometheus.io/scrape"]), Some("true"));
    assert_eq!(str_at(annotations, &["prometheus.io/port"]), Some("9464"));
}

#[test]
fn the_kustomization_lists_every_manifest() {
    let dir = deploy_dir().join("k8s");
    let kustomization = documents(&dir.join("kustomization.yaml"))
        .pop()
        .expect("deploy/k8s/kustomization.yaml");
    let listed: BTreeSet<String> = kustomization["resources"]
        .as_sequence()
        .expect("resources")
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect();
    let present: BTreeSet<String> = files_under(&dir)
        .iter()
        .map(|p| relative(p).trim_start_matches("k8s/").to_string())
        .filter(|p| p.ends_with(".yaml") && p != "kustomization.yaml")
        .collect();
    assert_eq!(
        listed, present,
        "kustomization.yaml resources vs files in deploy/k8s"
    );
}

#[test]
fn the_compose_file_runs_every_service_with_health_checks() {
    let compose = documents(&deploy_dir().join("docker-compose.yml"))
        .pop()
        .expect("deploy/docker-compose.yml");
    let services = compose["services"].as_mapping().expect("services");
    for name in ["api", "worker", "postgres", "qdrant", "redis"] {
        let service = services
            .get(name)
            .unwrap_or_else(|| panic!("compose service {name} is missing"));
        let healthcheck = &service["healthcheck"];
        assert!(
            healthcheck["test"].is_sequence() || healthcheck["test"].is_string(),
            "compose service {name} needs a healthcheck test"
        );
        if let Some(items) = healthcheck["test"].as_sequence() {
            assert!(
                items.iter().all(Value::is_string),
                "{name}: every healthcheck test item must be a string (a `key: value` inside an \
                 unquoted item makes it a mapping)"
            );
        }
        assert_ne!(
            healthcheck.get("disable"),
            Some(&Value::Bool(true)),
            "{name}: health check disabled"
        );
        assert!(
            at(service, &["deploy", "resources", "limits", "memory"]).is_some(),
            "compose service {name} needs a memory limit"
        );
    }
    for name in ["api", "worker"] {
        let depends = &compose["services"][name]["depends_on"];
        for dependency in ["postgres", "qdrant", "redis"] {
            assert_eq!(
                str_at(depends, &[dependency, "condition"]),
                Some("service_healthy"),
                "{name} waits for {dependency}"
            );
        }
        assert_eq!(
            str_at(depends, &["migrate", "condition"]),
            Some("service_completed_successfully"),
            "{name} waits for the migrations"
        );
    }
    let volumes = compose["volumes"].as_mapping().expect("named volumes");
    for volume in ["pgdata", "qdrant_storage", "blobs", "backups"] {
        assert!(volumes.contains_key(volume), "named volume {volume}");
    }
}

/// `section.key` for every `FLASHFORGE__SECTION__KEY` in `text`.
fn flashforge_keys(text: &str) -> BTreeSet<String> {
    const PREFIX: &str = "FLASHFORGE__";
    let mut keys = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find(PREFIX) {
        rest = &rest[start + PREFIX.len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(rest.len());
        if let Some((section, key)) = rest[..end].split_once("__")
            && !section.is_empty()
            && !key.is_empty()
        {
            keys.insert(format!(
                "{}.{}",
                section.to_ascii_lowercase(),
                key.to_ascii_lowercase()
            ));
        }
    }
    keys
}

/// `section.key` of every key in config/default.toml.
fn default_toml_keys() -> BTreeSet<String> {
    let text = std::fs::read_to_string(repo().join("config/default.toml")).unwrap();
    let table: toml::Table = text.parse().expect("config/default.toml parses");
    let mut keys = BTreeSet::new();
    for (section, value) in &table {
        if let Some(inner) = value.as_table() {
            for key in inner.keys() {
                keys.insert(format!("{section}.{key}"));
            }
        }
    }
    keys
}

/// `section.key` of every field of the settings, including optional ones that
/// config/default.toml documents only in a comment (secrets such as `auth.jwt_secret`).
fn settings_keys() -> BTreeSet<String> {
    let (settings, _) = Settings::load_from(
        Environment::Test,
        &repo().join("config"),
        [(
            "FLASHFORGE__AUTH__JWT_SECRET".to_string(),
            "deploy-T3st_8yHq2Lx7Vm4Rz9Kw1Nb6Pd3Sf0Jg".to_string(),
        )],
    )
    .expect("the test configuration loads");
    let json = serde_json::to_value(&settings).unwrap();
    let sections: BTreeMap<String, serde_json::Value> =
        serde_json::from_value(json).unwrap_or_default();
    sections
        .iter()
        .filter_map(|(section, v)| v.as_object().map(|o| (section, o)))
        .flat_map(|(section, fields)| fields.keys().map(move |k| format!("{section}.{k}")))
        .collect()
}

#[test]
fn every_flashforge_variable_in_deploy_names_a_configuration_key() {
    let in_toml = default_toml_keys();
    let in_settings = settings_keys();
    assert!(in_toml.contains("server.port") && in_settings.contains("auth.jwt_secret"));
    let mut used = BTreeMap::<String, BTreeSet<String>>::new();
    for file in files_under(&deploy_dir()) {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        for key in flashforge_keys(&text) {
            used.entry(key).or_default().insert(relative(&file));
        }
    }
    assert!(used.contains_key("database.url"), "{used:?}");
    let unknown: Vec<String> = used
        .iter()
        .filter(|(key, _)| !in_toml.contains(*key) && !in_settings.contains(*key))
        .map(|(key, files)| format!("{key} (in {files:?})"))
        .collect();
    assert!(
        unknown.is_empty(),
        "FLASHFORGE__ variables naming no key of config/default.toml: {unknown:#?}"
    );
}

#[test]
fn the_variable_scanner_reads_sections_with_underscores() {
    let keys = flashforge_keys(
        "FLASHFORGE_ENV=x FLASHFORGE__RATE_LIMIT__REDIS_URL: y\n FLASHFORGE__<SECTION>__<KEY>",
    );
    assert_eq!(
        keys.into_iter().collect::<Vec<_>>(),
        vec!["rate_limit.redis_url".to_string()]
    );
}
