//! [`S3Blobs`]: one S3 bucket per region, `<bucket_prefix>-<region>`.
//!
//! The SDK is async; the trait is not. Each [`S3Blobs`] owns a two-thread tokio runtime and
//! blocks on it. Objects stream in and out: writes go up in 8 MiB parts (multipart upload), reads
//! come down chunk by chunk, so a large blob is never whole in memory.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use airlock_model::Region;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{BehaviorVersion, Credentials};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier,
};
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use bytes::{Buf, Bytes};

use crate::{BlobError, BlobStore, BlobWrite, RegionalBlobs, check_delete_prefix, check_key};

/// Size of one multipart part; a smaller blob goes up in one PutObject.
const PART_SIZE: usize = 8 * 1024 * 1024;
/// S3's limit on parts: a blob is at most 10,000 × 8 MiB (78 GiB).
const MAX_PARTS: i32 = 10_000;
/// DeleteObjects takes at most 1,000 keys.
const DELETE_PAGE: usize = 1000;

/// How to reach S3. Start from [`S3Config::new`] and set what differs.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct S3Config {
    /// `None`: AWS's own endpoint for each region. `Some`: an S3-compatible service,
    /// `https://host[:port]`.
    pub endpoint: Option<String>,
    /// Buckets are `<bucket_prefix>-<region>`, e.g. `airlock-us-east-1`.
    pub bucket_prefix: String,
    pub credentials: S3Credentials,
    /// A PEM certificate to trust besides the system's roots (a private CA, a test server).
    pub extra_ca_pem: Option<String>,
    /// `https://host/bucket/key` rather than `https://bucket.host/key`; most S3-compatible
    /// services want it.
    pub path_style: bool,
    /// Allows `http://127.0.0.1` / `http://localhost` endpoints. Blobs never cross a network
    /// in clear; this exists for a local test server only.
    pub allow_plain_http_on_loopback: bool,
}

impl S3Config {
    /// AWS S3 with credentials from the environment.
    pub fn new(bucket_prefix: impl Into<String>) -> S3Config {
        S3Config {
            endpoint: None,
            bucket_prefix: bucket_prefix.into(),
            credentials: S3Credentials::FromEnv,
            extra_ca_pem: None,
            path_style: false,
            allow_plain_http_on_loopback: false,
        }
    }
}

/// Where the S3 access key comes from.
#[derive(Clone)]
#[non_exhaustive]
pub enum S3Credentials {
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and optionally `AWS_SESSION_TOKEN`, read
    /// when the [`S3Blobs`] is made.
    FromEnv,
    Static {
        access_key_id: String,
        secret_access_key: String,
    },
}

impl fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            S3Credentials::FromEnv => f.write_str("FromEnv"),
            S3Credentials::Static { access_key_id, .. } => f
                .debug_struct("Static")
                .field("access_key_id", access_key_id)
                .field("secret_access_key", &"<redacted>")
                .finish(),
        }
    }
}

/// The runtime the blocking calls run on. Its last handle shuts it down in the background,
/// so an `S3Blobs` (or a reader or writer it handed out) may be dropped anywhere, even inside
/// another async runtime, where dropping a `Runtime` plainly would panic. The calls themselves
/// block: async callers use `spawn_blocking`.
struct S3Runtime(Option<tokio::runtime::Runtime>);

impl std::ops::Deref for S3Runtime {
    type Target = tokio::runtime::Runtime;

    fn deref(&self) -> &tokio::runtime::Runtime {
        self.0
            .as_ref()
            .expect("the runtime lives until the last handle is dropped")
    }
}

impl Drop for S3Runtime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// The bucket that holds `region`'s blobs.
pub fn bucket_name(bucket_prefix: &str, region: Region) -> String {
    format!("{bucket_prefix}-{}", region.as_str())
}

