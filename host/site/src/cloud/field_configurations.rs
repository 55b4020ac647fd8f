//! Field configurations, their items (how each field behaves in one), field configuration
//! schemes and the scheme each project uses. A configuration and a scheme are created
//! apart from the target's own, under a name the target does not have (`create_renamed`
//! in `schemes.rs`); a project's scheme is set with the other associations
//! (`project_association`).
//!
//! Cloud creates a scheme with its name only: its mappings (issue type → configuration,
//! `default` for the others) follow in `PUT …/fieldconfigurationscheme/{id}/mapping`, which
//! replaces the mappings of the issue types it names. The mappings the scheme must have
//! are journaled with its name, so a scheme found again after a crash (or a lost answer)
//! gets them before it is answered; one whose mappings Cloud then refuses is kept for the
//! write, which answers why (never a second scheme). A mapping to the site's own default
//! configuration maps to Cloud's ("Default Field Configuration", `isDefault`).
//!
//! Items are grouped by configuration and written with `PUT
//! /rest/api/3/fieldconfiguration/{id}/fields`, 100 a call. The PUT replaces an item's
//! settings, so a rerun writes them again; a call Cloud refuses is written again one item
//! at a time, so each item gets its own answer. An item is answered
//! `<configuration id>:<field id>`. Cloud takes two renderers (`text-renderer`,
//! `wiki-renderer`): the server's default text and wiki renderers become them, any other
//! is left to Cloud's default and reported as a notice (`renderer-not-kept`).

use std::collections::HashSet;

use airlock_model::jira::{
    FieldConfigurationItem, FieldConfigurationMapping, FieldConfigurationScheme, Kind, Named,
    Record,
};
use serde_json::{Map, Value, json};

use super::find::{as_list, s};
use super::http::Req;
use super::sharing::{group_by, scatter, wrong_kind};
use super::write::{Answer, bad_segment, refusal, text};
use super::{Api, RestPath, check_segment, item};
use crate::{ItemError, Notice, TargetError, source_key};

/// Jira Cloud's limit on items per `PUT …/fieldconfiguration/{id}/fields`.
const ITEMS_PER_CALL: usize = 100;

/// The issue type Cloud's scheme mappings give the issue types not mapped otherwise.
const DEFAULT_ISSUE_TYPE: &str = "default";

/// A source renderer as Jira Cloud names it, if Cloud has it.
fn cloud_renderer(renderer: &str) -> Option<&'static str> {
    match renderer {
        "jira-text-renderer" | "text-renderer" => Some("text-renderer"),
        "atlassian-wiki-renderer" | "wiki-renderer" => Some("wiki-renderer"),
        _ => None,
    }
}

/// An item as `PUT …/fields` takes it.
fn item_json(i: &FieldConfigurationItem) -> Value {
    let mut v = json!({
        "id": i.field.key(),
        "description": i.description,
        "isHidden": i.hidden,
        "isRequired": i.required,
    });
    if let Some(renderer) = cloud_renderer(&i.renderer) {
        v["renderer"] = json!(renderer);
    }
    v
}

/// `/rest/api/3/fieldconfiguration/{id}/fields`.
fn fields_path(configuration: &str) -> Result<String, ItemError> {
    RestPath::at("/rest/api/3/fieldconfiguration")
        .seg(configuration)
        .map(|p| p.fixed("fields").build())
        .map_err(|e| bad_segment("the field configuration id", e))
}

/// The mappings a scheme must have, as Cloud names them: issue type (`default` for the
/// others) → configuration (`None`: the site's default, Cloud's own).
fn wanted_mappings(mappings: &[FieldConfigurationMapping]) -> Value {
    Value::Array(
        mappings
            .iter()
            .map(|m| {
                json!({
                    "issueTypeId": m.issue_type.as_deref().unwrap_or(DEFAULT_ISSUE_TYPE),
                    "fieldConfigurationId": m.configuration,
                })
            })
            .collect(),
    )
}

impl Api {
    /// `POST /rest/api/3/fieldconfiguration` (renamed where the target has the name).
    pub(crate) async fn field_configuration(
        &self,
        record: &Record,
        c: &Named,
    ) -> Result<Answer, TargetError> {
        self.create_renamed(record, &c.name, &c.description, Map::new())
            .await
    }

