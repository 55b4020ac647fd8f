//! Custom fields' contexts: where a field applies (projects, issue types) and, through
//! the options naming them, what it offers there. Every field has a global context from
//! its creation; a project is in at most one context of a field.

#![allow(clippy::result_large_err)]

use airlock_model::jira::FieldContext;

use super::*;

/// A query whose parameters may repeat (`contextId=1&contextId=2`).
type Pairs = Query<Vec<(String, String)>>;

/// The last value of each parameter (for paging and flags), and the `contextId`s asked
/// for.
fn split_query(pairs: Vec<(String, String)>) -> (HashMap<String, String>, Vec<i64>) {
    let ids = pairs
        .iter()
        .filter(|(k, _)| k == "contextId")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    (pairs.into_iter().collect(), ids)
}

fn flag(q: &HashMap<String, String>, name: &str) -> Option<bool> {
    match q.get(name).map(String::as_str) {
        Some("true") => Some(true),
        Some("false") => Some(false),
        _ => None,
    }
}

fn field_of(r: &Reader, field: &str) -> Result<i64, Response<Body>> {
    r.field_id(field)
        .ok_or_else(|| not_found("The custom field was not found."))
}

/// The field and one of its contexts; a context of another field is not found either.
pub(super) fn context_field(
    r: &Reader,
    field: &str,
    ctx: &str,
) -> Result<(i64, i64), Response<Body>> {
    let n = field_of(r, field)?;
    let ctx = ctx
        .parse::<i64>()
        .ok()
        .filter(|c| {
            r.exists(
                "SELECT 1 FROM field_contexts WHERE id = ?1 AND field_id = ?2",
                &[c, &n],
            )
        })
        .ok_or_else(|| not_found("The context was not found."))?;
    Ok((n, ctx))
}

/// Ids given as strings or numbers, each once, in the order given (none if the list is
/// not given); `None` if the list or one of its ids is neither.
fn id_list(v: &Value, key: &str) -> Option<Vec<String>> {
    let list = match v.get(key) {
        None | Some(Value::Null) => return Some(Vec::new()),
        Some(l) => l.as_array()?,
    };
    let mut out: Vec<String> = Vec::new();
    for item in list {
        let id = match item {
            Value::String(s) => s.trim().to_owned(),
            Value::Number(n) => n.to_string(),
            _ => return None,
        };
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Some(out)
}

/// Each id names a row of `table`, or 404 naming the first that does not.
fn all_exist(r: &Reader, table: &str, what: &str, ids: &[String]) -> Result<(), Response<Body>> {
    for id in ids {
        let found = id
            .parse::<i64>()
            .is_ok_and(|n| r.exists(&format!("SELECT 1 FROM {table} WHERE id = ?1"), &[&n]));
        if !found {
            return Err(not_found(&format!(
                "The {what} with ID '{id}' was not found."
            )));
        }
    }
    Ok(())
}

fn context_json(row: &Row) -> Value {
    json!({
        "id": s(row, "id"),
        "name": s(row, "name"),
        "description": s(row, "description"),
        "isGlobalContext": int(row, "is_global") == Some(1),
        "isAnyIssueType": int(row, "any_type") == Some(1),
    })
}

pub(super) async fn list_contexts(
    State(st): S,
    Path(field): Path<String>,
    Query(pairs): Pairs,
) -> Reply {
    let (q, ids) = split_query(pairs);
    let r = st.reader();
    let n = field_of(&r, &field)?;
    let (global, any) = (flag(&q, "isGlobalContext"), flag(&q, "isAnyIssueType"));
    let list: Vec<Value> = r
        .rows(
            "SELECT c.id, c.name, c.description, c.is_global,
                    NOT EXISTS (SELECT 1 FROM field_context_issue_types t
                                WHERE t.context_id = c.id) AS any_type
             FROM field_contexts c WHERE c.field_id = ?1 ORDER BY c.id",
            &[&n],
        )
        .iter()
        .filter(|row| global.is_none_or(|g| (int(row, "is_global") == Some(1)) == g))
        .filter(|row| any.is_none_or(|a| (int(row, "any_type") == Some(1)) == a))
        .filter(|row| ids.is_empty() || int(row, "id").is_some_and(|id| ids.contains(&id)))
        .map(context_json)
        .collect();
    Ok(json(StatusCode::OK, page_bean(list, &q)))
}

pub(super) async fn create_context(State(st): S, Path(field): Path<String>, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let name = text(&v, "/name").unwrap_or("").trim().to_owned();
    let description = text(&v, "/description").unwrap_or("").to_owned();
    let (Some(projects), Some(types)) = (id_list(&v, "projectIds"), id_list(&v, "issueTypeIds"))
    else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "projectIds and issueTypeIds must be lists of IDs.",
        ));
    };
    let mut site = st.site();
    let r = st.reader();
    let n = field_of(&r, &field)?;
    if name.is_empty() {
        return Err(bad("name", "The context name must not be empty."));
    }
    all_exist(&r, "projects", "project", &projects)?;
    all_exist(&r, "issue_types", "issue type", &types)?;
    // Cloud allows one global context per field, and a project in one context of it.
    if projects.is_empty()
        && r.exists(
            "SELECT 1 FROM field_contexts WHERE field_id = ?1 AND is_global = 1",
            &[&n],
        )
    {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "The custom field already has a global context.",
        ));
    }
    for p in &projects {
        let p: i64 = p.parse().unwrap_or_default();
        if r.exists(
            "SELECT 1 FROM field_context_projects WHERE field_id = ?1 AND project_id = ?2",
            &[&n, &p],
        ) {
            return Err(error(
                StatusCode::BAD_REQUEST,
                &format!(
                    "The project with ID '{p}' is already in another context of this custom field."
                ),
            ));
        }
    }
    let record = Record::FieldContext(FieldContext {
        id: format!("{n}/{name}"),
        field: n.to_string(),
        name: name.clone(),
        description: description.clone(),
        projects: projects.clone(),
        issue_types: types.clone(),
    });
    let id = put_record(&mut site, record)?.map_err(|e| refused("name", &e))?;
    Ok(json(
        StatusCode::CREATED,
        json!({
            "id": id,
            "name": name,
            "description": description,
            "projectIds": projects,
            "issueTypeIds": types,
        }),
    ))
}

