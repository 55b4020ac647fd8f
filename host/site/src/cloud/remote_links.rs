//! Remote issue links: an issue's links to pages outside Jira.
//!
//! `POST /rest/api/3/issue/{id}/remotelink` with a global id updates the issue's link of
//! that id if it has one: written again, it is the same link. A link without one is
//! looked for first among the issue's links (its address and title, no other record's).

use airlock_model::jira::{Kind, Record, RemoteLink};
use serde_json::{Value, json};

use super::find::s;
use super::http::Req;
use super::write::{Answer, bad_segment, refusal, text};
use super::{Api, RestPath};
use crate::{TargetError, source_key};

/// A link's natural key: its issue (cloud id), global id, address and title.
pub(crate) fn remote_link_locator(l: &RemoteLink) -> Value {
    json!({ "issue": l.issue, "globalId": l.global_id, "url": l.url, "title": l.title })
}

/// The link as Cloud takes it (`RemoteIssueLinkRequest`).
fn body(l: &RemoteLink) -> Value {
    let mut object = json!({ "url": l.url, "title": l.title });
    if let Some(summary) = &l.summary {
        object["summary"] = json!(summary);
    }
    if l.icon_url.is_some() || l.icon_title.is_some() {
        object["icon"] = json!({ "url16x16": l.icon_url, "title": l.icon_title });
    }
    let mut body = json!({ "object": object });
    if let Some(global_id) = &l.global_id {
        body["globalId"] = json!(global_id);
    }
    if let Some(relationship) = &l.relationship {
        body["relationship"] = json!(relationship);
    }
    if l.application_type.is_some() || l.application_name.is_some() {
        body["application"] = json!({ "type": l.application_type, "name": l.application_name });
    }
    body
}

impl Api {
    pub(crate) async fn remote_link(
        &self,
        record: &Record,
        l: &RemoteLink,
    ) -> Result<Answer, TargetError> {
        let path = match RestPath::at("/rest/api/3/issue").seg(&l.issue) {
            Ok(p) => p.fixed("remotelink").build(),
            Err(e) => return Ok(Err(bad_segment("the issue id", e))),
        };
        let key = source_key(record);
        let req = Req::post("POST /rest/api/3/issue/{id}/remotelink", path, body(l));
        if l.global_id.is_none() {
            if let Some(id) = self
                .lookup_remote_link(&remote_link_locator(l), &key)
                .await?
            {
                self.claim(Kind::RemoteLink, &key, &id);
                return Ok(Ok(id));
            }
            return self.create(Kind::RemoteLink, record, req, &["id"]).await;
        }
        // Sent again, a link of a global id is updated, not duplicated.
        let req = req.idempotent();
        let reply = self.http.call(&req).await?;
        if !reply.ok() {
            return Ok(Err(refusal(&reply)));
        }
        let Some(id) = reply.body.get("id").and_then(text) else {
            return Err(TargetError::Http {
                call: req.name.to_owned(),
                status: reply.status,
                message: "the answer carries no id".into(),
            });
        };
        self.claim(Kind::RemoteLink, &key, &id);
        Ok(Ok(id))
    }

    /// The issue's link `loc` names (by global id, else by address and title), unless
    /// another record has it.
    pub(crate) async fn lookup_remote_link(
        &self,
        loc: &Value,
        source: &str,
    ) -> Result<Option<String>, TargetError> {
        let Ok(path) = RestPath::at("/rest/api/3/issue").seg(s(loc, "issue")) else {
            return Ok(None);
        };
        let links = self
            .get_json(
                "GET /rest/api/3/issue/{id}/remotelink",
                path.fixed("remotelink").build(),
            )
            .await?
            .unwrap_or(Value::Null);
        let global_id = loc.get("globalId").and_then(Value::as_str);
        Ok(links
            .as_array()
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .filter(|l| match global_id {
                Some(g) => l.get("globalId").and_then(Value::as_str) == Some(g),
                None => {
                    l.pointer("/object/url").and_then(Value::as_str) == Some(s(loc, "url"))
                        && l.pointer("/object/title").and_then(Value::as_str)
                            == Some(s(loc, "title"))
                }
            })
            .filter_map(|l| l.get("id").and_then(text))
            .find(|id| !self.claimed_by_other(Kind::RemoteLink, source, id)))
    }
}
