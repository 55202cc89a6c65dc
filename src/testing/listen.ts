import type { Server } from 'node:net'

/** Starts `server` listening on `host`:`port` (0: a free port); resolves with the port it got. */
export async function listen(server: Server, port: number, host = '127.0.0.1'): Promise<number> {
  return await new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      reject(error)
    }
    server.once('error', onError)
    server.listen(port, host, () => {
      server.off('error', onError)
      const address = server.address()
      resolve(address && typeof address === 'object' ? address.port : 0)
    })
  })
}
