//! `containerd-shim-runsc-v1`: the containerd shim v2 that runs containers
//! and Kubernetes pods inside gVisor by driving the `runsc` CLI.

use containerd_shim_runsc_v1::{node, shim};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Node operator commands (`check`, `config-runtime`) never reach the shim library.
    if let Some(status) = node::dispatch(&args) {
        std::process::exit(status);
    }
    if args
        .iter()
        .any(|a| matches!(a.as_str(), "-v" | "--v" | "-version" | "--version"))
    {
        println!(
            "{}:\n  Version: {}\n  Runtime: {}",
            env!("CARGO_PKG_NAME"),
            env!("CARGO_PKG_VERSION"),
            shim::RUNTIME_ID
        );
        return;
    }
    // One thread serves everything: a shim is I/O bound and small is better.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{}: cannot start the async runtime: {e}", shim::RUNTIME_ID);
            std::process::exit(1);
        }
    };
    runtime.block_on(containerd_shim::asynchronous::run::<shim::RunscShim>(
        shim::RUNTIME_ID,
        None,
    ));
}
