//! Project categories, former project keys, permission schemes with their grants and
//! notification schemes with their entries, and the category and schemes each project
//! uses (its issue type screen, field configuration, issue type and workflow schemes too;
//! screens and their schemes are in `screens.rs`, field configurations and theirs in
//! `field_configurations.rs`, issue type schemes in `issue_type_schemes.rs`, workflows and
//! theirs in `workflows.rs`).
//!
//! A permission or notification scheme (a screen, a screen scheme, an issue type screen
//! scheme, a field configuration and its scheme, an issue type scheme, a workflow and a
//! workflow scheme: `create_renamed`) is never taken over by name: the target's scheme of
//! that name governs its own projects. Each source scheme is created, under its name if the target
//! has none of that name, else as `<name> (migrated)` (Atlassian's migration assistant's
//! naming). The name chosen is journaled before the create, so a rerun after a crash finds
//! exactly the scheme it made and no other.
//!
//! Jira Cloud keeps a project's former keys when its key is changed, and finds issues by
//! them: a former key is written by renaming the project to it and back (before its issues
//! exist, so nothing is reindexed).

use airlock_model::jira::{
    Kind, Named, Notification, ProjectCategory, ProjectKey, ProjectScheme, Record,
    SchemePermission, SchemeType,
};
use serde_json::{Map, Value, json};

use super::find::{as_list, s, same};
use super::http::Req;
use super::security::{holder_json, same_parameter};
use super::write::{Answer, bad_segment, created_id, number_or_text, refusal, text};
use super::{Api, RestPath, item};
use crate::{ItemError, TargetError, migrated_name, source_key};

/// A grant's natural key: its scheme (cloud id), permission and holder.
pub(crate) fn grant_locator(g: &SchemePermission) -> Value {
    json!({
        "scheme": g.scheme,
        "permission": g.permission,
        "type": g.holder.cloud_type(),
        "parameter": g.holder.parameter(),
    })
}

/// The REST resource of a kind of scheme (or screen) Airlock creates apart from the
/// target's own, under a name the target does not have.
#[derive(Clone, Copy)]
enum SchemeApi {
    Permission,
    Notification,
    Screen,
    ScreenScheme,
    IssueTypeScreenScheme,
    FieldConfiguration,
    FieldConfigurationScheme,
    IssueTypeScheme,
    Workflow,
    WorkflowScheme,
}

impl SchemeApi {
    fn of(kind: Kind) -> Option<SchemeApi> {
        match kind {
            Kind::PermissionScheme => Some(SchemeApi::Permission),
            Kind::NotificationScheme => Some(SchemeApi::Notification),
            Kind::Screen => Some(SchemeApi::Screen),
            Kind::ScreenScheme => Some(SchemeApi::ScreenScheme),
            Kind::IssueTypeScreenScheme => Some(SchemeApi::IssueTypeScreenScheme),
            Kind::FieldConfiguration => Some(SchemeApi::FieldConfiguration),
            Kind::FieldConfigurationScheme => Some(SchemeApi::FieldConfigurationScheme),
            Kind::IssueTypeScheme => Some(SchemeApi::IssueTypeScheme),
            Kind::Workflow => Some(SchemeApi::Workflow),
            Kind::WorkflowScheme => Some(SchemeApi::WorkflowScheme),
            _ => None,
        }
    }

    fn kind(self) -> Kind {
        match self {
            SchemeApi::Permission => Kind::PermissionScheme,
            SchemeApi::Notification => Kind::NotificationScheme,
            SchemeApi::Screen => Kind::Screen,
            SchemeApi::ScreenScheme => Kind::ScreenScheme,
            SchemeApi::IssueTypeScreenScheme => Kind::IssueTypeScreenScheme,
            SchemeApi::FieldConfiguration => Kind::FieldConfiguration,
            SchemeApi::FieldConfigurationScheme => Kind::FieldConfigurationScheme,
            SchemeApi::IssueTypeScheme => Kind::IssueTypeScheme,
            SchemeApi::Workflow => Kind::Workflow,
            SchemeApi::WorkflowScheme => Kind::WorkflowScheme,
        }
    }

