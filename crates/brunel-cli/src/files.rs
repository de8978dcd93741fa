//! The one way brunel writes a file: results, summaries, figures, sweep tables and journals,
//! checkpoints, theory output, network folders and the machine profile all go through here.
//!
//! - [`preflight`], before any long work: every output is a regular file or absent (a folder,
//!   FIFO, socket or device node is refused, `--force` or not); an existing one, or a symbolic
//!   link (dangling or not), is replaced only where the command allows it ([`Replace`]); no
//!   output names an input of the same command or another output (by name, through a
//!   symbolic link or as a hard link: [`crate::run::same_file`]); the output's folder is
//!   proved writable; temporaries a killed brunel left beside it are removed.
//! - [`Temp`]: a temporary file (or folder) beside the target, written, fsynced, renamed over
//!   the target (over a link itself, never through it), and the folder fsynced. Dropped before
//!   that, it is removed and the target stays as it was.
//! - Ownership: each temporary `.NAME.brunel-PID.XXXXXXXX.tmp[.EXT]` has a lock file
//!   `.NAME.brunel-PID.XXXXXXXX.lock` beside it, on which its writer holds an exclusive
//!   `flock` for its whole life. A later command removes a temporary whose lock it can take
//!   (its writer has ended, however: SIGKILL, a power cut) and leaves one whose lock is held.
//!   The lock, unlike a process id, means the same in every PID namespace and on every host
//!   of a shared file system. The lock is a file of its own because the HDF5 library takes
//!   `flock` locks on the files it writes.
//! - [`explain`]: a full disk, a quota or a file size limit (ENOSPC, EDQUOT, EFBIG, however
//!   deep inside the HDF5 library's message) is said in plain words.
//! - [`close_hdf5`] and [`check_hdf5`]: the HDF5 library reports a failed write of its caches
//!   only when flushed with no handle left open, so an HDF5 file is flushed, closed and opened
//!   again before it is renamed into place: a truncated file is never committed.

use std::fs::File;
use std::io::Write as _;
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::output::parent_dir;

/// What may happen to a file already at an output's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replace {
    /// Replaced only when the command's `--force` is given (the value).
    IfForced(bool),
    /// Replaced: figures, summaries, theory output and the profile, documented so.
    Always,
}

impl Replace {
    fn allowed(self) -> bool {
        match self {
            Replace::IfForced(force) => force,
            Replace::Always => true,
        }
    }
}

/// One output of a command, as [`preflight`] checks it.
#[derive(Debug, Clone, Copy)]
pub struct Output<'a> {
    /// What names it, for messages: `--out`, `the CSV`.
    pub what: &'a str,
    /// Where it will be written, as the command line gave it (a symbolic link there is
    /// replaced, never written through).
    pub path: &'a Path,
    /// Whether a file already there may be replaced.
    pub replace: Replace,
}

impl<'a> Output<'a> {
    /// The output `path`, named `what` in messages, replaced as `replace` allows.
    pub fn new(what: &'a str, path: &'a Path, replace: Replace) -> Output<'a> {
        Output {
            what,
            path,
            replace,
        }
    }
}

/// What kind of thing a path is, in words (`a FIFO`, `a folder`, `a regular file`).
pub fn kind(t: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_dir() {
        "a folder"
    } else if t.is_symlink() {
        "a symbolic link"
    } else if t.is_file() {
        "a regular file"
    } else {
        "another kind of file"
    }
}

/// Refuses a path that by its form names a folder: one ending in `/` (`newdir/`, whose
/// parent would otherwise be taken for `.` and the name for `newdir`) or in `.` or `..`, and
/// the empty path. Checked before any work: the rename onto such a path would fail only at
/// the end.
pub fn names_a_file(path: &Path) -> Result<()> {
    use std::os::unix::ffi::OsStrExt as _;
    let bytes = path.as_os_str().as_bytes();
    if bytes.is_empty() {
        bail!("an empty path names no file");
    }
    let last = bytes.rsplit(|&b| b == b'/').next().unwrap_or_default();
    let ending = if bytes.ends_with(b"/") {
        "`/`"
    } else if last == b"." || last == b".." {
        "`.` or `..`"
    } else {
        return Ok(());
    };
    bail!(
        "{} names a folder (it ends in {ending}); brunel writes a file: give the file's name",
        path.display()
    )
}

