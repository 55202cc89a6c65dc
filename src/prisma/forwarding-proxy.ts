/** A proxy that forwards to another object, cheaply (see {@link forwardingProxy}). */

const INSPECT = Symbol.for('nodejs.util.inspect.custom')

/**
 * A proxy of `real` whose `get` is `get`, and every other operation `real`'s. Its own target is an empty object:
 * a proxy's `get` checks its target's own property descriptor on every access, and asking that of Prisma's
 * own proxies costs more than the whole routing decision. `onWrite(prop)` is told of every assignment,
 * definition or deletion (a test double replacing a delegate method must win over the fast path).
 */
export function forwardingProxy<T extends object>(real: T, get: (prop: string | symbol) => unknown, onWrite: (prop: string | symbol) => void): T {
  // util.inspect shows a proxy's target: make it show the real client.
  const target = {
    [INSPECT]: (_depth: number, options: object, inspect: (value: unknown, options: object) => string) => inspect(real, options),
  }
  return new Proxy(target as unknown as T, {
    get: (_target, prop) => get(prop),
    set(_target, prop, value) {
      onWrite(prop)
      return Reflect.set(real, prop, value)
    },
    has: (_target, prop) => Reflect.has(real, prop),
    ownKeys: () => Reflect.ownKeys(real),
    getOwnPropertyDescriptor(_target, prop) {
      const descriptor = Reflect.getOwnPropertyDescriptor(real, prop)
      // The empty target cannot back a non-configurable property: report it as configurable.
      return descriptor && { ...descriptor, configurable: true }
    },
    defineProperty(_target, prop, descriptor) {
      onWrite(prop)
      return Reflect.defineProperty(real, prop, descriptor)
    },
    deleteProperty(_target, prop) {
      onWrite(prop)
      return Reflect.deleteProperty(real, prop)
    },
    // Freezing would freeze the empty target and break every later `Object.keys`: refuse it instead.
    preventExtensions: () => false,
    getPrototypeOf: () => Reflect.getPrototypeOf(real),
  })
}
