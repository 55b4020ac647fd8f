//! Projects (found by their former keys too, renamed, put in a category), components,
//! versions.

#![allow(clippy::result_large_err)]

use airlock_model::jira::{ProjectKey, ProjectScheme, SchemeType};

use super::*;

pub(super) fn project_json(base: &str, row: &Row) -> Value {
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

pub(super) async fn create_project(State(st): S, body: Bytes) -> Reply {
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

pub(super) async fn search_projects(State(st): S, q: Q) -> Reply {
    let r = st.reader();
    let list: Vec<Value> = r
        .rows("SELECT * FROM projects ORDER BY id", &[])
        .iter()
        .map(|p| project_with_category(&st.base, &r, p))
        .collect();
    Ok(json(StatusCode::OK, page_bean(list, &q)))
}

/// The project as `GET …/project/{id}` answers it: with its category, if it has one.
fn project_with_category(base: &str, r: &Reader, row: &Row) -> Value {
    let mut v = project_json(base, row);
    if let Some(category) = project_category_json(base, r, int(row, "id").unwrap_or_default()) {
        v["projectCategory"] = category;
    }
    v
}

fn no_project() -> Response<Body> {
    not_found("No project could be found with this key or id.")
}

/// `GET /rest/api/3/project/{id}`, by its id, its key or a key it had.
pub(super) async fn get_project(State(st): S, Path(id): Path<String>) -> Reply {
    let r = st.reader();
    let id = r.project_id(&id).ok_or_else(no_project)?;
    let row = r
        .row("SELECT * FROM projects WHERE id = ?1", &[&id])
        .unwrap_or_default();
    Ok(json(
        StatusCode::OK,
        project_with_category(&st.base, &r, &row),
    ))
}

/// What `PUT …/project/{id}` may change; any other field is refused, not ignored.
const UPDATABLE: [&str; 6] = [
    "key",
    "name",
    "description",
    "leadAccountId",
    "categoryId",
    "notificationScheme",
];

/// A string field of an update: absent (or null) is no change.
fn update_text<'v>(v: &'v Value, field: &str) -> Result<Option<&'v str>, Response<Body>> {
    match v.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad(field, "The value must be a string.")),
    }
}

/// `PUT /rest/api/3/project/{id}`: a new key (the project keeps its former ones), name,
/// description, lead, category or notification scheme; 200 with the project. Everything
/// is checked before anything changes.
pub(super) async fn update_project(State(st): S, Path(id): Path<String>, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let Some(fields) = v.as_object() else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "The request body must be a JSON object.",
        ));
    };
    if let Some(other) = fields.keys().find(|k| !UPDATABLE.contains(&k.as_str())) {
        return Err(bad(
            other,
            &format!("The double does not update a project's {other}."),
        ));
    }
    let mut site = st.site();
    let r = st.reader();
    let project = r.project_id(&id).ok_or_else(no_project)?;
    let row = r
        .row("SELECT * FROM projects WHERE id = ?1", &[&project])
        .unwrap_or_default();
    let key = update_text(&v, "key")?.filter(|k| *k != s(&row, "key"));
    if let Some(key) = key {
        check_new_key(&r, project, key)?;
    }
    let name = match update_text(&v, "name")? {
        Some(n) if n.trim().is_empty() => {
            return Err(bad("projectName", "You must specify a valid project name."));
        }
        Some(n) => {
            let taken = r.exists(
                "SELECT 1 FROM projects WHERE name = ?1 COLLATE NOCASE AND id != ?2",
                &[&n, &project],
            );
            if taken {
                return Err(bad(
                    "projectName",
                    "A project with that name already exists.",
                ));
            }
            n.to_owned()
        }
        None => s(&row, "name"),
    };
    let description =
        update_text(&v, "description")?.map_or_else(|| s(&row, "description"), str::to_owned);
    let lead = match update_text(&v, "leadAccountId")? {
        Some(l) if !r.user_exists(l) => {
            return Err(bad("projectLead", "You must specify a valid project lead."));
        }
        Some(l) => Some(l.to_owned()),
        None => opt(&row, "lead_account_id"),
    };
    // Cloud's limits on the name and description, as the site checks a new project's.
    let updated = Record::Project(Project {
        id: project.to_string(),
        key: s(&row, "key"),
        name: name.clone(),
        lead: lead.clone().unwrap_or_default(),
        description: description.clone(),
        project_type: s(&row, "project_type"),
        counter: 0,
    });
    if let Err(violation) = airlock_site::rules::check(&updated) {
        let field = match violation.field {
            "name" => "projectName",
            other => other,
        };
        return Err(bad(field, &violation.message));
    }
    let category = match v.get("categoryId") {
        None => None,
        Some(Value::Null) => {
            return Err(bad(
                "categoryId",
                "The double does not take a project out of its category.",
            ));
        }
        Some(_) => {
            let given = id_of(&v, "/categoryId")
                .ok_or_else(|| bad("categoryId", "The project category ID is not valid."))?;
            let id = category_id(&r, &given).ok_or_else(|| {
                bad(
                    "categoryId",
                    &format!("The project category with id '{given}' does not exist."),
                )
            })?;
            Some(id)
        }
    };
    let notification_scheme = match v.get("notificationScheme") {
        None => None,
        Some(_) => {
            let given = id_of(&v, "/notificationScheme").ok_or_else(|| {
                bad(
                    "notificationScheme",
                    "The notification scheme ID is not valid.",
                )
            })?;
            let id = notification_scheme_id(&r, &given).ok_or_else(|| {
                bad(
                    "notificationScheme",
                    &format!("The notification scheme with id '{given}' does not exist."),
                )
            })?;
            Some(id)
        }
    };
    if let Some(key) = key {
        let renamed = site
            .rename_project(&project.to_string(), key)
            .map_err(|e| {
                tracing::error!("the double could not rename a project: {e}");
                error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
            })?;
        renamed.map_err(|e| refused("projectKey", &e))?;
        mark_former_key(&r, project, &s(&row, "key"), key)?;
    }
    let changed = name != s(&row, "name")
        || description != s(&row, "description")
        || lead != opt(&row, "lead_account_id");
    if changed {
        r.execute(
            "UPDATE projects SET name = ?2, description = ?3, lead_account_id = ?4
             WHERE id = ?1",
            &[&project, &name, &description, &lead],
        )
        .map_err(|e| {
            tracing::error!("the double could not update a project: {e}");
            error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
        })?;
    }
    if let Some(category) = category {
        let record = Record::ProjectScheme(ProjectScheme {
            id: format!("{project}/category"),
            project: project.to_string(),
            scheme_type: SchemeType::Category,
            scheme: category.to_string(),
        });
        put_record(&mut site, record)?.map_err(|e| refused("categoryId", &e))?;
    }
    if let Some(scheme) = notification_scheme {
        let record = project_notification_scheme(project, scheme);
        put_record(&mut site, record)?.map_err(|e| refused("notificationScheme", &e))?;
    }
    let row = r
        .row("SELECT * FROM projects WHERE id = ?1", &[&project])
        .unwrap_or_default();
    Ok(json(
        StatusCode::OK,
        project_with_category(&st.base, &r, &row),
    ))
}

