//! The endpoints: REST calls in, `LocalSite` writes and reads of its tables, Jira-shaped
//! JSON out.

// Handlers answer with an HTTP response either way; boxing it would buy nothing here.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use airlock_model::jira::{
    Association, Attachment, Comment, Component, Constant, CustomField, CustomFieldOption,
    CustomFieldValue, EntityProperty, FieldValue, Group, Issue, IssueLink, IssueLinkType,
    IssueVersion, Kind, Label, Membership, Project, Record, User, Version, Worklog,
};
use airlock_model::{AppKey, AppOutput, EntityKind};
use airlock_target::{ItemError, LocalSite, SOURCE_PROPERTY, Target, adf};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, Response, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::store::{Reader, Row};
use crate::{Faults, RequestRecord, Stats, lock};

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
    /// Client (credentials) → the `Retry-After` window it was last given.
    windows: HashMap<String, Window>,
    counter: u64,
    throttles: u64,
}

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
    pub fn new(site: LocalSite, reader: Reader, base: String, faults: Faults) -> Shared {
        Shared {
            site: Mutex::new(site),
            reader: Mutex::new(reader),
            base,
            control: Mutex::new(Control {
                faults,
                stats: Stats::default(),
                log: Vec::new(),
                windows: HashMap::new(),
                counter: 0,
                throttles: 0,
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

    pub fn decide(&self, client: &str, endpoint: &str, write: bool, at: Instant) -> Decision {
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

    pub fn record(
        &self,
        endpoint: &str,
        arrived: Instant,
        status: u16,
        throttled: bool,
        early: bool,
        unauthenticated: bool,
    ) {
        let mut c = self.control();
        if unauthenticated {
            c.stats.requests += 1;
            c.stats.unauthenticated += 1;
        }
        let at = arrived.saturating_duration_since(self.started);
        c.log.push(RequestRecord {
            at,
            endpoint: endpoint.to_owned(),
            status,
            throttled,
            early,
        });
    }
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
    Router::new()
        .route(&format!("{A}/user"), post(create_user))
        .route(&format!("{A}/user/search"), get(search_user))
        .route(&format!("{A}/users/search"), get(list_users))
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
        .route(&format!("{A}/project"), post(create_project))
        .route(&format!("{A}/project/search"), get(search_projects))
        .route(&format!("{A}/project/{{id}}"), get(get_project))
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
        .route(&format!("{A}/field/{{id}}/context"), get(field_contexts))
        .route(
            &format!("{A}/field/{{id}}/context/{{ctx}}/option"),
            get(list_options).post(create_options),
        )
        .route(&format!("{A}/issue/bulk"), post(create_issues))
        .route(&format!("{A}/issue/{{id}}"), get(get_issue).put(edit_issue))
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
            post(create_attachments),
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
        .route(&format!("{A}/search/jql"), post(search_jql))
        .route(&format!("{A}/search/approximate-count"), post(count_jql))
        .route(C, get(list_app_properties))
        .route(
            &format!("{C}/{{key}}"),
            put(put_app_property).get(get_app_property),
        )
        .fallback(async || error(StatusCode::NOT_FOUND, "No such endpoint."))
        .with_state(shared)
}

// --- Answers. ---

fn json(status: StatusCode, v: Value) -> Response<Body> {
    (status, axum::Json(v)).into_response()
}

/// Jira's error body.
fn jira(status: StatusCode, messages: &[&str], errors: &[(&str, &str)]) -> Response<Body> {
    let errors: serde_json::Map<String, Value> = errors
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    json(
        status,
        json!({ "errorMessages": messages, "errors": errors }),
    )
}

pub(crate) fn error(status: StatusCode, message: &str) -> Response<Body> {
    jira(status, &[message], &[])
}

fn bad(field: &str, message: &str) -> Response<Body> {
    jira(StatusCode::BAD_REQUEST, &[], &[(field, message)])
}

fn not_found(what: &str) -> Response<Body> {
    error(StatusCode::NOT_FOUND, what)
}

fn refused(field: &str, e: &ItemError) -> Response<Body> {
    jira(StatusCode::BAD_REQUEST, &[], &[(field, &e.message)])
}

fn parse(body: &Bytes) -> Result<Value, Response<Body>> {
    serde_json::from_slice(body).map_err(|_| {
        error(
            StatusCode::BAD_REQUEST,
            "The request body is not valid JSON.",
        )
    })
}

fn text<'v>(v: &'v Value, pointer: &str) -> Option<&'v str> {
    v.pointer(pointer).and_then(Value::as_str)
}

/// A string or number at `pointer`, as text.
fn id_of(v: &Value, pointer: &str) -> Option<String> {
    match v.pointer(pointer)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn s(row: &Row, col: &str) -> String {
    match row.get(col) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn opt(row: &Row, col: &str) -> Option<String> {
    match row.get(col) {
        Some(Value::Null) | None => None,
        _ => Some(s(row, col)),
    }
}

fn int(row: &Row, col: &str) -> Option<i64> {
    row.get(col).and_then(Value::as_i64)
}

/// Writes one record to the site; a site failure is a 500.
fn put_record(
    site: &mut LocalSite,
    record: Record,
) -> Result<Result<String, ItemError>, Response<Body>> {
    let kind = record.kind();
    match site.write(kind, std::slice::from_ref(&record)) {
        Ok(mut answers) => Ok(answers.pop().unwrap_or_else(|| {
            Err(ItemError {
                code: "rejected",
                message: "no answer".into(),
            })
        })),
        Err(e) => {
            tracing::error!(%kind, "the double's site failed: {e}");
            Err(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal server error",
            ))
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn datetime(ms: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

fn iso(ms: i64) -> String {
    let t = datetime(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}+0000",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

fn day(ms: i64) -> String {
    let t = datetime(ms);
    format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
}

/// `2021-01-17`, or `2021-01-17T12:34:56.789+0000` (also `Z` and `+00:00` offsets).
fn parse_date(s: &str) -> Option<i64> {
    let num = |t: &str| t.parse::<i64>().ok();
    let (date, rest) = s.split_at(s.len().min(10));
    let mut parts = date.split('-');
    let (y, m, d) = (
        num(parts.next()?)?,
        num(parts.next()?)?,
        num(parts.next()?)?,
    );
    let month = time::Month::try_from(u8::try_from(m).ok()?).ok()?;
    let date = time::Date::from_calendar_date(i32::try_from(y).ok()?, month, u8::try_from(d).ok()?)
        .ok()?;
    let mut ms = (date.midnight().assume_utc().unix_timestamp()) * 1000;
    if let Some(t) = rest.strip_prefix('T') {
        let (clock, offset) = match t.find(['+', '-', 'Z']) {
            Some(i) => t.split_at(i),
            None => (t, ""),
        };
        let mut hms = clock.split(':');
        let h = num(hms.next()?)?;
        let mi = num(hms.next().unwrap_or("0"))?;
        let sec: f64 = hms.next().unwrap_or("0").parse().ok()?;
        ms += h * 3_600_000 + mi * 60_000 + (sec * 1000.0).round() as i64;
        let offset = offset.trim_start_matches('Z').replace(':', "");
        if offset.len() == 5 {
            let sign = if offset.starts_with('-') { -1 } else { 1 };
            let oh = num(&offset[1..3])?;
            let om = num(&offset[3..5])?;
            ms -= sign * (oh * 3_600_000 + om * 60_000);
        }
    } else if !rest.is_empty() {
        return None;
    }
    Some(ms)
}

/// Jira durations (`1w 2d 3h 4m`, 5-day weeks of 8-hour days) in seconds.
fn parse_duration(s: &str) -> Option<i64> {
    let mut total = 0;
    for token in s.split_whitespace() {
        let (n, unit) = token.split_at(token.len().checked_sub(1)?);
        let n: i64 = n.parse().ok()?;
        total += n * match unit {
            "w" => 5 * 8 * 3600,
            "d" => 8 * 3600,
            "h" => 3600,
            "m" => 60,
            "s" => 1,
            _ => return None,
        };
    }
    Some(total)
}

fn page(q: &HashMap<String, String>, max: usize) -> (usize, usize) {
    let start = q.get("startAt").and_then(|v| v.parse().ok()).unwrap_or(0);
    let size = q
        .get("maxResults")
        .and_then(|v| v.parse().ok())
        .unwrap_or(50)
        .clamp(1, max);
    (start, size)
}

/// Jira's `PageBean`.
fn page_bean(items: Vec<Value>, q: &HashMap<String, String>) -> Value {
    let (start, size) = page(q, 100);
    let total = items.len();
    let values: Vec<Value> = items.into_iter().skip(start).take(size).collect();
    json!({
        "startAt": start,
        "maxResults": size,
        "total": total,
        "isLast": start + values.len() >= total,
        "values": values,
    })
}

fn slice(items: Vec<Value>, q: &HashMap<String, String>, max: usize) -> Vec<Value> {
    let (start, size) = page(q, max);
    items.into_iter().skip(start).take(size).collect()
}

// --- Users and groups. ---

fn user_json(base: &str, row: &Row) -> Value {
    let mut u = json!({
        "self": format!("{base}/rest/api/3/user?accountId={}", s(row, "account_id")),
        "accountId": s(row, "account_id"),
        "accountType": "atlassian",
        "displayName": s(row, "display_name"),
        "active": int(row, "active") == Some(1),
    });
    if let Some(email) = opt(row, "email").filter(|e| !e.is_empty()) {
        u["emailAddress"] = json!(email);
    }
    u
}

async fn create_user(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let email = text(&v, "/emailAddress")
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .ok_or_else(|| bad("emailAddress", "Email address is required."))?
        .to_owned();
    if !email.contains('@') {
        return Err(bad("emailAddress", "Email address is not valid."));
    }
    let display = text(&v, "/displayName")
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| email.split('@').next().unwrap_or(&email))
        .to_owned();
    let mut site = st.site();
    let r = st.reader();
    if r.exists(
        "SELECT 1 FROM users WHERE lower(email) = lower(?1)",
        &[&email],
    ) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "A user with that email address already exists.",
        ));
    }
    let record = Record::User(User {
        key: email.to_lowercase(),
        user_name: email.to_lowercase(),
        display_name: display,
        email: email.clone(),
        active: true,
        directory: "cloud".into(),
    });
    let id = put_record(&mut site, record)?.map_err(|e| refused("emailAddress", &e))?;
    let row = r
        .row("SELECT * FROM users WHERE account_id = ?1", &[&id])
        .unwrap_or_default();
    Ok(json(StatusCode::CREATED, user_json(&st.base, &row)))
}

async fn search_user(State(st): S, q: Q) -> Reply {
    let query = q.get("query").cloned().unwrap_or_default().to_lowercase();
    let r = st.reader();
    let users: Vec<Value> = r
        .rows("SELECT * FROM users ORDER BY seq", &[])
        .iter()
        .filter(|u| {
            query.is_empty()
                || s(u, "email").to_lowercase().contains(&query)
                || s(u, "display_name").to_lowercase().contains(&query)
        })
        .map(|u| user_json(&st.base, u))
        .collect();
    Ok(json(StatusCode::OK, Value::Array(slice(users, &q, 1000))))
}

async fn list_users(State(st): S, q: Q) -> Reply {
    let r = st.reader();
    let users: Vec<Value> = r
        .rows("SELECT * FROM users ORDER BY seq", &[])
        .iter()
        .map(|u| user_json(&st.base, u))
        .collect();
    Ok(json(StatusCode::OK, Value::Array(slice(users, &q, 1000))))
}

fn group_json(row: &Row) -> Value {
    json!({ "name": s(row, "name"), "groupId": s(row, "id") })
}

async fn create_group(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let name = text(&v, "/name")
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| bad("name", "You must specify a group name."))?
        .to_owned();
    let mut site = st.site();
    let record = Record::Group(Group {
        name: name.clone(),
        active: true,
    });
    put_record(&mut site, record)?.map_err(|e| refused("name", &e))?;
    let r = st.reader();
    let row = r
        .row("SELECT * FROM groups WHERE name = ?1", &[&name])
        .unwrap_or_default();
    Ok(json(StatusCode::CREATED, group_json(&row)))
}

async fn list_groups(State(st): S, q: Q) -> Reply {
    let r = st.reader();
    let name = q.get("groupName").map(|n| n.to_lowercase());
    let groups: Vec<Value> = r
        .rows("SELECT * FROM groups ORDER BY id", &[])
        .iter()
        .filter(|g| {
            name.as_ref()
                .is_none_or(|n| s(g, "name").to_lowercase() == *n)
        })
        .map(group_json)
        .collect();
    Ok(json(StatusCode::OK, page_bean(groups, &q)))
}

fn find_group(r: &Reader, q: &HashMap<String, String>) -> Option<Row> {
    if let Some(name) = q.get("groupname") {
        r.row(
            "SELECT * FROM groups WHERE name = ?1 COLLATE NOCASE",
            &[name],
        )
    } else {
        let id: i64 = q.get("groupId")?.parse().ok()?;
        r.row("SELECT * FROM groups WHERE id = ?1", &[&id])
    }
}

async fn add_member(State(st): S, q: Q, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let account = text(&v, "/accountId")
        .ok_or_else(|| bad("accountId", "You must specify an account id."))?
        .to_owned();
    let mut site = st.site();
    let r = st.reader();
    let group = find_group(&r, &q).ok_or_else(|| not_found("Specified group does not exist."))?;
    if !r.user_exists(&account) {
        return Err(bad("accountId", "The user does not exist."));
    }
    let gid = int(&group, "id").unwrap_or(0);
    if r.exists(
        "SELECT 1 FROM group_members WHERE group_id = ?1 AND account_id = ?2",
        &[&gid, &account],
    ) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "Cannot add user. User is already a member of this group.",
        ));
    }
    let name = s(&group, "name");
    let record = Record::Membership(Membership {
        id: format!("{name}/{account}"),
        group: name,
        user_name: account,
    });
    put_record(&mut site, record)?.map_err(|e| refused("accountId", &e))?;
    Ok(json(StatusCode::CREATED, group_json(&group)))
}

