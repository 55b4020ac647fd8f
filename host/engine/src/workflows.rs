//! Workflows and workflow schemes. A `Workflow` row's descriptor is read as the row comes
//! (see [`airlock_backup::parse_descriptor`]); a `WorkflowScheme` and its
//! `WorkflowSchemeEntity` rows (which name workflows by name, `jira` being Jira's built-in
//! one) are held, like every row here, and staged at the end: the workflows first, against
//! the statuses and screens the backup holds, then the schemes, against the workflows
//! staged and the issue types.

use airlock_backup::{Descriptor, DescriptorError, Entity, RuleLeft, parse_descriptor};
use airlock_model::jira::{Kind, Record, Target, Workflow, WorkflowMapping, WorkflowScheme};
use rustc_hash::FxHashMap;

use crate::contexts::{Assembled, At, warning};
use crate::extract::SourceIndex;

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
