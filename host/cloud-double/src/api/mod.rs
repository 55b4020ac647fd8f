//! The endpoints: REST calls in, `LocalSite` writes and reads of its tables, Jira-shaped
//! JSON out.

// Handlers answer with an HTTP response either way; boxing it would buy nothing here.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use airlock_model::jira::{
    Association, Attachment, Comment, Component, Constant, CustomField, CustomFieldOption,
    CustomFieldValue, EntityProperty, FieldValue, Filter, FilterShare, Group, Issue, IssueLink,
    IssueLinkType, IssueUser, IssueVersion, Kind, Label, Membership, Project, ProjectRole, Record,
    RemoteLink, Share, User, Version, Worklog,
};
use airlock_model::{AppKey, AppOutput, EntityKind};
use airlock_site::{ItemError, LocalSite, SOURCE_PROPERTY, Site, adf};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, Response, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::store::{Reader, Row};
use crate::{Faults, JiraLimits, RequestRecord, Stats, lock};

/// Jira Cloud's limits.
const BULK_ISSUES: usize = 50;
const MAX_PROPERTY_KEY: usize = 255;
const MAX_PROPERTY_VALUE: usize = 32_768;
/// Source keys the double makes up for records created without one.
const SYNTHETIC: &str = "~double/";
const APP_HEADER: &str = "X-Airlock-App";

pub(crate) struct Shared {
    site: Mutex<LocalSite>,
    reader: Mutex<Reader>,
    base: String,
    control: Mutex<Control>,
    started: Instant,
    synthetic: AtomicU64,
}

pub(crate) struct Control {
    pub faults: Faults,
    pub stats: Stats,
    pub log: Vec<RequestRecord>,
    /// Jira's rate limits, when the double keeps them.
    limiter: Option<limits::Limiter>,
    /// Client (credentials) → the `Retry-After` window it was last given.
    windows: HashMap<String, Window>,
    counter: u64,
    throttles: u64,
    /// The largest attachment file the site takes, in bytes (`/attachment/meta`).
    pub attachment_limit: u64,
}

/// The attachment size limit the double answers unless a test sets another: the client
/// reads it from `GET /rest/api/3/attachment/meta`, never assumes it.
pub(crate) const DEFAULT_ATTACHMENT_LIMIT: u64 = 1 << 30;

struct Window {
    opened: Instant,
    until: Instant,
}

/// What to do with a request before it reaches its handler.
pub(crate) enum Decision {
    /// The client is inside a window: 429 again. `early`: past the in-flight grace.
    Throttled {
        until: Instant,
        early: bool,
    },
    /// The dice opened a window: 429 or 503.
    Limit {
        status: StatusCode,
        until: Instant,
    },
    /// Past one of Jira's rate limits: 429 until the window has room.
    Limited {
        until: Instant,
    },
    /// 500 without applying.
    Error,
    Apply(After),
}

pub(crate) enum After {
    Nothing,
    Fail,
    Drop,
}

type Reply = Result<Response<Body>, Response<Body>>;
type S = State<std::sync::Arc<Shared>>;
type Q = Query<HashMap<String, String>>;

impl Shared {
    pub fn new(
        site: LocalSite,
        reader: Reader,
        base: String,
        faults: Faults,
        limits: Option<JiraLimits>,
    ) -> Shared {
        Shared {
            site: Mutex::new(site),
            reader: Mutex::new(reader),
            base,
            control: Mutex::new(Control {
                faults,
                stats: Stats::default(),
                log: Vec::new(),
                limiter: limits.map(limits::Limiter::new),
                windows: HashMap::new(),
                counter: 0,
                throttles: 0,
                attachment_limit: DEFAULT_ATTACHMENT_LIMIT,
            }),
            started: Instant::now(),
            synthetic: AtomicU64::new(1),
        }
    }

