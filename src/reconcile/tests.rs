//! Linking decisions on hand-made records: the cases a person would get right and the linker
//! must too (abbreviations in a big block, generic items that differ by a number, records
//! without a name, different work on the same asset and place).

use super::*;
use crate::contracts::validate::AmountValue;
use crate::domain::fiscal::{Calendar, FinancialYear};

fn fy(y: i32) -> FinancialYear {
    FinancialYear::new(Calendar::Municipal, y)
}

/// A record with a name, a ward, an asset class and one amount in 2024/25.
fn rec(id: &str, dataset: Dataset, name: &str, ward: &str, class: &str, rand: f64) -> Record {
    Record {
        project_ref: Some(id.into()),
        project_name: (!name.is_empty()).then(|| name.to_string()),
        ward_codes: Some(ward.into()),
        asset_class: Some(class.into()),
        financial_year: Some(fy(2024)),
        amounts: vec![AmountValue {
            year: fy(2024),
            phase: "budget".into(),
            rand,
        }],
        ..Record::bare(id, "s", dataset, "KZN282")
    }
}

/// A budget line without a description: new work on a health facility in ward 52802077.
fn empty_budget_line(rand: f64) -> Record {
    Record {
        project_type: Some("New".into()),
        ..rec("BUD-EMPTY", Dataset::Budget, "", "52802077", "Health Facilities", rand)
    }
}

/// A block of `n` IDP projects of many kinds and places, as a big metro's register looks.
fn big_idp_block(n: usize) -> Vec<Record> {
    let places = [
        "Esikhaleni",
        "Ngwelezane",
        "Meerensee",
        "Arboretum",
        "Nseleni",
        "Felixton",
        "Aquadene",
        "Brackenham",
        "Birdswood",
        "Veldenvlei",
        "Mzingazi",
        "Dlangezwa",
        "Buchanana",
        "Port Durnford",
        "Madlankala",
    ];
    let assets = [
        ("Community Hall", "Community Assets"),
        ("Access Road", "Roads Infrastructure"),
        ("Water Reticulation", "Water Supply Infrastructure"),
        ("Stormwater Drainage", "Storm water Infrastructure"),
        ("High Mast Lights", "Electrical Infrastructure"),
        ("Sports Field", "Sport and Recreation Facilities"),
        ("Bulk Water Pipeline", "Water Supply Infrastructure"),
        ("Taxi Rank", "Roads Infrastructure"),
    ];
    let verbs = ["Construction of", "Upgrading of", "Rehabilitation of"];
    (0..n)
        .map(|i| {
            let place = places[i % places.len()];
            let (asset, class) = assets[(i / places.len()) % assets.len()];
            let verb = verbs[(i / (places.len() * assets.len())) % verbs.len()];
            let ext = i / (places.len() * assets.len() * verbs.len());
            let name = format!("{verb} {place} Ext {} {asset}", ext + 1);
            let ward = format!("528020{:02}", 1 + i % 60);
            rec(
                &format!("IDP-{i:05}"),
                Dataset::Idp,
                &name,
                &ward,
                class,
                1_000_000.0 + i as f64 * 1000.0,
            )
        })
        .collect()
}

/// The accepted links of one budget line against the records.
fn accepted(records: &[Record]) -> Vec<(String, String)> {
    let (links, _) = link(records, &ReconcileSettings::default());
    links
        .into_iter()
        .filter(|l| l.band == Band::Accept)
        .map(|l| (l.left_record_id, l.right_record_id))
        .collect()
}

#[test]
fn a_shortened_word_links_inside_a_big_block() {
    let mut records = big_idp_block(1200);
    records.push(rec(
        "IDP-TRUE",
        Dataset::Idp,
        "Provision of Sewer Reticulation in Empangeni",
        "52802051",
        "Sanitation Infrastructure",
        4_000_000.0,
    ));
    records.push(rec(
        "BUD-1",
        Dataset::Budget,
        "Provision of Sewer Retic in Empangeni",
        "52802051",
        "Sanitation Infrastructure",
        4_240_000.0,
    ));
    assert_eq!(accepted(&records), [("BUD-1".to_string(), "IDP-TRUE".to_string())]);
}

