import { alerts } from './alerts.js'
import type { Command } from './args.js'
import { checkConfig } from './check-config.js'
import { explainConfig } from './explain-config.js'
import { passwd } from './passwd.js'
import { penalty } from './penalty.js'
import { quarantine } from './quarantine.js'
import { scan } from './scan.js'
import { serve } from './serve.js'
import { sink } from './sink.js'

/** Every `smarthost-guard` subcommand, in the order `--help` lists them. */
export const COMMANDS: readonly Command[] = [serve, checkConfig, explainConfig, passwd, sink, penalty, alerts, scan, quarantine]
