import { connect, createServer, type Server, type Socket } from 'node:net'
import { describeValue } from '../describe-value.js'
import { listen } from './listen.js'

/** Options of {@link startFaultProxy}. */
export interface StartFaultProxyOptions {
  /** The server the proxy forwards to, on loopback. */
  readonly target: {
    /**
     * Its host.
     * @default '127.0.0.1'
     */
    readonly host?: string | undefined
    /** Its TCP port. */
    readonly port: number
  }
  /**
   * Port to listen on, on 127.0.0.1.
   * @default 0 (a free port)
   */
  readonly port?: number | undefined
}

/** The network between an application and one server, as a {@link FaultProxy} makes it. */
export interface NetworkConditions {
  /**
   * Delay added to every chunk, each way (ms): a round trip costs twice this.
   * @default 0
   */
  readonly latencyMs?: number | undefined
  /**
   * Up to this much more delay, drawn per chunk (ms); chunks keep their order.
   * @default 0
   */
  readonly jitterMs?: number | undefined
  /**
   * Bytes per second, each way, per connection (`undefined`: no cap).
   * @default undefined
   */
  readonly bytesPerSecond?: number | undefined
}

/**
 * A fault-injecting TCP proxy in front of one server, for tests (the kernel here has no `netem`): point a client
 * at {@link FaultProxy.url} instead of the server and change the network under it while it runs. Every
 * connection is a pair of sockets, the client's and the proxy's own to the server, whose bytes it forwards:
 * with latency and jitter, under a bandwidth cap, or not at all.
 *
 * - {@link partition}: a blackhole, as a cloud network partition looks: no byte goes through either way and no
 *   connection is refused or reset (a new one is accepted and hangs); what was sent meanwhile is held, as TCP
 *   retransmits it, and delivered in order once {@link heal}ed. Not modelled: the proxy still opens its own
 *   connection to the server for a connection accepted during a partition (the server sees it, and ends it after
 *   its authentication timeout), and a side that closes or fails is passed on at once.
 * - {@link halfOpen}: the server's side of every open connection is gone without a word (its socket closed, as
 *   when the server's host died), while the client's stays open and hears nothing, ever.
 * - {@link reset}: every open connection reset at once (RST); {@link resetAfter}: each connection reset after
 *   the server sent it that many more bytes, in the middle of a result.
 */
export class FaultProxy {
  private conditions: Required<Pick<NetworkConditions, 'latencyMs' | 'jitterMs'>> & Pick<NetworkConditions, 'bytesPerSecond'> = {
    latencyMs: 0,
    jitterMs: 0,
    bytesPerSecond: undefined,
  }
  private partitioned = false
  private resetBytes: number | undefined
  private readonly pairs = new Set<Pair>()

  private constructor(
    private readonly server: Server,
    /** The port it listens on, on 127.0.0.1. */
    readonly port: number,
    private target: { readonly host: string; readonly port: number },
  ) {}

  /** @internal */
  static async start(options: StartFaultProxyOptions): Promise<FaultProxy> {
    const target = { host: options.target.host ?? '127.0.0.1', port: options.target.port }
    if (!Number.isInteger(target.port) || target.port <= 0 || target.port > 65_535)
      throw new TypeError(`Expected \`target.port\` to be a port number, got ${describeValue(options.target.port)}`)
    const made: { proxy?: FaultProxy } = {}
    const server = createServer((socket) => {
      if (made.proxy) made.proxy.accept(socket)
      else socket.destroy()
    })
    const port = await listen(server, options.port ?? 0)
    server.unref()
    made.proxy = new FaultProxy(server, port, target)
    return made.proxy
  }

  /** `url` (a connection URL of the proxied server) with the proxy's host and port instead. */
  url(url: string): string {
    const parsed = new URL(url)
    parsed.hostname = '127.0.0.1'
    parsed.port = String(this.port)
    return parsed.toString()
  }

  /** Connections open through the proxy now. */
  get connections(): number {
    return this.pairs.size
  }

  /** Bytes sent through the proxy, either way, not delivered yet (held by a partition, or delayed). */
  get pendingBytes(): number {
    let bytes = 0
    for (const pair of this.pairs) bytes += pair.pendingBytes
    return bytes
  }

