//! Workflows, workflow schemes and the workflow scheme each project uses, as Jira Cloud
//! keeps them (in the site's own tables, which hold Cloud's built-in workflow `jira`; a
//! project without a scheme of its own uses the Default Workflow Scheme, which has no id
//! and maps every issue type to `jira`).
//!
//! Workflows come through Cloud's workflow API: a create (`POST …/workflows/create`) names
//! its statuses at the top, each an existing status (the double creates none through a
//! workflow, and keeps a status's name and category as the site has them) under a
//! `statusReference` of the caller's, and each workflow's statuses and transitions by
//! those references; all of the call or none. Cloud's rules: global scope (the double
//! keeps no project-scoped workflows); names distinct site-wide in any case (`jira`
//! included), not blank, at most 255 characters; the shared rules' (one initial
//! transition, names of at most 60 characters, descriptions of at most 1,000, a status
//! once, global transitions with a name and a target of their own, distinct names from
//! each status); a directed transition leaves from at least one of the workflow's
//! statuses (one link each), an initial or global one from none; a transition screen is a
//! screen the site has. A workflow's id is a UUID (the double derives it from the row's
//! id); its step is its status (the site's step id is the status's id).
//!
//! Workflow schemes name workflows by name: a scheme's default workflow (`jira` when none
//! is given) and each issue type's, workflows and issue types the site has; names of
//! schemes distinct in any case. A project's scheme is switched only while the project
//! has no issues. An unknown workflow scheme or project is 404. What the double creates
//! carries its natural key (its name) as its source key, so a record created twice shows.

#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;

use airlock_model::jira::{
    SchemeType, TransitionKind, Workflow, WorkflowMapping, WorkflowScheme, WorkflowStep,
    WorkflowTransition,
};

use super::screens::{
    all, checked_name, description, paging, projects_by_scheme, put_project_scheme,
};
use super::*;

/// What a workflow's id is made of: a fixed prefix, then the row's id in hex.
const WORKFLOW_UUID: &str = "5c1e0000-6b1d-4e0f-9a7c-";
const VERSION_UUID: &str = "5c1e0001-6b1d-4e0f-9a7c-";
/// Cloud's built-in workflow.
const BUILT_IN: &str = "jira";
/// The rule that shows a screen on a transition.
const TRANSITION_SCREEN: &str = "system:transition-screen";

fn uuid(prefix: &str, id: i64) -> String {
    format!("{prefix}{id:012x}")
}

/// The row id of a workflow from its UUID, if the site has it.
fn workflow_row_id(r: &Reader, uuid: &str) -> Option<i64> {
    let hex = uuid.strip_prefix(WORKFLOW_UUID)?;
    if hex.len() != 12 {
        return None;
    }
    let id = i64::from_str_radix(hex, 16).ok()?;
    r.int("SELECT id FROM workflows WHERE id = ?1", &[&id])
}

/// The row id of the workflow named `name` (in any case), if the site has it.
fn workflow_named(r: &Reader, name: &str) -> Option<i64> {
    r.int(
        "SELECT id FROM workflows WHERE name = ?1 COLLATE NOCASE",
        &[&name],
    )
}

/// A status as a workflow answer lists it, its id its reference.
fn status_json(row: &Row) -> Value {
    let mut v = super::constants::status_json(row);
    v["statusReference"] = json!(s(row, "id"));
    v
}

