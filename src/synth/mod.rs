//! `harvester synth`: synthetic data in the real formats, generated rather than hand-made.
//!
//! Two generators share this module's deterministic random numbers (`Rng`), CSV helpers and
//! vocabulary (`vocabulary.rs`): [`write_sample`] (`sample/`) writes the bundled sample, three
//! Eastern Cape municipalities; [`national`] writes a national-scale world with ground truth for
//! the linking benchmark. Output is deterministic for a seed, so the committed sample can be
//! regenerated exactly.

pub mod national;
mod places;
mod sample;
mod vocabulary;

pub use sample::write_sample;

use rust_xlsxwriter::XlsxError;

/// Why the sample could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// Writing a workbook failed.
    #[error("cannot build workbook {file}: {source}")]
    Xlsx {
        /// File name.
        file: String,
        /// What rust_xlsxwriter reported.
        source: XlsxError,
    },
    /// Writing a file failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// A small deterministic generator (SplitMix64); the sample must not change with a crate update.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// A budget year's label (`2024` → `2024/25`).
fn year_label(start: i32) -> String {
    format!("{}/{:02}", start, (start + 1) % 100)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One CSV line (fields quoted where they must be), with its newline.
fn csv_line(fields: &[String]) -> String {
    fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(",") + "\n"
}
