//! A workflow's OSWorkflow descriptor (the `descriptor` text of a `Workflow` row), read
//! into its steps and transitions.
//!
//! The descriptor is XML inside XML, written by Jira and any app that edits workflows, so
//! it is read as hostile: its DOCTYPE is never fetched (quick-xml does not resolve
//! external entities), and its depth, element count, steps and actions are bounded.
//! What Jira Cloud's workflows cannot hold — a condition, a validator, a post function
//! other than those Cloud runs on every transition, a conditional result — is returned
//! in [`Descriptor::rules_left`] so the check can say what is not migrated.

use airlock_model::jira::{MAX_SYSTEM_EVENT, TransitionKind, WorkflowStep, WorkflowTransition};
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

/// The deepest nesting a descriptor may have: Jira's are about 10 deep.
const MAX_DEPTH: usize = 64;
/// The most elements one descriptor may have: Jira's largest real workflows have a few
/// thousand.
const MAX_ELEMENTS: usize = 200_000;
/// The most steps and actions: a workflow Jira's editor can show has far fewer.
const MAX_STEPS: usize = 2_000;
const MAX_ACTIONS: usize = 10_000;
/// The most rules listed as left behind, per descriptor.
const MAX_RULES_LISTED: usize = 200;

/// Post functions every Jira Cloud transition runs on its own, and the create
/// permission check Cloud makes on every create: leaving them out loses nothing.
const IMPLICIT_RULES: [&str; 7] = [
    "com.atlassian.jira.workflow.function.issue.UpdateIssueStatusFunction",
    "com.atlassian.jira.workflow.function.misc.CreateCommentFunction",
    "com.atlassian.jira.workflow.function.issue.GenerateChangeHistoryFunction",
    "com.atlassian.jira.workflow.function.issue.IssueReindexFunction",
    "com.atlassian.jira.workflow.function.event.FireIssueEventFunction",
    "com.atlassian.jira.workflow.function.issue.IssueCreateFunction",
    "com.atlassian.jira.workflow.function.issue.IssueStoreFunction",
];
/// The post function that fires a transition's event.
const FIRE_EVENT_FUNCTION: &str =
    "com.atlassian.jira.workflow.function.event.FireIssueEventFunction";

/// A rule being read: its kind, class and the event it fires (a fire-event function's).
struct OpenRule {
    kind: &'static str,
    class: Option<String>,
    event: Option<String>,
}

/// The validator every initial action carries (Cloud checks the Create Issues permission).
const CREATE_PERMISSION_VALIDATOR: &str =
    "com.atlassian.jira.workflow.validator.PermissionValidator";

/// What a descriptor holds that Airlock migrates.
#[derive(Debug, Default, PartialEq)]
pub struct Descriptor {
    /// `jira.description`.
    pub description: String,
    pub steps: Vec<WorkflowStep>,
    /// The initial actions, the global ones, then the steps' in step order (a common
    /// action once, from every step that names it, at its first step's place).
    pub transitions: Vec<WorkflowTransition>,
    /// Steps left out, with why (no status).
    pub steps_left: Vec<(String, String)>,
    /// Transitions left out, with why (no target step, a step that does not exist).
    pub transitions_left: Vec<(String, String)>,
    /// Rules Jira Cloud's workflows do not take, at most [`MAX_RULES_LISTED`].
    pub rules_left: Vec<RuleLeft>,
    /// Rules beyond those listed.
    pub more_rules_left: usize,
}

/// A rule of a transition that is not migrated.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleLeft {
    /// The transition's id and name.
    pub transition: (String, String),
    /// `condition`, `validator`, `post function`, `pre function`, `conditional result`.
    pub kind: &'static str,
    /// The class it runs (`com.atlassian.jira.workflow.condition.PermissionCondition`), or
    /// its type when it is not a class (a script).
    pub class: String,
}

/// Why a descriptor could not be read: the message names where.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("its workflow descriptor cannot be read: {0}")]
pub struct DescriptorError(pub String);