async fn list_members(State(st): S, q: Q) -> Reply {
    let r = st.reader();
    let group = find_group(&r, &q).ok_or_else(|| not_found("Specified group does not exist."))?;
    let gid = int(&group, "id").unwrap_or(0);
    let members: Vec<Value> = r
        .rows(
            "SELECT u.* FROM group_members m JOIN users u ON u.account_id = m.account_id
             WHERE m.group_id = ?1 ORDER BY m.id",
            &[&gid],
        )
        .iter()
        .map(|u| user_json(&st.base, u))
        .collect();
    Ok(json(StatusCode::OK, page_bean(members, &q)))
}

// --- Named constants. ---

fn constant(v: &Value, detail: &str, what: &str) -> Result<Constant, Response<Body>> {
    let name = text(v, "/name")
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| bad("name", &format!("The {what} name must not be empty.")))?;
    Ok(Constant {
        id: name.to_lowercase(),
        name: name.to_owned(),
        description: text(v, "/description").unwrap_or("").to_owned(),
        detail: detail.to_owned(),
    })
}

fn issue_type_json(row: &Row) -> Value {
    let subtask = int(row, "subtask") == Some(1);
    json!({
        "id": s(row, "id"),
        "name": s(row, "name"),
        "description": s(row, "description"),
        "subtask": subtask,
        "hierarchyLevel": if subtask { -1 } else { 0 },
    })
}

async fn list_issue_types(State(st): S) -> Reply {
    let r = st.reader();
    let types: Vec<Value> = r
        .rows("SELECT * FROM issue_types ORDER BY id", &[])
        .iter()
        .map(issue_type_json)
        .collect();
    Ok(json(StatusCode::OK, Value::Array(types)))
}

async fn create_issue_type(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let subtask = text(&v, "/type") == Some("subtask")
        || v.get("hierarchyLevel").and_then(Value::as_i64) == Some(-1);
    let c = constant(&v, if subtask { "jira_subtask" } else { "" }, "issue type")?;
    let mut site = st.site();
    let id = put_record(&mut site, Record::IssueType(c))?.map_err(|e| {
        if e.code == "duplicate-key" {
            error(
                StatusCode::CONFLICT,
                "An issue type with this name already exists.",
            )
        } else {
            refused("name", &e)
        }
    })?;
    let r = st.reader();
    let row = r
        .row("SELECT * FROM issue_types WHERE id = ?1", &[&id])
        .unwrap_or_default();
    Ok(json(StatusCode::CREATED, issue_type_json(&row)))
}

fn category(key: &str) -> (&'static str, &'static str) {
    match key {
        "done" | "3" => ("done", "DONE"),
        "indeterminate" | "4" => ("indeterminate", "IN_PROGRESS"),
        _ => ("new", "TODO"),
    }
}

fn status_json(row: &Row) -> Value {
    json!({
        "id": s(row, "id"),
        "name": s(row, "name"),
        "description": s(row, "description"),
        "statusCategory": category(&s(row, "category")).1,
        "scope": { "type": "GLOBAL" },
    })
}

async fn create_statuses(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let list = v
        .get("statuses")
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| bad("statuses", "At least one status is required."))?;
    let mut records = Vec::with_capacity(list.len());
    for item in list {
        let cat = match text(item, "/statusCategory") {
            Some("DONE") => "done",
            Some("IN_PROGRESS") => "indeterminate",
            Some("TODO") => "new",
            _ => {
                return Err(bad(
                    "statusCategory",
                    "A valid status category is required.",
                ));
            }
        };
        records.push(Record::Status(constant(item, cat, "status")?));
    }
    let mut site = st.site();
    let mut created = Vec::new();
    for record in records {
        let id = put_record(&mut site, record)?.map_err(|e| refused("name", &e))?;
        created.push(id);
    }
    let r = st.reader();
    let out: Vec<Value> = created
        .iter()
        .filter_map(|id| r.row("SELECT * FROM statuses WHERE id = ?1", &[id]))
        .map(|row| status_json(&row))
        .collect();
    Ok(json(StatusCode::OK, Value::Array(out)))
}

async fn search_statuses(State(st): S, q: Q) -> Reply {
    let r = st.reader();
    let needle = q.get("searchString").map(|n| n.to_lowercase());
    let list: Vec<Value> = r
        .rows("SELECT * FROM statuses ORDER BY id", &[])
        .iter()
        .filter(|row| {
            needle
                .as_ref()
                .is_none_or(|n| s(row, "name").to_lowercase().contains(n))
        })
        .map(status_json)
        .collect();
    Ok(json(StatusCode::OK, page_bean(list, &q)))
}

fn named_json(row: &Row) -> Value {
    json!({ "id": s(row, "id"), "name": s(row, "name"), "description": s(row, "description") })
}

async fn create_priority(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let c = constant(&v, "", "priority")?;
    if text(&v, "/statusColor").is_none_or(|c| !c.starts_with('#')) {
        return Err(bad("statusColor", "The status color is required."));
    }
    let mut site = st.site();
    let id = put_record(&mut site, Record::Priority(c))?.map_err(|e| refused("name", &e))?;
    Ok(json(StatusCode::CREATED, json!({ "id": id })))
}

async fn search_priorities(State(st): S, q: Q) -> Reply {
    let r = st.reader();
    let name = q.get("priorityName").map(|n| n.to_lowercase());
    let list: Vec<Value> = r
        .rows("SELECT * FROM priorities ORDER BY id", &[])
        .iter()
        .filter(|row| {
            name.as_ref()
                .is_none_or(|n| s(row, "name").to_lowercase().contains(n))
        })
        .map(named_json)
        .collect();
    Ok(json(StatusCode::OK, page_bean(list, &q)))
}

async fn create_resolution(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let c = constant(&v, "", "resolution")?;
    let mut site = st.site();
    let id = put_record(&mut site, Record::Resolution(c))?.map_err(|e| refused("name", &e))?;
    Ok(json(StatusCode::CREATED, json!({ "id": id })))
}

