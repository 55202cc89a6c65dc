import { spawn, execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { appendFile, chown, mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type pg from 'pg'
import { describeValue } from '../describe-value.js'
import { formatLsn, parseLsn, PRIMARY_LSN_SQL } from '../dialects/postgresql.js'
import { type MariadbCluster, type StartMariadbClusterOptions, startMariadbCluster } from './mariadb-cluster.js'

const execFileAsync = promisify(execFile)

/** One server of a {@link LocalCluster}. Serializable, so a test worker can re-attach to it. */
export interface LocalServerInfo {
  /** `primary`, or the replica's name (`replica-1`, `replica-2`, …). */
  readonly name: string
  /** Its TCP port on 127.0.0.1. */
  readonly port: number
  /** `postgresql://postgres@127.0.0.1:<port>/<database>` */
  readonly url: string
  /** Its data directory. */
  readonly dataDir: string
}

/** Everything needed to re-attach to a running local cluster from another process (e.g. a vitest worker). */
export interface LocalClusterInfo {
  /** The directory of every server's data (removed by `stop()`). */
  readonly baseDir: string
  /** The directory of the PostgreSQL server binaries used. */
  readonly pgBin: string
  /** True when server commands must run as the `postgres` OS user (the current user is root). */
  readonly runAsPostgres: boolean
  /** The database the URLs name. */
  readonly database: string
  /** The primary. */
  readonly primary: LocalServerInfo
  /** The replicas, in order (`replica-1`, …). */
  readonly replicas: readonly LocalServerInfo[]
  /** PID of the watchdog that stops the servers if the owning process dies. */
  readonly watchdogPid: number | undefined
}

/** Options of {@link startLocalCluster}. */
export interface StartLocalClusterOptions {
  /**
   * Number of physical streaming replicas.
   * @default 2
   */
  readonly replicas?: number | undefined
  /**
   * Database created on the primary (and replicated).
   * @default 'app'
   */
  readonly database?: string | undefined
  /**
   * Folder of the PostgreSQL binaries (initdb, pg_ctl, pg_basebackup).
   * @default `$PG_BIN`, else the newest /usr/lib/postgresql/<version>/bin
   */
  readonly pgBin?: string | undefined
  /**
   * Parent folder of the data directories.
   * @default '/dev/shm' when present, else the OS temp dir
   */
  readonly baseDir?: string | undefined
  /**
   * Start a watchdog process that stops the servers and removes the data if this process dies.
   * @default true
   */
  readonly watchdog?: boolean | undefined
}

/** What {@link LocalCluster.exhaustConnections} holds. */
export interface ExhaustedConnections {
  /** How many connections it opened (every slot the server had free). */
  readonly opened: number
  /** Closes them: the server accepts new connections again. */
  readonly release: () => Promise<void>
}

/** How a replica resolves conflicts between replay and its queries ({@link LocalCluster.setRecoveryConflicts}). */
export interface RecoveryConflictSettings {
  /**
   * `hot_standby_feedback`: the replica tells the primary which rows its queries may still see, so that the
   * primary's vacuum keeps them (no conflict, at the cost of bloat on the primary).
   * @default left as it is (the kit starts replicas with it on)
   */
  readonly hotStandbyFeedback?: boolean | undefined
  /**
   * `max_standby_streaming_delay`, in ms: how long replay waits for a conflicting query before cancelling it
   * (`0`: at once; `-1`: for ever).
   * @default left as it is (the kit starts replicas with PostgreSQL's default, 30000)
   */
  readonly maxStandbyStreamingDelayMs?: number | undefined
}

/** Thrown when the PostgreSQL server binaries cannot be found. */
export class PostgresBinariesNotFoundError extends Error {
  /** `PostgresBinariesNotFoundError`: what the cross-realm type guard checks. */
  override name = 'PostgresBinariesNotFoundError'
}

const POLL_MS = 2

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port)
        else reject(new Error('could not allocate a free port'))
      })
    })
  })
}

