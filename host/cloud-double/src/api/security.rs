//! Issue security schemes, their levels and the levels' members, the scheme each project
//! uses, and the tasks Jira answers an association with.
//!
//! A level's members are holders as a permission grant has them, checked as Cloud checks
//! them (all or nothing; `anyone` is no level member, a member the level has already is
//! refused). Those a level is created with are kept without a source key (Cloud's own, not
//! migrated: they count for no kind), those added to a level with their natural key. The
//! double does not enforce that a caller may set only the levels it is a member of, nor
//! hide issues from non-members.

#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;

use airlock_model::jira::{
    LevelMember, PermissionHolder, ProjectScheme, SchemeType, SecurityLevel, SecurityScheme,
};

use super::*;

/// Jira Cloud's limits on levels and on members per call.
const MAX_LEVELS: usize = 100;
const MAX_MEMBERS: usize = 100;

/// Tasks started by every double of the process (ids never repeat): each is complete when
/// it is answered, as the double applies the work at once.
static TASKS: Mutex<BTreeMap<u64, Value>> = Mutex::new(BTreeMap::new());
static NEXT_TASK: AtomicU64 = AtomicU64::new(10_000);

fn scheme_not_found(id: &str) -> Response<Body> {
    not_found(&format!("Issue security scheme with ID {id} not found."))
}

/// An id of a path or query as Cloud parses it: 400 unless it is a positive integer.
fn positive(id: &str, what: &str) -> Result<i64, Response<Body>> {
    id.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
        error(
            StatusCode::BAD_REQUEST,
            &format!("{id} is not a valid value. The {what} ID must be a positive integer."),
        )
    })
}

/// The scheme of a write's path: 400 for an id that is not a number, 404 for one the
/// site does not have.
fn scheme_of(r: &Reader, id: &str) -> Result<i64, Response<Body>> {
    let n = positive(id, "issue security scheme")?;
    r.int("SELECT id FROM security_schemes WHERE id = ?1", &[&n])
        .ok_or_else(|| scheme_not_found(id))
}

/// A level of `scheme` (path): 404 for a level of another scheme too.
fn level_of(r: &Reader, scheme: i64, id: &str) -> Result<i64, Response<Body>> {
    let n = positive(id, "issue security level")?;
    r.int(
        "SELECT id FROM security_levels WHERE id = ?1 AND scheme_id = ?2",
        &[&n, &scheme],
    )
    .ok_or_else(|| {
        not_found(&format!(
            "Issue security level with ID {id} not found in the issue security scheme."
        ))
    })
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

/// A level of a create or add call, checked: its members too.
struct NewLevel {
    name: String,
    description: String,
    members: Vec<PermissionHolder>,
}

/// The levels of a create or add call, checked as Jira does: names given and distinct
/// (in any case) among themselves and the scheme's, members as [`new_members`] checks
/// them.
fn new_levels(r: &Reader, scheme: Option<i64>, v: &Value) -> Result<Vec<NewLevel>, Response<Body>> {
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
        let members = match level.get("members") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(list)) => new_members(r, None, list)?,
            Some(_) => return Err(bad("members", "The members must be a list.")),
        };
        taken.push(name.to_lowercase());
        out.push(NewLevel {
            name: name.to_owned(),
            description: text(level, "/description").unwrap_or("").to_owned(),
            members,
        });
    }
    Ok(out)
}

/// The members of a call (`[{"type", "parameter"}]`), checked as Cloud does: holders as
/// [`known_holder`] takes them, but not `anyone`; none twice, and none `level` has already.
/// Each as the site spells it (a group's name).
fn new_members(
    r: &Reader,
    level: Option<i64>,
    list: &[Value],
) -> Result<Vec<PermissionHolder>, Response<Body>> {
    if list.len() > MAX_MEMBERS {
        return Err(bad("members", "You can add up to 100 members per request."));
    }
    let mut out: Vec<PermissionHolder> = Vec::with_capacity(list.len());
    for member in list {
        if text(member, "/type") == Some("anyone") {
            return Err(bad(
                "members",
                "The member type 'anyone' is invalid for an issue security level.",
            ));
        }
        let holder = known_holder(r, member, "members")?;
        if out.contains(&holder) || level.is_some_and(|l| has_member(r, l, &holder)) {
            return Err(bad(
                "members",
                &format!(
                    "The member {} already exists on the issue security level.",
                    describe(&holder)
                ),
            ));
        }
        out.push(holder);
    }
    Ok(out)
}

/// `type` or `type:parameter`, for messages.
fn describe(holder: &PermissionHolder) -> String {
    match holder.parameter() {
        Some(p) => format!("{}:{p}", holder.cloud_type()),
        None => holder.cloud_type().to_owned(),
    }
}

/// Whether the level has the member already.
fn has_member(r: &Reader, level: i64, holder: &PermissionHolder) -> bool {
    r.exists(
        "SELECT 1 FROM security_level_members WHERE level_id = ?1 AND holder_type = ?2
         AND IFNULL(parameter, '') = IFNULL(?3, '')",
        &[&level, &holder.cloud_type(), &holder.parameter()],
    )
}

