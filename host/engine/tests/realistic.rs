//! A backup with the shapes real ones hold (`Spec::realistic`): orphans are skipped, not
//! loaded and counted; `--strict` makes them fatal; every element type is in the coverage
//! ledger; control characters, CJK and right-to-left text and cascading selects arrive.

use std::collections::{BTreeMap, BTreeSet};

use airlock_engine::CoverageStatus;
use airlock_engine::RecordReader;
use airlock_engine::State;
use airlock_engine::load;
use airlock_engine::{CheckPolicy, OrphanPolicy};
use airlock_engine::{IntegrityReport, check_with};
use airlock_engine::{Overrides, analyze};
use airlock_fixtures::{Generated, Spec};
use airlock_model::Severity;
use airlock_model::jira::{Kind, Record};
use airlock_site::{LocalSite, Site};
use airlock_staging::SealedStaging;

fn realistic(
    dir: &std::path::Path,
    flavour: airlock_fixtures::Flavour,
) -> (std::path::PathBuf, Generated) {
    let path = dir.join(format!("{flavour:?}.zip"));
    let spec = Spec {
        realistic: true,
        flavour,
        ..Spec::default()
    };
    let generated = airlock_fixtures::write_backup(&path, &spec).unwrap();
    (path, generated)
}

/// The planted orphans, as (entity, id).
fn planted_orphans(generated: &Generated) -> BTreeSet<(String, String)> {
    generated
        .planted_realistic
        .iter()
        .filter(|p| p.check == "orphan-skipped")
        .map(|p| (p.entity.to_owned(), p.id.clone()))
        .collect()
}

/// The user key of the planted `sysadmin@localhost`.
fn sysadmin_key(staging: &SealedStaging) -> String {
    RecordReader::open_kind(staging, Kind::User)
        .unwrap()
        .map(Result::unwrap)
        .find_map(|r| match r {
            Record::User(u) if u.email == "sysadmin@localhost" => Some(u.key),
            _ => None,
        })
        .expect("the planted user is staged")
}

fn fatal_checks(report: &IntegrityReport) -> BTreeSet<String> {
    report
        .findings
        .summaries()
        .into_iter()
        .filter(|s| s.severity == Severity::Fatal)
        .map(|s| s.check.clone())
        .collect()
}

