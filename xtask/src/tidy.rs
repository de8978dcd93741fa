//! `cargo xtask tidy`: checks of the repository itself. Three:
//!
//! - **Paths**: no tracked file points at a path that the repository does not have (the rule
//!   below);
//! - **Generated references**: the files under `docs/reference/` are what `cargo xtask docs`
//!   writes now (see [`crate::docs`]): tidy builds the release `brunel` (the build that
//!   `cargo xtask test` makes anyway), renders them into memory and names each file that
//!   differs;
//! - **Results folders**: nothing under `benches/results/` that is a by-product rather than a
//!   result: Python's compiled files (`*.pyc`, `__pycache__/`) and patches (`*.patch`; a change
//!   to the code belongs in the code's history, not beside its measurements).
//!
//! The path rule (CONTRIBUTING.md, "Formatting, lints and tidy", states it too). In every
//! tracked text file (`.md`, `.rs`, `.toml`, `.py`, `.sh`, `.cl`, `.txt`, and scripts without an
//! extension):
//!
//! 1. **Markdown links** (`.md` files only): the target of `[text](target)` and
//!    `![alt](target)`, outside code blocks and code spans, relative to the file's folder (or to
//!    the repository root when it starts with `/`). URLs (`scheme:`) and pure anchors (`#x`) are
//!    not checked; an anchor after a path is dropped.
//! 2. **Parent paths**: every word that starts with two dots and a slash.
//! 3. **Repository paths**: a word that starts with the name of one of the repository's
//!    top-level folders and a slash (`docs/`, `crates/`, ...).
//!
//!    Both are taken relative to the file's folder or any folder above it, up to the root (a
//!    crate's `tests/x.rs`, the root's `tests/`, a path relative to a crate's manifest folder);
//!    one that exists from none of them is broken, and one that leaves the repository from the
//!    root too: a user who clones the repository has nothing there.
//! 4. **Markdown file names**: a bare word ending in `.md` (no folder) must be the name of some
//!    tracked file.
//!
//! A word is a run of letters, digits and `_ . - /` that no such character precedes; trailing
//! `. , : ;` are dropped. A word followed at once by one of `* { < $ [` is a pattern, not a path,
//! and is skipped (`configs/fig8_{a,b}.toml`, `benches/results/<date>/`), as is what a command
//! writes (a word after `>`, `-o` or `--out`) and what lies under `target/` or `out/` (what the
//! build writes; never tracked). A path exists when it is a tracked file or a folder holding
//! one. Outside a git checkout every file under the root counts as tracked (except `target/`,
//! `out/` and hidden folders). This file itself is not checked: its tests name missing paths on
//! purpose.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use crate::{docs, util};

/// `cargo xtask tidy`.
pub fn run() -> Result<(), String> {
    let root = util::project_root();
    // A reference that cannot be regenerated (brunel does not build) is a failure of its own,
    // reported beside the other checks' findings.
    let (generated, cannot) = match docs::all(&root) {
        Ok(g) => (g, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    let report = check_all(&root, &generated)?;
    let mut text = report.to_string();
    if let Some(e) = cannot {
        text.push_str(&format!(
            "tidy: cannot regenerate the references under docs/reference/: {e}
"
        ));
    }
    if text.is_empty() {
        eprintln!(
            "tidy: every path that a tracked file names exists, the references under \
             docs/reference/ are up to date, and benches/results/ holds only results"
        );
        Ok(())
    } else {
        Err(text.trim_end().to_owned())
    }
}

/// What the checks found in a tree.
#[derive(Debug, Default)]
pub struct Report {
    /// Paths named that do not exist.
    pub broken: Vec<Broken>,
    /// Files that do not belong under `benches/results/`.
    pub junk: Vec<PathBuf>,
    /// Generated files that are missing or differ from what is generated now, with why.
    pub stale: Vec<String>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.broken.is_empty() {
            writeln!(f, "tidy: {} broken path(s):", self.broken.len())?;
            for b in &self.broken {
                writeln!(f, "  {b}")?;
            }
        }
        if !self.junk.is_empty() {
            writeln!(
                f,
                "tidy: {} file(s) under benches/results/ that are no results (compiled Python, \
                 patches); remove them:",
                self.junk.len()
            )?;
            for j in &self.junk {
                writeln!(f, "  {}", j.display())?;
            }
        }
        if !self.stale.is_empty() {
            writeln!(
                f,
                "tidy: {} generated file(s) out of date; run `cargo xtask docs`:",
                self.stale.len()
            )?;
            for s in &self.stale {
                writeln!(f, "  {s}")?;
            }
        }
        Ok(())
    }
}

/// Every check on the tree at `root`, with `generated` the generated files as they should be.
pub fn check_all(root: &Path, generated: &[docs::Generated]) -> Result<Report, String> {
    let files = tracked(root)?;
    Ok(Report {
        broken: check_paths(root, &files),
        junk: junk(&files),
        stale: docs::stale(root, generated),
    })
}

/// The results folders: the tracked files there that are by-products, not results.
const RESULTS: &str = "benches/results";

/// The files of `files` under `benches/results/` that are compiled Python (`*.pyc`, anything in
/// a `__pycache__` folder) or patches (`*.patch`).
fn junk(files: &[PathBuf]) -> Vec<PathBuf> {
    files
        .iter()
        .filter(|f| f.starts_with(RESULTS))
        .filter(|f| {
            let ext = f.extension().and_then(|e| e.to_str());
            matches!(ext, Some("pyc" | "patch"))
                || f.components().any(|c| c.as_os_str() == "__pycache__")
        })
        .cloned()
        .collect()
}

/// A path named in `file` at `line` that does not exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    pub file: PathBuf,
    pub line: usize,
    pub target: String,
    pub why: &'static str,
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: `{}` {}",
            self.file.display(),
            self.line,
            self.target,
            self.why
        )
    }
}

