import { readFileSync } from 'node:fs'

/** The package version, read from package.json next to the code (src/ and dist/ alike sit one level below it). */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
