use super::*;
use std::collections::HashMap;

/// Cloud ids for the test: server id `n` → `n + 90000` in every namespace; users and
/// custom fields as the core load maps them.
fn cloud() -> HashMap<(Namespace, &'static str), &'static str> {
    HashMap::from([
        ((Namespace::PROJECT, "10000"), "90000"),
        ((Namespace::STATUS, "1"), "90001"),
        ((Namespace::STATUS, "10001"), "100001"),
        (
            (Namespace::USER, "JIRAUSER10100"),
            "5b10ac8d82e05b22cc7d4ef5",
        ),
        (
            (Namespace::USER, "admin"),
            "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077",
        ),
        ((Namespace::CUSTOM_FIELD, "10100"), "customfield_10042"),
        ((Namespace::VERSION, "10200"), "100200"),
        ((Namespace::COMPONENT, "10300"), "100300"),
        ((Namespace::SPRINT, "7"), "42"),
        ((Namespace::FILTER, "10400"), "100400"),
        ((Namespace::ISSUE, "10500"), "100500"),
    ])
}

fn run(query: &str) -> Rewritten {
    let map = cloud();
    rewrite(query, &mut |ns, id| {
        map.get(&(ns, id)).map(|c| (*c).to_owned())
    })
    .unwrap_or_else(|e| panic!("{query}: {e}"))
}

#[test]
fn every_kind_of_id_a_filter_names_is_rewritten_to_the_clouds() {
    let r = run(
        "project = 10000 AND status in (1, \"10001\") AND assignee = JIRAUSER10100 \
         AND cf[10100] ~ \"rocket\" AND fixVersion = 10200 AND component = 10300 \
         AND sprint = 7 AND filter = 10400 ORDER BY cf[10100] DESC, key ASC",
    );
    assert_eq!(
        r.query,
        "project = 90000 AND status in (90001, \"100001\") AND assignee = \
         5b10ac8d82e05b22cc7d4ef5 AND cf[10042] ~ \"rocket\" AND fixVersion = 100200 AND \
         component = 100300 AND sprint = 42 AND filter = 100400 ORDER BY cf[10042] DESC, key ASC"
    );
    assert_eq!(r.rewritten, 10);
    assert!(r.unresolved.is_empty(), "{:?}", r.unresolved);
}

#[test]
fn names_keys_functions_dates_and_text_are_left_alone() {
    let q = "project = ACME AND status = \"In Progress\" AND assignee in membersOf(\"jira-devs\") \
             AND reporter = currentUser() AND created >= \"2020-01-01\" AND text ~ \"10000\" \
             AND issue = ACME-1 AND sprint in openSprints() AND assignee is EMPTY";
    let r = run(q);
    assert_eq!(r.query, q);
    assert_eq!(r.rewritten, 0);
    assert!(r.unresolved.is_empty(), "{:?}", r.unresolved);
}

#[test]
fn what_has_no_cloud_id_stays_and_is_listed() {
    let r = run("project = 10999 AND assignee = ghost AND cf[20000] = 3 AND issue = 10500");
    assert_eq!(
        r.query,
        "project = 10999 AND assignee = ghost AND cf[20000] = 3 AND issue = 100500"
    );
    let listed: Vec<(&str, Namespace, &str)> = (r.unresolved.iter())
        .map(|u| (u.field.as_str(), u.namespace, u.id.as_str()))
        .collect();
    assert_eq!(
        listed,
        [
            ("project", Namespace::PROJECT, "10999"),
            ("assignee", Namespace::USER, "ghost"),
            ("cf[20000]", Namespace::CUSTOM_FIELD, "20000"),
        ]
    );
}

#[test]
fn history_predicates_not_and_parentheses_are_followed() {
    let r = run(
        "NOT (status WAS 1 BY admin BEFORE \"2021-01-01\") OR status CHANGED FROM 1 TO 10001 \
         BY (JIRAUSER10100, admin) OR status WAS NOT IN (10001)",
    );
    assert_eq!(
        r.query,
        "NOT (status WAS 90001 BY \"557058:f58131cb-b67d-43c7-b30d-6b58d40bd077\" BEFORE \
         \"2021-01-01\") OR status CHANGED FROM 90001 TO 100001 BY (5b10ac8d82e05b22cc7d4ef5, \
         \"557058:f58131cb-b67d-43c7-b30d-6b58d40bd077\") OR status WAS NOT IN (100001)"
    );
}

#[test]
fn is_empty_and_is_not_empty_take_no_value_and_the_next_clause_is_still_read() {
    let r = run(
        "assignee IS NOT EMPTY AND project = 10000 AND status is empty AND component = 10300 \
         AND fixVersion = EMPTY AND sprint != null",
    );
    assert_eq!(
        r.query,
        "assignee IS NOT EMPTY AND project = 90000 AND status is empty AND component = 100300 \
         AND fixVersion = EMPTY AND sprint != null"
    );
    assert!(r.unresolved.is_empty(), "{:?}", r.unresolved);
}

#[test]
fn quoting_and_escapes_survive_and_broken_queries_are_refused() {
    let r = run("reporter = 'JIRAUSER10100' AND summary ~ \"say \\\"hi\\\"\\n\"");
    assert_eq!(
        r.query,
        "reporter = '5b10ac8d82e05b22cc7d4ef5' AND summary ~ \"say \\\"hi\\\"\\n\""
    );
    assert_eq!(
        rewrite("summary ~ \"open", &mut |_, _| None),
        Err(JqlError::UnterminatedString(10))
    );
    let long = "x".repeat(MAX_QUERY_BYTES + 1);
    assert!(matches!(
        rewrite(&long, &mut |_, _| None),
        Err(JqlError::TooLong(_))
    ));
    // Case does not matter for fields and keywords; an empty query is empty.
    assert_eq!(
        run("PROJECT IN (10000) order by Cf[10100]").query,
        "PROJECT IN (90000) order by Cf[10100]"
    );
    assert_eq!(run("").query, "");
}
