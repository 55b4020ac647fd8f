//! The coverage ledger: every element type of entities.xml and every table of
//! activeobjects.xml, with its rows and what becomes of them (migrated as a supported
//! kind, skipped as an orphan, not migrated by design, not yet supported, or an app's
//! table). Nothing in a backup is passed over without a line here.
//!
//! Counting is bounded: a hostile backup may hold any number of distinct element names,
//! so at most [`MAX_ELEMENT_NAMES`] are named and the rows of the rest are summed.

use std::collections::BTreeMap;

use airlock_model::AoPrefix;
use airlock_model::jira::Kind;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// How many distinct element names (or AO tables) the ledger names.
pub const MAX_ELEMENT_NAMES: usize = 10_000;

/// What becomes of the rows of one element type (or AO table) that are not migrated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Every row is migrated (or skipped as an orphan, counted apart).
    Migrated,
    /// Deliberately left behind (credentials, instance settings, the source's own state).
    ByDesign,
    /// Known to Airlock, not migrated yet.
    NotYetSupported,
    /// An element type Airlock has never heard of.
    Unknown,
    /// An Active Objects table of an app not enabled for this migration.
    AppNotEnabled,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Migrated => "migrated",
            Status::ByDesign => "not migrated by design",
            Status::NotYetSupported => "not yet supported",
            Status::Unknown => "not supported (unknown to Airlock)",
            Status::AppNotEnabled => "not migrated: app not enabled",
        }
    }
}

/// One element type of entities.xml, or one table of activeobjects.xml.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CoverageEntry {
    /// `entities.xml` or `activeobjects.xml`.
    pub file: String,
    /// The element name (`Issue`, `ChangeItem`…) or the table (`AO_60DB71_RAPIDVIEW`).
    pub element: String,
    /// Rows seen.
    pub rows: u64,
    /// Rows taken into a migrated kind (or, for an app's table, handed to its plugin).
    pub migrated: u64,
    /// Rows taken but skipped as orphans (their parent is not in the backup).
    pub skipped: u64,
    /// Rows left behind: `rows - migrated - skipped`.
    pub not_migrated: u64,
    /// What becomes of the rows left behind (`Migrated` when there are none).
    pub status: Status,
    /// Why, for the rows left behind or skipped.
    pub reason: String,
}

/// The ledger, written inside the integrity report.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    pub entries: Vec<CoverageEntry>,
    /// Rows of element types (or tables) past [`MAX_ELEMENT_NAMES`], not named.
    #[serde(default)]
    pub unnamed_rows: u64,
}

impl Coverage {
    /// The entries with rows left behind, most rows first.
    pub fn not_migrated(&self) -> Vec<&CoverageEntry> {
        let mut out: Vec<_> = self.entries.iter().filter(|e| e.not_migrated > 0).collect();
        out.sort_by(|a, b| {
            b.not_migrated
                .cmp(&a.not_migrated)
                .then_with(|| a.element.cmp(&b.element))
        });
        out
    }

    /// As [`Coverage::not_migrated`], with an app's tables summed into one line per app
    /// prefix and status (`AO_60DB71_* (42 tables)`): a screen's worth, not a page.
    pub fn not_migrated_by_app(&self) -> Vec<CoverageEntry> {
        let mut apps: BTreeMap<(String, Status), (CoverageEntry, u64)> = BTreeMap::new();
        let mut out = Vec::new();
        for e in self.not_migrated() {
            if e.file != "activeobjects.xml" {
                out.push(e.clone());
                continue;
            }
            let prefix = ao_prefix_of(&e.element).to_owned();
            let (sum, tables) = apps.entry((prefix.clone(), e.status)).or_insert_with(|| {
                let mut sum = e.clone();
                sum.rows = 0;
                sum.migrated = 0;
                sum.not_migrated = 0;
                (sum, 0)
            });
            sum.rows += e.rows;
            sum.migrated += e.migrated;
            sum.not_migrated += e.not_migrated;
            *tables += 1;
            sum.element = format!("{prefix}* ({tables} tables)");
        }
        out.extend(apps.into_values().map(|(e, _)| e));
        out.sort_by(|a, b| {
            b.not_migrated
                .cmp(&a.not_migrated)
                .then_with(|| a.element.cmp(&b.element))
        });
        out
    }

