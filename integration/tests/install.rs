//! scripts/install.sh against the harness's own containerd config with its
//! runsc handler removed: the script puts the handler back, the result is a
//! config containerd accepts (`containerd config dump` parses and validates
//! it), other handlers survive, and a second run changes nothing.

use std::process::Command;

use harness::Containerd;

fn install(args: &[&std::ffi::OsStr]) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/install.sh");
    let out = Command::new("bash")
        .arg(script)
        .args(args)
        .output()
        .expect("running install.sh");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "install.sh failed: {text}");
    text
}

#[test]
fn install_sh_restores_the_handler_in_the_harness_config() {
    let missing = harness::missing_requirements();
    if !missing.is_empty() || !harness::shim_binary().exists() {
        harness::report_skip("install", "needs containerd, runsc and a built shim");
        return;
    }
    let containerd = Containerd::start().expect("starting containerd");
    let original = std::fs::read_to_string(containerd.layout().config()).unwrap();
    let cut = original
        .find("    [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runsc]")
        .expect("the harness config has a runsc handler");
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("config.toml");
    std::fs::write(&config, &original[..cut]).unwrap();
    let runsc_toml = tmp.path().join("runsc.toml");
    let prefix = tmp.path().join("prefix");
    let shim = harness::shim_binary();
    let args = [
        "--prefix".as_ref(),
        prefix.as_os_str(),
        "--config".as_ref(),
        config.as_os_str(),
        "--runsc-toml".as_ref(),
        runsc_toml.as_os_str(),
        "--binary".as_ref(),
        shim.as_os_str(),
    ];
    let first = install(&args);
    assert!(first.contains("+ConfigPath"), "{first}");
    assert!(prefix.join("bin/containerd-shim-runsc-v1").is_file());
    assert!(std::fs::read_to_string(&runsc_toml)
        .unwrap()
        .contains("[runsc_config]"));
    let edited = std::fs::read_to_string(&config).unwrap();
    assert!(edited.starts_with(&original[..cut]), "{edited}");

    let dump = Command::new("containerd")
        .arg("--config")
        .arg(&config)
        .args(["config", "dump"])
        .output()
        .unwrap();
    let dumped = String::from_utf8_lossy(&dump.stdout);
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let handler = dumped
        .split("[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runsc]")
        .nth(1)
        .unwrap_or_else(|| panic!("no runsc handler in the dump: {dumped}"));
    assert!(
        handler.contains("runtime_type = \"io.containerd.runsc.v1\""),
        "{dumped}"
    );
    assert!(
        handler.contains(&format!("ConfigPath = \"{}\"", runsc_toml.display())),
        "{dumped}"
    );
    assert!(dumped.contains("containerd.runtimes.runc]"), "{dumped}");

    let second = install(&args);
    assert!(second.contains("unchanged"), "{second}");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), edited);
    containerd.assert_no_leaks();
}

#[test]
fn install_sh_adds_the_docker_runtime_keeping_other_keys() {
    let shim = harness::shim_binary();
    if !shim.exists() {
        harness::report_skip("install docker", "needs a built shim");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let daemon_json = tmp.path().join("daemon.json");
    let original = r#"{"log-level": "warn", "runtimes": {"crun": {"path": "/usr/bin/crun"}},
 "runsc-old": 1}"#;
    std::fs::write(&daemon_json, original).unwrap();
    let runsc_toml = tmp.path().join("runsc.toml");
    let prefix = tmp.path().join("prefix");
    let args = [
        "--prefix".as_ref(),
        prefix.as_os_str(),
        "--runsc-toml".as_ref(),
        runsc_toml.as_os_str(),
        "--binary".as_ref(),
        shim.as_os_str(),
        "--daemon-json".as_ref(),
        daemon_json.as_os_str(),
        "--no-containerd".as_ref(),
    ];
    let first = install(&args);
    assert!(first.contains("+    \"gvisor\": {"), "{first}");
    let edited = std::fs::read_to_string(&daemon_json).unwrap();
    let v: serde_json::Value = serde_json::from_str(&edited).unwrap();
    assert_eq!(v["log-level"], "warn");
    assert_eq!(v["runsc-old"], 1);
    assert_eq!(v["runtimes"]["crun"]["path"], "/usr/bin/crun");
    let gvisor = &v["runtimes"]["gvisor"];
    assert_eq!(gvisor["runtimeType"], "io.containerd.runsc.v1");
    assert_eq!(
        gvisor["options"]["TypeUrl"],
        "io.containerd.runsc.v1.options"
    );
    assert_eq!(
        gvisor["options"]["ConfigPath"],
        runsc_toml.display().to_string()
    );
    // --no-containerd: no containerd config was written.
    assert!(!first.contains("config.toml"), "{first}");

    let second = install(&args);
    assert!(second.contains("daemon.json: unchanged"), "{second}");
    assert_eq!(std::fs::read_to_string(&daemon_json).unwrap(), edited);

    std::fs::write(&daemon_json, "{\"runtimes\": [").unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/install.sh");
    let bad = Command::new("bash")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("daemon.json is not valid JSON"), "{stderr}");
}
