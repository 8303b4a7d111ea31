// Types for scripts/registry.mjs (plain JS so it runs before `npm ci`, during the fixture build).

/** Credentials accepted by the auth registry (HTTP basic, htpasswd). */
export declare const AUTH_CREDENTIALS: Readonly<{ username: string; password: string }>;

/** One entry of fixtures.json `images`. */
export interface FixtureImage {
  /** OCI layout dir, relative to the fixtures dir. */
  layout: string;
  tags: string[];
  /** Recipe hash the image was built from. */
  recipe: string;
}

/** The contents of `<fixtures dir>/fixtures.json`. */
export interface FixtureCatalogue {
  version: 1;
  images: Record<string, FixtureImage>;
  archives: Record<string, string>;
}

/** A running docker-registry. */
export interface RunningRegistry {
  /** `127.0.0.1:<port>` */
  address: string;
  port: number;
  stop(): Promise<void>;
}

/** The open and the basic-auth registry over one private storage copy. */
export interface TestRegistries {
  address: string;
  authAddress: string;
  credentials: { username: string; password: string };
  storageDir: string;
  /** Whether the storage came from the seed (otherwise the fixtures were pushed now). */
  seeded: boolean;
  stop(): Promise<void>;
}

export declare function fixturesDir(): string;
export declare function readCatalogue(dir?: string): FixtureCatalogue;
export declare function pushList(catalogue: FixtureCatalogue, dir?: string): Array<{ source: string; repo: string; tag: string; all: boolean }>;
export declare function seededStorage(dir?: string): string | undefined;
export declare function startRegistry(options: { storageDir: string; auth?: boolean; workDir?: string }): Promise<RunningRegistry>;
export declare function pushFixtures(address: string, dir?: string): Promise<void>;
export declare function seed(dir?: string): Promise<{ storage: string; pushed: boolean }>;
export declare function startTestRegistries(options?: { dir?: string }): Promise<TestRegistries>;
