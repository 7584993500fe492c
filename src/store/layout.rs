//! The content-addressed store beside a pipeline file, like DVC's cache: `.ssdlt/v1/`.
//!
//! ```text
//! .ssdlt/v1/
//!   stages/<fingerprint>/     a finished stage's files + outputs.json (checksums, report, why)
//!   tmp/<fingerprint>-<pid>/  where a running stage writes; renamed into stages/ when it is done
//!   resume/<fingerprint>/     epoch checkpoints of an unfinished stage (deleted once it succeeds)
//!   cache/                    per-sample caches owned by the stages (soft labels, predictions)
//!   pipelines/<name>/         state.json (last run: stage -> fingerprint) and the manifests
//!   runs/<timestamp>.json     one record per `ssdlt run`
//!   run.lock                  the pid of the run writing to the store, while it runs
//! ```
//!
//! A stage's output is only ever visible complete: the stage writes into a fresh `tmp/` folder,
//! [`Store::commit`] checksums every file into `outputs.json`, fsyncs and renames the folder.
//! [`Store::verify`] re-hashes the files before a stored output is used, so a corrupted or
//! truncated file is reported and recomputed, never silently read.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::atomic::sync_dir;
use crate::error::{Error, Result};
use crate::runner::fingerprint::Ingredients;
use crate::stages::StageReport;

/// The layout version: the folder name under `.ssdlt/`. Bumping it leaves old stores unread.
pub const STORE_VERSION: &str = "v1";
/// Version of the `outputs.json` record inside a stored stage folder.
pub const OUTPUTS_FORMAT: u32 = 1;
/// The record written beside a stage's files.
pub const OUTPUTS_FILE: &str = "outputs.json";

/// One file of a stored output, relative to its folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredFile {
    /// Path relative to the stage folder, `/`-separated.
    pub path: String,
    pub size: u64,
    /// blake3 of the contents, hex.
    pub blake3: String,
}

/// `outputs.json`: what a stored stage folder holds and how it was made.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputRecord {
    pub format: u32,
    pub stage: String,
    pub kind: String,
    pub fingerprint: String,
    pub ingredients: Ingredients,
    pub files: Vec<StoredFile>,
    pub report: StageReport,
    /// Seconds the stage ran (this attempt; a resumed stage counts only the resumed part).
    pub wall_s: f64,
    pub ssdlt_version: String,
    /// Unix seconds when it was stored.
    pub finished_at: u64,
}

/// What [`Store::verify`] found under a fingerprint.
#[derive(Debug)]
pub enum Verified {
    /// Nothing stored.
    Missing,
    /// Every listed file present with its size and checksum.
    Intact(Box<OutputRecord>),
    /// Something is wrong; the reason names the file (`model.safetensors checksum mismatch`).
    Corrupt(String),
}

/// A folder a stage is writing into, not yet in the store.
#[derive(Debug)]
pub struct PendingOutput {
    pub fingerprint: String,
    pub dir: PathBuf,
}

