//! Dashboards, their shares, their gadgets and the gadgets' settings. Cloud's rules they
//! obey (ownership, the system dashboard, the layout) are in the module doc of `cloud.rs`.

use std::collections::HashSet;

use airlock_model::jira::{
    Dashboard, DashboardShare, Gadget, GadgetPreference, Kind, Record, Share,
};
use serde_json::{Value, json};

use super::find::{as_list, s};
use super::http::{Created, Reply, Req};
use super::sharing::{
    Groups, MAX_PROPERTY_CHARS, Owned, answered_share, chars, content_digest, group_by, same_share,
    scatter, wrong_kind,
};
use super::write::{Answer, bad_segment, classify, refusal, text};
use super::{Api, RestPath, SegmentError, check_segment, item};
use crate::{ItemError, Notice, TargetError, source_key};

/// Cloud's gadget colours, in the order of the server's `color1` … `color8`.
const COLORS: [&str; 8] = [
    "blue", "red", "yellow", "green", "cyan", "purple", "gray", "white",
];

/// Cloud's colour for a source gadget's (`color1` … `color8`); anything else is blue.
pub(crate) fn cloud_color(color: &str) -> &'static str {
    color
        .strip_prefix("color")
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| (1..=COLORS.len()).contains(n))
        .map_or(COLORS[0], |n| COLORS[n - 1])
}

/// A dashboard's natural key: its name and owner (empty: the migration's account keeps
/// it), and a digest of its description, which tells this record's dashboard from
/// another record's still held by the migration's account.
pub(crate) fn dashboard_locator(d: &Dashboard) -> Value {
    json!({ "name": d.name, "owner": d.owner, "digest": content_digest(&[&d.description]) })
}

/// The digest of a dashboard as Jira answers it (`description` expanded).
pub(super) fn answered_digest(d: &Value) -> String {
    content_digest(&[d.get("description").and_then(Value::as_str).unwrap_or("")])
}

/// A dashboard share's natural key: its dashboard, the permission and whether it edits.
pub(crate) fn dashboard_share_locator(d: &DashboardShare) -> Value {
    json!({ "dashboard": d.dashboard, "permission": permission(&d.share), "edit": d.edit })
}

/// What a gadget is, as Cloud takes it: a dashboard item's module key, else a gadget
/// spec's URI (a source row has one of the two).
fn spec(g: &Gadget) -> Option<(&'static str, &str)> {
    match (g.module_key.as_deref(), g.uri.as_deref()) {
        (Some(key), _) if !key.is_empty() => Some(("moduleKey", key)),
        (_, Some(uri)) if !uri.is_empty() => Some(("uri", uri)),
        _ => None,
    }
}

/// A gadget's natural key: its dashboard, position and what it is.
pub(crate) fn gadget_locator(g: &Gadget) -> Value {
    gadget_locator_at(g, g.column, g.row)
}

fn gadget_locator_at(g: &Gadget, column: u32, row: u32) -> Value {
    let mut loc = json!({ "dashboard": g.dashboard, "column": column, "row": row });
    if let Some((field, value)) = spec(g) {
        loc[field] = json!(value);
    }
    loc
}

/// A gadget setting's natural key: its gadget (`<dashboard>:<gadget>`), key and value.
pub(crate) fn preference_locator(p: &GadgetPreference) -> Value {
    json!({ "gadget": p.gadget, "key": p.key, "value": p.value.text() })
}

/// A share permission in the shape a request gives it.
fn permission(share: &Share) -> Value {
    match share {
        Share::Global => json!({ "type": "global" }),
        Share::LoggedIn => json!({ "type": "authenticated" }),
        Share::Group(group) => json!({ "type": "group", "group": { "name": group } }),
        Share::Project {
            project,
            role: None,
        } => json!({ "type": "project", "project": { "id": project } }),
        Share::Project {
            project,
            role: Some(role),
        } => json!({ "type": "projectRole", "project": { "id": project }, "role": { "id": role } }),
        Share::User(account) => json!({ "type": "user", "user": { "accountId": account } }),
    }
}

/// A permission as Jira answers it, in the shape a request gives it. One Airlock does not
/// know is given back as it came (less its id): a dashboard's shares are never dropped.
fn as_request(p: &Value) -> Value {
    answered_share(p).map_or_else(
        || {
            let mut raw = p.clone();
            if let Some(map) = raw.as_object_mut() {
                map.remove("id");
            }
            raw
        },
        |share| permission(&share),
    )
}