/// Refuses what may not be at an output's path: anything but a regular file (or a symbolic
/// link to one, or a dangling one), and an existing file or link that `replace` does not let
/// go.
pub fn check_output(path: &Path, replace: Replace) -> Result<()> {
    names_a_file(path)?;
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot examine {}", path.display())),
    };
    if meta.file_type().is_symlink() {
        let to = std::fs::read_link(path).unwrap_or_default();
        match std::fs::metadata(path) {
            Ok(m) if !m.is_file() => bail!(
                "{} is a symbolic link to {} ({}); brunel writes only regular files",
                path.display(),
                to.display(),
                kind(m.file_type())
            ),
            Ok(_) if !replace.allowed() => bail!(
                "{} already exists (a symbolic link to {}); use --force to replace it (the link is replaced, never the file it names)",
                path.display(),
                to.display()
            ),
            Err(_) if !replace.allowed() => bail!(
                "{} already exists (a symbolic link to {}, which does not exist); use --force to replace the link",
                path.display(),
                to.display()
            ),
            _ => return Ok(()),
        }
    }
    if !meta.is_file() {
        bail!(
            "{} exists and is not a regular file ({}); brunel writes only regular files",
            path.display(),
            kind(meta.file_type())
        );
    }
    if !replace.allowed() {
        bail!(
            "{} already exists; use --force to replace it",
            path.display()
        );
    }
    Ok(())
}

