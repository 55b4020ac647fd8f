//! Issue security schemes, their levels, the scheme each project uses, and the tasks
//! Jira answers an association with.
//!
//! Levels' members are checked (a `user` must exist) but not kept: the site has no table
//! for them, so the double does not enforce that a caller may set only the levels it is a
//! member of, nor hide issues from non-members.

#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;

use airlock_model::jira::{ProjectScheme, SchemeType, SecurityLevel, SecurityScheme};

use super::*;

/// Jira Cloud's limit on levels per call.
const MAX_LEVELS: usize = 100;

/// Tasks started by every double of the process (ids never repeat): each is complete when
/// it is answered, as the double applies the work at once.
static TASKS: Mutex<BTreeMap<u64, Value>> = Mutex::new(BTreeMap::new());
static NEXT_TASK: AtomicU64 = AtomicU64::new(10_000);

fn scheme_not_found() -> Response<Body> {
    not_found("The issue security scheme was not found.")
}

fn scheme_json(base: &str, row: &Row) -> Value {
    json!({
        "self": format!("{base}/rest/api/3/issuesecurityschemes/{}", s(row, "id")),
        "id": int(row, "id"),
        "name": s(row, "name"),
        "description": s(row, "description"),
    })
}

fn level_json(base: &str, row: &Row) -> Value {
    json!({
        "self": format!("{base}/rest/api/3/securitylevel/{}", s(row, "id")),
        "id": s(row, "id"),
        "name": s(row, "name"),
        "description": s(row, "description"),
        "isDefault": false,
        "issueSecuritySchemeId": s(row, "scheme_id"),
    })
}

/// An issue's level as `GET …/issue/{id}` shows it, or `null`.
pub(super) fn issue_security_json(base: &str, r: &Reader, level: Option<i64>) -> Value {
    level
        .and_then(|id| r.row("SELECT * FROM security_levels WHERE id = ?1", &[&id]))
        .map(|row| {
            json!({
                "self": format!("{base}/rest/api/3/securitylevel/{}", s(&row, "id")),
                "id": s(&row, "id"),
                "name": s(&row, "name"),
                "description": s(&row, "description"),
            })
        })
        .unwrap_or(Value::Null)
}

fn scheme_id(r: &Reader, id: &str) -> Option<i64> {
    let id: i64 = id.parse().ok()?;
    r.int("SELECT id FROM security_schemes WHERE id = ?1", &[&id])
}

/// The levels of a create or add call, checked as Jira does: names given and distinct
/// (in any case) among themselves and the scheme's, members well formed. `(name,
/// description)` each.
fn new_levels(
    r: &Reader,
    scheme: Option<i64>,
    v: &Value,
) -> Result<Vec<(String, String)>, Response<Body>> {
    let list = match v.get("levels") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(bad("levels", "The levels must be a list.")),
    };
    if list.len() > MAX_LEVELS {
        return Err(bad(
            "levels",
            "You can add up to 100 security levels per request.",
        ));
    }
    let mut taken: Vec<String> = match scheme {
        Some(id) => r
            .rows(
                "SELECT name FROM security_levels WHERE scheme_id = ?1",
                &[&id],
            )
            .iter()
            .map(|row| s(row, "name").to_lowercase())
            .collect(),
        None => Vec::new(),
    };
    let mut out = Vec::with_capacity(list.len());
    for level in list {
        let name = text(level, "/name")
            .filter(|n| !n.trim().is_empty())
            .ok_or_else(|| bad("name", "The name of the security level must not be empty."))?;
        if taken.contains(&name.to_lowercase()) {
            return Err(bad(
                "name",
                "A security level with this name already exists in the scheme.",
            ));
        }
        // The site keeps no default level (its schema has none): refused, never dropped.
        if level.get("isDefault").and_then(Value::as_bool) == Some(true) {
            return Err(bad(
                "isDefault",
                "The double does not keep default security levels.",
            ));
        }
        for member in level
            .get("members")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            check_member(r, member)?;
        }
        taken.push(name.to_lowercase());
        out.push((
            name.to_owned(),
            text(level, "/description").unwrap_or("").to_owned(),
        ));
    }
    Ok(out)
}

/// A level member (`{"type", "parameter"}`) as Jira checks it.
fn check_member(r: &Reader, member: &Value) -> Result<(), Response<Body>> {
    let parameter = text(member, "/parameter").unwrap_or("");
    match text(member, "/type").unwrap_or("") {
        "user" => {
            if !r.user_exists(parameter) {
                return Err(bad("members", "The user does not exist."));
            }
        }
        "group" | "projectrole" | "userCF" | "groupCF" | "applicationRole" => {
            if parameter.is_empty() {
                return Err(bad("members", "The member's parameter is required."));
            }
        }
        "reporter" | "assignee" | "lead" | "projectLead" => {}
        _ => return Err(bad("members", "The member type is not valid.")),
    }
    Ok(())
}

