//! `ssdlt gc FILE... [--dry-run]`: frees the store of what no pipeline needs any more.

use std::path::PathBuf;

use crate::runner::gc::{collect_garbage, StoreSweep};
use crate::runner::PipelineData;
use crate::store::gc::GarbageKind;

#[derive(clap::Args, Debug, Clone)]
pub struct GcArgs {
    /// Pipeline files whose stores to sweep; what each needs now is kept, and so is the last run
    /// of every pipeline recorded in the store.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// List what would be removed, and remove nothing.
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(args: &GcArgs, data: &dyn PipelineData) -> anyhow::Result<()> {
    let sweeps = collect_garbage(&args.files, data, args.dry_run)?;
    for sweep in &sweeps {
        print!("{}", format_sweep(sweep, args.dry_run));
    }
    Ok(())
}

/// One store's summary: a line per kind removed, the total, and on a dry run every path.
fn format_sweep(sweep: &StoreSweep, dry_run: bool) -> String {
    let mut out = format!("{}: ", sweep.root.display());
    if !sweep.exists {
        out.push_str("nothing stored (no run has written there yet)\n");
        return out;
    }
    if sweep.garbage.is_empty() {
        out.push_str(&format!("nothing to remove; {} in use\n", counted(sweep.kept_stages, "stored stage output", "stored stage outputs")));
        return out;
    }
    let verb = if dry_run { "would remove" } else { "removed" };
    out.push_str(&format!(
        "{verb} {} ({}); kept {} in use\n",
        counted(sweep.garbage.len(), "entry", "entries"),
        human_bytes(sweep.bytes()),
        counted(sweep.kept_stages, "stored stage output", "stored stage outputs")
    ));
    for kind in [GarbageKind::StageOutput, GarbageKind::ResumeCheckpoints, GarbageKind::Cache, GarbageKind::Temporary] {
        let of_kind: Vec<_> = sweep.garbage.iter().filter(|g| g.kind == kind).collect();
        if of_kind.is_empty() {
            continue;
        }
        let bytes: u64 = of_kind.iter().map(|g| g.bytes).sum();
        let what = format!("{} {}{}", of_kind.len(), kind.label(), if of_kind.len() == 1 { "" } else { "s" });
        out.push_str(&format!("  {what:<22} {}\n", human_bytes(bytes)));
        if dry_run {
            for g in of_kind {
                let rel = g.path.strip_prefix(&sweep.root).unwrap_or(&g.path);
                out.push_str(&format!("    {}  {}\n", rel.display(), human_bytes(g.bytes)));
            }
        }
    }
    out
}

fn counted(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Bytes in B, KB, MB or GB (powers of 1000, like `du --si`), 3 significant digits.
fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = "B";
    for u in UNITS {
        if value < 1000.0 {
            break;
        }
        value /= 1000.0;
        unit = u;
    }
    if value < 10.0 {
        format!("{value:.2} {unit}")
    } else if value < 100.0 {
        format!("{value:.1} {unit}")
    } else {
        format!("{value:.0} {unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::human_bytes;

    #[test]
    fn sizes_read_like_du_si() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1000), "1.00 KB");
        assert_eq!(human_bytes(12_345_678), "12.3 MB");
        assert_eq!(human_bytes(987_000_000_000), "987 GB");
    }
}
