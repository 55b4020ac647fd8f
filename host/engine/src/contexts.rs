//! Custom fields' contexts, assembled from the four tables Jira keeps them in.
//!
//! A context is a `FieldConfigScheme` of a custom field; `ConfigurationContext` rows say
//! where it applies (a project each, or none: everywhere), `FieldConfigSchemeIssueType`
//! rows for which issue types (one each, or none: all) and through which
//! `FieldConfiguration`. An option names that configuration (`customfieldconfig`), not
//! its context. The rows come in any order, so they are held (they are few: a row per
//! context, project and issue type) and the contexts and options staged at the end.

use airlock_backup::Entity;
use airlock_model::Severity;
use airlock_model::jira::{CustomFieldOption, FieldContext, Kind, Record, Target};
use rustc_hash::{FxHashMap, FxHashSet};

use crate::extract::SourceIndex;
use crate::findings::Finding;
use crate::integrity::OrphanRow;

const FILE: &str = "entities.xml";
const SCHEME: &str = "FieldConfigScheme";
const PLACE: &str = "ConfigurationContext";
const ISSUE_TYPE: &str = "FieldConfigSchemeIssueType";
const OPTION: &str = "CustomFieldOption";

/// The custom field id of a `customfield_10001` reference: other fields' schemes
/// (issue type schemes name `issuetype`) are not custom fields' contexts.
pub(crate) fn custom_field_id(reference: &str) -> Option<&str> {
    reference
        .strip_prefix("customfield_")
        .filter(|id| !id.is_empty())
}

/// Where a row was: enough for a finding or to stage its record.
#[derive(Clone)]
pub(crate) struct At {
    pub line: u64,
    pub id: String,
}

struct Place {
    at: At,
    scheme: String,
    /// None: the global context.
    project: Option<String>,
}

struct ForIssueType {
    at: At,
    scheme: String,
    /// None: every issue type.
    issue_type: Option<String>,
    config: Option<String>,
}

/// The rows held until the end of entities.xml.
#[derive(Default)]
pub(crate) struct ContextRows {
    schemes: Vec<(At, FieldContext)>,
    places: Vec<Place>,
    issue_types: Vec<ForIssueType>,
    options: Vec<(At, CustomFieldOption, Option<String>)>,
}

/// What the held rows become.
#[derive(Default)]
pub(crate) struct Assembled {
    /// Records to stage, with the row each comes from (element name, line): the contexts,
    /// then the options.
    pub records: Vec<(&'static str, u64, Record)>,
    /// Rows left out because what they name is not in the backup (or not migrated).
    pub orphans: Vec<OrphanRow>,
    pub findings: Vec<Finding>,
    /// Rows taken (into a record, or as orphans), per element.
    pub taken: Vec<&'static str>,
    /// Rows taken but not migrated, per element: the orphans', and an unused context's
    /// (with a finding).
    pub skipped: Vec<&'static str>,
}

impl ContextRows {
    /// Takes a row of one of the three tables. A row that is not a custom field's (an
    /// issue type scheme's, say) is not held: it is left to the ledger.
    pub(crate) fn hold(&mut self, entity: &Entity) {
        let get = |f: &str| entity.get(f).filter(|v| !v.is_empty()).map(str::to_owned);
        let at = At {
            line: entity.line,
            id: get("id").unwrap_or_default(),
        };
        match entity.name.as_str() {
            SCHEME => {
                let Some(field) = entity.get("fieldid").and_then(custom_field_id) else {
                    return;
                };
                let context = FieldContext {
                    id: at.id.clone(),
                    field: field.to_owned(),
                    name: get("name").unwrap_or_default(),
                    description: get("description").unwrap_or_default(),
                    projects: Vec::new(),
                    issue_types: Vec::new(),
                };
                self.schemes.push((at, context));
            }
            PLACE => {
                if entity.get("key").and_then(custom_field_id).is_none() {
                    return;
                }
                let Some(scheme) = get("fieldconfigscheme") else {
                    return;
                };
                self.places.push(Place {
                    at,
                    scheme,
                    project: get("project"),
                });
            }
            ISSUE_TYPE => {
                // Which field it is for shows only through its scheme: decided at the end.
                let Some(scheme) = get("fieldconfigscheme") else {
                    return;
                };
                self.issue_types.push(ForIssueType {
                    at,
                    scheme,
                    issue_type: get("issuetype"),
                    config: get("fieldconfiguration"),
                });
            }
            _ => {}
        }
    }

    /// Holds an option until its configuration's context is known.
    pub(crate) fn hold_option(
        &mut self,
        entity: &Entity,
        option: CustomFieldOption,
        config: Option<String>,
    ) {
        let at = At {
            line: entity.line,
            id: option.id.clone(),
        };
        self.options.push((at, option, config));
    }