    pub fn site(&self) -> MutexGuard<'_, LocalSite> {
        lock(&self.site)
    }

    fn reader(&self) -> MutexGuard<'_, Reader> {
        lock(&self.reader)
    }

    pub fn control(&self) -> MutexGuard<'_, Control> {
        lock(&self.control)
    }

    fn synthetic_key(&self, what: &str) -> String {
        format!(
            "{SYNTHETIC}{what}/{}",
            self.synthetic.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// What happens to a request of `client` that arrived `at`: refused while the client
    /// is throttled, then past Jira's limits, then the dice.
    pub fn decide(&self, client: &str, seen: &Seen<'_>, at: Instant) -> Decision {
        let (endpoint, method, issue) = (seen.endpoint, seen.method, seen.issue);
        let write = method != "GET";
        let mut c = self.control();
        c.stats.requests += 1;
        *c.stats.per_endpoint.entry(endpoint.to_owned()).or_default() += 1;
        c.counter += 1;
        let grace = c.faults.in_flight_grace;
        if let Some(w) = c.windows.get(client)
            && at < w.until
        {
            let until = w.until;
            let early = at >= w.opened + grace;
            if early {
                c.stats.early_requests += 1;
            } else {
                c.stats.in_flight += 1;
            }
            c.stats.rate_limited += 1;
            return Decision::Throttled { until, early };
        }
        // The limits count arrivals in the order they are decided.
        let now = Instant::now();
        if let Some(limiter) = c.limiter.as_mut()
            && let Err(until) = limiter.admit(client, endpoint, method, issue, now)
        {
            c.windows
                .insert(client.to_owned(), Window { opened: at, until });
            c.stats.rate_limited += 1;
            c.stats.throttled_by_limits += 1;
            return Decision::Limited { until };
        }
        let f = c.faults.clone();
        let r = unit(f.seed, c.counter);
        let budget = f.max_throttles.is_none_or(|m| c.throttles < m);
        let (limited, unavailable) = if budget {
            (f.rate_limited, f.unavailable)
        } else {
            (0.0, 0.0)
        };
        let mut edge = limited;
        let status = if r < edge {
            Some(StatusCode::TOO_MANY_REQUESTS)
        } else {
            edge += unavailable;
            (r < edge).then_some(StatusCode::SERVICE_UNAVAILABLE)
        };
        if let Some(status) = status {
            let until = at + std::time::Duration::from_secs(f.retry_after_secs.max(1));
            c.windows
                .insert(client.to_owned(), Window { opened: at, until });
            c.throttles += 1;
            if status == StatusCode::TOO_MANY_REQUESTS {
                c.stats.rate_limited += 1;
            } else {
                c.stats.unavailable += 1;
            }
            return Decision::Limit { status, until };
        }
        edge += f.server_errors;
        if r < edge {
            c.stats.server_errors += 1;
            return Decision::Error;
        }
        if write {
            edge += f.fail_after_apply;
            if r < edge {
                return Decision::Apply(After::Fail);
            }
            edge += f.drop_after_apply;
            if r < edge {
                return Decision::Apply(After::Drop);
            }
        }
        Decision::Apply(After::Nothing)
    }

    pub fn applied_then(&self, dropped: bool) {
        let mut c = self.control();
        if dropped {
            c.stats.dropped_after_apply += 1;
        } else {
            c.stats.failed_after_apply += 1;
        }
    }

    pub fn record(&self, seen: &Seen<'_>, arrived: Instant, status: u16, how: How) {
        let mut c = self.control();
        if how.unauthenticated {
            c.stats.requests += 1;
            c.stats.unauthenticated += 1;
        }
        let at = arrived.saturating_duration_since(self.started);
        c.log.push(RequestRecord {
            at,
            endpoint: seen.endpoint.to_owned(),
            issue: seen.issue.map(str::to_owned),
            status,
            throttled: how.throttled,
            early: how.early,
            by_limits: how.by_limits,
        });
    }

    /// When the double started: [`RequestRecord::at`] counts from it.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Keeps Jira's limits from now on (`None`: no limits).
    pub fn set_limits(&self, limits: Option<JiraLimits>) {
        self.control().limiter = limits.map(limits::Limiter::new);
    }
}

/// A request as it arrived: what the limits and the record need.
pub(crate) struct Seen<'a> {
    /// `METHOD /path/{id}/template`.
    pub endpoint: &'a str,
    pub method: &'a str,
    /// The issue a write names in its path.
    pub issue: Option<&'a str>,
}