/// Every broken path in the tree at `root`.
#[cfg(test)]
fn check(root: &Path) -> Result<Vec<Broken>, String> {
    Ok(check_paths(root, &tracked(root)?))
}

/// Every broken path that `files` (the tracked files of `root`) name.
fn check_paths(root: &Path, files: &[PathBuf]) -> Vec<Broken> {
    let tree = Tree::new(files);
    let mut broken = Vec::new();
    for file in files {
        // This file's tests plant broken paths on purpose.
        if !is_text(file) || file == Path::new(SELF) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(root.join(file)) else {
            continue; // not UTF-8: not a text file after all
        };
        check_file(&tree, file, &text, &mut broken);
    }
    // A link's text and target may name the same path: report it once.
    broken.sort_by(|a, b| (&a.file, a.line, &a.target).cmp(&(&b.file, b.line, &b.target)));
    broken.dedup_by(|a, b| a.file == b.file && a.line == b.line && a.target == b.target);
    broken
}

/// The tracked files, relative to `root`: `git ls-files` in a checkout, else a walk.
fn tracked(root: &Path) -> Result<Vec<PathBuf>, String> {
    if root.join(".git").exists() {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(root)
            .args(["ls-files", "-z"])
            .output()
            .map_err(|e| format!("cannot run git ls-files: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "git ls-files failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        return Ok(String::from_utf8_lossy(&out.stdout)
            .split('\0')
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .filter(|p| root.join(p).is_file()) // deleted but not yet committed
            .collect());
    }
    let mut files = Vec::new();
    walk(root, Path::new(""), &mut files)?;
    files.sort();
    Ok(files)
}

fn walk(root: &Path, rel: &Path, files: &mut Vec<PathBuf>) -> Result<(), String> {
    let dir = root.join(rel);
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let path = rel.join(&*name);
        let kind = entry
            .file_type()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if kind.is_dir() {
            if rel.as_os_str().is_empty() && BUILD_OUTPUTS.contains(&&*name) {
                continue;
            }
            if name.starts_with('.') && name != ".ci" && name != ".cargo" {
                continue;
            }
            walk(root, &path, files)?;
        } else if kind.is_file() {
            files.push(path);
        }
    }
    Ok(())
}

/// The check's own source, not checked: its tests name missing paths on purpose.
const SELF: &str = "xtask/src/tidy.rs";

/// Folders the build writes; never tracked, so mentions of them are not checked.
const BUILD_OUTPUTS: &[&str] = &["target", "out"];

fn is_text(file: &Path) -> bool {
    match file.extension().and_then(|e| e.to_str()) {
        Some(ext) => ["md", "rs", "toml", "py", "sh", "cl", "txt"].contains(&ext),
        None => true, // scripts such as .ci/run; binary ones fail to read as UTF-8
    }
}

/// The tracked files and the folders that hold them.
struct Tree {
    paths: BTreeSet<PathBuf>,
    names: BTreeSet<String>,
    top: BTreeSet<String>,
}

impl Tree {
    fn new(files: &[PathBuf]) -> Tree {
        let mut paths = BTreeSet::new();
        let mut names = BTreeSet::new();
        let mut top = BTreeSet::new();
        for f in files {
            if let Some(name) = f.file_name() {
                names.insert(name.to_string_lossy().into_owned());
            }
            let mut comps = f.components();
            if let (Some(first), Some(_)) = (comps.next(), comps.next()) {
                top.insert(first.as_os_str().to_string_lossy().into_owned());
            }
            let mut p = f.clone();
            loop {
                paths.insert(p.clone());
                if !p.pop() || p.as_os_str().is_empty() {
                    break;
                }
            }
        }
        Tree { paths, names, top }
    }

    fn exists(&self, p: &Path) -> bool {
        p.as_os_str().is_empty() || self.paths.contains(p)
    }
}

/// `base.join(target)` with `.` and `..` resolved; `None` if it leaves the root.
fn resolve(base: &Path, target: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for comp in base.join(target).components() {
        match comp {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::Normal(c) => out.push(c),
            Component::RootDir | Component::Prefix(_) => {}
        }
    }
    Some(out)
}

fn is_build_output(p: &Path) -> bool {
    p.components()
        .next()
        .is_some_and(|c| BUILD_OUTPUTS.contains(&&*c.as_os_str().to_string_lossy()))
}

fn check_file(tree: &Tree, file: &Path, text: &str, broken: &mut Vec<Broken>) {
    let dir = file.parent().unwrap_or(Path::new("")).to_owned();
    let markdown = file.extension().is_some_and(|e| e == "md");
    let mut fenced = false;
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let mut report = |target: &str, why: &'static str| {
            broken.push(Broken {
                file: file.to_owned(),
                line: line_no,
                target: target.to_owned(),
                why,
            })
        };
        if markdown && line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if markdown && !fenced {
            for target in markdown_links(line) {
                let (path, rooted) = match target.strip_prefix('/') {
                    Some(p) => (p, true),
                    None => (target.as_str(), false),
                };
                let base = if rooted { Path::new("") } else { &dir };
                match resolve(base, path) {
                    None => report(&target, "leaves the repository"),
                    Some(p) if !tree.exists(&p) && !is_build_output(&p) => {
                        report(&target, "is a link to a path the repository does not have")
                    }
                    Some(_) => {}
                }
            }
        }
        for word in words(line) {
            let parent = word.starts_with("../");
            if !parent {
                if let Some((first, _)) = word.split_once('/') {
                    if !tree.top.contains(first) {
                        continue;
                    }
                } else {
                    if !tree.names.contains(&word) {
                        report(&word, "names a Markdown file the repository does not have");
                    }
                    continue;
                }
            }
            // Relative to the file's folder or any folder above it, up to the root.
            let mut base = dir.clone();
            let mut leaves = false;
            let found = loop {
                match resolve(&base, &word) {
                    Some(p) if tree.exists(&p) || is_build_output(&p) => break true,
                    Some(_) => {}
                    None => leaves = true,
                }
                if !base.pop() {
                    break false;
                }
            };
            if !found {
                if leaves && resolve(&dir, &word).is_none() {
                    report(&word, "leaves the repository");
                } else {
                    report(&word, "names a path the repository does not have");
                }
            }
        }
    }
}

