import type { Coverage, FaultRecord, History, Operation, ReadFact, WriteEffect } from './history.ts'

/** The guarantees to check; each can be switched off. */
export interface Guarantees {
  readonly readYourWrites: boolean
  readonly monotonicReads: boolean
  /** Every answer went through the instance's extension stack (see stacks.ts). @default true */
  readonly extensions?: boolean
  /** No read fails (faults hit replicas only: a read that fails is the router's). @default true */
  readonly readsSucceed?: boolean
  /**
   * Every write ran once: at the end of the run each row's version on the primary is 1 plus the increments the
   * history sent it (those that failed may or may not have run). Needs `history.finalVersions`. @default true
   */
  readonly writesOnce?: boolean
}

/** Faults of a replica that end (or hang) the read-only transactions on it: they fail, and are not run again. */
const DIED_UNDER: ReadonlySet<FaultRecord['kind']> = new Set(['stop', 'crash', 'freeze', 'reset', 'halfOpen', 'partition'])

/** The network faults among them, which excuse only an error of the connection (or Prisma's transaction timeout). */
const NETWORK_FAULTS: ReadonlySet<FaultRecord['kind']> = new Set(['reset', 'halfOpen', 'partition'])

/** What a transaction whose connection a network fault ended or stalled fails with. */
const CONNECTION_LOST = /P1017|ConnectionClosed|Connection terminated|closed the connection|not queryable|ECONNRESET|Transaction API error|Transaction already closed/

export type Guarantee = 'read-your-writes' | 'monotonic-reads' | 'extensions' | 'reads-succeed' | 'writes-once'

export interface Violation {
  readonly guarantee: Guarantee
  readonly seed: number
  readonly what: string
  readonly read: Operation
  /** The write (read-your-writes) or the earlier read (monotonic reads) the read contradicts. */
  readonly cause: Operation | undefined
  /** The minimal history: the read, its cause, the token hand-offs between them, and ops overlapping them. */
  readonly history: readonly Operation[]
  readonly faults: readonly FaultRecord[]
  /** Which known defect the shape of the history points to (heuristic, for triage). */
  readonly suspects: readonly string[]
  /** Time of the violating read's end since the run started (ms). */
  readonly at: number
}

/** What a scope knows when a read begins: the versions it wrote, the deletes it made, the versions it read. */
interface Known {
  w: number
  wOp: Operation | undefined
  deleted: Operation | undefined
  r: number
  rOp: Operation | undefined
}
type Knowledge = Map<string, Known>

interface RowStatic {
  readonly owner: string
  readonly parentId: string | null
  readonly createStart: number
}

/**
 * Checks every routed read of the history against what its scope (and the scopes whose tokens it inherited)
 * knew when the read began. Facts used:
 * - a version written by an op that completed before the read began must be seen (or a newer one);
 * - a row created (and not deleted, with no delete begun before the read ended) must be present in a complete
 *   read of a coverage that matches it, and counted by a count of it; a row the scope deleted must be absent;
 * - monotonic reads: no version older than one a completed earlier read of the scope returned; no row that
 *   such a read returned disappears unless a delete of it began before this read ended.
 */
export function checkHistory(history: History, seed: number, guarantees: Guarantees): Violation[] {
  return new Checker(history, seed, guarantees).run()
}

class Checker {
  private readonly statics = new Map<string, RowStatic>()
  private readonly deleteStart = new Map<string, number>()
  private readonly writesByRow = new Map<string, { op: Operation; effect: WriteEffect }[]>()
  private readonly versionMemo = new Map<WriteEffect, number>()
  private readonly violations: Violation[] = []
  private readonly byScope = new Map<string, Operation[]>()
  /** Rows by owner and by parent, with their creation starts sorted (counts of rows created before a moment). */
  private readonly byOwner = new Map<string, string[]>()
  private readonly byParent = new Map<string, string[]>()
  private readonly createStarts = new Map<string, number[]>()