#[test]
fn orphans_are_listed_and_skipped_and_every_other_row_loads() {
    let dir = tempfile::tempdir().unwrap();
    let (path, generated) = realistic(dir.path(), airlock_fixtures::Flavour::default());
    let planted = planted_orphans(&generated);
    assert_eq!(planted.len(), 49, "{planted:?}");

    // By default only the address without a real domain blocks.
    let staging = SealedStaging::ephemeral(dir.path().join("staging")).unwrap();
    let report = check_with(&path, &staging, &[], &[], &CheckPolicy::default(), |_| {})
        .unwrap()
        .report;
    assert_eq!(
        fatal_checks(&report),
        BTreeSet::from(["invalid-email".to_owned()]),
        "{:#?}",
        report.findings.summaries()
    );
    let sysadmin = sysadmin_key(&staging);

    // The override maps that user to an account the target has: nothing blocks.
    let mut site = LocalSite::open(&dir.path().join("site.db")).unwrap();
    let account = site.add_user(Some("ops@example.com"), "Ops").unwrap();
    let overrides = Overrides {
        users: BTreeMap::from([(sysadmin.clone(), account.clone())]),
        ..Overrides::default()
    };
    let staging = SealedStaging::ephemeral(dir.path().join("staging-2")).unwrap();
    let policy = CheckPolicy::new(&overrides, false);
    let report = check_with(&path, &staging, &[], &[], &policy, |_| {})
        .unwrap()
        .report;
    assert!(
        !report.blocks_migration(),
        "{:#?}",
        report.findings.summaries()
    );
    assert_eq!(report.findings.count_of("email-overridden"), 1);

    // Every orphan is listed with its line and missing parent, and only those.
    let listed: BTreeSet<(String, String)> = report
        .orphans
        .iter()
        .map(|o| (o.entity.clone(), o.id.clone()))
        .collect();
    assert_eq!(listed, planted);
    assert_eq!(report.orphans_unlisted, 0);
    let by_id: BTreeMap<&str, _> = report.orphans.iter().map(|o| (o.id.as_str(), o)).collect();
    for p in &generated.planted_realistic {
        if p.check == "orphan-skipped" {
            assert_eq!(by_id[p.id.as_str()].line, p.line, "{p:?}");
        }
    }
    // The site's own event type cannot be made on Jira Cloud: said, naming it, at its row.
    let summaries = report.findings.summaries();
    for p in (generated.planted_realistic.iter()).filter(|p| p.check == "custom-event-type") {
        let said = summaries
            .iter()
            .find(|s| s.check == p.check)
            .unwrap_or_else(|| panic!("{p:?}"));
        assert!(
            said.examples.iter().any(|f| f.id == p.id
                && f.line == p.line
                && f.message.contains("Deployment approved")),
            "{said:?}"
        );
    }
    // An issue whose type its project's scheme does not list: Jira Cloud refuses it, said
    // once for its project and type, at the first such issue.
    let outside: Vec<&str> = (generated.planted_realistic.iter())
        .filter(|p| p.check == "issue-type-not-in-scheme")
        .map(|p| p.id.as_str())
        .collect();
    assert_eq!(outside.len(), 1, "{:?}", generated.planted_realistic);
    let said = (summaries.iter())
        .find(|s| s.check == "issue-type-not-in-scheme")
        .expect("the issue outside its project's scheme is said");
    assert_eq!(said.count, 1, "{said:?}");
    let f = &said.examples[0];
    assert_eq!((f.entity.as_str(), f.id.as_str()), ("Issue", outside[0]));
    assert!(f.line.is_some(), "{f:?}");
    assert!(
        f.message.contains("Issue Type Scheme\"") && f.message.contains("refuses"),
        "{f:?}"
    );
    // An issue in a status its workflow has no step for: said once, at that issue.
    let outside_workflow: Vec<&str> = (generated.planted_realistic.iter())
        .filter(|p| p.check == "status-not-in-workflow")
        .map(|p| p.id.as_str())
        .collect();
    assert_eq!(
        outside_workflow.len(),
        1,
        "{:?}",
        generated.planted_realistic
    );
    let said = (summaries.iter())
        .find(|s| s.check == "status-not-in-workflow")
        .expect("the issue outside its workflow is said");
    assert_eq!(said.count, 1, "{said:?}");
    let f = &said.examples[0];
    assert_eq!(
        (f.entity.as_str(), f.id.as_str()),
        ("Issue", outside_workflow[0])
    );
    assert!(f.line.is_some(), "{f:?}");
    assert!(
        f.message.starts_with("this issue of project ") && f.message.contains("no step for"),
        "{f:?}"
    );
    // A realistic site's workflows lose the rules Cloud's workflows cannot take, said.
    assert!(report.findings.count_of("workflow-rules-not-migrated") > 0);
    assert_eq!(
        ledger_status(&report.coverage, "EventType"),
        CoverageStatus::ByDesign
    );
    assert!(
        report
            .orphans
            .iter()
            .any(|o| o.entity == "Membership" && o.missing == "Group _licensed-jira-core"),
        "{:#?}",
        report.orphans
    );
    assert!(
        report
            .orphans
            .iter()
            .any(|o| o.entity == "EntityProperty" && o.missing.starts_with("User ")),
        "a user property of a deleted user"
    );
    assert!(
        report.orphans.iter().any(|o| o.entity == "ProjectRoleActor"
            && o.field == "roletypeparameter"
            && o.missing.starts_with("User ")),
        "a project role actor of a deleted user"
    );
    let summary = report
        .findings
        .summaries()
        .into_iter()
        .find(|s| s.check == "orphan-skipped")
        .unwrap();
    assert_eq!(summary.severity, Severity::Warning);
    assert_eq!(summary.count, planted.len() as u64);
    // Ten are left out as they are read, no record of their own to skip: a custom field
    // context's row naming a deleted project, an option of a deleted configuration, a
    // screen scheme's row naming a deleted screen, an issue type screen scheme's naming a
    // deleted issue type, a field configuration scheme's naming a deleted configuration
    // and a deleted issue type, a workflow scheme's naming a deleted workflow and a
    // deleted issue type, an issue type scheme's issue type that is gone and its context
    // naming a deleted project (the schemes are staged without them).
    let left_out: Vec<&str> = report
        .orphans
        .iter()
        .filter(|o| {
            matches!(
                o.entity.as_str(),
                "ConfigurationContext"
                    | "FieldScreenSchemeItem"
                    | "IssueTypeScreenSchemeEntity"
                    | "FieldLayoutSchemeEntity"
                    | "WorkflowSchemeEntity"
                    | "OptionConfiguration"
            ) || o.field == "customfieldconfig"
        })
        .map(|o| o.missing.as_str())
        .collect();
    assert_eq!(left_out.len(), 10, "{left_out:?}");
    assert_eq!(
        report.skipped.values().sum::<u64>() + left_out.len() as u64,
        planted.len() as u64,
        "{:?}",
        report.skipped
    );

    // The coverage ledger names what is left behind, the unknown type with its count.
    let ledger = &report.coverage;
    let unknown = ledger.entry("FooBarUnknownThing").unwrap();
    assert_eq!((unknown.rows, unknown.status), (3, CoverageStatus::Unknown));
    assert_eq!(
        ledger.entry("RememberMeToken").unwrap().status,
        CoverageStatus::ByDesign
    );
    // An issue's workflow run is the source engine's state: its status carries it.
    assert_eq!(
        ledger.entry("OSWorkflowEntry").unwrap().status,
        CoverageStatus::ByDesign
    );
    let labels = ledger.entry("Label").unwrap();
    assert_eq!(labels.skipped, report.skipped[&Kind::Label]);
    assert_eq!(labels.rows, generated.entity_counts["Label"]);
    // Jira Software's tables are core data: migrated, their orphans skipped.
    for table in [
        "AO_60DB71_RAPIDVIEW",
        "AO_60DB71_SPRINT",
        "AO_60DB71_COLUMN",
        "AO_60DB71_COLUMNSTATUS",
        "AO_60DB71_SWIMLANE",
        "AO_60DB71_QUICKFILTER",
        "AO_60DB71_CARDLAYOUT",
        "AO_60DB71_CARDCOLOR",
        "AO_60DB71_LEXORANK",
    ] {
        let entry = ledger.entry(table).unwrap();
        assert_eq!(
            (entry.status, entry.rows, entry.not_migrated),
            (CoverageStatus::Migrated, generated.ao_rows[table], 0),
            "{entry:#?}"
        );
        assert!(entry.rows > 0, "{table}");
    }
    assert_eq!(ledger.entry("AO_60DB71_SPRINT").unwrap().skipped, 1);
    assert_eq!(ledger.entry("ConfigurationContext").unwrap().skipped, 2);
    // A draft of a workflow scheme is an unpublished edit: the published scheme migrates.
    assert_eq!(
        ledger.entry("DraftWorkflowScheme").unwrap().status,
        CoverageStatus::ByDesign
    );
    assert_eq!(
        ledger.entry("CustomFieldOption").unwrap().skipped,
        report.skipped[&Kind::CustomFieldOption] + 1
    );
    for (element, rows) in &generated.entity_counts {
        let entry = ledger.entry(element).unwrap_or_else(|| panic!("{element}"));
        assert_eq!(entry.rows, *rows, "{element}");
        assert_eq!(
            entry.rows,
            entry.migrated + entry.skipped + entry.not_migrated
        );
    }

    // Control characters, CJK and right-to-left text were read and staged.
    let bodies: Vec<String> = RecordReader::open_kind(&staging, Kind::Comment)
        .unwrap()
        .filter_map(|r| match r.unwrap() {
            Record::Comment(c) => Some(c.body),
            _ => None,
        })
        .collect();
    for c in airlock_fixtures::JIRA_CONTROL_CHARACTERS {
        assert_eq!(bodies.iter().filter(|b| b.contains(c)).count(), 2, "{c:?}");
    }
    assert!(
        bodies
            .iter()
            .any(|b| b.contains("כניסה") && b.contains("登录"))
    );

    // The load skips exactly the orphans and writes every other row.
    let plan = analyze(
        &staging,
        &report.counts,
        &site.snapshot().unwrap(),
        &site.describe(),
        &overrides,
    )
    .unwrap();
    assert!(
        !plan.blocks_migration(),
        "{:#?}",
        plan.problems().collect::<Vec<_>>()
    );
    let protect = airlock_engine::ephemeral_protection().unwrap();
    let mut state = State::open(&dir.path().join("state.db"), protect).unwrap();
    let summary = load(
        &staging,
        &mut state,
        &mut site,
        &plan.decisions,
        &report.counts,
        |_| {},
    )
    .unwrap();
    assert!(
        summary.failed.is_empty(),
        "{:#?}",
        state.failures().unwrap()
    );
    assert_eq!(summary.skipped, report.skipped);
    let counts = site.counts().unwrap();
    for (kind, source) in &report.counts {
        let written = counts.get(kind).copied().unwrap_or(0);
        let mapped = plan
            .decisions
            .existing
            .get(kind)
            .map_or(0, |m| m.len() as u64);
        let skipped = report.skipped.get(kind).copied().unwrap_or(0);
        assert_eq!(written + mapped + skipped, *source, "{kind}");
    }
    // The cascading select's child options arrived under their parents (one batch holds
    // both: the load cuts it before each child, so the parent's mapping exists).
    assert!(
        generated
            .planted_realistic
            .iter()
            .any(|p| p.check == "cascading-select")
    );
    drop(site);
    let db = rusqlite::Connection::open(dir.path().join("site.db")).unwrap();
    let children: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM field_options c JOIN field_options p ON c.parent_id = p.id
             WHERE c.field_id = p.field_id AND c.source_key IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(children, 3, "Germany, France and 日本 under their parents");
}

