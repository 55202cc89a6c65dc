/** `workers` concurrent loops of reads until `stop()`; counts successes and failures. */
export function readLoad(read: () => Promise<unknown>, workers: number) {
  const stats = { ok: 0, failed: 0, errors: [] as unknown[], maxMs: 0, durations: [] as number[] }
  let running = true
  const done = Promise.all(
    Array.from({ length: workers }, async () => {
      while (running) {
        const started = performance.now()
        try {
          await read()
          stats.ok += 1
        } catch (error) {
          stats.failed += 1
          stats.errors.push(error)
        }
        const ms = performance.now() - started
        stats.maxMs = Math.max(stats.maxMs, ms)
        stats.durations.push(ms)
      }
    }),
  )
  return {
    stats,
    stop: async () => {
      running = false
      await done
    },
  }
}
