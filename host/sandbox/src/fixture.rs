//! `airlock plugin fixture --from BACKUP.zip --app KEY`: a plugin fixture made from a real
//! backup — the app's Active Objects tables as the backup holds them, and a mapping, with a
//! synthetic cloud id, for every core id their cells reference, keyed as the core load
//! keys it (users by user key, issues by id, …). With `scrub`, free text (anything with a
//! space), emails, the site's user names, display names and user keys that are names are
//! replaced by tokens (the same value, the same token, so joins hold) made with a key drawn
//! for this run and thrown away: they cannot be reversed. Single words without a space
//! (codes such as `OPEN`, colours, keys) are kept: plugins match on them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use airlock_backup::{AoReader, AoWriter, Backup, BackupError};
use airlock_model::jira::Kind;
use airlock_model::{AppKey, Namespace, Value};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

use crate::SandboxError;

/// What was written.
#[derive(Clone, Debug, Default)]
pub struct FromBackup {
    /// Rows per table of the app.
    pub tables: BTreeMap<String, u64>,
    /// Mappings written per namespace.
    pub mappings: BTreeMap<String, usize>,
    /// Text cells replaced by `scrub`.
    pub scrubbed: u64,
}

/// The entity element and field a kind's server id is read from, where the core load keys
/// the kind by something other than the element's `id`: users by their user key
/// (`ApplicationUser`), groups by name. Comments are `Action`s of type `comment`.
fn id_source(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::User => ("ApplicationUser", "userKey"),
        Kind::Group => ("Group", "groupName"),
        other => (other.entity(), "id"),
    }
}

/// Writes `out/activeobjects.xml` and `out/mappings.json` for `app` from `backup`.
pub fn from_backup(
    backup: &Path,
    app: &AppKey,
    scrub: bool,
    out: &Path,
) -> Result<FromBackup, SandboxError> {
    let fixture_error = |e: BackupError| SandboxError::Fixture(e.to_string());
    let mut zip = Backup::open(backup).map_err(fixture_error)?;

    // 1. Every core id the backup holds, per namespace.
    let mut core: HashMap<Namespace, HashSet<String>> = HashMap::new();
    // Names and emails of the site's users, lower-cased: scrubbed wherever they appear.
    let mut personal: HashSet<String> = HashSet::new();
    // The kinds the core load records mappings of (their namespaces, from the model).
    let sources: Vec<(&str, &str, Kind, Namespace)> = Kind::ALL
        .iter()
        .filter_map(|k| {
            let (entity, field) = id_source(*k);
            k.namespace().map(|ns| (entity, field, *k, ns))
        })
        .collect();
    {
        let mut entities = zip.entities().map_err(fixture_error)?;
        let wanted =
            |name: &str| name == "User" || sources.iter().any(|(entity, ..)| *entity == name);
        while let Some(entity) = entities.next_entity_where(wanted).map_err(fixture_error)? {
            if entity.name == "User" || entity.name == "ApplicationUser" {
                for field in ["userName", "lowerUserName", "emailAddress", "displayName"] {
                    if let Some(v) = entity.get(field).filter(|v| !v.is_empty()) {
                        personal.insert(v.to_lowercase());
                    }
                }
            }
            for (name, field, kind, ns) in &sources {
                // An `Action` is a comment only when its type says so.
                let of_kind = *kind != Kind::Comment || entity.get("type") == Some("comment");
                if entity.name == *name
                    && of_kind
                    && let Some(id) = entity.get(field)
                {
                    core.entry(*ns).or_default().insert(id.into());
                }
            }
        }
    }

    // 2. The app's tables, rows in definition order, cells scrubbed where asked; every
    //    cell that is a core id is remembered for the mappings.
    let scrubber = if scrub { Some(Scrubber::new()?) } else { None };
    let prefix = app.ao_prefix();
    let mut reader: AoReader<_> = zip.active_objects().map_err(fixture_error)?;
    let tables: Vec<airlock_backup::AoTable> = reader
        .tables()
        .iter()
        .filter(|t| prefix.owns(&t.name))
        .cloned()
        .collect();
    if tables.is_empty() {
        return Err(SandboxError::Invalid {
            path: backup.into(),
            why: format!(
                "holds no table of the app {app} (prefix {}): check the app key (`airlock plugin inspect` prints it)",
                prefix.as_str()
            ),
        });
    }
    std::fs::create_dir_all(out).map_err(|source| SandboxError::Io {
        path: out.into(),
        source,
    })?;
    let ao_path = out.join("activeobjects.xml");
    let file = File::create(&ao_path).map_err(|source| SandboxError::Io {
        path: ao_path.clone(),
        source,
    })?;
    let write_error = |e: BackupError| SandboxError::Fixture(format!("{}: {e}", ao_path.display()));
    let mut writer = AoWriter::new(BufWriter::new(file)).map_err(write_error)?;
    for table in &tables {
        writer.table(table).map_err(write_error)?;
    }
    let mut summary = FromBackup::default();
    let mut referenced: BTreeMap<Namespace, BTreeMap<String, String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for batch in reader.batches(1000, |t| prefix.owns(t)) {
        let batch = batch.map_err(fixture_error)?;
        let Some(schema) = tables.iter().find(|t| t.name == batch.table) else {
            continue;
        };
        if current.as_deref() != Some(&batch.table) {
            writer.begin_data(&batch.table).map_err(write_error)?;
            current = Some(batch.table.clone());
        }
        let order: Vec<Option<usize>> = schema
            .columns
            .iter()
            .map(|c| batch.columns.iter().position(|d| *d == c.name))
            .collect();
        for row in &batch.rows {
            let mut values: Vec<Value> = order
                .iter()
                .map(|i| i.and_then(|i| row.get(i).cloned()).unwrap_or(Value::Null))
                .collect();
            for (value, column) in values.iter_mut().zip(&schema.columns) {
                let id = match value {
                    Value::Integer(i) => Some(i.to_string()),
                    Value::String(s) => Some(s.clone()),
                    _ => None,
                };
                let namespaces: Vec<Namespace> = id
                    .as_ref()
                    .map(|id| {
                        core.iter()
                            .filter(|(_, ids)| ids.contains(id))
                            .map(|(ns, _)| *ns)
                            .collect()
                    })
                    .unwrap_or_default();
                let is_user = namespaces.contains(&Namespace::USER);
                if let (Some(id), false) = (&id, namespaces.is_empty()) {
                    // A user key that is a name (sites older than Jira 6) is scrubbed in
                    // the row and the mappings alike.
                    let key = match (&scrubber, is_user && !is_generated_user_key(id)) {
                        (Some(s), true) => s.token("user", id),
                        _ => id.clone(),
                    };
                    for ns in &namespaces {
                        let cloud = cloud_id(*ns, &key);
                        referenced
                            .entry(*ns)
                            .or_default()
                            .insert(key.clone(), cloud);
                    }
                    if key != *id {
                        *value = Value::String(key);
                        summary.scrubbed += 1;
                    }
                } else if let (Some(s), Value::String(text)) = (&scrubber, &*value)
                    && !column.primary_key
                    && is_personal_or_free_text(text, &personal)
                {
                    *value = Value::String(s.token("text", text));
                    summary.scrubbed += 1;
                }
            }
            writer.row(&values).map_err(write_error)?;
        }
        *summary.tables.entry(batch.table.clone()).or_default() += batch.rows.len() as u64;
    }
    writer.finish().map_err(write_error)?;
    for table in &tables {
        summary.tables.entry(table.name.clone()).or_default();
    }

    let mappings_path = out.join("mappings.json");
    let json: BTreeMap<String, &BTreeMap<String, String>> = referenced
        .iter()
        .map(|(ns, ids)| (ns.to_string(), ids))
        .collect();
    summary.mappings = json
        .iter()
        .map(|(ns, ids)| (ns.clone(), ids.len()))
        .collect();
    let mut text = serde_json::to_string_pretty(&json).expect("maps of strings serialize");
    text.push('\n');
    std::fs::write(&mappings_path, text).map_err(|source| SandboxError::Io {
        path: mappings_path,
        source,
    })?;
    Ok(summary)
}

