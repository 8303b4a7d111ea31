export { detectNetworkTools } from './detect-tools.js';
export { startOutbound } from './start-outbound.js';
export { resolvConfFor, hostsFileFor, HOST_ALIASES } from './etc-files.js';
export { slirp4netnsArgs } from './slirp4netns.js';
export { pastaArgs } from './pasta.js';
export { GUEST_NET } from './types.js';