  constructor(
    private readonly history: History,
    private readonly seed: number,
    private readonly guarantees: Guarantees,
  ) {
    for (const op of history.ops) {
      let list = this.byScope.get(op.scope)
      if (!list) this.byScope.set(op.scope, (list = []))
      list.push(op)
      for (const effect of op.writes) {
        if (effect.type === 'create') {
          const known = this.statics.get(effect.id)
          if (!known || op.start < known.createStart) {
            this.statics.set(effect.id, { owner: effect.owner, parentId: effect.parentId, createStart: op.start })
          }
        }
        // A delete whose outcome is unknown (failed, but not surely) counts as possibly done from its start.
        if (effect.type === 'delete') this.deleteStart.set(effect.id, Math.min(op.start, this.deleteStart.get(effect.id) ?? Infinity))
        if (op.ok) {
          let rows = this.writesByRow.get(effect.id)
          if (!rows) this.writesByRow.set(effect.id, (rows = []))
          rows.push({ op, effect })
        }
      }
    }
  }

  private index(): void {
    const add = (map: Map<string, string[]>, key: string, id: string) => {
      let list = map.get(key)
      if (!list) map.set(key, (list = []))
      list.push(id)
    }
    for (const [id, row] of this.statics) {
      add(this.byOwner, row.owner, id)
      if (row.parentId !== null) add(this.byParent, row.parentId, id)
    }
    for (const [owner, ids] of this.byOwner) {
      this.createStarts.set(
        `o:${owner}`,
        ids.map((id) => this.statics.get(id)?.createStart ?? 0).sort((a, b) => a - b),
      )
    }
  }

  /** The rows a coverage can match (a superset: `matches` decides). */
  private candidates(coverage: Coverage): readonly string[] {
    if (coverage.ids !== undefined) return coverage.ids
    if (coverage.owner !== undefined) return this.byOwner.get(coverage.owner) ?? []
    if (coverage.parentId !== undefined) return this.byParent.get(coverage.parentId) ?? []
    return [...this.statics.keys()]
  }

  /** Rows matching `coverage` whose creation began before `time`. */
  private createdBefore(coverage: Coverage, time: number): number {
    const key = coverage.owner !== undefined && coverage.parentId === undefined && coverage.ids === undefined ? `o:${coverage.owner}` : undefined
    const starts = key === undefined ? undefined : this.createStarts.get(key)
    if (key !== undefined) {
      if (!starts) return 0
      let lo = 0
      let hi = starts.length
      while (lo < hi) {
        const mid = (lo + hi) >> 1
        if ((starts[mid] ?? 0) < time) lo = mid + 1
        else hi = mid
      }
      return lo
    }
    let created = 0
    for (const id of this.candidates(coverage)) if ((this.statics.get(id)?.createStart ?? Infinity) < time && this.matches(id, coverage)) created += 1
    return created
  }

  run(): Violation[] {
    this.index()
    const snapshots = new Map<number, Knowledge>()
    const tokenUses = new Map<number, number>()
    for (const info of this.history.scopes.values()) {
      if (info.seededBy) tokenUses.set(info.seededBy.tokenOp, (tokenUses.get(info.seededBy.tokenOp) ?? 0) + 1)
    }
    const scopes = [...this.byScope.entries()].sort((a, b) => (a[1][0]?.start ?? 0) - (b[1][0]?.start ?? 0))
    for (const [scope, ops] of scopes) {
      const seededBy = this.history.scopes.get(scope)?.seededBy
      const inherited = seededBy ? snapshots.get(seededBy.tokenOp) : undefined
      // The last scope seeded by a token takes its knowledge over; earlier ones copy it.
      const uses = seededBy ? (tokenUses.get(seededBy.tokenOp) ?? 1) - 1 : 0
      if (seededBy) tokenUses.set(seededBy.tokenOp, uses)
      const known: Knowledge = inherited ? (uses === 0 ? inherited : clone(inherited)) : new Map<string, Known>()
      // Monotonic reads are promised per runInScope scope (and across its tokens), not to the client-wide scope
      // that all work outside runInScope shares (README, Session guarantees).
      const monotonic = this.guarantees.monotonicReads && this.history.scopes.get(scope)?.wide !== true
      const done = ops.filter((o) => o.ok && (o.writes.length > 0 || o.facts.length > 0)).sort((a, b) => a.end - b.end)
      const checks = ops.filter((o) => o.ok && (o.kind === 'read' || o.kind === 'token')).sort((a, b) => a.start - b.start)
      let next = 0
      checks.forEach((check, i) => {
        while (next < done.length && (done[next] as Operation).end < check.start) this.absorb(known, done[next++] as Operation, monotonic)
        // The last check of a scope hands its knowledge on as it is (nothing changes it afterwards).
        if (check.kind === 'token') snapshots.set(check.id, i === checks.length - 1 ? known : clone(known))
        else for (const fact of check.facts) this.checkFact(check, fact, known, monotonic)
      })
    }
    if (this.guarantees.extensions ?? true) {
      for (const op of this.history.ops) if (op.ok) for (const anomaly of op.anomalies) this.report('extensions', op, undefined, anomaly)
    }
    if (this.guarantees.readsSucceed ?? true) {
      for (const op of this.history.ops) {
        if (op.kind === 'read' && !op.ok && !this.diedUnder(op)) this.report('reads-succeed', op, undefined, `the read failed: ${op.error ?? ''}`)
      }
    }
    if ((this.guarantees.writesOnce ?? true) && this.history.finalVersions) this.checkWritesOnce(this.history.finalVersions)
    return this.violations.sort((a, b) => a.at - b.at)
  }

