#!/usr/bin/env node
/**
 * `prisma-replica-router check-primary [--config <prisma.config.ts>] [--env <VAR>]`
 *
 * Run it before `prisma migrate deploy`: it connects to the migration URL (the datasource URL of
 * prisma.config.ts when present, else $DATABASE_URL; or the variable named by --env) and exits non-zero when
 * that server is a hot standby, so migrations can only ever run against the primary.
 * Exit codes: 0 primary, 1 hot standby (refused), 2 usage or connection error. URLs are never printed.
 */
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { assertPrimary } from './check-primary.js'
import { NotPrimaryError } from './errors/index.js'

const USAGE = 'usage: prisma-replica-router check-primary [--config <prisma.config.ts>] [--env <VAR>]'

async function migrationUrl(config: string | undefined, envName: string | undefined): Promise<{ url: string; source: string }> {
  if (envName !== undefined) {
    const url = process.env[envName]
    if (!url) throw new Error(`$${envName} is not set`)
    return { url, source: `$${envName}` }
  }
  const configFile = config ?? (existsSync('prisma.config.ts') ? 'prisma.config.ts' : undefined)
  if (configFile !== undefined) {
    const prismaConfig = (await import('@prisma/config').catch(() => {
      throw new Error(`reading ${configFile} needs @prisma/config, which the \`prisma\` package installs: install prisma, or name the URL's variable with --env`)
    })) as {
      loadConfigFromFile: (input: { configFile: string }) => Promise<{ config?: { datasource?: { url?: unknown } } }>
    }
    const loaded = await prismaConfig.loadConfigFromFile({ configFile: resolve(configFile) })
    const url = loaded.config?.datasource?.url
    if (typeof url !== 'string' || url === '') {
      // The usual cause: the variable the config reads is not set (say so, rather than what it led to).
      const unset = process.env.DATABASE_URL ? '' : ' ($DATABASE_URL is not set)'
      throw new Error(`${configFile} gives no datasource.url${unset}`)
    }
    return { url, source: `the datasource URL of ${configFile}` }
  }
  const url = process.env.DATABASE_URL
  if (!url) throw new Error('no prisma.config.ts here and $DATABASE_URL is not set')
  return { url, source: '$DATABASE_URL' }
}

/** The arguments, or `undefined` (after printing why and the usage) when they cannot be read. */
function readArgs(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: { config: { type: 'string' }, env: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    })
  } catch (error) {
    // An unknown option, or one without its value: a usage error (exit 2), never "a hot standby" (exit 1).
    console.error(`check-primary: ${error instanceof Error ? error.message : String(error)}\n${USAGE}`)
    return undefined
  }
}

async function main(argv: string[]): Promise<number> {
  const args = readArgs(argv)
  if (!args) return 2
  const { values, positionals } = args
  if (values.help === true) {
    console.log(USAGE)
    return 0
  }
  if (positionals.length !== 1 || positionals[0] !== 'check-primary') {
    console.error(USAGE)
    return 2
  }
  let target: { url: string; source: string }
  try {
    target = await migrationUrl(values.config, values.env)
  } catch (error) {
    console.error(`check-primary: ${error instanceof Error ? error.message : String(error)}`)
    return 2
  }
  try {
    await assertPrimary(target.url, target.source)
  } catch (error) {
    if (error instanceof NotPrimaryError) {
      console.error(`check-primary: ${error.message}`)
      return 1
    }
    const reason = error instanceof Error ? error.message.split(target.url).join('<url>') : String(error)
    console.error(`check-primary: cannot check ${target.source}: ${reason}`)
    return 2
  }
  console.log(`check-primary: ${target.source} is the primary (${/^(mysql|mariadb):\/\//i.test(target.url) ? 'writable, no replication running' : 'not in recovery'})`)
  return 0
}

process.exitCode = await main(process.argv.slice(2))
