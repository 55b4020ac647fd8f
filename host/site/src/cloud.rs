//! Jira Cloud over REST v3 (HTTPS, rustls): [`JiraCloud`].
//!
//! The trait is synchronous; the client owns a small current-thread tokio runtime and
//! blocks on it per call. Per-item endpoints run with bounded concurrency
//! ([`CloudConfig::max_concurrency`]); every request goes through one retry policy
//! ([`RetryPolicy`], see `http.rs`) and paces itself under Jira's rate limits
//! ([`CloudConfig::limits`], see `limits.rs`): per endpoint and per issue, each request
//! waits for room in the windows it falls in, so Jira has no reason to answer 429, and the
//! items of a batch that write to issues go out in turns across issues, so an issue at its
//! limit holds back its own writes only.
//!
//! # How each kind is written, and found again
//!
//! Issues carry their source key in the entity property `airlock.source` (`{"key": …}`),
//! set at create time in `POST /rest/api/3/issue/bulk`; they are found with JQL
//! (`POST /rest/api/3/search/jql`, `issue.property[airlock.source].key in (…)`).
//! Comments and worklogs carry the same property at create time too.
//!
//! Every other kind is found by its natural key. `find_written` only gets source keys,
//! so before a batch is written the client stores a write-ahead *journal* of the batch in
//! app properties of [`CloudConfig::ledger_app`] (`airlock.journal.<kind>.<n>`: source
//! key → natural key, and after the batch the cloud id of each record written). After a
//! crash, a journal entry with an id answers at once; one without is looked up by its
//! natural key:
//!
//! | kind | written with | natural key, looked up with |
//! | --- | --- | --- |
//! | user | `POST /rest/api/3/user` | email: `GET /rest/api/3/user/search?query=` |
//! | group | `POST /rest/api/3/group` | name: `GET /rest/api/3/group/bulk?groupName=` |
//! | membership | `POST /rest/api/3/group/user` | idempotent ("already a member" is success) |
//! | issue type | `POST /rest/api/3/issuetype` | name: `GET /rest/api/3/issuetype` |
//! | status | `POST /rest/api/3/statuses` | name: `GET /rest/api/3/statuses/search` |
//! | priority | `POST /rest/api/3/priority` | name: `GET /rest/api/3/priority/search` |
//! | resolution | `POST /rest/api/3/resolution` | name: `GET /rest/api/3/resolution/search` |
//! | project role | `POST /rest/api/3/role` | name: `GET /rest/api/3/role` |
//! | security scheme | `POST /rest/api/3/issuesecurityschemes` (no levels) | name: `GET /rest/api/3/issuesecurityschemes` |
//! | security level | `PUT …/issuesecurityschemes/{id}/level` (204, no id) | (scheme, name): `GET …/issuesecurityschemes/level?schemeId=` |
//! | project scheme | `PUT …/issuesecurityschemes/project` (303 to a task, awaited) | idempotent (the project's scheme is read first: `GET …/issuesecurityschemes/project?projectId=`) |
//! | project's permission, notification, issue type screen, field configuration, issue type or workflow scheme, category | `PUT …/project/{id}/permissionscheme`, `PUT …/project/{id}` (`notificationScheme`, `categoryId`), `PUT /rest/api/3/issuetypescreenscheme/project`, `PUT /rest/api/3/fieldconfigurationscheme/project`, `PUT /rest/api/3/issuetypescheme/project`, `PUT /rest/api/3/workflowscheme/project` | idempotent (what the project has is read first: `GET …/project/{id}/permissionscheme`, `…/notificationscheme`, `GET …/project/{id}`, `GET …/issuetypescreenscheme/project?projectId=`, `GET …/fieldconfigurationscheme/project?projectId=`, `GET …/issuetypescheme/project?projectId=`, `GET …/workflowscheme/project?projectId=`) |
//! | project | `POST /rest/api/3/project` | key: `GET /rest/api/3/project/{key}` |
//! | project role actor | `POST …/project/{id}/role/{id}` (`{"user": [id]}` or `{"group": [name]}`); a default actor `POST /rest/api/3/role/{id}/actors` | (project, role, actor): `GET …/project/{id}/role/{id}` or `GET /rest/api/3/role/{id}/actors`, asked before each add too (Cloud refuses a second one) |
//! | component | `POST /rest/api/3/component` | (project, name): `GET …/project/{id}/components` |
//! | version | `POST /rest/api/3/version` | (project, name): `GET …/project/{id}/versions` |
//! | custom field | `POST /rest/api/3/field` | (name, type): `GET /rest/api/3/field/search` |
//! | option | `POST …/field/{id}/context/{ctx}/option` | (field, value, parent): `GET` the options |
//! | link type | `POST /rest/api/3/issueLinkType` | name: `GET /rest/api/3/issueLinkType` |
//! | issue | `POST /rest/api/3/issue/bulk` (≤ 50, one project's in number order, placeholders in the gaps, deleted with `DELETE /rest/api/3/issue/{id}` once a later issue exists; its level as `security`; see `keys.rs`) | `airlock.source` by JQL; the project's next number by `project = X ORDER BY key DESC`, placeholders by `issue.property[airlock.placeholder].project` |
//! | field value, label, issue version | `PUT /rest/api/3/issue/{id}` update operations, one call per issue | idempotent (adding twice is a no-op) |
//! | comment | `POST …/issue/{id}/comment` (ADF) | `airlock.source` in `GET …/comment?expand=properties` |
//! | worklog | `POST …/issue/{id}/worklog` (ADF) | `airlock.source` in `GET …/worklog?expand=properties` |
//! | issue link | `POST /rest/api/3/issueLink` (Jira does not duplicate links) | (type, source, destination): `GET …/issue/{source}?fields=issuelinks` |
//! | watcher | `POST …/issue/{id}/watchers` (the account id as a JSON string) | idempotent (watching twice is watching) |
//! | vote | carried in the issue property `airlock.votes`: `GET`, merge, `PUT` per issue | idempotent (a set by account id) |
//! | attachment | multipart `POST …/issue/{id}/attachments` | (issue, file name): `GET …/issue/{id}?fields=attachment` |
//! | change group, change item | carried in the issue properties `airlock.history`, `airlock.history.2` …: `GET`, merge, `PUT` per issue | idempotent (merged by server id) |
//! | entity property | `PUT …/{entity}/{id}/properties/{key}` | idempotent (a PUT replaces) |
//! | filter | `POST /rest/api/3/filter`, then `PUT …/filter/{id}/owner` | (name, owner): `GET /rest/api/3/filter/search?filterName=&expand=owner` |
//! | filter share | `POST …/filter/{id}/permission` | (filter, type, params): `GET …/filter/{id}/permission` |
//! | dashboard | `POST /rest/api/3/dashboard`, then `PUT …/dashboard/bulk/edit` (`changeOwner`) | (name, owner): `GET /rest/api/3/dashboard/search?dashboardName=&accountId=&expand=description,owner` |
//! | dashboard share | `GET …/dashboard/{id}`, then `PUT …/dashboard/{id}` with its whole share lists | (dashboard, permission): `GET …/dashboard/{id}` (already there: not added again) |
//! | gadget | `POST …/dashboard/{id}/gadget` (answered `<dashboard id>:<gadget id>`) | (dashboard, position, uri or module key): `GET …/dashboard/{id}/gadget` |
//! | gadget setting | `PUT …/dashboard/{id}/items/{gadget}/properties/{key}` (the value as a JSON string) | its value: `GET` the same property |
//! | screen | `POST /rest/api/3/screens` (under a name the target has not: see below) | the name journaled before the create: `GET /rest/api/3/screens?queryString=` |
//! | screen tab | the first a screen gets takes over Cloud's "Field Tab" (`PUT …/screens/{id}/tabs/{id}`), the others `POST …/screens/{id}/tabs`; answered `<screen id>:<tab id>` | (screen, name): `GET …/screens/{id}/tabs` |
//! | screen field | `POST …/screens/{id}/tabs/{id}/fields`, a tab's in source order | idempotent (the tab's fields are read first: `GET …/tabs/{id}/fields`) |
//! | screen scheme | `POST /rest/api/3/screenscheme` with its screens (renamed as screens are) | the name journaled: `GET /rest/api/3/screenscheme?queryString=` |
//! | issue type screen scheme | `POST /rest/api/3/issuetypescreenscheme` with its mappings (renamed as screens are) | the name journaled: `GET /rest/api/3/issuetypescreenscheme?queryString=` |
//! | field configuration | `POST /rest/api/3/fieldconfiguration` (renamed as screens are) | the name journaled: `GET /rest/api/3/fieldconfiguration?query=` |
//! | field configuration item | `PUT …/fieldconfiguration/{id}/fields`, a configuration's 100 a call (one by one if Cloud refuses the call); answered `<configuration id>:<field id>` | idempotent (the PUT replaces the item's settings) |
//! | field configuration scheme | `POST /rest/api/3/fieldconfigurationscheme` (renamed as screens are), then `PUT …/fieldconfigurationscheme/{id}/mapping` with the mappings it has not | the name journaled with its mappings: `GET /rest/api/3/fieldconfigurationscheme`, then its mappings settled (`GET …/fieldconfigurationscheme/mapping?fieldConfigurationSchemeId=`) |
//! | issue type scheme | `POST /rest/api/3/issuetypescheme` with its issue types and default (renamed as screens are); the source's default scheme is Cloud's own (`isDefault`), once checked to hold its issue types | the name journaled: `GET /rest/api/3/issuetypescheme?queryString=`; the source's default: Cloud's, checked again (`GET …/issuetypescheme/mapping?issueTypeSchemeId=`) |
//! | workflow | `POST /rest/api/3/workflows/create`, one a call, global, its statuses and transitions in it (renamed as screens are; answered Cloud's UUID) | the name journaled: `GET /rest/api/3/workflows/search?queryString=` |
//! | workflow scheme | `POST /rest/api/3/workflowscheme` with its workflows by name (read first: `POST /rest/api/3/workflows` with `workflowIds`; none is the built-in `jira`), renamed as screens are | the name journaled: `GET /rest/api/3/workflowscheme` |
//! | board | `POST /rest/agile/1.0/board`, then its `airlock.source` board property (`PUT …/board/{id}/properties/airlock.source`) | (name, filter, type): `GET /rest/agile/1.0/board?name=&filterId=`, then each one's `airlock.source` |
//! | sprint | `POST /rest/agile/1.0/sprint` (future), then `POST …/sprint/{id}` `{state: active, startDate, endDate}`, then `{state: closed}` | (board, name, dates): `GET …/board/{id}/sprint`, then brought to its state |
//! | board column, column status | carried in the board properties `airlock.columns`, `airlock.columns.2` …: `GET`, merge, `PUT` per board | idempotent (merged by source id; a status under its column) |
//! | swimlane, quick filter | carried in the board properties `airlock.swimlanes` …, `airlock.quick-filters` …: `GET`, merge, `PUT` per board | idempotent (merged by source id) |
//! | issue sprint | future and active sprints: `POST …/sprint/{id}/issue` (≤ 50 issues); closed ones: carried in the issue property `airlock.sprints` | idempotent (adding twice is adding; the property is a set) |
//! | issue rank | carried in the issue property `airlock.rank`, and the issues moved into that order with `PUT /rest/agile/1.0/issue/rank` (≤ 50 issues) | idempotent (the property is replaced, the move repeated) |
//!
//! Apps' outputs (`put_app_outputs`): entity properties with `PUT …/{entity}/{id}/properties/{key}`,
//! app properties and documents with `PUT /rest/atlassian-connect/1/addons/{app}/properties/{key}`,
//! every key in the app's namespace (`<app-key>:<key>`, documents `<app-key>:<collection>:<id>`;
//! see [`crate::app_storage`]), so no app reaches `airlock.source` or the journal. Every id
//! and key is checked before anything is sent, and every path is built one percent-encoded
//! segment at a time (`RestPath`), refusing empty, `.` and `..` segments and control
//! characters: an output cannot turn its `PUT` into another endpoint.
//!
//! Within a run, a create whose answer was lost (5xx, dropped connection) is looked up the
//! same way before it is sent again, so an applied-then-failed call is not duplicated.
//!
//! Filters follow Cloud's ownership rules. A new filter belongs to the caller (the
//! migration's account), which may own one filter of a name: filters of one name are
//! written one after another, each given to its owner (`PUT …/owner`) before the next,
//! those without an owner last (the migration's account keeps them, and their names). An
//! owner Jira refuses is answered as the filter's error (the filter stays with the
//! migration's account), never dropped. A filter's natural key is its name and owner;
//! one the migration's account holds must also match the record's query and description
//! (a digest in the journal), as it may be another record's whose owner is not set yet.
//! Only a filter's owner may share it: the shares of a filter owned by someone else are
//! added while the migration's account holds it (filters of one name one after another),
//! then the filter is given back to the owner its journal names (a crash in between is
//! settled when the batch is reconciled in `find_written`). A share with everyone or with
//! logged-in users replaces a filter's other shares and refuses new ones in Cloud: a
//! filter's global shares are written first, and one that would drop shares already
//! there is refused instead. What Cloud's rules make impossible is refused with Jira's
//! reason: a filter named like one the migration's account keeps (an earlier filter
//! without an owner) can be neither created for its owner nor shared.
//!
//! Dashboards follow the same ownership rules: a new dashboard belongs to the caller, which
//! may own one dashboard of a name, so dashboards of one name are written one after
//! another, each given to its owner (`PUT …/dashboard/bulk/edit`, `changeOwner`) before the
//! next, those without an owner last; an owner Jira refuses is the dashboard's error (it
//! stays with the migration's account, its id named). Its natural key is its name and
//! owner, and for one the migration's account holds a digest of its description. The
//! source's system dashboard is created as a dashboard of its own, kept by the migration's
//! account and shared with every logged-in user (`authenticated`) in its create call;
//! Cloud's own default dashboard is left as it is. A dashboard's shares are one list: the
//! client reads the dashboard, adds the shares it has not (a share that edits to
//! `editPermissions` too) and puts the whole lists back as an administrator
//! (`extendAdminPermissions`: the dashboard is its owner's by then); a repeat puts the same
//! lists. Cloud's API cannot set a dashboard's layout (the create takes none): gadgets are
//! created at their source column and row, a dashboard's in column and row order; one in a
//! column Cloud's layout has not goes below the gadgets of the last column it has, its new
//! position journaled before it is created, and is reported as a notice (`gadget-moved`).
//! Colours `color1` … `color8` become blue, red, yellow, green, cyan, purple, gray, white
//! (anything else blue). A gadget's settings are its item properties, one per key, each
//! value the setting's text (its ids the target's) as a JSON string.
//!
//! Screens, screen schemes and issue type screen schemes are never merged into the
//! target's own: each is created under its name, or as `<name> (migrated)` (then
//! `(migrated 2)`…) when the target has one of that name, the name journaled before the
//! create (as permission and notification schemes are). Cloud gives a new screen a tab,
//! "Field Tab": the first of the screen's tabs the migration writes takes it over, renamed,
//! so the screen has the source's tabs and no other; tabs are found by screen and name, so
//! a rerun finds the renamed tab, and fields are added to their tab in source order,
//! skipping those it has (`screens.rs`).
//!
//! Field configurations and field configuration schemes are created the same way, under
//! their name or a `(migrated)` one (`field_configurations.rs`). A scheme's mappings follow
//! its create (Cloud's create takes a name only) and are journaled with its name, so a
//! scheme found again after a crash gets them before it is answered; a mapping to the
//! site's own default configuration maps to Cloud's "Default Field Configuration"
//! (`isDefault`). Items (a field's description, hidden, required and renderer in one
//! configuration) are put in place 100 a call; Cloud's renderers are `text-renderer` and
//! `wiki-renderer` (the server's default text and wiki renderers), any other renderer is
//! left to Cloud's default and reported as written differently (`renderer-not-kept`).
//!
//! Issue type schemes, workflows and workflow schemes are created the same way, each in
//! one call that carries all of it (`issue_type_schemes.rs`, `workflows.rs`). The source's
//! default issue type scheme is not created: Cloud's own default holds every issue type of
//! the site and is what projects without a scheme use, so the record maps onto it. A
//! workflow is created through Cloud's workflow API, global, its steps being its statuses
//! (a step's own name is not kept), each transition with its kind, target, the statuses it
//! leaves from and its screen; a workflow scheme names its workflows by the names the
//! target gives them, read back by id first. A project's workflow scheme is set before its
//! issues exist, as Cloud switches it only then.
//!
//! Issue security follows Cloud's rules too. A scheme is created without levels and each
//! level added on its own (`PUT …/level` answers no id: it is read back by name), never as
//! the default (Jira gives the default level to every issue created without one). Jira
//! lets a caller set only the levels it is a member of (it also needs the *Set Issue
//! Security* project permission), and shows an issue at a level only to the level's
//! members, administrators included: the migration's account is made the member of each
//! level it creates. The source's members are not migrated (the model does not carry
//! them): give each level its members in Jira, then remove the migration's account if it
//! should not see those issues. A project's scheme is set before its issues are created
//! (an issue's level must be one of its project's scheme); Jira answers that call 303 to
//! an asynchronous task, which the client follows and waits for (the double completes it
//! at once).
//!
//! Simplifications against the real Cloud (the HTTP shapes are the real ones): a custom
//! field's options go to its first (global) context; status and resolution are set in the
//! create call instead of through workflow transitions; JQL on `airlock.source` assumes
//! the property is indexed (Connect/Forge apps declare that); Jira Cloud cannot replace an
//! attachment's content, so an attachment is created with an empty file and
//! [`Site::put_attachment_file`] is refused (see its doc). Votes are carried as a
//! property: Cloud adds only the caller's own vote (`POST …/issue/{id}/votes`), so the
//! source's votes go to the issue property [`VOTES_PROPERTY`]
//! (`{"voters":[{"accountId":…,"created":<millis or null>}]}`, merged by account id, at most
//! 32,768 characters: a vote that does not fit is refused `too-large`) and the issue's own
//! vote count stays 0.
//!
//! Issue history is carried as a property too: Cloud has no call that writes an issue's
//! changelog, so each issue's changes go to [`HISTORY_PROPERTY`], in the field names of
//! Jira's own changelog JSON:
//! `{"parts":<n>,"changes":[{"id":<server id>,"author":<account id or null>,"created":<millis>,
//! "items":[{"id":<server id>,"field":…,"custom":<bool>,"from":…,"fromString":…,"to":…,
//! "toString":…}]}]}`. A change is answered with the cloud id `<issue id>:<change server
//! id>`, which is how its items find the issue (an item answers `""`); both merge by
//! server id, so a rerun adds nothing. A history longer than one value (32,768
//! characters) goes on in `airlock.history.2`, `airlock.history.3` … up to
//! `airlock.history.20`; the first says how many there are (`parts`), and a change whose
//! items do not fit where it is goes on in a later part under the same id (readers merge
//! the parts by change id). Parts only grow, and the first (which counts them) is written
//! last, so a write stopped half-way loses nothing already there. Past the twentieth, a
//! change or item is refused `too-large`, as is one too big for a part on its own: never
//! dropped. The counts read the properties back: one JQL search
//! (`issue.property[airlock.history].parts is not EMPTY`, which assumes that path is
//! indexed too) answers the first parts with the issues, further parts are read one by one.
//! Jira's own history of the issue shows only the migration's writes.
//!
//! Jira Software's data goes through its own REST API (`/rest/agile/1.0`, `software.rs`),
//! and what that API cannot write is carried in properties. A board is created by the
//! migration's account, which Cloud makes its administrator (the public API cannot give it
//! to another user): the board's source key, its source owner (account id), Kanban backlog
//! and swimlane strategy go to its `airlock.source` board property
//! (`{"key":…,"owner":…,"kanbanBacklog":…,"swimlaneStrategy":…}`). A board created before a
//! crash but not marked yet is found by its name, filter and type, and marked then. Boards
//! of one natural key are written one after another. A board's columns, swimlanes and
//! quick filters cannot be written through the API: they go to its board properties, in
//! the parts history uses (`{"parts":<n>,"columns":[{"id":<server id>,"name":…,"position":…,
//! "min":…,"max":…,"statuses":[{"id":<server id>,"status":<status id>,"position":…}]}]}`,
//! `{"parts":<n>,"swimlanes":[{"id":…,"name":…,"description":…,"jql":…,"position":…}]}`,
//! the same under `quickFilters`), each answered `<board id>:<server id>` (so a column's
//! statuses find its board; a status whose column reference is the column's server id finds
//! it in the columns' journal). Sprints are created as Cloud creates them, future ones,
//! then started (with their dates) and closed as the source's were; Cloud stamps the
//! completed date. A sprint's natural key is its board, name and dates (boards are the
//! migration's, so a sprint there not taken by another record is one it created); found
//! after a crash, it is brought to its state before it is answered, and one that cannot be
//! is left for the write to reuse and answer why, never created again. A started sprint
//! without both dates is refused before anything is sent. Issues go into future and active
//! sprints through the API; Cloud refuses closed sprints, whose ids go to the issue's
//! `airlock.sprints` property (a JSON array of sprint ids, merged). Cloud gives each issue
//! its own rank and takes none: the source rank goes to the issue's `airlock.rank`
//! property, and the issues are moved into the source's order with the rank API among
//! those ranked before (read once per client by JQL, `issue.property[airlock.rank].rank is
//! not EMPTY`, which assumes that path is indexed too): each run of new issues between two ranked ones goes after the one before
//! it (or before the one after it), 50 a call, so the order holds across batches.