/// Checks a command's outputs before any long work (see the module's documentation): each on
/// its own ([`check_output`]), none naming an input or another output, each folder writable;
/// removes the temporaries a killed brunel left beside them (saying so on stderr); refuses an
/// output another brunel command is writing now. The [`Claim`] returned tells later commands
/// that this one writes them: keep it until the command ends.
pub fn preflight(outputs: &[Output<'_>], inputs: &[(&str, &Path)]) -> Result<Claim> {
    for o in outputs {
        check_output(o.path, o.replace)?;
    }
    for (i, o) in outputs.iter().enumerate() {
        for (what, input) in inputs {
            if crate::run::same_file(o.path, input) {
                bail!(
                    "{what} and {} name the same file {}: brunel never writes over an input of the same command",
                    o.what,
                    o.path.display()
                );
            }
        }
        for other in &outputs[i + 1..] {
            if crate::run::same_file(o.path, other.path) {
                bail!(
                    "{} and {} name the same file {}",
                    o.what,
                    other.what,
                    other.path.display()
                );
            }
        }
    }
    let mut claim = Claim::default();
    for o in outputs {
        claim.join(probe(o.path)?);
    }
    Ok(claim)
}

/// Proves that a file can be made beside `target` (made and removed at once), removes the
/// temporaries a killed brunel left beside it, and claims it: refused if another brunel
/// command has claimed it and still runs (see [`Claim`]).
pub fn probe(target: &Path) -> Result<Claim> {
    drop(Temp::beside(target)?);
    // Only the rank that writes looks for others' claims (every rank probes). A job of several
    // ranks makes no claim of its own: its result stays in memory until the end, and its
    // launcher may kill every rank at once on a failure (SIGKILL), which would leave the claim
    // file behind.
    let writes = brunel_backends::parallel::writes();
    let ranks = brunel_backends::parallel::rank().map_or(1, |(_, ranks)| ranks);
    let claim = if writes && ranks == 1 {
        let dir = parent_dir(target);
        let (mut lock, _) = new_lock(target, &dir, ".claim")?;
        lock.slot = register_claim(&lock.path);
        Claim { locks: vec![lock] }
    } else {
        Claim::default()
    };
    let scan = scan_temps(target);
    for note in scan.notes {
        note!("note: {note}");
    }
    if writes {
        if let Some(pid) = scan.live_claims.first() {
            bail!(
                "{} is being written by another brunel command (process {pid}); wait for it to end, or write elsewhere",
                target.display()
            );
        }
    }
    Ok(claim)
}

/// A command's claim on the files it writes, from its preflight until it ends: a held `flock`
/// on a file `.NAME.brunel-PID.XXXXXXXX.claim` beside each. A command that finds a held claim
/// of another process on its own output (in whatever PID namespace, on whatever host of a
/// shared file system) is refused at once, before any work, instead of the two overwriting
/// each other's result (or the later refusing only at its end); a claim whose process has
/// ended (killed) is removed like any stale temporary. Claimed first and checked after, two
/// commands starting together cannot both pass. Dropped, the claim files are removed.
#[derive(Debug, Default)]
#[must_use = "a claim holds only while it is kept"]
pub struct Claim {
    locks: Vec<Lock>,
}

impl Claim {
    /// Adds `other`'s claims to these.
    pub fn join(&mut self, other: Claim) {
        self.locks.extend(other.locks);
    }
}

/// An exclusive `flock` held on a lock file for the life of a temporary; the file is removed
/// when dropped.
#[derive(Debug)]
struct Lock {
    path: PathBuf,
    /// The lock file's (device, inode): how a scan of its folder tells this process's own
    /// locks (held through another descriptor) from another process's.
    id: (u64, u64),
    /// A claim's slot in [`CLAIM_NAMES`], if it has one.
    slot: Option<usize>,
    _file: File,
}

/// How many claims a signal handler can remove ([`remove_claims_now`]).
const CLAIM_SLOTS: usize = 32;

/// The paths of this process's claim files (leaked C strings; null: a free slot), read by a
/// signal handler, which may neither lock nor allocate.
static CLAIM_NAMES: [std::sync::atomic::AtomicPtr<libc::c_char>; CLAIM_SLOTS] =
    [const { std::sync::atomic::AtomicPtr::new(std::ptr::null_mut()) }; CLAIM_SLOTS];

/// Gives the claim file `path` a slot in [`CLAIM_NAMES`] (none when all are taken: a signal
/// that ends the process at once then leaves that file, stale, for the next command).
fn register_claim(path: &Path) -> Option<usize> {
    use std::sync::atomic::Ordering;
    let name = c_path(path).ok()?.into_raw();
    for (slot, cell) in CLAIM_NAMES.iter().enumerate() {
        if cell
            .compare_exchange(
                std::ptr::null_mut(),
                name,
                Ordering::SeqCst,
                Ordering::SeqCst,
            )
            .is_ok()
        {
            return Some(slot);
        }
    }
    // SAFETY: `name` came from `into_raw` above and was stored nowhere.
    drop(unsafe { std::ffi::CString::from_raw(name) });
    None
}

/// Removes this process's claim files: for a signal handler about to end the process at once
/// (only `unlink`, async-signal-safe). The locks go with the process.
pub(crate) fn remove_claims_now() {
    for cell in &CLAIM_NAMES {
        let name = cell.load(std::sync::atomic::Ordering::SeqCst);
        if !name.is_null() {
            // SAFETY: a non-null slot holds a NUL-terminated path that is never freed.
            unsafe {
                libc::unlink(name);
            }
        }
    }
}

/// The (device, inode) of every lock file this process holds.
static OWN_LOCKS: std::sync::Mutex<Vec<(u64, u64)>> = std::sync::Mutex::new(Vec::new());

fn own_locks() -> std::sync::MutexGuard<'static, Vec<(u64, u64)>> {
    OWN_LOCKS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether `file` is a lock file this process holds.
fn is_own_lock(file: &File) -> bool {
    file.metadata()
        .is_ok_and(|m| own_locks().contains(&(m.dev(), m.ino())))
}

impl Drop for Lock {
    fn drop(&mut self) {
        if let Some(slot) = self.slot {
            // The path's string is left allocated (a few bytes): a signal handler may be
            // reading it right now.
            CLAIM_NAMES[slot].store(std::ptr::null_mut(), std::sync::atomic::Ordering::SeqCst);
        }
        let _ = std::fs::remove_file(&self.path);
        let mut own = own_locks();
        if let Some(at) = own.iter().position(|&id| id == self.id) {
            own.swap_remove(at);
        }
        // The lock goes with the file descriptor, after the name.
    }
}

/// Takes `file`'s exclusive lock without waiting: `false` when another holds it.
fn try_lock(file: &File) -> bool {
    use std::os::fd::AsRawFd as _;
    // SAFETY: flock only acts on the descriptor it is given.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

/// Whether `path` still names the file open as `file`.
fn still_named(path: &Path, file: &File) -> bool {
    match (std::fs::symlink_metadata(path), file.metadata()) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// The longest file name (bytes) most file systems take (NAME_MAX).
pub const NAME_MAX: usize = 255;

/// The longest extension a temporary keeps (`.tmp.EXT`); a longer one is left out.
const MAX_TEMP_EXT: usize = 16;

/// The extension a temporary of `target` ends in, if it keeps one.
fn temp_ext(target: &Path) -> Option<String> {
    target
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .filter(|e| e.len() <= MAX_TEMP_EXT)
}

/// `name` itself when it is at most `max` bytes, else its start and a hash of the whole
/// (`START~HHHHHHHHHHHHHHHH`, `max` bytes at most): the same for the same name in every
/// process, so that a later command finds what an earlier one left.
pub fn fit_name(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_owned();
    }
    // FNV-1a, 64 bits: stable across builds and versions.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let mut keep = max.saturating_sub(17);
    while !name.is_char_boundary(keep) {
        keep -= 1;
    }
    format!("{}~{hash:016x}", &name[..keep])
}

/// The part of `target`'s temporaries' names that names it: its file name, shortened
/// ([`fit_name`]) where the longest of them, `.NAME.brunel-PID.XXXXXXXX.tmp.EXT` or `.claim`
/// with a process id of 10 digits, would be longer than [`NAME_MAX`].
fn temp_name_part(target: &Path) -> String {
    let name = target
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tail = temp_ext(target).map_or(0, |e| ".tmp.".len() + e.len());
    let overhead = ".".len() + ".brunel-".len() + 10 + ".".len() + 8 + tail.max(".claim".len());
    fit_name(&name, NAME_MAX - overhead)
}

/// `.NAME.brunel-PID.`: how every temporary of `target` starts.
fn temp_prefix(target: &Path) -> String {
    format!(".{}.brunel-{}.", temp_name_part(target), std::process::id())
}

/// A new lock file beside `target`, locked: `.NAME.brunel-PID.XXXXXXXX.lock` (`suffix`), and
/// the stem its temporary shares.
fn new_lock(target: &Path, dir: &Path, suffix: &str) -> Result<(Lock, String)> {
    let cannot = |e: std::io::Error| {
        explain(
            target,
            anyhow::Error::new(e).context(format!("cannot write {}", target.display())),
        )
    };
    for _ in 0..100 {
        let made = tempfile::Builder::new()
            .prefix(&temp_prefix(target))
            .suffix(suffix)
            .rand_bytes(8)
            .tempfile_in(dir)
            .map_err(cannot)?;
        let (file, path) = made.keep().map_err(|e| cannot(e.error))?;
        // A later command that found this file before it was locked may have judged it stale
        // and removed it: then it is not ours any more, and another name is tried.
        if try_lock(&file) && still_named(&path, &file) {
            let name = path
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let stem = name.strip_suffix(suffix).unwrap_or(&name).to_owned();
            let id = file.metadata().map_or((0, 0), |m| (m.dev(), m.ino()));
            own_locks().push(id);
            return Ok((
                Lock {
                    path,
                    id,
                    slot: None,
                    _file: file,
                },
                stem,
            ));
        }
    }
    bail!(
        "cannot write {}: no temporary file beside it could be locked",
        target.display()
    )
}

/// A temporary file (or folder) beside a target, owned by this process through its lock;
/// removed when dropped before [`Temp::commit`].
#[derive(Debug)]
pub struct Temp {
    target: PathBuf,
    path: PathBuf,
    file: Option<File>,
    folder: bool,
    committed: bool,
    /// Dropped after the temporary is removed (fields drop in order, after `Drop::drop`).
    _lock: Lock,
}

impl Temp {
    /// A new empty temporary file beside `target`: `.NAME.brunel-PID.XXXXXXXX.tmp.EXT`
    /// (ending like the target, for writers that pick the format from the extension), mode
    /// 0666 less the umask.
    pub fn beside(target: &Path) -> Result<Temp> {
        Temp::make(target, false)
    }

    /// A new empty temporary folder beside `target`: `.NAME.brunel-PID.XXXXXXXX.tmp`.
    pub fn folder_beside(target: &Path) -> Result<Temp> {
        Temp::make(target, true)
    }

    fn make(target: &Path, folder: bool) -> Result<Temp> {
        let dir = parent_dir(target);
        if !dir.is_dir() {
            bail!(
                "cannot write {}: the folder {} does not exist",
                target.display(),
                dir.display()
            );
        }
        let (lock, stem) = new_lock(target, &dir, ".lock")?;
        let name = match (folder, temp_ext(target)) {
            (false, Some(ext)) => format!("{stem}.tmp.{ext}"),
            _ => format!("{stem}.tmp"),
        };
        let path = dir.join(name);
        let cannot = |e: std::io::Error| {
            explain(
                target,
                anyhow::Error::new(e).context(format!("cannot write {}", target.display())),
            )
        };
        let file = if folder {
            std::fs::create_dir(&path).map_err(cannot)?;
            None
        } else {
            Some(
                std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o666)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&path)
                    .map_err(cannot)?,
            )
        };
        Ok(Temp {
            target: target.to_owned(),
            path,
            file,
            folder,
            committed: false,
            _lock: lock,
        })
    }

    /// The temporary's path, for writers that open it themselves (HDF5, PNG).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The target it will replace.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Appends `bytes` to the temporary file.
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        let target = self.target.clone();
        let file = match &mut self.file {
            Some(f) => f,
            None => bail!("{} is a folder", self.path.display()),
        };
        file.write_all(bytes)
            .map_err(|e| write_error(&target, e.into()))
    }

    /// Makes the temporary the target: fsynced, renamed over what is there (an existing file or
    /// link only where `replace` allows), and the folder fsynced. A file or link that appeared
    /// at the target since [`preflight`] is refused the same way. (A signal received does not
    /// stop it: a run checkpoints on SIGTERM; writers that stop on one check before.)
    pub fn commit(mut self, replace: Replace) -> Result<()> {
        let target = self.target.clone();
        self.sync().map_err(|e| write_error(&target, e))?;
        if !self.folder {
            check_output(&target, replace)?;
        }
        let renamed = if replace.allowed() {
            std::fs::rename(&self.path, &target)
        } else {
            rename_noreplace(&self.path, &target)
        };
        renamed.map_err(|e| {
            let exists = e.kind() == std::io::ErrorKind::AlreadyExists;
            let e = anyhow::Error::new(e).context(format!("cannot write {}", target.display()));
            if exists {
                e.context("it appeared while brunel was writing; use --force to replace it")
            } else {
                explain(&target, e)
            }
        })?;
        self.committed = true;
        sync_folder(&parent_dir(&target));
        Ok(())
    }

    /// fsyncs the temporary (every file of a temporary folder, then the folder).
    fn sync(&mut self) -> Result<()> {
        if let Some(f) = &self.file {
            f.sync_all()?;
        }
        if self.folder {
            for entry in std::fs::read_dir(&self.path)? {
                let entry = entry?;
                if entry.file_type()?.is_file() {
                    File::open(entry.path())?.sync_all()?;
                }
            }
            sync_folder(&self.path);
        } else {
            // What another writer (HDF5, PNG) wrote through its own descriptor.
            File::open(&self.path)?.sync_all()?;
        }
        Ok(())
    }

    /// Exchanges a complete temporary folder with the existing folder `target` (atomically
    /// where the file system can), then removes the old folder's `known` files and the folder
    /// itself; anything else found there is left, with a note. `target` must have been
    /// checked to hold only `known` files.
    pub fn commit_over_folder(mut self, known: &[&str]) -> Result<()> {
        crate::interrupt::check()?;
        let target = self.target.clone();
        self.sync().map_err(|e| write_error(&target, e))?;
        let cannot = |e: std::io::Error| {
            explain(
                &target,
                anyhow::Error::new(e).context(format!("cannot replace {}", target.display())),
            )
        };
        // After the exchange the old folder is at the temporary's name, still under its lock.
        if let Err(e) = rename_exchange(&self.path, &target) {
            if !matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS)) {
                return Err(cannot(e));
            }
            // No exchange on this file system: the old folder is moved aside first.
            let aside = self.path.with_extension("old");
            std::fs::rename(&target, &aside).map_err(cannot)?;
            if let Err(e) = std::fs::rename(&self.path, &target) {
                let _ = std::fs::rename(&aside, &target);
                return Err(cannot(e));
            }
            let _ = std::fs::rename(&aside, &self.path);
        }
        self.committed = true;
        sync_folder(&parent_dir(&target));
        for name in known {
            let _ = std::fs::remove_file(self.path.join(name));
        }
        if std::fs::remove_dir(&self.path).is_err() {
            note!(
                "note: the old {} is kept as {}: it held files brunel did not write",
                target.display(),
                self.path.display()
            );
        }
        Ok(())
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        if self.folder {
            let _ = std::fs::remove_dir_all(&self.path);
        } else {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// fsyncs a folder, so that a rename in it lasts; file systems that cannot are let be.
fn sync_folder(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

fn c_path(p: &Path) -> std::io::Result<std::ffi::CString> {
    use std::os::unix::ffi::OsStrExt as _;
    std::ffi::CString::new(p.as_os_str().as_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
}

/// `renameat2` with `flags` (Linux), else `ENOSYS`.
fn renameat2(from: &Path, to: &Path, flags: libc::c_uint) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        let (a, b) = (c_path(from)?, c_path(to)?);
        // SAFETY: both paths are NUL-terminated and outlive the call.
        let r = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                a.as_ptr(),
                libc::AT_FDCWD,
                b.as_ptr(),
                flags,
            )
        };
        if r == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (from, to, flags);
        Err(std::io::Error::from_raw_os_error(libc::ENOSYS))
    }
}

