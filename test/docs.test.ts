/** The documentation says what the code does: checks that fail when they drift apart. */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
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
    const row = readme.split('\n').find((line) => line.startsWith('| `onRoute`')) ?? ''
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
