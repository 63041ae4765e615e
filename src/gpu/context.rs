//! Device acquisition, kept apart from kernel execution so callers (and tests) can bring
//! their own device ([`GpuContext::from_device`]).

use super::pipelines::Pipelines;
use super::pool::{BufferPool, Counters, GpuStats, PooledBuffer};
use crate::{Error, Result};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// How long a readback waits for the GPU. Generous, for software rasterisers on loaded
/// machines; a real hang still ends in an error rather than forever.
pub(crate) const POLL_TIMEOUT: Duration = Duration::from_secs(300);

/// How to pick an adapter.
#[derive(Clone, Debug, Default)]
pub struct GpuOptions {
    /// Use the first adapter whose name contains this (case-insensitive). Defaults to
    /// the `WGPU_ADAPTER_NAME` environment variable.
    pub adapter_name: Option<String>,
    /// Backends to search. Defaults to `WGPU_BACKEND`, else Vulkan, Metal and DX12.
    pub backends: Option<wgpu::Backends>,
    /// Do not use f64 in shaders even where the adapter has it (tests the f32 path).
    pub disable_f64: bool,
}

impl GpuOptions {
    /// Options from `WGPU_ADAPTER_NAME` and `WGPU_BACKEND`.
    pub fn from_env() -> Self {
        GpuOptions {
            adapter_name: std::env::var("WGPU_ADAPTER_NAME")
                .ok()
                .filter(|s| !s.is_empty()),
            backends: wgpu::Backends::from_env(),
            disable_f64: false,
        }
    }
}

/// What `imflow info` and run reports say about an adapter.
#[derive(Clone, Debug, Serialize)]
pub struct AdapterSummary {
    /// Adapter name, e.g. `NVIDIA H100 80GB HBM3` or `llvmpipe (LLVM 15.0.6, 256 bits)`.
    pub name: String,
    /// `DiscreteGpu`, `IntegratedGpu`, `VirtualGpu`, `Cpu` or `Other`.
    pub device_type: String,
    /// `Vulkan`, `Metal`, `Dx12`, `Gl`.
    pub backend: String,
    /// Driver name and version.
    pub driver: String,
    /// Largest storage buffer binding, bytes: bounds the image size per dispatch.
    pub max_storage_buffer_binding_size: u64,
    /// Largest buffer, bytes.
    pub max_buffer_size: u64,
    /// Workgroup memory, bytes.
    pub max_compute_workgroup_storage_size: u32,
    /// Whether shaders can use f64 (exact Otsu class means).
    pub shader_f64: bool,
    /// Whether kernels can be timed with timestamp queries.
    pub timestamp_query: bool,
}

impl AdapterSummary {
    fn new(info: &wgpu::AdapterInfo, limits: &wgpu::Limits, features: wgpu::Features) -> Self {
        AdapterSummary {
            name: info.name.clone(),
            device_type: format!("{:?}", info.device_type),
            backend: format!("{:?}", info.backend),
            driver: format!("{} {}", info.driver, info.driver_info)
                .trim()
                .to_string(),
            max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
            max_buffer_size: limits.max_buffer_size,
            max_compute_workgroup_storage_size: limits.max_compute_workgroup_storage_size,
            shader_f64: features.contains(wgpu::Features::SHADER_F64),
            timestamp_query: features.contains(wgpu::Features::TIMESTAMP_QUERY),
        }
    }
}

fn rank(t: wgpu::DeviceType) -> u8 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 3,
        wgpu::DeviceType::Other => 4,
    }
}

fn instance(options: &GpuOptions) -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    // GL is left out unless asked for: it would list the same software device twice and
    // lacks the compute features imflow uses.
    desc.backends = options.backends.unwrap_or(wgpu::Backends::PRIMARY);
    wgpu::Instance::new(desc)
}

/// The adapters of the chosen backends, best first.
fn ranked_adapters(options: &GpuOptions) -> Vec<wgpu::Adapter> {
    let backends = options.backends.unwrap_or(wgpu::Backends::PRIMARY);
    let mut list = pollster::block_on(instance(options).enumerate_adapters(backends));
    list.sort_by_key(|a| rank(a.get_info().device_type));
    list
}

/// Every adapter the backends expose, best first.
pub fn adapters(options: &GpuOptions) -> Vec<AdapterSummary> {
    ranked_adapters(options)
        .iter()
        .map(|a| AdapterSummary::new(&a.get_info(), &a.limits(), a.features()))
        .collect()
}

