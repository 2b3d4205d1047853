/**
 * The one API key of an SDK check run, made as a tenant's admin makes one: log in as a person, POST
 * /tenant/api-keys with the roles a sending system needs, keep the key (shown this once). Prints the key.
 * Every client of scripts/sdk-check.sh then authenticates with it, never with a password.
 *   node --import tsx sdk-check/create-api-key.ts <base url> <admin username> <admin password>
 */
const [baseUrl, username, password] = process.argv.slice(2)
if (baseUrl === undefined || username === undefined || password === undefined) {
  throw new Error('usage: create-api-key.ts <base url> <admin username> <admin password>')
}

async function post (path: string, body: unknown, token?: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
    body: JSON.stringify(body)
  })
  const answer = await res.json() as Record<string, unknown>
  if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${JSON.stringify(answer)}`)
  return answer
}

const { access_token: token } = await post('/login', { username, password })
if (typeof token !== 'string') throw new Error('POST /login: no access_token')
const { key } = await post('/tenant/api-keys', { name: 'sdk-check', roles: ['writer', 'reader'] }, token)
if (typeof key !== 'string' || !key.startsWith('alk_')) throw new Error('POST /tenant/api-keys: no alk_ key')
process.stdout.write(`${key}\n`)
