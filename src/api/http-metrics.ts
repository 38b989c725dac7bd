import type { RequestHandler } from 'express';
import type { Metrics } from '../metrics.js';

/**
 * Times every request into mll_http_request_duration_seconds, labelled with the route's pattern
 * (never the raw path: model names would make a series per model) and the status class.
 */
export function httpMetrics(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.once('finish', () => {
      const route = req.route ? `${req.baseUrl}${String((req.route as { path: unknown }).path)}` : 'unmatched';
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.httpRequestDuration.observe({ method: req.method, route, status: `${Math.floor(res.statusCode / 100)}xx` }, seconds);
    });
    next();
  };
}
