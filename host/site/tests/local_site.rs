//! The local site as the engine and the analysis use it: through the `Site` trait,
//! plus the inspection methods tests rely on.

use std::path::{Path, PathBuf};

use airlock_model::jira::{
    Association, Attachment, Comment, Component, Constant, CustomField, CustomFieldOption,
    CustomFieldValue, EntityProperty, FieldContext, FieldValue, Group, Issue, IssueLink,
    IssueLinkType, IssueVersion, Kind, Label, Membership, Project, Record, User, Version, Worklog,
};
use airlock_model::{AppKey, AppOutput, EntityKind};
use airlock_site::{
    InvalidOutput, ItemError, LocalSite, OutputField, OutputRule, SOURCE_PROPERTY, Site,
    TargetError, source_key, stored_key,
};

struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
    site: LocalSite,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("site.db");
    let site = LocalSite::open(&path).unwrap();
    Fixture {
        _dir: dir,
        path,
        site,
    }
}

fn user(key: &str) -> Record {
    Record::User(User {
        key: key.into(),
        user_name: key.into(),
        display_name: format!("User {key}"),
        email: format!("{key}@example.com"),
        active: true,
        directory: "1".into(),
    })
}

fn project(id: &str, key: &str, lead: &str) -> Record {
    Record::Project(Project {
        id: id.into(),
        key: key.into(),
        name: format!("Project {key}"),
        lead: lead.into(),
        description: String::new(),
        project_type: "software".into(),
        counter: 0,
    })
}

fn issue(id: &str, project: &str, number: u64, reporter: Option<&str>) -> Issue {
    Issue {
        id: id.into(),
        project: project.into(),
        number,
        issue_type: "10000".into(),
        summary: format!("Issue {number}"),
        description: "Some text".into(),
        priority: Some("3".into()),
        status: "10000".into(),
        resolution: None,
        reporter: reporter.map(Into::into),
        assignee: None,
        created: 1_400_000_000_000,
        updated: 1_400_000_000_000,
        due: None,
        resolved: None,
        original_estimate: Some(3600),
        estimate: None,
        time_spent: None,
        security: None,
    }
}

fn comment(id: &str, issue: &str, author: Option<&str>) -> Record {
    Record::Comment(Comment {
        id: id.into(),
        issue: issue.into(),
        author: author.map(Into::into),
        body: "A comment".into(),
        created: 1_400_000_000_000,
        updated: 1_400_000_000_000,
    })
}

fn worklog(id: &str, issue: &str, author: Option<&str>) -> Record {
    Record::Worklog(Worklog {
        id: id.into(),
        issue: issue.into(),
        author: author.map(Into::into),
        body: "Work".into(),
        created: 1_400_000_000_000,
        started: 1_400_000_000_000,
        seconds: 1800,
    })
}

fn property(id: &str, entity: &str, entity_id: &str, key: &str, value: &str) -> Record {
    Record::EntityProperty(EntityProperty {
        id: id.into(),
        entity_name: entity.into(),
        entity_id: entity_id.into(),
        key: key.into(),
        value: value.into(),
    })
}

/// Writes and expects every record to be accepted; returns the cloud ids.
fn ok(site: &mut LocalSite, kind: Kind, records: &[Record]) -> Vec<String> {
    site.write(kind, records)
        .unwrap()
        .into_iter()
        .map(|r| r.unwrap())
        .collect()
}

/// Writes one record and returns its refusal.
fn refused(site: &mut LocalSite, kind: Kind, record: Record) -> ItemError {
    let mut answers = site.write(kind, &[record]).unwrap();
    answers.pop().unwrap().unwrap_err()
}

/// A site holding one user, one project and one issue written by Airlock.
struct Base {
    account: String,
    project: String,
    issue: String,
}

fn base(site: &mut LocalSite) -> Base {
    let account = ok(site, Kind::User, &[user("admin")]).remove(0);
    let project = ok(site, Kind::Project, &[project("10100", "DEMO", &account)]).remove(0);
    let issue = ok(
        site,
        Kind::Issue,
        &[Record::Issue(issue("20000", &project, 1, Some(&account)))],
    )
    .remove(0);
    Base {
        account,
        project,
        issue,
    }
}

#[test]
fn reopening_keeps_the_data_and_the_account_ids() {
    let mut f = fixture();
    assert_eq!(
        f.site.describe(),
        format!("local site at {}", f.path.display())
    );
    let b = base(&mut f.site);
    let seeded = f.site.add_user(Some("old@example.com"), "Old").unwrap();
    drop(f.site);

    let mut site = LocalSite::open(&f.path).unwrap();
    assert_eq!(site.issue_keys().unwrap(), vec!["DEMO-1"]);
    let snapshot = site.snapshot().unwrap();
    let accounts: Vec<_> = snapshot.users.iter().map(|u| &u.account_id).collect();
    assert_eq!(accounts, vec![&b.account, &seeded]);
    // The counter and the salt live in the file: the next id is new, and shaped alike.
    let next = site.add_user(None, "New").unwrap();
    assert!(!accounts.contains(&&next));
    for id in [&b.account, &seeded, &next] {
        assert_eq!(id.len(), 24, "{id}");
        assert!(
            id.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }
    assert_eq!(site.counts().unwrap()[&Kind::Issue], 1);
    assert!(f.path.with_file_name("site.attachments").is_dir());
}

#[test]
fn a_new_site_holds_clouds_defaults_not_counted_as_written() {
    let mut f = fixture();
    let s = f.site.snapshot().unwrap();
    let names =
        |c: &[airlock_site::TargetConstant]| c.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&s.issue_types),
        ["Task", "Bug", "Story", "Epic", "Subtask"]
    );
    assert_eq!(names(&s.statuses), ["To Do", "In Progress", "Done"]);
    assert_eq!(
        names(&s.priorities),
        ["Highest", "High", "Medium", "Low", "Lowest"]
    );
    assert_eq!(
        names(&s.resolutions),
        ["Done", "Won't Do", "Duplicate", "Cannot Reproduce"]
    );
    assert_eq!(
        names(&s.link_types),
        ["Blocks", "Cloners", "Duplicate", "Relates"]
    );
    assert_eq!(s.groups, ["jira-administrators", "jira-software-users"]);
    assert!(s.projects.is_empty() && s.users.is_empty() && s.fields.is_empty());
    assert!(f.site.counts().unwrap().values().all(|n| *n == 0));
}

#[test]
fn opening_another_sqlite_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE t (x);")
        .unwrap();
    assert!(matches!(
        LocalSite::open(&path),
        Err(TargetError::Invalid(_))
    ));
}

