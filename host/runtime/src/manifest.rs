use airlock_model::{AoPrefix, AppKey, DataScope, Namespace};
use serde::Serialize;

/// A plugin's manifest as the host understands it, validated at load: every table carries
/// the app's Active Objects prefix and every namespace is a known one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Manifest {
    pub app_key: AppKey,
    pub name: String,
    pub version: String,
    pub tables: Vec<String>,
    /// Namespaces it must be granted (core and other apps').
    #[serde(serialize_with = "as_strs")]
    pub namespaces: Vec<Namespace>,
    /// Namespaces it resolves if granted; ungranted, their ids resolve to nothing (2.0).
    #[serde(serialize_with = "as_strs")]
    pub optional_namespaces: Vec<Namespace>,
    /// Its own namespaces it publishes mappings in, `app:<app-key>:<entity>` (2.0).
    #[serde(serialize_with = "as_strs")]
    pub publishes: Vec<Namespace>,
    /// (table, column) pairs `app-data.find` looks rows up by (2.0).
    pub lookups: Vec<(String, String)>,
    #[serde(serialize_with = "as_strs")]
    pub scopes: Vec<DataScope>,
    pub outputs: Vec<&'static str>,
    pub requested: RequestedLimits,
    /// The contract version the component was built against.
    pub contract: Contract,
}

/// The contract versions the host serves side by side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize)]
pub enum Contract {
    /// `airlock:plugin@1.0.0`.
    #[default]
    #[serde(rename = "1.0.0")]
    V1,
    /// `airlock:plugin@2.0.0`: publish, find, finish, optional namespaces.
    #[serde(rename = "2.0.0")]
    V2,
}

impl Contract {
    pub fn version(self) -> &'static str {
        match self {
            Contract::V1 => "1.0.0",
            Contract::V2 => "2.0.0",
        }
    }

    /// The major version's import prefix, e.g. `@2.`.
    pub(crate) fn major(self) -> &'static str {
        match self {
            Contract::V1 => "1.",
            Contract::V2 => "2.",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize)]
pub struct RequestedLimits {
    pub fuel_per_batch: Option<u64>,
    pub memory_bytes: Option<u64>,
    pub batch_rows: Option<u32>,
}

fn as_strs<S: serde::Serializer, T: std::fmt::Display>(v: &[T], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(ToString::to_string))
}

impl Manifest {
    /// The Active Objects prefix the host derives from the app key.
    pub fn ao_prefix(&self) -> AoPrefix {
        self.app_key.ao_prefix()
    }

    /// Every namespace it may resolve: the required ones, then the optional ones.
    pub fn all_namespaces(&self) -> impl Iterator<Item = Namespace> + '_ {
        self.namespaces
            .iter()
            .chain(&self.optional_namespaces)
            .copied()
    }
}
