use crate::ctx::Namespace;
pub use airlock_contract::{DataScope, ao_prefix, ao_table};

/// The output kinds a plugin declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OutputKind {
    EntityProperty,
    AppProperty,
    AppDocument,
}

/// Limits a plugin asks for; the host grants at most its own ceilings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    pub fuel_per_batch: Option<u64>,
    pub memory_bytes: Option<u64>,
    pub batch_rows: Option<u32>,
}

/// What the plugin is and needs; the operator sees it before enabling the app.
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    pub app_key: String,
    pub name: String,
    pub version: String,
    /// Full Active Objects table names (`AO_xxxxxx_NAME`).
    pub tables: Vec<String>,
    pub namespaces: Vec<String>,
    pub scopes: Vec<DataScope>,
    pub outputs: Vec<OutputKind>,
    pub limits: Limits,
    /// Columns that some versions of the app (or of Jira) lack: (full table name,
    /// column). Only the SDK reads them (the host sends whatever columns a table has),
    /// so an `opt_*` accessor reads such a column as `None` where it is absent.
    pub optional_columns: Vec<(String, String)>,
}

impl Manifest {
    pub fn new(app_key: &str, name: &str, version: &str) -> Manifest {
        Manifest {
            app_key: app_key.to_owned(),
            name: name.to_owned(),
            version: version.to_owned(),
            tables: Vec::new(),
            namespaces: Vec::new(),
            scopes: Vec::new(),
            outputs: Vec::new(),
            limits: Limits::default(),
            optional_columns: Vec::new(),
        }
    }

    /// Declares one of the app's tables by entity name (`TEAM` becomes `AO_xxxxxx_TEAM`).
    pub fn table(mut self, entity: &str) -> Manifest {
        self.tables.push(ao_table(&self.app_key, entity));
        self
    }

    /// Declares a table by its full name, as given. The host refuses the plugin if the
    /// name lacks the app's prefix.
    pub fn raw_table(mut self, table: &str) -> Manifest {
        self.tables.push(table.to_owned());
        self
    }

    /// Marks a column of one of the app's tables (by entity name, as [`Manifest::table`])
    /// as optional: real tables differ across versions of an app, and a column added in
    /// a later version is absent from older backups. Where it is absent, `opt_*`
    /// accessors read it as `None` and [`crate::Row::has`] says `false`; an absent column
    /// that is not marked is an error naming it and its table.
    pub fn optional_column(mut self, entity: &str, column: &str) -> Manifest {
        self.optional_columns
            .push((ao_table(&self.app_key, entity), column.to_owned()));
        self
    }

    /// Whether the manifest marks this column of this table (full name) optional.
    pub fn is_optional(&self, table: &str, column: &str) -> bool {
        self.optional_columns
            .iter()
            .any(|(t, c)| t == table && c == column)
    }

    /// Declares a mapping namespace the plugin resolves (see [`crate::namespaces`] for
    /// every one the host knows; the host refuses any other at load).
    pub fn namespace(mut self, namespace: Namespace) -> Manifest {
        self.namespaces.push(namespace.as_str().to_owned());
        self
    }

    pub fn scope(mut self, scope: DataScope) -> Manifest {
        self.scopes.push(scope);
        self
    }

    pub fn output(mut self, kind: OutputKind) -> Manifest {
        self.outputs.push(kind);
        self
    }

    pub fn limits(mut self, limits: Limits) -> Manifest {
        self.limits = limits;
        self
    }

    /// The entity name of one of this app's tables (`AO_xxxxxx_TEAM` → `TEAM`).
    pub fn entity_of<'t>(&self, table: &'t str) -> Option<&'t str> {
        table
            .strip_prefix(ao_prefix(&self.app_key).as_str())?
            .strip_prefix('_')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_prefix_vector() {
        assert_eq!(
            ao_table("com.atlassian.example.ao.myplugin", "MY_OBJECT"),
            "AO_28BE2D_MY_OBJECT"
        );
    }

    #[test]
    fn optional_columns_are_kept_per_table() {
        let m = Manifest::new("com.atlassian.example.ao.myplugin", "x", "1")
            .table("MY_OBJECT")
            .optional_column("MY_OBJECT", "COLOR");
        assert!(m.is_optional("AO_28BE2D_MY_OBJECT", "COLOR"));
        assert!(!m.is_optional("AO_28BE2D_MY_OBJECT", "NAME"));
        assert!(!m.is_optional("AO_28BE2D_OTHER", "COLOR"));
    }

    #[test]
    fn entity_of_strips_only_own_prefix() {
        let m = Manifest::new("com.atlassian.example.ao.myplugin", "x", "1");
        assert_eq!(m.entity_of("AO_28BE2D_MY_OBJECT"), Some("MY_OBJECT"));
        assert_eq!(m.entity_of("AO_60DB71_SPRINT"), None);
    }
}
