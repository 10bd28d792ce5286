//! Issue #19 on the bundled sample, as an analyst reads the outputs: peer groups by MIIF class,
//! MTSF outcomes carried through links, projects on a map (GeoParquet), budget per ward, and the
//! metrics history that outlives retention.

use crate::common::*;
use harvester::contracts::reference::Reference;
use harvester::metrics::peers::peer_group;
use harvester::run::run;

/// The sample's municipal metric rows carry their MIIF class; profiles are unranked.
#[test]
fn sample_peers_are_miif_classes_and_profiles_are_unranked() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    block_on(run(&sample_pipeline(out), clock(0))).unwrap();
    let m = read_table(out, &manifest(out), "alignment_metrics");
    let (level, area, metric, group, better) = (
        strings(&m, "level"),
        strings(&m, "area_code"),
        strings(&m, "metric"),
        strings(&m, "peer_group"),
        strings(&m, "better"),
    );
    let rank = m.column("peer_rank").unwrap().i32().unwrap().clone();
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..m.height() {
        if level[i].as_deref() != Some("municipality") {
            assert_eq!(group[i], None, "roll-up rows have no peer group");
            continue;
        }
        let code = area[i].clone().unwrap();
        let want = match code.as_str() {
            "BUF" => "A".to_string(),
            "EC121" | "EC122" => "B4".to_string(),
            other => peer_group(Reference::bundled(), other),
        };
        assert_eq!(group[i].as_deref(), Some(want.as_str()));
        if better[i].as_deref() == Some("none") {
            assert_eq!(rank.get(i), None, "{:?} is a profile and must not be ranked", metric[i]);
            seen.insert(metric[i].clone().unwrap());
        }
    }
    assert!(seen.contains("budget_by_mtsf_outcome_share"), "{seen:?}");
    assert!(seen.contains("idp_value_by_mtsf_outcome_share"), "{seen:?}");
}

/// An IDP project of the sample inherits the MTSF outcome of the budget line it is linked to,
/// and says so.
#[test]
fn sample_idp_projects_inherit_their_linked_budget_lines_mtsf_outcome() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    block_on(run(&sample_pipeline(out), clock(0))).unwrap();
    let man = manifest(out);
    let p = read_table(out, &man, "projects");
    let links = read_table(out, &man, "links");
    let (id, dataset, outcome, origin, from) = (
        strings(&p, "record_id"),
        strings(&p, "dataset"),
        strings(&p, "mtsf_outcome"),
        strings(&p, "mtsf_outcome_origin"),
        strings(&p, "mtsf_outcome_from_record"),
    );
    let outcome_of = |rid: &str| {
        let i = id.iter().position(|x| x.as_deref() == Some(rid)).unwrap();
        outcome[i].clone()
    };
    let (left, right, band) = (
        strings(&links, "left_record_id"),
        strings(&links, "right_record_id"),
        strings(&links, "band"),
    );
    let mut inherited = 0;
    for i in 0..p.height() {
        if dataset[i].as_deref() == Some("budget") {
            assert_ne!(
                origin[i].as_deref(),
                Some("inherited_via_link"),
                "budget lines never inherit"
            );
        }
        if dataset[i].as_deref() != Some("idp") || origin[i].as_deref() != Some("inherited_via_link") {
            continue;
        }
        inherited += 1;
        let line = from[i].clone().expect("the line it came from");
        assert_eq!(outcome[i], outcome_of(&line), "{:?} inherits {line}'s outcome", id[i]);
        assert!(outcome[i].is_some());
        let linked = (0..links.height()).any(|j| {
            left[j].as_deref() == Some(line.as_str()) && right[j] == id[i] && band[j].as_deref() == Some("accept")
        });
        assert!(linked, "{:?} is linked to {line}", id[i]);
    }
    assert!(
        inherited > 0,
        "the sample's IDP projects have no outcome of their own; some must inherit one"
    );
    // Own values are marked own.
    for i in 0..p.height() {
        if origin[i].as_deref() == Some("own") {
            assert_eq!(from[i], None);
            assert!(outcome[i].is_some());
        }
    }
}
