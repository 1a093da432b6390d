//! Node configuration for `containerd-shim-runsc-v1`: adds (or updates) the
//! CRI runtime handler that runs pods in gVisor to containerd's `config.toml`,
//! and reads it back for diagnostics.
//!
//! The file is edited with `toml_edit`, so comments, key order, formatting and
//! every other table survive; only the handler's own keys are set:
//!
//! ```toml
//! [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runsc]   # version = 2 (containerd 1.x)
//!   runtime_type = "io.containerd.runsc.v1"
//!   pod_annotations = ["dev.gvisor.*"]
//!   [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runsc.options]
//!     TypeUrl = "io.containerd.runsc.v1.options"
//!     ConfigPath = "/etc/containerd/runsc.toml"
//! ```
//!
//! With `version = 3` (containerd 2.x) the table is
//! `plugins."io.containerd.cri.v1.runtime".containerd.runtimes.<handler>`.
//! Version 1 files (no `version` key) are refused rather than guessed at.
//!
//! Docker Engine's `daemon.json` gets a runtime of the same shim with
//! [`apply_docker_file`] (`config-docker`).

use std::{
    fmt, fs, io,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
};

use toml_edit::{Array, DocumentMut, Item, Table, TableLike, Value};

mod diff;
mod docker;

pub use diff::unified;
pub use docker::{
    apply_docker_file, configure_docker, DockerApplied, DockerEdited, DEFAULT_DOCKER_RUNTIME,
};

/// `runtime_type` that makes containerd run `containerd-shim-runsc-v1`.
pub const RUNTIME_TYPE: &str = "io.containerd.runsc.v1";
/// `TypeUrl` of the handler's options (gVisor's runsc.toml options).
pub const TYPE_URL: &str = "io.containerd.runsc.v1.options";
/// Pod annotations passed to the shim (gVisor's mount hints and flags).
pub const POD_ANNOTATIONS: &str = "dev.gvisor.*";
/// The handler name the RuntimeClass `gvisor` refers to.
pub const DEFAULT_HANDLER: &str = "runsc";

/// What went wrong reading or editing a containerd config.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The text is not TOML.
    #[error("{origin} is not valid TOML: {message}")]
    Parse { origin: String, message: String },
    /// The text is not JSON (daemon.json).
    #[error("{origin} is not valid JSON: {message}")]
    ParseJson { origin: String, message: String },
    /// A version this tool does not edit.
    #[error("{origin}: {message}")]
    Version { origin: String, message: String },
    /// A key on the way to the handler has the wrong type.
    #[error("{origin}: `{key}` is {found}, not a table; fix it by hand")]
    NotATable {
        origin: String,
        key: String,
        found: String,
    },
    /// A key on the way to the Docker runtime is not a JSON object.
    #[error("{origin}: `{key}` is {found}, not an object; fix it by hand")]
    NotAnObject {
        origin: String,
        key: String,
        found: String,
    },
    /// The handler name cannot be a runtime name.
    #[error("invalid handler name {0:?}: use letters, digits, '-', '_' or '.'")]
    Handler(String),
    /// Reading or writing a file.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
}

/// Result of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// containerd config versions this crate understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `version = 2`: containerd 1.x.
    V2,
    /// `version = 3`: containerd 2.x.
    V3,
}

impl Version {
    /// The CRI plugin that owns the runtime handlers.
    pub fn cri_plugin(self) -> &'static str {
        match self {
            Version::V2 => "io.containerd.grpc.v1.cri",
            Version::V3 => "io.containerd.cri.v1.runtime",
        }
    }

    /// Key path of handler `name`'s table.
    pub fn handler_path(self, name: &str) -> [&str; 5] {
        ["plugins", self.cri_plugin(), "containerd", "runtimes", name]
    }

    /// The handler's table header as written in TOML.
    pub fn handler_header(self, name: &str) -> String {
        format!(
            "plugins.\"{}\".containerd.runtimes.{name}",
            self.cri_plugin()
        )
    }

    fn number(self) -> i64 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "version {}", self.number())
    }
}

/// The handler to configure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handler {
    /// Runtime handler name (the RuntimeClass's `handler`).
    pub name: String,
    /// runsc.toml the shim reads (`options.ConfigPath`).
    pub config_path: String,
}

impl Handler {
    /// Handler `name` whose shim options live in `config_path`.
    pub fn new(name: impl Into<String>, config_path: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            config_path: config_path.into(),
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let ok = !self.name.is_empty()
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if ok {
            Ok(())
        } else {
            Err(Error::Handler(self.name.clone()))
        }
    }
}

/// The result of [`configure`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edited {
    /// The config version found (or assumed for an empty file).
    pub version: Version,
    /// The new text (equal to the input when nothing changed).
    pub text: String,
    /// Whether `text` differs from the input.
    pub changed: bool,
}