pub mod adf;
mod contexts;
mod dashboards;
mod field_configurations;
mod find;
mod history;
mod http;
mod issue_type_schemes;
mod keys;
mod limits;
mod read;
mod remote_links;
mod roles;
mod schemes;
mod screens;
mod security;
mod sharing;
mod software;
mod workflows;
mod write;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use airlock_model::jira::{Kind, Record};
use airlock_model::{AppKey, AppOutput};
use reqwest::header::HeaderValue;

use crate::{
    AttachmentFiles, Caveat, CaveatRows, ItemError, Site, Snapshot, TargetError, Treatment,
};
use http::Http;
use keys::KeyChange;
pub use limits::{JiraLimits, RateWindow, endpoint_template, is_put_delete, written_issue};
pub use write::ATTACHMENT_FILE_MISSING;

/// The property holding a record's source key on issues, comments and worklogs.
pub const SOURCE_PROPERTY: &str = "airlock.source";

/// The issue property that keeps what Jira Cloud sets itself on a new issue, as the source
/// has it: `{"number": …, "created": …, "updated": …, "resolved": …}` (the number in its
/// project; dates in wall-clock millis of the source server's zone, as the history
/// property has them).
pub const ISSUE_PROPERTY: &str = "airlock.issue";

/// The comment and worklog property that keeps what Jira Cloud sets itself on a new one:
/// its source author (the mapped account id, or null) and dates,
/// `{"author": …, "created": …, "updated": …}` (a worklog has no `updated`).
pub const ORIGIN_PROPERTY: &str = "airlock.origin";

