//! Issue type schemes, assembled from the tables custom fields' contexts live in: an issue
//! type scheme is a `FieldConfigScheme` of the `issuetype` field, its `FieldConfiguration`
//! (joined through `FieldConfigSchemeIssueType`) lists the issue types in
//! `OptionConfiguration` rows and names the default one in a `GenericConfiguration`
//! (`DefaultValue`, its value `<string>10001</string>`), and its `ConfigurationContext`
//! rows say which projects use it (none: the site's default, for every other project).
//! The rows come in any order: held (a few per scheme) and staged at the end, each scheme
//! one record and each project's scheme a [`ProjectScheme`].

use airlock_backup::Entity;
use airlock_model::Severity;
use airlock_model::jira::{IssueTypeScheme, Kind, ProjectScheme, Record, SchemeType, Target};
use airlock_staging::Staging;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::EngineError;
use crate::contexts::{Assembled, At, warning};
use crate::extract::SourceIndex;
use crate::findings::Finding;
use crate::integrity::IssueTypesUsed;
use crate::records::RecordReader;

/// The field whose schemes are issue type schemes.
pub(crate) const ISSUE_TYPE_FIELD: &str = "issuetype";
const SCHEME: &str = "FieldConfigScheme";
const CONFIG: &str = "FieldConfiguration";
const LINK: &str = "FieldConfigSchemeIssueType";
const PLACE: &str = "ConfigurationContext";
const OPTION: &str = "OptionConfiguration";
const DEFAULT: &str = "GenericConfiguration";

struct Place {
    at: At,
    scheme: String,
    project: Option<String>,
}

struct Listed {
    at: At,
    config: String,
    issue_type: String,
    sequence: i64,
}

/// The rows held until the end of entities.xml.
#[derive(Default)]
pub(crate) struct IssueTypeSchemeRows {
    schemes: Vec<(At, IssueTypeScheme)>,
    configs: Vec<At>,
    /// (scheme, configuration) of every `FieldConfigSchemeIssueType`: which are issue type
    /// schemes' shows only at the end.
    links: Vec<(String, String)>,
    places: Vec<Place>,
    listed: Vec<Listed>,
    /// Every `DefaultValue` (configuration id, value, where): custom fields' defaults
    /// are here too, and are left to the ledger.
    defaults: Vec<(String, String, At)>,
}

impl IssueTypeSchemeRows {
    /// Takes a row of one of the six tables if it is an issue type scheme's (or may be).
    /// Returns whether it was taken here; others are custom fields' (or the ledger's).
    pub(crate) fn hold(&mut self, entity: &Entity) -> bool {
        let get = |f: &str| entity.get(f).map(str::trim).filter(|v| !v.is_empty());
        let at = At {
            line: entity.line,
            id: get("id").unwrap_or_default().to_owned(),
        };
        let of_issue_type = |f: &str| get(f) == Some(ISSUE_TYPE_FIELD);
        match entity.name.as_str() {
            SCHEME if of_issue_type("fieldid") => {
                let scheme = IssueTypeScheme {
                    id: at.id.clone(),
                    name: get("name").unwrap_or_default().to_owned(),
                    description: get("description").unwrap_or_default().to_owned(),
                    issue_types: Vec::new(),
                    default_issue_type: None,
                    global: false,
                };
                self.schemes.push((at, scheme));
            }
            CONFIG if of_issue_type("fieldid") => self.configs.push(at),
            PLACE if of_issue_type("key") => self.places.push(Place {
                at,
                scheme: get("fieldconfigscheme").unwrap_or_default().to_owned(),
                project: get("project").map(str::to_owned),
            }),
            OPTION if of_issue_type("fieldid") => self.listed.push(Listed {
                at,
                config: get("fieldconfig").unwrap_or_default().to_owned(),
                issue_type: get("optionid").unwrap_or_default().to_owned(),
                sequence: get("sequence").and_then(|s| s.parse().ok()).unwrap_or(0),
            }),
            // Held, and also the custom fields' contexts' (see the caller).
            LINK => {
                if let (Some(scheme), Some(config)) =
                    (get("fieldconfigscheme"), get("fieldconfiguration"))
                {
                    self.links.push((scheme.to_owned(), config.to_owned()));
                }
                return false;
            }
            DEFAULT if get("datatype") == Some("DefaultValue") => {
                let key = get("datakey").unwrap_or_default().to_owned();
                let value = get("xmlvalue").unwrap_or_default().to_owned();
                self.defaults.push((key, value, at));
            }
            _ => return false,
        }
        true
    }

