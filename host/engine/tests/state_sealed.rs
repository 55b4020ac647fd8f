//! The migration state sealed at rest: no server id, cloud id, source key or message in
//! clear in state.db or beside it (-wal, -shm); everything reads back through every
//! accessor; another migration's cipher finds nothing and opens nothing; a tampered cell
//! is refused with a clear error; a state file of the old format is refused. And an app's
//! staged rows (`app_rows`): what stays in clear beside a sealed row (its `ID`, number,
//! table and column names) is bound to the seal, so swapping it is an integrity error.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use airlock_engine::{Failure, FieldProtection, MappingReader, STATE_FORMAT, State};
use airlock_model::jira::Kind;
use airlock_model::{MigrationId, Namespace, TenantId};
use airlock_vault::{DataKey, Sealer};
use rusqlite::Connection;

const USERS: Namespace = Namespace::USER;
const ISSUES: Namespace = Namespace::ISSUE;

/// The state's protection for a migration (same data key: only the migration differs).
fn protection(migration: &str) -> Arc<dyn FieldProtection> {
    let sealer = Sealer::new(
        TenantId::new("t1"),
        MigrationId::new(migration),
        DataKey::from_bytes(&[0x42; 32]),
    );
    Arc::new(sealer.field_cipher("state"))
}

fn mapping(ns: Namespace, server: &str, cloud: &str) -> (Namespace, String, String) {
    (ns, server.to_owned(), cloud.to_owned())
}

fn failure(kind: Kind, source_key: &str, code: &str, message: &str) -> Failure {
    Failure {
        kind,
        source_key: source_key.to_owned(),
        code: code.to_owned(),
        message: message.to_owned(),
    }
}

/// Values no SQLite page holds by chance; every one of them must stay out of the files.
const SECRETS: &[&str] = &[
    "canary-jdoe.user.key",
    "canary-cloud-5b10ac8d82e05b22cc7d4ef5",
    "canary-asmith.user.key",
    "canary-cloud-6a21bd9e93f16c33dd8e5f06",
    "canary-issue-10001",
    "canary-cloud-issue-20001",
    "CANARYPROJ-4711",
    "canary message: the summary of Élodie's issue is too long",
    "canary-user-source-key",
    "canary message about canary-jdoe@example.com",
    "CANARYPROJ-0815",
    "canary message: Élodie's description",
];

/// A failure code: kept in clear (statistics), so the scan must find it.
const CODE: &str = "CANARY_INVALID_FIELD";

fn canary_mappings() -> Vec<(Namespace, String, String)> {
    vec![
        mapping(USERS, SECRETS[0], SECRETS[1]),
        mapping(USERS, SECRETS[2], SECRETS[3]),
        mapping(ISSUES, SECRETS[4], SECRETS[5]),
    ]
}

/// Not in the order `failures()` gives them: by kind, then source key.
fn canary_failures() -> Vec<Failure> {
    vec![
        failure(Kind::User, SECRETS[8], "USER_REFUSED", SECRETS[9]),
        failure(Kind::Issue, SECRETS[6], CODE, SECRETS[7]),
        failure(Kind::Issue, SECRETS[10], CODE, SECRETS[11]),
    ]
}

/// A state file holding the canaries, closed.
fn canary_state(dir: &Path) -> PathBuf {
    let path = dir.join("state.db");
    let mut state = State::open(&path, protection("m1")).unwrap();
    state
        .commit_batch("load:user", 2, &canary_mappings(), &canary_failures())
        .unwrap();
    path
}

/// The state file and whatever SQLite keeps beside it.
fn state_files(path: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| PathBuf::from(format!("{}{suffix}", path.display())))
        .filter(|p| p.exists())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

/// Moves what the write-ahead log holds into the state file.
fn checkpoint_wal(path: &Path) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// No canary in any of the files; the clear failure code in at least one (the scan sees
/// the data).
fn assert_no_secret_in_files(path: &Path) {
    let files = state_files(path);
    assert!(!files.is_empty());
    for (file, bytes) in &files {
        for secret in SECRETS {
            assert!(
                !contains(bytes, secret),
                "{secret:?} is in clear in {}",
                file.display()
            );
            // Not even a fragment of it (a text split across pages is still in clear).
            let fragment = &secret[..12];
            assert!(
                !contains(bytes, fragment),
                "{fragment:?} is in clear in {}",
                file.display()
            );
        }
    }
    assert!(
        files.iter().any(|(_, bytes)| contains(bytes, CODE)),
        "the scan did not find the failure code: it reads nothing"
    );
}

