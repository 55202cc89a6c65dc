import { AsyncLocalStorage } from 'node:async_hooks'
import type { RouteEvent } from '../../../src/index.ts'

/** What an operation did, as the workload asked it. */
export type OperationKind =
  'create' | 'createMany' | 'update' | 'upsert' | 'delete' | 'rawInsert' | 'rawUpdate' | 'batchTx' | 'itx' | 'primaryWrite' | 'primaryItx' | 'read' | 'token'

/**
 * One row effect of a write. `version` is the version the primary returned (`undefined`: the write happened but
 * its version is unknown, e.g. a raw `UPDATE … SET version = version + 1`). The row's static attributes (owner,
 * parent) are recorded with every effect: they never change.
 */
export interface WriteEffect {
  readonly type: 'create' | 'update' | 'delete'
  readonly id: string
  readonly owner: string
  readonly parentId: string | null
  version: number | undefined
}

/** The rows a read covers: the conjunction of the given fields. */
export interface Coverage {
  readonly owner?: string
  readonly parentId?: string
  readonly ids?: readonly string[]
}

/**
 * What a read proves. `rows`: rows it returned (id and version). `complete`: `rows` are ALL rows matching
 * `coverage` (findMany, a relation accessor, findUnique by id); otherwise only the returned rows are facts.
 * `count`: number of matching rows (count, aggregate, groupBy). `maxVersion`: the highest version among them.
 */
export interface ReadFact {
  readonly coverage: Coverage
  readonly rows: readonly { readonly id: string; readonly version: number }[]
  readonly complete: boolean
  readonly count?: number
  readonly maxVersion?: number | null
}

/** A routing decision (onRoute) with the time it was made and the router instance that made it. */
export interface TimedRouteEvent extends RouteEvent {
  readonly at: number
  readonly instance: number
}

export interface Operation {
  readonly id: number
  readonly scope: string
  readonly instance: number
  readonly kind: OperationKind
  /** e.g. `cell.findMany(owner)`, `$transaction(fn)+side-reads`. */
  readonly label: string
  readonly start: number
  end: number
  ok: boolean
  error: string | undefined
  readonly writes: WriteEffect[]
  readonly facts: ReadFact[]
  /** Where the op's queries went (every onRoute event emitted while it ran). */
  readonly events: TimedRouteEvent[]
  /** The op ran `SET LOCAL synchronous_commit = off`. */
  syncCommitOff: boolean
  /** For `token` ops: the token returned. */
  token: string | undefined
  /** What the op's answer shows the extension stack was skipped on its path (a hidden row, a computed field missing). */
  readonly anomalies: string[]
}

/** A scope (`runInScope` call, or the client-wide scope of a router instance). */
export interface ScopeInfo {
  readonly id: string
  readonly instance: number
  /** The session (row owner) the scope acts for. */
  readonly session: string
  /** Set when the scope was started with a consistency token taken by `scope` in op `tokenOp`. */
  readonly seededBy: { readonly scope: string; readonly tokenOp: number } | undefined
  /** The router's client-wide scope (operations outside `runInScope`). */
  readonly wide: boolean
}

export type FaultKind = 'lag' | 'lagAll' | 'pause' | 'stop' | 'crash' | 'freeze' | 'syncCommitOff' | 'recoveryConflicts' | 'partition' | 'halfOpen' | 'reset' | 'slowNetwork'

export interface FaultRecord {
  readonly kind: FaultKind
  readonly target: string
  readonly detail: string
  readonly start: number
  end: number | undefined
}

/** The recorded history of one run: operations, scopes, faults, and routing events no operation claimed. */
export class History {
  readonly ops: Operation[] = []
  readonly scopes = new Map<string, ScopeInfo>()
  readonly faults: FaultRecord[] = []
  readonly strayEvents: TimedRouteEvent[] = []
  /** Each row's version on the primary at the end of the run (the writes-once check), when read. */
  finalVersions: ReadonlyMap<string, number> | undefined
  readonly startedAt = performance.now()
  private readonly current = new AsyncLocalStorage<Operation>()

  addScope(info: ScopeInfo): void {
    if (!this.scopes.has(info.id)) this.scopes.set(info.id, info)
  }

  /** An onRoute listener for router `instance`: attaches each event to the operation running it. */
  onRoute(instance: number): (event: RouteEvent) => void {
    return (event) => {
      const timed = { ...event, at: performance.now(), instance }
      const op = this.current.getStore()
      if (op) op.events.push(timed)
      else this.strayEvents.push(timed)
    }
  }

  /**
   * Records one operation: its start just before `run` is called, its end when the returned promise settles.
   * `run` fills in the op's write effects and read facts. Errors are recorded, not thrown.
   */
  async record(scope: string, instance: number, kind: OperationKind, label: string, run: (op: Operation) => Promise<void>): Promise<Operation> {
    const op: Operation = {
      id: this.ops.length,
      scope,
      instance,
      kind,
      label,
      start: performance.now(),
      end: Number.NaN,
      ok: false,
      error: undefined,
      writes: [],
      facts: [],
      events: [],
      syncCommitOff: false,
      token: undefined,
      anomalies: [],
    }
    this.ops.push(op)
    try {
      await this.current.run(op, () => run(op))
      op.ok = true
    } catch (error) {
      op.error = errorText(error)
    } finally {
      op.end = performance.now()
    }
    return op
  }

  /** Records a fault; call `end()` on the result when it is healed. */
  fault(kind: FaultKind, target: string, detail: string): { end: () => void } {
    const record: FaultRecord = { kind, target, detail, start: performance.now(), end: undefined }
    this.faults.push(record)
    return {
      end: () => {
        record.end = performance.now()
      },
    }
  }
}

/** First line of an error, with a Prisma error code when there is one. */
export function errorText(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code
  const message = error instanceof Error ? error.message : String(error)
  const line =
    message
      .split('\n')
      .map((s) => s.trim())
      .filter(Boolean)
      .pop() ?? ''
  return `${typeof code === 'string' ? `${code} ` : ''}${line}`.slice(0, 200)
}

/** The Prisma error code of an error, if any. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}