/// The issue property an issue's votes are carried in (see the module doc).
pub const VOTES_PROPERTY: &str = "airlock.votes";

/// The issue property an issue's history is carried in, and the prefix of its further
/// parts (`airlock.history.2` …; see the module doc).
pub const HISTORY_PROPERTY: &str = "airlock.history";

/// The board property a board's columns (with their statuses) are carried in, and the
/// prefix of its further parts (see the module doc).
pub const COLUMNS_PROPERTY: &str = "airlock.columns";

/// The board property a board's swimlanes are carried in.
pub const SWIMLANES_PROPERTY: &str = "airlock.swimlanes";

/// The board property a board's quick filters are carried in.
pub const QUICK_FILTERS_PROPERTY: &str = "airlock.quick-filters";

/// The board property the fields a board's cards show are carried in.
pub const CARD_FIELDS_PROPERTY: &str = "airlock.card-fields";

/// The board property a board's card colours are carried in.
pub const CARD_COLORS_PROPERTY: &str = "airlock.card-colors";

/// The issue property the closed sprints an issue was in are carried in (a JSON array of
/// sprint ids).
pub const SPRINTS_PROPERTY: &str = "airlock.sprints";

/// The issue property an issue's source rank is carried in (`{"rank": …, "field": …}`).
pub const RANK_PROPERTY: &str = "airlock.rank";

