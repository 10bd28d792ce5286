//! Turning fetched bytes into rows of cells, whatever the format and encoding.
//!
//! Readers know nothing about contracts: they return every row with the row number a person
//! would quote (the spreadsheet's row number; for CSV the record number counting the header as
//! row 1) so lineage survives into the outputs. Finding the header row and the end of the data
//! is the contract's job, because it needs the contract's header aliases.

use calamine::{Data, Reader};
use std::io::Cursor;

/// One cell as read, before any contract gives it a meaning.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Nothing in the cell (or only whitespace).
    Empty,
    /// Text as written.
    Text(String),
    /// A number stored as a number (Excel numeric cells, dates as serial numbers).
    Number(f64),
}

impl Cell {
    /// Whether the cell holds nothing.
    pub fn is_empty(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(t) => t.trim().is_empty(),
            Cell::Number(_) => false,
        }
    }

    /// The cell as text, the way it is written to the quarantine.
    pub fn raw(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(t) => t.clone(),
            Cell::Number(n) => format_number(*n),
        }
    }
}

/// Formats a number without a spurious `.0` for integers; huge magnitudes (from 1e15) in
/// exponent form, so `1.7976931348623157e308` stays one short, readable token.
pub fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else if n.is_finite() && n.abs() >= 1e15 {
        format!("{n:e}")
    } else {
        format!("{n}")
    }
}

/// One row with its human-facing row number.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRow {
    /// 1-based row number as a spreadsheet shows it, or the CSV record number.
    pub number: u32,
    /// The cells, left to right.
    pub cells: Vec<Cell>,
}

impl RawRow {
    /// Whether every cell is empty.
    pub fn is_blank(&self) -> bool {
        self.cells.iter().all(Cell::is_empty)
    }
}

/// One sheet (or the whole of a CSV) as rows.
#[derive(Debug, Clone, PartialEq)]
pub struct RawSheet {
    /// The sheet name; `None` for formats without sheets.
    pub name: Option<String>,
    /// Every row, blank ones included for spreadsheets.
    pub rows: Vec<RawRow>,
}

/// A table's header names and the rows below them.
pub type HeaderAndRows = (Vec<String>, Vec<RawRow>);

/// A small side file (analysts' overrides or decisions): its first sheet's header names,
/// trimmed and lower-cased, and the rows below it; `None` for an empty file. The format comes
/// from the file name, CSV when it says nothing.
pub fn header_and_rows(bytes: &[u8], file: &str) -> Result<Option<HeaderAndRows>, Vec<String>> {
    let format = Format::from_path(file).unwrap_or(Format::Csv);
    let sheets = read(bytes, format, file).map_err(|e| vec![e.to_string()])?;
    let Some(sheet) = sheets.into_iter().next() else {
        return Ok(None);
    };
    let mut rows = sheet.rows.into_iter();
    let Some(header) = rows.next() else { return Ok(None) };
    let names = header.cells.iter().map(|c| c.raw().trim().to_lowercase()).collect();
    Ok(Some((names, rows.collect())))
}

/// The file formats a source may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Comma-, tab-, semicolon- or pipe-separated text (delimiter sniffed).
    Csv,
    /// Tab-separated text.
    Tsv,
    /// Excel 2007+ workbook.
    Xlsx,
    /// Legacy Excel (BIFF) workbook.
    Xls,
    /// JSON: an array of objects, or an object holding one (nested objects are flattened with
    /// dotted keys: `fields.name`).
    Json,
    /// Apache Parquet.
    Parquet,
}

impl Format {
    /// Guesses the format from a file name's extension.
    pub fn from_path(path: &str) -> Option<Format> {
        let lower = path.to_ascii_lowercase();
        let ext = lower.rsplit('.').next()?;
        match ext {
            "csv" => Some(Format::Csv),
            "tsv" | "txt" | "tab" => Some(Format::Tsv),
            "xlsx" | "xlsm" => Some(Format::Xlsx),
            "xls" => Some(Format::Xls),
            "json" => Some(Format::Json),
            "parquet" | "pq" => Some(Format::Parquet),
            _ => None,
        }
    }

    /// Reads a format name as written in a pipeline.
    pub fn parse(s: &str) -> Option<Format> {
        match s.trim().to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "tsv" | "txt" => Some(Format::Tsv),
            "xlsx" | "excel" => Some(Format::Xlsx),
            "xls" => Some(Format::Xls),
            "json" => Some(Format::Json),
            "parquet" => Some(Format::Parquet),
            _ => None,
        }
    }
}

