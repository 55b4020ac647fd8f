//! The audit log: append-only security events. Details are built here from typed values
//! (codes, counts, Airlock's ids and object names) so no caller can put free text, and so
//! no customer data, into them.

use sqlx::AnyConnection;
use time::OffsetDateTime;

use crate::error::{StoreError, query};
use crate::{Backend, from_unix};

/// One row of a tenant's audit log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// Counts from 1 per tenant without gaps.
    pub seq: i64,
    pub at: OffsetDateTime,
    /// A code such as `migration-created` or `retention-deletion`.
    pub event: String,
    /// Who acted: `engine`, `operator`, `worker` or `retention`.
    pub actor: String,
    /// `key=value` pairs separated by spaces.
    pub detail: String,
}

pub(crate) struct Event {
    pub event: &'static str,
    pub actor: &'static str,
    pub detail: String,
}

impl Event {
    pub fn new(event: &'static str, actor: &'static str, detail: String) -> Event {
        Event {
            event,
            actor,
            detail,
        }
    }
}

/// Appends `event` to `tenant`'s log inside the caller's transaction. In PostgreSQL a
/// per-tenant advisory lock keeps `seq` gapless under concurrent writers.
pub(crate) async fn append(
    conn: &mut AnyConnection,
    backend: Backend,
    tenant: &str,
    at: i64,
    event: Event,
) -> Result<(), StoreError> {
    lock_tenant(conn, backend, tenant).await?;
    sqlx::query(
        "INSERT INTO audit_log (tenant_id, seq, at, event, actor, detail) \
         SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5 FROM audit_log WHERE tenant_id = $1",
    )
    .bind(tenant)
    .bind(at)
    .bind(event.event)
    .bind(event.actor)
    .bind(event.detail)
    .execute(&mut *conn)
    .await
    .map_err(query("audit_log"))?;
    Ok(())
}

pub(crate) async fn read(
    conn: &mut AnyConnection,
    tenant: &str,
) -> Result<Vec<AuditEntry>, StoreError> {
    let rows: Vec<(i64, i64, String, String, String)> = sqlx::query_as(
        "SELECT seq, at, event, actor, detail FROM audit_log WHERE tenant_id = $1 ORDER BY seq",
    )
    .bind(tenant)
    .fetch_all(&mut *conn)
    .await
    .map_err(query("audit_log"))?;
    Ok(rows
        .into_iter()
        .map(|(seq, at, event, actor, detail)| AuditEntry {
            seq,
            at: from_unix(at),
            event,
            actor,
            detail,
        })
        .collect())
}

/// Serialises per-tenant counters (audit `seq`, `stat_id`) until the transaction ends.
/// SQLite needs nothing: it has one writer at a time.
pub(crate) async fn lock_tenant(
    conn: &mut AnyConnection,
    backend: Backend,
    tenant: &str,
) -> Result<(), StoreError> {
    if backend == Backend::Postgres {
        // Wrapped in count(*): the Any driver cannot carry PostgreSQL's `void`.
        sqlx::query(
            "SELECT COUNT(*) FROM (SELECT pg_advisory_xact_lock(hashtextextended($1, 0))) AS l",
        )
        .bind(tenant)
        .execute(&mut *conn)
        .await
        .map_err(query("advisory lock"))?;
    }
    Ok(())
}
