//! The app storage rules live in [`airlock_model::app_storage`] (the sandbox checks
//! outputs as a batch returns); a target checks them again before it writes.

pub use airlock_model::app_storage::*;

use crate::TargetError;
use airlock_model::{AppKey, AppOutput};

/// [`check_all`], as a target's error.
pub fn check_outputs(app: &AppKey, outputs: &[AppOutput]) -> Result<(), TargetError> {
    check_all(app, outputs).map_err(|refused| match refused {
        Refused::AppKey(rule) => TargetError::InvalidAppKey { rule },
        Refused::Output(invalid) => TargetError::InvalidOutput(invalid),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SOURCE_PROPERTY;
    use airlock_model::EntityKind;

    fn app() -> AppKey {
        AppKey::new("com.example.timesheets")
    }

    fn entity(entity: EntityKind, entity_id: &str, key: &str) -> AppOutput {
        AppOutput::EntityProperty {
            entity,
            entity_id: entity_id.into(),
            key: key.into(),
            value: "1".into(),
        }
    }

    #[test]
    fn keys_land_in_the_apps_namespace() {
        let app = app();
        assert_eq!(
            stored_key(&app, &entity(EntityKind::Issue, "10001", "hours")),
            "com.example.timesheets:hours"
        );
        assert_eq!(
            stored_key(
                &app,
                &AppOutput::AppProperty {
                    key: "settings".into(),
                    value: "{}".into()
                }
            ),
            "com.example.timesheets:settings"
        );
        assert_eq!(
            stored_key(
                &app,
                &AppOutput::AppDocument {
                    collection: "teams".into(),
                    id: "7".into(),
                    body: "{}".into()
                }
            ),
            "com.example.timesheets:teams:7"
        );
        // Airlock's own keys are out of reach, even for an app keyed like the ledger.
        for app in [app, AppKey::new("airlock"), AppKey::new("airlock.journal")] {
            for key in [
                SOURCE_PROPERTY,
                "airlock.journal.user.0",
                "source",
                "user.0",
            ] {
                let stored = stored_key(&app, &entity(EntityKind::Issue, "1", key));
                assert!(check_outputs(&app, &[entity(EntityKind::Issue, "1", key)]).is_ok());
                assert_ne!(stored, SOURCE_PROPERTY);
                assert!(!stored.starts_with("airlock.journal."), "{stored}");
                assert!(stored.starts_with(&namespace(&app)));
            }
        }
    }

    #[test]
    fn ids_and_keys_that_could_change_a_path_are_refused() {
        let app = app();
        let refused = |o: AppOutput| check_output(&app, &o).unwrap_err();
        for (key, rule) in [
            ("", OutputRule::Empty),
            (".", OutputRule::DotSegment),
            ("..", OutputRule::DotSegment),
            ("a\u{0}b", OutputRule::ControlCharacter),
            ("a\nb", OutputRule::ControlCharacter),
            ("a/b", OutputRule::Character { allowed: KEY_CHARS }),
            ("%2e%2e", OutputRule::Character { allowed: KEY_CHARS }),
            ("?x", OutputRule::Character { allowed: KEY_CHARS }),
            ("#", OutputRule::Character { allowed: KEY_CHARS }),
            ("a:b", OutputRule::Character { allowed: KEY_CHARS }),
            ("clé", OutputRule::Character { allowed: KEY_CHARS }),
        ] {
            assert_eq!(
                refused(entity(EntityKind::Issue, "1", key)),
                (OutputField::Key, rule),
                "{key:?}"
            );
            assert_eq!(
                refused(AppOutput::AppDocument {
                    collection: "c".into(),
                    id: key.into(),
                    body: "1".into()
                }),
                (OutputField::DocumentId, rule),
                "{key:?}"
            );
        }
        for id in ["1/..", "10001?x", "-1", "1e3", " 1", "١٢"] {
            assert_eq!(
                refused(entity(EntityKind::Worklog, id, "k")),
                (OutputField::EntityId, OutputRule::NotNumeric),
                "{id:?}"
            );
        }
        assert_eq!(
            refused(entity(EntityKind::Issue, "1234567890123456789", "k")),
            (OutputField::EntityId, OutputRule::TooLong { max: 18 })
        );
        for id in [
            "5b10a2844c20165700ede21g",
            "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077",
        ] {
            assert!(check_output(&app, &entity(EntityKind::User, id, "k")).is_ok());
        }
        for id in ["..", "a/b", "a.b", "x?accountId=y", "a b"] {
            assert!(
                check_output(&app, &entity(EntityKind::User, id, "k")).is_err(),
                "{id:?}"
            );
        }
        assert!(check_output(&app, &entity(EntityKind::User, &"a".repeat(129), "k")).is_err());
    }

    #[test]
    fn the_255_limit_is_the_stored_keys() {
        let app = app();
        let room = MAX_STORED_KEY - app.as_str().len() - 1;
        assert!(check_output(&app, &entity(EntityKind::Issue, "1", &"k".repeat(room))).is_ok());
        assert_eq!(
            check_output(&app, &entity(EntityKind::Issue, "1", &"k".repeat(room + 1))),
            Err((
                OutputField::Key,
                OutputRule::StoredKeyTooLong {
                    max: MAX_STORED_KEY
                }
            ))
        );
    }

    #[test]
    fn app_keys_are_checked_and_the_first_bad_output_is_named() {
        for bad in ["", ".", "..", "a:b", "a/b", "a b"] {
            assert!(matches!(
                check_outputs(&AppKey::new(bad), &[]),
                Err(TargetError::InvalidAppKey { .. })
            ));
        }
        assert!(check_app_key(&AppKey::new("x".repeat(81))).is_err());
        let outputs = [
            entity(EntityKind::Issue, "1", "fine"),
            AppOutput::AppProperty {
                key: "p".into(),
                value: "{".into(),
            },
        ];
        match check_outputs(&app(), &outputs) {
            Err(TargetError::InvalidOutput(e)) => {
                assert_eq!(
                    e,
                    InvalidOutput {
                        index: 1,
                        kind: "app-property",
                        field: OutputField::Value,
                        rule: OutputRule::NotJson,
                    }
                );
                assert_eq!(
                    e.to_string(),
                    "app output 1 (app-property): its value is not valid JSON"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