/// How to reach a Jira Cloud site.
#[derive(Clone)]
pub struct CloudConfig {
    /// `https://your-site.atlassian.net` (no trailing path).
    pub base_url: String,
    /// Basic authentication: the account's email and an API token. Never logged.
    pub email: String,
    pub api_token: String,
    /// An extra trusted root certificate (PEM), beside the system's: for test servers.
    pub extra_root_pem: Option<String>,
    /// Requests in flight at once on per-item endpoints.
    pub max_concurrency: usize,
    pub retry: RetryPolicy,
    /// The app (add-on key) whose app properties hold Airlock's write-ahead journal.
    pub ledger_app: String,
    /// One request's time limit.
    pub request_timeout: Duration,
    /// The rate limits the client keeps (Jira Cloud's by default); `None` sends as fast as
    /// the concurrency allows (a 429 is still waited out).
    pub limits: Option<JiraLimits>,
}

impl CloudConfig {
    pub fn new(
        base_url: impl Into<String>,
        email: impl Into<String>,
        api_token: impl Into<String>,
    ) -> CloudConfig {
        CloudConfig {
            base_url: base_url.into(),
            email: email.into(),
            api_token: api_token.into(),
            extra_root_pem: None,
            max_concurrency: 4,
            retry: RetryPolicy::default(),
            ledger_app: "airlock".into(),
            request_timeout: Duration::from_secs(60),
            limits: Some(JiraLimits::default()),
        }
    }
}