/// S3 stores, one bucket per region. A region's bucket must exist, in that region: the first
/// [`store`](RegionalBlobs::store) for a region checks it with GetBucketLocation and refuses
/// a bucket elsewhere.
///
/// The calls block on the store's own runtime (the [`BlobStore`] API is synchronous): from
/// async code, call them in `spawn_blocking`. Dropping it anywhere is fine.
pub struct S3Blobs {
    config: S3Config,
    credentials: Credentials,
    runtime: Arc<S3Runtime>,
    http: aws_sdk_s3::config::SharedHttpClient,
    stores: Mutex<HashMap<Region, Arc<S3Store>>>,
}

impl fmt::Debug for S3Blobs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Blobs")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl S3Blobs {
    /// Checks the configuration and starts the runtime; talks to S3 only from
    /// [`store`](RegionalBlobs::store) on.
    pub fn new(config: S3Config) -> Result<S3Blobs, BlobError> {
        if let Some(endpoint) = &config.endpoint {
            check_endpoint(endpoint, config.allow_plain_http_on_loopback)?;
        }
        check_bucket_prefix(&config.bucket_prefix)?;
        let credentials = match &config.credentials {
            S3Credentials::Static {
                access_key_id,
                secret_access_key,
            } => Credentials::new(
                access_key_id,
                secret_access_key,
                None,
                None,
                "airlock-config",
            ),
            S3Credentials::FromEnv => {
                let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
                match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
                    (Some(id), Some(secret)) => {
                        Credentials::new(id, secret, var("AWS_SESSION_TOKEN"), None, "airlock-env")
                    }
                    _ => {
                        return Err(config_error(
                            "S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, \
                             or configure a static access key",
                        ));
                    }
                }
            }
        };
        let mut trust = TrustStore::default();
        if let Some(pem) = &config.extra_ca_pem {
            if !pem.contains("-----BEGIN CERTIFICATE-----") {
                return Err(config_error(
                    "the extra CA is not a PEM certificate (-----BEGIN CERTIFICATE-----)",
                ));
            }
            trust = trust.with_pem_certificate(pem.as_bytes());
        }
        let tls_context = TlsContext::builder()
            .with_trust_store(trust)
            .build()
            .map_err(|e| config_error(&format!("TLS setup for S3: {e}")))?;
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .tls_context(tls_context)
            .build_https();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("airlock-s3")
            .enable_all()
            .build()
            .map_err(|e| config_error(&format!("cannot start the S3 runtime: {e}")))?;
        Ok(S3Blobs {
            config,
            credentials,
            runtime: Arc::new(S3Runtime(Some(runtime))),
            http,
            stores: Mutex::new(HashMap::new()),
        })
    }

    fn endpoint_label(&self) -> String {
        self.config
            .endpoint
            .clone()
            .unwrap_or_else(|| "AWS S3".to_owned())
    }

    fn open_store(&self, region: Region) -> Result<S3Store, BlobError> {
        let bucket = bucket_name(&self.config.bucket_prefix, region);
        let mut conf = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new(region.as_str()))
            .credentials_provider(self.credentials.clone())
            .http_client(self.http.clone())
            .force_path_style(self.config.path_style)
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(10))
                    .build(),
            );
        if let Some(endpoint) = &self.config.endpoint {
            conf = conf.endpoint_url(endpoint);
        }
        let location = format!("s3://{bucket}");
        let place = match &self.config.endpoint {
            Some(endpoint) => format!("{location} on {endpoint}"),
            None => location.clone(),
        };
        let store = S3Store {
            client: Client::from_conf(conf.build()),
            runtime: self.runtime.clone(),
            bucket,
            location,
            place,
        };
        let found = self.runtime.block_on(
            store
                .client
                .get_bucket_location()
                .bucket(&store.bucket)
                .send(),
        );
        let found = match found {
            Ok(out) => out,
            Err(e) if e.code() == Some("NoSuchBucket") => {
                return Err(BlobError::BucketMissing {
                    bucket: store.bucket,
                    region,
                    endpoint: self.endpoint_label(),
                });
            }
            Err(e) => return Err(store.error("GetBucketLocation", "", e)),
        };
        // us-east-1 answers with no constraint; "EU" is eu-west-1's historical name.
        let actual = match found.location_constraint().map(|c| c.as_str()) {
            None | Some("") => "us-east-1",
            Some("EU") => "eu-west-1",
            Some(other) => other,
        };
        if actual != region.as_str() {
            return Err(BlobError::WrongRegion {
                bucket: store.bucket,
                expected: region,
                actual: actual.to_owned(),
            });
        }
        tracing::info!(bucket = %store.bucket, %region, "S3 blob store ready");
        Ok(store)
    }
}