/// Renames `from` to `to` unless something (a file, a link, even a dangling one) is there.
fn rename_noreplace(from: &Path, to: &Path) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    let flag = libc::RENAME_NOREPLACE;
    #[cfg(not(target_os = "linux"))]
    let flag = 0;
    match renameat2(from, to, flag) {
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS)) => {
            // A file system without it: a hard link fails on anything at `to`.
            std::fs::hard_link(from, to)?;
            std::fs::remove_file(from)
        }
        r => r,
    }
}

fn rename_exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    let flag = libc::RENAME_EXCHANGE;
    #[cfg(not(target_os = "linux"))]
    let flag = 0;
    renameat2(a, b, flag)
}

/// Writes `bytes` to `target` through a [`Temp`], committed with `replace`.
pub fn write_bytes(target: &Path, bytes: &[u8], replace: Replace) -> Result<()> {
    let mut tmp = Temp::beside(target)?;
    tmp.write_all(bytes)?;
    tmp.commit(replace)
}

/// The error of a failed write to (the temporary of) `target`, in plain words where it is a
/// full disk, a quota or a size limit.
fn write_error(target: &Path, e: anyhow::Error) -> anyhow::Error {
    explain(
        target,
        e.context(format!("cannot write {}", target.display())),
    )
}

/// The operating system's error number an error carries: an `io::Error` in its chain, or
/// `errno = N` / `(os error N)` in its text (the HDF5 library's messages).
fn errno_of(e: &anyhow::Error) -> Option<i32> {
    for cause in e.chain() {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            if let Some(n) = io.raw_os_error() {
                return Some(n);
            }
        }
        let mut texts = vec![cause.to_string()];
        if let Some(h) = cause.downcast_ref::<hdf5::Error>() {
            if let Some(stack) = h.stack() {
                texts.extend(stack.iter().map(|f| f.desc().to_owned()));
            }
        }
        for text in texts {
            for key in ["errno = ", "(os error "] {
                if let Some(at) = text.find(key) {
                    let digits: String = text[at + key.len()..]
                        .chars()
                        .take_while(char::is_ascii_digit)
                        .collect();
                    if let Ok(n) = digits.parse() {
                        return Some(n);
                    }
                }
            }
        }
    }
    None
}

