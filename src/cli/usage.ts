/** Help texts for `slipway help [command]`. */

const MAIN = `slipway: throwaway OCI containers without a Docker daemon

Usage:
  slipway run [options] <image> [command...]   run a container, stream its output, exit with its code
  slipway compose [-f file...] [-p name] up [-d] | down [-v] | ps | logs [-f] | exec <service> <cmd...>
                                               run a Compose project (see \`slipway help compose\`)
  slipway ps [-a] [-q] [--json]                list the containers of your running slipway processes
  slipway logs [-f] [--tail N] [--since T] <container>
                                               print a container's output (-f: follow it)
  slipway exec [-i] [-t] <container> <cmd...>  run a command in a running container
  slipway rm [-f] <container...>               remove containers (-f: running ones too)
  slipway inspect <container...>               print containers' details as JSON
  slipway pull [options] <image>               pull an image into the store, print its digest
  slipway build [options] <context>            build an image from a Dockerfile, tag it in the store
  slipway save -o <dest> <image>               export a stored image (oci-layout:<dir>, docker-archive:<file>)
  slipway push [--insecure] <image> [<dest>]   push a stored image to a registry
  slipway images [--json]                      list the images in the store
  slipway rmi [--platform P] <image...>        remove images' names from the store (their layers go with prune)
  slipway info [--json]                        print the effective configuration and where each value comes from
  slipway prune [--all] [--dry-run]            remove store content no image needs (or everything)
  slipway snapshots [ls|rm <key>…|prune]       list or remove snapshots of initialised services (withSnapshot)
  slipway help [command]                       show help
  slipway --version                            print the version

Containers are named by name or by (a prefix of) their id. Every command exits 125 when slipway itself
fails, 2 for bad arguments; run and exec otherwise exit with the container's or command's status.

Configuration: slipway.config.json (the nearest from the working directory upward), then
~/.config/slipway/config.json; environment variables override both: SLIPWAY_CACHE_DIR (store),
SLIPWAY_STATE_DIR, SLIPWAY_REGISTRY_MIRROR, SLIPWAY_HUB_IMAGE_NAME_PREFIX (or testcontainers'
TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX / hub.image.name.prefix), SLIPWAY_INSECURE_REGISTRIES,
SLIPWAY_CREDENTIAL_HELPERS, SLIPWAY_PULL_POLICY, SLIPWAY_PULL_TIMEOUT (ms, whole pull), SLIPWAY_STARTUP_TIMEOUT,
SLIPWAY_RUNTIME; \`slipway info\` shows what is in effect. Also SLIPWAY_REGISTRY_CONNECT_TIMEOUT,
SLIPWAY_REGISTRY_HEADERS_TIMEOUT, SLIPWAY_REGISTRY_BODY_TIMEOUT (ms, per request), DEBUG=slipway:* (debug log).
`;

const RUN = `Usage: slipway run [options] <image> [command...]

Starts a container, streams its stdout/stderr, prints published ports to stderr and exits with the
container's exit code (128+n when signal n ended it). Ctrl-C stops the container (its stop signal,
then SIGKILL after --stop-timeout) and exits 130; a second Ctrl-C kills at once. The container never
outlives slipway: it is always removed when slipway exits (--rm is accepted for habit).
Options end at the image; everything after it is the command.

Options:
  -e, --env K=V            set an environment variable (-e K passes K from this environment); repeatable
  -p, --publish SPEC       publish [hostIp:][hostPort:]containerPort[/udp]; host port 0 or empty picks a free one;
                           default host address 127.0.0.1; repeatable
  -m, --memory SIZE        memory limit, e.g. 128m, 1g
      --cpus N             CPU quota, e.g. 0.5
  -u, --user USER          name, uid, uid:gid or name:group
  -w, --workdir DIR        working directory inside the container
      --network MODE       isolated (default: own network with outbound access), none or host
      --entrypoint PROG    replace the image's entrypoint (clears its command)
      --name NAME          container name
      --platform P         os/arch[/variant], default: this host's
      --pull POLICY        missing (default), always or never
      --stop-timeout SEC   grace period between the stop signal and SIGKILL (default 10)
      --stop-signal SIG    signal Ctrl-C sends first (default: the image's STOPSIGNAL, else SIGTERM)
      --rm                 remove the container on exit (always the case)
  -t, --tty                accepted, but slipway cannot give a container a terminal yet: it says so, output
                           streams through pipes
  -i, -d                   not available (no stdin for the main process; a container lives with its
                           \`slipway run\`): for a shell, \`slipway run --name box <image> sleep infinity &\` and
                           \`slipway exec -i box sh\`

Exit status: the container's; 125 when slipway could not run it; 2 for bad arguments; 130 after Ctrl-C
(143 after SIGTERM).
Example: slipway run --rm -p 8080 busybox httpd -f -p 8080
`;

