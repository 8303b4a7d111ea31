/**
 * What a wait strategy may look at; implemented by the started container.
 * @example
 * import { AbstractWaitStrategy, Container, type WaitTarget } from 'slipway';
 * class FileExists extends AbstractWaitStrategy {
 *   constructor(private readonly path: string) { super(); }
 *   describe() { return `${this.path} existing`; }
 *   protected async wait(target: WaitTarget, signal: AbortSignal) {
 *     while ((await target.exec(['test', '-e', this.path], signal)).exitCode !== 0) await new Promise((r) => setTimeout(r, 100));
 *   }
 * }
 * new Container('busybox').waitFor(new FileExists('/tmp/ready'));
 */
export interface WaitTarget {
  /** The container's id. */
  readonly id?: string;
  /** Address clients use to reach published ports. */
  readonly host: string;
  /** Host port for a published container port, or undefined when it is not published. */
  mappedPort(port: number, protocol?: 'tcp' | 'udp'): number | undefined;
  /** Container ports to wait for by default (published ports). */
  readonly waitPorts: readonly { port: number; protocol: 'tcp' | 'udp' }[];
  /** TCP ports listening inside the container (read from its own /proc/net/tcp*). */
  listeningTcpPorts(): Promise<Set<number>>;
  /** Log lines since the (re)start, following new ones until the signal aborts. */
  followLogs(signal: AbortSignal): AsyncIterable<string>;
  exec(argv: readonly string[], signal?: AbortSignal): Promise<{ exitCode: number | null; stdout: string; stderr: string }>;
  /** Resolves when the container's process has exited. */
  readonly exited: Promise<{ exitCode: number | null; signal: string | null }>;
  /** True once the process has exited. */
  hasExited(): boolean;
  /** The container's HEALTHCHECK (OCI config `Healthcheck`: durations in ns). */
  readonly healthcheck: { Test?: string[]; Interval?: number; Timeout?: number; Retries?: number; StartPeriod?: number; StartInterval?: number } | undefined;
}

/**
 * A readiness condition. Strategies are immutable; `withStartupTimeout` returns a copy. A strategy that does not
 * extend `AbstractWaitStrategy` is bounded from outside by its `startupTimeout` (else the container's).
 * @example
 * import { Container, Wait, type WaitStrategy } from 'slipway';
 * const ready: WaitStrategy = Wait.forHttp('/health', 8080).withStartupTimeout(30_000);
 * new Container('my-service:1').expose(8080).waitFor(ready);
 */
export interface WaitStrategy {
  readonly startupTimeout: number | undefined;
  withStartupTimeout(ms: number): WaitStrategy;
  /** Resolves when ready; rejects on abort or when readiness became impossible. */
  waitUntilReady(target: WaitTarget, signal: AbortSignal): Promise<void>;
  /** One line saying what is awaited, for timeout errors. */
  describe(): string;
}
