import type { ListenerConfig } from '../config/schema.js'

/** A PEM key and certificate chain. */
export interface TlsMaterial {
  key: string
  cert: string
  /** Made at start because the listener names no certificate. */
  ephemeral: boolean
}

const ephemeral = new Map<string, Promise<TlsMaterial>>()

/**
 * The listener's certificate and key from the policy files, or an ephemeral self-signed
 * certificate for `hostname` when none is configured (the embedded loopback default).
 * Clients that verify certificates will refuse the ephemeral one; production names its own.
 */
export async function tlsMaterial(
  listener: ListenerConfig,
  hostname: string,
  files: ReadonlyMap<string, string>,
): Promise<TlsMaterial | null> {
  if (listener.tls === 'none') return null
  if (listener.cert && listener.key) {
    return { key: files.get(listener.key) ?? '', cert: files.get(listener.cert) ?? '', ephemeral: false }
  }
  return ephemeralCertificate(hostname)
}

/** A self-signed certificate for `hostname`, made once per process. */
export function ephemeralCertificate(hostname: string): Promise<TlsMaterial> {
  let made = ephemeral.get(hostname)
  if (!made) {
    // Loaded only when needed: selfsigned brings some 700 modules of X.509 code (about 20 MB of heap).
    made = import('selfsigned')
      .then(({ generate }) =>
        generate([{ name: 'commonName', value: hostname }], {
          keySize: 2048,
          algorithm: 'sha256',
          notAfterDate: new Date(Date.now() + 365 * 86_400_000),
          extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: hostname }] }],
        }),
      )
      .then((pems) => ({ key: pems.private, cert: pems.cert, ephemeral: true }))
    ephemeral.set(hostname, made)
  }
  return made
}
