//! Project role actors: who plays a role in a project (`…/project/{id}/role/{id}`), or by
//! default in every new project (`…/role/{id}/actors`). Jira Cloud refuses to add an
//! actor the role has already, so each is looked up before it is added: adding one twice
//! (a rerun, a retried call) writes it once and answers it as written.

use airlock_model::jira::{GROUP_ROLE_ACTOR, ProjectRoleActor, RoleActor, USER_ROLE_ACTOR};
use serde_json::{Value, json};

use super::find::{as_list, s, same};
use super::http::{Created, Req};
use super::write::{Answer, bad_segment, refusal};
use super::{Api, RestPath, SegmentError, item};
use crate::TargetError;

/// An actor's natural key: its project (none for a default actor), role, type and who.
pub(crate) fn actor_locator(a: &ProjectRoleActor) -> Value {
    let (kind, who) = match &a.actor {
        RoleActor::User(account) => ("user", account),
        RoleActor::Group(name) => ("group", name),
    };
    let project = a.project.as_deref().filter(|p| !p.is_empty());
    json!({ "project": project, "role": a.role, "type": kind, "actor": who })
}

/// The role's actors in the project, or its default actors: the call's name and path.
fn actors_path(project: Option<&str>, role: &str) -> Result<(&'static str, String), SegmentError> {
    Ok(match project {
        Some(project) => (
            "GET /rest/api/3/project/{id}/role/{id}",
            RestPath::at("/rest/api/3/project")
                .seg(project)?
                .fixed("role")
                .seg(role)?
                .build(),
        ),
        None => (
            "GET /rest/api/3/role/{id}/actors",
            RestPath::at("/rest/api/3/role")
                .seg(role)?
                .fixed("actors")
                .build(),
        ),
    })
}

/// Whether an actor, as Jira answers it, is the one `loc` names (users by account id,
/// groups by name, whose case Jira ignores).
fn actor_matches(actor: &Value, loc: &Value) -> bool {
    let ty = actor.get("type").and_then(Value::as_str).unwrap_or("");
    let who = s(loc, "actor");
    match s(loc, "type") {
        "user" => {
            ty == USER_ROLE_ACTOR
                && actor
                    .pointer("/actorUser/accountId")
                    .and_then(Value::as_str)
                    == Some(who)
        }
        "group" => {
            ty == GROUP_ROLE_ACTOR
                && actor
                    .pointer("/actorGroup/name")
                    .or_else(|| actor.get("name"))
                    .and_then(Value::as_str)
                    .is_some_and(|name| same(name, who))
        }
        _ => false,
    }
}

impl Api {
    /// Whether the role has the actor `loc` names already, in its project or by default:
    /// `Some("")` (actors have no id of their own here), or `None`.
    pub(crate) async fn lookup_role_actor(
        &self,
        loc: &Value,
    ) -> Result<Option<String>, TargetError> {
        let project = loc.get("project").and_then(Value::as_str);
        let Ok((name, path)) = actors_path(project, s(loc, "role")) else {
            return Ok(None);
        };
        let role = self.get_json(name, path).await?.unwrap_or(Value::Null);
        let found = role
            .get("actors")
            .map_or(&[][..], as_list)
            .iter()
            .any(|a| actor_matches(a, loc));
        Ok(found.then(String::new))
    }

    /// `POST /rest/api/3/project/{id}/role/{id}` (a project's actor) or
    /// `POST /rest/api/3/role/{id}/actors` (a default actor), with `{"user": [account]}` or
    /// `{"group": [name]}`; an actor the role has already is not added again.
    pub(crate) async fn role_actor(&self, a: &ProjectRoleActor) -> Result<Answer, TargetError> {
        let body = match &a.actor {
            RoleActor::User(account) if account.is_empty() => {
                return Ok(Err(item("invalid-value", "a user actor needs a user")));
            }
            RoleActor::Group(name) if name.is_empty() => {
                return Ok(Err(item("invalid-value", "a group actor needs a group")));
            }
            RoleActor::User(account) => json!({ "user": [account] }),
            RoleActor::Group(name) => json!({ "group": [name] }),
        };
        let project = a.project.as_deref().filter(|p| !p.is_empty());
        let (name, path) = match project {
            Some(project) => (
                "POST /rest/api/3/project/{id}/role/{id}",
                RestPath::at("/rest/api/3/project")
                    .seg(project)
                    .map_err(|e| bad_segment("the project id", e))
                    .and_then(|p| {
                        p.fixed("role")
                            .seg(&a.role)
                            .map_err(|e| bad_segment("the role id", e))
                    }),
            ),
            None => (
                "POST /rest/api/3/role/{id}/actors",
                RestPath::at("/rest/api/3/role")
                    .seg(&a.role)
                    .map(|p| p.fixed("actors"))
                    .map_err(|e| bad_segment("the role id", e)),
            ),
        };
        let path = match path {
            Ok(p) => p.build(),
            Err(e) => return Ok(Err(e)),
        };
        let loc = actor_locator(a);
        // Cloud refuses a second add: ask first (a rerun, or an add a crash hid).
        if self.lookup_role_actor(&loc).await?.is_some() {
            return Ok(Ok(String::new()));
        }
        let req = Req::post(name, path, body);
        let created = self
            .http
            .create(&req, async || self.lookup_role_actor(&loc).await)
            .await?;
        Ok(match created {
            Created::Done(_) | Created::Found(_) => Ok(String::new()),
            // Added meanwhile (by another run): there, as the record asks.
            Created::Refused(reply) if reply.summary().contains("already a member") => {
                Ok(String::new())
            }
            Created::Refused(reply) => Err(refusal(&reply)),
        })
    }
}
