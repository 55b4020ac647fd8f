//! Projects, components, versions.

#![allow(clippy::result_large_err)]

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
        .map(|p| project_json(&st.base, p))
        .collect();
    Ok(json(StatusCode::OK, page_bean(list, &q)))
}

pub(super) async fn get_project(State(st): S, Path(id): Path<String>) -> Reply {
    let r = st.reader();
    let id = r
        .project_id(&id)
        .ok_or_else(|| not_found("No project could be found with this key or id."))?;
    let row = r
        .row("SELECT * FROM projects WHERE id = ?1", &[&id])
        .unwrap_or_default();
    Ok(json(StatusCode::OK, project_json(&st.base, &row)))
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
