//! The reviewer's sandbox (issue 15): Timesheet Builder gets a passing review, every
//! hostile plugin a failing one naming the limit or capability it hit, and a review
//! never holds a row's content.

use airlock_plugin_artifacts as artifacts;
use airlock_sandbox::{CaseKind, Options, Progress, Review, review};
use airlock_tests::runtime;
use std::path::Path;

fn reviewed(wasm: &str, options: &Options) -> Review {
    review(runtime(), Path::new(wasm), options).expect("the sandbox runs")
}

/// Fewer valid rows and fuzz batches than a reviewer's default: the same cases, faster.
fn quick() -> Options {
    Options {
        rows: 300,
        fuzz_batches: 2,
        ..Options::default()
    }
}

#[test]
fn timesheet_builder_passes_its_review_on_every_kind_of_case() {
    let mut seen = Vec::new();
    let review = airlock_sandbox::review_with_progress(
        runtime(),
        Path::new(artifacts::TIMESHEET_BUILDER),
        &quick(),
        &mut |p| seen.push(p),
    )
    .expect("the sandbox runs");
    // Progress: loading first, then every batch call of both runs, counted to the total.
    assert_eq!(seen.first(), Some(&Progress::Loading));
    match seen.last() {
        Some(Progress::Batches { done, total }) => {
            assert_eq!(done, total);
            assert_eq!(*total, 2 * review.batches.len());
        }
        other => panic!("{other:?}"),
    }
    assert!(
        review.passed,
        "{:#?}\n{:#?}",
        review.failures, review.warnings
    );
    assert!(review.deterministic);
    for kind in [
        CaseKind::Valid,
        CaseKind::Edge,
        CaseKind::Malformed,
        CaseKind::Orphan,
        CaseKind::OlderVersion,
        CaseKind::Fuzz,
    ] {
        assert!(
            review.batches.iter().any(|b| b.case == kind),
            "no {kind:?} batch"
        );
    }
    // The valid rows are migrated, and the access summary is what it declares.
    assert!(
        review
            .batches
            .iter()
            .any(|b| b.case == CaseKind::Valid && b.call == "migrate-batch" && b.outputs > 0)
    );
    assert!(
        review
            .access
            .namespaces_resolved
            .iter()
            .all(|n| review.access.namespaces_declared.contains(n))
    );
    assert!(!review.access.namespaces_resolved.is_empty());
    assert!(review.transcript_calls > 0 && !review.transcript.is_empty());
    assert!(review.limits.valid_rows > 0 && review.limits.fuel_per_row > 0.0);
    assert!(review.limits.fuel_of_cap < 1.0 && review.limits.memory_of_cap < 1.0);
}

/// What each hostile plugin must be failed for (any one of the codes).
fn expected_failure(name: &str) -> &'static [&'static str] {
    match name {
        "deep-recursion" => &["stack-overflow"],
        "dot-key" => &["invalid-output"],
        "findings-flood" => &["findings-flood"],
        "forbidden-import" | "split-memory" | "many-memories" | "sleeper-in-describe" => {
            &["refused-at-load"]
        }
        "foreign-table" | "ungranted-namespace" => &["access-denied"],
        "id-flood" => &["host-call-limit"],
        "infinite-loop" => &["out-of-fuel", "deadline"],
        "log-flood" => &["log-quota"],
        "memory-hog" => &["memory-limit"],
        "output-flood" => &["output-quota"],
        // Its key collides with another app's namespace; the static one's one document
        // grows past Jira's size limit with every name it remembers.
        "prefix-collider" | "static-state" => &["invalid-output"],
        "random-draw" => &["nondeterministic"],
        "sandbox-escape" => &["network"],
        "sleeper" => &["deadline"],
        "trap-mid-batch" => &["trap"],
        other => panic!("hostile plugin {other} has no expected verdict: add it here"),
    }
}

