//! Where a migration writes, behind one trait: [`Site`].
//!
//! - [`LocalSite`]: the embedded local site, a SQLite file shaped like Jira Cloud (opaque
//!   account ids, numeric ids, issue keys). The demo and most tests use it.
//! - [`JiraCloud`]: Jira Cloud REST v3 over HTTPS, tested against a faithful local server
//!   (`airlock-cloud-double`).
//!
//! The engine hands a target records whose references are already cloud ids; every record
//! also carries its *source key* (its server id), which the target keeps beside what it
//! creates so that, after a crash between a write and the recording of its mapping, the
//! engine can ask which records already exist ([`Site::find_written`]) instead of
//! writing them twice.
//!
//! Both sites check each record's own values with the same [`rules`] before writing it;
//! the engine's analysis applies them too, so what the site will refuse is in the plan.
//!
//! Apps' outputs are checked and namespaced the same way by both targets
//! ([`app_storage`]): an app's keys are stored as `<app-key>:<key>`, out of reach of
//! Airlock's own (`airlock.source`, the journal).

pub mod app_storage;
mod cloud;
mod local;
pub mod rules;

use std::collections::BTreeMap;

use airlock_model::jira::{Kind, Record};
use airlock_model::{AppKey, AppOutput};
use serde::{Deserialize, Serialize};

pub use app_storage::{InvalidOutput, OutputField, OutputRule, stored_key};
pub use cloud::{
    ATTACHMENT_FILE_MISSING, CloudConfig, ISSUE_PROPERTY, JiraCloud, JiraLimits, ORIGIN_PROPERTY,
    RateWindow, RetryPolicy, SOURCE_PROPERTY, adf, endpoint_template, is_put_delete, written_issue,
};
pub use local::{
    BoardReadBack, CardSettingsReadBack, CategoryReadBack, ChangeReadBack, ColumnReadBack,
    DashboardReadBack, FieldConfigurationReadBack, FieldContextReadBack, FilterReadBack,
    GadgetReadBack, GrantReadBack, HistoryReadBack, IssueReadBack, IssueTypeSchemeReadBack,
    LocalSite, NotificationReadBack, NotificationSchemeReadBack, OptionReadBack,
    PermissionSchemeReadBack, ProjectKeyReadBack, RoleActorReadBack, SchemeMapReadBack,
    ScreenReadBack, ScreenTabReadBack, SprintReadBack, TransitionReadBack, WorkflowReadBack,
};

/// What the target holds before the migration: the analysis compares the source with it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Snapshot {
    pub projects: Vec<TargetProject>,
    pub fields: Vec<TargetField>,
    pub users: Vec<TargetUser>,
    pub groups: Vec<String>,
    pub issue_types: Vec<TargetConstant>,
    pub statuses: Vec<TargetConstant>,
    pub priorities: Vec<TargetConstant>,
    pub resolutions: Vec<TargetConstant>,
    pub link_types: Vec<TargetConstant>,
    pub roles: Vec<TargetConstant>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TargetProject {
    pub id: String,
    pub key: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TargetField {
    pub id: String,
    pub name: String,
    /// The same type keys as the server's (`…customfieldtypes:textfield`).
    pub type_key: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TargetUser {
    pub account_id: String,
    /// Hidden emails are `None`.
    pub email: Option<String>,
    pub display_name: String,
}

/// A named constant: issue type, status, priority, resolution, link type, project role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TargetConstant {
    pub id: String,
    pub name: String,
}

/// Why one record was not written; the others of its batch may have been.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ItemError {
    /// Stable: `invalid-reference`, `duplicate-key`, `too-large`, `rejected`…
    pub code: &'static str,
    /// Says what is wrong without quoting customer data.
    pub message: String,
}

/// Why a call to the target failed as a whole.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TargetError {
    #[error("the local site {path} cannot be used: {source}")]
    Local {
        path: std::path::PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// A file of the local site (its attachments folder) cannot be read or written.
    #[error("the local site's file {path} cannot be used: {source}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The target refused or failed after retries (HTTP status and what it said).
    #[error("the target answered {status} to {call}: {message}")]
    Http {
        call: String,
        status: u16,
        message: String,
    },
    #[error("the target is unreachable for {call}: {message}")]
    Network { call: String, message: String },
    #[error("{0}")]
    Invalid(String),
    /// An app output cannot be stored (see [`app_storage`]); nothing of the call was.
    #[error(transparent)]
    InvalidOutput(#[from] InvalidOutput),
    /// The app key cannot name app storage; nothing of the call was stored.
    #[error("the app key {rule}")]
    InvalidAppKey { rule: OutputRule },
}

/// How a target keeps what it cannot write as the source has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Treatment {
    /// Written into issue properties, where apps and scripts can read it, not where
    /// Jira shows it.
    CarriedAsProperty,
    /// Written differently from the source (the migration's dates, other keys…).
    Changed,
    /// Not written: the target has no way to take it.
    NotKept,
}

