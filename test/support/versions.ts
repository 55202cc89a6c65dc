/** The Prisma releases the suite runs against (`npm run test:compat` installs others), for version-aware assertions. */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { Prisma } from '@prisma/client/extension'

/** `version` >= `minimum` (plain x.y.z; a pre-release counts as its release). */
export function atLeast(version: string, minimum: string): boolean {
  const parts = (v: string) => v.split(/[.-]/).slice(0, 3).map(Number)
  const [a, b] = [parts(version), parts(minimum)]
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0)
  return true
}

/** The installed `@prisma/client` runtime's version. */
export const clientVersion: string = Prisma.prismaVersion.client

/** The version of the package that `specifier` resolves to (its package.json need not be exported). */
function installedVersion(specifier: string): string {
  let dir = dirname(createRequire(import.meta.url).resolve(specifier))
  for (;;) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string }
      if (manifest.name === specifier && typeof manifest.version === 'string') return manifest.version
    } catch {
      // no package.json at this level
    }
    const parent = dirname(dir)
    if (parent === dir) throw new Error(`no package.json of ${specifier} above its entry point`)
    dir = parent
  }
}

/** The installed `@prisma/adapter-pg`'s version. */
export const adapterPgVersion: string = installedVersion('@prisma/adapter-pg')
