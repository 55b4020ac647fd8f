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
    #[serde(serialize_with = "as_strs")]
    pub namespaces: Vec<Namespace>,
    #[serde(serialize_with = "as_strs")]
    pub scopes: Vec<DataScope>,
    pub outputs: Vec<&'static str>,
    pub requested: RequestedLimits,
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
}
