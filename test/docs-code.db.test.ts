/**
 * The code in README.md and docs/, kept true to the package (the Quick start is run whole by
 * test/quick-start.db.test.ts):
 * - every TypeScript block compiles against the built package, as a consumer imports it (strict,
 *   exactOptionalPropertyTypes). A fragment that uses a name it does not define (`prisma`, `base`, `replicas`,
 *   `app`, an extension…) gets a declaration of it, and nothing else, prepended (`CONTEXT` below);
 * - a block marked `<!-- docs: runs -->` is run, as written, with tsx (from that project, in this repository's
 *   directory), and must exit 0 with nothing on stderr;
 * - every `npm run <script>` the docs name is a script in package.json.
 */
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const root = resolve(import.meta.dirname, '..')
/** The test schema's generated client (User, Post, …), which the blocks' `./generated/prisma/client.js` stands for. */
const CLIENT = join(root, 'generated/prisma/client.js')
const project = mkdtempSync(join('/tmp', 'prr-docs-code-'))
const docs = [
  'README.md',
  ...readdirSync(join(root, 'docs'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
]
  .filter((f) => !f.startsWith('docs/api/'))
  .sort()

interface Block {
  /** `docs/testing.md:7`: the file and the line of the opening fence. */
  readonly where: string
  readonly lang: string
  readonly code: string
  /** What the line before the fence says: `runs` (`<!-- docs: runs -->`), `quick-start`, or nothing. */
  readonly mark: 'runs' | 'quick-start' | undefined
}

const blocks: Block[] = docs.flatMap((file) => {
  const lines = readFileSync(join(root, file), 'utf8').split('\n')
  const found: Block[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w+)$/.exec(lines[i] ?? '')
    if (!open) continue
    const end = lines.indexOf('```', i + 1)
    const before = lines[i - 1] ?? ''
    const mark = before.startsWith('<!-- quick-start:') ? 'quick-start' : before === '<!-- docs: runs -->' ? 'runs' : undefined
    found.push({ where: `${file}:${String(i + 1)}`, lang: open[1] ?? '', code: lines.slice(i + 1, end).join('\n'), mark })
    i = end
  }
  return found
})
const typescript = blocks.filter((b) => b.lang === 'ts' && b.mark !== 'quick-start')

/**
 * What a fragment may use without defining it, each as the application around it would have it: name, the
 * names its declaration uses, and the declaration. `PrismaClient` is the test schema's (User, Post, …), or
 * the MariaDB schema's for a block that imports the MariaDB adapter.
 */
const CONTEXT: readonly (readonly [name: string, uses: readonly string[], declaration: string])[] = [
  ['PrismaClient', [], `import { PrismaClient } from '${CLIENT}'`],
  ['readReplicas', [], `import { readReplicas } from 'prisma-replica-router'`],
  ['runInScope', [], `import { runInScope } from 'prisma-replica-router'`],
  ['base', ['PrismaClient'], 'declare const base: PrismaClient'],
  ['replicas', ['PrismaClient'], 'declare const replicas: PrismaClient[]'],
  ['prisma', ['base', 'readReplicas', 'replicas'], 'const prisma = base.$extends(readReplicas({ replicas }))'],
  ['app', [], 'declare const app: { use(handler: (req: unknown, res: unknown, next: () => void) => unknown): void }'],
  ['Prisma', [], `import { Prisma } from '${CLIENT}'`],
  ['softDelete', ['Prisma'], "const softDelete = Prisma.defineExtension({ name: 'soft-delete' })"],
  ['tenantFilter', ['Prisma'], 'const tenantFilter = (tenantId: string) => Prisma.defineExtension({ name: `tenant ${tenantId}` })'],
  ['tenantId', [], 'declare const tenantId: string'],
]

/** Whether `code` defines `name` itself (an import, a declaration, a parameter list aside). */
const defines = (code: string, name: string) =>
  new RegExp(`\\b(?:const|let|var|function|class|type|interface)\\s+${name}\\b`).test(code) || new RegExp(`^import\\b[^\\n]*\\b${name}\\b[^\\n]*\\bfrom\\b`, 'm').test(code)
const uses = (code: string, name: string) => new RegExp(`(?<![.\\w$'"])${name.replace('$', '\\$')}\\b`).test(code.replace(/\/\/.*$/gm, ''))

/** The block as a module of the consumer project: its context prepended, the Quick start's client path mapped. */
function moduleOf(block: Block): string {
  const code = block.code.replace(/(['"])\.\/generated\/prisma\/client\.js\1/g, `'${CLIENT}'`)
  const needed = new Set<string>()
  const need = (name: string) => {
    if (needed.has(name) || defines(code, name)) return
    const entry = CONTEXT.find(([n]) => n === name)
    if (!entry) return
    entry[1].forEach(need)
    needed.add(name)
  }
  for (const [name] of CONTEXT) if (uses(code, name)) need(name)
  const context = CONTEXT.filter(([name]) => needed.has(name)).map(([name, , declaration]) =>
    ['PrismaClient', 'Prisma'].includes(name) && code.includes('@prisma/adapter-mariadb') ? declaration.replace('generated/prisma/', 'generated/mysql/') : declaration,
  )
  return `${context.join('\n')}\n${code}\nexport {}\n`
}

const fileOf = (block: Block) => `${block.where.replace(/[/.:]/g, '-')}.ts`

beforeAll(() => {
  expect(existsSync(join(root, 'dist/index.d.ts')), 'dist/ is missing: run `npm run build` (npm test does)').toBe(true)
  mkdirSync(join(project, 'node_modules'))
  // The package by name, through its exports map (dist/), with this repository's dependencies.
  symlinkSync(root, join(project, 'node_modules/prisma-replica-router'))
  for (const dependency of readdirSync(join(root, 'node_modules'))) {
    if (dependency !== '.bin' && dependency !== 'prisma-replica-router') symlinkSync(join(root, 'node_modules', dependency), join(project, 'node_modules', dependency))
  }
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'docs-code', private: true, type: 'module' }))
  chmodSync(project, 0o755)
  for (const block of typescript) writeFileSync(join(project, fileOf(block)), moduleOf(block))
})
afterAll(() => {
  rmSync(project, { recursive: true, force: true })
})

describe('the code in README.md and docs/', () => {
  it('has the TypeScript blocks this test checks, and marks the ones it runs', () => {
    expect(typescript.length).toBeGreaterThanOrEqual(8)
    expect(typescript.filter((b) => b.mark === 'runs').map((b) => b.where)).toEqual(['docs/testing.md:8'])
  })

  it('every TypeScript block compiles against the built package (strict, exactOptionalPropertyTypes)', () => {
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          strict: true,
          exactOptionalPropertyTypes: true,
          allowImportingTsExtensions: true,
          noEmit: true,
          skipLibCheck: true,
          types: ['node'],
        },
        files: typescript.map(fileOf),
      }),
    )
    const result = spawnSync(join(root, 'node_modules/.bin/tsc'), ['-p', project], { cwd: project, encoding: 'utf8' })
    // An error names the block's file (its README or docs/ location) and the line in it, context included.
    expect(result.stdout + result.stderr).toBe('')
    expect(result.status).toBe(0)
  }, 120_000)

  it.for<Block>(typescript.filter((b) => b.mark === 'runs'))('$where runs as written', { timeout: 120_000 }, (block) => {
    // In this repository (the test kit's prismaMigrateDeploy runs `prisma migrate deploy` in the working directory).
    const result = spawnSync(join(root, 'node_modules/.bin/tsx'), [join(project, fileOf(block))], { cwd: root, encoding: 'utf8', timeout: 90_000 })
    expect(result.stderr).toBe('')
    expect(result.status).toBe(0)
  })

  it('every `npm run <script>` they name is a script in package.json', () => {
    const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts
    const named = new Set(docs.flatMap((file) => [...readFileSync(join(root, file), 'utf8').matchAll(/npm run ([\w:-]+)/g)].map((m) => m[1] ?? '')))
    expect(named.size).toBeGreaterThan(10)
    expect([...named].filter((script) => !(script in scripts))).toEqual([])
  })
})
