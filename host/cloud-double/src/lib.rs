//! A local HTTPS server that behaves like Jira Cloud REST v3, for testing the cloud target
//! over real HTTP: [`CloudDouble::start`].
//!
//! - Storage is an [`airlock_site::LocalSite`]: every write endpoint turns the REST call
//!   into a `LocalSite` write (so Cloud's validation rules are the site's), and answers in
//!   Jira's JSON shapes. Reads go through a second SQLite connection to the same file
//!   (`LocalSite` has no read API beyond the snapshot), so the double knows the site's
//!   tables (`store.rs`); so do the few changes `LocalSite` has no call for (a filter's
//!   owner, the shares a global share replaces).
//! - The caller: the email of a request's basic credentials names a user of the site, as
//!   an API token belongs to one in Cloud; the double adds that user the first time it
//!   needs it (`GET /rest/api/3/myself`, a new filter's owner, watching without an account
//!   id).
//! - Issue numbers as Cloud gives them: each project's counter, in element order, never
//!   going back (a deleted issue's number is gone, `DELETE /rest/api/3/issue/{id}`), and
//!   an issue refused is not numbered (the next takes its number); `project = X ORDER BY
//!   key DESC` finds a project's latest (400 for a project the site does not have).
//! - Jira's limits: 50 issues per bulk create (more is a 400), partial failure of bulk
//!   creates (`issues` + `errors[{failedElementNumber, elementErrors, status}]`), entity
//!   and app property keys ≤ 255 and values ≤ 32,768 characters, required fields, 404 for
//!   unknown ids, the XSRF header on attachment uploads, no duplicate links or labels.
//!   Filters as Cloud keeps them: a new filter belongs to the caller, names are distinct
//!   per owner (in any case), only the owner may share a filter, and a share with everyone
//!   (`global`, `authenticated`) replaces the filter's other shares and refuses new ones.
//! - Dashboards as Cloud keeps them (`api/dashboards.rs`, in the double's own tables): a
//!   new dashboard belongs to the caller and has Cloud's default layout (two columns),
//!   names are distinct per owner (in any case, also when the owner changes through
//!   `PUT …/dashboard/bulk/edit` `changeOwner`), only the owner (or an administrator asking
//!   with `extendAdminPermissions`) may replace its name and shares, a gadget is a `uri` or
//!   a `moduleKey` (exactly one) in one of Cloud's eight colours at a free position of a
//!   column the layout has, and its item properties keep entity properties' limits.
//! - Projects, categories and permission schemes as Cloud keeps them (`api/schemes.rs`):
//!   a renamed project keeps its former keys and is found by them, a key another project
//!   has or had is refused; category and permission scheme names are distinct in any case
//!   (409 and 400), grants name Cloud's project permissions and holders the site has, once
//!   each; a project without a permission scheme of its own uses the default one (`0`).
//! - Notification schemes as Cloud keeps them (`api/notifications.rs`): names distinct in
//!   any case (400), entries for Jira's events (1–17) of Cloud's recipient types, naming
//!   recipients the site has, once each, a request's entries all or none; a project
//!   without a notification scheme of its own uses the default one (`10000`).
//! - Screens as Cloud keeps them (`api/screens.rs`, in the site's tables, with Cloud's
//!   defaults: screens 1–3, screen scheme 1, issue type screen scheme 1): names of
//!   screens, screen schemes and issue type screen schemes distinct in any case (400), a
//!   new screen with one tab, "Field Tab", tab names distinct per screen, tabs and fields
//!   appended, a field once a screen (a system field Cloud knows or a custom field the
//!   site has), a screen scheme with a default screen, an issue type screen scheme with a
//!   default mapping and each issue type once; every project on issue type screen scheme
//!   1 until it is given another.
//! - Field configurations as Cloud keeps them (`api/field_configurations.rs`, in the
//!   site's tables, with Cloud's "Default Field Configuration", 10000, which the API cannot
//!   change): names of configurations and of schemes distinct in any case (400); every
//!   field of the site listed with its settings (defaults for a field never set); a `PUT`
//!   of at most 100 fields the site has, with Cloud's renderers, replacing what it names,
//!   all or none; a new scheme mapping every issue type to the default, `PUT …/mapping`
//!   replacing the issue types it names (issue types and configurations the site has); a
//!   project on the system default (no scheme) until given one.
//! - Issue type schemes as Cloud keeps them (`api/issue_type_schemes.rs`, in the site's
//!   tables, with Cloud's "Default Issue Type Scheme", 10000, which lists every issue type
//!   of the site, a new one added as it is created): names distinct in any case (400), at
//!   least one issue type, known ones, once each, the default among them; a project on the
//!   default until given another, switched only to a scheme listing its issues' types, and
//!   a new issue of a type its project's scheme does not list refused.
//! - Workflows and workflow schemes as Cloud keeps them (`api/workflows.rs`, in the site's
//!   tables, with Cloud's built-in `jira`): a workflow created through the workflow API,
//!   global, its statuses the site's under the caller's references, with the shared
//!   rules' (one initial transition, short names, a status once, global transitions apart,
//!   distinct names from each status), directed transitions from the workflow's statuses
//!   and the others from none, screens the site has, names distinct site-wide in any case,
//!   all of a call or none, each answered with a UUID; a scheme naming workflows (by name)
//!   and issue types the site has (`jira` by default); a project on the Default Workflow
//!   Scheme (no id) until given another, switched only while it has no issues.
//! - Jira Software's REST API (`/rest/agile/1.0`, `api/software.rs`): boards (a name, a
//!   type, a filter the site has; the caller administers them) and their properties,
//!   sprints (created future; future → active → closed only, started with both dates,
//!   completed when closed; only on scrum boards), moving issues to future and active
//!   sprints only (50 a call; out of their other open sprint), ranking issues before or
//!   after another (50 a call, 207 when some cannot move; issues never ranked go last in
//!   creation order, as Cloud ranks new issues).
//! - Source keys: issues, comments and worklogs carry theirs in the `airlock.source`
//!   property, boards in their `airlock.source` board property; for every other kind the
//!   double stores the natural key as the row's source key (`email`, `name`,
//!   `project/name`, a sprint's board, name and dates…), so `duplicate_source_keys` shows a
//!   record created twice whatever its kind (dashboards, in the double's own tables, through
//!   [`CloudDouble::dashboards`]: a name is one owner's once, a position one gadget's).
//!   Votes, which Airlock carries in the issue
//!   property `airlock.votes`, are only that property here, as in Cloud; so are a board's
//!   columns, swimlanes and quick filters (board properties), issues' closed sprints and
//!   source ranks (issue properties): the site's tables for them stay empty, and the
//!   double's own ranks have no source key.
//! - Jira's rate limits, when configured ([`DoubleConfig::limits`], [`JiraLimits`]; off by
//!   default, on in `airlock cloud-double`): per client (the credentials: one tenant's
//!   API-token traffic) and endpoint template, GET and POST 100 requests in any second, PUT
//!   and DELETE 50; per issue, every write whose path names it (`…/issue/{id}` and below:
//!   edits, comments, worklogs, watchers, properties, attachments) counts in its windows
//!   of 20 in any 2 seconds and 100 in any 30. Past one: 429 with `Retry-After` (whole
//!   seconds, rounded up, until the window has room) and `X-RateLimit-Reset`, counted in
//!   [`Stats::throttled_by_limits`]; the client is then throttled as after any 429.
//! - Faults, per test ([`Faults`]): a fraction of calls answered 429 with `Retry-After`
//!   and `X-RateLimit-Reset`, 503s with `Retry-After`, 500s before applying, and writes
//!   applied and then answered 500 or cut off (the connection drops).
//! - Every request is recorded ([`RequestRecord`]) with its arrival time, its endpoint
//!   template, the issue a write names, and whether it came while a `Retry-After` the
//!   double gave that client (by credentials) was in force; [`Stats::early_requests`]
//!   must stay 0 for a correct client. The record is enough to work out what the limits
//!   allow for the requests made (the `cloud` benchmark does).
//!
//! While a client is throttled, every request of it is answered 429 as Jira does. One
//! that arrives within [`Faults::in_flight_grace`] of the 429 was already on its way when
//! the client heard of the limit: it is counted apart ([`Stats::in_flight`]), not as early.