#[test]
fn a_budget_only_generic_item_stays_unlinked() {
    let mut records = big_idp_block(300);
    for i in [1, 4, 9] {
        records.push(rec(
            &format!("IDP-FURN-{i}"),
            Dataset::Idp,
            &format!("Office Furniture - Finance {i}"),
            "52802001",
            "Furniture and Office Equipment",
            250_000.0,
        ));
    }
    records.push(rec(
        "BUD-FURN-2",
        Dataset::Budget,
        "Office Furniture - Finance 2",
        "52802001",
        "Furniture and Office Equipment",
        250_000.0,
    ));
    records.push(rec(
        "BUD-FURN-9",
        Dataset::Budget,
        "Office Furniture - Finance 9",
        "52802001",
        "Furniture and Office Equipment",
        250_000.0,
    ));
    // Item 9 is the IDP's item 9; item 2 has no counterpart, however alike the names.
    assert_eq!(
        accepted(&records),
        [("BUD-FURN-9".to_string(), "IDP-FURN-9".to_string())]
    );
}

#[test]
fn different_work_on_the_same_asset_and_place_is_not_accepted() {
    let mut records = big_idp_block(300);
    records.push(rec(
        "IDP-HML",
        Dataset::Idp,
        "Extension of High Mast Lights in Kabokweni Phase 3",
        "52802010",
        "Electrical Infrastructure",
        3_000_000.0,
    ));
    records.push(rec(
        "BUD-HML",
        Dataset::Budget,
        "Development of High Mast Lights in Kabokweni",
        "52802011",
        "Electrical Infrastructure",
        1_200_000.0,
    ));
    assert_eq!(accepted(&records), Vec::<(String, String)>::new());
}

#[test]
fn a_record_without_a_name_is_scored_on_the_rest_of_its_evidence() {
    let mut records = big_idp_block(120);
    records.push(rec(
        "IDP-CLINIC",
        Dataset::Idp,
        "Construction of Nseleni Clinic",
        "52802077",
        "Health Facilities",
        6_500_000.0,
    ));
    records.push(empty_budget_line(6_500_000.0));
    let found = |records: &[Record]| -> Vec<(String, &'static str)> {
        let (links, _) = link(records, &ReconcileSettings::default());
        links
            .into_iter()
            .map(|l| (l.right_record_id, l.band.as_str()))
            .collect()
    };
    // The only project of that class in that ward, new work, of the same amount: overwhelming.
    assert_eq!(found(&records), [("IDP-CLINIC".to_string(), "accept")]);
    // A second clinic in the ward of a similar amount: for an analyst to decide.
    records.push(rec(
        "IDP-CLINIC-2",
        Dataset::Idp,
        "Upgrading of Nseleni Clinic",
        "52802077",
        "Health Facilities",
        6_000_000.0,
    ));
    assert_eq!(found(&records), [("IDP-CLINIC".to_string(), "review")]);
}

#[test]
fn probabilities_share_between_look_alikes_and_leave_room_for_no_match() {
    // One strong candidate: nearly certain. 2^20 / (2^6 + 2^20).
    let p = match_probabilities(&[20.0], 6.0);
    assert!((p[0] - 1.0 / (1.0 + 2f64.powi(-14))).abs() < 1e-12, "{p:?}");
    // Two equally strong candidates: neither reaches one half.
    let p = match_probabilities(&[20.0, 20.0], 6.0);
    assert!((p[0] - p[1]).abs() < 1e-12 && p[0] < 0.5, "{p:?}");
    // A lone candidate two bits above the no-match weight: 4 / (1 + 4) = 0.8.
    let p = match_probabilities(&[8.0], 6.0);
    assert!((p[0] - 0.8).abs() < 1e-12, "{p:?}");
}

#[test]
fn a_department_initialism_and_a_verb_on_one_side_are_no_evidence_against() {
    let l = Record {
        department: Some("Health".into()),
        project_name: Some("Mdantsane Community Health Centre".into()),
        ..Record::bare("L", "irm", Dataset::Departmental, "BUF")
    };
    let r = Record {
        project_name: Some("Construction of Mdantsane Community Health Centre (DoH)".into()),
        ..Record::bare("R", "idp", Dataset::Idp, "BUF")
    };
    let (lp, rp) = (score::Prepared::new(&l), score::Prepared::new(&r));
    let tw = score::TermWeights::from_profiles([rp.name.as_ref().unwrap()].into_iter());
    let (a, b) = (
        lp.name.as_ref().unwrap().without(&lp.ignore),
        rp.name.as_ref().unwrap().without(&lp.ignore),
    );
    let s = score::profile_similarity(&a, &b, &tw);
    assert!(s >= score::NAME_THRESHOLDS[0], "{s}");
}

