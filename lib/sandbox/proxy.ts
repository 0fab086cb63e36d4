/**
 * A TCP front for the sandbox's Deno.serve listener, so a "drop" fault can close a
 * client's connection with no HTTP answer at all. Deno.serve always sends the status
 * line before a response body can fail, so a client's fetch would resolve; closing the
 * socket underneath it is the only way to make fetch reject, as it does when a real
 * load balancer resets a connection.
 */

interface Link {
  client: Deno.Conn;
  upstream: Deno.Conn;
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

export class DropProxy {
  readonly addr: Deno.NetAddr;
  #listener: Deno.Listener;
  #target: Deno.NetAddr;
  /** Keyed by the upstream socket's local port = the remote port Deno.serve sees. */
  #links = new Map<number, Link>();
  #tasks = new Set<Promise<void>>();
  #accepting: Promise<void>;

  constructor(hostname: string, port: number, target: Deno.NetAddr) {
    this.#listener = Deno.listen({ hostname, port, transport: "tcp" });
    this.addr = this.#listener.addr as Deno.NetAddr;
    this.#target = target;
    this.#accepting = this.#accept();
  }

  async #accept(): Promise<void> {
    try {
      for await (const client of this.#listener) {
        const task = this.#link(client);
        this.#tasks.add(task);
        task.finally(() => this.#tasks.delete(task));
      }
    } catch {
      // listener closed
    }
  }

  async #link(client: Deno.Conn): Promise<void> {
    let upstream: Deno.Conn;
    try {
      upstream = await Deno.connect({ hostname: this.#target.hostname, port: this.#target.port });
    } catch {
      closeQuietly(client);
      return;
    }
    const port = (upstream.localAddr as Deno.NetAddr).port;
    this.#links.set(port, { client, upstream });
    await Promise.allSettled([
      client.readable.pipeTo(upstream.writable),
      upstream.readable.pipeTo(client.writable),
    ]);
    this.#links.delete(port);
    closeQuietly(client);
    closeQuietly(upstream);
  }

  /** Close the client connection behind the upstream remote port Deno.serve reported. */
  drop(upstreamPort: number): boolean {
    const link = this.#links.get(upstreamPort);
    if (!link) return false;
    this.#links.delete(upstreamPort);
    closeQuietly(link.client);
    closeQuietly(link.upstream);
    return true;
  }

  async close(): Promise<void> {
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
    await this.#accepting;
    for (const link of this.#links.values()) {
      closeQuietly(link.client);
      closeQuietly(link.upstream);
    }
    this.#links.clear();
    await Promise.allSettled([...this.#tasks]);
  }
}