  /**
   * Each row's version at the end against the increments sent to it: 1 (every create writes version 1) plus those
   * of the writes that succeeded, at most plus those that failed (they may have run). Above: a write ran more
   * than once (a batch that ran a query twice); below: a write reported done never ran. A row missing at the
   * end had a delete sent.
   */
  private checkWritesOnce(final: ReadonlyMap<string, number>): void {
    const rows = new Map<string, { created: Operation | undefined; sure: number; maybe: number; last: Operation | undefined; deleted: boolean }>()
    for (const op of this.history.ops) {
      for (const effect of op.writes) {
        let row = rows.get(effect.id)
        if (!row) rows.set(effect.id, (row = { created: undefined, sure: 0, maybe: 0, last: undefined, deleted: false }))
        if (effect.type === 'create') row.created ??= op
        if (effect.type === 'delete') row.deleted = true
        if (effect.type !== 'update') continue
        if (op.ok) row.sure += 1
        else row.maybe += 1
        if (!row.last || op.end > row.last.end) row.last = op
      }
    }
    for (const [id, row] of rows) {
      const version = final.get(id)
      const culprit = row.last ?? row.created
      if (!culprit) continue
      if (version === undefined) {
        if (!row.deleted && row.created?.ok === true) this.report('writes-once', culprit, undefined, `row ${id} is gone, and no delete of it was sent`)
      } else if (version > 1 + row.sure + row.maybe) {
        this.report(
          'writes-once',
          culprit,
          undefined,
          `row ${id} is at version ${String(version)} on the primary: at most ${String(row.sure + row.maybe)} increments were sent to it (a write ran more than once)`,
        )
      } else if (version < 1 + row.sure) {
        this.report('writes-once', culprit, undefined, `row ${id} is at version ${String(version)} on the primary: ${String(row.sure)} increments succeeded`)
      }
    }
  }

  /**
   * A read-only transaction whose replica was stopped, crashed or frozen while it ran: once its callback has
   * started it is not run again (README, Read-only transactions on a replica), so its failure is the documented
   * one; so is `$replica()` when every replica is out of rotation.
   */
  /**
   * A read-only transaction on a replica that died, froze or lost its connection (reset, half-open, partitioned)
   * while it ran: it fails, and is never run again behind the application's back (by design).
   */
  private diedUnder(op: Operation): boolean {
    if (!op.label.startsWith('$replica().$transaction')) return false
    // `$replica()` without a name when no replica is in rotation: NoReplicaAvailableError, by design (its TSDoc).
    if (op.error?.startsWith('No replica available for `$replica`') === true) return true
    // A replica that cancelled it for a conflict with recovery: RecoveryConflictError, typed and retryable, by
    // design (the callback is never run again behind the application's back).
    if (op.error?.includes('cancelled the read-only transaction: a conflict with recovery') === true) {
      return this.history.faults.some((f) => f.kind === 'recoveryConflicts' && f.start <= op.end && (f.end === undefined || f.end >= op.start))
    }
    const servers = new Set(op.events.filter((e) => e.target === 'replica').map((e) => e.replica))
    return this.history.faults.some(
      (f) =>
        DIED_UNDER.has(f.kind) &&
        (!NETWORK_FAULTS.has(f.kind) || CONNECTION_LOST.test(op.error ?? '')) &&
        servers.has(f.target) &&
        f.start <= op.end &&
        (f.end === undefined || f.end >= op.start),
    )
  }

