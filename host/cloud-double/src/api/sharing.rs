//! Project roles, watchers, filters and their share permissions.

#![allow(clippy::result_large_err)]

use super::*;

/// Jira's answer for a filter that does not exist or that the caller may not change.
const FILTER_NOT_AVAILABLE: &str = "The selected filter is not available to you, perhaps it has been deleted or had its \
     permissions changed.";

pub(super) fn role_json(base: &str, row: &Row) -> Value {
    json!({
        "self": format!("{base}/rest/api/3/role/{}", s(row, "id")),
        "name": s(row, "name"),
        "id": int(row, "id"),
        "description": s(row, "description"),
        "actors": [],
    })
}

pub(super) async fn list_roles(State(st): S) -> Reply {
    let r = st.reader();
    let roles: Vec<Value> = r
        .rows("SELECT * FROM project_roles ORDER BY id", &[])
        .iter()
        .map(|row| role_json(&st.base, row))
        .collect();
    Ok(json(StatusCode::OK, Value::Array(roles)))
}

pub(super) async fn get_role(State(st): S, Path(id): Path<String>) -> Reply {
    let r = st.reader();
    id.parse::<i64>()
        .ok()
        .and_then(|id| r.row("SELECT * FROM project_roles WHERE id = ?1", &[&id]))
        .map(|row| json(StatusCode::OK, role_json(&st.base, &row)))
        .ok_or_else(|| not_found("The project role does not exist."))
}

/// `POST /rest/api/3/role`: 200 with the role; 409 for a name in use (any case).
pub(super) async fn create_role(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let name = text(&v, "/name")
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| bad("name", "The name of the project role must not be empty."))?
        .to_owned();
    let record = Record::ProjectRole(ProjectRole {
        id: name.to_lowercase(),
        name,
        description: text(&v, "/description").unwrap_or("").to_owned(),
    });
    let mut site = st.site();
    let id = put_record(&mut site, record)?.map_err(|e| {
        if e.code == "duplicate-key" {
            error(
                StatusCode::CONFLICT,
                "A project role with this name already exists.",
            )
        } else {
            refused("name", &e)
        }
    })?;
    let r = st.reader();
    let row = r
        .row("SELECT * FROM project_roles WHERE id = ?1", &[&id])
        .unwrap_or_default();
    Ok(json(StatusCode::OK, role_json(&st.base, &row)))
}

fn no_issue() -> Response<Body> {
    not_found("Issue does not exist or you do not have permission to see it.")
}

