/**
 * An option passed to `readReplicas()` is invalid. Thrown at construction, never later.
 * A `TypeError`, like every argument error in JavaScript.
 */
export class InvalidOptionError extends TypeError {
  /** `InvalidOptionError`: what the cross-realm type guard checks. */
  override name = 'InvalidOptionError'
  /** Path of the offending option, e.g. `replicas[1].weight`. */
  readonly option: string

  constructor(option: string, message: string) {
    super(message)
    this.option = option
  }
}

/** True for an {@link InvalidOptionError}, across realms and package copies (by its name and `option`). */
export function isInvalidOptionError(error: unknown): error is InvalidOptionError {
  if (error instanceof InvalidOptionError) return true
  const e = error as { name?: unknown; option?: unknown } | null
  return typeof e === 'object' && e !== null && e.name === 'InvalidOptionError' && typeof e.option === 'string'
}
