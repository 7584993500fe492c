//! `ssdlt export FILE --table NAME --format arrow|parquet|csv [-o PATH]`: one label table of the
//! pipeline file's last run (an export stage's stored copy, else built from the soft_labels and
//! evaluate stages). Default output: `exports/<pipeline>/<table>.<ext>` beside the pipeline file.

use std::path::PathBuf;

use crate::report::run_table;
use crate::spec::stages::TableFormat;
use crate::store::run_view::last_run;
use crate::store::tables::{extension, write_table, TableName};

/// `--format` values.
#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum FormatArg {
    /// Arrow IPC file (pyarrow.ipc.open_file, polars.read_ipc).
    Arrow,
    /// Parquet (pandas.read_parquet, polars.read_parquet, DuckDB).
    Parquet,
    /// CSV; list columns as JSON arrays, metadata in `<file>.meta.json`.
    Csv,
}

impl From<FormatArg> for TableFormat {
    fn from(f: FormatArg) -> TableFormat {
        match f {
            FormatArg::Arrow => TableFormat::Arrow,
            FormatArg::Parquet => TableFormat::Parquet,
            FormatArg::Csv => TableFormat::Csv,
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// The pipeline YAML file; its last run is exported.
    pub file: PathBuf,
    /// Which table.
    #[arg(long, value_enum)]
    pub table: TableName,
    #[arg(long, value_enum)]
    pub format: FormatArg,
    /// Output file (default `exports/<pipeline>/<table>.<ext>` beside the pipeline file).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

pub fn run(args: &ExportArgs, quiet: bool) -> anyhow::Result<()> {
    let view = last_run(&args.file)?;
    let table = run_table(&view, args.table)?;
    let format: TableFormat = args.format.into();
    let path = args.output.clone().unwrap_or_else(|| crate::report::default_folder(&view, "exports").join(format!("{}.{}", args.table.as_str(), extension(format))));
    write_table(&path, &table, format)?;
    if !quiet {
        eprintln!("{} rows", table.num_rows());
    }
    println!("{}", path.display());
    Ok(())
}
