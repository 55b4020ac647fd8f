//! The embedded local site: one SQLite file shaped like Jira Cloud, and a folder of
//! attachment files beside it (`<db stem>.attachments/`).
//!
//! Durability: WAL with `synchronous=NORMAL` keeps every committed transaction through a
//! crash of the process (only a power loss may lose the last ones). Each `write` is one
//! transaction, so a batch is either stored whole (minus the records refused) or not at all.

mod checkpoint;
mod schema;
mod write;

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use airlock_model::jira::{Kind, Record};
use airlock_model::{AppKey, AppOutput, EntityKind};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::app_storage::{MAX_STORED_KEY, MAX_VALUE, check_outputs, stored_key};
use crate::{
    ItemError, Site, Snapshot, TargetConstant, TargetError, TargetField, TargetProject, TargetUser,
};
use write::{Cache, Writer};

/// How long a call waits for another connection's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// Source keys looked up per query by `find_written`.
const LOOKUP_CHUNK: usize = 500;

/// The embedded local site. One value per file at a time is the intended use; another
/// connection's changes are noticed (`PRAGMA data_version`) and reloaded.
pub struct LocalSite {
    path: PathBuf,
    attachments: PathBuf,
    conn: Connection,
    /// Makes this site's account ids its own (stored in the file).
    salt: u64,
    cache: Cache,
    /// Started by the first write (a site only read needs none).
    checkpoints: Checkpoints,
}

/// The site's background checkpoints ([`checkpoint`]).
enum Checkpoints {
    NotStarted,
    Running(checkpoint::Checkpointer),
    /// The thread could not start: the writer checkpoints as SQLite does by default.
    Unavailable,
}