  /** Sets the network's latency, jitter and bandwidth (settings left out keep their value); applies to chunks sent from now on. */
  setConditions(conditions: NetworkConditions): void {
    for (const key of ['latencyMs', 'jitterMs'] as const) {
      const value = conditions[key]
      if (value !== undefined && (!Number.isFinite(value) || value < 0)) throw new TypeError(`Expected \`${key}\` to be a number >= 0, got ${describeValue(value)}`)
    }
    const rate = conditions.bytesPerSecond
    if (rate !== undefined && (!Number.isFinite(rate) || rate <= 0)) throw new TypeError(`Expected \`bytesPerSecond\` to be a number > 0, got ${describeValue(rate)}`)
    this.conditions = {
      latencyMs: conditions.latencyMs ?? this.conditions.latencyMs,
      jitterMs: conditions.jitterMs ?? this.conditions.jitterMs,
      bytesPerSecond: 'bytesPerSecond' in conditions ? rate : this.conditions.bytesPerSecond,
    }
  }

  /** A blackhole, both ways, until {@link heal}: nothing refused or reset, nothing delivered (held, as TCP retransmits). */
  partition(): void {
    this.partitioned = true
  }

  /**
   * Closes the server's side of every open connection without telling the client (its socket stays open and
   * hears nothing more: a half-open connection); new connections are unaffected.
   */
  halfOpen(): void {
    for (const pair of this.pairs) pair.halfOpen()
  }

  /** Resets every open connection at once (RST to the client, the server's side closed). */
  reset(): void {
    for (const pair of [...this.pairs]) pair.reset()
  }

  /**
   * Resets each connection (RST) once the server has sent it `bytes` more bytes from now (new connections
   * count from their first byte): a connection lost in the middle of a result. `undefined` stops it.
   */
  resetAfter(bytes: number | undefined): void {
    if (bytes !== undefined && (!Number.isInteger(bytes) || bytes < 0)) throw new TypeError(`Expected \`bytes\` to be an integer >= 0, got ${describeValue(bytes)}`)
    this.resetBytes = bytes
    for (const pair of this.pairs) pair.resetAfter(bytes)
  }

  /**
   * Sends every new connection to another server from now on (as a DNS name or a virtual IP moved by a failover);
   * the connections open now stay with the old one ({@link reset} them to end them).
   */
  retarget(target: { readonly host?: string | undefined; readonly port: number }): void {
    if (!Number.isInteger(target.port) || target.port <= 0 || target.port > 65_535)
      throw new TypeError(`Expected \`target.port\` to be a port number, got ${describeValue(target.port)}`)
    this.target = { host: target.host ?? '127.0.0.1', port: target.port }
  }

  /** Ends the partition (delivering what it held), and every condition: no latency, jitter, cap or reset. */
  heal(): void {
    this.partitioned = false
    this.conditions = { latencyMs: 0, jitterMs: 0, bytesPerSecond: undefined }
    this.resetAfter(undefined)
    for (const pair of this.pairs) pair.flush()
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    for (const pair of [...this.pairs]) pair.destroy()
    await new Promise<void>((resolve) => {
      this.server.close(() => {
        resolve()
      })
    })
  }

  /** @internal */
  get isPartitioned(): boolean {
    return this.partitioned
  }

  /**
   * @internal When a chunk of `size` bytes sent now arrives: on the wire from when the link is free (`busyUntil`,
   * the end of the previous chunk's transmission) for `size / bytesPerSecond`, then the latency and jitter; never
   * before the previous chunk of its direction (`after`). Returns the arrival and the link's new `busyUntil`.
   */
  deliveryTime(size: number, after: number, busyUntil: number): { readonly at: number; readonly busyUntil: number } {
    const { latencyMs, jitterMs, bytesPerSecond } = this.conditions
    const transmitted = Math.max(performance.now(), busyUntil) + (bytesPerSecond === undefined ? 0 : (size / bytesPerSecond) * 1000)
    return { at: Math.max(transmitted + latencyMs + Math.random() * jitterMs, after), busyUntil: transmitted }
  }

  private accept(client: Socket): void {
    const upstream = connect({ host: this.target.host, port: this.target.port })
    const pair = new Pair(this, client, upstream, () => this.pairs.delete(pair))
    this.pairs.add(pair)
    pair.resetAfter(this.resetBytes)
  }
}

/** One connection through the proxy: the client's socket and the proxy's to the server. */
class Pair {
  private readonly toServer: Direction
  private readonly toClient: Direction
  private closed = false
  /** Server bytes left before the connection is reset ({@link FaultProxy.resetAfter}). */
  private resetIn: number | undefined

