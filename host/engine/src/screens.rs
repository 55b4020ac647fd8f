//! Screen schemes, issue type screen schemes and field configuration schemes, assembled
//! from the rows Jira keeps them in: a `FieldScreenScheme` and its `FieldScreenSchemeItem`
//! rows (a screen per issue operation), an `IssueTypeScreenScheme` and its
//! `IssueTypeScreenSchemeEntity` rows (a screen scheme per issue type), a
//! `FieldLayoutScheme` and its `FieldLayoutSchemeEntity` rows (a field configuration per
//! issue type). Jira Cloud creates or fills a scheme with what it maps, so each becomes
//! one record. The rows come in any order: they are held (a few per scheme) and the
//! schemes staged at the end, the screen schemes first (the issue type screen schemes
//! name them), each against the ids the backup holds.

use airlock_backup::Entity;
use airlock_model::jira::{
    FieldConfigurationMapping, FieldConfigurationScheme, IssueTypeMapping, IssueTypeScreenScheme,
    Kind, Record, ScreenOperation, ScreenScheme, Target,
};

use crate::contexts::{Assembled, At, warning};
use crate::extract::SourceIndex;

const SCREEN_SCHEME: &str = "FieldScreenScheme";
const SCREEN_ITEM: &str = "FieldScreenSchemeItem";
const TYPE_SCHEME: &str = "IssueTypeScreenScheme";
const TYPE_ENTITY: &str = "IssueTypeScreenSchemeEntity";
const FIELD_SCHEME: &str = "FieldLayoutScheme";
const FIELD_ENTITY: &str = "FieldLayoutSchemeEntity";

struct Item {
    at: At,
    scheme: String,
    /// None: an operation Jira Cloud does not know.
    operation: Option<ScreenOperation>,
    screen: String,
}

struct TypeEntity {
    at: At,
    scheme: String,
    issue_type: Option<String>,
    screen_scheme: String,
}

struct FieldEntity {
    at: At,
    scheme: String,
    issue_type: Option<String>,
    /// None: the site's own default field configuration.
    configuration: Option<String>,
}

/// The rows held until the end of entities.xml.
#[derive(Default)]
pub(crate) struct ScreenRows {
    screen_schemes: Vec<(At, ScreenScheme)>,
    items: Vec<Item>,
    type_schemes: Vec<(At, IssueTypeScreenScheme)>,
    entities: Vec<TypeEntity>,
    field_schemes: Vec<(At, FieldConfigurationScheme)>,
    field_entities: Vec<FieldEntity>,
}

/// Whether the extractor holds rows of this element here.
pub(crate) fn is_held(element: &str) -> bool {
    matches!(
        element,
        SCREEN_SCHEME | SCREEN_ITEM | TYPE_SCHEME | TYPE_ENTITY | FIELD_SCHEME | FIELD_ENTITY
    )
}

impl ScreenRows {
    /// Takes a row of one of the four tables.
    pub(crate) fn hold(&mut self, entity: &Entity) {
        let get = |f: &str| entity.get(f).filter(|v| !v.is_empty()).map(str::to_owned);
        let at = At {
            line: entity.line,
            id: get("id").unwrap_or_default(),
        };
        match entity.name.as_str() {
            SCREEN_SCHEME => {
                let scheme = ScreenScheme {
                    id: at.id.clone(),
                    name: get("name").unwrap_or_default(),
                    description: get("description").unwrap_or_default(),
                    screens: Vec::new(),
                };
                self.screen_schemes.push((at, scheme));
            }
            SCREEN_ITEM => self.items.push(Item {
                at,
                scheme: get("fieldscreenscheme").unwrap_or_default(),
                operation: ScreenOperation::parse(entity.get("operation")),
                screen: get("fieldscreen").unwrap_or_default(),
            }),
            TYPE_SCHEME => {
                let scheme = IssueTypeScreenScheme {
                    id: at.id.clone(),
                    name: get("name").unwrap_or_default(),
                    description: get("description").unwrap_or_default(),
                    mappings: Vec::new(),
                };
                self.type_schemes.push((at, scheme));
            }
            FIELD_SCHEME => {
                let scheme = FieldConfigurationScheme {
                    id: at.id.clone(),
                    name: get("name").unwrap_or_default(),
                    description: get("description").unwrap_or_default(),
                    mappings: Vec::new(),
                };
                self.field_schemes.push((at, scheme));
            }
            FIELD_ENTITY => self.field_entities.push(FieldEntity {
                at,
                scheme: get("scheme").unwrap_or_default(),
                issue_type: get("issuetype"),
                configuration: get("fieldlayout"),
            }),
            TYPE_ENTITY => self.entities.push(TypeEntity {
                at,
                scheme: get("scheme").unwrap_or_default(),
                issue_type: get("issuetype"),
                screen_scheme: get("fieldscreenscheme").unwrap_or_default(),
            }),
            _ => {}
        }
    }