    /// `POST /rest/api/3/fieldconfigurationscheme` (renamed where the target has the name,
    /// the mappings journaled with it), then its mappings.
    pub(crate) async fn field_configuration_scheme(
        &self,
        record: &Record,
        s: &FieldConfigurationScheme,
    ) -> Result<Answer, TargetError> {
        let kind = Kind::FieldConfigurationScheme;
        let key = source_key(record);
        let wanted = wanted_mappings(&s.mappings);
        // Created or found before, its mappings refused then: take it, never another (its
        // natural key journaled again for this attempt's entry, with the mappings it wants
        // now).
        let found = self.state().unsettled_schemes.remove(&key);
        let (id, loc) = match found {
            Some((id, mut loc)) => {
                loc["mappings"] = wanted.clone();
                self.journal_locate(kind, &key, loc.clone()).await?;
                (id, loc)
            }
            None => {
                let mut note = Map::new();
                note.insert("mappings".into(), wanted.clone());
                match self
                    .create_renamed_noting(record, &s.name, &s.description, Map::new(), note)
                    .await?
                {
                    Ok(created) => created,
                    Err(refused) => return Ok(Err(refused)),
                }
            }
        };
        if let Err(e) = self.settle_mappings(&id, &wanted).await? {
            // Not answered, so not journaled as written: a retry takes it again.
            self.state().unsettled_schemes.insert(key, (id, loc));
            return Ok(Err(e));
        }
        self.claim(kind, &key, &id);
        Ok(Ok(id))
    }

    /// The scheme of the name journaled before its create (unless another record has it),
    /// given the mappings journaled with it. One whose mappings Cloud refuses is not
    /// answered, but kept for the write to take and answer why.
    pub(crate) async fn lookup_field_configuration_scheme(
        &self,
        loc: &Value,
        source: &str,
    ) -> Result<Option<String>, TargetError> {
        let Some(id) = self
            .lookup_scheme(Kind::FieldConfigurationScheme, loc, source)
            .await?
        else {
            return Ok(None);
        };
        let wanted = loc.get("mappings").cloned().unwrap_or(Value::Null);
        if self.settle_mappings(&id, &wanted).await?.is_err() {
            self.state()
                .unsettled_schemes
                .insert(source.to_owned(), (id, loc.clone()));
            return Ok(None);
        }
        Ok(Some(id))
    }

    /// Gives scheme `scheme` the mappings of `wanted` it has not (`PUT …/mapping`, which
    /// replaces those issue types' mappings).
    async fn settle_mappings(
        &self,
        scheme: &str,
        wanted: &Value,
    ) -> Result<Result<(), ItemError>, TargetError> {
        let path = match RestPath::at("/rest/api/3/fieldconfigurationscheme").seg(scheme) {
            Ok(p) => p.fixed("mapping").build(),
            Err(e) => return Ok(Err(bad_segment("the field configuration scheme id", e))),
        };
        let mut default = None;
        let mut mappings = Vec::new();
        for m in as_list(wanted) {
            let configuration = match m.get("fieldConfigurationId").and_then(text) {
                Some(id) => id,
                None => match &default {
                    Some(id) => String::clone(id),
                    None => {
                        let Some(id) = self.default_field_configuration().await? else {
                            return Ok(Err(item(
                                "invalid-reference",
                                "fieldConfigurationId: Jira Cloud lists no default field \
                                 configuration",
                            )));
                        };
                        default = Some(id.clone());
                        id
                    }
                },
            };
            mappings.push((s(m, "issueTypeId").to_owned(), configuration));
        }
        let has = self.scheme_mappings(scheme).await?;
        let missing: Vec<Value> = mappings
            .iter()
            .filter(|&m| !has.contains(m))
            .map(|(issue_type, configuration)| {
                json!({ "issueTypeId": issue_type, "fieldConfigurationId": configuration })
            })
            .collect();
        if missing.is_empty() {
            return Ok(Ok(()));
        }
        let req = Req::put(
            "PUT /rest/api/3/fieldconfigurationscheme/{id}/mapping",
            path,
            json!({ "mappings": missing }),
        );
        let reply = self.http.call(&req).await?;
        Ok(if reply.ok() {
            Ok(())
        } else {
            Err(refusal(&reply))
        })
    }

    /// A scheme's mappings (`GET …/fieldconfigurationscheme/mapping?fieldConfigurationSchemeId=`):
    /// (issue type or `default`, configuration).
    async fn scheme_mappings(
        &self,
        scheme: &str,
    ) -> Result<HashSet<(String, String)>, TargetError> {
        let path = RestPath::at("/rest/api/3/fieldconfigurationscheme/mapping")
            .query("fieldConfigurationSchemeId", scheme)
            .build();
        Ok(self
            .paged("GET /rest/api/3/fieldconfigurationscheme/mapping", &path)
            .await?
            .iter()
            .filter(|m| {
                m.get("fieldConfigurationSchemeId")
                    .and_then(text)
                    .as_deref()
                    == Some(scheme)
            })
            .filter_map(|m| {
                Some((
                    m.get("issueTypeId").and_then(text)?,
                    m.get("fieldConfigurationId").and_then(text)?,
                ))
            })
            .collect())
    }

