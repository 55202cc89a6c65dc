const SAFE_STRING = /^[\w .:/@-]{0,60}$/

/**
 * Describes a value for an error message, p-queue style: `` `-1` (number) ``.
 * Strings that could be a connection string or carry a secret are never echoed: only their length is.
 */
export function describeValue(value: unknown): string {
  if (value === null) return '`null`'
  if (value === undefined) return '`undefined`'
  if (typeof value === 'string') {
    const looksSecret = value.includes('://') || value.includes('@') || /password|secret|token/i.test(value)
    if (looksSecret || !SAFE_STRING.test(value)) return `a string of ${String(value.length)} characters (not shown)`
    return `\`${value}\` (string)`
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return `\`${String(value)}\` (${typeof value})`
  }
  if (typeof value === 'function') return 'a function'
  if (Array.isArray(value)) return `an array of ${String(value.length)} items`
  if (typeof value === 'object') {
    const ctor = (value as { constructor?: { name?: unknown } }).constructor?.name
    return typeof ctor === 'string' && ctor !== 'Object' ? `an instance of ${ctor}` : 'an object'
  }
  return `a ${typeof value}`
}
