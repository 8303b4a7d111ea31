/** What one process tells another about a container it runs (`slipway ps`, `inspect`). */
export interface ContainerDescription {
  /** 64 hex digits. */
  id: string;
  name: string;
  /** The image reference as it was asked for. */
  image: string;
  /** The digest the reference resolved to. */
  imageDigest: string;
  /** The process's argv (entrypoint + command). */
  command: string[];
  /** ISO 8601. */
  created: string;
  started?: string;
  state: 'created' | 'running' | 'exited' | 'removing';
  /** How the process ended (state `exited`). */
  exit?: { exitCode: number | null; signal: string | null; oomKilled: boolean };
  /** Host pid of the container's init while it runs, else 0. */
  pid: number;
  hostname: string;
  /** The labels it was started with (`withLabels`; a Compose service's `com.docker.compose.*`). */
  labels: Record<string, string>;
  /** `uid:gid` the process runs as. */
  user: string;
  workdir: string;
  /** Names of the environment variables only: their values may be secrets. */
  envNames: string[];
  networkMode: string;
  ports: { container: number; protocol: 'tcp' | 'udp'; hostIp: string; hostPort: number }[];
  /** User network name → the container's address there. */
  networks: Record<string, string>;
  logPath: string;
  stateDir: string;
  keeperPid: number;
  /**
   * `process`: lives and dies with the process that started it. `reuse`: kept for reuse across runs by the user's
   * reuse keeper (`withReuse()`), which removes it once no process used it for the `reuseIdleTimeout` setting.
   */
  lifetime: 'process' | 'reuse';
  /** The process that owns it (filled in by that process's control server). */
  owner?: { pid: number; program: string };
}

/** A request to a process's control socket (one JSON object per line). */
export type ControlRequest =
  | { op: 'list' }
  | { op: 'exec'; id: string; argv: string[]; env?: Record<string, string>; user?: string; workdir?: string; stdin: boolean }
  | { op: 'stdin'; data: string }
  | { op: 'eof' }
  | { op: 'wait'; id: string }
  | { op: 'stop'; id: string; timeoutMs: number }
  | { op: 'restart'; id: string; timeoutMs: number }
  | { op: 'ports'; id: string }
  | { op: 'remove'; id: string; force: boolean };

/** An error sent over the socket, rebuilt as a SlipwayError on the other side. */
export interface WireError {
  code: string;
  message: string;
  hint?: string;
  /** An exec whose command could not be run: 127 not found, 126 not executable (Docker's statuses). */
  commandStatus?: 126 | 127;
}

/** A reply (one JSON object per line); an exec sends `output` lines before its `exit`. */
export type ControlReply =
  | { type: 'list'; containers: ContainerDescription[] }
  | { type: 'output'; stream: 'stdout' | 'stderr'; data: string }
  | { type: 'exit'; exitCode: number | null; signal: string | null; oomKilled?: boolean }
  | { type: 'gone' }
  | { type: 'ok' }
  | { type: 'ports'; tcp: number[] }
  | { type: 'error'; error: WireError };