#[test]
fn no_customer_value_is_in_clear_in_the_state_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut state = State::open(&path, protection("m1")).unwrap();
    state
        .commit_batch("load:user", 2, &canary_mappings(), &canary_failures())
        .unwrap();
    // While open: the batch is still in the write-ahead log.
    assert_no_secret_in_files(&path);
    // Read through every accessor while open, then closed: checkpointed into state.db.
    assert_eq!(
        state.cloud_id(USERS, SECRETS[0]).unwrap().unwrap(),
        SECRETS[1]
    );
    drop(state);
    checkpoint_wal(&path);
    assert_no_secret_in_files(&path);
}

#[test]
fn everything_reads_back_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = canary_state(dir.path());
    let state = State::open(&path, protection("m1")).unwrap();

    assert_eq!(
        state.cloud_id(USERS, SECRETS[0]).unwrap().as_deref(),
        Some(SECRETS[1])
    );
    assert_eq!(
        state.cloud_id(ISSUES, SECRETS[4]).unwrap().as_deref(),
        Some(SECRETS[5])
    );
    // Namespaces stay apart, and unknown ids are not found.
    assert_eq!(state.cloud_id(ISSUES, SECRETS[0]).unwrap(), None);
    assert_eq!(state.cloud_id(USERS, "nobody").unwrap(), None);
    assert_eq!(
        state.all(USERS).unwrap(),
        vec![
            (SECRETS[2].to_owned(), SECRETS[3].to_owned()),
            (SECRETS[0].to_owned(), SECRETS[1].to_owned()),
        ],
        "by server id"
    );
    assert_eq!(state.count(USERS).unwrap(), 2);
    assert_eq!(state.count(ISSUES).unwrap(), 1);
    assert_eq!(state.count(Namespace::COMMENT).unwrap(), 0);
    assert_eq!(state.checkpoint("load:user").unwrap(), 2);

    // By kind, then source key.
    let [user, issue_4711, issue_0815] = canary_failures().try_into().unwrap();
    assert_eq!(state.failures().unwrap(), [issue_0815, issue_4711, user]);
    assert_eq!(state.failure_count(Kind::Issue).unwrap(), 2);
    assert_eq!(state.failure_count(Kind::User).unwrap(), 1);
    assert_eq!(state.failure_count(Kind::Comment).unwrap(), 0);

    let reader = MappingReader::open(&path, state.protection()).unwrap();
    assert_eq!(
        reader.cloud_id(USERS, SECRETS[2]).unwrap().as_deref(),
        Some(SECRETS[3])
    );
    assert_eq!(reader.cloud_id(USERS, SECRETS[4]).unwrap(), None);
    let answers = reader.resolve(USERS, &[SECRETS[2], "nobody", SECRETS[0], SECRETS[2]]);
    let answers: Vec<Option<&str>> = answers.iter().map(|a| a.as_deref()).collect();
    assert_eq!(
        answers,
        [Some(SECRETS[3]), None, Some(SECRETS[1]), Some(SECRETS[3])]
    );
}

#[test]
fn a_rerun_replaces_a_mapping_and_a_failure_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = canary_state(dir.path());
    let mut state = State::open(&path, protection("m1")).unwrap();
    state
        .commit_batch(
            "load:user",
            3,
            &[mapping(USERS, SECRETS[0], "cloud-again")],
            &[failure(Kind::Issue, SECRETS[6], "OTHER", "again")],
        )
        .unwrap();
    assert_eq!(
        state.cloud_id(USERS, SECRETS[0]).unwrap().as_deref(),
        Some("cloud-again")
    );
    assert_eq!(state.count(USERS).unwrap(), 2);
    let failures = state.failures().unwrap();
    assert_eq!(failures.len(), 3);
    assert_eq!(
        failures[1],
        failure(Kind::Issue, SECRETS[6], "OTHER", "again")
    );
}

