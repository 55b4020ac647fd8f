//! Workflows and workflow schemes. A `Workflow` row's descriptor is read as the row comes
//! (see [`airlock_backup::parse_descriptor`]); a `WorkflowScheme` and its
//! `WorkflowSchemeEntity` rows (which name workflows by name, `jira` being Jira's built-in
//! one) are held, like every row here, and staged at the end: the workflows first, against
//! the statuses and screens the backup holds, then the schemes, against the workflows
//! staged and the issue types.

use airlock_backup::{Descriptor, DescriptorError, Entity, RuleLeft, parse_descriptor};
use airlock_model::jira::{
    Kind, Record, SchemeType, Target, Workflow, WorkflowMapping, WorkflowScheme,
};
use airlock_staging::Staging;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::EngineError;
use crate::contexts::{Assembled, At, warning};
use crate::extract::SourceIndex;
use crate::findings::Finding;
use crate::integrity::IssueStatusesUsed;
use crate::issue_type_schemes::{issue_warning, issues_of_project, name_or_id, names};
use crate::records::RecordReader;

const WORKFLOW: &str = "Workflow";
const SCHEME: &str = "WorkflowScheme";
const ENTITY: &str = "WorkflowSchemeEntity";
/// Jira's built-in workflow: every site has it and no row holds it.
pub const SYSTEM_WORKFLOW: &str = "jira";
/// The most rules one finding names; the rest are counted.
const RULES_NAMED: usize = 12;

struct SchemeEntity {
    at: At,
    scheme: String,
    /// None: the default (`0`).
    issue_type: Option<String>,
    workflow: String,
}

/// The rows held until the end of entities.xml.
#[derive(Default)]
pub(crate) struct WorkflowRows {
    workflows: Vec<(At, String, Result<Descriptor, DescriptorError>)>,
    schemes: Vec<(At, WorkflowScheme)>,
    entities: Vec<SchemeEntity>,
    /// The staged workflows' ids by name.
    staged: FxHashMap<String, String>,
}

/// Whether the extractor holds rows of this element here.
pub(crate) fn is_held(element: &str) -> bool {
    matches!(element, WORKFLOW | SCHEME | ENTITY)
}

impl WorkflowRows {
    pub(crate) fn hold(&mut self, entity: &Entity) {
        let get = |f: &str| entity.get(f).map(str::trim).filter(|v| !v.is_empty());
        let at = At {
            line: entity.line,
            id: get("id").unwrap_or_default().to_owned(),
        };
        match entity.name.as_str() {
            WORKFLOW => {
                let name = get("name").unwrap_or_default().to_owned();
                let descriptor = parse_descriptor(entity.get("descriptor").unwrap_or_default());
                self.workflows.push((at, name, descriptor));
            }
            SCHEME => {
                let scheme = WorkflowScheme {
                    id: at.id.clone(),
                    name: get("name").unwrap_or_default().to_owned(),
                    description: get("description").unwrap_or_default().to_owned(),
                    mappings: Vec::new(),
                };
                self.schemes.push((at, scheme));
            }
            ENTITY => self.entities.push(SchemeEntity {
                at,
                scheme: get("scheme").unwrap_or_default().to_owned(),
                issue_type: get("issuetype").filter(|t| *t != "0").map(str::to_owned),
                workflow: get("workflow").unwrap_or_default().to_owned(),
            }),
            _ => {}
        }
    }