impl Treatment {
    /// As the plan says it.
    pub fn as_text(self) -> &'static str {
        match self {
            Treatment::CarriedAsProperty => "carried as a property",
            Treatment::Changed => "changed by the target",
            Treatment::NotKept => "not kept",
        }
    }
}

/// Something a target does not write as the source has it, said before the load (the
/// plan shows each with how many rows it concerns), so nothing is lost silently.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Caveat {
    pub kind: Kind,
    pub treatment: Treatment,
    /// What happens and what the operator can do, without customer data.
    pub how: String,
    /// Which of the kind's rows it concerns.
    #[serde(default)]
    pub rows: CaveatRows,
}

/// Which of a kind's rows a [`Caveat`] concerns, so the plan counts those and no others.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaveatRows {
    /// Every row of the kind.
    #[default]
    All,
    /// The source's system dashboard (a dashboard without an owner).
    SystemDashboard,
    /// The source's default issue type scheme (its context is global).
    DefaultIssueTypeScheme,
}

/// A record written, but not as the source has it, in a way the operator must see row by
/// row (code `key-changed`: an issue Jira Cloud gave another key than its source's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub kind: Kind,
    pub source_key: String,
    pub code: &'static str,
    /// What happened and where the source's value is kept, for the sealed report.
    pub message: String,
}

/// The attachments' files, by source attachment id, for a target that creates an
/// attachment only together with its content (Jira Cloud). The engine's is the operator's
/// attachments folder, read under its rules (no link followed, nothing outside it).
pub trait AttachmentFiles: Send + Sync {
    /// Opens the file of source attachment `id`, or says why there is none in words the
    /// operator can act on (which file to put where). The message names paths under the
    /// folder: it goes to the operator's sealed report, never to a log.
    fn open(&self, id: &str) -> Result<std::fs::File, String>;
}

/// Where a migration writes. Calls are batched; a batch holds records of one kind.
pub trait Site: Send {
    /// A short description for reports and logs (no credentials).
    fn describe(&self) -> String;

    /// What the target holds now.
    fn snapshot(&mut self) -> Result<Snapshot, TargetError>;

    /// What this target cannot write as the source has it, by kind (none by default).
    fn caveats(&self) -> Vec<Caveat> {
        Vec::new()
    }

    /// How many of the engine's usual batches one write call should carry (1 by default).
    /// A target whose every call ends in a commit of its own (the local site) does less
    /// per record with more records per call.
    fn batch_scale(&self) -> usize {
        1
    }

    /// Writes records of `kind` whose references are cloud ids, and returns for each
    /// one its new cloud id or why it was refused. Kinds without ids of their own (labels,
    /// field values, issue versions, memberships) answer an empty id.
    fn write(
        &mut self,
        kind: Kind,
        records: &[Record],
    ) -> Result<Vec<Result<String, ItemError>>, TargetError>;

    /// For records previously written from these source keys (see [`source_key`]), their
    /// cloud ids; `None` for those never written.
    fn find_written(
        &mut self,
        kind: Kind,
        source_keys: &[String],
    ) -> Result<Vec<Option<String>>, TargetError>;

    /// How many records of each kind Airlock has written (for verify).
    fn counts(&mut self) -> Result<BTreeMap<Kind, u64>, TargetError>;

    /// Stores an app's outputs in the target's app storage, each key in the app's
    /// namespace ([`stored_key`]). Writing the same output twice (same entity and key,
    /// same document id) replaces it: a rerun is idempotent. Every output is checked first
    /// ([`app_storage::check_outputs`]): if one is invalid, nothing is stored
    /// ([`TargetError::InvalidOutput`], [`TargetError::InvalidAppKey`]).
    fn put_app_outputs(&mut self, app: &AppKey, outputs: &[AppOutput]) -> Result<(), TargetError>;

    /// The notices of the records written since the last call (the load records them
    /// with each batch); none by default.
    fn take_notices(&mut self) -> Vec<Notice> {
        Vec::new()
    }

    /// Whether the target numbers new issues itself, one after another in each project
    /// (Jira Cloud): the load then hands each project's issues over in number order, so
    /// the target can give each its source key. The others (the default) set keys.
    fn numbers_issues(&self) -> bool {
        false
    }

