//! `ctr run --log-uri`: the shim writes the container's output to a file or hands
//! it to a logging binary (containerd's protocol: stdout on fd 3, stderr on fd 4,
//! a ready pipe on fd 5 to close, CONTAINER_ID and CONTAINER_NAMESPACE set).

use std::fs;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use e2e::{containerd, runtime};
use harness::Run;

/// Waits until `path` contains `needle`; returns the content either way.
fn wait_for_content(path: &Path, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let content = fs::read_to_string(path).unwrap_or_default();
        if content.contains(needle) || Instant::now() >= deadline {
            return content;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn file_log_uri_receives_stdout() {
    let Some(containerd) = containerd("file_log_uri_receives_stdout") else {
        return;
    };
    let ctr = containerd.namespace("logfile").unwrap();
    let id = ctr.new_id("logfile");
    let log = containerd.dir().join(format!("{id}.log"));
    let uri = format!("file://{}", log.display());
    let run = Run::new(runtime(), &id, &["sh", "-c", "echo to-file-log"])
        .detach()
        .log_uri(&uri);
    let out = ctr.run(&run);
    assert!(out.success(), "{out}");
    let stopped = ctr.wait_for_status(&id, "STOPPED", Duration::from_secs(30));
    let content = wait_for_content(&log, "to-file-log");
    stopped.unwrap();
    assert!(
        content.contains("to-file-log"),
        "{} holds {content:?}",
        log.display()
    );
    assert_eq!(ctr.delete_task(&id).unwrap(), 0);
    assert!(ctr.ctr(&["containers", "delete", &id]).success());
    containerd.assert_no_leaks();
}

#[test]
fn binary_log_uri_receives_stdout_stderr_and_identity() {
    let Some(containerd) = containerd("binary_log_uri_receives_stdout_stderr_and_identity") else {
        return;
    };
    let ctr = containerd.namespace("logbin").unwrap();
    let id = ctr.new_id("logbin");
    let base = containerd.dir().join(&id);
    let (stdout, stderr, identity) = (
        base.with_extension("stdout"),
        base.with_extension("stderr"),
        base.with_extension("identity"),
    );
    let logger = containerd
        .write_file(
            "logger.sh",
            &format!(
                "#!/bin/sh\n\
                 # containerd logging binary: stdout on fd 3, stderr on fd 4, ready pipe fd 5.\n\
                 exec 5>&-\n\
                 echo \"$CONTAINER_NAMESPACE/$CONTAINER_ID\" > {identity}\n\
                 cat <&4 > {stderr} &\n\
                 cat <&3 > {stdout}\n\
                 wait\n",
                identity = identity.display(),
                stderr = stderr.display(),
                stdout = stdout.display(),
            ),
            0o755,
        )
        .unwrap();
    let uri = format!("binary://{}", logger.display());
    let script = "echo to-binary-out; echo to-binary-err >&2";
    let run = Run::new(runtime(), &id, &["sh", "-c", script])
        .detach()
        .log_uri(&uri);
    let out = ctr.run(&run);
    assert!(out.success(), "{out}");
    let stopped = ctr.wait_for_status(&id, "STOPPED", Duration::from_secs(30));
    let got_out = wait_for_content(&stdout, "to-binary-out");
    let got_err = wait_for_content(&stderr, "to-binary-err");
    let got_identity = wait_for_content(&identity, &id);
    stopped.unwrap();
    assert_eq!(got_out, "to-binary-out\n");
    assert_eq!(got_err, "to-binary-err\n");
    assert_eq!(got_identity, format!("{}/{id}\n", ctr.namespace()));
    assert_eq!(ctr.delete_task(&id).unwrap(), 0);
    assert!(ctr.ctr(&["containers", "delete", &id]).success());
    containerd.assert_no_leaks();
}