#[test]
fn resolve_answers_in_input_order_across_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut state = State::open(&path, protection("m1")).unwrap();
    // More than one lookup chunk (256 ids), in two namespaces.
    let mappings: Vec<_> = (0..700)
        .map(|i| mapping(ISSUES, &format!("{}", 10_000 + i), &format!("cloud-{i}")))
        .chain((0..10).map(|i| mapping(USERS, &format!("{}", 10_000 + i), &format!("user-{i}"))))
        .collect();
    state
        .commit_batch("load:issue", 700, &mappings, &[])
        .unwrap();
    let reader = MappingReader::open(&path, state.protection()).unwrap();
    // Reversed, every third unknown, one repeated.
    let ids: Vec<String> = (0..900)
        .rev()
        .map(|i| {
            if i % 3 == 0 {
                format!("unknown-{i}")
            } else {
                format!("{}", 10_000 + i)
            }
        })
        .chain(["10001".to_owned()])
        .collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let answers = reader.resolve(ISSUES, &refs);
    assert_eq!(answers.len(), ids.len());
    for (id, answer) in ids.iter().zip(&answers) {
        let expected = id
            .parse::<u32>()
            .ok()
            .map(|n| n - 10_000)
            .filter(|i| *i < 700)
            .map(|i| format!("cloud-{i}"));
        assert_eq!(answer.as_deref(), expected.as_deref(), "{id}");
    }
}

#[test]
fn buckets_filled_over_several_batches_and_out_of_order_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut state = State::open(&path, protection("m1")).unwrap();
    // Ids 10000..10300 in three batches, each batch in a scrambled order, the batches
    // overlapping the same buckets (64 ids each); the last batch remaps 10 ids.
    let scrambled = |ids: std::ops::Range<u32>, tag: &str| -> Vec<_> {
        let mut ids: Vec<u32> = ids.collect();
        ids.sort_by_key(|i| (i * 7919) % 301);
        ids.iter()
            .map(|i| mapping(ISSUES, &i.to_string(), &format!("{tag}-{i}")))
            .collect()
    };
    state
        .commit_batch("load:issue", 1, &scrambled(10_100..10_300, "a"), &[])
        .unwrap();
    state
        .commit_batch("load:issue", 2, &scrambled(10_000..10_100, "b"), &[])
        .unwrap();
    state
        .commit_batch("load:issue", 3, &scrambled(10_150..10_160, "c"), &[])
        .unwrap();
    assert_eq!(state.count(ISSUES).unwrap(), 300);
    let expected = |i: u32| match i {
        10_150..10_160 => format!("c-{i}"),
        10_100.. => format!("a-{i}"),
        _ => format!("b-{i}"),
    };
    for i in [10_000, 10_063, 10_064, 10_099, 10_100, 10_155, 10_299] {
        assert_eq!(
            state.cloud_id(ISSUES, &i.to_string()).unwrap(),
            Some(expected(i))
        );
    }
    assert_eq!(state.cloud_id(ISSUES, "10300").unwrap(), None);
    let all = state.all(ISSUES).unwrap();
    assert_eq!(all.len(), 300);
    assert!(all.iter().all(|(s, c)| *c == expected(s.parse().unwrap())));
    let reader = MappingReader::open(&path, state.protection()).unwrap();
    let ids: Vec<String> = (9_990..10_310).rev().map(|i| i.to_string()).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    for (id, answer) in ids.iter().zip(reader.resolve(ISSUES, &refs)) {
        let i: u32 = id.parse().unwrap();
        let want = (10_000..10_300).contains(&i).then(|| expected(i));
        assert_eq!(answer.as_deref(), want.as_deref(), "{id}");
    }
    // Five rows hold the 300 mappings (buckets 156..=160 of 64 ids), each sealed whole.
    let conn = Connection::open(&path).unwrap();
    let rows: i64 = conn
        .query_row(
            "SELECT count(*) FROM mappings WHERE namespace = 'jira:issue'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(rows, 5);
}

