/** testcontainers' `PullPolicy` and `ImagePullPolicy`. */

/**
 * testcontainers' `ImagePullPolicy`: `shouldPull()` is asked once per `start()`; true pulls even a cached image.
 * @example
 * import { GenericContainer, type ImagePullPolicy } from 'slipway/testcontainers';
 * const pullInCi: ImagePullPolicy = { shouldPull: () => process.env.CI === 'true' };
 * new GenericContainer('redis:7').withPullPolicy(pullInCi);
 */
export interface ImagePullPolicy {
  shouldPull(): boolean;
}

class DefaultPullPolicy implements ImagePullPolicy {
  shouldPull(): boolean { return false; }
}

class AlwaysPullPolicy implements ImagePullPolicy {
  shouldPull(): boolean { return true; }
}

/**
 * testcontainers' `PullPolicy`: `defaultPolicy()` pulls only a missing image, `alwaysPull()` pulls on every start;
 * a custom policy is any `{ shouldPull(): boolean }`.
 * @example
 * import { GenericContainer, PullPolicy } from 'slipway/testcontainers';
 * new GenericContainer('redis:7').withPullPolicy(PullPolicy.alwaysPull());
 */
export class PullPolicy {
  static defaultPolicy(): ImagePullPolicy { return new DefaultPullPolicy(); }
  static alwaysPull(): ImagePullPolicy { return new AlwaysPullPolicy(); }
}
