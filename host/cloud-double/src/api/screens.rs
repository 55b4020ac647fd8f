//! Screens with their tabs and the tabs' fields, screen schemes, issue type screen schemes
//! and the issue type screen scheme each project uses, as Jira Cloud keeps them (in the
//! site's own tables, which hold Cloud's defaults: screens 1–3, screen scheme 1 and issue
//! type screen scheme 1, each project on the latter until it is given another).
//!
//! Cloud's rules: names of screens, screen schemes and issue type screen schemes are
//! distinct in any case, not blank and at most 255 characters (the local site's writer
//! would rename instead: refused here first); a new screen comes with one tab, "Field
//! Tab"; a tab's name is its screen's once; a field is on a screen once, whichever tab,
//! and is a system field Cloud puts on screens or a custom field the site has; fields and
//! tabs are appended. A screen scheme has a default screen and names screens the site
//! has; an issue type screen scheme has a default mapping, names issue types and screen
//! schemes the site has, and each issue type once. An unknown screen, tab, scheme or
//! project is 404. What the double creates carries its natural key as its source key (a
//! screen's name, a tab's screen and name, a field's screen and id), so a record created
//! twice shows.

#![allow(clippy::result_large_err)]

use airlock_model::jira::{
    FieldId, IssueTypeMapping, IssueTypeScreenScheme, Named, ProjectScheme, SchemeType,
    ScreenField, ScreenOperation, ScreenScheme, ScreenTab,
};

use super::*;

const MAX_NAME: usize = 255;
/// The tab Cloud gives every new screen.
const DEFAULT_TAB: &str = "Field Tab";
/// The issue type screen scheme a project uses until it is given another.
const DEFAULT_ISSUE_TYPE_SCREEN_SCHEME: i64 = 1;

/// Jira Cloud's system fields a screen may show: id and name.
const SYSTEM_FIELDS: [(&str, &str); 22] = [
    ("summary", "Summary"),
    ("issuetype", "Issue Type"),
    ("security", "Security Level"),
    ("priority", "Priority"),
    ("duedate", "Due date"),
    ("components", "Components"),
    ("versions", "Affects versions"),
    ("fixVersions", "Fix versions"),
    ("assignee", "Assignee"),
    ("reporter", "Reporter"),
    ("environment", "Environment"),
    ("description", "Description"),
    ("timetracking", "Time tracking"),
    ("timeoriginalestimate", "Original estimate"),
    ("timeestimate", "Remaining Estimate"),
    ("attachment", "Attachment"),
    ("labels", "Labels"),
    ("resolution", "Resolution"),
    ("issuelinks", "Linked Issues"),
    ("worklog", "Log Work"),
    ("comment", "Comment"),
    ("parent", "Parent"),
];

const OPERATIONS: [ScreenOperation; 4] = [
    ScreenOperation::Default,
    ScreenOperation::Create,
    ScreenOperation::Edit,
    ScreenOperation::View,
];

fn no_screen() -> Response<Body> {
    not_found("The screen was not found.")
}

fn no_tab() -> Response<Body> {
    not_found("The screen tab was not found.")
}

/// A name as Cloud takes it (`what` says whose): not blank, at most 255 characters.
pub(super) fn checked_name(v: &Value, what: &str) -> Result<String, Response<Body>> {
    let name = text(v, "/name")
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| bad("name", &format!("The {what} name must not be empty.")))?;
    if name.chars().count() > MAX_NAME {
        return Err(bad(
            "name",
            &format!("The {what} name must not be longer than 255 characters."),
        ));
    }
    Ok(name.to_owned())
}

/// A create's description: optional text.
pub(super) fn description(v: &Value) -> Result<String, Response<Body>> {
    match v.get("description") {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(d)) => Ok(d.clone()),
        Some(_) => Err(bad("description", "The description must be a string.")),
    }
}

/// Whether `table` has a row named `name` in any case.
fn name_taken(r: &Reader, table: &str, name: &str) -> bool {
    r.exists(
        &format!("SELECT 1 FROM {table} WHERE name = ?1 COLLATE NOCASE"),
        &[&name],
    )
}

/// `queryString`: a part of the name, in any case.
fn matches_query(q: &HashMap<String, String>, row: &Row) -> bool {
    q.get("queryString")
        .is_none_or(|part| s(row, "name").to_lowercase().contains(&part.to_lowercase()))
}