/// A reader keeps the buckets it has read (the load looks up ids near the last one); what
/// the state commits into one of them later is seen once the reader refreshes, which the
/// load does before each batch.
#[test]
fn a_reader_sees_what_the_state_commits_after_it_looked_once_it_refreshes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut state = State::open(&path, protection("m1")).unwrap();
    state
        .commit_batch("load:issue", 1, &[mapping(ISSUES, "10000", "c-10000")], &[])
        .unwrap();
    let reader = MappingReader::open(&path, state.protection()).unwrap();
    // The bucket (10000..10047's) is opened and kept; its neighbour is not mapped yet.
    assert_eq!(
        reader.cloud_id(ISSUES, "10000").unwrap().as_deref(),
        Some("c-10000")
    );
    assert_eq!(reader.cloud_id(ISSUES, "10001").unwrap(), None);
    state
        .commit_batch("load:issue", 2, &[mapping(ISSUES, "10001", "c-10001")], &[])
        .unwrap();
    reader.refresh().unwrap();
    assert_eq!(
        reader.cloud_id(ISSUES, "10001").unwrap().as_deref(),
        Some("c-10001")
    );
    state
        .commit_batch("load:issue", 3, &[mapping(ISSUES, "10000", "again")], &[])
        .unwrap();
    reader.refresh().unwrap();
    assert_eq!(
        reader.cloud_id(ISSUES, "10000").unwrap().as_deref(),
        Some("again")
    );
}

#[test]
fn another_migrations_cipher_finds_nothing_and_opens_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = canary_state(dir.path());
    let state = State::open(&path, protection("m2")).unwrap();
    // Its tokens differ: nothing is found by id.
    assert_eq!(state.cloud_id(USERS, SECRETS[0]).unwrap(), None);
    let reader = MappingReader::open(&path, state.protection()).unwrap();
    assert_eq!(
        reader.resolve(USERS, &[SECRETS[0], SECRETS[2]]),
        [None, None]
    );
    // Its keys differ: what is listed does not open.
    for message in [
        state.all(USERS).unwrap_err().to_string(),
        state.failures().unwrap_err().to_string(),
    ] {
        assert!(message.contains("failed authentication"), "{message}");
        assert!(message.contains("migration m2"), "{message}");
        assert_no_value_in(&message);
    }
}

/// Rewrites the sealed cells of the rows of `table` matching `filter`, in row order, with
/// `change` applied to each.
fn tamper(path: &Path, table: &str, filter: &str, change: impl Fn(usize, &mut [Vec<u8>])) {
    let conn = Connection::open(path).unwrap();
    let key = if table == "mappings" {
        "bucket"
    } else {
        "source_token"
    };
    let rows: Vec<(Vec<u8>, Vec<u8>)> = conn
        .prepare(&format!(
            "SELECT {key}, sealed FROM {table} WHERE {filter} ORDER BY {key}"
        ))
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let (keys, mut cells): (Vec<_>, Vec<_>) = rows.into_iter().unzip();
    for i in 0..cells.len() {
        change(i, &mut cells);
    }
    for (k, cell) in keys.iter().zip(&cells) {
        conn.execute(
            &format!("UPDATE {table} SET sealed = ?1 WHERE {key} = ?2"),
            rusqlite::params![cell, k],
        )
        .unwrap();
    }
}

fn assert_no_value_in(message: &str) {
    for secret in SECRETS {
        assert!(!message.contains(secret), "{message}");
    }
    assert!(!message.contains("canary"), "{message}");
}

#[test]
fn a_flipped_byte_in_a_sealed_cell_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = canary_state(dir.path());
    // One byte in the middle of every mapping's cell and every failure's.
    let flip = |i: usize, cells: &mut [Vec<u8>]| {
        let at = cells[i].len() / 2;
        cells[i][at] ^= 0x01;
    };
    tamper(&path, "mappings", "1", flip);
    tamper(&path, "failures", "1", flip);
    let state = State::open(&path, protection("m1")).unwrap();

    let e = state.cloud_id(USERS, SECRETS[0]).unwrap_err().to_string();
    assert!(e.contains("the migration state"), "{e}");
    assert!(
        e.contains("a row of mappings (identity:user) does not open"),
        "{e}"
    );
    assert!(
        e.contains("tenant t1, migration m1 (purpose \"state\") failed authentication"),
        "{e}"
    );
    assert_no_value_in(&e);
    let e = state.all(ISSUES).unwrap_err().to_string();
    assert!(
        e.contains("a row of mappings (jira:issue) does not open"),
        "{e}"
    );
    let e = state.failures().unwrap_err().to_string();
    assert!(e.contains("a row of failures ("), "{e}");
    assert_no_value_in(&e);

    let reader = MappingReader::open(&path, state.protection()).unwrap();
    let e = reader.cloud_id(USERS, SECRETS[2]).unwrap_err().to_string();
    assert!(e.contains("does not open"), "{e}");
    // A plugin's lookup sees unmapped ids, not an error.
    assert_eq!(
        reader.resolve(USERS, &[SECRETS[0], SECRETS[2]]),
        [None, None]
    );
}

