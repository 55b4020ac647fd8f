//! The snapshot, the counts, and app storage.

use std::collections::BTreeMap;

use airlock_model::jira::Kind;
use airlock_model::{AppKey, AppOutput, EntityKind};
use serde_json::{Value, json};

use super::http::Req;
use super::write::text;
use super::{Api, SOURCE_PROPERTY, enc};
use crate::{Snapshot, TargetConstant, TargetError, TargetField, TargetProject, TargetUser};

/// Jira Cloud's limits on entity and app properties.
const MAX_KEY: usize = 255;
const MAX_VALUE: usize = 32_768;

/// Asked so that the double can tell an app's entity properties from core ones; Cloud
/// ignores it (there the app's own credentials say whose property it is).
pub(crate) const APP_HEADER: &str = "X-Airlock-App";

impl Api {
    pub(crate) async fn snapshot(&self) -> Result<Snapshot, TargetError> {
        let projects = self
            .paged(
                "GET /rest/api/3/project/search",
                "/rest/api/3/project/search",
            )
            .await?
            .iter()
            .filter_map(|p| {
                Some(TargetProject {
                    id: p.get("id").and_then(text)?,
                    key: p.get("key")?.as_str()?.to_owned(),
                    name: p.get("name")?.as_str()?.to_owned(),
                })
            })
            .collect();
        let fields = self
            .paged(
                "GET /rest/api/3/field/search",
                "/rest/api/3/field/search?type=custom",
            )
            .await?
            .iter()
            .filter_map(|f| {
                Some(TargetField {
                    id: f.get("id").and_then(text)?,
                    name: f.get("name")?.as_str()?.to_owned(),
                    type_key: f
                        .pointer("/schema/custom")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                })
            })
            .collect();
        let users = self
            .paged("GET /rest/api/3/users/search", "/rest/api/3/users/search")
            .await?
            .iter()
            // App and customer accounts are not people a migration maps users to.
            .filter(|u| {
                u.get("accountType")
                    .and_then(Value::as_str)
                    .is_none_or(|t| t == "atlassian")
            })
            .filter_map(|u| {
                Some(TargetUser {
                    account_id: u.get("accountId").and_then(text)?,
                    email: u
                        .get("emailAddress")
                        .and_then(Value::as_str)
                        .filter(|e| !e.is_empty())
                        .map(str::to_owned),
                    display_name: u
                        .get("displayName")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                })
            })
            .collect();
        let groups = self
            .paged("GET /rest/api/3/group/bulk", "/rest/api/3/group/bulk")
            .await?
            .iter()
            .filter_map(|g| Some(g.get("name")?.as_str()?.to_owned()))
            .collect();
        let issue_types = self
            .http
            .call(&Req::get(
                "GET /rest/api/3/issuetype",
                "/rest/api/3/issuetype".into(),
            ))
            .await?;
        let link_types = self
            .http
            .call(&Req::get(
                "GET /rest/api/3/issueLinkType",
                "/rest/api/3/issueLinkType".into(),
            ))
            .await?;
        for reply in [&issue_types, &link_types] {
            if !reply.ok() {
                return Err(TargetError::Http {
                    call: "GET (snapshot)".into(),
                    status: reply.status,
                    message: reply.summary(),
                });
            }
        }
        let statuses = self
            .paged(
                "GET /rest/api/3/statuses/search",
                "/rest/api/3/statuses/search",
            )
            .await?;
        let priorities = self
            .paged(
                "GET /rest/api/3/priority/search",
                "/rest/api/3/priority/search",
            )
            .await?;
        let resolutions = self
            .paged(
                "GET /rest/api/3/resolution/search",
                "/rest/api/3/resolution/search",
            )
            .await?;
        Ok(Snapshot {
            projects,
            fields,
            users,
            groups,
            issue_types: constants(issue_types.body.as_array().map(Vec::as_slice)),
            statuses: constants(Some(&statuses)),
            priorities: constants(Some(&priorities)),
            resolutions: constants(Some(&resolutions)),
            link_types: constants(
                link_types
                    .body
                    .get("issueLinkTypes")
                    .and_then(Value::as_array)
                    .map(Vec::as_slice),
            ),
        })
    }

