//! How results are shown: tables (comfy-table, fitted to the terminal) for people, one JSON object
//! per line for scripts.

use crate::args::OutputFormat;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};
use serde::Serialize;
use std::io::IsTerminal;

/// The format in force: what was asked, else a table on a terminal and JSON otherwise.
pub fn resolve(asked: Option<OutputFormat>) -> OutputFormat {
    asked.unwrap_or(if std::io::stdout().is_terminal() {
        OutputFormat::Table
    } else {
        OutputFormat::Json
    })
}

/// Prints one JSON value on one line.
pub fn json_line<T: Serialize>(value: &T) {
    println!(
        "{}",
        serde_json::to_string(value).expect("wire types serialize")
    );
}

/// Prints a table with these columns and rows.
pub fn table(columns: &[&str], rows: Vec<Vec<String>>) {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(columns.to_vec());
    for row in rows {
        table.add_row(row);
    }
    println!("{table}");
}

/// Bytes for people, in the units the flags take: 1.2 MiB.
pub fn bytes(n: u64) -> String {
    bytesize::ByteSize(n).display().iec().to_string()
}
