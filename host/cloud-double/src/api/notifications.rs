//! Notification schemes with their entries, and the notification scheme each project uses,
//! with Cloud's rules: a name another scheme has (in any case) is refused before anything
//! is written (the local site's writer would rename the scheme instead), so is an entry
//! the scheme has already, an event that is not one of Jira's, a recipient type Cloud does
//! not know and a recipient the site does not have. The entries of one request are all
//! checked before any is written. An unknown scheme or project is 404.

#![allow(clippy::result_large_err)]

use airlock_model::jira::{
    MAX_SYSTEM_EVENT, Notification, NotificationScheme, ProjectScheme, Recipient, SchemeType,
};

use super::*;

/// Cloud's default notification scheme, which every project uses until it is given
/// another.
const DEFAULT_SCHEME: i64 = 10_000;

/// Jira Cloud's limit on the entries of one request.
const MAX_NOTIFICATIONS: usize = 1000;

/// Jira's system events, ids 1–17 in order: name and description as Cloud answers them
/// (Cloud writes the names in sentence case).
const EVENTS: [(&str, &str); MAX_SYSTEM_EVENT as usize] = [
    ("Issue created", "Event published when an issue is created"),
    ("Issue updated", "Event published when an issue is updated"),
    (
        "Issue assigned",
        "Event published when an issue is assigned",
    ),
    (
        "Issue resolved",
        "Event published when an issue is resolved",
    ),
    ("Issue closed", "Event published when an issue is closed"),
    (
        "Issue commented",
        "Event published when a comment is added to an issue",
    ),
    (
        "Issue reopened",
        "Event published when an issue is reopened",
    ),
    ("Issue deleted", "Event published when an issue is deleted"),
    ("Issue moved", "Event published when an issue is moved"),
    (
        "Work logged on issue",
        "Event published when work is logged on an issue",
    ),
    (
        "Work started on issue",
        "Event published when work starts on an issue",
    ),
    (
        "Work stopped on issue",
        "Event published when work stops on an issue",
    ),
    ("Generic event", "A generic event"),
    (
        "Issue comment edited",
        "Event published when a comment on an issue is edited",
    ),
    (
        "Issue worklog updated",
        "Event published when a worklog on an issue is updated",
    ),
    (
        "Issue worklog deleted",
        "Event published when a worklog on an issue is deleted",
    ),
    (
        "Issue comment deleted",
        "Event published when a comment on an issue is deleted",
    ),
];

fn event_json(id: i64) -> Value {
    let (name, description) = usize::try_from(id - 1)
        .ok()
        .and_then(|i| EVENTS.get(i))
        .copied()
        .unwrap_or_default();
    json!({ "id": id, "name": name, "description": description })
}

fn no_project() -> Response<Body> {
    not_found("No project could be found with this key or id.")
}

fn no_scheme(id: &str) -> Response<Body> {
    not_found(&format!(
        "The notification scheme with id '{id}' does not exist."
    ))
}

/// What `expand` asks for. Any expansion brings the events (as Cloud: "this list is
/// returned for all expandable information"); `user`, `group`, `projectRole` and `field`
/// add the recipient's details to its entries.
#[derive(Clone, Copy, Default)]
struct Expand {
    events: bool,
    user: bool,
    group: bool,
    role: bool,
    field: bool,
}

fn expand(q: &HashMap<String, String>) -> Expand {
    let mut e = Expand::default();
    for x in q.get("expand").map_or("", String::as_str).split(',') {
        match x.trim() {
            "all" => {
                e = Expand {
                    events: true,
                    user: true,
                    group: true,
                    role: true,
                    field: true,
                };
            }
            "notificationSchemeEvents" => e.events = true,
            "user" => (e.events, e.user) = (true, true),
            "group" => (e.events, e.group) = (true, true),
            "projectRole" => (e.events, e.role) = (true, true),
            "field" => (e.events, e.field) = (true, true),
            _ => {}
        }
    }
    e
}

fn scheme_row(r: &Reader, id: &str) -> Option<Row> {
    let id: i64 = id.parse().ok()?;
    r.row("SELECT * FROM notification_schemes WHERE id = ?1", &[&id])
}

/// A notification scheme's id, if the site has it.
pub(super) fn notification_scheme_id(r: &Reader, id: &str) -> Option<i64> {
    scheme_row(r, id).and_then(|row| int(&row, "id"))
}

