//! Custom fields' contexts.
//!
//! Jira Cloud gives every field it creates a global context for every issue type: a
//! source's global context takes that one over (its name and description), as Cloud
//! allows one global context per field. Its issue types are not: since April 2026 Cloud
//! refuses to narrow a global context (CHANGE-3019), a caveat in the plan. Any other context is created with its
//! projects and issue types, and found again by its name among the field's contexts.

use airlock_model::jira::{FieldContext, Kind, Record};
use serde_json::{Value, json};

use super::find::s;
use super::http::Req;
use super::write::{Answer, bad_segment, number_or_text, refusal, text};
use super::{Api, RestPath, item};
use crate::{TargetError, source_key};

/// A context's natural key: its field (cloud id), name, and whether it is the global one.
pub(crate) fn context_locator(c: &FieldContext) -> Value {
    json!({ "field": c.field, "name": c.name, "global": c.projects.is_empty() })
}

fn contexts_path(field: &str) -> Result<RestPath, super::SegmentError> {
    Ok(RestPath::at("/rest/api/3/field")
        .seg(field)?
        .fixed("context"))
}

fn ids(values: &[String]) -> Vec<Value> {
    values.iter().map(|v| number_or_text(v)).collect()
}

impl Api {
    pub(crate) async fn field_context(
        &self,
        record: &Record,
        c: &FieldContext,
    ) -> Result<Answer, TargetError> {
        let base = match contexts_path(&c.field) {
            Ok(p) => p,
            Err(e) => return Ok(Err(bad_segment("the field id", e))),
        };
        if c.projects.is_empty() {
            return self.take_global_context(record, c, base).await;
        }
        let mut body = json!({
            "name": c.name,
            "projectIds": ids(&c.projects),
            "issueTypeIds": ids(&c.issue_types),
        });
        if !c.description.is_empty() {
            body["description"] = json!(c.description);
        }
        let req = Req::post("POST /rest/api/3/field/{id}/context", base.build(), body);
        self.create(Kind::FieldContext, record, req, &["id"]).await
    }

    /// The field's global context, named as the source's. Written again as a whole on a
    /// rerun: nothing is created.
    async fn take_global_context(
        &self,
        record: &Record,
        c: &FieldContext,
        base: RestPath,
    ) -> Result<Answer, TargetError> {
        let Some(id) = self.global_context(&c.field).await? else {
            return Ok(Err(item(
                "invalid-reference",
                "the custom field has no global context on the site to take the source's",
            )));
        };
        // A field the target had before keeps its context as it is: the source's options
        // join it. Only a field this migration created (journaled) is named as the source's.
        self.load_journal(Kind::CustomField).await?;
        if !self.claimed_by_other(Kind::CustomField, "", &c.field) {
            return Ok(Ok(id));
        }
        let Ok(context) = base.seg(&id) else {
            return Ok(Err(item("invalid-reference", "the context id")));
        };
        let mut body = json!({ "name": c.name });
        body["description"] = json!(c.description);
        let req = Req::put(
            "PUT /rest/api/3/field/{id}/context/{id}",
            context.clone().build(),
            body,
        );
        let reply = self.http.call(&req).await?;
        if !reply.ok() {
            return Ok(Err(refusal(&reply)));
        }
        self.claim(Kind::FieldContext, &source_key(record), &id);
        Ok(Ok(id))
    }

    /// The field's global context, if it has one.
    pub(crate) async fn global_context(&self, field: &str) -> Result<Option<String>, TargetError> {
        if let Some(c) = self.state().contexts.get(field) {
            return Ok(Some(c.clone()));
        }
        // Not a path segment: no field has that id.
        let Ok(path) = contexts_path(field) else {
            return Ok(None);
        };
        let list = self
            .paged(
                "GET /rest/api/3/field/{id}/context",
                &path.query("isGlobalContext", "true").build(),
            )
            .await?;
        let context = list
            .iter()
            .find(|c| c.get("isGlobalContext").and_then(Value::as_bool) == Some(true))
            .and_then(|c| c.get("id").and_then(text));
        if let Some(c) = &context {
            self.state().contexts.insert(field.to_owned(), c.clone());
        }
        Ok(context)
    }

    /// A project context of this name of the field, unless another record has it. A
    /// global context is never looked up: it is taken over again.
    pub(crate) async fn lookup_context(
        &self,
        loc: &Value,
        source: &str,
    ) -> Result<Option<String>, TargetError> {
        if loc.get("global").and_then(Value::as_bool) != Some(false) {
            return Ok(None);
        }
        let Ok(path) = contexts_path(s(loc, "field")) else {
            return Ok(None);
        };
        let list = self
            .paged("GET /rest/api/3/field/{id}/context", &path.build())
            .await?;
        let projects: Vec<Value> = list
            .into_iter()
            .filter(|c| c.get("isGlobalContext").and_then(Value::as_bool) != Some(true))
            .collect();
        Ok(self.unclaimed(Kind::FieldContext, &projects, s(loc, "name"), source))
    }
}