    /// Where `GET` lists them; `POST` creates one there too, but a workflow
    /// ([`SchemeApi::create_path`]).
    fn path(self) -> &'static str {
        match self {
            SchemeApi::Permission => "/rest/api/3/permissionscheme",
            SchemeApi::Notification => "/rest/api/3/notificationscheme",
            SchemeApi::Screen => "/rest/api/3/screens",
            SchemeApi::ScreenScheme => "/rest/api/3/screenscheme",
            SchemeApi::IssueTypeScreenScheme => "/rest/api/3/issuetypescreenscheme",
            SchemeApi::FieldConfiguration => "/rest/api/3/fieldconfiguration",
            SchemeApi::FieldConfigurationScheme => "/rest/api/3/fieldconfigurationscheme",
            SchemeApi::IssueTypeScheme => "/rest/api/3/issuetypescheme",
            SchemeApi::Workflow => "/rest/api/3/workflows/search",
            SchemeApi::WorkflowScheme => "/rest/api/3/workflowscheme",
        }
    }

    /// Where `POST` creates one.
    fn create_path(self) -> &'static str {
        match self {
            SchemeApi::Workflow => "/rest/api/3/workflows/create",
            other => other.path(),
        }
    }

    /// Where the create's answer has the new record's id.
    fn id_path(self) -> &'static [&'static str] {
        match self {
            SchemeApi::IssueTypeScheme => &["issueTypeSchemeId"],
            SchemeApi::Workflow => &["workflows", "0", "id"],
            _ => &["id"],
        }
    }

    fn post(self) -> &'static str {
        match self {
            SchemeApi::Permission => "POST /rest/api/3/permissionscheme",
            SchemeApi::Notification => "POST /rest/api/3/notificationscheme",
            SchemeApi::Screen => "POST /rest/api/3/screens",
            SchemeApi::ScreenScheme => "POST /rest/api/3/screenscheme",
            SchemeApi::IssueTypeScreenScheme => "POST /rest/api/3/issuetypescreenscheme",
            SchemeApi::FieldConfiguration => "POST /rest/api/3/fieldconfiguration",
            SchemeApi::FieldConfigurationScheme => "POST /rest/api/3/fieldconfigurationscheme",
            SchemeApi::IssueTypeScheme => "POST /rest/api/3/issuetypescheme",
            SchemeApi::Workflow => "POST /rest/api/3/workflows/create",
            SchemeApi::WorkflowScheme => "POST /rest/api/3/workflowscheme",
        }
    }

    fn get(self) -> &'static str {
        match self {
            SchemeApi::Permission => "GET /rest/api/3/permissionscheme",
            SchemeApi::Notification => "GET /rest/api/3/notificationscheme",
            SchemeApi::Screen => "GET /rest/api/3/screens",
            SchemeApi::ScreenScheme => "GET /rest/api/3/screenscheme",
            SchemeApi::IssueTypeScreenScheme => "GET /rest/api/3/issuetypescreenscheme",
            SchemeApi::FieldConfiguration => "GET /rest/api/3/fieldconfiguration",
            SchemeApi::FieldConfigurationScheme => "GET /rest/api/3/fieldconfigurationscheme",
            SchemeApi::IssueTypeScheme => "GET /rest/api/3/issuetypescheme",
            SchemeApi::Workflow => "GET /rest/api/3/workflows/search",
            SchemeApi::WorkflowScheme => "GET /rest/api/3/workflowscheme",
        }
    }
}

/// Whether a grant, as Jira answers it, is the one `loc` names (groups' names ignore case).
fn grant_matches(grant: &Value, loc: &Value) -> bool {
    let holder = grant.get("holder").unwrap_or(&Value::Null);
    let parameter = holder.get("parameter").and_then(Value::as_str);
    grant.get("permission").and_then(Value::as_str) == Some(s(loc, "permission"))
        && holder.get("type").and_then(Value::as_str) == Some(s(loc, "type"))
        && same_parameter(parameter, loc.get("parameter").and_then(Value::as_str))
}

impl Api {
    /// A project category: the target's category of the same name if it has one (a
    /// category is only a name), else `POST /rest/api/3/projectCategory`.
    pub(crate) async fn category(
        &self,
        record: &Record,
        c: &ProjectCategory,
    ) -> Result<Answer, TargetError> {
        let key = source_key(record);
        let loc = json!({ "name": c.name });
        if let Some(id) = self.lookup_category(&loc, &key).await? {
            self.claim(Kind::ProjectCategory, &key, &id);
            return Ok(Ok(id));
        }
        let req = Req::post(
            "POST /rest/api/3/projectCategory",
            "/rest/api/3/projectCategory".into(),
            json!({ "name": c.name, "description": c.description }),
        );
        self.create(Kind::ProjectCategory, record, req, &["id"])
            .await
    }