/// The scheme, with its entries grouped by event if `expand` asks for them.
fn scheme_json(base: &str, r: &Reader, row: &Row, e: Expand) -> Value {
    let mut v = json!({
        "expand": "notificationSchemeEvents,user,group,projectRole,field,all",
        "id": int(row, "id"),
        "self": format!("{base}/rest/api/3/notificationscheme/{}", s(row, "id")),
        "name": s(row, "name"),
        "description": s(row, "description"),
    });
    if e.events {
        let scheme = int(row, "id").unwrap_or_default();
        v["notificationSchemeEvents"] = Value::Array(events_json(base, r, scheme, e));
    }
    v
}

/// The scheme's entries, grouped by event, events in id order.
fn events_json(base: &str, r: &Reader, scheme: i64, e: Expand) -> Vec<Value> {
    let mut events: Vec<(i64, Vec<Value>)> = Vec::new();
    for row in r.rows(
        "SELECT * FROM notifications WHERE scheme_id = ?1 ORDER BY event_id, id",
        &[&scheme],
    ) {
        let event = int(&row, "event_id").unwrap_or_default();
        let entry = entry_json(base, r, &row, e);
        match events.last_mut() {
            Some((last, entries)) if *last == event => entries.push(entry),
            _ => events.push((event, vec![entry])),
        }
    }
    events
        .into_iter()
        .map(|(event, entries)| json!({ "event": event_json(event), "notifications": entries }))
        .collect()
}

/// One entry. Cloud's `recipient` is the recipient's id; the site keeps no id of a
/// group's, so a group's entry has none.
fn entry_json(base: &str, r: &Reader, row: &Row, e: Expand) -> Value {
    let recipient_type = s(row, "recipient_type");
    let mut v = json!({ "id": int(row, "id"), "notificationType": recipient_type });
    let Some(parameter) = opt(row, "parameter") else {
        return v;
    };
    v["parameter"] = json!(parameter);
    if recipient_type != "Group" {
        v["recipient"] = json!(parameter);
    }
    match recipient_type.as_str() {
        "User" if e.user => {
            if let Some(user) = r.row(
                "SELECT account_id, display_name FROM users WHERE account_id = ?1",
                &[&parameter],
            ) {
                v["user"] = json!({
                    "accountId": s(&user, "account_id"),
                    "displayName": s(&user, "display_name"),
                });
            }
        }
        "Group" if e.group => v["group"] = json!({ "name": parameter }),
        "ProjectRole" if e.role => {
            let id: i64 = parameter.parse().unwrap_or_default();
            if let Some(role) = r.row("SELECT * FROM project_roles WHERE id = ?1", &[&id]) {
                v["projectRole"] = json!({
                    "self": format!("{base}/rest/api/3/role/{id}"),
                    "id": id,
                    "name": s(&role, "name"),
                    "description": s(&role, "description"),
                });
            }
        }
        "UserCustomField" | "GroupCustomField" if e.field => {
            if let Some(field) = r
                .field_id(&parameter)
                .and_then(|id| r.row("SELECT name FROM fields WHERE id = ?1", &[&id]))
            {
                v["field"] = json!({
                    "id": parameter,
                    "key": parameter,
                    "name": s(&field, "name"),
                    "custom": true,
                });
            }
        }
        "EmailAddress" => v["emailAddress"] = json!(parameter),
        _ => {}
    }
    v
}

/// A recipient from Cloud's `notificationType` and `parameter`; a type Cloud does not
/// know, or one without the parameter it needs, is refused. A parameter the type takes
/// none of is ignored.
fn recipient_from_cloud(
    notification_type: &str,
    parameter: Option<&str>,
) -> Result<Recipient, Response<Body>> {
    let parameter = parameter
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned);
    let required = |p: Option<String>| {
        p.ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                &format!(
                    "The parameter is required for the notification type '{notification_type}'."
                ),
            )
        })
    };
    Ok(match notification_type {
        "CurrentAssignee" => Recipient::CurrentAssignee,
        "Reporter" => Recipient::Reporter,
        "CurrentUser" => Recipient::CurrentUser,
        "ProjectLead" => Recipient::ProjectLead,
        "ComponentLead" => Recipient::ComponentLead,
        "AllWatchers" => Recipient::AllWatchers,
        "User" => Recipient::User(required(parameter)?),
        "Group" => Recipient::Group(required(parameter)?),
        "ProjectRole" => Recipient::ProjectRole(required(parameter)?),
        "EmailAddress" => Recipient::Email(required(parameter)?),
        "UserCustomField" => Recipient::UserCustomField(required(parameter)?),
        "GroupCustomField" => Recipient::GroupCustomField(required(parameter)?),
        _ => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                &format!("The notification type '{notification_type}' is not valid."),
            ));
        }
    })
}

