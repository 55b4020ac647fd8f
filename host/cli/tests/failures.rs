//! Rows the target refuses, as an operator meets them: `airlock migrate` exits 3 and
//! `airlock failures` and `airlock report` name each one (kind, id, code, and the override
//! that fixes it); once the override file answers them, the next `migrate` retries them,
//! writes each exactly once and exits 0.

mod support;

use std::path::Path;
use std::process::Output;

use airlock_model::jira::Kind;
use airlock_site::{LocalSite, Site};
use support::Backend;

on_each_backend!(a_refused_row_is_listed_then_written_once_after_its_override);

fn text(o: &Output) -> String {
    format!(
        "{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn json(backend: &Backend, cwd: &Path, args: &[&str]) -> serde_json::Value {
    let out = backend.run(args, cwd);
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice(&out.stdout).expect("the JSON parses")
}

fn a_refused_row_is_listed_then_written_once_after_its_override(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let spec = airlock_fixtures::Spec {
        issues: 200,
        unwritable: true,
        ..airlock_fixtures::Spec::default()
    };
    let generated = airlock_fixtures::write_backup(&cwd.join("b.zip"), &spec).unwrap();
    let label = generated
        .planted_unwritable
        .iter()
        .find(|p| p.entity == "Label")
        .unwrap()
        .id
        .clone();
    let worklog = generated
        .planted_unwritable
        .iter()
        .find(|p| p.entity == "Worklog")
        .unwrap()
        .id
        .clone();
    let site = cwd.join("site.db");
    let target = format!("local:{}", site.display());
    let migrate = |overrides: &serde_json::Value| {
        std::fs::write(cwd.join("o.json"), overrides.to_string()).unwrap();
        backend.run(
            &[
                "migrate",
                "b.zip",
                "--work",
                "w",
                "--target",
                &target,
                "--overrides",
                "o.json",
            ],
            cwd,
        )
    };

    let out = migrate(&serde_json::json!({}));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let listed = json(
        &backend,
        cwd,
        &["failures", "--work", "w", "--format", "json"],
    );
    let report = json(
        &backend,
        cwd,
        &["report", "--work", "w", "--format", "json"],
    );
    for rows in [&listed, &report["failures"]] {
        let rows = rows.as_array().unwrap();
        assert_eq!(rows.len(), 2, "{rows:?}");
        for (kind, id, field) in [
            ("label", &label, "label"),
            ("worklog", &worklog, "time_spent"),
        ] {
            let row = rows
                .iter()
                .find(|r| r["kind"] == kind && r["id"] == id.as_str())
                .unwrap_or_else(|| panic!("{kind} {id} not listed: {rows:?}"));
            assert_eq!(row["code"], "invalid-value", "{row}");
            let reason = row["reason"].as_str().unwrap();
            // Which override fixes it, spelled out.
            assert!(
                reason.contains(&format!("\"rows\": {{\"{kind}\": {{\"{id}\": {{\"{field}\"")),
                "{reason}"
            );
        }
    }
    // Predicted in the plan before the load.
    let predicted = report["plan"]["rows"].as_array().unwrap();
    assert_eq!(
        predicted
            .iter()
            .filter(|r| r["outcome"] == "refused")
            .count(),
        2,
        "{predicted:?}"
    );
    let labels = |site: &Path| LocalSite::open(site).unwrap().counts().unwrap()[&Kind::Label];
    let before = labels(&site);

    let fixed = serde_json::json!({
        "rows": {
            "label": { label.as_str(): { "label": airlock_fixtures::UNWRITABLE_LABEL_FIX } },
            "worklog": { worklog.as_str(): { "time_spent": 600 } },
        }
    });
    let out = migrate(&fixed);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(labels(&site), before + 1, "the label is written once");
    let mut local = LocalSite::open(&site).unwrap();
    for (kind, id) in [(Kind::Label, &label), (Kind::Worklog, &worklog)] {
        assert!(
            local.find_written(kind, std::slice::from_ref(id)).unwrap()[0].is_some(),
            "{kind:?} {id} written"
        );
    }
    drop(local);
    let listed = json(
        &backend,
        cwd,
        &["failures", "--work", "w", "--format", "json"],
    );
    assert_eq!(listed, serde_json::json!([]));

    // A rerun has nothing to retry and writes nothing twice.
    let out = migrate(&fixed);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(labels(&site), before + 1);
}