/**
 * The folder of the PostgreSQL server binaries the test kit runs: `explicit`, else `$PG_BIN`, else the newest
 * /usr/lib/postgresql/<version>/bin that has them. Throws {@link PostgresBinariesNotFoundError}, naming where it looked.
 */
export function findPgBin(explicit?: string): string {
  // An explicit folder (option, then PG_BIN) is the only one tried: a typo must not silently pick another version.
  const chosen = explicit ?? process.env.PG_BIN
  const candidates = chosen ? [chosen] : ['18', '17', '16', '15', '14'].map((v) => `/usr/lib/postgresql/${v}/bin`)
  for (const dir of candidates) {
    if (existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl')) && existsSync(join(dir, 'pg_basebackup'))) {
      return dir
    }
  }
  throw new PostgresBinariesNotFoundError(
    `PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) not found in: ${candidates.join(', ')}. ` +
      'Install them (Debian/Ubuntu: `apt-get install -y --no-install-recommends postgresql-15`) or set PG_BIN.',
  )
}

async function postgresIds(): Promise<{ uid: number; gid: number }> {
  const [{ stdout: uid }, { stdout: gid }] = await Promise.all([execFileAsync('id', ['-u', 'postgres']), execFileAsync('id', ['-g', 'postgres'])])
  return { uid: Number(uid.trim()), gid: Number(gid.trim()) }
}

/** Runs one server command, as the postgres OS user when we are root. Output goes into the error on failure. */
async function runPg(info: Pick<LocalClusterInfo, 'pgBin' | 'runAsPostgres'>, tool: string, args: string[]) {
  const bin = join(info.pgBin, tool)
  const [file, argv] = info.runAsPostgres ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args]
  try {
    return await execFileAsync(file, argv, { maxBuffer: 16 * 1024 * 1024 })
  } catch (error) {
    const e = error as { stderr?: string; stdout?: string; message: string }
    throw new Error(`${tool} ${args[0] ?? ''} failed: ${e.stderr ?? ''}${e.stdout ?? ''}`.trim(), { cause: error })
  }
}

const serverConf = (port: number, socketDir: string) => `
# prisma-replica-router local test cluster
listen_addresses = '127.0.0.1'
port = ${String(port)}
unix_socket_directories = '${socketDir}'
fsync = off
full_page_writes = off
synchronous_commit = on
wal_level = replica
max_wal_senders = 16
max_replication_slots = 16
wal_keep_size = 256MB
hot_standby = on
hot_standby_feedback = on
wal_receiver_status_interval = 1s
max_connections = 200
shared_buffers = 32MB
shared_preload_libraries = 'pg_stat_statements'
logging_collector = off
log_min_messages = warning
# The SQLSTATE in every log line lets tests prove e.g. that no write ever reached a replica (25006).
log_line_prefix = '%m [%p] sqlstate=%e '
`

const slotName = (replica: string) => replica.replaceAll('-', '_')

/** Makes `replica` from a base backup of `primary` through its slot, and starts it. */
async function baseBackup(info: Pick<LocalClusterInfo, 'pgBin' | 'runAsPostgres'>, primary: LocalServerInfo, replica: LocalServerInfo & { readonly name: string }): Promise<void> {
  await runPg(info, 'pg_basebackup', [
    '-h',
    '127.0.0.1',
    '-p',
    String(primary.port),
    '-U',
    'postgres',
    '-D',
    replica.dataDir,
    '-R',
    '-X',
    'stream',
    '-c',
    'fast',
    '--no-sync',
    '-S',
    slotName(replica.name),
  ])
  // Written last, so these settings win over the primary's copied postgresql.conf and -R's conninfo.
  await appendFile(
    join(replica.dataDir, 'postgresql.auto.conf'),
    `port = ${String(replica.port)}\nprimary_conninfo = 'host=127.0.0.1 port=${String(primary.port)} user=postgres application_name=${replica.name}'\n`,
  )
  await runPg(info, 'pg_ctl', ['start', '-D', replica.dataDir, '-l', `${replica.dataDir}.log`, '-w', '-t', '60'])
}

