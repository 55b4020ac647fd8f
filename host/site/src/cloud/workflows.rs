//! Workflows and workflow schemes, and the workflow scheme each project uses (set with the
//! other associations, `project_association` in `schemes.rs`, before the project's issues:
//! Cloud switches a project's workflow scheme only while it has none).
//!
//! A workflow is created through Cloud's workflow API (`POST /rest/api/3/workflows/create`),
//! one a call (a refusal stays its own), global, apart from the target's own under a name
//! the target does not have (`create_renamed_as` in `schemes.rs`; Cloud has its read-only
//! built-in `jira`). The call carries the whole workflow: its statuses (the site's, each
//! referenced by its own id) and its transitions with their kind (initial, global,
//! directed: one link per status it leaves from), target status and screen, so a workflow
//! found again by the name journaled is complete. Cloud's workflows have no steps of their
//! own: a step is its status, and the step's name is not kept. A workflow is answered with
//! Cloud's id (a UUID).
//!
//! A workflow scheme is created with its mappings in one call (`POST
//! /rest/api/3/workflowscheme`), renamed as workflows are. That call names workflows by
//! name: the names of the workflows a scheme maps (the migration knows their ids) are read
//! first (`POST /rest/api/3/workflows` with `workflowIds`), so a workflow renamed on the
//! target is named as it is there; a mapping to no workflow is to the built-in `jira`.

use std::collections::HashMap;

use airlock_model::jira::{Kind, Record, Workflow, WorkflowScheme};
use serde_json::{Map, Value, json};

use super::find::as_list;
use super::http::Req;
use super::sharing::wrong_kind;
use super::write::{Answer, refusal, text};
use super::{Api, item};
use crate::{ItemError, TargetError, source_key};

/// Jira Cloud's built-in workflow, which every site has: a scheme's mapping to no workflow.
const BUILT_IN_WORKFLOW: &str = "jira";

/// The rule that shows a screen on a transition.
const TRANSITION_SCREEN: &str = "system:transition-screen";

/// The site's statuses as a workflow's create names them: id → (name, category).
type Statuses = HashMap<String, (String, String)>;

/// A workflow's create: its statuses at the top (the site's, each its own reference), the
/// workflow with its statuses and transitions (its name is the one the write chooses).
fn create_body(w: &Workflow, statuses: &Statuses) -> Result<Value, ItemError> {
    let unknown = || {
        item(
            "invalid-reference",
            "statuses: the site has no status with this id",
        )
    };
    let mut listed = Vec::with_capacity(w.steps.len());
    for step in &w.steps {
        let (status_name, category) = statuses.get(&step.status).ok_or_else(unknown)?;
        listed.push(json!({
            "id": step.status,
            "name": status_name,
            "statusCategory": category,
            "statusReference": step.status,
        }));
    }
    let status_of: HashMap<&str, &str> = (w.steps.iter())
        .map(|s| (s.id.as_str(), s.status.as_str()))
        .collect();
    let reference = |step: &str| {
        status_of.get(step).copied().ok_or_else(|| {
            item(
                "invalid-reference",
                "transitions: a transition goes between the workflow's statuses",
            )
        })
    };
    let mut transitions = Vec::with_capacity(w.transitions.len());
    for t in &w.transitions {
        let links = (t.from.iter())
            .map(|f| Ok(json!({ "fromStatusReference": reference(f)? })))
            .collect::<Result<Vec<Value>, ItemError>>()?;
        let mut transition = json!({
            "id": t.id,
            "name": t.name,
            "description": t.description,
            "type": t.kind.as_str(),
            "toStatusReference": reference(&t.to)?,
            "links": links,
            "properties": {},
            "actions": [],
            "validators": [],
            "triggers": [],
        });
        if let Some(screen) = &t.screen {
            transition["transitionScreen"] = json!({
                "ruleKey": TRANSITION_SCREEN,
                "parameters": { "screenId": screen },
            });
        }
        transitions.push(transition);
    }
    let on_workflow: Vec<Value> = (w.steps.iter())
        .map(|s| json!({ "statusReference": s.status, "properties": {} }))
        .collect();
    Ok(json!({
        "scope": { "type": "GLOBAL" },
        "statuses": listed,
        "workflows": [{
            "name": w.name,
            "description": w.description,
            "statuses": on_workflow,
            "transitions": transitions,
        }],
    }))
}

