//! [`TestS3`]: a real S3-compatible server (s3s-fs over a temporary directory) on loopback,
//! over HTTPS with a throwaway CA, for tests here and in the crates above.
//!
//! s3s-fs keeps a bucket as a folder of `data_dir()` and an object as a file in it, so a test
//! can look at exactly what reached "S3". It answers GetBucketLocation with no region at all,
//! and does not implement ListMultipartUploads (it does create, upload parts of, complete
//! and abort multipart uploads, keeping the parts as `.upload_id-<id>.part-<n>` files in
//! `data_dir()`); [`Located`] answers GetBucketLocation with the region each bucket was
//! created for, and ListMultipartUploads from the uploads it saw created and not yet
//! completed or aborted.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use airlock_model::Region;
use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result};

use crate::{S3Config, S3Credentials, bucket_name};

/// An S3 server on `https://127.0.0.1:<port>`, stopped and wiped when dropped.
pub struct TestS3 {
    endpoint: String,
    ca_pem: String,
    credentials: S3Credentials,
    bucket_prefix: String,
    buckets: Buckets,
    runtime: Option<tokio::runtime::Runtime>,
    /// Removed only after `drop` has stopped the server.
    data: tempfile::TempDir,
}

/// Each bucket's region, as GetBucketLocation reports it.
type Buckets = Arc<Mutex<HashMap<String, Region>>>;

impl TestS3 {
    /// Starts a server with a bucket `<bucket_prefix>-<region>` in each of `regions`.
    pub fn start(bucket_prefix: &str, regions: &[Region]) -> io::Result<TestS3> {
        let data = tempfile::Builder::new().prefix("airlock-s3-").tempdir()?;
        let (access_key_id, secret_access_key) = ("airlock-test", "airlock-test-secret-key");
        let buckets = Buckets::default();
        let fs = s3s_fs::FileSystem::new(data.path())
            .map_err(|e| io::Error::other(format!("cannot start s3s-fs: {e:?}")))?;
        let service = {
            let mut b = s3s::service::S3ServiceBuilder::new(Located {
                fs,
                buckets: buckets.clone(),
                uploads: Mutex::default(),
            });
            b.set_auth(s3s::auth::SimpleAuth::from_single(
                access_key_id,
                secret_access_key,
            ));
            b.build()
        };
        let airlock_tls::TestCertificates {
            server: tls,
            ca_pem,
        } = airlock_tls::test_certificates("Airlock test S3")
            .map_err(|e| io::Error::other(e.to_string()))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("test-s3")
            .enable_all()
            .build()?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let listener = {
            let _in_runtime = runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        runtime.spawn(serve(listener, tls, service));
        let s3 = TestS3 {
            endpoint: format!("https://127.0.0.1:{port}"),
            ca_pem,
            credentials: S3Credentials::Static {
                access_key_id: access_key_id.to_owned(),
                secret_access_key: secret_access_key.to_owned(),
            },
            bucket_prefix: bucket_prefix.to_owned(),
            buckets,
            runtime: Some(runtime),
            data,
        };
        for &region in regions {
            s3.create_bucket(&bucket_name(bucket_prefix, region), region)?;
        }
        Ok(s3)
    }

    /// Creates a bucket that reports `region` as its location, whatever its name says
    /// (to test a bucket in the wrong region).
    pub fn create_bucket(&self, bucket: &str, region: Region) -> io::Result<()> {
        std::fs::create_dir(self.data.path().join(bucket))?;
        self.buckets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(bucket.to_owned(), region);
        Ok(())
    }

    /// `https://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The CA that signed the server's certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    pub fn credentials(&self) -> &S3Credentials {
        &self.credentials
    }

    /// A configuration for [`crate::S3Blobs`] that talks to this server.
    pub fn config(&self) -> S3Config {
        let mut config = S3Config::new(self.bucket_prefix.clone());
        config.endpoint = Some(self.endpoint.clone());
        config.credentials = self.credentials.clone();
        config.extra_ca_pem = Some(self.ca_pem.clone());
        config.path_style = true;
        config
    }

