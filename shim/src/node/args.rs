//! A minimal `--name value` / `--name=value` / `--switch` parser for the node
//! commands.

use std::collections::BTreeMap;

/// Parsed arguments.
#[derive(Debug, Default)]
pub struct Args {
    values: BTreeMap<String, String>,
    flags: Vec<String>,
}

impl Args {
    /// Parses `argv`: `valued` options take a value, `switches` do not.
    /// Anything else is an error.
    pub fn parse(argv: &[String], valued: &[&str], switches: &[&str]) -> Result<Self, String> {
        let mut out = Args::default();
        let mut it = argv.iter();
        while let Some(arg) = it.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
                _ => (arg.as_str(), None),
            };
            if valued.contains(&name) {
                let value = match inline {
                    Some(v) => v,
                    None => it
                        .next()
                        .cloned()
                        .ok_or_else(|| format!("{name} needs a value"))?,
                };
                out.values.insert(name.to_string(), value);
            } else if switches.contains(&name) && inline.is_none() {
                out.flags.push(name.to_string());
            } else {
                return Err(format!("unknown argument {arg:?}"));
            }
        }
        Ok(out)
    }

    /// The value of option `name`.
    pub fn value(&mut self, name: &str) -> Option<String> {
        self.values.remove(name)
    }

    /// Whether switch `name` was given.
    pub fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn values_switches_and_errors() {
        let mut a = Args::parse(
            &argv(&["--config", "/c", "--json", "--handler=x"]),
            &["--config", "--handler"],
            &["--json"],
        )
        .unwrap();
        assert_eq!(a.value("--config").as_deref(), Some("/c"));
        assert_eq!(a.value("--handler").as_deref(), Some("x"));
        assert!(a.flag("--json"));
        assert!(!a.flag("--dry-run"));
        let err = Args::parse(&argv(&["--config"]), &["--config"], &[]).unwrap_err();
        assert!(err.contains("needs a value"));
        let err = Args::parse(&argv(&["-x"]), &[], &[]).unwrap_err();
        assert!(err.contains("unknown argument \"-x\""));
    }
}