async fn search_resolutions(State(st): S, q: Q) -> Reply {
    let r = st.reader();
    let list: Vec<Value> = r
        .rows("SELECT * FROM resolutions ORDER BY id", &[])
        .iter()
        .map(named_json)
        .collect();
    Ok(json(StatusCode::OK, page_bean(list, &q)))
}

fn link_type_json(base: &str, row: &Row) -> Value {
    json!({
        "id": s(row, "id"),
        "name": s(row, "name"),
        "inward": s(row, "inward"),
        "outward": s(row, "outward"),
        "self": format!("{base}/rest/api/3/issueLinkType/{}", s(row, "id")),
    })
}

async fn list_link_types(State(st): S) -> Reply {
    let r = st.reader();
    let list: Vec<Value> = r
        .rows("SELECT * FROM issue_link_types ORDER BY id", &[])
        .iter()
        .map(|row| link_type_json(&st.base, row))
        .collect();
    Ok(json(StatusCode::OK, json!({ "issueLinkTypes": list })))
}

async fn create_link_type(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let name = text(&v, "/name").unwrap_or("");
    let record = Record::IssueLinkType(IssueLinkType {
        id: name.to_lowercase(),
        name: name.to_owned(),
        inward: text(&v, "/inward").unwrap_or("").to_owned(),
        outward: text(&v, "/outward").unwrap_or("").to_owned(),
    });
    let mut site = st.site();
    let id = put_record(&mut site, record)?.map_err(|e| refused("name", &e))?;
    let r = st.reader();
    let row = r
        .row("SELECT * FROM issue_link_types WHERE id = ?1", &[&id])
        .unwrap_or_default();
    Ok(json(StatusCode::CREATED, link_type_json(&st.base, &row)))
}

// --- Projects, components, versions. ---

fn project_json(base: &str, row: &Row) -> Value {
    json!({
        "self": format!("{base}/rest/api/3/project/{}", s(row, "id")),
        "id": s(row, "id"),
        "key": s(row, "key"),
        "name": s(row, "name"),
        "description": s(row, "description"),
        "projectTypeKey": s(row, "project_type"),
        "lead": { "accountId": s(row, "lead_account_id") },
    })
}

async fn create_project(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let key = text(&v, "/key").unwrap_or("").to_owned();
    let name = text(&v, "/name").unwrap_or("").to_owned();
    if key.is_empty() {
        return Err(bad("projectKey", "You must specify a valid project key."));
    }
    if name.trim().is_empty() {
        return Err(bad("projectName", "You must specify a valid project name."));
    }
    let project_type = text(&v, "/projectTypeKey")
        .ok_or_else(|| bad("projectTypeKey", "A project type is required."))?
        .to_owned();
    let lead = text(&v, "/leadAccountId")
        .filter(|l| !l.is_empty())
        .ok_or_else(|| bad("projectLead", "You must specify a valid project lead."))?
        .to_owned();
    let mut site = st.site();
    let r = st.reader();
    if !r.user_exists(&lead) {
        return Err(bad("projectLead", "You must specify a valid project lead."));
    }
    if r.exists("SELECT 1 FROM projects WHERE key = ?1", &[&key]) {
        return Err(bad(
            "projectKey",
            "Project key is already used by another project.",
        ));
    }
    let record = Record::Project(Project {
        id: key.clone(),
        key: key.clone(),
        name,
        lead,
        description: text(&v, "/description").unwrap_or("").to_owned(),
        project_type,
        counter: 0,
    });
    let id = put_record(&mut site, record)?.map_err(|e| refused("projectKey", &e))?;
    let id: i64 = id.parse().unwrap_or(0);
    Ok(json(
        StatusCode::CREATED,
        json!({ "self": format!("{}/rest/api/3/project/{id}", st.base), "id": id, "key": key }),
    ))
}

async fn search_projects(State(st): S, q: Q) -> Reply {
    let r = st.reader();
    let list: Vec<Value> = r
        .rows("SELECT * FROM projects ORDER BY id", &[])
        .iter()
        .map(|p| project_json(&st.base, p))
        .collect();
    Ok(json(StatusCode::OK, page_bean(list, &q)))
}

async fn get_project(State(st): S, Path(id): Path<String>) -> Reply {
    let r = st.reader();
    let id = r
        .project_id(&id)
        .ok_or_else(|| not_found("No project could be found with this key or id."))?;
    let row = r
        .row("SELECT * FROM projects WHERE id = ?1", &[&id])
        .unwrap_or_default();
    Ok(json(StatusCode::OK, project_json(&st.base, &row)))
}

fn component_json(row: &Row) -> Value {
    json!({
        "id": s(row, "id"),
        "name": s(row, "name"),
        "description": s(row, "description"),
        "projectId": int(row, "project_id"),
        "leadAccountId": opt(row, "lead_account_id"),
    })
}

fn version_json(row: &Row) -> Value {
    json!({
        "id": s(row, "id"),
        "name": s(row, "name"),
        "description": s(row, "description"),
        "projectId": int(row, "project_id"),
        "released": int(row, "released") == Some(1),
        "archived": int(row, "archived") == Some(1),
        "releaseDate": int(row, "release_date").map(day),
    })
}

async fn project_components(State(st): S, Path(id): Path<String>) -> Reply {
    let r = st.reader();
    let id = r
        .project_id(&id)
        .ok_or_else(|| not_found("No project could be found with this key or id."))?;
    let list: Vec<Value> = r
        .rows(
            "SELECT * FROM components WHERE project_id = ?1 ORDER BY id",
            &[&id],
        )
        .iter()
        .map(component_json)
        .collect();
    Ok(json(StatusCode::OK, Value::Array(list)))
}

async fn project_versions(State(st): S, Path(id): Path<String>) -> Reply {
    let r = st.reader();
    let id = r
        .project_id(&id)
        .ok_or_else(|| not_found("No project could be found with this key or id."))?;
    let list: Vec<Value> = r
        .rows(
            "SELECT * FROM versions WHERE project_id = ?1 ORDER BY id",
            &[&id],
        )
        .iter()
        .map(version_json)
        .collect();
    Ok(json(StatusCode::OK, Value::Array(list)))
}

/// The project a component or version names (`projectId`, or `project` as key or id).
fn body_project(r: &Reader, v: &Value) -> Result<i64, Response<Body>> {
    let named = id_of(v, "/projectId").or_else(|| id_of(v, "/project"));
    named
        .and_then(|p| r.project_id(&p))
        .ok_or_else(|| bad("project", "The project is not valid."))
}

async fn create_component(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let mut site = st.site();
    let r = st.reader();
    let project = body_project(&r, &v)?;
    let name = text(&v, "/name").unwrap_or("").to_owned();
    if name.trim().is_empty() {
        return Err(bad("name", "The component name must not be empty."));
    }
    let lead = text(&v, "/leadAccountId").unwrap_or("").to_owned();
    if !lead.is_empty() && !r.user_exists(&lead) {
        return Err(bad("leadAccountId", "The user does not exist."));
    }
    let record = Record::Component(Component {
        id: format!("{project}/{}", name.to_lowercase()),
        project: project.to_string(),
        name,
        description: text(&v, "/description").unwrap_or("").to_owned(),
        lead,
    });
    let id = put_record(&mut site, record)?.map_err(|e| refused("name", &e))?;
    let id: i64 = id.parse().unwrap_or(0);
    let row = r
        .row("SELECT * FROM components WHERE id = ?1", &[&id])
        .unwrap_or_default();
    Ok(json(StatusCode::CREATED, component_json(&row)))
}

async fn create_version(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let mut site = st.site();
    let r = st.reader();
    let project = body_project(&r, &v)?;
    let name = text(&v, "/name").unwrap_or("").to_owned();
    if name.trim().is_empty() {
        return Err(bad("name", "The version name must not be empty."));
    }
    let release_date = match text(&v, "/releaseDate") {
        Some(d) => Some(parse_date(d).ok_or_else(|| bad("releaseDate", "The date is not valid."))?),
        None => None,
    };
    let record = Record::Version(Version {
        id: format!("{project}/{}", name.to_lowercase()),
        project: project.to_string(),
        name,
        description: text(&v, "/description").unwrap_or("").to_owned(),
        released: v.get("released").and_then(Value::as_bool).unwrap_or(false),
        archived: v.get("archived").and_then(Value::as_bool).unwrap_or(false),
        release_date,
    });
    let id = put_record(&mut site, record)?.map_err(|e| refused("name", &e))?;
    let id: i64 = id.parse().unwrap_or(0);
    let row = r
        .row("SELECT * FROM versions WHERE id = ?1", &[&id])
        .unwrap_or_default();
    Ok(json(StatusCode::CREATED, version_json(&row)))
}

// --- Custom fields and options. ---

fn field_json(row: &Row) -> Value {
    json!({
        "id": format!("customfield_{}", s(row, "id")),
        "name": s(row, "name"),
        "custom": true,
        "description": s(row, "description"),
        "schema": { "type": "any", "custom": s(row, "type_key"), "customId": int(row, "id") },
    })
}

async fn create_field(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let name = text(&v, "/name").unwrap_or("").to_owned();
    let type_key = text(&v, "/type").unwrap_or("").to_owned();
    if name.trim().is_empty() {
        return Err(bad("name", "The custom field name is required."));
    }
    if !type_key.contains(':') {
        return Err(bad("type", "The custom field type is required."));
    }
    let mut site = st.site();
    // Cloud allows two fields of one name: the double keeps the natural key as source
    // key, so a field created twice shows as a duplicate.
    let record = Record::CustomField(CustomField {
        id: format!("{}|{type_key}", name.to_lowercase()),
        name,
        type_key,
        description: text(&v, "/description").unwrap_or("").to_owned(),
    });
    let id = put_record(&mut site, record)?.map_err(|e| refused("name", &e))?;
    let r = st.reader();
    let n = r.field_id(&id).unwrap_or(0);
    let row = r
        .row("SELECT * FROM fields WHERE id = ?1", &[&n])
        .unwrap_or_default();
    Ok(json(StatusCode::CREATED, field_json(&row)))
}

