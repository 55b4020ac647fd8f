//! The snapshot, the counts, and app storage.

use std::collections::BTreeMap;

use airlock_model::jira::Kind;
use airlock_model::{AppKey, AppOutput, EntityKind};
use serde_json::{Value, json};

use super::http::Req;
use super::write::text;
use super::{Api, RestPath, SOURCE_PROPERTY};
use crate::app_storage::{check_app_key, check_outputs, namespace, stored_key};
use crate::{Snapshot, TargetConstant, TargetError, TargetField, TargetProject, TargetUser};

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
        let roles = self
            .http
            .call(&Req::get("GET /rest/api/3/role", "/rest/api/3/role".into()))
            .await?;
        for reply in [&issue_types, &link_types, &roles] {
            if !reply.ok() {
                return Err(reply.error("GET (snapshot)"));
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
            roles: constants(roles.body.as_array().map(Vec::as_slice)),
        })
    }

    /// Issues: a JQL count of those carrying `airlock.source`. Changes and change items:
    /// what the issues' history properties hold. Every other kind: the journal's entries
    /// with an id (distinct source keys).
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
            return Err(reply.error(req.name));
        }
        let issues = reply.body.get("count").and_then(Value::as_u64).unwrap_or(0);
        if issues > 0 {
            counts.insert(Kind::Issue, issues);
        }
        let (changes, items) = self.history_counts().await?;
        for kind in Kind::ALL {
            let n = match kind {
                Kind::Issue => continue,
                // What the issues' history properties hold (see `history.rs`).
                Kind::ChangeGroup => changes,
                Kind::ChangeItem => items,
                _ => self.journal_count(kind).await?,
            };
            if n > 0 {
                counts.insert(kind, n);
            }
        }
        Ok(counts)
    }

    /// App properties under the app's key (documents too: Connect has no document store,
    /// and Forge's is not reachable with a user's token); entity properties on their
    /// entity. Every key in the app's namespace ([`stored_key`]). All checked first
    /// ([`check_outputs`]: ids, keys, limits): nothing is sent if one is invalid. Paths are
    /// built segment by segment ([`RestPath`]).
    pub(crate) async fn put_app_outputs(
        &self,
        app: &AppKey,
        outputs: &[AppOutput],
    ) -> Result<(), TargetError> {
        check_outputs(app, outputs)?;
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
            let key = stored_key(app, output);
            let (name, path, value) = match output {
                AppOutput::AppProperty { value, .. } => (
                    "PUT /rest/atlassian-connect/1/addons/{app}/properties/{key}",
                    self.app_property_path(app_key, &key),
                    value,
                ),
                AppOutput::AppDocument { body, .. } => (
                    "PUT /rest/atlassian-connect/1/addons/{app}/properties/{key}",
                    self.app_property_path(app_key, &key),
                    body,
                ),
                AppOutput::EntityProperty {
                    entity,
                    entity_id,
                    value,
                    ..
                } => {
                    let (name, path) = match entity {
                        EntityKind::Issue => (
                            "PUT /rest/api/3/issue/{id}/properties/{key}",
                            RestPath::at("/rest/api/3/issue")
                                .seg(entity_id)
                                .and_then(|p| p.fixed("properties").seg(&key))
                                .map(RestPath::build),
                        ),
                        EntityKind::Project => (
                            "PUT /rest/api/3/project/{id}/properties/{key}",
                            RestPath::at("/rest/api/3/project")
                                .seg(entity_id)
                                .and_then(|p| p.fixed("properties").seg(&key))
                                .map(RestPath::build),
                        ),
                        EntityKind::User => (
                            "PUT /rest/api/3/user/properties/{key}",
                            RestPath::at("/rest/api/3/user/properties")
                                .seg(&key)
                                .map(|p| p.query("accountId", entity_id).build()),
                        ),
                        EntityKind::Comment => (
                            "PUT /rest/api/3/comment/{id}/properties/{key}",
                            RestPath::at("/rest/api/3/comment")
                                .seg(entity_id)
                                .and_then(|p| p.fixed("properties").seg(&key))
                                .map(RestPath::build),
                        ),
                        EntityKind::Worklog => {
                            let Some(issue) = worklog_issues.get(entity_id.as_str()) else {
                                return Err(TargetError::Invalid(
                                    "an app output names a worklog the site does not have".into(),
                                ));
                            };
                            (
                                "PUT /rest/api/3/issue/{id}/worklog/{id}/properties/{key}",
                                RestPath::at("/rest/api/3/issue")
                                    .seg(issue)
                                    .and_then(|p| p.fixed("worklog").seg(entity_id))
                                    .and_then(|p| p.fixed("properties").seg(&key))
                                    .map(RestPath::build),
                            )
                        }
                    };
                    (name, path, value)
                }
            };
            // Checked above; the worklog's issue id comes from the site.
            let path =
                path.map_err(|e| TargetError::Invalid(format!("{name}: a path segment {e}")))?;
            let value: Value = serde_json::from_str(value).expect("checked above");
            let mut req = Req::put(name, path, value);
            if matches!(output, AppOutput::EntityProperty { .. }) {
                req.app = Some(app_key.to_owned());
            }
            let reply = self.http.call(&req).await?;
            if !reply.ok() {
                return Err(reply.error(name));
            }
            if let AppOutput::EntityProperty {
                entity, entity_id, ..
            } = output
            {
                self.state()
                    .app_entity_properties
                    .entry(app_key.to_owned())
                    .or_default()
                    .insert((format!("{entity:?}"), entity_id.clone(), key));
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
                return Err(reply.error(req.name));
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
        check_app_key(app).map_err(|rule| TargetError::InvalidAppKey { rule })?;
        let path = RestPath::at("/rest/atlassian-connect/1/addons")
            .seg(app.as_str())
            .map_err(|e| TargetError::Invalid(format!("the app key {e}")))?
            .fixed("properties")
            .build();
        let req = Req::get(
            "GET /rest/atlassian-connect/1/addons/{app}/properties",
            path,
        );
        let reply = self.http.call(&req).await?;
        // Only the app's namespace: the ledger app's journal is not an app output.
        let namespace = namespace(app);
        let properties = if reply.status == 404 {
            0
        } else if reply.ok() {
            reply
                .body
                .get("keys")
                .and_then(Value::as_array)
                .map(|keys| {
                    keys.iter()
                        .filter(|k| {
                            k.get("key")
                                .and_then(Value::as_str)
                                .is_some_and(|k| k.starts_with(&namespace))
                        })
                        .count() as u64
                })
                .unwrap_or(0)
        } else {
            return Err(reply.error(req.name));
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
