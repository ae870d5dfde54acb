import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import { PasswordCandidates } from '../../src/scan/passwords.js'
import * as samples from '../helpers/samples.js'
import { scanHere } from '../helpers/scan.js'

const MiB = 2 ** 20
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex')
const flagsOf = (r: { flags: { flag: string }[] }) => r.flags.map((f) => f.flag)

/** Rewrites the sizes a zip declares in its central directory, as a hostile archive would. */
function lieAboutSizes(zip: Buffer, declared: number): Buffer {
  const out = Buffer.from(zip)
  for (let i = out.indexOf(Buffer.from('PK\x01\x02', 'latin1')); i >= 0; i = out.indexOf(Buffer.from('PK\x01\x02', 'latin1'), i + 4)) {
    out.writeUInt32LE(declared, i + 24)
  }
  return out
}

describe('explosion', () => {
  it('gives every object its kind, declared and sniffed type, name, size, sha256, depth and parent', async () => {
    const exe = samples.peExecutable()
    const archive = await samples.zip([{ name: 'tools/setup.exe', content: exe }])
    const raw = await samples.mimeMessage({ attachments: [{ filename: 'tools.zip', content: archive }] })
    const r = await scanHere(raw)
    assert.equal(r.complete, true)
    assert.deepEqual(
      r.objects.map((o) => [o.id, o.parent, o.depth, o.kind, o.declaredType, o.filename]),
      [
        [0, null, 0, 'message', 'message/rfc822', null],
        [1, 0, 1, 'multipart', 'multipart/mixed', null],
        [2, 1, 2, 'part', 'text/plain', null],
        [3, 1, 2, 'part', 'application/zip', 'tools.zip'],
        [4, 3, 3, 'member', null, 'tools/setup.exe'],
      ],
    )
    const member = r.objects[4]!
    assert.equal(member.sniffedType, 'application/x-msdownload')
    assert.equal(member.size, exe.length)
    assert.equal(member.sha256, sha256(exe))
    assert.equal(r.objects[3]!.sha256, sha256(archive))
    assert.equal(r.objects[0]!.sha256, sha256(raw))
    assert.deepEqual(member.hits, ['Executable_Windows_PE'])
  })

  it('opens gzip and tar: an ELF program inside a .tar.gz', async () => {
    const tgz = samples.gzip(await samples.tar([{ name: 'bin/helper', content: samples.elfExecutable() }]))
    const r = await scanHere(await samples.mimeMessage({ attachments: [{ filename: 'helper.tar.gz', content: tgz }] }))
    const elf = r.objects.find((o) => o.filename === 'bin/helper')!
    assert.equal(elf.kind, 'member')
    assert.equal(r.objects.find((o) => o.id === elf.parent)?.kind, 'decompressed')
    assert.equal(r.objects.find((o) => o.id === elf.parent)?.filename, 'helper.tar')
    assert.deepEqual(elf.hits, ['Executable_ELF'])
    assert.equal(elf.depth, 4)
  })

  it('flags a zip bomb by its declared sizes without inflating it', async () => {
    const r = await scanHere(await samples.mimeMessage({ attachments: [{ filename: 'b.zip', content: await samples.zipBomb(100) }] }))
    assert.deepEqual(flagsOf(r), ['archive_bomb'])
    assert.ok(r.bytes < MiB, `inflated ${r.bytes} bytes`)
  })

  it('stops a zip bomb that lies about its sizes at the size it declares (corrupt_archive)', async () => {
    const bomb = lieAboutSizes(await samples.zipBomb(100), 1000)
    const r = await scanHere(await samples.mimeMessage({ attachments: [{ filename: 'b.zip', content: bomb }] }))
    assert.deepEqual(flagsOf(r), ['corrupt_archive'])
    assert.match(r.flags[0]!.detail, /zeros\.bin: Invalid uncompressed size/)
    // What was decoded: the attachment itself, and no more than the 1000 bytes it declared.
    assert.ok(r.bytes <= bomb.length + 1000 + 100, `decoded ${r.bytes} bytes`)
  })

  it('flags a zip bomb larger than 1 MiB that declares far more than its ratio as archive_bomb, without inflating it', async () => {
    const bomb = await samples.coveredBomb('zip', 300, 1.5 * MiB)
    assert.ok(bomb.length > 1.5 * MiB && bomb.length < 3 * MiB, `${bomb.length} bytes`)
    const r = await scanHere(await samples.mimeMessage({ attachments: [{ filename: 'photos.zip', content: bomb }] }))
    assert.deepEqual(flagsOf(r), ['archive_bomb'])
    assert.match(r.flags[0]!.detail, /^photos\.zip declares \d+ bytes in \d+ \(more than 100 times\)$/)
    // What one scan held: the attachment itself, nothing inflated.
    assert.ok(r.bytes <= bomb.length + 100, `decoded ${r.bytes} bytes`)
  })

  it('stops a gzip bomb larger than 1 MiB at a few MiB of output as archive_bomb, not at the byte budget', async () => {
    const bomb = await samples.coveredBomb('gzip', 300, 1.5 * MiB)
    assert.ok(bomb.length > 1.5 * MiB, `${bomb.length} bytes`)
    const r = await scanHere(await samples.mimeMessage({ attachments: [{ filename: 'logs.gz', content: bomb }] }))
    assert.deepEqual(flagsOf(r), ['archive_bomb'])
    // The attachment, then output beyond 100 times the input given so far (16 KiB slices), never the 100 MiB budget.
    assert.ok(r.bytes <= bomb.length + 8 * MiB, `decoded ${r.bytes} bytes`)
  })

  it('flags a gzip bomb while it inflates', async () => {
    const bomb = await samples.gzipBomb(100)
    const r = await scanHere(await samples.mimeMessage({ attachments: [{ filename: 'logs.gz', content: bomb }] }))
    assert.deepEqual(flagsOf(r), ['archive_bomb'])
    // The attachment itself, then at most the expansion cap.
    assert.ok(r.bytes <= bomb.length + 100 + Math.max(MiB, bomb.length * 100), `decoded ${r.bytes} bytes`)
  })

  it('flags scan_limit at the byte budget, the object limit, the depth limit and the time limit', async () => {
    const big = await samples.mimeMessage({ attachments: [{ filename: 'a.bin', content: Buffer.alloc(300_000, 7) }] })
    const bytes = await scanHere(big, { totalBytes: 100_000 })
    assert.deepEqual(flagsOf(bytes), ['scan_limit'])
    assert.match(bytes.flags[0]!.detail, /^total_bytes: limit of 100000 bytes reached/)
    assert.equal(bytes.complete, false)

    const many = await samples.zip(Array.from({ length: 30 }, (_, i) => ({ name: `f${i}.txt`, content: `file ${i}` })))
    const objects = await scanHere(await samples.mimeMessage({ attachments: [{ filename: 'many.zip', content: many }] }), { objects: 10 })
    assert.ok(flagsOf(objects).includes('scan_limit'))
    assert.ok(objects.objects.length <= 10)

    const deep = await scanHere(await samples.nestedMessage(100, await samples.mimeMessage({ text: 'bottom' })), { depth: 8 })
    assert.deepEqual(flagsOf(deep), ['scan_limit'])
    assert.match(deep.flags[0]!.detail, /^depth: /)
    assert.ok(Math.max(...deep.objects.map((o) => o.depth)) <= 8)

    const slow = await scanHere(await samples.nestedMessage(5, big), { timeMs: 0 })
    assert.deepEqual(flagsOf(slow), ['scan_limit'])
    assert.match(slow.flags[0]!.detail, /^time: limit of 0 ms reached/)
  })

  it('flags a damaged archive as corrupt_archive and goes on with the rest', async () => {
    const broken = Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), Buffer.alloc(200, 1)])
    const r = await scanHere(
      await samples.mimeMessage({ attachments: [{ filename: 'broken.zip', content: broken }, { filename: 'eicar.com', content: samples.eicar() }] }),
    )
    assert.deepEqual(flagsOf(r), ['corrupt_archive', 'virus'])
    assert.deepEqual(r.hits.map((h) => h.rule), ['EICAR_Test_File'])
  })

  it('opens encrypted zip members with passwords from the text (ZipCrypto and AES), and flags the ones it cannot open', async () => {
    const archive = await samples.zip([
      { name: 'a.com', content: samples.eicar(), password: 'blue-Falcon-77', zipCrypto: true },
      { name: 'b.txt', content: 'second', password: 'blue-Falcon-77' },
    ])
    const opened = await scanHere(
      await samples.mimeMessage({ html: '<p>Kennwort: <b>blue-Falcon-77</b></p>', attachments: [{ filename: 'x.zip', content: archive }] }),
    )
    assert.deepEqual(opened.hits.map((h) => h.rule), ['EICAR_Test_File'])
    assert.equal(opened.objects.find((o) => o.filename === 'b.txt')?.size, 6)
    const locked = await scanHere(await samples.mimeMessage({ text: 'no password here', attachments: [{ filename: 'x.zip', content: archive }] }))
    assert.deepEqual(flagsOf(locked), ['encrypted_archive'])
    assert.deepEqual(locked.hits, [])
  })

  it('reports malformed MIME without failing', async () => {
    const noBoundary = 'From: a@b.test\r\nContent-Type: multipart/mixed\r\n\r\nbody\r\n'
    assert.match((await scanHere(noBoundary)).flags[0]?.detail ?? '', /multipart\/mixed without a boundary/)
    const lost = 'From: a@b.test\r\nContent-Type: multipart/mixed; boundary=abc\r\n\r\nno parts at all\r\n'
    assert.match((await scanHere(lost)).flags[0]?.detail ?? '', /with no parts \(boundary never found\)/)
    const encoding = 'From: a@b.test\r\nContent-Transfer-Encoding: x-rot13\r\n\r\nuryyb\r\n'
    assert.match((await scanHere(encoding)).flags[0]?.detail ?? '', /unknown Content-Transfer-Encoding x-rot13/)
    const base64 = 'From: a@b.test\r\nContent-Transfer-Encoding: base64\r\n\r\naGVs!bG8=\r\n'
    const stray = await scanHere(base64)
    assert.match(stray.flags[0]?.detail ?? '', /part 0: invalid characters in base64 content/)
    assert.equal(stray.objects[1]?.size, 'hello'.length, 'the stray character is skipped, the rest decodes')
    const junk = Buffer.from([0, 1, 2, 255, 13, 10, 13, 10, 0, 0])
    const r = await scanHere(junk)
    assert.deepEqual(flagsOf(r), ['malformed_mime'])
    assert.equal(r.complete, true)
  })
})

describe('password candidates', () => {
  it('puts words after a password keyword first, in several languages, then the other words', () => {
    const c = new PasswordCandidates()
    c.addText('Hi! The password is: Sommer2026. Greetings')
    c.addText(Buffer.from('<p>Passwort lautet <b>Bl4u!</b></p>'), true)
    c.addText('mot de passe : étoile99')
    const list = c.list()
    assert.deepEqual(list.slice(0, 5), ['Sommer2026', 'Sommer2026.', 'Bl4u', 'Bl4u!', 'étoile99'])
    assert.ok(list.includes('Greetings'))
    assert.ok(list.length <= 64)
  })
})
