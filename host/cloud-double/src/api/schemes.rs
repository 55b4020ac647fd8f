//! Project categories, permission schemes with their grants, and the permission scheme
//! each project uses, with Cloud's rules: a name another category or scheme has (in any
//! case) is refused before anything is written (the local site's writer would rename a
//! scheme instead), so is a grant the scheme has already, a permission that is not a
//! project permission, and a holder the site does not have. An unknown scheme or project
//! is 404.

#![allow(clippy::result_large_err)]

use airlock_model::jira::{
    PermissionHolder, PermissionScheme, ProjectCategory, ProjectScheme, SchemePermission,
    SchemeType,
};

use super::*;

/// Jira Cloud's project permissions: the keys a grant may name.
pub(super) const PROJECT_PERMISSIONS: [&str; 35] = [
    "BROWSE_PROJECTS",
    "CREATE_ISSUES",
    "EDIT_ISSUES",
    "TRANSITION_ISSUES",
    "ASSIGN_ISSUES",
    "ASSIGNABLE_USER",
    "RESOLVE_ISSUES",
    "CLOSE_ISSUES",
    "DELETE_ISSUES",
    "LINK_ISSUES",
    "MOVE_ISSUES",
    "SCHEDULE_ISSUES",
    "SET_ISSUE_SECURITY",
    "MODIFY_REPORTER",
    "ADD_COMMENTS",
    "EDIT_ALL_COMMENTS",
    "EDIT_OWN_COMMENTS",
    "DELETE_ALL_COMMENTS",
    "DELETE_OWN_COMMENTS",
    "CREATE_ATTACHMENTS",
    "DELETE_ALL_ATTACHMENTS",
    "DELETE_OWN_ATTACHMENTS",
    "WORK_ON_ISSUES",
    "EDIT_OWN_WORKLOGS",
    "EDIT_ALL_WORKLOGS",
    "DELETE_OWN_WORKLOGS",
    "DELETE_ALL_WORKLOGS",
    "VIEW_VOTERS_AND_WATCHERS",
    "MANAGE_WATCHERS",
    "ADMINISTER_PROJECTS",
    "VIEW_DEV_TOOLS",
    "VIEW_READONLY_WORKFLOW",
    "MANAGE_SPRINTS_PERMISSION",
    "VIEW_AGGREGATED_DATA",
    "SERVICEDESK_AGENT",
];

/// The applications an `applicationRole` grant may name (Jira Cloud's application keys).
const APPLICATIONS: [&str; 4] = [
    "jira-software",
    "jira-servicedesk",
    "jira-core",
    "jira-product-discovery",
];

/// Cloud's default permission scheme, which a project without one of its own uses.
const DEFAULT_SCHEME: i64 = 0;

fn no_project() -> Response<Body> {
    not_found("No project could be found with this key or id.")
}

fn no_scheme(id: &str) -> Response<Body> {
    not_found(&format!(
        "The permission scheme with id '{id}' does not exist."
    ))
}

// --- Project categories ---

pub(super) fn category_json(base: &str, row: &Row) -> Value {
    json!({
        "self": format!("{base}/rest/api/3/projectCategory/{}", s(row, "id")),
        "id": s(row, "id"),
        "name": s(row, "name"),
        "description": s(row, "description"),
    })
}

/// The category a project is in, as `GET …/project/{id}` shows it.
pub(super) fn project_category_json(base: &str, r: &Reader, project: i64) -> Option<Value> {
    r.row(
        "SELECT c.* FROM project_schemes m JOIN project_categories c ON c.id = m.scheme_id
         WHERE m.project_id = ?1 AND m.scheme_type = 'category'",
        &[&project],
    )
    .map(|row| category_json(base, &row))
}

/// A category's id, if the site has it.
pub(super) fn category_id(r: &Reader, id: &str) -> Option<i64> {
    let id: i64 = id.parse().ok()?;
    r.int("SELECT id FROM project_categories WHERE id = ?1", &[&id])
}