    /// The entry of one element or table.
    pub fn entry(&self, element: &str) -> Option<&CoverageEntry> {
        self.entries.iter().find(|e| e.element == element)
    }

    /// Rows seen, taken, skipped and left behind, over every entry.
    pub fn totals(&self) -> (u64, u64, u64, u64) {
        self.entries.iter().fold(
            (self.unnamed_rows, 0, 0, self.unnamed_rows),
            |(r, m, s, n), e| {
                (
                    r + e.rows,
                    m + e.migrated,
                    s + e.skipped,
                    n + e.not_migrated,
                )
            },
        )
    }
}

/// Counts rows per element name as extract streams past them, bounded.
#[derive(Default)]
pub struct ElementCounter {
    /// Element name → (rows seen, rows taken into a record).
    names: FxHashMap<String, (u64, u64)>,
    unnamed_rows: u64,
}

impl ElementCounter {
    /// One row of `name` seen.
    pub fn seen(&mut self, name: &str) {
        let room = self.names.len() < MAX_ELEMENT_NAMES;
        match self.names.get_mut(name) {
            Some(counts) => counts.0 += 1,
            None if room => {
                self.names.insert(name.to_owned(), (1, 0));
            }
            None => self.unnamed_rows += 1,
        }
    }

    /// One row of `name` taken into a migrated kind.
    pub fn taken(&mut self, name: &str) {
        let room = self.names.len() < MAX_ELEMENT_NAMES;
        match self.names.get_mut(name) {
            Some(counts) => counts.1 += 1,
            None if room => {
                self.names.insert(name.to_owned(), (0, 1));
            }
            None => {}
        }
    }

    /// These rows seen, with the rows `taken` counted as taken (extraction counts what it
    /// takes on its own thread, the parser what it sees on another).
    pub fn with_taken(mut self, taken: &ElementCounter) -> ElementCounter {
        for (name, &(_, n)) in &taken.names {
            if let Some(counts) = self.names.get_mut(name) {
                counts.1 += n;
            }
        }
        self
    }

    /// The ledger of entities.xml, given the orphans skipped per kind and the rows
    /// skipped per element that are no record of their own (left out of one as they were
    /// read).
    pub fn ledger(
        &self,
        skipped: &BTreeMap<Kind, u64>,
        skipped_rows: &BTreeMap<String, u64>,
    ) -> Coverage {
        let mut skipped_by_element: FxHashMap<&str, u64> = FxHashMap::default();
        for (kind, n) in skipped {
            *skipped_by_element.entry(kind.entity()).or_default() += n;
        }
        for (element, n) in skipped_rows {
            *skipped_by_element.entry(element.as_str()).or_default() += n;
        }
        let mut entries: Vec<CoverageEntry> = self
            .names
            .iter()
            .map(|(name, &(rows, taken))| {
                let skipped = skipped_by_element
                    .get(name.as_str())
                    .copied()
                    .unwrap_or(0)
                    .min(taken);
                let not_migrated = rows - taken.min(rows);
                let (status, reason) = if not_migrated == 0 {
                    (Status::Migrated, String::new())
                } else {
                    let (status, reason) = classify(name);
                    (status, reason.to_owned())
                };
                let reason = if skipped > 0 && reason.is_empty() {
                    "orphans skipped: their parent row is not in the backup".to_owned()
                } else {
                    reason
                };
                CoverageEntry {
                    file: "entities.xml".into(),
                    element: name.clone(),
                    rows,
                    migrated: taken.min(rows) - skipped,
                    skipped,
                    not_migrated,
                    status,
                    reason,
                }
            })
            .collect();
        entries.sort_by(|a, b| a.element.cmp(&b.element));
        Coverage {
            entries,
            unnamed_rows: self.unnamed_rows,
        }
    }
}

/// Rows per Active Objects table, from the pass that checks the foreign keys.
#[derive(Default)]
pub struct TableCounter {
    tables: BTreeMap<String, u64>,
    unnamed_rows: u64,
}