#[test]
fn every_kind_round_trips_through_find_written() {
    let mut f = fixture();
    let site = &mut f.site;
    let b = base(site);
    let a = &b.account;

    let group = ok(
        site,
        Kind::Group,
        &[Record::Group(Group {
            name: "developers".into(),
            active: true,
        })],
    );
    assert_eq!(group, ["developers"]);
    let member = Record::Membership(Membership {
        id: "m1".into(),
        group: "developers".into(),
        user_name: a.clone(),
    });
    assert_eq!(ok(site, Kind::Membership, &[member]), [""]);

    let constant = |id: &str, name: &str| Constant {
        id: id.into(),
        name: name.into(),
        description: String::new(),
        detail: String::new(),
    };
    let types = ok(
        site,
        Kind::IssueType,
        &[Record::IssueType(constant("1", "Incident"))],
    );
    let status = ok(
        site,
        Kind::Status,
        &[Record::Status(constant("1", "Review"))],
    );
    let priority = ok(
        site,
        Kind::Priority,
        &[Record::Priority(constant("1", "Urgent"))],
    );
    assert_eq!(priority, ["6"]);
    let resolution = ok(
        site,
        Kind::Resolution,
        &[Record::Resolution(constant("1", "Fixed"))],
    );
    let link_type = ok(
        site,
        Kind::IssueLinkType,
        &[Record::IssueLinkType(IssueLinkType {
            id: "1".into(),
            name: "Causes".into(),
            inward: "is caused by".into(),
            outward: "causes".into(),
        })],
    );
    let component = ok(
        site,
        Kind::Component,
        &[Record::Component(Component {
            id: "c1".into(),
            project: b.project.clone(),
            name: "Backend".into(),
            description: String::new(),
            lead: a.clone(),
        })],
    );
    let version = ok(
        site,
        Kind::Version,
        &[Record::Version(Version {
            id: "v1".into(),
            project: b.project.clone(),
            name: "1.0".into(),
            description: String::new(),
            released: true,
            archived: false,
            release_date: Some(1_400_000_000_000),
        })],
    );
    let field = ok(
        site,
        Kind::CustomField,
        &[Record::CustomField(CustomField {
            id: "10500".into(),
            name: "Team".into(),
            type_key: "com.atlassian.jira.plugin.system.customfieldtypes:select".into(),
            description: String::new(),
        })],
    );
    assert_eq!(field, ["customfield_10000"]);
    let option = ok(
        site,
        Kind::CustomFieldOption,
        &[Record::CustomFieldOption(CustomFieldOption {
            id: "o1".into(),
            field: field[0].clone(),
            context: None,
            value: "Red".into(),
            parent: None,
            disabled: false,
        })],
    );

    let mut second = issue("20001", &b.project, 2, None);
    second.issue_type = types[0].clone();
    second.status = status[0].clone();
    second.resolution = Some(resolution[0].clone());
    let second = ok(site, Kind::Issue, &[Record::Issue(second)]).remove(0);
    assert_eq!(site.issue_keys().unwrap(), ["DEMO-1", "DEMO-2"]);

    let value = Record::CustomFieldValue(CustomFieldValue {
        id: "fv1".into(),
        issue: b.issue.clone(),
        field: field[0].clone(),
        value: FieldValue::Option(option[0].clone()),
    });
    assert_eq!(ok(site, Kind::CustomFieldValue, &[value]), [""]);
    let label = Record::Label(Label {
        id: "l1".into(),
        issue: b.issue.clone(),
        label: "urgent".into(),
    });
    assert_eq!(ok(site, Kind::Label, &[label]), [""]);
    let fix = Record::IssueVersion(IssueVersion {
        id: "fix".into(),
        issue: b.issue.clone(),
        target: version[0].clone(),
        association: Association::FixVersion,
    });
    let part_of = Record::IssueVersion(IssueVersion {
        id: "part-of".into(),
        issue: b.issue.clone(),
        target: component[0].clone(),
        association: Association::Component,
    });
    assert_eq!(
        ok(site, Kind::IssueVersion, &[fix.clone(), part_of]),
        ["", ""]
    );
    let comments = ok(site, Kind::Comment, &[comment("c9", &b.issue, Some(a))]);
    let worklogs = ok(site, Kind::Worklog, &[worklog("w9", &b.issue, None)]);
    let links = ok(
        site,
        Kind::IssueLink,
        &[Record::IssueLink(IssueLink {
            id: "k1".into(),
            link_type: link_type[0].clone(),
            source: b.issue.clone(),
            destination: second.clone(),
        })],
    );
    let attachments = ok(
        site,
        Kind::Attachment,
        &[Record::Attachment(Attachment {
            id: "a1".into(),
            issue: b.issue.clone(),
            file_name: "report.pdf".into(),
            mime_type: "application/pdf".into(),
            size: 3,
            author: Some(a.clone()),
            created: 1_400_000_000_000,
        })],
    );
    let properties = ok(
        site,
        Kind::EntityProperty,
        &[
            property("p1", "IssueProperty", &b.issue, "k", r#"{"a":1}"#),
            property("p2", "ProjectProperty", &b.project, "k", "[1,2]"),
            property("p3", "UserProperty", a, "k", "true"),
        ],
    );

    let found = |site: &mut LocalSite, kind: Kind, keys: &[&str]| {
        let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        site.find_written(kind, &keys).unwrap()
    };
    let some = |id: &str| Some(id.to_owned());
    assert_eq!(
        found(site, Kind::User, &["admin", "nobody"]),
        [some(a), None]
    );
    assert_eq!(found(site, Kind::Project, &["10100"]), [some(&b.project)]);
    assert_eq!(
        found(site, Kind::Issue, &["20001", "20000"]),
        [some(&second), some(&b.issue)]
    );
    assert_eq!(
        found(site, Kind::Group, &["developers"]),
        [some("developers")]
    );
    assert_eq!(found(site, Kind::Membership, &["m1"]), [some("")]);
    assert_eq!(found(site, Kind::IssueType, &["1"]), [some(&types[0])]);
    assert_eq!(found(site, Kind::Priority, &["1"]), [some("6")]);
    assert_eq!(
        found(site, Kind::CustomField, &["10500"]),
        [some("customfield_10000")]
    );
    assert_eq!(
        found(site, Kind::CustomFieldOption, &["o1"]),
        [some(&option[0])]
    );
    assert_eq!(found(site, Kind::Label, &["l1", "l2"]), [some(""), None]);
    assert_eq!(
        found(site, Kind::IssueVersion, &[&source_key(&fix)]),
        [some("")]
    );
    assert_eq!(found(site, Kind::Comment, &["c9"]), [some(&comments[0])]);
    assert_eq!(found(site, Kind::Worklog, &["w9"]), [some(&worklogs[0])]);
    assert_eq!(found(site, Kind::IssueLink, &["k1"]), [some(&links[0])]);
    assert_eq!(
        found(site, Kind::Attachment, &["a1"]),
        [some(&attachments[0])]
    );
    assert_eq!(
        found(site, Kind::EntityProperty, &["p1", "p2", "p3"]),
        properties.iter().map(|p| some(p)).collect::<Vec<_>>()
    );
    assert_eq!(found(site, Kind::Component, &["c1"]), [some(&component[0])]);
    assert_eq!(found(site, Kind::Version, &["v1"]), [some(&version[0])]);
    assert_eq!(found(site, Kind::Status, &["1"]), [some(&status[0])]);
    assert_eq!(
        found(site, Kind::Resolution, &["1"]),
        [some(&resolution[0])]
    );
    assert_eq!(
        found(site, Kind::IssueLinkType, &["1"]),
        [some(&link_type[0])]
    );
}

#[test]
fn find_written_answers_large_batches_in_order() {
    let mut f = fixture();
    let b = base(&mut f.site);
    let comments: Vec<Record> = (0..1_234)
        .map(|i| comment(&format!("{}", 50_000 + i), &b.issue, None))
        .collect();
    let ids = ok(&mut f.site, Kind::Comment, &comments);
    let mut keys: Vec<String> = (0..1_300).map(|i| format!("{}", 50_000 + i)).collect();
    keys.reverse();
    let found = f.site.find_written(Kind::Comment, &keys).unwrap();
    assert_eq!(found.len(), 1_300);
    assert!(found[..66].iter().all(Option::is_none));
    let mut expected: Vec<Option<String>> = ids.into_iter().map(Some).collect();
    expected.reverse();
    assert_eq!(found[66..], expected[..]);
}

#[test]
fn unknown_references_are_invalid() {
    let mut f = fixture();
    let site = &mut f.site;
    let b = base(site);
    let cases: Vec<(Kind, Record)> = vec![
        (
            Kind::Project,
            project("1", "NEW", "5b10a2844c20165700ede21g"),
        ),
        (
            Kind::Issue,
            Record::Issue(issue("1", "99999", 5, Some(&b.account))),
        ),
        (
            Kind::Issue,
            Record::Issue(issue("1", &b.project, 5, Some("nobody"))),
        ),
        (Kind::Issue, {
            let mut i = issue("1", &b.project, 5, None);
            i.issue_type = "not-a-number".into();
            Record::Issue(i)
        }),
        (Kind::Issue, {
            let mut i = issue("1", &b.project, 5, None);
            i.status = "424242".into();
            Record::Issue(i)
        }),
        (Kind::Comment, comment("1", "99999", None)),
        (Kind::Worklog, worklog("1", &b.issue, Some("ghost"))),
        (
            Kind::EntityProperty,
            property("1", "IssueProperty", "99999", "k", "1"),
        ),
        (
            Kind::Membership,
            Record::Membership(Membership {
                id: "1".into(),
                group: "no-such-group".into(),
                user_name: b.account.clone(),
            }),
        ),
        (
            Kind::IssueVersion,
            Record::IssueVersion(IssueVersion {
                id: "bad".into(),
                issue: b.issue.clone(),
                target: "10000".into(),
                association: Association::AffectsVersion,
            }),
        ),
    ];
    for (kind, record) in cases {
        let e = refused(site, kind, record);
        assert_eq!(e.code, "invalid-reference", "{kind}: {e}");
    }
    assert_eq!(site.issue_keys().unwrap(), ["DEMO-1"]);
}

#[test]
fn existing_keys_are_duplicates() {
    let mut f = fixture();
    let site = &mut f.site;
    let b = base(site);
    site.add_project("OLD", "Seeded").unwrap();

    let e = refused(site, Kind::Project, project("2", "DEMO", ""));
    assert_eq!(e.code, "duplicate-key");
    let e = refused(site, Kind::Project, project("3", "OLD", ""));
    assert_eq!(e.code, "duplicate-key");
    let e = refused(
        site,
        Kind::Issue,
        Record::Issue(issue("2", &b.project, 1, None)),
    );
    assert_eq!(e.code, "duplicate-key");
    assert!(!e.message.contains("DEMO"), "{e}");
    let e = refused(
        site,
        Kind::Group,
        Record::Group(Group {
            name: "Jira-Administrators".into(),
            active: true,
        }),
    );
    assert_eq!(e.code, "duplicate-key");
}

#[test]
fn oversized_and_malformed_values_are_refused() {
    let mut f = fixture();
    let site = &mut f.site;
    let b = base(site);

    let mut long = issue("2", &b.project, 2, None);
    long.summary = "é".repeat(256);
    let e = refused(site, Kind::Issue, Record::Issue(long));
    assert_eq!(e.code, "too-large");
    assert!(!e.message.contains('é'));
    // 255 characters of two bytes each still fit: the limit counts characters.
    let mut fits = issue("2", &b.project, 2, None);
    fits.summary = "é".repeat(255);
    ok(site, Kind::Issue, &[Record::Issue(fits)]);

    let key = "k".repeat(256);
    let e = refused(
        site,
        Kind::EntityProperty,
        property("p", "IssueProperty", &b.issue, &key, "1"),
    );
    assert_eq!(e.code, "too-large");
    let value = format!("\"{}\"", "x".repeat(32_767));
    let e = refused(
        site,
        Kind::EntityProperty,
        property("p", "IssueProperty", &b.issue, "k", &value),
    );
    assert_eq!(e.code, "too-large");
    let value = format!("\"{}\"", "x".repeat(32_766));
    ok(
        site,
        Kind::EntityProperty,
        &[property("p", "IssueProperty", &b.issue, "k", &value)],
    );
    let e = refused(
        site,
        Kind::EntityProperty,
        property("p", "IssueProperty", &b.issue, "k", "{not json"),
    );
    assert_eq!(e.code, "invalid-value");
    assert!(!e.message.contains("not json"));
}

#[test]
fn a_batch_writes_its_good_records_and_refuses_the_bad() {
    let mut f = fixture();
    let site = &mut f.site;
    let b = base(site);
    let mut too_long = issue("3", &b.project, 3, None);
    too_long.summary = "x".repeat(300);
    let batch = vec![
        Record::Issue(issue("2", &b.project, 2, Some(&b.account))),
        Record::Issue(issue("9", "424242", 9, None)),
        Record::Issue(too_long),
        Record::Issue(issue("1-again", &b.project, 1, None)),
        comment("not-an-issue", &b.issue, None),
        Record::Issue(issue("4", &b.project, 4, None)),
    ];
    let answers = site.write(Kind::Issue, &batch).unwrap();
    let codes: Vec<&str> = answers
        .iter()
        .map(|a| a.as_ref().err().map_or("ok", |e| e.code))
        .collect();
    assert_eq!(
        codes,
        [
            "ok",
            "invalid-reference",
            "too-large",
            "duplicate-key",
            "rejected",
            "ok"
        ]
    );
    assert_eq!(site.issue_keys().unwrap(), ["DEMO-1", "DEMO-2", "DEMO-4"]);
    assert_eq!(site.source_keys(Kind::Issue).unwrap(), ["20000", "2", "4"]);
    // Ids are handed out only to the records written.
    let ids: Vec<u64> = answers
        .iter()
        .filter_map(|a| a.as_ref().ok())
        .map(|id| id.parse().unwrap())
        .collect();
    assert_eq!(ids[1], ids[0] + 1);
}

#[test]
fn counts_are_rows_written_by_airlock() {
    let mut f = fixture();
    let site = &mut f.site;
    site.add_user(Some("seeded@example.com"), "Seeded").unwrap();
    site.add_project("OLD", "Seeded").unwrap();
    let b = base(site);
    let comments: Vec<Record> = (0..5)
        .map(|i| comment(&format!("c{i}"), &b.issue, None))
        .collect();
    ok(site, Kind::Comment, &comments);
    let labels = (0..2)
        .map(|i| {
            Record::Label(Label {
                id: format!("l{i}"),
                issue: b.issue.clone(),
                label: format!("l{i}"),
            })
        })
        .collect::<Vec<_>>();
    ok(site, Kind::Label, &labels);
    let counts = site.counts().unwrap();
    let nonzero: Vec<(Kind, u64)> = counts.into_iter().filter(|(_, n)| *n > 0).collect();
    assert_eq!(
        nonzero,
        [
            (Kind::User, 1),
            (Kind::Project, 1),
            (Kind::Issue, 1),
            (Kind::Label, 2),
            (Kind::Comment, 5)
        ]
    );
}

#[test]
fn app_outputs_replace_on_rerun() {
    let mut f = fixture();
    let app = AppKey::new("com.example.timesheets");
    let other = AppKey::new("com.example.other");
    let outputs = vec![
        AppOutput::AppProperty {
            key: "config".into(),
            value: r#"{"v":1}"#.into(),
        },
        AppOutput::EntityProperty {
            entity: EntityKind::Issue,
            entity_id: "10000".into(),
            key: "hours".into(),
            value: "12".into(),
        },
        AppOutput::AppDocument {
            collection: "sheets".into(),
            id: "1".into(),
            body: "{}".into(),
        },
    ];
    f.site.put_app_outputs(&app, &outputs).unwrap();
    f.site.put_app_outputs(&app, &outputs).unwrap();
    assert_eq!(f.site.app_output_count(&app).unwrap(), 3);
    assert_eq!(f.site.app_output_count(&other).unwrap(), 0);

    let changed = vec![AppOutput::AppProperty {
        key: "config".into(),
        value: r#"{"v":2}"#.into(),
    }];
    f.site.put_app_outputs(&app, &changed).unwrap();
    assert_eq!(f.site.app_output_count(&app).unwrap(), 3);
    let conn = rusqlite::Connection::open(&f.path).unwrap();
    let value: String = conn
        .query_row(
            "SELECT value FROM app_properties WHERE app_key = ?1
             AND key = 'com.example.timesheets:config'",
            [app.as_str()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(value, r#"{"v":2}"#);

    // A bad output refuses the whole call, and nothing of it is stored.
    let bad = vec![
        AppOutput::AppProperty {
            key: "fresh".into(),
            value: "1".into(),
        },
        AppOutput::AppProperty {
            key: "broken".into(),
            value: "{".into(),
        },
    ];
    assert!(matches!(
        f.site.put_app_outputs(&app, &bad),
        Err(TargetError::InvalidOutput(InvalidOutput {
            index: 1,
            field: OutputField::Value,
            rule: OutputRule::NotJson,
            ..
        }))
    ));
    assert_eq!(f.site.app_output_count(&app).unwrap(), 3);
}

/// The stored keys of an app's outputs on the local site (entity and app properties).
fn stored_keys(path: &std::path::Path, app: &AppKey) -> Vec<String> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT key FROM app_entity_properties WHERE app_key = ?1
             UNION ALL SELECT key FROM app_properties WHERE app_key = ?1 ORDER BY 1",
        )
        .unwrap();
    stmt.query_map([app.as_str()], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn app_output_keys_are_stored_in_the_apps_namespace() {
    let mut f = fixture();
    let app = AppKey::new("com.example.timesheets");
    let outputs = vec![
        AppOutput::EntityProperty {
            entity: EntityKind::Issue,
            entity_id: "10000".into(),
            key: SOURCE_PROPERTY.into(),
            value: r#"{"key":"10"}"#.into(),
        },
        AppOutput::EntityProperty {
            entity: EntityKind::User,
            entity_id: "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077".into(),
            key: "hours".into(),
            value: "1".into(),
        },
        AppOutput::AppProperty {
            key: "airlock.journal.user.0".into(),
            value: "{}".into(),
        },
    ];
    f.site.put_app_outputs(&app, &outputs).unwrap();
    assert_eq!(
        stored_keys(&f.path, &app),
        [
            "com.example.timesheets:airlock.journal.user.0",
            "com.example.timesheets:airlock.source",
            "com.example.timesheets:hours",
        ]
    );
    let mut expected: Vec<String> = outputs.iter().map(|o| stored_key(&app, o)).collect();
    expected.sort();
    assert_eq!(stored_keys(&f.path, &app), expected);
    assert_eq!(f.site.app_output_count(&app).unwrap(), 3);
}

#[test]
fn app_outputs_that_could_reach_a_path_or_a_host_key_are_refused_whole() {
    let mut f = fixture();
    let app = AppKey::new("com.example.timesheets");
    let fine = AppOutput::AppProperty {
        key: "fine".into(),
        value: "1".into(),
    };
    let property = |entity_id: &str, key: &str| AppOutput::EntityProperty {
        entity: EntityKind::Issue,
        entity_id: entity_id.into(),
        key: key.into(),
        value: "1".into(),
    };
    for (output, field, rule) in [
        (
            property("10000", ".."),
            OutputField::Key,
            OutputRule::DotSegment,
        ),
        (property("10000", ""), OutputField::Key, OutputRule::Empty),
        (
            property("10000", "a\u{1}"),
            OutputField::Key,
            OutputRule::ControlCharacter,
        ),
        (
            property("10000", "a/b"),
            OutputField::Key,
            OutputRule::Character {
                allowed: "[A-Za-z0-9._~-]",
            },
        ),
        (
            property("1/..", "k"),
            OutputField::EntityId,
            OutputRule::NotNumeric,
        ),
        (
            AppOutput::AppDocument {
                collection: "..".into(),
                id: "1".into(),
                body: "{}".into(),
            },
            OutputField::Collection,
            OutputRule::DotSegment,
        ),
    ] {
        let kind = output.kind();
        match f.site.put_app_outputs(&app, &[fine.clone(), output]) {
            Err(TargetError::InvalidOutput(e)) => assert_eq!(
                e,
                InvalidOutput {
                    index: 1,
                    kind,
                    field,
                    rule
                }
            ),
            other => panic!("expected an invalid output, got {other:?}"),
        }
    }
    for bad in ["", "..", "a:b", "a/b"] {
        assert!(matches!(
            f.site
                .put_app_outputs(&AppKey::new(bad), std::slice::from_ref(&fine)),
            Err(TargetError::InvalidAppKey { .. })
        ));
    }
    assert_eq!(f.site.app_output_count(&app).unwrap(), 0);
}

#[test]
fn attachment_files_are_stored_beside_the_database() {
    let mut f = fixture();
    let b = base(&mut f.site);
    let id = ok(
        &mut f.site,
        Kind::Attachment,
        &[Record::Attachment(Attachment {
            id: "a1".into(),
            issue: b.issue.clone(),
            file_name: "notes.txt".into(),
            mime_type: "text/plain".into(),
            size: 100_000,
            author: None,
            created: 0,
        })],
    )
    .remove(0);
    let content = vec![7u8; 100_000];
    let written = f
        .site
        .put_attachment_file(&id, &mut content.as_slice())
        .unwrap();
    assert_eq!(written, 100_000);
    let file = f.path.with_file_name("site.attachments").join(&id);
    assert_eq!(std::fs::read(&file).unwrap(), content);
    assert_eq!(f.site.attachments_dir().join(&id), file);

    for unknown in ["99999", "not-an-id"] {
        assert!(matches!(
            f.site.put_attachment_file(unknown, &mut &b"x"[..]),
            Err(TargetError::Invalid(_))
        ));
    }
}

#[test]
fn writing_a_source_key_twice_is_detectable() {
    let mut f = fixture();
    let site = &mut f.site;
    let b = base(site);
    let batch = vec![comment("c1", &b.issue, None), comment("c2", &b.issue, None)];
    let first = ok(site, Kind::Comment, &batch);
    assert_eq!(site.duplicate_source_keys(Kind::Comment).unwrap(), 0);
    // What a crash between the write and the mapping would cause without find_written.
    ok(site, Kind::Comment, &batch[..1]);
    assert_eq!(site.duplicate_source_keys(Kind::Comment).unwrap(), 1);
    assert_eq!(site.source_keys(Kind::Comment).unwrap(), ["c1", "c2", "c1"]);
    // The first write is the one find_written names.
    let found = site
        .find_written(Kind::Comment, &["c1".to_owned()])
        .unwrap();
    assert_eq!(found, [Some(first[0].clone())]);
    assert_eq!(site.counts().unwrap()[&Kind::Comment], 3);
    assert_eq!(site.duplicate_source_keys(Kind::Issue).unwrap(), 0);
}

#[test]
fn snapshot_shows_seeded_content_beside_written_content() {
    let mut f = fixture();
    let site = &mut f.site;
    let hidden = site.add_user(None, "Hidden Email").unwrap();
    let known = site.add_user(Some("ann@example.com"), "Ann").unwrap();
    let demo = site.add_project("DEMO", "Existing Demo").unwrap();
    let field = site
        .add_field(
            "Team",
            "com.atlassian.jira.plugin.system.customfieldtypes:textfield",
        )
        .unwrap();
    let bug2 = site.add_constant(Kind::IssueType, "Incident").unwrap();
    site.add_group("support").unwrap();
    assert!(matches!(
        site.add_project("DEMO", "Clash"),
        Err(TargetError::Invalid(_))
    ));

    // The source's DEMO project clashes with the seeded one.
    let e = refused(site, Kind::Project, project("10100", "DEMO", ""));
    assert_eq!(e.code, "duplicate-key");
    let written = ok(site, Kind::Project, &[project("10101", "WEB", &known)]);

    let s = site.snapshot().unwrap();
    let projects: Vec<(&str, &str)> = s
        .projects
        .iter()
        .map(|p| (p.id.as_str(), p.key.as_str()))
        .collect();
    assert_eq!(
        projects,
        [(demo.as_str(), "DEMO"), (written[0].as_str(), "WEB")]
    );
    assert_eq!(s.projects[0].name, "Existing Demo");
    assert_eq!(s.fields.len(), 1);
    assert_eq!(s.fields[0].id, field);
    assert!(s.fields[0].type_key.ends_with(":textfield"));
    assert_eq!(s.users.len(), 2);
    assert_eq!(
        (s.users[0].account_id.as_str(), s.users[0].email.as_deref()),
        (hidden.as_str(), None)
    );
    assert_eq!(s.users[1].email.as_deref(), Some("ann@example.com"));
    assert!(
        s.issue_types
            .iter()
            .any(|t| t.id == bug2 && t.name == "Incident")
    );
    assert_eq!(s.groups.last().map(String::as_str), Some("support"));
    // Seeded rows are not Airlock's.
    assert_eq!(site.counts().unwrap().get(&Kind::Project), Some(&1));
    assert_eq!(site.counts().unwrap().get(&Kind::User), None);
}

#[test]
fn changes_from_another_connection_are_seen() {
    let mut f = fixture();
    let b = base(&mut f.site);
    let mut other = LocalSite::open(&f.path).unwrap();
    // `f.site` has its id sets loaded; the project below is new to them.
    let web = other.add_project("WEB", "Web").unwrap();
    let ids = ok(
        &mut f.site,
        Kind::Issue,
        &[Record::Issue(issue("2", &web, 1, Some(&b.account)))],
    );
    assert_eq!(ids.len(), 1);
    assert_eq!(f.site.issue_keys().unwrap(), ["DEMO-1", "WEB-1"]);
}

/// Run in a child process by `a_killed_process_keeps_committed_batches`.
#[test]
fn child_writes_then_dies() {
    let Ok(path) = std::env::var("AIRLOCK_TARGET_CHILD_SITE") else {
        return;
    };
    let mut site = LocalSite::open(std::path::Path::new(&path)).unwrap();
    let b = base(&mut site);
    ok(&mut site, Kind::Comment, &[comment("c1", &b.issue, None)]);
    // No destructors, no checkpoint: what a kill -9 leaves behind.
    std::process::abort();
}

#[test]
fn a_killed_process_keeps_committed_batches() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("site.db");
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_writes_then_dies",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("AIRLOCK_TARGET_CHILD_SITE", &path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success(), "the child should have aborted");
    let mut site = LocalSite::open(&path).unwrap();
    assert_eq!(site.issue_keys().unwrap(), ["DEMO-1"]);
    assert_eq!(site.source_keys(Kind::Comment).unwrap(), ["c1"]);
}

/// Load speed: `cargo test --release -p airlock-site --test local_site -- --ignored
/// --nocapture throughput`.
#[test]
#[ignore]
fn throughput() {
    let mut f = fixture();
    let site = &mut f.site;
    let users: Vec<Record> = (0..1_000).map(|i| user(&format!("u{i}"))).collect();
    let accounts = ok(site, Kind::User, &users);
    let project = ok(site, Kind::Project, &[project("1", "LOAD", &accounts[0])]).remove(0);
    let batch_size = std::env::var("AIRLOCK_BATCH")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(1_000);
    const ISSUES: usize = 200_000;
    const PER_ISSUE: usize = 1;

    let issues: Vec<Record> = (0..ISSUES)
        .map(|i| {
            let mut r = issue(&(100_000 + i).to_string(), &project, i as u64 + 1, None);
            r.reporter = Some(accounts[i % accounts.len()].clone());
            r.assignee = Some(accounts[(i * 7) % accounts.len()].clone());
            r.summary = format!("Load test issue number {i}");
            r.description = "A short description of a loaded issue.".into();
            Record::Issue(r)
        })
        .collect();
    let start = std::time::Instant::now();
    let mut issue_ids = Vec::with_capacity(ISSUES);
    for batch in issues.chunks(batch_size) {
        issue_ids.extend(ok(site, Kind::Issue, batch));
    }
    let issue_secs = start.elapsed().as_secs_f64();

    let comments: Vec<Record> = (0..ISSUES * PER_ISSUE)
        .map(|i| {
            comment(
                &(500_000 + i).to_string(),
                &issue_ids[i % ISSUES],
                Some(&accounts[i % accounts.len()]),
            )
        })
        .collect();
    let worklogs: Vec<Record> = (0..ISSUES * PER_ISSUE)
        .map(|i| {
            worklog(
                &(900_000 + i).to_string(),
                &issue_ids[i % ISSUES],
                Some(&accounts[i % accounts.len()]),
            )
        })
        .collect();
    let start = std::time::Instant::now();
    for batch in comments.chunks(batch_size) {
        ok(site, Kind::Comment, batch);
    }
    let comment_secs = start.elapsed().as_secs_f64();
    let start = std::time::Instant::now();
    for batch in worklogs.chunks(batch_size) {
        ok(site, Kind::Worklog, batch);
    }
    let worklog_secs = start.elapsed().as_secs_f64();

    let rate = |n: usize, s: f64| n as f64 / s;
    println!("batches of {batch_size}");
    println!(
        "issues: {ISSUES} in {issue_secs:.2}s = {:.0} rows/s",
        rate(ISSUES, issue_secs)
    );
    println!(
        "comments: {} in {comment_secs:.2}s = {:.0} rows/s",
        comments.len(),
        rate(comments.len(), comment_secs)
    );
    println!(
        "worklogs: {} in {worklog_secs:.2}s = {:.0} rows/s",
        worklogs.len(),
        rate(worklogs.len(), worklog_secs)
    );
    let total = ISSUES + comments.len() + worklogs.len();
    let secs = issue_secs + comment_secs + worklog_secs;
    println!(
        "all: {total} rows in {secs:.2}s = {:.0} rows/s",
        rate(total, secs)
    );
    let keys: Vec<String> = issues.iter().map(source_key).collect();
    let start = std::time::Instant::now();
    let found = site.find_written(Kind::Issue, &keys).unwrap();
    println!(
        "find_written: {} keys in {:.2}s",
        keys.len(),
        start.elapsed().as_secs_f64()
    );
    assert_eq!(
        found.into_iter().map(Option::unwrap).collect::<Vec<_>>(),
        issue_ids
    );
    assert_eq!(site.duplicate_source_keys(Kind::Issue).unwrap(), 0);
}

/// Issue 16's kinds: a role, a watcher (twice: Cloud keeps one), a vote, a filter whose
/// query names the site's ids, and its shares; each found again by its source key, and
/// refused where Cloud refuses (a query naming a status the site lacks, a second filter of
/// the same name and owner, a share with an unknown group).
#[test]
fn roles_watchers_votes_filters_and_shares_are_written_checked_and_found_again() {
    use airlock_model::jira::{Filter, FilterShare, IssueUser, ProjectRole, Share};
    let mut f = fixture();
    let site = &mut f.site;
    let b = base(site);
    let role = ok(
        site,
        Kind::ProjectRole,
        &[Record::ProjectRole(ProjectRole {
            id: "10001".into(),
            name: "Developers".into(),
            description: String::new(),
        })],
    );
    let watch = |id: &str| {
        Record::Watcher(IssueUser {
            id: id.into(),
            issue: b.issue.clone(),
            user: b.account.clone(),
            created: None,
        })
    };
    ok(site, Kind::Watcher, &[watch("20000:admin")]);
    ok(site, Kind::Watcher, &[watch("20000:admin")]);
    // Again under another source key: still one watcher, which takes the new key.
    ok(site, Kind::Watcher, &[watch("20000:admin-again")]);
    let vote = Record::Vote(IssueUser {
        id: "20000:admin".into(),
        issue: b.issue.clone(),
        user: b.account.clone(),
        created: Some(0),
    });
    ok(site, Kind::Vote, &[vote]);
    let filter = |id: &str, jql: String| {
        Record::Filter(Filter {
            id: id.into(),
            name: format!("filter {id}"),
            description: String::new(),
            owner: b.account.clone(),
            jql,
            favourites: 1,
        })
    };
    let jql = format!(
        "project = {} AND assignee = {} AND status = 10000",
        b.project, b.account
    );
    let filters = ok(site, Kind::Filter, &[filter("f1", jql)]);
    let unknown = refused(site, Kind::Filter, filter("f2", "status = 99999".into()));
    assert_eq!(unknown.code, "invalid-value", "{unknown}");
    assert!(unknown.message.contains("issueStatus"), "{unknown}");
    let same_name = refused(site, Kind::Filter, filter("f1", String::new()));
    assert_eq!(same_name.code, "duplicate-key");
    let share = |id: &str, share: Share| {
        Record::FilterShare(FilterShare {
            id: id.into(),
            filter: filters[0].clone(),
            share,
            edit: false,
        })
    };
    ok(
        site,
        Kind::FilterShare,
        &[
            share("s1", Share::Global),
            share(
                "s2",
                Share::Project {
                    project: b.project.clone(),
                    role: Some(role[0].clone()),
                },
            ),
        ],
    );
    let no_group = refused(
        site,
        Kind::FilterShare,
        share("s3", Share::Group("nobody-here".into())),
    );
    assert_eq!(no_group.code, "invalid-reference");

    assert_eq!(
        site.find_written(Kind::Watcher, &["20000:admin-again".into()])
            .unwrap(),
        [Some(String::new())]
    );
    assert_eq!(
        site.find_written(Kind::Filter, &["f1".into(), "f2".into()])
            .unwrap(),
        [Some(filters[0].clone()), None]
    );
    let counts = site.counts().unwrap();
    assert_eq!(
        counts[&Kind::Watcher],
        1,
        "a second add of a watcher adds none"
    );
    assert_eq!(counts[&Kind::Vote], 1);
    assert_eq!(counts[&Kind::FilterShare], 2);
    let read = site.read_filters().unwrap();
    assert_eq!(
        read[0].shares,
        ["global", &format!("projectRole:{}/{}", b.project, role[0])]
    );
    let issue = site.read_issue("DEMO-1").unwrap().unwrap();
    assert_eq!(
        (issue.watchers, issue.voters),
        (vec!["admin".to_owned()], vec!["admin".to_owned()])
    );
}

/// What each site version added, undone: `downgrade_to` makes a site of an older version
/// from a current one (newest first, so each step finds what it drops).
const ADDED_IN: &[(i64, &str)] = &[
    (
        11,
        "CREATE INDEX change_groups_source ON change_groups (source_key)
             WHERE source_key IS NOT NULL;
         CREATE INDEX change_items_source ON change_items (source_key)
             WHERE source_key IS NOT NULL;",
    ),
    (
        10,
        "DROP TABLE issue_type_schemes; DROP TABLE issue_type_scheme_types; DROP TABLE workflows;
         DROP TABLE workflow_steps; DROP TABLE workflow_transitions; DROP TABLE workflow_schemes;
         DROP TABLE workflow_scheme_mappings; DROP TABLE board_card_fields;
         DROP TABLE board_card_colors;",
    ),
    (
        9,
        "DROP TABLE field_configurations; DROP TABLE field_configuration_items;
         DROP TABLE field_configuration_schemes; DROP TABLE field_configuration_mappings;",
    ),
    (
        8,
        "DROP TABLE screens; DROP TABLE screen_tabs; DROP TABLE screen_fields;
         DROP TABLE screen_schemes; DROP TABLE screen_scheme_screens;
         DROP TABLE issue_type_screen_schemes; DROP TABLE issue_type_screen_mappings;",
    ),
    (
        7,
        "DROP TABLE dashboards; DROP TABLE dashboard_shares; DROP TABLE gadgets;
         DROP TABLE gadget_preferences;",
    ),
    (
        6,
        "DROP TABLE field_contexts; DROP TABLE field_context_projects;
         DROP TABLE field_context_issue_types; ALTER TABLE field_options DROP COLUMN context_id;
         DROP TABLE security_level_members; DROP TABLE remote_links;",
    ),
    (
        5,
        "DROP TABLE project_categories; DROP TABLE project_keys; DROP TABLE permission_schemes;
         DROP TABLE scheme_permissions; DROP TABLE notification_schemes;
         DROP TABLE notifications;",
    ),
    (4, "DROP TABLE project_role_actors;"),
    (
        3,
        "DROP TABLE boards; DROP TABLE sprints; DROP TABLE board_columns;
         DROP TABLE column_statuses; DROP TABLE board_swimlanes;
         DROP TABLE board_quick_filters; DROP TABLE issue_sprints; DROP TABLE issue_ranks;",
    ),
    (
        2,
        "DROP TABLE project_roles; DROP TABLE watchers; DROP TABLE votes;
         DROP TABLE filters; DROP TABLE filter_shares; DROP TABLE change_groups;
         DROP TABLE change_items; DROP TABLE security_schemes; DROP TABLE security_levels;
         DROP TABLE project_schemes; ALTER TABLE issues DROP COLUMN security_level_id;",
    ),
];

/// Turns the site file at `path` into one of `version`: the tables later versions added
/// dropped, then `then` run (a table as that version had it), its data otherwise kept.
fn downgrade_to(path: &Path, version: i64, then: &str) {
    let db = rusqlite::Connection::open(path).unwrap();
    for (added, sql) in ADDED_IN {
        if *added > version {
            db.execute_batch(sql).unwrap();
        }
    }
    db.execute_batch(then).unwrap();
    db.pragma_update(None, "user_version", version).unwrap();
}

/// A site made by the version before roles, watchers and filters is brought up to date
/// when opened: its data kept, the new tables there.
#[test]
fn a_site_of_the_previous_version_is_upgraded_when_opened() {
    let mut f = fixture();
    let b = base(&mut f.site);
    drop(f.site);
    downgrade_to(&f.path, 1, "");
    let mut site = LocalSite::open(&f.path).unwrap();
    assert_eq!(site.issue_keys().unwrap(), ["DEMO-1"]);
    assert!(
        site.snapshot()
            .unwrap()
            .roles
            .iter()
            .any(|r| r.name == "Administrators")
    );
    let watcher = Record::Watcher(airlock_model::jira::IssueUser {
        id: "20000:admin".into(),
        issue: b.issue,
        user: b.account.clone(),
        created: None,
    });
    ok(&mut site, Kind::Watcher, &[watcher]);
    assert!(site.read_boards().unwrap().is_empty(), "version 3's tables");
    assert!(site.read_role_actors().unwrap().is_empty(), "version 4's");
    let lead = Record::ProjectRoleActor(airlock_model::jira::ProjectRoleActor {
        id: "10000".into(),
        project: Some(b.project),
        role: "10002".into(),
        actor: airlock_model::jira::RoleActor::User(b.account),
    });
    ok(&mut site, Kind::ProjectRoleActor, &[lead]);
    assert_eq!(site.counts().unwrap()[&Kind::ProjectRoleActor], 1);
}

/// A site of version 3 (before project role actors) gets their table when opened.
#[test]
fn a_site_of_version_3_gets_the_role_actors_table() {
    let mut f = fixture();
    let b = base(&mut f.site);
    drop(f.site);
    downgrade_to(&f.path, 3, "");
    let mut site = LocalSite::open(&f.path).unwrap();
    let lead = Record::ProjectRoleActor(airlock_model::jira::ProjectRoleActor {
        id: "10000".into(),
        project: Some(b.project),
        role: "10002".into(),
        actor: airlock_model::jira::RoleActor::User(b.account),
    });
    ok(&mut site, Kind::ProjectRoleActor, &[lead]);
    assert_eq!(
        site.find_written(Kind::ProjectRoleActor, &["10000".into()])
            .unwrap(),
        [Some(String::new())]
    );
    let db = rusqlite::Connection::open(&f.path).unwrap();
    let version: i64 = db
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 11);
}

/// A site of version 10 loses history's source indexes when opened (they cost a quarter
/// of each history insert), and its change groups and items are still found again, the
/// first of a key written twice first, by a scan.
#[test]
fn a_site_of_version_10_loses_historys_source_indexes_and_still_finds_history() {
    let mut f = fixture();
    let b = base(&mut f.site);
    let group = |id: &str| {
        Record::ChangeGroup(airlock_model::jira::ChangeGroup {
            id: id.into(),
            issue: b.issue.clone(),
            author: Some(b.account.clone()),
            created: 1_400_000_000_000,
        })
    };
    let groups = ok(
        &mut f.site,
        Kind::ChangeGroup,
        &[group("30000"), group("30001")],
    );
    let item = |id: &str| {
        Record::ChangeItem(airlock_model::jira::ChangeItem {
            id: id.into(),
            group: groups[1].clone(),
            custom: false,
            field: "summary".into(),
            old_value: None,
            old_string: Some("before".into()),
            new_value: None,
            new_string: Some("after".into()),
        })
    };
    drop(f.site);
    downgrade_to(&f.path, 10, "");
    let mut site = LocalSite::open(&f.path).unwrap();
    let items = ok(&mut site, Kind::ChangeItem, &[item("40000"), item("40000")]);
    let db = rusqlite::Connection::open(&f.path).unwrap();
    let indexes: Vec<String> = db
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND name LIKE 'change_%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(indexes, ["change_groups_issue", "change_items_group"]);
    assert_eq!(
        site.find_written(
            Kind::ChangeGroup,
            &["30001".into(), "39999".into(), "30000".into()]
        )
        .unwrap(),
        [Some(groups[1].clone()), None, Some(groups[0].clone())]
    );
    assert_eq!(
        site.find_written(Kind::ChangeItem, &["40000".into()])
            .unwrap(),
        [Some(items[0].clone())]
    );
    assert_ne!(items[0], items[1]);
}

/// A site of version 4 (before permission schemes, categories and former keys) gets their
/// tables when opened, Cloud's default permission scheme, and a `project_schemes` that
/// takes the new types with its rows kept.
#[test]
fn a_site_of_version_4_gets_permission_schemes_categories_and_keys() {
    let mut f = fixture();
    let b = base(&mut f.site);
    drop(f.site);
    downgrade_to(
        &f.path,
        4,
        "DROP TABLE project_schemes;
         CREATE TABLE project_schemes (
             id INTEGER PRIMARY KEY,
             project_id INTEGER NOT NULL,
             scheme_type TEXT NOT NULL CHECK (scheme_type IN ('issue-security')),
             scheme_id INTEGER NOT NULL,
             source_key TEXT
         );
         CREATE UNIQUE INDEX project_schemes_type ON project_schemes (project_id, scheme_type);
         CREATE INDEX project_schemes_source ON project_schemes (source_key)
             WHERE source_key IS NOT NULL;
         INSERT INTO project_schemes (project_id, scheme_type, scheme_id, source_key)
             VALUES (10000, 'issue-security', 10000, 'kept');",
    );
    let mut site = LocalSite::open(&f.path).unwrap();
    let schemes = site.read_permission_schemes().unwrap();
    assert_eq!(
        schemes
            .iter()
            .map(|s| (s.id.as_str(), s.name.as_str()))
            .collect::<Vec<_>>(),
        [("0", "Default Permission Scheme")]
    );
    let scheme = Record::PermissionScheme(airlock_model::jira::Named {
        id: "0".into(),
        name: "Default Permission Scheme".into(),
        description: String::new(),
    });
    let id = ok(&mut site, Kind::PermissionScheme, &[scheme]).remove(0);
    let uses = Record::ProjectScheme(airlock_model::jira::ProjectScheme {
        id: "p:PermissionScheme:0".into(),
        project: b.project.clone(),
        scheme_type: airlock_model::jira::SchemeType::Permission,
        scheme: id.clone(),
    });
    ok(&mut site, Kind::ProjectScheme, &[uses]);
    let schemes = site.read_permission_schemes().unwrap();
    assert_eq!(schemes[1].projects, [b.project]);
    let db = rusqlite::Connection::open(&f.path).unwrap();
    let kept: String = db
        .query_row(
            "SELECT source_key FROM project_schemes WHERE scheme_type = 'issue-security'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(kept, "kept");
}

/// Project role actors: a user and a group in a project's roles and a group by default
/// (no project); refused as Cloud refuses them (an unknown role, project, user or group);
/// written twice, kept once (the second write only takes its source key); found again by
/// source key, counted, and read back by the site's ids and users' source keys.
#[test]
fn role_actors_are_written_checked_kept_once_and_found_again() {
    use airlock_model::jira::{ProjectRoleActor, RoleActor};
    let mut f = fixture();
    let site = &mut f.site;
    let b = base(site);
    ok(
        site,
        Kind::Group,
        &[Record::Group(Group {
            name: "developers".into(),
            active: true,
        })],
    );
    let administrators = site
        .snapshot()
        .unwrap()
        .roles
        .into_iter()
        .find(|r| r.name == "Administrators")
        .unwrap()
        .id;
    let actor = |id: &str, project: Option<&str>, role: &str, actor: RoleActor| {
        Record::ProjectRoleActor(ProjectRoleActor {
            id: id.into(),
            project: project.map(Into::into),
            role: role.into(),
            actor,
        })
    };
    let lead = actor(
        "a1",
        Some(&b.project),
        &administrators,
        RoleActor::User(b.account.clone()),
    );
    // Group names ignore case: the site keeps its own spelling.
    let team = actor(
        "a2",
        Some(&b.project),
        "10100",
        RoleActor::Group("Developers".into()),
    );
    let default = actor(
        "a3",
        None,
        &administrators,
        RoleActor::Group("jira-administrators".into()),
    );
    let answers = ok(
        site,
        Kind::ProjectRoleActor,
        &[lead.clone(), team, default.clone()],
    );
    assert_eq!(answers, ["", "", ""]);

    for (record, code) in [
        (
            actor(
                "r1",
                Some(&b.project),
                "99999",
                RoleActor::User(b.account.clone()),
            ),
            "invalid-reference",
        ),
        (
            actor(
                "r2",
                Some("99999"),
                &administrators,
                RoleActor::User(b.account.clone()),
            ),
            "invalid-reference",
        ),
        (
            actor(
                "r3",
                Some(&b.project),
                &administrators,
                RoleActor::User("no-such-account".into()),
            ),
            "invalid-reference",
        ),
        (
            actor(
                "r4",
                None,
                &administrators,
                RoleActor::Group("no-such-group".into()),
            ),
            "invalid-reference",
        ),
        (
            actor("r5", None, &administrators, RoleActor::User(String::new())),
            "invalid-value",
        ),
    ] {
        let e = refused(site, Kind::ProjectRoleActor, record);
        assert_eq!(e.code, code, "{e}");
    }

    // Again (a rerun, another source row naming the same actor): kept once, under the
    // newest source key; a default actor is kept once too (it has no project).
    ok(site, Kind::ProjectRoleActor, &[lead, default]);
    let again = actor(
        "a4",
        None,
        &administrators,
        RoleActor::Group("JIRA-administrators".into()),
    );
    ok(site, Kind::ProjectRoleActor, &[again]);
    assert_eq!(site.counts().unwrap()[&Kind::ProjectRoleActor], 3);
    assert_eq!(
        site.duplicate_source_keys(Kind::ProjectRoleActor).unwrap(),
        0
    );
    assert_eq!(
        site.find_written(
            Kind::ProjectRoleActor,
            &[
                "a1".into(),
                "a2".into(),
                "a3".into(),
                "a4".into(),
                "r1".into()
            ]
        )
        .unwrap(),
        [
            Some(String::new()),
            Some(String::new()),
            None,
            Some(String::new()),
            None
        ]
    );
    let read = site.read_role_actors().unwrap();
    let shown: Vec<(Option<&str>, &str, &str, Option<&str>)> = read
        .iter()
        .map(|a| {
            (
                a.project.as_deref(),
                a.role.as_str(),
                a.actor.as_str(),
                a.source_key.as_deref(),
            )
        })
        .collect();
    let mut expected = vec![
        (
            None,
            administrators.as_str(),
            "group:jira-administrators",
            Some("a4"),
        ),
        (
            Some(b.project.as_str()),
            administrators.as_str(),
            "user:admin",
            Some("a1"),
        ),
        (
            Some(b.project.as_str()),
            "10100",
            "group:developers",
            Some("a2"),
        ),
    ];
    expected.sort();
    assert_eq!(shown, expected);
}

/// A scrum board of the base project on a filter of it: (filter, board), the site's ids.
fn scrum_board(site: &mut LocalSite, b: &Base) -> (String, String) {
    use airlock_model::jira::{Board, Filter};
    let filter = ok(
        site,
        Kind::Filter,
        &[Record::Filter(Filter {
            id: "10400".into(),
            name: "DEMO board".into(),
            description: String::new(),
            owner: b.account.clone(),
            jql: format!("project = {} ORDER BY Rank ASC", b.project),
            favourites: 0,
        })],
    )
    .remove(0);
    let board = ok(
        site,
        Kind::Board,
        &[Record::Board(Board {
            id: "1".into(),
            name: "DEMO board".into(),
            owner: Some(b.account.clone()),
            filter: filter.clone(),
            sprints_enabled: true,
            kanban_backlog: false,
            swimlane_strategy: "custom".into(),
        })],
    )
    .remove(0);
    (filter, board)
}

/// Jira Software on the local site: a board on its filter, its sprints, columns with
/// their statuses, swimlanes and quick filters, issues' sprints and ranks; each refused
/// as Cloud would (an unknown board or status, a started sprint without dates, a column
/// whose minimum exceeds its maximum, a query naming a sprint the site lacks), found
/// again by source key, and read back.
#[test]
fn boards_sprints_columns_and_ranks_are_written_checked_and_found_again() {
    use airlock_model::jira::{
        BoardColumn, BoardQuery, ColumnStatus, IssueRank, IssueSprint, Sprint, SprintState,
    };
    let mut f = fixture();
    let site = &mut f.site;
    let b = base(site);
    let (filter, board) = scrum_board(site, &b);
    let sprint = |id: &str, board: &str, state, dates: bool| {
        Record::Sprint(Sprint {
            id: id.into(),
            board: board.into(),
            name: format!("Sprint {id}"),
            goal: "Ship it".into(),
            state,
            start: dates.then_some(1_700_000_000_000),
            end: dates.then_some(1_701_209_600_000),
            completed: None,
            sequence: None,
        })
    };
    let sprints = ok(
        site,
        Kind::Sprint,
        &[
            sprint("1", &board, SprintState::Closed, true),
            sprint("2", &board, SprintState::Future, false),
        ],
    );
    let undated = refused(
        site,
        Kind::Sprint,
        sprint("3", &board, SprintState::Active, false),
    );
    assert_eq!(undated.code, "invalid-value", "{undated}");
    let no_board = refused(
        site,
        Kind::Sprint,
        sprint("4", "999", SprintState::Future, false),
    );
    assert_eq!(no_board.code, "invalid-reference", "{no_board}");

    let column = |id: &str, min, max| {
        Record::BoardColumn(BoardColumn {
            id: id.into(),
            board: board.clone(),
            name: format!("Column {id}"),
            position: id.parse().unwrap(),
            min,
            max,
        })
    };
    let columns = ok(site, Kind::BoardColumn, &[column("1", None, Some(5))]);
    let limits = refused(site, Kind::BoardColumn, column("2", Some(6), Some(5)));
    assert_eq!(limits.code, "invalid-value", "{limits}");
    let status = |id: &str, status: &str| {
        Record::ColumnStatus(ColumnStatus {
            id: id.into(),
            column: columns[0].clone(),
            status: status.into(),
            position: 0,
        })
    };
    ok(site, Kind::ColumnStatus, &[status("1", "10001")]);
    let twice = refused(site, Kind::ColumnStatus, status("2", "10001"));
    assert_eq!(twice.code, "duplicate-key", "{twice}");
    let no_status = refused(site, Kind::ColumnStatus, status("3", "99999"));
    assert_eq!(no_status.code, "invalid-reference", "{no_status}");

    let query = |id: &str, jql: String| BoardQuery {
        id: id.into(),
        board: board.clone(),
        name: format!("Query {id}"),
        description: String::new(),
        jql,
        position: 0,
    };
    ok(
        site,
        Kind::Swimlane,
        &[Record::Swimlane(query(
            "1",
            format!("assignee = {}", b.account),
        ))],
    );
    ok(
        site,
        Kind::QuickFilter,
        &[Record::QuickFilter(query(
            "1",
            format!("sprint = {}", sprints[1]),
        ))],
    );
    let unknown = refused(
        site,
        Kind::QuickFilter,
        Record::QuickFilter(query("2", "sprint = 999".into())),
    );
    assert_eq!(unknown.code, "invalid-value", "{unknown}");

    let in_sprint = |id: &str, sprint: &str| {
        Record::IssueSprint(IssueSprint {
            id: id.into(),
            issue: b.issue.clone(),
            sprint: sprint.into(),
        })
    };
    ok(
        site,
        Kind::IssueSprint,
        &[
            in_sprint("30000", &sprints[0]),
            in_sprint("30001", &sprints[1]),
        ],
    );
    // Written again after a crash: still in each sprint once.
    ok(site, Kind::IssueSprint, &[in_sprint("30000", &sprints[0])]);
    let fields = ok(
        site,
        Kind::CustomField,
        &[Record::CustomField(airlock_model::jira::CustomField {
            id: "10200".into(),
            name: "Rank".into(),
            type_key: "com.pyxis.greenhopper.jira:gh-lexo-rank".into(),
            description: String::new(),
        })],
    );
    let rank = |id: &str, rank: &str| {
        Record::IssueRank(IssueRank {
            id: id.into(),
            issue: b.issue.clone(),
            field: fields[0].clone(),
            rank: rank.into(),
        })
    };
    ok(site, Kind::IssueRank, &[rank("1", "0|i0000f:")]);
    // A second rank of the issue replaces the first, as Cloud's rank field does.
    ok(site, Kind::IssueRank, &[rank("2", "0|i0000g:")]);

    assert_eq!(
        site.find_written(Kind::Sprint, &["1".into(), "3".into()])
            .unwrap(),
        [Some(sprints[0].clone()), None]
    );
    assert_eq!(
        site.find_written(Kind::Board, &["1".into()]).unwrap(),
        [Some(board.clone())]
    );
    let counts = site.counts().unwrap();
    assert_eq!(
        counts[&Kind::IssueSprint],
        2,
        "one row per issue and sprint"
    );
    assert_eq!(counts[&Kind::ColumnStatus], 1);
    let boards = site.read_boards().unwrap();
    assert_eq!(boards.len(), 1);
    let read = &boards[0];
    assert_eq!(
        (read.scrum, read.filter.as_str(), read.owner.as_deref()),
        (true, filter.as_str(), Some("admin"))
    );
    assert_eq!(read.columns[0].statuses, ["10001"]);
    assert_eq!(read.columns[0].max, Some(5));
    assert_eq!(read.sprints.len(), 2);
    assert_eq!(read.sprints[0].state, "closed");
    assert_eq!(
        read.quick_filters,
        [("Query 1".to_owned(), format!("sprint = {}", sprints[1]))]
    );
    let issue = site.read_issue("DEMO-1").unwrap().unwrap();
    let mut expected = sprints.clone();
    expected.sort();
    assert_eq!(issue.sprints, expected);
    assert_eq!(issue.rank.as_deref(), Some("0|i0000g:"));
    assert_eq!(site.counts().unwrap()[&Kind::IssueRank], 1);
    assert_eq!(
        site.find_written(Kind::IssueRank, &["2".into()]).unwrap(),
        [Some(String::new())]
    );
}

/// Permission schemes: one named like the site's default is written as
/// `<name> (migrated)` (the site's own is left as it is), the next alike as
/// `(migrated 2)`; grants to a group (kept by the site's spelling), a user, a role, anyone
/// and the reporter, written twice and kept once; a grant to a group the site lacks is
/// refused; a project's scheme and category associated and read back.
#[test]
fn permission_schemes_are_never_merged_and_their_grants_read_back() {
    use airlock_model::jira::{
        Named, PermissionHolder, ProjectScheme, SchemePermission, SchemeType,
    };
    let mut f = fixture();
    let b = base(&mut f.site);
    let named = |id: &str, name: &str| Named {
        id: id.into(),
        name: name.into(),
        description: "d".into(),
    };
    let ids = ok(
        &mut f.site,
        Kind::PermissionScheme,
        &[
            Record::PermissionScheme(named("0", "Default Permission Scheme")),
            Record::PermissionScheme(named("1", "default permission scheme")),
            Record::PermissionScheme(named("10000", "Restricted")),
        ],
    );
    let grant = |id: &str, permission: &str, holder| {
        Record::SchemePermission(SchemePermission {
            id: id.into(),
            scheme: ids[0].clone(),
            permission: permission.into(),
            holder,
        })
    };
    let grants = [
        grant(
            "g1",
            "ADMINISTER_PROJECTS",
            PermissionHolder::Group("JIRA-Administrators".into()),
        ),
        grant("g2", "BROWSE_PROJECTS", PermissionHolder::Anyone),
        grant(
            "g3",
            "EDIT_ISSUES",
            PermissionHolder::User(b.account.clone()),
        ),
        grant(
            "g4",
            "ASSIGNABLE_USER",
            PermissionHolder::ProjectRole("10002".into()),
        ),
        grant("g5", "EDIT_OWN_COMMENTS", PermissionHolder::Reporter),
    ];
    let first = ok(&mut f.site, Kind::SchemePermission, &grants);
    // Written again (a rerun): the same rows.
    assert_eq!(ok(&mut f.site, Kind::SchemePermission, &grants), first);
    let e = refused(
        &mut f.site,
        Kind::SchemePermission,
        grant(
            "g6",
            "BROWSE_PROJECTS",
            PermissionHolder::Group("nobody".into()),
        ),
    );
    assert_eq!(e.code, "invalid-reference", "{e:?}");
    let category = ok(
        &mut f.site,
        Kind::ProjectCategory,
        &[Record::ProjectCategory(named("10000", "Products"))],
    )
    .remove(0);
    let associate = |scheme_type, scheme: &str| {
        Record::ProjectScheme(ProjectScheme {
            id: format!("10100:{scheme_type:?}:{scheme}"),
            project: b.project.clone(),
            scheme_type,
            scheme: scheme.into(),
        })
    };
    ok(
        &mut f.site,
        Kind::ProjectScheme,
        &[
            associate(SchemeType::Permission, &ids[0]),
            associate(SchemeType::Category, &category),
        ],
    );

    let schemes = f.site.read_permission_schemes().unwrap();
    let names: Vec<&str> = schemes.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Default Permission Scheme",
            "Default Permission Scheme (migrated)",
            "default permission scheme (migrated 2)",
            "Restricted"
        ]
    );
    assert!(schemes[0].grants.is_empty(), "the site's own is untouched");
    let migrated = &schemes[1];
    assert_eq!(migrated.source_key.as_deref(), Some("0"));
    assert_eq!(migrated.projects, std::slice::from_ref(&b.project));
    let read: Vec<(&str, &str, Option<&str>)> = migrated
        .grants
        .iter()
        .map(|g| {
            (
                g.permission.as_str(),
                g.holder_type.as_str(),
                g.parameter.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        read,
        [
            ("ADMINISTER_PROJECTS", "group", Some("jira-administrators")),
            ("ASSIGNABLE_USER", "projectRole", Some("10002")),
            ("BROWSE_PROJECTS", "anyone", None),
            ("EDIT_ISSUES", "user", Some("user:admin")),
            ("EDIT_OWN_COMMENTS", "reporter", None),
        ]
    );
    let categories = f.site.read_project_categories().unwrap();
    assert_eq!(categories[0].projects, std::slice::from_ref(&b.project));
    assert_eq!(f.site.counts().unwrap()[&Kind::SchemePermission], 5);
}

/// A project's keys: its own written again only takes the source key, a former one is
/// kept, and a key another project has (now or before) is refused; a rename keeps the old
/// key, and renaming to another project's key is refused.
#[test]
fn project_keys_and_renames_keep_every_key_a_project_had() {
    use airlock_model::jira::ProjectKey;
    let mut f = fixture();
    let b = base(&mut f.site);
    let other = ok(
        &mut f.site,
        Kind::Project,
        &[project("10101", "OPS", &b.account)],
    )
    .remove(0);
    let key = |id: &str, project: &str, key: &str| {
        Record::ProjectKey(ProjectKey {
            id: id.into(),
            project: project.into(),
            key: key.into(),
        })
    };
    ok(
        &mut f.site,
        Kind::ProjectKey,
        &[
            key("1", &b.project, "DEMO"),
            key("2", &b.project, "OLDDEMO"),
        ],
    );
    ok(
        &mut f.site,
        Kind::ProjectKey,
        &[key("2", &b.project, "OLDDEMO")],
    );
    let e = refused(&mut f.site, Kind::ProjectKey, key("3", &other, "OLDDEMO"));
    assert_eq!(e.code, "duplicate-key", "{e:?}");
    let e = refused(&mut f.site, Kind::ProjectKey, key("4", &other, "DEMO"));
    assert_eq!(e.code, "duplicate-key", "{e:?}");
    let e = refused(&mut f.site, Kind::ProjectKey, key("5", &other, "bad key"));
    assert_eq!(e.code, "invalid-value", "{e:?}");

    f.site.rename_project(&b.project, "DEMO2").unwrap().unwrap();
    assert_eq!(
        f.site.issue_keys().unwrap(),
        ["DEMO2-1"],
        "its issues take the key"
    );
    f.site.rename_project(&b.project, "DEMO").unwrap().unwrap();
    f.site.rename_project(&other, "OPS2").unwrap().unwrap();
    f.site.rename_project(&other, "OPS").unwrap().unwrap();
    let e = f
        .site
        .rename_project(&other, "OLDDEMO")
        .unwrap()
        .unwrap_err();
    assert_eq!(e.code, "duplicate-key", "{e:?}");
    let keys: Vec<(String, String)> = f
        .site
        .read_project_keys()
        .unwrap()
        .into_iter()
        .map(|k| (k.project, k.key))
        .collect();
    assert_eq!(
        keys,
        [
            (b.project.clone(), "DEMO".to_owned()),
            (b.project.clone(), "DEMO2".to_owned()),
            (b.project.clone(), "OLDDEMO".to_owned()),
            (other.clone(), "OPS".to_owned()),
            (other.clone(), "OPS2".to_owned()),
        ]
    );
    assert_eq!(f.site.issue_keys().unwrap(), ["DEMO-1"]);
}

fn field(id: &str, name: &str) -> Record {
    Record::CustomField(CustomField {
        id: id.into(),
        name: name.into(),
        type_key: "com.atlassian.jira.plugin.system.customfieldtypes:select".into(),
        description: String::new(),
    })
}

fn context(id: &str, field: &str, name: &str, projects: &[&str], types: &[&str]) -> Record {
    Record::FieldContext(FieldContext {
        id: id.into(),
        field: field.into(),
        name: name.into(),
        description: format!("{name}, described"),
        projects: projects.iter().map(|p| p.to_string()).collect(),
        issue_types: types.iter().map(|t| t.to_string()).collect(),
    })
}

fn option(id: &str, field: &str, context: Option<&str>, value: &str) -> Record {
    Record::CustomFieldOption(CustomFieldOption {
        id: id.into(),
        field: field.into(),
        context: context.map(Into::into),
        value: value.into(),
        parent: None,
        disabled: false,
    })
}

/// As on Jira Cloud: a new field comes with a global context, which the source's global
/// context takes over; a project context is created apart, a project in one context of a
/// field at most; options go to the context they name.
#[test]
fn custom_field_contexts_take_the_global_one_over_and_keep_projects_apart() {
    let mut f = fixture();
    let site = &mut f.site;
    let b = base(site);
    let fields = ok(
        site,
        Kind::CustomField,
        &[field("10001", "Environment"), field("10002", "Team")],
    );
    let contexts = site.read_field_contexts().unwrap();
    assert_eq!(contexts.len(), 2, "{contexts:?}");
    assert_eq!(contexts[0].field, fields[0]);
    assert_eq!(
        contexts[0].name,
        "Default Configuration Scheme for Environment"
    );
    assert!(contexts[0].global && contexts[0].source_key.is_none());
    let global = contexts[0].id.clone();
    assert!(
        !site.counts().unwrap().contains_key(&Kind::FieldContext),
        "the site's own contexts are not counted as written"
    );

    // The global context is taken over, narrowed to Bug (10001 on a new site).
    let taken = ok(
        site,
        Kind::FieldContext,
        &[context("10100", &fields[0], "Everywhere", &[], &["10001"])],
    );
    assert_eq!(taken, std::slice::from_ref(&global));
    let again = refused(
        site,
        Kind::FieldContext,
        context("10101", &fields[0], "Second", &[], &[]),
    );
    assert_eq!(again.code, "duplicate-key", "{again:?}");

    let mine = ok(
        site,
        Kind::FieldContext,
        &[context("10102", &fields[0], "Platform", &[&b.project], &[])],
    )
    .remove(0);
    assert_ne!(mine, global);
    let clash = refused(
        site,
        Kind::FieldContext,
        context("10103", &fields[0], "Clash", &[&b.project], &[]),
    );
    assert_eq!(clash.code, "duplicate-key", "{clash:?}");
    let unknown = refused(
        site,
        Kind::FieldContext,
        context("10104", &fields[0], "Nowhere", &["999"], &[]),
    );
    assert_eq!(unknown.code, "invalid-reference", "{unknown:?}");
    // Another field may have the project in a context of its own.
    ok(
        site,
        Kind::FieldContext,
        &[context(
            "10105",
            &fields[1],
            "Team here",
            &[&b.project],
            &[],
        )],
    );

    let options = ok(
        site,
        Kind::CustomFieldOption,
        &[
            option("1", &fields[0], Some(&mine), "EU West"),
            option("2", &fields[0], None, "Production"),
        ],
    );
    let elsewhere = refused(
        site,
        Kind::CustomFieldOption,
        option("3", &fields[1], Some(&mine), "Wrong"),
    );
    assert_eq!(elsewhere.code, "invalid-reference", "{elsewhere:?}");

    let contexts = site.read_field_contexts().unwrap();
    let by_id = |id: &str| contexts.iter().find(|c| c.id == id).unwrap();
    let g = by_id(&global);
    assert_eq!(
        (
            g.name.as_str(),
            g.description.as_str(),
            g.source_key.as_deref()
        ),
        ("Everywhere", "Everywhere, described", Some("10100"))
    );
    assert_eq!(
        (g.projects.clone(), g.issue_types.clone()),
        (vec![], vec!["10001".to_owned()])
    );
    assert_eq!(
        g.options.iter().map(|o| o.id.clone()).collect::<Vec<_>>(),
        [options[1].clone()]
    );
    let p = by_id(&mine);
    assert!(!p.global);
    assert_eq!(p.projects, std::slice::from_ref(&b.project));
    assert!(p.issue_types.is_empty(), "every issue type");
    assert_eq!(p.options.len(), 1);
    assert_eq!(
        (
            p.options[0].value.as_str(),
            p.options[0].source_key.as_deref()
        ),
        ("EU West", Some("1"))
    );
    assert_eq!(site.counts().unwrap()[&Kind::FieldContext], 3);
    assert_eq!(
        site.find_written(Kind::FieldContext, &["10100".into(), "10102".into()])
            .unwrap(),
        [Some(global), Some(mine)]
    );
}

/// A field the site had before the migration keeps its global context as it is: the
/// source's global context maps to it (its options join it), neither renamed nor narrowed.
#[test]
fn a_field_the_site_had_keeps_its_global_context() {
    let mut f = fixture();
    let field = f
        .site
        .add_field(
            "Team",
            "com.atlassian.jira.plugin.system.customfieldtypes:select",
        )
        .unwrap();
    let before = f.site.read_field_contexts().unwrap();
    assert_eq!(before.len(), 1);
    let id = ok(
        &mut f.site,
        Kind::FieldContext,
        &[context("10100", &field, "Everywhere", &[], &["10001"])],
    );
    assert_eq!(id, std::slice::from_ref(&before[0].id));
    let after = f.site.read_field_contexts().unwrap();
    assert_eq!(
        (
            after[0].name.as_str(),
            after[0].issue_types.len(),
            after[0].source_key.as_deref()
        ),
        ("Default Configuration Scheme for Team", 0, Some("10100"))
    );
}

/// A site of version 5 gets its fields' global contexts, holding their options, when
/// opened.
#[test]
fn a_site_of_version_5_gets_a_global_context_per_field() {
    let mut f = fixture();
    let fields = ok(
        &mut f.site,
        Kind::CustomField,
        &[field("10001", "Environment")],
    );
    let options = ok(
        &mut f.site,
        Kind::CustomFieldOption,
        &[option("1", &fields[0], None, "Production")],
    );
    drop(f.site);
    downgrade_to(&f.path, 5, "");
    let mut site = LocalSite::open(&f.path).unwrap();
    let contexts = site.read_field_contexts().unwrap();
    assert_eq!(contexts.len(), 1);
    assert!(contexts[0].global);
    assert_eq!(contexts[0].field, fields[0]);
    assert_eq!(
        contexts[0]
            .options
            .iter()
            .map(|o| o.id.clone())
            .collect::<Vec<_>>(),
        options
    );
    ok(
        &mut site,
        Kind::FieldContext,
        &[context("10100", &fields[0], "Everywhere", &[], &[])],
    );
}

/// An issue security level's members, as on Jira Cloud: holders in Cloud's terms and the
/// site's ids, the same member twice kept once, no "anyone" member, a level of another
/// scheme refused.
#[test]
fn security_level_members_are_kept_in_clouds_terms() {
    use airlock_model::jira::{LevelMember, Named, PermissionHolder, SecurityLevel};
    let mut f = fixture();
    let site = &mut f.site;
    let b = base(site);
    ok(
        site,
        Kind::Group,
        &[Record::Group(Group {
            name: "Developers".into(),
            active: true,
        })],
    );
    let scheme = |id: &str, name: &str| {
        Record::SecurityScheme(Named {
            id: id.into(),
            name: name.into(),
            description: String::new(),
        })
    };
    let schemes = ok(
        site,
        Kind::SecurityScheme,
        &[scheme("1", "Internal"), scheme("2", "Other")],
    );
    let level = |id: &str, scheme: &str| {
        Record::SecurityLevel(SecurityLevel {
            id: id.into(),
            scheme: scheme.into(),
            name: format!("Level {id}"),
            description: String::new(),
        })
    };
    let levels = ok(
        site,
        Kind::SecurityLevel,
        &[level("10", &schemes[0]), level("20", &schemes[1])],
    );
    let member = |id: &str, level: &str, holder: PermissionHolder| {
        Record::SecurityLevelMember(LevelMember {
            id: id.into(),
            scheme: schemes[0].clone(),
            level: level.into(),
            holder,
        })
    };
    let role = site.snapshot().unwrap().roles[0].id.clone();
    let ids = ok(
        site,
        Kind::SecurityLevelMember,
        &[
            member(
                "m1",
                &levels[0],
                PermissionHolder::Group("developers".into()),
            ),
            member("m2", &levels[0], PermissionHolder::User(b.account.clone())),
            member(
                "m3",
                &levels[0],
                PermissionHolder::ProjectRole(role.clone()),
            ),
            member("m4", &levels[0], PermissionHolder::Reporter),
            member("m5", &levels[0], PermissionHolder::ApplicationRole(None)),
            member("m6", &levels[0], PermissionHolder::Reporter),
        ],
    );
    assert_eq!(ids[3], ids[5], "the same member twice is one");
    let anyone = refused(
        site,
        Kind::SecurityLevelMember,
        member("m7", &levels[0], PermissionHolder::Anyone),
    );
    assert_eq!(anyone.code, "invalid-value", "{anyone:?}");
    let elsewhere = refused(
        site,
        Kind::SecurityLevelMember,
        member("m8", &levels[1], PermissionHolder::Reporter),
    );
    assert_eq!(elsewhere.code, "invalid-reference", "{elsewhere:?}");
    let unknown = refused(
        site,
        Kind::SecurityLevelMember,
        member("m9", &levels[0], PermissionHolder::Group("nobody".into())),
    );
    assert_eq!(unknown.code, "invalid-reference", "{unknown:?}");

    let members: Vec<(String, Option<String>, Option<String>)> = site
        .read_level_members()
        .unwrap()
        .into_iter()
        .map(|m| {
            assert_eq!(m.level, levels[0]);
            (m.holder_type, m.parameter, m.source_key)
        })
        .collect();
    assert_eq!(
        members,
        [
            ("group".into(), Some("Developers".into()), Some("m1".into())),
            ("user".into(), Some("user:admin".into()), Some("m2".into())),
            ("projectRole".into(), Some(role), Some("m3".into())),
            ("reporter".into(), None, Some("m6".into())),
            ("applicationRole".into(), None, Some("m5".into())),
        ]
    );
    assert_eq!(site.counts().unwrap()[&Kind::SecurityLevelMember], 5);
}

/// Remote issue links, as on Jira Cloud: a link of a global id the issue has is that
/// link (updated, not doubled); links without one are each their own; a link without
/// an address or title is refused, naming the field.
#[test]
fn remote_links_keep_one_link_per_global_id() {
    use airlock_model::jira::RemoteLink;
    let mut f = fixture();
    let site = &mut f.site;
    let b = base(site);
    let link = |id: &str, global_id: Option<&str>, title: &str, url: &str| {
        Record::RemoteLink(RemoteLink {
            id: id.into(),
            issue: b.issue.clone(),
            global_id: global_id.map(Into::into),
            title: title.into(),
            url: url.into(),
            summary: Some("A summary".into()),
            icon_url: Some("https://wiki.example.com/favicon.png".into()),
            icon_title: Some("Confluence".into()),
            relationship: Some("Wiki Page".into()),
            application_type: Some("com.atlassian.confluence".into()),
            application_name: Some("Example Wiki".into()),
        })
    };
    let ids = ok(
        site,
        Kind::RemoteLink,
        &[
            link(
                "1",
                Some("appId=a&pageId=1"),
                "Checklist",
                "https://wiki.example.com/1",
            ),
            link("2", None, "Status page", "https://status.example.com"),
            link("3", None, "Status page", "https://status.example.com"),
            link(
                "4",
                Some("appId=a&pageId=1"),
                "Checklist (renamed)",
                "https://wiki.example.com/1",
            ),
        ],
    );
    assert_eq!(ids[0], ids[3], "one link per global id");
    assert_ne!(ids[1], ids[2], "links without a global id are their own");
    let no_url = refused(site, Kind::RemoteLink, link("5", None, "Nowhere", " "));
    assert_eq!(no_url.code, "invalid-value", "{no_url:?}");
    assert!(no_url.message.contains("url"), "{no_url:?}");
    let links = site.read_remote_links().unwrap();
    assert_eq!(links.len(), 3);
    assert_eq!(
        (
            links[0].title.as_str(),
            links[0].source_key.as_deref(),
            links[0].issue.as_str()
        ),
        ("Checklist (renamed)", Some("4"), b.issue.as_str())
    );
    assert_eq!(
        links[0].application_type.as_deref(),
        Some("com.atlassian.confluence")
    );
    assert_eq!(site.counts().unwrap()[&Kind::RemoteLink], 3);
}

/// Dashboards as Jira Cloud keeps them: an owner's dashboards have distinct names (the
/// system dashboard's copy is no one's, shared with every logged-in user), one gadget a
/// place on a dashboard, one value a setting, a gadget only on a dashboard the site has,
/// a column within the widest layout — each refusal naming what to fix.
#[test]
fn dashboards_gadgets_and_settings_obey_clouds_rules() {
    use airlock_model::jira::{
        Dashboard, DashboardShare, Gadget, GadgetPreference, PreferenceValue, Share,
    };
    let mut f = fixture();
    let b = base(&mut f.site);
    let site = &mut f.site;
    let dashboard = |id: &str, name: &str, owner: &str| {
        Record::Dashboard(Dashboard {
            id: id.into(),
            name: name.into(),
            description: String::new(),
            owner: owner.into(),
            system: owner.is_empty(),
            layout: "AB".into(),
            favourites: 1,
        })
    };
    let ids = ok(
        site,
        Kind::Dashboard,
        &[
            dashboard("10000", "System Dashboard", ""),
            dashboard("10100", "Team", &b.account),
        ],
    );
    let same = refused(
        site,
        Kind::Dashboard,
        dashboard("10101", "TEAM", &b.account),
    );
    assert_eq!(same.code, "duplicate-key", "{same:?}");
    let share = Record::DashboardShare(DashboardShare {
        id: "10200".into(),
        dashboard: ids[1].clone(),
        share: Share::Project {
            project: b.project.clone(),
            role: None,
        },
        edit: true,
    });
    ok(site, Kind::DashboardShare, &[share]);
    let gadget = |id: &str, dashboard: &str, column: u32, row: u32| {
        Record::Gadget(Gadget {
            id: id.into(),
            dashboard: dashboard.into(),
            column,
            row,
            uri: None,
            module_key: Some("com.atlassian.jira.gadgets:filter-results-dashboard-item".into()),
            color: "color2".into(),
        })
    };
    let gadgets = ok(site, Kind::Gadget, &[gadget("10300", &ids[1], 1, 0)]);
    let taken = refused(site, Kind::Gadget, gadget("10301", &ids[1], 1, 0));
    assert_eq!(taken.code, "duplicate-key", "{taken:?}");
    let nowhere = refused(site, Kind::Gadget, gadget("10302", "99999", 0, 0));
    assert_eq!(nowhere.code, "invalid-reference", "{nowhere:?}");
    let wide = refused(site, Kind::Gadget, gadget("10303", &ids[1], 3, 0));
    assert!(wide.message.contains("column"), "{wide:?}");
    let setting = |id: &str, value: &str| {
        Record::GadgetPreference(GadgetPreference {
            id: id.into(),
            gadget: gadgets[0].clone(),
            key: "projectOrFilterId".into(),
            value: PreferenceValue::parse("projectOrFilterId", value),
        })
    };
    ok(
        site,
        Kind::GadgetPreference,
        &[setting("10400", &format!("project-{}", b.project))],
    );
    let twice = refused(site, Kind::GadgetPreference, setting("10401", "filter-1"));
    assert_eq!(twice.code, "duplicate-key", "{twice:?}");

    let read = site.read_dashboards().unwrap();
    assert_eq!(read.len(), 2);
    assert_eq!(
        (read[0].owner.as_deref(), read[0].shares.as_slice()),
        (None, &["authenticated".to_owned()][..])
    );
    assert_eq!(read[1].owner.as_deref(), Some("admin"));
    assert_eq!(read[1].shares, [format!("project:{} (edit)", b.project)]);
    let g = &read[1].gadgets[0];
    assert_eq!((g.column, g.row, g.color.as_str()), (1, 0, "color2"));
    assert_eq!(
        g.preferences,
        [(
            "projectOrFilterId".to_owned(),
            format!("project-{}", b.project)
        )]
    );
    let counts = site.counts().unwrap();
    assert_eq!(
        [
            Kind::Dashboard,
            Kind::DashboardShare,
            Kind::Gadget,
            Kind::GadgetPreference
        ]
        .map(|k| counts[&k]),
        [2, 1, 1, 1],
        "the system dashboard's share is the site's, not a migrated row"
    );
}

/// Issue type schemes, workflows and workflow schemes as Jira Cloud takes them: the
/// source's default scheme is the site's own default (taken over once, every issue type
/// in it, new ones too); a scheme lists an issue type and defaults to one of its own; a
/// workflow has each status once and one initial transition between its own steps; a
/// name the site has already arrives as `<name> (migrated)`; a scheme's workflow none is
/// the built-in `jira`; a project's schemes are associations.
#[test]
fn issue_type_schemes_workflows_and_workflow_schemes_obey_clouds_rules() {
    use airlock_model::jira::{
        Constant, IssueTypeScheme, ProjectScheme, SchemeType, TransitionKind, Workflow,
        WorkflowMapping, WorkflowScheme, WorkflowStep, WorkflowTransition,
    };
    let mut f = fixture();
    let b = base(&mut f.site);
    let site = &mut f.site;
    let snapshot = site.snapshot().unwrap();
    let type_id = |name: &str| {
        snapshot
            .issue_types
            .iter()
            .find(|t| t.name == name)
            .unwrap()
            .id
            .clone()
    };
    let status_id = |name: &str| {
        snapshot
            .statuses
            .iter()
            .find(|t| t.name == name)
            .unwrap()
            .id
            .clone()
    };
    let (task, bug) = (type_id("Task"), type_id("Bug"));
    let new_type = ok(
        site,
        Kind::IssueType,
        &[Record::IssueType(Constant {
            id: "10500".into(),
            name: "Incident".into(),
            description: String::new(),
            detail: String::new(),
        })],
    )
    .remove(0);
    let scheme = |id: &str, types: &[&str], default: Option<&str>, global: bool| {
        Record::IssueTypeScheme(IssueTypeScheme {
            id: id.into(),
            name: if global {
                "Default Issue Type Scheme".into()
            } else {
                "DEMO: Scrum".into()
            },
            description: "For DEMO".into(),
            issue_types: types.iter().map(|t| t.to_string()).collect(),
            default_issue_type: default.map(str::to_owned),
            global,
        })
    };
    let schemes = ok(
        site,
        Kind::IssueTypeScheme,
        &[
            scheme("10000", &[&bug, &task], None, true),
            scheme("10001", &[&task, &bug], Some(&task), false),
        ],
    );
    let twice = refused(
        site,
        Kind::IssueTypeScheme,
        scheme("10002", &[&bug], None, true),
    );
    assert_eq!(twice.code, "duplicate-key", "{twice:?}");
    let empty = refused(
        site,
        Kind::IssueTypeScheme,
        scheme("10003", &[], None, false),
    );
    assert_eq!(empty.code, "invalid-value", "{empty:?}");
    let elsewhere = refused(
        site,
        Kind::IssueTypeScheme,
        scheme("10004", &[&bug], Some(&task), false),
    );
    assert_eq!(elsewhere.code, "invalid-value", "{elsewhere:?}");
    let read = site.read_issue_type_schemes().unwrap();
    let default = read.iter().find(|s| s.is_default).unwrap();
    assert_eq!(default.id, schemes[0]);
    assert_eq!(default.source_key.as_deref(), Some("10000"));
    assert!(default.issue_types.contains(&new_type), "{default:?}");
    let own = read.iter().find(|s| s.id == schemes[1]).unwrap();
    assert_eq!(own.name, "DEMO: Scrum");
    assert_eq!(own.issue_types, [task.clone(), bug.clone()]);
    assert_eq!(own.default_issue_type.as_deref(), Some(task.as_str()));

    let (todo, done) = (status_id("To Do"), status_id("Done"));
    let transition = |id: &str, kind: TransitionKind, from: &[&str], to: &str| WorkflowTransition {
        id: id.into(),
        name: format!("Go {id}"),
        description: String::new(),
        kind,
        from: from.iter().map(|f| f.to_string()).collect(),
        to: to.into(),
        screen: None,
    };
    let workflow =
        |id: &str, name: &str, statuses: &[&str], transitions: Vec<WorkflowTransition>| {
            Record::Workflow(Workflow {
                id: id.into(),
                name: name.into(),
                description: "Ship it".into(),
                steps: statuses
                    .iter()
                    .enumerate()
                    .map(|(n, s)| WorkflowStep {
                        id: (n + 1).to_string(),
                        name: format!("Step {n}"),
                        status: s.to_string(),
                    })
                    .collect(),
                transitions,
            })
        };
    let good = || {
        vec![
            transition("1", TransitionKind::Initial, &[], "1"),
            transition("11", TransitionKind::Directed, &["1"], "2"),
            transition("31", TransitionKind::Global, &[], "1"),
        ]
    };
    let workflows = ok(
        site,
        Kind::Workflow,
        &[
            workflow("10000", "DEMO: Workflow", &[&todo, &done], good()),
            workflow("10001", "jira", &[&todo, &done], good()),
        ],
    );
    let same_status = refused(
        site,
        Kind::Workflow,
        workflow("10002", "Twice", &[&todo, &todo], good()),
    );
    assert!(same_status.message.contains("one step"), "{same_status:?}");
    let no_start = refused(
        site,
        Kind::Workflow,
        workflow("10003", "No start", &[&todo, &done], good()[1..].to_vec()),
    );
    assert!(no_start.message.contains("initial"), "{no_start:?}");
    let mut stray = good();
    stray[1].to = "9".into();
    let nowhere = refused(
        site,
        Kind::Workflow,
        workflow("10004", "Stray", &[&todo, &done], stray),
    );
    assert_eq!(nowhere.code, "invalid-value", "{nowhere:?}");
    let read = site.read_workflows().unwrap();
    let names: Vec<&str> = read.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(names, ["jira", "DEMO: Workflow", "jira (migrated)"]);
    let demo = &read[1];
    assert_eq!(
        demo.steps,
        [
            ("1".to_owned(), "Step 0".to_owned(), todo.clone()),
            ("2".to_owned(), "Step 1".to_owned(), done.clone())
        ]
    );
    let shape: Vec<(&str, &str, &[String], &str)> = demo
        .transitions
        .iter()
        .map(|t| {
            (
                t.id.as_str(),
                t.kind.as_str(),
                t.from.as_slice(),
                t.to.as_str(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            ("1", "INITIAL", &[][..], "1"),
            ("11", "DIRECTED", &["1".to_owned()][..], "2"),
            ("31", "GLOBAL", &[][..], "1"),
        ]
    );

    let workflow_scheme = Record::WorkflowScheme(WorkflowScheme {
        id: "10100".into(),
        name: "DEMO: Scheme".into(),
        description: String::new(),
        mappings: vec![
            WorkflowMapping {
                issue_type: None,
                workflow: None,
            },
            WorkflowMapping {
                issue_type: Some(bug.clone()),
                workflow: Some(workflows[0].clone()),
            },
        ],
    });
    let workflow_schemes = ok(site, Kind::WorkflowScheme, &[workflow_scheme]);
    let association = |scheme_type, scheme: &str| {
        Record::ProjectScheme(ProjectScheme {
            id: format!("{}:{scheme_type:?}:{scheme}", b.project),
            project: b.project.clone(),
            scheme_type,
            scheme: scheme.into(),
        })
    };
    ok(
        site,
        Kind::ProjectScheme,
        &[
            association(SchemeType::Workflow, &workflow_schemes[0]),
            association(SchemeType::IssueType, &schemes[1]),
        ],
    );
    let read = site.read_workflow_schemes().unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(
        read[0].entries,
        [
            ("default".to_owned(), "1".to_owned()),
            (bug.clone(), workflows[0].clone())
        ]
    );
    assert_eq!(read[0].projects, std::slice::from_ref(&b.project));
    let read = site.read_issue_type_schemes().unwrap();
    let own = read.iter().find(|s| s.id == schemes[1]).unwrap();
    assert_eq!(own.projects, std::slice::from_ref(&b.project));
}

/// A board's card settings as Jira Cloud keeps them: a field once per mode, a custom field
/// the site has, a colour `#rrggbb` by what the site has — each refusal naming what to fix.
#[test]
fn card_settings_obey_clouds_rules() {
    use airlock_model::jira::{CardColor, CardColorValue, CardField, CardMode, FieldId};
    let mut f = fixture();
    let b = base(&mut f.site);
    let site = &mut f.site;
    let (_, board) = scrum_board(site, &b);
    let field = |id: &str, field: FieldId, mode| {
        Record::CardField(CardField {
            id: id.into(),
            board: board.clone(),
            field,
            mode,
            position: 0,
        })
    };
    ok(
        site,
        Kind::CardField,
        &[
            field("1", FieldId::System("labels".into()), CardMode::Plan),
            field("2", FieldId::System("labels".into()), CardMode::Work),
        ],
    );
    let twice = refused(
        site,
        Kind::CardField,
        field("3", FieldId::System("labels".into()), CardMode::Plan),
    );
    assert_eq!(twice.code, "duplicate-key", "{twice:?}");
    let unknown = refused(
        site,
        Kind::CardField,
        field(
            "4",
            FieldId::Custom("customfield_99999".into()),
            CardMode::Work,
        ),
    );
    assert_eq!(unknown.code, "invalid-reference", "{unknown:?}");
    let color = |id: &str, value: CardColorValue, color: &str| {
        Record::CardColor(CardColor {
            id: id.into(),
            board: board.clone(),
            color: color.into(),
            position: 0,
            value,
        })
    };
    ok(
        site,
        Kind::CardColor,
        &[color(
            "1",
            CardColorValue::Query(format!("project = {}", b.project)),
            "#d04437",
        )],
    );
    let bad = refused(
        site,
        Kind::CardColor,
        color("2", CardColorValue::Query("project = 1".into()), "red"),
    );
    assert!(bad.message.contains("#rrggbb"), "{bad:?}");
    let nowhere = refused(
        site,
        Kind::CardColor,
        color(
            "3",
            CardColorValue::Query("project = 424242".into()),
            "#ffffff",
        ),
    );
    assert!(nowhere.message.contains("jql"), "{nowhere:?}");
    let read = site.read_card_settings().unwrap();
    assert_eq!(
        read[0].fields,
        [
            ("PLAN".to_owned(), "labels".to_owned()),
            ("WORK".to_owned(), "labels".to_owned())
        ]
    );
    assert_eq!(read[0].colors.len(), 1);
}