  /** The version a write produced: returned by the primary, or (raw UPDATE … + 1) above every earlier one. */
  private versionOf(op: Operation, effect: WriteEffect): number {
    if (effect.type === 'create') return effect.version ?? 1
    if (effect.version !== undefined) return effect.version
    const memo = this.versionMemo.get(effect)
    if (memo !== undefined) return memo
    let before = 0
    for (const w of this.writesByRow.get(effect.id) ?? []) {
      if (w.op.end < op.start && w.effect.type !== 'delete') before = Math.max(before, this.versionOf(w.op, w.effect))
    }
    this.versionMemo.set(effect, before + 1)
    return before + 1
  }

  private absorb(known: Knowledge, op: Operation, monotonic: boolean): void {
    for (const effect of op.writes) {
      const e = entry(known, effect.id)
      if (effect.type === 'delete') e.deleted = op
      else {
        const v = this.versionOf(op, effect)
        if (v > e.w) {
          e.w = v
          e.wOp = op
        }
      }
    }
    if (!monotonic) return
    for (const fact of op.facts) {
      for (const row of fact.rows) {
        const e = entry(known, row.id)
        if (row.version > e.r) {
          e.r = row.version
          e.rOp = op
        }
      }
    }
  }

  private matches(id: string, coverage: Coverage): boolean {
    const s = this.statics.get(id)
    if (!s) return false
    if (coverage.owner !== undefined && s.owner !== coverage.owner) return false
    if (coverage.parentId !== undefined && s.parentId !== coverage.parentId) return false
    if (coverage.ids !== undefined && !coverage.ids.includes(id)) return false
    return true
  }

  /** The row may be gone by the time the read ran: a delete of it began before the read ended. */
  private mayBeDeleted(id: string, read: Operation): boolean {
    const start = this.deleteStart.get(id)
    return start !== undefined && start < read.end
  }

  private checkFact(read: Operation, fact: ReadFact, known: Knowledge, mono: boolean): void {
    const ryw = this.guarantees.readYourWrites
    const returned = new Map(fact.rows.map((r) => [r.id, r.version]))
    for (const [id, version] of returned) {
      const e = known.get(id)
      if (!e) continue
      if (e.deleted) {
        if (ryw) this.report('read-your-writes', read, e.deleted, `row ${id} returned (version ${String(version)}) after the scope deleted it`)
      } else if (version < e.w) {
        if (ryw) this.report('read-your-writes', read, e.wOp, `row ${id}: read version ${String(version)}, the scope had written version ${String(e.w)}`)
      } else if (version < e.r && mono) {
        this.report('monotonic-reads', read, e.rOp, `row ${id}: read version ${String(version)}, an earlier read of the scope returned version ${String(e.r)}`)
      }
    }
    if (fact.complete) {
      for (const id of this.candidates(fact.coverage)) {
        const e = known.get(id)
        if (!e || returned.has(id) || e.deleted || !this.matches(id, fact.coverage) || this.mayBeDeleted(id, read)) continue
        if (e.w > 0) {
          if (ryw) this.report('read-your-writes', read, e.wOp, `row ${id} missing: the scope had written version ${String(e.w)} (${describe(fact.coverage)})`)
        } else if (e.r > 0 && mono) {
          this.report('monotonic-reads', read, e.rOp, `row ${id} missing: an earlier read of the scope returned version ${String(e.r)} (${describe(fact.coverage)})`)
        }
      }
    }
    if (!ryw || (fact.count === undefined && fact.maxVersion === undefined)) return
    // Counts and max(version) over the coverage: bounds from the rows the scope knows.
    let lower = 0
    let required = 0
    let latest: Operation | undefined
    let maxOp: Operation | undefined
    let knownDeleted = 0
    let lastDelete: Operation | undefined
    for (const id of this.candidates(fact.coverage)) {
      const e = known.get(id)
      if (!e || !this.matches(id, fact.coverage)) continue
      if (e.deleted) {
        knownDeleted += 1
        if (!lastDelete || e.deleted.end > lastDelete.end) lastDelete = e.deleted
        continue
      }
      if (e.w === 0 || this.mayBeDeleted(id, read)) continue
      lower += 1
      if (!latest || (e.wOp && e.wOp.end > latest.end)) latest = e.wOp
      if (e.w > required) {
        required = e.w
        maxOp = e.wOp
      }
    }
    if (fact.count !== undefined) {
      if (fact.count < lower) {
        this.report('read-your-writes', read, latest, `count ${String(fact.count)} < ${String(lower)} rows the scope created (${describe(fact.coverage)})`)
        return
      }
      const created = this.createdBefore(fact.coverage, read.end)
      if (fact.count > created - knownDeleted) {
        this.report(
          'read-your-writes',
          read,
          lastDelete,
          `count ${String(fact.count)} > ${String(created - knownDeleted)}: rows the scope deleted are counted (${describe(fact.coverage)})`,
        )
        return
      }
    }
    if (fact.maxVersion !== undefined && (fact.maxVersion ?? 0) < required) {
      this.report('read-your-writes', read, maxOp, `max(version) ${String(fact.maxVersion)} < version ${String(required)} the scope wrote (${describe(fact.coverage)})`)
    }
  }

