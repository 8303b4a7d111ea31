/**
 * What the runtime needs from a user network (implemented by the API's `Network`), so that the
 * runtime never imports the API layer.
 */
export interface NetworkMember {
  readonly containerId: string;
  /** Names other members resolve to this container: its name, hostname and aliases. */
  readonly names: readonly string[];
  /** Rewrites the member's /etc/hosts from the network's current peers. */
  refreshHosts(): Promise<void>;
}

export interface NetworkAttachable {
  readonly name: string;
  /** Wires a created (not yet started) container in; returns its address on the network. */
  attach(member: NetworkMember): Promise<{ ip: string }>;
  /** Unwires it (idempotent) and refreshes the other members' /etc/hosts. */
  detach(containerId: string): Promise<void>;
  /** `[name, ip]` of every other member, for /etc/hosts. */
  peers(exceptContainerId: string): [string, string][];
}