impl std::fmt::Debug for CloudConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudConfig")
            .field("base_url", &self.base_url)
            .field("email", &"<redacted>")
            .field("api_token", &"<redacted>")
            .field("extra_root_pem", &self.extra_root_pem.is_some())
            .field("max_concurrency", &self.max_concurrency)
            .field("retry", &self.retry)
            .field("ledger_app", &self.ledger_app)
            .field("request_timeout", &self.request_timeout)
            .field("limits", &self.limits)
            .finish()
    }
}

/// When and how often a call is repeated.
///
/// - 429, and 503 with `Retry-After`: no request of this client leaves before the
///   `Retry-After` (seconds) has passed; at most `max_throttled` such waits per call, none
///   longer than `max_retry_after`.
/// - Other 5xx and network errors: exponential backoff with full jitter (uniform in
///   `[0, min(max_delay, base_delay · 2^(n-1))]`), at most `max_attempts` attempts.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    pub max_throttled: u32,
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_throttled: 100,
            max_retry_after: Duration::from_secs(600),
        }
    }
}

/// Jira Cloud as a [`Site`].
pub struct JiraCloud {
    rt: tokio::runtime::Runtime,
    api: Api,
    base_url: String,
}

impl std::fmt::Debug for JiraCloud {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JiraCloud")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl JiraCloud {
    pub fn new(config: CloudConfig) -> Result<JiraCloud, TargetError> {
        let base = config.base_url.trim_end_matches('/').to_owned();
        if !base.starts_with("https://") {
            return Err(TargetError::Invalid(
                "the Jira Cloud URL must start with https://".into(),
            ));
        }
        crate::app_storage::check_app_key(&AppKey::new(config.ledger_app.clone()))
            .map_err(|rule| TargetError::Invalid(format!("the ledger app's key {rule}")))?;
        let tls = airlock_tls::client_config(config.extra_root_pem.as_deref())
            .map_err(|e| TargetError::Invalid(e.to_string()))?;
        let concurrency = config.max_concurrency.max(1);
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(config.request_timeout)
            .connect_timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(concurrency)
            .user_agent(concat!("airlock/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| TargetError::Invalid(format!("cannot set up the HTTP client: {e}")))?;
        let mut auth = HeaderValue::from_str(&format!(
            "Basic {}",
            base64(format!("{}:{}", config.email, config.api_token).as_bytes())
        ))
        .map_err(|_| TargetError::Invalid("the credentials hold invalid characters".into()))?;
        auth.set_sensitive(true);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| TargetError::Invalid(format!("cannot start the HTTP runtime: {e}")))?;
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        let http = Http::new(
            client,
            base.clone(),
            auth,
            config.retry.clone(),
            config.limits.clone(),
            seed,
        );
        Ok(JiraCloud {
            rt,
            api: Api {
                http,
                concurrency,
                ledger_app: config.ledger_app.clone(),
                state: Mutex::new(State::default()),
                journal_writes: tokio::sync::Mutex::new(()),
                files: None,
            },
            base_url: base,
        })
    }
}

/// The async side: every call of the trait is one future on the client's runtime.
pub(crate) struct Api {
    http: Http,
    concurrency: usize,
    ledger_app: String,
    state: Mutex<State>,
    /// Held from a journal part's snapshot to its write: two writes of one part (a batch's
    /// records journaling the names they chose at once) must reach Jira in the order
    /// their snapshots were taken, or the later snapshot is lost.
    journal_writes: tokio::sync::Mutex<()>,
    /// The attachments' files, read as each attachment is created (Cloud takes a file
    /// only then); `None` until the migration hands them over.
    files: Option<Arc<dyn AttachmentFiles>>,
}

/// What the client learnt and keeps for the rest of its life. Never held across an await.
#[derive(Default)]
struct State {
    /// Custom field id → type key.
    field_types: Option<Arc<HashMap<String, String>>>,
    /// Custom field id → its global context.
    contexts: HashMap<String, String>,
    journals: HashMap<Kind, find::KindJournal>,
    /// App entity properties written through this client, per app (Cloud cannot list
    /// an app's entity properties back).
    app_entity_properties: HashMap<String, HashSet<(String, String, String)>>,
    /// The caller's account id (`GET /rest/api/3/myself`), once asked.
    myself: Option<String>,
    /// Whether the site takes attachments, and the largest file it takes
    /// (`GET /rest/api/3/attachment/meta`), once asked.
    attachment_meta: Option<(bool, u64)>,
    /// Filter id → the source key of the record it was created for, owner set or not: a
    /// filter left with the migration's account is never taken for another record.
    filters: HashMap<String, String>,
    /// Dashboard id → the source key of the record it was created for, owner set or not:
    /// a dashboard left with the migration's account is never taken for another record.
    dashboards: HashMap<String, String>,
    /// Records written otherwise than the source has them (beside issues' key changes):
    /// gadgets moved to a column Cloud's layout has.
    notices: Vec<crate::Notice>,
    /// Sprint id → its state (`future`, `active`, `closed`), as last read or set.
    sprints: HashMap<String, String>,
    /// Source key → a sprint `find_written` found for it but could not bring to its state:
    /// the write takes it rather than creating another.
    unsettled: HashMap<String, String>,
    /// The issues Airlock ranked, by source rank (read once, then kept up to date).
    ranks: Option<software::Ranked>,
    /// Jira Cloud's default field configuration (`isDefault`), once asked.
    default_field_configuration: Option<String>,
    /// Jira Cloud's default issue type scheme (`isDefault`), once asked.
    default_issue_type_scheme: Option<String>,
    /// Source key → a field configuration scheme made or found for it whose mappings Cloud
    /// refused, with the natural key it was journaled under: the write takes it rather than
    /// creating another.
    unsettled_schemes: HashMap<String, (String, serde_json::Value)>,
    /// Project id → its numbering, once learnt (`keys.rs`).
    numbering: HashMap<String, keys::Numbering>,
    /// Placeholders a crash left, by project, until each project's numbering is learnt.
    leftovers: Option<HashMap<String, Vec<(u64, String)>>>,
    /// Issues created with another key than their source number's.
    key_changes: Vec<KeyChange>,
}

impl Api {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("client state lock")
    }
}

