//! Projects on a map: the `project_locations` table, written as GeoParquet 1.1.
//!
//! Every record with coordinates becomes one row with a `geometry` column holding its point as
//! ISO WKB (little-endian, 21 bytes: byte order, type 1, x = longitude, y = latitude) in a plain
//! binary column, and every file of a table with such a column carries the GeoParquet `geo`
//! key-value metadata in its footer ([`file_metadata`], added by `publish::to_parquet`):
//! version 1.1.0, primary column `geometry`, encoding `WKB`, geometry types `["Point"]`, the
//! CRS as PROJJSON of OGC:CRS84 (WGS 84 longitude/latitude, the same datum as EPSG:4326 with
//! the axis order GeoParquet uses) and the file's bounding box. QGIS/GDAL, DuckDB spatial,
//! GeoPandas and kepler.gl read it as a point layer. Each point is also checked against the
//! municipality it is stated to be in (`contracts::bounds`), the result in `coordinate_check`.

use crate::contracts::bounds;
use crate::contracts::reference::Reference;
use crate::records::Record;
use polars::prelude::*;

/// The geometry column's name.
pub const GEOMETRY: &str = "geometry";

/// OGC:CRS84 as PROJJSON, as PROJ 9.5 writes it (`data/reference/ogc_crs84.projjson`).
const CRS84_PROJJSON: &str = include_str!("../../data/reference/ogc_crs84.projjson");

/// A point as ISO WKB, little-endian.
pub fn wkb_point(lon: f64, lat: f64) -> Vec<u8> {
    let mut b = Vec::with_capacity(21);
    b.push(1u8);
    b.extend_from_slice(&1u32.to_le_bytes());
    b.extend_from_slice(&lon.to_le_bytes());
    b.extend_from_slice(&lat.to_le_bytes());
    b
}

/// Decodes a WKB point (either byte order) into (x, y); `None` for anything else.
pub fn read_wkb_point(b: &[u8]) -> Option<(f64, f64)> {
    let little = match b.first()? {
        1 => true,
        0 => false,
        _ => return None,
    };
    let f = |r: std::ops::Range<usize>| -> Option<[u8; 8]> { b.get(r)?.try_into().ok() };
    let kind: [u8; 4] = b.get(1..5)?.try_into().ok()?;
    let kind = if little {
        u32::from_le_bytes(kind)
    } else {
        u32::from_be_bytes(kind)
    };
    if kind != 1 || b.len() != 21 {
        return None;
    }
    let (x, y) = (f(5..13)?, f(13..21)?);
    Some(if little {
        (f64::from_le_bytes(x), f64::from_le_bytes(y))
    } else {
        (f64::from_be_bytes(x), f64::from_be_bytes(y))
    })
}

/// The GeoParquet `geo` metadata for a file holding `df`, when `df` has a binary `geometry`
/// column; the bounding box is computed from the points in this file (omitted when it has none).
pub fn file_metadata(df: &DataFrame) -> PolarsResult<Option<String>> {
    let Ok(column) = df.column(GEOMETRY) else {
        return Ok(None);
    };
    if column.dtype() != &DataType::Binary {
        return Ok(None);
    }
    let mut bbox: Option<[f64; 4]> = None;
    let points = column.binary()?;
    for (x, y) in (0..points.len()).filter_map(|i| points.get(i).and_then(read_wkb_point)) {
        let b = bbox.get_or_insert([x, y, x, y]);
        *b = [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)];
    }
    let crs: serde_json::Value =
        serde_json::from_str(CRS84_PROJJSON).map_err(|e| polars_err!(ComputeError: "bundled CRS84 PROJJSON: {e}"))?;
    let mut col = serde_json::json!({
        "encoding": "WKB",
        "geometry_types": ["Point"],
        "crs": crs,
        "edges": "planar",
    });
    if let Some(b) = bbox {
        col["bbox"] = serde_json::json!(b);
    }
    let geo = serde_json::json!({
        "version": "1.1.0",
        "primary_column": GEOMETRY,
        "columns": { GEOMETRY: col },
    });
    Ok(Some(geo.to_string()))
}