/// A provincial project as an IRM row has it: a name, a department and sector, no wards and
/// no asset class.
fn irm(id: &str, name: &str, department: &str, sector: &str, rand: f64) -> Record {
    Record {
        department: Some(department.into()),
        function: Some(sector.into()),
        ward_codes: None,
        asset_class: None,
        ..rec(id, Dataset::Departmental, name, "", "", rand)
    }
}

#[test]
fn a_school_is_not_a_library_however_alike_the_places() {
    let mut records = big_idp_block(300)
        .into_iter()
        .map(|r| Record {
            dataset: Dataset::Budget,
            ..r
        })
        .collect::<Vec<_>>();
    records.push(rec(
        "BUD-LIB",
        Dataset::Budget,
        "CONSTR BETHELSDORP SECTION B LIBRARY",
        "52802020",
        "Community Facilities",
        2_000_000.0,
    ));
    records.push(irm(
        "IRM-SCHOOL",
        "Bethelsdorp Section B Primary School",
        "Education",
        "Education",
        2_000_000.0,
    ));
    records.push(irm(
        "IRM-LIB",
        "Bethelsdorp Section B Library",
        "Sport, Recreation, Arts and Culture",
        "Arts and Culture",
        2_000_000.0,
    ));
    let (links, _) = link(&records, &ReconcileSettings::default());
    let found: Vec<(&str, &str, &str)> = links
        .iter()
        .filter(|l| l.link_type == LinkType::DepartmentalBudget)
        .map(|l| (l.left_record_id.as_str(), l.right_record_id.as_str(), l.band.as_str()))
        .collect();
    assert_eq!(found, [("IRM-LIB", "BUD-LIB", "accept")]);
}

#[test]
fn an_initialism_matches_the_words_it_stands_for() {
    let mut records = big_idp_block(300);
    records.push(rec(
        "IDP-ECD",
        Dataset::Idp,
        "Construction of Nseleni Early Childhood Development Centre",
        "52802033",
        "Community Facilities",
        1_500_000.0,
    ));
    records.push(Record {
        project_type: Some("New".into()),
        ..rec(
            "BUD-ECD",
            Dataset::Budget,
            "CONSTR NSELENI ECD CENTRE",
            "52802033",
            "Community Facilities",
            1_500_000.0,
        )
    });
    assert_eq!(accepted(&records), [("BUD-ECD".to_string(), "IDP-ECD".to_string())]);
}

#[test]
fn words_written_without_vowels_link_inside_a_big_block() {
    assert_eq!(names::outline("tongaat"), names::outline("tngt"));
    assert_eq!(names::outline("village"), names::outline("vllg"));
    assert_eq!(names::outline("community"), names::outline("cmmnty"));
    assert_ne!(names::outline("tongaat"), names::outline("village"));
    assert_eq!(names::outline("ab"), None);
    let mut records = big_idp_block(1200);
    records.push(rec(
        "IDP-TRUE",
        Dataset::Idp,
        "Tongaat Village Community Hall",
        "52802033",
        "Community Assets",
        2_500_000.0,
    ));
    records.push(rec(
        "BUD-1",
        Dataset::Budget,
        "TNGT VLLG CMMNTY HALL",
        "52802033",
        "Community Assets",
        2_600_000.0,
    ));
    assert_eq!(accepted(&records), [("BUD-1".to_string(), "IDP-TRUE".to_string())]);
}

