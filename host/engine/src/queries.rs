//! Saved filters' queries: the ids they name, checked against the backup by the integrity
//! check and rewritten to the target's by the load (with `airlock-jql`).

use airlock_model::Namespace;
use airlock_model::jira::{CardColor, CardColorValue, Kind, Record, Target};

use crate::extract::SourceIndex;

/// The kind whose mappings a namespace holds, if Airlock migrates it.
pub(crate) fn kind_of(ns: Namespace) -> Option<Kind> {
    Kind::ALL.into_iter().find(|k| k.namespace() == Some(ns))
}

/// The query of a record that holds one (a filter, a board's swimlane, quick filter or
/// card colour by query).
pub(crate) fn query_of(record: &Record) -> Option<&str> {
    match record {
        Record::Filter(f) => Some(&f.jql),
        Record::Swimlane(q) | Record::QuickFilter(q) => Some(&q.jql),
        Record::CardColor(CardColor {
            value: CardColorValue::Query(jql),
            ..
        }) => Some(jql),
        _ => None,
    }
}

/// What to write in the override file for a record whose query cannot be rewritten.
pub(crate) fn fix_hint(kind: Kind, id: &str) -> String {
    let kind = kind.name();
    format!(
        "give its query in the override file, as the source names things (\"rows\": {{\"{kind}\": {{\"{id}\": {{\"jql\": …}}}}}}), or skip it ({{\"{id}\": \"skip\"}})"
    )
}

/// Why each id of a query cannot be rewritten on the target, as the backup shows: ids of
/// rows not in the backup, and ids of kinds not migrated. Empty when every id will have
/// a cloud id (once its row is loaded).
pub(crate) fn problems(jql: &str, index: &SourceIndex) -> Vec<String> {
    let mut out = Vec::new();
    let rewritten = airlock_jql::rewrite(jql, &mut |ns, id| {
        match kind_of(ns) {
            Some(kind) if index.contains(Target::Kind(kind), id) => {}
            Some(kind) => out.push(format!(
                "its query names {} {id}, which is not in the backup",
                kind.entity()
            )),
            None => out.push(format!(
                "its query names {} {id}, and Airlock does not migrate {} yet",
                ns.as_str(),
                ns.as_str()
            )),
        }
        None
    });
    if let Err(e) = rewritten {
        out.push(format!("its query cannot be read: {e}"));
    }
    out
}

/// The filters a query names (`filter = 10300`): loaded before it.
pub(crate) fn named_filters(jql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let _ = airlock_jql::rewrite(jql, &mut |ns, id| {
        if ns == Namespace::FILTER {
            out.push(id.to_owned());
        }
        None
    });
    out
}
