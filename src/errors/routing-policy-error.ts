import { ReplicaRouterError, isRouterErrorNamed } from './replica-router-error.js'

/** A custom routing policy returned something other than one of the candidates it was given. */
export class RoutingPolicyError extends ReplicaRouterError {
  /** `RoutingPolicyError`: what the cross-realm type guard checks. */
  override name = 'RoutingPolicyError'
  /** Name of the policy. */
  readonly policy: string

  constructor(policy: string, message: string) {
    super(`Routing policy \`${policy}\` ${message}`)
    this.policy = policy
  }
}

/** True for a {@link RoutingPolicyError}, across realms and package copies. */
export function isRoutingPolicyError(error: unknown): error is RoutingPolicyError {
  return error instanceof RoutingPolicyError || isRouterErrorNamed(error, 'RoutingPolicyError')
}