    /// The contexts and options, once every row was read: `index` knows every project
    /// and issue type of the backup.
    pub(crate) fn assemble(self, index: &SourceIndex) -> Assembled {
        let mut out = Assembled::default();
        let custom: FxHashSet<&str> = self.schemes.iter().map(|(at, _)| at.id.as_str()).collect();
        let mut places: FxHashMap<&str, Vec<&Place>> = FxHashMap::default();
        for place in &self.places {
            places.entry(place.scheme.as_str()).or_default().push(place);
        }
        let mut issue_types: FxHashMap<&str, Vec<&ForIssueType>> = FxHashMap::default();
        // A configuration belongs to the context whose issue types go through it.
        let mut config_scheme: FxHashMap<&str, &str> = FxHashMap::default();
        for row in &self.issue_types {
            if !custom.contains(row.scheme.as_str()) {
                continue;
            }
            issue_types
                .entry(row.scheme.as_str())
                .or_default()
                .push(row);
            if let Some(config) = &row.config {
                config_scheme
                    .entry(config.as_str())
                    .or_insert(row.scheme.as_str());
            }
        }
        let mut staged: FxHashSet<&str> = FxHashSet::default();
        for (at, context) in &self.schemes {
            let mut context = context.clone();
            // This context's rows, skipped all together if it applies nowhere.
            let mut rows_of_it = vec![SCHEME];
            let mut global = false;
            let mut any_place = false;
            for place in places.get(at.id.as_str()).into_iter().flatten() {
                any_place = true;
                match &place.project {
                    None => global = true,
                    Some(p) if index.contains(Target::Kind(Kind::Project), p) => {
                        context.projects.push(p.clone())
                    }
                    Some(p) => {
                        out.orphan(PLACE, &place.at, "project", format!("Project {p}"));
                        continue;
                    }
                }
                rows_of_it.push(PLACE);
            }
            let mut every_type = false;
            let rows = issue_types
                .get(at.id.as_str())
                .map_or(&[][..], Vec::as_slice);
            for row in rows {
                match &row.issue_type {
                    None => every_type = true,
                    Some(t) if index.contains(Target::Kind(Kind::IssueType), t) => {
                        context.issue_types.push(t.clone())
                    }
                    Some(t) => {
                        out.orphan(ISSUE_TYPE, &row.at, "issuetype", format!("IssueType {t}"));
                        continue;
                    }
                }
                rows_of_it.push(ISSUE_TYPE);
            }
            // A context with no issue type row is taken as Jira creates them: for all.
            every_type |= rows.is_empty();
            let nowhere = if !any_place {
                Some("no ConfigurationContext row says where it applies")
            } else if !global && context.projects.is_empty() {
                Some("every project it applied to is gone from the backup")
            } else if !every_type && context.issue_types.is_empty() {
                Some("every issue type it applied to is gone from the backup")
            } else {
                None
            };
            out.taken.extend(&rows_of_it);
            if let Some(why) = nowhere {
                out.skipped.extend(rows_of_it);
                out.findings.push(warning(
                    SCHEME,
                    at,
                    "unused-field-context",
                    format!(
                        "the custom field context \"{}\" applies nowhere ({why}): it is not migrated, nor are its options; give the field a context on the target if it needs one",
                        context.name
                    ),
                ));
                continue;
            }
            if global {
                // The global context applies to every project, whatever rows name one.
                context.projects.clear();
            }
            if every_type {
                context.issue_types.clear();
            }
            sort_ids(&mut context.projects);
            sort_ids(&mut context.issue_types);
            staged.insert(at.id.as_str());
            out.records
                .push((SCHEME, at.line, Record::FieldContext(context)));
        }
        for (at, mut option, config) in self.options {
            if let Some(config) = config {
                match config_scheme.get(config.as_str()) {
                    Some(scheme) if staged.contains(scheme) => {
                        option.context = Some((*scheme).to_owned())
                    }
                    _ => {
                        let missing = format!("FieldConfiguration {config}");
                        out.orphan(OPTION, &at, "customfieldconfig", missing);
                        continue;
                    }
                }
            }
            out.taken.push(OPTION);
            out.records
                .push((OPTION, at.line, Record::CustomFieldOption(option)));
        }
        out
    }
}

impl Assembled {
    /// A row left out because what it names is gone: taken, skipped and listed.
    fn orphan(&mut self, entity: &'static str, at: &At, field: &str, missing: String) {
        let kind = if entity == OPTION {
            Kind::CustomFieldOption
        } else {
            Kind::FieldContext
        };
        self.left_out(kind, entity, at, field, missing);
    }

    /// A row of `entity`, folded into a record of `kind`, left out because what it names
    /// is gone: taken, skipped and listed as an orphan.
    pub(crate) fn left_out(
        &mut self,
        kind: Kind,
        entity: &'static str,
        at: &At,
        field: &str,
        missing: String,
    ) {
        self.taken.push(entity);
        self.skipped.push(entity);
        self.orphans.push(OrphanRow {
            kind,
            entity: entity.into(),
            id: at.id.clone(),
            line: Some(at.line),
            field: field.into(),
            missing,
        });
    }
}

/// A warning about a held row (assembled schemes and contexts say what they leave).
pub(crate) fn warning(entity: &str, at: &At, check: &str, message: String) -> Finding {
    Finding {
        check: check.into(),
        severity: Severity::Warning,
        file: FILE.into(),
        entity: entity.into(),
        id: at.id.clone(),
        line: Some(at.line),
        message,
    }
}

/// Numeric ids in numeric order, others after them.
fn sort_ids(ids: &mut Vec<String>) {
    ids.sort_by_key(|id| (id.parse::<u64>().map_err(|_| id.clone()), id.clone()));
    ids.dedup();
}
