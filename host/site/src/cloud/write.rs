//! `write`: one Jira Cloud call shape per kind (see the table in `cloud.rs`).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use airlock_model::jira::{
    Association, Attachment, Comment, Component, Constant, CustomField, CustomFieldOption,
    CustomFieldValue, EntityProperty, FieldValue, Issue, IssueLink, IssueLinkType, Kind, Project,
    Record, User, Version, Worklog,
};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde_json::{Value, json};

use super::http::{Created, Reply, Req, ReqBody};
use super::{
    Api, ISSUE_PROPERTY, ORIGIN_PROPERTY, RestPath, SOURCE_PROPERTY, SegmentError, adf, item,
};
use crate::{ItemError, TargetError, source_key};

/// Jira Cloud's limit on issues per bulk create.
pub(crate) const BULK_ISSUES: usize = 50;

/// The code of an attachment refused for want of its file.
pub const ATTACHMENT_FILE_MISSING: &str = "attachment-file-missing";

pub(crate) type Answer = Result<String, ItemError>;

impl Api {
    pub(crate) async fn write(
        &self,
        kind: Kind,
        records: &[Record],
    ) -> Result<Vec<Answer>, TargetError> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        if kind == Kind::Issue {
            return self.write_issues(records).await;
        }
        let parts = self.journal_intent(kind, records).await?;
        let answers = match kind {
            Kind::Label | Kind::CustomFieldValue | Kind::IssueVersion => {
                self.write_issue_updates(kind, records).await?
            }
            Kind::Vote => self.write_votes(records).await?,
            Kind::ChangeGroup | Kind::ChangeItem => self.write_history(kind, records).await?,
            Kind::Filter => self.write_filters(records).await?,
            Kind::FilterShare => self.write_shares(records).await?,
            Kind::Dashboard => self.write_dashboards(records).await?,
            Kind::DashboardShare => self.write_dashboard_shares(records).await?,
            Kind::Gadget => self.write_gadgets(records).await?,
            Kind::GadgetPreference => self.write_preferences(records).await?,
            Kind::Board => self.write_boards(records).await?,
            Kind::Sprint => self.write_sprints(records).await?,
            Kind::BoardColumn
            | Kind::ColumnStatus
            | Kind::Swimlane
            | Kind::QuickFilter
            | Kind::CardField
            | Kind::CardColor => self.write_board_lists(kind, records).await?,
            Kind::IssueSprint => self.write_issue_sprints(records).await?,
            Kind::IssueRank => self.write_ranks(records).await?,
            Kind::ScreenTab => self.write_screen_tabs(records).await?,
            Kind::ScreenField => self.write_screen_fields(records).await?,
            Kind::FieldConfigurationItem => self.write_field_configuration_items(records).await?,
            Kind::Workflow => self.write_workflows(records).await?,
            _ => {
                self.each_spread(records, written_issue_of, async |r: &Record| {
                    self.write_one(kind, r).await
                })
                .await?
            }
        };
        self.journal_done(kind, parts, &answers).await?;
        Ok(answers)
    }

    /// Runs `f` on every record with bounded concurrency; answers keep the records' order.
    pub(crate) async fn each<'a, T: 'a, R>(
        &self,
        items: &'a [T],
        f: impl AsyncFn(&'a T) -> Result<R, TargetError>,
    ) -> Result<Vec<R>, TargetError> {
        let f = &f;
        let mut out: Vec<Option<R>> = (0..items.len()).map(|_| None).collect();
        let mut stream = futures_util::stream::iter(items.iter().enumerate())
            .map(|(i, x)| async move { (i, f(x).await) })
            .buffer_unordered(self.concurrency);
        while let Some((i, result)) = stream.next().await {
            out[i] = Some(result?);
        }
        Ok(out
            .into_iter()
            .map(|a| a.expect("every item answered"))
            .collect())
    }

    /// [`Api::each`] for items that write to issues (`issue` names an item's issue, if it
    /// has one), under Jira's per-issue limit: the items go out in turns across issues
    /// (every issue's first, then every issue's second…), an issue's one at a time when
    /// others can go, and an item whose issue is at its limit stays in the queue while the
    /// free slots go to items of other issues.
    pub(crate) async fn each_spread<'a, T: 'a, R>(
        &self,
        items: &'a [T],
        issue: impl Fn(&'a T) -> Option<&'a str>,
        f: impl AsyncFn(&'a T) -> Result<R, TargetError>,
    ) -> Result<Vec<R>, TargetError> {
        let f = &f;
        let keys: Vec<Option<&'a str>> = items.iter().map(issue).collect();
        let mut waiting: VecDeque<usize> = turns(&keys).into();
        // Issue → its items in flight.
        let mut busy: HashMap<&str, usize> = HashMap::new();
        let mut out: Vec<Option<R>> = (0..items.len()).map(|_| None).collect();
        let mut running = FuturesUnordered::new();
        loop {
            while running.len() < self.concurrency && !waiting.is_empty() {
                let at = self.next_item(&waiting, &keys, &busy);
                let i = waiting.remove(at).expect("a waiting item");
                if let Some(k) = keys[i] {
                    *busy.entry(k).or_default() += 1;
                }
                running.push(async move { (i, f(&items[i]).await) });
            }
            let Some((i, result)) = running.next().await else {
                break;
            };
            if let Some(k) = keys[i]
                && let Some(n) = busy.get_mut(k)
            {
                *n -= 1;
                if *n == 0 {
                    busy.remove(k);
                }
            }
            out[i] = Some(result?);
        }
        Ok(out
            .into_iter()
            .map(|a| a.expect("every item answered"))
            .collect())
    }

    /// Which waiting item (its place in `waiting`) takes a free slot: the first whose issue
    /// has room now and nothing in flight (or that writes to no issue); else the first whose
    /// issue has room; else the one whose issue frees first (it waits in its slot).
    fn next_item(
        &self,
        waiting: &VecDeque<usize>,
        keys: &[Option<&str>],
        busy: &HashMap<&str, usize>,
    ) -> usize {
        /// How far down the queue to look (it is in turns: the head is nearly always free).
        const LOOK: usize = 512;
        let now = tokio::time::Instant::now();
        let windows = self.http.pacer().map(|p| p.issues());
        let mut room = None;
        let mut soonest: Option<(tokio::time::Instant, usize)> = None;
        for (at, &i) in waiting.iter().enumerate().take(LOOK) {
            let free = match (keys[i], &windows) {
                (Some(k), Some(w)) => w.free_at(k, now),
                _ => now,
            };
            if free <= now {
                if keys[i].is_none_or(|k| !busy.contains_key(k)) {
                    return at;
                }
                room.get_or_insert(at);
            } else if soonest.is_none_or(|(t, _)| free < t) {
                soonest = Some((free, at));
            }
        }
        room.or(soonest.map(|(_, at)| at)).unwrap_or(0)
    }

    /// A create that answers an id at `id_path`; before it is repeated after an answer
    /// that may hide an applied write, the record is looked up by its natural key.
    pub(crate) async fn create(
        &self,
        kind: Kind,
        record: &Record,
        req: Req,
        id_path: &[&str],
    ) -> Result<Answer, TargetError> {
        let loc = super::find::locator(record);
        let key = source_key(record);
        let created = self
            .http
            .create(&req, async || self.lookup(kind, &loc, &key).await)
            .await?;
        let id = match created_id(created, req.name, id_path)? {
            Ok(id) => id,
            Err(refused) => return Ok(Err(refused)),
        };
        self.claim(kind, &key, &id);
        Ok(Ok(id))
    }

    async fn write_one(&self, kind: Kind, record: &Record) -> Result<Answer, TargetError> {
        if record.kind() != kind {
            return Ok(Err(item(
                "rejected",
                format!("a {} record in a batch of {kind}", record.kind()),
            )));
        }
        let sk = source_key(record);
        match record {
            Record::User(u) => self.user(record, u).await,
            Record::Group(g) => {
                let req = Req::post(
                    "POST /rest/api/3/group",
                    "/rest/api/3/group".into(),
                    json!({ "name": g.name }),
                );
                self.create(kind, record, req, &["name"]).await
            }
            Record::Membership(m) => {
                let req = Req::post(
                    "POST /rest/api/3/group/user",
                    RestPath::at("/rest/api/3/group/user")
                        .query("groupname", &m.group)
                        .build(),
                    json!({ "accountId": m.user_name }),
                )
                .idempotent();
                let reply = self.http.call(&req).await?;
                Ok(
                    if reply.ok() || reply.summary().contains("already a member") {
                        Ok(String::new())
                    } else {
                        Err(refusal(&reply))
                    },
                )
            }
            Record::IssueType(c) => {
                let subtask = c.detail == "jira_subtask";
                let body = json!({
                    "name": c.name,
                    "description": c.description,
                    "type": if subtask { "subtask" } else { "standard" },
                });
                let req = Req::post(
                    "POST /rest/api/3/issuetype",
                    "/rest/api/3/issuetype".into(),
                    body,
                );
                self.create(kind, record, req, &["id"]).await
            }
            Record::Status(c) => {
                let body = json!({
                    "scope": { "type": "GLOBAL" },
                    "statuses": [{
                        "name": c.name,
                        "description": c.description,
                        "statusCategory": status_category(&c.detail),
                    }],
                });
                let req = Req::post(
                    "POST /rest/api/3/statuses",
                    "/rest/api/3/statuses".into(),
                    body,
                );
                self.create(kind, record, req, &["0", "id"]).await
            }
            Record::Priority(c) => {
                let body = json!({
                    "name": c.name,
                    "description": c.description,
                    "statusColor": "#8993a4",
                });
                let req = Req::post(
                    "POST /rest/api/3/priority",
                    "/rest/api/3/priority".into(),
                    body,
                );
                self.create(kind, record, req, &["id"]).await
            }
            Record::Resolution(c) => self.resolution(record, c).await,
            Record::ProjectRole(r) => {
                let req = Req::post(
                    "POST /rest/api/3/role",
                    "/rest/api/3/role".into(),
                    json!({ "name": r.name, "description": r.description }),
                );
                self.create(kind, record, req, &["id"]).await
            }
            Record::Project(p) => self.project(record, p).await,
            Record::Component(c) => self.component(record, c).await,
            Record::Version(v) => self.version(record, v).await,
            Record::CustomField(f) => self.field(record, f).await,
            Record::FieldContext(c) => self.field_context(record, c).await,
            Record::CustomFieldOption(o) => self.option(record, o).await,
            Record::IssueLinkType(t) => self.link_type(record, t).await,
            Record::Comment(c) => self.comment(record, c, &sk).await,
            Record::Worklog(w) => self.worklog(record, w, &sk).await,
            Record::IssueLink(l) => self.issue_link(record, l).await,
            Record::RemoteLink(l) => self.remote_link(record, l).await,
            Record::Watcher(w) => self.watcher(w).await,
            Record::ProjectRoleActor(a) => self.role_actor(a).await,
            Record::Attachment(a) => self.attachment(record, a).await,
            Record::EntityProperty(p) => self.entity_property(p).await,
            Record::Filter(f) => self.filter(record, f).await,
            Record::Issue(_)
            | Record::CustomFieldValue(_)
            | Record::Label(_)
            | Record::IssueVersion(_)
            | Record::Vote(_)
            | Record::ChangeGroup(_)
            | Record::ChangeItem(_)
            | Record::FilterShare(_)
            | Record::Board(_)
            | Record::Sprint(_)
            | Record::BoardColumn(_)
            | Record::ColumnStatus(_)
            | Record::Swimlane(_)
            | Record::QuickFilter(_)
            | Record::CardField(_)
            | Record::CardColor(_)
            | Record::IssueSprint(_)
            | Record::IssueRank(_)
            | Record::Dashboard(_)
            | Record::DashboardShare(_)
            | Record::Gadget(_)
            | Record::GadgetPreference(_)
            | Record::ScreenTab(_)
            | Record::ScreenField(_)
            | Record::FieldConfigurationItem(_)
            | Record::Workflow(_) => Ok(Err(item(
                "rejected",
                format!("{kind} records are written in groups"),
            ))),
            Record::Screen(s) => self.screen(record, s).await,
            Record::ScreenScheme(s) => self.screen_scheme(record, s).await,
            Record::IssueTypeScreenScheme(s) => self.issue_type_screen_scheme(record, s).await,
            Record::FieldConfiguration(c) => self.field_configuration(record, c).await,
            Record::FieldConfigurationScheme(s) => self.field_configuration_scheme(record, s).await,
            Record::SecurityScheme(s) => self.security_scheme(record, s).await,
            Record::SecurityLevel(l) => self.security_level(record, l).await,
            Record::ProjectScheme(p) => self.project_association(p).await,
            Record::ProjectCategory(c) => self.category(record, c).await,
            Record::ProjectKey(k) => self.project_key(k).await,
            Record::PermissionScheme(s) | Record::NotificationScheme(s) => {
                self.scheme(record, s).await
            }
            Record::Notification(n) => self.notification(n).await,
            Record::SchemePermission(g) => self.scheme_permission(record, g).await,
            Record::SecurityLevelMember(m) => self.level_member(record, m).await,
            Record::IssueTypeScheme(s) => self.issue_type_scheme(record, s).await,
            Record::WorkflowScheme(s) => self.workflow_scheme(record, s).await,
        }
    }

    async fn user(&self, record: &Record, u: &User) -> Result<Answer, TargetError> {
        if u.email.trim().is_empty() {
            return Ok(Err(item(
                "invalid-value",
                "Jira Cloud needs an email address to create a user",
            )));
        }
        let body = json!({
            "emailAddress": u.email,
            "displayName": u.display_name,
            "products": ["jira-software"],
        });
        let req = Req::post("POST /rest/api/3/user", "/rest/api/3/user".into(), body);
        self.create(Kind::User, record, req, &["accountId"]).await
    }

    async fn resolution(&self, record: &Record, c: &Constant) -> Result<Answer, TargetError> {
        let body = json!({ "name": c.name, "description": c.description });
        let req = Req::post(
            "POST /rest/api/3/resolution",
            "/rest/api/3/resolution".into(),
            body,
        );
        self.create(Kind::Resolution, record, req, &["id"]).await
    }

    async fn project(&self, record: &Record, p: &Project) -> Result<Answer, TargetError> {
        let mut body = json!({
            "key": p.key,
            "name": p.name,
            "description": p.description,
            "projectTypeKey": if p.project_type.is_empty() { "software" } else { &p.project_type },
            "assigneeType": "UNASSIGNED",
        });
        if !p.lead.is_empty() {
            body["leadAccountId"] = json!(p.lead);
        }
        let req = Req::post(
            "POST /rest/api/3/project",
            "/rest/api/3/project".into(),
            body,
        );
        self.create(Kind::Project, record, req, &["id"]).await
    }

    async fn component(&self, record: &Record, c: &Component) -> Result<Answer, TargetError> {
        let mut body = json!({
            "projectId": number_or_text(&c.project),
            "name": c.name,
            "description": c.description,
        });
        if !c.lead.is_empty() {
            body["leadAccountId"] = json!(c.lead);
        }
        let req = Req::post(
            "POST /rest/api/3/component",
            "/rest/api/3/component".into(),
            body,
        );
        self.create(Kind::Component, record, req, &["id"]).await
    }

    async fn version(&self, record: &Record, v: &Version) -> Result<Answer, TargetError> {
        let mut body = json!({
            "projectId": number_or_text(&v.project),
            "name": v.name,
            "description": v.description,
            "released": v.released,
            "archived": v.archived,
        });
        if let Some(d) = v.release_date {
            body["releaseDate"] = json!(day(d));
        }
        let req = Req::post(
            "POST /rest/api/3/version",
            "/rest/api/3/version".into(),
            body,
        );
        self.create(Kind::Version, record, req, &["id"]).await
    }

    async fn field(&self, record: &Record, f: &CustomField) -> Result<Answer, TargetError> {
        let body = json!({
            "name": f.name,
            "description": f.description,
            "type": f.type_key,
        });
        let req = Req::post("POST /rest/api/3/field", "/rest/api/3/field".into(), body);
        let answer = self.create(Kind::CustomField, record, req, &["id"]).await?;
        if let Ok(id) = &answer {
            // Field values of this run need the type; keep it without asking again.
            let mut state = self.state();
            if let Some(types) = &state.field_types {
                let mut types = (**types).clone();
                types.insert(id.clone(), f.type_key.clone());
                state.field_types = Some(Arc::new(types));
            }
        }
        Ok(answer)
    }

    async fn option(&self, record: &Record, o: &CustomFieldOption) -> Result<Answer, TargetError> {
        // An option naming no context is the field's global context's.
        let context = match &o.context {
            Some(c) => Some(c.clone()),
            None => self.global_context(&o.field).await?,
        };
        let Some(context) = context else {
            return Ok(Err(item(
                "invalid-reference",
                "the custom field has no global context on the site",
            )));
        };
        let mut option = json!({ "value": o.value, "disabled": o.disabled });
        if let Some(parent) = o.parent.as_deref().filter(|p| !p.is_empty()) {
            option["optionId"] = json!(parent);
        }
        let path = match RestPath::at("/rest/api/3/field")
            .seg(&o.field)
            .and_then(|p| p.fixed("context").seg(&context))
        {
            Ok(p) => p.fixed("option").build(),
            Err(e) => return Ok(Err(bad_segment("the field or its context", e))),
        };
        let req = Req::post(
            "POST /rest/api/3/field/{id}/context/{id}/option",
            path,
            json!({ "options": [option] }),
        );
        self.create(
            Kind::CustomFieldOption,
            record,
            req,
            &["options", "0", "id"],
        )
        .await
    }

    async fn link_type(&self, record: &Record, t: &IssueLinkType) -> Result<Answer, TargetError> {
        let body = json!({ "name": t.name, "inward": t.inward, "outward": t.outward });
        let req = Req::post(
            "POST /rest/api/3/issueLinkType",
            "/rest/api/3/issueLinkType".into(),
            body,
        );
        self.create(Kind::IssueLinkType, record, req, &["id"]).await
    }

    async fn comment(&self, record: &Record, c: &Comment, sk: &str) -> Result<Answer, TargetError> {
        // Cloud makes the caller the author and stamps the comment created now: the
        // source's author and dates go in a property of the comment.
        let origin = json!({ "author": c.author, "created": c.created, "updated": c.updated });
        let body = json!({
            "body": adf::from_text(&c.body),
            "properties": [source_property(sk), { "key": ORIGIN_PROPERTY, "value": origin }],
        });
        let path = match RestPath::at("/rest/api/3/issue").seg(&c.issue) {
            Ok(p) => p.fixed("comment").build(),
            Err(e) => return Ok(Err(bad_segment("the issue id", e))),
        };
        let req = Req::post("POST /rest/api/3/issue/{id}/comment", path, body);
        self.create(Kind::Comment, record, req, &["id"]).await
    }

    async fn worklog(&self, record: &Record, w: &Worklog, sk: &str) -> Result<Answer, TargetError> {
        // As a comment's: the caller is the author, created now; the source's in a property.
        let origin = json!({ "author": w.author, "created": w.created });
        let mut body = json!({
            "started": iso(w.started),
            "timeSpentSeconds": w.seconds,
            "properties": [source_property(sk), { "key": ORIGIN_PROPERTY, "value": origin }],
        });
        if !w.body.is_empty() {
            body["comment"] = adf::from_text(&w.body);
        }
        let path = match RestPath::at("/rest/api/3/issue").seg(&w.issue) {
            Ok(p) => p
                .fixed("worklog")
                .query("adjustEstimate", "leave")
                .query("notifyUsers", "false")
                .build(),
            Err(e) => return Ok(Err(bad_segment("the issue id", e))),
        };
        let req = Req::post("POST /rest/api/3/issue/{id}/worklog", path, body);
        self.create(Kind::Worklog, record, req, &["id"]).await
    }

    /// Jira answers 201 without a body and never duplicates a link: create, then read the
    /// id back from the source issue.
    async fn issue_link(&self, record: &Record, l: &IssueLink) -> Result<Answer, TargetError> {
        let body = json!({
            "type": { "id": l.link_type },
            "inwardIssue": { "id": l.source },
            "outwardIssue": { "id": l.destination },
        });
        let req = Req::post(
            "POST /rest/api/3/issueLink",
            "/rest/api/3/issueLink".into(),
            body,
        )
        .idempotent();
        let reply = self.http.call(&req).await?;
        if !reply.ok() {
            return Ok(Err(refusal(&reply)));
        }
        let loc = super::find::locator(record);
        match self.lookup(Kind::IssueLink, &loc, "").await? {
            Some(id) => Ok(Ok(id)),
            None => Ok(Err(item(
                "rejected",
                "Jira accepted the link but the source issue does not show it",
            ))),
        }
    }

    /// An attachment, created with its file (Cloud stores a file only then). Without the
    /// file the record is refused, saying which file to put where: created empty, it
    /// could never get its content.
    async fn attachment(&self, record: &Record, a: &Attachment) -> Result<Answer, TargetError> {
        let path = match RestPath::at("/rest/api/3/issue").seg(&a.issue) {
            Ok(p) => p.fixed("attachments").build(),
            Err(e) => return Ok(Err(bad_segment("the issue id", e))),
        };
        let opened = match &self.files {
            Some(files) => files.open(&a.id),
            None => Err(
                "no attachments folder was given, and Jira Cloud takes an attachment's file \
                 only when it creates the attachment: run the migration again with \
                 --attachments <the Jira home or its data/attachments folder>"
                    .to_owned(),
            ),
        };
        let file = match opened.and_then(|f| {
            let len = f
                .metadata()
                .map_err(|e| format!("its file cannot be read ({e}): check it and run again"))?
                .len();
            Ok((f, len))
        }) {
            Ok(file) => file,
            Err(why) => return Ok(Err(item(ATTACHMENT_FILE_MISSING, why))),
        };
        // Said before a byte is sent: Cloud would refuse it only after the whole upload.
        let (enabled, limit) = self.attachment_meta().await?;
        if !enabled {
            return Ok(Err(item(
                "attachments-disabled",
                "the Jira Cloud site does not take attachments: turn them on (Settings › \
                 System › Attachments) and run the migration again",
            )));
        }
        if file.1 > limit {
            return Ok(Err(item(
                "attachment-too-large",
                format!(
                    "its file is {} bytes, more than the {limit} the Jira Cloud site takes: \
                     raise the site's attachment size limit (Settings › System › \
                     Attachments) and run the migration again, or skip the row in the \
                     override file",
                    file.1
                ),
            )));
        }
        let req = Req {
            name: "POST /rest/api/3/issue/{id}/attachments",
            method: reqwest::Method::POST,
            path,
            body: ReqBody::File {
                name: a.file_name.clone(),
                mime: if a.mime_type.is_empty() {
                    "application/octet-stream".into()
                } else {
                    a.mime_type.clone()
                },
                file: Arc::new(file.0),
                len: file.1,
            },
            idempotent: false,
            app: None,
        };
        self.create(Kind::Attachment, record, req, &["0", "id"])
            .await
    }

    /// Whether the site takes attachments and its size limit in bytes, asked once.
    async fn attachment_meta(&self) -> Result<(bool, u64), TargetError> {
        if let Some(meta) = self.state().attachment_meta {
            return Ok(meta);
        }
        let call = "GET /rest/api/3/attachment/meta";
        let meta = self
            .get_json(call, "/rest/api/3/attachment/meta".into())
            .await?
            .and_then(|m| {
                Some((
                    m.get("enabled")?.as_bool()?,
                    m.get("uploadLimit")?.as_u64()?,
                ))
            })
            .ok_or_else(|| TargetError::Http {
                call: call.into(),
                status: 404,
                message: "Jira did not say whether it takes attachments".into(),
            })?;
        self.state().attachment_meta = Some(meta);
        Ok(meta)
    }

    async fn entity_property(&self, p: &EntityProperty) -> Result<Answer, TargetError> {
        let Ok(value) = serde_json::from_str::<Value>(&p.value) else {
            return Ok(Err(item("invalid-value", "value is not valid JSON")));
        };
        let (name, path) = match p.entity_name.as_str() {
            "IssueProperty" => (
                "PUT /rest/api/3/issue/{id}/properties/{key}",
                RestPath::at("/rest/api/3/issue")
                    .seg(&p.entity_id)
                    .and_then(|r| r.fixed("properties").seg(&p.key))
                    .map(RestPath::build),
            ),
            "ProjectProperty" => (
                "PUT /rest/api/3/project/{id}/properties/{key}",
                RestPath::at("/rest/api/3/project")
                    .seg(&p.entity_id)
                    .and_then(|r| r.fixed("properties").seg(&p.key))
                    .map(RestPath::build),
            ),
            "UserProperty" => (
                "PUT /rest/api/3/user/properties/{key}",
                RestPath::at("/rest/api/3/user/properties")
                    .seg(&p.key)
                    .map(|r| r.query("accountId", &p.entity_id).build()),
            ),
            _ => {
                return Ok(Err(item(
                    "invalid-value",
                    "entity name must be IssueProperty, ProjectProperty or UserProperty",
                )));
            }
        };
        let path = match path {
            Ok(path) => path,
            Err(e) => return Ok(Err(bad_segment("the entity id or key", e))),
        };
        let reply = self.http.call(&Req::put(name, path, value)).await?;
        Ok(if reply.ok() {
            Ok(String::new())
        } else {
            Err(refusal(&reply))
        })
    }

    /// Labels, field values and issue versions: one `PUT /rest/api/3/issue/{id}` per issue
    /// with every update operation of the batch for it. If Jira refuses an issue's call,
    /// its records are sent one by one to learn which was wrong (adds are idempotent).
    async fn write_issue_updates(
        &self,
        kind: Kind,
        records: &[Record],
    ) -> Result<Vec<Answer>, TargetError> {
        let types = if kind == Kind::CustomFieldValue {
            Some(self.field_types(false).await?)
        } else {
            None
        };
        let mut out: Vec<Option<Answer>> = vec![None; records.len()];
        let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
        let mut by_issue: HashMap<&str, usize> = HashMap::new();
        for (i, r) in records.iter().enumerate() {
            let issue = match (kind, r) {
                (Kind::Label, Record::Label(l)) => &l.issue,
                (Kind::CustomFieldValue, Record::CustomFieldValue(v)) => &v.issue,
                (Kind::IssueVersion, Record::IssueVersion(v)) => &v.issue,
                _ => {
                    out[i] = Some(Err(item(
                        "rejected",
                        format!("a {} record in a batch of {kind}", r.kind()),
                    )));
                    continue;
                }
            };
            if let Err(e) = super::check_segment(issue) {
                out[i] = Some(Err(bad_segment("the issue id", e)));
                continue;
            }
            match by_issue.get(issue.as_str()) {
                Some(&g) => groups[g].1.push(i),
                None => {
                    by_issue.insert(issue, groups.len());
                    groups.push((issue.clone(), vec![i]));
                }
            }
        }
        let types = types.as_deref();
        let results = self
            .each(&groups, async |(issue, members): &(String, Vec<usize>)| {
                let ops: Vec<(&str, Value)> = members
                    .iter()
                    .map(|&i| update_op(&records[i], types))
                    .collect();
                let reply = self.update_issue(issue, &ops).await?;
                if reply.ok() {
                    return Ok(members.iter().map(|_| Ok(String::new())).collect());
                }
                if members.len() == 1 {
                    return Ok(vec![Err(refusal(&reply))]);
                }
                let mut answers = Vec::with_capacity(members.len());
                for op in &ops {
                    let reply = self.update_issue(issue, std::slice::from_ref(op)).await?;
                    answers.push(if reply.ok() {
                        Ok(String::new())
                    } else {
                        Err(refusal(&reply))
                    });
                }
                Ok(answers)
            })
            .await?;
        for ((_, members), answers) in groups.iter().zip(results) {
            for (&i, a) in members.iter().zip(answers) {
                out[i] = Some(a);
            }
        }
        Ok(out
            .into_iter()
            .map(|a| a.expect("every record answered"))
            .collect())
    }

    async fn update_issue(&self, issue: &str, ops: &[(&str, Value)]) -> Result<Reply, TargetError> {
        let mut update = serde_json::Map::new();
        for (field, op) in ops {
            update
                .entry(field.to_string())
                .or_insert_with(|| Value::Array(Vec::new()))
                .as_array_mut()
                .expect("an array")
                .push(op.clone());
        }
        let path = RestPath::at("/rest/api/3/issue")
            .seg(issue)
            .map_err(|e| TargetError::Invalid(format!("an issue id {e}")))?
            .query("notifyUsers", "false")
            .build();
        let req = Req::put(
            "PUT /rest/api/3/issue/{id}",
            path,
            json!({ "update": update }),
        );
        self.http.call(&req).await
    }

    /// Custom field id → type key, read once (`fresh`: read again).
    pub(crate) async fn field_types(
        &self,
        fresh: bool,
    ) -> Result<Arc<HashMap<String, String>>, TargetError> {
        if !fresh && let Some(t) = &self.state().field_types {
            return Ok(t.clone());
        }
        let fields = self
            .paged(
                "GET /rest/api/3/field/search",
                "/rest/api/3/field/search?type=custom",
            )
            .await?;
        let types: HashMap<String, String> = fields
            .iter()
            .filter_map(|f| {
                Some((
                    f.get("id")?.as_str()?.to_owned(),
                    f.pointer("/schema/custom")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                ))
            })
            .collect();
        let types = Arc::new(types);
        self.state().field_types = Some(types.clone());
        Ok(types)
    }
}

/// The issue a record's own call writes to (`…/issue/{id}/…`), which Jira's per-issue
/// limit counts.
fn written_issue_of(record: &Record) -> Option<&str> {
    match record {
        Record::Comment(c) => Some(&c.issue),
        Record::Worklog(w) => Some(&w.issue),
        Record::Watcher(w) => Some(&w.issue),
        Record::Attachment(a) => Some(&a.issue),
        Record::RemoteLink(l) => Some(&l.issue),
        Record::EntityProperty(p) if p.entity_name == "IssueProperty" => Some(&p.entity_id),
        _ => None,
    }
}

/// The order items go out in: in turns across issues (each item's rank among its issue's
/// items, then its place in the batch); items of no issue in the first turn.
fn turns(keys: &[Option<&str>]) -> Vec<usize> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut ranked: Vec<(usize, usize)> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| match k {
            Some(k) => {
                let n = seen.entry(k).or_default();
                *n += 1;
                (*n - 1, i)
            }
            None => (0, i),
        })
        .collect();
    ranked.sort_unstable();
    ranked.into_iter().map(|(_, i)| i).collect()
}