async fn search_fields(State(st): S, q: Q) -> Reply {
    let r = st.reader();
    let query = q.get("query").map(|n| n.to_lowercase());
    let list: Vec<Value> = r
        .rows("SELECT * FROM fields ORDER BY id", &[])
        .iter()
        .filter(|row| {
            query
                .as_ref()
                .is_none_or(|n| s(row, "name").to_lowercase().contains(n))
        })
        .map(field_json)
        .collect();
    Ok(json(StatusCode::OK, page_bean(list, &q)))
}

/// Every field has one global context, numbered like the field.
async fn field_contexts(State(st): S, Path(field): Path<String>, q: Q) -> Reply {
    let r = st.reader();
    let n = r
        .field_id(&field)
        .ok_or_else(|| not_found("The custom field was not found."))?;
    let contexts = vec![json!({
        "id": n.to_string(),
        "name": "Default Configuration Scheme",
        "isGlobalContext": true,
        "isAnyIssueType": true,
    })];
    Ok(json(StatusCode::OK, page_bean(contexts, &q)))
}

fn option_json(row: &Row) -> Value {
    let mut o = json!({
        "id": s(row, "id"),
        "value": s(row, "value"),
        "disabled": int(row, "disabled") == Some(1),
    });
    if let Some(p) = opt(row, "parent_id") {
        o["optionId"] = json!(p);
    }
    o
}

fn context_field(r: &Reader, field: &str, ctx: &str) -> Result<i64, Response<Body>> {
    let n = r
        .field_id(field)
        .ok_or_else(|| not_found("The custom field was not found."))?;
    if ctx != n.to_string() {
        return Err(not_found("The context was not found."));
    }
    Ok(n)
}

async fn list_options(State(st): S, Path((field, ctx)): Path<(String, String)>, q: Q) -> Reply {
    let r = st.reader();
    let n = context_field(&r, &field, &ctx)?;
    let list: Vec<Value> = r
        .rows(
            "SELECT * FROM field_options WHERE field_id = ?1 ORDER BY id",
            &[&n],
        )
        .iter()
        .map(option_json)
        .collect();
    Ok(json(StatusCode::OK, page_bean(list, &q)))
}

async fn create_options(
    State(st): S,
    Path((field, ctx)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let v = parse(&body)?;
    let list = v
        .get("options")
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| bad("options", "At least one option is required."))?;
    let mut site = st.site();
    let r = st.reader();
    let n = context_field(&r, &field, &ctx)?;
    let mut created = Vec::new();
    for o in list {
        let value = text(o, "/value").unwrap_or("").to_owned();
        let parent = id_of(o, "/optionId");
        let same = r.exists(
            "SELECT 1 FROM field_options WHERE field_id = ?1 AND value = ?2
             AND parent_id IS ?3",
            &[
                &n,
                &value,
                &parent.as_deref().and_then(|p| p.parse::<i64>().ok()),
            ],
        );
        if same {
            return Err(bad("options", "An option with this value already exists."));
        }
        let record = Record::CustomFieldOption(CustomFieldOption {
            id: format!("{field}/{}/{value}", parent.as_deref().unwrap_or("")),
            field: field.clone(),
            value,
            parent,
            disabled: o.get("disabled").and_then(Value::as_bool).unwrap_or(false),
        });
        let id = put_record(&mut site, record)?.map_err(|e| refused("options", &e))?;
        created.push(id);
    }
    let out: Vec<Value> = created
        .iter()
        .filter_map(|id| r.row("SELECT * FROM field_options WHERE id = ?1", &[id]))
        .map(|row| option_json(&row))
        .collect();
    Ok(json(StatusCode::OK, json!({ "options": out })))
}

// --- Issues. ---

/// Validates an entity property given at create time: `(key, value as JSON text)`.
fn create_property(p: &Value) -> Result<(String, String), String> {
    let key = text(p, "/key").unwrap_or("");
    if key.is_empty() || key.chars().count() > MAX_PROPERTY_KEY {
        return Err("The property key must be 1 to 255 characters.".into());
    }
    let value = p.get("value").cloned().unwrap_or(Value::Null);
    let value = value.to_string();
    if value.chars().count() > MAX_PROPERTY_VALUE {
        return Err("The property value cannot be longer than 32768 characters.".into());
    }
    Ok((key.to_owned(), value))
}

/// The properties of a create call: the source key (`airlock.source`) and the others.
#[allow(clippy::type_complexity)]
fn create_properties(v: &Value) -> Result<(Option<String>, Vec<(String, String)>), String> {
    let mut source = None;
    let mut others = Vec::new();
    for p in v
        .get("properties")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (key, value) = create_property(p)?;
        if key == SOURCE_PROPERTY {
            source = p
                .pointer("/value/key")
                .and_then(Value::as_str)
                .map(str::to_owned);
            if source.as_deref().is_some_and(|s| s.starts_with(SYNTHETIC)) {
                return Err("The property value is reserved.".into());
            }
        } else {
            others.push((key, value));
        }
    }
    Ok((source, others))
}

/// One element of a bulk create, checked: the issue (number still 0) and its other
/// properties; or the fields in error.
#[allow(clippy::type_complexity)]
fn issue_element(
    st: &Shared,
    r: &Reader,
    element: &Value,
) -> Result<(Issue, Vec<(String, String)>), Vec<(String, String)>> {
    let f = element.get("fields").cloned().unwrap_or(Value::Null);
    let mut errors: Vec<(String, String)> = Vec::new();
    let mut e = |field: &str, message: &str| errors.push((field.into(), message.into()));
    let project = id_of(&f, "/project/id")
        .or_else(|| id_of(&f, "/project/key"))
        .and_then(|p| r.project_id(&p));
    if project.is_none() {
        e("project", "Specify a valid project ID or key");
    }
    let issue_type = id_of(&f, "/issuetype/id");
    if issue_type.is_none() {
        e("issuetype", "Specify an issue type");
    }
    let summary = text(&f, "/summary").unwrap_or("").to_owned();
    if summary.trim().is_empty() {
        e("summary", "You must specify a summary of the issue.");
    }
    let description = match f.get("description") {
        None | Some(Value::Null) => String::new(),
        Some(d) => match adf::to_text(d) {
            Some(t) => t,
            None => {
                e(
                    "description",
                    "Operation value must be an Atlassian Document (see the Atlassian Document Format)",
                );
                String::new()
            }
        },
    };
    let account = |field: &str| id_of(&f, &format!("/{field}/accountId"));
    let due = match text(&f, "/duedate") {
        Some(d) => match parse_date(d) {
            Some(ms) => Some(ms),
            None => {
                e("duedate", "Error parsing date string");
                None
            }
        },
        None => None,
    };
    let estimate = |name: &str| text(&f, &format!("/timetracking/{name}")).and_then(parse_duration);
    let (source, others) = match create_properties(element) {
        Ok(p) => p,
        Err(m) => {
            e("properties", &m);
            (None, Vec::new())
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    // Jira Cloud opens an issue in its workflow's first status; the double takes the
    // one asked for (the client's simplification of transitions).
    let status = id_of(&f, "/status/id").unwrap_or_else(|| {
        r.int("SELECT MIN(id) FROM statuses", &[])
            .unwrap_or(0)
            .to_string()
    });
    let now = now_ms();
    let issue = Issue {
        id: source.unwrap_or_else(|| st.synthetic_key("issue")),
        project: project.unwrap_or(0).to_string(),
        number: 0,
        issue_type: issue_type.unwrap_or_default(),
        summary,
        description,
        priority: id_of(&f, "/priority/id"),
        status,
        resolution: id_of(&f, "/resolution/id"),
        reporter: account("reporter"),
        assignee: account("assignee"),
        created: now,
        updated: now,
        due,
        resolved: None,
        original_estimate: estimate("originalEstimate"),
        estimate: estimate("remainingEstimate"),
        time_spent: None,
    };
    Ok((issue, others))
}

/// A bulk element that passed the double's checks: its number, the issue, its other
/// properties.
type ValidIssue = (usize, Issue, Vec<(String, String)>);

fn element_error(n: usize, errors: &[(String, String)]) -> Value {
    let map: serde_json::Map<String, Value> =
        errors.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    json!({
        "status": 400,
        "failedElementNumber": n,
        "elementErrors": { "errorMessages": [], "errors": map },
    })
}

/// Which field an item error of the site names, for Jira's `errors` map.
fn site_field(message: &str) -> &'static str {
    let m = message.to_lowercase();
    for (needle, field) in [
        ("issue type", "issuetype"),
        ("status", "status"),
        ("priority", "priority"),
        ("resolution", "resolution"),
        ("reporter", "reporter"),
        ("assignee", "assignee"),
        ("summary", "summary"),
        ("description", "description"),
        ("project", "project"),
    ] {
        if m.contains(needle) {
            return field;
        }
    }
    "issue"
}

async fn create_issues(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let elements = v
        .get("issueUpdates")
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| bad("issueUpdates", "Specify at least one issue to create."))?;
    if elements.len() > BULK_ISSUES {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "Bulk create is limited to 50 issues per request.",
        ));
    }
    let mut site = st.site();
    let r = st.reader();
    let mut errors: Vec<Value> = Vec::new();
    let mut valid: Vec<ValidIssue> = Vec::new();
    for (n, element) in elements.iter().enumerate() {
        match issue_element(&st, &r, element) {
            Ok((issue, others)) => valid.push((n, issue, others)),
            Err(e) => errors.push(element_error(n, &e)),
        }
    }
    // Cloud numbers issues itself: the next number of each project.
    let mut next: HashMap<String, u64> = HashMap::new();
    for (_, issue, _) in &mut valid {
        let n = next.entry(issue.project.clone()).or_insert_with(|| {
            let project: i64 = issue.project.parse().unwrap_or(0);
            r.int(
                "SELECT COALESCE(MAX(number), 0) FROM issues WHERE project_id = ?1",
                &[&project],
            )
            .unwrap_or(0) as u64
        });
        *n += 1;
        issue.number = *n;
    }
    let records: Vec<Record> = valid
        .iter()
        .map(|(_, i, _)| Record::Issue(i.clone()))
        .collect();
    let answers = if records.is_empty() {
        Vec::new()
    } else {
        site.write(Kind::Issue, &records).map_err(|e| {
            tracing::error!("the double's site failed: {e}");
            error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
        })?
    };
    let mut created: Vec<(usize, Value)> = Vec::new();
    for ((n, _, others), answer) in valid.iter().zip(answers) {
        match answer {
            Ok(id) => {
                for (key, value) in others {
                    let record = Record::EntityProperty(EntityProperty {
                        id: format!("issue/{id}/{key}"),
                        entity_name: "IssueProperty".into(),
                        entity_id: id.clone(),
                        key: key.clone(),
                        value: value.clone(),
                    });
                    let _ = put_record(&mut site, record)?;
                }
                let key = r
                    .row("SELECT key FROM issues WHERE id = ?1", &[&id])
                    .map(|row| s(&row, "key"))
                    .unwrap_or_default();
                created.push((
                    *n,
                    json!({ "id": id, "key": key, "self": format!("{}/rest/api/3/issue/{id}", st.base) }),
                ));
            }
            Err(e) => errors.push(element_error(
                *n,
                &[(site_field(&e.message).to_owned(), e.message.clone())],
            )),
        }
    }
    created.sort_by_key(|(n, _)| *n);
    errors.sort_by_key(|e| e.get("failedElementNumber").and_then(Value::as_u64));
    let status = if created.is_empty() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::CREATED
    };
    let issues: Vec<Value> = created.into_iter().map(|(_, v)| v).collect();
    Ok(json(status, json!({ "issues": issues, "errors": errors })))
}