/// Why a file could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The workbook is damaged or not a workbook.
    #[error("{file}: cannot open as a workbook: {reason}")]
    Workbook {
        /// File name.
        file: String,
        /// What calamine reported.
        reason: String,
    },
    /// The JSON is malformed or holds no array of records.
    #[error("{file}: cannot read as JSON records: {reason}")]
    Json {
        /// File name.
        file: String,
        /// What was wrong.
        reason: String,
    },
    /// The Parquet file could not be read.
    #[error("{file}: cannot read as Parquet: {reason}")]
    Parquet {
        /// File name.
        file: String,
        /// What polars reported.
        reason: String,
    },
    /// A web page arrived where a data file was expected.
    #[error("{file}: received an HTML page{title}, not a data file: the server answered with a web page (a login, error or landing page?) instead of the data; check the URL and any credentials")]
    Html {
        /// File name.
        file: String,
        /// ` (title `...`)` or empty.
        title: String,
    },
    /// The file would expand past a reading limit (`max_uncompressed_bytes`, the compression
    /// ratio, `max_cells`): refused before it is expanded.
    #[error("{file}: refused before reading: {reason}")]
    Limit {
        /// File name.
        file: String,
        /// Which limit, and by how much.
        reason: String,
    },
    /// The text could not be split into records.
    #[error("{file}: cannot read as delimited text: {reason}")]
    Delimited {
        /// File name.
        file: String,
        /// What the CSV parser reported.
        reason: String,
    },
}

/// The error for bytes that are an HTML page (a server's login or error page served with 200),
/// if they are one; checked before any format is tried, since no data format starts like that.
pub fn html_page(bytes: &[u8], file: &str) -> Option<ReadError> {
    let head = &bytes[..bytes.len().min(4096)];
    let (text, _) = decode_text(head);
    let start = text.trim_start_matches('\u{feff}').trim_start().to_ascii_lowercase();
    let is_html = start.starts_with("<!doctype html")
        || start.starts_with("<html")
        || ((start.starts_with("<!--") || start.starts_with("<?xml") || start.starts_with("<head"))
            && start.contains("<html"));
    if !is_html {
        return None;
    }
    let title = start
        .find("<title")
        .and_then(|i| start[i..].find('>').map(|j| i + j + 1))
        .and_then(|from| start[from..].find("</title").map(|to| (from, from + to)))
        .map(|(from, to)| {
            // Byte offsets of the lower-cased ASCII text match the original's.
            let original = text.trim_start_matches('\u{feff}').trim_start();
            let t: String = original
                .get(from..to)
                .unwrap_or_default()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .chars()
                .filter(|c| !c.is_control())
                .take(80)
                .collect();
            t
        })
        .filter(|t| !t.is_empty())
        .map(|t| format!(" (title `{t}`)"))
        .unwrap_or_default();
    Some(ReadError::Html {
        file: file.to_string(),
        title,
    })
}

/// How far a file may expand while it is read: compressed workbooks (`.xlsx` is a zip) are
/// checked before they are opened, so a small download cannot become gigabytes in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// Largest total uncompressed size of a zip-based workbook's entries, in bytes.
    pub max_uncompressed_bytes: u64,
    /// Largest number of cells (counting each row once more) one sheet may spread over once
    /// read; a few far-apart cells count everything between them.
    pub max_cells: u64,
}

/// Default of [`ReadLimits::max_uncompressed_bytes`]: 1 GiB.
pub const DEFAULT_MAX_UNCOMPRESSED_BYTES: u64 = 1 << 30;
/// Default of [`ReadLimits::max_cells`]: 20 million (a large SA36 workbook has under a million).
pub const DEFAULT_MAX_CELLS: u64 = 20_000_000;
/// Largest compression ratio accepted for a big zip entry (real sheet XML compresses 5–50 times;
/// a run of one repeated byte, the usual bomb, about 1000 times).
pub const MAX_COMPRESSION_RATIO: u64 = 200;
/// Entries smaller than this (uncompressed) are not held to [`MAX_COMPRESSION_RATIO`].
const RATIO_FLOOR_BYTES: u64 = 16 << 20;
/// The most a deflate stream can expand (about 1032:1); an entry that could not exceed the
/// limit even so need not be decompressed to be counted.
const DEFLATE_MAX_RATIO: u64 = 1032;

impl Default for ReadLimits {
    fn default() -> Self {
        Self {
            max_uncompressed_bytes: DEFAULT_MAX_UNCOMPRESSED_BYTES,
            max_cells: DEFAULT_MAX_CELLS,
        }
    }
}

/// `n` bytes in a unit a person reads.
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = "bytes";
    for u in UNITS {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    if unit == "bytes" {
        format!("{n} bytes")
    } else {
        format!("{v:.1} {unit}")
    }
}