    /// Where the server keeps everything: a folder per bucket, plus its own bookkeeping
    /// (metadata, parts of unfinished multipart uploads) as dot-files.
    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }

    /// The folder of `region`'s bucket: one file per object, at its key.
    pub fn bucket_dir(&self, region: Region) -> PathBuf {
        self.data
            .path()
            .join(bucket_name(&self.bucket_prefix, region))
    }
}

impl Drop for TestS3 {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl std::fmt::Debug for TestS3 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestS3")
            .field("endpoint", &self.endpoint)
            .field("data_dir", &self.data.path())
            .finish_non_exhaustive()
    }
}

async fn serve(
    listener: tokio::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
    service: s3s::service::S3Service,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let service = service.clone();
        tokio::spawn(async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await;
        });
    }
}

/// s3s-fs, with GetBucketLocation answering each bucket's region and ListMultipartUploads
/// answered here. Only the operations the S3 store uses are passed on; the rest answer
/// NotImplemented.
struct Located {
    fs: s3s_fs::FileSystem,
    buckets: Buckets,
    /// Multipart uploads created and neither completed nor aborted.
    uploads: Mutex<Vec<OpenUpload>>,
}

struct OpenUpload {
    bucket: String,
    key: String,
    id: String,
    initiated: std::time::SystemTime,
}

impl Located {
    fn forget_upload(&self, id: &str) {
        self.uploads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|u| u.id != id);
    }
}

#[async_trait::async_trait]
impl S3 for Located {
    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        let region = self
            .buckets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&req.input.bucket)
            .copied();
        let Some(region) = region else {
            return self.fs.get_bucket_location(req).await;
        };
        // As AWS does: no constraint for us-east-1.
        let location_constraint = (region != Region::UsEast1)
            .then(|| BucketLocationConstraint::from(region.as_str().to_owned()));
        Ok(S3Response::new(GetBucketLocationOutput {
            location_constraint,
        }))
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.fs.head_bucket(req).await
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        self.fs.put_object(req).await
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        self.fs.get_object(req).await
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        self.fs.head_object(req).await
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        self.fs.delete_object(req).await
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        self.fs.delete_objects(req).await
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        self.fs.list_objects_v2(req).await
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let out = self.fs.create_multipart_upload(req).await?;
        if let Some(id) = &out.output.upload_id {
            self.uploads
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(OpenUpload {
                    bucket,
                    key,
                    id: id.clone(),
                    initiated: std::time::SystemTime::now(),
                });
        }
        Ok(out)
    }

    /// All of a bucket's open uploads under the prefix, in one page sorted by key and id
    /// (markers and page sizes are not needed by the callers here).
    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let input = req.input;
        let prefix = input.prefix.clone().unwrap_or_default();
        let mut uploads: Vec<MultipartUpload> = self
            .uploads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|u| u.bucket == input.bucket && u.key.starts_with(&prefix))
            .map(|u| MultipartUpload {
                key: Some(u.key.clone()),
                upload_id: Some(u.id.clone()),
                initiated: Some(Timestamp::from(u.initiated)),
                ..MultipartUpload::default()
            })
            .collect();
        uploads.sort_by(|a, b| (&a.key, &a.upload_id).cmp(&(&b.key, &b.upload_id)));
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(input.bucket),
            prefix: input.prefix,
            is_truncated: Some(false),
            uploads: Some(uploads),
            ..ListMultipartUploadsOutput::default()
        }))
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        self.fs.upload_part(req).await
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let id = req.input.upload_id.clone();
        let out = self.fs.complete_multipart_upload(req).await?;
        self.forget_upload(&id);
        Ok(out)
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let id = req.input.upload_id.clone();
        let out = self.fs.abort_multipart_upload(req).await?;
        self.forget_upload(&id);
        Ok(out)
    }
}