fn user_ref(account: Option<String>) -> Value {
    match account {
        Some(a) => json!({ "accountId": a }),
        None => Value::Null,
    }
}

fn issue_json(st: &Shared, r: &Reader, id: i64) -> Option<Value> {
    let row = r.row(
        "SELECT i.*, p.key AS project_key FROM issues i JOIN projects p ON p.id = i.project_id
         WHERE i.id = ?1",
        &[&id],
    )?;
    let named = |sql: &str| -> Vec<Value> {
        r.rows(sql, &[&id])
            .iter()
            .map(|row| json!({ "id": s(row, "id"), "name": s(row, "name") }))
            .collect()
    };
    let labels: Vec<Value> = r
        .rows(
            "SELECT label FROM labels WHERE issue_id = ?1 ORDER BY id",
            &[&id],
        )
        .iter()
        .map(|row| json!(s(row, "label")))
        .collect();
    let version_sql = |relation: &str| {
        format!(
            "SELECT v.id, v.name FROM issue_versions iv JOIN versions v ON v.id = iv.version_id
             WHERE iv.issue_id = ?1 AND iv.relation = '{relation}' ORDER BY iv.id"
        )
    };
    let mut links = Vec::new();
    for link in r.rows(
        "SELECT l.id, l.source_issue_id, l.destination_issue_id, t.id AS type_id, t.name,
                t.inward, t.outward, si.key AS source_key, di.key AS destination_key
         FROM issue_links l JOIN issue_link_types t ON t.id = l.link_type_id
         JOIN issues si ON si.id = l.source_issue_id JOIN issues di ON di.id = l.destination_issue_id
         WHERE l.source_issue_id = ?1 OR l.destination_issue_id = ?1 ORDER BY l.id",
        &[&id],
    ) {
        let kind = json!({
            "id": s(&link, "type_id"), "name": s(&link, "name"),
            "inward": s(&link, "inward"), "outward": s(&link, "outward"),
        });
        let mut l = json!({ "id": s(&link, "id"), "type": kind });
        if int(&link, "source_issue_id") == Some(id) {
            l["outwardIssue"] = json!({
                "id": s(&link, "destination_issue_id"), "key": s(&link, "destination_key"),
            });
        } else {
            l["inwardIssue"] = json!({
                "id": s(&link, "source_issue_id"), "key": s(&link, "source_key"),
            });
        }
        links.push(l);
    }
    let attachments: Vec<Value> = r
        .rows(
            "SELECT * FROM attachments WHERE issue_id = ?1 ORDER BY id",
            &[&id],
        )
        .iter()
        .map(|a| attachment_json(&st.base, a))
        .collect();
    let mut fields = json!({
        "summary": s(&row, "summary"),
        "description": if s(&row, "description").is_empty() { Value::Null } else { adf::from_text(&s(&row, "description")) },
        "project": { "id": s(&row, "project_id"), "key": s(&row, "project_key") },
        "issuetype": { "id": s(&row, "issue_type_id") },
        "status": { "id": s(&row, "status_id") },
        "priority": opt(&row, "priority_id").map(|p| json!({ "id": p })),
        "resolution": opt(&row, "resolution_id").map(|p| json!({ "id": p })),
        "reporter": user_ref(opt(&row, "reporter_account_id")),
        "assignee": user_ref(opt(&row, "assignee_account_id")),
        "created": int(&row, "created").map(iso),
        "updated": int(&row, "updated").map(iso),
        "duedate": int(&row, "due").map(day),
        "timetracking": {
            "originalEstimateSeconds": int(&row, "original_estimate"),
            "remainingEstimateSeconds": int(&row, "estimate"),
        },
        "labels": labels,
        "versions": named(&version_sql("affects")),
        "fixVersions": named(&version_sql("fix")),
        "components": named(
            "SELECT c.id, c.name FROM issue_components ic JOIN components c ON c.id = ic.component_id
             WHERE ic.issue_id = ?1 ORDER BY ic.id",
        ),
        "issuelinks": links,
        "attachment": attachments,
    });
    let mut values: HashMap<i64, Vec<Value>> = HashMap::new();
    let mut order = Vec::new();
    for v in r.rows(
        "SELECT fv.*, o.value AS option_value FROM field_values fv
         LEFT JOIN field_options o ON o.id = fv.option_id WHERE fv.issue_id = ?1 ORDER BY fv.id",
        &[&id],
    ) {
        let field = int(&v, "field_id").unwrap_or(0);
        let value = if let Some(o) = opt(&v, "option_id") {
            json!({ "id": o, "value": s(&v, "option_value") })
        } else if let Some(t) = opt(&v, "text_value") {
            json!(t)
        } else if let Some(n) = v.get("number_value").filter(|n| !n.is_null()) {
            n.clone()
        } else {
            json!(int(&v, "date_value").map(iso))
        };
        if !values.contains_key(&field) {
            order.push(field);
        }
        values.entry(field).or_default().push(value);
    }
    for field in order {
        let mut list = values.remove(&field).unwrap_or_default();
        fields[format!("customfield_{field}")] = if list.len() == 1 {
            list.pop().unwrap_or(Value::Null)
        } else {
            Value::Array(list)
        };
    }
    Some(json!({
        "id": s(&row, "id"),
        "key": s(&row, "key"),
        "self": format!("{}/rest/api/3/issue/{}", st.base, s(&row, "id")),
        "fields": fields,
    }))
}

async fn get_issue(State(st): S, Path(id): Path<String>) -> Reply {
    let r = st.reader();
    let id = r.issue_id(&id).ok_or_else(|| {
        not_found("Issue does not exist or you do not have permission to see it.")
    })?;
    let issue = issue_json(&st, &r, id).ok_or_else(|| not_found("Issue does not exist."))?;
    Ok(json(StatusCode::OK, issue))
}

/// One update of `PUT /rest/api/3/issue/{id}`: the field, the operation, its value.
fn edit_records(
    r: &Reader,
    issue: i64,
    field: &str,
    op: &str,
    value: &Value,
) -> Result<Option<Record>, String> {
    let issue_s = issue.to_string();
    if op != "add" && op != "set" {
        return Err(format!("The operation '{op}' is not supported here."));
    }
    match field {
        "labels" => {
            let label = value.as_str().ok_or("Labels are strings.")?;
            if r.exists(
                "SELECT 1 FROM labels WHERE issue_id = ?1 AND label = ?2",
                &[&issue, &label],
            ) {
                return Ok(None);
            }
            Ok(Some(Record::Label(Label {
                id: format!("{issue}/{label}"),
                issue: issue_s,
                label: label.to_owned(),
            })))
        }
        "versions" | "fixVersions" | "components" => {
            let target = id_of(value, "/id").ok_or("An id is required.")?;
            let target_n: i64 = target.parse().map_err(|_| "The id is not valid.")?;
            let (association, present) = match field {
                "components" => (
                    Association::Component,
                    r.exists(
                        "SELECT 1 FROM issue_components WHERE issue_id = ?1 AND component_id = ?2",
                        &[&issue, &target_n],
                    ),
                ),
                _ => {
                    let relation = if field == "versions" {
                        "affects"
                    } else {
                        "fix"
                    };
                    (
                        if field == "versions" {
                            Association::AffectsVersion
                        } else {
                            Association::FixVersion
                        },
                        r.exists(
                            "SELECT 1 FROM issue_versions WHERE issue_id = ?1 AND version_id = ?2
                             AND relation = ?3",
                            &[&issue, &target_n, &relation],
                        ),
                    )
                }
            };
            if present {
                return Ok(None);
            }
            Ok(Some(Record::IssueVersion(IssueVersion {
                id: format!("{issue_s}:{association:?}:{target}"),
                issue: issue_s,
                target,
                association,
            })))
        }
        f if f.starts_with("customfield_") => {
            let n = r.field_id(f).ok_or("The custom field does not exist.")?;
            let type_key = r
                .row("SELECT type_key FROM fields WHERE id = ?1", &[&n])
                .map(|row| s(&row, "type_key"))
                .unwrap_or_default();
            let kind = type_key.rsplit(':').next().unwrap_or("").to_owned();
            let multi = matches!(kind.as_str(), "multiselect" | "multicheckboxes");
            if op == "add" && !multi {
                return Err("The field does not support the 'add' operation.".into());
            }
            let fv = match value {
                Value::Number(x) => FieldValue::Number(x.as_f64().unwrap_or(f64::NAN)),
                Value::String(t) if kind == "datepicker" || kind == "datetime" => {
                    FieldValue::Date(parse_date(t).ok_or("Error parsing date string")?)
                }
                Value::String(t) => FieldValue::Text(t.clone()),
                Value::Object(_) if value.get("type").is_some() => {
                    FieldValue::Text(adf::to_text(value).ok_or("Not a valid document.")?)
                }
                Value::Object(_) => {
                    FieldValue::Option(id_of(value, "/id").ok_or("An option id is required.")?)
                }
                _ => return Err("The value is not valid for this field.".into()),
            };
            let (text_v, num_v, date_v, option_v) = match &fv {
                FieldValue::Text(t) => (Some(t.clone()), None, None, None),
                FieldValue::Number(x) => (None, Some(*x), None, None),
                FieldValue::Date(d) => (None, None, Some(*d), None),
                FieldValue::Option(o) => (None, None, None, o.parse::<i64>().ok()),
            };
            let same = r.exists(
                "SELECT 1 FROM field_values WHERE issue_id = ?1 AND field_id = ?2
                 AND text_value IS ?3 AND number_value IS ?4 AND date_value IS ?5
                 AND option_id IS ?6",
                &[&issue, &n, &text_v, &num_v, &date_v, &option_v],
            );
            if same {
                return Ok(None);
            }
            let natural = match &fv {
                FieldValue::Text(t) => format!("t:{t}"),
                FieldValue::Number(x) => format!("n:{x}"),
                FieldValue::Date(d) => format!("d:{d}"),
                FieldValue::Option(o) => format!("o:{o}"),
            };
            Ok(Some(Record::CustomFieldValue(CustomFieldValue {
                id: format!("{issue}/{f}/{natural}"),
                issue: issue_s,
                field: f.to_owned(),
                value: fv,
            })))
        }
        other => Err(format!(
            "Field '{other}' cannot be set. It is not on the appropriate screen, or unknown."
        )),
    }
}