/// Writes a level's member (checked by [`new_members`]), its natural key as its source key
/// (a member added twice shows); `migrated` false: Cloud's own, kept without one.
fn put_member(
    site: &mut LocalSite,
    r: &Reader,
    (scheme, level): (i64, i64),
    holder: PermissionHolder,
    migrated: bool,
) -> Result<(), Response<Body>> {
    let record = Record::SecurityLevelMember(LevelMember {
        id: format!("{level}/{}", describe(&holder)),
        scheme: scheme.to_string(),
        level: level.to_string(),
        holder,
    });
    let id = put_record(site, record)?.map_err(|e| refused("members", &e))?;
    if !migrated {
        // `LocalSite` writes every record with its source key: none for Cloud's own.
        r.execute(
            "UPDATE security_level_members SET source_key = NULL WHERE id = ?1",
            &[&id.parse::<i64>().unwrap_or(0)],
        )
        .map_err(|e| {
            tracing::error!("the double could not keep a level's member: {e}");
            error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
        })?;
    }
    Ok(())
}

/// Writes a scheme's new levels (checked by [`new_levels`]) with the members each is
/// created with.
fn put_levels(
    site: &mut LocalSite,
    r: &Reader,
    scheme: i64,
    levels: Vec<NewLevel>,
) -> Result<(), Response<Body>> {
    for level in levels {
        let record = Record::SecurityLevel(SecurityLevel {
            // The natural key as the source key: a level added twice shows.
            id: format!("{scheme}/{}", level.name.to_lowercase()),
            scheme: scheme.to_string(),
            name: level.name,
            description: level.description,
        });
        let id = put_record(site, record)?.map_err(|e| refused("levels", &e))?;
        let id: i64 = id.parse().unwrap_or(0);
        for holder in level.members {
            put_member(site, r, (scheme, id), holder, false)?;
        }
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
    put_levels(&mut site, &r, id.parse().unwrap_or(0), levels)?;
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
    let id = scheme_id(&r, &id).ok_or_else(|| scheme_not_found(&id))?;
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
    let scheme = scheme_of(&r, &id)?;
    let levels = new_levels(&r, Some(scheme), &v)?;
    put_levels(&mut site, &r, scheme, levels)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `PUT /rest/api/3/issuesecurityschemes/{schemeId}/level/{levelId}/member`
/// (`{"members": [{"type", "parameter"}]}`, 1 to 100): 204; every member checked
/// ([`new_members`]) before any is written.
pub(super) async fn add_level_members(
    State(st): S,
    Path((scheme, level)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let v = parse(&body)?;
    let mut site = st.site();
    let r = st.reader();
    let scheme = scheme_of(&r, &scheme)?;
    let level = level_of(&r, scheme, &level)?;
    let list = match v.get("members") {
        Some(Value::Array(list)) if !list.is_empty() => list,
        None | Some(Value::Null) | Some(Value::Array(_)) => {
            return Err(bad("members", "At least one member is required."));
        }
        Some(_) => return Err(bad("members", "The members must be a list.")),
    };
    for holder in new_members(&r, Some(level), list)? {
        put_member(&mut site, &r, (scheme, level), holder, true)?;
    }
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

/// The ids of a repeatable query parameter, each a positive integer (else 400).
fn ids(q: &[(String, String)], name: &str, what: &str) -> Result<Vec<i64>, Response<Body>> {
    all(q, name)
        .into_iter()
        .map(|id| positive(id, what))
        .collect()
}

/// A level's member as Cloud answers it (`expand` names what the holder could be expanded
/// with; the double expands nothing).
fn member_json(row: &Row) -> Value {
    let mut holder = holder_json(row);
    let expand = match s(row, "holder_type").as_str() {
        "user" => Some("user"),
        "group" => Some("group"),
        "projectRole" => Some("projectRole"),
        "userCustomField" | "groupCustomField" => Some("field"),
        _ => None,
    };
    if let Some(expand) = expand {
        holder["expand"] = json!(expand);
    }
    json!({
        "id": s(row, "id"),
        "issueSecurityLevelId": s(row, "level_id"),
        "issueSecuritySchemeId": s(row, "scheme_id"),
        "holder": holder,
    })
}

/// `GET /rest/api/3/issuesecurityschemes/level/member`: the members of the schemes
/// (`schemeId`), of the levels (`levelId`) and with the ids (`id`) asked for, inclusive as
/// Cloud filters; all of them if none is given. An id the site does not have adds nothing
/// (Cloud documents no 404 here); one that is not a positive integer is 400.
pub(super) async fn list_level_members(
    State(st): S,
    Query(q): Query<Vec<(String, String)>>,
) -> Reply {
    let schemes = ids(&q, "schemeId", "issue security scheme")?;
    let levels = ids(&q, "levelId", "issue security level")?;
    let members = ids(&q, "id", "issue security level member")?;
    let everything = schemes.is_empty() && levels.is_empty() && members.is_empty();
    let r = st.reader();
    let listed: Vec<Value> = r
        .rows(
            "SELECT m.id, m.level_id, l.scheme_id, m.holder_type, m.parameter
             FROM security_level_members m JOIN security_levels l ON l.id = m.level_id
             ORDER BY m.id",
            &[],
        )
        .iter()
        .filter(|m| {
            let has = |list: &[i64], col| int(m, col).is_some_and(|id| list.contains(&id));
            everything
                || has(&schemes, "scheme_id")
                || has(&levels, "level_id")
                || has(&members, "id")
        })
        .map(member_json)
        .collect();
    Ok(json(StatusCode::OK, page_bean(listed, &paging(&q))))
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
    let scheme = scheme_id(&r, &scheme).ok_or_else(|| scheme_not_found(&scheme))?;
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