mod api;
mod server;
mod store;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use airlock_model::jira::Share;
pub use airlock_site::{JiraLimits, RateWindow};
use airlock_site::{LocalSite, TargetError};

/// Faults the double injects. Fractions are of all calls (after-apply faults: of writes),
/// drawn from a seeded generator.
#[derive(Clone, Debug)]
pub struct Faults {
    pub seed: u64,
    /// Answered 429 with `Retry-After: retry_after_secs` and `X-RateLimit-Reset`.
    pub rate_limited: f64,
    /// Answered 503 with `Retry-After`.
    pub unavailable: f64,
    pub retry_after_secs: u64,
    /// At most this many 429/503 windows opened by the dice (keeps tests short).
    pub max_throttles: Option<u64>,
    /// Answered 500 without applying.
    pub server_errors: f64,
    /// Applied, then answered 500.
    pub fail_after_apply: f64,
    /// Applied, then the connection is dropped without an answer.
    pub drop_after_apply: f64,
    /// A request arriving this soon after a 429/503 was in flight already.
    pub in_flight_grace: Duration,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            seed: 7,
            rate_limited: 0.0,
            unavailable: 0.0,
            retry_after_secs: 1,
            max_throttles: None,
            server_errors: 0.0,
            fail_after_apply: 0.0,
            drop_after_apply: 0.0,
            in_flight_grace: Duration::from_millis(100),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct DoubleConfig {
    pub faults: Faults,
    /// The site's file; a temporary one if `None`.
    pub site_path: Option<PathBuf>,
    /// Where it listens: a loopback address (`127.0.0.1:0`, an ephemeral port, if `None`).
    /// It is a rehearsal target holding the customer's migrated data, with no real
    /// authentication: anything but loopback is refused.
    pub listen: Option<std::net::SocketAddr>,
    /// Jira's rate limits, kept as Jira Cloud keeps them (`None`: no limits, the default).
    pub limits: Option<JiraLimits>,
}

/// What the double saw and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub requests: u64,
    /// 429s sent (dice, Jira's limits and throttled clients).
    pub rate_limited: u64,
    /// 429s sent because a request was past one of Jira's limits ([`DoubleConfig::limits`]).
    pub throttled_by_limits: u64,
    /// 503s sent.
    pub unavailable: u64,
    /// 500s sent without applying.
    pub server_errors: u64,
    /// Writes applied and answered 500.
    pub failed_after_apply: u64,
    /// Writes applied and cut off.
    pub dropped_after_apply: u64,
    /// Requests received while a `Retry-After` the double gave that client was in force,
    /// past the in-flight grace: 0 for a correct client.
    pub early_requests: u64,
    /// Requests received within the grace after a 429/503 (already in flight).
    pub in_flight: u64,
    /// Requests without basic credentials.
    pub unauthenticated: u64,
    /// `METHOD /path/{id}/template` → requests.
    pub per_endpoint: BTreeMap<String, u64>,
}