    /// The workflows, once every row was read (`index` knows every status and screen);
    /// the schemes are kept for [`WorkflowRows::assemble_schemes`].
    pub(crate) fn assemble_workflows(&mut self, index: &SourceIndex) -> Assembled {
        let mut out = Assembled::default();
        for (at, name, descriptor) in std::mem::take(&mut self.workflows) {
            let descriptor = match descriptor {
                Ok(d) => d,
                Err(e) => {
                    unusable(
                        &mut out,
                        &at,
                        "unreadable-workflow",
                        format!(
                            "the workflow \"{name}\" is not migrated, nor are the schemes' mappings to it: {e}; open it in Jira's workflow editor and save it again (or fix the plugin that wrote it), then make a new backup"
                        ),
                    );
                    continue;
                }
            };
            if name.is_empty() || name == SYSTEM_WORKFLOW || self.staged.contains_key(&name) {
                unusable(
                    &mut out,
                    &at,
                    "duplicate-workflow-name",
                    format!(
                        "the workflow \"{name}\" has the name of another workflow (or none, or Jira's built-in one): schemes name workflows by name, so it is not migrated; rename it in Jira and make a new backup"
                    ),
                );
                continue;
            }
            if let Some(step) = descriptor
                .steps
                .iter()
                .find(|s| !index.contains(Target::Kind(Kind::Status), &s.status))
            {
                let missing = format!("Status {}", step.status);
                out.left_out(Kind::Workflow, WORKFLOW, &at, "jira.status.id", missing);
                continue;
            }
            let mut workflow = Workflow {
                id: at.id.clone(),
                name: name.clone(),
                description: descriptor.description,
                steps: descriptor.steps,
                transitions: descriptor.transitions,
            };
            let mut notes: Vec<String> = Vec::new();
            for t in &mut workflow.transitions {
                if let Some(screen) = &t.screen
                    && !index.contains(Target::Kind(Kind::Screen), screen)
                {
                    notes.push(format!(
                        "transition \"{}\" ({}) showed screen {screen}, which the backup does not have: it is migrated without a screen",
                        t.name, t.id
                    ));
                    t.screen = None;
                }
            }
            notes.extend(
                descriptor
                    .steps_left
                    .into_iter()
                    .map(|(_, why)| format!("{why}: it is not migrated, nor are its transitions")),
            );
            notes.extend(
                descriptor
                    .transitions_left
                    .into_iter()
                    .map(|(_, why)| format!("{why}: it is not migrated")),
            );
            if !notes.is_empty() {
                warn(
                    &mut out,
                    &at,
                    "workflow-parts-left-out",
                    format!(
                        "the workflow \"{name}\" is migrated without what Jira Cloud cannot take: {}",
                        notes.join("; ")
                    ),
                );
            }
            if !descriptor.rules_left.is_empty() {
                warn(
                    &mut out,
                    &at,
                    "workflow-rules-not-migrated",
                    rules_message(&name, &descriptor.rules_left, descriptor.more_rules_left),
                );
            }
            out.taken.push(WORKFLOW);
            self.staged.insert(name, at.id.clone());
            out.records
                .push((WORKFLOW, at.line, Record::Workflow(workflow)));
        }
        out
    }

    /// The workflow schemes, once the workflows are staged (`index` knows every issue
    /// type).
    pub(crate) fn assemble_schemes(self, index: &SourceIndex) -> Assembled {
        let mut out = Assembled::default();
        let mut entities = self.entities;
        entities.sort_by_key(|e| crate::screens::by_issue_type(&e.issue_type));
        for (at, mut scheme) in self.schemes {
            let mut rows = vec![SCHEME];
            for e in entities.iter().filter(|e| e.scheme == at.id) {
                if let Some(t) = &e.issue_type
                    && !index.contains(Target::Kind(Kind::IssueType), t)
                {
                    let missing = format!("IssueType {t}");
                    out.left_out(Kind::WorkflowScheme, ENTITY, &e.at, "issuetype", missing);
                    continue;
                }
                let workflow = if e.workflow == SYSTEM_WORKFLOW {
                    None
                } else if let Some(id) = self.staged.get(&e.workflow) {
                    Some(id.clone())
                } else {
                    let missing = format!("Workflow named \"{}\"", e.workflow);
                    out.left_out(Kind::WorkflowScheme, ENTITY, &e.at, "workflow", missing);
                    continue;
                };
                if scheme.mappings.iter().any(|m| m.issue_type == e.issue_type) {
                    out.taken.push(ENTITY);
                    out.skipped.push(ENTITY);
                    out.findings.push(warning(
                        ENTITY,
                        &e.at,
                        "duplicate-issue-type-mapping",
                        "the scheme maps this issue type to another workflow already: it is migrated with the first".into(),
                    ));
                    continue;
                }
                scheme.mappings.push(WorkflowMapping {
                    issue_type: e.issue_type.clone(),
                    workflow,
                });
                rows.push(ENTITY);
            }
            out.taken.extend(rows);
            out.records
                .push((SCHEME, at.line, Record::WorkflowScheme(scheme)));
        }
        out
    }
}

