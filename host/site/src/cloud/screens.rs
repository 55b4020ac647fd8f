//! Screens, their tabs and fields, screen schemes and issue type screen schemes. A screen
//! and both kinds of scheme are created apart from the target's own, under a name the
//! target does not have (`create_renamed` in `schemes.rs`); a project's issue type screen
//! scheme is set with the other associations (`project_association`).
//!
//! Jira Cloud gives every new screen one tab, "Field Tab". The first of a screen's tabs the
//! migration writes (a screen's tabs go one after another, in source order) takes it over,
//! renamed to its own name, rather than leaving an extra empty tab; only on a screen the
//! migration created (a target's own screen keeps its tabs). A tab's natural key is its
//! screen and name: a rerun finds a tab renamed or created before a crash, and one taken
//! over but not renamed yet is taken over again. A tab is answered `<screen id>:<tab id>`,
//! as its fields' calls name both. Fields are appended to their tab in source order, one
//! after another (Cloud keeps the order they were added in); a field the tab has already
//! (a rerun, an answer lost) is not added again: fields are written again rather than
//! looked up, answered `""`.

use std::collections::HashSet;

use airlock_model::jira::{
    IssueTypeScreenScheme, Kind, Named, Record, ScreenField, ScreenScheme, ScreenTab,
};
use serde_json::{Map, Value, json};

use super::find::{as_list, s, same};
use super::http::{Created, Req};
use super::sharing::{group_by, scatter, wrong_kind};
use super::write::{Answer, bad_segment, number_or_text, refusal, text};
use super::{Api, RestPath, check_segment, item};
use crate::{TargetError, source_key};

/// The tab Jira Cloud gives every new screen.
const DEFAULT_TAB: &str = "Field Tab";

/// A tab's natural key: its screen (cloud id) and name.
pub(crate) fn tab_locator(t: &ScreenTab) -> Value {
    json!({ "screen": t.screen, "name": t.name })
}

/// A tab's cloud id (`<screen id>:<tab id>`) as its two path segments, both checked.
fn tab_segments(tab: &str) -> Result<(&str, &str), crate::ItemError> {
    let Some((screen, tab)) = tab.split_once(':') else {
        return Err(item(
            "invalid-reference",
            "tab: not a screen tab's id as Jira Cloud's client answers it (<screen>:<tab>)",
        ));
    };
    check_segment(screen).map_err(|e| bad_segment("the screen id", e))?;
    check_segment(tab).map_err(|e| bad_segment("the tab id", e))?;
    Ok((screen, tab))
}

/// `/rest/api/3/screens/{screen}/tabs`.
fn tabs_path(screen: &str) -> Result<RestPath, TargetError> {
    Ok(RestPath::at("/rest/api/3/screens")
        .seg(screen)
        .map_err(|e| TargetError::Invalid(format!("a screen id {e}")))?
        .fixed("tabs"))
}

impl Api {
    /// `POST /rest/api/3/screens` (Cloud adds its "Field Tab").
    pub(crate) async fn screen(&self, record: &Record, s: &Named) -> Result<Answer, TargetError> {
        self.create_renamed(record, &s.name, &s.description, Map::new())
            .await
    }

    /// `POST /rest/api/3/screenscheme` with its screen per operation.
    pub(crate) async fn screen_scheme(
        &self,
        record: &Record,
        s: &ScreenScheme,
    ) -> Result<Answer, TargetError> {
        let screens: Map<String, Value> = s
            .screens
            .iter()
            .map(|(operation, screen)| (operation.as_str().to_owned(), number_or_text(screen)))
            .collect();
        let mut fields = Map::new();
        fields.insert("screens".into(), Value::Object(screens));
        self.create_renamed(record, &s.name, &s.description, fields)
            .await
    }

    /// `POST /rest/api/3/issuetypescreenscheme` with its screen scheme per issue type
    /// (`default` for the issue types not mapped otherwise).
    pub(crate) async fn issue_type_screen_scheme(
        &self,
        record: &Record,
        s: &IssueTypeScreenScheme,
    ) -> Result<Answer, TargetError> {
        let mappings: Vec<Value> = s
            .mappings
            .iter()
            .map(|m| {
                json!({
                    "issueTypeId": m.issue_type.as_deref().unwrap_or("default"),
                    "screenSchemeId": m.screen_scheme,
                })
            })
            .collect();
        let mut fields = Map::new();
        fields.insert("issueTypeMappings".into(), Value::Array(mappings));
        self.create_renamed(record, &s.name, &s.description, fields)
            .await
    }

