export { ModbusInput, type ModbusInputDeps } from './modbus-input.js';
export type { ModbusBusOptions, ModbusDeviceOptions, ModbusDeviceStatus, ModbusInputStatus, RegisterSpec } from './types.js';