#[test]
fn a_cell_moved_to_another_row_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = canary_state(dir.path());
    // The two users' cells swapped: each intact, each in the other's row.
    tamper(
        &path,
        "mappings",
        "namespace = 'identity:user'",
        |i, cells| {
            assert_eq!(cells.len(), 2);
            if i == 0 {
                cells.swap(0, 1);
            }
        },
    );
    let state = State::open(&path, protection("m1")).unwrap();
    for server in [SECRETS[0], SECRETS[2]] {
        let e = state.cloud_id(USERS, server).unwrap_err().to_string();
        assert!(e.contains("failed authentication"), "{e}");
    }
    // The issue's cell was not moved.
    assert_eq!(
        state.cloud_id(ISSUES, SECRETS[4]).unwrap().as_deref(),
        Some(SECRETS[5])
    );
}

/// The state file as Airlock made it before its values were sealed.
const OLD_SCHEMA: &str = "
CREATE TABLE mappings (namespace TEXT NOT NULL, server_id TEXT NOT NULL, cloud_id TEXT NOT NULL,
    PRIMARY KEY (namespace, server_id)) WITHOUT ROWID;
CREATE TABLE checkpoints (step TEXT PRIMARY KEY, done INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE files_done (attachment TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE failures (kind TEXT NOT NULL, source_key TEXT NOT NULL, code TEXT NOT NULL,
    message TEXT NOT NULL, PRIMARY KEY (kind, source_key)) WITHOUT ROWID;
INSERT INTO mappings VALUES ('identity:user', 'jdoe', 'cloud-jdoe');
";

#[test]
fn a_state_file_of_the_old_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    Connection::open(&path)
        .unwrap()
        .execute_batch(OLD_SCHEMA)
        .unwrap();
    let e = State::open(&path, protection("m1"))
        .err()
        .expect("refused")
        .to_string();
    assert!(
        e.contains("this work directory was made by an older Airlock"),
        "{e}"
    );
    assert!(e.contains("start a new one with another --work"), "{e}");
    assert!(e.contains(&path.display().to_string()), "{e}");
    let e = MappingReader::open(&path, protection("m1"))
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("made by an older Airlock"), "{e}");
    // Left as it was: not misread, not rewritten.
    let conn = Connection::open(&path).unwrap();
    let kept: String = conn
        .query_row("SELECT cloud_id FROM mappings", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kept, "cloud-jdoe");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 0);
}

#[test]
fn a_state_file_of_a_newer_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = canary_state(dir.path());
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", STATE_FORMAT + 1)
        .unwrap();
    let e = State::open(&path, protection("m1"))
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("made by a newer Airlock"), "{e}");
}

#[test]
fn a_new_state_file_records_its_format() {
    let dir = tempfile::tempdir().unwrap();
    let path = canary_state(dir.path());
    let version: i64 = Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, STATE_FORMAT);
    // An empty file (created, never written) is a new state file too.
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    State::open(&empty, protection("m1")).unwrap();
    // Reopening keeps what is there.
    let state = State::open(&path, protection("m1")).unwrap();
    assert_eq!(state.count(USERS).unwrap(), 2);
}

// ---------------------------------------------------------------------------------------
// An app's staged rows: the clear `ID` (and number, table, columns) is bound to the seal.

mod app_rows {
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use airlock_backup::AoBatch;
    use airlock_engine::{APP_ROWS_FORMAT, AppRows, RowTampered};
    use airlock_model::{MigrationId, TenantId, Value};
    use airlock_vault::{DataKey, Sealer};
    use rusqlite::Connection;

    const TABLE: &str = "AO_1A2B3C_TEAM";
    const FINGERPRINT: &str = "backup-fingerprint";
    const NAMES: [&str; 3] = ["canary team one", "canary team two", "canary team three"];

    fn sealer() -> Arc<Sealer> {
        Arc::new(Sealer::new(
            TenantId::new("t1"),
            MigrationId::new("m1"),
            DataKey::from_bytes(&[0x42; 32]),
        ))
    }