/// Checks a zip archive (an `.xlsx`) against `limits` before anything is decompressed into
/// memory: the central directory's declared sizes (total against `max_uncompressed_bytes`, each
/// big entry's compression ratio), then — because declared sizes can lie — the entries are
/// decompressed into a counter (never stored), stopping as soon as the limit is passed, unless
/// even the largest possible expansion of their compressed bytes stays under it. Bytes that are
/// not a readable zip pass: the workbook reader reports them.
pub fn check_zip(bytes: &[u8], limits: &ReadLimits) -> Result<(), String> {
    if !bytes.starts_with(b"PK") {
        return Ok(());
    }
    let Ok(mut zip) = zip::ZipArchive::new(Cursor::new(bytes)) else {
        return Ok(());
    };
    let max = limits.max_uncompressed_bytes;
    let limit = format!("max_uncompressed_bytes = {max} ({})", human_bytes(max));
    let mut declared: u64 = 0;
    let mut worst_case: u64 = 0;
    for i in 0..zip.len() {
        let Ok(entry) = zip.by_index_raw(i) else {
            return Ok(());
        };
        let (size, packed) = (entry.size(), entry.compressed_size());
        declared = declared.saturating_add(size);
        if size > RATIO_FLOOR_BYTES && size / packed.max(1) > MAX_COMPRESSION_RATIO {
            return Err(format!(
                "entry `{}` expands {} times ({} compressed to {}); entries over {} may expand at most {MAX_COMPRESSION_RATIO} times (real sheets expand 5 to 50 times): a decompression bomb?",
                entry.name(),
                size / packed.max(1),
                human_bytes(packed),
                human_bytes(size),
                human_bytes(RATIO_FLOOR_BYTES)
            ));
        }
        let factor = match entry.compression() {
            zip::CompressionMethod::Stored => 1,
            zip::CompressionMethod::Deflated => DEFLATE_MAX_RATIO,
            _ => u64::MAX,
        };
        worst_case = worst_case.saturating_add(packed.saturating_mul(factor));
    }
    if declared > max {
        return Err(format!(
            "it expands to {} uncompressed ({declared} bytes), more than {limit}; raise the source's max_uncompressed_bytes if the file is genuine",
            human_bytes(declared)
        ));
    }
    if worst_case <= max {
        return Ok(());
    }
    let mut total: u64 = 0;
    let mut sink = [0u8; 64 * 1024];
    for i in 0..zip.len() {
        let Ok(mut entry) = zip.by_index(i) else {
            return Ok(());
        };
        loop {
            match std::io::Read::read(&mut entry, &mut sink) {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n as u64,
            }
            if total > max {
                return Err(format!(
                    "it expands to more than {limit} (its directory claims {}, the data says otherwise); raise the source's max_uncompressed_bytes if the file is genuine",
                    human_bytes(declared)
                ));
            }
        }
    }
    Ok(())
}

/// Reads a file's bytes into sheets with the default [`ReadLimits`]. `file` is only used in
/// error messages.
pub fn read(bytes: &[u8], format: Format, file: &str) -> Result<Vec<RawSheet>, ReadError> {
    read_limited(bytes, format, file, &ReadLimits::default())
}

/// Reads a file's bytes into sheets, refusing workbooks that would expand past `limits`.
pub fn read_limited(bytes: &[u8], format: Format, file: &str, limits: &ReadLimits) -> Result<Vec<RawSheet>, ReadError> {
    if let Some(e) = html_page(bytes, file) {
        return Err(e);
    }
    match format {
        Format::Csv | Format::Tsv => {
            let (text, _) = decode_text(bytes);
            let delimiter = if format == Format::Tsv && text.contains('\t') {
                b'\t'
            } else {
                sniff_delimiter(&text)
            };
            Ok(vec![read_delimited(&text, delimiter, file)?])
        }
        // A damaged workbook must be an error, never a crash: calamine is guarded in case a
        // malformed file reaches a panic inside it.
        Format::Json => read_json(bytes, file).map(|s| vec![s]),
        Format::Parquet => read_parquet(bytes, file).map(|s| vec![s]),
        Format::Xlsx | Format::Xls => {
            check_zip(bytes, limits).map_err(|reason| ReadError::Limit {
                file: file.to_string(),
                reason,
            })?;
            std::panic::catch_unwind(|| read_workbook(bytes, file, limits)).unwrap_or_else(|_| {
                Err(ReadError::Workbook {
                    file: file.to_string(),
                    reason: "the workbook is damaged (the Excel reader gave up)".into(),
                })
            })
        }
    }
}