/// The targets of the Markdown links of `line`, outside code spans, URLs and anchors aside.
fn markdown_links(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let code_free = strip_code_spans(line);
    let mut rest = code_free.as_str();
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        let Some(end) = after.find(')') else { break };
        let inner = after[..end].trim();
        // `(path "title")`: the path is the first word; `<path>` is a path with spaces.
        let target = inner
            .strip_prefix('<')
            .and_then(|s| s.split_once('>').map(|(p, _)| p))
            .unwrap_or_else(|| inner.split_whitespace().next().unwrap_or(""));
        let target = target.split('#').next().unwrap_or("");
        let is_url = target
            .split_once(':')
            .is_some_and(|(scheme, _)| !scheme.contains('/'));
        if !target.is_empty() && !is_url {
            out.push(target.to_owned());
        }
        rest = &after[end..];
    }
    out
}

/// `line` with the contents of its `code spans` blanked out.
fn strip_code_spans(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_code = false;
    for c in line.chars() {
        if c == '`' {
            in_code = !in_code;
            out.push(' ');
        } else if in_code {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/')
}

/// The words of `line` that may be paths (see the module's rule), URLs aside.
fn words(line: &str) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !is_path_char(chars[i]) || (i > 0 && is_path_char(chars[i - 1])) {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && is_path_char(chars[i]) {
            i += 1;
        }
        // Part of a URL (`https://...`) or a pattern (`fig8_{a,b}`, `<date>`, `$DIR`, `*.cl`).
        let preceded_by_scheme = start > 0 && chars[start - 1] == ':';
        let followed_by = chars.get(i).copied();
        let pattern = matches!(followed_by, Some('*' | '{' | '<' | '$' | '['))
            || (start > 0 && matches!(chars[start - 1], '$' | '*' | '>' | '}' | '@'));
        let url = chars[i..].starts_with(&[':', '/', '/']) || preceded_by_scheme;
        // What a command writes (`> x.md`, `-o x.png`, `--out x.h5`) need not exist.
        let before: String = chars[..start].iter().collect();
        let before = before.trim_end();
        let output = before.ends_with('>') || before.ends_with(" -o") || before.ends_with("--out");
        let word: String = chars[start..i].iter().collect();
        let word = word.trim_end_matches(['.', ',', ':', ';']).to_owned();
        if pattern || url || output || word.is_empty() || word.starts_with('/') {
            continue;
        }
        let bare_md = word.len() > 3 && word.ends_with(".md") && !word.starts_with('.');
        let named = word.chars().any(|c| c != '.' && c != '/');
        let may_be_path = named && (word.contains('/') || bare_md);
        if may_be_path && !is_build_output(Path::new(&word)) {
            out.push(word);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch tree under the system's temporary folder, removed on drop.
    struct TempTree(PathBuf);

    impl TempTree {
        fn new(name: &str) -> TempTree {
            let dir = std::env::temp_dir().join(format!(
                "xtask-tidy-{name}-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            TempTree(dir)
        }

        fn write(&self, rel: &str, text: &str) {
            let p = self.0.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
    }

    impl Drop for TempTree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A small repository whose every reference resolves.
    fn good_tree(name: &str) -> TempTree {
        let t = TempTree::new(name);
        t.write(
            "README.md",
            "# x\n\nSee [the model](docs/model.md#time-step), [home](https://example.org/a/b.md),\n\
             [anchor](#x), ![fig](docs/fig.png \"title\") and `docs/model.md`.\n\
             Files `configs/fig8_{a,b}.toml`, results in `benches/results/<date>/`,\n\
             the binary target/release/brunel, out/fig8/fig8.png.\n\n\
             ```\n[not a link](nowhere/)\n```\n",
        );
        t.write(
            "docs/model.md",
            "Back to [the README](../README.md); see validation.md.\n",
        );
        t.write("docs/validation.md", "[model](./model.md)\n");
        t.write("docs/fig.png", "not really a png");
        t.write("configs/a.toml", "# the model: docs/model.md\n");
        t.write(
            "crates/core/src/lib.rs",
            "//! The time step of docs/model.md; tests/step.rs (this crate's) and\n\
             //! ../../docs/validation.md.\nfn f() { let _ = \"a/b\"; }\n",
        );
        t.write("crates/core/tests/step.rs", "// nothing\n");
        t
    }

    #[test]
    fn a_good_tree_passes() {
        let t = good_tree("good");
        let broken = check(&t.0).unwrap();
        assert_eq!(broken, vec![], "{broken:#?}");
    }

    #[test]
    fn every_kind_of_broken_reference_fails() {
        let t = good_tree("broken");
        let outside = format!("{}/shared/MODEL.md", "..");
        t.write(
            "docs/extra.md",
            &format!(
                "A [missing link](missing.md), the spec [{outside}]({outside}),\n\
                 a folder [that is not there](../benches/), docs/gone.md and NOTES.md.\n"
            ),
        );
        t.write(
            "crates/core/src/more.rs",
            &format!("// see {outside} and crates/core/src/nothing.rs\n"),
        );
        t.write("NOTES.txt", &format!("The spec: {outside}.\n"));
        let broken = check(&t.0).unwrap();
        let found: Vec<(String, usize, String)> = broken
            .iter()
            .map(|b| (b.file.display().to_string(), b.line, b.target.clone()))
            .collect();
        let want = |f: &str, l: usize, t: &str| (f.to_owned(), l, t.to_owned());
        for w in [
            want("docs/extra.md", 1, "missing.md"),
            want("docs/extra.md", 1, &outside),
            want("docs/extra.md", 2, "../benches/"),
            want("docs/extra.md", 2, "docs/gone.md"),
            want("docs/extra.md", 2, "NOTES.md"),
            want("crates/core/src/more.rs", 1, &outside),
            want("NOTES.txt", 1, &outside),
            want("crates/core/src/more.rs", 1, "crates/core/src/nothing.rs"),
        ] {
            assert!(found.contains(&w), "{w:?} not reported; found {found:#?}");
        }
        // From the root, a parent path leaves the repository.
        assert!(broken.iter().any(|b| b.file == Path::new("NOTES.txt")
            && b.target == outside
            && b.why == "leaves the repository"));
        // The good files stay good.
        let planted = ["docs/extra.md", "crates/core/src/more.rs", "NOTES.txt"];
        assert!(
            broken
                .iter()
                .all(|b| planted.iter().any(|p| b.file == Path::new(p))),
            "{broken:#?}"
        );
    }

    #[test]
    fn words_and_links_are_found_as_the_rule_says() {
        assert_eq!(
            markdown_links("a [b](c.md#d) `[e](f.md)` [g](http://h/i.md) [j](#k) [l](<m n.md>)"),
            vec!["c.md", "m n.md"]
        );
        assert_eq!(
            words(
                "see docs/a.md, ../b/c.rs; x/y{z} https://q/r.md $DIR/run.sh t/u. > o.md .md ../"
            ),
            vec!["docs/a.md", "../b/c.rs", "t/u"]
        );
    }

    #[test]
    fn by_products_under_results_are_caught() {
        let t = good_tree("junk");
        t.write("benches/results/2026-01-01-x/bench.csv", "a,b\n");
        // `epyc` holds the letters of `pyc`: a name, not an extension.
        t.write("benches/results/2026-01-01-amd-epyc/summary.md", "# x\n");
        t.write(
            "benches/results/2026-01-01-x/__pycache__/measure.cpython-311.pyc",
            "",
        );
        t.write("benches/results/2026-01-01-x/__pycache__/notes.txt", "");
        t.write("benches/results/2026-01-01-x/loose.pyc", "");
        t.write("benches/results/2026-01-01-x/tweak.patch", "");
        // Elsewhere these are someone else's business.
        t.write("tools/keep.pyc", "");
        t.write("tools/keep.patch", "");
        let report = check_all(&t.0, &[]).unwrap();
        let mut junk: Vec<String> = report
            .junk
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        junk.sort();
        assert_eq!(
            junk,
            [
                "benches/results/2026-01-01-x/__pycache__/measure.cpython-311.pyc",
                "benches/results/2026-01-01-x/__pycache__/notes.txt",
                "benches/results/2026-01-01-x/loose.pyc",
                "benches/results/2026-01-01-x/tweak.patch",
            ]
        );
        let text = report.to_string();
        assert!(text.contains("4 file(s) under benches/results/"), "{text}");
        assert!(
            report.broken.is_empty() && report.stale.is_empty(),
            "{report:#?}"
        );
    }

    #[test]
    fn a_stale_or_missing_generated_file_is_caught() {
        let t = good_tree("stale");
        t.write(
            docs::CONFIG_SCHEMA,
            "# The schema.\n\n[network]\nn_e = 100 # excitatory neurons\n",
        );
        let generated = vec![docs::config_reference(&t.0).unwrap()];
        // Not written yet: missing.
        let report = check_all(&t.0, &generated).unwrap();
        assert_eq!(report.stale, [format!("{} is missing", docs::CONFIG_MD)]);
        // As `cargo xtask docs` writes it: clean.
        assert_eq!(docs::write(&t.0, &generated).unwrap(), [docs::CONFIG_MD]);
        let report = check_all(&t.0, &generated).unwrap();
        assert!(report.to_string().is_empty(), "{report}");
        assert_eq!(docs::write(&t.0, &generated).unwrap(), Vec::<&str>::new());
        // Edited by hand: stale, with the first line that differs.
        let path = t.0.join(docs::CONFIG_MD);
        let edited = std::fs::read_to_string(&path)
            .unwrap()
            .replace("| `100` |", "| `200` |");
        std::fs::write(&path, edited).unwrap();
        let report = check_all(&t.0, &generated).unwrap();
        assert_eq!(report.stale.len(), 1, "{report}");
        assert!(report.stale[0].starts_with("docs/reference/config.md is stale: line "));
        assert!(
            report.stale[0].contains("`| `network.n_e` | `200` |"),
            "{report}"
        );
        assert!(
            report.to_string().contains("run `cargo xtask docs`"),
            "{report}"
        );
        // The schema changed but the reference was not regenerated: stale too.
        docs::write(&t.0, &generated).unwrap();
        t.write(
            docs::CONFIG_SCHEMA,
            "# The schema.\n\n[network]\nn_e = 300 # excitatory neurons\n",
        );
        let regenerated = vec![docs::config_reference(&t.0).unwrap()];
        let report = check_all(&t.0, &regenerated).unwrap();
        assert_eq!(report.stale.len(), 1, "{report}");
    }
}
