/**
 * From a URL path to a file path relative to a root, or the reason there is none.
 *
 * The router has already normalised the path (dot segments removed, `%2e` decoded,
 * `%00` and backslashes refused), but this module does not rely on that: it is the
 * last word on what may reach the file system, for static files and X-Accel-Redirect
 * URIs alike (an upstream's header never went through the router).
 *
 * Rules:
 * - percent-escapes are decoded exactly once (UTF-8); what the decoding yields is
 *   taken literally, so `%252e%252e` names a file called `%2e%2e`, never `..`;
 * - an encoded `/` (`%2F`) or `\` (`%5C`) is refused: it would be data in the URL
 *   but a separator on disk;
 * - NUL and other control characters, raw or encoded, are refused;
 * - `.` and `..` segments are refused, whatever their spelling;
 * - unless dotfiles are served, a segment starting with `.` is hidden (`.git`,
 *   `.env`), except `.well-known` (RFC 8615: ACME challenges, security.txt).
 *
 * @module
 */

/** Why a URL path names no file. */
export const enum UrlPathRefusal {
  /** `%2F` or `%5C`: a separator smuggled as data. */
  EncodedSeparator = 1,
  /** A control character (NUL included), raw or decoded. */
  ControlCharacter,
  /** `.` or `..`. */
  DotSegment,
  /** A segment starting with `.` while dotfiles are hidden. */
  Hidden,
  /** A malformed escape or escaped bytes that are not UTF-8. */
  BadEscape,
  /** A raw backslash: some systems read it as a separator. */
  Backslash,
  /** Not an absolute path. */
  NotAbsolute,
}

export function describeUrlPathRefusal(reason: UrlPathRefusal): string {
  switch (reason) {
    case UrlPathRefusal.EncodedSeparator:
      return 'an encoded "/" or "\\" in the path';
    case UrlPathRefusal.ControlCharacter:
      return 'a control character (NUL included) in the path';
    case UrlPathRefusal.DotSegment:
      return 'a "." or ".." segment';
    case UrlPathRefusal.Hidden:
      return 'a hidden (dot) file or directory';
    case UrlPathRefusal.BadEscape:
      return 'a malformed percent-escape';
    case UrlPathRefusal.Backslash:
      return 'a backslash in the path';
    case UrlPathRefusal.NotAbsolute:
      return 'a path not starting with "/"';
  }
}

const WELL_KNOWN = '.well-known';

/**
 * The path relative to a root (`/assets/app.css` -> `assets/app.css`; a trailing
 * `/` is kept; `/` gives ``), or why it names no file.
 */
export function filePathFromUrl(urlPath: string, serveDotfiles: boolean): string | UrlPathRefusal {
  if (urlPath.charCodeAt(0) !== 47 /* / */) return UrlPathRefusal.NotAbsolute;
  let decoded = urlPath;
  if (urlPath.includes('%')) {
    const refusal = refuseEncodedSeparators(urlPath);
    if (refusal !== 0) return refusal;
    try {
      decoded = decodeURIComponent(urlPath);
    } catch {
      return UrlPathRefusal.BadEscape;
    }
  }
  const refusal = checkSegments(decoded, serveDotfiles);
  return refusal === 0 ? decoded.slice(1) : refusal;
}

/** 0, or the refusal for an escape that decodes to a separator. */
function refuseEncodedSeparators(path: string): UrlPathRefusal | 0 {
  for (let i = path.indexOf('%'); i >= 0 && i + 2 < path.length; i = path.indexOf('%', i + 1)) {
    const hi = path.charCodeAt(i + 1);
    const lo = path.charCodeAt(i + 2) | 0x20;
    if (hi === 50 /* 2 */ && lo === 102 /* f */) return UrlPathRefusal.EncodedSeparator;
    if (hi === 53 /* 5 */ && lo === 99 /* c */) return UrlPathRefusal.EncodedSeparator;
  }
  return 0;
}

/** 0, or the first refusal found walking the decoded path segment by segment. */
function checkSegments(path: string, serveDotfiles: boolean): UrlPathRefusal | 0 {
  const length = path.length;
  let segmentStart = 1;
  for (let i = 1; i <= length; i++) {
    const code = i < length ? path.charCodeAt(i) : 47;
    if (code < 32 || code === 127) return UrlPathRefusal.ControlCharacter;
    if (code === 92 /* \ */) return UrlPathRefusal.Backslash;
    if (code !== 47) continue;
    const segmentLength = i - segmentStart;
    if (segmentLength > 0 && path.charCodeAt(segmentStart) === 46 /* . */) {
      if (segmentLength === 1 || (segmentLength === 2 && path.charCodeAt(segmentStart + 1) === 46)) return UrlPathRefusal.DotSegment;
      if (!serveDotfiles && !(segmentLength === WELL_KNOWN.length && path.startsWith(WELL_KNOWN, segmentStart))) return UrlPathRefusal.Hidden;
    }
    segmentStart = i + 1;
  }
  return 0;
}
