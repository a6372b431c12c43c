/**
 * The supervisor's public face: what app.ts and the CLI import.
 *
 * @module
 */

export { SupervisorClient, type SupervisorStartOptions, type UnitStatus, type UnitStateName, type SupervisorListener } from './client.js';
export { SupervisorSelectionError, parseNameList, selectUnits, unitsOfPlan } from './units.js';
export { defaultRestartPolicy } from './restart-policy.js';
export type { SupervisorEvent, SupervisorCommand, UnitSpec, RestartPolicy, WireError } from './protocol.js';