async fn edit_issue(State(st): S, Path(id): Path<String>, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let mut site = st.site();
    let r = st.reader();
    let issue = r.issue_id(&id).ok_or_else(|| {
        not_found("Issue does not exist or you do not have permission to see it.")
    })?;
    let mut ops: Vec<(String, String, Value)> = Vec::new();
    if let Some(update) = v.get("update").and_then(Value::as_object) {
        for (field, list) in update {
            for op in list.as_array().into_iter().flatten() {
                for (name, value) in op.as_object().into_iter().flatten() {
                    ops.push((field.clone(), name.clone(), value.clone()));
                }
            }
        }
    }
    if let Some(fields) = v.get("fields").and_then(Value::as_object) {
        for (field, value) in fields {
            match value {
                Value::Array(items) => {
                    for item in items {
                        ops.push((field.clone(), "add".into(), item.clone()));
                    }
                }
                value => ops.push((field.clone(), "set".into(), value.clone())),
            }
        }
    }
    let mut errors: Vec<(String, String)> = Vec::new();
    for (field, op, value) in ops {
        match edit_records(&r, issue, &field, &op, &value) {
            Ok(None) => {}
            Ok(Some(record)) => {
                if let Err(e) = put_record(&mut site, record)? {
                    errors.push((field, e.message));
                }
            }
            Err(message) => errors.push((field, message)),
        }
    }
    if !errors.is_empty() {
        let pairs: Vec<(&str, &str)> = errors
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        return Err(jira(StatusCode::BAD_REQUEST, &[], &pairs));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

// --- Comments, worklogs, links, attachments. ---

fn source_properties(row: &Row) -> Value {
    match opt(row, "source_key").filter(|k| !k.starts_with(SYNTHETIC)) {
        Some(k) => json!([{ "key": SOURCE_PROPERTY, "value": { "key": k } }]),
        None => json!([]),
    }
}

fn comment_json(st: &Shared, row: &Row, expand: bool) -> Value {
    let mut c = json!({
        "self": format!("{}/rest/api/3/issue/{}/comment/{}", st.base, s(row, "issue_id"), s(row, "id")),
        "id": s(row, "id"),
        "body": adf::from_text(&s(row, "body")),
        "created": int(row, "created").map(iso),
        "updated": int(row, "updated").map(iso),
    });
    if let Some(a) = opt(row, "author_account_id") {
        c["author"] = json!({ "accountId": a });
    }
    if expand {
        c["properties"] = source_properties(row);
    }
    c
}

fn worklog_json(st: &Shared, row: &Row, expand: bool) -> Value {
    let mut w = json!({
        "self": format!("{}/rest/api/3/issue/{}/worklog/{}", st.base, s(row, "issue_id"), s(row, "id")),
        "id": s(row, "id"),
        "issueId": s(row, "issue_id"),
        "comment": adf::from_text(&s(row, "comment")),
        "created": int(row, "created").map(iso),
        "started": int(row, "started").map(iso),
        "timeSpentSeconds": int(row, "time_spent_seconds"),
    });
    if let Some(a) = opt(row, "author_account_id") {
        w["author"] = json!({ "accountId": a });
    }
    if expand {
        w["properties"] = source_properties(row);
    }
    w
}

fn expands(q: &HashMap<String, String>) -> bool {
    q.get("expand")
        .is_some_and(|e| e.split(',').any(|x| x == "properties"))
}

async fn create_comment(State(st): S, Path(id): Path<String>, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let text_body = match v.get("body") {
        Some(b @ Value::Object(_)) => adf::to_text(b).ok_or_else(|| {
            bad(
                "body",
                "Comment body is not valid (see the Atlassian Document Format).",
            )
        })?,
        Some(Value::String(_)) => {
            return Err(bad(
                "body",
                "Comment body must be an Atlassian Document in REST v3.",
            ));
        }
        _ => return Err(bad("body", "Comment body can not be empty!")),
    };
    if text_body.trim().is_empty() {
        return Err(bad("body", "Comment body can not be empty!"));
    }
    let (source, _) = create_properties(&v).map_err(|m| bad("properties", &m))?;
    let mut site = st.site();
    let r = st.reader();
    let issue = r.issue_id(&id).ok_or_else(|| {
        not_found("Issue does not exist or you do not have permission to see it.")
    })?;
    let now = now_ms();
    let record = Record::Comment(Comment {
        id: source.unwrap_or_else(|| st.synthetic_key("comment")),
        issue: issue.to_string(),
        // Cloud makes the caller the author; the double keeps the one asked for.
        author: id_of(&v, "/author/accountId"),
        body: text_body,
        created: now,
        updated: now,
    });
    let cid = put_record(&mut site, record)?.map_err(|e| refused("comment", &e))?;
    let row = r
        .row("SELECT * FROM comments WHERE id = ?1", &[&cid])
        .unwrap_or_default();
    Ok(json(StatusCode::CREATED, comment_json(&st, &row, false)))
}

async fn list_comments(State(st): S, Path(id): Path<String>, q: Q) -> Reply {
    let r = st.reader();
    let issue = r.issue_id(&id).ok_or_else(|| {
        not_found("Issue does not exist or you do not have permission to see it.")
    })?;
    let all: Vec<Value> = r
        .rows(
            "SELECT * FROM comments WHERE issue_id = ?1 ORDER BY id",
            &[&issue],
        )
        .iter()
        .map(|row| comment_json(&st, row, expands(&q)))
        .collect();
    let total = all.len();
    let (start, size) = page(&q, 100);
    let comments = slice(all, &q, 100);
    Ok(json(
        StatusCode::OK,
        json!({ "startAt": start, "maxResults": size, "total": total, "comments": comments }),
    ))
}

async fn create_worklog(State(st): S, Path(id): Path<String>, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let started =
        text(&v, "/started").ok_or_else(|| bad("started", "Date started is required."))?;
    let started =
        parse_date(started).ok_or_else(|| bad("started", "Date started is not valid."))?;
    let seconds = match v.get("timeSpentSeconds").and_then(Value::as_i64) {
        Some(s) => s,
        None => text(&v, "/timeSpent")
            .and_then(parse_duration)
            .ok_or_else(|| bad("timeLogged", "Time Spent is required."))?,
    };
    let comment = match v.get("comment") {
        None | Some(Value::Null) => String::new(),
        Some(c) => adf::to_text(c).ok_or_else(|| {
            bad(
                "comment",
                "Comment is not valid (see the Atlassian Document Format).",
            )
        })?,
    };
    let (source, _) = create_properties(&v).map_err(|m| bad("properties", &m))?;
    let mut site = st.site();
    let r = st.reader();
    let issue = r.issue_id(&id).ok_or_else(|| {
        not_found("Issue does not exist or you do not have permission to see it.")
    })?;
    let record = Record::Worklog(Worklog {
        id: source.unwrap_or_else(|| st.synthetic_key("worklog")),
        issue: issue.to_string(),
        author: id_of(&v, "/author/accountId"),
        body: comment,
        created: now_ms(),
        started,
        seconds,
    });
    let wid = put_record(&mut site, record)?.map_err(|e| refused("timeLogged", &e))?;
    let row = r
        .row("SELECT * FROM worklogs WHERE id = ?1", &[&wid])
        .unwrap_or_default();
    Ok(json(StatusCode::CREATED, worklog_json(&st, &row, false)))
}

async fn list_worklogs(State(st): S, Path(id): Path<String>, q: Q) -> Reply {
    let r = st.reader();
    let issue = r.issue_id(&id).ok_or_else(|| {
        not_found("Issue does not exist or you do not have permission to see it.")
    })?;
    let all: Vec<Value> = r
        .rows(
            "SELECT * FROM worklogs WHERE issue_id = ?1 ORDER BY id",
            &[&issue],
        )
        .iter()
        .map(|row| worklog_json(&st, row, expands(&q)))
        .collect();
    let total = all.len();
    let (start, size) = page(&q, 5000);
    let worklogs = slice(all, &q, 5000);
    Ok(json(
        StatusCode::OK,
        json!({ "startAt": start, "maxResults": size, "total": total, "worklogs": worklogs }),
    ))
}

async fn list_worklogs_by_id(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let ids: Vec<i64> = v
        .get("ids")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("ids", "Worklog ids are required."))?
        .iter()
        .filter_map(|i| {
            i.as_i64()
                .or_else(|| i.as_str().and_then(|s| s.parse().ok()))
        })
        .collect();
    if ids.len() > 1000 {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "At most 1000 worklogs per request.",
        ));
    }
    let r = st.reader();
    let out: Vec<Value> = ids
        .iter()
        .filter_map(|id| r.row("SELECT * FROM worklogs WHERE id = ?1", &[id]))
        .map(|row| worklog_json(&st, &row, false))
        .collect();
    Ok(json(StatusCode::OK, Value::Array(out)))
}

