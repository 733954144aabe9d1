/** The config's value types (durations, sizes, instants) live in shared/ so that the rule schema in mapping/ can use them too. */
export * from '../../shared/units.js';
