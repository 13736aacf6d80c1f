export { Connection, parseResponse, TimeoutError, type Answer, type Endpoint } from './connection';
export {
  checkProfile,
  DEFAULT_PROFILE,
  Fleet,
  KINDS,
  PLATFORMS,
  ProfileError,
  type FleetProfile,
  type PushRequest,
} from './fleet';
export { renderComparison, renderReport } from './html';
export { compareResults, formatComparison, type Comparison } from './compare';
export { Reconciler, type ReconcileResult } from './reconcile';
export { Recorder, summarize, type LatencySummary, type Outcome } from './recorder';
export { buildResult, checkSlo, parseSlo, type LoadResult } from './result';
export {
  classify,
  runLoad,
  type AnswerEvent,
  type LoadModel,
  type RunOptions,
  type RunOutcome,
  type Target,
} from './runner';
export { ArrivalSchedule, parseDuration, parseStages, type Stage } from './schedule';
export { MetricsScraper, parseMetrics } from './scrape';
export { startLocalStack, StackError, type LocalStack, type StackOptions, type StackReady } from './stack';
export { parseTarget, UsageError } from './target';
