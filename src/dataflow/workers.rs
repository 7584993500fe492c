//! How many timely workers assemble batches, and where: timely's worker arguments as a clap
//! [`WorkerArgs`] struct that `ssdlt run` and `ssdlt data` flatten, and the [`StreamConfig`] the
//! batch stream runs with.
//!
//! `-w/--workers` threads in this process, `-n/--processes` processes, `-p/--process` this
//! process's index, `--hostfile` a file of `host:port` lines, one per process in process order
//! (default: `localhost:2101`, `localhost:2102`, ...). Timely spells the hostfile `-h`; clap keeps
//! `-h` for `--help`, so ssdlt takes only the long `--hostfile`. With `W` workers per process and
//! `N` processes, global worker `g = p * W + i` assembles batches `b` with `b % (N * W) == g`,
//! so every sample of an epoch is assembled by exactly one worker; each process's consumer gets
//! the batches of its own workers, in batch order.

use std::path::PathBuf;
use std::sync::RwLock;

use crate::error::{Error, Result};

/// Timely's worker arguments (flatten into a command's clap arguments).
#[derive(clap::Args, Debug, Clone, PartialEq, Eq)]
pub struct WorkerArgs {
    /// Timely worker threads in this process that assemble batches (each takes its shard).
    #[arg(short = 'w', long = "workers", default_value_t = 1, value_name = "THREADS")]
    pub workers: usize,
    /// Number of processes taking part (with --hostfile, or localhost ports from 2101).
    #[arg(short = 'n', long = "processes", default_value_t = 1)]
    pub processes: usize,
    /// This process's index, 0 .. processes-1.
    #[arg(short = 'p', long = "process", default_value_t = 0)]
    pub process: usize,
    /// File of `host:port` lines, one per process, in process order (timely's `-h`; long form
    /// only, as `-h` is help).
    #[arg(long = "hostfile", value_name = "FILE")]
    pub hostfile: Option<PathBuf>,
    /// Batches each worker may have ready ahead of the training step that consumes them.
    #[arg(long = "prefetch", default_value_t = 2)]
    pub prefetch: usize,
}

impl Default for WorkerArgs {
    fn default() -> Self {
        WorkerArgs { workers: 1, processes: 1, process: 0, hostfile: None, prefetch: 2 }
    }
}

/// What the batch stream runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamConfig {
    /// Worker threads in this process.
    pub threads: usize,
    pub processes: usize,
    pub process: usize,
    /// `host:port` of every process (empty with one process).
    pub addresses: Vec<String>,
    /// Ready batches per worker queue.
    pub prefetch: usize,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig { threads: 1, processes: 1, process: 0, addresses: Vec::new(), prefetch: 2 }
    }
}

static INSTALLED: RwLock<Option<StreamConfig>> = RwLock::new(None);

impl StreamConfig {
    /// All workers of all processes.
    pub fn total_workers(&self) -> usize {
        self.threads * self.processes
    }

    /// The configuration [`crate::dataflow::batches::for_each_batch`] uses: the installed one, or
    /// one worker thread with prefetch 2.
    pub fn current() -> StreamConfig {
        INSTALLED.read().unwrap_or_else(|p| p.into_inner()).clone().unwrap_or_default()
    }

    /// Makes this the configuration of every later `for_each_batch` in the process (the `run`
    /// and `data` commands install their `WorkerArgs`).
    pub fn install(self) {
        *INSTALLED.write().unwrap_or_else(|p| p.into_inner()) = Some(self);
    }

    pub(crate) fn timely(&self) -> timely::Config {
        let communication = if self.processes > 1 {
            timely::CommunicationConfig::Cluster {
                threads: self.threads,
                process: self.process,
                addresses: self.addresses.clone(),
                report: false,
                zerocopy: false,
            }
        } else if self.threads > 1 {
            timely::CommunicationConfig::Process(self.threads)
        } else {
            timely::CommunicationConfig::Thread
        };
        timely::Config { communication, worker: timely::WorkerConfig::default() }
    }
}

impl WorkerArgs {
    /// Checks the arguments and reads the hostfile.
    pub fn to_config(&self) -> Result<StreamConfig> {
        let bad = |message: String| Err(Error::invalid("worker arguments", message));
        if self.workers == 0 {
            return bad("-w/--workers must be at least 1".into());
        }
        if self.processes == 0 {
            return bad("-n/--processes must be at least 1".into());
        }
        if self.process >= self.processes {
            return bad(format!("-p/--process {} must be below -n/--processes {}", self.process, self.processes));
        }
        if self.prefetch == 0 {
            return bad("--prefetch must be at least 1 (batches ready ahead of the step)".into());
        }
        let addresses = match (&self.hostfile, self.processes) {
            (_, 1) => Vec::new(),
            (Some(file), n) => {
                let text = std::fs::read_to_string(file).map_err(|e| Error::io(file, e))?;
                let hosts: Vec<String> =
                    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(String::from).collect();
                if hosts.len() < n {
                    return Err(Error::data_file(
                        file,
                        format!("lists {} hosts for {n} processes", hosts.len()),
                        "write one `host:port` line per process, in process order",
                    ));
                }
                if let Some((line, h)) = hosts.iter().enumerate().find(|(_, h)| !h.contains(':')) {
                    return Err(Error::data_record(file, format!("host {}", line + 1), format!("`{h}` has no port"), "write `host:port`"));
                }
                hosts.into_iter().take(n).collect()
            }
            (None, n) => (0..n).map(|i| format!("localhost:{}", 2101 + i)).collect(),
        };
        Ok(StreamConfig {
            threads: self.workers,
            processes: self.processes,
            process: self.process,
            addresses,
            prefetch: self.prefetch,
        })
    }

    /// [`to_config`](Self::to_config), then [`StreamConfig::install`].
    pub fn install(&self) -> Result<StreamConfig> {
        let config = self.to_config()?;
        config.clone().install();
        Ok(config)
    }
}
