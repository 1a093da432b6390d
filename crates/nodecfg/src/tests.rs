use super::*;

const RUNSC_TOML: &str = "/etc/containerd/runsc.toml";

fn handler() -> Handler {
    Handler::new("runsc", RUNSC_TOML)
}

/// A containerd 1.x config as a node might have it: comments, other plugins,
/// a runc handler with options, and a registry mirror after the runtimes.
const V2: &str = r#"# Managed by hand.
version = 2
root = "/var/lib/containerd"   # data

[grpc]
  address = "/run/containerd/containerd.sock"

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "registry.k8s.io/pause:3.9"
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"   # the default
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = true
    [plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]
      endpoint = ["https://mirror.example"]
"#;

const V3: &str = r#"version = 3

[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"

[plugins."io.containerd.cri.v1.runtime".containerd]
  default_runtime_name = "runc"

[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
"#;

fn view(text: &str) -> HandlerView {
    inspect(text, "t", "runsc")
        .unwrap()
        .handler
        .expect("handler")
}

fn assert_handler(text: &str) {
    let v = view(text);
    assert_eq!(v.runtime_type.as_deref(), Some(RUNTIME_TYPE), "{text}");
    assert_eq!(v.type_url.as_deref(), Some(TYPE_URL), "{text}");
    assert_eq!(v.config_path.as_deref(), Some(RUNSC_TOML), "{text}");
    assert!(
        v.pod_annotations.iter().any(|a| a == POD_ANNOTATIONS),
        "{text}"
    );
}

#[test]
fn v2_gets_the_handler_and_keeps_everything_else() {
    let out = configure(V2, "config.toml", &handler()).unwrap();
    assert!(out.changed);
    assert_eq!(out.version, Version::V2);
    assert_handler(&out.text);
    // Every original line is still there, in the same order.
    let mut rest = out.text.as_str();
    for line in V2.lines() {
        let at = rest
            .find(line)
            .unwrap_or_else(|| panic!("{line:?} lost or moved:\n{}", out.text));
        rest = &rest[at + line.len()..];
    }
    assert!(out.text.contains(
        "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runsc]\nruntime_type = \
         \"io.containerd.runsc.v1\""
    ));
    assert!(out.text.contains(
        "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runsc.options]\nTypeUrl = \
         \"io.containerd.runsc.v1.options\"\nConfigPath = \"/etc/containerd/runsc.toml\""
    ));
    let found = inspect(&out.text, "t", "runsc").unwrap();
    assert_eq!(found.handlers, ["runc", "runsc"]);
    assert_eq!(
        found.handler.unwrap().snapshotter.as_deref(),
        Some("overlayfs")
    );
    // It is still TOML containerd's other settings can be read from.
    let doc: toml_edit::DocumentMut = out.text.parse().unwrap();
    assert_eq!(
        doc["plugins"]["io.containerd.grpc.v1.cri"]["registry"]["mirrors"]["docker.io"]["endpoint"]
            [0]
        .as_str(),
        Some("https://mirror.example")
    );
}

#[test]
fn a_second_run_changes_nothing() {
    for text in [V2, V3, ""] {
        let once = configure(text, "t", &handler()).unwrap();
        let twice = configure(&once.text, "t", &handler()).unwrap();
        assert!(!twice.changed, "{}", once.text);
        assert_eq!(twice.text, once.text);
    }
}

#[test]
fn v3_uses_the_containerd_2_plugin() {
    let out = configure(V3, "t", &handler()).unwrap();
    assert_eq!(out.version, Version::V3);
    assert_handler(&out.text);
    assert!(out
        .text
        .contains("[plugins.\"io.containerd.cri.v1.runtime\".containerd.runtimes.runsc]"));
    assert!(!out.text.contains("io.containerd.grpc.v1.cri"));
    assert!(out.text.starts_with(V3), "{}", out.text);
    assert_eq!(view(&out.text).snapshotter.as_deref(), Some("overlayfs"));
}

#[test]
fn an_existing_handler_is_updated_and_its_other_options_kept() {
    let text = r#"version = 2
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runsc]
  runtime_type = "io.containerd.runc.v2"  # copied from runc by mistake
  privileged_without_host_devices = true
  pod_annotations = ["example.com/x"]
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runsc.options]
    ConfigPath = "/old/runsc.toml"
    BinaryName = "/usr/bin/runsc"
"#;
    let out = configure(text, "t", &handler()).unwrap();
    assert!(out.changed);
    assert_handler(&out.text);
    let expected = r#"version = 2
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runsc]
  runtime_type = "io.containerd.runsc.v1"  # copied from runc by mistake
  privileged_without_host_devices = true
  pod_annotations = ["example.com/x", "dev.gvisor.*"]
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runsc.options]
    ConfigPath = "/etc/containerd/runsc.toml"
    BinaryName = "/usr/bin/runsc"
