/**
 * Per-request state slots of the filters that keep some (`Exchange.local(slot)`):
 * one number per filter, fixed here so no two filters share one.
 *
 * @module
 */
export const enum FilterSlot {
  Cache = 0,
}
