/** The documentation says what the code does: checks that fail when they drift apart. */
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = resolve(import.meta.dirname, '..')
const read = (path: string) => readFileSync(join(root, path), 'utf8')
const readme = read('README.md')
const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts

describe('README and the examples’ READMEs', () => {
  it('list every reason a routing event can carry', () => {
    const union = /export type RouteReason =([^;]*?)\n\n/s.exec(read('src/route-event.ts'))?.[1] ?? ''
    const reasons = [...union.matchAll(/'([a-z-]+)'/g)].map((m) => m[1])
    expect(reasons.length).toBeGreaterThan(5)
    const row =
      read('docs/options.md')
        .split('\n')
        .find((line) => line.startsWith('| `onRoute`')) ?? ''
    expect(reasons.filter((reason) => !row.includes(`\`${reason}\``))).toEqual([])
  })

  it('quote the npm scripts as package.json has them', () => {
    expect(read('examples/catalog/README.md')).toContain(`\`${scripts['example:catalog'] ?? '?'}\``)
  })
})

describe('src/README.md, the module map', () => {
  it('lists every source file, and no file that is not there', () => {
    const map = read('src/README.md')
    const files = execFileSync('git', ['ls-files', 'src/*.ts', 'src/**/*.ts'], { cwd: root, encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map((file) => file.slice('src/'.length))
    // Paths are relative to src/ (test files it names start with test/).
    const listed = new Set([...map.matchAll(/`([\w/.-]+\.ts)`/g)].map((m) => m[1] ?? '').filter((file) => !file.startsWith('test/')))
    expect(files.filter((file) => !listed.has(file))).toEqual([])
    expect([...listed].filter((file) => !files.includes(file))).toEqual([])
  })
})

describe('.gitignore', () => {
  it('ignores no file the repository tracks', () => {
    expect(execFileSync('git', ['ls-files', '--cached', '--ignored', '--exclude-standard'], { cwd: root, encoding: 'utf8' })).toBe('')
  })
})

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-')
const anchorsOf = (path: string) => new Set([...read(path).matchAll(/^#+ (.+)$/gm)].map((m) => slug(m[1] ?? '')))
const guides = readdirSync(join(root, 'docs'))
  .filter((file) => file.endsWith('.md'))
  .map((file) => `docs/${file}`)

describe('the front page and the guides (docs/)', () => {
  it('the README fits on two screens and links every guide', () => {
    expect(readme.split('\n').length).toBeLessThanOrEqual(120)
    for (const guide of guides) expect(readme, guide).toContain(`](${guide})`)
  })

  it('every relative link resolves: the file exists, and the heading its #anchor names', () => {
    const broken: string[] = []
    for (const page of ['README.md', ...guides]) {
      // Links outside code: fenced blocks and inline code dropped first.
      const text = read(page)
        .replace(/```[\s\S]*?```/g, '')
        .replace(/`[^`\n]*`/g, '')
      for (const [, target = ''] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target)) continue
        const [file = '', anchor] = target.split('#')
        const path = file === '' ? page : join(dirname(page), file)
        if (!existsSync(join(root, path))) broken.push(`${page}: ${target} (no such file)`)
        else if (anchor !== undefined && path.endsWith('.md') && !anchorsOf(path).has(anchor)) broken.push(`${page}: ${target} (no such heading)`)
      }
    }
    expect(broken).toEqual([])
  })
})
