/**
 * MariaDB GTID positions (`@@gtid_binlog_pos`, `@@gtid_slave_pos`, `@@gtid_current_pos`): a list of
 * `domain-server-sequence`, at most one per replication domain (`0-1-1836,1-2-40`). With `gtid_strict_mode`,
 * sequence numbers only grow within a domain, whichever server wrote them, so a replica has applied a position
 * when, in every domain of that position, its own sequence is at least as high.
 */
import { ReplicaRouterError } from '../errors/index.js'

/** Domains and sequences are unsigned 32- and 64-bit numbers. */
const MAX_DOMAIN = 0xffffffffn
const MAX_SEQUENCE = 0xffffffffffffffffn
const GTID = /^(\d{1,10})-(\d{1,10})-(\d{1,20})$/

/** A MariaDB GTID position: per replication domain, the highest sequence number (and the server that wrote it). */
export class MariadbGtidPosition {
  readonly kind = 'mariadb'

  /** @param domains domain -> [server id, sequence]; not copied (treated as immutable). */
  private constructor(private readonly domains: ReadonlyMap<bigint, readonly [bigint, bigint]>) {}

  /** Parses a GTID position as MariaDB prints it; `''` (nothing replicated yet) is the empty position. */
  static parse(text: string): MariadbGtidPosition {
    const domains = new Map<bigint, readonly [bigint, bigint]>()
    const trimmed = text.trim()
    if (trimmed !== '') {
      for (const part of trimmed.split(',')) {
        const match = GTID.exec(part.trim())
        const [domain, server, sequence] = match ? [BigInt(match[1] ?? ''), BigInt(match[2] ?? ''), BigInt(match[3] ?? '')] : []
        if (domain === undefined || server === undefined || sequence === undefined || domain > MAX_DOMAIN || server > MAX_DOMAIN || sequence > MAX_SEQUENCE) {
          throw new ReplicaRouterError(`Not a MariaDB GTID position: ${JSON.stringify(text.slice(0, 60))}`)
        }
        const known = domains.get(domain)
        if (!known || sequence > known[1]) domains.set(domain, [server, sequence])
      }
    }
    return new MariadbGtidPosition(domains)
  }

  /** True when every domain of `other` is at a sequence at most this position's in the same domain. */
  covers(other: MariadbGtidPosition): boolean {
    for (const [domain, [, sequence]] of other.domains) {
      const mine = this.domains.get(domain)
      if (!mine || mine[1] < sequence) return false
    }
    return true
  }

  /** The smallest position that covers both (per domain, the higher sequence). */
  join(other: MariadbGtidPosition): MariadbGtidPosition {
    if (this.covers(other)) return this
    if (other.covers(this)) return other
    const domains = new Map(this.domains)
    for (const [domain, entry] of other.domains) {
      const mine = domains.get(domain)
      if (!mine || mine[1] < entry[1]) domains.set(domain, entry)
    }
    return new MariadbGtidPosition(domains)
  }

  /**
   * How many transactions this position is behind `ahead`, summed over domains (0 when it covers it): the lag
   * in transactions, where PostgreSQL measures bytes.
   */
  behind(ahead: MariadbGtidPosition): bigint {
    let total = 0n
    for (const [domain, [, sequence]] of ahead.domains) {
      const mine = this.domains.get(domain)?.[1] ?? 0n
      if (sequence > mine) total += sequence - mine
    }
    return total
  }

  /** As MariaDB prints it: `0-1-1836,1-2-40`, domains in ascending order. */
  toString(): string {
    return [...this.domains]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([domain, [server, sequence]]) => `${String(domain)}-${String(server)}-${String(sequence)}`)
      .join(',')
  }
}
