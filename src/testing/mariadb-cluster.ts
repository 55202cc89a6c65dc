/**
 * A MariaDB primary plus GTID replicas on 127.0.0.1, started from the installed server binaries (no Docker), with
 * the same controls as the PostgreSQL cluster: lag, pause, stop/start, crash, freeze; attach from another
 * process. Facts it relies on: one `mariadb-install-db` data directory copied for every server (identical system
 * tables, no binary log yet, so each replica starts at an empty GTID position), replication with
 * `MASTER_USE_GTID=slave_pos`, `gtid_strict_mode`, replicas `read_only`.
 */
import { spawn, execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chown, cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type * as Mariadb from 'mariadb'

const execFileAsync = promisify(execFile)
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
const POLL_MS = 5

/** One server of a {@link MariadbCluster}. Serializable. */
export interface MariadbServerInfo {
  /** `primary`, or the replica's name (`replica-1`, …). */
  readonly name: string
  /** Its TCP port on 127.0.0.1. */
  readonly port: number
  /** `mysql://root@127.0.0.1:<port>/<database>` (Prisma's `mysql` provider; `@prisma/adapter-mariadb` takes it too). */
  readonly url: string
  /** Its data directory. */
  readonly dataDir: string
  /** The server's `--server-id` (1 for the primary). */
  readonly serverId: number
}

/** Everything needed to re-attach to a running MariaDB cluster from another process. */
export interface MariadbClusterInfo {
  /** `'mariadb'`: tells this info from a PostgreSQL cluster's. */
  readonly engine: 'mariadb'
  /** The directory of every server's data (removed by `stop()`). */
  readonly baseDir: string
  /** True when the servers run as the `mysql` OS user (the current user is root). */
  readonly runAsMysql: boolean
  /** The database the URLs name. */
  readonly database: string
  /** The primary. */
  readonly primary: MariadbServerInfo
  /** The replicas, in order (`replica-1`, …). */
  readonly replicas: readonly MariadbServerInfo[]
  /** PID of the watchdog that stops the servers if the owning process dies. */
  readonly watchdogPid: number | undefined
}

/** Options of {@link startMariadbCluster}. */
export interface StartMariadbClusterOptions {
  /** @default 2 */
  readonly replicas?: number | undefined
  /** @default 'app' */
  readonly database?: string | undefined
  /** @default '/dev/shm' when present, else the OS temp dir */
  readonly baseDir?: string | undefined
  /** Stop the servers and remove the data if this process dies. @default true */
  readonly watchdog?: boolean | undefined
}

/** Thrown when the MariaDB server binaries (`mariadbd`, `mariadb-install-db`) cannot be found. */
export class MariadbBinariesNotFoundError extends Error {
  /** `MariadbBinariesNotFoundError`: what the cross-realm type guard checks. */
  override name = 'MariadbBinariesNotFoundError'
}

const MARIADBD = ['/usr/sbin/mariadbd', '/usr/bin/mariadbd', '/usr/local/bin/mariadbd']
const INSTALL_DB = ['/usr/bin/mariadb-install-db', '/usr/local/bin/mariadb-install-db', '/usr/scripts/mariadb-install-db']

/** The MariaDB server binaries; throws {@link MariadbBinariesNotFoundError} naming where it looked. */
export function findMariadb(): { mariadbd: string; installDb: string } {
  const mariadbd = MARIADBD.find((file) => existsSync(file))
  const installDb = INSTALL_DB.find((file) => existsSync(file))
  if (!mariadbd || !installDb) {
    throw new MariadbBinariesNotFoundError(
      `MariaDB server binaries not found (looked for ${[...MARIADBD, ...INSTALL_DB].join(', ')}). Install them (Debian/Ubuntu: \`apt-get install -y --no-install-recommends mariadb-server\`).`,
    )
  }
  return { mariadbd, installDb }
}

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

let driver: Promise<typeof Mariadb> | undefined
/** The `mariadb` driver (a dependency of `@prisma/adapter-mariadb`), loaded on first use. */
function loadDriver(): Promise<typeof Mariadb> {
  driver ??= import('mariadb').then((m) => (m as unknown as { default?: typeof Mariadb }).default ?? m)
  return driver
}

const socketOf = (server: MariadbServerInfo) => `${server.dataDir}.sock`

async function withConnection<T>(server: MariadbServerInfo, fn: (c: Mariadb.Connection) => Promise<T>, database?: string): Promise<T> {
  const mariadb = await loadDriver()
  const connection = await mariadb.createConnection({ socketPath: socketOf(server), user: 'root', database, connectTimeout: 5000, bigIntAsNumber: false, insertIdAsNumber: true })
  try {
    return await fn(connection)
  } finally {
    await connection.end().catch(() => undefined)
  }
}

/** The primary's `@@gtid_binlog_pos`. */
async function primaryGtid(primary: MariadbServerInfo): Promise<string> {
  return await withConnection(primary, async (c) => {
    const rows = await c.query<{ pos: string }[]>('SELECT @@GLOBAL.gtid_binlog_pos AS pos')
    return rows[0]?.pos ?? ''
  })
}

/**
 * A MariaDB primary plus GTID replicas on 127.0.0.1, owned by this process. Create with
 * {@link startMariadbCluster}; re-attach from another process with {@link MariadbCluster.attach}.
 */
export class MariadbCluster {
  /** @param info what `MariadbCluster.attach(info)` needs, in another process. */
  private constructor(readonly info: MariadbClusterInfo) {}

  /** Re-attaches to a cluster started by another process of the same machine. */
  static attach(info: MariadbClusterInfo): MariadbCluster {
    return new MariadbCluster(info)
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
  replica(name: string): MariadbServerInfo {
    const found = this.info.replicas.find((r) => r.name === name)
    if (!found) throw new Error(`No replica named \`${name}\`; known: ${this.info.replicas.map((r) => r.name).join(', ')}`)
    return found
  }

  private server(name: string): MariadbServerInfo {
    return name === 'primary' ? this.info.primary : this.replica(name)
  }

  /** Runs one SQL statement on a server (`primary` or a replica name), in the cluster's database, and returns its rows. */
  async query<R extends Record<string, unknown> = Record<string, unknown>>(server: string, sql: string, params: unknown[] = []): Promise<R[]> {
    return await withConnection(this.server(server), (c) => c.query<R[]>(sql, params), this.info.database)
  }

  /**
   * Runs a script of `;`-separated statements (`--` comment lines allowed, no `;` inside a statement) on a server,
   * in the cluster's database, one statement at a time: e.g. the tables of a Prisma schema for `mysql`, where
   * `prisma migrate` cannot run.
   */
  async runScript(server: string, script: string): Promise<void> {
    for (const statement of script.split(';').map((s) => s.replace(/^\s*--.*$/gm, '').trim())) {
      if (statement !== '') await this.query(server, statement)
    }
  }

  /** The primary's GTID position (`@@gtid_binlog_pos`): every commit that has returned. */
  async primaryGtid(): Promise<string> {
    return await primaryGtid(this.info.primary)
  }

  /**
   * Waits until the given replicas (default: all) have applied everything the primary has committed so far
   * (`MASTER_GTID_WAIT`). A condition, not a sleep.
   */
  async waitForReplication(options: { replicas?: readonly string[]; timeoutMs?: number } = {}): Promise<void> {
    const target = await this.primaryGtid()
    const seconds = (options.timeoutMs ?? 15_000) / 1000
    const names = options.replicas ?? this.info.replicas.map((r) => r.name)
    await Promise.all(
      names.map(async (name) => {
        // Without the cluster's database: it may be what the replica has yet to apply.
        const [row] = await withConnection(this.replica(name), (c) => c.query<{ r: unknown }[]>('SELECT MASTER_GTID_WAIT(?, ?) AS r', [target, seconds]))
        if (Number(row?.r) !== 0) throw new Error(`${name} did not apply up to ${target} within ${String(seconds)} s`)
      }),
    )
  }

  /**
   * Delays a replica's applier by `ms` (`MASTER_DELAY`, whole seconds: `ms` must be a multiple of 1000; 0 removes
   * it). Sub-second lag: {@link pauseReplay} and {@link resumeReplay}.
   */
  async setReplicaLag(name: string, ms: number): Promise<void> {
    if (!Number.isInteger(ms) || ms < 0 || ms % 1000 !== 0)
      throw new TypeError(`Expected \`ms\` to be a multiple of 1000 >= 0 (MASTER_DELAY is in whole seconds), got \`${String(ms)}\``)
    await withConnection(this.replica(name), async (c) => {
      await c.query('STOP SLAVE')
      await c.query(`CHANGE MASTER TO MASTER_DELAY = ${String(ms / 1000)}`)
      await c.query('START SLAVE')
    })
  }

  /** Stops a replica's applier (`STOP SLAVE SQL_THREAD`): it keeps receiving, and applies nothing. */
  async pauseReplay(name: string): Promise<void> {
    await withConnection(this.replica(name), async (c) => {
      await c.query('STOP SLAVE SQL_THREAD')
    })
  }

  /** Starts a replica's applier again. */
  async resumeReplay(name: string): Promise<void> {
    await withConnection(this.replica(name), async (c) => {
      await c.query('START SLAVE SQL_THREAD')
    })
  }

  /** The server's error log so far. */
  async serverLog(server: string): Promise<string> {
    return await readFile(`${this.server(server).dataDir}.log`, 'utf8')
  }

  private async pid(name: string): Promise<number | undefined> {
    const text = await readFile(`${this.server(name).dataDir}.pid`, 'utf8').catch(() => '')
    const pid = Number(text.trim())
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  }

  /** True while the replica's server runs. */
  isRunning(name: string): boolean {
    return existsSync(`${this.replica(name).dataDir}.pid`)
  }

  /** Stops a replica at once (SIGKILL), like a crash, and waits until its process is gone. */
  async stopReplica(name: string): Promise<void> {
    const pid = await this.pid(name)
    if (pid === undefined) return
    signal(pid, 'SIGKILL')
    for (;;) {
      try {
        process.kill(pid, 0)
      } catch {
        break
      }
      await sleep(POLL_MS)
    }
    await rm(`${this.replica(name).dataDir}.pid`, { force: true })
  }

  /** Starts a stopped replica and waits until it accepts connections; replication resumes by itself. */
  async startReplica(name: string): Promise<void> {
    await startServer(this.info, this.replica(name))
  }

  /** Kills a replica (SIGKILL) and starts it again: InnoDB crash recovery, then replication from its GTID. */
  async crashReplica(name: string): Promise<void> {
    await this.stopReplica(name)
    await this.startReplica(name)
  }

  /** Freezes a replica's server (SIGSTOP), like a hung host. Always pair with {@link thawReplica}. */
  async freezeReplica(name: string): Promise<void> {
    const pid = await this.pid(name)
    if (pid !== undefined) process.kill(pid, 'SIGSTOP')
  }

  /** Resumes a frozen server (SIGCONT). Harmless on a running server. */
  async thawReplica(name: string): Promise<void> {
    const pid = await this.pid(name)
    if (pid !== undefined) signal(pid, 'SIGCONT')
  }

  /** Stops every server and removes the data directories, then its watchdog. Idempotent. */
  async stop(): Promise<void> {
    for (const server of [...this.info.replicas, this.info.primary]) {
      const pid = await this.pid(server.name).catch(() => undefined)
      if (pid === undefined) continue
      signal(pid, 'SIGCONT')
      signal(pid, 'SIGKILL')
    }
    await rm(this.info.baseDir, { recursive: true, force: true })
    // Last: were this process to die while stopping, the watchdog still stops the servers and removes the data.
    if (this.info.watchdogPid !== undefined) signal(this.info.watchdogPid, 'SIGTERM')
  }
}

/** Sends `name` to process `pid`, unless it has exited. */
function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name)
  } catch {
    /* already gone */
  }
}