const COMPOSE = `Usage: slipway compose [options] <command>

Runs a Compose project (compose.yaml and overrides, the Compose Specification) on slipway's runtime. One
\`slipway compose up\` process owns the project's containers, networks and volumes: in the foreground it prints
their output prefixed with <service>-<n> and Ctrl-C stops and removes everything; with -d a detached slipway
process (its own session, no output) owns it until \`compose down\`. The other commands find the project by name.

Options (before the command):
  -f, --file FILE          a compose file, repeatable, merged in order (default: compose.yaml, compose.yml,
                           docker-compose.yaml or docker-compose.yml in the project directory)
  -p, --project-name NAME  the project (default: COMPOSE_PROJECT_NAME, the file's name:, else the directory's name)
      --project-directory DIR   default: the first file's directory, else the working directory
      --profile P          activate a profile, repeatable (also COMPOSE_PROFILES)
      --env-file FILE      interpolation variables from FILE instead of .env

Commands:
  up [-d] [-t SEC] [--snapshots] [service...]   start the services (and what they depend on), each waited for
                           (healthchecks, depends_on conditions); -d: return once up; -t: stop timeout on Ctrl-C;
                           --snapshots: start each service from a snapshot of its initialised state (made by the
                           first such up; a service opts out with x-slipway: { snapshot: false })
  down [-v] [-t SEC]       stop and remove the project's containers and networks (-v: and its named volumes,
                           which otherwise stay in the store for the next up)
  ps [-a] [-q] [--json] [service...]   the project's containers (-a: exited ones too)
  logs [-f] [-n N] [service...]        their output, prefixed with <service>-<n>
  exec [-e K=V] [-u USER] [-w DIR] [--index N] <service> <command...>
                           run a command in a service's container (--index: which replica, default 1);
                           stdin is passed through when it is not a terminal
Exit status: up 0 (130 after Ctrl-C); exec the command's; 125 when slipway failed; 2 for bad arguments.
Example: slipway compose -f compose.yml -f compose.test.yml up -d && slipway compose exec db psql -U postgres
`;

const PS = `Usage: slipway ps [-a] [-q] [--json]

Lists the containers of your slipway processes that are running now (\`slipway run\`, test runs, scripts),
asked from each process: a container lives as long as the process that started it. Another user's
containers are never listed. Environment values are not shown (they may be secrets).

Options:
  -a, --all                also containers that have exited but are not removed yet
  -q, --quiet              only the ids
      --json               one JSON object per line (id, name, image, command, created, state, ports, owner)
`;

const LOGS = `Usage: slipway logs [options] <container>

Prints a container's output: its stdout on stdout, its stderr on stderr.

Options:
  -f, --follow             keep printing new output until the container exits
  -n, --tail N             only the last N lines (then new ones with -f); --tail all is the default
      --since T            only output since T: a time (2026-12-04T13:00:00Z), Unix seconds, or a duration
                           back from now (10m, 1h30m)
  -t, --timestamps         prefix each line with its time
Exit status: 0; 125 when the container is not found.
`;

