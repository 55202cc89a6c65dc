/**
 * Database helpers of the catalog example: create the database, migrate the PRIMARY (never a replica).
 *
 * `prisma migrate deploy` runs with `--config examples/catalog/prisma.config.ts` and `DATABASE_URL` = the primary's
 * URL, after `assertPrimary()` has checked that this URL is not a hot standby. Replicas receive the schema through
 * replication.
 */
import { execFile } from 'node:child_process'
import { cp, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import pg from 'pg'
import { assertPrimary } from 'prisma-replica-router'

const execFileAsync = promisify(execFile)

const here = fileURLToPath(new URL('.', import.meta.url))
const repoRoot = join(here, '..', '..')
/** `examples/catalog/prisma.config.ts` (absolute path). */
export const catalogConfigPath = join(here, 'prisma.config.ts')
const schemaPath = join(here, 'prisma', 'schema.prisma')
const migrationsPath = join(here, 'prisma', 'migrations')
const generatedPath = join(here, 'generated')
/** The Prisma CLI of this repository, run with the current Node (no `npx` lookup). */
const prismaCli = createRequire(import.meta.url).resolve('prisma/build/index.js')

/** Names of the committed migrations, oldest first (e.g. `20261121120000_init`). */
export async function catalogMigrations(): Promise<string[]> {
  const entries = await readdir(migrationsPath, { withFileTypes: true })
  return entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort()
}

/** `url` with its database replaced by `database` (user, host, port and parameters kept). */
export function databaseUrl(url: string, database: string): string {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}

/**
 * Creates `database` on the server behind `primaryUrl` (any database of it). On a primary with streaming
 * replicas, the replicas get the new database through replication.
 */
export async function createDatabase(primaryUrl: string, database: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]*$/.test(database)) {
    throw new TypeError(`Expected \`database\` to be a lower-case SQL identifier, got \`${database}\``)
  }
  await assertPrimary(primaryUrl, 'the URL given to createDatabase()')
  const client = new pg.Client({ connectionString: primaryUrl, connectionTimeoutMillis: 10_000 })
  client.on('error', () => undefined)
  await client.connect()
  try {
    await client.query(`CREATE DATABASE ${database}`)
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** Runs the Prisma CLI with `DATABASE_URL` = `primaryUrl`; returns its output, the URL replaced by `<primary url>`. */
async function runPrisma(args: string[], primaryUrl: string): Promise<string> {
  const redact = (text: string) => text.replaceAll(primaryUrl, '<primary url>')
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [prismaCli, ...args], {
      cwd: repoRoot,
      env: { ...process.env, DATABASE_URL: primaryUrl },
    })
    return redact(`${stdout}${stderr}`)
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string }
    // No `cause`: the raw child-process error carries the environment-derived output unredacted.
    // eslint-disable-next-line preserve-caught-error
    throw new Error(`prisma ${args.slice(0, 2).join(' ')} failed against the primary:\n${redact(`${e.stdout ?? ''}${e.stderr ?? ''}`)}`)
  }
}

/** Options of {@link migrateCatalog}. */
export interface MigrateCatalogOptions {
  /**
   * Apply the committed migrations only up to this one (its folder name, inclusive), e.g. to show a later
   * migration arriving. Default: all of them.
   */
  readonly upTo?: string
}

/**
 * Checks that `primaryUrl` is not a hot standby (`assertPrimary`), then runs `prisma migrate deploy` against it
 * with the catalog's config. Returns the CLI's output (the URL redacted).
 *
 * With `upTo`, the CLI gets a temporary config whose migrations folder is a copy of the committed migrations up
 * to `upTo`; the copies are byte for byte the committed files, so a later run with the real config sees them as
 * applied (same checksums) and applies only the rest. The temporary folder is under `examples/catalog/generated/`
 * (git-ignored): the schema engine runs in the config's folder and must find this repository's node_modules.
 */
export async function migrateCatalog(primaryUrl: string, options: MigrateCatalogOptions = {}): Promise<string> {
  await assertPrimary(primaryUrl, 'DATABASE_URL')
  if (options.upTo === undefined) return await runPrisma(['migrate', 'deploy', '--config', catalogConfigPath], primaryUrl)
  const { upTo } = options
  const all = await catalogMigrations()
  if (!all.includes(upTo)) throw new Error(`No migration \`${upTo}\`; committed: ${all.join(', ')}`)
  await mkdir(generatedPath, { recursive: true })
  const dir = await mkdtemp(join(generatedPath, 'migrate-'))
  try {
    await cp(join(migrationsPath, 'migration_lock.toml'), join(dir, 'migrations', 'migration_lock.toml'))
    for (const name of all.filter((n) => n <= upTo)) {
      await cp(join(migrationsPath, name), join(dir, 'migrations', name), { recursive: true })
    }
    // A plain object is a valid Prisma config; relative paths resolve from the config file's folder. The URL is
    // read from the environment, as in prisma.config.ts, so that no password is written to disk.
    const configPath = join(dir, 'prisma.config.mjs')
    await writeFile(
      configPath,
      `export default {\n` +
        `  schema: ${JSON.stringify(schemaPath)},\n` +
        `  migrations: { path: 'migrations' },\n` +
        `  datasource: { url: process.env.DATABASE_URL },\n` +
        `}\n`,
    )
    return await runPrisma(['migrate', 'deploy', '--config', configPath], primaryUrl)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