    /// Tabs grouped by screen: a screen's one after another in source order (the first
    /// takes over the tab Cloud gave the screen); screens in parallel.
    pub(crate) async fn write_screen_tabs(
        &self,
        records: &[Record],
    ) -> Result<Vec<Answer>, TargetError> {
        let mut out: Vec<Option<Answer>> = vec![None; records.len()];
        let mut groups = group_by(records, &mut out, |r| match r {
            Record::ScreenTab(t) => check_segment(&t.screen)
                .map(|()| t.screen.clone())
                .map_err(|e| bad_segment("the screen id", e)),
            other => Err(wrong_kind(other, Kind::ScreenTab)),
        });
        for (_, members) in &mut groups {
            members.sort_by_key(|&i| match &records[i] {
                Record::ScreenTab(t) => t.position,
                _ => i64::MAX,
            });
        }
        // Which tabs are taken, and which screens the migration made, are read from the
        // whole journals: earlier runs' entries too.
        self.load_journal(Kind::ScreenTab).await?;
        self.load_journal(Kind::Screen).await?;
        let results = self
            .each(&groups, async |(screen, members): &(String, Vec<usize>)| {
                let mut answers = Vec::with_capacity(members.len());
                for &i in members {
                    let Record::ScreenTab(t) = &records[i] else {
                        unreachable!("only tabs are grouped");
                    };
                    answers.push(self.screen_tab(&records[i], t, screen).await?);
                }
                Ok(answers)
            })
            .await?;
        Ok(scatter(&groups, results, out))
    }

    /// One tab: the screen's tab of its name if it has one no other record took; else the
    /// tab Cloud gave a screen the migration created, renamed (`PUT …/tabs/{id}`); else
    /// `POST /rest/api/3/screens/{id}/tabs`.
    async fn screen_tab(
        &self,
        record: &Record,
        t: &ScreenTab,
        screen: &str,
    ) -> Result<Answer, TargetError> {
        let key = source_key(record);
        let Some(tabs) = self.tabs_of(screen).await? else {
            return Ok(Err(item(
                "invalid-reference",
                "screen: the site has no screen with this id",
            )));
        };
        if let Some(id) = self.unclaimed_tab(&tabs, screen, &t.name, &key) {
            self.claim(Kind::ScreenTab, &key, &id);
            return Ok(Ok(id));
        }
        let base = tabs_path(screen)?;
        if self
            .journaled_locator(Kind::Screen, screen)
            .await?
            .is_some()
            && let Some(id) = self.unclaimed_tab(&tabs, screen, DEFAULT_TAB, &key)
        {
            let tab = id.split_once(':').map_or("", |(_, tab)| tab);
            let path = match base.seg(tab) {
                Ok(path) => path.build(),
                Err(e) => return Ok(Err(bad_segment("the tab id Jira answered", e))),
            };
            let req = Req::put(
                "PUT /rest/api/3/screens/{id}/tabs/{id}",
                path,
                json!({ "name": t.name }),
            );
            let reply = self.http.call(&req).await?;
            if !reply.ok() {
                return Ok(Err(refusal(&reply)));
            }
            self.claim(Kind::ScreenTab, &key, &id);
            return Ok(Ok(id));
        }
        let req = Req::post(
            "POST /rest/api/3/screens/{id}/tabs",
            base.build(),
            json!({ "name": t.name }),
        );
        let loc = tab_locator(t);
        let created = self
            .http
            .create(&req, async || self.lookup_screen_tab(&loc, &key).await)
            .await?;
        let id = match created {
            Created::Done(reply) => match reply.body.get("id").and_then(text) {
                Some(tab) => format!("{screen}:{tab}"),
                None => {
                    return Err(TargetError::Http {
                        call: req.name.to_owned(),
                        status: reply.status,
                        message: "the answer carries no id".into(),
                    });
                }
            },
            Created::Found(id) => id,
            Created::Refused(reply) => return Ok(Err(refusal(&reply))),
        };
        self.claim(Kind::ScreenTab, &key, &id);
        Ok(Ok(id))
    }

    /// A screen's tabs (`GET /rest/api/3/screens/{id}/tabs`), or `None` if the site has no
    /// such screen.
    async fn tabs_of(&self, screen: &str) -> Result<Option<Vec<Value>>, TargetError> {
        let Ok(path) = tabs_path(screen) else {
            return Ok(None);
        };
        Ok(self
            .get_json("GET /rest/api/3/screens/{id}/tabs", path.build())
            .await?
            .map(|list| as_list(&list).to_vec()))
    }

