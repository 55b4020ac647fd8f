//! Issue type schemes and the one each project uses, as Jira Cloud keeps them (in the
//! site's own tables, which hold Cloud's "Default Issue Type Scheme", 10000: it lists every
//! issue type of the site, a new one added as it is created, and every project without a
//! scheme of its own uses it).
//!
//! Cloud's rules: names distinct in any case, not blank and at most 255 characters (the
//! local site's writer would rename instead: refused here first), a description of at most
//! 255 (the shared rules); a scheme lists at least one issue type, each one the site has,
//! once, and its default issue type is one of them; a project's scheme is switched only to
//! one listing the issue types its issues have. An unknown scheme or project is 404. What
//! the double creates carries its natural key (its name) as its source key, so a scheme
//! created twice shows.

#![allow(clippy::result_large_err)]

use airlock_model::jira::{IssueTypeScheme, SchemeType};

use super::screens::{
    all, checked_name, description, paging, projects_by_scheme, put_project_scheme,
};
use super::*;

/// The scheme every project without one of its own uses.
const DEFAULT_SCHEME: i64 = 10_000;

fn scheme_json(row: &Row) -> Value {
    let mut v = json!({
        "id": s(row, "id"),
        "name": s(row, "name"),
        "description": s(row, "description"),
    });
    if let Some(default) = opt(row, "default_issue_type_id") {
        v["defaultIssueTypeId"] = json!(default);
    }
    if int(row, "is_default") == Some(1) {
        v["isDefault"] = json!(true);
    }
    v
}

/// The id of the scheme `id`, if the site has it.
fn scheme_id(r: &Reader, id: &str) -> Option<i64> {
    let id: i64 = id.trim().parse().ok()?;
    r.int("SELECT id FROM issue_type_schemes WHERE id = ?1", &[&id])
}

/// `GET /rest/api/3/issuetypescheme`: `id` (repeated) and `queryString` (a part of the
/// name, in any case).
pub(super) async fn list_issue_type_schemes(
    State(st): S,
    Query(q): Query<Vec<(String, String)>>,
) -> Reply {
    let r = st.reader();
    let ids = all(&q, "id");
    let query = all(&q, "queryString")
        .first()
        .map(|part| part.to_lowercase());
    let list: Vec<Value> = r
        .rows("SELECT * FROM issue_type_schemes ORDER BY id", &[])
        .iter()
        .filter(|row| ids.is_empty() || ids.contains(&s(row, "id").as_str()))
        .filter(|row| {
            query
                .as_ref()
                .is_none_or(|part| s(row, "name").to_lowercase().contains(part))
        })
        .map(scheme_json)
        .collect();
    Ok(json(StatusCode::OK, page_bean(list, &paging(&q))))
}

/// `POST /rest/api/3/issuetypescheme` (`{"name", "description", "defaultIssueTypeId",
/// "issueTypeIds"}`): 201 with `{"issueTypeSchemeId"}`; 400 for a name another scheme has
/// (in any case), no issue type, an issue type the site has not or listed twice, and a
/// default not among them.
pub(super) async fn create_issue_type_scheme(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let name = checked_name(&v, "issue type scheme")?;
    let description = description(&v)?;
    let mut site = st.site();
    let r = st.reader();
    if r.exists(
        "SELECT 1 FROM issue_type_schemes WHERE name = ?1 COLLATE NOCASE",
        &[&name],
    ) {
        return Err(bad(
            "name",
            "An issue type scheme with this name already exists.",
        ));
    }
    let given = v
        .get("issueTypeIds")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("issueTypeIds", "The issue type IDs are required."))?;
    let mut issue_types: Vec<String> = Vec::with_capacity(given.len());
    for t in given {
        let id = id_of(t, "")
            .ok_or_else(|| bad("issueTypeIds", "An issue type ID must be a string."))?;
        if !r.exists("SELECT 1 FROM issue_types WHERE id = ?1", &[&id]) {
            return Err(bad(
                "issueTypeIds",
                &format!("The issue type '{id}' does not exist."),
            ));
        }
        if issue_types.contains(&id) {
            return Err(bad(
                "issueTypeIds",
                &format!("The issue type '{id}' is listed more than once."),
            ));
        }
        issue_types.push(id);
    }
    let default_issue_type = match v.get("defaultIssueTypeId") {
        None | Some(Value::Null) => None,
        Some(d) => Some(id_of(d, "").ok_or_else(|| {
            bad(
                "defaultIssueTypeId",
                "The default issue type ID must be a string.",
            )
        })?),
    };
    let record = Record::IssueTypeScheme(IssueTypeScheme {
        id: name.to_lowercase(),
        name,
        description,
        issue_types,
        default_issue_type,
        global: false,
    });
    // Cloud's rules, as the shared rules have them: at least one issue type, the default
    // among them, the description's length.
    if let Err(violation) = airlock_site::rules::check(&record) {
        return Err(bad(violation.field, &violation.message));
    }
    let id = put_record(&mut site, record)?.map_err(|e| refused("issueTypeIds", &e))?;
    Ok(json(
        StatusCode::CREATED,
        json!({ "issueTypeSchemeId": id }),
    ))
}