/// What a workflow loses: its rules, by transition, the first [`RULES_NAMED`] named.
fn rules_message(name: &str, rules: &[RuleLeft], more: usize) -> String {
    let total = rules.len() + more;
    let named: Vec<String> = rules
        .iter()
        .take(RULES_NAMED)
        .map(|r| {
            format!(
                "transition \"{}\" ({}): {} {}",
                r.transition.1, r.transition.0, r.kind, r.class
            )
        })
        .collect();
    let rest = total - named.len();
    let rest = if rest > 0 {
        format!(", and {rest} more")
    } else {
        String::new()
    };
    format!(
        "the workflow \"{name}\" is migrated with its statuses, transitions and screens but without {total} rule(s) a Data Center descriptor holds and Jira Cloud's workflows cannot take: {}{rest}; set them up again in Cloud's workflow editor (an app's rules with the app's Cloud version)",
        named.join("; ")
    )
}

/// A workflow that cannot be migrated: taken, skipped, with a warning saying why.
fn unusable(out: &mut Assembled, at: &At, check: &str, message: String) {
    out.taken.push(WORKFLOW);
    out.skipped.push(WORKFLOW);
    warn(out, at, check, message);
}

fn warn(out: &mut Assembled, at: &At, check: &str, message: String) {
    out.findings.push(warning(WORKFLOW, at, check, message));
}