/// `e`, a failed write of `target`, said in plain words when it is a full disk (ENOSPC), an
/// exhausted quota (EDQUOT) or a file size limit (EFBIG); any other error as it is.
pub fn explain(target: &Path, e: anyhow::Error) -> anyhow::Error {
    let dir = parent_dir(target);
    let what = match errno_of(&e) {
        Some(libc::ENOSPC) => format!("no space left on the device holding {}", dir.display()),
        Some(libc::EDQUOT) => format!(
            "the disk quota is exhausted on the device holding {}",
            dir.display()
        ),
        Some(libc::EFBIG) => {
            "file too large (beyond the file size limit, `ulimit -f`, or the file system's)"
                .to_owned()
        }
        _ => return e,
    };
    let kept = if std::fs::symlink_metadata(target).is_ok() {
        format!("; {} is kept as it was", target.display())
    } else {
        String::new()
    };
    anyhow::anyhow!("cannot write {}: {what}{kept}", target.display())
}

/// Flushes and closes an HDF5 file being written, reporting what the library failed to write:
/// it reports a failed write of its caches only when flushed, and closes the file for good only
/// when no group, dataset or attribute of it is open any more (the caller drops them first).
pub fn close_hdf5(file: hdf5::File) -> Result<()> {
    file.flush()?;
    file.close()?;
    Ok(())
}