/// The row of `table` with id `id`, if the site has it.
fn row_of(r: &Reader, table: &str, id: &str) -> Option<Row> {
    let id: i64 = id.trim().parse().ok()?;
    r.row(&format!("SELECT * FROM {table} WHERE id = ?1"), &[&id])
}

fn screen_json(row: &Row) -> Value {
    json!({
        "id": int(row, "id"),
        "name": s(row, "name"),
        "description": s(row, "description"),
    })
}

fn tab_json(row: &Row) -> Value {
    json!({ "id": int(row, "id"), "name": s(row, "name") })
}

/// A field as a tab lists it: its id and name (a custom field's from the site).
fn field_json(r: &Reader, field: &str) -> Value {
    let name = match SYSTEM_FIELDS.iter().find(|(id, _)| *id == field) {
        Some((_, name)) => (*name).to_owned(),
        None => r
            .field_id(field)
            .and_then(|id| r.row("SELECT name FROM fields WHERE id = ?1", &[&id]))
            .map(|row| s(&row, "name"))
            .unwrap_or_default(),
    };
    json!({ "id": field, "name": name })
}

/// The tab `tab` of screen `screen`, both as the path names them.
fn tab_row(r: &Reader, screen: &str, tab: &str) -> Result<(i64, Row), Response<Body>> {
    let screen = row_of(r, "screens", screen)
        .and_then(|row| int(&row, "id"))
        .ok_or_else(no_screen)?;
    let row = row_of(r, "screen_tabs", tab)
        .filter(|row| int(row, "screen_id") == Some(screen))
        .ok_or_else(no_tab)?;
    Ok((screen, row))
}

/// Whether screen `screen` has a tab named `name` (any case) other than `except`.
fn tab_named(r: &Reader, screen: i64, name: &str, except: Option<i64>) -> bool {
    r.rows(
        "SELECT id FROM screen_tabs WHERE screen_id = ?1 AND name = ?2 COLLATE NOCASE",
        &[&screen, &name],
    )
    .iter()
    .any(|row| int(row, "id") != except)
}

/// The next position at the end of `table`'s rows where `column` is `id`.
fn next_position(r: &Reader, table: &str, column: &str, id: i64) -> i64 {
    r.int(
        &format!("SELECT COALESCE(MAX(position) + 1, 0) FROM {table} WHERE {column} = ?1"),
        &[&id],
    )
    .unwrap_or(0)
}

/// A tab's natural key, its source key.
fn tab_key(screen: i64, name: &str) -> String {
    format!("{screen}/{}", name.to_lowercase())
}

fn failed(e: rusqlite::Error) -> Response<Body> {
    tracing::error!("the double could not change a screen tab: {e}");
    error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
}

// --- Screens, tabs and fields ---

pub(super) async fn list_screens(State(st): S, q: Q) -> Reply {
    let r = st.reader();
    let list: Vec<Value> = r
        .rows("SELECT * FROM screens ORDER BY id", &[])
        .iter()
        .filter(|row| matches_query(&q, row))
        .map(screen_json)
        .collect();
    Ok(json(StatusCode::OK, page_bean(list, &q)))
}

/// `POST /rest/api/3/screens`: 201 with the screen, which has one tab ("Field Tab"); 400
/// for a name another screen has (in any case), a blank or a long one.
pub(super) async fn create_screen(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let name = checked_name(&v, "screen")?;
    let description = description(&v)?;
    let mut site = st.site();
    let r = st.reader();
    if name_taken(&r, "screens", &name) {
        return Err(bad("name", "The name is used by another screen."));
    }
    let record = Record::Screen(Named {
        id: name.to_lowercase(),
        name,
        description,
    });
    let id = put_record(&mut site, record)?.map_err(|e| refused("name", &e))?;
    let screen: i64 = id.parse().unwrap_or(0);
    let tab = Record::ScreenTab(ScreenTab {
        id: tab_key(screen, DEFAULT_TAB),
        screen: id.clone(),
        name: DEFAULT_TAB.into(),
        position: 0,
    });
    put_record(&mut site, tab)?.map_err(|e| refused("name", &e))?;
    let row = r
        .row("SELECT * FROM screens WHERE id = ?1", &[&screen])
        .unwrap_or_default();
    Ok(json(StatusCode::CREATED, screen_json(&row)))
}

