/**
 * Every error slipway throws on purpose is a {@link SlipwayError}: branch on `code`,
 * read `hint` for the fix, and `cause` for what went wrong underneath.
 */

/**
 * Stable error codes. New codes may be added; existing ones keep their meaning. Each code's comment says when it is
 * thrown and, after `Fix:`, what to do; `docs/errors.md` is generated from them (`node scripts/gen-errors-doc.mjs`).
 *
 * @example
 * import { SlipwayError, type SlipwayErrorCode } from 'slipway';
 * const retryable: SlipwayErrorCode[] = ['ERR_REGISTRY_TIMEOUT', 'ERR_REGISTRY_UNREACHABLE'];
 * const shouldRetry = (e: unknown) => SlipwayError.is(e) && retryable.includes(e.code);
 */
export type SlipwayErrorCode =
  /**
   * An option or argument is malformed or out of range. Thrown by the `with*` call or the method that received it,
   * before anything starts (pids >= 2, memory >= 6m, cpus 0.01 to the host's CPUs, known signal names, IP addresses,
   * ports).
   * Fix: The message names the option, the value and the expected form: pass a value of that form.
   */
  | 'ERR_INVALID_ARGUMENT'
  /**
   * An image reference cannot be parsed (uppercase repository, bad tag or digest, stray characters).
   * Fix: Write it as `[registry[:port]/]repository[:tag][@sha256:<64 hex>]`, e.g. `redis:7` or
   * `localhost:5000/team/app:1.0`; local images as `oci-layout:<dir>[:tag]` or `docker-archive:<file.tar>`.
   */
  | 'ERR_INVALID_REFERENCE'
  /**
   * A config file (`slipway.config.json`, `~/.config/slipway/config.json`, `~/.testcontainers.properties`) or a
   * `SLIPWAY_*` variable holds a value slipway cannot use (not JSON, an unknown setting, a value of the wrong form, a
   * runtime other than `native`, `engine` or `auto`, a `DOCKER_HOST` form slipway does not speak). Thrown by whatever reads the configuration first (a pull, a start, `slipway info`).
   * Fix: The message names the file (or variable), the key path and the allowed values: correct or remove that key;
   * `slipway info` prints the effective configuration and where each value comes from.
   */
  | 'ERR_CONFIG'
  /**
   * The registry has no such repository or tag (404), or an `oci-layout:`/`docker-archive:` path or tag does not
   * exist.
   * Fix: Check the name and tag (Docker Hub's official images are `library/<name>`, added for you); for a private
   * registry check that your credentials can see it; for local images check the path.
   */
  | 'ERR_IMAGE_NOT_FOUND'
  /**
   * The pull policy is `never` (or the store lost a layer) and the image is not in the local store.
   * Fix: Pull it first (`slipway pull <ref>` or the default policy `missing`), and check that `SLIPWAY_CACHE_DIR`
   * points at the same store.
   */
  | 'ERR_IMAGE_NOT_PRESENT'
  /**
   * The registry answered with something that is not a valid image manifest, index or config (bad JSON, unknown media
   * type, missing fields).
   * Fix: Check that the reference names a container image (not a Helm chart or other artifact) and that the registry
   * is an OCI / Docker v2 registry.
   */
  | 'ERR_MANIFEST_INVALID'
  /**
   * The image has no variant for the platform asked (`withPlatform()`, `pull({ platform })`) or, by default, for this
   * host's architecture.
   * Fix: Pick one of the platforms the hint lists, or an image built for this architecture.
   */
  | 'ERR_PLATFORM_NOT_FOUND'
  /**
   * Downloaded content does not hash to the digest the manifest (or the reference) names: a cut download, a corrupt
   * cache or a misbehaving registry or proxy.
   * Fix: Pull again; if it repeats, the registry or a proxy in between serves wrong content.
   */
  | 'ERR_DIGEST_MISMATCH'
  /**
   * The registry answered with an error: rate limited (429), server errors (5xx) after retries, or a refused request.
   * Fix: For Docker Hub's rate limit log in (`docker login`, credentials are read) or set a mirror
   * (`SLIPWAY_REGISTRY_MIRROR`); otherwise follow the hint (the registry's own message is in the error).
   */
  | 'ERR_REGISTRY'
  /**
   * The registry refused the credentials (401/403), or a credential helper or auth file could not be used. Docker
   * Hub answers 401, not 404, for a repository that does not exist, so a mistyped image name pulled without a login
   * ends here too (Docker says "pull access denied … repository does not exist or may require 'docker login'").
   * Fix: Check the image name first; log in (`docker login <registry>` or `podman login`; `~/.docker/config.json` and `containers/auth.json` are
   * read), install the credential helper the config names, or fix the file the message names.
   */
  | 'ERR_REGISTRY_AUTH'
  /**
   * The registry or its token server cannot be reached: DNS failure, connection refused, TLS failure, or the
   * connection was cut.
   * Fix: Check the network and proxy; without access to Docker Hub set a mirror (`SLIPWAY_REGISTRY_MIRROR`) or an
   * image name prefix (`SLIPWAY_HUB_IMAGE_NAME_PREFIX`); a registry on plain HTTP goes in
   * `SLIPWAY_INSECURE_REGISTRIES`.
   */
  | 'ERR_REGISTRY_UNREACHABLE'
  /**
   * One registry request took longer than its limit: connect 15 s, headers 30 s, or 30 s without body data.
   * Fix: Check that the registry is reachable and not stalling; raise the limits with
   * `SLIPWAY_REGISTRY_CONNECT_TIMEOUT`, `SLIPWAY_REGISTRY_HEADERS_TIMEOUT`, `SLIPWAY_REGISTRY_BODY_TIMEOUT` (ms).
   */
  | 'ERR_REGISTRY_TIMEOUT'
  /**
   * A whole pull took longer than its limit (10 minutes by default).
   * Fix: On a slow link raise it with `withPullTimeout(ms)`, `slipway pull --timeout <seconds>` or
   * `SLIPWAY_PULL_TIMEOUT=<ms>`; pre-pull big images in a global setup.
   */
  | 'ERR_PULL_TIMEOUT'
  /**
   * A manifest, config or blob is bigger than its descriptor announced or than slipway's safety limit.
   * Fix: The registry serves content that does not match the manifest; if the image is legitimate and only its
   * manifest is huge, raise the limit the message names.
   */
  | 'ERR_TOO_LARGE'
  /**
   * A layer tries to write outside the container's root (`..`, absolute links followed, device files where not
   * allowed): a malformed or malicious image.
   * Fix: Do not use the image; rebuild it with a normal tool.
   */
  | 'ERR_UNPACK_UNSAFE_PATH'
  /**
   * A layer cannot be unpacked: corrupt archive, unsupported compression (zstd without Node >= 22.15 or the `zstd`
   * command), disk errors, or an id the user namespace cannot map.
   * Fix: Follow the hint: pull again for a corrupt layer, install `zstd`, or add a subordinate id range (`sudo
   * usermod --add-subuids 100000-165535 --add-subgids 100000-165535 $USER`).
   */
  | 'ERR_UNPACK'
  /**
   * A file to copy into or out of a container does not exist (`withFile`/`withCopy` source on the host, `copyFrom`
   * path in the container).
   * Fix: Check the path; in the container, list it with `exec(['ls', '-la', dir])`.
   */
  | 'ERR_COPY_SOURCE_MISSING'
  /**
   * A copy would escape its target: an archive entry with `..` or an absolute path, a target below a symlink or
   * regular file, or a name the host cannot hold.
   * Fix: Build archives with paths relative to the target and no `..`; copy to a host directory (names are kept as
   * bytes) or to another container path.
   */
  | 'ERR_COPY_UNSAFE_PATH'
  /**
   * Writing copied files on the host failed: the target exists and is not empty, is not writable, or the disk is
   * full.
   * Fix: Copy into a new or empty host directory that this user can write, with space left.
   */
  | 'ERR_COPY_HOST'
  /**
   * A copy out of a container (a `copyFrom()` tar stream) was given up because its reader took nothing for a minute:
   * an unread copy holds one of the keeper's workers and, for an exited container, its file system mounted.
   * Fix: Read the stream to its end (`pipeline(stream, destination)`), or `destroy()` it once you no longer need it.
   */
  | 'ERR_COPY_IDLE'
  /**
   * A copy into a container ran out of space or quota on the container's file system: its upper dir below the state
   * dir (as root `/run/slipway` by default, often a small tmpfs), or the volume or bind mount holding the path. The
   * partly written file is removed.
   * Fix: Free space there or set `SLIPWAY_STATE_DIR` (`stateDir`) to a file system with room; remove files in the
   * container; or copy into a volume or bind mount with space.
   */
  | 'ERR_COPY_NO_SPACE'
  /**
   * The image store (`$SLIPWAY_CACHE_DIR`, `$XDG_CACHE_HOME/slipway` or `~/.cache/slipway`) cannot be used: not
   * writable, another owner, a symlink, or a broken entry that cannot be removed.
   * Fix: Set `SLIPWAY_CACHE_DIR` to a directory only you can write, or run `slipway prune --all` and pull again.
   */
  | 'ERR_STORE'
  /**
   * The file system of the image store ran out of space or inodes while pulling or unpacking (nothing half-written is
   * kept).
   * Fix: Free space with `slipway prune` (`--all` removes everything), or set `SLIPWAY_CACHE_DIR` to a larger file
   * system.
   */
  | 'ERR_STORE_FULL'
  /**
   * A layer wrote more to the store than its first GiB plus the `layerExpansionLimit` setting (100) times its
   * compressed size: a compression bomb, a few MiB that expand to tens of GiB of real files (nothing of it is kept).
   * Fix: Do not use the image; if it is yours and really that compressible, raise `SLIPWAY_LAYER_EXPANSION_LIMIT`
   * (`Infinity` turns the bound off).
   */
  | 'ERR_LAYER_TOO_LARGE'
  /**
   * The native helper (`native/build/slipway-helper`) is not built: install scripts were skipped, or the build failed
   * for lack of a compiler or libseccomp headers.
   * Fix: Install a C compiler, make and libseccomp headers, then run the `make -C …/native` command the hint prints
   * (or set `SLIPWAY_HELPER` to a built helper).
   */
  | 'ERR_HELPER_MISSING'
  /**
   * The built helper speaks an older protocol than this version of slipway (slipway was upgraded, the helper was not
   * rebuilt).
   * Fix: Rebuild it with the `make -C …/native` command the hint prints.
   */
  | 'ERR_HELPER_STALE'
  /**
   * The helper sent a frame slipway cannot decode: a helper from another version, or memory corruption.
   * Fix: Rebuild the helper (`make -C node_modules/slipway/native`); if it repeats, report it with
   * `DEBUG=slipway:keeper*` output.
   */
  | 'ERR_HELPER_PROTOCOL'
  /**
   * Containers cannot run on this machine: user namespaces are disabled or restricted (Ubuntu 23.10+'s AppArmor
   * rule), or rootless id mapping (`newuidmap`, `/etc/subuid`) is not set up.
   * Fix: Enable unprivileged user namespaces (`kernel.unprivileged_userns_clone=1`, `user.max_user_namespaces`), on
   * Ubuntu 23.10+ set `kernel.apparmor_restrict_unprivileged_userns=0` or install an AppArmor profile with `userns,`
   * for the helper, and install uidmap with a subuid range (see the README's requirements).
   */
  | 'ERR_RUNTIME_UNAVAILABLE'
  /**
   * The helper failed an operation (mount, clone, a file or cgroup operation) or exited, or the state directory is
   * unsafe to use.
   * Fix: Read the stage and errno in the message; `DEBUG=slipway:keeper*` shows the helper's log. A state directory
   * owned by someone else: set `XDG_RUNTIME_DIR` to one of your own.
   */
  | 'ERR_RUNTIME'
  /**
   * The container could not be started: no command (no Entrypoint or Cmd), a user or group the image lacks, a file
   * that cannot be placed, a health check that reported unhealthy, or a startup check that answered FAIL.
   * Fix: Follow the hint: set a command with `withCommand()`, a numeric user (`withUser('1000:1000')`), another
   * target path; for health checks read the container's logs in the error.
   */
  | 'ERR_CONTAINER_START'
  /**
   * The container's main process exited before the wait strategy saw it ready. The error carries the container's
   * last log lines.
   * Fix: Read the log lines in the error; a command that is meant to exit needs `Wait.forOneShotStartup()` or
   * `run()`.
   */
  | 'ERR_CONTAINER_EXITED'
  /**
   * An operation needs a running container (exec, copy in, ports) but it was stopped or removed, or was removed while
   * starting; or it needs a container that still exists (logs, copy out) but it was removed.
   * Fix: Do it before `stop()`/`remove()`; to read the files or logs of a stopped container, stop it with
   * `stop({ remove: false })` (testcontainers; or `withAutoRemove(false)`) and read them before removing it.
   */
  | 'ERR_CONTAINER_NOT_RUNNING'
  /**
   * No container of yours has that name or id (`slipway exec`, `logs`, `rm`, `inspect`), or a prefix matches several.
   * Fix: Run `slipway ps` for the names and ids of your running containers; give more of the id.
   */
  | 'ERR_CONTAINER_NOT_FOUND'
  /**
   * `slipway rm` without `-f` was asked to remove a running container.
   * Fix: Stop it first, or remove it anyway with `slipway rm -f`.
   */
  | 'ERR_CONTAINER_RUNNING'
  /**
   * `withMemory`/`withCpus`/`withPids` (or another limit) cannot be enforced: rootless on cgroup v1, controllers not
   * delegated to your user, or the cgroup is in use.
   * Fix: Delegate the controllers (`systemd-run --user --scope -p Delegate=yes <command>`, or `Delegate=cpu cpuset io
   * memory pids` in a `user@.service` drop-in), run as root, or use `withBestEffortLimits()` to start without them.
   */
  | 'ERR_CGROUP_UNAVAILABLE'
  /**
   * Setting up a container's network failed: slirp4netns/pasta missing or failing, `/dev/net/tun` unusable, a user
   * network or host-access forward that could not be made.
   * Fix: Install slirp4netns or passt, check that `/dev/net/tun` is usable by your user (`crw-rw-rw-`);
   * `DEBUG=slipway:network` shows the helper's output.
   */
  | 'ERR_NETWORK'
  /**
   * A fixed host port asked for (`expose({ container, host })`) is already taken on the host.
   * Fix: Stop whatever listens there, or let slipway pick a free port (`expose(port)` without a host port).
   */
  | 'ERR_PORT_IN_USE'
  /**
   * `getMappedPort()` (or a wait strategy) asked for a port the builder did not publish.
   * Fix: Add `.expose(port)` (`withExposedPorts(port)` in `slipway/testcontainers`) for that port and protocol.
   */
  | 'ERR_PORT_NOT_EXPOSED'
  /**
   * The wait strategy did not see the container ready in time (`withStartupTimeout`, 60 s by default); the message is
   * testcontainers' (`URL /health not accessible after 5000ms`) and the error carries the last log lines.
   * Fix: Read the log lines in the error: the service may be failing, listening elsewhere, or slower than the
   * timeout; raise it with `withStartupTimeout(ms)`.
   */
  | 'ERR_WAIT_TIMEOUT'
  /**
   * A container's boot (the keeper starting, namespaces and root, network helper, networks, copies, ports, the
   * process) did not finish within the startup timeout (`withStartupTimeout`, 60 s by default; the pull has its own);
   * everything it made is removed. The message names the step it was stuck in.
   * Fix: Usually the host is overloaded or a copy is very large; raise `withStartupTimeout(ms)`, or run with
   * `DEBUG=slipway:*` to see the step and report it if it hangs.
   */
  | 'ERR_START_TIMEOUT'
  /**
   * An `AbortSignal` you passed (to `start`, `exec`, `pull`) fired; what was started is removed.
   * Fix: Nothing to fix if you meant it; otherwise give the operation more time before aborting.
   */
  | 'ERR_ABORTED'
  /**
   * A command run with `exec()` printed more than 64 MiB (stdout and stderr together), which `exec()` would have to
   * hold in memory for its result: it was stopped (natively and in a reused container killed; on the Docker engine
   * detached, as the engine has no call to kill an exec). The `onStdout`/`onStderr` callbacks saw the output until then.
   * Fix: Redirect a large output to a file in the container and copy it out with `copyFrom()`, or cut it in the
   * command (`… | head -c 1M`).
   */
  | 'ERR_EXEC_OUTPUT_TOO_LARGE'
  /**
   * A module's command inside its container (a query, a CLI call, a snapshot) exited non-zero.
   * Fix: Read the command's output in the error; check the SQL or command and the account it runs as.
   */
  | 'ERR_COMMAND_FAILED'
  /**
   * A testcontainers method or option slipway does not provide (it needs a Docker daemon or host privileges:
   * `withIpcMode('host')`, `withNetworkMode('container:…')`, device nodes…).
   * Fix: The hint names the alternative; see the migration guide's list.
   */
  | 'ERR_UNSUPPORTED'
  /**
   * A Dockerfile does not parse (the message names the line and the instruction).
   * Fix: Correct the Dockerfile at the line named; slipway reads Dockerfile syntax as Docker's BuildKit frontend does.
   */
  | 'ERR_DOCKERFILE_PARSE'
  /**
   * A build cannot go on: an unknown stage or target, a base image that cannot be pulled, or a variable required by
   * `${VAR:?}` that is unset.
   * Fix: Check the stage names and `--target`, the base image reference, and pass the missing build argument.
   */
  | 'ERR_BUILD'
  /**
   * A build's context directory is missing, or a COPY/ADD source is absent or outside the context (`../x`, a symlink
   * that leads out).
   * Fix: Pass the right context directory, and keep COPY/ADD sources inside it (check `.dockerignore` too).
   */
  | 'ERR_BUILD_CONTEXT'
  /**
   * A RUN step exited non-zero; the message has its exit code and the details its last output lines.
   * Fix: Read the output in the error and fix the command, or run it by hand in a container of the previous stage.
   */
  | 'ERR_BUILD_STEP_FAILED'
  /**
   * A Compose file cannot be used: YAML that does not parse, a key or value the Compose Specification's schema refuses
   * (the message names the file, the path and the allowed keys), a bad `${VAR}` expression or a `${VAR:?}` whose
   * variable is missing, an unknown service in `up()`, `extends` or `depends_on`, a dependency, `include` or `extends`
   * cycle, a resource an `include` defines twice, an undeclared secret or config; `slipway compose up` of a project that
   * is already up.
   * Fix: Correct the file at the path named, or set the missing variable (environment, `.env`, `withEnvironment()`).
   */
  | 'ERR_COMPOSE_INVALID'
  /**
   * A Compose service failed while `up()` started the project: it could not start, never became ready or healthy,
   * or a `service_completed_successfully` dependency exited non-zero. The message names the service and what was
   * waited for; the details hold its last log lines. Everything `up()` had started is removed.
   * Fix: Read the service's log lines in the error; check its healthcheck, command and dependencies.
   */
  | 'ERR_COMPOSE_SERVICE'
  /**
   * A snapshot (`withSnapshot()`) could not be made: the service did not shut down cleanly when it was quiesced (a
   * non-zero exit or a signal: its files may be inconsistent), or it was not running when its snapshot was due.
   * Nothing is stored; the container is removed. `reset()` on a container started without a snapshot is this too.
   * Fix: Give the stop signal the service shuts down cleanly on (`withStopSignal`), a `quiesce` hook, a longer stop
   * timeout, or start it without `withSnapshot()`.
   */
  | 'ERR_SNAPSHOT';

