//! Node operator commands of the shim binary, handled before the containerd
//! shim library sees the arguments (it parses Go-style flags):
//!
//! - `containerd-shim-runsc-v1 check [--json] [--config PATH] [--runsc-toml PATH] [--handler NAME]`
//!   diagnoses a node (see [`check`]).
//! - `containerd-shim-runsc-v1 config-runtime --config PATH --runsc-toml PATH [--handler NAME] [--dry-run]`
//!   adds or updates the runsc handler in containerd's config (used by
//!   `scripts/install.sh`).
//! - `containerd-shim-runsc-v1 config-docker [--daemon-json PATH] --runsc-toml PATH [--runtime NAME] [--dry-run]`
//!   adds or updates a runtime of this shim in Docker Engine's daemon.json
//!   (`scripts/install.sh --docker`).

pub mod args;
pub mod check;

use std::path::PathBuf;

use args::Args;

/// containerd's config file.
pub const DEFAULT_CONTAINERD_CONFIG: &str = "/etc/containerd/config.toml";
/// Docker Engine's config file.
pub const DEFAULT_DAEMON_JSON: &str = "/etc/docker/daemon.json";
/// The shim's runsc.toml.
pub const DEFAULT_RUNSC_TOML: &str = "/etc/containerd/runsc.toml";

/// Runs a node command named by the first argument; `None` if it is not one.
pub fn dispatch(args: &[String]) -> Option<i32> {
    let (first, rest) = args.split_first()?;
    match first.as_str() {
        "check" => Some(check::main(rest)),
        "config-runtime" => Some(config_runtime(rest)),
        "config-docker" => Some(config_docker(rest)),
        _ => None,
    }
}

const CONFIG_RUNTIME_USAGE: &str = "usage: containerd-shim-runsc-v1 config-runtime --config PATH \
     --runsc-toml PATH [--handler NAME] [--dry-run]";

fn config_runtime(argv: &[String]) -> i32 {
    let mut args = match Args::parse(
        argv,
        &["--config", "--runsc-toml", "--handler"],
        &["--dry-run"],
    ) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}\n{CONFIG_RUNTIME_USAGE}");
            return 2;
        }
    };
    let config = PathBuf::from(
        args.value("--config")
            .unwrap_or(DEFAULT_CONTAINERD_CONFIG.into()),
    );
    let Some(runsc_toml) = args.value("--runsc-toml") else {
        eprintln!("--runsc-toml is required\n{CONFIG_RUNTIME_USAGE}");
        return 2;
    };
    let handler = nodecfg::Handler::new(
        args.value("--handler")
            .unwrap_or(nodecfg::DEFAULT_HANDLER.into()),
        runsc_toml,
    );
    let dry_run = args.flag("--dry-run");
    match nodecfg::apply_file(&config, &handler, dry_run) {
        Ok(applied) => {
            print!("{}", applied.summary(&config));
            if applied.edited.changed {
                println!(
                    "{} {} (handler {:?}, containerd config {}){}",
                    if dry_run { "would update" } else { "updated" },
                    config.display(),
                    handler.name,
                    applied.edited.version,
                    if dry_run {
                        ""
                    } else {
                        "; restart containerd to load it"
                    }
                );
            }
            0
        }
        Err(e) => {
            eprintln!("config-runtime: {e}");
            1
        }
    }
}

const CONFIG_DOCKER_USAGE: &str = "usage: containerd-shim-runsc-v1 config-docker \
     [--daemon-json PATH] --runsc-toml PATH [--runtime NAME] [--dry-run]";

fn config_docker(argv: &[String]) -> i32 {
    let mut args = match Args::parse(
        argv,
        &["--daemon-json", "--runsc-toml", "--runtime"],
        &["--dry-run"],
    ) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}\n{CONFIG_DOCKER_USAGE}");
            return 2;
        }
    };
    let daemon_json = PathBuf::from(
        args.value("--daemon-json")
            .unwrap_or(DEFAULT_DAEMON_JSON.into()),
    );
    let Some(runsc_toml) = args.value("--runsc-toml") else {
        eprintln!("--runsc-toml is required\n{CONFIG_DOCKER_USAGE}");
        return 2;
    };
    if !runsc_toml.starts_with('/') {
        eprintln!(
            "config-docker: --runsc-toml {runsc_toml:?} must be an absolute path \
             (dockerd passes it to the shim as is)"
        );
        return 2;
    }
    let runtime = nodecfg::Handler::new(
        args.value("--runtime")
            .unwrap_or(nodecfg::DEFAULT_DOCKER_RUNTIME.into()),
        runsc_toml,
    );
    let dry_run = args.flag("--dry-run");
    match nodecfg::apply_docker_file(&daemon_json, &runtime, dry_run) {
        Ok(applied) => {
            print!("{}", applied.summary(&daemon_json));
            if applied.edited.changed {
                println!(
                    "{} {} (runtime {:?}: docker run --runtime {}){}",
                    if dry_run { "would update" } else { "updated" },
                    daemon_json.display(),
                    runtime.name,
                    runtime.name,
                    if dry_run {
                        ""
                    } else {
                        "; restart dockerd (or send it SIGHUP) to load it"
                    }
                );
            }
            0
        }
        Err(e) => {
            eprintln!("config-docker: {e}");
            1
        }
    }
}