fn source_property(sk: &str) -> Value {
    json!({ "key": SOURCE_PROPERTY, "value": { "key": sk } })
}

pub(crate) fn issue_body(issue: &Issue, sk: &str) -> Value {
    let mut fields = json!({
        "project": { "id": issue.project },
        "issuetype": { "id": issue.issue_type },
        "summary": issue.summary,
        // Simplified: Cloud moves an issue to a status through workflow transitions.
        "status": { "id": issue.status },
    });
    if !issue.description.is_empty() {
        fields["description"] = adf::from_text(&issue.description);
    }
    if let Some(p) = &issue.priority {
        fields["priority"] = json!({ "id": p });
    }
    if let Some(r) = &issue.resolution {
        fields["resolution"] = json!({ "id": r });
    }
    if let Some(u) = &issue.reporter {
        fields["reporter"] = json!({ "accountId": u });
    }
    if let Some(u) = &issue.assignee {
        fields["assignee"] = json!({ "accountId": u });
    }
    if let Some(d) = issue.due {
        fields["duedate"] = json!(day(d));
    }
    if let Some(level) = issue.security.as_deref().filter(|l| !l.is_empty()) {
        fields["security"] = json!({ "id": level });
    }
    let mut tracking = serde_json::Map::new();
    if let Some(s) = issue.original_estimate {
        tracking.insert("originalEstimate".into(), json!(duration(s)));
    }
    if let Some(s) = issue.estimate {
        tracking.insert("remainingEstimate".into(), json!(duration(s)));
    }
    if !tracking.is_empty() {
        fields["timetracking"] = Value::Object(tracking);
    }
    // What Cloud sets itself on a new issue, kept as the source has it.
    let carried = json!({
        "key": ISSUE_PROPERTY,
        "value": {
            "number": issue.number,
            "created": issue.created,
            "updated": issue.updated,
            "resolved": issue.resolved,
        },
    });
    json!({ "fields": fields, "properties": [source_property(sk), carried] })
}