/// How a request was answered, beside its status.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct How {
    /// Received while its client was throttled…
    pub throttled: bool,
    /// … and past the in-flight grace.
    pub early: bool,
    /// Refused by Jira's rate limits.
    pub by_limits: bool,
    pub unauthenticated: bool,
}

/// A uniform number in [0, 1) from the seed and the request's number.
fn unit(seed: u64, n: u64) -> f64 {
    let mut z = seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

pub(crate) fn router(shared: std::sync::Arc<Shared>) -> Router {
    const A: &str = "/rest/api/3";
    const C: &str = "/rest/atlassian-connect/1/addons/{app}/properties";
    const G: &str = "/rest/agile/1.0";
    Router::new()
        .route(&format!("{A}/user"), post(create_user))
        .route(&format!("{A}/user/search"), get(search_user))
        .route(&format!("{A}/users/search"), get(list_users))
        .route(&format!("{A}/myself"), get(get_myself))
        .route(
            &format!("{A}/user/properties/{{key}}"),
            put(put_user_property).get(get_user_property),
        )
        .route(&format!("{A}/group"), post(create_group))
        .route(&format!("{A}/group/bulk"), get(list_groups))
        .route(&format!("{A}/group/user"), post(add_member))
        .route(&format!("{A}/group/member"), get(list_members))
        .route(
            &format!("{A}/issuetype"),
            get(list_issue_types).post(create_issue_type),
        )
        .route(&format!("{A}/statuses"), post(create_statuses))
        .route(&format!("{A}/statuses/search"), get(search_statuses))
        .route(&format!("{A}/priority"), post(create_priority))
        .route(&format!("{A}/priority/search"), get(search_priorities))
        .route(&format!("{A}/resolution"), post(create_resolution))
        .route(&format!("{A}/resolution/search"), get(search_resolutions))
        .route(
            &format!("{A}/issueLinkType"),
            get(list_link_types).post(create_link_type),
        )
        .route(&format!("{A}/role"), get(list_roles).post(create_role))
        .route(&format!("{A}/role/{{id}}"), get(get_role))
        .route(
            &format!("{A}/role/{{id}}/actors"),
            get(get_default_actors).post(add_default_actors),
        )
        .route(
            &format!("{A}/project/{{id}}/role/{{role}}"),
            get(get_project_role).post(add_project_role_actors),
        )
        .route(&format!("{A}/project"), post(create_project))
        .route(&format!("{A}/project/search"), get(search_projects))
        .route(
            &format!("{A}/project/{{id}}"),
            get(get_project).put(update_project),
        )
        .route(
            &format!("{A}/project/{{id}}/permissionscheme"),
            get(get_project_permission_scheme).put(assign_permission_scheme),
        )
        .route(
            &format!("{A}/projectCategory"),
            get(list_categories).post(create_category),
        )
        .route(&format!("{A}/projectCategory/{{id}}"), get(get_category))
        .route(
            &format!("{A}/permissionscheme"),
            get(list_permission_schemes).post(create_permission_scheme),
        )
        .route(
            &format!("{A}/permissionscheme/{{id}}"),
            get(get_permission_scheme),
        )
        .route(
            &format!("{A}/permissionscheme/{{id}}/permission"),
            get(list_grants).post(add_grant),
        )
        .route(
            &format!("{A}/notificationscheme"),
            get(list_notification_schemes).post(create_notification_scheme),
        )
        .route(
            &format!("{A}/notificationscheme/{{id}}"),
            get(get_notification_scheme),
        )
        .route(
            &format!("{A}/notificationscheme/{{id}}/notification"),
            put(add_notifications),
        )
        .route(
            &format!("{A}/project/{{id}}/notificationscheme"),
            get(get_project_notification_scheme),
        )
        .route(
            &format!("{A}/project/{{id}}/components"),
            get(project_components),
        )
        .route(
            &format!("{A}/project/{{id}}/versions"),
            get(project_versions),
        )
        .route(
            &format!("{A}/project/{{id}}/properties/{{key}}"),
            put(put_project_property).get(get_project_property),
        )
        .route(&format!("{A}/component"), post(create_component))
        .route(&format!("{A}/version"), post(create_version))
        .route(&format!("{A}/field"), post(create_field))
        .route(&format!("{A}/field/search"), get(search_fields))
        .route(
            &format!("{A}/field/{{id}}/context"),
            get(list_contexts).post(create_context),
        )
        .route(
            &format!("{A}/field/{{id}}/context/projectmapping"),
            get(context_projects),
        )
        .route(
            &format!("{A}/field/{{id}}/context/issuetypemapping"),
            get(context_issue_types),
        )
        .route(
            &format!("{A}/field/{{id}}/context/{{ctx}}"),
            put(update_context),
        )
        .route(
            &format!("{A}/field/{{id}}/context/{{ctx}}/issuetype"),
            put(add_context_issue_types),
        )
        .route(
            &format!("{A}/field/{{id}}/context/{{ctx}}/option"),
            get(list_options).post(create_options),
        )
        .route(&format!("{A}/issue/bulk"), post(create_issues))
        .route(
            &format!("{A}/issue/{{id}}"),
            get(get_issue).put(edit_issue).delete(delete_issue),
        )
        .route(
            &format!("{A}/issue/{{id}}/comment"),
            get(list_comments).post(create_comment),
        )
        .route(
            &format!("{A}/issue/{{id}}/worklog"),
            get(list_worklogs).post(create_worklog),
        )
        .route(
            &format!("{A}/issue/{{id}}/attachments"),
            // The handler keeps the site's own limit, read as the file arrives.
            post(create_attachments).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route(&format!("{A}/attachment/meta"), get(attachment_meta))
        .route(
            &format!("{A}/issue/{{id}}/remotelink"),
            get(list_remote_links).post(create_remote_link),
        )
        .route(
            &format!("{A}/issue/{{id}}/watchers"),
            get(list_watchers).post(add_watcher),
        )
        .route(
            &format!("{A}/issue/{{id}}/properties/{{key}}"),
            put(put_issue_property).get(get_issue_property),
        )
        .route(
            &format!("{A}/issue/{{id}}/worklog/{{wid}}/properties/{{key}}"),
            put(put_worklog_property),
        )
        .route(
            &format!("{A}/comment/{{id}}/properties/{{key}}"),
            put(put_comment_property),
        )
        .route(&format!("{A}/worklog/list"), post(list_worklogs_by_id))
        .route(&format!("{A}/attachment/{{id}}"), get(get_attachment))
        .route(&format!("{A}/issueLink"), post(create_link))
        .route(&format!("{A}/filter"), post(create_filter))
        .route(&format!("{A}/filter/search"), get(search_filters))
        .route(&format!("{A}/filter/{{id}}"), get(get_filter))
        .route(&format!("{A}/filter/{{id}}/owner"), put(set_filter_owner))
        .route(
            &format!("{A}/filter/{{id}}/permission"),
            get(list_shares).post(add_share),
        )
        .route(&format!("{A}/dashboard"), post(create_dashboard))
        .route(&format!("{A}/dashboard/search"), get(search_dashboards))
        .route(
            &format!("{A}/dashboard/bulk/edit"),
            put(bulk_edit_dashboards),
        )
        .route(
            &format!("{A}/dashboard/{{id}}"),
            get(get_dashboard).put(update_dashboard),
        )
        .route(
            &format!("{A}/dashboard/{{id}}/gadget"),
            get(list_gadgets).post(add_gadget),
        )
        .route(
            &format!("{A}/dashboard/{{id}}/items/{{item}}/properties/{{key}}"),
            put(put_item_property).get(get_item_property),
        )
        .route(
            &format!("{A}/screens"),
            get(list_screens).post(create_screen),
        )
        .route(
            &format!("{A}/screens/{{id}}/tabs"),
            get(list_screen_tabs).post(add_screen_tab),
        )
        .route(
            &format!("{A}/screens/{{id}}/tabs/{{tab}}"),
            put(rename_screen_tab),
        )
        .route(
            &format!("{A}/screens/{{id}}/tabs/{{tab}}/fields"),
            get(list_tab_fields).post(add_tab_field),
        )
        .route(
            &format!("{A}/screenscheme"),
            get(list_screen_schemes).post(create_screen_scheme),
        )
        .route(
            &format!("{A}/issuetypescreenscheme"),
            get(list_issue_type_screen_schemes).post(create_issue_type_screen_scheme),
        )
        .route(
            &format!("{A}/issuetypescreenscheme/mapping"),
            get(list_issue_type_screen_mappings),
        )
        .route(
            &format!("{A}/issuetypescreenscheme/project"),
            get(list_project_issue_type_screen_schemes).put(assign_issue_type_screen_scheme),
        )
        .route(
            &format!("{A}/fieldconfiguration"),
            get(list_field_configurations).post(create_field_configuration),
        )
        .route(
            &format!("{A}/fieldconfiguration/{{id}}/fields"),
            get(list_field_configuration_items).put(update_field_configuration_items),
        )
        .route(
            &format!("{A}/fieldconfigurationscheme"),
            get(list_field_configuration_schemes).post(create_field_configuration_scheme),
        )
        .route(
            &format!("{A}/fieldconfigurationscheme/mapping"),
            get(list_field_configuration_mappings),
        )
        .route(
            &format!("{A}/fieldconfigurationscheme/{{id}}/mapping"),
            put(update_field_configuration_mappings),
        )
        .route(
            &format!("{A}/fieldconfigurationscheme/project"),
            get(list_project_field_configuration_schemes).put(assign_field_configuration_scheme),
        )
        .route(
            &format!("{A}/issuetypescheme"),
            get(list_issue_type_schemes).post(create_issue_type_scheme),
        )
        .route(
            &format!("{A}/issuetypescheme/mapping"),
            get(list_issue_type_scheme_mappings),
        )
        .route(
            &format!("{A}/issuetypescheme/project"),
            get(list_project_issue_type_schemes).put(assign_issue_type_scheme),
        )
        .route(&format!("{A}/workflows"), post(read_workflows))
        .route(&format!("{A}/workflows/create"), post(create_workflows))
        .route(&format!("{A}/workflows/search"), get(search_workflows))
        .route(
            &format!("{A}/workflowscheme"),
            get(list_workflow_schemes).post(create_workflow_scheme),
        )
        .route(
            &format!("{A}/workflowscheme/project"),
            get(list_project_workflow_schemes).put(assign_workflow_scheme),
        )
        .route(
            &format!("{A}/workflowscheme/{{id}}"),
            get(get_workflow_scheme),
        )
        .route(
            &format!("{A}/issuesecurityschemes"),
            get(list_security_schemes).post(create_security_scheme),
        )
        .route(
            &format!("{A}/issuesecurityschemes/{{id}}"),
            get(get_security_scheme),
        )
        .route(
            &format!("{A}/issuesecurityschemes/{{id}}/level"),
            put(add_security_levels),
        )
        .route(
            &format!("{A}/issuesecurityschemes/level"),
            get(list_security_levels),
        )
        .route(
            &format!("{A}/issuesecurityschemes/level/member"),
            get(list_level_members),
        )
        .route(
            &format!("{A}/issuesecurityschemes/{{id}}/level/{{level}}/member"),
            put(add_level_members),
        )
        .route(
            &format!("{A}/issuesecurityschemes/project"),
            get(list_project_security_schemes).put(associate_security_scheme),
        )
        .route(&format!("{A}/task/{{id}}"), get(get_task))
        .route(&format!("{A}/search/jql"), post(search_jql))
        .route(&format!("{A}/search/approximate-count"), post(count_jql))
        .route(&format!("{G}/board"), get(list_boards).post(create_board))
        .route(&format!("{G}/board/{{id}}"), get(get_board))
        .route(
            &format!("{G}/board/{{id}}/properties"),
            get(list_board_properties),
        )
        .route(
            &format!("{G}/board/{{id}}/properties/{{key}}"),
            put(put_board_property).get(get_board_property),
        )
        .route(&format!("{G}/board/{{id}}/sprint"), get(list_board_sprints))
        .route(&format!("{G}/sprint"), post(create_sprint))
        .route(
            &format!("{G}/sprint/{{id}}"),
            get(get_sprint).post(update_sprint),
        )
        .route(&format!("{G}/sprint/{{id}}/issue"), post(move_to_sprint))
        .route(&format!("{G}/issue/rank"), put(rank_issues))
        .route(C, get(list_app_properties))
        .route(
            &format!("{C}/{{key}}"),
            put(put_app_property).get(get_app_property),
        )
        .fallback(async || error(StatusCode::NOT_FOUND, "No such endpoint."))
        .with_state(shared)
}

mod answers;
mod app_properties;
mod constants;
mod contexts;
mod dashboards;
mod entity_properties;
mod field_configurations;
mod fields;
mod issue_type_schemes;
mod issues;
mod jql;
mod limits;
mod notifications;
mod projects;
mod records;
mod roles;
mod schemes;
mod screens;
mod security;
mod sharing;
mod software;
mod users;
mod workflows;

pub(crate) use answers::error;
use answers::*;
use app_properties::*;
use constants::*;
use contexts::*;
use dashboards::*;
use entity_properties::*;
use field_configurations::*;
use fields::*;
use issue_type_schemes::*;
use issues::*;
use jql::*;
use notifications::*;
use projects::*;
use records::*;
use roles::*;
use schemes::*;
use screens::*;
use security::*;
use sharing::*;
use software::*;
use users::*;
use workflows::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jql_of_the_client_parses() {
        match parse_jql(r#"issue.property[airlock.source].key in ("a", "b\"c") ORDER BY id ASC"#) {
            Ok(Jql::SourceIn(v)) => assert_eq!(v, vec!["a".to_owned(), "b\"c".to_owned()]),
            _ => panic!("not parsed"),
        }
        assert!(matches!(
            parse_jql("issue.property[airlock.source].key is not EMPTY"),
            Ok(Jql::SourceAny)
        ));
        assert!(matches!(
            parse_jql("issue.property[airlock.history].parts is not EMPTY"),
            Ok(Jql::PropertyAny {
                key: "airlock.history",
                field: "parts"
            })
        ));
        assert!(matches!(
            parse_jql("issue.property[airlock.rank].rank is not EMPTY"),
            Ok(Jql::PropertyAny {
                key: "airlock.rank",
                field: "rank"
            })
        ));
        assert!(parse_jql("issue.property[airlock.history].parts = 1").is_err());
        assert!(parse_jql("issue.property[airlock.votes].voters is not EMPTY").is_err());
        assert!(matches!(
            parse_jql("issue.property[airlock.placeholder].project is not EMPTY"),
            Ok(Jql::PropertyAny {
                key: "airlock.placeholder",
                field: "project"
            })
        ));
        assert!(
            matches!(parse_jql("project = 10000 ORDER BY key DESC"), Ok(Jql::Project(p)) if p == "10000")
        );
        assert!(parse_jql("project = X").is_err());
        assert!(parse_jql("project = X ORDER BY created").is_err());
    }

    #[test]
    fn basic_credentials_decode() {
        assert_eq!(base64_decode("Zm9vYmFy").unwrap(), b"foobar");
        assert_eq!(base64_decode("Zm9vYg==").unwrap(), b"foob");
        assert_eq!(base64_decode("Zm9vYg").unwrap(), b"foob");
        assert!(base64_decode("Zm9v*").is_none());
        let mut headers = HeaderMap::new();
        // "me@example.com:tok:en"
        headers.insert(
            axum::http::header::AUTHORIZATION,
            "Basic bWVAZXhhbXBsZS5jb206dG9rOmVu".parse().unwrap(),
        );
        assert_eq!(caller_email(&headers).as_deref(), Some("me@example.com"));
    }

    #[test]
    fn dates_parse_both_forms() {
        assert_eq!(parse_date("1970-01-02"), Some(86_400_000));
        assert_eq!(
            parse_date("2014-09-02T17:42:48.053+0000"),
            Some(1_409_679_768_053)
        );
        assert_eq!(
            parse_date("2014-09-02T19:42:48.053+0200"),
            Some(1_409_679_768_053)
        );
        assert_eq!(parse_duration("1h 30m"), Some(5400));
    }
}