    /// The schemes and projects' associations, once every row was read (`index` knows
    /// every issue type and project).
    pub(crate) fn assemble(self, index: &SourceIndex) -> Assembled {
        let mut out = Assembled::default();
        let ours: FxHashSet<&str> = self.schemes.iter().map(|(at, _)| at.id.as_str()).collect();
        let mut config_of: FxHashMap<&str, &str> = FxHashMap::default();
        for (scheme, config) in &self.links {
            if ours.contains(scheme.as_str()) {
                config_of.entry(scheme.as_str()).or_insert(config.as_str());
            }
        }
        // A link of ours counts as taken with the scheme's; the custom fields' side
        // counts its own.
        let mut listed = self.listed;
        listed.sort_by_key(|l| l.sequence);
        let mut configs_taken: FxHashSet<&str> = FxHashSet::default();
        let mut listed_taken = vec![false; listed.len()];
        for (at, mut scheme) in self.schemes {
            let mut rows = vec![SCHEME];
            let config = config_of.get(at.id.as_str()).copied();
            if let Some(config) = config {
                rows.push(LINK);
                configs_taken.insert(config);
                for (i, l) in listed
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| l.config == config)
                {
                    listed_taken[i] = true;
                    if !index.contains(Target::Kind(Kind::IssueType), &l.issue_type) {
                        let missing = format!("IssueType {}", l.issue_type);
                        out.left_out(Kind::IssueTypeScheme, OPTION, &l.at, "optionid", missing);
                        continue;
                    }
                    if !scheme.issue_types.contains(&l.issue_type) {
                        scheme.issue_types.push(l.issue_type.clone());
                    }
                    rows.push(OPTION);
                }
                for (key, value, d_at) in &self.defaults {
                    if key != config {
                        continue;
                    }
                    rows.push(DEFAULT);
                    match default_value(value) {
                        Some(t) if scheme.issue_types.iter().any(|x| x == t) => {
                            scheme.default_issue_type = Some(t.to_owned())
                        }
                        _ => {
                            out.skipped.push(DEFAULT);
                            out.findings.push(warning(
                                DEFAULT,
                                d_at,
                                "unknown-default-issue-type",
                                format!(
                                    "the issue type scheme \"{}\" defaults to an issue type it does not list (or that is gone): it is migrated with no default issue type",
                                    scheme.name
                                ),
                            ));
                        }
                    }
                }
            }
            let mut projects = Vec::new();
            for place in self.places.iter().filter(|p| p.scheme == at.id) {
                match &place.project {
                    None => {
                        scheme.global = true;
                        rows.push(PLACE);
                    }
                    Some(p) if index.contains(Target::Kind(Kind::Project), p) => {
                        projects.push((place, p.clone()))
                    }
                    Some(p) => {
                        let missing = format!("Project {p}");
                        out.left_out(Kind::ProjectScheme, PLACE, &place.at, "project", missing);
                    }
                }
            }
            if scheme.issue_types.is_empty() && !scheme.global {
                out.taken.extend(&rows);
                out.skipped.extend(rows);
                for _ in &projects {
                    out.taken.push(PLACE);
                    out.skipped.push(PLACE);
                }
                out.findings.push(warning(
                    SCHEME,
                    &at,
                    "empty-issue-type-scheme",
                    format!(
                        "the issue type scheme \"{}\" lists no issue type the backup has, and Jira Cloud's schemes need one: it is not migrated, and its projects keep the target's default scheme",
                        scheme.name
                    ),
                ));
                continue;
            }
            out.taken.extend(rows);
            out.records
                .push((SCHEME, at.line, Record::IssueTypeScheme(scheme)));
            for (place, project) in projects {
                out.taken.push(PLACE);
                let association = ProjectScheme {
                    id: format!("{project}:{}:{}", SchemeType::IssueType.entity(), at.id),
                    project,
                    scheme_type: SchemeType::IssueType,
                    scheme: at.id.clone(),
                };
                out.records
                    .push((PLACE, place.at.line, Record::ProjectScheme(association)));
            }
        }
        for at in &self.configs {
            // A configuration of no scheme means nothing: taken only with its scheme.
            if configs_taken.contains(at.id.as_str()) {
                out.taken.push(CONFIG);
            }
        }
        for (i, l) in listed.iter().enumerate() {
            if !listed_taken[i] {
                let missing = format!("FieldConfiguration {}", l.config);
                out.left_out(Kind::IssueTypeScheme, OPTION, &l.at, "fieldconfig", missing);
            }
        }
        out
    }
}

