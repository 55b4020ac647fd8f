//! Field configurations with their fields' settings, field configuration schemes with
//! their mappings, and the scheme each project uses, as Jira Cloud keeps them (in the
//! site's own tables, which hold Cloud's "Default Field Configuration", 10000; a project
//! without a scheme of its own uses the system default, which has no scheme id).
//!
//! Cloud's rules: names of field configurations and of schemes are distinct in any case,
//! not blank and at most 255 characters (the local site's writer would rename instead:
//! refused here first). A configuration lists every field of the site (Cloud's system
//! fields and the site's custom fields) with its settings, the defaults (shown, optional,
//! no renderer) for a field never set; `PUT …/fields` takes at most 100 items, each a field
//! the site has, a renderer Cloud has (`text-renderer`, `wiki-renderer`), replaces the
//! settings it names and leaves the others, all items or none; the default configuration
//! cannot be changed through the API. A new scheme maps every issue type to the default
//! configuration; `PUT …/mapping` replaces the mappings of the issue types it names
//! (`default` or an issue type the site has, a configuration the site has). An unknown
//! configuration, scheme or project is 404. What the double creates carries its natural
//! key as its source key (a name, a configuration's field), so a record created twice
//! shows.

#![allow(clippy::result_large_err)]

use airlock_model::jira::{
    FieldConfigurationItem, FieldConfigurationMapping, FieldConfigurationScheme, FieldId, Named,
    SchemeType,
};
use rusqlite::OptionalExtension;

use super::screens::{
    all, checked_name, description, list_mappings, paging, projects_by_scheme, put_project_scheme,
};
use super::*;

/// Items per `PUT …/fields`.
const MAX_ITEMS: usize = 100;
/// Cloud's default field configuration, which the API cannot change.
const DEFAULT_CONFIGURATION: i64 = 10_000;
/// Renderers a field configuration takes through the API.
const RENDERERS: [&str; 2] = ["text-renderer", "wiki-renderer"];

/// Jira Cloud's system fields a field configuration has, in the order Cloud lists them.
const SYSTEM_FIELDS: [&str; 20] = [
    "summary",
    "issuetype",
    "security",
    "priority",
    "duedate",
    "components",
    "versions",
    "fixVersions",
    "assignee",
    "reporter",
    "environment",
    "description",
    "timetracking",
    "attachment",
    "labels",
    "comment",
    "resolution",
    "issuelinks",
    "worklog",
    "parent",
];

fn no_configuration() -> Response<Body> {
    not_found("The field configuration was not found.")
}

fn no_scheme() -> Response<Body> {
    not_found("The field configuration scheme was not found.")
}

fn failed(e: rusqlite::Error) -> Response<Body> {
    tracing::error!("the double could not change a field configuration: {e}");
    error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
}

/// The id of `table`'s row `id`, if the site has it.
fn id_in(r: &Reader, table: &str, id: &str) -> Option<i64> {
    let id: i64 = id.trim().parse().ok()?;
    r.int(&format!("SELECT id FROM {table} WHERE id = ?1"), &[&id])
}

/// Every field of the site a configuration has: Cloud's system fields, then the custom
/// fields by id.
fn site_fields(r: &Reader) -> Vec<String> {
    let mut fields: Vec<String> = SYSTEM_FIELDS.iter().map(|f| (*f).to_owned()).collect();
    fields.extend(
        r.rows("SELECT id FROM fields ORDER BY id", &[])
            .iter()
            .map(|f| format!("customfield_{}", s(f, "id"))),
    );
    fields
}

/// A field id of a request as the site's record names it, if the site has the field.
fn known_field(r: &Reader, field: &str) -> Option<FieldId> {
    if SYSTEM_FIELDS.contains(&field) {
        Some(FieldId::System(field.to_owned()))
    } else {
        r.field_id(field).map(|_| FieldId::Custom(field.to_owned()))
    }
}

// --- Field configurations and their fields ---