/// Whether two permissions in a request's shape are one (group names without case).
fn same_permission(a: &Value, b: &Value) -> bool {
    match (answered_share(a), answered_share(b)) {
        (Some(x), Some(y)) => same_share(&x, &y),
        _ => a == b,
    }
}

/// The permissions of a dashboard's list (`sharePermissions`, `editPermissions`) as Jira
/// answers them.
fn listed<'d>(dashboard: &'d Value, list: &str) -> &'d [Value] {
    dashboard.get(list).map_or(&[][..], as_list)
}

/// The id of the first view permission of `dashboard` that is `wanted`, not `taken`
/// (another record's); failing that, the first that is `wanted`.
fn permission_id(
    dashboard: &Value,
    wanted: &Value,
    taken: impl Fn(&str) -> bool,
) -> Option<String> {
    let ids: Vec<String> = listed(dashboard, "sharePermissions")
        .iter()
        .filter(|p| same_permission(&as_request(p), wanted))
        .filter_map(|p| p.get("id").and_then(text))
        .collect();
    ids.iter()
        .find(|id| !taken(id))
        .or_else(|| ids.first())
        .cloned()
}

/// Whether `dashboard` (as Jira answers it) has the share, and for an editing share the
/// edit permission too.
fn has_share(dashboard: &Value, wanted: &Value, edit: bool) -> bool {
    let has = |list: &str| {
        listed(dashboard, list)
            .iter()
            .any(|p| same_permission(&as_request(p), wanted))
    };
    has("sharePermissions") && (!edit || has("editPermissions"))
}

/// `/rest/api/3/dashboard/{dashboard}/items/{gadget}/properties/{key}`.
fn item_property_path(dashboard: &str, gadget: &str, key: &str) -> Result<String, SegmentError> {
    Ok(RestPath::at("/rest/api/3/dashboard")
        .seg(dashboard)?
        .fixed("items")
        .seg(gadget)?
        .fixed("properties")
        .seg(key)?
        .build())
}

/// Whether Jira refused a gadget for a column the dashboard's layout has not.
fn column_refused(reply: &Reply) -> bool {
    reply.status == 400 && reply.summary().to_lowercase().contains("column")
}

impl Api {
    /// Dashboards: see [`Api::write_owned`].
    pub(crate) async fn write_dashboards(
        &self,
        records: &[Record],
    ) -> Result<Vec<Answer>, TargetError> {
        self.write_owned(Owned::Dashboard, records).await
    }

    /// `POST /rest/api/3/dashboard` (the caller owns the new dashboard), then the owner
    /// with `PUT /rest/api/3/dashboard/bulk/edit` (`changeOwner`). The system dashboard is
    /// everyone's: shared with every logged-in user, kept by the migration's account.
    pub(super) async fn dashboard(
        &self,
        record: &Record,
        d: &Dashboard,
    ) -> Result<Answer, TargetError> {
        let shares = if d.system {
            vec![permission(&Share::LoggedIn)]
        } else {
            Vec::new()
        };
        let body = json!({
            "name": d.name,
            "description": d.description,
            "sharePermissions": shares,
            "editPermissions": [],
        });
        let req = Req::post(
            "POST /rest/api/3/dashboard",
            "/rest/api/3/dashboard".into(),
            body,
        );
        self.create_owned(Owned::Dashboard, record, &req).await
    }

    /// `PUT /rest/api/3/dashboard/bulk/edit` `changeOwner` for one dashboard; Jira's
    /// refusal (of the call, or its entity error) as an item error. As an administrator
    /// (`extendAdminPermissions`): a repeat finds the dashboard given already.
    pub(super) async fn set_dashboard_owner(
        &self,
        dashboard: &str,
        account: &str,
    ) -> Result<Result<(), ItemError>, TargetError> {
        let Ok(number) = dashboard.parse::<i64>() else {
            return Ok(Err(item(
                "invalid-reference",
                "Jira answered a dashboard id that is not a number",
            )));
        };
        let body = json!({
            "action": "changeOwner",
            "entityIds": [number],
            "changeOwnerDetails": { "newOwner": account, "autofixName": false },
            "extendAdminPermissions": true,
        });
        let req = Req::put(
            "PUT /rest/api/3/dashboard/bulk/edit",
            "/rest/api/3/dashboard/bulk/edit".into(),
            body,
        );
        let reply = self.http.call(&req).await?;
        if !reply.ok() {
            return Ok(Err(refusal(&reply)));
        }
        let refused = reply
            .body
            .get("entityErrors")
            .and_then(|errors| errors.get(dashboard))
            .map(|e| {
                let mut said: Vec<String> = e
                    .get("errors")
                    .map_or(&[][..], as_list)
                    .iter()
                    .chain(e.get("errorMessages").map_or(&[][..], as_list))
                    .filter_map(|m| m.as_str().map(str::to_owned))
                    .collect();
                if said.is_empty() {
                    said.push("Jira did not change the owner".into());
                }
                said.join("; ")
            });
        Ok(match refused {
            Some(message) => Err(item(classify(400, &message), message)),
            None => Ok(()),
        })
    }