function serverUrl(port: number, database: string): string {
  return `postgresql://postgres@127.0.0.1:${String(port)}/${database}`
}

/**
 * A node-postgres client, the driver loaded on first use: a MariaDB-only project imports this kit without `pg`
 * installed (`startLocalCluster({ engine: 'mariadb' })` never loads it).
 */
async function pgClient(url: string): Promise<pg.Client> {
  const { default: driver } = await import('pg')
  return new driver.Client({ connectionString: url, connectionTimeoutMillis: 5000 })
}

async function withPg<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await pgClient(url)
  client.on('error', () => {
    /* a server killed under us: the query that follows reports it */
  })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end().catch(() => undefined)
  }
}

/**
 * Waits until every replica has replayed the primary's WAL up to the primary's position at the time of the call
 * (`pg_last_wal_replay_lsn() >= pg_current_wal_insert_lsn()`). Works on any streaming-replication topology.
 */
export async function waitForReplay(primaryUrl: string, replicas: readonly { name: string; url: string }[], timeoutMs = 15_000): Promise<void> {
  const target = await withPg(primaryUrl, async (c) => {
    const { rows } = await c.query<{ lsn: string; header: number }>(PRIMARY_LSN_SQL)
    const row = rows[0]
    return row ? formatLsn(parseLsn(row.lsn) - BigInt(row.header)) : '0/0'
  })
  const deadline = Date.now() + timeoutMs
  await Promise.all(
    replicas.map(({ name, url }) =>
      withPg(url, async (c) => {
        for (;;) {
          const { rows } = await c.query<{ ok: boolean; at: string | null }>('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok, pg_last_wal_replay_lsn()::text AS at', [target])
          if (rows[0]?.ok) return
          if (Date.now() > deadline) {
            throw new Error(`${name} did not replay up to ${target} within ${String(timeoutMs)} ms (at ${rows[0]?.at ?? 'unknown'})`)
          }
          await sleep(POLL_MS)
        }
      }),
    ),
  )
}

/**
 * A PostgreSQL primary plus physical streaming replicas on 127.0.0.1, owned by this process.
 * Create with {@link startLocalCluster}; re-attach from another process with {@link LocalCluster.attach}.
 */
export class LocalCluster {
  /** What `LocalCluster.attach(info)` needs, in another process. */
  readonly info: LocalClusterInfo

  private constructor(info: LocalClusterInfo) {
    this.info = info
  }

  /** Re-attaches to a cluster started by another process of the same machine (e.g. vitest's globalSetup). */
  static attach(info: LocalClusterInfo): LocalCluster {
    return new LocalCluster(info)
  }

  /** @internal */
  static create(info: LocalClusterInfo): LocalCluster {
    return new LocalCluster(info)
  }

  /** The primary's URL. */
  get primaryUrl(): string {
    return this.info.primary.url
  }

  /** The replicas' URLs, in order. */
  get replicaUrls(): string[] {
    return this.info.replicas.map((r) => r.url)
  }

  /** The replica named `name`; throws for an unknown name. */
  replica(name: string): LocalServerInfo {
    const found = this.info.replicas.find((r) => r.name === name)
    if (!found) {
      throw new Error(`No replica named \`${name}\`; known: ${this.info.replicas.map((r) => r.name).join(', ')}`)
    }
    return found
  }

  /** Runs one SQL statement on a server (`primary` or a replica name) and returns its rows. */
  async query<R extends Record<string, unknown> = Record<string, unknown>>(server: string, sql: string, params: unknown[] = []): Promise<R[]> {
    const url = server === 'primary' ? this.primaryUrl : this.replica(server).url
    return await withPg(url, async (c) => (await c.query<R>(sql, params)).rows)
  }