/// Issues in a status their workflow has no step for (the status was taken out of the
/// workflow, or the project changed workflow scheme and the issues were never moved): on
/// the target no transition leads out of it. Said once per (project, issue type,
/// status), at its first issue, with the count and what to do. Issues whose workflow is
/// Jira's built-in one, or that the backup does not hold, are not concerned.
pub(crate) fn issues_outside_their_workflows(
    staging: &dyn Staging,
    used: &IssueStatusesUsed,
) -> Result<Vec<Finding>, EngineError> {
    let mut scheme_of: FxHashMap<String, String> = FxHashMap::default();
    for record in RecordReader::open_kind(staging, Kind::ProjectScheme)? {
        if let Record::ProjectScheme(p) = record?
            && p.scheme_type == SchemeType::Workflow
        {
            scheme_of.insert(p.project, p.scheme);
        }
    }
    if scheme_of.is_empty() {
        return Ok(Vec::new());
    }
    let mut schemes: FxHashMap<String, WorkflowScheme> = FxHashMap::default();
    for record in RecordReader::open_kind(staging, Kind::WorkflowScheme)? {
        if let Record::WorkflowScheme(s) = record? {
            schemes.insert(s.id.clone(), s);
        }
    }
    // Each workflow's name and the statuses its steps are in.
    let mut workflows: FxHashMap<String, (String, FxHashSet<String>)> = FxHashMap::default();
    for record in RecordReader::open_kind(staging, Kind::Workflow)? {
        if let Record::Workflow(w) = record? {
            let statuses = w.steps.into_iter().map(|s| s.status).collect();
            workflows.insert(w.id, (w.name, statuses));
        }
    }
    let mut findings = Vec::new();
    let mut names_by_id = None;
    for ((project, issue_type, status), (count, id, line)) in used {
        let Some(scheme) = scheme_of.get(project).and_then(|s| schemes.get(s)) else {
            continue;
        };
        let mapping = (scheme.mappings.iter())
            .find(|m| m.issue_type.as_ref() == Some(issue_type))
            .or_else(|| scheme.mappings.iter().find(|m| m.issue_type.is_none()));
        let Some((workflow, statuses)) = mapping
            .and_then(|m| m.workflow.as_ref())
            .and_then(|w| workflows.get(w))
        else {
            continue;
        };
        if statuses.contains(status) {
            continue;
        }
        // Names, read only when there is something to say.
        let (keys, types, status_names) = match &mut names_by_id {
            Some(n) => n,
            None => names_by_id.insert((
                names(staging, Kind::Project)?,
                names(staging, Kind::IssueType)?,
                names(staging, Kind::Status)?,
            )),
        };
        let (type_name, status_name) = (
            name_or_id(types, issue_type),
            name_or_id(status_names, status),
        );
        let (which, them) = issues_of_project(*count, &name_or_id(keys, project), "is", "are");
        let message = format!(
            "{which} in status \"{status_name}\" ({status}), which workflow \"{workflow}\" (the \
             one the project's workflow scheme \"{}\" gives issue type \"{type_name}\") has no \
             step for: on the target no transition leads out of it; add the status to the \
             workflow in Jira or move {them} to a status it has, then check again",
            scheme.name
        );
        findings.push(issue_warning("status-not-in-workflow", id, *line, message));
    }
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_model::jira::{Constant, Project, ProjectScheme, WorkflowStep};

    /// A project's issues are held to the workflow its scheme gives their type (or the
    /// scheme's default); the built-in workflow and projects without a scheme are not.
    #[test]
    fn issues_in_a_status_their_workflow_lacks_are_said() {
        let dir = tempfile::tempdir().unwrap();
        let staging = airlock_staging::SealedStaging::ephemeral(dir.path()).unwrap();
        let stage = |kind, records: Vec<Record>| crate::records::stage(&staging, kind, &records);
        let workflow = |id: &str, name: &str, statuses: &[&str]| {
            Record::Workflow(Workflow {
                id: id.into(),
                name: name.into(),
                description: String::new(),
                steps: (statuses.iter().enumerate())
                    .map(|(i, s)| WorkflowStep {
                        id: (i + 1).to_string(),
                        name: format!("Step {s}"),
                        status: (*s).to_owned(),
                    })
                    .collect(),
                transitions: Vec::new(),
            })
        };
        stage(
            Kind::Workflow,
            vec![
                workflow("1", "Software", &["1", "3", "10001"]),
                workflow("2", "Bugs", &["1", "10001"]),
            ],
        );
        let mapping = |issue_type: Option<&str>, workflow: Option<&str>| WorkflowMapping {
            issue_type: issue_type.map(str::to_owned),
            workflow: workflow.map(str::to_owned),
        };
        stage(
            Kind::WorkflowScheme,
            vec![Record::WorkflowScheme(WorkflowScheme {
                id: "10100".into(),
                name: "ABC scheme".into(),
                description: String::new(),
                mappings: vec![
                    mapping(None, Some("1")),
                    mapping(Some("1"), Some("2")),
                    mapping(Some("5"), None),
                ],
            })],
        );
        let scheme_of = |project: &str| {
            Record::ProjectScheme(ProjectScheme {
                id: format!("{project}/workflow"),
                project: project.into(),
                scheme_type: SchemeType::Workflow,
                scheme: "10100".into(),
            })
        };
        stage(Kind::ProjectScheme, vec![scheme_of("10000")]);
        stage(
            Kind::Project,
            vec![Record::Project(Project {
                id: "10000".into(),
                key: "ABC".into(),
                name: "ABC".into(),
                lead: String::new(),
                description: String::new(),
                project_type: "software".into(),
                counter: 0,
            })],
        );
        let constant = |id: &str, name: &str| Constant {
            id: id.into(),
            name: name.into(),
            description: String::new(),
            detail: String::new(),
        };
        stage(
            Kind::IssueType,
            vec![Record::IssueType(constant("1", "Bug"))],
        );
        stage(
            Kind::Status,
            vec![Record::Status(constant("3", "In Progress"))],
        );
        let used: IssueStatusesUsed = [
            // Bugs go by "Bugs", which has no "In Progress": said.
            (("10000", "1", "3"), (4, "10100", Some(40))),
            (("10000", "1", "10001"), (1, "10101", Some(41))),
            // Tasks go by the default, "Software", which has it.
            (("10000", "3", "3"), (2, "10102", Some(42))),
            // Type 5 goes by the built-in workflow; project 10001 has no scheme.
            (("10000", "5", "4"), (1, "10103", Some(43))),
            (("10001", "1", "3"), (1, "10200", Some(60))),
        ]
        .into_iter()
        .map(|((p, t, s), (n, id, line))| {
            (
                (p.to_owned(), t.to_owned(), s.to_owned()),
                (n, id.to_owned(), line),
            )
        })
        .collect();
        let said = issues_outside_their_workflows(&staging, &used).unwrap();
        let got: Vec<(&str, &str, Option<u64>)> = (said.iter())
            .map(|f| (f.check.as_str(), f.id.as_str(), f.line))
            .collect();
        assert_eq!(got, [("status-not-in-workflow", "10100", Some(40))]);
        assert_eq!(
            said[0].message,
            "4 issues of project ABC (this one first) are in status \"In Progress\" (3), which \
             workflow \"Bugs\" (the one the project's workflow scheme \"ABC scheme\" gives \
             issue type \"Bug\") has no step for: on the target no transition leads out of it; \
             add the status to the workflow in Jira or move them to a status it has, then check \
             again"
        );
    }
}
