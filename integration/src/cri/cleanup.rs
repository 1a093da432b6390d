//! Teardown's CRI step: stopping and removing every pod sandbox while containerd
//! still answers, so that the CRI plugin runs its own cleanup (CNI DEL, netns
//! removal, sandbox and container deletion) before the harness falls back to
//! killing tasks.

use std::path::Path;
use std::thread;
use std::time::Duration;

use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;

use super::{api, connect, finish, recorded_pod_cgroups, remove_pod_cgroup, with_deadline};
use crate::layout::Layout;

/// Deadline of ListPodSandbox during teardown.
const LIST_TIMEOUT: Duration = Duration::from_secs(10);

/// Deadline of each StopPodSandbox / RemovePodSandbox during teardown: long
/// enough for a healthy runtime, short enough that a hung one only delays the
/// fallback.
const POD_TIMEOUT: Duration = Duration::from_secs(30);

/// Stops and removes every pod sandbox of the instance, then removes the pod
/// cgroups that are empty. Returns what failed; nothing if containerd does not
/// answer (then there is nothing to ask) or has no pods.
pub(crate) fn remove_all_pods(layout: &Layout) -> Vec<String> {
    let problems = stop_and_remove_pods(&layout.socket());
    for parent in recorded_pod_cgroups(layout) {
        remove_pod_cgroup(&parent);
    }
    problems
}

fn stop_and_remove_pods(socket: &Path) -> Vec<String> {
    if !socket.exists() {
        return Vec::new();
    }
    let socket = socket.to_path_buf();
    // A thread of its own: teardown may run inside some other tokio runtime.
    thread::spawn(move || {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => return vec![format!("CRI cleanup: no tokio runtime: {e}")],
        };
        rt.block_on(remove_pods(socket))
    })
    .join()
    .unwrap_or_else(|_| vec!["CRI cleanup panicked".to_string()])
}

async fn remove_pods(socket: std::path::PathBuf) -> Vec<String> {
    let Ok(channel) = connect(socket).await else {
        return Vec::new();
    };
    let client = RuntimeServiceClient::new(channel);
    let pods = {
        let mut c = client.clone();
        let mut request = tonic::Request::new(api::ListPodSandboxRequest { filter: None });
        request.set_timeout(LIST_TIMEOUT);
        let answer = with_deadline(LIST_TIMEOUT, c.list_pod_sandbox(request)).await;
        match answer {
            Some(Err(status)) if status.code() == tonic::Code::Unimplemented => return Vec::new(),
            answer => match finish("ListPodSandbox", LIST_TIMEOUT, answer) {
                Ok(list) => list.items,
                Err(e) => return vec![e.to_string()],
            },
        }
    };
    let mut problems = Vec::new();
    for pod in pods {
        let name = pod.metadata.map(|m| m.name).unwrap_or_default();
        let what = format!("pod {name} ({})", pod.id);
        let mut c = client.clone();
        let mut request = tonic::Request::new(api::StopPodSandboxRequest {
            pod_sandbox_id: pod.id.clone(),
        });
        request.set_timeout(POD_TIMEOUT);
        let answer = with_deadline(POD_TIMEOUT, c.stop_pod_sandbox(request)).await;
        if let Err(e) = finish("StopPodSandbox", POD_TIMEOUT, answer) {
            problems.push(format!("{what}: {e}"));
            continue;
        }
        let mut request = tonic::Request::new(api::RemovePodSandboxRequest {
            pod_sandbox_id: pod.id.clone(),
        });
        request.set_timeout(POD_TIMEOUT);
        let answer = with_deadline(POD_TIMEOUT, c.remove_pod_sandbox(request)).await;
        if let Err(e) = finish("RemovePodSandbox", POD_TIMEOUT, answer) {
            problems.push(format!("{what}: {e}"));
        }
    }
    problems
}
