import { generate } from 'selfsigned'

const made = new Map<string, Promise<{ key: string; cert: string }>>()

/** A self-signed certificate made by the test for `name` (cached per process). */
export function testCertificate(name: string): Promise<{ key: string; cert: string }> {
  let cert = made.get(name)
  if (!cert) {
    cert = generate([{ name: 'commonName', value: name }], {
      keySize: 2048,
      algorithm: 'sha256',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: name }] }],
    }).then((p) => ({ key: p.private, cert: p.cert }))
    made.set(name, cert)
  }
  return cert
}
