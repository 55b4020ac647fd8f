//! The phases on generated backups: a clean one checks clean and loads completely; planted
//! faults give exactly the expected findings.

use std::collections::BTreeMap;

use airlock_engine::State;
use airlock_engine::load;
use airlock_engine::{Overrides, analyze};
use airlock_engine::{Progress, check};
use airlock_fixtures::Spec;
use airlock_model::Severity;
use airlock_model::jira::Kind;
use airlock_site::{LocalSite, Site};
use airlock_staging::SealedStaging;

/// A fresh state file, its values sealed under a key of this process.
fn open_state(dir: &std::path::Path) -> State {
    let protect = airlock_engine::ephemeral_protection().unwrap();
    State::open(&dir.join("state.db"), protect).unwrap()
}

fn generate(
    dir: &std::path::Path,
    spec: &Spec,
) -> (std::path::PathBuf, airlock_fixtures::Generated) {
    let path = dir.join("backup.zip");
    let generated = airlock_fixtures::write_backup(&path, spec).unwrap();
    (path, generated)
}

#[test]
fn a_clean_backup_checks_clean_and_counts_match_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let (path, generated) = generate(dir.path(), &Spec::default());
    let staging = SealedStaging::ephemeral(dir.path().join("staging")).unwrap();
    let checked = check(&path, &staging, &[], &[], |_: Progress| {}).unwrap();
    let report = &checked.report;
    assert_eq!(report.fatal(), 0, "{:#?}", report.findings.summaries());
    for kind in Kind::ALL {
        let entity = kind.entity();
        // Jira Software's kinds are activeobjects.xml's tables.
        let rows = if kind.is_active_objects() {
            &generated.ao_rows
        } else {
            &generated.entity_counts
        };
        let expected = rows.get(entity).copied().unwrap_or(0);
        if matches!(
            kind,
            Kind::Comment
                | Kind::IssueVersion
                | Kind::Membership
                | Kind::Label
                | Kind::Watcher
                | Kind::Vote
                | Kind::ProjectScheme
                | Kind::CustomFieldValue
                | Kind::IssueSprint
                | Kind::ProjectKey
                | Kind::FilterShare
                | Kind::DashboardShare
                | Kind::FieldContext
                | Kind::IssueTypeScheme
        ) {
            continue; // entities shared by several kinds or filtered: checked below
        }
        assert_eq!(
            report.counts.get(&kind).copied().unwrap_or(0),
            expected,
            "{kind}"
        );
    }
    // Watchers and votes are the issue associations of one element.
    let count = |kind| report.counts.get(&kind).copied().unwrap_or(0);
    // Custom fields' contexts and issue type schemes are the schemes of one element.
    assert!(count(Kind::FieldContext) > 0 && count(Kind::IssueTypeScheme) > 0);
    assert_eq!(
        count(Kind::FieldContext) + count(Kind::IssueTypeScheme),
        generated.entity_counts["FieldConfigScheme"]
    );
    // Filters' and dashboards' shares are the rows of one element.
    assert!(count(Kind::FilterShare) > 0 && count(Kind::DashboardShare) > 0);
    assert_eq!(
        count(Kind::FilterShare) + count(Kind::DashboardShare),
        generated.entity_counts["SharePermissions"]
    );
    assert!(count(Kind::Watcher) > 0 && count(Kind::Vote) > 0);
    assert_eq!(
        count(Kind::Watcher) + count(Kind::Vote),
        generated.entity_counts["UserAssociation"]
    );
    // Who plays the project roles: the defaults, and each project's lead, group and users.
    assert!(count(Kind::ProjectRoleActor) > 3);
    // Every project's security and permission schemes, most projects' notification scheme
    // and category, besides the issues' versions and components.
    let categorized: usize = airlock_fixtures::source_project_categories(&Spec::default())
        .iter()
        .map(|c| c.projects.len())
        .sum();
    assert!(categorized > 0);
    let notified: usize = airlock_fixtures::source_notification_schemes(&Spec::default())
        .iter()
        .map(|s| s.projects.len())
        .sum();
    assert!(notified > 0);
    // A project's own key goes with the project: only former keys are records.
    let former = airlock_fixtures::source_project_keys(&Spec::default())
        .iter()
        .filter(|k| !k.current)
        .count();
    assert!(former > 0);
    assert_eq!(count(Kind::ProjectKey), former as u64);
    let screened: usize = airlock_fixtures::source_issue_type_screen_schemes(&Spec::default())
        .iter()
        .map(|s| s.projects.len())
        .sum();
    assert!(screened > 0);
    let configured: usize = airlock_fixtures::source_field_configuration_schemes(&Spec::default())
        .iter()
        .map(|s| s.projects.len())
        .sum();
    assert!(configured > 0);
    let workflowed: usize = airlock_fixtures::source_workflow_schemes(&Spec::default())
        .iter()
        .map(|s| s.projects.len())
        .sum();
    let typed: usize = airlock_fixtures::source_issue_type_schemes(&Spec::default())
        .iter()
        .map(|s| s.projects.len())
        .sum();
    assert!(workflowed > 0 && typed > 0);
    assert_eq!(
        count(Kind::ProjectScheme),
        2 * count(Kind::Project)
            + (categorized + notified + screened + configured + workflowed + typed) as u64
    );
    // The Sprint field's values are issues' sprints; the other fields' are field values.
    assert!(count(Kind::IssueSprint) > 0 && count(Kind::Board) > 0);
    assert_eq!(
        count(Kind::CustomFieldValue) + count(Kind::IssueSprint),
        generated.entity_counts["CustomFieldValue"]
    );
}

