//! Issue type schemes, and the one each project uses (set with the other associations,
//! `project_association` in `schemes.rs`).
//!
//! A scheme is created apart from the target's own, under a name the target does not have
//! (`create_renamed` in `schemes.rs`), with its issue types in order and its default in
//! one call (`POST /rest/api/3/issuetypescheme`), so a scheme found again by the name
//! journaled is complete. The source's default scheme (`global`) is not created: every
//! Jira Cloud site has its own ("Default Issue Type Scheme", `isDefault`), which holds
//! every issue type of the site and is what projects without a scheme use. The record
//! maps onto it, once the client has checked that it holds each issue type the source's
//! lists (Cloud adds every new issue type to it); its natural key is that flag and those
//! issue types, so a rerun checks again.

use std::collections::HashSet;

use airlock_model::jira::{IssueTypeScheme, Kind, Record};
use serde_json::{Map, Value, json};

use super::find::as_list;
use super::write::{Answer, text};
use super::{Api, RestPath, item};
use crate::{ItemError, TargetError, source_key};

/// An issue type scheme's natural key: none until the write chose a name (journaled then),
/// but for the source's default, which is the target's default holding its issue types.
pub(crate) fn issue_type_scheme_locator(s: &IssueTypeScheme) -> Value {
    if s.global {
        json!({ "global": true, "issueTypes": s.issue_types })
    } else {
        json!({})
    }
}

impl Api {
    /// `POST /rest/api/3/issuetypescheme` (renamed where the target has the name); the
    /// source's default maps onto Cloud's.
    pub(crate) async fn issue_type_scheme(
        &self,
        record: &Record,
        s: &IssueTypeScheme,
    ) -> Result<Answer, TargetError> {
        let key = source_key(record);
        if s.global {
            let answer = self.target_default_scheme(&s.issue_types, &key).await?;
            if let Ok(id) = &answer {
                self.claim(Kind::IssueTypeScheme, &key, id);
            }
            return Ok(answer);
        }
        let mut fields = Map::new();
        fields.insert("issueTypeIds".into(), json!(s.issue_types));
        if let Some(default) = &s.default_issue_type {
            fields.insert("defaultIssueTypeId".into(), json!(default));
        }
        self.create_renamed(record, &s.name, &s.description, fields)
            .await
    }

    /// The scheme of the name journaled before its create, or (the source's default)
    /// Cloud's default scheme if it holds the issue types journaled, unless another record
    /// has it.
    pub(crate) async fn lookup_issue_type_scheme(
        &self,
        loc: &Value,
        source: &str,
    ) -> Result<Option<String>, TargetError> {
        if loc.get("global").and_then(Value::as_bool) != Some(true) {
            return self.lookup_scheme(Kind::IssueTypeScheme, loc, source).await;
        }
        let issue_types: Vec<String> = (loc.get("issueTypes").map_or(&[][..], as_list).iter())
            .filter_map(text)
            .collect();
        Ok(self.target_default_scheme(&issue_types, source).await?.ok())
    }

    /// Cloud's default issue type scheme, if it holds each of `issue_types` and no other
    /// record than `source` took it; else why not.
    async fn target_default_scheme(
        &self,
        issue_types: &[String],
        source: &str,
    ) -> Result<Result<String, ItemError>, TargetError> {
        let Some(id) = self.default_issue_type_scheme().await? else {
            return Ok(Err(item(
                "invalid-reference",
                "Jira Cloud lists no default issue type scheme",
            )));
        };
        if self.claimed_by_other(Kind::IssueTypeScheme, source, &id) {
            return Ok(Err(item(
                "duplicate-key",
                "the target's default issue type scheme is another default scheme's already",
            )));
        }
        let held = self.scheme_issue_types(&id).await?;
        let missing = issue_types.iter().filter(|t| !held.contains(*t)).count();
        if missing > 0 {
            return Ok(Err(item(
                "invalid-reference",
                format!(
                    "issueTypeIds: Jira Cloud's default issue type scheme lacks {missing} of \
                     the scheme's issue types (Cloud gives it every issue type of the site)"
                ),
            )));
        }
        Ok(Ok(id))
    }

    /// The id of Jira Cloud's default issue type scheme (`isDefault` in the list), once
    /// asked.
    async fn default_issue_type_scheme(&self) -> Result<Option<String>, TargetError> {
        if let Some(id) = self.state().default_issue_type_scheme.clone() {
            return Ok(Some(id));
        }
        let id = self
            .paged(
                "GET /rest/api/3/issuetypescheme",
                "/rest/api/3/issuetypescheme",
            )
            .await?
            .iter()
            .find(|c| c.get("isDefault").and_then(Value::as_bool) == Some(true))
            .and_then(|c| c.get("id").and_then(text));
        if let Some(id) = &id {
            self.state().default_issue_type_scheme = Some(id.clone());
        }
        Ok(id)
    }

    /// The issue types of a scheme (`GET …/issuetypescheme/mapping?issueTypeSchemeId=`).
    async fn scheme_issue_types(&self, scheme: &str) -> Result<HashSet<String>, TargetError> {
        let path = RestPath::at("/rest/api/3/issuetypescheme/mapping")
            .query("issueTypeSchemeId", scheme)
            .build();
        Ok(self
            .paged("GET /rest/api/3/issuetypescheme/mapping", &path)
            .await?
            .iter()
            .filter(|m| m.get("issueTypeSchemeId").and_then(text).as_deref() == Some(scheme))
            .filter_map(|m| m.get("issueTypeId").and_then(text))
            .collect())
    }
}