    /// A complete store of one table: rows `ID` 1, 2, 3 (numbers 0, 1, 2), closed.
    fn staged(dir: &Path) -> PathBuf {
        let path = dir.join("app-1A2B3C.db");
        let store = AppRows::create(&path, sealer()).unwrap();
        let columns: Arc<[String]> =
            vec!["ID".to_owned(), "NAME".to_owned(), "LEAD".to_owned()].into();
        store
            .insert(&AoBatch {
                table: TABLE.to_owned(),
                columns,
                offset: 0,
                rows: (1..=3)
                    .map(|id| {
                        vec![
                            Value::Integer(id),
                            Value::String(NAMES[id as usize - 1].to_owned()),
                            Value::String(format!("canary-lead-{id}@example.com")),
                        ]
                    })
                    .collect(),
            })
            .unwrap();
        store.mark_complete(FINGERPRINT).unwrap();
        path
    }

    fn reopen(path: &Path) -> AppRows {
        AppRows::open_complete(path, FINGERPRINT, sealer()).expect("a complete store")
    }

    fn name_of(store: &AppRows, id: i64) -> Option<Value> {
        store.get(TABLE, id).map(|(_, row)| row[1].clone())
    }

    /// The error's [`RowTampered`], and its text (which must name no value).
    fn tampered(e: &airlock_engine::StateError) -> (&RowTampered, String) {
        let text = e.to_string();
        for name in NAMES {
            assert!(!text.contains(name), "{text}");
        }
        assert!(!text.contains("canary"), "{text}");
        let source = std::error::Error::source(e).expect("a source");
        let row = source
            .downcast_ref::<RowTampered>()
            .unwrap_or_else(|| panic!("not an integrity error: {text}"));
        (row, text)
    }

    #[test]
    fn untouched_rows_read_back_by_id_and_in_batches() {
        let dir = tempfile::tempdir().unwrap();
        let path = staged(dir.path());
        let store = reopen(&path);
        for id in 1..=3 {
            assert_eq!(
                name_of(&store, id),
                Some(Value::String(NAMES[id as usize - 1].to_owned()))
            );
            assert!(store.try_exists(TABLE, id).unwrap());
        }
        assert!(!store.try_exists(TABLE, 4).unwrap());
        assert_eq!(store.try_get(TABLE, 4).unwrap(), None);
        assert_eq!(store.batch(TABLE, 0, 10).unwrap().unwrap().rows.len(), 3);
    }

    /// The attack: two rows' clear `ID`s swapped in the file, each sealed row left intact.
    /// On main a lookup of `ID` 1 answered with row 2 (a join redirected); now it is an
    /// integrity error naming the table and row number, and `get`/`exists` (what a plugin's
    /// `app-data` calls reach) answer nothing rather than the other row.
    #[test]
    fn swapped_clear_ids_fail_the_lookup_with_an_integrity_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = staged(dir.path());
        let swapped = Connection::open(&path)
            .unwrap()
            .execute(
                "UPDATE app_rows SET id = CASE id WHEN 1 THEN 2 ELSE 1 END \
                 WHERE tbl = ?1 AND id IN (1, 2)",
                [TABLE],
            )
            .unwrap();
        assert_eq!(swapped, 2);
        let store = reopen(&path);

        let e = store.try_get(TABLE, 1).expect_err("ID 1 now files row 2");
        let (row, text) = tampered(&e);
        assert_eq!((row.table.as_str(), row.seq), (TABLE, 1), "{text}");
        assert!(text.contains("failed its integrity check"), "{text}");
        assert!(
            text.contains(&format!("staged row 1 of app table {TABLE}")),
            "{text}"
        );
        let e = store.try_get(TABLE, 2).expect_err("ID 2 now files row 1");
        assert_eq!(tampered(&e).0.seq, 0);
        assert!(store.try_exists(TABLE, 1).is_err());

