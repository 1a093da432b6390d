//! runsc.toml parsing and resolution never panic; what parses resolves or
//! fails with an error.
#![no_main]

use std::path::Path;

use containerd_shim_runsc_v1::config::ShimConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(cfg) = ShimConfig::parse(text, "fuzz") {
        let _ = cfg.resolve("default", "c1", "c1", Path::new("/run/bundle"));
        let _ = cfg.ignored_keys();
    }
});