/// Decodes text as UTF-8 (with or without BOM), UTF-16 with BOM, or Windows-1252, and makes
/// every line ending (CRLF, CR-only) a plain LF. Returns the text and the encoding used.
pub fn decode_text(bytes: &[u8]) -> (String, &'static str) {
    let (text, name) = if let Some((enc, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        let (t, _, _) = enc.decode(&bytes[bom_len..]);
        (t.into_owned(), enc.name())
    } else if let Ok(t) = std::str::from_utf8(bytes) {
        (t.to_string(), "UTF-8")
    } else {
        let (t, _, _) = encoding_rs::WINDOWS_1252.decode(bytes);
        (t.into_owned(), "windows-1252")
    };
    let text = if text.contains('\r') {
        text.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        text
    };
    (text, name)
}

/// Picks the delimiter that splits the first lines most consistently.
pub fn sniff_delimiter(text: &str) -> u8 {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).take(10).collect();
    let mut best = (b',', 0usize);
    for d in [b',', b'\t', b';', b'|'] {
        let counts: Vec<usize> = lines.iter().map(|l| count_outside_quotes(l, d)).collect();
        let min = counts.iter().copied().min().unwrap_or(0);
        let first = counts.first().copied().unwrap_or(0);
        // Consistent columns beat many columns; fall back to the header line's count.
        let score = if min > 0 { min * 1000 + first } else { first };
        if score > best.1 {
            best = (d, score);
        }
    }
    best.0
}

fn count_outside_quotes(line: &str, d: u8) -> usize {
    let mut in_quotes = false;
    let mut n = 0;
    for b in line.bytes() {
        if b == b'"' {
            in_quotes = !in_quotes;
        } else if b == d && !in_quotes {
            n += 1;
        }
    }
    n
}

fn read_delimited(text: &str, delimiter: u8, file: &str) -> Result<RawSheet, ReadError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| ReadError::Delimited {
            file: file.to_string(),
            reason: e.to_string(),
        })?;
        let cells = rec
            .iter()
            .map(|v| {
                if v.trim().is_empty() {
                    Cell::Empty
                } else {
                    Cell::Text(v.to_string())
                }
            })
            .collect();
        rows.push(RawRow {
            number: u32::try_from(i + 1).unwrap_or(u32::MAX),
            cells,
        });
    }
    Ok(RawSheet { name: None, rows })
}

/// Checks the sector references of a legacy (BIFF, OLE compound file) workbook before calamine
/// sees it. calamine trusts them and sizes buffers from them, so a corrupted `.xls` could make it
/// ask for terabytes and abort the process; a damaged file must be an error instead.
pub fn check_compound_file(bytes: &[u8]) -> Result<(), String> {
    const SIGNATURE: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    if bytes.len() < 512 || bytes[..8] != SIGNATURE {
        return Ok(()); // not a compound file: calamine reports it as such
    }
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]);
    let u32_at = |o: usize| -> Option<u32> {
        bytes
            .get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let shift = u16_at(0x1E);
    if shift != 9 && shift != 12 {
        return Err(format!("sector size 2^{shift} is not 512 or 4096"));
    }
    let size = 1usize << shift;
    let sectors = (bytes.len().saturating_sub(size) / size) as u32 + 1;
    let special = |id: u32| id >= 0xFFFF_FFFA;
    let check = |what: &str, id: u32| {
        if special(id) || id < sectors {
            Ok(())
        } else {
            Err(format!("{what} points at sector {id}, but the file has {sectors}"))
        }
    };
    check("the directory", u32_at(0x30).unwrap_or(0))?;
    check("the mini FAT", u32_at(0x3C).unwrap_or(0))?;
    check("the DIFAT", u32_at(0x44).unwrap_or(0))?;
    let fat_sectors = u32_at(0x2C).unwrap_or(0);
    if fat_sectors > sectors {
        return Err(format!("{fat_sectors} FAT sectors declared in a file of {sectors}"));
    }
    // FAT sectors listed in the header's DIFAT (further DIFAT sectors are checked the same way).
    let mut fat_ids: Vec<u32> = (0..109)
        .filter_map(|i| u32_at(0x4C + 4 * i))
        .filter(|id| !special(*id))
        .collect();
    let mut difat = u32_at(0x44).unwrap_or(0xFFFF_FFFE);
    let mut hops = 0;
    while !special(difat) && hops < sectors {
        check("the DIFAT chain", difat)?;
        let base = (difat as usize + 1) * size;
        for i in 0..size / 4 - 1 {
            if let Some(id) = u32_at(base + 4 * i).filter(|id| !special(*id)) {
                fat_ids.push(id);
            }
        }
        difat = u32_at(base + size - 4).unwrap_or(0xFFFF_FFFE);
        hops += 1;
    }
    for id in fat_ids {
        check("the FAT", id)?;
        let base = (id as usize + 1) * size;
        for i in 0..size / 4 {
            if let Some(next) = u32_at(base + 4 * i) {
                check("a FAT entry", next)?;
            }
        }
    }
    Ok(())
}