impl Api {
    /// Workflows: the site's statuses read once for the batch, then one create each.
    pub(crate) async fn write_workflows(
        &self,
        records: &[Record],
    ) -> Result<Vec<Answer>, TargetError> {
        let statuses = self.statuses().await?;
        self.each(records, async |r: &Record| match r {
            Record::Workflow(w) => self.workflow(r, w, &statuses).await,
            other => Ok(Err(wrong_kind(other, Kind::Workflow))),
        })
        .await
    }

    /// `POST /rest/api/3/workflows/create` (renamed where the target has the name).
    async fn workflow(
        &self,
        record: &Record,
        w: &Workflow,
        statuses: &Statuses,
    ) -> Result<Answer, TargetError> {
        // What the body needs is checked before a name is chosen and journaled.
        let mut body = match create_body(w, statuses) {
            Ok(body) => body,
            Err(e) => return Ok(Err(e)),
        };
        let created = self
            .create_renamed_as(record, &w.name, Map::new(), |name| {
                body["workflows"][0]["name"] = json!(name);
                body
            })
            .await?;
        Ok(created.map(|(id, _)| {
            self.claim(Kind::Workflow, &source_key(record), &id);
            id
        }))
    }

    /// The site's statuses (`GET /rest/api/3/statuses/search`).
    async fn statuses(&self) -> Result<Statuses, TargetError> {
        Ok(self
            .paged(
                "GET /rest/api/3/statuses/search",
                "/rest/api/3/statuses/search",
            )
            .await?
            .iter()
            .filter_map(|s| {
                Some((
                    s.get("id").and_then(text)?,
                    (
                        s.get("name")?.as_str()?.to_owned(),
                        s.get("statusCategory")?.as_str()?.to_owned(),
                    ),
                ))
            })
            .collect())
    }

    /// `POST /rest/api/3/workflowscheme` with its default workflow and each issue type's,
    /// by the names the target gives them (renamed where the target has the name).
    pub(crate) async fn workflow_scheme(
        &self,
        record: &Record,
        s: &WorkflowScheme,
    ) -> Result<Answer, TargetError> {
        let mut ids: Vec<&str> = (s.mappings.iter())
            .filter_map(|m| m.workflow.as_deref())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let names = match self.workflow_names(&ids).await? {
            Ok(names) => names,
            Err(e) => return Ok(Err(e)),
        };
        let mut fields = Map::new();
        let mut by_type = Map::new();
        for m in &s.mappings {
            let name = match &m.workflow {
                None => BUILT_IN_WORKFLOW.to_owned(),
                Some(id) => match names.get(id) {
                    Some(name) => name.clone(),
                    None => {
                        return Ok(Err(item(
                            "invalid-reference",
                            "workflow: the site has no workflow with this id",
                        )));
                    }
                },
            };
            match &m.issue_type {
                None => fields.insert("defaultWorkflow".into(), json!(name)),
                Some(t) => by_type.insert(t.clone(), json!(name)),
            };
        }
        fields.insert("issueTypeMappings".into(), Value::Object(by_type));
        self.create_renamed(record, &s.name, &s.description, fields)
            .await
    }

    /// The names of the workflows `ids` (`POST /rest/api/3/workflows` with `workflowIds`),
    /// by id: those the site has.
    async fn workflow_names(
        &self,
        ids: &[&str],
    ) -> Result<Result<HashMap<String, String>, ItemError>, TargetError> {
        if ids.is_empty() {
            return Ok(Ok(HashMap::new()));
        }
        let req = Req::post(
            "POST /rest/api/3/workflows",
            "/rest/api/3/workflows".into(),
            json!({ "workflowIds": ids }),
        )
        .idempotent();
        let reply = self.http.call(&req).await?;
        if !reply.ok() {
            return Ok(Err(refusal(&reply)));
        }
        Ok(Ok(reply
            .body
            .get("workflows")
            .map_or(&[][..], as_list)
            .iter()
            .filter_map(|w| {
                Some((
                    w.get("id").and_then(text)?,
                    w.get("name")?.as_str()?.to_owned(),
                ))
            })
            .collect()))
    }
}
