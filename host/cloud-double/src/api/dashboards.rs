//! Dashboards, their share permissions, their gadgets and the gadgets' item properties,
//! as Jira Cloud keeps them: a new dashboard belongs to the caller, names are distinct per
//! owner (in any case), a dashboard has Cloud's default layout (two columns: the API
//! cannot set another), and a gadget is either a gadget spec (`uri`) or a dashboard item
//! (`moduleKey`), in one of Cloud's eight colours, at a free position of the layout.

#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;

use super::*;

/// The columns of Cloud's default layout (`AA`), which every new dashboard gets.
const DEFAULT_COLUMNS: i64 = 2;
const MAX_NAME: usize = 255;
/// Cloud's gadget colours, in the order of the server's `color1` … `color8`.
const COLORS: [&str; 8] = [
    "blue", "red", "yellow", "green", "cyan", "purple", "gray", "white",
];
/// Dashboards per bulk edit.
const MAX_BULK: usize = 100;
/// Cloud numbers dashboards, share permissions and gadgets from here.
const FIRST_ID: i64 = 10_000;

fn no_dashboard() -> Response<Body> {
    not_found("The dashboard does not exist or you do not have permission to see it.")
}

fn same_name() -> Response<Body> {
    bad("name", "Dashboard with same name already exists.")
}

fn failed(e: rusqlite::Error) -> Response<Body> {
    tracing::error!("the double could not change a dashboard: {e}");
    error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
}

fn dashboard_row(r: &Reader, id: &str) -> Result<Row, Response<Body>> {
    id.parse::<i64>()
        .ok()
        .and_then(|id| r.row("SELECT * FROM double_dashboards WHERE id = ?1", &[&id]))
        .ok_or_else(no_dashboard)
}

/// A dashboard's name as Cloud takes it: not blank, at most 255 characters.
fn dashboard_name(v: &Value) -> Result<String, Response<Body>> {
    let name = text(v, "/name")
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| bad("name", "The dashboard name must not be empty."))?;
    if name.chars().count() > MAX_NAME {
        return Err(bad(
            "name",
            "The dashboard name must not be longer than 255 characters.",
        ));
    }
    Ok(name.to_owned())
}

/// A share permission of a request, checked against the site: `authenticated` (answered
/// `loggedin`, taken back as such), a role's share as `projectRole` or as `project` with
/// a `role`.
fn permission(r: &Reader, p: &Value) -> Result<Share, Response<Body>> {
    let refuse = |m: &str| bad("sharePermissions", m);
    let ty = text(p, "/type").unwrap_or("");
    match ty {
        "global" => Ok(Share::Global),
        "authenticated" | "loggedin" => Ok(Share::LoggedIn),
        "group" => {
            let row = match (text(p, "/group/name"), id_of(p, "/group/groupId")) {
                (Some(name), _) => r.row(
                    "SELECT name FROM groups WHERE name = ?1 COLLATE NOCASE",
                    &[&name],
                ),
                (None, Some(id)) => id
                    .parse::<i64>()
                    .ok()
                    .and_then(|id| r.row("SELECT name FROM groups WHERE id = ?1", &[&id])),
                (None, None) => None,
            };
            row.map(|g| Share::Group(s(&g, "name")))
                .ok_or_else(|| refuse("The group does not exist."))
        }
        "project" | "projectRole" => {
            let project = id_of(p, "/project/id")
                .and_then(|id| r.project_id(&id))
                .ok_or_else(|| refuse("The project does not exist."))?;
            let role = match id_of(p, "/role/id") {
                None if ty == "projectRole" => return Err(refuse("The project role is required.")),
                None => None,
                Some(role) => {
                    let known = role.parse::<i64>().ok().is_some_and(|id| {
                        r.exists("SELECT 1 FROM project_roles WHERE id = ?1", &[&id])
                    });
                    if !known {
                        return Err(refuse("The project role does not exist."));
                    }
                    Some(role)
                }
            };
            Ok(Share::Project {
                project: project.to_string(),
                role,
            })
        }
        "user" => match id_of(p, "/user/accountId") {
            Some(account) if r.user_exists(&account) => Ok(Share::User(account)),
            _ => Err(refuse("The user does not exist.")),
        },
        _ => Err(refuse(
            "The share type must be one of global, authenticated, group, project, \
             projectRole, user.",
        )),
    }
}

