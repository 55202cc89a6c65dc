import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = resolve(import.meta.dirname, '..')
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  dependencies?: Record<string, string>
  peerDependencies?: Record<string, string>
}

/** Every module the package's own code imports (static or dynamic), by package name. */
function importedPackages(dir: string): Set<string> {
  const found = new Set<string>()
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) {
      for (const name of importedPackages(path)) found.add(name)
      continue
    }
    if (!entry.name.endsWith('.ts')) continue
    const source = readFileSync(path, 'utf8').replace(/^\s*\*.*$/gm, '') // not the examples in TSDoc
    for (const [, specifier = ''] of source.matchAll(/(?:from|import\()\s*'([^']+)'/g)) {
      if (specifier.startsWith('.') || specifier.startsWith('node:') || specifier.startsWith('prisma-replica-router')) continue
      const parts = specifier.split('/')
      found.add(specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier))
    }
  }
  return found
}

describe('package.json', () => {
  it('declares every package that src/ imports (as a dependency or a peer dependency)', () => {
    const declared = new Set([...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {})])
    const imported = importedPackages(join(root, 'src'))
    expect([...imported].filter((name) => !declared.has(name))).toEqual([])
    expect(imported).toContain('@prisma/config') // the CLI reads prisma.config.ts with it
  })
})
