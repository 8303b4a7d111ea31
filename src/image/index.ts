/** The image layer: references, registry pulls, the content store and layer unpacking. */
export { pull } from './pull.js';
export type { Image, ImageConfig, ImageLayer, PullOptions, PullPolicy, PullProgress } from './pull.js';
export { parseReference, familiarString } from './reference.js';
export type { ImageReference } from './reference.js';
export { hostPlatform, parsePlatform, platformString } from './platform.js';
export type { Platform } from './platform.js';
export { ImageStore, defaultStoreRoot } from './store.js';
export { localApplyOwnership, parseOwnershipList } from './unpack.js';
export type { ApplyOwnership, OwnershipRecord } from './unpack.js';
export { RegistryClient } from './registry-client.js';
export type { RegistryClientOptions } from './registry-client.js';
export { createCredentialResolver } from './credentials.js';
export type { CredentialResolver, RegistryCredentials } from './credentials.js';