    /// The category named as `loc` says, unless another record has it.
    pub(crate) async fn lookup_category(
        &self,
        loc: &Value,
        source: &str,
    ) -> Result<Option<String>, TargetError> {
        let list = self
            .get_json(
                "GET /rest/api/3/projectCategory",
                "/rest/api/3/projectCategory".into(),
            )
            .await?
            .unwrap_or(Value::Null);
        Ok(self.unclaimed(
            Kind::ProjectCategory,
            as_list(&list),
            s(loc, "name"),
            source,
        ))
    }

    /// `POST /rest/api/3/permissionscheme` or `…/notificationscheme`, without grants or
    /// entries (each is a record of its own), under the first of `name`, `name (migrated)`,
    /// `name (migrated 2)`… the target does not have; the name is journaled first.
    pub(crate) async fn scheme(
        &self,
        record: &Record,
        scheme: &Named,
    ) -> Result<Answer, TargetError> {
        self.create_renamed(record, &scheme.name, &scheme.description, Map::new())
            .await
    }

    /// Creates `record` (a scheme or a screen: see [`SchemeApi`]) with `fields` beside its
    /// name and description, under the first of `name`, `name (migrated)`, `name (migrated
    /// 2)`… the target does not have (in any case). The name chosen is journaled before
    /// the create, so a crash or a lost answer finds exactly the record it made.
    pub(crate) async fn create_renamed(
        &self,
        record: &Record,
        source_name: &str,
        description: &str,
        fields: Map<String, Value>,
    ) -> Result<Answer, TargetError> {
        let created = self
            .create_renamed_noting(record, source_name, description, fields, Map::new())
            .await?;
        Ok(created.map(|(id, _)| {
            self.claim(record.kind(), &source_key(record), &id);
            id
        }))
    }

    /// [`Api::create_renamed`], journaling `note` beside the name chosen (what a record
    /// found again by that name still needs: a field configuration scheme's mappings,
    /// written after its create), and leaving the claim to the caller, once the record is
    /// complete. Answers the id and the natural key journaled.
    pub(crate) async fn create_renamed_noting(
        &self,
        record: &Record,
        source_name: &str,
        description: &str,
        fields: Map<String, Value>,
        note: Map<String, Value>,
    ) -> Result<Result<(String, Value), ItemError>, TargetError> {
        self.create_renamed_as(record, source_name, note, |name| {
            let mut body = json!({ "name": name });
            if !description.is_empty() {
                body["description"] = json!(description);
            }
            for (field, value) in fields {
                body[field] = value;
            }
            body
        })
        .await
    }

    /// [`Api::create_renamed_noting`] with a create call of its own shape: `body` makes
    /// it for the name chosen (a workflow's create names it inside a list).
    pub(crate) async fn create_renamed_as(
        &self,
        record: &Record,
        source_name: &str,
        note: Map<String, Value>,
        body: impl FnOnce(&str) -> Value,
    ) -> Result<Result<(String, Value), ItemError>, TargetError> {
        let Some(api) = SchemeApi::of(record.kind()) else {
            return Ok(Err(item(
                "rejected",
                format!("a {} record is not a scheme", record.kind()),
            )));
        };
        let taken: Vec<String> = self
            .schemes(api, source_name)
            .await?
            .iter()
            .filter_map(|s| s.get("name").and_then(Value::as_str).map(str::to_lowercase))
            .collect();
        let mut name = source_name.to_owned();
        let mut n = 1;
        while taken.contains(&name.to_lowercase()) {
            name = migrated_name(source_name, n);
            n += 1;
        }
        let key = source_key(record);
        let mut loc = json!({ "name": name });
        for (field, value) in note {
            loc[field] = value;
        }
        self.journal_locate(api.kind(), &key, loc.clone()).await?;
        let req = Req::post(api.post(), api.create_path().into(), body(&name));
        // A create that may have been applied is looked for under the name it was sent
        // with (the record's own natural key has none).
        let created = self
            .http
            .create(&req, async || {
                self.lookup_scheme(api.kind(), &loc, &key).await
            })
            .await?;
        Ok(created_id(created, req.name, api.id_path())?.map(|id| (id, loc)))
    }