/// Adds or updates `handler` in the containerd config `text` (`origin` names
/// it in errors). Everything else in the file is kept as it was.
pub fn configure(text: &str, origin: &str, handler: &Handler) -> Result<Edited> {
    handler.validate()?;
    let mut doc = parse(text, origin)?;
    let version = match version_of(&doc, origin)? {
        Some(v) => v,
        None => {
            // An empty file: containerd 1.x's format, written out explicitly.
            doc.insert("version", toml_edit::value(Version::V2.number()));
            Version::V2
        }
    };
    let path = version.handler_path(&handler.name);
    let mut table: &mut dyn TableLike = doc.as_table_mut();
    for (depth, key) in path.iter().enumerate() {
        let last = depth + 1 == path.len();
        table = child_table(table, key, !last, origin, &path[..=depth])?;
    }
    set_str(table, "runtime_type", RUNTIME_TYPE);
    add_to_array(table, "pod_annotations", POD_ANNOTATIONS);
    let options = child_table(
        table,
        "options",
        false,
        origin,
        &[&path[..], &["options"]].concat(),
    )?;
    set_str(options, "TypeUrl", TYPE_URL);
    set_str(options, "ConfigPath", &handler.config_path);
    let new_text = doc.to_string();
    Ok(Edited {
        version,
        changed: new_text != text,
        text: new_text,
    })
}

/// What [`apply_file`] did.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The edit.
    pub edited: Edited,
    /// The text before.
    pub before: String,
    /// Whether the file existed.
    pub existed: bool,
}

impl Applied {
    /// A human summary: `unchanged`, or a unified diff of the change.
    pub fn summary(&self, path: &Path) -> String {
        if !self.edited.changed {
            return format!("{}: unchanged ({})\n", path.display(), self.edited.version);
        }
        file_diff(path, self.existed, &self.before, &self.edited.text)
    }
}

/// Reads the file at `path`, or "" if there is none; also says whether it
/// existed.
pub(crate) fn read_if_exists(path: &Path) -> Result<(String, bool)> {
    match fs::read_to_string(path) {
        Ok(t) => Ok((t, true)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok((String::new(), false)),
        Err(e) => Err(Error::Io {
            what: format!("reading {}", path.display()),
            source: e,
        }),
    }
}

/// The unified diff of an edit of the file at `path` (from /dev/null when
/// it did not exist).
pub(crate) fn file_diff(path: &Path, existed: bool, before: &str, after: &str) -> String {
    let new = path.display().to_string();
    let old = if existed {
        new.clone()
    } else {
        "/dev/null".into()
    };
    unified(&old, &new, before, after)
}

/// Configures `handler` in the file at `path` (a missing file counts as
/// empty). Unless `dry_run`, a changed file is replaced atomically, keeping
/// its permissions.
pub fn apply_file(path: &Path, handler: &Handler, dry_run: bool) -> Result<Applied> {
    let (before, existed) = read_if_exists(path)?;
    let edited = configure(&before, &path.display().to_string(), handler)?;
    if edited.changed && !dry_run {
        write_atomic(path, &edited.text)?;
    }
    Ok(Applied {
        edited,
        before,
        existed,
    })
}

pub(crate) fn write_atomic(path: &Path, text: &str) -> Result<()> {
    let io_err = |what: String| move |source| Error::Io { what, source };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir).map_err(io_err(format!("creating {}", dir.display())))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.nodecfg-{}", std::process::id()));
    fs::write(&tmp, text).map_err(io_err(format!("writing {}", tmp.display())))?;
    let mode = fs::metadata(path)
        .map(|m| m.permissions().mode())
        .unwrap_or(0o644);
    let renamed = fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))
        .and_then(|()| fs::rename(&tmp, path));
    if let Err(e) = renamed {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(format!("replacing {}", path.display()))(e));
    }
    Ok(())
}

/// A handler as found in a containerd config, for diagnostics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HandlerView {
    /// `runtime_type`.
    pub runtime_type: Option<String>,
    /// `options.TypeUrl`.
    pub type_url: Option<String>,
    /// `options.ConfigPath`.
    pub config_path: Option<String>,
    /// `pod_annotations`.
    pub pod_annotations: Vec<String>,
    /// The snapshotter the handler's containers use (its own or the CRI default).
    pub snapshotter: Option<String>,
}

/// What [`inspect`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// The config version.
    pub version: Version,
    /// The handler, if configured.
    pub handler: Option<HandlerView>,
    /// Names of all runtime handlers in the file.
    pub handlers: Vec<String>,
}