/// `project_locations`: one row per record with coordinates, sorted by `record_id`.
pub fn project_locations(records: &[Record]) -> PolarsResult<DataFrame> {
    let mut located: Vec<(&Record, f64, f64)> = records
        .iter()
        .filter_map(|r| Some((r, r.latitude?, r.longitude?)))
        .filter(|(_, lat, lon)| lat.is_finite() && lon.is_finite())
        .collect();
    located.sort_by(|a, b| a.0.record_id.cmp(&b.0.record_id));
    let reference = Reference::bundled();
    let points: Vec<(Option<&str>, (f64, f64))> = located
        .iter()
        .map(|(r, lat, lon)| (r.demarcation_code.as_deref(), (*lat, *lon)))
        .collect();
    let checks = bounds::check_points(reference, &points);
    let s = |f: fn(&Record) -> Option<&str>| located.iter().map(|(r, ..)| f(r)).collect::<Vec<_>>();
    let columns = vec![
        Column::new(
            "record_id".into(),
            located.iter().map(|(r, ..)| r.record_id.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(
            "dataset".into(),
            located.iter().map(|(r, ..)| r.dataset.as_str()).collect::<Vec<_>>(),
        ),
        Column::new("demarcation_code".into(), s(|r| r.demarcation_code.as_deref())),
        Column::new(
            "province_code".into(),
            located
                .iter()
                .map(|(r, ..)| {
                    r.demarcation_code
                        .as_deref()
                        .and_then(|c| reference.get(c))
                        .map(|m| m.province.as_str())
                })
                .collect::<Vec<_>>(),
        ),
        Column::new("project_ref".into(), s(|r| r.project_ref.as_deref())),
        Column::new("project_name".into(), s(|r| r.project_name.as_deref())),
        Column::new(
            "financial_year".into(),
            located
                .iter()
                .map(|(r, ..)| r.financial_year.map(|y| y.start_year))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "amount_rand".into(),
            located.iter().map(|(r, ..)| r.amount_rand).collect::<Vec<_>>(),
        ),
        Column::new("mtsf_outcome".into(), s(|r| r.mtsf_outcome.as_deref())),
        Column::new("iudf".into(), s(|r| r.iudf.as_deref())),
        Column::new("integration_zone".into(), s(|r| r.integration_zone.as_deref())),
        Column::new("ward_codes".into(), s(|r| r.ward_codes.as_deref())),
        Column::new(
            "latitude".into(),
            located.iter().map(|(_, lat, _)| *lat).collect::<Vec<_>>(),
        ),
        Column::new(
            "longitude".into(),
            located.iter().map(|(_, _, lon)| *lon).collect::<Vec<_>>(),
        ),
        Column::new(
            "coordinate_check".into(),
            checks.iter().map(|c| c.0.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(
            "coordinate_check_detail".into(),
            checks.iter().map(|c| c.1.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(
            GEOMETRY.into(),
            located
                .iter()
                .map(|(_, lat, lon)| wkb_point(*lon, *lat))
                .collect::<Vec<_>>(),
        ),
    ];
    DataFrame::new(located.len(), columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wkb_points_round_trip_and_the_metadata_names_crs84() {
        let b = wkb_point(28.31, -32.1);
        assert_eq!(b.len(), 21);
        assert_eq!(&b[..5], &[1, 1, 0, 0, 0]);
        assert_eq!(read_wkb_point(&b), Some((28.31, -32.1)));
        let df = DataFrame::new(
            2,
            vec![Column::new(
                GEOMETRY.into(),
                vec![wkb_point(28.0, -32.0), wkb_point(27.5, -33.0)],
            )],
        )
        .unwrap();
        let geo: serde_json::Value = serde_json::from_str(&file_metadata(&df).unwrap().unwrap()).unwrap();
        let g = &geo["columns"]["geometry"];
        assert_eq!(g["encoding"], "WKB");
        assert_eq!(g["crs"]["id"]["code"], "CRS84");
        assert_eq!(g["bbox"], serde_json::json!([27.5, -33.0, 28.0, -32.0]));
        assert_eq!(geo["primary_column"], "geometry");
    }
}