/// The `.ssdlt/v1` folder of one pipeline file's directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// The store beside `pipeline_file`: `<its folder>/.ssdlt/v1`. Nothing is created yet.
    pub fn beside(pipeline_file: &Path) -> Store {
        let dir = pipeline_file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        Store { root: dir.join(".ssdlt").join(STORE_VERSION) }
    }

    /// A store rooted at `root` (the `v1` folder itself).
    pub fn at(root: impl Into<PathBuf>) -> Store {
        Store { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn stage_dir(&self, fingerprint: &str) -> PathBuf {
        self.root.join("stages").join(fingerprint)
    }

    pub fn resume_dir(&self, fingerprint: &str) -> PathBuf {
        self.root.join("resume").join(fingerprint)
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.root.join("cache")
    }

    pub fn pipeline_dir(&self, pipeline: &str) -> PathBuf {
        self.root.join("pipelines").join(file_safe(pipeline))
    }

    pub fn runs_dir(&self) -> PathBuf {
        self.root.join("runs")
    }

    fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// A fresh, empty folder for a stage with `fingerprint` to write into. Leftovers of earlier
    /// attempts at the same fingerprint (a killed run) are removed first; its resume folder is not
    /// touched.
    pub fn begin(&self, fingerprint: &str) -> Result<PendingOutput> {
        let tmp = self.tmp_dir();
        create_dir_all(&tmp)?;
        let prefix = format!("{fingerprint}-");
        for entry in fs::read_dir(&tmp).map_err(|e| Error::io(&tmp, e))? {
            let entry = entry.map_err(|e| Error::io(&tmp, e))?;
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                remove_all(&entry.path())?;
            }
        }
        let dir = tmp.join(format!("{fingerprint}-{}", std::process::id()));
        create_dir_all(&dir)?;
        Ok(PendingOutput { fingerprint: fingerprint.to_string(), dir })
    }

    /// Checksums every file the stage wrote, writes `outputs.json`, fsyncs and renames the folder
    /// to `stages/<fingerprint>` (replacing a corrupt one there). Returns the record.
    pub fn commit(
        &self,
        pending: PendingOutput,
        stage: &str,
        ingredients: &Ingredients,
        report: &StageReport,
        wall_s: f64,
    ) -> Result<OutputRecord> {
        let files = list_files(&pending.dir)?;
        if files.iter().any(|f| f.path == OUTPUTS_FILE) {
            return Err(Error::Store {
                path: pending.dir.join(OUTPUTS_FILE),
                message: format!("stage `{stage}` wrote a file named {OUTPUTS_FILE}, which the store reserves"),
                fix: "rename the stage's file".into(),
            });
        }
        let record = OutputRecord {
            format: OUTPUTS_FORMAT,
            stage: stage.to_string(),
            kind: ingredients.kind.clone(),
            fingerprint: pending.fingerprint.clone(),
            ingredients: ingredients.clone(),
            files,
            report: report.clone(),
            wall_s,
            ssdlt_version: env!("CARGO_PKG_VERSION").to_string(),
            finished_at: unix_now(),
        };
        let json = serde_json::to_vec_pretty(&record).expect("an output record always serializes");
        write_synced(&pending.dir.join(OUTPUTS_FILE), &json)?;
        sync_dir(&pending.dir)?;
        let target = self.stage_dir(&pending.fingerprint);
        let stages = self.root.join("stages");
        create_dir_all(&stages)?;
        if target.exists() {
            // A corrupt or forced-over output: move it aside first so the rename is atomic.
            let aside = self.tmp_dir().join(format!("{}-replaced-{}", pending.fingerprint, std::process::id()));
            fs::rename(&target, &aside).map_err(|e| Error::io(&target, e))?;
            remove_all(&aside)?;
        }
        fs::rename(&pending.dir, &target).map_err(|e| Error::io(&target, e))?;
        sync_dir(&stages)?;
        Ok(record)
    }

    /// Drops a pending folder (the stage failed).
    pub fn abandon(&self, pending: PendingOutput) -> Result<()> {
        remove_all(&pending.dir)
    }

    /// Reads `outputs.json` under `fingerprint` and re-hashes every file it lists.
    pub fn verify(&self, fingerprint: &str) -> Verified {
        let dir = self.stage_dir(fingerprint);
        if !dir.exists() {
            return Verified::Missing;
        }
        let record = match read_record(&dir) {
            Ok(r) => r,
            Err(reason) => return Verified::Corrupt(reason),
        };
        if record.fingerprint != fingerprint {
            return Verified::Corrupt(format!("{OUTPUTS_FILE} is for fingerprint {}", short(&record.fingerprint)));
        }
        for file in &record.files {
            let path = dir.join(&file.path);
            let meta = match fs::metadata(&path) {
                Ok(m) => m,
                Err(_) => return Verified::Corrupt(format!("{} is missing", file.path)),
            };
            if meta.len() != file.size {
                return Verified::Corrupt(format!("{} has {} bytes, {} were stored", file.path, meta.len(), file.size));
            }
            match hash_file(&path) {
                Ok(h) if h == file.blake3 => {}
                Ok(_) => return Verified::Corrupt(format!("{} checksum mismatch", file.path)),
                Err(e) => return Verified::Corrupt(format!("{} unreadable: {e}", file.path)),
            }
        }
        Verified::Intact(Box::new(record))
    }

    /// The record under `fingerprint` without re-hashing (for `plan`'s explanations).
    pub fn record(&self, fingerprint: &str) -> Option<OutputRecord> {
        read_record(&self.stage_dir(fingerprint)).ok()
    }

    /// Removes the resume folder of a stage that finished.
    pub fn clear_resume(&self, fingerprint: &str) -> Result<()> {
        let dir = self.resume_dir(fingerprint);
        if dir.exists() {
            remove_all(&dir)?;
        }
        Ok(())
    }
}