    /// A dashboard by its natural key: see [`Api::lookup_owned`].
    pub(crate) async fn lookup_dashboard(
        &self,
        loc: &Value,
        source: &str,
    ) -> Result<Option<String>, TargetError> {
        self.lookup_owned(Owned::Dashboard, loc, source).await
    }

    /// Dashboards of `account` whose name holds `name` (Jira's search is a partial
    /// match), with their owners and descriptions.
    pub(super) async fn dashboards_named(
        &self,
        name: &str,
        account: &str,
    ) -> Result<Vec<Value>, TargetError> {
        self.paged(
            "GET /rest/api/3/dashboard/search",
            &RestPath::at("/rest/api/3/dashboard/search")
                .query("dashboardName", name)
                .query("accountId", account)
                .query("expand", "description,owner")
                .build(),
        )
        .await
    }

    /// A dashboard as an administrator sees it, or `None` if there is no such dashboard.
    async fn get_dashboard(&self, dashboard: &str) -> Result<Option<Value>, TargetError> {
        // Not a path segment: no dashboard has that id.
        let Ok(path) = RestPath::at("/rest/api/3/dashboard").seg(dashboard) else {
            return Ok(None);
        };
        self.get_json("GET /rest/api/3/dashboard/{id}", path.build())
            .await
    }

    /// Dashboard shares, grouped by dashboard (each dashboard's shares are one list, read
    /// and written whole); dashboards in parallel.
    pub(crate) async fn write_dashboard_shares(
        &self,
        records: &[Record],
    ) -> Result<Vec<Answer>, TargetError> {
        let mut out: Vec<Option<Answer>> = vec![None; records.len()];
        let groups: Groups = group_by(records, &mut out, |r| match r {
            Record::DashboardShare(d) => check_segment(&d.dashboard)
                .map(|()| d.dashboard.clone())
                .map_err(|e| bad_segment("the dashboard id", e)),
            other => Err(wrong_kind(other, Kind::DashboardShare)),
        });
        let results = self
            .each(
                &groups,
                async |(dashboard, members): &(String, Vec<usize>)| {
                    let shares: Vec<(&Record, &DashboardShare)> = members
                        .iter()
                        .filter_map(|&i| match &records[i] {
                            Record::DashboardShare(d) => Some((&records[i], d)),
                            _ => None,
                        })
                        .collect();
                    self.share_dashboard(dashboard, &shares).await
                },
            )
            .await?;
        Ok(scatter(&groups, results, out))
    }