fn read_workbook(bytes: &[u8], file: &str, limits: &ReadLimits) -> Result<Vec<RawSheet>, ReadError> {
    let wb_err = |reason: String| ReadError::Workbook {
        file: file.to_string(),
        reason,
    };
    check_compound_file(bytes).map_err(|e| wb_err(format!("the file is damaged: {e}")))?;
    if bytes.starts_with(b"PK") {
        if let Ok(wb) = <calamine::Xlsx<_> as Reader<_>>::new(Cursor::new(bytes)) {
            return read_xlsx(wb, file, limits);
        }
    }
    let mut wb =
        calamine::open_workbook_auto_from_rs(Cursor::new(bytes.to_vec())).map_err(|e| wb_err(e.to_string()))?;
    let mut sheets = Vec::new();
    for name in wb.sheet_names() {
        let range = wb
            .worksheet_range(&name)
            .map_err(|e| wb_err(format!("sheet `{name}`: {e}")))?;
        let (row0, col0) = range.start().unwrap_or((0, 0));
        let mut rows = Vec::new();
        for (i, r) in range.rows().enumerate() {
            let mut cells: Vec<Cell> = Vec::with_capacity(col0 as usize + r.len());
            cells.resize(col0 as usize, Cell::Empty);
            cells.extend(r.iter().map(cell_from));
            while cells.last().is_some_and(Cell::is_empty) {
                cells.pop();
            }
            rows.push(RawRow {
                number: row0 + u32::try_from(i).unwrap_or(u32::MAX - row0) + 1,
                cells,
            });
        }
        // Formatted but empty rows at the bottom carry nothing.
        while rows.last().is_some_and(RawRow::is_blank) {
            rows.pop();
        }
        sheets.push(RawSheet { name: Some(name), rows });
    }
    Ok(sheets)
}

/// Reads an `.xlsx` cell by cell (calamine's own range would allocate every cell between the
/// first and the last used one before anything could be checked), refusing a sheet that would
/// spread over more than `limits.max_cells`.
fn read_xlsx(
    mut wb: calamine::Xlsx<Cursor<&[u8]>>,
    file: &str,
    limits: &ReadLimits,
) -> Result<Vec<RawSheet>, ReadError> {
    let wb_err = |reason: String| ReadError::Workbook {
        file: file.to_string(),
        reason,
    };
    let too_many = |name: &str, what: String| ReadError::Limit {
        file: file.to_string(),
        reason: format!(
            "sheet `{name}` {what}, more than max_cells = {} allows",
            limits.max_cells
        ),
    };
    let mut sheets = Vec::new();
    for name in wb.sheet_names() {
        let mut cells: Vec<(u32, u32, Cell)> = Vec::new();
        match wb.worksheet_cells_reader(&name) {
            Ok(mut reader) => loop {
                match reader.next_cell() {
                    Ok(Some(c)) => {
                        let (row, col) = c.get_position();
                        let cell = cell_from(&Data::from(c.get_value().clone()));
                        if cell.is_empty() {
                            continue;
                        }
                        if cells.len() as u64 >= limits.max_cells {
                            return Err(too_many(&name, format!("holds more than {} cells", limits.max_cells)));
                        }
                        cells.push((row, col, cell));
                    }
                    Ok(None) => break,
                    Err(e) => return Err(wb_err(format!("sheet `{name}`: {e}"))),
                }
            },
            Err(calamine::XlsxError::NotAWorksheet(_)) => {}
            Err(e) => return Err(wb_err(format!("sheet `{name}`: {e}"))),
        }
        cells.sort_by_key(|c| (c.0, c.1));
        cells.dedup_by_key(|c| (c.0, c.1));
        let mut rows: Vec<RawRow> = Vec::new();
        if let (Some(first), Some(last)) = (cells.first(), cells.last()) {
            let (row0, row_end) = (first.0, last.0);
            // What the rows below will hold: one entry per row plus each row up to its last cell.
            let mut spread: u64 = u64::from(row_end - row0) + 1;
            let mut prev_row = None;
            for c in cells.iter().rev() {
                if prev_row != Some(c.0) {
                    spread += u64::from(c.1) + 1;
                    prev_row = Some(c.0);
                }
            }
            if spread > limits.max_cells {
                return Err(too_many(
                    &name,
                    format!("spreads over {spread} cells (rows {} to {})", row0 + 1, row_end + 1),
                ));
            }
            rows = (row0..=row_end)
                .map(|r| RawRow {
                    number: r + 1,
                    cells: Vec::new(),
                })
                .collect();
            for (r, col, cell) in cells {
                let row = &mut rows[(r - row0) as usize].cells;
                row.resize(col as usize, Cell::Empty);
                row.push(cell);
            }
        }
        while rows.last().is_some_and(RawRow::is_blank) {
            rows.pop();
        }
        sheets.push(RawSheet { name: Some(name), rows });
    }
    Ok(sheets)
}

