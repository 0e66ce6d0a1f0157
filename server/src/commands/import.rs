//! `lockstep import DIR|FILE...`: the predecessor's CSV files into the store.
//!
//! Each file's format is detected from its header (an unknown header is refused with the list of
//! known ones). Good rows are written in one transaction per file with idempotent upserts, so a
//! second import of the same files changes nothing, and a bad row never costs a stored one: it is
//! reported with `file:line` and skipped. The run ends non-zero when anything was rejected.

use crate::market_data::csv::{self, CsvFormat, RowError};
use crate::store::market::{RunOutcome, SourceKind, UpsertCounts};
use crate::store::Store;
use std::path::{Path, PathBuf};

/// The source name imported rows carry.
pub const SOURCE: &str = "csv";

#[derive(Debug, Clone, clap::Parser)]
pub struct ImportArgs {
    /// CSV files, or directories whose `*.csv` files are all imported.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// How many rejected rows to print (all are counted).
    #[arg(long, default_value_t = 50)]
    pub show_rejected: usize,
}

/// What one file gave.
#[derive(Debug, Clone)]
pub struct FileSummary {
    pub path: PathBuf,
    /// `None` when the file could not be read (see `error`).
    pub format: Option<CsvFormat>,
    pub rows_read: u64,
    pub counts: UpsertCounts,
    pub rejected: Vec<RowError>,
    /// A file-level failure: unreadable, unknown header.
    pub error: Option<String>,
}

/// The whole import.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    pub files: Vec<FileSummary>,
}

impl ImportReport {
    /// Rejected rows plus files that could not be read at all.
    pub fn rejected(&self) -> u64 {
        self.files
            .iter()
            .map(|f| f.rejected.len() as u64 + u64::from(f.error.is_some()))
            .sum()
    }

    pub fn counts(&self) -> UpsertCounts {
        let mut c = UpsertCounts::default();
        for f in &self.files {
            c.add(f.counts);
        }
        c
    }

    /// The per-file summary table.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{:<40} {:<22} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
            "file", "format", "read", "inserted", "updated", "unchanged", "rejected"
        );
        for f in &self.files {
            let name = f
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| f.path.display().to_string());
            out.push_str(&format!(
                "{:<40} {:<22} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
                name,
                f.format.map(CsvFormat::name).unwrap_or("(not read)"),
                f.rows_read,
                f.counts.inserted,
                f.counts.updated,
                f.counts.unchanged,
                f.rejected.len() + usize::from(f.error.is_some()),
            ));
        }
        let c = self.counts();
        out.push_str(&format!(
            "{:<40} {:<22} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
            "total",
            "",
            self.files.iter().map(|f| f.rows_read).sum::<u64>(),
            c.inserted,
            c.updated,
            c.unchanged,
            self.rejected()
        ));
        out
    }
}

/// The files an argument names: itself, or a directory's `*.csv` files sorted by name.
fn expand(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")))
            .collect();
        files.sort();
        Ok(files)
    } else {
        Ok(vec![path.to_path_buf()])
    }
}

/// Imports `paths` into `store`. File-level problems (unreadable, unknown header, a directory
/// without CSV files) are reported in the summary, not returned as errors, so the other files
/// still get imported.
///
/// # Errors
/// Only a store failure; that file's rows are then not written (one transaction per file).
pub async fn import_paths(
    store: &Store,
    paths: &[PathBuf],
) -> Result<ImportReport, crate::store::StoreError> {
    store
        .register_source(
            SOURCE,
            SourceKind::Import,
            "CSV files imported with `lockstep import`",
        )
        .await?;
    let mut report = ImportReport::default();
    // Files done of files found so far (a terminal only; see `crate::progress`).
    let progress = crate::progress::bar(0, "import");
    let mut started = 0u64;
    for arg in paths {
        let files = match expand(arg) {
            Ok(f) if f.is_empty() => {
                report.files.push(failed(
                    arg,
                    format!("{}: no .csv files found", arg.display()),
                ));
                continue;
            }
            Ok(f) => f,
            Err(e) => {
                report
                    .files
                    .push(failed(arg, format!("{}: {e}", arg.display())));
                continue;
            }
        };
        progress.inc_length(files.len() as u64);
        for file in files {
            // The files before this one are done.
            progress.set_position(started);
            started += 1;
            progress.set_message(
                file.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            );
            let target = file.display().to_string();
            let read = match tokio::task::spawn_blocking({
                let file = file.clone();
                move || csv::read_file(&file)
            })
            .await
            {
                Ok(Ok(read)) => read,
                Ok(Err(e)) => {
                    let run = store.start_run(SOURCE, Some(&target)).await?;
                    let msg = e.to_string();
                    store
                        .finish_run(
                            run,
                            &RunOutcome::error(0, UpsertCounts::default(), msg.clone()),
                        )
                        .await?;
                    report.files.push(failed(&file, msg));
                    continue;
                }
                Err(join) => {
                    report
                        .files
                        .push(failed(&file, format!("reading {target}: {join}")));
                    continue;
                }
            };
            let run = store.start_run(SOURCE, Some(&target)).await?;
            let rows_read = (read.records.len() + read.rejected.len()) as u64;
            let counts = match store.upsert(SOURCE, &read.records).await {
                Ok(c) => c,
                Err(e) => {
                    let _ = store
                        .finish_run(
                            run,
                            &RunOutcome::error(rows_read, UpsertCounts::default(), e.to_string()),
                        )
                        .await;
                    return Err(e);
                }
            };
            store
                .finish_run(
                    run,
                    &RunOutcome::with_rejected(rows_read, counts, read.rejected.len() as u64),
                )
                .await?;
            report.files.push(FileSummary {
                path: file,
                format: Some(read.format),
                rows_read,
                counts,
                rejected: read.rejected,
                error: None,
            });
        }
    }
    progress.finish_and_clear();
    Ok(report)
}

fn failed(path: &Path, error: String) -> FileSummary {
    FileSummary {
        path: path.to_path_buf(),
        format: None,
        rows_read: 0,
        counts: UpsertCounts::default(),
        rejected: Vec::new(),
        error: Some(error),
    }
}

/// Runs the command: prints problems to stderr and the summary to stdout. Returns whether
/// everything was accepted.
pub async fn run(store: &Store, args: &ImportArgs) -> anyhow::Result<bool> {
    let started = std::time::Instant::now();
    let report = import_paths(store, &args.paths).await?;
    let mut shown = 0;
    for f in &report.files {
        if let Some(e) = &f.error {
            eprintln!("error: {e}");
        }
        for r in &f.rejected {
            if shown < args.show_rejected {
                eprintln!("rejected: {r}");
            }
            shown += 1;
        }
    }
    if shown > args.show_rejected {
        eprintln!("... and {} more rejected rows", shown - args.show_rejected);
    }
    print!("{}", report.table());
    println!("imported in {:.2} s", started.elapsed().as_secs_f64());
    Ok(report.rejected() == 0)
}