    /// One dashboard's shares: `GET` it, add those it has not to its lists, `PUT` the
    /// whole lists (a repeat writes the same lists: nothing is added twice). If Jira
    /// refuses the lists, the shares are added one at a time to learn which it refuses.
    async fn share_dashboard(
        &self,
        dashboard: &str,
        shares: &[(&Record, &DashboardShare)],
    ) -> Result<Vec<Answer>, TargetError> {
        let Some(current) = self.get_dashboard(dashboard).await? else {
            return Ok(vec![
                Err(item(
                    "invalid-reference",
                    "dashboard: the site has no dashboard with this id",
                ));
                shares.len()
            ]);
        };
        let mut answers: Vec<Option<Answer>> = vec![None; shares.len()];
        let wanted: Vec<Value> = shares.iter().map(|(_, d)| permission(&d.share)).collect();
        let pending: Vec<usize> = (0..shares.len())
            .filter(|&i| !has_share(&current, &wanted[i], shares[i].1.edit))
            .collect();
        let lists = |d: &Value, list: &str| -> Vec<Value> {
            listed(d, list).iter().map(as_request).collect()
        };
        let (mut view, mut edit) = (
            lists(&current, "sharePermissions"),
            lists(&current, "editPermissions"),
        );
        let add = |view: &mut Vec<Value>, edit: &mut Vec<Value>, i: usize| {
            if !view.iter().any(|p| same_permission(p, &wanted[i])) {
                view.push(wanted[i].clone());
            }
            if shares[i].1.edit && !edit.iter().any(|p| same_permission(p, &wanted[i])) {
                edit.push(wanted[i].clone());
            }
        };
        let mut answered = current.clone();
        if !pending.is_empty() {
            let (mut all_view, mut all_edit) = (view.clone(), edit.clone());
            for &i in &pending {
                add(&mut all_view, &mut all_edit, i);
            }
            let reply = self
                .put_dashboard(dashboard, &current, &all_view, &all_edit)
                .await?;
            if reply.ok() {
                answered = reply.body;
            } else if pending.len() == 1 {
                answers[pending[0]] = Some(Err(refusal(&reply)));
            } else {
                for &i in &pending {
                    let (mut one_view, mut one_edit) = (view.clone(), edit.clone());
                    add(&mut one_view, &mut one_edit, i);
                    let reply = self
                        .put_dashboard(dashboard, &current, &one_view, &one_edit)
                        .await?;
                    if reply.ok() {
                        (view, edit) = (one_view, one_edit);
                        answered = reply.body;
                    } else {
                        answers[i] = Some(Err(refusal(&reply)));
                    }
                }
            }
        }
        // Each share's id: its view permission as Jira answers it, one record's each.
        let mut taken: HashSet<String> = HashSet::new();
        for (i, (record, _)) in shares.iter().enumerate() {
            if answers[i].is_some() {
                continue;
            }
            let key = source_key(record);
            let id = permission_id(&answered, &wanted[i], |id| {
                taken.contains(id) || self.claimed_by_other(Kind::DashboardShare, &key, id)
            });
            answers[i] = Some(match id {
                Some(id) => {
                    taken.insert(id.clone());
                    self.claim(Kind::DashboardShare, &key, &id);
                    Ok(id)
                }
                None => Err(item(
                    "rejected",
                    "Jira took the dashboard's shares but does not list this one",
                )),
            });
        }
        Ok(answers
            .into_iter()
            .map(|a| a.expect("every share answered"))
            .collect())
    }

    /// `PUT /rest/api/3/dashboard/{id}` with its name and description as they are and
    /// the lists given, as an administrator (the dashboard is its owner's by now).
    async fn put_dashboard(
        &self,
        dashboard: &str,
        current: &Value,
        view: &[Value],
        edit: &[Value],
    ) -> Result<Reply, TargetError> {
        let path = RestPath::at("/rest/api/3/dashboard")
            .seg(dashboard)
            .map_err(|e| TargetError::Invalid(format!("a dashboard id {e}")))?
            .build();
        let body = json!({
            "name": current.get("name").cloned().unwrap_or(Value::Null),
            "description": current.get("description").cloned().unwrap_or(json!("")),
            "sharePermissions": view,
            "editPermissions": edit,
            "extendAdminPermissions": true,
        });
        self.http
            .call(&Req::put("PUT /rest/api/3/dashboard/{id}", path, body))
            .await
    }

    /// A dashboard share by its dashboard and permission: there (with its edit
    /// permission, for one that edits), and the first such not another record's.
    pub(crate) async fn lookup_dashboard_share(
        &self,
        loc: &Value,
        source: &str,
    ) -> Result<Option<String>, TargetError> {
        let Some(dashboard) = self.get_dashboard(s(loc, "dashboard")).await? else {
            return Ok(None);
        };
        let wanted = loc.get("permission").cloned().unwrap_or(Value::Null);
        let edit = loc.get("edit").and_then(Value::as_bool) == Some(true);
        if !has_share(&dashboard, &wanted, edit) {
            return Ok(None);
        }
        Ok(permission_id(&dashboard, &wanted, |id| {
            self.claimed_by_other(Kind::DashboardShare, source, id)
        }))
    }