/// `POST /rest/api/3/issue/{id}/watchers`: the body is the account id as a JSON string
/// (none: the caller); 204, also for a user already watching.
pub(super) async fn add_watcher(
    State(st): S,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let mut site = st.site();
    let r = st.reader();
    let issue = r.issue_id(&id).ok_or_else(no_issue)?;
    let account = if body.iter().all(u8::is_ascii_whitespace) {
        caller(&mut site, &r, &headers)?
    } else {
        match parse(&body)? {
            Value::String(a) if !a.is_empty() => a,
            _ => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "The account id must be given as a JSON string.",
                ));
            }
        }
    };
    if !r.user_exists(&account) {
        return Err(not_found("The user does not exist."));
    }
    let record = Record::Watcher(IssueUser {
        id: format!("{issue}/{account}"),
        issue: issue.to_string(),
        user: account,
        created: Some(now_ms()),
    });
    put_record(&mut site, record)?.map_err(|e| refused("accountId", &e))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn list_watchers(
    State(st): S,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Reply {
    let r = st.reader();
    let issue = r.issue_id(&id).ok_or_else(no_issue)?;
    let rows = r.rows(
        "SELECT u.* FROM watchers w JOIN users u ON u.account_id = w.account_id
         WHERE w.issue_id = ?1 ORDER BY w.id",
        &[&issue],
    );
    let me = known_caller(&r, &headers);
    let watching = rows.iter().any(|u| Some(s(u, "account_id")) == me.clone());
    let key = r
        .row("SELECT key FROM issues WHERE id = ?1", &[&issue])
        .map(|row| s(&row, "key"))
        .unwrap_or_default();
    let watchers: Vec<Value> = rows.iter().map(|u| user_json(&st.base, u)).collect();
    Ok(json(
        StatusCode::OK,
        json!({
            "self": format!("{}/rest/api/3/issue/{key}/watchers", st.base),
            "isWatching": watching,
            "watchCount": watchers.len(),
            "watchers": watchers,
        }),
    ))
}

/// A filter's natural key, kept as its source key: its owner and name.
fn filter_key(owner: &str, name: &str) -> String {
    format!("{owner}/{name}")
}

/// Whether `owner` has a filter or dashboard (of `table`) named `name` in any case (Jira
/// compares names lower-cased), other than `except`.
pub(super) fn owns_name(
    r: &Reader,
    table: &str,
    owner: &str,
    name: &str,
    except: Option<i64>,
) -> bool {
    let name = name.to_lowercase();
    r.rows(
        &format!("SELECT id, name FROM {table} WHERE owner_account_id = ?1"),
        &[&owner],
    )
    .iter()
    .any(|f| int(f, "id") != except && s(f, "name").to_lowercase() == name)
}

fn filter_row(r: &Reader, id: &str) -> Result<Row, Response<Body>> {
    id.parse::<i64>()
        .ok()
        .and_then(|id| r.row("SELECT * FROM filters WHERE id = ?1", &[&id]))
        .ok_or_else(|| not_found(FILTER_NOT_AVAILABLE))
}

pub(super) fn user_or_id(st: &Shared, r: &Reader, account: &str) -> Value {
    match r.row("SELECT * FROM users WHERE account_id = ?1", &[&account]) {
        Some(row) => user_json(&st.base, &row),
        None => json!({ "accountId": account }),
    }
}

/// A share as the double stores it (a filter's, a dashboard's: the columns are one).
pub(super) fn stored_share(row: &Row) -> Share {
    match s(row, "type").as_str() {
        "global" => Share::Global,
        "authenticated" => Share::LoggedIn,
        "group" => Share::Group(s(row, "group_name")),
        "project" | "projectRole" => Share::Project {
            project: s(row, "project_id"),
            role: opt(row, "role_id"),
        },
        _ => Share::User(s(row, "account_id")),
    }
}

/// A share permission (a filter's, a dashboard's) as Jira answers it: `authenticated`
/// shows as `loggedin`, a role's share as `project` with its `role`.
pub(super) fn share_json(st: &Shared, r: &Reader, id: i64, share: &Share) -> Value {
    let mut p = json!({ "id": id });
    match share {
        Share::Global => p["type"] = json!("global"),
        Share::LoggedIn => p["type"] = json!("loggedin"),
        Share::Group(name) => {
            let group = r
                .row(
                    "SELECT * FROM groups WHERE name = ?1 COLLATE NOCASE",
                    &[name],
                )
                .unwrap_or_default();
            p["type"] = json!("group");
            p["group"] = json!({
                "name": s(&group, "name"),
                "groupId": s(&group, "id"),
                "self": format!("{}/rest/api/3/group?groupId={}", st.base, s(&group, "id")),
            });
        }
        Share::Project { project, role } => {
            p["type"] = json!("project");
            let row = project
                .parse::<i64>()
                .ok()
                .and_then(|id| r.row("SELECT * FROM projects WHERE id = ?1", &[&id]))
                .unwrap_or_default();
            p["project"] = project_json(&st.base, &row);
            if let Some(role) = role.as_ref().and_then(|id| id.parse::<i64>().ok())
                && let Some(row) = r.row("SELECT * FROM project_roles WHERE id = ?1", &[&role])
            {
                p["role"] = role_json(&st.base, &row);
            }
        }
        Share::User(account) => {
            p["type"] = json!("user");
            p["user"] = user_or_id(st, r, account);
        }
    }
    p
}

/// A filter's share permissions: all of them, and those that may edit.
fn shares_json(st: &Shared, r: &Reader, filter: i64) -> (Vec<Value>, Vec<Value>) {
    let rows = r.rows(
        "SELECT * FROM filter_shares WHERE filter_id = ?1 ORDER BY id",
        &[&filter],
    );
    let answered = |row: &Row| share_json(st, r, int(row, "id").unwrap_or(0), &stored_share(row));
    let all = rows.iter().map(answered).collect();
    let edit = rows
        .iter()
        .filter(|row| int(row, "edit") == Some(1))
        .map(answered)
        .collect();
    (all, edit)
}

/// A filter; `want` says which of the optional fields to give (the search gives only
/// those it is asked to expand).
fn filter_json(st: &Shared, r: &Reader, row: &Row, want: impl Fn(&str) -> bool) -> Value {
    let id = s(row, "id");
    let mut f = json!({
        "self": format!("{}/rest/api/3/filter/{id}", st.base),
        "id": id,
        "name": s(row, "name"),
    });
    if want("description") {
        f["description"] = json!(s(row, "description"));
    }
    if want("owner")
        && let Some(owner) = opt(row, "owner_account_id")
    {
        f["owner"] = user_or_id(st, r, &owner);
    }
    if want("jql") {
        f["jql"] = json!(s(row, "jql"));
    }
    if want("viewUrl") {
        f["viewUrl"] = json!(format!("{}/issues/?filter={id}", st.base));
    }
    if want("favourite") {
        f["favourite"] = json!(false);
    }
    if want("favouritedCount") {
        f["favouritedCount"] = json!(int(row, "favourites").unwrap_or(0));
    }
    if want("sharePermissions") || want("editPermissions") {
        let (all, edit) = shares_json(st, r, int(row, "id").unwrap_or(0));
        if want("sharePermissions") {
            f["sharePermissions"] = Value::Array(all);
        }
        if want("editPermissions") {
            f["editPermissions"] = Value::Array(edit);
        }
    }
    f
}

/// `POST /rest/api/3/filter`: the caller owns the new filter; 200 with it. 400 for a
/// missing name, a name the caller's filters have, or a query naming what the site does
/// not have (the site's own check).
pub(super) async fn create_filter(State(st): S, headers: HeaderMap, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let name = text(&v, "/name")
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| {
            bad(
                "filterName",
                "You must specify a name to save this filter as.",
            )
        })?
        .to_owned();
    let same_name = || bad("filterName", "Filter with same name already exists.");
    let mut site = st.site();
    let r = st.reader();
    let owner = caller(&mut site, &r, &headers)?;
    if owns_name(&r, "filters", &owner, &name, None) {
        return Err(same_name());
    }
    let favourite = v.get("favourite").and_then(Value::as_bool) == Some(true);
    let record = Record::Filter(Filter {
        id: filter_key(&owner, &name),
        name,
        description: text(&v, "/description").unwrap_or("").to_owned(),
        owner,
        jql: text(&v, "/jql").unwrap_or("").to_owned(),
        favourites: u64::from(favourite),
    });
    let id = put_record(&mut site, record)?.map_err(|e| {
        if e.code == "duplicate-key" {
            same_name()
        } else {
            jira(StatusCode::BAD_REQUEST, &[&e.message], &[])
        }
    })?;
    let row = filter_row(&r, &id)?;
    Ok(json(StatusCode::OK, filter_json(&st, &r, &row, |_| true)))
}