impl TableCounter {
    /// A table defined in the file (listed even without rows).
    pub fn defined(&mut self, table: &str) {
        if self.tables.len() < MAX_ELEMENT_NAMES {
            self.tables.entry(table.to_owned()).or_default();
        }
    }

    /// `rows` more rows of `table`.
    pub fn rows(&mut self, table: &str, rows: u64) {
        let room = self.tables.len() < MAX_ELEMENT_NAMES;
        match self.tables.get_mut(table) {
            Some(n) => *n += rows,
            None if room => {
                self.tables.insert(table.to_owned(), rows);
            }
            None => self.unnamed_rows += rows,
        }
    }

    /// Rows of tables past the cap, counted by the reader.
    pub fn unnamed(&mut self, rows: u64) {
        self.unnamed_rows += rows;
    }

    /// The ledger of activeobjects.xml: an enabled app's tables its plugin reads are
    /// migrated by it; other tables are not.
    ///
    /// Jira Software's tables are core data: `taken` rows of those Airlock migrates went
    /// into records (`skipped` of them, per kind, as orphans); its other tables are not
    /// migrated yet (its audit log by design).
    pub fn ledger(
        &self,
        enabled: &[AoPrefix],
        app_tables: &[String],
        taken: &BTreeMap<String, u64>,
        skipped: &BTreeMap<Kind, u64>,
    ) -> Coverage {
        let entries = self
            .tables
            .iter()
            .map(|(table, &rows)| {
                if table.starts_with(crate::software::PREFIX) {
                    return software_entry(table, rows, taken, skipped);
                }
                let owner = enabled.iter().find(|p| p.owns(table));
                let (migrated, status, reason) = match owner {
                    Some(_) if app_tables.iter().any(|t| t == table) => {
                        (rows, Status::Migrated, String::new())
                    }
                    Some(prefix) => (
                        0,
                        Status::NotYetSupported,
                        format!(
                            "a table of the enabled app {}_ that its migrator does not read",
                            prefix.as_str().trim_end_matches('_')
                        ),
                    ),
                    None => (
                        0,
                        Status::AppNotEnabled,
                        format!(
                            "the app of {} is not enabled for this migration",
                            ao_prefix_of(table)
                        ),
                    ),
                };
                let status = if rows == migrated {
                    Status::Migrated
                } else {
                    status
                };
                CoverageEntry {
                    file: "activeobjects.xml".into(),
                    element: table.clone(),
                    rows,
                    migrated,
                    skipped: 0,
                    not_migrated: rows - migrated,
                    status,
                    reason,
                }
            })
            .collect();
        Coverage {
            entries,
            unnamed_rows: self.unnamed_rows,
        }
    }
}

/// The line of one of Jira Software's tables.
fn software_entry(
    table: &str,
    rows: u64,
    taken: &BTreeMap<String, u64>,
    skipped: &BTreeMap<Kind, u64>,
) -> CoverageEntry {
    let kind = crate::software::kind_of_table(table);
    let taken = taken.get(table).copied().unwrap_or(0).min(rows);
    let skipped = kind
        .and_then(|k| skipped.get(&k).copied())
        .unwrap_or(0)
        .min(taken);
    let not_migrated = rows - taken;
    let (status, reason) = if not_migrated == 0 {
        let reason = if skipped > 0 {
            "orphans skipped: their parent row is not in the backup"
        } else {
            ""
        };
        (Status::Migrated, reason.to_owned())
    } else if kind.is_some() {
        (
            Status::NotYetSupported,
            "rows Airlock cannot read are not migrated, each a finding (an ID another row of the table has, a card setting Jira Software does not know)".to_owned(),
        )
    } else if table == "AO_60DB71_AUDITENTRY" {
        (
            Status::ByDesign,
            "Jira Software's audit log of the source: the target keeps its own".to_owned(),
        )
    } else {
        (
            Status::NotYetSupported,
            "a Jira Software table Airlock does not migrate yet (it migrates boards, their columns, swimlanes, quick filters and card settings, sprints and ranks)".to_owned(),
        )
    };
    CoverageEntry {
        file: "activeobjects.xml".into(),
        element: table.to_owned(),
        rows,
        migrated: taken - skipped,
        skipped,
        not_migrated,
        status,
        reason,
    }
}