pub(super) async fn list_screen_tabs(State(st): S, Path(screen): Path<String>) -> Reply {
    let r = st.reader();
    let screen = row_of(&r, "screens", &screen)
        .and_then(|row| int(&row, "id"))
        .ok_or_else(no_screen)?;
    let tabs: Vec<Value> = r
        .rows(
            "SELECT * FROM screen_tabs WHERE screen_id = ?1 ORDER BY position, id",
            &[&screen],
        )
        .iter()
        .map(tab_json)
        .collect();
    Ok(json(StatusCode::OK, Value::Array(tabs)))
}

/// `POST /rest/api/3/screens/{id}/tabs`: the tab, last on the screen; 400 for a name
/// another tab of the screen has (in any case).
pub(super) async fn add_screen_tab(State(st): S, Path(screen): Path<String>, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let name = checked_name(&v, "tab")?;
    let mut site = st.site();
    let r = st.reader();
    let screen = row_of(&r, "screens", &screen)
        .and_then(|row| int(&row, "id"))
        .ok_or_else(no_screen)?;
    if tab_named(&r, screen, &name, None) {
        return Err(bad(
            "name",
            "A tab with this name already exists on the screen.",
        ));
    }
    let record = Record::ScreenTab(ScreenTab {
        id: tab_key(screen, &name),
        screen: screen.to_string(),
        name,
        position: next_position(&r, "screen_tabs", "screen_id", screen),
    });
    let id = put_record(&mut site, record)?.map_err(|e| refused("name", &e))?;
    let id: i64 = id.parse().unwrap_or(0);
    let row = r
        .row("SELECT * FROM screen_tabs WHERE id = ?1", &[&id])
        .unwrap_or_default();
    Ok(json(StatusCode::OK, tab_json(&row)))
}