/// Checks that the closed HDF5 file at `path` (the temporary of `target`) is complete: fsynced
/// and opened again, so that a file truncated by a full disk is never renamed into place.
/// `check` reads back what the caller wants to see (e.g. the sizes of its datasets).
pub fn check_hdf5(
    target: &Path,
    path: &Path,
    check: impl FnOnce(&hdf5::File) -> Result<()>,
) -> Result<()> {
    let inner = || -> Result<()> {
        File::open(path)?.sync_all()?;
        // Without HDF5's own `flock`: a child process started meanwhile (by another thread)
        // may still hold the writer's descriptor, and with it the writer's lock.
        let file = hdf5::File::with_options()
            .with_fapl(|p| p.file_locking(false))
            .open(path)?;
        check(&file)
    };
    inner().map_err(|e| {
        let e = explain(target, e);
        if e.to_string().starts_with("cannot write") {
            return e;
        }
        // A write the library did not report: say what is most likely.
        let full = free_bytes(&parent_dir(target)).is_some_and(|free| free < 1 << 20);
        let why = if full {
            format!(
                "no space left on the device holding {}",
                parent_dir(target).display()
            )
        } else {
            "the file written is incomplete".to_owned()
        };
        let kept = if std::fs::symlink_metadata(target).is_ok() {
            format!("; {} is kept as it was", target.display())
        } else {
            String::new()
        };
        e.context(format!("cannot write {}: {why}{kept}", target.display()))
    })
}

/// Bytes free to this user on the device holding `dir`.
fn free_bytes(dir: &Path) -> Option<u64> {
    let c = c_path(dir).ok()?;
    // SAFETY: statvfs writes the struct it is given; the path is NUL-terminated.
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
        return None;
    }
    Some(s.f_bavail as u64 * s.f_frsize as u64)
}