/// Writes a scheme's new levels (checked by [`new_levels`]).
fn put_levels(
    site: &mut LocalSite,
    scheme: i64,
    levels: Vec<(String, String)>,
) -> Result<(), Response<Body>> {
    for (name, description) in levels {
        let record = Record::SecurityLevel(SecurityLevel {
            // The natural key as the source key: a level added twice shows.
            id: format!("{scheme}/{}", name.to_lowercase()),
            scheme: scheme.to_string(),
            name,
            description,
        });
        put_record(site, record)?.map_err(|e| refused("levels", &e))?;
    }
    Ok(())
}

/// `POST /rest/api/3/issuesecurityschemes`: 201 `{"id"}`; 400 for a name in use (any
/// case), levels and all.
pub(super) async fn create_security_scheme(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let name = text(&v, "/name")
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| {
            bad(
                "name",
                "The name of the issue security scheme must not be empty.",
            )
        })?
        .to_owned();
    let mut site = st.site();
    let r = st.reader();
    if r.exists(
        "SELECT 1 FROM security_schemes WHERE name = ?1 COLLATE NOCASE",
        &[&name],
    ) {
        return Err(bad(
            "name",
            "An issue security scheme with this name already exists.",
        ));
    }
    let levels = new_levels(&r, None, &v)?;
    let record = Record::SecurityScheme(SecurityScheme {
        id: name.to_lowercase(),
        name,
        description: text(&v, "/description").unwrap_or("").to_owned(),
    });
    let id = put_record(&mut site, record)?.map_err(|e| refused("name", &e))?;
    put_levels(&mut site, id.parse().unwrap_or(0), levels)?;
    Ok(json(StatusCode::CREATED, json!({ "id": id })))
}

pub(super) async fn list_security_schemes(State(st): S) -> Reply {
    let r = st.reader();
    let schemes: Vec<Value> = r
        .rows("SELECT * FROM security_schemes ORDER BY id", &[])
        .iter()
        .map(|row| scheme_json(&st.base, row))
        .collect();
    Ok(json(
        StatusCode::OK,
        json!({ "issueSecuritySchemes": schemes }),
    ))
}

pub(super) async fn get_security_scheme(State(st): S, Path(id): Path<String>) -> Reply {
    let r = st.reader();
    let id = scheme_id(&r, &id).ok_or_else(scheme_not_found)?;
    let row = r
        .row("SELECT * FROM security_schemes WHERE id = ?1", &[&id])
        .unwrap_or_default();
    let mut scheme = scheme_json(&st.base, &row);
    scheme["levels"] = r
        .rows(
            "SELECT * FROM security_levels WHERE scheme_id = ?1 ORDER BY id",
            &[&id],
        )
        .iter()
        .map(|l| level_json(&st.base, l))
        .collect();
    Ok(json(StatusCode::OK, scheme))
}

/// `PUT /rest/api/3/issuesecurityschemes/{id}/level`: 204.
pub(super) async fn add_security_levels(
    State(st): S,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    let v = parse(&body)?;
    let mut site = st.site();
    let r = st.reader();
    let scheme = scheme_id(&r, &id).ok_or_else(scheme_not_found)?;
    let levels = new_levels(&r, Some(scheme), &v)?;
    put_levels(&mut site, scheme, levels)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The values of a repeatable query parameter (`schemeId=1&schemeId=2`).
fn all<'q>(q: &'q [(String, String)], name: &str) -> Vec<&'q str> {
    q.iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// The paging parameters of a query, as [`page_bean`] takes them.
fn paging(q: &[(String, String)]) -> HashMap<String, String> {
    q.iter()
        .filter(|(k, _)| k == "startAt" || k == "maxResults")
        .cloned()
        .collect()
}

/// `GET /rest/api/3/issuesecurityschemes/level`: levels of the schemes (`schemeId`) and
/// the levels (`id`) asked for, inclusive; all of them if neither is given.
pub(super) async fn list_security_levels(
    State(st): S,
    Query(q): Query<Vec<(String, String)>>,
) -> Reply {
    let r = st.reader();
    let (schemes, ids) = (all(&q, "schemeId"), all(&q, "id"));
    let only_default = all(&q, "onlyDefault").contains(&"true");
    let levels: Vec<Value> = r
        .rows("SELECT * FROM security_levels ORDER BY id", &[])
        .iter()
        .filter(|l| {
            (schemes.is_empty() && ids.is_empty())
                || schemes.contains(&s(l, "scheme_id").as_str())
                || ids.contains(&s(l, "id").as_str())
        })
        // No level is a default one here.
        .filter(|_| !only_default)
        .map(|l| level_json(&st.base, l))
        .collect();
    Ok(json(StatusCode::OK, page_bean(levels, &paging(&q))))
}