/// A request's `sharePermissions` (required) and `editPermissions`, each once.
fn permissions(r: &Reader, v: &Value) -> Result<[Vec<Share>; 2], Response<Body>> {
    let list = |field: &str, required: bool| -> Result<Vec<Share>, Response<Body>> {
        let items = match v.get(field) {
            Some(Value::Array(items)) => items.as_slice(),
            None | Some(Value::Null) if !required => &[],
            _ => return Err(bad(field, &format!("{field} must be a list."))),
        };
        let mut out: Vec<Share> = Vec::with_capacity(items.len());
        for p in items {
            let share = permission(r, p)?;
            if !out.contains(&share) {
                out.push(share);
            }
        }
        Ok(out)
    };
    Ok([
        list("sharePermissions", true)?,
        list("editPermissions", false)?,
    ])
}

/// A dashboard's permissions: id, edit or view, and the share.
fn stored_permissions(r: &Reader, dashboard: i64) -> Vec<(i64, bool, Share)> {
    r.rows(
        "SELECT * FROM double_dashboard_shares WHERE dashboard_id = ?1 ORDER BY id",
        &[&dashboard],
    )
    .iter()
    .map(|row| {
        (
            int(row, "id").unwrap_or(0),
            int(row, "edit") == Some(1),
            stored_share(row),
        )
    })
    .collect()
}

