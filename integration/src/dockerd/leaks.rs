//! Finding what containers of a private dockerd left on the host: shim and
//! runsc processes, mounts under the instance directory, shim sockets in
//! `/run/containerd/s` and cgroups `/<cgroup parent>/<id>`.
//!
//! Tests share one dockerd, so a check is about the containers a test names
//! ("mine") plus orphans: things of no container dockerd still knows, which
//! belong to no running test either.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::layout::shim_socket_of;
use crate::procfs;
use crate::teardown::{cgroup_hierarchies, is_runsc_under, serves};

use super::files::DockerLayout;
use super::DOCKER_NAMESPACE;

/// A container the fixture created: its name, and its id once
/// `docker run --cidfile` wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Container {
    pub(crate) name: String,
    pub(crate) id: Option<String>,
}

/// The containers dockerd lists: ids, names and network namespaces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Known {
    ids: HashSet<String>,
    names: HashSet<String>,
    sandbox_keys: HashSet<PathBuf>,
}

impl Known {
    /// Parses `docker inspect --format '{{.Id}} {{.Name}} {{.NetworkSettings.SandboxKey}}'`.
    pub(crate) fn parse(inspect: &str) -> Known {
        let mut known = Known::default();
        for line in inspect.lines() {
            let mut fields = line.split_whitespace();
            let (Some(id), Some(name)) = (fields.next(), fields.next()) else {
                continue;
            };
            known.ids.insert(id.to_string());
            known.names.insert(name.trim_start_matches('/').to_string());
            known.sandbox_keys.extend(fields.next().map(PathBuf::from));
        }
        known
    }
}

/// Whom something found on the host belongs to.
enum Owner<'a> {
    /// One of the containers checked.
    Mine(&'a Container),
    /// A container dockerd still knows (another test's).
    Known,
    /// No container dockerd knows: left behind.
    Orphan,
}

/// What the host still has of the containers `mine` (all the fixture
/// created, which should all be removed by now), and orphans of any
/// container; `baseline` are the mounts dockerd keeps at rest.
pub(crate) fn find(
    layout: &DockerLayout,
    baseline: &[PathBuf],
    known: &Known,
    mine: &[Container],
) -> Vec<String> {
    let owner = |text: &str, key: Option<&Path>| -> Owner<'_> {
        let holds = |id: &str| !id.is_empty() && text.contains(id);
        if let Some(c) = mine.iter().find(|c| c.id.as_deref().is_some_and(holds)) {
            Owner::Mine(c)
        } else if known.ids.iter().any(|id| holds(id))
            || key.is_some_and(|k| known.sandbox_keys.contains(k))
        {
            Owner::Known
        } else {
            Owner::Orphan
        }
    };
    let describe = |what: String, owner: Owner<'_>| match owner {
        Owner::Mine(c) => Some(format!("{what} of {}", c.name)),
        Owner::Known => None,
        Owner::Orphan => Some(format!("{what} of no container dockerd knows")),
    };
    let mut found: Vec<String> = mine
        .iter()
        .filter(|c| known.names.contains(&c.name))
        .map(|c| format!("container {} still known to dockerd", c.name))
        .collect();
    let address = layout.containerd_socket();
    for p in procfs::processes() {
        let what = if serves(&p, &address) {
            "shim process"
        } else if is_runsc_under(&p, layout.dir()) {
            "runsc process"
        } else {
            continue;
        };
        let cmdline = p.cmdline();
        found.extend(
            describe(format!("{what} {}", p.pid), owner(&cmdline, None))
                .map(|d| format!("{d}: {cmdline}")),
        );
    }
    for mount in procfs::mounts_under(layout.dir()) {
        if !baseline.contains(&mount) {
            let text = mount.display().to_string();
            found.extend(describe(
                format!("mount point {text}"),
                owner(&text, Some(&mount)),
            ));
        }
    }
    for c in mine {
        let Some(id) = c.id.as_deref().filter(|id| !known.ids.contains(*id)) else {
            continue;
        };
        let socket = shim_socket_of(&address, DOCKER_NAMESPACE, id);
        if socket.exists() {
            found.push(format!("shim socket {} of {}", socket.display(), c.name));
        }
        for hierarchy in cgroup_hierarchies() {
            let cgroup = hierarchy.join(layout.cgroup_parent()).join(id);
            if cgroup.exists() {
                found.push(format!("cgroup {} of {}", cgroup.display(), c.name));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inspect_lines_give_ids_names_and_network_namespaces() {
        let a = Known::parse("abc /one /tmp/rsd-x/exec/netns/1f\ndef /two \n\n");
        assert!(a.ids.contains("abc") && a.ids.contains("def"));
        assert!(a.names.contains("one") && a.names.contains("two"));
        assert_eq!(a.sandbox_keys.len(), 1);
    }

    #[test]
    fn removed_containers_leave_nothing_in_an_empty_directory() {
        let dir = tempfile::tempdir().unwrap();
        let layout = DockerLayout::new(dir.path());
        let gone = Container {
            name: "c1".into(),
            id: Some("0123abcd".into()),
        };
        let still = Known::parse("0123abcd /c1 -\n");
        let leaks = find(&layout, &[], &still, std::slice::from_ref(&gone));
        assert_eq!(leaks, ["container c1 still known to dockerd"]);
        let leaks = find(&layout, &[], &Known::default(), &[gone]);
        assert!(leaks.is_empty(), "{leaks:?}");
    }
}