async fn create_link(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let mut site = st.site();
    let r = st.reader();
    let link_type = id_of(&v, "/type/id")
        .and_then(|t| t.parse::<i64>().ok())
        .filter(|t| r.exists("SELECT 1 FROM issue_link_types WHERE id = ?1", &[t]))
        .or_else(|| {
            text(&v, "/type/name").and_then(|n| {
                r.int(
                    "SELECT id FROM issue_link_types WHERE name = ?1 COLLATE NOCASE",
                    &[&n],
                )
            })
        })
        .ok_or_else(|| not_found("No issue link type with this id or name."))?;
    let issue = |side: &str| {
        id_of(&v, &format!("/{side}/id"))
            .or_else(|| id_of(&v, &format!("/{side}/key")))
            .and_then(|i| r.issue_id(&i))
            .ok_or_else(|| not_found("Issue Does Not Exist"))
    };
    // Jira's `inwardIssue` is the link's source: "source blocks destination".
    let source = issue("inwardIssue")?;
    let destination = issue("outwardIssue")?;
    if r.exists(
        "SELECT 1 FROM issue_links WHERE link_type_id = ?1 AND source_issue_id = ?2
         AND destination_issue_id = ?3",
        &[&link_type, &source, &destination],
    ) {
        return Ok(StatusCode::CREATED.into_response());
    }
    let record = Record::IssueLink(IssueLink {
        id: format!("{link_type}/{source}/{destination}"),
        link_type: link_type.to_string(),
        source: source.to_string(),
        destination: destination.to_string(),
    });
    put_record(&mut site, record)?.map_err(|e| refused("issueLinks", &e))?;
    Ok(StatusCode::CREATED.into_response())
}

fn attachment_json(base: &str, row: &Row) -> Value {
    json!({
        "self": format!("{base}/rest/api/3/attachment/{}", s(row, "id")),
        "id": s(row, "id"),
        "filename": s(row, "file_name"),
        "mimeType": s(row, "mime_type"),
        "size": int(row, "size"),
        "created": int(row, "created").map(iso),
        "author": user_ref(opt(row, "author_account_id")),
    })
}

async fn create_attachments(
    State(st): S,
    Path(id): Path<String>,
    headers: HeaderMap,
    mut form: Multipart,
) -> Reply {
    if headers
        .get("X-Atlassian-Token")
        .and_then(|v| v.to_str().ok())
        != Some("no-check")
    {
        return Err(error(StatusCode::FORBIDDEN, "XSRF check failed"));
    }
    let mut files: Vec<(String, String, Bytes)> = Vec::new();
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|_| error(StatusCode::BAD_REQUEST, "The multipart body is not valid."))?
    {
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().unwrap_or("").to_owned();
        let mime = field
            .content_type()
            .unwrap_or("application/octet-stream")
            .to_owned();
        let bytes = field
            .bytes()
            .await
            .map_err(|_| error(StatusCode::BAD_REQUEST, "The multipart body is not valid."))?;
        files.push((name, mime, bytes));
    }
    if files.is_empty() {
        return Err(error(StatusCode::BAD_REQUEST, "No file was attached."));
    }
    let mut site = st.site();
    let r = st.reader();
    let issue = r.issue_id(&id).ok_or_else(|| {
        not_found("Issue does not exist or you do not have permission to see it.")
    })?;
    let mut out = Vec::new();
    for (name, mime, bytes) in files {
        // Two files of one name on one issue are normal: no natural key, a counter.
        let record = Record::Attachment(Attachment {
            id: st.synthetic_key("attachment"),
            issue: issue.to_string(),
            file_name: name,
            mime_type: mime,
            size: bytes.len() as u64,
            author: None,
            created: now_ms(),
        });
        let aid = put_record(&mut site, record)?.map_err(|e| refused("file", &e))?;
        site.put_attachment_file(&aid, &mut bytes.as_ref())
            .map_err(|_| error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error"))?;
        if let Some(row) = r.row("SELECT * FROM attachments WHERE id = ?1", &[&aid]) {
            out.push(attachment_json(&st.base, &row));
        }
    }
    Ok(json(StatusCode::OK, Value::Array(out)))
}

async fn get_attachment(State(st): S, Path(id): Path<String>) -> Reply {
    let r = st.reader();
    let id: i64 = id
        .parse()
        .map_err(|_| not_found("The attachment does not exist."))?;
    let row = r
        .row("SELECT * FROM attachments WHERE id = ?1", &[&id])
        .ok_or_else(|| not_found("The attachment does not exist."))?;
    Ok(json(StatusCode::OK, attachment_json(&st.base, &row)))
}

// --- Entity properties. ---

/// Checks a property's key and JSON value as Cloud does.
fn property_value(key: &str, body: &Bytes) -> Result<String, Response<Body>> {
    if key.is_empty() || key.chars().count() > MAX_PROPERTY_KEY {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "The property key cannot be longer than 255 characters.",
        ));
    }
    let value = std::str::from_utf8(body).map_err(|_| {
        error(
            StatusCode::BAD_REQUEST,
            "The property value must be valid JSON.",
        )
    })?;
    if value.chars().count() > MAX_PROPERTY_VALUE {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "The property value cannot be longer than 32768 characters.",
        ));
    }
    if serde_json::from_str::<serde::de::IgnoredAny>(value).is_err() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "The property value must be valid JSON.",
        ));
    }
    Ok(value.to_owned())
}

/// Stores an entity property: an app's if the request names one, else the site's own.
/// Cloud has one set of keys per entity whoever writes: a `PUT` of `airlock.source` on an
/// issue, comment or worklog replaces the source key the double keeps for it (its `key`,
/// or none if the value has no string `key`), app or not.
fn store_property(
    st: &Shared,
    entity: EntityKind,
    entity_id: String,
    key: String,
    value: String,
    headers: &HeaderMap,
) -> Reply {
    let app = headers
        .get(APP_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let name = match entity {
        EntityKind::Issue => "issue",
        EntityKind::Project => "project",
        EntityKind::User => "user",
        EntityKind::Comment => "comment",
        EntityKind::Worklog => "worklog",
    };
    let mut site = st.site();
    if key == SOURCE_PROPERTY
        && let Some(kind) = match entity {
            EntityKind::Issue => Some(Kind::Issue),
            EntityKind::Comment => Some(Kind::Comment),
            EntityKind::Worklog => Some(Kind::Worklog),
            EntityKind::Project | EntityKind::User => None,
        }
    {
        let source = serde_json::from_str::<Value>(&value)
            .ok()
            .and_then(|v| v.get("key").and_then(Value::as_str).map(str::to_owned));
        site.set_source_key(kind, &entity_id, source.as_deref())
            .map_err(|_| error(StatusCode::BAD_REQUEST, "The property was refused."))?;
        return Ok(StatusCode::OK.into_response());
    }
    let r = st.reader();
    let core = app.is_none()
        && matches!(
            entity,
            EntityKind::Issue | EntityKind::Project | EntityKind::User
        );
    let existed = if core {
        r.exists(
            "SELECT 1 FROM entity_properties WHERE entity_kind = ?1 AND entity_id = ?2 AND key = ?3",
            &[&name, &entity_id, &key],
        )
    } else {
        r.exists(
            "SELECT 1 FROM app_entity_properties WHERE app_key = ?1 AND entity_kind = ?2
             AND entity_id = ?3 AND key = ?4",
            &[&app.as_deref().unwrap_or("jira"), &name, &entity_id, &key],
        )
    };
    if core {
        let entity_name = match entity {
            EntityKind::Issue => "IssueProperty",
            EntityKind::Project => "ProjectProperty",
            _ => "UserProperty",
        };
        let record = Record::EntityProperty(EntityProperty {
            id: format!("{name}/{entity_id}/{key}"),
            entity_name: entity_name.into(),
            entity_id,
            key,
            value,
        });
        put_record(&mut site, record)?.map_err(|e| refused("value", &e))?;
    } else {
        let app = AppKey::new(app.unwrap_or_else(|| "jira".into()));
        let output = AppOutput::EntityProperty {
            entity,
            entity_id,
            key,
            value,
        };
        site.put_app_outputs_as_given(&app, &[output])
            .map_err(|_| error(StatusCode::BAD_REQUEST, "The property was refused."))?;
    }
    Ok(if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    }
    .into_response())
}

fn read_property(r: &Reader, entity: &str, entity_id: &str, key: &str) -> Option<Value> {
    let row = r
        .row(
            "SELECT value FROM entity_properties WHERE entity_kind = ?1 AND entity_id = ?2 AND key = ?3",
            &[&entity, &entity_id, &key],
        )
        .or_else(|| {
            r.row(
                "SELECT value FROM app_entity_properties WHERE entity_kind = ?1 AND entity_id = ?2
                 AND key = ?3",
                &[&entity, &entity_id, &key],
            )
        })?;
    let value = serde_json::from_str(&s(&row, "value")).unwrap_or(Value::Null);
    Some(json!({ "key": key, "value": value }))
}