impl S3Blobs {
    fn s3_store(&self, region: Region) -> Result<Arc<S3Store>, BlobError> {
        let mut stores = self.stores.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(store) = stores.get(&region) {
            return Ok(store.clone());
        }
        let store = Arc::new(self.open_store(region)?);
        stores.insert(region, store.clone());
        Ok(store)
    }
}

impl RegionalBlobs for S3Blobs {
    fn store(&self, region: Region) -> Result<Arc<dyn BlobStore>, BlobError> {
        Ok(self.s3_store(region)?)
    }

    /// `s3:<endpoint>/<bucket_prefix>-*`, the endpoint without any user part (`aws` for
    /// AWS's own).
    fn location(&self) -> String {
        let endpoint = match &self.config.endpoint {
            None => "aws".to_owned(),
            Some(endpoint) => {
                let endpoint = endpoint.trim_end_matches('/');
                match endpoint.split_once("://") {
                    Some((scheme, rest)) => {
                        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
                        let host = authority.rsplit('@').next().unwrap_or(authority);
                        format!(
                            "{}://{}{path}",
                            scheme.to_ascii_lowercase(),
                            host.to_ascii_lowercase()
                        )
                    }
                    None => endpoint.to_owned(),
                }
            }
        };
        format!("s3:{endpoint}/{}-*", self.config.bucket_prefix)
    }

    /// In every region whose bucket exists (a region without one has nothing to abort).
    fn abort_incomplete(&self, started_before: SystemTime) -> Result<u64, BlobError> {
        let mut aborted = 0;
        for region in Region::ALL {
            let store = match self.s3_store(region) {
                Ok(store) => store,
                Err(BlobError::BucketMissing { .. }) => continue,
                Err(e) => return Err(e),
            };
            aborted += store.abort_uploads("", Some(started_before))?;
        }
        Ok(aborted)
    }
}

/// One region's bucket.
struct S3Store {
    client: Client,
    runtime: Arc<S3Runtime>,
    bucket: String,
    location: String,
    /// `location`, and the endpoint when it is not AWS's: for error messages.
    place: String,
}

impl S3Store {
    fn error<E>(&self, action: &str, key: &str, err: SdkError<E>) -> BlobError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        sdk_error(&self.place, action, key, err)
    }

    fn missing(&self, key: &str) -> BlobError {
        BlobError::Missing {
            key: key.to_owned(),
            location: self.location.clone(),
        }
    }

    /// One page of keys under `prefix`, and where the next one starts.
    fn list_page(
        &self,
        prefix: &str,
        token: Option<String>,
    ) -> Result<(Vec<String>, Option<String>), BlobError> {
        let page = self.runtime.block_on(
            self.client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_continuation_token(token)
                .send(),
        );
        let page = page.map_err(|e| self.error("ListObjectsV2", prefix, e))?;
        let keys = page
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect();
        let next = match page.is_truncated() {
            Some(true) => page.next_continuation_token().map(str::to_owned),
            _ => None,
        };
        Ok((keys, next))
    }
}