fn configuration_json(row: &Row) -> Value {
    json!({
        "id": int(row, "id"),
        "name": s(row, "name"),
        "description": s(row, "description"),
        "isDefault": int(row, "is_default") == Some(1),
    })
}

/// `GET /rest/api/3/fieldconfiguration`: `id` (repeated), `isDefault`, and `query` (a part
/// of the name or description, in any case).
pub(super) async fn list_field_configurations(
    State(st): S,
    Query(q): Query<Vec<(String, String)>>,
) -> Reply {
    let r = st.reader();
    let ids = all(&q, "id");
    let default_only = all(&q, "isDefault").contains(&"true");
    let query = all(&q, "query").first().map(|part| part.to_lowercase());
    let list: Vec<Value> = r
        .rows("SELECT * FROM field_configurations ORDER BY id", &[])
        .iter()
        .filter(|row| ids.is_empty() || ids.contains(&s(row, "id").as_str()))
        .filter(|row| !default_only || int(row, "is_default") == Some(1))
        .filter(|row| {
            query.as_ref().is_none_or(|part| {
                s(row, "name").to_lowercase().contains(part)
                    || s(row, "description").to_lowercase().contains(part)
            })
        })
        .map(configuration_json)
        .collect();
    Ok(json(StatusCode::OK, page_bean(list, &paging(&q))))
}

/// `POST /rest/api/3/fieldconfiguration`: 200 with the configuration; 400 for a name
/// another configuration has (in any case), a blank or a long one.
pub(super) async fn create_field_configuration(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let name = checked_name(&v, "field configuration")?;
    let description = description(&v)?;
    let mut site = st.site();
    let r = st.reader();
    if r.exists(
        "SELECT 1 FROM field_configurations WHERE name = ?1 COLLATE NOCASE",
        &[&name],
    ) {
        return Err(bad(
            "name",
            "A field configuration with this name already exists.",
        ));
    }
    let record = Record::FieldConfiguration(Named {
        id: name.to_lowercase(),
        name,
        description,
    });
    let id = put_record(&mut site, record)?.map_err(|e| refused("name", &e))?;
    let id: i64 = id.parse().unwrap_or(0);
    let row = r
        .row("SELECT * FROM field_configurations WHERE id = ?1", &[&id])
        .unwrap_or_default();
    Ok(json(
        StatusCode::OK,
        json!({
            "id": id,
            "name": s(&row, "name"),
            "description": s(&row, "description"),
        }),
    ))
}

/// `GET /rest/api/3/fieldconfiguration/{id}/fields`: every field of the site with its
/// settings in the configuration.
pub(super) async fn list_field_configuration_items(
    State(st): S,
    Path(id): Path<String>,
    q: Q,
) -> Reply {
    let r = st.reader();
    let configuration = id_in(&r, "field_configurations", &id).ok_or_else(no_configuration)?;
    let set: HashMap<String, Row> = r
        .rows(
            "SELECT * FROM field_configuration_items WHERE configuration_id = ?1",
            &[&configuration],
        )
        .into_iter()
        .map(|row| (s(&row, "field_id"), row))
        .collect();
    let list: Vec<Value> = site_fields(&r)
        .into_iter()
        .map(|field| {
            let Some(row) = set.get(&field) else {
                return json!({
                    "id": field,
                    "description": "",
                    "isHidden": false,
                    "isRequired": false,
                });
            };
            let mut item = json!({
                "id": field,
                "description": s(row, "description"),
                "isHidden": int(row, "hidden") == Some(1),
                "isRequired": int(row, "required") == Some(1),
            });
            let renderer = s(row, "renderer");
            if !renderer.is_empty() {
                item["renderer"] = json!(renderer);
            }
            item
        })
        .collect();
    Ok(json(StatusCode::OK, page_bean(list, &q)))
}

/// One item of a `PUT …/fields`: the field and the settings it names.
struct ItemChange {
    field: FieldId,
    description: Option<String>,
    hidden: Option<bool>,
    required: Option<bool>,
    renderer: Option<String>,
}