  private report(guarantee: Guarantee, read: Operation, cause: Operation | undefined, what: string): void {
    const involved = new Set<Operation>([read])
    if (cause) involved.add(cause)
    // The token hand-offs from the read's scope back to the cause's scope.
    let scope = this.history.scopes.get(read.scope)
    for (let hops = 0; cause && scope && scope.id !== cause.scope && scope.seededBy && hops < 20; hops++) {
      const token = this.history.ops[scope.seededBy.tokenOp]
      if (token) involved.add(token)
      scope = this.history.scopes.get(scope.seededBy.scope)
    }
    // Operations of the cause's scope that began while the cause ran (reads during an open transaction…).
    const overlapping = cause ? (this.byScope.get(cause.scope) ?? []).filter((o) => o !== cause && o.start > cause.start && o.start < cause.end) : []
    for (const o of overlapping.slice(0, 6)) involved.add(o)
    const ops = [...involved].sort((a, b) => a.start - b.start)
    const from = Math.min(...ops.map((o) => o.start))
    const faults = this.history.faults.filter((f) => f.start <= read.end && (f.end === undefined || f.end >= from || f.kind === 'lag'))
    const lastLag = faults.filter((f) => f.kind === 'lag' && f.start < from).pop()
    const relevant = faults.filter((f) => f.kind !== 'lag' || f === lastLag || f.start >= from)
    this.violations.push({
      guarantee,
      seed: this.seed,
      what,
      read,
      cause,
      history: ops,
      faults: relevant,
      suspects: this.suspects(guarantee, read, cause, overlapping),
      at: read.end - this.history.startedAt,
    })
  }

  private suspects(guarantee: Guarantee, read: Operation, cause: Operation | undefined, overlapping: readonly Operation[]): string[] {
    const found: string[] = []
    const replicas = read.events.filter((e) => e.target === 'replica').map((e) => e.replica)
    if (guarantee === 'writes-once') return ['a write run twice (a batch that ran its query again) or lost']
    if (guarantee === 'extensions' || guarantee === 'reads-succeed') {
      found.push(`the stack skipped on ${read.events.map((e) => `${e.target}${e.replica === undefined ? '' : `:${e.replica}`} ${e.reason}`).join(', ') || 'an unrouted path'}`)
      return found
    }
    if (replicas.length === 0) found.push('read ran on the primary (!)')
    if (replicas.includes('pooled')) found.push('defect-5 pooled entry (replay position of another server)')
    if (guarantee === 'monotonic-reads') {
      const before = cause?.events.filter((e) => e.target === 'replica').map((e) => e.replica ?? '?') ?? []
      found.push(`monotonic reads not implemented (earlier read on ${before.join(',') || 'primary'}, this one on ${replicas.join(',') || 'primary'})`)
      return found
    }
    if (!cause) return found
    if (cause.kind === 'primaryItx') found.push('defect-2 $primary().$transaction tracked as plain writes')
    const syncOffFault = this.history.faults.some((f) => f.kind === 'syncCommitOff' && f.start < cause.end && (f.end === undefined || f.end > cause.start - 50))
    if (cause.syncCommitOff || syncOffFault) found.push('defect-3 synchronous_commit = off (write position behind the commit)')
    if (cause.kind === 'itx' && overlapping.some((o) => o.kind === 'read' || o.kind === 'token')) {
      found.push('defect-1 read of the scope while its interactive transaction was open')
    }
    if (found.length === 0) found.push('unattributed')
    return found
  }
}