impl S3Store {
    /// Aborts the incomplete multipart uploads under `prefix` (those started before
    /// `started_before`, or all); returns how many. An upload S3 gives no start time for
    /// is left to an unbounded call (a purge) and the bucket's lifecycle rule.
    fn abort_uploads(
        &self,
        prefix: &str,
        started_before: Option<SystemTime>,
    ) -> Result<u64, BlobError> {
        let cutoff = started_before.map(|t| {
            t.duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        });
        let mut aborted = 0;
        let (mut key_marker, mut id_marker) = (None, None);
        loop {
            let page = self
                .runtime
                .block_on(
                    self.client
                        .list_multipart_uploads()
                        .bucket(&self.bucket)
                        .prefix(prefix)
                        .set_key_marker(key_marker.take())
                        .set_upload_id_marker(id_marker.take())
                        .send(),
                )
                .map_err(|e| self.error("ListMultipartUploads", prefix, e))?;
            for upload in page.uploads() {
                let (Some(key), Some(id)) = (upload.key(), upload.upload_id()) else {
                    continue;
                };
                let old = match (cutoff, upload.initiated()) {
                    (None, _) => true,
                    (Some(cutoff), Some(at)) => at.secs() < cutoff,
                    (Some(_), None) => false,
                };
                if !old {
                    continue;
                }
                let done = self.runtime.block_on(
                    self.client
                        .abort_multipart_upload()
                        .bucket(&self.bucket)
                        .key(key)
                        .upload_id(id)
                        .send(),
                );
                match done {
                    Ok(_) => aborted += 1,
                    // Completed or aborted meanwhile: gone is what we wanted.
                    Err(e) if e.code() == Some("NoSuchUpload") => {}
                    Err(e) => return Err(self.error("AbortMultipartUpload", key, e)),
                }
            }
            if page.is_truncated() != Some(true) {
                break;
            }
            key_marker = page.next_key_marker().map(str::to_owned);
            id_marker = page.next_upload_id_marker().map(str::to_owned);
            if key_marker.is_none() && id_marker.is_none() {
                break;
            }
        }
        if aborted > 0 {
            tracing::info!(prefix, aborted, bucket = %self.bucket, "incomplete multipart uploads aborted");
        }
        Ok(aborted)
    }
}

impl BlobStore for S3Store {
    fn create(&self, key: &str) -> Result<Box<dyn BlobWrite>, BlobError> {
        check_key(key)?;
        Ok(Box::new(S3Write {
            client: self.client.clone(),
            runtime: self.runtime.clone(),
            bucket: self.bucket.clone(),
            place: self.place.clone(),
            key: key.to_owned(),
            buf: Vec::new(),
            upload: None,
            written: 0,
            failed: false,
        }))
    }

