//! Decoding the runtime options `Any` never panics, whatever the bytes and
//! type URL.
#![no_main]

use containerd_shim_protos::protobuf::well_known_types::any::Any;
use containerd_shim_runsc_v1::options;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (url, value) = match data.split_first() {
        Some((0, rest)) => ("runtimeoptions.v1.Options", rest),
        Some((1, rest)) => ("cri.runtimeoptions.v1.Options", rest),
        Some((_, rest)) => ("containerd.runc.v1.Options", rest),
        None => ("", data),
    };
    let any = Any {
        type_url: url.into(),
        value: value.to_vec(),
        ..Default::default()
    };
    let _ = options::decode(Some(&any));
});