  /** The primary's current WAL position (`pg_current_wal_insert_lsn()`, the end of the last record inserted). */
  async primaryLsn(): Promise<string> {
    const [row] = await this.query<{ lsn: string; header: number }>('primary', PRIMARY_LSN_SQL)
    if (!row) throw new Error('pg_current_wal_insert_lsn() returned no row')
    return formatLsn(parseLsn(row.lsn) - BigInt(row.header))
  }

  /**
   * Waits until the given replicas (default: all) have replayed everything the primary has written so far,
   * comparing `pg_last_wal_replay_lsn()` with the primary's `pg_current_wal_insert_lsn()`. A condition, not a sleep.
   */
  async waitForReplication(options: { replicas?: readonly string[]; timeoutMs?: number } = {}): Promise<void> {
    const names = options.replicas ?? this.info.replicas.map((r) => r.name)
    await waitForReplay(
      this.primaryUrl,
      names.map((name) => ({ name, url: this.replica(name).url })),
      options.timeoutMs,
    )
  }

  /** Sets `recovery_min_apply_delay` on a replica (0 removes it) and reloads its configuration. */
  async setReplicaLag(name: string, ms: number): Promise<void> {
    if (!Number.isInteger(ms) || ms < 0) throw new TypeError(`Expected \`ms\` to be an integer >= 0, got \`${String(ms)}\``)
    await withPg(this.replica(name).url, async (c) => {
      await c.query(ms === 0 ? 'ALTER SYSTEM RESET recovery_min_apply_delay' : `ALTER SYSTEM SET recovery_min_apply_delay = '${String(ms)}ms'`)
      await c.query('SELECT pg_reload_conf()')
    })
  }

  /**
   * Sets how a replica resolves a conflict between replay and its queries, reloads its configuration, and waits
   * until the primary sees the change (its slot's `xmin` held or released). The kit starts replicas with
   * `hot_standby_feedback = on`, which spares their queries; `{ hotStandbyFeedback: false,
   * maxStandbyStreamingDelayMs: 0 }` makes a replica cancel a query (SQLSTATE 40001, "conflict with recovery")
   * the moment replay must remove rows its snapshot may still see, as many managed replicas do after their delay.
   * Settings left out stay as they are; `{ hotStandbyFeedback: true, maxStandbyStreamingDelayMs: 30_000 }`
   * restores the kit's start.
   */
  async setRecoveryConflicts(name: string, settings: RecoveryConflictSettings): Promise<void> {
    const { hotStandbyFeedback, maxStandbyStreamingDelayMs: delay } = settings
    if (hotStandbyFeedback !== undefined && typeof hotStandbyFeedback !== 'boolean')
      throw new TypeError(`Expected \`hotStandbyFeedback\` to be a boolean, got ${describeValue(hotStandbyFeedback)}`)
    if (delay !== undefined && (!Number.isInteger(delay) || delay < -1))
      throw new TypeError(`Expected \`maxStandbyStreamingDelayMs\` to be an integer >= -1, got ${describeValue(delay)}`)
    const deadline = Date.now() + 15_000
    const waited = (what: string) => {
      if (Date.now() > deadline) throw new Error(`${what} within 15 s`)
    }
    await withPg(this.replica(name).url, async (c) => {
      if (hotStandbyFeedback !== undefined) await c.query(`ALTER SYSTEM SET hot_standby_feedback = ${hotStandbyFeedback ? 'on' : 'off'}`)
      if (delay !== undefined) await c.query(`ALTER SYSTEM SET max_standby_streaming_delay = '${String(delay)}ms'`)
      await c.query('SELECT pg_reload_conf()')
      for (;;) {
        const { rows } = await c.query<{ feedback: string; delay: string }>(
          "SELECT current_setting('hot_standby_feedback') AS feedback, (SELECT setting FROM pg_settings WHERE name = 'max_standby_streaming_delay') AS delay",
        )
        const row = rows[0]
        if (row && (hotStandbyFeedback === undefined || row.feedback === (hotStandbyFeedback ? 'on' : 'off')) && (delay === undefined || row.delay === String(delay))) break
        waited(`${name} did not load its new settings`)
        await sleep(POLL_MS)
      }
    })
    if (hotStandbyFeedback === undefined) return
    // The replica's WAL receiver tells the primary at once (off: it releases the slot's xmin; on: it holds one).
    await withPg(this.primaryUrl, async (c) => {
      for (;;) {
        const { rows } = await c.query<{ held: boolean }>('SELECT xmin IS NOT NULL AS held FROM pg_replication_slots WHERE slot_name = $1', [slotName(name)])
        if (rows[0]?.held === hotStandbyFeedback) return
        waited(`the primary did not see ${name}'s hot_standby_feedback turn ${hotStandbyFeedback ? 'on' : 'off'}`)
        await sleep(POLL_MS)
      }
    })
  }