    fn open(&self, key: &str) -> Result<Box<dyn Read + Send>, BlobError> {
        check_key(key)?;
        let got = self.runtime.block_on(
            self.client
                .get_object()
                .bucket(&self.bucket)
                .key(key)
                .send(),
        );
        match got {
            Ok(out) => Ok(Box::new(S3Read {
                runtime: self.runtime.clone(),
                body: out.body,
                chunk: Bytes::new(),
            })),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                Err(self.missing(key))
            }
            Err(e) => Err(self.error("GetObject", key, e)),
        }
    }

    fn exists(&self, key: &str) -> Result<bool, BlobError> {
        check_key(key)?;
        let head = self.runtime.block_on(
            self.client
                .head_object()
                .bucket(&self.bucket)
                .key(key)
                .send(),
        );
        match head {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(false),
            Err(e) => Err(self.error("HeadObject", key, e)),
        }
    }

    fn delete(&self, key: &str) -> Result<(), BlobError> {
        check_key(key)?;
        self.runtime
            .block_on(
                self.client
                    .delete_object()
                    .bucket(&self.bucket)
                    .key(key)
                    .send(),
            )
            .map_err(|e| self.error("DeleteObject", key, e))?;
        tracing::debug!(key, bucket = %self.bucket, "blob deleted");
        Ok(())
    }

    fn delete_prefix(&self, prefix: &str) -> Result<u64, BlobError> {
        check_delete_prefix(prefix)?;
        let mut deleted = 0;
        let mut token = None;
        loop {
            let (keys, next) = self.list_page(prefix, token)?;
            for batch in keys.chunks(DELETE_PAGE) {
                let delete = delete_request(batch).map_err(|e| BlobError::S3 {
                    location: self.place.clone(),
                    action: format!("DeleteObjects {prefix:?}"),
                    detail: e.to_string(),
                    hint: "report this as a bug",
                })?;
                let out = self
                    .runtime
                    .block_on(
                        self.client
                            .delete_objects()
                            .bucket(&self.bucket)
                            .delete(delete)
                            .send(),
                    )
                    .map_err(|e| self.error("DeleteObjects", prefix, e))?;
                if let Some(failed) = out.errors().first() {
                    return Err(BlobError::S3 {
                        location: self.place.clone(),
                        action: format!("DeleteObjects {prefix:?}"),
                        detail: format!(
                            "{} of {} keys not deleted, e.g. {:?}: {} {}",
                            out.errors().len(),
                            batch.len(),
                            failed.key().unwrap_or_default(),
                            failed.code().unwrap_or_default(),
                            failed.message().unwrap_or_default(),
                        ),
                        hint: "check that the access key may delete objects, then delete again",
                    });
                }
                deleted += batch.len() as u64;
            }
            match next {
                Some(next) => token = Some(next),
                None => break,
            }
        }
        // Uploads never completed under the prefix hold its bytes too.
        self.abort_uploads(prefix, None)?;
        tracing::info!(prefix, deleted, bucket = %self.bucket, "blobs deleted by prefix");
        Ok(deleted)
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError> {
        crate::check_prefix(prefix)?;
        let mut all = Vec::new();
        let mut token = None;
        loop {
            let (keys, next) = self.list_page(prefix, token)?;
            all.extend(keys);
            match next {
                Some(next) => token = Some(next),
                None => break,
            }
        }
        all.sort_unstable();
        Ok(all)
    }

    fn location(&self) -> String {
        self.location.clone()
    }
}

fn delete_request(keys: &[String]) -> Result<Delete, aws_sdk_s3::error::BuildError> {
    let objects = keys
        .iter()
        .map(|key| ObjectIdentifier::builder().key(key).build())
        .collect::<Result<Vec<_>, _>>()?;
    Delete::builder()
        .set_objects(Some(objects))
        .quiet(true)
        .build()
}

/// A multipart upload under way.
struct Upload {
    id: String,
    parts: Vec<CompletedPart>,
}

/// Buffers up to one part; the first full part starts a multipart upload, a blob that never
/// fills one goes up whole in `finish`.
struct S3Write {
    client: Client,
    runtime: Arc<S3Runtime>,
    bucket: String,
    place: String,
    key: String,
    buf: Vec<u8>,
    upload: Option<Upload>,
    written: u64,
    /// A part failed: the blob cannot be finished any more.
    failed: bool,
}