    /// Issues: a JQL count of those carrying `airlock.source`. Every other kind: the
    /// journal's entries with an id (distinct source keys).
    pub(crate) async fn counts(&self) -> Result<BTreeMap<Kind, u64>, TargetError> {
        let mut counts = BTreeMap::new();
        let req = Req::post(
            "POST /rest/api/3/search/approximate-count",
            "/rest/api/3/search/approximate-count".into(),
            json!({ "jql": format!("issue.property[{SOURCE_PROPERTY}].key is not EMPTY") }),
        )
        .idempotent();
        let reply = self.http.call(&req).await?;
        if !reply.ok() {
            return Err(TargetError::Http {
                call: req.name.to_owned(),
                status: reply.status,
                message: reply.summary(),
            });
        }
        let issues = reply.body.get("count").and_then(Value::as_u64).unwrap_or(0);
        if issues > 0 {
            counts.insert(Kind::Issue, issues);
        }
        for kind in Kind::ALL {
            if kind == Kind::Issue {
                continue;
            }
            let n = self.journal_count(kind).await?;
            if n > 0 {
                counts.insert(kind, n);
            }
        }
        Ok(counts)
    }

    /// App properties under the app's key (documents as `collection/id`: Connect has no
    /// document store, and Forge's is not reachable with a user's token); entity
    /// properties on their entity. All checked first: nothing is sent if one is invalid.
    pub(crate) async fn put_app_outputs(
        &self,
        app: &AppKey,
        outputs: &[AppOutput],
    ) -> Result<(), TargetError> {
        for (i, output) in outputs.iter().enumerate() {
            if let Some(why) = invalid_output(output) {
                return Err(TargetError::Invalid(format!("app output {i}: {why}")));
            }
        }
        // Worklog properties live under their issue: learn the issues in one call.
        let worklogs: Vec<&str> = outputs
            .iter()
            .filter_map(|o| match o {
                AppOutput::EntityProperty {
                    entity: EntityKind::Worklog,
                    entity_id,
                    ..
                } => Some(entity_id.as_str()),
                _ => None,
            })
            .collect();
        let worklog_issues = self.worklog_issues(&worklogs).await?;
        let app_key = app.as_str();
        self.each(outputs, async |output: &AppOutput| {
            let (name, path, value) = match output {
                AppOutput::AppProperty { key, value } => (
                    "PUT /rest/atlassian-connect/1/addons/{app}/properties/{key}",
                    self.app_property_path(app_key, key),
                    value,
                ),
                AppOutput::AppDocument {
                    collection,
                    id,
                    body,
                } => (
                    "PUT /rest/atlassian-connect/1/addons/{app}/properties/{key}",
                    self.app_property_path(app_key, &format!("{collection}/{id}")),
                    body,
                ),
                AppOutput::EntityProperty {
                    entity,
                    entity_id,
                    key,
                    value,
                } => {
                    let (name, path) = match entity {
                        EntityKind::Issue => (
                            "PUT /rest/api/3/issue/{id}/properties/{key}",
                            format!(
                                "/rest/api/3/issue/{}/properties/{}",
                                enc(entity_id),
                                enc(key)
                            ),
                        ),
                        EntityKind::Project => (
                            "PUT /rest/api/3/project/{id}/properties/{key}",
                            format!(
                                "/rest/api/3/project/{}/properties/{}",
                                enc(entity_id),
                                enc(key)
                            ),
                        ),
                        EntityKind::User => (
                            "PUT /rest/api/3/user/properties/{key}",
                            format!(
                                "/rest/api/3/user/properties/{}?accountId={}",
                                enc(key),
                                enc(entity_id)
                            ),
                        ),
                        EntityKind::Comment => (
                            "PUT /rest/api/3/comment/{id}/properties/{key}",
                            format!(
                                "/rest/api/3/comment/{}/properties/{}",
                                enc(entity_id),
                                enc(key)
                            ),
                        ),
                        EntityKind::Worklog => {
                            let Some(issue) = worklog_issues.get(entity_id.as_str()) else {
                                return Err(TargetError::Invalid(
                                    "an app output names a worklog the site does not have".into(),
                                ));
                            };
                            (
                                "PUT /rest/api/3/issue/{id}/worklog/{id}/properties/{key}",
                                format!(
                                    "/rest/api/3/issue/{}/worklog/{}/properties/{}",
                                    enc(issue),
                                    enc(entity_id),
                                    enc(key)
                                ),
                            )
                        }
                    };
                    (name, path, value)
                }
            };
            let value: Value = serde_json::from_str(value).expect("checked above");
            let mut req = Req::put(name, path, value);
            if matches!(output, AppOutput::EntityProperty { .. }) {
                req.app = Some(app_key.to_owned());
            }
            let reply = self.http.call(&req).await?;
            if !reply.ok() {
                return Err(TargetError::Http {
                    call: name.to_owned(),
                    status: reply.status,
                    message: reply.summary(),
                });
            }
            if let AppOutput::EntityProperty {
                entity,
                entity_id,
                key,
                ..
            } = output
            {
                self.state()
                    .app_entity_properties
                    .entry(app_key.to_owned())
                    .or_default()
                    .insert((format!("{entity:?}"), entity_id.clone(), key.clone()));
            }
            Ok(())
        })
        .await?;
        tracing::debug!(outputs = outputs.len(), "stored app outputs in Jira Cloud");
        Ok(())
    }