    /// The target's schemes of the kind whose names may be `name`'s or a renamed copy's:
    /// every one, or those Cloud finds by a part of their name (`queryString`, any case).
    async fn schemes(&self, api: SchemeApi, name: &str) -> Result<Vec<Value>, TargetError> {
        match api {
            SchemeApi::Permission => {
                let body = self
                    .get_json(api.get(), api.path().into())
                    .await?
                    .unwrap_or(Value::Null);
                Ok(body
                    .get("permissionSchemes")
                    .map_or(&[][..], as_list)
                    .to_vec())
            }
            // Cloud finds field configuration and workflow schemes by id only: every one.
            SchemeApi::Notification
            | SchemeApi::FieldConfigurationScheme
            | SchemeApi::WorkflowScheme => self.paged(api.get(), api.path()).await,
            SchemeApi::Screen
            | SchemeApi::ScreenScheme
            | SchemeApi::IssueTypeScreenScheme
            | SchemeApi::IssueTypeScheme
            | SchemeApi::Workflow => {
                let path = RestPath::at(api.path()).query("queryString", name).build();
                self.paged(api.get(), &path).await
            }
            // Its name or description holding `query`, in any case.
            SchemeApi::FieldConfiguration => {
                let path = RestPath::at(api.path()).query("query", name).build();
                self.paged(api.get(), &path).await
            }
        }
    }

    /// The scheme of the name journaled before its create, unless another record has it.
    /// Before a name was journaled nothing was created: `None`.
    pub(crate) async fn lookup_scheme(
        &self,
        kind: Kind,
        loc: &Value,
        source: &str,
    ) -> Result<Option<String>, TargetError> {
        let name = s(loc, "name");
        let Some(api) = SchemeApi::of(kind) else {
            return Ok(None);
        };
        if name.is_empty() {
            return Ok(None);
        }
        let list = self.schemes(api, name).await?;
        Ok(self.unclaimed(kind, &list, name, source))
    }

    /// `POST /rest/api/3/permissionscheme/{id}/permission`: one grant. A grant the scheme
    /// has already (a rerun) is answered as written.
    pub(crate) async fn scheme_permission(
        &self,
        record: &Record,
        g: &SchemePermission,
    ) -> Result<Answer, TargetError> {
        let path = match RestPath::at("/rest/api/3/permissionscheme").seg(&g.scheme) {
            Ok(p) => p.fixed("permission").build(),
            Err(e) => return Ok(Err(bad_segment("the scheme id", e))),
        };
        let key = source_key(record);
        let loc = grant_locator(g);
        if let Some(id) = self.lookup_grant(&loc, &key).await? {
            self.claim(Kind::SchemePermission, &key, &id);
            return Ok(Ok(id));
        }
        let req = Req::post(
            "POST /rest/api/3/permissionscheme/{id}/permission",
            path,
            json!({ "holder": holder_json(&g.holder), "permission": g.permission }),
        );
        self.create(Kind::SchemePermission, record, req, &["id"])
            .await
    }

    /// The grant `loc` names in its scheme, unless another record has it.
    pub(crate) async fn lookup_grant(
        &self,
        loc: &Value,
        source: &str,
    ) -> Result<Option<String>, TargetError> {
        let Ok(path) = RestPath::at("/rest/api/3/permissionscheme").seg(s(loc, "scheme")) else {
            return Ok(None);
        };
        let body = self
            .get_json(
                "GET /rest/api/3/permissionscheme/{id}/permission",
                path.fixed("permission").build(),
            )
            .await?
            .unwrap_or(Value::Null);
        Ok(body
            .get("permissions")
            .map_or(&[][..], as_list)
            .iter()
            .filter(|g| grant_matches(g, loc))
            .filter_map(|g| g.get("id").and_then(text))
            .find(|id| !self.claimed_by_other(Kind::SchemePermission, source, id)))
    }

    /// An entry of a notification scheme, unless the scheme has it already (a rerun):
    /// `PUT /rest/api/3/notificationscheme/{id}/notification` (204, entries have no id
    /// Airlock keeps).
    pub(crate) async fn notification(&self, n: &Notification) -> Result<Answer, TargetError> {
        let base = match RestPath::at("/rest/api/3/notificationscheme").seg(&n.scheme) {
            Ok(p) => p,
            Err(e) => return Ok(Err(bad_segment("the scheme id", e))),
        };
        let wanted = json!({
            "event": n.event,
            "type": n.recipient.cloud_type(),
            "parameter": n.recipient.parameter(),
        });
        let read = base.clone().query("expand", "all").build();
        if self.has_notification(&read, &wanted).await? {
            return Ok(Ok(String::new()));
        }
        let mut entry = json!({ "notificationType": n.recipient.cloud_type() });
        if let Some(parameter) = n.recipient.parameter() {
            entry["parameter"] = json!(parameter);
        }
        let req = Req::put(
            "PUT /rest/api/3/notificationscheme/{id}/notification",
            base.fixed("notification").build(),
            json!({ "notificationSchemeEvents": [{
                "event": { "id": n.event },
                "notifications": [entry],
            }] }),
        );
        let reply = self.http.call(&req).await?;
        if reply.ok() || self.has_notification(&read, &wanted).await? {
            return Ok(Ok(String::new()));
        }
        Ok(Err(refusal(&reply)))
    }

