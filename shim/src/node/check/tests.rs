use super::*;

/// A fake runsc: `--version`, `flags` (knows network, platform, debug,
/// debug-log) and `do` printing a gVisor /proc/version, or failing like a
/// sandbox without network when `--network=sandbox` is passed.
const FAKE_RUNSC: &str = r#"#!/bin/sh
case "$*" in
  *--version*) echo "runsc version fake-1"; echo "spec: 1.0.2" ;;
  *" flags"*|flags) printf '  -network string\n    \tnetwork mode\n  -platform string\n    \tplatform\n  -debug\n    \tdebug\n  -debug-log string\n    \tdir\n' ;;
  *--network=sandbox*" do "*) echo "cannot set up network: netlink: operation not supported" >&2; exit 128 ;;
  *" do "*) echo "Linux version 4.4.0 #1 SMP Sun Jan 10 15:06:54 PST 2016" ;;
  *" list "*) ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
"#;

struct Node {
    dir: tempfile::TempDir,
}

impl Node {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let runsc = dir.path().join("runsc");
        fs::write(&runsc, FAKE_RUNSC).unwrap();
        fs::set_permissions(&runsc, fs::Permissions::from_mode(0o755)).unwrap();
        let bin = dir.path().join("bin");
        fs::create_dir(&bin).unwrap();
        let shim = bin.join(SHIM_NAME);
        fs::write(&shim, "#!/bin/sh\n").unwrap();
        fs::set_permissions(&shim, fs::Permissions::from_mode(0o755)).unwrap();
        let node = Node { dir };
        node.runsc_toml("[runsc_config]\nnetwork = \"none\"\nplatform = \"ptrace\"\n");
        let cfg = nodecfg::configure(
            "version = 2\n",
            "t",
            &nodecfg::Handler::new("runsc", node.path("runsc.toml").to_str().unwrap()),
        )
        .unwrap();
        fs::write(node.path("config.toml"), cfg.text).unwrap();
        node
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn runsc_toml(&self, flags: &str) {
        let text = format!(
            "binary_name = \"{}\"\n{flags}",
            self.path("runsc").display()
        );
        fs::write(self.path("runsc.toml"), text).unwrap();
    }

    fn options(&self) -> Options {
        Options {
            config: self.path("config.toml"),
            runsc_toml: Some(self.path("runsc.toml")),
            handler: "runsc".into(),
            smoke: nix::unistd::geteuid().is_root(),
            path_var: format!("/nonexistent:{}", self.path("bin").display()),
        }
    }

    fn check(&self, name: &str) -> Check {
        self.check_with(&self.options(), name)
    }

    fn check_with(&self, opts: &Options, name: &str) -> Check {
        run(opts)
            .into_iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no check {name}"))
    }
}

#[test]
fn a_good_node_passes_everything() {
    let node = Node::new();
    let checks = run(&node.options());
    assert!(checks.iter().all(|c| c.ok), "{}", render(&checks));
    let runsc = node.check("runsc");
    assert!(runsc.detail.contains("runsc version fake-1"), "{runsc:?}");
    if nix::unistd::geteuid().is_root() {
        let smoke = node.check("smoke run");
        assert!(smoke.detail.contains("Linux version 4.4.0"), "{smoke:?}");
    }
    let json = serde_json::to_value(&checks).unwrap();
    let first = &json[0];
    for key in ["name", "ok", "detail", "fix"] {
        assert!(first.get(key).is_some(), "{json}");
    }
    assert!(render(&checks).ends_with("all checks passed\n"));
}

#[test]
fn runsc_toml_defaults_to_the_handler_config_path() {
    let node = Node::new();
    let opts = Options {
        runsc_toml: None,
        ..node.options()
    };
    let c = node.check_with(&opts, "runsc.toml");
    assert!(c.ok, "{c:?}");
    assert!(c.detail.contains(node.path("runsc.toml").to_str().unwrap()));
}

#[test]
fn a_missing_handler_says_how_to_add_it() {
    let node = Node::new();
    fs::write(
        node.path("config.toml"),
        "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n",
    )
    .unwrap();
    let c = node.check("containerd handler");
    assert!(!c.ok);
    assert!(c.detail.contains("no runtime handler \"runsc\""), "{c:?}");
    assert!(c.detail.contains("handlers: runc"), "{c:?}");
    assert!(c.detail.contains("RuntimeClass not found"), "{c:?}");
    assert!(
        c.fix.contains("install.sh") && c.fix.contains("restart containerd"),
        "{c:?}"
    );
    assert!(c.fix.contains("runtimeclass.yaml"), "{c:?}");
}