pub(super) async fn list_categories(State(st): S) -> Reply {
    let r = st.reader();
    let list: Vec<Value> = r
        .rows("SELECT * FROM project_categories ORDER BY id", &[])
        .iter()
        .map(|c| category_json(&st.base, c))
        .collect();
    Ok(json(StatusCode::OK, Value::Array(list)))
}

pub(super) async fn get_category(State(st): S, Path(id): Path<String>) -> Reply {
    let r = st.reader();
    let id = category_id(&r, &id).ok_or_else(|| {
        not_found(&format!(
            "The project category with id '{id}' does not exist."
        ))
    })?;
    let row = r
        .row("SELECT * FROM project_categories WHERE id = ?1", &[&id])
        .unwrap_or_default();
    Ok(json(StatusCode::OK, category_json(&st.base, &row)))
}

/// A create's `name` (required, trimmed) and `description` (optional text), refused as
/// Cloud refuses them.
pub(super) fn named(v: &Value, what: &str) -> Result<(String, String), Response<Body>> {
    let name = text(v, "/name")
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| bad("name", &format!("The {what} name must not be empty.")))?
        .to_owned();
    let description = match v.get("description") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(d)) => d.clone(),
        Some(_) => return Err(bad("description", "The description must be a string.")),
    };
    Ok((name, description))
}

/// `POST /rest/api/3/projectCategory`: 201 with the category; 409 for a name another
/// category has (in any case).
pub(super) async fn create_category(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let (name, description) = named(&v, "project category")?;
    let mut site = st.site();
    let r = st.reader();
    if r.exists(
        "SELECT 1 FROM project_categories WHERE name = ?1 COLLATE NOCASE",
        &[&name],
    ) {
        return Err(error(
            StatusCode::CONFLICT,
            &format!("A project category with the name '{name}' already exists."),
        ));
    }
    let record = Record::ProjectCategory(ProjectCategory {
        id: name.to_lowercase(),
        name,
        description,
    });
    let id = put_record(&mut site, record)?.map_err(|e| refused("name", &e))?;
    let id: i64 = id.parse().unwrap_or(0);
    let row = r
        .row("SELECT * FROM project_categories WHERE id = ?1", &[&id])
        .unwrap_or_default();
    Ok(json(StatusCode::CREATED, category_json(&st.base, &row)))
}

// --- Permission schemes ---

fn scheme_json(base: &str, row: &Row) -> Value {
    json!({
        "expand": "permissions,user,group,projectRole,field,all",
        "id": int(row, "id"),
        "self": format!("{base}/rest/api/3/permissionscheme/{}", s(row, "id")),
        "name": s(row, "name"),
        "description": s(row, "description"),
    })
}

/// A scheme with its grants.
fn scheme_with_grants(base: &str, r: &Reader, row: &Row) -> Value {
    let mut v = scheme_json(base, row);
    v["permissions"] = Value::Array(grants_json(base, r, int(row, "id").unwrap_or_default()));
    v
}

/// Whether `expand` asks for the schemes' grants.
fn expands_permissions(q: &HashMap<String, String>) -> bool {
    q.get("expand").is_some_and(|e| {
        e.split(',')
            .any(|x| matches!(x.trim(), "permissions" | "all"))
    })
}

fn scheme_row(r: &Reader, id: &str) -> Option<Row> {
    let id: i64 = id.parse().ok()?;
    r.row("SELECT * FROM permission_schemes WHERE id = ?1", &[&id])
}

/// A holder of a row (`holder_type`, `parameter`: a grant's or a level member's) as Cloud
/// answers it.
pub(super) fn holder_json(row: &Row) -> Value {
    let holder_type = s(row, "holder_type");
    let mut holder = json!({ "type": holder_type });
    if let Some(parameter) = opt(row, "parameter") {
        holder["parameter"] = json!(parameter);
        // Cloud's `value` is the holder's id; the site keeps no id of a group's.
        if holder_type != "group" {
            holder["value"] = json!(parameter);
        }
    }
    holder
}

fn grant_json(base: &str, row: &Row) -> Value {
    let holder = holder_json(row);
    json!({
        "id": int(row, "id"),
        "self": format!(
            "{base}/rest/api/3/permissionscheme/{}/permission/{}",
            s(row, "scheme_id"),
            s(row, "id")
        ),
        "holder": holder,
        "permission": s(row, "permission"),
    })
}