impl std::fmt::Debug for LocalSite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalSite")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl LocalSite {
    /// Opens the site at `path`, creating the file, its tables and Cloud's defaults if new.
    pub fn open(path: &Path) -> Result<LocalSite, TargetError> {
        let local = |source| TargetError::Local {
            path: path.to_owned(),
            source,
        };
        let mut conn = Connection::open(path).map_err(local)?;
        let salt = prepare(&mut conn).map_err(local)?;
        let salt = salt.map_err(TargetError::Invalid)?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "site".to_owned());
        let attachments = path.with_file_name(format!("{stem}.attachments"));
        fs::create_dir_all(&attachments).map_err(|source| TargetError::Io {
            path: attachments.clone(),
            source,
        })?;
        tracing::info!(path = %path.display(), "opened the local site");
        Ok(LocalSite {
            path: path.to_owned(),
            attachments,
            conn,
            salt,
            cache: Cache::default(),
            checkpoints: Checkpoints::NotStarted,
        })
    }

    /// The folder holding the attachment files (one file per attachment id).
    pub fn attachments_dir(&self) -> &Path {
        &self.attachments
    }

    fn local(&self, source: rusqlite::Error) -> TargetError {
        TargetError::Local {
            path: self.path.clone(),
            source,
        }
    }

    // --- Seeding: content the site held before the migration (no source key). ---

    /// Adds a user as if created in Cloud; `None` for a hidden email. Returns the account id.
    pub fn add_user(
        &mut self,
        email: Option<&str>,
        display_name: &str,
    ) -> Result<String, TargetError> {
        let salt = self.salt;
        self.seed(|tx| {
            let seq: i64 =
                tx.query_row("SELECT COALESCE(MAX(seq) + 1, 1) FROM users", [], |r| {
                    r.get(0)
                })?;
            let account = write::account_id(salt, seq);
            tx.execute(
                "INSERT INTO users (seq, account_id, email, display_name, active)
                 VALUES (?1, ?2, ?3, ?4, 1)",
                params![seq, account, email, display_name],
            )?;
            Ok(account)
        })
    }

    /// Adds a group.
    pub fn add_group(&mut self, name: &str) -> Result<(), TargetError> {
        self.seed(|tx| {
            tx.execute("INSERT INTO groups (name) VALUES (?1)", [name])?;
            Ok(())
        })
    }

    /// Adds a project; returns its id.
    pub fn add_project(&mut self, key: &str, name: &str) -> Result<String, TargetError> {
        self.seed(|tx| {
            let id = next(tx, "projects", schema::FIRST_ID)?;
            tx.execute(
                "INSERT INTO projects (id, key, name) VALUES (?1, ?2, ?3)",
                params![id, key, name],
            )?;
            Ok(id.to_string())
        })
    }

    /// Adds a custom field; returns its id (`customfield_…`).
    pub fn add_field(&mut self, name: &str, type_key: &str) -> Result<String, TargetError> {
        self.seed(|tx| {
            let id = next(tx, "fields", schema::FIRST_ID)?;
            tx.execute(
                "INSERT INTO fields (id, name, type_key) VALUES (?1, ?2, ?3)",
                params![id, name, type_key],
            )?;
            // As Cloud does: a new field comes with its global context.
            let context = next(tx, "field_contexts", schema::FIRST_ID)?;
            tx.execute(
                "INSERT INTO field_contexts (id, field_id, name, description, is_global)
                 VALUES (?1, ?2, 'Default Configuration Scheme for ' || ?3,
                         'Default configuration scheme generated by Jira', 1)",
                params![context, id, name],
            )?;
            Ok(format!("customfield_{id}"))
        })
    }

    /// Adds an issue type, status, priority, resolution, link type or project role;
    /// returns its id.
    pub fn add_constant(&mut self, kind: Kind, name: &str) -> Result<String, TargetError> {
        let (table, first) = match kind {
            Kind::IssueType => ("issue_types", schema::FIRST_ID),
            Kind::Status => ("statuses", schema::FIRST_ID),
            Kind::Priority => ("priorities", 1),
            Kind::Resolution => ("resolutions", schema::FIRST_ID),
            Kind::IssueLinkType => ("issue_link_types", schema::FIRST_ID),
            Kind::ProjectRole => ("project_roles", schema::FIRST_ID),
            other => {
                return Err(TargetError::Invalid(format!(
                    "{other} is not a named constant"
                )));
            }
        };
        self.seed(|tx| {
            let id = next(tx, table, first)?;
            if kind == Kind::IssueLinkType {
                tx.execute(
                    "INSERT INTO issue_link_types (id, name, inward, outward)
                     VALUES (?1, ?2, ?2, ?2)",
                    params![id, name],
                )?;
            } else {
                tx.execute(
                    &format!("INSERT INTO {table} (id, name) VALUES (?1, ?2)"),
                    params![id, name],
                )?;
            }
            // Cloud gives its default issue type scheme every new issue type.
            if kind == Kind::IssueType {
                tx.execute(
                    "INSERT INTO issue_type_scheme_types (scheme_id, issue_type_id, position)
                     SELECT s.id, ?1, (SELECT COALESCE(MAX(position) + 1, 0)
                                       FROM issue_type_scheme_types WHERE scheme_id = s.id)
                     FROM issue_type_schemes s WHERE s.is_default = 1",
                    [id],
                )?;
            }
            Ok(id.to_string())
        })
    }

    /// Runs one seeding change in a transaction; a clash of unique keys is `Invalid`.
    fn seed<T>(
        &mut self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, TargetError> {
        // The write caches do not see this change: start them afresh.
        self.cache = Cache::default();
        let result = (|| {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = f(&tx)?;
            tx.commit()?;
            Ok(value)
        })();
        result.map_err(|e| match e {
            rusqlite::Error::SqliteFailure(f, _)
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                TargetError::Invalid("the site already holds one of this key or name".into())
            }
            e => self.local(e),
        })
    }

    // --- What the cloud double stores for a REST call. ---

    /// Stores app storage entries with their keys as given, as Jira Cloud does with a
    /// REST call (only Cloud's own limits: key 1 to 255 characters, JSON value ≤ 32,768
    /// characters). For the cloud double, whose client already namespaced the keys; a
    /// migration stores through [`Site::put_app_outputs`], which checks and namespaces.
    pub fn put_app_outputs_as_given(
        &mut self,
        app: &AppKey,
        outputs: &[AppOutput],
    ) -> Result<(), TargetError> {
        for (i, output) in outputs.iter().enumerate() {
            if let Some(why) = beyond_cloud_limits(output) {
                return Err(TargetError::Invalid(format!("app output {i}: {why}")));
            }
        }
        self.store_outputs(app, outputs, false)
            .map_err(|e| self.local(e))
    }

    /// Sets (or, `None`, clears) the source key of an issue, comment or worklog: what a
    /// `PUT` of its `airlock.source` property does in Jira Cloud. For the cloud double.
    /// Answers whether the record exists.
    pub fn set_source_key(
        &mut self,
        kind: Kind,
        id: &str,
        source_key: Option<&str>,
    ) -> Result<bool, TargetError> {
        let table = match kind {
            Kind::Issue => "issues",
            Kind::Comment => "comments",
            Kind::Worklog => "worklogs",
            other => {
                return Err(TargetError::Invalid(format!(
                    "{other} records carry no source property"
                )));
            }
        };
        let Ok(id) = id.parse::<i64>() else {
            return Ok(false);
        };
        self.seed(|tx| {
            tx.execute(
                &format!("UPDATE {table} SET source_key = ?1 WHERE id = ?2"),
                params![source_key, id],
            )
            .map(|n| n > 0)
        })
    }

    // --- Inspection for tests and verify. ---

    /// How many source keys of `kind` were written more than once (should be 0).
    pub fn duplicate_source_keys(&mut self, kind: Kind) -> Result<u64, TargetError> {
        let union = source_key_union(kind);
        let sql = format!(
            "SELECT COUNT(*) FROM (SELECT source_key FROM ({union})
             GROUP BY source_key HAVING COUNT(*) > 1)"
        );
        self.conn
            .query_row(&sql, [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(|e| self.local(e))
    }

    /// Every source key written for `kind`, in write order per table, repeats included.
    pub fn source_keys(&mut self, kind: Kind) -> Result<Vec<String>, TargetError> {
        let run = || -> rusqlite::Result<Vec<String>> {
            let mut keys = Vec::new();
            for table in schema::tables(kind) {
                let mut stmt = self.conn.prepare(&format!(
                    "SELECT source_key FROM {} WHERE source_key IS NOT NULL ORDER BY rowid",
                    table.name
                ))?;
                for key in stmt.query_map([], |r| r.get(0))? {
                    keys.push(key?);
                }
            }
            Ok(keys)
        };
        run().map_err(|e| self.local(e))
    }

    /// Each issue's source key and key (`DEMO-12`), in the order they were written.
    pub fn issue_keys_by_source(&mut self) -> Result<Vec<(String, String)>, TargetError> {
        let run = || -> rusqlite::Result<Vec<(String, String)>> {
            let mut stmt = self.conn.prepare(
                "SELECT source_key, key FROM issues WHERE source_key IS NOT NULL ORDER BY rowid",
            )?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        };
        run().map_err(|e| self.local(e))
    }

    /// An app's documents of one collection on the site, as (id, body), by id. The ids are
    /// as stored (in the app's namespace, see [`stored_key`]).
    pub fn app_documents(
        &mut self,
        app: &AppKey,
        collection: &str,
    ) -> Result<Vec<(String, String)>, TargetError> {
        let run = || -> rusqlite::Result<Vec<(String, String)>> {
            let mut stmt = self.conn.prepare(
                "SELECT doc_id, body FROM app_documents WHERE app_key = ?1 AND collection = ?2 \
                 ORDER BY doc_id",
            )?;
            stmt.query_map(params![app.as_str(), collection], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect()
        };
        run().map_err(|e| self.local(e))
    }

    /// An issue as the site holds it, read back for comparison with the source: the
    /// people in it named by their users' source keys (the server's user keys), so a test
    /// compares without knowing the account ids. `None` if no issue has the key.
    pub fn read_issue(&mut self, key: &str) -> Result<Option<IssueReadBack>, TargetError> {
        let run = || -> rusqlite::Result<Option<IssueReadBack>> {
            let Some((id, source, security)) = self
                .conn
                .query_row(
                    "SELECT id, source_key, security_level_id FROM issues WHERE key = ?1",
                    [key],
                    |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, Option<String>>(1)?,
                            r.get::<_, Option<i64>>(2)?,
                        ))
                    },
                )
                .optional()?
            else {
                return Ok(None);
            };
            let people = |table: &str| -> rusqlite::Result<Vec<String>> {
                let mut stmt = self.conn.prepare(&format!(
                    "SELECT COALESCE(u.source_key, u.account_id) FROM {table} t
                     JOIN users u ON u.account_id = t.account_id
                     WHERE t.issue_id = ?1 ORDER BY 1"
                ))?;
                stmt.query_map([id], |r| r.get(0))?.collect()
            };
            let mut groups = self.conn.prepare(
                "SELECT g.id, COALESCE(u.source_key, u.account_id), g.created
                 FROM change_groups g LEFT JOIN users u ON u.account_id = g.author_account_id
                 WHERE g.issue_id = ?1 ORDER BY g.created, g.id",
            )?;
            let mut items = self.conn.prepare(
                "SELECT field_type, field, old_value, old_string, new_value, new_string
                 FROM change_items WHERE group_id = ?1 ORDER BY id",
            )?;
            let mut history = Vec::new();
            let rows: Vec<(i64, Option<String>, i64)> = groups
                .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<_>>()?;
            for (group, author, created) in rows {
                let items = items
                    .query_map([group], |r| {
                        Ok(ChangeReadBack {
                            custom: r.get::<_, String>(0)? == "custom",
                            field: r.get(1)?,
                            old_value: r.get(2)?,
                            old_string: r.get(3)?,
                            new_value: r.get(4)?,
                            new_string: r.get(5)?,
                        })
                    })?
                    .collect::<rusqlite::Result<_>>()?;
                history.push(HistoryReadBack {
                    author,
                    created,
                    items,
                });
            }
            let mut sprints = self
                .conn
                .prepare("SELECT sprint_id FROM issue_sprints WHERE issue_id = ?1 ORDER BY 1")?;
            let sprints = sprints
                .query_map([id], |r| Ok(r.get::<_, i64>(0)?.to_string()))?
                .collect::<rusqlite::Result<_>>()?;
            let rank = self
                .conn
                .query_row(
                    "SELECT rank FROM issue_ranks WHERE issue_id = ?1",
                    [id],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(Some(IssueReadBack {
                key: key.to_owned(),
                source_key: source,
                watchers: people("watchers")?,
                voters: people("votes")?,
                history,
                security_level: security.map(|l| l.to_string()),
                sprints,
                rank,
            }))
        };
        run().map_err(|e| self.local(e))
    }

    /// Every saved filter on the site, by id: its owner by source key, its query (in the
    /// site's ids) and its shares as `type` or `type:target` (group name, project id,
    /// `project id/role id`, account id).
    pub fn read_filters(&mut self) -> Result<Vec<FilterReadBack>, TargetError> {
        let run = || -> rusqlite::Result<Vec<FilterReadBack>> {
            let mut stmt = self.conn.prepare(
                "SELECT f.id, f.source_key, f.name, COALESCE(u.source_key, u.account_id), f.jql
                 FROM filters f LEFT JOIN users u ON u.account_id = f.owner_account_id
                 ORDER BY f.id",
            )?;
            let mut filters: Vec<FilterReadBack> = stmt
                .query_map([], |r| {
                    Ok(FilterReadBack {
                        id: r.get::<_, i64>(0)?.to_string(),
                        source_key: r.get(1)?,
                        name: r.get(2)?,
                        owner: r.get(3)?,
                        jql: r.get(4)?,
                        shares: Vec::new(),
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            for f in &mut filters {
                f.shares = read_shares(&self.conn, "filter_shares", "filter_id", &f.id)?;
            }
            Ok(filters)
        };
        run().map_err(|e| self.local(e))
    }

    /// Every screen on the site, by id (the site's own defaults too, with no source key):
    /// its tabs in order, each with its fields' ids in order (`summary`,
    /// `customfield_10050`).
    pub fn read_screens(&mut self) -> Result<Vec<ScreenReadBack>, TargetError> {
        let run = || -> rusqlite::Result<Vec<ScreenReadBack>> {
            let mut stmt = self
                .conn
                .prepare("SELECT id, source_key, name, description FROM screens ORDER BY id")?;
            let mut screens: Vec<ScreenReadBack> = stmt
                .query_map([], |r| {
                    Ok(ScreenReadBack {
                        id: r.get::<_, i64>(0)?.to_string(),
                        source_key: r.get(1)?,
                        name: r.get(2)?,
                        description: r.get(3)?,
                        tabs: Vec::new(),
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            let mut tabs = self.conn.prepare(
                "SELECT id, source_key, name FROM screen_tabs WHERE screen_id = ?1
                 ORDER BY position, id",
            )?;
            let mut fields = self.conn.prepare(
                "SELECT field_id FROM screen_fields WHERE tab_id = ?1 ORDER BY position, id",
            )?;
            for screen in &mut screens {
                screen.tabs = tabs
                    .query_map([&screen.id], |r| {
                        Ok(ScreenTabReadBack {
                            id: r.get::<_, i64>(0)?.to_string(),
                            source_key: r.get(1)?,
                            name: r.get(2)?,
                            fields: Vec::new(),
                        })
                    })?
                    .collect::<rusqlite::Result<_>>()?;
                for tab in &mut screen.tabs {
                    tab.fields = fields
                        .query_map([&tab.id], |r| r.get(0))?
                        .collect::<rusqlite::Result<_>>()?;
                }
            }
            Ok(screens)
        };
        run().map_err(|e| self.local(e))
    }

    /// Every screen scheme on the site, by id: its screens by operation (`default`,
    /// `create`, `edit`, `view`, in that order) as the site's screen ids.
    pub fn read_screen_schemes(&mut self) -> Result<Vec<SchemeMapReadBack>, TargetError> {
        self.read_scheme_maps(
            "screen_schemes",
            None,
            "SELECT operation, CAST(screen_id AS TEXT) FROM screen_scheme_screens
             WHERE scheme_id = ?1
             ORDER BY CASE operation WHEN 'default' THEN 0 WHEN 'create' THEN 1
                                     WHEN 'edit' THEN 2 ELSE 3 END",
        )
    }

    /// Every issue type screen scheme on the site, by id: its screen scheme per issue
    /// type (`default`, then the site's issue type ids in order) as the site's ids, and
    /// the projects using it.
    pub fn read_issue_type_screen_schemes(
        &mut self,
    ) -> Result<Vec<SchemeMapReadBack>, TargetError> {
        self.read_scheme_maps(
            "issue_type_screen_schemes",
            Some("issue-type-screen"),
            "SELECT CASE issue_type_id WHEN 0 THEN 'default' ELSE CAST(issue_type_id AS TEXT) END,
                    CAST(screen_scheme_id AS TEXT)
             FROM issue_type_screen_mappings WHERE scheme_id = ?1 ORDER BY issue_type_id",
        )
    }

    /// Every field configuration on the site, by id (the site's default too, with no
    /// source key): each field's settings by field id, as (field, description, hidden,
    /// required, renderer).
    pub fn read_field_configurations(
        &mut self,
    ) -> Result<Vec<FieldConfigurationReadBack>, TargetError> {
        let run = || -> rusqlite::Result<Vec<FieldConfigurationReadBack>> {
            let mut stmt = self.conn.prepare(
                "SELECT id, source_key, name, description FROM field_configurations ORDER BY id",
            )?;
            let mut configurations: Vec<FieldConfigurationReadBack> = stmt
                .query_map([], |r| {
                    Ok(FieldConfigurationReadBack {
                        id: r.get::<_, i64>(0)?.to_string(),
                        source_key: r.get(1)?,
                        name: r.get(2)?,
                        description: r.get(3)?,
                        items: Vec::new(),
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            let mut items = self.conn.prepare(
                "SELECT field_id, description, hidden, required, renderer
                 FROM field_configuration_items WHERE configuration_id = ?1 ORDER BY field_id",
            )?;
            for c in &mut configurations {
                c.items = items
                    .query_map([&c.id], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                    })?
                    .collect::<rusqlite::Result<_>>()?;
            }
            Ok(configurations)
        };
        run().map_err(|e| self.local(e))
    }

    /// Every field configuration scheme on the site, by id: its field configuration per
    /// issue type (`default`, then the site's issue type ids in order) as the site's ids,
    /// and the projects using it.
    pub fn read_field_configuration_schemes(
        &mut self,
    ) -> Result<Vec<SchemeMapReadBack>, TargetError> {
        self.read_scheme_maps(
            "field_configuration_schemes",
            Some("field-configuration"),
            "SELECT CASE issue_type_id WHEN 0 THEN 'default' ELSE CAST(issue_type_id AS TEXT) END,
                    CAST(configuration_id AS TEXT)
             FROM field_configuration_mappings WHERE scheme_id = ?1 ORDER BY issue_type_id",
        )
    }

    /// Every board's card settings, by board id: its cards' fields as (mode, field id) in
    /// mode then position order, and colours as (strategy, value, colour) in order, values
    /// as the site's ids.
    pub fn read_card_settings(&mut self) -> Result<Vec<CardSettingsReadBack>, TargetError> {
        let run = || -> rusqlite::Result<Vec<CardSettingsReadBack>> {
            let mut boards = self.conn.prepare("SELECT id FROM boards ORDER BY id")?;
            let ids: Vec<i64> = boards
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let mut fields = self.conn.prepare(
                "SELECT mode, field_id FROM board_card_fields WHERE board_id = ?1
                 ORDER BY mode, position",
            )?;
            let mut colors = self.conn.prepare(
                "SELECT strategy, value, color FROM board_card_colors WHERE board_id = ?1
                 ORDER BY position",
            )?;
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                out.push(CardSettingsReadBack {
                    board: id.to_string(),
                    fields: fields
                        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect::<rusqlite::Result<_>>()?,
                    colors: colors
                        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                        .collect::<rusqlite::Result<_>>()?,
                });
            }
            Ok(out)
        };
        run().map_err(|e| self.local(e))
    }

    /// Every issue type scheme on the site, by id (the site's default too): its issue
    /// types in order and its default, as the site's ids, and the projects using it.
    pub fn read_issue_type_schemes(&mut self) -> Result<Vec<IssueTypeSchemeReadBack>, TargetError> {
        let run = || -> rusqlite::Result<Vec<IssueTypeSchemeReadBack>> {
            let mut stmt = self.conn.prepare(
                "SELECT id, source_key, name, description, is_default,
                        CAST(default_issue_type_id AS TEXT)
                 FROM issue_type_schemes ORDER BY id",
            )?;
            let mut schemes: Vec<IssueTypeSchemeReadBack> = stmt
                .query_map([], |r| {
                    Ok(IssueTypeSchemeReadBack {
                        id: r.get::<_, i64>(0)?.to_string(),
                        source_key: r.get(1)?,
                        name: r.get(2)?,
                        description: r.get(3)?,
                        is_default: r.get(4)?,
                        default_issue_type: r.get(5)?,
                        issue_types: Vec::new(),
                        projects: Vec::new(),
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            let mut types = self.conn.prepare(
                "SELECT CAST(issue_type_id AS TEXT) FROM issue_type_scheme_types
                 WHERE scheme_id = ?1 ORDER BY position",
            )?;
            let mut projects = self.conn.prepare(
                "SELECT CAST(project_id AS TEXT) FROM project_schemes
                 WHERE scheme_type = 'issue-type' AND scheme_id = ?1 ORDER BY project_id",
            )?;
            for scheme in &mut schemes {
                scheme.issue_types = types
                    .query_map([&scheme.id], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                scheme.projects = projects
                    .query_map([&scheme.id], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
            }
            Ok(schemes)
        };
        run().map_err(|e| self.local(e))
    }

    /// Every workflow on the site, by id (the built-in `jira` too, with no steps): its
    /// steps and transitions in order, statuses and screens as the site's ids.
    pub fn read_workflows(&mut self) -> Result<Vec<WorkflowReadBack>, TargetError> {
        let run = || -> rusqlite::Result<Vec<WorkflowReadBack>> {
            let mut stmt = self
                .conn
                .prepare("SELECT id, source_key, name, description FROM workflows ORDER BY id")?;
            let mut workflows: Vec<WorkflowReadBack> = stmt
                .query_map([], |r| {
                    Ok(WorkflowReadBack {
                        id: r.get::<_, i64>(0)?.to_string(),
                        source_key: r.get(1)?,
                        name: r.get(2)?,
                        description: r.get(3)?,
                        steps: Vec::new(),
                        transitions: Vec::new(),
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            let mut steps = self.conn.prepare(
                "SELECT step_id, name, CAST(status_id AS TEXT) FROM workflow_steps
                 WHERE workflow_id = ?1 ORDER BY position",
            )?;
            let mut transitions = self.conn.prepare(
                "SELECT transition_id, name, description, kind, from_steps, to_step,
                        CAST(screen_id AS TEXT)
                 FROM workflow_transitions WHERE workflow_id = ?1 ORDER BY position",
            )?;
            for w in &mut workflows {
                w.steps = steps
                    .query_map([&w.id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect::<rusqlite::Result<_>>()?;
                w.transitions = transitions
                    .query_map([&w.id], |r| {
                        let from: String = r.get(4)?;
                        Ok(TransitionReadBack {
                            id: r.get(0)?,
                            name: r.get(1)?,
                            description: r.get(2)?,
                            kind: r.get(3)?,
                            from: from
                                .split(',')
                                .filter(|s| !s.is_empty())
                                .map(str::to_owned)
                                .collect(),
                            to: r.get(5)?,
                            screen: r.get(6)?,
                        })
                    })?
                    .collect::<rusqlite::Result<_>>()?;
            }
            Ok(workflows)
        };
        run().map_err(|e| self.local(e))
    }

    /// Every workflow scheme on the site, by id: its workflow per issue type (`default`,
    /// then the site's issue type ids in order) as the site's workflow ids, and the
    /// projects using it.
    pub fn read_workflow_schemes(&mut self) -> Result<Vec<SchemeMapReadBack>, TargetError> {
        self.read_scheme_maps(
            "workflow_schemes",
            Some("workflow"),
            "SELECT CASE issue_type_id WHEN 0 THEN 'default' ELSE CAST(issue_type_id AS TEXT) END,
                    CAST(workflow_id AS TEXT)
             FROM workflow_scheme_mappings WHERE scheme_id = ?1 ORDER BY issue_type_id",
        )
    }

    /// The schemes of `table`, each with what `entries` (given the scheme's id) maps, and
    /// the projects whose scheme of `project_type` it is.
    fn read_scheme_maps(
        &mut self,
        table: &str,
        project_type: Option<&str>,
        entries: &str,
    ) -> Result<Vec<SchemeMapReadBack>, TargetError> {
        let run = || -> rusqlite::Result<Vec<SchemeMapReadBack>> {
            let mut stmt = self.conn.prepare(&format!(
                "SELECT id, source_key, name, description FROM {table} ORDER BY id"
            ))?;
            let mut schemes: Vec<SchemeMapReadBack> = stmt
                .query_map([], |r| {
                    Ok(SchemeMapReadBack {
                        id: r.get::<_, i64>(0)?.to_string(),
                        source_key: r.get(1)?,
                        name: r.get(2)?,
                        description: r.get(3)?,
                        entries: Vec::new(),
                        projects: Vec::new(),
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            let mut entries = self.conn.prepare(entries)?;
            let mut projects = self.conn.prepare(
                "SELECT CAST(project_id AS TEXT) FROM project_schemes
                 WHERE scheme_type = ?1 AND scheme_id = ?2 ORDER BY project_id",
            )?;
            for scheme in &mut schemes {
                scheme.entries = entries
                    .query_map([&scheme.id], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<rusqlite::Result<_>>()?;
                if let Some(project_type) = project_type {
                    scheme.projects = projects
                        .query_map(params![project_type, scheme.id], |r| r.get(0))?
                        .collect::<rusqlite::Result<_>>()?;
                }
            }
            Ok(schemes)
        };
        run().map_err(|e| self.local(e))
    }

    /// Every dashboard on the site, by id: its owner by source key (none for one no one
    /// owns), its shares as [`LocalSite::read_filters`] gives a filter's, and its gadgets
    /// by place, each with its settings (in the site's ids) by key.
    pub fn read_dashboards(&mut self) -> Result<Vec<DashboardReadBack>, TargetError> {
        let run = || -> rusqlite::Result<Vec<DashboardReadBack>> {
            let mut stmt = self.conn.prepare(
                "SELECT d.id, d.source_key, d.name, d.description,
                        COALESCE(u.source_key, u.account_id), d.layout
                 FROM dashboards d LEFT JOIN users u ON u.account_id = d.owner_account_id
                 ORDER BY d.id",
            )?;
            let mut dashboards: Vec<DashboardReadBack> = stmt
                .query_map([], |r| {
                    Ok(DashboardReadBack {
                        id: r.get::<_, i64>(0)?.to_string(),
                        source_key: r.get(1)?,
                        name: r.get(2)?,
                        description: r.get(3)?,
                        owner: r.get(4)?,
                        layout: r.get(5)?,
                        shares: Vec::new(),
                        gadgets: Vec::new(),
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            let mut gadgets = self.conn.prepare(
                "SELECT id, source_key, column_number, row_number, uri, module_key, color
                 FROM gadgets WHERE dashboard_id = ?1 ORDER BY column_number, row_number",
            )?;
            let mut preferences = self.conn.prepare(
                "SELECT key, value FROM gadget_preferences WHERE gadget_id = ?1 ORDER BY key",
            )?;
            for d in &mut dashboards {
                d.shares = read_shares(&self.conn, "dashboard_shares", "dashboard_id", &d.id)?;
                d.gadgets = gadgets
                    .query_map([&d.id], |r| {
                        Ok(GadgetReadBack {
                            id: r.get::<_, i64>(0)?.to_string(),
                            source_key: r.get(1)?,
                            column: r.get(2)?,
                            row: r.get(3)?,
                            uri: r.get(4)?,
                            module_key: r.get(5)?,
                            color: r.get(6)?,
                            preferences: Vec::new(),
                        })
                    })?
                    .collect::<rusqlite::Result<_>>()?;
                for g in &mut d.gadgets {
                    g.preferences = preferences
                        .query_map([&g.id], |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect::<rusqlite::Result<_>>()?;
                }
            }
            Ok(dashboards)
        };
        run().map_err(|e| self.local(e))
    }

    /// Every project role actor on the site, sorted: its project and role by the site's
    /// ids (no project for a role's default actors), a user by its source key (the server's
    /// user key; an account the migration did not write by its account id) as
    /// `user:<key>`, a group as `group:<name>`.
    pub fn read_role_actors(&mut self) -> Result<Vec<RoleActorReadBack>, TargetError> {
        let run = || -> rusqlite::Result<Vec<RoleActorReadBack>> {
            let mut stmt = self.conn.prepare(
                "SELECT a.project_id, a.role_id,
                        CASE a.actor_type
                            WHEN 'user' THEN 'user:' || COALESCE(u.source_key, a.account_id)
                            ELSE 'group:' || a.group_name END,
                        a.source_key
                 FROM project_role_actors a LEFT JOIN users u ON u.account_id = a.account_id",
            )?;
            let mut actors: Vec<RoleActorReadBack> = stmt
                .query_map([], |r| {
                    Ok(RoleActorReadBack {
                        project: r.get::<_, Option<i64>>(0)?.map(|p| p.to_string()),
                        role: r.get::<_, i64>(1)?.to_string(),
                        actor: r.get(2)?,
                        source_key: r.get(3)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            actors.sort();
            Ok(actors)
        };
        run().map_err(|e| self.local(e))
    }

    /// Every remote issue link, by issue and id.
    pub fn read_remote_links(&mut self) -> Result<Vec<RemoteLinkReadBack>, TargetError> {
        let run = || -> rusqlite::Result<Vec<RemoteLinkReadBack>> {
            let mut stmt = self.conn.prepare(
                "SELECT issue_id, global_id, title, url, summary, icon_url, icon_title,
                        relationship, application_type, application_name, source_key
                 FROM remote_links ORDER BY issue_id, id",
            )?;
            stmt.query_map([], |r| {
                Ok(RemoteLinkReadBack {
                    issue: r.get::<_, i64>(0)?.to_string(),
                    global_id: r.get(1)?,
                    title: r.get(2)?,
                    url: r.get(3)?,
                    summary: r.get(4)?,
                    icon_url: r.get(5)?,
                    icon_title: r.get(6)?,
                    relationship: r.get(7)?,
                    application_type: r.get(8)?,
                    application_name: r.get(9)?,
                    source_key: r.get(10)?,
                })
            })?
            .collect()
        };
        run().map_err(|e| self.local(e))
    }

    /// Every issue security level's members in Jira Cloud's terms (users as
    /// `user:<source key>`), by level.
    pub fn read_level_members(&mut self) -> Result<Vec<LevelMemberReadBack>, TargetError> {
        let run = || -> rusqlite::Result<Vec<LevelMemberReadBack>> {
            let mut stmt = self.conn.prepare(
                "SELECT m.level_id, m.holder_type,
                        CASE m.holder_type WHEN 'user'
                            THEN 'user:' || COALESCE(u.source_key, m.parameter)
                            ELSE m.parameter END,
                        m.source_key
                 FROM security_level_members m
                 LEFT JOIN users u ON u.account_id = m.parameter
                 ORDER BY m.level_id, m.id",
            )?;
            stmt.query_map([], |r| {
                Ok(LevelMemberReadBack {
                    level: r.get::<_, i64>(0)?.to_string(),
                    holder_type: r.get(1)?,
                    parameter: r.get(2)?,
                    source_key: r.get(3)?,
                })
            })?
            .collect()
        };
        run().map_err(|e| self.local(e))
    }

    /// Every custom field context with its projects, issue types and options, by field
    /// then context id.
    pub fn read_field_contexts(&mut self) -> Result<Vec<FieldContextReadBack>, TargetError> {
        let run = || -> rusqlite::Result<Vec<FieldContextReadBack>> {
            let mut stmt = self.conn.prepare(
                "SELECT id, field_id, source_key, name, description, is_global
                 FROM field_contexts ORDER BY field_id, id",
            )?;
            let mut contexts: Vec<FieldContextReadBack> = stmt
                .query_map([], |r| {
                    Ok(FieldContextReadBack {
                        id: r.get::<_, i64>(0)?.to_string(),
                        field: format!("customfield_{}", r.get::<_, i64>(1)?),
                        source_key: r.get(2)?,
                        name: r.get(3)?,
                        description: r.get(4)?,
                        global: r.get(5)?,
                        projects: Vec::new(),
                        issue_types: Vec::new(),
                        options: Vec::new(),
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            let mut projects = self.conn.prepare(
                "SELECT project_id FROM field_context_projects WHERE context_id = ?1
                 ORDER BY project_id",
            )?;
            let mut types = self.conn.prepare(
                "SELECT issue_type_id FROM field_context_issue_types WHERE context_id = ?1
                 ORDER BY issue_type_id",
            )?;
            let mut options = self.conn.prepare(
                "SELECT id, value, parent_id, disabled, source_key FROM field_options
                 WHERE context_id = ?1 ORDER BY id",
            )?;
            for c in &mut contexts {
                c.projects = projects
                    .query_map([&c.id], |r| Ok(r.get::<_, i64>(0)?.to_string()))?
                    .collect::<rusqlite::Result<_>>()?;
                c.issue_types = types
                    .query_map([&c.id], |r| Ok(r.get::<_, i64>(0)?.to_string()))?
                    .collect::<rusqlite::Result<_>>()?;
                c.options = options
                    .query_map([&c.id], |r| {
                        Ok(OptionReadBack {
                            id: r.get::<_, i64>(0)?.to_string(),
                            value: r.get(1)?,
                            parent: r.get::<_, Option<i64>>(2)?.map(|p| p.to_string()),
                            disabled: r.get(3)?,
                            source_key: r.get(4)?,
                        })
                    })?
                    .collect::<rusqlite::Result<_>>()?;
            }
            Ok(contexts)
        };
        run().map_err(|e| self.local(e))
    }

    /// Every permission scheme on the site, by id, with its grants (sorted) and the
    /// projects that use it (site ids, sorted). A user holder reads as `user:<its source
    /// key>` (an account the migration did not write by its account id).
    pub fn read_permission_schemes(
        &mut self,
    ) -> Result<Vec<PermissionSchemeReadBack>, TargetError> {
        let run = || -> rusqlite::Result<Vec<PermissionSchemeReadBack>> {
            let mut stmt = self.conn.prepare(
                "SELECT id, source_key, name, description FROM permission_schemes ORDER BY id",
            )?;
            let mut schemes: Vec<PermissionSchemeReadBack> = stmt
                .query_map([], |r| {
                    Ok(PermissionSchemeReadBack {
                        id: r.get::<_, i64>(0)?.to_string(),
                        source_key: r.get(1)?,
                        name: r.get(2)?,
                        description: r.get(3)?,
                        grants: Vec::new(),
                        projects: Vec::new(),
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            let mut grants = self.conn.prepare(
                "SELECT g.permission, g.holder_type,
                        CASE g.holder_type WHEN 'user'
                            THEN 'user:' || COALESCE(u.source_key, g.parameter)
                            ELSE g.parameter END,
                        g.source_key
                 FROM scheme_permissions g LEFT JOIN users u ON u.account_id = g.parameter
                 WHERE g.scheme_id = ?1",
            )?;
            let mut projects = self.conn.prepare(
                "SELECT project_id FROM project_schemes
                 WHERE scheme_type = 'permission' AND scheme_id = ?1 ORDER BY project_id",
            )?;
            for scheme in &mut schemes {
                scheme.grants = grants
                    .query_map([&scheme.id], |r| {
                        Ok(GrantReadBack {
                            permission: r.get(0)?,
                            holder_type: r.get(1)?,
                            parameter: r.get(2)?,
                            source_key: r.get(3)?,
                        })
                    })?
                    .collect::<rusqlite::Result<_>>()?;
                scheme.grants.sort();
                scheme.projects = projects
                    .query_map([&scheme.id], |r| Ok(r.get::<_, i64>(0)?.to_string()))?
                    .collect::<rusqlite::Result<_>>()?;
            }
            Ok(schemes)
        };
        run().map_err(|e| self.local(e))
    }

    /// Every notification scheme on the site, by id, with its entries (sorted) and the
    /// projects that use it (site ids, sorted). A user reads as `user:<its source key>`.
    pub fn read_notification_schemes(
        &mut self,
    ) -> Result<Vec<NotificationSchemeReadBack>, TargetError> {
        let run = || -> rusqlite::Result<Vec<NotificationSchemeReadBack>> {
            let mut stmt = self.conn.prepare(
                "SELECT id, source_key, name, description FROM notification_schemes ORDER BY id",
            )?;
            let mut schemes: Vec<NotificationSchemeReadBack> = stmt
                .query_map([], |r| {
                    Ok(NotificationSchemeReadBack {
                        id: r.get::<_, i64>(0)?.to_string(),
                        source_key: r.get(1)?,
                        name: r.get(2)?,
                        description: r.get(3)?,
                        notifications: Vec::new(),
                        projects: Vec::new(),
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            let mut entries = self.conn.prepare(
                "SELECT n.event_id, n.recipient_type,
                        CASE n.recipient_type WHEN 'User'
                            THEN 'user:' || COALESCE(u.source_key, n.parameter)
                            ELSE n.parameter END,
                        n.source_key
                 FROM notifications n LEFT JOIN users u ON u.account_id = n.parameter
                 WHERE n.scheme_id = ?1",
            )?;
            let mut projects = self.conn.prepare(
                "SELECT project_id FROM project_schemes
                 WHERE scheme_type = 'notification' AND scheme_id = ?1 ORDER BY project_id",
            )?;
            for scheme in &mut schemes {
                scheme.notifications = entries
                    .query_map([&scheme.id], |r| {
                        Ok(NotificationReadBack {
                            event: r.get(0)?,
                            recipient_type: r.get(1)?,
                            parameter: r.get(2)?,
                            source_key: r.get(3)?,
                        })
                    })?
                    .collect::<rusqlite::Result<_>>()?;
                scheme.notifications.sort();
                scheme.projects = projects
                    .query_map([&scheme.id], |r| Ok(r.get::<_, i64>(0)?.to_string()))?
                    .collect::<rusqlite::Result<_>>()?;
            }
            Ok(schemes)
        };
        run().map_err(|e| self.local(e))
    }

    /// Every project category on the site, by id, with its projects (site ids, sorted).
    pub fn read_project_categories(&mut self) -> Result<Vec<CategoryReadBack>, TargetError> {
        let run = || -> rusqlite::Result<Vec<CategoryReadBack>> {
            let mut stmt = self.conn.prepare(
                "SELECT c.id, c.source_key, c.name, c.description,
                        (SELECT group_concat(project_id) FROM
                            (SELECT project_id FROM project_schemes
                             WHERE scheme_type = 'category' AND scheme_id = c.id
                             ORDER BY project_id))
                 FROM project_categories c ORDER BY c.id",
            )?;
            stmt.query_map([], |r| {
                let projects: Option<String> = r.get(4)?;
                Ok(CategoryReadBack {
                    id: r.get::<_, i64>(0)?.to_string(),
                    source_key: r.get(1)?,
                    name: r.get(2)?,
                    description: r.get(3)?,
                    projects: projects
                        .map(|p| p.split(',').map(str::to_owned).collect())
                        .unwrap_or_default(),
                })
            })?
            .collect()
        };
        run().map_err(|e| self.local(e))
    }

    /// Every key the site finds a project by besides its own (its former keys, and any
    /// key written for it), sorted by project and key.
    pub fn read_project_keys(&mut self) -> Result<Vec<ProjectKeyReadBack>, TargetError> {
        let run = || -> rusqlite::Result<Vec<ProjectKeyReadBack>> {
            let mut stmt = self.conn.prepare(
                "SELECT project_id, key, source_key FROM project_keys ORDER BY project_id, key",
            )?;
            stmt.query_map([], |r| {
                Ok(ProjectKeyReadBack {
                    project: r.get::<_, i64>(0)?.to_string(),
                    key: r.get(1)?,
                    source_key: r.get(2)?,
                })
            })?
            .collect()
        };
        run().map_err(|e| self.local(e))
    }

    /// Gives a project a new key, as Jira Cloud's project edit does: its issues take it,
    /// its key until now stays one the site finds it by (a former key), and a key another
    /// project has, now or before, is refused. Renaming a project to one of its own former keys is allowed.
    pub fn rename_project(
        &mut self,
        project: &str,
        key: &str,
    ) -> Result<Result<(), crate::ItemError>, TargetError> {
        let refused = |code, message: String| Ok(Err(crate::ItemError { code, message }));
        let check = crate::rules::check(&Record::ProjectKey(airlock_model::jira::ProjectKey {
            id: String::new(),
            project: project.to_owned(),
            key: key.to_owned(),
        }));
        if let Err(v) = check {
            return Ok(Err(v.into()));
        }
        let Ok(id) = project.parse::<i64>() else {
            return refused("invalid-reference", "the site has no such project".into());
        };
        let run = |conn: &rusqlite::Connection| -> rusqlite::Result<Option<Option<i64>>> {
            let current: Option<String> = conn
                .query_row("SELECT key FROM projects WHERE id = ?1", [id], |r| r.get(0))
                .optional()?;
            let Some(current) = current else {
                return Ok(None);
            };
            let owner: Option<i64> = conn
                .query_row(
                    "SELECT id FROM projects WHERE key = ?1
                     UNION ALL SELECT project_id FROM project_keys WHERE key = ?1",
                    [key],
                    |r| r.get(0),
                )
                .optional()?;
            if owner.is_some_and(|o| o != id) {
                return Ok(Some(owner));
            }
            if current != key {
                conn.execute(
                    "INSERT INTO project_keys (project_id, key) VALUES (?1, ?2)
                     ON CONFLICT (key) DO NOTHING",
                    rusqlite::params![id, current],
                )?;
                conn.execute(
                    "UPDATE projects SET key = ?2 WHERE id = ?1",
                    rusqlite::params![id, key],
                )?;
                // Its issues take the new key, as on Cloud (the old ones still find them).
                conn.execute(
                    "UPDATE issues SET key = ?2 || '-' || number WHERE project_id = ?1",
                    rusqlite::params![id, key],
                )?;
            }
            Ok(Some(None))
        };
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(|e| self.local(e))?;
        let outcome = run(&tx).map_err(|e| self.local(e))?;
        tx.commit().map_err(|e| self.local(e))?;
        // The write caches hold projects by key: start them afresh.
        self.cache = Cache::default();
        match outcome {
            None => refused("invalid-reference", "the site has no such project".into()),
            Some(Some(_)) => refused(
                "duplicate-key",
                format!("the key {key} is another project's on the site"),
            ),
            Some(None) => Ok(Ok(())),
        }
    }

    /// Every board on the site, by id: its owner by source key, its columns with their
    /// statuses (site ids), swimlanes and quick filters (queries in the site's ids) in
    /// their order, and its sprints by id.
    pub fn read_boards(&mut self) -> Result<Vec<BoardReadBack>, TargetError> {
        let run = || -> rusqlite::Result<Vec<BoardReadBack>> {
            let mut stmt = self.conn.prepare(
                "SELECT b.id, b.source_key, b.name, b.type, b.filter_id,
                        COALESCE(u.source_key, u.account_id)
                 FROM boards b LEFT JOIN users u ON u.account_id = b.owner_account_id
                 ORDER BY b.id",
            )?;
            let mut boards: Vec<BoardReadBack> = stmt
                .query_map([], |r| {
                    Ok(BoardReadBack {
                        id: r.get::<_, i64>(0)?.to_string(),
                        source_key: r.get(1)?,
                        name: r.get(2)?,
                        scrum: r.get::<_, String>(3)? == "scrum",
                        filter: r.get::<_, i64>(4)?.to_string(),
                        owner: r.get(5)?,
                        columns: Vec::new(),
                        swimlanes: Vec::new(),
                        quick_filters: Vec::new(),
                        sprints: Vec::new(),
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            let mut columns = self.conn.prepare(
                "SELECT id, name, min, max FROM board_columns WHERE board_id = ?1
                 ORDER BY position, id",
            )?;
            let mut statuses = self.conn.prepare(
                "SELECT status_id FROM column_statuses WHERE column_id = ?1 ORDER BY position, id",
            )?;
            let mut sprints = self.conn.prepare(
                "SELECT source_key, name, state, start_date, end_date, complete_date, goal
                 FROM sprints WHERE board_id = ?1 ORDER BY id",
            )?;
            for b in &mut boards {
                let rows: Vec<(i64, String, Option<i64>, Option<i64>)> = columns
                    .query_map([&b.id], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                    })?
                    .collect::<rusqlite::Result<_>>()?;
                for (id, name, min, max) in rows {
                    let statuses = statuses
                        .query_map([id], |r| Ok(r.get::<_, i64>(0)?.to_string()))?
                        .collect::<rusqlite::Result<_>>()?;
                    b.columns.push(ColumnReadBack {
                        name,
                        statuses,
                        min,
                        max,
                    });
                }
                for (table, out) in [
                    ("board_swimlanes", &mut b.swimlanes),
                    ("board_quick_filters", &mut b.quick_filters),
                ] {
                    let mut stmt = self.conn.prepare_cached(&format!(
                        "SELECT name, jql FROM {table} WHERE board_id = ?1 ORDER BY position, id"
                    ))?;
                    *out = stmt
                        .query_map([&b.id], |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect::<rusqlite::Result<_>>()?;
                }
                b.sprints = sprints
                    .query_map([&b.id], |r| {
                        Ok(SprintReadBack {
                            source_key: r.get(0)?,
                            name: r.get(1)?,
                            state: r.get(2)?,
                            start: r.get(3)?,
                            end: r.get(4)?,
                            completed: r.get(5)?,
                            goal: r.get(6)?,
                        })
                    })?
                    .collect::<rusqlite::Result<_>>()?;
            }
            Ok(boards)
        };
        run().map_err(|e| self.local(e))
    }

    /// Every issue key on the site, in creation order.
    pub fn issue_keys(&mut self) -> Result<Vec<String>, TargetError> {
        let run = || -> rusqlite::Result<Vec<String>> {
            let mut stmt = self.conn.prepare("SELECT key FROM issues ORDER BY id")?;
            stmt.query_map([], |r| r.get(0))?.collect()
        };
        run().map_err(|e| self.local(e))
    }

    fn write_batch(
        &mut self,
        kind: Kind,
        records: &[Record],
    ) -> rusqlite::Result<Vec<Result<String, ItemError>>> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Another connection committed since the sets were loaded: they may be stale.
        let version: i64 = tx.pragma_query_value(None, "data_version", |r| r.get(0))?;
        if self.cache.data_version != Some(version) {
            self.cache = Cache::default();
            self.cache.data_version = Some(version);
        }
        let answers = Writer {
            conn: &tx,
            cache: &mut self.cache,
            salt: self.salt,
        }
        .write(kind, records)?;
        tx.commit()?;
        self.checkpoint();
        Ok(answers)
    }

    /// Has what is committed checkpointed by the background thread, started on first use.
    fn checkpoint(&mut self) {
        if let Checkpoints::NotStarted = self.checkpoints {
            self.checkpoints = match checkpoint::Checkpointer::start(&self.path).and_then(|c| {
                self.conn
                    .pragma_update(
                        None,
                        "wal_autocheckpoint",
                        checkpoint::WRITER_CHECKPOINT_PAGES,
                    )
                    .map_err(io::Error::other)?;
                Ok(c)
            }) {
                Ok(c) => Checkpoints::Running(c),
                Err(e) => {
                    tracing::warn!(error = %e, "the local site checkpoints on its writer: no thread for it");
                    Checkpoints::Unavailable
                }
            };
        }
        if let Checkpoints::Running(c) = &self.checkpoints {
            c.nudge();
        }
    }

    fn find_batch(
        &self,
        kind: Kind,
        source_keys: &[String],
    ) -> rusqlite::Result<Vec<Option<String>>> {
        let mut found: HashMap<String, String> = HashMap::with_capacity(source_keys.len());
        if !schema::has_source_index(kind) {
            // One pass over the table, oldest rows first (a key written twice keeps its
            // first id), instead of a scan per chunk of keys.
            let wanted: std::collections::HashSet<&str> =
                source_keys.iter().map(String::as_str).collect();
            for table in schema::tables(kind) {
                let mut stmt = self.conn.prepare(&format!(
                    "SELECT source_key, {} FROM {} WHERE source_key IS NOT NULL ORDER BY rowid",
                    table.id, table.name
                ))?;
                let mut rows = stmt.query([])?;
                while let Some(row) = rows.next()? {
                    let key = row.get_ref(0)?.as_str()?;
                    if wanted.contains(key) && !found.contains_key(key) {
                        found.insert(key.to_owned(), row.get(1)?);
                    }
                }
            }
            return Ok(source_keys.iter().map(|k| found.get(k).cloned()).collect());
        }
        let placeholders = (1..=LOOKUP_CHUNK)
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(",");
        for table in schema::tables(kind) {
            let sql = format!(
                "SELECT source_key, {} FROM {} WHERE source_key IS NOT NULL
                 AND source_key IN ({placeholders}) ORDER BY rowid",
                table.id, table.name
            );
            let mut stmt = self.conn.prepare_cached(&sql)?;
            for chunk in source_keys.chunks(LOOKUP_CHUNK) {
                // Padded with NULLs, which match nothing: one statement for every chunk.
                let args = (0..LOOKUP_CHUNK).map(|i| chunk.get(i).map(String::as_str));
                let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
                while let Some(row) = rows.next()? {
                    let key: String = row.get(0)?;
                    let id: String = row.get(1)?;
                    // Rows come oldest first: a key written twice keeps its first id.
                    found.entry(key).or_insert(id);
                }
            }
        }
        Ok(source_keys.iter().map(|k| found.get(k).cloned()).collect())
    }

    fn read_snapshot(&self) -> rusqlite::Result<Snapshot> {
        let conn = &self.conn;
        let constants = |table: &str| -> rusqlite::Result<Vec<TargetConstant>> {
            let mut stmt = conn.prepare(&format!("SELECT id, name FROM {table} ORDER BY id"))?;
            stmt.query_map([], |r| {
                Ok(TargetConstant {
                    id: r.get::<_, i64>(0)?.to_string(),
                    name: r.get(1)?,
                })
            })?
            .collect()
        };
        let projects = conn
            .prepare("SELECT id, key, name FROM projects ORDER BY id")?
            .query_map([], |r| {
                Ok(TargetProject {
                    id: r.get::<_, i64>(0)?.to_string(),
                    key: r.get(1)?,
                    name: r.get(2)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        let fields = conn
            .prepare("SELECT id, name, type_key FROM fields ORDER BY id")?
            .query_map([], |r| {
                Ok(TargetField {
                    id: format!("customfield_{}", r.get::<_, i64>(0)?),
                    name: r.get(1)?,
                    type_key: r.get(2)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        let users = conn
            .prepare("SELECT account_id, email, display_name FROM users ORDER BY seq")?
            .query_map([], |r| {
                Ok(TargetUser {
                    account_id: r.get(0)?,
                    email: r.get::<_, Option<String>>(1)?.filter(|e| !e.is_empty()),
                    display_name: r.get(2)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        let groups = conn
            .prepare("SELECT name FROM groups ORDER BY id")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(Snapshot {
            projects,
            fields,
            users,
            groups,
            issue_types: constants("issue_types")?,
            statuses: constants("statuses")?,
            priorities: constants("priorities")?,
            resolutions: constants("resolutions")?,
            link_types: constants("issue_link_types")?,
            roles: constants("project_roles")?,
        })
    }

    fn read_counts(&self) -> rusqlite::Result<BTreeMap<Kind, u64>> {
        let mut counts = BTreeMap::new();
        for kind in Kind::ALL {
            let mut n = 0;
            for table in schema::tables(kind) {
                let sql = format!(
                    "SELECT COUNT(*) FROM {} WHERE source_key IS NOT NULL",
                    table.name
                );
                n += self.conn.query_row(&sql, [], |r| r.get::<_, i64>(0))? as u64;
            }
            if n > 0 {
                counts.insert(kind, n);
            }
        }
        Ok(counts)
    }

    /// Stores outputs in one transaction: `namespaced`, under their stored keys (the app's
    /// namespace, [`stored_key`]); else with their keys as given.
    fn store_outputs(
        &mut self,
        app_key: &AppKey,
        outputs: &[AppOutput],
        namespaced: bool,
    ) -> rusqlite::Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut property = tx.prepare_cached(
                "INSERT INTO app_properties (app_key, key, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT DO UPDATE SET value = excluded.value",
            )?;
            let mut entity_property = tx.prepare_cached(
                "INSERT INTO app_entity_properties (app_key, entity_kind, entity_id, key, value)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT DO UPDATE SET value = excluded.value",
            )?;
            let mut document = tx.prepare_cached(
                "INSERT INTO app_documents (app_key, collection, doc_id, body)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT DO UPDATE SET body = excluded.body",
            )?;
            let app = app_key.as_str();
            for output in outputs {
                let key = |given: &str| {
                    if namespaced {
                        stored_key(app_key, output)
                    } else {
                        given.to_owned()
                    }
                };
                match output {
                    AppOutput::AppProperty { key: given, value } => {
                        property.execute(params![app, key(given), value])?;
                    }
                    AppOutput::EntityProperty {
                        entity,
                        entity_id,
                        key: given,
                        value,
                    } => {
                        let entity = entity_kind_name(*entity);
                        entity_property.execute(params![
                            app,
                            entity,
                            entity_id,
                            key(given),
                            value
                        ])?;
                    }
                    AppOutput::AppDocument {
                        collection,
                        id,
                        body,
                    } => {
                        // Already the app's own table: collection and id keep their columns.
                        document.execute(params![app, collection, id, body])?;
                    }
                }
            }
        }
        tx.commit()
    }

    fn count_outputs(&self, app: &AppKey) -> rusqlite::Result<u64> {
        self.conn.query_row(
            "SELECT (SELECT COUNT(*) FROM app_properties WHERE app_key = ?1)
                  + (SELECT COUNT(*) FROM app_entity_properties WHERE app_key = ?1)
                  + (SELECT COUNT(*) FROM app_documents WHERE app_key = ?1)",
            [app.as_str()],
            |r| r.get::<_, i64>(0).map(|n| n as u64),
        )
    }
}

impl Site for LocalSite {
    fn describe(&self) -> String {
        format!("local site at {}", self.path.display())
    }

    /// The local site writes every kind as the source has it, and names permission schemes
    /// and places the system dashboard as Jira Cloud does.
    fn caveats(&self) -> Vec<crate::Caveat> {
        let mut caveats = crate::renamed_scheme_caveats().to_vec();
        caveats.push(crate::system_dashboard_caveat());
        caveats.push(crate::default_issue_type_scheme_caveat());
        caveats
    }

    fn snapshot(&mut self) -> Result<Snapshot, TargetError> {
        self.read_snapshot().map_err(|e| self.local(e))
    }

    /// Each call is a transaction: its commit (pages to the write-ahead log, the page
    /// cache's bookkeeping, a checkpoint now and then) costs the same whatever it carries.
    fn batch_scale(&self) -> usize {
        4
    }

    fn write(
        &mut self,
        kind: Kind,
        records: &[Record],
    ) -> Result<Vec<Result<String, ItemError>>, TargetError> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        match self.write_batch(kind, records) {
            Ok(answers) => {
                let refused = answers.iter().filter(|a| a.is_err()).count();
                tracing::debug!(%kind, records = records.len(), refused, "wrote a batch");
                Ok(answers)
            }
            Err(e) => {
                // Rolled back: the sets may hold ids of rows that no longer exist.
                self.cache = Cache::default();
                tracing::warn!(%kind, records = records.len(), "a batch failed and was rolled back");
                Err(self.local(e))
            }
        }
    }

    fn find_written(
        &mut self,
        kind: Kind,
        source_keys: &[String],
    ) -> Result<Vec<Option<String>>, TargetError> {
        self.find_batch(kind, source_keys)
            .map_err(|e| self.local(e))
    }

    fn counts(&mut self) -> Result<BTreeMap<Kind, u64>, TargetError> {
        self.read_counts().map_err(|e| self.local(e))
    }

    fn put_app_outputs(&mut self, app: &AppKey, outputs: &[AppOutput]) -> Result<(), TargetError> {
        // All or nothing: a refused output must not leave half a rerun behind.
        check_outputs(app, outputs)?;
        self.store_outputs(app, outputs, true)
            .map_err(|e| self.local(e))?;
        tracing::debug!(outputs = outputs.len(), "stored app outputs");
        Ok(())
    }

    fn put_attachment_file(
        &mut self,
        attachment: &str,
        content: &mut dyn io::Read,
    ) -> Result<u64, TargetError> {
        let unknown = || TargetError::Invalid("no attachment with this id on the site".into());
        let id: i64 = attachment.parse().map_err(|_| unknown())?;
        let exists = self
            .conn
            .query_row("SELECT 1 FROM attachments WHERE id = ?1", [id], |_| Ok(()))
            .optional()
            .map_err(|e| self.local(e))?;
        if exists.is_none() {
            return Err(unknown());
        }
        let name = id.to_string();
        let path = self.attachments.join(&name);
        // Written aside then renamed: a crash never leaves a truncated file under the id.
        let partial = self.attachments.join(format!("{name}.part"));
        let io_error = |source| TargetError::Io {
            path: partial.clone(),
            source,
        };
        let mut file = io::BufWriter::new(fs::File::create(&partial).map_err(io_error)?);
        let bytes = io::copy(content, &mut file).map_err(io_error)?;
        let file = file.into_inner().map_err(|e| io_error(e.into_error()))?;
        file.sync_data().map_err(io_error)?;
        drop(file);
        fs::rename(&partial, &path).map_err(|source| TargetError::Io {
            path: path.clone(),
            source,
        })?;
        self.conn
            .execute(
                "UPDATE attachments SET file_path = ?1, stored_bytes = ?2 WHERE id = ?3",
                params![name, bytes as i64, id],
            )
            .map_err(|e| self.local(e))?;
        Ok(bytes)
    }

    fn app_output_count(&mut self, app: &AppKey) -> Result<u64, TargetError> {
        self.count_outputs(app).map_err(|e| self.local(e))
    }
}

/// Sets the connection up, and creates or checks the schema. The inner error: the file is
/// not a local site this version can use. Answers the site's account salt.
fn prepare(conn: &mut Connection) -> rusqlite::Result<Result<u64, String>> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Ok(Err(format!(
            "the local site needs WAL journaling, the file answered {mode}"
        )));
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // 64 MiB of page cache: index inserts of big loads stay in memory.
    conn.pragma_update(None, "cache_size", -65_536)?;
    conn.set_prepared_statement_cache_capacity(64);

    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let application: i64 = tx.pragma_query_value(None, "application_id", |r| r.get(0))?;
    if version == 0 {
        let tables: i64 = tx.query_row("SELECT COUNT(*) FROM sqlite_schema", [], |r| r.get(0))?;
        if tables > 0 {
            return Ok(Err("the file is a SQLite database, not a local site".into()));
        }
        schema::create(&tx, new_salt())?;
        tracing::info!(version = schema::VERSION, "created the local site's tables");
    } else if application != schema::APPLICATION_ID {
        return Ok(Err("the file is a SQLite database, not a local site".into()));
    } else if version > schema::VERSION {
        return Ok(Err(format!(
            "the local site has schema version {version}; this Airlock reads up to {}",
            schema::VERSION
        )));
    } else if version < schema::VERSION {
        schema::upgrade(&tx, version)?;
        tracing::info!(
            from = version,
            to = schema::VERSION,
            "upgraded the local site's tables"
        );
    }
    let salt: String = tx.query_row(
        "SELECT value FROM meta WHERE name = 'account_salt'",
        [],
        |r| r.get(0),
    )?;
    tx.commit()?;
    Ok(u64::from_str_radix(&salt, 16)
        .map_err(|_| "the local site's account salt is damaged".into()))
}

/// A fresh salt per site; uniqueness comes from the counter, the salt only makes ids opaque.
fn new_salt() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    h.finish()
}

fn next(conn: &Connection, table: &str, first: i64) -> rusqlite::Result<i64> {
    conn.query_row(
        &format!("SELECT COALESCE(MAX(id) + 1, ?1) FROM {table}"),
        [first],
        |r| r.get(0),
    )
}

/// A query listing every non-null source key of `kind`, across its tables.
fn source_key_union(kind: Kind) -> String {
    schema::tables(kind)
        .iter()
        .map(|t| {
            format!(
                "SELECT source_key FROM {} WHERE source_key IS NOT NULL",
                t.name
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
}

fn entity_kind_name(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::Issue => "issue",
        EntityKind::Project => "project",
        EntityKind::User => "user",
        EntityKind::Comment => "comment",
        EntityKind::Worklog => "worklog",
    }
}

/// Jira Cloud's own limits on a property as it receives one: key 1 to 255 characters,
/// JSON value ≤ 32,768 characters.
fn beyond_cloud_limits(o: &AppOutput) -> Option<String> {
    let too_long = |s: &str, max: usize| s.len() > max && s.chars().count() > max;
    let (key, json) = match o {
        AppOutput::EntityProperty { key, value, .. } | AppOutput::AppProperty { key, value } => {
            (key.as_str(), value.as_str())
        }
        AppOutput::AppDocument { id, body, .. } => (id.as_str(), body.as_str()),
    };
    if key.is_empty() || too_long(key, MAX_STORED_KEY) {
        return Some(format!("{} key must be 1 to 255 characters", o.kind()));
    }
    if too_long(json, MAX_VALUE) {
        return Some(format!("{} value exceeds 32,768 characters", o.kind()));
    }
    if serde_json::from_str::<serde::de::IgnoredAny>(json).is_err() {
        return Some(format!("{} value is not valid JSON", o.kind()));
    }
    None
}

/// An issue read back from the local site ([`LocalSite::read_issue`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssueReadBack {
    pub key: String,
    /// The server id it was written from.
    pub source_key: Option<String>,
    /// Watchers' and voters' user source keys, sorted.
    pub watchers: Vec<String>,
    pub voters: Vec<String>,
    /// The issue's changes, oldest first.
    pub history: Vec<HistoryReadBack>,
    /// The site's id of the security level the issue is restricted to.
    pub security_level: Option<String>,
    /// The site's ids of the sprints the issue is or was in, sorted.
    pub sprints: Vec<String>,
    /// Its LexoRank.
    pub rank: Option<String>,
}

/// A project role actor read back from the local site ([`LocalSite::read_role_actors`]).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RoleActorReadBack {
    /// The site's project id; `None` for a role's default actor.
    pub project: Option<String>,
    /// The site's role id.
    pub role: String,
    /// `user:<user source key>` or `group:<name>`.
    pub actor: String,
    /// The server id it was written from.
    pub source_key: Option<String>,
}

/// A permission scheme read back from the local site
/// ([`LocalSite::read_permission_schemes`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PermissionSchemeReadBack {
    pub id: String,
    pub source_key: Option<String>,
    pub name: String,
    pub description: String,
    pub grants: Vec<GrantReadBack>,
    /// The site's ids of the projects that use it.
    pub projects: Vec<String>,
}

/// A grant of a permission scheme, in Jira Cloud's terms: holder types as Cloud names
/// them, parameters in the site's ids (users as `user:<source key>`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct GrantReadBack {
    pub permission: String,
    pub holder_type: String,
    pub parameter: Option<String>,
    pub source_key: Option<String>,
}

/// A remote issue link read back from the local site ([`LocalSite::read_remote_links`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteLinkReadBack {
    /// The site's issue id.
    pub issue: String,
    pub global_id: Option<String>,
    pub title: String,
    pub url: String,
    pub summary: Option<String>,
    pub icon_url: Option<String>,
    pub icon_title: Option<String>,
    pub relationship: Option<String>,
    pub application_type: Option<String>,
    pub application_name: Option<String>,
    pub source_key: Option<String>,
}

/// A member of an issue security level read back from the local site
/// ([`LocalSite::read_level_members`]), in Jira Cloud's terms.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LevelMemberReadBack {
    pub level: String,
    pub holder_type: String,
    pub parameter: Option<String>,
    pub source_key: Option<String>,
}

/// A custom field's context read back from the local site
/// ([`LocalSite::read_field_contexts`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldContextReadBack {
    pub id: String,
    /// `customfield_<n>`.
    pub field: String,
    /// None for a context the site made itself (a field's global context not taken over).
    pub source_key: Option<String>,
    pub name: String,
    pub description: String,
    pub global: bool,
    /// The site's project ids; none for the global context.
    pub projects: Vec<String>,
    /// The site's issue type ids; none: every issue type.
    pub issue_types: Vec<String>,
    /// Its options, by id.
    pub options: Vec<OptionReadBack>,
}

/// An option of a context ([`FieldContextReadBack`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptionReadBack {
    pub id: String,
    pub value: String,
    pub parent: Option<String>,
    pub disabled: bool,
    pub source_key: Option<String>,
}

/// A notification scheme read back from the local site
/// ([`LocalSite::read_notification_schemes`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotificationSchemeReadBack {
    pub id: String,
    pub source_key: Option<String>,
    pub name: String,
    pub description: String,
    pub notifications: Vec<NotificationReadBack>,
    /// The site's ids of the projects that use it.
    pub projects: Vec<String>,
}

/// An entry of a notification scheme, in Jira Cloud's terms: the event type's id, the
/// recipient type as Cloud names it, the parameter in the site's ids (users as
/// `user:<source key>`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct NotificationReadBack {
    pub event: i64,
    pub recipient_type: String,
    pub parameter: Option<String>,
    pub source_key: Option<String>,
}

/// A project category read back from the local site
/// ([`LocalSite::read_project_categories`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CategoryReadBack {
    pub id: String,
    pub source_key: Option<String>,
    pub name: String,
    pub description: String,
    /// The site's ids of its projects.
    pub projects: Vec<String>,
}

/// A key the local site finds a project by ([`LocalSite::read_project_keys`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectKeyReadBack {
    pub project: String,
    pub key: String,
    pub source_key: Option<String>,
}

/// A board read back from the local site ([`LocalSite::read_boards`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoardReadBack {
    pub id: String,
    pub source_key: Option<String>,
    pub name: String,
    pub scrum: bool,
    /// The site's id of its filter.
    pub filter: String,
    /// Its owner's user source key.
    pub owner: Option<String>,
    pub columns: Vec<ColumnReadBack>,
    /// (name, query) in their order.
    pub swimlanes: Vec<(String, String)>,
    pub quick_filters: Vec<(String, String)>,
    pub sprints: Vec<SprintReadBack>,
}

/// A board's column read back: its statuses are the site's ids, in their order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnReadBack {
    pub name: String,
    pub statuses: Vec<String>,
    pub min: Option<i64>,
    pub max: Option<i64>,
}

/// A sprint read back; dates in epoch millis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SprintReadBack {
    pub source_key: Option<String>,
    pub name: String,
    pub state: String,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub completed: Option<i64>,
    pub goal: String,
}

/// One change of an issue read back: its author by user source key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryReadBack {
    pub author: Option<String>,
    pub created: i64,
    pub items: Vec<ChangeReadBack>,
}

/// One field's change read back; values are the site's ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeReadBack {
    pub custom: bool,
    pub field: String,
    pub old_value: Option<String>,
    pub old_string: Option<String>,
    pub new_value: Option<String>,
    pub new_string: Option<String>,
}

/// A filter's or dashboard's shares as `type` or `type:target` (group name, project id,
/// `project id/role id`, account id), ` (edit)` when they may edit it.
fn read_shares(
    conn: &Connection,
    table: &str,
    parent_column: &str,
    parent: &str,
) -> rusqlite::Result<Vec<String>> {
    let mut shares = conn.prepare_cached(&format!(
        "SELECT type, COALESCE(group_name, CAST(project_id AS TEXT) ||
                COALESCE('/' || role_id, ''), account_id), edit
         FROM {table} WHERE {parent_column} = ?1 ORDER BY id"
    ))?;
    shares
        .query_map([parent], |r| {
            let kind: String = r.get(0)?;
            let target: Option<String> = r.get(1)?;
            let edit: bool = r.get(2)?;
            let mut share = match target {
                Some(t) => format!("{kind}:{t}"),
                None => kind,
            };
            if edit {
                share.push_str(" (edit)");
            }
            Ok(share)
        })?
        .collect()
}

/// A field configuration read back from the local site
/// ([`LocalSite::read_field_configurations`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldConfigurationReadBack {
    pub id: String,
    pub source_key: Option<String>,
    pub name: String,
    pub description: String,
    /// (field id, description, hidden, required, renderer), by field id.
    pub items: Vec<(String, String, bool, bool, String)>,
}

/// A screen read back from the local site ([`LocalSite::read_screens`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScreenReadBack {
    pub id: String,
    pub source_key: Option<String>,
    pub name: String,
    pub description: String,
    pub tabs: Vec<ScreenTabReadBack>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScreenTabReadBack {
    pub id: String,
    pub source_key: Option<String>,
    pub name: String,
    /// Its fields' ids, in order.
    pub fields: Vec<String>,
}

/// A screen scheme or issue type screen scheme read back from the local site: what it
/// maps (operation or issue type → screen or screen scheme, in the site's ids).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemeMapReadBack {
    pub id: String,
    pub source_key: Option<String>,
    pub name: String,
    pub description: String,
    pub entries: Vec<(String, String)>,
    /// The projects using it (issue type screen schemes).
    pub projects: Vec<String>,
}

/// A board's card settings read back from the local site
/// ([`LocalSite::read_card_settings`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardSettingsReadBack {
    pub board: String,
    /// (mode, field id).
    pub fields: Vec<(String, String)>,
    /// (strategy, value, colour).
    pub colors: Vec<(String, String, String)>,
}

/// An issue type scheme read back from the local site
/// ([`LocalSite::read_issue_type_schemes`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssueTypeSchemeReadBack {
    pub id: String,
    pub source_key: Option<String>,
    pub name: String,
    pub description: String,
    /// The site's default scheme.
    pub is_default: bool,
    pub issue_types: Vec<String>,
    pub default_issue_type: Option<String>,
    pub projects: Vec<String>,
}

/// A workflow read back from the local site ([`LocalSite::read_workflows`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkflowReadBack {
    pub id: String,
    pub source_key: Option<String>,
    pub name: String,
    pub description: String,
    /// (step id, name, status id), in order.
    pub steps: Vec<(String, String, String)>,
    pub transitions: Vec<TransitionReadBack>,
}

/// A workflow's transition read back from the local site.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransitionReadBack {
    pub id: String,
    pub name: String,
    pub description: String,
    /// `INITIAL`, `GLOBAL` or `DIRECTED`.
    pub kind: String,
    pub from: Vec<String>,
    pub to: String,
    pub screen: Option<String>,
}

/// A dashboard read back from the local site ([`LocalSite::read_dashboards`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DashboardReadBack {
    pub id: String,
    pub source_key: Option<String>,
    pub name: String,
    pub description: String,
    pub owner: Option<String>,
    pub layout: String,
    pub shares: Vec<String>,
    pub gadgets: Vec<GadgetReadBack>,
}

/// A gadget read back from the local site, its settings as (key, value) by key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GadgetReadBack {
    pub id: String,
    pub source_key: Option<String>,
    pub column: u32,
    pub row: u32,
    pub uri: Option<String>,
    pub module_key: Option<String>,
    pub color: String,
    pub preferences: Vec<(String, String)>,
}

/// A saved filter read back from the local site ([`LocalSite::read_filters`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterReadBack {
    pub id: String,
    pub source_key: Option<String>,
    pub name: String,
    pub owner: Option<String>,
    pub jql: String,
    pub shares: Vec<String>,
}