/// Issues whose type their project's own issue type scheme does not list: Jira Cloud
/// refuses to create such an issue (and to give the project the scheme while it has one),
/// so each (project, issue type) is said once, at its first issue, with what to do.
/// Projects on the site's default scheme are not concerned (Jira gives it every type).
pub(crate) fn issues_outside_their_schemes(
    staging: &dyn Staging,
    used: &IssueTypesUsed,
) -> Result<Vec<Finding>, EngineError> {
    let mut schemes: FxHashMap<String, IssueTypeScheme> = FxHashMap::default();
    for record in RecordReader::open_kind(staging, Kind::IssueTypeScheme)? {
        if let Record::IssueTypeScheme(s) = record?
            && !s.global
        {
            schemes.insert(s.id.clone(), s);
        }
    }
    if schemes.is_empty() {
        return Ok(Vec::new());
    }
    let mut scheme_of: FxHashMap<String, String> = FxHashMap::default();
    for record in RecordReader::open_kind(staging, Kind::ProjectScheme)? {
        if let Record::ProjectScheme(p) = record?
            && p.scheme_type == SchemeType::IssueType
        {
            scheme_of.insert(p.project, p.scheme);
        }
    }
    let mut findings = Vec::new();
    let mut names_by_id = None;
    for ((project, issue_type), (count, id, line)) in used {
        let Some(scheme) = scheme_of.get(project).and_then(|s| schemes.get(s)) else {
            continue;
        };
        if scheme.issue_types.contains(issue_type) {
            continue;
        }
        // Projects' keys and issue types' names, read only when there is something to say.
        let (keys, types) = match &mut names_by_id {
            Some(n) => n,
            None => names_by_id.insert((
                names(staging, Kind::Project)?,
                names(staging, Kind::IssueType)?,
            )),
        };
        let type_name = name_or_id(types, issue_type);
        let (which, them) = issues_of_project(*count, &name_or_id(keys, project), "has", "have");
        let message = format!(
            "{which} issue type \"{type_name}\" ({issue_type}), which the project's issue type \
             scheme \"{}\" does not list: Jira Cloud refuses to create {them}; add the type to \
             the scheme in Jira (Issues → Issue type schemes) or give {them} a type it lists, \
             then check again",
            scheme.name
        );
        findings.push(issue_warning(
            "issue-type-not-in-scheme",
            id,
            *line,
            message,
        ));
    }
    Ok(findings)
}

/// The name `names` gives an id, or the id itself.
pub(crate) fn name_or_id(names: &FxHashMap<String, String>, id: &String) -> String {
    names.get(id).cloned().unwrap_or_else(|| id.clone())
}

/// The subject of a finding about `count` issues of a project, said at the first of them,
/// with its verb (`singular` or `plural`), and the pronoun for them.
pub(crate) fn issues_of_project(
    count: u64,
    key: &str,
    singular: &str,
    plural: &str,
) -> (String, &'static str) {
    if count == 1 {
        (format!("this issue of project {key} {singular}"), "it")
    } else {
        let which = format!("{count} issues of project {key} (this one first) {plural}");
        (which, "them")
    }
}

/// A warning at an issue of entities.xml.
pub(crate) fn issue_warning(check: &str, id: &str, line: Option<u64>, message: String) -> Finding {
    Finding {
        check: check.into(),
        severity: Severity::Warning,
        file: "entities.xml".into(),
        entity: "Issue".into(),
        id: id.to_owned(),
        line,
        message,
    }
}