  constructor(
    private readonly proxy: FaultProxy,
    private readonly client: Socket,
    private readonly upstream: Socket,
    private readonly onClose: () => void,
  ) {
    this.toServer = new Direction(proxy, upstream)
    this.toClient = new Direction(proxy, client)
    client.on('data', (chunk: Buffer) => {
      this.toServer.send(chunk)
    })
    upstream.on('data', (chunk: Buffer) => {
      if (this.resetIn !== undefined) {
        if (chunk.length >= this.resetIn) {
          this.toClient.send(chunk.subarray(0, this.resetIn))
          this.toClient.then(() => {
            this.reset()
          })
          this.resetIn = undefined
          upstream.pause()
          return
        }
        this.resetIn -= chunk.length
      }
      this.toClient.send(chunk)
    })
    const end = () => {
      this.destroy()
    }
    client.on('error', end)
    upstream.on('error', end)
    client.on('close', end)
    upstream.on('close', () => {
      // The server's side closed: the client hears it once what was in flight has arrived (never while halfOpen).
      if (this.halfOpened) return
      this.toClient.then(() => {
        this.destroy()
      })
    })
  }

  private halfOpened = false

  get pendingBytes(): number {
    return this.toServer.pendingBytes + this.toClient.pendingBytes
  }

  halfOpen(): void {
    this.halfOpened = true
    this.toClient.drop()
    this.toServer.drop()
    this.upstream.destroy()
  }

  resetAfter(bytes: number | undefined): void {
    this.resetIn = bytes
  }

  flush(): void {
    this.toServer.flush()
    this.toClient.flush()
  }

  reset(): void {
    if (this.closed) return
    this.client.resetAndDestroy()
    this.destroy()
  }

  destroy(): void {
    if (this.closed) return
    this.closed = true
    this.toServer.drop()
    this.toClient.drop()
    this.client.destroy()
    this.upstream.destroy()
    this.onClose()
  }
}

/** One direction of a connection: chunks delivered in order, each at its time, or held while partitioned. */
class Direction {
  private readonly queue: { chunk: Buffer; at: number }[] = []
  private last = 0
  /** When the link (this direction) is done transmitting what was sent so far (the bandwidth cap). */
  private busyUntil = 0
  private timer: NodeJS.Timeout | undefined
  private dropped = false
  private readonly waiting: (() => void)[] = []

  constructor(
    private readonly proxy: FaultProxy,
    private readonly to: Socket,
  ) {}

  get pendingBytes(): number {
    return this.queue.reduce((sum, { chunk }) => sum + chunk.length, 0)
  }

  send(chunk: Buffer): void {
    if (this.dropped) return
    const { at, busyUntil } = this.proxy.deliveryTime(chunk.length, this.last, this.busyUntil)
    this.last = at
    this.busyUntil = busyUntil
    this.queue.push({ chunk, at })
    this.schedule()
  }

  /** Runs `fn` once every chunk sent so far has been delivered (or dropped). */
  then(fn: () => void): void {
    if (this.queue.length === 0 || this.dropped) fn()
    else this.waiting.push(fn)
  }

  /** Delivers what the partition held (called when it ends). */
  flush(): void {
    this.schedule()
  }

  drop(): void {
    this.dropped = true
    this.queue.length = 0
    clearTimeout(this.timer)
    for (const fn of this.waiting.splice(0)) fn()
  }

  private schedule(): void {
    if (this.timer !== undefined || this.dropped || this.proxy.isPartitioned) return
    const next = this.queue[0]
    if (!next) return
    this.timer = setTimeout(
      () => {
        this.timer = undefined
        this.deliver()
      },
      Math.max(0, next.at - performance.now()),
    )
  }

  private deliver(): void {
    if (this.dropped || this.proxy.isPartitioned) return
    const now = performance.now()
    while (this.queue[0] && this.queue[0].at <= now) {
      const { chunk } = this.queue.shift() ?? { chunk: Buffer.alloc(0) }
      if (!this.to.destroyed) this.to.write(chunk)
    }
    if (this.queue.length === 0) for (const fn of this.waiting.splice(0)) fn()
    else this.schedule()
  }
}

/**
 * Starts a {@link FaultProxy} in front of `options.target` (on 127.0.0.1 by default), listening on a free port
 * of 127.0.0.1. Its listening socket never keeps the process alive; `close()` ends every connection.
 * @example
 * const proxy = await startFaultProxy({ target: { port: cluster.replica('replica-1').port } })
 * const replica = new PrismaClient({ adapter: new PrismaPg({ connectionString: proxy.url(cluster.replica('replica-1').url) }) })
 * proxy.partition() // replica-1 unreachable, silently
 * proxy.heal()
 */
export async function startFaultProxy(options: StartFaultProxyOptions): Promise<FaultProxy> {
  return await FaultProxy.start(options)
}
