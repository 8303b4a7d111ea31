import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { constants as osConstants } from 'node:os';
import { dirname, join } from 'node:path';
import { SlipwayError } from '../errors.js';
import { logger } from '../internal/debug.js';
import { phaseTimer } from '../internal/phases.js';
import { awaitBeside } from '../internal/await-beside.js';
import { configValue } from '../config/index.js';
import { ExecOutput } from './exec-output.js';
import type { LaunchPlan } from './launch-plan.js';
import type { Image } from '../image/pull.js';
import type { LayerDiff } from '../image/layer-diff.js';
import { diffContainerUpper } from './upper-diff.js';
import type { Keeper, KeeperContainerSpec } from './keeper/keeper.js';
import { KeeperError } from './keeper/keeper-error.js';
import { resolveUser } from './user.js';
import { readFromLayers } from './layered-files.js';
import { readContainerFile } from './container-files.js';
import type { CopiedEntry, CopyEntry, ExecOptions, ExecResult, ExitInfo, RuntimeContainer } from './runtime-container.js';
import { idleBounded } from './copy-idle.js';
import { applyLimits } from './limits.js';
import { GUEST_NET, INIT_PID_ARG, outboundPoolArgv, startOutbound, resolvConfFor, hostsFileFor, type OutboundLauncher, type OutboundNet } from './network/index.js';
import type { UndoStack } from './undo-stack.js';
import type { NetworkAttachable } from './network-membership.js';
import type { ContainerDescription } from './control/description.js';

const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** The keeper's mark in a state dir whose root is a copy of the layers (`native/rootfs.h` ROOTFS_COPY_MARKER). */
const ROOTFS_COPY_MARKER = 'rootfs-copy';

const log = logger('container');
/** One line per boot step (DEBUG=slipway:start), as launch.ts logs the steps before. */
const phaseLog = logger('start');

/** The keeper spec with the fields this module always fills in. */
export type BootSpec = KeeperContainerSpec & {
  lowerDirs: string[]; upperDir: string; workDir: string; cwd: string; groups: number[];
  etcFiles: { hosts: string; hostname: string; resolvConf: string };
};

interface HandleInit {
  keeper: Keeper;
  id: string;
  name: string;
  dir: string;
  logPath: string;
  plan: LaunchPlan;
  image: Image;
  spec: BootSpec;
  hostname: string;
  /** The container's undo stack; launch has put the name and the state dir on it. */
  undo: UndoStack;
}

/**
 * One container: boots it through the keeper, and owns its cgroup, network helper and ports.
 *
 * A boot is a transaction: every step that makes something registers its undo on the container's {@link UndoStack}
 * before the next step runs; a failed step unwinds the boot's steps, `restart()` unwinds them and boots again, and
 * `remove()` unwinds everything.
 */
export class ContainerHandle implements RuntimeContainer {
  readonly id: string;
  readonly name: string;
  readonly logPath: string;
  readonly hostPorts = new Map<string, number>();
  readonly imageHealthcheck: RuntimeContainer['imageHealthcheck'];
  readonly imageLabels: RuntimeContainer['imageLabels'];
  hostPid = 0;
  readonly #i: HandleInit;
  readonly #undo: UndoStack;
  #exit: Promise<ExitInfo> | undefined;
  #exited = false;
  #lastExit: ExitInfo | undefined;
  #started: Date | undefined;
  readonly #created = new Date();
  /** Reads the current boot's cgroup OOM flag once (the exit and the cgroup's removal share the read). */
  #oomKilled: (() => Promise<boolean>) | undefined;
  #net: OutboundNet | undefined;
  #removing: Promise<void> | undefined;
  /** The boot in progress (first start or restart): remove() lets it stop at its next step, then unwinds. */
  #booting: Promise<void> | undefined;
  /** The boot step under way, for a boot timeout's message. */
  #step = 'preparing';
  #boots = 0;
  /** Removal of writable layers dropped by rebootFrom(), running in the background; remove() waits for it. */
  #dropping: Promise<void> | undefined;
  #drops = 0;
  /** A copy out of the stopped container in progress (it mounts the root file system again). */
  #mountedCopy: Promise<void> | undefined;
  /** This container's address on each user network it joined, in join order. */
  readonly #networkIps = new Map<NetworkAttachable, { ip: string; names: string[] }>();

  get resolvedImage(): Image {
    return this.#i.image;
  }

