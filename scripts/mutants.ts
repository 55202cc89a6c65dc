/**
 * Mutation check of the testers: each mutant is a small deliberate bug in the code that re-implements Prisma (the
 * fast path, the query chain, argument cloning, computed fields for replicas) or in a fixed defect's fix; it is
 * applied to a copy of the working tree, and the tester that must find it runs against the copy: the
 * differential tester (`scripts/fuzz.ts --no-shrink`, on a local cluster this script starts), or the session
 * checker (`scripts/soak.ts`, which starts its own). Prints, per mutant, whether it was found and after how many
 * cases (generated reads compared) or seconds. Exits 1 when a mutant survives, 2 when one no longer applies (the
 * code it mutates changed: update the mutant).
 *
 *   npm run mutants -- [--only name,name] [--seed S] [--seconds N]
 */
import { spawn } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { startLocalCluster } from '../src/testing/local-cluster.ts'
import { prismaMigrateDeploy } from '../src/testing/prisma-migrate.ts'

interface Mutant {
  readonly name: string
  readonly file: string
  /** Text that occurs exactly once in the file… */
  readonly find: string
  /** …and what it becomes. */
  readonly replace: string
  readonly what: string
  readonly tester: 'differential' | 'session'
}

const MUTANTS: readonly Mutant[] = [
  // ---- the fast path ----
  {
    name: 'fast-path-skips-chain',
    file: 'src/prisma/fast-reads.ts',
    find: 'const chain = target.chain\n',
    replace: 'const chain = undefined as typeof target.chain\n',
    what: 'the fast path routes a row read without running the query callbacks under the router',
    tester: 'differential',
  },
  {
    name: 'fast-path-fluent-args',
    file: 'src/prisma/fast-reads.ts',
    find: 'return (RoutedRead.viaExtension(this)[relation] as (args?: unknown) => unknown)(args)',
    replace: 'return (RoutedRead.viaExtension(this)[relation] as (args?: unknown) => unknown)()',
    what: 'a fluent accessor drops its arguments',
    tester: 'differential',
  },
  {
    name: 'fast-path-fluent-find-first',
    file: 'src/prisma/fast-reads.ts',
    find: "const FLUENT_OPERATIONS: ReadonlySet<string> = new Set(['findUnique', 'findUniqueOrThrow', 'findFirst', 'findFirstOrThrow'])",
    replace: "const FLUENT_OPERATIONS: ReadonlySet<string> = new Set(['findUnique', 'findUniqueOrThrow', 'findFirstOrThrow'])",
    what: 'findFirst(...) has no fluent accessors on the fast path',
    tester: 'differential',
  },
  // ---- the query chain ----
  {
    name: 'chain-ignores-rewritten-args',
    file: 'src/prisma/query-chain.ts',
    find: '          internal.args = args\n',
    replace: '',
    what: "the next step gets the request's arguments, not those the callback passed to query(args)",
    tester: 'differential',
  },
  {
    name: 'chain-reverse-order',
    file: 'src/prisma/query-chain.ts',
    find: 'const callback = this.callbacks[this.index]',
    replace: 'const callback = this.callbacks[this.callbacks.length - 1 - this.index]',
    what: 'the callbacks run in reverse order',
    tester: 'differential',
  },
  {
    name: 'chain-shares-args',
    file: 'src/prisma/query-chain.ts',
    find: 'args: cloneArgs(request.args),',
    replace: 'args: request.args as Record<string, unknown>,',
    what: 'callbacks get the request’s arguments themselves, not a copy',
    tester: 'differential',
  },
  // ---- argument cloning ----
  {
    name: 'clone-prisma-values',
    file: 'src/prisma/clone-args.ts',
    find: '  if (isPrismaValue(value)) return value\n',
    replace: '',
    what: "Prisma's own values (Prisma.DbNull, decimals, field references) are copied into plain objects",
    tester: 'differential',
  },
  {
    name: 'clone-dates-shared',
    file: 'src/prisma/clone-args.ts',
    find: 'return new Date((value as Date).getTime())',
    replace: 'return value',
    what: 'dates are passed as they are, not copied',
    tester: 'differential',
  },
  {
    name: 'clone-shallow-arrays',
    file: 'src/prisma/clone-args.ts',
    find: 'for (let i = 0; i < value.length; i++) copy[i] = cloneValue(value[i])',
    replace: 'for (let i = 0; i < value.length; i++) copy[i] = value[i]',
    what: 'array items are not copied',
    tester: 'differential',
  },
  // ---- computed fields on replicas ----
  {
    name: 'computed-needs-not-selected',
    file: 'src/prisma/computed-fields.ts',
    find: '        if (select[need] === true) continue\n',
    replace: '        continue\n',
    what: "a selected computed field's needs are not added to `select`",
    tester: 'differential',
  },
  {
    name: 'computed-left-in-select',
    file: 'src/prisma/computed-fields.ts',
    find: '      if (!onlyComputed(computed, key, model, shapes)) continue\n      out ??= { ...select }',
    replace: '      if (onlyComputed(computed, key, model, shapes) || !onlyComputed(computed, key, model, shapes)) continue\n      out ??= { ...select }',
    what: 'a computed field stays in the `select` sent to the replica',
    tester: 'differential',
  },
  {
    name: 'computed-global-omit',
    file: 'src/prisma/computed-fields.ts',
    find: '    if (global?.[need]) out[need] = false\n',
    replace: '    if (global?.[need]) delete out[need]\n',
    what: "a need omitted by the client's global `omit` is not asked for",
    tester: 'differential',
  },
  {
    name: 'computed-nested-relations',
    file: 'src/prisma/computed-fields.ts',
    find: 'const args = forClientWithout(value === true ? undefined : value, target, shapes)',
    replace: 'const args = value === true ? undefined : value',
    what: 'relations selected or included are not rewritten for their computed fields',
    tester: 'differential',
  },
  // ---- the fixes of defects 1 and 2 (writes through captured clients, extensions in read-only transactions), undone ----
  {
    name: 'defect-1-readonly-tx-skips-extensions',
    file: 'src/prisma/read-only-transaction.ts',
    find: '.reduce((client, extension) => client.$extends(extension), server.client as unknown as AnyClient)',
    replace: '.reduce((client) => client, server.client as unknown as AnyClient)',
    what: "a read-only transaction on a replica runs without the client's extensions",
    tester: 'session',
  },
  {
    name: 'defect-2-captured-writes-unobserved',
    file: 'src/prisma/engine-queries.ts',
    find: "      if (tx?.kind !== 'itx') notify(observers, write)\n",
    replace: "      if (tx?.kind !== 'itx' && !write) notify(observers, write)\n",
    what: 'writes the primary runs for a client the router did not send them through are not counted for the scope',
    tester: 'session',
  },
  // ---- a fix of this issue's extension batches, undone ----
  {
    name: 'batched-write-run-twice',
    file: 'src/router.ts',
    find: '    if (query instanceof Promise) {\n      query.then(settled, settled)\n      return query\n    }\n    return whenRun(query, settled)\n',
    replace: '    query.then(settled, settled)\n    return query\n',
    what: "a write an extension batches (row-level security's recipe) is run to be tracked, then again by the batch",
    tester: 'session',
  },
  // ---- issue 29's recovery conflicts, undone ----
  {
    name: 'recovery-conflict-untyped',
    file: 'src/prisma/read-only-transaction.ts',
    find: '    if (!conflict) return error\n',
    replace: '    if (conflict || !conflict) return error\n',
    what: 'a read-only transaction a replica cancels for a conflict with recovery fails with the driver’s error (P2034, or a closed connection), not RecoveryConflictError',
    tester: 'session',
  },
]