/// `PUT /rest/api/3/screens/{id}/tabs/{tab}` (`{"name"}`): the tab renamed; 400 for a name
/// another tab of the screen has. Renaming a tab to its own name changes nothing.
pub(super) async fn rename_screen_tab(
    State(st): S,
    Path((screen, tab)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let v = parse(&body)?;
    let name = checked_name(&v, "tab")?;
    let _site = st.site();
    let r = st.reader();
    let (screen, row) = tab_row(&r, &screen, &tab)?;
    let tab = int(&row, "id").unwrap_or(0);
    if tab_named(&r, screen, &name, Some(tab)) {
        return Err(bad(
            "name",
            "A tab with this name already exists on the screen.",
        ));
    }
    // Its natural key changes with its name; a tab the double did not create keeps none.
    r.execute(
        "UPDATE screen_tabs SET name = ?1,
             source_key = CASE WHEN source_key IS NULL THEN NULL ELSE ?2 END
         WHERE id = ?3",
        &[&name, &tab_key(screen, &name), &tab],
    )
    .map_err(failed)?;
    let row = r
        .row("SELECT * FROM screen_tabs WHERE id = ?1", &[&tab])
        .unwrap_or_default();
    Ok(json(StatusCode::OK, tab_json(&row)))
}

pub(super) async fn list_tab_fields(
    State(st): S,
    Path((screen, tab)): Path<(String, String)>,
) -> Reply {
    let r = st.reader();
    let (_, row) = tab_row(&r, &screen, &tab)?;
    let tab = int(&row, "id").unwrap_or(0);
    let fields: Vec<Value> = r
        .rows(
            "SELECT field_id FROM screen_fields WHERE tab_id = ?1 ORDER BY position, id",
            &[&tab],
        )
        .iter()
        .map(|f| field_json(&r, &s(f, "field_id")))
        .collect();
    Ok(json(StatusCode::OK, Value::Array(fields)))
}

/// `POST /rest/api/3/screens/{id}/tabs/{tab}/fields` (`{"fieldId"}`): the field, last on
/// the tab; 400 for a field on the screen already (any tab) and for one the site has not.
pub(super) async fn add_tab_field(
    State(st): S,
    Path((screen, tab)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let v = parse(&body)?;
    let field = text(&v, "/fieldId")
        .filter(|f| !f.is_empty())
        .ok_or_else(|| bad("fieldId", "The field ID is required."))?
        .to_owned();
    let mut site = st.site();
    let r = st.reader();
    let (screen, row) = tab_row(&r, &screen, &tab)?;
    let tab = int(&row, "id").unwrap_or(0);
    let id = if SYSTEM_FIELDS.iter().any(|(id, _)| *id == field) {
        FieldId::System(field.clone())
    } else if r.field_id(&field).is_some() {
        FieldId::Custom(field.clone())
    } else {
        return Err(bad(
            "fieldId",
            &format!("The field '{field}' does not exist or cannot be added to a screen."),
        ));
    };
    if r.exists(
        "SELECT 1 FROM screen_fields WHERE screen_id = ?1 AND field_id = ?2",
        &[&screen, &field],
    ) {
        return Err(bad(
            "fieldId",
            &format!("The field '{field}' is already on the screen."),
        ));
    }
    let record = Record::ScreenField(ScreenField {
        id: format!("{screen}/{field}"),
        tab: tab.to_string(),
        field: id,
        position: next_position(&r, "screen_fields", "tab_id", tab),
    });
    put_record(&mut site, record)?.map_err(|e| refused("fieldId", &e))?;
    Ok(json(StatusCode::OK, field_json(&r, &field)))
}

// --- Screen schemes ---

fn screen_scheme_json(r: &Reader, row: &Row) -> Value {
    let id = int(row, "id").unwrap_or(0);
    let screens: serde_json::Map<String, Value> = r
        .rows(
            "SELECT operation, screen_id FROM screen_scheme_screens WHERE scheme_id = ?1",
            &[&id],
        )
        .iter()
        .map(|m| (s(m, "operation"), json!(int(m, "screen_id"))))
        .collect();
    json!({
        "id": id,
        "name": s(row, "name"),
        "description": s(row, "description"),
        "screens": screens,
    })
}

pub(super) async fn list_screen_schemes(State(st): S, q: Q) -> Reply {
    let r = st.reader();
    let list: Vec<Value> = r
        .rows("SELECT * FROM screen_schemes ORDER BY id", &[])
        .iter()
        .filter(|row| matches_query(&q, row))
        .map(|row| screen_scheme_json(&r, row))
        .collect();
    Ok(json(StatusCode::OK, page_bean(list, &q)))
}

/// `POST /rest/api/3/screenscheme`: 201 with the scheme's id; 400 for a name another
/// screen scheme has (in any case), a scheme without a default screen, an operation Cloud
/// does not know and a screen the site has not.
pub(super) async fn create_screen_scheme(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let name = checked_name(&v, "screen scheme")?;
    let description = description(&v)?;
    let mut site = st.site();
    let r = st.reader();
    if name_taken(&r, "screen_schemes", &name) {
        return Err(bad("name", "The name is used by another screen scheme."));
    }
    let given = v
        .get("screens")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("screens", "The screens are required."))?;
    let mut screens = Vec::with_capacity(given.len());
    // The default first, as the record keeps them.
    for operation in OPERATIONS {
        let Some(screen) = given.get(operation.as_str()) else {
            continue;
        };
        let screen = id_of(screen, "")
            .and_then(|id| row_of(&r, "screens", &id))
            .and_then(|row| int(&row, "id"))
            .ok_or_else(|| {
                bad(
                    "screens",
                    &format!("The screen for '{}' does not exist.", operation.as_str()),
                )
            })?;
        screens.push((operation, screen.to_string()));
    }
    if let Some(unknown) = given
        .keys()
        .find(|k| !OPERATIONS.iter().any(|o| o.as_str() == k.as_str()))
    {
        return Err(bad(
            "screens",
            &format!("'{unknown}' is not an issue operation."),
        ));
    }
    if screens
        .first()
        .is_none_or(|(o, _)| *o != ScreenOperation::Default)
    {
        return Err(bad("screens", "The default screen is required."));
    }
    let record = Record::ScreenScheme(ScreenScheme {
        id: name.to_lowercase(),
        name,
        description,
        screens,
    });
    let id = put_record(&mut site, record)?.map_err(|e| refused("screens", &e))?;
    Ok(json(
        StatusCode::CREATED,
        json!({ "id": id.parse::<i64>().unwrap_or(0) }),
    ))
}

// --- Issue type screen schemes, and the one each project uses ---

fn issue_type_scheme_json(row: &Row) -> Value {
    json!({
        "id": s(row, "id"),
        "name": s(row, "name"),
        "description": s(row, "description"),
    })
}

pub(super) async fn list_issue_type_screen_schemes(State(st): S, q: Q) -> Reply {
    let r = st.reader();
    let list: Vec<Value> = r
        .rows("SELECT * FROM issue_type_screen_schemes ORDER BY id", &[])
        .iter()
        .filter(|row| matches_query(&q, row))
        .map(issue_type_scheme_json)
        .collect();
    Ok(json(StatusCode::OK, page_bean(list, &q)))
}

/// Every value of the query parameter `name` (Cloud takes a parameter repeated).
pub(super) fn all<'q>(q: &'q [(String, String)], name: &str) -> Vec<&'q str> {
    q.iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// The paging parameters of a query, as [`page_bean`] takes them.