impl S3Write {
    fn error<E>(&self, action: &str, err: SdkError<E>) -> BlobError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        sdk_error(&self.place, action, &self.key, err)
    }

    /// Sends the buffer as the next part, starting the multipart upload if needed.
    fn send_part(&mut self) -> Result<(), BlobError> {
        let (id, number) = match &self.upload {
            Some(upload) => (upload.id.clone(), upload.parts.len() as i32 + 1),
            None => {
                let created = self.runtime.block_on(
                    self.client
                        .create_multipart_upload()
                        .bucket(&self.bucket)
                        .key(&self.key)
                        .checksum_algorithm(ChecksumAlgorithm::Crc32)
                        .send(),
                );
                let created = created.map_err(|e| self.error("CreateMultipartUpload", e))?;
                let id = created.upload_id().unwrap_or_default().to_owned();
                self.upload = Some(Upload {
                    id: id.clone(),
                    parts: Vec::new(),
                });
                (id, 1)
            }
        };
        if number > MAX_PARTS {
            return Err(BlobError::S3 {
                location: self.place.clone(),
                action: format!("UploadPart {:?}", self.key),
                detail: format!("a blob is at most {MAX_PARTS} parts of {PART_SIZE} bytes"),
                hint: "split the data into several blobs",
            });
        }
        let body = Bytes::from(std::mem::take(&mut self.buf));
        let sent = self.runtime.block_on(
            self.client
                .upload_part()
                .bucket(&self.bucket)
                .key(&self.key)
                .upload_id(id)
                .part_number(number)
                .checksum_algorithm(ChecksumAlgorithm::Crc32)
                .body(ByteStream::from(body))
                .send(),
        );
        let sent = sent.map_err(|e| self.error("UploadPart", e))?;
        let part = CompletedPart::builder()
            .part_number(number)
            .set_e_tag(sent.e_tag().map(str::to_owned))
            .set_checksum_crc32(sent.checksum_crc32().map(str::to_owned))
            .build();
        if let Some(upload) = &mut self.upload {
            upload.parts.push(part);
        }
        tracing::trace!(key = %self.key, part = number, "blob part uploaded");
        Ok(())
    }

    /// Best effort: an abandoned upload only costs storage until the bucket's lifecycle rule.
    fn abort(&mut self) {
        let Some(upload) = self.upload.take() else {
            return;
        };
        let abort = self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(upload.id)
            .send();
        let key = self.key.clone();
        let report = move |result: Result<_, _>| match result {
            Ok(_) => tracing::debug!(%key, "multipart upload aborted"),
            Err(e) => tracing::warn!(
                %key,
                error = %causes(&e),
                "cannot abort a multipart upload; its parts stay until the bucket's lifecycle rule"
            ),
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            // Inside some runtime, where blocking would panic: let ours do it (if this writer
            // held the last handle, the shutdown cancels it and the lifecycle rule cleans up).
            self.runtime.spawn(async move { report(abort.await) });
        } else {
            report(self.runtime.block_on(abort));
        }
    }
}

impl Write for S3Write {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.failed {
            return Err(io::Error::other(format!(
                "an earlier part of blob {:?} failed to upload; start it again",
                self.key
            )));
        }
        if self.buf.capacity() == 0 {
            self.buf
                .reserve_exact(PART_SIZE.min(buf.len().max(64 * 1024)));
        }
        let n = buf.len().min(PART_SIZE - self.buf.len());
        self.buf.extend_from_slice(&buf[..n]);
        self.written += n as u64;
        if self.buf.len() == PART_SIZE {
            self.send_part().map_err(|e| {
                self.failed = true;
                io::Error::other(e)
            })?;
            self.buf.reserve_exact(PART_SIZE);
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl BlobWrite for S3Write {
    fn finish(mut self: Box<Self>) -> Result<u64, BlobError> {
        if self.failed {
            return Err(BlobError::S3 {
                location: self.place.clone(),
                action: format!("upload {:?}", self.key),
                detail: "an earlier part failed".to_owned(),
                hint: "start the blob again",
            });
        }
        if self.upload.is_none() {
            let body = Bytes::from(std::mem::take(&mut self.buf));
            let put = self.runtime.block_on(
                self.client
                    .put_object()
                    .bucket(&self.bucket)
                    .key(&self.key)
                    .body(ByteStream::from(body))
                    .send(),
            );
            put.map_err(|e| self.error("PutObject", e))?;
        } else {
            if !self.buf.is_empty() {
                self.send_part()?;
            }
            let upload = self.upload.take().expect("a multipart upload is under way");
            let done = self.runtime.block_on(
                self.client
                    .complete_multipart_upload()
                    .bucket(&self.bucket)
                    .key(&self.key)
                    .upload_id(&upload.id)
                    .multipart_upload(
                        CompletedMultipartUpload::builder()
                            .set_parts(Some(upload.parts.clone()))
                            .build(),
                    )
                    .send(),
            );
            if let Err(e) = done {
                let err = self.error("CompleteMultipartUpload", e);
                self.upload = Some(upload);
                return Err(err);
            }
        }
        tracing::debug!(
            key = %self.key,
            bucket = %self.bucket,
            bytes = self.written,
            "blob written"
        );
        Ok(self.written)
    }
}

impl Drop for S3Write {
    fn drop(&mut self) {
        self.abort();
    }
}

/// The body of a GetObject, read chunk by chunk as the SDK receives it.
struct S3Read {
    runtime: Arc<S3Runtime>,
    body: ByteStream,
    chunk: Bytes,
}

impl Read for S3Read {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.chunk.is_empty() {
            match self.runtime.block_on(self.body.next()) {
                Some(Ok(chunk)) => self.chunk = chunk,
                Some(Err(e)) => return Err(io::Error::other(e)),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        self.chunk.advance(n);
        Ok(n)
    }
}

/// An SDK failure, with what to do about it.
fn sdk_error<E>(location: &str, action: &str, key: &str, err: SdkError<E>) -> BlobError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let hint = match err.code() {
        Some("AccessDenied" | "InvalidAccessKeyId" | "SignatureDoesNotMatch") => {
            "check the access key and secret, and that they may use this bucket"
        }
        Some("NoSuchBucket") => "create the bucket in its region, or check the bucket prefix",
        _ if matches!(
            err,
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)
        ) =>
        {
            "check that the endpoint is reachable and its certificate trusted \
             (set the extra CA for a private CA)"
        }
        _ => "retry later; if it persists, check the S3 service's status",
    };
    let action = if key.is_empty() {
        action.to_owned()
    } else {
        format!("{action} {key:?}")
    };
    // A service error says enough in its status, code and message; the rest (network, TLS,
    // timeouts) needs the whole chain of causes.
    let detail = match &err {
        SdkError::ServiceError(e) => format!(
            "HTTP {} {}: {}",
            e.raw().status().as_u16(),
            err.code().unwrap_or("(no code)"),
            err.message().unwrap_or("(no message)"),
        ),
        _ => causes(&err),
    };
    BlobError::S3 {
        location: location.to_owned(),
        action,
        detail,
        hint,
    }
}

/// An error and its sources, `outer: inner: innermost`.
fn causes(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = e.source();
    }
    out
}

