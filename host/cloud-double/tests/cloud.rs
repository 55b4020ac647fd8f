//! The Jira Cloud target against the double, over real HTTPS: every kind round-trips,
//! bulk partial failures map to their records, rate limits are honoured, writes applied
//! and then failed are not duplicated, a load cut short resumes, a dead server gives
//! a clear error, and apps' outputs can neither change an endpoint nor reach Airlock's own
//! properties. Watchers, votes (carried in an issue property), project roles, filters and
//! their shares follow Cloud's rules and are found again after a crash; issue history is
//! carried in issue properties, in parts when it is long; issue security schemes, their
//! levels, the levels' members (their endpoints' own rules in `security`) and projects'
//! schemes are written as Cloud takes them and found again too; so are project
//! categories, former project keys and permission schemes with their grants
//! (their endpoints' own rules in `schemes`, beside notification schemes' and their
//! entries'), and Jira Software's boards and sprints, with what its API cannot write
//! (columns, swimlanes, quick filters, closed sprints' issues, ranks) carried in
//! properties. Custom fields' contexts, their options and the values issues take from
//! them follow Cloud's rules too (`contexts`), and so do dashboards, their shares, gadgets
//! and gadgets' settings (`dashboards`), screens with their tabs and fields, screen
//! schemes, issue type screen schemes and the one each project uses (`screens`), and
//! issue type schemes, workflows with their transitions and workflow schemes, with the
//! ones each project uses (`workflows`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use airlock_cloud_double::{CloudDouble, DoubleConfig, Faults};
use airlock_engine::RecordReader;
use airlock_engine::check;
use airlock_engine::{FieldProtection, FolderFiles, State, ephemeral_protection};
use airlock_engine::{LoadDecisions, LoadSummary, load};
use airlock_engine::{Overrides, analyze};
use airlock_fixtures::Spec;
use airlock_model::jira::{
    ChangeGroup, ChangeItem, Filter, FilterShare, Group, Issue, IssueUser, Kind, PreferenceValue,
    ProjectRole, Record, Share,
};
use airlock_model::{AppKey, AppOutput, EntityKind};
use airlock_site::{
    AttachmentFiles, CloudConfig, ISSUE_PROPERTY, InvalidOutput, ItemError, JiraCloud, LocalSite,
    ORIGIN_PROPERTY, OutputField, OutputRule, RetryPolicy, SOURCE_PROPERTY, SchemeMapReadBack,
    Site, TargetError, source_key, stored_key,
};
use airlock_staging::SealedStaging;
use serde_json::{Value, json};

fn config(double: &CloudDouble) -> CloudConfig {
    let mut c = CloudConfig::new(double.url(), "migration@example.com", "api-token");
    c.extra_root_pem = Some(double.ca_pem().to_owned());
    c.retry = RetryPolicy {
        max_attempts: 8,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(200),
        ..RetryPolicy::default()
    };
    // These doubles keep no rate limits: pacing under Jira's would only slow the tests
    // (the limits and the client's pacing are tested in limits.rs).
    c.limits = None;
    c
}

fn client(double: &CloudDouble) -> JiraCloud {
    JiraCloud::new(config(double)).unwrap()
}

fn small_spec(issues: usize) -> Spec {
    Spec {
        users: 8,
        projects: 2,
        issues,
        worklogs_per_issue: 1,
        teams: 0,
        ..Spec::default()
    }
}

/// A generated backup, checked and staged.
struct Source {
    dir: tempfile::TempDir,
    staging: SealedStaging,
    staged: BTreeMap<Kind, u64>,
    /// The state's values are sealed under it: the same on every reopening.
    fields: Arc<dyn FieldProtection>,
}

impl Source {
    fn new(spec: &Spec) -> Source {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("backup.zip");
        airlock_fixtures::write_backup(&path, spec).unwrap();
        airlock_fixtures::write_attachments(&dir.path().join("home"), spec).unwrap();
        let staging = SealedStaging::ephemeral(dir.path().join("staging")).unwrap();
        let checked = check(&path, &staging, &[], &[], |_| {}).unwrap();
        assert_eq!(checked.report.fatal(), 0);
        Source {
            staged: checked.report.counts.clone(),
            dir,
            staging,
            fields: ephemeral_protection().unwrap(),
        }
    }

    fn records(&self, kind: Kind) -> Vec<Record> {
        RecordReader::open_kind(&self.staging, kind)
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    fn state(&self) -> State {
        State::open(&self.dir.path().join("state.db"), self.fields.clone()).unwrap()
    }

    /// The target analysis against the target's snapshot.
    fn plan(&self, target: &mut dyn Site) -> Result<LoadDecisions, String> {
        let snapshot = target.snapshot().map_err(|e| e.to_string())?;
        let plan = analyze(
            &self.staging,
            &self.staged,
            &snapshot,
            &target.describe(),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(plan.problems().count(), 0);
        Ok(plan.decisions)
    }

    /// The Jira home the attachments' files are in.
    fn home(&self) -> std::path::PathBuf {
        self.dir.path().join("home")
    }

    /// The load, with the attachments' files handed to a target that takes them with
    /// their records.
    fn run(
        &self,
        target: &mut dyn Site,
        decisions: &LoadDecisions,
    ) -> Result<(LoadSummary, State), String> {
        if target.wants_attachment_files() {
            let files = FolderFiles::index(&self.home()).map_err(|e| e.to_string())?;
            target.take_attachment_files(Arc::new(files));
        }
        let mut state = self.state();
        let summary = load(
            &self.staging,
            &mut state,
            target,
            decisions,
            &self.staged,
            |_| {},
        )
        .map_err(|e| e.to_string())?;
        Ok((summary, state))
    }

    /// Analysis, then the load.
    fn load(&self, target: &mut dyn Site) -> Result<(LoadSummary, State), String> {
        let decisions = self.plan(target)?;
        self.run(target, &decisions)
    }
}

/// The issue property Jira Cloud carries votes in.
const VOTES: &str = "airlock.votes";

/// Each issue's voters on the site (issue id → account ids, in order), from its
/// `airlock.votes` property.
fn voters_on_site(double: &CloudDouble) -> BTreeMap<String, Vec<String>> {
    let db = rusqlite::Connection::open(double.site_path()).unwrap();
    let mut stmt = db
        .prepare(
            "SELECT entity_id, value FROM entity_properties
             WHERE entity_kind = 'issue' AND key = ?1",
        )
        .unwrap();
    stmt.query_map([VOTES], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })
    .unwrap()
    .map(|row| {
        let (issue, value) = row.unwrap();
        let value: Value = serde_json::from_str(&value).unwrap();
        let voters = value["voters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["accountId"].as_str().unwrap().to_owned())
            .collect();
        (issue, voters)
    })
    .collect()
}

/// The issue property Jira Cloud carries history in (then `airlock.history.2` …).
const HISTORY: &str = "airlock.history";

/// The board properties Jira Cloud carries a board's columns (with their statuses),
/// swimlanes and quick filters in (then `.2` …), and the lists they hold.
const COLUMNS: (&str, &str, Option<&str>) = ("airlock.columns", "columns", Some("statuses"));
const SWIMLANES: (&str, &str, Option<&str>) = ("airlock.swimlanes", "swimlanes", None);
const QUICK_FILTERS: (&str, &str, Option<&str>) = ("airlock.quick-filters", "quickFilters", None);
const CARD_FIELDS: (&str, &str, Option<&str>) = ("airlock.card-fields", "cardFields", None);
const CARD_COLORS: (&str, &str, Option<&str>) = ("airlock.card-colors", "cardColors", None);

/// The issue properties Jira Cloud carries an issue's closed sprints and source rank in.
const SPRINTS: &str = "airlock.sprints";
const RANK: &str = "airlock.rank";

/// Each entity's properties `key`, `key.2` … on the site (entity id → part number from 1
/// → value), stale parts included.
fn property_parts(
    double: &CloudDouble,
    entity: &str,
    key: &str,
) -> BTreeMap<String, BTreeMap<usize, Value>> {
    let db = rusqlite::Connection::open(double.site_path()).unwrap();
    let mut stmt = db
        .prepare(
            "SELECT entity_id, key, value FROM entity_properties
             WHERE entity_kind = ?1 AND (key = ?2 OR key LIKE ?2 || '.%')",
        )
        .unwrap();
    let mut out: BTreeMap<String, BTreeMap<usize, Value>> = BTreeMap::new();
    let rows = stmt
        .query_map([entity, key], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .unwrap();
    for row in rows {
        let (id, k, value) = row.unwrap();
        let n = match k.strip_prefix(key).unwrap() {
            "" => 1,
            rest => rest.strip_prefix('.').unwrap().parse().unwrap(),
        };
        out.entry(id)
            .or_default()
            .insert(n, serde_json::from_str(&value).unwrap());
    }
    out
}

/// Each issue's `airlock.history` properties on the site (issue id → part number from 1 →
/// value), stale parts included.
fn history_parts(double: &CloudDouble) -> BTreeMap<String, BTreeMap<usize, Value>> {
    property_parts(double, "issue", HISTORY)
}

/// Each entity's carried list as a reader sees it (entity id → entries, each once with
/// all its children): the parts the first one counts, merged by entry id.
fn carried_on_site(
    double: &CloudDouble,
    entity: &str,
    (key, list, children): (&str, &str, Option<&str>),
) -> BTreeMap<String, Vec<Value>> {
    property_parts(double, entity, key)
        .into_iter()
        .map(|(id, parts)| {
            let count = parts[&1]["parts"].as_u64().unwrap() as usize;
            let mut entries: Vec<Value> = Vec::new();
            for n in 1..=count {
                for c in parts[&n][list].as_array().unwrap() {
                    match entries.iter_mut().find(|k| k["id"] == c["id"]) {
                        Some(known) => {
                            let children = children.expect("only entries with children go on");
                            let mut head = c.clone();
                            head[children] = json!([]);
                            let mut was = known.clone();
                            was[children] = json!([]);
                            assert_eq!(was, head, "an entry goes on as it began");
                            let more = c[children].as_array().unwrap().clone();
                            known[children].as_array_mut().unwrap().extend(more);
                        }
                        None => entries.push(c.clone()),
                    }
                }
            }
            (id, entries)
        })
        .collect()
}

/// Each issue's history as a reader sees it (issue id → changes, each once with all its
/// items): the parts the first one counts, merged by change id.
fn history_on_site(double: &CloudDouble) -> BTreeMap<String, Vec<Value>> {
    carried_on_site(double, "issue", (HISTORY, "changes", Some("items")))
}

/// Each issue's value of an issue property (issue id → value).
fn issue_properties(double: &CloudDouble, key: &str) -> BTreeMap<String, Value> {
    property_parts(double, "issue", key)
        .into_iter()
        .filter_map(|(issue, mut parts)| Some((issue, parts.remove(&1)?)))
        .collect()
}

/// What the site holds per kind as Airlock counts it: votes are voters in the issues'
/// `airlock.votes` properties, history the changes and items in their `airlock.history`
/// properties, closed sprints' issues the ids in `airlock.sprints`, ranks the
/// `airlock.rank` properties, not entity properties of their own; a board's columns,
/// statuses, swimlanes and quick filters are the entries of its properties; dashboards,
/// their shares, gadgets and settings are in the double's own tables.
fn site_counts(double: &CloudDouble) -> BTreeMap<Kind, u64> {
    let mut counts = double.site().counts().unwrap();
    let voters = voters_on_site(double);
    let carried: usize = history_parts(double).values().map(BTreeMap::len).sum();
    let sprints = issue_properties(double, SPRINTS);
    let ranks = issue_properties(double, RANK);
    let dates = issue_properties(double, ISSUE_PROPERTY);
    let properties = counts.entry(Kind::EntityProperty).or_default();
    *properties -= (voters.len() + carried + sprints.len() + ranks.len() + dates.len()) as u64;
    if *properties == 0 {
        counts.remove(&Kind::EntityProperty);
    }
    if !voters.is_empty() {
        let votes: usize = voters.values().map(Vec::len).sum();
        counts.insert(Kind::Vote, votes as u64);
    }
    let history = history_on_site(double);
    let changes: usize = history.values().map(Vec::len).sum();
    let items: usize = history
        .values()
        .flatten()
        .map(|c| c["items"].as_array().unwrap().len())
        .sum();
    let columns = carried_on_site(double, "board", COLUMNS);
    let statuses: usize = columns
        .values()
        .flatten()
        .map(|c| c["statuses"].as_array().unwrap().len())
        .sum();
    let entries = |lists: BTreeMap<String, Vec<Value>>| lists.values().map(Vec::len).sum();
    let closed: usize = sprints.values().map(|v| v.as_array().unwrap().len()).sum();
    let open = counts.get(&Kind::IssueSprint).copied().unwrap_or(0) as usize;
    // Dashboards live in the double's own tables: a share is a view permission (one that
    // edits has an edit permission beside it), a gadget's setting an item property.
    let dashboards = double.dashboards();
    let gadgets = || dashboards.iter().flat_map(|d| &d.gadgets);
    for (kind, n) in [
        (Kind::Dashboard, dashboards.len()),
        (
            Kind::DashboardShare,
            dashboards.iter().map(|d| d.shares.len()).sum(),
        ),
        (Kind::Gadget, gadgets().count()),
        (
            Kind::GadgetPreference,
            gadgets().map(|g| g.properties.len()).sum(),
        ),
        (Kind::ChangeGroup, changes),
        (Kind::ChangeItem, items),
        (Kind::BoardColumn, entries(columns)),
        (Kind::ColumnStatus, statuses),
        (
            Kind::Swimlane,
            entries(carried_on_site(double, "board", SWIMLANES)),
        ),
        (
            Kind::QuickFilter,
            entries(carried_on_site(double, "board", QUICK_FILTERS)),
        ),
        (
            Kind::CardField,
            entries(carried_on_site(double, "board", CARD_FIELDS)),
        ),
        (
            Kind::CardColor,
            entries(carried_on_site(double, "board", CARD_COLORS)),
        ),
        (Kind::IssueSprint, open + closed),
        (Kind::IssueRank, ranks.len()),
    ] {
        if n > 0 {
            counts.insert(kind, n as u64);
        }
    }
    counts
}

/// What the site holds per kind as Airlock counts it ([`site_counts`]) of what it wrote
/// for `source`: the share with every logged-in user the client gives each system
/// dashboard itself is no record's; the source's default issue type scheme is Cloud's own
/// (no row of the migration's), and a project put on it keeps Cloud's default (nothing
/// is written for it).
fn written_counts(source: &Source, double: &CloudDouble) -> BTreeMap<Kind, u64> {
    let mut counts = site_counts(double);
    let added = client_added_shares(source);
    if added > 0
        && let Some(n) = counts.get_mut(&Kind::DashboardShare)
    {
        *n -= added;
        if *n == 0 {
            counts.remove(&Kind::DashboardShare);
        }
    }
    let (global, on_global) = global_issue_type_scheme(source);
    for (kind, n) in [
        (Kind::IssueTypeScheme, u64::from(global.is_some())),
        (Kind::ProjectScheme, on_global),
    ] {
        if n > 0 {
            *counts.entry(kind).or_default() += n;
        }
    }
    counts
}

/// The source's default issue type scheme (its id), if it has one, and how many projects
/// the source puts on it explicitly.
fn global_issue_type_scheme(source: &Source) -> (Option<String>, u64) {
    use airlock_model::jira::SchemeType;
    let global = (source.records(Kind::IssueTypeScheme).into_iter()).find_map(|r| match r {
        Record::IssueTypeScheme(s) if s.global => Some(s.id),
        _ => None,
    });
    let on_global = (source.records(Kind::ProjectScheme).iter())
        .filter(|r| {
            matches!(r, Record::ProjectScheme(p)
                if p.scheme_type == SchemeType::IssueType && Some(&p.scheme) == global.as_ref())
        })
        .count() as u64;
    (global, on_global)
}

/// Every staged record is on the site once: counts per kind match the source (minus
/// what was matched to existing records), and no source key was written twice.
fn assert_complete(source: &Source, double: &CloudDouble, matched: &BTreeMap<Kind, u64>) {
    let counts = written_counts(source, double);
    // An issue's voters are a set.
    for (issue, voters) in voters_on_site(double) {
        let distinct: std::collections::BTreeSet<&String> = voters.iter().collect();
        assert_eq!(distinct.len(), voters.len(), "voters of {issue}");
    }
    // A change's items are a set too.
    for (issue, changes) in history_on_site(double) {
        for c in changes {
            let items = c["items"].as_array().unwrap();
            let distinct: std::collections::BTreeSet<String> =
                items.iter().map(|i| i["id"].to_string()).collect();
            assert_eq!(distinct.len(), items.len(), "items of {issue}: {}", c["id"]);
        }
    }
    let mut site = double.site();
    for (kind, n) in &source.staged {
        let matched = matched.get(kind).copied().unwrap_or(0);
        assert_eq!(
            counts.get(kind).copied().unwrap_or(0) + matched,
            *n,
            "{kind}: site {counts:?}"
        );
    }
    for kind in Kind::ALL {
        assert_eq!(site.duplicate_source_keys(kind).unwrap(), 0, "{kind}");
    }
    // Kinds that carry `airlock.source`: exactly the source's ids.
    for kind in [Kind::Issue, Kind::Comment, Kind::Worklog] {
        let mut written = site.source_keys(kind).unwrap();
        let mut expected: Vec<String> = source.records(kind).iter().map(source_key).collect();
        written.sort();
        expected.sort();
        assert_eq!(written, expected, "{kind}");
    }
    drop(site);
    assert_keys_kept(source, double);
    assert_dashboards_arrived(source, double);
    assert_screens_arrived(source, double);
    assert_field_configurations_arrived(source, double);
    assert_workflows_arrived(source, double);
}

/// The system dashboards of the source that no share of the source gives to every
/// logged-in user: the client shares each so when it creates it.
fn client_added_shares(source: &Source) -> u64 {
    let loggedin: std::collections::BTreeSet<String> = source
        .records(Kind::DashboardShare)
        .into_iter()
        .filter_map(|r| match r {
            Record::DashboardShare(s) if s.share == Share::LoggedIn => Some(s.dashboard),
            _ => None,
        })
        .collect();
    source
        .records(Kind::Dashboard)
        .iter()
        .filter(|r| matches!(r, Record::Dashboard(d) if d.system && !loggedin.contains(&d.id)))
        .count() as u64
}

/// Jira Cloud's colour of a source gadget's (`color1` … `color8`; anything else blue).
fn cloud_colour(color: &str) -> &'static str {
    const COLOURS: [&str; 8] = [
        "blue", "red", "yellow", "green", "cyan", "purple", "gray", "white",
    ];
    color
        .strip_prefix("color")
        .and_then(|n| n.parse::<usize>().ok())
        .and_then(|n| COLOURS.get(n.checked_sub(1)?))
        .copied()
        .unwrap_or("blue")
}

/// What the source's dashboards hold arrived (compared without the load's mappings, so
/// by what does not change on the target): each dashboard once by name and description,
/// each system dashboard shared with every logged-in user, each gadget by what it is and
/// its colour, each setting by its key and a text setting by its value. A backup without
/// dashboards passes as it should: nothing is expected, and nothing is there.
fn assert_dashboards_arrived(source: &Source, double: &CloudDouble) {
    let on_site = double.dashboards();
    let mut expected: Vec<(String, String)> = Vec::new();
    let mut system: Vec<String> = Vec::new();
    for r in source.records(Kind::Dashboard) {
        if let Record::Dashboard(d) = r {
            if d.system {
                system.push(d.name.clone());
            }
            expected.push((d.name, d.description));
        }
    }
    let mut got: Vec<(String, String)> = on_site
        .iter()
        .map(|d| (d.name.clone(), d.description.clone()))
        .collect();
    expected.sort();
    got.sort();
    assert_eq!(got, expected, "dashboards by name and description");
    for name in system {
        let d = on_site.iter().find(|d| d.name == name).unwrap();
        assert!(
            d.shares.iter().any(|(_, s)| *s == Share::LoggedIn),
            "the system dashboard is shared with every logged-in user: {d:?}"
        );
    }
    let mut expected: Vec<(String, &str)> = source
        .records(Kind::Gadget)
        .iter()
        .filter_map(|r| match r {
            Record::Gadget(g) => Some((
                g.module_key
                    .clone()
                    .filter(|k| !k.is_empty())
                    .or_else(|| g.uri.clone())
                    .unwrap_or_default(),
                cloud_colour(&g.color),
            )),
            _ => None,
        })
        .collect();
    let gadgets = || on_site.iter().flat_map(|d| &d.gadgets);
    let mut got: Vec<(String, &str)> = gadgets()
        .map(|g| {
            let what = g.module_key.clone().or_else(|| g.uri.clone());
            (what.unwrap_or_default(), g.color.as_str())
        })
        .collect();
    expected.sort();
    got.sort();
    assert_eq!(got, expected, "gadgets by what they are and their colour");
    let (mut keys, mut texts): (Vec<String>, Vec<(String, Value)>) = (Vec::new(), Vec::new());
    for r in source.records(Kind::GadgetPreference) {
        if let Record::GadgetPreference(p) = r {
            if let PreferenceValue::Text(t) = &p.value {
                texts.push((p.key.clone(), json!(t)));
            }
            keys.push(p.key);
        }
    }
    let mut on_site_keys: Vec<String> = gadgets()
        .flat_map(|g| g.properties.keys().cloned())
        .collect();
    keys.sort();
    on_site_keys.sort();
    assert_eq!(on_site_keys, keys, "gadget settings by key");
    for (key, value) in texts {
        assert!(
            gadgets().any(|g| g.properties.get(&key) == Some(&value)),
            "a {key} setting of {value}"
        );
    }
}

/// A screen as compared: its name, description, and its tabs in order, each with its
/// fields in order (a system field by its id, a custom field by its name).
type ComparedScreen = (String, String, Vec<(String, Vec<String>)>);

/// A scheme as compared: its name, description, what it maps (operation or issue type →
/// screen or screen scheme, by name) and the projects using it (by key).
type ComparedScheme = (String, String, Vec<(String, String)>, Vec<String>);

/// Names (or keys) by id.
type Names = BTreeMap<String, String>;

/// The double's custom fields' and issue types' names and its projects' keys, by id: what
/// a check names the source's with.
fn cloud_names(double: &CloudDouble) -> (Names, Names, Names) {
    let db = rusqlite::Connection::open(double.site_path()).unwrap();
    let by_id = |sql: &str| -> Names {
        let mut stmt = db.prepare(sql).unwrap();
        stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?.to_string(), r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    (
        by_id("SELECT id, name FROM fields"),
        by_id("SELECT id, name FROM issue_types"),
        by_id("SELECT id, key FROM projects"),
    )
}

/// A scheme mapping issue types read back from the double, as compared: its name,
/// description, what it maps (an issue type by name, or `default` → what `targets` names
/// the site's id), sorted, and the projects using it by key, sorted.
fn compared_scheme(
    scheme: &SchemeMapReadBack,
    targets: &BTreeMap<&str, &str>,
    cloud_types: &Names,
    cloud_projects: &Names,
) -> ComparedScheme {
    let mut entries: Vec<(String, String)> = (scheme.entries.iter())
        .map(|(t, target)| {
            let issue_type = if t == "default" {
                t.clone()
            } else {
                cloud_types[t].clone()
            };
            (issue_type, targets[target.as_str()].to_owned())
        })
        .collect();
    entries.sort();
    let mut projects: Vec<String> = (scheme.projects.iter())
        .map(|p| cloud_projects[p].clone())
        .collect();
    projects.sort();
    (
        scheme.name.clone(),
        scheme.description.clone(),
        entries,
        projects,
    )
}

/// What the source's screens hold arrived, compared by what does not change on the target
/// (names, not ids): each screen once, named as the source names it or `<name> (migrated)`
/// where Cloud has one of its own by that name, with its tabs in order (no tab beside
/// them: Cloud's "Field Tab" was taken over) and each tab's fields in order; each screen
/// scheme with its screen per operation; each issue type screen scheme with its screen
/// scheme per issue type and the projects using it. A backup without screens passes as it
/// should: nothing is expected, and nothing is there.
fn assert_screens_arrived(source: &Source, double: &CloudDouble) {
    use airlock_model::jira::{FieldId, SchemeType};
    use std::collections::BTreeSet;
    let (screens, screen_schemes, type_schemes) = {
        let mut site = double.site();
        (
            site.read_screens().unwrap(),
            site.read_screen_schemes().unwrap(),
            site.read_issue_type_screen_schemes().unwrap(),
        )
    };
    let (cloud_fields, cloud_types, cloud_projects) = cloud_names(double);
    // The names Cloud's own screens and schemes have: a source's of one of them is renamed.
    let own = |names: Vec<(&Option<String>, &String)>| -> BTreeSet<String> {
        names
            .into_iter()
            .filter(|(key, _)| key.is_none())
            .map(|(_, name)| name.to_lowercase())
            .collect()
    };
    let renamed = |own: &BTreeSet<String>, name: &str| {
        if own.contains(&name.to_lowercase()) {
            airlock_site::migrated_name(name, 1)
        } else {
            name.to_owned()
        }
    };
    let own_screens = own(screens.iter().map(|s| (&s.source_key, &s.name)).collect());
    let own_schemes = own((screen_schemes.iter())
        .map(|s| (&s.source_key, &s.name))
        .collect());
    let own_type_schemes = own((type_schemes.iter())
        .map(|s| (&s.source_key, &s.name))
        .collect());

    // Screens, tabs and fields.
    let source_fields: BTreeMap<String, String> = source
        .records(Kind::CustomField)
        .into_iter()
        .filter_map(|r| match r {
            Record::CustomField(f) => Some((f.id, f.name)),
            _ => None,
        })
        .collect();
    let source_field = |f: &FieldId| match f {
        FieldId::System(id) => id.clone(),
        FieldId::Custom(id) => format!("custom field {}", source_fields[id]),
    };
    let cloud_field = |id: &String| match id.strip_prefix("customfield_") {
        Some(n) => format!("custom field {}", cloud_fields[n]),
        None => id.clone(),
    };
    let mut fields: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
    for r in source.records(Kind::ScreenField) {
        if let Record::ScreenField(f) = r {
            let field = source_field(&f.field);
            fields.entry(f.tab).or_default().push((f.position, field));
        }
    }
    let mut tabs: BTreeMap<String, Vec<(i64, String, Vec<String>)>> = BTreeMap::new();
    for r in source.records(Kind::ScreenTab) {
        if let Record::ScreenTab(t) = r {
            let mut on_tab = fields.remove(&t.id).unwrap_or_default();
            on_tab.sort();
            let on_tab = on_tab.into_iter().map(|(_, f)| f).collect();
            tabs.entry(t.screen)
                .or_default()
                .push((t.position, t.name, on_tab));
        }
    }
    let mut screen_names: BTreeMap<String, String> = BTreeMap::new();
    let mut expected: Vec<ComparedScreen> = Vec::new();
    for r in source.records(Kind::Screen) {
        if let Record::Screen(s) = r {
            let name = renamed(&own_screens, &s.name);
            let mut of_screen = tabs.remove(&s.id).unwrap_or_default();
            of_screen.sort();
            let of_screen = of_screen.into_iter().map(|(_, t, f)| (t, f)).collect();
            screen_names.insert(s.id, name.clone());
            expected.push((name, s.description, of_screen));
        }
    }
    let mut got: Vec<ComparedScreen> = screens
        .iter()
        .filter(|s| s.source_key.is_some())
        .map(|s| {
            let tabs = (s.tabs.iter())
                .map(|t| (t.name.clone(), t.fields.iter().map(cloud_field).collect()))
                .collect();
            (s.name.clone(), s.description.clone(), tabs)
        })
        .collect();
    expected.sort();
    got.sort();
    assert_eq!(got, expected, "screens with their tabs and fields in order");

    // Screen schemes: each operation's screen.
    let cloud_screen: BTreeMap<&str, &str> = (screens.iter())
        .map(|s| (s.id.as_str(), s.name.as_str()))
        .collect();
    let mut scheme_names: BTreeMap<String, String> = BTreeMap::new();
    let mut expected: Vec<ComparedScheme> = Vec::new();
    for r in source.records(Kind::ScreenScheme) {
        if let Record::ScreenScheme(s) = r {
            let name = renamed(&own_schemes, &s.name);
            let mut entries: Vec<(String, String)> = (s.screens.iter())
                .map(|(op, screen)| (op.as_str().to_owned(), screen_names[screen].clone()))
                .collect();
            entries.sort();
            scheme_names.insert(s.id, name.clone());
            expected.push((name, s.description, entries, Vec::new()));
        }
    }
    let mut got: Vec<ComparedScheme> = (screen_schemes.iter())
        .filter(|s| s.source_key.is_some())
        .map(|s| {
            let mut entries: Vec<(String, String)> = (s.entries.iter())
                .map(|(op, screen)| (op.clone(), cloud_screen[screen.as_str()].to_owned()))
                .collect();
            entries.sort();
            (s.name.clone(), s.description.clone(), entries, Vec::new())
        })
        .collect();
    expected.sort();
    got.sort();
    assert_eq!(got, expected, "screen schemes with their screens");

    // Issue type screen schemes: each issue type's screen scheme, and their projects.
    let source_types: BTreeMap<String, String> = source
        .records(Kind::IssueType)
        .into_iter()
        .filter_map(|r| match r {
            Record::IssueType(c) => Some((c.id, c.name)),
            _ => None,
        })
        .collect();
    let source_projects: BTreeMap<String, String> = source
        .records(Kind::Project)
        .into_iter()
        .filter_map(|r| match r {
            Record::Project(p) => Some((p.id, p.key)),
            _ => None,
        })
        .collect();
    let mut using: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in source.records(Kind::ProjectScheme) {
        if let Record::ProjectScheme(p) = r
            && p.scheme_type == SchemeType::IssueTypeScreen
        {
            let key = source_projects[&p.project].clone();
            using.entry(p.scheme).or_default().push(key);
        }
    }
    let cloud_scheme: BTreeMap<&str, &str> = (screen_schemes.iter())
        .map(|s| (s.id.as_str(), s.name.as_str()))
        .collect();
    let mut expected: Vec<ComparedScheme> = Vec::new();
    for r in source.records(Kind::IssueTypeScreenScheme) {
        if let Record::IssueTypeScreenScheme(s) = r {
            let mut entries: Vec<(String, String)> = (s.mappings.iter())
                .map(|m| {
                    let issue_type = m
                        .issue_type
                        .as_ref()
                        .map_or("default".to_owned(), |t| source_types[t].clone());
                    (issue_type, scheme_names[&m.screen_scheme].clone())
                })
                .collect();
            entries.sort();
            let mut projects = using.remove(&s.id).unwrap_or_default();
            projects.sort();
            let name = renamed(&own_type_schemes, &s.name);
            expected.push((name, s.description, entries, projects));
        }
    }
    let mut got: Vec<ComparedScheme> = (type_schemes.iter())
        .filter(|s| s.source_key.is_some())
        .map(|s| compared_scheme(s, &cloud_scheme, &cloud_types, &cloud_projects))
        .collect();
    expected.sort();
    got.sort();
    assert_eq!(
        got, expected,
        "issue type screen schemes with their mappings and projects"
    );
}

/// A field configuration as compared: its name, description and each field's settings
/// (field, description, hidden, required, Cloud's renderer), by field.
type ComparedConfiguration = (String, String, Vec<ComparedSetting>);

/// A field's settings as compared: field, description, hidden, required, Cloud's renderer.
type ComparedSetting = (String, String, bool, bool, String);

/// A source renderer as Jira Cloud names it (empty: none, or one Cloud has not).
fn cloud_renderer(renderer: &str) -> &'static str {
    match renderer {
        "jira-text-renderer" => "text-renderer",
        "atlassian-wiki-renderer" => "wiki-renderer",
        _ => "",
    }
}

/// What the source's field configurations hold arrived, compared by names: each
/// configuration once, named as the source names it or `<name> (migrated)` where Cloud
/// has the name, with every field's settings; each scheme once with its configuration per
/// issue type (the site's own default being Cloud's "Default Field Configuration") and the
/// projects using it; Cloud's default configuration as it was.
fn assert_field_configurations_arrived(source: &Source, double: &CloudDouble) {
    use airlock_model::jira::{FieldId, SchemeType};
    use std::collections::BTreeSet;
    let (configurations, schemes) = {
        let mut site = double.site();
        (
            site.read_field_configurations().unwrap(),
            site.read_field_configuration_schemes().unwrap(),
        )
    };
    let (cloud_fields, cloud_types, cloud_projects) = cloud_names(double);
    let own: BTreeSet<String> = (configurations.iter())
        .filter(|c| c.source_key.is_none())
        .map(|c| c.name.to_lowercase())
        .collect();
    let cloud_default = (configurations.iter())
        .find(|c| c.source_key.is_none() && c.name == "Default Field Configuration")
        .expect("Cloud's default field configuration");
    assert!(
        cloud_default.items.is_empty(),
        "Cloud's default is as it was"
    );
    let renamed = |own: &BTreeSet<String>, name: &str| {
        if own.contains(&name.to_lowercase()) {
            airlock_site::migrated_name(name, 1)
        } else {
            name.to_owned()
        }
    };

    // Configurations and their fields' settings.
    let source_fields: BTreeMap<String, String> = source
        .records(Kind::CustomField)
        .into_iter()
        .filter_map(|r| match r {
            Record::CustomField(f) => Some((f.id, f.name)),
            _ => None,
        })
        .collect();
    let source_field = |f: &FieldId| match f {
        FieldId::System(id) => id.clone(),
        FieldId::Custom(id) => format!("custom field {}", source_fields[id]),
    };
    let cloud_field = |id: &String| match id.strip_prefix("customfield_") {
        Some(n) => format!("custom field {}", cloud_fields[n]),
        None => id.clone(),
    };
    let mut items: BTreeMap<String, Vec<ComparedSetting>> = BTreeMap::new();
    for r in source.records(Kind::FieldConfigurationItem) {
        if let Record::FieldConfigurationItem(i) = r {
            let settings = (
                source_field(&i.field),
                i.description,
                i.hidden,
                i.required,
                cloud_renderer(&i.renderer).to_owned(),
            );
            items.entry(i.configuration).or_default().push(settings);
        }
    }
    let mut configuration_names: BTreeMap<String, String> = BTreeMap::new();
    let mut expected: Vec<ComparedConfiguration> = Vec::new();
    for r in source.records(Kind::FieldConfiguration) {
        if let Record::FieldConfiguration(c) = r {
            let name = renamed(&own, &c.name);
            let mut settings = items.remove(&c.id).unwrap_or_default();
            settings.sort();
            configuration_names.insert(c.id, name.clone());
            expected.push((name, c.description, settings));
        }
    }
    let mut got: Vec<ComparedConfiguration> = (configurations.iter())
        .filter(|c| c.source_key.is_some())
        .map(|c| {
            let mut settings: Vec<_> = (c.items.iter())
                .map(|(field, description, hidden, required, renderer)| {
                    let field = cloud_field(field);
                    (
                        field,
                        description.clone(),
                        *hidden,
                        *required,
                        renderer.clone(),
                    )
                })
                .collect();
            settings.sort();
            (c.name.clone(), c.description.clone(), settings)
        })
        .collect();
    expected.sort();
    got.sort();
    assert_eq!(
        got, expected,
        "field configurations with their fields' settings"
    );

    // Schemes: each issue type's configuration, and their projects.
    let cloud_configuration: BTreeMap<&str, &str> = (configurations.iter())
        .map(|c| (c.id.as_str(), c.name.as_str()))
        .collect();
    let source_types: BTreeMap<String, String> = source
        .records(Kind::IssueType)
        .into_iter()
        .filter_map(|r| match r {
            Record::IssueType(c) => Some((c.id, c.name)),
            _ => None,
        })
        .collect();
    let source_projects: BTreeMap<String, String> = source
        .records(Kind::Project)
        .into_iter()
        .filter_map(|r| match r {
            Record::Project(p) => Some((p.id, p.key)),
            _ => None,
        })
        .collect();
    let mut using: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in source.records(Kind::ProjectScheme) {
        if let Record::ProjectScheme(p) = r
            && p.scheme_type == SchemeType::FieldConfiguration
        {
            let key = source_projects[&p.project].clone();
            using.entry(p.scheme).or_default().push(key);
        }
    }
    let own_schemes: BTreeSet<String> = (schemes.iter())
        .filter(|s| s.source_key.is_none())
        .map(|s| s.name.to_lowercase())
        .collect();
    let mut expected: Vec<ComparedScheme> = Vec::new();
    for r in source.records(Kind::FieldConfigurationScheme) {
        if let Record::FieldConfigurationScheme(s) = r {
            let mut entries: Vec<(String, String)> = (s.mappings.iter())
                .map(|m| {
                    let issue_type = m
                        .issue_type
                        .as_ref()
                        .map_or("default".to_owned(), |t| source_types[t].clone());
                    let configuration = m.configuration.as_ref().map_or_else(
                        || cloud_default.name.clone(),
                        |c| configuration_names[c].clone(),
                    );
                    (issue_type, configuration)
                })
                .collect();
            // A new scheme maps the issue types not mapped otherwise to Cloud's default.
            if s.mappings.iter().all(|m| m.issue_type.is_some()) {
                entries.push(("default".to_owned(), cloud_default.name.clone()));
            }
            entries.sort();
            let mut projects = using.remove(&s.id).unwrap_or_default();
            projects.sort();
            let name = renamed(&own_schemes, &s.name);
            expected.push((name, s.description, entries, projects));
        }
    }
    let mut got: Vec<ComparedScheme> = (schemes.iter())
        .filter(|s| s.source_key.is_some())
        .map(|s| compared_scheme(s, &cloud_configuration, &cloud_types, &cloud_projects))
        .collect();
    expected.sort();
    got.sort();
    assert_eq!(
        got, expected,
        "field configuration schemes with their mappings and projects"
    );
}

/// An issue type scheme as compared: its name, description, issue types in order and
/// default (by name), and the projects using it (by key), sorted.
type ComparedTypeScheme = (String, String, Vec<String>, Option<String>, Vec<String>);

/// A workflow as compared: its name, description, its steps' statuses in order (by name)
/// and its transitions, sorted.
type ComparedWorkflow = (String, String, Vec<String>, Vec<ComparedTransition>);

/// A transition as compared: its name, description, kind, the statuses it leaves from
/// (sorted) and leads to, by name, and its screen by name.
type ComparedTransition = (String, String, String, Vec<String>, String, Option<String>);

/// Each record's name (or a project's key) by id, of a kind of the source's.
fn source_names(source: &Source, kind: Kind) -> Names {
    (source.records(kind).into_iter())
        .filter_map(|r| match r {
            Record::IssueType(c) | Record::Status(c) => Some((c.id, c.name)),
            Record::Screen(s) => Some((s.id, s.name)),
            Record::Project(p) => Some((p.id, p.key)),
            _ => None,
        })
        .collect()
}

/// What the source's issue type schemes, workflows and workflow schemes hold arrived,
/// compared by names: each issue type scheme once (but the source's default, which is
/// Cloud's own and holds every one of its issue types), named as the source names it or
/// `<name> (migrated)` where Cloud has the name, with its issue types in order, its
/// default and the projects using it; each workflow once, so named, with its steps'
/// statuses in order and each transition's kind, statuses and screen (a step's own name
/// is not Cloud's); each workflow scheme once with its workflow per issue type (`jira`
/// where the source names none, and for the issue types not mapped when it has no
/// default) and the projects using it.
fn assert_workflows_arrived(source: &Source, double: &CloudDouble) {
    use airlock_model::jira::SchemeType;
    use std::collections::BTreeSet;
    let (type_schemes, workflows, workflow_schemes, screens) = {
        let mut site = double.site();
        (
            site.read_issue_type_schemes().unwrap(),
            site.read_workflows().unwrap(),
            site.read_workflow_schemes().unwrap(),
            site.read_screens().unwrap(),
        )
    };
    let (_, cloud_types, cloud_projects) = cloud_names(double);
    let cloud_statuses: Names = {
        let db = rusqlite::Connection::open(double.site_path()).unwrap();
        let mut stmt = db.prepare("SELECT id, name FROM statuses").unwrap();
        stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?.to_string(), r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let cloud_screens: Names = (screens.iter())
        .map(|s| (s.id.clone(), s.name.clone()))
        .collect();
    let source_types = source_names(source, Kind::IssueType);
    let source_statuses = source_names(source, Kind::Status);
    let source_screens = source_names(source, Kind::Screen);
    let source_projects = source_names(source, Kind::Project);
    let own = |names: Vec<(&Option<String>, &String)>| -> BTreeSet<String> {
        (names.into_iter())
            .filter(|(key, _)| key.is_none())
            .map(|(_, name)| name.to_lowercase())
            .collect()
    };
    let renamed = |own: &BTreeSet<String>, name: &str| {
        if own.contains(&name.to_lowercase()) {
            airlock_site::migrated_name(name, 1)
        } else {
            name.to_owned()
        }
    };
    // (workflow scheme or not, the scheme) → its projects.
    let mut using: BTreeMap<(bool, String), Vec<String>> = BTreeMap::new();
    for r in source.records(Kind::ProjectScheme) {
        if let Record::ProjectScheme(p) = r
            && matches!(p.scheme_type, SchemeType::IssueType | SchemeType::Workflow)
        {
            let key = source_projects[&p.project].clone();
            using
                .entry((p.scheme_type == SchemeType::Workflow, p.scheme))
                .or_default()
                .push(key);
        }
    }
    let mut projects_of = |scheme_type: SchemeType, scheme: &str| {
        let mut projects = using
            .remove(&(scheme_type == SchemeType::Workflow, scheme.to_owned()))
            .unwrap_or_default();
        projects.sort();
        projects
    };

    // Issue type schemes: the source's default is Cloud's, which has its issue types.
    let own_type_schemes = own((type_schemes.iter())
        .map(|s| (&s.source_key, &s.name))
        .collect());
    let cloud_default = (type_schemes.iter())
        .find(|s| s.is_default)
        .expect("Cloud's default issue type scheme");
    assert!(cloud_default.source_key.is_none(), "{cloud_default:?}");
    let on_default: BTreeSet<&String> = (cloud_default.issue_types.iter())
        .map(|t| &cloud_types[t])
        .collect();
    let mut expected: Vec<ComparedTypeScheme> = Vec::new();
    for r in source.records(Kind::IssueTypeScheme) {
        let Record::IssueTypeScheme(s) = r else {
            continue;
        };
        let types: Vec<String> = (s.issue_types.iter())
            .map(|t| source_types[t].clone())
            .collect();
        if s.global {
            for t in &types {
                assert!(on_default.contains(t), "Cloud's default lists {t}");
            }
            continue;
        }
        let default = s
            .default_issue_type
            .as_ref()
            .map(|t| source_types[t].clone());
        let projects = projects_of(SchemeType::IssueType, &s.id);
        let name = renamed(&own_type_schemes, &s.name);
        expected.push((name, s.description, types, default, projects));
    }
    let mut got: Vec<ComparedTypeScheme> = (type_schemes.iter())
        .filter(|s| s.source_key.is_some())
        .map(|s| {
            let mut projects: Vec<String> = (s.projects.iter())
                .map(|p| cloud_projects[p].clone())
                .collect();
            projects.sort();
            (
                s.name.clone(),
                s.description.clone(),
                (s.issue_types.iter())
                    .map(|t| cloud_types[t].clone())
                    .collect(),
                s.default_issue_type
                    .as_ref()
                    .map(|t| cloud_types[t].clone()),
                projects,
            )
        })
        .collect();
    expected.sort();
    got.sort();
    assert_eq!(
        got, expected,
        "issue type schemes with their issue types, default and projects"
    );

    // Workflows: statuses and transitions, by name.
    let own_screens = own(screens.iter().map(|s| (&s.source_key, &s.name)).collect());
    let own_workflows = own((workflows.iter())
        .map(|w| (&w.source_key, &w.name))
        .collect());
    let mut workflow_names: BTreeMap<String, String> = BTreeMap::new();
    let mut expected: Vec<ComparedWorkflow> = Vec::new();
    for r in source.records(Kind::Workflow) {
        let Record::Workflow(w) = r else {
            continue;
        };
        let status: BTreeMap<&str, &str> = (w.steps.iter())
            .map(|s| (s.id.as_str(), source_statuses[&s.status].as_str()))
            .collect();
        let mut transitions: Vec<ComparedTransition> = (w.transitions.iter())
            .map(|t| {
                let mut from: Vec<String> = (t.from.iter())
                    .map(|f| status[f.as_str()].to_owned())
                    .collect();
                from.sort();
                let screen = (t.screen.as_ref()).map(|s| renamed(&own_screens, &source_screens[s]));
                (
                    t.name.clone(),
                    t.description.clone(),
                    t.kind.as_str().to_owned(),
                    from,
                    status[t.to.as_str()].to_owned(),
                    screen,
                )
            })
            .collect();
        transitions.sort();
        let steps = (w.steps.iter())
            .map(|s| source_statuses[&s.status].clone())
            .collect();
        let name = renamed(&own_workflows, &w.name);
        workflow_names.insert(w.id, name.clone());
        expected.push((name, w.description, steps, transitions));
    }
    let mut got: Vec<ComparedWorkflow> = (workflows.iter())
        .filter(|w| w.source_key.is_some())
        .map(|w| {
            let status: BTreeMap<&str, &str> = (w.steps.iter())
                .map(|(step, _, status)| (step.as_str(), cloud_statuses[status].as_str()))
                .collect();
            let mut transitions: Vec<ComparedTransition> = (w.transitions.iter())
                .map(|t| {
                    let mut from: Vec<String> = (t.from.iter())
                        .map(|f| status[f.as_str()].to_owned())
                        .collect();
                    from.sort();
                    (
                        t.name.clone(),
                        t.description.clone(),
                        t.kind.clone(),
                        from,
                        status[t.to.as_str()].to_owned(),
                        t.screen.as_ref().map(|s| cloud_screens[s].clone()),
                    )
                })
                .collect();
            transitions.sort();
            let steps = (w.steps.iter())
                .map(|(_, _, status)| cloud_statuses[status].clone())
                .collect();
            (w.name.clone(), w.description.clone(), steps, transitions)
        })
        .collect();
    expected.sort();
    got.sort();
    assert_eq!(
        got, expected,
        "workflows with their statuses and transitions"
    );

    // Workflow schemes: each issue type's workflow (`jira` where none), and their projects.
    let cloud_workflow: BTreeMap<&str, &str> = (workflows.iter())
        .map(|w| (w.id.as_str(), w.name.as_str()))
        .collect();
    let own_schemes = own((workflow_schemes.iter())
        .map(|s| (&s.source_key, &s.name))
        .collect());
    let mut expected: Vec<ComparedScheme> = Vec::new();
    for r in source.records(Kind::WorkflowScheme) {
        let Record::WorkflowScheme(s) = r else {
            continue;
        };
        let mut entries: Vec<(String, String)> = (s.mappings.iter())
            .map(|m| {
                let issue_type = (m.issue_type.as_ref())
                    .map_or("default".to_owned(), |t| source_types[t].clone());
                let workflow =
                    (m.workflow.as_ref()).map_or("jira".to_owned(), |w| workflow_names[w].clone());
                (issue_type, workflow)
            })
            .collect();
        // Without a default, Cloud's scheme gives the other issue types `jira`.
        if s.mappings.iter().all(|m| m.issue_type.is_some()) {
            entries.push(("default".to_owned(), "jira".to_owned()));
        }
        entries.sort();
        let projects = projects_of(SchemeType::Workflow, &s.id);
        let name = renamed(&own_schemes, &s.name);
        expected.push((name, s.description, entries, projects));
    }
    let mut got: Vec<ComparedScheme> = (workflow_schemes.iter())
        .filter(|s| s.source_key.is_some())
        .map(|s| compared_scheme(s, &cloud_workflow, &cloud_types, &cloud_projects))
        .collect();
    expected.sort();
    got.sort();
    assert_eq!(
        got, expected,
        "workflow schemes with their workflows and projects"
    );
}

/// Each source issue's key (its project's key and its number), by id.
fn source_issue_keys(source: &Source) -> BTreeMap<String, String> {
    let project_keys: BTreeMap<String, String> = source
        .records(Kind::Project)
        .into_iter()
        .filter_map(|r| match r {
            Record::Project(p) => Some((p.id, p.key)),
            _ => None,
        })
        .collect();
    source
        .records(Kind::Issue)
        .into_iter()
        .filter_map(|r| match r {
            Record::Issue(i) => Some((i.id, format!("{}-{}", project_keys[&i.project], i.number))),
            _ => None,
        })
        .collect()
}

/// Every issue has its source key (its project's key and its source number), whatever the
/// gaps between numbers and the order of ids; and no placeholder is left.
fn assert_keys_kept(source: &Source, double: &CloudDouble) {
    let expected = source_issue_keys(source);
    let mut last: BTreeMap<&str, u64> = BTreeMap::new();
    let mut gaps = 0;
    for key in expected.values() {
        let (project, number) = key.rsplit_once('-').unwrap();
        let number: u64 = number.parse().unwrap();
        let prev = last.entry(project).or_default();
        gaps += u64::from(number > *prev + 1);
        *prev = (*prev).max(number);
    }
    assert!(gaps > 0, "the backup has no gap between issue numbers");
    let db = rusqlite::Connection::open(double.site_path()).unwrap();
    let mut stmt = db.prepare("SELECT source_key, key FROM issues").unwrap();
    let on_site: BTreeMap<String, String> = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                r.get(1)?,
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(on_site, expected, "issue keys (and no placeholder left)");
}

/// Every source attachment's file, byte for byte, where the double keeps the file of the
/// attachment the load mapped it to.
fn assert_files_arrived(source: &Source, state: &State, double: &CloudDouble) {
    use std::io::Read as _;
    let ns = Kind::Attachment.namespace().unwrap();
    let files = FolderFiles::index(&source.home()).unwrap();
    let stored_in = double.site().attachments_dir().to_path_buf();
    let attachments = source.records(Kind::Attachment);
    assert!(!attachments.is_empty(), "the fixture has attachments");
    for a in &attachments {
        let id = source_key(a);
        let cloud = state
            .cloud_id(ns, &id)
            .unwrap()
            .expect("the attachment is mapped");
        let mut expected = Vec::new();
        files.open(&id).unwrap().read_to_end(&mut expected).unwrap();
        let stored = std::fs::read(stored_in.join(&cloud)).unwrap();
        assert_eq!(stored.len(), expected.len(), "attachment {id}'s size");
        assert!(stored == expected, "attachment {id}'s bytes");
    }
}

/// Every issue's source number and dates, which Cloud sets itself, in its
/// `airlock.issue` property as the source has them.
fn assert_issue_dates_carried(source: &Source, state: &State, double: &CloudDouble) {
    let db = rusqlite::Connection::open(double.site_path()).unwrap();
    let carried = |issue: &str| -> Value {
        let value: String = db
            .query_row(
                "SELECT value FROM entity_properties
                 WHERE entity_kind = 'issue' AND entity_id = ?1 AND key = ?2",
                [issue, ISSUE_PROPERTY],
                |r| r.get(0),
            )
            .unwrap_or_else(|e| panic!("issue {issue} has no {ISSUE_PROPERTY}: {e}"));
        serde_json::from_str(&value).unwrap()
    };
    let ns = Kind::Issue.namespace().unwrap();
    let issues = source.records(Kind::Issue);
    assert!(
        issues
            .iter()
            .any(|r| matches!(r, Record::Issue(i) if i.resolved.is_some()))
    );
    for record in &issues {
        let Record::Issue(issue) = record else {
            unreachable!("issues only")
        };
        let cloud = state.cloud_id(ns, &issue.id).unwrap().expect("mapped");
        assert_eq!(
            carried(&cloud),
            json!({
                "number": issue.number,
                "created": issue.created,
                "updated": issue.updated,
                "resolved": issue.resolved,
            }),
            "issue {}",
            issue.id
        );
    }
}

/// Every comment's and work log's source author (mapped) and dates, which Cloud sets
/// itself (the caller, now), in its `airlock.origin` property as the source has them.
fn assert_origins_carried(source: &Source, state: &State, double: &CloudDouble) {
    let db = rusqlite::Connection::open(double.site_path()).unwrap();
    let me: String = db
        .query_row(
            "SELECT account_id FROM users WHERE email = 'migration@example.com'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let users = Kind::User.namespace().unwrap();
    let author = |a: &Option<String>| -> Value {
        a.as_ref().map_or(Value::Null, |a| {
            json!(state.cloud_id(users, a).unwrap().expect("mapped"))
        })
    };
    let carried = |table: &str, entity: &str, source_key: &str| -> (String, Value) {
        let (id, author): (i64, String) = db
            .query_row(
                &format!("SELECT id, author_account_id FROM {table} WHERE source_key = ?1"),
                [source_key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        let value: String = db
            .query_row(
                "SELECT value FROM app_entity_properties
                 WHERE entity_kind = ?1 AND entity_id = ?2 AND key = ?3",
                [entity, &id.to_string(), ORIGIN_PROPERTY],
                |r| r.get(0),
            )
            .unwrap_or_else(|e| panic!("{entity} {source_key} has no {ORIGIN_PROPERTY}: {e}"));
        (author, serde_json::from_str(&value).unwrap())
    };
    let (mut comments, mut worklogs) = (0, 0);
    for record in source.records(Kind::Comment) {
        let Record::Comment(c) = record else { continue };
        let (by, origin) = carried("comments", "comment", &c.id);
        assert_eq!(by, me, "Cloud makes the caller the author");
        let expected =
            json!({ "author": author(&c.author), "created": c.created, "updated": c.updated });
        assert_eq!(origin, expected, "comment {}", c.id);
        comments += 1;
    }
    for record in source.records(Kind::Worklog) {
        let Record::Worklog(w) = record else { continue };
        let (by, origin) = carried("worklogs", "worklog", &w.id);
        assert_eq!(by, me, "Cloud makes the caller the author");
        let expected = json!({ "author": author(&w.author), "created": w.created });
        assert_eq!(origin, expected, "worklog {}", w.id);
        worklogs += 1;
    }
    assert!(comments > 0 && worklogs > 0, "the fixture has both");
}

/// Jira Cloud takes an attachment's file only when it creates the attachment. One whose
/// file is not in the folder, and one larger than the site takes, are refused before a
/// byte is sent, each saying what to do; the rest arrive with their files. Once the file
/// is back and the limit raised, the next run writes the two, once, with their files.
#[test]
fn attachments_go_with_their_files_and_one_without_is_refused_until_it_is_there() {
    let double = CloudDouble::start(DoubleConfig::default()).unwrap();
    let source = Source::new(&small_spec(30));
    let attachments = source.records(Kind::Attachment);
    let sizes: Vec<(String, u64)> = attachments
        .iter()
        .map(|r| match r {
            Record::Attachment(a) => (a.id.clone(), a.size),
            _ => unreachable!("attachments only"),
        })
        .collect();
    let (largest, size) = sizes.iter().max_by_key(|(_, s)| *s).cloned().unwrap();
    let gone = sizes
        .iter()
        .find(|(id, _)| *id != largest)
        .unwrap()
        .0
        .clone();
    let files = FolderFiles::index(&source.home()).unwrap();
    let gone_path = walkdir(&source.home())
        .into_iter()
        .find(|p| p.file_name().and_then(|n| n.to_str()) == Some(gone.as_str()))
        .expect("the fixture wrote the file");
    assert!(files.open(&gone).is_ok());
    let kept = source.dir.path().join("kept");
    std::fs::rename(&gone_path, &kept).unwrap();
    double.set_attachment_limit(size - 1);

    let mut target = client(&double);
    let decisions = source.plan(&mut target).unwrap();
    let (summary, state) = source.run(&mut target, &decisions).unwrap();
    assert_eq!(
        summary.failed.get(&Kind::Attachment),
        Some(&2),
        "{summary:?}"
    );
    let failures = state.failures().unwrap();
    let refused = |id: &str, code: &str, says: [&str; 2]| {
        let f = failures
            .iter()
            .find(|f| f.source_key == id)
            .unwrap_or_else(|| panic!("attachment {id} is not refused: {failures:#?}"));
        assert_eq!(f.code, code);
        assert!(says.iter().all(|s| f.message.contains(s)), "{}", f.message);
    };
    refused(
        &gone,
        "attachment-file-missing",
        [
            &format!("no file named {gone}"),
            "put it there and run the migration again",
        ],
    );
    refused(
        &largest,
        "attachment-too-large",
        [
            &format!("its file is {size} bytes"),
            "raise the site's attachment size limit",
        ],
    );
    let posted = |double: &CloudDouble| {
        double
            .requests()
            .iter()
            .filter(|r| r.endpoint == "POST /rest/api/3/issue/{id}/attachments")
            .count()
    };
    assert_eq!(
        posted(&double),
        attachments.len() - 2,
        "nothing is sent for the two refused"
    );
    drop(state);

    // The operator puts the file back and raises the limit: the next run writes the two.
    std::fs::rename(&kept, &gone_path).unwrap();
    double.set_attachment_limit(1 << 30);
    let mut target = client(&double);
    let (summary, state) = source.run(&mut target, &decisions).unwrap();
    assert!(
        summary.failed.is_empty(),
        "{:#?}",
        state.failures().unwrap()
    );
    assert_eq!(posted(&double), attachments.len(), "each file sent once");
    let mut site = double.site();
    assert_eq!(site.duplicate_source_keys(Kind::Attachment).unwrap(), 0);
    drop(site);
    assert_files_arrived(&source, &state, &double);
}

/// Every file under `dir`.
fn walkdir(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

#[test]
fn every_kind_round_trips_over_https() {
    let double = CloudDouble::start(DoubleConfig::default()).unwrap();
    let source = Source::new(&small_spec(30));
    let mut target = client(&double);
    let (summary, state) = source.load(&mut target).unwrap();
    assert!(
        summary.failed.is_empty(),
        "{:#?}",
        state.failures().unwrap()
    );
    for kind in Kind::ALL {
        let staged = source.staged.get(&kind).copied().unwrap_or(0);
        let matched = summary.matched.get(&kind).copied().unwrap_or(0);
        let written = summary.written.get(&kind).copied().unwrap_or(0);
        assert_eq!(written + matched, staged, "{kind}");
    }
    assert_complete(&source, &double, &summary.matched);
    // What `assert_complete` compared of screens is not nothing: screens of several tabs,
    // custom fields on them.
    let screen_fields = source.records(Kind::ScreenField);
    assert!(source.records(Kind::ScreenTab).len() > source.records(Kind::Screen).len());
    assert!(screen_fields.iter().any(|r| matches!(
        r,
        Record::ScreenField(f) if matches!(f.field, airlock_model::jira::FieldId::Custom(_))
    )));
    // Nor of field configurations: custom fields' settings, renderers, schemes mapping
    // issue types apart, projects using them (a mapping to the site's own default is in
    // `field_configurations`: this backup's one scheme has none).
    let items = source.records(Kind::FieldConfigurationItem);
    assert!(items.iter().any(|r| matches!(
        r,
        Record::FieldConfigurationItem(i)
            if matches!(i.field, airlock_model::jira::FieldId::Custom(_)) && !i.renderer.is_empty()
    )));
    let mappings: Vec<_> = source
        .records(Kind::FieldConfigurationScheme)
        .into_iter()
        .flat_map(|r| match r {
            Record::FieldConfigurationScheme(s) => s.mappings,
            _ => Vec::new(),
        })
        .collect();
    assert!(mappings.iter().any(|m| m.issue_type.is_some()));
    assert!(source.records(Kind::ProjectScheme).iter().any(|r| matches!(
        r,
        Record::ProjectScheme(p) if p.scheme_type == airlock_model::jira::SchemeType::FieldConfiguration
    )));
    // Nor of issue type schemes, workflows and workflow schemes: the source's default
    // scheme beside projects' own, transitions of every kind, from several statuses, with
    // screens, schemes mapping issue types apart, projects using both kinds of scheme.
    let type_schemes = source.records(Kind::IssueTypeScheme);
    assert!(
        type_schemes
            .iter()
            .any(|r| matches!(r, Record::IssueTypeScheme(s) if s.global))
    );
    assert!(
        type_schemes
            .iter()
            .any(|r| matches!(r, Record::IssueTypeScheme(s) if !s.global))
    );
    let transitions: Vec<_> = (source.records(Kind::Workflow).into_iter())
        .flat_map(|r| match r {
            Record::Workflow(w) => w.transitions,
            _ => Vec::new(),
        })
        .collect();
    use airlock_model::jira::TransitionKind;
    for kind in [
        TransitionKind::Initial,
        TransitionKind::Global,
        TransitionKind::Directed,
    ] {
        assert!(transitions.iter().any(|t| t.kind == kind), "{kind:?}");
    }
    assert!(transitions.iter().any(|t| t.from.len() > 1));
    assert!(transitions.iter().any(|t| t.screen.is_some()));
    assert!(
        (source.records(Kind::WorkflowScheme).iter()).any(|r| matches!(
            r,
            Record::WorkflowScheme(s) if s.mappings.iter().any(|m| m.issue_type.is_some())
        ))
    );
    for scheme_type in [
        airlock_model::jira::SchemeType::IssueType,
        airlock_model::jira::SchemeType::Workflow,
    ] {
        assert!(
            (source.records(Kind::ProjectScheme).iter())
                .any(|r| matches!(r, Record::ProjectScheme(p) if p.scheme_type == scheme_type)),
            "{scheme_type:?}"
        );
    }
    assert_files_arrived(&source, &state, &double);
    assert_issue_dates_carried(&source, &state, &double);
    assert_origins_carried(&source, &state, &double);

    // The fixture's priorities and resolutions all match the site's defaults: write two.
    let constant = |id: &str, name: &str| airlock_model::jira::Constant {
        id: id.into(),
        name: name.into(),
        description: "from the source".into(),
        detail: String::new(),
    };
    let priority = Record::Priority(constant("p-9", "Blocker"));
    let resolution = Record::Resolution(constant("r-9", "Obsolete"));
    for record in [priority, resolution] {
        let kind = record.kind();
        let id = target.write(kind, std::slice::from_ref(&record)).unwrap()[0]
            .clone()
            .unwrap();
        let again = client(&double)
            .find_written(kind, &[source_key(&record)])
            .unwrap();
        assert_eq!(again, vec![Some(id)], "{kind}");
    }

    // The client's own counts agree with the site's.
    let site_counts = written_counts(&source, &double);
    assert_eq!(target.counts().unwrap(), site_counts);

    // A fresh client (a new process after a crash) finds every record again, with the
    // cloud id the engine mapped it to.
    let mut fresh = client(&double);
    let boards: std::collections::BTreeSet<String> = source
        .records(Kind::Board)
        .iter()
        .filter_map(|b| {
            state
                .cloud_id(Kind::Board.namespace().unwrap(), &source_key(b))
                .unwrap()
        })
        .collect();
    assert!(!boards.is_empty(), "the fixture has boards");
    for kind in Kind::ALL {
        let keys: Vec<String> = source.records(kind).iter().map(source_key).collect();
        if keys.is_empty() {
            continue;
        }
        let found = fresh.find_written(kind, &keys).unwrap();
        for (key, found) in keys.iter().zip(&found) {
            match kind.namespace() {
                Some(ns) => {
                    if summary.matched.contains_key(&kind) && found.is_none() {
                        continue; // matched to a default of the site, never written
                    }
                    assert_eq!(
                        found.as_deref(),
                        state.cloud_id(ns, key).unwrap().as_deref(),
                        "{kind} {key}"
                    );
                }
                // An issue version's source key is made of its references, which the
                // engine keys before translating them and the target sees after: the two
                // never meet. Rewriting one is harmless (an add is idempotent).
                None if kind == Kind::IssueVersion => {}
                // A share, a permission grant, a level's member and a remote link have an
                // id of their own in Cloud, though no mapping namespace; a gadget's setting
                // is answered `<dashboard>:<gadget>:<key>`, a field's settings in a field
                // configuration `<configuration>:<field>`.
                None if matches!(
                    kind,
                    Kind::FilterShare
                        | Kind::DashboardShare
                        | Kind::GadgetPreference
                        | Kind::FieldConfigurationItem
                        | Kind::SchemePermission
                        | Kind::SecurityLevelMember
                        | Kind::RemoteLink
                ) =>
                {
                    assert!(found.as_ref().is_some_and(|id| !id.is_empty()), "{key}")
                }
                // What a board's properties carry is answered `<board>:<server id>`.
                None if matches!(
                    kind,
                    Kind::BoardColumn
                        | Kind::ColumnStatus
                        | Kind::Swimlane
                        | Kind::QuickFilter
                        | Kind::CardField
                        | Kind::CardColor
                ) =>
                {
                    let found = found.as_deref().unwrap_or_default();
                    let board = found.strip_suffix(&format!(":{key}")).unwrap_or_default();
                    assert!(boards.contains(board), "{kind} {key}: {found}");
                }
                None => assert_eq!(found.as_deref(), Some(""), "{kind} {key}"),
            }
        }
    }
    assert_eq!(fresh.counts().unwrap(), site_counts);

    // Content survives the trip: text through ADF, dates, authors, links' direction.
    let db = rusqlite::Connection::open(double.site_path()).unwrap();
    for record in source.records(Kind::Comment) {
        let Record::Comment(c) = record else { continue };
        let (body, issue): (String, i64) = db
            .query_row(
                "SELECT body, issue_id FROM comments WHERE source_key = ?1",
                [&c.id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(body, c.body.replace('\r', ""));
        let mapped = state
            .cloud_id(Kind::Issue.namespace().unwrap(), &c.issue)
            .unwrap();
        assert_eq!(Some(issue.to_string()), mapped);
    }
    for record in source.records(Kind::Worklog) {
        let Record::Worklog(w) = record else { continue };
        let (started, seconds): (i64, i64) = db
            .query_row(
                "SELECT started, time_spent_seconds FROM worklogs WHERE source_key = ?1",
                [&w.id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((started, seconds), (w.started, w.seconds));
    }
    for record in source.records(Kind::Issue) {
        let Record::Issue(i) = record else { continue };
        let (summary_text, description): (String, String) = db
            .query_row(
                "SELECT summary, description FROM issues WHERE source_key = ?1",
                [&i.id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(summary_text, i.summary);
        assert_eq!(description, i.description.replace('\r', ""));
    }
    let ns = Kind::Issue.namespace().unwrap();
    for record in source.records(Kind::IssueLink) {
        let Record::IssueLink(l) = record else {
            continue;
        };
        let id = state
            .cloud_id(Kind::IssueLink.namespace().unwrap(), &l.id)
            .unwrap()
            .unwrap();
        let (from, to): (i64, i64) = db
            .query_row(
                "SELECT source_issue_id, destination_issue_id FROM issue_links WHERE id = ?1",
                [id.parse::<i64>().unwrap()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(
            Some(from.to_string()),
            state.cloud_id(ns, &l.source).unwrap()
        );
        assert_eq!(
            Some(to.to_string()),
            state.cloud_id(ns, &l.destination).unwrap()
        );
    }
    // Watchers and votes on their issues (votes in the issue property), filters with their
    // owners and shares.
    let user_ns = Kind::User.namespace().unwrap();
    let mapped = |ns, id: &str| state.cloud_id(ns, id).unwrap();
    for record in source.records(Kind::Watcher) {
        let Record::Watcher(w) = record else { continue };
        let issue: i64 = mapped(ns, &w.issue).unwrap().parse().unwrap();
        let watching: i64 = db
            .query_row(
                "SELECT COUNT(*) FROM watchers WHERE issue_id = ?1 AND account_id = ?2",
                rusqlite::params![issue, mapped(user_ns, &w.user).unwrap()],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(watching, 1, "watcher {}", w.id);
    }
    let voters = voters_on_site(&double);
    for record in source.records(Kind::Vote) {
        let Record::Vote(v) = record else { continue };
        let issue = mapped(ns, &v.issue).unwrap();
        let user = mapped(user_ns, &v.user).unwrap();
        assert!(voters[&issue].contains(&user), "vote {}", v.id);
    }
    // History in the issues' properties: each change by its server id, answered with its
    // issue's cloud id, its author mapped; each item under its change.
    let history = history_on_site(&double);
    let change_ns = Kind::ChangeGroup.namespace().unwrap();
    let mut groups: BTreeMap<String, (String, String)> = BTreeMap::new();
    for record in source.records(Kind::ChangeGroup) {
        let Record::ChangeGroup(g) = record else {
            continue;
        };
        let issue = mapped(ns, &g.issue).unwrap();
        assert_eq!(
            mapped(change_ns, &g.id),
            Some(format!("{issue}:{}", g.id)),
            "change {}",
            g.id
        );
        let c = history[&issue]
            .iter()
            .find(|c| c["id"] == json!(g.id))
            .unwrap_or_else(|| panic!("change {} on its issue", g.id));
        let author = g.author.as_ref().and_then(|a| mapped(user_ns, a));
        assert_eq!(
            (&c["author"], &c["created"]),
            (&json!(author), &json!(g.created))
        );
        groups.insert(g.id.clone(), (issue, g.id.clone()));
    }
    let items = source.records(Kind::ChangeItem);
    assert!(!items.is_empty(), "the fixture has history");
    for record in items {
        let Record::ChangeItem(i) = record else {
            continue;
        };
        let (issue, change) = &groups[&i.group];
        let c = history[issue]
            .iter()
            .find(|c| c["id"] == json!(change))
            .unwrap();
        let on_site = c["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == json!(i.id))
            .unwrap_or_else(|| panic!("item {} under its change", i.id));
        assert_eq!(on_site["field"], json!(i.field));
        assert_eq!(on_site["custom"], json!(i.custom));
        assert_eq!(on_site["fromString"], json!(i.old_string));
        assert_eq!(on_site["toString"], json!(i.new_string));
    }
    // Issue security: each level in its scheme with its members, each project using its
    // scheme, each secured issue at its level.
    security::assert_levels_round_trip(&source, &state, &db);
    security::assert_members_round_trip(&source, &state, &double);
    let shares = source.records(Kind::FilterShare);
    for record in source.records(Kind::Filter) {
        let Record::Filter(f) = record else { continue };
        let id = mapped(Kind::Filter.namespace().unwrap(), &f.id).unwrap();
        let (status, cloud) = raw_get(&double, &format!("/rest/api/3/filter/{id}"));
        assert_eq!(status, 200);
        assert_eq!(cloud["name"], json!(f.name));
        if let Some(owner) = mapped(user_ns, &f.owner) {
            assert_eq!(cloud["owner"]["accountId"], json!(owner), "filter {}", f.id);
        }
        let expected = shares
            .iter()
            .filter(|r| matches!(r, Record::FilterShare(s) if s.filter == f.id))
            .count();
        assert_eq!(
            cloud["sharePermissions"].as_array().unwrap().len(),
            expected,
            "filter {}",
            f.id
        );
    }
    software::assert_round_trip(&source, &state, &double);
    let stats = double.stats();
    assert_eq!(stats.early_requests, 0);
    assert!(stats.per_endpoint["POST /rest/api/3/issue/bulk"] >= 1);
}

fn issue(n: usize, project: &str) -> Issue {
    Issue {
        id: format!("src-{n}"),
        project: project.to_owned(),
        number: n as u64 + 1,
        issue_type: "10000".into(),
        summary: format!("Issue {n}"),
        description: format!("Line one of {n}\nLine two"),
        priority: Some("3".into()),
        status: "10000".into(),
        resolution: None,
        reporter: None,
        assignee: None,
        created: 1_409_679_768_053,
        updated: 1_409_679_768_053,
        due: None,
        resolved: None,
        original_estimate: Some(3600),
        estimate: None,
        time_spent: None,
        security: None,
    }
}

#[test]
fn bulk_create_maps_partial_failures_to_their_records() {
    let double = CloudDouble::start(DoubleConfig::default()).unwrap();
    let project = double.site().add_project("BULK", "Bulk").unwrap();
    let mut records: Vec<Record> = (0..60).map(|n| Record::Issue(issue(n, &project))).collect();
    // Refused by the shared rules (never sent), by the site, and for its project.
    if let Record::Issue(i) = &mut records[3] {
        i.summary = " ".into();
    }
    if let Record::Issue(i) = &mut records[10] {
        i.issue_type = "999".into();
    }
    if let Record::Issue(i) = &mut records[55] {
        i.project = "424242".into();
    }
    let mut target = client(&double);
    let answers = target.write(Kind::Issue, &records).unwrap();
    assert_eq!(answers.len(), 60);
    // 3 is refused before it is sent: a placeholder takes its number. Jira numbers only
    // the issues it creates: after it refused 10, 11 to 49 took the numbers before
    // theirs, and are listed. The next call starts with a placeholder for 50, and has
    // one for 56 (55 is another project's), each deleted once the issue after it is
    // there: 50 and after have their keys.
    let changed: Vec<String> = target
        .take_notices()
        .into_iter()
        .map(|n| {
            assert_eq!((n.kind, n.code), (Kind::Issue, "key-changed"));
            n.source_key
        })
        .collect();
    let shifted: Vec<String> = (11..50).map(|n| format!("src-{n}")).collect();
    assert_eq!(changed, shifted);
    assert!(target.take_notices().is_empty(), "taken once");
    let db = rusqlite::Connection::open(double.site_path()).unwrap();
    for (n, answer) in answers.iter().enumerate() {
        match n {
            3 => assert_eq!(
                answer.as_ref().unwrap_err().code,
                "invalid-value",
                "{answer:?}"
            ),
            10 | 55 => assert_eq!(
                answer.as_ref().unwrap_err().code,
                "invalid-reference",
                "{answer:?}"
            ),
            _ => {
                let id: i64 = answer.as_ref().unwrap().parse().unwrap();
                let key: String = db
                    .query_row("SELECT source_key FROM issues WHERE id = ?1", [id], |r| {
                        r.get(0)
                    })
                    .unwrap();
                assert_eq!(key, format!("src-{n}"), "answer {n} names another issue");
            }
        }
    }
    // Two calls for the 59 issues of BULK, one for the project the site does not have.
    assert_eq!(
        double.stats().per_endpoint["POST /rest/api/3/issue/bulk"],
        3
    );
    assert_eq!(
        double.stats().per_endpoint["DELETE /rest/api/3/issue/{id}"],
        3
    );
    assert_eq!(double.site().counts().unwrap()[&Kind::Issue], 57);
    let keys: Vec<(String, String)> = db
        .prepare("SELECT source_key, key FROM issues WHERE source_key IN ('src-4', 'src-11', 'src-50', 'src-59') ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = |s: &str, k: &str| (s.to_owned(), k.to_owned());
    assert_eq!(
        keys,
        [
            key("src-4", "BULK-5"),
            key("src-11", "BULK-11"),
            key("src-50", "BULK-51"),
            key("src-59", "BULK-60")
        ]
    );

    // More than 50 in one call is refused whole, as Cloud does.
    let raw = raw_client(&double);
    let updates: Vec<serde_json::Value> = (0..51)
        .map(|n| {
            serde_json::json!({ "fields": {
                "project": { "id": project }, "issuetype": { "id": "10000" },
                "summary": format!("x{n}"),
            }})
        })
        .collect();
    let resp = raw
        .post(format!("{}/rest/api/3/issue/bulk", double.url()))
        .basic_auth("raw@example.com", Some("t"))
        .json(&serde_json::json!({ "issueUpdates": updates }))
        .send();
    let rt = tokio_rt();
    let resp = rt.block_on(resp).unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert_eq!(double.site().counts().unwrap()[&Kind::Issue], 57);
}

/// Jira Cloud, where someone creates an issue in each project just before the
/// migration's first issues of that project arrive (a user at work on the new site).
struct Busy<'d> {
    inner: JiraCloud,
    double: &'d CloudDouble,
    touched: std::collections::BTreeSet<String>,
}

impl Site for Busy<'_> {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn snapshot(&mut self) -> Result<airlock_site::Snapshot, TargetError> {
        self.inner.snapshot()
    }
    fn caveats(&self) -> Vec<airlock_site::Caveat> {
        self.inner.caveats()
    }
    fn write(
        &mut self,
        kind: Kind,
        records: &[Record],
    ) -> Result<Vec<Result<String, ItemError>>, TargetError> {
        for r in records {
            if let Record::Issue(i) = r
                && self.touched.insert(i.project.clone())
            {
                let theirs = Issue {
                    id: format!("theirs-{}", i.project),
                    number: 1,
                    summary: "Created on the new site during the migration".into(),
                    ..i.clone()
                };
                let written = self.double.site().write(kind, &[Record::Issue(theirs)]);
                assert!(written.unwrap()[0].is_ok());
            }
        }
        self.inner.write(kind, records)
    }
    fn find_written(
        &mut self,
        kind: Kind,
        keys: &[String],
    ) -> Result<Vec<Option<String>>, TargetError> {
        self.inner.find_written(kind, keys)
    }
    fn counts(&mut self) -> Result<BTreeMap<Kind, u64>, TargetError> {
        self.inner.counts()
    }
    fn put_app_outputs(&mut self, app: &AppKey, outputs: &[AppOutput]) -> Result<(), TargetError> {
        self.inner.put_app_outputs(app, outputs)
    }
    fn wants_attachment_files(&self) -> bool {
        self.inner.wants_attachment_files()
    }
    fn take_attachment_files(&mut self, files: Arc<dyn AttachmentFiles>) {
        self.inner.take_attachment_files(files)
    }
    fn put_attachment_file(
        &mut self,
        attachment: &str,
        content: &mut dyn std::io::Read,
    ) -> Result<u64, TargetError> {
        self.inner.put_attachment_file(attachment, content)
    }
    fn app_output_count(&mut self, app: &AppKey) -> Result<u64, TargetError> {
        self.inner.app_output_count(app)
    }
    fn numbers_issues(&self) -> bool {
        self.inner.numbers_issues()
    }
    fn take_notices(&mut self) -> Vec<airlock_site::Notice> {
        self.inner.take_notices()
    }
}

#[test]
fn issues_whose_numbers_the_site_passed_are_listed_with_the_keys_they_got() {
    let double = CloudDouble::start(DoubleConfig::default()).unwrap();
    let source = Source::new(&small_spec(30));
    let mut target = Busy {
        inner: client(&double),
        double: &double,
        touched: Default::default(),
    };
    let (summary, state) = source.load(&mut target).unwrap();
    assert!(summary.failed.is_empty(), "{:?}", state.failures().unwrap());
    // Number 1 of each project was taken: its issues took the numbers after theirs, until
    // a gap in the source's numbers brought them back. Each whose key differs is listed,
    // with the key it got; no other.
    let issues = source.records(Kind::Issue);
    let keys = source_issue_keys(&source);
    let db = rusqlite::Connection::open(double.site_path()).unwrap();
    let key_on_site = |id: &str| -> String {
        db.query_row("SELECT key FROM issues WHERE source_key = ?1", [id], |r| {
            r.get(0)
        })
        .unwrap()
    };
    let moved: std::collections::BTreeSet<String> = keys
        .iter()
        .filter(|(id, key)| key_on_site(id) != **key)
        .map(|(id, _)| id.clone())
        .collect();
    assert!(!moved.is_empty() && moved.len() < issues.len(), "{moved:?}");
    let notices = state.notices().unwrap();
    let listed: std::collections::BTreeSet<String> =
        notices.iter().map(|n| n.source_key.clone()).collect();
    assert_eq!(listed, moved);
    assert_eq!(
        summary.changed.get(&Kind::Issue),
        Some(&(moved.len() as u64))
    );
    for n in &notices {
        assert_eq!((n.kind, n.code.as_str()), (Kind::Issue, "key-changed"));
        let key = key_on_site(&n.source_key);
        assert!(
            n.message
                .contains(&format!("the key {key} instead of number")),
            "{}",
            n.message
        );
    }
    // Nothing was created twice, and no placeholder is left.
    assert_eq!(
        double.site().counts().unwrap()[&Kind::Issue],
        issues.len() as u64 + target.touched.len() as u64
    );
}

#[test]
fn a_rate_limited_load_never_sends_before_retry_after() {
    let faults = Faults {
        seed: 11,
        rate_limited: 0.30,
        unavailable: 0.05,
        retry_after_secs: 1,
        max_throttles: Some(10),
        ..Faults::default()
    };
    let double = CloudDouble::start(DoubleConfig {
        faults,
        ..DoubleConfig::default()
    })
    .unwrap();
    let source = Source::new(&small_spec(100));
    let started = Instant::now();
    let mut target = client(&double);
    let (summary, state) = source.load(&mut target).unwrap();
    let took = started.elapsed();
    assert!(
        summary.failed.is_empty(),
        "{:#?}",
        state.failures().unwrap()
    );
    assert_complete(&source, &double, &summary.matched);
    let stats = double.stats();
    eprintln!("rate-limited load: {took:?}, {stats:?}");
    assert_eq!(stats.early_requests, 0, "requests sent before Retry-After");
    // Ten windows opened by the dice (429s, some 503s), plus the 429s answered to
    // requests already in flight when a window opened.
    assert!(stats.rate_limited + stats.unavailable >= 10, "{stats:?}");
    // Each window held every worker back for its whole second.
    assert!(took >= Duration::from_secs(9), "{took:?}");
    let early: Vec<_> = double.requests().into_iter().filter(|r| r.early).collect();
    assert!(early.is_empty(), "{early:?}");
}

#[test]
fn a_503_with_retry_after_pauses_every_worker_too() {
    let faults = Faults {
        unavailable: 1.0,
        max_throttles: Some(1),
        retry_after_secs: 1,
        ..Faults::default()
    };
    let double = CloudDouble::start(DoubleConfig {
        faults,
        ..DoubleConfig::default()
    })
    .unwrap();
    let mut target = client(&double);
    let started = Instant::now();
    let snapshot = target.snapshot().unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(snapshot.priorities.len(), 5);
    let stats = double.stats();
    assert_eq!(
        (stats.unavailable, stats.early_requests),
        (1, 0),
        "{stats:?}"
    );
    let first = &double.requests()[0];
    assert_eq!(first.status, 503);
}

#[test]
fn writes_applied_then_failed_are_not_duplicated() {
    let faults = Faults {
        seed: 5,
        server_errors: 0.04,
        fail_after_apply: 0.08,
        drop_after_apply: 0.04,
        ..Faults::default()
    };
    let double = CloudDouble::start(DoubleConfig {
        faults,
        ..DoubleConfig::default()
    })
    .unwrap();
    let source = Source::new(&small_spec(60));
    let mut target = client(&double);
    let (summary, state) = source.load(&mut target).unwrap();
    assert!(
        summary.failed.is_empty(),
        "{:#?}",
        state.failures().unwrap()
    );
    let stats = double.stats();
    eprintln!("faulty load: {stats:?}");
    assert!(stats.failed_after_apply > 5, "{stats:?}");
    assert!(stats.dropped_after_apply > 2, "{stats:?}");
    assert_complete(&source, &double, &summary.matched);
}

#[test]
fn a_load_cut_short_resumes_without_duplicates() {
    // Some writes applied and then failed, and a client that gives up at once: the engine
    // stops with a record on the site but not mapped, as after a crash; each rerun
    // reconciles its first batch with `find_written` (a fresh client: nothing in memory).
    let faults = Faults {
        seed: 3,
        fail_after_apply: 0.02,
        ..Faults::default()
    };
    let double = CloudDouble::start(DoubleConfig {
        faults,
        ..DoubleConfig::default()
    })
    .unwrap();
    let source = Source::new(&small_spec(40));
    let decisions = source.plan(&mut client(&double)).unwrap();
    let mut runs = 0;
    let mut recovered = 0;
    loop {
        runs += 1;
        assert!(runs < 60, "the load never finished");
        let mut c = config(&double);
        c.retry.max_attempts = 1;
        let mut target = JiraCloud::new(c).unwrap();
        match source.run(&mut target, &decisions) {
            Ok((summary, state)) => {
                assert!(
                    summary.failed.is_empty(),
                    "{:#?}",
                    state.failures().unwrap()
                );
                recovered += summary.recovered.values().sum::<u64>();
                break;
            }
            Err(e) => assert!(e.contains("500"), "{e}"),
        }
    }
    assert!(runs > 2, "no run was cut short");
    let state = source.state();
    for kind in Kind::ALL {
        if let Some(ns) = kind.namespace() {
            let staged = source.staged.get(&kind).copied().unwrap_or(0);
            assert_eq!(
                state.count(ns).unwrap(),
                staged,
                "{kind}: every record mapped"
            );
        }
    }
    let matched: BTreeMap<Kind, u64> = decisions
        .existing
        .iter()
        .map(|(k, m)| (*k, m.len() as u64))
        .collect();
    assert_complete(&source, &double, &matched);
    eprintln!(
        "resumed after {} cut runs ({recovered} recovered in the last), {:?}",
        runs - 1,
        double.stats()
    );
}

#[test]
fn backoff_gives_up_with_a_clear_error_when_the_double_is_down() {
    let double = CloudDouble::start(DoubleConfig::default()).unwrap();
    let c = config(&double);
    drop(double);
    let mut c = c;
    c.retry.max_attempts = 3;
    let mut target = JiraCloud::new(c).unwrap();
    let started = Instant::now();
    match target.snapshot() {
        Err(TargetError::Network { call, message }) => {
            assert_eq!(call, "GET /rest/api/3/project/search");
            assert!(message.contains("3 attempts"), "{message}");
        }
        other => panic!("expected a network error, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(5));

    // A server that answers 500 to everything: an HTTP error naming the call.
    let faults = Faults {
        server_errors: 1.0,
        ..Faults::default()
    };
    let double = CloudDouble::start(DoubleConfig {
        faults,
        ..DoubleConfig::default()
    })
    .unwrap();
    let mut c = config(&double);
    c.retry.max_attempts = 4;
    let mut target = JiraCloud::new(c).unwrap();
    match target.write(
        Kind::Group,
        &[Record::Group(airlock_model::jira::Group {
            name: "team".into(),
            active: true,
        })],
    ) {
        Err(TargetError::Http {
            call,
            status,
            message,
        }) => {
            assert_eq!(status, 500);
            assert!(call.contains(" /rest/"), "{call}");
            assert!(
                message.contains("4 attempts") && !message.contains("team"),
                "{message}"
            );
        }
        other => panic!("expected an HTTP error, got {other:?}"),
    }
    assert_eq!(double.stats().server_errors, 4);
}

#[test]
fn app_outputs_are_stored_with_cloud_limits() {
    let double = CloudDouble::start(DoubleConfig::default()).unwrap();
    let project = double.site().add_project("APP", "Apps").unwrap();
    let mut target = client(&double);
    let issue_id = target
        .write(Kind::Issue, &[Record::Issue(issue(1, &project))])
        .unwrap()[0]
        .clone()
        .unwrap();
    let app = AppKey::new("com.example.timesheets");
    let outputs = vec![
        AppOutput::AppProperty {
            key: "settings".into(),
            value: r#"{"weekStart":"monday"}"#.into(),
        },
        AppOutput::AppDocument {
            collection: "teams".into(),
            id: "7".into(),
            body: r#"{"name":"Blue"}"#.into(),
        },
        AppOutput::EntityProperty {
            entity: EntityKind::Issue,
            entity_id: issue_id.clone(),
            key: "timesheet".into(),
            value: r#"{"hours":3}"#.into(),
        },
    ];
    target.put_app_outputs(&app, &outputs).unwrap();
    target.put_app_outputs(&app, &outputs).unwrap();
    assert_eq!(target.app_output_count(&app).unwrap(), 3);
    assert_eq!(double.site().app_output_count(&app).unwrap(), 3);

    // Too large: refused before anything is sent.
    let before = double.stats().requests;
    let big = AppOutput::AppProperty {
        key: "big".into(),
        value: format!("\"{}\"", "x".repeat(32_767)),
    };
    assert!(matches!(
        target.put_app_outputs(&app, &[big]),
        Err(TargetError::InvalidOutput(InvalidOutput {
            field: OutputField::Value,
            rule: OutputRule::TooLong { max: 32_768 },
            ..
        }))
    ));
    assert_eq!(double.stats().requests, before);

    // The double enforces the limits itself.
    let raw = raw_client(&double);
    let rt = tokio_rt();
    let put = |path: String, body: String| {
        let req = raw
            .put(format!("{}{path}", double.url()))
            .basic_auth("raw@example.com", Some("t"))
            .header("Content-Type", "application/json")
            .body(body)
            .send();
        rt.block_on(req).unwrap().status().as_u16()
    };
    let too_big = format!("\"{}\"", "x".repeat(32_767));
    assert_eq!(
        put(
            format!("/rest/api/3/issue/{issue_id}/properties/k"),
            too_big
        ),
        400
    );
    let long_key = "k".repeat(256);
    assert_eq!(
        put(
            format!("/rest/api/3/issue/{issue_id}/properties/{long_key}"),
            "1".into()
        ),
        400
    );
    assert_eq!(
        put("/rest/api/3/issue/99999/properties/k".into(), "1".into()),
        404
    );
    assert_eq!(
        put(
            format!("/rest/api/3/issue/{issue_id}/properties/k"),
            "1".into()
        ),
        201
    );
    assert_eq!(
        put(
            format!("/rest/api/3/issue/{issue_id}/properties/k"),
            "2".into()
        ),
        200
    );
}

/// A raw PUT of a JSON body to the double: its status.
fn raw_put(double: &CloudDouble, path: &str, body: &Value) -> u16 {
    let raw = raw_client(double);
    let rt = tokio_rt();
    let req = raw
        .put(format!("{}{path}", double.url()))
        .basic_auth("raw@example.com", Some("t"))
        .json(body)
        .send();
    rt.block_on(req).unwrap().status().as_u16()
}

/// A raw GET of the double: status and JSON body.
fn raw_get(double: &CloudDouble, path: &str) -> (u16, serde_json::Value) {
    let raw = raw_client(double);
    let rt = tokio_rt();
    rt.block_on(async {
        let reply = raw
            .get(format!("{}{path}", double.url()))
            .basic_auth("raw@example.com", Some("t"))
            .send()
            .await
            .unwrap();
        let status = reply.status().as_u16();
        (
            status,
            reply.json().await.unwrap_or(serde_json::Value::Null),
        )
    })
}

/// A raw call: its status and JSON answer.
fn raw_call(double: &CloudDouble, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let raw = raw_client(double);
    let rt = tokio_rt();
    rt.block_on(async {
        let reply = raw
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}{path}", double.url()),
            )
            .basic_auth("migration@example.com", Some("t"))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = reply.status().as_u16();
        (status, reply.json().await.unwrap_or(Value::Null))
    })
}

/// Issue 13: an output key of `..` turned `PUT /issue/{id}/properties/..` into
/// `PUT /issue/{id}/` (Edit issue) with the plugin's body. Ids and keys that could change
/// the endpoint are refused before any request, with the output named.
#[test]
fn app_outputs_that_could_change_the_endpoint_are_refused_before_any_request() {
    let double = CloudDouble::start(DoubleConfig::default()).unwrap();
    let project = double.site().add_project("APP", "Apps").unwrap();
    let mut target = client(&double);
    let issue_id = target
        .write(Kind::Issue, &[Record::Issue(issue(1, &project))])
        .unwrap()[0]
        .clone()
        .unwrap();
    let issue_path = format!("/rest/api/3/issue/{issue_id}");
    let (status, before_issue) = raw_get(&double, &issue_path);
    assert_eq!(status, 200);
    let app = AppKey::new("com.example.timesheets");
    let fine = AppOutput::AppProperty {
        key: "settings".into(),
        value: "{}".into(),
    };
    let edit = r#"{"fields":{"summary":"edited by a plugin"},"update":{"labels":[{"add":"x"}]}}"#;
    let on = |entity: EntityKind, entity_id: &str, key: &str| AppOutput::EntityProperty {
        entity,
        entity_id: entity_id.into(),
        key: key.into(),
        value: edit.into(),
    };
    let key_chars = OutputRule::Character {
        allowed: "[A-Za-z0-9._~-]",
    };
    let cases = [
        (
            on(EntityKind::Issue, &issue_id, ".."),
            OutputField::Key,
            OutputRule::DotSegment,
        ),
        (
            on(EntityKind::Issue, &issue_id, "."),
            OutputField::Key,
            OutputRule::DotSegment,
        ),
        (
            on(EntityKind::Issue, &issue_id, "a/b"),
            OutputField::Key,
            key_chars,
        ),
        (
            on(EntityKind::Issue, &issue_id, "%2e%2e"),
            OutputField::Key,
            key_chars,
        ),
        (
            on(EntityKind::Issue, &issue_id, "?x"),
            OutputField::Key,
            key_chars,
        ),
        (
            on(EntityKind::Issue, &issue_id, "#"),
            OutputField::Key,
            key_chars,
        ),
        (
            on(EntityKind::Issue, &issue_id, "a\u{7}"),
            OutputField::Key,
            OutputRule::ControlCharacter,
        ),
        (
            on(EntityKind::Issue, &issue_id, ""),
            OutputField::Key,
            OutputRule::Empty,
        ),
        (
            on(EntityKind::Issue, "1/..", "k"),
            OutputField::EntityId,
            OutputRule::NotNumeric,
        ),
        (
            on(EntityKind::Issue, &format!("{issue_id}?x"), "k"),
            OutputField::EntityId,
            OutputRule::NotNumeric,
        ),
        (
            on(EntityKind::Worklog, "..", "k"),
            OutputField::EntityId,
            OutputRule::NotNumeric,
        ),
        (
            on(EntityKind::User, "x&accountId=y", "k"),
            OutputField::EntityId,
            OutputRule::Character {
                allowed: "[A-Za-z0-9:_-]",
            },
        ),
        (
            on(EntityKind::Project, "..", "k"),
            OutputField::EntityId,
            OutputRule::NotNumeric,
        ),
        (
            AppOutput::AppDocument {
                collection: "teams".into(),
                id: "..".into(),
                body: "{}".into(),
            },
            OutputField::DocumentId,
            OutputRule::DotSegment,
        ),
        (
            AppOutput::AppProperty {
                key: "..".into(),
                value: "{}".into(),
            },
            OutputField::Key,
            OutputRule::DotSegment,
        ),
    ];
    let before = double.stats().requests;
    for (output, field, rule) in cases {
        let kind = output.kind();
        match target.put_app_outputs(&app, &[fine.clone(), output.clone()]) {
            Err(TargetError::InvalidOutput(e)) => {
                assert_eq!(
                    e,
                    InvalidOutput {
                        index: 1,
                        kind,
                        field,
                        rule
                    },
                    "{output:?}"
                );
                // The error names the output, not its content.
                assert!(e.to_string().starts_with("app output 1 ("), "{e}");
                assert!(!e.to_string().contains("edited by a plugin"));
            }
            other => panic!("{output:?}: expected an invalid output, got {other:?}"),
        }
        assert_eq!(
            double.stats().requests,
            before,
            "{output:?} reached the double"
        );
    }
    // A bad app key refuses the call too, before any request.
    for bad in ["..", "a/b", "a:b", ""] {
        assert!(matches!(
            target.put_app_outputs(&AppKey::new(bad), std::slice::from_ref(&fine)),
            Err(TargetError::InvalidAppKey { .. })
        ));
    }
    assert_eq!(double.stats().requests, before);
    // The issue is as it was; the valid output of those calls was not stored either.
    assert_eq!(raw_get(&double, &issue_path), (200, before_issue));
    assert_eq!(double.site().app_output_count(&app).unwrap(), 0);
}

/// Issue 13: property keys were not namespaced per app, so a plugin could overwrite
/// `airlock.source` (issues are found by it) or, keyed like the ledger app, the journal
/// (every other kind is found through it). Its keys now land in its own namespace, and
/// resume still finds what was written.
#[test]
fn an_apps_outputs_cannot_overwrite_what_resume_finds_records_by() {
    let double = CloudDouble::start(DoubleConfig::default()).unwrap();
    let project = double.site().add_project("APP", "Apps").unwrap();
    let mut target = client(&double);
    let record = Record::Issue(issue(1, &project));
    let issue_id = target
        .write(Kind::Issue, std::slice::from_ref(&record))
        .unwrap()[0]
        .clone()
        .unwrap();
    let group = Record::Group(Group {
        name: "timesheet-approvers".into(),
        active: true,
    });
    let group_id = target
        .write(Kind::Group, std::slice::from_ref(&group))
        .unwrap()[0]
        .clone()
        .unwrap();
    let (issue_key, group_key) = (source_key(&record), source_key(&group));

    // A plugin keyed like Airlock's ledger app, writing Airlock's own keys.
    let app = AppKey::new(config(&double).ledger_app);
    let outputs = vec![
        AppOutput::EntityProperty {
            entity: EntityKind::Issue,
            entity_id: issue_id.clone(),
            key: SOURCE_PROPERTY.into(),
            value: r#"{"key":"not-the-source"}"#.into(),
        },
        AppOutput::AppProperty {
            key: "airlock.journal.group.0".into(),
            value: r#"{"entries":[]}"#.into(),
        },
    ];
    target.put_app_outputs(&app, &outputs).unwrap();

    // A fresh client (as after a crash) still finds both records.
    let mut resumed = client(&double);
    assert_eq!(
        resumed
            .find_written(Kind::Issue, std::slice::from_ref(&issue_key))
            .unwrap(),
        [Some(issue_id.clone())]
    );
    assert_eq!(
        resumed
            .find_written(Kind::Group, std::slice::from_ref(&group_key))
            .unwrap(),
        [Some(group_id)]
    );
    assert_eq!(resumed.counts().unwrap()[&Kind::Issue], 1);
    // The plugin's values are stored, under its namespace.
    let (status, own) = raw_get(
        &double,
        &format!("/rest/api/3/issue/{issue_id}/properties/airlock:airlock.source"),
    );
    assert_eq!(
        (status, &own["value"]["key"]),
        (200, &serde_json::json!("not-the-source"))
    );
    assert_eq!(
        stored_key(&app, &outputs[0]),
        format!("{}:{SOURCE_PROPERTY}", app.as_str())
    );
    assert_eq!(resumed.app_output_count(&app).unwrap(), 1);
    let (_, host) = raw_get(
        &double,
        &format!("/rest/api/3/issue/{issue_id}/properties/{SOURCE_PROPERTY}"),
    );
    assert_eq!(host["value"]["key"], serde_json::json!(issue_key));

    // The double is faithful: a raw PUT of `airlock.source` (one key set per entity in
    // Cloud) does move the record out of resume's sight. That is what namespacing prevents.
    let raw = raw_client(&double);
    let rt = tokio_rt();
    let status = rt
        .block_on(
            raw.put(format!(
                "{}/rest/api/3/issue/{issue_id}/properties/{SOURCE_PROPERTY}",
                double.url()
            ))
            .basic_auth("raw@example.com", Some("t"))
            .header("Content-Type", "application/json")
            .body(r#"{"key":"elsewhere"}"#)
            .send(),
        )
        .unwrap()
        .status()
        .as_u16();
    assert_eq!(status, 200);
    assert_eq!(
        client(&double)
            .find_written(Kind::Issue, std::slice::from_ref(&issue_key))
            .unwrap(),
        [None]
    );
}

/// Both targets store the same namespaced key for the same output (documents: the local
/// site keeps collection and id in their columns, Cloud an app property).
#[test]
fn the_local_site_and_jira_cloud_store_the_same_namespaced_keys() {
    let double = CloudDouble::start(DoubleConfig::default()).unwrap();
    let project = double.site().add_project("APP", "Apps").unwrap();
    let mut cloud = client(&double);
    let issue_id = cloud
        .write(Kind::Issue, &[Record::Issue(issue(1, &project))])
        .unwrap()[0]
        .clone()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let local_path = dir.path().join("local.db");
    let mut local = LocalSite::open(&local_path).unwrap();
    let app = AppKey::new("com.example.timesheets");
    let outputs = vec![
        AppOutput::EntityProperty {
            entity: EntityKind::Issue,
            entity_id: issue_id.clone(),
            key: "timesheet".into(),
            value: r#"{"hours":3}"#.into(),
        },
        AppOutput::AppProperty {
            key: "settings".into(),
            value: "{}".into(),
        },
        AppOutput::AppDocument {
            collection: "teams".into(),
            id: "7".into(),
            body: r#"{"name":"Blue"}"#.into(),
        },
    ];
    cloud.put_app_outputs(&app, &outputs).unwrap();
    local.put_app_outputs(&app, &outputs).unwrap();

    let keys = |path: &std::path::Path, sql: &str| -> Vec<String> {
        let conn = rusqlite::Connection::open(path).unwrap();
        let mut stmt = conn.prepare(sql).unwrap();
        stmt.query_map([app.as_str()], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let entity_sql = "SELECT entity_kind || '/' || entity_id || '/' || key
                      FROM app_entity_properties WHERE app_key = ?1 ORDER BY 1";
    let property_sql = "SELECT key FROM app_properties WHERE app_key = ?1 ORDER BY 1";
    let expected_entity = [format!("issue/{issue_id}/com.example.timesheets:timesheet")];
    assert_eq!(keys(&local_path, entity_sql), expected_entity);
    assert_eq!(keys(double.site_path(), entity_sql), expected_entity);
    assert_eq!(
        keys(&local_path, property_sql),
        ["com.example.timesheets:settings"]
    );
    // Cloud keeps the document as an app property under its stored key.
    assert_eq!(
        keys(double.site_path(), property_sql),
        [
            "com.example.timesheets:settings",
            "com.example.timesheets:teams:7"
        ]
    );
    for (output, stored) in outputs.iter().zip([
        "com.example.timesheets:timesheet",
        "com.example.timesheets:settings",
        "com.example.timesheets:teams:7",
    ]) {
        assert_eq!(stored_key(&app, output), stored);
    }
    assert_eq!(cloud.app_output_count(&app).unwrap(), 3);
    assert_eq!(local.app_output_count(&app).unwrap(), 3);
}

#[test]
fn the_double_flags_a_client_that_ignores_retry_after() {
    let faults = Faults {
        rate_limited: 1.0,
        max_throttles: Some(1),
        retry_after_secs: 2,
        ..Faults::default()
    };
    let double = CloudDouble::start(DoubleConfig {
        faults,
        ..DoubleConfig::default()
    })
    .unwrap();
    let raw = raw_client(&double);
    let rt = tokio_rt();
    let get = || {
        let req = raw
            .get(format!("{}/rest/api/3/issuetype", double.url()))
            .basic_auth("raw@example.com", Some("t"))
            .send();
        rt.block_on(req).unwrap()
    };
    let first = get();
    assert_eq!(first.status().as_u16(), 429);
    assert_eq!(first.headers()["Retry-After"], "2");
    assert!(first.headers().contains_key("X-RateLimit-Reset"));
    // Past the in-flight grace: this one was sent knowing the limit.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(get().status().as_u16(), 429);
    let stats = double.stats();
    assert_eq!(stats.early_requests, 1, "{stats:?}");
    std::thread::sleep(Duration::from_millis(1800));
    assert_eq!(get().status().as_u16(), 200);
    assert_eq!(double.stats().early_requests, 1);
    // Unauthenticated calls are refused.
    let anonymous = rt
        .block_on(
            raw.get(format!("{}/rest/api/3/issuetype", double.url()))
                .send(),
        )
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A plain reqwest client trusting the double's CA only.
fn raw_client(double: &CloudDouble) -> reqwest::Client {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(double.ca_pem().as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()
        .unwrap()
}

/// Jira Cloud and the local site refuse a record's own values by the same rules, with the
/// same answer, and Jira Cloud does so before sending anything.
#[test]
fn both_sites_apply_the_shared_rules_and_cloud_sends_nothing_they_refuse() {
    use airlock_model::jira::{Label, Worklog};
    let double = CloudDouble::start(DoubleConfig::default()).unwrap();
    let mut cloud = client(&double);
    let dir = tempfile::tempdir().unwrap();
    let mut local = LocalSite::open(&dir.path().join("site.db")).unwrap();
    let before = double.requests().len();
    let label = Record::Label(Label {
        id: "1".into(),
        issue: "10000".into(),
        label: "needs review".into(),
    });
    let worklog = Record::Worklog(Worklog {
        id: "2".into(),
        issue: "10000".into(),
        author: None,
        body: "entry".into(),
        created: 0,
        started: 0,
        seconds: -600,
    });
    for (kind, record) in [(Kind::Label, label), (Kind::Worklog, worklog)] {
        let rule = airlock_site::rules::check(&record).unwrap_err();
        let answers = cloud.write(kind, std::slice::from_ref(&record)).unwrap();
        assert_eq!(answers, vec![Err(rule.clone().into())]);
        let answers = local.write(kind, std::slice::from_ref(&record)).unwrap();
        assert_eq!(answers, vec![Err(rule.into())]);
    }
    assert_eq!(double.requests().len(), before, "nothing was sent");
}

fn role(id: &str, name: &str) -> Record {
    Record::ProjectRole(ProjectRole {
        id: id.into(),
        name: name.into(),
        description: format!("{name} of a project"),
    })
}

fn issue_user(id: &str, issue: &str, user: &str, created: Option<i64>) -> IssueUser {
    IssueUser {
        id: id.into(),
        issue: issue.into(),
        user: user.into(),
        created,
    }
}

fn filter(id: &str, name: &str, owner: &str, jql: &str) -> Record {
    Record::Filter(Filter {
        id: id.into(),
        name: name.into(),
        description: format!("{id} of the source"),
        owner: owner.into(),
        jql: jql.into(),
        favourites: 2,
    })
}

fn share(id: &str, filter: &str, share: Share, edit: bool) -> Record {
    Record::FilterShare(FilterShare {
        id: id.into(),
        filter: filter.into(),
        share,
        edit,
    })
}

/// The migration's account, as the double knows it.
fn migration_account(double: &CloudDouble) -> String {
    let db = rusqlite::Connection::open(double.site_path()).unwrap();
    db.query_row(
        "SELECT account_id FROM users WHERE email = 'migration@example.com'",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

/// A filter as the double answers it: its owner's account id and its shares' types.
fn filter_on_site(double: &CloudDouble, id: &str) -> (String, Vec<String>, usize) {
    let (status, f) = raw_get(double, &format!("/rest/api/3/filter/{id}"));
    assert_eq!(status, 200, "{f}");
    let types = f["sharePermissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["type"].as_str().unwrap().to_owned())
        .collect();
    let editors = f["editPermissions"].as_array().unwrap().len();
    (
        f["owner"]["accountId"].as_str().unwrap().to_owned(),
        types,
        editors,
    )
}

fn ok(answers: &[Result<String, ItemError>]) -> Vec<String> {
    answers
        .iter()
        .map(|a| a.clone().unwrap_or_else(|e| panic!("refused: {e}")))
        .collect()
}

/// Project roles, watchers, votes, filters and shares as Jira Cloud takes them: watching
/// and voting twice change nothing, votes ride in the issue property up to Cloud's size
/// limit, a new filter is given to its owner (a refusal is the filter's error, never
/// dropped), shares are added while the migration's account holds the filter and it goes
/// back to its owner, and a share with everyone never drops other shares. A fresh client
/// finds every record again, and nothing is on the site twice.
#[test]
fn watchers_votes_roles_filters_and_shares_follow_jira_clouds_rules() {
    let double = CloudDouble::start(DoubleConfig::default()).unwrap();
    let (alice, bob) = {
        let mut site = double.site();
        (
            site.add_user(Some("alice@example.com"), "Alice").unwrap(),
            site.add_user(Some("bob@example.com"), "Bob").unwrap(),
        )
    };
    let project = double.site().add_project("SHR", "Sharing").unwrap();
    let mut target = client(&double);
    let issues = ok(&target
        .write(
            Kind::Issue,
            &[
                Record::Issue(issue(1, &project)),
                Record::Issue(issue(2, &project)),
            ],
        )
        .unwrap());
    let (first, second) = (&issues[0], &issues[1]);

    // A project role: created, in the snapshot, a name in use is Cloud's 409.
    let roles = [role("r-1", "Testers"), role("r-2", "Member")];
    let answers = target.write(Kind::ProjectRole, &roles).unwrap();
    let role_id = answers[0].clone().unwrap();
    assert_eq!(answers[1].as_ref().unwrap_err().code, "duplicate-key");
    let snapshot = target.snapshot().unwrap();
    assert!(
        snapshot
            .roles
            .iter()
            .any(|r| r.id == role_id && r.name == "Testers")
    );
    assert!(snapshot.roles.iter().any(|r| r.name == "Administrators"));

    // Watchers: watching twice is watching; an unknown account is Cloud's 404.
    let watchers = [
        Record::Watcher(issue_user("w-1", first, &alice, Some(1_000))),
        Record::Watcher(issue_user("w-2", first, &bob, None)),
    ];
    for _ in 0..2 {
        let answers = target.write(Kind::Watcher, &watchers).unwrap();
        assert_eq!(ok(&answers), ["", ""]);
    }
    let (_, watching) = raw_get(&double, &format!("/rest/api/3/issue/{first}/watchers"));
    assert_eq!(watching["watchCount"], json!(2), "{watching}");
    let unknown = Record::Watcher(issue_user("w-3", first, "no-such-account", None));
    let answers = target.write(Kind::Watcher, &[unknown]).unwrap();
    assert_eq!(answers[0].as_ref().unwrap_err().code, "invalid-reference");

    // Votes: merged into the issue's property by account, a rerun adds nothing.
    let vote = |id: &str, issue: &str, user: &str, created| {
        Record::Vote(issue_user(id, issue, user, created))
    };
    let votes = [
        vote("v-1", first, &alice, Some(1_000)),
        vote("v-2", first, &bob, None),
    ];
    assert_eq!(ok(&target.write(Kind::Vote, &votes).unwrap()), ["", ""]);
    let more = [
        vote("v-1", first, &alice, Some(1_000)),
        vote("v-3", first, "carol", Some(3_000)),
    ];
    assert_eq!(ok(&target.write(Kind::Vote, &more).unwrap()), ["", ""]);
    let (_, property) = raw_get(
        &double,
        &format!("/rest/api/3/issue/{first}/properties/{VOTES}"),
    );
    assert_eq!(
        property["value"],
        json!({ "voters": [
            { "accountId": alice, "created": 1_000 },
            { "accountId": bob, "created": null },
            { "accountId": "carol", "created": 3_000 },
        ]})
    );
    // Jira's limit of 32,768 characters per property value: what fits is stored, the
    // rest refused as too large.
    let entry = json!({ "accountId": "acc-1", "created": 1 })
        .to_string()
        .len();
    let padding = json!({ "voters": [{ "accountId": "pad", "created": null, "note": "" }] })
        .to_string()
        .len();
    let note = "x".repeat(32_768 - padding - (entry + 1) - 5);
    let full = json!({ "voters": [{ "accountId": "pad", "created": null, "note": note }] });
    let path = format!("/rest/api/3/issue/{second}/properties/{VOTES}");
    assert_eq!(raw_put(&double, &path, &full), 201);
    let answers = target
        .write(
            Kind::Vote,
            &[
                vote("v-4", second, "acc-1", Some(1)),
                vote("v-5", second, "acc-2", Some(2)),
            ],
        )
        .unwrap();
    assert_eq!(answers[0], Ok(String::new()));
    let too_large = answers[1].as_ref().unwrap_err();
    assert_eq!(too_large.code, "too-large");
    assert!(too_large.message.contains("32768"), "{too_large}");
    assert_eq!(voters_on_site(&double)[second], ["pad", "acc-1"]);

    // Filters: one name, two owners (one after the other, each given to its owner), and
    // one without an owner, which stays with the migration's account.
    let jql = format!("project = {project} ORDER BY updated DESC");
    let filters = [
        filter("f-1", "Open work", &alice, &jql),
        filter("f-2", "Open work", &bob, &jql),
        filter("f-3", "Team board", "", &jql),
    ];
    let filter_ids = ok(&target.write(Kind::Filter, &filters).unwrap());
    let me = migration_account(&double);
    for (id, owner) in filter_ids.iter().zip([&alice, &bob, &me]) {
        assert_eq!(&filter_on_site(&double, id).0, owner);
    }
    // A query naming what the site does not have is Cloud's 400.
    let broken = filter("f-4", "Broken", &alice, "project = 999999");
    assert!(target.write(Kind::Filter, &[broken]).unwrap()[0].is_err());

    // Shares, added while the migration's account holds the filter, which then goes back
    // to its owner.
    let (fa, fb, fc) = (&filter_ids[0], &filter_ids[1], &filter_ids[2]);
    let users = "jira-software-users";
    let shares = [
        share("s-1", fa, Share::Group(users.into()), true),
        share(
            "s-2",
            fa,
            Share::Project {
                project: project.clone(),
                role: None,
            },
            false,
        ),
        share(
            "s-3",
            fa,
            Share::Project {
                project: project.clone(),
                role: Some(role_id.clone()),
            },
            false,
        ),
        share("s-4", fa, Share::User(bob.clone()), false),
        // A group before every logged-in user: the global share goes first, and Cloud
        // then refuses the group's.
        share("s-5", fb, Share::Group(users.into()), false),
        share("s-6", fb, Share::LoggedIn, false),
        share("s-7", fc, Share::Group("no-such-group".into()), false),
    ];
    let answers = target.write(Kind::FilterShare, &shares).unwrap();
    for n in [0, 1, 2, 3, 5] {
        assert!(answers[n].is_ok(), "share {n}: {:?}", answers[n]);
    }
    assert!(answers[4].as_ref().unwrap_err().message.contains("global"));
    assert!(answers[6].is_err());
    let share_ids: std::collections::BTreeSet<&String> =
        answers.iter().filter_map(|a| a.as_ref().ok()).collect();
    assert_eq!(share_ids.len(), 5, "one id per share");
    assert_eq!(
        filter_on_site(&double, fa),
        (
            alice.clone(),
            vec![
                "group".into(),
                "project".into(),
                "project".into(),
                "user".into()
            ],
            1
        )
    );
    assert_eq!(
        filter_on_site(&double, fb),
        (bob.clone(), vec!["loggedin".into()], 0)
    );
    assert_eq!(filter_on_site(&double, fc).0, me);
    // Sharing with everyone would drop the filter's four shares: refused, nothing dropped.
    let everyone = share("s-8", fa, Share::Global, false);
    let answers_global = target.write(Kind::FilterShare, &[everyone]).unwrap();
    assert_eq!(answers_global[0].as_ref().unwrap_err().code, "rejected");
    assert_eq!(filter_on_site(&double, fa).1.len(), 4);

    // A fresh client (a new process) finds every record again.
    let mut fresh = client(&double);
    let keys = |records: &[Record]| records.iter().map(source_key).collect::<Vec<_>>();
    assert_eq!(
        fresh
            .find_written(Kind::ProjectRole, &keys(&roles[..1]))
            .unwrap(),
        [Some(role_id.clone())]
    );
    assert_eq!(
        fresh.find_written(Kind::Watcher, &keys(&watchers)).unwrap(),
        [Some(String::new()), Some(String::new())]
    );
    assert_eq!(
        fresh.find_written(Kind::Vote, &keys(&votes)).unwrap(),
        [Some(String::new()), Some(String::new())]
    );
    let found: Vec<String> = fresh
        .find_written(Kind::Filter, &keys(&filters))
        .unwrap()
        .into_iter()
        .map(Option::unwrap)
        .collect();
    assert_eq!(found, filter_ids);
    let found = fresh
        .find_written(Kind::FilterShare, &keys(&shares))
        .unwrap();
    for (n, (found, answer)) in found.iter().zip(&answers).enumerate() {
        assert_eq!(found.as_ref(), answer.as_ref().ok(), "share {n}");
    }
    let mut site = double.site();
    for kind in Kind::ALL {
        assert_eq!(site.duplicate_source_keys(kind).unwrap(), 0, "{kind}");
    }
}

/// A filter whose owner Jira refuses (the owner has a filter of that name, or no such
/// user) is answered as an error saying it exists, owned by the migration's account.
#[test]
fn a_refused_filter_owner_is_reported_not_dropped() {
    let double = CloudDouble::start(DoubleConfig::default()).unwrap();
    let alice = double
        .site()
        .add_user(Some("alice@example.com"), "Alice")
        .unwrap();
    let mut target = client(&double);
    let first = filter("f-1", "Roadmap", &alice, "");
    let id = target.write(Kind::Filter, &[first]).unwrap()[0]
        .clone()
        .unwrap();
    // Jira compares filter names lower-cased.
    let again = filter("f-2", "roadmap", &alice, "");
    let ghost = filter("f-3", "Ghost", "no-such-account", "");
    let answers = target.write(Kind::Filter, &[again, ghost]).unwrap();
    for (answer, code) in answers.iter().zip(["duplicate-key", "invalid-reference"]) {
        let e = answer.as_ref().unwrap_err();
        assert_eq!(e.code, code, "{e}");
        assert!(
            e.message.contains("created")
                && e.message.contains("owned by the migration's account")
                && e.message.contains("set its owner in Jira"),
            "{e}"
        );
        assert!(!e.message.contains("oadmap") && !e.message.contains("Ghost"));
    }
    // Both exist, with the migration's account; alice's own is untouched.
    let me = migration_account(&double);
    let (_, page) = raw_get(
        &double,
        "/rest/api/3/filter/search?filterName=o&expand=owner",
    );
    let mut owners: Vec<(String, String)> = page["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_owned(),
                f["owner"]["accountId"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    owners.sort();
    let mut expected = vec![
        ("Ghost".to_owned(), me.clone()),
        ("Roadmap".to_owned(), alice.clone()),
        ("roadmap".to_owned(), me),
    ];
    expected.sort();
    assert_eq!(owners, expected);
    assert_eq!(filter_on_site(&double, &id).0, alice);

    // The migration's account keeps a filter without an owner, and with it its name: in a
    // batch it comes after those given to their owners; later, Cloud refuses the name.
    let plans = [
        filter("f-4", "Plan", "", ""),
        filter("f-5", "Plan", &alice, ""),
    ];
    let answers = target.write(Kind::Filter, &plans).unwrap();
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    let bob = double
        .site()
        .add_user(Some("bob@example.com"), "Bob")
        .unwrap();
    let later = filter("f-6", "Plan", &bob, "");
    let refused = target.write(Kind::Filter, &[later]).unwrap();
    assert_eq!(refused[0].as_ref().unwrap_err().code, "duplicate-key");
}

/// Writes a batch as the engine does across crashes: each run is a fresh client that
/// gives up at the first failure, reconciles the records not answered yet with
/// `find_written`, and writes the rest. Answers, and how many runs were cut short.
fn write_through_crashes(
    double: &CloudDouble,
    kind: Kind,
    records: &[Record],
) -> (Vec<Result<String, ItemError>>, u32) {
    let mut answers: Vec<Option<Result<String, ItemError>>> = vec![None; records.len()];
    let mut crashes = 0;
    loop {
        assert!(crashes < 200, "{kind}: the writes never finished");
        let pending: Vec<usize> = (0..records.len())
            .filter(|&i| answers[i].is_none())
            .collect();
        if pending.is_empty() {
            break;
        }
        let mut c = config(double);
        c.retry.max_attempts = 1;
        let mut target = JiraCloud::new(c).unwrap();
        let keys: Vec<String> = pending.iter().map(|&i| source_key(&records[i])).collect();
        match target.find_written(kind, &keys) {
            Ok(found) => {
                for (&i, found) in pending.iter().zip(found) {
                    if let Some(id) = found {
                        answers[i] = Some(Ok(id));
                    }
                }
            }
            Err(_) => {
                crashes += 1;
                continue;
            }
        }
        let rest: Vec<usize> = pending
            .into_iter()
            .filter(|&i| answers[i].is_none())
            .collect();
        let batch: Vec<Record> = rest.iter().map(|&i| records[i].clone()).collect();
        match target.write(kind, &batch) {
            Ok(written) => {
                for (&i, a) in rest.iter().zip(written) {
                    answers[i] = Some(a);
                }
            }
            Err(_) => crashes += 1,
        }
    }
    (answers.into_iter().map(Option::unwrap).collect(), crashes)
}

/// Writes applied and then lost (500 or a dropped connection, each ending the run):
/// every record of the five kinds is found again by `find_written` or written again,
/// never twice; votes merge into their property; every filter ends with its owner.
#[test]
fn watchers_votes_roles_filters_and_shares_cut_short_are_found_again_once() {
    let double = CloudDouble::start(DoubleConfig::default()).unwrap();
    let accounts: Vec<String> = ["alice", "bob", "carol"]
        .iter()
        .map(|n| {
            double
                .site()
                .add_user(Some(&format!("{n}@example.com")), n)
                .unwrap()
        })
        .collect();
    let project = double.site().add_project("CUT", "Cut short").unwrap();
    let issues = ok(&client(&double)
        .write(
            Kind::Issue,
            &(0..4)
                .map(|n| Record::Issue(issue(n, &project)))
                .collect::<Vec<_>>(),
        )
        .unwrap());
    double.set_faults(Faults {
        seed: 17,
        fail_after_apply: 0.12,
        drop_after_apply: 0.08,
        ..Faults::default()
    });
    let mut crashes = 0;
    let mut run = |kind: Kind, records: &[Record]| {
        let (answers, cut) = write_through_crashes(&double, kind, records);
        crashes += cut;
        ok(&answers)
    };

    let roles: Vec<Record> = (0..4)
        .map(|n| role(&format!("r-{n}"), &format!("Role {n}")))
        .collect();
    let role_ids = run(Kind::ProjectRole, &roles);
    let mut watchers = Vec::new();
    let mut votes = Vec::new();
    for (i, issue) in issues.iter().enumerate() {
        for (u, account) in accounts.iter().enumerate() {
            let id = format!("{i}:{u}");
            watchers.push(Record::Watcher(issue_user(&id, issue, account, None)));
            if (i + u) % 2 == 0 {
                let created = Some(1_000 * (i + u) as i64);
                votes.push(Record::Vote(issue_user(&id, issue, account, created)));
            }
        }
    }
    run(Kind::Watcher, &watchers);
    run(Kind::Vote, &votes);
    let jql = format!("project = {project}");
    let owners = [&accounts[0], &accounts[1], &accounts[2], &String::new()];
    let filters: Vec<Record> = owners
        .iter()
        .enumerate()
        // Two names held by two owners each (one after the other), one without an owner.
        .map(|(n, owner)| {
            let name = format!("Board {}", if n == 3 { 3 } else { n % 2 });
            filter(&format!("f-{n}"), &name, owner, &jql)
        })
        .collect();
    let filter_ids = run(Kind::Filter, &filters);
    let mut shares = Vec::new();
    for (n, filter) in filter_ids.iter().enumerate() {
        let s =
            |kind: &str, share_of: Share| share(&format!("s-{n}-{kind}"), filter, share_of, n == 0);
        shares.push(s("group", Share::Group("jira-software-users".into())));
        shares.push(s("user", Share::User(accounts[(n + 1) % 3].clone())));
        shares.push(s(
            "role",
            Share::Project {
                project: project.clone(),
                role: Some(role_ids[n].clone()),
            },
        ));
    }
    let share_ids = run(Kind::FilterShare, &shares);
    eprintln!(
        "sharing kinds cut short {crashes} times: {:?}",
        double.stats()
    );
    assert!(crashes > 3, "the faults never cut a run short");
    double.set_faults(Faults::default());

    // Nothing twice: per kind, and per natural key.
    {
        let mut site = double.site();
        for kind in Kind::ALL {
            assert_eq!(site.duplicate_source_keys(kind).unwrap(), 0, "{kind}");
        }
    }
    let (_, all_roles) = raw_get(&double, "/rest/api/3/role");
    assert_eq!(all_roles.as_array().unwrap().len(), 4 + roles.len());
    for issue in &issues {
        let (_, w) = raw_get(&double, &format!("/rest/api/3/issue/{issue}/watchers"));
        assert_eq!(w["watchCount"], json!(accounts.len()), "{w}");
    }
    let voters = voters_on_site(&double);
    for (i, issue) in issues.iter().enumerate() {
        let expected: Vec<&String> = accounts
            .iter()
            .enumerate()
            .filter(|(u, _)| (i + u) % 2 == 0)
            .map(|(_, a)| a)
            .collect();
        let mut on_site: Vec<&String> = voters[issue].iter().collect();
        on_site.sort();
        let mut expected = expected;
        expected.sort();
        assert_eq!(on_site, expected, "voters of {issue}");
    }
    let (_, page) = raw_get(&double, "/rest/api/3/filter/search?filterName=Board");
    assert_eq!(page["total"], json!(filters.len()));
    let me = migration_account(&double);
    for (n, id) in filter_ids.iter().enumerate() {
        let (owner, types, editors) = filter_on_site(&double, id);
        let expected_owner = if owners[n].is_empty() { &me } else { owners[n] };
        assert_eq!(&owner, expected_owner, "filter {n} has its owner");
        assert_eq!(types, ["group", "user", "project"], "filter {n}");
        assert_eq!(editors, if n == 0 { 3 } else { 0 });
    }

    // A fresh client finds every record again, with the ids first answered.
    let mut fresh = client(&double);
    let keys = |records: &[Record]| records.iter().map(source_key).collect::<Vec<_>>();
    for (kind, records, ids) in [
        (Kind::ProjectRole, &roles, &role_ids),
        (Kind::Filter, &filters, &filter_ids),
        (Kind::FilterShare, &shares, &share_ids),
    ] {
        let found: Vec<String> = fresh
            .find_written(kind, &keys(records))
            .unwrap()
            .into_iter()
            .map(Option::unwrap)
            .collect();
        assert_eq!(&found, ids, "{kind}");
    }
    for (kind, records) in [(Kind::Watcher, &watchers), (Kind::Vote, &votes)] {
        let found = fresh.find_written(kind, &keys(records)).unwrap();
        assert!(found.iter().all(|f| f.as_deref() == Some("")), "{kind}");
    }
}

fn change(id: &str, issue: &str, author: Option<&str>, created: i64) -> Record {
    Record::ChangeGroup(ChangeGroup {
        id: id.into(),
        issue: issue.into(),
        author: author.map(str::to_owned),
        created,
    })
}

fn change_item(id: &str, group: &str, field: &str, from: Option<&str>, to: Option<&str>) -> Record {
    Record::ChangeItem(ChangeItem {
        id: id.into(),
        group: group.into(),
        custom: false,
        field: field.into(),
        old_value: from.map(|_| "1".to_owned()),
        old_string: from.map(str::to_owned),
        new_value: to.map(|_| "2".to_owned()),
        new_string: to.map(str::to_owned),
    })
}

/// The value of an issue property, or `None` if the issue has none of that key.
fn issue_property(double: &CloudDouble, issue: &str, key: &str) -> Option<Value> {
    let (status, body) = raw_get(
        double,
        &format!("/rest/api/3/issue/{issue}/properties/{key}"),
    );
    match status {
        200 => Some(body["value"].clone()),
        404 => None,
        other => panic!("{other}: {body}"),
    }
}

/// Issue history rides in the issue's `airlock.history` property in the shape of Jira's
/// changelog: changes by server id, answered with their issue's cloud id, items under
/// them; a rerun adds nothing. A long history goes on in `airlock.history.2` … (each part
/// within Cloud's limit, a change's items continuing in a later part) and merges across
/// parts on rerun; past twenty parts, and for an item too big for any part, records are
/// refused `too-large`. Items of an unknown change are refused. The counts read it back.
#[test]
fn issue_history_rides_in_issue_properties_across_parts() {
    let double = CloudDouble::start(DoubleConfig::default()).unwrap();
    let alice = double
        .site()
        .add_user(Some("alice@example.com"), "Alice")
        .unwrap();
    let project = double.site().add_project("HIS", "History").unwrap();
    let mut target = client(&double);
    let issues = ok(&target
        .write(
            Kind::Issue,
            &(1..=3)
                .map(|n| Record::Issue(issue(n, &project)))
                .collect::<Vec<_>>(),
        )
        .unwrap());
    let (first, second, third) = (&issues[0], &issues[1], &issues[2]);

    // Two changes, three items: the property in the shape of Jira's changelog.
    let changes = [
        change("10100", first, Some(&alice), 1_000),
        change("10101", first, None, 2_000),
    ];
    let change_ids = ok(&target.write(Kind::ChangeGroup, &changes).unwrap());
    assert_eq!(
        change_ids,
        [format!("{first}:10100"), format!("{first}:10101")]
    );
    let mut team = change_item("20002", &change_ids[1], "Team size", None, Some("5"));
    if let Record::ChangeItem(i) = &mut team {
        i.custom = true;
    }
    let items = [
        change_item(
            "20000",
            &change_ids[0],
            "status",
            Some("Open"),
            Some("Done"),
        ),
        change_item("20001", &change_ids[0], "assignee", None, Some("Alice")),
        team,
    ];
    assert_eq!(
        ok(&target.write(Kind::ChangeItem, &items).unwrap()),
        ["", "", ""]
    );
    let expected = json!({ "parts": 1, "changes": [
        { "id": "10100", "author": alice, "created": 1_000, "items": [
            { "id": "20000", "field": "status", "custom": false,
              "from": "1", "fromString": "Open", "to": "2", "toString": "Done" },
            { "id": "20001", "field": "assignee", "custom": false,
              "from": null, "fromString": null, "to": "2", "toString": "Alice" },
        ]},
        { "id": "10101", "author": null, "created": 2_000, "items": [
            { "id": "20002", "field": "Team size", "custom": true,
              "from": null, "fromString": null, "to": "2", "toString": "5" },
        ]},
    ]});
    assert_eq!(
        issue_property(&double, first, HISTORY),
        Some(expected.clone())
    );

    // A rerun (a fresh client) answers the same and sends no write.
    let puts = |double: &CloudDouble| {
        double
            .stats()
            .per_endpoint
            .get("PUT /rest/api/3/issue/{id}/properties/{key}")
            .copied()
            .unwrap_or(0)
    };
    let before = puts(&double);
    let mut again = client(&double);
    assert_eq!(
        ok(&again.write(Kind::ChangeGroup, &changes).unwrap()),
        change_ids
    );
    assert_eq!(
        ok(&again.write(Kind::ChangeItem, &items).unwrap()),
        ["", "", ""]
    );
    assert_eq!(puts(&double), before);
    assert_eq!(issue_property(&double, first, HISTORY), Some(expected));

    // Items of a change the issue does not carry, or not named as Airlock answers changes.
    let strays = [
        change_item("20100", &format!("{first}:99999"), "status", None, None),
        change_item("20101", &format!("{second}:10100"), "status", None, None),
        change_item("20102", "10100", "status", None, None),
    ];
    let answers = target.write(Kind::ChangeItem, &strays).unwrap();
    for (n, answer) in answers.iter().enumerate() {
        let e = answer.as_ref().unwrap_err();
        assert_eq!(e.code, "invalid-reference", "{n}: {e}");
        assert!(e.message.contains("change"), "{e}");
    }
    assert!(
        answers[0]
            .as_ref()
            .unwrap_err()
            .message
            .contains("not written")
    );
    assert_eq!(issue_property(&double, second, HISTORY), None);

    // A long history: twelve changes of three long items each, written in two batches,
    // spill into further parts, each within Cloud's limit.
    let long = |n: usize| format!("{n}:{}", "d".repeat(2_000));
    let changes: Vec<Record> = (0..12)
        .map(|n| change(&format!("{}", 11_000 + n), second, Some(&alice), n as i64))
        .collect();
    let change_ids = ok(&target.write(Kind::ChangeGroup, &changes).unwrap());
    let items: Vec<Record> = (0..36)
        .map(|n| {
            let (from, to) = (long(n), long(n + 100));
            change_item(
                &format!("{}", 21_000 + n),
                &change_ids[n / 3],
                "description",
                Some(&from),
                Some(&to),
            )
        })
        .collect();
    ok(&target.write(Kind::ChangeItem, &items[..20]).unwrap());
    ok(&target.write(Kind::ChangeItem, &items[20..]).unwrap());
    // Three more changes after the items: they go to the last part.
    let later: Vec<Record> = (12..15)
        .map(|n| change(&format!("{}", 11_000 + n), second, None, n as i64))
        .collect();
    ok(&target.write(Kind::ChangeGroup, &later).unwrap());
    let parts = history_parts(&double)[second].clone();
    let count = parts[&1]["parts"].as_u64().unwrap() as usize;
    assert!(count >= 3, "{count} parts");
    assert_eq!(parts.len(), count);
    for (n, part) in &parts {
        assert!(part.to_string().chars().count() <= 32_768, "part {n}");
    }
    let last = parts[&count]["changes"].as_array().unwrap();
    assert_eq!(last.last().unwrap()["id"], json!("11014"));
    let carried = |double: &CloudDouble| {
        let changes = history_on_site(double)[second].clone();
        let ids: Vec<String> = changes
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect();
        let items: Vec<Vec<String>> = changes
            .iter()
            .map(|c| {
                c["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["id"].as_str().unwrap().to_owned())
                    .collect()
            })
            .collect();
        (ids, items)
    };
    let (ids, by_change) = carried(&double);
    let expected_ids: Vec<String> = (0..15).map(|n| format!("{}", 11_000 + n)).collect();
    assert_eq!(ids, expected_ids);
    for (n, items) in by_change.iter().enumerate() {
        let expected: Vec<String> = if n < 12 {
            (0..3).map(|k| format!("{}", 21_000 + 3 * n + k)).collect()
        } else {
            Vec::new()
        };
        assert_eq!(items, &expected, "items of change {n}");
    }
    // A rerun of everything, by a fresh client, changes no part.
    let mut again = client(&double);
    for (kind, records) in [
        (Kind::ChangeGroup, &changes),
        (Kind::ChangeItem, &items),
        (Kind::ChangeGroup, &later),
    ] {
        let answers = ok(&again.write(kind, records).unwrap());
        if kind == Kind::ChangeGroup {
            assert!(answers.iter().all(|a| a.starts_with(&format!("{second}:"))));
        }
    }
    assert_eq!(history_parts(&double)[second], parts);

    // Past twenty parts: what does not fit is refused, naming the limit; so is an item
    // too big for any part.
    let one = ok(&target
        .write(Kind::ChangeGroup, &[change("12000", third, None, 0)])
        .unwrap());
    let big: Vec<Record> = (0..25)
        .map(|n| {
            let text = format!("{n}:{}", "b".repeat(20_000));
            change_item(
                &format!("{}", 22_000 + n),
                &one[0],
                "description",
                None,
                Some(&text),
            )
        })
        .collect();
    let answers = target.write(Kind::ChangeItem, &big).unwrap();
    let stored = answers.iter().filter(|a| a.is_ok()).count();
    assert_eq!(stored, 20, "one item per part");
    for answer in &answers[20..] {
        let e = answer.as_ref().unwrap_err();
        assert_eq!(e.code, "too-large");
        assert!(
            e.message.contains("32768") && e.message.contains("airlock.history.20"),
            "{e}"
        );
    }
    let huge = "h".repeat(40_000);
    let answers = target
        .write(
            Kind::ChangeItem,
            &[change_item(
                "23000",
                &one[0],
                "description",
                None,
                Some(&huge),
            )],
        )
        .unwrap();
    let e = answers[0].as_ref().unwrap_err();
    assert_eq!(e.code, "too-large");
    assert!(e.message.contains("alone"), "{e}");
    assert_eq!(
        issue_property(&double, third, HISTORY).unwrap()["parts"],
        json!(20)
    );

    // The counts read the properties back, and agree with the site's.
    let site = site_counts(&double);
    let counts = client(&double).counts().unwrap();
    assert_eq!(counts[&Kind::ChangeGroup], 2 + 15 + 1);
    assert_eq!(counts[&Kind::ChangeItem], 3 + 36 + 20);
    for kind in [Kind::ChangeGroup, Kind::ChangeItem] {
        assert_eq!(counts.get(&kind), site.get(&kind), "{kind}");
    }

    // A fresh client finds what was written: changes by the id answered, items by "".
    let mut fresh = client(&double);
    let keys = |records: &[Record]| records.iter().map(source_key).collect::<Vec<_>>();
    let found = fresh
        .find_written(Kind::ChangeGroup, &keys(&changes))
        .unwrap();
    assert_eq!(found, change_ids.into_iter().map(Some).collect::<Vec<_>>());
    let found = fresh.find_written(Kind::ChangeItem, &keys(&big)).unwrap();
    assert!(found[..20].iter().all(|f| f.as_deref() == Some("")));
    assert!(
        found[20..].iter().all(Option::is_none),
        "refused: written again"
    );
}

/// Issue security schemes, their levels and their members, and the scheme each project
/// uses, on Jira Cloud.
mod security {
    use super::*;
    use airlock_model::jira::{
        LevelMember, PermissionHolder, ProjectScheme, SchemeType, SecurityLevel, SecurityScheme,
    };

    fn scheme(id: &str, name: &str) -> Record {
        Record::SecurityScheme(SecurityScheme {
            id: id.into(),
            name: name.into(),
            description: format!("{name} of the source"),
        })
    }

    fn level(id: &str, scheme: &str, name: &str) -> Record {
        Record::SecurityLevel(SecurityLevel {
            id: id.into(),
            scheme: scheme.into(),
            name: name.into(),
            description: String::new(),
        })
    }

    fn uses(id: &str, project: &str, scheme: &str) -> Record {
        Record::ProjectScheme(ProjectScheme {
            id: id.into(),
            project: project.into(),
            scheme_type: SchemeType::IssueSecurity,
            scheme: scheme.into(),
        })
    }

    fn secured(n: usize, project: &str, level: Option<&str>) -> Record {
        let mut i = issue(n, project);
        i.security = level.map(str::to_owned);
        Record::Issue(i)
    }

    fn member(id: &str, scheme: &str, level: &str, holder: PermissionHolder) -> Record {
        Record::SecurityLevelMember(LevelMember {
            id: id.into(),
            scheme: scheme.into(),
            level: level.into(),
            holder,
        })
    }

    /// A call under `/rest/api/3/issuesecurityschemes`: its status and JSON answer.
    fn call(double: &CloudDouble, method: &str, path: &str, body: Value) -> (u16, Value) {
        raw_call(
            double,
            method,
            &format!("/rest/api/3/issuesecurityschemes{path}"),
            &body,
        )
    }

    /// A page of `GET …/issuesecurityschemes/level/member?{query}`, which must answer 200.
    fn members_page(double: &CloudDouble, query: &str) -> Value {
        let (status, page) = call(
            double,
            "GET",
            &format!("/level/member?{query}"),
            Value::Null,
        );
        assert_eq!(status, 200, "{query}: {page}");
        page
    }

    fn values(page: &Value) -> &[Value] {
        page["values"].as_array().unwrap()
    }

    fn holders(page: &Value) -> Vec<Value> {
        values(page).iter().map(|m| m["holder"].clone()).collect()
    }

    fn member_ids(page: &Value) -> Vec<String> {
        values(page)
            .iter()
            .map(|m| m["id"].as_str().expect("a string id, as Cloud").to_owned())
            .collect()
    }

    /// The every-kind load: each level lists its source's members (by their Cloud types,
    /// users by their accounts) and the migration's account it was created with.
    pub(super) fn assert_members_round_trip(source: &Source, state: &State, double: &CloudDouble) {
        let mapped = |kind: Kind, id: &str| state.cloud_id(kind.namespace().unwrap(), id).unwrap();
        let me = migration_account(double);
        let mut expected: BTreeMap<String, Vec<(String, Option<String>)>> = BTreeMap::new();
        for record in source.records(Kind::SecurityLevel) {
            let Record::SecurityLevel(l) = record else {
                continue;
            };
            let level = mapped(Kind::SecurityLevel, &l.id).unwrap();
            expected
                .entry(level)
                .or_default()
                .push(("user".into(), Some(me.clone())));
        }
        let members = source.records(Kind::SecurityLevelMember);
        assert!(!members.is_empty(), "the fixture has level members");
        for record in members {
            let Record::SecurityLevelMember(m) = record else {
                continue;
            };
            let level = mapped(Kind::SecurityLevel, &m.level).unwrap();
            let account = match &m.holder {
                PermissionHolder::User(u) => Some(mapped(Kind::User, u).unwrap()),
                _ => None,
            };
            expected
                .get_mut(&level)
                .unwrap_or_else(|| panic!("member {} of a migrated level", m.id))
                .push((m.holder.cloud_type().to_owned(), account));
        }
        for (level, mut want) in expected {
            let page = members_page(double, &format!("levelId={level}"));
            let mut got: Vec<(String, Option<String>)> = holders(&page)
                .iter()
                .map(|h| {
                    let t = h["type"].as_str().unwrap().to_owned();
                    let account =
                        (t == "user").then(|| h["parameter"].as_str().unwrap().to_owned());
                    (t, account)
                })
                .collect();
            want.sort();
            got.sort();
            assert_eq!(got, want, "members of level {level}");
        }
    }

    /// The every-kind load: levels in their schemes, projects' schemes, issues' levels.
    pub(super) fn assert_levels_round_trip(
        source: &Source,
        state: &State,
        db: &rusqlite::Connection,
    ) {
        let mapped = |kind: Kind, id: &str| {
            state
                .cloud_id(kind.namespace().unwrap(), id)
                .unwrap()
                .unwrap_or_else(|| panic!("{kind} {id} mapped"))
        };
        let levels = source.records(Kind::SecurityLevel);
        assert!(!levels.is_empty(), "the fixture has security levels");
        for record in levels {
            let Record::SecurityLevel(l) = record else {
                continue;
            };
            let (scheme, name): (i64, String) = db
                .query_row(
                    "SELECT scheme_id, name FROM security_levels WHERE id = ?1",
                    [mapped(Kind::SecurityLevel, &l.id).parse::<i64>().unwrap()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap();
            assert_eq!(scheme.to_string(), mapped(Kind::SecurityScheme, &l.scheme));
            assert_eq!(name, l.name);
        }
        // Projects' schemes of every type (their categories too).
        for record in source.records(Kind::ProjectScheme) {
            let Record::ProjectScheme(p) = record else {
                continue;
            };
            let scheme_type = match p.scheme_type {
                SchemeType::IssueSecurity => "issue-security",
                SchemeType::Permission => "permission",
                SchemeType::Notification => "notification",
                SchemeType::Category => "category",
                SchemeType::IssueTypeScreen => "issue-type-screen",
                SchemeType::FieldConfiguration => "field-configuration",
                SchemeType::IssueType => "issue-type",
                SchemeType::Workflow => "workflow",
            };
            let scheme: i64 = db
                .query_row(
                    "SELECT scheme_id FROM project_schemes
                     WHERE project_id = ?1 AND scheme_type = ?2",
                    rusqlite::params![
                        mapped(Kind::Project, &p.project).parse::<i64>().unwrap(),
                        scheme_type
                    ],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(
                scheme.to_string(),
                mapped(p.scheme_type.kind(), &p.scheme),
                "{scheme_type} of {}",
                p.project
            );
        }
        let mut secured = 0;
        for record in source.records(Kind::Issue) {
            let Record::Issue(i) = record else { continue };
            let level: Option<i64> = db
                .query_row(
                    "SELECT security_level_id FROM issues WHERE id = ?1",
                    [mapped(Kind::Issue, &i.id).parse::<i64>().unwrap()],
                    |r| r.get(0),
                )
                .unwrap();
            let expected = i.security.as_ref().map(|l| mapped(Kind::SecurityLevel, l));
            assert_eq!(level.map(|l| l.to_string()), expected, "issue {}", i.id);
            secured += usize::from(level.is_some());
        }
        assert!(secured > 0, "the fixture has secured issues");
    }

    /// A scheme with two levels (and another with one), projects given their schemes (again:
    /// a no-op), an issue created at a level and read back with it, an issue at a level of
    /// another scheme refused with Jira's 400, duplicates refused; the counts and a fresh
    /// client find it all.
    #[test]
    fn issue_security_follows_jira_clouds_rules() {
        let double = CloudDouble::start(DoubleConfig::default()).unwrap();
        let (sec, other) = {
            let mut site = double.site();
            (
                site.add_project("SEC", "Secured").unwrap(),
                site.add_project("OTH", "Other").unwrap(),
            )
        };
        let mut target = client(&double);
        let schemes = [scheme("s-1", "Confidential"), scheme("s-2", "Partners")];
        let scheme_ids = ok(&target.write(Kind::SecurityScheme, &schemes).unwrap());
        let levels = [
            level("l-1", &scheme_ids[0], "Internal"),
            level("l-2", &scheme_ids[0], "Restricted"),
            level("l-3", &scheme_ids[1], "Internal"),
        ];
        let level_ids = ok(&target.write(Kind::SecurityLevel, &levels).unwrap());
        let (status, listed) = raw_get(
            &double,
            &format!("/rest/api/3/issuesecurityschemes/{}", scheme_ids[0]),
        );
        assert_eq!(status, 200, "{listed}");
        let mut names: Vec<&str> = listed["levels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["name"].as_str().unwrap())
            .collect();
        // Written in parallel: in any order.
        names.sort_unstable();
        assert_eq!(names, ["Internal", "Restricted"]);

        // A scheme name in use (in any case), a level name twice in its scheme.
        let refused = target
            .write(Kind::SecurityScheme, &[scheme("s-3", "CONFIDENTIAL")])
            .unwrap();
        assert_eq!(refused[0].as_ref().unwrap_err().code, "duplicate-key");
        let refused = target
            .write(
                Kind::SecurityLevel,
                &[level("l-4", &scheme_ids[0], "restricted")],
            )
            .unwrap();
        assert_eq!(refused[0].as_ref().unwrap_err().code, "duplicate-key");

        // Each project's scheme: Cloud answers 303 to a task, which the client follows.
        let associations = [
            uses("p-1", &sec, &scheme_ids[0]),
            uses("p-2", &other, &scheme_ids[1]),
        ];
        let answers = ok(&target.write(Kind::ProjectScheme, &associations).unwrap());
        assert_eq!(answers, ["", ""]);
        let see_other = double
            .requests()
            .iter()
            .filter(|r| {
                r.endpoint == "PUT /rest/api/3/issuesecurityschemes/project" && r.status == 303
            })
            .count();
        assert_eq!(see_other, 2);
        assert_eq!(
            double.stats().per_endpoint["GET /rest/api/3/task/{id}"],
            2,
            "each task followed"
        );
        // Again: the project uses the scheme already, nothing is sent.
        let answers = ok(&target
            .write(Kind::ProjectScheme, &associations[..1])
            .unwrap());
        assert_eq!(answers, [""]);
        assert_eq!(
            double.stats().per_endpoint["PUT /rest/api/3/issuesecurityschemes/project"],
            2
        );

        // Issues at a level of their project's scheme, or at none.
        let issues = [
            secured(0, &sec, Some(&level_ids[1])),
            secured(1, &sec, None),
            secured(2, &sec, Some(&level_ids[2])),
            secured(3, &other, Some(&level_ids[2])),
        ];
        let answers = target.write(Kind::Issue, &issues).unwrap();
        let e = answers[2].as_ref().unwrap_err();
        assert_eq!(e.code, "invalid-value", "{e}");
        assert!(e.message.contains("security"), "{e}");
        let read = |id: &str| raw_get(&double, &format!("/rest/api/3/issue/{id}")).1;
        let at = read(answers[0].as_ref().unwrap());
        assert_eq!(at["fields"]["security"]["id"], json!(level_ids[1]));
        assert_eq!(at["fields"]["security"]["name"], json!("Restricted"));
        assert_eq!(
            read(answers[1].as_ref().unwrap())["fields"]["security"],
            Value::Null
        );
        let at = read(answers[3].as_ref().unwrap());
        assert_eq!(at["fields"]["security"]["id"], json!(level_ids[2]));

        // As Cloud answers it: 400, the element's error on `security`.
        let rt = tokio_rt();
        let resp = rt.block_on(async {
            let resp = raw_client(&double)
                .post(format!("{}/rest/api/3/issue/bulk", double.url()))
                .basic_auth("raw@example.com", Some("t"))
                .json(&json!({ "issueUpdates": [{ "fields": {
                    "project": { "id": sec }, "issuetype": { "id": "10000" },
                    "summary": "elsewhere", "security": { "id": level_ids[2] },
                }}]}))
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
        });
        assert_eq!(resp.0, 400, "{}", resp.1);
        assert!(
            resp.1["errors"][0]["elementErrors"]["errors"]["security"].is_string(),
            "{}",
            resp.1
        );

        // The counts, the client's and the site's.
        let counts = target.counts().unwrap();
        let site = site_counts(&double);
        for (kind, n) in [
            (Kind::SecurityScheme, 2),
            (Kind::SecurityLevel, 3),
            (Kind::ProjectScheme, 2),
        ] {
            assert_eq!(counts.get(&kind), Some(&n), "{kind}");
            assert_eq!(site.get(&kind), Some(&n), "{kind}");
        }

        // A fresh client finds what was written, with the ids answered; not the refused.
        let mut fresh = client(&double);
        let keys = |records: &[Record]| records.iter().map(source_key).collect::<Vec<_>>();
        let some = |ids: &[String]| ids.iter().cloned().map(Some).collect::<Vec<_>>();
        assert_eq!(
            fresh
                .find_written(Kind::SecurityScheme, &keys(&schemes))
                .unwrap(),
            some(&scheme_ids)
        );
        assert_eq!(
            fresh
                .find_written(Kind::SecurityLevel, &keys(&levels))
                .unwrap(),
            some(&level_ids)
        );
        assert_eq!(
            fresh
                .find_written(Kind::ProjectScheme, &keys(&associations))
                .unwrap(),
            [Some(String::new()), Some(String::new())]
        );
        assert_eq!(
            fresh
                .find_written(Kind::SecurityScheme, &["s-3".to_owned()])
                .unwrap(),
            [None]
        );
    }

    /// A level's members as Cloud keeps them: those it is created with (kept, and no
    /// migrated record), those added (204) of every type Cloud takes for a level, listed by
    /// scheme, level or id (inclusive) a page at a time; every refusal answered before
    /// anything is written.
    #[test]
    fn level_members_follow_jira_clouds_rules() {
        let double = CloudDouble::start(DoubleConfig::default()).unwrap();
        let alice = double
            .site()
            .add_user(Some("alice@example.com"), "Alice")
            .unwrap();
        let approver = double
            .site()
            .add_field(
                "Approver",
                "com.atlassian.jira.plugin.system.customfieldtypes:userpicker",
            )
            .unwrap();
        let teams = double
            .site()
            .add_field(
                "Teams",
                "com.atlassian.jira.plugin.system.customfieldtypes:multigrouppicker",
            )
            .unwrap();
        let created = |body: Value| {
            let (status, answer) = call(&double, "POST", "", body);
            assert_eq!(status, 201, "{answer}");
            answer["id"].as_str().unwrap().to_owned()
        };
        let scheme = created(json!({ "name": "Confidential", "levels": [
            { "name": "Internal", "members": [{ "type": "user", "parameter": alice }] },
            { "name": "Restricted" },
        ] }));
        let other = created(json!({ "name": "Partners", "levels": [{ "name": "Outside" }] }));
        let level_id = |scheme: &str, name: &str| {
            let (status, s) = call(&double, "GET", &format!("/{scheme}"), Value::Null);
            assert_eq!(status, 200, "{s}");
            s["levels"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["name"] == name)
                .map(|l| l["id"].as_str().unwrap().to_owned())
        };
        let internal = level_id(&scheme, "Internal").unwrap();
        let restricted = level_id(&scheme, "Restricted").unwrap();
        let outside = level_id(&other, "Outside").unwrap();
        let migrated = || {
            let counts = double.site().counts().unwrap();
            counts.get(&Kind::SecurityLevelMember).copied().unwrap_or(0)
        };

        // The member a level is created with: listed, not a migrated record.
        let page = members_page(&double, &format!("levelId={internal}"));
        assert_eq!(page["total"], 1, "{page}");
        let first = &values(&page)[0];
        let first_id = first["id"]
            .as_str()
            .expect("a string id, as Cloud")
            .to_owned();
        assert_eq!(first["issueSecurityLevelId"], json!(internal));
        assert_eq!(first["issueSecuritySchemeId"], json!(scheme));
        assert_eq!(
            first["holder"],
            json!({ "type": "user", "parameter": alice, "value": alice, "expand": "user" })
        );
        assert_eq!(migrated(), 0);

        // Members of every type Cloud takes, over two calls: 204 without a body.
        let add = |scheme: &str, level: &str, members: &[Value]| {
            call(
                &double,
                "PUT",
                &format!("/{scheme}/level/{level}/member"),
                json!({ "members": members }),
            )
        };
        let every = [
            json!({ "type": "group", "parameter": "JIRA-Software-Users" }),
            json!({ "type": "user", "parameter": alice }),
            json!({ "type": "projectRole", "parameter": "10002" }),
            json!({ "type": "applicationRole" }),
            json!({ "type": "applicationRole", "parameter": "jira-software" }),
            json!({ "type": "reporter" }),
            json!({ "type": "projectLead" }),
            // A parameter the type takes none of is ignored.
            json!({ "type": "assignee", "parameter": "" }),
            json!({ "type": "userCustomField", "parameter": approver }),
            json!({ "type": "groupCustomField", "parameter": teams }),
        ];
        for part in [&every[..6], &every[6..]] {
            assert_eq!(add(&scheme, &restricted, part), (204, Value::Null));
        }
        let page = members_page(&double, &format!("levelId={restricted}"));
        assert_eq!(page["total"], 10, "{page}");
        assert_eq!(
            holders(&page),
            [
                // The group as the site spells it; Cloud's value is a group's id, which
                // the site does not keep.
                json!({ "type": "group", "parameter": "jira-software-users", "expand": "group" }),
                json!({ "type": "user", "parameter": alice, "value": alice, "expand": "user" }),
                json!({
                    "type": "projectRole", "parameter": "10002", "value": "10002",
                    "expand": "projectRole",
                }),
                json!({ "type": "applicationRole" }),
                json!({
                    "type": "applicationRole", "parameter": "jira-software",
                    "value": "jira-software",
                }),
                json!({ "type": "reporter" }),
                json!({ "type": "projectLead" }),
                json!({ "type": "assignee" }),
                json!({
                    "type": "userCustomField", "parameter": approver, "value": approver,
                    "expand": "field",
                }),
                json!({
                    "type": "groupCustomField", "parameter": teams, "value": teams,
                    "expand": "field",
                }),
            ]
        );
        assert!(values(&page).iter().all(|m| {
            m["issueSecurityLevelId"] == json!(restricted)
                && m["issueSecuritySchemeId"] == json!(scheme)
        }));
        let restricted_ids = member_ids(&page);
        assert_eq!(migrated(), 10);

        // Pages.
        let head = members_page(&double, &format!("levelId={restricted}&maxResults=4"));
        assert_eq!(
            (
                &head["startAt"],
                &head["maxResults"],
                &head["total"],
                &head["isLast"]
            ),
            (&json!(0), &json!(4), &json!(10), &json!(false))
        );
        assert_eq!(member_ids(&head), restricted_ids[..4]);
        let tail = members_page(
            &double,
            &format!("levelId={restricted}&startAt=8&maxResults=4"),
        );
        assert_eq!(
            (&tail["total"], &tail["isLast"]),
            (&json!(10), &json!(true))
        );
        assert_eq!(member_ids(&tail), restricted_ids[8..]);

        // Filters, inclusive as Cloud's: a scheme's, a level's, by id, or all of them.
        assert_eq!(
            add(&other, &outside, &[json!({ "type": "reporter" })]).0,
            204
        );
        let total = |query: &str| members_page(&double, query)["total"].clone();
        assert_eq!(total(""), 12);
        assert_eq!(total(&format!("schemeId={scheme}")), 11);
        assert_eq!(total(&format!("schemeId={other}")), 1);
        assert_eq!(total(&format!("schemeId={other}&levelId={internal}")), 2);
        assert_eq!(total(&format!("schemeId={other}&schemeId={scheme}")), 12);
        assert_eq!(total(&format!("levelId={internal}&levelId={outside}")), 2);
        let by_id = members_page(&double, &format!("id={first_id}&id={}", restricted_ids[9]));
        assert_eq!(
            member_ids(&by_id),
            [first_id.clone(), restricted_ids[9].clone()]
        );
        // An id naming nothing adds nothing; one that is not a number is 400.
        assert_eq!(total("schemeId=99999"), 0);
        assert_eq!(total("levelId=99999&id=99999"), 0);
        for query in ["schemeId=abc", "levelId=-1", "id=x"] {
            let (status, answer) = call(
                &double,
                "GET",
                &format!("/level/member?{query}"),
                Value::Null,
            );
            assert_eq!(status, 400, "{query}: {answer}");
        }

        // Refusals, each before anything is written.
        let refuse = |scheme: &str, level: &str, body: Value, status: u16| {
            let path = format!("/{scheme}/level/{level}/member");
            let (got, answer) = call(&double, "PUT", &path, body.clone());
            assert_eq!(got, status, "{path} {body}: {answer}");
            assert_eq!(total(""), 12, "written by {body}");
            answer
        };
        let reporter = json!({ "members": [{ "type": "reporter" }] });
        let answer = refuse("99999", &restricted, reporter.clone(), 404);
        assert_eq!(
            answer["errorMessages"],
            json!(["Issue security scheme with ID 99999 not found."])
        );
        let answer = refuse("abc", &restricted, reporter.clone(), 400);
        assert_eq!(
            answer["errorMessages"],
            json!([
                "abc is not a valid value. The issue security scheme ID must be a positive integer."
            ])
        );
        // A level of another scheme, or none.
        refuse(&scheme, &outside, reporter.clone(), 404);
        refuse(&scheme, "99999", reporter.clone(), 404);
        refuse(&scheme, "abc", reporter.clone(), 400);
        for body in [
            json!({}),
            json!({ "members": [] }),
            json!({ "members": null }),
            json!({ "members": { "type": "assignee" } }),
        ] {
            refuse(&scheme, &restricted, body, 400);
        }
        let too_many: Vec<Value> = (0..101).map(|_| json!({ "type": "assignee" })).collect();
        let answer = refuse(&scheme, &restricted, json!({ "members": too_many }), 400);
        assert_eq!(
            answer["errors"]["members"],
            "You can add up to 100 members per request."
        );
        for members in [
            // Types Cloud does not take for a level (`anyone` neither), or Data Center's
            // spelling of them.
            json!([{ "type": "anyone" }]),
            json!([{ "type": "everyone" }]),
            json!([{ "type": "projectrole", "parameter": "10002" }]),
            json!([{ "type": "lead" }]),
            json!([{ "parameter": "jira-administrators" }]),
            // A parameter the type needs, missing or not text.
            json!([{ "type": "group" }]),
            json!([{ "type": "user", "parameter": "" }]),
            json!([{ "type": "projectRole" }]),
            json!([{ "type": "userCustomField" }]),
            json!([{ "type": "groupCustomField", "parameter": null }]),
            json!([{ "type": "user", "parameter": 5 }]),
            // Naming what the site does not have.
            json!([{ "type": "group", "parameter": "nobody" }]),
            json!([{ "type": "user", "parameter": "no-such-account" }]),
            json!([{ "type": "projectRole", "parameter": "99999" }]),
            json!([{ "type": "userCustomField", "parameter": "customfield_99999" }]),
            json!([{ "type": "groupCustomField", "parameter": "Teams" }]),
            json!([{ "type": "applicationRole", "parameter": "no-such-app" }]),
            // A member the level has (a group's name in any case), or one twice.
            json!([{ "type": "reporter" }]),
            json!([{ "type": "group", "parameter": "Jira-Software-Users" }]),
            json!([{ "type": "applicationRole", "parameter": "" }]),
            json!([
                { "type": "group", "parameter": "jira-administrators" },
                { "type": "group", "parameter": "JIRA-ADMINISTRATORS" },
            ]),
            // All or nothing: the first is not written either.
            json!([
                { "type": "group", "parameter": "jira-administrators" },
                { "type": "anyone" },
            ]),
        ] {
            refuse(&scheme, &restricted, json!({ "members": members }), 400);
        }
        let answer = refuse(&scheme, &restricted, reporter.clone(), 400);
        assert_eq!(
            answer["errors"]["members"],
            "The member reporter already exists on the issue security level."
        );
        // The level has the member: not another scheme's level with the same.
        assert_eq!(
            add(&scheme, &internal, &[json!({ "type": "reporter" })]).0,
            204
        );
        assert_eq!(migrated(), 12);
        assert_eq!(
            double
                .site()
                .duplicate_source_keys(Kind::SecurityLevelMember)
                .unwrap(),
            0
        );

        // Levels added with members: checked the same way, all or nothing.
        for members in [
            json!([{ "type": "reporter" }, { "type": "anyone" }]),
            json!([{ "type": "lead" }]),
            json!([{ "type": "reporter" }, { "type": "reporter" }]),
            json!({ "type": "reporter" }),
        ] {
            let (status, answer) = call(
                &double,
                "PUT",
                &format!("/{scheme}/level"),
                json!({ "levels": [{ "name": "Refused", "members": members }] }),
            );
            assert_eq!(status, 400, "{members}: {answer}");
            assert_eq!(level_id(&scheme, "Refused"), None);
        }
        let (status, answer) = call(
            &double,
            "PUT",
            &format!("/{scheme}/level"),
            json!({ "levels": [{ "name": "Admins", "members": [
                { "type": "group", "parameter": "JIRA-ADMINISTRATORS" },
                { "type": "projectLead" },
            ] }] }),
        );
        assert_eq!(status, 204, "{answer}");
        let admins = level_id(&scheme, "Admins").unwrap();
        assert_eq!(
            holders(&members_page(&double, &format!("levelId={admins}"))),
            [
                json!({ "type": "group", "parameter": "jira-administrators", "expand": "group" }),
                json!({ "type": "projectLead" }),
            ]
        );
        assert_eq!(migrated(), 12, "a level's own members are Cloud's");
        // Unknown schemes, as Cloud answers them.
        let level = json!({ "levels": [{ "name": "Lost" }] });
        assert_eq!(call(&double, "PUT", "/99999/level", level.clone()).0, 404);
        assert_eq!(call(&double, "PUT", "/abc/level", level).0, 400);
    }

    /// The Cloud client writes members of each type to the levels it created (each created
    /// with the migration's account as member), finds one written before instead of adding
    /// it again, is refused what Cloud refuses; the counts agree and a fresh client finds
    /// every member again.
    #[test]
    fn the_cloud_client_writes_level_members_and_finds_them_again() {
        use PermissionHolder as H;
        let double = CloudDouble::start(DoubleConfig::default()).unwrap();
        let alice = double
            .site()
            .add_user(Some("alice@example.com"), "Alice")
            .unwrap();
        let approver = double
            .site()
            .add_field(
                "Approver",
                "com.atlassian.jira.plugin.system.customfieldtypes:userpicker",
            )
            .unwrap();
        let mut target = client(&double);
        let s = ok(&target
            .write(
                Kind::SecurityScheme,
                &[scheme("s-1", "Confidential"), scheme("s-2", "Partners")],
            )
            .unwrap());
        let levels = [
            level("l-1", &s[0], "Internal"),
            level("l-2", &s[0], "Restricted"),
            level("l-3", &s[1], "Outside"),
        ];
        let l = ok(&target.write(Kind::SecurityLevel, &levels).unwrap());
        let me = migration_account(&double);
        let mut created = Vec::new();
        for level in &l {
            let page = members_page(&double, &format!("levelId={level}"));
            assert_eq!(
                holders(&page),
                [json!({ "type": "user", "parameter": me, "value": me, "expand": "user" })],
                "level {level}"
            );
            created.extend(member_ids(&page));
        }

        let members = [
            member("m-1", &s[0], &l[0], H::Group("JIRA-Software-Users".into())),
            member("m-2", &s[0], &l[0], H::User(alice.clone())),
            member("m-3", &s[0], &l[0], H::ProjectRole("10002".into())),
            member("m-4", &s[0], &l[1], H::Reporter),
            member("m-5", &s[0], &l[1], H::ApplicationRole(None)),
            member("m-6", &s[0], &l[1], H::UserCustomField(approver.clone())),
            member("m-7", &s[1], &l[2], H::Reporter),
            member("m-8", &s[1], &l[2], H::Assignee),
        ];
        let ids = ok(&target.write(Kind::SecurityLevelMember, &members).unwrap());
        let distinct: std::collections::BTreeSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), members.len(), "{ids:?}");
        for (record, id) in members.iter().zip(&ids) {
            let Record::SecurityLevelMember(m) = record else {
                unreachable!()
            };
            let page = members_page(&double, &format!("id={id}"));
            assert_eq!(page["total"], 1, "{}: {page}", m.id);
            let listed = &values(&page)[0];
            assert_eq!(listed["issueSecurityLevelId"], json!(m.level), "{}", m.id);
            assert_eq!(listed["issueSecuritySchemeId"], json!(m.scheme), "{}", m.id);
            assert_eq!(listed["holder"]["type"], m.holder.cloud_type(), "{}", m.id);
        }
        // The group as the site spells it (written in parallel: in any order).
        let page = members_page(&double, &format!("levelId={}", l[0]));
        let group = holders(&page).into_iter().find(|h| h["type"] == "group");
        assert_eq!(group.unwrap()["parameter"], "jira-software-users");
        const ADD: &str = "PUT /rest/api/3/issuesecurityschemes/{id}/level/{id}/member";
        let adds = |double: &CloudDouble| double.stats().per_endpoint[ADD];
        assert_eq!(adds(&double), 8);

        // Written again (a rerun): found, not added.
        let again = ok(&target
            .write(Kind::SecurityLevelMember, &members[..3])
            .unwrap());
        assert_eq!(again, ids[..3]);
        assert_eq!(adds(&double), 8);

        // Refused: `anyone` by the client before sending (Cloud takes no such member); as
        // Cloud refuses them, a level of another scheme, a member another record has, a
        // group the site does not have.
        let refused = [
            member("m-9", &s[0], &l[0], H::Anyone),
            member("m-10", &s[0], &l[2], H::ProjectLead),
            member("m-11", &s[0], &l[0], H::Group("jira-software-users".into())),
            member("m-12", &s[0], &l[0], H::Group("nobody".into())),
        ];
        let answers = target.write(Kind::SecurityLevelMember, &refused).unwrap();
        let codes: Vec<&str> = answers
            .iter()
            .map(|a| {
                a.as_ref()
                    .map_or_else(|e| e.code, |id| panic!("written: {id}"))
            })
            .collect();
        assert_eq!(
            codes,
            [
                "invalid-value",
                "invalid-reference",
                "duplicate-key",
                "invalid-reference"
            ]
        );

        // The counts agree: the members written, none of a level's own.
        assert_eq!(
            target.counts().unwrap().get(&Kind::SecurityLevelMember),
            Some(&8)
        );
        assert_eq!(
            site_counts(&double).get(&Kind::SecurityLevelMember),
            Some(&8)
        );
        assert_eq!(members_page(&double, "")["total"], 8 + 3);
        assert_eq!(
            double
                .site()
                .duplicate_source_keys(Kind::SecurityLevelMember)
                .unwrap(),
            0
        );

        // A fresh client finds every member with the id answered; not the refused.
        let mut fresh = client(&double);
        let keys: Vec<String> = members.iter().map(source_key).collect();
        let found = fresh
            .find_written(Kind::SecurityLevelMember, &keys)
            .unwrap();
        assert_eq!(found, ids.iter().cloned().map(Some).collect::<Vec<_>>());
        let keys: Vec<String> = refused.iter().map(source_key).collect();
        let found = fresh
            .find_written(Kind::SecurityLevelMember, &keys)
            .unwrap();
        assert_eq!(found, [None, None, None, None]);

        // The migration's account as a source member: the level's own is found, not added.
        let mine = ok(&fresh
            .write(
                Kind::SecurityLevelMember,
                &[member("m-13", &s[0], &l[0], H::User(me.clone()))],
            )
            .unwrap());
        assert_eq!(mine, [created[0].clone()]);
        assert_eq!(adds(&double), 8 + 3, "only the refused were sent");
        assert_eq!(members_page(&double, "")["total"], 8 + 3);
    }

    /// Writes applied and then lost (500 or a dropped connection, each ending the run):
    /// every scheme, level, level member, association and secured issue is found again by
    /// `find_written` or written again, never twice.
    #[test]
    fn issue_security_cut_short_is_found_again_once() {
        let double = CloudDouble::start(DoubleConfig::default()).unwrap();
        let projects: Vec<String> = (0..3)
            .map(|n| {
                double
                    .site()
                    .add_project(&format!("CS{n}"), &format!("Cut {n}"))
                    .unwrap()
            })
            .collect();
        double.set_faults(Faults {
            seed: 29,
            fail_after_apply: 0.15,
            drop_after_apply: 0.15,
            ..Faults::default()
        });
        let mut crashes = 0;
        let mut run = |kind: Kind, records: &[Record]| {
            let (answers, cut) = write_through_crashes(&double, kind, records);
            crashes += cut;
            ok(&answers)
        };
        let schemes: Vec<Record> = (0..4)
            .map(|n| scheme(&format!("s-{n}"), &format!("Scheme {n}")))
            .collect();
        let scheme_ids = run(Kind::SecurityScheme, &schemes);
        let levels: Vec<Record> = scheme_ids
            .iter()
            .enumerate()
            .flat_map(|(n, s)| {
                (0..3).map(move |l| level(&format!("l-{n}-{l}"), s, &format!("Level {l}")))
            })
            .collect();
        let level_ids = run(Kind::SecurityLevel, &levels);
        // Two members of each level.
        let members: Vec<Record> = level_ids
            .iter()
            .enumerate()
            .flat_map(|(n, l)| {
                let s = &scheme_ids[n / 3];
                [
                    member(&format!("m-{n}-r"), s, l, PermissionHolder::Reporter),
                    member(
                        &format!("m-{n}-g"),
                        s,
                        l,
                        PermissionHolder::Group("jira-administrators".into()),
                    ),
                ]
            })
            .collect();
        let member_ids = run(Kind::SecurityLevelMember, &members);
        let associations: Vec<Record> = projects
            .iter()
            .enumerate()
            .map(|(n, p)| uses(&format!("p-{n}"), p, &scheme_ids[n]))
            .collect();
        assert!(
            run(Kind::ProjectScheme, &associations)
                .iter()
                .all(String::is_empty)
        );
        // Each project's issues at the first level of its scheme.
        let issues: Vec<Record> = (0..6)
            .map(|n| secured(n, &projects[n % 3], Some(&level_ids[3 * (n % 3)])))
            .collect();
        let issue_ids = run(Kind::Issue, &issues);
        eprintln!(
            "issue security cut short {crashes} times: {:?}",
            double.stats()
        );
        assert!(crashes > 3, "the faults never cut a run short");
        let lost = double
            .requests()
            .iter()
            .filter(|r| r.endpoint.contains("/issuesecurityschemes") && matches!(r.status, 0 | 500))
            .count();
        assert!(lost >= 2, "no scheme or level answer was lost");
        double.set_faults(Faults::default());

        {
            let mut site = double.site();
            for kind in Kind::ALL {
                assert_eq!(site.duplicate_source_keys(kind).unwrap(), 0, "{kind}");
            }
        }
        let (_, listed) = raw_get(&double, "/rest/api/3/issuesecurityschemes");
        assert_eq!(listed["issueSecuritySchemes"].as_array().unwrap().len(), 4);
        let (_, page) = raw_get(&double, "/rest/api/3/issuesecurityschemes/level");
        assert_eq!(page["total"], json!(12));
        // Each level's two and the migration's account it was created with.
        let (_, page) = raw_get(&double, "/rest/api/3/issuesecurityschemes/level/member");
        assert_eq!(page["total"], json!(12 * 3));
        let (_, page) = raw_get(&double, "/rest/api/3/issuesecurityschemes/project");
        assert_eq!(page["total"], json!(3));
        for (n, id) in issue_ids.iter().enumerate() {
            let (_, at) = raw_get(&double, &format!("/rest/api/3/issue/{id}"));
            assert_eq!(
                at["fields"]["security"]["id"],
                json!(level_ids[3 * (n % 3)]),
                "issue {n}"
            );
        }

        let mut fresh = client(&double);
        let keys = |records: &[Record]| records.iter().map(source_key).collect::<Vec<_>>();
        for (kind, records, ids) in [
            (Kind::SecurityScheme, &schemes, &scheme_ids),
            (Kind::SecurityLevel, &levels, &level_ids),
            (Kind::SecurityLevelMember, &members, &member_ids),
            (Kind::Issue, &issues, &issue_ids),
        ] {
            let found: Vec<String> = fresh
                .find_written(kind, &keys(records))
                .unwrap()
                .into_iter()
                .map(Option::unwrap)
                .collect();
            assert_eq!(&found, ids, "{kind}");
        }
        let found = fresh
            .find_written(Kind::ProjectScheme, &keys(&associations))
            .unwrap();
        assert!(found.iter().all(|f| f.as_deref() == Some("")), "{found:?}");
        let counts = fresh.counts().unwrap();
        assert_eq!(counts[&Kind::SecurityScheme], 4);
        assert_eq!(counts[&Kind::SecurityLevel], 12);
        assert_eq!(counts[&Kind::SecurityLevelMember], 24);
        assert_eq!(site_counts(&double)[&Kind::SecurityLevelMember], 24);
        assert_eq!(counts[&Kind::ProjectScheme], 3);
    }
}

/// Jira Software: boards and sprints through the agile API, what it cannot write in
/// properties.
mod software {
    use super::*;
    use airlock_model::jira::{
        Board, BoardColumn, BoardQuery, ColumnStatus, IssueRank, IssueSprint, Sprint, SprintState,
    };

    fn mapped(state: &State, kind: Kind, id: &str) -> Option<String> {
        state.cloud_id(kind.namespace().unwrap(), id).unwrap()
    }

    fn board_property(double: &CloudDouble, board: &str, key: &str) -> Option<Value> {
        let (status, body) = raw_get(
            double,
            &format!("/rest/agile/1.0/board/{board}/properties/{key}"),
        );
        match status {
            200 => Some(body["value"].clone()),
            404 => None,
            other => panic!("{other}: {body}"),
        }
    }

    /// A sprint as the site keeps it: state, start, end, completed.
    type SprintRow = (String, Option<i64>, Option<i64>, Option<i64>);

    fn sprint_on_site(db: &rusqlite::Connection, id: &str) -> SprintRow {
        db.query_row(
            "SELECT state, start_date, end_date, complete_date FROM sprints WHERE id = ?1",
            [id.parse::<i64>().unwrap()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap()
    }

    /// Issue id → its rank on the site (the double's rank text).
    fn site_ranks(db: &rusqlite::Connection) -> BTreeMap<String, String> {
        let mut stmt = db
            .prepare("SELECT issue_id, rank FROM issue_ranks")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?.to_string(), r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    /// The issues of `ranked` ((source rank, issue id)) in the site's order.
    fn in_site_order(db: &rusqlite::Connection, ranked: &[(String, String)]) -> Vec<String> {
        let on_site = site_ranks(db);
        let mut issues: Vec<(String, String)> = ranked
            .iter()
            .map(|(_, issue)| (on_site[issue].clone(), issue.clone()))
            .collect();
        issues.sort();
        issues.into_iter().map(|(_, issue)| issue).collect()
    }

    /// The every-kind load: boards with their filters and what Cloud cannot set, sprints in
    /// their states, columns, statuses, swimlanes and quick filters in the boards'
    /// properties, issues in their sprints (closed ones in the property), ranks carried and
    /// the site's order the source's.
    pub(super) fn assert_round_trip(source: &Source, state: &State, double: &CloudDouble) {
        let db = rusqlite::Connection::open(double.site_path()).unwrap();
        let mut board_of: BTreeMap<String, String> = BTreeMap::new();
        for record in source.records(Kind::Board) {
            let Record::Board(b) = record else { continue };
            let id = mapped(state, Kind::Board, &b.id).expect("every board mapped");
            let (status, cloud) = raw_get(double, &format!("/rest/agile/1.0/board/{id}"));
            assert_eq!(status, 200, "{cloud}");
            assert_eq!(cloud["name"], json!(b.name));
            let scrum = if b.sprints_enabled { "scrum" } else { "kanban" };
            assert_eq!(cloud["type"], json!(scrum));
            let filter: i64 = db
                .query_row(
                    "SELECT filter_id FROM boards WHERE id = ?1",
                    [id.parse::<i64>().unwrap()],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(
                Some(filter.to_string()),
                mapped(state, Kind::Filter, &b.filter)
            );
            let owner = b.owner.as_ref().and_then(|o| mapped(state, Kind::User, o));
            assert_eq!(
                board_property(double, &id, "airlock.source"),
                Some(json!({
                    "key": b.id,
                    "owner": owner,
                    "kanbanBacklog": b.kanban_backlog,
                    "swimlaneStrategy": b.swimlane_strategy,
                }))
            );
            board_of.insert(b.id, id);
        }
        assert!(!board_of.is_empty(), "the fixture has boards");

        let mut closed_sprints = std::collections::BTreeSet::new();
        let mut sprints = 0;
        for record in source.records(Kind::Sprint) {
            let Record::Sprint(s) = record else { continue };
            let Some(id) = mapped(state, Kind::Sprint, &s.id) else {
                // A sprint of a board deleted since: never sent.
                assert!(!board_of.contains_key(&s.board), "sprint {}", s.id);
                continue;
            };
            sprints += 1;
            let (status, cloud) = raw_get(double, &format!("/rest/agile/1.0/sprint/{id}"));
            assert_eq!(status, 200, "{cloud}");
            assert_eq!(cloud["name"], json!(s.name));
            assert_eq!(
                Some(cloud["originBoardId"].to_string()),
                board_of.get(&s.board).cloned()
            );
            let (on_site, start, end, completed) = sprint_on_site(&db, &id);
            assert_eq!(on_site, s.state.as_str(), "sprint {}", s.id);
            assert_eq!((start, end), (s.start, s.end), "sprint {}", s.id);
            // Cloud stamps a sprint completed when it is closed: the migration's time.
            assert_eq!(completed.is_some(), s.state == SprintState::Closed);
            if s.state == SprintState::Closed {
                closed_sprints.insert(id);
            }
        }
        assert!(
            sprints > 0 && !closed_sprints.is_empty(),
            "the fixture has sprints"
        );

        let columns = carried_on_site(double, "board", COLUMNS);
        let mut column_board: BTreeMap<String, String> = BTreeMap::new();
        for record in source.records(Kind::BoardColumn) {
            let Record::BoardColumn(c) = record else {
                continue;
            };
            let board = &board_of[&c.board];
            let entry = columns[board]
                .iter()
                .find(|e| e["id"] == json!(c.id))
                .unwrap_or_else(|| panic!("column {} on its board", c.id));
            assert_eq!(
                (
                    &entry["name"],
                    &entry["position"],
                    &entry["min"],
                    &entry["max"]
                ),
                (
                    &json!(c.name),
                    &json!(c.position),
                    &json!(c.min),
                    &json!(c.max)
                )
            );
            column_board.insert(c.id, board.clone());
        }
        let mut statuses = 0;
        for record in source.records(Kind::ColumnStatus) {
            let Record::ColumnStatus(c) = record else {
                continue;
            };
            let (Some(board), Some(status)) = (
                column_board.get(&c.column),
                mapped(state, Kind::Status, &c.status),
            ) else {
                continue;
            };
            statuses += 1;
            let column = columns[board]
                .iter()
                .find(|e| e["id"] == json!(c.column))
                .unwrap();
            let entry = json!({ "id": c.id, "status": status, "position": c.position });
            assert!(
                column["statuses"].as_array().unwrap().contains(&entry),
                "status {} under column {}: {column}",
                c.id,
                c.column
            );
        }
        assert!(statuses > 0, "the fixture has column statuses");
        for (kind, shape) in [
            (Kind::Swimlane, SWIMLANES),
            (Kind::QuickFilter, QUICK_FILTERS),
        ] {
            let lists = carried_on_site(double, "board", shape);
            for record in source.records(kind) {
                let (Record::Swimlane(q) | Record::QuickFilter(q)) = record else {
                    continue;
                };
                let entry = lists[&board_of[&q.board]]
                    .iter()
                    .find(|e| e["id"] == json!(q.id))
                    .unwrap_or_else(|| panic!("{kind} {} on its board", q.id));
                assert_eq!(
                    (&entry["name"], &entry["description"], &entry["position"]),
                    (&json!(q.name), &json!(q.description), &json!(q.position))
                );
                assert_eq!(entry["jql"].as_str().unwrap().is_empty(), q.jql.is_empty());
            }
        }
        // Card settings: each field in its mode and place, each colour by its strategy.
        let fields = carried_on_site(double, "board", CARD_FIELDS);
        let colors = carried_on_site(double, "board", CARD_COLORS);
        for record in source.records(Kind::CardField) {
            let Record::CardField(f) = record else {
                continue;
            };
            let entry = fields[&board_of[&f.board]]
                .iter()
                .find(|e| e["id"] == json!(f.id))
                .unwrap_or_else(|| panic!("card field {} on its board", f.id));
            assert_eq!(
                (&entry["mode"], &entry["position"]),
                (&json!(f.mode.as_str()), &json!(f.position))
            );
            assert_eq!(
                entry["field"].as_str().unwrap().starts_with("customfield_"),
                matches!(f.field, airlock_model::jira::FieldId::Custom(_))
            );
        }
        for record in source.records(Kind::CardColor) {
            let Record::CardColor(c) = record else {
                continue;
            };
            let entry = colors[&board_of[&c.board]]
                .iter()
                .find(|e| e["id"] == json!(c.id))
                .unwrap_or_else(|| panic!("card colour {} on its board", c.id));
            assert_eq!(
                (&entry["strategy"], &entry["color"], &entry["position"]),
                (
                    &json!(c.value.parts().0),
                    &json!(c.color),
                    &json!(c.position)
                )
            );
        }

        let closed_of = issue_properties(double, SPRINTS);
        let (mut open, mut closed) = (0, 0);
        for record in source.records(Kind::IssueSprint) {
            let Record::IssueSprint(x) = record else {
                continue;
            };
            let (Some(issue), Some(sprint)) = (
                mapped(state, Kind::Issue, &x.issue),
                mapped(state, Kind::Sprint, &x.sprint),
            ) else {
                continue;
            };
            if closed_sprints.contains(&sprint) {
                closed += 1;
                let id = json!(sprint.parse::<i64>().unwrap());
                assert!(
                    closed_of[&issue].as_array().unwrap().contains(&id),
                    "issue {} in closed sprint {}",
                    x.issue,
                    x.sprint
                );
            } else {
                open += 1;
                let n: i64 = db
                    .query_row(
                        "SELECT COUNT(*) FROM issue_sprints WHERE issue_id = ?1 AND sprint_id = ?2",
                        [
                            issue.parse::<i64>().unwrap(),
                            sprint.parse::<i64>().unwrap(),
                        ],
                        |r| r.get(0),
                    )
                    .unwrap();
                assert_eq!(n, 1, "issue {} in sprint {}", x.issue, x.sprint);
            }
        }
        assert!(
            open > 0 && closed > 0,
            "the fixture's issues are in sprints"
        );

        let carried = issue_properties(double, RANK);
        let mut ranked: Vec<(String, String)> = Vec::new();
        for record in source.records(Kind::IssueRank) {
            let Record::IssueRank(x) = record else {
                continue;
            };
            let Some(issue) = mapped(state, Kind::Issue, &x.issue) else {
                continue;
            };
            assert_eq!(
                carried[&issue]["rank"],
                json!(x.rank),
                "rank of {}",
                x.issue
            );
            assert!(
                carried[&issue]["field"]
                    .as_str()
                    .unwrap()
                    .starts_with("customfield_")
            );
            ranked.push((x.rank, issue));
        }
        assert!(ranked.len() > 1, "the fixture ranks its issues");
        ranked.sort();
        let expected: Vec<String> = ranked.iter().map(|(_, i)| i.clone()).collect();
        assert_eq!(in_site_order(&db, &ranked), expected, "the source's order");
    }

    fn board(id: &str, name: &str, filter: &str, owner: Option<&str>, scrum: bool) -> Record {
        Record::Board(Board {
            id: id.into(),
            name: name.into(),
            owner: owner.map(str::to_owned),
            filter: filter.into(),
            sprints_enabled: scrum,
            kanban_backlog: !scrum,
            swimlane_strategy: "custom".into(),
        })
    }

    const DAY: i64 = 86_400_000;
    const JAN_2023: i64 = 1_672_531_200_000;

    fn sprint(id: &str, board: &str, name: &str, state: SprintState, dated: bool) -> Record {
        let n: i64 = id
            .trim_start_matches(|c: char| !c.is_ascii_digit())
            .parse()
            .unwrap_or(0);
        let start = JAN_2023 + n * 14 * DAY + 9 * 3_600_000;
        Record::Sprint(Sprint {
            id: id.into(),
            board: board.into(),
            name: name.into(),
            goal: format!("Goal of {name}"),
            state,
            start: dated.then_some(start),
            end: dated.then_some(start + 14 * DAY),
            completed: (state == SprintState::Closed).then_some(start + 14 * DAY + 3_600_000),
            sequence: Some(n),
        })
    }

    fn column(id: &str, board: &str, name: &str, position: i64, max: Option<i64>) -> Record {
        Record::BoardColumn(BoardColumn {
            id: id.into(),
            board: board.into(),
            name: name.into(),
            position,
            min: max.map(|_| 1),
            max,
        })
    }

    fn column_status(id: &str, column: &str, status: &str, position: i64) -> Record {
        Record::ColumnStatus(ColumnStatus {
            id: id.into(),
            column: column.into(),
            status: status.into(),
            position,
        })
    }

    fn query(id: &str, board: &str, name: &str, jql: &str, position: i64) -> BoardQuery {
        BoardQuery {
            id: id.into(),
            board: board.into(),
            name: name.into(),
            description: format!("{name} of the source"),
            jql: jql.into(),
            position,
        }
    }

    fn in_sprint(issue: &str, sprint: &str) -> Record {
        Record::IssueSprint(IssueSprint {
            id: format!("{issue}:{sprint}"),
            issue: issue.into(),
            sprint: sprint.into(),
        })
    }

    fn rank(id: &str, issue: &str, rank: &str) -> Record {
        Record::IssueRank(IssueRank {
            id: id.into(),
            issue: issue.into(),
            field: "customfield_10019".into(),
            rank: rank.into(),
        })
    }

    /// A project, issues in it, and a filter of them owned by the migration's account.
    fn seeded(double: &CloudDouble, issues: usize) -> (String, Vec<String>, String) {
        let project = double.site().add_project("AGL", "Agile").unwrap();
        let mut target = client(double);
        let records: Vec<Record> = (0..issues)
            .map(|n| Record::Issue(issue(n, &project)))
            .collect();
        let ids = records
            .chunks(50)
            .flat_map(|chunk| ok(&target.write(Kind::Issue, chunk).unwrap()))
            .collect();
        // Kept by the migration's account (no owner of its own).
        let filter = ok(&target
            .write(
                Kind::Filter,
                &[super::filter(
                    "f-1",
                    "Agile issues",
                    "",
                    &format!("project = {project}"),
                )],
            )
            .unwrap())
        .remove(0);
        (project, ids, filter)
    }

    /// Boards, sprints, columns, statuses, swimlanes, quick filters, issues' sprints and
    /// ranks as Jira Cloud takes them: a board marked with its source key and what Cloud
    /// cannot set; sprints started and closed as the source's (Cloud's completed dates);
    /// columns with their statuses, swimlanes and quick filters merged into board
    /// properties; issues moved into future and active sprints, closed ones in the issue
    /// property; the source's rank order across batches and clients. What Cloud refuses is
    /// each record's error, with Jira's reason: an unknown filter or board, a board without
    /// sprints, a started sprint without dates, a status of a column never written, an
    /// issue in a sprint the site does not have. A rerun adds nothing, and a fresh client
    /// finds every record again; the counts read it back.
    #[test]
    fn boards_sprints_and_ranks_follow_jira_clouds_rules() {
        let double = CloudDouble::start(DoubleConfig::default()).unwrap();
        let alice = double
            .site()
            .add_user(Some("alice@example.com"), "Alice")
            .unwrap();
        let (_, issues, filter) = seeded(&double, 8);
        let mut target = client(&double);

        let boards = vec![
            board("b-1", "Team board", &filter, Some(&alice), true),
            board("b-2", "Flow", &filter, None, false),
            board("b-3", "Lost", "424242", None, true),
        ];
        let answers = target.write(Kind::Board, &boards).unwrap();
        let e = answers[2].as_ref().unwrap_err();
        assert_eq!(e.code, "invalid-reference", "{e}");
        assert!(e.message.contains("filter"), "{e}");
        let (scrum, kanban) = (answers[0].clone().unwrap(), answers[1].clone().unwrap());
        assert_eq!(
            board_property(&double, &scrum, "airlock.source"),
            Some(json!({
                "key": "b-1",
                "owner": alice,
                "kanbanBacklog": false,
                "swimlaneStrategy": "custom",
            }))
        );
        let (_, list) = raw_get(&double, "/rest/agile/1.0/board?name=team");
        assert_eq!(list["values"][0]["type"], json!("scrum"), "{list}");

        let sprints = vec![
            sprint("s-1", &scrum, "Sprint 1", SprintState::Closed, true),
            sprint("s-2", &scrum, "Sprint 2", SprintState::Active, true),
            sprint("s-3", &scrum, "Sprint 3", SprintState::Future, false),
            sprint("s-4", &scrum, "Sprint 4", SprintState::Active, false),
            sprint("s-5", "999999", "Nowhere", SprintState::Future, false),
            sprint("s-6", &kanban, "Kanban sprint", SprintState::Future, false),
        ];
        let before = double.requests().len();
        let answers = target.write(Kind::Sprint, &sprints).unwrap();
        let sprint_ids: Vec<String> = answers[..3].iter().map(|a| a.clone().unwrap()).collect();
        let e = answers[3].as_ref().unwrap_err();
        assert_eq!(e.code, "invalid-value");
        assert!(e.message.contains("start and an end date"), "{e}");
        let e = answers[4].as_ref().unwrap_err();
        assert!(e.message.contains("Board does not exist"), "{e}");
        let e = answers[5].as_ref().unwrap_err();
        assert!(e.message.contains("does not support sprints"), "{e}");
        // The sprint without dates was refused before anything was sent for it.
        let created = double.requests()[before..]
            .iter()
            .filter(|r| r.endpoint == "POST /rest/agile/1.0/sprint")
            .count();
        assert_eq!(created, 5);
        let db = rusqlite::Connection::open(double.site_path()).unwrap();
        for (id, record) in sprint_ids.iter().zip(&sprints) {
            let Record::Sprint(s) = record else { continue };
            let (state, start, end, completed) = sprint_on_site(&db, id);
            assert_eq!(state, s.state.as_str());
            assert_eq!((start, end), (s.start, s.end));
            assert_eq!(completed.is_some(), s.state == SprintState::Closed);
        }
        let (_, listed) = raw_get(
            &double,
            &format!("/rest/agile/1.0/board/{scrum}/sprint?state=active,closed"),
        );
        assert_eq!(listed["values"].as_array().unwrap().len(), 2, "{listed}");

        // Columns (a status naming its column by server id, another by its answer),
        // swimlanes and quick filters, in the boards' properties.
        let columns = vec![
            column("c-1", &scrum, "To Do", 0, None),
            column("c-2", &scrum, "Doing", 1, Some(4)),
            column("c-3", &kanban, "Everything", 0, None),
        ];
        let column_ids = ok(&target.write(Kind::BoardColumn, &columns).unwrap());
        assert_eq!(column_ids[0], format!("{scrum}:c-1"));
        let statuses = vec![
            column_status("cs-1", "c-1", "10000", 0),
            column_status("cs-2", &column_ids[1], "3", 0),
            column_status("cs-3", "c-3", "10001", 0),
            column_status("cs-4", "c-9", "1", 0),
        ];
        let answers = target.write(Kind::ColumnStatus, &statuses).unwrap();
        assert_eq!(answers[0], Ok(format!("{scrum}:cs-1")));
        assert_eq!(answers[1], Ok(format!("{scrum}:cs-2")));
        assert_eq!(answers[2], Ok(format!("{kanban}:cs-3")));
        let e = answers[3].as_ref().unwrap_err();
        assert_eq!(e.code, "invalid-reference");
        assert!(e.message.contains("column"), "{e}");
        let lanes = vec![
            Record::Swimlane(query("l-1", &scrum, "Expedite", "priority = 1", 0)),
            Record::Swimlane(query("l-2", &scrum, "Everything else", "", 1)),
        ];
        ok(&target.write(Kind::Swimlane, &lanes).unwrap());
        let quick = vec![Record::QuickFilter(query(
            "q-1",
            &kanban,
            "Only my issues",
            "assignee = currentUser()",
            0,
        ))];
        ok(&target.write(Kind::QuickFilter, &quick).unwrap());
        let on_site = carried_on_site(&double, "board", COLUMNS);
        assert_eq!(
            on_site[&scrum],
            vec![
                json!({ "id": "c-1", "name": "To Do", "position": 0, "min": null, "max": null,
                        "statuses": [{ "id": "cs-1", "status": "10000", "position": 0 }] }),
                json!({ "id": "c-2", "name": "Doing", "position": 1, "min": 1, "max": 4,
                        "statuses": [{ "id": "cs-2", "status": "3", "position": 0 }] }),
            ]
        );
        assert_eq!(on_site[&kanban][0]["statuses"][0]["id"], json!("cs-3"));
        let lanes_on_site = carried_on_site(&double, "board", SWIMLANES);
        assert_eq!(lanes_on_site[&scrum].len(), 2);
        assert_eq!(lanes_on_site[&scrum][0]["jql"], json!("priority = 1"));
        let quick_on_site = carried_on_site(&double, "board", QUICK_FILTERS);
        assert_eq!(quick_on_site[&kanban][0]["name"], json!("Only my issues"));

        // Issues into their sprints: the closed one in the property.
        let (closed, active, future) = (&sprint_ids[0], &sprint_ids[1], &sprint_ids[2]);
        let in_sprints = vec![
            in_sprint(&issues[0], closed),
            in_sprint(&issues[0], active),
            in_sprint(&issues[1], active),
            in_sprint(&issues[2], future),
            in_sprint(&issues[3], closed),
            in_sprint(&issues[4], "777777"),
        ];
        let answers = target.write(Kind::IssueSprint, &in_sprints).unwrap();
        assert_eq!(answers[..5], vec![Ok(String::new()); 5]);
        assert_eq!(answers[5].as_ref().unwrap_err().code, "invalid-reference");
        let closed_of = issue_properties(&double, SPRINTS);
        let closed_id = json!(closed.parse::<i64>().unwrap());
        assert_eq!(closed_of[&issues[0]], json!([closed_id]));
        assert_eq!(closed_of[&issues[3]], json!([closed_id]));
        assert_eq!(closed_of.len(), 2);
        let mut site = double.site();
        let sprints_of = |site: &mut LocalSite, issue: &str| {
            let key: String = db
                .query_row(
                    "SELECT key FROM issues WHERE id = ?1",
                    [issue.parse::<i64>().unwrap()],
                    |r| r.get(0),
                )
                .unwrap();
            site.read_issue(&key).unwrap().unwrap().sprints
        };
        assert_eq!(sprints_of(&mut site, &issues[0]), vec![active.clone()]);
        assert_eq!(sprints_of(&mut site, &issues[2]), vec![future.clone()]);
        assert!(sprints_of(&mut site, &issues[3]).is_empty());
        drop(site);
        // Ranks: two batches, then a fresh client, each between the others in the
        // source's order.
        let order = [
            "0|a:", "0|c:", "0|e:", "0|g:", "0|b:", "0|f:", "0|d:", "0|h:",
        ];
        let ranks: Vec<Record> = issues
            .iter()
            .zip(order)
            .enumerate()
            .map(|(n, (issue, r))| rank(&format!("r-{n}"), issue, r))
            .collect();
        assert_eq!(
            target.write(Kind::IssueRank, &ranks[..4]).unwrap(),
            vec![Ok(String::new()); 4]
        );
        assert_eq!(
            target.write(Kind::IssueRank, &ranks[4..6]).unwrap(),
            vec![Ok(String::new()); 2]
        );
        assert_eq!(
            client(&double).write(Kind::IssueRank, &ranks[6..]).unwrap(),
            vec![Ok(String::new()); 2]
        );
        let mut ranked: Vec<(String, String)> = order
            .iter()
            .zip(&issues)
            .map(|(r, i)| (r.to_string(), i.clone()))
            .collect();
        ranked.sort();
        let expected: Vec<String> = ranked.iter().map(|(_, i)| i.clone()).collect();
        assert_eq!(in_site_order(&db, &ranked), expected);
        assert_eq!(
            issue_properties(&double, RANK)[&issues[4]],
            json!({ "rank": "0|b:", "field": "customfield_10019" })
        );
        // A fresh client finds every record again, with the ids first answered; what
        // properties carry, written again, adds nothing; its counts are the site's.
        let mut fresh = client(&double);
        let all: Vec<(Kind, Vec<Record>, Vec<String>)> = vec![
            (
                Kind::Board,
                boards[..2].to_vec(),
                vec![scrum.clone(), kanban.clone()],
            ),
            (Kind::Sprint, sprints[..3].to_vec(), sprint_ids.clone()),
            (Kind::BoardColumn, columns.clone(), column_ids.clone()),
            (
                Kind::ColumnStatus,
                statuses[..3].to_vec(),
                vec![
                    format!("{scrum}:cs-1"),
                    format!("{scrum}:cs-2"),
                    format!("{kanban}:cs-3"),
                ],
            ),
            (
                Kind::Swimlane,
                lanes.clone(),
                vec![format!("{scrum}:l-1"), format!("{scrum}:l-2")],
            ),
            (
                Kind::QuickFilter,
                quick.clone(),
                vec![format!("{kanban}:q-1")],
            ),
            (
                Kind::IssueSprint,
                in_sprints[..5].to_vec(),
                vec![String::new(); 5],
            ),
            (Kind::IssueRank, ranks.clone(), vec![String::new(); 8]),
        ];
        let before = (
            site_counts(&double),
            carried_on_site(&double, "board", COLUMNS),
            issue_properties(&double, SPRINTS),
            issue_properties(&double, RANK),
        );
        for (kind, records, ids) in &all {
            let keys: Vec<String> = records.iter().map(source_key).collect();
            let found: Vec<String> = fresh
                .find_written(*kind, &keys)
                .unwrap()
                .into_iter()
                .map(|f| f.unwrap_or_else(|| panic!("{kind} found")))
                .collect();
            assert_eq!(&found, ids, "{kind}");
            if !matches!(kind, Kind::Board | Kind::Sprint) {
                let again = ok(&fresh.write(*kind, records).unwrap());
                assert_eq!(&again, ids, "{kind}");
            }
        }
        let after = (
            site_counts(&double),
            carried_on_site(&double, "board", COLUMNS),
            issue_properties(&double, SPRINTS),
            issue_properties(&double, RANK),
        );
        assert_eq!(after, before, "a rerun adds nothing");
        assert_eq!(in_site_order(&db, &ranked), expected);
        let counts = fresh.counts().unwrap();
        for (kind, _, ids) in &all {
            assert_eq!(counts.get(kind), Some(&(ids.len() as u64)), "{kind}");
            assert_eq!(after.0.get(kind), Some(&(ids.len() as u64)), "{kind}");
        }

        // Cloud's rules, asked directly: no start without dates, no step back or past.
        let (status, body) = raw_call(
            &double,
            "POST",
            "/rest/agile/1.0/sprint",
            &json!({ "name": "Raw", "originBoardId": scrum.parse::<i64>().unwrap() }),
        );
        assert_eq!(status, 201, "{body}");
        let raw = body["id"].to_string();
        let (status, body) = raw_call(
            &double,
            "POST",
            &format!("/rest/agile/1.0/sprint/{raw}"),
            &json!({ "state": "active" }),
        );
        assert_eq!(status, 400);
        assert!(
            body.to_string().contains("start date and an end date"),
            "{body}"
        );
        let (status, _) = raw_call(
            &double,
            "POST",
            &format!("/rest/agile/1.0/sprint/{raw}"),
            &json!({ "state": "closed" }),
        );
        assert_eq!(status, 400, "future → closed skips a step");
        let (status, _) = raw_call(
            &double,
            "POST",
            &format!("/rest/agile/1.0/sprint/{}", sprint_ids[0]),
            &json!({ "state": "active" }),
        );
        assert_eq!(status, 400, "a closed sprint stays closed");
        let (status, _) = raw_call(
            &double,
            "POST",
            "/rest/agile/1.0/sprint",
            &json!({ "name": "x".repeat(256), "originBoardId": scrum.parse::<i64>().unwrap() }),
        );
        assert_eq!(status, 400, "a name past 255 characters");

        // Cloud refuses closed sprints, as the client expects.
        let (status, body) = raw_call(
            &double,
            "POST",
            &format!("/rest/agile/1.0/sprint/{closed}/issue"),
            &json!({ "issues": [issues[5]] }),
        );
        assert_eq!(status, 400);
        assert!(body.to_string().contains("closed"), "{body}");
        let (status, _) = raw_call(
            &double,
            "POST",
            &format!("/rest/agile/1.0/sprint/{active}/issue"),
            &json!({ "issues": (0..51).map(|n| n.to_string()).collect::<Vec<_>>() }),
        );
        assert_eq!(status, 400, "more than 50 issues");

        // A rank against an issue the site does not have is refused whole; one of an
        // unknown issue alone, in a 207.
        let (status, _) = raw_call(
            &double,
            "PUT",
            "/rest/agile/1.0/issue/rank",
            &json!({ "issues": [issues[0]], "rankAfterIssue": "888888" }),
        );
        assert_eq!(status, 400);
        let (status, body) = raw_call(
            &double,
            "PUT",
            "/rest/agile/1.0/issue/rank",
            &json!({ "issues": [issues[0], "888888"], "rankBeforeIssue": issues[1] }),
        );
        assert_eq!(status, 207, "{body}");
        assert_eq!(body["entries"][1]["status"], json!(404), "{body}");

        // A sprint Jira will not start (it ends before it starts) stays future, and is
        // answered with Jira's reason; written again after a rerun's `find_written`, it is
        // found on its board and answered the same, never created twice.
        let mut backwards = sprint("s-7", &scrum, "Backwards", SprintState::Active, true);
        if let Record::Sprint(s) = &mut backwards {
            s.end = s.start.map(|d| d - DAY);
        }
        let e = target
            .write(Kind::Sprint, std::slice::from_ref(&backwards))
            .unwrap()
            .remove(0)
            .unwrap_err();
        assert!(e.message.contains("end date"), "{e}");
        let creates = || double.stats().per_endpoint["POST /rest/agile/1.0/sprint"];
        let before = creates();
        let mut rerun = client(&double);
        let found = rerun
            .find_written(Kind::Sprint, &[source_key(&backwards)])
            .unwrap();
        assert_eq!(found, vec![None]);
        let again = rerun
            .write(Kind::Sprint, std::slice::from_ref(&backwards))
            .unwrap()
            .remove(0);
        assert_eq!(again, Err(e));
        assert_eq!(creates(), before, "not created again");
        let (_, listed) = raw_get(&double, &format!("/rest/agile/1.0/board/{scrum}/sprint"));
        let named = listed["values"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["name"] == json!("Backwards"))
            .count();
        assert_eq!(named, 1, "{listed}");
    }

    /// Writes applied and then lost (500 or a dropped connection, each ending the run):
    /// every board, sprint, column, status, swimlane, quick filter, issue's sprint and rank
    /// is found again by `find_written` or written again, never twice; a sprint created
    /// but not yet started or closed when the run ended is brought to its state.
    #[test]
    fn boards_sprints_and_ranks_cut_short_are_found_again_once() {
        let double = CloudDouble::start(DoubleConfig::default()).unwrap();
        let (_, issues, filter) = seeded(&double, 30);
        double.set_faults(Faults {
            seed: 23,
            fail_after_apply: 0.12,
            drop_after_apply: 0.08,
            ..Faults::default()
        });
        let mut crashes = 0;
        let mut run = |kind: Kind, records: &[Record]| {
            let (answers, cut) = write_through_crashes(&double, kind, records);
            // Shown when the test fails: how close each batch came to the runs allowed.
            eprintln!("{kind}: {} records, {cut} runs cut short", records.len());
            crashes += cut;
            ok(&answers)
        };
        // Two boards of one name, filter and type: told apart by their airlock.source.
        let boards: Vec<Record> = (0..4)
            .map(|n| {
                let name = if n < 2 {
                    "Twin".into()
                } else {
                    format!("Board {n}")
                };
                board(&format!("b-{n}"), &name, &filter, None, true)
            })
            .collect();
        let board_ids = run(Kind::Board, &boards);
        let states = [
            SprintState::Closed,
            SprintState::Active,
            SprintState::Future,
        ];
        let sprints: Vec<Record> = board_ids
            .iter()
            .enumerate()
            .flat_map(|(b, board)| {
                states.iter().enumerate().map(move |(n, state)| {
                    let id = format!("s-{}", b * 3 + n + 1);
                    sprint(&id, board, &format!("Sprint {n}"), *state, n < 2)
                })
            })
            .collect();
        let sprint_ids = run(Kind::Sprint, &sprints);
        let columns: Vec<Record> = board_ids
            .iter()
            .enumerate()
            .flat_map(|(b, board)| {
                (0..3).map(move |n| {
                    column(
                        &format!("c-{b}-{n}"),
                        board,
                        &format!("Column {n}"),
                        n,
                        None,
                    )
                })
            })
            .collect();
        run(Kind::BoardColumn, &columns);
        let statuses: Vec<Record> = (0..columns.len())
            .flat_map(|c| {
                let column = source_key(&columns[c]);
                ["1", "3"].into_iter().enumerate().map(move |(n, status)| {
                    column_status(&format!("cs-{c}-{n}"), &column, status, n as i64)
                })
            })
            .collect();
        run(Kind::ColumnStatus, &statuses);
        let lanes: Vec<Record> = board_ids
            .iter()
            .enumerate()
            .map(|(b, board)| Record::Swimlane(query(&format!("l-{b}"), board, "Lane", "", 0)))
            .collect();
        run(Kind::Swimlane, &lanes);
        let quick: Vec<Record> = board_ids
            .iter()
            .enumerate()
            .map(|(b, board)| {
                Record::QuickFilter(query(&format!("q-{b}"), board, "Mine", "assignee = x", 0))
            })
            .collect();
        run(Kind::QuickFilter, &quick);
        // Each issue in a closed sprint and the active one of its board.
        let in_sprints: Vec<Record> = issues
            .iter()
            .enumerate()
            .flat_map(|(i, issue)| {
                let b = i % board_ids.len();
                [
                    in_sprint(issue, &sprint_ids[b * 3]),
                    in_sprint(issue, &sprint_ids[b * 3 + 1]),
                ]
            })
            .collect();
        run(Kind::IssueSprint, &in_sprints);
        let order: Vec<String> = (0..issues.len())
            .map(|i| format!("0|{:04}:", (i * 17) % issues.len()))
            .collect();
        let ranks: Vec<Record> = issues
            .iter()
            .zip(&order)
            .enumerate()
            .map(|(n, (issue, r))| rank(&format!("r-{n}"), issue, r))
            .collect();
        // A rank cannot be found again (only written again), so a batch lands only when a
        // run writes all of it: each issue's property and each move. At one write in five
        // cut short, batches of 7 (up to 15 writes) took about 30 runs each (105 at most
        // in 3 tests) and once ran out of the 200 allowed in CI; batches of 3 (up to 7
        // writes) took about 5 (15 at most).
        for batch in ranks.chunks(3) {
            run(Kind::IssueRank, batch);
        }
        eprintln!(
            "Jira Software cut short {crashes} times: {:?}",
            double.stats()
        );
        assert!(crashes > 3, "the faults never cut a run short");
        double.set_faults(Faults::default());

        // Nothing twice: per kind, per board, per issue.
        {
            let mut site = double.site();
            for kind in Kind::ALL {
                assert_eq!(site.duplicate_source_keys(kind).unwrap(), 0, "{kind}");
            }
        }
        let (_, listed) = raw_get(&double, "/rest/agile/1.0/board");
        assert_eq!(listed["total"], json!(boards.len()), "{listed}");
        let db = rusqlite::Connection::open(double.site_path()).unwrap();
        for (b, board) in board_ids.iter().enumerate() {
            assert_eq!(
                board_property(&double, board, "airlock.source").unwrap()["key"],
                json!(format!("b-{b}"))
            );
            let (_, listed) = raw_get(&double, &format!("/rest/agile/1.0/board/{board}/sprint"));
            let names: Vec<&str> = listed["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["name"].as_str().unwrap())
                .collect();
            assert_eq!(names, ["Sprint 0", "Sprint 1", "Sprint 2"], "board {b}");
        }
        for (id, record) in sprint_ids.iter().zip(&sprints) {
            let Record::Sprint(s) = record else { continue };
            let (state, start, end, completed) = sprint_on_site(&db, id);
            assert_eq!(state, s.state.as_str(), "sprint {}", s.id);
            assert_eq!((start, end), (s.start, s.end));
            assert_eq!(completed.is_some(), s.state == SprintState::Closed);
        }
        let counts = site_counts(&double);
        for (kind, n) in [
            (Kind::Board, boards.len()),
            (Kind::Sprint, sprints.len()),
            (Kind::BoardColumn, columns.len()),
            (Kind::ColumnStatus, statuses.len()),
            (Kind::Swimlane, lanes.len()),
            (Kind::QuickFilter, quick.len()),
            (Kind::IssueSprint, in_sprints.len()),
            (Kind::IssueRank, ranks.len()),
        ] {
            assert_eq!(counts.get(&kind), Some(&(n as u64)), "{kind}");
        }
        let closed_of = issue_properties(&double, SPRINTS);
        for (i, issue) in issues.iter().enumerate() {
            let closed = &sprint_ids[(i % board_ids.len()) * 3];
            assert_eq!(
                closed_of[issue],
                json!([closed.parse::<i64>().unwrap()]),
                "issue {i}"
            );
        }
        let mut ranked: Vec<(String, String)> =
            order.iter().cloned().zip(issues.iter().cloned()).collect();
        ranked.sort();
        let expected: Vec<String> = ranked.iter().map(|(_, i)| i.clone()).collect();
        assert_eq!(in_site_order(&db, &ranked), expected, "the source's order");
        assert_eq!(client(&double).counts().unwrap(), counts);
    }
}

/// Project role actors as Jira Cloud takes them: in a project's role
/// (`…/project/{id}/role/{id}`) or by default (`…/role/{id}/actors`), an unknown project or
/// role 404, an unknown user or group 400, and an actor the role has already 400 too (the
/// client asks first, so a rerun writes nothing twice). Cut short by crashes, each actor is
/// found again once and counted once.
mod roles {
    use airlock_model::jira::{ProjectRoleActor, RoleActor};

    use super::*;

    fn actor(id: &str, project: Option<&str>, role: &str, actor: RoleActor) -> Record {
        Record::ProjectRoleActor(ProjectRoleActor {
            id: id.into(),
            project: project.map(Into::into),
            role: role.into(),
            actor,
        })
    }

    /// A role's actors as the double answers them: `user:<account>` or `group:<name>`.
    fn actors_on_site(double: &CloudDouble, path: &str) -> Vec<String> {
        let (status, role) = raw_get(double, path);
        assert_eq!(status, 200, "{role}");
        let mut actors: Vec<String> = role["actors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| match a["type"].as_str().unwrap() {
                "atlassian-user-role-actor" => {
                    format!("user:{}", a["actorUser"]["accountId"].as_str().unwrap())
                }
                "atlassian-group-role-actor" => {
                    format!("group:{}", a["actorGroup"]["name"].as_str().unwrap())
                }
                other => panic!("actor type {other}"),
            })
            .collect();
        actors.sort();
        actors
    }

    /// A raw POST of the double: its status.
    fn raw_post(double: &CloudDouble, path: &str, body: &Value) -> u16 {
        let raw = raw_client(double);
        let rt = tokio_rt();
        let req = raw
            .post(format!("{}{path}", double.url()))
            .basic_auth("raw@example.com", Some("t"))
            .json(body)
            .send();
        rt.block_on(req).unwrap().status().as_u16()
    }

    #[test]
    fn role_actors_follow_jira_clouds_rules_and_are_found_again_once() {
        let double = CloudDouble::start(DoubleConfig::default()).unwrap();
        let (alice, bob) = {
            let mut site = double.site();
            (
                site.add_user(Some("alice@example.com"), "Alice").unwrap(),
                site.add_user(Some("bob@example.com"), "Bob").unwrap(),
            )
        };
        let project = double.site().add_project("ROL", "Roles").unwrap();
        let mut target = client(&double);
        let developers = ok(&target
            .write(Kind::ProjectRole, &[role("r-1", "Developers")])
            .unwrap())
        .remove(0);
        let admins = "10002"; // Cloud's Administrators

        let actors = [
            actor(
                "a-1",
                Some(&project),
                admins,
                RoleActor::User(alice.clone()),
            ),
            actor(
                "a-2",
                Some(&project),
                &developers,
                RoleActor::Group("JIRA-software-users".into()),
            ),
            actor(
                "a-3",
                None,
                admins,
                RoleActor::Group("jira-administrators".into()),
            ),
            actor("a-4", None, &developers, RoleActor::User(bob.clone())),
        ];
        // Twice: the second run finds every actor there and adds none.
        for _ in 0..2 {
            let answers = target.write(Kind::ProjectRoleActor, &actors).unwrap();
            assert_eq!(ok(&answers), ["", "", "", ""]);
        }
        let project_role = |role: &str| format!("/rest/api/3/project/{project}/role/{role}");
        assert_eq!(
            actors_on_site(&double, &project_role(admins)),
            [format!("user:{alice}")]
        );
        assert_eq!(
            actors_on_site(&double, &project_role(&developers)),
            ["group:jira-software-users"],
            "the site's spelling of the group"
        );
        assert_eq!(
            actors_on_site(&double, &format!("/rest/api/3/role/{admins}/actors")),
            ["group:jira-administrators"]
        );
        assert_eq!(
            actors_on_site(&double, &format!("/rest/api/3/role/{developers}/actors")),
            [format!("user:{bob}")]
        );
        // Cloud's own rule: adding an actor the role has is refused.
        assert_eq!(
            raw_post(
                &double,
                &project_role(admins),
                &json!({ "user": [alice.clone()] })
            ),
            400
        );
        let counts = site_counts(&double);
        assert_eq!(counts[&Kind::ProjectRoleActor], 4);
        assert_eq!(target.counts().unwrap()[&Kind::ProjectRoleActor], 4);

        // Unknown project or role: 404; unknown user or group: 400. Each the record's own.
        for (record, code) in [
            (
                actor("x-1", Some("99999"), admins, RoleActor::User(alice.clone())),
                "invalid-reference",
            ),
            (
                actor(
                    "x-2",
                    Some(&project),
                    "99999",
                    RoleActor::User(alice.clone()),
                ),
                "invalid-reference",
            ),
            (
                actor(
                    "x-3",
                    Some(&project),
                    admins,
                    RoleActor::User("no-such-account".into()),
                ),
                "invalid-reference",
            ),
            (
                actor(
                    "x-4",
                    None,
                    admins,
                    RoleActor::Group("no-such-group".into()),
                ),
                "invalid-reference",
            ),
        ] {
            let answers = target
                .write(Kind::ProjectRoleActor, std::slice::from_ref(&record))
                .unwrap();
            let e = answers[0].as_ref().unwrap_err();
            assert_eq!(e.code, code, "{record:?}: {e}");
        }
        assert_eq!(site_counts(&double), counts, "nothing refused was added");

        // Cut short by applied-then-lost writes: found again or written again, never twice.
        let accounts: Vec<String> = (0..6)
            .map(|n| {
                double
                    .site()
                    .add_user(Some(&format!("user{n}@example.com")), &format!("User {n}"))
                    .unwrap()
            })
            .collect();
        let mut many = Vec::new();
        for (n, account) in accounts.iter().enumerate() {
            for (r, role) in [admins, developers.as_str()].into_iter().enumerate() {
                many.push(actor(
                    &format!("c-{n}-{r}-p"),
                    Some(&project),
                    role,
                    RoleActor::User(account.clone()),
                ));
                many.push(actor(
                    &format!("c-{n}-{r}-d"),
                    None,
                    role,
                    RoleActor::User(account.clone()),
                ));
            }
        }
        double.set_faults(Faults {
            seed: 23,
            fail_after_apply: 0.15,
            drop_after_apply: 0.1,
            ..Faults::default()
        });
        let (answers, crashes) = write_through_crashes(&double, Kind::ProjectRoleActor, &many);
        double.set_faults(Faults::default());
        eprintln!("role actors cut short {crashes} times");
        assert!(crashes > 0, "the faults never cut a run short");
        assert!(ok(&answers).iter().all(String::is_empty));
        assert_eq!(
            double
                .site()
                .duplicate_source_keys(Kind::ProjectRoleActor)
                .unwrap(),
            0
        );
        let counts = site_counts(&double);
        assert_eq!(counts[&Kind::ProjectRoleActor], 4 + many.len() as u64);
        for role in [admins, developers.as_str()] {
            let mut expected: Vec<String> = accounts.iter().map(|a| format!("user:{a}")).collect();
            if role == admins {
                expected.push(format!("user:{alice}"));
            } else {
                expected.push("group:jira-software-users".into());
            }
            expected.sort();
            assert_eq!(actors_on_site(&double, &project_role(role)), expected);
        }

        // A fresh client finds every actor again, and counts each once.
        let mut fresh = client(&double);
        let keys: Vec<String> = actors.iter().chain(&many).map(source_key).collect();
        let found = fresh.find_written(Kind::ProjectRoleActor, &keys).unwrap();
        assert!(found.iter().all(|f| f.as_deref() == Some("")), "{found:?}");
        assert_eq!(
            fresh.counts().unwrap()[&Kind::ProjectRoleActor],
            4 + many.len() as u64
        );
        assert_eq!(
            fresh
                .find_written(Kind::ProjectRoleActor, &["never-written".into()])
                .unwrap(),
            [None]
        );
    }
}

/// Project categories, project keys and permission schemes as Jira Cloud keeps them: a
/// category or scheme name another has (in any case) is refused (409 and 400), a renamed
/// project is found by its former keys and may take one of them back but not another
/// project's, grants name Cloud's project permissions and holders the site has, once each,
/// and a project without a permission scheme of its own uses the default one.
mod schemes {
    use super::*;

    fn call(double: &CloudDouble, method: &str, path: &str, body: Value) -> (u16, Value) {
        raw_call(double, method, &format!("/rest/api/3{path}"), &body)
    }

    #[test]
    fn project_categories_and_keys_follow_jira_clouds_rules() {
        let double = CloudDouble::start(DoubleConfig::default()).unwrap();
        let project = double.site().add_project("CAT", "Cats").unwrap();
        double.site().add_project("OTH", "Others").unwrap();

        // Categories: created, listed, found by id; a name taken in any case is 409.
        assert_eq!(
            call(&double, "GET", "/projectCategory", Value::Null),
            (200, json!([]))
        );
        let (status, finance) = call(
            &double,
            "POST",
            "/projectCategory",
            json!({ "name": "Finance", "description": "Money" }),
        );
        assert_eq!(status, 201, "{finance}");
        let id = finance["id"]
            .as_str()
            .expect("a string id, as Cloud")
            .to_owned();
        assert_eq!(finance["name"], "Finance");
        assert_eq!(finance["description"], "Money");
        assert_eq!(
            finance["self"],
            format!("{}/rest/api/3/projectCategory/{id}", double.url())
        );
        let (status, refused) = call(
            &double,
            "POST",
            "/projectCategory",
            json!({ "name": "FINANCE" }),
        );
        assert_eq!(status, 409);
        assert_eq!(
            refused,
            json!({
                "errorMessages": ["A project category with the name 'FINANCE' already exists."],
                "errors": {},
            })
        );
        for blank in [json!({ "name": "  " }), json!({ "description": "x" })] {
            assert_eq!(call(&double, "POST", "/projectCategory", blank).0, 400);
        }
        assert_eq!(
            call(&double, "GET", "/projectCategory", Value::Null),
            (200, json!([finance.clone()]))
        );
        assert_eq!(
            call(
                &double,
                "GET",
                &format!("/projectCategory/{id}"),
                Value::Null
            ),
            (200, finance.clone())
        );
        assert_eq!(
            call(&double, "GET", "/projectCategory/99999", Value::Null).0,
            404
        );

        // A project's category: none, then set (by number or string) and read back.
        let (status, before) = call(&double, "GET", "/project/CAT", Value::Null);
        assert_eq!(status, 200);
        assert!(before.get("projectCategory").is_none(), "{before}");
        let number: i64 = id.parse().unwrap();
        let (status, updated) = call(
            &double,
            "PUT",
            "/project/CAT",
            json!({ "categoryId": number }),
        );
        assert_eq!(status, 200, "{updated}");
        assert_eq!(updated["projectCategory"], finance);
        assert_eq!(updated["key"], "CAT");
        let (_, got) = call(&double, "GET", &format!("/project/{project}"), Value::Null);
        assert_eq!(got["projectCategory"], finance);
        assert_eq!(got["id"], before["id"]);
        assert_eq!(
            call(&double, "PUT", "/project/CAT", json!({ "categoryId": id })).0,
            200
        );
        let (_, searched) = call(&double, "GET", "/project/search", Value::Null);
        assert_eq!(searched["values"][0]["projectCategory"], finance);
        assert_eq!(
            call(
                &double,
                "PUT",
                "/project/CAT",
                json!({ "categoryId": 99999 })
            )
            .0,
            400
        );
        assert_eq!(
            call(&double, "PUT", "/project/NOPE", json!({ "categoryId": id })).0,
            404
        );
        // What the double does not update is refused, not ignored.
        assert_eq!(
            call(&double, "PUT", "/project/CAT", json!({ "avatarId": 1 })).0,
            400
        );

        // A new key: the project is found by its former key too.
        let (status, renamed) = call(&double, "PUT", "/project/CAT", json!({ "key": "NEW" }));
        assert_eq!(status, 200, "{renamed}");
        assert_eq!(renamed["key"], "NEW");
        assert_eq!(renamed["projectCategory"], finance);
        for key in ["NEW", "CAT"] {
            let (status, found) = call(&double, "GET", &format!("/project/{key}"), Value::Null);
            assert_eq!(status, 200, "{key}");
            assert_eq!(
                (found["id"].clone(), found["key"].clone()),
                (before["id"].clone(), json!("NEW"))
            );
        }
        // Another project's key, now or before, is refused; so is a malformed one.
        let (status, refused) = call(&double, "PUT", "/project/NEW", json!({ "key": "OTH" }));
        assert_eq!(status, 400);
        assert_eq!(
            refused["errors"]["projectKey"],
            "Project 'Others' uses this project key."
        );
        assert_eq!(
            call(&double, "PUT", "/project/OTH", json!({ "key": "CAT" })).0,
            400
        );
        assert_eq!(
            call(&double, "PUT", "/project/NEW", json!({ "key": "bad key" })).0,
            400
        );
        // The project may take its own former key back, and is still found by the other.
        let (status, back) = call(&double, "PUT", "/project/NEW", json!({ "key": "CAT" }));
        assert_eq!(status, 200, "{back}");
        assert_eq!(back["key"], "CAT");
        let (status, found) = call(&double, "GET", "/project/NEW", Value::Null);
        assert_eq!((status, found["key"].clone()), (200, json!("CAT")));
        // One former key (NEW), one category, one project in it: each once on the site.
        let counts = double.site().counts().unwrap();
        for kind in [Kind::ProjectKey, Kind::ProjectCategory, Kind::ProjectScheme] {
            assert_eq!(counts.get(&kind), Some(&1), "{kind}: {counts:?}");
            assert_eq!(double.site().duplicate_source_keys(kind).unwrap(), 0);
        }
        assert_eq!(
            call(&double, "PUT", "/project/OTH", json!({ "key": "NEW" })).0,
            400
        );

        // Name, description and lead: changed as asked; a name another project has is 400.
        let (status, named) = call(
            &double,
            "PUT",
            "/project/CAT",
            json!({ "name": "Felines", "description": "Purring" }),
        );
        assert_eq!(status, 200, "{named}");
        assert_eq!(
            (named["name"].clone(), named["description"].clone()),
            (json!("Felines"), json!("Purring"))
        );
        assert_eq!(
            call(&double, "PUT", "/project/OTH", json!({ "name": "FELINES" })).0,
            400
        );
        assert_eq!(
            call(
                &double,
                "PUT",
                "/project/OTH",
                json!({ "leadAccountId": "nobody" })
            )
            .0,
            400
        );
    }

    #[test]
    fn permission_schemes_and_grants_follow_jira_clouds_rules() {
        let double = CloudDouble::start(DoubleConfig::default()).unwrap();
        let alice = double
            .site()
            .add_user(Some("alice@example.com"), "Alice")
            .unwrap();
        let field = double
            .site()
            .add_field(
                "Approver",
                "com.atlassian.jira.plugin.system.customfieldtypes:userpicker",
            )
            .unwrap();
        double.site().add_project("PRM", "Permissions").unwrap();

        // The default scheme is there from the start.
        let (status, list) = call(&double, "GET", "/permissionscheme", Value::Null);
        assert_eq!(status, 200);
        let default = list["permissionSchemes"][0].clone();
        assert_eq!(default["id"], 0);
        assert_eq!(default["name"], "Default Permission Scheme");
        assert_eq!(
            default["self"],
            format!("{}/rest/api/3/permissionscheme/0", double.url())
        );

        // Created; a name taken in any case, or blank, is 400.
        let (status, scheme) = call(
            &double,
            "POST",
            "/permissionscheme",
            json!({ "name": "Developers", "description": "Who builds" }),
        );
        assert_eq!(status, 201, "{scheme}");
        let id = scheme["id"].as_i64().expect("a number id");
        assert_eq!(scheme["name"], "Developers");
        assert_eq!(scheme["description"], "Who builds");
        assert_eq!(scheme["permissions"], json!([]));
        let (status, refused) = call(
            &double,
            "POST",
            "/permissionscheme",
            json!({ "name": "developers" }),
        );
        assert_eq!(status, 400);
        assert_eq!(
            refused["errorMessages"],
            json!(["A permission scheme with the name 'developers' already exists."])
        );
        assert_eq!(
            call(&double, "POST", "/permissionscheme", json!({ "name": "" })).0,
            400
        );
        // With grants: all of them, or (one refused) none and no scheme.
        let (status, granted) = call(
            &double,
            "POST",
            "/permissionscheme",
            json!({ "name": "Open", "permissions": [
                { "holder": { "type": "anyone" }, "permission": "BROWSE_PROJECTS" },
                { "holder": { "type": "group", "parameter": "JIRA-administrators" },
                  "permission": "ADMINISTER_PROJECTS" },
            ] }),
        );
        assert_eq!(status, 201, "{granted}");
        let grants = granted["permissions"].as_array().unwrap();
        assert_eq!(grants.len(), 2);
        assert_eq!(grants[0]["holder"], json!({ "type": "anyone" }));
        assert_eq!(grants[1]["holder"]["parameter"], "jira-administrators");
        let (status, _) = call(
            &double,
            "POST",
            "/permissionscheme",
            json!({ "name": "Refused", "permissions": [
                { "holder": { "type": "anyone" }, "permission": "BROWSE_PROJECTS" },
                { "holder": { "type": "anyone" }, "permission": "FLY" },
            ] }),
        );
        assert_eq!(status, 400);
        let (_, list) = call(&double, "GET", "/permissionscheme", Value::Null);
        let names: Vec<&str> = list["permissionSchemes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Default Permission Scheme", "Developers", "Open"]);

        // Grants, one at a time.
        let grants_path = format!("/permissionscheme/{id}/permission");
        let grant = |holder: Value, permission: &str| {
            call(
                &double,
                "POST",
                &grants_path,
                json!({ "holder": holder, "permission": permission }),
            )
        };
        let (status, by_role) = grant(
            json!({ "type": "projectRole", "parameter": "10002" }),
            "EDIT_ISSUES",
        );
        assert_eq!(status, 201, "{by_role}");
        assert!(by_role["id"].is_i64());
        assert_eq!(by_role["permission"], "EDIT_ISSUES");
        assert_eq!(
            by_role["holder"],
            json!({ "type": "projectRole", "parameter": "10002", "value": "10002" })
        );
        assert_eq!(
            by_role["self"],
            format!(
                "{}/rest/api/3/permissionscheme/{id}/permission/{}",
                double.url(),
                by_role["id"]
            )
        );
        for (holder, permission) in [
            (
                json!({ "type": "user", "parameter": alice }),
                "ASSIGNABLE_USER",
            ),
            (
                json!({ "type": "userCustomField", "parameter": field }),
                "EDIT_ISSUES",
            ),
            (json!({ "type": "applicationRole" }), "BROWSE_PROJECTS"),
            (
                json!({ "type": "applicationRole", "parameter": "jira-software" }),
                "BROWSE_PROJECTS",
            ),
            (json!({ "type": "reporter" }), "CLOSE_ISSUES"),
            (
                json!({ "type": "group", "parameter": "jira-software-users" }),
                "MANAGE_SPRINTS_PERMISSION",
            ),
        ] {
            let (status, answer) = grant(holder.clone(), permission);
            assert_eq!(status, 201, "{holder}: {answer}");
        }
        // Refused: the same grant again, and what Cloud does not know or the site has not.
        for (holder, permission) in [
            (
                json!({ "type": "projectRole", "parameter": "10002" }),
                "EDIT_ISSUES",
            ),
            (
                json!({ "type": "group", "parameter": "JIRA-SOFTWARE-USERS" }),
                "MANAGE_SPRINTS_PERMISSION",
            ),
            (json!({ "type": "anyone" }), "FLY"),
            (json!({ "type": "anyone" }), "ADMINISTER"),
            (
                json!({ "type": "group", "parameter": "nobody" }),
                "BROWSE_PROJECTS",
            ),
            (json!({ "type": "group" }), "BROWSE_PROJECTS"),
            (json!({ "type": "everyone" }), "BROWSE_PROJECTS"),
            (
                json!({ "type": "user", "parameter": "no-such-account" }),
                "BROWSE_PROJECTS",
            ),
            (
                json!({ "type": "projectRole", "parameter": "99999" }),
                "BROWSE_PROJECTS",
            ),
            (
                json!({ "type": "groupCustomField", "parameter": "customfield_99999" }),
                "BROWSE_PROJECTS",
            ),
            (
                json!({ "type": "applicationRole", "parameter": "no-such-app" }),
                "BROWSE_PROJECTS",
            ),
        ] {
            let (status, answer) = grant(holder.clone(), permission);
            assert_eq!(status, 400, "{holder} {permission}: {answer}");
        }
        let (status, listed) = call(&double, "GET", &grants_path, Value::Null);
        assert_eq!(status, 200);
        let listed = listed["permissions"].as_array().unwrap();
        assert_eq!(listed.len(), 7);
        assert_eq!(listed[0], by_role);
        assert!(
            listed
                .iter()
                .any(|g| g["holder"]
                    == json!({ "type": "user", "parameter": alice, "value": alice }))
        );
        let (status, expanded) = call(
            &double,
            "GET",
            &format!("/permissionscheme/{id}?expand=permissions"),
            Value::Null,
        );
        assert_eq!(status, 200);
        assert_eq!(expanded["permissions"].as_array().unwrap().len(), 7);
        // An unknown scheme is 404.
        for method in ["GET", "POST"] {
            let body = json!({ "holder": { "type": "anyone" }, "permission": "BROWSE_PROJECTS" });
            assert_eq!(
                call(&double, method, "/permissionscheme/99999/permission", body).0,
                404
            );
        }
        assert_eq!(
            call(&double, "GET", "/permissionscheme/99999", Value::Null).0,
            404
        );

        // A project's scheme: the default, then its own, then the default again.
        let (status, used) = call(&double, "GET", "/project/PRM/permissionscheme", Value::Null);
        assert_eq!((status, used["id"].clone()), (200, json!(0)));
        let (status, set) = call(
            &double,
            "PUT",
            "/project/PRM/permissionscheme",
            json!({ "id": id }),
        );
        assert_eq!(status, 200, "{set}");
        assert_eq!(
            (set["id"].clone(), set["name"].clone()),
            (json!(id), json!("Developers"))
        );
        let (_, used) = call(&double, "GET", "/project/PRM/permissionscheme", Value::Null);
        assert_eq!(used["id"], id);
        assert_eq!(
            call(
                &double,
                "PUT",
                "/project/PRM/permissionscheme",
                json!({ "id": 99999 })
            )
            .0,
            404
        );
        assert_eq!(
            call(
                &double,
                "PUT",
                "/project/NOPE/permissionscheme",
                json!({ "id": id })
            )
            .0,
            404
        );
        assert_eq!(
            call(
                &double,
                "GET",
                "/project/NOPE/permissionscheme",
                Value::Null
            )
            .0,
            404
        );
        assert_eq!(
            call(
                &double,
                "PUT",
                "/project/PRM/permissionscheme",
                json!({ "id": "0" })
            )
            .0,
            200
        );
        let (_, used) = call(&double, "GET", "/project/PRM/permissionscheme", Value::Null);
        assert_eq!(used["id"], 0);
    }

    #[test]
    fn notification_schemes_and_entries_follow_jira_clouds_rules() {
        let double = CloudDouble::start(DoubleConfig::default()).unwrap();
        let alice = double
            .site()
            .add_user(Some("alice@example.com"), "Alice")
            .unwrap();
        let field = double
            .site()
            .add_field(
                "Approver",
                "com.atlassian.jira.plugin.system.customfieldtypes:userpicker",
            )
            .unwrap();
        let project = double.site().add_project("NTF", "Notified").unwrap();
        // The entries on the site, in every scheme.
        let on_site = || -> usize {
            let schemes = double.site().read_notification_schemes().unwrap();
            schemes.iter().map(|s| s.notifications.len()).sum()
        };
        let names = |list: &Value| -> Vec<String> {
            list["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["name"].as_str().unwrap().to_owned())
                .collect()
        };

        // The default scheme is there from the start; a page of one.
        let (status, list) = call(&double, "GET", "/notificationscheme", Value::Null);
        assert_eq!(status, 200, "{list}");
        assert_eq!(
            (&list["startAt"], &list["total"], &list["isLast"]),
            (&json!(0), &json!(1), &json!(true))
        );
        let default = list["values"][0].clone();
        assert_eq!(default["id"], 10000);
        assert_eq!(default["name"], "Default Notification Scheme");
        assert_eq!(
            default["self"],
            format!("{}/rest/api/3/notificationscheme/10000", double.url())
        );
        assert!(
            default.get("notificationSchemeEvents").is_none(),
            "{default}"
        );

        // Created: Cloud answers only the id, as text.
        let (status, created) = call(
            &double,
            "POST",
            "/notificationscheme",
            json!({ "name": "Developers", "description": "Who hears" }),
        );
        assert_eq!(status, 201, "{created}");
        let id: i64 = created["id"]
            .as_str()
            .expect("a string id, as Cloud")
            .parse()
            .unwrap();
        assert_eq!(created, json!({ "id": id.to_string() }));
        let scheme_path = format!("/notificationscheme/{id}");
        let (status, scheme) = call(&double, "GET", &scheme_path, Value::Null);
        assert_eq!(status, 200);
        assert_eq!(
            (&scheme["id"], &scheme["name"], &scheme["description"]),
            (&json!(id), &json!("Developers"), &json!("Who hears"))
        );
        assert!(scheme.get("notificationSchemeEvents").is_none(), "{scheme}");
        // A name taken in any case, or blank, is 400.
        for taken in ["DEVELOPERS", "default notification scheme"] {
            let (status, refused) = call(
                &double,
                "POST",
                "/notificationscheme",
                json!({ "name": taken }),
            );
            assert_eq!(status, 400, "{taken}");
            assert_eq!(
                refused["errorMessages"],
                json!(["The name is used by another notification scheme."])
            );
        }
        for blank in [json!({ "name": "  " }), json!({ "description": "x" })] {
            assert_eq!(call(&double, "POST", "/notificationscheme", blank).0, 400);
        }

        // With entries: all of them, or (one refused) none and no scheme.
        let (status, watched) = call(
            &double,
            "POST",
            "/notificationscheme",
            json!({ "name": "Watched", "notificationSchemeEvents": [{
                "event": { "id": "1" },
                "notifications": [
                    { "notificationType": "AllWatchers" },
                    { "notificationType": "Group", "parameter": "JIRA-administrators" },
                ],
            }] }),
        );
        assert_eq!(status, 201, "{watched}");
        let watched = watched["id"].as_str().unwrap().to_owned();
        let (_, read) = call(
            &double,
            "GET",
            &format!("/notificationscheme/{watched}?expand=all"),
            Value::Null,
        );
        let events = read["notificationSchemeEvents"].as_array().unwrap();
        assert_eq!(events.len(), 1, "{read}");
        assert_eq!(
            events[0]["event"],
            json!({
                "id": 1,
                "name": "Issue created",
                "description": "Event published when an issue is created",
            })
        );
        let entries = events[0]["notifications"].as_array().unwrap();
        assert_eq!(entries[0]["notificationType"], "AllWatchers");
        assert!(entries[0].get("parameter").is_none());
        assert_eq!(entries[1]["notificationType"], "Group");
        assert_eq!(entries[1]["parameter"], "jira-administrators");
        assert_eq!(
            entries[1]["group"],
            json!({ "name": "jira-administrators" })
        );
        assert_eq!(on_site(), 2);
        let (status, _) = call(
            &double,
            "POST",
            "/notificationscheme",
            json!({ "name": "Refused", "notificationSchemeEvents": [
                { "event": { "id": 1 }, "notifications": [{ "notificationType": "Reporter" }] },
                { "event": { "id": 99 }, "notifications": [{ "notificationType": "Reporter" }] },
            ] }),
        );
        assert_eq!(status, 400);
        let (_, list) = call(&double, "GET", "/notificationscheme", Value::Null);
        assert_eq!(
            names(&list),
            ["Default Notification Scheme", "Developers", "Watched"]
        );
        assert_eq!(on_site(), 2);

        // Entries added, of several types, to several events at once.
        let add_path = format!("/notificationscheme/{id}/notification");
        let add = |events: Value| {
            call(
                &double,
                "PUT",
                &add_path,
                json!({ "notificationSchemeEvents": events }),
            )
        };
        let (status, answer) = add(json!([
            { "event": { "id": 6 }, "notifications": [
                { "notificationType": "Group", "parameter": "jira-software-users" },
                { "notificationType": "EmailAddress", "parameter": "team@example.com" },
                { "notificationType": "UserCustomField", "parameter": field },
                { "notificationType": "ProjectLead" },
            ] },
            { "event": { "id": "1" }, "notifications": [
                { "notificationType": "CurrentAssignee" },
                { "notificationType": "Reporter", "parameter": "ignored" },
                { "notificationType": "User", "parameter": alice },
                { "notificationType": "ProjectRole", "parameter": "10002" },
            ] },
        ]));
        assert_eq!((status, answer), (204, Value::Null));
        let (status, answer) = add(json!([
            { "event": { "id": "2" }, "notifications": [{ "notificationType": "ComponentLead" }] },
        ]));
        assert_eq!(status, 204, "{answer}");
        assert_eq!(on_site(), 11);
        // Read back grouped by event, events in id order, entries as Cloud shows them.
        let (status, read) = call(
            &double,
            "GET",
            &format!("{scheme_path}?expand=notificationSchemeEvents"),
            Value::Null,
        );
        assert_eq!(status, 200, "{read}");
        let events = read["notificationSchemeEvents"].as_array().unwrap();
        let grouped: Vec<(i64, Vec<&str>)> = events
            .iter()
            .map(|e| {
                let types = e["notifications"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| n["notificationType"].as_str().unwrap())
                    .collect();
                (e["event"]["id"].as_i64().unwrap(), types)
            })
            .collect();
        assert_eq!(
            grouped,
            [
                (
                    1,
                    vec!["CurrentAssignee", "Reporter", "User", "ProjectRole"]
                ),
                (2, vec!["ComponentLead"]),
                (
                    6,
                    vec!["Group", "EmailAddress", "UserCustomField", "ProjectLead"]
                ),
            ]
        );
        assert_eq!(events[1]["event"]["name"], "Issue updated");
        assert_eq!(events[2]["event"]["name"], "Issue commented");
        let first = &events[0]["notifications"];
        assert!(first[0]["id"].is_i64());
        assert!(first[1].get("parameter").is_none(), "{}", first[1]);
        assert_eq!(
            (
                &first[2]["parameter"],
                &first[2]["recipient"],
                first[2].get("user")
            ),
            (&json!(alice), &json!(alice), None)
        );
        assert_eq!(first[3]["parameter"], "10002");
        let sixth = &events[2]["notifications"];
        assert_eq!(sixth[0]["parameter"], "jira-software-users");
        assert!(sixth[0].get("recipient").is_none());
        assert_eq!(sixth[1]["emailAddress"], "team@example.com");
        assert_eq!(sixth[2]["parameter"], json!(field));
        // `expand=all` adds the recipients' details.
        let (_, all) = call(
            &double,
            "GET",
            &format!("{scheme_path}?expand=all"),
            Value::Null,
        );
        let first = &all["notificationSchemeEvents"][0]["notifications"];
        assert_eq!(
            first[2]["user"],
            json!({ "accountId": alice, "displayName": "Alice" })
        );
        assert_eq!(first[3]["projectRole"]["id"], 10002);
        assert_eq!(
            all["notificationSchemeEvents"][2]["notifications"][2]["field"]["name"],
            "Approver"
        );

        // Refused, and nothing written: an entry the scheme has (a group in any case), the
        // same entry twice, an event or a type Cloud does not know, a recipient the site
        // does not have, a parameter missing, an address that is none; each beside an
        // entry that would have been written.
        let fine = json!({ "notificationType": "AllWatchers" });
        for (event, bad) in [
            (json!(1), json!({ "notificationType": "CurrentAssignee" })),
            (
                json!("6"),
                json!({ "notificationType": "Group", "parameter": "JIRA-SOFTWARE-USERS" }),
            ),
            (json!(13), fine.clone()),
            (json!(18), json!({ "notificationType": "Reporter" })),
            (json!(0), json!({ "notificationType": "Reporter" })),
            (
                json!("issue_created"),
                json!({ "notificationType": "Reporter" }),
            ),
            (json!(1), json!({ "notificationType": "Everyone" })),
            (json!(1), json!({ "notificationType": "Current_Assignee" })),
            (json!(1), json!({ "parameter": "x" })),
            (
                json!(1),
                json!({ "notificationType": "Group", "parameter": "nobody" }),
            ),
            (
                json!(1),
                json!({ "notificationType": "User", "parameter": "no-such-account" }),
            ),
            (
                json!(1),
                json!({ "notificationType": "ProjectRole", "parameter": "99999" }),
            ),
            (
                json!(1),
                json!({ "notificationType": "GroupCustomField", "parameter": "customfield_99999" }),
            ),
            (json!(1), json!({ "notificationType": "Group" })),
            (
                json!(1),
                json!({ "notificationType": "User", "parameter": "" }),
            ),
            (json!(1), json!({ "notificationType": "ProjectRole" })),
            (json!(1), json!({ "notificationType": "EmailAddress" })),
            (json!(1), json!({ "notificationType": "UserCustomField" })),
            (
                json!(1),
                json!({ "notificationType": "EmailAddress", "parameter": "not an address" }),
            ),
        ] {
            let (status, answer) = add(json!([
                { "event": { "id": 13 }, "notifications": [fine.clone()] },
                { "event": { "id": event }, "notifications": [bad.clone()] },
            ]));
            assert_eq!(status, 400, "{event} {bad}: {answer}");
            assert!(
                answer["errorMessages"][0].is_string(),
                "{event} {bad}: {answer}"
            );
        }
        assert_eq!(on_site(), 11);
        let (_, answer) = add(json!([
            { "event": { "id": 1 }, "notifications": [{ "notificationType": "Reporter" }] },
        ]));
        assert_eq!(
            answer["errorMessages"],
            json!(["The notification Reporter for the event with ID '1' already exists."])
        );
        let (_, answer) = add(json!([
            { "event": { "id": 1 }, "notifications": [
                { "notificationType": "Group", "parameter": "nobody" },
            ] },
        ]));
        assert_eq!(
            answer["errorMessages"],
            json!(["The group 'nobody' does not exist."])
        );
        assert_eq!(add(json!([{ "event": { "id": 13 } }])).0, 400);
        assert_eq!(
            call(&double, "PUT", &add_path, json!({ "events": [] })).0,
            400
        );
        // The entry refused only for its company was never written: it is added now.
        assert_eq!(
            add(json!([{ "event": { "id": 13 }, "notifications": [fine.clone()] }])).0,
            204
        );
        assert_eq!(on_site(), 12);

        // An unknown scheme is 404.
        assert_eq!(
            call(&double, "GET", "/notificationscheme/99999", Value::Null).0,
            404
        );
        assert_eq!(
            call(
                &double,
                "GET",
                "/notificationscheme/nope?expand=all",
                Value::Null
            )
            .0,
            404
        );
        let body = json!({ "notificationSchemeEvents": [
            { "event": { "id": 1 }, "notifications": [fine.clone()] },
        ] });
        assert_eq!(
            call(
                &double,
                "PUT",
                "/notificationscheme/99999/notification",
                body
            )
            .0,
            404
        );

        // Paging: by name, as Cloud orders them.
        for name in ["Zulu", "Alpha"] {
            let (status, _) = call(
                &double,
                "POST",
                "/notificationscheme",
                json!({ "name": name }),
            );
            assert_eq!(status, 201);
        }
        let (_, page) = call(
            &double,
            "GET",
            "/notificationscheme?startAt=1&maxResults=2",
            Value::Null,
        );
        assert_eq!(
            (
                &page["startAt"],
                &page["maxResults"],
                &page["total"],
                &page["isLast"]
            ),
            (&json!(1), &json!(2), &json!(5), &json!(false))
        );
        assert_eq!(names(&page), ["Default Notification Scheme", "Developers"]);
        let (_, last) = call(
            &double,
            "GET",
            "/notificationscheme?startAt=4&maxResults=2&expand=all",
            Value::Null,
        );
        assert_eq!(
            (&last["isLast"], names(&last)),
            (&json!(true), vec!["Zulu".to_owned()])
        );
        assert_eq!(last["values"][0]["notificationSchemeEvents"], json!([]));
        let (_, everything) = call(
            &double,
            "GET",
            "/notificationscheme?expand=all",
            Value::Null,
        );
        let developers = &everything["values"][2];
        assert_eq!(developers["name"], "Developers");
        assert_eq!(
            developers["notificationSchemeEvents"]
                .as_array()
                .unwrap()
                .len(),
            4
        );

        // A project's scheme: the default until it is given one (by number or by text).
        let used = |key: &str| {
            call(
                &double,
                "GET",
                &format!("/project/{key}/notificationscheme"),
                Value::Null,
            )
        };
        let (status, got) = used("NTF");
        assert_eq!(status, 200);
        assert_eq!(
            (&got["id"], &got["name"]),
            (&json!(10000), &json!("Default Notification Scheme"))
        );
        let (status, updated) = call(
            &double,
            "PUT",
            "/project/NTF",
            json!({ "notificationScheme": id }),
        );
        assert_eq!(status, 200, "{updated}");
        assert_eq!(updated["key"], "NTF");
        let (_, got) = used(&project);
        assert_eq!(
            (&got["id"], &got["name"]),
            (&json!(id), &json!("Developers"))
        );
        assert!(got.get("notificationSchemeEvents").is_none());
        let (_, got) = call(
            &double,
            "GET",
            "/project/NTF/notificationscheme?expand=all",
            Value::Null,
        );
        assert_eq!(got["notificationSchemeEvents"].as_array().unwrap().len(), 4);
        // Refused, and nothing changed: an unknown scheme, or anything else refused.
        for body in [
            json!({ "notificationScheme": 99999 }),
            json!({ "notificationScheme": "nope" }),
            json!({ "notificationScheme": null }),
            json!({ "notificationScheme": watched, "name": "" }),
        ] {
            let (status, answer) = call(&double, "PUT", "/project/NTF", body.clone());
            assert_eq!(status, 400, "{body}: {answer}");
        }
        assert_eq!(used("NTF").1["id"], id);
        assert_eq!(
            call(
                &double,
                "PUT",
                "/project/NTF",
                json!({ "notificationScheme": "10000" })
            )
            .0,
            200
        );
        assert_eq!(used("NTF").1["id"], 10000);
        assert_eq!(
            call(
                &double,
                "PUT",
                "/project/NTF",
                json!({ "notificationScheme": watched })
            )
            .0,
            200
        );
        // An unknown project is 404.
        assert_eq!(used("NOPE").0, 404);
        assert_eq!(
            call(
                &double,
                "PUT",
                "/project/NOPE",
                json!({ "notificationScheme": id })
            )
            .0,
            404
        );

        // On the site: the schemes, their entries once each, the project's scheme once.
        let schemes = double.site().read_notification_schemes().unwrap();
        let watched_on_site = schemes.iter().find(|s| s.id == watched).unwrap();
        assert_eq!(watched_on_site.projects, vec![project]);
        assert_eq!(watched_on_site.notifications.len(), 2);
        for kind in [Kind::Notification, Kind::ProjectScheme] {
            assert_eq!(
                double.site().duplicate_source_keys(kind).unwrap(),
                0,
                "{kind}"
            );
        }
        let counts = double.site().counts().unwrap();
        assert_eq!(counts.get(&Kind::ProjectScheme), Some(&1), "{counts:?}");
        assert_eq!(
            counts.get(&Kind::NotificationScheme),
            Some(&4),
            "{counts:?}"
        );
    }
}

/// Jira Cloud's rate limits: the double refuses past each one (per endpoint by method,
/// per issue) with 429 and `Retry-After` and counts it, and the client paces itself under
/// them: a migration finishes without a request sent early and hardly a 429, and an issue
/// at its limit does not hold back writes to other issues. Small limits keep it short.
mod limits {
    use super::{raw_client, tokio_rt};
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use std::time::Duration;

    use airlock_cloud_double::{CloudDouble, DoubleConfig, JiraLimits, RateWindow, RequestRecord};
    use airlock_engine::{FolderFiles, Overrides, analyze, check, ephemeral_protection, load};
    use airlock_model::jira::{Comment, Issue, Kind, Record};
    use airlock_site::{CloudConfig, JiraCloud, RetryPolicy, Site};
    use airlock_staging::SealedStaging;

    fn config(double: &CloudDouble, limits: &JiraLimits) -> CloudConfig {
        let mut c = CloudConfig::new(double.url(), "migration@example.com", "api-token");
        c.extra_root_pem = Some(double.ca_pem().to_owned());
        c.retry = RetryPolicy {
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(200),
            ..RetryPolicy::default()
        };
        c.limits = Some(limits.clone());
        c
    }

    fn limited(limits: &JiraLimits) -> CloudDouble {
        CloudDouble::start(DoubleConfig {
            limits: Some(limits.clone()),
            ..DoubleConfig::default()
        })
        .unwrap()
    }

    /// Each limit in turn, each with a client (credentials) of its own: a client refused is
    /// throttled as a whole until its `Retry-After` ends.
    #[test]
    fn the_double_refuses_past_each_limit_with_retry_after_and_counts_it() {
        let limits = JiraLimits {
            get_post: RateWindow::new(4, Duration::from_secs(1)),
            put_delete: RateWindow::new(2, Duration::from_secs(1)),
            issue_writes: vec![
                RateWindow::new(3, Duration::from_secs(2)),
                RateWindow::new(5, Duration::from_secs(30)),
            ],
        };
        let double = limited(&limits);
        let raw = raw_client(&double);
        let rt = tokio_rt();
        let call = |method: &str, who: &str, path: &str| {
            let req = raw
                .request(method.parse().unwrap(), format!("{}{path}", double.url()))
                .basic_auth(who, Some("t"))
                .json(&serde_json::json!({ "value": 1 }))
                .send();
            rt.block_on(req).unwrap()
        };
        let retry_after = |resp: &reqwest::Response| -> u64 {
            assert_eq!(resp.status().as_u16(), 429);
            assert!(resp.headers().contains_key("X-RateLimit-Reset"));
            resp.headers()["Retry-After"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap()
        };

        // GET (and POST): four a second per endpoint and client.
        for _ in 0..4 {
            assert_eq!(call("GET", "a@x", "/rest/api/3/issuetype").status(), 200);
        }
        assert_eq!(retry_after(&call("GET", "a@x", "/rest/api/3/issuetype")), 1);
        // Another client has its own window.
        assert_eq!(call("GET", "b@x", "/rest/api/3/issuetype").status(), 200);
        assert_eq!(double.stats().throttled_by_limits, 1);

        // PUT (and DELETE): two a second, however many properties they write.
        for key in ["one", "two"] {
            let path = format!("/rest/atlassian-connect/1/addons/airlock/properties/{key}");
            assert!(call("PUT", "c@x", &path).status().is_success());
        }
        let third = "/rest/atlassian-connect/1/addons/airlock/properties/three";
        assert_eq!(retry_after(&call("PUT", "c@x", third)), 1);
        // Past the in-flight grace, within the Retry-After: early, and refused.
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(call("GET", "c@x", "/rest/api/3/issuetype").status(), 429);
        assert_eq!(double.stats().early_requests, 1);
        std::thread::sleep(Duration::from_millis(800));
        assert!(call("PUT", "c@x", third).status().is_success());

        // Per issue: three writes in two seconds, five in thirty, across endpoints and
        // clients; reads are not writes, and other issues have their own windows.
        // (There is no issue 777: the limits count a write before Jira looks at it.)
        let comment = "/rest/api/3/issue/777/comment";
        let property = "/rest/api/3/issue/777/properties/k";
        let refused = |resp: reqwest::Response| {
            let status = resp.status().as_u16();
            assert!((400..429).contains(&status), "{status}");
        };
        refused(call("POST", "d@x", comment));
        refused(call("PUT", "d@x", property));
        refused(call("POST", "e@x", comment));
        refused(call("GET", "e@x", "/rest/api/3/issue/777"));
        let wait = retry_after(&call("POST", "f@x", comment));
        assert!((1..=2).contains(&wait), "{wait}");
        refused(call("POST", "g@x", "/rest/api/3/issue/778/comment"));
        std::thread::sleep(Duration::from_millis(2100));
        refused(call("POST", "h@x", comment));
        refused(call("PUT", "h@x", property));
        let wait = retry_after(&call("PUT", "i@x", property));
        assert!((26..=28).contains(&wait), "{wait}");

        let stats = double.stats();
        assert_eq!(stats.throttled_by_limits, 4, "{stats:?}");
        assert_eq!(stats.early_requests, 1, "{stats:?}");
        let log = double.requests();
        let refused: Vec<&RequestRecord> = log.iter().filter(|r| r.by_limits).collect();
        assert_eq!(refused.len(), 4);
        assert!(refused.iter().all(|r| r.status == 429 && !r.throttled));
        let writes_to_777 = log
            .iter()
            .filter(|r| r.issue.as_deref() == Some("777"))
            .count();
        assert_eq!(writes_to_777, 7, "reads name no issue: {log:#?}");
        assert!(
            log.iter().any(
                |r| r.endpoint == "POST /rest/api/3/issue/{id}/comment" && r.method() == "POST"
            )
        );
    }

    /// A generated backup checked, analysed against the double and loaded through a client
    /// that keeps the same limits as the double.
    #[test]
    fn a_migration_under_the_limits_sends_nothing_early_and_is_hardly_ever_refused() {
        // Endpoints' windows short, to be quick; issues' small enough that the issues' writes
        // (fields, comments, worklogs, watchers, votes, history, ranks…) run into them.
        let limits = JiraLimits {
            get_post: RateWindow::new(60, Duration::from_millis(200)),
            put_delete: RateWindow::new(30, Duration::from_millis(200)),
            issue_writes: vec![
                RateWindow::new(3, Duration::from_secs(1)),
                RateWindow::new(6, Duration::from_secs(3)),
            ],
        };
        let double = limited(&limits);
        let dir = tempfile::tempdir().unwrap();
        let backup = dir.path().join("backup.zip");
        let spec = airlock_fixtures::Spec {
            users: 8,
            projects: 2,
            issues: 200,
            worklogs_per_issue: 1,
            teams: 0,
            ..airlock_fixtures::Spec::default()
        };
        airlock_fixtures::write_backup(&backup, &spec).unwrap();
        let home = dir.path().join("home");
        airlock_fixtures::write_attachments(&home, &spec).unwrap();
        let staging = SealedStaging::ephemeral(dir.path().join("staging")).unwrap();
        let checked = check(&backup, &staging, &[], &[], |_| {}).unwrap();
        assert_eq!(checked.report.fatal(), 0);
        let staged = checked.report.counts.clone();
        let mut target = JiraCloud::new(config(&double, &limits)).unwrap();
        target.take_attachment_files(Arc::new(FolderFiles::index(&home).unwrap()));
        let snapshot = target.snapshot().unwrap();
        let plan = analyze(
            &staging,
            &staged,
            &snapshot,
            &target.describe(),
            &Overrides::default(),
        )
        .unwrap();
        let mut state = airlock_engine::State::open(
            &dir.path().join("state.db"),
            ephemeral_protection().unwrap(),
        )
        .unwrap();
        let summary = load(
            &staging,
            &mut state,
            &mut target,
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
        for (kind, n) in &staged {
            let done = summary.written.get(kind).copied().unwrap_or(0)
                + summary.matched.get(kind).copied().unwrap_or(0)
                + summary.skipped.get(kind).copied().unwrap_or(0);
            assert_eq!(done, *n, "{kind}");
        }
        let stats = double.stats();
        assert_eq!(stats.early_requests, 0, "{stats:?}");
        assert!(
            stats.throttled_by_limits * 100 <= stats.requests,
            "more than 1% refused: {stats:?}"
        );
        // The issues' windows were busy: some issue had as many writes in a second as it may.
        let log = double.requests();
        let mut per_issue: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
        for r in log.iter().filter(|r| !r.by_limits) {
            if let Some(issue) = &r.issue {
                per_issue.entry(issue).or_default().push(r.at);
            }
        }
        let busiest = per_issue
            .values()
            .map(|times| {
                times
                    .iter()
                    .map(|t| {
                        times
                            .iter()
                            .filter(|u| **u >= *t && **u - *t < Duration::from_secs(1))
                            .count()
                    })
                    .max()
                    .unwrap_or(0)
            })
            .max()
            .unwrap_or(0);
        assert_eq!(busiest, 3, "no issue reached its window: {per_issue:?}");
        let mut site = double.site();
        for kind in Kind::ALL {
            assert_eq!(site.duplicate_source_keys(kind).unwrap(), 0, "{kind}");
        }
    }

    fn issue(n: usize, project: &str) -> Issue {
        Issue {
            id: format!("src-{n}"),
            project: project.to_owned(),
            number: n as u64 + 1,
            issue_type: "10000".into(),
            summary: format!("Issue {n}"),
            description: String::new(),
            priority: None,
            status: "10000".into(),
            resolution: None,
            reporter: None,
            assignee: None,
            created: 1_409_679_768_053,
            updated: 1_409_679_768_053,
            due: None,
            resolved: None,
            original_estimate: None,
            estimate: None,
            time_spent: None,
            security: None,
        }
    }

    /// One issue's comments come first in the batch, more than its window takes at once: the
    /// other issues' comments go while it waits, and nothing is refused.
    #[test]
    fn an_issue_at_its_limit_does_not_hold_back_writes_to_other_issues() {
        let limits = JiraLimits {
            issue_writes: vec![RateWindow::new(3, Duration::from_secs(1))],
            ..JiraLimits::default()
        };
        let double = limited(&limits);
        let project = double.site().add_project("HOT", "Hot").unwrap();
        let mut target = JiraCloud::new(config(&double, &limits)).unwrap();
        let issues: Vec<String> = target
            .write(
                Kind::Issue,
                &(0..25)
                    .map(|n| Record::Issue(issue(n, &project)))
                    .collect::<Vec<_>>(),
            )
            .unwrap()
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let (hot, others) = issues.split_first().unwrap();
        let comment = |n: usize, issue: &str| {
            Record::Comment(Comment {
                id: format!("c-{n}"),
                issue: issue.to_owned(),
                author: None,
                body: format!("Comment {n}"),
                created: 1_409_679_768_053,
                updated: 1_409_679_768_053,
            })
        };
        let mut records: Vec<Record> = (0..8).map(|n| comment(n, hot)).collect();
        records.extend(others.iter().enumerate().map(|(n, i)| comment(100 + n, i)));
        let answers = target.write(Kind::Comment, &records).unwrap();
        assert!(answers.iter().all(Result::is_ok), "{answers:?}");

        let log = double.requests();
        let comments: Vec<&RequestRecord> = log
            .iter()
            .filter(|r| r.endpoint == "POST /rest/api/3/issue/{id}/comment")
            .collect();
        assert_eq!(comments.len(), 8 + others.len(), "{comments:#?}");
        assert!(comments.iter().all(|r| r.status == 201), "{comments:#?}");
        let hot_times: Vec<Duration> = comments
            .iter()
            .filter(|r| r.issue.as_deref() == Some(hot.as_str()))
            .map(|r| r.at)
            .collect();
        let last_other = comments
            .iter()
            .filter(|r| r.issue.as_deref() != Some(hot.as_str()))
            .map(|r| r.at)
            .max()
            .unwrap();
        // The hot issue's fourth comment waited for its window; the others did not wait for it.
        assert!(
            hot_times[3] >= hot_times[0] + Duration::from_secs(1),
            "{hot_times:?}"
        );
        assert!(
            last_other < hot_times[3],
            "the other issues waited behind the hot one: last other at {last_other:?}, hot {hot_times:?}"
        );
        let stats = double.stats();
        assert_eq!(
            (stats.throttled_by_limits, stats.early_requests),
            (0, 0),
            "{stats:?}"
        );
    }
}

/// Custom fields' contexts as Jira Cloud serves them: a global one from the field's
/// creation, project contexts (a project in one context of a field at most), issue types
/// appended; options per context; an issue's value among the options of the context
/// applying to it, or no value where none applies.
mod contexts {
    use super::*;
    use airlock_model::jira::{
        CustomField, CustomFieldOption, CustomFieldValue, FieldContext, FieldValue,
    };

    const SELECT: &str = "com.atlassian.jira.plugin.system.customfieldtypes:select";
    const TASK: &str = "10000";
    const BUG: &str = "10001";
    const STORY: &str = "10002";
    const EPIC: &str = "10003";

    fn call(double: &CloudDouble, method: &str, path: &str, body: Value) -> (u16, Value) {
        raw_call(double, method, &format!("/rest/api/3{path}"), &body)
    }

    fn get(double: &CloudDouble, path: &str) -> Value {
        let (status, body) = call(double, "GET", path, Value::Null);
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    /// A select field created through the API (Cloud gives it its global context).
    fn new_field(double: &CloudDouble, name: &str) -> String {
        let (status, field) = call(
            double,
            "POST",
            "/field",
            json!({ "name": name, "type": SELECT }),
        );
        assert_eq!(status, 201, "{field}");
        field["id"].as_str().unwrap().to_owned()
    }

    fn values(page: &Value) -> Vec<Value> {
        page["values"].as_array().unwrap().clone()
    }

    /// A context's options' `(value, parent)`.
    fn options(double: &CloudDouble, field: &str, ctx: &str) -> Vec<(String, Option<String>)> {
        values(&get(
            double,
            &format!("/field/{field}/context/{ctx}/option"),
        ))
        .iter()
        .map(|o| {
            (
                o["value"].as_str().unwrap().to_owned(),
                o["optionId"].as_str().map(str::to_owned),
            )
        })
        .collect()
    }

    /// Creates one option in a context: its id, or the refusal's status and body.
    fn add_option(
        double: &CloudDouble,
        field: &str,
        ctx: &str,
        option: Value,
    ) -> Result<String, (u16, Value)> {
        let (status, body) = call(
            double,
            "POST",
            &format!("/field/{field}/context/{ctx}/option"),
            json!({ "options": [option] }),
        );
        match status {
            200 => Ok(body["options"][0]["id"].as_str().unwrap().to_owned()),
            _ => Err((status, body)),
        }
    }

    /// Sets a field of an issue: the status and body of the edit.
    fn set(double: &CloudDouble, issue: &str, field: &str, value: Value) -> (u16, Value) {
        call(
            double,
            "PUT",
            &format!("/issue/{issue}"),
            json!({ "fields": { field: value } }),
        )
    }

    fn new_issue(double: &CloudDouble, n: usize, project: &str, issue_type: &str) -> String {
        let record = Record::Issue(Issue {
            issue_type: issue_type.into(),
            ..issue(n, project)
        });
        let answers = client(double).write(Kind::Issue, &[record]).unwrap();
        ok(&answers).remove(0)
    }

    #[test]
    fn contexts_follow_jira_clouds_rules() {
        let double = CloudDouble::start(DoubleConfig::default()).unwrap();
        let platform = double.site().add_project("PLT", "Platform").unwrap();
        let other = double.site().add_project("OTH", "Others").unwrap();
        let field = new_field(&double, "Environment");
        let contexts = format!("/field/{field}/context");

        // A new field has its global context, for every issue type.
        let page = get(&double, &contexts);
        assert_eq!((&page["total"], &page["isLast"]), (&json!(1), &json!(true)));
        let global = page["values"][0].clone();
        let global_id = global["id"]
            .as_str()
            .expect("a string id, as Cloud")
            .to_owned();
        assert_eq!(
            global,
            json!({
                "id": global_id,
                "name": "Default Configuration Scheme for Environment",
                "description": "Default configuration scheme generated by Jira",
                "isGlobalContext": true,
                "isAnyIssueType": true,
            })
        );
        assert_eq!(
            call(
                &double,
                "GET",
                "/field/customfield_99999/context",
                Value::Null
            )
            .0,
            404
        );

        // A project context, ids as numbers or strings: answered as Cloud does, strings.
        let (status, created) = call(
            &double,
            "POST",
            &contexts,
            json!({
                "name": "Platform teams",
                "description": "Where they deploy",
                "projectIds": [platform.parse::<i64>().unwrap()],
                "issueTypeIds": [BUG, STORY],
            }),
        );
        assert_eq!(status, 201, "{created}");
        let ctx = created["id"].as_str().expect("a string id").to_owned();
        assert_eq!(
            created,
            json!({
                "id": ctx,
                "name": "Platform teams",
                "description": "Where they deploy",
                "projectIds": [platform],
                "issueTypeIds": [BUG, STORY],
            })
        );
        let listed = values(&get(&double, &contexts));
        assert_eq!(listed.len(), 2);
        assert_eq!(
            listed[1],
            json!({
                "id": ctx, "name": "Platform teams", "description": "Where they deploy",
                "isGlobalContext": false, "isAnyIssueType": false,
            })
        );
        let ids = |query: &str| -> Vec<String> {
            values(&get(&double, &format!("{contexts}?{query}")))
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(ids("isGlobalContext=true"), vec![global_id.clone()]);
        assert_eq!(ids("isGlobalContext=false"), vec![ctx.clone()]);
        assert_eq!(ids("isAnyIssueType=true"), vec![global_id.clone()]);
        assert_eq!(ids(&format!("contextId={ctx}")), vec![ctx.clone()]);
        assert_eq!(
            ids(&format!("contextId={ctx}&contextId={global_id}")),
            vec![global_id.clone(), ctx.clone()]
        );
        let first = get(&double, &format!("{contexts}?maxResults=1"));
        assert_eq!(
            (&first["total"], &first["isLast"], values(&first).len()),
            (&json!(2), &json!(false), 1)
        );
        assert_eq!(
            values(&get(&double, &format!("{contexts}/projectmapping"))),
            vec![
                json!({ "contextId": global_id, "isGlobalContext": true }),
                json!({ "contextId": ctx, "projectId": platform }),
            ]
        );
        assert_eq!(
            values(&get(&double, &format!("{contexts}/issuetypemapping"))),
            vec![
                json!({ "contextId": global_id, "isAnyIssueType": true }),
                json!({ "contextId": ctx, "issueTypeId": BUG }),
                json!({ "contextId": ctx, "issueTypeId": STORY }),
            ]
        );
        assert_eq!(
            values(&get(
                &double,
                &format!("{contexts}/projectmapping?contextId={ctx}")
            )),
            vec![json!({ "contextId": ctx, "projectId": platform })]
        );

        // Refusals.
        let post = |body: Value| call(&double, "POST", &contexts, body);
        assert_eq!(
            call(
                &double,
                "POST",
                "/field/customfield_99999/context",
                json!({ "name": "x", "projectIds": [other] })
            )
            .0,
            404
        );
        let (status, refused) = post(json!({ "projectIds": [other] }));
        assert_eq!(status, 400);
        assert!(refused["errors"]["name"].is_string(), "{refused}");
        let (status, refused) = post(json!({ "name": "x", "projectIds": ["99999"] }));
        assert_eq!(status, 404);
        assert_eq!(
            refused["errorMessages"],
            json!(["The project with ID '99999' was not found."])
        );
        let (status, refused) =
            post(json!({ "name": "x", "projectIds": [other], "issueTypeIds": [99999] }));
        assert_eq!(status, 404);
        assert_eq!(
            refused["errorMessages"],
            json!(["The issue type with ID '99999' was not found."])
        );
        let (status, refused) = post(json!({ "name": "x", "projectIds": [other, platform] }));
        assert_eq!(status, 400);
        assert_eq!(
            refused["errorMessages"],
            json!([format!(
                "The project with ID '{platform}' is already in another context of this custom field."
            )])
        );
        let (status, refused) = post(json!({ "name": "Everywhere else" }));
        assert_eq!(status, 400);
        assert_eq!(
            refused["errorMessages"],
            json!(["The custom field already has a global context."])
        );
        for malformed in [json!([{ "id": other }]), json!(other)] {
            assert_eq!(post(json!({ "name": "x", "projectIds": malformed })).0, 400);
        }
        assert_eq!(values(&get(&double, &contexts)).len(), 2, "nothing created");

        // Renamed; what is not given stays. A context of another field is not found.
        let (status, _) = call(
            &double,
            "PUT",
            &format!("{contexts}/{global_id}"),
            json!({ "name": "Environment everywhere" }),
        );
        assert_eq!(status, 204);
        let renamed = values(&get(&double, &format!("{contexts}?contextId={global_id}")));
        assert_eq!(renamed[0]["name"], "Environment everywhere");
        assert_eq!(renamed[0]["description"], global["description"]);
        assert_eq!(
            call(
                &double,
                "PUT",
                &format!("{contexts}/{global_id}"),
                json!({ "description": "All projects" }),
            )
            .0,
            204
        );
        let renamed = values(&get(&double, &format!("{contexts}?contextId={global_id}")));
        assert_eq!(
            (&renamed[0]["name"], &renamed[0]["description"]),
            (&json!("Environment everywhere"), &json!("All projects"))
        );
        assert_eq!(
            call(
                &double,
                "PUT",
                &format!("{contexts}/{global_id}"),
                json!({ "name": " " })
            )
            .0,
            400
        );
        let second = new_field(&double, "Region");
        for path in [
            format!("{contexts}/99999"),
            format!("/field/{second}/context/{ctx}"),
            format!("/field/customfield_99999/context/{ctx}"),
        ] {
            assert_eq!(
                call(&double, "PUT", &path, json!({ "name": "x" })).0,
                404,
                "{path}"
            );
        }

        // Issue types appended to a project context: the one for Bugs and Stories also
        // takes Tasks; a type it has already is refused, nothing added.
        let add = |ctx: &str, types: Value| {
            call(
                &double,
                "PUT",
                &format!("{contexts}/{ctx}/issuetype"),
                json!({ "issueTypeIds": types }),
            )
        };
        assert_eq!(add(&ctx, json!([TASK.parse::<i64>().unwrap()])).0, 204);
        let (status, refused) = add(&ctx, json!([EPIC, BUG]));
        assert_eq!(status, 400);
        assert_eq!(
            refused["errorMessages"],
            json!([format!(
                "The issue type with ID '{BUG}' is already in the context."
            )])
        );
        assert_eq!(add(&ctx, json!(["99999"])).0, 404);
        assert_eq!(add("99999", json!([EPIC])).0, 404);
        assert_eq!(
            values(&get(
                &double,
                &format!("{contexts}/issuetypemapping?contextId={ctx}")
            )),
            vec![
                json!({ "contextId": ctx, "issueTypeId": TASK }),
                json!({ "contextId": ctx, "issueTypeId": BUG }),
                json!({ "contextId": ctx, "issueTypeId": STORY }),
            ]
        );
        // The global context applies to every issue type: none can be added to it
        // (Jira Cloud since April 2026, CHANGE-3019), nothing is added.
        let (status, refused) = add(&global_id, json!([BUG]));
        assert_eq!(status, 400);
        assert_eq!(
            refused["errorMessages"],
            json!(["Issue types cannot be added to the global context."])
        );
        assert_eq!(
            values(&get(
                &double,
                &format!("{contexts}/issuetypemapping?contextId={global_id}")
            )),
            vec![json!({ "contextId": global_id, "isAnyIssueType": true })]
        );
        assert_eq!(ids("isAnyIssueType=true"), vec![global_id.clone()]);
        // The other field's contexts are its own.
        assert_eq!(
            values(&get(&double, &format!("/field/{second}/context"))).len(),
            1
        );
    }

    #[test]
    fn options_and_values_follow_the_context_applying_to_the_issue() {
        let double = CloudDouble::start(DoubleConfig::default()).unwrap();
        let platform = double.site().add_project("PLT", "Platform").unwrap();
        let other = double.site().add_project("OTH", "Others").unwrap();
        let field = new_field(&double, "Environment");
        let contexts = format!("/field/{field}/context");
        let global = values(&get(&double, &contexts))[0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let (status, created) = call(
            &double,
            "POST",
            &contexts,
            json!({ "name": "Platform teams", "projectIds": [platform] }),
        );
        assert_eq!(status, 201, "{created}");
        let ctx = created["id"].as_str().unwrap().to_owned();

        // One value in two contexts; twice in one is refused.
        let prod = add_option(&double, &field, &global, json!({ "value": "Prod" })).unwrap();
        let region = add_option(&double, &field, &ctx, json!({ "value": "Prod" })).unwrap();
        assert_ne!(prod, region);
        let (status, refused) =
            add_option(&double, &field, &ctx, json!({ "value": "Prod" })).unwrap_err();
        assert_eq!(status, 400);
        assert_eq!(
            refused["errors"]["options"],
            "An option with this value already exists."
        );
        // A child's parent is an option of its context.
        add_option(
            &double,
            &field,
            &ctx,
            json!({ "value": "eu", "optionId": region }),
        )
        .unwrap();
        let (status, refused) = add_option(
            &double,
            &field,
            &ctx,
            json!({ "value": "us", "optionId": prod }),
        )
        .unwrap_err();
        assert_eq!(status, 400);
        assert_eq!(
            refused["errors"]["options"],
            format!("The parent option with ID '{prod}' is not an option of this context.")
        );
        assert_eq!(
            options(&double, &field, &global),
            vec![("Prod".into(), None)]
        );
        assert_eq!(
            options(&double, &field, &ctx),
            vec![("Prod".into(), None), ("eu".into(), Some(region.clone()))]
        );
        let second = new_field(&double, "Region");
        assert_eq!(
            add_option(&double, &second, &ctx, json!({ "value": "x" }))
                .unwrap_err()
                .0,
            404
        );
        assert_eq!(
            call(
                &double,
                "GET",
                &format!("/field/{second}/context/{ctx}/option"),
                Value::Null
            )
            .0,
            404
        );

        // A platform issue takes its project context's option, not the global one's; an
        // issue of another project the reverse.
        let on_platform = new_issue(&double, 1, &platform, TASK);
        let elsewhere = new_issue(&double, 2, &other, TASK);
        assert_eq!(
            set(&double, &on_platform, &field, json!({ "id": region })).0,
            204
        );
        let (status, refused) = set(&double, &on_platform, &field, json!({ "id": prod }));
        assert_eq!(status, 400);
        assert_eq!(
            refused["errors"][&field],
            format!("Option id '{prod}' is not valid")
        );
        assert_eq!(
            set(&double, &elsewhere, &field, json!({ "id": prod })).0,
            204
        );
        let (status, refused) = set(&double, &elsewhere, &field, json!({ "id": region }));
        assert_eq!(status, 400);
        assert_eq!(
            refused["errors"][&field],
            format!("Option id '{region}' is not valid")
        );
        assert_eq!(
            set(&double, &elsewhere, &field, json!({ "id": "99999" })).0,
            400
        );
        let (_, got) = call(
            &double,
            "GET",
            &format!("/issue/{on_platform}"),
            Value::Null,
        );
        assert_eq!(got["fields"][&field]["id"], json!(region));

        // Issue types narrow where a project context applies: the platform one for Stories
        // only. A platform Bug falls back to the global context, for every issue type (no
        // issue type can be added to it since CHANGE-3019).
        let severity = new_field(&double, "Severity");
        let severities = format!("/field/{severity}/context");
        let severity_global = values(&get(&double, &severities))[0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let (status, stories) = call(
            &double,
            "POST",
            &severities,
            json!({ "name": "Platform stories", "projectIds": [platform], "issueTypeIds": [STORY] }),
        );
        assert_eq!(status, 201, "{stories}");
        let stories = stories["id"].as_str().unwrap().to_owned();
        let high = add_option(
            &double,
            &severity,
            &severity_global,
            json!({ "value": "High" }),
        )
        .unwrap();
        let big = add_option(&double, &severity, &stories, json!({ "value": "Big" })).unwrap();
        let bug = new_issue(&double, 3, &platform, BUG);
        let story = new_issue(&double, 4, &platform, STORY);
        assert_eq!(set(&double, &bug, &severity, json!({ "id": high })).0, 204);
        let (status, refused) = set(&double, &bug, &severity, json!({ "id": big }));
        assert_eq!(status, 400);
        assert_eq!(
            refused["errors"][&severity],
            format!("Option id '{big}' is not valid")
        );
        assert_eq!(set(&double, &story, &severity, json!({ "id": big })).0, 204);
        let (status, refused) = set(&double, &story, &severity, json!({ "id": high }));
        assert_eq!(status, 400);
        assert_eq!(
            refused["errors"][&severity],
            format!("Option id '{high}' is not valid")
        );
        // The global context takes every other issue: a platform Task, a Task elsewhere.
        for issue in [&on_platform, &elsewhere] {
            assert_eq!(
                set(&double, issue, &severity, json!({ "id": high })).0,
                204,
                "{issue}"
            );
        }
        let (_, got) = call(&double, "GET", &format!("/issue/{bug}"), Value::Null);
        assert_eq!(got["fields"][&severity]["id"], json!(high));
        // A field unknown cannot be set.
        let (status, refused) = set(&double, &bug, "customfield_99999", json!("x"));
        assert_eq!(status, 400);
        assert_eq!(
            refused["errors"]["customfield_99999"],
            "Field 'customfield_99999' cannot be set. It is not on the appropriate screen, or unknown."
        );
    }

    /// The Cloud client writes a field's global context (taken over: renamed; its issue
    /// types are a caveat, none can be added to a global context since CHANGE-3019), a
    /// project context and options in each, and values of issues; the global context is
    /// taken again on a rerun, the options and the project context are found again by a
    /// fresh client.
    #[test]
    fn the_cloud_client_writes_contexts_options_and_values() {
        let double = CloudDouble::start(DoubleConfig::default()).unwrap();
        let platform = double.site().add_project("PLT", "Platform").unwrap();
        let other = double.site().add_project("OTH", "Others").unwrap();
        let mut target = client(&double);
        let field = ok(&target
            .write(
                Kind::CustomField,
                &[Record::CustomField(CustomField {
                    id: "10100".into(),
                    name: "Environment".into(),
                    type_key: SELECT.into(),
                    description: String::new(),
                })],
            )
            .unwrap())
        .remove(0);
        let global = Record::FieldContext(FieldContext {
            id: "10100".into(),
            field: field.clone(),
            name: "Default Configuration Scheme for Environment".into(),
            description: "Default configuration scheme generated by Jira".into(),
            projects: Vec::new(),
            issue_types: vec![TASK.into(), BUG.into()],
        });
        let platform_context = Record::FieldContext(FieldContext {
            id: "10200".into(),
            field: field.clone(),
            name: "Environment for platform teams".into(),
            description: "Cloud regions".into(),
            projects: vec![platform.clone()],
            issue_types: Vec::new(),
        });
        let contexts = ok(&target
            .write(
                Kind::FieldContext,
                &[global.clone(), platform_context.clone()],
            )
            .unwrap());
        let (global_id, ctx) = (contexts[0].clone(), contexts[1].clone());
        let listed = values(&get(&double, &format!("/field/{field}/context")));
        assert_eq!(
            listed,
            vec![
                json!({
                    "id": global_id,
                    "name": "Default Configuration Scheme for Environment",
                    "description": "Default configuration scheme generated by Jira",
                    "isGlobalContext": true, "isAnyIssueType": true,
                }),
                json!({
                    "id": ctx, "name": "Environment for platform teams",
                    "description": "Cloud regions",
                    "isGlobalContext": false, "isAnyIssueType": true,
                }),
            ]
        );
        assert_eq!(
            values(&get(
                &double,
                &format!("/field/{field}/context/projectmapping")
            )),
            vec![
                json!({ "contextId": global_id, "isGlobalContext": true }),
                json!({ "contextId": ctx, "projectId": platform }),
            ]
        );
        // Written again by a fresh client (as after a crash before the claim): the same
        // global context, nothing created.
        let rerun = ok(&client(&double)
            .write(Kind::FieldContext, std::slice::from_ref(&global))
            .unwrap());
        assert_eq!(rerun, vec![global_id.clone()]);
        assert_eq!(
            values(&get(&double, &format!("/field/{field}/context"))),
            listed
        );

        let option = |id: &str, context: Option<&str>, value: &str, parent: Option<&str>| {
            Record::CustomFieldOption(CustomFieldOption {
                id: id.into(),
                field: field.clone(),
                context: context.map(str::to_owned),
                value: value.into(),
                parent: parent.map(str::to_owned),
                disabled: false,
            })
        };
        let options = vec![
            option("o-1", None, "Prod", None),
            option("o-2", Some(&ctx), "Prod", None),
        ];
        let ids = ok(&target.write(Kind::CustomFieldOption, &options).unwrap());
        let child = option("o-3", Some(&ctx), "eu", Some(&ids[1]));
        let child_id = ok(&target
            .write(Kind::CustomFieldOption, std::slice::from_ref(&child))
            .unwrap())
        .remove(0);
        assert_eq!(
            options_of(&double, &field, &global_id),
            vec!["Prod".to_owned()]
        );
        assert_eq!(
            options_of(&double, &field, &ctx),
            vec!["Prod".to_owned(), "eu".to_owned()]
        );

        // A fresh client finds the project context and every option again.
        let mut fresh = client(&double);
        let keys: Vec<String> = [&platform_context].iter().map(|r| source_key(r)).collect();
        assert_eq!(
            fresh.find_written(Kind::FieldContext, &keys).unwrap(),
            vec![Some(ctx.clone())]
        );
        let mut all = options.clone();
        all.push(child);
        let keys: Vec<String> = all.iter().map(source_key).collect();
        let found = fresh.find_written(Kind::CustomFieldOption, &keys).unwrap();
        assert_eq!(
            found,
            vec![Some(ids[0].clone()), Some(ids[1].clone()), Some(child_id)]
        );

        // Values: each issue takes the option of the context applying to it (a Story of
        // another project the global context's, for every issue type); an option of another
        // context is the value's refusal.
        let on_platform = new_issue(&double, 1, &platform, STORY);
        let elsewhere = new_issue(&double, 2, &other, BUG);
        let story_elsewhere = new_issue(&double, 3, &other, STORY);
        let value = |id: &str, issue: &str, option: &str| {
            Record::CustomFieldValue(CustomFieldValue {
                id: id.into(),
                issue: issue.into(),
                field: field.clone(),
                value: FieldValue::Option(option.into()),
            })
        };
        let answers = target
            .write(
                Kind::CustomFieldValue,
                &[
                    value("v-1", &on_platform, &ids[1]),
                    value("v-2", &elsewhere, &ids[0]),
                    value("v-3", &elsewhere, &ids[1]),
                    value("v-4", &story_elsewhere, &ids[0]),
                ],
            )
            .unwrap();
        assert!(
            answers[0].is_ok() && answers[1].is_ok() && answers[3].is_ok(),
            "{answers:?}"
        );
        let refused = answers[2].as_ref().unwrap_err();
        assert!(
            refused
                .message
                .contains(&format!("Option id '{}' is not valid", ids[1])),
            "{refused:?}"
        );
        let got = get(&double, &format!("/issue/{story_elsewhere}"));
        assert_eq!(got["fields"][&field]["id"], json!(ids[0]));
    }

    fn options_of(double: &CloudDouble, field: &str, ctx: &str) -> Vec<String> {
        options(double, field, ctx)
            .into_iter()
            .map(|(v, _)| v)
            .collect()
    }
}

mod dashboards {
    use super::*;
    use airlock_cloud_double::CloudDashboard;
    use airlock_model::jira::{Dashboard, DashboardShare, Gadget, GadgetPreference};

    const FILTER_RESULTS: &str = "rest/gadgets/1.0/g/com.atlassian.jira.gadgets:filter-results-gadget/gadgets/filter-results-gadget.xml";
    const ASSIGNED: &str = "com.atlassian.jira.gadgets:assigned-to-me-dashboard-item";

    fn call(double: &CloudDouble, method: &str, path: &str, body: Value) -> (u16, Value) {
        raw_call(double, method, path, &body)
    }

    fn dashboard(id: &str, name: &str, owner: &str, system: bool) -> Record {
        Record::Dashboard(Dashboard {
            id: id.into(),
            name: name.into(),
            description: format!("{id} of the source"),
            owner: owner.into(),
            system,
            layout: "AAA".into(),
            favourites: 1,
        })
    }

    fn shared(id: &str, dashboard: &str, share: Share, edit: bool) -> Record {
        Record::DashboardShare(DashboardShare {
            id: id.into(),
            dashboard: dashboard.into(),
            share,
            edit,
        })
    }

    fn gadget(
        id: &str,
        dashboard: &str,
        at: (u32, u32),
        what: (&str, &str),
        color: &str,
    ) -> Record {
        let (field, value) = what;
        Record::Gadget(Gadget {
            id: id.into(),
            dashboard: dashboard.into(),
            column: at.0,
            row: at.1,
            uri: (field == "uri").then(|| value.to_owned()),
            module_key: (field == "moduleKey").then(|| value.to_owned()),
            color: color.into(),
        })
    }

    fn setting(id: &str, gadget: &str, key: &str, value: &str) -> Record {
        Record::GadgetPreference(GadgetPreference {
            id: id.into(),
            gadget: gadget.into(),
            key: key.into(),
            value: PreferenceValue::parse(key, value),
        })
    }

    /// A gadget as the test compares it: its cloud id, column, row, uri, module key and
    /// colour.
    type Placed<'a> = (String, u32, u32, Option<&'a str>, Option<&'a str>, &'a str);

    fn on_site<'d>(dashboards: &'d [CloudDashboard], id: &str) -> &'d CloudDashboard {
        dashboards
            .iter()
            .find(|d| d.id == id)
            .unwrap_or_else(|| panic!("no dashboard {id}: {dashboards:#?}"))
    }

    fn shares(list: &[(String, Share)]) -> Vec<Share> {
        list.iter().map(|(_, s)| s.clone()).collect()
    }

    /// The double's dashboards as Jira Cloud keeps them: one name per owner (in any case,
    /// also through changeOwner), only the owner or an administrator edits a dashboard, a
    /// gadget is exactly one of a uri and a module key, in one of Cloud's colours, at a
    /// free position of a column the layout has; item properties answer 201, then 200.
    #[test]
    fn dashboards_follow_jira_clouds_rules() {
        let double = CloudDouble::start(DoubleConfig::default()).unwrap();
        let (alice, carol) = {
            let mut site = double.site();
            (
                site.add_user(Some("alice@example.com"), "Alice").unwrap(),
                site.add_user(Some("carol@example.com"), "Carol").unwrap(),
            )
        };
        let create = |name: &str, shares: Value| {
            call(
                &double,
                "POST",
                "/rest/api/3/dashboard",
                json!({ "name": name, "description": "d", "sharePermissions": shares }),
            )
        };
        let (status, team) = create("Team", json!([]));
        assert_eq!(status, 200, "{team}");
        let me = migration_account(&double);
        assert_eq!(team["owner"]["accountId"], json!(me), "the caller owns it");
        let team_id = team["id"].as_str().unwrap().to_owned();
        let team_number: i64 = team_id.parse().unwrap();

        // One name per owner, in any case; a name is neither blank nor over 255 characters;
        // a share names what the site has.
        let (status, refused) = create("TEAM", json!([]));
        assert_eq!(status, 400, "{refused}");
        assert!(
            refused.to_string().contains("same name already exists"),
            "{refused}"
        );
        assert_eq!(create(" ", json!([])).0, 400);
        assert_eq!(create(&"x".repeat(256), json!([])).0, 400);
        assert_eq!(create(&"x".repeat(255), json!([])).0, 200);
        let ghost = json!([{ "type": "group", "group": { "name": "no-such-group" } }]);
        assert_eq!(create("Ghost", ghost).0, 400);

        // changeOwner: the new owner gets it, and with it the name.
        let change = |ids: Value, owner: &str| {
            let body = json!({ "action": "changeOwner", "entityIds": ids,
                "changeOwnerDetails": { "newOwner": owner, "autofixName": false } });
            call(&double, "PUT", "/rest/api/3/dashboard/bulk/edit", body)
        };
        let (status, answer) = change(json!([team_number]), &alice);
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["entityErrors"], json!({}));
        let (status, again) = create("team", json!([]));
        assert_eq!(
            status, 200,
            "the name is free for the migration's account again"
        );
        let again_id: i64 = again["id"].as_str().unwrap().parse().unwrap();
        let (status, answer) = change(json!([again_id, 999_999]), &alice);
        assert_eq!(status, 200, "{answer}");
        let error_of = |answer: &Value, id: i64| -> String {
            answer["entityErrors"][id.to_string()]["errors"][0]
                .as_str()
                .unwrap_or_else(|| panic!("no error for {id}: {answer}"))
                .to_owned()
        };
        assert!(error_of(&answer, again_id).contains("same name already exists"));
        assert!(error_of(&answer, 999_999).contains("does not exist"));
        let (_, answer) = change(json!([again_id]), "no-such-account");
        assert!(error_of(&answer, again_id).contains("user does not exist"));
        // alice's now: the migration's account may not give it away, but as an
        // administrator; giving it to its owner changes nothing.
        let (_, answer) = change(json!([team_number]), &carol);
        assert!(
            error_of(&answer, team_number).contains("permission"),
            "{answer}"
        );
        let (_, answer) = change(json!([team_number]), &alice);
        assert_eq!(answer["entityErrors"], json!({}));
        assert_eq!(change(json!([]), &alice).0, 400);
        let (status, _) = call(
            &double,
            "PUT",
            "/rest/api/3/dashboard/bulk/edit",
            json!({ "action": "changePermission", "entityIds": [team_number] }),
        );
        assert_eq!(status, 400);

        // Only the owner replaces its name and shares, or an administrator who says so; a
        // permission put again keeps its id.
        let put = |admin: bool| {
            let body = json!({ "name": "Team", "description": "d",
                "sharePermissions": [{ "type": "authenticated" }], "editPermissions": [],
                "extendAdminPermissions": admin });
            call(
                &double,
                "PUT",
                &format!("/rest/api/3/dashboard/{team_id}"),
                body,
            )
        };
        assert_eq!(put(false).0, 403);
        let (status, updated) = put(true);
        assert_eq!(status, 200, "{updated}");
        assert_eq!(updated["sharePermissions"][0]["type"], json!("loggedin"));
        assert_eq!(updated["owner"]["accountId"], json!(alice));
        let kept = updated["sharePermissions"][0]["id"].clone();
        assert_eq!(put(true).1["sharePermissions"][0]["id"], kept);
        assert_eq!(
            call(&double, "GET", "/rest/api/3/dashboard/999999", Value::Null).0,
            404
        );
        // The search is a partial match, by owner if asked.
        let (_, page) = raw_get(
            &double,
            "/rest/api/3/dashboard/search?dashboardName=EA&expand=owner",
        );
        assert_eq!(page["total"], json!(2), "{page}");
        let (_, page) = raw_get(
            &double,
            &format!("/rest/api/3/dashboard/search?dashboardName=team&accountId={alice}"),
        );
        assert_eq!(page["values"][0]["id"], json!(team_id), "{page}");
        assert_eq!(page["total"], json!(1));

        // Gadgets.
        let path = format!("/rest/api/3/dashboard/{team_id}/gadget");
        let add = |body: Value| call(&double, "POST", &path, body);
        let (status, first) = add(json!({ "uri": FILTER_RESULTS, "color": "green",
            "position": { "column": 1, "row": 0 } }));
        assert_eq!(status, 200, "{first}");
        assert_eq!(first["position"], json!({ "column": 1, "row": 0 }));
        assert_eq!(first["color"], json!("green"));
        assert_eq!(first["uri"], json!(FILTER_RESULTS));
        let at = |column: i64, row: i64| json!({ "column": column, "row": row });
        for (body, why) in [
            (
                json!({ "uri": FILTER_RESULTS, "moduleKey": ASSIGNED, "position": at(0, 0) }),
                "both a uri and a module key",
            ),
            (json!({ "color": "blue", "position": at(0, 0) }), "neither"),
            (
                json!({ "moduleKey": ASSIGNED, "color": "color3", "position": at(0, 0) }),
                "a server colour",
            ),
            (
                json!({ "moduleKey": ASSIGNED, "color": "pink", "position": at(0, 0) }),
                "no colour of Cloud's",
            ),
            (
                json!({ "moduleKey": ASSIGNED, "position": at(2, 0) }),
                "a column the default layout has not",
            ),
            (
                json!({ "moduleKey": ASSIGNED, "position": at(0, -1) }),
                "a negative row",
            ),
        ] {
            let (status, refused) = add(body);
            assert_eq!(status, 400, "{why}: {refused}");
        }
        let (_, column) = add(json!({ "moduleKey": ASSIGNED, "position": at(2, 0) }));
        assert!(column.to_string().contains("column"), "{column}");
        let (status, second) = add(json!({ "moduleKey": ASSIGNED, "position": at(0, 0) }));
        assert_eq!(status, 200, "{second}");
        assert_eq!(second["color"], json!("blue"), "blue unless said");
        // A taken position is taken all the same: the gadget there moves down a row.
        let (status, third) = add(json!({ "moduleKey": ASSIGNED, "position": at(1, 0) }));
        assert_eq!(status, 200, "{third}");
        let (_, listed) = raw_get(&double, &path);
        let places: Vec<(Value, Value)> = (listed["gadgets"].as_array().unwrap().iter())
            .map(|g| (g["id"].clone(), g["position"].clone()))
            .collect();
        assert_eq!(
            places,
            [
                (second["id"].clone(), at(0, 0)),
                (third["id"].clone(), at(1, 0)),
                (first["id"].clone(), at(1, 1)),
            ],
            "{listed}"
        );
        assert_eq!(
            call(
                &double,
                "POST",
                "/rest/api/3/dashboard/999999/gadget",
                json!({ "moduleKey": ASSIGNED })
            )
            .0,
            404
        );

        // Item properties: created, then replaced; only a gadget of the dashboard has them.
        let gadget = second["id"].as_i64().unwrap();
        let property =
            format!("/rest/api/3/dashboard/{team_id}/items/{gadget}/properties/filterId");
        assert_eq!(
            call(&double, "PUT", &property, json!("filter-10000")).0,
            201
        );
        assert_eq!(
            call(&double, "PUT", &property, json!("filter-10001")).0,
            200
        );
        let (status, read) = raw_get(&double, &property);
        assert_eq!(status, 200);
        assert_eq!(read, json!({ "key": "filterId", "value": "filter-10001" }));
        let missing = format!("/rest/api/3/dashboard/{team_id}/items/{gadget}/properties/num");
        assert_eq!(raw_get(&double, &missing).0, 404);
        let elsewhere = format!("/rest/api/3/dashboard/{again_id}/items/{gadget}/properties/num");
        assert_eq!(call(&double, "PUT", &elsewhere, json!("1")).0, 404);
        let long = format!(
            "/rest/api/3/dashboard/{team_id}/items/{gadget}/properties/{}",
            "k".repeat(256)
        );
        assert_eq!(call(&double, "PUT", &long, json!("1")).0, 400);
        let on = double.dashboards();
        let team = on_site(&on, &team_id);
        assert_eq!(team.gadgets.len(), 3);
        let with_setting = (team.gadgets.iter())
            .find(|g| g.id == gadget.to_string())
            .unwrap();
        assert_eq!(
            with_setting.properties.get("filterId"),
            Some(&json!("filter-10001"))
        );
    }

    /// Dashboards, their shares, gadgets and settings written through the client while
    /// writes are applied and then lost (each loss ends the run; the next reconciles
    /// with `find_written`): every record arrives once, with its owner, shares, position,
    /// colour, what it is and its settings' values, and a fresh client finds each again.
    #[test]
    fn dashboards_cut_short_arrive_once_with_every_field() {
        let double = CloudDouble::start(DoubleConfig::default()).unwrap();
        let (alice, bob) = {
            let mut site = double.site();
            site.add_group("jira-developers").unwrap();
            (
                site.add_user(Some("alice@example.com"), "Alice").unwrap(),
                site.add_user(Some("bob@example.com"), "Bob").unwrap(),
            )
        };
        let project = double.site().add_project("DSH", "Dashboards").unwrap();
        let mut target = client(&double);
        let role = ok(&target
            .write(Kind::ProjectRole, &[role("r-1", "Developers")])
            .unwrap())
        .remove(0);
        double.set_faults(Faults {
            seed: 11,
            fail_after_apply: 0.15,
            drop_after_apply: 0.1,
            ..Faults::default()
        });
        let mut crashes = 0;
        let mut write = |kind: Kind, records: &[Record]| {
            let (answers, cut) = write_through_crashes(&double, kind, records);
            crashes += cut;
            ok(&answers)
        };

        let dashboards = [
            dashboard("10000", "System Dashboard", "", true),
            dashboard("10100", "Team board", &alice, false),
            dashboard("10101", "Team board", &bob, false),
            dashboard("10102", "Left behind", "", false),
        ];
        let ids = write(Kind::Dashboard, &dashboards);
        let share_records = [
            shared(
                "s-1",
                &ids[1],
                Share::Group("jira-developers".into()),
                false,
            ),
            shared("s-2", &ids[1], Share::User(bob.clone()), true),
            shared(
                "s-3",
                &ids[2],
                Share::Project {
                    project: project.clone(),
                    role: Some(role.clone()),
                },
                false,
            ),
            shared(
                "s-4",
                &ids[2],
                Share::Project {
                    project: project.clone(),
                    role: None,
                },
                true,
            ),
            // The system dashboard's: there already, found.
            shared("s-5", &ids[0], Share::LoggedIn, false),
        ];
        let share_ids = write(Kind::DashboardShare, &share_records);
        let gadgets = [
            gadget("g-1", &ids[1], (0, 0), ("uri", FILTER_RESULTS), "color1"),
            gadget("g-2", &ids[1], (1, 0), ("moduleKey", ASSIGNED), "color4"),
            gadget("g-3", &ids[1], (1, 1), ("uri", FILTER_RESULTS), "color8"),
            gadget("g-4", &ids[2], (0, 0), ("moduleKey", ASSIGNED), "nonsense"),
            gadget("g-5", &ids[0], (0, 0), ("moduleKey", ASSIGNED), "color2"),
        ];
        let gadget_ids = write(Kind::Gadget, &gadgets);
        let settings = [
            setting("p-1", &gadget_ids[0], "filterId", "filter-10042"),
            setting("p-2", &gadget_ids[0], "num", "10"),
            setting(
                "p-3",
                &gadget_ids[1],
                "columnNames",
                "issuetype|issuekey|summary",
            ),
            setting("p-4", &gadget_ids[3], "isConfigured", "true"),
        ];
        let setting_ids = write(Kind::GadgetPreference, &settings);
        double.set_faults(Faults::default());
        let stats = double.stats();
        assert!(
            crashes > 0 && stats.failed_after_apply + stats.dropped_after_apply > 0,
            "no write was lost: {stats:?}"
        );

        // Every dashboard once, with its owner: the system dashboard and one without an
        // owner stay with the migration's account.
        let me = migration_account(&double);
        let on = double.dashboards();
        assert_eq!(on.len(), dashboards.len(), "{on:#?}");
        let owners: Vec<&str> = ids
            .iter()
            .map(|id| on_site(&on, id).owner.as_str())
            .collect();
        assert_eq!(owners, [me.as_str(), &alice, &bob, &me]);
        for (record, id) in dashboards.iter().zip(&ids) {
            let Record::Dashboard(d) = record else {
                unreachable!("dashboards")
            };
            let cloud = on_site(&on, id);
            assert_eq!((&cloud.name, &cloud.description), (&d.name, &d.description));
        }
        // Shares: each once, an editing one in both lists; the system dashboard's is the
        // one the client gave it.
        let system = on_site(&on, &ids[0]);
        assert_eq!(shares(&system.shares), [Share::LoggedIn]);
        assert_eq!(share_ids[4], system.shares[0].0);
        let alices = on_site(&on, &ids[1]);
        assert_eq!(
            shares(&alices.shares),
            [
                Share::Group("jira-developers".into()),
                Share::User(bob.clone())
            ]
        );
        assert_eq!(shares(&alices.editors), [Share::User(bob.clone())]);
        let bobs = on_site(&on, &ids[2]);
        let (with_role, project_only) = (
            Share::Project {
                project: project.clone(),
                role: Some(role.clone()),
            },
            Share::Project {
                project: project.clone(),
                role: None,
            },
        );
        assert_eq!(
            shares(&bobs.shares),
            [with_role.clone(), project_only.clone()]
        );
        assert_eq!(shares(&bobs.editors), [project_only]);
        assert_eq!(share_ids[0], alices.shares[0].0);
        assert_eq!(share_ids[2], bobs.shares[0].0);
        assert!(on_site(&on, &ids[3]).shares.is_empty());
        // Gadgets: where the source has them, in Cloud's colours, each what it was.
        let mut placed: Vec<Placed> = Vec::new();
        for d in &on {
            for g in &d.gadgets {
                placed.push((
                    format!("{}:{}", d.id, g.id),
                    g.column,
                    g.row,
                    g.uri.as_deref(),
                    g.module_key.as_deref(),
                    g.color.as_str(),
                ));
            }
        }
        placed.sort();
        let mut expected = vec![
            (
                gadget_ids[0].clone(),
                0,
                0,
                Some(FILTER_RESULTS),
                None,
                "blue",
            ),
            (gadget_ids[1].clone(), 1, 0, None, Some(ASSIGNED), "green"),
            (
                gadget_ids[2].clone(),
                1,
                1,
                Some(FILTER_RESULTS),
                None,
                "white",
            ),
            (gadget_ids[3].clone(), 0, 0, None, Some(ASSIGNED), "blue"),
            (gadget_ids[4].clone(), 0, 0, None, Some(ASSIGNED), "red"),
        ];
        expected.sort();
        assert_eq!(placed, expected);
        for (id, d) in gadget_ids.iter().zip([1, 1, 1, 2, 0]) {
            assert!(id.starts_with(&format!("{}:", ids[d])), "{id}");
        }
        // Settings: each its gadget's item property, the value its text.
        let properties = |gadget: &str| {
            let (d, g) = gadget.split_once(':').unwrap();
            on_site(&on, d)
                .gadgets
                .iter()
                .find(|x| x.id == g)
                .unwrap()
                .properties
                .clone()
        };
        assert_eq!(
            properties(&gadget_ids[0]),
            BTreeMap::from([
                ("filterId".to_owned(), json!("filter-10042")),
                ("num".to_owned(), json!("10")),
            ])
        );
        assert_eq!(
            properties(&gadget_ids[1]),
            BTreeMap::from([(
                "columnNames".to_owned(),
                json!("issuetype|issuekey|summary")
            )])
        );
        assert_eq!(
            properties(&gadget_ids[3]),
            BTreeMap::from([("isConfigured".to_owned(), json!("true"))])
        );
        assert!(properties(&gadget_ids[2]).is_empty());
        assert_eq!(
            setting_ids,
            [
                format!("{}:filterId", gadget_ids[0]),
                format!("{}:num", gadget_ids[0]),
                format!("{}:columnNames", gadget_ids[1]),
                format!("{}:isConfigured", gadget_ids[3]),
            ]
        );

        // A fresh client finds every record again, as it was answered.
        for (kind, records, answered) in [
            (Kind::Dashboard, &dashboards[..], &ids),
            (Kind::DashboardShare, &share_records[..], &share_ids),
            (Kind::Gadget, &gadgets[..], &gadget_ids),
            (Kind::GadgetPreference, &settings[..], &setting_ids),
        ] {
            let keys: Vec<String> = records.iter().map(source_key).collect();
            let found = client(&double).find_written(kind, &keys).unwrap();
            let expected: Vec<Option<String>> = answered.iter().cloned().map(Some).collect();
            assert_eq!(found, expected, "{kind}");
        }
        // Written again (a rerun), nothing is added.
        let mut again = client(&double);
        assert_eq!(
            ok(&again.write(Kind::DashboardShare, &share_records).unwrap()),
            share_ids
        );
        assert_eq!(
            ok(&again.write(Kind::GadgetPreference, &settings).unwrap()),
            setting_ids
        );
        assert_eq!(double.dashboards(), on);
    }

    /// What Cloud's rules make impossible is said, never dropped: an owner Jira refuses
    /// leaves the dashboard with the migration's account (its id named); a gadget in a
    /// column Cloud's default layout has not goes below the last column's gadgets and is
    /// listed as written differently (and found there again); a gadget that is nothing,
    /// or on a dashboard id that cannot be a path segment, is refused before any request.
    #[test]
    fn refused_owners_and_moved_gadgets_are_reported() {
        let double = CloudDouble::start(DoubleConfig::default()).unwrap();
        let alice = double
            .site()
            .add_user(Some("alice@example.com"), "Alice")
            .unwrap();
        let mut target = client(&double);
        let first = ok(&target
            .write(Kind::Dashboard, &[dashboard("1", "Plans", &alice, false)])
            .unwrap());
        let answers = target
            .write(
                Kind::Dashboard,
                &[
                    dashboard("2", "plans", &alice, false),
                    dashboard("3", "Ghost", "no-such-account", false),
                ],
            )
            .unwrap();
        let me = migration_account(&double);
        let on = double.dashboards();
        for (answer, code) in answers.iter().zip(["duplicate-key", "invalid-reference"]) {
            let e = answer.as_ref().unwrap_err();
            assert_eq!(e.code, code, "{e}");
            assert!(
                e.message.contains("was created (id ")
                    && e.message.contains("owned by the migration's account")
                    && e.message.contains("set its owner in Jira"),
                "{e}"
            );
            assert!(
                !e.message.contains("lans") && !e.message.contains("Ghost"),
                "{e}"
            );
        }
        let owners: BTreeMap<&str, &str> = on
            .iter()
            .map(|d| (d.name.as_str(), d.owner.as_str()))
            .collect();
        assert_eq!(
            owners,
            BTreeMap::from([("Ghost", me.as_str()), ("Plans", &alice), ("plans", &me)])
        );

        let board = &first[0];
        let gadgets = [
            gadget("g-1", board, (0, 0), ("uri", FILTER_RESULTS), "color1"),
            gadget("g-2", board, (2, 1), ("moduleKey", ASSIGNED), "color2"),
            gadget("g-3", board, (1, 0), ("moduleKey", ASSIGNED), "color3"),
            gadget("g-4", board, (2, 0), ("uri", FILTER_RESULTS), "color4"),
            Record::Gadget(Gadget {
                id: "g-5".into(),
                dashboard: board.clone(),
                column: 0,
                row: 1,
                uri: None,
                module_key: Some(String::new()),
                color: "color1".into(),
            }),
            gadget("g-6", "..", (0, 0), ("uri", FILTER_RESULTS), "color1"),
        ];
        let answers = target.write(Kind::Gadget, &gadgets).unwrap();
        let written = ok(&answers[..4]);
        assert_eq!(answers[4].as_ref().unwrap_err().code, "invalid-value");
        assert_eq!(answers[5].as_ref().unwrap_err().code, "invalid-reference");
        let posted = double
            .requests()
            .iter()
            .filter(|r| r.endpoint == "POST /rest/api/3/dashboard/{id}/gadget")
            .count();
        // Four gadgets, and the column-2 one refused once before it moved.
        assert_eq!(posted, 5, "nothing is sent for the two refused");
        let positions: BTreeMap<String, (u32, u32)> = double
            .dashboards()
            .iter()
            .flat_map(|d| {
                d.gadgets
                    .iter()
                    .map(|g| (format!("{}:{}", d.id, g.id), (g.column, g.row)))
                    .collect::<Vec<_>>()
            })
            .collect();
        let at: Vec<(u32, u32)> = written.iter().map(|id| positions[id]).collect();
        // In column order: (2, 0) goes below (1, 0), then (2, 1) below it.
        assert_eq!(at, [(0, 0), (1, 2), (1, 0), (1, 1)]);
        let notices = target.take_notices();
        let moved: Vec<&str> = notices.iter().map(|n| n.source_key.as_str()).collect();
        assert_eq!(moved, ["g-4", "g-2"]);
        for n in &notices {
            assert_eq!((n.kind, n.code), (Kind::Gadget, "gadget-moved"));
            assert!(
                n.message.contains("has no column 3")
                    && n.message.contains("set the dashboard's layout in Jira"),
                "{}",
                n.message
            );
        }
        // Found where they went.
        let keys: Vec<String> = gadgets[..4].iter().map(source_key).collect();
        let found = client(&double).find_written(Kind::Gadget, &keys).unwrap();
        assert_eq!(found, written.iter().cloned().map(Some).collect::<Vec<_>>());
        assert!(
            target
                .caveats()
                .iter()
                .any(|c| c.kind == Kind::Dashboard && c.how.contains("layout")),
            "the analysis says so"
        );
    }
}

mod screens {
    use super::*;
    use airlock_model::jira::{
        FieldId, IssueTypeMapping, IssueTypeScreenScheme, Named, ProjectScheme, SchemeType,
        ScreenField, ScreenOperation, ScreenScheme, ScreenTab,
    };

    fn call(double: &CloudDouble, method: &str, path: &str, body: Value) -> (u16, Value) {
        raw_call(double, method, &format!("/rest/api/3{path}"), &body)
    }

    /// `values` of a page, by `field`.
    fn listed(page: &Value, field: &str) -> Vec<Value> {
        (page["values"].as_array().unwrap().iter())
            .map(|v| v[field].clone())
            .collect()
    }

    /// A tab's or a field list's `name`s, in order.
    fn names(list: &Value) -> Vec<String> {
        (list.as_array().unwrap().iter())
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Screens, tabs, fields, screen schemes, issue type screen schemes and projects'
    /// schemes as Jira Cloud keeps them: Cloud's defaults from the start, names distinct in
    /// any case, a new screen with its "Field Tab", a tab's name its screen's once (a tab
    /// renamed to its own name is no clash), fields appended, once a screen, system fields
    /// Cloud knows and custom fields the site has; schemes with a default and only what the
    /// site has; every project on the default issue type screen scheme until given another.
    #[test]
    fn screens_and_their_schemes_follow_jira_clouds_rules() {
        let double = CloudDouble::start(DoubleConfig::default()).unwrap();
        let points = double
            .site()
            .add_field(
                "Story Points",
                "com.atlassian.jira.plugin.system.customfieldtypes:float",
            )
            .unwrap();
        let project = double.site().add_project("SCR", "Screens").unwrap();

        // Cloud's three screens, each with its one tab.
        let (status, page) = call(&double, "GET", "/screens", Value::Null);
        assert_eq!(status, 200, "{page}");
        assert_eq!(
            listed(&page, "name"),
            [
                json!("Default Screen"),
                json!("Resolve Issue Screen"),
                json!("Workflow Screen")
            ]
        );
        assert_eq!(page["isLast"], true);
        let (_, tabs) = call(&double, "GET", "/screens/1/tabs", Value::Null);
        assert_eq!(names(&tabs), ["Field Tab"]);

        // A screen: created with a "Field Tab"; names distinct in any case, not blank, at
        // most 255 characters.
        let (status, screen) = call(
            &double,
            "POST",
            "/screens",
            json!({ "name": "Bug Screen", "description": "For bugs" }),
        );
        assert_eq!(status, 201, "{screen}");
        assert_eq!(
            (&screen["name"], &screen["description"]),
            (&json!("Bug Screen"), &json!("For bugs"))
        );
        let id = screen["id"].as_i64().expect("a number id, as Cloud");
        let (_, tabs) = call(&double, "GET", &format!("/screens/{id}/tabs"), Value::Null);
        assert_eq!(names(&tabs), ["Field Tab"]);
        let field_tab = tabs[0]["id"].as_i64().unwrap();
        for refused in [
            json!({ "name": "BUG SCREEN" }),
            json!({ "name": "default screen" }),
            json!({ "name": "  " }),
            json!({ "description": "no name" }),
            json!({ "name": "s".repeat(256) }),
        ] {
            assert_eq!(call(&double, "POST", "/screens", refused).0, 400);
        }
        let (_, found) = call(&double, "GET", "/screens?queryString=bug", Value::Null);
        assert_eq!(listed(&found, "id"), [json!(id)]);
        let (_, paged) = call(
            &double,
            "GET",
            "/screens?startAt=3&maxResults=1",
            Value::Null,
        );
        assert_eq!(
            (listed(&paged, "id"), &paged["isLast"]),
            (vec![json!(id)], &json!(true))
        );

        // Tabs: added last, renamed; a name another tab of the screen has is refused.
        let tabs_path = format!("/screens/{id}/tabs");
        let (status, details) = call(&double, "POST", &tabs_path, json!({ "name": "Details" }));
        assert_eq!(status, 200, "{details}");
        let details = details["id"].as_i64().unwrap();
        assert_eq!(
            call(&double, "POST", &tabs_path, json!({ "name": "DETAILS" })).0,
            400
        );
        let main = format!("{tabs_path}/{field_tab}");
        assert_eq!(
            call(&double, "PUT", &main, json!({ "name": "Main" })),
            (200, json!({ "id": field_tab, "name": "Main" }))
        );
        assert_eq!(
            call(&double, "PUT", &main, json!({ "name": "Main" })).0,
            200
        );
        assert_eq!(
            call(
                &double,
                "PUT",
                &format!("{tabs_path}/{details}"),
                json!({ "name": "main" })
            )
            .0,
            400
        );
        assert_eq!(call(&double, "PUT", &main, json!({ "name": "" })).0, 400);
        // A tab of another screen, an unknown screen: 404.
        assert_eq!(
            call(
                &double,
                "PUT",
                &format!("{tabs_path}/1"),
                json!({ "name": "X" })
            )
            .0,
            404
        );
        assert_eq!(
            call(&double, "GET", "/screens/99999/tabs", Value::Null).0,
            404
        );
        assert_eq!(
            call(
                &double,
                "POST",
                "/screens/99999/tabs",
                json!({ "name": "X" })
            )
            .0,
            404
        );
        let (_, tabs) = call(&double, "GET", &tabs_path, Value::Null);
        assert_eq!(names(&tabs), ["Main", "Details"]);
        // The other screens keep their tabs.
        let (_, tabs) = call(&double, "GET", "/screens/1/tabs", Value::Null);
        assert_eq!(names(&tabs), ["Field Tab"]);

        // Fields: appended; once a screen, whichever tab; known fields only.
        let main_fields = format!("{main}/fields");
        let details_fields = format!("{tabs_path}/{details}/fields");
        assert_eq!(
            call(
                &double,
                "POST",
                &main_fields,
                json!({ "fieldId": "summary" })
            ),
            (200, json!({ "id": "summary", "name": "Summary" }))
        );
        assert_eq!(
            call(
                &double,
                "POST",
                &details_fields,
                json!({ "fieldId": points })
            ),
            (200, json!({ "id": points, "name": "Story Points" }))
        );
        assert_eq!(
            call(
                &double,
                "POST",
                &main_fields,
                json!({ "fieldId": "description" })
            )
            .0,
            200
        );
        for (path, refused) in [
            (&details_fields, json!({ "fieldId": "summary" })),
            (&main_fields, json!({ "fieldId": points })),
            (&main_fields, json!({ "fieldId": "nonsense" })),
            (&main_fields, json!({ "fieldId": "customfield_99999" })),
            (&main_fields, json!({})),
        ] {
            assert_eq!(
                call(&double, "POST", path, refused.clone()).0,
                400,
                "{refused}"
            );
        }
        // The same field on another screen is no clash.
        assert_eq!(
            call(
                &double,
                "POST",
                "/screens/1/tabs/1/fields",
                json!({ "fieldId": "summary" })
            )
            .0,
            200
        );
        let (_, on_main) = call(&double, "GET", &main_fields, Value::Null);
        assert_eq!(names(&on_main), ["Summary", "Description"]);
        assert_eq!(
            call(
                &double,
                "GET",
                &format!("{tabs_path}/99999/fields"),
                Value::Null
            )
            .0,
            404
        );

        // Screen schemes: a default screen, known operations and screens, names distinct.
        let (_, default) = call(&double, "GET", "/screenscheme", Value::Null);
        assert_eq!(
            default["values"],
            json!([{
                "id": 1,
                "name": "Default Screen Scheme",
                "description": "Default Screen Scheme",
                "screens": { "default": 1 },
            }])
        );
        let (status, created) = call(
            &double,
            "POST",
            "/screenscheme",
            json!({ "name": "Bug Scheme", "screens": { "default": id, "edit": 1 } }),
        );
        assert_eq!(status, 201, "{created}");
        let scheme = created["id"].as_i64().unwrap();
        for refused in [
            json!({ "name": "bug scheme", "screens": { "default": 1 } }),
            json!({ "name": "No default", "screens": { "edit": 1 } }),
            json!({ "name": "Unknown", "screens": { "default": 99999 } }),
            json!({ "name": "Odd", "screens": { "default": 1, "delete": 1 } }),
            json!({ "name": "None" }),
        ] {
            assert_eq!(
                call(&double, "POST", "/screenscheme", refused.clone()).0,
                400,
                "{refused}"
            );
        }
        let (_, found) = call(&double, "GET", "/screenscheme?queryString=BUG", Value::Null);
        assert_eq!(
            found["values"],
            json!([{
                "id": scheme,
                "name": "Bug Scheme",
                "description": "",
                "screens": { "default": id, "edit": 1 },
            }])
        );

        // Issue type screen schemes: a default mapping, each issue type once, known issue
        // types and screen schemes.
        let mapping = |t: &str, s: Value| json!({ "issueTypeId": t, "screenSchemeId": s });
        let (status, created) = call(
            &double,
            "POST",
            "/issuetypescreenscheme",
            json!({
                "name": "Bug Type Scheme",
                "description": "Bugs apart",
                "issueTypeMappings": [mapping("10001", json!(scheme)), mapping("default", json!("1"))],
            }),
        );
        assert_eq!(status, 201, "{created}");
        let type_scheme = created["id"]
            .as_str()
            .expect("a string id, as Cloud")
            .to_owned();
        for refused in [
            json!({ "name": "bug type scheme", "issueTypeMappings": [mapping("default", json!("1"))] }),
            json!({ "name": "No default", "issueTypeMappings": [mapping("10001", json!("1"))] }),
            json!({ "name": "Twice", "issueTypeMappings": [
                mapping("default", json!("1")), mapping("10001", json!("1")), mapping("10001", json!("1"))
            ] }),
            json!({ "name": "Odd type", "issueTypeMappings": [
                mapping("default", json!("1")), mapping("99999", json!("1"))
            ] }),
            json!({ "name": "Odd scheme", "issueTypeMappings": [mapping("default", json!("99999"))] }),
            json!({ "name": "None" }),
        ] {
            assert_eq!(
                call(&double, "POST", "/issuetypescreenscheme", refused.clone()).0,
                400,
                "{refused}"
            );
        }
        let (_, found) = call(
            &double,
            "GET",
            "/issuetypescreenscheme?queryString=type",
            Value::Null,
        );
        assert_eq!(
            found["values"],
            json!([
                { "id": "1", "name": "Default Issue Type Screen Scheme",
                  "description": "The default issue type screen scheme" },
                { "id": type_scheme, "name": "Bug Type Scheme", "description": "Bugs apart" },
            ])
        );
        let (_, mappings) = call(
            &double,
            "GET",
            &format!("/issuetypescreenscheme/mapping?issueTypeScreenSchemeId={type_scheme}"),
            Value::Null,
        );
        assert_eq!(
            mappings["values"],
            json!([
                { "issueTypeScreenSchemeId": type_scheme, "issueTypeId": "default", "screenSchemeId": "1" },
                { "issueTypeScreenSchemeId": type_scheme, "issueTypeId": "10001",
                  "screenSchemeId": scheme.to_string() },
            ])
        );

        // A project: on the default scheme, then on another; unknown ones are 404.
        let of_project = format!("/issuetypescreenscheme/project?projectId={project}");
        let (_, before) = call(&double, "GET", &of_project, Value::Null);
        assert_eq!(before["values"][0]["issueTypeScreenScheme"]["id"], "1");
        assert_eq!(before["values"][0]["projectIds"], json!([project]));
        let assign = |scheme: &str, project: &str| {
            call(
                &double,
                "PUT",
                "/issuetypescreenscheme/project",
                json!({ "issueTypeScreenSchemeId": scheme, "projectId": project }),
            )
            .0
        };
        assert_eq!(assign(&type_scheme, &project), 204);
        let (_, after) = call(&double, "GET", &of_project, Value::Null);
        assert_eq!(
            after["values"][0]["issueTypeScreenScheme"]["id"],
            json!(type_scheme)
        );
        assert_eq!(assign("99999", &project), 404);
        assert_eq!(assign(&type_scheme, "99999"), 404);
        assert_eq!(
            call(&double, "PUT", "/issuetypescreenscheme/project", json!({})).0,
            400
        );

        // What the double created carries its natural key: nothing twice.
        let mut site = double.site();
        for kind in [
            Kind::Screen,
            Kind::ScreenTab,
            Kind::ScreenField,
            Kind::ScreenScheme,
            Kind::IssueTypeScreenScheme,
            Kind::ProjectScheme,
        ] {
            assert_eq!(site.duplicate_source_keys(kind).unwrap(), 0, "{kind}");
        }
        let read = site.read_screens().unwrap();
        let bug = read.iter().find(|s| s.id == id.to_string()).unwrap();
        let tabs: Vec<(&str, Vec<String>)> = (bug.tabs.iter())
            .map(|t| (t.name.as_str(), t.fields.clone()))
            .collect();
        assert_eq!(
            tabs,
            [
                ("Main", vec!["summary".to_owned(), "description".to_owned()]),
                ("Details", vec![points.clone()]),
            ]
        );
        assert!(bug.tabs.iter().all(|t| t.source_key.is_some()), "{bug:?}");
    }

    fn screen(id: &str, name: &str, description: &str) -> Record {
        Record::Screen(Named {
            id: id.into(),
            name: name.into(),
            description: description.into(),
        })
    }

    fn tab(id: &str, screen: &str, name: &str, position: i64) -> Record {
        Record::ScreenTab(ScreenTab {
            id: id.into(),
            screen: screen.into(),
            name: name.into(),
            position,
        })
    }

    fn field(id: &str, tab: &str, field: &str, position: i64) -> Record {
        Record::ScreenField(ScreenField {
            id: id.into(),
            tab: tab.into(),
            field: FieldId::parse(field),
            position,
        })
    }

    /// Screens, their tabs and fields, screen schemes, issue type screen schemes and a
    /// project's scheme written through the client while writes are applied and then lost
    /// (each loss ends the run; the next reconciles with `find_written`): nothing is
    /// created twice, a source screen named like one of Cloud's arrives as `<name>
    /// (migrated)`, each new screen's "Field Tab" is taken over once by its first tab
    /// (tabs given out of order go in their source order), every field arrives on its tab
    /// in order, and a fresh client finds every record again.
    #[test]
    fn screens_cut_short_arrive_once_with_every_field() {
        let double = CloudDouble::start(DoubleConfig::default()).unwrap();
        let points = double
            .site()
            .add_field(
                "Story Points",
                "com.atlassian.jira.plugin.system.customfieldtypes:float",
            )
            .unwrap();
        let project = double.site().add_project("SCR", "Screens").unwrap();
        double.set_faults(Faults {
            seed: 23,
            fail_after_apply: 0.15,
            drop_after_apply: 0.1,
            ..Faults::default()
        });
        let mut crashes = 0;
        let mut write = |kind: Kind, records: &[Record]| {
            let (answers, cut) = write_through_crashes(&double, kind, records);
            crashes += cut;
            ok(&answers)
        };

        let screens = [
            screen("1", "Default Screen", "Allows to update all system fields."),
            screen("10000", "SCR: Bug Screen", ""),
            screen("10001", "SCR: Lone Screen", "One tab, not Cloud's name"),
        ];
        let screen_ids = write(Kind::Screen, &screens);
        // Out of order: the client writes a screen's tabs in their source order.
        let tabs = [
            tab("t-3", &screen_ids[1], "Time tracking", 2),
            tab("t-1", &screen_ids[1], "Main", 0),
            tab("t-2", &screen_ids[1], "Details", 1),
            tab("t-4", &screen_ids[0], "Field Tab", 0),
            tab("t-5", &screen_ids[0], "More", 1),
            tab("t-6", &screen_ids[2], "Only", 0),
        ];
        let tab_ids = write(Kind::ScreenTab, &tabs);
        let fields = [
            field("f-1", &tab_ids[1], "summary", 0),
            field("f-2", &tab_ids[1], "issuetype", 1),
            field("f-3", &tab_ids[1], "description", 2),
            field("f-4", &tab_ids[1], "assignee", 3),
            field("f-5", &tab_ids[2], &points, 0),
            field("f-6", &tab_ids[2], "labels", 1),
            field("f-7", &tab_ids[0], "timetracking", 0),
            field("f-8", &tab_ids[3], "summary", 0),
            field("f-9", &tab_ids[3], "priority", 1),
            field("f-10", &tab_ids[4], &points, 0),
            field("f-11", &tab_ids[5], "summary", 0),
        ];
        assert_eq!(write(Kind::ScreenField, &fields), vec![""; fields.len()]);
        let schemes = [
            Record::ScreenScheme(ScreenScheme {
                id: "1".into(),
                name: "Default Screen Scheme".into(),
                description: "Default Screen Scheme".into(),
                screens: vec![(ScreenOperation::Default, screen_ids[0].clone())],
            }),
            Record::ScreenScheme(ScreenScheme {
                id: "10000".into(),
                name: "SCR: Bug Screen Scheme".into(),
                description: String::new(),
                screens: vec![
                    (ScreenOperation::Default, screen_ids[1].clone()),
                    (ScreenOperation::Create, screen_ids[2].clone()),
                    (ScreenOperation::View, screen_ids[0].clone()),
                ],
            }),
        ];
        let scheme_ids = write(Kind::ScreenScheme, &schemes);
        let type_schemes = [
            Record::IssueTypeScreenScheme(IssueTypeScreenScheme {
                id: "1".into(),
                name: "Default Issue Type Screen Scheme".into(),
                description: "The default issue type screen scheme".into(),
                mappings: vec![IssueTypeMapping {
                    issue_type: None,
                    screen_scheme: scheme_ids[0].clone(),
                }],
            }),
            Record::IssueTypeScreenScheme(IssueTypeScreenScheme {
                id: "10000".into(),
                name: "SCR: Issue Type Screen Scheme".into(),
                description: "Bugs apart".into(),
                mappings: vec![
                    IssueTypeMapping {
                        issue_type: None,
                        screen_scheme: scheme_ids[1].clone(),
                    },
                    IssueTypeMapping {
                        issue_type: Some("10001".into()),
                        screen_scheme: scheme_ids[0].clone(),
                    },
                ],
            }),
        ];
        let type_scheme_ids = write(Kind::IssueTypeScreenScheme, &type_schemes);
        let uses = [Record::ProjectScheme(ProjectScheme {
            id: "10000/issue-type-screen".into(),
            project: project.clone(),
            scheme_type: SchemeType::IssueTypeScreen,
            scheme: type_scheme_ids[1].clone(),
        })];
        assert_eq!(write(Kind::ProjectScheme, &uses), [""]);
        double.set_faults(Faults::default());
        let stats = double.stats();
        assert!(
            crashes > 0 && stats.failed_after_apply + stats.dropped_after_apply > 0,
            "no write was lost: {stats:?}"
        );

        // Each screen once, with the source's tabs and no other: the tab Cloud gave it is
        // its first tab's (the screen's lowest tab id), renamed where the names differ.
        let mut site = double.site();
        let on_site = site.read_screens().unwrap();
        // Sorted: screens are written concurrently, so the target's ids need not follow
        // the source's order.
        let mut migrated: Vec<&str> = (on_site.iter())
            .filter(|s| s.source_key.is_some())
            .map(|s| s.name.as_str())
            .collect();
        migrated.sort_unstable();
        assert_eq!(
            migrated,
            [
                "Default Screen (migrated)",
                "SCR: Bug Screen",
                "SCR: Lone Screen"
            ]
        );
        let of = |id: &str| on_site.iter().find(|s| s.id == id).unwrap();
        let layout = |id: &str| -> Vec<(String, Vec<String>)> {
            (of(id).tabs.iter())
                .map(|t| (t.name.clone(), t.fields.clone()))
                .collect()
        };
        let strings = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            layout(&screen_ids[1]),
            [
                (
                    "Main".to_owned(),
                    strings(&["summary", "issuetype", "description", "assignee"])
                ),
                (
                    "Details".to_owned(),
                    vec![points.clone(), "labels".to_owned()]
                ),
                ("Time tracking".to_owned(), strings(&["timetracking"])),
            ]
        );
        assert_eq!(
            layout(&screen_ids[0]),
            [
                ("Field Tab".to_owned(), strings(&["summary", "priority"])),
                ("More".to_owned(), vec![points.clone()]),
            ]
        );
        assert_eq!(
            layout(&screen_ids[2]),
            [("Only".to_owned(), strings(&["summary"]))]
        );
        for (i, first) in [(0, 3), (1, 1), (2, 5)] {
            let lowest = (of(&screen_ids[i]).tabs.iter())
                .map(|t| t.id.parse::<i64>().unwrap())
                .min()
                .unwrap();
            assert_eq!(
                tab_ids[first],
                format!("{}:{lowest}", screen_ids[i]),
                "the tab Cloud gave screen {}",
                screen_ids[i]
            );
        }
        // Cloud's own screen is as it was.
        assert_eq!(
            layout("1"),
            [("Field Tab".to_owned(), Vec::<String>::new())]
        );

        // The schemes, renamed where Cloud has one of that name, with what they map.
        let schemes_on_site = site.read_screen_schemes().unwrap();
        let scheme = |id: &str| schemes_on_site.iter().find(|s| s.id == id).unwrap();
        assert_eq!(
            scheme(&scheme_ids[0]).name,
            "Default Screen Scheme (migrated)"
        );
        assert_eq!(
            scheme(&scheme_ids[1]).entries,
            [
                ("default".to_owned(), screen_ids[1].clone()),
                ("create".to_owned(), screen_ids[2].clone()),
                ("view".to_owned(), screen_ids[0].clone()),
            ]
        );
        let type_schemes_on_site = site.read_issue_type_screen_schemes().unwrap();
        let type_scheme = |id: &str| type_schemes_on_site.iter().find(|s| s.id == id).unwrap();
        assert_eq!(
            type_scheme(&type_scheme_ids[0]).name,
            "Default Issue Type Screen Scheme (migrated)"
        );
        let bugs = type_scheme(&type_scheme_ids[1]);
        assert_eq!(
            (&bugs.entries, &bugs.projects),
            (
                &vec![
                    ("default".to_owned(), scheme_ids[1].clone()),
                    ("10001".to_owned(), scheme_ids[0].clone()),
                ],
                &vec![project.clone()]
            )
        );
        for kind in [
            Kind::Screen,
            Kind::ScreenTab,
            Kind::ScreenField,
            Kind::ScreenScheme,
            Kind::IssueTypeScreenScheme,
            Kind::ProjectScheme,
        ] {
            assert_eq!(site.duplicate_source_keys(kind).unwrap(), 0, "{kind}");
        }
        drop(site);

        // A fresh client finds every record again; fields and the project's scheme are
        // written again rather than found (nothing is added twice).
        let mut fresh = client(&double);
        for (kind, records, ids) in [
            (Kind::Screen, &screens[..], &screen_ids),
            (Kind::ScreenTab, &tabs[..], &tab_ids),
            (Kind::ScreenScheme, &schemes[..], &scheme_ids),
            (
                Kind::IssueTypeScreenScheme,
                &type_schemes[..],
                &type_scheme_ids,
            ),
        ] {
            let keys: Vec<String> = records.iter().map(source_key).collect();
            let found: Vec<String> = (fresh.find_written(kind, &keys).unwrap().into_iter())
                .map(Option::unwrap)
                .collect();
            assert_eq!(&found, ids, "{kind}");
        }
        let before = double.site().read_screens().unwrap();
        assert_eq!(
            ok(&fresh.write(Kind::ScreenField, &fields).unwrap()),
            vec![""; fields.len()]
        );
        assert_eq!(ok(&fresh.write(Kind::ProjectScheme, &uses).unwrap()), [""]);
        assert_eq!(double.site().read_screens().unwrap(), before);
        // A tab written again is its screen's tab of that name, not a new one.
        assert_eq!(ok(&fresh.write(Kind::ScreenTab, &tabs).unwrap()), tab_ids);
        assert_eq!(double.site().read_screens().unwrap(), before);
    }
}

mod field_configurations {
    use super::*;
    use airlock_model::jira::{
        FieldConfigurationItem, FieldConfigurationMapping, FieldConfigurationScheme, FieldId,
        Named, ProjectScheme, SchemeType,
    };

    fn call(double: &CloudDouble, method: &str, path: &str, body: Value) -> (u16, Value) {
        raw_call(double, method, &format!("/rest/api/3{path}"), &body)
    }

    fn values(page: &Value) -> Vec<Value> {
        page["values"].as_array().unwrap().clone()
    }

    /// A configuration's fields as Cloud lists them, by id (every page).
    fn fields_of(double: &CloudDouble, configuration: &str) -> BTreeMap<String, Value> {
        let mut out = BTreeMap::new();
        loop {
            let path = format!(
                "/fieldconfiguration/{configuration}/fields?startAt={}&maxResults=50",
                out.len()
            );
            let (status, page) = call(double, "GET", &path, Value::Null);
            assert_eq!(status, 200, "{page}");
            for f in values(&page) {
                out.insert(f["id"].as_str().unwrap().to_owned(), f);
            }
            if page["isLast"] == true {
                return out;
            }
        }
    }

    /// A scheme's mappings: (issue type or `default`, configuration).
    fn mappings_of(double: &CloudDouble, scheme: &str) -> Vec<(String, String)> {
        let path = format!("/fieldconfigurationscheme/mapping?fieldConfigurationSchemeId={scheme}");
        let (status, page) = call(double, "GET", &path, Value::Null);
        assert_eq!(status, 200, "{page}");
        values(&page)
            .iter()
            .map(|m| {
                assert_eq!(m["fieldConfigurationSchemeId"], json!(scheme));
                (
                    m["issueTypeId"].as_str().unwrap().to_owned(),
                    m["fieldConfigurationId"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    /// The scheme project `project` uses, as Cloud answers it (`None`: the system default).
    fn project_scheme(double: &CloudDouble, project: &str) -> Option<String> {
        let path = format!("/fieldconfigurationscheme/project?projectId={project}");
        let (status, page) = call(double, "GET", &path, Value::Null);
        assert_eq!(status, 200, "{page}");
        let groups = values(&page);
        assert_eq!(groups.len(), 1, "{page}");
        assert_eq!(groups[0]["projectIds"], json!([project]));
        groups[0]["fieldConfigurationScheme"]["id"]
            .as_str()
            .map(str::to_owned)
    }

    /// Field configurations, their fields, schemes and projects' schemes as Jira Cloud
    /// keeps them: Cloud's default configuration from the start and read-only, names
    /// distinct in any case, every field of the site listed with its settings, a `PUT` of at
    /// most 100 fields the site has with Cloud's renderers replacing the settings it names,
    /// all or none; a new scheme mapping every issue type to the default, `PUT …/mapping`
    /// replacing the issue types it names with what the site has; a project on the system
    /// default until given a scheme, and back on it with none.
    #[test]
    fn field_configurations_follow_jira_clouds_rules() {
        let double = CloudDouble::start(DoubleConfig::default()).unwrap();
        let points = double
            .site()
            .add_field(
                "Story Points",
                "com.atlassian.jira.plugin.system.customfieldtypes:float",
            )
            .unwrap();
        let project = double.site().add_project("FCS", "Fields").unwrap();

        // Cloud's default configuration, flagged.
        let (status, page) = call(&double, "GET", "/fieldconfiguration", Value::Null);
        assert_eq!(status, 200, "{page}");
        assert_eq!(
            values(&page),
            [json!({
                "id": 10000,
                "name": "Default Field Configuration",
                "description": "The default field configuration",
                "isDefault": true,
            })]
        );

        // A configuration: names distinct in any case, not blank, at most 255 characters.
        let (status, created) = call(
            &double,
            "POST",
            "/fieldconfiguration",
            json!({ "name": "Bug Fields", "description": "For bugs" }),
        );
        assert_eq!(status, 200, "{created}");
        assert_eq!(
            (&created["name"], &created["description"]),
            (&json!("Bug Fields"), &json!("For bugs"))
        );
        let configuration = created["id"].as_i64().expect("a number id, as Cloud");
        let configuration = configuration.to_string();
        for refused in [
            json!({ "name": "BUG FIELDS" }),
            json!({ "name": "default field configuration" }),
            json!({ "name": "  " }),
            json!({ "description": "no name" }),
            json!({ "name": "f".repeat(256) }),
        ] {
            let (status, body) = call(&double, "POST", "/fieldconfiguration", refused);
            assert_eq!(status, 400, "{body}");
        }
        let (_, found) = call(&double, "GET", "/fieldconfiguration?query=bug", Value::Null);
        assert_eq!(values(&found).len(), 1);
        assert_eq!(values(&found)[0]["isDefault"], false);

        // Every field of the site, at its defaults.
        let fields = fields_of(&double, &configuration);
        assert!(fields.len() > 20, "{fields:?}");
        assert_eq!(
            fields[&points],
            json!({ "id": points, "description": "", "isHidden": false, "isRequired": false })
        );
        assert!(fields.contains_key("summary") && fields.contains_key("environment"));

        // Settings replaced, those not named left as they were.
        let put = |configuration: &str, items: Value| {
            call(
                &double,
                "PUT",
                &format!("/fieldconfiguration/{configuration}/fields"),
                json!({ "fieldConfigurationItems": items }),
            )
        };
        let (status, body) = put(
            &configuration,
            json!([
                { "id": "environment", "description": "Where", "isRequired": true,
                  "renderer": "wiki-renderer" },
                { "id": points, "isHidden": true },
            ]),
        );
        assert_eq!(status, 204, "{body}");
        let (status, _) = put(
            &configuration,
            json!([{ "id": "environment", "renderer": "text-renderer" }]),
        );
        assert_eq!(status, 204);
        let fields = fields_of(&double, &configuration);
        assert_eq!(
            fields["environment"],
            json!({ "id": "environment", "description": "Where", "isHidden": false,
                    "isRequired": true, "renderer": "text-renderer" })
        );
        assert_eq!(fields[&points]["isHidden"], true);

        // All or none: an unknown field, a renderer Cloud has not, a field twice, more
        // than 100; Cloud's default configuration is read-only; an unknown one is 404.
        let many: Vec<Value> = (0..101).map(|_| json!({ "id": "summary" })).collect();
        for refused in [
            json!([{ "id": "duedate", "isRequired": true }, { "id": "customfield_99999" }]),
            json!([{ "id": "duedate", "isRequired": true }, { "id": "nosuchfield" }]),
            json!([{ "id": "description", "renderer": "frother-control-renderer" }]),
            json!([{ "id": "duedate" }, { "id": "duedate" }]),
            json!([{ "id": "duedate", "isHidden": "yes" }]),
            Value::Array(many),
        ] {
            let (status, body) = put(&configuration, refused);
            assert_eq!(status, 400, "{body}");
        }
        assert_eq!(
            fields_of(&double, &configuration),
            fields,
            "nothing applied"
        );
        let (status, body) = put("10000", json!([{ "id": "duedate", "isRequired": true }]));
        assert_eq!(status, 400, "{body}");
        assert_eq!(fields_of(&double, "10000")["duedate"]["isRequired"], false);
        assert_eq!(put("99999", json!([{ "id": "duedate" }])).0, 404);
        assert_eq!(put("x", json!([{ "id": "duedate" }])).0, 404);

        // A scheme: names distinct in any case; created with every issue type on the
        // default configuration.
        let (status, scheme) = call(
            &double,
            "POST",
            "/fieldconfigurationscheme",
            json!({ "name": "Bug Scheme", "description": "Bugs apart" }),
        );
        assert_eq!(status, 201, "{scheme}");
        let scheme = scheme["id"]
            .as_str()
            .expect("a text id, as Cloud")
            .to_owned();
        for refused in [json!({ "name": "bug scheme" }), json!({ "name": "" })] {
            assert_eq!(
                call(&double, "POST", "/fieldconfigurationscheme", refused).0,
                400
            );
        }
        let (_, listed) = call(&double, "GET", "/fieldconfigurationscheme", Value::Null);
        assert_eq!(
            values(&listed),
            [json!({ "id": scheme, "name": "Bug Scheme", "description": "Bugs apart" })]
        );
        assert_eq!(
            mappings_of(&double, &scheme),
            [("default".to_owned(), "10000".to_owned())]
        );

        // Mappings: those named replaced, the others kept; only what the site has.
        let map = |scheme: &str, mappings: Value| {
            call(
                &double,
                "PUT",
                &format!("/fieldconfigurationscheme/{scheme}/mapping"),
                json!({ "mappings": mappings }),
            )
        };
        let (status, body) = map(
            &scheme,
            json!([{ "issueTypeId": "10001", "fieldConfigurationId": configuration }]),
        );
        assert_eq!(status, 204, "{body}");
        let (status, _) = map(
            &scheme,
            json!([
                { "issueTypeId": "default", "fieldConfigurationId": configuration },
                { "issueTypeId": "10002", "fieldConfigurationId": "10000" },
            ]),
        );
        assert_eq!(status, 204);
        let expected = [
            ("default".to_owned(), configuration.clone()),
            ("10001".to_owned(), configuration.clone()),
            ("10002".to_owned(), "10000".to_owned()),
        ];
        assert_eq!(mappings_of(&double, &scheme), expected);
        for refused in [
            json!([{ "issueTypeId": "99999", "fieldConfigurationId": "10000" }]),
            json!([{ "issueTypeId": "10003", "fieldConfigurationId": "99999" }]),
            json!([{ "fieldConfigurationId": "10000" }]),
            json!([
                { "issueTypeId": "10003", "fieldConfigurationId": "10000" },
                { "issueTypeId": "10003", "fieldConfigurationId": configuration },
            ]),
        ] {
            let (status, body) = map(&scheme, refused);
            assert_eq!(status, 400, "{body}");
        }
        assert_eq!(mappings_of(&double, &scheme), expected, "nothing applied");
        assert_eq!(map("99999", json!([])).0, 404);

        // A project: on the system default, then the scheme, then back.
        assert_eq!(project_scheme(&double, &project), None);
        let assign = |body: Value| call(&double, "PUT", "/fieldconfigurationscheme/project", body);
        let (status, body) =
            assign(json!({ "fieldConfigurationSchemeId": scheme, "projectId": project }));
        assert_eq!(status, 204, "{body}");
        assert_eq!(project_scheme(&double, &project), Some(scheme.clone()));
        assert_eq!(
            assign(json!({ "fieldConfigurationSchemeId": "99999", "projectId": project })).0,
            404
        );
        assert_eq!(
            assign(json!({ "fieldConfigurationSchemeId": scheme, "projectId": "99999" })).0,
            404
        );
        assert_eq!(project_scheme(&double, &project), Some(scheme.clone()));
        let (status, _) =
            assign(json!({ "fieldConfigurationSchemeId": null, "projectId": project }));
        assert_eq!(status, 204);
        assert_eq!(project_scheme(&double, &project), None);

        // What the double created, once each.
        let mut site = double.site();
        for kind in [
            Kind::FieldConfiguration,
            Kind::FieldConfigurationItem,
            Kind::FieldConfigurationScheme,
            Kind::ProjectScheme,
        ] {
            assert_eq!(site.duplicate_source_keys(kind).unwrap(), 0, "{kind}");
        }
    }

    fn configuration(id: &str, name: &str, description: &str) -> Record {
        Record::FieldConfiguration(Named {
            id: id.into(),
            name: name.into(),
            description: description.into(),
        })
    }

    fn setting(
        id: &str,
        configuration: &str,
        field: &str,
        hidden: bool,
        required: bool,
        renderer: &str,
    ) -> Record {
        Record::FieldConfigurationItem(FieldConfigurationItem {
            id: id.into(),
            configuration: configuration.into(),
            field: FieldId::parse(field),
            description: format!("about {field}"),
            hidden,
            required,
            renderer: renderer.into(),
        })
    }

    fn scheme(id: &str, name: &str, mappings: &[(Option<&str>, Option<&str>)]) -> Record {
        Record::FieldConfigurationScheme(FieldConfigurationScheme {
            id: id.into(),
            name: name.into(),
            description: format!("{name}, as the source has it"),
            mappings: mappings
                .iter()
                .map(|(issue_type, configuration)| FieldConfigurationMapping {
                    issue_type: issue_type.map(str::to_owned),
                    configuration: configuration.map(str::to_owned),
                })
                .collect(),
        })
    }

    /// Field configurations, 130 fields' settings, schemes and a project's scheme written
    /// through the client while writes are applied and then lost (each loss ends the run;
    /// the next reconciles with `find_written`): nothing is created twice, a configuration
    /// named like Cloud's default arrives as `<name> (migrated)`, every field's settings
    /// arrive (over 100 in one configuration: two calls), a renderer Cloud has not is left
    /// to Cloud's default with a notice, an unknown field is refused alone, a scheme's
    /// mappings arrive (the site's default as Cloud's) even when the scheme was found
    /// again, one whose mappings Cloud refuses is refused and never made twice, and a fresh
    /// client finds every record again.
    #[test]
    fn field_configurations_cut_short_arrive_once_with_every_setting() {
        let double = CloudDouble::start(DoubleConfig::default()).unwrap();
        let custom: Vec<String> = (0..110)
            .map(|n| {
                double
                    .site()
                    .add_field(
                        &format!("Field {n}"),
                        "com.atlassian.jira.plugin.system.customfieldtypes:textfield",
                    )
                    .unwrap()
            })
            .collect();
        let project = double.site().add_project("FCS", "Fields").unwrap();
        double.set_faults(Faults {
            seed: 29,
            fail_after_apply: 0.15,
            drop_after_apply: 0.1,
            ..Faults::default()
        });
        let mut crashes = 0;
        let mut write = |kind: Kind, records: &[Record]| {
            let (answers, cut) = write_through_crashes(&double, kind, records);
            crashes += cut;
            answers
        };

        let configurations = [
            configuration(
                "10000",
                "Default Field Configuration",
                "The source's default",
            ),
            configuration("10100", "FCS Field Configuration", ""),
        ];
        let configuration_ids = ok(&write(Kind::FieldConfiguration, &configurations));
        let (default, own) = (&configuration_ids[0], &configuration_ids[1]);
        let mut settings = vec![
            setting("1", default, "summary", false, true, "jira-text-renderer"),
            setting(
                "2",
                default,
                "description",
                false,
                false,
                "atlassian-wiki-renderer",
            ),
            setting(
                "3",
                default,
                "labels",
                false,
                false,
                "frother-control-renderer",
            ),
            setting("4", default, "duedate", true, false, ""),
            setting(
                "5",
                own,
                "environment",
                false,
                true,
                "atlassian-wiki-renderer",
            ),
        ];
        for (n, field) in custom.iter().enumerate() {
            let renderer = if n % 2 == 0 { "jira-text-renderer" } else { "" };
            let id = format!("c-{n}");
            settings.push(setting(&id, own, field, n % 7 == 0, n % 5 == 0, renderer));
        }
        settings.push(setting("9", own, "customfield_99999", true, false, ""));
        let answers = write(Kind::FieldConfigurationItem, &settings);
        let unknown = answers.len() - 1;
        assert_eq!(
            answers[unknown].as_ref().unwrap_err().code,
            "invalid-reference",
            "{:?}",
            answers[unknown]
        );
        for (a, r) in answers[..unknown].iter().zip(&settings) {
            let Record::FieldConfigurationItem(i) = r else {
                unreachable!()
            };
            let id = a.as_ref().unwrap();
            assert_eq!(id, &format!("{}:{}", i.configuration, i.field.key()));
        }

        let schemes = [
            scheme(
                "10000",
                "FCS Field Configuration Scheme",
                &[
                    (None, Some(own)),
                    (Some("10001"), None),
                    (Some("10002"), Some(default)),
                ],
            ),
            scheme("10001", "Defaults", &[(None, None)]),
        ];
        let scheme_ids = ok(&write(Kind::FieldConfigurationScheme, &schemes));
        let uses = [Record::ProjectScheme(ProjectScheme {
            id: "10000/field-configuration".into(),
            project: project.clone(),
            scheme_type: SchemeType::FieldConfiguration,
            scheme: scheme_ids[0].clone(),
        })];
        assert_eq!(ok(&write(Kind::ProjectScheme, &uses)), [""]);
        double.set_faults(Faults::default());
        let stats = double.stats();
        assert!(
            crashes > 0 && stats.failed_after_apply + stats.dropped_after_apply > 0,
            "no write was lost: {stats:?}"
        );

        // Each configuration once, with every setting; Cloud's own as it was.
        let mut site = double.site();
        let on_site = site.read_field_configurations().unwrap();
        // Written in parallel: in any order.
        let mut names: Vec<(&str, bool)> = (on_site.iter())
            .map(|c| (c.name.as_str(), c.source_key.is_some()))
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                ("Default Field Configuration", false),
                ("Default Field Configuration (migrated)", true),
                ("FCS Field Configuration", true),
            ]
        );
        assert!(
            on_site
                .iter()
                .any(|c| c.id == "10000" && c.items.is_empty())
        );
        let of = |id: &str| on_site.iter().find(|c| c.id == id).unwrap();
        let mut expected: Vec<(String, String, String, bool, bool, String)> = settings[..unknown]
            .iter()
            .map(|r| {
                let Record::FieldConfigurationItem(i) = r else {
                    unreachable!()
                };
                (
                    i.configuration.clone(),
                    i.field.key(),
                    i.description.clone(),
                    i.hidden,
                    i.required,
                    cloud_renderer(&i.renderer).to_owned(),
                )
            })
            .collect();
        expected.sort();
        let mut got: Vec<(String, String, String, bool, bool, String)> = [default, own]
            .into_iter()
            .flat_map(|c| {
                of(c)
                    .items
                    .iter()
                    .map(|(f, d, h, r, x)| (c.clone(), f.clone(), d.clone(), *h, *r, x.clone()))
            })
            .collect();
        got.sort();
        assert_eq!(got, expected);

        // The schemes with their mappings (the site's default is Cloud's), and the
        // project's.
        let schemes_on_site = site.read_field_configuration_schemes().unwrap();
        let entries = |id: &str| -> Vec<(String, String)> {
            schemes_on_site
                .iter()
                .find(|s| s.id == id)
                .unwrap()
                .entries
                .clone()
        };
        let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        assert_eq!(
            entries(&scheme_ids[0]),
            [
                pair("default", own),
                pair("10001", "10000"),
                pair("10002", default),
            ]
        );
        assert_eq!(entries(&scheme_ids[1]), [pair("default", "10000")]);
        let bugs = schemes_on_site
            .iter()
            .find(|s| s.id == scheme_ids[0])
            .unwrap();
        assert_eq!(bugs.projects, std::slice::from_ref(&project));
        for kind in [
            Kind::FieldConfiguration,
            Kind::FieldConfigurationItem,
            Kind::FieldConfigurationScheme,
            Kind::ProjectScheme,
        ] {
            assert_eq!(site.duplicate_source_keys(kind).unwrap(), 0, "{kind}");
        }
        drop(site);

        // A fresh client finds every configuration and scheme again; settings and the
        // project's scheme are written again, changing nothing.
        let mut fresh = client(&double);
        for (kind, records, ids) in [
            (
                Kind::FieldConfiguration,
                &configurations[..],
                &configuration_ids,
            ),
            (Kind::FieldConfigurationScheme, &schemes[..], &scheme_ids),
        ] {
            let keys: Vec<String> = records.iter().map(source_key).collect();
            let found: Vec<String> = (fresh.find_written(kind, &keys).unwrap().into_iter())
                .map(Option::unwrap)
                .collect();
            assert_eq!(&found, ids, "{kind}");
        }
        let before = {
            let mut site = double.site();
            (
                site.read_field_configurations().unwrap(),
                site.read_field_configuration_schemes().unwrap(),
            )
        };
        let again = fresh
            .write(Kind::FieldConfigurationItem, &settings[..unknown])
            .unwrap();
        assert_eq!(again.len(), unknown);
        assert!(again.iter().all(Result::is_ok), "{again:?}");
        assert_eq!(ok(&fresh.write(Kind::ProjectScheme, &uses).unwrap()), [""]);
        let after = {
            let mut site = double.site();
            (
                site.read_field_configurations().unwrap(),
                site.read_field_configuration_schemes().unwrap(),
            )
        };
        assert_eq!(after, before);
        // The renderer Cloud has not: left to Cloud's default, reported.
        let notices = fresh.take_notices();
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert_eq!(
            (
                notices[0].kind,
                notices[0].source_key.as_str(),
                notices[0].code
            ),
            (Kind::FieldConfigurationItem, "3", "renderer-not-kept")
        );

        // A scheme whose mappings Cloud refuses (an issue type the site has not): refused
        // with Jira's reason, by this client and by a fresh one after finding it, and made
        // once.
        let broken = [scheme(
            "10002",
            "Broken",
            &[(None, None), (Some("99999"), Some(own))],
        )];
        let refused = fresh
            .write(Kind::FieldConfigurationScheme, &broken)
            .unwrap();
        assert_eq!(refused[0].as_ref().unwrap_err().code, "invalid-reference");
        let refused = fresh
            .write(Kind::FieldConfigurationScheme, &broken)
            .unwrap();
        assert!(refused[0].is_err(), "{refused:?}");
        let mut other = client(&double);
        assert_eq!(
            other
                .find_written(Kind::FieldConfigurationScheme, &[source_key(&broken[0])])
                .unwrap(),
            [None]
        );
        let refused = other
            .write(Kind::FieldConfigurationScheme, &broken)
            .unwrap();
        assert!(refused[0].is_err(), "{refused:?}");
        let named = |name: &str| {
            (double
                .site()
                .read_field_configuration_schemes()
                .unwrap()
                .iter())
            .filter(|s| s.name.starts_with(name))
            .count()
        };
        assert_eq!(named("Broken"), 1);
    }
}

mod workflows {
    use super::*;
    use airlock_model::jira::{
        IssueTypeScheme, ProjectScheme, SchemeType, TransitionKind, Workflow, WorkflowMapping,
        WorkflowScheme, WorkflowStep, WorkflowTransition,
    };

    fn call(double: &CloudDouble, method: &str, path: &str, body: Value) -> (u16, Value) {
        raw_call(double, method, &format!("/rest/api/3{path}"), &body)
    }

    /// `values` of a page, by `field`.
    fn listed(page: &Value, field: &str) -> Vec<Value> {
        (page["values"].as_array().unwrap().iter())
            .map(|v| v[field].clone())
            .collect()
    }

    /// A workflow's create of Cloud's workflow API over the site's three statuses (`todo`,
    /// `doing`, `done`), with `transitions`.
    fn create_body(name: &str, transitions: Value) -> Value {
        let status = |id: &str, name: &str, category: &str, reference: &str| json!({ "id": id, "name": name, "statusCategory": category, "statusReference": reference });
        json!({
            "scope": { "type": "GLOBAL" },
            "statuses": [
                status("10000", "To Do", "TODO", "todo"),
                status("10001", "In Progress", "IN_PROGRESS", "doing"),
                status("10002", "Done", "DONE", "done"),
            ],
            "workflows": [{
                "name": name,
                "description": "As the team works",
                "statuses": [
                    { "statusReference": "todo", "properties": {} },
                    { "statusReference": "doing", "properties": {} },
                    { "statusReference": "done", "properties": {} },
                ],
                "transitions": transitions,
            }],
        })
    }

    /// A transition as Cloud's workflow API takes it.
    fn raw_transition(id: &str, name: &str, kind: &str, from: &[&str], to: &str) -> Value {
        let links: Vec<Value> = (from.iter())
            .map(|f| json!({ "fromStatusReference": f }))
            .collect();
        json!({ "id": id, "name": name, "type": kind, "toStatusReference": to, "links": links })
    }

    /// A workflow's transitions Cloud takes: created, started (with a screen), finished
    /// from two statuses, reopened from anywhere.
    fn good_transitions() -> Vec<Value> {
        let mut start = raw_transition("11", "Start", "DIRECTED", &["todo"], "doing");
        start["transitionScreen"] = json!({
            "ruleKey": "system:transition-screen",
            "parameters": { "screenId": "1" },
        });
        vec![
            raw_transition("1", "Create", "INITIAL", &[], "todo"),
            start,
            raw_transition("21", "Finish", "DIRECTED", &["todo", "doing"], "done"),
            raw_transition("31", "Reopen", "GLOBAL", &[], "todo"),
        ]
    }

    fn step(id: &str, status: &str) -> WorkflowStep {
        WorkflowStep {
            id: id.into(),
            name: format!("Step {id}"),
            status: status.into(),
        }
    }

    fn transition(
        id: &str,
        name: &str,
        kind: TransitionKind,
        from: &[&str],
        to: &str,
        screen: Option<&str>,
    ) -> WorkflowTransition {
        WorkflowTransition {
            id: id.into(),
            name: name.into(),
            description: format!("{name}, as the source has it"),
            kind,
            from: from.iter().map(|f| (*f).to_owned()).collect(),
            to: to.into(),
            screen: screen.map(str::to_owned),
        }
    }

    /// A workflow over the site's three statuses (steps 1, 2, 3), with `transitions`.
    fn workflow(id: &str, name: &str, transitions: Vec<WorkflowTransition>) -> Record {
        Record::Workflow(Workflow {
            id: id.into(),
            name: name.into(),
            description: format!("{name}: the team's"),
            steps: vec![step("1", "10000"), step("2", "10001"), step("3", "10002")],
            transitions,
        })
    }

    /// Created, started (screen `screen`), finished from steps 1 and 2, reopened from
    /// anywhere.
    fn transitions(screen: &str) -> Vec<WorkflowTransition> {
        vec![
            transition("1", "Create", TransitionKind::Initial, &[], "1", None),
            transition(
                "11",
                "Start",
                TransitionKind::Directed,
                &["1"],
                "2",
                Some(screen),
            ),
            transition(
                "21",
                "Finish",
                TransitionKind::Directed,
                &["1", "2"],
                "3",
                None,
            ),
            transition("31", "Reopen", TransitionKind::Global, &[], "1", None),
        ]
    }

    fn workflow_scheme(id: &str, name: &str, mappings: &[(Option<&str>, Option<&str>)]) -> Record {
        Record::WorkflowScheme(WorkflowScheme {
            id: id.into(),
            name: name.into(),
            description: format!("{name}, as the source has it"),
            mappings: (mappings.iter())
                .map(|(issue_type, workflow)| WorkflowMapping {
                    issue_type: issue_type.map(str::to_owned),
                    workflow: workflow.map(str::to_owned),
                })
                .collect(),
        })
    }

    fn type_scheme(
        id: &str,
        name: &str,
        issue_types: &[&str],
        default: Option<&str>,
        global: bool,
    ) -> Record {
        Record::IssueTypeScheme(IssueTypeScheme {
            id: id.into(),
            name: name.into(),
            description: format!("{name}, as the source has it"),
            issue_types: issue_types.iter().map(|t| (*t).to_owned()).collect(),
            default_issue_type: default.map(str::to_owned),
            global,
        })
    }

    fn uses(project: &str, scheme_type: SchemeType, scheme: &str) -> Record {
        Record::ProjectScheme(ProjectScheme {
            id: format!("{project}/{scheme_type:?}"),
            project: project.into(),
            scheme_type,
            scheme: scheme.into(),
        })
    }

    /// How many requests the double had of an endpoint.
    fn requests(double: &CloudDouble, endpoint: &str) -> u64 {
        double
            .stats()
            .per_endpoint
            .get(endpoint)
            .copied()
            .unwrap_or(0)
    }

    /// Issue type schemes and projects' schemes as Jira Cloud keeps them: Cloud's default
    /// from the start with every issue type (a new one added as it is created), names
    /// distinct in any case, at least one issue type, known ones, once each, the default
    /// among them, a project switched only to a scheme listing its issues' types. Through
    /// the client: the source's default maps onto Cloud's (nothing is created), a scheme
    /// named like Cloud's arrives as `<name> (migrated)`, what the shared rules refuse is
    /// refused before anything is sent, and a project's scheme is set.
    #[test]
    fn issue_type_schemes_follow_jira_clouds_rules() {
        let double = CloudDouble::start(DoubleConfig::default()).unwrap();
        let project = double.site().add_project("OPS", "Operations").unwrap();
        let other = double.site().add_project("BUSY", "Busy").unwrap();

        // Cloud's default, with every issue type; a new issue type joins it.
        let (status, page) = call(&double, "GET", "/issuetypescheme", Value::Null);
        assert_eq!(status, 200, "{page}");
        assert_eq!(
            page["values"],
            json!([{
                "id": "10000",
                "name": "Default Issue Type Scheme",
                "description": "Default issue type scheme is the list of global issue types. All newly created issue types will automatically be added to this scheme.",
                "isDefault": true,
            }])
        );
        let (status, incident) = call(
            &double,
            "POST",
            "/issuetype",
            json!({ "name": "Incident", "type": "standard" }),
        );
        assert_eq!(status, 201, "{incident}");
        let incident = incident["id"].as_str().unwrap().to_owned();
        let types_of = |scheme: &str| -> Vec<Value> {
            let (_, page) = call(
                &double,
                "GET",
                &format!("/issuetypescheme/mapping?issueTypeSchemeId={scheme}"),
                Value::Null,
            );
            listed(&page, "issueTypeId")
        };
        assert_eq!(
            types_of("10000"),
            [
                json!("10000"),
                json!("10001"),
                json!("10002"),
                json!("10003"),
                json!("10004"),
                json!(incident)
            ]
        );

        // A scheme: its issue types in order, its default among them; names distinct in
        // any case.
        let (status, created) = call(
            &double,
            "POST",
            "/issuetypescheme",
            json!({
                "name": "Ops Issue Types",
                "description": "Incidents first",
                "defaultIssueTypeId": "10001",
                "issueTypeIds": [incident, "10001", "10004"],
            }),
        );
        assert_eq!(status, 201, "{created}");
        let ops = created["issueTypeSchemeId"]
            .as_str()
            .expect("a string id, as Cloud")
            .to_owned();
        assert_eq!(
            types_of(&ops),
            [json!(incident), json!("10001"), json!("10004")]
        );
        for refused in [
            json!({ "name": "OPS ISSUE TYPES", "issueTypeIds": ["10001"] }),
            json!({ "name": "default issue type scheme", "issueTypeIds": ["10001"] }),
            json!({ "name": "Empty", "issueTypeIds": [] }),
            json!({ "name": "Unknown", "issueTypeIds": ["99999"] }),
            json!({ "name": "Twice", "issueTypeIds": ["10001", "10001"] }),
            json!({ "name": "Elsewhere", "issueTypeIds": ["10001"], "defaultIssueTypeId": "10002" }),
            json!({ "name": "None" }),
            json!({ "issueTypeIds": ["10001"] }),
        ] {
            assert_eq!(
                call(&double, "POST", "/issuetypescheme", refused.clone()).0,
                400,
                "{refused}"
            );
        }
        let (_, found) = call(
            &double,
            "GET",
            "/issuetypescheme?queryString=ops",
            Value::Null,
        );
        assert_eq!(
            found["values"],
            json!([{
                "id": ops,
                "name": "Ops Issue Types",
                "description": "Incidents first",
                "defaultIssueTypeId": "10001",
            }])
        );

        // A project: on the default, then switched; not to a scheme without its issues'
        // types; unknown ones are 404.
        let of_project = |p: &str| {
            let (_, page) = call(
                &double,
                "GET",
                &format!("/issuetypescheme/project?projectId={p}"),
                Value::Null,
            );
            (
                page["values"][0]["issueTypeScheme"]["id"].clone(),
                page["values"][0]["projectIds"].clone(),
            )
        };
        assert_eq!(of_project(&project), (json!("10000"), json!([project])));
        let assign = |scheme: &str, project: &str| {
            call(
                &double,
                "PUT",
                "/issuetypescheme/project",
                json!({ "issueTypeSchemeId": scheme, "projectId": project }),
            )
            .0
        };
        assert_eq!(assign(&ops, &project), 204);
        assert_eq!(of_project(&project).0, json!(ops));
        let record = Record::Issue(Issue {
            issue_type: "10002".into(),
            ..issue(0, &other)
        });
        ok(&client(&double).write(Kind::Issue, &[record]).unwrap());
        assert_eq!(assign(&ops, &other), 400, "a Story in a scheme without");
        // A project's issues are of the types its scheme lists.
        let third = double.site().add_project("THIRD", "Third").unwrap();
        assert_eq!(assign(&ops, &third), 204);
        let answers = client(&double)
            .write(
                Kind::Issue,
                &[
                    Record::Issue(Issue {
                        issue_type: "10001".into(),
                        ..issue(0, &third)
                    }),
                    Record::Issue(Issue {
                        issue_type: "10002".into(),
                        ..issue(1, &third)
                    }),
                ],
            )
            .unwrap();
        assert!(answers[0].is_ok(), "{answers:?}");
        let e = answers[1].as_ref().unwrap_err();
        assert!(e.message.contains("issuetype"), "{e:?}");
        assert_eq!(assign("99999", &project), 404);
        assert_eq!(assign(&ops, "99999"), 404);

        // Through the client.
        let records = [
            type_scheme(
                "10000",
                "Default Issue Type Scheme",
                &["10000", "10001", "10002", "10003", "10004", &incident],
                None,
                true,
            ),
            type_scheme(
                "10100",
                "Default Issue Type Scheme",
                &["10001", "10000"],
                Some("10000"),
                false,
            ),
            type_scheme(
                "10101",
                "OPS: Issue Types",
                &["10002", &incident],
                None,
                false,
            ),
            type_scheme("10102", "Nothing", &[], None, false),
            type_scheme("10103", "Astray", &["10001"], Some("10002"), false),
        ];
        let before = requests(&double, "POST /rest/api/3/issuetypescheme");
        let mut target = client(&double);
        let answers = target.write(Kind::IssueTypeScheme, &records).unwrap();
        assert_eq!(answers[0].as_deref(), Ok("10000"), "the default is Cloud's");
        let renamed = answers[1].clone().unwrap();
        let own = answers[2].clone().unwrap();
        for (i, why) in [
            (3, "at least one issue type"),
            (4, "the default issue type is one of the scheme's"),
        ] {
            let e = answers[i].as_ref().unwrap_err();
            assert_eq!(e.code, "invalid-value", "{e:?}");
            assert!(e.message.contains(why), "{e:?}");
        }
        // Cloud's default is the source's one default scheme's.
        let again = type_scheme("10104", "Default again", &["10001"], None, true);
        let answers = target.write(Kind::IssueTypeScheme, &[again]).unwrap();
        assert_eq!(answers[0].as_ref().unwrap_err().code, "duplicate-key");
        assert_eq!(
            requests(&double, "POST /rest/api/3/issuetypescheme"),
            before + 2,
            "only what Cloud takes is sent"
        );
        let read = double.site().read_issue_type_schemes().unwrap();
        let scheme = |id: &str| read.iter().find(|s| s.id == id).unwrap();
        assert_eq!(
            (
                scheme(&renamed).name.as_str(),
                &scheme(&renamed).issue_types,
                scheme(&renamed).default_issue_type.as_deref()
            ),
            (
                "Default Issue Type Scheme (migrated)",
                &vec!["10001".to_owned(), "10000".to_owned()],
                Some("10000")
            )
        );
        assert!(scheme("10000").source_key.is_none(), "Cloud's is as it was");
        assert_eq!(
            target
                .write(
                    Kind::ProjectScheme,
                    &[uses(&project, SchemeType::IssueType, &own)]
                )
                .unwrap(),
            [Ok(String::new())]
        );
        assert_eq!(of_project(&project).0, json!(own));
        let mut site = double.site();
        for kind in [Kind::IssueTypeScheme, Kind::ProjectScheme] {
            assert_eq!(site.duplicate_source_keys(kind).unwrap(), 0, "{kind}");
        }
    }

    /// Workflows, workflow schemes and projects' workflow schemes as Jira Cloud keeps
    /// them: its built-in `jira` from the start, names distinct site-wide in any case, the
    /// statuses the site has, one initial transition, directed transitions from the
    /// workflow's statuses and the others from none, names and screens as Cloud takes
    /// them, all of a create or none; schemes naming workflows and issue types the site
    /// has, a project switched only while it has no issues. Through the client: a
    /// workflow named like one the target has arrives as `<name> (migrated)`, one the
    /// shared rules refuse is refused with their reason before anything is sent, a scheme
    /// names its workflows by their names on the target (one naming a workflow the site
    /// has not is refused), and a project is switched to its scheme.
    #[test]
    fn workflows_and_their_schemes_follow_jira_clouds_rules() {
        let double = CloudDouble::start(DoubleConfig::default()).unwrap();
        let project = double.site().add_project("OPS", "Operations").unwrap();
        let busy = double.site().add_project("BUSY", "Busy").unwrap();

        // Cloud's built-in workflow.
        let (status, page) = call(&double, "GET", "/workflows/search", Value::Null);
        assert_eq!(status, 200, "{page}");
        assert_eq!(listed(&page, "name"), [json!("jira")]);

        // A workflow: its statuses and transitions as given.
        let body = create_body("Ops Workflow", json!(good_transitions()));
        let (status, created) = call(&double, "POST", "/workflows/create", body);
        assert_eq!(status, 200, "{created}");
        let made = &created["workflows"][0];
        let id = made["id"].as_str().unwrap().to_owned();
        assert_eq!(id.len(), 36, "a UUID, as Cloud: {id}");
        assert_eq!(made["name"], "Ops Workflow");
        assert_eq!(
            made["transitions"][2],
            json!({
                "id": "21", "name": "Finish", "description": "", "type": "DIRECTED",
                "toStatusReference": "10002",
                "links": [{ "fromStatusReference": "10000" }, { "fromStatusReference": "10001" }],
                "properties": {}, "actions": [], "validators": [], "triggers": [],
            })
        );
        assert_eq!(
            made["transitions"][1]["transitionScreen"]["parameters"]["screenId"],
            "1"
        );
        assert_eq!(
            listed(&json!({ "values": created["statuses"] }), "name"),
            [json!("To Do"), json!("In Progress"), json!("Done")]
        );

        // What Cloud refuses: all of the create, nothing made.
        let with = |f: &dyn Fn(&mut Vec<Value>)| {
            let mut t = good_transitions();
            f(&mut t);
            create_body("Refused", json!(t))
        };
        let mut refusals = vec![
            create_body("JIRA", json!(good_transitions())),
            create_body("ops workflow", json!(good_transitions())),
            with(&|t| t.push(raw_transition("2", "Again", "INITIAL", &[], "doing"))),
            with(&|t| {
                t.remove(0);
            }),
            with(&|t| t[1]["links"] = json!([])),
            with(&|t| t[3]["links"] = json!([{ "fromStatusReference": "done" }])),
            with(&|t| t[2]["toStatusReference"] = json!("elsewhere")),
            with(&|t| t[2]["links"][0]["fromStatusReference"] = json!("elsewhere")),
            with(&|t| t[1]["transitionScreen"]["parameters"]["screenId"] = json!("99999")),
            with(&|t| t[1]["name"] = json!("s".repeat(61))),
            with(&|t| t[2]["type"] = json!("SIDEWAYS")),
            with(&|t| t[3]["id"] = json!("21")),
            with(&|t| t.push(raw_transition("41", "Start", "DIRECTED", &["todo"], "done"))),
            with(&|t| t.push(raw_transition("41", "Reopen", "GLOBAL", &[], "doing"))),
            with(&|t| t.push(raw_transition("41", "Back", "GLOBAL", &[], "todo"))),
        ];
        let mut unknown = create_body("Refused", json!(good_transitions()));
        unknown["statuses"][0]["id"] = json!("99999");
        refusals.push(unknown);
        let mut uncategorised = create_body("Refused", json!(good_transitions()));
        uncategorised["statuses"][1]["statusCategory"] = json!("SOMETIMES");
        refusals.push(uncategorised);
        let mut scoped = create_body("Refused", json!(good_transitions()));
        scoped["scope"] = json!({ "type": "PROJECT", "project": { "id": project } });
        refusals.push(scoped);
        let mut twice = create_body("Refused", json!(good_transitions()));
        let again = twice["workflows"][0].clone();
        twice["workflows"].as_array_mut().unwrap().push(again);
        refusals.push(twice);
        refusals.push(json!({ "scope": { "type": "GLOBAL" }, "statuses": [], "workflows": [] }));
        for refused in refusals {
            let (status, answer) = call(&double, "POST", "/workflows/create", refused.clone());
            assert_eq!(status, 400, "{refused}: {answer}");
        }
        let (_, page) = call(&double, "GET", "/workflows/search", Value::Null);
        assert_eq!(
            listed(&page, "name"),
            [json!("jira"), json!("Ops Workflow")]
        );
        let (_, found) = call(
            &double,
            "GET",
            "/workflows/search?queryString=OPS",
            Value::Null,
        );
        assert_eq!(listed(&found, "id"), [json!(id)]);

        // Read back by id or by name; an id the site has not is no workflow.
        let (status, read) = call(
            &double,
            "POST",
            "/workflows",
            json!({ "workflowIds": [id, "5c1e0000-6b1d-4e0f-9a7c-00000000ffff"] }),
        );
        assert_eq!(status, 200, "{read}");
        assert_eq!(read["workflows"].as_array().unwrap().len(), 1);
        assert_eq!(read["workflows"][0]["transitions"], made["transitions"]);
        let (_, read) = call(
            &double,
            "POST",
            "/workflows",
            json!({ "workflowNames": ["jira"] }),
        );
        assert_eq!(read["workflows"][0]["name"], "jira");

        // Workflow schemes: workflows by name (`jira` by default), issue types the site
        // has, names distinct in any case.
        let (status, scheme) = call(
            &double,
            "POST",
            "/workflowscheme",
            json!({
                "name": "Ops Scheme",
                "description": "Bugs the built-in way",
                "defaultWorkflow": "Ops Workflow",
                "issueTypeMappings": { "10001": "jira" },
            }),
        );
        assert_eq!(status, 201, "{scheme}");
        let scheme_id = scheme["id"].as_i64().expect("a number id, as Cloud");
        assert_eq!(
            (&scheme["defaultWorkflow"], &scheme["issueTypeMappings"]),
            (&json!("Ops Workflow"), &json!({ "10001": "jira" }))
        );
        let (status, plain) = call(
            &double,
            "POST",
            "/workflowscheme",
            json!({ "name": "Plain" }),
        );
        assert_eq!((status, &plain["defaultWorkflow"]), (201, &json!("jira")));
        for refused in [
            json!({ "name": "OPS SCHEME" }),
            json!({ "name": "Lost", "defaultWorkflow": "Nowhere" }),
            json!({ "name": "Lost", "issueTypeMappings": { "10001": "Nowhere" } }),
            json!({ "name": "Lost", "issueTypeMappings": { "99999": "jira" } }),
            json!({ "description": "no name" }),
        ] {
            assert_eq!(
                call(&double, "POST", "/workflowscheme", refused.clone()).0,
                400,
                "{refused}"
            );
        }
        let (status, got) = call(
            &double,
            "GET",
            &format!("/workflowscheme/{scheme_id}"),
            Value::Null,
        );
        assert_eq!((status, &got["name"]), (200, &json!("Ops Scheme")));
        assert_eq!(
            call(&double, "GET", "/workflowscheme/99999", Value::Null).0,
            404
        );
        let (_, all) = call(&double, "GET", "/workflowscheme", Value::Null);
        assert_eq!(listed(&all, "name"), [json!("Ops Scheme"), json!("Plain")]);

        // A project: on the default (no id), then switched while it has no issues.
        let of_project = |p: &str| {
            let (_, page) = call(
                &double,
                "GET",
                &format!("/workflowscheme/project?projectId={p}"),
                Value::Null,
            );
            page["values"][0].clone()
        };
        let before = of_project(&project);
        assert_eq!(before["projectIds"], json!([project]));
        assert_eq!(before["workflowScheme"].get("id"), None, "{before}");
        assert_eq!(before["workflowScheme"]["defaultWorkflow"], "jira");
        let assign = |scheme: &str, project: &str| {
            call(
                &double,
                "PUT",
                "/workflowscheme/project",
                json!({ "workflowSchemeId": scheme, "projectId": project }),
            )
            .0
        };
        assert_eq!(assign(&scheme_id.to_string(), &project), 204);
        assert_eq!(
            of_project(&project)["workflowScheme"]["id"],
            json!(scheme_id)
        );
        ok(&client(&double)
            .write(Kind::Issue, &[Record::Issue(issue(0, &busy))])
            .unwrap());
        assert_eq!(assign(&scheme_id.to_string(), &busy), 400, "it has issues");
        assert_eq!(assign("99999", &project), 404);
        assert_eq!(assign(&scheme_id.to_string(), "99999"), 404);

        // Through the client.
        let mut two_initial = transitions("2");
        two_initial.push(transition(
            "2",
            "Create again",
            TransitionKind::Initial,
            &[],
            "2",
            None,
        ));
        let mut unknown_status = transitions("2");
        unknown_status.truncate(1);
        let records = [
            workflow("w-1", "jira", transitions("1")),
            workflow("w-2", "Ops Workflow", transitions("3")),
            workflow("w-3", "Two beginnings", two_initial),
            Record::Workflow(Workflow {
                id: "w-4".into(),
                name: "Lost status".into(),
                description: String::new(),
                steps: vec![step("1", "99999")],
                transitions: unknown_status,
            }),
        ];
        let before = requests(&double, "POST /rest/api/3/workflows/create");
        let mut target = client(&double);
        let answers = target.write(Kind::Workflow, &records).unwrap();
        let (jira, ops) = (answers[0].clone().unwrap(), answers[1].clone().unwrap());
        let e = answers[2].as_ref().unwrap_err();
        assert_eq!(e.code, "invalid-value", "{e:?}");
        assert!(e.message.contains("one initial transition"), "{e:?}");
        let e = answers[3].as_ref().unwrap_err();
        assert_eq!(e.code, "invalid-reference", "{e:?}");
        assert_eq!(
            requests(&double, "POST /rest/api/3/workflows/create"),
            before + 2,
            "only what Cloud takes is sent"
        );
        let read = double.site().read_workflows().unwrap();
        let mut names: Vec<&str> = (read.iter())
            .filter(|w| w.source_key.is_some())
            .map(|w| w.name.as_str())
            .collect();
        names.sort_unstable();
        assert_eq!(
            names,
            ["Ops Workflow", "Ops Workflow (migrated)", "jira (migrated)"]
        );
        for (id, name) in [
            (&jira, "jira (migrated)"),
            (&ops, "Ops Workflow (migrated)"),
        ] {
            let (_, answer) = call(
                &double,
                "POST",
                "/workflows",
                json!({ "workflowIds": [id] }),
            );
            assert_eq!(answer["workflows"][0]["name"], name);
        }

        let schemes = [
            workflow_scheme(
                "s-1",
                "Ops Scheme",
                &[
                    (None, Some(&jira)),
                    (Some("10001"), None),
                    (Some("10002"), Some(&ops)),
                ],
            ),
            workflow_scheme(
                "s-2",
                "Astray",
                &[(None, Some("5c1e0000-6b1d-4e0f-9a7c-00000000ffff"))],
            ),
        ];
        let answers = target.write(Kind::WorkflowScheme, &schemes).unwrap();
        let migrated = answers[0].clone().unwrap();
        assert_eq!(
            answers[1].as_ref().unwrap_err().code,
            "invalid-reference",
            "{answers:?}"
        );
        let (_, got) = call(
            &double,
            "GET",
            &format!("/workflowscheme/{migrated}"),
            Value::Null,
        );
        assert_eq!(
            (
                &got["name"],
                &got["defaultWorkflow"],
                &got["issueTypeMappings"]
            ),
            (
                &json!("Ops Scheme (migrated)"),
                &json!("jira (migrated)"),
                &json!({ "10001": "jira", "10002": "Ops Workflow (migrated)" })
            )
        );
        assert_eq!(
            target
                .write(
                    Kind::ProjectScheme,
                    &[uses(&project, SchemeType::Workflow, &migrated)]
                )
                .unwrap(),
            [Ok(String::new())]
        );
        assert_eq!(
            of_project(&project)["workflowScheme"]["id"].to_string(),
            migrated
        );
        let mut site = double.site();
        for kind in [Kind::Workflow, Kind::WorkflowScheme, Kind::ProjectScheme] {
            assert_eq!(site.duplicate_source_keys(kind).unwrap(), 0, "{kind}");
        }
    }

    /// An issue type scheme on the site: its name, issue types, default and projects.
    type TypeSchemeOnSite<'a> = (&'a str, &'a Vec<String>, Option<&'a str>, &'a Vec<String>);

    /// A transition on the site: its name, kind, the statuses it leaves from and leads to,
    /// and its screen.
    type TransitionOnSite<'a> = (String, String, Vec<&'a str>, &'a str, Option<String>);

    /// A workflow scheme on the site: its name, each issue type's workflow by name, and
    /// the projects using it.
    type WorkflowSchemeOnSite<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a Vec<String>);

    /// Issue type schemes, workflows, workflow schemes and projects' schemes written
    /// through the client while writes are applied and then lost (each loss ends the run;
    /// the next reconciles with `find_written`): nothing is created twice, what Cloud has
    /// a name of arrives as `<name> (migrated)`, every workflow arrives with each of its
    /// transitions (kind, statuses, screen), each scheme with what it maps, the source's
    /// default issue type scheme is Cloud's, and a fresh client finds every record again.
    #[test]
    fn workflows_cut_short_arrive_once_with_every_transition() {
        let double = CloudDouble::start(DoubleConfig::default()).unwrap();
        let project = double.site().add_project("OPS", "Operations").unwrap();
        double.set_faults(Faults {
            seed: 31,
            fail_after_apply: 0.15,
            drop_after_apply: 0.1,
            ..Faults::default()
        });
        let mut crashes = 0;
        let mut write = |kind: Kind, records: &[Record]| {
            let (answers, cut) = write_through_crashes(&double, kind, records);
            crashes += cut;
            ok(&answers)
        };

        let type_schemes = [
            type_scheme(
                "10000",
                "Default Issue Type Scheme",
                &["10000", "10001", "10002", "10003", "10004"],
                None,
                true,
            ),
            type_scheme(
                "10100",
                "Default Issue Type Scheme",
                &["10003", "10000"],
                Some("10000"),
                false,
            ),
            type_scheme(
                "10101",
                "OPS: Scrum Issue Type Scheme",
                &["10002", "10004", "10001"],
                Some("10002"),
                false,
            ),
        ];
        let type_scheme_ids = write(Kind::IssueTypeScheme, &type_schemes);
        assert_eq!(type_scheme_ids[0], "10000");
        let mut bug = transitions("2");
        bug.push(transition(
            "41",
            "Triage",
            TransitionKind::Directed,
            &["2", "3"],
            "1",
            Some("3"),
        ));
        let workflows = [
            workflow("10200", "jira", transitions("1")),
            workflow("10201", "Bug Workflow", bug),
            workflow("10202", "OPS: Software Workflow", transitions("3")),
        ];
        let workflow_ids = write(Kind::Workflow, &workflows);
        let schemes = [
            workflow_scheme(
                "10300",
                "OPS: Software Simplified Workflow Scheme",
                &[
                    (None, Some(&workflow_ids[2])),
                    (Some("10001"), Some(&workflow_ids[1])),
                    (Some("10003"), None),
                ],
            ),
            workflow_scheme(
                "10301",
                "Bugs apart",
                &[(Some("10001"), Some(&workflow_ids[1]))],
            ),
        ];
        let scheme_ids = write(Kind::WorkflowScheme, &schemes);
        let associations = [
            uses(&project, SchemeType::IssueType, &type_scheme_ids[2]),
            uses(&project, SchemeType::Workflow, &scheme_ids[0]),
        ];
        assert_eq!(write(Kind::ProjectScheme, &associations), ["", ""]);
        double.set_faults(Faults::default());
        let stats = double.stats();
        assert!(
            crashes > 0 && stats.failed_after_apply + stats.dropped_after_apply > 0,
            "no write was lost: {stats:?}"
        );

        // Each once, as the source has it, renamed where Cloud has the name.
        let mut site = double.site();
        let read = site.read_issue_type_schemes().unwrap();
        let mut migrated: Vec<TypeSchemeOnSite> = (read.iter())
            .filter(|s| s.source_key.is_some())
            .map(|s| {
                (
                    s.name.as_str(),
                    &s.issue_types,
                    s.default_issue_type.as_deref(),
                    &s.projects,
                )
            })
            .collect();
        migrated.sort();
        let strings = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            migrated,
            [
                (
                    "Default Issue Type Scheme (migrated)",
                    &strings(&["10003", "10000"]),
                    Some("10000"),
                    &Vec::new()
                ),
                (
                    "OPS: Scrum Issue Type Scheme",
                    &strings(&["10002", "10004", "10001"]),
                    Some("10002"),
                    &vec![project.clone()]
                ),
            ]
        );
        let read = site.read_workflows().unwrap();
        let of = |id: &str| {
            let w = read.iter().find(|w| w.id == id).unwrap();
            let status: BTreeMap<&str, &str> = (w.steps.iter())
                .map(|(step, _, status)| (step.as_str(), status.as_str()))
                .collect();
            let transitions: Vec<TransitionOnSite> = (w.transitions.iter())
                .map(|t| {
                    (
                        t.name.clone(),
                        t.kind.clone(),
                        t.from.iter().map(|f| status[f.as_str()]).collect(),
                        status[t.to.as_str()],
                        t.screen.clone(),
                    )
                })
                .collect();
            let statuses: Vec<&str> = status.values().copied().collect();
            (w.name.clone(), statuses, transitions)
        };
        let expected = |name: &str, records: &Record| {
            let Record::Workflow(w) = records else {
                unreachable!()
            };
            let status = |step: &str| match step {
                "1" => "10000",
                "2" => "10001",
                _ => "10002",
            };
            let transitions: Vec<TransitionOnSite> = (w.transitions.iter())
                .map(|t| {
                    (
                        t.name.clone(),
                        t.kind.as_str().to_owned(),
                        t.from.iter().map(|f| status(f)).collect(),
                        status(&t.to),
                        t.screen.clone(),
                    )
                })
                .collect();
            (
                name.to_owned(),
                vec!["10000", "10001", "10002"],
                transitions,
            )
        };
        assert_eq!(
            read.iter().filter(|w| w.source_key.is_some()).count(),
            3,
            "each workflow once: {read:?}"
        );
        let names = ["jira (migrated)", "Bug Workflow", "OPS: Software Workflow"];
        for ((record, name), id) in workflows.iter().zip(names).zip(&workflow_ids) {
            let on_site = read.iter().find(|w| w.name == name).unwrap();
            assert_eq!(of(&on_site.id), expected(name, record));
            // Cloud's id (a UUID) names it.
            let (_, answer) = call(
                &double,
                "POST",
                "/workflows",
                json!({ "workflowIds": [id] }),
            );
            assert_eq!(answer["workflows"][0]["name"], name);
        }
        let schemes_on_site = site.read_workflow_schemes().unwrap();
        let names: BTreeMap<&str, &str> = (read.iter())
            .map(|w| (w.id.as_str(), w.name.as_str()))
            .collect();
        let mut mapped: Vec<WorkflowSchemeOnSite> = (schemes_on_site.iter())
            .filter(|s| s.source_key.is_some())
            .map(|s| {
                (
                    s.name.as_str(),
                    (s.entries.iter())
                        .map(|(t, w)| (t.as_str(), names[w.as_str()]))
                        .collect(),
                    &s.projects,
                )
            })
            .collect();
        mapped.sort();
        assert_eq!(
            mapped,
            [
                (
                    "Bugs apart",
                    vec![("default", "jira"), ("10001", "Bug Workflow")],
                    &Vec::new()
                ),
                (
                    "OPS: Software Simplified Workflow Scheme",
                    vec![
                        ("default", "OPS: Software Workflow"),
                        ("10001", "Bug Workflow"),
                        ("10003", "jira"),
                    ],
                    &vec![project.clone()]
                ),
            ]
        );
        for kind in [
            Kind::IssueTypeScheme,
            Kind::Workflow,
            Kind::WorkflowScheme,
            Kind::ProjectScheme,
        ] {
            assert_eq!(site.duplicate_source_keys(kind).unwrap(), 0, "{kind}");
        }
        drop(site);

        // A fresh client finds every record again; the projects' schemes are written again
        // rather than found (nothing changes).
        let mut fresh = client(&double);
        for (kind, records, ids) in [
            (Kind::IssueTypeScheme, &type_schemes[..], &type_scheme_ids),
            (Kind::Workflow, &workflows[..], &workflow_ids),
            (Kind::WorkflowScheme, &schemes[..], &scheme_ids),
        ] {
            let keys: Vec<String> = records.iter().map(source_key).collect();
            let found: Vec<String> = (fresh.find_written(kind, &keys).unwrap().into_iter())
                .map(Option::unwrap)
                .collect();
            assert_eq!(&found, ids, "{kind}");
        }
        let before = double.site().read_workflow_schemes().unwrap();
        assert_eq!(
            ok(&fresh.write(Kind::ProjectScheme, &associations).unwrap()),
            ["", ""]
        );
        assert_eq!(double.site().read_workflow_schemes().unwrap(), before);
    }
}