/// Held while a run writes to a store: `run.lock` holding the owner's pid. Removed on drop; a
/// lock left by a killed run (its pid no longer alive) is taken over.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
}

impl Store {
    /// Takes the store's run lock, or fails naming the run that holds it.
    pub fn lock(&self) -> Result<RunLock> {
        create_dir_all(&self.root)?;
        let path = self.root.join("run.lock");
        let me = std::process::id();
        for _ in 0..2 {
            match fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    f.write_all(me.to_string().as_bytes()).map_err(|e| Error::io(&path, e))?;
                    return Ok(RunLock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let owner = fs::read_to_string(&path).ok().and_then(|t| t.trim().parse::<u32>().ok());
                    match owner {
                        Some(pid) if pid != me && process_alive(pid) => {
                            return Err(Error::Store {
                                path,
                                message: format!("another ssdlt run (pid {pid}) is writing to this store"),
                                fix: "wait for it to finish (or stop it); two runs of one store would race on the same stages".into(),
                            })
                        }
                        // Ours from an earlier call in this process, or left by a dead run.
                        _ => remove_file(&path)?,
                    }
                }
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
        Err(Error::Store { path, message: "could not take the run lock".into(), fix: "retry the run".into() })
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Nothing to do about a failure here: a stale lock is taken over by the next run.
        let _ = fs::remove_file(&self.path);
    }
}

/// Whether `pid` is a running process. Where `/proc` does not exist, a lock is assumed stale.
fn process_alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

fn remove_file(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, e)),
    }
}

fn read_record(dir: &Path) -> std::result::Result<OutputRecord, String> {
    let path = dir.join(OUTPUTS_FILE);
    let text = fs::read(&path).map_err(|_| format!("{OUTPUTS_FILE} is missing"))?;
    let record: OutputRecord =
        serde_json::from_slice(&text).map_err(|e| format!("{OUTPUTS_FILE} is unreadable ({e})"))?;
    if record.format != OUTPUTS_FORMAT {
        return Err(format!("{OUTPUTS_FILE} has format {} (this ssdlt writes {OUTPUTS_FORMAT})", record.format));
    }
    Ok(record)
}

/// The first 12 hex digits of a fingerprint, for messages.
pub fn short(fingerprint: &str) -> &str {
    fingerprint.get(..12).unwrap_or(fingerprint)
}

/// A pipeline name as a folder name: anything but `[A-Za-z0-9._-]` becomes `_`.
fn file_safe(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect()
}

/// Every regular file under `dir`, sorted by relative path, with size and blake3.
fn list_files(dir: &Path) -> Result<Vec<StoredFile>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).map_err(|e| Error::io(&d, e))? {
            let entry = entry.map_err(|e| Error::io(&d, e))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(|e| Error::io(&path, e))?;
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                let rel = path.strip_prefix(dir).expect("walked from dir");
                let rel = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
                let size = entry.metadata().map_err(|e| Error::io(&path, e))?.len();
                // Stages write with ordinary buffered I/O; make the bytes durable before the rename.
                fs::File::open(&path).and_then(|f| f.sync_all()).map_err(|e| Error::io(&path, e))?;
                out.push(StoredFile { path: rel, size, blake3: hash_file(&path).map_err(|e| Error::io(&path, e))? });
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// blake3 of a file's contents, hex.
pub fn hash_file(path: &Path) -> std::io::Result<String> {
    let mut hasher = blake3::Hasher::new();
    let mut file = fs::File::open(path)?;
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hasher.finalize().to_hex().to_string())
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = fs::File::create(path).map_err(|e| Error::io(path, e))?;
    f.write_all(bytes).and_then(|_| f.sync_all()).map_err(|e| Error::io(path, e))
}

pub(crate) fn create_dir_all(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))
}

fn remove_all(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(dir, e)),
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
