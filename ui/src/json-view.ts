import { h } from './dom.js'

/**
 * JSON as a tree of <details>: objects and arrays fold (keyboard: Tab to a summary, Enter or Space),
 * values are colored by type. Built from text nodes only.
 */
export function jsonView (value: unknown, key?: string, depth = 0): HTMLElement {
  const label = key === undefined ? [] : [h('span', { class: 'key' }, JSON.stringify(key)), ': ']
  if (value !== null && typeof value === 'object') {
    const entries = Array.isArray(value) ? value.map((item, index) => [String(index), item] as const) : Object.entries(value)
    const [open, close] = Array.isArray(value) ? ['[', ']'] : ['{', '}']
    const details = h('details', depth < 3 ? { open: '' } : {},
      h('summary', {}, ...label, `${open} ${entries.length} ${entries.length === 1 ? 'entry' : 'entries'} ${close}`))
    for (const [name, inner] of entries) details.append(jsonView(inner, Array.isArray(value) ? undefined : name, depth + 1))
    return details
  }
  const type = value === null ? 'null' : typeof value
  return h('div', { class: 'entry' }, ...label, h('span', { class: type }, JSON.stringify(value) ?? String(value)))
}
