//! `containerd-shim-runsc-v1 check` against a private containerd's files: a
//! good node passes every check (including a real sandbox run), and a
//! runsc.toml with a flag runsc does not know fails naming the flag.

use std::process::Command;

use e2e::shim_containerd;
use harness::Containerd;

fn check(containerd: &Containerd, runsc_toml: &std::path::Path) -> (bool, String) {
    let path = format!(
        "{}:{}",
        containerd.layout().bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new(containerd.shim_binary())
        .args(["check", "--config"])
        .arg(containerd.layout().config())
        .arg("--runsc-toml")
        .arg(runsc_toml)
        .env("PATH", path)
        .output()
        .expect("running the shim");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn check_passes_on_this_host_and_names_an_unknown_flag() {
    let Some(containerd) = shim_containerd("check") else {
        return;
    };
    let (ok, out) = check(&containerd, &containerd.runsc_config());
    assert!(ok, "{out}");
    for want in [
        "containerd handler",
        "runsc",
        "runsc flags",
        "smoke run",
        "shim on PATH",
    ] {
        assert!(
            out.contains(&format!("[ ok ] {want}: ")),
            "{want} missing: {out}"
        );
    }
    assert!(out.contains("Linux version 4.4.0"), "{out}");

    // Same file plus a flag this runsc lacks.
    let text = std::fs::read_to_string(containerd.runsc_config()).unwrap();
    let broken = containerd
        .write_file(
            "runsc-broken.toml",
            &format!("{text}  no-such-flag = \"1\"\n"),
            0o644,
        )
        .unwrap();
    let (ok, out) = check(&containerd, &broken);
    assert!(!ok, "{out}");
    let line = out
        .lines()
        .find(|l| l.starts_with("[FAIL] runsc flags:"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains("\"no-such-flag\""), "{out}");
    assert!(out.contains("fix: remove or rename"), "{out}");
    containerd.assert_no_leaks();
}
