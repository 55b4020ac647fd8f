//! Findings of the integrity check and the target analysis, counted per check with a few
//! examples each: a site with a million broken rows gives a readable report, not a million
//! lines.

use std::collections::BTreeMap;

use airlock_model::Severity;
use serde::{Deserialize, Serialize};

/// How many examples a report keeps per check.
pub const EXAMPLES_PER_CHECK: usize = 10;

/// One problem, located precisely enough to fix it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable code, e.g. `dangling-reference`.
    pub check: String,
    pub severity: Severity,
    /// Where: `entities.xml`, `activeobjects.xml`, or an app's table.
    pub file: String,
    /// The entity (`Issue`, `User`…) or AO table.
    pub entity: String,
    /// The row's id (or key), when it has one.
    pub id: String,
    /// The line the row starts on, when known.
    pub line: Option<u64>,
    /// What is wrong and what to do.
    pub message: String,
}

/// Every finding of one check: the count and the first examples.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckSummary {
    pub check: String,
    pub severity: Severity,
    pub count: u64,
    pub examples: Vec<Finding>,
}

/// Collects findings, keeping counts and the first examples per (check, severity).
/// In JSON: the list of check summaries.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "Vec<CheckSummary>", into = "Vec<CheckSummary>")]
pub struct Findings {
    checks: BTreeMap<(String, Severity), CheckSummary>,
}

impl From<Vec<CheckSummary>> for Findings {
    fn from(list: Vec<CheckSummary>) -> Findings {
        let mut findings = Findings::default();
        for summary in list {
            findings
                .checks
                .insert((summary.check.clone(), summary.severity), summary);
        }
        findings
    }
}

impl From<Findings> for Vec<CheckSummary> {
    fn from(findings: Findings) -> Vec<CheckSummary> {
        findings.summaries().into_iter().cloned().collect()
    }
}

impl Findings {
    pub fn push(&mut self, finding: Finding) {
        let summary = self
            .checks
            .entry((finding.check.clone(), finding.severity))
            .or_insert_with(|| CheckSummary {
                check: finding.check.clone(),
                severity: finding.severity,
                count: 0,
                examples: Vec::new(),
            });
        summary.count += 1;
        if summary.examples.len() < EXAMPLES_PER_CHECK {
            summary.examples.push(finding);
        }
    }

    pub fn extend(&mut self, other: Findings) {
        for (_, summary) in other.checks {
            let into = self
                .checks
                .entry((summary.check.clone(), summary.severity))
                .or_insert_with(|| CheckSummary {
                    examples: Vec::new(),
                    count: 0,
                    ..summary.clone()
                });
            into.count += summary.count;
            let room = EXAMPLES_PER_CHECK.saturating_sub(into.examples.len());
            into.examples
                .extend(summary.examples.into_iter().take(room));
        }
    }

    /// Checks by severity (fatal first), then by code.
    pub fn summaries(&self) -> Vec<&CheckSummary> {
        let mut all: Vec<_> = self.checks.values().collect();
        all.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.check.cmp(&b.check)));
        all
    }

    pub fn count(&self, severity: Severity) -> u64 {
        self.checks
            .values()
            .filter(|c| c.severity == severity)
            .map(|c| c.count)
            .sum()
    }

    /// How many findings a check produced (any severity).
    pub fn count_of(&self, check: &str) -> u64 {
        self.checks
            .values()
            .filter(|c| c.check == check)
            .map(|c| c.count)
            .sum()
    }

    pub fn is_blocking(&self) -> bool {
        self.count(Severity::Fatal) > 0
    }
}
