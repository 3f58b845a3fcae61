//! Build script: the git commit `buurt --version` shows.
//!
//! `BUURT_COMMIT` is set for the compiler to the commit of the checkout
//! (`git rev-parse --short=12 HEAD`), or to what the environment says in
//! `BUURT_COMMIT` (a package built from a tarball that knows its commit),
//! or to "unknown" when neither git nor a `.git` of this workspace is there
//! (a crates.io tarball). No `unwrap`: a build never fails for want of git.
//!
//! Cargo runs a build script again when a path it names with
//! `rerun-if-changed` changes, and on every build when such a path does not
//! exist. So the script names only paths that exist: itself, the `HEAD` of
//! the git directory, and the branch's ref (a loose ref file, else
//! `packed-refs` and the folder the loose file will be written to). Without git that leaves only this file, and a tarball
//! build runs the script once.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=BUURT_COMMIT");
    let given = std::env::var("BUURT_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty());
    let commit = match given {
        Some(c) => c.trim().to_owned(),
        None => from_git().unwrap_or_else(|| "unknown".into()),
    };
    println!("cargo:rustc-env=BUURT_COMMIT={commit}");
}

/// The commit of the checkout this crate is built in, naming the files
/// whose change means another commit. None outside a checkout of this
/// workspace (also when the crate was unpacked inside some other
/// repository, whose commit would be a lie).
fn from_git() -> Option<String> {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?);
    let workspace = manifest.parent()?.canonicalize().ok()?;
    let top = git(&manifest, &["rev-parse", "--show-toplevel"])?;
    if Path::new(&top).canonicalize().ok()? != workspace {
        return None;
    }
    let git_dir = PathBuf::from(git(&manifest, &["rev-parse", "--absolute-git-dir"])?);
    let common = git(&manifest, &["rev-parse", "--git-common-dir"])
        .map(|c| absolute(&manifest, &c))
        .unwrap_or_else(|| git_dir.clone());
    watch(&git_dir.join("HEAD"));
    // HEAD names a branch (`ref: refs/heads/main`) or holds a commit.
    if let Ok(head) = std::fs::read_to_string(git_dir.join("HEAD")) {
        if let Some(name) = head.trim().strip_prefix("ref: ") {
            // A packed branch has no loose file until its next commit
            // writes one into the folder, which is then watched instead.
            let loose = common.join(name);
            if !watch(&loose) {
                watch(&common.join("packed-refs"));
                if let Some(folder) = loose.parent() {
                    watch(folder);
                }
            }
        }
    }
    let commit = git(&manifest, &["rev-parse", "--short=12", "HEAD"])?;
    let ok = commit.len() >= 7 && commit.chars().all(|c| c.is_ascii_hexdigit());
    ok.then_some(commit)
}

/// `rerun-if-changed` for `path` if it exists; whether it does.
fn watch(path: &Path) -> bool {
    let exists = path.exists();
    if exists {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    exists
}

fn absolute(base: &Path, p: &str) -> PathBuf {
    let p = PathBuf::from(p);
    if p.is_absolute() {
        p
    } else {
        base.join(p)
    }
}

/// What `git ARGS` prints in `dir`, trimmed; None when git is missing or
/// fails.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?;
    Some(s.trim().to_owned())
}