#[test]
fn planted_faults_give_exactly_the_expected_fatal_findings() {
    let dir = tempfile::tempdir().unwrap();
    let spec = Spec {
        core_faults: true,
        malformed_xml: true,
        ..Spec::default()
    };
    let (path, generated) = generate(dir.path(), &spec);
    let staging = SealedStaging::ephemeral(dir.path().join("staging")).unwrap();
    let report = check(&path, &staging, &[], &[], |_| {}).unwrap().report;
    let fatal: BTreeMap<String, u64> = report
        .findings
        .summaries()
        .into_iter()
        .filter(|s| s.severity == Severity::Fatal)
        .map(|s| (s.check.clone(), s.count))
        .collect();
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for fault in &generated.planted_core {
        *expected.entry(fault.check.to_owned()).or_default() += 1;
    }
    // The worklog of a deleted issue is an orphan: a warning, skipped by the load.
    assert_eq!(expected.remove("orphan-skipped"), Some(1));
    assert_eq!(fatal, expected, "{:#?}", report.findings.summaries());
    assert_eq!(report.skipped, BTreeMap::from([(Kind::Worklog, 1)]));
    for fault in &generated.planted_core {
        let summary = report
            .findings
            .summaries()
            .into_iter()
            .find(|s| s.check == fault.check)
            .unwrap();
        let example = &summary.examples[0];
        if let Some(line) = fault.line {
            assert_eq!(example.line, Some(line), "{}", fault.check);
        } else {
            assert_eq!(example.id, fault.id, "{}", fault.check);
        }
    }
}

#[test]
fn a_clean_backup_loads_into_the_local_site_and_a_rerun_writes_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = generate(dir.path(), &Spec::default());
    let staging = SealedStaging::ephemeral(dir.path().join("staging")).unwrap();
    let checked = check(&path, &staging, &[], &[], |_| {}).unwrap();
    let mut site = LocalSite::open(&dir.path().join("site.db")).unwrap();
    let mut state = open_state(dir.path());
    let staged = checked.report.counts.clone();
    let snapshot = site.snapshot().unwrap();
    let plan = analyze(
        &staging,
        &staged,
        &snapshot,
        &site.describe(),
        &Overrides::default(),
    )
    .unwrap();
    assert_eq!(
        plan.problems().count(),
        0,
        "{:#?}",
        plan.problems().collect::<Vec<_>>()
    );
    let decisions = plan.decisions.clone();
    let summary = load(&staging, &mut state, &mut site, &decisions, &staged, |_| {}).unwrap();
    assert!(
        summary.failed.is_empty(),
        "{:#?}",
        state.failures().unwrap()
    );
    let counts = site.counts().unwrap();
    for (kind, n) in &checked.report.counts {
        let matched = summary.matched.get(kind).copied().unwrap_or(0);
        assert_eq!(
            counts.get(kind).copied().unwrap_or(0) + matched,
            *n,
            "{kind}"
        );
    }
    // A second run finds every checkpoint done.
    let again = load(&staging, &mut state, &mut site, &decisions, &staged, |_| {}).unwrap();
    assert!(again.written.is_empty(), "{again:?}");
    for kind in Kind::ALL {
        assert_eq!(site.duplicate_source_keys(kind).unwrap(), 0, "{kind}");
    }
}

