/** The cgroup controllers slipway uses for limits. */
export type CgroupController = 'memory' | 'cpu' | 'pids';

/** Resource limits for one container. Every field is optional; absent means "not limited by slipway". */
export interface ResourceLimits {
  /** Memory limit in bytes (see {@link parseMemory}). */
  memory?: number;
  /** Memory + swap in bytes (OCI/Docker semantics), or -1 for unlimited swap. Requires `memory`, and must be ≥ it. */
  memorySwap?: number;
  /** CPU quota in CPUs, e.g. 0.5 (see {@link parseCpus}); enforced with a 100 ms period. */
  cpus?: number;
  /** Relative CPU weight in cgroup v1 shares (2–262144, default 1024); converted to `cpu.weight` on v2. */
  cpuShares?: number;
  /** Maximum number of tasks (processes + threads), or -1 for unlimited. */
  pids?: number;
}

/** What {@link detectCgroups} found: where containers' cgroups can be created and which controllers work. */
export interface CgroupEnvironment {
  /** 1 (v1 controllers, root only), 2 (unified hierarchy, root or delegated), or 'none'. */
  readonly version: 1 | 2 | 'none';
  /** True when the detection ran for a non-root user. */
  readonly rootless: boolean;
  /**
   * Where per-container cgroups are created, per usable controller.
   * v1: `<mount>/slipway` for each controller's hierarchy. v2: one directory (the same for all controllers):
   * `<mount>/slipway` as root, `<delegated dir>/slipway.slice` rootless. The directory may not exist yet.
   */
  readonly parents: Readonly<Partial<Record<CgroupController, string>>>;
  /** v2 only: the existing directory whose `cgroup.subtree_control` must enable the controllers for `parents`. */
  readonly delegationRoot?: string;
  /** Whether memory+swap can be limited (v1 `memory.memsw.*`, v2 `memory.swap.max`). */
  readonly swap: boolean;
  /** Why each missing controller cannot be used. */
  readonly unavailable: Readonly<Partial<Record<CgroupController, string>>>;
  /** Overall reason when nothing usable was found, or a summary of what is missing. */
  readonly reason?: string;
  /** How to get working cgroups on this host. */
  readonly hint?: string;
  /** Other observations (e.g. "cgroup2 at /sys/fs/cgroup/unified has no controllers"). */
  readonly notes: readonly string[];
}

/** A container's cgroup(s). */
export interface CgroupHandle {
  /** v2: the leaf directory. v1: the memory directory, else the first controller's. */
  readonly path: string;
  /** Directory per controller (v2: the same leaf for all). */
  readonly paths: Readonly<Partial<Record<CgroupController, string>>>;
  readonly version: 1 | 2;
  /** The limits that were written (after defaults and conversions), for diagnostics. */
  readonly applied: Readonly<Record<string, string>>;
  /** Whether the kernel OOM-killed a process of this cgroup (v2 `memory.events oom_kill`, v1 `memory.oom_control oom_kill`). */
  oomKilled(): Promise<boolean>;
  /** Peak memory use in bytes (v1 `memory.max_usage_in_bytes`, v2 `memory.peak` on Linux ≥ 5.19), if known. */
  memoryPeak(): Promise<number | undefined>;
  /** Removes the cgroup directories. Idempotent; retries EBUSY briefly while processes exit. */
  remove(): Promise<void>;
}
