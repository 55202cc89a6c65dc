import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const execFileAsync = promisify(execFile)

/**
 * Runs `prisma migrate deploy` against the PRIMARY only (`DATABASE_URL` = `primaryUrl`); replicas receive the
 * schema through replication. The URL never appears in the error: it is replaced by `<primary url>`.
 */
export async function prismaMigrateDeploy(primaryUrl: string, options: { cwd?: string } = {}): Promise<void> {
  try {
    await execFileAsync('npx', ['--no-install', 'prisma', 'migrate', 'deploy'], {
      cwd: options.cwd,
      env: { ...process.env, DATABASE_URL: primaryUrl },
    })
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string }
    const output = `${e.stdout ?? ''}${e.stderr ?? ''}`.replaceAll(primaryUrl, '<primary url>')
    // No `cause`: the raw child-process error carries the environment-derived output unredacted.
    // eslint-disable-next-line preserve-caught-error
    throw new Error(`prisma migrate deploy failed against the primary:\n${output}`)
  }
}