fn grants_json(base: &str, r: &Reader, scheme: i64) -> Vec<Value> {
    r.rows(
        "SELECT * FROM scheme_permissions WHERE scheme_id = ?1 ORDER BY id",
        &[&scheme],
    )
    .iter()
    .map(|g| grant_json(base, g))
    .collect()
}

/// A holder from Cloud's `type` and `parameter`; a type Cloud does not know, or one
/// without the parameter it needs, is refused (on `field`). A parameter the type takes
/// none of is ignored.
fn from_cloud(
    holder_type: &str,
    parameter: Option<&str>,
    field: &str,
) -> Result<PermissionHolder, Response<Body>> {
    let parameter = parameter.filter(|p| !p.is_empty()).map(str::to_owned);
    let required = |p: Option<String>| {
        p.ok_or_else(|| {
            bad(
                field,
                &format!("The parameter is required for the holder type '{holder_type}'."),
            )
        })
    };
    Ok(match holder_type {
        "anyone" => PermissionHolder::Anyone,
        "group" => PermissionHolder::Group(required(parameter)?),
        "user" => PermissionHolder::User(required(parameter)?),
        "projectRole" => PermissionHolder::ProjectRole(required(parameter)?),
        "applicationRole" => PermissionHolder::ApplicationRole(parameter),
        "reporter" => PermissionHolder::Reporter,
        "projectLead" => PermissionHolder::ProjectLead,
        "assignee" => PermissionHolder::Assignee,
        "userCustomField" => PermissionHolder::UserCustomField(required(parameter)?),
        "groupCustomField" => PermissionHolder::GroupCustomField(required(parameter)?),
        _ => {
            return Err(bad(
                field,
                &format!("The holder type '{holder_type}' is not valid."),
            ));
        }
    })
}

/// A grant of a request body (`{"holder": {"type", "parameter"}, "permission"}`), checked
/// as Cloud does: its holder as the site spells it (a group's name).
fn new_grant(r: &Reader, v: &Value) -> Result<(String, PermissionHolder), Response<Body>> {
    let permission = text(v, "/permission")
        .filter(|p| !p.is_empty())
        .ok_or_else(|| bad("permission", "The permission is required."))?;
    if !PROJECT_PERMISSIONS.contains(&permission) {
        return Err(bad(
            "permission",
            &format!("The permission with key '{permission}' is not a valid project permission."),
        ));
    }
    let holder = known_holder(r, v.get("holder").unwrap_or(&Value::Null), "holder")?;
    Ok((permission.to_owned(), holder))
}

/// A holder of a request body (`{"type", "parameter"}`: a grant's, a level member's),
/// checked as Cloud does (refused on `field`): a type it knows with the parameter it needs,
/// naming a group (in any case), user, project role, custom field or application the site
/// has. A group as the site spells its name.
pub(super) fn known_holder(
    r: &Reader,
    holder: &Value,
    field: &str,
) -> Result<PermissionHolder, Response<Body>> {
    let holder_type =
        text(holder, "/type").ok_or_else(|| bad(field, "The holder type is required."))?;
    let parameter = match holder.get("parameter") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) => Some(p.as_str()),
        Some(_) => return Err(bad(field, "The holder's parameter must be a string.")),
    };
    Ok(match from_cloud(holder_type, parameter, field)? {
        PermissionHolder::Group(name) => {
            let group = r
                .row(
                    "SELECT name FROM groups WHERE name = ?1 COLLATE NOCASE",
                    &[&name],
                )
                .ok_or_else(|| bad(field, &format!("The group '{name}' does not exist.")))?;
            PermissionHolder::Group(s(&group, "name"))
        }
        PermissionHolder::User(account) => {
            if !r.user_exists(&account) {
                return Err(bad(
                    field,
                    &format!("The user with account ID '{account}' does not exist."),
                ));
            }
            PermissionHolder::User(account)
        }
        PermissionHolder::ProjectRole(role) => {
            let found = role
                .parse::<i64>()
                .ok()
                .and_then(|id| r.int("SELECT id FROM project_roles WHERE id = ?1", &[&id]));
            let Some(id) = found else {
                return Err(bad(
                    field,
                    &format!("The project role with ID '{role}' does not exist."),
                ));
            };
            PermissionHolder::ProjectRole(id.to_string())
        }
        PermissionHolder::UserCustomField(f) | PermissionHolder::GroupCustomField(f)
            if r.field_id(&f).is_none() =>
        {
            return Err(bad(
                field,
                &format!("The custom field '{f}' does not exist."),
            ));
        }
        PermissionHolder::ApplicationRole(Some(app)) if !APPLICATIONS.contains(&app.as_str()) => {
            return Err(bad(
                field,
                &format!("The application '{app}' does not exist."),
            ));
        }
        holder => holder,
    })
}