    /// Gadgets, grouped by dashboard: a dashboard's one after another in the source's
    /// order of columns and rows (a position is one gadget's); dashboards in parallel.
    pub(crate) async fn write_gadgets(
        &self,
        records: &[Record],
    ) -> Result<Vec<Answer>, TargetError> {
        let mut out: Vec<Option<Answer>> = vec![None; records.len()];
        let mut groups = group_by(records, &mut out, |r| match r {
            Record::Gadget(g) => check_segment(&g.dashboard)
                .map(|()| g.dashboard.clone())
                .map_err(|e| bad_segment("the dashboard id", e)),
            other => Err(wrong_kind(other, Kind::Gadget)),
        });
        for (_, members) in &mut groups {
            members.sort_by_key(|&i| match &records[i] {
                Record::Gadget(g) => (g.column, g.row),
                _ => (u32::MAX, u32::MAX),
            });
        }
        let results = self
            .each(
                &groups,
                async |(dashboard, members): &(String, Vec<usize>)| {
                    // The first column Jira said the dashboard's layout has not.
                    let mut beyond: Option<u32> = None;
                    let mut answers = Vec::with_capacity(members.len());
                    for &i in members {
                        let Record::Gadget(g) = &records[i] else {
                            unreachable!("only gadgets are grouped");
                        };
                        answers.push(self.gadget(&records[i], g, dashboard, &mut beyond).await?);
                    }
                    Ok(answers)
                },
            )
            .await?;
        Ok(scatter(&groups, results, out))
    }

    /// `POST /rest/api/3/dashboard/{id}/gadget` at the source's position, answered
    /// `<dashboard>:<gadget>`. Cloud's API cannot set a dashboard's layout: a gadget in a
    /// column the layout has not goes below the gadgets of the last column it has, and the
    /// operator is told (a notice).
    async fn gadget(
        &self,
        record: &Record,
        g: &Gadget,
        dashboard: &str,
        beyond: &mut Option<u32>,
    ) -> Result<Answer, TargetError> {
        let Some((field, what)) = spec(g) else {
            return Ok(Err(item(
                "invalid-value",
                "a gadget needs its gadget spec (gadgetXml) or its dashboard item's module key",
            )));
        };
        let key = source_key(record);
        let path = RestPath::at("/rest/api/3/dashboard")
            .seg(dashboard)
            .map_err(|e| TargetError::Invalid(format!("a dashboard id {e}")))?
            .fixed("gadget")
            .build();
        let mut at = (g.column, g.row);
        if let Some(last) = *beyond
            && g.column >= last
        {
            match self.move_gadget(g, &key, dashboard, last).await? {
                Some(moved) => at = moved,
                None => return Ok(Err(layout_refusal(g))),
            }
        }
        let gadget = loop {
            let mut body = json!({
                "color": cloud_color(&g.color),
                "position": { "column": at.0, "row": at.1 },
                // A source gadget Cloud does not list (an app's) is kept, shown as missing.
                "ignoreUriAndModuleKeyValidation": true,
            });
            body[field] = json!(what);
            let req = Req::post("POST /rest/api/3/dashboard/{id}/gadget", path.clone(), body);
            let loc = gadget_locator_at(g, at.0, at.1);
            let created = self
                .http
                .create(&req, async || self.lookup_gadget(&loc, &key).await)
                .await?;
            match created {
                Created::Done(reply) => match reply.body.get("id").and_then(text) {
                    Some(id) => break format!("{dashboard}:{id}"),
                    None => {
                        return Err(TargetError::Http {
                            call: req.name.to_owned(),
                            status: reply.status,
                            message: "the answer carries no id".into(),
                        });
                    }
                },
                Created::Found(id) => break id,
                Created::Refused(reply) if column_refused(&reply) => {
                    *beyond = Some(beyond.map_or(at.0, |b| b.min(at.0)));
                    match self.move_gadget(g, &key, dashboard, at.0).await? {
                        Some(moved) => at = moved,
                        None => return Ok(Err(layout_refusal(g))),
                    }
                }
                Created::Refused(reply) => return Ok(Err(refusal(&reply))),
            }
        };
        if at != (g.column, g.row) {
            self.state().notices.push(Notice {
                kind: Kind::Gadget,
                source_key: key.clone(),
                code: "gadget-moved",
                message: format!(
                    "Jira Cloud's layout of dashboard {dashboard} has no column {} (its REST API \
                     cannot set a dashboard's layout): the gadget is in column {}, row {}; set \
                     the dashboard's layout in Jira and move it back",
                    g.column + 1,
                    at.0 + 1,
                    at.1 + 1
                ),
            });
        }
        self.claim(Kind::Gadget, &key, &gadget);
        Ok(Ok(gadget))
    }

