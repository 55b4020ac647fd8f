use crate::manifest::Manifest;
use airlock_model::{AoPrefix, AppKey, DataScope, Namespace};
use std::collections::BTreeSet;

/// What an operator granted an app for one migration: which app it is, which exact
/// component (by content hash) may act for it, the mapping namespaces it may resolve and
/// the data scopes they consented to.
///
/// The app's identity comes from here, never from the plugin: the Active Objects prefix
/// (whose tables it reads) and the namespace of its Cloud properties derive from
/// `app_key`, and a component whose hash or declared key differ is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub app_key: AppKey,
    /// SHA-256 of the component the operator enabled (hex, as [`crate::PluginInfo`]).
    pub plugin_sha256: String,
    pub namespaces: BTreeSet<Namespace>,
    pub scopes: BTreeSet<DataScope>,
}

impl Grant {
    /// Grants nothing yet: the plugin can read its own tables but resolve no id.
    pub fn new(app_key: AppKey, plugin_sha256: impl Into<String>) -> Grant {
        Grant {
            app_key,
            plugin_sha256: plugin_sha256.into(),
            namespaces: BTreeSet::new(),
            scopes: BTreeSet::new(),
        }
    }

    /// Grants this component everything its manifest asks for (the operator accepted it
    /// as shown), bound to its content hash.
    pub fn as_asked(plugin: &crate::Plugin) -> Grant {
        let manifest = plugin.manifest();
        Grant {
            app_key: manifest.app_key.clone(),
            plugin_sha256: plugin.info().sha256.clone(),
            namespaces: manifest.all_namespaces().collect(),
            scopes: manifest.scopes.iter().copied().collect(),
        }
    }

    pub fn namespace(mut self, namespace: Namespace) -> Grant {
        self.namespaces.insert(namespace);
        self
    }

    pub fn scope(mut self, scope: DataScope) -> Grant {
        self.scopes.insert(scope);
        self
    }

    /// Scopes the manifest asks for that this grant does not give: the operator must
    /// consent to all of them before the plugin may run.
    pub fn missing_scopes(&self, manifest: &Manifest) -> Vec<DataScope> {
        manifest
            .scopes
            .iter()
            .filter(|s| !self.scopes.contains(s))
            .copied()
            .collect()
    }
}

/// What one plugin may touch in one run: the grant intersected with the manifest, and
/// tables limited to the app's own prefix. Checked on every import call.
#[derive(Clone, Debug)]
pub(crate) struct Access {
    prefix: AoPrefix,
    tables: BTreeSet<String>,
    namespaces: BTreeSet<Namespace>,
    /// Optional namespaces the operator did not grant: their ids resolve to nothing.
    withheld: BTreeSet<Namespace>,
    publishes: BTreeSet<Namespace>,
    lookups: BTreeSet<(String, String)>,
}

/// Why an import call was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("table `{table}` is not one of this app's tables (prefix {prefix}_)")]
    ForeignTable { table: String, prefix: String },
    #[error("table `{0}` is not declared in the plugin's manifest")]
    UndeclaredTable(String),
    /// The rule and its wording are the contract's, so the SDK's test harness refuses
    /// exactly what the host does.
    #[error(transparent)]
    UndeclaredNamespace(#[from] airlock_contract::UndeclaredNamespace),
    #[error("namespace `{0}` was not granted by the operator")]
    UngrantedNamespace(String),
    #[error(
        "namespace `{0}` is not one this plugin publishes (it may publish only app:<its app key>:<an entity its manifest's `publishes` names>)"
    )]
    UndeclaredPublish(String),
    #[error(
        "`{table}.{column}` is not one of the manifest's lookups; declare it to find rows by it"
    )]
    UndeclaredLookup { table: String, column: String },
}

impl Access {
    pub(crate) fn new(manifest: &Manifest, grant: &Grant) -> Access {
        // The granted app's prefix: a session checks the manifest names the same app.
        let prefix = grant.app_key.ao_prefix();
        Access {
            tables: manifest
                .tables
                .iter()
                .filter(|t| prefix.owns(t))
                .cloned()
                .collect(),
            namespaces: manifest
                .all_namespaces()
                .filter(|ns| grant.namespaces.contains(ns))
                .collect(),
            withheld: manifest
                .optional_namespaces
                .iter()
                .filter(|ns| !grant.namespaces.contains(ns))
                .copied()
                .collect(),
            publishes: manifest.publishes.iter().copied().collect(),
            lookups: manifest.lookups.iter().cloned().collect(),
            prefix,
        }
    }

    pub(crate) fn table(&self, table: &str) -> Result<(), Denied> {
        if !self.prefix.owns(table) {
            return Err(Denied::ForeignTable {
                table: table.to_owned(),
                prefix: self.prefix.to_string(),
            });
        }
        if !self.tables.contains(table) {
            return Err(Denied::UndeclaredTable(table.to_owned()));
        }
        Ok(())
    }

    /// The namespace a `resolve` names, if the plugin may resolve it; `Ok(None)` for an
    /// optional one the operator withheld (every id answers nothing).
    pub(crate) fn namespace(
        &self,
        manifest: &Manifest,
        name: &str,
    ) -> Result<Option<Namespace>, Denied> {
        let declared = Namespace::find_declared(&manifest.namespaces, name).or_else(|e| {
            Namespace::find_declared(&manifest.optional_namespaces, name).map_err(|_| e)
        })?;
        if self.namespaces.contains(&declared) {
            Ok(Some(declared))
        } else if self.withheld.contains(&declared) {
            Ok(None)
        } else {
            Err(Denied::UngrantedNamespace(name.to_owned()))
        }
    }