/// `GET /rest/api/3/issuesecurityschemes/project`: which project uses which scheme.
pub(super) async fn list_project_security_schemes(
    State(st): S,
    Query(q): Query<Vec<(String, String)>>,
) -> Reply {
    let r = st.reader();
    let (schemes, projects) = (all(&q, "issueSecuritySchemeId"), all(&q, "projectId"));
    let mappings: Vec<Value> = r
        .rows(
            "SELECT * FROM project_schemes WHERE scheme_type = 'issue-security' ORDER BY id",
            &[],
        )
        .iter()
        .filter(|m| {
            (schemes.is_empty() || schemes.contains(&s(m, "scheme_id").as_str()))
                && (projects.is_empty() || projects.contains(&s(m, "project_id").as_str()))
        })
        .map(|m| {
            json!({
                "issueSecuritySchemeId": s(m, "scheme_id"),
                "projectId": s(m, "project_id"),
            })
        })
        .collect();
    Ok(json(StatusCode::OK, page_bean(mappings, &paging(&q))))
}

/// `PUT /rest/api/3/issuesecurityschemes/project`: 303 to the task doing it, as Cloud
/// answers; the double has done it already, so the task is complete. Setting the scheme a
/// project uses is a no-op. Not supported (400): clearing the scheme (`schemeId` null),
/// and changing it while the project's issues have levels (Cloud remaps them with
/// `oldToNewSecurityLevelMappings`).
pub(super) async fn associate_security_scheme(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let project =
        id_of(&v, "/projectId").ok_or_else(|| bad("projectId", "The project ID is required."))?;
    let Some(scheme) = id_of(&v, "/schemeId") else {
        return Err(bad(
            "schemeId",
            "The double does not clear a project's issue security scheme.",
        ));
    };
    let mut site = st.site();
    let r = st.reader();
    let project: i64 = project
        .parse()
        .ok()
        .and_then(|p: i64| r.int("SELECT id FROM projects WHERE id = ?1", &[&p]))
        .ok_or_else(|| not_found("The project was not found."))?;
    let scheme = scheme_id(&r, &scheme).ok_or_else(scheme_not_found)?;
    let current = r.int(
        "SELECT scheme_id FROM project_schemes
         WHERE project_id = ?1 AND scheme_type = 'issue-security'",
        &[&project],
    );
    if current != Some(scheme) {
        let secured = r.exists(
            "SELECT 1 FROM issues WHERE project_id = ?1 AND security_level_id IS NOT NULL",
            &[&project],
        );
        if current.is_some() && secured {
            return Err(bad(
                "oldToNewSecurityLevelMappings",
                "The double does not remap the security levels of a project's issues.",
            ));
        }
        let record = Record::ProjectScheme(ProjectScheme {
            id: format!("{project}/issue-security"),
            project: project.to_string(),
            scheme_type: SchemeType::IssueSecurity,
            scheme: scheme.to_string(),
        });
        put_record(&mut site, record)?.map_err(|e| refused("schemeId", &e))?;
    }
    let id = NEXT_TASK.fetch_add(1, Ordering::Relaxed);
    let now = now_ms();
    let location = format!("{}/rest/api/3/task/{id}", st.base);
    let task = json!({
        "self": location,
        "id": id.to_string(),
        "description": "Associating an issue security scheme with a project",
        "status": "COMPLETE",
        "message": "",
        "result": Value::Null,
        "progress": 100,
        "elapsedRuntime": 0,
        "submitted": now,
        "started": now,
        "finished": now,
        "lastUpdate": now,
    });
    crate::lock(&TASKS).insert(id, task.clone());
    let mut resp = json(StatusCode::SEE_OTHER, task);
    if let Ok(value) = location.parse() {
        resp.headers_mut()
            .insert(axum::http::header::LOCATION, value);
    }
    Ok(resp)
}

pub(super) async fn get_task(Path(id): Path<String>) -> Reply {
    id.parse::<u64>()
        .ok()
        .and_then(|id| crate::lock(&TASKS).get(&id).cloned())
        .map(|task| json(StatusCode::OK, task))
        .ok_or_else(|| not_found("The task was not found."))
}