impl Site for JiraCloud {
    fn describe(&self) -> String {
        format!("Jira Cloud at {}", self.base_url)
    }

    fn snapshot(&mut self) -> Result<Snapshot, TargetError> {
        self.rt.block_on(self.api.snapshot())
    }

    /// What the public REST API cannot write (see the module doc for each).
    fn caveats(&self) -> Vec<Caveat> {
        let caveat = |kind, treatment, how: &str| Caveat {
            kind,
            treatment,
            how: how.to_owned(),
            rows: CaveatRows::All,
        };
        let history = "Jira Cloud has no call that writes an issue's changelog: each issue's \
                       history is carried in its properties airlock.history, airlock.history.2 \
                       … (Jira's changelog JSON); Jira's own History tab shows only the \
                       migration's writes";
        let columns = "Jira Cloud's REST API cannot write a board's columns: each board's \
                       columns, with their statuses (the site's ids) and issue count limits, \
                       are listed in its airlock.columns board property (airlock.columns.2 … \
                       when long), and the board shows Jira's default columns until they are \
                       recreated in its settings (Board settings › Columns) from that list";
        let mut caveats = crate::renamed_scheme_caveats().to_vec();
        caveats.push(crate::system_dashboard_caveat());
        caveats.push(crate::default_issue_type_scheme_caveat());
        caveats.extend([
            caveat(
                Kind::Issue,
                Treatment::Changed,
                "Jira Cloud numbers issues in creation order and stamps them created and \
                 updated now: each project's issues are created in source number order, \
                 placeholder issues fill the gaps (deleted or moved issues) and are deleted \
                 once the next issue exists, so keys are kept; an issue whose number the \
                 project passed already (the target's project held issues, an issue before \
                 it was refused, or a gap wider than 10,000) gets the project's next key and \
                 is listed in the report as written differently; each issue's source id is \
                 in its airlock.source property, and its source number and created, updated \
                 and resolved dates in its airlock.issue property",
            ),
            caveat(
                Kind::Comment,
                Treatment::CarriedAsProperty,
                "Jira Cloud makes the migration's account the author of each comment it \
                 creates and stamps it created now: each comment's source author and dates \
                 are carried in its airlock.origin property",
            ),
            caveat(
                Kind::Worklog,
                Treatment::CarriedAsProperty,
                "Jira Cloud makes the migration's account the author of each work log it \
                 creates and stamps it created now (the time it was started is kept): each \
                 work log's source author and creation date are carried in its \
                 airlock.origin property",
            ),
            caveat(Kind::ChangeGroup, Treatment::CarriedAsProperty, history),
            caveat(Kind::ChangeItem, Treatment::CarriedAsProperty, history),
            caveat(
                Kind::Vote,
                Treatment::CarriedAsProperty,
                "Jira Cloud records only the caller's own vote: the source's votes are \
                 carried in each issue's airlock.votes property and Jira's vote count stays 0",
            ),
            caveat(
                Kind::Attachment,
                Treatment::Changed,
                "Jira Cloud takes an attachment's file only when it creates the attachment: \
                 each is created with its file from the attachments folder (--attachments, \
                 the Jira home), and one whose file is not there is refused, named, until \
                 the file is put in place and the migration run again; its author and date \
                 become the migration's account and the time of the upload",
            ),
            caveat(
                Kind::SecurityLevel,
                Treatment::Changed,
                "Jira Cloud sets an issue's level only for a member of the level, so the \
                 migration's account is made the member of each level it creates; the \
                 source's members are not migrated: give each level its members in Jira, \
                 then remove the migration's account if it should not see those issues",
            ),
            caveat(
                Kind::Board,
                Treatment::Changed,
                "Jira Cloud's REST API cannot set a board's administrators, Kanban backlog or \
                 swimlane grouping: the migration's account owns each board it creates, and \
                 the source's owner (account id), Kanban backlog and swimlane strategy are in \
                 the board's airlock.source property; set them in the board's settings",
            ),
            caveat(
                Kind::Sprint,
                Treatment::Changed,
                "Jira Cloud creates every sprint as a future one: active and closed sprints \
                 are started with their source dates, then closed by the migration, so Jira \
                 stamps completed dates with the migration's time (the source's completed \
                 date is not kept); a board with more than one active sprint needs parallel \
                 sprints turned on in Jira Cloud before the load, and a sprint of a board \
                 that is now a Kanban board is refused (Cloud's Kanban boards have none)",
            ),
            caveat(Kind::BoardColumn, Treatment::CarriedAsProperty, columns),
            caveat(Kind::ColumnStatus, Treatment::CarriedAsProperty, columns),
            caveat(
                Kind::Swimlane,
                Treatment::CarriedAsProperty,
                "Jira Cloud's REST API cannot write a board's swimlanes: each board's \
                 swimlane queries (in the site's ids) are listed in its airlock.swimlanes \
                 board property (airlock.swimlanes.2 … when long), and the board has none \
                 until they are recreated in its settings (Board settings › Swimlanes) from \
                 that list",
            ),
            caveat(
                Kind::QuickFilter,
                Treatment::CarriedAsProperty,
                "Jira Cloud's REST API cannot write a board's quick filters: each board's \
                 quick filter queries (in the site's ids) are listed in its \
                 airlock.quick-filters board property (airlock.quick-filters.2 … when long), \
                 and the board has none until they are recreated in its settings (Board \
                 settings › Quick filters) from that list",
            ),
            caveat(
                Kind::CardField,
                Treatment::CarriedAsProperty,
                "Jira Cloud's REST API cannot write the fields a board's cards show: each \
                 board's card fields (backlog and board, in order; custom fields as the \
                 site's ids) are listed in its airlock.card-fields board property, and the \
                 cards show Jira's defaults until they are set in its settings (Board \
                 settings › Card layout) from that list",
            ),
            caveat(
                Kind::CardColor,
                Treatment::CarriedAsProperty,
                "Jira Cloud's REST API cannot write a board's card colours: each board's \
                 colours (by issue type, priority, assignee or query, in the site's ids) are \
                 listed in its airlock.card-colors board property, and the cards take Jira's \
                 default colours until they are set in its settings (Board settings › Card \
                 colours) from that list",
            ),
            caveat(
                Kind::IssueSprint,
                Treatment::CarriedAsProperty,
                "Jira Cloud adds issues only to future and active sprints: issues are added \
                 to those, while the closed sprints an issue was in are listed in its \
                 airlock.sprints property (sprint ids), so Jira's Sprint field and sprint \
                 reports show only an issue's open sprint",
            ),
            caveat(
                Kind::Dashboard,
                Treatment::Changed,
                "Jira Cloud's REST API cannot set a dashboard's layout: each dashboard has \
                 Cloud's default layout and its gadgets keep their columns (a gadget in a \
                 column that layout has not goes below the gadgets of its last column, and \
                 is listed in the report as written differently): set each dashboard's \
                 layout in Jira",
            ),
            caveat(
                Kind::FieldConfiguration,
                Treatment::Changed,
                "Jira Cloud's REST API cannot edit its Default Field Configuration: the \
                 source's default field configuration arrives as one of its own (\"Default \
                 Field Configuration (migrated)\"), while projects without a field \
                 configuration scheme, and the issue types a scheme maps to the default, use \
                 Jira Cloud's; map them to the migrated one in Jira if its settings should \
                 apply",
            ),
            caveat(
                Kind::FieldConfigurationItem,
                Treatment::Changed,
                "Jira Cloud's field configurations take two renderers, the default text and \
                 the wiki renderer: a field the source renders otherwise (an app's renderer, \
                 the autocomplete or select list renderer) keeps Cloud's default renderer, \
                 listed in the report as written differently",
            ),
            caveat(
                Kind::Workflow,
                Treatment::Changed,
                "Jira Cloud's workflows have no steps of their own: each step of a source \
                 workflow arrives as its status, so a step named otherwise than its status \
                 shows the status's name; transitions keep their kind, statuses and screen",
            ),
            caveat(
                Kind::FieldContext,
                Treatment::Changed,
                "Jira Cloud no longer narrows a custom field's global context to issue types \
                 (CHANGE-3019, since April 2026): a source's global context for some issue \
                 types applies to every issue type on the target; project contexts keep \
                 their issue types",
            ),
            caveat(
                Kind::IssueRank,
                Treatment::Changed,
                "Jira Cloud gives each issue a rank of its own and cannot take another: each \
                 issue's source rank is kept in its airlock.rank property, and the issues are \
                 moved into the source's order among those the migration ranked (issues \
                 already on the site keep their places among them); an issue Jira refuses \
                 to move keeps the rank it was created with",
            ),
        ]);
        caveats
    }