    /// Where a gadget goes when the layout has no column `beyond` (or any after it): below
    /// the gadgets of the column before it. The new position is journaled before the
    /// gadget is created there, so a crash finds it. `None` past the first column.
    async fn move_gadget(
        &self,
        g: &Gadget,
        key: &str,
        dashboard: &str,
        beyond: u32,
    ) -> Result<Option<(u32, u32)>, TargetError> {
        let Some(column) = beyond.checked_sub(1) else {
            return Ok(None);
        };
        let row = self
            .gadgets_of(dashboard)
            .await?
            .iter()
            .filter(|x| {
                x.pointer("/position/column").and_then(Value::as_u64) == Some(column.into())
            })
            .filter_map(|x| x.pointer("/position/row").and_then(Value::as_u64))
            .max()
            .map_or(0, |r| r + 1);
        let row = u32::try_from(row).unwrap_or(u32::MAX);
        self.journal_locate(Kind::Gadget, key, gadget_locator_at(g, column, row))
            .await?;
        Ok(Some((column, row)))
    }

    /// A dashboard's gadgets as Jira lists them (none for a dashboard it has not).
    async fn gadgets_of(&self, dashboard: &str) -> Result<Vec<Value>, TargetError> {
        let Ok(path) = RestPath::at("/rest/api/3/dashboard").seg(dashboard) else {
            return Ok(Vec::new());
        };
        Ok(self
            .get_json(
                "GET /rest/api/3/dashboard/{id}/gadget",
                path.fixed("gadget").build(),
            )
            .await?
            .and_then(|body| body.get("gadgets").cloned())
            .map(|list| as_list(&list).to_vec())
            .unwrap_or_default())
    }

    /// A gadget by its dashboard, position and what it is, not another record's.
    pub(crate) async fn lookup_gadget(
        &self,
        loc: &Value,
        source: &str,
    ) -> Result<Option<String>, TargetError> {
        let dashboard = s(loc, "dashboard");
        let at = |field: &str| loc.get(field).and_then(Value::as_u64);
        let found = self.gadgets_of(dashboard).await?;
        Ok(found
            .iter()
            .filter(|x| {
                x.pointer("/position/column").and_then(Value::as_u64) == at("column")
                    && x.pointer("/position/row").and_then(Value::as_u64) == at("row")
                    && ["uri", "moduleKey"].iter().all(|f| {
                        x.get(*f).and_then(Value::as_str) == loc.get(*f).and_then(Value::as_str)
                    })
            })
            .filter_map(|x| x.get("id").and_then(text))
            .map(|id| format!("{dashboard}:{id}"))
            .find(|id| !self.claimed_by_other(Kind::Gadget, source, id)))
    }

    /// Gadget settings: each one item property of its gadget, in parallel (a `PUT`
    /// replaces: a repeat is harmless).
    pub(crate) async fn write_preferences(
        &self,
        records: &[Record],
    ) -> Result<Vec<Answer>, TargetError> {
        self.each(records, async |r: &Record| match r {
            Record::GadgetPreference(p) => self.preference(p).await,
            other => Ok(Err(wrong_kind(other, Kind::GadgetPreference))),
        })
        .await
    }

    /// `PUT /rest/api/3/dashboard/{id}/items/{gadget}/properties/{key}` with the value as
    /// a JSON string; answered `<dashboard>:<gadget>:<key>`.
    async fn preference(&self, p: &GadgetPreference) -> Result<Answer, TargetError> {
        let Some((dashboard, gadget)) = p.gadget.split_once(':') else {
            return Ok(Err(item(
                "invalid-reference",
                "gadget: not a gadget as Jira Cloud's ids name it (<dashboard>:<gadget>)",
            )));
        };
        let path = match item_property_path(dashboard, gadget, &p.key) {
            Ok(path) => path,
            Err(e) => return Ok(Err(bad_segment("the gadget id or the setting's key", e))),
        };
        let value = json!(p.value.text());
        if chars(&value) > MAX_PROPERTY_CHARS {
            return Ok(Err(item(
                "too-large",
                format!(
                    "the setting would pass Jira Cloud's limit of {MAX_PROPERTY_CHARS} \
                     characters per property value"
                ),
            )));
        }
        let req = Req::put(
            "PUT /rest/api/3/dashboard/{id}/items/{id}/properties/{key}",
            path,
            value,
        );
        let reply = self.http.call(&req).await?;
        Ok(if reply.ok() {
            Ok(format!("{dashboard}:{gadget}:{}", p.key))
        } else {
            Err(refusal(&reply))
        })
    }

