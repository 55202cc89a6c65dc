/**
 * MySQL GTID sets (`@@GLOBAL.gtid_executed`): per source server UUID (and, from MySQL 8.3, per tag), the
 * intervals of transaction numbers applied: `3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:11-18,…`. A set may have
 * gaps while parallel appliers run. A replica has applied a set when that set is a subset of its own
 * (`GTID_SUBSET(required, @@GLOBAL.gtid_executed)` on the server).
 *
 * Verified against the MySQL documentation's grammar only: no MySQL server can be installed where this was built.
 */
import { ReplicaRouterError } from '../errors/index.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const TAG = /^[a-z_][a-z0-9_]{0,31}$/
const INTERVAL = /^(\d{1,19})(?:-(\d{1,19}))?$/

/** Closed intervals `[from, to]`, sorted, disjoint and not adjacent. */
type Intervals = readonly (readonly [bigint, bigint])[]

function normalize(intervals: (readonly [bigint, bigint])[]): Intervals {
  intervals.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  const merged: [bigint, bigint][] = []
  for (const [from, to] of intervals) {
    const last = merged.at(-1)
    if (last && from <= last[1] + 1n) {
      if (to > last[1]) last[1] = to
    } else merged.push([from, to])
  }
  return merged
}

/** True when every interval of `inner` lies within one of `outer`. */
function within(inner: Intervals, outer: Intervals): boolean {
  let j = 0
  for (const [from, to] of inner) {
    while (j < outer.length && (outer[j]?.[1] ?? 0n) < from) j++
    const container = outer[j]
    if (!container || container[0] > from || container[1] < to) return false
  }
  return true
}

function count(intervals: Intervals): bigint {
  return intervals.reduce((sum, [from, to]) => sum + (to - from + 1n), 0n)
}

/** A MySQL GTID set: source (`uuid` or `uuid:tag`) -> intervals of transaction numbers. */
export class MysqlGtidSet {
  readonly kind = 'mysql'

  private constructor(private readonly sources: ReadonlyMap<string, Intervals>) {}

  /** Parses a GTID set as MySQL prints it (whitespace and newlines between sources allowed); `''` is empty. */
  static parse(text: string): MysqlGtidSet {
    const fail = (): never => {
      throw new ReplicaRouterError(`Not a MySQL GTID set: ${JSON.stringify(text.slice(0, 60))}`)
    }
    const collected = new Map<string, (readonly [bigint, bigint])[]>()
    const trimmed = text.replace(/\s+/g, '')
    if (trimmed !== '') {
      for (const part of trimmed.split(',')) {
        const [uuid = '', ...rest] = part.toLowerCase().split(':')
        if (!UUID.test(uuid) || rest.length === 0) fail()
        let source = uuid
        for (const piece of rest) {
          if (TAG.test(piece)) {
            source = `${uuid}:${piece}` // a tag names the source of the intervals after it (MySQL 8.3+)
            continue
          }
          const match = INTERVAL.exec(piece)
          if (!match) return fail()
          const from = BigInt(match[1] ?? '')
          const to = match[2] === undefined ? from : BigInt(match[2])
          if (from < 1n || to < from) fail()
          const list = collected.get(source) ?? []
          list.push([from, to])
          collected.set(source, list)
        }
      }
    }
    return new MysqlGtidSet(new Map([...collected].map(([source, list]) => [source, normalize(list)])))
  }

  /** True when `other` is a subset of this set (what `GTID_SUBSET(other, this)` answers). */
  covers(other: MysqlGtidSet): boolean {
    for (const [source, intervals] of other.sources) {
      if (!within(intervals, this.sources.get(source) ?? [])) return false
    }
    return true
  }

  /** The union of both sets. */
  join(other: MysqlGtidSet): MysqlGtidSet {
    if (this.covers(other)) return this
    if (other.covers(this)) return other
    const sources = new Map(this.sources)
    for (const [source, intervals] of other.sources) sources.set(source, normalize([...(sources.get(source) ?? []), ...intervals]))
    return new MysqlGtidSet(sources)
  }

  /** How many transactions of `ahead` this set lacks (0 when it covers it). */
  behind(ahead: MysqlGtidSet): bigint {
    const union = this.join(ahead)
    return count([...union.sources.values()].flat()) - count([...this.sources.values()].flat())
  }

  /** As MySQL prints it, sources in ascending order, without whitespace. */
  toString(): string {
    return [...this.sources]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([source, intervals]) => `${source}:${intervals.map(([from, to]) => (from === to ? String(from) : `${String(from)}-${String(to)}`)).join(':')}`)
      .join(',')
  }
}
