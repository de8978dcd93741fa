//! `cargo xtask docs`: writes the references under `docs/reference/` that are generated, not
//! written by hand, from what the program itself defines:
//!
//! - `docs/reference/cli.md` and `docs/reference/brunel.1` (a man page): every command and
//!   option of `brunel` with its long help, rendered from the clap definitions by the release
//!   binary's hidden command `brunel __reference markdown|man` (see brunel-cli's `reference`
//!   module);
//! - `docs/reference/config.md`: every config key with its default and meaning, from the
//!   commented schema configs/reference.toml (see [`crate::config_doc`]).
//!
//! `cargo xtask tidy` regenerates them into memory and fails when a file on disk differs.

use std::path::Path;
use std::process::Command;

use crate::{config_doc, util};

/// The commented schema of a config file.
pub const CONFIG_SCHEMA: &str = "configs/reference.toml";
/// The generated config reference.
pub const CONFIG_MD: &str = "docs/reference/config.md";
/// The generated command-line reference, Markdown.
pub const CLI_MD: &str = "docs/reference/cli.md";
/// The generated command-line reference, a man page.
pub const CLI_MAN: &str = "docs/reference/brunel.1";

/// A generated file: where it goes, relative to the repository root, and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    pub path: &'static str,
    pub contents: Vec<u8>,
}

/// The config reference of the tree at `root`.
pub fn config_reference(root: &Path) -> Result<Generated, String> {
    let schema = root.join(CONFIG_SCHEMA);
    let text = std::fs::read_to_string(&schema)
        .map_err(|e| format!("cannot read {}: {e}", schema.display()))?;
    Ok(Generated {
        path: CONFIG_MD,
        contents: config_doc::render(&text)?.into_bytes(),
    })
}

/// The command-line references, as the `brunel` binary at `brunel` prints them.
pub fn cli_reference(brunel: &Path) -> Result<Vec<Generated>, String> {
    [("markdown", CLI_MD), ("man", CLI_MAN)]
        .into_iter()
        .map(|(format, path)| {
            let mut cmd = Command::new(brunel);
            cmd.args(["__reference", format]);
            let out = cmd
                .output()
                .map_err(|e| format!("cannot run `{}`: {e}", util::show(&cmd)))?;
            if !out.status.success() {
                return Err(format!(
                    "`{}` failed ({}): {}",
                    util::show(&cmd),
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            Ok(Generated {
                path,
                contents: out.stdout,
            })
        })
        .collect()
}

/// Every generated file of the repository, building the release `brunel` first (the build
/// that `cargo xtask test` and the tests use, so nothing is built twice).
pub fn all(root: &Path) -> Result<Vec<Generated>, String> {
    let brunel = util::build_brunel()?;
    let mut files = cli_reference(&brunel)?;
    files.push(config_reference(root)?);
    Ok(files)
}

/// The generated files whose copy under `root` is missing or differs, each with why.
pub fn stale(root: &Path, generated: &[Generated]) -> Vec<String> {
    generated
        .iter()
        .filter_map(|g| match std::fs::read(root.join(g.path)) {
            Ok(on_disk) if on_disk == g.contents => None,
            Ok(on_disk) => Some(format!(
                "{} is stale: {}",
                g.path,
                first_difference(&on_disk, &g.contents)
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Some(format!("{} is missing", g.path))
            }
            Err(e) => Some(format!("{} cannot be read: {e}", g.path)),
        })
        .collect()
}

/// Where `old` first differs from `new`, as a line number and the two lines.
fn first_difference(old: &[u8], new: &[u8]) -> String {
    let old = String::from_utf8_lossy(old);
    let new = String::from_utf8_lossy(new);
    let mut old_lines = old.lines();
    let mut new_lines = new.lines();
    let mut n = 0;
    loop {
        n += 1;
        match (old_lines.next(), new_lines.next()) {
            (Some(a), Some(b)) if a == b => continue,
            (a, b) => {
                let show = |l: Option<&str>| match l {
                    Some(l) if l.chars().count() > 100 => {
                        format!("`{}…`", l.chars().take(100).collect::<String>())
                    }
                    Some(l) => format!("`{l}`"),
                    None => "the end of the file".to_owned(),
                };
                if a.is_none() && b.is_none() {
                    // Same lines: the line endings or the final newline differ.
                    return "its line endings differ".to_owned();
                }
                return format!("line {n} is {}, generated {}", show(a), show(b));
            }
        }
    }
}

/// Writes `generated` under `root` where it differs; the paths written.
pub fn write(root: &Path, generated: &[Generated]) -> Result<Vec<&'static str>, String> {
    let mut written = Vec::new();
    for g in generated {
        let path = root.join(g.path);
        if std::fs::read(&path).is_ok_and(|old| old == g.contents) {
            continue;
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        std::fs::write(&path, &g.contents)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        written.push(g.path);
    }
    Ok(written)
}

/// `cargo xtask docs`.
pub fn run(args: &[String]) -> Result<(), String> {
    if let Some(arg) = args.first() {
        return Err(format!("docs takes no arguments (got `{arg}`)"));
    }
    let root = util::project_root();
    let generated = all(&root)?;
    let written = write(&root, &generated)?;
    for g in &generated {
        let state = if written.contains(&g.path) {
            "written"
        } else {
            "up to date"
        };
        eprintln!("docs: {} {state}", g.path);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_difference_is_located() {
        assert_eq!(
            first_difference(b"a\nb\nc\n", b"a\nB\nc\n"),
            "line 2 is `b`, generated `B`"
        );
        assert_eq!(
            first_difference(b"a\n", b"a\nb\n"),
            "line 2 is the end of the file, generated `b`"
        );
        assert_eq!(
            first_difference(b"a\r\n", b"a\n"),
            "its line endings differ"
        );
    }
}
