//! A deliberately broken device: the supervisor's store acknowledges one received
//! payload without storing it. The invariants must catch it.
//!
//! Reconciliation compares heads, not acknowledgements, so a change dropped in one
//! session is sent again by the next session between the same two devices: the bug
//! heals itself if the pair meets again. Dropped at the last meetup, after which the
//! pair has no reason to sync again, it must show in the final state.

mod common;

use kafo_sim::{RunOptions, Sabotage, Violation, simulate};

#[test]
fn an_acknowledged_change_that_was_not_stored_is_caught() {
    let scenario = common::scenario("sikoro-week");
    let last_meetup = scenario.last_meetup_opens();
    let mut caught = Vec::new();
    for seed in 1..=3u64 {
        let honest = simulate(&scenario, &RunOptions::new(seed, scenario.ci_scale)).expect("runs");
        assert!(
            honest.held(),
            "seed {seed} fails without sabotage:\n{}",
            honest.violations
        );
        let options = RunOptions {
            sabotage: Some(Sabotage { after: last_meetup }),
            ..RunOptions::new(seed, scenario.ci_scale)
        };
        let run = simulate(&scenario, &options).expect("runs");
        let Some(sabotaged) = run.sabotaged.clone() else {
            continue;
        };
        assert!(sabotaged.at >= last_meetup);
        assert!(!run.held(), "seed {seed}: a dropped change went unnoticed");
        let lost = run.violations.kept.iter().any(|violation| {
            matches!(violation, Violation::VisitLost { household, device, .. }
                if *household == sabotaged.household && device.ends_with("/supervisor"))
        });
        assert!(
            lost,
            "seed {seed}: caught, but not as the lost visit:\n{}",
            run.violations
        );
        assert!(!run.metrics.invariants.held);
        caught.push(seed);
    }
    assert!(!caught.is_empty(), "the sabotage never struck");
}
