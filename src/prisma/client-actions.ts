import { modelProperty } from './operations.js'
import { callRaw, executesRequests, recordsCallSites } from './internals.js'

/** A model action of a Prisma client (`client.user.findMany`): called with the query's arguments. */
export type ModelAction = (args: unknown) => PromiseLike<unknown>

/**
 * The model actions of one client, looked up once each. Reading `client.user.findMany` passes through Prisma's
 * client and model proxies, and the model proxy builds the action anew on every access: measured, that costs a
 * replica read about 5 µs (~2 % of a loopback round trip), more than the routing decision. An action is a plain function of its
 * arguments, so the first one found serves every later read of that model and operation. A method replaced on
 * the client afterwards (a test spy) is therefore not seen; observe routing with `onRoute` instead.
 */
export class ClientActions {
  private readonly byModel = new Map<string, Map<string, ModelAction>>()

  /** Whether the client records a call site for every query (its error format is not `minimal`). */
  readonly recordsCallSites: boolean

  /** Whether the client can run a request of another client's query extension directly (see executeRequest). */
  readonly executesRequests: boolean

  constructor(readonly client: object) {
    this.recordsCallSites = recordsCallSites(client)
    this.executesRequests = executesRequests(client)
  }

  /** The client's raw query method `operation` (`$queryRaw`, …), called with the query's arguments. */
  raw(operation: string): ModelAction {
    return (args) => callRaw(this.client, operation, args)
  }

  /** `client[model][operation]`, or `undefined` when the client has no such model or operation. */
  get(model: string, operation: string): ModelAction | undefined {
    let actions = this.byModel.get(model)
    const cached = actions?.get(operation)
    if (cached) return cached
    const delegate = (this.client as Record<string, Record<string, unknown> | undefined>)[modelProperty(model)]
    const action = delegate?.[operation]
    if (typeof action !== 'function') return undefined
    if (!actions) this.byModel.set(model, (actions = new Map<string, ModelAction>()))
    actions.set(operation, action as ModelAction)
    return action as ModelAction
  }
}