    /// The screen schemes, once every row was read (`index` knows every screen); the
    /// rest is kept for [`ScreenRows::assemble_type_schemes`].
    pub(crate) fn assemble_screen_schemes(&mut self, index: &SourceIndex) -> Assembled {
        let mut out = Assembled::default();
        let mut items: Vec<Item> = std::mem::take(&mut self.items);
        items.sort_by_key(|i| i.operation);
        for (at, mut scheme) in std::mem::take(&mut self.screen_schemes) {
            let mut rows = vec![SCREEN_SCHEME];
            for item in items.iter().filter(|i| i.scheme == at.id) {
                let Some(operation) = item.operation else {
                    left_behind(
                        &mut out,
                        SCREEN_ITEM,
                        &item.at,
                        "unknown-screen-operation",
                        "it gives a screen to an issue operation Jira Cloud does not know (only the default, create, edit and view): the scheme is migrated without it".into(),
                    );
                    continue;
                };
                if !index.contains(Target::Kind(Kind::Screen), &item.screen) {
                    let missing = format!("FieldScreen {}", item.screen);
                    orphan(&mut out, SCREEN_ITEM, &item.at, "fieldscreen", missing);
                    continue;
                }
                if scheme.screens.iter().any(|(o, _)| *o == operation) {
                    left_behind(
                        &mut out,
                        SCREEN_ITEM,
                        &item.at,
                        "duplicate-screen-operation",
                        format!(
                            "the scheme gives the {} operation another screen already: it is migrated with the first",
                            operation.as_str()
                        ),
                    );
                    continue;
                }
                scheme.screens.push((operation, item.screen.clone()));
                rows.push(SCREEN_ITEM);
            }
            if scheme.screens.first().map(|(o, _)| *o) != Some(ScreenOperation::Default) {
                unusable(
                    &mut out,
                    rows,
                    SCREEN_SCHEME,
                    &at,
                    "screen-scheme-without-default",
                    format!(
                        "the screen scheme \"{}\" has no default screen (its row is missing or names a deleted screen), which Jira Cloud requires: it is not migrated, nor are the issue type screen schemes' mappings to it; give it a default screen in Jira and make a new backup",
                        scheme.name
                    ),
                );
                continue;
            }
            out.taken.extend(rows);
            out.records
                .push((SCREEN_SCHEME, at.line, Record::ScreenScheme(scheme)));
        }
        out
    }

    /// The field configuration schemes, once every row was read (`index` knows every field
    /// configuration and issue type). A scheme without a default mapping is as Jira keeps
    /// it: its other issue types use the site's default configuration.
    pub(crate) fn assemble_field_configuration_schemes(
        &mut self,
        index: &SourceIndex,
    ) -> Assembled {
        let mut out = Assembled::default();
        let mut entities = std::mem::take(&mut self.field_entities);
        entities.sort_by_key(|e| by_issue_type(&e.issue_type));
        for (at, mut scheme) in std::mem::take(&mut self.field_schemes) {
            let mut rows = vec![FIELD_SCHEME];
            for e in entities.iter().filter(|e| e.scheme == at.id) {
                if let Some(t) = &e.issue_type
                    && !index.contains(Target::Kind(Kind::IssueType), t)
                {
                    let kind = Kind::FieldConfigurationScheme;
                    out.left_out(
                        kind,
                        FIELD_ENTITY,
                        &e.at,
                        "issuetype",
                        format!("IssueType {t}"),
                    );
                    continue;
                }
                if let Some(c) = &e.configuration
                    && !index.contains(Target::Kind(Kind::FieldConfiguration), c)
                {
                    let kind = Kind::FieldConfigurationScheme;
                    out.left_out(
                        kind,
                        FIELD_ENTITY,
                        &e.at,
                        "fieldlayout",
                        format!("FieldLayout {c}"),
                    );
                    continue;
                }
                if scheme.mappings.iter().any(|m| m.issue_type == e.issue_type) {
                    left_behind(
                        &mut out,
                        FIELD_ENTITY,
                        &e.at,
                        "duplicate-issue-type-mapping",
                        "the scheme maps this issue type to another field configuration already: it is migrated with the first".into(),
                    );
                    continue;
                }
                scheme.mappings.push(FieldConfigurationMapping {
                    issue_type: e.issue_type.clone(),
                    configuration: e.configuration.clone(),
                });
                rows.push(FIELD_ENTITY);
            }
            out.taken.extend(rows);
            out.records.push((
                FIELD_SCHEME,
                at.line,
                Record::FieldConfigurationScheme(scheme),
            ));
        }
        out
    }

