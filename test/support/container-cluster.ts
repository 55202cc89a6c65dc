import { createRequire } from 'node:module'
import type * as Testcontainers from 'testcontainers'
import type { StartedNetwork, StartedTestContainer } from 'testcontainers'

/** A PostgreSQL primary plus physical streaming replicas in Docker containers, started by {@link startContainerCluster}. */
export interface ContainerCluster {
  /** `postgresql://postgres@<host>:<mapped port>/app` */
  primaryUrl: string
  /** One URL per replica (`replica-1`, `replica-2`, …), same form as {@link ContainerCluster.primaryUrl}. */
  replicaUrls: string[]
  /** Stops the replicas, the primary and the network. Idempotent. */
  stop(): Promise<void>
}

const PRIMARY_ALIAS = 'pg-primary'
const DATABASE = 'app'
const RUNTIME_CHECK_TIMEOUT_MS = 10_000
const STARTUP_TIMEOUT_MS = 120_000

/** Same server settings as the local cluster (src/testing/local-cluster.ts); replicas need them too (max_connections, preload). */
const SERVER_FLAGS = [
  'fsync=off',
  'full_page_writes=off',
  'synchronous_commit=on',
  'wal_level=replica',
  'max_wal_senders=16',
  'max_replication_slots=16',
  'hot_standby=on',
  'hot_standby_feedback=on',
  'wal_receiver_status_interval=1s',
  'max_connections=200',
  'shared_buffers=32MB',
  'shared_preload_libraries=pg_stat_statements',
].flatMap((setting) => ['-c', setting])

/** Sourced by the image's entrypoint on first start, after it wrote pg_hba.conf: lets the network replicate. */
const HBA_INIT_SCRIPT = `echo 'host replication all all trust' >> "$PGDATA/pg_hba.conf"\n`
/** Run by the entrypoint against POSTGRES_DB. */
const EXTENSION_INIT_SQL = 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements;\n'

/** Replica entrypoint: base backup from the primary (as the postgres user) on first start, then the image's usual start-up. */
function replicaScript(name: string): string {
  const conninfo = `host=${PRIMARY_ALIAS} port=5432 user=postgres application_name=${name}`
  return [
    'set -e',
    'if [ ! -s "$PGDATA/PG_VERSION" ]; then',
    '  mkdir -p "$PGDATA"',
    '  chown postgres:postgres "$PGDATA"',
    '  chmod 0700 "$PGDATA"',
    `  gosu postgres pg_basebackup -h ${PRIMARY_ALIAS} -U postgres -D "$PGDATA" -R -X stream -c fast`,
    `  echo "primary_conninfo = '${conninfo}'" >> "$PGDATA/postgresql.auto.conf"`,
    'fi',
    `exec docker-entrypoint.sh postgres ${SERVER_FLAGS.join(' ')}`,
  ].join('\n')
}

/** A short, credential-free reason out of an unknown error. */
function shortReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  const firstLine = message.split('\n')[0] ?? ''
  const redacted = firstLine.replace(/[a-z][a-z0-9+.-]*:\/\/\S*/gi, '<url>')
  return redacted.length > 200 ? `${redacted.slice(0, 200)}…` : redacted
}

const ALTERNATIVES = 'Unset TEST_TOPOLOGY to use the local PostgreSQL binaries, or set PRIMARY_URL and REPLICA_URLS to use an existing topology.'

/** `; testcontainers@<version> requires Node <range>`, from its package.json, or '' when unknown. */
function engineHint(): string {
  try {
    const pkg: unknown = createRequire(import.meta.url)('testcontainers/package.json')
    if (typeof pkg !== 'object' || pkg === null || !('version' in pkg) || !('engines' in pkg)) return ''
    const { version, engines } = pkg
    const node = typeof engines === 'object' && engines !== null && 'node' in engines ? engines.node : undefined
    return typeof version === 'string' && typeof node === 'string' ? `; testcontainers@${version} requires Node ${node}` : ''
  } catch {
    return ''
  }
}

/** Imports testcontainers lazily; a load failure (e.g. too old a Node for its undici) becomes a readable error. */
async function loadTestcontainers(): Promise<typeof Testcontainers> {
  try {
    return await import('testcontainers')
  } catch (error) {
    // No `cause`: the message already carries the redacted reason; the raw error could carry URLs.
    // eslint-disable-next-line preserve-caught-error
    throw new Error(`TEST_TOPOLOGY=containers could not load testcontainers on Node ${process.version} (${shortReason(error)}${engineHint()}). ${ALTERNATIVES}`)
  }
}