/// Projects' keys, or issue types' or statuses' names, by id.
pub(crate) fn names(
    staging: &dyn Staging,
    kind: Kind,
) -> Result<FxHashMap<String, String>, EngineError> {
    let mut names = FxHashMap::default();
    for record in RecordReader::open_kind(staging, kind)? {
        match record? {
            Record::Project(p) => names.insert(p.id, p.key),
            Record::IssueType(t) | Record::Status(t) => names.insert(t.id, t.name),
            _ => None,
        };
    }
    Ok(names)
}

/// The issue type id of a `DefaultValue` (`<string>10001</string>`).
fn default_value(xml: &str) -> Option<&str> {
    let inner = xml
        .trim()
        .strip_prefix("<string>")?
        .strip_suffix("</string>")?;
    let inner = inner.trim();
    (!inner.is_empty()).then_some(inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only a project's own scheme is held to its list (the default one has every type);
    /// one issue is said as one.
    #[test]
    fn issues_of_a_type_their_projects_scheme_lacks_are_said() {
        use airlock_model::jira::{Constant, Project};
        let dir = tempfile::tempdir().unwrap();
        let staging = airlock_staging::SealedStaging::ephemeral(dir.path()).unwrap();
        let stage = |kind, records: Vec<Record>| crate::records::stage(&staging, kind, &records);
        let scheme = |id: &str, types: &[&str], global| {
            Record::IssueTypeScheme(IssueTypeScheme {
                id: id.into(),
                name: format!("Scheme {id}"),
                description: String::new(),
                issue_types: types.iter().map(|t| (*t).to_owned()).collect(),
                default_issue_type: None,
                global,
            })
        };
        stage(
            Kind::IssueTypeScheme,
            vec![
                scheme("10000", &["1", "3"], true),
                scheme("10300", &["1"], false),
            ],
        );
        stage(
            Kind::ProjectScheme,
            vec![Record::ProjectScheme(ProjectScheme {
                id: "10000/issue-type".into(),
                project: "10000".into(),
                scheme_type: SchemeType::IssueType,
                scheme: "10300".into(),
            })],
        );
        let project = |id: &str, key: &str| {
            Record::Project(Project {
                id: id.into(),
                key: key.into(),
                name: key.into(),
                lead: String::new(),
                description: String::new(),
                project_type: "software".into(),
                counter: 0,
            })
        };
        stage(
            Kind::Project,
            vec![project("10000", "ABC"), project("10001", "DEF")],
        );
        stage(
            Kind::IssueType,
            vec![Record::IssueType(Constant {
                id: "3".into(),
                name: "Task".into(),
                description: String::new(),
                detail: String::new(),
            })],
        );
        let used: IssueTypesUsed = [
            (("10000", "1"), (5, "10100", Some(40))),
            (("10000", "3"), (1, "10104", Some(52))),
            (("10001", "3"), (2, "10200", Some(60))),
        ]
        .into_iter()
        .map(|((p, t), (n, id, line))| ((p.to_owned(), t.to_owned()), (n, id.to_owned(), line)))
        .collect();
        let said = issues_outside_their_schemes(&staging, &used).unwrap();
        let got: Vec<(&str, Option<u64>)> = said.iter().map(|f| (f.id.as_str(), f.line)).collect();
        assert_eq!(got, [("10104", Some(52))]);
        assert!(
            said[0].message.starts_with(
                "this issue of project ABC has issue type \"Task\" (3), which the project's \
                 issue type scheme \"Scheme 10300\" does not list: Jira Cloud refuses to create it"
            ),
            "{}",
            said[0].message
        );
    }

    #[test]
    fn default_values_are_read_as_jira_writes_them() {
        assert_eq!(default_value("<string>10001</string>"), Some("10001"));
        assert_eq!(default_value(" <string> 3 </string>"), Some("3"));
        assert_eq!(default_value("<string></string>"), None);
        assert_eq!(default_value("<long>3</long>"), None);
    }
}