/// After a rename from `old` to `new`: the key left is a former key of the project, with
/// its natural key (`project/key`) as its source key, as the double keeps for what it
/// creates; the key taken (back) is the project's own again, no former key, though the
/// site still finds the project by it.
fn mark_former_key(r: &Reader, project: i64, old: &str, new: &str) -> Result<(), Response<Body>> {
    let natural = |key: &str| format!("{project}/{key}");
    r.transaction(|tx| {
        tx.execute(
            "UPDATE project_keys SET source_key = ?3
             WHERE project_id = ?1 AND key = ?2 AND source_key IS NULL",
            rusqlite::params![project, old, natural(old)],
        )?;
        tx.execute(
            "UPDATE project_keys SET source_key = NULL
             WHERE project_id = ?1 AND key = ?2 AND source_key = ?3",
            rusqlite::params![project, new, natural(new)],
        )
    })
    .map(|_| ())
    .map_err(|e| {
        tracing::error!("the double could not mark a project's former key: {e}");
        error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
    })
}

/// A key the project may be renamed to, as Cloud checks it: well formed, and no other
/// project's key, now or before (a key the project itself had is allowed).
fn check_new_key(r: &Reader, project: i64, key: &str) -> Result<(), Response<Body>> {
    let record = Record::ProjectKey(ProjectKey {
        id: String::new(),
        project: project.to_string(),
        key: key.to_owned(),
    });
    if airlock_site::rules::check(&record).is_err() {
        return Err(bad(
            "projectKey",
            "Project keys must start with an uppercase letter, followed by one or more \
             uppercase alphanumeric characters.",
        ));
    }
    if let Some(owner) = r.row(
        "SELECT name FROM projects WHERE key = ?1 AND id != ?2",
        &[&key, &project],
    ) {
        return Err(bad(
            "projectKey",
            &format!("Project '{}' uses this project key.", s(&owner, "name")),
        ));
    }
    if r.exists(
        "SELECT 1 FROM project_keys WHERE key = ?1 AND project_id != ?2",
        &[&key, &project],
    ) {
        return Err(bad(
            "projectKey",
            "This project key was used by another project before: choose another key.",
        ));
    }
    Ok(())
}

pub(super) fn component_json(row: &Row) -> Value {
    json!({
        "id": s(row, "id"),
        "name": s(row, "name"),
        "description": s(row, "description"),
        "projectId": int(row, "project_id"),
        "leadAccountId": opt(row, "lead_account_id"),
    })
}

pub(super) fn version_json(row: &Row) -> Value {
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

pub(super) async fn project_components(State(st): S, Path(id): Path<String>) -> Reply {
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

pub(super) async fn project_versions(State(st): S, Path(id): Path<String>) -> Reply {
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
pub(super) fn body_project(r: &Reader, v: &Value) -> Result<i64, Response<Body>> {
    let named = id_of(v, "/projectId").or_else(|| id_of(v, "/project"));
    named
        .and_then(|p| r.project_id(&p))
        .ok_or_else(|| bad("project", "The project is not valid."))
}

pub(super) async fn create_component(State(st): S, body: Bytes) -> Reply {
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

pub(super) async fn create_version(State(st): S, body: Bytes) -> Reply {
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