    /// A gadget setting: its item property there, with the record's value.
    pub(crate) async fn lookup_preference(
        &self,
        loc: &Value,
    ) -> Result<Option<String>, TargetError> {
        let key = s(loc, "key");
        let Some((dashboard, gadget)) = s(loc, "gadget").split_once(':') else {
            return Ok(None);
        };
        let Ok(path) = item_property_path(dashboard, gadget, key) else {
            return Ok(None);
        };
        let found = self
            .get_json(
                "GET /rest/api/3/dashboard/{id}/items/{id}/properties/{key}",
                path,
            )
            .await?;
        Ok(found
            .filter(|f| f.get("value") == loc.get("value"))
            .map(|_| format!("{dashboard}:{gadget}:{key}")))
    }
}

/// A gadget no column of the dashboard's layout takes.
fn layout_refusal(g: &Gadget) -> ItemError {
    item(
        "rejected",
        format!(
            "Jira Cloud refused the gadget in every column up to column {} of the dashboard's \
             layout: set the dashboard's layout in Jira and run the migration again",
            g.column + 1
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_clouds_and_anything_else_is_blue() {
        let all: Vec<&str> = (1..=8).map(|n| cloud_color(&format!("color{n}"))).collect();
        assert_eq!(all, COLORS);
        for odd in ["", "color0", "color9", "red", "colour1", "color-1"] {
            assert_eq!(cloud_color(odd), "blue", "{odd:?}");
        }
    }

    #[test]
    fn permissions_match_as_jira_answers_them() {
        let role = permission(&Share::Project {
            project: "10001".into(),
            role: Some("10002".into()),
        });
        let project = permission(&Share::Project {
            project: "10001".into(),
            role: None,
        });
        // A role's share comes back as `project` with a `role` (its id a number).
        let answered_role = json!({ "id": 7, "type": "project",
            "project": { "id": "10001", "key": "X" }, "role": { "id": 10002, "name": "Dev" } });
        assert!(same_permission(&as_request(&answered_role), &role));
        assert!(!same_permission(&as_request(&answered_role), &project));
        let loggedin = json!({ "id": 9, "type": "loggedin" });
        assert_eq!(as_request(&loggedin), permission(&Share::LoggedIn));
        // Groups compare without case; an unknown type is kept as it came, less its id.
        let group =
            json!({ "id": 3, "type": "group", "group": { "name": "Team", "groupId": "g" } });
        assert!(same_permission(
            &as_request(&group),
            &permission(&Share::Group("team".into()))
        ));
        let odd = json!({ "id": 4, "type": "organization", "organization": { "id": "o" } });
        assert_eq!(
            as_request(&odd),
            json!({ "type": "organization", "organization": { "id": "o" } })
        );
        // The first permission not taken, else the first.
        let dashboard = json!({ "sharePermissions": [group, { "id": 5, "type": "group",
            "group": { "name": "team" } }] });
        let team = permission(&Share::Group("TEAM".into()));
        assert_eq!(
            permission_id(&dashboard, &team, |_| false).as_deref(),
            Some("3")
        );
        assert_eq!(
            permission_id(&dashboard, &team, |id| id == "3").as_deref(),
            Some("5")
        );
        assert_eq!(
            permission_id(&dashboard, &team, |_| true).as_deref(),
            Some("3")
        );
        assert!(has_share(&dashboard, &team, false));
        assert!(!has_share(&dashboard, &team, true));
    }

    #[test]
    fn a_gadget_is_its_module_key_else_its_uri() {
        let g = |uri: Option<&str>, key: Option<&str>| Gadget {
            id: "1".into(),
            dashboard: "10001".into(),
            column: 1,
            row: 2,
            uri: uri.map(str::to_owned),
            module_key: key.map(str::to_owned),
            color: "color2".into(),
        };
        assert_eq!(spec(&g(Some("u"), Some("k"))), Some(("moduleKey", "k")));
        assert_eq!(spec(&g(Some("u"), Some(""))), Some(("uri", "u")));
        assert_eq!(spec(&g(None, None)), None);
        assert_eq!(
            gadget_locator(&g(Some("u"), None)),
            json!({ "dashboard": "10001", "column": 1, "row": 2, "uri": "u" })
        );
    }
}