pub(super) fn paging(q: &[(String, String)]) -> HashMap<String, String> {
    q.iter()
        .filter(|(k, _)| k == "startAt" || k == "maxResults")
        .cloned()
        .collect()
}

/// A `GET …/mapping` of schemes' issue type mappings, kept in `table`: the mappings of the
/// schemes asked for (the query parameter `scheme`, repeated), of all if none is, each as
/// `{scheme, "issueTypeId", target}` with its `target_column` as `target`; the default's
/// issue type is `default`.
pub(super) fn list_mappings(
    r: &Reader,
    q: &[(String, String)],
    table: &str,
    scheme: &str,
    target_column: &str,
    target: &str,
) -> Reply {
    let schemes = all(q, scheme);
    let list: Vec<Value> = r
        .rows(
            &format!("SELECT * FROM {table} ORDER BY scheme_id, issue_type_id"),
            &[],
        )
        .iter()
        .filter(|m| schemes.is_empty() || schemes.contains(&s(m, "scheme_id").as_str()))
        .map(|m| {
            let issue_type = match int(m, "issue_type_id") {
                Some(0) => "default".to_owned(),
                _ => s(m, "issue_type_id"),
            };
            json!({
                scheme: s(m, "scheme_id"),
                "issueTypeId": issue_type,
                target: s(m, target_column),
            })
        })
        .collect();
    Ok(json(StatusCode::OK, page_bean(list, &paging(q))))
}

/// `GET /rest/api/3/issuetypescreenscheme/mapping`: the mappings of the schemes asked for
/// (`issueTypeScreenSchemeId`), of all if none is; the default's issue type is `default`.
pub(super) async fn list_issue_type_screen_mappings(
    State(st): S,
    Query(q): Query<Vec<(String, String)>>,
) -> Reply {
    list_mappings(
        &st.reader(),
        &q,
        "issue_type_screen_mappings",
        "issueTypeScreenSchemeId",
        "screen_scheme_id",
        "screenSchemeId",
    )
}

/// `POST /rest/api/3/issuetypescreenscheme`: 201 with the scheme's id (as text, as
/// Cloud); 400 for a name another scheme has (in any case), no default mapping, an issue
/// type mapped twice, and an issue type or screen scheme the site has not.
pub(super) async fn create_issue_type_screen_scheme(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let name = checked_name(&v, "issue type screen scheme")?;
    let description = description(&v)?;
    let mut site = st.site();
    let r = st.reader();
    if name_taken(&r, "issue_type_screen_schemes", &name) {
        return Err(bad(
            "name",
            "The name is used by another issue type screen scheme.",
        ));
    }
    let given = v
        .get("issueTypeMappings")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("issueTypeMappings", "The issue type mappings are required."))?;
    let mut mappings: Vec<IssueTypeMapping> = Vec::with_capacity(given.len());
    for m in given {
        let issue_type = match id_of(m, "/issueTypeId").as_deref() {
            Some("default") => None,
            Some(id) => Some(
                row_of(&r, "issue_types", id)
                    .map(|row| s(&row, "id"))
                    .ok_or_else(|| {
                        bad(
                            "issueTypeMappings",
                            &format!("The issue type '{id}' does not exist."),
                        )
                    })?,
            ),
            None => {
                return Err(bad("issueTypeMappings", "The issue type ID is required."));
            }
        };
        let screen_scheme = id_of(m, "/screenSchemeId")
            .and_then(|id| row_of(&r, "screen_schemes", &id))
            .map(|row| s(&row, "id"))
            .ok_or_else(|| bad("issueTypeMappings", "The screen scheme does not exist."))?;
        if mappings.iter().any(|x| x.issue_type == issue_type) {
            return Err(bad(
                "issueTypeMappings",
                "An issue type is mapped more than once.",
            ));
        }
        mappings.push(IssueTypeMapping {
            issue_type,
            screen_scheme,
        });
    }
    if !mappings.iter().any(|m| m.issue_type.is_none()) {
        return Err(bad("issueTypeMappings", "The default mapping is required."));
    }
    // The default first, as the record keeps them.
    mappings.sort_by_key(|m| m.issue_type.is_some());
    let record = Record::IssueTypeScreenScheme(IssueTypeScreenScheme {
        id: name.to_lowercase(),
        name,
        description,
        mappings,
    });
    let id = put_record(&mut site, record)?.map_err(|e| refused("issueTypeMappings", &e))?;
    Ok(json(StatusCode::CREATED, json!({ "id": id })))
}

