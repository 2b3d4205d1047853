/** Builds elements from text only: nothing from the API ever goes through innerHTML. */
export function h<K extends keyof HTMLElementTagNameMap> (
  tag: K,
  attributes: Record<string, string> = {},
  ...children: Array<Node | string>
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value)
  element.append(...children)
  return element
}

/** An element the page must have; a missing one is a bug in index.html. */
export function byId<T extends HTMLElement = HTMLElement> (id: string): T {
  const element = document.getElementById(id)
  if (element === null) throw new Error(`#${id} is missing from the page`)
  return element as T
}

/** Local time for reading, UTC on hover (the title). */
export function timeCell (iso: string): HTMLTimeElement {
  const date = new Date(iso)
  const local = date.toLocaleString(undefined, {
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit'
  })
  return h('time', { datetime: iso, title: `${date.toISOString()} (UTC)` }, local)
}

/** Work started from an event handler: its own errors are shown by it; anything else is a bug, reported on the console. */
export function background (work: Promise<unknown>): void {
  work.catch((err: unknown) => console.error(err))
}
