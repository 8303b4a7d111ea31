/** What a wait strategy may look at; implemented by the started container. */
export interface WaitTarget {
  /** Address clients use to reach published ports. */
  readonly host: string;
  /** Host port for a published container port, or undefined when it is not published. */
  mappedPort(port: number, protocol?: 'tcp' | 'udp'): number | undefined;
  /** Container ports to wait for by default (published ports). */
  readonly waitPorts: readonly { port: number; protocol: 'tcp' | 'udp' }[];
  /** TCP ports listening inside the container (read from its own /proc/net/tcp*). */
  listeningTcpPorts(): Promise<Set<number>>;
  /** Log lines from the start, following new ones until the signal aborts. */
  followLogs(signal: AbortSignal): AsyncIterable<string>;
  exec(argv: readonly string[], signal?: AbortSignal): Promise<{ exitCode: number | null; stdout: string; stderr: string }>;
  /** Resolves when the container's process has exited. */
  readonly exited: Promise<{ exitCode: number | null; signal: string | null }>;
  /** True once the process has exited. */
  hasExited(): boolean;
  /** The image's HEALTHCHECK (OCI config `Healthcheck`). */
  readonly healthcheck: { Test?: string[]; Interval?: number; Timeout?: number; Retries?: number; StartPeriod?: number } | undefined;
}

/** A readiness condition. Strategies are immutable; `withStartupTimeout` returns a copy. */
export interface WaitStrategy {
  readonly startupTimeout: number | undefined;
  withStartupTimeout(ms: number): WaitStrategy;
  /** Resolves when ready; rejects on abort (deadline) or when readiness became impossible. */
  waitUntilReady(target: WaitTarget, signal: AbortSignal): Promise<void>;
  /** One line saying what is awaited, for timeout errors. */
  describe(): string;
}