#[test]
fn target_clashes_are_reported_and_the_override_file_resolves_them() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = generate(dir.path(), &Spec::default());
    let staging = SealedStaging::ephemeral(dir.path().join("staging")).unwrap();
    let checked = check(&path, &staging, &[], &[], |_| {}).unwrap();
    let staged = checked.report.counts.clone();
    let mut site = LocalSite::open(&dir.path().join("site.db")).unwrap();

    // The source's projects, fields and users, as the test sees them.
    let read = |kind| -> Vec<airlock_model::jira::Record> {
        airlock_engine::RecordReader::open_kind(&staging, kind)
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let project = match &read(Kind::Project)[0] {
        airlock_model::jira::Record::Project(p) => p.clone(),
        _ => unreachable!(),
    };
    let field = read(Kind::CustomField)
        .into_iter()
        .find_map(|r| match r {
            airlock_model::jira::Record::CustomField(f) => Some(f),
            _ => None,
        })
        .unwrap();
    let users: Vec<_> = read(Kind::User)
        .into_iter()
        .filter_map(|r| match r {
            airlock_model::jira::Record::User(u) => Some(u),
            _ => None,
        })
        .collect();
    let user = &users[1];
    site.add_project(&project.key, "Something else").unwrap();
    site.add_field(
        &field.name,
        "com.atlassian.jira.plugin.system.customfieldtypes:userpicker",
    )
    .unwrap();
    let a = site.add_user(Some(&user.email), "Account A").unwrap();
    site.add_user(Some(&user.email), "Account B").unwrap();

    let snapshot = site.snapshot().unwrap();
    let plan = analyze(&staging, &staged, &snapshot, "site", &Overrides::default()).unwrap();
    let mut codes: Vec<(Kind, String, String)> = plan
        .problems()
        .map(|p| (p.kind, p.source.clone(), p.detail.clone()))
        .collect();
    codes.sort();
    let mut expected = vec![
        (Kind::User, user.key.clone(), "shared-email".to_owned()),
        (
            Kind::Project,
            project.id.clone(),
            "project-key-clash".to_owned(),
        ),
        (
            Kind::CustomField,
            field.id.clone(),
            "field-type-clash".to_owned(),
        ),
    ];
    expected.sort();
    assert_eq!(codes, expected);

    let overrides: Overrides = serde_json::from_value(serde_json::json!({
        "projects": { project.key.clone(): { "key": "MIGR" } },
        "fields": { field.name.clone(): { "name": format!("{} (DC)", field.name) } },
        "users": { user.key.clone(): a.clone() },
    }))
    .unwrap();
    let plan = analyze(&staging, &staged, &snapshot, "site", &overrides).unwrap();
    assert_eq!(
        plan.problems().count(),
        0,
        "{:#?}",
        plan.problems().collect::<Vec<_>>()
    );
    let mut state = open_state(dir.path());
    let summary = load(
        &staging,
        &mut state,
        &mut site,
        &plan.decisions,
        &staged,
        |_| {},
    )
    .unwrap();
    assert!(
        summary.failed.is_empty(),
        "{:#?}",
        state.failures().unwrap()
    );
    assert!(
        site.issue_keys()
            .unwrap()
            .iter()
            .any(|k| k.starts_with("MIGR-"))
    );
}

#[test]
fn the_integrity_report_round_trips_through_json() {
    let dir = tempfile::tempdir().unwrap();
    let spec = Spec {
        core_faults: true,
        ..Spec::default()
    };
    let (path, _) = generate(dir.path(), &spec);
    let staging = SealedStaging::ephemeral(dir.path().join("staging")).unwrap();
    let report = check(&path, &staging, &[], &[], |_| {}).unwrap().report;
    let json = serde_json::to_string(&report).unwrap();
    let back: airlock_engine::IntegrityReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, report);
    assert!(back.fatal() > 0);
}