/// Reads handler `name` from the containerd config `text`. An empty text is
/// a version 2 config without handlers.
pub fn inspect(text: &str, origin: &str, name: &str) -> Result<Inspection> {
    let doc = parse(text, origin)?;
    let version = version_of(&doc, origin)?.unwrap_or(Version::V2);
    let root: &dyn TableLike = doc.as_table();
    let runtimes = lookup(root, &version.handler_path(name)[..4]);
    let handlers = runtimes
        .and_then(Item::as_table_like)
        .map(|t| t.iter().map(|(k, _)| k.to_string()).collect())
        .unwrap_or_default();
    let handler = lookup(root, &version.handler_path(name))
        .and_then(Item::as_table_like)
        .map(|t| {
            let string = |path: &[&str]| lookup(t, path).and_then(Item::as_str).map(String::from);
            let cri_snapshotter = match version {
                Version::V2 => lookup(
                    root,
                    &["plugins", version.cri_plugin(), "containerd", "snapshotter"],
                ),
                Version::V3 => lookup(
                    root,
                    &["plugins", "io.containerd.cri.v1.images", "snapshotter"],
                ),
            };
            HandlerView {
                runtime_type: string(&["runtime_type"]),
                type_url: string(&["options", "TypeUrl"]),
                config_path: string(&["options", "ConfigPath"]),
                pod_annotations: lookup(t, &["pod_annotations"])
                    .and_then(Item::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default(),
                snapshotter: string(&["snapshotter"])
                    .or_else(|| cri_snapshotter.and_then(Item::as_str).map(String::from)),
            }
        });
    Ok(Inspection {
        version,
        handler,
        handlers,
    })
}

fn parse(text: &str, origin: &str) -> Result<DocumentMut> {
    text.parse::<DocumentMut>().map_err(|e| Error::Parse {
        origin: origin.to_string(),
        message: e.to_string().trim().to_string(),
    })
}

/// The config version; `None` for a file with no content at all.
fn version_of(doc: &DocumentMut, origin: &str) -> Result<Option<Version>> {
    let refuse = |message: String| Error::Version {
        origin: origin.to_string(),
        message,
    };
    let v1 = "containerd reads it as a version 1 config, which this tool does not edit. \
              Convert it first: containerd 1.x: rename plugin sections to their full ids \
              (e.g. [plugins.cri] -> [plugins.\"io.containerd.grpc.v1.cri\"]) and add \
              `version = 2` (compare `containerd config default`); containerd 2.x: \
              `containerd config migrate`";
    match doc.get("version") {
        None if doc.as_table().is_empty() => Ok(None),
        None => Err(refuse(format!("has no `version` key, so {v1}"))),
        Some(item) => match item.as_integer() {
            Some(2) => Ok(Some(Version::V2)),
            Some(3) => Ok(Some(Version::V3)),
            Some(1) => Err(refuse(format!("has `version = 1`: {v1}"))),
            _ => Err(refuse(format!(
                "unsupported `version = {}`: only 2 (containerd 1.x) and 3 (containerd 2.x) \
                 are known",
                item.to_string().trim()
            ))),
        },
    }
}

fn lookup<'a>(table: &'a dyn TableLike, path: &[&str]) -> Option<&'a Item> {
    let (first, rest) = path.split_first()?;
    let item = table.get(first)?;
    if rest.is_empty() {
        Some(item)
    } else {
        lookup(item.as_table_like()?, rest)
    }
}

/// The sub-table `key` of `table`, created when missing (`implicit`: without
/// a header of its own).
fn child_table<'a>(
    table: &'a mut dyn TableLike,
    key: &str,
    implicit: bool,
    origin: &str,
    path: &[&str],
) -> Result<&'a mut dyn TableLike> {
    let item = table.entry(key).or_insert_with(|| {
        let mut t = Table::new();
        t.set_implicit(implicit);
        Item::Table(t)
    });
    let found = item.type_name().to_string();
    item.as_table_like_mut().ok_or_else(|| Error::NotATable {
        origin: origin.to_string(),
        key: path.join("."),
        found,
    })
}

/// Sets a string value unless it is already equal (keeping its decoration).
fn set_str(table: &mut dyn TableLike, key: &str, want: &str) {
    match table.get_mut(key) {
        Some(item) if item.as_str() == Some(want) => {}
        Some(item) => {
            let mut value = Value::from(want);
            if let Some(old) = item.as_value() {
                *value.decor_mut() = old.decor().clone();
            }
            *item = Item::Value(value);
        }
        None => {
            table.insert(key, toml_edit::value(want));
        }
    }
}

/// Makes sure the string array `key` contains `want`.
fn add_to_array(table: &mut dyn TableLike, key: &str, want: &str) {
    match table.get_mut(key).and_then(Item::as_array_mut) {
        Some(array) if array.iter().any(|v| v.as_str() == Some(want)) => {}
        Some(array) => array.push(want),
        None => {
            let mut array = Array::new();
            array.push(want);
            table.insert(key, toml_edit::value(array));
        }
    }
}

#[cfg(test)]
mod tests;
