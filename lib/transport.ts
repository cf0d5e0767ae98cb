/**
 * The one place memline opens sockets: TCP, TLS over TCP, and Unix sockets. A {@link Transport}
 * opens the socket, remembers how far it got (TCP connected, TLS handshake done) and the first
 * socket error, and turns a socket that closed into the error the caller reports: ERR_TLS when
 * TLS failed, ERR_CONNECTION when the server refused, reset or closed it.
 *
 * A connection of the engine and a discovery source's short exchange both use it, so a TLS
 * failure is classified the same way everywhere.
 */
import net from 'node:net';
import tls from 'node:tls';
import { ConnectionError, TlsError, type MemlineError } from './errors.js';

/** Where a {@link Transport} connects, and how. */
export interface TransportTarget {
  /** Host name or IP address (TCP and TLS). */
  readonly host?: string;
  readonly port?: number;
  /** A Unix socket path instead of `host` and `port`. */
  readonly path?: string;
  /** TLS options; absent for plain TCP. */
  readonly tls?: tls.ConnectionOptions | undefined;
  /** TCP keepalive initial delay in ms; 0 or absent turns keepalive off. */
  readonly keepAlive?: number;
  /** Disable Nagle's algorithm (send small writes at once). @default false */
  readonly noDelay?: boolean;
  /**
   * Read into memory the owner supplies (Node's `onread`) instead of `data` events; plain sockets
   * only (a TLS socket ignores it and emits `data`). A runtime without `onread` emits `data`, so an
   * owner that passes it listens for both.
   */
  readonly onread?: net.OnReadOpts | undefined;
}

/** Where a connect that timed out was: opening TCP, or in the TLS handshake over it. */
export type ConnectPhase = 'connect' | 'handshake';

/**
 * Socket error codes that mean TLS failed (certificate, verification, handshake), whenever they
 * come: a TLS 1.3 server may refuse a client certificate after the client's handshake is done.
 */
const TLS_ERROR = /^(ERR_SSL_|ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH)/;

/**
 * The server name sent for SNI and checked against the certificate: the one given, else the host
 * when it is a name (an IP address is checked against the certificate's IP SANs and sent no SNI).
 */
export function tlsServername(host: string | undefined, options: tls.ConnectionOptions): string | undefined {
  if (options.servername !== undefined) return options.servername;
  return host !== undefined && net.isIP(host) === 0 ? host : undefined;
}

/** Whether a socket error is a TLS failure by its code. */
export function isTlsErrorCode(code: string | undefined): boolean {
  return code !== undefined && TLS_ERROR.test(code);
}

/**
 * One socket being opened or open. The owner adds its own `data`, `drain`, `close` and `end`
 * listeners to {@link socket}; `onReady` runs once the socket can carry requests (TCP connected,
 * and with TLS the handshake done).
 */
export class Transport {
  readonly socket: net.Socket;
  /** Whether it speaks TLS. */
  readonly secure: boolean;
  #tcpConnected = false;
  #ready = false;
  #error: NodeJS.ErrnoException | undefined;

  constructor(target: TransportTarget, onReady: () => void) {
    this.secure = target.tls !== undefined;
    const keepAlive = target.keepAlive ?? 0;
    const where =
      target.path !== undefined ? { path: target.path } : { host: target.host, port: target.port ?? 0 };
    const common = {
      ...where,
      noDelay: target.noDelay ?? false,
      keepAlive: keepAlive > 0,
      keepAliveInitialDelay: keepAlive,
    };
    let socket: net.Socket;
    if (target.tls !== undefined) {
      const servername = target.path === undefined ? tlsServername(target.host, target.tls) : undefined;
      socket = tls.connect({ ...target.tls, ...common, servername });
      socket.once('connect', () => (this.#tcpConnected = true));
      socket.once('secureConnect', () => {
        this.#ready = true;
        onReady();
      });
    } else {
      socket = net.connect(target.onread === undefined ? common : { ...common, onread: target.onread });
      socket.once('connect', () => {
        this.#tcpConnected = this.#ready = true;
        onReady();
      });
    }
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.#error ??= err;
    });
    this.socket = socket;
  }

  /** TCP is connected (with TLS, the handshake may still be running). */
  get tcpConnected(): boolean {
    return this.#tcpConnected;
  }

  /** The socket can carry requests: connected, and with TLS, the handshake done. */
  get ready(): boolean {
    return this.#ready;
  }

  /** The first error the socket reported, if any. */
  get error(): NodeJS.ErrnoException | undefined {
    return this.#error;
  }

  /** Where a connect that has not become ready is: opening TCP, or in the TLS handshake. */
  get phase(): ConnectPhase {
    return this.#tcpConnected && this.secure ? 'handshake' : 'connect';
  }

  /**
   * Why the socket closed, for `server` (`"host:port"`): ERR_TLS when TLS failed (a TLS error code,
   * or any error between TCP connecting and the handshake finishing), ERR_CONNECTION for any other
   * error, and ERR_CONNECTION with `closedMessage` when the server closed it without an error.
   */
  closeError(
    server: string,
    closedMessage = `connection to ${server} was closed by the server`,
  ): MemlineError {
    const err = this.#error;
    if (err === undefined) return new ConnectionError(closedMessage, { server });
    const inHandshake = this.#tcpConnected && !this.#ready;
    if (this.secure && (isTlsErrorCode(err.code) || inHandshake)) {
      return new TlsError(`TLS with ${server} failed: ${err.message}`, { server, cause: err });
    }
    return new ConnectionError(`connection to ${server} failed: ${err.message}`, { server, cause: err });
  }

  /** Closes the socket now. */
  destroy(): void {
    this.socket.destroy();
  }
}
