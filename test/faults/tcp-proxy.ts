import { createConnection, createServer, type Server, type Socket } from 'node:net'

/**
 * A loopback TCP forwarder between the service and its database, so a test can cut the link the way a
 * failing network or a restarted load balancer does: `cut()` resets every open connection and resets
 * each new one on arrival (the service sees ECONNRESET, not a clean close), `restore()` forwards again.
 * The listening port never changes, so the service's MONGODB_URL stays valid throughout.
 */
export interface TcpProxy {
  port: number
  cut: () => void
  restore: () => void
  close: () => Promise<void>
}

export async function startTcpProxy (target: { host: string, port: number }): Promise<TcpProxy> {
  const open = new Set<Socket>()
  let isCut = false

  function track (socket: Socket): void {
    open.add(socket)
    socket.once('close', () => open.delete(socket))
    // a reset peer is the expected outcome of cut(); an unhandled 'error' would crash the test
    socket.on('error', () => socket.destroy())
  }

  /**
   * RST where it is safe. A reset while a graceful shutdown is pending (pipe() has already ended this side)
   * or before the connection is up leaves the native handle referenced and the test process spinning at
   * exit (the race fixed in libp2p/js-libp2p#3597): those get a plain destroy.
   */
  function reset (socket: Socket): void {
    if (socket.destroyed) return
    if (socket.writableEnded || socket.connecting) socket.destroy()
    else socket.resetAndDestroy()
  }

  const server: Server = createServer(function forward (client) {
    track(client)
    if (isCut) {
      reset(client)
      return
    }
    const upstream = createConnection(target)
    track(upstream)
    client.pipe(upstream)
    upstream.pipe(client)
    // either side ending ends the pair, as a direct connection would
    client.once('close', () => upstream.destroy())
    upstream.once('close', () => client.destroy())
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const address = server.address()
  /* c8 ignore next -- a TCP server listening on 127.0.0.1 always has an address object */
  if (address === null || typeof address !== 'object') throw new Error('proxy has no address')

  function resetAll (): void {
    for (const socket of open) reset(socket)
    open.clear()
  }

  return {
    port: address.port,
    cut () {
      isCut = true
      resetAll()
    },
    restore () {
      isCut = false
    },
    async close () {
      resetAll()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
