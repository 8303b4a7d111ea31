/** A running outbound-network helper attached to one container's network namespace. */
export interface OutboundNet {
  /** Which helper runs. */
  readonly tool: 'slirp4netns' | 'pasta';
  /** The helper's process id. */
  readonly pid: number;
  /** The interface created in the namespace. */
  readonly ifname: string;
  /** The container's address (10.0.2.100). */
  readonly guestIp: string;
  /** The default gateway (10.0.2.2). */
  readonly gateway: string;
  /** The DNS forwarder to put in resolv.conf (10.0.2.3). */
  readonly dns: string;
  /** The address that reaches every port of the host's loopback, only with `hostLoopback` (the gateway, 10.0.2.2). */
  readonly hostLoopbackAlias?: string;
  /** The MTU of the interface. */
  readonly mtu: number;
  /** Milliseconds from spawn to ready. */
  readonly startMs: number;
  /** Stops the helper (SIGTERM, then SIGKILL after 2 s). Idempotent. */
  close(): Promise<void>;
}

/** Options for {@link startOutbound}. */
export interface StartOutboundOptions {
  /**
   * Map the gateway address (10.0.2.2) to the host's 127.0.0.1, every port of it. Dangerous: the container then
   * reaches every loopback service of the host (databases, registries, other containers' published ports). Only for
   * `withHostAccess({ unsafeAllLoopbackPorts: true })`; named host ports go through the keeper's forwarder instead.
   */
  hostLoopback: boolean;
  /** MTU of the container's interface. @defaultValue 65520 */
  mtu?: number;
  /** Which helper to try first when both are installed. @defaultValue 'slirp4netns' */
  prefer?: 'slirp4netns' | 'pasta';
  /** Interface name inside the container. @defaultValue 'eth0' */
  ifname?: string;
  /** How long to wait for the helper to configure the namespace. @defaultValue 10000 */
  timeoutMs?: number;
  /** Aborts the start (the helper is killed). */
  signal?: AbortSignal;
  /** Override the detected tool paths (tests). */
  tools?: { slirp4netns?: string; pasta?: string };
  /**
   * Starts slirp4netns from the keeper, inside its user namespace, instead of from Node (pasta is always started
   * from Node). The runtime passes one per container: the helper's mount namespace then copies the host's shared
   * mounts as slaves, so as root it needs no `unshare --mount` wrapper to keep its unmounts from reaching the host.
   */
  launcher?: OutboundLauncher;
}

/**
 * In an {@link OutboundLauncher}'s argv: the container init's host pid, which the keeper writes in. The helper can
 * then be asked for before the container's CREATE is answered (Node does not know the pid yet), and the keeper starts
 * it as soon as the container's network namespace exists, beside the setup of its root.
 */
export const INIT_PID_ARG: unique symbol = Symbol('the container init pid');

/** Runs an outbound helper for one container from the keeper (`Keeper.startOutbound`/`stopOutbound`). */
export interface OutboundLauncher {
  /**
   * Runs `argv` (fd 3 = ready pipe, fd 4 = exit pipe; {@link INIT_PID_ARG} = the init's pid) and resolves with its pid
   * once it wrote its ready byte. Rejects when it (or the container) ends first, with the helper's last output as
   * `output` and its raw wait status as `waitStatus` when known.
   */
  start(argv: ReadonlyArray<string | typeof INIT_PID_ARG>): Promise<number>;
  /** Kills the container's helpers; resolves once they are gone. */
  stop(): Promise<void>;
}

/** The fixed addressing slipway gives every container, whichever helper is used. */
export const GUEST_NET = Object.freeze({
  cidr: '10.0.2.0/24', prefix: 24, guestIp: '10.0.2.100', gateway: '10.0.2.2', dns: '10.0.2.3', defaultMtu: 65520,
  /**
   * host.slipway.internal for named host ports: an address on the container's own lo (as Podman's
   * host.containers.internal), where the keeper's host-access listeners are. Must match native `SW_HOST_ALIAS_IP`.
   */
  hostAlias: '169.254.1.2',
});
