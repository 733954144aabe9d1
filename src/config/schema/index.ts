/**
 * The configuration schema: the single source of the config's TypeScript types, its
 * defaults, the JSON Schema for editors and the reference in docs/configuration.md.
 * One file per section; a new section is one file and one line below.
 */
import { z } from 'zod';
import { consoleSection } from './console.js';
import { fluxiondbSection } from './fluxiondb.js';
import { gatewaySection, logSection } from './gateway.js';
import { healthSection } from './health.js';
import { mappingSection } from './mapping.js';
import { metadataSection } from './metadata.js';
import { modbusSection } from './modbus.js';
import { mqttSection } from './mqtt.js';
import { queueSection } from './queue.js';
import { senderSection } from './sender.js';
import { serialSection } from './serial.js';

export const configSchema = z
  .strictObject({
    gateway: gatewaySection,
    log: logSection,
    fluxiondb: fluxiondbSection,
    queue: queueSection,
    sender: senderSection,
    mapping: mappingSection,
    mqtt: mqttSection,
    serial: serialSection,
    modbus: modbusSection,
    metadata: metadataSection,
    health: healthSection,
    console: consoleSection,
  })
  .meta({ title: 'fluxion-edge configuration', description: 'Configuration of the fluxion-edge agent (YAML).' });

/** The config as written (before defaults and parsing of durations and sizes). */
export type ConfigInput = z.input<typeof configSchema>;
/** The config after validation: defaults applied, durations in ms, sizes in bytes. */
export type ParsedConfig = z.output<typeof configSchema>;

export { LOG_LEVELS } from './gateway.js';
export { ruleSchema } from '../../mapping/rule-schema.js';
export { DURATION_HELP, SIZE_HELP, formatDuration, formatSize, parseDuration, parseDurationWithUnit, parseIsoInstant, parseSize } from './units.js';