TypeUrl = "io.containerd.runsc.v1.options"
"#;
    assert_eq!(out.text, expected);
}

#[test]
fn dotted_and_inline_forms_are_edited_in_place() {
    let text = r#"version = 2
[plugins."io.containerd.grpc.v1.cri".containerd]
  runtimes.runsc = { runtime_type = "x", options = { TypeUrl = "io.containerd.runsc.v1.options" } }
"#;
    let out = configure(text, "t", &handler()).unwrap();
    assert_handler(&out.text);
    assert!(!configure(&out.text, "t", &handler()).unwrap().changed);
}

#[test]
fn an_empty_file_becomes_a_version_2_config() {
    let out = configure("", "t", &handler()).unwrap();
    assert_eq!(out.version, Version::V2);
    assert!(out.text.starts_with("version = 2\n"), "{}", out.text);
    assert_handler(&out.text);
    let comments_only = configure("# nothing yet\n", "t", &handler()).unwrap();
    assert_handler(&comments_only.text);
}

#[test]
fn version_1_is_refused_with_a_message() {
    let v1 = "[plugins.cri.containerd.runtimes.runc]\n  runtime_type = \"io.containerd.runc.v2\"\n";
    for text in [v1.to_string(), format!("version = 1\n{v1}")] {
        let err = configure(&text, "/etc/containerd/config.toml", &handler())
            .unwrap_err()
            .to_string();
        assert!(err.contains("/etc/containerd/config.toml"), "{err}");
        assert!(err.contains("version 1"), "{err}");
        assert!(err.contains("version = 2"), "{err}");
    }
    let err = configure("version = 9\n", "t", &handler()).unwrap_err();
    assert!(
        err.to_string().contains("unsupported `version = 9`"),
        "{err}"
    );
}

#[test]
fn bad_input_is_reported() {
    let err = configure("version = \n", "c.toml", &handler()).unwrap_err();
    assert!(
        err.to_string().contains("c.toml is not valid TOML"),
        "{err}"
    );
    let err = configure("version = 2\nplugins = 3\n", "t", &handler()).unwrap_err();
    assert!(err.to_string().contains("`plugins` is integer"), "{err}");
    let err = configure(V2, "t", &Handler::new("a b", "/x")).unwrap_err();
    assert!(err.to_string().contains("invalid handler name"), "{err}");
}

#[test]
fn another_handler_name_is_separate() {
    let once = configure(V2, "t", &handler()).unwrap();
    let both = configure(
        &once.text,
        "t",
        &Handler::new("gvisor-debug", "/etc/d.toml"),
    )
    .unwrap();
    assert!(both.changed);
    let found = inspect(&both.text, "t", "gvisor-debug").unwrap();
    assert_eq!(found.handlers, ["runc", "runsc", "gvisor-debug"]);
    assert_eq!(
        found.handler.unwrap().config_path.as_deref(),
        Some("/etc/d.toml")
    );
    assert_handler(&both.text);
}

#[test]
fn inspect_reports_a_missing_handler() {
    let found = inspect(V2, "t", "runsc").unwrap();
    assert_eq!(found.version, Version::V2);
    assert_eq!(found.handler, None);
    assert_eq!(found.handlers, ["runc"]);
}

#[test]
fn apply_file_writes_only_real_changes_and_honours_dry_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    fs::write(&path, V2).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();

    let dry = apply_file(&path, &handler(), true).unwrap();
    assert!(dry.edited.changed);
    assert_eq!(fs::read_to_string(&path).unwrap(), V2);
    let summary = dry.summary(&path);
    assert!(
        summary.contains("+[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runsc]"),
        "{summary}"
    );

    let done = apply_file(&path, &handler(), false).unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), done.edited.text);
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let again = apply_file(&path, &handler(), false).unwrap();
    assert!(!again.edited.changed);
    assert!(again.summary(&path).contains("unchanged"));
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        1,
        "temp file left"
    );

    let fresh = dir.path().join("sub/new.toml");
    let created = apply_file(&fresh, &handler(), false).unwrap();
    assert!(!created.existed);
    assert!(created.summary(&fresh).starts_with("--- /dev/null"));
    assert_handler(&fs::read_to_string(&fresh).unwrap());
}