    /// Whether the scheme (`GET …/notificationscheme/{id}?expand=all`) has the entry.
    async fn has_notification(&self, path: &str, wanted: &Value) -> Result<bool, TargetError> {
        let scheme = self
            .get_json("GET /rest/api/3/notificationscheme/{id}", path.to_owned())
            .await?
            .unwrap_or(Value::Null);
        let events = scheme
            .get("notificationSchemeEvents")
            .map_or(&[][..], as_list);
        Ok(events
            .iter()
            .filter(|e| {
                e.pointer("/event/id").and_then(text).as_deref() == Some(s(wanted, "event"))
            })
            .flat_map(|e| e.get("notifications").map_or(&[][..], as_list))
            .any(|n| {
                n.get("notificationType").and_then(Value::as_str) == Some(s(wanted, "type"))
                    && same_parameter(
                        n.get("parameter").and_then(Value::as_str),
                        wanted.get("parameter").and_then(Value::as_str),
                    )
            }))
    }

    /// A project's permission, notification, issue type screen, field configuration, issue
    /// type or workflow scheme or category, unless it has it: read where Cloud says which
    /// it has, then `PUT` where Cloud sets it.
    pub(crate) async fn project_association(
        &self,
        p: &ProjectScheme,
    ) -> Result<Answer, TargetError> {
        let project = match RestPath::at("/rest/api/3/project").seg(&p.project) {
            Ok(path) => path,
            Err(e) => return Ok(Err(bad_segment("the project id", e))),
        };
        let scheme = number_or_text(&p.scheme);
        // (what reads it, where its id is, what sets it)
        let (read, pointer, req) = match p.scheme_type {
            SchemeType::Permission => (
                (
                    "GET /rest/api/3/project/{id}/permissionscheme",
                    project.clone().fixed("permissionscheme").build(),
                ),
                "/id",
                Req::put(
                    "PUT /rest/api/3/project/{id}/permissionscheme",
                    project.fixed("permissionscheme").build(),
                    json!({ "id": scheme }),
                ),
            ),
            SchemeType::Notification => (
                (
                    "GET /rest/api/3/project/{id}/notificationscheme",
                    project.clone().fixed("notificationscheme").build(),
                ),
                "/id",
                Req::put(
                    "PUT /rest/api/3/project/{id}",
                    project.build(),
                    json!({ "notificationScheme": scheme }),
                ),
            ),
            SchemeType::Category => (
                ("GET /rest/api/3/project/{id}", project.clone().build()),
                "/projectCategory/id",
                Req::put(
                    "PUT /rest/api/3/project/{id}",
                    project.build(),
                    json!({ "categoryId": scheme }),
                ),
            ),
            SchemeType::IssueSecurity => return self.project_scheme(p).await,
            // As the issue type screen scheme's, both ids as text.
            SchemeType::IssueType => (
                (
                    "GET /rest/api/3/issuetypescheme/project",
                    RestPath::at("/rest/api/3/issuetypescheme/project")
                        .query("projectId", &p.project)
                        .build(),
                ),
                "/values/0/issueTypeScheme/id",
                Req::put(
                    "PUT /rest/api/3/issuetypescheme/project",
                    "/rest/api/3/issuetypescheme/project".into(),
                    json!({ "issueTypeSchemeId": p.scheme, "projectId": p.project }),
                ),
            ),
            // Cloud sets it only while the project has no issues (it is written before
            // them); both ids as text.
            SchemeType::Workflow => (
                (
                    "GET /rest/api/3/workflowscheme/project",
                    RestPath::at("/rest/api/3/workflowscheme/project")
                        .query("projectId", &p.project)
                        .build(),
                ),
                "/values/0/workflowScheme/id",
                Req::put(
                    "PUT /rest/api/3/workflowscheme/project",
                    "/rest/api/3/workflowscheme/project".into(),
                    json!({ "workflowSchemeId": p.scheme, "projectId": p.project }),
                ),
            ),
            // As the issue type screen scheme's, both ids as text.
            SchemeType::FieldConfiguration => (
                (
                    "GET /rest/api/3/fieldconfigurationscheme/project",
                    RestPath::at("/rest/api/3/fieldconfigurationscheme/project")
                        .query("projectId", &p.project)
                        .build(),
                ),
                "/values/0/fieldConfigurationScheme/id",
                Req::put(
                    "PUT /rest/api/3/fieldconfigurationscheme/project",
                    "/rest/api/3/fieldconfigurationscheme/project".into(),
                    json!({ "fieldConfigurationSchemeId": p.scheme, "projectId": p.project }),
                ),
            ),
            // Cloud keeps this association on the scheme's side, both ids as text.
            SchemeType::IssueTypeScreen => (
                (
                    "GET /rest/api/3/issuetypescreenscheme/project",
                    RestPath::at("/rest/api/3/issuetypescreenscheme/project")
                        .query("projectId", &p.project)
                        .build(),
                ),
                "/values/0/issueTypeScreenScheme/id",
                Req::put(
                    "PUT /rest/api/3/issuetypescreenscheme/project",
                    "/rest/api/3/issuetypescreenscheme/project".into(),
                    json!({ "issueTypeScreenSchemeId": p.scheme, "projectId": p.project }),
                ),
            ),
        };
        let current = self.get_json(read.0, read.1).await?;
        let current = current
            .as_ref()
            .and_then(|c| c.pointer(pointer))
            .and_then(text);
        if current.as_deref() == Some(p.scheme.as_str()) {
            return Ok(Ok(String::new()));
        }
        let reply = self.http.call(&req).await?;
        Ok(if reply.ok() {
            Ok(String::new())
        } else {
            Err(refusal(&reply))
        })
    }