    /// The id of Jira Cloud's default field configuration (`isDefault` in the list), once
    /// asked.
    async fn default_field_configuration(&self) -> Result<Option<String>, TargetError> {
        if let Some(id) = self.state().default_field_configuration.clone() {
            return Ok(Some(id));
        }
        let id = self
            .paged(
                "GET /rest/api/3/fieldconfiguration",
                "/rest/api/3/fieldconfiguration",
            )
            .await?
            .iter()
            .find(|c| c.get("isDefault").and_then(Value::as_bool) == Some(true))
            .and_then(|c| c.get("id").and_then(text));
        if let Some(id) = &id {
            self.state().default_field_configuration = Some(id.clone());
        }
        Ok(id)
    }

    /// Items grouped by configuration, each group's `PUT` 100 items a call; groups in
    /// parallel.
    pub(crate) async fn write_field_configuration_items(
        &self,
        records: &[Record],
    ) -> Result<Vec<Answer>, TargetError> {
        let mut out: Vec<Option<Answer>> = vec![None; records.len()];
        let groups = group_by(records, &mut out, |r| match r {
            Record::FieldConfigurationItem(i) => check_segment(&i.configuration)
                .map(|()| i.configuration.clone())
                .map_err(|e| bad_segment("the field configuration id", e)),
            other => Err(wrong_kind(other, Kind::FieldConfigurationItem)),
        });
        let results = self
            .each(
                &groups,
                async |(configuration, members): &(String, Vec<usize>)| {
                    let items: Vec<&FieldConfigurationItem> = members
                        .iter()
                        .filter_map(|&i| match &records[i] {
                            Record::FieldConfigurationItem(x) => Some(x),
                            _ => None,
                        })
                        .collect();
                    let mut answers = Vec::with_capacity(items.len());
                    for chunk in items.chunks(ITEMS_PER_CALL) {
                        answers.extend(self.put_items(configuration, chunk).await?);
                    }
                    Ok(answers)
                },
            )
            .await?;
        let answers = scatter(&groups, results, out);
        // What Cloud could not take as the source has it, among the items written.
        let mut state = self.state();
        for (r, a) in records.iter().zip(&answers) {
            if let (Record::FieldConfigurationItem(i), Ok(_)) = (r, a)
                && !i.renderer.is_empty()
                && cloud_renderer(&i.renderer).is_none()
            {
                state.notices.push(Notice {
                    kind: Kind::FieldConfigurationItem,
                    source_key: source_key(r),
                    code: "renderer-not-kept",
                    message: format!(
                        "Jira Cloud has no renderer {} (its field configurations take the \
                         text and wiki renderers only): field {} keeps Cloud's default \
                         renderer in field configuration {}",
                        i.renderer,
                        i.field.key(),
                        i.configuration
                    ),
                });
            }
        }
        Ok(answers)
    }

    /// One `PUT …/fieldconfiguration/{id}/fields` of up to 100 items; if Cloud refuses it,
    /// one call per item, so that only the items it refuses fail.
    async fn put_items(
        &self,
        configuration: &str,
        items: &[&FieldConfigurationItem],
    ) -> Result<Vec<Answer>, TargetError> {
        let path = match fields_path(configuration) {
            Ok(path) => path,
            Err(e) => return Ok(vec![Err(e); items.len()]),
        };
        let put = async |chunk: &[&FieldConfigurationItem]| {
            let body: Vec<Value> = chunk.iter().map(|i| item_json(i)).collect();
            let req = Req::put(
                "PUT /rest/api/3/fieldconfiguration/{id}/fields",
                path.clone(),
                json!({ "fieldConfigurationItems": body }),
            );
            self.http.call(&req).await
        };
        let id = |i: &FieldConfigurationItem| format!("{configuration}:{}", i.field.key());
        let reply = put(items).await?;
        if reply.ok() {
            return Ok(items.iter().map(|i| Ok(id(i))).collect());
        }
        if items.len() == 1 || reply.status == 404 {
            let refused = refusal(&reply);
            return Ok(vec![Err(refused); items.len()]);
        }
        let mut answers = Vec::with_capacity(items.len());
        for &i in items {
            let reply = put(&[i]).await?;
            answers.push(if reply.ok() {
                Ok(id(i))
            } else {
                Err(refusal(&reply))
            });
        }
        Ok(answers)
    }
}