const BRAND = Symbol.for('slipway.error');

/**
 * The options of a {@link SlipwayError}: the hint, the cause, and details appended to the message.
 * @example
 * import { SlipwayError } from 'slipway';
 * throw new SlipwayError('ERR_INVALID_ARGUMENT', 'invalid port: 0', { hint: 'expected 1..65535', details: 'from my fixture' });
 */
export interface SlipwayErrorOptions {
  /** What to do about it, in one sentence. */
  hint?: string;
  /** The underlying error. */
  cause?: unknown;
  /** Extra evidence (for example a container's last log lines), appended to `message`. */
  details?: string;
}

/**
 * The root of every error slipway throws on purpose.
 * @example
 * import { Container, SlipwayError } from 'slipway';
 * try {
 *   await using c = await new Container('redis:7').withMemory('64m').start();
 * } catch (e) {
 *   if (SlipwayError.is(e, 'ERR_CGROUP_UNAVAILABLE')) console.warn(`limits unavailable: ${e.hint}`);
 *   else throw e;
 * }
 */
export class SlipwayError extends Error {
  /** Stable machine-readable code. */
  readonly code: SlipwayErrorCode;
  /** How the user can fix it, when they can. */
  readonly hint: string | undefined;
  /** The one-line message without hint or details. */
  readonly shortMessage: string;