/** Throws a readable error, before anything starts, when testcontainers cannot reach a container runtime. */
async function assertContainerRuntime(getClient: () => Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`no answer within ${String(RUNTIME_CHECK_TIMEOUT_MS / 1000)} s`))
    }, RUNTIME_CHECK_TIMEOUT_MS)
  })
  try {
    await Promise.race([getClient(), timeout])
  } catch (error) {
    // eslint-disable-next-line preserve-caught-error -- see loadTestcontainers
    throw new Error(`TEST_TOPOLOGY=containers needs a reachable Docker engine (testcontainers could not find one: ${shortReason(error)}). ` + ALTERNATIVES)
  } finally {
    clearTimeout(timer)
  }
}

const urlOf = (container: StartedTestContainer) => `postgresql://postgres@${container.getHost()}:${String(container.getMappedPort(5432))}/${DATABASE}`

/**
 * Starts, with testcontainers, the topology of the local cluster: a primary and `replicas` physical streaming replicas
 * (official `postgres` image, trust auth, user `postgres`, database `app` with pg_stat_statements) on a user-defined network.
 * Resolves once every replica accepts read-only connections and streams from the primary.
 * Throws at once, starting nothing, when no Docker engine is reachable. testcontainers is imported only when called.
 */
export async function startContainerCluster(options: { replicas?: number; image?: string } = {}): Promise<ContainerCluster> {
  const replicaCount = options.replicas ?? 2
  if (!Number.isInteger(replicaCount) || replicaCount < 0) {
    throw new TypeError(`Expected \`replicas\` to be an integer >= 0, got \`${String(replicaCount)}\``)
  }
  const image = options.image ?? 'postgres:15'
  const { GenericContainer, Network, Wait, getContainerRuntimeClient } = await loadTestcontainers()
  await assertContainerRuntime(getContainerRuntimeClient)

  let network: StartedNetwork | undefined
  const started: StartedTestContainer[] = []
  let stopped: Promise<void> | undefined
  const stop = () =>
    (stopped ??= (async () => {
      // The replicas, then the primary (started[0]), then the network.
      const [primary, ...replicas] = started
      await Promise.all(replicas.map((c) => c.stop().catch(() => undefined)))
      await primary?.stop().catch(() => undefined)
      await network?.stop().catch(() => undefined)
    })())

  try {
    const net = await new Network().start()
    network = net
    const primary = await new GenericContainer(image)
      .withNetwork(net)
      .withNetworkAliases(PRIMARY_ALIAS)
      .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust', POSTGRES_DB: DATABASE })
      .withCopyContentToContainer([
        { content: HBA_INIT_SCRIPT, target: '/docker-entrypoint-initdb.d/10-replication-hba.sh', mode: 0o644 },
        { content: EXTENSION_INIT_SQL, target: '/docker-entrypoint-initdb.d/20-pg-stat-statements.sql', mode: 0o644 },
      ])
      .withCommand(['postgres', ...SERVER_FLAGS])
      .withExposedPorts(5432)
      // Printed once by the init-time server (socket only), once by the real one.
      .withWaitStrategy(Wait.forAll([Wait.forLogMessage(/database system is ready to accept connections/, 2), Wait.forListeningPorts()]))
      .withStartupTimeout(STARTUP_TIMEOUT_MS)
      .start()
    started.push(primary)

    const results = await Promise.allSettled(
      Array.from({ length: replicaCount }, (_, i) =>
        new GenericContainer(image)
          .withNetwork(net)
          .withEntrypoint(['sh', '-c', replicaScript(`replica-${String(i + 1)}`)])
          .withExposedPorts(5432)
          .withWaitStrategy(Wait.forAll([Wait.forLogMessage(/database system is ready to accept read-only connections/), Wait.forListeningPorts()]))
          .withStartupTimeout(STARTUP_TIMEOUT_MS)
          .start(),
      ),
    )
    const replicas: StartedTestContainer[] = []
    for (const result of results) if (result.status === 'fulfilled') replicas.push(result.value)
    started.push(...replicas)
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed) {
      const reason: unknown = failed.reason
      throw reason
    }

    // A condition, not a sleep: every replica has its WAL receiver streaming from the primary.
    const deadline = Date.now() + 30_000
    for (;;) {
      const { output, exitCode } = await primary.exec(['psql', '-U', 'postgres', '-Atc', "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"])
      if (exitCode === 0 && Number(output.trim()) >= replicaCount) break
      if (Date.now() > deadline) throw new Error(`replicas are not all streaming from the primary in time (psql: ${output.trim()})`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }

    return { primaryUrl: urlOf(primary), replicaUrls: replicas.map(urlOf), stop }
  } catch (error) {
    await stop()
    throw error
  }
}
