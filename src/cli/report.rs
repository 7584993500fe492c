//! `ssdlt report RUN [-o PATH]`: a self-contained HTML report (inline SVG plots) of a pipeline's
//! last run. RUN is the pipeline file; default output `reports/<pipeline>/report.html` beside it.

use std::path::PathBuf;

use crate::store::atomic::write_atomically;
use crate::store::run_view::last_run;

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// The pipeline YAML file; the report covers its last run.
    pub run: PathBuf,
    /// Output HTML file (default `reports/<pipeline>/report.html` beside the pipeline file).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

pub fn run(args: &ReportArgs) -> anyhow::Result<()> {
    let view = last_run(&args.run)?;
    let html = crate::report::html::render(&view)?;
    let path = args.output.clone().unwrap_or_else(|| crate::report::default_folder(&view, "reports").join("report.html"));
    crate::report::check_writable(&path)?;
    write_atomically(&path, html.as_bytes()).map_err(|e| crate::Error::File { path: path.clone(), message: format!("cannot write the report here ({e}); choose a writable path with -o") })?;
    println!("{}", path.display());
    Ok(())
}
