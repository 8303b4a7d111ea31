/** A named volume as the runtime sees it (implemented by the API's `Volume`). */
export interface VolumeSource {
  readonly name: string;
  /** Kept after the process (`Volume.named(name, { keep: true })`). */
  readonly keep?: boolean;
  /** The host directory to bind-mount, created on first use. */
  hostPath(): Promise<string>;
}