#[test]
fn a_bepp_project_identified_by_one_fund_line_links_to_its_other_fund_lines() {
    let mut records = vec![
        Record {
            mscoa_project_number: Some("PC001_01343".into()),
            ..rec(
                "BEPP-1",
                Dataset::Bepp,
                "Glenwood Electrification",
                "52802012",
                "Electrical Infrastructure",
                1_363_000.0,
            )
        },
        Record {
            mscoa_project_number: Some("PC001_01343".into()),
            ..rec(
                "BUD-USDG",
                Dataset::Budget,
                "UPGR GLENWOOD ELECTRIFICATION (USDG)",
                "52802012",
                "Electrical Infrastructure",
                600_000.0,
            )
        },
        Record {
            mscoa_project_number: Some("PC001_91344".into()),
            ..rec(
                "BUD-CRR",
                Dataset::Budget,
                "UPGR GLENWOOD ELECTRIFICATION (CRR)",
                "52802012",
                "Electrical Infrastructure",
                656_250.0,
            )
        },
        // Same words, another ward and another kind of work: another project.
        Record {
            mscoa_project_number: Some("PC001_77777".into()),
            ..rec(
                "BUD-OTHER",
                Dataset::Budget,
                "Glenwood Community Hall",
                "52802040",
                "Community Assets",
                900_000.0,
            )
        },
    ];
    records.extend(big_idp_block(60));
    let (links, _) = link(&records, &ReconcileSettings::default());
    let bepp_budget: Vec<(&str, Method)> = links
        .iter()
        .filter(|l| l.link_type == LinkType::BeppBudget && l.band == Band::Accept)
        .map(|l| (l.right_record_id.as_str(), l.method))
        .collect();
    assert_eq!(
        bepp_budget,
        [
            ("BUD-CRR", Method::Probabilistic),
            ("BUD-USDG", Method::ExactIdentifier)
        ]
    );
    let crr = links.iter().find(|l| l.right_record_id == "BUD-CRR").unwrap();
    assert!(crr.evidence.contains("fund_split_of"), "{}", crr.evidence);
}

#[test]
fn names_of_different_places_are_not_the_same_name() {
    let tw = score::TermWeights::new(
        [
            "Refurbishment of KwaDwesi Sewer Pump Station",
            "Refurbishment of Motherwell Sewer Pump Station",
            "Motherwell Community Hall",
        ]
        .into_iter(),
    );
    let other_place = score::compare_names(
        &names::NameProfile::new("REFURB HUMEWOOD SWR PUMP STN"),
        &names::NameProfile::new("Refurbishment of KwaDwesi Sewer Pump Station"),
        &tw,
    );
    assert!(other_place.conflict, "{other_place:?}");
    let same_place = score::compare_names(
        &names::NameProfile::new("REFURB KWADWESI SWR PUMP STN"),
        &names::NameProfile::new("Refurbishment of KwaDwesi Sewer Pump Station"),
        &tw,
    );
    assert!(!same_place.conflict && same_place.similarity > 0.9, "{same_place:?}");
    // One place cut short and misspelt is still one place.
    let garbled = score::compare_names(
        &names::NameProfile::new("UPGR DOORFNON COM PARK"),
        &names::NameProfile::new("Doornfontein Community Park Upgrade"),
        &tw,
    );
    assert!(!garbled.conflict, "{garbled:?}");
    // In a big block: a budget line for a pump station in a place the IDP does not have stays
    // unlinked, though its words, asset class and amount are those of another place's station.
    let mut records = big_idp_block(600);
    records.push(rec(
        "IDP-KWADWESI",
        Dataset::Idp,
        "Refurbishment of KwaDwesi Sewer Pump Station",
        "52802022",
        "Sanitation Infrastructure",
        3_000_000.0,
    ));
    records.push(rec(
        "BUD-HUMEWOOD",
        Dataset::Budget,
        "REFURB HUMEWOOD SWR PUMP STN",
        "52802048",
        "Sanitation Infrastructure",
        3_100_000.0,
    ));
    let links = accepted(&records);
    assert!(links.is_empty(), "{links:?}");
}

#[test]
fn a_place_is_a_word_of_few_municipalities_and_an_asset_one_of_many() {
    let codes = [
        "BUF", "NMA", "MAN", "CPT", "ETH", "EKU", "JHB", "TSH", "EC122", "EC121", "KZN282", "WC011",
    ];
    let mut records = Vec::new();
    for (i, code) in codes.iter().enumerate() {
        let place = match i {
            0 => "Ginsberg",
            1 => "Phakamisa",
            _ => "Central",
        };
        for (j, asset) in ["Boreholes", "Reservoir", "Indoor Sports Centre"].iter().enumerate() {
            records.push(Record {
                project_name: Some(format!("{place} {asset}")),
                ..Record::bare(&format!("{code}-{j}"), "s", Dataset::Idp, code)
            });
        }
    }
    let prepared: Vec<score::Prepared> = records.iter().map(score::Prepared::new).collect();
    let spread = score::Spread::of(&records, &prepared).map(std::sync::Arc::new);
    assert!(spread.is_some(), "twelve municipalities are enough to tell");
    let tw = score::TermWeights::new(["Phakamisa Indoor Sports Centre", "Central Reservoir"].into_iter())
        .with_spread(spread);
    let places = score::compare_names(
        &names::NameProfile::new("REFURB GINSBERG INDOOR SPORTS CENTRE"),
        &names::NameProfile::new("Refurbishment of Phakamisa Indoor Sports Centre"),
        &tw,
    );
    assert!(places.conflict, "{places:?}");
    let assets = score::compare_names(
        &names::NameProfile::new("Central Boreholes"),
        &names::NameProfile::new("Central Reservoir"),
        &tw,
    );
    assert!(!assets.conflict, "{assets:?}");
}

