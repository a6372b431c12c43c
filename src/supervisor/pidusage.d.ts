/**
 * Types for the `pidusage` package (it ships none): only what fleet.ts uses.
 */
declare module 'pidusage' {
  interface PidStatus {
    /** Percent of one core since the previous sample of this pid. */
    cpu: number;
    /** Resident set size in bytes. */
    memory: number;
    pid: number;
    ppid: number;
    ctime: number;
    elapsed: number;
    timestamp: number;
  }
  function pidusage(pid: number): Promise<PidStatus>;
  function pidusage(pids: readonly number[]): Promise<Record<string, PidStatus | undefined>>;
  namespace pidusage {
    function clear(): void;
  }
  export default pidusage;
}
