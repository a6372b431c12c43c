/**
 * Stale-while-revalidate's background request: a GET for the stale entry's URL,
 * sent the way the exchange that found it stale would have sent it (the route's
 * path rewriting, its upstreamRequest filters: forwarded headers, add_headers),
 * to an instance its upstream selects, on that instance's keep-alive pool. It
 * counts for the instance like any request (least connections, passive health).
 *
 * @module
 */
import type { CacheExchange } from '../cache/cache-exchange.js';
import type { RevalidationRequest, RevalidationResponse } from '../cache/response-cache.js';
import { fromUpstreamError } from '../pipeline/errors.js';
import { Exchange } from '../pipeline/exchange.js';
import type { RequestOutcome } from '../upstream/index.js';
import type { BackgroundFetch } from './cache.js';

/** undici's header object back into flat [name, value, ...] lines (names lowercase, as undici gives them). */
function flatten(headers: Record<string, string | string[] | undefined>): string[] {
  const flat: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const one of value) flat.push(name, one);
    else flat.push(name, value);
  }
  return flat;
}

class TooLarge extends Error {}

export class RouteBackgroundFetch implements BackgroundFetch {
  async fetch(x: CacheExchange, request: RevalidationRequest): Promise<RevalidationResponse> {
    // In the pipeline every exchange is an Exchange; the cache's own tests bring their own fetch.
    if (!(x instanceof Exchange) || x.route === undefined) throw new Error('background revalidation needs a routed exchange');
    const route = x.route;
    const upstream = route.upstream;
    if (upstream === undefined) throw new Error('background revalidation needs a route with an upstream');
    const instance = upstream.select(x.clientIp);
    if (instance === undefined) throw new Error(`no instance of ${route.spec.upstream} is available`);
    const headers = [...request.headers];
    const filters = route.filters.upstreamRequest;
    if (filters !== undefined) for (const filter of filters) filter.upstreamRequest!(x, headers);
    const path = route.upstreamPath(request.path);
    let outcome: RequestOutcome = 'success';
    instance.requestStarted();
    try {
      const response = await instance.dispatchers[route.connectSlot]!.request({
        method: 'GET',
        path: request.query === '' ? path : `${path}?${request.query}`,
        headers,
        headersTimeout: route.readTimeoutMs,
        bodyTimeout: route.readTimeoutMs,
      });
      if (response.statusCode >= 500) outcome = 'status_5xx';
      const chunks: Buffer[] = [];
      let length = 0;
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        length += chunk.length;
        if (length > request.maxBodyBytes) {
          // Too large to store: not the instance's fault.
          response.body.destroy();
          throw new TooLarge('the response is larger than max_object_bytes');
        }
        chunks.push(chunk);
      }
      // The route's responseHead filters other than the cache (compression, X-Sendfile, HSTS) shape
      // what its clients get; they run on requests only, so this response is not that.
      const storable = (route.filters.responseHead ?? []).every((filter) => filter.name === 'cache');
      return { status: response.statusCode, statusText: '', headers: flatten(response.headers), body: Buffer.concat(chunks, length), storable };
    } catch (error) {
      if (outcome === 'success' && !(error instanceof TooLarge)) outcome = fromUpstreamError(error).outcome;
      throw error;
    } finally {
      instance.requestFinished(outcome);
    }
  }
}
