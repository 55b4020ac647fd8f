//! Issue security: schemes, their levels, and the scheme each project uses (Cloud's rules
//! they follow are in the module doc of `cloud.rs`).

use std::time::Duration;

use airlock_model::jira::{
    Kind, LevelMember, PermissionHolder, ProjectScheme, Record, SecurityLevel, SecurityScheme,
};
use serde_json::{Value, json};

use super::find::{as_list, s, same};
use super::http::{Created, Reply, Req};
use super::write::{Answer, bad_segment, refusal, text};
use super::{Api, RestPath, item};
use crate::{TargetError, source_key};

/// How long an association's task may run before the write gives up on it.
const TASK_DEADLINE: Duration = Duration::from_secs(600);

/// A level's natural key: its scheme (cloud id) and its name.
pub(crate) fn level_locator(l: &SecurityLevel) -> Value {
    json!({ "scheme": l.scheme, "name": l.name })
}

/// A level member's natural key: its scheme and level (cloud ids) and its holder.
pub(crate) fn member_locator(m: &LevelMember) -> Value {
    json!({
        "scheme": m.scheme,
        "level": m.level,
        "type": m.holder.cloud_type(),
        "parameter": m.holder.parameter(),
    })
}

/// A permission grant's or level member's holder as Cloud takes it: `{type, parameter}`.
pub(crate) fn holder_json(holder: &PermissionHolder) -> Value {
    let mut json = json!({ "type": holder.cloud_type() });
    if let Some(parameter) = holder.parameter() {
        json["parameter"] = json!(parameter);
    }
    json
}

/// Whether two parameters (an empty one is none) name the same: group names ignore case.
pub(crate) fn same_parameter(a: Option<&str>, b: Option<&str>) -> bool {
    match (a.filter(|p| !p.is_empty()), b.filter(|p| !p.is_empty())) {
        (None, None) => true,
        (Some(a), Some(b)) => same(a, b),
        _ => false,
    }
}

/// Whether a task (`TaskProgressBeanObject`) has ended, and how.
fn task_outcome(task: &Value) -> Option<Result<(), String>> {
    match task.get("status").and_then(Value::as_str) {
        // A Cloud answering without a task body: nothing left to wait for.
        None => Some(Ok(())),
        Some("COMPLETE") => Some(Ok(())),
        Some("ENQUEUED" | "RUNNING" | "CANCEL_REQUESTED") => None,
        Some(other) => Some(Err(other.to_owned())),
    }
}

impl Api {
    /// `POST /rest/api/3/issuesecurityschemes` without levels (each level is a record of
    /// its own): 201 `{"id": …}`.
    pub(crate) async fn security_scheme(
        &self,
        record: &Record,
        scheme: &SecurityScheme,
    ) -> Result<Answer, TargetError> {
        let mut body = json!({ "name": scheme.name });
        if !scheme.description.is_empty() {
            body["description"] = json!(scheme.description);
        }
        let req = Req::post(
            "POST /rest/api/3/issuesecurityschemes",
            "/rest/api/3/issuesecurityschemes".into(),
            body,
        );
        self.create(Kind::SecurityScheme, record, req, &["id"])
            .await
    }

    /// `PUT /rest/api/3/issuesecurityschemes/{id}/level` (204, no id): the new level's id
    /// is read back by name. The migration's account is the level's member: Jira lets a
    /// caller set only levels it belongs to, and shows their issues only to their members.
    pub(crate) async fn security_level(
        &self,
        record: &Record,
        level: &SecurityLevel,
    ) -> Result<Answer, TargetError> {
        let path = match RestPath::at("/rest/api/3/issuesecurityschemes").seg(&level.scheme) {
            Ok(p) => p.fixed("level").build(),
            Err(e) => return Ok(Err(bad_segment("the scheme id", e))),
        };
        let me = self.myself().await?;
        // Never the default: Jira gives the default level to every issue created without
        // one, and the source's issues carry their own.
        let mut new = json!({
            "name": level.name,
            "isDefault": false,
            "members": [{ "type": "user", "parameter": me }],
        });
        if !level.description.is_empty() {
            new["description"] = json!(level.description);
        }
        let mut req = Req::put(
            "PUT /rest/api/3/issuesecurityschemes/{id}/level",
            path,
            json!({ "levels": [new] }),
        );
        // Each time it is applied it adds a level: a create, checked before it is repeated.
        req.idempotent = false;
        let loc = level_locator(level);
        let key = source_key(record);
        let created = self
            .http
            .create(&req, async || self.lookup_security_level(&loc, &key).await)
            .await?;
        let id = match created {
            Created::Done(reply) => match self.lookup_security_level(&loc, &key).await? {
                Some(id) => id,
                None => {
                    return Err(TargetError::Http {
                        call: req.name.to_owned(),
                        status: reply.status,
                        message: "Jira accepted the level but does not list it".into(),
                    });
                }
            },
            Created::Found(id) => id,
            Created::Refused(reply) => return Ok(Err(refusal(&reply))),
        };
        self.claim(Kind::SecurityLevel, &key, &id);
        Ok(Ok(id))
    }