    /// The first of `tabs` named `name` (any case) that no other record than `source`
    /// took, as `<screen>:<tab>`.
    fn unclaimed_tab(
        &self,
        tabs: &[Value],
        screen: &str,
        name: &str,
        source: &str,
    ) -> Option<String> {
        tabs.iter()
            .filter(|t| {
                t.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| same(n, name))
            })
            .filter_map(|t| t.get("id").and_then(text))
            .map(|tab| format!("{screen}:{tab}"))
            .find(|id| !self.claimed_by_other(Kind::ScreenTab, source, id))
    }

    /// A tab by its screen and name, unless another record has it.
    pub(crate) async fn lookup_screen_tab(
        &self,
        loc: &Value,
        source: &str,
    ) -> Result<Option<String>, TargetError> {
        let screen = s(loc, "screen");
        let Some(tabs) = self.tabs_of(screen).await? else {
            return Ok(None);
        };
        Ok(self.unclaimed_tab(&tabs, screen, s(loc, "name"), source))
    }

    /// Fields grouped by tab: a tab's one after another in source order; tabs in
    /// parallel.
    pub(crate) async fn write_screen_fields(
        &self,
        records: &[Record],
    ) -> Result<Vec<Answer>, TargetError> {
        let mut out: Vec<Option<Answer>> = vec![None; records.len()];
        let mut groups = group_by(records, &mut out, |r| match r {
            Record::ScreenField(f) => tab_segments(&f.tab).map(|_| f.tab.clone()),
            other => Err(wrong_kind(other, Kind::ScreenField)),
        });
        for (_, members) in &mut groups {
            members.sort_by_key(|&i| match &records[i] {
                Record::ScreenField(f) => f.position,
                _ => i64::MAX,
            });
        }
        let results = self
            .each(&groups, async |(tab, members): &(String, Vec<usize>)| {
                let fields: Vec<&ScreenField> = members
                    .iter()
                    .filter_map(|&i| match &records[i] {
                        Record::ScreenField(f) => Some(f),
                        _ => None,
                    })
                    .collect();
                self.fill_tab(tab, &fields).await
            })
            .await?;
        Ok(scatter(&groups, results, out))
    }

    /// Adds `fields` to the tab in their order (`POST …/tabs/{id}/fields`), but those the
    /// tab has already.
    async fn fill_tab(
        &self,
        tab: &str,
        fields: &[&ScreenField],
    ) -> Result<Vec<Answer>, TargetError> {
        let (screen, tab_id) = match tab_segments(tab) {
            Ok(ids) => ids,
            Err(e) => return Ok(vec![Err(e); fields.len()]),
        };
        let path = tabs_path(screen)?
            .seg(tab_id)
            .map_err(|e| TargetError::Invalid(format!("a tab id {e}")))?
            .fixed("fields")
            .build();
        let Some(mut on_tab) = self.tab_fields(&path).await? else {
            return Ok(vec![
                Err(item(
                    "invalid-reference",
                    "tab: the site has no screen tab with this id",
                ));
                fields.len()
            ]);
        };
        let mut answers = Vec::with_capacity(fields.len());
        for f in fields {
            let id = f.field.key();
            if on_tab.contains(&id) {
                answers.push(Ok(String::new()));
                continue;
            }
            let req = Req::post(
                "POST /rest/api/3/screens/{id}/tabs/{id}/fields",
                path.clone(),
                json!({ "fieldId": id }),
            );
            // An add that may have been applied: the tab says whether it has the field.
            let created = self
                .http
                .create(&req, async || {
                    Ok(self
                        .tab_fields(&path)
                        .await?
                        .filter(|listed| listed.contains(&id))
                        .map(|_| String::new()))
                })
                .await?;
            answers.push(match created {
                Created::Done(_) | Created::Found(_) => {
                    on_tab.insert(id);
                    Ok(String::new())
                }
                Created::Refused(reply) => Err(refusal(&reply)),
            });
        }
        Ok(answers)
    }

    /// The ids of a tab's fields (`GET …/tabs/{id}/fields`), or `None` if the site has no
    /// such tab.
    async fn tab_fields(&self, path: &str) -> Result<Option<HashSet<String>>, TargetError> {
        Ok(self
            .get_json(
                "GET /rest/api/3/screens/{id}/tabs/{id}/fields",
                path.to_owned(),
            )
            .await?
            .map(|list| {
                as_list(&list)
                    .iter()
                    .filter_map(|f| f.get("id").and_then(text))
                    .collect()
            }))
    }
}
