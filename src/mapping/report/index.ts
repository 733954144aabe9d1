/** Report by exception and downsampling windows: between mapping and the queue (see report-stage.ts). */
export { ReportStage, type ReportRuleInput, type ReportTimeOptions, type RuleReportCounters, type SavedWindow } from './report-stage.js';
export { ExceptionGate, isSend, type Decision } from './exception-gate.js';
export { WindowAggregator, type WindowAcc } from './window-aggregator.js';
export {
  AGGREGATE_FUNCTIONS,
  AGGREGATE_DEFAULTS,
  REPORT_DEFAULTS,
  compileAggregate,
  compileReport,
  parseDeadband,
  type AggregateFunction,
  type AggregateSpec,
  type ReportSpec,
} from './spec.js';