fn item_change(r: &Reader, v: &Value) -> Result<ItemChange, Response<Body>> {
    let refuse = |m: &str| bad("fieldConfigurationItems", m);
    let id = text(v, "/id")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| refuse("The field ID is required."))?;
    let field =
        known_field(r, id).ok_or_else(|| refuse(&format!("The field '{id}' does not exist.")))?;
    let flag = |name: &str| match v.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(refuse(&format!("{name} must be a boolean."))),
    };
    let description = match v.get("description") {
        None | Some(Value::Null) => None,
        Some(Value::String(d)) => Some(d.clone()),
        Some(_) => return Err(refuse("The description must be a string.")),
    };
    let renderer = match v.get("renderer") {
        None | Some(Value::Null) => None,
        Some(Value::String(x)) if RENDERERS.contains(&x.as_str()) => Some(x.clone()),
        Some(_) => {
            return Err(refuse(
                "The renderer must be one of text-renderer, wiki-renderer.",
            ));
        }
    };
    Ok(ItemChange {
        field,
        description,
        hidden: flag("isHidden")?,
        required: flag("isRequired")?,
        renderer,
    })
}

/// `PUT /rest/api/3/fieldconfiguration/{id}/fields` (`{"fieldConfigurationItems"}`): 204;
/// 400 for more than 100 items, a field the site has not, a field twice, a renderer Cloud
/// has not, and for the default configuration; all items or none.
pub(super) async fn update_field_configuration_items(
    State(st): S,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    let v = parse(&body)?;
    let mut site = st.site();
    let r = st.reader();
    let configuration = id_in(&r, "field_configurations", &id).ok_or_else(no_configuration)?;
    if configuration == DEFAULT_CONFIGURATION
        || r.exists(
            "SELECT 1 FROM field_configurations WHERE id = ?1 AND is_default = 1",
            &[&configuration],
        )
    {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "The default field configuration cannot be edited.",
        ));
    }
    let given = v
        .get("fieldConfigurationItems")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            bad(
                "fieldConfigurationItems",
                "The field configuration items are required.",
            )
        })?;
    if given.len() > MAX_ITEMS {
        return Err(bad(
            "fieldConfigurationItems",
            "At most 100 field configuration items can be updated at once.",
        ));
    }
    let mut changes: Vec<ItemChange> = Vec::with_capacity(given.len());
    for item in given {
        let change = item_change(&r, item)?;
        if changes.iter().any(|c| c.field == change.field) {
            return Err(bad(
                "fieldConfigurationItems",
                &format!(
                    "The field '{}' is given more than once.",
                    change.field.key()
                ),
            ));
        }
        changes.push(change);
    }
    // Fields set before: their named settings replaced; the others: new items.
    let mut new = Vec::new();
    r.transaction(|tx| {
        for c in &changes {
            let key = c.field.key();
            let row = tx
                .query_row(
                    "SELECT description, hidden, required, renderer FROM field_configuration_items
                     WHERE configuration_id = ?1 AND field_id = ?2",
                    rusqlite::params![configuration, key],
                    |row| {
                        Ok((
                            row.get::<_, String>(0)?,
                            row.get::<_, bool>(1)?,
                            row.get::<_, bool>(2)?,
                            row.get::<_, String>(3)?,
                        ))
                    },
                )
                .optional()?;
            let Some((description, hidden, required, renderer)) = row else {
                new.push(Record::FieldConfigurationItem(FieldConfigurationItem {
                    id: format!("{configuration}/{key}"),
                    configuration: configuration.to_string(),
                    field: c.field.clone(),
                    description: c.description.clone().unwrap_or_default(),
                    hidden: c.hidden.unwrap_or(false),
                    required: c.required.unwrap_or(false),
                    renderer: c.renderer.clone().unwrap_or_default(),
                }));
                continue;
            };
            tx.execute(
                "UPDATE field_configuration_items
                 SET description = ?1, hidden = ?2, required = ?3, renderer = ?4
                 WHERE configuration_id = ?5 AND field_id = ?6",
                rusqlite::params![
                    c.description.as_ref().unwrap_or(&description),
                    c.hidden.unwrap_or(hidden),
                    c.required.unwrap_or(required),
                    c.renderer.as_ref().unwrap_or(&renderer),
                    configuration,
                    key
                ],
            )?;
        }
        Ok(())
    })
    .map_err(failed)?;
    if !new.is_empty() {
        let answers = site
            .write(Kind::FieldConfigurationItem, &new)
            .map_err(|e| {
                tracing::error!("the double's site failed: {e}");
                error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
            })?;
        if let Some(Err(e)) = answers.into_iter().find(Result::is_err) {
            return Err(refused("fieldConfigurationItems", &e));
        }
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

// --- Field configuration schemes, and the one each project uses ---

fn scheme_json(row: &Row) -> Value {
    json!({
        "id": s(row, "id"),
        "name": s(row, "name"),
        "description": s(row, "description"),
    })
}

/// `GET /rest/api/3/fieldconfigurationscheme`: `id` (repeated).
pub(super) async fn list_field_configuration_schemes(
    State(st): S,
    Query(q): Query<Vec<(String, String)>>,
) -> Reply {
    let r = st.reader();
    let ids = all(&q, "id");
    let list: Vec<Value> = r
        .rows("SELECT * FROM field_configuration_schemes ORDER BY id", &[])
        .iter()
        .filter(|row| ids.is_empty() || ids.contains(&s(row, "id").as_str()))
        .map(scheme_json)
        .collect();
    Ok(json(StatusCode::OK, page_bean(list, &paging(&q))))
}

/// `POST /rest/api/3/fieldconfigurationscheme`: 201 with the scheme (its id as text),
/// every issue type on the default configuration; 400 for a name another scheme has (in
/// any case), a blank or a long one.
pub(super) async fn create_field_configuration_scheme(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let name = checked_name(&v, "field configuration scheme")?;
    let description = description(&v)?;
    let mut site = st.site();
    let r = st.reader();
    if r.exists(
        "SELECT 1 FROM field_configuration_schemes WHERE name = ?1 COLLATE NOCASE",
        &[&name],
    ) {
        return Err(bad(
            "name",
            "A field configuration scheme with this name already exists.",
        ));
    }
    let record = Record::FieldConfigurationScheme(FieldConfigurationScheme {
        id: name.to_lowercase(),
        name,
        description,
        mappings: vec![FieldConfigurationMapping {
            issue_type: None,
            configuration: None,
        }],
    });
    let id = put_record(&mut site, record)?.map_err(|e| refused("name", &e))?;
    let row = id
        .parse::<i64>()
        .ok()
        .and_then(|id| {
            r.row(
                "SELECT * FROM field_configuration_schemes WHERE id = ?1",
                &[&id],
            )
        })
        .unwrap_or_default();
    Ok(json(StatusCode::CREATED, scheme_json(&row)))
}

/// `GET /rest/api/3/fieldconfigurationscheme/mapping`: the mappings of the schemes asked
/// for (`fieldConfigurationSchemeId`), of all if none is; the default's issue type is
/// `default`.
pub(super) async fn list_field_configuration_mappings(
    State(st): S,
    Query(q): Query<Vec<(String, String)>>,
) -> Reply {
    list_mappings(
        &st.reader(),
        &q,
        "field_configuration_mappings",
        "fieldConfigurationSchemeId",
        "configuration_id",
        "fieldConfigurationId",
    )
}

/// `PUT /rest/api/3/fieldconfigurationscheme/{id}/mapping` (`{"mappings"}`): 204, the
/// mappings of the issue types named replaced; 400 for an issue type or configuration the
/// site has not, or an issue type twice; all or none.
pub(super) async fn update_field_configuration_mappings(
    State(st): S,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    let v = parse(&body)?;
    let _site = st.site();
    let r = st.reader();
    let scheme = id_in(&r, "field_configuration_schemes", &id).ok_or_else(no_scheme)?;
    let given = v
        .get("mappings")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("mappings", "The mappings are required."))?;
    let mut mappings: Vec<(i64, i64)> = Vec::with_capacity(given.len());
    for m in given {
        let issue_type = match id_of(m, "/issueTypeId").as_deref() {
            Some("default") => 0,
            Some(id) => id_in(&r, "issue_types", id).ok_or_else(|| {
                bad(
                    "mappings",
                    &format!("The issue type '{id}' does not exist."),
                )
            })?,
            None => return Err(bad("mappings", "The issue type ID is required.")),
        };
        let configuration = id_of(m, "/fieldConfigurationId")
            .and_then(|id| id_in(&r, "field_configurations", &id))
            .ok_or_else(|| bad("mappings", "The field configuration does not exist."))?;
        if mappings.iter().any(|(t, _)| *t == issue_type) {
            return Err(bad("mappings", "An issue type is mapped more than once."));
        }
        mappings.push((issue_type, configuration));
    }
    r.transaction(|tx| {
        for (issue_type, configuration) in &mappings {
            tx.execute(
                "INSERT INTO field_configuration_mappings (scheme_id, issue_type_id, configuration_id)
                 VALUES (?1, ?2, ?3)
                 ON CONFLICT (scheme_id, issue_type_id)
                 DO UPDATE SET configuration_id = excluded.configuration_id",
                rusqlite::params![scheme, issue_type, configuration],
            )?;
        }
        Ok(())
    })
    .map_err(failed)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /rest/api/3/fieldconfigurationscheme/project?projectId=`: the schemes the projects
/// asked for use, each with those of them that use it; projects on the system default are
/// listed without a scheme.
pub(super) async fn list_project_field_configuration_schemes(
    State(st): S,
    Query(q): Query<Vec<(String, String)>>,
) -> Reply {
    let r = st.reader();
    let by_scheme = projects_by_scheme(&r, &q, |project| {
        r.int(
            "SELECT scheme_id FROM project_schemes
             WHERE project_id = ?1 AND scheme_type = 'field-configuration'",
            &[&project],
        )
    });
    let list: Vec<Value> = by_scheme
        .into_iter()
        .map(|(id, projects)| {
            let scheme = id.and_then(|id| {
                r.row(
                    "SELECT * FROM field_configuration_schemes WHERE id = ?1",
                    &[&id],
                )
            });
            match scheme {
                Some(row) => json!({
                    "fieldConfigurationScheme": scheme_json(&row),
                    "projectIds": projects,
                }),
                None => json!({ "projectIds": projects }),
            }
        })
        .collect();
    Ok(json(StatusCode::OK, page_bean(list, &paging(&q))))
}

/// `PUT /rest/api/3/fieldconfigurationscheme/project` (`{"fieldConfigurationSchemeId",
/// "projectId"}`): 204, a null scheme putting the project back on the system default; 404
/// for a scheme or project the site has not.
pub(super) async fn assign_field_configuration_scheme(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let project =
        id_of(&v, "/projectId").ok_or_else(|| bad("projectId", "The project ID is required."))?;
    let scheme = match v.get("fieldConfigurationSchemeId") {
        None | Some(Value::Null) => None,
        Some(_) => Some(id_of(&v, "/fieldConfigurationSchemeId").ok_or_else(|| {
            bad(
                "fieldConfigurationSchemeId",
                "The field configuration scheme ID must be an ID.",
            )
        })?),
    };
    let mut site = st.site();
    let r = st.reader();
    let project = r
        .project_id(&project)
        .ok_or_else(|| not_found("The project was not found."))?;
    let Some(scheme) = scheme else {
        r.execute(
            "DELETE FROM project_schemes
             WHERE project_id = ?1 AND scheme_type = 'field-configuration'",
            &[&project],
        )
        .map_err(failed)?;
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let scheme = id_in(&r, "field_configuration_schemes", &scheme).ok_or_else(no_scheme)?;
    put_project_scheme(
        &mut site,
        project,
        SchemeType::FieldConfiguration,
        "field-configuration",
        scheme,
        "fieldConfigurationSchemeId",
    )
}