/// Flattens one JSON value into `key → cell` pairs, nested objects with dotted keys.
fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, Cell)>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        serde_json::Value::Null => out.push((prefix.to_string(), Cell::Empty)),
        serde_json::Value::Number(n) => out.push((prefix.to_string(), n.as_f64().map_or(Cell::Empty, Cell::Number))),
        serde_json::Value::String(t) if t.trim().is_empty() => out.push((prefix.to_string(), Cell::Empty)),
        serde_json::Value::String(t) => out.push((prefix.to_string(), Cell::Text(t.clone()))),
        serde_json::Value::Bool(b) => out.push((prefix.to_string(), Cell::Text(b.to_string()))),
        serde_json::Value::Array(_) => out.push((prefix.to_string(), Cell::Text(v.to_string()))),
    }
}

/// JSON records become a header row (row 0: every key, in the order serde_json gives: sorted) and one row per
/// record, numbered from 1 in file order.
fn read_json(bytes: &[u8], file: &str) -> Result<RawSheet, ReadError> {
    let err = |reason: String| ReadError::Json {
        file: file.to_string(),
        reason,
    };
    let (text, _) = decode_text(bytes);
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| err(e.to_string()))?;
    let records = match value {
        serde_json::Value::Array(a) => a,
        serde_json::Value::Object(m) => m
            .into_iter()
            .find_map(|(_, v)| match v {
                serde_json::Value::Array(a) => Some(a),
                _ => None,
            })
            .ok_or_else(|| err("the object holds no array of records".into()))?,
        _ => return Err(err("expected an array of objects".into())),
    };
    let mut keys: Vec<String> = Vec::new();
    let mut flat = Vec::with_capacity(records.len());
    for r in &records {
        let mut pairs = Vec::new();
        flatten("", r, &mut pairs);
        for (k, _) in &pairs {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
        flat.push(pairs);
    }
    let mut rows = vec![RawRow {
        number: 0,
        cells: keys.iter().map(|k| Cell::Text(k.clone())).collect(),
    }];
    for (i, pairs) in flat.into_iter().enumerate() {
        let mut cells = vec![Cell::Empty; keys.len()];
        for (k, c) in pairs {
            if let Some(j) = keys.iter().position(|x| *x == k) {
                cells[j] = c;
            }
        }
        rows.push(RawRow {
            number: u32::try_from(i + 1).unwrap_or(u32::MAX),
            cells,
        });
    }
    Ok(RawSheet { name: None, rows })
}

/// Parquet columns become a header row (row 0) and one row per record, numbered from 1.
fn read_parquet(bytes: &[u8], file: &str) -> Result<RawSheet, ReadError> {
    use polars::prelude::*;
    let err = |reason: String| ReadError::Parquet {
        file: file.to_string(),
        reason,
    };
    let df = ParquetReader::new(Cursor::new(bytes.to_vec()))
        .finish()
        .map_err(|e| err(e.to_string()))?;
    let mut columns: Vec<Vec<Cell>> = Vec::new();
    for c in df.columns() {
        let s = c.as_materialized_series();
        let cells: Vec<Cell> = if s.dtype().is_primitive_numeric() {
            let f = s.cast(&DataType::Float64).map_err(|e| err(e.to_string()))?;
            let f = f.f64().map_err(|e| err(e.to_string()))?.clone();
            (0..f.len())
                .map(|i| f.get(i).map_or(Cell::Empty, Cell::Number))
                .collect()
        } else {
            let t = s.cast(&DataType::String).map_err(|e| err(e.to_string()))?;
            let t = t.str().map_err(|e| err(e.to_string()))?.clone();
            (0..t.len())
                .map(|i| {
                    t.get(i)
                        .filter(|v| !v.trim().is_empty())
                        .map_or(Cell::Empty, |v| Cell::Text(v.to_string()))
                })
                .collect()
        };
        columns.push(cells);
    }
    let mut rows = vec![RawRow {
        number: 0,
        cells: df
            .get_column_names()
            .iter()
            .map(|n| Cell::Text(n.to_string()))
            .collect(),
    }];
    for i in 0..df.height() {
        rows.push(RawRow {
            number: u32::try_from(i + 1).unwrap_or(u32::MAX),
            cells: columns.iter().map(|c| c[i].clone()).collect(),
        });
    }
    Ok(RawSheet { name: None, rows })
}