#[test]
fn strict_makes_every_orphan_fatal_and_skips_none() {
    let dir = tempfile::tempdir().unwrap();
    for flavour in airlock_fixtures::Flavour::ALL {
        let (path, generated) = realistic(dir.path(), flavour);
        let planted = planted_orphans(&generated);
        let staging = SealedStaging::ephemeral(dir.path().join(format!("{flavour:?}"))).unwrap();
        let policy = CheckPolicy {
            orphans: OrphanPolicy::Block,
            ..CheckPolicy::default()
        };
        let report = check_with(&path, &staging, &[], &[], &policy, |_| {})
            .unwrap()
            .report;
        let blocked = report
            .findings
            .summaries()
            .into_iter()
            .find(|s| s.check == "orphan-blocked")
            .unwrap();
        assert_eq!(blocked.severity, Severity::Fatal);
        assert_eq!(blocked.count, planted.len() as u64, "{flavour:?}");
        assert!(report.skipped.is_empty());
        assert_eq!(report.orphans.len(), planted.len());
        assert!(report.blocks_migration());
        // The same through the override file.
        let overrides: Overrides = serde_json::from_str(r#"{"orphans": "block"}"#).unwrap();
        assert_eq!(
            CheckPolicy::new(&overrides, false).orphans,
            OrphanPolicy::Block
        );
    }
}

/// The coverage status of one element type.
fn ledger_status(ledger: &airlock_engine::Coverage, element: &str) -> CoverageStatus {
    ledger.entry(element).unwrap().status
}