/// `AO_60DB71_` of `AO_60DB71_RAPIDVIEW` (the whole name if it has no such prefix).
fn ao_prefix_of(table: &str) -> &str {
    match table.get(..10) {
        Some(p) if p.starts_with("AO_") && p.ends_with('_') => p,
        _ => table,
    }
}

/// Why the rows of an element type are not migrated (or not all of them).
pub fn classify(element: &str) -> (Status, &'static str) {
    use Status::{ByDesign, NotYetSupported};
    match element {
        // Elements a migrated kind comes from, whose other rows are left behind.
        "Action" => (
            NotYetSupported,
            "only comments are migrated; other actions are not yet",
        ),
        "NodeAssociation" => (
            NotYetSupported,
            "issue versions and components and projects' issue security schemes are migrated; projects' other schemes and other associations are not yet",
        ),
        "Membership" => (
            NotYetSupported,
            "user memberships are migrated; group-in-group memberships are not yet",
        ),
        "Label" => (
            NotYetSupported,
            "issue labels are migrated; values of custom label fields are not yet",
        ),
        "EntityProperty" => (
            NotYetSupported,
            "issue, project and user properties are migrated; properties of other entities (comments, dashboards…) are not yet",
        ),
        "UserAssociation" => (
            NotYetSupported,
            "issue watchers and votes are migrated; other associations are not yet",
        ),
        "SharePermissions" => (
            Status::Unknown,
            "filters' and dashboards' shares are migrated; shares of a type Jira Cloud does not know, or of another entity, are not (each an unknown-share-type warning)",
        ),
        "PortletConfiguration" => (
            Status::Unknown,
            "gadgets are migrated; a gadget naming neither a gadget spec nor a dashboard item is not (each an unknown-gadget warning)",
        ),
        "User" | "ApplicationUser" => {
            (NotYetSupported, "rows that could not be joined into a user")
        }
        // Left behind on purpose.
        "RememberMeToken" => (ByDesign, "holds login credentials (remember-me tokens)"),
        "OAuthConsumer"
        | "OAuthConsumerToken"
        | "OAuthServiceProviderConsumer"
        | "OAuthServiceProviderToken"
        | "TrustedApplication"
        | "ApplicationLink" => (
            ByDesign,
            "credentials and links of the source instance; set them up again on Cloud",
        ),
        "OSPropertyEntry" | "OSPropertyString" | "OSPropertyText" | "OSPropertyNumber"
        | "OSPropertyDate" | "OSPropertyDecimal" | "OSPropertyData" => (
            ByDesign,
            "instance settings and app settings of the source; an app's settings are its migrator's",
        ),
        "PluginVersion" | "PluginState" => (
            ByDesign,
            "the apps installed on the source; each enabled app's data goes through its plugin",
        ),
        "UpgradeHistory"
        | "UpgradeVersionHistory"
        | "UpgradeTaskHistory"
        | "UpgradeTaskHistoryAuditLog" => (ByDesign, "the source's upgrade history"),
        "ClusterNode"
        | "ClusterNodeHeartbeat"
        | "ClusterMessage"
        | "ClusterLockStatus"
        | "ClusteredJob"
        | "RunDetails"
        | "ReindexRequest"
        | "ReindexComponent"
        | "EntityPropertyIndexDocument"
        | "ReplicatedIndexOperation"
        | "NodeIndexCounter" => (
            ByDesign,
            "the source instance's cluster, scheduler or index state",
        ),
        "SequenceValueItem" => (ByDesign, "the source database's id sequences"),
        "Directory" | "DirectoryAttribute" | "DirectoryOperation" | "UserAttribute"
        | "GroupAttribute" => (
            ByDesign,
            "user directory internals; Jira Cloud users are Atlassian accounts",
        ),
        "LicenseRoleDefault" | "LicenseRoleGroup" | "ProductLicense" => (
            ByDesign,
            "licences and application access are managed in Atlassian administration",
        ),
        "AuditLog" | "AuditItem" | "AuditChangedValue" => (ByDesign, "the source's audit log"),
        "UserHistoryItem" => (ByDesign, "users' recently viewed items"),
        "ServiceConfig" | "ListenerConfig" | "MailServer" => {
            (ByDesign, "services and listeners of the source instance")
        }
        "ProjectRoleActor" => (
            Status::Unknown,
            "users and groups in project roles are migrated; actors of a type Jira Cloud does not know are not (each an unknown-role-actor-type warning)",
        ),
        "SchemePermissions" => (
            Status::Unknown,
            "permission schemes' grants are migrated; grants of a permission or to a holder Jira Cloud does not know are not (each an unknown-permission or unknown-permission-holder warning)",
        ),
        "Notification" => (
            Status::Unknown,
            "notification schemes' entries are migrated; those of a site's own event type or to a recipient Jira Cloud does not know are not (each a custom-event-notification or unknown-notification-recipient warning)",
        ),
        // Known features, to come.
        "GlobalPermissionEntry" => (NotYetSupported, "global permissions"),
        "SchemeIssueSecurities" => (
            Status::Unknown,
            "security levels' members are migrated; members of a type Jira Cloud does not know are not (each an unknown-level-member warning)",
        ),
        // Jira's workflow engine keeps a run per issue; Cloud starts its own for each issue
        // it creates, as Atlassian's migration assistant leaves it to.
        "OSWorkflowEntry" | "OSCurrentStep" | "OSHistoryStep" | "OSCurrentStepPrev"
        | "OSHistoryStepPrev" => (
            ByDesign,
            "the source's workflow engine state: an issue's place in its workflow is its status, migrated with it, and the target runs its own",
        ),
        // A draft is an unpublished edit of a project's scheme: the published one migrates.
        "DraftWorkflowScheme" | "DraftWorkflowSchemeEntity" => (
            ByDesign,
            "drafts of workflow schemes: the published scheme is migrated; publish the draft on the source first to migrate it",
        ),
        "EventType" => (
            ByDesign,
            "the site's own event types: Jira Cloud's API cannot create one; each is a custom-event-type warning naming it: add it on the target",
        ),
        "OptionConfiguration" | "GenericConfiguration" => (
            NotYetSupported,
            "issue type schemes' issue types and defaults are migrated; priority schemes and custom fields' default values are not yet",
        ),
        "ColumnLayout" | "ColumnLayoutItem" => (
            NotYetSupported,
            "users' and filters' issue navigator columns",
        ),
        // Custom fields' contexts come from these; other fields' schemes too.
        "FieldConfigScheme"
        | "FieldConfigSchemeIssueType"
        | "FieldConfiguration"
        | "ConfigurationContext" => (
            NotYetSupported,
            "custom fields' contexts and issue type schemes are migrated; other system fields' schemes (priority schemes) are not yet",
        ),
        "FilterSubscription" => (NotYetSupported, "filter subscriptions"),
        "FavouriteAssociations" => (NotYetSupported, "favourite filters and dashboards"),
        "MovedIssueKey" => (NotYetSupported, "former keys of moved issues"),
        "Avatar" => (NotYetSupported, "avatars"),
        "IssueTypeScheme" | "FieldConfigSchemeOption" => (NotYetSupported, "issue type schemes"),
        "UserPreference" | "ExternalEntity" => (NotYetSupported, "user preferences"),
        _ => (
            Status::Unknown,
            "an element type Airlock does not know: not migrated",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ledger_accounts_for_every_row_and_caps_the_names() {
        let mut counter = ElementCounter::default();
        for _ in 0..3 {
            counter.seen("Label");
        }
        counter.taken("Label");
        counter.taken("Label");
        counter.seen("RememberMeToken");
        counter.seen("FooBarUnknownThing");
        counter.seen("FooBarUnknownThing");
        let ledger = counter.ledger(&BTreeMap::from([(Kind::Label, 1)]), &BTreeMap::new());
        let label = ledger.entry("Label").unwrap();
        assert_eq!(
            (
                label.rows,
                label.migrated,
                label.skipped,
                label.not_migrated
            ),
            (3, 1, 1, 1)
        );
        assert_eq!(label.status, Status::NotYetSupported);
        let token = ledger.entry("RememberMeToken").unwrap();
        assert_eq!(token.status, Status::ByDesign);
        assert!(token.reason.contains("credentials"));
        let unknown = ledger.entry("FooBarUnknownThing").unwrap();
        assert_eq!((unknown.status, unknown.not_migrated), (Status::Unknown, 2));
        assert_eq!(ledger.not_migrated()[0].element, "FooBarUnknownThing");
        let (rows, migrated, skipped, left) = ledger.totals();
        assert_eq!(rows, migrated + skipped + left);

        let mut flood = ElementCounter::default();
        for i in 0..MAX_ELEMENT_NAMES + 5 {
            flood.seen(&format!("E{i}"));
        }
        flood.seen("E0");
        let ledger = flood.ledger(&BTreeMap::new(), &BTreeMap::new());
        assert_eq!(ledger.entries.len(), MAX_ELEMENT_NAMES);
        assert_eq!(ledger.unnamed_rows, 5);
        assert_eq!(ledger.entry("E0").unwrap().rows, 2);
    }

    #[test]
    fn app_tables_are_migrated_only_for_enabled_apps() {
        let mut tables = TableCounter::default();
        tables.defined("AO_09EAEF_TEAM");
        tables.rows("AO_09EAEF_TEAM", 4);
        tables.rows("AO_09EAEF_OTHER", 2);
        tables.rows("AO_0A5972_CHECKLIST", 7);
        tables.defined("AO_0A5972_EMPTY");
        let prefix = airlock_model::AppKey::new("com.actonic.jira.timesheet-builder").ao_prefix();
        assert!(prefix.owns("AO_09EAEF_TEAM"));
        let ledger = tables.ledger(
            &[prefix],
            &["AO_09EAEF_TEAM".into()],
            &BTreeMap::new(),
            &BTreeMap::new(),
        );
        let team = ledger.entry("AO_09EAEF_TEAM").unwrap();
        assert_eq!((team.migrated, team.status), (4, Status::Migrated));
        let other = ledger.entry("AO_09EAEF_OTHER").unwrap();
        assert_eq!(other.status, Status::NotYetSupported);
        let by_app = ledger.not_migrated_by_app();
        assert_eq!(by_app.len(), 2, "{by_app:#?}");
        assert_eq!(by_app[0].element, "AO_0A5972_* (1 tables)");
        assert_eq!(by_app[1].element, "AO_09EAEF_* (1 tables)");
        let checklist = ledger.entry("AO_0A5972_CHECKLIST").unwrap();
        assert_eq!(
            (checklist.not_migrated, checklist.status),
            (7, Status::AppNotEnabled)
        );
        assert!(
            checklist.reason.contains("AO_0A5972_"),
            "{}",
            checklist.reason
        );
        assert_eq!(ledger.entry("AO_0A5972_EMPTY").unwrap().rows, 0);
    }

    #[test]
    fn jira_softwares_tables_are_core_data() {
        let mut tables = TableCounter::default();
        tables.rows("AO_60DB71_RAPIDVIEW", 7);
        tables.rows("AO_60DB71_CARDLAYOUT", 3);
        tables.rows("AO_60DB71_AUDITENTRY", 2);
        let taken = BTreeMap::from([("AO_60DB71_RAPIDVIEW".to_owned(), 7)]);
        let skipped = BTreeMap::from([(Kind::Board, 1)]);
        // Not enabled as an app: Jira Software is never one.
        let ledger = tables.ledger(&[], &[], &taken, &skipped);
        let boards = ledger.entry("AO_60DB71_RAPIDVIEW").unwrap();
        assert_eq!(
            (
                boards.migrated,
                boards.skipped,
                boards.not_migrated,
                boards.status
            ),
            (6, 1, 0, Status::Migrated)
        );
        assert!(boards.reason.contains("orphans"), "{}", boards.reason);
        let cards = ledger.entry("AO_60DB71_CARDLAYOUT").unwrap();
        assert_eq!(
            (cards.not_migrated, cards.status),
            (3, Status::NotYetSupported)
        );
        let audit = ledger.entry("AO_60DB71_AUDITENTRY").unwrap();
        assert_eq!(audit.status, Status::ByDesign);
    }
}