function entry(known: Knowledge, id: string): Known {
  let e = known.get(id)
  if (!e) known.set(id, (e = { w: 0, wOp: undefined, deleted: undefined, r: 0, rOp: undefined }))
  return e
}

function clone(known: Knowledge): Knowledge {
  const copy: Knowledge = new Map()
  for (const [id, e] of known) copy.set(id, { ...e })
  return copy
}

function describe(coverage: Coverage): string {
  const parts: string[] = []
  if (coverage.owner !== undefined) parts.push(`owner=${coverage.owner}`)
  if (coverage.parentId !== undefined) parts.push(`parentId=${coverage.parentId}`)
  if (coverage.ids !== undefined) parts.push(`id in [${coverage.ids.join(', ')}]`)
  return parts.join(' ')
}

/** A violation with its minimal history, times relative to the start of the run (seconds). */
export function formatViolation(v: Violation, startedAt: number): string {
  const t = (ms: number) => `+${((ms - startedAt) / 1000).toFixed(3)}s`
  const lines = [`[${v.guarantee}] seed=${String(v.seed)} at ${(v.at / 1000).toFixed(3)}s, scope ${v.read.scope}: ${v.what}`, `  suspects: ${v.suspects.join('; ')}`]
  for (const op of v.history) {
    const mark = op === v.read ? '>>' : op === v.cause ? '<<' : '  '
    const writes = op.writes.map((w) => `${w.type} ${w.id}${w.version === undefined ? '' : `@v${String(w.version)}`}`).join(', ')
    const facts = op.facts
      .map((f) => {
        // Long results: only the rows the violation names, and how many others there were.
        const rows = f.rows.length > 8 ? f.rows.filter((r) => v.what.includes(`${r.id}:`) || v.what.includes(`${r.id} `)) : f.rows
        const more = f.rows.length - rows.length
        const listed = rows.map((r) => `${r.id}@v${String(r.version)}`).join(', ') + (more > 0 ? ` …${String(more)} more` : '')
        return `${describe(f.coverage)} -> ${f.count !== undefined ? `count=${String(f.count)} ` : ''}${f.maxVersion !== undefined ? `max=${String(f.maxVersion)} ` : ''}[${listed}]`
      })
      .join('; ')
    const events = op.events
      .map((e) => `${t(e.at)} ${e.target}${e.replica === undefined ? '' : `:${e.replica}`} ${e.reason}${e.sticky === undefined ? '' : `/${e.sticky}`}`)
      .join(', ')
    lines.push(`  ${mark} #${String(op.id)} ${t(op.start)}..${t(op.end)} ${op.scope} [instance ${String(op.instance)}] ${op.label}${op.ok ? '' : ` FAILED ${op.error ?? ''}`}`)
    if (writes) lines.push(`       writes: ${writes}${op.syncCommitOff ? ' (synchronous_commit off)' : ''}`)
    if (facts) lines.push(`       read: ${facts}`)
    if (op.token !== undefined) lines.push(`       token: ${op.token}`)
    if (events) lines.push(`       routed: ${events}`)
  }
  for (const f of v.faults) lines.push(`  fault ${f.kind} ${f.target} ${f.detail} ${t(f.start)}..${f.end === undefined ? 'open' : t(f.end)}`)
  return lines.join('\n')
}
