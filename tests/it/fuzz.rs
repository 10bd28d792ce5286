//! A fixed-budget fuzz of the file → contract path: truncated and corrupted workbooks, random
//! bytes, odd encodings and broken quoting must give errors or quarantine rows, never a panic.
//!
//! Budget: `HARVESTER_FUZZ_CASES` cases per input kind (default 150), seeded so a failure
//! reproduces. Run a longer campaign with
//! `HARVESTER_FUZZ_CASES=5000 cargo test --release --test it fuzz`.

use crate::common::*;
use harvester::contracts::Catalog;
use harvester::domain::Location;
use harvester::run::ingest::validate_fetched;
use harvester::sources::readers::Format;
use harvester::sources::Fetched;
use harvester::sources::SourceSpec;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn cases() -> usize {
    std::env::var("HARVESTER_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150)
}

fn feed(bytes: Vec<u8>, name: &str, format: Format) {
    let catalog = Catalog::load(None).unwrap();
    let fetched = Fetched::new(name.into(), name.into(), bytes.into());
    for c in catalog.names() {
        let contract = catalog.get(c).unwrap();
        let spec = SourceSpec {
            format: Some(format),
            max_reject_ratio: 0.5,
            ..SourceSpec::new("fuzz", Location::Local(name.into()), c, contract.unit)
        };
        let out = validate_fetched(&spec, contract, &fetched);
        assert_eq!(
            out.quality.rows_read,
            out.quality.rows_accepted + out.quality.rows_rejected
        );
    }
}

#[test]
fn fuzz_truncated_and_corrupted_workbooks() {
    let original = std::fs::read(repo().join("sample/budget/sa36_2024_25.xlsx")).unwrap();
    let legacy = std::fs::read(real("municipal-money-gitbook/TSH.xls")).unwrap();
    let mut rng = Rng(0x5eed_0001);
    for i in 0..cases() {
        let (base, format) = if i % 3 == 0 {
            (&legacy, Format::Xls)
        } else {
            (&original, Format::Xlsx)
        };
        let mut bytes = base.clone();
        if i % 2 == 0 {
            bytes.truncate(rng.below(base.len()));
        } else {
            for _ in 0..1 + rng.below(8) {
                let at = rng.below(bytes.len());
                bytes[at] = rng.next() as u8;
            }
        }
        feed(bytes, "fuzz.xlsx", format);
    }
}

#[test]
fn fuzz_random_text_in_odd_encodings() {
    let mut rng = Rng(0x5eed_0002);
    let alphabet: &[u8] = b"ab,;\t|\"\r\n 0123456789-()R.\xe9\xff\xfe\xef\xbb\xbfBUFPC_";
    let idp = std::fs::read(repo().join("sample/idp/idp_register_2024_25.csv")).unwrap();
    for i in 0..cases() {
        let bytes: Vec<u8> = if i % 2 == 0 {
            (0..rng.below(2000))
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect()
        } else {
            // A real register with a few random edits (broken quotes, stray encodings).
            let mut b = idp.clone();
            for _ in 0..1 + rng.below(20) {
                let at = rng.below(b.len());
                b[at] = alphabet[rng.below(alphabet.len())];
            }
            b
        };
        feed(bytes, "fuzz.csv", Format::Csv);
    }
}