/** Starts one server (detached, its output in `<dataDir>.log`) and waits until its socket answers. */
async function startServer(info: Pick<MariadbClusterInfo, 'runAsMysql'>, server: MariadbServerInfo): Promise<void> {
  const { mariadbd } = findMariadb()
  const replica = server.name !== 'primary'
  const args = [
    '--no-defaults',
    `--datadir=${server.dataDir}`,
    `--socket=${socketOf(server)}`,
    `--pid-file=${server.dataDir}.pid`,
    `--log-error=${server.dataDir}.log`,
    `--port=${String(server.port)}`,
    '--bind-address=127.0.0.1',
    `--server-id=${String(server.serverId)}`,
    '--log-bin=mariadb-bin',
    '--binlog-format=ROW',
    '--log-slave-updates',
    '--gtid-strict-mode=1',
    '--skip-name-resolve',
    '--innodb-buffer-pool-size=32M',
    '--innodb-log-file-size=16M',
    '--innodb-flush-log-at-trx-commit=2',
    '--sync-binlog=0',
    '--performance-schema=0',
    '--max-connections=300',
    ...(replica ? ['--read-only=1', '--relay-log=relay-bin'] : []),
    ...(info.runAsMysql ? ['--user=mysql'] : []),
  ]
  const child = spawn(mariadbd, args, { detached: true, stdio: 'ignore' })
  child.unref()
  const deadline = Date.now() + 30_000
  for (;;) {
    const up = await withConnection(server, async (c) => (await c.query('SELECT 1 AS one')) as unknown).then(
      () => true,
      () => false,
    )
    if (up) return
    if (child.exitCode !== null)
      throw new Error(`mariadbd (${server.name}) exited with ${String(child.exitCode)}: ${await readFile(`${server.dataDir}.log`, 'utf8').catch(() => '')}`)
    if (Date.now() > deadline) throw new Error(`mariadbd (${server.name}) did not accept connections within 30 s`)
    await sleep(POLL_MS * 4)
  }
}

