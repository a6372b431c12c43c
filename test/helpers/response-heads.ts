/**
 * Response heads for unit tests of the filters' head logic: the pipeline's own
 * ResponseHead, built from a plain object, and read back as one.
 */
import { ResponseHead } from '../../src/pipeline/response-head.js';

/** A head as warpdrive builds one (header names kept as given). */
export function headOf(status: number, headers: Record<string, string> = {}): ResponseHead {
  return new ResponseHead(status, '', undefined, Object.entries(headers).flat());
}

/** The head's headers as a lowercase-keyed object, for deepEqual. */
export function headObject(head: ResponseHead): Record<string, string> {
  const pairs = head.pairs;
  const object: Record<string, string> = {};
  for (let i = 0; i < pairs.length; i += 2) object[pairs[i]!.toLowerCase()] = pairs[i + 1]!;
  return object;
}