function usage(message: string): never {
  console.error(`mutants: ${message}`)
  process.exit(2)
}

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    seed: { type: 'string', default: '1' },
    seconds: { type: 'string', default: '120' },
  },
})
const seed = Number(values.seed)
if (!Number.isInteger(seed)) usage(`--seed must be an integer, got ${values.seed}`)
const seconds = Number(values.seconds)
if (!Number.isFinite(seconds) || seconds <= 0) usage(`--seconds must be a positive number, got ${values.seconds}`)
const only = values.only?.split(',').map((s) => s.trim())
for (const name of only ?? []) if (!MUTANTS.some((m) => m.name === name)) usage(`unknown mutant ${name} (known: ${MUTANTS.map((m) => m.name).join(', ')})`)
const chosen = MUTANTS.filter((m) => !only || only.includes(m.name))

const root = resolve(import.meta.dirname, '..')

/** The router's self-check made to pass whatever it finds: does the differential tester find the mutant alone? */
const SELF_CHECK_OFF: Mutant = {
  name: 'self-check-off',
  file: 'src/prisma/self-check.ts',
  find: 'export async function checkInternals(client: object): Promise<InternalsCheck> {\n',
  replace: 'export async function checkInternals(client: object): Promise<InternalsCheck> {\n  if (client) return ALL_GOOD\n',
  what: 'the self-check passes',
  tester: 'differential',
}

/** A copy of what the testers run (src, test, scripts; dependencies and the generated clients linked). */
function copyTree(): string {
  const dir = mkdtempSync(join(tmpdir(), 'prr-mutant-'))
  for (const entry of ['src', 'test', 'scripts', 'prisma', 'package.json', 'tsconfig.json', 'prisma.config.ts']) {
    cpSync(join(root, entry), join(dir, entry), { recursive: true })
  }
  for (const entry of ['node_modules', 'generated']) symlinkSync(join(root, entry), join(dir, entry))
  return dir
}