    /// Whether the plugin may resolve `ns` (declared and granted).
    pub(crate) fn may_resolve(&self, ns: Namespace) -> bool {
        self.namespaces.contains(&ns)
    }

    /// The namespace a `publish` names: one of the app's own the manifest declares.
    pub(crate) fn publish(&self, name: &str) -> Result<Namespace, Denied> {
        self.publishes
            .iter()
            .copied()
            .find(|ns| ns.as_str() == name)
            .ok_or_else(|| Denied::UndeclaredPublish(name.to_owned()))
    }

    /// A `find` by `table.column`: the table as for every read, the column declared.
    pub(crate) fn lookup(&self, table: &str, column: &str) -> Result<(), Denied> {
        self.table(table)?;
        if self
            .lookups
            .contains(&(table.to_owned(), column.to_owned()))
        {
            Ok(())
        } else {
            Err(Denied::UndeclaredLookup {
                table: table.to_owned(),
                column: column.to_owned(),
            })
        }
    }
}

/// Refuses an app whose Active Objects prefix is another app's: it would read that app's
/// tables. `others` are the keys of every other app of the migration (installed in the
/// backup, or enabled as plugins).
pub fn check_identity<'a>(
    app_key: &AppKey,
    others: impl IntoIterator<Item = &'a AppKey>,
) -> Result<(), crate::ConsentError> {
    match others
        .into_iter()
        .find(|other| app_key.collides_with(other))
    {
        Some(other) => Err(crate::ConsentError::PrefixCollision {
            app_key: app_key.to_string(),
            other: other.to_string(),
            prefix: app_key.ao_prefix().to_string(),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::RequestedLimits;
    use airlock_model::AppKey;

    fn manifest() -> Manifest {
        let key = AppKey::new("com.atlassian.example.ao.myplugin");
        Manifest {
            tables: vec![
                key.ao_prefix().table("MY_OBJECT"),
                "AO_60DB71_SPRINT".into(),
            ],
            app_key: key,
            name: "x".into(),
            version: "1".into(),
            namespaces: vec![Namespace::USER, Namespace::ISSUE],
            optional_namespaces: vec![Namespace::PROJECT],
            publishes: vec![Namespace::app("com.atlassian.example.ao.myplugin", "thing").unwrap()],
            lookups: vec![("AO_28BE2D_MY_OBJECT".into(), "OWNER".into())],
            scopes: vec![DataScope::AppDataOther],
            outputs: vec![],
            requested: RequestedLimits::default(),
            contract: crate::manifest::Contract::V2,
        }
    }

    fn all(m: &Manifest) -> Grant {
        Grant {
            app_key: m.app_key.clone(),
            plugin_sha256: "sha".into(),
            namespaces: m.all_namespaces().collect(),
            scopes: m.scopes.iter().copied().collect(),
        }
    }

    #[test]
    fn tables_are_limited_to_the_derived_prefix_even_if_declared() {
        let m = manifest();
        let access = Access::new(&m, &all(&m));
        assert_eq!(access.table("AO_28BE2D_MY_OBJECT"), Ok(()));
        assert!(matches!(
            access.table("AO_60DB71_SPRINT"),
            Err(Denied::ForeignTable { .. })
        ));
        assert!(matches!(
            access.table("AO_28BE2D_OTHER"),
            Err(Denied::UndeclaredTable(_))
        ));
    }

    #[test]
    fn namespaces_are_grant_intersected_with_manifest() {
        let m = manifest();
        let access = Access::new(
            &m,
            &Grant::new(m.app_key.clone(), "sha")
                .namespace(Namespace::USER)
                .namespace(Namespace::WORKLOG),
        );
        assert_eq!(
            access.namespace(&m, "identity:user"),
            Ok(Some(Namespace::USER))
        );
        // Optional and not granted: it resolves, to nothing.
        assert_eq!(access.namespace(&m, "jira/classic:project"), Ok(None));
        assert_eq!(
            access.namespace(&m, "jira:issue"),
            Err(Denied::UngrantedNamespace("jira:issue".into()))
        );
        assert_eq!(
            access.namespace(&m, "jira:worklog"),
            Err(Denied::UndeclaredNamespace(
                airlock_contract::UndeclaredNamespace("jira:worklog".into())
            ))
        );
    }

    #[test]
    fn a_plugin_publishes_only_its_own_declared_namespaces_and_finds_by_declared_columns() {
        let m = manifest();
        let access = Access::new(&m, &all(&m));
        assert!(
            access
                .publish("app:com.atlassian.example.ao.myplugin:thing")
                .is_ok()
        );
        assert!(matches!(
            access.publish("app:com.atlassian.example.ao.myplugin:other"),
            Err(Denied::UndeclaredPublish(_))
        ));
        assert!(matches!(
            access.publish("app:com.other:thing"),
            Err(Denied::UndeclaredPublish(_))
        ));
        assert_eq!(access.lookup("AO_28BE2D_MY_OBJECT", "OWNER"), Ok(()));
        assert!(matches!(
            access.lookup("AO_28BE2D_MY_OBJECT", "NAME"),
            Err(Denied::UndeclaredLookup { .. })
        ));
        assert!(matches!(
            access.lookup("AO_60DB71_SPRINT", "OWNER"),
            Err(Denied::ForeignTable { .. })
        ));
    }

    #[test]
    fn missing_scopes_are_reported() {
        let m = manifest();
        assert_eq!(
            Grant::new(m.app_key.clone(), "sha").missing_scopes(&m),
            vec![DataScope::AppDataOther]
        );
        assert!(all(&m).missing_scopes(&m).is_empty());
    }
}
