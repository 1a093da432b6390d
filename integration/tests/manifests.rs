//! The Kubernetes manifests in `integration/manifests/` parse into the real
//! Kubernetes types (k8s-openapi), and nothing in them is silently dropped:
//! k8s-openapi ignores unknown fields, so each manifest is also serialized
//! back and every key of the original must still be there (a misspelt key
//! such as `runtimeClasName` would vanish). The Kyverno policy, a CRD, is
//! parsed into structs of its own that deny unknown fields.

use std::{collections::BTreeMap, path::PathBuf};

use k8s_openapi::api::{
    apps::v1::DaemonSet, batch::v1::Job, core::v1::Pod, node::v1::RuntimeClass,
};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_yaml::Value;

fn read(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("manifests")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Paths of keys in `original` that are missing from `round_trip`.
fn missing_keys(original: &Value, round_trip: &Value, at: &str, out: &mut Vec<String>) {
    match (original, round_trip) {
        (Value::Mapping(a), Value::Mapping(b)) => {
            for (k, v) in a {
                let key = k.as_str().map_or_else(|| format!("{k:?}"), String::from);
                let path = format!("{at}.{key}");
                match b.get(k) {
                    Some(w) => missing_keys(v, w, &path, out),
                    None => out.push(path),
                }
            }
        }
        (Value::Sequence(a), Value::Sequence(b)) => {
            for (i, v) in a.iter().enumerate() {
                match b.get(i) {
                    Some(w) => missing_keys(v, w, &format!("{at}[{i}]"), out),
                    None => out.push(format!("{at}[{i}]")),
                }
            }
        }
        _ => {}
    }
}

/// Parses `text` as a `T`, failing on a type error or on a key that the
/// type does not know.
fn parse<T: DeserializeOwned + Serialize>(text: &str, name: &str) -> T {
    let value: Value = serde_yaml::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let typed: T = serde_yaml::from_value(value.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
    let back = serde_yaml::to_value(&typed).unwrap();
    let mut missing = Vec::new();
    missing_keys(&value, &back, "", &mut missing);
    assert!(
        missing.is_empty(),
        "{name}: unknown (misspelt?) keys {missing:?}"
    );
    typed
}

#[test]
fn runtime_class_has_handler_overhead_and_node_selector() {
    let rc: RuntimeClass = parse(&read("runtimeclass.yaml"), "runtimeclass.yaml");
    assert_eq!(rc.metadata.name.as_deref(), Some("gvisor"));
    assert_eq!(rc.handler, "runsc");
    let fixed = rc.overhead.unwrap().pod_fixed.unwrap();
    assert_eq!(fixed["memory"].0, "64Mi");
    assert_eq!(fixed["cpu"].0, "50m");
    let selector = rc.scheduling.unwrap().node_selector.unwrap();
    assert_eq!(selector["gvisor.io/enabled"], "true");
}

#[test]
fn web_pod_runs_in_gvisor() {
    let pod: Pod = parse(&read("untrusted-web.yaml"), "untrusted-web.yaml");
    let spec = pod.spec.unwrap();
    assert_eq!(spec.runtime_class_name.as_deref(), Some("gvisor"));
    assert_eq!(pod.metadata.namespace.as_deref(), Some("untrusted"));
    assert_eq!(
        spec.containers[0].ports.as_ref().unwrap()[0].container_port,
        80
    );
}

#[test]
fn ci_job_runs_in_gvisor() {
    let job: Job = parse(&read("ci-build-job.yaml"), "ci-build-job.yaml");
    let pod = job.spec.unwrap().template.spec.unwrap();
    assert_eq!(pod.runtime_class_name.as_deref(), Some("gvisor"));
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
    let mounts: Vec<_> = pod.containers[0]
        .volume_mounts
        .iter()
        .flatten()
        .map(|m| m.name.as_str())
        .collect();
    let volumes: Vec<_> = pod
        .volumes
        .iter()
        .flatten()
        .map(|v| v.name.as_str())
        .collect();
    assert_eq!(mounts, volumes);
}

#[test]
fn installer_daemonset_targets_labelled_nodes_and_runs_install_sh() {
    let ds: DaemonSet = parse(
        &read("daemonset-installer.yaml"),
        "daemonset-installer.yaml",
    );
    let spec = ds.spec.unwrap();
    let labels = spec.selector.match_labels.clone().unwrap();
    assert_eq!(
        spec.template.metadata.as_ref().unwrap().labels.as_ref(),
        Some(&labels)
    );
    let pod = spec.template.spec.unwrap();
    assert_eq!(pod.node_selector.unwrap()["gvisor.io/enabled"], "true");
    let host_paths: Vec<_> = pod
        .volumes
        .iter()
        .flatten()
        .filter_map(|v| v.host_path.as_ref().map(|h| h.path.as_str()))
        .collect();
    assert_eq!(host_paths, ["/usr/local/bin", "/etc/containerd"]);
    let init = &pod.init_containers.unwrap()[0];
    let command = init.command.as_ref().unwrap().join(" ");
    assert!(command.contains("scripts/install.sh"), "{command}");
    assert!(command.contains("--prefix /host/usr/local"), "{command}");
    for mount in init.volume_mounts.iter().flatten() {
        assert!(
            host_paths.len() == 2
                && ["usr-local-bin", "etc-containerd"].contains(&mount.name.as_str()),
            "{mount:?}"
        );
    }
}

/// The parts of Kyverno's `ClusterPolicy` (kyverno.io/v1) the policy uses.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ClusterPolicy {
    api_version: String,
    kind: String,
    metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    spec: PolicySpec,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PolicySpec {
    validation_failure_action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    background: Option<bool>,
    rules: Vec<Rule>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    name: String,
    #[serde(rename = "match")]
    match_: Match,
    validate: Validate,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Match {
    any: Vec<ResourceFilter>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct ResourceFilter {
    resources: Resources,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Resources {
    kinds: Vec<String>,
    namespaces: Vec<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Validate {
    message: String,
    pattern: BTreeMap<String, Value>,
}

#[test]
fn kyverno_policy_requires_gvisor_in_chosen_namespaces() {
    let p: ClusterPolicy = parse(
        &read("kyverno-require-gvisor.yaml"),
        "kyverno-require-gvisor.yaml",
    );
    assert_eq!(
        (p.api_version.as_str(), p.kind.as_str()),
        ("kyverno.io/v1", "ClusterPolicy")
    );
    assert!(["Enforce", "Audit"].contains(&p.spec.validation_failure_action.as_str()));
    let rule = &p.spec.rules[0];
    let resources = &rule.match_.any[0].resources;
    assert_eq!(resources.kinds, ["Pod"]);
    assert_eq!(resources.namespaces, ["untrusted", "ci-builds"]);
    assert_eq!(
        rule.validate.pattern["spec"]["runtimeClassName"].as_str(),
        Some("gvisor")
    );
    // The sample workloads live in the enforced namespaces.
    let pod: Pod = parse(&read("untrusted-web.yaml"), "untrusted-web.yaml");
    assert!(resources
        .namespaces
        .contains(pod.metadata.namespace.as_ref().unwrap()));
}

#[test]
fn a_typo_is_caught() {
    let text = read("untrusted-web.yaml").replace("runtimeClassName", "runtimeClasName");
    let result = std::panic::catch_unwind(|| parse::<Pod>(&text, "typo"));
    let msg = *result.unwrap_err().downcast::<String>().unwrap();
    assert!(msg.contains(".spec.runtimeClasName"), "{msg}");
    let policy = read("kyverno-require-gvisor.yaml").replace("validate:", "validates:");
    assert!(serde_yaml::from_str::<ClusterPolicy>(&policy).is_err());
}