  constructor(code: SlipwayErrorCode, message: string, options: SlipwayErrorOptions = {}) {
    let full = `${code}: ${message}`;
    if (options.hint) full += `; fix: ${options.hint}`;
    if (options.details) full += `\n${options.details}`;
    super(full, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SlipwayError';
    this.code = code;
    this.hint = options.hint;
    this.shortMessage = message;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** `instanceof` that also works across duplicate copies of the package. */
  static is(value: unknown, code?: SlipwayErrorCode): value is SlipwayError {
    return (
      typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true &&
      (code === undefined || (value as SlipwayError).code === code)
    );
  }
}

/** Shorthand for an invalid option: names the option, the value and what is expected. */
export function invalidArgument(option: string, value: unknown, expected: string): SlipwayError {
  return new SlipwayError('ERR_INVALID_ARGUMENT', `invalid ${option}: ${formatValue(value)}`, { hint: `expected ${expected}` });
}

/** Shorthand for a feature slipway does not provide: names the method and what to use instead. */
export function unsupported(method: string, why: string, alternative: string): SlipwayError {
  return new SlipwayError('ERR_UNSUPPORTED', `${method} is not supported: ${why}`, { hint: alternative });
}

function formatValue(value: unknown): string {
  try {
    const s = typeof value === 'string' ? JSON.stringify(value) : String(value);
    return s.length > 200 ? `${s.slice(0, 200)}…` : s;
  } catch {
    return typeof value;
  }
}