/// One request as the double received it.
#[derive(Clone, Debug)]
pub struct RequestRecord {
    /// Since the double started.
    pub at: Duration,
    /// `METHOD /path/{id}/template`.
    pub endpoint: String,
    /// The issue a write (anything but GET) names in its path, which Jira's per-issue
    /// limit counts it against: `…/issue/{id}` and below.
    pub issue: Option<String>,
    /// 0 when the connection was dropped on purpose.
    pub status: u16,
    /// Received while a `Retry-After` given to its client was in force.
    pub throttled: bool,
    /// … and past the in-flight grace.
    pub early: bool,
    /// Answered 429 for being past one of Jira's limits.
    pub by_limits: bool,
}

impl RequestRecord {
    /// `GET`, `POST`, `PUT`…
    pub fn method(&self) -> &str {
        self.endpoint.split(' ').next().unwrap_or("")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DoubleError {
    #[error("cannot start the double: {0}")]
    Start(String),
    #[error(transparent)]
    Site(#[from] TargetError),
}

/// A dashboard as the double keeps it, with its share permissions and gadgets: for tests
/// that compare what was written.
#[derive(Clone, Debug, PartialEq)]
pub struct CloudDashboard {
    pub id: String,
    pub name: String,
    pub description: String,
    /// The owner's account id.
    pub owner: String,
    /// Who may view it: each permission's id and what it names, by id.
    pub shares: Vec<(String, Share)>,
    /// Who may edit it, likewise.
    pub editors: Vec<(String, Share)>,
    /// By id.
    pub gadgets: Vec<CloudGadget>,
}

/// A gadget of a dashboard, with its item properties.
#[derive(Clone, Debug, PartialEq)]
pub struct CloudGadget {
    pub id: String,
    pub column: u32,
    pub row: u32,
    pub uri: Option<String>,
    pub module_key: Option<String>,
    /// One of Cloud's colours (`blue` … `white`).
    pub color: String,
    pub title: Option<String>,
    /// Item property key → its JSON value.
    pub properties: BTreeMap<String, serde_json::Value>,
}

/// A running double: HTTPS on 127.0.0.1 and an ephemeral port. Stops when dropped.
pub struct CloudDouble {
    url: String,
    ca_pem: String,
    shared: Arc<api::Shared>,
    runtime: Option<tokio::runtime::Runtime>,
    shutdown: Option<tokio::sync::watch::Sender<bool>>,
    _dir: Option<tempfile::TempDir>,
    site_path: PathBuf,
}

impl CloudDouble {
    pub fn start(config: DoubleConfig) -> Result<CloudDouble, DoubleError> {
        let (dir, site_path) = match &config.site_path {
            Some(p) => (None, p.clone()),
            None => {
                let dir = tempfile::tempdir().map_err(|e| DoubleError::Start(e.to_string()))?;
                let path = dir.path().join("cloud.db");
                (Some(dir), path)
            }
        };
        let site = LocalSite::open(&site_path)?;
        let read = store::Reader::open(&site_path)
            .map_err(|e| DoubleError::Start(format!("cannot read the site: {e}")))?;
        let tls = airlock_tls::test_certificates("Airlock cloud double")
            .map_err(|e| DoubleError::Start(e.to_string()))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .thread_name("cloud-double")
            .build()
            .map_err(|e| DoubleError::Start(e.to_string()))?;
        let listen = config
            .listen
            .unwrap_or_else(|| std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
        if !listen.ip().is_loopback() {
            return Err(DoubleError::Start(format!(
                "{listen} is not a loopback address: the double holds the migrated data and \
                 checks no password, so it listens on this machine only (127.0.0.1)"
            )));
        }
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(listen))
            .map_err(|e| DoubleError::Start(format!("cannot listen on {listen}: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| DoubleError::Start(e.to_string()))?
            .port();
        let url = format!("https://127.0.0.1:{port}");
        let shared = Arc::new(api::Shared::new(
            site,
            read,
            url.clone(),
            config.faults,
            config.limits,
        ));
        let (tx, rx) = tokio::sync::watch::channel(false);
        runtime.spawn(server::serve(listener, tls.server, shared.clone(), rx));
        tracing::info!(port, "the cloud double is listening");
        Ok(CloudDouble {
            url,
            ca_pem: tls.ca_pem,
            shared,
            runtime: Some(runtime),
            shutdown: Some(tx),
            _dir: dir,
            site_path,
        })
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The root certificate (PEM) the server's certificate chains to.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    pub fn stats(&self) -> Stats {
        self.shared.control().stats.clone()
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.control().log.clone()
    }

    /// When the double started: [`RequestRecord::at`] counts from it.
    pub fn started(&self) -> std::time::Instant {
        self.shared.started().into_std()
    }

    /// The site behind the double, for assertions and seeding. Requests wait while held.
    pub fn site(&self) -> MutexGuard<'_, LocalSite> {
        self.shared.site()
    }

    pub fn site_path(&self) -> &Path {
        &self.site_path
    }

    /// Changes the faults from now on (a test may start clean and then misbehave).
    pub fn set_faults(&self, faults: Faults) {
        self.shared.control().faults = faults;
    }

    /// Keeps Jira's limits from now on (`None`: none), with empty windows.
    pub fn set_limits(&self, limits: Option<JiraLimits>) {
        self.shared.set_limits(limits);
    }

    /// Every dashboard, with its share permissions, gadgets and their item properties.
    pub fn dashboards(&self) -> Vec<CloudDashboard> {
        self.shared.dashboards()
    }

    /// The largest attachment file the site takes from now on, in bytes (a site admin's
    /// setting on Jira Cloud; 1 GiB unless set).
    pub fn set_attachment_limit(&self, bytes: u64) {
        self.shared.control().attachment_limit = bytes;
    }
}

impl Drop for CloudDouble {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
        if let Some(rt) = self.runtime.take() {
            // Never blocks: safe even inside another runtime.
            rt.shutdown_background();
        }
    }
}

/// Locks a mutex, ignoring poisoning (a panicking handler must not stop the double).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
