//! Broken shim configuration (`--runtime-config-path`): `ctr run` must fail
//! quickly with an error naming the cause, and leave nothing behind.

use std::path::Path;

use e2e::{remove_leftovers, shim_containerd, FAIL_FAST};
use harness::{CmdOutput, Containerd, Run, Runtime};

/// Runs `true` with the options file `config` and returns ctr's output after
/// checking that it failed within [`FAIL_FAST`]; then removes what is left and
/// checks for leaks.
fn run_failing(containerd: &Containerd, config: &Path) -> CmdOutput {
    let ctr = containerd.namespace("badcfg").unwrap();
    let id = ctr.new_id("badcfg");
    let run = Run::new(
        Runtime::RunscWithConfig(config.to_path_buf()),
        &id,
        &["true"],
    )
    .timeout(FAIL_FAST * 3);
    let out = ctr.run(&run);
    assert!(
        !out.success() && !out.timed_out,
        "expected a failure: {out}"
    );
    assert!(
        out.elapsed < FAIL_FAST,
        "failing took {:?}: {out}",
        out.elapsed
    );
    remove_leftovers(&ctr, &id);
    containerd.assert_no_leaks();
    out
}

#[test]
fn missing_runsc_binary_fails_fast_naming_it() {
    let Some(containerd) = shim_containerd("missing_runsc_binary_fails_fast_naming_it") else {
        return;
    };
    let config = containerd
        .write_file(
            "bad-binary.toml",
            &format!(
                "binary_name = \"/nonexistent/runsc\"\nroot = \"{}\"\n\n\
                 [runsc_config]\n  network = \"none\"\n  platform = \"ptrace\"\n",
                containerd.layout().runsc_root().display()
            ),
            0o644,
        )
        .unwrap();
    let out = run_failing(&containerd, &config);
    assert!(
        out.stderr.contains("/nonexistent/runsc"),
        "error does not name the binary: {out}"
    );
}

#[test]
fn invalid_toml_fails_naming_the_file() {
    let Some(containerd) = shim_containerd("invalid_toml_fails_naming_the_file") else {
        return;
    };
    let config = containerd
        .write_file(
            "broken.toml",
            "binary_name = \"/usr/bin/runsc\n[runsc_config\n",
            0o644,
        )
        .unwrap();
    let out = run_failing(&containerd, &config);
    assert!(
        out.stderr.contains(&config.display().to_string()),
        "error does not name {}: {out}",
        config.display()
    );
}

#[test]
fn missing_config_file_fails_naming_it() {
    let Some(containerd) = shim_containerd("missing_config_file_fails_naming_it") else {
        return;
    };
    let config = containerd.dir().join("does-not-exist.toml");
    let out = run_failing(&containerd, &config);
    assert!(
        out.stderr.contains(&config.display().to_string()),
        "error does not name {}: {out}",
        config.display()
    );
}

#[test]
fn unknown_runsc_flag_fails_naming_it() {
    let Some(containerd) = shim_containerd("unknown_runsc_flag_fails_naming_it") else {
        return;
    };
    let base = std::fs::read_to_string(containerd.runsc_config()).unwrap();
    let config = containerd
        .write_file(
            "bad-flag.toml",
            &format!("{base}\n  no-such-flag = \"1\"\n"),
            0o644,
        )
        .unwrap();
    let out = run_failing(&containerd, &config);
    assert!(
        out.stderr
            .contains("flag provided but not defined: -no-such-flag"),
        "error does not name the flag: {out}"
    );
}

#[test]
fn unknown_config_key_fails_naming_it() {
    let Some(containerd) = shim_containerd("unknown_config_key_fails_naming_it") else {
        return;
    };
    let base = std::fs::read_to_string(containerd.runsc_config()).unwrap();
    let config = containerd
        .write_file(
            "bad-key.toml",
            &format!("binary = \"runsc\"\n{base}"),
            0o644,
        )
        .unwrap();
    let out = run_failing(&containerd, &config);
    assert!(out.stderr.contains("unknown field `binary`"), "{out}");
}