    /// `PUT /rest/api/3/issuesecurityschemes/project` (an issue security scheme's
    /// association; `write` routes the other types elsewhere), unless the project uses the scheme
    /// already (setting it again is a no-op, answered `""` either way). Jira answers 303 to
    /// the task doing it, which the HTTP client follows; the write waits for the task.
    pub(crate) async fn project_scheme(&self, p: &ProjectScheme) -> Result<Answer, TargetError> {
        if self.project_security_scheme(&p.project).await?.as_deref() == Some(p.scheme.as_str()) {
            return Ok(Ok(String::new()));
        }
        let req = Req::put(
            "PUT /rest/api/3/issuesecurityschemes/project",
            "/rest/api/3/issuesecurityschemes/project".into(),
            json!({ "projectId": p.project, "schemeId": p.scheme }),
        );
        let reply = self.http.call(&req).await?;
        if !reply.ok() && reply.status != 303 {
            // A repeat of an association applied before its answer was lost.
            if self.project_security_scheme(&p.project).await?.as_deref() == Some(p.scheme.as_str())
            {
                return Ok(Ok(String::new()));
            }
            return Ok(Err(refusal(&reply)));
        }
        Ok(match self.await_task(&reply).await? {
            Ok(()) => Ok(String::new()),
            Err(status) => Err(item(
                "rejected",
                format!("Jira's task associating the issue security scheme ended {status}"),
            )),
        })
    }

