import { ApiError, getJson } from './api.js'
import { background, byId, h, timeCell } from './dom.js'

interface User { username: string, tenant: string, roles: string[], disabled: boolean, created_at: string }
const ROLES = ['reader', 'writer', 'admin']

/** Admins: the users of their tenant; create, disable or enable, change roles (GET/POST /users, PATCH /users/{username}). */
export class UsersView {
  private readonly body = byId<HTMLTableSectionElement>('users-body')
  private readonly error = byId('users-error')

  constructor () {
    byId<HTMLFormElement>('new-user').addEventListener('submit', (event) => { event.preventDefault(); background(this.create()) })
  }

  async load (): Promise<void> {
    this.error.hidden = true
    this.body.replaceChildren(h('tr', { class: 'placeholder' }, h('td', { colspan: '5' }, 'Loading…')))
    try {
      const { items } = await getJson<{ items: User[] }>('/users')
      this.body.replaceChildren(...items.map((user) => this.row(user)))
    } catch (err) {
      this.body.replaceChildren()
      this.fail(err)
    }
  }

  private fail (err: unknown): void {
    this.error.textContent = err instanceof ApiError ? err.describe() : String(err)
    this.error.hidden = false
  }

  private row (user: User): HTMLTableRowElement {
    const boxes = ROLES.map((role) => {
      const box = h('input', { type: 'checkbox', value: role, 'aria-label': `${role} role of ${user.username}` })
      box.checked = user.roles.includes(role)
      return h('label', { class: 'role' }, box, ` ${role}`)
    })
    const save = h('button', { type: 'button', 'aria-label': `Save roles of ${user.username}` }, 'Save roles')
    const toggle = h(
      'button',
      { type: 'button', 'aria-label': `${user.disabled ? 'Enable' : 'Disable'} ${user.username}` },
      user.disabled ? 'Enable' : 'Disable'
    )
    save.addEventListener('click', () => {
      const roles = boxes.map((label) => label.querySelector('input')).filter((box) => box?.checked === true).map((box) => box?.value ?? '')
      background(this.change(user.username, { roles }))
    })
    toggle.addEventListener('click', () => { background(this.change(user.username, { disabled: !user.disabled })) })
    return h('tr', { 'data-username': user.username },
      h('td', {}, user.username),
      h('td', {}, ...boxes),
      h('td', {}, user.disabled ? 'disabled' : 'active'),
      h('td', {}, timeCell(user.created_at)),
      h('td', {}, save, ' ', toggle))
  }

  private async change (username: string, changes: { roles?: string[], disabled?: boolean }): Promise<void> {
    try {
      await getJson(`/users/${encodeURIComponent(username)}`, { method: 'PATCH', body: JSON.stringify(changes) })
      await this.load()
    } catch (err) {
      this.fail(err)
    }
  }

  private async create (): Promise<void> {
    const form = byId<HTMLFormElement>('new-user')
    const status = byId('new-user-status')
    const data = new FormData(form)
    const body = {
      username: String(data.get('username') ?? ''),
      password: String(data.get('password') ?? ''),
      roles: data.getAll('roles').map(String)
    }
    try {
      await getJson('/users', { method: 'POST', body: JSON.stringify(body) })
      status.textContent = `Created ${body.username}.`
      form.reset()
      await this.load()
    } catch (err) {
      status.textContent = err instanceof ApiError ? err.describe() : String(err)
    }
  }
}
