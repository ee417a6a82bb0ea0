//! Async wrappers: the blocking work (locks, fsync, the guest) runs on
//! tokio's blocking pool, never on the runtime's worker threads.

use serde_json::Value;

use crate::interface::latest::{
    Equipment, EquipmentWritten, Kind, Marker, MarkerKind, MarkerWritten,
};
use crate::{Appended, Cache, Created, Error, UpdateError};

/// A [`Cache`] whose calls are futures. Cheap to clone.
#[derive(Clone)]
pub struct AsyncCache(Cache);

impl AsyncCache {
    /// Wraps a cache.
    pub fn new(cache: Cache) -> Self {
        AsyncCache(cache)
    }

    /// The synchronous cache underneath.
    pub fn inner(&self) -> &Cache {
        &self.0
    }

    async fn run<R: Send + 'static>(
        &self,
        call: impl FnOnce(&Cache) -> Result<R, Error> + Send + 'static,
    ) -> Result<R, Error> {
        self.blocking(call).await.unwrap_or_else(Err)
    }

    /// Runs `call` on the blocking pool; a panic there resumes here, and a
    /// cancelled task is an `io_error`.
    async fn blocking<T: Send + 'static>(
        &self,
        call: impl FnOnce(&Cache) -> T + Send + 'static,
    ) -> Result<T, Error> {
        let cache = self.0.clone();
        match tokio::task::spawn_blocking(move || call(&cache)).await {
            Ok(out) => Ok(out),
            Err(e) => match e.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(e) => Err(Error::io(format!("the blocking call was cancelled: {e}"))),
            },
        }
    }

    /// See [`Cache::write_equipment`].
    pub async fn write_equipment(
        &self,
        path: impl Into<String>,
        input_json: impl Into<String>,
    ) -> Result<EquipmentWritten, Error> {
        let (path, input) = (path.into(), input_json.into());
        self.run(move |c| c.write_equipment(&path, &input)).await
    }

    /// See [`Cache::read_equipment`].
    pub async fn read_equipment(&self, path: impl Into<String>) -> Result<Equipment, Error> {
        let path = path.into();
        self.run(move |c| c.read_equipment(&path)).await
    }

    /// See [`Cache::write_marker`].
    pub async fn write_marker(
        &self,
        kind: MarkerKind,
        path: impl Into<String>,
        input_json: impl Into<String>,
    ) -> Result<MarkerWritten, Error> {
        let (path, input) = (path.into(), input_json.into());
        self.run(move |c| c.write_marker(kind, &path, &input)).await
    }

    /// See [`Cache::swap_policy`]: compiling and the conformance gate run on
    /// the blocking pool.
    pub async fn swap_policy(&self, component: Vec<u8>) -> Result<crate::Swapped, Error> {
        self.run(move |c| c.swap_policy(&component)).await
    }

    /// See [`Cache::swap_policy_signed`].
    pub async fn swap_policy_signed(
        &self,
        component: Vec<u8>,
        signature: String,
    ) -> Result<crate::Swapped, Error> {
        self.run(move |c| c.swap_policy_signed(&component, &signature))
            .await
    }

    /// See [`Cache::rollback`].
    pub async fn rollback(&self) -> Result<crate::RolledBack, Error> {
        self.run(|c| c.rollback()).await
    }

    /// See [`Cache::status`]: it reads the trust file, so it runs on the
    /// blocking pool too.
    /// (`Err` only if the runtime cancelled the blocking task.)
    pub async fn status(&self) -> Result<crate::status::PolicyStatus, Error> {
        self.run(|c| Ok(c.status())).await
    }

    /// See [`Cache::read_marker`].
    pub async fn read_marker(
        &self,
        kind: MarkerKind,
        path: impl Into<String>,
    ) -> Result<Marker, Error> {
        let path = path.into();
        self.run(move |c| c.read_marker(kind, &path)).await
    }

    /// See [`Cache::kinds`].
    pub async fn kinds(&self) -> Result<Vec<Kind>, Error> {
        self.run(|c| c.kinds()).await
    }

    /// See [`Cache::run`].
    pub async fn run_kind(
        &self,
        kind: impl Into<String>,
        operation: impl Into<String>,
        path: impl Into<String>,
        input_json: impl Into<String>,
    ) -> Result<String, Error> {
        let (kind, op) = (kind.into(), operation.into());
        let (path, input) = (path.into(), input_json.into());
        self.run(move |c| c.run(&kind, &op, &path, &input)).await
    }

    /// See [`Cache::update`]: `step` runs on the blocking pool, under the lock.
    pub async fn update<E: Send + 'static>(
        &self,
        kind: impl Into<String>,
        path: impl Into<String>,
        step: impl FnMut(&mut Value) -> Result<(), E> + Send + 'static,
    ) -> Result<Value, UpdateError<E>> {
        let (kind, path) = (kind.into(), path.into());
        self.blocking(move |c| c.update(&kind, &path, step))
            .await
            .unwrap_or_else(|e| Err(UpdateError::Cache(e)))
    }

    /// See [`Cache::create_creation`].
    pub async fn create_creation(
        &self,
        path: impl Into<String>,
        record_json: impl Into<String>,
    ) -> Result<Created, Error> {
        let (path, input) = (path.into(), record_json.into());
        self.run(move |c| c.create_creation(&path, &input)).await
    }

    /// See [`Cache::update_creation`].
    pub async fn update_creation<E: Send + 'static>(
        &self,
        path: impl Into<String>,
        step: impl FnMut(&mut Value) -> Result<(), E> + Send + 'static,
    ) -> Result<Value, UpdateError<E>> {
        self.update("creation", path, step).await
    }

    /// See [`Cache::read_creation`].
    pub async fn read_creation(&self, path: impl Into<String>) -> Result<Value, Error> {
        let path = path.into();
        self.run(move |c| c.read_creation(&path)).await
    }

    /// See [`Cache::create_ingest`].
    pub async fn create_ingest(
        &self,
        path: impl Into<String>,
        record_json: impl Into<String>,
    ) -> Result<Created, Error> {
        let (path, input) = (path.into(), record_json.into());
        self.run(move |c| c.create_ingest(&path, &input)).await
    }

    /// See [`Cache::transition_ingest`].
    pub async fn transition_ingest(
        &self,
        path: impl Into<String>,
        transition_json: impl Into<String>,
    ) -> Result<Value, Error> {
        let (path, input) = (path.into(), transition_json.into());
        self.run(move |c| c.transition_ingest(&path, &input)).await
    }

    /// See [`Cache::read_ingest`].
    pub async fn read_ingest(&self, path: impl Into<String>) -> Result<Value, Error> {
        let path = path.into();
        self.run(move |c| c.read_ingest(&path)).await
    }

    /// See [`Cache::write_readme_fields`].
    pub async fn write_readme_fields(
        &self,
        path: impl Into<String>,
        record_json: impl Into<String>,
    ) -> Result<Value, Error> {
        let (path, input) = (path.into(), record_json.into());
        self.run(move |c| c.write_readme_fields(&path, &input))
            .await
    }

    /// See [`Cache::read_readme_fields`].
    pub async fn read_readme_fields(&self, path: impl Into<String>) -> Result<Value, Error> {
        let path = path.into();
        self.run(move |c| c.read_readme_fields(&path)).await
    }

    /// See [`Cache::append_log_line`].
    pub async fn append_log_line(
        &self,
        path: impl Into<String>,
        input_json: impl Into<String>,
    ) -> Result<Appended, Error> {
        let (path, input) = (path.into(), input_json.into());
        self.run(move |c| c.append_log_line(&path, &input)).await
    }
}
