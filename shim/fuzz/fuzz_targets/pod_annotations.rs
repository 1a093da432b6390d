//! CRI annotations (lines of `key=value`) never panic the pod parser, and
//! whatever it accepts never names a path outside what it may write.
#![no_main]

use std::{collections::HashMap, path::Component};

use containerd_shim_runsc_v1::pod::{self, PodInfo};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let annotations: HashMap<String, String> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let group = pod::group_of(&annotations, "c1");
    assert!(!group.is_empty());
    if let Ok(info) = PodInfo::from_annotations("c1", &annotations) {
        assert!(!info.group.contains('/') && info.group != "..");
        if let Some(dir) = &info.log_dir {
            assert!(dir.is_absolute());
            assert!(!dir.components().any(|c| c == Component::ParentDir));
        }
    }
});
