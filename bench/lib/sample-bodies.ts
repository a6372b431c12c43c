/**
 * Deterministic, realistic bodies for the compression measurements and scenarios:
 * an API's JSON (records with ids, names, e-mails, timestamps, amounts, free text)
 * and a Rails-rendered HTML page (a table of the same records). Random data would
 * not compress; repeated data would compress too well. The same seed gives the same
 * bytes on every machine, so ratios compare across runs.
 *
 * @module
 */

const WORDS = (
  'order customer invoice shipped pending refunded paid overdue account billing address street city country ' +
  'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua'
).split(' ');

/** A small linear congruential generator: the same sequence on every platform. */
function generator(seed: number): () => number {
  let state = seed;
  return () => {
    state = (Math.imul(state, 1103515245) + 12345) & 0x7fffffff;
    return state / 0x7fffffff;
  };
}

interface SampleRecord {
  id: number;
  uuid: string;
  name: string;
  email: string;
  created_at: string;
  amount_cents: number;
  status: string;
  tags: string[];
  note: string;
}

function records(count: number): SampleRecord[] {
  const random = generator(42);
  const word = () => WORDS[Math.floor(random() * WORDS.length)]!;
  const list: SampleRecord[] = [];
  for (let i = 0; i < count; i++) {
    list.push({
      id: 100000 + i,
      uuid: Array.from({ length: 32 }, () => '0123456789abcdef'[Math.floor(random() * 16)]).join(''),
      name: `${word()} ${word()}`,
      email: `user${Math.floor(random() * 100000)}@example.com`,
      created_at: new Date(1_700_000_000_000 + Math.floor(random() * 10_000_000_000)).toISOString(),
      amount_cents: Math.floor(random() * 100000),
      status: ['pending', 'paid', 'shipped', 'refunded'][Math.floor(random() * 4)]!,
      tags: [word(), word()],
      note: Array.from({ length: 8 }, word).join(' '),
    });
  }
  return list;
}

/** A JSON array of records, at least `bytes` long, cut to exactly `bytes` (still compresses as JSON). */
export function sampleJson(bytes: number): Buffer {
  const text = JSON.stringify(records(Math.ceil(bytes / 200) + 10));
  return Buffer.from(text).subarray(0, bytes);
}

/** An HTML page with a table of records, exactly `bytes` long. */
export function sampleHtml(bytes: number): Buffer {
  const rows = records(Math.ceil(bytes / 300) + 10).map(
    (r) =>
      `<tr class="order order--${r.status}" data-id="${r.id}"><td><a href="/orders/${r.id}">#${r.id}</a></td><td>${r.name}</td>` +
      `<td><a href="mailto:${r.email}">${r.email}</a></td><td><time datetime="${r.created_at}">${r.created_at.slice(0, 10)}</time></td>` +
      `<td class="amount">$${(r.amount_cents / 100).toFixed(2)}</td><td><span class="badge">${r.status}</span></td></tr>`,
  );
  const page =
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Orders</title>' +
    '<link rel="stylesheet" href="/assets/application-3f2a9c1b.css"><script src="/assets/application-5d9c0e7a.js" defer></script></head>' +
    `<body><main><h1>Orders</h1><table class="orders"><tbody>${rows.join('\n')}</tbody></table></main></body></html>`;
  return Buffer.from(page).subarray(0, bytes);
}