    /// Worklog id → issue id, through `POST /rest/api/3/worklog/list` (1000 ids a call).
    async fn worklog_issues(
        &self,
        worklogs: &[&str],
    ) -> Result<std::collections::HashMap<String, String>, TargetError> {
        let mut out = std::collections::HashMap::new();
        for chunk in worklogs.chunks(1000) {
            let ids: Vec<Value> = chunk
                .iter()
                .map(|w| w.parse::<i64>().map(Value::from).unwrap_or(json!(w)))
                .collect();
            let req = Req::post(
                "POST /rest/api/3/worklog/list",
                "/rest/api/3/worklog/list".into(),
                json!({ "ids": ids }),
            )
            .idempotent();
            let reply = self.http.call(&req).await?;
            if !reply.ok() {
                return Err(TargetError::Http {
                    call: req.name.to_owned(),
                    status: reply.status,
                    message: reply.summary(),
                });
            }
            for w in reply.body.as_array().into_iter().flatten() {
                if let (Some(id), Some(issue)) =
                    (w.get("id").and_then(text), w.get("issueId").and_then(text))
                {
                    out.insert(id, issue);
                }
            }
        }
        Ok(out)
    }

    /// The app's properties (documents included) plus the entity properties this client
    /// wrote for it: Cloud cannot list an app's entity properties across entities.
    pub(crate) async fn app_output_count(&self, app: &AppKey) -> Result<u64, TargetError> {
        let req = Req::get(
            "GET /rest/atlassian-connect/1/addons/{app}/properties",
            format!(
                "/rest/atlassian-connect/1/addons/{}/properties",
                enc(app.as_str())
            ),
        );
        let reply = self.http.call(&req).await?;
        let properties = if reply.status == 404 {
            0
        } else if reply.ok() {
            reply
                .body
                .get("keys")
                .and_then(Value::as_array)
                .map(|k| k.len() as u64)
                .unwrap_or(0)
        } else {
            return Err(TargetError::Http {
                call: req.name.to_owned(),
                status: reply.status,
                message: reply.summary(),
            });
        };
        let entity = self
            .state()
            .app_entity_properties
            .get(app.as_str())
            .map(|s| s.len() as u64)
            .unwrap_or(0);
        Ok(properties + entity)
    }
}

fn constants(items: Option<&[Value]>) -> Vec<TargetConstant> {
    items
        .unwrap_or(&[])
        .iter()
        .filter_map(|c| {
            Some(TargetConstant {
                id: c.get("id").and_then(text)?,
                name: c.get("name")?.as_str()?.to_owned(),
            })
        })
        .collect()
}

/// Jira Cloud's limits: key 1 to 255 characters, JSON value ≤ 32,768 characters.
fn invalid_output(o: &AppOutput) -> Option<String> {
    let too_long = |s: &str, max: usize| s.len() > max && s.chars().count() > max;
    let (key, json) = match o {
        AppOutput::EntityProperty { key, value, .. } | AppOutput::AppProperty { key, value } => {
            (key.clone(), value.as_str())
        }
        AppOutput::AppDocument {
            collection,
            id,
            body,
        } => (format!("{collection}/{id}"), body.as_str()),
    };
    if key.is_empty() || too_long(&key, MAX_KEY) {
        return Some(format!("{} key must be 1 to 255 characters", o.kind()));
    }
    if too_long(json, MAX_VALUE) {
        return Some(format!("{} value exceeds 32,768 characters", o.kind()));
    }
    if serde_json::from_str::<serde::de::IgnoredAny>(json).is_err() {
        return Some(format!("{} value is not valid JSON", o.kind()));
    }
    None
}