/// What `Backend::Auto` makes of the adapters found (best first): the adapter to use,
/// if any, and why, in words for `imflow info` and the run's notice.
///
/// A software adapter (wgpu's `DeviceType::Cpu`: Mesa's llvmpipe, SwiftShader, WARP)
/// runs the same kernels on the CPU, far slower than the CPU twins on the same cores,
/// so `auto` passes it over; `--backend gpu`, or `WGPU_ADAPTER_NAME` naming it, still
/// selects it.
pub fn auto_pick(list: &[AdapterSummary], options: &GpuOptions) -> (Option<usize>, String) {
    let software = |a: &AdapterSummary| a.device_type == format!("{:?}", wgpu::DeviceType::Cpu);
    if let Some(want) = &options.adapter_name {
        let want_lc = want.to_lowercase();
        return match list
            .iter()
            .position(|a| a.name.to_lowercase().contains(&want_lc))
        {
            Some(i) => (
                Some(i),
                format!("{}: named by WGPU_ADAPTER_NAME", list[i].name),
            ),
            None => (
                None,
                format!("no adapter named like `{want}` (WGPU_ADAPTER_NAME)"),
            ),
        };
    }
    match list.iter().position(|a| !software(a)) {
        Some(i) => (Some(i), format!("{} ({})", list[i].name, list[i].device_type)),
        None => match list.first() {
            Some(a) => (
                None,
                format!(
                    "the only GPU adapter, {}, is a software one: the CPU twins are faster on the same cores (--backend gpu or WGPU_ADAPTER_NAME selects it)",
                    a.name
                ),
            ),
            None => (None, "no GPU adapter".into()),
        },
    }
}

/// Timestamp queries written around every compute pass while
/// [`GpuContext::time_kernels`] runs.
pub(crate) struct Timer {
    query_set: wgpu::QuerySet,
    used: u32,
}

/// Passes one timing can cover (two timestamps each).
const TIMER_PASSES: u32 = 512;

impl Timer {
    /// The timestamp writes of the next compute pass, while there is room.
    pub(crate) fn next_pass(&mut self) -> Option<wgpu::ComputePassTimestampWrites<'_>> {
        if self.used + 2 > TIMER_PASSES * 2 {
            return None;
        }
        self.used += 2;
        Some(wgpu::ComputePassTimestampWrites {
            query_set: &self.query_set,
            beginning_of_pass_write_index: Some(self.used - 2),
            end_of_pass_write_index: Some(self.used - 1),
        })
    }
}

pub(crate) struct Inner {
    pub timer: std::sync::Mutex<Option<Timer>>,
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub summary: AdapterSummary,
    pub limits: wgpu::Limits,
    pub f64: bool,
    pub pool: Arc<BufferPool>,
    pub pipelines: Pipelines,
    pub counters: Arc<Counters>,
}

/// A GPU device with imflow's pipelines, buffer pool and counters. Cheap to clone;
/// clones share everything. Create one per process and keep it: device creation costs
/// far more than any kernel.
#[derive(Clone)]
pub struct GpuContext {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for GpuContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuContext")
            .field("adapter", &self.inner.summary.name)
            .finish()
    }
}

impl GpuContext {
    /// The best adapter (discrete > integrated > virtual > software), honouring
    /// `WGPU_BACKEND` and `WGPU_ADAPTER_NAME`.
    pub fn new() -> Result<Self> {
        Self::with_options(&GpuOptions::from_env())
    }

    /// For `Backend::Auto`: the best hardware adapter, or the one `WGPU_ADAPTER_NAME`
    /// names; `Ok(Err(why))` where only software adapters exist (see [`auto_pick`]).
    pub fn for_auto(options: &GpuOptions) -> Result<std::result::Result<Self, String>> {
        let list = ranked_adapters(options);
        let summaries: Vec<AdapterSummary> = (list.iter())
            .map(|a| AdapterSummary::new(&a.get_info(), &a.limits(), a.features()))
            .collect();
        match auto_pick(&summaries, options) {
            (Some(i), _) => {
                let adapter = list.into_iter().nth(i).expect("picked from the list");
                Self::from_adapter(adapter, options).map(Ok)
            }
            (None, why) if !list.is_empty() && options.adapter_name.is_none() => Ok(Err(why)),
            // No adapter at all, or none by that name: the usual error.
            (None, _) => Self::with_options(options).map(Ok),
        }
    }