#[test]
fn a_misconfigured_handler_explains_container_creating() {
    let node = Node::new();
    let text = fs::read_to_string(node.path("config.toml"))
        .unwrap()
        .replace("io.containerd.runsc.v1\"", "io.containerd.runc.v2\"");
    fs::write(node.path("config.toml"), text).unwrap();
    let c = node.check("containerd handler");
    assert!(!c.ok);
    assert!(
        c.detail
            .contains("runtime_type is \"io.containerd.runc.v2\""),
        "{c:?}"
    );
    assert!(c.detail.contains("ContainerCreating"), "{c:?}");
    let other = Options {
        runsc_toml: Some("/etc/other.toml".into()),
        ..node.options()
    };
    let c = node.check_with(&other, "containerd handler");
    assert!(c.detail.contains("options.ConfigPath is"), "{c:?}");
    fs::write(node.path("config.toml"), "[plugins.cri]\n").unwrap();
    let c = node.check("containerd handler");
    assert!(!c.ok && c.detail.contains("version 1"), "{c:?}");
}

#[test]
fn an_unknown_flag_is_named() {
    let node = Node::new();
    node.runsc_toml("[runsc_config]\nnetwork = \"none\"\nnetwrok-mode = \"x\"\n");
    let c = node.check("runsc flags");
    assert!(!c.ok);
    assert!(c.detail.contains("\"netwrok-mode\""), "{c:?}");
    assert!(!c.detail.contains("\"network\""), "{c:?}");
    assert!(c.fix.contains("flags"), "{c:?}");
}

#[test]
fn a_broken_runsc_toml_or_runsc_fails() {
    let node = Node::new();
    fs::write(node.path("runsc.toml"), "binary = \"x\"\n").unwrap();
    let c = node.check("runsc.toml");
    assert!(
        !c.ok && c.detail.contains("unknown field `binary`"),
        "{c:?}"
    );
    fs::write(
        node.path("runsc.toml"),
        "binary_name = \"/nonexistent/runsc\"\n",
    )
    .unwrap();
    let c = node.check("runsc");
    assert!(!c.ok && c.fix.contains("install gVisor's runsc"), "{c:?}");
}

#[test]
fn the_smoke_run_reports_network_trouble() {
    if !nix::unistd::geteuid().is_root() {
        return;
    }
    let node = Node::new();
    node.runsc_toml("[runsc_config]\nnetwork = \"sandbox\"\n");
    let c = node.check("smoke run");
    assert!(!c.ok);
    assert!(c.detail.contains("cannot set up network"), "{c:?}");
    assert!(c.fix.contains("network = \"none\""), "{c:?}");
    assert!(c.fix.contains("debug-log"), "{c:?}");
}

#[test]
fn the_shim_must_be_on_path() {
    let node = Node::new();
    let opts = Options {
        path_var: "/nonexistent".into(),
        ..node.options()
    };
    let c = node.check_with(&opts, "shim on PATH");
    assert!(!c.ok && c.fix.contains("install.sh"), "{c:?}");
    assert!(node.check("shim on PATH").ok);
}

#[test]
fn platforms() {
    let dir = tempfile::tempdir().unwrap();
    let scope = dir.path().join("scope");
    let cfg =
        |p: &str| ShimConfig::parse(&format!("[runsc_config]\nplatform = \"{p}\""), "t").unwrap();
    fs::write(&scope, "1\n").unwrap();
    assert!(platform_with(&ShimConfig::default(), Path::new("/x"), &scope).ok);
    fs::write(&scope, "3\n").unwrap();
    assert!(!platform_with(&cfg("ptrace"), Path::new("/x"), &scope).ok);
    let kvm = platform_with(&cfg("kvm"), &dir.path().join("kvm"), &scope);
    assert!(!kvm.ok && kvm.fix.contains("modprobe"), "{kvm:?}");
    fs::write(dir.path().join("kvm"), "").unwrap();
    assert!(platform_with(&cfg("kvm"), &dir.path().join("kvm"), &scope).ok);
    assert!(!platform_with(&cfg("xen"), Path::new("/x"), &scope).ok);
}

#[test]
fn tips_cover_debug_network_and_volumes() {
    let node = Node::new();
    let debug = node.check("debug logs");
    assert!(
        debug
            .detail
            .contains("debug-log = \"/var/log/runsc/%ID%/\""),
        "{debug:?}"
    );
    assert!(debug.detail.contains("Unsupported syscall"), "{debug:?}");
    let net = node.check("network");
    assert!(net.detail.starts_with("none"), "{net:?}");
    let cfg = ShimConfig::default();
    assert!(network(&cfg).detail.contains("network = \"host\""));
    let vol = node.check("volumes");
    assert!(vol.detail.contains("mount hints on"), "{vol:?}");
    assert!(vol.detail.contains("volume mount issues"), "{vol:?}");
    let off = volumes(&cfg, Some(&nodecfg::HandlerView::default()));
    assert!(off.detail.contains("mount hints off"), "{off:?}");
}

#[test]
fn flag_listing_is_parsed() {
    let names = known_flags("  -debug\n    \tx\n  -debug-log string\n    \ty\nUsage\n");
    assert_eq!(names, ["debug", "debug-log"]);
}

#[test]
fn cgroup_mode_is_known_here() {
    assert!(cgroup_mode(Path::new("/sys/fs/cgroup")).is_some());
    assert!(cgroups(&ShimConfig::default()).ok);
}
