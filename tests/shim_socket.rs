//! Task API calls that containerd makes but ctr cannot express, sent
//! straight to the shim's socket: CloseIO (as with runc, stdin stays open
//! until then) and Exec with a duplicate id.

use std::{io::Write, path::Path, process::Stdio, thread, time::Duration};

use containerd_shim_protos::{
    api::CloseIORequest,
    shim_async::{Client, TaskClient},
    ttrpc::context,
};
use e2e::{gvisor_containerd, run_detached, runtime};
use harness::Run;

/// Sends CloseIO(stdin) for `id`/`exec_id` to the shim at `socket`.
fn close_stdin(socket: &Path, id: &str, exec_id: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = Client::connect(&format!("unix://{}", socket.display()))
            .await
            .expect("the shim's socket answers");
        let req = CloseIORequest {
            id: id.into(),
            exec_id: exec_id.into(),
            stdin: true,
            ..Default::default()
        };
        TaskClient::new(client)
            .close_io(context::with_timeout(5_000_000_000), &req)
            .await
            .expect("CloseIO");
    });
}

#[test]
fn close_io_gives_the_container_eof() {
    let Some(containerd) = gvisor_containerd("close_io_gives_the_container_eof") else {
        return;
    };
    let ctr = containerd.namespace("eof").unwrap();
    let id = ctr.new_id("eof");
    let running = ctr
        .spawn(&Run::new(runtime(), &id, &["cat"]).stdin(b"line\n"))
        .unwrap();
    ctr.wait_for_status(&id, "RUNNING", Duration::from_secs(10))
        .unwrap();
    // ctr has written its line and closed its end; cat must still wait.
    thread::sleep(Duration::from_secs(1));
    assert_eq!(
        ctr.task(&id).unwrap().map(|t| t.status).as_deref(),
        Some("RUNNING")
    );
    close_stdin(
        &containerd.layout().shim_socket(ctr.namespace(), &id),
        &id,
        "",
    );
    let out = running.wait(Duration::from_secs(30));
    assert!(out.success(), "{out}");
    assert_eq!(out.stdout, "line\n", "{out}");
    containerd.assert_no_leaks();
}

#[test]
fn close_io_gives_an_exec_eof() {
    let Some(containerd) = gvisor_containerd("close_io_gives_an_exec_eof") else {
        return;
    };
    let ctr = containerd.namespace("execeof").unwrap();
    let id = ctr.new_id("xe");
    run_detached(&ctr, &id, &["sleep", "600"]);
    let mut exec = ctr
        .command(&["tasks", "exec", "--exec-id", "reader", &id, "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = exec.stdin.take().unwrap();
    stdin.write_all(b"exec-line\n").unwrap();
    drop(stdin);
    thread::sleep(Duration::from_secs(1));
    assert!(
        exec.try_wait().unwrap().is_none(),
        "cat ended before CloseIO"
    );
    close_stdin(
        &containerd.layout().shim_socket(ctr.namespace(), &id),
        &id,
        "reader",
    );
    let out = exec.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "exec-line\n");
    ctr.remove(&id);
    containerd.assert_no_leaks();
}

/// Exec with an id already in use is refused with AlreadyExists (sent
/// straight to the shim: ctr cannot start two execs with one id at once).
#[test]
fn duplicate_exec_id_is_already_exists() {
    let Some(containerd) = gvisor_containerd("duplicate_exec_id_is_already_exists") else {
        return;
    };
    let ctr = containerd.namespace("dupexec").unwrap();
    let id = ctr.new_id("dx");
    run_detached(&ctr, &id, &["sleep", "600"]);
    let socket = containerd.layout().shim_socket(ctr.namespace(), &id);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let codes = rt.block_on(async {
        let client = Client::connect(&format!("unix://{}", socket.display()))
            .await
            .unwrap();
        let task = TaskClient::new(client);
        let spec = containerd_shim_protos::protobuf::well_known_types::any::Any {
            type_url: "types.containerd.io/opencontainers/runtime-spec/1/Process".into(),
            value: br#"{"args":["true"],"cwd":"/","env":["PATH=/bin"]}"#.to_vec(),
            ..Default::default()
        };
        let req = containerd_shim_protos::api::ExecProcessRequest {
            id: id.clone(),
            exec_id: "twice".into(),
            spec: Some(spec).into(),
            ..Default::default()
        };
        let mut codes = Vec::new();
        for _ in 0..2 {
            let r = task.exec(context::with_timeout(5_000_000_000), &req).await;
            codes.push(match r {
                Ok(_) => None,
                Err(containerd_shim_protos::ttrpc::Error::RpcStatus(s)) => Some(s.code()),
                Err(e) => panic!("{e}"),
            });
        }
        codes
    });
    assert_eq!(
        codes,
        [
            None,
            Some(containerd_shim_protos::ttrpc::Code::ALREADY_EXISTS)
        ]
    );
    ctr.remove(&id);
    containerd.assert_no_leaks();
}