    /// A key the project had: Jira Cloud keeps a project's former keys when it is renamed,
    /// so the project is renamed to the key and back. Its own key needs nothing. Safe to
    /// repeat: a project left under a former key by a crash is renamed back first, and a
    /// key Jira finds the project by already is not written again.
    pub(crate) async fn project_key(&self, k: &ProjectKey) -> Result<Answer, TargetError> {
        let path = match RestPath::at("/rest/api/3/project").seg(&k.project) {
            Ok(path) => path.build(),
            Err(e) => return Ok(Err(bad_segment("the project id", e))),
        };
        // The key the migration gave the project (the source's, or the override's).
        let Some(own) = self
            .journaled_locator(Kind::Project, &k.project)
            .await?
            .map(|loc| s(&loc, "key").to_owned())
            .filter(|key| !key.is_empty())
        else {
            return Ok(Err(item(
                "invalid-reference",
                "projectId: the migration did not create this project",
            )));
        };
        if same(&own, &k.key) {
            return Ok(Ok(String::new()));
        }
        let current = self
            .get_json("GET /rest/api/3/project/{id}", path.clone())
            .await?
            .and_then(|p| p.get("key").and_then(text));
        if current.as_deref().is_some_and(|c| c != own) {
            // Stopped between the renames: the project gets its own key back first.
            if let Err(e) = self.rename_project(&path, &own).await? {
                return Ok(Err(e));
            }
        }
        if self.project_id_by_key(&k.key).await?.as_deref() == Some(k.project.as_str()) {
            return Ok(Ok(String::new()));
        }
        if let Err(e) = self.rename_project(&path, &k.key).await? {
            return Ok(Err(e));
        }
        Ok(self
            .rename_project(&path, &own)
            .await?
            .map(|()| String::new()))
    }

    /// `PUT /rest/api/3/project/{id}` with `key`.
    async fn rename_project(
        &self,
        path: &str,
        key: &str,
    ) -> Result<Result<(), crate::ItemError>, TargetError> {
        let req = Req::put(
            "PUT /rest/api/3/project/{id}",
            path.to_owned(),
            json!({ "key": key }),
        );
        let reply = self.http.call(&req).await?;
        Ok(if reply.ok() {
            Ok(())
        } else {
            Err(refusal(&reply))
        })
    }

    /// The id of the project Jira finds by `key` (its key or a former one).
    async fn project_id_by_key(&self, key: &str) -> Result<Option<String>, TargetError> {
        let Ok(path) = RestPath::at("/rest/api/3/project").seg(key) else {
            return Ok(None);
        };
        Ok(self
            .get_json("GET /rest/api/3/project/{id}", path.build())
            .await?
            .and_then(|p| p.get("id").and_then(text)))
    }
}