/// A workflow as Cloud's workflow API answers it, and the ids of its statuses.
fn workflow_json(r: &Reader, row: &Row) -> (Value, Vec<i64>) {
    let id = int(row, "id").unwrap_or(0);
    let steps = r.rows(
        "SELECT step_id, status_id FROM workflow_steps WHERE workflow_id = ?1 ORDER BY position",
        &[&id],
    );
    let status_of: HashMap<String, String> = (steps.iter())
        .map(|st| (s(st, "step_id"), s(st, "status_id")))
        .collect();
    let reference = |step: &str| status_of.get(step).cloned().unwrap_or_default();
    let transitions: Vec<Value> = r
        .rows(
            "SELECT * FROM workflow_transitions WHERE workflow_id = ?1 ORDER BY position",
            &[&id],
        )
        .iter()
        .map(|t| {
            let links: Vec<Value> = (s(t, "from_steps").split(','))
                .filter(|f| !f.is_empty())
                .map(|f| json!({ "fromStatusReference": reference(f) }))
                .collect();
            let mut v = json!({
                "id": s(t, "transition_id"),
                "name": s(t, "name"),
                "description": s(t, "description"),
                "type": s(t, "kind"),
                "toStatusReference": reference(&s(t, "to_step")),
                "links": links,
                "properties": {},
                "actions": [],
                "validators": [],
                "triggers": [],
            });
            if let Some(screen) = opt(t, "screen_id") {
                v["transitionScreen"] = json!({
                    "ruleKey": TRANSITION_SCREEN,
                    "parameters": { "screenId": screen },
                });
            }
            v
        })
        .collect();
    let statuses: Vec<Value> = (steps.iter())
        .map(|st| json!({ "statusReference": s(st, "status_id"), "properties": {} }))
        .collect();
    let json = json!({
        "id": uuid(WORKFLOW_UUID, id),
        "name": s(row, "name"),
        "description": s(row, "description"),
        "version": { "id": uuid(VERSION_UUID, id), "versionNumber": 1 },
        "scope": { "type": "GLOBAL" },
        "isEditable": s(row, "name") != BUILT_IN || opt(row, "source_key").is_some(),
        "statuses": statuses,
        "transitions": transitions,
    });
    let ids = steps.iter().filter_map(|st| int(st, "status_id")).collect();
    (json, ids)
}

/// The workflows of `rows` as Cloud's workflow API answers them, with their statuses.
fn workflows_answer(r: &Reader, rows: &[Row]) -> (Vec<Value>, Vec<Value>) {
    let mut used: Vec<i64> = Vec::new();
    let workflows = rows
        .iter()
        .map(|row| {
            let (v, ids) = workflow_json(r, row);
            used.extend(ids);
            v
        })
        .collect();
    used.sort_unstable();
    used.dedup();
    let statuses = used
        .iter()
        .filter_map(|id| r.row("SELECT * FROM statuses WHERE id = ?1", &[id]))
        .map(|row| status_json(&row))
        .collect();
    (workflows, statuses)
}