fn config_error(message: &str) -> BlobError {
    BlobError::Config {
        message: message.to_owned(),
    }
}

/// HTTPS only; plain HTTP to loopback when explicitly allowed (a local test server).
fn check_endpoint(endpoint: &str, allow_plain_http_on_loopback: bool) -> Result<(), BlobError> {
    let lower = endpoint.to_ascii_lowercase();
    if lower.starts_with("https://") && lower.len() > "https://".len() {
        return Ok(());
    }
    let Some(rest) = lower.strip_prefix("http://") else {
        return Err(config_error(&format!(
            "S3 endpoint {endpoint:?} is not an https:// URL"
        )));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    let loopback = matches!(host, "127.0.0.1" | "localhost" | "::1");
    if loopback && allow_plain_http_on_loopback {
        tracing::warn!(endpoint, "S3 over plain HTTP on loopback (tests only)");
        return Ok(());
    }
    let fix = if loopback {
        "use https://, or set allow_plain_http_on_loopback for a local test server"
    } else {
        "use https://"
    };
    Err(config_error(&format!(
        "refusing plain HTTP endpoint {endpoint:?}: blobs only travel over HTTPS; {fix}"
    )))
}

/// Bucket names: 3–63 of lowercase letters, digits and '-' (we add `-<region>`).
fn check_bucket_prefix(prefix: &str) -> Result<(), BlobError> {
    let longest_region = Region::ALL
        .iter()
        .map(|r| r.as_str().len())
        .max()
        .unwrap_or(0);
    let ok = !prefix.is_empty()
        && prefix.len() + 1 + longest_region <= 63
        && prefix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && prefix.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(config_error(&format!(
            "bucket prefix {prefix:?} cannot make bucket names: use lowercase letters, digits \
             and '-', starting with a letter or digit, at most {} characters",
            62 - longest_region
        )))
    }
}
