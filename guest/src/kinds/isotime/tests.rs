use super::*;

/// Microseconds since the epoch as Python 3.12's `fromisoformat` gives
/// them after the app's `Z` rewrite (naive = UTC), computed with CPython;
/// `None` where it raises. The parser was also run against CPython on
/// some hundred thousand generated strings.
const CPYTHON: &[(&str, Option<i128>)] = &[
    ("2026-04-18T12:00:00Z", Some(1776513600000000)),
    ("2026-04-18T12:00:00+00:00", Some(1776513600000000)),
    ("2026-04-18T12:00:00", Some(1776513600000000)),
    ("2026-04-18", Some(1776470400000000)),
    ("20260418", Some(1776470400000000)),
    ("2026-04-18 12:00", Some(1776513600000000)),
    ("2026-04-18é12:00", Some(1776513600000000)),
    ("2026-W16", Some(1776038400000000)),
    ("2026W163", Some(1776211200000000)),
    ("2026-W16-3T12", Some(1776254400000000)),
    ("2020-W53-7", Some(1609632000000000)),
    ("2026-W53", Some(1798416000000000)),
    (
        "2026-04-18T12:00:00.123456789+02:00",
        Some(1776506400123456),
    ),
    ("2026-04-18T12:00:00,5-02:30", Some(1776522600500000)),
    ("2026-04-18T120000", Some(1776513600000000)),
    ("2026-04-18T12000012", Some(1776513600120000)),
    ("2026-04-18T12:00:00.Z", Some(1776513600000000)),
    ("2026-04-18T12:00:00.", None),
    ("2026-04-18T", None),
    ("2026-04-18T12:00:00+00:00.5", Some(1776513600000000)),
    ("2026-04-18T12:00:00+23:59", Some(1776427260000000)),
    ("2026-04-18T12:00:00+24:00", None),
    ("2026-04-18T24:00:00", None),
    ("2026-04-18T23:59:60", None),
    ("2023-02-29", None),
    ("2024-02-29", Some(1709164800000000)),
    ("0001-01-01", Some(-62135596800000000)),
    ("9999-12-31T23:59:59.999999", Some(253402300799999999)),
    ("9999-W52-6", None),
    ("2026-04-18ZZ", Some(1776470400000000)),
    ("2026-04-18T12:00:00ZZ", None),
    ("this is not a timestamp", None),
    ("2026-4-18", None),
    ("20260418T1200Z", Some(1776513600000000)),
    ("2026-0418", None),
    ("", None),
    ("2026", None),
];

#[test]
fn expires_at_parses_as_cpython_fromisoformat_after_the_apps_z_rewrite() {
    for (text, want) in CPYTHON {
        assert_eq!(parse_utc_iso(text), *want, "{text:?}");
    }
}

#[test]
fn a_time_without_an_offset_is_utc_and_an_offset_moves_the_instant() {
    let utc = parse_utc_iso("2026-04-18T12:00:00").unwrap();
    assert_eq!(parse_utc_iso("2026-04-18T12:00:00Z"), Some(utc));
    assert_eq!(parse_utc_iso("2026-04-18T14:00:00+02:00"), Some(utc));
    assert_eq!(parse_utc_iso("2026-04-18T11:00:00-0100"), Some(utc));
}
