// A node:test reporter that ends the run with one summary line: "N passed, N failed, N skipped".
// Plain JavaScript: node loads reporters before any --import hook could compile TypeScript.
export default async function* summaryReporter(source) {
  let passed = 0
  let failed = 0
  let skipped = 0
  for await (const event of source) {
    // Count tests, not the suites that hold them.
    if (event.data.details?.type === 'suite') continue
    if (event.type === 'test:pass') {
      if (event.data.skip !== undefined || event.data.todo !== undefined) skipped++
      else passed++
    } else if (event.type === 'test:fail') failed++
  }
  yield `\n${passed} passed, ${failed} failed, ${skipped} skipped\n`
}
