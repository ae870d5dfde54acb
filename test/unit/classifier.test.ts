import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Classifier, parseNetworkFile } from '../../src/classes/classifier.js'
import { classesSchema } from '../../src/classes/schema.js'

const classifier = new Classifier(
  classesSchema.parse({
    networks: [
      { class: 'business-static', cidrs: ['192.0.2.0/24'] },
      { class: 'residential-dynamic', file: '/lists/pools.txt' },
      { class: 'suspect', list: 'deny', cidrs: ['192.0.2.66', '198.51.100.0/24'] },
    ],
    overrides: {
      cidrs: { '198.51.100.0/25': 'trusted-server', '198.51.100.7/32': 'business-static' },
      users: { 'bulk-mailer': 'bulk' },
      sender_domains: { 'newsletter.example': 'bulk' },
    },
  }),
  (path) => (path === '/lists/pools.txt' ? parseNetworkFile(path, '# pools\n203.0.113.0/24\n').cidrs : []),
)

describe('client classifier', () => {
  it('evaluates deny lists before allow lists, whatever their order', () => {
    assert.deepEqual(classifier.atConnect('192.0.2.66'), { clientClass: 'suspect', by: 'network networks[2] (deny list)', source: 'network' })
    assert.equal(classifier.atConnect('192.0.2.67').clientClass, 'business-static')
  })

  it('reads network lists from files, and falls back to the default class', () => {
    assert.deepEqual(classifier.atConnect('203.0.113.9'), {
      clientClass: 'residential-dynamic',
      by: 'network networks[1] (allow list, pools.txt)',
      source: 'network',
    })
    assert.deepEqual(classifier.atConnect('::ffff:10.1.2.3'), { clientClass: 'unknown', by: 'default', source: 'default' })
  })

  it('lets CIDR overrides win over lists, the longest prefix first', () => {
    assert.equal(classifier.atConnect('198.51.100.7').clientClass, 'business-static')
    assert.equal(classifier.atConnect('198.51.100.8').clientClass, 'trusted-server')
    assert.equal(classifier.atConnect('198.51.100.200').clientClass, 'suspect')
  })

  it('classifies after AUTH as authenticated-user unless a user override says otherwise', () => {
    assert.deepEqual(classifier.afterAuth('alice'), { clientClass: 'authenticated-user', by: 'authenticated as alice', source: 'authenticated' })
    assert.deepEqual(classifier.afterAuth('bulk-mailer'), { clientClass: 'bulk', by: 'override user bulk-mailer', source: 'override' })
  })

  it('applies sender domain overrides per transaction, but not over a user override', () => {
    const session = classifier.atConnect('192.0.2.10')
    assert.equal(classifier.forSender(session, 'newsletter.example').clientClass, 'bulk')
    assert.equal(classifier.forSender(session, 'other.example'), session)
    const user = classifier.afterAuth('bulk-mailer')
    assert.equal(classifier.forSender(user, 'newsletter.example'), user)
  })

  it('takes a check suggestion only over the default class or an earlier suggestion', () => {
    const unknown = classifier.atConnect('10.9.9.9')
    const suggested = classifier.signal(unknown, 'residential-dynamic', 'connect.ptr')
    assert.deepEqual(suggested, { clientClass: 'residential-dynamic', by: 'check connect.ptr', source: 'signal' })
    assert.ok(suggested && classifier.signal(suggested, 'other', 'helo.check'))
    assert.equal(classifier.signal(classifier.atConnect('192.0.2.10'), 'residential-dynamic', 'connect.ptr'), null)
    assert.equal(classifier.signal(classifier.atConnect('198.51.100.7'), 'residential-dynamic', 'connect.ptr'), null)
    assert.equal(classifier.signal(classifier.afterAuth('alice'), 'residential-dynamic', 'connect.ptr'), null)
  })

  it('reports bad lines of a network file with their line numbers', () => {
    const parsed = parseNetworkFile('/lists/x.txt', '192.0.2.0/24\n\n# note\nnot-a-net\n2001:db8::/129\n')
    assert.deepEqual(parsed.cidrs, ['192.0.2.0/24'])
    assert.deepEqual(parsed.issues, [
      '/lists/x.txt:4:1 expected an address or CIDR block such as 192.0.2.0/24, got "not-a-net"',
      '/lists/x.txt:5:1 expected an address or CIDR block such as 192.0.2.0/24, got "2001:db8::/129"',
    ])
  })
})