/// Whether the scheme has the grant already.
fn has_grant(r: &Reader, scheme: i64, permission: &str, holder: &PermissionHolder) -> bool {
    r.exists(
        "SELECT 1 FROM scheme_permissions WHERE scheme_id = ?1 AND permission = ?2
         AND holder_type = ?3 AND IFNULL(parameter, '') = IFNULL(?4, '')",
        &[
            &scheme,
            &permission,
            &holder.cloud_type(),
            &holder.parameter(),
        ],
    )
}

fn duplicate_grant() -> Response<Body> {
    error(
        StatusCode::BAD_REQUEST,
        "The permission scheme already has this permission grant.",
    )
}

/// Writes a grant (checked by [`new_grant`]); its id.
fn put_grant(
    site: &mut LocalSite,
    scheme: i64,
    permission: String,
    holder: PermissionHolder,
) -> Result<i64, Response<Body>> {
    let record = Record::SchemePermission(SchemePermission {
        // The natural key as the source key: a grant added twice shows.
        id: format!(
            "{scheme}/{permission}/{}:{}",
            holder.cloud_type(),
            holder.parameter().unwrap_or("")
        ),
        scheme: scheme.to_string(),
        permission,
        holder,
    });
    let id = put_record(site, record)?.map_err(|e| refused("holder", &e))?;
    Ok(id.parse().unwrap_or(0))
}

pub(super) async fn list_permission_schemes(State(st): S, q: Q) -> Reply {
    let r = st.reader();
    let expand = expands_permissions(&q);
    let schemes: Vec<Value> = r
        .rows("SELECT * FROM permission_schemes ORDER BY id", &[])
        .iter()
        .map(|row| {
            if expand {
                scheme_with_grants(&st.base, &r, row)
            } else {
                scheme_json(&st.base, row)
            }
        })
        .collect();
    Ok(json(
        StatusCode::OK,
        json!({ "permissionSchemes": schemes }),
    ))
}

pub(super) async fn get_permission_scheme(State(st): S, Path(id): Path<String>, q: Q) -> Reply {
    let r = st.reader();
    let row = scheme_row(&r, &id).ok_or_else(|| no_scheme(&id))?;
    Ok(json(
        StatusCode::OK,
        if expands_permissions(&q) {
            scheme_with_grants(&st.base, &r, &row)
        } else {
            scheme_json(&st.base, &row)
        },
    ))
}

/// `POST /rest/api/3/permissionscheme`: 201 with the scheme and its grants; 400 for a name
/// another scheme has (in any case), and for any grant refused (then nothing is written).
pub(super) async fn create_permission_scheme(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let (name, description) = named(&v, "permission scheme")?;
    let list = match v.get("permissions") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(list)) => list.as_slice(),
        Some(_) => return Err(bad("permissions", "The permissions must be a list.")),
    };
    let mut site = st.site();
    let r = st.reader();
    if r.exists(
        "SELECT 1 FROM permission_schemes WHERE name = ?1 COLLATE NOCASE",
        &[&name],
    ) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            &format!("A permission scheme with the name '{name}' already exists."),
        ));
    }
    // Every grant is checked before anything is written.
    let mut grants: Vec<(String, PermissionHolder)> = Vec::with_capacity(list.len());
    for g in list {
        let grant = new_grant(&r, g)?;
        if grants.contains(&grant) {
            return Err(duplicate_grant());
        }
        grants.push(grant);
    }
    let record = Record::PermissionScheme(PermissionScheme {
        id: name.to_lowercase(),
        name,
        description,
    });
    let id = put_record(&mut site, record)?.map_err(|e| refused("name", &e))?;
    let id: i64 = id.parse().unwrap_or(0);
    for (permission, holder) in grants {
        put_grant(&mut site, id, permission, holder)?;
    }
    let row = r
        .row("SELECT * FROM permission_schemes WHERE id = ?1", &[&id])
        .unwrap_or_default();
    Ok(json(
        StatusCode::CREATED,
        scheme_with_grants(&st.base, &r, &row),
    ))
}