/// `GET /rest/api/3/filter/{id}`. The caller is taken for an administrator asking with
/// `overrideSharePermissions`: every filter is visible.
pub(super) async fn get_filter(State(st): S, Path(id): Path<String>) -> Reply {
    let r = st.reader();
    let row = filter_row(&r, &id)?;
    Ok(json(StatusCode::OK, filter_json(&st, &r, &row, |_| true)))
}

/// `GET /rest/api/3/filter/search`: see [`search_named`].
pub(super) async fn search_filters(State(st): S, q: Q) -> Reply {
    search_named(&st, &q, "filters", "filterName", |r, row, want| {
        filter_json(&st, r, row, want)
    })
}

/// A search of filters or dashboards (of `table`): `by_name` (a case-insensitive partial
/// match, as Jira's), `accountId` (the owner), `expand`; ordered by name; paged. `answer`
/// gives a row with the fields `expand` names.
pub(super) fn search_named(
    st: &Shared,
    q: &HashMap<String, String>,
    table: &str,
    by_name: &str,
    answer: impl Fn(&Reader, &Row, &dyn Fn(&str) -> bool) -> Value,
) -> Reply {
    let r = st.reader();
    let name = q.get(by_name).map(|n| n.to_lowercase());
    let owner = q.get("accountId");
    let expand: Vec<&str> = q
        .get("expand")
        .map(|e| e.split(',').map(str::trim).collect())
        .unwrap_or_default();
    let mut rows: Vec<Row> = r
        .rows(&format!("SELECT * FROM {table} ORDER BY id"), &[])
        .into_iter()
        .filter(|row| {
            name.as_ref()
                .is_none_or(|n| s(row, "name").to_lowercase().contains(n))
                && owner.is_none_or(|o| opt(row, "owner_account_id").as_ref() == Some(o))
        })
        .collect();
    rows.sort_by_key(|row| s(row, "name").to_lowercase());
    let values: Vec<Value> = rows
        .iter()
        .map(|row| answer(&r, row, &|field| expand.contains(&field)))
        .collect();
    Ok(json(StatusCode::OK, page_bean(values, q)))
}