function startWatchdog(info: Omit<MariadbClusterInfo, 'watchdogPid'>): number | undefined {
  const pids = [...info.replicas, info.primary].map((s) => `'${s.dataDir}.pid'`).join(' ')
  const script = `
trap 'exit 0' TERM
while kill -0 ${String(process.pid)} 2>/dev/null; do sleep 1; done
for f in ${pids}; do [ -f "$f" ] && kill -CONT "$(cat "$f")" 2>/dev/null; [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done
rm -rf '${info.baseDir}'
`
  const child = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' })
  child.unref()
  return child.pid
}

/**
 * Starts a MariaDB primary and `replicas` GTID replicas on 127.0.0.1 (free ports), with data on /dev/shm when
 * present. As root, the servers run as the `mysql` OS user. No Docker. Typical start-up: 1-3 s.
 */
export async function startMariadbCluster(options: StartMariadbClusterOptions = {}): Promise<MariadbCluster> {
  const replicaCount = options.replicas ?? 2
  if (!Number.isInteger(replicaCount) || replicaCount < 0) throw new TypeError(`Expected \`replicas\` to be an integer >= 0, got \`${String(replicaCount)}\``)
  const database = options.database ?? 'app'
  if (!/^[a-z_][a-z0-9_]*$/.test(database)) throw new TypeError(`Expected \`database\` to be a lower-case SQL identifier, got \`${database}\``)
  const { installDb } = findMariadb()
  await loadDriver().catch((error: unknown) => {
    throw new Error('The MariaDB test cluster needs the `mariadb` package (a dependency of @prisma/adapter-mariadb): npm install mariadb', { cause: error })
  })
  const runAsMysql = process.getuid?.() === 0
  const parent = options.baseDir ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir())
  const baseDir = await mkdtemp(join(parent, 'prr-mariadb-'))
  if (runAsMysql) {
    const [{ stdout: uid }, { stdout: gid }] = await Promise.all([execFileAsync('id', ['-u', 'mysql']), execFileAsync('id', ['-g', 'mysql'])])
    await chown(baseDir, Number(uid.trim()), Number(gid.trim()))
  }
  const ports = await Promise.all(Array.from({ length: replicaCount + 1 }, () => freePort()))
  const servers: MariadbServerInfo[] = ports.map((port, i) => {
    const name = i === 0 ? 'primary' : `replica-${String(i)}`
    return { name, port, url: `mysql://root@127.0.0.1:${String(port)}/${database}`, dataDir: join(baseDir, name), serverId: i + 1 }
  })
  const [primary, ...replicas] = servers as [MariadbServerInfo, ...MariadbServerInfo[]]
  const base = { engine: 'mariadb' as const, baseDir, runAsMysql, database, primary, replicas }
  const watchdogPid = options.watchdog === false ? undefined : startWatchdog(base)
  const cluster = MariadbCluster.attach({ ...base, watchdogPid })
  try {
    const template = join(baseDir, 'template')
    await execFileAsync(installDb, [
      '--no-defaults',
      `--datadir=${template}`,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      '--skip-name-resolve',
      ...(runAsMysql ? ['--user=mysql'] : []),
    ])
    await Promise.all(servers.map((server) => cp(template, server.dataDir, { recursive: true, preserveTimestamps: true })))
    if (runAsMysql) await execFileAsync('chown', ['-R', 'mysql:mysql', baseDir])
    await Promise.all(servers.map((server) => startServer(base, server)))
    await withConnection(primary, async (c) => {
      // Replicated to every replica (with GTIDs): the test user over TCP, the replication user, the database.
      await c.query("CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'")
      await c.query("GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION")
      await c.query("CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY 'repl'")
      await c.query("GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1'")
      await c.query(`CREATE DATABASE ${database}`)
    })
    await Promise.all(
      replicas.map((replica) =>
        withConnection(replica, async (c) => {
          await c.query(
            `CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${String(primary.port)}, MASTER_USER='repl', MASTER_PASSWORD='repl', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1`,
          )
          await c.query('START SLAVE')
        }),
      ),
    )
    await cluster.waitForReplication()
    await writeFile(join(baseDir, 'cluster.json'), JSON.stringify({ ...base, watchdogPid }))
    return cluster
  } catch (error) {
    await cluster.stop().catch(() => undefined)
    throw error
  }
}