#[test]
fn attachment_files_follow_their_metadata_once() {
    let dir = tempfile::tempdir().unwrap();
    let spec = Spec::default();
    let (path, generated) = generate(dir.path(), &spec);
    let home = dir.path().join("home");
    let written = airlock_fixtures::write_attachments(&home, &spec).unwrap();
    assert_eq!(written as usize, generated.attachment_ids.len());
    let staging = SealedStaging::ephemeral(dir.path().join("staging")).unwrap();
    let checked = check(&path, &staging, &[], &[], |_| {}).unwrap();
    let mut site = LocalSite::open(&dir.path().join("site.db")).unwrap();
    let mut state = open_state(dir.path());
    let plan = analyze(
        &staging,
        &checked.report.counts,
        &site.snapshot().unwrap(),
        "site",
        &Overrides::default(),
    )
    .unwrap();
    load(
        &staging,
        &mut state,
        &mut site,
        &plan.decisions,
        &checked.report.counts,
        |_| {},
    )
    .unwrap();

    let files = airlock_engine::upload(&home, &mut state, &mut site, false, |_| {}).unwrap();
    assert_eq!(files.uploaded, written);
    assert_eq!((files.missing, files.unknown, files.already), (0, 0, 0));
    let again = airlock_engine::upload(&home, &mut state, &mut site, false, |_| {}).unwrap();
    assert_eq!((again.uploaded, again.already), (0, written));
    let stored: u64 = std::fs::read_dir(site.attachments_dir()).unwrap().count() as u64;
    assert_eq!(stored, written);
}