/// Replaces a dashboard's permissions with `view` and `edit`; one already there keeps its
/// id.
fn store_permissions(
    tx: &rusqlite::Connection,
    dashboard: i64,
    mut existing: Vec<(i64, bool, Share)>,
    [view, edit]: &[Vec<Share>; 2],
) -> rusqlite::Result<()> {
    let mut next: i64 = tx.query_row(
        "SELECT COALESCE(MAX(id), ?1) + 1 FROM double_dashboard_shares",
        [FIRST_ID],
        |row| row.get(0),
    )?;
    tx.execute(
        "DELETE FROM double_dashboard_shares WHERE dashboard_id = ?1",
        [dashboard],
    )?;
    for (is_edit, list) in [(false, view), (true, edit)] {
        for share in list {
            let kept = existing
                .iter()
                .position(|(_, e, s)| *e == is_edit && s == share)
                .map(|at| existing.remove(at).0);
            let id = kept.unwrap_or_else(|| {
                next += 1;
                next - 1
            });
            let (group, project, role, account) = match share {
                Share::Group(g) => (Some(g.as_str()), None, None, None),
                Share::Project { project, role } => {
                    (None, Some(project.as_str()), role.as_deref(), None)
                }
                Share::User(a) => (None, None, None, Some(a.as_str())),
                Share::Global | Share::LoggedIn => (None, None, None, None),
            };
            tx.execute(
                "INSERT INTO double_dashboard_shares
                 (id, dashboard_id, edit, type, group_name, project_id, role_id, account_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                rusqlite::params![
                    id,
                    dashboard,
                    is_edit,
                    share.type_name(),
                    group,
                    project,
                    role,
                    account
                ],
            )?;
        }
    }
    Ok(())
}

/// A dashboard; `want` says which optional fields to give (the search gives only those
/// it is asked to expand).
fn dashboard_json(st: &Shared, r: &Reader, row: &Row, want: impl Fn(&str) -> bool) -> Value {
    let id = int(row, "id").unwrap_or(0);
    let mut d = json!({
        "self": format!("{}/rest/api/3/dashboard/{id}", st.base),
        "id": id.to_string(),
        "name": s(row, "name"),
        "view": format!("{}/jira/dashboards/{id}", st.base),
        "isFavourite": false,
        "popularity": 0,
        "systemDashboard": false,
    });
    if want("description") {
        d["description"] = json!(s(row, "description"));
    }
    if want("owner") {
        d["owner"] = user_or_id(st, r, &s(row, "owner_account_id"));
    }
    if want("sharePermissions") || want("editPermissions") {
        let stored = stored_permissions(r, id);
        let list = |edit: bool| -> Vec<Value> {
            stored
                .iter()
                .filter(|(_, e, _)| *e == edit)
                .map(|(pid, _, share)| share_json(st, r, *pid, share))
                .collect()
        };
        if want("sharePermissions") {
            d["sharePermissions"] = Value::Array(list(false));
        }
        if want("editPermissions") {
            d["editPermissions"] = Value::Array(list(true));
        }
    }
    d
}

fn answer(st: &Shared, r: &Reader, id: i64) -> Reply {
    let row = dashboard_row(r, &id.to_string())?;
    Ok(json(StatusCode::OK, dashboard_json(st, r, &row, |_| true)))
}

/// `POST /rest/api/3/dashboard`: the caller owns the new dashboard, which has Cloud's
/// default layout; 200 with it. 400 for a blank or long name, a name the caller's
/// dashboards have (in any case), or a share naming what the site has not.
pub(super) async fn create_dashboard(State(st): S, headers: HeaderMap, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let name = dashboard_name(&v)?;
    let description = text(&v, "/description").unwrap_or("").to_owned();
    let mut site = st.site();
    let r = st.reader();
    let owner = caller(&mut site, &r, &headers)?;
    let lists = permissions(&r, &v)?;
    if owns_name(&r, "double_dashboards", &owner, &name, None) {
        return Err(same_name());
    }
    let id = r
        .transaction(|tx| {
            let id: i64 = tx.query_row(
                "SELECT COALESCE(MAX(id), ?1) + 1 FROM double_dashboards",
                [FIRST_ID],
                |row| row.get(0),
            )?;
            tx.execute(
                "INSERT INTO double_dashboards (id, name, description, owner_account_id, columns)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![id, name, description, owner, DEFAULT_COLUMNS],
            )?;
            store_permissions(tx, id, Vec::new(), &lists)?;
            Ok(id)
        })
        .map_err(failed)?;
    answer(&st, &r, id)
}

/// `GET /rest/api/3/dashboard/{id}`. The caller is taken for an administrator: every
/// dashboard is visible.
pub(super) async fn get_dashboard(State(st): S, Path(id): Path<String>) -> Reply {
    let r = st.reader();
    let row = dashboard_row(&r, &id)?;
    Ok(json(
        StatusCode::OK,
        dashboard_json(&st, &r, &row, |_| true),
    ))
}

/// `PUT /rest/api/3/dashboard/{id}`: replaces the name, description and share
/// permissions; 200 with the dashboard. Only its owner may, or an administrator asking
/// with `extendAdminPermissions`. 400 for a name its owner has for another dashboard.
pub(super) async fn update_dashboard(
    State(st): S,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let v = parse(&body)?;
    let name = dashboard_name(&v)?;
    let description = text(&v, "/description").unwrap_or("").to_owned();
    let admin = v.get("extendAdminPermissions").and_then(Value::as_bool) == Some(true);
    let mut site = st.site();
    let r = st.reader();
    let row = dashboard_row(&r, &id)?;
    let dashboard = int(&row, "id").unwrap_or(0);
    let owner = s(&row, "owner_account_id");
    let me = caller(&mut site, &r, &headers)?;
    if owner != me && !admin {
        return Err(error(
            StatusCode::FORBIDDEN,
            "You do not have permission to edit this dashboard.",
        ));
    }
    let lists = permissions(&r, &v)?;
    if owns_name(&r, "double_dashboards", &owner, &name, Some(dashboard)) {
        return Err(same_name());
    }
    let existing = stored_permissions(&r, dashboard);
    r.transaction(|tx| {
        tx.execute(
            "UPDATE double_dashboards SET name = ?1, description = ?2 WHERE id = ?3",
            rusqlite::params![name, description, dashboard],
        )?;
        store_permissions(tx, dashboard, existing, &lists)
    })
    .map_err(failed)?;
    answer(&st, &r, dashboard)
}

/// `GET /rest/api/3/dashboard/search`: see [`search_named`].
pub(super) async fn search_dashboards(State(st): S, q: Q) -> Reply {
    search_named(
        &st,
        &q,
        "double_dashboards",
        "dashboardName",
        |r, row, want| dashboard_json(&st, r, row, want),
    )
}

/// `PUT /rest/api/3/dashboard/bulk/edit` with action `changeOwner`: 200 with each
/// dashboard that could not be changed in `entityErrors` (an unknown dashboard, one the
/// caller neither owns nor administers, an unknown new owner, or one who has a dashboard
/// of that name already, unless `autofixName`). Giving a dashboard to its owner changes
/// nothing.
pub(super) async fn bulk_edit_dashboards(State(st): S, headers: HeaderMap, body: Bytes) -> Reply {
    let v = parse(&body)?;
    if text(&v, "/action") != Some("changeOwner") {
        return Err(bad("action", "Only the changeOwner action is supported."));
    }
    let ids = match v.get("entityIds") {
        Some(Value::Array(ids)) if !ids.is_empty() && ids.len() <= MAX_BULK => ids.clone(),
        _ => {
            return Err(bad(
                "entityIds",
                "Between 1 and 100 dashboard ids must be given.",
            ));
        }
    };
    let new_owner = text(&v, "/changeOwnerDetails/newOwner")
        .filter(|o| !o.is_empty())
        .ok_or_else(|| bad("changeOwnerDetails", "The new owner is required."))?
        .to_owned();
    let autofix = v
        .pointer("/changeOwnerDetails/autofixName")
        .and_then(Value::as_bool)
        == Some(true);
    let admin = v.get("extendAdminPermissions").and_then(Value::as_bool) == Some(true);
    let mut site = st.site();
    let r = st.reader();
    let me = caller(&mut site, &r, &headers)?;
    let mut errors = serde_json::Map::new();
    for id in &ids {
        let key = match id {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let mut refuse = |m: &str| {
            errors.insert(key.clone(), json!({ "errors": [m] }));
        };
        let Ok(row) = dashboard_row(&r, &key) else {
            refuse("The dashboard does not exist.");
            continue;
        };
        let dashboard = int(&row, "id").unwrap_or(0);
        let owner = s(&row, "owner_account_id");
        if owner == new_owner {
            continue;
        }
        if owner != me && !admin {
            refuse("You do not have permission to change the owner of this dashboard.");
            continue;
        }
        if !r.user_exists(&new_owner) {
            refuse("The user does not exist.");
            continue;
        }
        let mut name = s(&row, "name");
        if owns_name(&r, "double_dashboards", &new_owner, &name, Some(dashboard)) {
            if !autofix {
                refuse("A dashboard with the same name already exists for the new owner.");
                continue;
            }
            let base = name.clone();
            name = (2..)
                .map(|n| format!("{base} ({n})"))
                .find(|n| !owns_name(&r, "double_dashboards", &new_owner, n, Some(dashboard)))
                .expect("a free name");
        }
        r.execute(
            "UPDATE double_dashboards SET owner_account_id = ?1, name = ?2 WHERE id = ?3",
            &[&new_owner, &name, &dashboard],
        )
        .map_err(failed)?;
    }
    Ok(json(
        StatusCode::OK,
        json!({ "action": "changeOwner", "entityErrors": errors }),
    ))
}

fn gadget_json(row: &Row) -> Value {
    let mut g = json!({
        "id": int(row, "id"),
        "color": s(row, "color"),
        "position": { "column": int(row, "column_no"), "row": int(row, "row_no") },
    });
    if let Some(uri) = opt(row, "uri") {
        g["uri"] = json!(uri);
    }
    if let Some(key) = opt(row, "module_key") {
        g["moduleKey"] = json!(key);
    }
    if let Some(title) = opt(row, "title") {
        g["title"] = json!(title);
    }
    g
}

/// `POST /rest/api/3/dashboard/{id}/gadget`: 200 with the gadget. 400 unless exactly one
/// of `uri` and `moduleKey` is given, for a colour not Cloud's or a column the layout has
/// not. A position another gadget has is taken all the same: as Jira documents it, the
/// column's gadgets from that row down move one row down. No position is the first free
/// row of the first column.
pub(super) async fn add_gadget(State(st): S, Path(id): Path<String>, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let given = |field: &str| text(&v, field).filter(|t| !t.is_empty()).map(str::to_owned);
    let (uri, module_key) = (given("/uri"), given("/moduleKey"));
    if uri.is_some() == module_key.is_some() {
        return Err(bad(
            "gadget",
            "Either the gadget's uri or its moduleKey must be given, not both.",
        ));
    }
    let color = match v.get("color") {
        None | Some(Value::Null) => COLORS[0],
        Some(Value::String(c)) if COLORS.contains(&c.as_str()) => c.as_str(),
        Some(_) => {
            return Err(bad(
                "color",
                "The color must be one of blue, red, yellow, green, cyan, purple, gray, white.",
            ));
        }
    };
    let title = given("/title");
    let _site = st.site();
    let r = st.reader();
    let row = dashboard_row(&r, &id)?;
    let dashboard = int(&row, "id").unwrap_or(0);
    let columns = int(&row, "columns").unwrap_or(DEFAULT_COLUMNS);
    let (column, row_no) = match v.get("position") {
        None | Some(Value::Null) => {
            let next = r
                .int(
                    "SELECT COALESCE(MAX(row_no) + 1, 0) FROM double_gadgets
                     WHERE dashboard_id = ?1 AND column_no = 0",
                    &[&dashboard],
                )
                .unwrap_or(0);
            (0, next)
        }
        Some(p) => match (
            p.get("column").and_then(Value::as_i64),
            p.get("row").and_then(Value::as_i64),
        ) {
            (Some(c), Some(row)) => (c, row),
            _ => {
                return Err(bad(
                    "position",
                    "The gadget's position needs a column and a row.",
                ));
            }
        },
    };
    if !(0..columns).contains(&column) {
        return Err(bad(
            "position",
            "The gadget's column is outside the dashboard's layout.",
        ));
    }
    if row_no < 0 {
        return Err(bad("position", "The gadget's row must not be negative."));
    }
    let gadget = r
        .transaction(|tx| {
            // Down one row, through negative rows: a row is unique in its column.
            tx.execute(
                "UPDATE double_gadgets SET row_no = -row_no - 2
                 WHERE dashboard_id = ?1 AND column_no = ?2 AND row_no >= ?3",
                rusqlite::params![dashboard, column, row_no],
            )?;
            tx.execute(
                "UPDATE double_gadgets SET row_no = -row_no - 1
                 WHERE dashboard_id = ?1 AND column_no = ?2 AND row_no < 0",
                rusqlite::params![dashboard, column],
            )?;
            let id: i64 = tx.query_row(
                "SELECT COALESCE(MAX(id), ?1) + 1 FROM double_gadgets",
                [FIRST_ID],
                |row| row.get(0),
            )?;
            tx.execute(
                "INSERT INTO double_gadgets
                 (id, dashboard_id, uri, module_key, color, column_no, row_no, title)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                rusqlite::params![id, dashboard, uri, module_key, color, column, row_no, title],
            )?;
            Ok(id)
        })
        .map_err(failed)?;
    let row = r
        .row("SELECT * FROM double_gadgets WHERE id = ?1", &[&gadget])
        .unwrap_or_default();
    Ok(json(StatusCode::OK, gadget_json(&row)))
}

/// `GET /rest/api/3/dashboard/{id}/gadget`: every gadget, by column and row.
pub(super) async fn list_gadgets(State(st): S, Path(id): Path<String>) -> Reply {
    let r = st.reader();
    let row = dashboard_row(&r, &id)?;
    let gadgets: Vec<Value> = r
        .rows(
            "SELECT * FROM double_gadgets WHERE dashboard_id = ?1 ORDER BY column_no, row_no",
            &[&int(&row, "id")],
        )
        .iter()
        .map(gadget_json)
        .collect();
    Ok(json(StatusCode::OK, json!({ "gadgets": gadgets })))
}

/// The ids of a dashboard and one of its gadgets, or 404.
fn item(r: &Reader, dashboard: &str, item: &str) -> Result<(i64, i64), Response<Body>> {
    let row = dashboard_row(r, dashboard)?;
    let dashboard = int(&row, "id").unwrap_or(0);
    item.parse::<i64>()
        .ok()
        .filter(|id| {
            r.exists(
                "SELECT 1 FROM double_gadgets WHERE id = ?1 AND dashboard_id = ?2",
                &[id, &dashboard],
            )
        })
        .map(|id| (dashboard, id))
        .ok_or_else(|| not_found("The dashboard item does not exist."))
}

/// `PUT /rest/api/3/dashboard/{id}/items/{item}/properties/{key}`: keys and values as
/// every entity property's; 201 when created, 200 when replaced.
pub(super) async fn put_item_property(
    State(st): S,
    Path((dashboard, gadget, key)): Path<(String, String, String)>,
    body: Bytes,
) -> Reply {
    let value = property_value(&key, &body)?;
    let _site = st.site();
    let r = st.reader();
    let (dashboard, gadget) = item(&r, &dashboard, &gadget)?;
    let existed = r.exists(
        "SELECT 1 FROM double_item_properties
         WHERE dashboard_id = ?1 AND item_id = ?2 AND key = ?3",
        &[&dashboard, &gadget, &key],
    );
    r.execute(
        "INSERT INTO double_item_properties (dashboard_id, item_id, key, value)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (dashboard_id, item_id, key) DO UPDATE SET value = excluded.value",
        &[&dashboard, &gadget, &key, &value],
    )
    .map_err(failed)?;
    Ok(if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    }
    .into_response())
}

/// `GET /rest/api/3/dashboard/{id}/items/{item}/properties/{key}`: `{key, value}`, or 404.
pub(super) async fn get_item_property(
    State(st): S,
    Path((dashboard, gadget, key)): Path<(String, String, String)>,
) -> Reply {
    let r = st.reader();
    let (dashboard, gadget) = item(&r, &dashboard, &gadget)?;
    let row = r
        .row(
            "SELECT value FROM double_item_properties
             WHERE dashboard_id = ?1 AND item_id = ?2 AND key = ?3",
            &[&dashboard, &gadget, &key],
        )
        .ok_or_else(|| not_found("The property does not exist."))?;
    let value: Value = serde_json::from_str(&s(&row, "value")).unwrap_or(Value::Null);
    Ok(json(StatusCode::OK, json!({ "key": key, "value": value })))
}

impl Shared {
    /// Every dashboard with its permissions, gadgets and their item properties, by id.
    pub(crate) fn dashboards(&self) -> Vec<crate::CloudDashboard> {
        let r = self.reader();
        r.rows("SELECT * FROM double_dashboards ORDER BY id", &[])
            .iter()
            .map(|d| {
                let id = int(d, "id").unwrap_or(0);
                let stored = stored_permissions(&r, id);
                let list = |edit: bool| -> Vec<(String, Share)> {
                    stored
                        .iter()
                        .filter(|(_, e, _)| *e == edit)
                        .map(|(pid, _, share)| (pid.to_string(), share.clone()))
                        .collect()
                };
                let gadgets = r
                    .rows(
                        "SELECT * FROM double_gadgets WHERE dashboard_id = ?1 ORDER BY id",
                        &[&id],
                    )
                    .iter()
                    .map(|g| {
                        let gid = int(g, "id").unwrap_or(0);
                        let properties: BTreeMap<String, Value> = r
                            .rows(
                                "SELECT key, value FROM double_item_properties
                                 WHERE dashboard_id = ?1 AND item_id = ?2 ORDER BY key",
                                &[&id, &gid],
                            )
                            .iter()
                            .map(|p| {
                                let value =
                                    serde_json::from_str(&s(p, "value")).unwrap_or(Value::Null);
                                (s(p, "key"), value)
                            })
                            .collect();
                        crate::CloudGadget {
                            id: gid.to_string(),
                            column: int(g, "column_no").unwrap_or(0) as u32,
                            row: int(g, "row_no").unwrap_or(0) as u32,
                            uri: opt(g, "uri"),
                            module_key: opt(g, "module_key"),
                            color: s(g, "color"),
                            title: opt(g, "title"),
                            properties,
                        }
                    })
                    .collect();
                crate::CloudDashboard {
                    id: id.to_string(),
                    name: s(d, "name"),
                    description: s(d, "description"),
                    owner: s(d, "owner_account_id"),
                    shares: list(false),
                    editors: list(true),
                    gadgets,
                }
            })
            .collect()
    }
}