    fn write(
        &mut self,
        kind: Kind,
        records: &[Record],
    ) -> Result<Vec<Result<String, ItemError>>, TargetError> {
        // The shared rules first: a record Cloud would refuse for its own values is
        // answered here, and only the others are sent.
        let checked: Vec<Result<(), crate::rules::Violation>> =
            records.iter().map(crate::rules::check).collect();
        let answers = if checked.iter().all(Result::is_ok) {
            self.rt.block_on(self.api.write(kind, records))?
        } else {
            let valid: Vec<Record> = records
                .iter()
                .zip(&checked)
                .filter(|(_, c)| c.is_ok())
                .map(|(r, _)| r.clone())
                .collect();
            let mut sent = self.rt.block_on(self.api.write(kind, &valid))?.into_iter();
            let mut answers = Vec::with_capacity(records.len());
            for c in checked {
                answers.push(match c {
                    Ok(()) => sent.next().ok_or_else(|| {
                        TargetError::Invalid("Jira Cloud answered fewer records than sent".into())
                    })?,
                    Err(v) => Err(v.into()),
                });
            }
            answers
        };
        let refused = answers.iter().filter(|a| a.is_err()).count();
        tracing::debug!(%kind, records = records.len(), refused, "wrote a batch to Jira Cloud");
        Ok(answers)
    }

    fn find_written(
        &mut self,
        kind: Kind,
        source_keys: &[String],
    ) -> Result<Vec<Option<String>>, TargetError> {
        self.rt.block_on(self.api.find_written(kind, source_keys))
    }

    fn counts(&mut self) -> Result<BTreeMap<Kind, u64>, TargetError> {
        self.rt.block_on(self.api.counts())
    }

    fn put_app_outputs(&mut self, app: &AppKey, outputs: &[AppOutput]) -> Result<(), TargetError> {
        self.rt.block_on(self.api.put_app_outputs(app, outputs))
    }

    /// Jira Cloud numbers a project's new issues one after another (`keys.rs`).
    fn numbers_issues(&self) -> bool {
        true
    }

