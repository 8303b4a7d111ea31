/** testcontainers' `PullPolicy` and `ImagePullPolicy`. */

/** testcontainers' `ImagePullPolicy`: `shouldPull()` is asked once per `start()`; true pulls even a cached image. */
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
 * @example new GenericContainer('redis:7').withPullPolicy(PullPolicy.alwaysPull())
 */
export class PullPolicy {
  static defaultPolicy(): ImagePullPolicy { return new DefaultPullPolicy(); }
  static alwaysPull(): ImagePullPolicy { return new AlwaysPullPolicy(); }
}