/// Whether the text is an email address: one `@` between a local part and a domain, no
/// spaces.
fn is_address(text: &str) -> bool {
    match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !text.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// An entry of a request body (`{"notificationType", "parameter"}`), checked as Cloud
/// does: its recipient as the site spells it (a group's name, a role's id).
fn new_recipient(r: &Reader, v: &Value) -> Result<Recipient, Response<Body>> {
    let notification_type = text(v, "/notificationType").ok_or_else(|| {
        error(
            StatusCode::BAD_REQUEST,
            "The notification type is required.",
        )
    })?;
    let parameter = match v.get("parameter") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) => Some(p.as_str()),
        Some(_) => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "The notification's parameter must be a string.",
            ));
        }
    };
    let no = |message: String| Err(error(StatusCode::BAD_REQUEST, &message));
    Ok(match recipient_from_cloud(notification_type, parameter)? {
        Recipient::Group(name) => {
            let Some(group) = r.row(
                "SELECT name FROM groups WHERE name = ?1 COLLATE NOCASE",
                &[&name],
            ) else {
                return no(format!("The group '{name}' does not exist."));
            };
            Recipient::Group(s(&group, "name"))
        }
        Recipient::User(account) if !r.user_exists(&account) => {
            return no(format!(
                "The user with account ID '{account}' does not exist."
            ));
        }
        Recipient::ProjectRole(role) => {
            let found = role
                .parse::<i64>()
                .ok()
                .and_then(|id| r.int("SELECT id FROM project_roles WHERE id = ?1", &[&id]));
            let Some(id) = found else {
                return no(format!("The project role with ID '{role}' does not exist."));
            };
            Recipient::ProjectRole(id.to_string())
        }
        Recipient::Email(address) if !is_address(&address) => {
            return no(format!("'{address}' is not a valid email address."));
        }
        Recipient::UserCustomField(field) | Recipient::GroupCustomField(field)
            if r.field_id(&field).is_none() =>
        {
            return no(format!("The custom field '{field}' does not exist."));
        }
        recipient => recipient,
    })
}

/// The entries of `notificationSchemeEvents`, each checked; the same entry twice is
/// refused. Nothing is written.
fn new_entries(r: &Reader, list: &Value) -> Result<Vec<(i64, Recipient)>, Response<Body>> {
    let Value::Array(events) = list else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "The notification scheme events must be a list.",
        ));
    };
    let mut entries: Vec<(i64, Recipient)> = Vec::new();
    for e in events {
        let given = id_of(e, "/event/id").ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                "The notification scheme event's ID is required.",
            )
        })?;
        let event = given
            .parse::<i64>()
            .ok()
            .filter(|id| (1..=i64::from(MAX_SYSTEM_EVENT)).contains(id))
            .ok_or_else(|| {
                error(
                    StatusCode::BAD_REQUEST,
                    &format!("The event with ID '{given}' does not exist."),
                )
            })?;
        let Some(Value::Array(notifications)) = e.get("notifications") else {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "The notifications of an event must be a list.",
            ));
        };
        for n in notifications {
            let entry = (event, new_recipient(r, n)?);
            if entries.contains(&entry) {
                return Err(duplicate(&entry));
            }
            entries.push(entry);
            if entries.len() > MAX_NOTIFICATIONS {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    &format!("At most {MAX_NOTIFICATIONS} notifications can be added at once."),
                ));
            }
        }
    }
    Ok(entries)
}

fn duplicate((event, recipient): &(i64, Recipient)) -> Response<Body> {
    let who = match recipient.parameter() {
        Some(p) => format!("{} '{p}'", recipient.cloud_type()),
        None => recipient.cloud_type().to_owned(),
    };
    error(
        StatusCode::BAD_REQUEST,
        &format!("The notification {who} for the event with ID '{event}' already exists."),
    )
}

/// Whether the scheme has the entry already.
fn has_entry(r: &Reader, scheme: i64, event: i64, recipient: &Recipient) -> bool {
    r.exists(
        "SELECT 1 FROM notifications WHERE scheme_id = ?1 AND event_id = ?2
         AND recipient_type = ?3 AND IFNULL(parameter, '') = IFNULL(?4, '')",
        &[
            &scheme,
            &event,
            &recipient.cloud_type(),
            &recipient.parameter(),
        ],
    )
}

/// Writes entries checked by [`new_entries`].
fn put_entries(
    site: &mut LocalSite,
    scheme: i64,
    entries: Vec<(i64, Recipient)>,
) -> Result<(), Response<Body>> {
    for (event, recipient) in entries {
        let record = Record::Notification(Notification {
            // The natural key as the source key: an entry added twice shows.
            id: format!(
                "{scheme}/{event}/{}:{}",
                recipient.cloud_type(),
                recipient.parameter().unwrap_or("")
            ),
            scheme: scheme.to_string(),
            event: event.to_string(),
            recipient,
        });
        put_record(site, record)?.map_err(|e| refused("notificationSchemeEvents", &e))?;
    }
    Ok(())
}