/// One update operation: the field it applies to and the operation.
fn update_op<'r>(record: &'r Record, types: Option<&HashMap<String, String>>) -> (&'r str, Value) {
    match record {
        Record::Label(l) => ("labels", json!({ "add": l.label })),
        Record::IssueVersion(v) => {
            let field = match v.association {
                Association::AffectsVersion => "versions",
                Association::FixVersion => "fixVersions",
                Association::Component => "components",
            };
            (field, json!({ "add": { "id": v.target } }))
        }
        Record::CustomFieldValue(v) => (v.field.as_str(), field_value_op(v, types)),
        _ => ("", Value::Null),
    }
}

/// A custom field value in the shape its type takes; multi-value types add, others set.
fn field_value_op(v: &CustomFieldValue, types: Option<&HashMap<String, String>>) -> Value {
    let type_key = types
        .and_then(|t| t.get(&v.field))
        .map(String::as_str)
        .unwrap_or("");
    let kind = type_key.rsplit(':').next().unwrap_or("");
    let value = match &v.value {
        FieldValue::Text(t) if kind == "textarea" => adf::from_text(t),
        FieldValue::Text(t) => json!(t),
        FieldValue::Number(n) => json!(n),
        FieldValue::Date(d) if kind == "datepicker" => json!(day(*d)),
        FieldValue::Date(d) => json!(iso(*d)),
        FieldValue::Option(o) => json!({ "id": o }),
    };
    let multi = matches!(
        kind,
        "multiselect" | "multicheckboxes" | "labels" | "multiuserpicker" | "multiversion"
    );
    if multi {
        json!({ "add": value })
    } else {
        json!({ "set": value })
    }
}