  /** Pauses WAL replay on a replica and waits until it is paused. */
  async pauseReplay(name: string): Promise<void> {
    await withPg(this.replica(name).url, async (c) => {
      await c.query('SELECT pg_wal_replay_pause()')
      for (;;) {
        const { rows } = await c.query<{ state: string }>('SELECT pg_get_wal_replay_pause_state() AS state')
        if (rows[0]?.state === 'paused') return
        await sleep(POLL_MS)
      }
    })
  }

  /** Resumes WAL replay on a replica. */
  async resumeReplay(name: string): Promise<void> {
    await withPg(this.replica(name).url, async (c) => {
      await c.query('SELECT pg_wal_replay_resume()')
    })
  }

  /** The server's log so far (`primary` or a replica name). */
  async serverLog(server: string): Promise<string> {
    const { dataDir } = server === 'primary' ? this.info.primary : this.replica(server)
    return await readFile(`${dataDir}.log`, 'utf8')
  }

  /** Stops a replica at once (`pg_ctl -m immediate stop`), like a crash. */
  async stopReplica(name: string): Promise<void> {
    await runPg(this.info, 'pg_ctl', ['stop', '-D', this.replica(name).dataDir, '-m', 'immediate', '-w'])
  }

  /** Starts a stopped replica and waits until it accepts connections. */
  async startReplica(name: string): Promise<void> {
    const { dataDir } = this.replica(name)
    await runPg(this.info, 'pg_ctl', ['start', '-D', dataDir, '-l', `${dataDir}.log`, '-w', '-t', '60'])
  }

  /**
   * Crashes a replica the way the OOM killer does: one backend dies by SIGKILL, so the postmaster ends every
   * session and reinitialises (crash recovery), keeping its start time. Waits until it accepts connections
   * again. A standby may then open below the position it had replayed before.
   */
  async crashReplica(name: string): Promise<void> {
    const { url } = this.replica(name)
    const client = await pgClient(url)
    client.on('error', () => {
      /* the crash ends this session too */
    })
    await client.connect()
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
    const pid = rows[0]?.pid
    if (pid === undefined) throw new Error(`${name}: pg_backend_pid() returned no row`)
    process.kill(pid, 'SIGKILL')
    await client.end().catch(() => undefined)
    const deadline = Date.now() + 30_000
    for (;;) {
      const up = await withPg(url, async (c) => (await c.query('SELECT 1')).rowCount === 1).catch(() => false)
      if (up) return
      if (Date.now() > deadline) throw new Error(`${name} did not accept connections within 30 s of the crash`)
      await sleep(POLL_MS * 10)
    }
  }

  /** True while the replica's server runs (its postmaster.pid exists). */
  isRunning(name: string): boolean {
    return existsSync(join(this.replica(name).dataDir, 'postmaster.pid'))
  }

  /** PIDs of a running replica's server: the postmaster first, then its children. */
  private async serverPids(name: string): Promise<number[]> {
    const pidFile = await readFile(join(this.replica(name).dataDir, 'postmaster.pid'), 'utf8')
    const postmaster = Number(pidFile.split('\n')[0])
    const children = await execFileAsync('pgrep', ['-P', String(postmaster)]).then(
      ({ stdout }) => stdout.split('\n').filter(Boolean).map(Number),
      () => [],
    )
    return [postmaster, ...children]
  }

