import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { LocalCluster } from '../../src/testing/local-cluster.ts'

/**
 * A login role that must give its password (SCRAM) on every server of `cluster`: the role is created on the
 * primary (replicated), and a `pg_hba.conf` rule for it is put first on each server (the file is not
 * replicated), then the configuration reloaded. Idempotent.
 */
export async function passwordRole(cluster: LocalCluster, role: string, password: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]*$/.test(role) || password.includes("'")) throw new TypeError('a plain role name and a password without quotes')
  await cluster.query(
    'primary',
    `DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${role}') THEN CREATE ROLE ${role} LOGIN SUPERUSER PASSWORD '${password}'; END IF; END $$`,
  )
  const rule = `host all ${role} 127.0.0.1/32 scram-sha-256`
  for (const server of [cluster.info.primary, ...cluster.info.replicas]) {
    const hba = join(server.dataDir, 'pg_hba.conf')
    const text = await readFile(hba, 'utf8')
    // Rewritten in place (the file keeps its owner, the server's user).
    if (!text.startsWith(rule)) await writeFile(hba, `${rule}\n${text}`)
    await cluster.query(server.name, 'SELECT pg_reload_conf()')
  }
  await cluster.waitForReplication()
}