    /// Whether the target stores an attachment's file only when it creates the attachment
    /// (Jira Cloud): it then takes the files before the load
    /// ([`Site::take_attachment_files`]) and reads each with its record. The others (the
    /// default) take each file after the load through [`Site::put_attachment_file`].
    fn wants_attachment_files(&self) -> bool {
        false
    }

    /// Hands the target the attachments' files before the load, when it
    /// [wants them](Site::wants_attachment_files); ignored by the others.
    fn take_attachment_files(&mut self, _files: std::sync::Arc<dyn AttachmentFiles>) {}

    /// Stores the file of an attachment written before (by its cloud id).
    fn put_attachment_file(
        &mut self,
        attachment: &str,
        content: &mut dyn std::io::Read,
    ) -> Result<u64, TargetError>;

    /// How many app outputs of `app` the target holds.
    fn app_output_count(&mut self, app: &AppKey) -> Result<u64, TargetError>;
}

/// Both targets create each permission, notification, screen and field configuration
/// scheme, each screen and each field configuration, renamed where the target has its
/// name.
pub(crate) fn renamed_scheme_caveats() -> [Caveat; 10] {
    let caveat = |kind, what: &str, default: &str| Caveat {
        kind,
        treatment: Treatment::Changed,
        rows: CaveatRows::All,
        how: format!(
            "a {what} is never merged into one the target has: a {what} named like one of \
             the target's (every Jira Cloud site has a {default}) is created as \
             \"<name> (migrated)\", and what migrates uses it; rename it in Jira if the \
             name matters"
        ),
    };
    [
        caveat(
            Kind::PermissionScheme,
            "permission scheme",
            "Default Permission Scheme",
        ),
        caveat(
            Kind::NotificationScheme,
            "notification scheme",
            "Default Notification Scheme",
        ),
        caveat(Kind::Screen, "screen", "Default Screen"),
        caveat(Kind::ScreenScheme, "screen scheme", "Default Screen Scheme"),
        caveat(
            Kind::IssueTypeScreenScheme,
            "issue type screen scheme",
            "Default Issue Type Screen Scheme",
        ),
        caveat(
            Kind::FieldConfiguration,
            "field configuration",
            "Default Field Configuration",
        ),
        caveat(
            Kind::FieldConfigurationScheme,
            "field configuration scheme",
            "Default Field Configuration Scheme",
        ),
        // The source's default scheme is the target's default, not a copy of it.
        caveat(
            Kind::IssueTypeScheme,
            "project's issue type scheme",
            "Default Issue Type Scheme",
        ),
        caveat(Kind::Workflow, "workflow", "built-in workflow named jira"),
        caveat(
            Kind::WorkflowScheme,
            "workflow scheme",
            "Default Workflow Scheme",
        ),
    ]
}

/// Both targets write the source's system dashboard as a dashboard of its own: each site
/// has a system dashboard already, which Airlock leaves as it is.
pub(crate) fn system_dashboard_caveat() -> Caveat {
    Caveat {
        kind: Kind::Dashboard,
        treatment: Treatment::Changed,
        how: "the source's system dashboard (the one every user sees until they pick one) \
              arrives as a dashboard of its own, of its name, owned by the migration's account \
              and shared with every logged-in user; the target's own system dashboard is left \
              as it is: copy its gadgets there in Jira if users should see them by default"
            .into(),
        rows: CaveatRows::SystemDashboard,
    }
}

/// How the source's default issue type scheme arrives, the same on every target.
pub(crate) fn default_issue_type_scheme_caveat() -> Caveat {
    Caveat {
        kind: Kind::IssueTypeScheme,
        treatment: Treatment::Changed,
        how: "the source's default issue type scheme (the one every project without a scheme \
              of its own uses) is the target's own default, which Jira gives every issue type: \
              it keeps the target's name and description and has no default issue type; a \
              project's own scheme arrives as the source has it"
            .into(),
        rows: CaveatRows::DefaultIssueTypeScheme,
    }
}

/// The name a target gives a copy of the source's `name` when it has one of that name
/// already, as Atlassian's migration assistant does: `name (migrated)`, then
/// `name (migrated 2)`… for `n` = 1, 2…
pub fn migrated_name(name: &str, n: u32) -> String {
    if n <= 1 {
        format!("{name} (migrated)")
    } else {
        format!("{name} (migrated {n})")
    }
}

/// The key a written record is found by after a crash: its server id (for issue versions,
/// the server triple they carry), which rewriting references to cloud ids leaves alone.
pub fn source_key(record: &Record) -> String {
    record.id().to_owned()
}
