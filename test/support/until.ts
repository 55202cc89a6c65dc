/** Waits until `condition()` holds (polled every 5 ms), or fails after `timeoutMs` naming `what`. */
export async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${String(timeoutMs)} ms waiting for: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** Something with `$replicaStatus()`: a routed client. */
interface WithReplicaStatus {
  $replicaStatus(): readonly { replayLsn?: string | undefined }[]
}

/** Waits until the health check has reported a replay position for every replica of `client` (its first round). */
export async function untilChecked(client: WithReplicaStatus, what = 'the first health round'): Promise<void> {
  await until(what, () => client.$replicaStatus().every((r) => r.replayLsn !== undefined))
}
