import fp from 'fastify-plugin'
import { join, resolve } from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { AppConfig } from '../../../config.js'
import { readOrCreateSecretFile } from '../../../embedded/secrets.js'
import type { Role } from '../../../schemas/roles.js'

/** Where the embedded default writes the first admin's generated password. */
export const ADMIN_PASSWORD_FILE = 'admin-password.txt'
const EMBEDDED_ADMIN = 'admin'
/** Every role that grants something: `monitor` reads a part of what `reader` reads, so it is not among them. */
const BOOTSTRAP_ROLES: Role[] = ['admin', 'writer', 'reader']

/**
 * Makes sure someone can log in. With ADMIN_USERNAME/ADMIN_PASSWORD, that admin exists (created in
 * ADMIN_TENANT if missing; an existing one is left as it is). On the embedded default with no users
 * at all, an `admin` is created with a random password written to DATA_DIR/admin-password.txt (0600):
 * the log names the file, never the password. The bootstrap admin holds admin, writer and reader, so a fresh install
 * can log in and send a first event with one token; create narrower users for real clients.
 */
async function bootstrapAdminPlugin (fastify: FastifyInstance, { config }: { config: AppConfig }) {
  const users = fastify.userStore
  if (config.ADMIN_USERNAME !== undefined && config.ADMIN_PASSWORD !== undefined) {
    if (await users.find(config.ADMIN_TENANT, config.ADMIN_USERNAME) === null) {
      await users.create({
        username: config.ADMIN_USERNAME,
        password: config.ADMIN_PASSWORD,
        roles: [...BOOTSTRAP_ROLES],
        tenant: config.ADMIN_TENANT
      })
      fastify.log.info({ username: config.ADMIN_USERNAME, tenant: config.ADMIN_TENANT }, 'created the bootstrap admin from ADMIN_USERNAME')
    }
    return
  }
  if (!config.embedded || await users.count() > 0) return

  const path = resolve(join(config.DATA_DIR, ADMIN_PASSWORD_FILE))
  const { value: password } = readOrCreateSecretFile(path)
  await users.create({ username: EMBEDDED_ADMIN, password, roles: [...BOOTSTRAP_ROLES], tenant: config.ADMIN_TENANT })
  fastify.log.warn({ username: EMBEDDED_ADMIN, tenant: config.ADMIN_TENANT, passwordFile: path },
    `created user "${EMBEDDED_ADMIN}"; its password is in ${path} (mode 0600)`)
}

export default fp(bootstrapAdminPlugin, { fastify: '5.x', name: 'bootstrap-admin', dependencies: ['user-store'] })