/// `GET /rest/api/3/notificationscheme`: a page of the schemes, by name as Cloud orders
/// them.
pub(super) async fn list_notification_schemes(State(st): S, q: Q) -> Reply {
    let r = st.reader();
    let e = expand(&q);
    let list: Vec<Value> = r
        .rows(
            "SELECT * FROM notification_schemes ORDER BY name COLLATE NOCASE, id",
            &[],
        )
        .iter()
        .map(|row| scheme_json(&st.base, &r, row, e))
        .collect();
    Ok(json(StatusCode::OK, page_bean(list, &q)))
}

pub(super) async fn get_notification_scheme(State(st): S, Path(id): Path<String>, q: Q) -> Reply {
    let r = st.reader();
    let row = scheme_row(&r, &id).ok_or_else(|| no_scheme(&id))?;
    Ok(json(
        StatusCode::OK,
        scheme_json(&st.base, &r, &row, expand(&q)),
    ))
}

/// `POST /rest/api/3/notificationscheme`: 201 with the scheme's id (as text, as Cloud);
/// 400 for a name another scheme has (in any case), and for any entry refused (then
/// nothing is written).
pub(super) async fn create_notification_scheme(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let (name, description) = super::schemes::named(&v, "notification scheme")?;
    let mut site = st.site();
    let r = st.reader();
    if r.exists(
        "SELECT 1 FROM notification_schemes WHERE name = ?1 COLLATE NOCASE",
        &[&name],
    ) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "The name is used by another notification scheme.",
        ));
    }
    // Every entry is checked before anything is written.
    let entries = match v.get("notificationSchemeEvents") {
        None | Some(Value::Null) => Vec::new(),
        Some(list) => new_entries(&r, list)?,
    };
    let record = Record::NotificationScheme(NotificationScheme {
        id: name.to_lowercase(),
        name,
        description,
    });
    let id = put_record(&mut site, record)?.map_err(|e| refused("name", &e))?;
    let scheme: i64 = id.parse().unwrap_or(0);
    put_entries(&mut site, scheme, entries)?;
    Ok(json(StatusCode::CREATED, json!({ "id": id })))
}

/// `PUT /rest/api/3/notificationscheme/{id}/notification`: 204; 400 for any entry refused
/// or one the scheme has already (then nothing is written).
pub(super) async fn add_notifications(State(st): S, Path(id): Path<String>, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let mut site = st.site();
    let r = st.reader();
    let row = scheme_row(&r, &id).ok_or_else(|| no_scheme(&id))?;
    let scheme = int(&row, "id").unwrap_or_default();
    let list = v.get("notificationSchemeEvents").ok_or_else(|| {
        error(
            StatusCode::BAD_REQUEST,
            "The notification scheme events are required.",
        )
    })?;
    let entries = new_entries(&r, list)?;
    if let Some(entry) = entries
        .iter()
        .find(|(event, recipient)| has_entry(&r, scheme, *event, recipient))
    {
        return Err(duplicate(entry));
    }
    put_entries(&mut site, scheme, entries)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /rest/api/3/project/{id}/notificationscheme`: the project's scheme. A Cloud project
/// always has one: a project without its own uses the default scheme (`10000`).
pub(super) async fn get_project_notification_scheme(
    State(st): S,
    Path(project): Path<String>,
    q: Q,
) -> Reply {
    let r = st.reader();
    let project = r.project_id(&project).ok_or_else(no_project)?;
    let id = r
        .int(
            "SELECT scheme_id FROM project_schemes
             WHERE project_id = ?1 AND scheme_type = 'notification'",
            &[&project],
        )
        .unwrap_or(DEFAULT_SCHEME);
    let row = r
        .row("SELECT * FROM notification_schemes WHERE id = ?1", &[&id])
        .unwrap_or_default();
    Ok(json(
        StatusCode::OK,
        scheme_json(&st.base, &r, &row, expand(&q)),
    ))
}

/// The record that makes a project use a notification scheme (`PUT …/project/{id}` with
/// `notificationScheme`).
pub(super) fn project_notification_scheme(project: i64, scheme: i64) -> Record {
    Record::ProjectScheme(ProjectScheme {
        id: format!("{project}/notification"),
        project: project.to_string(),
        scheme_type: SchemeType::Notification,
        scheme: scheme.to_string(),
    })
}