        // What a plugin's joins get: nothing, never the other row.
        assert_eq!(name_of(&store, 1), None);
        assert_eq!(name_of(&store, 2), None);
        assert!(!store.exists(TABLE, 1));
        assert!(!store.exists(TABLE, 2));
        // A batch holding the rows fails as a whole.
        let e = store
            .batch(TABLE, 0, 10)
            .expect_err("batch with swapped ids");
        tampered(&e);
        // The untouched row still reads.
        assert_eq!(name_of(&store, 3), Some(Value::String(NAMES[2].to_owned())));
    }

    /// A clear `ID` changed to one no row had: `exists` must not say yes for it.
    #[test]
    fn a_changed_clear_id_is_not_a_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = staged(dir.path());
        Connection::open(&path)
            .unwrap()
            .execute(
                "UPDATE app_rows SET id = 99 WHERE tbl = ?1 AND id = 3",
                [TABLE],
            )
            .unwrap();
        let store = reopen(&path);
        assert!(!store.exists(TABLE, 99));
        tampered(&store.try_exists(TABLE, 99).unwrap_err());
        assert_eq!(store.try_get(TABLE, 3).unwrap(), None, "filed under 99 now");
    }

    /// The clear column names are bound too: swapped names would hand a plugin one column's
    /// values under another's name.
    #[test]
    fn swapped_column_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = staged(dir.path());
        Connection::open(&path)
            .unwrap()
            .execute(
                "UPDATE app_tables SET columns = ?2 WHERE name = ?1",
                [TABLE, "ID\u{1f}LEAD\u{1f}NAME"],
            )
            .unwrap();
        let store = reopen(&path);
        tampered(&store.try_get(TABLE, 1).unwrap_err());
        tampered(&store.batch(TABLE, 0, 10).unwrap_err());
    }

    /// Whole rows (number, `ID` and sealed bytes together) swapped: the number is the record
    /// index, so that fails too.
    #[test]
    fn swapped_row_numbers_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = staged(dir.path());
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(&format!(
            "UPDATE app_rows SET seq = 100 WHERE tbl = '{TABLE}' AND seq = 0; \
             UPDATE app_rows SET seq = 0 WHERE tbl = '{TABLE}' AND seq = 1; \
             UPDATE app_rows SET seq = 1 WHERE tbl = '{TABLE}' AND seq = 100;"
        ))
        .unwrap();
        drop(conn);
        let store = reopen(&path);
        assert_eq!(tampered(&store.try_get(TABLE, 1).unwrap_err()).0.seq, 1);
    }

    /// A store staged by a build that did not bind the clear columns (no `format` row) is
    /// not reused: it is staged again instead of failing every lookup.
    #[test]
    fn a_store_of_the_unbound_format_is_staged_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = staged(dir.path());
        let conn = Connection::open(&path).unwrap();
        let format: String = conn
            .query_row("SELECT value FROM meta WHERE key = 'format'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(format, APP_ROWS_FORMAT);
        conn.execute("DELETE FROM meta WHERE key = 'format'", [])
            .unwrap();
        drop(conn);
        assert!(AppRows::open_complete(&path, FINGERPRINT, sealer()).is_none());
    }
}

#[test]
fn notices_are_sealed_read_back_and_kept_apart_from_failures() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let notices = [failure(Kind::Issue, SECRETS[6], "key-changed", SECRETS[7])];
    let mut state = State::open(&path, protection("m1")).unwrap();
    state
        .commit(&airlock_engine::BatchCommit {
            checkpoint: Some(("load/issue", 1)),
            failures: &[failure(Kind::Issue, SECRETS[10], CODE, SECRETS[11])],
            notices: &notices,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(state.notices().unwrap(), notices);
    assert_eq!(state.failures().unwrap().len(), 1, "a notice is no failure");
    drop(state);
    checkpoint_wal(&path);
    assert_no_secret_in_files(&path);

    // A failure's cell put in a notice's row (same kind, same token) does not open as one.
    let conn = Connection::open(&path).unwrap();
    let sealed: Vec<u8> = conn
        .query_row("SELECT sealed FROM failures", [], |r| r.get(0))
        .unwrap();
    let code: String = conn
        .query_row("SELECT code FROM failures", [], |r| r.get(0))
        .unwrap();
    conn.execute(
        "UPDATE notices SET sealed = ?1, code = ?2, source_token = (SELECT source_token FROM failures)",
        rusqlite::params![sealed, code],
    )
    .unwrap();
    drop(conn);
    let state = State::open(&path, protection("m1")).unwrap();
    let e = state.notices().unwrap_err().to_string();
    assert!(e.contains("a row of notices ("), "{e}");
    assert_no_value_in(&e);
}