const EXEC = `Usage: slipway exec [options] <container> <command...>

Runs a command in a running container (started by any of your slipway processes), with the container's
environment, user and working directory unless given. Options end at the container.

Options:
  -i, --interactive        stream this stdin into the command (otherwise it reads nothing)
  -t, --tty                asks for a terminal: slipway cannot give an exec one yet, so it says so and runs
                           the command with pipes (no prompt editing, job control or full-screen programs)
  -e, --env K=V            set an environment variable (-e K passes K from this environment); repeatable
  -u, --user USER          name, uid, uid:gid or name:group
  -w, --workdir DIR        working directory
Exit status: the command's (128+n when signal n ended it); 127 when it is not found, 126 when it cannot
be executed; 125 when slipway failed (no such container, not running).
Example: echo 'select 1' | slipway exec -i my-db psql -U postgres
`;

const RM = `Usage: slipway rm [-f] <container...>

Removes containers: stops them for good and deletes their state (upper layer, logs). A running container
is removed only with -f (killed first). The process that started it sees it exit (137 for \`slipway run\`).

Options:
  -f, --force              remove running containers too (SIGKILL)
Exit status: 0; 125 when any container could not be removed (each is reported).
`;

const INSPECT = `Usage: slipway inspect <container...>

Prints a JSON array with one object per container: id, name, image and digest, command, state and exit,
pid, hostname, user, working directory, environment variable names (not values), ports, networks, log
file, state dir and owning process.
Exit status: 0; 125 when any container is not found (the others are still printed).
`;

const PULL = `Usage: slipway pull [options] <image>

Pulls an image (registry, oci-layout:<dir>[:tag] or docker-archive:<file>) into the store, with a
progress bar on a terminal (plain lines otherwise, on stderr), and prints its digest on stdout.

Options:
      --platform P         os/arch[/variant], default: this host's
      --policy POLICY      always (default: ask the registry again) or missing (use the store when present)
      --timeout SECONDS    give up when the whole pull takes longer (default 600, or SLIPWAY_PULL_TIMEOUT in ms)
Example: slipway pull --platform linux/arm64 redis:7
`;

const BUILD = `Usage: slipway build [options] <context>

Builds an image from a Dockerfile without Docker: each RUN runs in a slipway container (Docker's default
capabilities and seccomp profile, its own network), each file change becomes a layer in the store, and
unchanged steps come from the cache. Shows progress on stderr (on a terminal a live view: finished steps with
their times, the running step with its last output line; elsewhere one line per step, its output indented, and
\`done in\` for the steps that ran) and prints the image reference on stdout;
\`slipway run <ref>\` and \`new Container(ref)\` then start it from the store.

Options:
  -t, --tag NAME[:TAG]     tag the image (default: localhost/slipway-build:<id>)
  -f, --file PATH          the Dockerfile, relative to the context (default: Dockerfile)
      --build-arg K=V      set a build argument (--build-arg K passes K from this environment); repeatable
      --secret SPEC        id=ID,src=FILE or id=ID,env=VAR: a secret for RUN --mount=type=secret,id=ID
                           (never stored in the image or the cache); repeatable
      --platform OS/ARCH   build for this platform (FROM images are pulled for it; RUN needs this machine's CPU)
      --target STAGE       build this stage (stages it does not need are skipped)
      --no-cache           run every step again (the results still refresh the cache)
  -o, --output DEST        also export the image: oci-layout:<dir>[:tag], docker-archive:<file.tar> or a file path
  -q, --quiet              print only the image reference
Example: slipway build -t app:test --build-arg NODE_ENV=test .
`;

const SAVE = `Usage: slipway save -o DEST [--platform P] <image>

Exports an image from the store (built, committed or pulled) with its layers gzip-compressed. DEST is
oci-layout:<dir>[:tag] (an OCI image layout; other images in it stay, one with the same tag is replaced),
docker-archive:<file.tar>, or a bare file path (a docker archive, as \`docker save -o\` writes: \`docker load -i\`
reads it). Both read back with \`slipway pull\` / \`slipway run\` and the same prefix.
Example: slipway save -o app.tar app:test
`;