/// A record whose id or key cannot be a path segment: it names nothing Cloud could have.
pub(crate) fn bad_segment(what: &str, e: SegmentError) -> ItemError {
    item("invalid-reference", format!("{what} {e}"))
}

/// Why Jira refused a record, as an [`ItemError`].
/// The id a create answered (at `id_path` in its body) or found again, or its refusal; an
/// answer without an id fails the call.
pub(crate) fn created_id(
    created: Created,
    call: &str,
    id_path: &[&str],
) -> Result<Answer, TargetError> {
    Ok(match created {
        Created::Done(reply) => match id_at(&reply.body, id_path) {
            Some(id) => Ok(id),
            None => {
                return Err(TargetError::Http {
                    call: call.to_owned(),
                    status: reply.status,
                    message: "the answer carries no id".into(),
                });
            }
        },
        Created::Found(id) => Ok(id),
        Created::Refused(reply) => Err(refusal(&reply)),
    })
}

pub(crate) fn refusal(reply: &Reply) -> ItemError {
    let summary = reply.summary();
    item(classify(reply.status, &summary), summary)
}

pub(crate) fn classify(status: u16, summary: &str) -> &'static str {
    let s = summary.to_lowercase();
    if status == 409 || s.contains("already exists") || s.contains("already used") {
        "duplicate-key"
    } else if status == 404
        || [
            "not found",
            "does not exist",
            "has no ",
            "specify a valid",
            "no such",
        ]
        .iter()
        .any(|n| s.contains(n))
    {
        "invalid-reference"
    } else if status == 413 || s.contains("too long") || s.contains("exceeds") {
        "too-large"
    } else if s.contains("required") || s.contains("invalid") || s.contains("must") {
        "invalid-value"
    } else {
        "rejected"
    }
}