/// Free text (a space in it), an email, or a user's name: what `scrub` replaces.
fn is_personal_or_free_text(text: &str, personal: &HashSet<String>) -> bool {
    text.contains(char::is_whitespace)
        || text.contains('@')
        || personal.contains(&text.to_lowercase())
}

/// `JIRAUSER10000`: a key Jira generated, not a person's name.
fn is_generated_user_key(key: &str) -> bool {
    key.strip_prefix("JIRAUSER")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// A synthetic cloud id, the same for the same server id: account ids look like Cloud's
/// (24 hex digits), the rest are numbers.
fn cloud_id(ns: Namespace, server: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{ns}\n{server}").as_bytes());
    match ns {
        Namespace::USER => format!("5f{}", &hex::encode(digest)[..22]),
        Namespace::GROUP => format!("group-{}", &hex::encode(digest)[..12]),
        Namespace::CUSTOM_FIELD => format!("customfield_{server}"),
        _ => (100_000 + u64::from_be_bytes(digest[..8].try_into().expect("8 bytes")) % 900_000)
            .to_string(),
    }
}

/// Tokens for scrubbed values: HMAC-SHA-256 under a key drawn for this run and dropped
/// with it.
struct Scrubber(hmac::Key);

impl Scrubber {
    fn new() -> Result<Scrubber, SandboxError> {
        let mut key = [0u8; 32];
        SystemRandom::new()
            .fill(&mut key)
            .map_err(|_| SandboxError::Fixture("the system's random source failed".into()))?;
        Ok(Scrubber(hmac::Key::new(hmac::HMAC_SHA256, &key)))
    }

    fn token(&self, what: &str, value: &str) -> String {
        let tag = hmac::sign(&self.0, value.as_bytes());
        format!("{what}-{}", hex::encode(&tag.as_ref()[..6]))
    }
}