  diffUpper(dest: string): Promise<LayerDiff> {
    if (this.#removing) return Promise.reject(new SlipwayError('ERR_CONTAINER_NOT_FOUND', `container ${this.name} was removed: there is nothing to commit`, { hint: 'commit before stop()/remove()' }));
    if (this.rootIsCopy) {
      return Promise.reject(new SlipwayError('ERR_UNSUPPORTED', `cannot commit ${this.name}: its root file system is a copy of the image's layers (neither the kernel's overlay nor fuse-overlayfs could be mounted), so its changes cannot be told from the image`, {
        hint: 'install fuse-overlayfs (with a usable /dev/fuse) or allow unprivileged overlay mounts, and start it again; SLIPWAY_ROOTFS=copy forces the copy',
      }));
    }
    const { keeper, spec, plan } = this.#i;
    return diffContainerUpper(keeper, spec.upperDir, spec.lowerDirs, dest, plan.mounts.map((m) => m.target));
  }

  /**
   * Whether its root is a copy of the layers (the keeper's last fallback, or `SLIPWAY_ROOTFS=copy`): the upper dir then
   * holds the whole image, not the container's changes. The keeper marks it in the state dir before copying.
   */
  get rootIsCopy(): boolean {
    return existsSync(join(this.#i.dir, ROOTFS_COPY_MARKER));
  }

  /** The container's state dir (`etc/`, its log; `upper/` and `work/` too unless they went to the store, see `upperDir`). */
  get stateDir(): string {
    return this.#i.dir;
  }

  /** The writable layer's upper dir: in the state dir, or in a store temp dir (a snapshot build, a state dir on tmpfs). */
  get upperDir(): string {
    return this.#i.spec.upperDir;
  }

  constructor(init: HandleInit) {
    this.#i = init;
    this.#undo = init.undo;
    this.id = init.id;
    this.name = init.name;
    this.logPath = init.logPath;
    this.imageHealthcheck = init.image.config.Healthcheck ?? undefined;
    this.imageLabels = { ...(init.image.config.Labels ?? {}) };
  }

  /**
   * Creates the namespaces and mounts, applies limits, networking, files and ports, then starts the process.
   * On failure the steps this boot made are undone (the state dir stays: the caller removes or retries).
   */
  boot(signal?: AbortSignal): Promise<void> {
    // The whole boot is bounded (plan.bootTimeout, else the startupTimeout setting): a step that never answers (a
    // keeper request, a network helper, a copy) must not hang start() or restart() for good. At the deadline the boot's
    // steps are undone at once (the keeper's REMOVE then fails a CREATE/PUT still pending), and a step that finishes
    // later meets the aborted signal at its next check and is undone by the catch below.
    // A timer cleared when the boot settles, not AbortSignal.timeout(): that signal (and every listener a boot step
    // left on it, with what they hold) lived until the timer fired, ~40 KB per start for the whole startup timeout.
    const ms = bootTimeoutOf(this.#i.plan);
    const timeout = ms <= MAX_TIMER_MS ? new AbortController() : undefined;
    const timer = timeout && setTimeout(() => timeout.abort(new Error(`boot deadline of ${ms} ms`)), ms);
    timer?.unref();
    const deadline = timeout?.signal;
    const bounded = deadline && signal ? AbortSignal.any([signal, deadline]) : deadline ?? signal;
    const run = (async () => {
      try {
        await this.#boot(this.#boots++ === 0, bounded);
      } catch (err) {
        await this.#undo.unwind('restart');
        throw deadline?.aborted && !signal?.aborted ? this.#bootTimeout(ms) : err;
      }
    })();
    let settled: Promise<void> = run;
    if (deadline) {
      let onDeadline: (() => void) | undefined;
      const timedOut = new Promise<never>((_, reject) => {
        onDeadline = () => {
          const err = this.#bootTimeout(ms);
          log('%s: %s', this.name, err.shortMessage);
          void this.#undo.unwind('restart').finally(() => reject(err));
        };
        deadline.addEventListener('abort', onDeadline, { once: true });
      });
      run.catch(() => {}); // a boot that lost the race still settles (after the undo): not unhandled
      settled = Promise.race([run, timedOut]).finally(() => deadline.removeEventListener('abort', onDeadline!));
    }
    this.#booting = settled;
    return settled.finally(() => {
      clearTimeout(timer);
      if (this.#booting === settled) this.#booting = undefined;
    });
  }

  #bootTimeout(ms: number): SlipwayError {
    return new SlipwayError('ERR_START_TIMEOUT', `container ${this.name} did not boot within ${ms} ms (stuck at: ${this.#step}); nothing of it is left`, {
      hint: 'the host may be overloaded or a copy very large: raise withStartupTimeout(ms); with DEBUG=slipway:* the log shows the boot steps',
    });
  }

  /** Between boot steps: the caller's abort, or a remove() that came in meanwhile, ends the boot there. */
  #check(signal: AbortSignal | undefined): void {
    signal?.throwIfAborted();
    if (this.#removing) throw new SlipwayError('ERR_CONTAINER_NOT_RUNNING', `container ${this.name} was removed while it booted`, { hint: 'do not remove a container before its start() or restart() settled' });
  }

  async #boot(firstBoot: boolean, signal: AbortSignal | undefined): Promise<void> {
    const { keeper, plan, spec } = this.#i;
    const undo = this.#undo;
    const tBoot = performance.now();
    const mark = phaseTimer(phaseLog, this.name);
    this.#check(signal);
    // The cgroup comes first so that its undo runs after the container's: a cgroup with processes cannot be removed.
    this.#step = 'cgroup limits';
    const limits = await applyLimits(this.id, plan);
    if (limits) {
      let oom: Promise<boolean> | undefined;
      const readOom = () => (oom ??= limits.oomKilled().catch(() => false));
      this.#oomKilled = readOom;
      undo.push('cgroup', 'boot', async () => {
        await readOom();
        this.#oomKilled = undefined;
        await limits.remove();
      });
      // Listed in the state dir for the keeper: should this process die without removing the container,
      // its keeper (on the way out) or the next one (sweeping a dead keeper's dir) removes the cgroups.
      await writeFile(join(spec.stateDir, 'cgroups'), `${limits.paths.join('\n')}\n`);
    } else this.#oomKilled = undefined;
    mark('cgroup create');
    // Registered before CREATE: a create that fails half-way still leaves a record in the keeper to remove.
    undo.push('create', 'boot', (reason) => (reason === 'restart' ? keeper.releaseContainer(this.id) : keeper.removeContainer(this.id)));
    this.#step = 'creating namespaces and root (keeper CREATE)';
    const hostAccess = plan.networkMode === 'host' ? undefined : plan.hostAccess;
    // Isolated: CREATE names the slirp4netns command line the OUTBOUND below will ask for, so that the keeper can clone
    // init into a network namespace it prepared with that helper already attached and ready (native/netpool.h), and
    // keep one ready for the next container. Off with the networkPool setting.
    const outboundPool = plan.networkMode === 'isolated' && configValue('networkPool') ? await outboundPoolArgv({ hostLoopback: hostAccess?.allLoopbackPorts ?? false }) : undefined;
    // Nothing to do between CREATE and START but the /etc files (no cgroup to join, host access, user network, file
    // copied in or port).
    const nothingBetween = !limits && !hostAccess && plan.networks.length === 0 && plan.ports.length === 0 &&
      !(firstBoot && !plan.snapshotLayer && plan.files.length > 0);
    // Isolated with a prepared namespace asked for: its helper (slirp4netns, the keeper's) gives the fixed addresses
    // GUEST_NET names, so the /etc files can be written before it is there, as for network mode none.
    const preparedNet = plan.networkMode === 'isolated' && outboundPool !== undefined && nothingBetween ? { guestIp: GUEST_NET.guestIp, dns: GUEST_NET.dns } : undefined;
    const created = keeper.createContainer(outboundPool ? { ...spec, outboundPool } : spec);
    // Isolated: the outbound helper is asked for right behind CREATE, not after its answer. The keeper starts it as
    // soon as the container's network namespace has its tap, while init still mounts the root; it is awaited below,
    // before anything that needs it (/etc files, START: a packet sent before the helper is ready would be lost).
    // The host's loopback is mapped only on explicit request (every port of it); named ports go through the keeper.
    let outboundAsked: () => void = () => {};
    const asked = new Promise<void>((resolve) => { outboundAsked = resolve; });
    const outbound = plan.networkMode === 'isolated' ? this.#startOutbound(created, hostAccess?.allLoopbackPorts ?? false, signal, outboundAsked) : undefined;
    // Network mode none or host (or isolated with a prepared namespace): the /etc files depend on nothing the boot
    // makes (slirp4netns' DNS address, user networks' addresses), so they are written while the keeper creates the
    // container. CREATE's fields made the files before the request was sent (`ensureFile`), init bind-mounts those
    // inodes and the write truncates and writes the same inode in place: the container sees the content, complete
    // before START. Synchronous, so no write is left running when a later step fails and the undo removes the state
    // dir; a failure is thrown once CREATE has settled (the executor turns it into a rejection).
    const etcEarly = plan.networkMode === 'isolated' && !preparedNet ? undefined : new Promise<void>((resolve) => { this.#writeEtcFiles(preparedNet); resolve(); });
    // Nothing between CREATE and START: START goes right behind CREATE, once the /etc files are written, and the keeper
    // hands it to init as soon as the container is created (protocol 10), one round trip fewer. A CREATE that fails
    // fails it too; its error is CREATE's, thrown below. Isolated, it goes behind the OUTBOUND too (which the keeper
    // then answers before the process can exit) and only if the container joined a prepared namespace whose helper is
    // ready (protocol 11): else the keeper declines it (false) and START is sent below, once the helper is ready.
    const startEarly = etcEarly && nothingBetween
      ? (preparedNet ? Promise.all([etcEarly, Promise.race([asked, outbound])]).then(() => keeper.startContainer(this.id, { ifPrepared: true }))
        : etcEarly.then(() => keeper.startContainer(this.id)))
      : undefined;
    startEarly?.catch(() => {}); // a boot that fails before START's step reports its own error
    const { pid } = await awaitBeside(created, etcEarly);
    this.hostPid = pid;
    mark('keeper CREATE');
    this.#exited = false;
    // Unreferenced until START succeeds: a boot that fails must not keep Node alive through this waiter.
    const oomKilled = this.#oomKilled;
    const exit = keeper.waitContainer(this.id, { ref: false }).then(async (e): Promise<ExitInfo> => {
      this.#exited = true;
      this.#lastExit = { exitCode: e.exitCode, signal: e.signal, oomKilled: (await oomKilled?.()) ?? false };
      return this.#lastExit;
    });
    exit.catch(() => {});
    this.#exit = exit;
    this.#check(signal);
    await limits?.addProcess(pid);
    mark('cgroup attach');
    if (hostAccess && plan.networkMode === 'none') {
      throw new SlipwayError('ERR_INVALID_ARGUMENT', `host access was asked for ${this.name}, but its network mode is "none"`, {
        hint: 'network mode "none" has only loopback; use the default mode, or remove withHostAccess()',
      });
    }
    if (outbound) {
      this.#step = 'starting the outbound network helper';
      this.#net = await outbound;
    }
    mark('outbound network helper');
    if (hostAccess?.allLoopbackPorts && !this.#net?.hostLoopbackAlias) {
      throw new SlipwayError('ERR_NETWORK', `access to every host loopback port was asked for ${this.name}, but no outbound network helper could start`, {
        hint: 'install slirp4netns or passt (apt-get install slirp4netns), or name the host ports: withHostAccess(port)',
      });
    }
    // The forwards go with the container (the keeper drops them when init is reaped): no undo of their own.
    if (hostAccess && !hostAccess.allLoopbackPorts) {
      this.#step = 'host access';
      for (const port of hostAccess.ports) await keeper.forwardHostPort(this.id, port);
    }
    this.#check(signal);
    this.#step = 'joining networks';
    await this.#joinNetworks();
    mark('host access and networks');
    this.#check(signal);
    this.#step = 'writing /etc files';
    if (!etcEarly) this.#writeEtcFiles();
    mark('/etc files');
    this.#step = 'copying files in';
    // A snapshot layer holds the files copied in at the first start already.
    if (firstBoot && !this.#i.plan.snapshotLayer) await this.#copyInitialFiles();
    mark('files copied in');
    this.#step = 'publishing ports';
    for (const p of plan.ports) {
      this.#check(signal);
      const key = `${p.container}/${p.protocol}`;
      const wanted = this.hostPorts.get(key) ?? p.host;
      const hostPort = await keeper.publish(this.id, { protocol: p.protocol, hostIp: p.hostIp, hostPort: wanted, containerPort: p.container }).catch((err: unknown) => {
        throw publishError(err, p, wanted);
      });
      undo.push(`port ${hostPort}/${p.protocol}`, 'boot', () => keeper.unpublish(hostPort, p.protocol));
      this.hostPorts.set(key, hostPort);
    }
    mark('ports');
    this.#check(signal);
    this.#step = 'starting the process (keeper START)';
    try {
      if (!startEarly || !(await startEarly)) {
        // Declined (isolated: no prepared namespace was ready): the helper is the container's own, maybe another
        // tool (pasta, should slirp4netns have failed), so the files are written from it before START.
        if (startEarly) {
          log('%s: no prepared network namespace was ready, START follows its own helper', this.name);
          this.#writeEtcFiles();
        }
        await keeper.startContainer(this.id);
      }
    } catch (e) {
      throw commandError(e, this.name, this.#i.spec);
    }
    mark('keeper START');
    this.#started = new Date();
    // The process runs: from now on a pending exit keeps Node alive, as a running child process does.
    keeper.waitContainer(this.id).catch(() => {});
    log('%s started (pid %d) in %d ms', this.name, pid, Math.round(performance.now() - tBoot));
  }

  /**
   * Starts the outbound helper for the container whose CREATE is `created` (sent, maybe not answered) and registers its
   * undo at once: a boot undone while the helper starts (a failed CREATE, the boot deadline, remove()) stops it there
   * (the keeper also kills it with the container), and no other helper is tried after that.
   */
  #startOutbound(created: Promise<{ pid: number }>, hostLoopback: boolean, signal: AbortSignal | undefined, asked: () => void): Promise<OutboundNet | undefined> {
    const { keeper } = this.#i;
    const launcher: OutboundLauncher = {
      start: (argv) => {
        const pid = keeper.startOutbound(this.id, argv.map((a) => (a === INIT_PID_ARG ? null : a)));
        asked(); // the OUTBOUND frame is written: a START may follow it
        return pid;
      },
      stop: () => keeper.stopOutbound(this.id),
    };
    const pid = created.then((c) => c.pid);
    pid.catch(() => {}); // CREATE's failure is the boot's to report
    const undone = new AbortController();
    const started = startOutbound(pid, { hostLoopback, launcher, signal: signal ? AbortSignal.any([signal, undone.signal]) : undone.signal });
    let net: OutboundNet | undefined;
    let settled = false;
    started.then((n) => { net = n; settled = true; }, () => { settled = true; });
    this.#undo.push('outbound network', 'boot', async () => {
      if (!settled) {
        undone.abort(new Error('the boot is undone'));
        // Should it still get ready in between, it goes as soon as it does.
        void started.then((n) => n?.close(), () => undefined);
        await keeper.stopOutbound(this.id);
        return;
      }
      if (this.#net === net) this.#net = undefined;
      // The keeper's slirp4netns goes with the container: the REMOVE that follows (CREATE's undo, next on the stack)
      // kills it with init and is answered once it is reaped (protocol 11), one round trip fewer. Pasta is Node's own.
      if (net?.tool === 'slirp4netns') return;
      await net?.close();
    });
    return started;
  }

  async #joinNetworks(): Promise<void> {
    const { plan, hostname } = this.#i;
    if (plan.networks.length === 0) return;
    if (plan.networkMode !== 'isolated') {
      throw new SlipwayError('ERR_INVALID_ARGUMENT', `container ${this.name} joins a network but its network mode is "${plan.networkMode}"`, {
        hint: 'user networks need the default network mode; remove withNetworkMode() or withNetwork()',
      });
    }
    for (const { network, aliases } of plan.networks) {
      const names = [...new Set([this.name, hostname, ...aliases])].filter((n) => HOST_NAME.test(n));
      // Registered first: detach is idempotent and also clears what a half-done attach left.
      this.#undo.push(`network ${network.name}`, 'boot', async () => {
        this.#networkIps.delete(network);
        await network.detach(this.id);
      });
      const { ip } = await network.attach({ containerId: this.id, names, refreshHosts: () => this.#writeHosts() });
      this.#networkIps.set(network, { ip, names });
    }
  }

  #hostsContent(net: Pick<OutboundNet, 'guestIp' | 'hostLoopbackAlias'> | undefined = this.#net): string {
    const { plan, hostname } = this.#i;
    // Its own aliases resolve to itself on each network (as Docker does), then every peer's names.
    const entries = [...Object.entries(plan.extraHosts), ...[...this.#networkIps].flatMap(([n, own]) => [
      ...own.names.filter((name) => name !== hostname).map((name): [string, string] => [name, own.ip]),
      ...n.peers(this.id),
    ])];
    const ownIp = this.#networkIps.values().next().value?.ip ?? net?.guestIp;
    const access = plan.hostAccess;
    const hostAccessIp = !access ? undefined : access.allLoopbackPorts ? net?.hostLoopbackAlias : GUEST_NET.hostAlias;
    return hostsFileFor({ hostname, ownIp, hostAccessIp, hostAliases: access?.aliases, extraHosts: entries });
  }

  /**
   * Rewritten in place (same inode): the file is bind-mounted into the running container. Synchronously: a peer's
   * join refreshes every member, this one too while its own attach is still under way (no network address yet); an
   * asynchronous write begun then could land after the boot's own write of the whole file and leave the container
   * without its networks' names (seen under load in CI: a container's /etc/hosts without its peers' aliases).
   */
  async #writeHosts(): Promise<void> {
    if (this.#i.plan.networkMode === 'host') return;
    writeFileSync(this.#i.spec.etcFiles.hosts, this.#hostsContent());
  }

  /**
   * /etc/hostname, /etc/hosts and /etc/resolv.conf, bound over the image's by the keeper; the host's resolv.conf goes
   * into the container's (all modes; host mode copies the host's files, as Docker does). Synchronous: a few small
   * files in the container's state dir take microseconds each, where reading and writing them asynchronously took
   * ten thread-pool round trips on the boot's path.
   */
  #writeEtcFiles(net: Pick<OutboundNet, 'guestIp' | 'dns'> | undefined = this.#net): void {
    const { spec, plan, hostname } = this.#i;
    const hostResolv = readTextOr('/etc/resolv.conf', '');
    let hosts: string;
    let resolv: string;
    if (plan.networkMode === 'host') {
      hosts = `${readTextOr('/etc/hosts', '127.0.0.1\tlocalhost').trimEnd()}\n127.0.1.1\t${hostname}\n`;
      resolv = hostResolv;
    } else {
      hosts = this.#hostsContent(net);
      resolv = resolvConfFor(net, hostResolv);
    }
    writeFileSync(spec.etcFiles.hostname, `${hostname}\n`);
    writeFileSync(spec.etcFiles.hosts, hosts);
    writeFileSync(spec.etcFiles.resolvConf, resolv);
  }

  async #copyInitialFiles(): Promise<void> {
    const { plan } = this.#i;
    if (plan.files.length === 0) return;
    // First boot, before START: the upper dir is still empty and the layers are the store's.
    const lowers = [this.#i.spec.upperDir, ...this.#i.spec.lowerDirs];
    const passwd = (await readFromLayers(lowers, 'etc/passwd')) ?? '';
    const group = (await readFromLayers(lowers, 'etc/group')) ?? '';
    for (const f of plan.files) {
      // ownerOfProcess (testcontainers' copyUIDGID): Docker gives an archive's entries to the container's user only when
      // one is configured; a process running as root leaves them the ids their headers name.
      const toProcess = f.ownerOfProcess && !(f.archive && this.#i.spec.uid === 0);
      const given = f.owner ? resolveUser(f.owner, passwd, group) : toProcess ? { uid: this.#i.spec.uid, gid: this.#i.spec.gid } : undefined;
      const owner = given ?? { uid: 0, gid: 0 };
      try {
        if (f.content) {
          await this.copyIn([{ path: f.target, type: 'file', mode: f.mode ?? 0o644, uid: owner.uid, gid: owner.gid, content: f.content }]);
        } else if (f.source) {
          const { hostEntries } = await import('./host-entries.js');
          await this.copyIn(hostEntries(f.source, f.target, { uid: owner.uid, gid: owner.gid }, f.mode));
        } else if (f.archive) {
          const { entriesOfArchive } = await import('./copy-archive.js');
          // As Docker's put-archive: the entries' own uid/gid unless an owner is given.
          await this.copyIn(await entriesOfArchive(f.archive, f.target, given && { uid: given.uid, gid: given.gid }));
        }
      } catch (err) {
        // A bad source is the caller's (ERR_INVALID_ARGUMENT from hostEntries); what the keeper refuses is about the image.
        if (!SlipwayError.is(err) || ['ERR_INVALID_ARGUMENT', 'ERR_COPY_UNSAFE_PATH', 'ERR_UNSUPPORTED', 'ERR_UNPACK'].includes(err.code)) throw err;
        throw new SlipwayError('ERR_CONTAINER_START', `cannot place ${f.source ? `${f.source} at ` : ''}${f.target} in ${this.name}: ${err.shortMessage}`, {
          hint: 'the target must not be below a regular file or a read-only mount of the image; pick another path with withFile()/withCopy()', cause: err,
        });
      }
    }
  }

  exited(): Promise<ExitInfo> {
    if (!this.#exit) return Promise.reject(new SlipwayError('ERR_CONTAINER_NOT_RUNNING', `container ${this.name} was never started`));
    return this.#exit;
  }
  hasExited(): boolean { return this.#exited; }
  get hostname(): string { return this.#i.hostname; }

  /** What `slipway ps` and `inspect` show, from any process (env values left out: they may be secrets). */
  describe(): ContainerDescription {
    const { plan, image, spec, keeper } = this.#i;
    const state = this.#removing ? 'removing' : !this.#exit ? 'created' : this.#exited ? 'exited' : 'running';
    return {
      id: this.id,
      name: this.name,
      image: plan.image,
      imageDigest: image.digest,
      command: [...spec.argv],
      created: this.#created.toISOString(),
      started: this.#started?.toISOString(),
      state,
      exit: state === 'exited' && this.#lastExit ? { ...this.#lastExit } : undefined,
      pid: state === 'running' ? this.hostPid : 0,
      hostname: this.hostname,
      labels: { ...plan.labels },
      user: `${spec.uid}:${spec.gid}`,
      workdir: spec.cwd,
      envNames: spec.env.map((kv) => kv.slice(0, kv.indexOf('='))),
      networkMode: plan.networkMode,
      ports: plan.ports.map((p) => ({ container: p.container, protocol: p.protocol, hostIp: p.hostIp, hostPort: this.hostPorts.get(`${p.container}/${p.protocol}`) ?? 0 })),
      networks: Object.fromEntries(this.networkAddresses()),
      logPath: this.logPath,
      stateDir: this.#i.dir,
      keeperPid: keeper.pid,
      lifetime: 'process',
    };
  }
  get outboundIp(): string | undefined { return this.#net?.guestIp; }
  networkAddresses(): ReadonlyMap<string, string> {
    return new Map([...this.#networkIps].map(([n, { ip }]) => [n.name, ip]));
  }

  async listeningTcpPorts(): Promise<Set<number>> {
    const out = new Set<number>();
    for (const f of ['tcp', 'tcp6']) {
      const text = await readFile(`/proc/${this.hostPid}/net/${f}`, 'utf8').catch(() => '');
      for (const line of text.split('\n').slice(1)) {
        const cols = line.trim().split(/\s+/);
        if (cols[3] === '0A') out.add(parseInt(cols[1]!.split(':')[1]!, 16));
      }
    }
    return out;
  }

  async exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const output = new ExecOutput(this.name, argv);
    const r = await this.execStream(argv, {
      ...opts,
      stdin: opts.stdin === undefined ? undefined : Buffer.from(opts.stdin),
      signal: output.signal(opts.signal),
      onStdout: (b) => { output.push('stdout', b); opts.onStdout?.(b); },
      onStderr: (b) => { output.push('stderr', b); opts.onStderr?.(b); },
    }).catch((e: unknown) => { throw output.exceeded && !opts.signal?.aborted ? output.error(e) : e; });
    return output.result(r);
  }

  /**
   * exec() without collecting the output (it only goes to the callbacks) and with a stdin that may arrive over
   * time: what an interactive `slipway exec` from another process needs.
   */
  async execStream(argv: readonly string[], opts: Omit<ExecOptions, 'stdin'> & { stdin?: Buffer | AsyncIterable<Uint8Array> } = {}): Promise<{ exitCode: number | null; signal: string | null }> {
    if (this.#exited) throw new SlipwayError('ERR_CONTAINER_NOT_RUNNING', `container ${this.name} is not running`, { hint: 'exec needs a running container' });
    // The running container owns its upper dir: its /etc files are read inside it, never by host path.
    const user = opts.user !== undefined
      ? resolveUser(opts.user, (await readContainerFile(this.#i.keeper, this.id, '/etc/passwd')) ?? '',
        (await readContainerFile(this.#i.keeper, this.id, '/etc/group')) ?? '')
      : { uid: this.#i.spec.uid, gid: this.#i.spec.gid, groups: this.#i.spec.groups };
    const env = new Map(this.#i.spec.env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] as const));
    for (const [k, v] of Object.entries(opts.env ?? {})) env.set(k, v);
    const r = await this.#i.keeper.exec(this.id, {
      argv: [...argv], env: [...env].map(([k, v]) => `${k}=${v}`), cwd: opts.workdir ?? this.#i.spec.cwd,
      uid: user.uid, gid: user.gid, groups: user.groups, capabilities: this.#i.spec.capabilities, rlimits: this.#i.spec.rlimits,
    }, { onStdout: opts.onStdout, onStderr: opts.onStderr, stdin: opts.stdin, signal: opts.signal });
    return { exitCode: r.exitCode, signal: r.signal };
  }

  async kill(signal: string): Promise<void> { await this.#i.keeper.kill(this.id, signal as NodeJS.Signals); }

  async stop(timeoutMs: number): Promise<ExitInfo> {
    if (!this.#exit) throw new SlipwayError('ERR_CONTAINER_NOT_RUNNING', `container ${this.name} was never started`);
    if (!this.#exited) {
      const stopSignal = this.#i.plan.stopSignal ?? this.#i.image.config.StopSignal ?? 'SIGTERM';
      await this.kill(normaliseSignal(stopSignal)).catch((e) => log('stop signal: %O', e));
      // The grace timer must not outlive the race: a pending timer would keep Node alive for `timeoutMs`.
      const grace = new AbortController();
      const timedOut = await Promise.race([
        this.#exit.then(() => false),
        sleep(timeoutMs, true, { signal: grace.signal }).catch(() => false),
      ]);
      grace.abort();
      if (timedOut && !this.#exited) await this.kill('SIGKILL').catch((e) => log('SIGKILL: %O', e));
    }
    return this.#exit;
  }

  /** Stops the process, undoes the boot (the state dir, upper layer and logs stay) and boots again on the same ports. */
  async restart(timeoutMs: number): Promise<void> {
    await this.stop(timeoutMs);
    await this.#undo.unwind('restart');
    await this.boot();
  }

  /**
   * Kills the process, undoes the boot, drops the writable layer (upper and work dirs emptied) and boots again with
   * `layerDir` (a snapshot layer) above the image's layers, on the same ports. The state dir and logs stay.
   * With `timeoutMs` 0 (reset()) the process is SIGKILLed at once: its writes are thrown away, so a clean shutdown
   * would only cost time (the stop signal, then a SIGKILL right after, made the service start a shutdown for nothing).
   */
  async rebootFrom(layerDir: string, timeoutMs: number): Promise<void> {
    const { keeper, spec, image } = this.#i;
    const t0 = performance.now();
    let tKilled = t0;
    const kill = (async () => {
      if (!this.#exit) return;
      if (timeoutMs > 0) await this.stop(timeoutMs);
      else if (!this.#exited) {
        await this.kill('SIGKILL').catch((e) => log('SIGKILL: %O', e));
        await this.#exit;
      }
      tKilled = performance.now();
    })();
    // The fresh upper and work dirs are made while the process dies: the old ones are renamed aside (the dying
    // overlay mount holds them by inode, not by name) and removed after the boot, off the reset's path (a written
    // WAL segment of 16 MiB, copied up, takes ~100 ms to remove). Their files belong to the container's ids
    // (subordinate ids rootless): removed inside the user namespace.
    const previous = this.#dropping;
    const aside = join(dirname(spec.upperDir), `dropped-${++this.#drops}`);
    // (A snapshot's first start finds its upper dir gone: it became the snapshot layer.)
    const moveAside = (from: string, to: string) => rename(from, to).catch((e: NodeJS.ErrnoException) => { if (e.code !== 'ENOENT') throw e; });
    const fresh = (async () => {
      await mkdir(aside);
      await Promise.all([moveAside(spec.upperDir, join(aside, 'upper')), moveAside(spec.workDir, join(aside, 'work'))]);
      await Promise.all([mkdir(spec.upperDir), mkdir(spec.workDir)]);
      return performance.now();
    })();
    const [, tFresh] = await Promise.all([kill, fresh]);
    const t2 = performance.now();
    await this.#undo.unwind('restart');
    const t3 = performance.now();
    spec.lowerDirs = [layerDir, ...image.layers.map((l) => l.dir!).reverse()];
    this.#dropping = (async () => {
      await previous;
      await keeper.rmtree(aside).catch((e: unknown) => log('removing the dropped upper dir %s: %O', aside, e));
    })();
    await this.boot();
    log('%s rebooted from %s: kill+reap %d ms, fresh upper %d ms (beside the kill), unwind %d ms, boot %d ms', this.name, layerDir,
      Math.round(tKilled - t0), Math.round(tFresh - t0), Math.round(t3 - t2), Math.round(performance.now() - t3));
  }

  async copyIn(entries: AsyncIterable<CopyEntry> | Iterable<CopyEntry>): Promise<void> {
    await this.#i.keeper.putFiles(this.id, entries);
  }

  copyOut(path: string): AsyncIterable<CopiedEntry> {
    // Bounded by its reader's pace: an unread copy would hold a keeper worker (and a stopped container's mount) until removal.
    return idleBounded(this.#exited ? this.#copyOutStopped(path) : this.#i.keeper.getFiles(this.id, path), path, this.name);
  }

  /**
   * A stopped container has no mount namespace to read from (it ended with its init): CREATE mounts the root
   * file system again (upper dir, volumes, binds) with an init that is never started, the keeper reads there, and
   * the mount goes again. One at a time; `restart()` and `remove()` work as before afterwards.
   */
  async *#copyOutStopped(path: string): AsyncGenerator<CopiedEntry> {
    const { keeper, spec } = this.#i;
    const previous = this.#mountedCopy;
    let done!: () => void;
    this.#mountedCopy = new Promise<void>((r) => { done = r; });
    try {
      await previous;
      if (this.#removing) throw new SlipwayError('ERR_CONTAINER_NOT_RUNNING', `container ${this.name} was removed`, { hint: 'copy before remove()' });
      // The dead process's boot steps (ports, networks, cgroup) go first, as restart() would do.
      await this.#undo.unwind('restart');
      this.#undo.push('create', 'boot', (reason) => (reason === 'restart' ? keeper.releaseContainer(this.id) : keeper.removeContainer(this.id)));
      try {
        await keeper.createContainer(spec);
        yield* keeper.getFiles(this.id, path);
      } finally {
        await this.#undo.unwind('restart');
      }
    } finally {
      done();
    }
  }

  /**
   * Undoes everything the container made, newest first (a boot in progress is stopped at its next step first).
   * Idempotent; undo errors are logged, never thrown.
   */
  remove(): Promise<void> {
    this.#removing ??= (async () => {
      // A boot in progress sees #removing at its next step and unwinds what it made; then the rest goes.
      await this.#booting?.catch(() => undefined);
      await this.#dropping;
      await this.#undo.unwind('remove');
    })();
    return this.#removing;
  }
}

/** A host file's text, or `fallback` when it cannot be read. */
function readTextOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

/** A failed PUBLISH, with what to do about it. */
function publishError(err: unknown, p: LaunchPlan['ports'][number], wanted: number): unknown {
  if (!SlipwayError.is(err)) return err;
  const where = `${p.hostIp}:${wanted}/${p.protocol} (for container port ${p.container})`;
  if (KeeperError.isKind(err, 'publish-bind', 'EADDRINUSE')) {
    return new SlipwayError('ERR_PORT_IN_USE', `host port ${where} is already in use`, {
      hint: `stop whatever listens there, or let slipway pick a free port with expose(${p.container})`, cause: err,
    });
  }
  if (KeeperError.isKind(err, 'publish-bind', 'EADDRNOTAVAIL')) {
    return new SlipwayError('ERR_NETWORK', `cannot publish on ${where}: the address is not one of this host's`, {
      hint: 'use 127.0.0.1, 0.0.0.0 or an address of a local interface (ip -brief address) as hostIp', cause: err,
    });
  }
  if (KeeperError.isKind(err, 'publish-address')) {
    return new SlipwayError('ERR_INVALID_ARGUMENT', `invalid hostIp: ${JSON.stringify(p.hostIp)} (for container port ${p.container})`, {
      hint: 'expected an IPv4 or IPv6 address such as 127.0.0.1, 0.0.0.0 or ::1', cause: err,
    });
  }
  if (KeeperError.isKind(err, 'publish-bind', 'EACCES') || KeeperError.isKind(err, 'publish-bind', 'EPERM')) {
    return new SlipwayError('ERR_NETWORK', `cannot publish on ${where}: permission denied`, {
      hint: `ports below 1024 need root (or sysctl net.ipv4.ip_unprivileged_port_start=0); pick a higher host port or let slipway pick one with expose(${p.container})`, cause: err,
    });
  }
  return new SlipwayError(err.code, `cannot publish ${where}: ${err.shortMessage}`, {
    hint: err.hint ?? 'run with DEBUG=slipway:* for the keeper log', cause: err,
  });
}

function normaliseSignal(s: string): string {
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    const name = Object.entries(osConstants.signals).find(([, v]) => v === n)?.[0];
    if (name) return name;
  }
  return s.startsWith('SIG') ? s : `SIG${s}`;
}

/**
 * The container's command could not be executed (missing, not executable, a bad interpreter line): a start error
 * naming the path (and the PATH searched for a bare name), as `docker run` users expect, with the keeper's error as cause.
 */
function commandError(e: unknown, name: string, spec: { argv: readonly string[]; env: readonly string[] }): unknown {
  if (!KeeperError.isKind(e, 'exec')) return e;
  const cmd = spec.argv[0] ?? '';
  const path = spec.env.find((kv) => kv.startsWith('PATH='))?.slice(5);
  const q = JSON.stringify(cmd);
  const why = e.errnoName === 'ENOENT'
    ? (cmd.includes('/') ? `${q} does not exist in the image (or its #! interpreter does not)` : `${q} was not found in PATH=${path ?? '(unset)'}`)
    : e.errnoName === 'EACCES' ? `${q} is not executable (or is a directory)`
    : e.errnoName === 'ENOEXEC' ? `${q} is not a program this kernel can run (another architecture, or no #! line)`
    : `${q} could not be executed (${e.errnoName})`;
  return new SlipwayError('ERR_CONTAINER_START', `cannot start ${name}: the command ${why}`, {
    hint: e.errnoName === 'ENOENT'
      ? "check withCommand()/withEntrypoint() and the image's Entrypoint/Cmd; a script's #! interpreter must exist in the image too"
      : "check the file's mode and format in the image (`chmod +x`, the #! line, the image's platform)",
    cause: e,
  });
}

/** Longest timer Node arms (2^31-1 ms, about 24.8 days); a bound above it is no bound. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A boot's bound in ms: the plan's, else the `startupTimeout` setting (60 s); Infinity is unbounded. */
export function bootTimeoutOf(plan: Pick<LaunchPlan, 'bootTimeout'>): number {
  return plan.bootTimeout && plan.bootTimeout > 0 ? plan.bootTimeout : configValue('startupTimeout');
}