    /// The issue type screen schemes, once the screen schemes are staged (`index` knows
    /// them, and every issue type).
    pub(crate) fn assemble_type_schemes(self, index: &SourceIndex) -> Assembled {
        let mut out = Assembled::default();
        let mut entities = self.entities;
        entities.sort_by_key(|e| by_issue_type(&e.issue_type));
        for (at, mut scheme) in self.type_schemes {
            let mut rows = vec![TYPE_SCHEME];
            for e in entities.iter().filter(|e| e.scheme == at.id) {
                if let Some(t) = &e.issue_type
                    && !index.contains(Target::Kind(Kind::IssueType), t)
                {
                    orphan(
                        &mut out,
                        TYPE_ENTITY,
                        &e.at,
                        "issuetype",
                        format!("IssueType {t}"),
                    );
                    continue;
                }
                if !index.contains(Target::Kind(Kind::ScreenScheme), &e.screen_scheme) {
                    let missing = format!("FieldScreenScheme {}", e.screen_scheme);
                    orphan(&mut out, TYPE_ENTITY, &e.at, "fieldscreenscheme", missing);
                    continue;
                }
                if scheme.mappings.iter().any(|m| m.issue_type == e.issue_type) {
                    left_behind(
                        &mut out,
                        TYPE_ENTITY,
                        &e.at,
                        "duplicate-issue-type-mapping",
                        "the scheme maps this issue type to another screen scheme already: it is migrated with the first".into(),
                    );
                    continue;
                }
                scheme.mappings.push(IssueTypeMapping {
                    issue_type: e.issue_type.clone(),
                    screen_scheme: e.screen_scheme.clone(),
                });
                rows.push(TYPE_ENTITY);
            }
            if scheme.mappings.first().map(|m| m.issue_type.is_none()) != Some(true) {
                unusable(
                    &mut out,
                    rows,
                    TYPE_SCHEME,
                    &at,
                    "issue-type-screen-scheme-without-default",
                    format!(
                        "the issue type screen scheme \"{}\" has no default screen scheme (its row is missing or names one not migrated), which Jira Cloud requires: it is not migrated, and its projects keep the target's default; give it a default in Jira and make a new backup",
                        scheme.name
                    ),
                );
                continue;
            }
            out.taken.extend(rows);
            out.records
                .push((TYPE_SCHEME, at.line, Record::IssueTypeScreenScheme(scheme)));
        }
        out
    }
}

/// The default (no issue type) first, then by issue type id.
pub(crate) fn by_issue_type(issue_type: &Option<String>) -> Option<(Result<u64, String>, String)> {
    issue_type
        .as_ref()
        .map(|t| (t.parse::<u64>().map_err(|_| t.clone()), t.clone()))
}

/// A row left out because what it names is gone: taken, skipped and listed.
fn orphan(out: &mut Assembled, entity: &'static str, at: &At, field: &str, missing: String) {
    let kind = if entity == SCREEN_ITEM {
        Kind::ScreenScheme
    } else {
        Kind::IssueTypeScreenScheme
    };
    out.left_out(kind, entity, at, field, missing);
}

/// A row the target cannot take as it is: taken, skipped, with a warning saying why.
fn left_behind(out: &mut Assembled, entity: &'static str, at: &At, check: &str, message: String) {
    out.taken.push(entity);
    out.skipped.push(entity);
    warn(out, entity, at, check, message);
}

/// A scheme that cannot be created, with the rows folded into it.
fn unusable(
    out: &mut Assembled,
    rows: Vec<&'static str>,
    entity: &'static str,
    at: &At,
    check: &str,
    message: String,
) {
    out.taken.extend(&rows);
    out.skipped.extend(rows);
    warn(out, entity, at, check, message);
}

fn warn(out: &mut Assembled, entity: &'static str, at: &At, check: &str, message: String) {
    out.findings.push(warning(entity, at, check, message));
}