  /**
   * Promotes a replica to a primary of its own (`pg_ctl promote`), as a failover does: it leaves replication on a
   * new timeline and accepts writes; the primary and the other replicas go on as they were. Waits until it is out
   * of recovery. {@link rebuildReplica} makes it a replica of the primary again.
   */
  async promoteReplica(name: string): Promise<void> {
    const { dataDir, url } = this.replica(name)
    await runPg(this.info, 'pg_ctl', ['promote', '-D', dataDir, '-w', '-t', '60'])
    const deadline = Date.now() + 30_000
    for (;;) {
      const inRecovery = await withPg(url, async (c) => (await c.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]?.r)
      if (inRecovery === false) return
      if (Date.now() > deadline) throw new Error(`${name} was still in recovery 30 s after pg_ctl promote`)
      await sleep(POLL_MS)
    }
  }

  /**
   * Points a replica at another server as its upstream (after a failover: the promoted one, named as a replica
   * of this cluster), through a replication slot created there, and waits until it streams from it. PostgreSQL
   * follows the new timeline if the replica has not replayed past the point where it forked; if it has, it
   * stops replaying (as a real replica that cannot follow does) and this times out.
   */
  async followReplica(name: string, upstream: string): Promise<void> {
    const replica = this.replica(name)
    const to = this.replica(upstream)
    await withPg(to.url, async (c) => {
      await c.query('SELECT pg_create_physical_replication_slot($1, true) WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)', [slotName(name)])
    })
    await withPg(replica.url, async (c) => {
      await c.query(`ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port=${String(to.port)} user=postgres application_name=${name}'`)
      await c.query('SELECT pg_reload_conf()')
    })
    const deadline = Date.now() + 30_000
    for (;;) {
      const [row] = await withPg(
        to.url,
        async (c) => (await c.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_replication WHERE application_name = $1 AND state = 'streaming'", [name])).rows,
      )
      if ((row?.n ?? 0) > 0) return
      if (Date.now() > deadline) throw new Error(`${name} did not stream from ${upstream} within 30 s`)
      await sleep(POLL_MS)
    }
  }

  /** Stops the primary at once (`pg_ctl -m immediate stop`), as a crash of its host. */
  async stopPrimary(): Promise<void> {
    await runPg(this.info, 'pg_ctl', ['stop', '-D', this.info.primary.dataDir, '-m', 'immediate', '-w'])
  }

  /** Starts the stopped primary and waits until it accepts connections. */
  async startPrimary(): Promise<void> {
    const { dataDir } = this.info.primary
    await runPg(this.info, 'pg_ctl', ['start', '-D', dataDir, '-l', `${dataDir}.log`, '-w', '-t', '60'])
  }

  /**
   * Makes a replica anew from a base backup of the primary (after {@link promoteReplica}, or to re-initialise one):
   * stops it, removes its data, copies the primary's through its replication slot, starts it with the kit's
   * settings, and waits until it has replayed what the primary wrote so far.
   */
  async rebuildReplica(name: string): Promise<void> {
    const replica = this.replica(name)
    if (existsSync(join(replica.dataDir, 'postmaster.pid'))) {
      await runPg(this.info, 'pg_ctl', ['stop', '-D', replica.dataDir, '-m', 'immediate', '-w']).catch(() => undefined)
    }
    await rm(replica.dataDir, { recursive: true, force: true })
    await baseBackup(this.info, this.info.primary, replica)
    await this.waitForReplication({ replicas: [name], timeoutMs: 60_000 })
  }

  /**
   * Takes every connection slot of a server (`primary` or a replica name: `max_connections`, the superuser's
   * reserved ones included) with idle connections of its own, so that the server refuses any new one ("sorry,
   * too many clients already", SQLSTATE 53300) while the connections already open keep working. Resolves with
   * how many it opened and the function that closes them.
   */
  async exhaustConnections(server: string): Promise<ExhaustedConnections> {
    const url = server === 'primary' ? this.primaryUrl : this.replica(server).url
    const held: pg.Client[] = []
    const release = async () => {
      await Promise.all(held.splice(0).map((c) => c.end().catch(() => undefined)))
    }
    try {
      for (;;) {
        const client = await pgClient(url)
        client.on('error', () => undefined)
        try {
          await client.connect()
        } catch (error) {
          if ((error as { code?: unknown }).code === '53300') break
          throw error
        }
        held.push(client)
        if (held.length > 10_000) throw new Error(`${server} accepted 10,000 connections`)
      }
    } catch (error) {
      await release()
      throw error
    }
    return { opened: held.length, release }
  }

  /**
   * Freezes a replica's whole server (SIGSTOP to the postmaster and every backend), like a hung host:
   * connections neither fail nor answer. Always pair with {@link thawReplica}.
   */
  async freezeReplica(name: string): Promise<void> {
    const stop = (pid: number) => {
      try {
        process.kill(pid, 'SIGSTOP')
      } catch {
        /* a backend that exited meanwhile */
      }
    }
    // The postmaster first: stopped, it forks no backend, so the children listed next are all there are (listed
    // before it, a backend forked meanwhile — a new connection — escaped the freeze and answered).
    const [postmaster] = await this.serverPids(name)
    if (postmaster !== undefined) stop(postmaster)
    for (const pid of (await this.serverPids(name)).slice(1)) stop(pid)
  }

  /** Resumes a server frozen by {@link freezeReplica} (SIGCONT). Harmless on a running server. */
  async thawReplica(name: string): Promise<void> {
    if (!this.isRunning(name)) return
    for (const pid of (await this.serverPids(name)).reverse()) {
      try {
        process.kill(pid, 'SIGCONT')
      } catch {
        /* exited meanwhile */
      }
    }
  }

  /** Stops every server and removes the data directories, then its watchdog. Idempotent. */
  async stop(): Promise<void> {
    const servers = [...this.info.replicas, this.info.primary]
    await Promise.all(
      servers
        .filter((s) => existsSync(join(s.dataDir, 'postmaster.pid')))
        .map((s) => runPg(this.info, 'pg_ctl', ['stop', '-D', s.dataDir, '-m', 'immediate', '-w']).catch(() => undefined)),
    )
    await rm(this.info.baseDir, { recursive: true, force: true })
    // Last: were this process to die while stopping, the watchdog still stops the servers and removes the data.
    if (this.info.watchdogPid !== undefined) {
      try {
        process.kill(this.info.watchdogPid, 'SIGTERM')
      } catch {
        /* already gone */
      }
    }
  }
}

function startWatchdog(info: Omit<LocalClusterInfo, 'watchdogPid'>): number | undefined {
  const pgCtl = join(info.pgBin, 'pg_ctl')
  const asPg = info.runAsPostgres ? 'runuser -u postgres -- ' : ''
  const dirs = [...info.replicas, info.primary].map((s) => `'${s.dataDir}'`).join(' ')
  // Polls the owner's PID once a second; when the owner is gone, stops the servers and removes the data.
  const script = `
trap 'exit 0' TERM
while kill -0 ${String(process.pid)} 2>/dev/null; do sleep 1; done
for d in ${dirs}; do [ -f "$d/postmaster.pid" ] && ${asPg}'${pgCtl}' stop -D "$d" -m immediate -w >/dev/null 2>&1; done
rm -rf '${info.baseDir}'
`
  const child = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' })
  child.unref()
  return child.pid
}

/**
 * Starts a PostgreSQL primary and `replicas` physical streaming replicas on 127.0.0.1 (free ports),
 * with data on /dev/shm when present. Works as root (servers run as the `postgres` OS user) and as a normal user.
 * No Docker. Typical start-up: 1–3 s.
 */
export async function startLocalCluster(options?: StartLocalClusterOptions & { readonly engine?: 'postgresql' }): Promise<LocalCluster>
/** Starts a MariaDB primary and GTID replicas instead (src/testing/mariadb-cluster.ts). */
export async function startLocalCluster(options: StartMariadbClusterOptions & { readonly engine: 'mariadb' }): Promise<MariadbCluster>
export async function startLocalCluster(
  options: (StartLocalClusterOptions & { readonly engine?: 'postgresql' }) | (StartMariadbClusterOptions & { readonly engine: 'mariadb' }) = {},
): Promise<LocalCluster | MariadbCluster> {
  const engine: unknown = options.engine
  if (engine === 'mariadb') return await startMariadbCluster(options)
  if (engine !== undefined && engine !== 'postgresql') throw new TypeError(`Expected \`engine\` to be 'postgresql' or 'mariadb', got ${describeValue(engine)}`)
  return await startPostgresCluster(options)
}

async function startPostgresCluster(options: StartLocalClusterOptions): Promise<LocalCluster> {
  const replicaCount = options.replicas ?? 2
  if (!Number.isInteger(replicaCount) || replicaCount < 0) {
    throw new TypeError(`Expected \`replicas\` to be an integer >= 0, got \`${String(replicaCount)}\``)
  }
  const database = options.database ?? 'app'
  if (!/^[a-z_][a-z0-9_]*$/.test(database)) {
    throw new TypeError(`Expected \`database\` to be a lower-case SQL identifier, got \`${database}\``)
  }
  const pgBin = findPgBin(options.pgBin)
  const runAsPostgres = process.getuid?.() === 0
  const parent = options.baseDir ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir())
  const baseDir = await mkdtemp(join(parent, 'prr-cluster-'))
  if (runAsPostgres) {
    const { uid, gid } = await postgresIds()
    await chown(baseDir, uid, gid)
  }
  const ports = await Promise.all(Array.from({ length: replicaCount + 1 }, () => freePort()))
  const [primaryPort = 0, ...replicaPorts] = ports
  const primary: LocalServerInfo = {
    name: 'primary',
    port: primaryPort,
    url: serverUrl(primaryPort, database),
    dataDir: join(baseDir, 'primary'),
  }
  const replicas: LocalServerInfo[] = replicaPorts.map((port, i) => ({
    name: `replica-${String(i + 1)}`,
    port,
    url: serverUrl(port, database),
    dataDir: join(baseDir, `replica-${String(i + 1)}`),
  }))
  const base = { baseDir, pgBin, runAsPostgres, database, primary, replicas }
  const watchdogPid = options.watchdog === false ? undefined : startWatchdog(base)
  const cluster = LocalCluster.create({ ...base, watchdogPid })
  try {
    await runPg(base, 'initdb', ['-D', primary.dataDir, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C', '--no-instructions'])
    await appendFile(join(primary.dataDir, 'postgresql.conf'), serverConf(primary.port, baseDir))
    await runPg(base, 'pg_ctl', ['start', '-D', primary.dataDir, '-l', `${primary.dataDir}.log`, '-w', '-t', '60'])
    await withPg(serverUrl(primary.port, 'postgres'), async (c) => {
      await c.query(`CREATE DATABASE ${database}`)
    })
    await withPg(primary.url, async (c) => {
      await c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements')
      // One physical slot per replica, created BEFORE the base backups and reserving WAL at once, so that a
      // concurrent backup's checkpoint cannot remove a segment another backup still needs; paused or stopped
      // replicas never lose WAL either.
      for (const replica of replicas) {
        await c.query('SELECT pg_create_physical_replication_slot($1, true)', [slotName(replica.name)])
      }
    })
    await Promise.all(replicas.map((replica) => baseBackup(base, primary, replica)))
    await cluster.waitForReplication()
    return cluster
  } catch (error) {
    await cluster.stop().catch(() => undefined)
    throw error
  }
}