async fn put_issue_property(
    State(st): S,
    Path((id, key)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let value = property_value(&key, &body)?;
    let issue = st.reader().issue_id(&id).ok_or_else(|| {
        not_found("Issue does not exist or you do not have permission to see it.")
    })?;
    store_property(
        &st,
        EntityKind::Issue,
        issue.to_string(),
        key,
        value,
        &headers,
    )
}

async fn get_issue_property(State(st): S, Path((id, key)): Path<(String, String)>) -> Reply {
    let r = st.reader();
    let issue = r.issue_id(&id).ok_or_else(|| {
        not_found("Issue does not exist or you do not have permission to see it.")
    })?;
    if key == SOURCE_PROPERTY {
        let row = r
            .row("SELECT source_key FROM issues WHERE id = ?1", &[&issue])
            .unwrap_or_default();
        return match opt(&row, "source_key").filter(|k| !k.starts_with(SYNTHETIC)) {
            Some(k) => Ok(json(
                StatusCode::OK,
                json!({ "key": key, "value": { "key": k } }),
            )),
            None => Err(not_found("The property was not found.")),
        };
    }
    read_property(&r, "issue", &issue.to_string(), &key)
        .map(|v| json(StatusCode::OK, v))
        .ok_or_else(|| not_found("The property was not found."))
}

async fn put_project_property(
    State(st): S,
    Path((id, key)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let value = property_value(&key, &body)?;
    let project = st
        .reader()
        .project_id(&id)
        .ok_or_else(|| not_found("No project could be found with this key or id."))?;
    store_property(
        &st,
        EntityKind::Project,
        project.to_string(),
        key,
        value,
        &headers,
    )
}

async fn get_project_property(State(st): S, Path((id, key)): Path<(String, String)>) -> Reply {
    let r = st.reader();
    let project = r
        .project_id(&id)
        .ok_or_else(|| not_found("No project could be found with this key or id."))?;
    read_property(&r, "project", &project.to_string(), &key)
        .map(|v| json(StatusCode::OK, v))
        .ok_or_else(|| not_found("The property was not found."))
}

async fn put_user_property(
    State(st): S,
    Path(key): Path<String>,
    q: Q,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let value = property_value(&key, &body)?;
    let account = q
        .get("accountId")
        .filter(|a| st.reader().user_exists(a))
        .cloned()
        .ok_or_else(|| not_found("The user does not exist."))?;
    store_property(&st, EntityKind::User, account, key, value, &headers)
}

async fn get_user_property(State(st): S, Path(key): Path<String>, q: Q) -> Reply {
    let r = st.reader();
    let account = q.get("accountId").cloned().unwrap_or_default();
    read_property(&r, "user", &account, &key)
        .map(|v| json(StatusCode::OK, v))
        .ok_or_else(|| not_found("The property was not found."))
}

async fn put_comment_property(
    State(st): S,
    Path((id, key)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let value = property_value(&key, &body)?;
    let comment: i64 = id
        .parse()
        .map_err(|_| not_found("The comment does not exist."))?;
    if !st
        .reader()
        .exists("SELECT 1 FROM comments WHERE id = ?1", &[&comment])
    {
        return Err(not_found("The comment does not exist."));
    }
    store_property(
        &st,
        EntityKind::Comment,
        comment.to_string(),
        key,
        value,
        &headers,
    )
}

async fn put_worklog_property(
    State(st): S,
    Path((issue, worklog, key)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let value = property_value(&key, &body)?;
    let r = st.reader();
    let issue = r.issue_id(&issue).ok_or_else(|| {
        not_found("Issue does not exist or you do not have permission to see it.")
    })?;
    let worklog: i64 = worklog
        .parse()
        .map_err(|_| not_found("The worklog does not exist."))?;
    if !r.exists(
        "SELECT 1 FROM worklogs WHERE id = ?1 AND issue_id = ?2",
        &[&worklog, &issue],
    ) {
        return Err(not_found("The worklog does not exist."));
    }
    drop(r);
    store_property(
        &st,
        EntityKind::Worklog,
        worklog.to_string(),
        key,
        value,
        &headers,
    )
}

// --- App properties. ---

async fn put_app_property(
    State(st): S,
    Path((app, key)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let value = property_value(&key, &body)?;
    let mut site = st.site();
    let existed = st.reader().exists(
        "SELECT 1 FROM app_properties WHERE app_key = ?1 AND key = ?2",
        &[&app, &key],
    );
    site.put_app_outputs_as_given(&AppKey::new(app), &[AppOutput::AppProperty { key, value }])
        .map_err(|_| error(StatusCode::BAD_REQUEST, "The property was refused."))?;
    Ok(if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    }
    .into_response())
}

async fn get_app_property(State(st): S, Path((app, key)): Path<(String, String)>) -> Reply {
    let r = st.reader();
    let row = r
        .row(
            "SELECT value FROM app_properties WHERE app_key = ?1 AND key = ?2",
            &[&app, &key],
        )
        .ok_or_else(|| not_found("Property with key not found."))?;
    let value: Value = serde_json::from_str(&s(&row, "value")).unwrap_or(Value::Null);
    Ok(json(
        StatusCode::OK,
        json!({
            "key": key,
            "value": value,
            "self": format!("{}/rest/atlassian-connect/1/addons/{app}/properties/{key}", st.base),
        }),
    ))
}

async fn list_app_properties(State(st): S, Path(app): Path<String>) -> Reply {
    let r = st.reader();
    let keys: Vec<Value> = r
        .rows(
            "SELECT key FROM app_properties WHERE app_key = ?1 ORDER BY key",
            &[&app],
        )
        .iter()
        .map(|row| {
            json!({
                "key": s(row, "key"),
                "self": format!("{}/rest/atlassian-connect/1/addons/{app}/properties/{}", st.base, s(row, "key")),
            })
        })
        .collect();
    Ok(json(StatusCode::OK, json!({ "keys": keys })))
}

// --- JQL: only what Airlock asks, on the indexed `airlock.source` property. ---

enum Jql {
    SourceIn(Vec<String>),
    SourceAny,
}

fn parse_jql(jql: &str) -> Result<Jql, String> {
    let lower = jql.to_lowercase();
    let clause = match lower.find(" order by ") {
        Some(i) => &jql[..i],
        None => jql,
    }
    .trim();
    let prefix = format!("issue.property[{SOURCE_PROPERTY}].key");
    let rest = clause
        .get(..prefix.len())
        .filter(|p| p.eq_ignore_ascii_case(&prefix))
        .map(|_| clause[prefix.len()..].trim())
        .ok_or_else(|| {
            "Error in the JQL Query: only issue.property[airlock.source].key is indexed.".to_owned()
        })?;
    if rest.eq_ignore_ascii_case("is not empty") {
        return Ok(Jql::SourceAny);
    }
    let list = if let Some(v) = rest.strip_prefix('=') {
        v.trim()
    } else if rest.len() > 2 && rest[..2].eq_ignore_ascii_case("in") {
        rest[2..]
            .trim()
            .strip_prefix('(')
            .and_then(|v| v.strip_suffix(')'))
            .ok_or("Error in the JQL Query: expecting a list.")?
    } else {
        return Err("Error in the JQL Query: expecting an operator.".into());
    };
    let mut values = Vec::new();
    let mut chars = list.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        match chars.next() {
            None => break,
            Some('"') => {
                let mut v = String::new();
                loop {
                    match chars.next() {
                        Some('\\') => v.extend(chars.next()),
                        Some('"') => break,
                        Some(c) => v.push(c),
                        None => return Err("Error in the JQL Query: unterminated string.".into()),
                    }
                }
                values.push(v);
            }
            Some(_) => return Err("Error in the JQL Query: expecting a quoted string.".into()),
        }
    }
    Ok(Jql::SourceIn(values))
}

fn jql_ids(r: &Reader, jql: &Jql) -> Vec<Row> {
    match jql {
        Jql::SourceAny => r.rows(
            "SELECT id, key, source_key FROM issues WHERE source_key IS NOT NULL
             AND source_key NOT LIKE '~double/%' ORDER BY id",
            &[],
        ),
        Jql::SourceIn(keys) => {
            let mut out = Vec::new();
            for key in keys {
                out.extend(r.rows(
                    "SELECT id, key, source_key FROM issues WHERE source_key = ?1 ORDER BY id",
                    &[key],
                ));
            }
            out.sort_by_key(|row| int(row, "id"));
            out.dedup_by_key(|row| int(row, "id"));
            out
        }
    }
}

async fn search_jql(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let jql = parse_jql(text(&v, "/jql").unwrap_or(""))
        .map_err(|m| error(StatusCode::BAD_REQUEST, &m))?;
    let start: usize = text(&v, "/nextPageToken")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let size = v
        .get("maxResults")
        .and_then(Value::as_u64)
        .unwrap_or(50)
        .clamp(1, 100) as usize;
    let with_source = v
        .get("properties")
        .and_then(Value::as_array)
        .is_some_and(|p| p.iter().any(|k| k.as_str() == Some(SOURCE_PROPERTY)));
    let r = st.reader();
    let rows = jql_ids(&r, &jql);
    let total = rows.len();
    let issues: Vec<Value> = rows
        .iter()
        .skip(start)
        .take(size)
        .map(|row| {
            let mut i = json!({
                "id": s(row, "id"),
                "key": s(row, "key"),
                "self": format!("{}/rest/api/3/issue/{}", st.base, s(row, "id")),
            });
            if with_source {
                i["properties"] = json!({ SOURCE_PROPERTY: { "key": s(row, "source_key") } });
            }
            i
        })
        .collect();
    let end = start + issues.len();
    let mut out = json!({ "issues": issues, "isLast": end >= total });
    if end < total {
        out["nextPageToken"] = json!(end.to_string());
    }
    Ok(json(StatusCode::OK, out))
}

async fn count_jql(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let jql = parse_jql(text(&v, "/jql").unwrap_or(""))
        .map_err(|m| error(StatusCode::BAD_REQUEST, &m))?;
    let count = jql_ids(&st.reader(), &jql).len();
    Ok(json(StatusCode::OK, json!({ "count": count })))
}

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
        assert!(parse_jql("project = X").is_err());
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