/// `PUT …/context/{id}`: a new name or description (what is not given stays).
pub(super) async fn update_context(
    State(st): S,
    Path((field, ctx)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let v = parse(&body)?;
    let _site = st.site();
    let r = st.reader();
    let (n, ctx) = context_field(&r, &field, &ctx)?;
    let row = r
        .row("SELECT * FROM field_contexts WHERE id = ?1", &[&ctx])
        .unwrap_or_default();
    let name = text(&v, "/name").map_or_else(|| s(&row, "name"), |n| n.trim().to_owned());
    let description =
        text(&v, "/description").map_or_else(|| s(&row, "description"), str::to_owned);
    if name.is_empty() {
        return Err(bad("name", "The context name must not be empty."));
    }
    // Cloud's limits on a context's name and description, as on a created one.
    let renamed = FieldContext {
        id: String::new(),
        field: n.to_string(),
        name,
        description,
        projects: Vec::new(),
        issue_types: Vec::new(),
    };
    airlock_site::rules::check(&Record::FieldContext(renamed.clone()))
        .map_err(|e| bad(e.field, &e.message))?;
    // A global context Cloud made with the field is the migration's once renamed: the
    // double marks it written (its field's id as natural key), as it marks what it creates.
    r.execute(
        "UPDATE field_contexts SET name = ?2, description = ?3,
                source_key = COALESCE(source_key, ?4) WHERE id = ?1",
        &[&ctx, &renamed.name, &renamed.description, &n.to_string()],
    )
    .map_err(|e| site_failed("update a context", &e))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `PUT …/context/{id}/issuetype`: appended; a context for every issue type becomes
/// one for these. Cloud adds none if one is already there, and none to a global context
/// since April 2026 (CHANGE-3019: a global context applies to every issue type).
pub(super) async fn add_context_issue_types(
    State(st): S,
    Path((field, ctx)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let v = parse(&body)?;
    let types = id_list(&v, "issueTypeIds")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| bad("issueTypeIds", "The issue type IDs must be provided."))?;
    let _site = st.site();
    let r = st.reader();
    let (_, ctx) = context_field(&r, &field, &ctx)?;
    if r.exists(
        "SELECT 1 FROM field_contexts WHERE id = ?1 AND is_global = 1",
        &[&ctx],
    ) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "Issue types cannot be added to the global context.",
        ));
    }
    all_exist(&r, "issue_types", "issue type", &types)?;
    let types: Vec<i64> = types.iter().filter_map(|t| t.parse().ok()).collect();
    for t in &types {
        if r.exists(
            "SELECT 1 FROM field_context_issue_types WHERE context_id = ?1 AND issue_type_id = ?2",
            &[&ctx, t],
        ) {
            return Err(error(
                StatusCode::BAD_REQUEST,
                &format!("The issue type with ID '{t}' is already in the context."),
            ));
        }
    }
    r.transaction(|tx| {
        for t in &types {
            tx.execute(
                "INSERT INTO field_context_issue_types (context_id, issue_type_id)
                 VALUES (?1, ?2)",
                rusqlite::params![ctx, t],
            )?;
        }
        Ok(())
    })
    .map_err(|e| site_failed("add issue types to a context", &e))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET …/context/projectmapping`: a project context's projects, and the global context.
pub(super) async fn context_projects(
    State(st): S,
    Path(field): Path<String>,
    Query(pairs): Pairs,
) -> Reply {
    let (q, ids) = split_query(pairs);
    let r = st.reader();
    let n = field_of(&r, &field)?;
    let list: Vec<Value> = r
        .rows(
            "SELECT c.id, c.is_global, p.project_id FROM field_contexts c
             LEFT JOIN field_context_projects p ON p.field_id = c.field_id AND p.context_id = c.id
             WHERE c.field_id = ?1 ORDER BY c.id, p.project_id",
            &[&n],
        )
        .iter()
        .filter(|row| ids.is_empty() || int(row, "id").is_some_and(|id| ids.contains(&id)))
        .filter_map(|row| {
            if int(row, "is_global") == Some(1) {
                Some(json!({ "contextId": s(row, "id"), "isGlobalContext": true }))
            } else {
                // A project context left without projects maps nothing.
                opt(row, "project_id").map(|p| json!({ "contextId": s(row, "id"), "projectId": p }))
            }
        })
        .collect();
    Ok(json(StatusCode::OK, page_bean(list, &q)))
}

/// `GET …/context/issuetypemapping`: each context's issue types, or that it has any.
pub(super) async fn context_issue_types(
    State(st): S,
    Path(field): Path<String>,
    Query(pairs): Pairs,
) -> Reply {
    let (q, ids) = split_query(pairs);
    let r = st.reader();
    let n = field_of(&r, &field)?;
    let list: Vec<Value> = r
        .rows(
            "SELECT c.id, t.issue_type_id FROM field_contexts c
             LEFT JOIN field_context_issue_types t ON t.context_id = c.id
             WHERE c.field_id = ?1 ORDER BY c.id, t.issue_type_id",
            &[&n],
        )
        .iter()
        .filter(|row| ids.is_empty() || int(row, "id").is_some_and(|id| ids.contains(&id)))
        .map(|row| match opt(row, "issue_type_id") {
            Some(t) => json!({ "contextId": s(row, "id"), "issueTypeId": t }),
            None => json!({ "contextId": s(row, "id"), "isAnyIssueType": true }),
        })
        .collect();
    Ok(json(StatusCode::OK, page_bean(list, &q)))
}

/// The context of `field` applying to an issue, as Cloud picks it: its project's
/// context if that one covers the issue's type, else the global context if it does.
/// One indexed query: it runs for every custom field value written.
pub(super) fn applying_context(r: &Reader, field: i64, issue: i64) -> Option<i64> {
    r.int(
        "WITH i AS (SELECT project_id, issue_type_id FROM issues WHERE id = ?2)
         SELECT c.id FROM (
             SELECT p.context_id AS id, 0 AS rank FROM field_context_projects p, i
             WHERE p.field_id = ?1 AND p.project_id = i.project_id
             UNION ALL
             SELECT id, 1 FROM field_contexts WHERE field_id = ?1 AND is_global = 1
         ) c, i
         WHERE NOT EXISTS (SELECT 1 FROM field_context_issue_types t WHERE t.context_id = c.id)
            OR EXISTS (SELECT 1 FROM field_context_issue_types t
                       WHERE t.context_id = c.id AND t.issue_type_id = i.issue_type_id)
         ORDER BY c.rank LIMIT 1",
        &[&field, &issue],
    )
}

fn site_failed(what: &str, e: &rusqlite::Error) -> Response<Body> {
    tracing::error!("the double could not {what}: {e}");
    error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
}