/// Whether process `pid` is running (in this PID namespace): the judge of temporaries an
/// older brunel left without a lock file.
fn alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill with signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// Removes the temporaries of `target` that an ended brunel left behind (killed, or a power
/// cut): `.NAME.brunel-PID.XXXXXXXX.tmp*` (files, or folders of `brunel network`) whose lock
/// file `.NAME.brunel-PID.XXXXXXXX.lock` nobody holds, and the lock files. A temporary without
/// a lock file (an older brunel's) is removed when its process no longer runs. Returns what it
/// removed (and what it could not, as notes). Claims ([`Claim`]) of ended commands go too,
/// without a note (they hold nothing).
pub fn remove_stale_temps(target: &Path) -> Vec<String> {
    scan_temps(target).notes
}

/// What [`scan_temps`] found beside a target.
struct Scan {
    /// What it removed (and what it could not).
    notes: Vec<String>,
    /// The process ids of the live claims of another process on the target.
    live_claims: Vec<u32>,
}

/// [`remove_stale_temps`], also listing the claims on `target` that another process holds.
fn scan_temps(target: &Path) -> Scan {
    let dir = parent_dir(target);
    let start = format!(".{}.brunel-", temp_name_part(target));
    let mut scan = Scan {
        notes: Vec::new(),
        live_claims: Vec::new(),
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return scan;
    };
    // By stem `.NAME.brunel-PID.XXXXXXXX`: its temporaries and whether a lock file was seen.
    let mut stems: std::collections::BTreeMap<String, (u32, Vec<PathBuf>)> = Default::default();
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file.strip_prefix(&start) else {
            continue;
        };
        let Some((pid, tail)) = rest.split_once('.') else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        let Some((random, kind)) = tail.split_once('.') else {
            continue;
        };
        if kind == "claim" {
            let path = entry.path();
            let Ok(file) = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&path)
            else {
                continue;
            };
            if is_own_lock(&file) {
                continue;
            }
            if !try_lock(&file) {
                // Held: a command that writes the target runs.
                scan.live_claims.push(pid);
            } else if still_named(&path, &file) {
                let _ = std::fs::remove_file(&path);
            }
            continue;
        }
        let stem = format!("{start}{pid}.{random}");
        let slot = stems.entry(stem).or_insert((pid, Vec::new()));
        if kind == "tmp" || kind.starts_with("tmp.") || kind == "old" {
            slot.1.push(entry.path());
        }
    }
    let notes = &mut scan.notes;
    for (stem, (pid, temps)) in stems {
        let lock_path = dir.join(format!("{stem}.lock"));
        let lock = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&lock_path);
        let _held_here = match lock {
            Ok(file) => {
                // Held: its writer runs (in whatever PID namespace, on whatever host).
                if !try_lock(&file) || !still_named(&lock_path, &file) {
                    continue;
                }
                Some(file)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // No lock file: an older brunel's temporary, or one its writer has just renamed
                // into place (and then it is gone).
                if pid == std::process::id() || alive(pid) {
                    continue;
                }
                None
            }
            Err(_) => continue,
        };
        for path in temps {
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let removed = if meta.is_dir() {
                std::fs::remove_dir_all(&path)
            } else if meta.is_file() {
                std::fs::remove_file(&path)
            } else {
                continue;
            };
            notes.push(match removed {
                Ok(()) => format!(
                    "removed {}, a temporary file left by brunel process {pid}, which has ended",
                    path.display()
                ),
                Err(e) => format!(
                    "cannot remove {}, a temporary file left by brunel process {pid}: {e}",
                    path.display()
                ),
            });
        }
        let _ = std::fs::remove_file(&lock_path);
    }
    scan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_keeps_its_temporary_and_a_free_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("r.h5");
        let held = Temp::beside(&target).unwrap();
        assert!(remove_stale_temps(&target).is_empty());
        assert!(held.path().exists());
        // A writer that ended without cleaning up: its temporary and a lock file nobody holds;
        // and an older brunel's temporary without a lock file, of a process that is gone.
        let count = || std::fs::read_dir(dir.path()).unwrap().count();
        let stem = ".r.h5.brunel-4000000000.abcdefgh";
        std::fs::write(dir.path().join(format!("{stem}.lock")), "").unwrap();
        std::fs::write(dir.path().join(format!("{stem}.tmp.h5")), "x").unwrap();
        std::fs::write(
            dir.path().join(".r.h5.brunel-4000000001.ABCDEF.tmp.h5"),
            "x",
        )
        .unwrap();
        assert_eq!(count(), 5);
        let notes = remove_stale_temps(&target);
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(held.path().exists());
        assert_eq!(count(), 2);
        drop(held);
        assert_eq!(count(), 0);
    }

    #[test]
    fn temporaries_of_the_longest_names_fit_and_are_found_again() {
        let dir = tempfile::tempdir().unwrap();
        // 255 bytes, the longest name; and 254 with a long extension, in 2-byte characters.
        let long = format!("{}.h5", "c".repeat(252));
        let wide = format!("{}.{}", "é".repeat(100), "x".repeat(53));
        for name in [long.as_str(), wide.as_str()] {
            assert!(name.len() <= NAME_MAX);
            let target = dir.path().join(name);
            let claim = probe(&target).unwrap();
            let mut tmp = Temp::beside(&target).unwrap();
            for entry in std::fs::read_dir(dir.path()).unwrap() {
                let n = entry.unwrap().file_name();
                assert!(n.len() <= NAME_MAX, "{} bytes", n.len());
            }
            // Another process's claim and temporary of the same target, ended: found and
            // removed by the stem the name shortened gives.
            let stem = format!(".{}.brunel-4000000000.abcdefgh", temp_name_part(&target));
            std::fs::write(dir.path().join(format!("{stem}.lock")), "").unwrap();
            std::fs::write(dir.path().join(format!("{stem}.tmp")), "x").unwrap();
            std::fs::write(dir.path().join(format!("{stem}.claim")), "").unwrap();
            let notes = remove_stale_temps(&target);
            assert_eq!(notes.len(), 1, "{notes:?}");
            tmp.write_all(b"done").unwrap();
            tmp.commit(Replace::Always).unwrap();
            drop(claim);
            assert_eq!(std::fs::read(&target).unwrap(), b"done");
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
            std::fs::remove_file(&target).unwrap();
        }
        // Names that fit are kept whole, and the shortening is the same each time.
        assert_eq!(fit_name("r.h5", 10), "r.h5");
        let a = fit_name(&long, 200);
        assert_eq!(a.len(), 200);
        assert_eq!(a, fit_name(&long, 200));
        assert_ne!(a, fit_name(&format!("{}.h6", "c".repeat(252)), 200));
    }

    #[test]
    fn a_live_claim_refuses_another_writer_and_an_ended_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("r.h5");
        // This process's own claim never refuses it.
        let mine = probe(&target).unwrap();
        let again = probe(&target).unwrap();
        drop((mine, again));
        // Another process's claim: a lock file it holds (here, a child's flock).
        let stem = ".r.h5.brunel-4000000000.abcdefgh";
        let claim = dir.path().join(format!("{stem}.claim"));
        std::fs::write(&claim, "").unwrap();
        let mut holder = std::process::Command::new("sh")
            .args(["-c", "exec 9<>\"$0\" && flock -n 9 && exec sleep 30"])
            .arg(&claim)
            .spawn()
            .unwrap();
        let start = std::time::Instant::now();
        while try_lock(&File::open(&claim).unwrap()) {
            assert!(
                start.elapsed().as_secs() < 10,
                "the child never took the lock"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let e = probe(&target).unwrap_err().to_string();
        assert!(
            e.contains("is being written by another brunel command (process 4000000000)"),
            "{e}"
        );
        // Refused, it left no claim of its own.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        holder.kill().unwrap();
        holder.wait().unwrap();
        // Ended: the claim is stale, removed, and the target free.
        drop(probe(&target).unwrap());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn commit_replaces_a_link_and_never_writes_through_it() {
        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("other.txt");
        std::fs::write(&other, "keep").unwrap();
        let target = dir.path().join("t.txt");
        std::os::unix::fs::symlink(&other, &target).unwrap();
        assert!(write_bytes(&target, b"new", Replace::IfForced(false)).is_err());
        write_bytes(&target, b"new", Replace::IfForced(true)).unwrap();
        assert_eq!(std::fs::read_to_string(&other).unwrap(), "keep");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        assert!(!std::fs::symlink_metadata(&target)
            .unwrap()
            .file_type()
            .is_symlink());
        let hard = dir.path().join("hard.txt");
        std::fs::hard_link(&other, &hard).unwrap();
        write_bytes(&hard, b"new", Replace::Always).unwrap();
        assert_eq!(std::fs::read_to_string(&other).unwrap(), "keep");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
    }

    #[test]
    fn errors_are_said_in_plain_words() {
        let e = anyhow::anyhow!("H5Dwrite(): file write failed: errno = 28, error message = 'No space left on device', bytes actually written = 18446744073709551615");
        let m = explain(Path::new("d/x.h5"), e).to_string();
        assert_eq!(
            m,
            "cannot write d/x.h5: no space left on the device holding d"
        );
        let e = anyhow::Error::new(std::io::Error::from_raw_os_error(libc::EFBIG));
        assert!(explain(Path::new("x"), e)
            .to_string()
            .contains("file too large"));
        let e = anyhow::anyhow!("something else");
        assert_eq!(explain(Path::new("x"), e).to_string(), "something else");
    }
}