/// An Excel date serial (days since 1899-12-30, the fraction the time of day) as ISO text.
fn excel_date_text(serial: f64) -> String {
    let epoch = chrono::NaiveDate::from_ymd_opt(1899, 12, 30).unwrap_or_default();
    let days = serial.floor();
    let date = (days.is_finite() && days.abs() < 3_000_000.0)
        .then(|| epoch.checked_add_signed(chrono::Duration::days(days as i64)))
        .flatten();
    match date {
        Some(d) => {
            let seconds = ((serial - days) * 86_400.0).round() as u32;
            if seconds == 0 {
                d.format("%Y-%m-%d").to_string()
            } else {
                let t =
                    chrono::NaiveTime::from_num_seconds_from_midnight_opt(seconds.min(86_399), 0).unwrap_or_default();
                format!("{}T{}", d.format("%Y-%m-%d"), t.format("%H:%M:%S"))
            }
        }
        None => format!("date serial {serial}"),
    }
}

fn cell_from(d: &Data) -> Cell {
    match d {
        Data::Empty => Cell::Empty,
        Data::String(s) if s.trim().is_empty() => Cell::Empty,
        Data::String(s) => Cell::Text(s.clone()),
        Data::Float(f) => Cell::Number(*f),
        Data::Int(i) => Cell::Number(*i as f64),
        Data::Bool(b) => Cell::Text(b.to_string()),
        // A cell formatted as a date is a date, never an amount: `45474` would otherwise pass as
        // R45,474. It is read as the date it shows (`2024-07-01`), which no amount column accepts.
        Data::DateTime(dt) => Cell::Text(excel_date_text(dt.as_f64())),
        Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Text(s.clone()),
        Data::Error(e) => Cell::Text(format!("#{e:?}")),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn excel_date_cells_read_as_the_dates_they_show() {
        assert_eq!(super::excel_date_text(45474.0), "2024-07-01");
        assert_eq!(super::excel_date_text(45474.5), "2024-07-01T12:00:00");
        assert_eq!(super::excel_date_text(f64::NAN), "date serial NaN");
    }

    use super::*;

    #[test]
    fn an_html_page_is_named_as_one_whatever_the_format() {
        let page = b"\xef\xbb\xbf\n  <!DOCTYPE html>\n<html><head><title>\n  Sign in | Municipal\n Portal </title></head><body>...</body></html>";
        for format in [Format::Csv, Format::Xlsx, Format::Xls, Format::Json] {
            let e = read(page, format, "idp.csv").unwrap_err().to_string();
            assert_eq!(
                e,
                "idp.csv: received an HTML page (title `Sign in | Municipal Portal`), not a data file: the server answered with a web page (a login, error or landing page?) instead of the data; check the URL and any credentials"
            );
        }
        let bare = read(b"<html><body>502 Bad Gateway</body></html>", Format::Csv, "x.csv").unwrap_err();
        assert!(
            bare.to_string()
                .starts_with("x.csv: received an HTML page, not a data file"),
            "{bare}"
        );
        // Data that merely mentions HTML is still data.
        assert!(html_page(b"name,note\nHall,<html> in a cell\n", "x.csv").is_none());
    }

    #[test]
    fn decodes_latin1_and_cr_only_lines() {
        let bytes = b"a\tb\rM\xe9nage\t1\r";
        let (text, enc) = decode_text(bytes);
        assert_eq!(enc, "windows-1252");
        assert_eq!(text, "a\tb\nMénage\t1\n");
        let sheet = read(bytes, Format::Csv, "x.txt").unwrap().remove(0);
        assert_eq!(sheet.rows.len(), 2);
        assert_eq!(sheet.rows[1].cells[0], Cell::Text("Ménage".into()));
        assert_eq!(sheet.rows[1].number, 2);
    }

    #[test]
    fn strips_utf8_bom_and_sniffs_semicolons() {
        let bytes = "\u{feff}code;name\r\nBUF;Buffalo City\r\n".as_bytes();
        let sheet = read(bytes, Format::Csv, "x.csv").unwrap().remove(0);
        assert_eq!(sheet.rows[0].cells[0], Cell::Text("code".into()));
        assert_eq!(sheet.rows[1].cells[1], Cell::Text("Buffalo City".into()));
    }

    #[test]
    fn quoted_commas_do_not_fool_the_sniffer() {
        let text = "a,b,c\n\"x;y\",2,3\n";
        assert_eq!(sniff_delimiter(text), b',');
        assert_eq!(sniff_delimiter("a\tb\n1\t2\n"), b'\t');
    }

    #[test]
    fn json_records_flatten_nested_fields() {
        let bytes = br#"[{"model": "x", "pk": 1, "fields": {"name": "Road", "amount": 5}}, {"model": "x", "pk": 2, "fields": {"name": null}}]"#;
        let s = read(bytes, Format::Json, "f.json").unwrap().remove(0);
        // Keys come out sorted (serde_json's map), which keeps the column order deterministic.
        assert_eq!(
            s.rows[0].cells,
            ["fields.amount", "fields.name", "model", "pk"].map(|k| Cell::Text(k.into()))
        );
        assert_eq!(s.rows[1].cells[1], Cell::Text("Road".into()));
        assert_eq!(s.rows[1].cells[0], Cell::Number(5.0));
        assert_eq!(s.rows[2].number, 2);
        assert_eq!(s.rows[2].cells[0], Cell::Empty);
        let e = read(b"{\"a\": 1}", Format::Json, "g.json").unwrap_err();
        assert_eq!(
            e.to_string(),
            "g.json: cannot read as JSON records: the object holds no array of records"
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let e = read(b"PK\x03\x04garbage", Format::Xlsx, "bad.xlsx").unwrap_err();
        assert!(e.to_string().starts_with("bad.xlsx: cannot open as a workbook"), "{e}");
    }

    /// A zip whose one entry holds `n` spaces, deflated.
    fn spaces_zip(n: usize) -> Vec<u8> {
        use std::io::Write;
        let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        z.start_file("xl/worksheets/sheet1.xml", opts).unwrap();
        z.write_all(&vec![b' '; n]).unwrap();
        z.finish().unwrap().into_inner()
    }

    #[test]
    fn a_zip_whose_directory_lies_about_sizes_is_counted_for_real() {
        let limits = ReadLimits {
            max_uncompressed_bytes: 1 << 20,
            ..ReadLimits::default()
        };
        let honest = spaces_zip(4 << 20);
        let e = check_zip(&honest, &limits).unwrap_err();
        assert!(e.contains("max_uncompressed_bytes = 1048576 (1.0 MiB)"), "{e}");
        // The same bytes claiming 10 bytes uncompressed, in the local header and the directory.
        let mut lying = honest.clone();
        let at = |sig: &[u8]| lying.windows(4).position(|w| w == sig).unwrap();
        let (local, central) = (at(b"PK\x03\x04"), at(b"PK\x01\x02"));
        lying[local + 22..local + 26].copy_from_slice(&10u32.to_le_bytes());
        lying[central + 24..central + 28].copy_from_slice(&10u32.to_le_bytes());
        let e = check_zip(&lying, &limits).unwrap_err();
        assert!(
            e.contains("the data says otherwise") && e.contains("max_uncompressed_bytes"),
            "{e}"
        );
        // Under the limit, honest or not, passes.
        assert_eq!(check_zip(&spaces_zip(100_000), &limits), Ok(()));
        let e = read_limited(&lying, Format::Xlsx, "lie.xlsx", &limits).unwrap_err();
        assert!(e.to_string().starts_with("lie.xlsx: refused before reading: "), "{e}");
    }

    #[test]
    fn two_far_apart_cells_are_refused_past_max_cells() {
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet();
        ws.write_string(0, 0, "top left").unwrap();
        ws.write_number(200_000, 500, 1.0).unwrap();
        let bytes = wb.save_to_buffer().unwrap();
        let limits = ReadLimits {
            max_cells: 100_000,
            ..ReadLimits::default()
        };
        let e = read_limited(&bytes, Format::Xlsx, "far.xlsx", &limits)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("far.xlsx: refused before reading: sheet `Sheet1` spreads over 200503 cells")
                && e.contains("max_cells = 100000"),
            "{e}"
        );
        // With the default limit it reads, rows numbered as the sheet shows them.
        let sheets = read(&bytes, Format::Xlsx, "far.xlsx").unwrap();
        let rows = &sheets[0].rows;
        assert_eq!(
            (rows.len(), rows[0].number, rows[200_000].number),
            (200_001, 1, 200_001)
        );
        assert_eq!(rows[200_000].cells.len(), 501);
        assert_eq!(rows[200_000].cells[500], Cell::Number(1.0));
    }
}