/// One workflow of a create, checked against the site and the call's statuses.
fn workflow_of(
    r: &Reader,
    v: &Value,
    statuses: &HashMap<String, (i64, String)>,
) -> Result<Workflow, Response<Body>> {
    let name = checked_name(v, "workflow")?;
    let description = description(v)?;
    if workflow_named(r, &name).is_some() {
        return Err(bad(
            "name",
            &format!("A workflow with the name '{name}' already exists."),
        ));
    }
    let mut steps: Vec<WorkflowStep> = Vec::new();
    for st in v
        .get("statuses")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("statuses", "The workflow's statuses are required."))?
    {
        let reference = text(st, "/statusReference").unwrap_or("");
        let (id, status_name) = statuses.get(reference).ok_or_else(|| {
            bad(
                "statuses",
                &format!("The status reference '{reference}' is not among the statuses."),
            )
        })?;
        steps.push(WorkflowStep {
            id: id.to_string(),
            name: status_name.clone(),
            status: id.to_string(),
        });
    }
    // A reference to one of the workflow's statuses, as its step's id.
    let step = |reference: &str| {
        statuses
            .get(reference)
            .map(|(id, _)| id.to_string())
            .filter(|id| steps.iter().any(|s| &s.id == id))
            .ok_or_else(|| {
                bad(
                    "transitions",
                    &format!("The status reference '{reference}' is not one of the workflow's."),
                )
            })
    };
    let mut transitions: Vec<WorkflowTransition> = Vec::new();
    for t in v
        .get("transitions")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("transitions", "The workflow's transitions are required."))?
    {
        let id =
            id_of(t, "/id").ok_or_else(|| bad("transitions", "A transition's ID is required."))?;
        if transitions.iter().any(|x| x.id == id) {
            return Err(bad(
                "transitions",
                &format!("The transition ID '{id}' is given twice."),
            ));
        }
        let kind = match text(t, "/type") {
            Some("INITIAL") => TransitionKind::Initial,
            Some("GLOBAL") => TransitionKind::Global,
            Some("DIRECTED") => TransitionKind::Directed,
            _ => {
                return Err(bad(
                    "transitions",
                    "A transition's type is one of INITIAL, GLOBAL, DIRECTED.",
                ));
            }
        };
        let to = step(text(t, "/toStatusReference").unwrap_or(""))?;
        let mut from = Vec::new();
        for link in t
            .get("links")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            from.push(step(text(link, "/fromStatusReference").unwrap_or(""))?);
        }
        if (kind == TransitionKind::Directed) == from.is_empty() {
            return Err(bad(
                "transitions",
                "A directed transition leaves from one of the workflow's statuses or more; an initial or global one from none.",
            ));
        }
        let screen = match t.get("transitionScreen") {
            None | Some(Value::Null) => None,
            Some(rule) => {
                if text(rule, "/ruleKey") != Some(TRANSITION_SCREEN) {
                    return Err(bad(
                        "transitionScreen",
                        "The transition screen's rule is system:transition-screen.",
                    ));
                }
                let screen = id_of(rule, "/parameters/screenId")
                    .filter(|id| r.exists("SELECT 1 FROM screens WHERE id = ?1", &[id]))
                    .ok_or_else(|| bad("transitionScreen", "The screen does not exist."))?;
                Some(screen)
            }
        };
        transitions.push(WorkflowTransition {
            id,
            name: text(t, "/name").unwrap_or("").to_owned(),
            description: text(t, "/description").unwrap_or("").to_owned(),
            kind,
            from,
            to,
            screen,
        });
    }
    let workflow = Workflow {
        id: name.to_lowercase(),
        name,
        description,
        steps,
        transitions,
    };
    // Cloud's rules, as the shared rules have them.
    if let Err(violation) = airlock_site::rules::check(&Record::Workflow(workflow.clone())) {
        return Err(bad(violation.field, &violation.message));
    }
    Ok(workflow)
}

