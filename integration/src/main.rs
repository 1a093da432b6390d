//! `harness`: run the shim in a private containerd by hand.
//!
//! - `harness demo`: start a private containerd, run `cat /proc/version` and
//!   `dmesg` in gVisor through the shim, print them, tear down.
//! - `harness up <dir>`: start a private containerd in `<dir>` and leave it running
//!   with the test images imported into namespaces `default` and `k8s.io`.
//! - `harness down <dir>`: stop it and remove everything it left behind.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use harness::{archives, missing_requirements, Containerd, Run, Runtime};

const USAGE: &str = "usage: harness demo | harness up <dir> | harness down <dir>";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["demo"] => demo(),
        ["up", dir] => up(&absolute(dir)),
        ["down", dir] => down(&absolute(dir)),
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("harness: {e}");
            ExitCode::FAILURE
        }
    }
}

fn absolute(dir: &str) -> PathBuf {
    let path = Path::new(dir);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    }
}

fn check_requirements() -> Result<(), String> {
    let missing = missing_requirements();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("this machine lacks: {}", missing.join(", ")))
    }
}

fn demo() -> Result<(), String> {
    check_requirements()?;
    let containerd = Containerd::start().map_err(|e| e.to_string())?;
    println!(
        "private containerd in {} (shim {})",
        containerd.dir().display(),
        containerd.shim_binary().display()
    );
    let ctr = containerd.namespace("demo").map_err(|e| e.to_string())?;
    for command in [&["cat", "/proc/version"][..], &["dmesg"][..]] {
        let id = ctr.new_id("demo");
        println!(
            "\n$ ctr run --rm --runtime io.containerd.runsc.v1 ... {}",
            command.join(" ")
        );
        let out = ctr.run(&Run::new(Runtime::Runsc, &id, command));
        print!("{}", out.stdout);
        if !out.success() {
            ctr.remove(&id);
            return Err(format!(
                "{out}\ncontainerd log tail:\n{}",
                containerd.log_tail(20)
            ));
        }
    }
    let leaks = containerd.leaks_after_grace();
    if !leaks.is_empty() {
        return Err(format!("leaked: {}", leaks.join("; ")));
    }
    println!("\ndemo ok; tearing down {}", containerd.dir().display());
    Ok(())
}

fn up(dir: &Path) -> Result<(), String> {
    check_requirements()?;
    let containerd = Containerd::builder()
        .start_in(dir)
        .map_err(|e| e.to_string())?;
    let images = archives().map_err(|e| e.to_string())?;
    for ns in ["default", "k8s.io"] {
        for archive in [&images.busybox, &images.pause] {
            containerd
                .ctr(ns)
                .import(archive)
                .map_err(|e| e.to_string())?;
        }
    }
    let layout = containerd.detach();
    let sock = layout.socket();
    println!("containerd is running in {}", layout.dir().display());
    println!(
        "  ctr --address {} run --rm --runtime io.containerd.runsc.v1 \\",
        sock.display()
    );
    println!(
        "      --runtime-config-path {} docker.io/library/busybox:local c1 echo hi",
        layout.runsc_config().display()
    );
    println!("  log: {}", layout.log().display());
    println!("  stop: harness down {}", layout.dir().display());
    Ok(())
}

fn down(dir: &Path) -> Result<(), String> {
    if !dir.join("config.toml").exists() {
        return Err(format!("{} holds no harness instance", dir.display()));
    }
    let problems = harness::down(dir);
    if problems.is_empty() {
        println!("removed {}", dir.display());
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}