    /// An adapter chosen by `options`.
    pub fn with_options(options: &GpuOptions) -> Result<Self> {
        let list = ranked_adapters(options);
        let adapter = match &options.adapter_name {
            Some(want) => {
                let want_lc = want.to_lowercase();
                let names: Vec<String> = list.iter().map(|a| a.get_info().name).collect();
                list.into_iter()
                    .find(|a| a.get_info().name.to_lowercase().contains(&want_lc))
                    .ok_or_else(|| Error::NoAdapter {
                        detail: format!(
                            " whose name contains `{want}` (WGPU_ADAPTER_NAME); adapters seen: [{}]",
                            names.join(", ")
                        ),
                    })?
            }
            None => list.into_iter().next().ok_or_else(|| Error::NoAdapter {
                detail: format!(
                    " on backends {:?}",
                    options.backends.unwrap_or(wgpu::Backends::PRIMARY)
                ),
            })?,
        };
        Self::from_adapter(adapter, options)
    }

    fn from_adapter(adapter: wgpu::Adapter, options: &GpuOptions) -> Result<Self> {
        let info = adapter.get_info();
        let limits = adapter.limits();
        let mut features = wgpu::Features::empty();
        for f in [wgpu::Features::SHADER_F64, wgpu::Features::TIMESTAMP_QUERY] {
            if adapter.features().contains(f)
                && !(options.disable_f64 && f == wgpu::Features::SHADER_F64)
            {
                features |= f;
            }
        }
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("imflow"),
            required_features: features,
            // The adapter's real limits: the defaults cap storage bindings at 128 MiB.
            required_limits: limits.clone(),
            ..Default::default()
        }))
        .map_err(|source| Error::Device {
            adapter: info.name.clone(),
            source,
        })?;
        Ok(Self::from_device(&info, device, queue))
    }

    /// Wraps a device the caller created. imflow uses SHADER_F64 when the device has it.
    pub fn from_device(info: &wgpu::AdapterInfo, device: wgpu::Device, queue: wgpu::Queue) -> Self {
        // wgpu's default handler panics; errors inside imflow's scopes become `Error`s,
        // and anything else is logged rather than taking the process down.
        device.on_uncaptured_error(Arc::new(|e| {
            log::error!("imflow: uncaptured GPU error: {e}")
        }));
        device.set_device_lost_callback(|reason, msg| {
            log::error!("imflow: GPU device lost ({reason:?}): {msg}");
        });
        let limits = device.limits();
        let features = device.features();
        let counters = Arc::new(Counters::default());
        let pool = Arc::new(BufferPool::new(device.clone(), Arc::clone(&counters)));
        GpuContext {
            inner: Arc::new(Inner {
                timer: std::sync::Mutex::new(None),
                summary: AdapterSummary::new(info, &limits, features),
                f64: features.contains(wgpu::Features::SHADER_F64),
                limits,
                device,
                queue,
                pool,
                pipelines: Pipelines::default(),
                counters,
            }),
        }
    }

    /// The adapter in use.
    pub fn adapter(&self) -> &AdapterSummary {
        &self.inner.summary
    }

    /// The device's limits.
    pub fn limits(&self) -> &wgpu::Limits {
        &self.inner.limits
    }

    /// The wgpu device, for callers that record their own work.
    pub fn device(&self) -> &wgpu::Device {
        &self.inner.device
    }

    /// Transfer and memory counters since creation.
    pub fn stats(&self) -> GpuStats {
        self.inner.counters.snapshot()
    }

    /// Restarts the peak-memory counter from the current use.
    pub fn reset_peak(&self) {
        self.inner.counters.reset_peak()
    }

    /// The adapter's name, as reports and records give it.
    pub fn name(&self) -> &str {
        &self.inner.summary.name
    }

    /// Blocks until every submitted command has finished (for timing, and before
    /// measuring memory).
    pub fn wait(&self) {
        if let Err(e) = self.inner.device.poll(wgpu::PollType::Wait {
            submission_index: None,
            timeout: Some(POLL_TIMEOUT),
        }) {
            log::error!("imflow: waiting for the GPU: {e}");
        }
    }

    /// Runs `f` and, where the adapter has timestamp queries, measures the GPU time of
    /// every compute pass it submits (the kernels alone: no submit overhead, no
    /// transfers). `None` when the adapter cannot time kernels. One timing at a time
    /// per context: passes other threads submit meanwhile are counted too.
    pub fn time_kernels<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<(T, Option<Duration>)> {
        let inner = &self.inner;
        if !inner
            .device
            .features()
            .contains(wgpu::Features::TIMESTAMP_QUERY)
        {
            return Ok((f()?, None));
        }
        let query_set = inner.device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("imflow.timer"),
            ty: wgpu::QueryType::Timestamp,
            count: TIMER_PASSES * 2,
        });
        *inner.timer.lock().unwrap_or_else(|e| e.into_inner()) = Some(Timer { query_set, used: 0 });
        let result = f();
        let timer = inner.timer.lock().unwrap_or_else(|e| e.into_inner()).take();
        let value = result?;
        let Some(timer) = timer.filter(|t| t.used > 0) else {
            return Ok((value, Some(Duration::ZERO)));
        };
        let bytes = u64::from(timer.used) * 8;
        let resolve = inner.pool.get(
            "imflow.timer.resolve",
            bytes,
            u64::MAX,
            wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
        );
        let mut batch = self.batch("imflow.timer");
        batch
            .encoder
            .resolve_query_set(&timer.query_set, 0..timer.used, &resolve, 0);
        let slot = batch.read_back(resolve, 0, bytes);
        let ticks: Vec<u64> = batch
            .submit()?
            .wait(|m| Ok(bytemuck::pod_collect_to_vec(slot.of(m))))?;
        let period_ns = f64::from(inner.queue.get_timestamp_period());
        let total: f64 = ticks
            .chunks_exact(2)
            .map(|p| p[1].saturating_sub(p[0]) as f64 * period_ns)
            .sum();
        Ok((value, Some(Duration::from_nanos(total as u64))))
    }

    /// Keeps at most `bytes` of free buffers for reuse (512 MiB by default); a memory
    /// budget lowers it.
    pub fn set_pool_limit(&self, bytes: u64) {
        self.inner.pool.set_limit(bytes)
    }

    /// Releases the pool's free buffers.
    pub fn trim(&self) {
        self.inner.pool.trim()
    }

    /// Checks that a storage buffer of `bytes` fits the adapter.
    pub(crate) fn check_binding(&self, what: &str, bytes: u64) -> Result<()> {
        let l = &self.inner.limits;
        for (limit, allowed) in [
            (
                "max_storage_buffer_binding_size",
                l.max_storage_buffer_binding_size,
            ),
            ("max_buffer_size", l.max_buffer_size),
        ] {
            if bytes > allowed {
                return Err(Error::TooLarge {
                    what: what.to_string(),
                    limit,
                    needed: bytes,
                    allowed,
                    adapter: self.inner.summary.name.clone(),
                });
            }
        }
        Ok(())
    }

    /// The largest storage binding the adapter allows (and so the largest buffer the
    /// pool rounds a request up to).
    pub fn max_binding(&self) -> u64 {
        let l = &self.inner.limits;
        l.max_storage_buffer_binding_size.min(l.max_buffer_size)
    }

    /// A storage buffer of the pool, after checking it fits.
    pub(crate) fn storage_buffer(
        &self,
        what: &str,
        bytes: u64,
        usage: wgpu::BufferUsages,
    ) -> Result<PooledBuffer> {
        self.check_binding(what, bytes)?;
        Ok(self
            .inner
            .pool
            .get(&format!("imflow.{what}"), bytes, self.max_binding(), usage))
    }

    /// Workgroup counts for `threads` threads in groups of `workgroup`, folded into two
    /// dimensions when one would exceed the per-dimension limit. Returns the counts and
    /// the row pitch (threads per grid row) the kernels use to flatten their index.
    pub(crate) fn grid_1d(
        &self,
        what: &str,
        threads: u64,
        workgroup: u32,
    ) -> Result<([u32; 3], u32)> {
        let max = u64::from(self.inner.limits.max_compute_workgroups_per_dimension);
        let groups = threads.div_ceil(u64::from(workgroup)).max(1);
        let (x, y) = if groups <= max {
            (groups, 1)
        } else {
            (max, groups.div_ceil(max))
        };
        self.check_groups(what, [x, y, 1])?;
        Ok(([x as u32, y as u32, 1], (x * u64::from(workgroup)) as u32))
    }

    /// The most workgroups a dispatch may have along one dimension.
    pub(crate) fn max_groups(&self) -> u32 {
        self.inner.limits.max_compute_workgroups_per_dimension
    }

    /// Checks workgroup counts against the per-dimension limit.
    pub(crate) fn check_groups(&self, what: &str, groups: [u64; 3]) -> Result<[u32; 3]> {
        let max = self.inner.limits.max_compute_workgroups_per_dimension;
        for g in groups {
            if g > u64::from(max) {
                return Err(Error::TooLarge {
                    what: format!("{what} dispatch"),
                    limit: "max_compute_workgroups_per_dimension",
                    needed: g,
                    allowed: u64::from(max),
                    adapter: self.inner.summary.name.clone(),
                });
            }
        }
        Ok(groups.map(|g| g as u32))
    }
}