    /// Waits for the task an answer describes (`status`, `id`) to end: `Err` with its final
    /// status if it did not complete.
    async fn await_task(&self, reply: &Reply) -> Result<Result<(), String>, TargetError> {
        let mut task = reply.body.clone();
        let started = tokio::time::Instant::now();
        let mut pause = Duration::from_millis(100);
        loop {
            if let Some(outcome) = task_outcome(&task) {
                return Ok(outcome);
            }
            let call = "GET /rest/api/3/task/{id}";
            let Some(id) = task.get("id").and_then(text) else {
                return Err(TargetError::Http {
                    call: call.into(),
                    status: reply.status,
                    message: "Jira started a task but did not say which".into(),
                });
            };
            if started.elapsed() > TASK_DEADLINE {
                return Err(TargetError::Http {
                    call: call.into(),
                    status: reply.status,
                    message: format!(
                        "the task was still running after {} s",
                        TASK_DEADLINE.as_secs()
                    ),
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(5));
            let path = RestPath::at("/rest/api/3/task")
                .seg(&id)
                .map_err(|e| TargetError::Invalid(format!("a task id {e}")))?
                .build();
            task = self
                .get_json(call, path)
                .await?
                .ok_or_else(|| TargetError::Http {
                    call: call.into(),
                    status: 404,
                    message: "the task Jira started is gone".into(),
                })?;
        }
    }

    /// The issue security scheme a project uses (`GET …/issuesecurityschemes/project`).
    async fn project_security_scheme(&self, project: &str) -> Result<Option<String>, TargetError> {
        let mappings = self
            .paged(
                "GET /rest/api/3/issuesecurityschemes/project",
                &RestPath::at("/rest/api/3/issuesecurityschemes/project")
                    .query("projectId", project)
                    .build(),
            )
            .await?;
        Ok(mappings
            .iter()
            .find(|m| m.get("projectId").and_then(text).as_deref() == Some(project))
            .and_then(|m| m.get("issueSecuritySchemeId").and_then(text)))
    }

    /// A scheme by name (Jira's names are unique in any case), unless another record has
    /// it: a record named like one written before is its duplicate, not it.
    pub(crate) async fn lookup_security_scheme(
        &self,
        loc: &Value,
        source: &str,
    ) -> Result<Option<String>, TargetError> {
        let body = self
            .get_json(
                "GET /rest/api/3/issuesecurityschemes",
                "/rest/api/3/issuesecurityschemes".into(),
            )
            .await?
            .unwrap_or(Value::Null);
        let list = body.get("issueSecuritySchemes").map_or(&[][..], as_list);
        Ok(self.unclaimed(Kind::SecurityScheme, list, s(loc, "name"), source))
    }

    /// A level by name in its scheme, unless another record has it.
    pub(crate) async fn lookup_security_level(
        &self,
        loc: &Value,
        source: &str,
    ) -> Result<Option<String>, TargetError> {
        let scheme = s(loc, "scheme");
        // Cloud's scheme ids are numbers: anything else names no scheme.
        if scheme.is_empty() || !scheme.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(None);
        }
        let levels = self
            .paged(
                "GET /rest/api/3/issuesecurityschemes/level",
                &RestPath::at("/rest/api/3/issuesecurityschemes/level")
                    .query("schemeId", scheme)
                    .build(),
            )
            .await?;
        let in_scheme: Vec<Value> = levels
            .into_iter()
            // The query asked for this scheme's; a level that names another is not one.
            .filter(|l| {
                l.get("issueSecuritySchemeId")
                    .and_then(text)
                    .is_none_or(|id| id == scheme)
            })
            .collect();
        Ok(self.unclaimed(Kind::SecurityLevel, &in_scheme, s(loc, "name"), source))
    }

    /// A member of a level, unless the level has it already (a rerun):
    /// `PUT /rest/api/3/issuesecurityschemes/{id}/level/{id}/member` (204, no id), the
    /// member's id read back.
    pub(crate) async fn level_member(
        &self,
        record: &Record,
        m: &LevelMember,
    ) -> Result<Answer, TargetError> {
        let path = match RestPath::at("/rest/api/3/issuesecurityschemes")
            .seg(&m.scheme)
            .and_then(|p| p.fixed("level").seg(&m.level))
        {
            Ok(p) => p.fixed("member").build(),
            Err(e) => return Ok(Err(bad_segment("the scheme or level id", e))),
        };
        let key = source_key(record);
        let loc = member_locator(m);
        if let Some(id) = self.lookup_level_member(&loc, &key).await? {
            self.claim(Kind::SecurityLevelMember, &key, &id);
            return Ok(Ok(id));
        }
        let req = Req::put(
            "PUT /rest/api/3/issuesecurityschemes/{id}/level/{id}/member",
            path,
            json!({ "members": [holder_json(&m.holder)] }),
        );
        let reply = self.http.call(&req).await?;
        // A repeat of an applied add is refused as a duplicate: the member is there.
        let found = self.lookup_level_member(&loc, &key).await?;
        match (found, reply.ok()) {
            (Some(id), _) => {
                self.claim(Kind::SecurityLevelMember, &key, &id);
                Ok(Ok(id))
            }
            (None, false) => Ok(Err(refusal(&reply))),
            (None, true) => Ok(Err(item(
                "invalid-reference",
                "Jira Cloud answered the add, but the level does not list the member",
            ))),
        }
    }

    /// The member `loc` names on its level, unless another record has it.
    pub(crate) async fn lookup_level_member(
        &self,
        loc: &Value,
        source: &str,
    ) -> Result<Option<String>, TargetError> {
        let path = RestPath::at("/rest/api/3/issuesecurityschemes/level/member")
            .query("schemeId", s(loc, "scheme"))
            .query("levelId", s(loc, "level"))
            .build();
        let members = self
            .paged("GET /rest/api/3/issuesecurityschemes/level/member", &path)
            .await?;
        let wanted = loc.get("parameter").and_then(Value::as_str);
        Ok(members
            .iter()
            .filter(|m| {
                let holder = m.get("holder").unwrap_or(&Value::Null);
                // Cloud's filters are inclusive: the scheme is checked too.
                m.get("issueSecurityLevelId").and_then(text).as_deref() == Some(s(loc, "level"))
                    && m.get("issueSecuritySchemeId").and_then(text).as_deref()
                        == Some(s(loc, "scheme"))
                    && holder.get("type").and_then(Value::as_str) == Some(s(loc, "type"))
                    && same_parameter(holder.get("parameter").and_then(Value::as_str), wanted)
            })
            .filter_map(|m| m.get("id").and_then(text))
            .find(|id| !self.claimed_by_other(Kind::SecurityLevelMember, source, id)))
    }

    /// The id of the item of `list` named `name` (in any case), if no other record than
    /// `source` has it.
    pub(crate) fn unclaimed(
        &self,
        kind: Kind,
        list: &[Value],
        name: &str,
        source: &str,
    ) -> Option<String> {
        list.iter()
            .filter(|i| {
                i.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| same(n, name))
            })
            .filter_map(|i| i.get("id").and_then(text))
            .find(|id| !self.claimed_by_other(kind, source, id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_end_complete_or_with_their_status() {
        assert_eq!(task_outcome(&json!({ "status": "COMPLETE" })), Some(Ok(())));
        assert_eq!(task_outcome(&Value::Null), Some(Ok(())));
        assert_eq!(
            task_outcome(&json!({ "id": "1", "status": "RUNNING" })),
            None
        );
        assert_eq!(task_outcome(&json!({ "status": "ENQUEUED" })), None);
        assert_eq!(
            task_outcome(&json!({ "status": "FAILED" })),
            Some(Err("FAILED".into()))
        );
    }
}
