export { ModbusInput, type ModbusInputDeps } from './modbus-input.js';
export type { ModbusBusOptions, ModbusDeviceOptions, ModbusInputStatus, RegisterSpec } from './types.js';
