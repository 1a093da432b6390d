//! Builds the terminal relay (`tty-relay/relay.rs`), a program that runs
//! inside the container, so it must not need the container image's libc:
//! it is compiled on its own, std only, statically linked and optimised for
//! size whatever the shim's profile. The shim embeds the result.

use std::{env, path::PathBuf, process::Command};

fn main() {
    let source = "tty-relay/relay.rs";
    println!("cargo:rerun-if-changed={source}");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR")).join("tty-relay");
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let target = env::var("TARGET").expect("TARGET");
    let status = Command::new(rustc)
        .args([
            "--edition",
            "2021",
            "--crate-type",
            "bin",
            "--target",
            &target,
        ])
        .args(["-C", "opt-level=z", "-C", "lto", "-C", "codegen-units=1"])
        .args(["-C", "panic=abort", "-C", "strip=symbols"])
        .args([
            "-C",
            "target-feature=+crt-static",
            "-C",
            "relocation-model=static",
        ])
        .arg("-o")
        .arg(&out)
        .arg(source)
        .status()
        .expect("running rustc for the terminal relay");
    assert!(status.success(), "building {source} failed: {status}");
    let bytes = std::fs::read(&out).expect("reading the built terminal relay");
    // A content hash names the installed copy, so that shims of different
    // builds on one node never share a file with different contents.
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    println!("cargo:rustc-env=TTY_RELAY_HASH={hash:016x}");
}