/// `POST /rest/api/3/workflows/create` (`{"scope", "statuses", "workflows"}`): 200 with
/// the workflows created and their statuses; 400 for anything Cloud refuses (see the
/// module doc), and then none is created.
pub(super) async fn create_workflows(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    if text(&v, "/scope/type") != Some("GLOBAL") {
        return Err(bad(
            "scope",
            "The double creates global workflows only (scope GLOBAL).",
        ));
    }
    let mut site = st.site();
    let r = st.reader();
    // Reference → (status id, name).
    let mut statuses: HashMap<String, (i64, String)> = HashMap::new();
    for status in v
        .get("statuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let reference = text(status, "/statusReference")
            .filter(|x| !x.is_empty())
            .ok_or_else(|| bad("statuses", "A status reference is required."))?;
        let category = text(status, "/statusCategory");
        if text(status, "/name").is_none_or(|n| n.trim().is_empty())
            || !matches!(category, Some("TODO" | "IN_PROGRESS" | "DONE"))
        {
            return Err(bad(
                "statuses",
                "A status has a name and a category (TODO, IN_PROGRESS or DONE).",
            ));
        }
        let Some(id) = id_of(status, "/id") else {
            return Err(bad(
                "statuses",
                "The double creates no status through a workflow: create it first.",
            ));
        };
        let row = id
            .parse::<i64>()
            .ok()
            .and_then(|id| r.row("SELECT * FROM statuses WHERE id = ?1", &[&id]))
            .ok_or_else(|| bad("statuses", &format!("The status '{id}' does not exist.")))?;
        if statuses
            .insert(
                reference.to_owned(),
                (int(&row, "id").unwrap_or(0), s(&row, "name")),
            )
            .is_some()
        {
            return Err(bad(
                "statuses",
                &format!("The status reference '{reference}' is given twice."),
            ));
        }
    }
    let given = v
        .get("workflows")
        .and_then(Value::as_array)
        .filter(|w| !w.is_empty())
        .ok_or_else(|| bad("workflows", "At least one workflow is required."))?;
    let mut workflows: Vec<Workflow> = Vec::with_capacity(given.len());
    for w in given {
        let workflow = workflow_of(&r, w, &statuses)?;
        if workflows
            .iter()
            .any(|x| x.name.to_lowercase() == workflow.name.to_lowercase())
        {
            return Err(bad(
                "name",
                &format!(
                    "A workflow with the name '{}' already exists.",
                    workflow.name
                ),
            ));
        }
        workflows.push(workflow);
    }
    let mut ids: Vec<i64> = Vec::with_capacity(workflows.len());
    for w in workflows {
        let id =
            put_record(&mut site, Record::Workflow(w))?.map_err(|e| refused("workflows", &e))?;
        ids.push(id.parse().unwrap_or(0));
    }
    let rows: Vec<Row> = ids
        .iter()
        .filter_map(|id| r.row("SELECT * FROM workflows WHERE id = ?1", &[id]))
        .collect();
    let (workflows, statuses) = workflows_answer(&r, &rows);
    Ok(json(
        StatusCode::OK,
        json!({ "statuses": statuses, "workflows": workflows }),
    ))
}

/// `POST /rest/api/3/workflows` (`{"workflowIds"}` or `{"workflowNames"}`): the workflows
/// the site has of those, with their statuses.
pub(super) async fn read_workflows(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let r = st.reader();
    let list = |field: &str| -> Vec<String> {
        v.get(field)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect()
    };
    let mut ids: Vec<i64> = list("workflowIds")
        .iter()
        .filter_map(|id| workflow_row_id(&r, id))
        .collect();
    ids.extend(
        list("workflowNames")
            .iter()
            .filter_map(|n| workflow_named(&r, n)),
    );
    ids.sort_unstable();
    ids.dedup();
    let rows: Vec<Row> = ids
        .iter()
        .filter_map(|id| r.row("SELECT * FROM workflows WHERE id = ?1", &[id]))
        .collect();
    let (workflows, statuses) = workflows_answer(&r, &rows);
    Ok(json(
        StatusCode::OK,
        json!({ "workflows": workflows, "statuses": statuses }),
    ))
}

/// `GET /rest/api/3/workflows/search`: `queryString` (a part of the name, in any case).
pub(super) async fn search_workflows(
    State(st): S,
    Query(q): Query<Vec<(String, String)>>,
) -> Reply {
    let r = st.reader();
    let query = all(&q, "queryString")
        .first()
        .map(|part| part.to_lowercase());
    let rows: Vec<Row> = r
        .rows("SELECT * FROM workflows ORDER BY id", &[])
        .into_iter()
        .filter(|row| {
            query
                .as_ref()
                .is_none_or(|part| s(row, "name").to_lowercase().contains(part))
        })
        .collect();
    let paging = paging(&q);
    let (start, size) = page(&paging, 100);
    let shown: Vec<Row> = rows.iter().skip(start).take(size).cloned().collect();
    let (workflows, statuses) = workflows_answer(&r, &shown);
    let mut bean = page_bean(workflows, &HashMap::new());
    bean["startAt"] = json!(start);
    bean["maxResults"] = json!(size);
    bean["total"] = json!(rows.len());
    bean["isLast"] = json!(start + shown.len() >= rows.len());
    bean["statuses"] = Value::Array(statuses);
    Ok(json(StatusCode::OK, bean))
}