/// The value at `path` (object keys or array indexes), as text.
fn id_at(body: &Value, path: &[&str]) -> Option<String> {
    let mut v = body;
    for step in path {
        v = match step.parse::<usize>() {
            Ok(i) => v.get(i)?,
            Err(_) => v.get(step)?,
        };
    }
    text(v)
}

/// A JSON string or number as text.
pub(crate) fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(crate) fn number_or_text(s: &str) -> Value {
    s.parse::<i64>()
        .map(Value::from)
        .unwrap_or_else(|_| json!(s))
}

/// Status category keys of REST v3 from the server's category (id or key).
fn status_category(detail: &str) -> &'static str {
    match detail {
        "3" | "done" => "DONE",
        "4" | "indeterminate" => "IN_PROGRESS",
        _ => "TODO",
    }
}

/// Seconds as Jira's duration text, in minutes (Jira's smallest unit).
fn duration(seconds: i64) -> String {
    format!("{}m", (seconds.max(0) + 59) / 60)
}

fn datetime(ms: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// `2021-01-17T12:34:56.789+0000`: Jira's date-time format. Wall-clock times of the
/// server's zone are sent as they are, in UTC.
pub(crate) fn iso(ms: i64) -> String {
    let t = datetime(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}+0000",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// `2021-01-17`.
pub(crate) fn day(ms: i64) -> String {
    let t = datetime(ms);
    format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_go_in_turns_across_issues() {
        let keys = [
            Some("a"),
            Some("a"),
            Some("a"),
            Some("b"),
            None,
            Some("c"),
            Some("b"),
        ];
        assert_eq!(turns(&keys), vec![0, 3, 4, 5, 1, 6, 2]);
    }

    #[test]
    fn dates_in_jira_format() {
        assert_eq!(iso(0), "1970-01-01T00:00:00.000+0000");
        assert_eq!(iso(1_409_679_768_053), "2014-09-02T17:42:48.053+0000");
        assert_eq!(day(1_409_679_768_053), "2014-09-02");
    }
}