    /// The issues created with another key than their source number's, and the gadgets
    /// placed in another column than their source's.
    fn take_notices(&mut self) -> Vec<crate::Notice> {
        let mut state = self.api.state();
        let others = std::mem::take(&mut state.notices);
        std::mem::take(&mut state.key_changes)
            .into_iter()
            .map(|c| crate::Notice {
                kind: Kind::Issue,
                source_key: c.source_key,
                code: "key-changed",
                message: format!(
                    "Jira Cloud gave it the key {} instead of number {}: the project had \
                     passed that number already (the target's project held issues, an issue \
                     before it was refused, or the gap before it was wider than {} numbers); \
                     its source number is kept in its airlock.issue property",
                    c.key,
                    c.source_number,
                    keys::MAX_GAP
                ),
            })
            .chain(others)
            .collect()
    }

    /// Jira Cloud stores an attachment's file only when it creates the attachment: each
    /// file is read as its record is written.
    fn wants_attachment_files(&self) -> bool {
        true
    }

    fn take_attachment_files(&mut self, files: Arc<dyn AttachmentFiles>) {
        self.api.files = Some(files);
    }

    /// Refused: Jira Cloud creates an attachment together with its content and cannot
    /// replace it afterwards; the content travels with the record
    /// ([`Site::take_attachment_files`]).
    fn put_attachment_file(
        &mut self,
        _attachment: &str,
        _content: &mut dyn std::io::Read,
    ) -> Result<u64, TargetError> {
        Err(TargetError::Invalid(
            "Jira Cloud cannot replace an attachment's content; upload it with the attachment"
                .into(),
        ))
    }

    fn app_output_count(&mut self, app: &AppKey) -> Result<u64, TargetError> {
        self.rt.block_on(self.api.app_output_count(app))
    }
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Percent-encodes a query value (everything but unreserved characters). Path segments
/// go through [`RestPath::seg`] instead, which also refuses dot segments.
pub(crate) fn query_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Why a value cannot be one segment of a REST path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SegmentError {
    #[error("is empty")]
    Empty,
    /// `.` or `..`: URL parsing resolves them (so does `%2e`), which would change the endpoint.
    #[error("is a dot segment (`.` or `..`)")]
    Dot,
    #[error("holds a control character")]
    Control,
}

/// Checks a value for [`RestPath::seg`].
pub(crate) fn check_segment(s: &str) -> Result<(), SegmentError> {
    if s.is_empty() {
        Err(SegmentError::Empty)
    } else if s == "." || s == ".." {
        Err(SegmentError::Dot)
    } else if s.chars().any(char::is_control) {
        Err(SegmentError::Control)
    } else {
        Ok(())
    }
}

/// A REST path below the base URL, built one segment at a time: fixed parts are literals,
/// every value from data is one percent-encoded segment ([`RestPath::seg`]) or a
/// percent-encoded query value ([`RestPath::query`]). Never `format!` data into a path.
#[derive(Clone, Debug)]
pub(crate) struct RestPath {
    path: String,
    has_query: bool,
}

impl RestPath {
    /// Starts at a fixed path of the API (`/rest/api/3/issue`).
    pub fn at(fixed: &'static str) -> RestPath {
        debug_assert!(fixed.starts_with('/') && !fixed.contains(['?', '#']));
        RestPath {
            path: fixed.trim_end_matches('/').to_owned(),
            has_query: false,
        }
    }

    /// Appends fixed segments (`properties`, `context/option`).
    pub fn fixed(mut self, fixed: &'static str) -> RestPath {
        debug_assert!(!self.has_query && !fixed.contains(['?', '#']));
        self.path.push('/');
        self.path.push_str(fixed.trim_matches('/'));
        self
    }

    /// Appends one segment from data, percent-encoded (so `/`, `?`, `#`, `%` stay inside
    /// it); refused if empty, `.`, `..` or holding a control character.
    pub fn seg(mut self, value: &str) -> Result<RestPath, SegmentError> {
        debug_assert!(!self.has_query);
        check_segment(value)?;
        self.path.push('/');
        self.path.push_str(&query_value(value));
        Ok(self)
    }

    /// Appends a query parameter; its value percent-encoded.
    pub fn query(mut self, name: &'static str, value: &str) -> RestPath {
        self.path.push(if self.has_query { '&' } else { '?' });
        self.has_query = true;
        self.path.push_str(name);
        self.path.push('=');
        self.path.push_str(&query_value(value));
        self
    }

    pub fn build(self) -> String {
        self.path
    }
}

fn item(code: &'static str, message: impl Into<String>) -> ItemError {
    ItemError {
        code,
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648() {
        for (raw, b64) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(raw.as_bytes()), b64);
        }
    }

    #[test]
    fn config_debug_hides_credentials() {
        let c = CloudConfig::new("https://x.atlassian.net", "me@example.com", "s3cret");
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cret") && !shown.contains("me@example.com"));
    }

    #[test]
    fn encoding_keeps_unreserved_only() {
        assert_eq!(query_value("a b/c?d=é"), "a%20b%2Fc%3Fd%3D%C3%A9");
    }

    #[test]
    fn paths_are_built_segment_by_segment() {
        let path = RestPath::at("/rest/api/3/issue")
            .seg("10001")
            .unwrap()
            .fixed("properties")
            .seg("a/b?c#%2e%2e")
            .unwrap()
            .query("accountId", "x&y=z")
            .query("n", "1")
            .build();
        assert_eq!(
            path,
            "/rest/api/3/issue/10001/properties/a%2Fb%3Fc%23%252e%252e?accountId=x%26y%3Dz&n=1"
        );
        for (bad, why) in [
            ("", SegmentError::Empty),
            (".", SegmentError::Dot),
            ("..", SegmentError::Dot),
            ("a\nb", SegmentError::Control),
            ("\u{7f}", SegmentError::Control),
            ("\u{85}", SegmentError::Control),
        ] {
            assert_eq!(
                RestPath::at("/rest/api/3/issue").seg(bad).unwrap_err(),
                why,
                "{bad:?}"
            );
        }
        // Only whole dot segments are dots.
        assert!(RestPath::at("/x").seg("...").is_ok());
        assert!(RestPath::at("/x").seg(".a").is_ok());
    }
}