function applyMutant(dir: string, mutant: Mutant): void {
  const path = join(dir, mutant.file)
  const text = readFileSync(path, 'utf8')
  const count = text.split(mutant.find).length - 1
  if (count !== 1) {
    console.error(`mutants: ${mutant.name} no longer applies: its text occurs ${String(count)} times in ${mutant.file}`)
    process.exit(2)
  }
  writeFileSync(path, text.replace(mutant.find, mutant.replace))
}

/** Runs a tester's script in the copy; the output as it goes, and the exit code. */
function runScript(dir: string, script: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(dir, 'scripts', script), ...args], {
      cwd: dir,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.on('close', (code) => {
      done({ code, output })
    })
  })
}

interface Outcome {
  readonly mutant: Mutant
  readonly found: boolean
  readonly detail: string
}

const cluster = chosen.some((m) => m.tester === 'differential') ? await startLocalCluster({ replicas: 2 }) : undefined
const outcomes: Outcome[] = []
try {
  if (cluster) await prismaMigrateDeploy(cluster.primaryUrl)
  const env = cluster ? { PRIMARY_URL: cluster.primaryUrl, REPLICA_URLS: cluster.info.replicas.map((r) => r.url).join(',') } : {}
  for (const mutant of chosen) {
    const dir = copyTree()
    try {
      applyMutant(dir, mutant)
      console.log(`mutants: ${mutant.name} (${mutant.what}), ${mutant.tester}, seed ${String(seed)}, up to ${String(seconds)} s`)
      let outcome: Outcome
      if (mutant.tester === 'differential') {
        const fuzz = async (): Promise<{ found: boolean; detail: string; self: boolean }> => {
          const { code, output } = await runScript(dir, 'fuzz.ts', ['--seconds', String(seconds), '--seed', String(seed), '--no-shrink'], env)
          const first = /first failure after (\d+) cases \(run (\d+)\)/.exec(output)
          const total = /seed \d+: (\d+) runs, (\d+) cases/.exec(output)
          const self = output.includes("the router's self-check found")
          if (code === 1 && first)
            return { found: true, self, detail: `found after ${first[1] ?? '?'} cases (run ${first[2] ?? '?'})${self ? ', by the self-check' : ', by a mismatch'}` }
          if (code === 0) return { found: false, self, detail: `survived ${total?.[2] ?? '?'} cases (${total?.[1] ?? '?'} runs)` }
          return { found: false, self, detail: `the tester failed to run (exit ${String(code)}):\n${output.slice(-2000)}` }
        }
        const first = await fuzz()
        let detail = first.detail
        if (first.self) {
          // Found by the router's own self-check (which then takes Prisma's path): and by the comparison alone?
          applyMutant(dir, SELF_CHECK_OFF)
          const alone = await fuzz()
          detail += `; with the self-check off: ${alone.detail}`
        }
        outcome = { mutant, found: first.found, detail }
      } else {
        const { code, output } = await runScript(dir, 'soak.ts', ['--seconds', String(seconds), '--seed', String(seed), '--full', '1'], {})
        const summary = /violations: read-your-writes=(\d+) monotonic=(\d+) extensions=(\d+) failed-reads=(\d+) writes-once=(\d+)/.exec(output)
        const reads = /reads=(\d+)/.exec(output)
        const firstAt = /first-ryw=(\S+) first-monotonic=(\S+)/.exec(output)
        const firstExtension = /\[extensions\] seed=\d+ at (\S+)s/.exec(output)
        if (code === 1 && summary) {
          outcome = {
            mutant,
            found: true,
            detail: `found: ${summary[1] ?? '?'} read-your-writes, ${summary[2] ?? '?'} monotonic, ${summary[3] ?? '?'} extensions, ${summary[4] ?? '?'} failed-reads, ${summary[5] ?? '?'} writes-once violations in ${reads?.[1] ?? '?'} reads (first: read-your-writes ${firstAt?.[1] ?? '-'}, extensions ${firstExtension ? `${firstExtension[1] ?? '?'}s` : '-'})`,
          }
        } else if (code === 0) outcome = { mutant, found: false, detail: `survived ${reads?.[1] ?? '?'} reads` }
        else outcome = { mutant, found: false, detail: `the checker failed to run (exit ${String(code)}):\n${output.slice(-2000)}` }
      }
      console.log(`mutants: ${mutant.name}: ${outcome.detail}`)
      outcomes.push(outcome)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
} finally {
  await cluster?.stop()
}

console.log('\nmutant | tester | result')
for (const o of outcomes) console.log(`${o.mutant.name} | ${o.mutant.tester} | ${o.found ? '' : 'SURVIVED: '}${o.detail.split('\n')[0] ?? ''}`)
process.exit(outcomes.every((o) => o.found) ? 0 : 1)
