export { detectNetworkTools, type NetworkTools } from './detect-tools.js';
export { outboundPoolArgv, startOutbound } from './start-outbound.js';
export { resolvConfFor, hostsFileFor, HOST_ALIASES, type HostsFileOptions } from './etc-files.js';
export { slirp4netnsArgs } from './slirp4netns.js';
export { pastaArgs } from './pasta.js';
export { GUEST_NET, INIT_PID_ARG, type OutboundLauncher, type OutboundNet, type StartOutboundOptions } from './types.js';
