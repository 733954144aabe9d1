/**
 * The MQTT input and the embedded broker. The input hands raw messages to a MessageSink and
 * acknowledges each QoS 1 message only after the group holding it was committed.
 */
export { MqttInput, type MqttInputDeps } from './mqtt-input.js';
export { EmbeddedBroker, type EmbeddedBrokerDeps } from './embedded-broker.js';
export type { MqttInputOptions, EmbeddedBrokerOptions } from './types.js';
