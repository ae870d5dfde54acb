import { alerts } from './alerts.js'
import type { Command } from './args.js'
import { checkConfig } from './check-config.js'
import { demo } from './demo.js'
import { explainConfig } from './explain-config.js'
import { passwd } from './passwd.js'
import { penalty } from './penalty.js'
import { quarantine } from './quarantine.js'
import { reload } from './reload.js'
import { scan } from './scan.js'
import { serve } from './serve.js'
import { sink } from './sink.js'
import { stats } from './stats.js'

/** Every `smarthost-guard` subcommand, in the order `--help` lists them. */
export const COMMANDS: readonly Command[] = [serve, reload, checkConfig, explainConfig, passwd, sink, penalty, stats, alerts, scan, quarantine, demo]
