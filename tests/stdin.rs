//! EOF on stdin: as with runc, the shim keeps the container's stdin open
//! until containerd's CloseIO, which ctr itself never sends; the tests send
//! it over the shim's own socket, as containerd would.

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