/// `PUT /rest/api/3/filter/{id}/owner` {accountId}: 204. 400 for an unknown user or one
/// who has a filter of this name already.
pub(super) async fn set_filter_owner(State(st): S, Path(id): Path<String>, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let account = text(&v, "/accountId")
        .filter(|a| !a.is_empty())
        .ok_or_else(|| bad("accountId", "You must specify an account id."))?
        .to_owned();
    // Held so that no write of the site comes in between.
    let _site = st.site();
    let r = st.reader();
    let row = filter_row(&r, &id)?;
    if !r.user_exists(&account) {
        return Err(error(StatusCode::BAD_REQUEST, "The user does not exist."));
    }
    let (filter, name) = (int(&row, "id"), s(&row, "name"));
    if owns_name(&r, "filters", &account, &name, filter) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "A filter with same name already exists for the new owner.",
        ));
    }
    r.execute(
        "UPDATE filters SET owner_account_id = ?1, source_key = ?2 WHERE id = ?3",
        &[&account, &filter_key(&account, &name), &filter],
    )
    .map_err(|e| {
        tracing::error!("the double could not change a filter's owner: {e}");
        error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn list_shares(State(st): S, Path(id): Path<String>) -> Reply {
    let r = st.reader();
    let row = filter_row(&r, &id)?;
    let (all, _) = shares_json(&st, &r, int(&row, "id").unwrap_or(0));
    Ok(json(StatusCode::OK, Value::Array(all)))
}

fn is_global(ty: &str) -> bool {
    matches!(ty, "global" | "authenticated")
}

/// A share's natural key, kept as its source key: its filter, type and what it names.
fn share_key(filter: i64, share: &Share) -> String {
    let ty = share.type_name();
    match share {
        Share::Global | Share::LoggedIn => format!("{filter}/{ty}"),
        Share::Group(g) => format!("{filter}/{ty}/{}", g.to_lowercase()),
        Share::Project { project, role } => {
            format!("{filter}/{ty}/{project}/{}", role.as_deref().unwrap_or(""))
        }
        Share::User(a) => format!("{filter}/{ty}/{a}"),
    }
}

/// Whether a stored share is `share` (group names in any case).
fn same_share(row: &Row, share: &Share) -> bool {
    match (stored_share(row), share) {
        (Share::Group(stored), Share::Group(g)) => stored.to_lowercase() == g.to_lowercase(),
        (stored, share) => stored == *share,
    }
}

/// `POST /rest/api/3/filter/{id}/permission`: 201 with every share of the filter. Only
/// the filter's owner may share it. A global share (`global`, `authenticated`) replaces
/// the filter's other shares, and refuses new ones until it is deleted. A share the
/// filter has already is kept, with the rights asked for.
pub(super) async fn add_share(
    State(st): S,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let v = parse(&body)?;
    let mut site = st.site();
    let r = st.reader();
    let row = filter_row(&r, &id)?;
    let filter = int(&row, "id").unwrap_or(0);
    let me = caller(&mut site, &r, &headers)?;
    if opt(&row, "owner_account_id") != Some(me) {
        return Err(not_found(FILTER_NOT_AVAILABLE));
    }
    let required = |field: &str, what: &str| {
        id_of(&v, &format!("/{field}")).ok_or_else(|| bad(field, &format!("{what} is required.")))
    };
    let share = match text(&v, "/type").unwrap_or("") {
        "global" => Share::Global,
        "authenticated" => Share::LoggedIn,
        "group" => match id_of(&v, "/groupname") {
            Some(name) => Share::Group(name),
            None => {
                let group: i64 = required("groupId", "The group")?
                    .parse()
                    .map_err(|_| error(StatusCode::BAD_REQUEST, "The group does not exist."))?;
                let row = r
                    .row("SELECT name FROM groups WHERE id = ?1", &[&group])
                    .ok_or_else(|| error(StatusCode::BAD_REQUEST, "The group does not exist."))?;
                Share::Group(s(&row, "name"))
            }
        },
        "project" => Share::Project {
            project: required("projectId", "The project id")?,
            role: None,
        },
        "projectRole" => Share::Project {
            project: required("projectId", "The project id")?,
            role: Some(required("projectRoleId", "The project role id")?),
        },
        "user" => Share::User(required("accountId", "The account id")?),
        _ => {
            return Err(bad(
                "type",
                "The type must be one of global, authenticated, group, project, projectRole, \
                 user.",
            ));
        }
    };
    let edit = v.get("rights").and_then(Value::as_i64).unwrap_or(1) & 2 != 0;
    let shares = r.rows(
        "SELECT * FROM filter_shares WHERE filter_id = ?1",
        &[&filter],
    );
    let global = is_global(share.type_name());
    let failed = |e: rusqlite::Error| {
        tracing::error!("the double could not change a filter's shares: {e}");
        error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
    };
    if let Some(existing) = shares.iter().find(|row| same_share(row, &share)) {
        r.execute(
            "UPDATE filter_shares SET edit = ?1 WHERE id = ?2",
            &[&edit, &int(existing, "id")],
        )
        .map_err(failed)?;
    } else {
        if !global && shares.iter().any(|row| is_global(&s(row, "type"))) {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "The filter is shared globally: that share must be deleted before any \
                 non-global share permission is set.",
            ));
        }
        let record = Record::FilterShare(FilterShare {
            id: share_key(filter, &share),
            filter: filter.to_string(),
            share,
            edit,
        });
        let added = put_record(&mut site, record)?
            .map_err(|e| jira(StatusCode::BAD_REQUEST, &[&e.message], &[]))?;
        if global {
            r.execute(
                "DELETE FROM filter_shares WHERE filter_id = ?1 AND id != ?2",
                &[&filter, &added.parse::<i64>().unwrap_or(0)],
            )
            .map_err(failed)?;
        }
    }
    let (all, _) = shares_json(&st, &r, filter);
    Ok(json(StatusCode::CREATED, Value::Array(all)))
}
