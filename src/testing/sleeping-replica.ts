import { connect, createServer, type Server, type Socket } from 'node:net'
import { listen } from './listen.js'
import type { LocalCluster } from './local-cluster.js'

/** Options of {@link sleepWhenIdle}. */
export interface SleepWhenIdleOptions {
  /**
   * Milliseconds without any connection through the entry after which the replica is stopped (suspended).
   * A finite number >= 0.
   * @example 500
   */
  readonly idleMs: number
}

/**
 * A replica that suspends when idle, as a Neon compute does: an entry (a loopback TCP proxy) in front of one of a
 * {@link LocalCluster}'s replicas. After `idleMs` without a connection through it, the replica's server is
 * stopped; the next connection starts it again and is held (its bytes wait) until the server accepts, as Neon's
 * proxy holds the connection that wakes a compute. Connect through {@link url}. Never keeps the process alive.
 */
export class SleepingReplica {
  private readonly sockets = new Set<Socket>()
  private active = 0
  private idleTimer: NodeJS.Timeout | undefined
  /** Stopping or starting the server, in order. */
  private transition: Promise<void> = Promise.resolve()
  private sleeping = false
  private closed = false
  /** How many times it was suspended, and woken. */
  readonly counts: {
    /** Times the server was stopped for idleness. */
    sleeps: number
    /** Times a connection started it again. */
    wakes: number
  } = { sleeps: 0, wakes: 0 }
  /** Errors of stopping or starting the server (a test should expect none). */
  readonly errors: string[] = []

  private constructor(
    private readonly server: Server,
    private readonly cluster: LocalCluster,
    /** The replica's name in the cluster. */
    readonly name: string,
    private readonly options: SleepWhenIdleOptions,
  ) {}

  /** @internal */
  static async start(cluster: LocalCluster, name: string, options: SleepWhenIdleOptions): Promise<SleepingReplica> {
    const idleMs: unknown = (options as Partial<SleepWhenIdleOptions> | undefined)?.idleMs
    if (typeof idleMs !== 'number' || !Number.isFinite(idleMs) || idleMs < 0) {
      throw new TypeError(`Expected \`idleMs\` to be a finite number >= 0, got ${typeof idleMs === 'number' ? String(idleMs) : typeof idleMs}`)
    }
    cluster.replica(name) // throws for an unknown name
    const server = createServer()
    const entry = new SleepingReplica(server, cluster, name, options)
    server.on('connection', (socket) => {
      entry.accept(socket)
    })
    await listen(server, 0)
    server.unref()
    entry.armIdle()
    return entry
  }

  /** The port it listens on, on 127.0.0.1. */
  get port(): number {
    const address = this.server.address()
    return address && typeof address === 'object' ? address.port : 0
  }

  /** The replica's URL through this entry (`postgresql://postgres@127.0.0.1:<port>/<database>`). */
  url(database = this.cluster.info.database): string {
    return `postgresql://postgres@127.0.0.1:${String(this.port)}/${database}`
  }

  /** Whether the replica is suspended now (stopped, or stopping). */
  get asleep(): boolean {
    return this.sleeping
  }

  /** Closes the entry and its connections, and leaves the replica running. */
  async stop(): Promise<void> {
    this.closed = true
    clearTimeout(this.idleTimer)
    for (const s of this.sockets) s.destroy()
    await new Promise((resolve) => this.server.close(resolve))
    await this.transition
    if (this.sleeping || !this.cluster.isRunning(this.name)) await this.cluster.startReplica(this.name)
    this.sleeping = false
  }

  private accept(client: Socket): void {
    this.active += 1
    clearTimeout(this.idleTimer)
    this.sockets.add(client)
    client.pause()
    client.on('error', () => client.destroy())
    client.on('close', () => {
      this.sockets.delete(client)
      this.active -= 1
      this.armIdle()
    })
    if (this.sleeping) {
      this.sleeping = false
      this.counts.wakes += 1
      this.transitionTo('start')
    }
    void this.transition.then(() => {
      if (client.destroyed) return
      const { port } = this.cluster.replica(this.name)
      const upstream = connect(port, '127.0.0.1')
      this.sockets.add(upstream)
      upstream.on('close', () => {
        this.sockets.delete(upstream)
        client.destroy()
      })
      upstream.on('error', () => upstream.destroy())
      client.on('close', () => upstream.destroy())
      client.pipe(upstream)
      upstream.pipe(client)
      client.resume()
    })
  }

  private armIdle(): void {
    clearTimeout(this.idleTimer)
    if (this.closed || this.active > 0 || this.sleeping) return
    this.idleTimer = setTimeout(() => {
      if (this.closed || this.active > 0 || this.sleeping) return
      this.sleeping = true
      this.counts.sleeps += 1
      this.transitionTo('stop')
    }, this.options.idleMs)
    this.idleTimer.unref()
  }

  /** Starts or stops the replica's server after the transitions before, recording a failure. */
  private transitionTo(step: 'start' | 'stop'): void {
    this.transition = this.transition
      .then(() => (step === 'start' ? this.cluster.startReplica(this.name) : this.cluster.stopReplica(this.name)))
      .catch((error: unknown) => {
        this.errors.push(`${step}: ${String(error)}`)
      })
  }
}

/**
 * Makes one of `cluster`'s replicas suspend when idle and wake on the next connection, as Neon's computes do:
 * see {@link SleepingReplica}. Connect to it through the returned entry's `url()`.
 * @example const sleepy = await sleepWhenIdle(cluster, 'replica-1', { idleMs: 500 })
 */
export async function sleepWhenIdle(cluster: LocalCluster, name: string, options: SleepWhenIdleOptions): Promise<SleepingReplica> {
  return await SleepingReplica.start(cluster, name, options)
}