/// The suspicion "attachment upload follows symlinks out of Jira home": an attachment's
/// file replaced by a link to a file outside the folder, a folder linked to one outside,
/// and a pipe where a file should be are not read (the pipe would block a reader for
/// ever); each is reported as skipped with its path under the folder and why, the rest is
/// uploaded, and a rerun skips them again.
#[test]
fn attachment_files_behind_symlinks_are_skipped_and_reported() {
    use airlock_engine::{SKIPPED_NOT_A_FILE, SKIPPED_SYMLINK};
    let dir = tempfile::tempdir().unwrap();
    let spec = Spec::default();
    let (path, _) = generate(dir.path(), &spec);
    let home = dir.path().join("home");
    let written = airlock_fixtures::write_attachments(&home, &spec).unwrap();
    let staging = SealedStaging::ephemeral(dir.path().join("staging")).unwrap();
    let checked = check(&path, &staging, &[], &[], |_| {}).unwrap();
    let mut site = LocalSite::open(&dir.path().join("site.db")).unwrap();
    let mut state = open_state(dir.path());
    let plan = analyze(
        &staging,
        &checked.report.counts,
        &site.snapshot().unwrap(),
        "site",
        &Overrides::default(),
    )
    .unwrap();
    load(
        &staging,
        &mut state,
        &mut site,
        &plan.decisions,
        &checked.report.counts,
        |_| {},
    )
    .unwrap();

    // Outside the attachments folder: a secret of the machine (as /etc/shadow would be),
    // and a folder holding one more file named like an attachment.
    let secret = b"a secret outside the attachments folder";
    let outside = dir.path().join("outside");
    std::fs::write(&outside, secret).unwrap();
    let outside_dir = dir.path().join("outside-dir");
    std::fs::create_dir(&outside_dir).unwrap();
    std::fs::write(outside_dir.join("10000"), secret).unwrap();

    let root = home.join("data").join("attachments");
    let mut files = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    let (linked, piped) = (&files[0], &files[1]);
    std::fs::remove_file(linked).unwrap();
    std::os::unix::fs::symlink(&outside, linked).unwrap();
    std::fs::remove_file(piped).unwrap();
    let c_path = std::ffi::CString::new(piped.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    std::os::unix::fs::symlink(&outside_dir, root.join("LINKED")).unwrap();

    // Indexed for a target that takes each file with its record: under the same rules, and
    // each refusal says why and what to do.
    {
        use airlock_site::AttachmentFiles as _;
        use std::io::Read as _;
        let index = airlock_engine::FolderFiles::index(&home).unwrap();
        let id_of = |p: &std::path::Path| p.file_name().unwrap().to_str().unwrap().to_owned();
        // The link and the pipe are indexed (opening them says why not); LINKED is not walked.
        assert_eq!(index.len() as u64, written);
        let said = index.open(&id_of(linked)).unwrap_err();
        assert!(said.contains("a symbolic link: not followed"), "{said}");
        let said = index.open(&id_of(piped)).unwrap_err();
        assert!(said.contains("not a regular file"), "{said}");
        let said = index.open("99999999").unwrap_err();
        assert!(
            said.contains("no file named 99999999") && said.contains("put it there"),
            "{said}"
        );
        let mut content = Vec::new();
        index
            .open(&id_of(&files[2]))
            .unwrap()
            .read_to_end(&mut content)
            .unwrap();
        assert_eq!(content, std::fs::read(&files[2]).unwrap());
    }

    let summary = airlock_engine::upload(&home, &mut state, &mut site, false, |_| {}).unwrap();
    assert_eq!(summary.uploaded, written - 2);
    assert_eq!(
        (summary.missing, summary.unknown, summary.already),
        (0, 0, 0),
        "{summary:#?}"
    );
    assert_eq!(summary.skipped.count_of(SKIPPED_SYMLINK), 2, "{summary:#?}");
    assert_eq!(
        summary.skipped.count_of(SKIPPED_NOT_A_FILE),
        1,
        "{summary:#?}"
    );
    assert_eq!(summary.skipped_count(), 3);
    let examples: Vec<&airlock_engine::Finding> = summary
        .skipped
        .summaries()
        .into_iter()
        .flat_map(|s| &s.examples)
        .collect();
    let under = |p: &std::path::Path| p.strip_prefix(&root).unwrap().display().to_string();
    for (file, check, says) in [
        (
            under(linked),
            SKIPPED_SYMLINK,
            "a symbolic link: not followed",
        ),
        (
            "LINKED".to_owned(),
            SKIPPED_SYMLINK,
            "a symbolic link: not followed",
        ),
        (under(piped), SKIPPED_NOT_A_FILE, "not a regular file"),
    ] {
        let found = examples
            .iter()
            .find(|e| e.file == file)
            .unwrap_or_else(|| panic!("{file} is not listed as skipped: {examples:#?}"));
        assert_eq!(found.check, check);
        assert_eq!(found.severity, Severity::Warning);
        assert!(found.message.contains(says), "{found:?}");
    }

    // Nothing from outside reached the target.
    let stored: Vec<std::path::PathBuf> = std::fs::read_dir(site.attachments_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(stored.len() as u64, written - 2);
    for file in &stored {
        assert_ne!(std::fs::read(file).unwrap(), secret, "{}", file.display());
    }

    let again = airlock_engine::upload(&home, &mut state, &mut site, false, |_| {}).unwrap();
    assert_eq!((again.uploaded, again.already), (0, written - 2));
    assert_eq!(again.skipped_count(), 3);
}

#[test]
fn backups_of_every_jira_version_and_database_check_clean_and_load_completely() {
    for flavour in airlock_fixtures::Flavour::ALL {
        let dir = tempfile::tempdir().unwrap();
        let spec = Spec {
            flavour,
            ..Spec::default()
        };
        let (path, generated) = generate(dir.path(), &spec);
        let staging = SealedStaging::ephemeral(dir.path().join("staging")).unwrap();
        let checked = check(&path, &staging, &[], &[], |_| {}).unwrap();
        assert_eq!(
            checked.report.fatal(),
            0,
            "{flavour:?}: {:#?}",
            checked.report.findings.summaries()
        );
        assert_eq!(
            checked.report.findings.count(Severity::Warning),
            0,
            "{flavour:?}: {:#?}",
            checked.report.findings.summaries()
        );
        assert_eq!(
            checked.report.counts.get(&Kind::Issue).copied(),
            generated.entity_counts.get("Issue").copied(),
            "{flavour:?}"
        );
        let mut site = LocalSite::open(&dir.path().join("site.db")).unwrap();
        let mut state = open_state(dir.path());
        let plan = analyze(
            &staging,
            &checked.report.counts,
            &site.snapshot().unwrap(),
            "site",
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(plan.problems().count(), 0, "{flavour:?}");
        let summary = load(
            &staging,
            &mut state,
            &mut site,
            &plan.decisions,
            &checked.report.counts,
            |_| {},
        )
        .unwrap();
        assert!(
            summary.failed.is_empty(),
            "{flavour:?}: {:#?}",
            state.failures().unwrap()
        );
        let mut keys = site.issue_keys().unwrap();
        let mut expected = generated.issue_keys.clone();
        keys.sort();
        expected.sort();
        assert_eq!(keys, expected, "{flavour:?}: issue keys are kept");
    }
}
