//! Packing messages into protobuf `Any`s with their type names written
//! down, as containerd's `typeurl` does, and the protobuf `Timestamp`s
//! that events and replies carry.
//!
//! The shim library asks protobuf's reflection for the name
//! (`descriptor_dyn().full_name()`), which builds the descriptors of the
//! whole proto file at the first event and keeps that code and those
//! tables in every shim; naming the few types the shim sends is cheaper.

use std::time::{SystemTime, UNIX_EPOCH};

use containerd_shim::protos::{
    cgroups::metrics as v1,
    cgroups_v2::metrics as v2,
    events::task::{
        TaskCreate, TaskDelete, TaskExecAdded, TaskExecStarted, TaskExit, TaskOOM, TaskPaused,
        TaskResumed, TaskStart,
    },
    protobuf::{
        well_known_types::{any::Any, timestamp::Timestamp},
        Message,
    },
    shim::oci::ProcessDetails,
};

use crate::error::{Error, Result};

/// A message whose full protobuf name is known without reflection.
pub trait TypeUrl: Message {
    /// The fully qualified message name, which containerd uses as the
    /// `Any`'s type URL.
    const TYPE_URL: &'static str;
}

macro_rules! type_urls {
    ($($ty:ty => $name:literal,)*) => {
        $(impl TypeUrl for $ty {
            const TYPE_URL: &'static str = $name;
        })*
    };
}

type_urls! {
    TaskCreate => "containerd.events.TaskCreate",
    TaskStart => "containerd.events.TaskStart",
    TaskDelete => "containerd.events.TaskDelete",
    TaskExit => "containerd.events.TaskExit",
    TaskOOM => "containerd.events.TaskOOM",
    TaskExecAdded => "containerd.events.TaskExecAdded",
    TaskExecStarted => "containerd.events.TaskExecStarted",
    TaskPaused => "containerd.events.TaskPaused",
    TaskResumed => "containerd.events.TaskResumed",
    v1::Metrics => "io.containerd.cgroups.v1.Metrics",
    v2::Metrics => "io.containerd.cgroups.v2.Metrics",
    ProcessDetails => "containerd.runc.v1.ProcessDetails",
}

/// Encodes `msg` into an `Any` named by its [`TypeUrl`].
pub fn pack<M: TypeUrl>(msg: &M) -> Result<Any> {
    Ok(Any {
        type_url: M::TYPE_URL.to_string(),
        value: msg
            .write_to_bytes()
            .map_err(|e| Error::Other(format!("encoding {}: {e}", M::TYPE_URL)))?,
        ..Default::default()
    })
}

/// `t` as a protobuf `Timestamp` (the epoch for times before it).
pub fn timestamp(t: SystemTime) -> Timestamp {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    Timestamp {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use containerd_shim::protos::protobuf::MessageFull;

    use super::*;

    fn named_as_reflection_names<M: TypeUrl + MessageFull>() {
        assert_eq!(M::TYPE_URL, M::descriptor().full_name());
    }

    #[test]
    fn written_names_match_the_proto_files() {
        named_as_reflection_names::<TaskCreate>();
        named_as_reflection_names::<TaskStart>();
        named_as_reflection_names::<TaskDelete>();
        named_as_reflection_names::<TaskExit>();
        named_as_reflection_names::<TaskOOM>();
        named_as_reflection_names::<TaskExecAdded>();
        named_as_reflection_names::<TaskExecStarted>();
        named_as_reflection_names::<TaskPaused>();
        named_as_reflection_names::<TaskResumed>();
        named_as_reflection_names::<v1::Metrics>();
        named_as_reflection_names::<v2::Metrics>();
        named_as_reflection_names::<ProcessDetails>();
    }

    #[test]
    fn packed_value_decodes_back() {
        let exit = TaskExit {
            container_id: "c".into(),
            exit_status: 3,
            ..Default::default()
        };
        let any = pack(&exit).unwrap();
        assert_eq!(any.type_url, "containerd.events.TaskExit");
        assert_eq!(TaskExit::parse_from_bytes(&any.value).unwrap(), exit);
    }
}
