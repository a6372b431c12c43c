/**
 * Small helpers over flat header lists (`[name, value, name, value, ...]`), the
 * shape the pipeline hands over. Names may be in any case; lookups take a
 * lowercase name. These run when a response is stored or revalidated, and for
 * the few request headers a cache lookup needs.
 *
 * @module
 */

/** Every value of `lowerName`, in order. */
export function headerValues(headers: readonly string[], lowerName: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) values.push(headers[i + 1]!);
  }
  return values;
}

/** The first value of `lowerName`, or undefined. */
export function firstHeader(headers: readonly string[], lowerName: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) return headers[i + 1];
  }
  return undefined;
}

/** The comma-separated members of every line of `lowerName`, trimmed, empty ones dropped. */
export function headerListMembers(headers: readonly string[], lowerName: string): string[] {
  const members: string[] = [];
  for (const line of headerValues(headers, lowerName)) {
    for (const part of line.split(',')) {
      const member = part.trim();
      if (member !== '') members.push(member);
    }
  }
  return members;
}