// --- Workflow schemes, and the one each project uses ---

/// A workflow scheme as Cloud answers it: its default workflow and each issue type's, by
/// name.
fn scheme_json(st: &Shared, r: &Reader, row: &Row) -> Value {
    let id = int(row, "id").unwrap_or(0);
    let mut default = BUILT_IN.to_owned();
    let mut by_type = serde_json::Map::new();
    for m in r.rows(
        "SELECT m.issue_type_id, w.name FROM workflow_scheme_mappings m
         JOIN workflows w ON w.id = m.workflow_id
         WHERE m.scheme_id = ?1 ORDER BY m.issue_type_id",
        &[&id],
    ) {
        match int(&m, "issue_type_id") {
            Some(0) => default = s(&m, "name"),
            _ => {
                by_type.insert(s(&m, "issue_type_id"), json!(s(&m, "name")));
            }
        }
    }
    json!({
        "id": id,
        "name": s(row, "name"),
        "description": s(row, "description"),
        "defaultWorkflow": default,
        "issueTypeMappings": by_type,
        "self": format!("{}/rest/api/3/workflowscheme/{id}", st.base),
    })
}

/// The Default Workflow Scheme, which has no id: every issue type on `jira`.
fn default_scheme_json() -> Value {
    json!({
        "name": "Default Workflow Scheme",
        "description": "Default Workflow Scheme",
        "defaultWorkflow": BUILT_IN,
        "issueTypeMappings": {},
    })
}

fn no_scheme() -> Response<Body> {
    not_found("The workflow scheme was not found.")
}

/// The row of the workflow scheme `id`, if the site has it.
fn scheme_row(r: &Reader, id: &str) -> Option<Row> {
    let id: i64 = id.trim().parse().ok()?;
    r.row("SELECT * FROM workflow_schemes WHERE id = ?1", &[&id])
}

pub(super) async fn list_workflow_schemes(
    State(st): S,
    Query(q): Query<Vec<(String, String)>>,
) -> Reply {
    let r = st.reader();
    let list: Vec<Value> = r
        .rows("SELECT * FROM workflow_schemes ORDER BY id", &[])
        .iter()
        .map(|row| scheme_json(&st, &r, row))
        .collect();
    Ok(json(StatusCode::OK, page_bean(list, &paging(&q))))
}

pub(super) async fn get_workflow_scheme(State(st): S, Path(id): Path<String>) -> Reply {
    let r = st.reader();
    let row = scheme_row(&r, &id).ok_or_else(no_scheme)?;
    Ok(json(StatusCode::OK, scheme_json(&st, &r, &row)))
}