#[test]
fn a_project_another_budget_line_names_exactly_is_not_taken_by_one_that_only_resembles_it() {
    let mut records = big_idp_block(60);
    records.push(rec(
        "IDP-KIRKWOOD-S",
        Dataset::Idp,
        "Kirkwood South Public Toilets",
        "52802061",
        "Sanitation Infrastructure",
        2_000_000.0,
    ));
    // The project's own budget line, and a budget-only project of the same kind in the next
    // place along, in another ward.
    records.push(rec(
        "BUD-KIRKWOOD-S",
        Dataset::Budget,
        "Kirkwood South Public Toilets",
        "52802061",
        "Sanitation Infrastructure",
        2_000_000.0,
    ));
    let alone = {
        let mut r = records.clone();
        r.push(rec(
            "BUD-KIRKWOOD",
            Dataset::Budget,
            "CONSTR KIRKWOOD PUBLIC TOILETS",
            "52802062",
            "Sanitation Infrastructure",
            1_900_000.0,
        ));
        r
    };
    let (links, _) = link(&alone, &ReconcileSettings::default());
    let band_of = |left: &str| -> Vec<(String, &'static str, bool)> {
        links
            .iter()
            .filter(|l| l.left_record_id == left)
            .map(|l| {
                (
                    l.right_record_id.clone(),
                    l.band.as_str(),
                    l.evidence.contains("better_name_elsewhere"),
                )
            })
            .collect()
    };
    assert_eq!(
        band_of("BUD-KIRKWOOD-S"),
        [("IDP-KIRKWOOD-S".to_string(), "accept", false)]
    );
    // Without the exact namesake it would be accepted (checked below); with it, review, saying why.
    assert_eq!(
        band_of("BUD-KIRKWOOD"),
        [("IDP-KIRKWOOD-S".to_string(), "review", true)]
    );
    let without: Vec<Record> = alone.into_iter().filter(|r| r.record_id != "BUD-KIRKWOOD-S").collect();
    let (links, _) = link(&without, &ReconcileSettings::default());
    let bands: Vec<(&str, &str)> = links
        .iter()
        .map(|l| (l.left_record_id.as_str(), l.band.as_str()))
        .collect();
    assert_eq!(bands, [("BUD-KIRKWOOD", "accept")]);
}

#[test]
fn a_record_without_a_name_does_not_take_a_project_a_named_line_of_another_project_has() {
    let mut records = big_idp_block(120);
    for (id, name, rand) in [
        ("IDP-CLINIC", "Construction of Nseleni Clinic", 6_500_000.0),
        ("IDP-CLINIC-2", "Construction of Nseleni Satellite Clinic", 6_400_000.0),
    ] {
        records.push(rec(id, Dataset::Idp, name, "52802077", "Health Facilities", rand));
    }
    records.push(empty_budget_line(6_450_000.0));
    let found = |records: &[Record]| -> Vec<(String, String, &'static str)> {
        let (links, _) = link(records, &ReconcileSettings::default());
        links
            .into_iter()
            .map(|l| (l.left_record_id, l.right_record_id, l.band.as_str()))
            .collect()
    };
    // Two clinics in its ward, alike in every way it can be compared: for review.
    assert_eq!(found(&records), [("BUD-EMPTY".into(), "IDP-CLINIC".into(), "review")]);
    // Once the first clinic has its own budget line, the line without a name is the second's.
    records.push(rec(
        "BUD-CLINIC",
        Dataset::Budget,
        "CONSTR NSELENI CLINIC",
        "52802077",
        "Health Facilities",
        6_500_000.0,
    ));
    assert_eq!(
        found(&records),
        [
            ("BUD-CLINIC".into(), "IDP-CLINIC".into(), "accept"),
            ("BUD-EMPTY".into(), "IDP-CLINIC-2".into(), "accept"),
        ]
    );
}