/// The issue type screen scheme a project uses: its own, or the default one.
fn project_issue_type_screen_scheme(r: &Reader, project: i64) -> i64 {
    r.int(
        "SELECT scheme_id FROM project_schemes
         WHERE project_id = ?1 AND scheme_type = 'issue-type-screen'",
        &[&project],
    )
    .unwrap_or(DEFAULT_ISSUE_TYPE_SCREEN_SCHEME)
}

/// The projects asked for (`projectId`, repeated; one the site has not left out), grouped
/// by the scheme `scheme_of` says each uses, in the schemes' order.
pub(super) fn projects_by_scheme<K: Ord + Copy>(
    r: &Reader,
    q: &[(String, String)],
    scheme_of: impl Fn(i64) -> K,
) -> Vec<(K, Vec<String>)> {
    let mut by_scheme: Vec<(K, Vec<String>)> = Vec::new();
    for asked in all(q, "projectId") {
        let Some(project) = r.project_id(asked) else {
            continue;
        };
        let scheme = scheme_of(project);
        match by_scheme.iter_mut().find(|(id, _)| *id == scheme) {
            Some((_, projects)) => projects.push(project.to_string()),
            None => by_scheme.push((scheme, vec![project.to_string()])),
        }
    }
    by_scheme.sort_by_key(|(id, _)| *id);
    by_scheme
}

/// Puts `project` on `scheme` (`scheme_type`), the association `{project}/{what}`; 204, or
/// 400 on `field` for a refusal.
pub(super) fn put_project_scheme(
    site: &mut LocalSite,
    project: i64,
    scheme_type: SchemeType,
    what: &str,
    scheme: i64,
    field: &str,
) -> Reply {
    let record = Record::ProjectScheme(ProjectScheme {
        id: format!("{project}/{what}"),
        project: project.to_string(),
        scheme_type,
        scheme: scheme.to_string(),
    });
    put_record(site, record)?.map_err(|e| refused(field, &e))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /rest/api/3/issuetypescreenscheme/project?projectId=`: the schemes the projects
/// asked for use, each with those of them that use it.
pub(super) async fn list_project_issue_type_screen_schemes(
    State(st): S,
    Query(q): Query<Vec<(String, String)>>,
) -> Reply {
    let r = st.reader();
    let by_scheme = projects_by_scheme(&r, &q, |project| {
        project_issue_type_screen_scheme(&r, project)
    });
    let list: Vec<Value> = by_scheme
        .into_iter()
        .map(|(id, projects)| {
            let row = r
                .row(
                    "SELECT * FROM issue_type_screen_schemes WHERE id = ?1",
                    &[&id],
                )
                .unwrap_or_default();
            json!({
                "issueTypeScreenScheme": issue_type_scheme_json(&row),
                "projectIds": projects,
            })
        })
        .collect();
    Ok(json(StatusCode::OK, page_bean(list, &paging(&q))))
}

/// `PUT /rest/api/3/issuetypescreenscheme/project` (`{"issueTypeScreenSchemeId",
/// "projectId"}`): 204; 404 for a scheme or project the site has not.
pub(super) async fn assign_issue_type_screen_scheme(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let scheme = id_of(&v, "/issueTypeScreenSchemeId").ok_or_else(|| {
        bad(
            "issueTypeScreenSchemeId",
            "The issue type screen scheme ID is required.",
        )
    })?;
    let project =
        id_of(&v, "/projectId").ok_or_else(|| bad("projectId", "The project ID is required."))?;
    let mut site = st.site();
    let r = st.reader();
    let scheme = row_of(&r, "issue_type_screen_schemes", &scheme)
        .and_then(|row| int(&row, "id"))
        .ok_or_else(|| not_found("The issue type screen scheme was not found."))?;
    let project = r
        .project_id(&project)
        .ok_or_else(|| not_found("The project was not found."))?;
    put_project_scheme(
        &mut site,
        project,
        SchemeType::IssueTypeScreen,
        "issue-type-screen",
        scheme,
        "issueTypeScreenSchemeId",
    )
}
