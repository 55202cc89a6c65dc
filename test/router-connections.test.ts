import { describe, expect, it } from 'vitest'
import { linkTo, SHARED_CONNECTIONS_WARNING } from '../src/router-connections.ts'

/** A client as the router sees it: `_engineConfig.adapter` is the driver adapter factory it was built with. */
const clientWith = (adapter: object) => ({ _engineConfig: { adapter }, $queryRawUnsafe: () => Promise.resolve([]) })

describe('which connection the router’s own queries take (linkTo)', () => {
  it('its own, for @prisma/adapter-pg settings it can connect with', () => {
    expect(linkTo(clientWith({ adapterName: '@prisma/adapter-pg', config: { connectionString: 'postgresql://u:p@db/app' } }), 'the primary', 10_000).own).toBe(true)
    expect(linkTo(clientWith({ adapterName: '@prisma/adapter-pg', config: { host: 'db', user: 'u', password: 'p' } }), 'the primary', 10_000).own).toBe(true)
  })

  it('its own, with Neon’s serverless driver, for a client built with new PrismaNeon(config)', () => {
    expect(linkTo(clientWith({ adapterName: '@prisma/adapter-neon', config: { connectionString: 'postgresql://u:p@db/app' } }), 'the primary', 10_000).own).toBe(true)
  })

  it('the client’s, with one warning, for another adapter, a socket factory or a client class of its own', async () => {
    const warnings: Error[] = []
    const onWarning = (w: Error) => warnings.push(w)
    process.on('warning', onWarning)
    try {
      const config = { connectionString: 'postgresql://u:secret@db/app' }
      expect(linkTo(clientWith({ adapterName: 'custom-adapter', config }), 'replica `a`', 10_000).own).toBe(false)
      // PrismaNeonHttp: queries over HTTP, no session (its factory keeps a connection string, no config).
      expect(linkTo(clientWith({ adapterName: '@prisma/adapter-neon', connectionString: config.connectionString }), 'replica `d`', 10_000).own).toBe(false)
      // A Cloud SQL connector or an SSH tunnel: the router cannot tell where such a pool connects.
      expect(linkTo(clientWith({ adapterName: '@prisma/adapter-pg', config: { ...config, stream: () => undefined } }), 'replica `b`', 10_000).own).toBe(false)
      expect(
        linkTo(
          clientWith({
            adapterName: '@prisma/adapter-pg',
            config: {
              ...config,
              Client: function Client() {
                return undefined
              },
            },
          }),
          'replica `c`',
          10_000,
        ).own,
      ).toBe(false)
      await new Promise<void>((resolve) => setImmediate(resolve))
      const shared = warnings.filter((w) => (w as { code?: string }).code === SHARED_CONNECTIONS_WARNING)
      expect(shared).toHaveLength(1) // once per process
      expect(shared[0]?.message).toContain("replica `a`'s PrismaClient was not built with @prisma/adapter-pg or @prisma/adapter-neon")
      expect(shared[0]?.message).not.toContain('secret')
    } finally {
      process.off('warning', onWarning)
    }
  })
})