const PUSH = `Usage: slipway push [--insecure] [--platform P] <image> [<dest>]

Pushes an image from the store to a registry, as <dest> when given (registry/repository:tag), else under its
own name. Layers and the config the repository already has are skipped, ones from another repository of the
same registry are mounted, the rest uploaded; then the manifest. Credentials come from the Docker config,
containers' auth.json and credential helpers, as for pulls. Plain HTTP is used only for loopback registries,
SLIPWAY_INSECURE_REGISTRIES (insecureRegistries in slipway.config.json), or with --insecure.
Prints <dest>@<digest> on stdout.
Example: slipway build -t localhost:5000/team/app:1 . && slipway push localhost:5000/team/app:1
`;

const IMAGES = `Usage: slipway images [--json]

Lists the image references in the store (the storeDir setting, ${'$'}SLIPWAY_CACHE_DIR, else ~/.cache/slipway):
the reference the store keeps it under (after the Hub prefix: \`run --pull never <reference>\` finds it), platform,
digest, compressed size, and the reference actually pulled when a mirror served it. --json prints one JSON
object per line.
`;

const RMI = `Usage: slipway rmi [--platform OS/ARCH] <image...>

Removes the images' references from the store (every platform, or only --platform's), as \`docker rmi\` untags:
\`run --pull never\` no longer finds them, and \`slipway prune\` then removes their layers and blobs unless another
reference needs them. Works for pulled, built, committed and loaded (\`pull docker-archive:…\`) images alike.
Example: slipway pull docker-archive:app.tar && slipway images && slipway rmi app:test && slipway prune
`;

const INFO = `Usage: slipway info [--json]

Prints the effective configuration: every setting, its value and where it came from (default, a config
file, or an environment variable), and the config files looked at. Files, lowest precedence first:
~/.testcontainers.properties (hub.image.name.prefix), ~/.config/slipway/config.json (XDG_CONFIG_HOME honoured),
slipway.config.json (the nearest from the working directory upward, or the file SLIPWAY_CONFIG names);
environment variables override them. --json prints one JSON object.
Example slipway.config.json: {"registryMirrors": ["mirror.gcr.io"], "pullPolicy": "missing", "startupTimeout": 120000}
`;

const PRUNE = `Usage: slipway prune [--all] [--dry-run]

Removes unpacked layers and blobs that no image reference in the store needs, and temp files of dead
processes; the layers of complete snapshots (\`slipway snapshots\`) are kept. --all removes every image,
snapshot, layer and blob. --dry-run only lists what would go.
Do not prune --all while containers run: their layers would vanish under them.
`;

const SNAPSHOTS = `Usage: slipway snapshots [ls [--json] | rm <key>… | prune [--all]]

Snapshots of initialised services (Container.withSnapshot(), the PostgreSQL module's default, Redis with
initial data): ls lists key, image, size and age; rm removes the named ones (a key or its first 12 hex
digits); prune removes incomplete ones and, with --all, every one. Their layers go with the next
\`slipway prune\` (which keeps the layers of the snapshots that remain). A removed snapshot is made again
by the next start that needs it.
`;

const TOPICS: Record<string, string> = { snapshots: SNAPSHOTS,  run: RUN, compose: COMPOSE, ps: PS, logs: LOGS, exec: EXEC, rm: RM, inspect: INSPECT, pull: PULL, build: BUILD, save: SAVE, push: PUSH, images: IMAGES, rmi: RMI, info: INFO, prune: PRUNE, help: MAIN, version: MAIN };

/** The help text for `topic` (a command), or the overview. */
export function usage(topic?: string): string {
  return (topic && TOPICS[topic]) || MAIN;
}