/// A fixture whose one row names the key dot-key turns into `..`: its hostility is in
/// the data it is given, as a vendor's fixture would carry it.
fn dot_key_fixture(dir: &Path) -> std::path::PathBuf {
    let prefix = airlock_model::AppKey::new("com.airlock.hostile.dot-key").ao_prefix();
    let table = format!("{}_DATA", prefix.as_str().trim_end_matches('_'));
    let fixture = dir.join("dot-key");
    std::fs::create_dir_all(&fixture).unwrap();
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <backup xmlns=\"http://www.atlassian.com/ao\">\n\
         <table name=\"{table}\">\n\
         <column name=\"ID\" primaryKey=\"true\" autoIncrement=\"true\" sqlType=\"-5\" precision=\"19\"/>\n\
         <column name=\"NAME\" primaryKey=\"false\" autoIncrement=\"false\" sqlType=\"12\" precision=\"255\"/>\n\
         </table>\n<data tableName=\"{table}\">\n<column name=\"ID\"/>\n<column name=\"NAME\"/>\n\
         <row><integer>1</integer><string>dotdot</string></row>\n</data>\n</backup>\n"
    );
    std::fs::write(fixture.join("activeobjects.xml"), xml).unwrap();
    fixture
}

#[test]
fn each_hostile_plugin_fails_its_review_naming_what_it_hit() {
    let dir = tempfile::tempdir().unwrap();
    for (name, wasm) in artifacts::HOSTILE {
        let options = Options {
            fixture: (*name == "dot-key").then(|| dot_key_fixture(dir.path())),
            fuzz_batches: 1,
            ..Options::default()
        };
        let review = reviewed(wasm, &options);
        let codes = expected_failure(name);
        assert!(!review.passed, "{name} passed its review");
        assert!(
            review
                .failures
                .iter()
                .any(|f| codes.contains(&f.code.as_str())),
            "{name}: expected one of {codes:?}, got {:#?}",
            review.failures
        );
        for f in &review.failures {
            assert!(f.what.len() > 20, "{name}: a failure says what: {f:?}");
        }
    }
    // The escape attempts are named as what they are.
    let review = reviewed(artifacts::HOSTILE_SANDBOX_ESCAPE, &quick());
    let codes: Vec<&str> = review.failures.iter().map(|f| f.code.as_str()).collect();
    assert!(
        codes.contains(&"network") && codes.contains(&"filesystem"),
        "{codes:?}"
    );
    assert!(review.access.network_calls > 0 && review.access.directory_lookups > 0);
}

#[test]
fn a_review_holds_no_row_content() {
    // A fixture with canaries in the app's rows (a team name): the plugin reads and
    // migrates them; the review (JSON and HTML) must not carry them.
    let dir = tempfile::tempdir().unwrap();
    let fixture = dir.path().join("fixture");
    let spec = airlock_fixtures::Spec {
        canaries: true,
        ..airlock_fixtures::Spec::default()
    };
    airlock_fixtures::write_plugin_fixture(&fixture, &spec).unwrap();
    let ao = std::fs::read_to_string(fixture.join("activeobjects.xml")).unwrap();
    let canary = airlock_fixtures::CANARIES[2];
    assert!(ao.contains(canary), "the fixture carries the canary");

    let options = Options {
        fixture: Some(fixture),
        ..quick()
    };
    let review = reviewed(artifacts::TIMESHEET_BUILDER, &options);
    assert!(review.passed, "{:#?}", review.failures);
    let (json, html) = airlock_sandbox::write(&review, &dir.path().join("out")).unwrap();
    for path in [json, html] {
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.len() > 1000, "{} is a whole review", path.display());
        assert!(
            !text.contains("5f1d2c"),
            "{} holds row content (a canary)",
            path.display()
        );
    }
}

#[test]
fn a_2_0_plugin_is_reviewed_through_its_finish_with_what_it_publishes_resolvable() {
    let review = reviewed(artifacts::TEAM_DIRECTORY, &quick());
    assert!(
        review.passed,
        "{:#?}\n{:#?}",
        review.failures, review.warnings
    );
    let finishes: Vec<_> = review
        .batches
        .iter()
        .filter(|b| b.call == "finish")
        .collect();
    assert_eq!(finishes.len(), 2, "after analyze and after migrate");
    assert!(finishes.iter().all(|b| b.outcome == "ok"), "{finishes:?}");
    // The host's own check of what it published is not the plugin's lookup.
    assert!(
        !(review.access.namespaces_resolved.iter()).any(|ns| ns == "app:com.acme.teams:team"),
        "{:?}",
        review.access.namespaces_resolved
    );
    // Its members are looked up by team, in one `find` per batch of teams.
    assert!(
        review
            .transcript
            .iter()
            .any(|c| c.import == "app-data.find"),
        "{:?}",
        review
            .transcript
            .iter()
            .map(|c| c.import)
            .collect::<Vec<_>>()
    );
}