#[derive(Default)]
struct Action {
    id: String,
    name: String,
    description: String,
    screen: Option<String>,
    /// The unconditional result's step (`-1`: the step it is taken from).
    to: Option<String>,
    rules: Vec<(&'static str, String)>,
}

#[derive(Clone, Copy, PartialEq)]
enum Place {
    Initial,
    Global,
    Common,
    /// An action of the step at this index.
    Step(usize),
}

/// What is read so far, and what is being read (a meta element's text, a rule and the
/// text of the argument it keeps).
#[derive(Default)]
struct Reading {
    out: Descriptor,
    step_status: Vec<Option<String>>,
    /// Actions in document order, with where they are.
    actions: Vec<(Place, Action)>,
    /// (step index, common action id) in document order.
    common_refs: Vec<(usize, String)>,
    /// The meta element being read (its name) and its text.
    meta: Option<String>,
    meta_text: String,
    rule: Option<OpenRule>,
    /// The argument whose text is kept (`class.name`, `eventTypeId`), if one is read.
    arg: Option<&'static str>,
    arg_text: String,
}

/// Reads a descriptor.
pub fn parse_descriptor(text: &str) -> Result<Descriptor, DescriptorError> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut path: Vec<String> = Vec::new();
    let mut elements = 0usize;
    let mut r = Reading::default();
    let err = |reader: &Reader<&[u8]>, what: String| {
        DescriptorError(format!("{what} (at byte {})", reader.buffer_position()))
    };
    loop {
        let event = reader
            .read_event()
            .map_err(|e| err(&reader, e.to_string()))?;
        let (start, empty) = match &event {
            Event::Start(e) => (Some(e.clone()), false),
            Event::Empty(e) => (Some(e.clone()), true),
            _ => (None, false),
        };
        if let Some(e) = start {
            elements += 1;
            if elements > MAX_ELEMENTS || path.len() >= MAX_DEPTH {
                return Err(err(
                    &reader,
                    format!("more than {MAX_ELEMENTS} elements or {MAX_DEPTH} levels deep"),
                ));
            }
            let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
            let attr = |key: &str| attribute(&e, key);
            let parent = path.last().map(String::as_str);
            match name.as_str() {
                "step" if parent == Some("steps") => {
                    if r.out.steps.len() >= MAX_STEPS {
                        return Err(err(&reader, format!("more than {MAX_STEPS} steps")));
                    }
                    r.out.steps.push(WorkflowStep {
                        id: attr("id").unwrap_or_default(),
                        name: attr("name").unwrap_or_default(),
                        status: String::new(),
                    });
                    r.step_status.push(None);
                }
                "action" => {
                    let place = match parent {
                        Some("initial-actions") => Some(Place::Initial),
                        Some("global-actions") => Some(Place::Global),
                        Some("common-actions") => Some(Place::Common),
                        Some("actions") if path.iter().any(|p| p == "step") => {
                            Some(Place::Step(r.out.steps.len().saturating_sub(1)))
                        }
                        _ => None,
                    };
                    if let Some(place) = place {
                        if r.actions.len() >= MAX_ACTIONS {
                            return Err(err(&reader, format!("more than {MAX_ACTIONS} actions")));
                        }
                        let action = Action {
                            id: attr("id").unwrap_or_default(),
                            name: attr("name").unwrap_or_default(),
                            ..Action::default()
                        };
                        r.actions.push((place, action));
                    }
                }
                "common-action" if path.iter().any(|p| p == "step") => {
                    if let Some(id) = attr("id") {
                        r.common_refs
                            .push((r.out.steps.len().saturating_sub(1), id));
                    }
                }
                "meta" => {
                    r.meta = attr("name");
                    r.meta_text.clear();
                }
                "unconditional-result" if in_action(&path) => {
                    if let Some((_, action)) = r.actions.last_mut() {
                        action.to = attr("step");
                    }
                }
                "conditional-result" if in_action(&path) => {
                    if let Some((_, action)) = r.actions.last_mut() {
                        let to = attr("step").unwrap_or_default();
                        action
                            .rules
                            .push(("conditional result", format!("to step {to}")));
                    }
                }
                "condition" | "validator" | "function" if in_action(&path) => {
                    let kind = match name.as_str() {
                        "condition" => "condition",
                        "validator" => "validator",
                        _ if path.iter().any(|p| p == "pre-functions") => "pre function",
                        _ => "post function",
                    };
                    let class = match attr("type").as_deref() {
                        Some("class") | None => None,
                        Some(other) => Some(other.to_owned()),
                    };
                    r.rule = Some(OpenRule {
                        kind,
                        class,
                        event: None,
                    });
                }
                "arg" if r.rule.is_some() => {
                    r.arg = match attr("name").as_deref() {
                        Some("class.name") => Some("class.name"),
                        Some("eventTypeId") => Some("eventTypeId"),
                        _ => None,
                    };
                    r.arg_text.clear();
                }
                _ => {}
            }
            if empty {
                r.close(&name, path.last().map(String::as_str));
            } else {
                path.push(name);
            }
            continue;
        }
        match event {
            Event::Text(t) => {
                let text = t.decode().map_err(|e| err(&reader, e.to_string()))?;
                r.keep_text(&text);
            }
            Event::CData(t) => {
                let text = t.decode().map_err(|e| err(&reader, e.to_string()))?;
                r.keep_text(&text);
            }
            Event::GeneralRef(g) => {
                // The predefined entities and character references; any other entity is
                // one the descriptor would need a DTD for, which is never read.
                let name = g.decode().map_err(|e| err(&reader, e.to_string()))?;
                let text = match name.as_ref() {
                    "amp" => '&',
                    "lt" => '<',
                    "gt" => '>',
                    "quot" => '"',
                    "apos" => '\'',
                    other => match g.resolve_char_ref() {
                        Ok(Some(c)) => c,
                        _ => return Err(err(&reader, format!("an unknown entity &{other};"))),
                    },
                };
                r.keep_text(text.encode_utf8(&mut [0u8; 4]));
            }
            Event::End(_) => {
                let Some(name) = path.pop() else {
                    return Err(err(&reader, "an end tag with no start".into()));
                };
                r.close(&name, path.last().map(String::as_str));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !path.is_empty() {
        return Err(DescriptorError(format!(
            "it ends inside <{}>",
            path.last().map(String::as_str).unwrap_or_default()
        )));
    }
    assemble(r.out, r.step_status, r.actions, r.common_refs)
}

/// Whether the element being opened is inside an action.
fn in_action(path: &[String]) -> bool {
    path.iter().any(|p| p == "action")
}

fn attribute(e: &BytesStart<'_>, key: &str) -> Option<String> {
    e.try_get_attribute(key)
        .ok()
        .flatten()
        .and_then(|a| a.unescape_value().ok().map(|v| v.trim().to_owned()))
}

impl Reading {
    /// Text goes to the meta element or the argument being read, if any.
    fn keep_text(&mut self, text: &str) {
        if self.meta.is_some() {
            self.meta_text.push_str(text);
        } else if self.arg.is_some() {
            self.arg_text.push_str(text);
        }
    }

    /// An element ends: what it said is kept where it belongs.
    fn close(&mut self, name: &str, parent: Option<&str>) {
        match name {
            "meta" => {
                let value = self.meta_text.trim().to_owned();
                let action = self.actions.last_mut().map(|(_, a)| a);
                match (self.meta.take().as_deref(), parent) {
                    (Some("jira.description"), Some("workflow")) => self.out.description = value,
                    (Some("jira.description"), Some("action")) => {
                        if let Some(action) = action {
                            action.description = value;
                        }
                    }
                    (Some("jira.fieldscreen.id"), Some("action")) if !value.is_empty() => {
                        if let Some(action) = action {
                            action.screen = Some(value);
                        }
                    }
                    (Some("jira.status.id"), Some("step")) if !value.is_empty() => {
                        if let Some(status) = self.step_status.last_mut() {
                            *status = Some(value);
                        }
                    }
                    _ => {}
                }
            }
            "arg" => {
                if let Some(open) = self.rule.as_mut() {
                    let text = Some(self.arg_text.trim().to_owned());
                    match self.arg.take() {
                        Some("class.name") => open.class = text,
                        Some("eventTypeId") => open.event = text,
                        _ => {}
                    }
                }
            }
            "condition" | "validator" | "function" => {
                if let Some(open) = self.rule.take()
                    && let Some((place, action)) = self.actions.last_mut()
                {
                    let class = open.class.unwrap_or_else(|| "(no class)".into());
                    // The event a transition fires is Cloud's own unless the site made it.
                    let own_event = (open.event.as_deref())
                        .and_then(|e| e.parse::<u32>().ok())
                        .filter(|e| *e > MAX_SYSTEM_EVENT);
                    let implicit = (IMPLICIT_RULES.contains(&class.as_str())
                        && own_event.is_none())
                        || (*place == Place::Initial && class == CREATE_PERMISSION_VALIDATOR);
                    if let Some(event) = own_event.filter(|_| class == FIRE_EVENT_FUNCTION) {
                        let what = format!("{class} firing the site's own event type {event}");
                        action.rules.push((open.kind, what));
                    } else if !implicit {
                        action.rules.push((open.kind, class));
                    }
                }
            }
            _ => {}
        }
    }
}

/// Steps and actions become the workflow's steps and transitions.
fn assemble(
    mut out: Descriptor,
    step_status: Vec<Option<String>>,
    actions: Vec<(Place, Action)>,
    common_refs: Vec<(usize, String)>,
) -> Result<Descriptor, DescriptorError> {
    // Each step as read, by its index (actions name that index), and whether it is kept.
    let mut read: Vec<(String, bool)> = Vec::with_capacity(out.steps.len());
    let mut steps = Vec::with_capacity(out.steps.len());
    for (mut step, status) in std::mem::take(&mut out.steps).into_iter().zip(step_status) {
        read.push((step.id.clone(), status.is_some()));
        match status {
            Some(status) => {
                step.status = status;
                steps.push(step);
            }
            None => out.steps_left.push((
                step.id.clone(),
                format!(
                    "step \"{}\" ({}) names no status (no jira.status.id)",
                    step.name, step.id
                ),
            )),
        }
    }
    out.steps = steps;
    let kept = |index: usize| {
        read.get(index)
            .filter(|(_, kept)| *kept)
            .map(|(id, _)| id.clone())
    };
    let has_step = |id: &str| out.steps.iter().any(|s| s.id == id);
    let mut transitions: Vec<(usize, WorkflowTransition)> = Vec::new();
    let mut rules_left: Vec<RuleLeft> = Vec::new();
    let mut more = 0usize;
    for (order, (place, action)) in actions.into_iter().enumerate() {
        let (kind, from, at) = match place {
            Place::Initial => (TransitionKind::Initial, Vec::new(), 0),
            Place::Global => (TransitionKind::Global, Vec::new(), 1),
            Place::Common => {
                let refs: Vec<usize> = common_refs
                    .iter()
                    .filter(|(_, id)| *id == action.id)
                    .map(|(step, _)| *step)
                    .collect();
                let from: Vec<String> = refs.iter().filter_map(|&i| kept(i)).collect();
                // Offered by no step (Jira never shows it), or only by steps left out.
                let Some(&first) = refs.first() else { continue };
                if from.is_empty() {
                    continue;
                }
                (TransitionKind::Directed, from, 2 + first)
            }
            Place::Step(step) => match kept(step) {
                Some(id) => (TransitionKind::Directed, vec![id], 2 + step),
                None => continue,
            },
        };
        let to = match action.to.as_deref() {
            Some("-1") if from.len() == 1 => Some(from[0].clone()),
            Some(to) if has_step(to) => Some(to.to_owned()),
            _ => None,
        };
        let Some(to) = to else {
            let why = match action.to.as_deref() {
                None => "it has no unconditional result".to_owned(),
                Some("-1") => {
                    "it returns to the step it is taken from, from several steps".to_owned()
                }
                Some(to) => format!("it leads to step {to}, which the workflow does not have"),
            };
            out.transitions_left.push((
                action.id.clone(),
                format!("transition \"{}\" ({}): {why}", action.name, action.id),
            ));
            continue;
        };
        for (kind, class) in &action.rules {
            if rules_left.len() < MAX_RULES_LISTED {
                rules_left.push(RuleLeft {
                    transition: (action.id.clone(), action.name.clone()),
                    kind,
                    class: class.clone(),
                });
            } else {
                more += 1;
            }
        }
        transitions.push((
            at * (MAX_ACTIONS + 1) + order,
            WorkflowTransition {
                id: action.id,
                name: action.name,
                description: action.description,
                kind,
                from,
                to,
                screen: action.screen,
            },
        ));
    }
    transitions.sort_by_key(|(sort, _)| *sort);
    out.transitions = transitions.into_iter().map(|(_, t)| t).collect();
    out.rules_left = rules_left;
    out.more_rules_left = more;
    if out.steps.is_empty() {
        return Err(DescriptorError("it has no step with a status".into()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A transition's (id, kind, from, to, screen).
    type Shape<'a> = (
        &'a str,
        TransitionKind,
        Vec<&'a str>,
        &'a str,
        Option<&'a str>,
    );

    /// A descriptor as Jira 8 writes one, cut down: an initial action, a global one with a
    /// screen, a common action two steps offer, a step's own action with a condition, and
    /// a step without a status.
    const DESCRIPTOR: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE workflow PUBLIC "-//OpenSymphony Group//DTD OSWorkflow 2.8//EN" "http://www.opensymphony.com/osworkflow/workflow_2_8.dtd">
<workflow>
  <meta name="jira.description">Bugs &amp; &quot;fixes&quot;</meta>
  <meta name="jira.update.author.key">admin</meta>
  <initial-actions>
    <action id="1" name="Create">
      <validators>
        <validator name="" type="class">
          <arg name="class.name">com.atlassian.jira.workflow.validator.PermissionValidator</arg>
          <arg name="permission">Create Issue</arg>
        </validator>
      </validators>
      <results>
        <unconditional-result old-status="null" status="open" step="1">
          <post-functions>
            <function type="class"><arg name="class.name">com.atlassian.jira.workflow.function.issue.IssueCreateFunction</arg></function>
          </post-functions>
        </unconditional-result>
      </results>
    </action>
  </initial-actions>
  <global-actions>
    <action id="31" name="Done" view="fieldscreen">
      <meta name="jira.description">From anywhere</meta>
      <meta name="jira.fieldscreen.id">3</meta>
      <results><unconditional-result old-status="Not Done" status="Done" step="3"/></results>
    </action>
  </global-actions>
  <common-actions>
    <action id="21" name="Start Progress">
      <meta name="jira.fieldscreen.id"></meta>
      <results><unconditional-result old-status="Not Done" status="Underway" step="2">
        <post-functions><function type="class"><arg name="class.name">com.onresolve.jira.groovy.GroovyFunctionPlugin</arg></function>
        <function type="class"><arg name="class.name">com.atlassian.jira.workflow.function.event.FireIssueEventFunction</arg><arg name="eventTypeId">11</arg></function></post-functions>
      </unconditional-result></results>
    </action>
  </common-actions>
  <steps>
    <step id="1" name="Open">
      <meta name="jira.status.id">1</meta>
      <actions>
        <common-action id="21"/>
        <action id="11" name="Review">
          <restrict-to><conditions><condition type="class"><arg name="class.name">com.atlassian.jira.workflow.condition.PermissionCondition</arg><arg name="permission">Resolve Issue</arg></condition></conditions></restrict-to>
          <results><unconditional-result old-status="Not Done" status="Done" step="3">
            <post-functions><function type="class"><arg name="class.name">com.atlassian.jira.workflow.function.event.FireIssueEventFunction</arg><arg name="eventTypeId">10100</arg></function></post-functions>
          </unconditional-result></results>
        </action>
      </actions>
    </step>
    <step id="2" name="In Progress">
      <meta name="jira.status.id">3</meta>
      <actions>
        <common-action id="21"/>
        <action id="12" name="Nowhere"><results><unconditional-result step="9"/></results></action>
      </actions>
    </step>
    <step id="4" name="Lost"><actions><common-action id="21"/></actions></step>
    <step id="3" name="Done">
      <meta name="jira.status.id">10001</meta>
    </step>
  </steps>
</workflow>
"#;

    #[test]
    fn steps_transitions_and_rules_left_are_read() {
        let d = parse_descriptor(DESCRIPTOR).unwrap();
        assert_eq!(d.description, "Bugs & \"fixes\"");
        let steps: Vec<(&str, &str)> = d
            .steps
            .iter()
            .map(|s| (s.id.as_str(), s.status.as_str()))
            .collect();
        assert_eq!(steps, [("1", "1"), ("2", "3"), ("3", "10001")]);
        assert_eq!(d.steps_left.len(), 1, "{:?}", d.steps_left);
        let transitions: Vec<Shape> = d
            .transitions
            .iter()
            .map(|t| {
                (
                    t.id.as_str(),
                    t.kind,
                    t.from.iter().map(String::as_str).collect(),
                    t.to.as_str(),
                    t.screen.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            transitions,
            [
                ("1", TransitionKind::Initial, vec![], "1", None),
                ("31", TransitionKind::Global, vec![], "3", Some("3")),
                ("21", TransitionKind::Directed, vec!["1", "2"], "2", None),
                ("11", TransitionKind::Directed, vec!["1"], "3", None),
            ]
        );
        assert_eq!(d.transitions[1].description, "From anywhere");
        assert_eq!(d.transitions_left.len(), 1, "{:?}", d.transitions_left);
        assert!(d.transitions_left[0].1.contains("step 9"));
        let rules: Vec<(&str, &str, &str)> = d
            .rules_left
            .iter()
            .map(|r| (r.transition.0.as_str(), r.kind, r.class.as_str()))
            .collect();
        // The create permission check and Jira's own post functions are Cloud's too.
        assert_eq!(
            rules,
            [
                (
                    "21",
                    "post function",
                    "com.onresolve.jira.groovy.GroovyFunctionPlugin"
                ),
                (
                    "11",
                    "condition",
                    "com.atlassian.jira.workflow.condition.PermissionCondition"
                ),
                (
                    "11",
                    "post function",
                    "com.atlassian.jira.workflow.function.event.FireIssueEventFunction firing the site's own event type 10100"
                ),
            ]
        );
    }

    #[test]
    fn hostile_descriptors_are_refused_with_where() {
        for (text, expect) in [
            ("<workflow><steps><step id=\"1\">", "ends inside"),
            ("<workflow>&xxe;</workflow>", "unknown entity"),
            ("<workflow><steps></workflow>", "byte"),
            ("<workflow/>", "no step"),
        ] {
            let e = parse_descriptor(text).unwrap_err();
            assert!(e.0.contains(expect), "{text}: {e}");
        }
        let deep = "<a>".repeat(MAX_DEPTH + 1);
        assert!(
            parse_descriptor(&deep)
                .unwrap_err()
                .0
                .contains("levels deep")
        );
    }
}