pub(super) async fn list_grants(State(st): S, Path(id): Path<String>) -> Reply {
    let r = st.reader();
    let row = scheme_row(&r, &id).ok_or_else(|| no_scheme(&id))?;
    let scheme = int(&row, "id").unwrap_or_default();
    Ok(json(
        StatusCode::OK,
        json!({ "permissions": grants_json(&st.base, &r, scheme) }),
    ))
}

/// `POST /rest/api/3/permissionscheme/{id}/permission`: 201 with the grant; 400 for a
/// grant the scheme has already.
pub(super) async fn add_grant(State(st): S, Path(id): Path<String>, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let mut site = st.site();
    let r = st.reader();
    let row = scheme_row(&r, &id).ok_or_else(|| no_scheme(&id))?;
    let scheme = int(&row, "id").unwrap_or_default();
    let (permission, holder) = new_grant(&r, &v)?;
    if has_grant(&r, scheme, &permission, &holder) {
        return Err(duplicate_grant());
    }
    let id = put_grant(&mut site, scheme, permission, holder)?;
    let grant = r
        .row("SELECT * FROM scheme_permissions WHERE id = ?1", &[&id])
        .unwrap_or_default();
    Ok(json(StatusCode::CREATED, grant_json(&st.base, &grant)))
}

// --- The scheme a project uses ---

/// The permission scheme the project uses: its own, or Cloud's default.
fn project_scheme_row(r: &Reader, project: i64) -> Row {
    let id = r
        .int(
            "SELECT scheme_id FROM project_schemes
             WHERE project_id = ?1 AND scheme_type = 'permission'",
            &[&project],
        )
        .unwrap_or(DEFAULT_SCHEME);
    r.row("SELECT * FROM permission_schemes WHERE id = ?1", &[&id])
        .unwrap_or_default()
}

pub(super) async fn get_project_permission_scheme(
    State(st): S,
    Path(project): Path<String>,
) -> Reply {
    let r = st.reader();
    let project = r.project_id(&project).ok_or_else(no_project)?;
    Ok(json(
        StatusCode::OK,
        scheme_json(&st.base, &project_scheme_row(&r, project)),
    ))
}

/// `PUT /rest/api/3/project/{id}/permissionscheme` (`{"id"}`): 200 with the scheme the
/// project uses now.
pub(super) async fn assign_permission_scheme(
    State(st): S,
    Path(project): Path<String>,
    body: Bytes,
) -> Reply {
    let v = parse(&body)?;
    let scheme =
        id_of(&v, "/id").ok_or_else(|| bad("id", "The permission scheme ID is required."))?;
    let mut site = st.site();
    let r = st.reader();
    let project = r.project_id(&project).ok_or_else(no_project)?;
    let row = scheme_row(&r, &scheme).ok_or_else(|| no_scheme(&scheme))?;
    let scheme = int(&row, "id").unwrap_or_default();
    let record = Record::ProjectScheme(ProjectScheme {
        id: format!("{project}/permission"),
        project: project.to_string(),
        scheme_type: SchemeType::Permission,
        scheme: scheme.to_string(),
    });
    put_record(&mut site, record)?.map_err(|e| refused("id", &e))?;
    Ok(json(
        StatusCode::OK,
        scheme_json(&st.base, &project_scheme_row(&r, project)),
    ))
}