/// `POST /rest/api/3/workflowscheme` (`{"name", "description", "defaultWorkflow",
/// "issueTypeMappings"}`): 201 with the scheme; 400 for a name another scheme has (in any
/// case), a workflow (by name) or an issue type the site has not.
pub(super) async fn create_workflow_scheme(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let name = checked_name(&v, "workflow scheme")?;
    let description = description(&v)?;
    let mut site = st.site();
    let r = st.reader();
    if r.exists(
        "SELECT 1 FROM workflow_schemes WHERE name = ?1 COLLATE NOCASE",
        &[&name],
    ) {
        return Err(bad(
            "name",
            "A workflow scheme with this name already exists.",
        ));
    }
    let workflow = |field: &str, name: &str| {
        workflow_named(&r, name)
            .map(|id| id.to_string())
            .ok_or_else(|| bad(field, &format!("The workflow '{name}' does not exist.")))
    };
    let default = match v.get("defaultWorkflow") {
        None | Some(Value::Null) => BUILT_IN,
        Some(Value::String(name)) => name.as_str(),
        Some(_) => return Err(bad("defaultWorkflow", "The default workflow is a name.")),
    };
    let mut mappings = vec![WorkflowMapping {
        issue_type: None,
        workflow: Some(workflow("defaultWorkflow", default)?),
    }];
    let given: BTreeMap<String, Value> = match v.get("issueTypeMappings") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(m)) => m.clone().into_iter().collect(),
        Some(_) => {
            return Err(bad(
                "issueTypeMappings",
                "The issue type mappings are an object.",
            ));
        }
    };
    for (issue_type, name) in given {
        if !r.exists("SELECT 1 FROM issue_types WHERE id = ?1", &[&issue_type]) {
            return Err(bad(
                "issueTypeMappings",
                &format!("The issue type '{issue_type}' does not exist."),
            ));
        }
        let name = name
            .as_str()
            .ok_or_else(|| bad("issueTypeMappings", "A workflow is named by its name."))?;
        mappings.push(WorkflowMapping {
            issue_type: Some(issue_type),
            workflow: Some(workflow("issueTypeMappings", name)?),
        });
    }
    let record = Record::WorkflowScheme(WorkflowScheme {
        id: name.to_lowercase(),
        name,
        description,
        mappings,
    });
    if let Err(violation) = airlock_site::rules::check(&record) {
        return Err(bad(violation.field, &violation.message));
    }
    let id = put_record(&mut site, record)?.map_err(|e| refused("issueTypeMappings", &e))?;
    let row = scheme_row(&r, &id).unwrap_or_default();
    Ok(json(StatusCode::CREATED, scheme_json(&st, &r, &row)))
}

/// The workflow scheme a project uses: its own, or none (the default one).
fn project_scheme(r: &Reader, project: i64) -> Option<i64> {
    r.int(
        "SELECT scheme_id FROM project_schemes
         WHERE project_id = ?1 AND scheme_type = 'workflow'",
        &[&project],
    )
}

/// `GET /rest/api/3/workflowscheme/project?projectId=`: the schemes the projects asked for
/// use, each with those of them that use it (the default one without an id).
pub(super) async fn list_project_workflow_schemes(
    State(st): S,
    Query(q): Query<Vec<(String, String)>>,
) -> Reply {
    let r = st.reader();
    let by_scheme = projects_by_scheme(&r, &q, |project| project_scheme(&r, project));
    let list: Vec<Value> = by_scheme
        .into_iter()
        .map(|(id, projects)| {
            let scheme = id
                .and_then(|id| r.row("SELECT * FROM workflow_schemes WHERE id = ?1", &[&id]))
                .map_or_else(default_scheme_json, |row| scheme_json(&st, &r, &row));
            json!({ "workflowScheme": scheme, "projectIds": projects })
        })
        .collect();
    Ok(json(StatusCode::OK, json!({ "values": list })))
}

/// `PUT /rest/api/3/workflowscheme/project` (`{"workflowSchemeId", "projectId"}`): 204; 404
/// for a scheme or project the site has not, 400 for a project with issues.
pub(super) async fn assign_workflow_scheme(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let scheme = id_of(&v, "/workflowSchemeId")
        .ok_or_else(|| bad("workflowSchemeId", "The workflow scheme ID is required."))?;
    let project =
        id_of(&v, "/projectId").ok_or_else(|| bad("projectId", "The project ID is required."))?;
    let mut site = st.site();
    let r = st.reader();
    let scheme = scheme_row(&r, &scheme)
        .and_then(|row| int(&row, "id"))
        .ok_or_else(no_scheme)?;
    let project = r
        .project_id(&project)
        .ok_or_else(|| not_found("The project was not found."))?;
    if project_scheme(&r, project) == Some(scheme) {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    if r.exists("SELECT 1 FROM issues WHERE project_id = ?1", &[&project]) {
        return Err(bad(
            "projectId",
            "The workflow scheme of a project with issues cannot be changed this way.",
        ));
    }
    put_project_scheme(
        &mut site,
        project,
        SchemeType::Workflow,
        "workflow",
        scheme,
        "workflowSchemeId",
    )
}