/// `GET /rest/api/3/issuetypescheme/mapping`: the issue types of the schemes asked for
/// (`issueTypeSchemeId`, repeated), of all if none is, each scheme's in its order.
pub(super) async fn list_issue_type_scheme_mappings(
    State(st): S,
    Query(q): Query<Vec<(String, String)>>,
) -> Reply {
    let r = st.reader();
    let schemes = all(&q, "issueTypeSchemeId");
    let list: Vec<Value> = r
        .rows(
            "SELECT * FROM issue_type_scheme_types ORDER BY scheme_id, position",
            &[],
        )
        .iter()
        .filter(|m| schemes.is_empty() || schemes.contains(&s(m, "scheme_id").as_str()))
        .map(|m| {
            json!({
                "issueTypeSchemeId": s(m, "scheme_id"),
                "issueTypeId": s(m, "issue_type_id"),
            })
        })
        .collect();
    Ok(json(StatusCode::OK, page_bean(list, &paging(&q))))
}

/// The issue type scheme a project uses: its own, or the default one.
fn project_scheme(r: &Reader, project: i64) -> i64 {
    r.int(
        "SELECT scheme_id FROM project_schemes
         WHERE project_id = ?1 AND scheme_type = 'issue-type'",
        &[&project],
    )
    .unwrap_or(DEFAULT_SCHEME)
}

/// `GET /rest/api/3/issuetypescheme/project?projectId=`: the schemes the projects asked
/// for use, each with those of them that use it.
pub(super) async fn list_project_issue_type_schemes(
    State(st): S,
    Query(q): Query<Vec<(String, String)>>,
) -> Reply {
    let r = st.reader();
    let by_scheme = projects_by_scheme(&r, &q, |project| project_scheme(&r, project));
    let list: Vec<Value> = by_scheme
        .into_iter()
        .map(|(id, projects)| {
            let row = r
                .row("SELECT * FROM issue_type_schemes WHERE id = ?1", &[&id])
                .unwrap_or_default();
            json!({ "issueTypeScheme": scheme_json(&row), "projectIds": projects })
        })
        .collect();
    Ok(json(StatusCode::OK, page_bean(list, &paging(&q))))
}

/// `PUT /rest/api/3/issuetypescheme/project` (`{"issueTypeSchemeId", "projectId"}`): 204;
/// 404 for a scheme or project the site has not, 400 for a scheme without an issue type
/// the project's issues have.
pub(super) async fn assign_issue_type_scheme(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let scheme = id_of(&v, "/issueTypeSchemeId")
        .ok_or_else(|| bad("issueTypeSchemeId", "The issue type scheme ID is required."))?;
    let project =
        id_of(&v, "/projectId").ok_or_else(|| bad("projectId", "The project ID is required."))?;
    let mut site = st.site();
    let r = st.reader();
    let scheme =
        scheme_id(&r, &scheme).ok_or_else(|| not_found("The issue type scheme was not found."))?;
    let project = r
        .project_id(&project)
        .ok_or_else(|| not_found("The project was not found."))?;
    if r.exists(
        "SELECT 1 FROM issues i
         WHERE i.project_id = ?1 AND i.issue_type_id NOT IN
             (SELECT issue_type_id FROM issue_type_scheme_types WHERE scheme_id = ?2)",
        &[&project, &scheme],
    ) {
        return Err(bad(
            "issueTypeSchemeId",
            "The project has issues of issue types the scheme does not list.",
        ));
    }
    put_project_scheme(
        &mut site,
        project,
        SchemeType::IssueType,
        "issue-type",
        scheme,
        "issueTypeSchemeId",
    )
}
